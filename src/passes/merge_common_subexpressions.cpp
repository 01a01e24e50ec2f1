// Pass merge_common_subexpressions:
//   - identical small constants (same dtype, shape and bytes; exporters repeat scalars like 3 and 6 once per
//     use) are merged into one, so nodes that use them become comparable;
//   - nodes with the same op, attributes and inputs compute the same thing: the later one is removed and its
//     consumers read the first one's outputs. Graph outputs are never merged away.
#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "passes/graph_rewrite.h"
#include "passes/pass.h"

namespace lowbit {

namespace {

constexpr int64_t kMaxMergedConstantBytes = 64 << 10;

std::string bytes_of(const Tensor& t) {
  return std::string(static_cast<const char*>(t.raw()), t.nbytes());
}

std::string tensor_key(const Tensor& t) {
  return str_cat(int(t.dtype()), ":", shape_to_string(t.shape()), ":", bytes_of(t));
}

// A byte string equal for equal attributes (floats compared by bits: NaN attributes never merge wrongly).
std::string attribute_key(const Attribute& a) {
  std::string k = str_cat(int(a.kind), "|");
  auto raw = [&](const void* p, size_t n) { k.append(static_cast<const char*>(p), n); };
  switch (a.kind) {
    case Attribute::Kind::kFloat: raw(&a.f, sizeof a.f); break;
    case Attribute::Kind::kInt: raw(&a.i, sizeof a.i); break;
    case Attribute::Kind::kString: k += str_cat(a.s.size(), ":", a.s); break;
    case Attribute::Kind::kTensor: k += tensor_key(a.t); break;
    case Attribute::Kind::kFloats: raw(a.floats.data(), a.floats.size() * sizeof(float)); break;
    case Attribute::Kind::kInts: raw(a.ints.data(), a.ints.size() * sizeof(int64_t)); break;
    case Attribute::Kind::kStrings:
      for (auto& s : a.strings) k += str_cat(s.size(), ":", s);
      break;
    default: return "";  // graphs and unknown kinds: never equal
  }
  return k;
}

// Empty when the node must not be merged.
std::string node_key(const Node& n) {
  std::string k = str_cat(n.domain, "\x1f", n.op_type, "\x1f", n.inputs.size(), "\x1f");
  for (auto& in : n.inputs) k += str_cat(in.size(), ":", in);
  k += "\x1f";
  for (auto& o : n.outputs) k += o.empty() ? '0' : '1';
  for (auto& [name, a] : n.attrs) {
    std::string ak = attribute_key(a);
    if (ak.empty()) return "";
    k += str_cat("\x1f", name, "=", ak.size(), ":", ak);
  }
  return k;
}

}  // namespace

Status merge_common_subexpressions(Graph& g, PassContext& ctx) {
  GraphUses uses(g);
  int changes = 0;

  // Constants first.
  std::unordered_map<std::string, std::string> first_constant;
  std::unordered_map<std::string, std::string> rename;
  std::vector<std::string> names;
  for (auto& [name, v] : g.values) names.push_back(name);
  std::sort(names.begin(), names.end());  // deterministic choice of the kept name
  int merged_constants = 0;
  for (auto& name : names) {
    const ValueInfo& v = g.values[name];
    if (!v.constant || v.producer >= 0 || uses.is_graph_output(name) || is_overridable(g, name)) continue;
    if (int64_t(v.constant->nbytes()) > kMaxMergedConstantBytes) continue;
    auto [it, fresh] = first_constant.emplace(tensor_key(*v.constant), name);
    if (!fresh && uses.consumer_count(name) > 0) {
      rename[name] = it->second;
      ++merged_constants;
    }
  }
  for (auto& node : g.nodes)
    for (auto& in : node.inputs)
      if (auto it = rename.find(in); it != rename.end()) in = it->second;
  if (merged_constants > 0) {
    changes += merged_constants;
    ctx.note(str_cat("merged ", merged_constants, " duplicate constant(s)"));
    ctx.report.changes += merged_constants - 1;
  }

  // Then nodes, in topological order so whole duplicated chains collapse in one sweep.
  uses.rebuild(g);
  std::vector<bool> removed(g.nodes.size(), false);
  std::unordered_map<std::string, size_t> first_node;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& node = g.nodes[i];
    if (node.outputs.empty() || ctx.pinned(node)) continue;
    std::string key = node_key(node);
    if (key.empty()) continue;
    auto [it, fresh] = first_node.emplace(key, i);
    if (fresh) continue;
    bool feeds_output = false;
    for (auto& o : node.outputs) feeds_output = feeds_output || uses.is_graph_output(o);
    if (feeds_output) continue;
    const Node& kept = g.nodes[it->second];
    for (size_t o = 0; o < node.outputs.size(); ++o)
      if (!node.outputs[o].empty()) replace_uses(g, node.outputs[o], kept.outputs[o]);
    removed[i] = true;
    ++changes;
    ctx.note(str_cat("merged ", node.describe(), " into ", kept.describe()));
  }
  if (changes == 0) return Status::Ok();
  return commit_rewrite(g, removed, ctx.report.pass);
}

}  // namespace lowbit
