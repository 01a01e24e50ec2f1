// TensorObserver: streaming, bounded-memory statistics of one float tensor over many calibration batches
// (running min/max, element count, count of NaN/Inf, and a fine histogram). It never stores activations.
//
//   quant::TensorObserver obs;                       // one per calibrated tensor (and per thread)
//   for (const Tensor& batch : conv1_outputs) LB_RETURN_IF_ERROR(obs.observe(batch));
//   std::vector<double> h = obs.abs_histogram(2048);  // |x| histogram over [0, obs.amax()]
//   LB_RETURN_IF_ERROR(obs.merge(other_thread_obs));   // combine per-thread observers
//
// The internal histogram and its resolution guarantee
//   The observer keeps 2*S integer bin counts, S = next power of two >= 4 * num_bins (8192 for the default
//   2048), S per sign, over [-R, R]: bin k of the positive side counts x in [k*w, (k+1)*w) (x >= 0 and -0
//   included), bin k of the negative side counts x in (-(k+1)*w, -k*w], w = R / S. R is always the smallest
//   power of two >= max|x| seen so far (R never below 2^-100), so
//       max|x| <= R < 2 * max|x|   and   w < max|x| / (2 * num_bins),
//   i.e. every internal bin is narrower than half a bin of abs_histogram(num_bins). When a batch exceeds R,
//   R doubles (as often as needed) and bin k becomes bin k >> doublings: counts stay exact integers.
//   Because R is a power of two, w is too and k = floor(|x| / w) is computed exactly in float, so the
//   histogram depends only on the multiset of values seen, not on the batch order, the batch split or the
//   order in which per-thread observers are merged.
//   Memory: 16 * S bytes (128 KiB for the default), fixed.
// Speed: ~2-3 ns per value on the 2-core dev machine (a vectorized min/max pass, then a branch-free binning
// pass). Not thread-safe: use one observer per thread and merge().
#pragma once
#include <cstdint>
#include <vector>

#include "lowbit/status.h"
#include "lowbit/tensor.h"

namespace lowbit::quant {

class TensorObserver {
 public:
  // num_bins is the |x| resolution callers intend to ask for (abs_histogram(num_bins)); it is clamped to
  // [8, 65536]. 2048 matches TensorRT's entropy calibration.
  explicit TensorObserver(int num_bins = 2048);

  // Adds n values. NaN and +-Inf are not binned and do not move min/max, but are counted.
  // Cost: two tight passes over the data (min/max, then binning), no allocation unless the range grows.
  void observe(const float* data, int64_t n);
  // Same for a float32 tensor; any other dtype is an error (nothing is observed).
  Status observe(const Tensor& t);
  // Adds another observer's statistics (e.g. one per thread). Fails when the bin counts differ.
  Status merge(const TensorObserver& other);
  void reset();

  // Finite values only; min() == max() == 0 while none has been seen.
  float min() const { return count_ ? min_ : 0.f; }
  float max() const { return count_ ? max_ : 0.f; }
  float amax() const;                       // max(|min|, |max|)
  int64_t count() const { return count_; }  // finite values observed
  int64_t nonfinite_count() const { return nonfinite_; }
  int num_bins() const { return num_bins_; }

  // Which values a re-binned |x| histogram covers.
  enum class Side { kBoth, kPositive, kNegative };
  // Histogram of |x| with `bins` bins over [0, amax] (kBoth; amax = max(|min|, |max|)), over [0, max]
  // (kPositive: values >= 0) or over [0, -min] (kNegative: values < 0). Internal bins are split between the
  // output bins they overlap in proportion to the overlap (mass assumed uniform inside a bin, and clipped to
  // the observed extreme), so the total equals the number of values on that side up to rounding. When the
  // extent is 0 every counted value lands in bin 0. bins < 1 gives an empty vector.
  std::vector<double> abs_histogram(int bins, Side side = Side::kBoth) const;
  // Signed histogram with `bins` equal bins over [lo, hi] (lo < hi); mass outside goes to the edge bins.
  // When lo >= hi all mass goes to bin 0.
  std::vector<double> histogram(int bins, double lo, double hi) const;

  // The raw internal state, for tests and debugging: counts ordered from the most negative bin to the most
  // positive one (2*S entries; index S + k is positive bin k, S - 1 - k is negative bin k) and R.
  const std::vector<uint64_t>& internal_counts() const { return hist_; }
  double internal_range() const { return range_; }
  int internal_bins_per_side() const { return side_bins_; }

 private:
  void grow_range_to(double new_range);  // new_range: a power of two >= range_
  // Calls fn(lo, hi, count, negative) for every non-empty internal bin as a signed interval clipped to
  // [min, max]; negative tells which side the bin belongs to.
  template <typename Fn>
  void for_each_bin(Fn fn) const;

  int num_bins_;
  int side_bins_;  // S
  std::vector<uint64_t> hist_;
  double range_ = 0;     // R; 0 while only zeros were seen
  float inv_width_ = 0;  // S / R (a power of two), 0 while range_ == 0: every value then lands in bin S
  float min_ = 0, max_ = 0;
  int64_t count_ = 0, nonfinite_ = 0;
};

}  // namespace lowbit::quant
