// Reshape, Flatten, Squeeze and Unsqueeze of a plain (row-major) tensor of any element type: the bytes stay as they
// are, so the output takes over the input's buffer when the input dies here (in_place_input: no copy at all) and
// is one memcpy otherwise. A blocked input (nChw16c ...) is left to the reference kernel, after the plan's
// reorder to plain. The shape operands must be constants: the output shape was inferred when the plan was built.
#include <cstring>

#include "kernels/onednn/onednn_kernel.h"

namespace lowbit::onednn {
namespace {

class ReshapeKernel : public Kernel {
 public:
  void execute(dnnl::stream& stream, const std::vector<memory>& inputs, const std::vector<memory>& outputs) override {
    const void* src = inputs[0].get_data_handle();
    void* dst = outputs[0].get_data_handle();
    if (src == dst) return;  // in place: the output is the input's buffer
    stream.wait();           // the producer must have finished
    std::memcpy(dst, src, bytes_);
  }
  size_t bytes_ = 0;
};

}  // namespace

std::unique_ptr<Kernel> create_reshape_kernel(const std::vector<KernelInput>& inputs,
                                              const std::vector<Shape>& output_shapes) {
  if (inputs.empty() || output_shapes.size() != 1 || inputs[0].constant || !is_plain(inputs[0].desc)) return nullptr;
  for (size_t i = 1; i < inputs.size(); ++i)
    if (inputs[i].desc.data.ndims != 0 && !inputs[i].constant) return nullptr;
  const memory::desc& x = inputs[0].desc;
  const memory::desc y = plain_desc(output_shapes[0], x.data_type());
  if (y.get_size() != x.get_size() || y.data.ndims == 0) return nullptr;
  auto k = std::make_unique<ReshapeKernel>();
  k->bytes_ = x.get_size();
  k->input_descs.assign(inputs.size(), memory::desc());
  k->input_descs[0] = x;
  k->output_descs = {y};
  k->in_place_input = 0;
  k->in_place_desc = x;
  return k;
}

}  // namespace lowbit::onednn
