// ONNX importer: models are built here with ONNX's protobuf classes and written to a temp folder,
// so every malformed case is explicit. Op inference is written in parallel with the importer, so
// assertions that depend on an op's inference accept its "not implemented yet" stub.
#include "onnx/importer.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <variant>

namespace lowbit {
namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/lowbit_importer_XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string write(const std::string& name, const std::string& bytes) const {
    std::string p = path + "/" + name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
  std::string write(const std::string& name, const onnx::ModelProto& m) const {
    return write(name, m.SerializeAsString());
  }
};

using DimSpec = std::variant<int64_t, std::string>;  // value, symbol ("" = unknown)

onnx::ModelProto make_model(int64_t opset = 13, int64_t ir_version = 8) {
  onnx::ModelProto m;
  m.set_ir_version(ir_version);
  m.set_producer_name("lowbit-test");
  m.set_producer_version("1.0");
  m.set_model_version(3);
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  m.mutable_graph()->set_name("g");
  return m;
}

void set_type(onnx::ValueInfoProto* v, int elem, const std::vector<DimSpec>& dims) {
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(elem);
  auto* shape = t->mutable_shape();
  for (auto& d : dims) {
    auto* dim = shape->add_dim();
    if (auto* v = std::get_if<int64_t>(&d))
      dim->set_dim_value(*v);
    else if (!std::get<std::string>(d).empty())
      dim->set_dim_param(std::get<std::string>(d));
  }
}

void add_input(onnx::ModelProto& m, const std::string& name, int elem, const std::vector<DimSpec>& dims) {
  auto* v = m.mutable_graph()->add_input();
  v->set_name(name);
  set_type(v, elem, dims);
}

void add_output(onnx::ModelProto& m, const std::string& name, int elem = onnx::TensorProto::FLOAT) {
  auto* v = m.mutable_graph()->add_output();
  v->set_name(name);
  v->mutable_type()->mutable_tensor_type()->set_elem_type(elem);
}

onnx::NodeProto* add_node(onnx::ModelProto& m, const std::string& op, std::vector<std::string> inputs,
                          std::vector<std::string> outputs, const std::string& name = "") {
  auto* n = m.mutable_graph()->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (auto& i : inputs) n->add_input(i);
  for (auto& o : outputs) n->add_output(o);
  return n;
}

void attr_ints(onnx::NodeProto* n, const std::string& name, std::vector<int64_t> v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (auto x : v) a->add_ints(x);
}
void attr_int(onnx::NodeProto* n, const std::string& name, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
void attr_float(onnx::NodeProto* n, const std::string& name, float v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}

onnx::TensorProto float_tensor(const std::string& name, std::vector<int64_t> dims, const std::vector<float>& values) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(onnx::TensorProto::FLOAT);
  for (auto d : dims) t.add_dims(d);
  t.set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)));
  return t;
}

void add_initializer(onnx::ModelProto& m, const onnx::TensorProto& t) { *m.mutable_graph()->add_initializer() = t; }

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// True when every listed problem is an op whose inference is still the weak stub.
bool only_unimplemented_ops(const Status& s) {
  std::istringstream lines(s.message());
  std::string line;
  std::getline(lines, line);  // header
  bool any = false;
  while (std::getline(lines, line)) {
    if (!contains(line, "not implemented yet")) return false;
    any = true;
  }
  return any;
}

// X[batch,3,8,8] -> Conv(W[4,3,3,3], B[4]) -> Relu -> Y
onnx::ModelProto conv_relu_model() {
  auto m = make_model(13);
  add_input(m, "X", onnx::TensorProto::FLOAT, {std::string("batch"), int64_t(3), int64_t(8), int64_t(8)});
  add_initializer(m, float_tensor("W", {4, 3, 3, 3}, std::vector<float>(108, 0.5f)));
  add_initializer(m, float_tensor("B", {4}, {1, 2, 3, 4}));
  auto* conv = add_node(m, "Conv", {"X", "W", "B"}, {"C"}, "conv1");
  attr_ints(conv, "kernel_shape", {3, 3});
  attr_ints(conv, "pads", {1, 1, 1, 1});
  attr_ints(conv, "strides", {1, 1});
  add_node(m, "Relu", {"C"}, {"Y"});  // unnamed: gets "Relu_1"
  add_output(m, "Y");
  return m;
}

TEST(Importer, BuildsGraphFromConvReluModel) {
  TempDir dir;
  std::string path = dir.write("model.onnx", conv_relu_model());
  ImportOptions opt;
  opt.validate = false;
  auto g = import_onnx_file(path, opt);
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(g->path, path);
  EXPECT_EQ(g->producer_name, "lowbit-test");
  EXPECT_EQ(g->producer_version, "1.0");
  EXPECT_EQ(g->ir_version, 8);
  EXPECT_EQ(g->model_version, 3);
  EXPECT_EQ(g->opset, 13);
  EXPECT_EQ(g->opset_imports.at(""), 13);
  EXPECT_EQ(g->graph_name, "g");
  ASSERT_EQ(g->nodes.size(), 2u);
  EXPECT_EQ(g->nodes[0].name, "conv1");
  EXPECT_EQ(g->nodes[1].name, "Relu_1");
  const Attribute* ks = g->nodes[0].attr("kernel_shape");
  ASSERT_NE(ks, nullptr);
  EXPECT_EQ(ks->kind, Attribute::Kind::kInts);
  EXPECT_EQ(ks->ints, (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(g->inputs, std::vector<std::string>{"X"});
  EXPECT_TRUE(g->overridable_initializers.empty());
  EXPECT_EQ(g->outputs, std::vector<std::string>{"Y"});
  const ValueInfo* w = g->find("W");
  ASSERT_NE(w, nullptr);
  EXPECT_TRUE(w->initializer);
  ASSERT_TRUE(w->constant.has_value());
  EXPECT_EQ(w->constant->shape(), (Shape{4, 3, 3, 3}));
  EXPECT_EQ(w->type.to_string(), "float32[4,3,3,3]");
  EXPECT_EQ(g->find("X")->type.to_string(), "float32[batch,3,8,8]");
  EXPECT_EQ(g->find("Y")->producer, 1);
}

TEST(Importer, ConvReluValidatesOrOnlyLacksOpInference) {
  TempDir dir;
  auto g = import_onnx_file(dir.write("model.onnx", conv_relu_model()));
  if (!g.ok()) {
    EXPECT_TRUE(only_unimplemented_ops(g.status())) << g.status().message();
    return;
  }
  EXPECT_EQ(g->find("Y")->type.to_string(), "float32[batch,4,8,8]");
}

TEST(Importer, IdentityAndAddModel) {
  auto m = make_model(14);
  add_input(m, "a", onnx::TensorProto::FLOAT, {std::string("n"), int64_t(4)});
  add_initializer(m, float_tensor("b", {4}, {1, 2, 3, 4}));
  add_node(m, "Add", {"a", "b"}, {"s"});
  add_node(m, "Identity", {"s"}, {"y"});
  add_output(m, "y");
  TempDir dir;
  auto g = import_onnx_file(dir.write("m.onnx", m));
  if (!g.ok()) {
    EXPECT_TRUE(only_unimplemented_ops(g.status())) << g.status().message();
    return;
  }
  EXPECT_EQ(g->find("y")->type.to_string(), "float32[n,4]");
}

TEST(Importer, UnreadableFilesNameTheFile) {
  TempDir dir;
  std::string valid = conv_relu_model().SerializeAsString();
  std::string random;
  uint32_t x = 12345;
  for (int i = 0; i < 4096; ++i) random.push_back(char((x = x * 1103515245 + 12345) >> 24));
  const std::vector<std::string> paths = {
      dir.write("empty.onnx", ""),
      dir.write("truncated.onnx", valid.substr(0, valid.size() / 2)),
      dir.write("random.onnx", random),
      dir.write("text.onnx", "this is not a model\n"),
      dir.path + "/missing.onnx",
      dir.path,  // a directory
  };
  for (auto& p : paths) {
    auto g = import_onnx_file(p);
    ASSERT_FALSE(g.ok()) << p;
    EXPECT_EQ(g.status().message().rfind("'" + p + "'", 0), 0u) << g.status().message();
  }
  EXPECT_TRUE(contains(import_onnx_file(paths[2]).status().message(), "not a valid ONNX model"))
      << import_onnx_file(paths[2]).status().message();
  EXPECT_EQ(import_onnx_file(paths[4]).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(contains(import_onnx_file(dir.path).status().message(), "directory"));
  // Every truncation point: must fail cleanly or import, never crash.
  for (size_t n = 0; n < valid.size(); n += 7) {
    ImportOptions opt;
    opt.validate = false;
    (void)import_onnx_bytes(valid.substr(0, n), "", "cut", opt);
  }
}

TEST(Importer, AllProblemsInOneMessage) {
  auto m = make_model(13);
  add_input(m, "x", onnx::TensorProto::FLOAT, {int64_t(1), int64_t(4)});
  add_node(m, "FancyOp", {"x"}, {"a"}, "fancy");
  add_node(m, "LSTM", {"a"}, {"b"}, "lstm");
  add_node(m, "Relu", {"nowhere"}, {"c"}, "relu");
  add_output(m, "b");
  add_output(m, "c");
  TempDir dir;
  std::string path = dir.write("bad.onnx", m);
  auto g = import_onnx_file(path);
  ASSERT_FALSE(g.ok());
  const std::string msg = g.status().message();
  EXPECT_EQ(msg.rfind("'" + path + "'", 0), 0u) << msg;
  EXPECT_TRUE(contains(msg, "FancyOp 'fancy'")) << msg;
  EXPECT_TRUE(contains(msg, "LSTM 'lstm'")) << msg;
  EXPECT_TRUE(contains(msg, "'nowhere'")) << msg;
}

TEST(Importer, ImportLevelProblemsAreMergedWithValidation) {
  auto m = make_model(13);
  add_input(m, "x", onnx::TensorProto::FLOAT, {int64_t(1), int64_t(4)});
  add_input(m, "names", onnx::TensorProto::STRING, {int64_t(1)});
  auto bad = float_tensor("w", {2, 2}, {1, 2, 3});  // 12 bytes for 4 floats
  add_initializer(m, bad);
  add_initializer(m, float_tensor("dup", {1}, {1}));
  add_initializer(m, float_tensor("dup", {1}, {2}));
  auto* conv = add_node(m, "Conv", {"x", "w"}, {"c"}, "conv");
  attr_int(conv, "kernel_shape", 3);  // must be ints
  attr_int(conv, "bogus", 1);         // not a Conv attribute
  add_node(m, "MysteryOp", {"c"}, {"y"}, "mystery");
  add_output(m, "y");
  TempDir dir;
  auto g = import_onnx_file(dir.write("m.onnx", m));
  ASSERT_FALSE(g.ok());
  const std::string msg = g.status().message();
  EXPECT_TRUE(contains(msg, "graph input 'names'")) << msg;
  EXPECT_TRUE(contains(msg, "initializer 'w'")) << msg;
  EXPECT_TRUE(contains(msg, "'dup' is defined twice")) << msg;
  EXPECT_TRUE(contains(msg, "attribute 'kernel_shape' must be of kind ints")) << msg;
  EXPECT_TRUE(contains(msg, "unknown attribute 'bogus'")) << msg;
  EXPECT_TRUE(contains(msg, "MysteryOp 'mystery'")) << msg;
  EXPECT_TRUE(contains(msg, "6 problems")) << msg;
}

TEST(Importer, AttributeKindMismatchTable) {
  auto m = make_model(13);
  add_input(m, "x", onnx::TensorProto::FLOAT, {int64_t(2), int64_t(3)});
  auto* sm = add_node(m, "Softmax", {"x"}, {"y"}, "sm");
  attr_float(sm, "axis", 1.0f);
  add_output(m, "y");
  TempDir dir;
  auto g = import_onnx_file(dir.write("m.onnx", m));
  ASSERT_FALSE(g.ok());
  EXPECT_TRUE(contains(g.status().message(),
                       "Softmax 'sm': attribute 'axis' must be of kind int but the file stores it as float"))
      << g.status().message();
}

TEST(Importer, AttributeWithoutTypeFieldIsInferred) {
  auto m = make_model(13);
  add_input(m, "x", onnx::TensorProto::FLOAT, {int64_t(2), int64_t(3)});
  auto* sm = add_node(m, "Softmax", {"x"}, {"y"}, "sm");
  auto* a = sm->add_attribute();
  a->set_name("axis");
  a->set_i(-1);  // no type: old exporters
  add_output(m, "y");
  TempDir dir;
  ImportOptions opt;
  opt.validate = false;
  auto g = import_onnx_file(dir.write("m.onnx", m), opt);
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(g->nodes[0].attr_int("axis", 0), -1);
}

TEST(Importer, ConstantNodeTensorAttribute) {
  auto m = make_model(13);
  auto* c = add_node(m, "Constant", {}, {"k"}, "k");
  auto* a = c->add_attribute();
  a->set_name("value");
  a->set_type(onnx::AttributeProto::TENSOR);
  *a->mutable_t() = float_tensor("", {2}, {7, 8});
  add_output(m, "k");
  TempDir dir;
  ImportOptions opt;
  opt.validate = false;
  auto g = import_onnx_file(dir.write("m.onnx", m), opt);
  ASSERT_TRUE(g.ok()) << g.status().message();
  const Attribute* v = g->nodes[0].attr("value");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->kind, Attribute::Kind::kTensor);
  EXPECT_EQ(v->t.data<float>()[1], 8);
  // A broken tensor attribute is reported with the node.
  auto* bad = m.mutable_graph()->mutable_node(0)->mutable_attribute(0)->mutable_t();
  bad->set_raw_data("xyz");
  auto b = import_onnx_file(dir.write("bad.onnx", m));
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(contains(b.status().message(), "Constant 'k': attribute 'value'")) << b.status().message();
}

TEST(Importer, CycleIsReported) {
  auto m = make_model(13);
  add_input(m, "x", onnx::TensorProto::FLOAT, {int64_t(1)});
  add_node(m, "Add", {"x", "b"}, {"a"}, "first");
  add_node(m, "Relu", {"a"}, {"b"}, "second");
  add_output(m, "b");
  TempDir dir;
  auto g = import_onnx_file(dir.write("m.onnx", m));
  ASSERT_FALSE(g.ok());
  EXPECT_TRUE(contains(g.status().message(), "cycle")) << g.status().message();
  EXPECT_TRUE(contains(g.status().message(), "'first'")) << g.status().message();
}

TEST(Importer, DanglingInput) {
  auto m = make_model(13);
  add_input(m, "x", onnx::TensorProto::FLOAT, {int64_t(1)});
  add_node(m, "Add", {"x", "ghost"}, {"y"}, "add");
  add_output(m, "y");
  TempDir dir;
  auto g = import_onnx_file(dir.write("m.onnx", m));
  ASSERT_FALSE(g.ok());
  EXPECT_TRUE(contains(g.status().message(), "Add 'add': input 1 'ghost'")) << g.status().message();
}

TEST(Importer, OpsetAndIrVersionLimits) {
  TempDir dir;
  for (int64_t opset : {6, 18}) {
    auto m = conv_relu_model();
    m.mutable_opset_import(0)->set_version(opset);
    auto g = import_onnx_file(dir.write("m.onnx", m));
    ASSERT_FALSE(g.ok());
    EXPECT_TRUE(contains(g.status().message(), str_cat("model uses opset ", opset, "; lowbit supports 7-17")))
        << g.status().message();
  }
  for (int64_t ir : {2, 9}) {
    auto m = conv_relu_model();
    m.set_ir_version(ir);
    auto g = import_onnx_file(dir.write("m.onnx", m));
    ASSERT_FALSE(g.ok());
    EXPECT_TRUE(contains(g.status().message(), str_cat("IR version ", ir))) << g.status().message();
  }
  // "ai.onnx" spelled out is the same domain as "".
  auto m = conv_relu_model();
  m.mutable_opset_import(0)->set_domain("ai.onnx");
  ImportOptions opt;
  opt.validate = false;
  auto g = import_onnx_file(dir.write("m.onnx", m), opt);
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(g->opset, 13);
  // No ai.onnx opset at all.
  m.mutable_opset_import(0)->set_domain("ai.onnx.ml");
  EXPECT_FALSE(import_onnx_file(dir.write("m.onnx", m), opt).ok());
}

TEST(Importer, OtherDomainsAllowedButTheirNodesUnsupported) {
  auto m = make_model(13);
  auto* ml = m.add_opset_import();
  ml->set_domain("ai.onnx.ml");
  ml->set_version(2);
  add_input(m, "x", onnx::TensorProto::FLOAT, {int64_t(1), int64_t(3)});
  auto* n = add_node(m, "Normalizer", {"x"}, {"y"}, "norm");
  n->set_domain("ai.onnx.ml");
  add_output(m, "y");
  TempDir dir;
  ImportOptions opt;
  opt.validate = false;
  auto ok = import_onnx_file(dir.write("m.onnx", m), opt);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->opset_imports.at("ai.onnx.ml"), 2);
  auto g = import_onnx_file(dir.write("m.onnx", m));
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), StatusCode::kUnsupported);
  EXPECT_TRUE(contains(g.status().message(), "Normalizer 'norm'")) << g.status().message();
}

TEST(Importer, ModelWithoutAiOnnxOpsetOnlyOtherDomains) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  auto* op = m.add_opset_import();
  op->set_domain("ai.onnx.preview.training");
  op->set_version(1);
  add_input(m, "x", onnx::TensorProto::FLOAT, {int64_t(1)});
  add_node(m, "Adagrad", {"x"}, {"y"}, "opt")->set_domain("ai.onnx.preview.training");
  add_output(m, "y");
  TempDir dir;
  auto g = import_onnx_file(dir.write("m.onnx", m));
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), StatusCode::kUnsupported) << g.status().message();
  EXPECT_TRUE(contains(g.status().message(), "Adagrad 'opt'")) << g.status().message();
}

TEST(Importer, InitializerListedAsInputIsOverridable) {
  auto m = conv_relu_model();
  m.set_ir_version(3);
  add_input(m, "W", onnx::TensorProto::FLOAT, {int64_t(4), int64_t(3), int64_t(3), int64_t(3)});
  TempDir dir;
  ImportOptions opt;
  opt.validate = false;
  auto g = import_onnx_file(dir.write("m.onnx", m), opt);
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(g->inputs, std::vector<std::string>{"X"});
  EXPECT_EQ(g->overridable_initializers, std::vector<std::string>{"W"});
  EXPECT_TRUE(g->find("W")->constant.has_value());
  // A declared type that contradicts the initializer is an error.
  m.mutable_graph()->mutable_input(1)->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::INT64);
  EXPECT_FALSE(import_onnx_file(dir.write("m2.onnx", m), opt).ok());
}

TEST(Importer, SymbolicAndUnknownDims) {
  auto m = make_model(13);
  add_input(m, "x", onnx::TensorProto::FLOAT, {std::string("batch"), int64_t(3), std::string("")});
  auto* noshape = m.mutable_graph()->add_input();
  noshape->set_name("r");
  noshape->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::INT64);
  add_node(m, "Identity", {"x"}, {"y"});
  add_output(m, "y");
  auto* vi = m.mutable_graph()->add_value_info();
  vi->set_name("mid");
  set_type(vi, onnx::TensorProto::FLOAT, {int64_t(5)});
  TempDir dir;
  ImportOptions opt;
  opt.validate = false;
  auto g = import_onnx_file(dir.write("m.onnx", m), opt);
  ASSERT_TRUE(g.ok()) << g.status().message();
  const ValueType& t = g->find("x")->type;
  ASSERT_EQ(t.rank(), 3u);
  EXPECT_EQ(t.dims[0], Dim::symbol("batch"));
  EXPECT_EQ(t.dims[1], Dim(3));
  EXPECT_EQ(t.dims[2], Dim());
  EXPECT_FALSE(g->find("r")->type.has_shape);
  EXPECT_EQ(g->find("r")->type.dtype, DType::kInt64);
  EXPECT_EQ(g->find("mid")->type.to_string(), "float32[5]");
}

TEST(Importer, GraphInputTypesMustBeStorableTensors) {
  TempDir dir;
  {
    auto m = make_model(13);
    auto* in = m.mutable_graph()->add_input();
    in->set_name("seq");
    in->mutable_type()->mutable_sequence_type()->mutable_elem_type()->mutable_tensor_type()->set_elem_type(1);
    add_input(m, "c", onnx::TensorProto::COMPLEX64, {int64_t(1)});
    add_input(m, "u", 0, {int64_t(1)});
    add_input(m, "weird", 77, {int64_t(1)});
    auto* none = m.mutable_graph()->add_input();
    none->set_name("typeless");
    add_node(m, "Identity", {"c"}, {"y"});
    add_output(m, "y");
    auto g = import_onnx_file(dir.write("m.onnx", m));
    ASSERT_FALSE(g.ok());
    const std::string msg = g.status().message();
    EXPECT_TRUE(contains(msg, "graph input 'seq' is a sequence")) << msg;
    EXPECT_TRUE(contains(msg, "graph input 'c' has element type complex64")) << msg;
    EXPECT_TRUE(contains(msg, "graph input 'u' has no element type")) << msg;
    EXPECT_TRUE(contains(msg, "graph input 'weird' has an unknown element type")) << msg;
    EXPECT_TRUE(contains(msg, "graph input 'typeless' has no type")) << msg;
  }
}

TEST(Importer, StructuralProblems) {
  TempDir dir;
  ImportOptions opt;
  opt.validate = false;
  {  // No outputs.
    auto m = make_model(13);
    add_input(m, "x", onnx::TensorProto::FLOAT, {int64_t(1)});
    add_node(m, "Relu", {"x"}, {"y"});
    auto g = import_onnx_file(dir.write("m.onnx", m), opt);
    ASSERT_FALSE(g.ok());
    EXPECT_TRUE(contains(g.status().message(), "no outputs")) << g.status().message();
  }
  {  // A node without outputs; two nodes producing one value; a node output shadowing an input; duplicate graph output.
    auto m = make_model(13);
    add_input(m, "x", onnx::TensorProto::FLOAT, {int64_t(1)});
    add_node(m, "Relu", {"x"}, {}, "silent");
    add_node(m, "Relu", {"x"}, {"y"}, "one");
    add_node(m, "Neg", {"x"}, {"y"}, "two");
    add_node(m, "Abs", {"x"}, {"x"}, "shadow");
    add_output(m, "y");
    add_output(m, "y");
    auto g = import_onnx_file(dir.write("m.onnx", m), opt);
    ASSERT_FALSE(g.ok());
    const std::string msg = g.status().message();
    EXPECT_TRUE(contains(msg, "Relu 'silent' has no outputs")) << msg;
    EXPECT_TRUE(contains(msg, "'y' is produced by both Relu 'one' and Neg 'two'")) << msg;
    EXPECT_TRUE(contains(msg, "Abs 'shadow': output 'x' has the same name as a graph input")) << msg;
    EXPECT_TRUE(contains(msg, "graph output 'y' is listed twice")) << msg;
  }
  {  // Found by fuzzing: a Constant without outputs, and a required output left empty, with full
     // validation (inference and constant folding must never see them).
    auto m = make_model(13);
    auto* c = add_node(m, "Constant", {}, {}, "orphan");
    attr_ints(c, "value_ints", {1, 2});
    auto* d = add_node(m, "Constant", {}, {"", "extra"}, "blank");
    attr_ints(d, "value_ints", {1, 2});
    add_input(m, "x", onnx::TensorProto::FLOAT, {int64_t(1)});
    add_node(m, "Relu", {"x"}, {"y"});
    add_output(m, "y");
    auto g = import_onnx_file(dir.write("m.onnx", m));
    ASSERT_FALSE(g.ok());
    const std::string msg = g.status().message();
    EXPECT_TRUE(contains(msg, "Constant 'orphan' has no outputs")) << msg;
    EXPECT_TRUE(contains(msg, "Constant 'blank': required output 0 ('output') has no name")) << msg;
    EXPECT_TRUE(contains(msg, "Constant 'blank' has 2 outputs; Constant has at most 1")) << msg;
  }
  {  // Huge dims on an initializer: refused, no allocation.
    auto m = make_model(13);
    onnx::TensorProto t;
    t.set_name("huge");
    t.set_data_type(onnx::TensorProto::FLOAT);
    t.add_dims(int64_t(1) << 40);
    t.add_dims(int64_t(1) << 30);
    add_initializer(m, t);
    add_node(m, "Identity", {"huge"}, {"y"});
    add_output(m, "y");
    auto g = import_onnx_file(dir.write("m.onnx", m));
    ASSERT_FALSE(g.ok());
    EXPECT_TRUE(contains(g.status().message(), "'huge'")) << g.status().message();
  }
}

TEST(Importer, ExternalDataNextToTheModel) {
  TempDir dir;
  std::vector<float> w = {1, 2, 3, 4, 5, 6};
  std::string blob(8, 'x');  // an unrelated prefix, so the offset matters
  blob.append(reinterpret_cast<const char*>(w.data()), w.size() * sizeof(float));
  dir.write("weights.bin", blob);
  auto make = [&](const std::string& location, const std::string& offset, const std::string& length) {
    auto m = make_model(13);
    add_input(m, "x", onnx::TensorProto::FLOAT, {int64_t(2), int64_t(3)});
    onnx::TensorProto t;
    t.set_name("w");
    t.set_data_type(onnx::TensorProto::FLOAT);
    t.add_dims(2);
    t.add_dims(3);
    t.set_data_location(onnx::TensorProto::EXTERNAL);
    auto kv = [&](const char* k, const std::string& v) {
      if (v.empty()) return;
      auto* e = t.add_external_data();
      e->set_key(k);
      e->set_value(v);
    };
    kv("location", location);
    kv("offset", offset);
    kv("length", length);
    add_initializer(m, t);
    add_node(m, "Add", {"x", "w"}, {"y"});
    add_output(m, "y");
    return dir.write("model.onnx", m);
  };
  ImportOptions opt;
  opt.validate = false;
  auto g = import_onnx_file(make("weights.bin", "8", "24"), opt);
  ASSERT_TRUE(g.ok()) << g.status().message();
  const Tensor* t = g->constant("w");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(std::vector<float>(t->data<float>(), t->data<float>() + 6), w);
  // No length: the rest of the file.
  EXPECT_TRUE(import_onnx_file(make("weights.bin", "8", ""), opt).ok());

  TempDir outside;
  outside.write("secret.bin", std::string(24, 's'));
  std::filesystem::create_symlink(outside.path + "/secret.bin", dir.path + "/link.bin");
  struct Bad {
    std::string location, offset, length, expect;
  };
  const Bad bad[] = {
      {dir.path + "/weights.bin", "8", "24", "absolute path"},
      {"../weights.bin", "", "24", "'..'"},
      {"link.bin", "", "24", "outside the model's folder"},
      {"weights.bin", "16", "24", "past its end"},
      {"weights.bin", "8", "20", "need 24 bytes"},
      {"weights.bin", "", "", "need 24 bytes"},
      {"missing.bin", "", "", "not found"},
  };
  for (auto& b : bad) {
    std::string path = make(b.location, b.offset, b.length);
    auto r = import_onnx_file(path, opt);
    ASSERT_FALSE(r.ok()) << b.location;
    EXPECT_TRUE(contains(r.status().message(), b.expect)) << r.status().message();
    EXPECT_TRUE(contains(r.status().message(), "initializer 'w'")) << r.status().message();
    EXPECT_EQ(r.status().message().rfind("'" + path + "'", 0), 0u) << r.status().message();
  }
  // From memory with no folder, external data is refused.
  std::ifstream f(make("weights.bin", "8", "24"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_FALSE(import_onnx_bytes(bytes, "", "mem", opt).ok());
  EXPECT_TRUE(import_onnx_bytes(bytes, dir.path, "mem", opt).ok());
}

}  // namespace
}  // namespace lowbit
