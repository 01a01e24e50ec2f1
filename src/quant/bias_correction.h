// Bias correction (`lowbit quantize --bias-correction`; Nagel et al. 2019, "Data-Free Quantization", section 4.2).
//
// Rounding the weights of a layer to int8 changes its output by (W_q - W) x. Over the data that error has a
// mean, E[(W_q - W) x] = (W_q - W) E[x], which per-tensor weights and inputs with a large mean (images, post-ReLU
// activations) make systematic: every output of a channel is shifted the same way, and the shift passes through
// the rest of the network. Subtracting it from the float bias before the bias is quantized to int32 removes it.
//
//   BiasCorrectionStats stats(graph, plan);              // which layers, and what to measure on their inputs
//   CollectOptions co;  co.also = stats.observer();      // measured during the calibration run, no extra pass
//   ... collect_statistics(session, data, tensors, co) ...
//   LB_RETURN_IF_ERROR(correct_biases(graph, plan, params, stats, &report));   // then rewrite_to_qdq
//
// Which variant, and why this one: E[x] is measured on the float model's inputs of each layer during the
// calibration run that collects the ranges (the empirical form of the paper, rather than its BatchNorm-based
// analytic E[x]). For a Conv the mean is taken per input channel *and kernel tap* over the output positions
// that tap reaches, so zero padding and strides are accounted for: the correction is the exact mean shift of
// the layer on the calibration data, also at the borders, not an estimate from channel means. The stronger
// variant that runs the partially corrected quantized model layer by layer would also absorb the bias of
// activation clipping and of upstream layers, but it needs one pass over the data per layer (~50 passes on
// MobileNetV2 or ResNet-50 instead of none) and its corrections would silently go stale when a calibration
// table is edited; the weight-rounding shift measured here is what the flag promises and stays valid.
//
// Layers: the plan's quantized Conv, Gemm (any alpha/beta; beta = 0 cannot carry a bias) and MatMul whose second
// input is the constant 2-D weight. A layer without a bias gets one (MatMul: its existing bias Add when that Add
// reads a constant of one value per output feature, else a new Add after it). ConvTranspose is not corrected
// (its output positions see different numbers of taps, so no per-channel constant cancels the shift).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ops/conv_params.h"
#include "quant/qdq_rewrite.h"
#include "quant/quant_plan.h"
#include "runtime/session.h"

namespace lowbit::quant {

// Per layer: input sums over the calibration data and the number of output positions they cover.
class BiasCorrectionStats {
 public:
  BiasCorrectionStats(const Graph& g, const QuantPlan& plan);

  // Wants the input of every layer above; accumulates its (tap) sums. Keeps a reference to this object.
  ValueObserver observer();
  // Accumulates one observed tensor (what observer() calls).
  void observe(const std::string& tensor, const Tensor& t);

  struct Layer {
    std::string node, op, input;
    std::vector<double> sums;  // Conv: per input channel and kernel tap [C, k...]; Gemm / MatMul: per feature [K]
    double count = 0;          // output positions (all samples) the sums are over
    std::string problem;       // why it cannot be corrected (set at construction or on a surprising input)
    // Conv geometry (weight shape [M, C/G, k...]).
    ConvAttrs conv;
    int64_t channels = 0;
  };
  const std::vector<Layer>& layers() const { return layers_; }

 private:
  std::vector<Layer> layers_;
  std::map<std::string, std::vector<size_t>> readers_;  // observed tensor -> layers reading it
};

struct BiasCorrectionReport {
  int corrected = 0;     // layers whose bias was corrected
  int biases_added = 0;  // of those, layers that had no bias (Conv/Gemm input added, MatMul Add inserted)
  std::vector<std::pair<std::string, std::string>> skipped;  // node, why
  double mean_abs_shift = 0;                                 // |shift| averaged over every corrected output channel
  double max_abs_shift = 0;
  std::string max_node;  // where the largest shift was
};

// Subtracts each layer's mean output shift (W_q - W) E[x] from its float bias, W_q being exactly the weights
// rewrite_to_qdq will write for `plan` and `params`. Changes only biases (copies when shared) and, for MatMul
// without a bias, adds an Add node; re-plan afterwards (new biases must be planned as int32).
// `rounded_weights`: the codes AdaRound chose (quantize_plan_weights), when --adaround is on.
Status correct_biases(Graph& g, const QuantPlan& plan, const QdqParams& params, const BiasCorrectionStats& stats,
                      BiasCorrectionReport* report,
                      const std::map<std::string, QuantizedWeight>* rounded_weights = nullptr);

// Summary line(s) for `lowbit quantize`.
std::string format_bias_correction_report(const BiasCorrectionReport& r);

}  // namespace lowbit::quant
