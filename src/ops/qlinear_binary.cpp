// Inference for QLinearAdd / QLinearMul / QLinearGlobalAveragePool / QLinearAveragePool (src/ops/qlinear_binary.h). Kernels: src/kernels/ref/qlinear_binary.cpp,
// src/kernels/onednn/qlinear_binary.cpp.
#include "ops/broadcast.h"
#include "ops/op_table.h"
#include "ops/pool_params.h"
#include "ops/qlinear_binary.h"

namespace lowbit {

namespace {

// Scales and zero points are per tensor: one value (a scalar or a 1-element 1-D tensor).
Status expect_one_value(InferContext& ctx, size_t i, const char* what) {
  const ValueType& t = ctx.in(i);
  if (!t.has_shape || t.rank() == 0 || (t.rank() == 1 && t.dims[0].known() && t.dims[0].value == 1))
    return Status::Ok();
  return ctx.fail(what, " (input ", i, ", '", ctx.node.inputs[i], "') must hold one value, got ", t.to_string());
}

Status infer_qlinear_binary(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(1, 8));
  if (ctx.node.num_inputs() < 7) return ctx.fail("expects at least 7 inputs (A, A_scale, A_zero_point, B, B_scale, "
                                                  "B_zero_point, C_scale), got ", ctx.node.num_inputs());
  for (size_t i : {0, 3})
    LB_RETURN_IF_ERROR(ctx.expect_dtype(i, {DType::kInt8, DType::kUint8}));
  for (size_t i : {1, 4, 6}) {
    LB_RETURN_IF_ERROR(ctx.expect_dtype(i, {DType::kFloat32}));
    LB_RETURN_IF_ERROR(expect_one_value(ctx, i, "a scale"));
  }
  for (size_t i : {2, 5, 7})
    if (ctx.has_input(i)) {
      if (i == 7) LB_RETURN_IF_ERROR(ctx.expect_dtype(i, {DType::kInt8, DType::kUint8}));
      else LB_RETURN_IF_ERROR(ctx.expect_dtype(i, {ctx.in(i - 2).dtype}));
      LB_RETURN_IF_ERROR(expect_one_value(ctx, i, "a zero point"));
    }
  auto act = parse_fused_activation(ctx.node);
  if (!act) return ctx.fail(act.status().message());
  const DType out = ctx.has_input(7) ? ctx.in(7).dtype : ctx.in(0).dtype;
  const ValueType &a = ctx.in(0), &b = ctx.in(3);
  if (!a.has_shape || !b.has_shape) {
    ValueType t;
    t.dtype = out;
    ctx.set_output(0, t);
    return Status::Ok();
  }
  std::vector<Dim> dims;
  std::string why;
  if (!broadcast_dims({a.dims, b.dims}, &dims, &why)) return ctx.fail("A and B do not broadcast: ", why);
  ctx.set_output(0, ValueType(out, dims));
  return Status::Ok();
}

// QLinearGlobalAveragePool / QLinearAveragePool: X, x_scale, [x_zero_point], y_scale, [y_zero_point], per tensor.
// Returns the output element type.
Expected<DType> check_qlinear_pool_inputs(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(2, 5));
  if (!ctx.has_input(3)) return ctx.fail("y_scale (input 3) is required");
  if (ctx.node.attr_int("channels_last", 0) != 0) return ctx.fail("channels_last = 1 is not supported");
  LB_RETURN_IF_ERROR(ctx.expect_dtype(0, {DType::kInt8, DType::kUint8}));
  for (size_t i : {1, 3}) {
    LB_RETURN_IF_ERROR(ctx.expect_dtype(i, {DType::kFloat32}));
    LB_RETURN_IF_ERROR(expect_one_value(ctx, i, "a scale"));
  }
  if (ctx.has_input(2)) {
    LB_RETURN_IF_ERROR(ctx.expect_dtype(2, {ctx.in(0).dtype}));
    LB_RETURN_IF_ERROR(expect_one_value(ctx, 2, "a zero point"));
  }
  if (ctx.has_input(4)) {
    LB_RETURN_IF_ERROR(ctx.expect_dtype(4, {DType::kInt8, DType::kUint8}));
    LB_RETURN_IF_ERROR(expect_one_value(ctx, 4, "a zero point"));
  }
  return ctx.has_input(4) ? ctx.in(4).dtype : ctx.in(0).dtype;
}

// What both pools check first. False when X's shape is unknown (the output then has only its type).
Expected<bool> qlinear_pool_has_shape(InferContext& ctx, DType* out) {
  LB_ASSIGN_OR_RETURN(*out, check_qlinear_pool_inputs(ctx));
  const ValueType& x = ctx.in(0);
  if (!x.has_shape) {
    ValueType t;
    t.dtype = *out;
    ctx.set_output(0, t);
    return false;
  }
  if (x.rank() < 3) return ctx.fail("X must be N x C x D1 x ..., got ", x.to_string());
  return true;
}

}  // namespace

Status infer_QLinearAveragePool(InferContext& ctx) {
  DType out;
  LB_ASSIGN_OR_RETURN(const bool shaped, qlinear_pool_has_shape(ctx, &out));
  if (!shaped) return Status::Ok();
  const ValueType& x = ctx.in(0);
  PoolParams p;
  LB_RETURN_IF_ERROR(parse_pool_params(ctx.node, ctx.opset, /*is_max=*/false, x.rank() - 2, &p));
  std::vector<Dim> dims;
  LB_RETURN_IF_ERROR(pool_output_dims(ctx.node, p, x.dims, &dims));
  ctx.set_output(0, ValueType(out, dims));
  return Status::Ok();
}

Status infer_QLinearGlobalAveragePool(InferContext& ctx) {
  DType out;
  LB_ASSIGN_OR_RETURN(const bool shaped, qlinear_pool_has_shape(ctx, &out));
  if (!shaped) return Status::Ok();
  const ValueType& x = ctx.in(0);
  std::vector<Dim> dims(x.rank(), Dim(1));
  dims[0] = x.dims[0];
  dims[1] = x.dims[1];
  ctx.set_output(0, ValueType(out, dims));
  return Status::Ok();
}

Status infer_QLinearAdd(InferContext& ctx) { return infer_qlinear_binary(ctx); }
Status infer_QLinearMul(InferContext& ctx) { return infer_qlinear_binary(ctx); }

}  // namespace lowbit
