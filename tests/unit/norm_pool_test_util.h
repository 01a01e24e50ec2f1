// Helpers for the norm / pool / softmax unit tests: build a node, run inference then the reference
// kernel exactly as the session does, and compare tensors.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "ops/op_table.h"
#include "runtime/thread_pool.h"

namespace lowbit::np_test {

inline Attribute ints_attr(std::vector<int64_t> v) { return Attribute::of_ints(std::move(v)); }
inline Attribute int_attr(int64_t v) { return Attribute::of_int(std::move(v)); }
inline Attribute float_attr(float v) { return Attribute::of_float(std::move(v)); }
inline Attribute string_attr(std::string v) { return Attribute::of_string(std::move(v)); }

// A node with inputs "in0".. and outputs "out0".. ("" where a name is omitted by the caller later).
inline Node make_node(const std::string& op, size_t inputs, size_t outputs,
                      std::map<std::string, Attribute> attrs = {}) {
  Node n;
  n.name = "n";
  n.op_type = op;
  for (size_t i = 0; i < inputs; ++i) n.inputs.push_back("in" + std::to_string(i));
  for (size_t i = 0; i < outputs; ++i) n.outputs.push_back("out" + std::to_string(i));
  n.attrs = std::move(attrs);
  return n;
}

// Inference alone on (possibly symbolic) input types; nullptr entries are omitted inputs.
inline Status infer(const Node& node, int opset, const std::vector<const ValueType*>& types,
                    std::vector<ValueType>* out) {
  InferContext ctx{node, opset, types, std::vector<const Tensor*>(types.size(), nullptr), {}};
  ctx.output_types.resize(node.outputs.size());
  Status s = find_op(node.domain, node.op_type)->infer(ctx);
  *out = ctx.output_types;
  return s;
}

struct OpRun {
  Status status;
  std::vector<Tensor> outputs;
};

// Inference with concrete inputs, allocation, then the reference kernel (undefined Tensor = omitted input).
inline OpRun run_op(const Node& node, int opset, const std::vector<Tensor>& inputs, ThreadPool* pool = nullptr) {
  OpRun r;
  std::vector<ValueType> types(inputs.size());
  InferContext ictx{node, opset, {}, {}, {}};
  KernelContext kctx{node, opset, {}, {}, pool};
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor* t = inputs[i].defined() ? &inputs[i] : nullptr;
    if (t) types[i] = ValueType::of(*t);
    ictx.input_types.push_back(t ? &types[i] : nullptr);
    ictx.input_values.push_back(t);
    kctx.inputs.push_back(t);
  }
  ictx.output_types.resize(node.outputs.size());
  const OpSpec* op = find_op(node.domain, node.op_type);
  r.status = op->infer(ictx);
  if (!r.status.ok()) return r;
  r.outputs.resize(node.outputs.size());
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    if (node.outputs[i].empty()) {
      kctx.outputs.push_back(nullptr);
      continue;
    }
    if (!ictx.output_types[i].fully_known()) {
      r.status = Status(StatusCode::kInternal, "output " + std::to_string(i) + " not concrete");
      return r;
    }
    r.outputs[i] = Tensor(ictx.output_types[i].dtype, ictx.output_types[i].concrete());
    kctx.outputs.push_back(&r.outputs[i]);
  }
  r.status = op->ref(kctx);
  return r;
}

inline Tensor floats(Shape shape, std::vector<float> v) { return Tensor::from_vector(DType::kFloat32, shape, v); }

inline Tensor random_floats(Shape shape, std::mt19937& rng, float lo = -2.f, float hi = 2.f) {
  Tensor t(DType::kFloat32, shape);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

inline std::vector<double> values(const Tensor& t) {
  std::vector<double> v;
  for (int64_t i = 0; i < t.numel(); ++i) v.push_back(t.get_as_double(i));
  return v;
}

// Element-wise |a - b| <= atol + rtol * |b|.
inline void expect_near(const Tensor& actual, const std::vector<double>& expected, double atol = 1e-5,
                        double rtol = 1e-5, const std::string& what = "") {
  ASSERT_EQ(actual.numel(), int64_t(expected.size())) << what;
  for (size_t i = 0; i < expected.size(); ++i) {
    const double a = actual.get_as_double(int64_t(i)), e = expected[i];
    if (std::isnan(e)) {
      EXPECT_TRUE(std::isnan(a)) << what << " at " << i;
      continue;
    }
    EXPECT_NEAR(a, e, atol + rtol * std::fabs(e)) << what << " at flat index " << i;
  }
}

// A seed printed with every failure so a random case can be replayed.
inline uint32_t test_seed() {
  static const uint32_t seed = std::random_device{}();
  return seed;
}

}  // namespace lowbit::np_test
