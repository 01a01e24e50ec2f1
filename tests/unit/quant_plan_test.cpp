// quant/quant_plan: which nodes and tensors get quantized, on hand-built graphs.
#include "quant/quant_plan.h"

#include <algorithm>

#include "passes_test_util.h"

namespace lowbit::quant {
namespace {

using namespace lowbit::passes_test;

bool contains(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

// x -> Conv1 -> Relu -> MaxPool -> Conv2 -> Add(+ MaxPool out) -> GlobalAveragePool -> Flatten -> Gemm -> Softmax
Graph small_cnn() {
  GraphBuilder b;
  auto x = b.input("x", {Dim::symbol("N"), 3, 8, 8});
  auto c1 = b.node("Conv", {x, b.random_constant("w1", {4, 3, 3, 3}), b.random_constant("b1", {4})},
                   {{"pads", ints({1, 1, 1, 1})}}, "conv1");
  auto r1 = b.node("Relu", {c1}, {}, "relu1");
  auto p1 = b.node("MaxPool", {r1}, {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}}, "pool1");
  auto c2 = b.node("Conv", {p1, b.random_constant("w2", {4, 4, 1, 1}), b.random_constant("b2", {4})}, {}, "conv2");
  auto add = b.node("Add", {c2, p1}, {}, "add");
  auto gap = b.node("GlobalAveragePool", {add}, {}, "gap");
  auto flat = b.node("Flatten", {gap}, {}, "flatten");
  auto fc = b.node("Gemm", {flat, b.random_constant("wfc", {5, 4}), b.random_constant("bfc", {5})}, {{"transB", i64(1)}},
                   "fc");
  auto sm = b.node("Softmax", {fc}, {}, "softmax");
  b.output(sm);
  return b.build();
}

TEST(QuantPlan, QuantizesComputeAndIntegerOpsAndTheirInputs) {
  Graph g = small_cnn();
  auto plan = plan_quantization(g, {});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  for (auto* n : {"conv1", "pool1", "conv2", "add", "gap", "flatten", "fc"}) EXPECT_TRUE(contains(plan->quantized_nodes, n)) << n;
  for (auto* n : {"relu1", "softmax"}) EXPECT_FALSE(contains(plan->quantized_nodes, n)) << n;
  // Conv1's output feeds Relu (fused later): not quantized; the Relu's output is (MaxPool reads it).
  EXPECT_FALSE(contains(plan->activations, "conv1_out"));
  EXPECT_TRUE(contains(plan->activations, "relu1_out"));
  EXPECT_TRUE(contains(plan->activations, "x"));
  EXPECT_TRUE(contains(plan->activations, "pool1_out"));
  EXPECT_TRUE(contains(plan->activations, "conv2_out"));  // Add reads it
  // Gemm's output goes to a float Softmax and is a graph-level head: stays float.
  EXPECT_FALSE(contains(plan->activations, "fc_out"));
  // Data movement shares its input's parameters.
  EXPECT_EQ(plan->params_source("pool1_out"), "relu1_out");
  EXPECT_EQ(plan->params_source("flatten_out"), "gap_out");
  // Weights per output channel; every bias becomes int32.
  ASSERT_EQ(plan->weights.size(), 3u);
  for (auto& w : plan->weights) EXPECT_EQ(w.axis, 0) << w.value;  // Gemm transB=1: rows are output channels
  EXPECT_EQ(plan->biases.size(), 3u);
  // Topological order of activations.
  auto pos = [&](const std::string& t) { return std::find(plan->activations.begin(), plan->activations.end(), t) - plan->activations.begin(); };
  EXPECT_LT(pos("x"), pos("relu1_out"));
  EXPECT_LT(pos("relu1_out"), pos("conv2_out"));
}

TEST(QuantPlan, ExcludeKeepsNodesFloatAndRejectsUnknownNames) {
  Graph g = small_cnn();
  QuantPlanOptions o;
  o.exclude = {"conv2", "Gemm"};
  auto plan = plan_quantization(g, o);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_FALSE(contains(plan->quantized_nodes, "conv2"));
  EXPECT_FALSE(contains(plan->quantized_nodes, "fc"));
  bool reason_found = false;
  for (auto& [node, why] : plan->float_nodes)
    if (node == "conv2") reason_found = why.find("--exclude") != std::string::npos;
  EXPECT_TRUE(reason_found);
  EXPECT_EQ(plan->weights.size(), 1u);

  o.exclude = {"conv_two"};
  auto bad = plan_quantization(g, o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'conv_two'"), std::string::npos) << bad.status().message();
}

TEST(QuantPlan, WeightOnlyQuantizesWeightsAlone) {
  Graph g = small_cnn();
  QuantPlanOptions o;
  o.weight_only = true;
  auto plan = plan_quantization(g, o);
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->activations.empty());
  EXPECT_TRUE(plan->biases.empty());
  EXPECT_EQ(plan->weights.size(), 3u);
}

TEST(QuantPlan, GemmWithoutTransposeQuantizesColumnsAndIoFlagsAddTensors) {
  GraphBuilder b;
  auto x = b.input("x", {2, 4});
  auto y = b.node("Gemm", {x, b.random_constant("w", {4, 6})}, {}, "fc");
  auto z = b.node("MatMul", {y, b.random_constant("m", {6, 3})}, {}, "mm");
  b.output(z);
  Graph g = b.build();
  QuantPlanOptions o;
  o.quantize_inputs = o.quantize_outputs = true;
  auto plan = plan_quantization(g, o);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->weights.size(), 2u);
  EXPECT_EQ(plan->weights[0].axis, 1);
  EXPECT_EQ(plan->weights[1].axis, 1);
  EXPECT_TRUE(contains(plan->activations, "x"));
  EXPECT_TRUE(contains(plan->activations, "mm_out"));  // a graph output, quantized because of --io
}

TEST(QuantPlan, DataMovementOutsideAnInt8ChainStaysFloat) {
  GraphBuilder b;
  auto x = b.input("x", {1, 2, 4, 4});
  auto t = b.node("Transpose", {x}, {{"perm", ints({0, 2, 3, 1})}}, "transpose");
  auto s = b.node("Sigmoid", {b.node("Exp", {t}, {}, "exp")}, {}, "sigmoid");
  b.output(s);
  Graph g = b.build();
  auto plan = plan_quantization(g, {});
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(contains(plan->quantized_nodes, "transpose"));  // its consumer (Exp) is float
  EXPECT_TRUE(contains(plan->quantized_nodes, "sigmoid"));
  EXPECT_TRUE(contains(plan->activations, "exp_out"));
  EXPECT_FALSE(contains(plan->activations, "x"));
}

}  // namespace
}  // namespace lowbit::quant
