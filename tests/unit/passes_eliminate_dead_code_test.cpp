#include "passes_test_util.h"

namespace lowbit::passes_test {

TEST(PassEliminateDeadCode, RemovesUnusedNodesAndInitializers) {
  GraphBuilder b;
  auto x = b.input("x", {2, 3});
  auto w = b.random_constant("unused_w", {3, 3});
  auto dead = b.node("MatMul", {x, w});
  b.node("Relu", {dead});  // dead chain of two
  auto y = b.node("Sigmoid", {x});
  b.output(y);
  Graph before = b.build(), after = before;
  PassReport r = run_pass_ok(after, "eliminate_dead_code");
  EXPECT_EQ(after.nodes.size(), 1u);
  EXPECT_EQ(after.find("unused_w"), nullptr);
  EXPECT_GE(r.changes, 2);
  expect_same_outputs(before, after);
}

TEST(PassEliminateDeadCode, KeepsGraphOutputsPinnedNodesAndOverridableInitializers) {
  GraphBuilder b;
  auto x = b.input("x", {2, 3});
  b.constant("bias", random_tensor({3}, 3), /*overridable=*/true);
  auto a = b.node("Relu", {x});
  auto kept = b.node("Neg", {x}, {}, "keep_me");
  (void)kept;
  b.output(a);
  Graph g = b.build();
  OptimizeOptions opt;
  opt.keep_nodes.insert("keep_me");
  run_pass_ok(g, "eliminate_dead_code", opt);
  EXPECT_EQ(g.nodes.size(), 2u);
  EXPECT_NE(g.find("bias"), nullptr);
  run_pass_ok(g, "eliminate_dead_code");
  EXPECT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.outputs, std::vector<std::string>{a});
}

}  // namespace lowbit::passes_test
