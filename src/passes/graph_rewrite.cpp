#include "passes/graph_rewrite.h"

#include <algorithm>
#include <limits>
#include <set>

#include "ir/shape_inference.h"
#include "ops/op_table.h"

namespace lowbit {

GraphUses::GraphUses(const Graph& g) { rebuild(g); }

void GraphUses::rebuild(const Graph& g) {
  uses_.clear();
  outputs_ = std::unordered_set<std::string>(g.outputs.begin(), g.outputs.end());
  for (size_t n = 0; n < g.nodes.size(); ++n)
    for (size_t i = 0; i < g.nodes[n].inputs.size(); ++i)
      if (!g.nodes[n].inputs[i].empty()) uses_[g.nodes[n].inputs[i]].push_back({n, i});
}

const std::vector<ValueUse>& GraphUses::of(const std::string& value) const {
  static const std::vector<ValueUse> kNone;
  auto it = uses_.find(value);
  return it == uses_.end() ? kNone : it->second;
}

size_t GraphUses::consumer_count(const std::string& value) const {
  std::set<size_t> nodes;
  for (auto& u : of(value)) nodes.insert(u.node);
  return nodes.size();
}

bool is_overridable(const Graph& g, const std::string& name) {
  return std::find(g.overridable_initializers.begin(), g.overridable_initializers.end(), name) !=
         g.overridable_initializers.end();
}

const Tensor* constant_value(const Graph& g, const std::string& name) {
  if (name.empty() || is_overridable(g, name)) return nullptr;
  return g.constant(name);
}

std::string unique_value_name(const Graph& g, const std::string& base) {
  if (!g.find(base)) return base;
  for (int i = 1;; ++i) {
    std::string name = base + "_" + std::to_string(i);
    if (!g.find(name)) return name;
  }
}

std::string add_value(Graph& g, const std::string& base) {
  const std::string name = unique_value_name(g, base);
  g.values[name].name = name;
  return name;
}

Node make_node(const std::string& op, const std::string& name, std::vector<std::string> inputs,
               std::vector<std::string> outputs) {
  Node n;
  n.op_type = op;
  n.name = name;
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  return n;
}

std::string rename_changed_output(Graph& g, Node& producer, size_t output, const std::string& suffix) {
  const std::string old_name = producer.outputs[output];
  const std::string new_name = unique_value_name(g, old_name + suffix);
  ValueInfo v = g.values.at(old_name);
  v.name = new_name;
  g.values.erase(old_name);
  g.values[new_name] = std::move(v);
  producer.outputs[output] = new_name;
  replace_uses(g, old_name, new_name);
  return new_name;
}

std::string add_constant(Graph& g, const std::string& base, Tensor t) {
  std::string name = unique_value_name(g, base);
  ValueInfo& v = g.values[name];
  v.name = name;
  v.type = ValueType::of(t);
  v.constant = std::move(t);
  v.initializer = true;  // exported as an initializer like any weight
  v.producer = -1;
  return name;
}

void replace_uses(Graph& g, const std::string& from, const std::string& to) {
  for (auto& node : g.nodes)
    for (auto& in : node.inputs)
      if (in == from) in = to;
}

bool same_shape(const ValueType& a, const ValueType& b) {
  if (!a.has_shape || !b.has_shape || a.rank() != b.rank()) return false;
  for (size_t i = 0; i < a.rank(); ++i) {
    const Dim &x = a.dims[i], &y = b.dims[i];
    if (x.known() && y.known() && x.value == y.value) continue;
    if (!x.known() && !y.known() && !x.param.empty() && x.param == y.param) continue;
    return false;
  }
  return true;
}

Status commit_rewrite(Graph& g, const std::vector<bool>& removed, const std::string& pass) {
  std::vector<Node> kept;
  kept.reserve(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (i >= removed.size() || !removed[i]) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);

  std::unordered_set<std::string> referenced(g.inputs.begin(), g.inputs.end());
  referenced.insert(g.outputs.begin(), g.outputs.end());
  referenced.insert(g.overridable_initializers.begin(), g.overridable_initializers.end());
  for (auto& node : g.nodes) {
    referenced.insert(node.inputs.begin(), node.inputs.end());
    referenced.insert(node.outputs.begin(), node.outputs.end());
  }
  for (auto it = g.values.begin(); it != g.values.end();)
    it = referenced.count(it->first) ? std::next(it) : g.values.erase(it);
  // A value whose producer went away keeps its constant (folded) or must have become an input.
  std::unordered_set<std::string> produced;
  for (auto& node : g.nodes) produced.insert(node.outputs.begin(), node.outputs.end());
  for (auto& [name, v] : g.values)
    if (!produced.count(name) && v.producer >= 0 && v.constant) v.initializer = true;

  Status sorted = topological_sort(g);
  if (!sorted.ok()) return sorted.with_context("after pass " + pass);
  std::vector<GraphIssue> issues = validate_and_infer(g);
  g.index_producers();
  if (!issues.empty()) return issues_to_status(issues, "the graph after pass " + pass);
  return Status::Ok();
}

FusedActivation activation_of(const Graph& g, const Node& n) {
  FusedActivation a;
  if (!n.domain.empty() || n.outputs.size() != 1) return a;
  const std::string& op = n.op_type;
  if (op == "Relu") a.kind = FusedActivationKind::kRelu;
  else if (op == "Sigmoid") a.kind = FusedActivationKind::kSigmoid;
  else if (op == "LeakyRelu") {
    a.kind = FusedActivationKind::kLeakyRelu;
    a.alpha = n.attr_float("alpha", 0.01f);
  } else if (op == "HardSigmoid") {
    a.kind = FusedActivationKind::kHardSigmoid;
    a.alpha = n.attr_float("alpha", 0.2f);
    a.beta = n.attr_float("beta", 0.5f);
  } else if (op == "HardSwish") {
    a.kind = FusedActivationKind::kHardSwish;
    a.alpha = 1.0f / 6;
    a.beta = 0.5f;
  } else if (op == "Clip") {
    float lo = std::numeric_limits<float>::lowest(), hi = std::numeric_limits<float>::max();
    if (g.opset < 11) {
      lo = n.attr_float("min", lo);
      hi = n.attr_float("max", hi);
    } else {
      for (size_t i = 1; i < 3; ++i) {
        if (!n.has_input(i)) continue;
        const Tensor* t = constant_value(g, n.inputs[i]);
        if (!t || t->dtype() != DType::kFloat32 || t->numel() != 1) return FusedActivation{};
        (i == 1 ? lo : hi) = t->data<float>()[0];
      }
    }
    a.kind = FusedActivationKind::kClip;
    a.alpha = lo;
    a.beta = hi;
  }
  return a;
}


std::vector<Tensor> evaluate_node(const Graph& g, const Node& node, int64_t max_bytes,
                                  const std::function<const Tensor*(const std::string&)>& value) {
  const OpSpec* op = find_op(node.domain, node.op_type);
  if (!op) return {};
  InferContext ictx{node, g.opset, {}, {}, {}, max_bytes};
  std::vector<ValueType> types(node.inputs.size());
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const Tensor* t = nullptr;
    if (!node.inputs[i].empty()) t = value ? value(node.inputs[i]) : nullptr;
    if (!node.inputs[i].empty() && !t) t = constant_value(g, node.inputs[i]);
    if (!node.inputs[i].empty() && !t) return {};
    if (t) types[i] = ValueType::of(*t);
    ictx.input_types.push_back(t ? &types[i] : nullptr);
    ictx.input_values.push_back(t);
  }
  ictx.output_types.resize(node.outputs.size());
  if (!op->infer(ictx).ok()) return {};
  std::vector<Tensor> outs(node.outputs.size());
  KernelContext kctx{node, g.opset, ictx.input_values, {}, nullptr};
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    if (node.outputs[i].empty()) {
      kctx.outputs.push_back(nullptr);
      continue;
    }
    const ValueType& t = ictx.output_types[i];
    if (!t.fully_known()) return {};
    auto tensor = Tensor::create(t.dtype, t.concrete(), max_bytes);
    if (!tensor) return {};
    outs[i] = std::move(*tensor);
    kctx.outputs.push_back(&outs[i]);
  }
  if (!op->ref(kctx).ok()) return {};
  return outs;
}

}  // namespace lowbit
