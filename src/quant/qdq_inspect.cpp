#include "quant/qdq_inspect.h"

#include <algorithm>
#include <cstdio>
#include <set>

namespace lowbit::quant {
namespace {

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

void code_range(DType t, int64_t* lo, int64_t* hi) {
  if (t == DType::kUint8) { *lo = 0; *hi = 255; }
  else if (t == DType::kInt32) { *lo = -2147483648LL; *hi = 2147483647LL; }
  else { *lo = -128; *hi = 127; }
}

}  // namespace

std::optional<QuantizedTensorInfo> qdq_node_params(const Graph& g, const Node& n) {
  const bool q = n.op_type == "QuantizeLinear", dq = n.op_type == "DequantizeLinear";
  if ((!q && !dq) || !n.domain.empty() || n.num_inputs() < 2) return std::nullopt;
  const std::string& tensor = q ? n.outputs[0] : n.inputs[0];
  const Tensor* scale = g.constant(n.inputs[1]);
  const Tensor* zp = n.has_input(2) ? g.constant(n.inputs[2]) : nullptr;
  if (tensor.empty() || !scale || scale->numel() < 1 || (n.has_input(2) && !zp)) return std::nullopt;
  QuantizedTensorInfo info;
  info.tensor = tensor;
  info.dtype = zp ? zp->dtype() : (dq && g.find(tensor) ? g.find(tensor)->type.dtype : DType::kUint8);
  for (int64_t i = 0; i < scale->numel(); ++i) info.scales.push_back(float(scale->get_as_double(i)));
  for (int64_t i = 0; i < scale->numel(); ++i)
    info.zero_points.push_back(zp && zp->numel() > 0 ? zp->get_as_int64(zp->numel() == 1 ? 0 : i) : 0);
  if (scale->numel() > 1 || scale->rank() == 1) info.axis = n.attr_int("axis", 1);
  int64_t qlo, qhi;
  code_range(info.dtype, &qlo, &qhi);
  info.real_lo = info.real_hi = 0;
  for (size_t c = 0; c < info.scales.size(); ++c) {
    info.real_lo = std::min(info.real_lo, float(double(qlo - info.zero_points[c]) * info.scales[c]));
    info.real_hi = std::max(info.real_hi, float(double(qhi - info.zero_points[c]) * info.scales[c]));
  }
  return info;
}

std::vector<QuantizedTensorInfo> describe_quantized_tensors(const Graph& g) {
  std::vector<QuantizedTensorInfo> out;
  std::set<std::string> seen;
  std::set<std::string> inputs(g.inputs.begin(), g.inputs.end()), outputs(g.outputs.begin(), g.outputs.end());
  for (auto& n : g.nodes) {
    auto params = qdq_node_params(g, n);
    if (!params || seen.count(params->tensor)) continue;
    QuantizedTensorInfo info = std::move(*params);
    const std::string& tensor = info.tensor;
    seen.insert(tensor);
    const ValueInfo* v = g.find(tensor);
    const bool constant = v && v->constant;
    info.role = inputs.count(tensor) ? "input" : outputs.count(tensor) ? "output"
                : constant ? (info.dtype == DType::kInt32 ? "bias" : "weight") : "activation";
    int64_t qlo, qhi;
    code_range(info.dtype, &qlo, &qhi);
    const std::string type = dtype_name(info.dtype);
    if (info.scales.size() == 1) {
      const int64_t z = info.zero_points[0];
      std::string formula = z == 0 ? "real = q x " + fmt(info.scales[0])
                                   : "real = (q " + std::string(z > 0 ? "- " : "+ ") + std::to_string(std::llabs(z)) + ") x " + fmt(info.scales[0]);
      info.meaning = type + " " + info.role + ": " + formula + "; codes " + std::to_string(qlo) + ".." + std::to_string(qhi) +
                     " cover [" + fmt(info.real_lo) + ", " + fmt(info.real_hi) + "]" +
                     (z == 0 || (info.dtype == DType::kUint8 && z == 128) ? " (symmetric)" : " (asymmetric)");
    } else {
      auto [mn, mx] = std::minmax_element(info.scales.begin(), info.scales.end());
      const bool all_zero = std::all_of(info.zero_points.begin(), info.zero_points.end(), [](int64_t z) { return z == 0; });
      info.meaning = type + " " + info.role + ", per channel along axis " + std::to_string(info.axis) + ": real = " +
                     (all_zero ? "q x scale[c]" : "(q - zero_point[c]) x scale[c]") + ", " +
                     std::to_string(info.scales.size()) + " scales in [" + fmt(*mn) + ", " + fmt(*mx) + "]" +
                     (all_zero ? " (symmetric)" : "");
    }
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace lowbit::quant
