// Elementwise family: broadcasting, arithmetic, math, activations, Clip, comparisons, logic, Where,
// Identity/Dropout and symbolic inference. Expected values are hand-computed.
#include <cmath>
#include <limits>

#include "elementwise_test_util.h"

using namespace lowbit;
using namespace lowbit::elementwise_test;

namespace {
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

void expect_floats_near(const std::vector<float>& got, const std::vector<float>& want, float tol = 1e-6f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << "at " << i;
    } else if (std::isinf(want[i])) {
      EXPECT_EQ(got[i], want[i]) << "at " << i;
    } else {
      EXPECT_NEAR(got[i], want[i], tol * std::max(1.0f, std::fabs(want[i]))) << "at " << i;
    }
  }
}
}  // namespace

// --- broadcasting -----------------------------------------------------------------------------

TEST(ElementwiseBroadcast, SameShape) {
  auto r = run("Add", {f32({2, 2}, {1, 2, 3, 4}), f32({2, 2}, {10, 20, 30, 40})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(values<float>(r.outputs[0]), (std::vector<float>{11, 22, 33, 44}));
}

TEST(ElementwiseBroadcast, ScalarOnEitherSide) {
  auto r = run("Sub", {f32({3}, {1, 2, 3}), f32({}, {1})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values<float>(r.outputs[0]), (std::vector<float>{0, 1, 2}));
  r = run("Sub", {f32({}, {10}), f32({3}, {1, 2, 3})});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.outputs[0].shape(), (Shape{3}));
  EXPECT_EQ(values<float>(r.outputs[0]), (std::vector<float>{9, 8, 7}));
  r = run("Mul", {f32({}, {3}), f32({}, {4})});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.outputs[0].shape(), (Shape{}));
  EXPECT_EQ(values<float>(r.outputs[0]), (std::vector<float>{12}));
}

TEST(ElementwiseBroadcast, RankExtensionBothSides) {
  // [2,1,3] + [4,1] -> [2,4,3]: out[i,j,k] = a[i,0,k] + b[j,0]
  std::vector<float> a = {0, 1, 2, 10, 11, 12};
  std::vector<float> b = {100, 200, 300, 400};
  auto r = run("Add", {f32({2, 1, 3}, a), f32({4, 1}, b)});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  ASSERT_EQ(r.outputs[0].shape(), (Shape{2, 4, 3}));
  auto got = values<float>(r.outputs[0]);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 3; ++k) EXPECT_EQ(got[(i * 4 + j) * 3 + k], a[i * 3 + k] + b[j]);
}

TEST(ElementwiseBroadcast, ZeroSizedDims) {
  auto r = run("Add", {f32({0, 3}, {}), f32({3}, {1, 2, 3})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{0, 3}));
  r = run("Mul", {f32({2, 0}, {}), f32({2, 1}, {1, 2})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{2, 0}));
  r = run("Where", {boolean({0}, {}), f32({1}, {1}), f32({}, {2})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{0}));
}

// Channel-wise broadcast on a big tensor, split over threads, against a naive loop.
TEST(ElementwiseBroadcast, LargeChannelwiseWithThreadPool) {
  ThreadPool pool(2);
  const int64_t n = 2, c = 3, hw = 64 * 64;
  Tensor x(DType::kFloat32, {n, c, 64, 64});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = float(i % 1000) * 0.5f;
  Tensor scale = f32({c, 1, 1}, {2, 3, 4});
  auto r = run("Mul", {x, scale}, 17, {}, 1, &pool);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  const float* got = r.outputs[0].data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) ASSERT_EQ(got[i], x.data<float>()[i] * (2 + (i / hw) % c)) << i;
  // and the other operand order, with a [1,C,1,W]-style pattern that keeps strides in the inner run
  Tensor row(DType::kFloat32, {1, 1, 1, 64});
  for (int i = 0; i < 64; ++i) row.data<float>()[i] = float(i);
  r = run("Add", {row, x}, 17, {}, 1, &pool);
  ASSERT_TRUE(r.status.ok());
  got = r.outputs[0].data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) ASSERT_EQ(got[i], x.data<float>()[i] + float(i % 64)) << i;
}

// Runs longer than the parallel grain are cut into pieces: equal shapes (one run) and [R, long] + [R, 1].
TEST(ElementwiseBroadcast, LongRunsAreSplitAcrossThreads) {
  ThreadPool pool(2);
  const int64_t rows = 3, len = 40000;
  Tensor a(DType::kInt64, {rows, len});
  for (int64_t i = 0; i < a.numel(); ++i) a.data<int64_t>()[i] = i;
  auto r = run("Add", {a, a}, 17, {}, 1, &pool);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(r.outputs[0].data<int64_t>()[i], 2 * i) << i;
  r = run("Sub", {a, i64({rows, 1}, {0, 1000000, 2000000})}, 17, {}, 1, &pool);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(r.outputs[0].data<int64_t>()[i], i - (i / len) * 1000000) << i;
  r = run("Where", {boolean({1, len}, std::vector<uint8_t>(len, 1)), a, i64({}, {0})}, 17, {}, 1, &pool);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(r.outputs[0].data<int64_t>()[i], i) << i;
}

// --- arithmetic -------------------------------------------------------------------------------

TEST(ElementwiseArithmetic, FloatOps) {
  auto a = f32({4}, {1, -2, 3, 8});
  auto b = f32({4}, {2, 4, -0.5f, 0});
  EXPECT_EQ(values<float>(run("Sub", {a, b}).outputs[0]), (std::vector<float>{-1, -6, 3.5f, 8}));
  EXPECT_EQ(values<float>(run("Mul", {a, b}).outputs[0]), (std::vector<float>{2, -8, -1.5f, 0}));
  EXPECT_EQ(values<float>(run("Div", {a, b}).outputs[0]), (std::vector<float>{0.5f, -0.5f, -6, kInf}));
  auto d = run("Add", {f64({2}, {0.1, 0.2}), f64({2}, {0.2, 0.3})});
  ASSERT_TRUE(d.status.ok());
  EXPECT_EQ(values<double>(d.outputs[0]), (std::vector<double>{0.1 + 0.2, 0.2 + 0.3}));
}

TEST(ElementwiseArithmetic, IntegerDivisionTruncatesAndDivByZeroIsZero) {
  auto r =
      run("Div", {i32({6}, {7, -7, 7, -7, 5, std::numeric_limits<int32_t>::min()}), i32({6}, {2, 2, -2, -2, 0, -1})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  // C++/ONNX Runtime truncation; x/0 -> 0 and INT_MIN/-1 -> INT_MIN are lowbit's defined choices.
  EXPECT_EQ(values<int32_t>(r.outputs[0]),
            (std::vector<int32_t>{3, -3, -3, 3, 0, std::numeric_limits<int32_t>::min()}));
  auto u = run("Div", {u8({3}, {200, 7, 9}), u8({3}, {3, 0, 9})});
  ASSERT_TRUE(u.status.ok());
  EXPECT_EQ(values<uint8_t>(u.outputs[0]), (std::vector<uint8_t>{66, 0, 1}));
}

TEST(ElementwiseArithmetic, IntegerOverflowWraps) {
  auto r = run("Add", {u8({2}, {250, 1}), u8({2}, {10, 2})});
  EXPECT_EQ(values<uint8_t>(r.outputs[0]), (std::vector<uint8_t>{4, 3}));
  r = run("Sub", {u8({1}, {1}), u8({1}, {2})});
  EXPECT_EQ(values<uint8_t>(r.outputs[0]), (std::vector<uint8_t>{255}));
  r = run("Mul", {i32({1}, {1 << 30}), i32({1}, {4})});
  EXPECT_EQ(values<int32_t>(r.outputs[0]), (std::vector<int32_t>{0}));
  r = run("Mul", {make<uint16_t>(DType::kUint16, {1}, {65535}), make<uint16_t>(DType::kUint16, {1}, {65535})});
  EXPECT_EQ(values<uint16_t>(r.outputs[0]), (std::vector<uint16_t>{1}));
}

TEST(ElementwiseArithmetic, Float16ComputesThroughFloat) {
  auto r = run("Add", {f16({3}, {1.5f, -2, 1000}), f16({3}, {0.25f, 2, 24})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(half_values(r.outputs[0]), (std::vector<float>{1.75f, 0, 1024}));
}

TEST(ElementwiseArithmetic, Pow) {
  auto r = run("Pow", {f32({3}, {2, 4, -2}), f32({3}, {3, 0.5f, 2})});
  expect_floats_near(values<float>(r.outputs[0]), {8, 2, 4});
  // int ^ int is exact; negative exponents truncate (1 and -1 stay exact)
  r = run("Pow", {i64({5}, {3, -2, 1, -1, 5}), i64({5}, {4, 3, -5, -3, -1})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values<int64_t>(r.outputs[0]), (std::vector<int64_t>{81, -8, 1, -1, 0}));
  // opset 12+: mixed types, output has the base's type
  r = run("Pow", {i32({3}, {1, 2, 3}), f32({3}, {4, 0.5f, 2})}, 15);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.outputs[0].dtype(), DType::kInt32);
  EXPECT_EQ(values<int32_t>(r.outputs[0]), (std::vector<int32_t>{1, 1, 9}));  // 2^0.5 truncates to 1
  r = run("Pow", {f32({3}, {1, 2, 3}), make<uint64_t>(DType::kUint64, {3}, {4, 5, 6})}, 15);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values<float>(r.outputs[0]), (std::vector<float>{1, 32, 729}));
  r = run("Pow", {i64({2}, {2, 3}), i32({}, {10})}, 15);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values<int64_t>(r.outputs[0]), (std::vector<int64_t>{1024, 59049}));
  // before opset 12 the types must match
  EXPECT_EQ(run("Pow", {f32({1}, {2}), i32({1}, {2})}, 11).status.code(), StatusCode::kInvalidModel);
}

TEST(ElementwiseArithmetic, VariadicMinMaxSum) {
  auto a = f32({2, 1}, {1, 5});
  auto b = f32({3}, {2, 4, 6});
  auto c = f32({}, {3});
  auto r = run("Max", {a, b, c});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(values<float>(r.outputs[0]), (std::vector<float>{3, 4, 6, 5, 5, 6}));
  r = run("Min", {a, b, c});
  EXPECT_EQ(values<float>(r.outputs[0]), (std::vector<float>{1, 1, 1, 2, 3, 3}));
  r = run("Sum", {a, b, c});
  EXPECT_EQ(values<float>(r.outputs[0]), (std::vector<float>{6, 8, 10, 10, 12, 14}));
  r = run("Sum", {a});
  EXPECT_EQ(values<float>(r.outputs[0]), (std::vector<float>{1, 5}));
  // NaN propagates (numpy.maximum semantics); integers and halves work too
  r = run("Max", {f32({2}, {kNaN, 1}), f32({2}, {1, kNaN})});
  EXPECT_TRUE(std::isnan(values<float>(r.outputs[0])[0]));
  EXPECT_TRUE(std::isnan(values<float>(r.outputs[0])[1]));
  r = run("Min", {make<uint32_t>(DType::kUint32, {2}, {7, 4000000000u}), make<uint32_t>(DType::kUint32, {2}, {9, 3})});
  EXPECT_EQ(values<uint32_t>(r.outputs[0]), (std::vector<uint32_t>{7, 3}));
  r = run("Max", {f16({2}, {1.5f, -3}), f16({2}, {0.5f, -2})});
  EXPECT_EQ(half_values(r.outputs[0]), (std::vector<float>{1.5f, -2}));
}

// --- unary math and activations ---------------------------------------------------------------

TEST(ElementwiseUnary, Math) {
  auto x = f32({4}, {0.25f, 1, 4, 9});
  expect_floats_near(values<float>(run("Sqrt", {x}).outputs[0]), {0.5f, 1, 2, 3});
  expect_floats_near(values<float>(run("Log", {x}).outputs[0]), {std::log(0.25f), 0, std::log(4.f), std::log(9.f)});
  expect_floats_near(values<float>(run("Reciprocal", {x}).outputs[0]), {4, 1, 0.25f, 1 / 9.f});
  auto y = f32({5}, {-1.5f, -0.5f, 0, 0.5f, 2.5f});
  expect_floats_near(values<float>(run("Exp", {y}).outputs[0]),
                     {std::exp(-1.5f), std::exp(-0.5f), 1, std::exp(0.5f), std::exp(2.5f)});
  EXPECT_EQ(values<float>(run("Floor", {y}).outputs[0]), (std::vector<float>{-2, -1, 0, 0, 2}));
  EXPECT_EQ(values<float>(run("Ceil", {y}).outputs[0]), (std::vector<float>{-1, -0.f, 0, 1, 3}));
  EXPECT_EQ(values<float>(run("Neg", {y}).outputs[0]), (std::vector<float>{1.5f, 0.5f, -0.f, -0.5f, -2.5f}));
  EXPECT_EQ(values<float>(run("Abs", {y}).outputs[0]), (std::vector<float>{1.5f, 0.5f, 0, 0.5f, 2.5f}));
  expect_floats_near(values<float>(run("Erf", {y}).outputs[0]),
                     {std::erf(-1.5f), std::erf(-0.5f), 0, std::erf(0.5f), std::erf(2.5f)});
  expect_floats_near(values<float>(run("Tanh", {y}).outputs[0]),
                     {std::tanh(-1.5f), std::tanh(-0.5f), 0, std::tanh(0.5f), std::tanh(2.5f)});
  expect_floats_near(values<float>(run("Sqrt", {f32({1}, {-1})}).outputs[0]), {kNaN});
  expect_floats_near(values<float>(run("Log", {f32({1}, {0})}).outputs[0]), {-kInf});
}

TEST(ElementwiseUnary, IntegerNegAbs) {
  auto r = run("Neg", {i8({3}, {5, -128, 0})});
  EXPECT_EQ(values<int8_t>(r.outputs[0]), (std::vector<int8_t>{-5, -128, 0}));  // -(-128) wraps
  r = run("Abs", {i8({3}, {-5, -128, 7})});
  EXPECT_EQ(values<int8_t>(r.outputs[0]), (std::vector<int8_t>{5, -128, 7}));
  r = run("Abs", {u8({2}, {200, 0})});
  EXPECT_EQ(values<uint8_t>(r.outputs[0]), (std::vector<uint8_t>{200, 0}));
  EXPECT_EQ(run("Neg", {u8({1}, {1})}).status.code(), StatusCode::kUnsupported);
}

TEST(ElementwiseActivation, ReluFamily) {
  auto x = f32({4}, {-2, -0.5f, 0, 3});
  EXPECT_EQ(values<float>(run("Relu", {x}).outputs[0]), (std::vector<float>{0, 0, 0, 3}));
  EXPECT_EQ(values<int8_t>(run("Relu", {i8({3}, {-3, 0, 4})}).outputs[0]), (std::vector<int8_t>{0, 0, 4}));
  expect_floats_near(values<float>(run("LeakyRelu", {x}).outputs[0]), {-0.02f, -0.005f, 0, 3});
  expect_floats_near(values<float>(run("LeakyRelu", {x}, 16, {{"alpha", float_attr(0.5f)}}).outputs[0]),
                     {-1, -0.25f, 0, 3});
  expect_floats_near(values<float>(run("Elu", {x}, 17, {{"alpha", float_attr(2)}}).outputs[0]),
                     {2 * std::expm1(-2.f), 2 * std::expm1(-0.5f), 0, 3});
  // PRelu: slope [C,1] broadcast over [N,C,W]
  auto r = run("PRelu", {f32({1, 2, 2}, {-1, 2, -3, 4}), f32({2, 1}, {0.5f, 0.25f})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{1, 2, 2}));
  EXPECT_EQ(values<float>(r.outputs[0]), (std::vector<float>{-0.5f, 2, -0.75f, 4}));
}

TEST(ElementwiseActivation, SigmoidIsStableForLargeInputs) {
  auto r = run("Sigmoid", {f32({6}, {-1000, -100, -1, 0, 1, 1000})});
  auto got = values<float>(r.outputs[0]);
  for (float v : got) EXPECT_FALSE(std::isnan(v));
  expect_floats_near(got, {0, 0, 1 / (1 + std::exp(1.f)), 0.5f, 1 / (1 + std::exp(-1.f)), 1});
  auto d = run("Sigmoid", {f64({2}, {-800, 800})});
  EXPECT_EQ(values<double>(d.outputs[0]), (std::vector<double>{0, 1}));
}

TEST(ElementwiseActivation, HardSigmoidHardSwishSoftplus) {
  auto x = f32({5}, {-4, -1, 0, 1, 4});
  expect_floats_near(values<float>(run("HardSigmoid", {x}).outputs[0]), {0, 0.3f, 0.5f, 0.7f, 1});
  expect_floats_near(
      values<float>(run("HardSigmoid", {x}, 7, {{"alpha", float_attr(0.5f)}, {"beta", float_attr(0.6f)}}).outputs[0]),
      {0, 0.1f, 0.6f, 1, 1});
  // HardSwish = x * max(0, min(1, x/6 + 0.5))
  expect_floats_near(values<float>(run("HardSwish", {f32({5}, {-4, -1, 0, 1, 4})}).outputs[0]),
                     {0, -1 * (1 / 3.f), 0, 1 * (2 / 3.f), 4});
  auto sp = values<float>(run("Softplus", {f32({4}, {-200, 0, 1, 200})}).outputs[0]);
  expect_floats_near(sp, {0, std::log(2.f), std::log1p(std::exp(1.f)), 200});
}

TEST(ElementwiseActivation, NaNPropagates) {
  for (const char* op : {"Relu", "Sigmoid", "HardSigmoid", "Softplus", "Tanh", "Elu", "LeakyRelu"}) {
    auto r = run(op, {f32({1}, {kNaN})});
    ASSERT_TRUE(r.status.ok()) << op;
    EXPECT_TRUE(std::isnan(values<float>(r.outputs[0])[0])) << op;
  }
}

// --- Clip -------------------------------------------------------------------------------------

TEST(ElementwiseClip, AttributeFormBeforeOpset11) {
  auto x = f32({4}, {-5, -1, 1, 5});
  auto r = run("Clip", {x}, 6 + 1, {{"min", float_attr(-2)}, {"max", float_attr(2)}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values<float>(r.outputs[0]), (std::vector<float>{-2, -1, 1, 2}));
  r = run("Clip", {x}, 10, {{"max", float_attr(0)}});
  EXPECT_EQ(values<float>(r.outputs[0]), (std::vector<float>{-5, -1, 0, 0}));
  // opset < 11 has no min/max inputs
  EXPECT_EQ(run("Clip", {x, f32({}, {0})}, 10).status.code(), StatusCode::kInvalidModel);
}

TEST(ElementwiseClip, InputFormFromOpset11) {
  auto x = f32({5}, {-5, -1, 1, 5, kNaN});
  auto r = run("Clip", {x, f32({}, {-2}), f32({}, {2})}, 13);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_floats_near(values<float>(r.outputs[0]), {-2, -1, 1, 2, kNaN});
  r = run("Clip", {x, Tensor(), f32({}, {0})}, 13);  // min omitted
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_floats_near(values<float>(r.outputs[0]), {-5, -1, 0, 0, kNaN});
  r = run("Clip", {x}, 13);  // no bounds: identity
  expect_floats_near(values<float>(r.outputs[0]), {-5, -1, 1, 5, kNaN});
  r = run("Clip", {x, f32({}, {3}), f32({}, {1})}, 13);  // min > max gives max (numpy / ONNX Runtime)
  expect_floats_near(values<float>(r.outputs[0]), {1, 1, 1, 1, kNaN});
  r = run("Clip", {i8({4}, {-128, -3, 3, 127}), i8({}, {-5}), i8({}, {5})}, 13);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values<int8_t>(r.outputs[0]), (std::vector<int8_t>{-5, -3, 3, 5}));
  // ints are opset 12+, bounds must be scalars of the input's type
  EXPECT_EQ(run("Clip", {i8({1}, {1})}, 11).status.code(), StatusCode::kUnsupported);
  EXPECT_EQ(run("Clip", {x, f32({2}, {0, 1})}, 13).status.code(), StatusCode::kInvalidModel);
  EXPECT_EQ(run("Clip", {x, f64({}, {0})}, 13).status.code(), StatusCode::kInvalidModel);
}

// --- comparisons, logic, Where ------------------------------------------------------------------

TEST(ElementwiseCompare, OutputsBool) {
  auto a = f32({4}, {1, 2, 3, kNaN});
  auto b = f32({}, {2});
  auto check = [&](const char* op, std::vector<uint8_t> want) {
    auto r = run(op, {a, b});
    ASSERT_TRUE(r.status.ok()) << op << ": " << r.status.message();
    EXPECT_EQ(r.outputs[0].dtype(), DType::kBool) << op;
    EXPECT_EQ(values<uint8_t>(r.outputs[0]), want) << op;
  };
  check("Equal", {0, 1, 0, 0});
  check("Less", {1, 0, 0, 0});
  check("LessOrEqual", {1, 1, 0, 0});
  check("Greater", {0, 0, 1, 0});
  check("GreaterOrEqual", {0, 1, 1, 0});
  auto r = run("Equal", {i64({2, 2}, {1, 2, 3, 4}), i64({2}, {1, 4})});
  EXPECT_EQ(values<uint8_t>(r.outputs[0]), (std::vector<uint8_t>{1, 0, 0, 1}));
  r = run("Equal", {boolean({3}, {1, 0, 2}), boolean({3}, {1, 1, 1})});  // any non-zero byte is true
  EXPECT_EQ(values<uint8_t>(r.outputs[0]), (std::vector<uint8_t>{1, 0, 1}));
  EXPECT_EQ(run("Less", {f32({1}, {1}), i32({1}, {1})}).status.code(), StatusCode::kInvalidModel);
  EXPECT_EQ(run("Less", {boolean({1}, {1}), boolean({1}, {1})}).status.code(), StatusCode::kUnsupported);
}

TEST(ElementwiseLogic, NotAndOrXor) {
  auto a = boolean({2, 2}, {0, 0, 1, 1});
  auto b = boolean({2}, {0, 1});
  EXPECT_EQ(values<uint8_t>(run("Not", {a}).outputs[0]), (std::vector<uint8_t>{1, 1, 0, 0}));
  EXPECT_EQ(values<uint8_t>(run("And", {a, b}).outputs[0]), (std::vector<uint8_t>{0, 0, 0, 1}));
  EXPECT_EQ(values<uint8_t>(run("Or", {a, b}).outputs[0]), (std::vector<uint8_t>{0, 1, 1, 1}));
  EXPECT_EQ(values<uint8_t>(run("Xor", {a, b}).outputs[0]), (std::vector<uint8_t>{0, 1, 1, 0}));
  EXPECT_EQ(run("And", {u8({1}, {1}), u8({1}, {1})}).status.code(), StatusCode::kUnsupported);
}

TEST(ElementwiseWhere, BroadcastsAllThree) {
  // cond [2,1], x [3], y scalar -> [2,3]
  auto r = run("Where", {boolean({2, 1}, {1, 0}), i64({3}, {1, 2, 3}), i64({}, {-1})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(values<int64_t>(r.outputs[0]), (std::vector<int64_t>{1, 2, 3, -1, -1, -1}));
  r = run("Where", {boolean({3}, {1, 0, 1}), f16({3}, {1, 2, 3}), f16({3}, {-1, -2, -3})});
  EXPECT_EQ(half_values(r.outputs[0]), (std::vector<float>{1, -2, 3}));
  r = run("Where", {boolean({2}, {0, 1}), boolean({2}, {1, 1}), boolean({2}, {0, 0})});
  EXPECT_EQ(values<uint8_t>(r.outputs[0]), (std::vector<uint8_t>{0, 1}));
  EXPECT_EQ(run("Where", {u8({1}, {1}), f32({1}, {1}), f32({1}, {1})}).status.code(), StatusCode::kUnsupported);
  EXPECT_EQ(run("Where", {boolean({1}, {1}), f32({1}, {1}), f64({1}, {1})}).status.code(), StatusCode::kInvalidModel);
}

// --- Identity and Dropout ---------------------------------------------------------------------

TEST(ElementwiseCopy, IdentityCopies) {
  auto r = run("Identity", {i64({3}, {1, 2, 3})});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(values<int64_t>(r.outputs[0]), (std::vector<int64_t>{1, 2, 3}));
}

TEST(ElementwiseCopy, DropoutIsIdentityInInference) {
  auto x = f32({3}, {1, -2, 3});
  // opset 7: ratio attribute; the mask has the input's type
  auto r = run("Dropout", {x}, 7, {{"ratio", float_attr(0.3f)}}, 2);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values<float>(r.outputs[0]), (std::vector<float>{1, -2, 3}));
  EXPECT_EQ(r.outputs[1].dtype(), DType::kFloat32);
  EXPECT_EQ(values<float>(r.outputs[1]), (std::vector<float>{1, 1, 1}));
  // opset 13: ratio / training_mode inputs; bool mask
  r = run("Dropout", {x, f32({}, {0.5f}), boolean({}, {0})}, 13, {}, 2);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values<float>(r.outputs[0]), (std::vector<float>{1, -2, 3}));
  EXPECT_EQ(r.outputs[1].dtype(), DType::kBool);
  EXPECT_EQ(values<uint8_t>(r.outputs[1]), (std::vector<uint8_t>{1, 1, 1}));
  // training mode with ratio 0 is still the identity; with ratio > 0 it is random -> unsupported
  r = run("Dropout", {x, f32({}, {0}), boolean({}, {1})}, 13, {}, 2);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values<float>(r.outputs[0]), (std::vector<float>{1, -2, 3}));
  r = run("Dropout", {x, Tensor(), boolean({}, {1})}, 13);
  EXPECT_EQ(r.status.code(), StatusCode::kUnsupported);
  EXPECT_NE(r.status.message().find("training_mode"), std::string::npos);
  EXPECT_EQ(run("Dropout", {x, f32({}, {1.5f})}, 13).status.code(), StatusCode::kInvalidModel);
}

// --- symbolic inference -------------------------------------------------------------------------

TEST(ElementwiseInference, SymbolicBroadcast) {
  std::vector<ValueType> out;
  ValueType x(DType::kFloat32, {Dim::symbol("batch"), 3, Dim::symbol("H"), Dim::symbol("W")});
  ValueType bias(DType::kFloat32, {3, 1, 1});
  ASSERT_TRUE(infer("Add", {x, bias}, 13, &out).ok());
  EXPECT_EQ(out[0].to_string(), "float32[batch,3,H,W]");
  ASSERT_TRUE(infer("Greater", {x, ValueType(DType::kFloat32, {})}, 13, &out).ok());
  EXPECT_EQ(out[0].dtype, DType::kBool);
  EXPECT_EQ(out[0].to_string(), "bool[batch,3,H,W]");
  // a symbol against a known dim takes the known dim
  ASSERT_TRUE(
      infer("Mul", {ValueType(DType::kFloat32, {Dim::symbol("n"), 1}), ValueType(DType::kFloat32, {8, 5})}, 13, &out)
          .ok());
  EXPECT_EQ(out[0].to_string(), "float32[8,5]");
  // unknown rank stays unknown, dtype still known
  ValueType unranked;
  unranked.dtype = DType::kFloat32;
  ASSERT_TRUE(infer("Sub", {x, unranked}, 13, &out).ok());
  EXPECT_FALSE(out[0].has_shape);
  EXPECT_EQ(out[0].dtype, DType::kFloat32);
  ASSERT_TRUE(infer("Where",
                    {ValueType(DType::kBool, {Dim::symbol("n"), 1}), ValueType(DType::kInt64, {4}),
                     ValueType(DType::kInt64, {})},
                    16, &out)
                  .ok());
  EXPECT_EQ(out[0].to_string(), "int64[n,4]");
  ASSERT_TRUE(infer("Cast", {x}, 13, &out, {{"to", int_attr(int64_t(DType::kFloat16))}}).ok());
  EXPECT_EQ(out[0].to_string(), "float16[batch,3,H,W]");
}

TEST(ElementwiseInference, MismatchedDimsFailClearly) {
  std::vector<ValueType> out;
  Status s = infer("Add", {ValueType(DType::kFloat32, {2, 3}), ValueType(DType::kFloat32, {4})}, 13, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidModel);
  EXPECT_NE(s.message().find("Add 'n'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("cannot be broadcast"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("3 vs 4"), std::string::npos) << s.message();
  s = infer("Max", {ValueType(DType::kFloat32, {2}), ValueType(DType::kFloat32, {2}), ValueType(DType::kFloat32, {3})},
            13, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidModel);
  s = infer("PRelu", {ValueType(DType::kFloat32, {1, 3, 4}), ValueType(DType::kFloat32, {5, 1})}, 16, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidModel);
  EXPECT_NE(s.message().find("slope"), std::string::npos);
  // the slope may not grow the output
  s = infer("PRelu", {ValueType(DType::kFloat32, {3}), ValueType(DType::kFloat32, {2, 3})}, 16, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidModel);
}

TEST(ElementwiseInference, TypeErrors) {
  std::vector<ValueType> out;
  Status s = infer("Add", {ValueType(DType::kFloat32, {2}), ValueType(DType::kInt64, {2})}, 13, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidModel);
  EXPECT_NE(s.message().find("same type"), std::string::npos);
  s = infer("Add", {ValueType(DType::kBool, {2}), ValueType(DType::kBool, {2})}, 13, &out);
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_NE(s.message().find("bool"), std::string::npos);
  s = infer("Sqrt", {ValueType(DType::kInt32, {2})}, 13, &out);
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  s = infer("Add", {ValueType(DType::kFloat32, {2})}, 13, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidModel);
  s = infer("Sum", {}, 13, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidModel);
}
