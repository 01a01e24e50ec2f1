// Helpers for the tests of the opt-in quantization algorithms (--equalize, --bias-correction): quantize a small
// hand-built graph end to end on calibration data written to a temp folder, and measure how close the QDQ
// graph's outputs stay to the float graph's (SQNR, mean error), both run by lowbit's Session.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>

#include "io/npy.h"
#include "passes_test_util.h"
#include "quant/quantizer.h"
#include "temp_dir.h"

namespace lowbit::quant_algo_test {

struct Closeness {
  double sqnr_db = 0;     // 10 log10(sum(ref^2) / sum((ref - q)^2)) over every output element
  double mean_error = 0;  // |mean(q - ref)| averaged over output channels (axis 1): the systematic shift
};

inline std::map<std::string, Tensor> run_graph(const Graph& g, const std::map<std::string, Tensor>& inputs) {
  auto s = Session::create(g, {.threads = 1});
  EXPECT_TRUE(s.ok()) << s.status().message();
  if (!s.ok()) return {};
  auto r = (*s)->run(inputs);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : std::map<std::string, Tensor>{};
}

inline Closeness closeness(const Graph& ref, const Graph& test, const std::map<std::string, Tensor>& inputs) {
  auto a = run_graph(ref, inputs), b = run_graph(test, inputs);
  double signal = 0, noise = 0, shift = 0;
  int channels_seen = 0;
  for (auto& [name, ta] : a) {
    if (!b.count(name)) {
      ADD_FAILURE() << "output " << name << " missing";
      continue;
    }
    const Tensor& tb = b.at(name);
    EXPECT_EQ(ta.shape(), tb.shape()) << name;
    if (ta.shape() != tb.shape()) continue;
    const int64_t n = ta.dim(0), c = ta.rank() > 1 ? ta.dim(1) : 1, inner = ta.numel() / std::max<int64_t>(n * c, 1);
    std::vector<double> per_channel(size_t(c), 0.0);
    for (int64_t i = 0; i < ta.numel(); ++i) {
      const double x = ta.data<float>()[i], d = double(tb.data<float>()[i]) - x;
      signal += x * x;
      noise += d * d;
      per_channel[size_t((i / inner) % c)] += d;
    }
    for (double s : per_channel) shift += std::fabs(s / double(n * inner));
    channels_seen += int(c);
  }
  Closeness r;
  r.sqnr_db = noise > 0 ? 10 * std::log10(signal / noise) : 300;
  r.mean_error = channels_seen ? shift / channels_seen : 0;
  return r;
}

// Quantizes `g` (one input, "x") with calibration samples `calib` ([samples, ...]).
inline Expected<quant::QuantizeResult> quantize_on(const Graph& g, quant::QuantizeOptions options,
                                                   const Tensor& calib) {
  test::TempDir dir("quant_algo");
  const std::string path = dir.file("calib.npy");
  LB_RETURN_IF_ERROR(write_npy(path, calib));
  options.data.sources = {{"x", path}};
  options.threads = 1;
  return quant::quantize_graph(g, options);
}

}  // namespace lowbit::quant_algo_test
