// Keeping oneDNN's int8 convolutions and matmuls exact on CPUs without VNNI (AVX2, AVX-512 before Cascade Lake:
// this project's AMD EPYC CI machines among them).
//
// There oneDNN 2.6 multiplies u8 activations (s8 ones shifted by +128) by s8 weights with vpmaddubsw, which adds
// each pair of neighbouring products into an int16 *with saturation*: 255 * 127 + 255 * 127 does not fit, and
// whole outputs come out wrong (up to 148 codes off in the unit tests; ONNX Runtime's MLAS kernels do the same,
// which is why its quantizer offers reduce_range). lowbit splits every weight w into floor(w / 2) and
// ceil(w / 2), both in [-64, 64], along the reduction axis, and feeds the input twice along it:
//     sum x * w  =  sum x * floor(w / 2)  +  sum x * ceil(w / 2),
// each pair now at most 255 * 64 * 2 = 32640. Results are exact (bit-identical to a VNNI machine's); the cost is
// twice the multiplies and one copy of the input per run. Weights already within [-64, 64] (a reduce_range
// model) need no split; grouped and depthwise convolutions run on kernels that do not pair products (tested).
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/onednn/onednn_kernel.h"

namespace lowbit::onednn {

constexpr int kPairSafeWeight = 64;

// Whether oneDNN's int8 kernels on this CPU may saturate pair sums (no VNNI; or LOWBIT_INT8_PAIRS=split).
bool int8_pairs_saturate();
// int8_pairs_saturate() and some of the n weights lie outside [-64, 64].
bool needs_weight_split(const int8_t* w, int64_t n);
// Weights as [outer][k][inner] (k the reduction axis being doubled) -> [outer][2k][inner]: floor halves in rows
// [0, k), ceil halves in [k, 2k).
std::vector<int8_t> split_weights(const int8_t* w, int64_t outer, int64_t k, int64_t inner);

// oneDNN 2.6's non-VNNI int8 kernels are also inexact for s8 sources (they halve the weights and round them,
// their own guard against the saturation) and with a source zero point on a padded convolution (up to 148 codes
// off in the unit tests). So there lowbit hands them the source as a u8 copy it makes itself:
//  * s8 becomes u8 on the way (x + 128; the caller adds 128 to the zero point);
//  * a convolution's padding is written into the copy as the zero point's code, so the primitive runs unpadded
//    and the zero point folds exactly into its bias;
//  * with split weights, the copy holds every pixel's channels twice.
// Layouts: a convolution's copy is channels last, [N][padded spatial][copies x C]; a matmul's is [rows][copies x
// K]. The input is first reordered into that rows-major form from whatever layout it arrives in.
struct SourceCopy {
  // pad_begin / pad_end: per spatial axis (empty for a matmul); fill_code: the padding's u8 code.
  void prepare(const memory::desc& from, const memory::desc& rows_major, int copies, bool flip_sign,
               const memory::dims& pad_begin = {}, const memory::dims& pad_end = {}, uint8_t fill_code = 0);
  // The u8 copy, split over `pool` when it is large.
  memory apply(dnnl::stream& stream, const memory& src, ThreadPool* pool);
  explicit operator bool() const { return bool(scratch); }

  InputReorder to_rows;
  int copies = 1;
  int64_t images = 1, width = 0;
  memory::dims spatial, pad_l, pad_r;  // a matmul: all rows as one axis, unpadded
  bool flip = false;
  uint8_t fill = 0;
  memory scratch;
};

}  // namespace lowbit::onednn
