// oneDNN pooling: MaxPool (with dilations), AveragePool (count_include_pad either way), and the global
// pools as a pool whose window is the whole image. ONNX's ceil_mode becomes extra right padding.
#include "kernels/onednn/onednn_kernel.h"
#include "ops/pool_params.h"

namespace lowbit::onednn {
namespace {

class PoolKernel : public Kernel {
 public:
  void execute(dnnl::stream& stream, const std::vector<memory>& inputs, const std::vector<memory>& outputs) override {
    prim_.execute(stream, {{DNNL_ARG_SRC, inputs[0]}, {DNNL_ARG_DST, outputs[0]}});
  }
  dnnl::pooling_v2_forward prim_;
};

}  // namespace

std::unique_ptr<Kernel> create_pool_kernel(const Node& node, int opset, const std::vector<KernelInput>& inputs,
                                           const std::vector<Shape>& output_shapes) {
  if (inputs.size() != 1 || inputs[0].constant || output_shapes.empty()) return nullptr;
  if (node.outputs.size() > 1 && !node.outputs[1].empty()) return nullptr;  // MaxPool Indices
  const memory::desc& md = inputs[0].desc;
  const Shape in = desc_shape(md);
  const Shape& out = output_shapes[0];
  if (in.size() < 3 || in.size() > 5 || out.size() != in.size()) return nullptr;
  const size_t spatial = in.size() - 2;
  const bool global = node.op_type == "GlobalAveragePool" || node.op_type == "GlobalMaxPool";
  const bool is_max = node.op_type == "MaxPool" || node.op_type == "GlobalMaxPool";

  memory::dims kernel, strides, dilation, pad_l, pad_r;
  bool include_pad = false;
  if (global) {
    for (size_t i = 0; i < spatial; ++i) {
      kernel.push_back(in[i + 2]);
      strides.push_back(1);
      dilation.push_back(0);
      pad_l.push_back(0);
      pad_r.push_back(0);
    }
  } else {
    PoolParams p;
    if (!parse_pool_params(node, opset, is_max, spatial, &p).ok()) return nullptr;
    std::vector<PoolAxis> axes;
    if (!pool_geometry(node, p, in, &axes).ok()) return nullptr;
    include_pad = p.count_include_pad;
    for (size_t i = 0; i < spatial; ++i) {
      if (axes[i].out != out[i + 2]) return nullptr;
      const int64_t extent = (p.kernel[i] - 1) * p.dilations[i] + 1;
      // Right padding that makes oneDNN's floor formula give ONNX's output size (ceil_mode adds some).
      const int64_t right = (axes[i].out - 1) * p.strides[i] + extent - in[i + 2] - axes[i].pad_begin;
      if (right < 0) return nullptr;
      // Averages counting the padding must not count the ceil_mode extension, which oneDNN would.
      if (!is_max && include_pad && right > axes[i].pad_end) return nullptr;
      kernel.push_back(p.kernel[i]);
      strides.push_back(p.strides[i]);
      dilation.push_back(p.dilations[i] - 1);
      pad_l.push_back(axes[i].pad_begin);
      pad_r.push_back(right);
    }
  }
  const dnnl::algorithm alg = is_max        ? dnnl::algorithm::pooling_max
                              : include_pad ? dnnl::algorithm::pooling_avg_include_padding
                                            : dnnl::algorithm::pooling_avg_exclude_padding;
  // Max pooling keeps the element type (int8 codes pool exactly: quantization preserves order); averages are f32.
  if (!is_max && md.data_type() != memory::data_type::f32) return nullptr;
  memory::desc dst_any(memory::dims(out.begin(), out.end()), md.data_type(), memory::format_tag::any);
  dnnl::pooling_v2_forward::desc d(dnnl::prop_kind::forward_inference, alg, md, dst_any, strides, kernel, dilation,
                                   pad_l, pad_r);
  dnnl::pooling_v2_forward::primitive_desc pd(d, cpu_engine());
  auto k = std::make_unique<PoolKernel>();
  k->prim_ = dnnl::pooling_v2_forward(pd);
  k->input_descs = {md};
  k->output_descs = {pd.dst_desc()};
  return k;
}

}  // namespace lowbit::onednn
