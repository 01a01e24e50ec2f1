// TensorObserver: exact min/max/counts, bin placement, power-of-two range growth that keeps counts exact
// and is independent of batch order and threading (merge), re-binned histograms, NaN/Inf and extremes.
#include "quant/tensor_observer.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

namespace lowbit::quant {
namespace {

double sum(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); }
uint64_t sum(const std::vector<uint64_t>& v) { return std::accumulate(v.begin(), v.end(), uint64_t(0)); }

void observe(TensorObserver& o, const std::vector<float>& v) { o.observe(v.data(), int64_t(v.size())); }

TEST(TensorObserver, EmptyObserverIsAllZero) {
  TensorObserver o;
  EXPECT_EQ(o.count(), 0);
  EXPECT_EQ(o.min(), 0.f);
  EXPECT_EQ(o.max(), 0.f);
  EXPECT_EQ(o.amax(), 0.f);
  EXPECT_EQ(sum(o.abs_histogram(16)), 0.0);
  EXPECT_EQ(o.abs_histogram(16).size(), 16u);
  EXPECT_TRUE(o.abs_histogram(0).empty());
  o.observe(nullptr, 10);  // ignored, no crash
  o.observe(nullptr, -1);
  EXPECT_EQ(o.count(), 0);
}

TEST(TensorObserver, MinMaxCountsAreExact) {
  TensorObserver o;
  observe(o, {0.25f, -3.5f, 7.125f, 0.f});
  observe(o, {-1.f, 2.f});
  EXPECT_EQ(o.min(), -3.5f);
  EXPECT_EQ(o.max(), 7.125f);
  EXPECT_EQ(o.amax(), 7.125f);
  EXPECT_EQ(o.count(), 6);
  EXPECT_EQ(sum(o.internal_counts()), 6u);
}

TEST(TensorObserver, BinsAreExactAndSignSplit) {
  TensorObserver o(8);  // S = 32 bins per side
  ASSERT_EQ(o.internal_bins_per_side(), 32);
  observe(o, {0.5f, -0.5f, 0.f, -0.f, 1.f, 0.03125f, -0.03125f});
  EXPECT_EQ(o.internal_range(), 1.0);  // max |x| = 1 is a power of two
  const auto& h = o.internal_counts();
  const int S = 32;
  EXPECT_EQ(h[S + 16], 1u);      // 0.5: positive bin 16 = [0.5, 0.53125)
  EXPECT_EQ(h[S - 1 - 16], 1u);  // -0.5: negative bin 16 = (-0.53125, -0.5]
  EXPECT_EQ(h[S + 0], 2u);       // +0 and -0 both count as non-negative
  EXPECT_EQ(h[S + 31], 1u);      // 1.0 == R: the last bin
  EXPECT_EQ(h[S + 1], 1u);       // 1/32 is the lower edge of positive bin 1
  EXPECT_EQ(h[S - 1 - 1], 1u);   // -1/32 is the upper edge of negative bin 1
  EXPECT_EQ(sum(h), 7u);
}

TEST(TensorObserver, RangeIsSmallestPowerOfTwoAtLeastAmax) {
  TensorObserver a;
  observe(a, {3.f});
  EXPECT_EQ(a.internal_range(), 4.0);
  observe(a, {-4.f});
  EXPECT_EQ(a.internal_range(), 4.0);
  observe(a, {4.5f});
  EXPECT_EQ(a.internal_range(), 8.0);
  observe(a, {1000.f});
  EXPECT_EQ(a.internal_range(), 1024.0);
  EXPECT_EQ(a.count(), 4);
  EXPECT_EQ(sum(a.internal_counts()), 4u);

  TensorObserver zeros;  // only zeros: no range yet, all in the zero bin; later growth keeps them there
  observe(zeros, {0.f, 0.f, -0.f});
  EXPECT_EQ(zeros.internal_range(), 0.0);
  EXPECT_EQ(zeros.internal_counts()[size_t(zeros.internal_bins_per_side())], 3u);
  observe(zeros, {0.75f});
  EXPECT_EQ(zeros.internal_range(), 1.0);
  EXPECT_EQ(zeros.internal_counts()[size_t(zeros.internal_bins_per_side())], 3u);
}

// Growing the range merges bins; the result must equal observing everything at the final range at once,
// whatever the batch order (counts exact, no drift).
TEST(TensorObserver, RebinningIsExactAndOrderIndependent) {
  std::mt19937 rng(1234);
  std::normal_distribution<float> small(0.f, 0.1f);
  std::vector<float> a(5000), b(5000), c(3000);
  for (float& x : a) x = small(rng);
  for (float& x : b) x = 10.f * small(rng);
  for (float& x : c) x = 1000.f * small(rng);
  c[17] = -777.f;

  TensorObserver forward, backward, mixed, once;
  observe(forward, a), observe(forward, b), observe(forward, c);
  observe(backward, c), observe(backward, b), observe(backward, a);
  observe(mixed, b), observe(mixed, a), observe(mixed, c);
  std::vector<float> all(a);
  all.insert(all.end(), b.begin(), b.end());
  all.insert(all.end(), c.begin(), c.end());
  observe(once, all);

  for (const TensorObserver* o : {&forward, &backward, &mixed}) {
    EXPECT_EQ(o->internal_counts(), once.internal_counts());
    EXPECT_EQ(o->internal_range(), once.internal_range());
    EXPECT_EQ(o->min(), once.min());
    EXPECT_EQ(o->max(), once.max());
    EXPECT_EQ(o->count(), 13000);
  }
  EXPECT_EQ(sum(once.internal_counts()), 13000u);
  EXPECT_NEAR(sum(forward.abs_histogram(2048)), 13000.0, 1e-6);
}

TEST(TensorObserver, MergeEqualsObservingEverything) {
  std::vector<float> x(4096);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(float(i)) * float(i % 97) * 0.37f;
  TensorObserver whole, t0, t1, t2;
  observe(whole, x);
  t0.observe(x.data(), 1000);
  t1.observe(x.data() + 1000, 2000);
  t2.observe(x.data() + 3000, 1096);
  ASSERT_TRUE(t1.merge(t0).ok());
  ASSERT_TRUE(t1.merge(t2).ok());
  EXPECT_EQ(t1.internal_counts(), whole.internal_counts());
  EXPECT_EQ(t1.internal_range(), whole.internal_range());
  EXPECT_EQ(t1.min(), whole.min());
  EXPECT_EQ(t1.max(), whole.max());
  EXPECT_EQ(t1.count(), whole.count());

  TensorObserver empty;
  ASSERT_TRUE(empty.merge(whole).ok());  // into an empty one
  EXPECT_EQ(empty.internal_counts(), whole.internal_counts());
  TensorObserver other_bins(64);
  Status s = whole.merge(other_bins);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("num_bins"), std::string::npos) << s.message();
}

TEST(TensorObserver, NonFiniteValuesAreCountedAndIgnored) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  TensorObserver o;
  observe(o, {nan, inf, -inf, nan});
  EXPECT_EQ(o.count(), 0);
  EXPECT_EQ(o.nonfinite_count(), 4);
  EXPECT_EQ(o.min(), 0.f);
  EXPECT_EQ(o.max(), 0.f);
  observe(o, {1.f, nan, -2.f, inf});
  EXPECT_EQ(o.count(), 2);
  EXPECT_EQ(o.nonfinite_count(), 6);
  EXPECT_EQ(o.min(), -2.f);
  EXPECT_EQ(o.max(), 1.f);
  EXPECT_EQ(sum(o.internal_counts()), 2u);
}

TEST(TensorObserver, ExtremeMagnitudes) {
  TensorObserver o;
  const float denorm = std::numeric_limits<float>::denorm_min();
  observe(o, {denorm, -denorm});
  EXPECT_EQ(o.count(), 2);
  EXPECT_GT(o.internal_range(), 0.0);
  observe(o, {FLT_MAX, -FLT_MAX, 1.f});
  EXPECT_EQ(o.max(), FLT_MAX);
  EXPECT_EQ(o.min(), -FLT_MAX);
  EXPECT_EQ(o.internal_range(), std::ldexp(1.0, 128));
  EXPECT_EQ(sum(o.internal_counts()), 5u);
  const std::vector<double> h = o.abs_histogram(2048);
  EXPECT_NEAR(sum(h), 5.0, 1e-9);
  EXPECT_NEAR(h.back(), 2.0, 1e-9);  // +-FLT_MAX
  for (double v : h) EXPECT_TRUE(std::isfinite(v));
}

TEST(TensorObserver, AbsHistogramRebinsProportionally) {
  // 1000 values evenly spread over (0, 1): each of 10 output bins gets ~100, the total is exact.
  std::vector<float> x(1000);
  for (int i = 0; i < 1000; ++i) x[size_t(i)] = (float(i) + 0.5f) / 1000.f;
  TensorObserver o;
  observe(o, x);
  const std::vector<double> h = o.abs_histogram(10);
  ASSERT_EQ(h.size(), 10u);
  EXPECT_NEAR(sum(h), 1000.0, 1e-9);
  for (double v : h) EXPECT_NEAR(v, 100.0, 1.5);

  // Negative values fold onto |x|; the sides can be asked for separately.
  TensorObserver s;
  observe(s, {-0.75f, -0.25f, 0.25f, 0.5f, 1.0f});
  const std::vector<double> both = s.abs_histogram(4), pos = s.abs_histogram(4, TensorObserver::Side::kPositive),
                            neg = s.abs_histogram(4, TensorObserver::Side::kNegative);
  EXPECT_NEAR(sum(both), 5.0, 1e-12);
  EXPECT_NEAR(sum(pos), 3.0, 1e-12);       // over [0, 1]
  EXPECT_NEAR(sum(neg), 2.0, 1e-12);       // over [0, 0.75]
  EXPECT_NEAR(both[3], 1.0 + 1.0, 1e-12);  // 1.0 and -0.75 in [0.75, 1]
  EXPECT_NEAR(neg[3], 1.0, 1e-12);         // -0.75 at the top of [0, 0.75]
  EXPECT_NEAR(neg[1], 1.0, 1e-12);         // -0.25 at [0.1875, 0.375)
}

TEST(TensorObserver, SignedHistogram) {
  TensorObserver o;
  observe(o, {-1.f, -0.5f, 0.f, 0.5f, 0.9f});
  const std::vector<double> h = o.histogram(4, -1.0, 1.0);  // [-1,-.5) [-.5,0) [0,.5) [.5,1]
  ASSERT_EQ(h.size(), 4u);
  EXPECT_NEAR(sum(h), 5.0, 1e-12);
  EXPECT_NEAR(h[0], 2.0, 1e-3);  // -1 (its internal bin clipped at min = -1) and -0.5 ((-0.5 - w, -0.5])
  EXPECT_NEAR(h[3], 2.0, 1e-3);  // 0.5 and 0.9
  EXPECT_NEAR(h[2], 1.0, 1e-3);  // 0
  // Mass outside [lo, hi] goes to the edge bins; a degenerate range puts everything in bin 0.
  const std::vector<double> narrow = o.histogram(2, -0.25, 0.25);
  EXPECT_NEAR(sum(narrow), 5.0, 1e-12);
  EXPECT_NEAR(narrow[0], 2.0, 1e-3);
  const std::vector<double> point = o.histogram(3, 1.0, 1.0);
  EXPECT_EQ(point[0], 5.0);
}

TEST(TensorObserver, TensorOverloadChecksDtype) {
  TensorObserver o;
  Tensor f = Tensor::from_vector<float>(DType::kFloat32, {3}, {1.f, -2.f, 3.f});
  ASSERT_TRUE(o.observe(f).ok());
  EXPECT_EQ(o.count(), 3);
  Tensor i = Tensor::from_vector<int32_t>(DType::kInt32, {2}, {1, 2});
  Status s = o.observe(i);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("int32"), std::string::npos) << s.message();
  EXPECT_EQ(o.count(), 3);
}

TEST(TensorObserver, ClampsBinCountAndResets) {
  TensorObserver tiny(-5), huge(1 << 30);
  EXPECT_EQ(tiny.num_bins(), 8);
  EXPECT_EQ(huge.num_bins(), 65536);
  observe(tiny, {1.f, 2.f});
  tiny.reset();
  EXPECT_EQ(tiny.count(), 0);
  EXPECT_EQ(sum(tiny.internal_counts()), 0u);
  EXPECT_EQ(tiny.internal_range(), 0.0);
}

}  // namespace
}  // namespace lowbit::quant
