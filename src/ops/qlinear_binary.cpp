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
  for (size_t i : {1, 4, 6}) {
    LB_RETURN_IF_ERROR(ctx.expect_dtype(i, {DType::kFloat32}));
    if (ctx.in(i).has_shape && ctx.in(i).rank() > 1) return ctx.fail("scale input ", i, " must be a scalar");
  }
  for (size_t i : {2, 5, 7})
    if (ctx.has_input(i)) {
      LB_RETURN_IF_ERROR(ctx.expect_dtype(i, {i == 7 ? ctx.in(7).dtype : ctx.in(i - 2).dtype}));
      if (i == 7) LB_RETURN_IF_ERROR(ctx.expect_dtype(i, {DType::kInt8, DType::kUint8}));
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
