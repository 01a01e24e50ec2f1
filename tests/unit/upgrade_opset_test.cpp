// upgrade_opset: every rewritten op is built at its old opset, upgraded, and run on the reference kernels
// before and after: outputs must be bit-identical. The upgraded graph is also exported, re-imported and
// run again (the exported file passes ONNX's checker, which export_onnx runs).
#include "passes/upgrade_opset.h"

#include "onnx/exporter.h"
#include "onnx/importer.h"
#include "passes_test_util.h"

namespace lowbit {
namespace {

using namespace passes_test;

Graph reimport(const Graph& g) {
  auto bytes = serialize_onnx(g);
  EXPECT_TRUE(bytes.ok()) << bytes.status().message();
  if (!bytes.ok()) return g;
  auto back = import_onnx_bytes(*bytes, "", "upgraded.onnx");
  EXPECT_TRUE(back.ok()) << back.status().message();
  return back.ok() ? std::move(*back) : g;
}

// Runs both graphs on the reference kernels with the same random inputs: outputs must be bit-identical.
void expect_identical_outputs(const Graph& before, const Graph& after, uint32_t seed, int64_t symbol_size) {
  SCOPED_TRACE("random inputs with seed " + std::to_string(seed));
  ASSERT_EQ(before.outputs, after.outputs);
  auto inputs = random_inputs(before, seed, symbol_size);
  auto s1 = Session::create(before, {.threads = 1, .backend = Backend::kRef});
  auto s2 = Session::create(after, {.threads = 1, .backend = Backend::kRef});
  ASSERT_TRUE(s1.ok()) << s1.status().message();
  ASSERT_TRUE(s2.ok()) << s2.status().message();
  auto r1 = (*s1)->run(inputs);
  auto r2 = (*s2)->run(inputs);
  ASSERT_TRUE(r1.ok()) << r1.status().message();
  ASSERT_TRUE(r2.ok()) << r2.status().message();
  for (auto& [name, want] : *r1) {
    const Tensor& got = r2->at(name);
    ASSERT_EQ(got.dtype(), want.dtype()) << name;
    ASSERT_EQ(got.shape(), want.shape()) << name;
    EXPECT_EQ(std::memcmp(got.raw(), want.raw(), want.nbytes()), 0) << "output " << name << " differs";
  }
}

// Upgrades a copy of `before` to `target`, checks opset bookkeeping, and compares outputs: bit-identical on
// the reference kernels, in memory and after an export/import round trip; within 1e-5 with the default
// (oneDNN) backend, whose kernels may differ between the old and the new form. Returns the upgraded graph.
Graph upgrade_and_compare(const Graph& before, int target = 13, int64_t symbol_size = 2) {
  Graph after = before;
  Status s = upgrade_opset(after, target);
  EXPECT_TRUE(s.ok()) << s.message();
  if (!s.ok()) return after;
  EXPECT_EQ(after.opset, target);
  EXPECT_EQ(after.opset_imports.at(""), target);
  expect_identical_outputs(before, after, 7, symbol_size);
  expect_identical_outputs(before, reimport(after), 11, symbol_size);
  expect_same_outputs(before, after, 13, 1e-5, symbol_size);
  return after;
}

bool has_attr(const Graph& g, const std::string& op, const std::string& attr) {
  for (auto& n : g.nodes)
    if (n.op_type == op && n.has_attr(attr)) return true;
  return false;
}

std::string cast(GraphBuilder& b, const std::string& x, DType to) {
  return b.node("Cast", {x}, {{"to", i64(int64_t(to))}});
}

Attribute floats(std::vector<float> v) { return Attribute::of_floats(std::move(v)); }

// ---- Clip ----------------------------------------------------------------------------------------------

TEST(UpgradeOpset, ClipAttributesBecomeInputs) {
  for (int opset : {7, 10}) {
    GraphBuilder b(opset);
    auto x = b.input("x", {Dim::symbol("N"), 3, 5});
    b.output(b.node("Clip", {x}, {{"min", f32(-0.5f)}, {"max", f32(0.7f)}}));
    b.output(b.node("Clip", {x}, {{"min", f32(0.1f)}}));
    b.output(b.node("Clip", {x}, {{"max", f32(-0.2f)}}));
    b.output(b.node("Clip", {x}));
    // float16 and float64 bounds: the constants take the input's type.
    b.output(cast(b, b.node("Clip", {cast(b, x, DType::kFloat16)}, {{"min", f32(0.1f)}, {"max", f32(1.3f)}}),
                  DType::kFloat32));
    b.output(b.node("Clip", {cast(b, x, DType::kFloat64)}, {{"min", f32(-0.3f)}}));
    Graph after = upgrade_and_compare(b.build());
    EXPECT_FALSE(has_attr(after, "Clip", "min"));
    EXPECT_FALSE(has_attr(after, "Clip", "max"));
    for (auto& n : after.nodes)
      if (n.op_type == "Clip" && n.num_inputs() > 1) EXPECT_EQ(after.find(n.inputs.back())->type.rank(), 0u);
  }
}

// ---- Pad, Slice ----------------------------------------------------------------------------------------

TEST(UpgradeOpset, PadAttributesBecomeInputs) {
  GraphBuilder b(9);
  auto x = b.input("x", {2, 3, 4});
  b.output(b.node("Pad", {x}, {{"pads", ints({0, 1, 2, 1, 0, -1})}, {"value", f32(1.5f)}}));
  b.output(b.node("Pad", {x}, {{"pads", ints({0, 1, 2, 0, 2, 1})}, {"mode", str("reflect")}}));
  b.output(b.node("Pad", {x}, {{"pads", ints({1, 0, 3, 0, 2, 0})}, {"mode", str("edge")}}));
  b.output(b.node("Pad", {x}, {{"pads", ints({0, 0, 1, 0, 0, 1})}}));
  b.output(b.node("Pad", {cast(b, x, DType::kFloat64)}, {{"pads", ints({0, 0, 1, 0, 0, 1})}, {"value", f32(-2.25f)}}));
  Graph after = upgrade_and_compare(b.build());
  EXPECT_FALSE(has_attr(after, "Pad", "pads"));
  EXPECT_FALSE(has_attr(after, "Pad", "value"));
}

TEST(UpgradeOpset, SliceAttributesBecomeInputs) {
  GraphBuilder b(9);
  auto x = b.input("x", {Dim::symbol("N"), 6, 7});
  b.output(b.node("Slice", {x}, {{"starts", ints({1, -5})}, {"ends", ints({INT64_MAX, -1})}, {"axes", ints({1, 2})}}));
  b.output(b.node("Slice", {x}, {{"starts", ints({0, 2})}, {"ends", ints({1, 100})}}));
  b.output(b.node("Slice", {x}, {{"starts", ints({4})}, {"ends", ints({2})}, {"axes", ints({2})}}));  // empty
  Graph after = upgrade_and_compare(b.build(), 13, 3);
  EXPECT_FALSE(has_attr(after, "Slice", "starts"));
}

// ---- Squeeze, Unsqueeze, Split, ReduceSum --------------------------------------------------------------

TEST(UpgradeOpset, AxesAndSplitAttributesBecomeInputs) {
  for (int opset : {7, 11}) {
    GraphBuilder b(opset);
    auto x = b.input("x", {Dim::symbol("N"), 1, 6, 1});
    b.output(b.node("Squeeze", {x}, {{"axes", ints({opset >= 11 ? -1 : 3})}}));
    b.output(b.node("Unsqueeze", {x}, {{"axes", ints({0, 5})}}));
    auto parts = b.node_multi("Split", {x}, {{"axis", i64(2)}, {"split", ints({1, 2, 3})}}, 3);
    for (auto& p : parts) b.output(p);
    auto halves = b.node_multi("Split", {x}, {{"axis", i64(2)}}, 2);
    for (auto& p : halves) b.output(p);
    b.output(b.node("ReduceSum", {x}, {{"axes", ints({2})}, {"keepdims", i64(0)}}));
    b.output(b.node("ReduceSum", {x}));
    b.output(b.node("ReduceSum", {x}, {{"axes", ints({})}}));
    Graph before = b.build();
    // Squeeze without axes drops every size-1 axis; needs a fixed batch so the result is well defined.
    Graph after = upgrade_and_compare(before);
    for (const char* op : {"Squeeze", "Unsqueeze", "ReduceSum"}) EXPECT_FALSE(has_attr(after, op, "axes")) << op;
    EXPECT_FALSE(has_attr(after, "Split", "split"));
  }
  GraphBuilder b(11);
  auto x = b.input("x", {2, 1, 3, 1});
  b.output(b.node("Squeeze", {x}));
  upgrade_and_compare(b.build());
}

// ---- Softmax, LogSoftmax -------------------------------------------------------------------------------

TEST(UpgradeOpset, SoftmaxCoerced2DSemanticsAreKept) {
  for (int opset : {7, 11}) {
    for (const char* op : {"Softmax", "LogSoftmax"}) {
      SCOPED_TRACE(std::string(op) + " at opset " + std::to_string(opset));
      GraphBuilder b(opset);
      auto x = b.input("x", {Dim::symbol("N"), 3, 4, 5});
      b.output(b.node(op, {x}));                      // default axis 1: flattens [N, 60]
      b.output(b.node(op, {x}, {{"axis", i64(0)}}));  // one row
      b.output(b.node(op, {x}, {{"axis", i64(2)}}));
      b.output(b.node(op, {x}, {{"axis", i64(3)}}));  // last axis: kept as is
      if (opset >= 11) b.output(b.node(op, {x}, {{"axis", i64(-2)}}));
      if (opset >= 11) b.output(b.node(op, {x}, {{"axis", i64(-1)}}));
      auto v = b.input("v", {7});
      b.output(b.node(op, {v}, {{"axis", i64(0)}}));  // rank 1
      Graph before = b.build();
      Graph after = upgrade_and_compare(before, 13, 2);
      upgrade_and_compare(before, 13, 3);  // the Reshape follows the run-time batch
      for (auto& n : after.nodes)
        if (n.op_type == op) EXPECT_EQ(n.attr_int("axis", 0), -1);
      EXPECT_EQ(count_op(after, "Flatten"), opset >= 11 ? 4 : 3);
      EXPECT_EQ(count_op(after, "Shape"), count_op(after, "Flatten"));
      upgrade_and_compare(before, 17);
    }
  }
}

// ---- Upsample, Resize ----------------------------------------------------------------------------------

TEST(UpgradeOpset, UpsampleBecomesResize) {
  for (int opset : {7, 9}) {
    for (const char* mode : {"nearest", "linear", "bilinear"}) {
      if (opset == 9 && std::string(mode) == "bilinear") continue;
      SCOPED_TRACE(std::string(mode) + " at opset " + std::to_string(opset));
      GraphBuilder b(opset);
      auto x = b.input("x", {Dim::symbol("N"), 2, 3, 4});
      std::vector<float> scales = {1.f, 1.f, 2.f, 2.5f};
      std::string y;
      if (opset == 7) {
        y = b.node("Upsample", {x}, {{"scales", floats(scales)}, {"mode", str(mode)}});
      } else {
        auto s = b.constant("scales", Tensor::from_vector(DType::kFloat32, {4}, scales));
        y = b.node("Upsample", {x, s}, {{"mode", str(mode)}});
      }
      b.output(y);
      Graph after = upgrade_and_compare(b.build());
      EXPECT_EQ(count_op(after, "Upsample"), 0);
      ASSERT_EQ(count_op(after, "Resize"), 1);
      const Node* r = find_node_by_op(after, "Resize");
      EXPECT_EQ(r->attr_string("coordinate_transformation_mode", ""), "asymmetric");
      EXPECT_EQ(r->inputs.size(), 3u);
      EXPECT_EQ(r->inputs[1], "");
    }
  }
}

Graph resize10(const std::vector<float>& scales, const char* mode) {
  GraphBuilder b(10);
  auto x = b.input("x", {Dim::symbol("N"), 2, 7, 9});
  auto s = b.constant("scales", Tensor::from_vector(DType::kFloat32, {4}, scales));
  b.output(b.node("Resize", {x, s}, {{"mode", str(mode)}}));
  return b.build();
}

TEST(UpgradeOpset, Resize10NearestRoundsLikeOpset10) {
  // Upsampling floors, downsampling takes the ceiling (ONNX Runtime's opset-10 rule).
  Graph up = upgrade_and_compare(resize10({1.f, 1.f, 2.f, 1.7f}, "nearest"));
  EXPECT_EQ(find_node_by_op(up, "Resize")->attr_string("nearest_mode", ""), "floor");
  Graph down = upgrade_and_compare(resize10({1.f, 1.f, 0.5f, 0.6f}, "nearest"));
  EXPECT_EQ(find_node_by_op(down, "Resize")->attr_string("nearest_mode", ""), "ceil");
  upgrade_and_compare(resize10({1.f, 1.f, 0.5f, 1.7f}, "linear"));
  upgrade_and_compare(resize10({1.f, 1.f, 2.f, 3.f}, "linear"), 17);
  // Mixed directions cannot be expressed with one nearest_mode: refused, graph untouched.
  Graph mixed = resize10({1.f, 1.f, 0.5f, 1.7f}, "nearest");
  Status s = upgrade_opset(mixed, 13);
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_NE(s.message().find("Resize"), std::string::npos) << s.message();
  EXPECT_EQ(mixed.opset, 10);
}

TEST(UpgradeOpset, ResizeTfHalfPixelForNearestBecomesHalfPixel) {
  for (const char* nearest : {"round_prefer_floor", "floor"}) {
    SCOPED_TRACE(nearest);
    GraphBuilder b(11);
    auto x = b.input("x", {1, 2, 7, 9});
    auto roi = b.constant("roi", Tensor(DType::kFloat32, {0}));
    for (std::vector<float> scales :
         {std::vector<float>{1.f, 1.f, 2.f, 1.7f}, std::vector<float>{1.f, 1.f, 0.6f, 0.45f},
          std::vector<float>{1.f, 1.f, 3.f, 0.8f}}) {
      auto s = b.constant("scales_" + std::to_string(scales[3]), Tensor::from_vector(DType::kFloat32, {4}, scales));
      b.output(
          b.node("Resize", {x, roi, s},
                 {{"coordinate_transformation_mode", str("tf_half_pixel_for_nn")}, {"nearest_mode", str(nearest)}}));
    }
    Graph after = upgrade_and_compare(b.build());
    for (auto& n : after.nodes) EXPECT_EQ(n.attr_string("coordinate_transformation_mode", ""), "half_pixel");
  }
}

// ---- Dropout, BatchNormalization -----------------------------------------------------------------------

TEST(UpgradeOpset, DropoutRatioDroppedAndOldMaskKeepsItsType) {
  for (int opset : {7, 10}) {
    GraphBuilder b(opset);
    auto x = b.input("x", {2, 3});
    auto outs = b.node_multi("Dropout", {x}, {{"ratio", f32(0.3f)}}, 2);
    b.output(outs[0]);
    b.output(outs[1]);  // float mask before opset 10, bool from 10
    b.output(b.node("Dropout", {x}));
    Graph before = b.build();
    Graph after = upgrade_and_compare(before);
    EXPECT_FALSE(has_attr(after, "Dropout", "ratio"));
    EXPECT_EQ(after.find(outs[1])->type.dtype, opset < 10 ? DType::kFloat32 : DType::kBool);
    EXPECT_EQ(count_op(after, "Cast"), opset < 10 ? 1 : 0);
  }
}

TEST(UpgradeOpset, BatchNormalizationSpatialAttribute) {
  auto build = [](int64_t spatial) {
    GraphBuilder b(7);
    auto x = b.input("x", {Dim::symbol("N"), 3, 4, 4});
    std::map<std::string, Attribute> attrs = {{"epsilon", f32(1e-3f)}, {"momentum", f32(0.8f)}};
    if (spatial >= 0) attrs["spatial"] = i64(spatial);
    b.output(b.node("BatchNormalization",
                    {x, b.random_constant("s", {3}), b.random_constant("b", {3}), b.random_constant("m", {3}),
                     b.random_constant("v", {3}, 0.5f, 2.f)},
                    attrs));
    return b.build();
  };
  for (int target : {13, 14, 15, 17}) {
    Graph after = upgrade_and_compare(build(1), target);
    EXPECT_FALSE(has_attr(after, "BatchNormalization", "spatial"));
    upgrade_and_compare(build(-1), target);
  }
  // spatial=0 normalizes per activation: no opset-9 form; refused, naming the node.
  GraphBuilder b(7);
  auto x = b.input("x", {2, 3, 2});
  b.output(b.node("BatchNormalization",
                  {x, b.random_constant("s", {3, 2}), b.random_constant("b", {3, 2}), b.random_constant("m", {3, 2}),
                   b.random_constant("v", {3, 2}, 0.5f, 2.f)},
                  {{"spatial", i64(0)}}, "bn_per_activation"));
  Graph g = b.build();
  Status s = upgrade_opset(g, 13);
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_NE(s.message().find("bn_per_activation"), std::string::npos) << s.message();
}

// ---- ops that only gained features, whole small networks -----------------------------------------------

TEST(UpgradeOpset, UnchangedOpsOnlyChangeTheOpset) {
  GraphBuilder b(9);
  auto x = b.input("x", {Dim::symbol("N"), 3, 8, 8});
  auto c = b.node("Conv", {x, b.random_constant("w", {4, 3, 3, 3}), b.random_constant("cb", {4})},
                  {{"pads", ints({1, 1, 1, 1})}});
  auto p = b.node("MaxPool", {b.node("Relu", {c})}, {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}});
  auto a = b.node("AveragePool", {p}, {{"kernel_shape", ints({2, 2})}});
  auto m = b.node("Max", {b.node("Sigmoid", {a}), b.node("HardSigmoid", {a})});
  auto f = b.node("Flatten", {m});
  auto gm = b.node("Gemm", {f, b.random_constant("gw", {36, 5}), b.random_constant("gb", {5})});
  b.output(gm);
  b.output(b.node("ArgMax", {gm}, {{"axis", i64(1)}}));
  b.output(b.node("ReduceMean", {m}, {{"axes", ints({2, 3})}}));
  Graph before = b.build();
  for (int target : {13, 15, 17}) {
    Graph after = upgrade_and_compare(before, target);
    ASSERT_EQ(after.nodes.size(), before.nodes.size());
    for (size_t i = 0; i < after.nodes.size(); ++i) {
      EXPECT_EQ(after.nodes[i].op_type, before.nodes[i].op_type);
      EXPECT_EQ(after.nodes[i].inputs, before.nodes[i].inputs);
      EXPECT_EQ(after.nodes[i].attrs.size(), before.nodes[i].attrs.size());
    }
  }
}

// ---- errors --------------------------------------------------------------------------------------------

TEST(UpgradeOpset, UnknownUpgradeNamesNodeAndOp) {
  // Hardmax changed to single-axis semantics at 13 like Softmax; lowbit has no kernel and no rule for it.
  // Built without validation (lowbit cannot import Hardmax at all).
  Graph g;
  g.opset = 11;
  g.opset_imports[""] = 11;
  g.inputs = {"x"};
  g.values["x"] = ValueInfo{"x", ValueType(DType::kFloat32, {2, 3}), std::nullopt, false, -1};
  g.nodes.push_back(Node{"hm", "Hardmax", "", {"x"}, {"y"}, {}});
  g.outputs = {"y"};
  Status s = upgrade_opset(g, 13);
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_NE(s.message().find("Hardmax 'hm'"), std::string::npos) << s.message();
  EXPECT_EQ(g.opset, 11);

  g.nodes[0] = Node{"custom", "Thing", "com.example", {"x"}, {"y"}, {}};
  s = upgrade_opset(g, 13);
  EXPECT_NE(s.message().find("Thing 'custom'"), std::string::npos) << s.message();
}

TEST(UpgradeOpset, TargetsAndNoOps) {
  GraphBuilder b(13);
  auto x = b.input("x", {2});
  b.output(b.node("Relu", {x}));
  Graph g = b.build();
  EXPECT_EQ(upgrade_opset(g, 12).code(), StatusCode::kInvalidArgument);  // below 13
  EXPECT_EQ(upgrade_opset(g, 18).code(), StatusCode::kInvalidArgument);  // beyond ONNX 1.12
  EXPECT_TRUE(upgrade_opset(g, 13).ok());
  EXPECT_TRUE(upgrade_opset(g, 15).ok());
  EXPECT_EQ(g.opset, 15);
  Status down = upgrade_opset(g, 13);
  EXPECT_EQ(down.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(down.message().find("downgrade"), std::string::npos) << down.message();
}

}  // namespace
}  // namespace lowbit
