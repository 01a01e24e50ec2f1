#include "ir/shape_inference.h"

#include <algorithm>
#include <set>

#include "ops/op_table.h"
#include "ops/shape_ops_util.h"

namespace lowbit {

namespace {
// Values computable at import (Constant nodes, and shape arithmetic on constants such as
// Shape->Gather->Concat on static shapes) are evaluated with the reference kernel so later nodes'
// inference sees them (a Reshape whose target comes from such a chain gets a static shape).
// Only small results are kept; real constant folding is a pass (src/passes).
constexpr int64_t kMaxFoldedElements = 1 << 16;

std::vector<Tensor> fold_small_constant(const Node& node, const InferContext& ctx) {
  // Shape/Size of a statically shaped value need only its type, not its data.
  if ((node.op_type == "Shape" || node.op_type == "Size") && ctx.has_input(0) && ctx.in(0).fully_known()) {
    Tensor t = shape_ops::fold_shape_or_size(node, ctx.opset, ctx.in(0));
    if (t.defined()) return {t};
  }
  // Kernels may assume every output is present: leave nodes with omitted outputs to run time.
  if (node.outputs.empty()) return {};
  for (auto& o : node.outputs)
    if (o.empty()) return {};
  bool all_known = node.op_type == "Constant" || node.num_inputs() > 0;
  for (size_t i = 0; i < ctx.input_types.size() && all_known; ++i)
    if (ctx.input_types[i] && !ctx.input_values[i]) all_known = false;
  if (!all_known) return {};
  std::vector<Tensor> outs(node.outputs.size());
  KernelContext k{node, ctx.opset, ctx.input_values, {}, nullptr};
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    const ValueType& t = ctx.output_types[i];
    if (node.outputs[i].empty()) { k.outputs.push_back(nullptr); continue; }
    if (!t.fully_known()) return {};
    auto n = checked_numel(t.concrete());
    if (!n || (*n > kMaxFoldedElements && node.op_type != "Constant")) return {};
    auto tensor = Tensor::create(t.dtype, t.concrete(), ctx.max_tensor_bytes);
    if (!tensor) return {};
    outs[i] = std::move(*tensor);
    k.outputs.push_back(&outs[i]);
  }
  if (!find_op(node.domain, node.op_type)->ref(k).ok()) return {};
  return outs;
}
}  // namespace

std::vector<GraphIssue> validate_and_infer(Graph& g, int64_t max_tensor_bytes) {
  std::vector<GraphIssue> issues;
  auto add = [&](StatusCode c, std::string m) { issues.push_back({c, std::move(m)}); };

  std::set<std::string> defined;
  for (auto& in : g.inputs) defined.insert(in);
  for (auto& [name, v] : g.values)
    if (v.constant) defined.insert(name);

  for (auto& node : g.nodes) {
    bool node_ok = true;
    std::string reason = unsupported_reason(node.domain, node.op_type, g.opset);
    if (!reason.empty()) {
      add(StatusCode::kUnsupported,
          str_cat(node.describe(), " (domain '", node.domain.empty() ? "ai.onnx" : node.domain, "', opset ", g.opset,
                  "): ", reason));
      node_ok = false;
    }
    InferContext ctx{node, g.opset, {}, {}, {}, max_tensor_bytes};
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const std::string& in = node.inputs[i];
      if (in.empty()) {
        ctx.input_types.push_back(nullptr);
        ctx.input_values.push_back(nullptr);
        continue;
      }
      if (!defined.count(in)) {
        add(StatusCode::kInvalidModel, str_cat(node.describe(), ": input ", i, " '", in,
                                               "' is not a graph input, an initializer or any node's output"));
        node_ok = false;
        ctx.input_types.push_back(nullptr);
        ctx.input_values.push_back(nullptr);
        continue;
      }
      const ValueInfo* v = g.find(in);
      if (!v || v->type.dtype == DType::kUndefined) node_ok = false;  // upstream failure already reported
      ctx.input_types.push_back(v ? &v->type : nullptr);
      // An initializer the user may override at run time is not a constant for inference.
      bool overridable = std::find(g.overridable_initializers.begin(), g.overridable_initializers.end(), in) !=
                         g.overridable_initializers.end();
      ctx.input_values.push_back(v && v->constant && !overridable ? &*v->constant : nullptr);
    }
    ctx.output_types.resize(node.outputs.size());
    if (node_ok) {
      Status s = find_op(node.domain, node.op_type)->infer(ctx);
      if (!s.ok()) {
        add(s.code(), s.message());
        node_ok = false;
      }
    }
    std::vector<Tensor> folded;
    if (node_ok) folded = fold_small_constant(node, ctx);
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      const std::string& out = node.outputs[i];
      if (out.empty()) continue;
      defined.insert(out);
      ValueInfo& v = g.values[out];
      v.name = out;
      if (node_ok) {
        // Keep a declared (value_info) shape when inference could not tell more.
        if (ctx.output_types[i].dtype != DType::kUndefined &&
            (ctx.output_types[i].has_shape || !v.type.has_shape || v.type.dtype != ctx.output_types[i].dtype))
          v.type = ctx.output_types[i];
        if (i < folded.size() && folded[i].defined()) v.constant = std::move(folded[i]);
      } else {
        v.type = ValueType();
      }
    }
  }
  for (auto& out : g.outputs)
    if (!defined.count(out))
      add(StatusCode::kInvalidModel, str_cat("graph output '", out, "' is not produced by any node or initializer"));
  return issues;
}

Status issues_to_status(const std::vector<GraphIssue>& issues, const std::string& what) {
  if (issues.empty()) return Status::Ok();
  bool all_unsupported = true;
  for (auto& i : issues) all_unsupported &= i.code == StatusCode::kUnsupported;
  std::string msg = str_cat(issues.size(), issues.size() == 1 ? " problem" : " problems", " in ", what, ":");
  for (auto& i : issues) msg += "\n  - " + i.message;
  return Status(all_unsupported ? StatusCode::kUnsupported : StatusCode::kInvalidModel, msg);
}

}  // namespace lowbit
