#include "quant/tensor_observer.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>

namespace lowbit::quant {

namespace {

constexpr int kMinBins = 8;
constexpr int kMaxBins = 1 << 16;
// Keeps S / R within float range (S <= 2^18, so S / R <= 2^118).
constexpr int kMinRangeExponent = -100;

int next_pow2(int v) {
  int p = 1;
  while (p < v) p <<= 1;
  return p;
}

// Smallest power of two >= a (a > 0, finite), at least 2^kMinRangeExponent.
double pow2_ceil(double a) {
  int e = 0;
  const double m = std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  if (m == 0.5) e -= 1;                // a is itself a power of two
  return std::ldexp(1.0, std::max(e, kMinRangeExponent));
}

// Adds count c, spread uniformly over [lo, hi], to `out` (bins of width `width` starting at `origin`) in
// proportion to the overlap. A point (hi <= lo) goes to the bin containing it. Indices are clamped, so mass
// at or beyond the edges lands in the edge bins. The last share is the remainder, so the mass is kept.
void spread(std::vector<double>& out, double origin, double width, double lo, double hi, double c) {
  const int64_t last = int64_t(out.size()) - 1;
  auto index_of = [&](double x) {
    const double f = std::floor((x - origin) / width);
    if (!(f > 0)) return int64_t(0);
    return f >= double(last) ? last : int64_t(f);
  };
  const int64_t j0 = index_of(lo);
  const int64_t j1 = hi > lo ? index_of(hi) : j0;
  if (j0 == j1) {
    out[j0] += c;
    return;
  }
  const double inv_len = 1.0 / (hi - lo);
  double given = 0;
  for (int64_t j = j0; j < j1; ++j) {
    const double seg_hi = std::min(hi, origin + double(j + 1) * width);
    const double seg_lo = std::max(lo, origin + double(j) * width);
    const double share = seg_hi > seg_lo ? c * (seg_hi - seg_lo) * inv_len : 0.0;
    out[j] += share;
    given += share;
  }
  out[j1] += std::max(0.0, c - given);
}

// Min/max of the finite values and the number of non-finite ones. Kept as 16 independent lanes so GCC
// vectorizes it without -ffast-math (a plain float min/max reduction is not vectorized): 0.25 ns per value
// instead of 1.7.
int64_t scan_min_max(const float* data, int64_t n, float* min_out, float* max_out) {
  constexpr int kLanes = 16;
  constexpr int64_t kFlushBlocks = int64_t(1) << 24;  // keeps the int32 lane counters from overflowing
  const float inf = std::numeric_limits<float>::infinity();
  float mn[kLanes], mx[kLanes];
  int32_t nf[kLanes];
  for (int j = 0; j < kLanes; ++j) mn[j] = inf, mx[j] = -inf, nf[j] = 0;
  int64_t nonfinite = 0, i = 0, blocks = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) {
      const float x = data[i + j];
      const bool finite = std::fabs(x) <= FLT_MAX;  // false for NaN and +-Inf
      nf[j] += !finite;
      const float lo = finite ? x : inf, hi = finite ? x : -inf;
      mn[j] = lo < mn[j] ? lo : mn[j];
      mx[j] = hi > mx[j] ? hi : mx[j];
    }
    if (++blocks == kFlushBlocks) {
      for (int j = 0; j < kLanes; ++j) nonfinite += nf[j], nf[j] = 0;
      blocks = 0;
    }
  }
  float lo = inf, hi = -inf;
  for (int j = 0; j < kLanes; ++j) lo = std::min(lo, mn[j]), hi = std::max(hi, mx[j]), nonfinite += nf[j];
  for (; i < n; ++i) {
    const float x = data[i];
    if (std::fabs(x) <= FLT_MAX)
      lo = std::min(lo, x), hi = std::max(hi, x);
    else
      ++nonfinite;
  }
  *min_out = lo;
  *max_out = hi;
  return nonfinite;
}

}  // namespace

TensorObserver::TensorObserver(int num_bins) {
  num_bins_ = std::clamp(num_bins, kMinBins, kMaxBins);
  side_bins_ = next_pow2(4 * num_bins_);
  hist_.assign(2 * size_t(side_bins_), 0);
}

void TensorObserver::reset() {
  std::fill(hist_.begin(), hist_.end(), 0);
  range_ = 0;
  inv_width_ = 0;
  min_ = max_ = 0;
  count_ = nonfinite_ = 0;
}

float TensorObserver::amax() const { return count_ ? std::max(std::fabs(min_), std::fabs(max_)) : 0.f; }

void TensorObserver::grow_range_to(double new_range) {
  if (new_range <= range_) return;
  if (range_ > 0) {
    // Each doubling merges bin pairs (2k, 2k+1) -> k on both sides: bin k -> k >> doublings.
    const int doublings = std::min(30, int(std::lround(std::log2(new_range / range_))));
    const int S = side_bins_;
    uint64_t* pos = hist_.data() + S;  // pos[k]: positive bin k
    uint64_t* neg = hist_.data();      // neg[S - 1 - k]: negative bin k
    for (int k = 1; k < S; ++k) {      // ascending: the target k >> d < k was already emptied or is bin 0
      const int t = k >> doublings;
      const uint64_t p = pos[k], n = neg[S - 1 - k];
      pos[k] = 0;
      neg[S - 1 - k] = 0;
      pos[t] += p;
      neg[S - 1 - t] += n;
    }
  }
  range_ = new_range;
  // S / R: both powers of two, so the quotient is exact and |x| * inv_width_ is exact in float.
  inv_width_ = float(double(side_bins_) / range_);
}

void TensorObserver::observe(const float* data, int64_t n) {
  if (!data || n <= 0) return;
  // Pass 1: min/max and the non-finite count; pass 2 then knows the range needed before binning anything.
  float mn, mx;
  const int64_t nonfinite = scan_min_max(data, n, &mn, &mx);
  nonfinite_ += nonfinite;
  if (nonfinite == n) return;
  if (count_ == 0) {
    min_ = mn;
    max_ = mx;
  } else {
    min_ = std::min(min_, mn);
    max_ = std::max(max_, mx);
  }
  count_ += n - nonfinite;

  const double batch_amax = std::max(std::fabs(double(mn)), std::fabs(double(mx)));
  if (batch_amax > range_) grow_range_to(pow2_ceil(batch_amax));

  // Pass 2: bin. k = floor(|x| * S / R) is exact; only |x| == R gives k == S, clamped to the last bin.
  // The side is applied arithmetically: `x < 0 ? top - k : S + k` compiled to a branch and cost 4x on
  // mixed-sign data (8.6 vs 2.0 ns per value).
  const float inv_w = inv_width_;
  const int S = side_bins_, top = S - 1;
  uint64_t* h = hist_.data();
  auto bin_of = [=](float x) {
    const int negative = x < 0.f;  // a compare-and-set, not a branch; -0 counts as 0
    int k = int(std::fabs(x) * inv_w);
    k = k < top ? k : top;
    return S + k - negative * (2 * k + 1);  // S + k, or S - 1 - k for negative x
  };
  if (nonfinite == 0) {
    for (int64_t i = 0; i < n; ++i) h[bin_of(data[i])]++;
  } else {
    for (int64_t i = 0; i < n; ++i)
      if (std::fabs(data[i]) <= FLT_MAX) h[bin_of(data[i])]++;
  }
}

Status TensorObserver::observe(const Tensor& t) {
  if (t.dtype() != DType::kFloat32)
    return error(StatusCode::kInvalidArgument, "TensorObserver: expected a float32 tensor, got ",
                 dtype_name(t.dtype()));
  observe(t.data<float>(), t.numel());
  return Status::Ok();
}

Status TensorObserver::merge(const TensorObserver& other) {
  if (other.side_bins_ != side_bins_)
    return error(StatusCode::kInvalidArgument, "TensorObserver::merge: histograms differ (", 2 * side_bins_, " vs ",
                 2 * other.side_bins_, " internal bins); construct both with the same num_bins");
  if (&other == this) {  // merging with itself doubles every count
    for (uint64_t& c : hist_) c *= 2;
    count_ *= 2;
    nonfinite_ *= 2;
    return Status::Ok();
  }
  nonfinite_ += other.nonfinite_;
  if (other.count_ == 0) return Status::Ok();
  if (count_ == 0) {
    min_ = other.min_;
    max_ = other.max_;
  } else {
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }
  count_ += other.count_;
  grow_range_to(other.range_);
  // Other's bin k maps to k >> d in our (equal or larger) range; other.range_ == 0 means all in bin 0.
  const int d = other.range_ > 0 ? std::min(30, int(std::lround(std::log2(range_ / other.range_)))) : 30;
  const int S = side_bins_;
  for (int k = 0; k < S; ++k) {
    hist_[S + (k >> d)] += other.hist_[S + k];
    hist_[S - 1 - (k >> d)] += other.hist_[S - 1 - k];
  }
  return Status::Ok();
}

template <typename Fn>
void TensorObserver::for_each_bin(Fn fn) const {
  const int S = side_bins_;
  const double w = range_ / S;
  const double lo_clip = min_, hi_clip = max_;
  auto emit = [&](double lo, double hi, uint64_t c, bool negative) {
    lo = std::clamp(lo, lo_clip, hi_clip);
    hi = std::clamp(hi, lo_clip, hi_clip);
    if (hi < lo) hi = lo;
    fn(lo, hi, double(c), negative);
  };
  for (int k = 0; k < S; ++k) {
    if (uint64_t c = hist_[S + k]) emit(k * w, (k + 1) * w, c, false);
    if (uint64_t c = hist_[S - 1 - k]) emit(-(k + 1) * w, -k * w, c, true);
  }
}

std::vector<double> TensorObserver::abs_histogram(int bins, Side side) const {
  if (bins < 1) return {};
  std::vector<double> out(size_t(bins), 0.0);
  if (count_ == 0) return out;
  double extent = 0;
  switch (side) {
    case Side::kBoth:
      extent = amax();
      break;
    case Side::kPositive:
      extent = std::max(0.f, max_);
      break;
    case Side::kNegative:
      extent = std::max(0.f, -min_);
      break;
  }
  const double width = extent / bins;
  for_each_bin([&](double lo, double hi, double c, bool negative) {
    if (side == Side::kPositive && negative) return;
    if (side == Side::kNegative && !negative) return;
    double a = negative ? -hi : lo, b = negative ? -lo : hi;
    if (extent <= 0) {
      out[0] += c;
      return;
    }
    a = std::clamp(a, 0.0, extent);
    b = std::clamp(b, 0.0, extent);
    spread(out, 0.0, width, a, b, c);
  });
  return out;
}

std::vector<double> TensorObserver::histogram(int bins, double lo, double hi) const {
  if (bins < 1) return {};
  std::vector<double> out(size_t(bins), 0.0);
  if (count_ == 0) return out;
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) {
    out[0] = double(count_);
    return out;
  }
  const double width = (hi - lo) / bins;
  for_each_bin([&](double a, double b, double c, bool) {
    spread(out, lo, width, std::clamp(a, lo, hi), std::clamp(b, lo, hi), c);
  });
  return out;
}

}  // namespace lowbit::quant
