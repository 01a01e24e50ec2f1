#include "quant/quantizer.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <cmath>
#include <cstdio>
#include <limits>
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

// How far `changed` strays from `reference` (output SQNR in dB over every float output) on the first
// `max_batches` calibration batches: what replacing ReLU6 by Relu costs the float model.
Expected<double> float_change_sqnr(const Graph& reference, const Graph& changed, CalibrationData& data,
                                   const SessionOptions& so, int64_t max_batches, int64_t* samples) {
  LB_ASSIGN_OR_RETURN(auto a, Session::create(reference, so));
  LB_ASSIGN_OR_RETURN(auto b, Session::create(changed, so));
  double signal = 0, noise = 0;
  *samples = 0;
  for (int64_t i = 0; i < data.num_batches() && i < max_batches; ++i) {
    LB_ASSIGN_OR_RETURN(auto batch, data.batch(i));
    LB_ASSIGN_OR_RETURN(auto ra, a->run(batch));
    LB_ASSIGN_OR_RETURN(auto rb, b->run(batch));
    for (auto& [name, ta] : ra) {
      auto it = rb.find(name);
      if (ta.dtype() != DType::kFloat32 || it == rb.end() || it->second.numel() != ta.numel()) continue;
      for (int64_t k = 0; k < ta.numel(); ++k) {
        const double x = ta.data<float>()[k], d = x - it->second.data<float>()[k];
        signal += x * x;
        noise += d * d;
      }
    }
    *samples += data.batch_size();
  }
  if (noise == 0) return std::numeric_limits<double>::infinity();
  return 10 * std::log10(signal / noise);
}

}  // namespace

QuantPlanOptions plan_options(const QuantizeOptions& options) {
  QuantPlanOptions po = options.plan;
  po.quantize_inputs = po.quantize_outputs = options.io != IoType::kFloat;
  return po;
}

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
  if (options.bias_correction && (options.plan.weight_only || !options.read_table.empty() || !options.read_cache.empty()))
    return error(StatusCode::kInvalidArgument,
                 "bias correction measures each layer's mean input on calibration data; it cannot be combined with "
                 "--weight-only, --read-table or --read-cache");
  LB_RETURN_IF_ERROR(optimize_graph(graph, onnx_preserving_passes()));
  r.nodes_prepared = int(graph.nodes.size());

  // Equalization rewrites the float weights the ranges are then measured on (a table or cache read back must
  // have been written with the same --equalize flags: the tensors between equalized convs change scale).
  Graph before_equalization;
  if (options.equalize || options.equalize_relu6) {
    if (options.equalize_relu6) before_equalization = graph;  // shares the tensors; equalization copies what it changes
    EqualizeOptions eo;
    eo.relu6_to_relu = options.equalize_relu6;
    r.equalize.emplace();
    LB_RETURN_IF_ERROR(equalize_cross_layer(graph, eo, &*r.equalize));
    if (!r.equalize->pairs.empty() && (!options.read_table.empty() || !options.read_cache.empty()))
      r.warnings.push_back(str_cat("--equalize rescaled ", r.equalize->pairs.size(),
                                   " conv pairs: the ranges read back must come from a run with the same --equalize flags"));
  }

  if (options.adaround.enabled && (options.plan.weight_only || !options.read_table.empty() || !options.read_cache.empty()))
    return error(StatusCode::kInvalidArgument,
                 "AdaRound needs calibration data (it fits each layer's rounding to the layer's inputs); a cache, a table "
                 "or weight-only quantization provides none");
  if (options.adaround.enabled && options.plan.weight_qmax != 127)
    return error(StatusCode::kInvalidArgument, "AdaRound rounds within the 8-bit weight range [-127, 127]; it does not "
                                                "combine with a reduced weight range");
  if (options.plan.weight_qmax < 1 || options.plan.weight_qmax > 127)
    return error(StatusCode::kInvalidArgument, "weight range [-", options.plan.weight_qmax, ", ",
                 options.plan.weight_qmax, "] is not within [-127, 127]");
  const QuantPlanOptions po = plan_options(options);
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
    r.holdout_batches = options.holdout_batches >= 0 ? options.holdout_batches
                        : data->num_batches() >= 2 ? std::max<int64_t>(1, data->num_batches() / 5) : 0;
    if (r.holdout_batches > 0 && r.holdout_batches >= data->num_batches())
      return error(StatusCode::kInvalidArgument, "the calibration data holds ", data->num_batches(), " batch(es): holding back ",
                   r.holdout_batches, " for scoring leaves none to calibrate on");
    std::vector<std::string> sources;  // data-movement outputs reuse their input's range: not observed
    for (auto& t : r.plan.activations)
      if (r.plan.params_source(t) == t) sources.push_back(t);
    SessionOptions so;
    so.threads = options.threads;
    so.backend = options.backend;
    so.max_tensor_bytes = options.max_tensor_bytes;
    LB_ASSIGN_OR_RETURN(auto session, Session::create(graph, so));
    CollectOptions co;
    co.progress = options.progress;
    co.batches = data->num_batches() - r.holdout_batches;
    if (options.bias_correction) {
      r.bias_stats = std::make_shared<BiasCorrectionStats>(graph, r.plan);
      co.also = r.bias_stats->observer();
    }
    LB_ASSIGN_OR_RETURN(auto stats, collect_statistics(*session, *data, sources, co));
    if (r.equalize && !r.equalize->replaced_clips.empty()) {
      constexpr int64_t kCheckBatches = 8;  // enough to see the effect; bounded so big data sets stay fast
      LB_ASSIGN_OR_RETURN(r.equalize_float_sqnr_db, float_change_sqnr(before_equalization, graph, *data, so, kCheckBatches,
                                                                      &r.equalize_float_samples));
    }
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
      ao.moments.batches = co.batches;  // not the batches held back to score mixed precision
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
  if (options.bias_correction) {
    if (!r.bias_stats)
      return error(StatusCode::kInvalidArgument, "bias correction needs the statistics of a calibration run on data");
    r.bias_correction.emplace();
    LB_RETURN_IF_ERROR(correct_biases(r.graph, r.plan, params, *r.bias_stats, &*r.bias_correction, &r.adaround.weights));
    // Layers that got a bias need it planned (int32), and a MatMul's new bias Add must be known to the plan.
    LB_ASSIGN_OR_RETURN(r.plan, plan_quantization(r.graph, plan_options(options)));
  }
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
  if (r.equalize) {
    os << format_equalize_report(*r.equalize);
    if (!std::isnan(r.equalize_float_sqnr_db)) {
      char buf[128];
      std::snprintf(buf, sizeof buf, "  float model after replacing ReLU6: output SQNR %.1f dB vs the original (%lld samples)\n",
                    r.equalize_float_sqnr_db, (long long)r.equalize_float_samples);
      os << (std::isinf(r.equalize_float_sqnr_db) ? "  float model after replacing ReLU6: outputs unchanged on the calibration data\n" : buf);
    } else if (!r.equalize->replaced_clips.empty()) {
      os << "  float model after replacing ReLU6: effect not measured (no calibration data)\n";
    }
  }
  os << "ranges from: " << r.source;
  if (r.calibration_batches) {
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.1f s", r.calibration_seconds);
    os << ": " << r.calibration_samples << " samples in " << r.calibration_batches << " batches, " << secs;
    if (r.holdout_batches) os << " (the last " << r.holdout_batches << " batches held back to score mixed precision)";
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
  if (r.bias_correction) os << format_bias_correction_report(*r.bias_correction);
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
