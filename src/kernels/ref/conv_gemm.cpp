// Reference kernels for Conv, ConvTranspose, QLinearConv, Gemm, MatMul, QLinearMatMul and MatMulIntegerToFloat. All heavy lifting goes through gemm() (gemm.h):
//   Conv           = W (M x C*k) * im2col(X) (C*k x out positions); 1x1 stride-1 convs multiply X directly,
//                    depthwise convs (one input channel per group) use a direct loop instead.
//   ConvTranspose  = col2im(W^T (M*k x C) * X (C x in positions)).
//   Gemm / MatMul  = one gemm() per (broadcast) batch matrix.
//   QLinearConv    = exact integer dot products over im2col(X - x_zp), then ops/qlinear_requant.h.
#include <algorithm>
#include <cstring>
#include <memory>
#include <type_traits>

#include "kernels/ref/gemm.h"
#include "ops/broadcast.h"
#include "ops/conv_params.h"
#include "ops/fused_activation.h"
#include "ops/op_table.h"
#include "ops/qlinear_requant.h"
#include "quant/quant_math.h"

namespace lowbit {

namespace {

// Cap on one im2col / col2im buffer (elements); larger problems are processed in column chunks.
constexpr int64_t kMaxColumnElements = int64_t(4) << 20;
// Elements of copying / accumulating work below which waking another thread is not worth it.
constexpr int64_t kMinElementsPerThread = int64_t(1) << 15;

// parallel_for grain for `units` pieces of `elements_per_unit` elements each.
int64_t grain_for(int64_t elements_per_unit) {
  return std::max<int64_t>(1, kMinElementsPerThread / std::max<int64_t>(elements_per_unit, 1));
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Spatial geometry of a Conv / ConvTranspose call. The "image" is the tensor im2col reads (Conv input) or
// col2im writes (ConvTranspose output); the "grid" is the other side, whose positions are the columns of the
// column matrix. Grid position o and kernel offset k touch image coordinate o * stride - pad + k * dilation.
struct ConvGeometry {
  ConvAttrs attrs;
  Shape image, grid, kernel;
  std::vector<int64_t> pad_begin;
  std::vector<int64_t> image_strides;  // row-major element strides of the image's spatial axes
  int64_t image_size = 1, grid_size = 1, kernel_size = 1;

  // A 1x1, stride-1, unpadded conv maps the image onto the grid one to one: no im2col needed.
  bool is_pointwise() const {
    for (size_t i = 0; i < kernel.size(); ++i)
      if (kernel[i] != 1 || attrs.strides[i] != 1 || pad_begin[i] != 0 || image[i] != grid[i]) return false;
    return true;
  }
  // Decodes kernel offset index `kidx` (row-major over the kernel axes) into per-axis offsets.
  void kernel_position(int64_t kidx, int64_t* kpos) const {
    for (size_t i = kernel.size(); i-- > 0;) {
      kpos[i] = kidx % kernel[i];
      kidx /= kernel[i];
    }
  }
};

// w_input: where W is (1 for Conv/ConvTranspose, 3 for QLinearConv).
Expected<ConvGeometry> conv_geometry(const KernelContext& ctx, bool transposed, size_t w_input = 1) {
  const Tensor& x = ctx.in(0);
  const Tensor& w = ctx.in(w_input);
  const Tensor& y = *ctx.outputs[0];
  const size_t spatial = x.rank() - 2;
  ConvGeometry g;
  std::vector<int64_t> weight_spatial(w.shape().begin() + 2, w.shape().end());
  auto attrs = parse_conv_attrs(ctx.node, spatial, weight_spatial, transposed);
  if (!attrs) return attrs.status();
  g.attrs = std::move(*attrs);
  g.kernel = weight_spatial;
  for (size_t i = 0; i < spatial; ++i) {
    auto axis = transposed ? conv_transpose_axis(g.attrs, i, x.dim(i + 2)) : conv_axis(g.attrs, i, x.dim(i + 2));
    if (!axis) return axis.status();
    g.pad_begin.push_back(axis->pad_begin);
    g.image.push_back(transposed ? y.dim(i + 2) : x.dim(i + 2));
    g.grid.push_back(transposed ? x.dim(i + 2) : y.dim(i + 2));
  }
  g.image_strides.assign(spatial, 1);
  for (size_t i = spatial - 1; i-- > 0;) g.image_strides[i] = g.image_strides[i + 1] * g.image[i + 1];
  for (size_t i = 0; i < spatial; ++i) {
    g.image_size *= g.image[i];
    g.grid_size *= g.grid[i];
    g.kernel_size *= g.kernel[i];
  }
  return g;
}

// Walks grid positions [j0, j1) for kernel offset `kpos`, one run per grid line (last axis). For each run it
// calls visit(col, count, lo, hi, base, step): the run covers columns [col, col + count) relative to j0; its
// t-th position lies inside the image iff lo <= t < hi, at image element base + t * step.
template <typename Visit>
void for_each_grid_run(const ConvGeometry& g, const int64_t* kpos, int64_t j0, int64_t j1, Visit&& visit) {
  const size_t last = g.grid.size() - 1;
  const int64_t line = g.grid[last], step = g.attrs.strides[last];
  const int64_t shift = kpos[last] * g.attrs.dilations[last] - g.pad_begin[last];  // image coord of o = 0
  // Grid positions o with 0 <= o * step + shift < image width, as the half-open range [o_lo, o_hi).
  const int64_t o_lo = shift >= 0 ? 0 : ceil_div(-shift, step);
  const int64_t top = g.image[last] - 1 - shift;
  const int64_t o_hi = top < 0 ? 0 : top / step + 1;
  for (int64_t j = j0; j < j1;) {
    const int64_t o0 = j % line, count = std::min(line - o0, j1 - j);
    int64_t base = 0, rest = j / line;
    bool inside = true;
    for (size_t i = last; i-- > 0;) {  // outer axes of this line
      const int64_t o = rest % g.grid[i];
      rest /= g.grid[i];
      const int64_t coord = o * g.attrs.strides[i] + kpos[i] * g.attrs.dilations[i] - g.pad_begin[i];
      inside = inside && coord >= 0 && coord < g.image[i];
      base += coord * g.image_strides[i];
    }
    const int64_t lo = inside ? std::clamp(o_lo - o0, int64_t(0), count) : 0;
    const int64_t hi = inside ? std::clamp(o_hi - o0, lo, count) : 0;
    visit(j - j0, count, lo, hi, base + o0 * step + shift, step);
    j += count;
  }
}

// Columns [j0, j1) of the im2col matrix of `channels` image channels: row (c, k) holds image channel c read
// at kernel offset k for every grid position, zero where it falls into the padding.
template <typename T>
void im2col(const ConvGeometry& g, const T* image, int64_t channels, int64_t j0, int64_t j1, T* col,
            KernelContext& ctx) {
  const int64_t cols = j1 - j0;
  ctx.parallel_for(channels * g.kernel_size, [&](int64_t r0, int64_t r1) {
    std::vector<int64_t> kpos(g.kernel.size());
    for (int64_t r = r0; r < r1; ++r) {
      g.kernel_position(r % g.kernel_size, kpos.data());
      const T* src = image + (r / g.kernel_size) * g.image_size;
      T* dst = col + r * cols;
      for_each_grid_run(g, kpos.data(), j0, j1, [&](int64_t c, int64_t count, int64_t lo, int64_t hi, int64_t base,
                                                    int64_t step) {
        T* out = dst + c;
        std::fill(out, out + lo, T(0));
        if (step == 1) std::copy(src + base + lo, src + base + hi, out + lo);
        else for (int64_t t = lo; t < hi; ++t) out[t] = src[base + t * step];
        std::fill(out + hi, out + count, T(0));
      });
    }
  }, grain_for(cols));
}

// Adds columns [j0, j1) of the column matrix (rows (m, k), as im2col lays them out) into image channels.
// Threads split the channels, so no two write the same element.
template <typename T>
void col2im_add(const ConvGeometry& g, const T* col, int64_t channels, int64_t j0, int64_t j1, T* image,
                KernelContext& ctx) {
  const int64_t cols = j1 - j0;
  ctx.parallel_for(channels, [&](int64_t m0, int64_t m1) {
    std::vector<int64_t> kpos(g.kernel.size());
    for (int64_t m = m0; m < m1; ++m) {
      T* dst = image + m * g.image_size;
      for (int64_t kidx = 0; kidx < g.kernel_size; ++kidx) {
        g.kernel_position(kidx, kpos.data());
        const T* src = col + (m * g.kernel_size + kidx) * cols;
        for_each_grid_run(g, kpos.data(), j0, j1, [&](int64_t c, int64_t, int64_t lo, int64_t hi, int64_t base,
                                                      int64_t step) {
          for (int64_t t = lo; t < hi; ++t) dst[base + t * step] += src[c + t];
        });
      }
    }
  }, grain_for(cols * g.kernel_size));
}

// Depthwise conv (one input channel per group): each output plane is a weighted sum of shifted input planes.
// The grid walk gives the valid range of every line, so the inner loop is branch-free.
template <typename T>
void depthwise_conv(const ConvGeometry& g, const T* x, const T* w, T* y, int64_t batch, int64_t channels,
                    int64_t out_channels, KernelContext& ctx) {
  const int64_t multiplier = out_channels / channels;
  ctx.parallel_for(batch * out_channels, [&](int64_t p0, int64_t p1) {
    std::vector<int64_t> kpos(g.kernel.size());
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t n = p / out_channels, oc = p % out_channels;
      const T* src = x + (n * channels + oc / multiplier) * g.image_size;
      T* dst = y + p * g.grid_size;
      for (int64_t kidx = 0; kidx < g.kernel_size; ++kidx) {
        const T weight = w[oc * g.kernel_size + kidx];
        g.kernel_position(kidx, kpos.data());
        for_each_grid_run(g, kpos.data(), 0, g.grid_size, [&](int64_t c, int64_t, int64_t lo, int64_t hi,
                                                               int64_t base, int64_t step) {
          T* out = dst + c;
          if (step == 1) for (int64_t t = lo; t < hi; ++t) out[t] += weight * src[base + t];
          else for (int64_t t = lo; t < hi; ++t) out[t] += weight * src[base + t * step];
        });
      }
    }
  }, grain_for(g.grid_size * g.kernel_size));
}

// Fills every output plane with its channel's bias (the GEMMs then accumulate onto it).
template <typename T>
void fill_with_bias(T* y, int64_t batch, int64_t channels, int64_t plane, const T* bias) {
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t c = 0; c < channels; ++c) std::fill_n(y + (n * channels + c) * plane, plane, bias[c]);
}

// Columns per chunk so a `rows`-row column matrix stays under kMaxColumnElements (but never tiny).
int64_t column_chunk(int64_t rows, int64_t total) {
  const int64_t fit = std::max<int64_t>(256, kMaxColumnElements / std::max<int64_t>(rows, 1));
  return std::min(total, fit);
}

template <typename T>
Status conv_kernel(KernelContext& ctx) {
  LB_ASSIGN_OR_RETURN(ConvGeometry g, conv_geometry(ctx, /*transposed=*/false));
  const Tensor& x = ctx.in(0);
  Tensor& y = ctx.out(0);
  if (y.numel() == 0) return Status::Ok();
  const T* xd = x.data<T>();
  const T* wd = ctx.in(1).data<T>();
  T* yd = y.data<T>();
  const int64_t batch = x.dim(0), channels = x.dim(1), out_channels = y.dim(1), group = g.attrs.group;
  const int64_t cin = channels / group, cout = out_channels / group;
  const bool has_bias = ctx.has_input(2);
  const bool depthwise = cin == 1 && group > 1;
  if (has_bias) fill_with_bias(yd, batch, out_channels, g.grid_size, ctx.in(2).data<T>());
  else if (depthwise) std::fill_n(yd, y.numel(), T(0));  // the GEMM paths overwrite Y (beta = 0)
  if (depthwise) {
    depthwise_conv(g, xd, wd, yd, batch, channels, out_channels, ctx);
    return Status::Ok();
  }
  const int64_t rows = cin * g.kernel_size;  // depth of the GEMM
  const bool pointwise = g.is_pointwise();
  const int64_t chunk = pointwise ? 0 : column_chunk(rows, g.grid_size);
  std::unique_ptr<T[]> col(pointwise ? nullptr : new T[rows * chunk]);
  for (int64_t n = 0; n < batch; ++n) {
    for (int64_t gi = 0; gi < group; ++gi) {
      const T* image = xd + (n * channels + gi * cin) * g.image_size;
      GemmArgs<T> args;
      args.m = cout;
      args.k = rows;
      args.a = wd + gi * cout * rows;
      args.lda = rows;
      args.ldc = g.grid_size;
      args.beta = has_bias ? T(1) : T(0);
      T* out = yd + (n * out_channels + gi * cout) * g.grid_size;
      if (pointwise) {
        args.n = g.grid_size;
        args.b = image;
        args.ldb = g.image_size;
        args.c = out;
        gemm(args, ctx.pool);
        continue;
      }
      for (int64_t j0 = 0; j0 < g.grid_size; j0 += chunk) {
        const int64_t j1 = std::min(g.grid_size, j0 + chunk);
        im2col(g, image, cin, j0, j1, col.get(), ctx);
        args.n = j1 - j0;
        args.b = col.get();
        args.ldb = j1 - j0;
        args.c = out + j0;
        gemm(args, ctx.pool);
      }
    }
  }
  return Status::Ok();
}

template <typename T>
Status conv_transpose_kernel(KernelContext& ctx) {
  LB_ASSIGN_OR_RETURN(ConvGeometry g, conv_geometry(ctx, /*transposed=*/true));
  const Tensor& x = ctx.in(0);
  Tensor& y = ctx.out(0);
  if (y.numel() == 0) return Status::Ok();
  const T* xd = x.data<T>();
  const T* wd = ctx.in(1).data<T>();
  T* yd = y.data<T>();
  const int64_t batch = x.dim(0), channels = x.dim(1), out_channels = y.dim(1), group = g.attrs.group;
  const int64_t cin = channels / group, cout = out_channels / group;
  const bool has_bias = ctx.has_input(2);
  if (has_bias) fill_with_bias(yd, batch, out_channels, g.image_size, ctx.in(2).data<T>());
  else std::fill_n(yd, y.numel(), T(0));
  const int64_t rows = cout * g.kernel_size;  // rows of the column matrix: (output channel, kernel offset)
  const bool pointwise = g.is_pointwise();
  const int64_t chunk = pointwise ? 0 : column_chunk(rows, g.grid_size);
  std::unique_ptr<T[]> col(pointwise ? nullptr : new T[rows * chunk]);
  for (int64_t n = 0; n < batch; ++n) {
    for (int64_t gi = 0; gi < group; ++gi) {
      // W's group slice is cin x (cout * k); the column matrix is its transpose times X's group slice.
      GemmArgs<T> args;
      args.k = cin;
      args.a = wd + gi * cin * rows;
      args.lda = rows;
      args.trans_a = true;
      args.ldb = g.grid_size;
      const T* input = xd + (n * channels + gi * cin) * g.grid_size;
      T* out = yd + (n * out_channels + gi * cout) * g.image_size;
      if (pointwise) {
        args.m = cout;
        args.n = g.grid_size;
        args.b = input;
        args.c = out;
        args.ldc = g.image_size;
        args.beta = has_bias ? T(1) : T(0);
        gemm(args, ctx.pool);
        continue;
      }
      for (int64_t j0 = 0; j0 < g.grid_size; j0 += chunk) {
        const int64_t j1 = std::min(g.grid_size, j0 + chunk);
        args.m = rows;
        args.n = j1 - j0;
        args.b = input + j0;
        args.c = col.get();
        args.ldc = j1 - j0;
        gemm(args, ctx.pool);
        col2im_add(g, col.get(), cout, j0, j1, out, ctx);
      }
    }
  }
  return Status::Ok();
}

template <typename T>
Status gemm_kernel(KernelContext& ctx) {
  const Tensor& a = ctx.in(0);
  const Tensor& b = ctx.in(1);
  Tensor& y = ctx.out(0);
  const bool trans_a = ctx.node.attr_int("transA", 0) != 0, trans_b = ctx.node.attr_int("transB", 0) != 0;
  const T alpha = T(ctx.node.attr_float("alpha", 1.0f)), beta = T(ctx.node.attr_float("beta", 1.0f));
  const int64_t m = y.dim(0), n = y.dim(1);
  T* yd = y.data<T>();
  GemmArgs<T> args;
  args.m = m;
  args.n = n;
  args.k = trans_a ? a.dim(0) : a.dim(1);
  args.a = a.data<T>();
  args.lda = a.dim(1);
  args.trans_a = trans_a;
  args.b = b.data<T>();
  args.ldb = b.dim(1);
  args.trans_b = trans_b;
  args.c = yd;
  args.ldc = n;
  args.alpha = alpha;
  args.beta = T(0);
  if (ctx.has_input(2) && beta != T(0)) {  // Y starts as C broadcast to m x n; the GEMM scales it by beta
    const Tensor& c = ctx.in(2);
    const T* cd = c.data<T>();
    const int64_t c_rows = c.rank() == 2 ? c.dim(0) : 1;
    const int64_t c_cols = c.rank() >= 1 ? c.dim(c.rank() - 1) : 1;
    for (int64_t i = 0; i < m; ++i) {
      const T* row = cd + (c_rows == 1 ? 0 : i) * c_cols;
      for (int64_t j = 0; j < n; ++j) yd[i * n + j] = row[c_cols == 1 ? 0 : j];
    }
    args.beta = beta;
  }
  gemm(args, ctx.pool);
  return Status::Ok();
}

// Matrix indices in A's and B's batches of output batch matrix i (numpy broadcasting of the batch dims).
void batch_offsets(int64_t i, const Shape& out_batch, const std::vector<int64_t>& a_strides,
                   const std::vector<int64_t>& b_strides, int64_t* a_index, int64_t* b_index) {
  for (size_t d = out_batch.size(); d-- > 0;) {
    const int64_t coord = i % out_batch[d];
    i /= out_batch[d];
    *a_index += coord * a_strides[d];
    *b_index += coord * b_strides[d];
  }
}

template <typename T>
Status matmul_kernel(KernelContext& ctx) {
  const Tensor& a = ctx.in(0);
  const Tensor& b = ctx.in(1);
  Tensor& y = ctx.out(0);
  const size_t ra = a.rank(), rb = b.rank();
  GemmArgs<T> args;
  args.m = ra >= 2 ? a.dim(ra - 2) : 1;
  args.k = a.dim(ra - 1);
  args.n = rb >= 2 ? b.dim(rb - 1) : 1;
  args.lda = args.k;
  args.ldb = args.n;
  args.ldc = args.n;
  if (y.numel() == 0) return Status::Ok();
  const Shape a_batch(a.shape().begin(), a.shape().end() - std::min<size_t>(ra, 2));
  const Shape b_batch(b.shape().begin(), b.shape().end() - std::min<size_t>(rb, 2));
  const Shape out_batch(y.shape().begin(), y.shape().end() - (ra >= 2) - (rb >= 2));
  const int64_t batches = numel_unchecked(out_batch);
  const int64_t a_matrix = args.m * args.k, b_matrix = args.k * args.n, y_matrix = args.m * args.n;
  if (numel_unchecked(b_batch) == 1 && numel_unchecked(a_batch) == batches) {
    // One B for every A matrix, which are stacked contiguously: a single tall GEMM.
    args.m *= batches;
    args.a = a.data<T>();
    args.b = b.data<T>();
    args.c = y.data<T>();
    gemm(args, ctx.pool);
    return Status::Ok();
  }
  const std::vector<int64_t> a_strides = broadcast_strides(a_batch, out_batch);
  const std::vector<int64_t> b_strides = broadcast_strides(b_batch, out_batch);
  auto run_batches = [&](int64_t begin, int64_t end, ThreadPool* pool) {
    for (int64_t i = begin; i < end; ++i) {
      int64_t a_index = 0, b_index = 0;
      batch_offsets(i, out_batch, a_strides, b_strides, &a_index, &b_index);
      GemmArgs<T> one = args;
      one.a = a.data<T>() + a_index * a_matrix;
      one.b = b.data<T>() + b_index * b_matrix;
      one.c = y.data<T>() + i * y_matrix;
      gemm(one, pool);
    }
  };
  // Small matrices: threads take whole matrices. Large ones: each GEMM uses every thread.
  if (y_matrix * args.k < (int64_t(1) << 18)) ctx.parallel_for(batches, [&](int64_t b0, int64_t b1) { run_batches(b0, b1, nullptr); });
  else run_batches(0, batches, ctx.pool);
  return Status::Ok();
}

// Epilogue of nodes the graph optimizer fused (src/ops/fused_activation.h): residual input 3 added after the
// bias, then the activation, over the finished output.
template <typename T>
Status fused_epilogue(KernelContext& ctx, Status kernel_status) {
  if (!kernel_status.ok() || !has_fused_attrs(ctx.node)) return kernel_status;
  LB_ASSIGN_OR_RETURN(FusedActivation act, parse_fused_activation(ctx.node));
  T* yd = ctx.out(0).data<T>();
  const T* rd = act.residual && ctx.has_input(3) ? ctx.in(3).data<T>() : nullptr;
  ctx.parallel_for(ctx.out(0).numel(), [&](int64_t b, int64_t e) {
    if (rd)
      for (int64_t i = b; i < e; ++i) yd[i] += rd[i];
    apply_fused_activation(act, yd + b, e - b);
  }, 1 << 14);
  return Status::Ok();
}

Status unsupported_dtype(const KernelContext& ctx, DType t) {
  return error(StatusCode::kUnsupported, ctx.node.describe(), ": no reference kernel for ", dtype_name(t));
}

}  // namespace

Status ref_Conv(KernelContext& ctx) {
  switch (ctx.in(0).dtype()) {
    case DType::kFloat32: return fused_epilogue<float>(ctx, conv_kernel<float>(ctx));
    case DType::kFloat64: return fused_epilogue<double>(ctx, conv_kernel<double>(ctx));
    default: return unsupported_dtype(ctx, ctx.in(0).dtype());
  }
}

Status ref_ConvTranspose(KernelContext& ctx) {
  switch (ctx.in(0).dtype()) {
    case DType::kFloat32: return fused_epilogue<float>(ctx, conv_transpose_kernel<float>(ctx));
    case DType::kFloat64: return fused_epilogue<double>(ctx, conv_transpose_kernel<double>(ctx));
    default: return unsupported_dtype(ctx, ctx.in(0).dtype());
  }
}

Status ref_Gemm(KernelContext& ctx) {
  switch (ctx.in(0).dtype()) {
    case DType::kFloat32: return fused_epilogue<float>(ctx, gemm_kernel<float>(ctx));
    case DType::kFloat64: return fused_epilogue<double>(ctx, gemm_kernel<double>(ctx));
    default: return unsupported_dtype(ctx, ctx.in(0).dtype());
  }
}

Status ref_MatMul(KernelContext& ctx) {
  switch (ctx.in(0).dtype()) {
    case DType::kFloat32: return matmul_kernel<float>(ctx);
    case DType::kFloat64: return matmul_kernel<double>(ctx);
    case DType::kInt32: return matmul_kernel<int32_t>(ctx);
    case DType::kInt64: return matmul_kernel<int64_t>(ctx);
    case DType::kUint32: return matmul_kernel<uint32_t>(ctx);
    case DType::kUint64: return matmul_kernel<uint64_t>(ctx);
    default: return unsupported_dtype(ctx, ctx.in(0).dtype());
  }
}

// ---- QLinearConv ----------------------------------------------------------------------------------------
namespace {

// Element i of an integer tensor (codes, zero points, bias) as int32.
int32_t get_code(const Tensor& t, int64_t i) { return int32_t(t.get_as_int64(i)); }

// Values of an optional zero-point input (zeros when absent), one per `n` (or broadcast from one).
std::vector<int32_t> zero_points(const KernelContext& ctx, size_t i, int64_t n) {
  std::vector<int32_t> z(size_t(n), 0);
  if (!ctx.has_input(i)) return z;
  const Tensor& t = ctx.in(i);
  for (int64_t k = 0; k < n; ++k) z[size_t(k)] = get_code(t, t.numel() == 1 ? 0 : k);
  return z;
}
// Codes of an int8/uint8 tensor minus their zero point, as Acc (widened once so the loops are plain integer math).
template <typename Acc>
std::vector<Acc> centered(const Tensor& t, const std::vector<int32_t>& zp, int64_t per_zp) {
  std::vector<Acc> out(size_t(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) out[size_t(i)] = Acc(get_code(t, i) - zp[size_t((i / per_zp) % int64_t(zp.size()))]);
  return out;
}

template <typename Y>
void store_codes(Tensor& y, const std::vector<float>& v, int32_t zp) {
  Y* d = y.data<Y>();
  for (size_t i = 0; i < v.size(); ++i) d[i] = quant::round_and_saturate<Y>(v[i], zp);
}

template <typename Acc>
Status qlinear_conv_kernel(KernelContext& ctx, const ConvGeometry& g) {
  const Tensor& x = ctx.in(0);
  const Tensor& w = ctx.in(3);
  Tensor& y = ctx.out(0);
  const int64_t batch = x.dim(0), channels = x.dim(1), out_channels = y.dim(1), group = g.attrs.group;
  const int64_t cin = channels / group, cout = out_channels / group, rows = cin * g.kernel_size;
  const std::vector<Acc> xc = centered<Acc>(x, zero_points(ctx, 2, 1), 1);
  const std::vector<Acc> wc = centered<Acc>(w, zero_points(ctx, 5, ctx.has_input(5) ? ctx.in(5).numel() : 1), rows);
  const int32_t* bias = ctx.has_input(8) ? ctx.in(8).data<int32_t>() : nullptr;

  auto act = parse_fused_activation(ctx.node);
  if (!act) return ctx.fail(act.status().message());
  const Tensor& ws = ctx.in(4);
  std::vector<float> w_scale(ws.data<float>(), ws.data<float>() + ws.numel());
  const bool residual = act->residual && ctx.has_input(9);
  auto rounding = parse_conv_rounding(ctx.node);
  if (!rounding) return ctx.fail(rounding.status().message());
  const QLinearRequant rq = qlinear_requant(
      *act, ctx.in(1).data<float>()[0], w_scale, out_channels, ctx.in(6).data<float>()[0],
      ctx.has_input(7) ? get_code(ctx.in(7), 0) : 0, residual ? ctx.in(10).data<float>()[0] : 0.f,
      residual && ctx.has_input(11) ? get_code(ctx.in(11), 0) : 0, *rounding);

  // Real-valued (scaled) outputs, then one rounding pass.
  std::vector<float> v(size_t(y.numel()));
  const int64_t chunk = column_chunk(rows, g.grid_size);
  std::vector<Acc> col(size_t(rows * chunk));
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t gi = 0; gi < group; ++gi) {
      const Acc* image = xc.data() + (n * channels + gi * cin) * g.image_size;
      for (int64_t j0 = 0; j0 < g.grid_size; j0 += chunk) {
        const int64_t j1 = std::min(g.grid_size, j0 + chunk), cols = j1 - j0;
        im2col(g, image, cin, j0, j1, col.data(), ctx);
        ctx.parallel_for(cout, [&](int64_t m0, int64_t m1) {
          std::vector<Acc> a(static_cast<size_t>(cols));
          for (int64_t mm = m0; mm < m1; ++mm) {
            const int64_t m = gi * cout + mm;
            std::fill(a.begin(), a.end(), Acc(bias ? bias[m] : 0));
            const Acc* wr = wc.data() + m * rows;
            for (int64_t k = 0; k < rows; ++k) {
              const Acc wk = wr[k];
              const Acc* cr = col.data() + k * cols;
              for (int64_t j = 0; j < cols; ++j) a[size_t(j)] += wk * cr[j];
            }
            float* out = v.data() + (n * out_channels + m) * g.grid_size + j0;
            for (int64_t j = 0; j < cols; ++j) out[j] = float(a[size_t(j)]) * rq.out_scale[size_t(m)];
          }
        }, grain_for(rows * cols));
      }
    }
  if (rq.round_conv)
    for (float& e : v)
      e = std::clamp(quant::round_half_to_even(e), rq.conv_lo, rq.conv_hi) * rq.to_conv;
  if (residual) {
    const Tensor& r = ctx.in(9);
    for (int64_t i = 0; i < r.numel(); ++i) v[size_t(i)] += rq.residual_scale * float(get_code(r, i) - rq.residual_zero_point);
  }
  apply_fused_activation(rq.act, v.data(), int64_t(v.size()));
  if (rq.post_scale != 1.f)
    for (float& e : v) e *= rq.post_scale;
  if (y.dtype() == DType::kInt8) store_codes<int8_t>(y, v, rq.y_zero_point);
  else store_codes<uint8_t>(y, v, rq.y_zero_point);
  return Status::Ok();
}

}  // namespace

// QLinearMatMul: exact integer dot products, then v = float(acc) * (a_scale[m] * b_scale[n] / y_scale[m]),
// round half to even, saturate (ONNX's reference formula).
template <typename Y>
Status qlinear_matmul_kernel(KernelContext& ctx) {
  const Tensor &a = ctx.in(0), &b = ctx.in(3);
  Tensor& y = ctx.out(0);
  if (y.numel() == 0) return Status::Ok();
  const size_t ra = a.rank(), rb = b.rank();
  const int64_t m_rows = ra >= 2 ? a.dim(ra - 2) : 1, k_depth = a.dim(ra - 1), n_cols = rb >= 2 ? b.dim(rb - 1) : 1;
  auto values = [&](size_t i, int64_t n) -> Expected<std::vector<float>> {
    const Tensor& t = ctx.in(i);
    if (t.numel() != 1 && t.numel() != n)
      return ctx.fail("input ", i, " has ", t.numel(), " values; expected 1 or ", n);
    std::vector<float> v(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) v[size_t(j)] = float(t.get_as_double(t.numel() == 1 ? 0 : j));
    return v;
  };
  LB_ASSIGN_OR_RETURN(std::vector<float> sa, values(1, m_rows));
  LB_ASSIGN_OR_RETURN(std::vector<float> za, values(2, m_rows));
  LB_ASSIGN_OR_RETURN(std::vector<float> sb, values(4, n_cols));
  LB_ASSIGN_OR_RETURN(std::vector<float> zb, values(5, n_cols));
  LB_ASSIGN_OR_RETURN(std::vector<float> sy, values(6, m_rows));
  LB_ASSIGN_OR_RETURN(std::vector<float> zy, values(7, m_rows));
  const Shape a_batch(a.shape().begin(), a.shape().end() - std::min<size_t>(ra, 2));
  const Shape b_batch(b.shape().begin(), b.shape().end() - std::min<size_t>(rb, 2));
  const Shape out_batch(y.shape().begin(), y.shape().end() - (ra >= 2) - (rb >= 2));
  const std::vector<int64_t> a_strides = broadcast_strides(a_batch, out_batch);
  const std::vector<int64_t> b_strides = broadcast_strides(b_batch, out_batch);
  const int64_t batches = numel_unchecked(out_batch);
  // Codes minus their zero points (per row of A, per column of B), widened once.
  std::vector<int32_t> ac(static_cast<size_t>(a.numel())), bc(static_cast<size_t>(b.numel()));
  for (int64_t i = 0; i < a.numel(); ++i) ac[size_t(i)] = get_code(a, i) - int32_t(za[size_t((i / k_depth) % m_rows)]);
  for (int64_t i = 0; i < b.numel(); ++i) bc[size_t(i)] = get_code(b, i) - int32_t(zb[size_t(i % n_cols)]);
  ctx.parallel_for(batches * m_rows, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t bi = r / m_rows, m = r % m_rows;
      int64_t a_index = 0, b_index = 0;
      batch_offsets(bi, out_batch, a_strides, b_strides, &a_index, &b_index);
      const int32_t* a_row = ac.data() + (a_index * m_rows + m) * k_depth;
      const int32_t* b_mat = bc.data() + b_index * k_depth * n_cols;
      for (int64_t n = 0; n < n_cols; ++n) {
        int64_t acc = 0;
        for (int64_t k = 0; k < k_depth; ++k) acc += int64_t(a_row[k]) * b_mat[k * n_cols + n];
        const float v = float(acc) * (sa[size_t(m)] * sb[size_t(n)] / sy[size_t(m)]);
        y.data<Y>()[r * n_cols + n] = quant::round_and_saturate<Y>(v, int32_t(zy[size_t(m)]));
      }
    }
  }, 1);
  return Status::Ok();
}

// MatMulIntegerToFloat: exact integer dot products of the centred codes, then one float multiply and add per
// value: float(acc) * (a_scale * b_scale[n]) + bias[n]. One B (2-D) for every A matrix.
Status ref_MatMulIntegerToFloat(KernelContext& ctx) {
  const Tensor &a = ctx.in(0), &b = ctx.in(1);
  Tensor& y = ctx.out(0);
  if (b.rank() != 2) return ctx.fail("B must be 2-D (one weight matrix), got rank ", b.rank());
  const int64_t k_depth = b.dim(0), n_cols = b.dim(1), rows = k_depth > 0 ? a.numel() / k_depth : 0;
  const Tensor& bs = ctx.in(3);
  if (bs.numel() != 1 && bs.numel() != n_cols) return ctx.fail("b_scale must have 1 or ", n_cols, " values");
  if (ctx.has_input(5) && ctx.in(5).numel() != 1 && ctx.in(5).numel() != n_cols)
    return ctx.fail("b_zero_point must have 1 or ", n_cols, " values");
  const float a_scale = ctx.in(2).data<float>()[0];
  const int32_t a_zero = ctx.has_input(4) ? get_code(ctx.in(4), 0) : 0;
  const std::vector<int32_t> b_zero = zero_points(ctx, 5, n_cols);
  std::vector<float> scale(static_cast<size_t>(n_cols)), bias(static_cast<size_t>(n_cols), 0.f);
  for (int64_t n = 0; n < n_cols; ++n) {
    scale[size_t(n)] = a_scale * bs.data<float>()[bs.numel() == 1 ? 0 : n];
    if (ctx.has_input(6)) bias[size_t(n)] = ctx.in(6).data<float>()[n];
  }
  std::vector<int32_t> bc(static_cast<size_t>(b.numel()));
  for (int64_t i = 0; i < b.numel(); ++i) bc[size_t(i)] = get_code(b, i) - b_zero[size_t(i % n_cols)];
  ctx.parallel_for(rows, [&](int64_t r0, int64_t r1) {
    std::vector<int32_t> row(static_cast<size_t>(k_depth));
    for (int64_t r = r0; r < r1; ++r) {
      for (int64_t k = 0; k < k_depth; ++k) row[size_t(k)] = get_code(a, r * k_depth + k) - a_zero;
      for (int64_t n = 0; n < n_cols; ++n) {
        int64_t acc = 0;
        for (int64_t k = 0; k < k_depth; ++k) acc += int64_t(row[size_t(k)]) * bc[size_t(k * n_cols + n)];
        y.data<float>()[r * n_cols + n] = float(acc) * scale[size_t(n)] + bias[size_t(n)];
      }
    }
  }, 1);
  return Status::Ok();
}

Status ref_QLinearMatMul(KernelContext& ctx) {
  if (ctx.out(0).dtype() == DType::kInt8) return qlinear_matmul_kernel<int8_t>(ctx);
  return qlinear_matmul_kernel<uint8_t>(ctx);
}

Status ref_QLinearConv(KernelContext& ctx) {
  LB_ASSIGN_OR_RETURN(ConvGeometry g, conv_geometry(ctx, /*transposed=*/false, /*w_input=*/3));
  if (ctx.out(0).numel() == 0) return Status::Ok();
  const Tensor& ws = ctx.in(4);
  const int64_t m = ctx.out(0).dim(1);
  if (ws.numel() != 1 && ws.numel() != m)
    return ctx.fail("w_scale has ", ws.numel(), " values; expected 1 or one per output channel (", m, ")");
  if (ctx.has_input(5) && ctx.in(5).numel() != 1 && ctx.in(5).numel() != m)
    return ctx.fail("w_zero_point has ", ctx.in(5).numel(), " values; expected 1 or ", m);
  // Products of two 8-bit codes (minus zero points) are below 2^16: int32 sums (plus a bias below 2^30) are
  // exact up to 2^14 terms; deeper convolutions accumulate in int64.
  const int64_t depth = ctx.in(0).dim(1) / g.attrs.group * g.kernel_size;
  if (depth <= (int64_t(1) << 14)) return qlinear_conv_kernel<int32_t>(ctx, g);
  return qlinear_conv_kernel<int64_t>(ctx, g);
}

}  // namespace lowbit
