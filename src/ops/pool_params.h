// Pooling attributes (MaxPool / AveragePool) and the output-size arithmetic ONNX defines for them.
// Shared by inference (src/ops/norm_pool.cpp) and the reference kernels (src/kernels/ref/pool.cpp),
// so the shapes inference promises and the windows the kernel walks can never disagree.
//
//   PoolParams p;
//   LB_RETURN_IF_ERROR(parse_pool_params(node, opset, /*is_max=*/true, spatial_rank, &p));
//   PoolAxis a;
//   LB_RETURN_IF_ERROR(pool_axis_geometry(node, p, axis, input_dim, &a));  // a.out, a.pad_begin
#pragma once
#include <algorithm>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "lowbit/status.h"

namespace lowbit {

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

struct PoolParams {
  size_t spatial_rank = 0;
  std::vector<int64_t> kernel;     // kernel_shape, one per spatial axis
  std::vector<int64_t> strides;    // default 1
  std::vector<int64_t> dilations;  // default 1 (MaxPool from opset 10)
  std::vector<int64_t> pads;       // [begin_0..begin_{r-1}, end_0..end_{r-1}], default 0; ignored unless NOTSET
  AutoPad auto_pad = AutoPad::kNotSet;
  bool ceil_mode = false;          // opset 10+
  bool count_include_pad = false;  // AveragePool
  int64_t storage_order = 0;       // MaxPool Indices: 0 row-major, 1 column-major (spatial part)
};

// Geometry of one spatial axis once the input size is known.
struct PoolAxis {
  int64_t out = 0;
  int64_t pad_begin = 0;
  int64_t pad_end = 0;
};

// Bounds on attribute values from the model: far beyond any real network, small enough that the
// size arithmetic below cannot overflow int64 and validation loops stay short.
constexpr int64_t kMaxPoolExtent = int64_t(1) << 30;  // kernel_shape, strides, dilations
constexpr int64_t kMaxPoolPad = int64_t(1) << 24;

namespace pool_detail {
template <typename... Args>
Status bad(const Node& node, const Args&... args) {
  return error(StatusCode::kInvalidModel, node.describe(), ": ", args...);
}
inline std::string list(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}
}  // namespace pool_detail

// Reads and validates the attributes for an input with `spatial_rank` spatial axes (rank - 2).
inline Status parse_pool_params(const Node& node, int opset, bool is_max, size_t spatial_rank, PoolParams* p) {
  using pool_detail::bad;
  using pool_detail::list;
  const size_t r = spatial_rank;
  p->spatial_rank = r;
  if (!node.has_attr("kernel_shape")) return bad(node, "attribute 'kernel_shape' is required");
  p->kernel = node.attr_ints("kernel_shape");
  if (p->kernel.size() != r)
    return bad(node, "kernel_shape ", list(p->kernel), " has ", p->kernel.size(), " entries but the input has ", r,
               " spatial axes");
  for (int64_t k : p->kernel)
    if (k < 1 || k > kMaxPoolExtent)
      return bad(node, "kernel_shape ", list(p->kernel), " must lie in [1, ", kMaxPoolExtent, "]");

  p->strides = node.attr_ints("strides", std::vector<int64_t>(r, 1));
  if (p->strides.size() != r) return bad(node, "strides ", list(p->strides), " must have ", r, " entries");
  for (int64_t s : p->strides)
    if (s < 1 || s > kMaxPoolExtent)
      return bad(node, "strides ", list(p->strides), " must lie in [1, ", kMaxPoolExtent, "]");

  p->dilations = std::vector<int64_t>(r, 1);
  if (node.has_attr("dilations")) {
    std::vector<int64_t> d = node.attr_ints("dilations");
    if (d.size() != r) return bad(node, "dilations ", list(d), " must have ", r, " entries");
    for (int64_t v : d)
      if (v < 1 || v > kMaxPoolExtent)
        return bad(node, "dilations ", list(d), " must lie in [1, ", kMaxPoolExtent, "]");
    bool all_one = true;
    for (int64_t v : d) all_one &= v == 1;
    // AveragePool gained dilations only in opset 19, beyond what lowbit imports: refuse rather than ignore.
    if (!is_max && !all_one)
      return error(StatusCode::kUnsupported, node.describe(), ": AveragePool dilations ", list(d),
                   " need opset 19, which lowbit does not handle");
    if (is_max) p->dilations = d;
  }

  std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET" || auto_pad.empty())
    p->auto_pad = AutoPad::kNotSet;
  else if (auto_pad == "SAME_UPPER")
    p->auto_pad = AutoPad::kSameUpper;
  else if (auto_pad == "SAME_LOWER")
    p->auto_pad = AutoPad::kSameLower;
  else if (auto_pad == "VALID")
    p->auto_pad = AutoPad::kValid;
  else
    return bad(node, "auto_pad '", auto_pad, "' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID");

  p->pads = node.attr_ints("pads", std::vector<int64_t>(2 * r, 0));
  if (p->pads.size() != 2 * r)
    return bad(node, "pads ", list(p->pads), " must have ", 2 * r, " entries (begin and end per spatial axis)");
  for (int64_t v : p->pads)
    if (v < 0 || v > kMaxPoolPad) return bad(node, "pads ", list(p->pads), " must lie in [0, ", kMaxPoolPad, "]");
  if (p->auto_pad != AutoPad::kNotSet) p->pads.assign(2 * r, 0);

  int64_t ceil_mode = node.attr_int("ceil_mode", 0);
  if (ceil_mode != 0 && ceil_mode != 1) return bad(node, "ceil_mode must be 0 or 1, got ", ceil_mode);
  p->ceil_mode = ceil_mode == 1 && opset >= 10;
  int64_t include = node.attr_int("count_include_pad", 0);
  if (include != 0 && include != 1) return bad(node, "count_include_pad must be 0 or 1, got ", include);
  p->count_include_pad = include == 1;
  p->storage_order = node.attr_int("storage_order", 0);
  if (p->storage_order != 0 && p->storage_order != 1)
    return bad(node, "storage_order must be 0 or 1, got ", p->storage_order);
  return Status::Ok();
}

// Output size and effective pads of spatial axis `axis` for an input of size `in`.
//   NOTSET: out = floor_or_ceil((in + pb + pe - dk) / s) + 1, dk = (k-1)*d + 1. In ceil mode the last
//           window must start inside the input or the left padding, else it is dropped (ONNX / PyTorch /
//           ONNX Runtime all agree on this; without it a window can lie entirely in the right padding).
//   VALID:  out = floor((in - dk) / s) + 1, no padding.
//   SAME_*: out = ceil(in / s); total pad = max(0, (out-1)*s + dk - in), the odd unit goes to the end
//           (SAME_UPPER) or the beginning (SAME_LOWER).
inline Status pool_axis_geometry(const Node& node, const PoolParams& p, size_t axis, int64_t in, PoolAxis* a) {
  const int64_t k = p.kernel[axis], s = p.strides[axis], d = p.dilations[axis];
  const int64_t dk = (k - 1) * d + 1;
  switch (p.auto_pad) {
    case AutoPad::kNotSet: {
      a->pad_begin = p.pads[axis];
      a->pad_end = p.pads[axis + p.spatial_rank];
      const int64_t span = in + a->pad_begin + a->pad_end - dk;
      // Floor / ceil division that is also right for a negative span (kernel longer than the padded input:
      // no window in floor mode, one partial window in ceil mode when span > -s).
      const int64_t floor_div = span >= 0 ? span / s : -((-span + s - 1) / s);
      const int64_t ceil_div = span >= 0 ? (span + s - 1) / s : -((-span) / s);
      a->out = (p.ceil_mode ? ceil_div : floor_div) + 1;
      if (p.ceil_mode && (a->out - 1) * s >= in + a->pad_begin) --a->out;
      break;
    }
    case AutoPad::kValid:
      a->pad_begin = a->pad_end = 0;
      a->out = in >= dk ? (in - dk) / s + 1 : 0;
      break;
    case AutoPad::kSameUpper:
    case AutoPad::kSameLower: {
      a->out = (in + s - 1) / s;
      int64_t total = std::max<int64_t>(0, (a->out - 1) * s + dk - in);
      a->pad_begin = p.auto_pad == AutoPad::kSameUpper ? total / 2 : total - total / 2;
      a->pad_end = total - a->pad_begin;
      break;
    }
  }
  if (a->out < 1 || in < 1)
    return pool_detail::bad(node, "spatial axis ", axis, " of size ", in, " is too small for kernel ", k, " (dilation ",
                            d, ") with pads ", a->pad_begin, "+", a->pad_end);
  // Pads may exceed the kernel (PyTorch's opset-9 export emulates ceil_mode that way), but a window
  // with no tap inside the input has no maximum / average: reject those models.
  // Only windows starting in the padding can fail, so the loop skips the middle (it stays short).
  for (int64_t o = 0; o < a->out; ++o) {
    const int64_t start = o * s - a->pad_begin;
    if (start >= 0 && start < in) {
      o = (in + a->pad_begin + s - 1) / s - 1;  // the next o is the first window starting at or after `in`
      continue;
    }
    const int64_t first_inside = start >= 0 ? 0 : (-start + d - 1) / d;
    if (first_inside >= k || start + first_inside * d >= in)
      return pool_detail::bad(node, "window ", o, " of spatial axis ", axis, " (size ", in, ", kernel ", k, ", stride ",
                              s, ", dilation ", d, ", pads ", a->pad_begin, "+", a->pad_end,
                              ") lies entirely in the padding");
  }
  return Status::Ok();
}

// Geometry of every spatial axis of a concrete input shape [N, C, D1, ..., Dr].
inline Status pool_geometry(const Node& node, const PoolParams& p, const Shape& input, std::vector<PoolAxis>* axes) {
  axes->assign(p.spatial_rank, PoolAxis{});
  for (size_t i = 0; i < p.spatial_rank; ++i)
    LB_RETURN_IF_ERROR(pool_axis_geometry(node, p, i, input[i + 2], &(*axes)[i]));
  return Status::Ok();
}

// Output dims [N, C, O1, ..., Or] for input dims that may be unknown (an unknown input dim gives an unknown one).
inline Status pool_output_dims(const Node& node, const PoolParams& p, const std::vector<Dim>& x, std::vector<Dim>* out) {
  *out = {x[0], x[1]};
  for (size_t i = 0; i < p.spatial_rank; ++i) {
    const Dim& in = x[i + 2];
    if (!in.known()) {
      out->push_back(Dim());
      continue;
    }
    PoolAxis a;
    LB_RETURN_IF_ERROR(pool_axis_geometry(node, p, i, in.value, &a));
    out->push_back(a.out);
  }
  return Status::Ok();
}

}  // namespace lowbit
