// Pass eliminate_dead_code: nodes none of whose outputs reach a graph output are removed (every supported op
// is free of side effects), and so are initializers no node reads any more (e.g. weights replaced by
// BN-folded copies). Graph inputs and overridable initializers always stay.
#include <unordered_set>

#include "passes/graph_rewrite.h"
#include "passes/pass.h"

namespace lowbit {

Status eliminate_dead_code(Graph& g, PassContext& ctx) {
  std::unordered_set<std::string> needed(g.outputs.begin(), g.outputs.end());
  std::vector<bool> removed(g.nodes.size(), false);
  int dead_nodes = 0;
  for (size_t i = g.nodes.size(); i-- > 0;) {
    const Node& node = g.nodes[i];
    bool live = ctx.pinned(node);
    for (auto& o : node.outputs) live = live || (!o.empty() && needed.count(o));
    if (!live) {
      removed[i] = true;
      ++dead_nodes;
      ctx.note(str_cat("removed unused ", node.describe()));
      continue;
    }
    for (auto& in : node.inputs)
      if (!in.empty()) needed.insert(in);
  }
  int dead_constants = 0;
  std::unordered_set<std::string> keep(g.inputs.begin(), g.inputs.end());
  keep.insert(g.overridable_initializers.begin(), g.overridable_initializers.end());
  for (auto& [name, v] : g.values)
    if (v.constant && v.producer < 0 && !needed.count(name) && !keep.count(name)) ++dead_constants;
  if (dead_constants > 0) ctx.note(str_cat("removed ", dead_constants, " unused constant(s)"));
  if (dead_nodes == 0 && dead_constants == 0) return Status::Ok();
  return commit_rewrite(g, removed, ctx.report.pass);
}

}  // namespace lowbit
