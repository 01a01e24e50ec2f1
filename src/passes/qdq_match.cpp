#include "passes/qdq_match.h"

#include <cmath>
#include <cstring>

namespace lowbit::qdq {

// Scale and zero point inputs 1 and 2 of a Q/DQ node, when they are per-tensor constants.
bool read_params(const Graph& g, const Node& n, DType codes_dtype, TensorQ* q) {
  const Tensor* s = n.has_input(1) ? constant_value(g, n.inputs[1]) : nullptr;
  if (!s || s->dtype() != DType::kFloat32 || s->numel() != 1) return false;
  q->s = s->data<float>()[0];
  if (!(q->s > 0) || !std::isfinite(q->s)) return false;
  q->scale = n.inputs[1];
  q->dtype = codes_dtype;
  q->z = 0;
  q->zero_point.clear();
  if (n.has_input(2)) {
    const Tensor* z = constant_value(g, n.inputs[2]);
    if (!z || z->numel() != 1 || (z->dtype() != DType::kInt8 && z->dtype() != DType::kUint8)) return false;
    q->z = int_value(*z, 0);
    q->zero_point = n.inputs[2];
    q->dtype = z->dtype();
  }
  return q->dtype == DType::kInt8 || q->dtype == DType::kUint8;
}

// `value` = DequantizeLinear(activation codes) with per-tensor parameters.
bool dequantized_activation(const Graph& g, const std::string& value, TensorQ* q) {
  const ValueInfo* v = g.find(value);
  if (!v || v->producer < 0) return false;
  const Node& dq = g.nodes[size_t(v->producer)];
  if (!is_op(dq, "DequantizeLinear") || constant_value(g, dq.inputs[0])) return false;
  const ValueInfo* codes = g.find(dq.inputs[0]);
  if (!codes || !read_params(g, dq, codes->type.dtype, q) || codes->type.dtype != q->dtype) return false;
  q->codes = dq.inputs[0];
  q->node = size_t(v->producer);
  return true;
}

// Node `ni` is a per-tensor QuantizeLinear to int8/uint8.
bool quantize_node(const Graph& g, size_t ni, TensorQ* q) {
  const Node& n = g.nodes[ni];
  if (!is_op(n, "QuantizeLinear") || n.outputs.size() != 1) return false;
  if (!read_params(g, n, DType::kUint8, q)) return false;  // ONNX: no zero point means uint8
  q->codes = n.outputs[0];
  q->node = ni;
  return true;
}

// DequantizeLinear node `dqi` undoes exactly the quantization `q` (same per-tensor parameters).
bool same_params_dq(const Graph& g, size_t dqi, const TensorQ& q) {
  TensorQ d;
  return is_op(g.nodes[dqi], "DequantizeLinear") && read_params(g, g.nodes[dqi], q.dtype, &d) && same_params(d, q);
}

// The only consumer node of `value` (which is not a graph output), or -1.
int sole_consumer(const GraphUses& uses, const std::string& value) {
  if (!uses.single_internal_use(value)) return -1;
  return int(uses.of(value)[0].node);
}

// A zero point input for a QLinear op: the existing initializer, or a new 0 of the right type.
std::string zero_point_input(Graph& g, const TensorQ& q) {
  if (!q.zero_point.empty()) return q.zero_point;
  Tensor z(q.dtype, {});
  std::memset(z.raw(), 0, 1);
  return add_constant(g, q.codes + "_zero_point", std::move(z));
}

bool constant_dequantize(const Graph& g, const std::string& value, ConstantDq* out) {
  const ValueInfo* v = g.find(value);
  if (!v || v->producer < 0) return false;
  const Node& dq = g.nodes[size_t(v->producer)];
  if (!is_op(dq, "DequantizeLinear")) return false;
  out->node = &dq;
  out->codes = constant_value(g, dq.inputs[0]);
  out->scale = dq.has_input(1) ? constant_value(g, dq.inputs[1]) : nullptr;
  out->zero_point = dq.has_input(2) ? constant_value(g, dq.inputs[2]) : nullptr;
  return out->codes && out->scale && out->scale->dtype() == DType::kFloat32 && (!dq.has_input(2) || out->zero_point);
}

}  // namespace lowbit::qdq
