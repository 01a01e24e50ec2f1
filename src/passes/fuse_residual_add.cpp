// Pass fuse_residual_add: Add(Conv(x), r) with r of exactly the Conv output's shape (ResNet's skip
// connection) becomes Conv(x, W, B, r) with lowbit_residual = 1 (see src/ops/fused_activation.h): the kernel
// adds r while the output is still in cache, and a following activation can fuse after it. Runs before
// fuse_conv_activation, since the residual is added before the activation. Only plain float Conv nodes
// whose output nothing else reads; when both Add inputs are Convs, the later one takes the other as residual.
#include "ops/fused_activation.h"
#include "passes/graph_rewrite.h"
#include "passes/pass.h"

namespace lowbit {

Status fuse_residual_add(Graph& g, PassContext& ctx) {
  GraphUses uses(g);
  std::vector<bool> removed(g.nodes.size(), false);
  int changes = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& add = g.nodes[i];
    if (add.op_type != "Add" || !add.domain.empty() || ctx.pinned(add) || add.num_inputs() != 2) continue;
    if (add.inputs[0] == add.inputs[1]) continue;
    const ValueInfo* out = g.find(add.outputs[0]);
    if (!out || out->type.dtype != DType::kFloat32) continue;
    // Prefer the Conv produced last: its residual operand is then already computed where it runs.
    int best = -1;
    for (int k = 0; k < 2; ++k) {
      const ValueInfo* v = g.find(add.inputs[size_t(k)]);
      const ValueInfo* other = g.find(add.inputs[size_t(1 - k)]);
      if (!v || !other || v->producer < 0 || removed[size_t(v->producer)]) continue;
      const Node& conv = g.nodes[size_t(v->producer)];
      if (conv.op_type != "Conv" || !conv.domain.empty() || ctx.pinned(conv) || has_fused_attrs(conv)) continue;
      if (conv.outputs.size() != 1 || !uses.single_internal_use(add.inputs[size_t(k)])) continue;
      if (!same_shape(v->type, other->type) || !same_shape(v->type, out->type)) continue;
      if (best < 0 || v->producer > g.find(add.inputs[size_t(best)])->producer) best = k;
    }
    if (best < 0) continue;
    const size_t conv_index = size_t(g.find(add.inputs[size_t(best)])->producer);
    Node conv = std::move(g.nodes[conv_index]);
    conv.inputs.resize(4);
    conv.inputs[3] = add.inputs[size_t(1 - best)];
    FusedActivation f;
    f.residual = true;
    set_fused_activation(conv, f);
    conv.outputs[0] = add.outputs[0];
    ctx.note(str_cat("fused ", add.describe(), " into ", conv.describe(), " as a residual input"));
    // The fused Conv takes the Add's place: both of its operands exist there.
    removed[conv_index] = true;
    add = std::move(conv);
    ++changes;
  }
  if (changes == 0) return Status::Ok();
  return commit_rewrite(g, removed, ctx.report.pass);
}

}  // namespace lowbit
