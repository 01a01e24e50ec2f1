// The shared CPU engine, thread control and desc helpers; create_kernel dispatch.
#include <dlfcn.h>

#include <cstring>

#include <thread>

#include "kernels/onednn/onednn_kernel.h"
#include "kernels/onednn/simd.h"

namespace lowbit::onednn {

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

void set_num_threads(int threads) {
  // The Debian oneDNN runs on OpenMP (libgomp, loaded with libdnnl): look omp_set_num_threads up at run
  // time instead of linking OpenMP into every target.
  using SetFn = void (*)(int);
  static const SetFn set = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  if (set) set(threads);
}

memory::desc plain_desc(const Shape& shape, memory::data_type dt) {
  memory::dims dims(shape.begin(), shape.end());
  if (dims.empty()) dims = {1};
  if (dims.size() > DNNL_MAX_NDIMS) return memory::desc();
  memory::dims strides(dims.size(), 1);
  for (size_t i = dims.size() - 1; i > 0; --i) strides[i - 1] = strides[i] * std::max<memory::dim>(dims[i], 1);
  return memory::desc(dims, dt, strides);
}

bool unblocked_strides(const memory::desc& d, std::vector<int64_t>* strides) {
  const auto& blk = d.data.format_desc.blocking;
  if (d.data.format_kind != dnnl_blocked || blk.inner_nblks != 0) return false;
  for (int i = 0; i < d.data.ndims; ++i)
    if (d.data.padded_dims[i] != d.data.dims[i] || d.data.padded_offsets[i] != 0) return false;
  strides->assign(blk.strides, blk.strides + d.data.ndims);
  return true;
}

bool is_plain(const memory::desc& desc) {
  if (desc.data.ndims == 0) return false;
  return desc == plain_desc(desc_shape(desc), desc.data_type());
}

DType desc_dtype(const memory::desc& d) {
  switch (d.data_type()) {
    case memory::data_type::s8: return DType::kInt8;
    case memory::data_type::u8: return DType::kUint8;
    case memory::data_type::s32: return DType::kInt32;
    default: return DType::kFloat32;
  }
}

memory::data_type dnnl_dtype(DType t) {
  switch (t) {
    case DType::kInt8: return memory::data_type::s8;
    case DType::kUint8: return memory::data_type::u8;
    case DType::kInt32: return memory::data_type::s32;
    default: return memory::data_type::f32;
  }
}

const Tensor* scalar_constant(const std::vector<KernelInput>& inputs, size_t i) {
  return i < inputs.size() && inputs[i].constant && inputs[i].constant->numel() == 1 ? inputs[i].constant : nullptr;
}

memory zero_point_memory(int32_t z) {
  memory m(memory::desc({1}, memory::data_type::s32, memory::format_tag::x), cpu_engine());
  std::memcpy(m.get_data_handle(), &z, sizeof z);
  return m;
}

Shape desc_shape(const memory::desc& desc) {
  memory::dims d = desc.dims();
  return Shape(d.begin(), d.end());
}

bool activation_steps(const std::string& op, float alpha, float beta, bool has_alpha, bool has_beta,
                      std::vector<EltwiseStep>* steps) {
  using A = dnnl::algorithm;
  steps->clear();
  if (op == "Relu")
    steps->push_back({A::eltwise_relu, 0.f, 0.f});
  else if (op == "LeakyRelu")
    steps->push_back({A::eltwise_relu, has_alpha ? alpha : 0.01f, 0.f});
  else if (op == "Sigmoid")
    steps->push_back({A::eltwise_logistic, 0.f, 0.f});
  else if (op == "Tanh")
    steps->push_back({A::eltwise_tanh, 0.f, 0.f});
  else if (op == "Elu")
    steps->push_back({A::eltwise_elu, has_alpha ? alpha : 1.f, 0.f});
  else if (op == "Clip") {
    // Clip bounds: alpha = min, beta = max (absent: unbounded on that side).
    const float lo = has_alpha ? alpha : -std::numeric_limits<float>::max();
    const float hi = has_beta ? beta : std::numeric_limits<float>::max();
    if (lo > hi) return false;  // ONNX gives max everywhere then; leave that corner to the reference
    steps->push_back({A::eltwise_clip, lo, hi});
  } else if (op == "HardSigmoid") {
    steps->push_back({A::eltwise_linear, has_alpha ? alpha : 0.2f, has_beta ? beta : 0.5f});
    steps->push_back({A::eltwise_clip, 0.f, 1.f});
  } else if (op == "HardSwish") {
    // oneDNN 2.6's hardswish is fixed at x * clip(x / 6 + 0.5, 0, 1) (ONNX's); other slopes stay on the reference.
    if ((has_alpha && alpha != 1.0f / 6) || (has_beta && beta != 0.5f)) return false;
    steps->push_back({A::eltwise_hardswish, 0.f, 0.f});
  } else if (op == "Swish") {
    steps->push_back({A::eltwise_swish, 1.f, 0.f});  // x * sigmoid(1 * x)
  } else
    return false;
  return true;
}

memory padded_conv_bias(const std::vector<KernelInput>& inputs, int64_t channels, int64_t padded) {
  memory bias(memory::desc({padded}, memory::data_type::f32, memory::format_tag::a), cpu_engine());
  float* p = static_cast<float*>(bias.get_data_handle());
  std::memset(p, 0, size_t(padded) * sizeof(float));
  if (inputs.size() > 2 && inputs[2].desc.data.ndims != 0)
    std::memcpy(p, inputs[2].constant->raw(), size_t(channels) * sizeof(float));
  return bias;
}

memory::format_tag own_blocked_tag() {
  return simd::vector_width() == 16 ? memory::format_tag::nChw16c : memory::format_tag::nChw8c;
}

void set_blocked_conv_layouts(Kernel& k, const std::vector<KernelInput>& inputs, const Shape& out_shape,
                              bool residual, ResidualInDst* residual_in_dst) {
  const memory::desc out_md({out_shape.begin(), out_shape.end()}, memory::data_type::f32, own_blocked_tag());
  k.input_descs.assign(inputs.size(), memory::desc());
  k.input_descs[0] = inputs[0].desc;
  if (residual) residual_in_dst->prepare(k, 3, inputs[3].desc, out_md);
  k.output_descs = {out_md};
}

void ResidualInDst::prepare(Kernel& k, int input, const memory::desc& from, const memory::desc& dst_view) {
  index = input;
  in_dst = dst_view;
  copy = dnnl::reorder(dnnl::reorder::primitive_desc(cpu_engine(), from, cpu_engine(), dst_view));
  k.input_descs[size_t(input)] = from;
  k.in_place_input = input;
  k.in_place_desc = dst_view;
}

void ResidualInDst::apply(dnnl::stream& stream, const std::vector<memory>& inputs, const memory& dst) const {
  if (index < 0 || inputs[size_t(index)].get_data_handle() == dst.get_data_handle()) return;  // none, or in place
  memory source = inputs[size_t(index)], target(in_dst, cpu_engine(), dst.get_data_handle());
  copy.execute(stream, source, target);
}

std::unique_ptr<Kernel> create_kernel(const Node& node, int opset, const std::vector<KernelInput>& inputs,
                                      const std::vector<Shape>& output_shapes) {
  if (!node.domain.empty()) return nullptr;
  // Integer activations go only to the kernels written for them (float kernels assume f32).
  const std::string& op = node.op_type;
  const bool integer_aware = op == "QLinearConv" || op == "QLinearMatMul" || op == "DequantizeLinear" ||
                             op == "MaxPool" ||
                             op == "GlobalMaxPool" || op == "Gather" || op == "QLinearAdd" || op == "QLinearMul" ||
                             op == "QLinearGlobalAveragePool" || op == "DepthToSpace" || op == "MatMulIntegerToFloat" ||
                             op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze" ||
                             op == "Resize" || op == "Upsample" || op == "Concat";
  for (auto& in : inputs)
    if (in.desc.data.ndims != 0 && !in.constant && in.desc.data_type() != memory::data_type::f32 && !integer_aware)
      return nullptr;
  for (auto& s : output_shapes)
    for (int64_t d : s)
      if (d <= 0) return nullptr;  // empty tensors: nothing to gain, leave them to the reference
  try {
    if (op == "QLinearConv") return create_qconv_kernel(node, opset, inputs, output_shapes);
    if (op == "QLinearMatMul") return create_qmatmul_kernel(node, opset, inputs, output_shapes);
    if (op == "QuantizeLinear" || op == "DequantizeLinear")
      return create_quantize_kernel(node, opset, inputs, output_shapes);
    if (op == "Gather") return create_lookup_kernel(node, opset, inputs, output_shapes);
    if (op == "QLinearAdd" || op == "QLinearMul") return create_qlinear_binary_kernel(node, opset, inputs, output_shapes);
    if (op == "MatMulIntegerToFloat") return create_matmul_integer_to_float_kernel(inputs, output_shapes);
    if (op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze")
      return create_reshape_kernel(inputs, output_shapes);
    if (op == "DepthToSpace") return create_depth_to_space_kernel(node, inputs, output_shapes);
    if (op == "QLinearGlobalAveragePool") return create_qlinear_global_average_kernel(node, inputs, output_shapes);
    if (op == "Conv") return create_conv_kernel(node, opset, inputs, output_shapes);
    if (op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool" || op == "GlobalMaxPool")
      return create_pool_kernel(node, opset, inputs, output_shapes);
    if (op == "Add" || op == "Mul" || op == "Sub" || op == "Div" || op == "Max" || op == "Min")
      return create_binary_kernel(node, opset, inputs, output_shapes);
    if (op == "Softmax") return create_softmax_kernel(node, opset, inputs, output_shapes);
    if (op == "Gemm") return create_gemm_kernel(node, opset, inputs, output_shapes);
    if (op == "MatMul") return create_matmul_kernel(node, opset, inputs, output_shapes);
    if (op == "ConvTranspose") return create_conv_transpose_kernel(node, opset, inputs, output_shapes);
    if (op == "Resize" || op == "Upsample") return create_resize_kernel(node, opset, inputs, output_shapes);
    if (op == "Concat") return create_concat_kernel(node, opset, inputs, output_shapes);
    if (op == "LayerNormalization" || op == "InstanceNormalization")
      return create_norm_kernel(node, opset, inputs, output_shapes);
    return create_eltwise_kernel(node, opset, inputs, output_shapes);
  } catch (const dnnl::error&) {
    return nullptr;  // oneDNN has no implementation for this combination
  }
}

}  // namespace lowbit::onednn
