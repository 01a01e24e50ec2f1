// Reference kernels of the reductions: ReduceMean/Sum/Max/Min/Prod/L2 and ArgMax/ArgMin.
//
// Reductions merge adjacent axes that are all reduced or all kept, then accumulate whole contiguous
// runs of the trailing kept axes ("inner") at once: ReduceMean over H,W of NCHW sums contiguous rows,
// ReduceSum over C of NCHW adds HW-long vectors. Float sums and products accumulate in double.
#include <cmath>
#include <limits>
#include <type_traits>

#include "kernels/ref/dispatch.h"
#include "ops/op_table.h"
#include "ops/reduce_quant_params.h"

namespace lowbit {
namespace {

enum class ReduceKind { kSum, kMean, kProd, kL2, kMax, kMin };

// Accumulator type: double for floats (accuracy), int64 for integer sums and products, T itself for max/min.
template <typename T, ReduceKind K>
using AccOf = std::conditional_t<K == ReduceKind::kMax || K == ReduceKind::kMin, T,
                                 std::conditional_t<std::is_floating_point_v<T>, double, int64_t>>;

template <typename T, ReduceKind K>
AccOf<T, K> identity() {
  using A = AccOf<T, K>;
  if constexpr (K == ReduceKind::kProd)
    return A(1);
  else if constexpr (K == ReduceKind::kMax)
    return std::is_floating_point_v<T> ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::lowest();
  else if constexpr (K == ReduceKind::kMin)
    return std::is_floating_point_v<T> ? std::numeric_limits<T>::infinity() : std::numeric_limits<T>::max();
  else
    return A(0);
}

template <typename T, ReduceKind K>
inline void accumulate(AccOf<T, K>& acc, T v) {
  if constexpr (K == ReduceKind::kSum || K == ReduceKind::kMean)
    acc += v;
  else if constexpr (K == ReduceKind::kProd)
    acc *= v;
  else if constexpr (K == ReduceKind::kL2)
    acc += AccOf<T, K>(v) * AccOf<T, K>(v);
  else if constexpr (K == ReduceKind::kMax) {
    if constexpr (std::is_floating_point_v<T>) {
      if (v > acc || std::isnan(v)) acc = v;
    }  // NaN propagates
    else if (v > acc)
      acc = v;
  } else {
    if constexpr (std::is_floating_point_v<T>) {
      if (v < acc || std::isnan(v)) acc = v;
    } else if (v < acc)
      acc = v;
  }
}

// Folds a partial result into an accumulator.
template <typename T, ReduceKind K>
inline void combine(AccOf<T, K>& acc, AccOf<T, K> part) {
  if constexpr (K == ReduceKind::kProd)
    acc *= part;
  else if constexpr (K == ReduceKind::kMax || K == ReduceKind::kMin)
    accumulate<T, K>(acc, part);
  else
    acc += part;
}

// A contiguous run with four independent accumulators, which breaks the floating-point add latency chain
// (ReduceMean over the last axis or over H,W runs 3-4x faster).
template <typename T, ReduceKind K>
void accumulate_run(AccOf<T, K>& acc, const T* p, int64_t len) {
  AccOf<T, K> lanes[4] = {identity<T, K>(), identity<T, K>(), identity<T, K>(), identity<T, K>()};
  int64_t j = 0;
  for (; j + 4 <= len; j += 4)
    for (int l = 0; l < 4; ++l) accumulate<T, K>(lanes[l], p[j + l]);
  for (; j < len; ++j) accumulate<T, K>(lanes[0], p[j]);
  for (auto& part : lanes) combine<T, K>(acc, part);
}

template <typename T, ReduceKind K>
inline T finish(AccOf<T, K> acc, int64_t count) {
  if constexpr (K == ReduceKind::kMean) {
    if (count == 0) return std::is_floating_point_v<T> ? std::numeric_limits<T>::quiet_NaN() : T(0);  // 0/0
    return T(acc / AccOf<T, K>(count));
  } else if constexpr (K == ReduceKind::kL2)
    return T(std::sqrt(double(acc)));
  else
    return T(acc);
}

struct Segment {
  int64_t size;
  int64_t stride;  // in input elements
};

// The reduction, described over merged axes.
struct ReducePlan {
  std::vector<Segment> kept;     // outer kept axes (row-major), excluding the trailing kept run
  std::vector<Segment> reduced;  // reduced axes (row-major)
  int64_t inner = 1;             // trailing kept elements, contiguous
  int64_t outer = 1;             // product of kept sizes
  int64_t count = 1;             // product of reduced sizes
};

ReducePlan plan_reduction(const Shape& shape, const std::vector<bool>& reduced) {
  // Merge adjacent axes of the same kind; size-1 axes are dropped (they change nothing).
  struct Run {
    int64_t size;
    bool reduced;
  };
  std::vector<Run> runs;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (!runs.empty() && runs.back().reduced == reduced[d])
      runs.back().size *= shape[d];
    else
      runs.push_back({shape[d], bool(reduced[d])});
  }
  ReducePlan p;
  int64_t stride = 1;
  std::vector<std::pair<Run, int64_t>> with_strides(runs.size());
  for (size_t i = runs.size(); i-- > 0;) {
    with_strides[i] = {runs[i], stride};
    stride *= runs[i].size;
  }
  if (!runs.empty() && !runs.back().reduced) {
    p.inner = runs.back().size;
    with_strides.pop_back();
  }
  for (auto& [run, s] : with_strides) {
    if (run.reduced) {
      p.reduced.push_back({run.size, s});
      p.count *= run.size;
    } else {
      p.kept.push_back({run.size, s});
      p.outer *= run.size;
    }
  }
  return p;
}

template <typename T, ReduceKind K>
void run_reduction(KernelContext& ctx, const ReducePlan& p, const T* in, T* out) {
  using A = AccOf<T, K>;
  // Work items: (outer index, block of inner elements); small outer counts split the inner run instead.
  const int64_t block = p.outer >= 8 ? p.inner : std::min<int64_t>(p.inner, 1024);
  const int64_t blocks_per_outer = block ? (p.inner + block - 1) / block : 0;
  const int64_t items = p.outer * blocks_per_outer;
  ctx.parallel_for(
      items,
      [&](int64_t begin, int64_t end) {
        std::vector<A> acc(static_cast<size_t>(block));
        std::vector<int64_t> idx(p.reduced.size());
        for (int64_t item = begin; item < end; ++item) {
          const int64_t o = item / blocks_per_outer;
          const int64_t i0 = (item % blocks_per_outer) * block;
          const int64_t n = std::min(block, p.inner - i0);
          int64_t base = i0;
          for (int64_t k = int64_t(p.kept.size()) - 1, rem = o; k >= 0; --k) {
            base += (rem % p.kept[k].size) * p.kept[k].stride;
            rem /= p.kept[k].size;
          }
          std::fill(acc.begin(), acc.begin() + n, identity<T, K>());
          if (p.reduced.empty()) {
            for (int64_t i = 0; i < n; ++i) accumulate<T, K>(acc[i], in[base + i]);
          } else if (p.count > 0) {
            // Odometer over the reduced axes; the last one runs in the tight loop.
            const Segment last = p.reduced.back();
            std::fill(idx.begin(), idx.end(), 0);
            int64_t off = base;
            while (true) {
              if (n == 1 && last.stride == 1) {
                accumulate_run<T, K>(acc[0], in + off, last.size);
              } else {
                for (int64_t j = 0; j < last.size; ++j) {
                  const T* src = in + off + j * last.stride;
                  if (n == 1)
                    accumulate<T, K>(acc[0], src[0]);
                  else
                    for (int64_t i = 0; i < n; ++i) accumulate<T, K>(acc[i], src[i]);
                }
              }
              int64_t k = int64_t(p.reduced.size()) - 2;
              for (; k >= 0; --k) {
                off += p.reduced[k].stride;
                if (++idx[k] < p.reduced[k].size) break;
                off -= p.reduced[k].stride * p.reduced[k].size;
                idx[k] = 0;
              }
              if (k < 0) break;
            }
          }
          T* dst = out + o * p.inner + i0;
          for (int64_t i = 0; i < n; ++i) dst[i] = finish<T, K>(acc[i], p.count);
        }
      },
      /*grain=*/std::max<int64_t>(1, 4096 / std::max<int64_t>(1, p.count * block)));
}

template <ReduceKind K>
Status reduce_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.in(0);
  Tensor& y = ctx.out(0);
  ReduceAxes axes;
  LB_RETURN_IF_ERROR(
      resolve_reduce_axes(ctx.node, ctx.opset, x.rank(), ctx.has_input(1) ? &ctx.in(1) : nullptr, &axes));
  if (axes.noop) {
    std::memcpy(y.raw(), x.raw(), x.nbytes());
    return Status::Ok();
  }
  const ReducePlan plan = plan_reduction(x.shape(), axes.reduced);
  bool handled = true;
  Status s = dispatch_dtype(
      x.dtype(),
      [&](auto tag) -> Status {
        using T = typename decltype(tag)::type;
        if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
          run_reduction<T, K>(ctx, plan, x.data<T>(), y.data<T>());
          return Status::Ok();
        } else {
          return error(StatusCode::kUnsupported, ctx.node.describe(), ": unsupported type ", dtype_name(x.dtype()));
        }
      },
      &handled);
  if (!handled)
    return error(StatusCode::kUnsupported, ctx.node.describe(), ": unsupported type ", dtype_name(x.dtype()));
  return s;
}

template <bool kMax>
Status arg_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.in(0);
  int64_t axis = 0;
  if (!normalize_axis(ctx.node.attr_int("axis", 0), x.rank(), &axis)) return ctx.fail("axis out of range");
  const bool last = ctx.node.attr_int("select_last_index", 0) != 0;
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.dim(d);
  for (size_t d = size_t(axis) + 1; d < x.rank(); ++d) inner *= x.dim(d);
  const int64_t n = x.dim(axis);
  if (n == 0) return ctx.fail("cannot take the ", ctx.node.op_type, " of an empty axis");
  int64_t* out = ctx.out(0).data<int64_t>();
  return dispatch_dtype(x.dtype(), [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
      const T* in = x.data<T>();
      ctx.parallel_for(outer, [&](int64_t begin, int64_t end) {
        for (int64_t o = begin; o < end; ++o) {
          for (int64_t i = 0; i < inner; ++i) {
            const T* p = in + o * n * inner + i;
            int64_t best = 0;
            T best_v = p[0];
            for (int64_t j = 1; j < n; ++j) {
              T v = p[j * inner];
              bool better = kMax ? (last ? v >= best_v : v > best_v) : (last ? v <= best_v : v < best_v);
              if (better) best = j, best_v = v;
            }
            out[o * inner + i] = best;
          }
        }
      });
      return Status::Ok();
    } else {
      return error(StatusCode::kUnsupported, ctx.node.describe(), ": unsupported type ", dtype_name(x.dtype()));
    }
  });
}

}  // namespace

Status ref_ReduceSum(KernelContext& ctx) { return reduce_kernel<ReduceKind::kSum>(ctx); }
Status ref_ReduceMean(KernelContext& ctx) { return reduce_kernel<ReduceKind::kMean>(ctx); }
Status ref_ReduceProd(KernelContext& ctx) { return reduce_kernel<ReduceKind::kProd>(ctx); }
Status ref_ReduceL2(KernelContext& ctx) { return reduce_kernel<ReduceKind::kL2>(ctx); }
Status ref_ReduceMax(KernelContext& ctx) { return reduce_kernel<ReduceKind::kMax>(ctx); }
Status ref_ReduceMin(KernelContext& ctx) { return reduce_kernel<ReduceKind::kMin>(ctx); }
Status ref_ArgMax(KernelContext& ctx) { return arg_kernel<true>(ctx); }
Status ref_ArgMin(KernelContext& ctx) { return arg_kernel<false>(ctx); }

}  // namespace lowbit
