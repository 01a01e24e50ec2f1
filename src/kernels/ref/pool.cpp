// Reference kernels: MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, QLinearAveragePool (N-d, any
// spatial rank).
// Window geometry comes from src/ops/pool_params.h, the same code inference used for the shapes.
#include <cmath>
#include <limits>

#include "kernels/ref/norm_pool_util.h"
#include "ops/op_table.h"
#include "ops/pool_params.h"
#include "ops/qlinear_binary.h"

namespace lowbit {

namespace {

// For one spatial axis, per output position along it: the first kernel tap that lands inside the
// input and how many taps do (stepping by the dilation). Precomputed so the hot loop has no bounds checks.
struct AxisWindows {
  std::vector<int64_t> first;        // input coordinate of the first in-bounds tap
  std::vector<int64_t> taps;         // in-bounds taps
  std::vector<int64_t> padded_taps;  // taps inside input + explicit pads (count_include_pad divisor)
};

struct PoolPlan {
  size_t rank = 0;                  // spatial rank
  Shape in_dims, out_dims;          // spatial dims
  std::vector<int64_t> in_strides;  // row-major element strides inside one N,C plane
  std::vector<int64_t> dilations;
  std::vector<AxisWindows> axes;
  int64_t in_plane = 1, out_plane = 1, planes = 0;
};

Status make_plan(KernelContext& ctx, bool is_max, PoolPlan* plan, PoolParams* p) {
  const Shape& x = ctx.in(0).shape();
  LB_RETURN_IF_ERROR(parse_pool_params(ctx.node, ctx.opset, is_max, x.size() - 2, p));
  std::vector<PoolAxis> geometry;
  LB_RETURN_IF_ERROR(pool_geometry(ctx.node, *p, x, &geometry));
  const size_t r = p->spatial_rank;
  plan->rank = r;
  plan->in_dims.assign(x.begin() + 2, x.end());
  plan->dilations = p->dilations;
  plan->planes = x[0] * x[1];
  plan->in_strides.assign(r, 1);
  for (size_t a = r; a-- > 1;) plan->in_strides[a - 1] = plan->in_strides[a] * plan->in_dims[a];
  plan->axes.resize(r);
  for (size_t a = 0; a < r; ++a) {
    const int64_t in = plan->in_dims[a], k = p->kernel[a], s = p->strides[a], d = p->dilations[a];
    const PoolAxis& g = geometry[a];
    plan->out_dims.push_back(g.out);
    plan->in_plane *= in;
    plan->out_plane *= g.out;
    AxisWindows& w = plan->axes[a];
    for (int64_t o = 0; o < g.out; ++o) {
      const int64_t start = o * s - g.pad_begin;
      const int64_t lo = start >= 0 ? 0 : (-start + d - 1) / d;
      const int64_t hi = in - start <= 0 ? 0 : std::min(k, (in - start + d - 1) / d);
      const int64_t padded_hi = std::min(k, (in + g.pad_end - start + d - 1) / d);
      w.first.push_back(start + lo * d);
      w.taps.push_back(std::max<int64_t>(0, hi - lo));
      w.padded_taps.push_back(std::max<int64_t>(0, padded_hi));
    }
  }
  return Status::Ok();
}

// Walks every output position of one plane in row-major order, calling
// out_fn(out_offset, first_coords, taps, padded_taps) with per-axis window descriptions.
template <typename F>
void for_each_output(const PoolPlan& plan, F&& out_fn) {
  const size_t r = plan.rank;
  std::vector<int64_t> o(r, 0), first(r), taps(r), padded(r);
  for (int64_t out = 0; out < plan.out_plane; ++out) {
    for (size_t a = 0; a < r; ++a) {
      first[a] = plan.axes[a].first[o[a]];
      taps[a] = plan.axes[a].taps[o[a]];
      padded[a] = plan.axes[a].padded_taps[o[a]];
    }
    out_fn(out, first.data(), taps.data(), padded.data());
    for (size_t a = r; a-- > 0;) {
      if (++o[a] < plan.out_dims[a]) break;
      o[a] = 0;
    }
  }
}

// Calls tap_fn(offset_in_plane) for every in-bounds tap of one window. The innermost axis is
// contiguous in memory, so it is the tight loop.
template <typename F>
void for_each_tap(const PoolPlan& plan, const int64_t* first, const int64_t* taps, std::vector<int64_t>& k,
                  F&& tap_fn) {
  const size_t r = plan.rank;
  int64_t base = 0;
  for (size_t a = 0; a < r; ++a) {
    if (taps[a] <= 0) return;
    base += first[a] * plan.in_strides[a];
    k[a] = 0;
  }
  const int64_t inner_taps = taps[r - 1], inner_step = plan.dilations[r - 1];
  while (true) {
    for (int64_t t = 0; t < inner_taps; ++t) tap_fn(base + t * inner_step);
    size_t a = r - 1;
    while (a-- > 0) {
      const int64_t step = plan.dilations[a] * plan.in_strides[a];
      base += step;
      if (++k[a] < taps[a]) break;
      base -= step * taps[a];
      k[a] = 0;
    }
    if (a == size_t(-1)) return;
  }
}

// ONNX Indices: flat index into the whole input; storage_order=1 orders the spatial part column-major.
int64_t column_major_offset(const PoolPlan& plan, int64_t row_major) {
  int64_t result = 0, scale = 1;
  for (size_t a = 0; a < plan.rank; ++a) {
    const int64_t coord = (row_major / plan.in_strides[a]) % plan.in_dims[a];
    result += coord * scale;
    scale *= plan.in_dims[a];
  }
  return result;
}

template <typename T>
void max_pool(KernelContext& ctx, const PoolPlan& plan, int64_t storage_order) {
  const T* x = ctx.in(0).data<T>();
  T* y = ctx.out(0).data<T>();
  int64_t* indices = ctx.has_output(1) ? ctx.out(1).data<int64_t>() : nullptr;
  ctx.parallel_for(plan.planes, [&](int64_t begin, int64_t end) {
    std::vector<int64_t> k(plan.rank);
    for (int64_t c = begin; c < end; ++c) {
      const T* xp = x + c * plan.in_plane;
      T* yp = y + c * plan.out_plane;
      for_each_output(plan, [&](int64_t out, const int64_t* first, const int64_t* taps, const int64_t*) {
        AccOf<T> best = 0;
        int64_t best_offset = -1;
        for_each_tap(plan, first, taps, k, [&](int64_t off) {
          const AccOf<T> v = load_acc(xp[off]);
          if (best_offset < 0 || v > best) {  // first maximum wins, like ONNX Runtime
            best = v;
            best_offset = off;
          }
        });
        if (best_offset < 0) {  // cannot happen with validated pads; keep the output defined anyway
          yp[out] = store_acc<T>(std::numeric_limits<AccOf<T>>::lowest());
          if (indices) indices[c * plan.out_plane + out] = -1;
          return;
        }
        yp[out] = xp[best_offset];
        if (indices)
          indices[c * plan.out_plane + out] =
              c * plan.in_plane + (storage_order == 0 ? best_offset : column_major_offset(plan, best_offset));
      });
    }
  });
}

template <typename T>
void average_pool(KernelContext& ctx, const PoolPlan& plan, bool count_include_pad) {
  const T* x = ctx.in(0).data<T>();
  T* y = ctx.out(0).data<T>();
  ctx.parallel_for(plan.planes, [&](int64_t begin, int64_t end) {
    std::vector<int64_t> k(plan.rank);
    for (int64_t c = begin; c < end; ++c) {
      const T* xp = x + c * plan.in_plane;
      T* yp = y + c * plan.out_plane;
      for_each_output(plan, [&](int64_t out, const int64_t* first, const int64_t* taps, const int64_t* padded) {
        AccOf<T> sum = 0;
        for_each_tap(plan, first, taps, k, [&](int64_t off) { sum += load_acc(xp[off]); });
        int64_t count = 1;
        for (size_t a = 0; a < plan.rank; ++a) count *= count_include_pad ? padded[a] : taps[a];
        yp[out] = store_acc<T>(count > 0 ? sum / AccOf<T>(count) : AccOf<T>(0));
      });
    }
  });
}

template <typename T>
void global_pool(KernelContext& ctx, bool is_max) {
  const Tensor& xt = ctx.in(0);
  const int64_t planes = xt.dim(0) * xt.dim(1);
  const int64_t plane = planes ? xt.numel() / planes : 0;
  const T* x = xt.data<T>();
  T* y = ctx.out(0).data<T>();
  ctx.parallel_for(
      planes,
      [&](int64_t begin, int64_t end) {
        for (int64_t c = begin; c < end; ++c) {
          const T* xp = x + c * plane;
          if (plane == 0) {  // empty spatial extent: the mean is undefined, the max has no element
            y[c] = store_acc<T>(is_max ? -std::numeric_limits<AccOf<T>>::infinity()
                                       : std::numeric_limits<AccOf<T>>::quiet_NaN());
            continue;
          }
          if (is_max) {
            AccOf<T> best = load_acc(xp[0]);
            for (int64_t i = 1; i < plane; ++i) best = std::max(best, load_acc(xp[i]));
            y[c] = store_acc<T>(best);
          } else {
            // Accumulate in double: global pools average thousands of values (e.g. 7x7x2048 in ResNet).
            double sum = 0;
            for (int64_t i = 0; i < plane; ++i) sum += load_acc(xp[i]);
            y[c] = store_acc<T>(AccOf<T>(sum / double(plane)));
          }
        }
      },
      std::max<int64_t>(1, 16384 / std::max<int64_t>(plane, 1)));
}

Status unsupported_dtype(const KernelContext& ctx) {
  return error(StatusCode::kUnsupported, ctx.node.describe(), ": no reference kernel for ",
               dtype_name(ctx.in(0).dtype()));
}

}  // namespace

Status ref_MaxPool(KernelContext& ctx) {
  PoolParams p;
  PoolPlan plan;
  LB_RETURN_IF_ERROR(make_plan(ctx, /*is_max=*/true, &plan, &p));
  switch (ctx.in(0).dtype()) {
    case DType::kFloat32:
      max_pool<float>(ctx, plan, p.storage_order);
      break;
    case DType::kFloat64:
      max_pool<double>(ctx, plan, p.storage_order);
      break;
    case DType::kFloat16:
      max_pool<Half>(ctx, plan, p.storage_order);
      break;
    case DType::kInt8:
      max_pool<int8_t>(ctx, plan, p.storage_order);
      break;
    case DType::kUint8:
      max_pool<uint8_t>(ctx, plan, p.storage_order);
      break;
    default:
      return unsupported_dtype(ctx);
  }
  return Status::Ok();
}

Status ref_AveragePool(KernelContext& ctx) {
  PoolParams p;
  PoolPlan plan;
  LB_RETURN_IF_ERROR(make_plan(ctx, /*is_max=*/false, &plan, &p));
  switch (ctx.in(0).dtype()) {
    case DType::kFloat32:
      average_pool<float>(ctx, plan, p.count_include_pad);
      break;
    case DType::kFloat64:
      average_pool<double>(ctx, plan, p.count_include_pad);
      break;
    case DType::kFloat16:
      average_pool<Half>(ctx, plan, p.count_include_pad);
      break;
    default:
      return unsupported_dtype(ctx);
  }
  return Status::Ok();
}

// QLinearAveragePool: per window an exact integer sum of the in-bounds codes, then one float step
// (src/ops/qlinear_binary.h). Padding counts as real zero (code x_zero) when count_include_pad is set.
template <typename X, typename Y>
void qlinear_average_pool(KernelContext& ctx, const PoolPlan& plan, const QLinearPoolParams& q, bool count_include_pad) {
  const X* x = ctx.in(0).data<X>();
  Y* y = ctx.out(0).data<Y>();
  ctx.parallel_for(plan.planes, [&](int64_t begin, int64_t end) {
    std::vector<int64_t> k(plan.rank);
    for (int64_t c = begin; c < end; ++c) {
      const X* xp = x + c * plan.in_plane;
      Y* yp = y + c * plan.out_plane;
      for_each_output(plan, [&](int64_t out, const int64_t* first, const int64_t* taps, const int64_t* padded) {
        int64_t sum = 0, in_bounds = 1, divisor = 1;
        for_each_tap(plan, first, taps, k, [&](int64_t off) { sum += xp[off]; });
        for (size_t a = 0; a < plan.rank; ++a) {
          in_bounds *= taps[a];
          divisor *= count_include_pad ? padded[a] : taps[a];
        }
        if (divisor <= 0) {
          yp[out] = quant::saturate<Y>(int64_t(q.y_zero));
          return;
        }
        yp[out] = quant::requantize<Y>(int32_t(sum - int64_t(q.x_zero) * in_bounds),
                                       qlinear_average_multiplier(q, divisor), q.y_zero);
      });
    }
  });
}

Status ref_QLinearAveragePool(KernelContext& ctx) {
  PoolParams p;
  PoolPlan plan;
  LB_RETURN_IF_ERROR(make_plan(ctx, /*is_max=*/false, &plan, &p));
  QLinearPoolParams q;
  q.x_scale = ctx.in(1).data<float>()[0];
  q.y_scale = ctx.in(3).data<float>()[0];
  if (ctx.has_input(2)) q.x_zero = int32_t(ctx.in(2).get_as_int64(0));
  if (ctx.has_input(4)) q.y_zero = int32_t(ctx.in(4).get_as_int64(0));
  if (!(q.x_scale > 0) || !(q.y_scale > 0) || !std::isfinite(q.x_scale) || !std::isfinite(q.y_scale))
    return ctx.fail("scales must be positive and finite, got x_scale ", q.x_scale, ", y_scale ", q.y_scale);
  int64_t window = 1;  // kernel dims are <= 2^30 each: stop multiplying past the limit
  for (int64_t k : p.kernel) window = window > (int64_t(1) << 23) ? window : window * k;
  if (window > (int64_t(1) << 23))
    return ctx.fail("a window of more than 2^23 values: the int32 sum could overflow");
  const bool x8 = ctx.in(0).dtype() == DType::kInt8, y8 = ctx.out(0).dtype() == DType::kInt8;
  const bool include = p.count_include_pad;
  if (x8 && y8) qlinear_average_pool<int8_t, int8_t>(ctx, plan, q, include);
  else if (x8) qlinear_average_pool<int8_t, uint8_t>(ctx, plan, q, include);
  else if (y8) qlinear_average_pool<uint8_t, int8_t>(ctx, plan, q, include);
  else qlinear_average_pool<uint8_t, uint8_t>(ctx, plan, q, include);
  return Status::Ok();
}

Status ref_GlobalAveragePool(KernelContext& ctx) {
  switch (ctx.in(0).dtype()) {
    case DType::kFloat32:
      global_pool<float>(ctx, false);
      break;
    case DType::kFloat64:
      global_pool<double>(ctx, false);
      break;
    case DType::kFloat16:
      global_pool<Half>(ctx, false);
      break;
    default:
      return unsupported_dtype(ctx);
  }
  return Status::Ok();
}

Status ref_GlobalMaxPool(KernelContext& ctx) {
  switch (ctx.in(0).dtype()) {
    case DType::kFloat32:
      global_pool<float>(ctx, true);
      break;
    case DType::kFloat64:
      global_pool<double>(ctx, true);
      break;
    case DType::kFloat16:
      global_pool<Half>(ctx, true);
      break;
    default:
      return unsupported_dtype(ctx);
  }
  return Status::Ok();
}

}  // namespace lowbit
