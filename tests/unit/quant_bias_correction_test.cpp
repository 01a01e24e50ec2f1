// quant/bias_correction (--bias-correction): after correction, every layer with int8 weights has exactly the float
// layer's mean output on the calibration data (Conv with padding, strides, dilations and groups; Gemm with
// alpha/beta and either transB; MatMul on 4-D inputs, with its bias Add or a new one; layers without a bias get
// one); layers it cannot correct are reported; bad combinations are errors; and the gain: a model whose inputs
// have a large mean quantizes better with it.
#include <algorithm>
#include <cmath>

#include "quant/bias_correction.h"
#include "quant_algorithms_test_util.h"

namespace lowbit::quant {
namespace {

using namespace lowbit::passes_test;
using namespace lowbit::quant_algo_test;

Tensor scaled(Tensor t, float lo_scale, float hi_scale) {  // output channel c (axis 0) scaled from lo to hi
  const int64_t c = t.dim(0), inner = t.numel() / c;
  for (int64_t o = 0; o < c; ++o) {
    const float f = lo_scale + (hi_scale - lo_scale) * float(o) / float(std::max<int64_t>(c - 1, 1));
    for (int64_t i = 0; i < inner; ++i) t.data<float>()[o * inner + i] *= f;
  }
  return t;
}

// One layer of every kind, all reading x (or its flattening), each its own output.
Graph layer_zoo() {
  GraphBuilder b;
  auto x = b.input("x", {Dim::symbol("N"), 4, 9, 9});
  b.output(b.node("Conv", {x, b.random_constant("wa", {6, 4, 3, 3}), b.random_constant("ba", {6})},
                  {{"pads", ints({1, 0, 2, 1})}, {"strides", ints({2, 2})}, {"dilations", ints({1, 2})}}, "conv_a"));
  b.output(b.node("Conv", {x, b.random_constant("wb", {4, 2, 3, 3})}, {{"group", i64(2)}, {"pads", ints({1, 1, 1, 1})}},
                  "conv_grouped_no_bias"));
  auto flat = b.node("Flatten", {x}, {}, "flatten");
  b.output(b.node("Gemm", {flat, b.random_constant("wg", {5, 324}), b.random_constant("bg", {5})},
                  {{"transB", i64(1)}, {"alpha", f32(0.5f)}, {"beta", f32(2.f)}}, "gemm_alpha_beta"));
  b.output(b.node("Gemm", {flat, b.random_constant("wg2", {324, 3})}, {}, "gemm_no_bias"));
  b.output(b.node("MatMul", {x, b.random_constant("wm", {9, 7})}, {}, "matmul_no_bias"));
  auto mm = b.node("MatMul", {x, b.random_constant("wm2", {9, 5})}, {}, "matmul");
  b.output(b.node("Add", {mm, b.random_constant("bm", {5})}, {}, "matmul_bias"));
  return b.build();
}

// The float graph with its planned weights replaced by their int8 values (dequantized): only weight rounding.
Graph with_rounded_weights(Graph g, const QuantPlan& plan, const QdqParams& params) {
  auto q = quantize_plan_weights(g, plan, params);
  EXPECT_TRUE(q.ok()) << q.status().message();
  for (auto& [name, w] : *q) {
    Tensor t(DType::kFloat32, w.values.shape());
    const int64_t axis =
        std::find_if(plan.weights.begin(), plan.weights.end(), [&](auto& x) { return x.value == name; })->axis;
    const int64_t inner = t.numel() / t.dim(0);  // axis 0: rows; axis 1 (2-D [K, N] weights): columns
    for (int64_t i = 0; i < t.numel(); ++i) {
      const size_t c = w.scales.size() == 1 ? 0 : size_t(axis == 0 ? i / inner : i % t.dim(1));
      t.data<float>()[i] = float(w.values.data<int8_t>()[i]) * w.scales[c];
    }
    g.values[name].constant = t;
  }
  return g;
}

// Largest |mean(b - a)| over the index of `axis` (other axes averaged), over every output.
double largest_mean_shift(const std::map<std::string, Tensor>& a, const std::map<std::string, Tensor>& b,
                          bool last_axis) {
  double worst = 0;
  for (auto& [name, ta] : a) {
    const Tensor& tb = b.at(name);
    const size_t axis = last_axis ? ta.rank() - 1 : 1;
    const int64_t c = ta.dim(axis);
    int64_t inner = 1;
    for (size_t d = axis + 1; d < ta.rank(); ++d) inner *= ta.dim(d);
    std::vector<double> sum(size_t(c), 0.0);
    for (int64_t i = 0; i < ta.numel(); ++i)
      sum[size_t((i / inner) % c)] += double(tb.data<float>()[i]) - ta.data<float>()[i];
    for (double s : sum) worst = std::max(worst, std::fabs(s / double(ta.numel() / c)));
  }
  return worst;
}

TEST(BiasCorrection, CorrectedLayersKeepTheFloatMeanOutputOnTheCalibrationData) {
  const Graph g = layer_zoo();
  QuantPlanOptions po;
  po.per_channel_weights = false;  // coarse weights: large shifts
  auto plan = plan_quantization(g, po);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  QdqParams params;
  for (auto& t : plan->activations) params[t] = {3.f / 127, 0, false};
  const std::map<std::string, Tensor> calib = {{"x", random_tensor({6, 4, 9, 9}, 5, 1.f, 3.f)}};  // mean 2

  BiasCorrectionStats stats(g, *plan);
  EXPECT_EQ(stats.layers().size(), 6u);
  {
    auto s = Session::create(g, {.threads = 1});
    ASSERT_TRUE(s.ok());
    stats.observe("x", calib.at("x"));  // a graph input: the calibrator feeds those itself
    ASSERT_TRUE((*s)->run(calib, nullptr, stats.observer()).ok());
  }
  Graph corrected = g;
  BiasCorrectionReport report;
  Status st = correct_biases(corrected, *plan, params, stats, &report);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(report.corrected, 6) << format_bias_correction_report(report);
  EXPECT_EQ(report.biases_added, 3);  // conv_grouped_no_bias, gemm_no_bias, matmul_no_bias (new Add)
  EXPECT_TRUE(report.skipped.empty());
  EXPECT_EQ(count_op(corrected, "Add"), 2);
  EXPECT_GT(report.mean_abs_shift, 0);
  // The float function changed only by the shift, and the graph is otherwise the same (outputs, names).
  expect_same_outputs(g, corrected, 9, 0.2);

  const auto ref = run_graph(g, calib);
  const auto rounded = run_graph(with_rounded_weights(g, *plan, params), calib);
  const auto fixed = run_graph(with_rounded_weights(corrected, *plan, params), calib);
  for (bool last : {false, true}) {
    SCOPED_TRACE(last ? "per last-axis feature" : "per channel (axis 1)");
    std::map<std::string, Tensor> r0, r1, r2;
    for (auto& [name, t] : ref) {
      const bool matmul = name.find("matmul") != std::string::npos;
      if (matmul != last) continue;  // MatMul outputs are corrected along their last axis, the others along axis 1
      r0[name] = t, r1[name] = rounded.at(name), r2[name] = fixed.at(name);
    }
    const double before = largest_mean_shift(r0, r1, last), after = largest_mean_shift(r0, r2, last);
    EXPECT_GT(before, 1e-3);
    EXPECT_LT(after, 1e-4 * before + 1e-6) << "before " << before;
  }
  const std::string text = format_bias_correction_report(report);
  EXPECT_NE(text.find("6 layers corrected (3 had no bias)"), std::string::npos) << text;
}

TEST(BiasCorrection, LayersItCannotCorrectAreReported) {
  GraphBuilder b;
  auto x = b.input("x", {Dim::symbol("N"), 3, 4, 4});
  b.output(b.node("ConvTranspose", {x, b.random_constant("wt", {3, 2, 2, 2}), b.random_constant("bt", {2})},
                  {{"strides", ints({2, 2})}}, "deconv"));
  auto flat = b.node("Flatten", {x}, {}, "flatten");
  b.output(b.node("Gemm", {flat, b.random_constant("wg", {48, 4}), b.random_constant("bg", {4})}, {{"beta", f32(0.f)}},
                  "gemm_beta0"));
  auto y = b.input("y", {3, 6});
  b.output(b.node("MatMul", {b.random_constant("wl", {5, 3}), y}, {}, "matmul_weight_first"));
  Graph g = b.build();
  auto plan = plan_quantization(g, {});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  BiasCorrectionStats stats(g, *plan);
  {
    auto s = Session::create(g, {.threads = 1});
    ASSERT_TRUE(s.ok());
    auto in = random_inputs(g, 1, 3);
    stats.observe("x", in["x"]);
    ASSERT_TRUE((*s)->run(in, nullptr, stats.observer()).ok());
  }
  QdqParams params;
  for (auto& t : plan->activations) params[t] = {0.02f, 0, false};
  BiasCorrectionReport report;
  ASSERT_TRUE(correct_biases(g, *plan, params, stats, &report).ok());
  EXPECT_EQ(report.corrected, 0);
  std::map<std::string, std::string> why(report.skipped.begin(), report.skipped.end());
  EXPECT_NE(why["deconv"].find("ConvTranspose"), std::string::npos) << why["deconv"];
  EXPECT_NE(why["gemm_beta0"].find("beta = 0"), std::string::npos) << why["gemm_beta0"];
  EXPECT_NE(why["matmul_weight_first"].find("constant weight as input 2"), std::string::npos)
      << why["matmul_weight_first"];
  EXPECT_NE(format_bias_correction_report(report).find("0 layers corrected"), std::string::npos);
}

// The statistics come from the calibration plan; a later plan that keeps a layer in float (mixed precision,
// --exclude) leaves that layer alone.
TEST(BiasCorrection, LayersNoLongerQuantizedAreLeftAlone) {
  const Graph g = layer_zoo();
  auto plan = plan_quantization(g, {});
  ASSERT_TRUE(plan.ok());
  BiasCorrectionStats stats(g, *plan);
  const std::map<std::string, Tensor> calib = {{"x", random_tensor({2, 4, 9, 9}, 5, 1.f, 3.f)}};
  stats.observe("x", calib.at("x"));
  auto s = Session::create(g, {.threads = 1});
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE((*s)->run(calib, nullptr, stats.observer()).ok());
  QuantPlanOptions po;
  po.exclude = {"conv_a", "Gemm"};
  auto later = plan_quantization(g, po);
  ASSERT_TRUE(later.ok());
  QdqParams params;
  for (auto& t : later->activations) params[t] = {3.f / 127, 0, false};
  Graph corrected = g;
  BiasCorrectionReport report;
  ASSERT_TRUE(correct_biases(corrected, *later, params, stats, &report).ok());
  EXPECT_EQ(report.corrected, 3);
  std::map<std::string, std::string> why(report.skipped.begin(), report.skipped.end());
  EXPECT_EQ(why["conv_a"], "no longer quantized");
  EXPECT_EQ(why["gemm_no_bias"], "no longer quantized");
}

TEST(BiasCorrection, NeedsCalibrationData) {
  GraphBuilder b;
  auto x = b.input("x", {Dim::symbol("N"), 3, 4, 4});
  b.output(b.node("Conv", {x, b.random_constant("w", {2, 3, 1, 1})}, {}, "conv"));
  const Graph g = b.build();
  QuantizeOptions o;
  o.bias_correction = true;
  o.plan.weight_only = true;
  auto r = calibrate_graph(g, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("--weight-only"), std::string::npos) << r.status().message();
  o.plan.weight_only = false;
  o.read_table = "table.json";
  EXPECT_FALSE(calibrate_graph(g, o).ok());
  // apply_quantization without the calibration run's statistics.
  QuantizeOptions plain;
  plain.plan.weight_only = true;
  auto weights_only = calibrate_graph(g, plain);
  ASSERT_TRUE(weights_only.ok());
  plain.bias_correction = true;
  EXPECT_FALSE(apply_quantization(*weights_only, plain).ok());
}

// x (mean 4) -> Conv 3x3 -> Relu -> Conv 1x1; per-tensor weights whose channels differ 50x in range, so the small
// channels round coarsely and their rounding error times the large input mean shifts every output.
Graph biased_model() {
  GraphBuilder b;
  auto x = b.input("x", {Dim::symbol("N"), 8, 8, 8});
  auto c1 = b.node("Conv",
                   {x, b.constant("w1", scaled(random_tensor({16, 8, 3, 3}, 31, -1.f, 1.f), 0.02f, 1.f)),
                    b.random_constant("b1", {16})},
                   {{"pads", ints({1, 1, 1, 1})}}, "conv1");
  auto r = b.node("Relu", {c1}, {}, "relu");
  b.output(b.node("Conv", {r, b.constant("w2", scaled(random_tensor({8, 16, 1, 1}, 32, -1.f, 1.f), 0.02f, 1.f))}, {},
                  "conv2"));
  return b.build();
}

TEST(BiasCorrection, ImprovesQuantizedOutputsWhenInputsHaveALargeMean) {
  const Graph g = biased_model();
  const Tensor calib = random_tensor({32, 8, 8, 8}, 41, 3.f, 5.f);
  const auto eval = std::map<std::string, Tensor>{{"x", random_tensor({8, 8, 8, 8}, 42, 3.f, 5.f)}};
  for (bool per_channel : {false, true}) {
    SCOPED_TRACE(per_channel ? "per-channel weights" : "per-tensor weights");
    QuantizeOptions o;
    o.plan.per_channel_weights = per_channel;
    auto plain = quantize_on(g, o, calib);
    o.bias_correction = true;
    auto corrected = quantize_on(g, o, calib);
    ASSERT_TRUE(plain.ok()) << plain.status().message();
    ASSERT_TRUE(corrected.ok()) << corrected.status().message();
    ASSERT_TRUE(corrected->bias_correction.has_value());
    EXPECT_EQ(corrected->bias_correction->corrected, 2);
    EXPECT_EQ(corrected->bias_correction->biases_added, 1);
    EXPECT_EQ(corrected->report.biases, 2) << "the new bias is quantized to int32 too";
    const Closeness before = closeness(g, plain->graph, eval), after = closeness(g, corrected->graph, eval);
    std::printf("[ measured ] %s weights: SQNR %.1f -> %.1f dB, mean |output shift| %.4f -> %.4f\n",
                per_channel ? "per-channel" : "per-tensor", before.sqnr_db, after.sqnr_db, before.mean_error,
                after.mean_error);
    // Measured: per-tensor 38.5 -> 43.8 dB (shift 0.054 -> 0.004), per-channel 42.1 -> 44.7 dB (0.024 -> 0.001).
    EXPECT_GT(after.sqnr_db, before.sqnr_db + (per_channel ? 1.0 : 3.0));
    EXPECT_LT(after.mean_error, 0.25 * before.mean_error);
    const std::string summary = format_quantize_summary(*corrected, 0, 0);
    EXPECT_NE(summary.find("bias corr.:  2 layers corrected"), std::string::npos) << summary;
  }
}

}  // namespace
}  // namespace lowbit::quant
