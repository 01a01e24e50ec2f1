// Inference for QLinearAdd / QLinearMul (src/ops/qlinear_binary.h). Kernels: src/kernels/ref/qlinear_binary.cpp,
// src/kernels/onednn/qlinear_binary.cpp.
#include "ops/broadcast.h"
#include "ops/op_table.h"
#include "ops/qlinear_binary.h"

namespace lowbit {

namespace {

Status infer_qlinear_binary(InferContext& ctx) {
  LB_RETURN_IF_ERROR(ctx.expect_inputs(1, 8));
  if (ctx.node.num_inputs() < 7) return ctx.fail("expects at least 7 inputs (A, A_scale, A_zero_point, B, B_scale, "
                                                  "B_zero_point, C_scale), got ", ctx.node.num_inputs());
  for (size_t i : {0, 3})
    LB_RETURN_IF_ERROR(ctx.expect_dtype(i, {DType::kInt8, DType::kUint8}));
  // Scales and zero points are per tensor: one value (a scalar or a 1-element 1-D tensor).
  auto one_value = [&](size_t i, const char* what) -> Status {
    const ValueType& t = ctx.in(i);
    if (!t.has_shape || t.rank() == 0 || (t.rank() == 1 && t.dims[0].known() && t.dims[0].value == 1))
      return Status::Ok();
    return ctx.fail(what, " (input ", i, ", '", ctx.node.inputs[i], "') must hold one value, got ", t.to_string());
  };
  for (size_t i : {1, 4, 6}) {
    LB_RETURN_IF_ERROR(ctx.expect_dtype(i, {DType::kFloat32}));
    LB_RETURN_IF_ERROR(one_value(i, "a scale"));
  }
  for (size_t i : {2, 5, 7})
    if (ctx.has_input(i)) {
      if (i == 7) LB_RETURN_IF_ERROR(ctx.expect_dtype(i, {DType::kInt8, DType::kUint8}));
      else LB_RETURN_IF_ERROR(ctx.expect_dtype(i, {ctx.in(i - 2).dtype}));
      LB_RETURN_IF_ERROR(one_value(i, "a zero point"));
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

}  // namespace

Status infer_QLinearAdd(InferContext& ctx) { return infer_qlinear_binary(ctx); }
Status infer_QLinearMul(InferContext& ctx) { return infer_qlinear_binary(ctx); }

}  // namespace lowbit
