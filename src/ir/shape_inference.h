// Graph-level validation and shape inference: one pass over the nodes in topological order
// that collects EVERY problem (unsupported ops, dangling inputs, type errors, bad attributes)
// instead of stopping at the first, so a user sees the whole list at once.
#pragma once
#include <string>
#include <vector>

#include "ir/graph.h"

namespace lowbit {

struct GraphIssue {
  StatusCode code;
  std::string message;  // already names the node / value
};

// Checks ops against the op table and runs each op's inference, filling ValueInfo::type for every
// node output. Values whose producer failed become unknown so later nodes still get checked.
// `max_tensor_bytes` bounds shapes that inference can prove (constant-driven Reshape/Expand/...).
std::vector<GraphIssue> validate_and_infer(Graph& g, int64_t max_tensor_bytes = kDefaultMaxTensorBytes);

// Joins issues into one message ("3 problems in 'model.onnx':\n  - ...").
Status issues_to_status(const std::vector<GraphIssue>& issues, const std::string& what);

}  // namespace lowbit
