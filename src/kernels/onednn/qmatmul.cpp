// oneDNN int8 matmul for QLinearMatMul with constant int8 B (weights packed once; split in halves without VNNI,
// int8_pairs.h): u8/s8 A x s8 B, output
// scales a_scale * b_scale[n] / y_scale (per column), runtime zero points on A and Y. Per-row A/Y parameters,
// uint8 or non-zero-point B and runtime B stay on the reference kernel. Matches it to within 1 LSB (a scale
// product rounds differently at a tie); rows of A and Y are plain (these ops take and give matrices).
#include <cstring>

#include "kernels/onednn/int8_pairs.h"
#include "kernels/onednn/onednn_kernel.h"

namespace lowbit::onednn {
namespace {

using dt = memory::data_type;

class QMatMulKernel : public Kernel {
 public:
  void execute(dnnl::stream& stream, const std::vector<memory>& inputs, const std::vector<memory>& outputs) override {
    const memory& a = inputs[0];
    memory src = doubled_ ? memory(src_md_, cpu_engine(),
                                   doubled_.apply(stream, memory(plain_a_, cpu_engine(), a.get_data_handle()), pool)
                                       .get_data_handle())
                 : a.get_desc() == src_md_ ? a
                                           : memory(src_md_, cpu_engine(), a.get_data_handle());
    std::unordered_map<int, memory> args = {
        {DNNL_ARG_SRC, src},
        {DNNL_ARG_WEIGHTS, weights_},
        {DNNL_ARG_DST, outputs[0]}};
    if (src_zp_) args[DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC] = src_zp_;
    if (dst_zp_) args[DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST] = dst_zp_;
    if (bias_) args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1] = bias_;
    prim_.execute(stream, args);
  }
  dnnl::matmul prim_;
  memory::desc src_md_, plain_a_;
  SourceCopy doubled_;  // split weights (int8_pairs.h): A twice along K, as u8
  memory weights_, src_zp_, dst_zp_, bias_;  // bias_: MatMulIntegerToFloat's, a binary post-op operand
};

// B (a constant K x N int8 matrix, as rank-`rank` dims 1 x ... x K x N; 2K x N of halves when split) into the
// primitive's format, once.
memory pack_weights(const dnnl::matmul::primitive_desc& pd, const Tensor& b, const memory::dims& w_dims, bool split) {
  const dnnl::engine& eng = cpu_engine();
  dnnl::stream stream(eng);
  std::vector<int8_t> halves;
  if (split) halves = split_weights(b.data<int8_t>(), 1, b.shape()[0], b.shape()[1]);
  memory user_w(plain_desc(Shape(w_dims.begin(), w_dims.end()), dt::s8), eng,
                split ? halves.data() : const_cast<void*>(b.raw()));
  memory packed(pd.weights_desc(), eng);
  dnnl::reorder(user_w, packed).execute(stream, user_w, packed);
  stream.wait();
  return packed;
}

memory::dims weight_dims(int rank, const Shape& bs, bool split) {
  memory::dims w_dims(size_t(rank), 1);
  w_dims[size_t(rank) - 2] = bs[0] * (split ? 2 : 1);
  w_dims[size_t(rank) - 1] = bs[1];
  return w_dims;
}

// The primitive's A: plain, with K doubled when the weights are split (then A is copied in twice per run, as u8).
memory::desc matmul_src(Shape as, memory::data_type type, bool split) {
  if (split) as.back() *= 2;
  return plain_desc(as, split ? dt::u8 : type);
}

// What reading A as u8 (split weights, s8 A shifted by 128) adds to its zero point.
int32_t shifted_zero(bool split, const KernelInput& a) { return split && a.desc.data_type() == dt::s8 ? 128 : 0; }

void finish_kernel(QMatMulKernel& k, const dnnl::matmul::primitive_desc& pd, const KernelInput& a, const Shape& as,
                   const Tensor& b, const memory::dims& w_dims, bool split, size_t input_count) {
  k.prim_ = dnnl::matmul(pd);
  k.src_md_ = pd.src_desc();
  k.weights_ = pack_weights(pd, b, w_dims, split);
  if (split) {
    k.plain_a_ = plain_desc(as, a.desc.data_type());
    k.doubled_.prepare(k.plain_a_, k.plain_a_, 2, a.desc.data_type() == dt::s8);
  }
  k.input_descs.assign(input_count, memory::desc());
  k.input_descs[0] = a.desc;
  k.output_descs = {pd.dst_desc()};
}

}  // namespace

std::unique_ptr<Kernel> create_qmatmul_kernel(const Node& node, int opset, const std::vector<KernelInput>& inputs,
                                              const std::vector<Shape>& output_shapes) {
  (void)node;
  (void)opset;
  if (inputs.size() != 8 || output_shapes.size() != 1) return nullptr;
  const KernelInput& a = inputs[0];
  const Tensor* b = inputs[3].constant;
  const Tensor *sa = scalar_constant(inputs, 1), *za = scalar_constant(inputs, 2), *sy = scalar_constant(inputs, 6),
               *zy = scalar_constant(inputs, 7);
  const Tensor* sb = inputs[4].constant;
  if (a.constant || a.desc.data.ndims == 0 || !b || b->dtype() != DType::kInt8 || !sa || !za || !sy || !zy || !sb)
    return nullptr;
  if (a.desc.data_type() != dt::s8 && a.desc.data_type() != dt::u8) return nullptr;
  if (!is_plain(a.desc)) return nullptr;
  if (const Tensor* zb = inputs[5].constant) {
    for (int64_t i = 0; i < zb->numel(); ++i)
      if (zb->get_as_int64(i) != 0) return nullptr;
  } else if (inputs[5].desc.data.ndims != 0) {
    return nullptr;
  }
  const Shape as = desc_shape(a.desc), bs = b->shape(), ys = output_shapes[0];
  if (as.size() < 2 || bs.size() != 2 || ys.size() != as.size()) return nullptr;  // one weight matrix, batched A
  const int64_t n = bs[1];
  if (sb->numel() != 1 && sb->numel() != n) return nullptr;
  std::vector<float> scales(size_t(sb->numel()));
  const float a_scale = sa->data<float>()[0], y_scale = sy->data<float>()[0];
  for (int64_t j = 0; j < sb->numel(); ++j) scales[size_t(j)] = a_scale * sb->data<float>()[j] / y_scale;

  dnnl::primitive_attr attr;
  const int rank = int(as.size());
  attr.set_output_scales(scales.size() == 1 ? 0 : 1 << (rank - 1), scales);
  const bool split = needs_weight_split(b->data<int8_t>(), b->numel());
  const int32_t a_zero = int32_t(za->get_as_int64(0)) + shifted_zero(split, a), y_zero = int32_t(zy->get_as_int64(0));
  if (a_zero != 0) attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
  if (y_zero != 0) attr.set_zero_points(DNNL_ARG_DST, 0, {DNNL_RUNTIME_S32_VAL});
  const memory::dims w_dims = weight_dims(rank, bs, split);
  const dt y_dt = zy->dtype() == DType::kInt8 ? dt::s8 : dt::u8;
  const memory::desc w_any(w_dims, dt::s8, memory::format_tag::any);
  const memory::desc dst_md = plain_desc(ys, y_dt);
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(matmul_src(as, a.desc.data_type(), split), w_any, dst_md), attr,
                                  cpu_engine());
  auto k = std::make_unique<QMatMulKernel>();
  finish_kernel(*k, pd, a, as, *b, w_dims, split, inputs.size());
  if (a_zero != 0) k->src_zp_ = zero_point_memory(a_zero);
  if (y_zero != 0) k->dst_zp_ = zero_point_memory(y_zero);
  return k;
}

// MatMulIntegerToFloat with constant int8 B (zero point 0): the same int8 matmul with a float output, output
// scales a_scale * b_scale[n] and the bias as a binary add post-op (after the scaling, as the reference adds it).
std::unique_ptr<Kernel> create_matmul_integer_to_float_kernel(const std::vector<KernelInput>& inputs,
                                                              const std::vector<Shape>& output_shapes) {
  if (inputs.size() < 4 || output_shapes.size() != 1) return nullptr;
  const KernelInput& a = inputs[0];
  const Tensor* b = inputs[1].constant;
  const Tensor *sa = scalar_constant(inputs, 2), *sb = inputs[3].constant;
  if (a.constant || a.desc.data.ndims == 0 || !b || b->dtype() != DType::kInt8 || !sa || !sb) return nullptr;
  if (a.desc.data_type() != dt::s8 && a.desc.data_type() != dt::u8) return nullptr;
  if (!is_plain(a.desc)) return nullptr;
  if (inputs.size() > 4 && inputs[4].desc.data.ndims != 0 && !scalar_constant(inputs, 4)) return nullptr;
  if (inputs.size() > 5 && inputs[5].desc.data.ndims != 0) {
    const Tensor* zb = inputs[5].constant;
    if (!zb) return nullptr;
    for (int64_t i = 0; i < zb->numel(); ++i)
      if (zb->get_as_int64(i) != 0) return nullptr;
  }
  const Tensor* bias = inputs.size() > 6 && inputs[6].desc.data.ndims != 0 ? inputs[6].constant : nullptr;
  if (inputs.size() > 6 && inputs[6].desc.data.ndims != 0 && !bias) return nullptr;
  const Shape as = desc_shape(a.desc), bs = b->shape(), ys = output_shapes[0];
  if (as.size() < 2 || bs.size() != 2 || ys.size() != as.size()) return nullptr;
  const int64_t n = bs[1];
  if (sb->numel() != 1 && sb->numel() != n) return nullptr;
  if (bias && bias->numel() != n) return nullptr;
  std::vector<float> scales(size_t(sb->numel()));
  for (int64_t j = 0; j < sb->numel(); ++j) scales[size_t(j)] = sa->data<float>()[0] * sb->data<float>()[j];
  const int rank = int(as.size());
  dnnl::primitive_attr attr;
  attr.set_output_scales(scales.size() == 1 ? 0 : 1 << (rank - 1), scales);
  const Tensor* za = inputs.size() > 4 ? scalar_constant(inputs, 4) : nullptr;
  const bool split = needs_weight_split(b->data<int8_t>(), b->numel());
  const int32_t a_zero = (za ? int32_t(za->get_as_int64(0)) : 0) + shifted_zero(split, a);
  if (a_zero != 0) attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
  memory::dims bias_dims(size_t(rank), 1);
  bias_dims.back() = n;
  const memory::desc bias_plain = plain_desc(Shape(bias_dims.begin(), bias_dims.end()));
  if (bias) {
    dnnl::post_ops ops;
    ops.append_binary(dnnl::algorithm::binary_add, bias_plain);
    attr.set_post_ops(ops);
  }
  const memory::dims w_dims = weight_dims(rank, bs, split);
  const memory::desc w_any(w_dims, dt::s8, memory::format_tag::any);
  dnnl::matmul::primitive_desc pd(
      dnnl::matmul::desc(matmul_src(as, a.desc.data_type(), split), w_any, plain_desc(ys)), attr, cpu_engine());
  auto k = std::make_unique<QMatMulKernel>();
  finish_kernel(*k, pd, a, as, *b, w_dims, split, inputs.size());
  if (a_zero != 0) k->src_zp_ = zero_point_memory(a_zero);
  if (bias) {
    k->bias_ = memory(bias_plain, cpu_engine());
    std::memcpy(k->bias_.get_data_handle(), bias->raw(), size_t(n) * sizeof(float));
  }
  return k;
}

}  // namespace lowbit::onednn
