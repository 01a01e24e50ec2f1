#include "passes_test_util.h"

namespace lowbit::passes_test {

namespace {
// x.view(x.size(0), -1) as PyTorch exports it with a dynamic batch.
Graph view_flatten_graph(std::vector<Dim> dims) {
  GraphBuilder b;
  auto x = b.input("x", dims);
  auto r = b.node("Relu", {x});
  auto shape = b.node("Shape", {r});
  auto n = b.node("Gather", {shape, b.constant("zero", int64_tensor({}, {0}))}, {{"axis", i64(0)}});
  auto target = b.node("Concat", {b.node("Unsqueeze", {n, b.constant("ax", int64_tensor({1}, {0}))}),
                                  b.constant("minus1", int64_tensor({1}, {-1}))},
                       {{"axis", i64(0)}});
  b.output(b.node("Reshape", {r, target}));
  return b.build();
}
}  // namespace

TEST(PassFoldShapeSubgraphs, DynamicBatchViewBecomesStaticReshape) {
  Graph before = view_flatten_graph({Dim::symbol("N"), 3, 2, 2}), after = before;
  PassReport r = run_pass_ok(after, "fold_shape_subgraphs");
  EXPECT_EQ(r.changes, 1);
  run_pass_ok(after, "eliminate_dead_code");
  EXPECT_EQ(count_op(after, "Shape"), 0);
  EXPECT_EQ(count_op(after, "Concat"), 0);
  const Node* reshape = find_node_by_op(after, "Reshape");
  ASSERT_NE(reshape, nullptr);
  const Tensor* t = after.constant(reshape->inputs[1]);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->get_as_int64(0), 0);  // copy the batch dim
  EXPECT_EQ(t->get_as_int64(1), -1);
  // The output keeps its symbolic batch and 12 features.
  const ValueInfo* out = after.find(after.outputs[0]);
  ASSERT_EQ(out->type.rank(), 2u);
  EXPECT_EQ(out->type.dims[0].param, "N");
  EXPECT_EQ(out->type.dims[1].value, 12);
  for (int64_t batch : {1, 3}) expect_same_outputs(before, after, 11, 1e-6, batch);
}

TEST(PassFoldShapeSubgraphs, KnownDimsOfAPartlySymbolicShapeFold) {
  // Reshape(x, [N, C*H*W]) built from Shape: N symbolic, the others known -> [0, 12].
  GraphBuilder b;
  auto x = b.input("x", {Dim::symbol("N"), 3, 2, 2});
  auto shape = b.node("Shape", {x});
  auto n = b.node("Gather", {shape, b.constant("zero", int64_tensor({1}, {0}))});
  auto chw = b.node("ReduceProd", {b.node("Gather", {shape, b.constant("rest", int64_tensor({3}, {1, 2, 3}))})},
                    {{"keepdims", i64(1)}});
  b.output(b.node("Reshape", {x, b.node("Concat", {n, chw}, {{"axis", i64(0)}})}));
  Graph before = b.build(), after = before;
  OptimizeOptions opt;
  ASSERT_TRUE(optimize_graph(after, opt).ok());
  EXPECT_EQ(after.nodes.size(), 1u);
  const Tensor* t = after.constant(after.nodes[0].inputs[1]);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->get_as_int64(0), 0);
  EXPECT_EQ(t->get_as_int64(1), 12);
  for (int64_t batch : {1, 4}) expect_same_outputs(before, after, 3, 1e-6, batch);
}

TEST(PassFoldShapeSubgraphs, UnknownDimFromAnotherTensorIsLeftAlone) {
  // The target's first entry is the batch of a different tensor with another symbol: not provably equal.
  GraphBuilder b;
  auto x = b.input("x", {Dim::symbol("N"), 4});
  auto z = b.input("z", {Dim::symbol("M"), 4});
  auto n = b.node("Gather", {b.node("Shape", {z}), b.constant("zero", int64_tensor({1}, {0}))});
  auto m = b.node("Gather", {b.node("Shape", {x}), b.constant("one", int64_tensor({1}, {1}))});
  auto target = b.node("Concat", {n, m, b.constant("minus1", int64_tensor({1}, {-1}))}, {{"axis", i64(0)}});
  b.output(b.node("Reshape", {x, target}));
  Graph g = b.build();
  run_pass_ok(g, "fold_shape_subgraphs");
  const Node* reshape = find_node_by_op(g, "Reshape");
  ASSERT_NE(reshape, nullptr);
  EXPECT_EQ(g.constant(reshape->inputs[1]), nullptr);
}

}  // namespace lowbit::passes_test
