#include "passes_test_util.h"

#include <functional>

#include "ops/fused_activation.h"

namespace lowbit::passes_test {

namespace {
struct Case {
  const char* name;
  std::function<std::string(GraphBuilder&, const std::string&)> act;
  FusedActivationKind want;
};
}  // namespace

TEST(PassFuseConvActivation, FusesEveryActivationIntoConvConvTransposeAndGemm) {
  const std::vector<Case> cases = {
      {"Relu", [](GraphBuilder& b, const std::string& y) { return b.node("Relu", {y}); }, FusedActivationKind::kRelu},
      {"Relu6", [](GraphBuilder& b, const std::string& y) {
         return b.node("Clip", {y, b.constant("lo", Tensor::from_vector(DType::kFloat32, {}, std::vector<float>{0})),
                                b.constant("hi", Tensor::from_vector(DType::kFloat32, {}, std::vector<float>{6}))});
       }, FusedActivationKind::kClip},
      {"ClipMaxOnly", [](GraphBuilder& b, const std::string& y) {
         return b.node("Clip", {y, "", b.constant("hi", Tensor::from_vector(DType::kFloat32, {}, std::vector<float>{0.5f}))});
       }, FusedActivationKind::kClip},
      {"LeakyRelu", [](GraphBuilder& b, const std::string& y) { return b.node("LeakyRelu", {y}, {{"alpha", f32(0.3f)}}); },
       FusedActivationKind::kLeakyRelu},
      {"Sigmoid", [](GraphBuilder& b, const std::string& y) { return b.node("Sigmoid", {y}); }, FusedActivationKind::kSigmoid},
      {"HardSigmoid", [](GraphBuilder& b, const std::string& y) {
         return b.node("HardSigmoid", {y}, {{"alpha", f32(0.25f)}, {"beta", f32(0.4f)}});
       }, FusedActivationKind::kHardSigmoid},
      {"HardSwish", [](GraphBuilder& b, const std::string& y) { return b.node("HardSwish", {y}); },
       FusedActivationKind::kHardSwish},
      {"MulHardSigmoid", [](GraphBuilder& b, const std::string& y) {
         return b.node("Mul", {y, b.node("HardSigmoid", {y}, {{"alpha", f32(0.2f)}, {"beta", f32(0.5f)}})});
       }, FusedActivationKind::kHardSwish},
      {"SiLU", [](GraphBuilder& b, const std::string& y) { return b.node("Mul", {b.node("Sigmoid", {y}), y}); },
       FusedActivationKind::kSwish},
  };
  for (const Case& c : cases) {
    for (const char* producer : {"Conv", "ConvTranspose", "Gemm"}) {
      SCOPED_TRACE(std::string(c.name) + " after " + producer);
      GraphBuilder b(14);
      std::string y;
      if (std::string(producer) == "Gemm") {
        auto x = b.input("x", {Dim::symbol("N"), 6});
        y = b.node("Gemm", {x, b.random_constant("w", {4, 6}), b.random_constant("b", {4})}, {{"transB", i64(1)}});
      } else {
        auto x = b.input("x", {Dim::symbol("N"), 3, 5, 5});
        y = b.node(producer, {x, b.random_constant("w", {3, 3, 3, 3}), b.random_constant("b", {3}, -3, 3)},
                   {{"pads", ints({1, 1, 1, 1})}});
      }
      b.output(c.act(b, y));
      Graph before = b.build(), after = before;
      PassReport r = run_pass_ok(after, "fuse_conv_activation");
      EXPECT_EQ(r.changes, 1);
      ASSERT_EQ(after.nodes.size(), 1u);
      auto act = parse_fused_activation(after.nodes[0]);
      ASSERT_TRUE(act.ok());
      EXPECT_EQ(act->kind, c.want);
      expect_same_outputs(before, after, 5, 1e-5, 2);
    }
  }
}

TEST(PassFuseConvActivation, LeavesSharedOutputsDynamicClipAndPinnedNodes) {
  GraphBuilder b(14);
  auto x = b.input("x", {1, 2, 4, 4});
  auto w = b.random_constant("w", {2, 2, 1, 1});
  auto y1 = b.node("Conv", {x, w});
  b.output(b.node("Relu", {y1}));
  b.output(b.node("Neg", {y1}));  // y1 read twice
  auto hi = b.input("hi", {});
  b.output(b.node("Clip", {b.node("Conv", {x, w}), "", hi}));  // run-time bound
  b.output(b.node("Relu", {b.node("Conv", {x, w}, {}, "pinned_conv")}));
  Graph g = b.build();
  OptimizeOptions opt;
  opt.keep_nodes.insert("pinned_conv");
  PassReport r = run_pass_ok(g, "fuse_conv_activation", opt);
  EXPECT_EQ(r.changes, 0);
}

}  // namespace lowbit::passes_test
