// The AVX-512 FP32 GEMM micro-kernel lowbit's own convolutions share (conv_streaming.cpp, conv_winograd.cpp):
// NP "pixels" x NB blocks of 16 output channels accumulated in registers over K input rows, with the
// bias / residual / activation epilogue applied before the single store, and software prefetch of what the
// caller needs next spread over the row steps.
//
// Operands: columns as [K/16][pixels][16] (block kb of 16 rows at col + kb * col_stride, pixel p of it at
// p * 16), weights as [K][NB * 16] rows, output as [blocks][pixels][16] (block b at dst + b * dst_stride).
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include "ops/fused_activation.h"

namespace lowbit::onednn::gemm {

constexpr int kTilePixels = 14;  // pixels per micro-kernel tile (28 accumulators with two channel blocks)

enum class Act { kNone, kRelu, kClip, kLeakyRelu };

struct Epilogue {
  Act act = Act::kNone;
  float lo = 0, hi = 0, alpha = 0;
  bool residual = false;
};

// GCC 12 flags the intrinsics' own self-initialized temporaries (-Wmaybe-uninitialized) in the micro-kernel.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// How a tile's accumulators start: callers may split K into chunks of rows; the first chunk starts from the bias
// (plus the residual already in dst), later ones from the partial sums in dst, and only the last applies the
// activation.
enum class Start { kBias, kBiasAndDst, kDst };

// Cache lines to pull into L2 while tiles compute: [p, end), `lines` per 16-row step.
struct PrefetchStream {
  const char* p = nullptr;
  const char* end = nullptr;
  int lines = 0;
  // The range [from, to) spread evenly over `steps` steps.
  void spread(const char* from, const char* to, int64_t steps) {
    p = from, end = to;
    lines = p < end ? int(((end - p) / 64 + steps - 1) / std::max<int64_t>(1, steps)) : 0;
  }
  // Into L2 (T1): T0 measured no better, NTA (no L2 copy for the other tiles) twice as slow.
  void issue() {
    for (int l = 0; l < lines && p < end; ++l, p += 64) _mm_prefetch(p, _MM_HINT_T1);
  }
};

// The epilogue's activation `act` (ep.act, or kNone before the last chunk of rows) on 16 outputs.
__attribute__((target("avx512f"), always_inline)) inline __m512 activate(__m512 v, Act act, const Epilogue& ep) {
  switch (act) {
    case Act::kNone: return v;
    case Act::kRelu: return _mm512_max_ps(v, _mm512_setzero_ps());
    case Act::kClip: return _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(ep.lo)), _mm512_set1_ps(ep.hi));
    case Act::kLeakyRelu:
      return _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ), v,
                                _mm512_set1_ps(ep.alpha));
  }
  return v;
}

// One tile: NP pixels x NB blocks of 16 output channels over all K input rows. `col` points at the tile's first
// pixel in column block 0 (block kb at col + kb * col_stride); `dst` likewise in output block 0 (block b at
// dst + b * dst_stride). Per block of 16 rows, prefetches each stream's next `lines` cache lines.
template <int NP, int NB>
__attribute__((target("avx512f"))) void conv_tile(const float* w, const float* col, int64_t col_stride, int64_t kblocks,
                                                  float* dst, int64_t dst_stride, const float* bias, Start start,
                                                  bool finish, const Epilogue& ep, PrefetchStream& weights_pf,
                                                  PrefetchStream& col_pf) {
  __m512 acc[NB][NP];
  for (int b = 0; b < NB; ++b) {
    const __m512 init = _mm512_loadu_ps(bias + 16 * b);
    const float* out = dst + b * dst_stride;
    for (int p = 0; p < NP; ++p) {
      switch (start) {
        case Start::kBias: acc[b][p] = init; break;
        case Start::kBiasAndDst: acc[b][p] = _mm512_add_ps(init, _mm512_loadu_ps(out + p * 16)); break;
        case Start::kDst: acc[b][p] = _mm512_loadu_ps(out + p * 16); break;
      }
    }
  }
  for (int64_t kb = 0; kb < kblocks; ++kb) {
    const float* xb = col + kb * col_stride;
    const float* wb = w + kb * 16 * 16 * NB;
    weights_pf.issue();
    col_pf.issue();
#pragma GCC unroll 4
    for (int i = 0; i < 16; ++i) {
      __m512 wv[NB];
      for (int b = 0; b < NB; ++b) wv[b] = _mm512_loadu_ps(wb + (i * NB + b) * 16);
      for (int p = 0; p < NP; ++p) {
        const __m512 x = _mm512_set1_ps(xb[p * 16 + i]);
        for (int b = 0; b < NB; ++b) acc[b][p] = _mm512_fmadd_ps(wv[b], x, acc[b][p]);
      }
    }
  }
  const Act act = finish ? ep.act : Act::kNone;
  for (int b = 0; b < NB; ++b) {
    float* out = dst + b * dst_stride;
    for (int p = 0; p < NP; ++p) _mm512_storeu_ps(out + p * 16, activate(acc[b][p], act, ep));
  }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

using TileFn = void (*)(const float*, const float*, int64_t, int64_t, float*, int64_t, const float*, Start, bool,
                        const Epilogue&, PrefetchStream&, PrefetchStream&);

template <int NB, int... NP>
constexpr std::array<TileFn, sizeof...(NP)> tile_table(std::integer_sequence<int, NP...>) {
  return {&conv_tile<NP + 1, NB>...};
}
// kTiles[nb - 1][np - 1]: the micro-kernel for np pixels and nb channel blocks.
inline const std::array<std::array<TileFn, kTilePixels>, 2> kTiles = {
    tile_table<1>(std::make_integer_sequence<int, kTilePixels>{}),
    tile_table<2>(std::make_integer_sequence<int, kTilePixels>{})};


// The epilogue for a fused activation; false for the ones the micro-kernel does not apply (sigmoid family).
inline bool parse_epilogue(const FusedActivation& act, Epilogue* ep) {
  ep->residual = act.residual;
  switch (act.kind) {
    case FusedActivationKind::kNone: ep->act = Act::kNone; return true;
    case FusedActivationKind::kRelu: ep->act = Act::kRelu; return true;
    case FusedActivationKind::kClip:
      ep->act = Act::kClip, ep->lo = act.alpha, ep->hi = act.beta;
      return true;
    case FusedActivationKind::kLeakyRelu:
      ep->act = Act::kLeakyRelu, ep->alpha = act.alpha;
      return true;
    default: return false;  // sigmoid-family activations: oneDNN's eltwise post-ops
  }
}

}  // namespace lowbit::onednn::gemm
