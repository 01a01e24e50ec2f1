#include "quant/quantizer.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <cstdio>
#include <set>
#include <sstream>

#include "passes/optimizer.h"
#include "passes/upgrade_opset.h"
#include "quant/calibrator.h"
#include "runtime/session.h"

namespace lowbit::quant {
namespace {

// Passes that keep the graph standard ONNX (the quantized model must load in ONNX Runtime and TensorRT);
// the lowbit-only fusions run later, when lowbit itself compiles the quantized model.
OptimizeOptions onnx_preserving_passes() {
  OptimizeOptions o;
  o.disabled_passes = {"fuse_residual_add", "fuse_conv_activation", "fuse_hardswish_pattern"};
  return o;
}

// Which integer type a tensor gets: graph inputs/outputs follow --io, everything else --activation-type.
bool unsigned_for(const Graph& g, const std::string& t, const QuantizeOptions& o) {
  const bool io_tensor = std::find(g.inputs.begin(), g.inputs.end(), t) != g.inputs.end() ||
                         std::find(g.outputs.begin(), g.outputs.end(), t) != g.outputs.end();
  if (io_tensor && o.io != IoType::kFloat) return o.io == IoType::kUInt8;
  return o.calib.unsigned_int;
}

TensorCalibration from_scale(const std::string& name, float scale, bool is_unsigned, const char* method) {
  TensorCalibration c;
  c.name = name;
  c.method = method;
  c.threshold = scale * 127.f;
  c.range_lo = -c.threshold;
  c.range_hi = c.threshold;
  c.scale = scale;
  c.symmetric = true;
  c.is_unsigned = is_unsigned;
  c.zero_point = is_unsigned ? 128 : 0;
  if (is_unsigned) c.scale = 2.f * c.threshold / 255.f;  // same symmetric range spread over 256 codes
  return c;
}

// Keeps table entries for planned tensors (in plan order); warns about the rest.
void match_table(const QuantPlan& plan, std::vector<TensorCalibration> entries, const std::string& what,
                 QuantizeResult& r) {
  std::map<std::string, TensorCalibration> by_name;
  for (auto& e : entries) by_name[e.name] = std::move(e);
  std::set<std::string> used;
  std::vector<std::string> missing;
  for (auto& t : plan.activations) {
    if (plan.params_source(t) != t) continue;
    auto it = by_name.find(t);
    if (it == by_name.end()) {
      missing.push_back(t);
      continue;
    }
    r.table.push_back(it->second);
    used.insert(t);
  }
  if (!missing.empty()) {
    std::string list;
    for (size_t i = 0; i < missing.size() && i < 10; ++i) list += (i ? ", " : "") + ("'" + missing[i] + "'");
    if (missing.size() > 10) list += str_cat(", ... (", missing.size() - 10, " more)");
    r.warnings.push_back(str_cat(what, " does not name ", missing.size(), " tensor(s) that would be quantized; they stay float: ", list));
  }
  int unknown = 0;
  std::string first;
  for (auto& [name, e] : by_name)
    if (!used.count(name)) {
      if (!unknown++) first = name;
    }
  if (unknown)
    r.warnings.push_back(str_cat(what, " names ", unknown, " tensor(s) the prepared model does not quantize (e.g. '", first,
                                 "'); ignored"));
}

}  // namespace

std::vector<CacheEntry> cache_entries(const std::vector<TensorCalibration>& table) {
  std::vector<CacheEntry> out;
  for (auto& t : table) out.push_back({t.name, t.threshold / 127.f});
  return out;
}

int64_t parameter_bytes(const Graph& g) {
  int64_t total = 0;
  for (auto& [name, v] : g.values)
    if (v.constant && v.producer < 0) total += int64_t(v.constant->nbytes());
  return total;
}

Expected<QuantizeResult> calibrate_graph(Graph graph, const QuantizeOptions& options) {
  QuantizeResult r;
  r.opset_before = graph.opset;
  r.nodes_before = int(graph.nodes.size());
  if (graph.opset < options.target_opset) LB_RETURN_IF_ERROR(upgrade_opset(graph, options.target_opset));
  r.opset_after = graph.opset;
  LB_RETURN_IF_ERROR(optimize_graph(graph, onnx_preserving_passes()));
  r.nodes_prepared = int(graph.nodes.size());

  if (options.adaround.enabled && (options.plan.weight_only || !options.read_table.empty() || !options.read_cache.empty()))
    return error(StatusCode::kInvalidArgument,
                 "AdaRound needs calibration data (it fits each layer's rounding to the layer's inputs); a cache, a table "
                 "or weight-only quantization provides none");
  QuantPlanOptions po = options.plan;
  po.quantize_inputs = po.quantize_outputs = options.io != IoType::kFloat;
  LB_ASSIGN_OR_RETURN(r.plan, plan_quantization(graph, po));

  if (po.weight_only) {
    r.source = "weights only (no calibration)";
  } else if (!options.read_table.empty()) {
    LB_ASSIGN_OR_RETURN(auto entries, read_calibration_table(options.read_table));
    r.source = "table '" + options.read_table + "'";
    match_table(r.plan, std::move(entries), "table '" + options.read_table + "'", r);
  } else if (!options.read_cache.empty()) {
    LB_ASSIGN_OR_RETURN(auto entries, read_trt_cache(options.read_cache));
    std::vector<TensorCalibration> table;
    for (auto& e : entries) table.push_back(from_scale(e.tensor, e.scale, unsigned_for(graph, e.tensor, options), "cache"));
    r.source = "cache '" + options.read_cache + "'";
    match_table(r.plan, std::move(table), "cache '" + options.read_cache + "'", r);
  } else {
    LB_ASSIGN_OR_RETURN(auto data, CalibrationData::open(graph, options.data));
    for (auto& w : data->warnings()) r.warnings.push_back(w);
    if (data->num_batches() == 0)
      return error(StatusCode::kInvalidArgument, "the calibration data holds no complete batch");
    std::vector<std::string> sources;  // data-movement outputs reuse their input's range: not observed
    for (auto& t : r.plan.activations)
      if (r.plan.params_source(t) == t) sources.push_back(t);
    SessionOptions so;
    so.threads = options.threads;
    so.backend = options.backend;
    so.max_tensor_bytes = options.max_tensor_bytes;
    LB_ASSIGN_OR_RETURN(auto session, Session::create(graph, so));
    LB_ASSIGN_OR_RETURN(auto stats, collect_statistics(*session, *data, sources, {options.progress}));
    r.calibration_batches = stats.batches;
    r.calibration_samples = stats.samples;
    r.calibration_seconds = stats.seconds;
    r.source = "calibration data";
    // Choosing thresholds only reads the observers: one tensor per worker (auto evaluates five candidates per
    // tensor, ~0.1 s each on big histograms, so this is most of the time after the calibration run).
    r.table.resize(sources.size());
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t i; (i = next.fetch_add(1)) < sources.size();) {
        CalibOptions co = options.calib;
        co.unsigned_int = unsigned_for(graph, sources[i], options);
        r.table[i] = calibrate_tensor(sources[i], stats.observers.at(sources[i]), co);
      }
    };
    const unsigned workers = std::max(1u, std::min(options.threads > 0 ? unsigned(options.threads) : std::thread::hardware_concurrency(), 16u));
    std::vector<std::thread> pool;
    for (unsigned w = 1; w < workers; ++w) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    if (options.adaround.enabled) {
      AdaRoundOptions ao = options.adaround;
      ao.threads = options.threads;
      ao.progress = options.progress;
      LB_ASSIGN_OR_RETURN(r.adaround, adaround_weights(*session, *data, graph, r.plan, ao));
    }
  }
  r.graph = std::move(graph);
  return r;
}

Status apply_quantization(QuantizeResult& r, const QuantizeOptions& options) {
  QdqParams params;
  for (auto& t : r.table) params[t.name] = {t.scale, t.zero_point, t.is_unsigned};
  QdqOptions qo;
  qo.quantize_inputs = qo.quantize_outputs = options.io != IoType::kFloat;
  qo.rounded_weights = &r.adaround.weights;
  LB_RETURN_IF_ERROR(rewrite_to_qdq(r.graph, r.plan, params, qo, &r.report));
  // Constant nodes whose float weights were replaced are now unused.
  return run_pass(r.graph, "eliminate_dead_code");
}

Expected<QuantizeResult> quantize_graph(Graph graph, const QuantizeOptions& options) {
  LB_ASSIGN_OR_RETURN(QuantizeResult r, calibrate_graph(std::move(graph), options));
  LB_RETURN_IF_ERROR(apply_quantization(r, options));
  return r;
}

std::string format_quantize_summary(const QuantizeResult& r, int64_t before, int64_t after) {
  std::ostringstream os;
  auto mib = [](int64_t b) {
    char buf[32];
    if (b < (1 << 20)) std::snprintf(buf, sizeof buf, "%.1f KiB", double(b) / 1024);
    else std::snprintf(buf, sizeof buf, "%.2f MiB", double(b) / (1 << 20));
    return std::string(buf);
  };
  os << "prepared:    opset " << r.opset_before << (r.opset_after != r.opset_before ? " -> " + std::to_string(r.opset_after) : "")
     << ", " << r.nodes_before << " -> " << r.nodes_prepared << " nodes (folding, BatchNormalization into Conv, clean-up)\n";
  os << "ranges from: " << r.source;
  if (r.calibration_batches) {
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.1f s", r.calibration_seconds);
    os << ": " << r.calibration_samples << " samples in " << r.calibration_batches << " batches, " << secs;
  }
  os << "\n";
  if (r.adaround.report.ran) os << format_adaround_summary(r.adaround.report);
  if (!r.table.empty()) {
    std::map<std::string, int> methods;
    int asym = 0;
    for (auto& t : r.table) {
      ++methods[t.method];
      asym += !t.symmetric;
    }
    os << "methods:     ";
    bool first = true;
    for (auto& [m, n] : methods) {
      os << (first ? "" : ", ") << m << " " << n;
      first = false;
    }
    os << " tensors; " << asym << " asymmetric, " << (r.table.size() - size_t(asym)) << " symmetric\n";
  }
  std::map<std::string, int> q_ops;
  std::map<std::string, std::string> op_of;
  for (auto& n : r.graph.nodes) op_of[n.name] = n.op_type;
  for (auto& name : r.plan.quantized_nodes) ++q_ops[op_of.count(name) ? op_of[name] : "?"];
  os << "quantized:   " << r.plan.quantized_nodes.size() << " nodes (";
  bool first = true;
  for (auto& [op, n] : q_ops) {
    os << (first ? "" : ", ") << op << " " << n;
    first = false;
  }
  os << "); " << r.report.activations << " activations, " << r.report.weights << " weights (int8"
     << "), " << r.report.biases << " biases (int32)\n";
  // Float nodes grouped by reason, a few names each.
  std::map<std::string, std::vector<std::string>> by_reason;
  for (auto& [node, why] : r.plan.float_nodes) by_reason[why].push_back(node);
  os << "kept float:  " << r.plan.float_nodes.size() << " nodes\n";
  for (auto& [why, nodes] : by_reason) {
    os << "  " << nodes.size() << " x " << why << ": ";
    for (size_t i = 0; i < nodes.size() && i < 4; ++i) os << (i ? ", " : "") << nodes[i];
    if (nodes.size() > 4) os << ", ...";
    os << "\n";
  }
  if (!r.report.skipped_activations.empty())
    os << "unquantized: " << r.report.skipped_activations.size() << " planned activations had no range (see warnings)\n";
  if (!r.report.float_biases.empty()) os << "float bias:  " << r.report.float_biases.size() << " biases stayed float\n";
  if (r.report.raised_weight_scales)
    os << "note:        " << r.report.raised_weight_scales
       << " weight channels got a larger scale so that their int32 bias fits (tiny weights, large bias)\n";
  if (r.report.saturated_bias_values)
    os << "warning:     " << r.report.saturated_bias_values << " int32 bias values saturated\n";
  for (auto& io : r.report.io_notes) os << "io:          " << io << "\n";
  if (before > 0 && after > 0) {
    char ratio[32];
    std::snprintf(ratio, sizeof ratio, "%.3f", double(after) / double(before));
    os << "size:        " << mib(before) << " -> " << mib(after) << " (" << ratio << "x)\n";
  }
  return os.str();
}

}  // namespace lowbit::quant
