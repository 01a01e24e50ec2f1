// QLinearAdd / QLinearMul on the codes in the layout they arrive in (nhwc from the int8 convolutions, or plain):
// the formula of src/ops/qlinear_binary.h per element, bit for bit the reference kernel's result (same float
// operations in the same order; the rounding below is round-half-even, exact for |v| < 2^22, and values beyond
// saturate either way). The full-shape operand fixes the layout; the other may broadcast (SE blocks multiply
// N x C x H x W by N x C x 1 x 1); a full-shape operand in another layout is reordered to the first's. The
// layouts must be strided (no inner blocking): others go to the reference.
#include <algorithm>
#include <type_traits>

#include "kernels/onednn/onednn_kernel.h"
#include "ops/qlinear_binary.h"

namespace lowbit::onednn {
namespace {

// One row of n values: a contiguous (step 1), b with step sb (0: broadcast), c contiguous. Templated on the code
// types so the loop vectorizes, and on b's step when it is 0 or 1 (a runtime step would need gathers).
template <typename A, typename B, typename C, bool kMul, int kStep>
inline __attribute__((always_inline)) void qlinear_row_body(const QLinearBinaryParams& p, const void* av,
                                                            const void* bv, int64_t sb, void* cv, int64_t n,
                                                            float* tmp) {
  if constexpr (kStep >= 0) sb = kStep;
  const A* a = static_cast<const A*>(av);
  const B* b = static_cast<const B*>(bv);
  C* c = static_cast<C*>(cv);
  const float lo = float(std::is_signed<C>::value ? -128 : 0), hi = float(std::is_signed<C>::value ? 127 : 255);
  // Locals, not p's fields: stores to tmp (a float*) could alias them and would stop vectorization.
  const float za = float(p.a_zero), zb = float(p.b_zero), zc = float(p.c_zero);
  const float sa = p.a_scale, sb_scale = p.b_scale, sc = p.c_scale;
  for (int64_t i = 0; i < n; ++i) {
    // float(q - zero) is exact either way: the codes and zero points are small integers.
    const float x = (float(a[i]) - za) * sa, y = (float(b[i * sb]) - zb) * sb_scale;
    tmp[i] = kMul ? x * y : x + y;
  }
  if (p.act.active()) apply_fused_activation(p.act, tmp, n);
  for (int64_t i = 0; i < n; ++i) {
    // q = saturate(round_half_even(v / c_scale) + c_zero): clamp to +-2^22, round with the float trick (the
    // default round-to-nearest-even mode), saturate.
    float v = tmp[i] / sc;
    v = v < -4194304.f ? -4194304.f : v;  // min/max written as selects: they vectorize, std::clamp does not
    v = v > 4194304.f ? 4194304.f : v;
    v = (v + 12582912.f) - 12582912.f + zc;
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
    c[i] = C(v);
  }
}

// The same loop for the baseline ISA, AVX2 (8 lanes) and AVX-512 (16), picked at run time. No FMA: contracting
// a * b + c would round differently from the reference kernel.
template <typename A, typename B, typename C, bool kMul, int kStep>
void qlinear_row(const QLinearBinaryParams& p, const void* a, const void* b, int64_t sb, void* c, int64_t n,
                 float* tmp) {
  qlinear_row_body<A, B, C, kMul, kStep>(p, a, b, sb, c, n, tmp);
}
#if defined(__x86_64__) && defined(__GNUC__)
template <typename A, typename B, typename C, bool kMul, int kStep>
__attribute__((target("avx2"))) void qlinear_row_avx2(const QLinearBinaryParams& p, const void* a, const void* b,
                                                      int64_t sb, void* c, int64_t n, float* tmp) {
  qlinear_row_body<A, B, C, kMul, kStep>(p, a, b, sb, c, n, tmp);
}
// 16 lanes; the same float operations in the same order (no FMA), so the same bits.
template <typename A, typename B, typename C, bool kMul, int kStep>
__attribute__((target("avx512f,avx512bw,avx512vl"))) void qlinear_row_avx512(const QLinearBinaryParams& p,
                                                                              const void* a, const void* b, int64_t sb,
                                                                              void* c, int64_t n, float* tmp) {
  qlinear_row_body<A, B, C, kMul, kStep>(p, a, b, sb, c, n, tmp);
}
int isa_level() {
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
    return 2;
  return __builtin_cpu_supports("avx2") ? 1 : 0;
}
#else
template <typename A, typename B, typename C, bool kMul, int kStep>
void qlinear_row_avx2(const QLinearBinaryParams& p, const void* a, const void* b, int64_t sb, void* c, int64_t n,
                      float* tmp) {
  qlinear_row_body<A, B, C, kMul, kStep>(p, a, b, sb, c, n, tmp);
}
template <typename A, typename B, typename C, bool kMul, int kStep>
void qlinear_row_avx512(const QLinearBinaryParams& p, const void* a, const void* b, int64_t sb, void* c, int64_t n,
                        float* tmp) {
  qlinear_row_body<A, B, C, kMul, kStep>(p, a, b, sb, c, n, tmp);
}
int isa_level() { return 0; }
#endif

using RowFn = void (*)(const QLinearBinaryParams&, const void*, const void*, int64_t, void*, int64_t, float*);

template <typename A, typename B, typename C, bool kMul, int kStep>
RowFn row_for_isa() {
  switch (isa_level()) {
    case 2: return &qlinear_row_avx512<A, B, C, kMul, kStep>;
    case 1: return &qlinear_row_avx2<A, B, C, kMul, kStep>;
    default: return &qlinear_row<A, B, C, kMul, kStep>;
  }
}
template <typename A, typename B, typename C, bool kMul>
RowFn row_for_step(int64_t step) {
  return step == 1 ? row_for_isa<A, B, C, kMul, 1>() : step == 0 ? row_for_isa<A, B, C, kMul, 0>()
                                                                 : row_for_isa<A, B, C, kMul, -1>();
}
template <typename A, typename B, typename C>
RowFn row_for(bool mul, int64_t step) {
  return mul ? row_for_step<A, B, C, true>(step) : row_for_step<A, B, C, false>(step);
}
template <typename A, typename B>
RowFn row_for(bool mul, int64_t step, bool c_signed) {
  return c_signed ? row_for<A, B, int8_t>(mul, step) : row_for<A, B, uint8_t>(mul, step);
}
template <typename A>
RowFn row_for(bool mul, int64_t step, bool b_signed, bool c_signed) {
  return b_signed ? row_for<A, int8_t>(mul, step, c_signed) : row_for<A, uint8_t>(mul, step, c_signed);
}

class QLinearBinaryKernel : public Kernel {
 public:
  void execute(dnnl::stream& stream, const std::vector<memory>& inputs, const std::vector<memory>& outputs) override {
    stream.wait();  // producers must have finished
    const uint8_t* a = static_cast<const uint8_t*>(inputs[size_t(a_input_)].get_data_handle());
    memory b_mem = inputs[size_t(b_input_)];
    if (b_reorder_) {  // b in another layout than a: one reorder, then both are walked in step
      b_reorder_.execute(stream, b_mem, b_scratch_);
      stream.wait();
      b_mem = b_scratch_;
    }
    const uint8_t* b = static_cast<const uint8_t*>(b_mem.get_data_handle());
    uint8_t* c = static_cast<uint8_t*>(outputs[0].get_data_handle());
    if (flat_ || tile_ > 0) return run_dense(a, b, c);
    const size_t rank = dims_.size();
    int64_t outer = 1;
    for (size_t d = 0; d < rank; ++d)
      if (d != inner_) outer *= dims_[d];
    const int64_t n = dims_[inner_];
    // Rows [o0, o1) of the outer index space (every dim but the inner one, row-major).
    auto rows = [&](int64_t o0, int64_t o1) {
      std::vector<float> tmp(static_cast<size_t>(n));
      std::vector<int64_t> idx(rank, 0);
      for (int64_t rest = o0, d = int64_t(rank) - 1; d >= 0; --d) {
        if (size_t(d) == inner_) continue;
        idx[size_t(d)] = rest % dims_[size_t(d)];
        rest /= dims_[size_t(d)];
      }
      for (int64_t o = o0; o < o1; ++o) {
        int64_t off_a = 0, off_b = 0;  // element offsets; codes are one byte
        for (size_t d = 0; d < rank; ++d) off_a += idx[d] * a_strides_[d], off_b += idx[d] * b_strides_[d];
        row_(p_, a + off_a, b + off_b, b_strides_[inner_], c + off_a, n, tmp.data());
        for (size_t d = rank; d-- > 0;) {  // next outer index (the inner dim stays 0)
          if (d == inner_) continue;
          if (++idx[d] < dims_[d]) break;
          idx[d] = 0;
        }
      }
    };
    if (pool) pool->parallel_for(outer, rows, std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(n, 1)));
    else rows(0, outer);
  }

  // Dense a (and c): rows as long as a task's chunk, so the loop runs in full vectors (nhwc rows of C codes are
  // often 24 or 96 long: mostly the scalar remainder). flat_: b has a's shape and layout. tile_ = C: b is
  // N x C x 1 x 1 against nhwc a (squeeze-excitation), tiled to the chunk's length once per run.
  void run_dense(const uint8_t* a, const uint8_t* b, uint8_t* c) {
    constexpr int64_t kChunk = int64_t(1) << 14;
    const int64_t reps = tile_ > 0 ? std::max<int64_t>(1, kChunk / tile_) : 1;
    const int64_t chunk = tile_ > 0 ? reps * tile_ : kChunk;
    const int64_t per_image = (image_size_ + chunk - 1) / chunk;
    std::vector<uint8_t> tiled;
    if (tile_ > 0) {
      tiled.resize(size_t(images_ * chunk));
      for (int64_t n = 0; n < images_; ++n)
        for (int64_t r = 0; r < reps; ++r)
          std::copy_n(b + n * b_image_stride_, tile_, tiled.begin() + n * chunk + r * tile_);
    }
    auto tasks = [&](int64_t t0, int64_t t1) {
      std::vector<float> tmp(static_cast<size_t>(chunk));
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t n = t / per_image, e0 = (t % per_image) * chunk;
        const int64_t off = n * image_size_ + e0, len = std::min(chunk, image_size_ - e0);
        const uint8_t* bt = tile_ > 0 ? tiled.data() + n * chunk : b + off;
        row_dense_(p_, a + off, bt, 1, c + off, len, tmp.data());
      }
    };
    if (pool) pool->parallel_for(images_ * per_image, tasks);
    else tasks(0, images_ * per_image);
  }

  QLinearBinaryParams p_;
  int a_input_ = 0, b_input_ = 3;
  RowFn row_ = nullptr, row_dense_ = nullptr;
  bool flat_ = false;
  int64_t tile_ = 0, images_ = 1, image_size_ = 0, b_image_stride_ = 0;
  dnnl::reorder b_reorder_;
  memory b_scratch_;
  std::vector<int64_t> dims_, a_strides_, b_strides_;
  size_t inner_ = 0;
};

// A zero point's value (0 when absent).
int32_t code(const Tensor* t) { return t ? int32_t(t->get_as_int64(0)) : 0; }

}  // namespace

std::unique_ptr<Kernel> create_qlinear_binary_kernel(const Node& node, int opset,
                                                     const std::vector<KernelInput>& inputs,
                                                     const std::vector<Shape>& output_shapes) {
  (void)opset;
  if (inputs.size() < 7 || output_shapes.size() != 1) return nullptr;
  const Tensor *as = scalar_constant(inputs, 1), *bs = scalar_constant(inputs, 4), *cs = scalar_constant(inputs, 6);
  if (!as || !bs || !cs) return nullptr;
  for (size_t i : {2, 5, 7})
    if (i < inputs.size() && inputs[i].desc.data.ndims != 0 && !scalar_constant(inputs, i)) return nullptr;
  auto act = parse_fused_activation(node);
  if (!act.ok() || act->residual) return nullptr;
  auto k = std::make_unique<QLinearBinaryKernel>();
  k->p_.mul = node.op_type == "QLinearMul";
  k->p_.act = *act;
  k->p_.a_scale = as->data<float>()[0];
  k->p_.b_scale = bs->data<float>()[0];
  k->p_.c_scale = cs->data<float>()[0];
  k->p_.a_zero = code(scalar_constant(inputs, 2));
  k->p_.b_zero = code(scalar_constant(inputs, 5));
  k->p_.c_zero = code(inputs.size() > 7 ? scalar_constant(inputs, 7) : nullptr);
  const Shape& out = output_shapes[0];
  // The operand with the output's shape fixes the layout (both commute: swap with their parameters).
  if (inputs[0].constant || inputs[3].constant || inputs[0].desc.data.ndims == 0) return nullptr;
  if (desc_shape(inputs[0].desc) != out) {
    if (desc_shape(inputs[3].desc) != out) return nullptr;
    k->a_input_ = 3, k->b_input_ = 0;
    std::swap(k->p_.a_scale, k->p_.b_scale);
    std::swap(k->p_.a_zero, k->p_.b_zero);
  }
  const memory::desc &a = inputs[size_t(k->a_input_)].desc, &b = inputs[size_t(k->b_input_)].desc;
  for (const memory::desc* d : {&a, &b})
    if (d->data_type() != memory::data_type::s8 && d->data_type() != memory::data_type::u8) return nullptr;
  std::vector<int64_t> sa, sb;
  if (!unblocked_strides(a, &sa)) return nullptr;
  memory::desc b_used = b;
  if (desc_shape(b) == out && !(b == with_data_type(a, b.data_type()))) {
    b_used = with_data_type(a, b.data_type());
    k->b_reorder_ = dnnl::reorder(dnnl::reorder::primitive_desc(cpu_engine(), b, cpu_engine(), b_used));
    k->b_scratch_ = memory(b_used, cpu_engine());
  }
  if (!unblocked_strides(b_used, &sb)) return nullptr;
  const Shape bshape = desc_shape(b);
  if (bshape.size() != out.size()) return nullptr;  // rank-changing broadcasts: reference
  for (size_t d = 0; d < out.size(); ++d) {
    if (bshape[d] != out[d] && bshape[d] != 1) return nullptr;
    if (bshape[d] == 1 && out[d] != 1) sb[d] = 0;
  }
  k->dims_ = out;
  k->a_strides_ = sa;
  k->b_strides_ = sb;
  // The inner loop runs along a's contiguous dim (stride 1 and size > 1).
  k->inner_ = sa.size();
  for (size_t d = 0; d < sa.size(); ++d)
    if (sa[d] == 1 && out[d] > 1) k->inner_ = d;
  if (k->inner_ == sa.size()) k->inner_ = sa.size() - 1;
  if (sa[k->inner_] != 1) return nullptr;
  const bool a_signed = a.data_type() == memory::data_type::s8, b_signed = b.data_type() == memory::data_type::s8;
  const Tensor* cz = inputs.size() > 7 ? scalar_constant(inputs, 7) : nullptr;
  const bool c_signed = cz ? cz->dtype() == DType::kInt8 : inputs[0].desc.data_type() == memory::data_type::s8;
  const int64_t step = sb[k->inner_];
  k->row_ = a_signed ? row_for<int8_t>(k->p_.mul, step, b_signed, c_signed)
                     : row_for<uint8_t>(k->p_.mul, step, b_signed, c_signed);
  // The dense fast paths (run_dense): a dense with the batch outermost.
  int64_t numel = 1, last = 0;
  for (size_t d = 0; d < out.size(); ++d) numel *= out[d], last += (out[d] - 1) * sa[d];
  const bool dense = numel > 0 && last + 1 == numel && (out[0] == 1 || sa[0] == numel / out[0]);
  if (dense) {
    k->images_ = out[0];
    k->image_size_ = numel / out[0];
    bool same_layout = bshape == out;
    for (size_t d = 0; same_layout && d < out.size(); ++d) same_layout = out[d] == 1 || sb[d] == sa[d];
    bool channel_broadcast = out.size() >= 3 && sa[1] == 1 && out[1] > 1 && bshape[0] == out[0] &&
                             bshape[1] == out[1] && sb[1] == 1;
    for (size_t d = 2; channel_broadcast && d < out.size(); ++d) channel_broadcast = bshape[d] == 1;
    k->flat_ = same_layout;
    if (!same_layout && channel_broadcast) k->tile_ = out[1], k->b_image_stride_ = sb[0];
    k->row_dense_ = a_signed ? row_for<int8_t>(k->p_.mul, 1, b_signed, c_signed)
                             : row_for<uint8_t>(k->p_.mul, 1, b_signed, c_signed);
  }
  k->input_descs.assign(inputs.size(), memory::desc());
  k->input_descs[0] = inputs[0].desc;
  k->input_descs[3] = inputs[3].desc;
  k->output_descs = {with_data_type(a, c_signed ? memory::data_type::s8 : memory::data_type::u8)};
  return k;
}

}  // namespace lowbit::onednn
