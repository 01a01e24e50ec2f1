// AdaRound's per-layer optimisation (Nagel et al. 2020, "Up or Down? Adaptive Rounding for Post-Training
// Quantization") on one block of weights that share their inputs, without an autodiff framework.
//
// For a linear layer y = W x (a Conv is one after im2col), the reconstruction error of output channel r over
// the calibration inputs is quadratic in its quantized weights:
//     mean_x |(w~_r - w_r) . x|^2 = (w~_r - w_r)^T H (w~_r - w_r),   H = X^T X / n  (X: n sampled inputs)
// so only H (or X itself when n is small) is needed from data. Each weight chooses floor or ceil:
//     w~ = s * clamp(floor(w / s) + h(V), -127, 127),  h(V) = clamp(sigmoid(V) * 1.2 - 0.1, 0, 1)
// and Adam minimises  rec(V) / rec(nearest) + lambda * mean(1 - |2 h(V) - 1|^beta)  with beta annealed from 20
// to 2, which drives every h to 0 or 1. The result is hard rounding (h >= 0.5 -> up); a row whose result is
// worse on H than round-to-nearest keeps round-to-nearest.
//
//   RoundingProblem p{.rows = 16, .cols = 27, .weights = w, .scales = s, .h = H, .damping = 0.01f * mean_diag};
//   std::vector<int8_t> codes = optimize_rounding(p, {}, nullptr);   // each code within 1 of nearest rounding
#pragma once
#include <cstdint>
#include <vector>

#include "runtime/thread_pool.h"

namespace lowbit::quant {

struct RoundingProblem {
  int64_t rows = 0, cols = 0;
  const float* weights = nullptr;  // rows x cols, row-major (one row per output channel)
  const float* scales = nullptr;   // one per row: the (fixed) int8 weight scale of that output channel
  // The input second moments, one of the two:
  const float* h = nullptr;  // cols x cols: H = X^T X / n (symmetric)
  const float* x = nullptr;  // n x cols: the sampled inputs themselves (cheaper when n < cols / 2)
  int64_t n = 0;
  float damping = 0;  // added to H's diagonal: pulls towards nearest rounding where data is scarce
};

// Defaults tuned on mobilenet_v2's layers (geometric mean of the held-out layer error against nearest rounding,
// 500 iterations: lambda 0.1 -> 0.57x, 10 -> 0.15x, 30-100 -> 0.13x; 300 / 500 / 1000 iterations -> 0.17x / 0.13x /
// 0.12x). The paper's warm-up without the regulariser is dropped (10% warm-up: 0.15x instead of 0.12x): the
// relaxation starts exactly at the float weights (zero reconstruction error), so it would only spend iterations.
struct AdaRoundParams {
  int iterations = 500;
  float learning_rate = 0.05f;
  float reg_weight = 100.f;  // lambda: the loss is  rec / rec(nearest) * weights + lambda * sum of regulariser terms
  float warmup = 0.f;        // fraction of iterations without the regulariser
  float beta_start = 20.f, beta_end = 2.f;
};

// Round half to even of w / s, clamped to [-127, 127] (exactly what quantize_weight produces).
std::vector<int8_t> nearest_codes(const RoundingProblem& p);
// Per row: (s q - w)^T (H + damping I) (s q - w), summed in double (`blas`: as in optimize_rounding).
std::vector<double> rounding_loss(const RoundingProblem& p, const int8_t* codes, bool blas = false);
// The AdaRound codes: each in {floor(w/s), floor(w/s) + 1} and in [-127, 127]. Deterministic. `pool` (may be
// null) parallelises the elementwise work; `blas` lets big products use oneDNN's threaded sgemm (pass false
// when calling from several threads at once).
std::vector<int8_t> optimize_rounding(const RoundingProblem& p, const AdaRoundParams& params, ThreadPool* pool,
                                      bool blas = true);

}  // namespace lowbit::quant
