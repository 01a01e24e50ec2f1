// lowbit's Winograd convolution (src/kernels/onednn/conv_winograd.cpp) against the reference Conv: built through
// create_kernel, run on random data, compared within 1e-4 relative. Cases cover F(2x2, 3x3) (maps under 28x28)
// and F(4x4, 3x3) (28x28 and up), partial tiles at the right and bottom edges, a last group of one channel
// block, batch 2, every epilogue (bias, residual in place or copied, Relu / Clip / LeakyRelu), inputs arriving
// blocked, plain and nhwc, and 1-3 threads. Where it must not apply, create_kernel picks oneDNN.
// Each test runs once per instruction set the CPU has (simd.h): AVX-512 in nChw16c where present, and AVX2 in
// nChw8c (forced with LOWBIT_SIMD=avx2 on an AVX-512 machine).
#include <gtest/gtest.h>

#include <cstdlib>

#include "conv_kernel_test_util.h"

namespace lowbit {
namespace {

using namespace onednn_test;
using namespace conv_kernel_test;

constexpr const char* kWinograd = "lowbit winograd conv";

class OneDnnConvWinograd : public ::testing::TestWithParam<std::string> {};

ConvCase same3x3(std::string label, int64_t n, int64_t c, int64_t m, int64_t h, int64_t w, bool bias,
                 std::string act = "", float alpha = 0, float beta = 0, std::string residual = "", int threads = 2) {
  return {std::move(label), n, c, m, h, w, 3, 3, {1, 1}, {1, 1}, {1, 1, 1, 1}, bias, std::move(act), alpha, beta,
          std::move(residual), threads};
}

TEST_P(OneDnnConvWinograd, MatchesReference) {
  const OnIsa isa(GetParam());
  if (!isa.ok()) GTEST_SKIP() << "this CPU has no " << GetParam();
  std::mt19937 rng(seed_for("OneDnnConvWinograd.MatchesReference"));
  const std::vector<ConvCase> cases = {
      same3x3("F(4x4) on 28x28, last group of one block (80 outputs), bias + Relu", 1, 64, 80, 28, 28, true, "Relu"),
      same3x3("F(2x2) on 14x14, no bias, no activation", 1, 64, 64, 14, 14, false),
      same3x3("F(2x2), partial tiles (15x17), Clip, residual in place", 1, 64, 64, 15, 17, true, "Clip", 0.f, 0.5f,
              "inplace"),
      same3x3("F(4x4), partial tiles (30x29), batch 2, LeakyRelu, residual copied in", 2, 64, 64, 30, 29, true,
              "LeakyRelu", 0.1f, 0.f, "copied"),
      same3x3("F(4x4), 6 input blocks, 1 thread", 1, 96, 64, 28, 28, true, "Relu", 0, 0, "", 1),
      same3x3("F(2x2), 3 threads over 2 output groups", 1, 64, 64, 14, 14, true, "Relu", 0, 0, "inplace", 3),
  };
  for (const ConvCase& k : cases) check_conv_case(k, rng, kWinograd);
  if (GetParam() == "avx2")  // 9 blocks of 8: the last GEMM group holds one block
    check_conv_case(same3x3("AVX2: 72 outputs, F(4x4), Relu", 1, 64, 72, 28, 28, true, "Relu"), rng, kWinograd);
  // The plan hands over whatever layout the producer wrote: the kernel reorders it to its blocked layout itself.
  check_conv_case(same3x3("input arrives plain (nchw)", 1, 64, 64, 14, 14, true, "Relu"), rng, kWinograd, tag::nchw);
  check_conv_case(same3x3("input arrives nhwc (read as it is), F(4x4)", 1, 64, 64, 28, 28, true, "Relu"), rng,
                  kWinograd, tag::nhwc);
  check_conv_case(same3x3("nhwc, F(2x2), 5 blocks, batch 2", 2, 80, 64, 14, 14, true, "Relu"), rng, kWinograd,
                  tag::nhwc);
}

// Where the kernel must not apply, create_kernel hands the node to oneDNN.
TEST_P(OneDnnConvWinograd, OtherConvolutionsStayOnOneDnn) {
  const OnIsa isa(GetParam());
  if (!isa.ok()) GTEST_SKIP() << "this CPU has no " << GetParam();
  std::mt19937 rng(seed_for("OneDnnConvWinograd.OtherConvolutionsStayOnOneDnn"));
  auto pick = [&](int64_t c, int64_t h, std::vector<int64_t> strides, std::vector<int64_t> dilations,
                  std::vector<int64_t> pads, const std::string& act = "Relu") {
    ConvCase k{"", 1, c, 64, h, h, 3, 3, strides, dilations, pads, false, act};
    const Tensor w = random_tensor(rng, {64, c, 3, 3});
    const memory::desc x_md({1, c, h, h}, memory::data_type::f32, onednn::own_blocked_tag());
    auto kernel = onednn::create_kernel(conv_node(k), 13, {{x_md, nullptr}, {onednn::plain_desc(w.shape()), &w}},
                                        {out_shape(k)});
    return kernel ? std::string(kernel->implementation()) : std::string("none");
  };
  EXPECT_EQ(pick(64, 14, {1, 1}, {1, 1}, {1, 1, 1, 1}), kWinograd);
  EXPECT_NE(pick(64, 28, {2, 2}, {1, 1}, {1, 1, 1, 1}), kWinograd);  // stride 2
  EXPECT_NE(pick(64, 28, {1, 1}, {2, 2}, {2, 2, 2, 2}), kWinograd);  // dilated
  EXPECT_NE(pick(64, 28, {1, 1}, {1, 1}, {0, 0, 0, 0}), kWinograd);  // "valid" padding
  EXPECT_NE(pick(48, 28, {1, 1}, {1, 1}, {1, 1, 1, 1}), kWinograd);  // too few channels to pay
  EXPECT_NE(pick(64, 28, {1, 1}, {1, 1}, {1, 1, 1, 1}, "Sigmoid"), kWinograd);  // no epilogue for it
  setenv("LOWBIT_WINOGRAD", "onednn", 1);
  EXPECT_EQ(pick(64, 14, {1, 1}, {1, 1}, {1, 1, 1, 1}), "onednn");  // switched off for A/B runs
  unsetenv("LOWBIT_WINOGRAD");
}

INSTANTIATE_TEST_SUITE_P(Isa, OneDnnConvWinograd, ::testing::Values("avx512", "avx2"),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

}  // namespace
}  // namespace lowbit
