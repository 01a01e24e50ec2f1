#include "passes_test_util.h"

namespace lowbit::passes_test {

TEST(PassRemoveIdentity, RemovesIdentityDropoutAndNoOpCast) {
  GraphBuilder b(13);
  auto x = b.input("x", {Dim::symbol("N"), 4});
  auto a = b.node("Identity", {x});
  auto c = b.node("Cast", {a}, {{"to", i64(int64_t(DType::kFloat32))}});
  auto d = b.node("Dropout", {c}, {{"seed", i64(1)}});
  auto y = b.node("Relu", {d});
  b.output(y);
  Graph before = b.build(), after = before;
  PassReport r = run_pass_ok(after, "remove_identity");
  EXPECT_EQ(r.changes, 3);
  ASSERT_EQ(after.nodes.size(), 1u);
  EXPECT_EQ(after.nodes[0].inputs[0], "x");
  expect_same_outputs(before, after);
}

TEST(PassRemoveIdentity, KeepsRealCastsUsedMasksAndTrainingDropout) {
  GraphBuilder b(13);
  auto x = b.input("x", {2, 4});
  auto c = b.node("Cast", {x}, {{"to", i64(int64_t(DType::kFloat64))}});
  auto d = b.node_multi("Dropout", {x}, {}, 2);
  auto train = b.constant("train", Tensor::from_vector(DType::kBool, {}, std::vector<uint8_t>{1}));
  auto ratio = b.constant("ratio", Tensor::from_vector(DType::kFloat32, {}, std::vector<float>{0.0f}));
  auto t = b.node("Dropout", {x, ratio, train});
  b.output(c);
  b.output(d[1]);  // the mask is used
  b.output(d[0]);
  b.output(t);
  Graph g = b.build();
  PassReport r = run_pass_ok(g, "remove_identity");
  EXPECT_EQ(r.changes, 0);
  EXPECT_EQ(g.nodes.size(), 3u);
}

TEST(PassRemoveIdentity, IdentityAsGraphOutputRenamesTheProducer) {
  GraphBuilder b;
  auto x = b.input("x", {3});
  auto r = b.node("Relu", {x});
  auto s = b.node("Sigmoid", {r});
  auto out = b.node("Identity", {r}, {}, "final");
  b.output(s);
  b.output(out);
  Graph before = b.build(), after = before;
  run_pass_ok(after, "remove_identity");
  EXPECT_EQ(after.nodes.size(), 2u);
  EXPECT_EQ(count_op(after, "Identity"), 0);
  EXPECT_EQ(after.outputs, before.outputs);
  expect_same_outputs(before, after);
  // An Identity straight from a graph input into an output has nothing to rename: it stays.
  GraphBuilder b2;
  auto in = b2.input("in", {3});
  b2.output(b2.node("Identity", {in}));
  Graph g2 = b2.build();
  run_pass_ok(g2, "remove_identity");
  EXPECT_EQ(g2.nodes.size(), 1u);
}

}  // namespace lowbit::passes_test
