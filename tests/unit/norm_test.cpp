// BatchNormalization / InstanceNormalization / LayerNormalization: hand-computed cases, naive
// re-implementations on random shapes, opset rules (spatial, training outputs) and error cases.
#include "norm_pool_test_util.h"

using namespace lowbit;
using namespace lowbit::np_test;

namespace {

std::vector<double> naive_batch_norm(const Tensor& x, const std::vector<float>& scale, const std::vector<float>& bias,
                                     const std::vector<float>& mean, const std::vector<float>& var, double eps) {
  const int64_t c_count = x.dim(1), inner = x.numel() / (x.dim(0) * c_count);
  std::vector<double> y;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const size_t c = size_t((i / inner) % c_count);
    y.push_back((x.get_as_double(i) - mean[c]) / std::sqrt(var[c] + eps) * scale[c] + bias[c]);
  }
  return y;
}

Tensor vec(const std::vector<float>& v) { return floats({int64_t(v.size())}, v); }

}  // namespace

TEST(BatchNormalization, Rank4HandComputed) {
  // channel 0: (x-1)/2 * 1 + 0; channel 1: (x-3)/1 * 2 + 1
  Tensor x = floats({1, 2, 1, 2}, {1, 2, 3, 4});
  auto r = run_op(make_node("BatchNormalization", 5, 1, {{"epsilon", float_attr(0)}}), 15,
                  {x, vec({1, 2}), vec({0, 1}), vec({1, 3}), vec({4, 1})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.outputs[0], {0, 0.5, 1, 3});
}

TEST(BatchNormalization, Rank2And3MatchNaive) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  ThreadPool pool(2);
  for (Shape s : {Shape{4, 3}, Shape{2, 5, 7}, Shape{2, 3, 4, 5}, Shape{1, 2, 2, 2, 3}}) {
    const int64_t c = s[1];
    std::vector<float> scale, bias, mean, var;
    std::uniform_real_distribution<float> dist(-1, 1), pos(0.1f, 2);
    for (int64_t i = 0; i < c; ++i)
      scale.push_back(dist(rng)), bias.push_back(dist(rng)), mean.push_back(dist(rng)), var.push_back(pos(rng));
    Tensor x = random_floats(s, rng);
    for (int opset : {7, 9, 14}) {
      auto r = run_op(make_node("BatchNormalization", 5, 1, {{"epsilon", float_attr(1e-3f)}}), opset,
                      {x, vec(scale), vec(bias), vec(mean), vec(var)}, &pool);
      ASSERT_TRUE(r.status.ok()) << r.status.message();
      EXPECT_EQ(r.outputs[0].shape(), s);
      expect_near(r.outputs[0], naive_batch_norm(x, scale, bias, mean, var, 1e-3f), 1e-5, 1e-5,
                  shape_to_string(s) + " opset " + std::to_string(opset));
    }
  }
}

TEST(BatchNormalization, SpatialZeroBeforeOpset9) {
  // spatial=0: one parameter set per activation (C x D), here C=1, D=2.
  Tensor x = floats({2, 1, 2}, {1, 2, 3, 4});
  Tensor p1 = floats({1, 2}, {1, 2}), p0 = floats({1, 2}, {0, 1}), ones = floats({1, 2}, {1, 1});
  auto r = run_op(make_node("BatchNormalization", 5, 1, {{"spatial", int_attr(0)}, {"epsilon", float_attr(0)}}), 7,
                  {x, p1, p0, p0, ones});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  // y = (x - mean) * scale + bias: [1, (2-1)*2+1, 3, (4-1)*2+1]
  expect_near(r.outputs[0], {1, 3, 3, 7});
}

TEST(BatchNormalization, TrainingOutputsAreUnsupported) {
  Tensor x = floats({1, 1, 2}, {1, 2});
  std::vector<Tensor> ins = {x, vec({1}), vec({0}), vec({0}), vec({1})};
  auto training = run_op(make_node("BatchNormalization", 5, 3, {{"training_mode", int_attr(1)}}), 15, ins);
  EXPECT_EQ(training.status.code(), StatusCode::kUnsupported);
  EXPECT_NE(training.status.message().find("training"), std::string::npos) << training.status.message();
  auto flag_only = run_op(make_node("BatchNormalization", 5, 1, {{"training_mode", int_attr(1)}}), 14, ins);
  EXPECT_EQ(flag_only.status.code(), StatusCode::kUnsupported);
  auto old = run_op(make_node("BatchNormalization", 5, 5), 9, ins);
  EXPECT_EQ(old.status.code(), StatusCode::kUnsupported);
  // Declared but omitted optional outputs are fine.
  Node omitted = make_node("BatchNormalization", 5, 3);
  omitted.outputs[1] = omitted.outputs[2] = "";
  EXPECT_TRUE(run_op(omitted, 9, ins).status.ok());
}

TEST(BatchNormalization, Errors) {
  Tensor x = floats({1, 2, 2}, {1, 2, 3, 4});
  auto code = [](const std::vector<Tensor>& ins, size_t n_inputs = 5) {
    return run_op(make_node("BatchNormalization", n_inputs, 1), 15, ins).status.code();
  };
  EXPECT_EQ(code({x, vec({1, 1, 1}), vec({0, 0}), vec({0, 0}), vec({1, 1})}), StatusCode::kInvalidModel);
  EXPECT_EQ(code({x, floats({2, 1}, {1, 1}), vec({0, 0}), vec({0, 0}), vec({1, 1})}), StatusCode::kInvalidModel);
  EXPECT_EQ(code({x, vec({1, 1}), vec({0, 0}), vec({0, 0})}, 4), StatusCode::kInvalidModel);          // missing var
  EXPECT_EQ(code({vec({1, 2}), vec({1}), vec({0}), vec({0}), vec({1})}), StatusCode::kInvalidModel);  // rank 1
  Tensor i32(DType::kInt32, {1, 2, 2});
  EXPECT_EQ(code({i32, vec({1, 1}), vec({0, 0}), vec({0, 0}), vec({1, 1})}), StatusCode::kUnsupported);
}

TEST(BatchNormalization, HalfInputFloatParams) {  // opset 15 lets scale/mean be float while X is float16
  Tensor x = Tensor::from_vector<uint16_t>(DType::kFloat16, {1, 1, 2}, {float_to_half(1.f), float_to_half(3.f)});
  auto r = run_op(make_node("BatchNormalization", 5, 1, {{"epsilon", float_attr(0)}}), 15,
                  {x, vec({2}), vec({1}), vec({2}), vec({1})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.outputs[0].dtype(), DType::kFloat16);
  expect_near(r.outputs[0], {-1, 3}, 0, 0);
}

TEST(InstanceNormalization, OnnxExample) {  // test_instancenorm_example (first batch)
  Tensor x = floats({1, 2, 1, 3}, {-1, 0, 1, 2, 3, 4});
  auto r = run_op(make_node("InstanceNormalization", 3, 1), 12, {x, vec({1, 1.5}), vec({0, 1})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  const double inv = 1 / std::sqrt(2.0 / 3 + 1e-5);
  expect_near(r.outputs[0], {-inv, 0, inv, 1 - 1.5 * inv, 1, 1 + 1.5 * inv});
}

TEST(InstanceNormalization, RandomMatchesNaiveAndErrors) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  Tensor x = random_floats({2, 3, 4, 5}, rng);
  Tensor scale = random_floats({3}, rng), bias = random_floats({3}, rng);
  auto r = run_op(make_node("InstanceNormalization", 3, 1, {{"epsilon", float_attr(1e-2f)}}), 12, {x, scale, bias});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  std::vector<double> expected;
  for (int64_t p = 0; p < 6; ++p) {
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < 20; ++i) sum += x.get_as_double(p * 20 + i);
    const double mean = sum / 20;
    for (int64_t i = 0; i < 20; ++i) sq += std::pow(x.get_as_double(p * 20 + i) - mean, 2);
    const double denom = std::sqrt(sq / 20 + double(1e-2f));
    for (int64_t i = 0; i < 20; ++i)
      expected.push_back((x.get_as_double(p * 20 + i) - mean) / denom * scale.get_as_double(p % 3) +
                         bias.get_as_double(p % 3));
  }
  expect_near(r.outputs[0], expected);
  EXPECT_EQ(run_op(make_node("InstanceNormalization", 3, 1), 12, {x, vec({1, 1}), bias}).status.code(),
            StatusCode::kInvalidModel);
  EXPECT_EQ(run_op(make_node("InstanceNormalization", 2, 1), 12, {x, scale}).status.code(), StatusCode::kInvalidModel);
}

namespace {
// Naive LayerNorm over x[axis:], scale/bias given already expanded to the normalized size.
void naive_layer_norm(const Tensor& x, int64_t axis, const std::vector<double>& scale, const std::vector<double>& bias,
                      double eps, std::vector<double>* y, std::vector<double>* mean, std::vector<double>* inv_std) {
  int64_t cols = 1;
  for (size_t d = size_t(axis); d < x.rank(); ++d) cols *= x.dim(d);
  for (int64_t r = 0; r < x.numel() / cols; ++r) {
    double m = 0, v = 0;
    for (int64_t i = 0; i < cols; ++i) m += x.get_as_double(r * cols + i) / double(cols);
    for (int64_t i = 0; i < cols; ++i) v += std::pow(x.get_as_double(r * cols + i) - m, 2) / double(cols);
    const double is = 1 / std::sqrt(v + eps);
    for (int64_t i = 0; i < cols; ++i)
      y->push_back((x.get_as_double(r * cols + i) - m) * is * scale[size_t(i)] + bias[size_t(i)]);
    mean->push_back(m);
    inv_std->push_back(is);
  }
}
}  // namespace

TEST(LayerNormalization, EveryAxisWithStatistics) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  ThreadPool pool(2);
  Tensor x = random_floats({2, 3, 4}, rng);
  for (int64_t axis = -3; axis < 3; ++axis) {
    const int64_t a = axis < 0 ? axis + 3 : axis;
    Shape normalized(x.shape().begin() + a, x.shape().end());
    Tensor scale = random_floats(normalized, rng), bias = random_floats(normalized, rng);
    auto r = run_op(make_node("LayerNormalization", 3, 3, {{"axis", int_attr(axis)}, {"epsilon", float_attr(1e-3f)}}),
                    17, {x, scale, bias}, axis % 2 ? &pool : nullptr);
    ASSERT_TRUE(r.status.ok()) << r.status.message();
    std::vector<double> y, mean, inv_std;
    naive_layer_norm(x, a, values(scale), values(bias), double(1e-3f), &y, &mean, &inv_std);
    const std::string what = "axis " + std::to_string(axis);
    expect_near(r.outputs[0], y, 1e-5, 1e-5, what);
    Shape stat_shape(x.shape().begin(), x.shape().begin() + a);
    stat_shape.resize(3, 1);
    EXPECT_EQ(r.outputs[1].shape(), stat_shape) << what;
    EXPECT_EQ(r.outputs[2].dtype(), DType::kFloat32) << what;
    expect_near(r.outputs[1], mean, 1e-6, 1e-5, what + " mean");
    expect_near(r.outputs[2], inv_std, 1e-6, 1e-5, what + " inv_std");
  }
}

TEST(LayerNormalization, DefaultAxisBroadcastScaleNoBias) {
  // Scale of shape [3] broadcasts over the normalized shape [2, 3] (axis -2); B omitted.
  Tensor x = floats({1, 2, 3}, {1, 2, 3, 4, 5, 6});
  auto r = run_op(make_node("LayerNormalization", 2, 1, {{"axis", int_attr(-2)}, {"epsilon", float_attr(0)}}), 17,
                  {x, vec({1, 2, 0})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  const double sd = std::sqrt(35.0 / 12);  // population std of 1..6
  expect_near(r.outputs[0], {-2.5 / sd, -1.5 / sd * 2, 0, 0.5 / sd, 1.5 / sd * 2, 0});
  // Default axis -1, two rows of [1, 3]: mean 2, var 1 -> [-1, 1].
  auto d = run_op(make_node("LayerNormalization", 2, 1, {{"epsilon", float_attr(0)}}), 17,
                  {floats({2, 2}, {1, 3, 5, 7}), vec({1, 1})});
  ASSERT_TRUE(d.status.ok()) << d.status.message();
  expect_near(d.outputs[0], {-1, 1, -1, 1});
}

TEST(LayerNormalization, InferenceAndErrors) {
  ValueType x(DType::kFloat32, {Dim::symbol("b"), Dim::symbol("t"), 8});
  ValueType scale(DType::kFloat32, {8});
  std::vector<ValueType> out;
  ASSERT_TRUE(infer(make_node("LayerNormalization", 2, 3), 17, {&x, &scale}, &out).ok());
  EXPECT_EQ(out[0].to_string(), "float32[b,t,8]");
  EXPECT_EQ(out[1].to_string(), "float32[b,t,1]");
  Node n = make_node("LayerNormalization", 2, 1, {{"axis", int_attr(3)}});
  EXPECT_EQ(infer(n, 17, {&x, &scale}, &out).code(), StatusCode::kInvalidModel);
  ValueType bad_scale(DType::kFloat32, {7});
  EXPECT_EQ(infer(make_node("LayerNormalization", 2, 1), 17, {&x, &bad_scale}, &out).code(), StatusCode::kInvalidModel);
  ValueType half_scale(DType::kFloat16, {8});
  EXPECT_NE(infer(make_node("LayerNormalization", 2, 1), 17, {&x, &half_scale}, &out).code(), StatusCode::kOk);
  EXPECT_EQ(infer(make_node("LayerNormalization", 1, 1), 17, {&x}, &out).code(), StatusCode::kInvalidModel);
}

TEST(LayerNormalization, HalfInput) {
  Tensor x = Tensor::from_vector<uint16_t>(DType::kFloat16, {1, 2}, {float_to_half(1.f), float_to_half(3.f)});
  Tensor one = Tensor::from_vector<uint16_t>(DType::kFloat16, {2}, {float_to_half(1.f), float_to_half(1.f)});
  auto r = run_op(make_node("LayerNormalization", 2, 2, {{"epsilon", float_attr(0)}}), 17, {x, one});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.outputs[0].dtype(), DType::kFloat16);
  EXPECT_EQ(r.outputs[1].dtype(), DType::kFloat32);  // stash_type float
  expect_near(r.outputs[0], {-1, 1}, 0, 0);
  expect_near(r.outputs[1], {2}, 0, 0);
}
