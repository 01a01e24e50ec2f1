// Reads the quantization parameters back out of a QDQ graph (lowbit's or another tool's), for `lowbit inspect`:
// every quantized tensor with its scale, zero point and what they mean in one line.
//
//   for (auto& q : describe_quantized_tensors(graph)) std::cout << q.tensor << ": " << q.meaning << "\n";
//   // x_quantized: uint8 activation: real = (q - 128) x 0.0187; codes 0..255 cover [-2.39, 2.38]
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace lowbit::quant {

struct QuantizedTensorInfo {
  std::string tensor;  // the integer tensor (QuantizeLinear output, DequantizeLinear input)
  std::string role;    // "input", "output", "activation", "weight", "bias"
  DType dtype = DType::kUndefined;
  int64_t axis = -1;                 // per-channel axis, -1 per tensor
  std::vector<float> scales;         // one, or one per channel
  std::vector<int64_t> zero_points;  // same length as scales
  float real_lo = 0, real_hi = 0;    // the real range the integer codes cover (per tensor; widest for per-channel)
  std::string meaning;               // one line: the formula with the numbers filled in
};

// The parameters of one QuantizeLinear / DequantizeLinear node (tensor = its integer side; role and meaning
// left empty), or nullopt for other nodes and for scales / zero points that are not constants.
std::optional<QuantizedTensorInfo> qdq_node_params(const Graph& g, const Node& n);

// In graph order; each tensor once. Q/DQ nodes whose scale or zero point are not constants are skipped.
std::vector<QuantizedTensorInfo> describe_quantized_tensors(const Graph& g);

}  // namespace lowbit::quant
