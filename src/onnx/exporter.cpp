// Graph -> ONNX ModelProto -> file. See exporter.h for what is written and why.
//
// The model is built completely in memory and checked by ONNX's own checker before a byte reaches the
// disk; the file (and the external data file, for big models) is written under a temporary name in the
// destination folder and renamed into place, so readers never see a truncated model.
#include "onnx/exporter.h"

#include <fcntl.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

namespace lowbit {

namespace {

constexpr int64_t kExternalMinBytes = 1024;  // smaller tensors (shapes, scales) stay inline when externalizing
constexpr int64_t kExternalAlign = 64;       // offsets in the data file: lets readers map tensors aligned

bool is_ai_onnx(const std::string& domain) { return domain.empty() || domain == "ai.onnx"; }

void write_type(const ValueType& t, onnx::TypeProto* out) {
  auto* tensor = out->mutable_tensor_type();
  tensor->set_elem_type(int32_t(t.dtype));
  if (!t.has_shape) return;  // rank unknown: no shape field at all
  auto* shape = tensor->mutable_shape();
  for (const Dim& d : t.dims) {
    auto* dim = shape->add_dim();
    if (d.known())
      dim->set_dim_value(d.value);
    else if (!d.param.empty())
      dim->set_dim_param(d.param);
  }
}

// lowbit's DType codes are ONNX's TensorProto.DataType codes, and its buffers hold exactly ONNX's
// little-endian raw_data layout (bool: one byte per element), so raw_data is a plain copy.
Status write_tensor(const Tensor& t, const std::string& what, onnx::TensorProto* out) {
  if (!t.defined() || !dtype_is_storable(t.dtype()))
    return error(StatusCode::kInvalidArgument, what, " has no data (", dtype_name(t.dtype()), ")");
  out->set_data_type(int32_t(t.dtype()));
  for (int64_t d : t.shape()) out->add_dims(d);
  out->set_raw_data(t.raw(), t.nbytes());
  return Status::Ok();
}

Status write_attribute(const Node& n, const std::string& name, const Attribute& a, onnx::AttributeProto* out) {
  out->set_name(name);
  switch (a.kind) {
    case Attribute::Kind::kFloat:
      out->set_type(onnx::AttributeProto::FLOAT);
      out->set_f(a.f);
      return Status::Ok();
    case Attribute::Kind::kInt:
      out->set_type(onnx::AttributeProto::INT);
      out->set_i(a.i);
      return Status::Ok();
    case Attribute::Kind::kString:
      out->set_type(onnx::AttributeProto::STRING);
      out->set_s(a.s);
      return Status::Ok();
    case Attribute::Kind::kTensor:
      out->set_type(onnx::AttributeProto::TENSOR);
      return write_tensor(a.t, str_cat(n.describe(), ": attribute '", name, "'"), out->mutable_t());
    case Attribute::Kind::kFloats:
      out->set_type(onnx::AttributeProto::FLOATS);
      for (float f : a.floats) out->add_floats(f);
      return Status::Ok();
    case Attribute::Kind::kInts:
      out->set_type(onnx::AttributeProto::INTS);
      for (int64_t i : a.ints) out->add_ints(i);
      return Status::Ok();
    case Attribute::Kind::kStrings:
      out->set_type(onnx::AttributeProto::STRINGS);
      for (auto& s : a.strings) out->add_strings(s);
      return Status::Ok();
    case Attribute::Kind::kGraph:
      // The importer records that a subgraph was there but does not keep it (control flow is unsupported).
      return error(StatusCode::kUnsupported, n.describe(), ": attribute '", name,
                   "' is a subgraph, which lowbit does not keep and cannot export");
    case Attribute::Kind::kUndefined:
      break;
  }
  return error(StatusCode::kInvalidArgument, n.describe(), ": attribute '", name, "' has no kind");
}

// Whether the node can be written as standard ONNX at the graph's opsets.
Status check_exportable(const Node& n, const Graph& g) {
  for (auto& [name, attr] : n.attrs)
    if (name.rfind("lowbit_", 0) == 0)
      return error(StatusCode::kInvalidArgument, n.describe(), " carries the lowbit-internal attribute '", name,
                   "' (a fusion only lowbit's runtime understands); export the graph before fusing");
  if (n.op_type.empty()) return error(StatusCode::kInvalidArgument, "node '", n.name, "' has no op_type");
  if (!is_ai_onnx(n.domain)) {
    if (!g.opset_imports.count(n.domain))
      return error(StatusCode::kInvalidArgument, n.describe(), " is in domain '", n.domain,
                   "', which the graph's opset_imports do not list");
    return Status::Ok();  // other domains' schemas are not ONNX's to know; the checker passes them through
  }
  const onnx::OpSchema* schema = onnx::OpSchemaRegistry::Schema(n.op_type, g.opset, "");
  if (!schema)
    return error(StatusCode::kInvalidArgument, n.describe(), ": ", n.op_type, " is not an ONNX operator at opset ",
                 g.opset);
  if (schema->Deprecated())
    return error(StatusCode::kInvalidArgument, n.describe(), ": ", n.op_type, " was removed from ONNX at opset ",
                 schema->since_version(), " and is not valid at opset ", g.opset,
                 n.op_type == "Upsample" ? " (upgrade_opset rewrites it as Resize)" : "");
  return Status::Ok();
}

// The nodes in topological order: the graph's own order when it already is one (the normal case).
Expected<std::vector<const Node*>> ordered_nodes(const Graph& g, Graph* sorted_copy) {
  std::unordered_set<std::string> produced, available(g.inputs.begin(), g.inputs.end());
  for (const Node& n : g.nodes) produced.insert(n.outputs.begin(), n.outputs.end());
  for (auto& [name, v] : g.values)
    if (v.constant && !produced.count(name)) available.insert(name);  // initializers
  bool sorted = true;
  for (const Node& n : g.nodes) {
    for (auto& in : n.inputs)
      if (!in.empty() && !available.count(in)) sorted = false;
    available.insert(n.outputs.begin(), n.outputs.end());
  }
  const Graph* src = &g;
  if (!sorted) {
    *sorted_copy = g;  // tensors share their buffers: cheap
    LB_RETURN_IF_ERROR(topological_sort(*sorted_copy));
    src = sorted_copy;
  }
  std::vector<const Node*> order;
  for (const Node& n : src->nodes) order.push_back(&n);
  return order;
}

Expected<onnx::ModelProto> build_model(const Graph& g, const ExportOptions& options) {
  if (g.opset < 1 || g.opset > 17)
    return error(StatusCode::kInvalidArgument, "the graph's ai.onnx opset is ", g.opset,
                 "; lowbit exports opsets 1-17 (ONNX 1.12)");
  onnx::ModelProto m;
  m.set_ir_version(ir_version_for_opset(g.opset));
  m.set_producer_name(options.producer_name);
  if (!g.domain.empty()) m.set_domain(g.domain);
  if (g.model_version) m.set_model_version(g.model_version);
  if (!g.doc_string.empty()) m.set_doc_string(g.doc_string);
  for (auto& [key, value] : g.metadata_props) {
    auto* kv = m.add_metadata_props();
    kv->set_key(key);
    kv->set_value(value);
  }
  {
    auto* op = m.add_opset_import();
    op->set_domain("");
    op->set_version(g.opset);
  }
  for (auto& [domain, version] : g.opset_imports) {
    if (is_ai_onnx(domain)) continue;
    auto* op = m.add_opset_import();
    op->set_domain(domain);
    op->set_version(version);
  }

  Graph sorted_copy;
  LB_ASSIGN_OR_RETURN(std::vector<const Node*> nodes, ordered_nodes(g, &sorted_copy));
  std::unordered_set<std::string> produced;
  for (const Node* n : nodes) {
    LB_RETURN_IF_ERROR(check_exportable(*n, g));
    for (auto& o : n->outputs)
      if (!o.empty()) produced.insert(o);
  }

  onnx::GraphProto* gp = m.mutable_graph();
  gp->set_name(g.graph_name.empty() ? "lowbit" : g.graph_name);
  auto value_type = [&](const std::string& name, const char* what) -> Expected<const ValueType*> {
    const ValueInfo* v = g.find(name);
    if (!v || v->type.dtype == DType::kUndefined)
      return error(StatusCode::kInvalidArgument, what, " '", name, "' has no known element type");
    // ONNX's checker insists on a shape (possibly with unknown dims) for the main graph's inputs and outputs.
    if (!v->type.has_shape && options.run_checker)
      return error(StatusCode::kInvalidArgument, what, " '", name,
                   "' has an unknown rank, but ONNX requires a shape on graph inputs and outputs");
    return &v->type;
  };

  // Inputs: runtime inputs first (ONNX Runtime and the conformance runner feed by position), then the
  // overridable initializers, which ONNX lists both as inputs and as initializers.
  std::unordered_set<std::string> declared;  // names that inputs or initializers define
  for (auto& name : g.inputs) {
    LB_ASSIGN_OR_RETURN(const ValueType* t, value_type(name, "graph input"));
    auto* vi = gp->add_input();
    vi->set_name(name);
    write_type(*t, vi->mutable_type());
    declared.insert(name);
  }
  auto add_initializer = [&](const std::string& name) -> Status {
    const Tensor* t = g.constant(name);
    if (!t) return error(StatusCode::kInvalidArgument, "initializer '", name, "' has no value");
    onnx::TensorProto* tp = gp->add_initializer();
    tp->set_name(name);
    declared.insert(name);
    return write_tensor(*t, "initializer '" + name + "'", tp);
  };
  for (auto& name : g.overridable_initializers) {
    const Tensor* t = g.constant(name);
    if (!t) return error(StatusCode::kInvalidArgument, "overridable initializer '", name, "' has no value");
    auto* vi = gp->add_input();
    vi->set_name(name);
    write_type(ValueType::of(*t), vi->mutable_type());
    LB_RETURN_IF_ERROR(add_initializer(name));
  }
  // Initializers: constants that no node produces, in order of first use. Constants a node produces
  // (Constant outputs, values folded at import) are written by that node only.
  auto need = [&](const std::string& name, const std::string& reader) -> Status {
    if (name.empty() || declared.count(name) || produced.count(name)) return Status::Ok();
    if (g.constant(name)) return add_initializer(name);
    return error(StatusCode::kInvalidArgument, reader, " reads '", name,
                 "', which no node, graph input or initializer provides");
  };
  for (const Node* n : nodes)
    for (auto& in : n->inputs) LB_RETURN_IF_ERROR(need(in, n->describe()));
  for (auto& out : g.outputs) LB_RETURN_IF_ERROR(need(out, "graph output"));

  std::unordered_set<std::string> node_names;
  for (const Node* n : nodes) {
    onnx::NodeProto* np = gp->add_node();
    std::string name = n->name.empty() ? n->op_type : n->name;
    for (int i = 1; !node_names.insert(name).second; ++i)
      name = str_cat(n->name.empty() ? n->op_type : n->name, "_", i);
    np->set_name(name);
    np->set_op_type(n->op_type);
    if (!is_ai_onnx(n->domain)) np->set_domain(n->domain);
    for (auto& in : n->inputs) np->add_input(in);
    for (auto& out : n->outputs) np->add_output(out);
    for (auto& [attr_name, attr] : n->attrs)
      LB_RETURN_IF_ERROR(write_attribute(*n, attr_name, attr, np->add_attribute()));
  }

  std::unordered_set<std::string> outputs(g.outputs.begin(), g.outputs.end());
  for (auto& name : g.outputs) {
    auto* vi = gp->add_output();
    vi->set_name(name);
    if (const Tensor* t = g.constant(name); t && !produced.count(name)) {
      write_type(ValueType::of(*t), vi->mutable_type());
      continue;
    }
    LB_ASSIGN_OR_RETURN(const ValueType* t, value_type(name, "graph output"));
    write_type(*t, vi->mutable_type());
  }
  // Intermediate types: readers (and ONNX's strict shape inference below) check them against their own.
  for (const Node* n : nodes)
    for (auto& out : n->outputs) {
      if (!options.write_value_info) break;
      const ValueInfo* v = out.empty() || outputs.count(out) ? nullptr : g.find(out);
      if (!v || v->type.dtype == DType::kUndefined) continue;
      auto* vi = gp->add_value_info();
      vi->set_name(out);
      write_type(v->type, vi->mutable_type());
    }
  return m;
}

Status run_onnx_checker(onnx::ModelProto& m) {
  try {
    onnx::checker::check_model(m);
    // check_model(full_check=True) in Python: type-checked shape inference that throws on any node error
    // or on a declared type/shape that contradicts the inferred one.
    onnx::shape_inference::InferShapes(m, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(/*check_type=*/true, /*strict=*/1, false));
  } catch (const std::exception& e) {
    return error(StatusCode::kInvalidModel, "ONNX's checker rejects the exported model: ", e.what());
  }
  return Status::Ok();
}

Expected<onnx::ModelProto> build_checked_model(const Graph& g, const ExportOptions& options) {
  LB_ASSIGN_OR_RETURN(onnx::ModelProto m, build_model(g, options));
  if (options.run_checker) LB_RETURN_IF_ERROR(run_onnx_checker(m));
  // Shape inference inside the checker fills value_info in: drop it again when it is not wanted.
  if (!options.write_value_info) m.mutable_graph()->clear_value_info();
  return m;
}

// A file written under a temporary name next to its destination; removed unless committed.
class TempFile {
 public:
  TempFile() = default;
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (fd_ >= 0) close(fd_);
    if (!path_.empty()) unlink(path_.c_str());
  }
  Status open(const std::string& final_path) {
    final_ = final_path;
    std::string tmpl = final_path + ".tmp-XXXXXX";
    fd_ = mkstemp(tmpl.data());
    if (fd_ < 0)
      return error(StatusCode::kIoError, "'", final_path, "': cannot create a file there: ", std::strerror(errno));
    path_ = tmpl;
    fchmod(fd_, 0644);  // mkstemp creates 0600; a model is a normal shareable file
    return Status::Ok();
  }
  int fd() const { return fd_; }
  Status write_all(const void* data, size_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      ssize_t w = ::write(fd_, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return io_error("write failed");
      p += w;
      n -= size_t(w);
    }
    return Status::Ok();
  }
  // Flushes to disk and closes; the file is then complete under its temporary name.
  Status finish() {
    if (fsync(fd_) != 0) return io_error("fsync failed");
    int fd = fd_;
    fd_ = -1;
    if (close(fd) != 0) return io_error("close failed");
    return Status::Ok();
  }
  Status commit() {
    if (rename(path_.c_str(), final_.c_str()) != 0) return io_error("cannot rename the finished file into place");
    path_.clear();
    return Status::Ok();
  }
  Status io_error(const char* what) const {
    return error(StatusCode::kIoError, "'", final_, "': ", what, ": ", std::strerror(errno));
  }

 private:
  int fd_ = -1;
  std::string path_, final_;
};

std::string base_name(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Moves every initializer of kExternalMinBytes or more into `data` and points the proto at it.
Status externalize(onnx::ModelProto& m, const std::string& location, TempFile& data) {
  int64_t offset = 0;
  static const char zeros[kExternalAlign] = {};
  for (auto& t : *m.mutable_graph()->mutable_initializer()) {
    const int64_t n = int64_t(t.raw_data().size());
    if (n < kExternalMinBytes) continue;
    const int64_t pad = (kExternalAlign - offset % kExternalAlign) % kExternalAlign;
    LB_RETURN_IF_ERROR(data.write_all(zeros, size_t(pad)));
    offset += pad;
    LB_RETURN_IF_ERROR(data.write_all(t.raw_data().data(), size_t(n)));
    t.clear_raw_data();
    t.set_data_location(onnx::TensorProto::EXTERNAL);
    auto add = [&](const char* key, const std::string& value) {
      auto* e = t.add_external_data();
      e->set_key(key);
      e->set_value(value);
    };
    add("location", location);
    add("offset", std::to_string(offset));
    add("length", std::to_string(n));
    offset += n;
  }
  return Status::Ok();
}

Status check_protobuf_size(const onnx::ModelProto& m, const std::string& what, bool can_externalize) {
  if (m.ByteSizeLong() <= size_t(INT_MAX)) return Status::Ok();
  return error(StatusCode::kResourceExhausted, what, ": the model would be ", m.ByteSizeLong(),
               " bytes, above protobuf's 2 GiB limit",
               can_externalize ? "; lower ExportOptions::external_data_threshold_bytes so the weights go to a "
                                 "separate data file"
                               : "; use export_onnx, which moves big weights to an external data file");
}

}  // namespace

int64_t ir_version_for_opset(int opset) {
  // onnx/helper.py VERSION_TABLE: the IR version each ONNX release shipped with its newest opset.
  if (opset >= 15) return 8;
  if (opset >= 12) return 7;
  if (opset == 11) return 6;
  if (opset == 10) return 5;
  return 4;  // opsets 7-9; IR 3 (opsets 7-8) would make every initializer an overridable graph input
}

Expected<std::string> serialize_onnx(const Graph& g, const ExportOptions& options) {
  LB_ASSIGN_OR_RETURN(onnx::ModelProto m, build_checked_model(g, options));
  LB_RETURN_IF_ERROR(check_protobuf_size(m, "serialize_onnx", false));
  std::string bytes;
  if (!m.SerializeToString(&bytes)) return error(StatusCode::kInternal, "serializing the ONNX model failed");
  return bytes;
}

Status export_onnx(const Graph& g, const std::string& path, const ExportOptions& options) {
  auto ctx = [&](const Status& s) { return s.with_context("exporting to '" + path + "'"); };
  if (path.empty() || path.back() == '/')
    return error(StatusCode::kInvalidArgument, "export path '", path, "' is not a file name");
  auto built = build_checked_model(g, options);
  if (!built) return ctx(built.status());
  onnx::ModelProto& m = *built;

  int64_t initializer_bytes = 0;
  bool any_big = false;
  for (auto& t : m.graph().initializer()) {
    initializer_bytes += int64_t(t.raw_data().size());
    any_big |= int64_t(t.raw_data().size()) >= kExternalMinBytes;
  }
  TempFile data;
  const bool external = initializer_bytes > options.external_data_threshold_bytes && any_big;
  if (external) {
    // Both files are written before either is renamed: a failure leaves the destination untouched.
    LB_RETURN_IF_ERROR(data.open(path + ".data"));
    LB_RETURN_IF_ERROR(externalize(m, base_name(path) + ".data", data));
    LB_RETURN_IF_ERROR(data.finish());
  }
  LB_RETURN_IF_ERROR(check_protobuf_size(m, "'" + path + "'", !external));

  TempFile model;
  LB_RETURN_IF_ERROR(model.open(path));
  {
    google::protobuf::io::FileOutputStream out(model.fd(), 1 << 20);
    bool ok = m.SerializeToZeroCopyStream(&out) && out.Flush();
    if (!ok) {
      errno = out.GetErrno();
      return model.io_error("writing the model failed");
    }
  }
  LB_RETURN_IF_ERROR(model.finish());
  // The data file goes first: the model that names it must never be visible without it.
  if (external) LB_RETURN_IF_ERROR(data.commit());
  return model.commit();
}

}  // namespace lowbit
