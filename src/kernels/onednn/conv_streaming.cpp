// FP32 convolution for small output maps (resnet50's layers 3-4 at batch 1: 1-9 MiB of weights a layer, each
// weight used only 49 or 196 times), as a GEMM over packed weights that prefetches the weights it needs next
// while it computes.
//
// Why: a model's weights (100 MiB for resnet50) do not stay in this machine's share of L3 from one run to the
// next, so these layers stream their weights from DRAM, and oneDNN 2.6's kernels stall on them (layer-4 3x3:
// 0.9 ms in the model, 0.62 ms with its weights in cache). Prefetching ahead recovers part of it: 0.8-0.95x
// oneDNN's time per convolution, resnet50 batch 1 3-6% faster (bench/README.md).
//
// Layout: input and output in lowbit's blocked layout (nChw16c with AVX-512, nChw8c with AVX2: simd.h; the one
// the network around these layers already uses), so a 1x1 stride-1 convolution reads its input as it is: block kb
// of W channels is a [pixels][W] matrix. Other shapes (3x3, strides, pads, dilations) first gather an im2col copy
// in the same [K/W][pixels][W] form, with K = kernel taps x input channels. Weights are packed once, per chunk of
// 256 rows of K and group of 2W output channels, as [rows][2W]; the micro-kernel (gemm_tile.inc) keeps 14 pixels
// x 32 channels of accumulators in 28 AVX-512 registers (6 x 16 in 12 AVX2 registers) and, per row, loads two
// weight vectors and broadcasts one input value per pixel.
//
// Bias, a residual sum (dst holds the residual, as for oneDNN's sum post-op) and Relu / Clip / LeakyRelu are
// applied on the accumulators before the single store. Accumulation order differs from the reference kernel's
// (float rounding only; tests compare within 1e-4 relative). LOWBIT_STREAMING_CONV=0 in the environment turns
// the kernel off (oneDNN everywhere), for A/B runs.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "kernels/onednn/gemm_tile.h"
#include "kernels/onednn/onednn_kernel.h"

namespace lowbit::onednn {
namespace {

using namespace gemm;

// Output pixels (all images): up to 7x7, or with AVX-512 14x14 for 1x1 kernels (no im2col copy). Beyond that
// (resnet50's 14x14 3x3 and 28x28 layers, batch 8) weights are reused enough that oneDNN's kernels are as fast or
// faster (bench/conv_streaming_bench.cpp per layer; whole-model A/B in bench/README.md). On AVX2 (AMD Zen 3)
// oneDNN's 1x1 kernels win on 14x14 (0.72 vs 1.0 ms on resnet50's layer 3); on 7x7 this kernel does (layer 4:
// 3x3 1.8 vs 2.3 ms, 1x1 0.8-0.9 vs 0.96-0.99).
constexpr int64_t kMaxPixels = 49, kMaxPixels1x1Avx512 = 196, kMaxPixels1x1Avx2 = 49;
// Rows of K per pass: a chunk of columns (<= 200 KiB) stays in L2 while the groups' weights for it stream past
// (32 KiB a group); 256 measured better than 128, 512 and 1024 on every layer.
constexpr int64_t kChunkRows = 256;

TileFn tile_avx512(int nb, int np) { return gemm::avx512::kTiles[size_t(nb - 1)][size_t(np - 1)]; }
TileFn tile_avx2(int nb, int np) { return gemm::avx2::kTiles[size_t(nb - 1)][size_t(np - 1)]; }

struct Geometry {
  int64_t n = 1, ic = 0, oc = 0, ih = 0, iw = 0, oh = 0, ow = 0, kh = 1, kw = 1;
  int64_t sh = 1, sw = 1, dh = 1, dw = 1, ph = 0, pw = 0;  // dilation as ONNX counts it (1 = dense)
  bool direct() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
  int64_t pixels() const { return oh * ow; }
  int64_t k() const { return kh * kw * ic; }
};

class StreamingConvKernel : public Kernel {
 public:
  void execute(dnnl::stream& stream, const std::vector<memory>& inputs, const std::vector<memory>& outputs) override {
    const float* x = static_cast<const float*>(inputs[0].get_data_handle());
    memory dst = outputs[0];
    if (residual_) {
      residual_.apply(stream, inputs, dst);
      stream.wait();  // the loops below read dst outside the stream
    }
    float* y = static_cast<float*>(dst.get_data_handle());
    const float* col = x;
    if (!g_.direct()) {
      float* c = static_cast<float*>(col_.get_data_handle());
      const int64_t blocks = g_.n * g_.kh * g_.kw * (g_.ic / w_);
      auto gather = [&](int64_t b, int64_t e) { im2col(x, c, b, e); };
      if (pool) pool->parallel_for(blocks, gather);
      else gather(0, blocks);
      col = c;
    }
    // Enough tasks for every thread, each group's tiles split as few ways as that allows (weight reuse).
    const int64_t threads = pool ? pool->num_threads() : 1;
    const int64_t splits = std::max<int64_t>(1, (threads + groups_ - 1) / groups_), tasks = groups_ * splits;
    auto body = [&](int64_t b, int64_t e) { run(col, y, splits, b, e); };
    if (pool) pool->parallel_for(tasks, body);
    else body(0, tasks);
  }

  // Column block (image, tap, input block) `blk` for blk in [b, e): [pixels][w_] of the input at that tap.
  void im2col(const float* x, float* col, int64_t b, int64_t e) const {
    const int64_t icb = g_.ic / w_, taps = g_.kh * g_.kw, P = g_.pixels();
    for (int64_t blk = b; blk < e; ++blk) {
      const int64_t img = blk / (taps * icb), tap = blk / icb % taps, cb = blk % icb;
      const int64_t ky = tap / g_.kw, kx = tap % g_.kw;
      const float* src = x + ((img * icb + cb) * g_.ih * g_.iw) * w_;
      float* out = col + ((img * taps + tap) * icb + cb) * P * w_;
      for (int64_t oy = 0; oy < g_.oh; ++oy) {
        const int64_t iy = oy * g_.sh - g_.ph + ky * g_.dh;
        for (int64_t ox = 0; ox < g_.ow; ++ox, out += w_) {
          const int64_t ix = ox * g_.sw - g_.pw + kx * g_.dw;
          if (iy < 0 || iy >= g_.ih || ix < 0 || ix >= g_.iw) std::memset(out, 0, size_t(w_) * sizeof(float));
          else std::memcpy(out, src + (iy * g_.iw + ix) * w_, size_t(w_) * sizeof(float));
        }
      }
    }
  }

  // Packed weights of `group` for the rows [r0, r0 + rows of that chunk): chunk-major, so one chunk of all
  // groups is one contiguous run (the order a thread walks them in).
  const float* weight_block(int64_t r0, int64_t group) const {
    const int64_t rows = std::min(kChunkRows, g_.k() - r0);
    return static_cast<const float*>(weights_.get_data_handle()) + (r0 * groups_ + group * rows) * w_ * blocks_;
  }

  // Tasks [b, e): task t covers weight group t / splits and its share t % splits of the (image, tile) list.
  // Rows of K outermost: a chunk of the columns stays in L2 while the thread's groups pass over it, and each
  // group's chunk of weights is read from memory once and reused by all its tiles.
  void run(const float* col, float* y, int64_t splits, int64_t b, int64_t e) const {
    const int64_t P = g_.pixels(), K = g_.k(), ocb = g_.oc / w_;
    const int64_t tiles_per_image = (P + tile_ - 1) / tile_, tiles = g_.n * tiles_per_image;
    // Column blocks of one image: the input itself (direct) or the im2col copy.
    const int64_t image_stride = (g_.direct() ? g_.ic : K) * P;
    const float* bias = static_cast<const float*>(bias_.get_data_handle());
    for (int64_t r0 = 0; r0 < K; r0 += kChunkRows) {
      const int64_t rows = std::min(kChunkRows, K - r0);
      const Start start = r0 > 0 ? Start::kDst : ep_.residual ? Start::kBiasAndDst : Start::kBias;
      // The next chunk's columns were written by the previous layer or the im2col pass, half of them by the
      // other thread: they are pulled into this core's L2 over the whole chunk, or the next chunk's first tile
      // stalls on scattered misses (resnet50 batch 1 3% faster).
      PrefetchStream col_pf;
      if (g_.n == 1 && r0 + rows < K) {
        int64_t steps = 0;
        for (int64_t t = b; t < e; ++t) {
          const int64_t split = t % splits;
          steps += (tiles * (split + 1) / splits - tiles * split / splits) * (rows / w_);
        }
        const char* next = reinterpret_cast<const char*>(col + (r0 + rows) * P);
        col_pf.spread(next, next + std::min(kChunkRows, K - r0 - rows) * P * 4, steps);
      }
      for (int64_t t = b; t < e; ++t) {
        const int64_t group = t / splits, split = t % splits;
        const int nb = int(std::min<int64_t>(blocks_, ocb - blocks_ * group));
        const int64_t t0 = tiles * split / splits, t1 = tiles * (split + 1) / splits;
        // The weights this thread needs next (the next task's group, or the first one's next chunk) are
        // prefetched into L2 while these tiles run, spread evenly over their w_-row steps.
        PrefetchStream weights_pf;
        const int64_t next_r0 = t + 1 < e ? r0 : r0 + kChunkRows, next_group = (t + 1 < e ? t + 1 : b) / splits;
        if (next_r0 < K && !(next_r0 == r0 && next_group == group)) {
          const char* next = reinterpret_cast<const char*>(weight_block(next_r0, next_group));
          const int64_t next_width = std::min<int64_t>(blocks_, ocb - blocks_ * next_group) * w_;
          weights_pf.spread(next, next + std::min(kChunkRows, K - next_r0) * next_width * 4,
                            (t1 - t0) * (rows / w_));
        }
        const float* w = weight_block(r0, group);
        for (int64_t tile = t0; tile < t1; ++tile) {
          const int64_t img = tile / tiles_per_image, p0 = tile % tiles_per_image * tile_;
          const int np = int(std::min<int64_t>(tile_, P - p0));
          tile_fn_(nb, np)(w, col + img * image_stride + r0 * P + p0 * w_, P * w_, rows / w_,
                           y + (img * ocb + blocks_ * group) * P * w_ + p0 * w_, P * w_, bias + group * w_ * blocks_,
                           start, r0 + rows == K, ep_, weights_pf, col_pf);
        }
      }
    }
  }

  const char* implementation() const override { return "lowbit streaming conv"; }

  Geometry g_;
  Epilogue ep_;
  static constexpr int64_t blocks_ = 2;  // channel blocks per group
  int64_t w_ = 16, tile_ = 14;           // block width and tile pixels of the instruction set (simd.h)
  TileFn (*tile_fn_)(int nb, int np) = nullptr;
  int64_t groups_ = 0;
  memory weights_, bias_, col_;
  ResidualInDst residual_;
};

}  // namespace

std::unique_ptr<Kernel> create_streaming_conv_kernel(const std::vector<KernelInput>& inputs, const Shape& out_shape,
                                                     const ConvDims& cd, const FusedActivation& act) {
  const int64_t block = simd::vector_width();
  const char* env = std::getenv("LOWBIT_STREAMING_CONV");  // "0": oneDNN's kernels everywhere (A/B runs)
  const bool enabled = !(env && std::string(env) == "0");
  const KernelInput &x = inputs[0], &w = inputs[1];
  const Shape in = desc_shape(x.desc), &ws = w.constant->shape();
  if (block == 0 || !enabled || in.size() != 4 || cd.group != 1 || in[1] % block != 0 || ws[0] % block != 0)
    return nullptr;
  const bool one_by_one = ws[2] == 1 && ws[3] == 1;
  const int64_t max_pixels = !one_by_one ? kMaxPixels : block == 16 ? kMaxPixels1x1Avx512 : kMaxPixels1x1Avx2;
  if (in[0] * out_shape[2] * out_shape[3] > max_pixels) return nullptr;
  using tag = memory::format_tag;
  const memory::desc blocked_in({in.begin(), in.end()}, memory::data_type::f32, own_blocked_tag());
  if (!(x.desc == blocked_in)) return nullptr;  // only where the network already runs blocked
  Epilogue ep;
  if (!parse_epilogue(act, &ep)) return nullptr;

  Geometry g;
  g.n = in[0], g.ic = in[1], g.ih = in[2], g.iw = in[3], g.oc = ws[0], g.oh = out_shape[2], g.ow = out_shape[3];
  g.kh = ws[2], g.kw = ws[3], g.sh = cd.strides[0], g.sw = cd.strides[1], g.dh = cd.dilates[0] + 1;
  g.dw = cd.dilates[1] + 1, g.ph = cd.pad_l[0], g.pw = cd.pad_l[1];

  auto k = std::make_unique<StreamingConvKernel>();
  k->g_ = g;
  k->ep_ = ep;
  k->w_ = block;
  k->tile_ = block == 16 ? gemm::avx512::kTilePixels : gemm::avx2::kTilePixels;
  k->tile_fn_ = block == 16 ? &tile_avx512 : &tile_avx2;
  const int64_t K = g.k(), ocb = g.oc / block;
  const int64_t width = block * k->blocks_;
  k->groups_ = (ocb + k->blocks_ - 1) / k->blocks_;
  const dnnl::engine& eng = cpu_engine();
  using dt = memory::data_type;
  // Weights: per chunk of rows, group j (output channels width * j ...) as [rows][width], row kk = (ky * kw +
  // kx) * ic + c; a narrower last group is [rows][its width].
  k->weights_ = memory(memory::desc({k->groups_ * K * width}, dt::f32, tag::a), eng);
  const float* src = w.constant->data<float>();
  const int64_t taps = g.kh * g.kw;
  // Written in order, a chunk's [rows][gw] at a time (row kk of output channel o is src[o * K + c * taps + tap]):
  // scattered writes made this the larger part of resnet50's compile time.
  for (int64_t grp = 0; grp < k->groups_; ++grp) {
    const int64_t gw = std::min<int64_t>(k->blocks_, ocb - k->blocks_ * grp) * block;
    const float* rows = src + width * grp * K;  // output channel width * grp + j: [ic][kh][kw]
    for (int64_t r0 = 0; r0 < K; r0 += kChunkRows) {
      float* out = const_cast<float*>(k->weight_block(r0, grp));
      for (int64_t kk = r0; kk < std::min(K, r0 + kChunkRows); ++kk) {
        const float* from = rows + kk % g.ic * taps + kk / g.ic;
        for (int64_t j = 0; j < gw; ++j) *out++ = from[j * K];
      }
    }
  }
  k->bias_ = padded_conv_bias(inputs, g.oc, k->groups_ * width);
  if (!g.direct()) k->col_ = memory(memory::desc({g.n * K * g.pixels()}, dt::f32, tag::a), eng);

  set_blocked_conv_layouts(*k, inputs, out_shape, ep.residual, &k->residual_);
  return k;
}

}  // namespace lowbit::onednn
