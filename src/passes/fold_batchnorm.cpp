// Pass fold_batchnorm: inference BatchNormalization is y = x * s + t per channel, with
// s = scale / sqrt(var + epsilon) and t = bias - mean * s (computed in double).
//   - After a Conv / ConvTranspose / Gemm whose output only the BN reads, s and t fold into that node's
//     weights and bias (new initializers; the originals may be shared and are left to dead-code removal).
//   - Any other BN (input rank >= 3) becomes a 1x1 depthwise Conv (W = s, B = t, group = C): one pass over
//     the data like BN itself, but with s and t precomputed, and a Conv the activation/residual fusions and
//     the fast backends handle. Rank-2 inputs get Mul + Add with per-channel constants instead.
// Folding needs every BN parameter and the weights to be constants (not overridable) and float32/float64.
#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>

#include "ops/fused_activation.h"
#include "passes/graph_rewrite.h"
#include "passes/pass.h"

namespace lowbit {

namespace {

struct ScaleShift {
  std::vector<double> scale, shift;
};

std::optional<ScaleShift> bn_scale_shift(const Graph& g, const Node& bn) {
  if (!bn.domain.empty() || bn.num_inputs() != 5) return std::nullopt;
  for (size_t o = 1; o < bn.outputs.size(); ++o)
    if (!bn.outputs[o].empty()) return std::nullopt;  // training-mode statistics outputs
  if (bn.attr_int("training_mode", 0) != 0) return std::nullopt;
  if (g.opset < 9 && bn.attr_int("spatial", 1) == 0) return std::nullopt;  // per-element statistics
  const Tensor* p[4];
  for (int i = 0; i < 4; ++i) {
    p[i] = constant_value(g, bn.inputs[size_t(i) + 1]);
    if (!p[i] || !dtype_is_float(p[i]->dtype()) || p[i]->rank() != 1) return std::nullopt;
  }
  const int64_t c = p[0]->numel();
  for (int i = 1; i < 4; ++i)
    if (p[i]->numel() != c) return std::nullopt;
  const double eps = bn.attr_float("epsilon", 1e-5f);
  ScaleShift ss;
  for (int64_t k = 0; k < c; ++k) {
    const double s = p[0]->get_as_double(k) / std::sqrt(p[3]->get_as_double(k) + eps);
    ss.scale.push_back(s);
    ss.shift.push_back(p[1]->get_as_double(k) - p[2]->get_as_double(k) * s);
  }
  return ss;
}

template <typename T>
Tensor scaled_copy(const Tensor& src, DType dtype, const std::function<double(int64_t)>& factor_of_index) {
  Tensor out(dtype, src.shape());
  T* d = out.data<T>();
  for (int64_t i = 0; i < src.numel(); ++i) d[i] = T(src.get_as_double(i) * factor_of_index(i));
  return out;
}

Tensor scaled_weights(const Tensor& w, const std::function<double(int64_t)>& factor) {
  return w.dtype() == DType::kFloat64 ? scaled_copy<double>(w, w.dtype(), factor)
                                      : scaled_copy<float>(w, w.dtype(), factor);
}

Tensor vector_of(DType dtype, Shape shape, const std::vector<double>& v) {
  Tensor t(dtype, std::move(shape));
  for (size_t i = 0; i < v.size(); ++i) {
    if (dtype == DType::kFloat64) t.data<double>()[i] = v[i];
    else t.data<float>()[i] = float(v[i]);
  }
  return t;
}

// Folds into Conv / ConvTranspose: scales W per output channel and rewrites B.
bool fold_into_conv(Graph& g, Node& conv, const ScaleShift& ss) {
  const Tensor* w = constant_value(g, conv.inputs[1]);
  if (!w || (w->dtype() != DType::kFloat32 && w->dtype() != DType::kFloat64) || w->rank() < 3) return false;
  const Tensor* b = conv.has_input(2) ? constant_value(g, conv.inputs[2]) : nullptr;
  if (conv.has_input(2) && !b) return false;
  const int64_t m = int64_t(ss.scale.size());
  const int64_t group = conv.attr_int("group", 1);
  const bool transposed = conv.op_type == "ConvTranspose";
  const int64_t inner = w->numel() / (w->dim(0) * w->dim(1));  // kernel positions
  if (group < 1) return false;
  if (!transposed && w->dim(0) != m) return false;
  if (transposed && (w->dim(1) * group != m || w->dim(0) % group != 0)) return false;
  if (b && b->numel() != m) return false;
  std::function<double(int64_t)> factor;
  if (!transposed) {
    const int64_t per_channel = w->numel() / m;
    factor = [&, per_channel](int64_t i) { return ss.scale[size_t(i / per_channel)]; };
  } else {
    // W is C x M/group x k: element (c, j) feeds output channel (c / (C/group)) * M/group + j.
    const int64_t per_group_in = w->dim(0) / group, mg = w->dim(1);
    factor = [&, inner, per_group_in, mg](int64_t i) {
      const int64_t j = (i / inner) % mg, c = i / (inner * mg);
      return ss.scale[size_t((c / per_group_in) * mg + j)];
    };
  }
  Tensor new_w = scaled_weights(*w, factor);
  std::vector<double> bias(static_cast<size_t>(m));
  for (int64_t k = 0; k < m; ++k) bias[size_t(k)] = (b ? b->get_as_double(k) : 0.0) * ss.scale[size_t(k)] + ss.shift[size_t(k)];
  conv.inputs.resize(std::max<size_t>(conv.inputs.size(), 3));
  conv.inputs[1] = add_constant(g, conv.name + "_bn_W", std::move(new_w));
  conv.inputs[2] = add_constant(g, conv.name + "_bn_B", vector_of(w->dtype(), {m}, bias));
  return true;
}

// Folds into Gemm: Y = alpha * op(A) op(B) + beta * C, BN over Y's columns.
bool fold_into_gemm(Graph& g, Node& gemm, const ScaleShift& ss) {
  const Tensor* b = constant_value(g, gemm.inputs[1]);
  if (!b || (b->dtype() != DType::kFloat32 && b->dtype() != DType::kFloat64) || b->rank() != 2) return false;
  const bool trans_b = gemm.attr_int("transB", 0) != 0;
  const int64_t n = trans_b ? b->dim(0) : b->dim(1);
  if (n != int64_t(ss.scale.size())) return false;
  const Tensor* c = gemm.has_input(2) ? constant_value(g, gemm.inputs[2]) : nullptr;
  if (gemm.has_input(2) && (!c || c->rank() > 2)) return false;
  const double beta = gemm.attr_float("beta", 1.0f);
  // C broadcast to rows x n (rows = 1 unless C is a full 2-D matrix).
  const int64_t c_rows = c && c->rank() == 2 ? c->dim(0) : 1;
  const int64_t c_cols = c && c->rank() >= 1 ? c->dim(c->rank() - 1) : 1;
  if (c && c_cols != 1 && c_cols != n) return false;
  std::vector<double> new_c(size_t(c_rows * n));
  for (int64_t r = 0; r < c_rows; ++r)
    for (int64_t j = 0; j < n; ++j) {
      const double cv = c ? c->get_as_double(r * c_cols + (c_cols == 1 ? 0 : j)) : 0.0;
      new_c[size_t(r * n + j)] = beta * cv * ss.scale[size_t(j)] + ss.shift[size_t(j)];
    }
  const int64_t cols = b->dim(1);
  Tensor new_b = scaled_weights(*b, [&, cols, trans_b](int64_t i) {
    return ss.scale[size_t(trans_b ? i / cols : i % cols)];
  });
  gemm.inputs.resize(3);
  gemm.inputs[1] = add_constant(g, gemm.name + "_bn_B", std::move(new_b));
  gemm.inputs[2] = add_constant(g, gemm.name + "_bn_C",
                                vector_of(b->dtype(), c_rows == 1 ? Shape{n} : Shape{c_rows, n}, new_c));
  Attribute one;
  one.kind = Attribute::Kind::kFloat;
  one.f = 1.0f;
  gemm.attrs["beta"] = one;
  return true;
}


// Conv / ConvTranspose -> Add(per-channel constant) -> BN, as exporters that write the bias as an Add do (Paddle's
// ConvTranspose): the Add becomes the conv's bias, and the conv's output takes the Add's name (the value the BN
// reads, which now means what it meant before). Returns the conv's index, or -1 (nothing changed).
int absorb_bias_add(Graph& g, const GraphUses& uses, const PassContext& ctx, size_t add_index,
                    std::vector<bool>& removed) {
  Node& add = g.nodes[add_index];
  if (add.op_type != "Add" || !add.domain.empty() || ctx.pinned(add) || add.num_inputs() != 2 ||
      add.outputs.size() != 1 || removed[add_index])
    return -1;
  for (int side = 0; side < 2; ++side) {
    const ValueInfo* t = g.find(add.inputs[size_t(side)]);
    const Tensor* c = constant_value(g, add.inputs[size_t(1 - side)]);
    if (!t || t->producer < 0 || !c || !uses.single_internal_use(add.inputs[size_t(side)])) continue;
    Node& conv = g.nodes[size_t(t->producer)];
    if (!(conv.op_type == "Conv" || conv.op_type == "ConvTranspose") || !conv.domain.empty() || ctx.pinned(conv) ||
        has_fused_attrs(conv) || conv.outputs.size() != 1 || conv.num_inputs() < 2 || !t->type.has_shape)
      continue;
    const Tensor* w = constant_value(g, conv.inputs[1]);
    const Tensor* b = conv.has_input(2) ? constant_value(g, conv.inputs[2]) : nullptr;
    if (!w || (w->dtype() != DType::kFloat32 && w->dtype() != DType::kFloat64) || c->dtype() != w->dtype() ||
        (conv.has_input(2) && !b))
      continue;
    const size_t rank = t->type.rank();
    if (rank < 3 || !t->type.dims[1].known()) continue;
    const int64_t m = t->type.dims[1].value;
    // Per channel: [m, 1, ...] (rank - 1 dims) or [1, m, 1, ...] (rank dims), or a scalar.
    bool per_channel = c->numel() == 1 && c->rank() <= rank;
    if (!per_channel && c->numel() == m && c->rank() >= rank - 1 && c->rank() <= rank) {
      const size_t axis = c->rank() == rank ? 1 : 0;
      per_channel = c->rank() != rank || c->dim(0) == 1;
      for (size_t d = 0; d < c->rank(); ++d) per_channel = per_channel && c->dim(d) == (d == axis ? m : 1);
    }
    if (!per_channel || (b && b->numel() != m)) continue;
    std::vector<double> bias(static_cast<size_t>(m));
    for (int64_t k = 0; k < m; ++k)
      bias[size_t(k)] = (b ? b->get_as_double(k) : 0.0) + c->get_as_double(c->numel() == 1 ? 0 : k);
    conv.inputs.resize(std::max<size_t>(conv.inputs.size(), 3));
    conv.inputs[2] = add_constant(g, conv.name + "_bias", vector_of(w->dtype(), {m}, bias));
    conv.outputs[0] = add.outputs[0];
    removed[add_index] = true;
    return t->producer;
  }
  return -1;
}
}  // namespace

Status fold_batchnorm(Graph& g, PassContext& ctx) {
  GraphUses uses(g);
  std::vector<bool> removed(g.nodes.size(), false);
  std::vector<Node> added;  // scale-shift replacements, appended then sorted in by commit_rewrite
  int changes = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& bn = g.nodes[i];
    if (bn.op_type != "BatchNormalization" || !bn.domain.empty() || ctx.pinned(bn)) continue;
    const ValueInfo* x = g.find(bn.inputs[0]);
    if (!x || (x->type.dtype != DType::kFloat32 && x->type.dtype != DType::kFloat64)) continue;
    auto ss = bn_scale_shift(g, bn);
    if (!ss) continue;
    const int64_t channels = int64_t(ss->scale.size());
    // Into the producer?
    if (x->producer >= 0 && uses.single_internal_use(bn.inputs[0])) {
      int producer = x->producer;
      const int conv = absorb_bias_add(g, uses, ctx, size_t(producer), removed);
      if (conv >= 0) {
        ctx.note(str_cat("folded Add '", g.nodes[size_t(producer)].name, "' into the bias of ",
                         g.nodes[size_t(conv)].describe()));
        producer = conv, ++changes;
      }
      Node& p = g.nodes[size_t(producer)];
      const bool conv_like = p.op_type == "Conv" || p.op_type == "ConvTranspose";
      if (p.domain.empty() && !ctx.pinned(p) && !has_fused_attrs(p) && p.outputs.size() == 1 &&
          ((conv_like && p.num_inputs() >= 2 && fold_into_conv(g, p, *ss)) ||
           (p.op_type == "Gemm" && p.num_inputs() >= 2 && fold_into_gemm(g, p, *ss)))) {
        p.outputs[0] = bn.outputs[0];
        removed[i] = true;
        ++changes;
        ctx.note(str_cat("folded ", bn.describe(), " into ", p.describe()));
        continue;
      }
    }
    // Standalone: scale-shift.
    if (!x->type.has_shape || x->type.rank() < 2) continue;
    const size_t rank = x->type.rank();
    const DType dt = x->type.dtype;
    Node r;
    r.name = bn.name;
    r.outputs = {bn.outputs[0]};
    if (rank >= 3) {
      Shape w_shape(rank, 1);
      w_shape[0] = channels;
      r.op_type = "Conv";
      r.inputs = {bn.inputs[0], add_constant(g, bn.name + "_scale", vector_of(dt, w_shape, ss->scale)),
                  add_constant(g, bn.name + "_shift", vector_of(dt, {channels}, ss->shift))};
      Attribute group;
      group.kind = Attribute::Kind::kInt;
      group.i = channels;
      r.attrs["group"] = group;
      Attribute kernel;
      kernel.kind = Attribute::Kind::kInts;
      kernel.ints.assign(rank - 2, 1);
      r.attrs["kernel_shape"] = kernel;
      ctx.note(str_cat("turned ", bn.describe(), " into a 1x1 depthwise Conv (scale-shift)"));
    } else {
      // N x C: Mul then Add, both broadcasting a C vector over the rows.
      const std::string scaled = unique_value_name(g, bn.outputs[0] + "_scaled");
      g.values[scaled].name = scaled;
      Node mul;
      mul.name = bn.name + "_scale";
      mul.op_type = "Mul";
      mul.inputs = {bn.inputs[0], add_constant(g, bn.name + "_scale", vector_of(dt, {channels}, ss->scale))};
      mul.outputs = {scaled};
      added.push_back(std::move(mul));
      r.op_type = "Add";
      r.inputs = {scaled, add_constant(g, bn.name + "_shift", vector_of(dt, {channels}, ss->shift))};
      ctx.note(str_cat("turned ", bn.describe(), " into Mul + Add (scale-shift)"));
    }
    bn = std::move(r);
    ++changes;
  }
  if (changes == 0) return Status::Ok();
  for (auto& n : added) g.nodes.push_back(std::move(n));
  removed.resize(g.nodes.size(), false);
  return commit_rewrite(g, removed, ctx.report.pass);
}

}  // namespace lowbit
