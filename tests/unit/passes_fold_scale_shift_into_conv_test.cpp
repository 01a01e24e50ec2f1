#include "passes_test_util.h"

namespace lowbit::passes_test {

TEST(PassFoldScaleShiftIntoConv, UnpaddedConvAbsorbsScaleAndShiftOfEveryConstantShape) {
  struct Case {
    Shape scale, shift;
    int64_t group;
  };
  for (const Case& c :
       {Case{{1}, {1}, 1}, Case{{4, 1, 1}, {1, 4, 1, 1}, 1}, Case{{4, 1, 1}, {4, 1, 1}, 2}, Case{{}, {4, 1, 1}, 4}}) {
    GraphBuilder b;
    auto x = b.input("x", {Dim::symbol("N"), 4, 5, 5});
    auto y = b.node("Mul", {x, b.random_constant("a", c.scale, -2.0f, 2.0f)});
    y = b.node("Add", {b.random_constant("t", c.shift), y});
    y = b.node("Conv", {y, b.random_constant("w", {8, 4 / c.group, 2, 2}), b.random_constant("bias", {8})},
               {{"group", i64(c.group)}, {"strides", ints({2, 2})}});
    b.output(y);
    Graph before = b.build(), after = before;
    PassReport r = run_pass_ok(after, "fold_scale_shift_into_conv");
    EXPECT_EQ(r.changes, 1);
    ASSERT_EQ(after.nodes.size(), 1u);
    EXPECT_EQ(after.nodes[0].inputs[0], x);
    expect_same_outputs(before, after);
  }
}

TEST(PassFoldScaleShiftIntoConv, PaddedConvTakesOnlyTheScale) {
  // x * a + b -> Add(x, b / a) -> conv(W * a); x * a alone folds; x + b alone stays.
  GraphBuilder b;
  auto x = b.input("x", {1, 3, 5, 5});
  auto pads = ints({1, 1, 1, 1});
  auto y1 = b.node("Add", {b.node("Mul", {x, b.random_constant("a1", {1}, 0.5f, 2.0f)}), b.random_constant("t1", {1})});
  b.output(b.node("Conv", {y1, b.random_constant("w1", {2, 3, 3, 3})}, {{"pads", pads}}));
  auto y2 = b.node("Mul", {b.random_constant("a2", {3, 1, 1}), x});
  b.output(b.node("Conv", {y2, b.random_constant("w2", {3, 1, 3, 3})}, {{"pads", pads}, {"group", i64(3)}}));
  auto y3 = b.node("Add", {x, b.random_constant("t3", {1})});
  b.output(b.node("Conv", {y3, b.random_constant("w3", {2, 3, 3, 3})}, {{"auto_pad", str("SAME_UPPER")}}));
  Graph before = b.build(), after = before;
  PassReport r = run_pass_ok(after, "fold_scale_shift_into_conv");
  EXPECT_EQ(r.changes, 2);
  EXPECT_EQ(count_op(after, "Mul"), 0);
  EXPECT_EQ(count_op(after, "Add"), 2);
  expect_same_outputs(before, after);
}

TEST(PassFoldScaleShiftIntoConv, SharedIntermediatesPinnedAndNonChannelConstantsStay) {
  GraphBuilder b;
  auto x = b.input("x", {1, 3, 4, 4});
  auto y1 = b.node("Mul", {x, b.random_constant("a1", {3, 1, 1})});
  b.output(b.node("Conv", {y1, b.random_constant("w1", {2, 3, 1, 1})}));
  b.output(y1);                                                   // read elsewhere too
  auto y2 = b.node("Mul", {x, b.random_constant("a2", {1, 4})});  // per-width
  b.output(b.node("Conv", {y2, b.random_constant("w2", {2, 3, 1, 1})}));
  auto y3 = b.node("Mul", {x, b.random_constant("a3", {1})});
  b.output(b.node("Conv", {y3, b.random_constant("w3", {2, 3, 1, 1})}, {}, "pinned_conv"));
  auto y4 = b.node("Mul", {x, x});  // no constant
  b.output(b.node("Conv", {y4, b.random_constant("w4", {2, 3, 1, 1})}));
  Graph before = b.build(), after = before;
  OptimizeOptions keep;
  keep.keep_nodes = {"pinned_conv"};
  PassReport r = run_pass_ok(after, "fold_scale_shift_into_conv", keep);
  EXPECT_EQ(r.changes, 0);
  expect_same_outputs(before, after);
}

}  // namespace lowbit::passes_test
