// Cross-layer equalization (`lowbit quantize --equalize`; Nagel et al. 2019, "Data-Free Quantization Through
// Weight Equalization and Bias Correction", section 4.1).
//
// Per-tensor (and, less so, per-channel) int8 weights lose precision when the output channels of one Conv have
// very different ranges, as depthwise convolutions after BatchNormalization folding typically do. For two
// consecutive convolutions where output channel i of the first feeds only input channel i of the second,
//
//   y = W2 · f(W1 x + b1)   with f positively homogeneous (f(x / s) = f(x) / s for s > 0)
//
// dividing channel i of W1 and b1 by s_i and multiplying input channel i of W2 by s_i leaves y unchanged.
// Choosing s_i = sqrt(r1_i / r2_i) (the paper's (1 / r2_i) sqrt(r1_i r2_i)), with r1_i the range of output
// channel i of W1 and r2_i the range of input channel i of W2, makes both ranges sqrt(r1_i r2_i): the small
// channels grow, the large ones shrink, and the per-tensor scale fits them all. Chains (Conv -> dw Conv -> Conv,
// MobileNet's blocks) are swept pair by pair until the scales stop changing.
//
//   EqualizeReport report;
//   LB_RETURN_IF_ERROR(equalize_cross_layer(graph, {}, &report));   // the float function is unchanged
//
// Which pairs qualify (everything else is left alone; candidates that fail are reported with the reason):
// - both nodes are Conv (any group: a depthwise conv in the middle of a chain is the main case) with constant
//   float weights, the first with a constant 1-D bias or none;
// - between them nothing, or one Relu, LeakyRelu, PRelu (its slope is per element and unchanged: f(x/s) = f(x)/s
//   holds for any slope) or Clip with min 0 and no max (a Relu);
// - each intermediate tensor has that one consumer and is not a graph output (scaling it would change what
//   another reader or the caller sees).
// Dead channels (range below 1e-6 of the weight's largest channel: BatchNorm gamma ~ 0, pruned) keep s_i = 1:
// their output is their bias, and dividing it by a tiny s_i would blow up the activation range between the convs.
// Clip(0, 6) (ReLU6, torchvision's MobileNetV2) is not scale-equivariant: min(x / s, 6) != min(x, 6) / s. Such
// pairs are skipped unless `relu6_to_relu` (--equalize-relu6, what AIMET does) replaces those Clips by Relu,
// which changes the float model where activations exceed 6; the quantizer reports how much (summary line).
#pragma once
#include <string>
#include <vector>

#include "ir/graph.h"

namespace lowbit::quant {

struct EqualizeOptions {
  bool relu6_to_relu = false;  // replace Clip(0, max) between two equalizable convs by Relu (changes the model)
  int max_sweeps = 50;         // passes over every chain
  double tolerance = 1e-4;     // stop once every scale of a sweep is within this of 1 (|log s| < tolerance)
};

struct EqualizeReport {
  struct Pair {
    std::string first, second;  // node names
    std::string through;        // activation node between them, "" if none
  };
  struct Skipped {
    std::string first, second;  // node names ("second" may name the reader that is not a Conv)
    std::string reason;
  };
  std::vector<Pair> pairs;                  // equalized pairs, in graph order
  std::vector<Skipped> skipped;             // candidate pairs left alone, with the reason
  std::vector<std::string> replaced_clips;  // Clip nodes replaced by Relu (relu6_to_relu)
  int chains = 0;                           // connected runs of pairs
  int sweeps = 0;                           // sweeps until converged (max_sweeps if it did not)
  // Spread of per-output-channel weight ranges (largest / smallest live channel range) of the equalized
  // convs, before and after: the median and the worst conv. This is what per-tensor scales suffer from.
  double median_spread_before = 0, median_spread_after = 0;
  double worst_spread_before = 0, worst_spread_after = 0;
};

// Rescales the weights in place (weights or biases shared with other nodes are copied first, so no other node
// changes) and replaces Clips when asked. The graph stays valid; with relu6_to_relu false its outputs are those
// of the input graph up to float rounding.
Status equalize_cross_layer(Graph& g, const EqualizeOptions& options, EqualizeReport* report);

// Summary lines for `lowbit quantize` ("equalized: ..." and the skipped pairs grouped by reason).
std::string format_equalize_report(const EqualizeReport& r);

}  // namespace lowbit::quant
