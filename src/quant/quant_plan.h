// Which tensors and nodes of a float graph get quantized: the decision `lowbit quantize` makes before it
// calibrates (only planned activations are observed) and before it rewrites the graph into QDQ form.
//
//   QuantPlanOptions opt;
//   opt.exclude = {"Softmax", "head_conv"};           // op types or node names kept in float
//   LB_ASSIGN_OR_RETURN(QuantPlan plan, plan_quantization(graph, opt));
//   for (auto& t : plan.activations) ...               // tensors to calibrate
//
// The rules (DESIGN.md "Numerics"), chosen so that the INT8 engine can run whole chains in integers:
// - Compute ops (Conv, ConvTranspose, Gemm, MatMul) are quantized: int8 weights per output channel, int32
//   bias (scale = s_input x s_weight[c]), their float activation inputs quantized.
// - Integer-friendly ops (Add, Mul of two activations, Concat, AveragePool, GlobalAveragePool, Sigmoid,
//   HardSigmoid, HardSwish, Tanh) are quantized: their activation inputs get their own scales.
// - Data-movement ops (MaxPool, Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Slice, Resize, Upsample)
//   are quantized only inside an int8 chain (when a consumer of their output is quantized); their output then
//   shares the input's scale and zero point, so no requantization happens between them.
// - Relu, Clip and LeakyRelu are not quantized themselves: they stay between their producer and the next
//   quantize step, which is where the INT8 engine fuses them (Conv -> Relu -> Q becomes one primitive).
// - A tensor is quantized when a quantized node reads it. Graph outputs stay float unless io is int8/uint8.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace lowbit::quant {

struct QuantPlanOptions {
  bool weight_only = false;          // int8 weights + DequantizeLinear only; activations stay float
  bool per_channel_weights = true;   // false: one scale per weight tensor
  // Weight codes in [-weight_qmax, weight_qmax]: 127, or 64 for --reduce-range (7-bit weights: CPUs without VNNI
  // add u8 x s8 products in saturating int16 pairs, and only weights within [-64, 64] keep those exact unsplit).
  int weight_qmax = 127;
  std::set<std::string> exclude;     // node names or op types kept in float (--exclude, --precision NODE=fp32)
  bool quantize_inputs = false;      // --io int8|uint8: graph inputs become integer tensors
  bool quantize_outputs = false;     //                  and graph outputs too
};

struct WeightQuant {
  std::string value;   // the float initializer
  int64_t axis = -1;   // output-channel axis for per-channel scales, -1 for per tensor
  std::string node;    // first node that reads it (for messages)
  int qmax = 127;      // codes in [-qmax, qmax] (QuantPlanOptions::weight_qmax)
};

struct BiasQuant {
  std::string value;       // the float bias initializer
  std::string activation;  // quantized input whose scale it multiplies
  std::string weight;      // quantized weight whose per-channel scales it multiplies
  std::string node;
};

struct QuantPlan {
  std::vector<std::string> activations;              // tensors to calibrate and quantize, topological order
  std::map<std::string, std::string> shared_params;  // data-movement output -> tensor whose params it reuses
  std::vector<WeightQuant> weights;
  std::vector<BiasQuant> biases;
  std::vector<std::string> quantized_nodes;                           // node names, topological order
  std::vector<std::pair<std::string, std::string>> float_nodes;       // node name, why it stays float
  // The tensor whose calibrated parameters `name` uses (follows shared_params chains).
  std::string params_source(const std::string& name) const;
};

// Fails naming entries of options.exclude that match no node name or op type (a typo would silently keep
// everything quantized).
Expected<QuantPlan> plan_quantization(const Graph& g, const QuantPlanOptions& options);

// The quantization category of an op type, for messages and docs: "compute", "integer", "data movement",
// "fused activation", or "" (stays float).
const char* quant_category(const std::string& op_type);

}  // namespace lowbit::quant
