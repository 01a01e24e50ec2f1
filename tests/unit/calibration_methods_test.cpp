// Calibration methods on hand-built histograms with known answers, scale/zero point hand cases, the expected
// error integral, and calibrate_tensor on real and degenerate tensors (scale always > 0 and finite).
#include "quant/calibration_methods.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "quant/quant_math.h"

namespace lowbit::quant {
namespace {

void observe(TensorObserver& o, const std::vector<float>& v) { o.observe(v.data(), int64_t(v.size())); }

// n bins over [0, n * width]: `bulk` bins of `per_bin` counts, then one count in the last bin.
std::vector<double> uniform_then_outlier(size_t n, size_t bulk, double per_bin) {
  std::vector<double> h(n, 0.0);
  for (size_t i = 0; i < bulk; ++i) h[i] = per_bin;
  h[n - 1] = 1;
  return h;
}

TEST(CalibMethods, NamesRoundTrip) {
  for (CalibMethod m :
       {CalibMethod::kMinMax, CalibMethod::kEntropy, CalibMethod::kPercentile, CalibMethod::kMse, CalibMethod::kAuto}) {
    CalibMethod back = CalibMethod::kAuto;
    ASSERT_TRUE(parse_calib_method(calib_method_name(m), &back));
    EXPECT_EQ(back, m);
  }
  CalibMethod m;
  EXPECT_TRUE(parse_calib_method("kl", &m));
  EXPECT_EQ(m, CalibMethod::kEntropy);
  EXPECT_FALSE(parse_calib_method("Entropy ", &m));
  EXPECT_FALSE(parse_calib_method("", &m));
  ActivationRange r;
  EXPECT_TRUE(parse_activation_range("asymmetric", &r));
  EXPECT_EQ(r, ActivationRange::kAsymmetric);
  EXPECT_STREQ(activation_range_name(ActivationRange::kAuto), "auto");
  EXPECT_FALSE(parse_activation_range("sym", &r));
  CalibOptions opt;
  EXPECT_TRUE(validate_calib_options(opt).ok());
  for (double bad : {0.0, -1.0, 100.5, std::nan("")}) {
    opt.percentile = bad;
    EXPECT_FALSE(validate_calib_options(opt).ok()) << bad;
  }
}

TEST(ChooseScaleZeroPoint, Int8Symmetric) {
  float s;
  int32_t zp;
  choose_scale_zero_point(-2.f, 1.f, true, false, &s, &zp);
  EXPECT_EQ(s, float(2.0 / 127.0));
  EXPECT_EQ(zp, 0);
  EXPECT_EQ(quantize_value<int8_t>(-2.f, s, zp), -127);
  EXPECT_EQ(quantize_value<int8_t>(2.f, s, zp), 127);
  choose_scale_zero_point(0.5f, 3.f, true, false, &s, &zp);  // range widened to contain 0: t = 3
  EXPECT_EQ(s, float(3.0 / 127.0));
}

TEST(ChooseScaleZeroPoint, Uint8SymmetricUsesZeroPoint128) {
  float s;
  int32_t zp;
  choose_scale_zero_point(-1.f, 1.f, true, true, &s, &zp);
  EXPECT_EQ(s, float(2.0 / 255.0));
  EXPECT_EQ(zp, 128);
}

TEST(ChooseScaleZeroPoint, Asymmetric) {
  float s;
  int32_t zp;
  // [-1, 3]: scale 4/255, zero point -128 + 63.75 -> -64 (int8) / 63.75 -> 64 (uint8).
  choose_scale_zero_point(-1.f, 3.f, false, false, &s, &zp);
  EXPECT_EQ(s, float(4.0 / 255.0));
  EXPECT_EQ(zp, -64);
  choose_scale_zero_point(-1.f, 3.f, false, true, &s, &zp);
  EXPECT_EQ(zp, 64);
  // One-sided [0, 6]: the whole grid on [0, 6]; 0 is the lowest code.
  choose_scale_zero_point(0.f, 6.f, false, false, &s, &zp);
  EXPECT_EQ(s, float(6.0 / 255.0));
  EXPECT_EQ(zp, -128);
  choose_scale_zero_point(2.f, 6.f, false, true, &s, &zp);  // widened to [0, 6]
  EXPECT_EQ(zp, 0);
  EXPECT_EQ(quantize_value<uint8_t>(6.f, s, zp), 255);
}

TEST(ChooseScaleZeroPoint, ZeroPointRoundsHalfToEven) {
  float s;
  int32_t zp;
  // [-2.5, 252.5] -> scale exactly 1, zero point 2.5 -> 2 (uint8) and -125.5 -> -126 (int8).
  choose_scale_zero_point(-2.5f, 252.5f, false, true, &s, &zp);
  EXPECT_EQ(s, 1.f);
  EXPECT_EQ(zp, 2);
  choose_scale_zero_point(-2.5f, 252.5f, false, false, &s, &zp);
  EXPECT_EQ(zp, -126);
  // [-3.5, 251.5] -> 3.5 -> 4 (uint8).
  choose_scale_zero_point(-3.5f, 251.5f, false, true, &s, &zp);
  EXPECT_EQ(zp, 4);
}

TEST(ChooseScaleZeroPoint, AllNegativeSaturatesAtTheTopCode) {
  float s;
  int32_t zp;
  choose_scale_zero_point(-5.f, -1.f, false, true, &s, &zp);  // widened to [-5, 0]
  EXPECT_EQ(s, float(5.0 / 255.0));
  EXPECT_EQ(zp, 255);
  choose_scale_zero_point(-5.f, -1.f, false, false, &s, &zp);
  EXPECT_EQ(zp, 127);
  EXPECT_EQ(quantize_value<int8_t>(0.f, s, zp), 127);
  EXPECT_EQ(quantize_value<int8_t>(-5.f, s, zp), -128);
}

TEST(ChooseScaleZeroPoint, DegenerateAndNonFiniteRanges) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  float s;
  int32_t zp;
  for (bool sym : {true, false})
    for (bool uns : {true, false}) {
      choose_scale_zero_point(0.f, 0.f, sym, uns, &s, &zp);
      EXPECT_EQ(s, 1.f);
      EXPECT_EQ(zp, sym && uns ? 128 : 0);
      choose_scale_zero_point(0.f, 1e-40f, sym, uns, &s, &zp);  // subnormal scale would follow: use 1
      EXPECT_EQ(s, 1.f);
      choose_scale_zero_point(nan, nan, sym, uns, &s, &zp);
      EXPECT_EQ(s, 1.f);
      choose_scale_zero_point(-inf, inf, sym, uns, &s, &zp);
      EXPECT_TRUE(std::isfinite(s) && s > 0) << s;
      choose_scale_zero_point(-FLT_MAX, FLT_MAX, sym, uns, &s, &zp);
      EXPECT_TRUE(std::isfinite(s) && s > 0) << s;
      EXPECT_GE(zp, uns ? 0 : -128);
      EXPECT_LE(zp, uns ? 255 : 127);
    }
}

TEST(ExpectedQuantMse, HandComputedIntegrals) {
  // Uniform on [0, 1], grid step 1: x < 0.5 -> 0, else 1: 2 * integral_0^0.5 x^2 = 1/12.
  EXPECT_NEAR(expected_quant_mse({10.0}, 0.0, 1.0, 1.f, 0, -127, 127), 1.0 / 12.0, 1e-15);
  // Uniform on [2, 3] clipped to the top code 1: integral_2^3 (x - 1)^2 = 7/3.
  EXPECT_NEAR(expected_quant_mse({1.0}, 2.0, 3.0, 1.f, 0, -1, 1), 7.0 / 3.0, 1e-14);
  // Two bins [0, 1), [1, 2] with grid {0, 1}: (1/12 + 1/3) / 2 = 5/24; with grid {0, 2}: (1/3 + 1/3) / 2.
  EXPECT_NEAR(expected_quant_mse({1.0, 1.0}, 0.0, 2.0, 1.f, 0, -1, 1), 5.0 / 24.0, 1e-15);
  EXPECT_NEAR(expected_quant_mse({1.0, 1.0}, 0.0, 2.0, 2.f, 0, -1, 1), 1.0 / 3.0, 1e-15);
  // A point mass at 0.3 with step 0.25: quantized to 0.25.
  EXPECT_NEAR(expected_quant_mse({4.0}, 0.3, 0.3, 0.25f, 0, -127, 127), 0.05 * 0.05, 1e-9);
  // Asymmetric grid: uniform on [-1, 0] with zero point 255 and step 1: codes 254, 255 -> 1/12.
  EXPECT_NEAR(expected_quant_mse({1.0}, -1.0, 0.0, 1.f, 255, 0, 255), 1.0 / 12.0, 1e-15);
  // No mass, bad scale, bad counts.
  EXPECT_EQ(expected_quant_mse({0.0, 0.0}, 0.0, 1.0, 1.f, 0, -127, 127), 0.0);
  EXPECT_EQ(expected_quant_mse({}, 0.0, 1.0, 1.f, 0, -127, 127), 0.0);
  EXPECT_TRUE(std::isinf(expected_quant_mse({1.0}, 0.0, 1.0, 0.f, 0, -127, 127)));
  EXPECT_NEAR(expected_quant_mse({-5.0, std::nan(""), 10.0}, 0.0, 3.0, 1.f, 0, -127, 127), 1.0 / 12.0, 1e-15);
}

// 100 bins over [0, 10]: 1000 counts in each of the 10 bins of [0, 1] and one outlier in [9.9, 10].
TEST(ThresholdPercentile, IgnoresFarOutlier) {
  const std::vector<double> h = uniform_then_outlier(100, 10, 1000);
  EXPECT_EQ(threshold_percentile(h, 10.f, 99.9), 1.f);     // 9991 of 10001 are inside [0, 1]
  EXPECT_EQ(threshold_percentile(h, 10.f, 99.99), 1.f);    // 9999.9 <= 10000
  EXPECT_EQ(threshold_percentile(h, 10.f, 99.995), 10.f);  // needs 10000.49995: the outlier's bin
  EXPECT_EQ(threshold_percentile(h, 10.f, 100.0), 10.f);   // minmax
  EXPECT_EQ(threshold_percentile(h, 10.f, 50.0), 0.6f);    // 5000.5 -> the 6th bin
  // 10000 values in 100 equal bins, 99%: exactly 9900 in the first 99 bins (no rounding slip to bin 100).
  EXPECT_EQ(threshold_percentile(std::vector<double>(100, 100.0), 100.f, 99.0), 99.f);
}

TEST(ThresholdMse, HandComputedTwoBins) {
  // Derived in ExpectedQuantMse.HandComputedIntegrals: t = 1 (5/24) beats t = 2 (1/3).
  EXPECT_EQ(threshold_mse({1.0, 1.0}, 2.f, 1), 1.f);
}

TEST(ThresholdMse, TradesRoundingAgainstClipping) {
  // With 1000 per bin, clipping the single outlier (error ~ 9^2) costs more than the rounding error of a
  // 10x coarser grid on the bulk (10^4 * (10/127)^2 / 12 = 5.2): the outlier is kept.
  EXPECT_GE(threshold_mse(uniform_then_outlier(100, 10, 1000), 10.f), 9.f);
  // With 10^6 per bin the bulk dominates: the threshold stays at the bulk's edge (slightly inside it, where
  // clipping the top of the bulk starts to cost more than the finer grid saves).
  const float t = threshold_mse(uniform_then_outlier(100, 10, 1e6), 10.f);
  EXPECT_GE(t, 0.8f);
  EXPECT_LE(t, 1.f);
}

TEST(ThresholdEntropy, UniformBulkGivesItsExtent) {
  // 256 equal bins then nothing: at i = 256 (and beyond) Q merges pairs of equal bins, so Q == P and the
  // divergence is exactly 0; every i < 256 folds mass into P[i-1] and diverges. First minimum: 256.
  std::vector<double> h(2048, 0.0);
  for (int i = 0; i < 256; ++i) h[size_t(i)] = 50;
  EXPECT_EQ(threshold_entropy(h, 2048.f), 256.f);
  EXPECT_EQ(threshold_entropy(h, 1.f), 0.125f);
}

// Cross-checked against a pure-Python re-implementation of ORT's/MXNet's loop (scipy.stats.entropy replaced
// by the same formula) run on the same histograms:
//   import math
//   def smooth(p, eps=1e-4):
//       nz = sum(1 for v in p if v == 0); nnz = len(p) - nz
//       if nnz == 0: return None
//       out = [eps if v == 0 else v - eps * nz / nnz for v in p]
//       return None if min(out) <= 0 else out
//   def kl(p, q):
//       sp, sq = sum(p), sum(q)
//       return sum(a / sp * math.log((a / sp) / (b / sq)) for a, b in zip(p, q))
//   def entropy_threshold(hist, rng, L=128):
//       n = len(hist); best = (float('inf'), n)
//       for i in range(L, n + 1):
//           p = hist[:i]; p[-1] += sum(hist[i:])
//           m = i // L; q = [0.0] * i
//           for g in range(L):
//               s, e = g * m, (i if g == L - 1 else g * m + m)
//               nzc = sum(1 for j in range(s, e) if p[j] != 0)
//               v = sum(hist[s:e]) / nzc if nzc else 0.0
//               for j in range(s, e): q[j] = v if p[j] != 0 else 0.0
//           ps, qs = smooth(p), smooth(q)
//           if ps is None or qs is None: continue
//           d = kl(ps, qs)
//           if d < best[0]: best = (d, i)
//       return best[1], best[1] * rng / n, best[0]
//   hist = [float(round(100000 * math.exp(-j / 40.0))) for j in range(2048)]
//   hist[1000] += 3; hist[2047] += 1
//   print(entropy_threshold(list(hist), 20.48))  # -> (489, 4.89, 2.2428935e-4); KL(488/490) 2.24304e-4/2.24322e-4
//   h = list(hist); h[0] = h[1]
//   print(entropy_threshold(h, 20.48))           # -> (489, 4.89, 2.1431663e-4); KL(488/490) 2.14331e-4/2.14350e-4
//   spike = list(hist); spike[0] += 2000000       # a ReLU-like spike of exact zeros
//   print(entropy_threshold(list(spike), 20.48))  # -> (227, 2.27, 8.7891481e-3); KL(226/228) 8.79277e-3/8.78995e-3
//   (spike flattened as h: 489 again)
std::vector<double> laplace_with_outliers() {
  std::vector<double> h(2048);
  for (size_t j = 0; j < h.size(); ++j) h[j] = std::nearbyint(100000.0 * std::exp(-double(j) / 40.0));
  h[1000] += 3;
  h[2047] += 1;
  return h;
}

TEST(ThresholdEntropy, MatchesPythonReferenceOnLaplaceWithOutliers) {
  const std::vector<double> h = laplace_with_outliers();
  EXPECT_EQ(threshold_entropy(h, 20.48f, 128, /*flatten_zero_bin=*/false), float(20.48 * 489 / 2048));
  EXPECT_EQ(threshold_entropy(h, 20.48f), float(20.48 * 489 / 2048));
}

// A spike of exact zeros in bin 0 (ReLU) drives the plain loop to clip hard; flattening bin 0 (as NVIDIA's
// pytorch-quantization does) gives the same threshold as without the spike.
TEST(ThresholdEntropy, ZeroSpikeIsFlattened) {
  std::vector<double> h = laplace_with_outliers();
  h[0] += 2000000;
  EXPECT_EQ(threshold_entropy(h, 20.48f, 128, /*flatten_zero_bin=*/false), float(20.48 * 227 / 2048));
  EXPECT_EQ(threshold_entropy(h, 20.48f), float(20.48 * 489 / 2048));
}

TEST(ThresholdMethods, DegenerateHistograms) {
  const std::vector<double> empty, zeros(2048, 0.0), small(64, 1.0);
  for (float range : {0.f, -1.f, std::nanf(""), std::numeric_limits<float>::infinity()}) {
    EXPECT_EQ(threshold_entropy(small, range), 0.f);
    EXPECT_EQ(threshold_percentile(small, range, 99.0), 0.f);
    EXPECT_EQ(threshold_mse(small, range), 0.f);
  }
  EXPECT_EQ(threshold_entropy(empty, 3.f), 3.f);
  EXPECT_EQ(threshold_entropy(zeros, 3.f), 3.f);
  EXPECT_EQ(threshold_entropy(small, 3.f), 3.f);  // fewer bins than levels: nothing to search
  EXPECT_EQ(threshold_percentile(zeros, 3.f, 99.0), 3.f);
  EXPECT_EQ(threshold_mse(zeros, 3.f), 3.f);
  // Negative / NaN counts count as 0; odd parameters do not crash.
  std::vector<double> odd(2048, 0.0);
  odd[10] = 5;
  odd[20] = -7;
  odd[30] = std::nan("");
  odd[40] = std::numeric_limits<double>::infinity();
  EXPECT_EQ(threshold_percentile(odd, 2048.f, 99.0), 11.f);
  EXPECT_GT(threshold_entropy(odd, 2048.f, 0), 0.f);
  EXPECT_GT(threshold_mse(odd, 2048.f, -3), 0.f);
  EXPECT_EQ(threshold_percentile(odd, 2048.f, std::nan("")), 11.f);
}

// ---- calibrate_tensor -------------------------------------------------------------------------------------

TEST(CalibrateTensor, MinMaxSymmetricInt8) {
  TensorObserver o;
  observe(o, {-3.f, 1.f, 2.5f});
  CalibOptions opt;
  opt.method = CalibMethod::kMinMax;
  const TensorCalibration c = calibrate_tensor("x", o, opt);
  EXPECT_EQ(c.name, "x");
  EXPECT_EQ(c.method, "minmax");
  EXPECT_TRUE(c.symmetric);  // auto range, two-sided
  EXPECT_EQ(c.min, -3.f);
  EXPECT_EQ(c.max, 2.5f);
  EXPECT_EQ(c.threshold, 3.f);
  EXPECT_EQ(c.range_lo, -3.f);
  EXPECT_EQ(c.range_hi, 3.f);
  EXPECT_EQ(c.scale, float(3.0 / 127.0));
  EXPECT_EQ(c.zero_point, 0);
  EXPECT_EQ(c.count, 3);
  EXPECT_TRUE(c.candidates.empty());
  EXPECT_EQ(c.histogram.size(), 64u);
  EXPECT_EQ(c.histogram_lo, -3.f);
  EXPECT_EQ(c.histogram_hi, 2.5f);
}

TEST(CalibrateTensor, OneSidedAutoIsAsymmetric) {
  std::vector<float> relu(10000);
  for (size_t i = 0; i < relu.size(); ++i) relu[i] = 6.f * float(i) / float(relu.size() - 1);
  TensorObserver o;
  observe(o, relu);
  CalibOptions opt;
  opt.method = CalibMethod::kMinMax;
  TensorCalibration c = calibrate_tensor("relu", o, opt);
  EXPECT_FALSE(c.symmetric);
  EXPECT_EQ(c.range_lo, 0.f);
  EXPECT_EQ(c.range_hi, 6.f);
  EXPECT_EQ(c.scale, float(6.0 / 255.0));
  EXPECT_EQ(c.zero_point, -128);
  opt.unsigned_int = true;
  c = calibrate_tensor("relu", o, opt);
  EXPECT_EQ(c.zero_point, 0);
  EXPECT_TRUE(c.is_unsigned);
  // Uniform data: the expected error is the rounding error scale^2 / 12 (a few % of slack for re-binning).
  EXPECT_NEAR(c.quant_mse, double(c.scale) * c.scale / 12.0, 0.03 * double(c.scale) * c.scale / 12.0);
  // Forced symmetric on one-sided data: int8 zero point 0, half the grid unused.
  opt.unsigned_int = false;
  opt.range = ActivationRange::kSymmetric;
  c = calibrate_tensor("relu", o, opt);
  EXPECT_TRUE(c.symmetric);
  EXPECT_EQ(c.range_lo, -6.f);
  EXPECT_EQ(c.scale, float(6.0 / 127.0));
}

TEST(CalibrateTensor, AllNegativeAsymmetric) {
  TensorObserver o;
  observe(o, {-4.f, -1.f, -2.f});
  CalibOptions opt;
  opt.method = CalibMethod::kMinMax;
  const TensorCalibration c = calibrate_tensor("neg", o, opt);
  EXPECT_FALSE(c.symmetric);
  EXPECT_EQ(c.range_lo, -4.f);
  EXPECT_EQ(c.range_hi, 0.f);
  EXPECT_EQ(c.zero_point, 127);
}

TEST(CalibrateTensor, ForcedAsymmetricTwoSided) {
  std::vector<float> x(4001);
  for (size_t i = 0; i < x.size(); ++i) x[i] = -1.f + 4.f * float(i) / 4000.f;  // [-1, 3]
  TensorObserver o;
  observe(o, x);
  CalibOptions opt;
  opt.range = ActivationRange::kAsymmetric;
  opt.method = CalibMethod::kMinMax;
  const TensorCalibration mm = calibrate_tensor("x", o, opt);
  EXPECT_EQ(mm.scale, float(4.0 / 255.0));
  EXPECT_EQ(mm.zero_point, -64);
  opt.method = CalibMethod::kMse;
  const TensorCalibration mse = calibrate_tensor("x", o, opt);
  EXPECT_FALSE(mse.symmetric);
  EXPECT_GE(mse.range_lo, -1.f);
  EXPECT_LE(mse.range_hi, 3.f);
  EXPECT_LE(mse.quant_mse, mm.quant_mse * (1 + 1e-9));
  opt.method = CalibMethod::kPercentile;
  opt.percentile = 90;  // per side: 90% of the negative values, 90% of the positive ones
  const TensorCalibration pc = calibrate_tensor("x", o, opt);
  EXPECT_NEAR(pc.range_lo, -0.9f, 0.01f);
  EXPECT_NEAR(pc.range_hi, 2.7f, 0.01f);
  EXPECT_EQ(pc.method, "percentile");
}

TEST(CalibrateTensor, Uint8SymmetricMse) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> x(50000);
  for (float& v : x) v = nd(rng);
  TensorObserver o(256);
  observe(o, x);
  CalibOptions opt;
  opt.method = CalibMethod::kMse;
  opt.unsigned_int = true;
  const TensorCalibration c = calibrate_tensor("g", o, opt);
  EXPECT_TRUE(c.symmetric);
  EXPECT_EQ(c.zero_point, 128);
  EXPECT_EQ(c.scale, float(2.0 * double(c.threshold) / 255.0));
  EXPECT_LE(c.threshold, o.amax());
  EXPECT_GT(c.threshold, 2.f);
}

// Uniform bulk in [-1, 1] plus one far outlier at 50: minmax spends the grid on the outlier, percentile
// ignores it, entropy cannot go below 128 of the 2048 bins (3.125). Auto records every candidate and keeps the
// lowest expected squared error: with 10^5 values the clipped outlier's (50 - t)^2 still matters, so the
// optimum is in between (minimizing 10^5 * (t/127)^2 / 12 + (50 - t)^2 gives t ~ 33) and mse wins.
TEST(CalibrateTensor, AutoPicksLowestExpectedErrorAndRecordsCandidates) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> x(100000);
  for (float& v : x) v = u(rng);
  x[500] = 50.f;
  TensorObserver o;
  observe(o, x);
  CalibOptions opt;
  opt.method = CalibMethod::kMinMax;
  EXPECT_EQ(calibrate_tensor("t", o, opt).threshold, 50.f);
  opt.method = CalibMethod::kPercentile;
  const TensorCalibration pct = calibrate_tensor("t", o, opt);
  EXPECT_GT(pct.threshold, 0.99f);
  EXPECT_LT(pct.threshold, 1.05f);  // one bin of 50/2048 above the bulk at most
  opt.method = CalibMethod::kEntropy;
  const TensorCalibration ent = calibrate_tensor("t", o, opt);
  EXPECT_GE(ent.threshold, 3.125f);
  EXPECT_LT(ent.threshold, 50.f);

  opt.method = CalibMethod::kAuto;
  opt.range = ActivationRange::kSymmetric;  // (auto range would go asymmetric: -1..50 is skewed)
  const TensorCalibration a = calibrate_tensor("t", o, opt);
  ASSERT_EQ(a.candidates.size(), 5u);
  ASSERT_EQ(a.candidate_details.size(), 5u);
  const char* names[] = {"minmax", "entropy", "percentile:99.99", "percentile:99.999", "mse"};
  double best = 1e300;
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(a.candidates[i].first, names[i]);
    EXPECT_EQ(a.candidates[i].second, a.candidate_details[i].threshold);
    best = std::min(best, a.candidate_details[i].quant_mse);
  }
  EXPECT_EQ(a.candidates[0].second, 50.f);
  EXPECT_EQ(a.quant_mse, best);
  EXPECT_EQ(a.method.rfind("auto:", 0), 0u) << a.method;
  EXPECT_EQ(a.method, "auto:mse");
  EXPECT_GT(a.threshold, 25.f);
  EXPECT_LT(a.threshold, 40.f);
  EXPECT_EQ(a.scale, float(double(a.threshold) / 127.0));
  // A non-default percentile becomes a sixth candidate.
  opt.percentile = 99.9;
  EXPECT_EQ(calibrate_tensor("t", o, opt).candidates.size(), 6u);
}

// Every method x range mode x int type on degenerate tensors: never a zero, negative, NaN or infinite scale.
TEST(CalibrateTensor, DegenerateTensorsAlwaysGiveAUsableScale) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<std::vector<float>> cases = {
      {},                                             // nothing observed
      {0.f, 0.f, -0.f},                               // all zeros
      {5.f, 5.f, 5.f},                                // constant (min == max)
      {-3.f},                                         // one element
      {-4.f, -1.f, -2.5f},                            // all negative
      {FLT_MAX, -FLT_MAX, 1.f},                       // huge
      {1e-44f, -1e-44f},                              // subnormal
      {nan, nan},                                     // only NaN
      {std::numeric_limits<float>::infinity(), 2.f},  // Inf ignored
  };
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    TensorObserver o(256);  // small histograms keep this sweep fast
    observe(o, cases[ci]);
    for (CalibMethod m :
         {CalibMethod::kMinMax, CalibMethod::kEntropy, CalibMethod::kPercentile, CalibMethod::kMse, CalibMethod::kAuto})
      for (ActivationRange r : {ActivationRange::kSymmetric, ActivationRange::kAsymmetric, ActivationRange::kAuto})
        for (bool uns : {false, true}) {
          CalibOptions opt;
          opt.method = m;
          opt.range = r;
          opt.unsigned_int = uns;
          const TensorCalibration c = calibrate_tensor("t", o, opt);
          SCOPED_TRACE(testing::Message() << "case " << ci << " method " << calib_method_name(m) << " range "
                                          << activation_range_name(r) << " unsigned " << uns);
          EXPECT_TRUE(std::isfinite(c.scale) && c.scale > 0) << c.scale;
          EXPECT_GE(c.zero_point, uns ? 0 : -128);
          EXPECT_LE(c.zero_point, uns ? 255 : 127);
          EXPECT_LE(c.range_lo, 0.f);
          EXPECT_GE(c.range_hi, 0.f);
          EXPECT_TRUE(std::isfinite(c.threshold));
          EXPECT_TRUE(std::isfinite(c.quant_mse) && c.quant_mse >= 0) << c.quant_mse;
          EXPECT_FALSE(c.method.empty());
          for (double v : c.histogram) EXPECT_TRUE(std::isfinite(v));
        }
  }
  // Invalid percentile: clamped, no crash.
  TensorObserver o;
  observe(o, {1.f, -1.f});
  CalibOptions opt;
  opt.method = CalibMethod::kPercentile;
  opt.percentile = -5;
  EXPECT_TRUE(std::isfinite(calibrate_tensor("t", o, opt).scale));
  opt.percentile = std::nan("");
  EXPECT_TRUE(std::isfinite(calibrate_tensor("t", o, opt).scale));
}

TEST(CalibrateTensor, ZerosAndConstants) {
  CalibOptions opt;
  TensorObserver zeros;
  observe(zeros, std::vector<float>(100, 0.f));
  TensorCalibration c = calibrate_tensor("z", zeros, opt);
  EXPECT_EQ(c.scale, 1.f);
  EXPECT_EQ(c.zero_point, 0);
  EXPECT_EQ(c.threshold, 0.f);
  EXPECT_EQ(c.quant_mse, 0.0);

  // Asymmetric [0, 5]: 5 is exactly the top code. The histograms only know the mass lies in the last bin
  // (treated as uniform over it), so mse may stop one bin (5/2048) short and the error is ~ bin^2 / 3, not 0.
  TensorObserver constant;
  observe(constant, std::vector<float>(100, 5.f));
  for (CalibMethod m : {CalibMethod::kMinMax, CalibMethod::kEntropy, CalibMethod::kPercentile, CalibMethod::kMse}) {
    opt.method = m;
    c = calibrate_tensor("c", constant, opt);
    EXPECT_FALSE(c.symmetric);
    if (m == CalibMethod::kMse)
      EXPECT_NEAR(c.range_hi, 5.f, 5.f / 2048) << calib_method_name(m);
    else
      EXPECT_EQ(c.range_hi, 5.f) << calib_method_name(m);
    EXPECT_EQ(c.zero_point, -128);
    EXPECT_LT(c.quant_mse, 1e-5);
  }
}

}  // namespace
}  // namespace lowbit::quant

namespace lowbit::quant {
namespace {

TEST(CalibrateTensor, AutoRangeIsAsymmetricForSkewedTensorsOnly) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> skew(-0.4f, 80.f), even(-3.f, 2.f);
  std::vector<float> a(20000), b(20000);
  for (float& v : a) v = skew(rng);
  for (float& v : b) v = even(rng);
  TensorObserver oa, ob;
  observe(oa, a);
  observe(ob, b);
  CalibOptions opt;  // method auto, range auto
  EXPECT_FALSE(calibrate_tensor("hardswish_like", oa, opt).symmetric);  // -0.4..80: smaller side < half
  EXPECT_TRUE(calibrate_tensor("conv_like", ob, opt).symmetric);        // -3..2: balanced enough
}

TEST(CalibrateTensor, AutoNeverClipsMoreThanPercentile9999) {
  // A skewed tensor (hard-swish-like: 0..80 plus 1% of small negatives down to -0.4). On the asymmetric grid
  // the MSE optimum cuts the thin negative side (it barely moves the error), auto must keep the 99.99% point.
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> pos(0.f, 80.f), neg(-0.4f, 0.f);
  std::vector<float> x(200000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = i % 100 == 0 ? neg(rng) : pos(rng);
  TensorObserver o;
  observe(o, x);
  CalibOptions opt;
  opt.method = CalibMethod::kMse;
  const TensorCalibration mse = calibrate_tensor("t", o, opt);
  opt.method = CalibMethod::kPercentile;
  const TensorCalibration pct = calibrate_tensor("t", o, opt);
  ASSERT_FALSE(pct.symmetric);
  ASSERT_GT(mse.range_lo, pct.range_lo) << "the test needs MSE to clip the negative side harder than the percentile";
  opt.method = CalibMethod::kAuto;
  const TensorCalibration a = calibrate_tensor("t", o, opt);
  EXPECT_LE(a.range_lo, pct.range_lo * (1 - 1e-5f)) << a.method;
  EXPECT_GE(a.range_hi, pct.range_hi * (1 - 1e-5f)) << a.method;
}

}  // namespace
}  // namespace lowbit::quant
