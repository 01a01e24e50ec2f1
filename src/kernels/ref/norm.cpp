// Reference kernels: BatchNormalization (inference), InstanceNormalization, LayerNormalization.
// Statistics are accumulated in double so float32 results match numpy-based references closely.
#include <cmath>

#include "kernels/ref/norm_pool_util.h"
#include "ops/broadcast.h"
#include "ops/op_table.h"

namespace lowbit {

namespace {

std::vector<double> to_doubles(const Tensor& t) {
  std::vector<double> v(size_t(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[size_t(i)] = t.get_as_double(i);
  return v;
}

Status unsupported_dtype(const KernelContext& ctx) {
  return error(StatusCode::kUnsupported, ctx.node.describe(), ": no reference kernel for ",
               dtype_name(ctx.in(0).dtype()));
}

template <typename F>
Status dispatch_float(const KernelContext& ctx, DType t, F&& f) {
  switch (t) {
    case DType::kFloat32:
      f(TypeTag<float>{});
      break;
    case DType::kFloat64:
      f(TypeTag<double>{});
      break;
    case DType::kFloat16:
      f(TypeTag<Half>{});
      break;
    case DType::kBFloat16:
      f(TypeTag<BFloat16>{});
      break;
    default:
      return unsupported_dtype(ctx);
  }
  return Status::Ok();
}

// Mean and variance (population) of n values, two passes for accuracy.
template <typename T>
void mean_variance(const T* x, int64_t n, int64_t stride, double* mean, double* var) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += load_acc(x[i * stride]);
  const double m = n ? sum / double(n) : 0;
  double sq = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = double(load_acc(x[i * stride])) - m;
    sq += d * d;
  }
  *mean = m;
  *var = n ? sq / double(n) : 0;
}

}  // namespace

Status ref_BatchNormalization(KernelContext& ctx) {
  const Tensor& x = ctx.in(0);
  const double epsilon = ctx.node.attr_float("epsilon", 1e-5f);
  const bool spatial = ctx.opset >= 9 || ctx.node.attr_int("spatial", 1) != 0;
  const int64_t batch = x.dim(0);
  const int64_t channels = x.dim(1);
  const int64_t spatial_size = dims_product(x.shape(), 2, x.rank());
  // spatial=0 (opset < 9) has one parameter set per activation: treat each activation as a channel.
  const int64_t groups = spatial ? channels : channels * spatial_size;
  const int64_t inner = spatial ? spatial_size : 1;
  const std::vector<double> scale = to_doubles(ctx.in(1)), bias = to_doubles(ctx.in(2)), mean = to_doubles(ctx.in(3)),
                            var = to_doubles(ctx.in(4));
  if (int64_t(scale.size()) != groups || int64_t(bias.size()) != groups || int64_t(mean.size()) != groups ||
      int64_t(var.size()) != groups)
    return ctx.fail("parameters must have ", groups, " values each for input ", shape_to_string(x.shape()));
  // y = (x - mean) / sqrt(var + eps) * scale + bias, folded into y = x * a + b per channel.
  std::vector<double> a(static_cast<size_t>(groups)), b(static_cast<size_t>(groups));
  for (size_t c = 0; c < size_t(groups); ++c) {
    a[c] = scale[c] / std::sqrt(var[c] + epsilon);
    b[c] = bias[c] - mean[c] * a[c];
  }
  return dispatch_float(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = x.data<T>();
    T* yp = ctx.out(0).data<T>();
    ctx.parallel_for(
        batch * groups,
        [&](int64_t begin, int64_t end) {
          for (int64_t row = begin; row < end; ++row) {
            const size_t c = size_t(row % groups);
            const AccOf<T> ac = AccOf<T>(a[c]), bc = AccOf<T>(b[c]);
            const T* xr = xp + row * inner;
            T* yr = yp + row * inner;
            for (int64_t i = 0; i < inner; ++i) yr[i] = store_acc<T>(load_acc(xr[i]) * ac + bc);
          }
        },
        std::max<int64_t>(1, 16384 / std::max<int64_t>(inner, 1)));
  });
}

Status ref_InstanceNormalization(KernelContext& ctx) {
  const Tensor& x = ctx.in(0);
  const double epsilon = ctx.node.attr_float("epsilon", 1e-5f);
  const int64_t channels = x.dim(1);
  const int64_t planes = x.dim(0) * channels;
  const int64_t plane = dims_product(x.shape(), 2, x.rank());
  const std::vector<double> scale = to_doubles(ctx.in(1)), bias = to_doubles(ctx.in(2));
  if (int64_t(scale.size()) != channels || int64_t(bias.size()) != channels)
    return ctx.fail("scale and B must have ", channels, " values");
  return dispatch_float(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = x.data<T>();
    T* yp = ctx.out(0).data<T>();
    ctx.parallel_for(planes, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        const T* xr = xp + p * plane;
        T* yr = yp + p * plane;
        double mean, var;
        mean_variance(xr, plane, 1, &mean, &var);
        const size_t c = size_t(p % channels);
        const double a = scale[c] / std::sqrt(var + epsilon);
        const double b = bias[c] - mean * a;
        for (int64_t i = 0; i < plane; ++i) yr[i] = store_acc<T>(AccOf<T>(double(load_acc(xr[i])) * a + b));
      }
    });
  });
}

Status ref_LayerNormalization(KernelContext& ctx) {
  const Tensor& x = ctx.in(0);
  const int64_t rank = int64_t(x.rank());
  int64_t axis = ctx.node.attr_int("axis", -1);
  if (axis < 0) axis += rank;
  const double epsilon = ctx.node.attr_float("epsilon", 1e-5f);
  const int64_t rows = dims_product(x.shape(), 0, size_t(axis));
  const int64_t cols = dims_product(x.shape(), size_t(axis), x.rank());
  // Scale and B broadcast onto the normalized shape: expand them once to `cols` values.
  const Shape normalized(x.shape().begin() + axis, x.shape().end());
  auto expand = [&](size_t input, double fill) {
    std::vector<double> out(size_t(cols), fill);
    if (!ctx.has_input(input)) return out;
    const Tensor& t = ctx.in(input);
    const std::vector<int64_t> strides = broadcast_strides(t.shape(), normalized);
    for (int64_t i = 0; i < cols; ++i) {
      int64_t rem = i, off = 0;
      for (size_t d = normalized.size(); d-- > 0;) {
        off += (rem % normalized[d]) * strides[d];
        rem /= normalized[d];
      }
      out[size_t(i)] = t.get_as_double(off);
    }
    return out;
  };
  const std::vector<double> scale = expand(1, 1.0), bias = expand(2, 0.0);
  Tensor* mean_out = ctx.has_output(1) ? &ctx.out(1) : nullptr;
  Tensor* inv_std_out = ctx.has_output(2) ? &ctx.out(2) : nullptr;
  return dispatch_float(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = x.data<T>();
    T* yp = ctx.out(0).data<T>();
    ctx.parallel_for(
        rows,
        [&](int64_t begin, int64_t end) {
          for (int64_t r = begin; r < end; ++r) {
            const T* xr = xp + r * cols;
            T* yr = yp + r * cols;
            double mean, var;
            mean_variance(xr, cols, 1, &mean, &var);
            const double inv_std = 1.0 / std::sqrt(var + epsilon);
            for (int64_t i = 0; i < cols; ++i)
              yr[i] = store_acc<T>(
                  AccOf<T>((double(load_acc(xr[i])) - mean) * inv_std * scale[size_t(i)] + bias[size_t(i)]));
            if (mean_out) store_double(*mean_out, r, mean);
            if (inv_std_out) store_double(*inv_std_out, r, inv_std);
          }
        },
        std::max<int64_t>(1, 4096 / std::max<int64_t>(cols, 1)));
  });
}

}  // namespace lowbit
