// lowbit's weight-streaming convolution (src/kernels/onednn/conv_streaming.cpp) against the reference Conv:
// the kernel is built through create_kernel with a blocked input (as the plan does inside a blocked network),
// run on random data, and compared within 1e-4 relative. Cases cover the direct 1x1 path and the im2col path
// (3x3, strides, dilations, asymmetric pads), a last group of one channel block, K split over two row
// chunks, partial tiles, batch 2, every epilogue (bias, residual in place or copied, Relu / Clip / LeakyRelu),
// and thread counts above the number of weight groups. Where it must not apply, create_kernel picks oneDNN.
// Each test runs per instruction set the CPU has: AVX-512 in nChw16c, AVX2 in nChw8c (OnIsa).
#include <gtest/gtest.h>

#include <cstdlib>

#include "kernels/onednn/onednn_kernel.h"
#include "conv_kernel_test_util.h"

namespace lowbit {
namespace {

using namespace onednn_test;
using namespace conv_kernel_test;
using onednn::memory;
using tag = memory::format_tag;

constexpr const char* kStreaming = "lowbit streaming conv";

class OneDnnConvStreaming : public ::testing::TestWithParam<std::string> {};

TEST_P(OneDnnConvStreaming, MatchesReferenceOnSmallMaps) {
  const OnIsa isa(GetParam());
  if (!isa.ok()) GTEST_SKIP() << "this CPU has no " << GetParam();
  std::mt19937 rng(seed_for("OneDnnConvStreaming.MatchesReferenceOnSmallMaps"));
  const std::vector<ConvCase> cases = {
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
      {"1x1 on 7x7, K = 320 over two chunks", 1, 320, 32, 7, 7, 1, 1, {1, 1}, {1, 1}, {0, 0, 0, 0}, true, "Relu", 0,
       0, "inplace"},
  };
  for (const ConvCase& k : cases) check_conv_case(k, rng, kStreaming);
  if (GetParam() == "avx512")  // 1x1 up to 196 pixels there (AVX2: 49)
    check_conv_case({"1x1 on 14x14 (196 pixels), K = 320 over two chunks", 1, 320, 32, 14, 14, 1, 1, {1, 1}, {1, 1},
                     {0, 0, 0, 0}, true, "Relu", 0, 0, "inplace"},
                    rng, kStreaming);
}

// Where the kernel must not apply, create_kernel hands the node to oneDNN (or nothing at all).
TEST_P(OneDnnConvStreaming, OtherConvolutionsStayOnOneDnn) {
  const OnIsa isa(GetParam());
  if (!isa.ok()) GTEST_SKIP() << "this CPU has no " << GetParam();
  std::mt19937 rng(seed_for("OneDnnConvStreaming.OtherConvolutionsStayOnOneDnn"));
  Tensor w = random_tensor(rng, {32, 32, 3, 3}), w1 = random_tensor(rng, {32, 32, 1, 1});
  Tensor dw = random_tensor(rng, {32, 1, 3, 3});
  auto pick = [&](const memory::desc& x_md, const Tensor& weights, const Shape& y, const std::string& act,
                  int64_t group = 1) {
    const int64_t kernel = weights.shape()[2], pad = kernel / 2;
    ConvCase k{"", x_md.dims()[0], 32, 32, x_md.dims()[2], x_md.dims()[3], kernel, kernel, {1, 1}, {1, 1},
                 {pad, pad, pad, pad}, false, act};
    Node node = conv_node(k);
    node.attrs["group"] = int1(group);
    auto kernel_for = onednn::create_kernel(node, 13, {{x_md, nullptr}, {onednn::plain_desc(weights.shape()), &weights}}, {y});
    return kernel_for ? std::string(kernel_for->implementation()) : std::string("none");
  };
  using dt = memory::data_type;
  auto blocked_map = [](int64_t n, int64_t h, int64_t w) {
    return memory::desc({n, 32, h, w}, dt::f32, onednn::own_blocked_tag());
  };
  const memory::desc blocked = blocked_map(1, 7, 7);
  EXPECT_EQ(pick(blocked, w, {1, 32, 7, 7}, "Relu"), kStreaming);
  EXPECT_EQ(pick(blocked_map(1, 14, 14), w1, {1, 32, 14, 14}, "Relu"),  // 1x1: up to 196 pixels with AVX-512
            GetParam() == "avx512" ? kStreaming : "onednn");
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
TEST_P(OneDnnConvStreaming, BlockedNetworkMatchesReference) {
  const OnIsa isa(GetParam());
  if (!isa.ok()) GTEST_SKIP() << "this CPU has no " << GetParam();
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

INSTANTIATE_TEST_SUITE_P(Isa, OneDnnConvStreaming, ::testing::Values("avx512", "avx2"),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

}  // namespace
}  // namespace lowbit
