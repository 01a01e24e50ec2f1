// quant_math.h numerics and QuantizeLinear / DequantizeLinear: round half to even, saturation,
// default zero points, per-axis parameters and the shape errors.
#include "quant/quant_math.h"
#include "resize_reduce_test_util.h"

namespace lowbit {
namespace {

using namespace rr_test;

TEST(QuantMath, RoundHalfToEven) {
  EXPECT_EQ(quant::round_half_to_even(0.5f), 0.f);
  EXPECT_EQ(quant::round_half_to_even(1.5f), 2.f);
  EXPECT_EQ(quant::round_half_to_even(2.5f), 2.f);
  EXPECT_EQ(quant::round_half_to_even(-0.5f), 0.f);
  EXPECT_EQ(quant::round_half_to_even(-1.5f), -2.f);
  EXPECT_EQ(quant::round_half_to_even(-2.5f), -2.f);
  EXPECT_EQ(quant::round_half_to_even(2.4999998f), 2.f);
  EXPECT_EQ(quant::round_half_to_even(2.5000002f), 3.f);
  EXPECT_EQ(quant::round_half_to_even(-7.2f), -7.f);
  EXPECT_EQ(quant::round_half_to_even(16777217.0), 16777217.0);  // double overload, beyond float precision
  EXPECT_EQ(quant::round_half_to_even(3.5), 4.0);
  EXPECT_TRUE(std::isnan(quant::round_half_to_even(NAN)));
}

TEST(QuantMath, SaturateQuantizeDequantize) {
  EXPECT_EQ(quant::saturate<int8_t>(int64_t(-129)), -128);
  EXPECT_EQ(quant::saturate<int8_t>(int64_t(128)), 127);
  EXPECT_EQ(quant::saturate<uint8_t>(-1.0), 0);
  EXPECT_EQ(quant::saturate<uint8_t>(256.0), 255);
  EXPECT_EQ(quant::saturate<uint8_t>(1e30), 255);
  EXPECT_EQ(quant::saturate<int8_t>(double(NAN)), 0);
  EXPECT_EQ(quant::saturate<int32_t>(1e12), INT32_MAX);
  EXPECT_EQ(quant::quantize_value<int8_t>(0.37f, 0.01f, 0), 37);
  EXPECT_EQ(quant::quantize_value<int8_t>(1000.f, 1.f, 0), 127);
  EXPECT_EQ(quant::quantize_value<int8_t>(-1000.f, 1.f, 0), -128);
  EXPECT_EQ(quant::quantize_value<uint8_t>(-1000.f, 1.f, 128), 0);
  EXPECT_EQ(quant::quantize_value<uint8_t>(3.f, 2.f, 128), 130);  // 1.5 -> 2
  EXPECT_EQ(quant::quantize_value<uint8_t>(5.f, 2.f, 128), 130);  // 2.5 -> 2
  EXPECT_EQ(quant::dequantize_value<uint8_t>(0, 2.f, 128), -256.f);
  EXPECT_EQ(quant::dequantize_value<int8_t>(-128, 0.5f, 1), -64.5f);
  EXPECT_EQ(quant::requantize<uint8_t>(1234, 0.05f, 128), 190);  // 61.7 -> 62, + 128
  EXPECT_EQ(quant::requantize<int8_t>(-10, 0.25f, 0), -2);       // -2.5 -> -2
  EXPECT_EQ(quant::requantize<int8_t>(100000, 0.25f, 0), 127);
}

TEST(QuantizeLinear, PerTensorUint8RoundsHalfToEvenAndSaturates) {
  // ONNX conformance test_quantizelinear, plus ties: 1/2 = 0.5 -> 0, 5/2 = 2.5 -> 2, 7/2 = 3.5 -> 4, -3/2 -> -2.
  Tensor x = f32({10}, {0, 2, 3, 1000, -254, -1000, 1, 5, 7, -3});
  auto r = run_op("QuantizeLinear", 10, {x, f32({}, {2}), u8({}, {128})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out.dtype(), DType::kUint8);
  EXPECT_EQ(values_of<uint8_t>(r.out), (std::vector<uint8_t>{128, 129, 130, 255, 1, 0, 128, 130, 132, 126}));
}

TEST(QuantizeLinear, Int8AndDefaultZeroPoint) {
  Tensor x = f32({5}, {-1000, -128.5f, -127.5f, 126.5f, 1000});
  auto r = run_op("QuantizeLinear", 13, {x, f32({}, {1}), s8({}, {0})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out.dtype(), DType::kInt8);
  EXPECT_EQ(values_of<int8_t>(r.out), (std::vector<int8_t>{-128, -128, -128, 126, 127}));
  // No zero point: uint8 with zero point 0, negatives clamp to 0.
  r = run_op("QuantizeLinear", 13, {f32({3}, {-1, 0.5f, 300}), f32({}, {1})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out.dtype(), DType::kUint8);
  EXPECT_EQ(values_of<uint8_t>(r.out), (std::vector<uint8_t>{0, 0, 255}));
  // int32 input.
  r = run_op("QuantizeLinear", 13, {i32({3}, {-7, 6, 1000}), f32({}, {4}), s8({}, {1})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values_of<int8_t>(r.out), (std::vector<int8_t>{-1, 3, 127}));  // -1.75->-2+1, 1.5->2+1, 250+1->127
}

TEST(QuantizeLinear, PerAxis) {
  // ONNX conformance test_quantizelinear_axis (axis 1 by default).
  Tensor x =
      f32({1, 3, 3, 2}, {-162, 10, -100, 232, -20, -50, -76, 0, 0, 252, 32, -44, 245, -485, -960, -270, -375, -470});
  auto r = run_op("QuantizeLinear", 13, {x, f32({3}, {2, 4, 5}), u8({3}, {84, 24, 196})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values_of<uint8_t>(r.out),
            (std::vector<uint8_t>{3, 89, 34, 200, 74, 59, 5, 24, 24, 87, 32, 13, 245, 99, 4, 142, 121, 102}));
  // Per-channel weights along axis 0 (negative axis form), int8 symmetric.
  r = run_op("QuantizeLinear", 13, {f32({2, 2}, {1, -1, 1, -1}), f32({2}, {0.5f, 0.25f}), s8({2}, {0, 0})},
             {{"axis", attr_i(-2)}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values_of<int8_t>(r.out), (std::vector<int8_t>{2, -2, 4, -4}));
}

TEST(DequantizeLinear, PerTensorPerAxisAndInt32) {
  // ONNX conformance test_dequantizelinear.
  auto r = run_op("DequantizeLinear", 10, {u8({4}, {0, 3, 128, 255}), f32({}, {2}), u8({}, {128})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out.dtype(), DType::kFloat32);
  expect_near(r.out, {-256, -250, 0, 254}, 0);
  r = run_op("DequantizeLinear", 13, {s8({3}, {-128, 0, 127}), f32({1}, {0.5f})});  // 1-element scale, no zp
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.out, {-64, 0, 63.5f}, 0);
  // ONNX conformance test_dequantizelinear_axis.
  r = run_op(
      "DequantizeLinear", 13,
      {u8({1, 3, 2, 2}, {3, 89, 34, 200, 74, 59, 5, 24, 24, 87, 32, 13}), f32({3}, {2, 4, 5}), u8({3}, {84, 24, 196})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.out, {-162, 10, -100, 232, 200, 140, -76, 0, -860, -545, -820, -915}, 0);
  // int32 (a bias): zero point 0.
  r = run_op("DequantizeLinear", 13, {i32({2}, {-1000000, 7}), f32({}, {0.001f})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.out, {-1000, 0.007f});
  r = run_op("DequantizeLinear", 13, {i32({2}, {1, 2}), f32({}, {1}), i32({}, {3})});
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidModel);
}

TEST(QuantizeLinear, ShapeAndTypeErrors) {
  Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  // Per-axis scale whose length does not match the axis.
  auto r = run_op("QuantizeLinear", 13, {x, f32({2}, {1, 1}), u8({2}, {0, 0})});
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidModel);
  EXPECT_NE(r.status.message().find("per-axis y_scale has 2 elements but input axis 1 has 3"), std::string::npos)
      << r.status.message();
  // Zero point of another shape than the scale.
  r = run_op("QuantizeLinear", 13, {x, f32({3}, {1, 1, 1}), u8({}, {0})});
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidModel);
  // Per-axis needs opset 13.
  r = run_op("QuantizeLinear", 10, {x, f32({3}, {1, 1, 1}), u8({3}, {0, 0, 0})});
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidModel);
  // 2-D scale.
  r = run_op("QuantizeLinear", 13, {x, f32({1, 3}, {1, 1, 1})});
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidModel);
  // Axis out of range.
  r = run_op("QuantizeLinear", 13, {x, f32({3}, {1, 1, 1})}, {{"axis", attr_i(2)}});
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidModel);
  // Unsupported types: float16 input, uint16 zero point.
  r = run_op("QuantizeLinear", 13, {x, f32({}, {1}), Tensor::from_vector<uint16_t>(DType::kUint16, {}, {0})});
  EXPECT_EQ(r.status.code(), StatusCode::kUnsupported);
  r = run_op("DequantizeLinear", 13, {u8({1}, {1}), f32({}, {1}), s8({}, {0})});  // zp type differs from x
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidModel);
}

}  // namespace
}  // namespace lowbit
