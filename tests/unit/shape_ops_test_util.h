// Test helpers for the shape & data-movement ops: build a node, run inference (symbolic or on
// concrete tensors) and the reference kernel, the way the session does.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "ops/op_table.h"
#include "runtime/thread_pool.h"

namespace lowbit::shape_test {

inline Attribute a_int(int64_t v) { return Attribute::of_int(std::move(v)); }
inline Attribute a_float(float v) { return Attribute::of_float(std::move(v)); }
inline Attribute a_str(std::string v) { return Attribute::of_string(std::move(v)); }
inline Attribute a_ints(std::vector<int64_t> v) { return Attribute::of_ints(std::move(v)); }
inline Attribute a_floats(std::vector<float> v) { return Attribute::of_floats(std::move(v)); }
inline Attribute a_tensor(Tensor t) {
  Attribute a;
  a.kind = Attribute::Kind::kTensor;
  a.t = std::move(t);
  return a;
}

// Tensor::from_vector would memcpy from a null pointer for empty vectors; build them here instead.
template <typename T>
Tensor make_tensor(DType t, Shape s, const std::vector<T>& v) {
  Tensor out(t, std::move(s));
  if (!v.empty()) std::memcpy(out.raw(), v.data(), std::min(out.nbytes(), v.size() * sizeof(T)));
  return out;
}
inline Tensor f32(Shape s, std::vector<float> v) { return make_tensor(DType::kFloat32, std::move(s), v); }
inline Tensor i64(Shape s, std::vector<int64_t> v) { return make_tensor(DType::kInt64, std::move(s), v); }
inline Tensor i32(Shape s, std::vector<int32_t> v) { return make_tensor(DType::kInt32, std::move(s), v); }
inline Tensor i64v(std::vector<int64_t> v) {
  int64_t n = int64_t(v.size());
  return i64({n}, std::move(v));
}
// 0, 1, 2, ... as float32 of the given shape.
inline Tensor iota_f32(Shape s) {
  Tensor t(DType::kFloat32, std::move(s));
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = float(i);
  return t;
}

inline Node make_node(const std::string& op, size_t inputs, size_t outputs, std::map<std::string, Attribute> attrs) {
  Node n;
  n.op_type = op;
  n.name = "my_" + op;
  for (size_t i = 0; i < inputs; ++i) n.inputs.push_back("in" + std::to_string(i));
  for (size_t i = 0; i < outputs; ++i) n.outputs.push_back("out" + std::to_string(i));
  n.attrs = std::move(attrs);
  return n;
}

struct OpResult {
  Status status;
  std::vector<ValueType> types;
  std::vector<Tensor> outs;
  const Tensor& out() const { return outs.at(0); }
};

// Runs inference on concrete inputs (all values known, as at run time), then the reference kernel.
// An undefined Tensor stands for an omitted input.
inline OpResult run_op(const std::string& op, int opset, const std::vector<Tensor>& inputs,
                       std::map<std::string, Attribute> attrs = {}, size_t outputs = 1, ThreadPool* pool = nullptr,
                       int64_t max_bytes = kDefaultMaxTensorBytes) {
  Node node = make_node(op, inputs.size(), outputs, std::move(attrs));
  for (size_t i = 0; i < inputs.size(); ++i)
    if (!inputs[i].defined()) node.inputs[i] = "";
  std::vector<ValueType> types(inputs.size());
  InferContext ictx{node, opset, {}, {}, {}, max_bytes};
  KernelContext kctx{node, opset, {}, {}, pool};
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor* t = inputs[i].defined() ? &inputs[i] : nullptr;
    if (t) types[i] = ValueType::of(*t);
    ictx.input_types.push_back(t ? &types[i] : nullptr);
    ictx.input_values.push_back(t);
    kctx.inputs.push_back(t);
  }
  ictx.output_types.resize(outputs);
  OpResult r;
  const OpSpec* spec = find_op("", op);
  r.status = spec->infer(ictx);
  r.types = ictx.output_types;
  if (!r.status.ok()) return r;
  r.outs.resize(outputs);
  for (size_t i = 0; i < outputs; ++i) {
    if (!r.types[i].fully_known()) {
      r.status = Status(StatusCode::kInternal, "output not concrete: " + r.types[i].to_string());
      return r;
    }
    auto t = Tensor::create(r.types[i].dtype, r.types[i].concrete(), max_bytes);
    if (!t) {
      r.status = t.status();
      return r;
    }
    r.outs[i] = std::move(*t);
    kctx.outputs.push_back(&r.outs[i]);
  }
  r.status = spec->ref(kctx);
  return r;
}

// Inference only, as at import: types given, values known only where `values[i]` is non-null.
struct InferResult {
  Status status;
  std::vector<ValueType> types;
  const ValueType& type() const { return types.at(0); }
};
inline InferResult infer_op(const std::string& op, int opset, const std::vector<ValueType>& types,
                            const std::vector<const Tensor*>& values, std::map<std::string, Attribute> attrs = {},
                            size_t outputs = 1, int64_t max_bytes = kDefaultMaxTensorBytes) {
  Node node = make_node(op, types.size(), outputs, std::move(attrs));
  InferContext ctx{node, opset, {}, {}, {}, max_bytes};
  for (size_t i = 0; i < types.size(); ++i) {
    bool present = types[i].dtype != DType::kUndefined;
    if (!present) node.inputs[i] = "";
    ctx.input_types.push_back(present ? &types[i] : nullptr);
    ctx.input_values.push_back(i < values.size() ? values[i] : nullptr);
  }
  ctx.output_types.resize(outputs);
  InferResult r;
  r.status = find_op("", op)->infer(ctx);
  r.types = ctx.output_types;
  return r;
}

inline ValueType vt(DType t, std::vector<Dim> dims) { return ValueType(t, std::move(dims)); }
inline Dim sym(const std::string& s) { return Dim::symbol(s); }

template <typename T>
std::vector<T> values_of(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}

inline bool mentions(const Status& s, const std::string& what) { return s.message().find(what) != std::string::npos; }

}  // namespace lowbit::shape_test
