// Parameters of the reduction and quantization ops, resolved the same way by inference
// (src/ops/reduce_quant.cpp) and by the reference kernels (src/kernels/ref/reduce.cpp, quantize.cpp),
// so the shapes inference promises and the loops the kernels run can never disagree.
//
//   ReduceAxes r;
//   LB_RETURN_IF_ERROR(resolve_reduce_axes(node, opset, rank, axes_tensor_or_null, &r));
//   if (r.noop) ...;  else for (size_t d = 0; d < rank; ++d) if (r.reduced[d]) ...
#pragma once
#include <string>
#include <vector>

#include "ir/graph.h"
#include "lowbit/status.h"

namespace lowbit {

namespace reduce_detail {
template <typename... Args>
Status bad(const Node& node, const Args&... args) {
  return error(StatusCode::kInvalidModel, node.describe(), ": ", args...);
}
}  // namespace reduce_detail

// ReduceSum takes its axes as an input from opset 13 (the other reductions only from opset 18).
inline bool reduce_axes_from_input(const Node& node, int opset) { return node.op_type == "ReduceSum" && opset >= 13; }

struct ReduceAxes {
  bool keepdims = true;
  bool noop = false;          // ReduceSum-13 with empty axes and noop_with_empty_axes=1: output = input
  std::vector<bool> reduced;  // one per input axis
};

// Resolves the reduced axes of a rank-`rank` input. `axes_input` is the axes tensor of ReduceSum-13
// (nullptr when omitted); for other ops/opsets the `axes` attribute is read. Negative axes count from
// the end; no axes means all axes. Rejects out-of-range and repeated axes.
inline Status resolve_reduce_axes(const Node& node, int opset, size_t rank, const Tensor* axes_input, ReduceAxes* out) {
  using reduce_detail::bad;
  out->keepdims = node.attr_int("keepdims", 1) != 0;
  std::vector<int64_t> axes;
  if (reduce_axes_from_input(node, opset)) {
    if (node.has_attr("axes")) return bad(node, "from opset 13 'axes' is an input, not an attribute");
    if (axes_input) {
      if (axes_input->dtype() != DType::kInt64) return bad(node, "axes input must be int64");
      if (axes_input->rank() > 1) return bad(node, "axes input must be 1-D, got rank ", axes_input->rank());
      for (int64_t i = 0; i < axes_input->numel(); ++i) axes.push_back(axes_input->data<int64_t>()[i]);
    }
    out->noop = axes.empty() && node.attr_int("noop_with_empty_axes", 0) != 0;
  } else {
    axes = node.attr_ints("axes");
  }
  out->reduced.assign(rank, axes.empty() && !out->noop);
  for (int64_t a : axes) {
    int64_t r = int64_t(rank);
    if (a < -r || a >= r) return bad(node, "axis ", a, " is out of range for an input of rank ", rank);
    int64_t n = a < 0 ? a + r : a;
    if (out->reduced[n]) return bad(node, "axis ", a, " is listed twice");
    out->reduced[n] = true;
  }
  return Status::Ok();
}

// Normalizes a single `axis` attribute (ArgMax/ArgMin, QuantizeLinear) against a rank; false when out of range.
inline bool normalize_axis(int64_t axis, size_t rank, int64_t* out) {
  int64_t r = int64_t(rank);
  if (axis < -r || axis >= r) return false;
  *out = axis < 0 ? axis + r : axis;
  return true;
}

// A scale is per tensor when it is a scalar or holds one element (ONNX Runtime accepts a 1-element 1-D
// tensor as a scalar); otherwise it is a 1-D tensor along `axis` (opset 13+).
inline bool quant_is_per_tensor(const Shape& scale_shape) {
  return scale_shape.empty() || (scale_shape.size() == 1 && scale_shape[0] == 1);
}

}  // namespace lowbit
