#include "ops/shape_ops_util.h"

#include <algorithm>
#include <limits>

namespace lowbit::shape_ops {

bool normalize_axis(int64_t axis, int64_t rank, int64_t* out) {
  if (axis < -rank || axis >= rank) return false;
  *out = axis < 0 ? axis + rank : axis;
  return true;
}

Status normalize_axes(const Node& node, std::vector<int64_t>* axes, int64_t rank, const char* what) {
  std::vector<bool> seen(size_t(std::max<int64_t>(rank, 0)), false);
  for (int64_t& a : *axes) {
    int64_t n;
    if (!normalize_axis(a, rank, &n)) return node_error(node, what, " value ", a, " is out of range for rank ", rank);
    if (seen[size_t(n)]) return node_error(node, what, " repeats axis ", a);
    seen[size_t(n)] = true;
    a = n;
  }
  return Status::Ok();
}

std::vector<int64_t> to_int64s(const Tensor& t) {
  std::vector<int64_t> v(size_t(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[size_t(i)] = t.get_as_int64(i);
  return v;
}

Dim dim_product(const std::vector<Dim>& dims, size_t begin, size_t end, bool* overflow) {
  int64_t known = 1;
  int symbols = 0, unknown = 0;
  const Dim* symbol = nullptr;
  bool has_zero = false;
  for (size_t i = begin; i < end; ++i) {
    const Dim& d = dims[i];
    if (d.known()) {
      if (d.value == 0)
        has_zero = true;
      else if (known > std::numeric_limits<int64_t>::max() / d.value)
        *overflow = true;
      else
        known *= d.value;
    } else if (!d.param.empty()) {
      ++symbols;
      symbol = &d;
    } else {
      ++unknown;
    }
  }
  if (has_zero) return Dim(0);
  if (symbols == 0 && unknown == 0) return *overflow ? Dim() : Dim(known);
  if (symbols == 1 && unknown == 0 && known == 1) return *symbol;
  return Dim();
}

ValueType unknown_shape(DType t) {
  ValueType v;
  v.dtype = t;
  return v;
}

Status expect_storable(const InferContext& ctx, size_t i) {
  if (!ctx.has_input(i)) return ctx.fail("required input ", i, " is missing");
  if (!dtype_is_storable(ctx.in(i).dtype))
    return ctx.unsupported("input ", i, " ('", ctx.node.inputs[i], "') has type ", dtype_name(ctx.in(i).dtype),
                           ", which lowbit cannot hold");
  return Status::Ok();
}

Status set_checked(InferContext& ctx, size_t i, ValueType t) {
  LB_RETURN_IF_ERROR(check_output_size(ctx.node, t, ctx.max_tensor_bytes));
  ctx.set_output(i, std::move(t));
  return Status::Ok();
}

Status check_output_size(const Node& node, const ValueType& t, int64_t max_bytes) {
  if (!t.fully_known()) return Status::Ok();
  Shape s = t.concrete();
  auto n = checked_numel(s);
  if (!n)
    return error(StatusCode::kResourceExhausted, node.describe(), ": output shape ", shape_to_string(s),
                 " is too large: ", n.status().message());
  int64_t elem = std::max<int64_t>(1, int64_t(dtype_size(t.dtype)));
  if (*n > max_bytes / elem)
    return error(StatusCode::kResourceExhausted, node.describe(), ": output of shape ", shape_to_string(s), " (",
                 dtype_name(t.dtype), ") would need more than the ", max_bytes, "-byte tensor cap");
  return Status::Ok();
}

void shape_op_range(const Node& node, int opset, int64_t rank, int64_t* start, int64_t* end) {
  int64_t s = opset >= 15 ? node.attr_int("start", 0) : 0;
  int64_t e = opset >= 15 ? node.attr_int("end", rank) : rank;
  // Clamped like Python slicing; an empty range is allowed.
  if (s < 0) s += rank;
  if (e < 0) e += rank;
  *start = std::clamp<int64_t>(s, 0, rank);
  *end = std::max(*start, std::clamp<int64_t>(e, 0, rank));
}

Tensor fold_shape_or_size(const Node& node, int opset, const ValueType& input) {
  if (!input.fully_known() || !dtype_is_storable(input.dtype)) return Tensor();
  Shape dims = input.concrete();
  if (node.op_type == "Size") {
    auto n = checked_numel(dims);
    return n ? Tensor::from_vector(DType::kInt64, {}, std::vector<int64_t>{*n}) : Tensor();
  }
  if (node.op_type != "Shape") return Tensor();
  int64_t start, end;
  shape_op_range(node, opset, int64_t(dims.size()), &start, &end);
  std::vector<int64_t> v(dims.begin() + start, dims.begin() + end);
  return Tensor::from_vector(DType::kInt64, {int64_t(v.size())}, v);
}

// ---- Slice ----------------------------------------------------------------------------------------

Status read_slice_args(const Node& node, int opset, int64_t rank, const std::vector<const Tensor*>& inputs,
                       SliceArgs* out) {
  auto input = [&](size_t i) -> const Tensor* { return i < inputs.size() ? inputs[i] : nullptr; };
  bool axes_given;
  if (opset < 10) {
    if (!node.has_attr("starts") || !node.has_attr("ends"))
      return node_error(node, "attributes 'starts' and 'ends' are required before opset 10");
    out->starts = node.attr_ints("starts");
    out->ends = node.attr_ints("ends");
    axes_given = node.has_attr("axes");
    out->axes = node.attr_ints("axes");
    out->steps.clear();
  } else {
    if (!input(1) || !input(2)) return node_error(node, "inputs 'starts' and 'ends' are required");
    out->starts = to_int64s(*input(1));
    out->ends = to_int64s(*input(2));
    axes_given = input(3) != nullptr;
    out->axes = axes_given ? to_int64s(*input(3)) : std::vector<int64_t>{};
    out->steps = input(4) ? to_int64s(*input(4)) : std::vector<int64_t>{};
    if (input(4) && out->steps.size() != out->starts.size())
      return node_error(node, "'steps' has ", out->steps.size(), " values but 'starts' has ", out->starts.size());
  }
  size_t n = out->starts.size();
  if (out->ends.size() != n) return node_error(node, "'starts' has ", n, " values but 'ends' has ", out->ends.size());
  if (!axes_given) {
    if (int64_t(n) > rank) return node_error(node, n, " starts given for a rank-", rank, " input");
    out->axes.resize(n);
    for (size_t i = 0; i < n; ++i) out->axes[i] = int64_t(i);
  } else if (out->axes.size() != n) {
    return node_error(node, "'axes' has ", out->axes.size(), " values but 'starts' has ", n);
  }
  if (out->steps.empty()) out->steps.assign(n, 1);
  for (int64_t s : out->steps)
    if (s == 0) return node_error(node, "'steps' must not contain 0");
  return normalize_axes(node, &out->axes, rank, "'axes'");
}

SliceRange clamp_slice(int64_t dim, int64_t start, int64_t end, int64_t step) {
  // Adding dim to a negative value cannot overflow (dim >= 0), so INT64_MIN/MAX sentinels are safe.
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  SliceRange r;
  r.step = step;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
  } else {
    start = std::clamp<int64_t>(start, 0, std::max<int64_t>(dim - 1, 0));
    end = std::clamp<int64_t>(end, -1, dim - 1);
  }
  r.start = start;
  // Distance and |step| in unsigned arithmetic: step may be INT64_MIN.
  uint64_t distance = step > 0 ? (end > start ? uint64_t(end - start) : 0) : (start > end ? uint64_t(start - end) : 0);
  uint64_t abs_step = step > 0 ? uint64_t(step) : uint64_t(0) - uint64_t(step);
  r.count = distance == 0 || dim == 0 ? 0 : int64_t((distance - 1) / abs_step + 1);
  return r;
}

// ---- Pad ------------------------------------------------------------------------------------------

Status read_pad_mode(const Node& node, PadMode* mode) {
  std::string m = node.attr_string("mode", "constant");
  if (m == "constant")
    *mode = PadMode::kConstant;
  else if (m == "reflect")
    *mode = PadMode::kReflect;
  else if (m == "edge")
    *mode = PadMode::kEdge;
  else if (m == "wrap")
    return error(StatusCode::kUnsupported, node.describe(), ": mode 'wrap' (opset 19) is not supported");
  else
    return node_error(node, "unknown mode '", m, "' (expected constant, reflect or edge)");
  return Status::Ok();
}

Status read_pads(const Node& node, int opset, int64_t rank, const Tensor* pads_input, std::vector<int64_t>* pads) {
  if (opset < 11) {
    if (!node.has_attr("pads")) return node_error(node, "attribute 'pads' is required before opset 11");
    *pads = node.attr_ints("pads");
  } else {
    if (!pads_input) return node_error(node, "input 'pads' is required");
    *pads = to_int64s(*pads_input);
  }
  if (int64_t(pads->size()) != 2 * rank)
    return node_error(node, "'pads' has ", pads->size(), " values; a rank-", rank, " input needs ", 2 * rank);
  return Status::Ok();
}

// ---- Squeeze / Unsqueeze / Split --------------------------------------------------------------------

namespace {
void read_ints_attr_or_input(const Node& node, bool from_input, const char* attr,
                             const std::vector<const Tensor*>& inputs, std::vector<int64_t>* values, bool* present,
                             bool* known) {
  values->clear();
  *known = true;
  if (!from_input) {
    *present = node.has_attr(attr);
    *values = node.attr_ints(attr);
    return;
  }
  *present = node.has_input(1);
  if (!*present) return;
  const Tensor* t = inputs.size() > 1 ? inputs[1] : nullptr;
  if (!t) {
    *known = false;
    return;
  }
  *values = to_int64s(*t);
}
}  // namespace

void read_axes(const Node& node, int opset, const std::vector<const Tensor*>& inputs, std::vector<int64_t>* axes,
               bool* present, bool* known) {
  read_ints_attr_or_input(node, opset >= 13, "axes", inputs, axes, present, known);
}

void read_split(const Node& node, int opset, const std::vector<const Tensor*>& inputs, std::vector<int64_t>* split,
                bool* present, bool* known) {
  read_ints_attr_or_input(node, opset >= 13, "split", inputs, split, present, known);
}

}  // namespace lowbit::shape_ops
