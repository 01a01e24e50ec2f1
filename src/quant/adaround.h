// `lowbit quantize --adaround`: AdaRound weight rounding (Nagel et al. 2020) for the quantized Conv (grouped and
// depthwise included), Gemm and MatMul-with-constant-weight layers, optimised layer by layer on calibration data.
//
//   AdaRoundOptions o;
//   o.enabled = true;
//   LB_ASSIGN_OR_RETURN(AdaRoundResult r, adaround_weights(*session, *data, graph, plan, o));
//   QdqOptions qo;
//   qo.rounded_weights = &r.weights;        // rewrite_to_qdq stores these codes instead of nearest rounding
//
// What changes: only the int8 values of the weights (each within 1 of round-to-nearest, in [-127, 127]). Scales
// stay the symmetric per-channel ones of quantize_weight, so the QDQ model and the integer engine are unchanged.
// Inputs: each layer's FP32 inputs from the calibration data (layer_moments.h), i.e. every layer is fitted to
// reproduce its own float output from float inputs; the paper's variant that feeds the outputs of the already
// quantized preceding layers is not implemented (it would need one pass over the data per layer).
// Cost: one extra float pass over the data, then `iterations` products of each weight matrix with its inputs'
// second-moment matrix (block diagonal beyond MomentOptions::max_block columns).
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "quant/adaround_optimizer.h"
#include "quant/calibration_data.h"
#include "quant/layer_moments.h"
#include "quant/qdq_rewrite.h"
#include "quant/quant_plan.h"
#include "runtime/session.h"

namespace lowbit::quant {

struct AdaRoundOptions {
  bool enabled = false;   // --adaround
  AdaRoundParams params;  // iterations: --adaround-iters
  MomentOptions moments;
  float damping = 0.01f;  // added to H's diagonal, relative to its mean: a pull towards nearest rounding
  int threads = 0;        // <= 0: all cores
  bool progress = false;  // one line per layer on stderr
};

struct AdaRoundLayerReport {
  std::string node, op_type;
  int64_t k = 0, out_channels = 0, groups = 1, samples = 0, blocks = 0;
  double loss_nearest = 0, loss_adaround = 0;  // sum over rows of (s q - w)^T H (s q - w) on the calibration inputs
  int64_t weights = 0, changed = 0;            // weights, and those rounded the other way than nearest
  double seconds = 0;
};
struct AdaRoundReport {
  std::vector<AdaRoundLayerReport> layers;
  std::vector<std::pair<std::string, std::string>> skipped;  // node, why
  double seconds = 0;
  int iterations = 0;
  bool ran = false;  // adaround_weights ran (even if no layer qualified)
};
struct AdaRoundResult {
  std::map<std::string, QuantizedWeight> weights;  // by weight initializer name
  AdaRoundReport report;
};

// Samples the layers' inputs over `data` (a float pass with `session`), then optimises every layer's rounding.
Expected<AdaRoundResult> adaround_weights(Session& session, CalibrationData& data, const Graph& g,
                                          const QuantPlan& plan, const AdaRoundOptions& options);

// For rewrite_to_qdq: takes `chosen`'s codes for every channel (along `axis`) where its scale equals q's (a channel
// whose scale was raised to fit its int32 bias keeps nearest rounding at that scale).
void use_rounded_codes(QuantizedWeight& q, const QuantizedWeight& chosen, int64_t axis);

// "adaround:    52 layers, 500 iterations, 18.2 s: layer loss 0.41x nearest (median), 23% of weights rounded
// the other way" (+ a line about skipped layers).
std::string format_adaround_summary(const AdaRoundReport& report);

}  // namespace lowbit::quant
