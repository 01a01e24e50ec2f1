// Calibration: turns a TensorObserver's statistics into a clipping range, a scale and a zero point.
//
//   quant::CalibOptions opt;                       // method auto, range auto, int8
//   opt.method = quant::CalibMethod::kEntropy;     // or parse_calib_method("entropy", &opt.method)
//   quant::TensorCalibration c = quant::calibrate_tensor("conv1_out", observer, opt);
//   // c.scale, c.zero_point: what QuantizeLinear gets; c.range_lo..c.range_hi: the clipping range chosen;
//   // c.quant_mse: the expected squared error of that choice; c.candidates: what auto compared.
//
//   // The threshold methods also work on any |x| histogram (hist.size() bins over [0, range]):
//   float t = quant::threshold_percentile(hist, /*range=*/6.f, 99.99);
//   float s; int32_t zp;
//   quant::choose_scale_zero_point(-t, t, /*symmetric=*/true, /*is_unsigned=*/false, &s, &zp);  // s = t/127
//
// Methods
//   minmax      the observed range.
//   entropy     TensorRT's EntropyCalibration2 (Migacz, "8-bit inference with TensorRT", GTC 2017): the
//               threshold whose 128-level quantized |x| distribution has the least KL divergence from the
//               clipped one (see threshold_entropy).
//   percentile  the smallest threshold that covers `percentile`% of |x| (asymmetric: of each side).
//   mse         the threshold minimizing the expected squared error of clamp + round on the actual grid.
//   auto        runs minmax, entropy, percentile 99.99 and 99.999 (and opt.percentile) and mse, evaluates each
//               range on the actual (signed, possibly asymmetric) int grid and keeps the lowest expected MSE.
// Expected errors treat each histogram bin's mass as spread uniformly over the bin and integrate the squared
// error of the quantizer exactly over it (rounding and clipping error both count).
// Cost: with the default 2048 bins, entropy takes ~30 ms and auto ~0.1-0.2 s per tensor on one core (the
// O(n^2) KL loop and the exhaustive mse search dominate). calibrate_tensor only reads the observer, so
// tensors can be calibrated on several threads at once.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "lowbit/status.h"
#include "quant/tensor_observer.h"

namespace lowbit::quant {

enum class CalibMethod { kMinMax, kEntropy, kPercentile, kMse, kAuto };
// "minmax", "entropy", "percentile", "mse", "auto".
const char* calib_method_name(CalibMethod m);
// Accepts the names above and the aliases "max", "kl" (entropy) and "entropy2".
bool parse_calib_method(const std::string& s, CalibMethod* out);

// auto: asymmetric when the tensor is one-sided (min >= 0 or max <= 0), else symmetric.
enum class ActivationRange { kSymmetric, kAsymmetric, kAuto };
const char* activation_range_name(ActivationRange r);  // "symmetric", "asymmetric", "auto"
bool parse_activation_range(const std::string& s, ActivationRange* out);

struct CalibOptions {
  CalibMethod method = CalibMethod::kAuto;
  double percentile = 99.99;  // for kPercentile (and one more auto candidate when it is not 99.99/99.999)
  ActivationRange range = ActivationRange::kAuto;
  bool unsigned_int = false;  // int8 (false) or uint8 activations
};
// Checks the options a user can get wrong (percentile in (0, 100]).
Status validate_calib_options(const CalibOptions& opt);

// One candidate range that auto compared.
struct CalibCandidate {
  std::string method;  // "minmax", "entropy", "percentile:99.99", "percentile:99.999", "mse"
  float range_lo = 0, range_hi = 0, threshold = 0;
  double quant_mse = 0;  // expected squared error per element on the actual grid
};

struct TensorCalibration {
  std::string name;
  // The method that produced the range: "minmax", "entropy", "percentile", "mse"; for auto "auto:" + the
  // winning candidate ("auto:mse", "auto:percentile:99.99", ...).
  std::string method;
  float min = 0, max = 0;            // observed (finite values)
  float range_lo = 0, range_hi = 0;  // the clipping range chosen, always containing 0 (symmetric: -t..t)
  float threshold = 0;               // max(|range_lo|, |range_hi|)
  float scale = 1;
  int32_t zero_point = 0;
  bool symmetric = true;
  bool is_unsigned = false;  // uint8 (true) or int8
  double quant_mse = 0;      // expected quantization MSE per element of the chosen range on the histogram
  // For auto: every candidate as {method, threshold}; candidate_details has their ranges and errors.
  std::vector<std::pair<std::string, float>> candidates;
  std::vector<CalibCandidate> candidate_details;
  // Coarse signed histogram for the table / HTML report: histogram.size() bins over [histogram_lo, histogram_hi]
  // (the observed min..max; 64 bins from calibrate_tensor).
  std::vector<double> histogram;
  float histogram_lo = 0, histogram_hi = 0;
  int64_t count = 0;            // finite values observed
  int64_t nonfinite_count = 0;  // NaN/Inf values seen (and ignored)
};

// Picks the range with opt.method and derives scale/zero point. Never fails: an observer that saw nothing, or
// only zeros, gives range 0..0, scale 1, zero point 0 (128 for uint8 symmetric). An invalid opt.percentile
// is clamped into (0, 100]; use validate_calib_options to report it instead.
TensorCalibration calibrate_tensor(const std::string& name, const TensorObserver& obs, const CalibOptions& opt);

// ---- Lower-level pieces (testable on hand-built histograms) ---------------------------------------------
// Each returns a threshold (amax) for a |x| histogram of hist.size() bins over [0, range]. Negative or
// non-finite counts are treated as 0. An empty histogram, one without mass, or range <= 0 (or not finite)
// gives max(range, 0) (0 when not finite).

// TensorRT EntropyCalibration2. For i in [quant_levels, n] (n = hist.size()):
//   P = hist[0..i), with the outliers hist[i..n) folded into P[i-1];
//   Q = hist[0..i) (no outliers) merged into quant_levels groups of i / quant_levels bins (the last group also
//       takes the remainder), each group's sum then spread evenly over the group's bins where P != 0;
//   P and Q smoothed (zeros get eps = 1e-4 * min(1, smallest non-zero), non-zeros lose the same total) and
//   divergence[i] = KL(P || Q) after normalization.
// Returns the upper edge of bin i-1, i.e. i * range / n, for the first i with the smallest divergence.
// This is ONNX Runtime's / MXNet's loop on a one-sided |x| histogram; unlike ORT's code Q is not truncated
// to integers and the last group's remainder bins are expanded too (as in MXNet). When n <= quant_levels the
// whole range is returned.
// flatten_zero_bin replaces hist[0] by hist[1] first, as NVIDIA's pytorch-quantization does for TensorRT:
// the exact zeros of a ReLU output (often half the values) make bin 0 a spike that any merging of bins
// smears, so without it every i with i / quant_levels >= 2 diverges and the search stops at the smallest
// unmerged i (a half-normal ReLU output was clipped at 1.3 sigma instead of ~4).
float threshold_entropy(const std::vector<double>& hist, float range, int quant_levels = 128,
                        bool flatten_zero_bin = true);
// The upper edge of the first bin at which the cumulative mass reaches percentile% of the total: the
// smallest bin edge that is guaranteed to cover that share (no assumption about the mass inside a bin).
float threshold_percentile(const std::vector<double>& hist, float range, double percentile);
// Minimizes the expected squared error of x -> clamp(round(x / s), -L, L) * s, s = t / L (L = quant_levels),
// over t in the bin upper edges i * range / n, i = 1..n; the first (smallest) best t wins ties.
// L = 127 is the int8 symmetric grid; L = 255 is an asymmetric grid on a one-sided tensor ([0, t]).
float threshold_mse(const std::vector<double>& hist, float range, int quant_levels = 127);

// The integer range of a grid: int8 symmetric [-127, 127]; int8 asymmetric [-128, 127]; uint8 [0, 255].
void quant_grid_limits(bool symmetric, bool is_unsigned, int32_t* qmin, int32_t* qmax);

// The scale / zero point of a clipping range (DESIGN.md numerics, ONNX Runtime's compute_scale_zp):
//   the range is first widened to contain 0 (non-finite bounds: NaN -> 0, +-Inf -> +-FLT_MAX);
//   symmetric int8:  t = max(|lo|, |hi|), scale = t / 127, zero point 0;
//   symmetric uint8: scale = 2t / 255, zero point 128 (ONNX Runtime's convention);
//   asymmetric:      scale = (hi - lo) / 255, zero point = round_half_to_even(qmin - lo / scale) clamped to
//                    the type (int8: qmin -128, uint8: qmin 0).
// Computed in double, the scale rounded to float once. A range too small for a normal float scale
// (including 0..0) gives scale 1 and the code of real 0 as zero point (0; 128 for uint8 symmetric), so the
// scale is always > 0 and finite.
void choose_scale_zero_point(float lo, float hi, bool symmetric, bool is_unsigned, float* scale, int32_t* zero_point);

// Expected squared quantization error per element of quantizing the signed histogram `hist` (hist.size()
// equal bins over [hist_lo, hist_hi]) with scale/zero point on the integer grid [qmin, qmax]: each bin's mass
// is taken as uniform over the bin and (x - dequantize(quantize(x)))^2 is integrated exactly over it.
// hist_lo == hist_hi puts all mass at that point. 0 when there is no mass.
double expected_quant_mse(const std::vector<double>& hist, double hist_lo, double hist_hi, float scale,
                          int32_t zero_point, int32_t qmin, int32_t qmax);

}  // namespace lowbit::quant
