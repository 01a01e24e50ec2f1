// Pass fold_scale_shift_into_conv: the input side of fold_conv_scale_shift. A per-input-channel
// Mul and/or Add right before a Conv (x * a + b, x * a, x + b; PaddlePaddle's LearnableAffineBlock after
// an activation) folds into the Conv that reads it:
//   conv(x * a + b, W) + B  ==  conv(x, W * a) + (B + sum over (c, k) of W[o, c, k] * b[c])
// That identity needs the zero padding to stay zero, so:
//   - no padding (pads all 0, auto_pad NOTSET/VALID): the scale and the shift fold;
//   - with padding, only a scale can move into W (a * 0 = 0): x * a + b becomes Add(x, b / a) before
//     conv(., W * a) when a and b are one-element constants and a != 0; a lone x * a folds entirely.
// The Mul/Add outputs must be read by this Conv alone; constants, W and B must be true constants.
#include <algorithm>
#include <optional>

#include "passes/graph_rewrite.h"
#include "passes/pass.h"

namespace lowbit {

namespace {

// One value per input channel (c of them), or nullopt unless the constant broadcasts only along axis 1 of
// a rank-`rank` tensor without growing its rank.
std::optional<std::vector<double>> per_channel(const Tensor& t, DType dtype, size_t rank, int64_t c) {
  if (t.dtype() != dtype || t.rank() > rank || t.numel() == 0) return std::nullopt;
  if (t.numel() == 1) return std::vector<double>(static_cast<size_t>(c), t.get_as_double(0));
  const int64_t channel_axis = int64_t(t.rank()) - int64_t(rank) + 1;
  if (channel_axis < 0) return std::nullopt;
  for (size_t a = 0; a < t.rank(); ++a)
    if (t.dim(a) != (int64_t(a) == channel_axis ? c : 1)) return std::nullopt;
  std::vector<double> v(static_cast<size_t>(c));
  for (int64_t k = 0; k < c; ++k) v[size_t(k)] = t.get_as_double(k);
  return v;
}

bool zero_padding(const Node& conv) {
  const std::string auto_pad = conv.attr_string("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "VALID") return false;
  if (auto_pad == "VALID") return true;
  auto it = conv.attrs.find("pads");
  if (it == conv.attrs.end()) return true;
  return std::all_of(it->second.ints.begin(), it->second.ints.end(), [](int64_t p) { return p == 0; });
}

struct Step {
  size_t node;
  std::string input;       // the non-constant operand
  const Tensor* constant;  // the per-channel operand
};

}  // namespace

Status fold_scale_shift_into_conv(Graph& g, PassContext& ctx) {
  GraphUses uses(g);
  std::vector<bool> removed(g.nodes.size(), false);
  int changes = 0;
  // `value`'s producer as a Mul/Add step with a constant operand, if this Conv alone reads it.
  auto step_of = [&](const std::string& value, const char* op) -> std::optional<Step> {
    const ValueInfo* v = g.find(value);
    if (!v || v->producer < 0 || !uses.single_internal_use(value)) return std::nullopt;
    const size_t p = size_t(v->producer);
    const Node& n = g.nodes[p];
    if (removed[p] || n.op_type != op || !n.domain.empty() || ctx.pinned(n) || n.num_inputs() != 2) return std::nullopt;
    for (int k = 0; k < 2; ++k)
      if (const Tensor* c = constant_value(g, n.inputs[size_t(k)]))
        if (!constant_value(g, n.inputs[size_t(1 - k)])) return Step{p, n.inputs[size_t(1 - k)], c};
    return std::nullopt;
  };

  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& conv = g.nodes[i];
    if (removed[i] || conv.op_type != "Conv" || !conv.domain.empty() || conv.outputs.size() != 1 ||
        conv.num_inputs() < 2 || ctx.pinned(conv))
      continue;
    const Tensor* w = constant_value(g, conv.inputs[1]);
    if (!w || (w->dtype() != DType::kFloat32 && w->dtype() != DType::kFloat64) || w->rank() < 3) continue;
    const Tensor* b = conv.has_input(2) ? constant_value(g, conv.inputs[2]) : nullptr;
    const int64_t m = w->dim(0), group = conv.attr_int("group", 1);
    if (m <= 0 || group < 1 || m % group != 0) continue;
    if (conv.has_input(2) && (!b || b->dtype() != w->dtype() || b->numel() != m)) continue;
    const int64_t c_in = w->dim(1) * group;
    const size_t rank = w->rank();

    // Match [Mul] -> [Add] -> conv.
    std::optional<Step> add = step_of(conv.inputs[0], "Add");
    std::optional<Step> mul = step_of(add ? add->input : conv.inputs[0], "Mul");
    if (!add && !mul) continue;
    const ValueInfo* xv = g.find(mul ? mul->input : add->input);
    if (!xv || xv->type.dtype != w->dtype() || !xv->type.has_shape || xv->type.rank() != rank) continue;
    std::vector<double> scale(static_cast<size_t>(c_in), 1.0), shift(static_cast<size_t>(c_in), 0.0);
    if (mul) {
      auto v = per_channel(*mul->constant, w->dtype(), rank, c_in);
      if (!v) continue;
      scale = *v;
    }
    if (add) {
      auto v = per_channel(*add->constant, w->dtype(), rank, c_in);
      if (!v) continue;
      shift = *v;
    }
    const bool no_pad = zero_padding(conv);
    bool keep_add = false;  // padded: x * a + b -> Add(x, b / a) stays before the Conv
    if (!no_pad && add) {
      if (!mul || mul->constant->numel() != 1 || add->constant->numel() != 1 || scale[0] == 0) continue;
      keep_add = true;
    }

    // W'[o, j, k] = W * a[c], B'[o] = B[o] + sum W[o, j, k] * b[c], c = input channel of (o, j).
    const int64_t per_group_out = m / group, per_group_in = w->dim(1), inner = w->numel() / (m * per_group_in);
    Tensor new_w(w->dtype(), w->shape()), new_b(w->dtype(), {m});
    for (int64_t o = 0; o < m; ++o) {
      double bias = b ? b->get_as_double(o) : 0.0;
      for (int64_t j = 0; j < per_group_in; ++j) {
        const size_t ch = size_t((o / per_group_out) * per_group_in + j);
        for (int64_t k = 0; k < inner; ++k) {
          const int64_t idx = (o * per_group_in + j) * inner + k;
          const double wv = w->get_as_double(idx);
          if (w->dtype() == DType::kFloat64)
            new_w.data<double>()[idx] = wv * scale[ch];
          else
            new_w.data<float>()[idx] = float(wv * scale[ch]);
          if (!keep_add) bias += wv * shift[ch];
        }
      }
      if (w->dtype() == DType::kFloat64)
        new_b.data<double>()[o] = bias;
      else
        new_b.data<float>()[o] = float(bias);
    }
    std::string what = mul ? g.nodes[mul->node].describe() : "";
    if (add && !keep_add) what += (what.empty() ? "" : ", ") + g.nodes[add->node].describe();
    conv.inputs.resize(std::max<size_t>(conv.inputs.size(), 3));
    conv.inputs[1] = add_constant(g, conv.name + "_in_scaled_W", std::move(new_w));
    conv.inputs[2] = add_constant(g, conv.name + "_in_shifted_B", std::move(new_b));
    if (keep_add) {
      Node& add_node = g.nodes[add->node];
      Tensor q(w->dtype(), add->constant->shape());
      if (w->dtype() == DType::kFloat64)
        q.data<double>()[0] = shift[0] / scale[0];
      else
        q.data<float>()[0] = float(shift[0] / scale[0]);
      add_node.inputs = {mul->input, add_constant(g, add_node.name + "_over_scale", std::move(q))};
      // The Add's output now holds (x + b / a), not x * a + b: a value keeps its name only while it keeps its
      // meaning (lowbit compare matches the FP32 and the quantized model's tensors by name).
      rename_changed_output(g, add_node, 0, "_over_scale");  // the Conv is its only reader
      removed[mul->node] = true;
      ctx.note(str_cat("folded ", what, " into ", conv.describe(), " (the shift stays as ", add_node.describe(),
                       ": padded Conv)"));
    } else {
      conv.inputs[0] = mul ? mul->input : add->input;
      if (mul) removed[mul->node] = true;
      if (add) removed[add->node] = true;
      ctx.note(str_cat("folded ", what, " into the input side of ", conv.describe()));
    }
    ++changes;
  }
  if (changes == 0) return Status::Ok();
  return commit_rewrite(g, removed, ctx.report.pass);
}

}  // namespace lowbit
