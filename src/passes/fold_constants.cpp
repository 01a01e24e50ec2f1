// Pass fold_constants: a node whose inputs are all constants is evaluated once with its reference kernel
// (op_table's ref) and replaced by the constant result. Shape and Size of tensors whose dims are statically
// known fold too, which is what turns PyTorch's Shape->Gather->Unsqueeze->Concat->Reshape into a static
// Reshape on fixed-size models (fold_shape_subgraphs handles symbolic dims).
// Never folded: graph outputs (their node stays), nodes reading an overridable initializer, pinned nodes,
// results over OptimizeOptions::max_folded_bytes (a folded Expand/Tile/ConstantOfShape could be huge).
#include <algorithm>

#include "ops/op_table.h"
#include "passes/graph_rewrite.h"
#include "passes/pass.h"

namespace lowbit {

namespace {

// Shape / Size of an input whose (relevant) dims are all known, without reading the input's data.
std::vector<Tensor> fold_shape_of(const Graph& g, const Node& node) {
  if (!node.domain.empty() || !node.has_input(0) || (node.op_type != "Shape" && node.op_type != "Size")) return {};
  const ValueInfo* v = g.find(node.inputs[0]);
  if (!v || !v->type.has_shape) return {};
  const std::vector<Dim>& dims = v->type.dims;
  const int64_t rank = int64_t(dims.size());
  int64_t start = 0, end = rank;
  if (node.op_type == "Shape" && g.opset >= 15) {  // start/end clamp like Slice
    start = node.attr_int("start", 0);
    end = node.attr_int("end", rank);
    if (start < 0) start += rank;
    if (end < 0) end += rank;
    start = std::clamp<int64_t>(start, 0, rank);
    end = std::clamp<int64_t>(end, start, rank);
  }
  std::vector<int64_t> values;
  int64_t size = 1;
  for (int64_t i = start; i < end; ++i) {
    if (!dims[size_t(i)].known()) return {};
    values.push_back(dims[size_t(i)].value);
    size *= dims[size_t(i)].value;
  }
  if (node.op_type == "Size") return {Tensor::from_vector(DType::kInt64, {}, std::vector<int64_t>{size})};
  return {Tensor::from_vector(DType::kInt64, {int64_t(values.size())}, values)};
}

}  // namespace

Status fold_constants(Graph& g, PassContext& ctx) {
  GraphUses uses(g);
  std::vector<bool> removed(g.nodes.size(), false);
  int changes = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& node = g.nodes[i];
    if (ctx.pinned(node)) continue;
    bool feeds_output = false;
    for (auto& o : node.outputs) feeds_output = feeds_output || uses.is_graph_output(o);
    if (feeds_output) continue;
    std::vector<Tensor> outs = fold_shape_of(g, node);
    if (outs.empty()) outs = evaluate_node(g, node, ctx.options.max_folded_bytes);
    if (outs.empty()) continue;
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      if (node.outputs[o].empty()) continue;
      ValueInfo& v = g.values[node.outputs[o]];
      v.name = node.outputs[o];
      v.type = ValueType::of(outs[o]);
      v.constant = std::move(outs[o]);
      v.initializer = true;
    }
    removed[i] = true;
    ++changes;
    // Constant nodes are just materialized; say so only for real computation.
    if (node.op_type == "Constant") ++ctx.report.changes;
    else ctx.note(str_cat("folded ", node.describe()));
  }
  if (changes == 0) return Status::Ok();
  int constant_nodes = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) constant_nodes += removed[i] && g.nodes[i].op_type == "Constant";
  if (constant_nodes > 0) ctx.report.notes.push_back(str_cat("turned ", constant_nodes, " Constant node(s) into initializers"));
  return commit_rewrite(g, removed, ctx.report.pass);
}

}  // namespace lowbit
