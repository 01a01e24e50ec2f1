// lower_qdq, step 0: integer ConvTranspose by the sub-pixel decomposition. A transposed convolution with stride s
// (the same on both axes), kernel kh x kw, pads and output_padding (no dilation, groups or output_shape) is s*s
// ordinary convolutions over the input, one per output phase, each with a sub-kernel of ceil(k/s) taps:
//
//   DQ(x) -> ConvTranspose(DQ(W: C x M x kh x kw), [B]) -> [act] -> Q(y)
// becomes
//   DQ(x) -> Conv (DQ(W': s*s*M x C x kh' x kw'), [B'], pads kh'-1, kw'-1 on the top/left) -> [act] -> Q(y)
//         -> DQ(y) -> DepthToSpace(s, DCR) -> Q(y) [-> DQ(y) -> Slice(the pads' crop) -> Q(y)]
//
// with kh' = ceil(kh / s) and W'[(ry*s + rx)*M + m, c, j, i] = W[c, m, ry + (kh'-1-j)*s, rx + (kw'-1-i)*s] (zero
// past the kernel), scales and bias repeated per phase. Output row o of the transposed convolution is phase
// (o + pad_top) mod s of conv row (o + pad_top) / s: every output sums the same products as before, so the
// integer result is exact; DepthToSpace and the crop only move values, so quantizing before or after them is the
// same. The upsampling form (stride == kernel, no pads: PaddleOCR's DB head) is the case kh' = 1 with no crop.
// Nothing depends on the input size, so models with dynamic spatial dims lower too.
// The later steps make the Conv a QLinearConv and run DepthToSpace and Slice on codes (step 2); the Q -> DQ
// pairs in between cost nothing. The values the rewrite introduces get new names (`..._patches`): the layer's
// own output name stays on the last node, which computes what the ConvTranspose did.
#include <algorithm>
#include <limits>

#include "passes/qdq_match.h"

namespace lowbit::qdq {

namespace {

// How a ConvTranspose maps onto Conv + DepthToSpace + crop (see above). None of it depends on the input size: with
// t = k + output_padding - pad_end, the conv needs ceil(t/s) - 1 rows of bottom padding, and the spread output is
// (pad_bottom + 1) * s - t rows longer than pad_top + the ConvTranspose's output.
constexpr int64_t kToTheEnd = std::numeric_limits<int64_t>::max();  // a Slice end past the last row

struct SubPixel {
  int64_t s = 0;           // stride = DepthToSpace block; 0: not this form
  int64_t kh = 0, kw = 0;  // the sub-kernel
  int64_t pad_bottom = 0, pad_right = 0;
  int64_t crop_top = 0, crop_left = 0, trim_bottom = 0, trim_right = 0;
  bool crop() const { return crop_top || crop_left || trim_bottom || trim_right; }
};

SubPixel sub_pixel_form(const Node& ct, const Tensor& w) {
  SubPixel f;
  if (w.rank() != 4) return f;
  const std::string auto_pad = ct.attr_string("auto_pad", "NOTSET");
  if (ct.attr_int("group", 1) != 1 || (auto_pad != "NOTSET" && auto_pad != "VALID") || ct.has_attr("output_shape"))
    return f;
  const int64_t kh = w.dim(2), kw = w.dim(3);
  const std::vector<int64_t> strides = ct.attr_ints("strides", {1, 1}), kernel = ct.attr_ints("kernel_shape", {kh, kw});
  if (strides.size() != 2 || strides[0] != strides[1] || strides[0] < 1 || kernel != std::vector<int64_t>{kh, kw})
    return f;
  for (int64_t d : ct.attr_ints("dilations", {1, 1}))
    if (d != 1) return f;
  const int64_t s = strides[0];
  if (s > kh || s > kw) return f;  // gaps between the patches; also keeps W' (s*s phases) within 4x W's size
  const std::vector<int64_t> pads =
      auto_pad == "VALID" ? std::vector<int64_t>{0, 0, 0, 0} : ct.attr_ints("pads", {0, 0, 0, 0});
  const std::vector<int64_t> out_pad = ct.attr_ints("output_padding", {0, 0});
  if (pads.size() != 4 || out_pad.size() != 2) return f;
  for (int64_t v : pads)
    if (v < 0) return f;
  const int64_t th = kh + out_pad[0] - pads[2], tw = kw + out_pad[1] - pads[3];
  if (th < 1 || tw < 1) return f;
  f.kh = (kh + s - 1) / s, f.kw = (kw + s - 1) / s;
  f.pad_bottom = (th + s - 1) / s - 1, f.pad_right = (tw + s - 1) / s - 1;
  f.crop_top = pads[0], f.crop_left = pads[1];
  f.trim_bottom = (f.pad_bottom + 1) * s - th, f.trim_right = (f.pad_right + 1) * s - tw;
  f.s = s;
  return f;
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
    const SubPixel f = sub_pixel_form(ct, *w.codes);
    if (f.s == 0) continue;
    const int64_t b = f.s, c = w.codes->dim(0), m = w.codes->dim(1), cells = b * b;
    const int64_t kh = w.codes->dim(2), kw = w.codes->dim(3);
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

    // W' = b*b*M x C x kh' x kw' (see the top of the file); scales and zero points per row. Taps past the kernel
    // hold the weights' zero point (real zero).
    Tensor codes(w.codes->dtype(), {cells * m, c, f.kh, f.kw});
    const uint8_t* src = static_cast<const uint8_t*>(w.codes->raw());
    uint8_t* dst = static_cast<uint8_t*>(codes.raw());
    for (int64_t row = 0; row < cells * m; ++row) {
      const int64_t phase = row / m, o = row % m, ry = phase / b, rx = phase % b;
      const uint8_t zero =
          w.zero_point ? static_cast<const uint8_t*>(w.zero_point->raw())[w.zero_point->numel() == 1 ? 0 : o] : 0;
      for (int64_t ci2 = 0; ci2 < c; ++ci2)
        for (int64_t j = 0; j < f.kh; ++j)
          for (int64_t i = 0; i < f.kw; ++i) {
            const int64_t ky = ry + (f.kh - 1 - j) * b, kx = rx + (f.kw - 1 - i) * b;
            dst[((row * c + ci2) * f.kh + j) * f.kw + i] =
                ky < kh && kx < kw ? src[((ci2 * m + o) * kh + ky) * kw + kx] : zero;
          }
    }
    const std::string id = ct.name.empty() ? ct.outputs[0] : ct.name;
    std::vector<std::string> w_in = {add_constant(g, id + "_patch_W", std::move(codes)),
                                     add_constant(g, id + "_patch_W_scale", repeat_per_cell(*w.scale, m, cells))};
    if (w.zero_point)
      w_in.push_back(add_constant(g, id + "_patch_W_zero_point", repeat_per_cell(*w.zero_point, m, cells)));
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
    conv.attrs["kernel_shape"] = Attribute::of_ints({f.kh, f.kw});
    if (f.kh > 1 || f.kw > 1 || f.pad_bottom > 0 || f.pad_right > 0)
      conv.attrs["pads"] = Attribute::of_ints({f.kh - 1, f.kw - 1, f.pad_bottom, f.pad_right});
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
    const std::string spread = f.crop() ? add_value(g, layer_out + "_spread") : layer_out;
    added.push_back(make_node("DepthToSpace", id + "_depth_to_space", {added.back().outputs[0]}, {spread}));
    added.back().attrs["blocksize"] = Attribute::of_int(b);
    added.back().attrs["mode"] = Attribute::of_string("DCR");
    if (f.crop()) {  // Q -> DQ -> Slice: the transposed convolution's pads come off the edges
      q_in[0] = spread;
      added.push_back(make_node("QuantizeLinear", id + "_spread_Q", q_in, {add_value(g, spread + "_q")}));
      dq_in[0] = added.back().outputs[0];
      added.push_back(make_node("DequantizeLinear", id + "_spread_DQ", dq_in, {add_value(g, spread + "_dq")}));
      auto ints = [&](const std::string& name, std::vector<int64_t> v) {
        Tensor t(DType::kInt64, {int64_t(v.size())});
        for (size_t i = 0; i < v.size(); ++i) t.data<int64_t>()[i] = v[i];
        return add_constant(g, id + name, std::move(t));
      };
      added.push_back(make_node(
          "Slice", id + "_crop",
          {added.back().outputs[0], ints("_crop_starts", {f.crop_top, f.crop_left}),
           ints("_crop_ends", {f.trim_bottom ? -f.trim_bottom : kToTheEnd, f.trim_right ? -f.trim_right : kToTheEnd}),
           ints("_crop_axes", {2, 3})},
          {layer_out}));
    }
    ctx.note(str_cat("ConvTranspose '", ct.name, "' (", kh, "x", kw, " stride ", b, ") -> ", f.kh, "x", f.kw,
                     " Conv with ", cells * m, " channels + DepthToSpace", f.crop() ? " + crop" : "",
                     " (integer sub-pixel convolution)"));
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
