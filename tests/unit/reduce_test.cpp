// Reductions (ReduceMean/Sum/Max/Min/Prod/L2) and ArgMax/ArgMin: hand-computed cases, every
// keepdims/axes form, and a brute-force comparison over random shapes and axis subsets.
#include <random>

#include "resize_reduce_test_util.h"

namespace lowbit {
namespace {

using namespace rr_test;

// 2x3x2 holding 1..12.
Tensor iota_2x3x2() {
  std::vector<float> v(12);
  for (int i = 0; i < 12; ++i) v[i] = float(i + 1);
  return f32({2, 3, 2}, v);
}

TEST(Reduce, SumKeepdimsOverMiddleAxis) {
  auto r = run_op("ReduceSum", 11, {iota_2x3x2()}, {{"axes", attr_ints({1})}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out.shape(), (Shape{2, 1, 2}));
  expect_near(r.out, {9, 12, 27, 30});
}

TEST(Reduce, MeanWithoutKeepdimsOverTwoAxes) {
  auto r = run_op("ReduceMean", 13, {iota_2x3x2()}, {{"axes", attr_ints({0, 2})}, {"keepdims", attr_i(0)}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out.shape(), (Shape{3}));
  expect_near(r.out, {(1 + 2 + 7 + 8) / 4.f, (3 + 4 + 9 + 10) / 4.f, (5 + 6 + 11 + 12) / 4.f});
}

TEST(Reduce, NegativeAxesAndDefaultAllAxes) {
  auto r = run_op("ReduceMax", 13, {iota_2x3x2()}, {{"axes", attr_ints({-1})}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out.shape(), (Shape{2, 3, 1}));
  expect_near(r.out, {2, 4, 6, 8, 10, 12});
  r = run_op("ReduceMin", 13, {iota_2x3x2()});  // no axes: all, keepdims by default
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out.shape(), (Shape{1, 1, 1}));
  expect_near(r.out, {1});
  r = run_op("ReduceSum", 11, {iota_2x3x2()}, {{"keepdims", attr_i(0)}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out.shape(), Shape{});
  expect_near(r.out, {78});
}

TEST(Reduce, ProdAndL2) {
  auto r = run_op("ReduceProd", 13, {f32({2, 2}, {1, 2, 3, 4})}, {{"axes", attr_ints({1})}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.out, {2, 12});
  r = run_op("ReduceL2", 13, {f32({2, 2}, {3, 4, -5, 12})}, {{"axes", attr_ints({1})}, {"keepdims", attr_i(0)}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.out, {5, 13});
}

TEST(Reduce, SumAxesInputFromOpset13) {
  Tensor x = iota_2x3x2();
  auto r = run_op("ReduceSum", 13, {x, i64({1}, {-2})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.out, {9, 12, 27, 30});
  // Empty axes reduce everything, unless noop_with_empty_axes.
  r = run_op("ReduceSum", 13, {x, i64({0}, {})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out.shape(), (Shape{1, 1, 1}));
  expect_near(r.out, {78});
  r = run_op("ReduceSum", 13, {x, i64({0}, {})}, {{"noop_with_empty_axes", attr_i(1)}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out.shape(), x.shape());
  expect_near(r.out, values_of<float>(x));
  r = run_op("ReduceSum", 13, {x}, {{"noop_with_empty_axes", attr_i(1)}});  // omitted axes = empty
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out.shape(), x.shape());
  // From opset 13 the attribute form is invalid.
  r = run_op("ReduceSum", 13, {x}, {{"axes", attr_ints({1})}});
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidModel);
}

TEST(Reduce, IntegerTypes) {
  auto r = run_op("ReduceMean", 13, {i32({2, 2}, {1, 2, 3, 6})}, {{"axes", attr_ints({1})}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values_of<int32_t>(r.out), (std::vector<int32_t>{1, 4}));  // 1.5 truncates to 1
  r = run_op("ReduceSum", 11, {i64({3}, {int64_t(1) << 40, 5, -7})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values_of<int64_t>(r.out), (std::vector<int64_t>{(int64_t(1) << 40) - 2}));
  r = run_op("ReduceMax", 13, {s8({4}, {-128, -3, 100, 7})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values_of<int8_t>(r.out), (std::vector<int8_t>{100}));
  r = run_op("ReduceMin", 13, {u8({4}, {200, 3, 255, 7})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values_of<uint8_t>(r.out), (std::vector<uint8_t>{3}));
  // Sum of uint8 is not in the ONNX type list.
  r = run_op("ReduceSum", 11, {u8({2}, {1, 2})});
  EXPECT_EQ(r.status.code(), StatusCode::kUnsupported);
}

TEST(Reduce, MaxPropagatesNaN) {
  auto r = run_op("ReduceMax", 13, {f32({3}, {1, NAN, 2})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_TRUE(std::isnan(r.out.data<float>()[0]));
}

// Brute force: every subset of axes of a 4-D tensor, keepdims both ways, ReduceSum and ReduceMax, 2 threads.
TEST(Reduce, MatchesBruteForceOnEveryAxisSubset) {
  const Shape shape = {3, 4, 1, 5};
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-2, 2);
  std::vector<float> v(60);
  for (auto& e : v) e = dist(rng);
  Tensor x = f32(shape, v);
  ThreadPool pool(2);
  for (int mask = 0; mask < 16; ++mask) {
    std::vector<int64_t> axes;
    for (int d = 0; d < 4; ++d)
      if (mask & (1 << d)) axes.push_back(d);
    // Expected by direct definition.
    Shape kept_shape = shape;
    for (int64_t a : axes) kept_shape[a] = 1;
    if (axes.empty()) kept_shape = {1, 1, 1, 1};
    const int64_t n_out = kept_shape[0] * kept_shape[1] * kept_shape[2] * kept_shape[3];
    std::vector<float> sum(size_t(n_out), 0.f), mx(size_t(n_out), -INFINITY);
    for (int64_t i0 = 0; i0 < 3; ++i0)
      for (int64_t i1 = 0; i1 < 4; ++i1)
        for (int64_t i3 = 0; i3 < 5; ++i3) {
          int64_t o[4] = {i0, i1, 0, i3};
          for (int d = 0; d < 4; ++d)
            if (axes.empty() || (mask & (1 << d))) o[d] = 0;
          const int64_t off = ((o[0] * kept_shape[1] + o[1]) * kept_shape[2] + o[2]) * kept_shape[3] + o[3];
          const float e = v[size_t((i0 * 4 + i1) * 5 + i3)];
          sum[size_t(off)] += e;
          mx[size_t(off)] = std::max(mx[size_t(off)], e);
        }
    SCOPED_TRACE("axes mask " + std::to_string(mask));
    auto r = run_op("ReduceSum", 11, {x}, {{"axes", attr_ints(axes)}}, &pool);
    ASSERT_TRUE(r.status.ok()) << r.status.message();
    EXPECT_EQ(r.out.shape(), kept_shape);
    expect_near(r.out, sum, 1e-5f);
    r = run_op("ReduceMax", 11, {x}, {{"axes", attr_ints(axes)}, {"keepdims", attr_i(0)}}, &pool);
    ASSERT_TRUE(r.status.ok()) << r.status.message();
    expect_near(r.out, mx, 0);
  }
}

TEST(Reduce, Errors) {
  Tensor x = iota_2x3x2();
  EXPECT_EQ(run_op("ReduceMean", 13, {x}, {{"axes", attr_ints({3})}}).status.code(), StatusCode::kInvalidModel);
  EXPECT_EQ(run_op("ReduceMean", 13, {x}, {{"axes", attr_ints({-4})}}).status.code(), StatusCode::kInvalidModel);
  auto r = run_op("ReduceMean", 13, {x}, {{"axes", attr_ints({1, -2})}});
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidModel);
  EXPECT_NE(r.status.message().find("twice"), std::string::npos) << r.status.message();
  EXPECT_EQ(run_op("ReduceSum", 13, {x, i64({1}, {5})}).status.code(), StatusCode::kInvalidModel);
}

TEST(Reduce, SymbolicInference) {
  ValueType x(DType::kFloat32, {Dim::symbol("N"), 3, Dim::symbol("L")});
  ValueType axes_t(DType::kInt64, {1});
  ValueType out;
  ASSERT_TRUE(infer_only("ReduceMean", 13, {&x}, {nullptr}, &out, {{"axes", attr_ints({-1})}}).ok());
  EXPECT_EQ(out.to_string(), "float32[N,3,1]");
  ASSERT_TRUE(
      infer_only("ReduceMean", 13, {&x}, {nullptr}, &out, {{"axes", attr_ints({1})}, {"keepdims", attr_i(0)}}).ok());
  EXPECT_EQ(out.to_string(), "float32[N,L]");
  // ReduceSum-13 with axes known only at run time: keepdims keeps the rank, otherwise the rank is unknown.
  ASSERT_TRUE(infer_only("ReduceSum", 13, {&x, &axes_t}, {nullptr, nullptr}, &out).ok());
  EXPECT_EQ(out.rank(), 3u);
  EXPECT_FALSE(out.dims[1].known());
  ASSERT_TRUE(infer_only("ReduceSum", 13, {&x, &axes_t}, {nullptr, nullptr}, &out, {{"keepdims", attr_i(0)}}).ok());
  EXPECT_FALSE(out.has_shape);
}

TEST(ArgMax, AxisKeepdimsAndLastIndex) {
  Tensor x = f32({2, 3}, {1, 5, 5, 7, 2, 7});
  auto r = run_op("ArgMax", 13, {x}, {{"axis", attr_i(1)}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out.dtype(), DType::kInt64);
  EXPECT_EQ(r.out.shape(), (Shape{2, 1}));
  EXPECT_EQ(values_of<int64_t>(r.out), (std::vector<int64_t>{1, 0}));  // first of the ties
  r = run_op("ArgMax", 12, {x}, {{"axis", attr_i(-1)}, {"select_last_index", attr_i(1)}, {"keepdims", attr_i(0)}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out.shape(), (Shape{2}));
  EXPECT_EQ(values_of<int64_t>(r.out), (std::vector<int64_t>{2, 2}));
  r = run_op("ArgMax", 11, {x});  // default axis 0
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out.shape(), (Shape{1, 3}));
  EXPECT_EQ(values_of<int64_t>(r.out), (std::vector<int64_t>{1, 0, 1}));
  // select_last_index arrived in opset 12.
  EXPECT_EQ(run_op("ArgMax", 11, {x}, {{"select_last_index", attr_i(1)}}).status.code(), StatusCode::kInvalidModel);
  EXPECT_EQ(run_op("ArgMax", 13, {x}, {{"axis", attr_i(2)}}).status.code(), StatusCode::kInvalidModel);
}

TEST(ArgMin, IntegersAndTies) {
  Tensor x = i32({2, 3}, {4, -1, -1, 0, 9, 0});
  auto r = run_op("ArgMin", 13, {x}, {{"axis", attr_i(1)}, {"keepdims", attr_i(0)}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values_of<int64_t>(r.out), (std::vector<int64_t>{1, 0}));
  r = run_op("ArgMin", 13, {x}, {{"axis", attr_i(1)}, {"keepdims", attr_i(0)}, {"select_last_index", attr_i(1)}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values_of<int64_t>(r.out), (std::vector<int64_t>{2, 2}));
  r = run_op("ArgMin", 13, {u8({3}, {9, 2, 200})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values_of<int64_t>(r.out), (std::vector<int64_t>{1}));
}

}  // namespace
}  // namespace lowbit
