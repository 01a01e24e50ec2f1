// oneDNN LayerNormalization (opset 17) and InstanceNormalization kernels, float32, plain layouts only.
//
// Both reshape their input, which only a row-major buffer allows: a blocked input gets nullptr here and the plan
// retries with plain inputs (it reorders once). The reshaped views are memory objects created at build time whose
// data handle is swapped per run, so execute creates no oneDNN objects and no buffers.
#include <cstring>
#include <unordered_map>

#include "kernels/onednn/onednn_kernel.h"
#include "ops/broadcast.h"

namespace lowbit::onednn {
namespace {

using dnnl::normalization_flags;
using dnnl::prop_kind;

int64_t product(const Shape& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to; ++i) p *= s[i];
  return p;
}

bool has(const std::vector<KernelInput>& inputs, size_t i) {
  return i < inputs.size() && inputs[i].desc.data.ndims != 0;
}

// True when `node` asks for any output past the first (LayerNormalization's Mean/InvStdDev): the reference computes
// those; this kernel only writes Y.
bool wants_extra_outputs(const Node& node) {
  for (size_t i = 1; i < node.outputs.size(); ++i)
    if (!node.outputs[i].empty()) return true;
  return false;
}

// Output descs for a node whose extra outputs are all unnamed: the plan still wants one desc per output, so those get
// a one-float scratch buffer that nothing writes.
std::vector<memory::desc> y_and_scratch(const Node& node, const memory::desc& y) {
  std::vector<memory::desc> d(std::max<size_t>(1, node.outputs.size()), plain_desc({1}));
  d[0] = y;
  return d;
}

// ---------------------------------------------------------------------------------------------------------------
// LayerNormalization: X viewed as [outer, inner] (inner = the product of dims [axis, rank)), normalized per row by
// layer_normalization_forward, whose scale/shift are per column: exactly ONNX's Scale/B once they are expanded to
// the normalized shape.

class LayerNormKernel : public Kernel {
 public:
  void execute(dnnl::stream& stream, const std::vector<memory>& inputs, const std::vector<memory>& outputs) override {
    src_.set_data_handle(inputs[0].get_data_handle());
    dst_.set_data_handle(outputs[0].get_data_handle());
    std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, src_}, {DNNL_ARG_DST, dst_}};
    if (scale_) {
      if (scale_input_ >= 0) scale_.set_data_handle(inputs[size_t(scale_input_)].get_data_handle());
      args[DNNL_ARG_SCALE] = scale_;
    }
    if (shift_) {
      if (shift_input_ >= 0) shift_.set_data_handle(inputs[size_t(shift_input_)].get_data_handle());
      args[DNNL_ARG_SHIFT] = shift_;
    }
    prim_.execute(stream, args);
  }

  dnnl::layer_normalization_forward prim_;
  memory src_, dst_;      // [outer, inner] views of X and Y
  memory scale_, shift_;  // [inner]; null when absent
  int scale_input_ = -1;  // node input whose buffer scale_ views at run time (-1: a baked constant)
  int shift_input_ = -1;
};

// Prepares Scale or B (node input `i`) as a [inner] oneDNN argument: a constant is expanded once to the normalized
// shape (it may broadcast, e.g. [1, C] onto [H, C]); a runtime tensor is used in place when it already holds one value
// per normalized element, otherwise nullptr-worthy (false). Absent: *mem stays null.
bool prepare_affine(const std::vector<KernelInput>& inputs, size_t i, const Shape& normalized, int64_t inner,
                    memory* mem, int* runtime_index) {
  if (!has(inputs, i)) return true;
  const KernelInput& in = inputs[i];
  if (!in.constant) {
    if (!is_plain(in.desc) || product(desc_shape(in.desc), 0, size_t(in.desc.data.ndims)) != inner) return false;
    *mem = memory(plain_desc({inner}), cpu_engine(), nullptr);
    *runtime_index = int(i);
    return true;
  }
  const Tensor& t = *in.constant;
  if (t.dtype() != DType::kFloat32 || t.rank() > normalized.size()) return false;
  const std::vector<int64_t> strides = broadcast_strides(t.shape(), normalized);
  *mem = memory(plain_desc({inner}), cpu_engine());  // owned by oneDNN
  float* dst = static_cast<float*>(mem->get_data_handle());
  const float* src = t.data<float>();
  for (int64_t e = 0; e < inner; ++e) {
    int64_t rem = e, off = 0;
    for (size_t d = normalized.size(); d-- > 0;) {
      off += (rem % normalized[d]) * strides[d];
      rem /= normalized[d];
    }
    dst[e] = src[off];
  }
  return true;
}

std::unique_ptr<Kernel> create_layer_norm_kernel(const Node& node, const std::vector<KernelInput>& inputs,
                                                 const std::vector<Shape>& output_shapes) {
  if (inputs.size() < 2 || inputs.size() > 3 || !has(inputs, 0) || inputs[0].constant) return nullptr;
  if (wants_extra_outputs(node) || output_shapes.empty()) return nullptr;  // Mean/InvStdDev: the reference
  const memory::desc& xd = inputs[0].desc;
  if (!is_plain(xd)) return nullptr;  // reshaped below; the plan retries with a plain input
  const Shape x = desc_shape(xd);
  if (output_shapes[0] != x) return nullptr;
  const int64_t rank = int64_t(x.size());
  int64_t axis = node.attr_int("axis", -1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return nullptr;
  const int64_t outer = product(x, 0, size_t(axis)), inner = product(x, size_t(axis), x.size());
  const Shape normalized(x.begin() + axis, x.end());
  // stash_type is ignored: it only names the precision of the statistics, oneDNN keeps them in float32 (ONNX's
  // default, 1) and the reference kernel in double whatever it says.
  auto k = std::make_unique<LayerNormKernel>();
  if (!prepare_affine(inputs, 1, normalized, inner, &k->scale_, &k->scale_input_) ||
      !prepare_affine(inputs, 2, normalized, inner, &k->shift_, &k->shift_input_))
    return nullptr;
  normalization_flags flags = normalization_flags::none;
  if (k->scale_) flags |= normalization_flags::use_scale;
  if (k->shift_) flags |= normalization_flags::use_shift;
  const memory::desc view = plain_desc({outer, inner});
  dnnl::layer_normalization_forward::desc d(prop_kind::forward_inference, view, node.attr_float("epsilon", 1e-5f),
                                            flags);
  k->prim_ = dnnl::layer_normalization_forward(dnnl::layer_normalization_forward::primitive_desc(d, cpu_engine()));
  k->src_ = memory(view, cpu_engine(), nullptr);
  k->dst_ = memory(view, cpu_engine(), nullptr);
  k->input_descs.assign(inputs.size(), memory::desc());
  k->input_descs[0] = xd;
  if (k->scale_input_ >= 0) k->input_descs[1] = inputs[1].desc;
  if (k->shift_input_ >= 0) k->input_descs[2] = inputs[2].desc;
  k->output_descs = y_and_scratch(node, xd);
  return k;
}

// ---------------------------------------------------------------------------------------------------------------
// InstanceNormalization: statistics per (n, c) plane. X [N, C, D1...] is viewed as [N*C, S] (S = D1*D2*...) and
// normalized per row by layer_normalization_forward without scale/shift; then one binary primitive applies the
// per-plane affine step in place on Y viewed as [1, N*C, S]: multiply by scale and, as a post-op, add B, both
// [1, N*C, 1] (scale/B tiled over the N images).
//
// Why not a single batch_normalization_forward on [1, N*C, 1, S] in inference mode without use_global_stats (it
// computes per-channel statistics, i.e. per plane, and applies scale/shift in the same primitive)? Measured on this
// machine (2 threads, [1, 64, 128, 128]): oneDNN 2.6's ncsp_bnorm takes 0.86 ms, layer norm + binary 0.23 ms; a 3-D
// [1, N*C, S] view even falls to bnorm_ref (19 ms). The per-plane factors cannot go into the layer norm itself (its
// scale/shift are per column, and it takes no post-ops in 2.6), and the binary must see the planes as its channel
// axis (dim 1): a [N*C, 1] operand on a 2-D view is a per-row broadcast that oneDNN 2.6 only has a reference
// implementation for (30-50 ms).

class InstanceNormKernel : public Kernel {
 public:
  void execute(dnnl::stream& stream, const std::vector<memory>& inputs, const std::vector<memory>& outputs) override {
    src_.set_data_handle(inputs[0].get_data_handle());
    dst_.set_data_handle(outputs[0].get_data_handle());
    dst_planes_.set_data_handle(outputs[0].get_data_handle());
    // Runtime (non-constant) scale/B: tile the C values over the N images into the kernel's own buffers.
    tile_runtime(inputs, 1, scale_);
    tile_runtime(inputs, 2, shift_);
    norm_.execute(stream, {{DNNL_ARG_SRC, src_}, {DNNL_ARG_DST, dst_}});
    affine_.execute(stream, {{DNNL_ARG_SRC_0, dst_planes_},
                             {DNNL_ARG_SRC_1, scale_},
                             {DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, shift_},
                             {DNNL_ARG_DST, dst_planes_}});
  }

  void tile_runtime(const std::vector<memory>& inputs, size_t i, memory& dst) const {
    if (input_descs[i].data.ndims == 0) return;  // baked at build time
    const float* src = static_cast<const float*>(inputs[i].get_data_handle());
    float* out = static_cast<float*>(dst.get_data_handle());
    for (int64_t n = 0; n < batch_; ++n) std::memcpy(out + n * channels_, src, size_t(channels_) * sizeof(float));
  }

  dnnl::layer_normalization_forward norm_;
  dnnl::binary affine_;
  memory src_, dst_;      // [N*C, S] views of X and Y
  memory dst_planes_;     // [1, N*C, S] view of Y
  memory scale_, shift_;  // [1, N*C, 1] each, owned
  int64_t batch_ = 0, channels_ = 0;
};

std::unique_ptr<Kernel> create_instance_norm_kernel(const Node& node, const std::vector<KernelInput>& inputs,
                                                    const std::vector<Shape>& output_shapes) {
  if (inputs.size() != 3 || !has(inputs, 0) || !has(inputs, 1) || !has(inputs, 2) || inputs[0].constant) return nullptr;
  if (output_shapes.size() != 1) return nullptr;
  const memory::desc& xd = inputs[0].desc;
  if (!is_plain(xd)) return nullptr;  // reshaped below; the plan retries with a plain input
  const Shape x = desc_shape(xd);
  if (x.size() < 3 || output_shapes[0] != x) return nullptr;
  const int64_t batch = x[0], channels = x[1], planes = batch * channels, spatial = product(x, 2, x.size());
  auto k = std::make_unique<InstanceNormKernel>();
  k->batch_ = batch;
  k->channels_ = channels;
  k->input_descs.assign(3, memory::desc());
  k->input_descs[0] = xd;
  const memory::desc per_plane = plain_desc({1, planes, 1});
  memory* params[2] = {&k->scale_, &k->shift_};
  for (size_t i = 1; i <= 2; ++i) {
    const KernelInput& in = inputs[i];
    if (product(desc_shape(in.desc), 0, size_t(in.desc.data.ndims)) != channels) return nullptr;
    *params[i - 1] = memory(per_plane, cpu_engine());
    if (in.constant) {
      if (in.constant->dtype() != DType::kFloat32) return nullptr;
      float* out = static_cast<float*>(params[i - 1]->get_data_handle());
      for (int64_t n = 0; n < batch; ++n)
        std::memcpy(out + n * channels, in.constant->data<float>(), size_t(channels) * sizeof(float));
    } else {
      if (!is_plain(in.desc)) return nullptr;
      k->input_descs[i] = in.desc;
    }
  }
  const memory::desc rows = plain_desc({planes, spatial});
  dnnl::layer_normalization_forward::desc nd(prop_kind::forward_inference, rows, node.attr_float("epsilon", 1e-5f),
                                             normalization_flags::none);
  k->norm_ = dnnl::layer_normalization_forward(dnnl::layer_normalization_forward::primitive_desc(nd, cpu_engine()));
  const memory::desc planes_view = plain_desc({1, planes, spatial});
  dnnl::post_ops add_shift;
  add_shift.append_binary(dnnl::algorithm::binary_add, per_plane);
  dnnl::primitive_attr attr;
  attr.set_post_ops(add_shift);
  dnnl::binary::desc bd(dnnl::algorithm::binary_mul, planes_view, per_plane, planes_view);
  k->affine_ = dnnl::binary(dnnl::binary::primitive_desc(bd, attr, cpu_engine()));
  k->src_ = memory(rows, cpu_engine(), nullptr);
  k->dst_ = memory(rows, cpu_engine(), nullptr);
  k->dst_planes_ = memory(planes_view, cpu_engine(), nullptr);
  k->output_descs = {xd};
  return k;
}

}  // namespace

std::unique_ptr<Kernel> create_norm_kernel(const Node& node, int opset, const std::vector<KernelInput>& inputs,
                                           const std::vector<Shape>& output_shapes) {
  if (node.op_type == "LayerNormalization" && opset >= 17) return create_layer_norm_kernel(node, inputs, output_shapes);
  if (node.op_type == "InstanceNormalization") return create_instance_norm_kernel(node, inputs, output_shapes);
  return nullptr;
}

}  // namespace lowbit::onednn
