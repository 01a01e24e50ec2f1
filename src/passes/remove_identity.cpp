// Pass remove_identity: Identity, Dropout at inference (its mask output unused, training_mode absent or a
// constant false) and Cast to the type the input already has copy their input unchanged, so consumers
// read the input directly. When the copy is a graph output, the input's producer writes the output name
// instead (the graph output keeps its name); a copy of a graph input or constant into a graph output stays.
#include "passes/graph_rewrite.h"
#include "passes/pass.h"

namespace lowbit {

namespace {

bool is_noop(const Graph& g, const Node& node, const GraphUses& uses) {
  if (!node.domain.empty() || !node.has_input(0) || node.outputs.empty() || node.outputs[0].empty()) return false;
  if (node.op_type == "Identity") return true;
  if (node.op_type == "Cast") {
    const ValueInfo* in = g.find(node.inputs[0]);
    return in && in->type.dtype != DType::kUndefined && int64_t(in->type.dtype) == node.attr_int("to", -1);
  }
  if (node.op_type == "Dropout") {
    for (size_t i = 1; i < node.outputs.size(); ++i)
      if (!node.outputs[i].empty() && (uses.consumer_count(node.outputs[i]) > 0 || uses.is_graph_output(node.outputs[i])))
        return false;
    if (node.has_input(2)) {  // training_mode (opset 12+)
      const Tensor* t = constant_value(g, node.inputs[2]);
      if (!t || t->numel() != 1 || t->get_as_int64(0) != 0) return false;
    }
    return true;
  }
  return false;
}

}  // namespace

Status remove_identity(Graph& g, PassContext& ctx) {
  GraphUses uses(g);
  std::vector<bool> removed(g.nodes.size(), false);
  int changes = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& node = g.nodes[i];
    if (ctx.pinned(node) || !is_noop(g, node, uses)) continue;
    const std::string in = node.inputs[0], out = node.outputs[0];
    if (!uses.is_graph_output(out)) {
      replace_uses(g, out, in);
    } else {
      // The producer of `in` takes over the output name; only possible for a node's own (non-output) value.
      const ValueInfo* v = g.find(in);
      if (!v || v->producer < 0 || uses.is_graph_output(in) || is_overridable(g, in)) continue;
      Node& producer = g.nodes[size_t(v->producer)];
      if (ctx.pinned(producer)) continue;
      for (auto& o : producer.outputs)
        if (o == in) o = out;
      replace_uses(g, in, out);
    }
    removed[i] = true;
    ++changes;
    ctx.note(str_cat("removed ", node.describe()));
    uses.rebuild(g);
  }
  if (changes == 0) return Status::Ok();
  return commit_rewrite(g, removed, ctx.report.pass);
}

}  // namespace lowbit
