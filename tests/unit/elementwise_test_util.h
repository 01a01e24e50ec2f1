// Helpers for the elementwise / cast unit tests: run one node through inference and its reference kernel.
#pragma once
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ops/op_table.h"
#include "runtime/thread_pool.h"

namespace lowbit::elementwise_test {

inline Attribute float_attr(float v) { return Attribute::of_float(std::move(v)); }
inline Attribute int_attr(int64_t v) { return Attribute::of_int(std::move(v)); }

inline Node make_node(const std::string& op, size_t num_inputs, size_t num_outputs,
                      std::map<std::string, Attribute> attrs = {}) {
  Node n;
  n.name = "n";
  n.op_type = op;
  for (size_t i = 0; i < num_inputs; ++i) n.inputs.push_back("in" + std::to_string(i));
  for (size_t i = 0; i < num_outputs; ++i) n.outputs.push_back("out" + std::to_string(i));
  n.attrs = std::move(attrs);
  return n;
}

// Inference only, on (possibly symbolic) types; a default ValueType (kUndefined) marks an omitted input.
inline Status infer(const std::string& op, const std::vector<ValueType>& inputs, int opset,
                    std::vector<ValueType>* outputs, std::map<std::string, Attribute> attrs = {},
                    size_t num_outputs = 1) {
  Node node = make_node(op, inputs.size(), num_outputs, std::move(attrs));
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].dtype == DType::kUndefined) node.inputs[i] = "";
  InferContext ctx{node, opset, {}, {}, {}, kDefaultMaxTensorBytes};
  for (auto& t : inputs) {
    ctx.input_types.push_back(t.dtype == DType::kUndefined ? nullptr : &t);
    ctx.input_values.push_back(nullptr);
  }
  ctx.output_types.resize(num_outputs);
  Status s = find_op("", op)->infer(ctx);
  *outputs = ctx.output_types;
  return s;
}

struct RunResult {
  Status status;
  std::vector<Tensor> outputs;
};

// Runs inference with every input value known (as at run time), allocates the outputs and runs the
// reference kernel. An undefined Tensor marks an omitted input.
inline RunResult run(const std::string& op, const std::vector<Tensor>& inputs, int opset = 17,
                     std::map<std::string, Attribute> attrs = {}, size_t num_outputs = 1, ThreadPool* pool = nullptr) {
  RunResult r;
  Node node = make_node(op, inputs.size(), num_outputs, std::move(attrs));
  std::vector<ValueType> types;
  types.reserve(inputs.size());
  for (auto& t : inputs) types.push_back(t.defined() ? ValueType::of(t) : ValueType());
  InferContext ictx{node, opset, {}, {}, {}, kDefaultMaxTensorBytes};
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) node.inputs[i] = "";
    ictx.input_types.push_back(inputs[i].defined() ? &types[i] : nullptr);
    ictx.input_values.push_back(inputs[i].defined() ? &inputs[i] : nullptr);
  }
  ictx.output_types.resize(num_outputs);
  r.status = find_op("", op)->infer(ictx);
  if (!r.status.ok()) return r;
  r.outputs.resize(num_outputs);
  KernelContext kctx{node, opset, {}, {}, pool};
  for (auto& t : inputs) kctx.inputs.push_back(t.defined() ? &t : nullptr);
  for (size_t i = 0; i < num_outputs; ++i) {
    const ValueType& t = ictx.output_types[i];
    if (!t.fully_known()) {
      r.status = Status(StatusCode::kInternal, "output " + std::to_string(i) + " not fully inferred: " + t.to_string());
      return r;
    }
    r.outputs[i] = Tensor(t.dtype, t.concrete());
    kctx.outputs.push_back(&r.outputs[i]);
  }
  r.status = find_op("", op)->ref(kctx);
  return r;
}

template <typename T>
inline Tensor make(DType dtype, Shape shape, std::vector<T> values) {
  return Tensor::from_vector<T>(dtype, std::move(shape), values);
}
inline Tensor f32(Shape shape, std::vector<float> v) { return make<float>(DType::kFloat32, std::move(shape), v); }
inline Tensor f64(Shape shape, std::vector<double> v) { return make<double>(DType::kFloat64, std::move(shape), v); }
inline Tensor i32(Shape shape, std::vector<int32_t> v) { return make<int32_t>(DType::kInt32, std::move(shape), v); }
inline Tensor i64(Shape shape, std::vector<int64_t> v) { return make<int64_t>(DType::kInt64, std::move(shape), v); }
inline Tensor i8(Shape shape, std::vector<int8_t> v) { return make<int8_t>(DType::kInt8, std::move(shape), v); }
inline Tensor u8(Shape shape, std::vector<uint8_t> v) { return make<uint8_t>(DType::kUint8, std::move(shape), v); }
inline Tensor boolean(Shape shape, std::vector<uint8_t> v) { return make<uint8_t>(DType::kBool, std::move(shape), v); }
inline Tensor f16(Shape shape, std::vector<float> v) {
  std::vector<uint16_t> bits;
  for (float f : v) bits.push_back(float_to_half(f));
  return make<uint16_t>(DType::kFloat16, std::move(shape), bits);
}

template <typename T>
inline std::vector<T> values(const Tensor& t) {
  const T* p = t.data<T>();
  return std::vector<T>(p, p + t.numel());
}
inline std::vector<float> half_values(const Tensor& t) {
  std::vector<float> r;
  for (int64_t i = 0; i < t.numel(); ++i) r.push_back(half_to_float(t.data<uint16_t>()[i]));
  return r;
}

}  // namespace lowbit::elementwise_test
