// Rewrites a float graph into the QDQ form every INT8 engine understands (ONNX Runtime, TensorRT, lowbit):
//
//   weights:      W (float)  ->  W_q (int8 initializer), W_scale -> DequantizeLinear "W_DQ" (axis = output channel)
//   biases:       B (float)  ->  B_q (int32, B_scale = s_input x s_weight[c]) -> DequantizeLinear "B_DQ"
//   activations:  T -> QuantizeLinear "T_Q" (T_scale, T_zp) -> T_q -> DequantizeLinear "T_DQ" -> T_dq -> consumers
//
// Names are short on purpose: in a QDQ file every quantized tensor's name appears ~10 times, and with long
// PyTorch names (/features/features.16/conv/conv.2/Conv_output_0) suffixes alone cost ~1% of the file.
// Weight and bias zero points are left out (ONNX's default, 0, is exactly theirs).
//
// Each weight is stored once, as int8 (the float copy is dropped), which is what makes the file ~4x smaller.
// Every consumer of a quantized tensor reads the dequantized value, so running the QDQ graph in float
// reproduces exactly what an integer engine computes (up to its accumulation order).
//
//   QdqParams params;  params["conv1_out"] = {.scale = 0.02f, .zero_point = 0};
//   QdqReport report;
//   LB_RETURN_IF_ERROR(rewrite_to_qdq(graph, plan, params, {}, &report));
#pragma once
#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "quant/quant_plan.h"

namespace lowbit::quant {

struct TensorQuantParams {
  float scale = 1;
  int32_t zero_point = 0;
  bool is_unsigned = false;  // uint8 instead of int8
};
using QdqParams = std::map<std::string, TensorQuantParams>;  // by tensor name (the plan's params sources)

struct QuantizedWeight;

struct QdqOptions {
  bool quantize_inputs = false;   // graph inputs become int8/uint8 (real = (q - zero_point) x scale)
  bool quantize_outputs = false;  // graph outputs become int8/uint8
  // Weights whose int8 codes were chosen elsewhere (AdaRound, adaround.h), by initializer name.
  const std::map<std::string, QuantizedWeight>* rounded_weights = nullptr;
};

struct QdqReport {
  int activations = 0, weights = 0, biases = 0;
  std::vector<std::string> skipped_activations;  // planned but without parameters (e.g. not in a --read-cache)
  std::vector<std::string> float_biases;         // left float because their input or weight stayed float
  int64_t saturated_bias_values = 0;             // int32 bias values clamped (should stay 0: weight scales are raised)
  int raised_weight_scales = 0;                  // channels whose weight scale was raised to fit their bias
  std::vector<std::string> io_notes;             // "input 'x': uint8, real = (q - 128) x 0.0187" per quantized graph input/output
};

// Weight quantization on its own (also used by --weight-only): symmetric int8, [-qmax, qmax] (127, or 64 for
// --reduce-range), one scale per index of `axis` (or one scale when axis < 0). An all-zero channel gets scale 1.
// `min_scales` (optional, one per channel or one) raises scales where an int32 bias would otherwise overflow
// (bias / (s_x * s_w) > 2^30).
struct QuantizedWeight {
  Tensor values;              // int8, same shape
  std::vector<float> scales;  // per channel (size dim(axis)) or one
};
QuantizedWeight quantize_weight(const Tensor& w, int64_t axis, const std::vector<float>* min_scales = nullptr,
                                int qmax = 127);

// The int8 weights rewrite_to_qdq writes for `plan`, by weight name: quantize_weight per the plan's axis, with
// the scale floors that keep the planned int32 biases in range, and the codes `rounded` (AdaRound) chose where it
// names the weight. `raised_channels` (optional) counts channels whose scale a floor raised.
Expected<std::map<std::string, QuantizedWeight>> quantize_plan_weights(
    const Graph& g, const QuantPlan& plan, const QdqParams& params, int* raised_channels = nullptr,
    const std::map<std::string, QuantizedWeight>* rounded = nullptr);

// Applies the plan. Activations whose params are missing are reported and left float. The graph stays valid
// (re-sorted and re-inferred); unused float weights are removed.
Status rewrite_to_qdq(Graph& g, const QuantPlan& plan, const QdqParams& params, const QdqOptions& options,
                      QdqReport* report);

}  // namespace lowbit::quant
