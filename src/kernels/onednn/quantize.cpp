// oneDNN QuantizeLinear / DequantizeLinear (per tensor): one reorder each, in whatever layout the value arrives
// (blocked included), so the float <-> int8 boundary of an integer chain costs one vectorized pass. An image input
// (plain, 2-4 channels) is quantized straight into nhwc by lowbit's own loop.
//   QuantizeLinear:   q = saturate(round_half_even(x * (1 / scale)) + zero_point)
//   DequantizeLinear: x = (q - zero_point) * scale
// The quantize multiplies by 1/scale where the reference divides: the two agree except where x / scale lands
// within float rounding of a .5 tie (then they differ by 1 LSB). Dequantize is exact (same operations).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

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

// A plain N x C x H x W float with 2-4 channels (an image input) quantized straight into nhwc codes, the
// layout oneDNN's int8 convolutions read: one pass over the planes instead of the quantizing reorder plus the
// convolution's own nchw -> nhwc reorder of the codes (mobilenet_v2 int8: 0.06 -> 0.02 ms).
//   q = saturate(round_half_even(x * (1 / scale)) + zero_point), as the reorder computes it.
template <typename T>
void quantize_planes_scalar(const float* x, int64_t plane, int64_t c, int64_t p0, int64_t p1, float inv, int32_t zp,
                            T* out) {
  constexpr int32_t lo = std::is_signed_v<T> ? -128 : 0, hi = std::is_signed_v<T> ? 127 : 255;
  for (int64_t p = p0; p < p1; ++p)
    for (int64_t ch = 0; ch < c; ++ch) {
      const int32_t q = int32_t(std::nearbyint(x[ch * plane + p] * inv)) + zp;
      out[p * c + ch] = T(std::min(hi, std::max(lo, q)));
    }
}

// GCC 12 flags the intrinsics' own self-initialized temporaries (-Wmaybe-uninitialized) in this function.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// 16 codes of one plane: round half to even (as the reorder does), zero point, saturation.
__attribute__((target("avx512f,avx512bw"))) inline __m128i codes16(const float* x, __m512 inv, __m512i zp, __m512i lo,
                                                                  __m512i hi) {
  const __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x), inv));
  return _mm512_cvtepi32_epi8(_mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(q, zp), lo), hi));
}

// Three channels, 16 pixels a step: quantize each plane's 16 values, then one byte permutation interleaves them.
template <typename T>
__attribute__((target("avx512f,avx512bw,avx512vbmi"))) void quantize_3planes_vbmi(const float* x, int64_t plane,
                                                                                  int64_t p0, int64_t p1, float inv,
                                                                                  int32_t zp, T* out) {
  alignas(64) uint8_t index[64];
  for (int i = 0; i < 48; ++i) index[i] = uint8_t((i % 3) * 16 + i / 3);
  for (int i = 48; i < 64; ++i) index[i] = 0;
  const __m512i perm = _mm512_load_si512(index);
  const __m512 vinv = _mm512_set1_ps(inv);
  const __m512i vzp = _mm512_set1_epi32(zp);
  const __m512i vlo = _mm512_set1_epi32(std::is_signed_v<T> ? -128 : 0);
  const __m512i vhi = _mm512_set1_epi32(std::is_signed_v<T> ? 127 : 255);
  int64_t p = p0;
  for (; p + 16 <= p1; p += 16) {
    const float* xp = x + p;
    __m512i all = _mm512_castsi128_si512(codes16(xp, vinv, vzp, vlo, vhi));  // an insert's lane must be a constant
    all = _mm512_inserti32x4(all, codes16(xp + plane, vinv, vzp, vlo, vhi), 1);
    all = _mm512_inserti32x4(all, codes16(xp + 2 * plane, vinv, vzp, vlo, vhi), 2);
    _mm512_mask_storeu_epi8(out + p * 3, (__mmask64(1) << 48) - 1, _mm512_permutexvar_epi8(perm, all));
  }
  quantize_planes_scalar(x, plane, 3, p, p1, inv, zp, out);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

class PlanesToNhwcKernel : public Kernel {
 public:
  void execute(dnnl::stream& stream, const std::vector<memory>& inputs, const std::vector<memory>& outputs) override {
    (void)stream;
    const float* x = static_cast<const float*>(inputs[0].get_data_handle());
    void* y = outputs[0].get_data_handle();
    const int64_t plane = plane_, c = channels_;
    auto body = [&](int64_t b0, int64_t b1) {
      for (int64_t t = b0; t < b1; ++t) {  // t: (image, chunk of 4096 pixels)
        const int64_t n = t / chunks_, p0 = (t % chunks_) * 4096, p1 = std::min(plane, p0 + 4096);
        const float* xn = x + n * c * plane;
        if (signed_) {
          int8_t* yn = static_cast<int8_t*>(y) + n * c * plane;
          if (vbmi_ && c == 3) quantize_3planes_vbmi(xn, plane, p0, p1, inv_, zp_, yn);
          else quantize_planes_scalar(xn, plane, c, p0, p1, inv_, zp_, yn);
        } else {
          uint8_t* yn = static_cast<uint8_t*>(y) + n * c * plane;
          if (vbmi_ && c == 3) quantize_3planes_vbmi(xn, plane, p0, p1, inv_, zp_, yn);
          else quantize_planes_scalar(xn, plane, c, p0, p1, inv_, zp_, yn);
        }
      }
    };
    const int64_t tasks = images_ * chunks_;
    if (pool && tasks > 1) pool->parallel_for(tasks, body);
    else body(0, tasks);
  }
  int64_t images_ = 0, channels_ = 0, plane_ = 0, chunks_ = 0;
  float inv_ = 1;
  int32_t zp_ = 0;
  bool signed_ = false, vbmi_ = false;
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
  if (quantize && in.data.ndims == 4 && is_plain(in) && in.dims()[1] >= 2 && in.dims()[1] <= 4) {
    auto k = std::make_unique<PlanesToNhwcKernel>();
    const memory::dims d = in.dims();
    k->images_ = d[0], k->channels_ = d[1], k->plane_ = d[2] * d[3];
    k->chunks_ = std::max<int64_t>(1, (k->plane_ + 4095) / 4096);
    k->inv_ = 1.f / s, k->zp_ = z, k->signed_ = code_dt == dt::s8;
    k->vbmi_ = __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512bw");
    k->input_descs.assign(inputs.size(), memory::desc());
    k->input_descs[0] = in;
    k->output_descs = {memory::desc(d, code_dt, memory::format_tag::nhwc)};
    return k;
  }
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
