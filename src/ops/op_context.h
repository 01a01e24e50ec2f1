// The two contexts every op sees.
//
// InferContext: validation + shape inference. Called once per node at import (with symbolic
// dims and only constant inputs' values known) and again at run time with concrete shapes and
// every input value known, so one function serves both. It must report bad attributes, wrong
// input counts and type errors as Status, never assert.
//
// KernelContext: execution. Outputs arrive allocated with the shapes/dtypes inference produced;
// the kernel only fills them. Kernels may assume inference succeeded on these exact inputs.
#pragma once
#include <string>
#include <vector>

#include "ir/graph.h"
#include "runtime/thread_pool.h"

namespace lowbit {

struct InferContext {
  const Node& node;
  int opset = 0;
  std::vector<const ValueType*> input_types;  // nullptr: input omitted
  std::vector<const Tensor*> input_values;    // nullptr: not known now
  std::vector<ValueType> output_types;        // one per node output, filled by the op
  int64_t max_tensor_bytes = kDefaultMaxTensorBytes;

  size_t num_inputs() const { return input_types.size(); }
  bool has_input(size_t i) const { return i < input_types.size() && input_types[i] != nullptr; }
  const ValueType& in(size_t i) const { return *input_types[i]; }
  // The input's value if it is known now (constant at import; always at run time).
  const Tensor* value(size_t i) const { return i < input_values.size() ? input_values[i] : nullptr; }
  size_t num_outputs() const { return output_types.size(); }
  void set_output(size_t i, ValueType t) {
    if (i < output_types.size()) output_types[i] = std::move(t);
  }

  // Errors, prefixed with the node: "Conv 'conv1': ...".
  template <typename... Args> Status fail(const Args&... args) const {
    return error(StatusCode::kInvalidModel, node.describe(), ": ", args...);
  }
  template <typename... Args> Status unsupported(const Args&... args) const {
    return error(StatusCode::kUnsupported, node.describe(), ": ", args...);
  }
  // Checks the number of present inputs lies in [min, max].
  Status expect_inputs(size_t min, size_t max) const;
  // Checks input i is present and of one of the given dtypes.
  Status expect_dtype(size_t i, std::initializer_list<DType> allowed) const;
};

struct KernelContext {
  const Node& node;
  int opset = 0;
  std::vector<const Tensor*> inputs;  // nullptr: omitted
  std::vector<Tensor*> outputs;       // allocated; nullptr for omitted outputs
  ThreadPool* pool = nullptr;

  bool has_input(size_t i) const { return i < inputs.size() && inputs[i] != nullptr; }
  const Tensor& in(size_t i) const { return *inputs[i]; }
  bool has_output(size_t i) const { return i < outputs.size() && outputs[i] != nullptr; }
  Tensor& out(size_t i) { return *outputs[i]; }
  // Runs body over [0, n) on the session's threads (inline when there is no pool).
  template <typename F> void parallel_for(int64_t n, F&& body, int64_t grain = 1) {
    if (pool) pool->parallel_for(n, body, grain);
    else body(int64_t(0), n);
  }
  template <typename... Args> Status fail(const Args&... args) const {
    return error(StatusCode::kInvalidArgument, node.describe(), ": ", args...);
  }
};

using InferFn = Status (*)(InferContext&);
using KernelFn = Status (*)(KernelContext&);

}  // namespace lowbit
