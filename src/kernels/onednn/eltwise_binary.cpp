// oneDNN kernels for elementwise activations, broadcasting binary ops and Softmax.
#include <cstring>

#include "kernels/onednn/onednn_kernel.h"

namespace lowbit::onednn {
namespace {

using dnnl::algorithm;
using dnnl::prop_kind;

// A chain of eltwise primitives applied in place after the first (HardSigmoid = linear then clip).
class EltwiseKernel : public Kernel {
 public:
  void execute(dnnl::stream& stream, const std::vector<memory>& inputs, const std::vector<memory>& outputs) override {
    for (size_t i = 0; i < prims_.size(); ++i) {
      const memory& src = i == 0 ? inputs[0] : outputs[0];
      prims_[i].execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, outputs[0]}});
    }
  }
  std::vector<dnnl::eltwise_forward> prims_;
};

// Reads a scalar constant input (Clip's min/max from opset 11); false when absent-but-dynamic.
bool constant_scalar(const std::vector<KernelInput>& inputs, size_t i, bool* present, float* value) {
  *present = false;
  if (i >= inputs.size() || inputs[i].desc.data.ndims == 0) return true;
  if (!inputs[i].constant || inputs[i].constant->numel() != 1 || inputs[i].constant->dtype() != DType::kFloat32)
    return false;
  *present = true;
  *value = inputs[i].constant->data<float>()[0];
  return true;
}

}  // namespace

std::unique_ptr<Kernel> create_eltwise_kernel(const Node& node, int opset, const std::vector<KernelInput>& inputs,
                                              const std::vector<Shape>& output_shapes) {
  const std::string& op = node.op_type;
  if (inputs.empty() || inputs[0].constant || inputs[0].desc.data.ndims == 0 || output_shapes.size() != 1)
    return nullptr;
  float alpha = 0, beta = 0;
  bool has_alpha = false, has_beta = false;
  if (op == "Clip") {
    if (opset >= 11) {
      if (!constant_scalar(inputs, 1, &has_alpha, &alpha) || !constant_scalar(inputs, 2, &has_beta, &beta))
        return nullptr;
    } else {
      has_alpha = node.has_attr("min");
      has_beta = node.has_attr("max");
      alpha = node.attr_float("min", 0);
      beta = node.attr_float("max", 0);
    }
  } else {
    if (inputs.size() != 1) return nullptr;
    has_alpha = node.has_attr("alpha");
    has_beta = node.has_attr("beta");
    alpha = node.attr_float("alpha", 0);
    beta = node.attr_float("beta", 0);
  }
  std::vector<EltwiseStep> steps;
  if (!activation_steps(op, alpha, beta, has_alpha, has_beta, &steps)) return nullptr;
  auto k = std::make_unique<EltwiseKernel>();
  const memory::desc& md = inputs[0].desc;
  for (auto& s : steps) {
    dnnl::eltwise_forward::desc d(prop_kind::forward_inference, s.algorithm, md, s.alpha, s.beta);
    k->prims_.emplace_back(dnnl::eltwise_forward::primitive_desc(d, cpu_engine()));
  }
  k->input_descs.assign(inputs.size(), memory::desc());
  k->input_descs[0] = md;
  k->output_descs = {md};
  return k;
}

namespace {

class BinaryKernel : public Kernel {
 public:
  void execute(dnnl::stream& stream, const std::vector<memory>& inputs, const std::vector<memory>& outputs) override {
    const memory& a = constant_[0] ? constant_[0] : inputs[index_[0]];
    const memory& b = constant_[1] ? constant_[1] : inputs[index_[1]];
    // The runtime inputs were built for their natural dims; reinterpret plain ones as the rank-padded desc.
    memory a_view = a.get_desc() == src_[0] ? a : memory(src_[0], cpu_engine(), a.get_data_handle());
    memory b_view = b.get_desc() == src_[1] ? b : memory(src_[1], cpu_engine(), b.get_data_handle());
    prim_.execute(stream, {{DNNL_ARG_SRC_0, a_view}, {DNNL_ARG_SRC_1, b_view}, {DNNL_ARG_DST, outputs[0]}});
  }
  dnnl::binary prim_;
  memory::desc src_[2];
  memory constant_[2];
  int index_[2] = {0, 1};
};

// x + c, x * c, x - c and c - x for a scalar constant c: one eltwise linear primitive (alpha * x + beta). oneDNN
// 2.6's AVX2 binary kernels do not take a blocked src0 with a broadcast scalar and fall back to its reference
// implementation (a 1x32x320x320 Add took 220 ms on an AMD Zen 3); eltwise is jitted in every layout.
class ScalarLinearKernel : public Kernel {
 public:
  void execute(dnnl::stream& stream, const std::vector<memory>& inputs, const std::vector<memory>& outputs) override {
    prim_.execute(stream, {{DNNL_ARG_SRC, inputs[index_]}, {DNNL_ARG_DST, outputs[0]}});
  }
  dnnl::eltwise_forward prim_;
  int index_ = 0;
};

std::unique_ptr<Kernel> scalar_linear_kernel(const std::string& op, const std::vector<KernelInput>& inputs,
                                             const Shape& out) {
  const int c = inputs[0].constant ? 0 : 1, x = 1 - c;
  const Tensor* k = inputs[c].constant;
  if (k == nullptr || inputs[x].constant || k->numel() != 1 || k->dtype() != DType::kFloat32) return nullptr;
  if (desc_shape(inputs[x].desc) != out || inputs[x].desc.data.data_type != memory::data_type::f32) return nullptr;
  const float v = k->data<float>()[0];
  float alpha, beta;
  if (op == "Add") alpha = 1, beta = v;
  else if (op == "Mul") alpha = v, beta = 0;
  else if (op == "Sub") alpha = x == 0 ? 1.f : -1.f, beta = x == 0 ? -v : v;
  else return nullptr;  // Div: x * (1 / c) would round differently from x / c
  auto kernel = std::make_unique<ScalarLinearKernel>();
  kernel->index_ = x;
  const memory::desc& md = inputs[x].desc;
  dnnl::eltwise_forward::desc d(prop_kind::forward_inference, algorithm::eltwise_linear, md, alpha, beta);
  kernel->prim_ = dnnl::eltwise_forward(dnnl::eltwise_forward::primitive_desc(d, cpu_engine()));
  kernel->input_descs.assign(2, memory::desc());
  kernel->input_descs[x] = md;
  kernel->output_descs = {md};
  return kernel;
}

}  // namespace

std::unique_ptr<Kernel> create_binary_kernel(const Node& node, int opset, const std::vector<KernelInput>& inputs,
                                             const std::vector<Shape>& output_shapes) {
  const std::string& op = node.op_type;
  if (inputs.size() != 2 || output_shapes.size() != 1) return nullptr;
  if (inputs[0].constant && inputs[1].constant) return nullptr;  // folded elsewhere; nothing to gain
  if (opset < 7) return nullptr;                                 // legacy axis/broadcast attributes
  const Shape& out = output_shapes[0];
  if (auto linear = scalar_linear_kernel(op, inputs, out)) return linear;
  // Left-pads a shape with 1s to the output rank (numpy broadcasting); only plain layouts can be reshaped.
  auto padded_desc = [&](const KernelInput& in) -> memory::desc {
    Shape s = desc_shape(in.desc);
    if (in.desc.data.ndims == 0) return memory::desc();
    if (s.size() == out.size() && (in.constant == nullptr || s == in.constant->shape())) return in.desc;
    Shape logical = in.constant ? in.constant->shape() : s;
    if (!in.constant && !is_plain(in.desc)) return memory::desc();
    if (logical.size() > out.size()) return memory::desc();
    Shape p(out.size() - logical.size(), 1);
    p.insert(p.end(), logical.begin(), logical.end());
    return plain_desc(p);
  };
  int order[2] = {0, 1};
  memory::desc d0 = padded_desc(inputs[0]), d1 = padded_desc(inputs[1]);
  if (d0.data.ndims == 0 || d1.data.ndims == 0) return nullptr;
  const bool commutative = op == "Add" || op == "Mul" || op == "Max" || op == "Min";
  if (desc_shape(d0) != out) {
    if (!commutative || desc_shape(d1) != out) return nullptr;  // oneDNN broadcasts src1 only
    std::swap(d0, d1);
    std::swap(order[0], order[1]);
  }
  algorithm alg = op == "Add"   ? algorithm::binary_add
                  : op == "Mul" ? algorithm::binary_mul
                  : op == "Sub" ? algorithm::binary_sub
                  : op == "Div" ? algorithm::binary_div
                  : op == "Max" ? algorithm::binary_max
                                : algorithm::binary_min;
  auto k = std::make_unique<BinaryKernel>();
  // The output takes src0's layout (blocked stays blocked); oneDNN broadcasts src1's dims of 1.
  dnnl::binary::desc d(alg, d0, d1, d0);
  k->prim_ = dnnl::binary(dnnl::binary::primitive_desc(d, cpu_engine()));
  k->src_[0] = d0;
  k->src_[1] = d1;
  k->input_descs.assign(2, memory::desc());
  for (int slot = 0; slot < 2; ++slot) {
    const KernelInput& in = inputs[order[slot]];
    k->index_[slot] = order[slot];
    if (in.constant) {
      k->constant_[slot] = memory(k->src_[slot], cpu_engine());
      std::memcpy(k->constant_[slot].get_data_handle(), in.constant->raw(), in.constant->nbytes());
    } else {
      k->input_descs[order[slot]] = in.desc;
    }
  }
  k->output_descs = {d0};
  return k;
}

namespace {
class SoftmaxKernel : public Kernel {
 public:
  void execute(dnnl::stream& stream, const std::vector<memory>& inputs, const std::vector<memory>& outputs) override {
    prim_.execute(stream, {{DNNL_ARG_SRC, inputs[0]}, {DNNL_ARG_DST, outputs[0]}});
  }
  dnnl::softmax_forward prim_;
};
}  // namespace

std::unique_ptr<Kernel> create_softmax_kernel(const Node& node, int opset, const std::vector<KernelInput>& inputs,
                                              const std::vector<Shape>& output_shapes) {
  if (inputs.size() != 1 || inputs[0].constant || output_shapes.size() != 1) return nullptr;
  const memory::desc& md = inputs[0].desc;
  const int rank = md.data.ndims;
  int64_t axis = node.attr_int("axis", opset >= 13 ? -1 : 1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return nullptr;
  // Before opset 13 Softmax flattens to 2-D at `axis`: the same as a single-axis softmax only on the last axis.
  if (opset < 13 && axis != rank - 1) return nullptr;
  auto k = std::make_unique<SoftmaxKernel>();
  dnnl::softmax_forward::desc d(prop_kind::forward_inference, md, int(axis));
  k->prim_ = dnnl::softmax_forward(dnnl::softmax_forward::primitive_desc(d, cpu_engine()));
  k->input_descs = {md};
  k->output_descs = {md};
  return k;
}

}  // namespace lowbit::onednn
