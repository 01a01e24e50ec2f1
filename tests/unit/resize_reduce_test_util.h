// Helpers for the resize / reduce / quantize unit tests: build a node, run inference then the reference
// kernel exactly as the session does (outputs allocated from the inferred types), compare tensors.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "ops/op_table.h"
#include "runtime/thread_pool.h"

namespace lowbit::rr_test {

inline Attribute attr_i(int64_t v) { return Attribute::of_int(std::move(v)); }
inline Attribute attr_f(float v) { return Attribute::of_float(std::move(v)); }
inline Attribute attr_s(std::string v) { return Attribute::of_string(std::move(v)); }
inline Attribute attr_ints(std::vector<int64_t> v) { return Attribute::of_ints(std::move(v)); }
inline Attribute attr_floats(std::vector<float> v) { return Attribute::of_floats(std::move(v)); }

inline Tensor f32(Shape s, std::vector<float> v) { return Tensor::from_vector(DType::kFloat32, std::move(s), v); }
inline Tensor i64(Shape s, std::vector<int64_t> v) { return Tensor::from_vector(DType::kInt64, std::move(s), v); }
inline Tensor i32(Shape s, std::vector<int32_t> v) { return Tensor::from_vector(DType::kInt32, std::move(s), v); }
inline Tensor u8(Shape s, std::vector<uint8_t> v) { return Tensor::from_vector(DType::kUint8, std::move(s), v); }
inline Tensor s8(Shape s, std::vector<int8_t> v) { return Tensor::from_vector(DType::kInt8, std::move(s), v); }

// A node whose inputs are named "in<i>", or "" where the tensor passed for it is undefined (omitted).
inline Node make_node(const std::string& op, const std::vector<Tensor>& inputs,
                      std::map<std::string, Attribute> attrs = {}) {
  Node n;
  n.name = "n";
  n.op_type = op;
  for (size_t i = 0; i < inputs.size(); ++i) n.inputs.push_back(inputs[i].defined() ? "in" + std::to_string(i) : "");
  n.outputs = {"out0"};
  n.attrs = std::move(attrs);
  return n;
}

struct OpResult {
  Status status;
  std::vector<ValueType> types;
  Tensor out;
};

// Inference with every value known, allocation, then the reference kernel; a failing step stops there.
inline OpResult run_op(const std::string& op, int opset, const std::vector<Tensor>& inputs,
                       std::map<std::string, Attribute> attrs = {}, ThreadPool* pool = nullptr) {
  OpResult r;
  const Node node = make_node(op, inputs, std::move(attrs));
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
  ictx.output_types.resize(1);
  r.status = find_op("", op)->infer(ictx);
  r.types = ictx.output_types;
  if (!r.status.ok()) return r;
  if (!r.types[0].fully_known()) {
    r.status = Status(StatusCode::kInternal, "inference left the output shape unknown with every value known");
    return r;
  }
  r.out = Tensor(r.types[0].dtype, r.types[0].concrete());
  kctx.outputs.push_back(&r.out);
  r.status = find_op("", op)->ref(kctx);
  return r;
}

// Inference alone with the given input types and (possibly null) known values.
inline Status infer_only(const std::string& op, int opset, const std::vector<const ValueType*>& types,
                         const std::vector<const Tensor*>& values, ValueType* out,
                         std::map<std::string, Attribute> attrs = {}) {
  Node node;
  node.name = "n";
  node.op_type = op;
  for (size_t i = 0; i < types.size(); ++i) node.inputs.push_back(types[i] ? "in" + std::to_string(i) : "");
  node.outputs = {"out0"};
  node.attrs = std::move(attrs);
  InferContext ctx{node, opset, types, values, {}};
  ctx.output_types.resize(1);
  Status s = find_op("", op)->infer(ctx);
  *out = ctx.output_types[0];
  return s;
}

template <typename T>
std::vector<T> values_of(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}

inline void expect_near(const Tensor& t, const std::vector<float>& expected, float tol = 1e-5f) {
  ASSERT_EQ(t.dtype(), DType::kFloat32);
  ASSERT_EQ(size_t(t.numel()), expected.size());
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_NEAR(t.data<float>()[i], expected[i], tol * std::max(1.f, std::fabs(expected[i]))) << "at " << i;
}

}  // namespace lowbit::rr_test
