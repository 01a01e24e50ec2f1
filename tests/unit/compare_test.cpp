// compare/: error metrics, the layer-by-layer comparison (accumulated vs layer-alone error) and the
// mixed-precision search of quant/mixed_precision on small quantized CNNs.
#include <gtest/gtest.h>

#include <cmath>

#include "compare/model_compare.h"
#include "io/npy.h"
#include "passes_test_util.h"
#include "quant/mixed_precision.h"
#include "quant/quantizer.h"
#include "temp_dir.h"

namespace lowbit::compare {
namespace {

using namespace lowbit::passes_test;

TEST(CompareMetrics, SqnrCosineMseMaxAbs) {
  ErrorAccumulator a;
  const float ref[] = {1, 2, 3}, q[] = {1, 2, 4};
  a.add(ref, q, 3);
  ErrorMetrics m = a.result();
  ASSERT_TRUE(m.sqnr_db.has_value());
  EXPECT_NEAR(*m.sqnr_db, 10 * std::log10(14.0 / 1.0), 1e-9);
  EXPECT_NEAR(*m.cosine, 17.0 / std::sqrt(14.0 * 21.0), 1e-12);
  EXPECT_NEAR(m.mse, 1.0 / 3, 1e-12);
  EXPECT_EQ(m.max_abs, 1);
  EXPECT_FALSE(m.exact);
  // Accumulates over samples: a second identical sample changes nothing but the count.
  a.add(ref, q, 3);
  EXPECT_NEAR(*a.result().sqnr_db, *m.sqnr_db, 1e-9);
  EXPECT_EQ(a.result().count, 6);

  ErrorAccumulator same;
  same.add(ref, ref, 3);
  EXPECT_TRUE(same.result().exact);
  EXPECT_EQ(*same.result().sqnr_db, kExactSqnrDb);
  EXPECT_EQ(format_sqnr(same.result()), "exact");

  ErrorAccumulator zero_ref;  // no signal: SQNR undefined, reported as missing rather than -inf
  const float z[] = {0, 0}, e[] = {0.5f, 0};
  zero_ref.add(z, e, 2);
  EXPECT_FALSE(zero_ref.result().sqnr_db.has_value());
  EXPECT_EQ(format_sqnr(zero_ref.result()), "n/a");
  EXPECT_TRUE(to_json(zero_ref.result())["sqnr_db"].is_null());

  ErrorAccumulator nan;
  const float bad[] = {NAN, 1};
  nan.add(bad, bad, 2);
  EXPECT_EQ(nan.result().nonfinite, 1);
  EXPECT_EQ(nan.result().count, 1);
}

TEST(CompareMetrics, TaskMetrics) {
  EXPECT_EQ(task_kind_for_shape({4, 1000}), "classifier");
  EXPECT_EQ(task_kind_for_shape({1, 10, 1, 1}), "classifier");
  EXPECT_EQ(task_kind_for_shape({1, 1, 640, 640}), "map");
  EXPECT_EQ(task_kind_for_shape({1, 1}), "");
  EXPECT_EQ(task_kind_for_shape({7}), "");

  Top1Accumulator top1;  // 2 rows of 3 classes: row 0 agrees (class 2), row 1 does not (0 vs 1)
  const float ref[] = {0.1f, 0.2f, 0.9f, 0.8f, 0.1f, 0.3f}, q[] = {0.0f, 0.1f, 0.7f, 0.2f, 0.6f, 0.1f};
  top1.add(ref, q, {2, 3});
  EXPECT_EQ(top1.rows(), 2);
  EXPECT_DOUBLE_EQ(top1.agreement(), 0.5);

  IouAccumulator iou(0.3);
  const float a[] = {0.9f, 0.9f, 0.1f, 0.0f}, b[] = {0.9f, 0.1f, 0.1f, 0.5f};
  iou.add(a, b, 4);  // masks {1,1,0,0} and {1,0,0,1}: IoU 1/3
  const float none[] = {0, 0, 0, 0};
  iou.add(none, none, 4);  // both empty: 1
  EXPECT_NEAR(iou.min_sample_iou(), 1.0 / 3, 1e-12);
  EXPECT_NEAR(iou.mean_sample_iou(), (1.0 / 3 + 1) / 2, 1e-12);
  EXPECT_NEAR(iou.iou(), 1.0 / 3, 1e-12);  // pooled: the empty sample adds nothing
}

// x -> conv1 -> Relu -> conv2 -> Relu -> conv3 (output), all quantized by lowbit's own quantizer.
Graph three_convs() {
  GraphBuilder b;
  auto x = b.input("x", {Dim::symbol("N"), 4, 8, 8});
  auto c1 = b.node("Conv", {x, b.random_constant("w1", {8, 4, 3, 3}), b.random_constant("b1", {8})},
                   {{"pads", ints({1, 1, 1, 1})}}, "conv1");
  auto r1 = b.node("Relu", {c1}, {}, "relu1");
  auto c2 = b.node("Conv", {r1, b.random_constant("w2", {8, 8, 3, 3}), b.random_constant("b2", {8})},
                   {{"pads", ints({1, 1, 1, 1})}}, "conv2");
  auto r2 = b.node("Relu", {c2}, {}, "relu2");
  auto c3 = b.node("Conv", {r2, b.random_constant("w3", {4, 8, 1, 1}), b.random_constant("b3", {4})}, {}, "conv3");
  b.output(c3);
  return b.build();
}

quant::QuantizeOptions calib_options(const test::TempDir& dir, int samples) {
  Tensor x = random_tensor({samples, 4, 8, 8}, 99, -1.f, 1.f);
  EXPECT_TRUE(write_npy(dir.file("x.npy"), x).ok());
  quant::QuantizeOptions o;
  o.data.sources = {{"x", dir.file("x.npy")}};
  o.calib.method = quant::CalibMethod::kMinMax;
  o.threads = 1;
  return o;
}

Graph quantized(const Graph& g, const quant::QuantizeOptions& o) {
  auto r = quant::quantize_graph(g, o);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r->graph;
}

CompareResult compare(const Graph& fp32, const Graph& q, int samples = 2) {
  CompareOptions co;
  co.threads = 1;
  auto cmp = ModelComparer::create(fp32, q, co);
  EXPECT_TRUE(cmp.ok()) << cmp.status().message();
  for (int i = 0; i < samples; ++i) {
    std::map<std::string, Tensor> in{{"x", random_tensor({1, 4, 8, 8}, 500 + uint32_t(i), -1.f, 1.f)}};
    Status s = (*cmp)->add_sample(in);
    EXPECT_TRUE(s.ok()) << s.message();
  }
  return (*cmp)->result();
}

const LayerComparison* layer(const CompareResult& r, const std::string& tensor) {
  for (auto& L : r.layers)
    if (L.tensor == tensor) return &L;
  return nullptr;
}

TEST(ModelCompare, ModelAgainstItselfIsExact) {
  Graph g = three_convs();
  CompareResult r = compare(g, g);
  EXPECT_EQ(r.samples, 2);
  ASSERT_EQ(r.layers.size(), 5u);  // conv1, relu1, conv2, relu2, conv3 outputs (x is a float input: no Q/DQ)
  for (auto& L : r.layers) {
    EXPECT_TRUE(L.accumulated.result().exact) << L.tensor;
    EXPECT_TRUE(L.local.result().exact) << L.tensor;
    EXPECT_FALSE(L.quant.quantized);
  }
  ASSERT_EQ(r.outputs.size(), 1u);
  EXPECT_TRUE(r.outputs[0].accumulated.result().exact);
  EXPECT_TRUE(r.worst.empty());
}

TEST(ModelCompare, QuantizedModelLayersScalesAndJson) {
  test::TempDir dir("compare");
  Graph g = three_convs();
  Graph q = quantized(g, calib_options(dir, 16));
  CompareResult r = compare(g, q);
  // Graph input x is quantized (its Q/DQ error is a layer of its own), then every node output.
  const LayerComparison* x = layer(r, "x");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->op_type, "(input)");
  EXPECT_TRUE(x->quant.quantized);
  const LayerComparison* relu1 = layer(r, "relu1_out");
  ASSERT_NE(relu1, nullptr);
  EXPECT_TRUE(relu1->quant.quantized);
  EXPECT_NE(relu1->compared_value, "relu1_out");  // the dequantized value is what is compared
  EXPECT_GT(relu1->quant.scale, 0);
  EXPECT_NEAR(relu1->quant.hi - relu1->quant.lo, 255 * relu1->quant.scale, 1e-6);
  // Errors are small but real; the layer-alone error of a layer never exceeds much what it accumulates.
  for (auto& L : r.layers) {
    const ErrorMetrics a = L.accumulated.result(), l = L.local.result();
    ASSERT_TRUE(a.sqnr_db && l.sqnr_db) << L.tensor;
    EXPECT_GT(*a.sqnr_db, 20) << L.tensor;
    EXPECT_LT(*a.sqnr_db, 80) << L.tensor;
    EXPECT_TRUE(L.has_local);
  }
  // The first quantized tensor has exact inputs in both runs: accumulated == alone.
  EXPECT_NEAR(*x->accumulated.result().sqnr_db, *x->local.result().sqnr_db, 1e-9);
  // The output accumulates more error than the last layer adds alone.
  const LayerComparison* out = layer(r, "conv3_out");
  ASSERT_NE(out, nullptr);
  EXPECT_TRUE(out->is_output);
  EXPECT_LT(*out->accumulated.result().sqnr_db, *out->local.result().sqnr_db);

  nlohmann::json j = compare_to_json(r);
  EXPECT_EQ(j["layers"].size(), r.layers.size());
  EXPECT_EQ(j["layers"][0]["tensor"], "x");
  EXPECT_TRUE(j["layers"][0]["range"].is_array());
  EXPECT_EQ(j["outputs"][0]["tensor"], "conv3_out");
  EXPECT_FALSE(j["worst"].empty());
  const std::string text = format_compare_text(r);
  EXPECT_NE(text.find("relu1_out"), std::string::npos);
  EXPECT_NE(text.find("worst layers"), std::string::npos);
}

// A tensor quantized with a far too coarse scale is to blame: it is the worst layer, the layers after it inherit
// the error (accumulated) but do not add it (alone).
TEST(ModelCompare, BlamesTheLayerWithABadScale) {
  test::TempDir dir("compare");
  Graph g = three_convs();
  Graph q = quantized(g, calib_options(dir, 16));
  bool sabotaged = false;
  for (auto& n : q.nodes)
    if (n.op_type == "QuantizeLinear" && n.inputs[0] == "relu1_out") {
      ValueInfo* s = q.find(n.inputs[1]);
      Tensor t = s->constant->clone();
      t.data<float>()[0] *= 40;
      s->constant = t;
      // The DequantizeLinear shares the scale initializer in lowbit's QDQ graphs; check it does.
      sabotaged = true;
    }
  ASSERT_TRUE(sabotaged);
  CompareResult r = compare(g, q);
  ASSERT_FALSE(r.worst.empty());
  EXPECT_EQ(r.worst[0], "relu1_out");
  const LayerComparison* bad = layer(r, "relu1_out");
  const LayerComparison* next = layer(r, "conv2_out");
  ASSERT_TRUE(bad && next);
  const double bad_alone = *bad->local.result().sqnr_db, next_alone = *next->local.result().sqnr_db;
  const double next_accumulated = *next->accumulated.result().sqnr_db;
  EXPECT_LT(bad_alone, 20);
  EXPECT_GT(next_alone, bad_alone + 10);           // conv2 itself is fine ...
  EXPECT_LT(next_accumulated, next_alone - 10);    // ... but inherits relu1's error
}

// Mixed precision: a layer whose weights have one huge outlier (per-tensor weights) ruins the output; the search
// keeps exactly that layer in FP32 to reach the target.
TEST(MixedPrecision, KeepsTheSensitiveLayerInFp32) {
  test::TempDir dir("mixed");
  Graph g = three_convs();
  Tensor w2 = g.find("w2")->constant->clone();
  w2.data<float>()[5] = 60.f;  // one outlier: per-tensor int8 steps become 60/127, most weights round to 0
  g.find("w2")->constant = w2;
  quant::QuantizeOptions o = calib_options(dir, 20);
  o.plan.per_channel_weights = false;
  o.holdout_batches = -1;
  auto r = quant::calibrate_graph(g, o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->holdout_batches, 4);  // 20% of 20 batches of one sample
  quant::MixedPrecisionOptions mp;
  auto t = quant::parse_target_metric("sqnr=30");
  ASSERT_TRUE(t.ok());
  mp.target = *t;
  mp.measure_speed = false;
  auto rep = quant::choose_mixed_precision(*r, o, mp);
  ASSERT_TRUE(rep.ok()) << rep.status().message();
  EXPECT_LT(rep->metric_all_int8, 30);
  EXPECT_TRUE(rep->met);
  EXPECT_GE(rep->metric_final, 30);
  ASSERT_EQ(rep->kept.size(), 1u) << quant::format_mixed_precision(*rep);
  EXPECT_EQ(rep->kept[0].node, "conv2");
  EXPECT_EQ(rep->kept[0].rank, 1);
  EXPECT_NE(quant::format_mixed_precision(*rep).find("conv2"), std::string::npos);

  // An unreachable target fails with the numbers, instead of silently keeping everything.
  mp.target.value = 250;  // above the 200 dB cap of identical outputs
  auto impossible = quant::choose_mixed_precision(*r, o, mp);
  ASSERT_FALSE(impossible.ok());
  EXPECT_NE(impossible.status().message().find("not reached"), std::string::npos) << impossible.status().message();
}

TEST(MixedPrecision, ParsesTargets) {
  auto iou = quant::parse_target_metric("iou:0.3=0.95");
  ASSERT_TRUE(iou.ok());
  EXPECT_EQ(iou->kind, quant::TargetMetric::Kind::kIou);
  EXPECT_DOUBLE_EQ(iou->iou_threshold, 0.3);
  EXPECT_DOUBLE_EQ(iou->value, 0.95);
  EXPECT_EQ(quant::parse_target_metric("top1=0.99")->kind, quant::TargetMetric::Kind::kTop1);
  EXPECT_EQ(quant::parse_target_metric("cosine=0.999")->kind, quant::TargetMetric::Kind::kCosine);
  for (auto* bad : {"top1", "top1=", "top1=1.5", "accuracy=0.9", "iou:x=0.9", "sqnr=abc", "=3"}) {
    auto t = quant::parse_target_metric(bad);
    EXPECT_FALSE(t.ok()) << bad;
    if (!t.ok()) EXPECT_NE(t.status().message().find(bad), std::string::npos) << t.status().message();
  }
}

}  // namespace
}  // namespace lowbit::compare
