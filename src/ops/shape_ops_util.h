// Helpers shared by the shape & data-movement family: its inference (src/ops/shape_ops*.cpp) and its
// reference kernels (src/kernels/ref/shape_ops*.cpp). Everything that turns attribute/input values
// into concrete parameters (Slice ranges, Pad amounts, axes) lives here once, so inference and
// kernels can never disagree.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "lowbit/status.h"
#include "lowbit/tensor.h"
#include "ops/op_context.h"

namespace lowbit::shape_ops {

// kInvalidModel error prefixed with the node ("Slice 'slice_3': ...").
template <typename... Args>
Status node_error(const Node& node, const Args&... args) {
  return error(StatusCode::kInvalidModel, node.describe(), ": ", args...);
}

// Maps axis from [-rank, rank) to [0, rank); false when out of range.
bool normalize_axis(int64_t axis, int64_t rank, int64_t* out);
// Normalizes a list of axes against `rank`, rejecting out-of-range and repeated axes. `what` names
// the list in the message ("axes").
Status normalize_axes(const Node& node, std::vector<int64_t>* axes, int64_t rank, const char* what);

// Integer contents of a tensor (any integer dtype) as int64.
std::vector<int64_t> to_int64s(const Tensor& t);

// Product of dims [begin, end): known when all are known; the symbol when exactly one is symbolic and
// the rest multiply to 1; unknown otherwise. Sets *overflow when known dims overflow int64.
Dim dim_product(const std::vector<Dim>& dims, size_t begin, size_t end, bool* overflow);

// Fails with kResourceExhausted (naming the node) when a fully known output would exceed
// max_bytes or overflow; this runs before anything is allocated.
Status check_output_size(const Node& node, const ValueType& t, int64_t max_bytes);

// Shared by the shape ops' inference: a dtype-only (rank unknown) type; input i present and of a dtype a
// Tensor can hold (data-movement ops copy bytes, so any such dtype is fine); output i set after the size check.
ValueType unknown_shape(DType t);
Status expect_storable(const InferContext& ctx, size_t i);
Status set_checked(InferContext& ctx, size_t i, ValueType t);

// Shape (opset 15 start/end): the [start, end) range of dims it returns for a rank-`rank` input.
void shape_op_range(const Node& node, int opset, int64_t rank, int64_t* start, int64_t* end);

// The value of a Shape or Size node whose input shape is static, without needing the input's data
// (for import-time folding: fold_small_constant only folds nodes whose input *values* are known).
// Undefined Tensor for other ops or when the input shape is not fully known.
Tensor fold_shape_or_size(const Node& node, int opset, const ValueType& input);

// ---- Slice --------------------------------------------------------------------------------------
struct SliceArgs {
  std::vector<int64_t> starts, ends, axes, steps;  // axes normalized, one entry per sliced axis
};
// Reads starts/ends/axes/steps from attributes (opset < 10) or from inputs 1..4 (opset >= 10; all
// present inputs must be known: `inputs` is indexed like the node's inputs, nullptr = omitted).
// Validates lengths, zero steps and axes (normalized, no repeats); inference handles unknown values itself.
Status read_slice_args(const Node& node, int opset, int64_t rank, const std::vector<const Tensor*>& inputs,
                       SliceArgs* out);
// ONNX's clamping of one axis: start/end may be any int64 (INT64_MIN/MAX sentinels included).
struct SliceRange {
  int64_t start = 0;  // first input index read
  int64_t step = 1;
  int64_t count = 0;  // output extent
};
SliceRange clamp_slice(int64_t dim, int64_t start, int64_t end, int64_t step);

// ---- Pad ----------------------------------------------------------------------------------------
enum class PadMode { kConstant, kReflect, kEdge };
Status read_pad_mode(const Node& node, PadMode* mode);
// pads (2*rank: all begins, then all ends) from the attribute (opset < 11) or a known input 1.
Status read_pads(const Node& node, int opset, int64_t rank, const Tensor* pads_input, std::vector<int64_t>* pads);

// ---- Squeeze / Unsqueeze / Split ----------------------------------------------------------------
// Axes from the `axes` attribute (opset < 13) or input 1 (opset >= 13). *present=false when the
// node has none; *known=false when the input exists but its value is not known yet.
void read_axes(const Node& node, int opset, const std::vector<const Tensor*>& inputs, std::vector<int64_t>* axes,
               bool* present, bool* known);
// Split sizes from the `split` attribute (opset < 13) or input 1 (opset >= 13), same flags.
void read_split(const Node& node, int opset, const std::vector<const Tensor*>& inputs, std::vector<int64_t>* split,
                bool* present, bool* known);

}  // namespace lowbit::shape_ops
