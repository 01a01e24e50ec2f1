// Layer-by-layer comparison of an FP32 model with its quantized (QDQ) version: the engine behind
// `lowbit compare` and the sensitivity ranking of `lowbit quantize --target-*`.
//
//   LB_ASSIGN_OR_RETURN(auto cmp, ModelComparer::create(fp32_graph, quant_graph, {}));
//   for (each sample) LB_RETURN_IF_ERROR(cmp->add_sample(inputs));   // inputs of the FP32 model
//   CompareResult r = cmp->result();
//
// Matching: every float tensor the quantized model computes whose name also names a float tensor computed by
// the FP32 model (lowbit's quantizer, ONNX Runtime's and TensorRT's QDQ tools all keep the original names; BN
// folding keeps the BatchNormalization output's name). For a quantized tensor T (T -> QuantizeLinear ->
// DequantizeLinear) the value compared is the dequantized one: what every consumer reads, rounding and clipping
// included.
//
// Two errors per tensor:
// - accumulated: the quantized model run end to end, against the FP32 model;
// - local ("added by this layer alone"): the quantized layer run on the FP32 model's values of its inputs, so it
//   holds the layer's own weight quantization and its output's quantization; the quantization of its inputs is
//   counted at the tensors they come from (graph inputs included). One extra run of a rewired copy of the
//   quantized graph computes it for all layers at once: whatever reads a matched tensor (its dequantized value
//   when it is quantized) reads a new graph input carrying the FP32 value instead.
//
// Models with integer inputs/outputs (`lowbit quantize --io uint8`) are handled: float inputs are quantized with
// the scale/zero point of the DequantizeLinear that reads the input, integer outputs dequantized with those of
// the QuantizeLinear that produced them.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "compare/tensor_metrics.h"
#include "ir/graph.h"
#include "runtime/plan.h"

namespace lowbit::compare {

// What "local" measures (see above). kLayerAlone: the layer on exact FP32 inputs, its output as stored (after
// its own Q/DQ) -- the error the layer adds (lowbit compare). kNodeInputs: the node on its FP32 inputs quantized
// as in the model, its raw output (before its own Q/DQ) -- the error that keeping this node in FP32 would remove
// (the mixed-precision ranking: an FP32 node reads float inputs and float weights).
enum class LocalMode { kLayerAlone, kNodeInputs };

struct CompareOptions {
  int threads = 0;
  Backend backend = Backend::kAuto;
  int64_t max_tensor_bytes = kDefaultMaxTensorBytes;
  bool layers = true;          // false: final outputs only (cheaper; used to score mixed-precision candidates)
  bool local = true;           // also the error each layer adds alone (one extra run per sample)
  LocalMode local_mode = LocalMode::kLayerAlone;
  double map_threshold = 0.5;  // binarization threshold of map-like outputs (IoU)
  int histogram_bins = 64;
  int worst = 10;              // how many layers the "worst" list names
};

// How a tensor is stored in the quantized model (from its QuantizeLinear's constant scale / zero point).
struct QuantInfo {
  bool quantized = false;
  std::string dtype;            // "int8" / "uint8"
  double scale = 0;             // per-tensor scale (the first one when per-axis)
  int64_t zero_point = 0;
  bool per_axis = false;
  double lo = 0, hi = 0;        // representable range: (qmin - zp) * scale .. (qmax - zp) * scale
};

struct LayerComparison {
  int index = 0;
  std::string tensor, compared_value;  // the FP32 name; the quantized model's value compared (T or its DQ output)
  std::string node, op_type;           // producer in the quantized model
  std::vector<int64_t> shape;
  bool is_output = false;
  QuantInfo quant;
  double fp32_min = 0, fp32_max = 0;
  int64_t clipped = 0, elements = 0;   // FP32 values outside the quantized range
  ErrorAccumulator accumulated, local;
  bool has_local = false;
  Histogram histogram;
};

struct OutputComparison {
  std::string fp32_name, quant_name;
  std::vector<int64_t> shape;
  ErrorAccumulator accumulated;
  std::string task;  // "classifier", "map" or ""
  Top1Accumulator top1;
  IouAccumulator iou{0.5};
};

struct CompareResult {
  std::vector<LayerComparison> layers;  // topological order of the quantized model
  std::vector<OutputComparison> outputs;
  int64_t samples = 0;
  std::vector<std::string> worst;       // tensors with the lowest local SQNR (accumulated without --no-local)
  std::vector<std::string> notes;       // what could not be compared, and why
};

class ModelComparer {
 public:
  static Expected<std::unique_ptr<ModelComparer>> create(const Graph& fp32, const Graph& quant, const CompareOptions& options);
  ~ModelComparer();
  // Runs the FP32 model, the quantized model and (with `local`) the rewired quantized model on one sample.
  // `inputs` are the FP32 model's inputs.
  Status add_sample(const std::map<std::string, Tensor>& inputs);
  // Outputs of the FP32 model on the last sample (cached by callers that score many candidates).
  const std::map<std::string, Tensor>& last_fp32_outputs() const;
  CompareResult result() const;

  struct Impl;

 private:
  explicit ModelComparer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Output metrics of one quantized graph against FP32 outputs computed earlier (mixed-precision search): runs
// `quant` on each input set and accumulates into a CompareResult with outputs only.
class OutputScorer {
 public:
  static Expected<std::unique_ptr<OutputScorer>> create(const Graph& fp32, const Graph& quant, const CompareOptions& options);
  ~OutputScorer();
  Status add_sample(const std::map<std::string, Tensor>& fp32_inputs, const std::map<std::string, Tensor>& fp32_outputs);
  CompareResult result() const;

  struct Impl;

 private:
  explicit OutputScorer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Text and JSON forms (compare_report.cpp).
std::string format_compare_text(const CompareResult& r, bool all_layers = true);
nlohmann::json compare_to_json(const CompareResult& r);

}  // namespace lowbit::compare
