// 256-entry lookup tables on int8/uint8 codes: Gather(table, codes) as pass lower_qdq writes it for elementwise
// float islands (hard-swish, activations, requantization). The op is elementwise, so it runs on the codes in
// whatever layout they arrive (nhwc from the int8 convolutions) and writes the same layout: no reorder, one
// byte load per value. Exactly the reference Gather's result.
#include <cstring>

#include "kernels/onednn/onednn_kernel.h"

namespace lowbit::onednn {
namespace {

class LookupKernel : public Kernel {
 public:
  void execute(dnnl::stream& stream, const std::vector<memory>& inputs, const std::vector<memory>& outputs) override {
    stream.wait();  // the codes' producer must have finished
    const uint8_t* in = static_cast<const uint8_t*>(inputs[1].get_data_handle());
    uint8_t* out = static_cast<uint8_t*>(outputs[0].get_data_handle());
    const int64_t n = count_;
#pragma omp parallel for schedule(static) if (n > (int64_t(1) << 16))
    for (int64_t i = 0; i < n; ++i) out[i] = table_[in[i]];
  }
  uint8_t table_[256];
  int64_t count_ = 0;
};

}  // namespace

std::unique_ptr<Kernel> create_lookup_kernel(const Node& node, int opset, const std::vector<KernelInput>& inputs,
                                             const std::vector<Shape>& output_shapes) {
  (void)opset;
  (void)output_shapes;
  if (inputs.size() != 2 || node.attr_int("axis", 0) != 0) return nullptr;
  const Tensor* table = inputs[0].constant;
  if (!table || table->rank() != 1 || table->numel() != 256 || dtype_size(table->dtype()) != 1) return nullptr;
  if (table->dtype() != DType::kInt8 && table->dtype() != DType::kUint8) return nullptr;
  const memory::desc& codes = inputs[1].desc;
  if (inputs[1].constant || codes.data.ndims == 0) return nullptr;
  if (codes.data_type() != memory::data_type::s8 && codes.data_type() != memory::data_type::u8) return nullptr;
  int64_t count = 1;
  for (int64_t d : desc_shape(codes)) count *= d;
  if (int64_t(codes.get_size()) != count) return nullptr;  // padded blocked layouts: leave to the reference
  auto k = std::make_unique<LookupKernel>();
  std::memcpy(k->table_, table->raw(), 256);
  k->count_ = count;
  k->input_descs = {memory::desc(), codes};
  k->output_descs = {with_data_type(codes, table->dtype() == DType::kInt8 ? memory::data_type::s8
                                                                         : memory::data_type::u8)};
  return k;
}

}  // namespace lowbit::onednn
