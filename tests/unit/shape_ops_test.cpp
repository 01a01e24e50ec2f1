// Concat, Split, Gather, Shape, Size, Reshape, Flatten, DepthToSpace, Transpose, Squeeze, Unsqueeze: hand-computed
// cases, opset variants, symbolic inference and error paths.
#include <limits>
#include <random>

#include "ir/shape_inference.h"
#include "ops/shape_ops_util.h"
#include "shape_ops_test_util.h"

namespace lowbit {
namespace {

using namespace shape_test;

// ---- Concat -----------------------------------------------------------------------------------------

TEST(ShapeOpsConcat, NegativeAxisJoinsLastDim) {
  auto r = run_op("Concat", 13, {iota_f32({2, 2}), f32({2, 1}, {10, 11})}, {{"axis", a_int(-1)}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out().shape(), (Shape{2, 3}));
  EXPECT_EQ(values_of<float>(r.out()), (std::vector<float>{0, 1, 10, 2, 3, 11}));
}

TEST(ShapeOpsConcat, Int64ShapeVectorsAndEmptyInput) {
  // The PyTorch flatten pattern: Concat(Unsqueeze(batch), [-1]); an empty piece is allowed.
  auto r = run_op("Concat", 13, {i64v({8}), i64({0}, {}), i64v({-1})}, {{"axis", a_int(0)}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values_of<int64_t>(r.out()), (std::vector<int64_t>{8, -1}));
}

TEST(ShapeOpsConcat, AxisZeroOfThreeInputsWithThreads) {
  ThreadPool pool(2);
  Tensor a = iota_f32({2, 3, 4, 5}), b = iota_f32({2, 1, 4, 5});
  auto r = run_op("Concat", 11, {a, b, a}, {{"axis", a_int(1)}}, 1, &pool);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  ASSERT_EQ(r.out().shape(), (Shape{2, 7, 4, 5}));
  const float* o = r.out().data<float>();
  EXPECT_EQ(o[0], 0);                         // a[0,0,0,0]
  EXPECT_EQ(o[3 * 20], 0);                    // b[0,0,0,0]
  EXPECT_EQ(o[4 * 20 + 7], 7);                // second a, [0,0,...]
  EXPECT_EQ(o[7 * 20 + 3 * 20 + 1], 20 + 1);  // b[1,0,0,1]
}

TEST(ShapeOpsConcat, SymbolicBatchKeptAndAxisSummed) {
  auto r = infer_op("Concat", 13, {vt(DType::kFloat32, {sym("N"), 3, 8}), vt(DType::kFloat32, {sym("N"), 5, 8})}, {},
                    {{"axis", a_int(1)}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.type().to_string(), "float32[N,8,8]");
  // A symbolic dim on the axis makes the sum unknown; a known dim elsewhere beats the symbol.
  r = infer_op("Concat", 13, {vt(DType::kFloat32, {sym("N"), sym("C")}), vt(DType::kFloat32, {4, 5})}, {},
               {{"axis", a_int(1)}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.type().dims[0], Dim(4));
  EXPECT_FALSE(r.type().dims[1].known());
}

TEST(ShapeOpsConcat, MismatchedShapesAndTypesFail) {
  auto r = run_op("Concat", 13, {iota_f32({2, 2}), iota_f32({3, 1})}, {{"axis", a_int(1)}});
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidModel);
  EXPECT_TRUE(mentions(r.status, "my_Concat"));
  r = run_op("Concat", 13, {iota_f32({2}), i64v({1})}, {{"axis", a_int(0)}});
  EXPECT_FALSE(r.status.ok());
  r = run_op("Concat", 13, {iota_f32({2})}, {{"axis", a_int(1)}});
  EXPECT_FALSE(r.status.ok());
}

// ---- DepthToSpace -----------------------------------------------------------------------------------

// 8 channels, blocksize 2: DCR takes channel (by*2 + bx)*2 + c, CRD channel c*4 + by*2 + bx for output pixel
// (y*2 + by, x*2 + bx) of channel c. One input pixel, so the output's 2x2 patch lists the channels read.
TEST(ShapeOpsDepthToSpace, DcrAndCrdOrdersAndErrors) {
  auto dcr = run_op("DepthToSpace", 13, {iota_f32({1, 8, 1, 1})}, {{"blocksize", a_int(2)}});
  ASSERT_TRUE(dcr.status.ok()) << dcr.status.message();
  EXPECT_EQ(dcr.outs[0].shape(), (Shape{1, 2, 2, 2}));
  EXPECT_EQ(values_of<float>(dcr.outs[0]), (std::vector<float>{0, 2, 4, 6, 1, 3, 5, 7}));
  auto crd = run_op("DepthToSpace", 13, {iota_f32({1, 8, 1, 1})}, {{"blocksize", a_int(2)}, {"mode", a_str("CRD")}});
  ASSERT_TRUE(crd.status.ok()) << crd.status.message();
  EXPECT_EQ(values_of<float>(crd.outs[0]), (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7}));
  // Channels not a multiple of blocksize^2, a bad mode, a missing blocksize, rank 3: one message naming the node.
  for (auto [shape, attrs] : std::vector<std::pair<Shape, std::map<std::string, Attribute>>>{
           {{1, 6, 2, 2}, {{"blocksize", a_int(2)}}},
           {{1, 8, 2, 2}, {{"blocksize", a_int(2)}, {"mode", a_str("XYZ")}}},
           {{1, 8, 2, 2}, {}},
           {{8, 2, 2}, {{"blocksize", a_int(2)}}}}) {
    auto r = run_op("DepthToSpace", 13, {iota_f32(shape)}, attrs);
    EXPECT_EQ(r.status.code(), StatusCode::kInvalidModel) << r.status.message();
    EXPECT_TRUE(mentions(r.status, "my_DepthToSpace")) << r.status.message();
  }
}

// ---- Split ------------------------------------------------------------------------------------------

TEST(ShapeOpsSplit, EqualSplitAlongNegativeAxis) {
  auto r = run_op("Split", 13, {iota_f32({2, 4})}, {{"axis", a_int(-1)}}, 2);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values_of<float>(r.outs[0]), (std::vector<float>{0, 1, 4, 5}));
  EXPECT_EQ(values_of<float>(r.outs[1]), (std::vector<float>{2, 3, 6, 7}));
}

TEST(ShapeOpsSplit, SizesFromAttributeBefore13AndInputFrom13) {
  auto r = run_op("Split", 11, {iota_f32({5})}, {{"split", a_ints({2, 3})}}, 2);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values_of<float>(r.outs[1]), (std::vector<float>{2, 3, 4}));
  r = run_op("Split", 13, {iota_f32({5}), i64v({4, 0, 1})}, {}, 3);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.outs[1].shape(), (Shape{0}));
  EXPECT_EQ(values_of<float>(r.outs[2]), (std::vector<float>{4}));
}

TEST(ShapeOpsSplit, BadSizesFail) {
  EXPECT_FALSE(run_op("Split", 13, {iota_f32({5})}, {}, 2).status.ok());  // uneven: only from opset 18
  EXPECT_FALSE(run_op("Split", 13, {iota_f32({5}), i64v({2, 2})}, {}, 2).status.ok());
  EXPECT_FALSE(run_op("Split", 13, {iota_f32({5}), i64v({6, -1})}, {}, 2).status.ok());
  EXPECT_FALSE(run_op("Split", 11, {iota_f32({5})}, {{"split", a_ints({5})}}, 2).status.ok());
}

TEST(ShapeOpsSplit, SymbolicAxisWithKnownSizes) {
  Tensor sizes = i64v({1, 2});
  auto r = infer_op("Split", 13, {vt(DType::kFloat32, {sym("N"), sym("T")}), vt(DType::kInt64, {2})}, {nullptr, &sizes},
                    {{"axis", a_int(1)}}, 2);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.types[1].to_string(), "float32[N,2]");
}

// ---- Gather -----------------------------------------------------------------------------------------

TEST(ShapeOpsGather, NegativeIndicesAlongAxis1) {
  auto r = run_op("Gather", 13, {iota_f32({2, 3}), i64({2}, {-1, 0})}, {{"axis", a_int(1)}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out().shape(), (Shape{2, 2}));
  EXPECT_EQ(values_of<float>(r.out()), (std::vector<float>{2, 0, 5, 3}));
}

TEST(ShapeOpsGather, ScalarIndexDropsTheAxis) {
  // Shape -> Gather(0) gives the batch as a scalar.
  auto r = run_op("Gather", 13, {i64v({8, 3, 224, 224}), i64({}, {0})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out().rank(), 0u);
  EXPECT_EQ(r.out().data<int64_t>()[0], 8);
  r = run_op("Gather", 13, {iota_f32({3, 2}), i32({2, 2}, {2, 0, 1, 2})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out().shape(), (Shape{2, 2, 2}));
  EXPECT_EQ(values_of<float>(r.out()), (std::vector<float>{4, 5, 0, 1, 2, 3, 4, 5}));
}

TEST(ShapeOpsGather, OutOfRangeIndexFailsNamingTheNode) {
  auto r = run_op("Gather", 13, {iota_f32({3}), i64v({3})});
  EXPECT_EQ(r.status.code(), StatusCode::kOutOfRange);
  EXPECT_TRUE(mentions(r.status, "my_Gather"));
  r = run_op("Gather", 13, {iota_f32({3}), i64v({-4})});
  EXPECT_EQ(r.status.code(), StatusCode::kOutOfRange);
  // The kernel checks too (indices unknown at inference).
  Node node = make_node("Gather", 2, 1, {});
  Tensor data = iota_f32({3}), idx = i64v({0, 7}), out(DType::kFloat32, {2});
  KernelContext k{node, 13, {&data, &idx}, {&out}, nullptr};
  Status s = ref_Gather(k);
  EXPECT_EQ(s.code(), StatusCode::kOutOfRange);
  EXPECT_TRUE(mentions(s, "my_Gather"));
}

TEST(ShapeOpsGather, SymbolicShape) {
  auto r = infer_op("Gather", 13, {vt(DType::kFloat32, {sym("N"), 10, 4}), vt(DType::kInt64, {sym("K")})}, {},
                    {{"axis", a_int(1)}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.type().to_string(), "float32[N,K,4]");
}

// ---- Shape / Size -----------------------------------------------------------------------------------

TEST(ShapeOpsShape, SymbolicInputGivesInt64Rank) {
  auto r = infer_op("Shape", 13, {vt(DType::kFloat32, {sym("batch"), 3, sym("H"), sym("W")})}, {});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.type().to_string(), "int64[4]");
}

TEST(ShapeOpsShape, StartEndFromOpset15) {
  auto r = run_op("Shape", 15, {iota_f32({2, 3, 4, 5})}, {{"start", a_int(1)}, {"end", a_int(-1)}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(values_of<int64_t>(r.out()), (std::vector<int64_t>{3, 4}));
  r = run_op("Shape", 15, {iota_f32({2, 3})}, {{"start", a_int(-10)}, {"end", a_int(10)}});
  EXPECT_EQ(values_of<int64_t>(r.out()), (std::vector<int64_t>{2, 3}));
  r = run_op("Shape", 15, {iota_f32({2, 3})}, {{"start", a_int(2)}, {"end", a_int(1)}});
  EXPECT_EQ(r.out().numel(), 0);
  r = run_op("Shape", 13, {Tensor(DType::kBool, {7, 1})});
  EXPECT_EQ(values_of<int64_t>(r.out()), (std::vector<int64_t>{7, 1}));
}

TEST(ShapeOpsShape, FoldsFromStaticShapeWithoutData) {
  Node shape = make_node("Shape", 1, 1, {{"start", a_int(-2)}});
  Tensor v = shape_ops::fold_shape_or_size(shape, 15, vt(DType::kFloat32, {8, 3, 224, 224}));
  ASSERT_TRUE(v.defined());
  EXPECT_EQ(values_of<int64_t>(v), (std::vector<int64_t>{224, 224}));
  EXPECT_FALSE(shape_ops::fold_shape_or_size(shape, 15, vt(DType::kFloat32, {sym("N"), 3})).defined());
  Tensor n = shape_ops::fold_shape_or_size(make_node("Size", 1, 1, {}), 13, vt(DType::kFloat32, {8, 3}));
  ASSERT_TRUE(n.defined());
  EXPECT_EQ(n.data<int64_t>()[0], 24);
}

TEST(ShapeOpsSize, CountsElements) {
  auto r = run_op("Size", 13, {iota_f32({2, 3, 4})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out().rank(), 0u);
  EXPECT_EQ(r.out().data<int64_t>()[0], 24);
}

// ---- Reshape ----------------------------------------------------------------------------------------

TEST(ShapeOpsReshape, ZeroCopiesAndMinusOneInfers) {
  auto r = run_op("Reshape", 13, {iota_f32({2, 3, 4}), i64v({0, -1})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out().shape(), (Shape{2, 12}));
  EXPECT_EQ(r.out().data<float>()[23], 23);
  r = run_op("Reshape", 13, {iota_f32({2, 3, 4}), i64v({-1, 0, 2})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out().shape(), (Shape{4, 3, 2}));
}

TEST(ShapeOpsReshape, AllowZeroMakesZeroLiteral) {
  auto r = run_op("Reshape", 14, {iota_f32({0, 3}), i64v({3, 0})}, {{"allowzero", a_int(1)}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out().shape(), (Shape{3, 0}));
  // Without allowzero the 0 copies dim 1 (3): 9 elements != 0.
  EXPECT_FALSE(run_op("Reshape", 14, {iota_f32({0, 3}), i64v({3, 0})}).status.ok());
  // 0 and -1 together are ambiguous under allowzero.
  EXPECT_FALSE(run_op("Reshape", 14, {iota_f32({0, 3}), i64v({0, -1})}, {{"allowzero", a_int(1)}}).status.ok());
}

TEST(ShapeOpsReshape, InvalidTargetsFail) {
  EXPECT_FALSE(run_op("Reshape", 13, {iota_f32({6}), i64v({-1, -1})}).status.ok());
  EXPECT_FALSE(run_op("Reshape", 13, {iota_f32({6}), i64v({4, -1})}).status.ok());
  EXPECT_FALSE(run_op("Reshape", 13, {iota_f32({6}), i64v({7})}).status.ok());
  EXPECT_FALSE(run_op("Reshape", 13, {iota_f32({6}), i64v({-2, -3})}).status.ok());
  EXPECT_FALSE(run_op("Reshape", 13, {iota_f32({6}), i64v({6, 0})}).status.ok());  // 0 copies a missing dim
  Status s = run_op("Reshape", 13, {iota_f32({6}), i64v({int64_t(1) << 40, int64_t(1) << 40})}).status;
  EXPECT_FALSE(s.ok());
}

TEST(ShapeOpsReshape, SymbolicBatchKept) {
  Tensor target = i64v({0, -1});
  auto r = infer_op("Reshape", 13, {vt(DType::kFloat32, {sym("batch"), 2048, 1, 1}), vt(DType::kInt64, {2})},
                    {nullptr, &target});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.type().to_string(), "float32[batch,2048]");
  // -1 takes the symbol when everything else cancels.
  Tensor target2 = i64v({-1, 12});
  r = infer_op("Reshape", 13, {vt(DType::kFloat32, {sym("batch"), 3, 4}), vt(DType::kInt64, {2})}, {nullptr, &target2});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.type().to_string(), "float32[batch,12]");
  // Not computable: unknown, rank still right.
  Tensor target3 = i64v({-1, 5});
  r = infer_op("Reshape", 13, {vt(DType::kFloat32, {sym("batch"), 10}), vt(DType::kInt64, {2})}, {nullptr, &target3});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.type().to_string(), "float32[?,5]");
}

TEST(ShapeOpsReshape, UnknownTargetGivesRankFromItsLength) {
  auto r = infer_op("Reshape", 13, {vt(DType::kFloat32, {sym("batch"), 8}), vt(DType::kInt64, {3})}, {});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.type().to_string(), "float32[?,?,?]");
  r = infer_op("Reshape", 13, {vt(DType::kFloat32, {sym("batch"), 8}), vt(DType::kInt64, {sym("n")})}, {});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_FALSE(r.type().has_shape);
}

// ---- Flatten ----------------------------------------------------------------------------------------

TEST(ShapeOpsFlatten, AxesIncludingZeroAndNegative) {
  auto r = run_op("Flatten", 13, {iota_f32({2, 3, 4})}, {{"axis", a_int(0)}});
  EXPECT_EQ(r.out().shape(), (Shape{1, 24}));
  r = run_op("Flatten", 13, {iota_f32({2, 3, 4})}, {{"axis", a_int(-1)}});
  EXPECT_EQ(r.out().shape(), (Shape{6, 4}));
  r = run_op("Flatten", 13, {iota_f32({2, 3, 4})});
  EXPECT_EQ(r.out().shape(), (Shape{2, 12}));
  EXPECT_EQ(r.out().data<float>()[13], 13);
  r = run_op("Flatten", 13, {iota_f32({2, 3, 4})}, {{"axis", a_int(3)}});
  EXPECT_EQ(r.out().shape(), (Shape{24, 1}));
  EXPECT_FALSE(run_op("Flatten", 13, {iota_f32({2, 3, 4})}, {{"axis", a_int(4)}}).status.ok());
}

TEST(ShapeOpsFlatten, SymbolicBatchKept) {
  auto r = infer_op("Flatten", 13, {vt(DType::kFloat32, {sym("batch"), 2048, 1, 1})}, {});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.type().to_string(), "float32[batch,2048]");
}

// ---- Transpose --------------------------------------------------------------------------------------

TEST(ShapeOpsTranspose, DefaultReversesAxes) {
  auto r = run_op("Transpose", 13, {iota_f32({2, 3})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out().shape(), (Shape{3, 2}));
  EXPECT_EQ(values_of<float>(r.out()), (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

TEST(ShapeOpsTranspose, NchwToNhwcMatchesDefinitionWithThreads) {
  ThreadPool pool(2);
  const int64_t n = 2, c = 3, h = 17, w = 19;
  Tensor x = iota_f32({n, c, h, w});
  auto r = run_op("Transpose", 13, {x}, {{"perm", a_ints({0, 2, 3, 1})}}, 1, &pool);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  ASSERT_EQ(r.out().shape(), (Shape{n, h, w, c}));
  for (int64_t a = 0; a < n; ++a)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t z = 0; z < w; ++z)
        for (int64_t k = 0; k < c; ++k)
          ASSERT_EQ(r.out().data<float>()[((a * h + y) * w + z) * c + k], float(((a * c + k) * h + y) * w + z));
}

TEST(ShapeOpsTranspose, BadPermFails) {
  EXPECT_FALSE(run_op("Transpose", 13, {iota_f32({2, 3})}, {{"perm", a_ints({0, 0})}}).status.ok());
  EXPECT_FALSE(run_op("Transpose", 13, {iota_f32({2, 3})}, {{"perm", a_ints({0, 1, 2})}}).status.ok());
  auto r = infer_op("Transpose", 13, {vt(DType::kInt64, {sym("N"), 3})}, {}, {{"perm", a_ints({1, 0})}});
  EXPECT_EQ(r.type().to_string(), "int64[3,N]");
}

// ---- Squeeze / Unsqueeze ----------------------------------------------------------------------------

TEST(ShapeOpsSqueeze, AttributeBefore13InputFrom13) {
  auto r = run_op("Squeeze", 11, {iota_f32({1, 3, 1})}, {{"axes", a_ints({-1})}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out().shape(), (Shape{1, 3}));
  r = run_op("Squeeze", 13, {iota_f32({1, 3, 1}), i64v({0, 2})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out().shape(), (Shape{3}));
  r = run_op("Squeeze", 13, {iota_f32({1, 3, 1})});  // no axes: every 1
  EXPECT_EQ(r.out().shape(), (Shape{3}));
  r = run_op("Squeeze", 13, {iota_f32({1, 3, 1}), i64({0}, {})});  // an empty list too
  EXPECT_EQ(r.out().shape(), (Shape{3}));
  EXPECT_FALSE(run_op("Squeeze", 13, {iota_f32({1, 3, 1}), i64v({1})}).status.ok());
  EXPECT_FALSE(run_op("Squeeze", 13, {iota_f32({1, 3, 1}), i64v({0, -3})}).status.ok());  // repeated
}

TEST(ShapeOpsSqueeze, SymbolicDims) {
  auto r = infer_op("Squeeze", 11, {vt(DType::kFloat32, {sym("N"), 1, 7})}, {}, {{"axes", a_ints({1})}});
  EXPECT_EQ(r.type().to_string(), "float32[N,7]");
  r = infer_op("Squeeze", 11, {vt(DType::kFloat32, {sym("N"), 1, 7})}, {});  // is N 1? unknowable
  ASSERT_TRUE(r.status.ok());
  EXPECT_FALSE(r.type().has_shape);
}

TEST(ShapeOpsUnsqueeze, AttributeBefore13InputFrom13) {
  auto r = run_op("Unsqueeze", 11, {iota_f32({3})}, {{"axes", a_ints({0, -1})}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out().shape(), (Shape{1, 3, 1}));
  r = run_op("Unsqueeze", 13, {i64({}, {8}), i64v({0})});  // scalar batch -> [8] for Concat
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out().shape(), (Shape{1}));
  EXPECT_EQ(r.out().data<int64_t>()[0], 8);
  r = run_op("Unsqueeze", 13, {iota_f32({2, 3}), i64v({1, 3})});
  EXPECT_EQ(r.out().shape(), (Shape{2, 1, 3, 1}));
  EXPECT_FALSE(run_op("Unsqueeze", 13, {iota_f32({3}), i64v({2})}).status.ok());
  EXPECT_FALSE(run_op("Unsqueeze", 13, {iota_f32({3}), i64v({0, 0})}).status.ok());
  EXPECT_FALSE(run_op("Unsqueeze", 13, {iota_f32({3})}).status.ok());
  auto s = infer_op("Unsqueeze", 13, {vt(DType::kFloat32, {sym("N"), 3}), vt(DType::kInt64, {2})}, {});
  EXPECT_EQ(s.type().to_string(), "float32[?,?,?,?]");
}

// ---- A PyTorch shape sub-graph through validate_and_infer ---------------------------------------------

TEST(ShapeOpsGraph, PyTorchFlattenChainKeepsRank) {
  // x -> Shape -> Gather(0) -> Unsqueeze -> Concat([.., -1]) -> Reshape(x, ...)
  Graph g;
  g.opset = 13;
  g.inputs = {"x"};
  g.outputs = {"y"};
  g.values["x"] = ValueInfo{"x", vt(DType::kFloat32, {sym("batch"), 512, 1, 1}), std::nullopt, false, -1};
  auto add_const = [&](const std::string& name, Tensor t) {
    g.values[name] = ValueInfo{name, ValueType::of(t), t, true, -1};
  };
  add_const("zero", i64({}, {0}));
  add_const("axes0", i64v({0}));
  add_const("minus_one", i64v({-1}));
  auto node = [&](std::string op, std::vector<std::string> in, std::string out, std::map<std::string, Attribute> a) {
    Node n;
    n.op_type = std::move(op);
    n.name = out + "_node";
    n.inputs = std::move(in);
    n.outputs = {std::move(out)};
    n.attrs = std::move(a);
    g.nodes.push_back(n);
  };
  node("Shape", {"x"}, "shape", {});
  node("Gather", {"shape", "zero"}, "batch", {});
  node("Unsqueeze", {"batch", "axes0"}, "batch1", {});
  node("Concat", {"batch1", "minus_one"}, "target", {{"axis", a_int(0)}});
  node("Reshape", {"x", "target"}, "y", {});
  auto issues = validate_and_infer(g);
  ASSERT_TRUE(issues.empty()) << issues[0].message;
  EXPECT_EQ(g.find("shape")->type.to_string(), "int64[4]");
  EXPECT_EQ(g.find("batch")->type.to_string(), "int64[]");
  EXPECT_EQ(g.find("target")->type.to_string(), "int64[2]");
  EXPECT_EQ(g.find("y")->type.rank(), 2u);
}

}  // namespace
}  // namespace lowbit
