// Error metrics between a reference tensor (FP32 model) and its quantized counterpart, accumulated over many
// samples: SQNR, cosine similarity, MSE, max abs error; plus the task-style metrics `lowbit compare` reports for
// final outputs (top-1 agreement for classifier-like outputs, IoU of binarized maps for map-like ones) and the
// FP32 value histogram the HTML report draws next to the quantization range.
//
//   ErrorAccumulator acc;
//   for (each sample) acc.add(ref.data<float>(), quant.data<float>(), ref.numel());
//   ErrorMetrics m = acc.result();   // m.sqnr_db: 10 log10(sum ref^2 / sum (ref - q)^2)
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lowbit::compare {

// SQNR is capped here for identical tensors (infinity has no JSON form); `exact` says it was capped.
constexpr double kExactSqnrDb = 200;

struct ErrorMetrics {
  std::optional<double> sqnr_db;  // empty when the reference is all zero and the error is not
  std::optional<double> cosine;   // empty when either side is all zero
  double mse = 0, max_abs = 0;
  bool exact = false;             // no element differs
  int64_t count = 0;              // elements compared (over all samples)
  int64_t nonfinite = 0;          // NaN/Inf on either side (left out of the sums)
};

class ErrorAccumulator {
 public:
  void add(const float* ref, const float* quant, int64_t n);
  ErrorMetrics result() const;
  bool empty() const { return count_ == 0 && nonfinite_ == 0; }

 private:
  // Sums in double: a 10 M-element map of values ~1 with errors ~1e-3 needs more than float's 24 bits.
  double ref2_ = 0, quant2_ = 0, err2_ = 0, dot_ = 0, max_abs_ = 0;
  int64_t count_ = 0, nonfinite_ = 0;
};

// {"sqnr_db", "cosine", "mse", "max_abs", "exact", "count"} (+ "nonfinite" when any); missing values are null.
nlohmann::json to_json(const ErrorMetrics& m);
// "34.8 dB" / "exact" / "n/a".
std::string format_sqnr(const ErrorMetrics& m);

// Fixed-edge histogram of FP32 values. The edges come from the first sample widened to include `also`
// (the quantization range), so every later sample lands in the same bins; values beyond clamp to the end bins.
class Histogram {
 public:
  explicit Histogram(int bins = 64) : counts_(size_t(bins), 0) {}
  void add(const float* v, int64_t n, double also_lo, double also_hi);
  bool empty() const { return !initialized_; }
  nlohmann::json to_json() const;  // {"min", "max", "counts"}

 private:
  std::vector<int64_t> counts_;
  double lo_ = 0, hi_ = 0;
  bool initialized_ = false;
};

// Which task metric suits an output of this shape: "classifier" ([N, C] or [N, C, 1, 1] with C >= 2),
// "map" (rank >= 3 whose last two dims are both >= 8, e.g. [N, 1, H, W] probability maps), or "" (none).
std::string task_kind_for_shape(const std::vector<int64_t>& shape);

// Top-1 agreement: rows (all dims but the class axis 1) whose arg-max is the same in both tensors.
class Top1Accumulator {
 public:
  void add(const float* ref, const float* quant, const std::vector<int64_t>& shape);
  int64_t rows() const { return rows_; }
  double agreement() const { return rows_ ? double(agree_) / double(rows_) : 0; }

 private:
  int64_t rows_ = 0, agree_ = 0;
};

// IoU of the maps binarized at `threshold` (value > threshold), pooled over all samples, plus the mean and the
// lowest per-sample IoU (each add() is one sample). Two empty masks agree perfectly (IoU 1).
class IouAccumulator {
 public:
  explicit IouAccumulator(double threshold) : threshold_(threshold) {}
  void add(const float* ref, const float* quant, int64_t n);
  double threshold() const { return threshold_; }
  double iou() const { return union_ ? double(inter_) / double(union_) : 1.0; }
  double min_sample_iou() const { return samples_ ? min_iou_ : 1.0; }
  double mean_sample_iou() const { return samples_ ? sum_iou_ / double(samples_) : 1.0; }
  int64_t samples() const { return samples_; }

 private:
  double threshold_;
  int64_t inter_ = 0, union_ = 0, samples_ = 0;
  double min_iou_ = 1.0, sum_iou_ = 0;
};

}  // namespace lowbit::compare
