// Pass fuse_hardswish_pattern: exporters (PaddlePaddle, older PyTorch) spell hard-sigmoid and hard-swish
// out as elementwise arithmetic. This pass recognizes them and rewrites them as ONNX HardSigmoid:
//   Clip(x + 3, 0, 6) / 6           (or * 1/6)      -> HardSigmoid(x; alpha = 1/6, beta = 0.5)
//   x * Clip(x + 3, 0, 6) / 6       (either order)  -> Mul(x, HardSigmoid(x; 1/6, 0.5))
//   Clip(x * a + b, 0, 1), Clip(x + b, 0, 1)        -> HardSigmoid(x; a, b)
// Hard-swish becomes Mul(x, HardSigmoid(x)) rather than ONNX HardSwish because HardSwish only exists from
// opset 14 (inference rejects it in older models); fuse_conv_activation folds that pair into a preceding
// Conv as its HardSwish activation anyway. Clip bounds may be inputs (opset >= 11) or attributes (older).
// Every matched intermediate must have only the one consumer; x keeps its shape (scalar constants only).
#include <cmath>
#include <limits>
#include <optional>

#include "passes/graph_rewrite.h"
#include "passes/pass.h"

namespace lowbit {

namespace {

bool near(double v, double want) { return std::fabs(v - want) <= 1e-6 * std::max(1.0, std::fabs(want)); }

// The value of a one-element float constant.
std::optional<double> scalar_constant(const Graph& g, const std::string& name) {
  const Tensor* t = constant_value(g, name);
  if (!t || !dtype_is_float(t->dtype()) || t->numel() != 1) return std::nullopt;
  return t->get_as_double(0);
}

class Matcher {
 public:
  Matcher(const Graph& g, const GraphUses& uses, const PassContext& ctx, const std::vector<bool>& removed)
      : g_(g), uses_(uses), ctx_(ctx), removed_(removed) {}

  // The producer of `value` if it is an `op` node (default domain) we may absorb: unpinned, not yet
  // rewritten, and `value` is read by nothing else.
  const Node* absorbable(const std::string& value, const char* op, size_t* index = nullptr) const {
    const ValueInfo* v = g_.find(value);
    if (!v || v->producer < 0 || !uses_.single_internal_use(value)) return nullptr;
    const Node& n = g_.nodes[size_t(v->producer)];
    if (n.op_type != op || !n.domain.empty() || ctx_.pinned(n) || removed_[size_t(v->producer)]) return nullptr;
    if (index) *index = size_t(v->producer);
    return &n;
  }

  // Binary node `n` = f(v, scalar constant): returns v and the constant.
  static std::optional<std::pair<std::string, double>> with_scalar(const Graph& g, const Node& n, bool commutes) {
    if (n.num_inputs() != 2 || n.outputs.size() != 1) return std::nullopt;
    if (auto c = scalar_constant(g, n.inputs[1])) return std::make_pair(n.inputs[0], *c);
    if (commutes)
      if (auto c = scalar_constant(g, n.inputs[0])) return std::make_pair(n.inputs[1], *c);
    return std::nullopt;
  }

  // Clip bounds (absent = infinite), or nullopt when a bound is not a constant.
  std::optional<std::pair<double, double>> clip_bounds(const Node& clip) const {
    double lo = -std::numeric_limits<double>::infinity(), hi = std::numeric_limits<double>::infinity();
    if (g_.opset < 11) {
      if (clip.has_attr("min")) lo = clip.attr_float("min", 0);
      if (clip.has_attr("max")) hi = clip.attr_float("max", 0);
      return std::make_pair(lo, hi);
    }
    for (size_t i = 1; i < 3; ++i) {
      if (!clip.has_input(i)) continue;
      auto c = scalar_constant(g_, clip.inputs[i]);
      if (!c) return std::nullopt;
      (i == 1 ? lo : hi) = *c;
    }
    return std::make_pair(lo, hi);
  }

  struct HardSigmoidMatch {
    std::string x;
    double alpha = 0, beta = 0;
    std::vector<size_t> nodes;  // matched nodes, the Clip included
  };

  // The Clip node's input is x + 3 with bounds (0, 6) (`six`), or x * a + b / x + b with bounds (0, 1).
  // The match lists the absorbed Add (and Mul), not the Clip.
  std::optional<HardSigmoidMatch> clip_of_affine(const Node& clip, bool six) const {
    if (clip.outputs.size() != 1) return std::nullopt;
    auto bounds = clip_bounds(clip);
    if (!bounds || bounds->first != 0.0 || !near(bounds->second, six ? 6.0 : 1.0)) return std::nullopt;
    size_t add_index = 0;
    const Node* add = absorbable(clip.inputs[0], "Add", &add_index);
    if (!add) return std::nullopt;
    auto xb = with_scalar(g_, *add, true);
    if (!xb) return std::nullopt;
    HardSigmoidMatch m{xb->first, 1.0, xb->second, {add_index}};
    if (six) {
      if (!near(m.beta, 3.0)) return std::nullopt;
      m.alpha = 1.0 / 6;
      m.beta = 0.5;
      return m;
    }
    size_t mul_index = 0;
    if (const Node* mul = absorbable(m.x, "Mul", &mul_index)) {
      if (auto xa = with_scalar(g_, *mul, true)) {
        m.x = xa->first;
        m.alpha = xa->second;
        m.nodes.push_back(mul_index);
      }
    }
    return m;
  }

  // `value` = Clip(x + 3, 0, 6), the Clip absorbable: the match with the Clip included.
  std::optional<HardSigmoidMatch> relu6_of_x_plus_3(const std::string& value) const {
    size_t clip_index = 0;
    const Node* clip = absorbable(value, "Clip", &clip_index);
    if (!clip) return std::nullopt;
    auto m = clip_of_affine(*clip, true);
    if (m) m->nodes.push_back(clip_index);
    return m;
  }

 private:
  const Graph& g_;
  const GraphUses& uses_;
  const PassContext& ctx_;
  const std::vector<bool>& removed_;
};

void set_float(Node& n, const char* attr, double v) { n.attrs[attr] = Attribute::of_float(float(v)); }

}  // namespace

Status fuse_hardswish_pattern(Graph& g, PassContext& ctx) {
  GraphUses uses(g);
  std::vector<bool> removed(g.nodes.size(), false);
  std::vector<Node> added;
  Matcher match(g, uses, ctx, removed);
  int changes = 0;
  // Rewrites node `i` (whose output the result keeps) given the pieces it absorbs.
  auto rewrite = [&](size_t i, const Matcher::HardSigmoidMatch& hs, const std::vector<size_t>& absorbed,
                     bool swish) -> bool {
    const Node& last = g.nodes[i];
    const ValueInfo* xv = g.find(hs.x);
    const ValueInfo* yv = g.find(last.outputs[0]);
    if (!xv || !yv || !dtype_is_float(xv->type.dtype) || xv->type.dtype != yv->type.dtype) return false;
    // One-element constants broadcast x to a bigger shape only when their rank exceeds x's.
    if (!xv->type.has_shape) return false;
    std::vector<size_t> all = absorbed;
    all.push_back(i);
    for (size_t k : all)
      for (auto& in : g.nodes[k].inputs)
        if (const Tensor* c = in.empty() ? nullptr : constant_value(g, in); c && c->rank() > xv->type.rank())
          return false;
    Node out;
    if (swish) {
      const std::string gate = add_value(g, last.outputs[0] + "_hardsigmoid");
      Node hsn = make_node("HardSigmoid", last.name + "_hardsigmoid", {hs.x}, {gate});
      set_float(hsn, "alpha", hs.alpha);
      set_float(hsn, "beta", hs.beta);
      added.push_back(std::move(hsn));
      out = make_node("Mul", last.name, {hs.x, gate}, last.outputs);
    } else {
      out = make_node("HardSigmoid", last.name, {hs.x}, last.outputs);
      set_float(out, "alpha", hs.alpha);
      set_float(out, "beta", hs.beta);
    }
    ctx.note(str_cat(swish ? "hard-swish" : "hard-sigmoid", " pattern ending in ", last.describe(), " (",
                     absorbed.size() + 1, " nodes) -> ", swish ? "Mul(x, HardSigmoid(x))" : "HardSigmoid", " (alpha ",
                     hs.alpha, ", beta ", hs.beta, ")"));
    for (size_t a : absorbed) removed[a] = true;
    g.nodes[i] = std::move(out);
    ++changes;
    return true;
  };

  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (removed[i] || !n.domain.empty() || ctx.pinned(n) || n.outputs.size() != 1) continue;
    // Clip(x * a + b, 0, 1) on its own.
    if (n.op_type == "Clip") {
      if (auto hs = match.clip_of_affine(n, false)) rewrite(i, *hs, hs->nodes, false);
      continue;
    }
    // The division by six: Div(v, 6) or Mul(v, 1/6).
    std::optional<std::pair<std::string, double>> vc;
    if (n.op_type == "Div") {
      vc = Matcher::with_scalar(g, n, false);
      if (!vc || !near(vc->second, 6.0)) continue;
    } else if (n.op_type == "Mul") {
      vc = Matcher::with_scalar(g, n, true);
      if (!vc || !near(vc->second, 1.0 / 6)) vc.reset();
    } else {
      continue;
    }
    if (vc) {
      const std::string& v = vc->first;
      // Clip(x + 3, 0, 6) / 6: hard-sigmoid.
      if (auto hs = match.relu6_of_x_plus_3(v)) {
        rewrite(i, *hs, hs->nodes, false);
        continue;
      }
      // (x * Clip(x + 3, 0, 6)) / 6: hard-swish.
      size_t mul_index = 0;
      const Node* mul = match.absorbable(v, "Mul", &mul_index);
      if (!mul || mul->num_inputs() != 2) continue;
      for (int k = 0; k < 2; ++k) {
        auto hs = match.relu6_of_x_plus_3(mul->inputs[size_t(k)]);
        if (!hs || hs->x != mul->inputs[size_t(1 - k)]) continue;
        std::vector<size_t> absorbed = hs->nodes;
        absorbed.push_back(mul_index);
        if (rewrite(i, *hs, absorbed, true)) break;
      }
      continue;
    }
    // x * (Clip(x + 3, 0, 6) / 6) is left to the first case (the Div becomes a HardSigmoid) and then to
    // fuse_conv_activation's Mul(x, HardSigmoid(x)).
  }
  if (changes == 0) return Status::Ok();
  for (auto& n : added) g.nodes.push_back(std::move(n));
  removed.resize(g.nodes.size(), false);
  return commit_rewrite(g, removed, ctx.report.pass);
}

}  // namespace lowbit
