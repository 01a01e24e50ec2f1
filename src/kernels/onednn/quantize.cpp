// oneDNN QuantizeLinear / DequantizeLinear (per tensor): one reorder each, in whatever layout the value arrives
// (blocked included), so the float <-> int8 boundary of an integer chain costs one vectorized pass.
//   QuantizeLinear:   q = saturate(round_half_even(x * (1 / scale)) + zero_point)
//   DequantizeLinear: x = (q - zero_point) * scale
// The quantize multiplies by 1/scale where the reference divides: the two agree except where x / scale lands
// within float rounding of a .5 tie (then they differ by 1 LSB). Dequantize is exact (same operations).
#include <cstring>

#include "kernels/onednn/onednn_kernel.h"

namespace lowbit::onednn {
namespace {

using dt = memory::data_type;

class ReorderKernel : public Kernel {
 public:
  void execute(dnnl::stream& stream, const std::vector<memory>& inputs, const std::vector<memory>& outputs) override {
    memory src = inputs[0], dst = outputs[0];
    std::unordered_map<int, memory> args = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
    if (zp_) args[DNNL_ARG_ATTR_ZERO_POINTS | zp_arg_] = zp_;
    prim_.execute(stream, args);
  }
  dnnl::reorder prim_;
  memory zp_;
  int zp_arg_ = 0;
};

}  // namespace

memory::desc with_data_type(const memory::desc& d, memory::data_type type) {
  memory::desc out = d;
  out.data.data_type = memory::convert_to_c(type);
  return out;
}

std::unique_ptr<Kernel> create_quantize_kernel(const Node& node, int opset, const std::vector<KernelInput>& inputs,
                                               const std::vector<Shape>& output_shapes) {
  (void)opset;
  (void)output_shapes;
  const bool quantize = node.op_type == "QuantizeLinear";
  if (inputs.size() < 2 || inputs[0].constant || inputs[0].desc.data.ndims == 0) return nullptr;
  const Tensor* scale = inputs[1].constant;
  if (!scale || scale->numel() != 1 || scale->dtype() != DType::kFloat32) return nullptr;
  const float s = scale->data<float>()[0];
  if (!(s > 0)) return nullptr;
  const Tensor* zp = inputs.size() > 2 && inputs[2].desc.data.ndims != 0 ? inputs[2].constant : nullptr;
  if (inputs.size() > 2 && inputs[2].desc.data.ndims != 0 && (!zp || zp->numel() != 1)) return nullptr;
  const DType codes = zp ? zp->dtype() : DType::kUint8;
  if (codes != DType::kInt8 && codes != DType::kUint8) return nullptr;
  const int32_t z = !zp ? 0 : codes == DType::kInt8 ? zp->data<int8_t>()[0] : zp->data<uint8_t>()[0];
  const dt code_dt = codes == DType::kInt8 ? dt::s8 : dt::u8;
  const memory::desc& in = inputs[0].desc;
  if (in.data_type() != (quantize ? dt::f32 : code_dt)) return nullptr;
  const memory::desc out = with_data_type(in, quantize ? code_dt : dt::f32);

  dnnl::primitive_attr attr;
  attr.set_output_scales(0, {quantize ? 1.f / s : s});
  const int zp_arg = quantize ? DNNL_ARG_DST : DNNL_ARG_SRC;
  if (z != 0) attr.set_zero_points(zp_arg, 0, {DNNL_RUNTIME_S32_VAL});
  const dnnl::engine& eng = cpu_engine();
  auto k = std::make_unique<ReorderKernel>();
  k->prim_ = dnnl::reorder(dnnl::reorder::primitive_desc(eng, in, eng, out, attr));
  if (z != 0) {
    k->zp_ = zero_point_memory(z);
    k->zp_arg_ = zp_arg;
  }
  k->input_descs.assign(inputs.size(), memory::desc());
  k->input_descs[0] = in;
  k->output_descs = {out};
  return k;
}

}  // namespace lowbit::onednn
