#include "passes_test_util.h"

#include "ops/fused_activation.h"

namespace lowbit::passes_test {

TEST(PassFuseResidualAdd, ResNetBlockBecomesOneConvWithResidualAndRelu) {
  GraphBuilder b;
  auto x = b.input("x", {Dim::symbol("N"), 4, 6, 6});
  auto h = b.node("Relu", {b.node("Conv", {x, b.random_constant("w1", {4, 4, 3, 3})}, {{"pads", ints({1, 1, 1, 1})}})});
  auto y = b.node("Conv", {h, b.random_constant("w2", {4, 4, 3, 3}), b.random_constant("b2", {4})},
                  {{"pads", ints({1, 1, 1, 1})}});
  b.output(b.node("Relu", {b.node("Add", {x, y})}));
  Graph before = b.build(), after = before;
  EXPECT_EQ(run_pass_ok(after, "fuse_residual_add").changes, 1);
  EXPECT_EQ(run_pass_ok(after, "fuse_conv_activation").changes, 2);
  ASSERT_EQ(after.nodes.size(), 2u);
  auto act = parse_fused_activation(after.nodes[1]);
  ASSERT_TRUE(act.ok());
  EXPECT_TRUE(act->residual);
  EXPECT_EQ(act->kind, FusedActivationKind::kRelu);
  EXPECT_EQ(after.nodes[1].inputs[3], "x");
  for (int64_t batch : {1, 2}) expect_same_outputs(before, after, 13, 1e-5, batch);
}

TEST(PassFuseResidualAdd, TwoConvBranchesAndNoBias) {
  // Downsample block: Add(conv_a(x), conv_b(x)); the later Conv takes the other branch as its residual.
  GraphBuilder b;
  auto x = b.input("x", {1, 3, 4, 4});
  auto a = b.node("Conv", {x, b.random_constant("wa", {5, 3, 1, 1})});
  auto c = b.node("Conv", {x, b.random_constant("wb", {5, 3, 3, 3})}, {{"pads", ints({1, 1, 1, 1})}});
  b.output(b.node("Add", {a, c}));
  Graph before = b.build(), after = before;
  EXPECT_EQ(run_pass_ok(after, "fuse_residual_add").changes, 1);
  EXPECT_EQ(after.nodes.size(), 2u);
  expect_same_outputs(before, after);
}

TEST(PassFuseResidualAdd, BroadcastingAddIsNotAResidual) {
  GraphBuilder b;
  auto x = b.input("x", {1, 3, 4, 4});
  auto y = b.node("Conv", {x, b.random_constant("w", {3, 3, 1, 1})});
  b.output(b.node("Add", {y, b.random_constant("bias", {3, 1, 1})}));
  Graph g = b.build();
  EXPECT_EQ(run_pass_ok(g, "fuse_residual_add").changes, 0);
}

}  // namespace lowbit::passes_test
