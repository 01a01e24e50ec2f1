// `lowbit quantize` as a library call: float graph + calibration data (or a cache/table) -> QDQ graph.
//
//   QuantizeOptions opt;
//   opt.data.sources = {{"x", "calib.npy"}};
//   opt.calib.method = CalibMethod::kEntropy;
//   LB_ASSIGN_OR_RETURN(QuantizeResult r, quantize_graph(std::move(graph), opt));
//   LB_RETURN_IF_ERROR(export_onnx(r.graph, "model.int8.onnx"));
//   std::cout << format_quantize_summary(r);
//
// Steps (DESIGN.md's pipeline; each is visible in the summary):
//   1. prepare: raise the opset to 13 (per-channel DequantizeLinear needs it) and run the ONNX-preserving
//      passes (constant/shape folding, BatchNormalization folding, clean-up) so weights are quantized once,
//      after folding; lowbit-only fusions are not applied, the output stays standard ONNX.
//   2. plan which tensors/nodes are quantized (quant_plan.h);
//   3. calibrate: statistics over the data -> a table (method, range, scale, zero point per tensor), or read
//      the ranges from a TensorRT cache / an edited table;
//   4. rewrite to QDQ (qdq_rewrite.h).
// Opt-in algorithms: --equalize (cross_layer_equalization.h) rescales the prepared float weights between steps 1
// and 2; --bias-correction (bias_correction.h) measures each layer's mean input during step 3 and corrects the
// float biases just before step 4.
#pragma once
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "quant/bias_correction.h"
#include "quant/adaround.h"
#include "quant/calibration_cache.h"
#include "quant/calibration_data.h"
#include "quant/calibration_methods.h"
#include "quant/calibration_table.h"
#include "quant/cross_layer_equalization.h"
#include "quant/qdq_rewrite.h"
#include "quant/quant_plan.h"
#include "runtime/plan.h"

namespace lowbit::quant {

enum class IoType { kFloat, kInt8, kUInt8 };

struct QuantizeOptions {
  CalibDataOptions data;
  CalibOptions calib;            // method, percentile, symmetric/asymmetric, int8/uint8 activations
  QuantPlanOptions plan;         // weight_only, per-channel, exclude
  IoType io = IoType::kFloat;    // --io
  std::string read_cache;        // --read-cache: TensorRT cache instead of data
  std::string read_table;        // --read-table: a (reviewed, edited) calibration table instead of data
  int threads = 0;
  Backend backend = Backend::kAuto;
  int64_t max_tensor_bytes = kDefaultMaxTensorBytes;  // --max-memory: cap on any one tensor during calibration
  bool progress = false;
  int target_opset = 13;
  // The last N calibration batches are not calibrated on (they score mixed-precision candidates); -1: 20% of the
  // batches (at least 1) when there are 2 or more.
  int64_t holdout_batches = 0;
  bool equalize = false;         // --equalize: cross-layer equalization of Conv pairs before calibration
  bool equalize_relu6 = false;   // --equalize-relu6: also through Clip(0, 6), replaced by Relu (changes the model)
  bool bias_correction = false;  // --bias-correction: subtract each layer's mean weight-rounding shift from its bias
  AdaRoundOptions adaround;      // --adaround: optimised weight rounding (needs calibration data)
};

struct QuantizeResult {
  Graph graph;                             // the QDQ graph (or the prepared float graph when stopped early)
  QuantPlan plan;
  QdqReport report;
  std::vector<TensorCalibration> table;    // per calibrated tensor, in topological order
  std::vector<std::string> warnings;       // e.g. tensors a cache does not name
  int64_t calibration_batches = 0, calibration_samples = 0;
  int64_t holdout_batches = 0;             // batches held back from calibration (QuantizeOptions::holdout_batches)
  double calibration_seconds = 0;
  int opset_before = 0, opset_after = 0;
  int nodes_before = 0, nodes_prepared = 0;
  std::string source;                      // "calibration data", "cache FILE", "table FILE", "weights only"
  std::optional<EqualizeReport> equalize;  // with --equalize
  // With --equalize-relu6 and calibration data: output SQNR of the equalized float model (Clips replaced)
  // against the original one, over the first calibration samples (NaN when not measured; +inf if identical).
  double equalize_float_sqnr_db = NAN;
  int64_t equalize_float_samples = 0;
  std::shared_ptr<BiasCorrectionStats> bias_stats;       // with --bias-correction, filled by the calibration run
  std::optional<BiasCorrectionReport> bias_correction;   // with --bias-correction, after apply_quantization
  AdaRoundResult adaround;                 // chosen weight codes and report (--adaround)
};

// The plan options `options` implies (--io int8/uint8 quantizes graph inputs and outputs too).
QuantPlanOptions plan_options(const QuantizeOptions& options);

// Steps 1-3: prepared graph, plan and table (what --table-only writes). `result.graph` is the float graph.
Expected<QuantizeResult> calibrate_graph(Graph graph, const QuantizeOptions& options);
// Step 4 on the output of calibrate_graph (the table may have been edited in between).
Status apply_quantization(QuantizeResult& result, const QuantizeOptions& options);
// All four steps.
Expected<QuantizeResult> quantize_graph(Graph graph, const QuantizeOptions& options);

// TensorRT cache entries (scale = amax / 127) for every calibrated tensor.
std::vector<CacheEntry> cache_entries(const std::vector<TensorCalibration>& table);

// Bytes of all initializers (constants without a producer), i.e. what the .onnx file mostly holds.
int64_t parameter_bytes(const Graph& g);

// The one-screen summary printed at the end of `lowbit quantize`.
std::string format_quantize_summary(const QuantizeResult& r, int64_t file_bytes_before, int64_t file_bytes_after);

}  // namespace lowbit::quant
