#include "quant/quant_plan.h"

#include <algorithm>
#include <unordered_set>

#include "passes/graph_rewrite.h"

namespace lowbit::quant {
namespace {

bool one_of(const std::string& s, std::initializer_list<const char*> names) {
  for (auto* n : names)
    if (s == n) return true;
  return false;
}

bool is_compute(const std::string& op) { return one_of(op, {"Conv", "ConvTranspose", "Gemm", "MatMul"}); }
bool is_integer_op(const std::string& op) {
  return one_of(op, {"Add", "Mul", "Concat", "AveragePool", "GlobalAveragePool", "Sigmoid", "HardSigmoid",
                     "HardSwish", "Tanh"});
}
bool is_data_movement(const std::string& op) {
  return one_of(op, {"MaxPool", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Slice", "Split",
                     "Resize", "Upsample"});
}
bool is_fused_activation(const std::string& op) { return one_of(op, {"Relu", "Clip", "LeakyRelu"}); }

bool is_float(const Graph& g, const std::string& name) {
  const ValueInfo* v = g.find(name);
  return v && v->type.dtype == DType::kFloat32;
}
// A run-time float tensor (not a constant the quantizer could fold into an initializer).
bool is_activation(const Graph& g, const std::string& name) {
  return !name.empty() && is_float(g, name) && !constant_value(g, name);
}
bool is_float_constant(const Graph& g, const std::string& name) {
  const Tensor* t = name.empty() ? nullptr : constant_value(g, name);
  return t && t->dtype() == DType::kFloat32;
}

// The inputs of a node that carry activations (which the plan quantizes when the node is quantized).
std::vector<std::string> data_inputs(const Graph& g, const Node& n) {
  std::vector<std::string> out;
  if (is_data_movement(n.op_type)) {
    if (is_activation(g, n.inputs[0])) out.push_back(n.inputs[0]);
    return out;
  }
  for (auto& in : n.inputs)
    if (is_activation(g, in)) out.push_back(in);
  return out;
}

// Empty when the node can be quantized, else why not.
std::string ineligible_reason(const Graph& g, const Node& n, const QuantPlanOptions& o) {
  const std::string& op = n.op_type;
  if (!n.domain.empty()) return "custom domain '" + n.domain + "'";
  if (o.exclude.count(n.name) || o.exclude.count(op)) return "kept in float by --exclude/--precision";
  if (is_fused_activation(op)) return "fused into the preceding quantized op (its output is quantized instead)";
  if (!is_compute(op) && !is_integer_op(op) && !is_data_movement(op)) {
    bool any_float = false;
    for (auto& out : n.outputs) any_float |= !out.empty() && is_float(g, out);
    return any_float ? "no integer kernel for " + op : "not a float op";
  }
  for (auto& out : n.outputs)
    if (!out.empty() && !is_float(g, out)) return "output is not float32";
  if (n.num_inputs() == 0 || !is_activation(g, n.inputs[0])) {
    if (!(op == "MatMul" && n.num_inputs() == 2 && is_activation(g, n.inputs[1])))
      return "first input is not a float activation";
  }
  if (op == "Conv" || op == "ConvTranspose" || op == "Gemm") {
    if (!is_float_constant(g, n.inputs.size() > 1 ? n.inputs[1] : "")) return "weight is not a constant";
  }
  if (op == "Gemm" && (n.attr_int("transA", 0) != 0)) return "Gemm with transA";
  if (op == "Add" || op == "Mul" || op == "Concat") {
    for (auto& in : n.inputs)
      if (!in.empty() && !is_activation(g, in)) return "an operand is a constant";
  }
  return "";
}

// Output-channel axis of a weight for per-channel scales (-1: per tensor).
int64_t weight_axis(const Node& n, const Tensor& w, bool per_channel) {
  if (!per_channel) return -1;
  if (n.op_type == "Conv") return w.rank() >= 2 ? 0 : -1;
  if (n.op_type == "ConvTranspose") return w.rank() >= 2 ? 1 : -1;
  if (n.op_type == "Gemm") return w.rank() == 2 ? (n.attr_int("transB", 0) ? 0 : 1) : -1;
  if (n.op_type == "MatMul") return w.rank() == 2 ? 1 : -1;
  return -1;
}

}  // namespace

const char* quant_category(const std::string& op_type) {
  if (is_compute(op_type)) return "compute";
  if (is_integer_op(op_type)) return "integer";
  if (is_data_movement(op_type)) return "data movement";
  if (is_fused_activation(op_type)) return "fused activation";
  return "";
}

std::string QuantPlan::params_source(const std::string& name) const {
  std::string cur = name;
  for (size_t guard = 0; guard <= shared_params.size(); ++guard) {
    auto it = shared_params.find(cur);
    if (it == shared_params.end()) return cur;
    cur = it->second;
  }
  return cur;
}

Expected<QuantPlan> plan_quantization(const Graph& g, const QuantPlanOptions& o) {
  {  // every --exclude entry must name something
    std::set<std::string> known;
    for (auto& n : g.nodes) known.insert({n.name, n.op_type});
    std::vector<std::string> unknown;
    for (auto& e : o.exclude)
      if (!known.count(e)) unknown.push_back("'" + e + "'");
    if (!unknown.empty()) {
      std::string list;
      for (auto& u : unknown) list += (list.empty() ? "" : ", ") + u;
      return error(StatusCode::kInvalidArgument, "--exclude/--precision names no node or op type of the model: ", list,
                   " (see `lowbit inspect MODEL --optimized` for node names)");
    }
  }
  GraphUses uses(g);
  const size_t n_nodes = g.nodes.size();
  std::vector<std::string> reason(n_nodes);
  std::vector<bool> quantized(n_nodes, false);
  for (size_t i = 0; i < n_nodes; ++i) reason[i] = ineligible_reason(g, g.nodes[i], o);

  if (!o.weight_only) {
    // Reverse topological order: a data-movement node joins the int8 chain when one of its consumers did.
    for (size_t k = n_nodes; k-- > 0;) {
      const Node& n = g.nodes[k];
      if (!reason[k].empty()) continue;
      if (!is_data_movement(n.op_type)) { quantized[k] = true; continue; }
      bool consumer_quantized = false;
      for (auto& out : n.outputs)
        for (auto& use : uses.of(out)) consumer_quantized |= quantized[use.node];
      if (consumer_quantized) quantized[k] = true;
      else reason[k] = "data movement outside an int8 chain (no quantized consumer)";
    }
  } else {
    for (size_t k = 0; k < n_nodes; ++k) {
      if (reason[k].empty() && is_compute(g.nodes[k].op_type)) quantized[k] = true;
      else if (reason[k].empty()) reason[k] = "--weight-only quantizes weights only";
    }
  }

  QuantPlan plan;
  std::unordered_set<std::string> chosen;
  auto add_activation = [&](const std::string& name) {
    if (chosen.insert(name).second) plan.activations.push_back(name);
  };
  std::map<std::string, size_t> weight_index;
  if (o.quantize_inputs && !o.weight_only)
    for (auto& in : g.inputs)
      if (is_float(g, in)) add_activation(in);

  for (size_t k = 0; k < n_nodes; ++k) {
    const Node& n = g.nodes[k];
    if (!quantized[k]) {
      plan.float_nodes.emplace_back(n.name, reason[k]);
      continue;
    }
    plan.quantized_nodes.push_back(n.name);
    if (!o.weight_only)
      for (auto& in : data_inputs(g, n)) add_activation(in);
    if (is_compute(n.op_type)) {
      const bool has_bias_slot = n.op_type != "MatMul";
      for (size_t i = 0; i < n.inputs.size(); ++i) {
        const std::string& in = n.inputs[i];
        if (!is_float_constant(g, in) || (has_bias_slot && i == 2)) continue;
        if (weight_index.count(in)) continue;
        weight_index[in] = plan.weights.size();
        plan.weights.push_back({in, weight_axis(n, *constant_value(g, in), o.per_channel_weights), n.name,
                                o.weight_qmax});
      }
      // Bias: int32 with scale s_input x s_weight, so it needs both of those quantized.
      const bool gemm_plain = n.op_type != "Gemm" || (n.attr_float("alpha", 1.f) == 1.f && n.attr_float("beta", 1.f) == 1.f);
      if (!o.weight_only && has_bias_slot && gemm_plain && n.has_input(2) && is_float_constant(g, n.inputs[2]) &&
          chosen.count(n.inputs[0]) && weight_index.count(n.inputs[1])) {
        const Tensor* b = constant_value(g, n.inputs[2]);
        const Tensor* w = constant_value(g, n.inputs[1]);
        const WeightQuant& wq = plan.weights[weight_index[n.inputs[1]]];
        // One bias value per output channel, matching the weight's per-channel scales (ConvTranspose with
        // groups has fewer weight channels than biases: that bias stays float).
        const bool vector = b->rank() == 1 || (b->rank() == 2 && b->dim(0) == 1);
        if (vector && (wq.axis < 0 || b->numel() == w->dim(size_t(wq.axis))))
          plan.biases.push_back({n.inputs[2], n.inputs[0], n.inputs[1], n.name});
      }
    }
    if (is_data_movement(n.op_type) && !o.weight_only)
      for (auto& out : n.outputs)
        if (!out.empty()) plan.shared_params[out] = n.inputs[0];
  }
  if (!o.weight_only) {
    if (o.quantize_outputs)
      for (auto& out : g.outputs)
        if (is_float(g, out)) add_activation(out);
    // Shared parameters only make sense between quantized tensors.
    for (auto it = plan.shared_params.begin(); it != plan.shared_params.end();) {
      if (!chosen.count(it->first) || !chosen.count(it->second)) it = plan.shared_params.erase(it);
      else ++it;
    }
    // Keep activations in topological order (graph inputs first, then node outputs).
    std::map<std::string, size_t> order;
    for (auto& in : g.inputs) order.emplace(in, 0);
    for (size_t k = 0; k < n_nodes; ++k)
      for (auto& out : g.nodes[k].outputs) order.emplace(out, k + 1);
    std::stable_sort(plan.activations.begin(), plan.activations.end(),
                     [&](const std::string& a, const std::string& b) { return order[a] < order[b]; });
  }
  return plan;
}

}  // namespace lowbit::quant
