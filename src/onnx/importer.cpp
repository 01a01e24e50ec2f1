// ONNX ModelProto -> Graph.
//
// The importer never stops at the first problem it can survive: attribute kinds, duplicate names,
// element types and initializer data are all collected as GraphIssues, then merged with what
// validate_and_infer finds (unsupported ops, dangling inputs, type errors), so the user gets one
// message listing everything. Only problems that make the rest meaningless (unparseable file,
// unsupported IR version or opset) stop early.
#include "onnx/importer.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <climits>
#include <map>
#include <optional>
#include <set>

#include "ir/shape_inference.h"
#include "onnx/attribute_check.h"
#include "onnx/external_data.h"
#include "onnx/proto_util.h"
#include "ops/op_table.h"

namespace lowbit {

namespace {

bool is_ai_onnx(const std::string& domain) { return domain.empty() || domain == "ai.onnx"; }

// State of one import: the graph being built and every problem found so far.
struct Importer {
  const std::string& base_dir;
  const ImportOptions& options;
  Graph g;
  std::vector<GraphIssue> issues;

  void add(StatusCode code, std::string message) { issues.push_back({code, std::move(message)}); }
  void add(const Status& s) { issues.push_back({s.code(), s.message()}); }

  // TypeProto -> ValueType. `what` names the value in messages ("graph input 'x'").
  Expected<ValueType> convert_type(const onnx::TypeProto& type, const std::string& what) {
    switch (type.value_case()) {
      case onnx::TypeProto::kTensorType:
        break;
      case onnx::TypeProto::VALUE_NOT_SET:
        return error(StatusCode::kInvalidModel, what, " has no type");
      case onnx::TypeProto::kSequenceType:
        return error(StatusCode::kUnsupported, what, " is a sequence; lowbit only supports tensors");
      case onnx::TypeProto::kMapType:
        return error(StatusCode::kUnsupported, what, " is a map; lowbit only supports tensors");
      case onnx::TypeProto::kOptionalType:
        return error(StatusCode::kUnsupported, what, " is an optional; lowbit only supports tensors");
      case onnx::TypeProto::kSparseTensorType:
        return error(StatusCode::kUnsupported, what, " is a sparse tensor; lowbit only supports dense tensors");
      default:
        return error(StatusCode::kUnsupported, what, " has a type lowbit does not support");
    }
    const onnx::TypeProto::Tensor& tensor = type.tensor_type();
    LB_ASSIGN_OR_RETURN(DType dtype, dtype_from_onnx(tensor.elem_type(), what));
    ValueType vt;
    vt.dtype = dtype;
    if (!tensor.has_shape()) return vt;  // rank unknown
    vt.has_shape = true;
    for (const auto& d : tensor.shape().dim()) {
      if (d.has_dim_value()) {
        if (d.dim_value() < 0)
          return error(StatusCode::kInvalidModel, what, " has a negative dimension ", d.dim_value());
        vt.dims.push_back(Dim(d.dim_value()));
      } else if (d.has_dim_param() && !d.dim_param().empty()) {
        vt.dims.push_back(Dim::symbol(d.dim_param()));
      } else {
        vt.dims.push_back(Dim());
      }
    }
    return vt;
  }

  // AttributeProto -> Attribute; nullopt (and an issue) when the kind cannot be represented.
  std::optional<Attribute> convert_attribute(onnx::AttributeProto& a, const std::string& node_desc) {
    auto type = a.type();
    if (type == onnx::AttributeProto::UNDEFINED) {
      // Very old exporters did not set `type`; infer it from the field that holds the value, like ONNX does.
      if (a.has_f())
        type = onnx::AttributeProto::FLOAT;
      else if (a.has_i())
        type = onnx::AttributeProto::INT;
      else if (a.has_s())
        type = onnx::AttributeProto::STRING;
      else if (a.has_t())
        type = onnx::AttributeProto::TENSOR;
      else if (a.has_g())
        type = onnx::AttributeProto::GRAPH;
      else if (a.floats_size())
        type = onnx::AttributeProto::FLOATS;
      else if (a.ints_size())
        type = onnx::AttributeProto::INTS;
      else if (a.strings_size())
        type = onnx::AttributeProto::STRINGS;
      else if (a.graphs_size())
        type = onnx::AttributeProto::GRAPHS;
    }
    Attribute out;
    switch (type) {
      case onnx::AttributeProto::FLOAT:
        out.kind = Attribute::Kind::kFloat;
        out.f = a.f();
        break;
      case onnx::AttributeProto::INT:
        out.kind = Attribute::Kind::kInt;
        out.i = a.i();
        break;
      case onnx::AttributeProto::STRING:
        out.kind = Attribute::Kind::kString;
        out.s = a.s();
        break;
      case onnx::AttributeProto::FLOATS:
        out.kind = Attribute::Kind::kFloats;
        out.floats.assign(a.floats().begin(), a.floats().end());
        break;
      case onnx::AttributeProto::INTS:
        out.kind = Attribute::Kind::kInts;
        out.ints.assign(a.ints().begin(), a.ints().end());
        break;
      case onnx::AttributeProto::STRINGS:
        out.kind = Attribute::Kind::kStrings;
        out.strings.assign(a.strings().begin(), a.strings().end());
        break;
      case onnx::AttributeProto::GRAPH:
      case onnx::AttributeProto::GRAPHS:
        // Subgraphs are only recorded: control-flow ops are not supported and are reported as such.
        out.kind = Attribute::Kind::kGraph;
        break;
      case onnx::AttributeProto::TENSOR: {
        out.kind = Attribute::Kind::kTensor;
        auto t = tensor_from_proto(a.t(), base_dir, options.max_tensor_bytes);
        if (!t) {
          add(t.status().code(), str_cat(node_desc, ": attribute '", a.name(), "': ", t.status().message()));
          return std::nullopt;
        }
        out.t = std::move(*t);
        a.mutable_t()->clear_raw_data();  // old exporters keep weights in Constant nodes: free the proto copy
        break;
      }
      case onnx::AttributeProto::UNDEFINED:
        add(StatusCode::kInvalidModel, str_cat(node_desc, ": attribute '", a.name(), "' has no type and no value"));
        return std::nullopt;
      default:
        add(StatusCode::kUnsupported, str_cat(node_desc, ": attribute '", a.name(), "' is of kind ",
                                              onnx::AttributeProto::AttributeType_Name(type).empty()
                                                  ? std::to_string(int(type))
                                                  : onnx::AttributeProto::AttributeType_Name(type),
                                              ", which lowbit does not support"));
        return std::nullopt;
    }
    return out;
  }

  void import_node(onnx::NodeProto& p, size_t index) {
    Node n;
    n.op_type = p.op_type();
    n.domain = is_ai_onnx(p.domain()) ? "" : p.domain();
    n.name = p.name().empty() ? str_cat(p.op_type().empty() ? "node" : p.op_type(), "_", index) : p.name();
    n.inputs.assign(p.input().begin(), p.input().end());
    n.outputs.assign(p.output().begin(), p.output().end());
    if (n.op_type.empty()) add(StatusCode::kInvalidModel, str_cat("node #", index, " '", n.name, "' has no op_type"));
    for (auto& a : *p.mutable_attribute()) {
      if (a.name().empty()) {
        add(StatusCode::kInvalidModel, str_cat(n.describe(), ": an attribute has no name"));
        continue;
      }
      if (!a.ref_attr_name().empty()) {
        add(StatusCode::kInvalidModel,
            str_cat(n.describe(), ": attribute '", a.name(), "' refers to a function attribute outside a function"));
        continue;
      }
      if (n.attrs.count(a.name())) {
        add(StatusCode::kInvalidModel, str_cat(n.describe(), ": attribute '", a.name(), "' is given twice"));
        continue;
      }
      if (auto attr = convert_attribute(a, n.describe())) n.attrs.emplace(a.name(), std::move(*attr));
    }
    auto opset_it = g.opset_imports.find(n.domain);
    int domain_opset = opset_it == g.opset_imports.end() ? 0 : int(opset_it->second);
    // A node whose required outputs are missing is reported and left out: it computes nothing
    // usable, and inference / constant folding may write every required output.
    bool keep = validate_node_outputs(n, domain_opset, issues);
    // Other domains' nodes are reported as unsupported by validation; their attributes are not ours to judge.
    if (options.validate && !n.op_type.empty() && n.domain.empty() && domain_opset > 0)
      validate_attribute_kinds(n, domain_opset, issues);
    if (keep) g.nodes.push_back(std::move(n));
  }

  // Metadata and opsets. Returns an error when the model cannot be imported at all.
  Status import_header(const onnx::ModelProto& m) {
    if (!m.has_graph() && m.ir_version() == 0 && m.opset_import_size() == 0)
      return error(StatusCode::kInvalidModel, "not a valid ONNX model (no ir_version, opset_import or graph)");
    if (m.ir_version() < kMinIrVersion || m.ir_version() > kMaxIrVersion)
      return error(StatusCode::kUnsupported, "model uses IR version ", m.ir_version(), "; lowbit supports ",
                   kMinIrVersion, "-", kMaxIrVersion);
    g.ir_version = m.ir_version();
    g.producer_name = m.producer_name();
    g.producer_version = m.producer_version();
    g.domain = m.domain();
    g.model_version = m.model_version();
    g.doc_string = m.doc_string();
    for (const auto& kv : m.metadata_props()) g.metadata_props[kv.key()] = kv.value();
    for (const auto& op : m.opset_import()) {
      std::string domain = is_ai_onnx(op.domain()) ? "" : op.domain();
      if (!g.opset_imports.emplace(domain, op.version()).second && g.opset_imports[domain] != op.version())
        return error(StatusCode::kInvalidModel, "opset_import lists domain '", domain.empty() ? "ai.onnx" : domain,
                     "' twice with different versions");
    }
    auto it = g.opset_imports.find("");
    if (it == g.opset_imports.end()) {
      // Legal when every node is in another domain (e.g. ai.onnx.preview.training); those nodes are
      // then reported as unsupported by validation, which is more useful than a header error.
      bool uses_ai_onnx = false;
      if (m.has_graph())
        for (const auto& n : m.graph().node()) uses_ai_onnx |= is_ai_onnx(n.domain());
      if (uses_ai_onnx || m.opset_import_size() == 0)
        return error(StatusCode::kInvalidModel, "model declares no ai.onnx opset in opset_import");
      g.opset = 0;
      if (!m.has_graph()) return error(StatusCode::kInvalidModel, "model has no graph");
      return Status::Ok();
    }
    if (it->second < kMinOpset || it->second > kMaxOpset)
      return error(StatusCode::kUnsupported, "model uses opset ", it->second, "; lowbit supports ", kMinOpset, "-",
                   kMaxOpset);
    g.opset = int(it->second);
    if (!m.has_graph()) return error(StatusCode::kInvalidModel, "model has no graph");
    return Status::Ok();
  }

  void import_graph(onnx::GraphProto& gp) {
    g.graph_name = gp.name();
    if (g.doc_string.empty()) g.doc_string = gp.doc_string();
    if (gp.sparse_initializer_size() > 0)
      add(StatusCode::kUnsupported,
          str_cat("the graph has ", gp.sparse_initializer_size(), " sparse initializer(s) (first: '",
                  gp.sparse_initializer(0).values().name(), "'); lowbit only supports dense initializers"));

    // Initializers first: graph inputs that repeat them are overridable defaults, not runtime inputs.
    for (int i = 0; i < gp.initializer_size(); ++i) {
      onnx::TensorProto* tp = gp.mutable_initializer(i);
      const std::string name = tp->name();
      if (name.empty()) {
        add(StatusCode::kInvalidModel, str_cat("initializer #", i, " has no name"));
        continue;
      }
      if (g.values.count(name)) {
        add(StatusCode::kInvalidModel, str_cat("initializer '", name, "' is defined twice"));
        continue;
      }
      ValueInfo& v = g.values[name];
      v.name = name;
      v.initializer = true;
      auto t = tensor_from_proto(*tp, base_dir, options.max_tensor_bytes);
      if (t) {
        v.type = ValueType::of(*t);
        v.constant = std::move(*t);
      } else {
        add(t.status().with_context("initializer '" + name + "'"));
        // An undefined placeholder keeps the name defined, so consumers are skipped quietly
        // instead of being reported as dangling.
        v.constant = Tensor();
      }
      // The bytes now live in the Tensor; drop the proto's copy so peak memory stays ~1x the weights.
      // (clear_raw_data() would keep the string's capacity; swapping with an empty one frees it.)
      if (tp->has_raw_data()) std::string().swap(*tp->mutable_raw_data());
    }

    std::set<std::string> input_names;
    for (const auto& in : gp.input()) {
      const std::string& name = in.name();
      const std::string what = "graph input '" + name + "'";
      if (name.empty()) {
        add(StatusCode::kInvalidModel, "a graph input has no name");
        continue;
      }
      if (!input_names.insert(name).second) {
        add(StatusCode::kInvalidModel, str_cat(what, " is listed twice"));
        continue;
      }
      ValueInfo* existing = g.find(name);
      if (existing && existing->initializer) {
        g.overridable_initializers.push_back(name);
        // The declared type must agree with the default value, or an override could never fit.
        if (existing->constant && existing->constant->defined() && in.has_type()) {
          auto declared = convert_type(in.type(), what);
          if (!declared)
            add(declared.status());
          else if (declared->dtype != existing->type.dtype)
            add(StatusCode::kInvalidModel, str_cat(what, " is declared as ", dtype_name(declared->dtype),
                                                   " but its initializer is ", dtype_name(existing->type.dtype)));
        }
        continue;
      }
      auto type = convert_type(in.type(), what);
      g.inputs.push_back(name);
      ValueInfo& v = g.values[name];
      v.name = name;
      if (type)
        v.type = std::move(*type);
      else
        add(type.status());
    }

    // Declared intermediate types: inference keeps them when it cannot tell more.
    for (const auto& vi : gp.value_info()) {
      if (vi.name().empty() || !vi.has_type() || g.values.count(vi.name())) continue;
      auto type = convert_type(vi.type(), "value_info '" + vi.name() + "'");
      if (!type) continue;  // only a hint; a producer that cannot make it is reported by inference
      ValueInfo& v = g.values[vi.name()];
      v.name = vi.name();
      v.type = std::move(*type);
    }

    if (gp.output_size() == 0) add(StatusCode::kInvalidModel, "the graph declares no outputs");
    std::set<std::string> output_names;
    for (const auto& out : gp.output()) {
      const std::string& name = out.name();
      if (name.empty()) {
        add(StatusCode::kInvalidModel, "a graph output has no name");
        continue;
      }
      if (!output_names.insert(name).second) {
        add(StatusCode::kInvalidModel, str_cat("graph output '", name, "' is listed twice"));
        continue;
      }
      g.outputs.push_back(name);
      if (g.values.count(name) || !out.has_type()) continue;
      auto type = convert_type(out.type(), "graph output '" + name + "'");
      if (!type) {
        // An undeclared element type on an output is common and harmless; anything else is reported.
        if (out.type().has_tensor_type() && out.type().tensor_type().elem_type() == 0) continue;
        add(type.status());
        continue;
      }
      ValueInfo& v = g.values[name];
      v.name = name;
      v.type = std::move(*type);
    }

    for (int i = 0; i < gp.node_size(); ++i) import_node(*gp.mutable_node(i), size_t(i));
  }

  // Values produced twice (by two nodes, or by a node and an input/initializer). topological_sort
  // would stop at the first; here they are all collected. Returns true when the graph is sortable.
  bool check_unique_producers() {
    std::map<std::string, const Node*> producer;
    bool ok = true;
    for (const auto& n : g.nodes) {
      for (const auto& o : n.outputs) {
        if (o.empty()) continue;
        if (auto* v = g.find(o); v && (v->initializer || std::count(g.inputs.begin(), g.inputs.end(), o))) {
          add(StatusCode::kInvalidModel, str_cat(n.describe(), ": output '", o, "' has the same name as a graph ",
                                                 v->initializer ? "initializer" : "input"));
          ok = false;
          continue;
        }
        auto [it, fresh] = producer.emplace(o, &n);
        if (!fresh) {
          add(StatusCode::kInvalidModel, it->second == &n ? str_cat(n.describe(), ": output '", o, "' is listed twice")
                                                          : str_cat("value '", o, "' is produced by both ",
                                                                    it->second->describe(), " and ", n.describe()));
          ok = false;
        }
      }
    }
    return ok;
  }
};

std::string quoted(const std::string& name) { return "'" + (name.empty() ? std::string("<memory>") : name) + "'"; }

Expected<Graph> import_model(onnx::ModelProto& model, const std::string& base_dir, const std::string& display_name,
                             const ImportOptions& options) {
  Importer im{base_dir, options, {}, {}};
  im.g.path = display_name;
  Status header = im.import_header(model);
  if (!header.ok()) return header.with_context(quoted(display_name));
  im.import_graph(*model.mutable_graph());
  if (im.check_unique_producers()) {
    Status sorted = topological_sort(im.g);
    if (!sorted.ok())
      im.add(sorted);
    else if (options.validate) {
      std::vector<GraphIssue> found = validate_and_infer(im.g, options.max_tensor_bytes);
      im.issues.insert(im.issues.end(), found.begin(), found.end());
    }
  }
  if (!im.issues.empty()) return issues_to_status(im.issues, "the model").with_context(quoted(display_name));
  return std::move(im.g);
}

}  // namespace

Expected<Graph> import_onnx_file(const std::string& path, const ImportOptions& options) {
  onnx::ModelProto model;
  LB_RETURN_IF_ERROR(parse_proto_file(path, "ONNX model", &model));
  return import_model(model, directory_of(path), path, options);
}

Expected<Graph> import_onnx_bytes(const std::string& bytes, const std::string& base_dir,
                                  const std::string& display_name, const ImportOptions& options) {
  if (bytes.empty())
    return error(StatusCode::kInvalidModel, quoted(display_name), ": empty input, not a valid ONNX model");
  if (bytes.size() > size_t(INT_MAX))
    return error(StatusCode::kUnsupported, quoted(display_name), ": ", bytes.size(),
                 " bytes; protobuf models are limited to 2 GiB (keep weights in external data files)");
  onnx::ModelProto model;
  if (!parse_proto_bytes(bytes, &model))
    return error(StatusCode::kInvalidModel, quoted(display_name),
                 ": not a valid ONNX model (protobuf parsing failed: truncated or not an ONNX file)");
  return import_model(model, base_dir, display_name, options);
}

}  // namespace lowbit
