#include "quant/mixed_precision.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "compare/model_compare.h"
#include "passes/optimizer.h"
#include "runtime/session.h"

namespace lowbit::quant {
namespace {

std::string num(double v, const char* f = "%.4g") {
  char buf[48];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// The target's value on a scored candidate (the worst output counts).
Expected<double> metric_of(const compare::CompareResult& r, const TargetMetric& t) {
  double worst = INFINITY;
  int used = 0;
  for (auto& o : r.outputs) {
    const compare::ErrorMetrics m = o.accumulated.result();
    double v = 0;  // every kind below sets it (GCC 12 cannot tell)
    switch (t.kind) {
      case TargetMetric::Kind::kSqnr: v = m.sqnr_db ? *m.sqnr_db : -compare::kExactSqnrDb; break;
      case TargetMetric::Kind::kCosine: v = m.cosine ? *m.cosine : -1; break;
      case TargetMetric::Kind::kTop1:
        if (o.task != "classifier") continue;
        v = o.top1.agreement();
        break;
      case TargetMetric::Kind::kIou:
        if (o.task != "map") continue;
        v = o.iou.mean_sample_iou();
        break;
    }
    worst = std::min(worst, v);
    ++used;
  }
  if (!used)
    return error(StatusCode::kInvalidArgument, t.kind == TargetMetric::Kind::kTop1 ? "top1 needs a classifier-like output ([N, C])"
                 : t.kind == TargetMetric::Kind::kIou ? "iou needs a map-like output ([N, 1, H, W])" : "the model has no comparable output");
  return worst;
}

// The QDQ graph apply_quantization would write with `fp32_nodes` also kept float (same table, bias statistics and
// AdaRound codes: no recalibration).
Expected<Graph> build_candidate(const QuantizeResult& r, const QuantizeOptions& options, const std::set<std::string>& fp32_nodes) {
  QuantizeResult c = r;
  QuantizeOptions o = options;
  o.plan.exclude.insert(fp32_nodes.begin(), fp32_nodes.end());
  LB_ASSIGN_OR_RETURN(c.plan, plan_quantization(c.graph, plan_options(o)));
  LB_RETURN_IF_ERROR(apply_quantization(c, o));
  return std::move(c.graph);
}

// Median latency of each graph on the INT8 engine (optimized, lowered), runs interleaved so both see the same
// machine load. Only for the summary: never a test threshold.
std::pair<double, double> median_latencies(Graph a, Graph b, const std::map<std::string, Tensor>& inputs, const QuantizeOptions& o) {
  SessionOptions so;
  so.threads = o.threads;
  so.max_tensor_bytes = o.max_tensor_bytes;
  if (!optimize_graph(a, OptimizeOptions{}).ok() || !optimize_graph(b, OptimizeOptions{}).ok()) return {0, 0};
  auto sa = Session::create(std::move(a), so);
  auto sb = Session::create(std::move(b), so);
  if (!sa || !sb) return {0, 0};
  std::vector<double> ta, tb;
  auto time_one = [&](Session& s, std::vector<double>& out) {
    const auto t0 = std::chrono::steady_clock::now();
    bool ok = s.run(inputs).ok();
    out.push_back(ok ? std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() : 0);
  };
  for (int i = 0; i < 8; ++i) {  // the first round builds primitives: dropped
    time_one(**sa, ta);
    time_one(**sb, tb);
  }
  auto median = [](std::vector<double> v) {
    v.erase(v.begin());
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  return {median(ta), median(tb)};
}

}  // namespace

std::string TargetMetric::describe() const {
  switch (kind) {
    case Kind::kSqnr: return "output SQNR >= " + num(value) + " dB";
    case Kind::kCosine: return "output cosine >= " + num(value, "%.6g");
    case Kind::kTop1: return "top-1 agreement >= " + num(value);
    case Kind::kIou: return "IoU@" + num(iou_threshold) + " >= " + num(value);
  }
  return "";
}

Expected<TargetMetric> parse_target_metric(const std::string& spec) {
  const size_t eq = spec.rfind('=');
  auto bad = [&](const std::string& why) {
    return error(StatusCode::kInvalidArgument, "--target-metric '", spec, "': ", why,
                 " (expected sqnr=DB, cosine=VALUE, top1=VALUE or iou:THRESHOLD=VALUE)");
  };
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) return bad("missing '=VALUE'");
  std::string kind = spec.substr(0, eq), value = spec.substr(eq + 1);
  TargetMetric t;
  auto parse_double = [](const std::string& s, double* out) {
    char* end = nullptr;
    *out = std::strtod(s.c_str(), &end);
    return !s.empty() && end == s.c_str() + s.size() && std::isfinite(*out);
  };
  if (!parse_double(value, &t.value)) return bad("'" + value + "' is not a number");
  if (kind.rfind("iou", 0) == 0) {
    t.kind = TargetMetric::Kind::kIou;
    if (kind.size() > 3) {
      if (kind[3] != ':' || !parse_double(kind.substr(4), &t.iou_threshold)) return bad("bad IoU threshold");
    }
  } else if (kind == "sqnr") {
    t.kind = TargetMetric::Kind::kSqnr;
  } else if (kind == "cosine") {
    t.kind = TargetMetric::Kind::kCosine;
  } else if (kind == "top1") {
    t.kind = TargetMetric::Kind::kTop1;
  } else {
    return bad("unknown metric '" + kind + "'");
  }
  if (t.kind != TargetMetric::Kind::kSqnr && (t.value < 0 || t.value > 1)) return bad("the value must be in [0, 1]");
  return t;
}

Expected<MixedPrecisionReport> choose_mixed_precision(const QuantizeResult& r, const QuantizeOptions& options,
                                                      const MixedPrecisionOptions& mp) {
  MixedPrecisionReport rep;
  rep.target = mp.target;
  // Held-back samples and their FP32 outputs, computed once.
  LB_ASSIGN_OR_RETURN(auto data, CalibrationData::open(r.graph, options.data));
  const bool all_held_back = !options.read_table.empty() || !options.read_cache.empty();
  const int64_t first = all_held_back ? 0 : data->num_batches() - r.holdout_batches;
  if (first < 0 || first >= data->num_batches())
    return error(StatusCode::kInvalidArgument, "no held-back calibration samples to score mixed precision on");
  compare::CompareOptions co;
  co.threads = options.threads;
  co.backend = options.backend;
  co.max_tensor_bytes = options.max_tensor_bytes;
  co.map_threshold = mp.target.iou_threshold;
  std::vector<std::map<std::string, Tensor>> inputs, outputs;
  {
    SessionOptions so;
    so.threads = options.threads;
    so.backend = options.backend;
    so.max_tensor_bytes = options.max_tensor_bytes;
    LB_ASSIGN_OR_RETURN(auto fp32, Session::create(r.graph, so));
    for (int64_t b = first; b < data->num_batches(); ++b) {
      LB_ASSIGN_OR_RETURN(auto batch, data->batch(b));
      LB_ASSIGN_OR_RETURN(auto out, fp32->run(batch));
      inputs.push_back(std::move(batch));
      outputs.push_back(std::move(out));
    }
  }
  rep.holdout_samples = int64_t(inputs.size()) * data->batch_size();

  // `built`: the candidate when the caller already has it (the all-INT8 graph is reused for ranking and timing).
  auto score = [&](const std::set<std::string>& fp32_nodes, const char* what, const Graph* built = nullptr) -> Expected<double> {
    Graph candidate;
    if (!built) {
      LB_ASSIGN_OR_RETURN(candidate, build_candidate(r, options, fp32_nodes));
    }
    const Graph& g = built ? *built : candidate;
    LB_ASSIGN_OR_RETURN(auto scorer, compare::OutputScorer::create(r.graph, g, co));
    for (size_t i = 0; i < inputs.size(); ++i) LB_RETURN_IF_ERROR(scorer->add_sample(inputs[i], outputs[i]));
    LB_ASSIGN_OR_RETURN(double v, metric_of(scorer->result(), mp.target));
    ++rep.evaluations;
    rep.log.push_back(str_cat(fp32_nodes.size(), " node(s) in FP32 (", what, "): ", num(v, "%.5g")));
    if (options.progress) std::fprintf(stderr, "mixed precision: %s\n", rep.log.back().c_str());
    return v;
  };
  const auto meets = [&](double v) { return v >= mp.target.value; };

  LB_ASSIGN_OR_RETURN(Graph all_int8, build_candidate(r, options, {}));
  LB_ASSIGN_OR_RETURN(rep.metric_all_int8, score({}, "all INT8", &all_int8));
  rep.metric_final = rep.metric_all_int8;
  if (meets(rep.metric_all_int8)) {
    rep.met = true;
    return rep;
  }

  // Rank the quantized nodes by the error quantizing their inputs and weights causes in their output.
  co.layers = co.local = true;
  co.local_mode = compare::LocalMode::kNodeInputs;
  LB_ASSIGN_OR_RETURN(auto comparer, compare::ModelComparer::create(r.graph, all_int8, co));
  for (size_t i = 0; i < inputs.size() && i < 4; ++i) LB_RETURN_IF_ERROR(comparer->add_sample(inputs[i]));
  const compare::CompareResult layers = comparer->result();
  std::map<std::string, double> sensitivity;  // node -> lowest local SQNR of its outputs
  for (auto& L : layers.layers) {
    const compare::ErrorMetrics m = L.local.result();
    if (!L.has_local || m.exact || m.count == 0) continue;
    const double v = m.sqnr_db ? *m.sqnr_db : -compare::kExactSqnrDb;
    auto it = sensitivity.find(L.node);
    sensitivity[L.node] = it == sensitivity.end() ? v : std::min(it->second, v);
  }
  std::map<std::string, std::string> op_of;
  for (auto& n : r.graph.nodes) op_of[n.name] = n.op_type;
  std::vector<std::pair<double, std::string>> ranked;
  // Data-movement nodes share their input's scale (plan.shared_params): keeping one in FP32 would only move the
  // quantization to its consumers' inputs, with no range calibrated for them. Rank the nodes that compute.
  std::set<std::string> moves_data;
  for (auto& n : r.graph.nodes)
    for (auto& o : n.outputs)
      if (r.plan.shared_params.count(o)) moves_data.insert(n.name);
  for (auto& n : r.plan.quantized_nodes)
    if (sensitivity.count(n) && !moves_data.count(n)) ranked.emplace_back(sensitivity[n], n);
  std::stable_sort(ranked.begin(), ranked.end(), [](auto& a, auto& b) { return a.first < b.first; });
  rep.ranked_nodes = int(ranked.size());
  auto top = [&](size_t k) {
    std::set<std::string> s;
    for (size_t i = 0; i < k && i < ranked.size(); ++i) s.insert(ranked[i].second);
    return s;
  };

  // Grow k geometrically until the target holds, then bisect.
  size_t lo = 0, hi = 0;  // top(lo) fails; top(hi) meets (hi = 0: none found yet)
  double hi_value = 0, last_value = rep.metric_all_int8;
  for (size_t k = 1; !ranked.empty(); k = std::min(ranked.size(), k * 2)) {
    if (rep.evaluations >= mp.max_evaluations) break;
    LB_ASSIGN_OR_RETURN(double v, score(top(k), "most sensitive first"));
    last_value = v;
    if (meets(v)) {
      hi = k;
      hi_value = v;
      break;
    }
    lo = k;
    if (k == ranked.size()) break;
  }
  if (hi == 0) {
    std::string unranked;
    int n_unranked = 0;
    for (auto& n : r.plan.quantized_nodes)
      if (!sensitivity.count(n) && !moves_data.count(n) && n_unranked++ < 8) unranked += (unranked.empty() ? "" : ", ") + n;
    return error(StatusCode::kInvalidArgument, "target ", mp.target.describe(), " not reached: all INT8 gives ",
                 num(rep.metric_all_int8, "%.5g"), ", and keeping the ", lo, " most sensitive of ", ranked.size(),
                 " ranked nodes in FP32 still gives ", num(last_value, "%.5g"), " (", rep.evaluations,
                 " candidates scored)", n_unranked ? str_cat("; ", n_unranked, " quantized node(s) could not be ranked: ",
                 unranked) : std::string(), ". Lower the target, add --exclude for nodes the ranking cannot see, or check "
                 "the calibration data");
  }
  while (hi - lo > 1 && rep.evaluations < mp.max_evaluations) {
    const size_t mid = (lo + hi) / 2;
    LB_ASSIGN_OR_RETURN(double v, score(top(mid), "bisecting"));
    if (meets(v)) {
      hi = mid;
      hi_value = v;
    } else {
      lo = mid;
    }
  }
  // Prune: each kept node back in INT8, least sensitive first; drop it from FP32 when the target still holds.
  std::set<std::string> kept = top(hi);
  std::map<std::string, double> if_int8;
  for (size_t i = hi; i-- > 0 && rep.evaluations < mp.max_evaluations && kept.size() > 1;) {
    std::set<std::string> trial = kept;
    trial.erase(ranked[i].second);
    LB_ASSIGN_OR_RETURN(double v, score(trial, ("without " + ranked[i].second).c_str()));
    if (meets(v)) {
      kept = trial;
      hi_value = v;
    } else {
      if_int8[ranked[i].second] = v;
    }
  }
  rep.met = true;
  rep.metric_final = hi_value;
  for (size_t i = 0; i < ranked.size(); ++i) {
    if (!kept.count(ranked[i].second)) continue;
    KeptNode k;
    k.node = ranked[i].second;
    k.op_type = op_of[k.node];
    k.local_sqnr_db = ranked[i].first;
    k.rank = int(i) + 1;
    if (if_int8.count(k.node)) k.metric_if_int8 = if_int8[k.node];
    rep.kept.push_back(std::move(k));
  }
  if (mp.measure_speed && !inputs.empty()) {
    LB_ASSIGN_OR_RETURN(Graph final_graph, build_candidate(r, options, kept));
    if (options.progress) std::fprintf(stderr, "mixed precision: timing the all-INT8 and the mixed model on the INT8 engine\n");
    auto [a, b] = median_latencies(std::move(all_int8), std::move(final_graph), inputs[0], options);
    rep.latency_all_int8_ms = a;
    rep.latency_final_ms = b;
  }
  return rep;
}

std::string format_mixed_precision(const MixedPrecisionReport& r) {
  std::ostringstream os;
  os << "mixed:       target " << r.target.describe() << " on " << r.holdout_samples << " held-back samples: all INT8 "
     << num(r.metric_all_int8, "%.5g");
  if (r.kept.empty()) {
    os << ", met without FP32 layers\n";
    return os.str();
  }
  os << " -> " << num(r.metric_final, "%.5g") << " with " << r.kept.size() << " node(s) in FP32 (" << r.evaluations
     << " candidates scored, " << r.ranked_nodes << " nodes ranked)\n";
  for (auto& k : r.kept) {
    os << "  fp32:      " << k.node << " (" << k.op_type << "): sensitivity rank " << k.rank << " (its output at "
       << (k.local_sqnr_db ? num(*k.local_sqnr_db, "%.1f") + " dB SQNR" : std::string("n/a")) << " from INT8 inputs and weights)";
    if (k.metric_if_int8) os << "; back in INT8 the metric drops to " << num(*k.metric_if_int8, "%.5g");
    os << "\n";
  }
  if (r.latency_all_int8_ms > 0 && r.latency_final_ms > 0)
    os << "  speed:     INT8 engine " << num(r.latency_all_int8_ms, "%.2f") << " ms -> " << num(r.latency_final_ms, "%.2f")
       << " ms per batch (" << num(r.latency_final_ms / r.latency_all_int8_ms, "%.2f") << "x, median of 7 interleaved runs)\n";
  return os.str();
}

}  // namespace lowbit::quant
