#include "passes_test_util.h"

namespace lowbit::passes_test {

namespace {
std::string scalar(GraphBuilder& b, const std::string& name, float v, Shape shape = {}) {
  return b.constant(name, Tensor::from_vector(DType::kFloat32, std::move(shape), std::vector<float>{v}));
}
// Clip(v, 0, hi): bounds as inputs (opset >= 11) or attributes (opset < 11).
std::string relu_clip(GraphBuilder& b, int opset, const std::string& v, float hi) {
  if (opset < 11) return b.node("Clip", {v}, {{"min", f32(0.0f)}, {"max", f32(hi)}});
  // Named by value: a builder constant of the same name would be overwritten.
  return b.node("Clip", {v, scalar(b, "lo", 0.0f), scalar(b, "hi_" + std::to_string(int(hi)), hi)});
}
}  // namespace

TEST(PassFuseHardswishPattern, PaddleHardSwishBecomesMulOfHardSigmoid) {
  // x * Clip(x + 3, 0, 6) / 6 in the orders exporters use, with Clip bounds as inputs and as attributes.
  for (int opset : {9, 13})
    for (int variant = 0; variant < 4; ++variant) {
      SCOPED_TRACE("opset " + std::to_string(opset) + " variant " + std::to_string(variant));
      GraphBuilder b(opset);
      auto x = b.input("x", {Dim::symbol("N"), 3, 4, 4});
      auto three = scalar(b, "three", 3.0f, {1});
      auto plus3 = variant % 2 ? b.node("Add", {three, x}) : b.node("Add", {x, three});
      auto clip = relu_clip(b, opset, plus3, 6.0f);
      auto prod = variant % 2 ? b.node("Mul", {clip, x}) : b.node("Mul", {x, clip});
      auto y = variant < 2 ? b.node("Div", {prod, scalar(b, "six", 6.0f)})
                           : b.node("Mul", {scalar(b, "sixth", 1.0f / 6), prod});
      b.output(y);
      Graph before = b.build(), after = before;
      PassReport r = run_pass_ok(after, "fuse_hardswish_pattern");
      EXPECT_EQ(r.changes, 1);
      ASSERT_EQ(after.nodes.size(), 2u);
      const Node* hs = find_node_by_op(after, "HardSigmoid");
      ASSERT_NE(hs, nullptr);
      EXPECT_FLOAT_EQ(hs->attr_float("alpha", 0), 1.0f / 6);
      EXPECT_FLOAT_EQ(hs->attr_float("beta", 0), 0.5f);
      EXPECT_EQ(hs->inputs[0], x);
      EXPECT_EQ(count_op(after, "Mul"), 1);
      expect_same_outputs(before, after);
      expect_same_outputs(before, after, 11, 1e-5, 3);
    }
}

TEST(PassFuseHardswishPattern, HardSigmoidForms) {
  GraphBuilder b(13);
  auto x = b.input("x", {2, 5});
  // Clip(x + 3, 0, 6) / 6
  b.output(
      b.node("Div", {relu_clip(b, 13, b.node("Add", {x, scalar(b, "three", 3.0f)}), 6.0f), scalar(b, "six", 6.f)}));
  // Clip(x * 0.2 + 0.5, 0, 1)
  auto ax = b.node("Mul", {x, scalar(b, "a", 0.2f)});
  b.output(relu_clip(b, 13, b.node("Add", {scalar(b, "half", 0.5f), ax}), 1.0f));
  // Clip(x + 0.25, 0, 1)
  b.output(relu_clip(b, 13, b.node("Add", {x, scalar(b, "quarter", 0.25f)}), 1.0f));
  Graph before = b.build(), after = before;
  PassReport r = run_pass_ok(after, "fuse_hardswish_pattern");
  EXPECT_EQ(r.changes, 3);
  EXPECT_EQ(count_op(after, "HardSigmoid"), 3);
  EXPECT_EQ(after.nodes.size(), 3u);
  expect_same_outputs(before, after);
}

TEST(PassFuseHardswishPattern, WrongConstantsSharedIntermediatesAndPinnedNodesStay) {
  GraphBuilder b(13);
  auto x = b.input("x", {2, 5});
  // x + 2 instead of x + 3.
  auto c1 = relu_clip(b, 13, b.node("Add", {x, scalar(b, "two", 2.0f)}), 6.0f);
  b.output(b.node("Div", {b.node("Mul", {x, c1}), scalar(b, "six", 6.0f)}));
  // Clip(0, 6) read twice.
  auto c2 = relu_clip(b, 13, b.node("Add", {x, scalar(b, "three", 3.0f)}), 6.0f);
  b.output(b.node("Div", {b.node("Mul", {x, c2}), scalar(b, "six", 6.0f)}));
  b.output(c2);
  // Mul(y, Clip(x + 3)) with y != x.
  auto z = b.input("z", {2, 5});
  auto c3 = relu_clip(b, 13, b.node("Add", {x, scalar(b, "three", 3.0f)}), 6.0f);
  b.output(b.node("Div", {b.node("Mul", {z, c3}), scalar(b, "six", 6.0f)}));
  // Per-element constant instead of a scalar.
  b.output(relu_clip(b, 13, b.node("Add", {x, b.random_constant("vec", {5})}), 1.0f));
  // Pinned Div.
  auto c4 = relu_clip(b, 13, b.node("Add", {x, scalar(b, "three", 3.0f)}), 6.0f);
  b.output(b.node("Div", {b.node("Mul", {x, c4}), scalar(b, "six", 6.0f)}, {}, "pinned_div"));
  Graph before = b.build(), after = before;
  OptimizeOptions keep;
  keep.keep_nodes = {"pinned_div"};
  PassReport r = run_pass_ok(after, "fuse_hardswish_pattern", keep);
  EXPECT_EQ(r.changes, 0);
  EXPECT_EQ(count_op(after, "HardSigmoid"), 0);
  expect_same_outputs(before, after);
}

TEST(PassFuseHardswishPattern, ConvHardSwishEndsAsOneFusedConv) {
  // With the whole optimizer, fuse_conv_activation then folds Mul(y, HardSigmoid(y)) into the Conv.
  GraphBuilder b(11);
  auto x = b.input("x", {1, 3, 6, 6});
  auto y = b.node("Conv", {x, b.random_constant("w", {4, 3, 3, 3}), b.random_constant("bias", {4})},
                  {{"pads", ints({1, 1, 1, 1})}});
  y = b.node("Mul", {b.random_constant("s", {1}, 0.5f, 2.0f), y});
  y = b.node("Add", {y, b.random_constant("t", {1})});
  auto clip = relu_clip(b, 11, b.node("Add", {y, scalar(b, "three", 3.0f)}), 6.0f);
  b.output(b.node("Div", {b.node("Mul", {y, clip}), scalar(b, "six", 6.0f)}));
  Graph before = b.build(), after = before;
  ASSERT_TRUE(optimize_graph(after, {}).ok());
  ASSERT_EQ(after.nodes.size(), 1u);
  EXPECT_EQ(after.nodes[0].op_type, "Conv");
  EXPECT_EQ(after.nodes[0].attr_string("lowbit_activation", ""), "HardSwish");
  expect_same_outputs(before, after);
}

}  // namespace lowbit::passes_test
