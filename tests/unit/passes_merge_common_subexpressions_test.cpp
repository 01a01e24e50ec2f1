#include "passes_test_util.h"

namespace lowbit::passes_test {

TEST(PassMergeCommonSubexpressions, MergesDuplicateNodesAndConstants) {
  GraphBuilder b;
  auto x = b.input("x", {2, 3});
  auto three_a = b.constant("three_a", Tensor::from_vector(DType::kFloat32, {}, std::vector<float>{3}));
  auto three_b = b.constant("three_b", Tensor::from_vector(DType::kFloat32, {}, std::vector<float>{3}));
  auto a1 = b.node("Add", {x, three_a});
  auto a2 = b.node("Add", {x, three_b});  // same after the constants merge
  auto r1 = b.node("Relu", {a1});
  auto r2 = b.node("Relu", {a2});
  auto l1 = b.node("LeakyRelu", {a1}, {{"alpha", f32(0.1f)}});
  auto l2 = b.node("LeakyRelu", {a1}, {{"alpha", f32(0.2f)}});  // different attribute: kept
  b.output(b.node("Sum", {r1, r2, l1, l2}));
  Graph before = b.build(), after = before;
  run_pass_ok(after, "merge_common_subexpressions");
  EXPECT_EQ(count_op(after, "Add"), 1);
  EXPECT_EQ(count_op(after, "Relu"), 1);
  EXPECT_EQ(count_op(after, "LeakyRelu"), 2);
  expect_same_outputs(before, after);
}

TEST(PassMergeCommonSubexpressions, NeverMergesAGraphOutputAway) {
  GraphBuilder b;
  auto x = b.input("x", {4});
  auto s1 = b.node("Sigmoid", {x});
  auto s2 = b.node("Sigmoid", {x});
  b.output(s1);
  b.output(s2);
  Graph before = b.build(), after = before;
  run_pass_ok(after, "merge_common_subexpressions");
  EXPECT_EQ(after.outputs, before.outputs);
  expect_same_outputs(before, after);
}

}  // namespace lowbit::passes_test
