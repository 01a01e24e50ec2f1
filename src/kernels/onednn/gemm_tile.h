// The FP32 GEMM micro-kernel lowbit's own convolutions share (conv_streaming.cpp, conv_winograd.cpp), for AVX-512
// and AVX2 (simd.h; the code is gemm_tile.inc):
// NP "pixels" x NB blocks of W output channels accumulated in registers over K input rows, with the
// bias / residual / activation epilogue applied before the single store, and software prefetch of what the
// caller needs next spread over the row steps.
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include "kernels/onednn/simd.h"
#include "ops/fused_activation.h"

namespace lowbit::onednn::gemm {

enum class Act { kNone, kRelu, kClip, kLeakyRelu };

struct Epilogue {
  Act act = Act::kNone;
  float lo = 0, hi = 0, alpha = 0;
  bool residual = false;
};

// How a tile's accumulators start: callers may split K into chunks of rows; the first chunk starts from the bias
// (plus the residual already in dst), later ones from the partial sums in dst, and only the last applies the
// activation.
enum class Start { kBias, kBiasAndDst, kDst };

// Cache lines to pull into L2 while tiles compute: [p, end), `lines` per block-of-rows step.
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

using TileFn = void (*)(const float*, const float*, int64_t, int64_t, float*, int64_t, const float*, Start, bool,
                        const Epilogue&, PrefetchStream&, PrefetchStream&);

// The micro-kernel once per instruction set (simd.h): gemm::avx512::kTiles, gemm::avx2::kTiles.
namespace avx512 {
using Vec = simd::Avx512;
#define LOWBIT_SIMD_TARGET __attribute__((target("avx512f")))
#include "kernels/onednn/gemm_tile.inc"
#undef LOWBIT_SIMD_TARGET
}  // namespace avx512
namespace avx2 {
using Vec = simd::Avx2;
#define LOWBIT_SIMD_TARGET __attribute__((target("avx2,fma")))
#include "kernels/onednn/gemm_tile.inc"
#undef LOWBIT_SIMD_TARGET
}  // namespace avx2

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
