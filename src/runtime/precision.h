// The numeric precision a node of an optimized graph executes in, for reports (bench --profile, inspect):
//   "int8"        integer kernels on int8/uint8 codes (QLinearConv, data movement on codes)
//   "fp32->int8"  QuantizeLinear at the entry of an integer chain
//   "int8->fp32"  DequantizeLinear at its exit, and MatMulIntegerToFloat (int8 products, float output)
//   "fp32"        everything else (float kernels, including float ops a QDQ graph left between DQ and Q)
#pragma once
#include "ir/graph.h"

namespace lowbit {

inline const char* node_precision(const Graph& g, const Node& n) {
  if (n.domain.empty() && n.op_type == "QuantizeLinear") return "fp32->int8";
  if (n.domain.empty() && (n.op_type == "DequantizeLinear" || n.op_type == "MatMulIntegerToFloat")) return "int8->fp32";
  for (auto& out : n.outputs) {
    const ValueInfo* v = g.find(out);
    if (v && (v->type.dtype == DType::kInt8 || v->type.dtype == DType::kUint8)) return "int8";
  }
  return "fp32";
}

}  // namespace lowbit
