// Automatic mixed precision (`lowbit quantize --target-sqnr DB` / `--target-metric KIND=VALUE`): keep the fewest
// layers in FP32 so that the quantized model's outputs meet a target on held-back calibration samples.
//
//   QuantizeOptions qo = ...;  qo.holdout_batches = -1;         // auto: the last 20% are not calibrated on
//   LB_ASSIGN_OR_RETURN(QuantizeResult r, calibrate_graph(graph, qo));
//   LB_ASSIGN_OR_RETURN(auto target, parse_target_metric("top1=0.99"));
//   LB_ASSIGN_OR_RETURN(MixedPrecisionReport mp, choose_mixed_precision(r, qo, {target}));
//   qo.plan.exclude.insert(mp.kept.begin()...);  then re-plan and apply_quantization (see cmd_quantize.cpp)
//
// Search (replaces Polygraphy's manual `debug precision` bisection):
// 1. score the all-INT8 model on the held-back samples; done if it meets the target;
// 2. rank the quantized nodes by the SQNR of their output computed from their FP32 inputs quantized as in the
//    model and their quantized weights (compare::LocalMode::kNodeInputs, on up to 4 held-back samples): what
//    keeping the node in FP32 would remove; the least accurate first;
// 3. keep the k most sensitive in FP32, k = 1, 2, 4, ... until the target holds, then bisect k;
// 4. prune: try each kept node back in INT8 (least sensitive first) and drop it from the FP32 set when the
//    target still holds, so every node that stays was shown to be needed, with the metric it would cost.
// Each candidate reuses the calibration table (no recalibration): only the QDQ rewrite and the scoring run again.
#pragma once
#include <string>
#include <vector>

#include "quant/quantizer.h"

namespace lowbit::quant {

struct TargetMetric {
  enum class Kind { kSqnr, kCosine, kTop1, kIou };
  Kind kind = Kind::kSqnr;
  double value = 0;
  double iou_threshold = 0.5;  // kIou: binarization threshold of the map outputs
  std::string describe() const;  // "output SQNR >= 30 dB", "top-1 agreement >= 0.99", "IoU@0.3 >= 0.95"
};
// "sqnr=30", "cosine=0.999", "top1=0.99", "iou:0.3=0.95" (iou=0.95 binarizes at 0.5).
Expected<TargetMetric> parse_target_metric(const std::string& spec);

struct MixedPrecisionOptions {
  TargetMetric target;
  int max_evaluations = 32;  // candidate models scored at most (each: one QDQ rewrite + the held-back runs)
  bool measure_speed = true; // time the all-INT8 and the final model on the INT8 engine
};

struct KeptNode {
  std::string node, op_type;
  std::optional<double> local_sqnr_db;  // SQNR of its output from quantized inputs and weights (all-INT8 model)
  int rank = 0;                         // 1 = most sensitive
  std::optional<double> metric_if_int8; // the target metric with this node back in INT8 (when tried in pruning)
};

struct MixedPrecisionReport {
  TargetMetric target;
  int64_t holdout_samples = 0;
  double metric_all_int8 = 0, metric_final = 0;
  bool met = false;
  std::vector<KeptNode> kept;  // in rank order
  int ranked_nodes = 0, evaluations = 0;
  double latency_all_int8_ms = 0, latency_final_ms = 0;  // INT8 engine, median of a few runs (0 = not measured)
  std::vector<std::string> log;                          // one line per candidate scored
};

// `r` is calibrate_graph's result (float graph + plan + table), `options` the options it ran with. The held-back
// samples are the last r.holdout_batches batches of options.data (all of them with --read-table/--read-cache).
Expected<MixedPrecisionReport> choose_mixed_precision(const QuantizeResult& r, const QuantizeOptions& options,
                                                      const MixedPrecisionOptions& mp);

std::string format_mixed_precision(const MixedPrecisionReport& report);

}  // namespace lowbit::quant
