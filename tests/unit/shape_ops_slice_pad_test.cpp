// Slice, Pad, Expand, Tile, Constant, ConstantOfShape, Range: hand-computed cases (numpy semantics),
// ONNX clamping rules, symbolic inference and the giant-tensor guards.
#include <limits>

#include "shape_ops_test_util.h"

namespace lowbit {
namespace {

using namespace shape_test;

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
const Tensor kNone;  // an omitted optional input

// ---- Slice ------------------------------------------------------------------------------------------

TEST(ShapeOpsSlice, AttributesBeforeOpset10) {
  // x[0:1, 1:1000] of a 2x4 -> [[1, 2, 3]]
  auto r = run_op("Slice", 9, {iota_f32({2, 4})}, {{"starts", a_ints({0, 1})}, {"ends", a_ints({1, 1000})}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out().shape(), (Shape{1, 3}));
  EXPECT_EQ(values_of<float>(r.out()), (std::vector<float>{1, 2, 3}));
  r = run_op("Slice", 9, {iota_f32({2, 4})},
             {{"starts", a_ints({-2})}, {"ends", a_ints({kMax})}, {"axes", a_ints({-1})}});
  EXPECT_EQ(values_of<float>(r.out()), (std::vector<float>{2, 3, 6, 7}));
}

TEST(ShapeOpsSlice, NegativeStepsWithSentinels) {
  // x[::-1] with INT64_MAX / INT64_MIN, as exporters write it.
  auto r = run_op("Slice", 13, {iota_f32({5}), i64v({kMax}), i64v({kMin}), i64v({0}), i64v({-1})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values_of<float>(r.out()), (std::vector<float>{4, 3, 2, 1, 0}));
  // x[-1:-4:-2] -> [4, 2]
  r = run_op("Slice", 13, {iota_f32({5}), i64v({-1}), i64v({-4}), i64v({0}), i64v({-2})});
  EXPECT_EQ(values_of<float>(r.out()), (std::vector<float>{4, 2}));
  // x[3:0:-1] on axis 1 of 2x5 (negative axis, int32 inputs)
  r = run_op("Slice", 13, {iota_f32({2, 5}), i32({1}, {3}), i32({1}, {0}), i32({1}, {-1}), i32({1}, {-1})});
  EXPECT_EQ(values_of<float>(r.out()), (std::vector<float>{3, 2, 1, 8, 7, 6}));
  // A huge negative step takes only the first element.
  r = run_op("Slice", 13, {iota_f32({5}), i64v({-1}), i64v({kMin}), kNone, i64v({kMin})});
  EXPECT_EQ(values_of<float>(r.out()), (std::vector<float>{4}));
}

TEST(ShapeOpsSlice, ClampingAndEmptyResults) {
  auto r = run_op("Slice", 13, {iota_f32({5}), i64v({-100}), i64v({100})});
  EXPECT_EQ(values_of<float>(r.out()), (std::vector<float>{0, 1, 2, 3, 4}));
  r = run_op("Slice", 13, {iota_f32({5}), i64v({3}), i64v({1})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out().shape(), (Shape{0}));
  r = run_op("Slice", 13, {iota_f32({5}), i64v({kMin}), i64v({kMax}), i64v({0}), i64v({2})});
  EXPECT_EQ(values_of<float>(r.out()), (std::vector<float>{0, 2, 4}));
  r = run_op("Slice", 13, {iota_f32({5}), i64v({10}), i64v({-10}), i64v({0}), i64v({-1})});
  EXPECT_EQ(values_of<float>(r.out()), (std::vector<float>{4, 3, 2, 1, 0}));
}

TEST(ShapeOpsSlice, StridedTwoAxesMatchesNumpy) {
  // x = arange(24).reshape(2,3,4); x[:, ::2, 3:0:-2] -> [[[3,1],[11,9]],[[15,13],[23,21]]]
  auto r = run_op("Slice", 13, {iota_f32({2, 3, 4}), i64v({0, 3}), i64v({kMax, 0}), i64v({1, 2}), i64v({2, -2})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out().shape(), (Shape{2, 2, 2}));
  EXPECT_EQ(values_of<float>(r.out()), (std::vector<float>{3, 1, 11, 9, 15, 13, 23, 21}));
}

TEST(ShapeOpsSlice, InvalidArgumentsFail) {
  EXPECT_FALSE(run_op("Slice", 13, {iota_f32({5}), i64v({0}), i64v({5}), i64v({0}), i64v({0})}).status.ok());
  EXPECT_FALSE(run_op("Slice", 13, {iota_f32({5}), i64v({0}), i64v({5}), i64v({1})}).status.ok());
  EXPECT_FALSE(run_op("Slice", 13, {iota_f32({5, 5}), i64v({0, 0}), i64v({5, 5}), i64v({0, -2})}).status.ok());
  EXPECT_FALSE(run_op("Slice", 13, {iota_f32({5}), i64v({0, 0}), i64v({5})}).status.ok());
  EXPECT_FALSE(run_op("Slice", 9, {iota_f32({5})}, {{"starts", a_ints({0})}}).status.ok());
}

TEST(ShapeOpsSlice, SymbolicInference) {
  // x[:, 1:] on [batch, 10]: batch kept, 9 known.
  Tensor starts = i64v({1}), ends = i64v({kMax}), axes = i64v({1});
  ValueType x = vt(DType::kFloat32, {sym("batch"), 10});
  auto r = infer_op("Slice", 13, {x, vt(DType::kInt64, {1}), vt(DType::kInt64, {1}), vt(DType::kInt64, {1})},
                    {nullptr, &starts, &ends, &axes});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.type().to_string(), "float32[batch,9]");
  // A whole-axis slice of the symbolic axis keeps the symbol; a real range does not.
  Tensor s0 = i64v({0}), a0 = i64v({0}), e2 = i64v({2});
  r = infer_op("Slice", 13, {x, vt(DType::kInt64, {1}), vt(DType::kInt64, {1}), vt(DType::kInt64, {1})},
               {nullptr, &s0, &ends, &a0});
  EXPECT_EQ(r.type().to_string(), "float32[batch,10]");
  r = infer_op("Slice", 13, {x, vt(DType::kInt64, {1}), vt(DType::kInt64, {1}), vt(DType::kInt64, {1})},
               {nullptr, &s0, &e2, &a0});
  EXPECT_EQ(r.type().to_string(), "float32[?,10]");
  // Unknown starts but known axes: only axis 1 loses its size.
  r = infer_op("Slice", 13, {x, vt(DType::kInt64, {1}), vt(DType::kInt64, {1}), vt(DType::kInt64, {1})},
               {nullptr, nullptr, &ends, &axes});
  EXPECT_EQ(r.type().to_string(), "float32[batch,?]");
}

// ---- Pad --------------------------------------------------------------------------------------------

TEST(ShapeOpsPad, ConstantAttributeFormBeforeOpset11) {
  auto r = run_op("Pad", 7, {iota_f32({2, 2})}, {{"pads", a_ints({0, 1, 1, 0})}, {"value", a_float(9)}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out().shape(), (Shape{3, 3}));
  EXPECT_EQ(values_of<float>(r.out()), (std::vector<float>{9, 0, 1, 9, 2, 3, 9, 9, 9}));
}

TEST(ShapeOpsPad, ConstantInputFormWithInt64Data) {
  auto r = run_op("Pad", 13, {i64v({1, 2}), i64v({2, 1}), i64({}, {-7})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values_of<int64_t>(r.out()), (std::vector<int64_t>{-7, -7, 1, 2, -7}));
  r = run_op("Pad", 13, {i64v({1, 2}), i64v({1, 1})});  // default value 0
  EXPECT_EQ(values_of<int64_t>(r.out()), (std::vector<int64_t>{0, 1, 2, 0}));
}

TEST(ShapeOpsPad, ReflectAndEdgeMatchNumpy) {
  // np.pad([[0,1,2],[3,4,5]], ((1,0),(2,1)), 'reflect')
  Tensor x = iota_f32({2, 3});
  auto r = run_op("Pad", 13, {x, i64v({1, 2, 0, 1})}, {{"mode", a_str("reflect")}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out().shape(), (Shape{3, 6}));
  EXPECT_EQ(values_of<float>(r.out()), (std::vector<float>{5, 4, 3, 4, 5, 4, 2, 1, 0, 1, 2, 1, 5, 4, 3, 4, 5, 4}));
  // np.pad(..., ((1,0),(2,1)), 'edge')
  r = run_op("Pad", 13, {x, i64v({1, 2, 0, 1})}, {{"mode", a_str("edge")}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values_of<float>(r.out()), (std::vector<float>{0, 0, 0, 1, 2, 2, 0, 0, 0, 1, 2, 2, 3, 3, 3, 4, 5, 5}));
}

TEST(ShapeOpsPad, NegativePadsCrop) {
  auto r = run_op("Pad", 13, {iota_f32({2, 4}), i64v({0, -1, 0, 1})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out().shape(), (Shape{2, 4}));
  EXPECT_EQ(values_of<float>(r.out()), (std::vector<float>{1, 2, 3, 0, 5, 6, 7, 0}));
  EXPECT_FALSE(run_op("Pad", 13, {iota_f32({2, 4}), i64v({0, -3, 0, -2})}).status.ok());
}

TEST(ShapeOpsPad, BadArgumentsFail) {
  EXPECT_FALSE(run_op("Pad", 13, {iota_f32({2, 4}), i64v({0, 1})}).status.ok());
  EXPECT_FALSE(run_op("Pad", 13, {iota_f32({2, 4}), i64v({0, 0, 0, 0})}, {{"mode", a_str("mirror")}}).status.ok());
  EXPECT_FALSE(run_op("Pad", 13, {iota_f32({0}), i64v({1, 0})}, {{"mode", a_str("edge")}}).status.ok());
  EXPECT_FALSE(run_op("Pad", 7, {iota_f32({2})}).status.ok());  // pads attribute missing
}

TEST(ShapeOpsPad, UnknownPadsKeepRank) {
  auto r = infer_op("Pad", 13, {vt(DType::kFloat32, {sym("N"), 3}), vt(DType::kInt64, {4})}, {});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.type().to_string(), "float32[?,?]");
  Tensor pads = i64v({0, 1, 0, 1});
  r = infer_op("Pad", 13, {vt(DType::kFloat32, {sym("N"), 3}), vt(DType::kInt64, {4})}, {nullptr, &pads});
  EXPECT_EQ(r.type().to_string(), "float32[N,5]");
}

// ---- Expand / Tile ----------------------------------------------------------------------------------

TEST(ShapeOpsExpand, BroadcastsBothWays) {
  // [3,1] expanded by [2,1,6] -> [2,3,6]; shape's 1 keeps the input's 3.
  auto r = run_op("Expand", 13, {f32({3, 1}, {1, 2, 3}), i64v({2, 1, 6})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  ASSERT_EQ(r.out().shape(), (Shape{2, 3, 6}));
  const float* o = r.out().data<float>();
  EXPECT_EQ(o[0], 1);
  EXPECT_EQ(o[5], 1);
  EXPECT_EQ(o[6], 2);
  EXPECT_EQ(o[18 + 17], 3);
  EXPECT_FALSE(run_op("Expand", 13, {f32({3}, {1, 2, 3}), i64v({2})}).status.ok());
  EXPECT_FALSE(run_op("Expand", 13, {f32({3}, {1, 2, 3}), i64v({-1})}).status.ok());
}

TEST(ShapeOpsExpand, SymbolicAndUnknownShape) {
  Tensor shape = i64v({1, 1, 4});
  auto r = infer_op("Expand", 13, {vt(DType::kBool, {sym("N"), 1}), vt(DType::kInt64, {3})}, {nullptr, &shape});
  EXPECT_EQ(r.type().to_string(), "bool[1,N,4]");
  r = infer_op("Expand", 13, {vt(DType::kBool, {sym("N"), 1}), vt(DType::kInt64, {3})}, {});
  EXPECT_EQ(r.type().to_string(), "bool[?,?,?]");
}

TEST(ShapeOpsTile, RepeatsEachAxis) {
  auto r = run_op("Tile", 13, {iota_f32({2, 2}), i64v({2, 3})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out().shape(), (Shape{4, 6}));
  EXPECT_EQ(values_of<float>(r.out()),
            (std::vector<float>{0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3}));
  r = run_op("Tile", 13, {i64v({5, 6}), i64v({0})});
  EXPECT_EQ(r.out().shape(), (Shape{0}));
  EXPECT_FALSE(run_op("Tile", 13, {iota_f32({2}), i64v({-1})}).status.ok());
  EXPECT_FALSE(run_op("Tile", 13, {iota_f32({2}), i64v({1, 1})}).status.ok());
}

// ---- Constant / ConstantOfShape / Range -------------------------------------------------------------

TEST(ShapeOpsConstant, EveryValueAttribute) {
  auto r = run_op("Constant", 13, {}, {{"value", a_tensor(i64v({3, 4}))}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values_of<int64_t>(r.out()), (std::vector<int64_t>{3, 4}));
  r = run_op("Constant", 13, {}, {{"value_float", a_float(2.5f)}});
  EXPECT_EQ(r.out().rank(), 0u);
  EXPECT_EQ(r.out().data<float>()[0], 2.5f);
  r = run_op("Constant", 13, {}, {{"value_floats", a_floats({1, 2})}});
  EXPECT_EQ(values_of<float>(r.out()), (std::vector<float>{1, 2}));
  r = run_op("Constant", 13, {}, {{"value_int", a_int(-3)}});
  EXPECT_EQ(r.out().dtype(), DType::kInt64);
  EXPECT_EQ(r.out().data<int64_t>()[0], -3);
  r = run_op("Constant", 13, {}, {{"value_ints", a_ints({7, 8, 9})}});
  EXPECT_EQ(values_of<int64_t>(r.out()), (std::vector<int64_t>{7, 8, 9}));
  EXPECT_EQ(run_op("Constant", 13, {}, {{"value_string", a_str("hi")}}).status.code(), StatusCode::kUnsupported);
  EXPECT_EQ(run_op("Constant", 13, {}, {}).status.code(), StatusCode::kInvalidModel);
  EXPECT_FALSE(run_op("Constant", 13, {}, {{"value_int", a_int(1)}, {"value_float", a_float(1)}}).status.ok());
}

TEST(ShapeOpsConstantOfShape, DefaultFloatZeroAndTypedValue) {
  auto r = run_op("ConstantOfShape", 13, {i64v({2, 3})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out().dtype(), DType::kFloat32);
  EXPECT_EQ(values_of<float>(r.out()), std::vector<float>(6, 0.f));
  r = run_op("ConstantOfShape", 13, {i64v({3})}, {{"value", a_tensor(i64v({-5}))}});
  EXPECT_EQ(values_of<int64_t>(r.out()), (std::vector<int64_t>{-5, -5, -5}));
  r = run_op("ConstantOfShape", 13, {i64({0}, {})}, {{"value", a_tensor(f32({1}, {4}))}});
  EXPECT_EQ(r.out().rank(), 0u);
  EXPECT_EQ(r.out().data<float>()[0], 4.f);
  EXPECT_FALSE(run_op("ConstantOfShape", 13, {i64v({2, -1})}).status.ok());
  EXPECT_FALSE(run_op("ConstantOfShape", 13, {i64v({2})}, {{"value", a_tensor(f32({2}, {1, 2}))}}).status.ok());
  auto s = infer_op("ConstantOfShape", 13, {vt(DType::kInt64, {3})}, {});
  EXPECT_EQ(s.type().to_string(), "float32[?,?,?]");
}

TEST(ShapeOpsRange, FloatIntAndNegativeDelta) {
  auto r = run_op("Range", 13, {f32({}, {1}), f32({}, {2}), f32({}, {0.25f})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values_of<float>(r.out()), (std::vector<float>{1, 1.25f, 1.5f, 1.75f}));
  r = run_op("Range", 13, {i32({}, {10}), i32({}, {4}), i32({}, {-3})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values_of<int32_t>(r.out()), (std::vector<int32_t>{10, 7}));
  r = run_op("Range", 13, {i64({}, {0}), i64({}, {-5}), i64({}, {1})});
  EXPECT_EQ(r.out().shape(), (Shape{0}));
  // Extremes do not overflow: 4 elements spanning the whole int64 range.
  r = run_op("Range", 13, {i64({}, {kMin}), i64({}, {kMax}), i64({}, {int64_t(1) << 62})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out().data<int64_t>()[3], int64_t(1) << 62);  // -2^63 + 3 * 2^62
}

TEST(ShapeOpsRange, ZeroDeltaAndUnknownValues) {
  auto r = run_op("Range", 13, {f32({}, {1}), f32({}, {2}), f32({}, {0})});
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidModel);
  EXPECT_TRUE(mentions(r.status, "my_Range"));
  auto s = infer_op("Range", 13, {vt(DType::kInt64, {}), vt(DType::kInt64, {}), vt(DType::kInt64, {})}, {});
  EXPECT_EQ(s.type().to_string(), "int64[?]");
}

// ---- Giant tensors fail before any allocation ---------------------------------------------------------

TEST(ShapeOpsGuards, GiantOutputsFailWithTheNodeName) {
  constexpr int64_t kCap = int64_t(1) << 20;  // 1 MiB
  auto expect_exhausted = [](const OpResult& r, const char* node) {
    EXPECT_EQ(r.status.code(), StatusCode::kResourceExhausted) << r.status.message();
    EXPECT_TRUE(mentions(r.status, node)) << r.status.message();
  };
  expect_exhausted(run_op("ConstantOfShape", 13, {i64v({1000000, 1000000})}, {}, 1, nullptr, kCap),
                   "my_ConstantOfShape");
  expect_exhausted(run_op("ConstantOfShape", 13, {i64v({kMax, kMax})}), "my_ConstantOfShape");  // overflows int64
  expect_exhausted(run_op("Expand", 13, {iota_f32({1}), i64v({1 << 19})}, {}, 1, nullptr, kCap), "my_Expand");
  expect_exhausted(run_op("Tile", 13, {iota_f32({4}), i64v({kMax / 2})}), "my_Tile");
  expect_exhausted(run_op("Tile", 13, {iota_f32({4}), i64v({1 << 17})}, {}, 1, nullptr, kCap), "my_Tile");
  expect_exhausted(run_op("Pad", 13, {iota_f32({1}), i64v({0, 1 << 19})}, {}, 1, nullptr, kCap), "my_Pad");
  expect_exhausted(run_op("Range", 13, {i64({}, {0}), i64({}, {kMax}), i64({}, {1})}), "my_Range");
  expect_exhausted(run_op("Range", 13, {f32({}, {0}), f32({}, {1e30f}), f32({}, {1})}), "my_Range");
  // Inference at import (shape value known) applies the same cap.
  Tensor shape = i64v({1 << 20, 1 << 20});
  auto s = infer_op("ConstantOfShape", 13, {vt(DType::kInt64, {2})}, {&shape}, {}, 1, kCap);
  EXPECT_EQ(s.status.code(), StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace lowbit
