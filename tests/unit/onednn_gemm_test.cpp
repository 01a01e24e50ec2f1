// oneDNN Gemm and MatMul vs the reference kernels: random (odd) sizes, transA/transB, alpha/beta, every C
// broadcast form, constant and runtime B, fused activations, batched and broadcast MatMul. rtol 1e-4.
#include <gtest/gtest.h>

#include "onednn_test_util.h"

namespace lowbit {
namespace {

using namespace onednn_test;

struct GemmCase {
  bool trans_a, trans_b;
  float alpha, beta;
  Shape c;  // dims of C: -1 = N, -2 = M
  bool c_present, b_constant, c_constant;
  std::string activation;
};

TEST(OneDnnGemm, RandomShapesMatchReference) {
  std::mt19937 rng(seed_for("OneDnnGemm.RandomShapesMatchReference"));
  std::uniform_int_distribution<int64_t> size(1, 37);
  const std::vector<GemmCase> cases = {
      {false, false, 1.f, 1.f, {}, false, true, true, ""},
      {false, true, 1.f, 1.f, {-1}, true, true, true, ""},            // C = (N)
      {true, false, 0.5f, 2.f, {1, -1}, true, true, true, ""},        // C = (1, N), alpha and beta
      {true, true, 1.f, 0.25f, {-2, 1}, true, true, true, ""},        // C = (M, 1)
      {false, false, 1.5f, 1.f, {-2, -1}, true, true, true, "Relu"},  // C = (M, N)
      {false, true, 1.f, 1.f, {}, true, true, true, "Sigmoid"},       // scalar C
      {false, false, 1.f, 1.f, {-1}, true, false, true, ""},          // runtime B
      {true, true, 2.f, 1.f, {}, false, false, true, ""},             // runtime B, alpha via output scales
      {false, false, 1.f, 1.f, {-2, -1}, true, false, false, ""},     // runtime B and C
      {false, true, 1.f, 1.f, {-1}, true, true, true, "Clip"},
  };
  for (int rep = 0; rep < 2; ++rep) {
    for (size_t ci = 0; ci < cases.size(); ++ci) {
      const GemmCase& gc = cases[ci];
      const int64_t m = size(rng), k = size(rng), n = size(rng);
      SCOPED_TRACE("case " + std::to_string(ci) + " M,K,N = " + std::to_string(m) + "," + std::to_string(k) + "," +
                   std::to_string(n));
      GraphBuilder b;
      const Shape a_shape = gc.trans_a ? Shape{k, m} : Shape{m, k};
      const Shape b_shape = gc.trans_b ? Shape{n, k} : Shape{k, n};
      b.input("a", a_shape);
      std::map<std::string, Tensor> inputs = {{"a", random_tensor(rng, a_shape)}};
      if (gc.b_constant) {
        b.constant("b", random_tensor(rng, b_shape));
      } else {
        b.input("b", b_shape);
        inputs["b"] = random_tensor(rng, b_shape);
      }
      std::vector<std::string> ins = {"a", "b"};
      if (gc.c_present) {
        Shape c;
        for (int64_t d : gc.c) c.push_back(d == -1 ? n : d == -2 ? m : d);
        if (gc.c_constant) {
          b.constant("c", random_tensor(rng, c));
        } else {
          b.input("c", c);
          inputs["c"] = random_tensor(rng, c);
        }
        ins.push_back("c");
      }
      std::map<std::string, Attribute> attrs = {
          {"transA", int1(gc.trans_a)}, {"transB", int1(gc.trans_b)}, {"alpha", flt(gc.alpha)}, {"beta", flt(gc.beta)}};
      if (!gc.activation.empty()) {
        attrs["lowbit_activation"] = str(gc.activation);
        attrs["lowbit_activation_alpha"] = flt(0.f);
        attrs["lowbit_activation_beta"] = flt(0.5f);
      }
      b.node("Gemm", ins, {"y"}, attrs);
      EXPECT_EQ(compare_backends(b.done({"y"}), inputs), 1);
    }
  }
}

TEST(OneDnnMatMul, BatchedBroadcastAndConstantWeights) {
  std::mt19937 rng(seed_for("OneDnnMatMul.BatchedBroadcastAndConstantWeights"));
  std::uniform_int_distribution<int64_t> size(1, 29);
  struct Case {
    Shape a_batch, b_batch;
    bool b_constant;
    int expect_onednn;
  };
  const std::vector<Case> cases = {
      {{}, {}, true, 1},          {{}, {}, false, 1},  {{3}, {}, true, 1},  {{2, 3}, {3}, false, 1},
      {{2, 1}, {1, 4}, false, 1}, {{5}, {5}, true, 1}, {{}, {2}, false, 1},
  };
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const Case& c = cases[ci];
    const int64_t m = size(rng), k = size(rng), n = size(rng);
    SCOPED_TRACE("case " + std::to_string(ci));
    Shape a_shape = c.a_batch, b_shape = c.b_batch;
    a_shape.insert(a_shape.end(), {m, k});
    b_shape.insert(b_shape.end(), {k, n});
    GraphBuilder b;
    b.input("a", a_shape);
    std::map<std::string, Tensor> inputs = {{"a", random_tensor(rng, a_shape)}};
    if (c.b_constant) {
      b.constant("b", random_tensor(rng, b_shape));
    } else {
      b.input("b", b_shape);
      inputs["b"] = random_tensor(rng, b_shape);
    }
    b.node("MatMul", {"a", "b"}, {"y"});
    EXPECT_EQ(compare_backends(b.done({"y"}), inputs), c.expect_onednn);
  }
  // 1-D operands stay on the reference kernel (and still match).
  GraphBuilder b;
  b.input("a", {7});
  b.constant("b", random_tensor(rng, {7, 5}));
  b.node("MatMul", {"a", "b"}, {"y"});
  EXPECT_EQ(compare_backends(b.done({"y"}), {{"a", random_tensor(rng, {7})}}), 0);
}

// Conv (blocked output) -> GlobalAveragePool -> Flatten (a plain view on oneDNN's side) -> Gemm -> Relu: the Gemm
// reads the plain tensor the Flatten produced.
TEST(OneDnnGemm, AfterConvPipeline) {
  std::mt19937 rng(seed_for("OneDnnGemm.AfterConvPipeline"));
  GraphBuilder b;
  b.input("x", {2, 5, 9, 9});
  b.constant("w", random_tensor(rng, {19, 5, 3, 3}, -0.3f, 0.3f));
  b.constant("fc", random_tensor(rng, {11, 19}));
  b.constant("bias", random_tensor(rng, {11}));
  b.node("Conv", {"x", "w"}, {"c"}, {{"pads", ints({1, 1, 1, 1})}});
  b.node("GlobalAveragePool", {"c"}, {"g"});
  b.node("Flatten", {"g"}, {"f"});
  b.node("Gemm", {"f", "fc", "bias"}, {"y"}, {{"transB", int1(1)}});
  b.node("Relu", {"y"}, {"z"});
  EXPECT_EQ(compare_backends(b.done({"z"}), {{"x", random_tensor(rng, {2, 5, 9, 9})}}), 5);
}

}  // namespace
}  // namespace lowbit
