#include "passes_test_util.h"

namespace lowbit::passes_test {

TEST(PassMatmulAddToGemm, FusesLegalPatternsWithBothOperandOrders) {
  for (Shape c_shape : {Shape{4}, Shape{1, 4}, Shape{}, Shape{3, 4}}) {
    GraphBuilder b;
    auto a = b.input("a", {3, 5});
    auto mm = b.node("MatMul", {a, b.random_constant("w", {5, 4})});
    auto c = b.random_constant("c", c_shape);
    b.output(b.node("Add", c_shape.empty() ? std::vector<std::string>{c, mm} : std::vector<std::string>{mm, c}));
    Graph before = b.build(), after = before;
    PassReport r = run_pass_ok(after, "matmul_add_to_gemm");
    EXPECT_EQ(r.changes, 1);
    ASSERT_EQ(after.nodes.size(), 1u);
    EXPECT_EQ(after.nodes[0].op_type, "Gemm");
    expect_same_outputs(before, after);
  }
}

TEST(PassMatmulAddToGemm, LeavesIllegalPatterns) {
  GraphBuilder b;
  auto a3 = b.input("a3", {2, 3, 5});  // 3-D A: batch matmul
  auto a = b.input("a", {Dim::symbol("M"), 5});
  auto w = b.random_constant("w", {5, 4});
  b.output(b.node("Add", {b.node("MatMul", {a3, w}), b.random_constant("c3", {4})}));
  auto dyn = b.input("dyn_bias", {4});                      // bias not constant
  b.output(b.node("Add", {b.node("MatMul", {a, w}), dyn}));
  auto m2 = b.node("MatMul", {a, b.random_constant("w2", {5, 4})});
  b.output(b.node("Add", {m2, b.random_constant("c_rows", {7, 4})}));  // rows may not match symbolic M
  auto m3 = b.node("MatMul", {a, b.random_constant("w3", {5, 4})});
  b.output(m3);  // MatMul output is also a graph output
  b.output(b.node("Add", {m3, b.random_constant("c4", {4})}));
  Graph g = b.build();
  PassReport r = run_pass_ok(g, "matmul_add_to_gemm");
  EXPECT_EQ(r.changes, 0);
  EXPECT_EQ(count_op(g, "Gemm"), 0);
}

}  // namespace lowbit::passes_test
