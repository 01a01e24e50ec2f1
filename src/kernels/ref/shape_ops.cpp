// Reference kernels for the shape & data-movement family, part 1: Concat, Split, Gather, Shape,
// Size, Reshape, Flatten, DepthToSpace, Transpose, Squeeze, Unsqueeze. They copy bytes by element size, so every
// dtype works. Outputs arrive allocated with the inferred shapes; kernels read sizes from them.
#include <algorithm>
#include <cstring>

#include "kernels/ref/shape_ops_copy.h"
#include "ops/op_table.h"
#include "ops/shape_ops_util.h"

namespace lowbit {

using shape_ops::contiguous_strides;
using shape_ops::parallel_memcpy;
using shape_ops::strided_copy;

namespace {

int64_t product(const Shape& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= s[i];
  return p;
}

int64_t axis_attr(const KernelContext& ctx, int64_t def, int64_t rank) {
  int64_t a = ctx.node.attr_int("axis", def);
  return a < 0 ? a + rank : a;
}

// Aim for pieces of at least ~64 KiB per thread task when copies are small.
int64_t grain_for(int64_t bytes_per_piece) {
  return std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(bytes_per_piece, 1));
}

// Shared by the ops whose output is the input's bytes under another shape.
Status copy_input(KernelContext& ctx) {
  parallel_memcpy(ctx, ctx.out(0).raw(), ctx.in(0).raw(), ctx.in(0).nbytes());
  return Status::Ok();
}

}  // namespace

Status ref_Concat(KernelContext& ctx) {
  Tensor& out = ctx.out(0);
  const size_t elem = dtype_size(out.dtype());
  const int64_t axis = axis_attr(ctx, 0, int64_t(out.rank()));
  const int64_t outer = product(out.shape(), 0, size_t(axis));
  const int64_t inner_bytes = product(out.shape(), size_t(axis) + 1, out.rank()) * int64_t(elem);
  const size_t n = ctx.inputs.size();
  std::vector<int64_t> chunk(n), offset(n);
  int64_t row = 0;
  for (size_t i = 0; i < n; ++i) {
    chunk[i] = ctx.in(i).numel() == 0 ? 0 : ctx.in(i).dim(size_t(axis)) * inner_bytes;
    offset[i] = row;
    row += chunk[i];
  }
  if (row == 0 || outer == 0) return Status::Ok();
  uint8_t* dst = static_cast<uint8_t*>(out.raw());
  ctx.parallel_for(
      outer * int64_t(n),
      [&](int64_t b, int64_t e) {
        for (int64_t p = b; p < e; ++p) {
          int64_t o = p / int64_t(n);
          size_t i = size_t(p % int64_t(n));
          if (chunk[i] == 0) continue;
          std::memcpy(dst + o * row + offset[i], static_cast<const uint8_t*>(ctx.in(i).raw()) + o * chunk[i],
                      size_t(chunk[i]));
        }
      },
      grain_for(row / int64_t(n)));
  return Status::Ok();
}

Status ref_Split(KernelContext& ctx) {
  const Tensor& x = ctx.in(0);
  const size_t elem = dtype_size(x.dtype());
  const int64_t axis = axis_attr(ctx, 0, int64_t(x.rank()));
  const int64_t outer = product(x.shape(), 0, size_t(axis));
  const int64_t inner_bytes = product(x.shape(), size_t(axis) + 1, x.rank()) * int64_t(elem);
  const size_t n = ctx.outputs.size();
  std::vector<int64_t> chunk(n, 0), offset(n, 0);
  int64_t row = 0;
  for (size_t i = 0; i < n; ++i) {
    // Omitted outputs still occupy their slot; equal split sizes tell how wide it is.
    int64_t width = ctx.has_output(i) ? ctx.out(i).dim(size_t(axis)) : x.dim(size_t(axis)) / int64_t(n);
    chunk[i] = width * inner_bytes;
    offset[i] = row;
    row += chunk[i];
  }
  if (row == 0 || outer == 0) return Status::Ok();
  const uint8_t* src = static_cast<const uint8_t*>(x.raw());
  ctx.parallel_for(
      outer * int64_t(n),
      [&](int64_t b, int64_t e) {
        for (int64_t p = b; p < e; ++p) {
          int64_t o = p / int64_t(n);
          size_t i = size_t(p % int64_t(n));
          if (chunk[i] == 0 || !ctx.has_output(i)) continue;
          std::memcpy(static_cast<uint8_t*>(ctx.out(i).raw()) + o * chunk[i], src + o * row + offset[i],
                      size_t(chunk[i]));
        }
      },
      grain_for(row / int64_t(n)));
  return Status::Ok();
}

Status ref_Gather(KernelContext& ctx) {
  const Tensor& data = ctx.in(0);
  const Tensor& indices = ctx.in(1);
  const size_t elem = dtype_size(data.dtype());
  const int64_t axis = axis_attr(ctx, 0, int64_t(data.rank()));
  const int64_t extent = data.dim(size_t(axis));
  const int64_t outer = product(data.shape(), 0, size_t(axis));
  const int64_t inner_bytes = product(data.shape(), size_t(axis) + 1, data.rank()) * int64_t(elem);
  const int64_t n = indices.numel();
  // Validate every index before touching memory: bad data must give an error, never a wild read.
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    int64_t k = indices.get_as_int64(i);
    if (k < -extent || k >= extent)
      return error(StatusCode::kOutOfRange, ctx.node.describe(), ": index ", k, " is out of range for axis ", axis,
                   " of size ", extent);
    idx[size_t(i)] = k < 0 ? k + extent : k;
  }
  if (outer == 0 || n == 0 || inner_bytes == 0) return Status::Ok();
  const uint8_t* src = static_cast<const uint8_t*>(data.raw());
  uint8_t* dst = static_cast<uint8_t*>(ctx.out(0).raw());
  ctx.parallel_for(
      outer * n,
      [&](int64_t b, int64_t e) {
        for (int64_t p = b; p < e; ++p) {
          int64_t o = p / n, i = p % n;
          std::memcpy(dst + p * inner_bytes, src + (o * extent + idx[size_t(i)]) * inner_bytes, size_t(inner_bytes));
        }
      },
      grain_for(inner_bytes));
  return Status::Ok();
}

Status ref_Shape(KernelContext& ctx) {
  const Shape& s = ctx.in(0).shape();
  int64_t start, end;
  shape_ops::shape_op_range(ctx.node, ctx.opset, int64_t(s.size()), &start, &end);
  int64_t* out = ctx.out(0).data<int64_t>();
  for (int64_t i = 0; i < ctx.out(0).numel(); ++i) out[i] = s[size_t(start + i)];
  return Status::Ok();
}

Status ref_Size(KernelContext& ctx) {
  *ctx.out(0).data<int64_t>() = ctx.in(0).numel();
  return Status::Ok();
}

Status ref_Reshape(KernelContext& ctx) { return copy_input(ctx); }
Status ref_Flatten(KernelContext& ctx) { return copy_input(ctx); }
Status ref_Squeeze(KernelContext& ctx) { return copy_input(ctx); }
Status ref_Unsqueeze(KernelContext& ctx) { return copy_input(ctx); }

// DepthToSpace: the output, viewed as N x C' x H x b x W x b (row-major), reads input channel (by*b + bx)*C' + c
// (DCR) or c*b*b + by*b + bx (CRD) at pixel (y, x): one strided copy.
Status ref_DepthToSpace(KernelContext& ctx) {
  const Tensor& x = ctx.in(0);
  const int64_t b = ctx.node.attr_int("blocksize", 1), n = x.dim(0), c = x.dim(1) / (b * b), h = x.dim(2),
                w = x.dim(3), plane = h * w;
  const bool dcr = ctx.node.attr_string("mode", "DCR") == "DCR";
  const std::vector<int64_t> strides = {x.dim(1) * plane, (dcr ? 1 : b * b) * plane, w, (dcr ? b * c : b) * plane,
                                        1, (dcr ? c : 1) * plane};
  strided_copy(ctx, x.raw(), ctx.out(0).raw(), dtype_size(x.dtype()), Shape{n, c, h, b, w, b}, strides, 0);
  return Status::Ok();
}

Status ref_Transpose(KernelContext& ctx) {
  const Tensor& x = ctx.in(0);
  const size_t rank = x.rank();
  std::vector<int64_t> perm = ctx.node.attr_ints("perm");
  if (!ctx.node.has_attr("perm")) {
    perm.resize(rank);
    for (size_t i = 0; i < rank; ++i) perm[i] = int64_t(rank - 1 - i);
  }
  std::vector<int64_t> in_strides = contiguous_strides(x.shape()), strides(rank);
  for (size_t i = 0; i < rank; ++i) strides[i] = in_strides[size_t(perm[i])];
  strided_copy(ctx, x.raw(), ctx.out(0).raw(), dtype_size(x.dtype()), ctx.out(0).shape(), strides, 0);
  return Status::Ok();
}

}  // namespace lowbit
