// oneDNN int8 convolution for QLinearConv: u8 or s8 activations x s8 weights (VNNI on AVX-512; without VNNI the
// source is lowbit's own u8 copy, pre-padded, and the weights are split in halves over a doubled copy where pair sums
// could saturate: int8_pairs.h), int32 bias,
// requantization, fused activation and the residual Add (a sum post-op on the int8 residual) all inside one
// primitive, following ops/qlinear_requant.h:
//   output scales  = out_scale[m]                (per output channel)
//   post-ops       = [round, clip: the Conv output's own rounding, lowbit_conv_scale]
//                    -> sum(residual_scale, r_zp)   (residual copied into dst first, read as its own type)
//                    -> activation -> linear(post_scale) when the activation does not commute with the scale
//   zero points    = x_zp folded into the bias (no padding) or on the source; y_zp added by the last post-op
//                    (or on the destination where that would make a second linear post-op)
// Matches the reference kernel to within 1 LSB (float rounding of the scale products; oneDNN rounds with
// the CPU's round-to-nearest-even, as the reference does). Weights with non-zero zero points, uint8 weights and
// non-constant scales are left to the reference kernel.
#include <algorithm>
#include <cstring>

#include "kernels/onednn/int8_pairs.h"
#include "kernels/onednn/onednn_kernel.h"
#include "ops/qlinear_requant.h"

namespace lowbit::onednn {
namespace {

using dt = memory::data_type;
using tag = memory::format_tag;

class QConvKernel : public Kernel {
 public:
  void execute(dnnl::stream& stream, const std::vector<memory>& inputs, const std::vector<memory>& outputs) override {
    memory src = copy_ ? memory(src_desc_, cpu_engine(), copy_.apply(stream, inputs[0], pool).get_data_handle())
                          : src_reorder_.apply(stream, inputs[0]);
    memory dst = outputs[0];
    // The sum post-op accumulates onto what dst holds: the residual, in dst's layout and its own type.
    residual_.apply(stream, inputs, dst);
    std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights_}, {DNNL_ARG_DST, dst}};
    if (bias_) args[DNNL_ARG_BIAS] = bias_;
    if (src_zp_) args[DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC] = src_zp_;
    if (dst_zp_) args[DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST] = dst_zp_;
    prim_.execute(stream, args);
  }

  dnnl::convolution_forward prim_;
  InputReorder src_reorder_;
  SourceCopy copy_;        // without VNNI (int8_pairs.h): the source as lowbit's u8 copy
  memory::desc src_desc_;  // the primitive's input (the copy's layout)
  ResidualInDst residual_;
  memory weights_, bias_, src_zp_, dst_zp_;
};

// The channels-last tag of a rank-3..5 tensor (the doubled input's layout).
memory::format_tag channels_last(size_t rank) {
  return rank == 3 ? tag::nwc : rank == 4 ? tag::nhwc : tag::ndhwc;
}

}  // namespace

std::unique_ptr<Kernel> create_qconv_kernel(const Node& node, int opset, const std::vector<KernelInput>& inputs,
                                            const std::vector<Shape>& output_shapes) {
  (void)opset;
  if (inputs.size() < 7 || output_shapes.size() != 1) return nullptr;
  const KernelInput& x = inputs[0];
  if (x.constant || x.desc.data.ndims == 0) return nullptr;
  const dt x_dt = x.desc.data_type();
  if (x_dt != dt::s8 && x_dt != dt::u8) return nullptr;
  const Tensor* w = inputs[3].constant;
  const Tensor* w_scale = inputs[4].constant;
  const Tensor *x_scale = scalar_constant(inputs, 1), *y_scale = scalar_constant(inputs, 6);
  if (!w || w->dtype() != DType::kInt8 || !w_scale || w_scale->dtype() != DType::kFloat32 || !x_scale || !y_scale)
    return nullptr;
  const bool has_x_zp = inputs[2].desc.data.ndims != 0, has_y_zp = inputs.size() > 7 && inputs[7].desc.data.ndims != 0;
  const Tensor* x_zp = has_x_zp ? scalar_constant(inputs, 2) : nullptr;
  const Tensor* y_zp = has_y_zp ? scalar_constant(inputs, 7) : nullptr;
  if ((has_x_zp && !x_zp) || (has_y_zp && !y_zp)) return nullptr;
  if (inputs[5].desc.data.ndims != 0) {  // weight zero points: oneDNN needs them to be 0
    const Tensor* wz = inputs[5].constant;
    if (!wz) return nullptr;
    for (int64_t i = 0; i < wz->numel(); ++i)
      if (wz->data<int8_t>()[i] != 0) return nullptr;
  }
  const bool has_bias = inputs.size() > 8 && inputs[8].desc.data.ndims != 0;
  if (has_bias && (!inputs[8].constant || inputs[8].constant->dtype() != DType::kInt32)) return nullptr;
  auto fused = parse_fused_activation(node);
  if (!fused.ok()) return nullptr;
  const bool residual = fused->residual;
  const Tensor *r_scale = nullptr, *r_zp = nullptr;
  if (residual) {
    if (inputs.size() < 11 || inputs[9].constant || inputs[9].desc.data.ndims == 0) return nullptr;
    r_scale = scalar_constant(inputs, 10);
    if (!r_scale) return nullptr;
    if (inputs.size() > 11 && inputs[11].desc.data.ndims != 0 && !(r_zp = scalar_constant(inputs, 11))) return nullptr;
    if (desc_shape(inputs[9].desc) != output_shapes[0]) return nullptr;
  }

  const Shape in_shape = desc_shape(x.desc);
  const Shape& w_shape = w->shape();
  ConvDims cd;
  if (!conv_dims(node, in_shape, w_shape, output_shapes[0], &cd)) return nullptr;
  const int64_t group = cd.group, out_channels = cd.out_channels;
  if (w_scale->numel() != 1 && w_scale->numel() != out_channels) return nullptr;

  auto rounding = parse_conv_rounding(node);
  if (!rounding.ok()) return nullptr;
  const QLinearRequant rq = qlinear_requant(
      *fused, x_scale->data<float>()[0], std::vector<float>(w_scale->data<float>(), w_scale->data<float>() + w_scale->numel()),
      out_channels, y_scale->data<float>()[0], y_zp ? int32_t(y_zp->get_as_int64(0)) : 0, r_scale ? r_scale->data<float>()[0] : 0.f,
      r_zp ? int32_t(r_zp->get_as_int64(0)) : 0, *rounding);
  std::vector<EltwiseStep> steps;
  if (rq.act.active() &&
      !activation_steps(fused_activation_name(rq.act.kind), rq.act.alpha, rq.act.beta, true, true, &steps))
    return nullptr;

  dnnl::primitive_attr attr;
  bool per_channel = false;
  for (float s : rq.out_scale) per_channel = per_channel || s != rq.out_scale[0];
  attr.set_output_scales(per_channel ? 1 << 1 : 0, per_channel ? rq.out_scale : std::vector<float>{rq.out_scale[0]});
  // Zero points. oneDNN 2.6's fast int8 kernels (brgconv) take none: a zero-point attribute drops the primitive
  // to an older kernel 3-4x slower. Without padding every output reads every tap, so the source zero point
  // folds exactly into the int32 bias (bias - x_zp * sum of the channel's weights); the destination zero point
  // is one more addition at the end of the post-ops (oneDNN adds it there too, before rounding).
  // Without VNNI (int8_pairs.h): weights split in halves over a doubled source where pair sums could saturate
  // (grouped and depthwise kernels do not pair products), and the source handed over as lowbit's own u8 copy
  // (s8 shifted by 128, padding written as the zero point) wherever oneDNN's kernels would be inexact.
  const bool split = group == 1 && needs_weight_split(w->data<int8_t>(), w->numel());
  const int32_t x_zp_code = x_zp ? int32_t(x_zp->get_as_int64(0)) : 0;
  bool no_padding = true;
  for (size_t i = 0; i < cd.pad_l.size(); ++i) no_padding = no_padding && cd.pad_l[i] == 0 && cd.pad_r[i] == 0;
  const bool copy = split || (int8_pairs_saturate() && (x_dt == dt::s8 || (!no_padding && x_zp_code != 0)));
  const dt src_dt = copy ? dt::u8 : x_dt;
  const int32_t x_zero = x_zp_code + (copy && x_dt == dt::s8 ? 128 : 0);
  const memory::dims pad_l = cd.pad_l, pad_r = cd.pad_r;
  if (copy) {  // the copy carries the padding: the primitive runs unpadded
    for (auto* p : {&cd.pad_l, &cd.pad_r}) std::fill(p->begin(), p->end(), 0);
    no_padding = true;
  }
  const bool fold_x_zero = x_zero != 0 && no_padding;
  if (x_zero != 0 && !fold_x_zero) attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
  dnnl::post_ops ops;
  const dt r_dt = residual ? inputs[9].desc.data_type() : dt::undef;
  // oneDNN 2.6's int8 kernels mix up the constants of two post-ops of the same kind (seen with two
  // eltwise_linear, and two eltwise_clip around a sum): such chains stay on the reference kernel.
  if (rq.round_conv && rq.to_conv != 1.f && rq.post_scale != 1.f) return nullptr;
  if (rq.round_conv && rq.act.kind == FusedActivationKind::kClip) return nullptr;  // two clips: wrong results
  if (rq.round_conv) {  // the Conv output's own Q -> DQ, kept exact: v is in its steps here
    ops.append_eltwise(1.f, dnnl::algorithm::eltwise_round, 0.f, 0.f);
    ops.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, rq.conv_lo, rq.conv_hi);
    if (rq.to_conv != 1.f) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, rq.to_conv, 0.f);
  }
  if (residual) ops.append_sum(rq.residual_scale, rq.residual_zero_point, r_dt);
  for (auto& s : steps) ops.append_eltwise(1.f, s.algorithm, s.alpha, s.beta);
  // The destination zero point joins the trailing linear step, or becomes one unless that makes a second
  // eltwise_linear in the chain (the 2.6 mix-up above): then it stays an attribute.
  const bool has_conv_linear = rq.round_conv && rq.to_conv != 1.f;
  const bool y_zero_as_post_op = rq.y_zero_point != 0 && (rq.post_scale != 1.f || !has_conv_linear);
  if (rq.post_scale != 1.f || y_zero_as_post_op)
    ops.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, rq.post_scale,
                       y_zero_as_post_op ? float(rq.y_zero_point) : 0.f);
  if (rq.y_zero_point != 0 && !y_zero_as_post_op) attr.set_zero_points(DNNL_ARG_DST, 0, {DNNL_RUNTIME_S32_VAL});
  attr.set_post_ops(ops);

  const DType y_type = y_zp ? y_zp->dtype() : (x_dt == dt::s8 ? DType::kInt8 : DType::kUint8);
  Shape src_shape = in_shape, user_w_dims = w_shape;
  std::vector<int8_t> split_w;
  if (copy)
    for (size_t i = 2; i < src_shape.size(); ++i) src_shape[i] += pad_l[i - 2] + pad_r[i - 2];
  if (split) {
    src_shape[1] *= 2, user_w_dims[1] *= 2;
    split_w = split_weights(w->data<int8_t>(), out_channels, w_shape[1], w->numel() / (out_channels * w_shape[1]));
  }
  if (group > 1) {
    user_w_dims[0] = out_channels / group;
    user_w_dims.insert(user_w_dims.begin(), group);
  }
  memory::desc src_any(memory::dims(src_shape.begin(), src_shape.end()), src_dt,
                       copy ? channels_last(src_shape.size()) : tag::any);
  memory::desc dst_any(memory::dims(output_shapes[0].begin(), output_shapes[0].end()), dnnl_dtype(y_type), tag::any);
  memory::desc w_any(memory::dims(user_w_dims.begin(), user_w_dims.end()), dt::s8, tag::any);
  memory::desc bias_md({out_channels}, dt::s32, tag::a);
  using C = dnnl::convolution_forward;
  const bool with_bias = has_bias || fold_x_zero;
  auto desc = with_bias ? C::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_any,
                                 w_any, bias_md, dst_any, cd.strides, cd.dilates, cd.pad_l, cd.pad_r)
                       : C::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_any,
                                 w_any, dst_any, cd.strides, cd.dilates, cd.pad_l, cd.pad_r);
  C::primitive_desc pd(desc, attr, cpu_engine());

  auto k = std::make_unique<QConvKernel>();
  k->prim_ = C(pd);
  const dnnl::engine& eng = cpu_engine();
  dnnl::stream stream(eng);
  // Weights once, in the primitive's format (the reorder also computes the compensation terms s8 sources and
  // source zero points need).
  memory user_w(plain_desc(user_w_dims, dt::s8), eng, split ? split_w.data() : const_cast<void*>(w->raw()));
  k->weights_ = memory(pd.weights_desc(), eng);
  dnnl::reorder(user_w, k->weights_).execute(stream, user_w, k->weights_);
  if (with_bias) {
    k->bias_ = memory(pd.bias_desc(), eng);
    auto* bias = static_cast<int32_t*>(k->bias_.get_data_handle());
    if (has_bias)
      std::memcpy(bias, inputs[8].constant->raw(), size_t(out_channels) * sizeof(int32_t));
    else
      std::fill(bias, bias + out_channels, 0);
    if (fold_x_zero) {
      const int64_t per_channel = w->numel() / out_channels;  // O x I/group x k...: one channel's taps in a row
      const int8_t* wd = w->data<int8_t>();
      for (int64_t o = 0; o < out_channels; ++o) {
        int64_t sum = 0;
        for (int64_t i = 0; i < per_channel; ++i) sum += wd[o * per_channel + i];
        bias[o] = int32_t(int64_t(bias[o]) - int64_t(x_zero) * sum);
      }
    }
  }
  stream.wait();
  if (x_zero != 0 && !fold_x_zero) k->src_zp_ = zero_point_memory(x_zero);
  if (rq.y_zero_point != 0 && !y_zero_as_post_op) k->dst_zp_ = zero_point_memory(rq.y_zero_point);
  k->src_desc_ = pd.src_desc();
  if (copy)
    k->copy_.prepare(x.desc, memory::desc(memory::dims(in_shape.begin(), in_shape.end()), x_dt,
                                          channels_last(in_shape.size())),
                     split ? 2 : 1, x_dt == dt::s8, pad_l, pad_r, uint8_t(x_zero));
  else k->src_reorder_.prepare(x.desc, pd.src_desc());
  k->input_descs.assign(inputs.size(), memory::desc());
  k->input_descs[0] = x.desc;
  if (residual) k->residual_.prepare(*k, 9, inputs[9].desc, with_data_type(pd.dst_desc(), r_dt));
  k->output_descs = {pd.dst_desc()};
  return k;
}

}  // namespace lowbit::onednn
