// Reference kernels: comparisons, logical ops, Where, and the copies Identity and Dropout.
// bool tensors hold one byte per element; outputs are written as exactly 0 or 1, and inputs are
// read as "byte != 0" so that any byte from a file has a defined meaning.
#include <cstring>

#include "ops/elementwise_kernels.h"
#include "ops/op_table.h"

namespace lowbit {

namespace {

template <unsigned Set, typename Op>
Status compare(KernelContext& ctx, Op op) {
  const Tensor& a = ctx.in(0);
  bool handled = visit_dtype<Set>(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    map_binary<T, T, uint8_t>(ctx, a, ctx.in(1), ctx.out(0), op);
  });
  return handled ? Status::Ok() : unexpected_dtype(ctx, a.dtype());
}

template <typename Op>
Status logical(KernelContext& ctx, Op op) {
  map_binary<uint8_t, uint8_t, uint8_t>(ctx, ctx.in(0), ctx.in(1), ctx.out(0),
                                        [op](uint8_t a, uint8_t b) { return op(a != 0, b != 0); });
  return Status::Ok();
}

// Where copies elements, so only their size matters.
template <typename T>
void where_copy(KernelContext& ctx, const Tensor& cond, const Tensor& x, const Tensor& y, Tensor& out) {
  const uint8_t* pc = cond.data<uint8_t>();
  const T* px = x.data<T>();
  const T* py = y.data<T>();
  T* po = out.data<T>();
  for_each_broadcast_row<3>(
      ctx, out.shape(), {&cond.shape(), &x.shape(), &y.shape()},
      [&](int64_t o, const std::array<int64_t, 3>& off, const std::array<int64_t, 3>& step, int64_t len) {
        for (int64_t i = 0; i < len; ++i)
          po[o + i] = pc[off[0] + i * step[0]] ? px[off[1] + i * step[1]] : py[off[2] + i * step[2]];
      });
}

}  // namespace

Status ref_Equal(KernelContext& ctx) {
  if (ctx.in(0).dtype() == DType::kBool) return logical(ctx, [](bool a, bool b) { return a == b; });
  return compare<kNumericTypes>(ctx, [](auto a, auto b) { return a == b; });
}
Status ref_Less(KernelContext& ctx) {
  return compare<kNumericTypes>(ctx, [](auto a, auto b) { return a < b; });
}
Status ref_LessOrEqual(KernelContext& ctx) {
  return compare<kNumericTypes>(ctx, [](auto a, auto b) { return a <= b; });
}
Status ref_Greater(KernelContext& ctx) {
  return compare<kNumericTypes>(ctx, [](auto a, auto b) { return a > b; });
}
Status ref_GreaterOrEqual(KernelContext& ctx) {
  return compare<kNumericTypes>(ctx, [](auto a, auto b) { return a >= b; });
}

Status ref_Not(KernelContext& ctx) {
  map_unary<uint8_t, uint8_t>(ctx, ctx.in(0), ctx.out(0), [](uint8_t v) { return v == 0; });
  return Status::Ok();
}
Status ref_And(KernelContext& ctx) {
  return logical(ctx, [](bool a, bool b) { return a && b; });
}
Status ref_Or(KernelContext& ctx) {
  return logical(ctx, [](bool a, bool b) { return a || b; });
}
Status ref_Xor(KernelContext& ctx) {
  return logical(ctx, [](bool a, bool b) { return a != b; });
}

Status ref_Where(KernelContext& ctx) {
  const Tensor& cond = ctx.in(0);
  const Tensor& x = ctx.in(1);
  const Tensor& y = ctx.in(2);
  Tensor& out = ctx.out(0);
  switch (dtype_size(out.dtype())) {
    case 1:
      where_copy<uint8_t>(ctx, cond, x, y, out);
      break;
    case 2:
      where_copy<uint16_t>(ctx, cond, x, y, out);
      break;
    case 4:
      where_copy<uint32_t>(ctx, cond, x, y, out);
      break;
    case 8:
      where_copy<uint64_t>(ctx, cond, x, y, out);
      break;
    default:
      return unexpected_dtype(ctx, out.dtype());
  }
  return Status::Ok();
}

Status ref_Identity(KernelContext& ctx) {
  std::memcpy(ctx.out(0).raw(), ctx.in(0).raw(), ctx.out(0).nbytes());
  return Status::Ok();
}

// Inference-mode Dropout (training mode with a non-zero ratio is rejected by inference): a copy, and a
// mask of all ones (bool from opset 10, the input's type before).
Status ref_Dropout(KernelContext& ctx) {
  std::memcpy(ctx.out(0).raw(), ctx.in(0).raw(), ctx.out(0).nbytes());
  if (!ctx.has_output(1)) return Status::Ok();
  Tensor& mask = ctx.out(1);
  if (mask.dtype() == DType::kBool) {
    std::memset(mask.raw(), 1, mask.nbytes());
    return Status::Ok();
  }
  bool handled = visit_dtype<kNumericTypes>(mask.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = mask.data<T>();
    for (int64_t i = 0; i < mask.numel(); ++i) p[i] = store<T>(1);
  });
  return handled ? Status::Ok() : unexpected_dtype(ctx, mask.dtype());
}

}  // namespace lowbit
