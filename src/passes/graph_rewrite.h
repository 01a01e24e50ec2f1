// Small helpers the passes share: who consumes a value, which inputs are true constants, fresh names,
// and committing a rewrite (drop removed nodes, prune unused values, re-sort, re-infer).
#pragma once
#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ir/graph.h"
#include "ops/fused_activation.h"

namespace lowbit {

struct ValueUse {
  size_t node;   // index in Graph::nodes
  size_t input;  // input slot
};

// Consumers of every value, and which values are graph outputs. Built once per pass (indices go stale
// when nodes are added or removed, so passes only mark nodes removed and commit at the end).
class GraphUses {
 public:
  explicit GraphUses(const Graph& g);
  const std::vector<ValueUse>& of(const std::string& value) const;
  // Distinct consumer nodes.
  size_t consumer_count(const std::string& value) const;
  bool is_graph_output(const std::string& value) const { return outputs_.count(value) != 0; }
  // Exactly one consumer node, and not a graph output: the value may be fused away.
  bool single_internal_use(const std::string& value) const {
    return !is_graph_output(value) && consumer_count(value) == 1;
  }
  void rebuild(const Graph& g);

 private:
  std::unordered_map<std::string, std::vector<ValueUse>> uses_;
  std::unordered_set<std::string> outputs_;
};

bool is_overridable(const Graph& g, const std::string& name);
// The value's tensor when it is a constant the passes may rely on (not an overridable initializer).
const Tensor* constant_value(const Graph& g, const std::string& name);
// `base`, or `base_1`, `base_2`, ... whichever no value uses yet.
std::string unique_value_name(const Graph& g, const std::string& base);
// unique_value_name, registered as a (not yet typed) value of the graph: the name of a new node's output.
std::string add_value(Graph& g, const std::string& base);
// A node of the default domain (no attributes yet).
Node make_node(const std::string& op, const std::string& name, std::vector<std::string> inputs,
               std::vector<std::string> outputs);
// Adds a new constant (an initializer with no producer) and returns its name.
std::string add_constant(Graph& g, const std::string& base, Tensor t);
// Makes every node input reading `from` read `to` instead.
void replace_uses(Graph& g, const std::string& from, const std::string& to);
// For rewrites that change what a node output means (a name denotes one value: lowbit compare matches the FP32
// and the quantized model's tensors by name): renames the output to a fresh `name + suffix`, moving its ValueInfo,
// and rewires every reader. Not for graph outputs. Returns the new name.
std::string rename_changed_output(Graph& g, Node& producer, size_t output, const std::string& suffix);

// Drops the nodes marked in `removed`, removes values nothing refers to any more (keeping graph inputs,
// outputs and overridable initializers), re-sorts and re-runs validate_and_infer. Fails if the rewritten
// graph no longer validates (a pass bug, reported with the pass name).
Status commit_rewrite(Graph& g, const std::vector<bool>& removed, const std::string& pass);

// The activation a single-input node computes (Relu, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Clip with
// constant bounds), or kind kNone.
FusedActivation activation_of(const Graph& g, const Node& n);

// Runs inference and the reference kernel of one node: inputs from `value` (when given and it knows the name),
// else the graph's constants. Empty when an input is unknown, inference fails or an output exceeds max_bytes.
std::vector<Tensor> evaluate_node(const Graph& g, const Node& node, int64_t max_bytes,
                                  const std::function<const Tensor*(const std::string&)>& value = nullptr);

// Same dims (known values equal, or the same symbol): the two types provably describe the same shape.
bool same_shape(const ValueType& a, const ValueType& b);

}  // namespace lowbit
