#include "quant/calibration_methods.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <functional>
#include <iomanip>
#include <limits>
#include <optional>
#include <sstream>

#include "quant/quant_math.h"

namespace lowbit::quant {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

bool usable_range(float range) { return std::isfinite(range) && range > 0; }
float fallback_threshold(float range) { return usable_range(range) ? range : 0.f; }
double clean_count(double c) { return std::isfinite(c) && c > 0 ? c : 0.0; }

std::vector<double> sanitized(const std::vector<double>& hist, double* total) {
  std::vector<double> out(hist.size());
  double sum = 0;
  for (size_t i = 0; i < hist.size(); ++i) sum += (out[i] = clean_count(hist[i]));
  *total = sum;
  return out;
}

// Upper edge of bin i-1 of n bins over [0, range].
float bin_edge(float range, size_t i, size_t n) { return float(double(range) * double(i) / double(n)); }

// TensorRT/MXNet smoothing: zeros get eps, non-zeros give up the same total. eps is 1e-4 for integer
// counts (as in ORT/MXNet) and shrinks with the smallest non-zero value so fractional counts (re-binned
// histograms) stay positive. False when there is no mass or a value would not stay positive (the candidate
// is then skipped, as ORT does when smoothing fails).
bool smooth(double* v, size_t n) {
  size_t zeros = 0;
  double smallest = kInf;
  for (size_t j = 0; j < n; ++j) {
    if (v[j] == 0)
      ++zeros;
    else
      smallest = std::min(smallest, v[j]);
  }
  const size_t nonzeros = n - zeros;
  if (nonzeros == 0) return false;
  const double eps = 1e-4 * std::min(1.0, smallest);
  const double eps1 = eps * double(zeros) / double(nonzeros);
  if (eps1 >= smallest) return false;
  for (size_t j = 0; j < n; ++j) v[j] = v[j] == 0 ? eps : v[j] - eps1;
  return true;
}

// KL(P || Q) of the normalized distributions (scipy.stats.entropy(p, q)); all entries are positive.
double kl_divergence(const double* p, const double* q, size_t n) {
  double sp = 0, sq = 0;
  for (size_t j = 0; j < n; ++j) sp += p[j], sq += q[j];
  const double log_ratio = std::log(sq / sp);
  double kl = 0;
  for (size_t j = 0; j < n; ++j) kl += p[j] * (std::log(p[j] / q[j]) + log_ratio);
  return kl / sp;
}

std::string percentile_name(double p) {
  std::ostringstream os;
  os << "percentile:" << std::setprecision(10) << p;
  return os.str();
}

// Coarse-to-fine search over t = t_max * i / n, i = 1..n: every 16th candidate, then all candidates within
// one coarse step of the best. The expected-error curves are smooth at that scale, and this keeps the signed
// searches (uint8 symmetric, two-sided asymmetric) to ~50 evaluations of a 4096-bin histogram.
float search_threshold(float t_max, int n, const std::function<double(float)>& err) {
  if (!(t_max > 0) || n < 1) return 0.f;
  constexpr int kStep = 16;
  int best_i = n;
  double best = err(t_max);
  for (int i = kStep; i < n; i += kStep) {
    const double e = err(bin_edge(t_max, size_t(i), size_t(n)));
    if (e < best) best = e, best_i = i;
  }
  const int from = std::max(1, best_i - kStep + 1), to = std::min(n, best_i + kStep - 1);
  int refined = best_i;
  for (int i = from; i <= to; ++i) {
    if (i == best_i) continue;
    const double e = err(bin_edge(t_max, size_t(i), size_t(n)));
    if (e < best || (e == best && i < refined)) best = e, refined = i;
  }
  return bin_edge(t_max, size_t(refined), size_t(n));
}

// Finds ranges for one tensor; histograms are built on first use.
class RangeFinder {
 public:
  RangeFinder(const TensorObserver& obs, bool symmetric, bool is_unsigned)
      : obs_(obs), symmetric_(symmetric), is_unsigned_(is_unsigned), n_(obs.num_bins()) {
    min_ = obs.min();
    max_ = obs.max();
    amax_ = obs.amax();
    eval_lo_ = std::min(double(min_), 0.0);
    eval_hi_ = std::max(double(max_), 0.0);
  }

  // The clipping range of a method (not yet widened to contain 0).
  std::pair<double, double> range(CalibMethod m, double pct) {
    switch (m) {
      case CalibMethod::kMinMax:
        if (symmetric_) return {-amax_, amax_};
        return {min_, max_};
      case CalibMethod::kPercentile:
        if (symmetric_) return sym(threshold_percentile(abs_hist(), amax_, pct));
        return {-side(true, [&](const auto& h, float ext) { return threshold_percentile(h, ext, pct); }),
                side(false, [&](const auto& h, float ext) { return threshold_percentile(h, ext, pct); })};
      case CalibMethod::kEntropy: {
        if (symmetric_) return sym(threshold_entropy(abs_hist(), amax_, 128));
        // A one-sided tensor gets all 256 levels of the asymmetric grid on its side; a two-sided one about
        // half per side.
        const int levels = one_sided() ? 256 : 128;
        return {-side(true, [&](const auto& h, float ext) { return threshold_entropy(h, ext, levels); }),
                side(false, [&](const auto& h, float ext) { return threshold_entropy(h, ext, levels); })};
      }
      case CalibMethod::kMse:
        return mse_range();
      case CalibMethod::kAuto:
        break;
    }
    return {min_, max_};
  }

  // The expected error of a range on the signed evaluation histogram, quantized as it would be.
  double evaluate(double lo, double hi) {
    float scale;
    int32_t zp, qmin, qmax;
    choose_scale_zero_point(float(lo), float(hi), symmetric_, is_unsigned_, &scale, &zp);
    quant_grid_limits(symmetric_, is_unsigned_, &qmin, &qmax);
    return expected_quant_mse(eval_hist(), eval_lo_, eval_hi_, scale, zp, qmin, qmax);
  }

 private:
  static std::pair<double, double> sym(float t) { return {-double(t), double(t)}; }
  bool one_sided() const { return min_ >= 0 || max_ <= 0; }

  const std::vector<double>& abs_hist() {
    if (!abs_) abs_ = obs_.abs_histogram(n_);
    return *abs_;
  }
  // Threshold of one side (|x| of the negative or of the non-negative values); 0 when it has no extent.
  template <typename Fn>
  double side(bool negative, Fn fn) {
    const float extent = negative ? -min_ : max_;
    if (!(extent > 0)) return 0.0;
    auto& h = negative ? neg_ : pos_;
    if (!h) h = obs_.abs_histogram(n_, negative ? TensorObserver::Side::kNegative : TensorObserver::Side::kPositive);
    return fn(*h, extent);
  }
  const std::vector<double>& eval_hist() {
    // 2n bins over the range widened to 0: n per side for a symmetric two-sided tensor, 2n for a one-sided one.
    if (!eval_) eval_ = obs_.histogram(2 * n_, eval_lo_, eval_hi_);
    return *eval_;
  }

  std::pair<double, double> mse_range() {
    if (symmetric_ && !is_unsigned_) return sym(threshold_mse(abs_hist(), amax_, 127));
    if (symmetric_)  // uint8 symmetric: zero point 128 makes the grid lopsided, so search on the signed grid
      return sym(search_threshold(amax_, n_, [&](float t) { return evaluate(-t, t); }));
    if (one_sided()) {  // [0, t] or [-t, 0] with 256 levels: exactly threshold_mse's grid with L = 255
      const double lo = -side(true, [](const auto& h, float ext) { return threshold_mse(h, ext, 255); });
      const double hi = side(false, [](const auto& h, float ext) { return threshold_mse(h, ext, 255); });
      return {lo, hi};
    }
    // Two-sided asymmetric: coordinate descent, each bound searched with the other fixed.
    double lo = min_, hi = max_;
    for (int round = 0; round < 2; ++round) {
      hi = search_threshold(max_, n_, [&](float t) { return evaluate(lo, t); });
      lo = -double(search_threshold(-min_, n_, [&](float t) { return evaluate(-t, hi); }));
    }
    return {lo, hi};
  }

  const TensorObserver& obs_;
  bool symmetric_, is_unsigned_;
  int n_;
  float min_, max_, amax_;
  double eval_lo_, eval_hi_;
  std::optional<std::vector<double>> abs_, pos_, neg_, eval_;
};

}  // namespace

const char* calib_method_name(CalibMethod m) {
  switch (m) {
    case CalibMethod::kMinMax:
      return "minmax";
    case CalibMethod::kEntropy:
      return "entropy";
    case CalibMethod::kPercentile:
      return "percentile";
    case CalibMethod::kMse:
      return "mse";
    case CalibMethod::kAuto:
      return "auto";
  }
  return "unknown";
}

bool parse_calib_method(const std::string& s, CalibMethod* out) {
  CalibMethod m;
  if (s == "minmax" || s == "max")
    m = CalibMethod::kMinMax;
  else if (s == "entropy" || s == "kl" || s == "entropy2")
    m = CalibMethod::kEntropy;
  else if (s == "percentile")
    m = CalibMethod::kPercentile;
  else if (s == "mse")
    m = CalibMethod::kMse;
  else if (s == "auto")
    m = CalibMethod::kAuto;
  else
    return false;
  if (out) *out = m;
  return true;
}

const char* activation_range_name(ActivationRange r) {
  switch (r) {
    case ActivationRange::kSymmetric:
      return "symmetric";
    case ActivationRange::kAsymmetric:
      return "asymmetric";
    case ActivationRange::kAuto:
      return "auto";
  }
  return "unknown";
}

bool parse_activation_range(const std::string& s, ActivationRange* out) {
  ActivationRange r;
  if (s == "symmetric")
    r = ActivationRange::kSymmetric;
  else if (s == "asymmetric")
    r = ActivationRange::kAsymmetric;
  else if (s == "auto")
    r = ActivationRange::kAuto;
  else
    return false;
  if (out) *out = r;
  return true;
}

Status validate_calib_options(const CalibOptions& opt) {
  if (!(opt.percentile > 0 && opt.percentile <= 100))
    return error(StatusCode::kInvalidArgument, "calibration percentile must be in (0, 100], got ", opt.percentile);
  return Status::Ok();
}

void quant_grid_limits(bool symmetric, bool is_unsigned, int32_t* qmin, int32_t* qmax) {
  if (is_unsigned) {
    *qmin = 0;
    *qmax = 255;
  } else {
    *qmin = symmetric ? -127 : -128;  // symmetric int8 drops -128 so the grid is symmetric (as TensorRT)
    *qmax = 127;
  }
}

void choose_scale_zero_point(float lo, float hi, bool symmetric, bool is_unsigned, float* scale, int32_t* zero_point) {
  auto clean = [](float v) { return std::isnan(v) ? 0.0 : std::clamp(double(v), -double(FLT_MAX), double(FLT_MAX)); };
  const double l = std::min(clean(lo), 0.0), h = std::max(clean(hi), 0.0);
  int32_t qmin, qmax;
  quant_grid_limits(symmetric, is_unsigned, &qmin, &qmax);
  double s;
  int32_t zp;
  if (symmetric) {
    const double t = std::max(-l, h);
    s = is_unsigned ? 2.0 * t / 255.0 : t / 127.0;
    zp = is_unsigned ? 128 : 0;
  } else {
    s = (h - l) / 255.0;
    const double z = s > 0 ? round_half_to_even(double(qmin) - l / s) : 0.0;
    zp = int32_t(std::clamp(z, double(qmin), double(qmax)));
  }
  const float sf = float(s);
  if (!(sf >= FLT_MIN) || !std::isfinite(sf)) {  // zero or subnormal range: any scale represents it
    *scale = 1.f;
    *zero_point = symmetric && is_unsigned ? 128 : 0;
    return;
  }
  *scale = sf;
  *zero_point = zp;
}

double expected_quant_mse(const std::vector<double>& hist, double hist_lo, double hist_hi, float scale,
                          int32_t zero_point, int32_t qmin, int32_t qmax) {
  if (hist.empty() || !std::isfinite(hist_lo) || !std::isfinite(hist_hi) || hist_hi < hist_lo) return 0.0;
  if (!(scale > 0) || !std::isfinite(scale) || qmin > qmax) return kInf;
  const double s = scale, zp = zero_point;
  const size_t n = hist.size();
  const double width = (hist_hi - hist_lo) / double(n);
  auto code = [&](double x) {  // clamp(round(x / s) + zp): which grid point x goes to (ties do not matter here)
    return int64_t(std::clamp(std::floor(x / s + 0.5) + zp, double(qmin), double(qmax)));
  };
  // Integral of (x - g)^2 over [a, b], in a form without cancellation.
  auto integral = [](double a, double b, double g) {
    const double u = a - g, v = b - g;
    return (b - a) * (u * u + u * v + v * v) / 3.0;
  };
  double total = 0, err = 0;
  for (size_t j = 0; j < n; ++j) {
    const double c = clean_count(hist[j]);
    if (c == 0) continue;
    total += c;
    const double a = hist_lo + double(j) * width;
    const double b = j + 1 == n ? hist_hi : hist_lo + double(j + 1) * width;
    const int64_t qa = code(a);
    if (!(b > a)) {
      const double d = a - double(qa - zero_point) * s;
      err += c * d * d;
      continue;
    }
    const int64_t qb = code(b);
    double sum = 0;
    for (int64_t q = qa; q <= qb; ++q) {
      const double g = (double(q) - zp) * s;
      const double seg_lo = q == qa ? a : g - 0.5 * s;
      const double seg_hi = q == qb ? b : g + 0.5 * s;
      if (seg_hi > seg_lo) sum += integral(seg_lo, seg_hi, g);
    }
    err += c / (b - a) * sum;
  }
  return total > 0 ? err / total : 0.0;
}

float threshold_entropy(const std::vector<double>& hist_in, float range, int quant_levels, bool flatten_zero_bin) {
  if (!usable_range(range) || hist_in.empty()) return fallback_threshold(range);
  double total;
  std::vector<double> hist = sanitized(hist_in, &total);
  if (flatten_zero_bin && hist.size() > 1) {
    total += hist[1] - hist[0];
    hist[0] = hist[1];
  }
  const size_t n = hist.size();
  const size_t levels = size_t(std::max(1, quant_levels));
  if (total <= 0 || n <= levels) return range;

  std::vector<double> outliers(n + 1, 0.0);  // outliers[i] = sum hist[i..n)
  for (size_t i = n; i-- > 0;) outliers[i] = outliers[i + 1] + hist[i];
  std::vector<double> p(n), q(n);
  size_t best_i = n;
  double best = kInf;
  for (size_t i = levels; i <= n; ++i) {
    std::copy(hist.begin(), hist.begin() + i, p.begin());
    p[i - 1] += outliers[i];
    const size_t merged = i / levels;
    for (size_t g = 0; g < levels; ++g) {
      const size_t start = g * merged, stop = g + 1 == levels ? i : start + merged;
      double sum = 0;
      size_t nonzero = 0;
      for (size_t j = start; j < stop; ++j) {
        sum += hist[j];
        nonzero += p[j] != 0;
      }
      const double v = nonzero ? sum / double(nonzero) : 0.0;
      for (size_t j = start; j < stop; ++j) q[j] = p[j] != 0 ? v : 0.0;
    }
    if (!smooth(p.data(), i) || !smooth(q.data(), i)) continue;
    const double kl = kl_divergence(p.data(), q.data(), i);
    if (kl < best) best = kl, best_i = i;
  }
  return bin_edge(range, best_i, n);
}

float threshold_percentile(const std::vector<double>& hist_in, float range, double percentile) {
  if (!usable_range(range) || hist_in.empty()) return fallback_threshold(range);
  double total;
  const std::vector<double> hist = sanitized(hist_in, &total);
  if (total <= 0) return range;
  const double pct = std::isnan(percentile) ? 100.0 : std::clamp(percentile, 0.0, 100.0);
  // The tolerance absorbs the rounding of pct / 100 * total (e.g. 0.99 * 10000 = 9899.999...).
  const double need = total * pct / 100.0 - total * 1e-12;
  double cum = 0;
  for (size_t j = 0; j < hist.size(); ++j) {
    cum += hist[j];
    if (cum >= need && (hist[j] > 0 || need <= 0)) return bin_edge(range, j + 1, hist.size());
  }
  return range;
}

float threshold_mse(const std::vector<double>& hist_in, float range, int quant_levels) {
  if (!usable_range(range) || hist_in.empty()) return fallback_threshold(range);
  double total;
  const std::vector<double> hist = sanitized(hist_in, &total);
  if (total <= 0) return range;
  const int levels = std::max(1, quant_levels);
  const size_t n = hist.size();
  float best_t = range;
  double best = kInf;
  for (size_t i = 1; i <= n; ++i) {
    const float t = bin_edge(range, i, n);
    const float scale = float(double(t) / levels);
    if (!(scale >= FLT_MIN)) continue;
    const double e = expected_quant_mse(hist, 0.0, range, scale, 0, -levels, levels);
    if (e < best) best = e, best_t = t;
  }
  return best_t;
}

TensorCalibration calibrate_tensor(const std::string& name, const TensorObserver& obs, const CalibOptions& opt) {
  TensorCalibration c;
  c.name = name;
  c.min = obs.min();
  c.max = obs.max();
  c.count = obs.count();
  c.nonfinite_count = obs.nonfinite_count();
  c.is_unsigned = opt.unsigned_int;
  // auto: asymmetric for one-sided tensors (post-ReLU/Sigmoid) and for skewed ones whose smaller side is under
  // half the larger (e.g. hard-swish outputs, -0.375..82): a symmetric grid would waste most of one half of its
  // codes there. Measured on the PaddleOCR detector (6 held-out pages, map IoU vs FP32, method auto): 0.897 with
  // asymmetric ranges for one-sided tensors only, 0.947 with this rule.
  const double small_side = std::min(std::fabs(double(c.min)), std::fabs(double(c.max)));
  const double large_side = std::max(std::fabs(double(c.min)), std::fabs(double(c.max)));
  const bool skewed = c.min >= 0 || c.max <= 0 || small_side < 0.5 * large_side;
  c.symmetric = opt.range == ActivationRange::kSymmetric || (opt.range == ActivationRange::kAuto && !skewed);
  const double pct = std::isnan(opt.percentile) ? 99.99 : std::clamp(opt.percentile, 1e-9, 100.0);

  constexpr int kSummaryBins = 64;
  c.histogram = obs.histogram(kSummaryBins, c.min, c.max);
  c.histogram_lo = c.min;
  c.histogram_hi = c.max;

  RangeFinder finder(obs, c.symmetric, c.is_unsigned);
  // A method's range as applied: symmetric made -t..t, widened to contain 0, scored on the actual grid.
  auto score = [&](const std::string& method, std::pair<double, double> r) {
    if (c.symmetric) {
      const double t = std::max(std::fabs(r.first), std::fabs(r.second));
      r = {-t, t};
    }
    CalibCandidate cand;
    cand.method = method;
    cand.range_lo = float(std::min(r.first, 0.0)) + 0.f;  // + 0: a -0 bound reads as 0 in the table
    cand.range_hi = float(std::max(r.second, 0.0));
    cand.threshold = std::max(-cand.range_lo, cand.range_hi);
    cand.quant_mse = finder.evaluate(cand.range_lo, cand.range_hi);
    return cand;
  };
  auto apply = [&](const CalibCandidate& cand) {
    c.range_lo = cand.range_lo;
    c.range_hi = cand.range_hi;
    c.threshold = cand.threshold;
    c.quant_mse = cand.quant_mse;
    choose_scale_zero_point(cand.range_lo, cand.range_hi, c.symmetric, c.is_unsigned, &c.scale, &c.zero_point);
  };

  if (opt.method != CalibMethod::kAuto) {
    c.method = calib_method_name(opt.method);
    apply(score(c.method, finder.range(opt.method, pct)));
    return c;
  }

  struct Trial {
    std::string name;
    CalibMethod method;
    double pct;
  };
  std::vector<Trial> trials = {{"minmax", CalibMethod::kMinMax, 0},
                               {"entropy", CalibMethod::kEntropy, 0},
                               {percentile_name(99.99), CalibMethod::kPercentile, 99.99},
                               {percentile_name(99.999), CalibMethod::kPercentile, 99.999}};
  if (pct != 99.99 && pct != 99.999) trials.push_back({percentile_name(pct), CalibMethod::kPercentile, pct});
  trials.push_back({"mse", CalibMethod::kMse, 0});

  // Only candidates that clip at most 0.01% of the values compete: the plain MSE optimum clips tails that
  // detection/segmentation heads depend on. PaddleOCR detector, 6 held-out pages, map IoU vs FP32: 0.918 (min
  // 0.889) when every candidate competes, 0.947 (min 0.935) with this floor. Among those left, the lowest
  // expected quantization error wins.
  const CalibCandidate floor = score("floor", finder.range(CalibMethod::kPercentile, 99.99));
  auto clips_tail = [&](const CalibCandidate& cand) {
    const double tol = 1e-6 * std::max(1.0, double(floor.threshold));
    return cand.range_lo > floor.range_lo + tol || cand.range_hi < floor.range_hi - tol;
  };
  size_t best = SIZE_MAX;  // the first of equal errors wins, so ties go to the simpler method (minmax first)
  for (size_t i = 0; i < trials.size(); ++i) {
    CalibCandidate cand = score(trials[i].name, finder.range(trials[i].method, trials[i].pct));
    if (!clips_tail(cand) && (best == SIZE_MAX || cand.quant_mse < c.candidate_details[best].quant_mse)) best = i;
    c.candidates.emplace_back(cand.method, cand.threshold);
    c.candidate_details.push_back(std::move(cand));
  }
  if (best == SIZE_MAX) best = 2;  // unreachable: percentile 99.99 is the floor itself
  c.method = "auto:" + c.candidate_details[best].method;
  apply(c.candidate_details[best]);
  return c;
}

}  // namespace lowbit::quant
