// The linear layers AdaRound optimises and the second moments of their FP32 inputs over calibration data.
//
//   LayerSelection sel = select_linear_layers(graph, plan);   // Conv / Gemm / MatMul with a quantized constant weight
//   LB_ASSIGN_OR_RETURN(auto moments, collect_layer_moments(session, data, sel.layers, {}));
//   // moments[i].blocks[b]: columns [k0, k1) of group `group` of layer i, with H = X^T X / n (or X itself)
//
// Every layer is seen as y = W x per output position: W is a matrix [out_channels, k] (one row per output
// channel; rows of group g are g * out/groups ...), x the matching input row: an im2col patch for Conv
// (k = C_in/group * kh * kw, in the weight's own (c, ky, kx) order), the last axis for Gemm / MatMul. The
// reconstruction error of row r is then (w~_r - w_r)^T H (w~_r - w_r) with H the mean of x x^T: only H has to be
// collected (adaround_optimizer.h).
//
// Cost stays bounded: each layer samples at most `max_rows` input rows spread over the batches (random output
// positions, a fixed seed), and H is block diagonal beyond `max_block` columns (blocks of whole input channels),
// so memory is k x min(k, max_block) floats per layer. A block whose sample count n is below half its width keeps
// the n x width samples instead of H (products with H then cost 2 n instead of width per weight).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "ir/graph.h"
#include "ops/conv_params.h"
#include "quant/calibration_data.h"
#include "quant/quant_plan.h"
#include "runtime/session.h"

namespace lowbit::quant {

struct LinearLayer {
  std::string node, op_type, weight, input;
  int64_t axis = -1;         // the plan's per-channel scale axis of the weight (-1: one scale)
  int64_t out_channels = 0;  // rows of the weight matrix
  int64_t k = 0;             // columns: inputs per output channel (per group)
  int64_t groups = 1;
  bool weight_k_major = false;  // the weight is stored [k, out] (Gemm without transB, MatMul)
  // Conv geometry (the op table's parse_conv_attrs); a 1-D convolution is a 2-D one of height 1, so `conv` always
  // has two spatial axes when spatial_rank > 0.
  ConvAttrs conv;
  int spatial_rank = 0;  // 0: Gemm / MatMul; 1 or 2: Conv
  // Kernel taps per input channel (1 for Gemm / MatMul).
  int64_t taps() const { return spatial_rank ? conv.kernel[0] * conv.kernel[1] : 1; }
};

struct LayerSelection {
  std::vector<LinearLayer> layers;                           // topological order
  std::vector<std::pair<std::string, std::string>> skipped;  // quantized compute node, why it is not optimised
};
// Conv (1-D, 2-D, grouped), Gemm and MatMul nodes of the plan whose weight (input 1) is a quantized float
// constant read by no other node.
LayerSelection select_linear_layers(const Graph& g, const QuantPlan& plan);

// The weight as the [out_channels, k] matrix described above, and back (codes in the weight's own layout).
std::vector<float> weight_matrix(const LinearLayer& layer, const Tensor& w);
void matrix_to_weight(const LinearLayer& layer, const std::vector<int8_t>& matrix, Tensor& codes);

struct MomentBlock {
  int64_t group = 0, k0 = 0, k1 = 0;  // rows of `group`, columns [k0, k1) of the weight matrix
  std::vector<float> h;               // (k1 - k0)^2: X^T X / n, or empty when `x` holds the samples
  std::vector<float> x;               // n x (k1 - k0)
};
struct LayerMoments {
  std::vector<MomentBlock> blocks;
  int64_t n = 0;  // sampled input rows (0: the layer never ran on the calibration data)
};

struct MomentOptions {
  int64_t max_block = 512;      // H is block diagonal beyond this many columns (smaller blocks also converge faster)
  int64_t rows_per_column = 8;  // wanted samples per layer: rows_per_column * k, within [min_rows, max_rows]
  int64_t min_rows = 4096, max_rows = 16384;
  uint64_t seed = 0x5eed;
  int64_t batches = -1;         // only the first N calibration batches (-1: all); the rest is held back for scoring
};

// The column blocks of a layer (whole input channels where the kernel allows).
std::vector<std::pair<int64_t, int64_t>> column_blocks(const LinearLayer& layer, int64_t max_block);

// Runs the float model over the calibration data once, sampling every layer's input. Errors name the batch.
Expected<std::vector<LayerMoments>> collect_layer_moments(Session& session, CalibrationData& data,
                                                          const std::vector<LinearLayer>& layers,
                                                          const MomentOptions& options = {});

}  // namespace lowbit::quant
