// QLinearGlobalAveragePool on the codes in the layout they arrive in (nhwc from the int8 convolutions, or plain):
// exact integer sums per (n, c), then the reference kernel's one float step (qlinear_average_code), so the result
// is bit for bit the reference's. Channels-last input adds whole pixel rows of C codes into int32 accumulators (the
// loop vectorizes); the spatial range is split across the pool's threads, each with its own partial sums.
#include <algorithm>
#include <type_traits>

#include "kernels/onednn/onednn_kernel.h"
#include "ops/qlinear_binary.h"

namespace lowbit::onednn {
namespace {

class QLinearGlobalAverageKernel : public Kernel {
 public:
  void execute(dnnl::stream& stream, const std::vector<memory>& inputs, const std::vector<memory>& outputs) override {
    stream.wait();  // producers must have finished
    const void* x = inputs[0].get_data_handle();
    void* y = outputs[0].get_data_handle();
    if (x_signed_) y_signed_ ? run<int8_t, int8_t>(x, y) : run<int8_t, uint8_t>(x, y);
    else y_signed_ ? run<uint8_t, int8_t>(x, y) : run<uint8_t, uint8_t>(x, y);
  }

  template <typename X, typename Y>
  void run(const void* xv, void* yv) {
    const X* x = static_cast<const X*>(xv);
    Y* y = static_cast<Y*>(yv);
    std::vector<int32_t> sums(size_t(n_ * c_), 0);
    if (channels_last_) {
      // Per image: positions [p0, p1) summed into one partial row of C per task.
      const int64_t tasks = pool ? std::min<int64_t>(pool->num_threads(), std::max<int64_t>(1, count_ / 64)) : 1;
      std::vector<int32_t> partial(size_t(tasks * c_));
      for (int64_t n = 0; n < n_; ++n) {
        std::fill(partial.begin(), partial.end(), 0);
        auto body = [&](int64_t t0, int64_t t1) {
          for (int64_t t = t0; t < t1; ++t) {
            int32_t* acc = partial.data() + t * c_;
            const int64_t p0 = count_ * t / tasks, p1 = count_ * (t + 1) / tasks;
            for (int64_t p = p0; p < p1; ++p) {
              const X* row = x + n * batch_stride_ + p * c_;
              for (int64_t c = 0; c < c_; ++c) acc[c] += row[c];
            }
          }
        };
        if (pool && tasks > 1) pool->parallel_for(tasks, body);
        else body(0, tasks);
        for (int64_t t = 0; t < tasks; ++t)
          for (int64_t c = 0; c < c_; ++c) sums[size_t(n * c_ + c)] += partial[size_t(t * c_ + c)];
      }
    } else {  // planes contiguous (plain N x C x spatial)
      auto body = [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          const X* plane = x + i * count_;
          int32_t s = 0;
          for (int64_t p = 0; p < count_; ++p) s += plane[p];
          sums[size_t(i)] = s;
        }
      };
      if (pool) pool->parallel_for(n_ * c_, body, std::max<int64_t>(1, 4096 / std::max<int64_t>(count_, 1)));
      else body(0, n_ * c_);
    }
    for (int64_t i = 0; i < n_ * c_; ++i) y[i] = qlinear_average_code<Y>(p_, sums[size_t(i)], count_, multiplier_);
  }

  QLinearPoolParams p_;
  float multiplier_ = 1;
  int64_t n_ = 0, c_ = 0, count_ = 0, batch_stride_ = 0;
  bool channels_last_ = false, x_signed_ = false, y_signed_ = false;
};

int32_t code(const Tensor* t) { return t ? int32_t(t->get_as_int64(0)) : 0; }

}  // namespace

std::unique_ptr<Kernel> create_qlinear_global_average_kernel(const Node& node, const std::vector<KernelInput>& inputs,
                                                             const std::vector<Shape>& output_shapes) {
  if (inputs.size() < 4 || output_shapes.size() != 1 || node.attr_int("channels_last", 0) != 0) return nullptr;
  const memory::desc& xd = inputs[0].desc;
  if (inputs[0].constant || xd.data.ndims < 3) return nullptr;
  if (xd.data_type() != memory::data_type::s8 && xd.data_type() != memory::data_type::u8) return nullptr;
  const Tensor *xs = scalar_constant(inputs, 1), *ys = scalar_constant(inputs, 3);
  if (!xs || !ys || !(xs->data<float>()[0] > 0) || !(ys->data<float>()[0] > 0)) return nullptr;
  for (size_t i : {2, 4})
    if (i < inputs.size() && inputs[i].desc.data.ndims != 0 && !scalar_constant(inputs, i)) return nullptr;
  const Tensor* yz = inputs.size() > 4 ? scalar_constant(inputs, 4) : nullptr;
  const Shape shape = desc_shape(xd);
  std::vector<int64_t> strides;
  if (!unblocked_strides(xd, &strides)) return nullptr;
  auto k = std::make_unique<QLinearGlobalAverageKernel>();
  k->n_ = shape[0], k->c_ = shape[1];
  k->count_ = 1;
  for (size_t d = 2; d < shape.size(); ++d) k->count_ *= shape[d];
  if (k->count_ > (int64_t(1) << 23)) return nullptr;  // the int32 sums could overflow: the reference says so
  // Channels last: C innermost, then the spatial dims row-major; or plain row-major.
  std::vector<int64_t> nhwc(shape.size()), plain(shape.size());
  int64_t step = 1;
  for (size_t d = shape.size(); d-- > 0;) plain[d] = step, step *= shape[d];
  nhwc[1] = 1, step = shape[1];
  for (size_t d = shape.size(); d-- > 2;) nhwc[d] = step, step *= shape[d];
  nhwc[0] = step;
  auto same = [&](const std::vector<int64_t>& want) {
    for (size_t d = 0; d < shape.size(); ++d)
      if (shape[d] > 1 && strides[d] != want[d]) return false;
    return true;
  };
  if (same(nhwc)) k->channels_last_ = true;
  else if (!same(plain)) return nullptr;
  k->batch_stride_ = k->c_ * k->count_;
  k->p_.x_scale = xs->data<float>()[0];
  k->p_.y_scale = ys->data<float>()[0];
  k->p_.x_zero = code(scalar_constant(inputs, 2));
  k->p_.y_zero = code(yz);
  k->multiplier_ = qlinear_average_multiplier(k->p_, k->count_);
  k->x_signed_ = xd.data_type() == memory::data_type::s8;
  k->y_signed_ = yz ? yz->dtype() == DType::kInt8 : k->x_signed_;
  k->input_descs.assign(inputs.size(), memory::desc());
  k->input_descs[0] = xd;
  k->output_descs = {plain_desc(output_shapes[0], k->y_signed_ ? memory::data_type::s8 : memory::data_type::u8)};
  return k;
}

}  // namespace lowbit::onednn
