#include "passes_test_util.h"

namespace lowbit::passes_test {

TEST(PassFoldConvScaleShift, MulAddChainOfEveryConstantShapeFoldsIntoTheConv) {
  // Paddle's LearnableAffineBlock (scalar [1]) and BN-as-Mul+Add ([C,1,1], [1,C,1,1]), with and without bias.
  for (bool bias : {false, true}) {
    GraphBuilder b;
    auto x = b.input("x", {Dim::symbol("N"), 4, 6, 6});
    std::vector<std::string> conv_in = {x, b.random_constant("w", {6, 2, 3, 3})};
    if (bias) conv_in.push_back(b.random_constant("b", {6}));
    auto y = b.node("Conv", conv_in, {{"group", i64(2)}, {"pads", ints({1, 1, 1, 1})}});
    y = b.node("Mul", {b.random_constant("s1", {1}, 0.5f, 2.0f), y});  // constant first
    y = b.node("Add", {y, b.random_constant("t1", {1})});
    y = b.node("Mul", {y, b.random_constant("s2", {6, 1, 1}, -2.0f, 2.0f)});
    y = b.node("Add", {b.random_constant("t2", {1, 6, 1, 1}), y});
    y = b.node("Sub", {y, b.random_constant("t3", {6, 1, 1})});
    y = b.node("Div", {y, b.random_constant("s3", {}, 1.0f, 2.0f)});
    y = b.node("Sub", {b.random_constant("t4", {6, 1, 1}), y});  // c - y flips the sign
    b.output(y);
    Graph before = b.build(), after = before;
    PassReport r = run_pass_ok(after, "fold_conv_scale_shift");
    EXPECT_EQ(r.changes, 1);
    ASSERT_EQ(after.nodes.size(), 1u);
    EXPECT_EQ(after.nodes[0].op_type, "Conv");
    EXPECT_EQ(after.nodes[0].num_inputs(), 3u);
    EXPECT_EQ(after.nodes[0].outputs[0], y);
    expect_same_outputs(before, after);
  }
}

// ConvTranspose (weights C x M/group x k): Paddle's DB head writes its bias as an Add after the layer.
TEST(PassFoldConvScaleShift, ScaleShiftFoldsIntoAGroupedConvTranspose) {
  for (int64_t group : {1, 2}) {
    GraphBuilder b;
    auto x = b.input("x", {1, 4, 3, 3});
    auto y = b.node("ConvTranspose", {x, b.random_constant("w", {4, 6 / group, 2, 2})},
                    {{"group", i64(group)}, {"strides", ints({2, 2})}});
    y = b.node("Mul", {y, b.random_constant("s", {1, 6, 1, 1}, -2.0f, 2.0f)});
    y = b.node("Add", {y, b.random_constant("t", {6, 1, 1})});
    b.output(y);
    Graph before = b.build(), after = before;
    run_pass_ok(after, "fold_conv_scale_shift");
    ASSERT_EQ(after.nodes.size(), 1u) << group;
    EXPECT_EQ(after.nodes[0].op_type, "ConvTranspose");
    expect_same_outputs(before, after);
  }
}

TEST(PassFoldConvScaleShift, LeavesNonChannelConstantsSharedOutputsAndFusedConvs) {
  GraphBuilder b;
  auto x = b.input("x", {1, 3, 5, 5});
  // Per-width constant: broadcasts along W, not per channel.
  auto y1 = b.node("Conv", {x, b.random_constant("w1", {4, 3, 1, 1})});
  b.output(b.node("Mul", {y1, b.random_constant("sw", {1, 5})}));
  // Conv output also read elsewhere.
  auto y2 = b.node("Conv", {x, b.random_constant("w2", {4, 3, 1, 1})});
  b.output(b.node("Add", {y2, b.random_constant("t2", {4, 1, 1})}));
  b.output(b.node("Relu", {y2}));
  // Constant of higher rank than the output would change the output's shape.
  auto y3 = b.node("Conv", {x, b.random_constant("w3", {4, 3, 1, 1})});
  b.output(b.node("Mul", {y3, b.random_constant("s3", {1, 1, 4, 1, 1})}));
  // Non-constant other operand, and c / y.
  auto y4 = b.node("Conv", {x, b.random_constant("w4", {4, 3, 1, 1})});
  b.output(b.node("Div", {b.random_constant("s4", {1}, 1.0f, 2.0f), y4}));
  // A conv with a fused activation: the activation applies after the bias.
  auto y5 = b.node("Conv", {x, b.random_constant("w5", {4, 3, 1, 1})}, {{"lowbit_activation", str("Relu")}});
  b.output(b.node("Add", {y5, b.random_constant("t5", {1})}));
  Graph before = b.build(), after = before;
  PassReport r = run_pass_ok(after, "fold_conv_scale_shift");
  EXPECT_EQ(r.changes, 0);
  EXPECT_EQ(after.nodes.size(), before.nodes.size());
  expect_same_outputs(before, after);
}

TEST(PassFoldConvScaleShift, PinnedNodesAndOverridableConstantsStay) {
  for (int variant : {0, 1}) {
    GraphBuilder b;
    auto x = b.input("x", {1, 3, 5, 5});
    auto y = b.node("Conv", {x, b.random_constant("w", {4, 3, 3, 3})}, {}, "conv");
    auto s = variant == 0 ? b.random_constant("s", {4, 1, 1}) : b.constant("s", random_tensor({4, 1, 1}, 3), true);
    b.output(b.node("Mul", {y, s}, {}, "mul"));
    Graph before = b.build(), after = before;
    OptimizeOptions keep;
    if (variant == 0) keep.keep_nodes = {"mul"};
    PassReport r = run_pass_ok(after, "fold_conv_scale_shift", keep);
    EXPECT_EQ(r.changes, 0);
    EXPECT_EQ(count_op(after, "Mul"), 1);
  }
}

TEST(PassFoldConvScaleShift, StopsAtTheFirstNodeThatIsNotAScaleShift) {
  // Conv -> Mul -> Add(+3) -> Clip: Mul and Add fold, Clip stays and reads the Conv.
  GraphBuilder b(11);
  auto x = b.input("x", {2, 3, 4, 4});
  auto y = b.node("Conv", {x, b.random_constant("w", {5, 3, 1, 1}), b.random_constant("b", {5})});
  y = b.node("Mul", {y, b.random_constant("s", {5, 1, 1})});
  y = b.node("Add", {y, b.constant("three", Tensor::from_vector(DType::kFloat32, {}, std::vector<float>{3.0f}))});
  b.output(b.node("Clip", {y, b.constant("lo", Tensor::from_vector(DType::kFloat32, {}, std::vector<float>{0.f})),
                           b.constant("hi", Tensor::from_vector(DType::kFloat32, {}, std::vector<float>{6.f}))}));
  Graph before = b.build(), after = before;
  run_pass_ok(after, "fold_conv_scale_shift");
  EXPECT_EQ(after.nodes.size(), 2u);
  EXPECT_EQ(count_op(after, "Conv"), 1);
  EXPECT_EQ(count_op(after, "Clip"), 1);
  expect_same_outputs(before, after);
}

}  // namespace lowbit::passes_test
