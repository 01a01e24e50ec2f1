// Node checks against ONNX's operator schemas at import (attributes, outputs).
//
// Attribute kinds: Op inference reads attributes through Node's typed getters,
// which silently fall back to the default on a kind mismatch (an `axis` stored as a float would be
// ignored). So every attribute is checked here against ONNX's own operator schemas for the model's
// opset: unknown attributes and attributes of the wrong kind are reported, collected with the
// other import problems.
#pragma once
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/shape_inference.h"

namespace lowbit {

// Checks `node`'s attributes for the given opset of its domain (`domain` "" = ai.onnx) and appends
// one issue per problem. Ops ONNX has no schema for are left alone (validate_and_infer reports
// them as unsupported). Returns true when ONNX's schema was found.
bool validate_attribute_kinds(const Node& node, int domain_opset, std::vector<GraphIssue>& issues);

// Checks the node's outputs against ONNX's schema: more outputs than the op has, or a required
// output left empty. Returns false (after appending issues) when the node must not reach inference
// or the constant folder, whose kernels may write every required output.
bool validate_node_outputs(const Node& node, int domain_opset, std::vector<GraphIssue>& issues);

}  // namespace lowbit
