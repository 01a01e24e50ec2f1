#include "runtime/session.h"

#include <set>
#include <unordered_map>

#include "ops/op_table.h"

namespace lowbit {

Session::Session(Graph g, SessionOptions o)
    : graph_(std::move(g)), options_(o), pool_(std::make_unique<ThreadPool>(o.threads)) {}

Expected<std::unique_ptr<Session>> Session::create(Graph graph, SessionOptions options) {
  for (auto& node : graph.nodes) {
    std::string why = unsupported_reason(node.domain, node.op_type, graph.opset);
    if (!why.empty()) return error(StatusCode::kUnsupported, node.describe(), ": ", why);
  }
  std::unique_ptr<Session> s(new Session(std::move(graph), options));
  // Liveness: free each intermediate after its last consumer so peak memory stays low.
  std::unordered_map<std::string, size_t> last_use;
  for (size_t i = 0; i < s->graph_.nodes.size(); ++i)
    for (auto& in : s->graph_.nodes[i].inputs)
      if (!in.empty()) last_use[in] = i;
  std::set<std::string> keep(s->graph_.outputs.begin(), s->graph_.outputs.end());
  s->release_after_.resize(s->graph_.nodes.size());
  for (auto& [name, i] : last_use)
    if (!keep.count(name)) s->release_after_[i].push_back(name);
  return s;
}

Status Session::check_inputs(const std::map<std::string, Tensor>& inputs) const {
  std::vector<std::string> problems;
  std::set<std::string> accepted(graph_.inputs.begin(), graph_.inputs.end());
  accepted.insert(graph_.overridable_initializers.begin(), graph_.overridable_initializers.end());
  std::string expected;
  for (auto& n : graph_.inputs) expected += (expected.empty() ? "" : ", ") + ("'" + n + "'");
  for (auto& [name, t] : inputs)
    if (!accepted.count(name)) problems.push_back(str_cat("'", name, "' is not an input of the model (inputs: ", expected, ")"));
  std::map<std::string, int64_t> symbols;  // symbolic dim -> value seen first
  std::map<std::string, std::string> symbol_source;
  auto check_one = [&](const std::string& name, const Tensor& t) {
    const ValueInfo* v = graph_.find(name);
    if (!v) return;
    const ValueType& want = v->type;
    if (t.dtype() != want.dtype) {
      problems.push_back(str_cat("input '", name, "' has type ", dtype_name(t.dtype()), " but the model expects ",
                                 dtype_name(want.dtype)));
      return;
    }
    if (!want.has_shape) return;
    if (t.rank() != want.rank()) {
      problems.push_back(str_cat("input '", name, "' has shape ", shape_to_string(t.shape()), " (rank ", t.rank(),
                                 ") but the model expects ", want.to_string(), " (rank ", want.rank(), ")"));
      return;
    }
    for (size_t d = 0; d < want.rank(); ++d) {
      const Dim& w = want.dims[d];
      if (w.known() && w.value != t.dim(d)) {
        problems.push_back(str_cat("input '", name, "' has shape ", shape_to_string(t.shape()), " but the model expects ",
                                   want.to_string(), " (dim ", d, " must be ", w.value, ")"));
        return;
      }
      if (!w.known() && !w.param.empty()) {
        auto [it, fresh] = symbols.emplace(w.param, t.dim(d));
        if (fresh) symbol_source[w.param] = name;
        else if (it->second != t.dim(d))
          problems.push_back(str_cat("input '", name, "' dim ", d, " ('", w.param, "') is ", t.dim(d), " but input '",
                                     symbol_source[w.param], "' set '", w.param, "' to ", it->second));
      }
    }
  };
  for (auto& name : graph_.inputs) {
    auto it = inputs.find(name);
    if (it == inputs.end()) {
      const ValueInfo* v = graph_.find(name);
      problems.push_back(str_cat("missing input '", name, "'", v ? " (" + v->type.to_string() + ")" : ""));
      continue;
    }
    check_one(name, it->second);
  }
  for (auto& name : graph_.overridable_initializers)
    if (auto it = inputs.find(name); it != inputs.end()) check_one(name, it->second);
  if (problems.empty()) return Status::Ok();
  std::string msg = problems.size() == 1 ? "bad input: " : str_cat(problems.size(), " bad inputs:");
  if (problems.size() == 1) msg += problems[0];
  else for (auto& p : problems) msg += "\n  - " + p;
  return Status(StatusCode::kInvalidArgument, msg);
}

Expected<std::map<std::string, Tensor>> Session::run(const std::map<std::string, Tensor>& inputs,
                                                     const NodeObserver& observer, const ValueObserver& value_observer) {
  LB_RETURN_IF_ERROR(check_inputs(inputs));
  if (options_.backend == Backend::kRef) return run_ref(inputs, observer, value_observer);
  std::vector<Shape> signature;
  for (auto& name : graph_.inputs) signature.push_back(inputs.at(name).shape());
  for (auto& name : graph_.overridable_initializers)
    if (auto it = inputs.find(name); it != inputs.end()) signature.push_back(it->second.shape());
  auto it = plans_.find(signature);
  if (it == plans_.end()) {
    if (plans_.size() >= 8) plans_.clear();  // many distinct shapes: do not hoard primitives and buffers
    PlanOptions po{options_.max_tensor_bytes, pool_.get(), options_.threads, true};
    it = plans_.emplace(signature, std::make_unique<Plan>(graph_, po)).first;
  }
  auto result = it->second->run(inputs, observer, &value_observer);
  last_onednn_nodes_ = it->second->onednn_node_count();
  last_peak_activation_bytes_ = it->second->peak_activation_bytes();
  return result;
}

Expected<std::map<std::string, Tensor>> Session::run_ref(const std::map<std::string, Tensor>& inputs,
                                                         const NodeObserver& observer, const ValueObserver& value_observer) {
  std::unordered_map<std::string, Tensor> env;
  for (auto& [name, v] : graph_.values)
    if (v.constant) env[name] = *v.constant;
  for (auto& [name, t] : inputs) env[name] = t;
  int64_t live = 0, peak = 0;  // bytes of node outputs alive (for last_run_peak_activation_bytes)

  for (size_t ni = 0; ni < graph_.nodes.size(); ++ni) {
    const Node& node = graph_.nodes[ni];
    auto start = std::chrono::steady_clock::now();
    std::vector<ValueType> in_types(node.inputs.size());
    InferContext ictx{node, graph_.opset, {}, {}, {}, options_.max_tensor_bytes};
    KernelContext kctx{node, graph_.opset, {}, {}, pool_.get()};
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const std::string& name = node.inputs[i];
      const Tensor* t = nullptr;
      if (!name.empty()) {
        auto it = env.find(name);
        if (it == env.end())
          return error(StatusCode::kInternal, node.describe(), ": input '", name, "' was not computed");
        t = &it->second;
        in_types[i] = ValueType::of(*t);
      }
      ictx.input_types.push_back(t ? &in_types[i] : nullptr);
      ictx.input_values.push_back(t);
      kctx.inputs.push_back(t);
    }
    ictx.output_types.resize(node.outputs.size());
    const OpSpec* op = find_op(node.domain, node.op_type);
    Status s = op->infer(ictx);
    if (!s.ok()) return s.with_context("at run time");
    std::vector<Tensor> outs(node.outputs.size());
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      if (node.outputs[i].empty()) { kctx.outputs.push_back(nullptr); continue; }
      const ValueType& vt = ictx.output_types[i];
      if (!vt.fully_known())
        return error(StatusCode::kInternal, node.describe(), ": output '", node.outputs[i],
                     "' has no concrete shape at run time (", vt.to_string(), ")");
      auto t = Tensor::create(vt.dtype, vt.concrete(), options_.max_tensor_bytes);
      if (!t) return t.status().with_context(str_cat(node.describe(), ": output '", node.outputs[i], "'"));
      outs[i] = std::move(*t);
      kctx.outputs.push_back(&outs[i]);
    }
    s = op->ref(kctx);
    if (!s.ok()) return s;
    for (size_t i = 0; i < node.outputs.size(); ++i)
      if (!node.outputs[i].empty()) {
        live += outs[i].nbytes();
        if (value_observer && outs[i].dtype() == DType::kFloat32 && value_observer.wants(node.outputs[i]))
          value_observer.observe(node.outputs[i], outs[i]);
        env[node.outputs[i]] = std::move(outs[i]);
      }
    peak = std::max(peak, live);
    for (auto& dead : release_after_[ni]) {
      const ValueInfo* v = graph_.find(dead);
      if (v && v->constant) continue;
      auto it = env.find(dead);
      if (it == env.end()) continue;
      if (!inputs.count(dead)) live -= it->second.nbytes();
      env.erase(it);
    }
    if (observer)
      observer(node, "ref", std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::map<std::string, Tensor> result;
  for (auto& name : graph_.outputs) {
    auto it = env.find(name);
    if (it == env.end()) return error(StatusCode::kInternal, "graph output '", name, "' was not computed");
    result[name] = it->second;
  }
  last_peak_activation_bytes_ = peak;
  last_onednn_nodes_ = 0;
  return result;
}

}  // namespace lowbit
