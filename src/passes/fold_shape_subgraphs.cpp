// Pass fold_shape_subgraphs: PyTorch writes x.view(x.size(0), -1) as
//   Shape(x) -> Gather(0) -> Unsqueeze -> Concat(.., [-1]) -> Reshape(x, ..)
// With a symbolic batch the chain cannot be folded to numbers. This pass tracks, for every small int64
// vector built from Shape, what each element is: a known number, or "dim d of tensor t". Then
//   - a vector whose elements are all known becomes a constant (e.g. Gather of the static dims of a shape
//     whose batch is symbolic);
//   - a Reshape target whose element j is dim j of the Reshape's own input becomes 0 ("copy that dim",
//     allowzero = 0), and one remaining unknown element becomes -1 when all others are positive numbers,
//     so the target is a constant: a static Reshape that stays correct for any batch.
// The now unused Shape chain is left to eliminate_dead_code.
#include <algorithm>
#include <optional>
#include <unordered_map>

#include "passes/graph_rewrite.h"
#include "passes/pass.h"

namespace lowbit {

namespace {

struct ShapeElem {
  bool known = false;
  int64_t value = 0;     // when known
  std::string tensor;    // otherwise: dim `axis` of `tensor` ...
  int64_t axis = -1;
  std::string symbol;    // ... which has this symbolic name ("" if none)
};
using ShapeVec = std::vector<ShapeElem>;  // elements of a rank-0 or rank-1 int64 value

constexpr int64_t kMaxTracked = 64;

std::optional<std::vector<int64_t>> const_ints(const Graph& g, const std::string& name) {
  const Tensor* t = constant_value(g, name);
  if (!t || !dtype_is_integer(t->dtype()) || t->rank() > 1 || t->numel() > kMaxTracked) return std::nullopt;
  std::vector<int64_t> v(size_t(t->numel()));
  for (int64_t i = 0; i < t->numel(); ++i) v[size_t(i)] = t->get_as_int64(i);
  return v;
}

class ShapeTracker {
 public:
  explicit ShapeTracker(const Graph& g) : g_(g) {}

  const ShapeVec* find(const std::string& name) {
    auto it = vecs_.find(name);
    if (it != vecs_.end()) return &it->second;
    const Tensor* t = constant_value(g_, name);
    if (!t || t->dtype() != DType::kInt64) return nullptr;
    auto ints = const_ints(g_, name);
    if (!ints) return nullptr;
    ShapeVec v;
    for (int64_t x : *ints) v.push_back({true, x, "", -1, ""});
    return &(vecs_[name] = v);
  }

  // Derives the node's output vector from its inputs' (forward order, so inputs are already known).
  void visit(const Node& node) {
    if (!node.domain.empty() || node.outputs.empty() || node.outputs[0].empty() || !node.has_input(0)) return;
    std::optional<ShapeVec> out;
    const std::string& op = node.op_type;
    if (op == "Shape") out = shape_of(node);
    else if (op == "Gather") out = gather(node);
    else if (op == "Unsqueeze" || op == "Squeeze" || op == "Identity") out = pass_through(node);
    else if (op == "Cast" && node.attr_int("to", 0) == int64_t(DType::kInt64)) out = pass_through(node);
    else if (op == "Concat") out = concat(node);
    else if (op == "Slice") out = slice(node);
    if (out && out->size() <= size_t(kMaxTracked)) vecs_[node.outputs[0]] = std::move(*out);
  }

 private:
  std::optional<ShapeVec> shape_of(const Node& node) {
    const ValueInfo* v = g_.find(node.inputs[0]);
    if (!v || !v->type.has_shape) return std::nullopt;
    const int64_t rank = int64_t(v->type.rank());
    int64_t start = 0, end = rank;
    if (g_.opset >= 15) {
      start = node.attr_int("start", 0);
      end = node.attr_int("end", rank);
      if (start < 0) start += rank;
      if (end < 0) end += rank;
      start = std::clamp<int64_t>(start, 0, rank);
      end = std::clamp<int64_t>(end, start, rank);
    }
    ShapeVec out;
    for (int64_t i = start; i < end; ++i) {
      const Dim& d = v->type.dims[size_t(i)];
      if (d.known()) out.push_back({true, d.value, "", -1, ""});
      else out.push_back({false, 0, node.inputs[0], i, d.param});
    }
    return out;
  }
  std::optional<ShapeVec> gather(const Node& node) {
    const ShapeVec* data = find(node.inputs[0]);
    const ValueInfo* data_info = g_.find(node.inputs[0]);
    if (!data || !node.has_input(1) || node.attr_int("axis", 0) != 0) return std::nullopt;
    if (!data_info || !data_info->type.has_shape || data_info->type.rank() != 1) return std::nullopt;
    auto idx = const_ints(g_, node.inputs[1]);
    if (!idx) return std::nullopt;
    ShapeVec out;
    for (int64_t i : *idx) {
      if (i < 0) i += int64_t(data->size());
      if (i < 0 || i >= int64_t(data->size())) return std::nullopt;
      out.push_back((*data)[size_t(i)]);
    }
    return out;
  }
  std::optional<ShapeVec> pass_through(const Node& node) {
    const ShapeVec* in = find(node.inputs[0]);
    const ValueInfo* out = g_.find(node.outputs[0]);
    // Only when the result is still a rank <= 1 vector of the same elements.
    if (!in || !out || !out->type.has_shape || out->type.rank() > 1) return std::nullopt;
    return *in;
  }
  std::optional<ShapeVec> concat(const Node& node) {
    ShapeVec out;
    for (auto& name : node.inputs) {
      const ShapeVec* in = name.empty() ? nullptr : find(name);
      if (!in) return std::nullopt;
      out.insert(out.end(), in->begin(), in->end());
    }
    return out;
  }
  std::optional<ShapeVec> slice(const Node& node) {
    // Opset 10+ form with constant starts/ends on axis 0, step 1.
    const ShapeVec* in = find(node.inputs[0]);
    if (!in || g_.opset < 10 || !node.has_input(1) || !node.has_input(2)) return std::nullopt;
    auto starts = const_ints(g_, node.inputs[1]), ends = const_ints(g_, node.inputs[2]);
    if (!starts || !ends || starts->size() != 1 || ends->size() != 1) return std::nullopt;
    if (node.has_input(3)) {
      auto axes = const_ints(g_, node.inputs[3]);
      if (!axes || axes->size() != 1 || ((*axes)[0] != 0 && (*axes)[0] != -1)) return std::nullopt;
    }
    if (node.has_input(4)) {
      auto steps = const_ints(g_, node.inputs[4]);
      if (!steps || steps->size() != 1 || (*steps)[0] != 1) return std::nullopt;
    }
    const int64_t n = int64_t(in->size());
    int64_t b = (*starts)[0], e = (*ends)[0];
    if (b < 0) b += n;
    if (e < 0) e += n;
    b = std::clamp<int64_t>(b, 0, n);
    e = std::clamp<int64_t>(e, b, n);
    return ShapeVec(in->begin() + b, in->begin() + e);
  }

  const Graph& g_;
  std::unordered_map<std::string, ShapeVec> vecs_;
};

bool all_known(const ShapeVec& v) {
  for (auto& e : v)
    if (!e.known) return false;
  return true;
}

Tensor to_tensor(const std::vector<int64_t>& v, bool scalar) {
  return Tensor::from_vector(DType::kInt64, scalar ? Shape{} : Shape{int64_t(v.size())}, v);
}

// The Reshape target as constants, or nullopt when some element stays unknown.
std::optional<std::vector<int64_t>> static_reshape_target(const Graph& g, const Node& reshape, const ShapeVec& target) {
  if (reshape.attr_int("allowzero", 0) != 0) return std::nullopt;  // 0 would mean a real 0
  const ValueInfo* data = g.find(reshape.inputs[0]);
  std::vector<int64_t> out(target.size(), 0);
  int unknown = -1;
  bool others_positive = true;
  for (size_t j = 0; j < target.size(); ++j) {
    const ShapeElem& e = target[j];
    if (e.known) {
      out[j] = e.value;
      others_positive = others_positive && e.value > 0;
      continue;
    }
    const bool same_dim = (e.tensor == reshape.inputs[0] && e.axis == int64_t(j)) ||
                          (data && data->type.has_shape && j < data->type.rank() && !e.symbol.empty() &&
                           data->type.dims[j].param == e.symbol);
    if (same_dim) {
      out[j] = 0;  // copy dim j of the input
      others_positive = false;
      continue;
    }
    if (unknown >= 0) return std::nullopt;
    unknown = int(j);
  }
  if (unknown >= 0) {
    // -1 infers the one unknown dim exactly when every other entry is a known positive number.
    if (!others_positive) return std::nullopt;
    out[size_t(unknown)] = -1;
  }
  return out;
}

}  // namespace

Status fold_shape_subgraphs(Graph& g, PassContext& ctx) {
  GraphUses uses(g);
  ShapeTracker tracker(g);
  std::vector<bool> removed(g.nodes.size(), false);
  int changes = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& node = g.nodes[i];
    tracker.visit(node);
    if (ctx.pinned(node)) continue;
    if (node.op_type == "Reshape" && node.domain.empty() && node.has_input(1) && !constant_value(g, node.inputs[1])) {
      const ShapeVec* target = tracker.find(node.inputs[1]);
      if (!target) continue;
      auto fixed = static_reshape_target(g, node, *target);
      if (!fixed) continue;
      const std::string name = add_constant(g, node.name + "_static_shape", to_tensor(*fixed, false));
      std::string shown;
      for (int64_t v : *fixed) shown += (shown.empty() ? "" : ", ") + std::to_string(v);
      ctx.note(str_cat("made the target of ", node.describe(), " static: [", shown, "]"));
      node.inputs[1] = name;
      ++changes;
      continue;
    }
    // A tracked vector that is fully known but not yet a constant (Gather of the static dims of a
    // partially symbolic shape) becomes one.
    if (node.outputs.size() != 1 || node.outputs[0].empty() || uses.is_graph_output(node.outputs[0])) continue;
    if (constant_value(g, node.outputs[0])) continue;
    const ShapeVec* v = tracker.find(node.outputs[0]);
    const ValueInfo* info = g.find(node.outputs[0]);
    if (!v || !all_known(*v) || !info || !info->type.has_shape || info->type.dtype != DType::kInt64) continue;
    std::vector<int64_t> ints;
    for (auto& e : *v) ints.push_back(e.value);
    ValueInfo& out = g.values[node.outputs[0]];
    out.constant = to_tensor(ints, info->type.rank() == 0);
    out.type = ValueType::of(*out.constant);
    out.initializer = true;
    removed[i] = true;
    ++changes;
    ctx.note(str_cat("folded ", node.describe(), " (known dims of a partly symbolic shape)"));
  }
  if (changes == 0) return Status::Ok();
  return commit_rewrite(g, removed, ctx.report.pass);
}

}  // namespace lowbit
