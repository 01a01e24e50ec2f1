// Helpers for the Conv / ConvTranspose / Gemm / MatMul unit tests: build nodes, run inference then the reference
// kernel the way the session does, random tensors with a printed seed, and relative-error comparison.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "ops/op_table.h"
#include "runtime/thread_pool.h"

namespace lowbit::cg_test {

inline Attribute ints_attr(std::vector<int64_t> v) { return Attribute::of_ints(std::move(v)); }
inline Attribute int_attr(int64_t v) { return Attribute::of_int(std::move(v)); }
inline Attribute float_attr(float v) { return Attribute::of_float(std::move(v)); }
inline Attribute string_attr(std::string v) { return Attribute::of_string(std::move(v)); }

inline Node make_node(const std::string& op, size_t inputs, std::map<std::string, Attribute> attrs = {}) {
  Node n;
  n.name = "n";
  n.op_type = op;
  for (size_t i = 0; i < inputs; ++i) n.inputs.push_back("in" + std::to_string(i));
  n.outputs = {"out"};
  n.attrs = std::move(attrs);
  return n;
}

// Inference alone on (possibly symbolic) input types.
inline Status infer(const Node& node, int opset, const std::vector<ValueType>& types, ValueType* out) {
  std::vector<const ValueType*> ptrs;
  for (auto& t : types) ptrs.push_back(&t);
  InferContext ctx{node, opset, ptrs, std::vector<const Tensor*>(types.size(), nullptr), {}};
  ctx.output_types.resize(node.outputs.size());
  Status s = find_op(node.domain, node.op_type)->infer(ctx);
  *out = ctx.output_types[0];
  return s;
}

// Runs inference on concrete inputs, allocates the output filled with NaN (so a kernel that leaves cells
// unwritten fails the comparison), then runs the reference kernel. Undefined tensors are omitted inputs.
inline Expected<Tensor> run_op(const Node& node, int opset, const std::vector<Tensor>& inputs,
                               ThreadPool* pool = nullptr) {
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
  const OpSpec* op = find_op(node.domain, node.op_type);
  LB_RETURN_IF_ERROR(op->infer(ictx));
  if (!ictx.output_types[0].fully_known()) return Status(StatusCode::kInternal, "output shape not concrete");
  Tensor out(ictx.output_types[0].dtype, ictx.output_types[0].concrete());
  for (int64_t i = 0; i < out.numel(); ++i) {
    if (out.dtype() == DType::kFloat32) out.data<float>()[i] = std::numeric_limits<float>::quiet_NaN();
    if (out.dtype() == DType::kFloat64) out.data<double>()[i] = std::numeric_limits<double>::quiet_NaN();
  }
  kctx.outputs.push_back(&out);
  LB_RETURN_IF_ERROR(op->ref(kctx));
  return out;
}

// A seeded generator whose seed is printed, so a failure can be replayed: LOWBIT_TEST_SEED=<seed>.
inline std::mt19937 seeded_rng(const char* test) {
  const char* fixed = std::getenv("LOWBIT_TEST_SEED");
  const uint32_t seed = fixed ? uint32_t(std::strtoul(fixed, nullptr, 10)) : std::random_device{}();
  std::printf("[ seed ] %s: %u\n", test, seed);
  return std::mt19937(seed);
}

inline Tensor random_tensor(std::mt19937& rng, DType dtype, Shape shape) {
  Tensor t(dtype, std::move(shape));
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (dtype == DType::kFloat32) t.data<float>()[i] = float(u(rng));
    else if (dtype == DType::kFloat64) t.data<double>()[i] = u(rng);
    else if (dtype == DType::kInt32) t.data<int32_t>()[i] = int32_t(rng() % 19) - 9;
    else if (dtype == DType::kInt64) t.data<int64_t>()[i] = int64_t(rng() % 19) - 9;
  }
  return t;
}

// Max over elements of |got - want| / (scale + 1e-6), where scale is the sum of the magnitudes of the terms
// that made the element (sum |a_p * b_p| for a dot product): the natural relative error of a float sum, which
// stays ~1e-7 whatever the depth even where terms cancel. Without a scale, |want| + 1 is used.
inline double max_error(const Tensor& got, const std::vector<double>& want, const std::vector<double>& scale = {}) {
  if (got.numel() != int64_t(want.size())) return std::numeric_limits<double>::infinity();
  double worst = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double denom = scale.empty() ? std::abs(want[i]) + 1.0 : scale[i] + 1e-6;
    const double e = std::abs(got.get_as_double(i) - want[i]) / denom;
    if (!(e <= worst)) worst = e;  // NaN sticks
  }
  return worst;
}

// Row-major strides of a shape (elements).
inline std::vector<int64_t> strides_of(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}

}  // namespace lowbit::cg_test
