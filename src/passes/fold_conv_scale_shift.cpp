// Pass fold_conv_scale_shift: a Conv or ConvTranspose followed by elementwise Mul / Add / Sub / Div with a per-output-channel
// constant (a scalar, [C,1,1], [1,C,1,1], ...) is the Conv itself with scaled weights and a shifted bias:
//   (conv(x, W) + B) * s + t  ==  conv(x, W * s) + (B * s + t)     (s, t per output channel)
// PaddlePaddle exports keep such affine steps (LearnableAffineBlock, BN exported as Mul + Add), one pass over
// the tensor each. A chain of them folds at once; the Conv takes the last node's output name and place.
// Only when every intermediate has the single consumer in the chain, the Conv has no fused activation or
// residual yet (those apply after the bias), and weights, bias and the constants are true constants.
#include <algorithm>
#include <optional>

#include "ops/fused_activation.h"
#include "passes/graph_rewrite.h"
#include "passes/pass.h"

namespace lowbit {

namespace {

// The constant as one value per output channel (m of them), or nullopt when it would broadcast over
// anything but the channel axis (axis 1 of a rank-`rank` output) or grow the output's rank.
std::optional<std::vector<double>> per_channel_values(const Tensor& c, DType dtype, size_t rank, int64_t m) {
  if (c.dtype() != dtype || c.rank() > rank || c.numel() == 0) return std::nullopt;
  if (c.numel() == 1) return std::vector<double>(size_t(m), c.get_as_double(0));
  // Aligned right: output axis 1 is constant axis (c.rank() - (rank - 1)).
  const int64_t channel_axis = int64_t(c.rank()) - int64_t(rank) + 1;
  if (channel_axis < 0) return std::nullopt;
  for (size_t a = 0; a < c.rank(); ++a)
    if (c.dim(a) != (int64_t(a) == channel_axis ? m : 1)) return std::nullopt;
  std::vector<double> v(static_cast<size_t>(m));
  for (int64_t k = 0; k < m; ++k) v[size_t(k)] = c.get_as_double(k);
  return v;
}

struct Affine {
  std::vector<double> scale, shift;  // y' = y * scale + shift
};

// Applies node `n` (reading the running value `y`) to the affine map; false when it is not a per-channel
// scale/shift of `y`.
bool compose(const Graph& g, const Node& n, const std::string& y, DType dtype, size_t rank, Affine& a) {
  if (!n.domain.empty() || n.num_inputs() != 2 || n.outputs.size() != 1) return false;
  const std::string& op = n.op_type;
  if (op != "Mul" && op != "Add" && op != "Sub" && op != "Div") return false;
  const bool y_first = n.inputs[0] == y;
  if (!y_first && n.inputs[1] != y) return false;
  const Tensor* c = constant_value(g, n.inputs[y_first ? 1 : 0]);
  if (!c) return false;
  const int64_t m = int64_t(a.scale.size());
  auto v = per_channel_values(*c, dtype, rank, m);
  if (!v) return false;
  if (op == "Div") {
    if (!y_first) return false;  // c / y is not affine
    for (double d : *v)
      if (d == 0) return false;
  }
  for (size_t k = 0; k < size_t(m); ++k) {
    const double cv = (*v)[k];
    if (op == "Mul") {
      a.scale[k] *= cv;
      a.shift[k] *= cv;
    } else if (op == "Div") {
      a.scale[k] /= cv;
      a.shift[k] /= cv;
    } else if (op == "Add") {
      a.shift[k] += cv;
    } else if (y_first) {  // y - c
      a.shift[k] -= cv;
    } else {  // c - y
      a.scale[k] = -a.scale[k];
      a.shift[k] = cv - a.shift[k];
    }
  }
  return true;
}

// The output channel weight element i feeds: Conv W is M x C/group x k..., ConvTranspose W is C x M/group x k...
// (element (c, j) feeds output channel (c / (C/group)) * M/group + j).
int64_t output_channel(const Tensor& w, bool transposed, int64_t group, int64_t i) {
  const int64_t inner = w.numel() / (w.dim(0) * w.dim(1));
  if (!transposed) return i / (w.numel() / w.dim(0));
  const int64_t mg = w.dim(1), c = i / (inner * mg), j = (i / inner) % mg;
  return (c / (w.dim(0) / group)) * mg + j;
}

template <typename T>
void write_folded(const Tensor& w, bool transposed, int64_t group, const Tensor* b, const Affine& a, Tensor& new_w,
                  Tensor& new_b) {
  const int64_t m = int64_t(a.scale.size());
  T* dw = new_w.data<T>();
  for (int64_t i = 0; i < w.numel(); ++i)
    dw[i] = T(w.get_as_double(i) * a.scale[size_t(output_channel(w, transposed, group, i))]);
  T* db = new_b.data<T>();
  for (int64_t k = 0; k < m; ++k) db[k] = T((b ? b->get_as_double(k) : 0.0) * a.scale[size_t(k)] + a.shift[size_t(k)]);
}

}  // namespace

Status fold_conv_scale_shift(Graph& g, PassContext& ctx) {
  GraphUses uses(g);
  std::vector<bool> removed(g.nodes.size(), false);
  int changes = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& conv = g.nodes[i];
    const bool transposed = conv.op_type == "ConvTranspose";
    if (removed[i] || (conv.op_type != "Conv" && !transposed) || !conv.domain.empty() || conv.outputs.size() != 1 ||
        conv.num_inputs() < 2 || ctx.pinned(conv) || has_fused_attrs(conv))
      continue;
    const Tensor* w = constant_value(g, conv.inputs[1]);
    if (!w || (w->dtype() != DType::kFloat32 && w->dtype() != DType::kFloat64) || w->rank() < 3) continue;
    const Tensor* b = conv.has_input(2) ? constant_value(g, conv.inputs[2]) : nullptr;
    const int64_t group = conv.attr_int("group", 1);
    if (group < 1 || w->dim(0) % group != 0) continue;
    const int64_t m = transposed ? w->dim(1) * group : w->dim(0);
    if (m <= 0 || (conv.has_input(2) && (!b || b->dtype() != w->dtype() || b->numel() != m))) continue;
    const ValueInfo* yv = g.find(conv.outputs[0]);
    if (!yv || yv->type.dtype != w->dtype() || !yv->type.has_shape || yv->type.rank() != w->rank()) continue;

    Affine affine{std::vector<double>(size_t(m), 1.0), std::vector<double>(size_t(m), 0.0)};
    std::vector<size_t> chain;
    std::string y = conv.outputs[0];
    while (uses.single_internal_use(y)) {
      const size_t c = uses.of(y)[0].node;
      const Node& n = g.nodes[c];
      if (removed[c] || ctx.pinned(n) || !compose(g, n, y, w->dtype(), yv->type.rank(), affine)) break;
      chain.push_back(c);
      y = n.outputs[0];
    }
    if (chain.empty()) continue;

    Tensor new_w(w->dtype(), w->shape()), new_b(w->dtype(), {m});
    if (w->dtype() == DType::kFloat64)
      write_folded<double>(*w, transposed, group, b, affine, new_w, new_b);
    else
      write_folded<float>(*w, transposed, group, b, affine, new_w, new_b);
    std::string what;
    for (size_t c : chain) what += (what.empty() ? "" : ", ") + g.nodes[c].describe();
    Node folded = std::move(conv);
    folded.inputs.resize(std::max<size_t>(folded.inputs.size(), 3));
    folded.inputs[1] = add_constant(g, folded.name + "_scaled_W", std::move(new_w));
    folded.inputs[2] = add_constant(g, folded.name + "_shifted_B", std::move(new_b));
    folded.outputs[0] = y;
    ctx.note(str_cat("folded ", what, " into ", folded.describe()));
    removed[i] = true;
    for (size_t c : chain) removed[c] = true;
    removed[chain.back()] = false;
    g.nodes[chain.back()] = std::move(folded);  // at the last node's place, after everything it reads
    ++changes;
  }
  if (changes == 0) return Status::Ok();
  return commit_rewrite(g, removed, ctx.report.pass);
}

}  // namespace lowbit
