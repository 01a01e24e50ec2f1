#include "onnx/attribute_check.h"

#include <onnx/defs/schema.h>

#include <map>

namespace lowbit {

namespace {

Attribute::Kind kind_of(onnx::AttributeProto::AttributeType t) {
  switch (t) {
    case onnx::AttributeProto::FLOAT:
      return Attribute::Kind::kFloat;
    case onnx::AttributeProto::INT:
      return Attribute::Kind::kInt;
    case onnx::AttributeProto::STRING:
      return Attribute::Kind::kString;
    case onnx::AttributeProto::TENSOR:
      return Attribute::Kind::kTensor;
    case onnx::AttributeProto::FLOATS:
      return Attribute::Kind::kFloats;
    case onnx::AttributeProto::INTS:
      return Attribute::Kind::kInts;
    case onnx::AttributeProto::STRINGS:
      return Attribute::Kind::kStrings;
    case onnx::AttributeProto::GRAPH:
    case onnx::AttributeProto::GRAPHS:
      return Attribute::Kind::kGraph;
    default:
      return Attribute::Kind::kUndefined;  // sparse tensors, type protos: never stored in a Node
  }
}

// Used only if ONNX's schema registry has no entry (it should always have one for ai.onnx ops):
// the attributes whose kind our ops rely on most.
const std::map<std::string, Attribute::Kind>& fallback_kinds() {
  static const std::map<std::string, Attribute::Kind> kinds = {
      {"axis", Attribute::Kind::kInt},          {"keepdims", Attribute::Kind::kInt},
      {"group", Attribute::Kind::kInt},         {"to", Attribute::Kind::kInt},
      {"kernel_shape", Attribute::Kind::kInts}, {"pads", Attribute::Kind::kInts},
      {"strides", Attribute::Kind::kInts},      {"dilations", Attribute::Kind::kInts},
      {"perm", Attribute::Kind::kInts},         {"alpha", Attribute::Kind::kFloat},
      {"beta", Attribute::Kind::kFloat},        {"epsilon", Attribute::Kind::kFloat},
      {"mode", Attribute::Kind::kString},       {"auto_pad", Attribute::Kind::kString},
  };
  return kinds;
}

}  // namespace

bool validate_attribute_kinds(const Node& node, int domain_opset, std::vector<GraphIssue>& issues) {
  auto mismatch = [&](const std::string& name, Attribute::Kind expected, Attribute::Kind got) {
    issues.push_back({StatusCode::kInvalidModel,
                      str_cat(node.describe(), ": attribute '", name, "' must be of kind ",
                              attribute_kind_name(expected), " but the file stores it as ", attribute_kind_name(got))});
  };
  const std::string domain = node.domain.empty() ? std::string("") : node.domain;
  const onnx::OpSchema* schema =
      domain_opset > 0 ? onnx::OpSchemaRegistry::Schema(node.op_type, domain_opset, domain == "ai.onnx" ? "" : domain)
                       : nullptr;
  if (!schema) {
    if (!node.domain.empty() && node.domain != "ai.onnx") return false;  // other domains: not ours to judge
    for (auto& [name, attr] : node.attrs) {
      auto it = fallback_kinds().find(name);
      // `axes` changed from attribute to input over opsets; kind still ints where present.
      Attribute::Kind want =
          name == "axes" ? Attribute::Kind::kInts : (it == fallback_kinds().end() ? attr.kind : it->second);
      if (attr.kind != want) mismatch(name, want, attr.kind);
    }
    return false;
  }
  const auto& declared = schema->attributes();
  for (auto& [name, attr] : node.attrs) {
    auto it = declared.find(name);
    if (it == declared.end()) {
      std::string known;
      for (auto& [n, a] : declared) known += (known.empty() ? "" : ", ") + n;
      issues.push_back(
          {StatusCode::kInvalidModel,
           str_cat(node.describe(), ": unknown attribute '", name, "' for ", node.op_type, " in opset ", domain_opset,
                   known.empty() ? " (it takes no attributes)" : " (known: " + known + ")")});
      continue;
    }
    Attribute::Kind want = kind_of(it->second.type);
    if (want != Attribute::Kind::kUndefined && attr.kind != want) mismatch(name, want, attr.kind);
  }
  return true;
}

bool validate_node_outputs(const Node& node, int domain_opset, std::vector<GraphIssue>& issues) {
  size_t present = 0;
  for (auto& o : node.outputs) present += !o.empty();
  if (present == 0) {
    issues.push_back({StatusCode::kInvalidModel, str_cat(node.describe(), " has no outputs")});
    return false;
  }
  if (domain_opset <= 0 || (!node.domain.empty() && node.domain != "ai.onnx")) return true;
  const onnx::OpSchema* schema = onnx::OpSchemaRegistry::Schema(node.op_type, domain_opset, "");
  if (!schema) return true;
  bool ok = true;
  if (int64_t(node.outputs.size()) > int64_t(schema->max_output()))
    issues.push_back(
        {StatusCode::kInvalidModel, str_cat(node.describe(), " has ", node.outputs.size(), " outputs; ", node.op_type,
                                            " has at most ", schema->max_output(), " in opset ", domain_opset)});
  if (int64_t(node.outputs.size()) < int64_t(schema->min_output())) {
    issues.push_back(
        {StatusCode::kInvalidModel, str_cat(node.describe(), " has ", node.outputs.size(), " output(s); ", node.op_type,
                                            " needs at least ", schema->min_output(), " in opset ", domain_opset)});
    ok = false;
  }
  const auto& formal = schema->outputs();
  for (size_t i = 0; i < formal.size() && i < node.outputs.size(); ++i) {
    if (node.outputs[i].empty() && formal[i].GetOption() == onnx::OpSchema::Single) {
      issues.push_back({StatusCode::kInvalidModel, str_cat(node.describe(), ": required output ", i, " ('",
                                                           formal[i].GetName(), "') has no name")});
      ok = false;
    }
  }
  return ok;
}

}  // namespace lowbit
