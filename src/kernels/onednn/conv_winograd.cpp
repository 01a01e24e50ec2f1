// Winograd FP32 convolution F(m x m, 3 x 3), m = 2 or 4, for dense 3x3 stride-1 "same" convolutions, as
// lowbit's own AVX-512 kernel in nChw16c.
//
// Why: oneDNN 2.6 only has F(2x2, 3x3) on AVX-512 (jit_fp32_wino_2x3), whose batched GEMM runs at ~110-140
// GMAC/s of real multiplies on this machine. Here the transformed GEMM is the streaming convolution's
// micro-kernel (gemm_tile.h, ~200 GMAC/s with its operands in L2), and on maps of 28x28 and up F(4x4, 3x3)
// needs 1.8x fewer multiplies again (36 per 4x4 outputs instead of 16 per 2x2). Measured per layer and on
// resnet50 in bench/README.md.
//
// Three passes, each split over the plan's threads:
//   1. input transform: every m x m output tile's (m+2) x (m+2) input patch (zeros outside the map), per block of
//      16 channels, to V = B^T d B, stored as one GEMM operand per transformed position xi: V[xi][c/16][tile][16];
//   2. (m+2)^2 GEMMs, M[xi] = U[xi] x V[xi] over the input channels, U = G g G^T the weights transformed once
//      when the kernel is built; a task is one position xi and one group of 32 output channels, and the
//      micro-kernel prefetches the next task's weights (and its V, written half by the other core) meanwhile;
//   3. output transform: Y = A^T M A per tile and block of 16 output channels, then bias, the residual already in
//      dst (oneDNN's sum post-op convention), Relu / Clip / LeakyRelu, stored clipped to the map.
//
// Numerics: the transforms reassociate the sums (F(4x4) also scales by 1/4, 1/6, 1/24 and 8): outputs within
// ~1e-6 relative of the direct sum on resnet50's layers; tests compare with the reference kernel within 1e-4.
// LOWBIT_WINOGRAD=onednn in the environment hands these convolutions back to oneDNN's Winograd (A/B runs).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>

#include "kernels/onednn/gemm_tile.h"
#include "kernels/onednn/onednn_kernel.h"

namespace lowbit::onednn {
namespace {

using namespace gemm;

constexpr int64_t kMaxTransformedBytes = int64_t(4) << 20;

// Transform matrices (Lavin & Gray 2016): F(2, 3) interpolates at 0, 1, -1, inf; F(4, 3) at 0, 1, -1, 2, -2, inf.
template <int M>
struct Wino;
template <>
struct Wino<2> {
  static constexpr int A = 4;
  static constexpr float BT[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
  static constexpr float G[4][3] = {{1, 0, 0}, {.5f, .5f, .5f}, {.5f, -.5f, .5f}, {0, 0, 1}};
  static constexpr float AT[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
};
template <>
struct Wino<4> {
  static constexpr int A = 6;
  static constexpr float BT[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                                     {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
  static constexpr float G[6][3] = {{1 / 4.f, 0, 0},           {-1 / 6.f, -1 / 6.f, -1 / 6.f},
                                    {-1 / 6.f, 1 / 6.f, -1 / 6.f}, {1 / 24.f, 1 / 12.f, 1 / 6.f},
                                    {1 / 24.f, -1 / 12.f, 1 / 6.f}, {0, 0, 1}};
  static constexpr float AT[4][6] = {
      {1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
};

// GCC 12 flags the intrinsics' own self-initialized temporaries (-Wmaybe-uninitialized) in these loops.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// sum_k c[k] * x[k * stride] over N terms, with the matrices' zeros skipped and +-1 as adds: the coefficients are
// compile-time constants, so once unrolled only the nonzero terms remain.
template <int N>
__attribute__((target("avx512f"), always_inline)) inline __m512 combine(const float (&c)[N], const __m512* x,
                                                                         int stride) {
  __m512 r = _mm512_setzero_ps();
#pragma GCC unroll 8
  for (int k = 0; k < N; ++k) {
    if (c[k] == 0.f) continue;
    const __m512 v = x[k * stride];
    if (c[k] == 1.f) r = _mm512_add_ps(r, v);
    else if (c[k] == -1.f) r = _mm512_sub_ps(r, v);
    else r = _mm512_fmadd_ps(_mm512_set1_ps(c[k]), v, r);
  }
  return r;
}

// V = B^T d B for one tile and one block of 16 channels. `x` is the block's first pixel, pixels `pixel_stride`
// floats apart row-major ([ih][iw][16] in nChw16c, the channel slice of [ih][iw][C] in nhwc), (y0, x0) the
// patch's top-left input pixel (may lie outside: zeros), `v` the tile's slot in V[0], `xi_stride` the distance
// between consecutive positions xi.
template <int M>
__attribute__((target("avx512f"))) void input_tile(const float* x, int64_t pixel_stride, int64_t ih, int64_t iw,
                                                   int64_t y0, int64_t x0, float* v, int64_t xi_stride) {
  using W = Wino<M>;
  constexpr int A = W::A;
  __m512 d[A * A], t[A * A];
  const bool inside = y0 >= 0 && x0 >= 0 && y0 + A <= ih && x0 + A <= iw;
  for (int i = 0; i < A; ++i)
    for (int j = 0; j < A; ++j) {
      const int64_t yy = y0 + i, xx = x0 + j;
      const bool in_map = inside || (yy >= 0 && yy < ih && xx >= 0 && xx < iw);
      d[i * A + j] = in_map ? _mm512_loadu_ps(x + (yy * iw + xx) * pixel_stride) : _mm512_setzero_ps();
    }
#pragma GCC unroll 8
  for (int i = 0; i < A; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < A; ++j) t[i * A + j] = combine<A>(W::BT[i], d + j, A);  // (B^T d)[i][j]
#pragma GCC unroll 8
  for (int i = 0; i < A; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < A; ++j) _mm512_storeu_ps(v + (i * A + j) * xi_stride, combine<A>(W::BT[j], t + i * A, 1));
}

// Y = A^T M A for one tile and one block of 16 output channels, then the epilogue, stored where the tile lies
// inside the output map. `m` is the tile's slot in M[0], `y` the block's [oh][ow][16] map.
template <int M>
__attribute__((target("avx512f"))) void output_tile(const float* m, int64_t xi_stride, float* y, int64_t oh,
                                                    int64_t ow, int64_t y0, int64_t x0, const float* bias16,
                                                    const Epilogue& ep) {
  using W = Wino<M>;
  constexpr int A = W::A;
  __m512 s[A * A], t[M * A];
  for (int i = 0; i < A * A; ++i) s[i] = _mm512_loadu_ps(m + i * xi_stride);
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < A; ++j) t[i * A + j] = combine<A>(W::AT[i], s + j, A);  // (A^T M)[i][j]
  const __m512 bias = _mm512_loadu_ps(bias16);
  for (int i = 0; i < M && y0 + i < oh; ++i)
    for (int j = 0; j < M && x0 + j < ow; ++j) {
      float* out = y + ((y0 + i) * ow + x0 + j) * 16;
      __m512 v = _mm512_add_ps(combine<A>(W::AT[j], t + i * A, 1), bias);
      if (ep.residual) v = _mm512_add_ps(v, _mm512_loadu_ps(out));
      _mm512_storeu_ps(out, activate(v, ep.act, ep));
    }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

class WinogradConvKernel : public Kernel {
 public:
  void execute(dnnl::stream& stream, const std::vector<memory>& inputs, const std::vector<memory>& outputs) override {
    const memory x_mem = in_reorder_.apply(stream, inputs[0]);
    memory dst = outputs[0];
    if (residual_) residual_.apply(stream, inputs, dst);
    stream.wait();  // the loops below read x and dst outside the stream
    const float* x = static_cast<const float*>(x_mem.get_data_handle());
    float* y = static_cast<float*>(dst.get_data_handle());
    float* v = static_cast<float*>(v_.get_data_handle());
    float* mm = static_cast<float*>(m_.get_data_handle());
    auto parallel = [&](int64_t n, const std::function<void(int64_t, int64_t)>& f) {
      if (pool) pool->parallel_for(n, f);
      else f(0, n);
    };
    const int64_t icb = ic_ / 16, ocb = oc_ / 16, tiles_per_image = tiles_h_ * tiles_w_;
    // 1. Input transform, per (image, channel block, tile row).
    parallel(n_ * icb * tiles_h_, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const int64_t img = r / (icb * tiles_h_), cb = r / tiles_h_ % icb, ty = r % tiles_h_;
        // nChw16c: block cb is its own [ih][iw][16] map; nhwc: channels 16 cb.. of every pixel.
        const float* block = nhwc_ ? x + img * ih_ * iw_ * ic_ + cb * 16 : x + (img * icb + cb) * ih_ * iw_ * 16;
        const int64_t pixel_stride = nhwc_ ? ic_ : 16;
        for (int64_t tx = 0; tx < tiles_w_; ++tx) {
          const int64_t tile = img * tiles_per_image + ty * tiles_w_ + tx;
          float* slot = v + (cb * tiles_ + tile) * 16;
          const int64_t xi_stride = icb * tiles_ * 16;
          if (m_size_ == 4) input_tile<4>(block, pixel_stride, ih_, iw_, ty * 4 - 1, tx * 4 - 1, slot, xi_stride);
          else input_tile<2>(block, pixel_stride, ih_, iw_, ty * 2 - 1, tx * 2 - 1, slot, xi_stride);
        }
      }
    });
    // 2. The GEMMs, per (position, group of output channels): consecutive tasks of a thread share V[xi].
    parallel(positions_ * groups_, [&](int64_t b, int64_t e) { gemm(v, mm, b, e); });
    // 3. Output transform and epilogue, per (image, output block, tile row).
    parallel(n_ * ocb * tiles_h_, [&](int64_t b, int64_t e) {
      const float* bias = static_cast<const float*>(bias_.get_data_handle());
      for (int64_t r = b; r < e; ++r) {
        const int64_t img = r / (ocb * tiles_h_), ob = r / tiles_h_ % ocb, ty = r % tiles_h_;
        float* block = y + (img * ocb + ob) * oh_ * ow_ * 16;
        const float* bv = bias + ob * 16;
        for (int64_t tx = 0; tx < tiles_w_; ++tx) {
          const int64_t tile = img * tiles_per_image + ty * tiles_w_ + tx;
          const float* slot = mm + (ob * tiles_ + tile) * 16;
          if (m_size_ == 4) output_tile<4>(slot, ocb * tiles_ * 16, block, oh_, ow_, ty * 4, tx * 4, bv, ep_);
          else output_tile<2>(slot, ocb * tiles_ * 16, block, oh_, ow_, ty * 2, tx * 2, bv, ep_);
        }
      }
    });
  }

  // Tasks [b, e) of pass 2: task t is position t / groups_ and output group t % groups_.
  void gemm(const float* v, float* mm, int64_t b, int64_t e) const {
    const int64_t icb = ic_ / 16, ocb = oc_ / 16;
    static const float kZeroBias[32] = {};
    const Epilogue none;
    for (int64_t t = b; t < e; ++t) {
      const int64_t xi = t / groups_, group = t % groups_;
      const int nb = int(std::min<int64_t>(2, ocb - 2 * group));
      // Prefetch the next task's weights, and its V when it moves to the next position.
      PrefetchStream weights_pf, v_pf;
      const int64_t steps = (tiles_ + kTilePixels - 1) / kTilePixels * icb;
      if (t + 1 < e) {
        const int64_t next_xi = (t + 1) / groups_, next_group = (t + 1) % groups_;
        const char* w = reinterpret_cast<const char*>(weight_block(next_xi, next_group));
        weights_pf.spread(w, w + ic_ * std::min<int64_t>(32, oc_ - 32 * next_group) * 4, steps);
        if (next_xi != xi) {
          const char* nv = reinterpret_cast<const char*>(v + next_xi * icb * tiles_ * 16);
          v_pf.spread(nv, nv + icb * tiles_ * 64, steps);
        }
      }
      const float* w = weight_block(xi, group);
      const float* col = v + xi * icb * tiles_ * 16;
      float* out = mm + (xi * ocb + 2 * group) * tiles_ * 16;
      for (int64_t p0 = 0; p0 < tiles_; p0 += kTilePixels) {
        const int np = int(std::min<int64_t>(kTilePixels, tiles_ - p0));
        kTiles[size_t(nb - 1)][size_t(np - 1)](w, col + p0 * 16, tiles_ * 16, icb, out + p0 * 16, tiles_ * 16,
                                               kZeroBias, Start::kBias, true, none, weights_pf, v_pf);
      }
    }
  }

  // Transformed weights of position xi for output channels [32 * group, +width): [ic][width], width 32 (16 for a
  // last group of one block).
  const float* weight_block(int64_t xi, int64_t group) const {
    return static_cast<const float*>(u_.get_data_handle()) + (xi * groups_ + group) * ic_ * 32;
  }

  const char* implementation() const override { return "lowbit winograd conv"; }

  int m_size_ = 4;
  int64_t n_ = 1, ic_ = 0, oc_ = 0, ih_ = 0, iw_ = 0, oh_ = 0, ow_ = 0;  // padding: 1 on every side
  int64_t tiles_h_ = 0, tiles_w_ = 0, tiles_ = 0, positions_ = 0, groups_ = 0;
  Epilogue ep_;
  memory u_, bias_, v_, m_;
  bool nhwc_ = false;  // input read as it arrives in nhwc (a brgconv producer), else reordered to nChw16c
  InputReorder in_reorder_;
  ResidualInDst residual_;
};

// U = G g G^T for every (output, input) channel pair, packed per position and group of 32 output channels.
template <int M>
void transform_weights(const float* g, int64_t oc, int64_t ic, int64_t groups, float* u) {
  using W = Wino<M>;
  constexpr int A = W::A;
  for (int64_t o = 0; o < oc; ++o)
    for (int64_t c = 0; c < ic; ++c) {
      const float* k = g + (o * ic + c) * 9;
      float t[A][3];  // G g
      for (int i = 0; i < A; ++i)
        for (int j = 0; j < 3; ++j) t[i][j] = W::G[i][0] * k[j] + W::G[i][1] * k[3 + j] + W::G[i][2] * k[6 + j];
      const int64_t group = o / 32, width = std::min<int64_t>(32, oc - 32 * group);
      for (int i = 0; i < A; ++i)
        for (int j = 0; j < A; ++j) {
          const int64_t xi = i * A + j;
          u[(xi * groups + group) * ic * 32 + c * width + o % 32] =
              t[i][0] * W::G[j][0] + t[i][1] * W::G[j][1] + t[i][2] * W::G[j][2];
        }
    }
}

}  // namespace

bool winograd_applies(const Shape& in, const Shape& w, const ConvDims& d) {
  if (in.size() != 4 || w.size() != 4 || w[2] != 3 || w[3] != 3 || d.group != 1) return false;
  for (size_t i = 0; i < 2; ++i)
    if (d.strides[i] != 1 || d.dilates[i] != 0 || d.pad_l[i] != 1 || d.pad_r[i] != 1) return false;
  return in[1] % 16 == 0 && w[0] % 16 == 0;
}

std::unique_ptr<Kernel> create_winograd_conv_kernel(const std::vector<KernelInput>& inputs, const Shape& out_shape,
                                                    const ConvDims& cd, const FusedActivation& act) {
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  const char* env = std::getenv("LOWBIT_WINOGRAD");  // "onednn": oneDNN's Winograd instead (A/B runs)
  if (!avx512 || (env && std::string(env) == "onednn")) return nullptr;
  const KernelInput &x = inputs[0], &w = inputs[1];
  const Shape in = desc_shape(x.desc), &ws = w.constant->shape();
  if (!winograd_applies(in, ws, cd)) return nullptr;
  Epilogue ep;
  if (!parse_epilogue(act, &ep)) return nullptr;

  auto k = std::make_unique<WinogradConvKernel>();
  k->n_ = in[0], k->ic_ = in[1], k->ih_ = in[2], k->iw_ = in[3];
  k->oc_ = ws[0], k->oh_ = out_shape[2], k->ow_ = out_shape[3];
  // F(4x4) from 28x28 maps up: enough tiles to amortize its larger transforms and weights (36 positions).
  // (resnet50 batch 1 per layer: 56x56x64 0.32 ms with F(4x4), 0.47 with F(2x2), 0.35 oneDNN; 28x28x128 0.25 /
  // 0.36 / 0.37; 14x14x256 0.46 / 0.345 / 0.44.)
  k->m_size_ = k->oh_ * k->ow_ >= 28 * 28 ? 4 : 2;
  const int64_t m = k->m_size_, a = m + 2;
  k->tiles_h_ = (k->oh_ + m - 1) / m, k->tiles_w_ = (k->ow_ + m - 1) / m;
  k->tiles_ = k->n_ * k->tiles_h_ * k->tiles_w_;
  k->positions_ = a * a;
  k->groups_ = (k->oc_ + 31) / 32;
  // The transformed input and output (V, M) must stay within L2 + a little L3: on larger jobs (resnet50 at batch 8)
  // oneDNN's kernel, which transforms and multiplies tile block by tile block, is as fast or faster.
  if (k->positions_ * (k->ic_ + k->oc_) * k->tiles_ * int64_t(sizeof(float)) > kMaxTransformedBytes) return nullptr;
  k->ep_ = ep;

  using dt = memory::data_type;
  using tag = memory::format_tag;
  const dnnl::engine& eng = cpu_engine();
  k->u_ = memory(memory::desc({k->positions_ * k->groups_ * k->ic_ * 32}, dt::f32, tag::a), eng);
  float* u = static_cast<float*>(k->u_.get_data_handle());
  std::memset(u, 0, size_t(k->positions_ * k->groups_ * k->ic_ * 32) * sizeof(float));
  if (m == 4) transform_weights<4>(w.constant->data<float>(), k->oc_, k->ic_, k->groups_, u);
  else transform_weights<2>(w.constant->data<float>(), k->oc_, k->ic_, k->groups_, u);
  k->bias_ = padded_conv_bias(inputs, k->oc_, k->groups_ * 32);
  k->v_ = memory(memory::desc({k->positions_ * k->ic_ * k->tiles_}, dt::f32, tag::a), eng);
  k->m_ = memory(memory::desc({k->positions_ * k->oc_ * k->tiles_}, dt::f32, tag::a), eng);

  const memory::desc blocked_in({in.begin(), in.end()}, dt::f32, tag::nChw16c);
  k->nhwc_ = x.desc == memory::desc({in.begin(), in.end()}, dt::f32, tag::nhwc);
  if (!k->nhwc_) k->in_reorder_.prepare(x.desc, blocked_in);
  set_blocked_conv_layouts(*k, inputs, out_shape, ep.residual, &k->residual_);
  return k;
}

}  // namespace lowbit::onednn
