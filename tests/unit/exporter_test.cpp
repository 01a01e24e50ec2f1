// ONNX export: round trips through lowbit's importer keep every dtype, shape, symbol and attribute; the
// written protobuf is what ONNX expects (IR version, initializers vs. node-produced constants, inputs);
// bad graphs are refused with the node named; failures leave no file behind.
#include "onnx/exporter.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "onnx/importer.h"
#include "passes_test_util.h"

namespace lowbit {
namespace {

using namespace passes_test;
namespace fs = std::filesystem;

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/lowbit_exporter_XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
  std::vector<std::string> files() const {
    std::vector<std::string> names;
    for (auto& e : fs::directory_iterator(path)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
};

onnx::ModelProto to_proto(const Graph& g, const ExportOptions& options = {}) {
  auto bytes = serialize_onnx(g, options);
  EXPECT_TRUE(bytes.ok()) << bytes.status().message();
  onnx::ModelProto m;
  if (bytes.ok()) EXPECT_TRUE(m.ParseFromString(*bytes));
  return m;
}

Graph roundtrip(const Graph& g, ImportOptions import_options = {}, ExportOptions export_options = {}) {
  auto bytes = serialize_onnx(g, export_options);
  EXPECT_TRUE(bytes.ok()) << bytes.status().message();
  if (!bytes.ok()) return {};
  auto back = import_onnx_bytes(*bytes, "", "exported.onnx", import_options);
  EXPECT_TRUE(back.ok()) << back.status().message();
  return back.ok() ? std::move(*back) : Graph{};
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

// A tensor of `dtype` whose bytes are 0, 1, 2, ... (bool: alternating 0/1).
Tensor patterned(DType dtype, Shape shape) {
  Tensor t(dtype, std::move(shape));
  auto* p = static_cast<uint8_t*>(t.raw());
  for (size_t i = 0; i < t.nbytes(); ++i) p[i] = dtype == DType::kBool ? uint8_t(i % 2) : uint8_t(i * 7 + 1);
  return t;
}

// A small network with symbolic dims, a Constant node, a folded shape computation and an initializer.
Graph small_network() {
  GraphBuilder b(13);
  auto x = b.input("x", {Dim::symbol("batch"), 3, 8, 8});
  auto c = b.node("Conv", {x, b.random_constant("w", {4, 3, 3, 3}), b.random_constant("bias", {4})},
                  {{"pads", ints({1, 1, 1, 1})}, {"strides", ints({2, 2})}}, "conv");
  Attribute value;
  value.kind = Attribute::Kind::kTensor;
  value.t = Tensor::from_vector(DType::kInt64, {2}, std::vector<int64_t>{0, -1});
  auto shape = b.node("Constant", {}, {{"value", value}}, "shape_const");
  auto r = b.node("Reshape", {b.node("LeakyRelu", {c}, {{"alpha", f32(0.2f)}}), shape});
  b.output(b.node("Softmax", {r}, {{"axis", i64(-1)}}));
  b.output(b.node("Shape", {x}));
  return b.build();
}

TEST(Exporter, RoundTripRunsIdentically) {
  Graph g = small_network();
  Graph back = roundtrip(g);
  expect_same_outputs(g, back, 3, /*rtol=*/0.0);
  EXPECT_EQ(back.inputs, g.inputs);
  EXPECT_EQ(back.outputs, g.outputs);
  ASSERT_EQ(back.nodes.size(), g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    EXPECT_EQ(back.nodes[i].name, g.nodes[i].name);
    EXPECT_EQ(back.nodes[i].op_type, g.nodes[i].op_type);
    EXPECT_EQ(back.nodes[i].inputs, g.nodes[i].inputs);
    EXPECT_EQ(back.nodes[i].outputs, g.nodes[i].outputs);
  }
  // Symbolic batch survives as dim_param.
  EXPECT_EQ(back.find("x")->type.dims[0], Dim::symbol("batch"));
  EXPECT_EQ(back.find("x")->type.to_string(), g.find("x")->type.to_string());
}

TEST(Exporter, ModelHeaderAndConstantsWrittenOnce) {
  Graph g = small_network();
  g.graph_name = "net";
  g.doc_string = "a doc";
  onnx::ModelProto m = to_proto(g, {.producer_name = "lowbit-test"});
  EXPECT_EQ(m.ir_version(), 7);
  EXPECT_EQ(m.producer_name(), "lowbit-test");
  ASSERT_EQ(m.opset_import_size(), 1);
  EXPECT_EQ(m.opset_import(0).domain(), "");
  EXPECT_EQ(m.opset_import(0).version(), 13);
  EXPECT_EQ(m.graph().name(), "net");
  EXPECT_EQ(m.doc_string(), "a doc");
  // The Constant node's output (a constant since import, still produced by its node) is written by the node
  // only, not as an initializer too.
  std::vector<std::string> inits;
  for (auto& t : m.graph().initializer()) {
    inits.push_back(t.name());
    EXPECT_TRUE(t.has_raw_data()) << t.name();
  }
  EXPECT_EQ(inits, (std::vector<std::string>{"w", "bias"}));
  ASSERT_EQ(m.graph().input_size(), 1);
  EXPECT_EQ(m.graph().input(0).type().tensor_type().shape().dim(0).dim_param(), "batch");
  // value_info covers intermediates, not inputs/outputs/initializers.
  for (auto& vi : m.graph().value_info()) EXPECT_NE(vi.name(), "x");
  EXPECT_GE(m.graph().value_info_size(), 3);

  for (auto [opset, ir] :
       std::vector<std::pair<int, int>>{{7, 4}, {9, 4}, {10, 5}, {11, 6}, {12, 7}, {13, 7}, {14, 7}, {15, 8}, {17, 8}})
    EXPECT_EQ(ir_version_for_opset(opset), ir) << opset;
}

TEST(Exporter, EveryDtypeAsInitializerAndConstant) {
  GraphBuilder b(13);
  std::vector<DType> dtypes = {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16, DType::kInt8,
                               DType::kUint8,   DType::kInt16,   DType::kUint16,  DType::kInt32,    DType::kInt64,
                               DType::kUint32,  DType::kUint64,  DType::kBool};
  std::map<std::string, Tensor> want;
  for (DType t : dtypes) {
    std::string name = std::string("c_") + dtype_name(t);
    want[name] = patterned(t, {2, 3});
    b.output(b.node("Identity", {b.constant(name, want[name])}, {}, "id_" + std::string(dtype_name(t))));
    Attribute value;  // the same data as a Constant node's tensor attribute
    value.kind = Attribute::Kind::kTensor;
    value.t = patterned(t, {3});
    auto out = b.node("Constant", {}, {{"value", value}}, "k_" + std::string(dtype_name(t)));
    want[out] = value.t;
    b.output(out);
  }
  want["empty"] = Tensor(DType::kInt64, {0});
  b.output(b.node("Identity", {b.constant("empty", want["empty"])}));
  Graph g = b.build();
  Graph back = roundtrip(g);
  for (auto& [name, t] : want) {
    const Tensor* got = back.constant(name);
    ASSERT_TRUE(got) << name;
    EXPECT_TRUE(same_bytes(*got, t)) << name;
  }
  for (auto& out : g.outputs) EXPECT_EQ(back.find(out)->type.to_string(), g.find(out)->type.to_string()) << out;
}

TEST(Exporter, EveryAttributeKindRoundTrips) {
  // A node of a custom domain takes any attributes; lowbit imports it unvalidated.
  Graph g;
  g.opset = 13;
  g.opset_imports = {{"", 13}, {"com.example", 1}};
  g.inputs = {"x"};
  g.values["x"] = ValueInfo{"x", ValueType(DType::kFloat32, {Dim::symbol("n"), Dim(), 4}), std::nullopt, false, -1};
  g.values["y"] = ValueInfo{"y", ValueType(DType::kFloat16, {}), std::nullopt, false, 0};
  g.values["y"].type.has_shape = false;  // rank unknown
  Node n{"custom", "Thing", "com.example", {"x"}, {"y"}, {}};
  Attribute a;
  a.kind = Attribute::Kind::kFloat, a.f = -1.25f, n.attrs["f"] = a;
  a = {}, a.kind = Attribute::Kind::kInt, a.i = -(int64_t(1) << 40), n.attrs["i"] = a;
  a = {}, a.kind = Attribute::Kind::kString, a.s = std::string("a\0b", 3), n.attrs["s"] = a;
  a = {}, a.kind = Attribute::Kind::kTensor, a.t = patterned(DType::kInt8, {2, 2}), n.attrs["t"] = a;
  a = {}, a.kind = Attribute::Kind::kFloats, a.floats = {1.5f, -0.f, 3e38f}, n.attrs["fs"] = a;
  a = {}, a.kind = Attribute::Kind::kInts, a.ints = {1, -2, INT64_MAX}, n.attrs["is"] = a;
  a = {}, a.kind = Attribute::Kind::kStrings, a.strings = {"p", "", "q"}, n.attrs["ss"] = a;
  a = {}, a.kind = Attribute::Kind::kInts, n.attrs["empty_ints"] = a;
  g.nodes.push_back(n);
  g.outputs = {"y"};
  // ONNX's checker requires a shape on graph inputs and outputs: y (rank unknown) is refused by name unless
  // the checker is off.
  auto refused = serialize_onnx(g);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("graph output 'y'"), std::string::npos) << refused.status().message();
  Graph back = roundtrip(g, {.validate = false}, {.run_checker = false});
  ASSERT_EQ(back.nodes.size(), 1u);
  const Node& r = back.nodes[0];
  EXPECT_EQ(r.domain, "com.example");
  ASSERT_EQ(r.attrs.size(), n.attrs.size());
  for (auto& [name, want] : n.attrs) {
    const Attribute* got = r.attr(name);
    ASSERT_TRUE(got) << name;
    EXPECT_EQ(got->kind, want.kind) << name;
    EXPECT_EQ(got->f, want.f) << name;
    EXPECT_EQ(got->i, want.i) << name;
    EXPECT_EQ(got->s, want.s) << name;
    EXPECT_EQ(got->floats, want.floats) << name;
    EXPECT_EQ(got->ints, want.ints) << name;
    EXPECT_EQ(got->strings, want.strings) << name;
    if (want.kind == Attribute::Kind::kTensor) EXPECT_TRUE(same_bytes(got->t, want.t));
  }
  EXPECT_EQ(back.find("x")->type.to_string(), "float32[n,?,4]");
  EXPECT_FALSE(back.find("y")->type.has_shape);
  EXPECT_EQ(back.find("y")->type.dtype, DType::kFloat16);
}

TEST(Exporter, OverridableInitializersStayInputs) {
  GraphBuilder b(13);
  auto x = b.input("x", {2, 3});
  auto bias = b.constant("bias", random_tensor({3}, 5), /*overridable=*/true);
  b.output(b.node("Add", {x, bias}));
  Graph g = b.build();
  onnx::ModelProto m = to_proto(g);
  ASSERT_EQ(m.graph().input_size(), 2);
  EXPECT_EQ(m.graph().input(0).name(), "x");
  EXPECT_EQ(m.graph().input(1).name(), "bias");
  ASSERT_EQ(m.graph().initializer_size(), 1);
  Graph back = roundtrip(g);
  EXPECT_EQ(back.inputs, std::vector<std::string>{"x"});
  EXPECT_EQ(back.overridable_initializers, std::vector<std::string>{"bias"});
  expect_same_outputs(g, back, 1, 0.0);
}

TEST(Exporter, NodesAreSortedAndNamesMadeUnique) {
  GraphBuilder b(13);
  auto x = b.input("x", {4});
  auto r = b.node("Relu", {x}, {}, "first");
  b.output(b.node("Neg", {r}, {}, "second"));
  Graph g = b.build();
  g.nodes[1].name = "first";
  std::swap(g.nodes[0], g.nodes[1]);  // consumer first
  onnx::ModelProto m = to_proto(g);
  ASSERT_EQ(m.graph().node_size(), 2);
  EXPECT_EQ(m.graph().node(0).op_type(), "Relu");
  EXPECT_NE(m.graph().node(0).name(), m.graph().node(1).name());
}

TEST(Exporter, RefusesLowbitAttributesAndInvalidOps) {
  {
    GraphBuilder b(13);
    auto x = b.input("x", {1, 3, 4, 4});
    b.output(b.node("Conv", {x, b.random_constant("w", {2, 3, 1, 1})}, {}, "conv_fused"));
    Graph g = b.build();
    g.nodes[0].attrs["lowbit_activation"] = str("Relu");
    auto s = serialize_onnx(g);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.status().message().find("Conv 'conv_fused'"), std::string::npos) << s.status().message();
    EXPECT_NE(s.status().message().find("lowbit_activation"), std::string::npos) << s.status().message();
  }
  {
    GraphBuilder b(9);
    auto x = b.input("x", {1, 1, 2, 2});
    b.output(b.node("Upsample",
                    {x, b.constant("s", Tensor::from_vector(DType::kFloat32, {4}, std::vector<float>{1, 1, 2, 2}))}, {},
                    "up"));
    Graph g = b.build();
    EXPECT_TRUE(serialize_onnx(g).ok());  // valid at opset 9
    g.opset = 13;                         // removed at 10
    auto s = serialize_onnx(g);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.status().message().find("Upsample 'up'"), std::string::npos) << s.status().message();
  }
  {
    GraphBuilder b(14);
    auto x = b.input("x", {4});
    b.output(b.node("HardSwish", {x}, {}, "hs"));
    Graph g = b.build();
    g.opset = 13;  // HardSwish starts at 14
    auto s = serialize_onnx(g);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.status().message().find("HardSwish 'hs'"), std::string::npos) << s.status().message();
  }
}

TEST(Exporter, CheckerCatchesInconsistentGraphs) {
  GraphBuilder b(13);
  auto x = b.input("x", {2, 3});
  b.output(b.node("Relu", {x}));
  Graph g = b.build();
  g.values[g.outputs[0]].type.dims[1] = Dim(5);  // contradicts what ONNX infers
  auto s = serialize_onnx(g);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("checker"), std::string::npos) << s.status().message();
  EXPECT_TRUE(serialize_onnx(g, {.run_checker = false}).ok());
}

// What `lowbit quantize` will do: optimize, then export. The fusion passes leave lowbit-internal attributes,
// so a fully optimized graph is refused (naming a fused node); without them the optimized graph exports.
TEST(Exporter, OptimizedGraphsExportWithoutFusions) {
  GraphBuilder b(13);
  auto x = b.input("x", {Dim::symbol("N"), 3, 8, 8});
  auto c = b.node("Conv", {x, b.random_constant("w", {3, 3, 3, 3}), b.random_constant("cb", {3})},
                  {{"pads", ints({1, 1, 1, 1})}});
  auto bn = b.node("BatchNormalization", {c, b.random_constant("s", {3}), b.random_constant("bb", {3}),
                                          b.random_constant("m", {3}), b.random_constant("v", {3}, 0.5f, 2.f)});
  b.output(b.node("Add", {b.node("Relu", {bn}), x}));
  Graph g = b.build();

  Graph fused = g;
  ASSERT_TRUE(optimize_graph(fused, {}).ok());
  auto refused = serialize_onnx(fused);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("lowbit_"), std::string::npos) << refused.status().message();

  Graph plain = g;
  OptimizeOptions options;
  options.disabled_passes = {"fuse_conv_activation", "fuse_residual_add"};
  ASSERT_TRUE(optimize_graph(plain, options).ok());
  EXPECT_EQ(count_op(plain, "BatchNormalization"), 0);  // folded into the Conv: new initializers
  Graph back = roundtrip(plain);
  expect_same_outputs(plain, back, 5, 0.0);
  expect_same_outputs(g, back, 6);
}

TEST(Exporter, WritesFileAtomically) {
  TempDir dir;
  Graph g = small_network();
  const std::string path = dir.path + "/model.onnx";
  ASSERT_TRUE(export_onnx(g, path).ok());
  EXPECT_EQ(dir.files(), std::vector<std::string>{"model.onnx"});
  EXPECT_NO_THROW(onnx::checker::check_model(path));
  auto back = import_onnx_file(path);
  ASSERT_TRUE(back.ok()) << back.status().message();
  expect_same_outputs(g, *back, 2, 0.0);

  // A failing export leaves the existing file as it was and no temporary files.
  const auto before = fs::file_size(path);
  Graph bad = g;
  bad.nodes[0].attrs["lowbit_residual"] = i64(1);
  EXPECT_FALSE(export_onnx(bad, path).ok());
  EXPECT_EQ(fs::file_size(path), before);
  EXPECT_EQ(dir.files(), std::vector<std::string>{"model.onnx"});

  // Unwritable destinations: an error, nothing created.
  Status s = export_onnx(g, dir.path + "/no/such/folder/model.onnx");
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_NE(s.message().find("no/such/folder"), std::string::npos) << s.message();
  EXPECT_FALSE(export_onnx(g, dir.path).ok());  // a folder, not a file name
  EXPECT_FALSE(export_onnx(g, "").ok());
  EXPECT_EQ(dir.files(), std::vector<std::string>{"model.onnx"});
}

TEST(Exporter, BigModelsUseExternalData) {
  TempDir dir;
  Graph g = small_network();
  const std::string path = dir.path + "/big.onnx";
  // Over the threshold, but w (432 bytes) and bias (16 bytes) are below the 1 KiB floor: no data file.
  ASSERT_TRUE(export_onnx(g, path, {.external_data_threshold_bytes = 100}).ok());
  EXPECT_EQ(dir.files(), std::vector<std::string>{"big.onnx"});
  GraphBuilder b(13);
  auto x = b.input("x", {2, 64});
  auto w = b.random_constant("w_big", {64, 32});
  b.output(b.node("MatMul", {x, w}));
  b.output(b.node("Add", {x, b.random_constant("small", {64})}));
  Graph g2 = b.build();
  const std::string path2 = dir.path + "/ext.onnx";
  ASSERT_TRUE(export_onnx(g2, path2, {.external_data_threshold_bytes = 1000}).ok());
  EXPECT_EQ(fs::file_size(path2 + ".data"), 64u * 32u * 4u);
  onnx::ModelProto m;
  {
    std::ifstream in(path2, std::ios::binary);
    ASSERT_TRUE(m.ParseFromIstream(&in));
  }
  for (auto& t : m.graph().initializer())
    EXPECT_EQ(t.data_location() == onnx::TensorProto::EXTERNAL, t.name() == "w_big") << t.name();
  EXPECT_NO_THROW(onnx::checker::check_model(path2));
  auto back = import_onnx_file(path2);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(same_bytes(*back->constant("w_big"), *g2.constant("w_big")));
  expect_same_outputs(g2, *back, 4, 0.0);
}

}  // namespace
}  // namespace lowbit
