// oneDNN Concat and nearest Resize with integer spatial factors: both accept the blocked layouts (nChw16c)
// the convolutions produce, so a detector's FPN (upsample, concat, conv) stays off the plain-layout path.
#include <cmath>

#include "kernels/onednn/onednn_kernel.h"
#include "ops/resize_params.h"

namespace lowbit::onednn {
namespace {

class ResampleKernel : public Kernel {
 public:
  void execute(dnnl::stream& stream, const std::vector<memory>& inputs, const std::vector<memory>& outputs) override {
    prim_.execute(stream, {{DNNL_ARG_SRC, inputs[0]}, {DNNL_ARG_DST, outputs[0]}});
  }
  dnnl::resampling_forward prim_;
};

class ConcatKernel : public Kernel {
 public:
  void execute(dnnl::stream& stream, const std::vector<memory>& inputs, const std::vector<memory>& outputs) override {
    std::unordered_map<int, memory> args = {{DNNL_ARG_DST, outputs[0]}};
    for (size_t i = 0; i < inputs.size(); ++i) args[DNNL_ARG_MULTIPLE_SRC + int(i)] = inputs[i];
    prim_.execute(stream, args);
  }
  dnnl::concat prim_;
};

// The input index ONNX nearest Resize samples for output index x (the reference kernel's rounding rules).
int64_t nearest_source(const ResizeAttrs& a, const ResizeAxis& ax, int64_t x) {
  return nearest_index(a.nearest, ax, original_coordinate(a.coord, x, ax));
}

const Tensor* non_empty_constant(const std::vector<KernelInput>& inputs, int slot) {
  if (slot < 0 || size_t(slot) >= inputs.size() || inputs[size_t(slot)].desc.data.ndims == 0) return nullptr;
  const Tensor* t = inputs[size_t(slot)].constant;
  return t && t->numel() > 0 ? t : nullptr;
}

}  // namespace

std::unique_ptr<Kernel> create_resize_kernel(const Node& node, int opset, const std::vector<KernelInput>& inputs,
                                             const std::vector<Shape>& output_shapes) {
  if (inputs.empty() || inputs[0].constant || inputs[0].desc.data.ndims == 0 || output_shapes.size() != 1)
    return nullptr;
  ResizeAttrs attrs;
  if (!parse_resize_attrs(node, opset, &attrs).ok() || attrs.mode != ResizeMode::kNearest ||
      attrs.coord == CoordTransform::kTfCropAndResize)
    return nullptr;
  // scales / sizes must be baked constants (a runtime one could change the geometry per run).
  const ResizeInputSlots slots = resize_input_slots(node, opset);
  for (int slot : {slots.scales, slots.sizes})
    if (slot >= 0 && size_t(slot) < inputs.size() && inputs[size_t(slot)].desc.data.ndims != 0 &&
        !inputs[size_t(slot)].constant)
      return nullptr;
  const memory::desc& md = inputs[0].desc;
  const Shape in = desc_shape(md);
  const Shape& out = output_shapes[0];
  if (in.size() < 3 || in.size() > 5 || out.size() != in.size() || in[0] != out[0] || in[1] != out[1]) return nullptr;
  ResizeRequest request;
  if (!read_resize_request(node, node.op_type == "Upsample", in.size(), non_empty_constant(inputs, slots.scales),
                           non_empty_constant(inputs, slots.sizes), &request)
           .ok())
    return nullptr;
  // oneDNN's nearest samples floor(x / factor) for an integer upscale factor; use it only when ONNX's
  // coordinate transform and rounding pick exactly those pixels on every spatial axis.
  for (size_t d = 0; d < in.size(); ++d) {  // N and C too: a scale there must still be the identity
    const ResizeAxis ax = make_resize_axis(request, d, in[d], {}, in.size());
    if (ax.out != out[d] || out[d] % in[d] != 0) return nullptr;
    const int64_t factor = out[d] / in[d];
    for (int64_t x = 0; x < out[d]; ++x)
      if (nearest_source(attrs, ax, x) != x / factor) return nullptr;
  }
  // Nearest sampling copies values: int8/uint8 codes keep their type (pass lower_qdq's data movement).
  memory::desc dst_any(memory::dims(out.begin(), out.end()), md.data_type(), memory::format_tag::any);
  dnnl::resampling_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::resampling_nearest, md,
                                   dst_any);
  dnnl::resampling_forward::primitive_desc pd(d, cpu_engine());
  auto k = std::make_unique<ResampleKernel>();
  k->prim_ = dnnl::resampling_forward(pd);
  k->input_descs.assign(inputs.size(), memory::desc());
  k->input_descs[0] = md;
  k->output_descs = {pd.dst_desc()};
  return k;
}

std::unique_ptr<Kernel> create_concat_kernel(const Node& node, int, const std::vector<KernelInput>& inputs,
                                             const std::vector<Shape>& output_shapes) {
  if (inputs.empty() || output_shapes.size() != 1) return nullptr;
  std::vector<memory::desc> srcs;
  for (auto& in : inputs) {
    // Constant or omitted operands (rare in Concat) stay on the reference kernel.
    if (in.constant || in.desc.data.ndims == 0) return nullptr;
    srcs.push_back(in.desc);
  }
  const int rank = int(output_shapes[0].size());
  int64_t axis = node.attr_int("axis", 0);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank || rank == 0) return nullptr;
  const Shape& out = output_shapes[0];
  for (auto& d : srcs)
    if (d.data_type() != srcs[0].data_type()) return nullptr;
  memory::desc dst_any(memory::dims(out.begin(), out.end()), srcs[0].data_type(), memory::format_tag::any);
  dnnl::concat::primitive_desc pd(dst_any, int(axis), srcs, cpu_engine());
  auto k = std::make_unique<ConcatKernel>();
  k->prim_ = dnnl::concat(pd);
  k->input_descs = srcs;
  k->output_descs = {pd.dst_desc()};
  return k;
}

}  // namespace lowbit::onednn
