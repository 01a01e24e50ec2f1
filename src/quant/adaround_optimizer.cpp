#include "quant/adaround_optimizer.h"

#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <bit>
#include <cmath>

#include "quant/quant_math.h"

namespace lowbit::quant {
namespace {

constexpr float kZeta = 1.1f, kGamma = -0.1f;   // the rectified sigmoid's stretch (the paper's values)
constexpr float kQmin = -127.f, kQmax = 127.f;  // symmetric int8 weights (DESIGN.md)
constexpr float kAdamBeta1 = 0.9f, kAdamBeta2 = 0.999f, kAdamEps = 1e-8f;
// Products smaller than this (multiply-adds) run as plain loops: oneDNN's call overhead would dominate.
constexpr int64_t kBlasMinWork = int64_t(1) << 17;

// The two per-weight loops are compiled for AVX-512 and AVX2 too (picked at load time): they are most of the
// optimiser's time. -ffp-contract=off (CMakeLists.txt) keeps every clone's results identical. (GCC only, and not
// under AddressSanitizer, whose start-up and load-time ifunc resolvers do not mix.)
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define LOWBIT_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LOWBIT_VECTOR_CLONES
#endif

// Polynomial exp2/log2 in plain arithmetic, so the elementwise loops vectorise: the optimiser evaluates a
// sigmoid and a power per weight and iteration (10^9 of them for mobilenet_v2), which libm calls make the
// bottleneck. Relative error ~1e-7, far below what matters for a rounding decision; deterministic.
inline float fast_exp2(float y) {
  y = std::min(std::max(y, -126.f), 126.f);
  const float n = (y + 12582912.f) - 12582912.f;  // round to nearest (1.5 * 2^23)
  const float f = (y - n) * 0.693147181f;         // |f| <= ln(2) / 2
  const float p = 1.f + f * (1.f + f * (0.5f + f * (1.f / 6 + f * (1.f / 24 + f * (1.f / 120 + f * (1.f / 720))))));
  return p * std::bit_cast<float>((int32_t(n) + 127) << 23);
}
inline float fast_log2(float a) {  // a > 0, normal
  const int32_t bits = std::bit_cast<int32_t>(a);
  const float e = float((bits >> 23) - 127);
  const float m = std::bit_cast<float>((bits & 0x007fffff) | 0x3f800000);  // [1, 2)
  const float t = (m - 1.f) / (m + 1.f);                                   // [0, 1/3)
  const float t2 = t * t;
  const float ln_m = 2.f * t * (1.f + t2 * (1.f / 3 + t2 * (1.f / 5 + t2 * (1.f / 7 + t2 * (1.f / 9)))));
  return e + ln_m * 1.44269504f;
}
inline float sigmoid(float v) { return 1.f / (1.f + fast_exp2(-v * 1.44269504f)); }

// One row of the relaxed weights' errors: e = s * clamp(base + h(V), -127, 127) - w; keeps sigmoid(V) in `sig`.
// (Raw restrict pointers: with vectors GCC gives up on the aliasing checks and does not vectorise.)
LOWBIT_VECTOR_CLONES void relaxed_errors(int64_t n, float s, const float* __restrict v, const float* __restrict base,
                                         const float* __restrict w, float* __restrict sig, float* __restrict e) {
  for (int64_t i = 0; i < n; ++i) {
    const float sg = sigmoid(v[i]);
    sig[i] = sg;
    const float h = std::min(std::max(sg * (kZeta - kGamma) + kGamma, 0.f), 1.f);
    const float q = std::min(std::max(base[i] + h, kQmin), kQmax);
    e[i] = s * q - w[i];
  }
}

struct StepConstants {
  float rec;  // d loss / d e = rec * (G = E H)   (includes the row's scale)
  float reg;  // -2 * lambda * beta, or 0 during the warm-up
  float beta;
  float step;  // Adam: learning rate / (1 - beta1^t)
  float inv_bc2;
};

// One Adam step on one row: gradient of the reconstruction term (g = E H) and of the regulariser through h(V).
LOWBIT_VECTOR_CLONES void adam_step(int64_t n, const StepConstants& k, const float* __restrict sig,
                                    const float* __restrict base, const float* __restrict g, float* __restrict m1,
                                    float* __restrict m2, float* __restrict v) {
  for (int64_t i = 0; i < n; ++i) {
    const float sg = sig[i];
    const float hs = sg * (kZeta - kGamma) + kGamma;
    const float h = std::min(std::max(hs, 0.f), 1.f);
    const float qf = base[i] + h;
    float gh = k.rec * g[i];  // zero where the clamp to [-127, 127] is active (selects, so the loop vectorises)
    gh = qf >= kQmin ? gh : 0.f;
    gh = qf <= kQmax ? gh : 0.f;
    // d/dh (1 - |2h - 1|^beta) = -2 beta |2h - 1|^(beta - 1) sign(2h - 1)
    const float u = 2.f * h - 1.f;
    const float a = std::max(std::fabs(u), 1e-30f);
    const float pw = fast_exp2((k.beta - 1.f) * fast_log2(a));
    gh += k.reg * (u < 0 ? -pw : pw);
    float grad = gh * (kZeta - kGamma) * sg * (1.f - sg);  // zero where h is clamped to 0 or 1
    grad = hs > 0.f ? grad : 0.f;
    grad = hs < 1.f ? grad : 0.f;
    const float mm = kAdamBeta1 * m1[i] + (1.f - kAdamBeta1) * grad;
    const float vv = kAdamBeta2 * m2[i] + (1.f - kAdamBeta2) * grad * grad;
    m1[i] = mm;
    m2[i] = vv;
    v[i] -= k.step * mm / (std::sqrt(vv * k.inv_bc2) + kAdamEps);
  }
}

// G = E (H + damping I) for E of p.rows x p.cols. With samples X instead of H: G = (E X^T) X / n + damping E.
void times_h(const RoundingProblem& p, const float* e, float* g, std::vector<float>& scratch, bool blas) {
  const int64_t rows = p.rows, d = p.cols;
  if (p.h) {
    if (blas && rows * d * d >= kBlasMinWork) {
      dnnl_sgemm('N', 'N', rows, d, d, 1.f, e, d, p.h, d, 0.f, g, d);
    } else {
      for (int64_t r = 0; r < rows; ++r) {
        float* gr = g + r * d;
        std::fill(gr, gr + d, 0.f);
        for (int64_t k = 0; k < d; ++k) {
          const float ek = e[r * d + k];
          const float* hk = p.h + k * d;  // row k = column k (H is symmetric)
          if (ek != 0.f)
            for (int64_t j = 0; j < d; ++j) gr[j] += ek * hk[j];
        }
      }
    }
  } else {
    const int64_t n = p.n;
    scratch.resize(size_t(rows * n));
    float* t = scratch.data();
    if (blas && rows * d * n >= kBlasMinWork) {
      dnnl_sgemm('N', 'T', rows, n, d, 1.f, e, d, p.x, d, 0.f, t, n);
      dnnl_sgemm('N', 'N', rows, d, n, 1.f / float(n), t, n, p.x, d, 0.f, g, d);
    } else {
      for (int64_t r = 0; r < rows; ++r) {
        const float* er = e + r * d;
        for (int64_t i = 0; i < n; ++i) {
          const float* xi = p.x + i * d;
          float acc = 0.f;
          for (int64_t k = 0; k < d; ++k) acc += er[k] * xi[k];
          t[r * n + i] = acc / float(n);
        }
        float* gr = g + r * d;
        std::fill(gr, gr + d, 0.f);
        for (int64_t i = 0; i < n; ++i) {
          const float ti = t[r * n + i];
          const float* xi = p.x + i * d;
          for (int64_t k = 0; k < d; ++k) gr[k] += ti * xi[k];
        }
      }
    }
  }
  if (p.damping != 0.f)
    for (int64_t i = 0; i < rows * d; ++i) g[i] += p.damping * e[i];
}

std::vector<double> row_losses(const RoundingProblem& p, const float* e, std::vector<float>& g,
                               std::vector<float>& scratch, bool blas) {
  g.resize(size_t(p.rows * p.cols));
  times_h(p, e, g.data(), scratch, blas);
  std::vector<double> loss(static_cast<size_t>(p.rows), 0.0);
  for (int64_t r = 0; r < p.rows; ++r)
    for (int64_t k = 0; k < p.cols; ++k)
      loss[size_t(r)] += double(e[r * p.cols + k]) * double(g[size_t(r * p.cols + k)]);
  return loss;
}

std::vector<float> errors_of(const RoundingProblem& p, const int8_t* codes) {
  std::vector<float> e(static_cast<size_t>(p.rows * p.cols));
  for (int64_t r = 0; r < p.rows; ++r)
    for (int64_t k = 0; k < p.cols; ++k) {
      const int64_t i = r * p.cols + k;
      e[size_t(i)] = p.scales[r] * float(codes[i]) - p.weights[i];
    }
  return e;
}

// Runs body(begin, end) over rows, on the pool when there is one.
template <typename F>
void for_rows(ThreadPool* pool, int64_t rows, int64_t cols, const F& body) {
  if (pool && rows > 1)
    pool->parallel_for(rows, body, std::max<int64_t>(1, 4096 / std::max<int64_t>(cols, 1)));
  else
    body(0, rows);
}

}  // namespace

std::vector<int8_t> nearest_codes(const RoundingProblem& p) {
  std::vector<int8_t> q(static_cast<size_t>(p.rows * p.cols));
  for (int64_t r = 0; r < p.rows; ++r)
    for (int64_t k = 0; k < p.cols; ++k) {
      const int64_t i = r * p.cols + k;
      q[size_t(i)] = int8_t(std::clamp<int>(round_and_saturate<int8_t>(p.weights[i] / p.scales[r], 0), -127, 127));
    }
  return q;
}

std::vector<double> rounding_loss(const RoundingProblem& p, const int8_t* codes, bool blas) {
  std::vector<float> g, scratch;
  std::vector<float> e = errors_of(p, codes);
  return row_losses(p, e.data(), g, scratch, blas);
}

std::vector<int8_t> optimize_rounding(const RoundingProblem& p, const AdaRoundParams& params, ThreadPool* pool,
                                      bool blas) {
  const int64_t rows = p.rows, d = p.cols, total = rows * d;
  std::vector<int8_t> nearest = nearest_codes(p);
  std::vector<float> g(static_cast<size_t>(total)), scratch;
  std::vector<float> e = errors_of(p, nearest.data());
  const std::vector<double> nearest_loss = row_losses(p, e.data(), g, scratch, blas);
  double l0 = 0;
  for (double l : nearest_loss) l0 += l;
  if (!(l0 > 0) || !std::isfinite(l0) || params.iterations <= 0 || total == 0) return nearest;

  // V starts where h(V) = w/s - floor(w/s), i.e. where the relaxed weights equal the float ones.
  std::vector<float> base(static_cast<size_t>(total)), v(static_cast<size_t>(total)),
      m1(static_cast<size_t>(total), 0.f), m2(static_cast<size_t>(total), 0.f), sig(static_cast<size_t>(total));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < d; ++k) {
      const int64_t i = r * d + k;
      const float x = p.weights[i] / p.scales[r];
      const float fl = std::isfinite(x) ? std::floor(x) : 0.f;
      base[size_t(i)] = fl;
      const float frac = std::clamp(x - fl, 0.f, 1.f);
      const float s = (frac - kGamma) / (kZeta - kGamma);  // in (0.08, 0.92)
      v[size_t(i)] = std::log(s / (1.f - s));
    }
  // The loss is scaled so its gradient per weight is O(1) (Adam's epsilon then stays negligible):
  // total * rec / rec(nearest) + reg_weight * sum(1 - |2h - 1|^beta).
  const float c_rec = float(2.0 * double(total) / l0);
  const int warm = int(params.warmup * float(params.iterations));
  const float* w = p.weights;
  const float* s = p.scales;
  float b1t = 1.f, b2t = 1.f;
  for (int it = 0; it < params.iterations; ++it) {
    for_rows(pool, rows, d, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        relaxed_errors(d, s[r], v.data() + r * d, base.data() + r * d, w + r * d, sig.data() + r * d, e.data() + r * d);
    });
    times_h(p, e.data(), g.data(), scratch, blas);

    const bool reg_on = it >= warm;
    const float rel = reg_on ? float(it - warm) / float(std::max(1, params.iterations - warm)) : 0.f;
    const float beta = params.beta_end + (params.beta_start - params.beta_end) * (1.f - rel);
    const float c_reg = reg_on ? -2.f * params.reg_weight * beta : 0.f;
    b1t *= kAdamBeta1;
    b2t *= kAdamBeta2;
    const float step = params.learning_rate / (1.f - b1t);
    const float inv_bc2 = 1.f / (1.f - b2t);
    for_rows(pool, rows, d, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const StepConstants k{c_rec * s[r], c_reg, beta, step, inv_bc2};
        const int64_t o = r * d;
        adam_step(d, k, sig.data() + o, base.data() + o, g.data() + o, m1.data() + o, m2.data() + o, v.data() + o);
      }
    });
  }

  // Hard rounding: up where h(V) >= 0.5, i.e. V >= 0.
  std::vector<int8_t> codes(static_cast<size_t>(total));
  for (int64_t i = 0; i < total; ++i)
    codes[size_t(i)] = int8_t(std::min(std::max(base[size_t(i)] + (v[size_t(i)] >= 0.f ? 1.f : 0.f), kQmin), kQmax));
  e = errors_of(p, codes.data());
  const std::vector<double> loss = row_losses(p, e.data(), g, scratch, blas);
  for (int64_t r = 0; r < rows; ++r)
    if (!(loss[size_t(r)] <= nearest_loss[size_t(r)]))
      std::copy(nearest.begin() + r * d, nearest.begin() + (r + 1) * d, codes.begin() + r * d);
  return codes;
}

}  // namespace lowbit::quant
