// The two vector instruction sets lowbit's own FP32 kernels are written for, as one interface, so that a kernel's
// code (an .inc file) is written once and compiled for each: AVX-512 (16 floats, 32 registers) and AVX2 + FMA
// (8 floats, 16 registers; AMD Zen 3 and older Intel). Channel blocks follow the vector: nChw16c with AVX-512,
// nChw8c with AVX2, the layouts oneDNN's own kernels pick on those CPUs.
//
// Why include-twice and not templates: GCC and clang only inline an intrinsic into a function compiled for its
// instruction set, and a template cannot choose its function's target attribute. So each .inc is included once
// per instruction set, inside a namespace, with LOWBIT_SIMD_TARGET set to that set's attribute and `Vec` naming
// the struct below.
#pragma once
#include <immintrin.h>

namespace lowbit::onednn::simd {

#define LOWBIT_SIMD_INLINE static inline __attribute__((always_inline, LOWBIT_SIMD_TARGET_ATTR))

#define LOWBIT_SIMD_TARGET_ATTR target("avx512f")
struct Avx512 {
  using V = __m512;
  static constexpr int kWidth = 16;       // floats per vector = channels per block
  static constexpr int kTilePixels = 14;  // GEMM tile: 14 pixels x 2 blocks = 28 of the 32 registers
  LOWBIT_SIMD_INLINE V zero() { return _mm512_setzero_ps(); }
  LOWBIT_SIMD_INLINE V set1(float v) { return _mm512_set1_ps(v); }
  LOWBIT_SIMD_INLINE V load(const float* p) { return _mm512_loadu_ps(p); }
  LOWBIT_SIMD_INLINE void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  LOWBIT_SIMD_INLINE V add(V a, V b) { return _mm512_add_ps(a, b); }
  LOWBIT_SIMD_INLINE V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  LOWBIT_SIMD_INLINE V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  LOWBIT_SIMD_INLINE V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  LOWBIT_SIMD_INLINE V max(V a, V b) { return _mm512_max_ps(a, b); }
  LOWBIT_SIMD_INLINE V min(V a, V b) { return _mm512_min_ps(a, b); }
  // v where v >= 0, else v * alpha (LeakyRelu)
  LOWBIT_SIMD_INLINE V leaky(V v, V alpha) {
    return _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ), v, alpha);
  }
};
#undef LOWBIT_SIMD_TARGET_ATTR

#define LOWBIT_SIMD_TARGET_ATTR target("avx2,fma")
struct Avx2 {
  using V = __m256;
  static constexpr int kWidth = 8;
  static constexpr int kTilePixels = 6;  // 6 pixels x 2 blocks = 12 accumulators, 2 weight rows, 1 broadcast
  LOWBIT_SIMD_INLINE V zero() { return _mm256_setzero_ps(); }
  LOWBIT_SIMD_INLINE V set1(float v) { return _mm256_set1_ps(v); }
  LOWBIT_SIMD_INLINE V load(const float* p) { return _mm256_loadu_ps(p); }
  LOWBIT_SIMD_INLINE void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  LOWBIT_SIMD_INLINE V add(V a, V b) { return _mm256_add_ps(a, b); }
  LOWBIT_SIMD_INLINE V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  LOWBIT_SIMD_INLINE V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  LOWBIT_SIMD_INLINE V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  LOWBIT_SIMD_INLINE V max(V a, V b) { return _mm256_max_ps(a, b); }
  LOWBIT_SIMD_INLINE V min(V a, V b) { return _mm256_min_ps(a, b); }
  LOWBIT_SIMD_INLINE V leaky(V v, V alpha) {
    return _mm256_blendv_ps(v, _mm256_mul_ps(v, alpha), _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ));
  }
};
#undef LOWBIT_SIMD_TARGET_ATTR
#undef LOWBIT_SIMD_INLINE

// The instruction set lowbit's own FP32 kernels run with on this CPU: 16 (AVX-512), 8 (AVX2 + FMA) or 0 (neither:
// oneDNN's kernels only).
int vector_width();

}  // namespace lowbit::onednn::simd
