// oneDNN LayerNormalization and InstanceNormalization vs the reference kernels: small graphs run through Session
// with Backend::kRef and Backend::kOneDnn on random odd shapes (every axis, broadcast and runtime Scale/B, with and
// without B, epsilon variants, batch 1 and 3, 3-D to 5-D instance norm), relative tolerance 1e-5. Each test prints
// its seed. Also checks when the reference kernel must run instead (Mean/InvStdDev requested, runtime Scale that
// broadcasts) and that a blocked input coming from a Conv is reordered for these plain-only kernels.
#include <gtest/gtest.h>

#include "kernels/onednn/onednn_kernel.h"
#include "onednn_test_util.h"
#include "passes_test_util.h"

namespace lowbit {
namespace {

using onednn_test::compare_backends;
using onednn_test::flt;
using onednn_test::GraphBuilder;
using onednn_test::int1;
using onednn_test::ints;
using onednn_test::random_tensor;
using onednn_test::seed_for;

constexpr double kTolerance = 1e-5;

GraphBuilder opset17() {
  GraphBuilder b;
  b.g.opset = 17;
  b.g.opset_imports[""] = 17;
  return b;
}

struct LayerNormCase {
  Shape x;
  int64_t axis;
  Shape scale, bias;  // bias empty: no B
  float epsilon = 1e-5f;
  bool runtime_params = false;  // Scale/B as graph inputs instead of constants
  int expect_onednn = 1;
};

void run_layer_norm(const LayerNormCase& k, std::mt19937& rng) {
  GraphBuilder b = opset17();
  b.input("x", k.x);
  std::map<std::string, Tensor> feeds = {{"x", random_tensor(rng, k.x, -3, 3)}};
  std::vector<std::string> ins = {"x", "scale"};
  auto param = [&](const std::string& name, const Shape& s) {
    Tensor t = random_tensor(rng, s, -2, 2);
    if (k.runtime_params) {
      b.input(name, s);
      feeds[name] = t;
    } else {
      b.constant(name, t);
    }
  };
  param("scale", k.scale);
  if (!k.bias.empty()) {
    param("bias", k.bias);
    ins.push_back("bias");
  }
  b.node("LayerNormalization", ins, {"y"}, {{"axis", int1(k.axis)}, {"epsilon", flt(k.epsilon)}});
  EXPECT_EQ(compare_backends(b.done({"y"}), feeds, kTolerance), k.expect_onednn);
}

TEST(OneDnnNorm, LayerNormAxesShapesAndEpsilon) {
  std::mt19937 rng(seed_for("OneDnnNorm.LayerNormAxesShapesAndEpsilon"));
  const std::vector<LayerNormCase> cases = {
      {{1, 7, 33}, -1, {33}, {33}},                     // batch 1, odd width
      {{3, 13, 768}, -1, {768}, {768}},                 // transformer-sized rows, batch 3
      {{3, 5, 17}, -1, {17}, {}},                       // no B
      {{3, 5, 17}, -1, {17}, {17}, 1e-2f},              // large epsilon
      {{1, 9, 31}, -1, {31}, {31}, 1e-12f},             // tiny epsilon (BERT)
      {{3, 6, 11}, -2, {6, 11}, {6, 11}},               // two normalized axes
      {{3, 6, 11}, 1, {6, 11}, {}},                     // positive axis
      {{2, 3, 5, 7}, 1, {3, 5, 7}, {3, 5, 7}},          // axis 1 on 4-D: three normalized axes
      {{5, 19}, 0, {5, 19}, {5, 19}},                   // the whole tensor is one row
      {{1, 4, 9}, -2, {1, 9}, {9}},                     // Scale/B broadcast onto [4, 9]: expanded at build time
      {{3, 4, 9}, -2, {4, 1}, {1}},                     // per-row scale, scalar-like B
      {{37}, -1, {37}, {37}},                           // rank 1
      {{2, 3, 4099}, -2, {3, 4099}, {3, 4099}},         // long rows (12297 values): float32 sums stay accurate
      {{3, 7, 33}, -1, {33}, {33}, 1e-5f, true},        // runtime Scale/B with the normalized shape
      {{3, 6, 11}, -2, {6, 11}, {}, 1e-5f, true},       // runtime, two axes, no B
      {{3, 6, 11}, -2, {1, 11}, {11}, 1e-5f, true, 0},  // runtime Scale that broadcasts: the reference
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE("case " + std::to_string(i) + " x " + shape_to_string(cases[i].x) + " axis " +
                 std::to_string(cases[i].axis));
    run_layer_norm(cases[i], rng);
  }
}

// Mean/InvStdDev requested: the oneDNN factory declines (the reference writes all three); unnamed extra outputs are
// fine.
TEST(OneDnnNorm, LayerNormExtraOutputsUseReference) {
  std::mt19937 rng(seed_for("OneDnnNorm.LayerNormExtraOutputsUseReference"));
  Tensor scale = random_tensor(rng, {21});
  Node node;
  node.name = "ln";
  node.op_type = "LayerNormalization";
  node.inputs = {"x", "scale"};
  std::vector<onednn::KernelInput> ins = {{onednn::plain_desc({4, 21}), nullptr}, {onednn::plain_desc({21}), &scale}};
  node.outputs = {"y", "mean"};
  EXPECT_EQ(onednn::create_kernel(node, 17, ins, {{4, 21}, {4, 1}}), nullptr);
  node.outputs = {"y", "", "inv_std"};
  EXPECT_EQ(onednn::create_kernel(node, 17, ins, {{4, 21}, {}, {4, 1}}), nullptr);
  node.outputs = {"y", "", ""};
  auto k = onednn::create_kernel(node, 17, ins, {{4, 21}, {}, {}});
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->output_descs.size(), 3u);
  node.outputs = {"y"};
  EXPECT_NE(onednn::create_kernel(node, 17, ins, {{4, 21}}), nullptr);

  // Through Session: the node runs on the reference kernel and Mean/InvStdDev match.
  GraphBuilder b = opset17();
  b.input("x", {3, 4, 21});
  b.constant("scale", scale);
  b.node("LayerNormalization", {"x", "scale"}, {"y", "mean", "inv_std"}, {{"axis", int1(-1)}});
  EXPECT_EQ(compare_backends(b.done({"y", "mean", "inv_std"}), {{"x", random_tensor(rng, {3, 4, 21})}}, kTolerance), 0);
}

struct InstanceNormCase {
  Shape x;
  float epsilon = 1e-5f;
  bool runtime_params = false;
};

TEST(OneDnnNorm, InstanceNorm3d4d5d) {
  std::mt19937 rng(seed_for("OneDnnNorm.InstanceNorm3d4d5d"));
  const std::vector<InstanceNormCase> cases = {
      {{1, 5, 37}},                 // 3-D
      {{3, 7, 101}, 1e-3f},         // 3-D, batch 3
      {{1, 3, 9, 11}},              // 4-D, odd plane
      {{3, 17, 13, 5}, 1e-6f},      // 4-D, batch 3, odd channels
      {{1, 64, 32, 32}},            // a style-transfer sized plane
      {{1, 3, 97, 131}},            // large odd planes (12707 values)
      {{2, 3, 4, 5, 7}},            // 5-D
      {{3, 4, 3, 3, 3}, 1e-2f},     // 5-D, batch 3
      {{3, 6, 7, 9}, 1e-5f, true},  // runtime scale/B, tiled per image at run time
      {{1, 1, 1, 1}},               // one element per plane: y = B
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const InstanceNormCase& k = cases[i];
    SCOPED_TRACE("case " + std::to_string(i) + " x " + shape_to_string(k.x));
    GraphBuilder b;
    b.input("x", k.x);
    std::map<std::string, Tensor> feeds = {{"x", random_tensor(rng, k.x, -3, 3)}};
    for (const char* name : {"scale", "bias"}) {
      Tensor t = random_tensor(rng, {k.x[1]}, -2, 2);
      if (k.runtime_params) {
        b.input(name, {k.x[1]});
        feeds[name] = t;
      } else {
        b.constant(name, t);
      }
    }
    b.node("InstanceNormalization", {"x", "scale", "bias"}, {"y"}, {{"epsilon", flt(k.epsilon)}});
    EXPECT_EQ(compare_backends(b.done({"y"}), feeds, kTolerance), 1);
  }
}

// A Conv in front hands over a blocked (nChw16c) tensor: the plan reorders it for these plain-only kernels and both
// still run on oneDNN.
TEST(OneDnnNorm, BlockedInputIsReordered) {
  std::mt19937 rng(seed_for("OneDnnNorm.BlockedInputIsReordered"));
  GraphBuilder b = opset17();
  b.input("x", {2, 8, 9, 9});
  b.constant("w", random_tensor(rng, {32, 8, 3, 3}, -0.3f, 0.3f));
  b.constant("s", random_tensor(rng, {32}));
  b.constant("c", random_tensor(rng, {32}));
  b.constant("w2", random_tensor(rng, {16, 32, 3, 3}, -0.1f, 0.1f));
  b.constant("ls", random_tensor(rng, {9}));
  b.node("Conv", {"x", "w"}, {"conv"}, {{"pads", ints({1, 1, 1, 1})}});
  b.node("InstanceNormalization", {"conv", "s", "c"}, {"in"});
  b.node("Conv", {"in", "w2"}, {"conv2"}, {{"pads", ints({1, 1, 1, 1})}});
  b.node("LayerNormalization", {"conv2", "ls"}, {"y"}, {{"axis", int1(-1)}});
  EXPECT_EQ(compare_backends(b.done({"y"}), {{"x", random_tensor(rng, {2, 8, 9, 9})}}, kTolerance, 3), 4);
}

// The runtime view: an imported-style graph (validated and inferred) reports LayerNormalization as run on "onednn"
// through the NodeObserver, and matches Backend::kRef.
TEST(OneDnnNorm, SessionRunsLayerNormOnOneDnn) {
  const uint32_t seed = seed_for("OneDnnNorm.SessionRunsLayerNormOnOneDnn");
  passes_test::GraphBuilder b(17);
  auto x = b.input("x", {3, 10, 64});
  auto y = b.node("LayerNormalization", {x, b.random_constant("scale", {64}), b.random_constant("bias", {64})},
                  {{"axis", passes_test::i64(-1)}, {"epsilon", passes_test::f32(1e-6f)}}, "ln");
  b.output(y);
  Graph g = b.build();
  const auto inputs = passes_test::random_inputs(g, seed);
  auto dnn = Session::create(g, {.threads = 2, .backend = Backend::kOneDnn});
  auto ref = Session::create(g, {.threads = 2, .backend = Backend::kRef});
  ASSERT_TRUE(dnn.ok() && ref.ok());
  std::map<std::string, std::string> ran_on;
  auto got = (*dnn)->run(inputs, [&](const Node& n, const char* backend, double) { ran_on[n.name] = backend; });
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(ran_on["ln"], "onednn");
  auto want = (*ref)->run(inputs);
  ASSERT_TRUE(want.ok()) << want.status().message();
  const Tensor &a = got->at(y), &w = want->at(y);
  ASSERT_EQ(a.shape(), w.shape());
  for (int64_t i = 0; i < w.numel(); ++i)
    ASSERT_NEAR(a.data<float>()[i], w.data<float>()[i], kTolerance * std::max(1.0f, std::fabs(w.data<float>()[i])))
        << "element " << i;
}

}  // namespace
}  // namespace lowbit
