// lowbit inspect MODEL [--json]
// Imports without validation (so a model with unsupported ops still shows everything), then runs
// validate_and_infer itself and lists every problem. Exit code 1 only if the file cannot be parsed.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>

#include "ir/shape_inference.h"
#include "ops/op_table.h"
#include "passes/optimizer.h"
#include "runtime/precision.h"
#include "quant/qdq_inspect.h"
#include "tools/cli_common.h"

namespace lowbit::cli {
namespace {

using json = nlohmann::ordered_json;

struct OpCount {
  std::string op_type, domain;
  int count = 0;
};

struct UnsupportedOp {
  std::string op_type, domain, reason;
  std::vector<std::string> nodes;
};

struct ParamStats {
  int64_t count = 0, bytes = 0, tensors = 0;
};

struct ModelSummary {
  std::vector<OpCount> histogram;  // most frequent first
  std::map<std::string, ParamStats> params_by_dtype;
  ParamStats params;
  ParamStats constant_nodes;  // weights stored as Constant nodes (PaddlePaddle exports do this)
  std::vector<UnsupportedOp> unsupported;
  std::vector<GraphIssue> issues;
};

ModelSummary summarize(Graph& g) {
  ModelSummary s;
  std::map<std::pair<std::string, std::string>, int> counts;
  std::map<std::pair<std::string, std::string>, UnsupportedOp> unsupported;
  for (auto& n : g.nodes) {
    ++counts[{n.domain, n.op_type}];
    std::string why = unsupported_reason(n.domain, n.op_type, g.opset);
    if (why.empty()) continue;
    auto& u = unsupported[{n.domain, n.op_type}];
    u.op_type = n.op_type;
    u.domain = n.domain;
    u.reason = why;
    u.nodes.push_back(n.name);
  }
  for (auto& [key, c] : counts) s.histogram.push_back({key.second, key.first, c});
  std::stable_sort(s.histogram.begin(), s.histogram.end(),
                   [](const OpCount& a, const OpCount& b) { return a.count > b.count; });
  for (auto& [key, u] : unsupported) s.unsupported.push_back(u);

  // Parameters are the file's initializers only (not Constant nodes or folded values).
  for (auto& [name, v] : g.values) {
    if (!v.initializer || !v.constant) continue;
    ParamStats& d = s.params_by_dtype[dtype_name(v.constant->dtype())];
    for (ParamStats* p : {&d, &s.params}) {
      p->count += v.constant->numel();
      p->bytes += int64_t(v.constant->nbytes());
      p->tensors += 1;
    }
  }
  s.issues = validate_and_infer(g);  // also evaluates Constant nodes
  for (auto& n : g.nodes) {
    if (n.op_type != "Constant" || !(n.domain.empty() || n.domain == "ai.onnx")) continue;
    for (auto& out : n.outputs) {
      const Tensor* t = g.constant(out);
      if (!t) continue;
      s.constant_nodes.count += t->numel();
      s.constant_nodes.bytes += int64_t(t->nbytes());
      s.constant_nodes.tensors += 1;
    }
  }
  return s;
}

std::string op_label(const std::string& domain, const std::string& op_type) {
  return domain.empty() || domain == "ai.onnx" ? op_type : domain + "::" + op_type;
}

json dims_json(const ValueType& t) {
  if (!t.has_shape) return nullptr;
  json dims = json::array();
  for (auto& d : t.dims) {
    if (d.known())
      dims.push_back(d.value);
    else
      dims.push_back(d.param.empty() ? "?" : d.param);
  }
  return dims;
}

json values_json(const Graph& g, const std::vector<std::string>& names) {
  json arr = json::array();
  for (auto& n : names) {
    const ValueInfo* v = g.find(n);
    ValueType t = v ? v->type : ValueType();
    arr.push_back({{"name", n}, {"dtype", dtype_name(t.dtype)}, {"shape", dims_json(t)}, {"type", t.to_string()}});
  }
  return arr;
}

json model_json(const Graph& g, const std::string& path, const ModelSummary& s) {
  json j;
  j["file"] = path;
  j["producer"] = {{"name", g.producer_name}, {"version", g.producer_version}};
  j["ir_version"] = g.ir_version;
  j["model_version"] = g.model_version;
  j["domain"] = g.domain;
  j["graph_name"] = g.graph_name;
  json opsets = json::object();
  for (auto& [domain, version] : g.opset_imports) opsets[domain.empty() ? "ai.onnx" : domain] = version;
  j["opsets"] = opsets;
  j["inputs"] = values_json(g, g.inputs);
  j["outputs"] = values_json(g, g.outputs);
  j["nodes"] = g.nodes.size();
  json hist = json::object();
  for (auto& h : s.histogram) hist[op_label(h.domain, h.op_type)] = h.count;
  j["op_histogram"] = hist;
  json by_dtype = json::object();
  for (auto& [dtype, p] : s.params_by_dtype)
    by_dtype[dtype] = {{"count", p.count}, {"bytes", p.bytes}, {"tensors", p.tensors}};
  j["parameters"] = {
      {"count", s.params.count}, {"bytes", s.params.bytes}, {"tensors", s.params.tensors}, {"by_dtype", by_dtype}};
  j["constant_nodes"] = {
      {"count", s.constant_nodes.count}, {"bytes", s.constant_nodes.bytes}, {"tensors", s.constant_nodes.tensors}};
  json unsupported = json::array();
  for (auto& u : s.unsupported)
    unsupported.push_back({{"op_type", u.op_type},
                           {"domain", u.domain.empty() ? "ai.onnx" : u.domain},
                           {"count", u.nodes.size()},
                           {"reason", u.reason},
                           {"nodes", u.nodes}});
  j["unsupported_ops"] = unsupported;
  json issues = json::array();
  for (auto& i : s.issues) issues.push_back({{"code", status_code_name(i.code)}, {"message", i.message}});
  j["issues"] = issues;
  j["runnable"] = s.issues.empty();
  json quant = json::array();
  for (auto& q : quant::describe_quantized_tensors(g))
    quant.push_back({{"tensor", q.tensor}, {"role", q.role}, {"dtype", dtype_name(q.dtype)}, {"axis", q.axis},
                     {"scales", q.scales}, {"zero_points", q.zero_points}, {"real_range", {q.real_lo, q.real_hi}},
                     {"meaning", q.meaning}});
  j["quantized_tensors"] = quant;
  json meta = json::object();
  for (auto& [k, v] : g.metadata_props) meta[k] = v;
  j["metadata"] = meta;
  return j;
}

// The graph after the optimizer: per-op counts before -> after and what each pass changed.
struct OptimizedView {
  Status status;
  std::map<std::string, int> before, after;
  std::vector<PassReport> reports;
  Graph graph;
};

OptimizedView optimize_view(const Graph& imported, const OptimizeFlags& flags) {
  OptimizedView v;
  v.graph = imported;
  v.before = op_counts(v.graph);
  OptimizeFlags on = flags;
  on.disabled = false;
  v.status = optimize_model(v.graph, on, &v.reports);
  v.after = op_counts(v.graph);
  return v;
}

void print_text(const Graph& g, const std::string& path, const ModelSummary& s) {
  std::ostream& o = std::cout;
  auto row = [&](const std::string& label, const std::string& value) {
    std::printf("%-14s%s\n", (label + ":").c_str(), value.c_str());
  };
  std::string producer = g.producer_name.empty() ? "(unknown)" : g.producer_name;
  if (!g.producer_version.empty()) producer += " " + g.producer_version;
  std::string opsets;
  for (auto& [domain, version] : g.opset_imports)
    opsets += str_cat(opsets.empty() ? "" : ", ", domain.empty() ? "ai.onnx" : domain, " ", version);
  row("Model", path);
  row("Producer", producer);
  row("IR version", std::to_string(g.ir_version));
  row("Opsets", opsets.empty() ? "(none)" : opsets);
  row("Graph", str_cat(g.graph_name.empty() ? "(unnamed)" : "'" + g.graph_name + "'", ", ", g.nodes.size(), " nodes"));
  std::fflush(stdout);

  auto print_values = [&](const char* title, const std::vector<std::string>& names) {
    o << title << " (" << names.size() << "):\n";
    size_t width = 4;
    for (auto& n : names) width = std::max(width, n.size());
    for (auto& n : names) {
      const ValueInfo* v = g.find(n);
      std::string pad(width - n.size() + 2, ' ');
      bool unknown = !v || (v->type.dtype == DType::kUndefined && !v->type.has_shape);
      o << "  " << n << pad << (unknown ? "unknown (not inferred)" : v->type.to_string()) << "\n";
    }
  };
  print_values("Inputs", g.inputs);
  print_values("Outputs", g.outputs);

  o << "Parameters:   " << with_thousands(s.params.count) << " values in " << s.params.tensors << " initializers, "
    << human_bytes(s.params.bytes) << "\n";
  for (auto& [dtype, p] : s.params_by_dtype) {
    char line[160];
    std::snprintf(line, sizeof line, "  %-10s %16s values %12s\n", dtype.c_str(), with_thousands(p.count).c_str(),
                  human_bytes(p.bytes).c_str());
    o << line;
  }

  if (s.constant_nodes.tensors > 0)
    o << "Constants:    " << with_thousands(s.constant_nodes.count) << " values in " << s.constant_nodes.tensors
      << " Constant nodes, " << human_bytes(s.constant_nodes.bytes) << " (not counted as parameters)\n";
  o << "Operators (" << s.histogram.size() << " types, " << g.nodes.size() << " nodes):\n";
  size_t width = 4;
  for (auto& h : s.histogram) width = std::max(width, op_label(h.domain, h.op_type).size());
  for (auto& h : s.histogram) {
    std::string label = op_label(h.domain, h.op_type);
    o << "  " << label << std::string(width - label.size() + 2, ' ') << h.count << "\n";
  }

  if (s.unsupported.empty()) {
    o << "Unsupported operators: none\n";
  } else {
    o << "Unsupported operators (" << s.unsupported.size() << "):\n";
    for (auto& u : s.unsupported) {
      o << "  " << op_label(u.domain, u.op_type) << " x" << u.nodes.size() << ": " << u.reason << "\n";
      o << "    nodes: ";
      for (size_t i = 0; i < u.nodes.size() && i < 5; ++i) o << (i ? ", " : "") << "'" << u.nodes[i] << "'";
      if (u.nodes.size() > 5) o << ", ... (" << u.nodes.size() - 5 << " more)";
      o << "\n";
    }
  }
  auto quantized = quant::describe_quantized_tensors(g);
  if (!quantized.empty()) {
    std::map<std::string, int> roles;
    for (auto& q : quantized) ++roles[q.role];
    o << "Quantized tensors (" << quantized.size() << ":";
    for (auto& [role, n] : roles) o << " " << n << " " << (n == 1 ? role : role == "bias" ? "biases" : role + "s");
    o << "; real = (q - zero_point) x scale):\n";
    size_t width = 4;
    for (auto& q : quantized) width = std::max(width, std::min<size_t>(q.tensor.size(), 60));
    for (auto& q : quantized)
      o << "  " << q.tensor << std::string(q.tensor.size() < width ? width - q.tensor.size() + 2 : 2, ' ') << q.meaning << "\n";
  }
  for (auto& [k, v] : g.metadata_props) o << "Metadata:     " << k << " = " << v << "\n";
  if (s.issues.empty()) {
    o << "Problems: none (lowbit can run this model)\n";
  } else {
    o << "Problems (" << s.issues.size() << "; lowbit cannot run this model as is):\n";
    for (auto& i : s.issues) o << "  - " << i.message << "\n";
  }
}

// For quantized models: how many nodes execute in int8 and which stay float (the lower_qdq notes say why).
void print_precision(const Graph& g) {
  std::map<std::string, std::vector<std::string>> by;
  for (auto& n : g.nodes) by[node_precision(g, n)].push_back(n.describe());
  if (by.size() == 1 && by.count("fp32")) return;  // a float model: nothing to say
  std::cout << "Precision after lowering (what each node executes in):\n";
  for (auto& [p, nodes] : by) {
    std::cout << "  " << p << std::string(p.size() < 11 ? 11 - p.size() : 1, ' ') << nodes.size() << " node(s)";
    if (p == "fp32") {
      std::cout << ": ";
      for (size_t i = 0; i < nodes.size() && i < 12; ++i) std::cout << (i ? ", " : "") << nodes[i];
      if (nodes.size() > 12) std::cout << ", ...";
    }
    std::cout << "\n";
  }
}

}  // namespace

int run_inspect(const InspectOptions& options) {
  auto graph = load_model(options.model, /*validate=*/false);
  if (!graph) return fail(graph.status());
  ModelSummary summary = summarize(*graph);
  std::optional<OptimizedView> opt;
  if (options.optimized) {
    if (summary.issues.empty()) opt = optimize_view(*graph, options.optimize);
    else opt = OptimizedView{error(StatusCode::kUnsupported, "the model has problems (listed above), so it cannot be optimized"), {}, {}, {}, {}};
  }
  if (options.json) {
    json j = model_json(*graph, options.model, summary);
    if (opt) {
      json o = json::object();
      o["ok"] = opt->status.ok();
      if (!opt->status.ok()) o["error"] = opt->status.message();
      o["nodes_before"] = graph->nodes.size();
      o["nodes_after"] = opt->graph.nodes.size();
      o["op_counts_before"] = opt->before;
      o["op_counts_after"] = opt->after;
      json passes = json::array();
      for (auto& r : opt->reports) passes.push_back({{"pass", r.pass}, {"changes", r.changes}, {"notes", r.notes}});
      o["passes"] = passes;
      if (opt->status.ok()) {
        json precision = json::object();  // node name -> what it executes in (runtime/precision.h)
        for (auto& n : opt->graph.nodes) precision[n.name] = node_precision(opt->graph, n);
        o["precision"] = precision;
      }
      j["optimized"] = o;
    }
    std::cout << j.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  } else {
    print_text(*graph, options.model, summary);
    if (opt) {
      std::cout << "\nAfter the graph optimizer (" << graph->nodes.size() << " -> " << opt->graph.nodes.size()
                << " nodes):\n";
      if (!opt->status.ok()) std::cout << "  not optimized: " << opt->status.message() << "\n";
      else {
        std::cout << format_optimize_report(opt->before, opt->after, opt->reports);
        print_precision(opt->graph);
      }
    }
  }
  std::cout.flush();
  return kExitOk;
}

}  // namespace lowbit::cli
