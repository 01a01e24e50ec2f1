// lowbit's weight-streaming convolution (src/kernels/onednn/conv_streaming.cpp) against the reference Conv:
// the kernel is built through create_kernel with an nChw16c input (as the plan does inside a blocked network),
// run on random data, and compared within 1e-4 relative. Cases cover the direct 1x1 path and the im2col path
// (3x3, strides, dilations, asymmetric pads), a last group of one 16-channel block, K split over two row
// chunks, partial tiles, batch 2, every epilogue (bias, residual in place or copied, Relu / Clip / LeakyRelu),
// and thread counts above the number of weight groups. Where it must not apply, create_kernel picks oneDNN.
#include <gtest/gtest.h>

#include <cstdlib>

#include "kernels/onednn/onednn_kernel.h"
#include "onednn_test_util.h"

namespace lowbit {
namespace {

using namespace onednn_test;
using onednn::memory;
using tag = memory::format_tag;

constexpr const char* kStreaming = "lowbit streaming conv";

struct StreamCase {
  std::string label;
  int64_t n, c, m, h, w, kh, kw;
  std::vector<int64_t> strides, dilations, pads;
  bool bias;
  std::string act = "";  // "", Relu, Clip, LeakyRelu
  float alpha = 0, beta = 0;
  // Residual: "" none; "inplace" arrives in nChw16c and is handed over as dst; "copied" arrives plain.
  std::string residual = "";
  int threads = 2;
};

Node conv_node(const StreamCase& k) {
  Node node;
  node.name = "conv";
  node.op_type = "Conv";
  node.inputs = {"x", "w"};
  if (k.bias) node.inputs.push_back("b");
  node.outputs = {"y"};
  node.attrs["kernel_shape"] = ints({k.kh, k.kw});
  node.attrs["strides"] = ints(k.strides);
  node.attrs["dilations"] = ints(k.dilations);
  node.attrs["pads"] = ints(k.pads);
  if (!k.act.empty()) {
    node.attrs["lowbit_activation"] = str(k.act);
    node.attrs["lowbit_activation_alpha"] = flt(k.alpha);
    node.attrs["lowbit_activation_beta"] = flt(k.beta);
  }
  if (!k.residual.empty()) {
    if (!k.bias) node.inputs.push_back("");
    node.inputs.push_back("r");
    node.attrs["lowbit_residual"] = int1(1);
  }
  return node;
}

Shape out_shape(const StreamCase& k) {
  auto axis = [&](int64_t in, int64_t kernel, int i) {
    const int64_t span = (kernel - 1) * k.dilations[size_t(i)] + 1;
    return (in + k.pads[size_t(i)] + k.pads[size_t(i) + 2] - span) / k.strides[size_t(i)] + 1;
  };
  return {k.n, k.m, axis(k.h, k.kh, 0), axis(k.w, k.kw, 1)};
}

memory to_layout(const Tensor& t, const memory::desc& want, dnnl::stream& s) {
  memory plain(onednn::plain_desc(t.shape()), onednn::cpu_engine(), const_cast<void*>(t.raw()));
  memory out(want, onednn::cpu_engine());
  dnnl::reorder(plain, out).execute(s, plain, out);
  s.wait();
  return out;
}

// The reference backend on the same fused node is the oracle.
Tensor reference(const StreamCase& k, const Node& node, const std::map<std::string, Tensor>& values) {
  GraphBuilder b;
  b.input("x", values.at("x").shape());
  b.constant("w", values.at("w"));
  if (k.bias) b.constant("b", values.at("b"));
  if (!k.residual.empty()) b.input("r", values.at("r").shape());
  b.node("Conv", node.inputs, {"y"}, node.attrs);
  auto session = Session::create(b.done({"y"}), {.threads = 1, .backend = Backend::kRef});
  EXPECT_TRUE(session.ok());
  std::map<std::string, Tensor> feeds = {{"x", values.at("x")}};
  if (!k.residual.empty()) feeds["r"] = values.at("r");
  auto got = (*session)->run(feeds);
  EXPECT_TRUE(got.ok()) << got.status().message();
  return got->at("y");
}

void check_case(const StreamCase& k, std::mt19937& rng) {
  SCOPED_TRACE(k.label);
  const Shape y_shape = out_shape(k);
  std::map<std::string, Tensor> values = {{"x", random_tensor(rng, {k.n, k.c, k.h, k.w})},
                                          {"w", random_tensor(rng, {k.m, k.c, k.kh, k.kw}, -0.2f, 0.2f)},
                                          {"b", random_tensor(rng, {k.m})},
                                          {"r", random_tensor(rng, y_shape)}};
  const Node node = conv_node(k);
  dnnl::stream stream(onednn::cpu_engine());
  const memory::desc x_md({k.n, k.c, k.h, k.w}, memory::data_type::f32, tag::nChw16c);
  const memory::desc y_md(memory::dims(y_shape.begin(), y_shape.end()), memory::data_type::f32, tag::nChw16c);
  std::vector<onednn::KernelInput> ins = {{x_md, nullptr}, {onednn::plain_desc(values["w"].shape()), &values["w"]}};
  ins.push_back(k.bias ? onednn::KernelInput{onednn::plain_desc(values["b"].shape()), &values["b"]}
                       : onednn::KernelInput{});
  if (!k.residual.empty())
    ins.push_back({k.residual == "inplace" ? y_md : onednn::plain_desc(y_shape), nullptr});
  else if (!k.bias)
    ins.pop_back();
  auto kernel = onednn::create_kernel(node, 13, ins, {y_shape});
  ASSERT_TRUE(kernel);
  ASSERT_STREQ(kernel->implementation(), kStreaming);
  ASSERT_TRUE(kernel->output_descs[0] == y_md);
  ThreadPool pool(k.threads);
  onednn::set_num_threads(k.threads);
  kernel->pool = &pool;

  memory x = to_layout(values["x"], x_md, stream), y(y_md, onednn::cpu_engine());
  std::vector<memory> inputs(ins.size());
  inputs[0] = x;
  if (k.residual == "inplace") {
    ASSERT_EQ(kernel->in_place_input, 3);
    ASSERT_TRUE(kernel->in_place_desc == y_md);
    y = to_layout(values["r"], y_md, stream);  // the plan hands the dying residual's buffer over as dst
    inputs[3] = y;
  } else if (k.residual == "copied") {
    inputs[3] = memory(onednn::plain_desc(y_shape), onednn::cpu_engine(), values["r"].raw());
  }
  for (int run = 0; run < 2; ++run) {  // the second run reuses the packed weights and the im2col scratch
    if (run == 1 && k.residual == "inplace") {
      y = to_layout(values["r"], y_md, stream);
      inputs[3] = y;
    }
    kernel->execute(stream, inputs, {y});
    stream.wait();
    Tensor got(DType::kFloat32, y_shape);
    memory plain(onednn::plain_desc(y_shape), onednn::cpu_engine(), got.raw());
    dnnl::reorder(y, plain).execute(stream, y, plain);
    stream.wait();
    const Tensor want = reference(k, node, values);
    double worst = 0;
    for (int64_t i = 0; i < want.numel(); ++i) {
      const double a = got.data<float>()[i], b = want.data<float>()[i];
      worst = std::max(worst, std::fabs(a - b) / std::max(1.0, std::fabs(b)));
    }
    EXPECT_LE(worst, 1e-4) << "run " << run;
  }
}

bool has_avx512() { return __builtin_cpu_supports("avx512f"); }

TEST(OneDnnConvStreaming, MatchesReferenceOnSmallMaps) {
  if (!has_avx512()) GTEST_SKIP() << "the streaming kernel needs AVX-512";
  std::mt19937 rng(seed_for("OneDnnConvStreaming.MatchesReferenceOnSmallMaps"));
  const std::vector<StreamCase> cases = {
      {"1x1 direct, 3 output blocks (last group of one), bias + Relu", 1, 32, 48, 7, 7, 1, 1, {1, 1}, {1, 1},
       {0, 0, 0, 0}, true, "Relu"},
      {"3x3 pad 1, no bias, no activation", 1, 64, 64, 7, 7, 3, 3, {1, 1}, {1, 1}, {1, 1, 1, 1}, false},
      {"K = 1152: two row chunks; partial tiles (6x5); Clip; residual in place", 1, 128, 32, 6, 5, 3, 3, {1, 1},
       {1, 1}, {1, 1, 1, 1}, true, "Clip", 0.f, 0.5f, "inplace"},
      {"1x1 stride 2 (im2col); LeakyRelu; plain residual copied in", 1, 48, 32, 13, 13, 1, 1, {2, 2}, {1, 1},
       {0, 0, 0, 0}, true, "LeakyRelu", 0.1f, 0.f, "copied"},
      {"2x3 kernel, dilation 2, strides 2x1, asymmetric pads, one block", 1, 16, 16, 9, 8, 2, 3, {2, 1}, {2, 2},
       {1, 0, 0, 2}, true},
      {"one output pixel", 1, 16, 32, 3, 3, 3, 3, {1, 1}, {1, 1}, {0, 0, 0, 0}, true, "Relu"},
      {"batch 2 (40 pixels in all)", 2, 32, 32, 5, 4, 3, 3, {1, 1}, {1, 1}, {1, 1, 1, 1}, true, "Relu", 0, 0,
       "inplace"},
      {"3 threads over 1 weight group: tiles split between threads", 1, 32, 32, 7, 7, 3, 3, {1, 1}, {1, 1},
       {1, 1, 1, 1}, true, "Relu", 0, 0, "", 3},
      {"1 thread", 1, 32, 64, 7, 7, 1, 1, {1, 1}, {1, 1}, {0, 0, 0, 0}, false, "", 0, 0, "copied", 1},
      {"1x1 on 14x14 (196 pixels), K = 320 over two chunks", 1, 320, 32, 14, 14, 1, 1, {1, 1}, {1, 1},
       {0, 0, 0, 0}, true, "Relu", 0, 0, "inplace"},
  };
  for (const StreamCase& k : cases) check_case(k, rng);
}

// Where the kernel must not apply, create_kernel hands the node to oneDNN (or nothing at all).
TEST(OneDnnConvStreaming, OtherConvolutionsStayOnOneDnn) {
  if (!has_avx512()) GTEST_SKIP() << "the streaming kernel needs AVX-512";
  std::mt19937 rng(seed_for("OneDnnConvStreaming.OtherConvolutionsStayOnOneDnn"));
  Tensor w = random_tensor(rng, {32, 32, 3, 3}), w1 = random_tensor(rng, {32, 32, 1, 1});
  Tensor dw = random_tensor(rng, {32, 1, 3, 3});
  auto pick = [&](const memory::desc& x_md, const Tensor& weights, const Shape& y, const std::string& act,
                  int64_t group = 1) {
    const int64_t kernel = weights.shape()[2], pad = kernel / 2;
    StreamCase k{"", x_md.dims()[0], 32, 32, x_md.dims()[2], x_md.dims()[3], kernel, kernel, {1, 1}, {1, 1},
                 {pad, pad, pad, pad}, false, act};
    Node node = conv_node(k);
    node.attrs["group"] = int1(group);
    auto kernel_for = onednn::create_kernel(node, 13, {{x_md, nullptr}, {onednn::plain_desc(weights.shape()), &weights}}, {y});
    return kernel_for ? std::string(kernel_for->implementation()) : std::string("none");
  };
  using dt = memory::data_type;
  auto blocked_map = [](int64_t n, int64_t h, int64_t w) { return memory::desc({n, 32, h, w}, dt::f32, tag::nChw16c); };
  const memory::desc blocked = blocked_map(1, 7, 7);
  EXPECT_EQ(pick(blocked, w, {1, 32, 7, 7}, "Relu"), kStreaming);
  EXPECT_EQ(pick(blocked_map(1, 14, 14), w1, {1, 32, 14, 14}, "Relu"), kStreaming);  // 1x1: up to 196 pixels
  EXPECT_EQ(pick(blocked_map(1, 15, 14), w1, {1, 32, 15, 14}, ""), "onednn");        // 210 pixels
  EXPECT_EQ(pick(memory::desc({1, 32, 7, 7}, dt::f32, tag::nchw), w, {1, 32, 7, 7}, "Relu"), "onednn");  // plain input
  EXPECT_EQ(pick(blocked_map(1, 8, 7), w, {1, 32, 8, 7}, "Relu"), "onednn");   // 3x3 on 56 pixels
  EXPECT_EQ(pick(blocked_map(2, 7, 7), w, {2, 32, 7, 7}, "Relu"), "onednn");   // batch 2: 98 pixels in all
  EXPECT_EQ(pick(blocked, w, {1, 32, 7, 7}, "Sigmoid"), "onednn");  // activation it has no epilogue for
  EXPECT_EQ(pick(blocked, dw, {1, 32, 7, 7}, "", 32), "onednn");    // depthwise
  setenv("LOWBIT_STREAMING_CONV", "0", 1);
  EXPECT_EQ(pick(blocked, w, {1, 32, 7, 7}, "Relu"), "onednn");  // switched off for A/B runs
  unsetenv("LOWBIT_STREAMING_CONV");
}

// In a whole plan: a Winograd convolution leaves its output in nChw16c, a stride-2 3x3 convolution brings it to
// 7x7 (streaming), and a 1x1 convolution with the residual Add and Relu fused runs on the 7x7 map (streaming,
// its residual handed over in place when it dies there).
TEST(OneDnnConvStreaming, BlockedNetworkMatchesReference) {
  std::mt19937 rng(seed_for("OneDnnConvStreaming.BlockedNetworkMatchesReference"));
  GraphBuilder b;
  b.input("x", {1, 64, 14, 14});
  b.constant("w1", random_tensor(rng, {64, 64, 3, 3}, -0.1f, 0.1f));
  b.constant("w2", random_tensor(rng, {64, 64, 3, 3}, -0.1f, 0.1f));
  b.constant("b2", random_tensor(rng, {64}));
  b.constant("w3", random_tensor(rng, {64, 64, 1, 1}, -0.2f, 0.2f));
  b.node("Conv", {"x", "w1"}, {"c1"}, {{"pads", ints({1, 1, 1, 1})}, {"lowbit_activation", str("Relu")}});
  b.node("Conv", {"c1", "w2", "b2"}, {"c2"},
         {{"pads", ints({1, 1, 1, 1})}, {"strides", ints({2, 2})}, {"lowbit_activation", str("Relu")}});
  b.node("Conv", {"c2", "w3", "", "c2"}, {"y"}, {{"lowbit_residual", int1(1)}, {"lowbit_activation", str("Relu")}});
  int used = compare_backends(b.done({"y"}), {{"x", random_tensor(rng, {1, 64, 14, 14})}}, 1e-4, 3);
  EXPECT_EQ(used, 3);
}

}  // namespace
}  // namespace lowbit
