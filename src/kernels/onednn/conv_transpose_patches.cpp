// ConvTranspose whose stride equals its kernel, with no padding, dilation or groups: the upsampling layers of
// segmentation and detection heads (PaddleOCR's DB head, U-Nets). Each input pixel writes its own kh x kw output
// patch, so each kernel row ky is one matmul whose rows land in place in the nhwc output:
//   out[n, y*kh + ky, x*kw + kx, o] = bias[o] + sum_c in[n, y, x, c] * W[c, o, ky, kx]
// As oneDNN matmul dims: src [N*H, W, C] (the nhwc input), weights [1, C, kw*O] (column kx*O + o), dst
// [N*H, W, kw*O] strided kh output rows apart, starting at row ky. (One 5-D matmul broadcasting src over ky falls to
// oneDNN 2.6's reference matmul, ~800 ms.) Why not oneDNN's deconvolution: version
// 2.6 applies its bias and fused activations in a slow generic loop (the detector's 24->24 2x2 layer took 60 ms
// with bias + Relu against 2 ms without); a matmul fuses both at full speed.
#include <string>

#include "kernels/onednn/onednn_kernel.h"
#include "ops/conv_params.h"
#include "ops/fused_activation.h"

namespace lowbit::onednn {
namespace {

using dt = memory::data_type;
using tag = memory::format_tag;
constexpr int64_t kMinColumns = 16;

class PatchConvTransposeKernel : public Kernel {
 public:
  void execute(dnnl::stream& stream, const std::vector<memory>& inputs, const std::vector<memory>& outputs) override {
    const memory src = src_reorder_.apply(stream, inputs[0]);
    char* dst = static_cast<char*>(outputs[0].get_data_handle());
    for (size_t ky = 0; ky < weights_.size(); ++ky) {  // output rows y*kh + ky: one matmul each
      std::unordered_map<int, memory> args = {
          {DNNL_ARG_SRC, memory(src_md_, cpu_engine(), src.get_data_handle())},
          {DNNL_ARG_WEIGHTS, weights_[ky]},
          {DNNL_ARG_DST, memory(dst_md_, cpu_engine(), dst + int64_t(ky) * row_bytes_)}};
      if (bias_) args[DNNL_ARG_BIAS] = bias_;
      prim_.execute(stream, args);
    }
  }
  dnnl::matmul prim_;
  InputReorder src_reorder_;
  memory bias_;
  std::vector<memory> weights_;   // per ky: C x (kw * O)
  memory::desc src_md_, dst_md_;  // the 3-D matmul views of the nhwc input and of output rows y*kh + ky
  int64_t row_bytes_ = 0;         // one output row (W*kw x O floats)
};

}  // namespace

std::unique_ptr<Kernel> create_patch_conv_transpose_kernel(const Node& node, const std::vector<KernelInput>& inputs,
                                                           const std::vector<Shape>& output_shapes,
                                                           const std::vector<EltwiseStep>& steps) {
  const KernelInput &x = inputs[0], &w = inputs[1];
  const Shape in = desc_shape(x.desc), ws = w.constant->shape();
  if (in.size() != 4 || ws.size() != 4 || output_shapes.size() != 1) return nullptr;
  auto attrs = parse_conv_attrs(node, 2, Shape(ws.begin() + 2, ws.end()), true);
  if (!attrs.ok() || attrs->group != 1) return nullptr;
  const int64_t n = in[0], c = in[1], h = in[2], wd = in[3], o = ws[1], kh = ws[2], kw = ws[3];
  if (ws[0] != c || output_shapes[0] != Shape{n, o, h * kh, wd * kw}) return nullptr;
  for (size_t i = 0; i < 2; ++i) {
    auto axis = conv_transpose_axis(*attrs, i, in[i + 2]);
    if (!axis.ok() || attrs->strides[i] != ws[i + 2] || attrs->dilations[i] != 1 || axis->pad_begin != 0 ||
        axis->pad_end != 0)
      return nullptr;
  }
  const bool has_bias = inputs.size() > 2 && inputs[2].constant;
  const int64_t cols = kw * o, wout = wd * kw;
  // A matmul a few columns wide (the detector's final 24 -> 1 layer) runs slower than the deconvolution.
  if (cols < kMinColumns) return nullptr;
  const memory::desc nhwc_in(memory::dims{n, c, h, wd}, dt::f32, tag::acdb);
  const memory::desc nhwc_out(memory::dims{n, o, h * kh, wout}, dt::f32, tag::acdb);
  auto k = std::make_unique<PatchConvTransposeKernel>();
  // Batch N*H (input rows), M = W, K = C, N = kw*O; dst rows of one ky sit kh output rows apart.
  k->src_md_ = memory::desc({n * h, wd, c}, dt::f32, tag::abc);
  k->dst_md_ = memory::desc({n * h, wd, cols}, dt::f32, memory::dims{kh * wout * o, cols, 1});
  k->row_bytes_ = wout * o * int64_t(sizeof(float));
  const memory::desc w_any({1, c, cols}, dt::f32, tag::any), bias_md({1, 1, cols}, dt::f32, tag::abc);
  dnnl::post_ops ops;
  for (auto& s : steps) ops.append_eltwise(1.f, s.algorithm, s.alpha, s.beta);
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  auto desc = has_bias ? dnnl::matmul::desc(k->src_md_, w_any, bias_md, k->dst_md_)
                       : dnnl::matmul::desc(k->src_md_, w_any, k->dst_md_);
  dnnl::matmul::primitive_desc pd(desc, attr, cpu_engine());
  if (std::string(pd.impl_info_str()).find("ref") != std::string::npos) return nullptr;  // slower than deconvolution
  k->prim_ = dnnl::matmul(pd);
  // Weights of row ky: [c][kx * O + o] = W[c, o, ky, kx], then into the primitive's format; the bias repeats per kx.
  dnnl::stream stream(cpu_engine());
  const float* src_w = w.constant->data<float>();
  for (int64_t ky = 0; ky < kh; ++ky) {
    memory user_w(memory::desc({1, c, cols}, dt::f32, tag::abc), cpu_engine());
    float* wp = static_cast<float*>(user_w.get_data_handle());
    for (int64_t ci = 0; ci < c; ++ci)
      for (int64_t kx = 0; kx < kw; ++kx)
        for (int64_t oi = 0; oi < o; ++oi) wp[(ci * kw + kx) * o + oi] = src_w[((ci * o + oi) * kh + ky) * kw + kx];
    k->weights_.emplace_back(pd.weights_desc(), cpu_engine());
    dnnl::reorder(user_w, k->weights_.back()).execute(stream, user_w, k->weights_.back());
  }
  stream.wait();
  if (has_bias) {
    k->bias_ = memory(bias_md, cpu_engine());
    float* bp = static_cast<float*>(k->bias_.get_data_handle());
    const float* b = inputs[2].constant->data<float>();
    for (int64_t kx = 0; kx < kw; ++kx)
      for (int64_t oi = 0; oi < o; ++oi) bp[kx * o + oi] = b[oi];
  }
  k->src_reorder_.prepare(x.desc, nhwc_in);
  k->input_descs.assign(inputs.size(), memory::desc());
  k->input_descs[0] = x.desc;
  k->output_descs = {nhwc_out};
  return k;
}

}  // namespace lowbit::onednn
