// Reference kernels of QLinearAdd / QLinearMul: the formula of src/ops/qlinear_binary.h per element, numpy
// broadcasting.
#include "ops/broadcast.h"
#include "ops/op_table.h"
#include "ops/qlinear_binary.h"

namespace lowbit {

namespace {

int32_t code_at(const Tensor& t, int64_t i) { return int32_t(t.get_as_int64(i)); }

template <typename C>
void run(const KernelContext& ctx, const QLinearBinaryParams& p, Tensor& c) {
  const Tensor &a = ctx.in(0), &b = ctx.in(3);
  const std::vector<int64_t> strides[2] = {broadcast_strides(a.shape(), c.shape()),
                                           broadcast_strides(b.shape(), c.shape())};
  std::vector<float> v(size_t(c.numel()));
  for_each_broadcast_index(c.shape(), strides, [&](int64_t i, const int64_t* o) {
    v[size_t(i)] = qlinear_binary_value(p, code_at(a, o[0]), code_at(b, o[1]));
  });
  apply_fused_activation(p.act, v.data(), c.numel());
  C* out = c.data<C>();
  for (int64_t i = 0; i < c.numel(); ++i) out[i] = quant::quantize_value<C>(v[size_t(i)], p.c_scale, p.c_zero);
}

Status qlinear_binary(KernelContext& ctx, bool mul) {
  QLinearBinaryParams p;
  p.mul = mul;
  auto act = parse_fused_activation(ctx.node);
  if (!act) return ctx.fail(act.status().message());
  p.act = *act;
  p.a_scale = ctx.in(1).data<float>()[0];
  p.b_scale = ctx.in(4).data<float>()[0];
  p.c_scale = ctx.in(6).data<float>()[0];
  if (ctx.has_input(2)) p.a_zero = code_at(ctx.in(2), 0);
  if (ctx.has_input(5)) p.b_zero = code_at(ctx.in(5), 0);
  if (ctx.has_input(7)) p.c_zero = code_at(ctx.in(7), 0);
  Tensor& c = ctx.out(0);
  if (c.dtype() == DType::kInt8) run<int8_t>(ctx, p, c);
  else run<uint8_t>(ctx, p, c);
  return Status::Ok();
}

}  // namespace

Status ref_QLinearAdd(KernelContext& ctx) { return qlinear_binary(ctx, false); }
Status ref_QLinearMul(KernelContext& ctx) { return qlinear_binary(ctx, true); }

}  // namespace lowbit
