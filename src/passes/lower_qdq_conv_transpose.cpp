// lower_qdq, step 0: integer ConvTranspose for the upsampling form (stride == kernel, no padding, dilation, output
// padding or groups; square kernel b x b), as segmentation and detection heads use it (PaddleOCR's DB head):
//
//   DQ(x) -> ConvTranspose(DQ(W: C x M x b x b), [B]) -> [act] -> Q(y)
// becomes
//   DQ(x) -> Conv 1x1 (DQ(W': b*b*M x C x 1 x 1), [B']) -> [act] -> Q(y) -> DQ(y) -> DepthToSpace(b, DCR) -> Q(y)
//
// with W'[(ky*b + kx)*M + m, c] = W[c, m, ky, kx] and the per-channel scales and bias repeated per kernel cell.
// Exact: each input pixel feeds its own b x b output patch, so the Conv computes every output value once (the
// same products, summed in the same order), and DepthToSpace only moves values, so quantizing before or after it
// is the same. The later steps make the Conv a QLinearConv and run DepthToSpace on codes (step 2); the Q -> DQ
// pair in between costs nothing. The values the rewrite introduces get new names (`..._patches`): the layer's
// own output name stays on the DepthToSpace, which computes what the ConvTranspose did.
#include "passes/qdq_match.h"

namespace lowbit::qdq {

namespace {

// The block size b when `ct` is the upsampling form above, else 0.
int64_t upsampling_block(const Node& ct, const Tensor& w) {
  if (w.rank() != 4 || w.dim(2) != w.dim(3) || w.dim(2) < 1) return 0;
  const int64_t b = w.dim(2);
  auto all = [](const std::vector<int64_t>& v, int64_t x) {
    for (int64_t e : v)
      if (e != x) return false;
    return true;
  };
  const std::string pad = ct.attr_string("auto_pad", "NOTSET");
  if (ct.attr_int("group", 1) != 1 || (pad != "NOTSET" && pad != "VALID") || ct.has_attr("output_shape")) return 0;
  const std::vector<int64_t> strides = ct.attr_ints("strides", {1, 1}), kernel = ct.attr_ints("kernel_shape", {b, b});
  if (strides.size() != 2 || !all(strides, b) || kernel.size() != 2 || !all(kernel, b)) return 0;
  if (!all(ct.attr_ints("pads", {0, 0, 0, 0}), 0) || !all(ct.attr_ints("dilations", {1, 1}), 1) ||
      !all(ct.attr_ints("output_padding", {0, 0}), 0))
    return 0;
  return b;
}

// Per-output-channel values (`m` of them) repeated for each of the b*b kernel cells; a per-tensor value (one, when
// m > 1) as it is.
Tensor repeat_per_cell(const Tensor& t, int64_t m, int64_t cells) {
  if (t.numel() != m) return t;
  Tensor out(t.dtype(), {cells * m});
  const size_t elem = dtype_size(t.dtype());
  for (int64_t c = 0; c < cells; ++c)
    std::memcpy(static_cast<char*>(out.raw()) + size_t(c * m) * elem, t.raw(), size_t(m) * elem);
  return out;
}

}  // namespace

int conv_transpose_as_depth_to_space(Graph& g, PassContext& ctx, std::vector<bool>& removed) {
  GraphUses uses(g);
  int changes = 0;
  const size_t count = g.nodes.size();
  for (size_t ci = 0; ci < count; ++ci) {
    if (removed[ci] || !is_op(g.nodes[ci], "ConvTranspose") || ctx.pinned(g.nodes[ci]) ||
        has_fused_attrs(g.nodes[ci]) || g.nodes[ci].outputs.size() != 1 || g.nodes[ci].num_inputs() < 2)
      continue;
    const Node& ct = g.nodes[ci];
    TensorQ x, y;
    ConstantDq w;
    if (!dequantized_activation(g, ct.inputs[0], &x) || !constant_dequantize(g, ct.inputs[1], &w)) continue;
    if (w.codes->dtype() != DType::kInt8 && w.codes->dtype() != DType::kUint8) continue;
    const int64_t b = upsampling_block(ct, *w.codes);
    if (b == 0) continue;
    const int64_t c = w.codes->dim(0), m = w.codes->dim(1), cells = b * b;
    if (w.scale->numel() != 1 && (w.scale->numel() != m || w.node->attr_int("axis", 1) != 1)) continue;
    if (w.zero_point && w.zero_point->numel() != w.scale->numel()) continue;
    // The bias: a float constant or DQ(int32 constant), per output channel.
    const Tensor* float_bias = ct.has_input(2) ? constant_value(g, ct.inputs[2]) : nullptr;
    ConstantDq bias;
    if (ct.has_input(2) && !float_bias &&
        (!constant_dequantize(g, ct.inputs[2], &bias) || bias.codes->numel() != m ||
         (bias.scale->numel() != 1 && bias.scale->numel() != m) ||
         (bias.zero_point && bias.zero_point->numel() != bias.scale->numel())))
      continue;
    if (float_bias && (float_bias->dtype() != DType::kFloat32 || float_bias->numel() != m)) continue;
    // Forward: [activation] -> Q.
    int next = sole_consumer(uses, ct.outputs[0]);
    int act = -1;
    if (next >= 0 && !removed[size_t(next)] && !ctx.pinned(g.nodes[size_t(next)]) &&
        activation_of(g, g.nodes[size_t(next)]).active()) {
      act = next;
      next = sole_consumer(uses, g.nodes[size_t(act)].outputs[0]);
    }
    if (next < 0 || removed[size_t(next)] || !quantize_node(g, size_t(next), &y)) continue;

    // W' = b*b*M x C x 1 x 1 with row (ky*b + kx)*M + o = W[:, o, ky, kx]; scales and zero points per row.
    Tensor codes(w.codes->dtype(), {cells * m, c, 1, 1});
    const uint8_t* src = static_cast<const uint8_t*>(w.codes->raw());
    uint8_t* dst = static_cast<uint8_t*>(codes.raw());
    for (int64_t ci2 = 0; ci2 < c; ++ci2)
      for (int64_t o = 0; o < m; ++o)
        for (int64_t cell = 0; cell < cells; ++cell) dst[(cell * m + o) * c + ci2] = src[(ci2 * m + o) * cells + cell];
    const std::string id = ct.name.empty() ? ct.outputs[0] : ct.name;
    std::vector<std::string> w_in = {add_constant(g, id + "_patch_W", std::move(codes)),
                                     add_constant(g, id + "_patch_W_scale", repeat_per_cell(*w.scale, m, cells))};
    if (w.zero_point) w_in.push_back(add_constant(g, id + "_patch_W_zero_point", repeat_per_cell(*w.zero_point, m, cells)));
    std::vector<Node> added;
    added.push_back(make_node("DequantizeLinear", id + "_patch_W_DQ", w_in, {add_value(g, id + "_patch_W_dq")}));
    added.back().attrs["axis"] = Attribute::of_int(0);
    std::vector<std::string> conv_in = {ct.inputs[0], added.back().outputs[0]};
    if (float_bias) {
      conv_in.push_back(add_constant(g, id + "_patch_B", repeat_per_cell(*float_bias, m, cells)));
    } else if (ct.has_input(2)) {
      std::vector<std::string> b_in = {add_constant(g, id + "_patch_B", repeat_per_cell(*bias.codes, m, cells)),
                                       add_constant(g, id + "_patch_B_scale", repeat_per_cell(*bias.scale, m, cells))};
      if (bias.zero_point)
        b_in.push_back(add_constant(g, id + "_patch_B_zero_point", repeat_per_cell(*bias.zero_point, m, cells)));
      added.push_back(make_node("DequantizeLinear", id + "_patch_B_DQ", b_in, {add_value(g, id + "_patch_B_dq")}));
      added.back().attrs["axis"] = Attribute::of_int(0);
      conv_in.push_back(added.back().outputs[0]);
    }
    // The layer's output (after the activation) keeps its name on the DepthToSpace; the patch values are new.
    const std::string layer_out = act >= 0 ? g.nodes[size_t(act)].outputs[0] : ct.outputs[0];
    Node conv = make_node("Conv", id, conv_in, {add_value(g, ct.outputs[0] + "_patches")});
    conv.attrs["kernel_shape"] = Attribute::of_ints({1, 1});
    std::string patches = conv.outputs[0];
    if (act >= 0) {
      Node& a = g.nodes[size_t(act)];
      a.inputs[0] = patches;
      a.outputs[0] = patches = add_value(g, layer_out + "_patches");
    }
    std::vector<std::string> qp = {y.scale};
    if (!y.zero_point.empty()) qp.push_back(y.zero_point);
    std::vector<std::string> q_in = {patches}, dq_in;
    q_in.insert(q_in.end(), qp.begin(), qp.end());
    added.push_back(make_node("QuantizeLinear", id + "_patches_Q", q_in, {add_value(g, patches + "_q")}));
    dq_in = {added.back().outputs[0]};
    dq_in.insert(dq_in.end(), qp.begin(), qp.end());
    added.push_back(make_node("DequantizeLinear", id + "_patches_DQ", dq_in, {add_value(g, patches + "_dq")}));
    added.push_back(make_node("DepthToSpace", id + "_depth_to_space", {added.back().outputs[0]}, {layer_out}));
    added.back().attrs["blocksize"] = Attribute::of_int(b);
    added.back().attrs["mode"] = Attribute::of_string("DCR");
    ctx.note(str_cat("ConvTranspose '", ct.name, "' (", b, "x", b, " stride ", b, ") -> 1x1 Conv with ", cells * m,
                     " channels + DepthToSpace (integer upsampling)"));
    g.nodes[ci] = std::move(conv);
    for (Node& n : added) {
      g.nodes.push_back(std::move(n));
      removed.push_back(false);
    }
    ++changes;
  }
  return changes;
}

}  // namespace lowbit::qdq
