// Softmax / LogSoftmax: both axis semantics (coerced 2-D before opset 13, single axis from 13),
// negative axes, large inputs, random shapes against a naive version, and error cases.
#include "norm_pool_test_util.h"

using namespace lowbit;
using namespace lowbit::np_test;

namespace {

// Naive softmax over the flattened block [axis, axis_end) of dims; trailing dims after it are independent.
std::vector<double> naive_softmax(const Tensor& x, int64_t axis, bool coerced_2d, bool log) {
  const Shape& s = x.shape();
  int64_t outer = 1, n = 1, inner = 1;
  for (int64_t d = 0; d < int64_t(s.size()); ++d) {
    if (d < axis)
      outer *= s[d];
    else if (d == axis || coerced_2d)
      n *= s[d];
    else
      inner *= s[d];
  }
  std::vector<double> y(size_t(x.numel()));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < inner; ++j) {
      double mx = -INFINITY, sum = 0;
      for (int64_t k = 0; k < n; ++k) mx = std::max(mx, x.get_as_double((o * n + k) * inner + j));
      for (int64_t k = 0; k < n; ++k) sum += std::exp(x.get_as_double((o * n + k) * inner + j) - mx);
      for (int64_t k = 0; k < n; ++k) {
        const double v = x.get_as_double((o * n + k) * inner + j) - mx;
        y[size_t((o * n + k) * inner + j)] = log ? v - std::log(sum) : std::exp(v) / sum;
      }
    }
  return y;
}

}  // namespace

TEST(Softmax, HandComputed) {
  Tensor x = floats({1, 3}, {1, 2, 3});
  auto r = run_op(make_node("Softmax", 1, 1), 13, {x});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  expect_near(r.outputs[0], {std::exp(1.0) / z, std::exp(2.0) / z, std::exp(3.0) / z}, 1e-7, 1e-6);
  auto l = run_op(make_node("LogSoftmax", 1, 1), 13, {x});
  ASSERT_TRUE(l.status.ok()) << l.status.message();
  expect_near(l.outputs[0], {1 - std::log(z), 2 - std::log(z), 3 - std::log(z)}, 1e-6, 1e-6);
}

TEST(Softmax, LargeNumbersAreStable) {  // test_softmax_large_number
  Tensor x = floats({2, 4}, {1, 2, 3, 4, 10000, 10001, 10002, 10003});
  auto r = run_op(make_node("Softmax", 1, 1), 13, {x});
  auto l = run_op(make_node("LogSoftmax", 1, 1), 13, {x});
  ASSERT_TRUE(r.status.ok() && l.status.ok());
  std::vector<double> p = {0.032058604, 0.087144318, 0.236882818, 0.643914260};
  std::vector<double> both = p;
  both.insert(both.end(), p.begin(), p.end());
  expect_near(r.outputs[0], both, 1e-6, 1e-5);
  std::vector<double> lp;
  for (double v : both) lp.push_back(std::log(v));
  expect_near(l.outputs[0], lp, 1e-5, 1e-5);
}

TEST(Softmax, AxisSemanticsChangeAtOpset13) {
  // [2, 3, 4] with axis=1: opset 11 normalizes each batch over all 12 values, opset 13 over the 3 values of axis 1.
  std::mt19937 rng(7);
  Tensor x = random_floats({2, 3, 4}, rng);
  Node node = make_node("Softmax", 1, 1, {{"axis", int_attr(1)}});
  auto old = run_op(node, 11, {x});
  auto now = run_op(node, 13, {x});
  ASSERT_TRUE(old.status.ok() && now.status.ok());
  expect_near(old.outputs[0], naive_softmax(x, 1, true, false), 1e-6, 1e-5, "opset 11");
  expect_near(now.outputs[0], naive_softmax(x, 1, false, false), 1e-6, 1e-5, "opset 13");
  double sum12 = 0, sum3 = 0;
  for (int i = 0; i < 12; ++i) sum12 += old.outputs[0].get_as_double(i);
  for (int k = 0; k < 3; ++k) sum3 += now.outputs[0].get_as_double(k * 4);
  EXPECT_NEAR(sum12, 1, 1e-5);
  EXPECT_NEAR(sum3, 1, 1e-5);
  // Defaults: axis 1 (coerced) before 13, axis -1 from 13.
  auto old_default = run_op(make_node("Softmax", 1, 1), 11, {x});
  auto new_default = run_op(make_node("Softmax", 1, 1), 13, {x});
  expect_near(old_default.outputs[0], naive_softmax(x, 1, true, false), 1e-6, 1e-5, "opset 11 default");
  expect_near(new_default.outputs[0], naive_softmax(x, 2, false, false), 1e-6, 1e-5, "opset 13 default");
}

TEST(Softmax, RandomShapesBothOpsBothOpsets) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  auto uni = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  ThreadPool pool(2);
  for (int iter = 0; iter < 60; ++iter) {
    Shape s;
    const int64_t rank = uni(1, 4);
    for (int64_t d = 0; d < rank; ++d) s.push_back(uni(1, d == rank - 1 ? 70 : 6));  // wide rows cross blocks
    const int64_t axis = uni(-rank, rank - 1);
    const bool log = uni(0, 1) == 1;
    const int opset = uni(0, 1) ? 13 : 11;
    Tensor x = random_floats(s, rng, -20, 20);
    auto r = run_op(make_node(log ? "LogSoftmax" : "Softmax", 1, 1, {{"axis", int_attr(axis)}}), opset, {x},
                    iter % 2 ? &pool : nullptr);
    const std::string what = shape_to_string(s) + " axis " + std::to_string(axis) + " opset " + std::to_string(opset);
    ASSERT_TRUE(r.status.ok()) << what << ": " << r.status.message();
    expect_near(r.outputs[0], naive_softmax(x, axis < 0 ? axis + rank : axis, opset < 13, log), 1e-6, 1e-4, what);
  }
}

TEST(Softmax, NegativeAxisAndHalf) {
  Tensor x = floats({2, 2}, {0, 0, 0, std::log(3.f)});
  auto r = run_op(make_node("Softmax", 1, 1, {{"axis", int_attr(-2)}}), 13, {x});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.outputs[0], {0.5, 0.25, 0.5, 0.75}, 1e-6);
  Tensor h = Tensor::from_vector<uint16_t>(DType::kFloat16, {2}, {float_to_half(0.f), float_to_half(0.f)});
  auto hr = run_op(make_node("Softmax", 1, 1), 13, {h});
  ASSERT_TRUE(hr.status.ok()) << hr.status.message();
  EXPECT_EQ(hr.outputs[0].dtype(), DType::kFloat16);
  expect_near(hr.outputs[0], {0.5, 0.5}, 0, 0);
}

TEST(Softmax, Errors) {
  Tensor x = floats({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(run_op(make_node("Softmax", 1, 1, {{"axis", int_attr(2)}}), 13, {x}).status.code(),
            StatusCode::kInvalidModel);
  EXPECT_EQ(run_op(make_node("LogSoftmax", 1, 1, {{"axis", int_attr(-3)}}), 11, {x}).status.code(),
            StatusCode::kInvalidModel);
  EXPECT_EQ(run_op(make_node("Softmax", 1, 1), 13, {Tensor(DType::kInt32, {2, 3})}).status.code(),
            StatusCode::kUnsupported);
  EXPECT_EQ(run_op(make_node("Softmax", 0, 1), 13, {}).status.code(), StatusCode::kInvalidModel);
  ValueType sym(DType::kFloat32, {Dim::symbol("n"), 10});
  std::vector<ValueType> out;
  ASSERT_TRUE(infer(make_node("Softmax", 1, 1), 13, {&sym}, &out).ok());
  EXPECT_EQ(out[0].to_string(), "float32[n,10]");
}
