#include "ir/graph.h"

#include <queue>
#include <set>

namespace lowbit {

std::string ValueType::to_string() const {
  std::string s = dtype_name(dtype);
  if (!has_shape) return s + "[?rank]";
  s += "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? "," : "") + dims[i].to_string();
  return s + "]";
}

const char* attribute_kind_name(Attribute::Kind k) {
  switch (k) {
    case Attribute::Kind::kUndefined: return "undefined";
    case Attribute::Kind::kFloat: return "float";
    case Attribute::Kind::kInt: return "int";
    case Attribute::Kind::kString: return "string";
    case Attribute::Kind::kTensor: return "tensor";
    case Attribute::Kind::kFloats: return "floats";
    case Attribute::Kind::kInts: return "ints";
    case Attribute::Kind::kStrings: return "strings";
    case Attribute::Kind::kGraph: return "graph";
  }
  return "?";
}

int64_t Node::attr_int(const std::string& n, int64_t def) const {
  auto* a = attr(n);
  return a && a->kind == Attribute::Kind::kInt ? a->i : def;
}
float Node::attr_float(const std::string& n, float def) const {
  auto* a = attr(n);
  if (!a) return def;
  if (a->kind == Attribute::Kind::kFloat) return a->f;
  if (a->kind == Attribute::Kind::kInt) return float(a->i);
  return def;
}
std::string Node::attr_string(const std::string& n, const std::string& def) const {
  auto* a = attr(n);
  return a && a->kind == Attribute::Kind::kString ? a->s : def;
}
std::vector<int64_t> Node::attr_ints(const std::string& n, std::vector<int64_t> def) const {
  auto* a = attr(n);
  return a && a->kind == Attribute::Kind::kInts ? a->ints : def;
}
std::vector<float> Node::attr_floats(const std::string& n, std::vector<float> def) const {
  auto* a = attr(n);
  return a && a->kind == Attribute::Kind::kFloats ? a->floats : def;
}
size_t Node::num_inputs() const {
  size_t n = inputs.size();
  while (n > 0 && inputs[n - 1].empty()) --n;
  return n;
}

void Graph::index_producers() {
  for (auto& [name, v] : values) v.producer = -1;
  for (size_t i = 0; i < nodes.size(); ++i)
    for (auto& o : nodes[i].outputs)
      if (!o.empty()) values[o].producer = int(i);
}

Status topological_sort(Graph& g) {
  std::unordered_map<std::string, size_t> producer;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (auto& o : g.nodes[i].outputs) {
      if (o.empty()) continue;
      auto [it, fresh] = producer.emplace(o, i);
      if (!fresh)
        return error(StatusCode::kInvalidModel, "value '", o, "' is produced by both ", g.nodes[it->second].describe(),
                     " and ", g.nodes[i].describe());
    }
  // Kahn's algorithm; ties keep the file's order so output is stable.
  std::vector<int> pending(g.nodes.size(), 0);
  std::vector<std::vector<size_t>> consumers(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    std::set<size_t> deps;
    for (auto& in : g.nodes[i].inputs) {
      auto it = producer.find(in);
      if (!in.empty() && it != producer.end()) deps.insert(it->second);
    }
    for (size_t d : deps) { consumers[d].push_back(i); ++pending[i]; }
  }
  std::priority_queue<size_t, std::vector<size_t>, std::greater<size_t>> ready;
  for (size_t i = 0; i < g.nodes.size(); ++i) if (pending[i] == 0) ready.push(i);
  std::vector<size_t> order;
  while (!ready.empty()) {
    size_t i = ready.top();
    ready.pop();
    order.push_back(i);
    for (size_t c : consumers[i]) if (--pending[c] == 0) ready.push(c);
  }
  if (order.size() != g.nodes.size()) {
    std::string names;
    int shown = 0;
    for (size_t i = 0; i < g.nodes.size(); ++i)
      if (pending[i] > 0 && shown++ < 8) names += (names.empty() ? "" : ", ") + g.nodes[i].describe();
    return error(StatusCode::kInvalidModel, "the graph has a cycle through ", g.nodes.size() - order.size(),
                 " node(s): ", names);
  }
  std::vector<Node> sorted;
  sorted.reserve(g.nodes.size());
  for (size_t i : order) sorted.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(sorted);
  g.index_producers();
  return Status::Ok();
}

}  // namespace lowbit
