// Resize / Upsample: hand-checked cases per mode. Expected numbers come from
// torch.nn.functional.interpolate (nearest, bilinear/bicubic/trilinear, align_corners True/False) and
// from ONNX's numpy reference (onnx/backend/test/case/node/resize.py) where torch has no equivalent.
#include <random>

#include "resize_reduce_test_util.h"

namespace lowbit {
namespace {

using namespace rr_test;

const Tensor kNone;  // an omitted optional input

Tensor scales(std::vector<float> v) { return f32({int64_t(v.size())}, v); }

// Resize-13 with scales (roi and sizes omitted).
OpResult resize_scales(const Tensor& x, std::vector<float> s, std::map<std::string, Attribute> attrs) {
  return run_op("Resize", 13, {x, kNone, scales(std::move(s))}, std::move(attrs));
}
// Resize-13 with sizes.
OpResult resize_sizes(const Tensor& x, std::vector<int64_t> s, std::map<std::string, Attribute> attrs) {
  const int64_t n = int64_t(s.size());
  return run_op("Resize", 13, {x, kNone, kNone, i64({n}, std::move(s))}, std::move(attrs));
}

TEST(Resize, NearestX2MatchesTorch) {
  // torch: F.interpolate(x, scale_factor=2, mode='nearest') == asymmetric + floor.
  Tensor x = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  const std::vector<float> expected = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
  auto r = resize_scales(x, {1, 1, 2, 2},
                         {{"mode", attr_s("nearest")},
                          {"coordinate_transformation_mode", attr_s("asymmetric")},
                          {"nearest_mode", attr_s("floor")}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out.shape(), (Shape{1, 1, 4, 4}));
  expect_near(r.out, expected);
  // The default (half_pixel, round_prefer_floor) gives the same picture for integer factors.
  r = resize_scales(x, {1, 1, 2, 2}, {});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.out, expected);
}

TEST(Resize, NearestIntegerFactorFastPathMatchesDefinition) {
  // Non-square factors, several channels, threads: the row-copy and repeat paths against the definition.
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1, 1);
  const int64_t n = 2, c = 3, h = 5, w = 7;
  std::vector<float> v(size_t(n * c * h * w));
  for (auto& e : v) e = dist(rng);
  Tensor x = f32({n, c, h, w}, v);
  ThreadPool pool(2);
  auto r = run_op("Resize", 11, {x, f32({0}, {}), scales({1, 1, 2, 3})}, {{"mode", attr_s("nearest")}}, &pool);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  ASSERT_EQ(r.out.shape(), (Shape{n, c, 2 * h, 3 * w}));
  for (int64_t i = 0; i < n * c; ++i)
    for (int64_t y = 0; y < 2 * h; ++y)
      for (int64_t xx = 0; xx < 3 * w; ++xx)
        ASSERT_EQ(r.out.data<float>()[(i * 2 * h + y) * 3 * w + xx], v[size_t((i * h + y / 2) * w + xx / 3)]);
}

TEST(Resize, NearestModesAndTransforms) {
  // 1x5 -> 1x8 and 1x5 -> 1x3, values from ONNX's reference implementation.
  Tensor x = f32({1, 5}, {1, 2, 3, 4, 5});
  struct Case {
    const char* coord;
    const char* nearest;
    std::vector<float> up8, down3;
  };
  const Case cases[] = {
      {"half_pixel", "round_prefer_floor", {1, 1, 2, 3, 3, 4, 5, 5}, {1, 3, 5}},
      {"half_pixel", "floor", {1, 1, 2, 2, 3, 3, 4, 5}, {1, 3, 4}},
      {"half_pixel", "ceil", {1, 2, 3, 3, 4, 4, 5, 5}, {2, 3, 5}},
      {"asymmetric", "round_prefer_floor", {1, 2, 2, 3, 3, 4, 5, 5}, {1, 3, 4}},
      {"asymmetric", "round_prefer_ceil", {1, 2, 2, 3, 4, 4, 5, 5}, {1, 3, 4}},
      {"asymmetric", "floor", {1, 1, 2, 2, 3, 4, 4, 5}, {1, 2, 4}},
      {"asymmetric", "ceil", {1, 2, 3, 3, 4, 5, 5, 5}, {1, 3, 5}},
      {"align_corners", "round_prefer_floor", {1, 2, 2, 3, 3, 4, 4, 5}, {1, 3, 5}},
      {"align_corners", "floor", {1, 1, 2, 2, 3, 3, 4, 5}, {1, 3, 5}},
      {"pytorch_half_pixel", "ceil", {1, 2, 3, 3, 4, 4, 5, 5}, {2, 3, 5}},
      // (x + 0.5) / scale, worked by hand: 0.3125 0.9375 1.5625 2.1875 2.8125 3.4375 4.0625 4.6875
      {"tf_half_pixel_for_nearest", "round_prefer_floor", {1, 2, 3, 3, 4, 4, 5, 5}, {}},
  };
  for (const Case& c : cases) {
    std::map<std::string, Attribute> attrs = {{"mode", attr_s("nearest")},
                                              {"coordinate_transformation_mode", attr_s(c.coord)},
                                              {"nearest_mode", attr_s(c.nearest)}};
    SCOPED_TRACE(std::string(c.coord) + " " + c.nearest);
    auto r = resize_sizes(x, {1, 8}, attrs);
    ASSERT_TRUE(r.status.ok()) << r.status.message();
    expect_near(r.out, c.up8);
    if (c.down3.empty()) continue;
    r = resize_sizes(x, {1, 3}, attrs);
    ASSERT_TRUE(r.status.ok()) << r.status.message();
    expect_near(r.out, c.down3);
  }
}

TEST(Resize, NearestKeepsInt8AndUint8) {
  auto r = resize_scales(s8({1, 1, 1, 2}, {-128, 127}), {1, 1, 2, 2}, {});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out.dtype(), DType::kInt8);
  EXPECT_EQ(values_of<int8_t>(r.out), (std::vector<int8_t>{-128, -128, 127, 127, -128, -128, 127, 127}));
  r = resize_scales(u8({1, 3}, {0, 9, 255}), {1, 1.f / 3}, {});  // 1x3 -> 1x1 picks the centre
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values_of<uint8_t>(r.out), (std::vector<uint8_t>{9}));
}

TEST(Resize, BilinearHalfPixelMatchesTorch) {
  // torch: F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)
  auto r = resize_scales(f32({1, 1, 2, 3}, {1, 2, 3, 4, 5, 6}), {1, 1, 2, 2}, {{"mode", attr_s("linear")}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out.shape(), (Shape{1, 1, 4, 6}));
  expect_near(r.out, {1,    1.25, 1.75, 2.25, 2.75, 3,    1.75, 2,    2.5,  3,    3.5,  3.75,
                      3.25, 3.5,  4,    4.5,  5,    5.25, 4,    4.25, 4.75, 5.25, 5.75, 6});
}

TEST(Resize, BilinearAlignCornersMatchesTorch) {
  // torch: F.interpolate(x, size=(5, 4), mode='bilinear', align_corners=True)
  std::vector<float> v = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  auto r = resize_sizes(f32({1, 1, 3, 3}, v), {1, 1, 5, 4},
                        {{"mode", attr_s("linear")}, {"coordinate_transformation_mode", attr_s("align_corners")}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.out, {1,    1.666667f, 2.333333f, 3,    2.5f, 3.166667f, 3.833333f, 4.5f, 4, 4.666667f, 5.333333f, 6,
                      5.5f, 6.166667f, 6.833333f, 7.5f, 7,    7.666667f, 8.333333f, 9});
}

TEST(Resize, LinearDownsampleAlignCornersUsesScaledLength) {
  // ONNX conformance test_resize_downsample_scales_linear_align_corners: length_resized = scale * length.
  auto r = resize_scales(f32({1, 1, 2, 4}, {1, 2, 3, 4, 5, 6, 7, 8}), {1, 1, 0.6f, 0.6f},
                         {{"mode", attr_s("linear")}, {"coordinate_transformation_mode", attr_s("align_corners")}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out.shape(), (Shape{1, 1, 1, 2}));
  expect_near(r.out, {1, 3.142857f});
}

TEST(Resize, LinearPytorchHalfPixelDownsample) {
  // ONNX conformance test_resize_downsample_sizes_linear_pytorch_half_pixel (an axis of length 1 samples 0).
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[i] = float(i + 1);
  auto r = resize_sizes(f32({1, 1, 4, 4}, v), {1, 1, 3, 1},
                        {{"mode", attr_s("linear")}, {"coordinate_transformation_mode", attr_s("pytorch_half_pixel")}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.out, {1.6666666f, 7, 12.333333f});
}

TEST(Resize, TrilinearMatchesTorch) {
  // torch: F.interpolate(arange(8).reshape(1,1,2,2,2), size=(3,4,3), mode='trilinear', align_corners=False)
  std::vector<float> v(8);
  for (int i = 0; i < 8; ++i) v[i] = float(i);
  ThreadPool pool(2);
  auto r = run_op("Resize", 13, {f32({1, 1, 2, 2, 2}, v), kNone, kNone, i64({5}, {1, 1, 3, 4, 3})},
                  {{"mode", attr_s("linear")}}, &pool);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.out, {0,   0.5, 1,   0.5, 1,   1.5, 1.5, 2,   2.5, 2,   2.5, 3,   2,   2.5, 3,   2.5, 3,   3.5,
                      3.5, 4,   4.5, 4,   4.5, 5,   4,   4.5, 5,   4.5, 5,   5.5, 5.5, 6,   6.5, 6,   6.5, 7});
}

TEST(Resize, BicubicMatchesTorch) {
  // torch: F.interpolate(x, scale_factor=2, mode='bicubic', align_corners=False) (A = -0.75, half_pixel).
  auto r = resize_scales(f32({1, 1, 2, 3}, {1, 2, 3, 5, 6, 7}), {1, 1, 2, 2}, {{"mode", attr_s("cubic")}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.out, {0.4726562f, 0.7695312f, 1.246094f, 1.910156f, 2.386719f, 2.683594f, 1.800781f, 2.097656f,
                      2.574219f,  3.238281f,  3.714844f, 4.011719f, 3.988281f, 4.285156f, 4.761719f, 5.425781f,
                      5.902344f,  6.199219f,  5.316406f, 5.613281f, 6.089844f, 6.753906f, 7.230469f, 7.527344f});
}

TEST(Resize, CubicExcludeOutsideAndAsymmetric) {
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[i] = float(i + 1);
  // ONNX reference: A = -0.5, exclude_outside, 4x4 -> 3x3.
  auto r = resize_scales(f32({1, 1, 4, 4}, v), {1, 1, 0.8f, 0.8f},
                         {{"mode", attr_s("cubic")}, {"cubic_coeff_a", attr_f(-0.5f)}, {"exclude_outside", attr_i(1)}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.out, {1.368127f, 2.669501f, 4.013337f, 6.573625f, 7.875f, 9.218835f, 11.94897f, 13.25034f, 14.59418f});
  // ONNX reference: asymmetric, 2x3 -> 4x4 (scales 2, 1.5).
  r = resize_scales(f32({1, 1, 2, 3}, {1, 2, 3, 5, 6, 7}), {1, 1, 2, 1.5f},
                    {{"mode", attr_s("cubic")}, {"coordinate_transformation_mode", attr_s("asymmetric")}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.out, {1, 1.574074f, 2.425926f, 3, 3, 3.574074f, 4.425926f, 5, 5, 5.574074f, 6.425926f, 7, 5.375f,
                      5.949074f, 6.800926f, 7.375f});
}

TEST(Resize, TfCropAndResize) {
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[i] = float(i + 1);
  Tensor x = f32({1, 1, 4, 4}, v);
  std::map<std::string, Attribute> attrs = {{"mode", attr_s("linear")},
                                            {"coordinate_transformation_mode", attr_s("tf_crop_and_resize")},
                                            {"extrapolation_value", attr_f(10)}};
  // ONNX conformance test_resize_tf_crop_and_resize (partly outside: extrapolation_value).
  Tensor roi = f32({8}, {0, 0, 0.4f, 0.6f, 1, 1, 1.2f, 1.7f});
  auto r = run_op("Resize", 13, {x, roi, kNone, i64({4}, {1, 1, 3, 3})}, attrs);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.out, {7.6f, 10, 10, 12.4f, 10, 10, 10, 10, 10});
  // Entirely inside (ONNX reference).
  r = run_op("Resize", 13, {x, f32({8}, {0, 0, 0.25f, 0, 1, 1, 0.75f, 0.5f}), kNone, i64({4}, {1, 1, 3, 3})}, attrs);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.out, {4, 4.75f, 5.5f, 7, 7.75f, 8.5f, 10, 10.75f, 11.5f});
  // Nearest with the same crop (ONNX reference).
  attrs["mode"] = attr_s("nearest");
  r = run_op("Resize", 13, {x, roi, kNone, i64({4}, {1, 1, 3, 3})}, attrs);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.out, {7, 10, 10, 11, 10, 10, 10, 10, 10});
  // A roi of the wrong length is a model error.
  r = run_op("Resize", 13, {x, f32({4}, {0, 0, 1, 1}), kNone, i64({4}, {1, 1, 3, 3})}, attrs);
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidModel);
}

TEST(Upsample, Opset7AttributeAndOpset9Input) {
  Tensor x = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  // ONNX conformance test_upsample_nearest (opset 9).
  const std::vector<float> nearest = {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4};
  auto r = run_op("Upsample", 9, {x, scales({1, 1, 2, 3})}, {{"mode", attr_s("nearest")}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out.shape(), (Shape{1, 1, 4, 6}));
  expect_near(r.out, nearest);
  r = run_op("Upsample", 7, {x}, {{"scales", attr_floats({1, 1, 2, 3})}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.out, nearest);
  // "linear" before opset 11 is asymmetric bilinear (ONNX reference with asymmetric coordinates).
  r = run_op("Upsample", 8, {x}, {{"mode", attr_s("linear")}, {"scales", attr_floats({1, 1, 2, 2})}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.out, {1, 1.5, 2, 2, 2, 2.5, 3, 3, 3, 3.5, 4, 4, 3, 3.5, 4, 4});
  // Scales below 1 are not an upsampling.
  r = run_op("Upsample", 9, {x, scales({1, 1, 0.5f, 1})});
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidModel);
  r = run_op("Upsample", 7, {x});
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidModel);
}

TEST(Resize, Opset10IsAsymmetric) {
  Tensor x = f32({1, 5}, {1, 2, 3, 4, 5});
  // Upsampling floors x / scale: 5 -> 8 with scale 1.6.
  auto r = run_op("Resize", 10, {x, scales({1, 1.6f})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.out, {1, 1, 2, 2, 3, 4, 4, 5});
  // Downsampling takes the ceiling as ONNX Runtime does: 5 -> 3 (scale 0.6): 0, 1.67->2, 3.33->4.
  r = run_op("Resize", 10, {x, scales({1, 0.6f})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.out, {1, 3, 5});
  // cubic did not exist yet.
  r = run_op("Resize", 10, {x, scales({1, 2})}, {{"mode", attr_s("cubic")}});
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidModel);
}

TEST(Resize, OutputSizeIsFloorOfScaledInput) {
  auto r = resize_scales(f32({1, 1, 3, 5}, std::vector<float>(15, 1.f)), {1, 1, 1.5f, 0.5f}, {});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out.shape(), (Shape{1, 1, 4, 2}));
}

TEST(Resize, SymbolicInference) {
  ValueType x(DType::kFloat32, {Dim::symbol("N"), 3, Dim::symbol("H"), 20});
  ValueType scale_t(DType::kFloat32, {4});
  ValueType sizes_t(DType::kInt64, {4});
  Tensor s = scales({1, 1, 2, 2});
  ValueType out;
  // Known scales: symbolic dims with scale 1 keep their symbol; other symbolic ones become unknown.
  ASSERT_TRUE(infer_only("Resize", 13, {&x, nullptr, &scale_t}, {nullptr, nullptr, &s}, &out).ok());
  EXPECT_EQ(out.to_string(), "float32[N,3,?,40]");
  // Unknown scales: only the rank.
  ASSERT_TRUE(infer_only("Resize", 13, {&x, nullptr, &scale_t}, {nullptr, nullptr, nullptr}, &out).ok());
  EXPECT_EQ(out.rank(), 4u);
  EXPECT_FALSE(out.dims[1].known());
  // Known sizes: concrete.
  Tensor sz = i64({4}, {1, 3, 64, 64});
  ASSERT_TRUE(infer_only("Resize", 13, {&x, nullptr, nullptr, &sizes_t}, {nullptr, nullptr, nullptr, &sz}, &out).ok());
  EXPECT_EQ(out.to_string(), "float32[1,3,64,64]");
  // Opset 11 with an empty scales tensor and sizes.
  ValueType empty_t(DType::kFloat32, {0});
  Tensor empty = f32({0}, {});
  ASSERT_TRUE(infer_only("Resize", 11, {&x, &empty_t, &empty_t, &sizes_t}, {nullptr, &empty, &empty, &sz}, &out).ok());
  EXPECT_EQ(out.to_string(), "float32[1,3,64,64]");
}

TEST(Resize, Errors) {
  Tensor x = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  // Both scales and sizes.
  auto r = run_op("Resize", 13, {x, kNone, scales({1, 1, 2, 2}), i64({4}, {1, 1, 4, 4})});
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidModel);
  // Neither.
  r = run_op("Resize", 13, {x, kNone, f32({0}, {})});
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidModel);
  // Wrong number of scales.
  r = resize_scales(x, {2, 2}, {});
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidModel);
  EXPECT_NE(r.status.message().find("one value per input axis"), std::string::npos) << r.status.message();
  // Non-positive scale.
  r = resize_scales(x, {1, 1, 0, 2}, {});
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidModel);
  // Unknown mode / transform / nearest_mode.
  EXPECT_EQ(resize_scales(x, {1, 1, 2, 2}, {{"mode", attr_s("area")}}).status.code(), StatusCode::kInvalidModel);
  EXPECT_EQ(resize_scales(x, {1, 1, 2, 2}, {{"coordinate_transformation_mode", attr_s("x")}}).status.code(),
            StatusCode::kInvalidModel);
  EXPECT_EQ(resize_scales(x, {1, 1, 2, 2}, {{"nearest_mode", attr_s("x")}}).status.code(), StatusCode::kInvalidModel);
  // Linear on int8 is not implemented: unsupported, not a model error.
  r = resize_scales(s8({1, 1, 1, 2}, {1, 2}), {1, 1, 2, 2}, {{"mode", attr_s("linear")}});
  EXPECT_EQ(r.status.code(), StatusCode::kUnsupported);
  // Resizing an empty axis to a non-empty one.
  r = resize_sizes(f32({1, 0}, {}), {1, 3}, {});
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidModel);
}

}  // namespace
}  // namespace lowbit
