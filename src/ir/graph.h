// The graph IR: nodes in topological order over named values with typed, possibly symbolic shapes.
// The importer (src/onnx) builds it, shape inference (src/ir/shape_inference) annotates it,
// passes rewrite it, and the runtime executes it.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "lowbit/status.h"
#include "lowbit/tensor.h"

namespace lowbit {

// One dimension: a known size (value >= 0), a named symbol ("batch"), or unknown (value < 0, no name).
struct Dim {
  int64_t value = -1;
  std::string param;
  Dim() = default;
  Dim(int64_t v) : value(v) {}  // NOLINT: implicit so {1, 3, 224, 224} works
  static Dim symbol(std::string name) { Dim d; d.param = std::move(name); return d; }
  bool known() const { return value >= 0; }
  bool operator==(const Dim& o) const { return value == o.value && param == o.param; }
  std::string to_string() const { return known() ? std::to_string(value) : (param.empty() ? "?" : param); }
};

// dtype plus shape; has_shape=false means the rank itself is unknown.
struct ValueType {
  DType dtype = DType::kUndefined;
  bool has_shape = false;
  std::vector<Dim> dims;

  ValueType() = default;
  ValueType(DType t, std::vector<Dim> d) : dtype(t), has_shape(true), dims(std::move(d)) {}
  static ValueType of(const Tensor& t) {
    std::vector<Dim> d(t.shape().begin(), t.shape().end());
    return ValueType(t.dtype(), d);
  }
  size_t rank() const { return dims.size(); }
  bool fully_known() const {
    if (!has_shape) return false;
    for (auto& d : dims) if (!d.known()) return false;
    return true;
  }
  Shape concrete() const {  // only when fully_known()
    Shape s;
    for (auto& d : dims) s.push_back(d.value);
    return s;
  }
  std::string to_string() const;  // "float32[batch,3,224,224]"
};

struct Attribute {
  enum class Kind { kUndefined, kFloat, kInt, kString, kTensor, kFloats, kInts, kStrings, kGraph };
  Kind kind = Kind::kUndefined;
  float f = 0;
  int64_t i = 0;
  std::string s;
  Tensor t;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;

  // Factories: Attribute::of_ints({1, 1}), Attribute::of_int(0), ...
  static Attribute of_int(int64_t v) { Attribute a; a.kind = Kind::kInt; a.i = v; return a; }
  static Attribute of_float(float v) { Attribute a; a.kind = Kind::kFloat; a.f = v; return a; }
  static Attribute of_string(std::string v) { Attribute a; a.kind = Kind::kString; a.s = std::move(v); return a; }
  static Attribute of_ints(std::vector<int64_t> v) { Attribute a; a.kind = Kind::kInts; a.ints = std::move(v); return a; }
  static Attribute of_floats(std::vector<float> v) { Attribute a; a.kind = Kind::kFloats; a.floats = std::move(v); return a; }
};
const char* attribute_kind_name(Attribute::Kind k);

struct Node {
  std::string name;     // never empty after import (generated as "<op_type>_<index>" if absent)
  std::string op_type;
  std::string domain;   // "" for ai.onnx
  std::vector<std::string> inputs;   // "" = omitted optional input
  std::vector<std::string> outputs;  // "" = omitted optional output
  std::map<std::string, Attribute> attrs;

  bool has_attr(const std::string& n) const { return attrs.count(n) != 0; }
  const Attribute* attr(const std::string& n) const {
    auto it = attrs.find(n);
    return it == attrs.end() ? nullptr : &it->second;
  }
  // Typed getters fall back to the default when absent. Kind mismatches are caught at import
  // (validate_attribute_kinds), so the getters can stay simple.
  int64_t attr_int(const std::string& n, int64_t def) const;
  float attr_float(const std::string& n, float def) const;
  std::string attr_string(const std::string& n, const std::string& def) const;
  std::vector<int64_t> attr_ints(const std::string& n, std::vector<int64_t> def = {}) const;
  std::vector<float> attr_floats(const std::string& n, std::vector<float> def = {}) const;
  // "Conv 'conv1'" — used as the prefix of every node error.
  std::string describe() const { return op_type + " '" + name + "'"; }
  // Number of inputs that are present (trailing omitted ones not counted).
  size_t num_inputs() const;
  bool has_input(size_t i) const { return i < inputs.size() && !inputs[i].empty(); }
};

struct ValueInfo {
  std::string name;
  ValueType type;
  std::optional<Tensor> constant;  // initializers, Constant outputs and small values folded at import
  bool initializer = false;        // came from the file's initializers (counts as a parameter)
  int producer = -1;               // index in Graph::nodes, -1 for graph inputs / initializers
};

struct Graph {
  // Model metadata (for inspect).
  std::string producer_name, producer_version, domain, doc_string, graph_name;
  int64_t ir_version = 0;
  int64_t model_version = 0;
  std::map<std::string, int64_t> opset_imports;  // domain ("" = ai.onnx) -> version
  int opset = 0;                                  // the ai.onnx opset in force
  std::string path;                               // file it came from (for messages)
  std::map<std::string, std::string> metadata_props;  // the model's key/value metadata (kept on export)

  std::vector<Node> nodes;                 // topological order
  std::vector<std::string> inputs;         // runtime inputs (initializers excluded)
  std::vector<std::string> overridable_initializers;  // initializers also listed as inputs (IR < 4 style)
  std::vector<std::string> outputs;
  std::unordered_map<std::string, ValueInfo> values;  // every named value

  ValueInfo* find(const std::string& name) {
    auto it = values.find(name);
    return it == values.end() ? nullptr : &it->second;
  }
  const ValueInfo* find(const std::string& name) const {
    auto it = values.find(name);
    return it == values.end() ? nullptr : &it->second;
  }
  const Tensor* constant(const std::string& name) const {
    auto* v = find(name);
    return v && v->constant ? &*v->constant : nullptr;
  }
  // Recomputes ValueInfo::producer from nodes.
  void index_producers();
};

// Sorts nodes topologically. Fails naming the nodes on a cycle, or a value produced twice.
Status topological_sort(Graph& g);

}  // namespace lowbit
