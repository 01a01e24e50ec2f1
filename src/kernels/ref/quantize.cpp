// Reference kernels of QuantizeLinear and DequantizeLinear, per tensor or per axis.
// The numerics live in src/quant/quant_math.h; these loops only walk the (outer, channel, inner) layout.
#include "kernels/ref/dispatch.h"
#include "ops/op_table.h"
#include "ops/reduce_quant_params.h"
#include "quant/quant_math.h"

namespace lowbit {
namespace {

// x viewed as [outer, channels, inner]: channels = 1 per tensor, dim(axis) per axis.
// Per tensor, x is cut into fixed-size blocks of one "channel" so the pool can split it.
struct QuantLayout {
  int64_t outer = 1, channels = 1, inner = 1;
  int64_t total = 0;
};

Status quant_layout(KernelContext& ctx, QuantLayout* l) {
  const Tensor& x = ctx.in(0);
  const Tensor& scale = ctx.in(1);
  l->total = x.numel();
  if (quant_is_per_tensor(scale.shape())) {
    l->inner = 4096;
    l->outer = (x.numel() + l->inner - 1) / l->inner;
    return Status::Ok();
  }
  int64_t axis = 0;
  if (!normalize_axis(ctx.node.attr_int("axis", 1), x.rank(), &axis)) return ctx.fail("axis out of range");
  if (scale.numel() != x.dim(axis))
    return ctx.fail("per-axis scale has ", scale.numel(), " elements but input axis ", axis, " has ", x.dim(axis));
  if (ctx.has_input(2) && ctx.in(2).numel() != scale.numel())
    return ctx.fail("zero point has ", ctx.in(2).numel(), " elements but scale has ", scale.numel());
  l->channels = x.dim(axis);
  l->outer = 1;
  for (int64_t d = 0; d < axis; ++d) l->outer *= x.dim(d);
  l->inner = 1;
  for (size_t d = size_t(axis) + 1; d < x.rank(); ++d) l->inner *= x.dim(d);
  return Status::Ok();
}

// Runs body(channel, begin, end) over the flat ranges of x, split for the thread pool into chunks of ~16K
// elements that never cross a channel boundary (a per-tensor Q/DQ of a big activation is one channel: it still
// gets every thread).
template <typename F>
void for_each_channel_range(KernelContext& ctx, const QuantLayout& l, F&& body) {
  constexpr int64_t kChunk = 16384;
  const int64_t inner = std::max<int64_t>(1, l.inner);
  ctx.parallel_for(
      (l.total + kChunk - 1) / kChunk,
      [&](int64_t first, int64_t last) {
        for (int64_t s = first * kChunk, e = std::min(l.total, last * kChunk); s < e;) {
          const int64_t block = s / inner;
          const int64_t block_end = std::min(e, (block + 1) * inner);
          body(block % l.channels, s, block_end);
          s = block_end;
        }
      },
      1);
}

template <typename Q>
int32_t zero_point_at(KernelContext& ctx, int64_t c) {
  return ctx.has_input(2) ? int32_t(ctx.in(2).data<Q>()[c]) : 0;
}

template <typename Q, typename X>
void quantize(KernelContext& ctx, const QuantLayout& l) {
  const X* x = ctx.in(0).data<X>();
  const float* scale = ctx.in(1).data<float>();
  Q* y = ctx.out(0).data<Q>();
  for_each_channel_range(ctx, l, [&](int64_t c, int64_t begin, int64_t end) {
    const float s = scale[c];
    const int32_t zp = zero_point_at<Q>(ctx, c);
    for (int64_t i = begin; i < end; ++i) y[i] = quant::quantize_value<Q>(float(x[i]), s, zp);
  });
}

template <typename Q>
void dequantize(KernelContext& ctx, const QuantLayout& l) {
  const Q* x = ctx.in(0).data<Q>();
  const float* scale = ctx.in(1).data<float>();
  float* y = ctx.out(0).data<float>();
  for_each_channel_range(ctx, l, [&](int64_t c, int64_t begin, int64_t end) {
    const float s = scale[c];
    const int32_t zp = zero_point_at<Q>(ctx, c);
    for (int64_t i = begin; i < end; ++i) y[i] = quant::dequantize_value<Q>(x[i], s, zp);
  });
}

}  // namespace

Status ref_QuantizeLinear(KernelContext& ctx) {
  QuantLayout l;
  LB_RETURN_IF_ERROR(quant_layout(ctx, &l));
  const DType out = ctx.out(0).dtype();
  const bool int_input = ctx.in(0).dtype() == DType::kInt32;
  if (out == DType::kUint8)
    int_input ? quantize<uint8_t, int32_t>(ctx, l) : quantize<uint8_t, float>(ctx, l);
  else if (out == DType::kInt8)
    int_input ? quantize<int8_t, int32_t>(ctx, l) : quantize<int8_t, float>(ctx, l);
  else
    return error(StatusCode::kUnsupported, ctx.node.describe(), ": cannot quantize to ", dtype_name(out));
  return Status::Ok();
}

Status ref_DequantizeLinear(KernelContext& ctx) {
  QuantLayout l;
  LB_RETURN_IF_ERROR(quant_layout(ctx, &l));
  switch (ctx.in(0).dtype()) {
    case DType::kUint8:
      dequantize<uint8_t>(ctx, l);
      break;
    case DType::kInt8:
      dequantize<int8_t>(ctx, l);
      break;
    case DType::kInt32:
      dequantize<int32_t>(ctx, l);
      break;
    default:
      return error(StatusCode::kUnsupported, ctx.node.describe(), ": cannot dequantize ",
                   dtype_name(ctx.in(0).dtype()));
  }
  return Status::Ok();
}

}  // namespace lowbit
