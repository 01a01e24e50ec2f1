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

// One instruction set's kernels (winograd_tiles.inc): block width, GEMM tile pixels, the input and output
// transforms for F(2x2) ([0]) and F(4x4) ([1]), and the GEMM micro-kernels.
struct WinogradIsa {
  int width, tile_pixels;
  void (*input[2])(const float*, int64_t, int64_t, int64_t, int64_t, int64_t, float*, int64_t);
  void (*output[2])(const float*, int64_t, float*, int64_t, int64_t, int64_t, int64_t, const float*, const Epilogue&);
  TileFn (*tile)(int nb, int np);
};

namespace tiles_avx512 {
using namespace gemm::avx512;
#define LOWBIT_SIMD_TARGET __attribute__((target("avx512f")))
#include "kernels/onednn/winograd_tiles.inc"
#undef LOWBIT_SIMD_TARGET
}  // namespace tiles_avx512
namespace tiles_avx2 {
using namespace gemm::avx2;
#define LOWBIT_SIMD_TARGET __attribute__((target("avx2,fma")))
#include "kernels/onednn/winograd_tiles.inc"
#undef LOWBIT_SIMD_TARGET
}  // namespace tiles_avx2

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
    const int64_t w = isa_->width, icb = ic_ / w, ocb = oc_ / w, tiles_per_image = tiles_h_ * tiles_w_;
    const int mi = m_size_ == 4 ? 1 : 0;
    // 1. Input transform, per (image, channel block, tile row).
    parallel(n_ * icb * tiles_h_, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const int64_t img = r / (icb * tiles_h_), cb = r / tiles_h_ % icb, ty = r % tiles_h_;
        // nChw16c / nChw8c: block cb is its own [ih][iw][w] map; nhwc: channels w cb.. of every pixel.
        const float* block = nhwc_ ? x + img * ih_ * iw_ * ic_ + cb * w : x + (img * icb + cb) * ih_ * iw_ * w;
        const int64_t pixel_stride = nhwc_ ? ic_ : w;
        for (int64_t tx = 0; tx < tiles_w_; ++tx) {
          const int64_t tile = img * tiles_per_image + ty * tiles_w_ + tx;
          float* slot = v + (cb * tiles_ + tile) * w;
          const int64_t xi_stride = icb * tiles_ * w;
          isa_->input[mi](block, pixel_stride, ih_, iw_, ty * m_size_ - 1, tx * m_size_ - 1, slot, xi_stride);
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
        float* block = y + (img * ocb + ob) * oh_ * ow_ * w;
        const float* bv = bias + ob * w;
        for (int64_t tx = 0; tx < tiles_w_; ++tx) {
          const int64_t tile = img * tiles_per_image + ty * tiles_w_ + tx;
          const float* slot = mm + (ob * tiles_ + tile) * w;
          isa_->output[mi](slot, ocb * tiles_ * w, block, oh_, ow_, ty * m_size_, tx * m_size_, bv, ep_);
        }
      }
    });
  }

  // Tasks [b, e) of pass 2: task t is position t / groups_ and output group t % groups_.
  void gemm(const float* v, float* mm, int64_t b, int64_t e) const {
    const int64_t w = isa_->width, icb = ic_ / w, ocb = oc_ / w, group_width = 2 * w, tile_pixels = isa_->tile_pixels;
    static const float kZeroBias[32] = {};
    const Epilogue none;
    for (int64_t t = b; t < e; ++t) {
      const int64_t xi = t / groups_, group = t % groups_;
      const int nb = int(std::min<int64_t>(2, ocb - 2 * group));
      // Prefetch the next task's weights, and its V when it moves to the next position.
      PrefetchStream weights_pf, v_pf;
      const int64_t steps = (tiles_ + tile_pixels - 1) / tile_pixels * icb;
      if (t + 1 < e) {
        const int64_t next_xi = (t + 1) / groups_, next_group = (t + 1) % groups_;
        const char* nw = reinterpret_cast<const char*>(weight_block(next_xi, next_group));
        weights_pf.spread(nw, nw + ic_ * std::min(group_width, oc_ - group_width * next_group) * 4, steps);
        if (next_xi != xi) {
          const char* nv = reinterpret_cast<const char*>(v + next_xi * icb * tiles_ * w);
          v_pf.spread(nv, nv + icb * tiles_ * w * 4, steps);
        }
      }
      const float* u = weight_block(xi, group);
      const float* col = v + xi * icb * tiles_ * w;
      float* out = mm + (xi * ocb + 2 * group) * tiles_ * w;
      for (int64_t p0 = 0; p0 < tiles_; p0 += tile_pixels) {
        const int np = int(std::min(tile_pixels, tiles_ - p0));
        isa_->tile(nb, np)(u, col + p0 * w, tiles_ * w, icb, out + p0 * w, tiles_ * w, kZeroBias, Start::kBias, true,
                           none, weights_pf, v_pf);
      }
    }
  }

  // Transformed weights of position xi for output channels [2w * group, +width): [ic][width], width 2w (w for a
  // last group of one block), w the block width.
  const float* weight_block(int64_t xi, int64_t group) const {
    return static_cast<const float*>(u_.get_data_handle()) + (xi * groups_ + group) * ic_ * 2 * isa_->width;
  }

  const char* implementation() const override { return "lowbit winograd conv"; }

  int m_size_ = 4;
  int64_t n_ = 1, ic_ = 0, oc_ = 0, ih_ = 0, iw_ = 0, oh_ = 0, ow_ = 0;  // padding: 1 on every side
  int64_t tiles_h_ = 0, tiles_w_ = 0, tiles_ = 0, positions_ = 0, groups_ = 0;
  Epilogue ep_;
  memory u_, bias_, v_, m_;
  bool nhwc_ = false;  // input read as it arrives in nhwc (a brgconv producer), else reordered to nChw16c / 8c
  const WinogradIsa* isa_ = nullptr;
  InputReorder in_reorder_;
  ResidualInDst residual_;
};

// U = G g G^T for every (output, input) channel pair, packed per position and group of `gw` output channels.
template <int M>
void transform_weights(const float* g, int64_t oc, int64_t ic, int64_t groups, int64_t gw, float* u) {
  using W = Wino<M>;
  constexpr int A = W::A;
  for (int64_t o = 0; o < oc; ++o)
    for (int64_t c = 0; c < ic; ++c) {
      const float* k = g + (o * ic + c) * 9;
      float t[A][3];  // G g
      for (int i = 0; i < A; ++i)
        for (int j = 0; j < 3; ++j) t[i][j] = W::G[i][0] * k[j] + W::G[i][1] * k[3 + j] + W::G[i][2] * k[6 + j];
      const int64_t group = o / gw, width = std::min(gw, oc - gw * group);
      for (int i = 0; i < A; ++i)
        for (int j = 0; j < A; ++j) {
          const int64_t xi = i * A + j;
          u[(xi * groups + group) * ic * gw + c * width + o % gw] =
              t[i][0] * W::G[j][0] + t[i][1] * W::G[j][1] + t[i][2] * W::G[j][2];
        }
    }
}

}  // namespace

bool winograd_applies(const Shape& in, const Shape& w, const ConvDims& d) {
  if (in.size() != 4 || w.size() != 4 || w[2] != 3 || w[3] != 3 || d.group != 1) return false;
  for (size_t i = 0; i < 2; ++i)
    if (d.strides[i] != 1 || d.dilates[i] != 0 || d.pad_l[i] != 1 || d.pad_r[i] != 1) return false;
  const int width = simd::vector_width();
  return width > 0 && in[1] % width == 0 && w[0] % width == 0;
}

std::unique_ptr<Kernel> create_winograd_conv_kernel(const std::vector<KernelInput>& inputs, const Shape& out_shape,
                                                    const ConvDims& cd, const FusedActivation& act) {
  const char* env = std::getenv("LOWBIT_WINOGRAD");  // "onednn": oneDNN's kernels instead (A/B runs)
  if (env && std::string(env) == "onednn") return nullptr;
  const KernelInput &x = inputs[0], &w = inputs[1];
  const Shape in = desc_shape(x.desc), &ws = w.constant->shape();
  if (!winograd_applies(in, ws, cd)) return nullptr;
  Epilogue ep;
  if (!parse_epilogue(act, &ep)) return nullptr;

  auto k = std::make_unique<WinogradConvKernel>();
  k->isa_ = simd::vector_width() == 16 ? &tiles_avx512::kIsa : &tiles_avx2::kIsa;
  const int64_t gw = 2 * k->isa_->width;  // output channels per GEMM task: two blocks
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
  k->groups_ = (k->oc_ + gw - 1) / gw;
  // The transformed input and output (V, M) must stay within L2 + a little L3: on larger jobs (resnet50 at batch 8)
  // oneDNN's kernel, which transforms and multiplies tile block by tile block, is as fast or faster.
  if (k->positions_ * (k->ic_ + k->oc_) * k->tiles_ * int64_t(sizeof(float)) > kMaxTransformedBytes) return nullptr;
  k->ep_ = ep;

  using dt = memory::data_type;
  using tag = memory::format_tag;
  const dnnl::engine& eng = cpu_engine();
  k->u_ = memory(memory::desc({k->positions_ * k->groups_ * k->ic_ * gw}, dt::f32, tag::a), eng);
  float* u = static_cast<float*>(k->u_.get_data_handle());
  std::memset(u, 0, size_t(k->positions_ * k->groups_ * k->ic_ * gw) * sizeof(float));
  if (m == 4) transform_weights<4>(w.constant->data<float>(), k->oc_, k->ic_, k->groups_, gw, u);
  else transform_weights<2>(w.constant->data<float>(), k->oc_, k->ic_, k->groups_, gw, u);
  k->bias_ = padded_conv_bias(inputs, k->oc_, k->groups_ * gw);
  k->v_ = memory(memory::desc({k->positions_ * k->ic_ * k->tiles_}, dt::f32, tag::a), eng);
  k->m_ = memory(memory::desc({k->positions_ * k->oc_ * k->tiles_}, dt::f32, tag::a), eng);

  const memory::desc blocked_in({in.begin(), in.end()}, dt::f32, own_blocked_tag());
  k->nhwc_ = x.desc == memory::desc({in.begin(), in.end()}, dt::f32, tag::nhwc);
  if (!k->nhwc_) k->in_reorder_.prepare(x.desc, blocked_in);
  set_blocked_conv_layouts(*k, inputs, out_shape, ep.residual, &k->residual_);
  return k;
}

}  // namespace lowbit::onednn
