// Pass fuse_conv_activation: an activation applied to the output of a Conv / ConvTranspose / Gemm (that
// nothing else reads) is moved into the producer as lowbit_activation attributes (src/ops/fused_activation.h),
// saving one pass over the tensor. Fused: Relu, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Clip with
// constant bounds (Relu6), and the two-node patterns Mul(y, HardSigmoid(y)) (PyTorch / Paddle hard-swish)
// and Mul(y, Sigmoid(y)) (SiLU / Swish). float32 only (the fused parameters are floats).
#include <algorithm>
#include <limits>

#include "ops/fused_activation.h"
#include "passes/graph_rewrite.h"
#include "passes/pass.h"

namespace lowbit {

namespace {

bool fusable_producer(const Node& p) {
  if (!p.domain.empty() || p.outputs.size() != 1) return false;
  if (p.op_type != "Conv" && p.op_type != "ConvTranspose" && p.op_type != "Gemm") return false;
  auto existing = parse_fused_activation(p);
  return existing.ok() && !existing->active();
}

}  // namespace

Status fuse_conv_activation(Graph& g, PassContext& ctx) {
  GraphUses uses(g);
  std::vector<bool> removed(g.nodes.size(), false);
  int changes = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (removed[i] || !fusable_producer(g.nodes[i]) || ctx.pinned(g.nodes[i])) continue;
    const std::string y = g.nodes[i].outputs[0];
    const ValueInfo* yv = g.find(y);
    if (!yv || yv->type.dtype != DType::kFloat32 || uses.is_graph_output(y)) continue;
    std::vector<size_t> consumers;
    for (auto& u : uses.of(y))
      if (std::find(consumers.begin(), consumers.end(), u.node) == consumers.end()) consumers.push_back(u.node);
    FusedActivation act;
    size_t last = 0;                // the node whose output the fused producer takes over
    std::vector<size_t> absorbed;   // nodes removed by the fusion
    if (consumers.size() == 1) {
      const Node& n = g.nodes[consumers[0]];
      act = activation_of(g, n);
      if (!act.active() || ctx.pinned(n) || n.inputs[0] != y) continue;
      last = consumers[0];
      absorbed = {last};
    } else if (consumers.size() == 2) {
      // Mul(y, Act(y)) with Act = HardSigmoid or Sigmoid read only by the Mul.
      for (int k = 0; k < 2 && !act.active(); ++k) {
        const Node& gate = g.nodes[consumers[size_t(k)]];
        const Node& mul = g.nodes[consumers[size_t(1 - k)]];
        if (gate.op_type != "HardSigmoid" && gate.op_type != "Sigmoid") continue;
        if (!gate.domain.empty() || ctx.pinned(gate) || ctx.pinned(mul)) continue;
        if (mul.op_type != "Mul" || !mul.domain.empty() || mul.num_inputs() != 2) continue;
        if (!uses.single_internal_use(gate.outputs[0])) continue;
        const bool pattern = (mul.inputs[0] == y && mul.inputs[1] == gate.outputs[0]) ||
                             (mul.inputs[1] == y && mul.inputs[0] == gate.outputs[0]);
        if (!pattern) continue;
        act = activation_of(g, gate);
        act.kind = gate.op_type == "Sigmoid" ? FusedActivationKind::kSwish : FusedActivationKind::kHardSwish;
        last = consumers[size_t(1 - k)];
        absorbed = {consumers[0], consumers[1]};
      }
      if (!act.active()) continue;
    } else {
      continue;
    }
    Node fused = std::move(g.nodes[i]);
    auto existing = parse_fused_activation(fused);  // keeps a residual flag
    act.residual = existing.ok() && existing.value().residual;
    set_fused_activation(fused, act);
    std::string what = g.nodes[last].describe();
    if (absorbed.size() == 2)
      what = str_cat(what, " with ", g.nodes[absorbed[0] == last ? absorbed[1] : absorbed[0]].describe());
    fused.outputs[0] = g.nodes[last].outputs[0];
    ctx.note(str_cat("fused ", what, " into ", fused.describe(), " (", describe_fused_activation(act), ")"));
    removed[i] = true;
    for (size_t a : absorbed) removed[a] = a != last;
    g.nodes[last] = std::move(fused);  // at the activation's place, after everything it reads
    ++changes;
  }
  if (changes == 0) return Status::Ok();
  return commit_rewrite(g, removed, ctx.report.pass);
}

}  // namespace lowbit
