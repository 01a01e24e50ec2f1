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
#pragma once
#include <string>
#include <vector>

#include "ir/graph.h"
#include "quant/adaround.h"
#include "quant/calibration_cache.h"
#include "quant/calibration_data.h"
#include "quant/calibration_methods.h"
#include "quant/calibration_table.h"
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
  AdaRoundOptions adaround;      // --adaround: optimised weight rounding (needs calibration data)
};

struct QuantizeResult {
  Graph graph;                             // the QDQ graph (or the prepared float graph when stopped early)
  QuantPlan plan;
  QdqReport report;
  std::vector<TensorCalibration> table;    // per calibrated tensor, in topological order
  std::vector<std::string> warnings;       // e.g. tensors a cache does not name
  int64_t calibration_batches = 0, calibration_samples = 0;
  double calibration_seconds = 0;
  int opset_before = 0, opset_after = 0;
  int nodes_before = 0, nodes_prepared = 0;
  std::string source;                      // "calibration data", "cache FILE", "table FILE", "weights only"
  AdaRoundResult adaround;                 // chosen weight codes and report (--adaround)
};

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
