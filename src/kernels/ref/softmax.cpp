// Reference kernels: Softmax and LogSoftmax.
// Opset < 13 coerces the input to 2-D at `axis` (default 1) and normalizes each row of the flattened
// trailing part; opset >= 13 normalizes along the single axis `axis` (default -1).
// Both views are "outer x n x inner" with the reduction over n; the max is subtracted first so large
// inputs do not overflow exp().
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/ref/norm_pool_util.h"
#include "ops/op_table.h"

namespace lowbit {

namespace {

struct SoftmaxView {
  int64_t outer = 1, n = 1, inner = 1;
};

SoftmaxView softmax_view(const KernelContext& ctx) {
  const Shape& s = ctx.in(0).shape();
  const int64_t rank = int64_t(s.size());
  int64_t axis = ctx.node.attr_int("axis", ctx.opset >= 13 ? -1 : 1);
  if (axis < 0) axis += rank;
  SoftmaxView v;
  v.outer = dims_product(s, 0, size_t(axis));
  if (ctx.opset >= 13) {
    v.n = s[size_t(axis)];
    v.inner = dims_product(s, size_t(axis) + 1, s.size());
  } else {
    v.n = dims_product(s, size_t(axis), s.size());
  }
  return v;
}

template <typename T>
void softmax(KernelContext& ctx, const SoftmaxView& v, bool log) {
  using Acc = AccOf<T>;
  const T* x = ctx.in(0).data<T>();
  T* y = ctx.out(0).data<T>();
  // Work items: (outer row, block of inner columns). Columns of a block are processed together so
  // strided access along the axis still reads contiguous runs.
  constexpr int64_t kBlock = 64;
  const int64_t blocks = (v.inner + kBlock - 1) / kBlock;
  ctx.parallel_for(
      v.outer * blocks,
      [&](int64_t begin, int64_t end) {
        std::vector<Acc> exps(size_t(v.n * std::min(kBlock, v.inner)));
        Acc max_v[kBlock], sum_v[kBlock];
        for (int64_t item = begin; item < end; ++item) {
          const int64_t o = item / blocks;
          const int64_t j0 = (item % blocks) * kBlock, width = std::min(kBlock, v.inner - j0);
          const T* xb = x + o * v.n * v.inner + j0;
          T* yb = y + o * v.n * v.inner + j0;
          for (int64_t j = 0; j < width; ++j) {
            max_v[j] = -std::numeric_limits<Acc>::infinity();
            sum_v[j] = 0;
          }
          for (int64_t k = 0; k < v.n; ++k)
            for (int64_t j = 0; j < width; ++j) max_v[j] = std::max(max_v[j], load_acc(xb[k * v.inner + j]));
          for (int64_t k = 0; k < v.n; ++k)
            for (int64_t j = 0; j < width; ++j) {
              const Acc e = std::exp(load_acc(xb[k * v.inner + j]) - max_v[j]);
              exps[size_t(k * width + j)] = e;
              sum_v[j] += e;
            }
          if (log) {
            // (x - max) - log(sum): subtracting max first keeps precision when |x| is large.
            for (int64_t j = 0; j < width; ++j) sum_v[j] = std::log(sum_v[j]);
            for (int64_t k = 0; k < v.n; ++k)
              for (int64_t j = 0; j < width; ++j)
                yb[k * v.inner + j] = store_acc<T>((load_acc(xb[k * v.inner + j]) - max_v[j]) - sum_v[j]);
          } else {
            for (int64_t j = 0; j < width; ++j) sum_v[j] = Acc(1) / sum_v[j];
            for (int64_t k = 0; k < v.n; ++k)
              for (int64_t j = 0; j < width; ++j)
                yb[k * v.inner + j] = store_acc<T>(exps[size_t(k * width + j)] * sum_v[j]);
          }
        }
      },
      std::max<int64_t>(1, 4096 / std::max<int64_t>(v.n * std::min(kBlock, v.inner), 1)));
}

Status run_softmax(KernelContext& ctx, bool log) {
  const SoftmaxView v = softmax_view(ctx);
  switch (ctx.in(0).dtype()) {
    case DType::kFloat32:
      softmax<float>(ctx, v, log);
      break;
    case DType::kFloat64:
      softmax<double>(ctx, v, log);
      break;
    case DType::kFloat16:
      softmax<Half>(ctx, v, log);
      break;
    case DType::kBFloat16:
      softmax<BFloat16>(ctx, v, log);
      break;
    default:
      return error(StatusCode::kUnsupported, ctx.node.describe(), ": no reference kernel for ",
                   dtype_name(ctx.in(0).dtype()));
  }
  return Status::Ok();
}

}  // namespace

Status ref_Softmax(KernelContext& ctx) { return run_softmax(ctx, /*log=*/false); }
Status ref_LogSoftmax(KernelContext& ctx) { return run_softmax(ctx, /*log=*/true); }

}  // namespace lowbit
