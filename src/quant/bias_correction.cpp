#include "quant/bias_correction.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>

#include "passes/graph_rewrite.h"

namespace lowbit::quant {
namespace {

// Three spatial axes at most (Conv1d/2d/3d); fewer are padded in front with size-1 axes, so a weight's flattened
// kernel index equals the padded one.
constexpr size_t kAxes = 3;

int64_t product(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t x : v) p *= x;
  return p;
}

// Adds to `sums` [C, k0, k1, k2], for every kernel tap, the input values that tap multiplies summed over all
// output positions (zero padding contributes nothing); returns the number of output positions per sample.
// Per axis the positions tap k reads are {o * stride + k * dilation - pad_begin}, and the axes are independent,
// so the sum over a tap is reduced one axis at a time (cost ~ input size x taps per axis, not x all taps).
Expected<int64_t> add_tap_sums(const ConvAttrs& a, const Tensor& x, std::vector<double>& sums) {
  const Shape& s = x.shape();
  const size_t sp = a.spatial;
  int64_t h[kAxes] = {1, 1, 1}, k[kAxes] = {1, 1, 1}, out[kAxes] = {1, 1, 1};
  std::vector<std::vector<int64_t>> idx[kAxes];
  for (size_t ax = 0; ax < kAxes; ++ax) idx[ax] = {{0}};
  for (size_t i = 0; i < sp; ++i) {
    const size_t ax = kAxes - sp + i;
    h[ax] = s[2 + i];
    k[ax] = a.kernel[i];
    LB_ASSIGN_OR_RETURN(ConvAxis geo, conv_axis(a, i, h[ax]));
    out[ax] = geo.out;
    idx[ax].assign(size_t(k[ax]), {});
    for (int64_t t = 0; t < k[ax]; ++t)
      for (int64_t o = 0; o < geo.out; ++o) {
        const int64_t pos = o * a.strides[i] + t * a.dilations[i] - geo.pad_begin;
        if (pos >= 0 && pos < h[ax]) idx[ax][size_t(t)].push_back(pos);
      }
  }
  const int64_t n = s[0], c = s[1], plane = h[0] * h[1] * h[2], taps = k[0] * k[1] * k[2];
  std::vector<double> a2(size_t(h[0] * h[1] * k[2])), a1(size_t(h[0] * k[1] * k[2]));
  const float* data = x.data<float>();
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch) {
      const float* p = data + (b * c + ch) * plane;
      for (int64_t i0 = 0; i0 < h[0]; ++i0)
        for (int64_t i1 = 0; i1 < h[1]; ++i1)
          for (int64_t t2 = 0; t2 < k[2]; ++t2) {
            double acc = 0;
            for (int64_t i2 : idx[2][size_t(t2)]) acc += p[(i0 * h[1] + i1) * h[2] + i2];
            a2[size_t((i0 * h[1] + i1) * k[2] + t2)] = acc;
          }
      std::fill(a1.begin(), a1.end(), 0.0);
      for (int64_t i0 = 0; i0 < h[0]; ++i0)
        for (int64_t t1 = 0; t1 < k[1]; ++t1)
          for (int64_t i1 : idx[1][size_t(t1)])
            for (int64_t t2 = 0; t2 < k[2]; ++t2)
              a1[size_t((i0 * k[1] + t1) * k[2] + t2)] += a2[size_t((i0 * h[1] + i1) * k[2] + t2)];
      double* dst = sums.data() + ch * taps;
      for (int64_t t0 = 0; t0 < k[0]; ++t0)
        for (int64_t i0 : idx[0][size_t(t0)])
          for (int64_t t1 = 0; t1 < k[1]; ++t1)
            for (int64_t t2 = 0; t2 < k[2]; ++t2)
              dst[(t0 * k[1] + t1) * k[2] + t2] += a1[size_t((i0 * k[1] + t1) * k[2] + t2)];
    }
  return n * out[0] * out[1] * out[2];
}

// W_q - W, element by element (W_q dequantized with its per-axis or single scale).
std::vector<double> rounding_error(const Tensor& w, const QuantizedWeight& q, int64_t axis) {
  std::vector<double> d(size_t(w.numel()));
  int64_t channels = 1, inner = w.numel();
  if (axis >= 0) {
    channels = w.dim(size_t(axis));
    inner = 1;
    for (size_t i = size_t(axis) + 1; i < w.rank(); ++i) inner *= w.dim(i);
  }
  const int8_t* codes = q.values.data<int8_t>();
  const float* f = w.data<float>();
  for (int64_t e = 0; e < w.numel(); ++e) {
    const float scale = q.scales[q.scales.size() == 1 ? 0 : size_t((e / std::max<int64_t>(inner, 1)) % channels)];
    d[size_t(e)] = double(codes[e]) * double(scale) - double(f[e]);
  }
  return d;
}

std::string shape_text(const Tensor& t) {
  std::string s = "[";
  for (size_t i = 0; i < t.rank(); ++i) s += (i ? "," : "") + std::to_string(t.dim(i));
  return s + "]";
}

}  // namespace

BiasCorrectionStats::BiasCorrectionStats(const Graph& g, const QuantPlan& plan) {
  std::set<std::string> weights;
  for (auto& w : plan.weights) weights.insert(w.value);
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < g.nodes.size(); ++i) index[g.nodes[i].name] = i;
  for (auto& name : plan.quantized_nodes) {
    auto it = index.find(name);
    if (it == index.end()) continue;
    const Node& n = g.nodes[it->second];
    if (n.op_type != "Conv" && n.op_type != "ConvTranspose" && n.op_type != "Gemm" && n.op_type != "MatMul") continue;
    Layer l;
    l.node = name;
    l.op = n.op_type;
    l.input = n.inputs.empty() ? "" : n.inputs[0];
    const Tensor* w = n.has_input(1) && weights.count(n.inputs[1]) ? constant_value(g, n.inputs[1]) : nullptr;
    if (n.op_type == "ConvTranspose") {
      l.problem = "ConvTranspose (output positions see different taps: no per-channel bias cancels the shift)";
    } else if (!w || w->dtype() != DType::kFloat32 || l.input.empty() || constant_value(g, l.input)) {
      l.problem = "no quantized constant weight as input 2 and activation as input 1";
    } else if (n.op_type == "Conv") {
      if (w->rank() < 3 || w->rank() > 2 + kAxes) {
        l.problem = "weight of rank " + std::to_string(w->rank());
      } else {
        std::vector<int64_t> spatial(w->shape().begin() + 2, w->shape().end());
        auto attrs = parse_conv_attrs(n, w->rank() - 2, spatial, false);
        if (!attrs.ok()) {
          l.problem = attrs.status().message();
        } else if (w->dim(0) == 0 || w->dim(0) % attrs->group != 0) {
          l.problem = "weight's output channels do not split into the conv's groups";
        } else {
          l.conv = *attrs;
          l.channels = w->dim(1) * l.conv.group;
          l.sums.assign(size_t(l.channels * product(spatial)), 0.0);
        }
      }
    } else if (w->rank() != 2) {
      l.problem = "weight of rank " + std::to_string(w->rank()) + " (2-D expected)";
    } else {
      const bool trans_b = n.op_type == "Gemm" && n.attr_int("transB", 0) != 0;
      l.sums.assign(size_t(trans_b ? w->dim(1) : w->dim(0)), 0.0);
    }
    if (l.problem.empty()) readers_[l.input].push_back(layers_.size());
    layers_.push_back(std::move(l));
  }
}

ValueObserver BiasCorrectionStats::observer() {
  ValueObserver o;
  o.wants = [this](const std::string& v) { return readers_.count(v) != 0; };
  o.observe = [this](const std::string& v, const Tensor& t) { observe(v, t); };
  return o;
}

void BiasCorrectionStats::observe(const std::string& tensor, const Tensor& t) {
  auto it = readers_.find(tensor);
  if (it == readers_.end()) return;
  for (size_t li : it->second) {
    Layer& l = layers_[li];
    if (!l.problem.empty()) continue;
    if (t.dtype() != DType::kFloat32) {
      l.problem = "input is not float32";
      continue;
    }
    if (l.op == "Conv") {
      if (t.rank() != l.conv.spatial + 2 || t.dim(1) != l.channels) {
        l.problem = "input of shape " + shape_text(t) + " does not match the weight";
        continue;
      }
      auto positions = add_tap_sums(l.conv, t, l.sums);
      if (!positions.ok()) {
        l.problem = positions.status().message();
        continue;
      }
      l.count += double(*positions);
    } else {
      const int64_t k = int64_t(l.sums.size());
      if (t.rank() < 1 || t.shape().back() != k) {
        l.problem = "input of shape " + shape_text(t) + " does not match the weight";
        continue;
      }
      const int64_t rows = t.numel() / std::max<int64_t>(k, 1);
      const float* p = t.data<float>();
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t i = 0; i < k; ++i) l.sums[size_t(i)] += p[r * k + i];
      l.count += double(rows);
    }
  }
}

Status correct_biases(Graph& g, const QuantPlan& plan, const QdqParams& params, const BiasCorrectionStats& stats,
                      BiasCorrectionReport* report, const std::map<std::string, QuantizedWeight>* rounded_weights) {
  BiasCorrectionReport local;
  BiasCorrectionReport& r = report ? *report : local;
  r = BiasCorrectionReport{};
  // Exactly the int8 weights the rewrite will write. (Their scale floors, which keep int32 biases in range, are
  // computed from the uncorrected biases here; a floor that binds is rare and moves by the tiny correction only.)
  LB_ASSIGN_OR_RETURN(auto quantized, quantize_plan_weights(g, plan, params, nullptr, rounded_weights));
  std::map<std::string, int64_t> axis_of;
  for (auto& w : plan.weights) axis_of[w.value] = w.axis;
  // The plan may have changed since calibration (mixed precision keeps more nodes in float): those stay as they are.
  const std::set<std::string> quantized_nodes(plan.quantized_nodes.begin(), plan.quantized_nodes.end());
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < g.nodes.size(); ++i) index[g.nodes[i].name] = i;
  const GraphUses uses(g);
  std::vector<Node> added;  // bias Adds after MatMuls (appended at the end: node indices stay valid meanwhile)
  double abs_total = 0;
  int64_t channels_total = 0;

  // A bias tensor this node may overwrite: the same value when only it reads the initializer, else a new one.
  auto set_bias = [&](size_t node, size_t slot, Tensor t) {
    Node& n = g.nodes[node];
    const std::string old = n.has_input(slot) ? n.inputs[slot] : "";
    if (!old.empty() && uses.of(old).size() == 1 && !uses.is_graph_output(old) && g.values[old].initializer) {
      g.values[old].constant = std::move(t);
      g.values[old].type = ValueType::of(*g.values[old].constant);
      return;
    }
    if (n.inputs.size() <= slot) n.inputs.resize(slot + 1);
    n.inputs[slot] = add_constant(g, old.empty() ? n.name + "_bias" : old, std::move(t));
  };

  for (auto& l : stats.layers()) {
    if (!l.problem.empty()) {
      r.skipped.emplace_back(l.node, l.problem);
      continue;
    }
    if (!(l.count > 0)) {
      r.skipped.emplace_back(l.node, "its input was never observed during calibration");
      continue;
    }
    auto found = index.find(l.node);
    if (found == index.end() || !quantized_nodes.count(l.node)) {
      r.skipped.emplace_back(l.node, "no longer quantized");
      continue;
    }
    const size_t ni = found->second;
    const Node& n = g.nodes[ni];
    if (n.inputs.size() < 2 || !axis_of.count(n.inputs[1]) || !quantized.count(n.inputs[1])) {
      r.skipped.emplace_back(l.node, "its weight is no longer quantized");
      continue;
    }
    const Tensor& w = *constant_value(g, n.inputs[1]);
    const std::vector<double> dw = rounding_error(w, quantized.at(n.inputs[1]), axis_of.at(n.inputs[1]));
    std::vector<double> shift;  // mean output shift per output channel / feature
    if (l.op == "Conv") {
      const int64_t m = w.dim(0), cg = w.dim(1), taps = w.numel() / std::max<int64_t>(m * cg, 1);
      const int64_t mg = m / std::max<int64_t>(l.conv.group, 1);
      shift.assign(size_t(m), 0.0);
      for (int64_t o = 0; o < m; ++o) {
        double acc = 0;
        for (int64_t c = 0; c < cg; ++c)
          for (int64_t t = 0; t < taps; ++t)
            acc += dw[size_t((o * cg + c) * taps + t)] * l.sums[size_t(((o / mg) * cg + c) * taps + t)];
        shift[size_t(o)] = acc / l.count;
      }
    } else {
      const bool trans_b = l.op == "Gemm" && n.attr_int("transB", 0) != 0;
      const int64_t k = int64_t(l.sums.size()), outs = trans_b ? w.dim(0) : w.dim(1);
      shift.assign(size_t(outs), 0.0);
      for (int64_t o = 0; o < outs; ++o) {
        double acc = 0;
        for (int64_t i = 0; i < k; ++i) acc += dw[size_t(trans_b ? o * k + i : i * outs + o)] * l.sums[size_t(i)];
        shift[size_t(o)] = acc / l.count;
      }
      if (l.op == "Gemm") {
        const double alpha = n.attr_float("alpha", 1.f), beta = n.attr_float("beta", 1.f);
        if (beta == 0) {
          r.skipped.emplace_back(l.node, "Gemm with beta = 0 has no bias term");
          continue;
        }
        for (double& s : shift) s *= alpha / beta;  // in units of C
      }
    }
    const int64_t outs = int64_t(shift.size());
    // The corrected bias: existing values minus the shift, one per output (a scalar bias is widened).
    auto corrected = [&](const Tensor* old, bool* ok) {
      *ok = !old || (old->dtype() == DType::kFloat32 &&
                     (old->numel() == 1 || (old->numel() == outs && old->dim(old->rank() - 1) == outs)));
      Tensor t = old && old->numel() == outs ? old->clone() : Tensor(DType::kFloat32, {outs});
      for (int64_t o = 0; o < outs && *ok; ++o)
        t.data<float>()[o] = float((old ? old->get_as_double(old->numel() == 1 ? 0 : o) : 0.0) - shift[size_t(o)]);
      return t;
    };
    bool ok = true;
    bool added_bias = false;
    if (l.op == "Conv" || l.op == "Gemm") {
      const Tensor* old = n.has_input(2) ? constant_value(g, n.inputs[2]) : nullptr;
      if (n.has_input(2) && !old) {
        r.skipped.emplace_back(l.node, "bias is not a constant");
        continue;
      }
      Tensor t = corrected(old, &ok);
      if (!ok || (l.op == "Conv" && old && old->rank() != 1)) {
        r.skipped.emplace_back(l.node, "bias of shape " + shape_text(*old) + " is not one value per output channel");
        continue;
      }
      added_bias = !old;
      set_bias(ni, 2, std::move(t));
    } else {  // MatMul: its bias Add, or a new one
      const std::string y = n.outputs[0];
      const Node* add = nullptr;
      size_t add_index = 0, slot = 0;
      if (uses.of(y).size() == 1 && !uses.is_graph_output(y)) {
        const ValueUse u = uses.of(y)[0];
        const Node& c = g.nodes[u.node];
        const std::string other = c.inputs.size() == 2 ? c.inputs[1 - u.input] : "";
        const Tensor* b = other.empty() ? nullptr : constant_value(g, other);
        if (c.op_type == "Add" && c.domain.empty() && b && b->dtype() == DType::kFloat32 && b->numel() == outs &&
            b->dim(b->rank() - 1) == outs)
          add = &c, add_index = u.node, slot = 1 - u.input;
      }
      if (add) {
        Tensor t = corrected(constant_value(g, add->inputs[slot]), &ok);
        set_bias(add_index, slot, std::move(t));
      } else {
        Tensor t = corrected(nullptr, &ok);
        const std::string raw = unique_value_name(g, y + "_nobias");
        ValueInfo moved = g.values[y];
        moved.name = raw;
        g.values[raw] = moved;
        g.nodes[ni].outputs[0] = raw;
        Node a;
        a.name = l.node + "_bias";
        for (int i = 1; index.count(a.name); ++i) a.name = l.node + "_bias_" + std::to_string(i);
        index[a.name] = g.nodes.size();
        a.op_type = "Add";
        a.inputs = {raw, add_constant(g, l.node + "_bias", std::move(t))};
        a.outputs = {y};
        added.push_back(std::move(a));
        added_bias = true;
      }
    }
    ++r.corrected;
    r.biases_added += added_bias;
    for (int64_t o = 0; o < outs; ++o) {
      const double a = std::fabs(shift[size_t(o)]);
      abs_total += a;
      if (a > r.max_abs_shift) r.max_abs_shift = a, r.max_node = l.node;
    }
    channels_total += outs;
  }
  r.mean_abs_shift = channels_total ? abs_total / double(channels_total) : 0;
  for (auto& a : added) g.nodes.push_back(std::move(a));
  return commit_rewrite(g, std::vector<bool>(g.nodes.size(), false), "bias_correction");
}

std::string format_bias_correction_report(const BiasCorrectionReport& r) {
  std::ostringstream os;
  char shift[128] = "";
  if (r.corrected)
    std::snprintf(shift, sizeof shift, "; mean |shift| %.3g, largest %.3g (%s)", r.mean_abs_shift, r.max_abs_shift,
                  r.max_node.c_str());
  os << "bias corr.:  " << r.corrected << " layers corrected (" << r.biases_added << " had no bias)" << shift << "\n";
  std::map<std::string, std::vector<std::string>> by_reason;
  for (auto& [node, why] : r.skipped) by_reason[why].push_back(node);
  for (auto& [why, nodes] : by_reason) {
    os << "  skipped " << nodes.size() << " x " << why << ": ";
    for (size_t i = 0; i < nodes.size() && i < 3; ++i) os << (i ? ", " : "") << nodes[i];
    os << (nodes.size() > 3 ? ", ...\n" : "\n");
  }
  return os.str();
}

}  // namespace lowbit::quant
