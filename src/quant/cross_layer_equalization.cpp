#include "quant/cross_layer_equalization.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include "passes/graph_rewrite.h"

namespace lowbit::quant {
namespace {

// A channel whose range is below this fraction of its weight's largest channel range is dead (BatchNormalization
// gamma ~ 0, pruned): its weights round to zero at any int8 scale and what it passes on is its bias. Equalizing it
// would divide that bias by a tiny s_i (PaddleOCR's detector has channels 1e-34 of their conv's largest), blowing up
// the range of the activation between the two convs; it is left alone.
constexpr double kDeadChannel = 1e-6;
// Any scale is exact in float, but one step never goes beyond this (far from float's limits).
constexpr double kMaxScale = 1e6;

bool is_float_tensor(const Tensor* t) { return t && t->dtype() == DType::kFloat32; }

// A Conv whose weight (and bias, if any) are constants equalization may rescale.
std::string conv_problem(const Graph& g, const Node& n) {
  if (n.op_type != "Conv" || !n.domain.empty()) return "not a Conv";
  if (has_fused_attrs(n)) return "carries lowbit fusion attributes";
  const Tensor* w = n.has_input(1) ? constant_value(g, n.inputs[1]) : nullptr;
  if (!is_float_tensor(w) || w->rank() < 3) return "weight is not a constant float tensor";
  if (n.has_input(2)) {
    const Tensor* b = constant_value(g, n.inputs[2]);
    if (!is_float_tensor(b) || b->rank() != 1 || b->numel() != w->dim(0)) return "bias is not a constant 1-D tensor";
  }
  return "";
}

// Empty when `act` commutes with a positive per-channel scale; `*replace` is set for Clip(0, max) that only
// relu6_to_relu makes equivariant.
std::string activation_problem(const Graph& g, const Node& act, bool* replace) {
  *replace = false;
  if (!act.domain.empty()) return act.op_type + " is a custom op";
  if (act.op_type == "Relu" || act.op_type == "LeakyRelu" || act.op_type == "PRelu") return "";
  if (act.op_type == "Clip") {
    FusedActivation a = activation_of(g, act);
    if (a.kind != FusedActivationKind::kClip) return "Clip with non-constant bounds is not scale-equivariant";
    if (a.alpha != 0.f) return "Clip with min != 0 is not scale-equivariant";
    if (a.beta >= std::numeric_limits<float>::max()) return "";  // Clip(0, inf) is Relu
    *replace = true;
    char what[64];
    std::snprintf(what, sizeof what, "Clip(0, %g)", double(a.beta));
    return std::string(what) + " (ReLU6) is not scale-equivariant (--equalize-relu6 replaces it by Relu)";
  }
  return act.op_type + " is not positively homogeneous";
}

// Why `value` cannot be rescaled: read by other nodes or a graph output ("" if it may).
std::string shared_problem(const Graph& g, const GraphUses& uses, const std::string& value) {
  if (uses.is_graph_output(value)) return "'" + value + "' is a graph output";
  if (uses.of(value).size() != 1) {
    std::string others;
    int n = 0;
    for (auto& u : uses.of(value)) others += (n++ ? ", " : "") + g.nodes[u.node].name;
    return "'" + value + "' is read by " + std::to_string(uses.of(value).size()) + " inputs (" + others + ")";
  }
  return "";
}

struct Candidate {
  size_t first, second;
  int through = -1;      // activation node index
  bool replace = false;  // the activation is a Clip to replace by Relu
};

// Range of output channel `c` of a Conv weight [M, C/G, k...] (max |w|: the weights are symmetric int8, so the
// largest magnitude is what sets the scale).
std::vector<double> output_ranges(const Tensor& w) {
  const int64_t m = w.dim(0), inner = w.numel() / std::max<int64_t>(m, 1);
  std::vector<double> r(size_t(m), 0.0);
  const float* p = w.data<float>();
  for (int64_t o = 0; o < m; ++o)
    for (int64_t i = 0; i < inner; ++i) r[size_t(o)] = std::max(r[size_t(o)], double(std::fabs(p[o * inner + i])));
  return r;
}

// Range of input channel `c` of a Conv weight with `group` groups: the weights of every output channel of c's
// group that read c.
std::vector<double> input_ranges(const Tensor& w, int64_t group) {
  const int64_t m = w.dim(0), cg = w.dim(1), k = w.numel() / std::max<int64_t>(m * cg, 1), mg = m / group;
  std::vector<double> r(size_t(cg * group), 0.0);
  const float* p = w.data<float>();
  for (int64_t o = 0; o < m; ++o) {
    const int64_t base = (o / mg) * cg;
    for (int64_t c = 0; c < cg; ++c)
      for (int64_t i = 0; i < k; ++i)
        r[size_t(base + c)] = std::max(r[size_t(base + c)], double(std::fabs(p[(o * cg + c) * k + i])));
  }
  return r;
}

void scale_input_channels(Tensor& w, int64_t group, const std::vector<double>& s) {
  const int64_t m = w.dim(0), cg = w.dim(1), k = w.numel() / std::max<int64_t>(m * cg, 1), mg = m / group;
  float* p = w.data<float>();
  for (int64_t o = 0; o < m; ++o) {
    const int64_t base = (o / mg) * cg;
    for (int64_t c = 0; c < cg; ++c)
      for (int64_t i = 0; i < k; ++i) p[(o * cg + c) * k + i] = float(p[(o * cg + c) * k + i] * s[size_t(base + c)]);
  }
}

void divide_output_channels(Tensor& w, const std::vector<double>& s) {
  const int64_t m = w.dim(0), inner = w.numel() / std::max<int64_t>(m, 1);
  float* p = w.data<float>();
  for (int64_t o = 0; o < m; ++o)
    for (int64_t i = 0; i < inner; ++i) p[o * inner + i] = float(p[o * inner + i] / s[size_t(o)]);
}

double spread(const Tensor& w) {  // dead channels left out
  auto r = output_ranges(w);
  double lo = std::numeric_limits<double>::infinity(), hi = 0;
  for (double v : r)
    if (std::isfinite(v)) hi = std::max(hi, v);
  for (double v : r)
    if (v > kDeadChannel * hi && std::isfinite(v)) lo = std::min(lo, v);
  return hi > 0 ? hi / lo : 1.0;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

}  // namespace

Status equalize_cross_layer(Graph& g, const EqualizeOptions& options, EqualizeReport* report) {
  EqualizeReport local;
  EqualizeReport& r = report ? *report : local;
  r = EqualizeReport{};
  GraphUses uses(g);

  // 1. Find the pairs: Conv -> [activation] -> Conv, each intermediate read once.
  std::vector<Candidate> pairs;
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const Node& n1 = g.nodes[k];
    if (n1.op_type != "Conv" || n1.outputs.empty()) continue;
    const std::string out1 = n1.outputs[0];
    // Readers that would make a pair: a Conv reading it as its data input, or an activation feeding one.
    Candidate c{k, 0};
    std::string reason, second_name;
    int second = -1;
    auto conv_reader_of = [&](const std::string& v) -> int {
      for (auto& u : uses.of(v))
        if (g.nodes[u.node].op_type == "Conv" && u.input == 0) return int(u.node);
      return -1;
    };
    second = conv_reader_of(out1);
    if (second < 0 && uses.of(out1).size() == 1) {
      const Node& act = g.nodes[uses.of(out1)[0].node];
      if (act.outputs.size() == 1 && act.num_inputs() >= 1 && act.inputs[0] == out1) {
        second = conv_reader_of(act.outputs[0]);
        if (second >= 0) {
          c.through = int(uses.of(out1)[0].node);
          reason = activation_problem(g, act, &c.replace);
          if (c.replace && options.relu6_to_relu) reason.clear();
          if (reason.empty()) reason = shared_problem(g, uses, act.outputs[0]);
        }
      }
    }
    if (second < 0) continue;  // no Conv follows: not a candidate at all
    if (reason.empty()) reason = shared_problem(g, uses, out1);
    if (reason.empty()) reason = conv_problem(g, n1);
    if (reason.empty()) {
      std::string p2 = conv_problem(g, g.nodes[size_t(second)]);
      if (!p2.empty()) reason = "second conv: " + p2;
    }
    if (reason.empty()) {
      const Tensor* w1 = constant_value(g, n1.inputs[1]);
      const Tensor* w2 = constant_value(g, g.nodes[size_t(second)].inputs[1]);
      const int64_t g2 = g.nodes[size_t(second)].attr_int("group", 1);
      if (g2 < 1 || w2->dim(0) % g2 != 0 || w2->dim(1) * g2 != w1->dim(0)) reason = "channel counts do not match";
    }
    if (!reason.empty()) {
      r.skipped.push_back({n1.name, g.nodes[size_t(second)].name, reason});
      continue;
    }
    c.second = size_t(second);
    pairs.push_back(c);
  }
  if (pairs.empty()) return Status::Ok();

  // 2. Private, writable copies of every weight and bias that will change (tensors share buffers between
  // Graph copies, and a constant read by another node must keep its values for that node).
  std::set<std::pair<size_t, size_t>> done;  // (node, input slot)
  auto make_writable = [&](size_t node, size_t slot) {
    Node& n = g.nodes[node];
    if (!n.has_input(slot) || !done.insert({node, slot}).second) return;
    const std::string name = n.inputs[slot];
    Tensor copy = constant_value(g, name)->clone();
    if (uses.of(name).size() > 1 || uses.is_graph_output(name) || !g.values[name].initializer) {
      n.inputs[slot] = add_constant(g, name, std::move(copy));
    } else {
      g.values[name].constant = std::move(copy);
    }
  };
  for (auto& p : pairs) {
    make_writable(p.first, 1);
    make_writable(p.first, 2);
    make_writable(p.second, 1);
  }
  auto weight = [&](size_t node) -> Tensor& { return *g.values[g.nodes[node].inputs[1]].constant; };
  auto bias = [&](size_t node) -> Tensor* {
    return g.nodes[node].has_input(2) ? &*g.values[g.nodes[node].inputs[2]].constant : nullptr;
  };

  std::set<size_t> convs;
  for (auto& p : pairs) convs.insert(p.first), convs.insert(p.second);
  std::vector<double> before;
  for (size_t n : convs) before.push_back(spread(weight(n)));

  // 3. Sweep every pair in graph order until the scales settle (each pair's step changes its neighbours' ranges).
  for (r.sweeps = 1; r.sweeps <= options.max_sweeps; ++r.sweeps) {
    double largest_step = 0;
    for (auto& p : pairs) {
      Tensor& w1 = weight(p.first);
      Tensor& w2 = weight(p.second);
      const int64_t group2 = g.nodes[p.second].attr_int("group", 1);
      const std::vector<double> r1 = output_ranges(w1), r2 = input_ranges(w2, group2);
      std::vector<double> s(r1.size(), 1.0);
      double max1 = 0, max2 = 0;
      for (size_t i = 0; i < s.size(); ++i) {
        if (std::isfinite(r1[i])) max1 = std::max(max1, r1[i]);
        if (std::isfinite(r2[i])) max2 = std::max(max2, r2[i]);
      }
      for (size_t i = 0; i < s.size(); ++i) {
        if (!std::isfinite(r1[i]) || !std::isfinite(r2[i])) continue;
        if (!(r1[i] > kDeadChannel * max1 && r2[i] > kDeadChannel * max2)) continue;  // dead channel (or all zero)
        s[i] = std::clamp(std::sqrt(r1[i] / r2[i]), 1 / kMaxScale, kMaxScale);
        largest_step = std::max(largest_step, std::fabs(std::log(s[i])));
      }
      divide_output_channels(w1, s);
      if (Tensor* b1 = bias(p.first)) {
        float* b = b1->data<float>();
        for (size_t i = 0; i < s.size(); ++i) b[i] = float(b[i] / s[i]);
      }
      scale_input_channels(w2, group2, s);
    }
    if (largest_step < options.tolerance) break;
  }
  r.sweeps = std::min(r.sweeps, options.max_sweeps);
  std::vector<double> after;
  for (size_t n : convs) after.push_back(spread(weight(n)));
  r.median_spread_before = median(before);
  r.median_spread_after = median(after);
  r.worst_spread_before = *std::max_element(before.begin(), before.end());
  r.worst_spread_after = *std::max_element(after.begin(), after.end());

  // 4. Report (and replace the Clips that were let through).
  std::map<size_t, size_t> chain_of;  // union-find over node indices
  std::function<size_t(size_t)> root = [&](size_t x) {
    auto it = chain_of.find(x);
    if (it == chain_of.end() || it->second == x) return x;
    return it->second = root(it->second);
  };
  // The tensors between the two convs of a pair now hold channel i divided by s_i: a value keeps its name only
  // while it keeps its meaning (lowbit compare matches the FP32 and the quantized model's tensors by name, and a
  // table or cache from an unequalized run must not apply to them). Each is read by one node (checked above).
  for (auto& p : pairs) {
    rename_changed_output(g, g.nodes[p.first], 0, "_equalized");
    if (p.through >= 0) rename_changed_output(g, g.nodes[size_t(p.through)], 0, "_equalized");
  }
  for (auto& p : pairs) {
    Node& act = g.nodes[size_t(std::max(p.through, 0))];
    r.pairs.push_back({g.nodes[p.first].name, g.nodes[p.second].name, p.through >= 0 ? act.name : ""});
    if (p.through >= 0 && p.replace) {
      act.op_type = "Relu";
      act.inputs.resize(1);
      act.attrs.clear();
      r.replaced_clips.push_back(act.name);
    }
    chain_of.emplace(p.first, p.first);
    chain_of.emplace(p.second, p.second);
    chain_of[root(p.first)] = root(p.second);
  }
  std::set<size_t> roots;
  for (auto& [n, parent] : chain_of) roots.insert(root(n));
  r.chains = int(roots.size());
  return commit_rewrite(g, std::vector<bool>(g.nodes.size(), false), "equalize");
}

std::string format_equalize_report(const EqualizeReport& r) {
  std::ostringstream os;
  char spread_text[160];
  std::snprintf(spread_text, sizeof spread_text,
                "; channel range spread (max/min per conv) median %.3g -> %.3g, worst %.3g -> %.3g",
                r.median_spread_before, r.median_spread_after, r.worst_spread_before, r.worst_spread_after);
  os << "equalized:   " << r.pairs.size() << " conv pairs in " << r.chains << " chains, " << r.sweeps << " sweeps"
     << (r.pairs.empty() ? "" : spread_text) << "\n";
  if (!r.replaced_clips.empty())
    os << "  " << r.replaced_clips.size() << " x Clip replaced by Relu (--equalize-relu6): " << r.replaced_clips[0]
       << (r.replaced_clips.size() > 1 ? ", ..." : "") << "\n";
  std::map<std::string, std::vector<std::string>> by_reason;
  for (auto& s : r.skipped) {
    // Group by the kind of reason (names of tensors and readers differ per pair).
    std::string kind = s.reason;
    if (kind.rfind("'", 0) == 0)
      kind = kind.find("graph output") != std::string::npos ? "intermediate is a graph output"
                                                            : "intermediate has other readers";
    by_reason[kind].push_back(s.first + " -> " + s.second);
  }
  for (auto& [why, list] : by_reason) {
    os << "  skipped " << list.size() << " x " << why << ": ";
    for (size_t i = 0; i < list.size() && i < 3; ++i) os << (i ? ", " : "") << list[i];
    os << (list.size() > 3 ? ", ...\n" : "\n");
  }
  return os.str();
}

}  // namespace lowbit::quant
