// Inference for Conv, ConvTranspose, Gemm and MatMul. Kernels: src/kernels/ref/conv_gemm.cpp.
#include <algorithm>

#include "ops/broadcast.h"
#include "ops/conv_params.h"
#include "ops/fused_activation.h"
#include "ops/op_table.h"
#include "ops/qlinear_requant.h"

namespace lowbit {

namespace {

// Input i (when present) must have the same element type as input 0.
Status expect_same_dtype(const InferContext& ctx, size_t i, const char* what) {
  if (!ctx.has_input(i) || ctx.in(i).dtype == ctx.in(0).dtype) return Status::Ok();
  return ctx.fail(what, " ('", ctx.node.inputs[i], "') has type ", dtype_name(ctx.in(i).dtype), " but input 0 has ",
                  dtype_name(ctx.in(0).dtype), "; they must match");
}

Dim dim_at(const ValueType& t, size_t i) { return t.has_shape && i < t.rank() ? t.dims[i] : Dim(); }

// Output size of one spatial axis whose input size is symbolic or unknown: the symbol carries over only
// where the axis provably keeps its size (stride 1 with "same" padding), otherwise the size is unknown.
Dim symbolic_conv_axis(const ConvAttrs& a, size_t i, const Dim& in, bool transposed) {
  const bool same_pad = a.auto_pad == "SAME_UPPER" || a.auto_pad == "SAME_LOWER";
  if (transposed) {
    if (!a.output_shape.empty()) return Dim(a.output_shape[i]);
    return same_pad && a.strides[i] == 1 ? in : Dim();  // SAME: out = in * stride
  }
  if (a.strides[i] != 1) return Dim();
  if (same_pad) return in;  // SAME: out = ceil(in / stride)
  if (a.kernel[i] < 0) return Dim();
  const int64_t extent = a.dilations[i] * (a.kernel[i] - 1) + 1;
  const bool keeps_size = (a.auto_pad == "NOTSET" && a.pads[i] + a.pads[i + a.spatial] == extent - 1) ||
                          (a.auto_pad == "VALID" && extent == 1);
  return keeps_size ? in : Dim();
}

// Same rank, and no dim known to differ.
bool same_dims(const ValueType& a, const ValueType& b) {
  bool same = a.rank() == b.rank();
  for (size_t i = 0; same && i < a.rank(); ++i)
    same = !(a.dims[i].known() && b.dims[i].known() && a.dims[i].value != b.dims[i].value);
  return same;
}

// Fusion attributes written by the graph optimizer (src/ops/fused_activation.h): a known activation, and for
// Conv's residual a 4th input of the output's type and shape.
Status check_fused(const InferContext& ctx, const ValueType& out, bool residual_allowed) {
  auto act = parse_fused_activation(ctx.node);
  if (!act) return ctx.fail(act.status().message());
  if (!act->residual) return Status::Ok();
  if (!residual_allowed) return ctx.fail("attribute '", kFusedResidualAttr, "' is only supported on Conv");
  if (!ctx.has_input(3)) return ctx.fail("attribute '", kFusedResidualAttr, "' needs the residual as input 3");
  LB_RETURN_IF_ERROR(expect_same_dtype(ctx, 3, "residual R"));
  const ValueType& r = ctx.in(3);
  if (r.has_shape && out.has_shape) {
    if (!same_dims(r, out)) return ctx.fail("residual R ", r.to_string(), " must have the output's shape ", out.to_string());
  }
  return Status::Ok();
}

// Output type of a Conv-shaped node whose input X, weight W and optional bias B are inputs xi, wi, bi.
Expected<ValueType> conv_output_type(InferContext& ctx, bool transposed, size_t xi, size_t wi, size_t bi,
                                     DType out_dtype) {
  const ValueType& x = ctx.in(xi);
  const ValueType& w = ctx.in(wi);
  const char* w_layout = transposed ? "C x M/group x k1 x k2 ..." : "M x C/group x k1 x k2 ...";
  if (x.has_shape && x.rank() < 3) return ctx.fail("input X must have rank >= 3 (N x C x D1 ...), got ", x.to_string());
  if (w.has_shape && w.rank() < 3) return ctx.fail("weight W must have rank >= 3 (", w_layout, "), got ", w.to_string());
  if (x.has_shape && w.has_shape && x.rank() != w.rank())
    return ctx.fail("input X ", x.to_string(), " and weight W ", w.to_string(), " must have the same rank (W is ",
                    w_layout, ")");
  const size_t rank = x.has_shape ? x.rank() : w.has_shape ? w.rank() : 0;
  if (rank == 0) {  // nothing known about ranks: the element type is all we can say
    ValueType out;
    out.dtype = out_dtype;
    return out;
  }
  const size_t spatial = rank - 2;
  std::vector<int64_t> weight_spatial;
  if (w.has_shape)
    for (size_t i = 2; i < rank; ++i) {
      if (w.dims[i].known() && w.dims[i].value < 1)
        return ctx.fail("weight W ", w.to_string(), " has an empty kernel axis ", i);
      weight_spatial.push_back(w.dims[i].known() ? w.dims[i].value : -1);
    }
  auto parsed = parse_conv_attrs(ctx.node, spatial, weight_spatial, transposed);
  if (!parsed) return ctx.fail(parsed.status().message());
  const ConvAttrs& a = *parsed;

  // Channels: Conv W is M x C/group x k..., ConvTranspose W is C x M/group x k...
  const Dim channels = dim_at(x, 1), w0 = dim_at(w, 0), w1 = dim_at(w, 1);
  Dim out_channels;
  if (!transposed) {
    if (w0.known() && w0.value % a.group != 0)
      return ctx.fail("weight W ", w.to_string(), " has ", w0.value, " output channels, not divisible by group ", a.group);
    if (channels.known() && w1.known() && channels.value != w1.value * a.group)
      return ctx.fail("input X ", x.to_string(), " has ", channels.value, " channels but weight W ", w.to_string(),
                      " expects ", w1.value, " per group x group ", a.group, " = ", w1.value * a.group);
    out_channels = w0;
  } else {
    if (channels.known() && w0.known() && channels.value != w0.value)
      return ctx.fail("input X ", x.to_string(), " has ", channels.value, " channels but weight W ", w.to_string(),
                      " has ", w0.value, " (ConvTranspose W is ", w_layout, ")");
    if (channels.known() && channels.value % a.group != 0)
      return ctx.fail("input X has ", channels.value, " channels, not divisible by group ", a.group);
    if (w1.known()) out_channels = Dim(w1.value * a.group);
  }
  if (ctx.has_input(bi) && ctx.in(bi).has_shape) {
    const ValueType& b = ctx.in(bi);
    if (b.rank() != 1) return ctx.fail("bias B must be 1-D (one value per output channel), got ", b.to_string());
    if (b.dims[0].known() && out_channels.known() && b.dims[0].value != out_channels.value)
      return ctx.fail("bias B has ", b.dims[0].value, " values but the output has ", out_channels.value, " channels");
  }

  std::vector<Dim> out = {dim_at(x, 0), out_channels};
  for (size_t i = 0; i < spatial; ++i) {
    const Dim in = dim_at(x, i + 2);
    if (!in.known() || a.kernel[i] < 0) {
      out.push_back(symbolic_conv_axis(a, i, in, transposed));
      continue;
    }
    auto axis = transposed ? conv_transpose_axis(a, i, in.value) : conv_axis(a, i, in.value);
    if (!axis) return ctx.fail(axis.status().message());
    out.push_back(Dim(axis->out));
  }
  return ValueType(out_dtype, out);
}

Status infer_conv_like(InferContext& ctx, bool transposed) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(2, !transposed && ctx.node.has_attr(kFusedResidualAttr) ? 4 : 3));
  LB_RETURN_IF_ERROR(ctx.expect_dtype(0, {DType::kFloat32, DType::kFloat64}));
  LB_RETURN_IF_ERROR(expect_same_dtype(ctx, 1, "weight W"));
  LB_RETURN_IF_ERROR(expect_same_dtype(ctx, 2, "bias B"));
  LB_ASSIGN_OR_RETURN(ValueType out, conv_output_type(ctx, transposed, 0, 1, 2, ctx.in(0).dtype));
  ctx.set_output(0, out);
  if (!out.has_shape) return Status::Ok();
  return check_fused(ctx, out, !transposed);
}

}  // namespace

Status infer_Conv(InferContext& ctx) { return infer_conv_like(ctx, false); }
Status infer_ConvTranspose(InferContext& ctx) { return infer_conv_like(ctx, true); }

Status infer_Gemm(InferContext& ctx) {
  // C became optional in opset 11.
  LB_RETURN_IF_ERROR(ctx.expect_inputs(ctx.opset < 11 ? 3 : 2, 3));
  LB_RETURN_IF_ERROR(ctx.expect_dtype(0, {DType::kFloat32, DType::kFloat64}));
  LB_RETURN_IF_ERROR(expect_same_dtype(ctx, 1, "input B"));
  LB_RETURN_IF_ERROR(expect_same_dtype(ctx, 2, "input C"));
  const ValueType& a = ctx.in(0);
  const ValueType& b = ctx.in(1);
  if (a.has_shape && a.rank() != 2) return ctx.fail("input A must be 2-D, got ", a.to_string());
  if (b.has_shape && b.rank() != 2) return ctx.fail("input B must be 2-D, got ", b.to_string());
  const int64_t trans_a = ctx.node.attr_int("transA", 0), trans_b = ctx.node.attr_int("transB", 0);
  if ((trans_a != 0 && trans_a != 1) || (trans_b != 0 && trans_b != 1))
    return ctx.fail("attributes transA/transB must be 0 or 1, got ", trans_a, "/", trans_b);
  const Dim m = dim_at(a, trans_a ? 1 : 0), k_a = dim_at(a, trans_a ? 0 : 1);
  const Dim k_b = dim_at(b, trans_b ? 1 : 0), n = dim_at(b, trans_b ? 0 : 1);
  if (k_a.known() && k_b.known() && k_a.value != k_b.value)
    return ctx.fail("inner dimensions differ: op(A) is ", m.to_string(), "x", k_a.value, " (A ", a.to_string(),
                    ", transA=", trans_a, ") but op(B) is ", k_b.value, "x", n.to_string(), " (B ", b.to_string(),
                    ", transB=", trans_b, ")");
  if (ctx.has_input(2) && ctx.in(2).has_shape) {
    const ValueType& c = ctx.in(2);
    if (c.rank() > 2) return ctx.fail("input C must have rank <= 2, got ", c.to_string());
    const Dim target[2] = {m, n};
    for (size_t i = 0; i < c.rank(); ++i) {
      const Dim& d = c.dims[i];
      const Dim& t = target[2 - c.rank() + i];
      if (d.known() && d.value != 1 && t.known() && d.value != t.value)
        return ctx.fail("input C ", c.to_string(), " does not broadcast to the ", m.to_string(), "x", n.to_string(),
                        " result");
    }
  }
  ctx.set_output(0, ValueType(a.dtype, {m, n}));
  return check_fused(ctx, ValueType(a.dtype, {m, n}), false);
}

namespace {
// numpy matmul's output type for A = input ai and B = input bi.
Expected<ValueType> matmul_output_type(const InferContext& ctx, size_t ai, size_t bi, DType out_dtype) {
  const ValueType& a = ctx.in(ai);
  const ValueType& b = ctx.in(bi);
  if ((a.has_shape && a.rank() == 0) || (b.has_shape && b.rank() == 0))
    return ctx.fail("inputs must be at least 1-D, got A ", a.to_string(), " and B ", b.to_string());
  if (!a.has_shape || !b.has_shape) {
    ValueType out;
    out.dtype = out_dtype;
    return out;
  }
  // numpy: a 1-D A is a row vector, a 1-D B a column vector; the added axis is dropped from the result.
  const size_t ra = a.rank(), rb = b.rank();
  const Dim k_a = a.dims[ra - 1], k_b = rb == 1 ? b.dims[0] : b.dims[rb - 2];
  if (k_a.known() && k_b.known() && k_a.value != k_b.value)
    return ctx.fail("inner dimensions differ: A ", a.to_string(), " has ", k_a.value, " columns but B ",
                    b.to_string(), " has ", k_b.value, " rows");
  std::vector<Dim> batch_a(a.dims.begin(), a.dims.end() - std::min<size_t>(ra, 2));
  std::vector<Dim> batch_b(b.dims.begin(), b.dims.end() - std::min<size_t>(rb, 2));
  std::vector<Dim> out;
  std::string why;
  if (!broadcast_dims({batch_a, batch_b}, &out, &why))
    return ctx.fail("batch dimensions of A ", a.to_string(), " and B ", b.to_string(), " do not broadcast: ", why);
  if (ra >= 2) out.push_back(a.dims[ra - 2]);
  if (rb >= 2) out.push_back(b.dims[rb - 1]);
  return ValueType(out_dtype, out);
}
}  // namespace

Status infer_MatMul(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(2, 2));
  LB_RETURN_IF_ERROR(ctx.expect_dtype(
      0, {DType::kFloat32, DType::kFloat64, DType::kInt32, DType::kInt64, DType::kUint32, DType::kUint64}));
  LB_RETURN_IF_ERROR(expect_same_dtype(ctx, 1, "input B"));
  LB_ASSIGN_OR_RETURN(ValueType out, matmul_output_type(ctx, 0, 1, ctx.in(0).dtype));
  ctx.set_output(0, out);
  return Status::Ok();
}

namespace {
// A quantization parameter input: present, of one of `dtypes`, with 1 element or (per_channel > 0) that many.
Status check_qparam(const InferContext& ctx, size_t i, const char* what, std::initializer_list<DType> dtypes,
                    const Dim& per_channel) {
  if (!ctx.has_input(i)) return Status::Ok();
  LB_RETURN_IF_ERROR(ctx.expect_dtype(i, dtypes));
  const ValueType& t = ctx.in(i);
  if (!t.has_shape) return Status::Ok();
  if (t.rank() > 1) return ctx.fail(what, " ('", ctx.node.inputs[i], "') must be a scalar or 1-D, got ", t.to_string());
  if (t.rank() == 0 || !t.dims[0].known() || t.dims[0].value == 1) return Status::Ok();
  if (per_channel.known() && t.dims[0].value == per_channel.value) return Status::Ok();
  return ctx.fail(what, " ('", ctx.node.inputs[i], "') ", t.to_string(), " must have 1 value",
                  per_channel.known() ? str_cat(" or one per output channel (", per_channel.value, ")") : std::string());
}
}  // namespace

// QLinearConv: X, x_scale, x_zero_point, W, w_scale, w_zero_point, y_scale, y_zero_point[, B (int32)], and with
// lowbit_residual = 1 also R, r_scale, r_zero_point (inputs 9-11, see src/ops/fused_activation.h).
Status infer_QLinearConv(InferContext& ctx) {
  const bool residual = ctx.node.attr_int(kFusedResidualAttr, 0) != 0;
  // Zero points (inputs 2, 5, 7, 11) may be omitted (0); the others are required.
  LB_RETURN_IF_ERROR(ctx.expect_inputs(1, residual ? 12 : 9));
  if (ctx.node.num_inputs() < (residual ? 11u : 7u))
    return ctx.fail("expects at least ", residual ? 11 : 7, " inputs (X, x_scale, x_zero_point, W, w_scale, ",
                    "w_zero_point, y_scale", residual ? ", y_zero_point, B, R, r_scale" : "", "), got ",
                    ctx.node.num_inputs());
  if (!ctx.has_input(3)) return ctx.fail("required input 3 (W) is missing");
  LB_RETURN_IF_ERROR(ctx.expect_dtype(0, {DType::kInt8, DType::kUint8}));
  LB_RETURN_IF_ERROR(ctx.expect_dtype(3, {DType::kInt8, DType::kUint8}));
  const auto q8 = {DType::kInt8, DType::kUint8};
  const DType out_dtype = ctx.has_input(7) ? ctx.in(7).dtype : ctx.in(0).dtype;
  const Dim channels = ctx.in(3).has_shape && ctx.in(3).rank() > 0 ? ctx.in(3).dims[0] : Dim();
  LB_RETURN_IF_ERROR(check_qparam(ctx, 1, "x_scale", {DType::kFloat32}, Dim()));
  LB_RETURN_IF_ERROR(check_qparam(ctx, 2, "x_zero_point", {ctx.in(0).dtype}, Dim()));
  LB_RETURN_IF_ERROR(check_qparam(ctx, 4, "w_scale", {DType::kFloat32}, channels));
  LB_RETURN_IF_ERROR(check_qparam(ctx, 5, "w_zero_point", {ctx.in(3).dtype}, channels));
  LB_RETURN_IF_ERROR(check_qparam(ctx, 6, "y_scale", {DType::kFloat32}, Dim()));
  LB_RETURN_IF_ERROR(check_qparam(ctx, 7, "y_zero_point", q8, Dim()));
  if (!ctx.has_input(1) || !ctx.has_input(4) || !ctx.has_input(6))
    return ctx.fail("x_scale, w_scale and y_scale (inputs 1, 4, 6) are required");
  if (ctx.has_input(8)) LB_RETURN_IF_ERROR(ctx.expect_dtype(8, {DType::kInt32}));
  LB_ASSIGN_OR_RETURN(ValueType out, conv_output_type(ctx, false, 0, 3, 8, out_dtype));
  ctx.set_output(0, out);
  auto act = parse_fused_activation(ctx.node);
  if (!act) return ctx.fail(act.status().message());
  auto rounding = parse_conv_rounding(ctx.node);
  if (!rounding) return ctx.fail(rounding.status().message());
  if (residual) {
    LB_RETURN_IF_ERROR(ctx.expect_dtype(9, q8));  // also: present
    LB_RETURN_IF_ERROR(check_qparam(ctx, 10, "r_scale", {DType::kFloat32}, Dim()));
    if (!ctx.has_input(10)) return ctx.fail("r_scale (input 10) is required with ", kFusedResidualAttr);
    LB_RETURN_IF_ERROR(check_qparam(ctx, 11, "r_zero_point", {ctx.in(9).dtype}, Dim()));
    const ValueType& r = ctx.in(9);
    if (r.has_shape && out.has_shape && !same_dims(r, out))
      return ctx.fail("residual R ", r.to_string(), " must have the output's shape ", out.to_string());
  }
  return Status::Ok();
}

// QLinearMatMul: A, a_scale, a_zero_point, B, b_scale, b_zero_point, y_scale, y_zero_point (numpy matmul of
// the codes minus zero points, requantized; a and y per tensor or per row, b per tensor or per column).
Status infer_QLinearMatMul(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(8, 8));
  const auto q8 = {DType::kInt8, DType::kUint8};
  LB_RETURN_IF_ERROR(ctx.expect_dtype(0, q8));
  LB_RETURN_IF_ERROR(ctx.expect_dtype(3, q8));
  LB_RETURN_IF_ERROR(ctx.expect_dtype(7, q8));
  const ValueType &a = ctx.in(0), &b = ctx.in(3);
  const Dim rows = a.has_shape && a.rank() >= 2 ? a.dims[a.rank() - 2] : Dim();
  const Dim cols = b.has_shape && b.rank() >= 2 ? b.dims[b.rank() - 1] : Dim();
  LB_RETURN_IF_ERROR(check_qparam(ctx, 1, "a_scale", {DType::kFloat32}, rows));
  LB_RETURN_IF_ERROR(check_qparam(ctx, 2, "a_zero_point", {a.dtype}, rows));
  LB_RETURN_IF_ERROR(check_qparam(ctx, 4, "b_scale", {DType::kFloat32}, cols));
  LB_RETURN_IF_ERROR(check_qparam(ctx, 5, "b_zero_point", {b.dtype}, cols));
  LB_RETURN_IF_ERROR(check_qparam(ctx, 6, "y_scale", {DType::kFloat32}, rows));
  LB_RETURN_IF_ERROR(check_qparam(ctx, 7, "y_zero_point", q8, rows));
  LB_ASSIGN_OR_RETURN(ValueType out, matmul_output_type(ctx, 0, 3, ctx.in(7).dtype));
  ctx.set_output(0, out);
  return Status::Ok();
}

// MatMulIntegerToFloat (ONNX Runtime's com.microsoft op; lower_qdq writes it for a Gemm / MatMul of a dequantized
// activation and int8 weights whose output stays float, e.g. a classifier's logits):
//   A, B, a_scale, b_scale[, a_zero_point, b_zero_point, bias]   Y = (A - a_zp)(B - b_zp) * a_scale * b_scale + bias
// a per tensor; b and bias per tensor or per column of B.
Status infer_MatMulIntegerToFloat(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(4, 7));
  const auto q8 = {DType::kInt8, DType::kUint8};
  LB_RETURN_IF_ERROR(ctx.expect_dtype(0, q8));
  LB_RETURN_IF_ERROR(ctx.expect_dtype(1, q8));
  const ValueType &a = ctx.in(0), &b = ctx.in(1);
  const Dim cols = b.has_shape && b.rank() >= 2 ? b.dims[b.rank() - 1] : Dim();
  LB_RETURN_IF_ERROR(ctx.expect_dtype(2, {DType::kFloat32}));
  LB_RETURN_IF_ERROR(ctx.expect_dtype(3, {DType::kFloat32}));
  LB_RETURN_IF_ERROR(check_qparam(ctx, 2, "a_scale", {DType::kFloat32}, Dim(1)));
  LB_RETURN_IF_ERROR(check_qparam(ctx, 3, "b_scale", {DType::kFloat32}, cols));
  LB_RETURN_IF_ERROR(check_qparam(ctx, 4, "a_zero_point", {a.dtype}, Dim(1)));
  LB_RETURN_IF_ERROR(check_qparam(ctx, 5, "b_zero_point", {b.dtype}, cols));
  if (ctx.has_input(6)) {
    LB_RETURN_IF_ERROR(ctx.expect_dtype(6, {DType::kFloat32}));
    const ValueType& bias = ctx.in(6);
    if (bias.has_shape && (bias.rank() != 1 || (cols.known() && bias.dims[0].known() && bias.dims[0].value != cols.value)))
      return ctx.fail("bias ('", ctx.node.inputs[6], "') ", bias.to_string(), " must be 1-D with one value per column");
  }
  LB_ASSIGN_OR_RETURN(ValueType out, matmul_output_type(ctx, 0, 1, DType::kFloat32));
  ctx.set_output(0, out);
  return Status::Ok();
}

}  // namespace lowbit

