// oneDNN Conv: groups/depthwise, dilations, pads/auto_pad, strides, bias, and the fused forms the graph
// passes produce (lowbit_activation[_alpha|_beta] as eltwise post-ops, lowbit_residual as a sum post-op).
// The primitive picks its own activation layouts (format any: nChw16c on AVX-512), so consecutive oneDNN
// ops keep the blocked layout; weights are reordered once at build time into the primitive's format.
#include <cstring>

#include "kernels/onednn/onednn_kernel.h"
#include "ops/conv_params.h"
#include "ops/fused_activation.h"

namespace lowbit::onednn {
namespace {

class ConvKernel : public Kernel {
 public:
  void execute(dnnl::stream& stream, const std::vector<memory>& inputs, const std::vector<memory>& outputs) override {
    memory src = inputs[0], dst = outputs[0];  // handles (reorder wants non-const ones)
    if (src_reorder_) {
      src_reorder_.execute(stream, src, src_scratch_);
      src = src_scratch_;
    }
    // sum post-op: dst already holds the residual when the convolution accumulates into it.
    if (residual_ >= 0) {
      memory residual = inputs[size_t(residual_)];
      residual_reorder_.execute(stream, residual, dst);
    }
    std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights_}, {DNNL_ARG_DST, dst}};
    if (bias_) args[DNNL_ARG_BIAS] = bias_;
    prim_.execute(stream, args);
  }

  dnnl::convolution_forward prim_;
  dnnl::reorder src_reorder_, residual_reorder_;
  memory src_scratch_, weights_, bias_;
  int residual_ = -1;
};

// The fused activation the graph passes attached to the node, as eltwise steps (false: unsupported).
bool fused_activation(const FusedActivation& act, std::vector<EltwiseStep>* steps) {
  steps->clear();
  if (!act.active()) return true;
  return activation_steps(fused_activation_name(act.kind), act.alpha, act.beta, true, true, steps);
}

}  // namespace

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
  const size_t rank = in_shape.size();
  if (rank < 3 || rank > 5 || w_shape.size() != rank) return nullptr;
  const size_t spatial = rank - 2;
  auto attrs = parse_conv_attrs(node, spatial, Shape(w_shape.begin() + 2, w_shape.end()), false);
  if (!attrs.ok()) return nullptr;
  const int64_t group = attrs->group, out_channels = w_shape[0];
  if (in_shape[1] != w_shape[1] * group || out_channels % group != 0) return nullptr;

  memory::dims strides, dilates, pad_l, pad_r;
  for (size_t i = 0; i < spatial; ++i) {
    auto axis = conv_axis(*attrs, i, in_shape[i + 2]);
    if (!axis.ok() || axis->out != output_shapes[0][i + 2]) return nullptr;
    strides.push_back(attrs->strides[i]);
    dilates.push_back(attrs->dilations[i] - 1);  // oneDNN counts the gaps, ONNX the step
    pad_l.push_back(axis->pad_begin);
    pad_r.push_back(axis->pad_end);
  }
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
  memory::desc src_any(src_dims, dt::f32, tag::any), dst_any(dst_dims, dt::f32, tag::any);
  memory::desc w_any(w_dims, dt::f32, tag::any), bias_md({out_channels}, dt::f32, tag::a);

  dnnl::post_ops ops;
  if (residual >= 0) ops.append_sum(1.f);
  for (auto& s : steps) ops.append_eltwise(1.f, s.algorithm, s.alpha, s.beta);
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);

  auto desc =
      has_bias
          ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                            src_any, w_any, bias_md, dst_any, strides, dilates, pad_l, pad_r)
          : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                            src_any, w_any, dst_any, strides, dilates, pad_l, pad_r);
  dnnl::convolution_forward::primitive_desc pd(desc, attr, cpu_engine());
  auto k = std::make_unique<ConvKernel>();
  k->prim_ = dnnl::convolution_forward(pd);
  const dnnl::engine& eng = cpu_engine();
  dnnl::stream stream(eng);

  // Weights (and bias) once, in the primitive's preferred format.
  memory user_w(plain_desc(user_w_dims), eng, const_cast<void*>(w.constant->raw()));
  k->weights_ = memory(pd.weights_desc(), eng);
  dnnl::reorder(user_w, k->weights_).execute(stream, user_w, k->weights_);
  if (has_bias) {
    k->bias_ = memory(pd.bias_desc(), eng);
    std::memcpy(k->bias_.get_data_handle(), inputs[2].constant->raw(), size_t(out_channels) * sizeof(float));
  }
  stream.wait();

  if (pd.src_desc() != x.desc) {
    k->src_reorder_ = dnnl::reorder(dnnl::reorder::primitive_desc(eng, x.desc, eng, pd.src_desc()));
    k->src_scratch_ = memory(pd.src_desc(), eng);
  }
  k->input_descs.assign(inputs.size(), memory::desc());
  k->input_descs[0] = x.desc;
  if (residual >= 0) {
    if (desc_shape(inputs[3].desc) != output_shapes[0]) return nullptr;  // a broadcast residual is not a sum post-op
    k->residual_ = residual;
    k->input_descs[3] = inputs[3].desc;
    k->residual_reorder_ = dnnl::reorder(dnnl::reorder::primitive_desc(eng, inputs[3].desc, eng, pd.dst_desc()));
  }
  k->output_descs = {pd.dst_desc()};
  return k;
}

}  // namespace lowbit::onednn
