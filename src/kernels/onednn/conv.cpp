// oneDNN Conv and ConvTranspose (deconvolution primitive, same fused activations, no residual).
// Conv: groups/depthwise, dilations, pads/auto_pad, strides, bias, and the fused forms the graph
// passes produce (lowbit_activation[_alpha|_beta] as eltwise post-ops, lowbit_residual as a sum post-op).
// The primitive picks its own activation layouts (format any: nChw16c on AVX-512), so consecutive oneDNN
// ops keep the blocked layout; weights are reordered once at build time into the primitive's format.
#include <cstring>

#include "kernels/onednn/onednn_kernel.h"
#include "kernels/onednn/simd.h"
#include "ops/conv_params.h"
#include "ops/fused_activation.h"

namespace lowbit::onednn {
namespace {

class ConvKernel : public Kernel {
 public:
  void execute(dnnl::stream& stream, const std::vector<memory>& inputs, const std::vector<memory>& outputs) override {
    memory src = src_reorder_.apply(stream, inputs[0]), dst = outputs[0];
    residual_.apply(stream, inputs, dst);  // sum post-op: dst must hold the residual
    std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights_}, {DNNL_ARG_DST, dst}};
    if (bias_ && !epilogue_) args[DNNL_ARG_BIAS] = bias_;
    prim_.execute(stream, args);
    if (epilogue_) epilogue_.execute(stream, {{DNNL_ARG_SRC_0, dst}, {DNNL_ARG_SRC_1, bias_}, {DNNL_ARG_DST, dst}});
  }

  dnnl::primitive prim_;  // convolution_forward or deconvolution_forward
  InputReorder src_reorder_;
  ResidualInDst residual_;
  memory weights_, bias_;
  // Deconvolution: bias and activation as a separate in-place binary add (+ eltwise post-ops) over the output.
  dnnl::binary epilogue_;
};

// What Conv and ConvTranspose kernels share once the primitive is chosen: the weights reordered (and the bias
// copied) into the primitive's formats, and a reorder for inputs that arrive in another layout.
template <typename PD>
void prepare_kernel(ConvKernel& k, const PD& pd, const memory::desc& user_w_md, const std::vector<KernelInput>& inputs,
                    bool has_bias, int64_t out_channels) {
  const dnnl::engine& eng = cpu_engine();
  dnnl::stream stream(eng);
  memory user_w(user_w_md, eng, const_cast<void*>(inputs[1].constant->raw()));
  k.weights_ = memory(pd.weights_desc(), eng);
  dnnl::reorder(user_w, k.weights_).execute(stream, user_w, k.weights_);
  if (has_bias) {
    k.bias_ = memory(pd.bias_desc(), eng);
    std::memcpy(k.bias_.get_data_handle(), inputs[2].constant->raw(), size_t(out_channels) * sizeof(float));
  }
  stream.wait();
  k.src_reorder_.prepare(inputs[0].desc, pd.src_desc());
}

// The fused activation the graph passes attached to the node, as eltwise steps (false: unsupported).
bool fused_activation(const FusedActivation& act, std::vector<EltwiseStep>* steps) {
  steps->clear();
  if (!act.active()) return true;
  return activation_steps(fused_activation_name(act.kind), act.alpha, act.beta, true, true, steps);
}

// Outputs with only a few channels (detection / segmentation heads) are written plain: a blocked layout would
// pad them to 8 or 16 channels, and the broadcasting binary and eltwise ops that usually follow a head are then
// many times slower than on the plain tensor. Falls back to the primitive's choice when plain has no kernel.
constexpr int64_t kPlainBelowChannels = 8;

template <typename PrimitiveDesc, typename MakePd>
PrimitiveDesc with_dst_layout(const Shape& out, const memory::desc& dst_any, const MakePd& make_pd) {
  if (out.size() >= 2 && out[1] < kPlainBelowChannels) {
    try {
      return make_pd(plain_desc(out));
    } catch (const dnnl::error&) {
    }
  }
  return make_pd(dst_any);
}

// Winograd for dense 3x3 stride-1 convolutions with at least 64 channels on maps of at least 14x14: lowbit's own
// kernel (conv_winograd.cpp: F(4x4, 3x3) from 28x28, F(2x2, 3x3) below), else oneDNN's F(2x2, 3x3) (~1.6x faster
// than direct in resnet50's layers 1-3). Smaller maps lose it again to the larger transformed weights (16 or 36
// taps instead of 9, read from L3 or DRAM on every run). Both run in nChw16c (lowbit's in nChw8c on AVX2 CPUs).
bool use_winograd(const Shape& in, const Shape& w, const ConvDims& d) {
  if (in.size() != 4 || w[2] != 3 || w[3] != 3 || d.group != 1) return false;
  for (size_t i = 0; i < 2; ++i)
    if (d.strides[i] != 1 || d.dilates[i] != 0) return false;
  const int block = simd::vector_width();  // 0: no AVX2, no Winograd kernel at all (oneDNN's needs AVX-512)
  return block > 0 && in[1] >= 64 && w[0] >= 64 && in[1] % block == 0 && w[0] % block == 0 && in[2] * in[3] >= 14 * 14;
}

}  // namespace

bool conv_dims(const Node& node, const Shape& in, const Shape& w, const Shape& out, ConvDims* d) {
  const size_t rank = in.size();
  if (rank < 3 || rank > 5 || w.size() != rank || out.size() != rank) return false;
  const size_t spatial = rank - 2;
  auto attrs = parse_conv_attrs(node, spatial, Shape(w.begin() + 2, w.end()), false);
  if (!attrs.ok()) return false;
  d->group = attrs->group;
  d->out_channels = w[0];
  if (in[1] != w[1] * d->group || d->out_channels % d->group != 0) return false;
  for (size_t i = 0; i < spatial; ++i) {
    auto axis = conv_axis(*attrs, i, in[i + 2]);
    if (!axis.ok() || axis->out != out[i + 2]) return false;
    d->strides.push_back(attrs->strides[i]);
    d->dilates.push_back(attrs->dilations[i] - 1);  // oneDNN counts the gaps, ONNX the step
    d->pad_l.push_back(axis->pad_begin);
    d->pad_r.push_back(axis->pad_end);
  }
  return true;
}

std::unique_ptr<Kernel> create_conv_kernel(const Node& node, int opset, const std::vector<KernelInput>& inputs,
                                           const std::vector<Shape>& output_shapes) {
  if (inputs.size() < 2 || output_shapes.size() != 1) return nullptr;
  const KernelInput &x = inputs[0], &w = inputs[1];
  if (x.constant || x.desc.data.ndims == 0 || !w.constant || w.constant->dtype() != DType::kFloat32) return nullptr;
  const bool has_bias = inputs.size() > 2 && inputs[2].desc.data.ndims != 0;
  if (has_bias && (!inputs[2].constant || inputs[2].constant->dtype() != DType::kFloat32)) return nullptr;
  auto fused = parse_fused_activation(node);
  if (!fused.ok()) return nullptr;
  const int residual = fused->residual ? 3 : -1;
  if (inputs.size() > 4) return nullptr;
  if (residual >= 0 && (inputs.size() < 4 || inputs[3].desc.data.ndims == 0 || inputs[3].constant)) return nullptr;

  const Shape in_shape = desc_shape(x.desc);
  const Shape& w_shape = w.constant->shape();
  ConvDims cd;
  if (!conv_dims(node, in_shape, w_shape, output_shapes[0], &cd)) return nullptr;
  const int64_t group = cd.group, out_channels = cd.out_channels;
  const memory::dims &strides = cd.strides, &dilates = cd.dilates, &pad_l = cd.pad_l, &pad_r = cd.pad_r;
  std::vector<EltwiseStep> steps;
  if (!fused_activation(*fused, &steps)) return nullptr;

  using dt = memory::data_type;
  using tag = memory::format_tag;
  memory::dims src_dims(in_shape.begin(), in_shape.end());
  memory::dims dst_dims(output_shapes[0].begin(), output_shapes[0].end());
  Shape user_w_dims = w_shape;
  if (group > 1) {  // oneDNN's grouped weights: G x O/G x I/G x k...
    user_w_dims[0] = out_channels / group;
    user_w_dims.insert(user_w_dims.begin(), group);
  }
  memory::dims w_dims(user_w_dims.begin(), user_w_dims.end());
  // lowbit's own kernels: Winograd where it pays (below), else small output maps in a blocked network
  // (resnet50's layers 3-4 at batch 1) on the weight-streaming kernel.
  if (!(residual >= 0 && desc_shape(inputs[3].desc) != output_shapes[0])) {
    if (use_winograd(in_shape, w_shape, cd)) {
      if (auto k = create_winograd_conv_kernel(inputs, output_shapes[0], cd, *fused)) return k;
    } else if (auto k = create_streaming_conv_kernel(inputs, output_shapes[0], cd, *fused)) {
      return k;
    }
  }

  // Layouts: the primitive's choice (nhwc for brgconv on AVX-512), except that a dense convolution whose input
  // or residual arrives in nChw16c (after a Winograd convolution) keeps it, so one Winograd layer does not cost
  // reorders on every layer after it.
  const bool winograd = use_winograd(in_shape, w_shape, cd);
  const tag blocked = own_blocked_tag();
  const int64_t block = blocked == tag::nChw16c ? 16 : 8;
  const bool arrives_blocked =
      x.desc == memory::desc(src_dims, dt::f32, blocked) ||
      (residual >= 0 && inputs.size() > 3 && inputs[3].desc == memory::desc(dst_dims, dt::f32, blocked));
  const bool keep_blocked = !winograd && in_shape.size() == 4 && group == 1 && arrives_blocked &&
                            in_shape[1] % block == 0 && out_channels % block == 0;
  const tag layout = keep_blocked ? blocked : tag::any;
  memory::desc src_any(src_dims, dt::f32, layout), dst_any(dst_dims, dt::f32, layout);
  memory::desc w_any(w_dims, dt::f32, tag::any), bias_md({out_channels}, dt::f32, tag::a);

  dnnl::post_ops ops;
  if (residual >= 0) ops.append_sum(1.f);
  for (auto& s : steps) ops.append_eltwise(1.f, s.algorithm, s.alpha, s.beta);
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);

  auto make_pd = [&](const memory::desc& dst) {
    using C = dnnl::convolution_forward;
    auto make = [&](dnnl::algorithm alg) {
      auto desc = has_bias ? C::desc(dnnl::prop_kind::forward_inference, alg, src_any, w_any, bias_md, dst, strides,
                                     dilates, pad_l, pad_r)
                           : C::desc(dnnl::prop_kind::forward_inference, alg, src_any, w_any, dst, strides, dilates,
                                     pad_l, pad_r);
      return C::primitive_desc(desc, attr, cpu_engine());
    };
    if (winograd) {
      try {
        return make(dnnl::algorithm::convolution_winograd);
      } catch (const dnnl::error&) {  // no Winograd kernel for these post-ops or this CPU
      }
    }
    return make(dnnl::algorithm::convolution_direct);
  };
  auto pd = with_dst_layout<dnnl::convolution_forward::primitive_desc>(output_shapes[0], dst_any, make_pd);
  auto k = std::make_unique<ConvKernel>();
  k->prim_ = dnnl::convolution_forward(pd);

  // Weights (and bias) once, in the primitive's preferred format.
  prepare_kernel(*k, pd, plain_desc(user_w_dims), inputs, has_bias, out_channels);
  k->input_descs.assign(inputs.size(), memory::desc());
  k->input_descs[0] = x.desc;
  if (residual >= 0) {
    if (desc_shape(inputs[3].desc) != output_shapes[0]) return nullptr;  // a broadcast residual is not a sum post-op
    k->residual_.prepare(*k, residual, inputs[3].desc, pd.dst_desc());
  }
  k->output_descs = {pd.dst_desc()};
  return k;
}

std::unique_ptr<Kernel> create_conv_transpose_kernel(const Node& node, int opset,
                                                     const std::vector<KernelInput>& inputs,
                                                     const std::vector<Shape>& output_shapes) {
  if (inputs.size() < 2 || inputs.size() > 3 || output_shapes.size() != 1) return nullptr;
  const KernelInput &x = inputs[0], &w = inputs[1];
  if (x.constant || x.desc.data.ndims == 0 || !w.constant || w.constant->dtype() != DType::kFloat32) return nullptr;
  const bool has_bias = inputs.size() > 2 && inputs[2].desc.data.ndims != 0;
  if (has_bias && (!inputs[2].constant || inputs[2].constant->dtype() != DType::kFloat32)) return nullptr;
  auto fused = parse_fused_activation(node);
  if (!fused.ok() || fused->residual) return nullptr;
  std::vector<EltwiseStep> steps;
  if (!fused_activation(*fused, &steps)) return nullptr;

  try {  // stride == kernel: one matmul (conv_transpose_patches.cpp); else oneDNN's deconvolution
    if (auto k = create_patch_conv_transpose_kernel(node, inputs, output_shapes, steps)) return k;
  } catch (const dnnl::error&) {
  }

  const Shape in_shape = desc_shape(x.desc);
  const Shape& w_shape = w.constant->shape();  // C x M/group x k...
  const size_t rank = in_shape.size();
  if (rank < 3 || rank > 5 || w_shape.size() != rank) return nullptr;
  const size_t spatial = rank - 2;
  auto attrs = parse_conv_attrs(node, spatial, Shape(w_shape.begin() + 2, w_shape.end()), true);
  if (!attrs.ok()) return nullptr;
  const int64_t group = attrs->group, out_channels = w_shape[1] * group;
  if (in_shape[1] != w_shape[0] || w_shape[0] % group != 0 || output_shapes[0][1] != out_channels) return nullptr;

  memory::dims strides, dilates, pad_l, pad_r;
  for (size_t i = 0; i < spatial; ++i) {
    auto axis = conv_transpose_axis(*attrs, i, in_shape[i + 2]);
    const int64_t out = output_shapes[0][i + 2];
    if (!axis.ok() || axis->out != out) return nullptr;
    // oneDNN: out = (in - 1) * stride + (k - 1) * dilation + 1 - pad_l - pad_r; output_padding and an
    // output_shape beyond the full result become a smaller right pad (negative: left to the reference).
    const int64_t full = (in_shape[i + 2] - 1) * attrs->strides[i] + (attrs->kernel[i] - 1) * attrs->dilations[i] + 1;
    const int64_t right = full - axis->pad_begin - out;
    if (axis->pad_begin < 0 || right < 0) return nullptr;
    strides.push_back(attrs->strides[i]);
    dilates.push_back(attrs->dilations[i] - 1);
    pad_l.push_back(axis->pad_begin);
    pad_r.push_back(right);
  }

  using dt = memory::data_type;
  using tag = memory::format_tag;
  memory::dims src_dims(in_shape.begin(), in_shape.end());
  memory::dims dst_dims(output_shapes[0].begin(), output_shapes[0].end());
  // oneDNN's deconvolution weights are O x I x k (grouped: G x O/G x I/G x k); ONNX stores I x O/G x k, which
  // is a strided view of the same bytes.
  memory::dims w_dims = {out_channels / group, in_shape[1] / group};
  for (size_t i = 2; i < rank; ++i) w_dims.push_back(w_shape[i]);
  if (group > 1) w_dims.insert(w_dims.begin(), group);
  memory::dim kernel_volume = 1;
  for (size_t i = 2; i < rank; ++i) kernel_volume *= w_shape[i];
  const memory::dim o_per_group = out_channels / group, i_per_group = in_shape[1] / group;
  memory::dims w_strides = {kernel_volume, o_per_group * kernel_volume};  // O, I over bytes laid out I x O
  memory::dim step = 1;
  memory::dims k_strides(spatial);
  for (size_t i = spatial; i-- > 0;) k_strides[i] = step, step *= w_shape[i + 2];
  w_strides.insert(w_strides.end(), k_strides.begin(), k_strides.end());
  if (group > 1) w_strides.insert(w_strides.begin(), i_per_group * o_per_group * kernel_volume);
  const memory::desc w_user_md(w_dims, dt::f32, w_strides);
  memory::desc src_any(src_dims, dt::f32, tag::any), dst_any(dst_dims, dt::f32, tag::any);
  memory::desc w_any(w_dims, dt::f32, tag::any);

  // oneDNN 2.6's deconvolution applies a bias or post-ops in a slow generic loop (the detector's 24 -> 1 layer:
  // 1 ms plain, 7+ ms with a bias): the primitive runs bare and one in-place binary add (bias, zeros without one)
  // with the activation as its post-ops follows.
  using D = dnnl::deconvolution_forward;
  auto make_pd = [&](const memory::desc& dst) {
    auto desc = D::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::deconvolution_direct, src_any, w_any,
                        dst, strides, dilates, pad_l, pad_r);
    return D::primitive_desc(desc, cpu_engine());
  };
  auto pd = with_dst_layout<D::primitive_desc>(output_shapes[0], dst_any, make_pd);
  auto k = std::make_unique<ConvKernel>();
  k->prim_ = D(pd);
  prepare_kernel(*k, pd, w_user_md, inputs, false, out_channels);
  if (has_bias || !steps.empty()) {
    memory::dims b_dims(rank, 1);
    b_dims[1] = out_channels;
    const memory::desc b_md = plain_desc(Shape(b_dims.begin(), b_dims.end()));
    k->bias_ = memory(b_md, cpu_engine());
    if (has_bias) std::memcpy(k->bias_.get_data_handle(), inputs[2].constant->raw(), size_t(out_channels) * sizeof(float));
    else std::memset(k->bias_.get_data_handle(), 0, size_t(out_channels) * sizeof(float));
    dnnl::post_ops ops;
    for (auto& s : steps) ops.append_eltwise(1.f, s.algorithm, s.alpha, s.beta);
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    k->epilogue_ = dnnl::binary(dnnl::binary::primitive_desc(
        dnnl::binary::desc(dnnl::algorithm::binary_add, pd.dst_desc(), b_md, pd.dst_desc()), attr, cpu_engine()));
  }
  k->input_descs.assign(inputs.size(), memory::desc());
  k->input_descs[0] = x.desc;
  k->output_descs = {pd.dst_desc()};
  return k;
}

}  // namespace lowbit::onednn
