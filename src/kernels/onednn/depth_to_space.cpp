// DepthToSpace (DCR) on nhwc tensors of any element type: the pixel (y, x) holds its channels in (by, bx, c)
// order, so each kernel row by is one run of b*C' values that lands, unchanged, at output pixel (y*b + by, x*b)
// of the nhwc output: a memcpy per (y, by, x). lower_qdq's integer ConvTranspose (a 1x1 QLinearConv with
// b*b*C' channels, then this) and user models' DepthToSpace both run here; CRD mode stays on the reference.
#include <cstring>

#include "kernels/onednn/onednn_kernel.h"

namespace lowbit::onednn {
namespace {

using tag = memory::format_tag;

class DepthToSpaceKernel : public Kernel {
 public:
  void execute(dnnl::stream& stream, const std::vector<memory>& inputs, const std::vector<memory>& outputs) override {
    const memory src = src_reorder_.apply(stream, inputs[0]);
    stream.wait();  // producers (and the reorder) must have finished
    const char* x = static_cast<const char*>(src.get_data_handle());
    char* y = static_cast<char*>(outputs[0].get_data_handle());
    const int64_t run = b_ * c_ * elem_, wb = w_ * b_;
    auto rows = [&](int64_t r0, int64_t r1) {  // r = n * H + y
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t n = r / h_, yy = r % h_;
        for (int64_t by = 0; by < b_; ++by) {
          char* out = y + ((n * h_ * b_ + yy * b_ + by) * wb) * c_ * elem_;
          const char* in = x + (r * w_) * b_ * b_ * c_ * elem_ + by * run;
          for (int64_t xx = 0; xx < w_; ++xx) std::memcpy(out + xx * run, in + xx * b_ * run, size_t(run));
        }
      }
    };
    if (pool) pool->parallel_for(n_ * h_, rows, std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(1, w_ * b_ * run)));
    else rows(0, n_ * h_);
  }
  InputReorder src_reorder_;
  int64_t n_ = 0, c_ = 0, h_ = 0, w_ = 0, b_ = 1, elem_ = 1;
};

}  // namespace

std::unique_ptr<Kernel> create_depth_to_space_kernel(const Node& node, const std::vector<KernelInput>& inputs,
                                                     const std::vector<Shape>& output_shapes) {
  if (inputs.size() != 1 || output_shapes.size() != 1 || inputs[0].constant) return nullptr;
  if (node.attr_string("mode", "DCR") != "DCR") return nullptr;
  const memory::desc& xd = inputs[0].desc;
  const Shape s = desc_shape(xd);
  const int64_t b = node.attr_int("blocksize", 1);
  if (s.size() != 4 || b < 1 || s[1] % (b * b) != 0) return nullptr;
  auto k = std::make_unique<DepthToSpaceKernel>();
  k->n_ = s[0], k->c_ = s[1] / (b * b), k->h_ = s[2], k->w_ = s[3], k->b_ = b;
  k->elem_ = int64_t(memory::data_type_size(xd.data_type()));
  const memory::desc nhwc(memory::dims(s.begin(), s.end()), xd.data_type(), tag::acdb);
  k->src_reorder_.prepare(xd, nhwc);
  k->input_descs = {xd};
  k->output_descs = {memory::desc({s[0], k->c_, s[2] * b, s[3] * b}, xd.data_type(), tag::acdb)};
  return k;
}

}  // namespace lowbit::onednn
