// oneDNN Gemm and MatMul on the matmul primitive. Constant weights are packed once at build time into the
// primitive's preferred format (with Gemm's alpha folded in); transA/transB are strided views, Gemm's C is
// a broadcast bias (constant: pre-scaled by beta) or a binary-add post-op (runtime, beta = 1), and the
// activation the graph passes fused into Gemm becomes an eltwise post-op. Activations stay plain row-major:
// these ops take and give 2-D (or batched) matrices, whose consumers are mostly reference ops.
#include <cstring>

#include "kernels/onednn/onednn_kernel.h"
#include "ops/fused_activation.h"

namespace lowbit::onednn {
namespace {

using dt = memory::data_type;

class MatMulKernel : public Kernel {
 public:
  void execute(dnnl::stream& stream, const std::vector<memory>& inputs, const std::vector<memory>& outputs) override {
    // Runtime inputs arrive with their natural plain descs; view them with the (transposed / rank-padded) descs
    // the primitive was built for. Same bytes, so only the handle is reused.
    auto view = [&](int index, const memory::desc& md) {
      const memory& m = inputs[size_t(index)];
      return m.get_desc() == md ? m : memory(md, cpu_engine(), m.get_data_handle());
    };
    std::unordered_map<int, memory> args;
    args[DNNL_ARG_SRC] = view(0, src_md_);
    args[DNNL_ARG_WEIGHTS] = weights_ ? weights_ : view(1, weights_md_);
    if (bias_) args[DNNL_ARG_BIAS] = bias_;
    if (c_index_ >= 0) args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1] = view(c_index_, c_md_);
    args[DNNL_ARG_DST] = outputs[0];
    prim_.execute(stream, args);
  }

  dnnl::matmul prim_;
  memory::desc src_md_, weights_md_, c_md_;
  memory weights_, bias_;  // packed constants (null when runtime)
  int c_index_ = -1;       // runtime C as a post-op operand
};

// Row-major desc of `dims` whose last two axes are read transposed (a strided view of the stored matrix).
memory::desc transposed_desc(memory::dims dims) {
  const size_t r = dims.size();
  memory::dims strides(r);
  const memory::dim rows = dims[r - 2], cols = dims[r - 1];
  strides[r - 2] = 1;     // stored as cols x rows: consecutive rows of the view are adjacent
  strides[r - 1] = rows;  // and consecutive columns one stored row apart
  memory::dim step = rows * cols;
  for (size_t i = r - 2; i-- > 0;) {
    strides[i] = step;
    step *= dims[i];
  }
  return memory::desc(dims, dt::f32, strides);
}

// Left-pads `s` with 1s to `rank`.
memory::dims padded(const Shape& s, size_t rank) {
  memory::dims d(rank - s.size(), 1);
  d.insert(d.end(), s.begin(), s.end());
  return d;
}

// A runtime operand must arrive plain (the plan retries with plain copies when it does not).
bool runtime_plain(const KernelInput& in) { return !in.constant && in.desc.data.ndims != 0 && is_plain(in.desc); }

// Builds the primitive and packs constant weights. `w_user` describes the constant's bytes as the primitive
// reads them (possibly transposed); `w_scale` is folded into the packed copy.
std::unique_ptr<Kernel> finish(std::unique_ptr<MatMulKernel> k, const memory::desc& src, const memory::desc& w_user,
                               const Tensor* w_const, float w_scale, const memory::desc& bias, const Tensor* bias_const,
                               float bias_scale, const memory::desc& dst, const dnnl::primitive_attr& attr) {
  const dnnl::engine& eng = cpu_engine();
  memory::desc w_md = w_const ? memory::desc(w_user.dims(), dt::f32, memory::format_tag::any) : w_user;
  auto d = bias.data.ndims ? dnnl::matmul::desc(src, w_md, bias, dst) : dnnl::matmul::desc(src, w_md, dst);
  dnnl::matmul::primitive_desc pd(d, attr, eng);
  if (pd.dst_desc() != dst) return nullptr;
  k->prim_ = dnnl::matmul(pd);
  k->src_md_ = src;
  k->weights_md_ = w_user;
  dnnl::stream stream(eng);
  if (w_const) {
    std::vector<float> scaled;
    const void* data = w_const->raw();
    if (w_scale != 1.f) {
      scaled.assign(w_const->data<float>(), w_const->data<float>() + w_const->numel());
      for (float& v : scaled) v *= w_scale;
      data = scaled.data();
    }
    memory user(w_user, eng, const_cast<void*>(data));
    k->weights_ = memory(pd.weights_desc(), eng);
    dnnl::reorder(user, k->weights_).execute(stream, user, k->weights_);
    stream.wait();
  }
  if (bias_const) {
    k->bias_ = memory(pd.bias_desc(), eng);
    float* out = static_cast<float*>(k->bias_.get_data_handle());
    const float* in = bias_const->data<float>();
    for (int64_t i = 0; i < bias_const->numel(); ++i) out[i] = in[i] * bias_scale;
  }
  return k;
}

}  // namespace

std::unique_ptr<Kernel> create_gemm_kernel(const Node& node, int opset, const std::vector<KernelInput>& inputs,
                                           const std::vector<Shape>& output_shapes) {
  if (inputs.size() < 2 || inputs.size() > 3 || output_shapes.size() != 1) return nullptr;
  const KernelInput &a = inputs[0], &b = inputs[1];
  if (!runtime_plain(a)) return nullptr;
  if (!b.constant && !runtime_plain(b)) return nullptr;
  if (b.constant && b.constant->dtype() != DType::kFloat32) return nullptr;
  const bool trans_a = node.attr_int("transA", 0) != 0, trans_b = node.attr_int("transB", 0) != 0;
  const float alpha = node.attr_float("alpha", 1.f), beta = node.attr_float("beta", 1.f);
  auto fused = parse_fused_activation(node);
  if (!fused.ok() || fused->residual) return nullptr;
  std::vector<EltwiseStep> steps;
  if (fused->active() &&
      !activation_steps(fused_activation_name(fused->kind), fused->alpha, fused->beta, true, true, &steps))
    return nullptr;

  const Shape& out = output_shapes[0];
  if (out.size() != 2) return nullptr;
  const memory::dim m = out[0], n = out[1];
  const Shape a_shape = desc_shape(a.desc);
  const Shape b_shape = b.constant ? b.constant->shape() : desc_shape(b.desc);
  if (a_shape.size() != 2 || b_shape.size() != 2) return nullptr;
  const memory::dim k_dim = trans_a ? a_shape[0] : a_shape[1];
  memory::desc src = trans_a ? transposed_desc({m, k_dim}) : plain_desc(a_shape);
  memory::desc w = trans_b ? transposed_desc({k_dim, n}) : plain_desc(b_shape);
  memory::desc dst = plain_desc(out);

  auto k = std::make_unique<MatMulKernel>();
  dnnl::post_ops ops;
  memory::desc bias;
  const Tensor* bias_const = nullptr;
  const bool has_c = inputs.size() == 3 && inputs[2].desc.data.ndims != 0 && beta != 0.f;
  if (has_c) {
    const KernelInput& c = inputs[2];
    const Shape c_shape = c.constant ? c.constant->shape() : desc_shape(c.desc);
    if (c_shape.size() > 2) return nullptr;
    if (c.constant) {
      if (c.constant->dtype() != DType::kFloat32) return nullptr;
      bias = memory::desc(padded(c_shape, 2), dt::f32, memory::format_tag::ab);
      bias_const = c.constant;
    } else {
      if (beta != 1.f || !runtime_plain(c)) return nullptr;
      k->c_md_ = memory::desc(padded(c_shape, 2), dt::f32, memory::format_tag::ab);
      k->c_index_ = 2;
      ops.append_binary(dnnl::algorithm::binary_add, k->c_md_);
    }
  }
  // alpha scales A*B only: fold it into constant weights; with runtime B use output scales when no bias
  // (whether oneDNN scales the bias too is an implementation detail we do not rely on).
  float w_scale = 1.f;
  dnnl::primitive_attr attr;
  if (alpha != 1.f) {
    if (b.constant)
      w_scale = alpha;
    else if (!has_c)
      attr.set_output_scales(0, {alpha});
    else
      return nullptr;
  }
  for (auto& s : steps) ops.append_eltwise(1.f, s.algorithm, s.alpha, s.beta);
  attr.set_post_ops(ops);
  auto result = finish(std::move(k), src, w, b.constant, w_scale, bias, bias_const, beta, dst, attr);
  if (!result) return nullptr;
  result->input_descs.assign(inputs.size(), memory::desc());
  result->input_descs[0] = a.desc;
  if (!b.constant) result->input_descs[1] = b.desc;
  if (has_c && !inputs[2].constant) result->input_descs[2] = inputs[2].desc;
  result->output_descs = {dst};
  return result;
}

std::unique_ptr<Kernel> create_matmul_kernel(const Node& node, int, const std::vector<KernelInput>& inputs,
                                             const std::vector<Shape>& output_shapes) {
  if (inputs.size() != 2 || output_shapes.size() != 1 || has_fused_attrs(node)) return nullptr;
  const KernelInput &a = inputs[0], &b = inputs[1];
  if (!runtime_plain(a)) return nullptr;
  if (!b.constant && !runtime_plain(b)) return nullptr;
  if (b.constant && b.constant->dtype() != DType::kFloat32) return nullptr;
  const Shape a_shape = desc_shape(a.desc);
  const Shape b_shape = b.constant ? b.constant->shape() : desc_shape(b.desc);
  const Shape& out = output_shapes[0];
  // 1-D operands (vector products) stay on the reference kernel.
  if (a_shape.size() < 2 || b_shape.size() < 2 || out.size() > size_t(DNNL_MAX_NDIMS)) return nullptr;
  const size_t rank = out.size();
  memory::dims ad = padded(a_shape, rank), bd = padded(b_shape, rank);
  auto k = std::make_unique<MatMulKernel>();
  memory::desc src = plain_desc(Shape(ad.begin(), ad.end())), w = plain_desc(Shape(bd.begin(), bd.end()));
  memory::desc dst = plain_desc(out);
  auto result =
      finish(std::move(k), src, w, b.constant, 1.f, memory::desc(), nullptr, 1.f, dst, dnnl::primitive_attr());
  if (!result) return nullptr;
  result->input_descs = {a.desc, b.constant ? memory::desc() : b.desc};
  result->output_descs = {dst};
  return result;
}

}  // namespace lowbit::onednn
