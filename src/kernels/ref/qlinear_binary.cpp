// Reference kernels of QLinearAdd / QLinearMul (the formula of src/ops/qlinear_binary.h per element, numpy
// broadcasting) and QLinearGlobalAveragePool (an int64 sum per channel, then qlinear_average_code).
#include <algorithm>
#include <cmath>

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

template <typename X, typename Y>
void global_average(const KernelContext& ctx, const QLinearPoolParams& p, Tensor& y) {
  const Tensor& x = ctx.in(0);
  const int64_t planes = x.dim(0) * x.dim(1), count = planes > 0 ? x.numel() / planes : 0;
  const float multiplier = qlinear_average_multiplier(p, count);
  const X* in = x.data<X>();
  Y* out = y.data<Y>();
  for (int64_t i = 0; i < planes; ++i) {
    int64_t sum = 0;
    for (int64_t j = 0; j < count; ++j) sum += in[i * count + j];
    out[i] = qlinear_average_code<Y>(p, sum, count, multiplier);
  }
}

}  // namespace

Status ref_QLinearGlobalAveragePool(KernelContext& ctx) {
  QLinearPoolParams p;
  p.x_scale = ctx.in(1).data<float>()[0];
  p.y_scale = ctx.in(3).data<float>()[0];
  if (ctx.has_input(2)) p.x_zero = code_at(ctx.in(2), 0);
  if (ctx.has_input(4)) p.y_zero = code_at(ctx.in(4), 0);
  if (!(p.x_scale > 0) || !(p.y_scale > 0) || !std::isfinite(p.x_scale) || !std::isfinite(p.y_scale))
    return ctx.fail("scales must be positive and finite, got x_scale ", p.x_scale, ", y_scale ", p.y_scale);
  if (ctx.in(0).numel() / std::max<int64_t>(1, ctx.in(0).dim(0) * ctx.in(0).dim(1)) > (int64_t(1) << 23))
    return ctx.fail("more than 2^23 values per channel: the int32 sum could overflow");
  Tensor& y = ctx.out(0);
  const bool x8 = ctx.in(0).dtype() == DType::kInt8, y8 = y.dtype() == DType::kInt8;
  if (x8 && y8) global_average<int8_t, int8_t>(ctx, p, y);
  else if (x8) global_average<int8_t, uint8_t>(ctx, p, y);
  else if (y8) global_average<uint8_t, int8_t>(ctx, p, y);
  else global_average<uint8_t, uint8_t>(ctx, p, y);
  return Status::Ok();
}

Status ref_QLinearAdd(KernelContext& ctx) { return qlinear_binary(ctx, false); }
Status ref_QLinearMul(KernelContext& ctx) { return qlinear_binary(ctx, true); }

}  // namespace lowbit
