#include "passes_test_util.h"

namespace lowbit::passes_test {

TEST(PassFoldConstants, FoldsConstantSubgraphsWithTheReferenceKernels) {
  GraphBuilder b;
  auto x = b.input("x", {2, 3});
  auto c1 = b.random_constant("c1", {3});
  auto c2 = b.random_constant("c2", {3});
  auto k = b.node("Mul", {b.node("Add", {c1, c2}), c2});  // all constant
  auto y = b.node("Add", {x, k});
  b.output(y);
  Graph before = b.build(), after = before;
  PassReport r = run_pass_ok(after, "fold_constants");
  EXPECT_EQ(r.changes, 2);
  ASSERT_EQ(after.nodes.size(), 1u);
  ASSERT_NE(after.constant(after.nodes[0].inputs[1]), nullptr);
  expect_same_outputs(before, after);
}

TEST(PassFoldConstants, FoldsShapeOfStaticTensorsAndTheWholeFlattenChain) {
  GraphBuilder b;
  auto x = b.input("x", {2, 3, 4});
  auto shape = b.node("Shape", {x});
  auto n = b.node("Gather", {shape, b.constant("zero", int64_tensor({}, {0}))});
  auto target = b.node("Concat", {b.node("Unsqueeze", {n, b.constant("ax", int64_tensor({1}, {0}))}),
                                  b.constant("minus1", int64_tensor({1}, {-1}))},
                       {{"axis", i64(0)}});
  auto y = b.node("Reshape", {x, target});
  b.output(y);
  Graph before = b.build(), after = before;
  run_pass_ok(after, "fold_constants");
  ASSERT_EQ(after.nodes.size(), 1u);
  EXPECT_EQ(after.nodes[0].op_type, "Reshape");
  const Tensor* t = after.constant(after.nodes[0].inputs[1]);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->get_as_int64(0), 2);
  EXPECT_EQ(t->get_as_int64(1), -1);
  expect_same_outputs(before, after);
}

TEST(PassFoldConstants, LeavesOverridableInitializersOutputsAndHugeResults) {
  GraphBuilder b;
  auto x = b.input("x", {2});
  auto over = b.constant("over", random_tensor({2}, 5), /*overridable=*/true);
  auto c = b.random_constant("c", {2});
  auto a = b.node("Add", {over, c});                     // reads an overridable initializer
  auto out_const = b.node("Neg", {c});                   // a graph output
  auto big = b.node("Expand", {c, b.constant("shape", int64_tensor({2}, {1 << 12, 2}))});
  b.output(b.node("Add", {x, a}));
  b.output(out_const);
  b.output(b.node("ReduceSum", {big}, {{"keepdims", i64(0)}}));
  Graph g = b.build();
  OptimizeOptions opt;
  opt.max_folded_bytes = 16 << 10;  // the Expand result is 32 KiB
  PassReport r = run_pass_ok(g, "fold_constants", opt);
  EXPECT_EQ(r.changes, 0);
  EXPECT_EQ(count_op(g, "Expand"), 1);
  EXPECT_EQ(count_op(g, "Neg"), 1);
  EXPECT_EQ(count_op(g, "Add"), 2);
}

}  // namespace lowbit::passes_test
