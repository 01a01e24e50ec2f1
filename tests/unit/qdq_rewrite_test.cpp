// quant/qdq_rewrite: weight quantization numerics and the QDQ graph it builds (runs, stays close to float).
#include "quant/qdq_rewrite.h"

#include <algorithm>
#include <cmath>

#include "passes/graph_rewrite.h"
#include "passes_test_util.h"

namespace lowbit::quant {
namespace {

using namespace lowbit::passes_test;

TEST(QuantizeWeight, PerChannelSymmetricRoundsHalfToEvenAndUsesMinus127To127) {
  // Two output channels (axis 0) of 3 values. Channel 0: amax 1.27 -> scale 0.01; channel 1: amax 2.54 -> 0.02.
  Tensor w = Tensor::from_vector<float>(DType::kFloat32, {2, 3}, {1.27f, -0.005f, 0.015f, -2.54f, 0.01f, 0.03f});
  QuantizedWeight q = quantize_weight(w, 0);
  ASSERT_EQ(q.scales.size(), 2u);
  EXPECT_FLOAT_EQ(q.scales[0], 1.27f / 127.f);
  EXPECT_FLOAT_EQ(q.scales[1], 2.54f / 127.f);
  const int8_t* v = q.values.data<int8_t>();
  EXPECT_EQ(v[0], 127);
  EXPECT_EQ(v[3], -127);
  EXPECT_EQ(v[5], 2);   // 0.03 / 0.02 = 1.5 -> 2 (ties to even)
  EXPECT_EQ(v[4], 0);   // 0.01 / 0.02 = 0.5 -> 0 (ties to even)
  EXPECT_EQ(v[1], 0);   // -0.5 -> -0 -> 0
  EXPECT_EQ(v[2], 2);   // 1.5 -> 2
}

TEST(QuantizeWeight, PerTensorAxisOneAndAllZeroChannels) {
  Tensor w = Tensor::from_vector<float>(DType::kFloat32, {2, 2}, {0.f, 1.f, 0.f, -0.5f});
  QuantizedWeight cols = quantize_weight(w, 1);  // column 0 is all zero
  ASSERT_EQ(cols.scales.size(), 2u);
  EXPECT_EQ(cols.scales[0], 1.f);
  EXPECT_EQ(cols.values.data<int8_t>()[3], -64);  // -0.5 / (1/127) = -63.5 -> -64 (even)
  QuantizedWeight one = quantize_weight(w, -1);
  ASSERT_EQ(one.scales.size(), 1u);
  EXPECT_FLOAT_EQ(one.scales[0], 1.f / 127.f);
}

Graph conv_relu_conv() {
  GraphBuilder b;
  auto x = b.input("x", {Dim::symbol("N"), 3, 6, 6});
  auto c1 = b.node("Conv", {x, b.random_constant("w1", {4, 3, 3, 3}, -0.5f, 0.5f), b.random_constant("b1", {4})},
                   {{"pads", ints({1, 1, 1, 1})}}, "conv1");
  auto r = b.node("Relu", {c1}, {}, "relu");
  auto c2 = b.node("Conv", {r, b.random_constant("w2", {2, 4, 1, 1}), b.random_constant("b2", {2})}, {}, "conv2");
  b.output(c2);
  return b.build();
}

// Symmetric int8 parameters from the float model's own ranges on `inputs` (a one-batch minmax calibration).
QdqParams minmax_params(const Graph& g, const QuantPlan& plan, const std::map<std::string, Tensor>& inputs) {
  std::map<std::string, float> amax;
  for (auto& [name, t] : inputs)
    for (int64_t i = 0; i < t.numel(); ++i) amax[name] = std::max(amax[name], std::fabs(t.data<float>()[i]));
  auto s = Session::create(g, {.threads = 1});
  EXPECT_TRUE(s.ok());
  ValueObserver obs;
  obs.wants = [](const std::string&) { return true; };
  obs.observe = [&](const std::string& name, const Tensor& t) {
    for (int64_t i = 0; i < t.numel(); ++i) amax[name] = std::max(amax[name], std::fabs(t.data<float>()[i]));
  };
  EXPECT_TRUE((*s)->run(inputs, nullptr, obs).ok());
  QdqParams p;
  for (auto& t : plan.activations) p[t] = {amax[t] / 127.f, 0, false};
  return p;
}

TEST(QdqRewrite, BuildsAValidGraphCloseToFloatWithInt8WeightsAndInt32Biases) {
  Graph g = conv_relu_conv();
  auto plan = plan_quantization(g, {});
  ASSERT_TRUE(plan.ok());
  auto inputs = random_inputs(g, 3);
  QdqParams params = minmax_params(g, *plan, inputs);
  Graph q = g;
  QdqReport report;
  Status s = rewrite_to_qdq(q, *plan, params, {}, &report);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(report.weights, 2);
  EXPECT_EQ(report.biases, 2);
  EXPECT_EQ(report.activations, 2);  // x and relu_out
  EXPECT_EQ(count_op(q, "QuantizeLinear"), 2);
  EXPECT_EQ(count_op(q, "DequantizeLinear"), 6);
  // Weights stored once: the float initializers are gone, int8 and int32 ones replace them.
  EXPECT_EQ(q.find("w1"), nullptr);
  EXPECT_EQ(q.find("b1"), nullptr);
  ASSERT_NE(q.constant("w1_q"), nullptr);
  EXPECT_EQ(q.constant("w1_q")->dtype(), DType::kInt8);
  EXPECT_EQ(q.constant("b1_q")->dtype(), DType::kInt32);
  // Bias scale = s_x * s_w[c].
  const Tensor* bs = q.constant("b1_scale");
  const Tensor* ws = q.constant("w1_scale");
  ASSERT_TRUE(bs && ws);
  ASSERT_EQ(bs->numel(), 4);
  for (int c = 0; c < 4; ++c) EXPECT_FLOAT_EQ(bs->data<float>()[c], params["x"].scale * ws->data<float>()[c]);

  auto s1 = Session::create(g, {.threads = 1});
  auto s2 = Session::create(q, {.threads = 1});
  ASSERT_TRUE(s2.ok()) << s2.status().message();
  auto r1 = (*s1)->run(inputs);
  auto r2 = (*s2)->run(inputs);
  ASSERT_TRUE(r2.ok()) << r2.status().message();
  const Tensor& a = r1->at("conv2_out");
  const Tensor& b = r2->at("conv2_out");
  double max_ref = 0, max_err = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    max_ref = std::max(max_ref, std::fabs(double(a.data<float>()[i])));
    max_err = std::max(max_err, std::fabs(double(a.data<float>()[i]) - b.data<float>()[i]));
  }
  EXPECT_GT(max_err, 0.0);                // it really is quantized
  EXPECT_LT(max_err, 0.05 * max_ref);     // and 8 bits keep it close
}

TEST(QdqRewrite, IntegerInputsAndOutputsKeepTheirNames) {
  Graph g = conv_relu_conv();
  QuantPlanOptions po;
  po.quantize_inputs = po.quantize_outputs = true;
  auto plan = plan_quantization(g, po);
  ASSERT_TRUE(plan.ok());
  QdqParams params;
  for (auto& t : plan->activations) params[t] = {0.05f, 128, true};
  QdqOptions qo;
  qo.quantize_inputs = qo.quantize_outputs = true;
  QdqReport report;
  ASSERT_TRUE(rewrite_to_qdq(g, *plan, params, qo, &report).ok());
  EXPECT_EQ(g.find("x")->type.dtype, DType::kUint8);
  EXPECT_EQ(g.find("conv2_out")->type.dtype, DType::kUint8);
  ASSERT_EQ(report.io_notes.size(), 2u);
  EXPECT_NE(report.io_notes[0].find("real = (q - 128) x 0.05"), std::string::npos) << report.io_notes[0];
  EXPECT_EQ(g.metadata_props.count("lowbit.input.x.quantization"), 1u);
  auto s = Session::create(g, {.threads = 1});
  ASSERT_TRUE(s.ok());
  std::map<std::string, Tensor> in;
  in["x"] = Tensor(DType::kUint8, {1, 3, 6, 6});
  auto out = (*s)->run(in);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->at("conv2_out").dtype(), DType::kUint8);
}

TEST(QdqRewrite, MissingParamsLeaveTensorsAndTheirBiasesFloat) {
  Graph g = conv_relu_conv();
  auto plan = plan_quantization(g, {});
  ASSERT_TRUE(plan.ok());
  QdqParams params;
  params["x"] = {0.02f, 0, false};  // relu_out has no range
  QdqReport report;
  ASSERT_TRUE(rewrite_to_qdq(g, *plan, params, {}, &report).ok());
  EXPECT_EQ(report.skipped_activations, std::vector<std::string>{"relu_out"});
  EXPECT_EQ(report.float_biases, std::vector<std::string>{"b2"});
  EXPECT_EQ(report.biases, 1);
  params["x"] = {0.f, 0, false};
  Graph g2 = conv_relu_conv();
  Status bad = rewrite_to_qdq(g2, *plan, params, {}, nullptr);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("'x'"), std::string::npos);
}

}  // namespace
}  // namespace lowbit::quant
