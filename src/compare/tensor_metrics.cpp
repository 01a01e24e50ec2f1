#include "compare/tensor_metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace lowbit::compare {

void ErrorAccumulator::add(const float* ref, const float* quant, int64_t n) {
  double ref2 = 0, quant2 = 0, err2 = 0, dot = 0, max_abs = max_abs_;
  for (int64_t i = 0; i < n; ++i) {
    const double r = ref[i], q = quant[i];
    if (!std::isfinite(r) || !std::isfinite(q)) {
      ++nonfinite_;
      continue;
    }
    const double e = r - q;
    ref2 += r * r;
    quant2 += q * q;
    err2 += e * e;
    dot += r * q;
    max_abs = std::max(max_abs, std::fabs(e));
    ++count_;
  }
  ref2_ += ref2;
  quant2_ += quant2;
  err2_ += err2;
  dot_ += dot;
  max_abs_ = max_abs;
}

ErrorMetrics ErrorAccumulator::result() const {
  ErrorMetrics m;
  m.count = count_;
  m.nonfinite = nonfinite_;
  m.max_abs = max_abs_;
  m.mse = count_ ? err2_ / double(count_) : 0;
  m.exact = count_ > 0 && err2_ == 0 && nonfinite_ == 0;
  if (m.exact) m.sqnr_db = kExactSqnrDb;
  else if (err2_ > 0 && ref2_ > 0) m.sqnr_db = std::min(kExactSqnrDb, 10 * std::log10(ref2_ / err2_));
  if (ref2_ > 0 && quant2_ > 0) m.cosine = std::clamp(dot_ / std::sqrt(ref2_ * quant2_), -1.0, 1.0);
  else if (ref2_ == 0 && quant2_ == 0 && count_ > 0) m.cosine = 1.0;  // both all zero: identical direction
  return m;
}

nlohmann::json to_json(const ErrorMetrics& m) {
  nlohmann::json j;
  j["sqnr_db"] = m.sqnr_db ? nlohmann::json(*m.sqnr_db) : nlohmann::json(nullptr);
  j["cosine"] = m.cosine ? nlohmann::json(*m.cosine) : nlohmann::json(nullptr);
  j["mse"] = m.mse;
  j["max_abs"] = m.max_abs;
  j["exact"] = m.exact;
  j["count"] = m.count;
  if (m.nonfinite) j["nonfinite"] = m.nonfinite;
  return j;
}

std::string format_sqnr(const ErrorMetrics& m) {
  if (m.exact) return "exact";
  if (!m.sqnr_db) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f dB", *m.sqnr_db);
  return buf;
}

void Histogram::add(const float* v, int64_t n, double also_lo, double also_hi) {
  if (n <= 0) return;
  if (!initialized_) {
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; ++i)
      if (std::isfinite(v[i])) {
        lo = std::min(lo, double(v[i]));
        hi = std::max(hi, double(v[i]));
      }
    if (!std::isfinite(lo)) return;  // nothing finite yet
    if (std::isfinite(also_lo)) lo = std::min(lo, also_lo);
    if (std::isfinite(also_hi)) hi = std::max(hi, also_hi);
    if (hi <= lo) hi = lo + 1e-6 * std::max(1.0, std::fabs(lo));
    lo_ = lo;
    hi_ = hi;
    initialized_ = true;
  }
  const double bins = double(counts_.size()), inv = bins / (hi_ - lo_);
  const int64_t last = int64_t(counts_.size()) - 1;
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(v[i])) continue;
    const int64_t b = std::clamp(int64_t((double(v[i]) - lo_) * inv), int64_t(0), last);
    ++counts_[size_t(b)];
  }
}

nlohmann::json Histogram::to_json() const {
  return {{"min", lo_}, {"max", hi_}, {"counts", counts_}};
}

std::string task_kind_for_shape(const std::vector<int64_t>& shape) {
  const size_t r = shape.size();
  if ((r == 2 && shape[1] >= 2) || (r == 4 && shape[1] >= 2 && shape[2] == 1 && shape[3] == 1)) return "classifier";
  if (r >= 3 && shape[r - 1] >= 8 && shape[r - 2] >= 8) return "map";
  return "";
}

void Top1Accumulator::add(const float* ref, const float* quant, const std::vector<int64_t>& shape) {
  if (shape.size() < 2) return;
  // Layout [N, C, rest...]: row (n, rest) has C classes at stride `inner`.
  const int64_t n = shape[0], c = shape[1];
  int64_t inner = 1;
  for (size_t i = 2; i < shape.size(); ++i) inner *= shape[i];
  for (int64_t b = 0; b < n; ++b)
    for (int64_t k = 0; k < inner; ++k) {
      const float* r = ref + b * c * inner + k;
      const float* q = quant + b * c * inner + k;
      int64_t best_r = 0, best_q = 0;
      for (int64_t j = 1; j < c; ++j) {
        if (r[j * inner] > r[best_r * inner]) best_r = j;
        if (q[j * inner] > q[best_q * inner]) best_q = j;
      }
      ++rows_;
      agree_ += best_r == best_q;
    }
}

void IouAccumulator::add(const float* ref, const float* quant, int64_t n) {
  int64_t inter = 0, uni = 0;
  for (int64_t i = 0; i < n; ++i) {
    const bool a = ref[i] > threshold_, b = quant[i] > threshold_;
    inter += a && b;
    uni += a || b;
  }
  inter_ += inter;
  union_ += uni;
  ++samples_;
  const double iou = uni ? double(inter) / double(uni) : 1.0;
  min_iou_ = std::min(min_iou_, iou);
  sum_iou_ += iou;
}

}  // namespace lowbit::compare
