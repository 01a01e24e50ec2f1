#include "passes_test_util.h"

namespace lowbit::passes_test {

namespace {
// BN parameters with non-trivial statistics (identity BN would hide folding mistakes).
std::vector<std::string> bn_params(GraphBuilder& b, const std::string& p, int64_t c) {
  return {b.random_constant(p + "_scale", {c}, 0.5f, 1.5f), b.random_constant(p + "_bias", {c}, -0.5f, 0.5f),
          b.random_constant(p + "_mean", {c}, -0.3f, 0.3f), b.random_constant(p + "_var", {c}, 0.5f, 1.5f)};
}
std::vector<std::string> with(std::string x, std::vector<std::string> rest) {
  rest.insert(rest.begin(), std::move(x));
  return rest;
}
}  // namespace

TEST(PassFoldBatchnorm, IntoConvWithAndWithoutBias) {
  for (bool bias : {false, true}) {
    GraphBuilder b;
    auto x = b.input("x", {Dim::symbol("N"), 4, 6, 6});
    std::vector<std::string> conv_in = {x, b.random_constant("w", {6, 2, 3, 3})};
    if (bias) conv_in.push_back(b.random_constant("b", {6}));
    auto y = b.node("Conv", conv_in, {{"group", i64(2)}, {"pads", ints({1, 1, 1, 1})}});
    b.output(b.node("BatchNormalization", with(y, bn_params(b, "bn", 6)), {{"epsilon", f32(1e-3f)}}));
    Graph before = b.build(), after = before;
    PassReport r = run_pass_ok(after, "fold_batchnorm");
    EXPECT_EQ(r.changes, 1);
    EXPECT_EQ(count_op(after, "BatchNormalization"), 0);
    ASSERT_EQ(after.nodes.size(), 1u);
    EXPECT_EQ(after.nodes[0].num_inputs(), 3u);
    expect_same_outputs(before, after);
  }
}

TEST(PassFoldBatchnorm, IntoGroupedConvTranspose) {
  GraphBuilder b;
  auto x = b.input("x", {1, 4, 3, 3});
  auto y = b.node("ConvTranspose", {x, b.random_constant("w", {4, 3, 2, 2}), b.random_constant("b", {6})},
                  {{"group", i64(2)}, {"strides", ints({2, 2})}});
  b.output(b.node("BatchNormalization", with(y, bn_params(b, "bn", 6))));
  Graph before = b.build(), after = before;
  run_pass_ok(after, "fold_batchnorm");
  EXPECT_EQ(after.nodes.size(), 1u);
  expect_same_outputs(before, after);
}

// Paddle writes ConvTranspose's bias as an Add of a [1, C, 1, 1] (or [C, 1, 1]) constant before the BN: the Add
// becomes the bias, then the BN folds. A [C] constant broadcasts over the last axis, not the channels: not folded.
TEST(PassFoldBatchnorm, BiasAddBetweenConvAndBnFoldsToo) {
  for (int form = 0; form < 4; ++form) {
    GraphBuilder b;
    auto x = b.input("x", {1, 4, 3, 3});
    std::vector<std::string> in = {x, b.random_constant("w", {4, 6, 2, 2})};
    if (form == 3) in.push_back(b.random_constant("b", {6}));
    auto y = b.node("ConvTranspose", in, {{"strides", ints({2, 2})}});
    const Shape add_shape = form == 0 ? Shape{1, 6, 1, 1} : form == 1 ? Shape{6, 1, 1} : form == 2 ? Shape{6} : Shape{1};
    auto biased = b.node("Add", {y, b.random_constant("add", add_shape)});
    b.output(b.node("BatchNormalization", with(biased, bn_params(b, "bn", 6))));
    Graph before = b.build(), after = before;
    run_pass_ok(after, "fold_batchnorm");
    EXPECT_EQ(count_op(after, "BatchNormalization"), 0) << form;
    // [6] broadcasts over W (6 wide): the Add stays, and the BN becomes a scale-shift of its own.
    EXPECT_EQ(after.nodes.size(), form == 2 ? 3u : 1u) << form;
    expect_same_outputs(before, after);
  }
}

TEST(PassFoldBatchnorm, IntoGemmWithTransposedWeightsAndScaledBias) {
  for (int trans_b : {0, 1}) {
    GraphBuilder b;
    auto x = b.input("x", {3, 5});
    auto w = b.random_constant("w", trans_b ? Shape{4, 5} : Shape{5, 4});
    auto y = b.node("Gemm", {x, w, b.random_constant("c", {1, 4})},
                    {{"transB", i64(trans_b)}, {"alpha", f32(0.5f)}, {"beta", f32(2.0f)}});
    b.output(b.node("BatchNormalization", with(y, bn_params(b, "bn", 4))));
    Graph before = b.build(), after = before;
    run_pass_ok(after, "fold_batchnorm");
    EXPECT_EQ(after.nodes.size(), 1u);
    expect_same_outputs(before, after);
  }
}

TEST(PassFoldBatchnorm, StandaloneBecomesScaleShift) {
  // After a graph input (rank 4 -> depthwise 1x1 Conv) and on a rank-2 tensor (-> Mul + Add).
  GraphBuilder b;
  auto x = b.input("x", {Dim::symbol("N"), 3, 4, 4});
  auto v = b.input("v", {Dim::symbol("N"), 5});
  b.output(b.node("BatchNormalization", with(x, bn_params(b, "bn1", 3))));
  b.output(b.node("BatchNormalization", with(v, bn_params(b, "bn2", 5))));
  Graph before = b.build(), after = before;
  PassReport r = run_pass_ok(after, "fold_batchnorm");
  EXPECT_EQ(r.changes, 2);
  EXPECT_EQ(count_op(after, "BatchNormalization"), 0);
  const Node* conv = find_node_by_op(after, "Conv");
  ASSERT_NE(conv, nullptr);
  EXPECT_EQ(conv->attr_int("group", 1), 3);
  EXPECT_EQ(count_op(after, "Mul"), 1);
  EXPECT_EQ(count_op(after, "Add"), 1);
  expect_same_outputs(before, after);
}

TEST(PassFoldBatchnorm, ConvOutputReadTwiceOrOverridableParamsAreNotFoldedIntoTheConv) {
  GraphBuilder b;
  auto x = b.input("x", {1, 2, 4, 4});
  auto y = b.node("Conv", {x, b.random_constant("w", {2, 2, 1, 1})});
  auto p = bn_params(b, "bn", 2);
  b.output(b.node("BatchNormalization", with(y, p)));
  b.output(b.node("Relu", {y}));  // the conv output is also used here
  auto over = b.constant("over_scale", random_tensor({2}, 9, 0.5f, 1.0f), /*overridable=*/true);
  b.output(b.node("BatchNormalization", {x, over, p[1], p[2], p[3]}));
  Graph before = b.build(), after = before;
  run_pass_ok(after, "fold_batchnorm");
  EXPECT_EQ(count_op(after, "BatchNormalization"), 1);  // the overridable one stays
  EXPECT_EQ(count_op(after, "Conv"), 2);                 // original conv + the scale-shift
  EXPECT_EQ(after.constant("w") != nullptr, true);
  expect_same_outputs(before, after);
}

}  // namespace lowbit::passes_test
