// Cast: rounding, truncation, saturation, bool, float16/bfloat16, unsupported targets.
#include <cmath>
#include <limits>

#include "elementwise_test_util.h"

using namespace lowbit;
using namespace lowbit::elementwise_test;

namespace {
RunResult cast(const Tensor& x, DType to, int opset = 13) {
  return run("Cast", {x}, opset, {{"to", int_attr(int64_t(to))}});
}
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();
}  // namespace

TEST(Cast, FloatToIntTruncatesTowardZero) {
  auto r = cast(f32({6}, {2.7f, -2.7f, 0.5f, -0.5f, 100.f, -100.f}), DType::kInt32);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.outputs[0].dtype(), DType::kInt32);
  EXPECT_EQ(values<int32_t>(r.outputs[0]), (std::vector<int32_t>{2, -2, 0, 0, 100, -100}));
}

TEST(Cast, FloatToIntOutOfRangeSaturatesAndNaNIsZero) {
  auto r = cast(f32({5}, {1e20f, -1e20f, kNaN, kInf, -kInf}), DType::kInt32);
  ASSERT_TRUE(r.status.ok());
  const int32_t mx = std::numeric_limits<int32_t>::max(), mn = std::numeric_limits<int32_t>::min();
  EXPECT_EQ(values<int32_t>(r.outputs[0]), (std::vector<int32_t>{mx, mn, 0, mx, mn}));
  r = cast(f32({4}, {-1, 255.9f, 256, 300}), DType::kUint8);
  EXPECT_EQ(values<uint8_t>(r.outputs[0]), (std::vector<uint8_t>{0, 255, 255, 255}));
  r = cast(f32({3}, {-129, 127.5f, -128.5f}), DType::kInt8);
  EXPECT_EQ(values<int8_t>(r.outputs[0]), (std::vector<int8_t>{-128, 127, -128}));
  // 2^63 does not fit int64 (its max is 2^63-1); 2^63 fits uint64
  r = cast(f64({2}, {9223372036854775808.0, -9223372036854775808.0}), DType::kInt64);
  EXPECT_EQ(values<int64_t>(r.outputs[0]),
            (std::vector<int64_t>{std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()}));
  r = cast(f64({3}, {9223372036854775808.0, 1e30, -5}), DType::kUint64);
  EXPECT_EQ(values<uint64_t>(r.outputs[0]),
            (std::vector<uint64_t>{uint64_t(1) << 63, std::numeric_limits<uint64_t>::max(), 0}));
}

TEST(Cast, IntToIntWrapsLikeCpp) {
  auto r = cast(i64({4}, {300, -1, 127, -129}), DType::kInt8);
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(values<int8_t>(r.outputs[0]), (std::vector<int8_t>{44, -1, 127, 127}));
  r = cast(i32({2}, {-1, 65536 + 5}), DType::kUint16);
  EXPECT_EQ(values<uint16_t>(r.outputs[0]), (std::vector<uint16_t>{65535, 5}));
  r = cast(u8({2}, {255, 7}), DType::kInt64);
  EXPECT_EQ(values<int64_t>(r.outputs[0]), (std::vector<int64_t>{255, 7}));
}

TEST(Cast, Bool) {
  auto r = cast(f32({5}, {0, -0.f, -0.5f, 3, kNaN}), DType::kBool);
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.outputs[0].dtype(), DType::kBool);
  EXPECT_EQ(values<uint8_t>(r.outputs[0]), (std::vector<uint8_t>{0, 0, 1, 1, 1}));
  r = cast(i64({3}, {0, 2, -7}), DType::kBool);
  EXPECT_EQ(values<uint8_t>(r.outputs[0]), (std::vector<uint8_t>{0, 1, 1}));
  r = cast(u8({2}, {0, 200}), DType::kBool);  // uint8 -> bool normalises to 0/1
  EXPECT_EQ(values<uint8_t>(r.outputs[0]), (std::vector<uint8_t>{0, 1}));
  r = cast(boolean({3}, {0, 1, 5}), DType::kFloat32);  // any non-zero byte is true
  EXPECT_EQ(values<float>(r.outputs[0]), (std::vector<float>{0, 1, 1}));
  r = cast(boolean({2}, {1, 0}), DType::kFloat16);
  EXPECT_EQ(half_values(r.outputs[0]), (std::vector<float>{1, 0}));
  r = cast(boolean({2}, {9, 0}), DType::kUint8);
  EXPECT_EQ(values<uint8_t>(r.outputs[0]), (std::vector<uint8_t>{1, 0}));
}

TEST(Cast, HalfAndBFloat16) {
  auto r = cast(f32({4}, {1.0f / 3.0f, 65504.f, 1e6f, -2.5f}), DType::kFloat16);
  ASSERT_TRUE(r.status.ok());
  auto h = half_values(r.outputs[0]);
  EXPECT_FLOAT_EQ(h[0], 0.333251953125f);  // nearest half to 1/3
  EXPECT_EQ(h[1], 65504.f);
  EXPECT_EQ(h[2], kInf);  // overflow -> inf, as IEEE conversion does
  EXPECT_EQ(h[3], -2.5f);
  r = cast(r.outputs[0], DType::kFloat64);
  EXPECT_EQ(values<double>(r.outputs[0])[0], double(0.333251953125f));
  r = cast(f32({2}, {1.0f + 1.0f / 256, 3.0f}), DType::kBFloat16);
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.outputs[0].dtype(), DType::kBFloat16);
  EXPECT_EQ(bfloat16_to_float(r.outputs[0].data<uint16_t>()[0]), 1.0f);  // tie rounds to even
  r = cast(r.outputs[0], DType::kFloat32);
  EXPECT_EQ(values<float>(r.outputs[0]), (std::vector<float>{1.0f, 3.0f}));
  r = cast(f16({2}, {-3.75f, 70000.f}), DType::kInt16);  // half inf saturates
  EXPECT_EQ(values<int16_t>(r.outputs[0]), (std::vector<int16_t>{-3, 32767}));
  r = cast(f64({1}, {0.1}), DType::kFloat16);
  EXPECT_NEAR(half_values(r.outputs[0])[0], 0.1f, 1e-4f);
}

TEST(Cast, SameTypeCopiesAndKeepsShape) {
  auto r = cast(i64({2, 1}, {5, 6}), DType::kInt64);
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.outputs[0].shape(), (Shape{2, 1}));
  EXPECT_EQ(values<int64_t>(r.outputs[0]), (std::vector<int64_t>{5, 6}));
}

TEST(Cast, UnsupportedTargetsAndMissingAttribute) {
  auto r = cast(f32({1}, {1}), DType::kString);
  EXPECT_EQ(r.status.code(), StatusCode::kUnsupported);
  EXPECT_NE(r.status.message().find("string"), std::string::npos);
  r = run("Cast", {f32({1}, {1})}, 13, {{"to", int_attr(14)}});  // complex64
  EXPECT_EQ(r.status.code(), StatusCode::kUnsupported);
  r = run("Cast", {f32({1}, {1})}, 13);
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidModel);
  EXPECT_NE(r.status.message().find("'to'"), std::string::npos);
  std::vector<ValueType> out;
  Status s = infer("Cast", {ValueType(DType::kString, {2})}, 13, &out, {{"to", int_attr(1)}});
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
}
