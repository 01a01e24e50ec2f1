// Pass lower_qdq: hand-built QDQ graphs (as lowbit quantize and ONNX Runtime write them) become QLinearConv /
// int8 data movement, and the integer graph agrees with the QDQ graph's float simulation to within one output
// step on almost every element (the float simulation rounds float dot products; the integer path is exact).
#include "passes_test_util.h"
#include "quant_test_util.h"

#include "ops/fused_activation.h"

namespace lowbit::passes_test {
namespace {

using quant_test::scalar;
Tensor zero_point(DType t, int32_t v) { return quant_test::code(t, v); }

struct QdqBuilder {
  GraphBuilder b;
  std::mt19937 rng{11};
  int n = 0;

  // value -> QuantizeLinear -> DequantizeLinear; returns the dequantized value (scale/zero point names in *params).
  std::string qdq(const std::string& v, float s, DType t, int32_t z, std::pair<std::string, std::string>* params = nullptr) {
    std::string sn = b.constant(v + "_s", scalar(s)), zn = b.constant(v + "_z", zero_point(t, z));
    if (params) *params = {sn, zn};
    return b.node("DequantizeLinear", {b.node("QuantizeLinear", {v, sn, zn}), sn, zn});
  }
  std::string qdq_with(const std::string& v, const std::pair<std::string, std::string>& p) {
    return b.node("DequantizeLinear", {b.node("QuantizeLinear", {v, p.first, p.second}), p.first, p.second});
  }
  // Conv with int8 per-channel weights and an int32 bias in accumulator units (x_scale * w_scale[m]).
  std::string conv(const std::string& x_dq, float x_scale, int64_t m, int64_t c, int64_t k,
                   std::map<std::string, Attribute> attrs = {}) {
    const std::string id = "c" + std::to_string(n++);
    Tensor w(DType::kInt8, {m, c, k, k});
    std::uniform_int_distribution<int> wd(-127, 127);
    for (int64_t i = 0; i < w.numel(); ++i) w.data<int8_t>()[i] = int8_t(wd(rng));
    Tensor ws(DType::kFloat32, {m}), bs(DType::kFloat32, {m}), bq(DType::kInt32, {m});
    std::uniform_real_distribution<float> sd(0.002f, 0.006f);
    std::uniform_int_distribution<int32_t> bd(-3000, 3000);
    for (int64_t i = 0; i < m; ++i) {
      ws.data<float>()[i] = sd(rng);
      bs.data<float>()[i] = x_scale * ws.data<float>()[i];
      bq.data<int32_t>()[i] = bd(rng);
    }
    auto wdq = b.node("DequantizeLinear", {b.constant(id + "_w", w), b.constant(id + "_ws", ws)}, {{"axis", i64(0)}});
    auto bdq = b.node("DequantizeLinear", {b.constant(id + "_b", bq), b.constant(id + "_bs", bs)}, {{"axis", i64(0)}});
    return b.node("Conv", {x_dq, wdq, bdq}, std::move(attrs), id);
  }
};

// Float simulation (lower_qdq disabled) vs lowered graph on the reference and oneDNN backends: at most
// `max_steps` output steps apart, and on at most `max_share` of the elements.
void expect_close_to_simulation(const Graph& before, const Graph& after, float out_step, double max_steps = 2,
                                double max_share = 0.05) {
  auto inputs = random_inputs(before, 5);
  auto sim = Session::create(before, {.threads = 2, .backend = Backend::kRef});
  ASSERT_TRUE(sim.ok());
  auto want = (*sim)->run(inputs);
  ASSERT_TRUE(want.ok()) << want.status().message();
  for (Backend backend : {Backend::kRef, Backend::kOneDnn}) {
    SCOPED_TRACE(backend_name(backend));
    auto s = Session::create(after, {.threads = 2, .backend = backend});
    ASSERT_TRUE(s.ok());
    auto got = (*s)->run(inputs);
    ASSERT_TRUE(got.ok()) << got.status().message();
    for (auto& [name, w] : *want) {
      const Tensor& g = got->at(name);
      ASSERT_EQ(g.shape(), w.shape());
      double worst = 0;
      int64_t off = 0;
      for (int64_t i = 0; i < w.numel(); ++i) {
        const double d = std::fabs(g.get_as_double(i) - w.get_as_double(i)) / out_step;
        worst = std::max(worst, d);
        off += d > 0.01;
      }
      EXPECT_LE(worst, max_steps + 0.01) << name;
      EXPECT_LE(double(off), max_share * double(w.numel())) << name << ": " << off << " of " << w.numel() << " differ";
    }
  }
}

TEST(PassLowerQdq, ConvReluMaxPoolChainBecomesIntegerOps) {
  QdqBuilder q;
  auto x = q.b.input("x", {1, 8, 12, 12});
  auto c1 = q.conv(q.qdq(x, 0.02f, DType::kInt8, 0), 0.02f, 16, 8, 3, {{"pads", ints({1, 1, 1, 1})}});
  std::pair<std::string, std::string> p;
  auto r = q.qdq(q.b.node("Relu", {c1}), 0.05f, DType::kInt8, -128, &p);  // one-sided: zero point -128
  auto pool = q.qdq_with(q.b.node("MaxPool", {r}, {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}}), p);
  auto c2 = q.conv(pool, 0.05f, 12, 16, 1);
  q.b.output(q.qdq(c2, 0.04f, DType::kInt8, 0));
  Graph before = q.b.build(), after = before;
  PassReport r1 = run_pass_ok(after, "lower_qdq");
  run_pass_ok(after, "eliminate_dead_code");
  EXPECT_EQ(count_op(after, "QLinearConv"), 2);
  EXPECT_EQ(count_op(after, "Conv"), 0);
  EXPECT_EQ(count_op(after, "Relu"), 0);
  const Node* pool_node = find_node_by_op(after, "MaxPool");
  ASSERT_NE(pool_node, nullptr);
  // The one-sided int8 tensor became uint8 (zero point 0); MaxPool reads and writes codes.
  EXPECT_EQ(after.find(pool_node->inputs[0])->type.dtype, DType::kUint8);
  EXPECT_EQ(after.find(pool_node->outputs[0])->type.dtype, DType::kUint8);
  EXPECT_EQ(count_op(after, "QuantizeLinear"), 1);    // the float input
  EXPECT_EQ(count_op(after, "DequantizeLinear"), 1);  // the float output
  EXPECT_GE(r1.changes, 3);
  expect_close_to_simulation(before, after, 0.04f);
}

TEST(PassLowerQdq, ResidualAddFusesIntoTheConv) {
  QdqBuilder q;
  auto x = q.b.input("x", {1, 8, 10, 10});
  auto xdq = q.qdq(x, 0.02f, DType::kInt8, 0);
  auto c = q.conv(xdq, 0.02f, 8, 8, 3, {{"pads", ints({1, 1, 1, 1})}});
  auto sum = q.b.node("Add", {q.qdq(c, 0.03f, DType::kInt8, 0), xdq});
  q.b.output(q.qdq(q.b.node("Relu", {sum}), 0.03f, DType::kUint8, 0));
  Graph before = q.b.build(), after = before;
  run_pass_ok(after, "lower_qdq");
  run_pass_ok(after, "eliminate_dead_code");
  ASSERT_EQ(count_op(after, "QLinearConv"), 1);
  EXPECT_EQ(count_op(after, "Add"), 0);
  const Node* qc = find_node_by_op(after, "QLinearConv");
  auto act = parse_fused_activation(*qc);
  ASSERT_TRUE(act.ok());
  EXPECT_TRUE(act->residual);
  EXPECT_EQ(act->kind, FusedActivationKind::kRelu);
  ASSERT_EQ(qc->inputs.size(), 12u);
  // The fused conv skips rounding its own output to 0.03 steps: up to ~1 step apart, on a minority of values.
  expect_close_to_simulation(before, after, 0.03f, 2, 0.35);
}

// The lowered graph on the reference backend reproduces the float simulation bit for bit (lookup tables and
// QLinearAdd/QLinearMul perform the simulation's own float operations).
void expect_exact_on_reference(const Graph& before, const Graph& after) {
  auto inputs = random_inputs(before, 9);
  auto sim = Session::create(before, {.threads = 2, .backend = Backend::kRef});
  auto low = Session::create(after, {.threads = 2, .backend = Backend::kRef});
  ASSERT_TRUE(sim.ok() && low.ok());
  auto want = (*sim)->run(inputs);
  auto got = (*low)->run(inputs);
  ASSERT_TRUE(want.ok() && got.ok());
  for (auto& [name, w] : *want)
    for (int64_t i = 0; i < w.numel(); ++i)
      ASSERT_EQ(got->at(name).get_as_double(i), w.get_as_double(i)) << name << "[" << i << "]";
}

TEST(PassLowerQdq, HardSwishIslandBecomesOneLookupTable) {
  // PaddleOCR's hard-swish as lowbit quantize leaves it: x * (Clip(x + 3, 0, 6) / 6), the Mul's inputs quantized.
  QdqBuilder q;
  auto x = q.b.input("x", {1, 6, 9, 9});
  auto xdq = q.qdq(x, 0.05f, DType::kInt8, 0);
  auto h = q.b.node("Div", {q.b.node("Clip", {q.b.node("Add", {xdq, q.b.constant("three", scalar(3))}),
                                              q.b.constant("lo", scalar(0)), q.b.constant("hi", scalar(6))}),
                            q.b.constant("six", scalar(6))});
  auto y = q.b.node("Mul", {xdq, q.qdq(h, 1.f / 255, DType::kUint8, 0)});
  q.b.output(q.qdq(y, 0.04f, DType::kInt8, -30));
  Graph before = q.b.build(), after = before;
  run_pass_ok(after, "lower_qdq");
  run_pass_ok(after, "eliminate_dead_code");
  EXPECT_EQ(count_op(after, "Gather"), 1);
  for (const char* op : {"Add", "Clip", "Div", "Mul"}) EXPECT_EQ(count_op(after, op), 0) << op;
  const Node* lut = find_node_by_op(after, "Gather");
  ASSERT_NE(lut, nullptr);
  EXPECT_EQ(after.constant(lut->inputs[0])->numel(), 256);
  expect_exact_on_reference(before, after);
  expect_close_to_simulation(before, after, 0.04f, 1, 0.01);  // oneDNN's input quantize may differ at ties
}

TEST(PassLowerQdq, AddAndMulOfQuantizedTensorsBecomeQLinearOps) {
  QdqBuilder q;
  auto a = q.qdq(q.b.input("a", {1, 8, 5, 5}), 0.02f, DType::kInt8, 0);
  auto b = q.qdq(q.b.input("b", {1, 8, 5, 5}), 0.03f, DType::kUint8, 128);
  auto s = q.qdq(q.b.input("s", {1, 8, 1, 1}), 0.01f, DType::kUint8, 0);
  auto sum = q.qdq(q.b.node("Relu", {q.b.node("Add", {a, b})}), 0.03f, DType::kUint8, 0);
  q.b.output(q.qdq(q.b.node("Mul", {sum, s}), 0.005f, DType::kInt8, 0));
  Graph before = q.b.build(), after = before;
  run_pass_ok(after, "lower_qdq");
  run_pass_ok(after, "eliminate_dead_code");
  EXPECT_EQ(count_op(after, "QLinearAdd"), 1);
  EXPECT_EQ(count_op(after, "QLinearMul"), 1);
  EXPECT_EQ(count_op(after, "Relu"), 0);
  expect_exact_on_reference(before, after);
  expect_close_to_simulation(before, after, 0.005f, 1, 0.02);
}

// A squeeze-excitation style mean: DQ -> GlobalAveragePool -> Q runs on an exact integer sum. The float simulation
// rounds its float mean, so a code may differ by one step where that mean sits at a rounding tie.
// Split between a DQ and one Q per output with the same parameters moves codes; a Split whose outputs are
// quantized differently stays float.
TEST(PassLowerQdq, SplitRunsOnCodes) {
  for (bool same : {true, false}) {
    SCOPED_TRACE(same ? "same parameters" : "one output quantized differently");
    QdqBuilder q;
    std::pair<std::string, std::string> p;
    auto x = q.qdq(q.b.input("x", {1, 10, 6, 6}), 0.02f, DType::kInt8, 5, &p);
    Tensor sizes(DType::kInt64, {2});
    sizes.data<int64_t>()[0] = 4, sizes.data<int64_t>()[1] = 6;
    auto parts = q.b.node_multi("Split", {x, q.b.constant("sizes", sizes)}, {{"axis", i64(1)}}, 2);
    q.b.output(q.qdq_with(parts[0], p));
    q.b.output(same ? q.qdq_with(parts[1], p) : q.qdq(parts[1], 0.03f, DType::kInt8, 0));
    Graph before = q.b.build(), after = before;
    run_pass_ok(after, "lower_qdq");
    run_pass_ok(after, "eliminate_dead_code");
    const Node* split = find_node_by_op(after, "Split");
    ASSERT_NE(split, nullptr);
    EXPECT_EQ(after.find(split->inputs[0])->type.dtype, same ? DType::kInt8 : DType::kFloat32);
    EXPECT_EQ(count_op(after, "QuantizeLinear"), same ? 1 : 3);
    expect_close_to_simulation(before, after, 0.02f, 0, 0);
  }
}

TEST(PassLowerQdq, GlobalAveragePoolBecomesQLinearGlobalAveragePool) {
  for (DType t : {DType::kInt8, DType::kUint8}) {
    QdqBuilder q;
    auto x = q.qdq(q.b.input("x", {2, 6, 7, 5}), 0.02f, t, t == DType::kInt8 ? 3 : 120);
    q.b.output(q.qdq(q.b.node("GlobalAveragePool", {x}), 0.004f, DType::kInt8, -2));
    Graph before = q.b.build(), after = before;
    run_pass_ok(after, "lower_qdq");
    run_pass_ok(after, "eliminate_dead_code");
    EXPECT_EQ(count_op(after, "QLinearGlobalAveragePool"), 1);
    EXPECT_EQ(count_op(after, "GlobalAveragePool"), 0);
    expect_close_to_simulation(before, after, 0.004f, 1, 0.05);
  }
}

// DQ -> AveragePool -> Q with its own output parameters becomes QLinearAveragePool: exact integer window sums,
// excluded and included padding, ceil_mode's partial windows; within one step of the float simulation.
TEST(PassLowerQdq, AveragePoolBecomesQLinearAveragePool) {
  for (int64_t include_pad : {0, 1}) {
    for (DType t : {DType::kInt8, DType::kUint8}) {
      SCOPED_TRACE(str_cat("count_include_pad ", include_pad, t == DType::kInt8 ? ", s8" : ", u8"));
      QdqBuilder q;
      auto x = q.qdq(q.b.input("x", {2, 5, 9, 8}), 0.02f, t, t == DType::kInt8 ? 3 : 120);
      auto pool = q.b.node("AveragePool", {x},
                           {{"kernel_shape", ints({3, 3})},
                            {"strides", ints({2, 2})},
                            {"pads", ints({1, 1, 1, 0})},
                            {"ceil_mode", i64(1)},
                            {"count_include_pad", i64(include_pad)}});
      q.b.output(q.qdq(pool, 0.015f, DType::kInt8, -2));
      Graph before = q.b.build(), after = before;
      run_pass_ok(after, "lower_qdq");
      run_pass_ok(after, "eliminate_dead_code");
      EXPECT_EQ(count_op(after, "QLinearAveragePool"), 1);
      EXPECT_EQ(count_op(after, "AveragePool"), 0);
      expect_close_to_simulation(before, after, 0.015f, 1, 0.05);
    }
  }
}

// Concat of inputs quantized with other parameters than its output (an FPN joining upsampled maps): the inputs
// whose parameters differ go through requantization tables, the Concat moves codes; exact against the simulation.
TEST(PassLowerQdq, ConcatOfDifferentlyQuantizedInputsRequantizesByTables) {
  QdqBuilder q;
  std::pair<std::string, std::string> out_params;
  auto a = q.qdq(q.b.input("a", {1, 3, 4, 5}), 0.02f, DType::kInt8, 4);
  auto b = q.qdq(q.b.input("b", {1, 2, 4, 5}), 0.03f, DType::kUint8, 128);
  auto same = q.qdq(q.b.input("c", {1, 4, 4, 5}), 0.025f, DType::kInt8, -3, &out_params);
  q.b.output(q.qdq_with(q.b.node("Concat", {a, b, same}, {{"axis", i64(1)}}), out_params));
  Graph before = q.b.build(), after = before;
  run_pass_ok(after, "lower_qdq");
  run_pass_ok(after, "eliminate_dead_code");
  EXPECT_EQ(count_op(after, "Gather"), 2);  // a and b; c already has the output's parameters
  ASSERT_EQ(count_op(after, "Concat"), 1);
  for (const Node& n : after.nodes)
    if (n.op_type == "Concat") EXPECT_EQ(after.find(n.outputs[0])->type.dtype, DType::kInt8);
  expect_exact_on_reference(before, after);
}

// The upsampling ConvTranspose of a DB / U-Net head (stride == kernel): a 1x1 QLinearConv with b*b*M channels and
// DepthToSpace on codes. Per-channel weights with an int32 bias and Relu (24 -> 24 in the detector), and per-tensor
// weights with one output channel and no activation (its last layer).
TEST(PassLowerQdq, UpsamplingConvTransposeBecomesQLinearConvAndDepthToSpace) {
  for (int variant = 0; variant < 2; ++variant) {
    SCOPED_TRACE(variant);
    const int64_t c = 6, m = variant == 0 ? 5 : 1, k = 2;
    QdqBuilder q;
    auto x = q.qdq(q.b.input("x", {2, c, 3, 4}), 0.02f, DType::kUint8, 0);
    Tensor w(DType::kInt8, {c, m, k, k});
    std::uniform_int_distribution<int> wd(-127, 127);
    for (int64_t i = 0; i < w.numel(); ++i) w.data<int8_t>()[i] = int8_t(wd(q.rng));
    Tensor ws(DType::kFloat32, {variant == 0 ? m : 1});
    for (int64_t i = 0; i < ws.numel(); ++i) ws.data<float>()[i] = 0.003f + 0.001f * float(i);
    std::vector<std::string> ins = {
        x, q.b.node("DequantizeLinear", {q.b.constant("w", w), q.b.constant("ws", ws)}, {{"axis", i64(1)}})};
    if (variant == 0) {
      Tensor bq(DType::kInt32, {m}), bs(DType::kFloat32, {m});
      for (int64_t i = 0; i < m; ++i) bq.data<int32_t>()[i] = int32_t(i * 300 - 500), bs.data<float>()[i] = 0.02f * ws.data<float>()[i];
      ins.push_back(q.b.node("DequantizeLinear", {q.b.constant("bq", bq), q.b.constant("bs", bs)}, {{"axis", i64(0)}}));
    }
    auto y = q.b.node("ConvTranspose", ins, {{"strides", ints({k, k})}, {"kernel_shape", ints({k, k})}});
    if (variant == 0) y = q.b.node("Relu", {y});
    q.b.output(q.qdq(y, 0.01f, DType::kInt8, variant == 0 ? -128 : 5));
    Graph before = q.b.build(), after = before;
    run_pass_ok(after, "lower_qdq");
    run_pass_ok(after, "eliminate_dead_code");
    EXPECT_EQ(count_op(after, "ConvTranspose"), 0);
    EXPECT_EQ(count_op(after, "QLinearConv"), 1);
    EXPECT_EQ(count_op(after, "DepthToSpace"), 1);
    EXPECT_EQ(count_op(after, "Relu"), 0);  // fused into the QLinearConv
    expect_close_to_simulation(before, after, 0.01f, 1, 0.05);
  }
}

// Strided, padded ConvTranspose (decoder and GAN upsampling: 4x4 stride 2 pad 1, 3x3 stride 2 with
// output_padding, stride 1, a rectangular kernel with uneven pads): the sub-pixel form, Conv + DepthToSpace + crop,
// all integer; within one step of the float simulation.
TEST(PassLowerQdq, StridedPaddedConvTransposeBecomesSubPixelConv) {
  struct Case {
    int64_t kh, kw, s;
    std::vector<int64_t> pads, out_pad;
  };
  for (const Case& k : std::vector<Case>{{4, 4, 2, {1, 1, 1, 1}, {0, 0}},
                                         {3, 3, 2, {1, 1, 1, 1}, {1, 1}},
                                         {3, 3, 1, {1, 1, 1, 1}, {0, 0}},
                                         {3, 2, 2, {0, 1, 1, 0}, {0, 1}},
                                         {5, 5, 3, {2, 2, 1, 1}, {0, 0}}}) {
    for (bool dynamic : {false, true}) {  // the rewrite needs no input size: dynamic H and W lower too
      SCOPED_TRACE(str_cat(k.kh, "x", k.kw, " stride ", k.s, dynamic ? ", dynamic H x W" : ""));
      const int64_t c = 4, m = 3;
      QdqBuilder q;
      auto x = q.qdq(q.b.input("x", dynamic ? std::vector<Dim>{Dim(1), Dim(c), Dim(), Dim()}
                                            : std::vector<Dim>{Dim(1), Dim(c), Dim(5), Dim(6)}),
                     0.02f, DType::kUint8, 0);
      Tensor w(DType::kInt8, {c, m, k.kh, k.kw});
      std::uniform_int_distribution<int> wd(-127, 127);
      for (int64_t i = 0; i < w.numel(); ++i) w.data<int8_t>()[i] = int8_t(wd(q.rng));
      Tensor ws(DType::kFloat32, {m}), bq(DType::kInt32, {m}), bs(DType::kFloat32, {m});
      for (int64_t i = 0; i < m; ++i) {
        ws.data<float>()[i] = 0.003f + 0.001f * float(i);
        bq.data<int32_t>()[i] = int32_t(i * 300 - 500), bs.data<float>()[i] = 0.02f * ws.data<float>()[i];
      }
      auto y =
          q.b.node("ConvTranspose",
                   {x, q.b.node("DequantizeLinear", {q.b.constant("w", w), q.b.constant("ws", ws)}, {{"axis", i64(1)}}),
                    q.b.node("DequantizeLinear", {q.b.constant("bq", bq), q.b.constant("bs", bs)}, {{"axis", i64(0)}})},
                   {{"strides", ints({k.s, k.s})},
                    {"kernel_shape", ints({k.kh, k.kw})},
                    {"pads", ints(k.pads)},
                    {"output_padding", ints(k.out_pad)}});
      q.b.output(q.qdq(y, 0.01f, DType::kInt8, 3));
      Graph before = q.b.build(), after = before;
      run_pass_ok(after, "lower_qdq");
      run_pass_ok(after, "eliminate_dead_code");
      EXPECT_EQ(count_op(after, "ConvTranspose"), 0);
      EXPECT_EQ(count_op(after, "QLinearConv"), 1);
      EXPECT_EQ(count_op(after, "DepthToSpace"), 1);
      EXPECT_EQ(count_op(after, "QuantizeLinear"), 1);  // only the float input: DepthToSpace and the crop move codes
      if (!dynamic) expect_close_to_simulation(before, after, 0.01f, 1, 0.05);
    }
  }
}

TEST(PassLowerQdq, MatMulWithInt8WeightsBecomesQLinearMatMul) {
  QdqBuilder q;
  auto a = q.qdq(q.b.input("a", {2, 6, 24}), 0.02f, DType::kUint8, 128);
  Tensor w(DType::kInt8, {24, 10});
  std::uniform_int_distribution<int> wd(-127, 127);
  for (int64_t i = 0; i < w.numel(); ++i) w.data<int8_t>()[i] = int8_t(wd(q.rng));
  Tensor ws(DType::kFloat32, {10});
  for (int64_t i = 0; i < 10; ++i) ws.data<float>()[i] = 0.004f + 0.001f * float(i);
  auto wdq = q.b.node("DequantizeLinear", {q.b.constant("w", w), q.b.constant("ws", ws)}, {{"axis", i64(1)}});
  q.b.output(q.qdq(q.b.node("MatMul", {a, wdq}), 0.05f, DType::kInt8, 0));
  Graph before = q.b.build(), after = before;
  run_pass_ok(after, "lower_qdq");
  run_pass_ok(after, "eliminate_dead_code");
  EXPECT_EQ(count_op(after, "QLinearMatMul"), 1);
  EXPECT_EQ(count_op(after, "MatMul"), 0);
  expect_close_to_simulation(before, after, 0.05f, 1, 0.05);
}

// A classifier head: Gemm (transB, per-row weight scales, int32 bias) and MatMul (per-tensor, 3-D activation) whose
// float outputs are graph outputs become MatMulIntegerToFloat; the float simulation sums rounded float products.
TEST(PassLowerQdq, GemmAndMatMulWithFloatOutputsBecomeMatMulIntegerToFloat) {
  QdqBuilder q;
  std::uniform_int_distribution<int> wd(-127, 127);
  auto a = q.qdq(q.b.input("a", {3, 24}), 0.02f, DType::kUint8, 0);
  Tensor w(DType::kInt8, {10, 24}), ws(DType::kFloat32, {10}), bq(DType::kInt32, {10}), bs(DType::kFloat32, {10});
  for (int64_t i = 0; i < w.numel(); ++i) w.data<int8_t>()[i] = int8_t(wd(q.rng));
  for (int64_t i = 0; i < 10; ++i) {
    ws.data<float>()[i] = 0.004f + 0.001f * float(i);
    bs.data<float>()[i] = 0.02f * ws.data<float>()[i];
    bq.data<int32_t>()[i] = int32_t(i * 97 - 400);
  }
  auto wdq = q.b.node("DequantizeLinear", {q.b.constant("w", w), q.b.constant("ws", ws)}, {{"axis", i64(0)}});
  auto bdq = q.b.node("DequantizeLinear", {q.b.constant("bq", bq), q.b.constant("bs", bs)}, {{"axis", i64(0)}});
  q.b.output(q.b.node("Gemm", {a, wdq, bdq}, {{"transB", i64(1)}}));
  auto m = q.qdq(q.b.input("m", {2, 5, 24}), 0.03f, DType::kInt8, 3);
  Tensor v(DType::kInt8, {24, 7});
  for (int64_t i = 0; i < v.numel(); ++i) v.data<int8_t>()[i] = int8_t(wd(q.rng));
  q.b.output(q.b.node("MatMul", {m, q.b.node("DequantizeLinear", {q.b.constant("v", v), q.b.constant("vs", scalar(0.005f))})}));
  Graph before = q.b.build(), after = before;
  run_pass_ok(after, "lower_qdq");
  run_pass_ok(after, "eliminate_dead_code");
  EXPECT_EQ(count_op(after, "MatMulIntegerToFloat"), 2);
  EXPECT_EQ(count_op(after, "Gemm") + count_op(after, "MatMul"), 0);
  expect_close_to_simulation(before, after, 1e-4f, 1, 1);
}

// Found by fuzz_import (fuzz/regressions/fuzz_import/lower_qdq_nan_bias.onnx): a NaN bias has no int32 form;
// converting it was undefined behaviour. The Conv now stays a float simulation.
TEST(PassLowerQdq, NanBiasLeavesTheConvFloat) {
  QdqBuilder q;
  auto x = q.b.input("x", {1, 2, 4, 4});
  auto xdq = q.qdq(x, 0.02f, DType::kInt8, 0);
  Tensor w(DType::kInt8, {2, 2, 1, 1});
  w.data<int8_t>()[0] = 5;
  auto wdq = q.b.node("DequantizeLinear", {q.b.constant("w", w), q.b.constant("ws", scalar(0.01f))});
  Tensor bias(DType::kFloat32, {2});
  bias.data<float>()[0] = std::nanf("");
  auto c = q.b.node("Conv", {xdq, wdq, q.b.constant("b", bias)});
  q.b.output(q.qdq(c, 0.03f, DType::kInt8, 0));
  Graph g = q.b.build();
  run_pass_ok(g, "lower_qdq");
  EXPECT_EQ(count_op(g, "QLinearConv"), 0);
  EXPECT_EQ(count_op(g, "Conv"), 1);
}

TEST(PassLowerQdq, PinnedNodesAndFloatConsumersStayFloat) {
  QdqBuilder q;
  auto x = q.b.input("x", {1, 4, 6, 6});
  auto c = q.conv(q.qdq(x, 0.02f, DType::kInt8, 0), 0.02f, 4, 4, 3, {{"pads", ints({1, 1, 1, 1})}});
  auto y = q.qdq(c, 0.03f, DType::kInt8, 0);
  q.b.output(y);
  q.b.output(c);  // the float conv output is also a graph output: it cannot be fused away
  Graph g = q.b.build();
  EXPECT_EQ(run_pass_ok(g, "lower_qdq").changes, 0);
  EXPECT_EQ(count_op(g, "Conv"), 1);

  QdqBuilder q2;
  auto x2 = q2.b.input("x", {1, 4, 6, 6});
  auto c2 = q2.conv(q2.qdq(x2, 0.02f, DType::kInt8, 0), 0.02f, 4, 4, 3);
  q2.b.output(q2.qdq(c2, 0.03f, DType::kInt8, 0));
  Graph g2 = q2.b.build();
  OptimizeOptions keep;
  keep.keep_nodes = {"c0"};  // --keep-node / per-layer float: this Conv stays a float simulation
  EXPECT_EQ(run_pass_ok(g2, "lower_qdq", keep).changes, 0);
  EXPECT_EQ(count_op(g2, "QLinearConv"), 0);
}

}  // namespace
}  // namespace lowbit::passes_test
