// Inference for the reductions (ReduceMean/Sum/Max/Min/Prod/L2, ArgMax/ArgMin) and for
// QuantizeLinear / DequantizeLinear. Kernels: src/kernels/ref/reduce.cpp, src/kernels/ref/quantize.cpp.
#include "ops/op_table.h"
#include "ops/reduce_quant_params.h"

namespace lowbit {
namespace {

constexpr std::initializer_list<DType> kArithmeticTypes = {DType::kFloat32, DType::kFloat64, DType::kInt32,
                                                           DType::kInt64};
constexpr std::initializer_list<DType> kOrderedTypes = {DType::kFloat32, DType::kFloat64, DType::kInt32,
                                                        DType::kInt64,   DType::kUint8,   DType::kInt8};

ValueType unknown_rank(DType dtype) {
  ValueType t;
  t.dtype = dtype;
  return t;
}

Status infer_reduce(InferContext& ctx, std::initializer_list<DType> types) {
  const bool axes_input = reduce_axes_from_input(ctx.node, ctx.opset);
  LB_RETURN_IF_ERROR(ctx.expect_inputs(1, axes_input ? 2 : 1));
  LB_RETURN_IF_ERROR(ctx.expect_dtype(0, types));
  if (axes_input && ctx.has_input(1)) LB_RETURN_IF_ERROR(ctx.expect_dtype(1, {DType::kInt64}));
  if (ctx.num_outputs() != 1) return ctx.fail("expects 1 output, got ", ctx.num_outputs());
  const ValueType& x = ctx.in(0);
  const bool keepdims = ctx.node.attr_int("keepdims", 1) != 0;
  const bool axes_known = !axes_input || !ctx.has_input(1) || ctx.value(1);
  if (!x.has_shape || !axes_known) {
    // The rank survives only when it is kept and known.
    if (keepdims && x.has_shape)
      ctx.set_output(0, ValueType(x.dtype, std::vector<Dim>(x.rank())));
    else
      ctx.set_output(0, unknown_rank(x.dtype));
    return Status::Ok();
  }
  ReduceAxes r;
  LB_RETURN_IF_ERROR(
      resolve_reduce_axes(ctx.node, ctx.opset, x.rank(), axes_input && ctx.has_input(1) ? ctx.value(1) : nullptr, &r));
  if (r.noop) {
    ctx.set_output(0, x);
    return Status::Ok();
  }
  std::vector<Dim> dims;
  for (size_t d = 0; d < x.rank(); ++d) {
    if (!r.reduced[d])
      dims.push_back(x.dims[d]);
    else if (keepdims)
      dims.push_back(Dim(1));
  }
  ctx.set_output(0, ValueType(x.dtype, dims));
  return Status::Ok();
}

Status infer_arg_reduce(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(1, 1));
  LB_RETURN_IF_ERROR(ctx.expect_dtype(0, kOrderedTypes));
  if (ctx.num_outputs() != 1) return ctx.fail("expects 1 output, got ", ctx.num_outputs());
  if (ctx.opset < 12 && ctx.node.has_attr("select_last_index"))
    return ctx.fail("'select_last_index' exists only from opset 12");
  const ValueType& x = ctx.in(0);
  const bool keepdims = ctx.node.attr_int("keepdims", 1) != 0;
  if (!x.has_shape) {
    ctx.set_output(0, unknown_rank(DType::kInt64));
    return Status::Ok();
  }
  int64_t axis = 0;
  if (!normalize_axis(ctx.node.attr_int("axis", 0), x.rank(), &axis))
    return ctx.fail("axis ", ctx.node.attr_int("axis", 0), " is out of range for an input of rank ", x.rank());
  if (x.dims[axis].known() && x.dims[axis].value == 0)
    return ctx.fail("cannot take the ", ctx.node.op_type, " of an empty axis ", axis);
  std::vector<Dim> dims;
  for (size_t d = 0; d < x.rank(); ++d) {
    if (int64_t(d) != axis)
      dims.push_back(x.dims[d]);
    else if (keepdims)
      dims.push_back(Dim(1));
  }
  ctx.set_output(0, ValueType(DType::kInt64, dims));
  return Status::Ok();
}

// Checks scale / zero point (inputs 1 and 2) against x for both QuantizeLinear and DequantizeLinear.
Status check_quant_params(InferContext& ctx, const char* scale_name, const char* zp_name) {
  const ValueType& x = ctx.in(0);
  const ValueType& scale = ctx.in(1);
  if (ctx.opset < 13 && ctx.node.has_attr("axis")) return ctx.fail("'axis' exists only from opset 13");
  if (!scale.has_shape) return Status::Ok();
  const ValueType* zp = ctx.has_input(2) ? &ctx.in(2) : nullptr;
  if (zp && zp->has_shape) {
    if (zp->rank() != scale.rank())
      return ctx.fail(zp_name, " must have the shape of ", scale_name, ": ", zp->to_string(), " vs ",
                      scale.to_string());
    for (size_t i = 0; i < zp->rank(); ++i)
      if (zp->dims[i].known() && scale.dims[i].known() && zp->dims[i].value != scale.dims[i].value)
        return ctx.fail(zp_name, " must have the shape of ", scale_name, ": ", zp->to_string(), " vs ",
                        scale.to_string());
  }
  if (scale.rank() == 0) return Status::Ok();
  if (scale.rank() > 1)
    return ctx.fail(scale_name, " must be a scalar (per tensor) or 1-D (per axis), got ", scale.to_string());
  if (scale.dims[0].known() && scale.dims[0].value == 1) return Status::Ok();  // one element: per tensor
  if (ctx.opset < 13)
    return ctx.fail(scale_name, " must be a scalar before opset 13 (per-axis quantization needs opset 13), got ",
                    scale.to_string());
  if (!x.has_shape) return Status::Ok();
  int64_t axis = 0;
  const int64_t axis_attr = ctx.node.attr_int("axis", 1);
  if (!normalize_axis(axis_attr, x.rank(), &axis))
    return ctx.fail("axis ", axis_attr, " is out of range for an input of rank ", x.rank());
  if (scale.dims[0].known() && x.dims[axis].known() && scale.dims[0].value != x.dims[axis].value)
    return ctx.fail("per-axis ", scale_name, " has ", scale.dims[0].value, " elements but input axis ", axis, " has ",
                    x.dims[axis].value);
  return Status::Ok();
}

}  // namespace

Status infer_ReduceMean(InferContext& ctx) { return infer_reduce(ctx, kArithmeticTypes); }
Status infer_ReduceSum(InferContext& ctx) { return infer_reduce(ctx, kArithmeticTypes); }
Status infer_ReduceProd(InferContext& ctx) { return infer_reduce(ctx, kArithmeticTypes); }
Status infer_ReduceL2(InferContext& ctx) { return infer_reduce(ctx, kArithmeticTypes); }
Status infer_ReduceMax(InferContext& ctx) { return infer_reduce(ctx, kOrderedTypes); }
Status infer_ReduceMin(InferContext& ctx) { return infer_reduce(ctx, kOrderedTypes); }
Status infer_ArgMax(InferContext& ctx) { return infer_arg_reduce(ctx); }
Status infer_ArgMin(InferContext& ctx) { return infer_arg_reduce(ctx); }

Status infer_QuantizeLinear(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(2, 3));
  LB_RETURN_IF_ERROR(ctx.expect_dtype(0, {DType::kFloat32, DType::kInt32}));
  LB_RETURN_IF_ERROR(ctx.expect_dtype(1, {DType::kFloat32}));
  DType out = DType::kUint8;  // ONNX: uint8 when the zero point is absent
  if (ctx.has_input(2)) {
    LB_RETURN_IF_ERROR(ctx.expect_dtype(2, {DType::kUint8, DType::kInt8}));
    out = ctx.in(2).dtype;
  }
  if (ctx.num_outputs() != 1) return ctx.fail("expects 1 output, got ", ctx.num_outputs());
  LB_RETURN_IF_ERROR(check_quant_params(ctx, "y_scale", "y_zero_point"));
  ValueType y = ctx.in(0);
  y.dtype = out;
  ctx.set_output(0, y);
  return Status::Ok();
}

Status infer_DequantizeLinear(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(2, 3));
  LB_RETURN_IF_ERROR(ctx.expect_dtype(0, {DType::kUint8, DType::kInt8, DType::kInt32}));
  LB_RETURN_IF_ERROR(ctx.expect_dtype(1, {DType::kFloat32}));
  if (ctx.has_input(2) && ctx.in(2).dtype != ctx.in(0).dtype)
    return ctx.fail("x_zero_point has type ", dtype_name(ctx.in(2).dtype), " but x has type ",
                    dtype_name(ctx.in(0).dtype), "; they must match");
  if (ctx.num_outputs() != 1) return ctx.fail("expects 1 output, got ", ctx.num_outputs());
  LB_RETURN_IF_ERROR(check_quant_params(ctx, "x_scale", "x_zero_point"));
  // int32 inputs (biases) carry no zero point: (x - zp) could overflow and ONNX requires it to be 0.
  if (ctx.in(0).dtype == DType::kInt32 && ctx.value(2)) {
    const Tensor& zp = *ctx.value(2);
    for (int64_t i = 0; i < zp.numel(); ++i)
      if (zp.data<int32_t>()[i] != 0) return ctx.fail("x_zero_point must be 0 for int32 input");
  }
  ValueType y = ctx.in(0);
  y.dtype = DType::kFloat32;
  ctx.set_output(0, y);
  return Status::Ok();
}

}  // namespace lowbit
