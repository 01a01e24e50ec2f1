// Shared by the tests of lowbit's own convolution kernels (streaming, Winograd): a Conv case, the fused node it
// becomes, and the check that runs the kernel create_kernel picks against the reference backend.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <string>

#include "kernels/onednn/onednn_kernel.h"
#include "kernels/onednn/simd.h"
#include "onednn_test_util.h"

namespace lowbit::conv_kernel_test {

using namespace onednn_test;
using onednn::memory;
using tag = memory::format_tag;

struct ConvCase {
  std::string label;
  int64_t n, c, m, h, w, kh, kw;
  std::vector<int64_t> strides, dilations, pads;
  bool bias;
  std::string act = "";  // "", Relu, Clip, LeakyRelu
  float alpha = 0, beta = 0;
  // Residual: "" none; "inplace" arrives in the output's blocked layout and is handed over as dst; "copied" arrives plain.
  std::string residual = "";
  int threads = 2;
};

inline Node conv_node(const ConvCase& k) {
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

inline Shape out_shape(const ConvCase& k) {
  auto axis = [&](int64_t in, int64_t kernel, int i) {
    const int64_t span = (kernel - 1) * k.dilations[size_t(i)] + 1;
    return (in + k.pads[size_t(i)] + k.pads[size_t(i) + 2] - span) / k.strides[size_t(i)] + 1;
  };
  return {k.n, k.m, axis(k.h, k.kh, 0), axis(k.w, k.kw, 1)};
}

inline memory to_layout(const Tensor& t, const memory::desc& want, dnnl::stream& s) {
  memory plain(onednn::plain_desc(t.shape()), onednn::cpu_engine(), const_cast<void*>(t.raw()));
  memory out(want, onednn::cpu_engine());
  dnnl::reorder(plain, out).execute(s, plain, out);
  s.wait();
  return out;
}

// The reference backend on the same fused node is the oracle.
inline Tensor reference(const ConvCase& k, const Node& node, const std::map<std::string, Tensor>& values) {
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

// Sets LOWBIT_SIMD for one instruction set's run of a test of lowbit's own kernels (simd.h): "avx512", or
// "avx2" (forced on AVX-512 machines); ok() is false when the CPU lacks that set.
class OnIsa {
 public:
  explicit OnIsa(const std::string& isa) {
    if (isa == "avx2") ::setenv("LOWBIT_SIMD", "avx2", 1);
    ok_ = onednn::simd::vector_width() == (isa == "avx2" ? 8 : 16);
  }
  ~OnIsa() { ::unsetenv("LOWBIT_SIMD"); }
  OnIsa(const OnIsa&) = delete;
  OnIsa& operator=(const OnIsa&) = delete;
  bool ok() const { return ok_; }

 private:
  bool ok_ = false;
};

// Builds `k`'s kernel through create_kernel with an input arriving in `x_layout`, expects lowbit's kernel
// `implementation` writing lowbit's blocked layout (nChw16c, or nChw8c on AVX2), runs it twice (the second run reuses packed weights and scratch) and compares
// with the reference backend within 1e-4 relative.
inline void check_conv_case(const ConvCase& k, std::mt19937& rng, const char* implementation,
                            memory::format_tag x_layout = onednn::own_blocked_tag()) {
  SCOPED_TRACE(k.label);
  const Shape y_shape = out_shape(k);
  std::map<std::string, Tensor> values = {{"x", random_tensor(rng, {k.n, k.c, k.h, k.w})},
                                          {"w", random_tensor(rng, {k.m, k.c, k.kh, k.kw}, -0.2f, 0.2f)},
                                          {"b", random_tensor(rng, {k.m})},
                                          {"r", random_tensor(rng, y_shape)}};
  const Node node = conv_node(k);
  dnnl::stream stream(onednn::cpu_engine());
  const memory::desc x_md({k.n, k.c, k.h, k.w}, memory::data_type::f32, x_layout);
  const memory::desc y_md(memory::dims(y_shape.begin(), y_shape.end()), memory::data_type::f32,
                          onednn::own_blocked_tag());
  std::vector<onednn::KernelInput> ins = {{x_md, nullptr}, {onednn::plain_desc(values["w"].shape()), &values["w"]}};
  ins.push_back(k.bias ? onednn::KernelInput{onednn::plain_desc(values["b"].shape()), &values["b"]}
                       : onednn::KernelInput{});
  if (!k.residual.empty())
    ins.push_back({k.residual == "inplace" ? y_md : onednn::plain_desc(y_shape), nullptr});
  else if (!k.bias)
    ins.pop_back();
  auto kernel = onednn::create_kernel(node, 13, ins, {y_shape});
  ASSERT_TRUE(kernel);
  ASSERT_STREQ(kernel->implementation(), implementation);
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

}  // namespace lowbit::conv_kernel_test
