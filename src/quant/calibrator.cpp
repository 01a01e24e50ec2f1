#include "quant/calibrator.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>

namespace lowbit::quant {
namespace {

// "calibrating [#########.........] 45/100 batches, 12.3 s, ETA 15 s" on stderr. On a terminal one line is
// redrawn; elsewhere (CI logs) a line is printed every 10% so logs stay short.
class ProgressBar {
 public:
  ProgressBar(int64_t total, bool enabled) : total_(total), enabled_(enabled && total > 0), tty_(isatty(2)) {}
  void update(int64_t done, double seconds) {
    if (!enabled_) return;
    const int decile = int(done * 10 / total_);
    if (!tty_ && decile == last_decile_ && done != total_) return;
    last_decile_ = decile;
    constexpr int kWidth = 30;
    const int filled = int(done * kWidth / total_);
    std::string bar(size_t(filled), '#');
    bar.append(size_t(kWidth - filled), '.');
    const double eta = done > 0 ? seconds / double(done) * double(total_ - done) : 0;
    std::fprintf(stderr, "%scalibrating [%s] %lld/%lld batches, %.1f s, ETA %.0f s%s", tty_ ? "\r" : "", bar.c_str(),
                 (long long)done, (long long)total_, seconds, eta, tty_ ? (done == total_ ? "\n" : "") : "\n");
    std::fflush(stderr);
  }

 private:
  int64_t total_;
  bool enabled_, tty_;
  int last_decile_ = -1;
};

}  // namespace

Expected<CalibrationStatistics> collect_statistics(Session& session, CalibrationData& data,
                                                   const std::vector<std::string>& tensors,
                                                   const CollectOptions& options) {
  CalibrationStatistics stats;
  std::set<std::string> wanted(tensors.begin(), tensors.end());
  for (auto& t : tensors) stats.observers.emplace(t, TensorObserver());
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  const int64_t batches = options.batches >= 0 ? std::min(options.batches, data.num_batches()) : data.num_batches();
  ProgressBar bar(batches, options.progress);
  bar.update(0, 0);

  ValueObserver observer;
  const ValueObserver& also = options.also;
  auto also_wants = [&](const std::string& name) { return also && (!also.wants || also.wants(name)); };
  observer.wants = [&](const std::string& name) { return wanted.count(name) != 0 || also_wants(name); };
  observer.observe = [&](const std::string& name, const Tensor& t) {
    if (wanted.count(name)) stats.observers.at(name).observe(t.data<float>(), t.numel());
    if (also_wants(name)) also.observe(name, t);
  };
  for (int64_t b = 0; b < batches; ++b) {
    auto batch = data.batch(b);
    if (!batch) return batch.status();
    // Graph inputs are not node outputs: observe them here.
    for (auto& [name, t] : *batch) {
      if (t.dtype() != DType::kFloat32) continue;
      if (wanted.count(name)) stats.observers.at(name).observe(t.data<float>(), t.numel());
      if (also_wants(name)) also.observe(name, t);
    }
    auto outputs = session.run(*batch, nullptr, observer);
    if (!outputs) return outputs.status().with_context("calibration batch " + data.describe_batch(b));
    ++stats.batches;
    stats.samples += data.batch_size();
    bar.update(b + 1, elapsed());
  }
  stats.seconds = elapsed();
  std::string bad;
  for (auto& [name, obs] : stats.observers)
    if (obs.nonfinite_count() > 0)
      bad += str_cat(bad.empty() ? "" : ", ", "'", name, "' (", obs.nonfinite_count(), " NaN/Inf values)");
  if (!bad.empty())
    return error(StatusCode::kInvalidArgument, "the float model produced NaN/Inf on the calibration data in ", bad,
                 "; such tensors cannot be given a range");
  return stats;
}

}  // namespace lowbit::quant
