// Reference kernels of Resize and Upsample.
//
// nearest: one index table per axis, then a row gather. Rows that read the same input row as the row
//   before are a memcpy of it, and an integer-factor last axis is a "repeat each element f times" loop,
//   so the x2 nearest upsampling of YOLO/FPN/PaddleOCR models is a copy at memory speed.
// linear / cubic: separable, one 1-D pass per resized axis (the N-d tensor product of 1-D weights, the
//   same math as ONNX's reference), innermost axis first. Axes whose transform is the identity are skipped.
// tf_crop_and_resize: samples outside the input get extrapolation_value.
#include <cmath>
#include <cstring>

#include "kernels/ref/dispatch.h"
#include "ops/op_table.h"
#include "ops/resize_params.h"

namespace lowbit {
namespace {

struct ResizePlan {
  ResizeAttrs attrs;
  std::vector<ResizeAxis> axes;
};

const Tensor* non_empty_input(const KernelContext& ctx, int slot) {
  if (slot < 0 || !ctx.has_input(size_t(slot))) return nullptr;
  const Tensor& t = ctx.in(size_t(slot));
  return t.numel() > 0 ? &t : nullptr;
}

Status make_plan(KernelContext& ctx, ResizePlan* plan) {
  LB_RETURN_IF_ERROR(parse_resize_attrs(ctx.node, ctx.opset, &plan->attrs));
  const ResizeInputSlots slots = resize_input_slots(ctx.node, ctx.opset);
  const Tensor& x = ctx.in(0);
  ResizeRequest request;
  LB_RETURN_IF_ERROR(read_resize_request(ctx.node, ctx.node.op_type == "Upsample", x.rank(),
                                         non_empty_input(ctx, slots.scales), non_empty_input(ctx, slots.sizes),
                                         &request));
  std::vector<float> roi;
  if (const Tensor* r = non_empty_input(ctx, slots.roi))
    for (int64_t i = 0; i < r->numel(); ++i) roi.push_back(float(r->get_as_double(i)));
  for (size_t d = 0; d < x.rank(); ++d) {
    plan->axes.push_back(make_resize_axis(request, d, x.dim(d), roi, x.rank()));
    if (plan->axes.back().out != ctx.out(0).dim(d))
      return error(StatusCode::kInternal, ctx.node.describe(), ": output axis ", d, " has size ", ctx.out(0).dim(d),
                   " but the resize computes ", plan->axes.back().out);
  }
  return Status::Ok();
}

bool outside_input(const ResizeAttrs& a, const ResizeAxis& ax, float xo) {
  return a.coord == CoordTransform::kTfCropAndResize && (xo < 0 || xo > float(ax.in - 1));
}

// ---------------------------------------------------------------- nearest

// Input index sampled by each output index of one axis; -1 where tf_crop_and_resize extrapolates.
std::vector<int64_t> nearest_table(const ResizeAttrs& a, const ResizeAxis& ax) {
  std::vector<int64_t> table(size_t(ax.out));
  for (int64_t x = 0; x < ax.out; ++x) {
    const float xo = original_coordinate(a.coord, x, ax);
    if (outside_input(a, ax, xo)) {
      table[x] = -1;
      continue;
    }
    table[x] = nearest_index(a.nearest, ax, xo);
  }
  return table;
}

template <typename T>
void resize_nearest(KernelContext& ctx, const ResizePlan& plan, const Tensor& x, Tensor& y, T fill) {
  const size_t rank = x.rank();
  std::vector<std::vector<int64_t>> tables;
  for (auto& ax : plan.axes) tables.push_back(nearest_table(plan.attrs, ax));
  std::vector<int64_t> in_stride(rank, 1);
  for (size_t d = rank - 1; d-- > 0;) in_stride[d] = in_stride[d + 1] * x.dim(d + 1);

  const int64_t in_w = x.dim(rank - 1), out_w = y.dim(rank - 1);
  const std::vector<int64_t>& tw = tables[rank - 1];
  // Integer-factor fast path on the last axis: out[i] = in[i / factor] (any transform that yields it).
  int64_t factor = (in_w > 0 && out_w % in_w == 0) ? out_w / in_w : 0;
  for (int64_t i = 0; factor && i < out_w; ++i)
    if (tw[i] != i / factor) factor = 0;

  const T* in = x.data<T>();
  T* out = y.data<T>();
  const int64_t rows = out_w ? y.numel() / out_w : 0;
  ctx.parallel_for(
      rows,
      [&](int64_t begin, int64_t end) {
        std::vector<int64_t> idx(rank - 1, 0);  // multi-index of row `begin` over the outer axes
        for (int64_t d = int64_t(rank) - 2, rem = begin; d >= 0; --d) idx[d] = rem % y.dim(d), rem /= y.dim(d);
        int64_t prev_src = -2;
        for (int64_t row = begin; row < end; ++row) {
          int64_t src = 0;
          for (size_t d = 0; d + 1 < rank && src >= 0; ++d) {
            const int64_t i = tables[d][idx[d]];
            src = i < 0 ? -1 : src + i * in_stride[d];
          }
          T* dst = out + row * out_w;
          if (src < 0) {
            std::fill(dst, dst + out_w, fill);
          } else if (src == prev_src) {
            std::memcpy(dst, dst - out_w, sizeof(T) * size_t(out_w));  // same input row as the row before
          } else if (factor == 1) {
            std::memcpy(dst, in + src, sizeof(T) * size_t(out_w));
          } else if (factor > 1) {
            const T* s = in + src;
            for (int64_t i = 0; i < in_w; ++i)
              for (int64_t k = 0; k < factor; ++k) *dst++ = s[i];
          } else {
            for (int64_t i = 0; i < out_w; ++i) dst[i] = tw[i] < 0 ? fill : in[src + tw[i]];
          }
          prev_src = src;
          for (int64_t d = int64_t(rank) - 2; d >= 0; --d) {
            if (++idx[d] < y.dim(d)) break;
            idx[d] = 0;
          }
        }
      },
      /*grain=*/std::max<int64_t>(1, 8192 / std::max<int64_t>(1, out_w)));
}

// ---------------------------------------------------------------- linear / cubic

// The taps of one axis: output x reads input idx[x*n + t] with weight w[x*n + t].
template <typename T>
struct AxisTaps {
  int n = 0;
  std::vector<int64_t> idx;
  std::vector<T> w;
  std::vector<bool> outside;  // tf_crop_and_resize extrapolates there
  bool any_outside = false;
  bool identity = true;  // out == in and every x reads exactly input x
};

double cubic_weight(double t, double A) {  // Keys' cubic convolution kernel at distance t
  t = std::fabs(t);
  if (t <= 1) return ((A + 2) * t - (A + 3)) * t * t + 1;
  if (t < 2) return ((A * t - 5 * A) * t + 8 * A) * t - 4 * A;
  return 0;
}

template <typename T>
AxisTaps<T> interpolation_taps(const ResizeAttrs& a, const ResizeAxis& ax) {
  AxisTaps<T> taps;
  taps.n = a.mode == ResizeMode::kCubic ? 4 : 2;
  taps.idx.resize(size_t(ax.out * taps.n));
  taps.w.resize(size_t(ax.out * taps.n));
  taps.outside.assign(size_t(ax.out), false);
  taps.identity = ax.out == ax.in;
  for (int64_t x = 0; x < ax.out; ++x) {
    const float xo = original_coordinate(a.coord, x, ax);
    if (outside_input(a, ax, xo)) taps.outside[x] = taps.any_outside = true;
    const double x0 = std::floor(xo), r = xo - x0;
    int64_t first = int64_t(x0);
    double w[4];
    if (taps.n == 2) {
      w[0] = 1 - r, w[1] = r;
    } else {
      first -= 1;
      for (int t = 0; t < 4; ++t) w[t] = cubic_weight(r + 1 - t, a.cubic_coeff_a);
    }
    if (a.exclude_outside) {  // drop taps beyond the border and renormalize
      double sum = 0;
      for (int t = 0; t < taps.n; ++t) {
        if (first + t < 0 || first + t >= ax.in) w[t] = 0;
        sum += w[t];
      }
      if (sum != 0)
        for (int t = 0; t < taps.n; ++t) w[t] /= sum;
    }
    for (int t = 0; t < taps.n; ++t) {
      const int64_t i = std::clamp<int64_t>(first + t, 0, std::max<int64_t>(ax.in - 1, 0));  // edge padding
      taps.idx[x * taps.n + t] = i;
      taps.w[x * taps.n + t] = T(w[t]);
      if (w[t] != (i == x && first + t == x ? 1.0 : 0.0)) taps.identity = false;
    }
    if (taps.outside[x]) taps.identity = false;
  }
  return taps;
}

// One 1-D pass: src viewed as [outer, in_len, inner] -> dst [outer, out_len, inner].
template <typename T>
void interpolate_axis(KernelContext& ctx, const AxisTaps<T>& taps, const T* src, T* dst, int64_t outer, int64_t in_len,
                      int64_t out_len, int64_t inner) {
  const int n = taps.n;
  if (inner == 1) {  // the last axis: a small dot product per output element
    ctx.parallel_for(
        outer,
        [&](int64_t begin, int64_t end) {
          for (int64_t o = begin; o < end; ++o) {
            const T* s = src + o * in_len;
            T* d = dst + o * out_len;
            for (int64_t x = 0; x < out_len; ++x) {
              const int64_t* idx = &taps.idx[x * n];
              const T* w = &taps.w[x * n];
              T acc = 0;
              for (int t = 0; t < n; ++t) acc += w[t] * s[idx[t]];
              d[x] = acc;
            }
          }
        },
        std::max<int64_t>(1, 4096 / std::max<int64_t>(1, out_len)));
    return;
  }
  // Outer axes: blend whole contiguous rows of `inner` elements.
  ctx.parallel_for(
      outer * out_len,
      [&](int64_t begin, int64_t end) {
        for (int64_t item = begin; item < end; ++item) {
          const int64_t o = item / out_len, x = item % out_len;
          const T* s = src + o * in_len * inner;
          T* d = dst + item * inner;
          std::fill(d, d + inner, T(0));
          for (int t = 0; t < n; ++t) {
            const T w = taps.w[x * n + t];
            if (w == T(0)) continue;
            const T* row = s + taps.idx[x * n + t] * inner;
            for (int64_t i = 0; i < inner; ++i) d[i] += w * row[i];
          }
        }
      },
      std::max<int64_t>(1, 4096 / inner));
}

template <typename T>
void resize_interpolate(KernelContext& ctx, const ResizePlan& plan, const Tensor& x, Tensor& y) {
  const size_t rank = x.rank();
  std::vector<AxisTaps<T>> taps;
  for (auto& ax : plan.axes) taps.push_back(interpolation_taps<T>(plan.attrs, ax));
  std::vector<int> passes;  // axes to resize, innermost first
  for (size_t d = rank; d-- > 0;)
    if (!taps[d].identity) passes.push_back(int(d));

  Shape cur = x.shape();
  const T* src = x.data<T>();
  std::vector<T> buffers[2];
  for (size_t p = 0; p < passes.size(); ++p) {
    const int d = passes[p];
    int64_t outer = 1, inner = 1;
    for (int k = 0; k < d; ++k) outer *= cur[k];
    for (size_t k = size_t(d) + 1; k < rank; ++k) inner *= cur[k];
    const int64_t out_len = plan.axes[d].out;
    T* dst;
    if (p + 1 == passes.size()) {
      dst = y.data<T>();
    } else {
      buffers[p % 2].resize(size_t(outer * out_len * inner));
      dst = buffers[p % 2].data();
    }
    interpolate_axis(ctx, taps[d], src, dst, outer, cur[d], out_len, inner);
    cur[d] = out_len;
    src = dst;
  }
  if (passes.empty()) std::memcpy(y.raw(), x.raw(), x.nbytes());

  // tf_crop_and_resize: any axis sampling outside the input gives the extrapolation value.
  const T fill = T(plan.attrs.extrapolation_value);
  T* out = y.data<T>();
  for (size_t d = 0; d < rank; ++d) {
    if (!taps[d].any_outside) continue;
    int64_t outer = 1, inner = 1;
    for (size_t k = 0; k < d; ++k) outer *= y.dim(k);
    for (size_t k = d + 1; k < rank; ++k) inner *= y.dim(k);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < y.dim(d); ++i)
        if (taps[d].outside[i]) std::fill_n(out + (o * y.dim(d) + i) * inner, inner, fill);
  }
}

Status resize_kernel(KernelContext& ctx) {
  ResizePlan plan;
  LB_RETURN_IF_ERROR(make_plan(ctx, &plan));
  const Tensor& x = ctx.in(0);
  Tensor& y = ctx.out(0);
  if (y.numel() == 0) return Status::Ok();
  if (x.rank() == 0) {
    std::memcpy(y.raw(), x.raw(), x.nbytes());
    return Status::Ok();
  }
  if (plan.attrs.mode == ResizeMode::kNearest) {
    bool handled = true;
    dispatch_dtype(
        x.dtype(),
        [&](auto tag) {
          using T = typename decltype(tag)::type;
          T fill;
          if constexpr (is_half_v<T>)
            fill = from_float<T>(plan.attrs.extrapolation_value);
          else
            fill = T(plan.attrs.extrapolation_value);
          resize_nearest<T>(ctx, plan, x, y, fill);
        },
        &handled);
    if (!handled)
      return error(StatusCode::kUnsupported, ctx.node.describe(), ": unsupported type ", dtype_name(x.dtype()));
    return Status::Ok();
  }
  switch (x.dtype()) {
    case DType::kFloat32:
      resize_interpolate<float>(ctx, plan, x, y);
      break;
    case DType::kFloat64:
      resize_interpolate<double>(ctx, plan, x, y);
      break;
    default:
      return error(StatusCode::kUnsupported, ctx.node.describe(), ": linear/cubic resize of ", dtype_name(x.dtype()),
                   " is not supported (float32, float64)");
  }
  return Status::Ok();
}

}  // namespace

Status ref_Resize(KernelContext& ctx) { return resize_kernel(ctx); }
Status ref_Upsample(KernelContext& ctx) { return resize_kernel(ctx); }

}  // namespace lowbit
