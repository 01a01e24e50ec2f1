// Validation and shape/type inference of the elementwise family (ONNX opsets 7-17).
// The reference kernels live in src/kernels/ref/elementwise_{unary,binary,logic}.cpp and cast.cpp.
//
// Type sets are the union of what ONNX allows across opsets 7-17 (e.g. Add accepts int8 although only
// opset 14 lists it): accepting a type a little early costs nothing and real exporters do it.
#include <cmath>
#include <vector>

#include "ops/broadcast.h"
#include "ops/op_table.h"

namespace lowbit {

namespace {

const std::vector<DType> kFloats = {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16};
const std::vector<DType> kSigned = {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16,
                                    DType::kInt8,    DType::kInt16,   DType::kInt32,   DType::kInt64};
const std::vector<DType> kNumeric = {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16,
                                     DType::kInt8,    DType::kInt16,   DType::kInt32,   DType::kInt64,
                                     DType::kUint8,   DType::kUint16,  DType::kUint32,  DType::kUint64};
const std::vector<DType> kNumericAndBool = {
    DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16, DType::kInt8,   DType::kInt16, DType::kInt32,
    DType::kInt64,   DType::kUint8,   DType::kUint16,  DType::kUint32,   DType::kUint64, DType::kBool};
const std::vector<DType> kBoolOnly = {DType::kBool};
// PRelu: floats and 32/64-bit integers (opset 9+).
const std::vector<DType> kPReluTypes = {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16,
                                        DType::kInt32,   DType::kInt64,   DType::kUint32,  DType::kUint64};

// Input i is present and of an allowed dtype (kUnsupported otherwise: valid ONNX lowbit does not run).
Status check_type(const InferContext& ctx, size_t i, const std::vector<DType>& allowed) {
  if (!ctx.has_input(i)) return ctx.fail("required input ", i, " is missing");
  DType t = ctx.in(i).dtype;
  for (DType a : allowed)
    if (a == t) return Status::Ok();
  std::string names;
  for (DType a : allowed) names += std::string(names.empty() ? "" : ", ") + dtype_name(a);
  return ctx.unsupported("input ", i, " ('", ctx.node.inputs[i], "') has type ", dtype_name(t), "; ", ctx.node.op_type,
                         " supports ", names);
}

Status check_same_type(const InferContext& ctx, size_t i, size_t j) {
  if (ctx.in(i).dtype != ctx.in(j).dtype)
    return ctx.fail("inputs ", i, " ('", ctx.node.inputs[i], "') and ", j, " ('", ctx.node.inputs[j],
                    "') must have the same type, got ", dtype_name(ctx.in(i).dtype), " and ",
                    dtype_name(ctx.in(j).dtype));
  return Status::Ok();
}

// Numpy broadcast of the given inputs' shapes, as a value of `dtype`. Unknown rank stays unknown.
Status broadcast_type(const InferContext& ctx, const std::vector<size_t>& inputs, DType dtype, ValueType* out) {
  std::vector<std::vector<Dim>> shapes;
  for (size_t i : inputs) {
    if (!ctx.in(i).has_shape) {
      *out = ValueType();
      out->dtype = dtype;
      return Status::Ok();
    }
    shapes.push_back(ctx.in(i).dims);
  }
  std::vector<Dim> dims;
  std::string why;
  if (!broadcast_dims(shapes, &dims, &why)) return ctx.fail(why);
  *out = ValueType(dtype, std::move(dims));
  return Status::Ok();
}

// The input's type with another dtype (shape, even an unknown one, kept).
ValueType with_dtype(const ValueType& t, DType dtype) {
  ValueType r = t;
  r.dtype = dtype;
  return r;
}

Status infer_unary(InferContext& ctx, const std::vector<DType>& allowed) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(1, 1));
  LB_RETURN_IF_ERROR(check_type(ctx, 0, allowed));
  ctx.set_output(0, ctx.in(0));
  return Status::Ok();
}

// Two inputs of one allowed dtype, broadcast; output of `out_dtype` (kUndefined: the inputs' dtype).
Status infer_binary(InferContext& ctx, const std::vector<DType>& allowed, DType out_dtype = DType::kUndefined) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(2, 2));
  LB_RETURN_IF_ERROR(check_type(ctx, 0, allowed));
  LB_RETURN_IF_ERROR(check_type(ctx, 1, allowed));
  LB_RETURN_IF_ERROR(check_same_type(ctx, 0, 1));
  ValueType out;
  LB_RETURN_IF_ERROR(broadcast_type(ctx, {0, 1}, out_dtype == DType::kUndefined ? ctx.in(0).dtype : out_dtype, &out));
  ctx.set_output(0, std::move(out));
  return Status::Ok();
}

// Min / Max / Sum: one or more inputs of one dtype, all broadcast together.
Status infer_variadic(InferContext& ctx, const std::vector<DType>& allowed) {
  size_t n = ctx.node.num_inputs();
  if (n == 0) return ctx.fail("expects at least one input");
  std::vector<size_t> all;
  for (size_t i = 0; i < n; ++i) {
    if (!ctx.has_input(i)) return ctx.fail("input ", i, " is missing (variadic inputs cannot be omitted)");
    LB_RETURN_IF_ERROR(check_type(ctx, i, allowed));
    LB_RETURN_IF_ERROR(check_same_type(ctx, 0, i));
    all.push_back(i);
  }
  ValueType out;
  LB_RETURN_IF_ERROR(broadcast_type(ctx, all, ctx.in(0).dtype, &out));
  ctx.set_output(0, std::move(out));
  return Status::Ok();
}

// Optional scalar inputs (Clip's min/max, Dropout's ratio/training_mode) must hold one element.
Status check_scalar_input(const InferContext& ctx, size_t i, const char* what) {
  if (!ctx.has_input(i) || !ctx.in(i).has_shape) return Status::Ok();
  const ValueType& t = ctx.in(i);
  for (const Dim& d : t.dims)
    if (d.known() && d.value != 1)
      return ctx.fail(what, " (input ", i, " '", ctx.node.inputs[i], "') must be a scalar, got shape ", t.to_string());
  return Status::Ok();
}

}  // namespace

// --- arithmetic ---------------------------------------------------------------------------------

Status infer_Add(InferContext& ctx) { return infer_binary(ctx, kNumeric); }
Status infer_Sub(InferContext& ctx) { return infer_binary(ctx, kNumeric); }
Status infer_Mul(InferContext& ctx) { return infer_binary(ctx, kNumeric); }
Status infer_Div(InferContext& ctx) { return infer_binary(ctx, kNumeric); }

// Pow: from opset 12 the exponent may have another numeric type; the output has the base's type.
Status infer_Pow(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(2, 2));
  LB_RETURN_IF_ERROR(check_type(ctx, 0, kNumeric));
  LB_RETURN_IF_ERROR(check_type(ctx, 1, kNumeric));
  if (ctx.opset < 12) LB_RETURN_IF_ERROR(check_same_type(ctx, 0, 1));
  ValueType out;
  LB_RETURN_IF_ERROR(broadcast_type(ctx, {0, 1}, ctx.in(0).dtype, &out));
  ctx.set_output(0, std::move(out));
  return Status::Ok();
}

Status infer_Min(InferContext& ctx) { return infer_variadic(ctx, kNumeric); }
Status infer_Max(InferContext& ctx) { return infer_variadic(ctx, kNumeric); }
Status infer_Sum(InferContext& ctx) { return infer_variadic(ctx, kNumeric); }

// --- unary math -----------------------------------------------------------------------------------

Status infer_Sqrt(InferContext& ctx) { return infer_unary(ctx, kFloats); }
Status infer_Exp(InferContext& ctx) { return infer_unary(ctx, kFloats); }
Status infer_Log(InferContext& ctx) { return infer_unary(ctx, kFloats); }
Status infer_Neg(InferContext& ctx) { return infer_unary(ctx, kSigned); }
Status infer_Abs(InferContext& ctx) { return infer_unary(ctx, kNumeric); }
Status infer_Reciprocal(InferContext& ctx) { return infer_unary(ctx, kFloats); }
Status infer_Floor(InferContext& ctx) { return infer_unary(ctx, kFloats); }
Status infer_Ceil(InferContext& ctx) { return infer_unary(ctx, kFloats); }
Status infer_Erf(InferContext& ctx) { return infer_unary(ctx, kFloats); }

// --- activations ----------------------------------------------------------------------------------

Status infer_Relu(InferContext& ctx) { return infer_unary(ctx, kSigned); }  // signed ints from opset 14
Status infer_LeakyRelu(InferContext& ctx) { return infer_unary(ctx, kFloats); }
Status infer_Sigmoid(InferContext& ctx) { return infer_unary(ctx, kFloats); }
Status infer_HardSigmoid(InferContext& ctx) { return infer_unary(ctx, kFloats); }
Status infer_HardSwish(InferContext& ctx) { return infer_unary(ctx, kFloats); }
Status infer_Tanh(InferContext& ctx) { return infer_unary(ctx, kFloats); }
Status infer_Softplus(InferContext& ctx) { return infer_unary(ctx, kFloats); }
Status infer_Elu(InferContext& ctx) { return infer_unary(ctx, kFloats); }

// PRelu: slope broadcasts to X (unidirectionally); the output has X's shape.
Status infer_PRelu(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(2, 2));
  LB_RETURN_IF_ERROR(check_type(ctx, 0, kPReluTypes));
  LB_RETURN_IF_ERROR(check_type(ctx, 1, kPReluTypes));
  LB_RETURN_IF_ERROR(check_same_type(ctx, 0, 1));
  const ValueType& x = ctx.in(0);
  const ValueType& slope = ctx.in(1);
  if (x.has_shape && slope.has_shape) {
    bool ok = slope.rank() <= x.rank();
    for (size_t k = 0; ok && k < slope.rank(); ++k) {
      const Dim& s = slope.dims[slope.rank() - 1 - k];
      const Dim& d = x.dims[x.rank() - 1 - k];
      if (s.known() && s.value != 1 && d.known() && s.value != d.value) ok = false;
    }
    if (!ok)
      return ctx.fail("slope ", slope.to_string(), " cannot be broadcast to input ", x.to_string(),
                      " (PRelu broadcasts the slope to X only)");
  }
  ctx.set_output(0, x);
  return Status::Ok();
}

// Clip: attributes min/max before opset 11, optional scalar inputs min/max from 11.
Status infer_Clip(InferContext& ctx) {
  if (ctx.opset < 11) {
    LB_RETURN_IF_ERROR(ctx.expect_inputs(1, 1));
    LB_RETURN_IF_ERROR(check_type(ctx, 0, kFloats));
    float lo = ctx.node.attr_float("min", std::numeric_limits<float>::lowest());
    float hi = ctx.node.attr_float("max", std::numeric_limits<float>::max());
    if (std::isnan(lo) || std::isnan(hi)) return ctx.fail("attributes min/max must not be NaN");
  } else {
    LB_RETURN_IF_ERROR(ctx.expect_inputs(1, 3));
    LB_RETURN_IF_ERROR(check_type(ctx, 0, ctx.opset < 12 ? kFloats : kNumeric));
    for (size_t i = 1; i < 3; ++i) {
      if (!ctx.has_input(i)) continue;
      LB_RETURN_IF_ERROR(check_same_type(ctx, 0, i));
      LB_RETURN_IF_ERROR(check_scalar_input(ctx, i, i == 1 ? "min" : "max"));
      const Tensor* v = ctx.value(i);
      if (v && v->numel() != 1)
        return ctx.fail(i == 1 ? "min" : "max", " must hold exactly one value, got ", v->numel());
    }
  }
  ctx.set_output(0, ctx.in(0));
  return Status::Ok();
}

// --- selection, comparison, logic -------------------------------------------------------------

Status infer_Where(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(3, 3));
  LB_RETURN_IF_ERROR(check_type(ctx, 0, kBoolOnly));
  LB_RETURN_IF_ERROR(check_type(ctx, 1, kNumericAndBool));
  LB_RETURN_IF_ERROR(check_type(ctx, 2, kNumericAndBool));
  LB_RETURN_IF_ERROR(check_same_type(ctx, 1, 2));
  ValueType out;
  LB_RETURN_IF_ERROR(broadcast_type(ctx, {0, 1, 2}, ctx.in(1).dtype, &out));
  ctx.set_output(0, std::move(out));
  return Status::Ok();
}

Status infer_Equal(InferContext& ctx) { return infer_binary(ctx, kNumericAndBool, DType::kBool); }
Status infer_Less(InferContext& ctx) { return infer_binary(ctx, kNumeric, DType::kBool); }
Status infer_LessOrEqual(InferContext& ctx) { return infer_binary(ctx, kNumeric, DType::kBool); }
Status infer_Greater(InferContext& ctx) { return infer_binary(ctx, kNumeric, DType::kBool); }
Status infer_GreaterOrEqual(InferContext& ctx) { return infer_binary(ctx, kNumeric, DType::kBool); }

Status infer_Not(InferContext& ctx) { return infer_unary(ctx, kBoolOnly); }
Status infer_And(InferContext& ctx) { return infer_binary(ctx, kBoolOnly); }
Status infer_Or(InferContext& ctx) { return infer_binary(ctx, kBoolOnly); }
Status infer_Xor(InferContext& ctx) { return infer_binary(ctx, kBoolOnly); }

// --- type conversion and copies ---------------------------------------------------------------

Status infer_Cast(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(1, 1));
  const Attribute* to_attr = ctx.node.attr("to");
  if (!to_attr) return ctx.fail("missing required attribute 'to'");
  const int64_t to_code = to_attr->i;
  const DType to = static_cast<DType>(to_code);
  const DType from = ctx.in(0).dtype;
  if (from == DType::kString || to_code == int64_t(DType::kString))
    return ctx.unsupported("casting ", from == DType::kString ? "from" : "to",
                           " string is not supported (lowbit tensors are numeric)");
  if (to_code < 0 || to_code > 64 || !dtype_is_storable(to))
    return ctx.unsupported("casting to ONNX element type ", to_code, " (complex / float8 / unknown) is not supported");
  if (!dtype_is_storable(from)) return ctx.unsupported("casting from ", dtype_name(from), " is not supported");
  ctx.set_output(0, with_dtype(ctx.in(0), to));
  return Status::Ok();
}

Status infer_Identity(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(1, 1));
  if (!dtype_is_storable(ctx.in(0).dtype))
    return ctx.unsupported("input of type ", dtype_name(ctx.in(0).dtype), " is not supported");
  ctx.set_output(0, ctx.in(0));
  return Status::Ok();
}

// Dropout runs in inference mode: the output is the input and the optional mask is all true. Training
// mode (opset 12+ input, known at run time) with a non-zero ratio is random, hence unsupported.
Status infer_Dropout(InferContext& ctx) {
  const bool inputs_form = ctx.opset >= 12;
  LB_RETURN_IF_ERROR(ctx.expect_inputs(1, inputs_form ? 3 : 1));
  if (!dtype_is_storable(ctx.in(0).dtype))
    return ctx.unsupported("input of type ", dtype_name(ctx.in(0).dtype), " is not supported");
  double ratio = 0.5;
  bool ratio_known = true;
  if (inputs_form) {
    if (ctx.has_input(1)) {
      LB_RETURN_IF_ERROR(check_type(ctx, 1, kFloats));
      LB_RETURN_IF_ERROR(check_scalar_input(ctx, 1, "ratio"));
      const Tensor* r = ctx.value(1);
      ratio_known = r != nullptr && r->numel() == 1;
      if (ratio_known) ratio = r->get_as_double(0);
    }
    if (ctx.has_input(2)) {
      LB_RETURN_IF_ERROR(check_type(ctx, 2, kBoolOnly));
      LB_RETURN_IF_ERROR(check_scalar_input(ctx, 2, "training_mode"));
      const Tensor* t = ctx.value(2);
      const bool training = t != nullptr && t->numel() == 1 && t->data<uint8_t>()[0] != 0;
      if (training && ratio_known && ratio != 0.0)
        return ctx.unsupported("training_mode=true with ratio ", ratio,
                               " drops random elements; lowbit runs inference only (use training_mode=false)");
    }
  } else {
    ratio = ctx.node.attr_float("ratio", 0.5f);
  }
  if (ratio_known && !(ratio >= 0.0 && ratio < 1.0)) return ctx.fail("ratio must lie in [0, 1), got ", ratio);
  ctx.set_output(0, ctx.in(0));
  // The mask is bool from opset 10; before that it had the input's type.
  if (ctx.num_outputs() > 1) ctx.set_output(1, with_dtype(ctx.in(0), ctx.opset >= 10 ? DType::kBool : ctx.in(0).dtype));
  return Status::Ok();
}

}  // namespace lowbit
