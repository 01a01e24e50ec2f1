// AdaRound (quant/adaround_optimizer, quant/adaround, `quantize --adaround`): the optimiser against brute force on
// small problems, its invariants (codes within 1 of nearest rounding, in [-127, 127], deterministic), and the gain
// it must show: on small Conv / depthwise Conv / Gemm layers with correlated inputs, the layer output error on
// held-out data drops clearly against round-to-nearest at the same scales.
#include <cmath>
#include <cstdio>
#include <random>

#include "io/npy.h"
#include "passes/graph_rewrite.h"
#include "passes_test_util.h"
#include "quant/adaround.h"
#include "quant/quantizer.h"
#include "temp_dir.h"

namespace lowbit::quant {
namespace {

using namespace lowbit::passes_test;

// ---- the optimiser on synthetic problems ------------------------------------------------------------------------

struct Synthetic {
  int64_t rows, cols;
  std::vector<float> w, s, h;
  RoundingProblem problem() const {
    RoundingProblem p;
    p.rows = rows;
    p.cols = cols;
    p.weights = w.data();
    p.scales = s.data();
    p.h = h.data();
    return p;
  }
};

// Rows of random weights with their symmetric scales (amax / 127, so one weight per row sits at +-127), and
// H = (1 - c) I + c (a a^T) with `a` positive: inputs with a strong shared component (as after a ReLU), where
// errors of the same sign add up.
Synthetic synthetic(int64_t rows, int64_t cols, float correlation, uint32_t seed, float coarse = 0.f) {
  Synthetic t{rows, cols, {}, {}, {}};
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (int64_t r = 0; r < rows; ++r) {
    float amax = 0;
    for (int64_t k = 0; k < cols; ++k) {
      // coarse > 0: one large weight per row, so the others only span a few codes (like 3-4 bit weights).
      const float v = (coarse > 0 && k == r % cols) ? (u(rng) < 0 ? -1.f : 1.f) : u(rng) * (coarse > 0 ? coarse : 1.f);
      t.w.push_back(v);
      amax = std::max(amax, std::fabs(v));
    }
    t.s.push_back(amax / 127.f);
  }
  std::vector<float> a(static_cast<size_t>(cols));
  for (auto& v : a) v = 0.5f + 0.5f * std::fabs(u(rng));
  t.h.resize(size_t(cols * cols));
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = 0; j < cols; ++j)
      t.h[size_t(i * cols + j)] = correlation * a[size_t(i)] * a[size_t(j)] + (i == j ? 1.f - correlation : 0.f);
  return t;
}

double total(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s;
}

void expect_within_one_of_nearest(const RoundingProblem& p, const std::vector<int8_t>& codes) {
  const std::vector<int8_t> nearest = nearest_codes(p);
  ASSERT_EQ(codes.size(), nearest.size());
  int changed = 0;
  for (size_t i = 0; i < codes.size(); ++i) {
    EXPECT_GE(codes[i], -127);
    EXPECT_LE(codes[i], 127);
    EXPECT_LE(std::abs(codes[i] - nearest[i]), 1) << "weight " << i;
    // Only floor or ceil of w / s are candidates.
    const float x = p.weights[i] / p.scales[i / size_t(p.cols)];
    EXPECT_TRUE(codes[i] == std::floor(x) || codes[i] == std::floor(x) + 1 || std::fabs(x) >= 127) << "weight " << i;
    changed += codes[i] != nearest[i];
  }
  EXPECT_GT(changed, 0);
}

TEST(AdaRoundOptimizer, UncorrelatedInputsKeepNearestRounding) {
  // H = I: every weight's error counts alone, so nearest rounding is the optimum and must come out unchanged.
  Synthetic t = synthetic(8, 24, 0.f, 1);
  RoundingProblem p = t.problem();
  EXPECT_EQ(optimize_rounding(p, {}, nullptr), nearest_codes(p));
}

TEST(AdaRoundOptimizer, ReachesTheBruteForceOptimumOnSmallCorrelatedProblems) {
  // 12 weights per row: all 4096 floor/ceil choices can be tried.
  Synthetic t = synthetic(6, 12, 0.8f, 2);
  RoundingProblem p = t.problem();
  const std::vector<int8_t> codes = optimize_rounding(p, {}, nullptr);
  expect_within_one_of_nearest(p, codes);
  const std::vector<int8_t> nearest = nearest_codes(p);
  const std::vector<double> got = rounding_loss(p, codes.data()), near = rounding_loss(p, nearest.data());
  double best_total = 0;
  for (int64_t r = 0; r < p.rows; ++r) {
    double best = 1e30;
    Synthetic one = t;
    one.rows = 1;
    one.w.assign(t.w.begin() + r * p.cols, t.w.begin() + (r + 1) * p.cols);
    one.s = {t.s[size_t(r)]};
    RoundingProblem q = one.problem();
    std::vector<int8_t> c(static_cast<size_t>(p.cols));
    for (int mask = 0; mask < (1 << p.cols); ++mask) {
      for (int64_t k = 0; k < p.cols; ++k)
        c[size_t(k)] =
            int8_t(std::clamp<float>(std::floor(one.w[size_t(k)] / one.s[0]) + ((mask >> k) & 1), -127, 127));
      best = std::min(best, rounding_loss(q, c.data())[0]);
    }
    best_total += best;
    EXPECT_LE(got[size_t(r)], near[size_t(r)]) << "row " << r << " got worse than nearest";
  }
  std::printf("  loss: nearest %.4g, adaround %.4g, brute-force optimum %.4g\n", total(near), total(got), best_total);
  // The relaxation is a heuristic: close to the optimum, far below nearest rounding.
  EXPECT_LE(total(got), 1.25 * best_total + 1e-12) << "optimum " << best_total << ", nearest " << total(near);
  EXPECT_LT(total(got), 0.5 * total(near));
}

TEST(AdaRoundOptimizer, CodesStayInRangeAndAreDeterministic) {
  Synthetic t = synthetic(16, 40, 0.9f, 3);
  t.w[0] = 127.4f * t.s[0];  // beyond the clamp: must stay at 127
  RoundingProblem p = t.problem();
  ThreadPool pool(2);
  const std::vector<int8_t> a = optimize_rounding(p, {}, nullptr);
  const std::vector<int8_t> b = optimize_rounding(p, {}, &pool);
  expect_within_one_of_nearest(p, a);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, optimize_rounding(p, {}, nullptr));
  EXPECT_EQ(a[0], 127);
}

TEST(AdaRoundOptimizer, SamplesFormEqualsMomentForm) {
  // The same inputs given as X (n x k) or as H = X^T X / n give the same losses.
  const int64_t n = 5, k = 16;
  Tensor x = random_tensor({n, k}, 4, 0.f, 1.f);
  Synthetic t = synthetic(4, k, 0.f, 5);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j) {
      double s = 0;
      for (int64_t r = 0; r < n; ++r) s += double(x.data<float>()[r * k + i]) * x.data<float>()[r * k + j];
      t.h[size_t(i * k + j)] = float(s / double(n));
    }
  RoundingProblem ph = t.problem(), px = t.problem();
  px.h = nullptr;
  px.x = x.data<float>();
  px.n = n;
  ph.damping = px.damping = 0.01f;
  const std::vector<int8_t> nearest = nearest_codes(ph);
  const std::vector<double> a = rounding_loss(ph, nearest.data()), b = rounding_loss(px, nearest.data());
  for (size_t r = 0; r < a.size(); ++r) EXPECT_NEAR(a[r], b[r], 1e-5 * a[r]);
  const std::vector<int8_t> cx = optimize_rounding(px, {}, nullptr);
  EXPECT_LT(total(rounding_loss(px, cx.data())), total(b));
}

TEST(AdaRoundOptimizer, CoarseWeightsGainToo) {
  // One dominant weight per row leaves the others +-4 codes each (like 3-4 bit weights), and one weight per row
  // sits at the clamp: AdaRound's classic case still gains.
  Synthetic t = synthetic(16, 64, 0.9f, 6, /*coarse=*/0.03f);
  RoundingProblem p = t.problem();
  const std::vector<int8_t> codes = optimize_rounding(p, {}, nullptr);
  const std::vector<int8_t> nearest = nearest_codes(p);
  EXPECT_LT(total(rounding_loss(p, codes.data())), 0.5 * total(rounding_loss(p, nearest.data())));
}

// ---- whole layers through quantize_graph: the held-out gain ---------------------------------------------------

// Inputs with the structure of real activations: a positive mean per channel plus smooth low-rank variation
// (what makes rounding errors add up across a layer's inputs) and a little noise.
Tensor correlated_images(int64_t n, int64_t c, int64_t hw, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.f, 1.f);
  Tensor t(DType::kFloat32, {n, c, hw, hw});
  std::vector<float> mix(static_cast<size_t>(c * 2)), offset(static_cast<size_t>(c));
  std::mt19937 fixed(99);  // the same "layer" statistics for calibration and held-out data
  std::normal_distribution<float> gf(0.f, 1.f);
  for (auto& m : mix) m = gf(fixed);
  for (auto& o : offset) o = 1.f + 0.5f * std::fabs(gf(fixed));
  for (int64_t s = 0; s < n; ++s) {
    const float a0 = g(rng), a1 = g(rng), fx = 0.3f + 0.1f * g(rng), fy = 0.2f + 0.1f * g(rng);
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < hw; ++y)
        for (int64_t xx = 0; xx < hw; ++xx) {
          const float smooth =
              a0 * std::sin(fx * float(xx) + fy * float(y)) + a1 * std::cos(fy * float(xx) - fx * float(y));
          t.data<float>()[((s * c + ch) * hw + y) * hw + xx] =
              offset[size_t(ch)] + 0.5f * (mix[size_t(2 * ch)] * smooth + mix[size_t(2 * ch + 1)] * a1) +
              0.05f * g(rng);
        }
  }
  return t;
}

// Features with a positive mean (offset) and/or rank-4 correlation plus a little noise.
Tensor correlated_features(int64_t n, int64_t k, uint32_t seed, float offset_scale = 1.f) {
  std::mt19937 rng(seed), fixed(98);
  std::normal_distribution<float> g(0.f, 1.f), gf(0.f, 1.f);
  const int64_t latent = 4;
  std::vector<float> a(static_cast<size_t>(latent * k)), offset(static_cast<size_t>(k));
  for (auto& v : a) v = gf(fixed);
  for (auto& o : offset) o = offset_scale * (0.5f + std::fabs(gf(fixed)));
  Tensor t(DType::kFloat32, {n, k});
  for (int64_t s = 0; s < n; ++s) {
    float z[latent];
    for (auto& v : z) v = g(rng);
    for (int64_t j = 0; j < k; ++j) {
      float v = offset[size_t(j)] + 0.05f * g(rng);
      for (int64_t l = 0; l < latent; ++l) v += 0.5f * z[l] * a[size_t(l * k + j)];
      t.data<float>()[s * k + j] = v;
    }
  }
  return t;
}

// The int8 weight and its scales of a quantized single-layer graph, dequantized.
struct LayerWeights {
  Tensor codes;
  std::vector<float> scales;
  Tensor dequantized(int64_t axis) const {
    Tensor w(DType::kFloat32, codes.shape());
    int64_t inner = 1;
    for (size_t d = size_t(axis) + 1; d < codes.rank(); ++d) inner *= codes.dim(d);
    for (int64_t i = 0; i < codes.numel(); ++i)
      w.data<float>()[i] = float(codes.data<int8_t>()[i]) * scales[size_t(i / inner % codes.dim(size_t(axis)))];
    return w;
  }
};
LayerWeights find_weights(const Graph& q) {
  LayerWeights out;
  for (auto& n : q.nodes)
    if (n.op_type == "DequantizeLinear") {
      const Tensor* c = constant_value(q, n.inputs[0]);
      if (!c || c->dtype() != DType::kInt8) continue;
      out.codes = *c;
      const Tensor* s = constant_value(q, n.inputs[1]);
      for (int64_t i = 0; i < s->numel(); ++i) out.scales.push_back(s->data<float>()[i]);
    }
  return out;
}

// Mean squared difference of the float layer's output with weight `w` replaced, over `inputs`.
double output_mse(const Graph& g, const Tensor& w, const Tensor& inputs) {
  Graph moved = g;
  moved.values["w"].constant = w;
  auto a = Session::create(g, {.threads = 1});
  auto b = Session::create(moved, {.threads = 1});
  auto ya = (*a)->run({{"x", inputs}});
  auto yb = (*b)->run({{"x", inputs}});
  EXPECT_TRUE(ya.ok() && yb.ok());
  const Tensor& p = ya->begin()->second;
  const Tensor& q = yb->begin()->second;
  double s = 0;
  for (int64_t i = 0; i < p.numel(); ++i) s += std::pow(double(p.data<float>()[i]) - double(q.data<float>()[i]), 2);
  return s / double(p.numel());
}

struct Outcome {
  double mse_nearest = 0, mse_adaround = 0;
  LayerWeights nearest, adaround;
  QuantizeResult result;
};

Outcome quantize_both_ways(const Graph& g, const Tensor& calib, const Tensor& held_out, int64_t axis) {
  test::TempDir dir("adaround");
  const std::string path = dir.file("calib.npy");
  EXPECT_TRUE(write_npy(path, calib).ok());
  QuantizeOptions o;
  o.data.sources = {{"x", path}};
  o.threads = 1;
  auto plain = quantize_graph(g, o);
  o.adaround.enabled = true;
  auto ada = quantize_graph(g, o);
  EXPECT_TRUE(plain.ok()) << plain.status().message();
  EXPECT_TRUE(ada.ok()) << ada.status().message();
  Outcome r;
  if (!plain.ok() || !ada.ok()) return r;
  r.nearest = find_weights(plain->graph);
  r.adaround = find_weights(ada->graph);
  r.mse_nearest = output_mse(g, r.nearest.dequantized(axis), held_out);
  r.mse_adaround = output_mse(g, r.adaround.dequantized(axis), held_out);
  r.result = std::move(*ada);
  return r;
}

// The measured numbers, for the log (the assertions below use generous margins).
void print_gain(const char* what, const Outcome& r) {
  std::printf("  %s: held-out output MSE nearest %.4g, adaround %.4g (%.3fx)\n", what, r.mse_nearest, r.mse_adaround,
              r.mse_adaround / r.mse_nearest);
}

void expect_same_scales_codes_within_one(const Outcome& r) {
  ASSERT_TRUE(r.nearest.codes.defined() && r.adaround.codes.defined());
  EXPECT_EQ(r.nearest.scales, r.adaround.scales);  // only the int8 values differ
  ASSERT_EQ(r.nearest.codes.shape(), r.adaround.codes.shape());
  int changed = 0;
  for (int64_t i = 0; i < r.nearest.codes.numel(); ++i) {
    const int a = r.adaround.codes.data<int8_t>()[i], n = r.nearest.codes.data<int8_t>()[i];
    EXPECT_LE(std::abs(a - n), 1);
    EXPECT_GE(a, -127);
    EXPECT_LE(a, 127);
    changed += a != n;
  }
  EXPECT_GT(changed, 0);
}

TEST(AdaRound, ConvLayerOutputErrorDropsOnHeldOutData) {
  GraphBuilder b;
  auto x = b.input("x", {Dim::symbol("N"), 6, 10, 10});
  b.output(b.node("Conv", {x, b.random_constant("w", {8, 6, 3, 3}, -0.5f, 0.5f), b.random_constant("bias", {8})},
                  {{"pads", ints({1, 1, 1, 1})}}, "conv"));
  Graph g = b.build();
  Outcome r = quantize_both_ways(g, correlated_images(24, 6, 10, 1), correlated_images(16, 6, 10, 2), 0);
  expect_same_scales_codes_within_one(r);
  print_gain("conv 6->8 3x3", r);
  EXPECT_LT(r.mse_adaround, 0.5 * r.mse_nearest) << "nearest " << r.mse_nearest << ", adaround " << r.mse_adaround;
  ASSERT_EQ(r.result.adaround.report.layers.size(), 1u);
  EXPECT_LT(r.result.adaround.report.layers[0].loss_adaround, r.result.adaround.report.layers[0].loss_nearest);
  EXPECT_NE(format_quantize_summary(r.result, 0, 0).find("adaround:    1 layers"), std::string::npos)
      << format_quantize_summary(r.result, 0, 0);
}

TEST(AdaRound, DepthwiseConvLayerOutputErrorDrops) {
  GraphBuilder b;
  auto x = b.input("x", {Dim::symbol("N"), 6, 10, 10});
  b.output(b.node("Conv", {x, b.random_constant("w", {6, 1, 3, 3}, -0.5f, 0.5f)},
                  {{"pads", ints({1, 1, 1, 1})}, {"group", i64(6)}}, "dwconv"));
  Graph g = b.build();
  Outcome r = quantize_both_ways(g, correlated_images(24, 6, 10, 3), correlated_images(16, 6, 10, 4), 0);
  expect_same_scales_codes_within_one(r);
  print_gain("depthwise conv 6 3x3", r);
  EXPECT_LT(r.mse_adaround, 0.7 * r.mse_nearest) << "nearest " << r.mse_nearest << ", adaround " << r.mse_adaround;
}

TEST(AdaRound, GemmLayerOutputErrorDropsOnHeldOutData) {
  for (int trans_b : {1, 0}) {
    GraphBuilder b;
    auto x = b.input("x", {Dim::symbol("N"), 48});
    auto w = b.random_constant("w", trans_b ? Shape{16, 48} : Shape{48, 16}, -0.5f, 0.5f);
    b.output(b.node("Gemm", {x, w, b.random_constant("bias", {16})}, {{"transB", i64(trans_b)}}, "fc"));
    Graph g = b.build();
    Outcome r =
        quantize_both_ways(g, correlated_features(200, 48, 5), correlated_features(200, 48, 6), trans_b ? 0 : 1);
    expect_same_scales_codes_within_one(r);
    print_gain(trans_b ? "gemm 48->16 transB" : "gemm 48->16", r);
    EXPECT_LT(r.mse_adaround, 0.5 * r.mse_nearest)
        << "transB " << trans_b << ": nearest " << r.mse_nearest << ", adaround " << r.mse_adaround;
  }
}

TEST(AdaRound, GemmGainsOnZeroMeanCorrelatedInputs) {
  // Without a mean (which a bias correction could also absorb), the gain comes from the inputs' correlations alone.
  GraphBuilder b;
  auto x = b.input("x", {Dim::symbol("N"), 48});
  b.output(b.node("Gemm", {x, b.random_constant("w", {16, 48}, -0.5f, 0.5f)}, {{"transB", i64(1)}}, "fc"));
  Graph g = b.build();
  Outcome r = quantize_both_ways(g, correlated_features(200, 48, 7, 0.f), correlated_features(200, 48, 8, 0.f), 0);
  expect_same_scales_codes_within_one(r);
  print_gain("gemm 48->16, zero-mean inputs", r);
  EXPECT_LT(r.mse_adaround, 0.7 * r.mse_nearest) << "nearest " << r.mse_nearest << ", adaround " << r.mse_adaround;
}

TEST(AdaRound, ManyOutputChannelsAreSolvedInChunks) {
  // 5000 output channels: solved as two groups of rows (the optimiser's memory stays bounded), same guarantees.
  GraphBuilder b;
  auto x = b.input("x", {Dim::symbol("N"), 8});
  b.output(b.node("Gemm", {x, b.random_constant("w", {5000, 8}, -0.5f, 0.5f)}, {{"transB", i64(1)}}, "fc"));
  Graph g = b.build();
  Outcome r = quantize_both_ways(g, correlated_features(64, 8, 9), correlated_features(64, 8, 10), 0);
  expect_same_scales_codes_within_one(r);
  EXPECT_LT(r.mse_adaround, 0.7 * r.mse_nearest) << "nearest " << r.mse_nearest << ", adaround " << r.mse_adaround;
}

TEST(AdaRound, LayersTooBigForTheirMomentsAreSkippedWithAReason) {
  // k = 600000 inputs per output: even block-diagonal moments would need over 1 GiB.
  GraphBuilder b;
  auto x = b.input("x", {Dim::symbol("N"), 600000});
  b.output(b.node("Gemm", {x, b.random_constant("w", {1, 600000})}, {{"transB", i64(1)}}, "huge"));
  Graph g = b.build();
  test::TempDir dir("adaround");
  ASSERT_TRUE(write_npy(dir.file("x.npy"), random_tensor({1, 600000}, 3)).ok());
  QuantizeOptions o;
  o.data.sources = {{"x", dir.file("x.npy")}};
  o.adaround.enabled = true;
  auto r = quantize_graph(g, o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->adaround.report.skipped.size(), 1u);
  EXPECT_EQ(r->adaround.report.skipped[0].first, "huge");
  EXPECT_NE(r->adaround.report.skipped[0].second.find("MiB"), std::string::npos);
  EXPECT_NE(format_quantize_summary(*r, 0, 0).find("1 layers keep nearest rounding: huge (its input moments"),
            std::string::npos)
      << format_quantize_summary(*r, 0, 0);
}

TEST(AdaRound, SameInputsGiveTheSameBytes) {
  GraphBuilder b;
  auto x = b.input("x", {Dim::symbol("N"), 4, 8, 8});
  b.output(b.node("Conv", {x, b.random_constant("w", {4, 4, 3, 3})}, {}, "conv"));
  Graph g = b.build();
  const Tensor calib = correlated_images(8, 4, 8, 7);
  Outcome a = quantize_both_ways(g, calib, calib, 0);
  Outcome c = quantize_both_ways(g, calib, calib, 0);
  ASSERT_EQ(a.adaround.codes.numel(), c.adaround.codes.numel());
  for (int64_t i = 0; i < a.adaround.codes.numel(); ++i)
    ASSERT_EQ(a.adaround.codes.data<int8_t>()[i], c.adaround.codes.data<int8_t>()[i]) << i;
}

TEST(AdaRound, AModelWithoutQuantizableLayersIsUnchanged) {
  GraphBuilder b;
  auto x = b.input("x", {Dim::symbol("N"), 4, 6, 6});
  auto y = b.input("y", {Dim::symbol("N"), 4, 6, 6});
  b.output(b.node("Add", {b.node("Relu", {x}), y}, {}, "add"));
  Graph g = b.build();
  test::TempDir dir("adaround");
  ASSERT_TRUE(write_npy(dir.file("x.npy"), random_tensor({4, 4, 6, 6}, 1)).ok());
  ASSERT_TRUE(write_npy(dir.file("y.npy"), random_tensor({4, 4, 6, 6}, 2)).ok());
  QuantizeOptions o;
  o.data.sources = {{"x", dir.file("x.npy")}, {"y", dir.file("y.npy")}};
  auto plain = quantize_graph(g, o);
  o.adaround.enabled = true;
  auto ada = quantize_graph(g, o);
  ASSERT_TRUE(plain.ok() && ada.ok());
  EXPECT_TRUE(ada->adaround.report.layers.empty());
  EXPECT_TRUE(ada->adaround.weights.empty());
  EXPECT_EQ(ada->graph.nodes.size(), plain->graph.nodes.size());
  EXPECT_NE(format_quantize_summary(*ada, 0, 0).find("adaround:    0 layers"), std::string::npos);
}

TEST(AdaRound, NeedsCalibrationData) {
  GraphBuilder b;
  auto x = b.input("x", {Dim::symbol("N"), 4});
  b.output(b.node("Gemm", {x, b.random_constant("w", {3, 4})}, {{"transB", i64(1)}}, "fc"));
  Graph g = b.build();
  QuantizeOptions o;
  o.adaround.enabled = true;
  o.plan.weight_only = true;
  auto r = quantize_graph(g, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("AdaRound needs calibration data"), std::string::npos) << r.status().message();
  o.plan.weight_only = false;
  o.read_cache = "/nonexistent.cache";
  r = quantize_graph(g, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("AdaRound needs calibration data"), std::string::npos) << r.status().message();
}

TEST(AdaRound, RaisedChannelScalesKeepNearestRounding) {
  // use_rounded_codes takes the chosen codes only where the scale is the one they were chosen for.
  QuantizedWeight q{Tensor::from_vector<int8_t>(DType::kInt8, {2, 2}, {1, 2, 3, 4}), {0.5f, 0.25f}};
  QuantizedWeight chosen{Tensor::from_vector<int8_t>(DType::kInt8, {2, 2}, {2, 3, 4, 5}), {0.5f, 0.125f}};
  use_rounded_codes(q, chosen, 0);
  EXPECT_EQ(q.values.data<int8_t>()[0], 2);
  EXPECT_EQ(q.values.data<int8_t>()[1], 3);
  EXPECT_EQ(q.values.data<int8_t>()[2], 3);  // channel 1: scale differs, nearest stays
  EXPECT_EQ(q.values.data<int8_t>()[3], 4);
  QuantizedWeight cols{Tensor::from_vector<int8_t>(DType::kInt8, {2, 2}, {1, 2, 3, 4}), {0.25f, 0.125f}};
  use_rounded_codes(cols, chosen, 1);  // axis 1: column 0 has another scale
  EXPECT_EQ(cols.values.data<int8_t>()[0], 1);
  EXPECT_EQ(cols.values.data<int8_t>()[1], 3);
  EXPECT_EQ(cols.values.data<int8_t>()[2], 3);
  EXPECT_EQ(cols.values.data<int8_t>()[3], 5);
}

}  // namespace
}  // namespace lowbit::quant
