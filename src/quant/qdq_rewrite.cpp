#include "quant/qdq_rewrite.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <tuple>

#include "passes/graph_rewrite.h"
#include "quant/adaround.h"
#include "quant/quant_math.h"

namespace lowbit::quant {
namespace {

// Adds nodes with names no other node has.
class NodeAdder {
 public:
  explicit NodeAdder(Graph& g) : g_(g) {
    for (auto& n : g.nodes) names_.insert(n.name);
  }
  Node& add(const std::string& base, const std::string& op, std::vector<std::string> inputs,
            std::vector<std::string> outputs) {
    std::string name = base;
    for (int i = 1; names_.count(name); ++i) name = base + "_" + std::to_string(i);
    names_.insert(name);
    Node n;
    n.name = name;
    n.op_type = op;
    n.inputs = std::move(inputs);
    n.outputs = std::move(outputs);
    g_.nodes.push_back(std::move(n));
    return g_.nodes.back();
  }

 private:
  Graph& g_;
  std::set<std::string> names_;
};

// Declares a node output value (types are re-inferred by commit_rewrite).
std::string add_value(Graph& g, const std::string& base, DType dtype, const ValueType& like) {
  std::string name = unique_value_name(g, base);
  ValueInfo& v = g.values[name];
  v.name = name;
  v.type = like;
  v.type.dtype = dtype;
  return name;
}

Tensor scalar_zero_point(const TensorQuantParams& p) {
  return p.is_unsigned ? Tensor::from_vector<uint8_t>(DType::kUint8, {}, {uint8_t(p.zero_point)})
                       : Tensor::from_vector<int8_t>(DType::kInt8, {}, {int8_t(p.zero_point)});
}

std::string describe_params(const TensorQuantParams& p) {
  std::ostringstream os;
  os << (p.is_unsigned ? "uint8" : "int8") << ", real = (q - " << p.zero_point << ") x " << p.scale;
  return os.str();
}

}  // namespace

QuantizedWeight quantize_weight(const Tensor& w, int64_t axis, const std::vector<float>* min_scales, int qmax) {
  QuantizedWeight out;
  out.values = Tensor(DType::kInt8, w.shape());
  const float* src = w.data<float>();
  int8_t* dst = out.values.data<int8_t>();
  int64_t channels = 1, inner = w.numel();
  if (axis >= 0) {
    channels = w.dim(size_t(axis));
    inner = 1;
    for (size_t d = size_t(axis) + 1; d < w.rank(); ++d) inner *= w.dim(d);
  }
  const int64_t outer = channels > 0 ? w.numel() / (channels * std::max<int64_t>(inner, 1)) : 0;
  std::vector<float> amax(size_t(channels), 0.f);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t i = 0; i < inner; ++i) {
        const float v = std::fabs(src[(o * channels + c) * inner + i]);
        if (std::isfinite(v)) amax[size_t(c)] = std::max(amax[size_t(c)], v);
      }
  out.scales.resize(size_t(channels));
  for (int64_t c = 0; c < channels; ++c) {
    float& s = out.scales[size_t(c)];
    s = amax[size_t(c)] > 0 ? amax[size_t(c)] / float(qmax) : 1.f;
    if (min_scales && !min_scales->empty()) s = std::max(s, (*min_scales)[min_scales->size() == 1 ? 0 : size_t(c)]);
  }
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < channels; ++c) {
      const float s = out.scales[size_t(c)];
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t k = (o * channels + c) * inner + i;
        // Symmetric weights use [-qmax, qmax] (DESIGN.md): -128 would make the range lopsided.
        dst[k] = int8_t(std::clamp<int>(round_and_saturate<int8_t>(src[k] / s, 0), -qmax, qmax));
      }
    }
  return out;
}

Expected<std::map<std::string, QuantizedWeight>> quantize_plan_weights(const Graph& g, const QuantPlan& plan,
                                                                       const QdqParams& params, int* raised_channels,
                                                                       const std::map<std::string, QuantizedWeight>* rounded) {
  // A channel with tiny weights (e.g. dead after BatchNormalization folding) and a large bias would need a
  // bias beyond int32 at scale s_x * s_w: raise that channel's weight scale instead (as ONNX Runtime does).
  constexpr double kBiasLimit = 1073741824.0;  // 2^30: headroom for the products the accumulator adds
  std::map<std::string, std::vector<float>> min_weight_scales;
  for (auto& bq : plan.biases) {
    auto pit = params.find(plan.params_source(bq.activation));
    const Tensor* b = constant_value(g, bq.value);
    if (pit == params.end() || !b) continue;
    std::vector<float>& floor = min_weight_scales[bq.weight];
    floor.resize(std::max<size_t>(floor.size(), size_t(b->numel())), 0.f);
    for (int64_t c = 0; c < b->numel(); ++c)
      floor[size_t(c)] = std::max(floor[size_t(c)], float(std::fabs(b->get_as_double(c)) / (double(pit->second.scale) * kBiasLimit)));
  }
  std::map<std::string, QuantizedWeight> out;
  for (auto& wq : plan.weights) {
    const Tensor* w = constant_value(g, wq.value);
    if (!w || w->dtype() != DType::kFloat32)
      return error(StatusCode::kInternal, "weight '", wq.value, "' of node '", wq.node, "' is not a float constant");
    std::vector<float>* floor = nullptr;
    if (auto it = min_weight_scales.find(wq.value); it != min_weight_scales.end()) {
      floor = &it->second;
      if (wq.axis < 0) *floor = {*std::max_element(floor->begin(), floor->end())};
    }
    QuantizedWeight q = quantize_weight(*w, wq.axis, floor, wq.qmax);
    if (rounded)
      if (auto it = rounded->find(wq.value); it != rounded->end()) use_rounded_codes(q, it->second, wq.axis);
    if (floor && raised_channels) {
      QuantizedWeight plain = quantize_weight(*w, wq.axis, nullptr, wq.qmax);
      for (size_t c = 0; c < q.scales.size(); ++c) *raised_channels += q.scales[c] != plain.scales[c];
    }
    out[wq.value] = std::move(q);
  }
  return out;
}

Status rewrite_to_qdq(Graph& g, const QuantPlan& plan, const QdqParams& params, const QdqOptions& options,
                      QdqReport* report) {
  QdqReport local;
  QdqReport& r = report ? *report : local;
  NodeAdder adder(g);
  std::set<std::string> graph_inputs(g.inputs.begin(), g.inputs.end());
  std::set<std::string> graph_outputs(g.outputs.begin(), g.outputs.end());

  // Weights first: their scales are needed by the biases.
  int raised = 0;
  LB_ASSIGN_OR_RETURN(auto quantized, quantize_plan_weights(g, plan, params, &raised, options.rounded_weights));
  r.raised_weight_scales += raised;
  std::map<std::string, std::vector<float>> weight_scales;
  for (auto& wq : plan.weights) {
    QuantizedWeight& q = quantized.at(wq.value);
    const ValueType like = g.values[wq.value].type;
    std::string q_name = add_constant(g, wq.value + "_q", std::move(q.values));
    const int64_t n = int64_t(q.scales.size());
    Shape sshape = wq.axis >= 0 ? Shape{n} : Shape{};
    std::string s_name = add_constant(g, wq.value + "_scale", Tensor::from_vector<float>(DType::kFloat32, sshape, q.scales));
    std::string out = add_value(g, wq.value + "_dq", DType::kFloat32, like);
    replace_uses(g, wq.value, out);
    // No zero point input: ONNX's default is 0 of x's type (int8), exactly the symmetric weights' zero point,
    // and leaving the all-zero vectors out keeps the file small.
    Node& dq = adder.add(wq.value + "_DQ", "DequantizeLinear", {q_name, s_name}, {out});
    if (wq.axis >= 0) dq.attrs["axis"] = Attribute::of_int(wq.axis);
    weight_scales[wq.value] = std::move(q.scales);
    ++r.weights;
  }

  // Activations.
  std::set<std::string> quantized_activations;
  std::map<std::string, std::pair<std::string, std::string>> shared_constants;  // params source -> scale, zero point
  for (auto& t : plan.activations) {
    auto it = params.find(plan.params_source(t));
    if (it == params.end()) {
      r.skipped_activations.push_back(t);
      continue;
    }
    const TensorQuantParams& p = it->second;
    if (!(p.scale > 0) || !std::isfinite(p.scale))
      return error(StatusCode::kInvalidArgument, "tensor '", t, "': scale ", p.scale, " is not a positive finite number");
    const ValueType like = g.values[t].type;
    const DType qtype = p.is_unsigned ? DType::kUint8 : DType::kInt8;
    // Tensors sharing their source's parameters (data movement) share its scale/zero-point constants too.
    const std::string source = plan.params_source(t);
    auto shared = shared_constants.find(source);
    std::string s_name, z_name;
    if (shared != shared_constants.end()) {
      std::tie(s_name, z_name) = shared->second;
    } else {
      s_name = add_constant(g, source + "_scale", Tensor::from_vector<float>(DType::kFloat32, {}, {p.scale}));
      z_name = add_constant(g, source + "_zp", scalar_zero_point(p));
      shared_constants[source] = {s_name, z_name};
    }
    const bool as_input = options.quantize_inputs && graph_inputs.count(t);
    const bool as_output = options.quantize_outputs && graph_outputs.count(t) && !graph_inputs.count(t);
    if (as_input) {
      // The caller feeds integers: the graph input itself becomes int8/uint8, a DequantizeLinear follows it.
      std::string deq = add_value(g, t + "_dq", DType::kFloat32, like);
      replace_uses(g, t, deq);
      adder.add(t + "_DQ", "DequantizeLinear", {t, s_name, z_name}, {deq});
      g.values[t].type.dtype = qtype;
      r.io_notes.push_back("input '" + t + "': " + describe_params(p));
      g.metadata_props["lowbit.input." + t + ".quantization"] = describe_params(p);
    } else if (as_output) {
      // The graph hands back integers under the output's own name; the float value is renamed.
      std::string flt = unique_value_name(g, t + "_float");
      ValueInfo moved = g.values[t];
      moved.name = flt;
      g.values[flt] = moved;
      for (auto& node : g.nodes)
        for (auto& o : node.outputs)
          if (o == t) o = flt;
      std::string deq = add_value(g, t + "_dq", DType::kFloat32, like);
      replace_uses(g, t, deq);
      adder.add(t + "_Q", "QuantizeLinear", {flt, s_name, z_name}, {t});
      adder.add(t + "_DQ", "DequantizeLinear", {t, s_name, z_name}, {deq});
      g.values[t].type.dtype = qtype;
      g.values[t].producer = -1;
      r.io_notes.push_back("output '" + t + "': " + describe_params(p));
      g.metadata_props["lowbit.output." + t + ".quantization"] = describe_params(p);
    } else {
      std::string q = add_value(g, t + "_q", qtype, like);
      std::string deq = add_value(g, t + "_dq", DType::kFloat32, like);
      replace_uses(g, t, deq);
      adder.add(t + "_Q", "QuantizeLinear", {t, s_name, z_name}, {q});
      adder.add(t + "_DQ", "DequantizeLinear", {q, s_name, z_name}, {deq});
    }
    quantized_activations.insert(t);
    ++r.activations;
  }

  // Biases: int32 at scale s_input x s_weight[c], so the integer accumulator adds them directly.
  std::set<std::string> done_biases;
  for (auto& bq : plan.biases) {
    auto pit = params.find(plan.params_source(bq.activation));
    auto wit = weight_scales.find(bq.weight);
    if (!quantized_activations.count(bq.activation) || pit == params.end() || wit == weight_scales.end()) {
      r.float_biases.push_back(bq.value);
      continue;
    }
    const Tensor* b = constant_value(g, bq.value);
    if (!b) {  // already replaced for another node: only valid when it is the same bias/input/weight triple
      if (!done_biases.count(bq.value)) r.float_biases.push_back(bq.value);
      continue;
    }
    const float s_x = pit->second.scale;
    const std::vector<float>& s_w = wit->second;
    const int64_t n = b->numel();
    std::vector<int32_t> q(static_cast<size_t>(n));
    std::vector<float> scales(s_w.size() == 1 ? size_t(1) : static_cast<size_t>(n));
    for (int64_t c = 0; c < int64_t(scales.size()); ++c) scales[size_t(c)] = s_x * s_w[size_t(c)];
    for (int64_t c = 0; c < n; ++c) {
      const double s = double(scales[scales.size() == 1 ? 0 : size_t(c)]);
      const double v = round_half_to_even(b->get_as_double(c) / s);
      if (v > 2147483647.0 || v < -2147483648.0) ++r.saturated_bias_values;
      q[size_t(c)] = saturate<int32_t>(v);
    }
    const ValueType like = g.values[bq.value].type;
    const Shape sshape = scales.size() == 1 ? Shape{} : Shape{n};
    std::string q_name = add_constant(g, bq.value + "_q", Tensor::from_vector<int32_t>(DType::kInt32, b->shape(), q));
    std::string s_name = add_constant(g, bq.value + "_scale", Tensor::from_vector<float>(DType::kFloat32, sshape, scales));
    std::string out = add_value(g, bq.value + "_dq", DType::kFloat32, like);
    replace_uses(g, bq.value, out);
    // No zero point: 0 (int32) is ONNX's default.
    Node& dq = adder.add(bq.value + "_DQ", "DequantizeLinear", {q_name, s_name}, {out});
    if (scales.size() > 1) dq.attrs["axis"] = Attribute::of_int(b->rank() == 2 ? 1 : 0);
    done_biases.insert(bq.value);
    ++r.biases;
  }
  return commit_rewrite(g, std::vector<bool>(g.nodes.size(), false), "quantize");
}

}  // namespace lowbit::quant
