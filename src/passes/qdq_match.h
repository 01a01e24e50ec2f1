// Matching QuantizeLinear / DequantizeLinear patterns in a QDQ graph: the helpers pass lower_qdq's steps share
// (src/passes/lower_qdq.cpp, lower_qdq_conv_transpose.cpp).
//
//   qdq::TensorQ x;
//   if (qdq::dequantized_activation(g, conv.inputs[0], &x)) { /* x.codes, x.s, x.z, x.dtype */ }
#pragma once
#include <string>

#include "ir/graph.h"
#include "passes/graph_rewrite.h"
#include "passes/pass.h"

namespace lowbit::qdq {

// Per-tensor quantization parameters of one Q or DQ node.
struct TensorQ {
  std::string codes;  // the int8/uint8 tensor
  std::string scale, zero_point;  // initializer names (zero_point may be empty: 0 of `dtype`)
  float s = 0;
  int32_t z = 0;
  DType dtype = DType::kUint8;
  size_t node = 0;  // the Q or DQ node
};

inline bool is_op(const Node& n, const char* op) { return n.domain.empty() && n.op_type == op; }
inline int32_t int_value(const Tensor& t, int64_t i) { return int32_t(t.get_as_int64(i)); }

// Scale and zero point inputs 1 and 2 of a Q/DQ node, when they are per-tensor constants.
bool read_params(const Graph& g, const Node& n, DType codes_dtype, TensorQ* q);
// `value` = DequantizeLinear(activation codes) with per-tensor parameters.
bool dequantized_activation(const Graph& g, const std::string& value, TensorQ* q);
// Node `ni` is a per-tensor QuantizeLinear to int8/uint8.
bool quantize_node(const Graph& g, size_t ni, TensorQ* q);
inline bool same_params(const TensorQ& a, const TensorQ& b) {
  return a.s == b.s && a.z == b.z && a.dtype == b.dtype;
}
// DequantizeLinear node `dqi` undoes exactly the quantization `q` (same per-tensor parameters).
bool same_params_dq(const Graph& g, size_t dqi, const TensorQ& q);
// The only consumer node of `value` (which is not a graph output), or -1.
int sole_consumer(const GraphUses& uses, const std::string& value);
// A zero point input for a QLinear op: the existing initializer, or a new 0 of the right type.
std::string zero_point_input(Graph& g, const TensorQ& q);

// `value` = DequantizeLinear of constant codes with a constant scale (and zero point, when given).
struct ConstantDq {
  const Node* node = nullptr;
  const Tensor *codes = nullptr, *scale = nullptr, *zero_point = nullptr;
};
bool constant_dequantize(const Graph& g, const std::string& value, ConstantDq* out);

// lower_qdq's first step (lower_qdq_conv_transpose.cpp): DQ -> ConvTranspose with stride == kernel -> [act] -> Q
// becomes a 1x1 Conv with kernel-area x the channels, Q -> DQ, and DepthToSpace, which the later steps turn into
// a QLinearConv and a DepthToSpace on codes. Returns the number of layers rewritten.
int conv_transpose_as_depth_to_space(Graph& g, PassContext& ctx, std::vector<bool>& removed);

}  // namespace lowbit::qdq
