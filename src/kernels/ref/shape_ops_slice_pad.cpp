// Reference kernels for the shape & data-movement family, part 2: Slice, Pad, Expand, Tile,
// Constant, ConstantOfShape, Range. Parameters are re-read with the same helpers inference used
// (src/ops/shape_ops_util.h), so kernel and inference cannot disagree.
#include <algorithm>
#include <cstring>

#include "kernels/ref/dispatch.h"
#include "kernels/ref/shape_ops_copy.h"
#include "ops/broadcast.h"
#include "ops/op_table.h"
#include "ops/shape_ops_util.h"

namespace lowbit {

using shape_ops::contiguous_strides;
using shape_ops::fill_elements;
using shape_ops::strided_copy;

// ---- Slice ------------------------------------------------------------------------------------------

Status ref_Slice(KernelContext& ctx) {
  const Tensor& x = ctx.in(0);
  const int64_t rank = int64_t(x.rank());
  shape_ops::SliceArgs args;
  LB_RETURN_IF_ERROR(shape_ops::read_slice_args(ctx.node, ctx.opset, rank, ctx.inputs, &args));
  std::vector<int64_t> in_strides = contiguous_strides(x.shape());
  std::vector<int64_t> strides = in_strides;
  int64_t offset = 0;
  for (size_t i = 0; i < args.axes.size(); ++i) {
    size_t a = size_t(args.axes[i]);
    shape_ops::SliceRange r = shape_ops::clamp_slice(x.dim(a), args.starts[i], args.ends[i], args.steps[i]);
    if (r.count != ctx.out(0).dim(a)) return error(StatusCode::kInternal, ctx.node.describe(), ": slice size mismatch");
    if (r.count == 0) return Status::Ok();
    offset += r.start * in_strides[a];
    // A single element never advances; skipping the product also avoids overflow with huge steps.
    strides[a] = r.count > 1 ? in_strides[a] * r.step : 0;
  }
  strided_copy(ctx, x.raw(), ctx.out(0).raw(), dtype_size(x.dtype()), ctx.out(0).shape(), strides, offset);
  return Status::Ok();
}

// ---- Pad --------------------------------------------------------------------------------------------

namespace {

// A run of output elements along the last axis: copied from src_start.. or filled (src_start < 0).
struct PadRun {
  int64_t out_start, src_start, length;
};

// Source index along one axis for every output position; -1 = the constant value.
std::vector<int64_t> pad_axis_map(int64_t in_dim, int64_t out_dim, int64_t begin, shape_ops::PadMode mode) {
  std::vector<int64_t> map(static_cast<size_t>(out_dim));
  for (int64_t o = 0; o < out_dim; ++o) {
    int64_t s = o - begin;
    if (s < 0 || s >= in_dim) {
      if (mode == shape_ops::PadMode::kConstant) {
        s = -1;
      } else if (mode == shape_ops::PadMode::kEdge || in_dim == 1) {
        s = std::clamp<int64_t>(s, 0, in_dim - 1);
      } else {  // reflect (without repeating the edge), periodic for pads wider than the axis
        int64_t period = 2 * (in_dim - 1);
        s %= period;
        if (s < 0) s += period;
        if (s >= in_dim) s = period - s;
      }
    }
    map[size_t(o)] = s;
  }
  return map;
}

std::vector<PadRun> runs_of(const std::vector<int64_t>& map) {
  std::vector<PadRun> runs;
  for (size_t j = 0; j < map.size(); ++j) {
    int64_t s = map[j];
    if (!runs.empty()) {
      PadRun& last = runs.back();
      bool fill_continues = s < 0 && last.src_start < 0;
      bool copy_continues = s >= 0 && last.src_start >= 0 && s == last.src_start + last.length;
      if (fill_continues || copy_continues) {
        ++last.length;
        continue;
      }
    }
    runs.push_back({int64_t(j), s, 1});
  }
  return runs;
}

}  // namespace

Status ref_Pad(KernelContext& ctx) {
  const Tensor& x = ctx.in(0);
  Tensor& out = ctx.out(0);
  const int64_t rank = int64_t(x.rank());
  const size_t elem = dtype_size(x.dtype());
  shape_ops::PadMode mode;
  LB_RETURN_IF_ERROR(shape_ops::read_pad_mode(ctx.node, &mode));
  std::vector<int64_t> pads;
  LB_RETURN_IF_ERROR(shape_ops::read_pads(ctx.node, ctx.opset, rank, ctx.has_input(1) ? &ctx.in(1) : nullptr, &pads));
  uint8_t value[8] = {};
  if (ctx.opset >= 11 && ctx.has_input(2))
    std::memcpy(value, ctx.in(2).raw(), elem);
  else
    shape_ops::scalar_to_bytes(x.dtype(), ctx.opset < 11 ? ctx.node.attr_float("value", 0.f) : 0.0, value);
  if (out.numel() == 0) return Status::Ok();
  if (rank == 0) {
    std::memcpy(out.raw(), x.raw(), elem);
    return Status::Ok();
  }
  std::vector<std::vector<int64_t>> maps(static_cast<size_t>(rank));
  for (int64_t a = 0; a < rank; ++a)
    maps[size_t(a)] = pad_axis_map(x.dim(size_t(a)), out.dim(size_t(a)), pads[size_t(a)], mode);
  const std::vector<PadRun> runs = runs_of(maps.back());
  const std::vector<int64_t> in_strides = contiguous_strides(x.shape());
  const int64_t inner = out.dim(size_t(rank - 1));
  const int64_t rows = out.numel() / inner;
  const size_t outer_rank = size_t(rank - 1);
  const uint8_t* src = static_cast<const uint8_t*>(x.raw());
  uint8_t* dst = static_cast<uint8_t*>(out.raw());
  ctx.parallel_for(
      rows,
      [&](int64_t begin, int64_t end) {
        std::vector<int64_t> idx(outer_rank, 0);
        int64_t r = begin;
        for (size_t d = outer_rank; d-- > 0;) {
          idx[d] = r % out.dim(d);
          r /= out.dim(d);
        }
        for (int64_t row = begin; row < end; ++row) {
          uint8_t* out_row = dst + size_t(row * inner) * elem;
          int64_t src_row = 0;
          bool constant_row = false;
          for (size_t d = 0; d < outer_rank; ++d) {
            int64_t s = maps[d][size_t(idx[d])];
            if (s < 0) constant_row = true;
            src_row += s * in_strides[d];
          }
          if (constant_row) {
            fill_elements(out_row, inner, value, elem);
          } else {
            for (const PadRun& run : runs) {
              uint8_t* o = out_row + size_t(run.out_start) * elem;
              if (run.src_start < 0)
                fill_elements(o, run.length, value, elem);
              else
                std::memcpy(o, src + size_t(src_row + run.src_start) * elem, size_t(run.length) * elem);
            }
          }
          for (size_t d = outer_rank; d-- > 0;) {
            if (++idx[d] < out.dim(d)) break;
            idx[d] = 0;
          }
        }
      },
      std::max<int64_t>(1, 16384 / inner));
  return Status::Ok();
}

// ---- Expand / Tile ----------------------------------------------------------------------------------

Status ref_Expand(KernelContext& ctx) {
  const Tensor& x = ctx.in(0);
  Tensor& out = ctx.out(0);
  strided_copy(ctx, x.raw(), out.raw(), dtype_size(x.dtype()), out.shape(), broadcast_strides(x.shape(), out.shape()),
               0);
  return Status::Ok();
}

Status ref_Tile(KernelContext& ctx) {
  const Tensor& x = ctx.in(0);
  Tensor& out = ctx.out(0);
  const size_t elem = dtype_size(x.dtype());
  const size_t rank = x.rank();
  if (out.numel() == 0) return Status::Ok();
  if (rank == 0) {
    std::memcpy(out.raw(), x.raw(), elem);
    return Status::Ok();
  }
  const std::vector<int64_t> in_strides = contiguous_strides(x.shape());
  const int64_t in_inner = x.dim(rank - 1), out_inner = out.dim(rank - 1);
  const int64_t rows = out.numel() / out_inner;
  const uint8_t* src = static_cast<const uint8_t*>(x.raw());
  uint8_t* dst = static_cast<uint8_t*>(out.raw());
  ctx.parallel_for(
      rows,
      [&](int64_t begin, int64_t end) {
        for (int64_t row = begin; row < end; ++row) {
          // Output row -> input row: each outer index wraps around the input's extent.
          int64_t r = row, src_row = 0;
          for (size_t d = rank - 1; d-- > 0;) {
            src_row += (r % out.dim(d)) % x.dim(d) * in_strides[d];
            r /= out.dim(d);
          }
          uint8_t* o = dst + size_t(row * out_inner) * elem;
          for (int64_t k = 0; k < out_inner; k += in_inner)
            std::memcpy(o + size_t(k) * elem, src + size_t(src_row) * elem, size_t(in_inner) * elem);
        }
      },
      std::max<int64_t>(1, 16384 / out_inner));
  return Status::Ok();
}

// ---- Constant / ConstantOfShape / Range ------------------------------------------------------------

Status ref_Constant(KernelContext& ctx) {
  Tensor& out = ctx.out(0);
  const Node& n = ctx.node;
  if (const Attribute* a = n.attr("value")) {
    std::memcpy(out.raw(), a->t.raw(), a->t.nbytes());
  } else if (n.has_attr("value_float")) {
    *out.data<float>() = n.attr_float("value_float", 0.f);
  } else if (n.has_attr("value_int")) {
    *out.data<int64_t>() = n.attr_int("value_int", 0);
  } else if (n.has_attr("value_floats")) {
    std::vector<float> v = n.attr_floats("value_floats");
    std::memcpy(out.raw(), v.data(), v.size() * sizeof(float));
  } else {
    std::vector<int64_t> v = n.attr_ints("value_ints");
    std::memcpy(out.raw(), v.data(), v.size() * sizeof(int64_t));
  }
  return Status::Ok();
}

Status ref_ConstantOfShape(KernelContext& ctx) {
  Tensor& out = ctx.out(0);
  uint8_t value[8] = {};
  if (const Attribute* a = ctx.node.attr("value")) std::memcpy(value, a->t.raw(), dtype_size(a->t.dtype()));
  fill_elements(out.raw(), out.numel(), value, dtype_size(out.dtype()));
  return Status::Ok();
}

Status ref_Range(KernelContext& ctx) {
  Tensor& out = ctx.out(0);
  const int64_t n = out.numel();
  if (dtype_is_float(out.dtype())) {
    const double start = ctx.in(0).get_as_double(0), delta = ctx.in(2).get_as_double(0);
    for (int64_t i = 0; i < n; ++i) {
      double v = start + double(i) * delta;
      if (out.dtype() == DType::kFloat32)
        out.data<float>()[i] = float(v);
      else
        out.data<double>()[i] = v;
    }
    return Status::Ok();
  }
  // Integers: wrap-around arithmetic in uint64 gives the exact value, which always fits the type.
  const uint64_t start = uint64_t(ctx.in(0).get_as_int64(0)), delta = uint64_t(ctx.in(2).get_as_int64(0));
  for (int64_t i = 0; i < n; ++i) {
    int64_t v = int64_t(start + uint64_t(i) * delta);
    switch (out.dtype()) {
      case DType::kInt16:
        out.data<int16_t>()[i] = int16_t(v);
        break;
      case DType::kInt32:
        out.data<int32_t>()[i] = int32_t(v);
        break;
      default:
        out.data<int64_t>()[i] = v;
        break;
    }
  }
  return Status::Ok();
}

}  // namespace lowbit
