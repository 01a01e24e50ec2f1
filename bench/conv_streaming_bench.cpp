// Per-layer A/B of lowbit's weight-streaming convolution (src/kernels/onednn/conv_streaming.cpp) against the
// oneDNN kernel the plan would otherwise pick, on resnet50's layer-2/3/4 shapes at batch 1, input in nChw16c
// (rows marked oneDNN are shapes the plan leaves to oneDNN: both sides run oneDNN there).
// Each side cycles over 30 kernels with different weights (30 x 1-9 MiB, more than this machine's share of L3)
// so weights come from DRAM as they do in a whole model; the two sides alternate run by run.
//
//   build/bin/lowbit_conv_streaming_bench [threads=2] [copies=30]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "kernels/onednn/onednn_kernel.h"

using namespace lowbit;
using namespace lowbit::onednn;

namespace {

struct Layer {
  const char* name;
  int64_t ic, oc, h, k, stride;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2, copies = argc > 2 ? std::atoi(argv[2]) : 30;
  if (threads < 1 || copies < 1) {
    std::fprintf(stderr, "usage: %s [threads >= 1] [copies >= 1]\n", argv[0]);
    return 2;
  }
  const std::vector<Layer> layers = {{"layer4 3x3 512 @7", 512, 512, 7, 3, 1},
                                     {"layer4.0 3x3 512 s2 14->7", 512, 512, 14, 3, 2},
                                     {"layer4 1x1 2048->512 @7", 2048, 512, 7, 1, 1},
                                     {"layer4 1x1 512->2048 @7", 512, 2048, 7, 1, 1},
                                     {"layer4.0 shortcut 1024->2048 s2", 1024, 2048, 14, 1, 2},
                                     {"layer4.0 1x1 1024->512 @14", 1024, 512, 14, 1, 1},
                                     {"layer3 1x1 1024->256 @14", 1024, 256, 14, 1, 1},
                                     {"layer3 1x1 256->1024 @14", 256, 1024, 14, 1, 1},
                                     {"layer3.0 shortcut 512->1024 s2", 512, 1024, 28, 1, 2},
                                     {"layer3.0 3x3 256 s2 28->14 (oneDNN)", 256, 256, 28, 3, 2},
                                     {"layer2 1x1 512->128 @28 (oneDNN)", 512, 128, 28, 1, 1}};
  ThreadPool pool(threads);
  set_num_threads(threads);
  dnnl::stream stream(cpu_engine());
  std::mt19937 rng(1);
  std::printf("%-36s %-22s %9s %9s %7s\n", "layer", "kernel", "ms", "oneDNN", "ratio");
  for (const Layer& l : layers) {
    std::fprintf(stderr, "%s: building %d x 2 kernels\n", l.name, copies);
    const int64_t pad = l.k / 2, oh = (l.h + 2 * pad - l.k) / l.stride + 1;
    Node node;
    node.name = "conv";
    node.op_type = "Conv";
    node.attrs["kernel_shape"] = Attribute::of_ints({l.k, l.k});
    node.attrs["strides"] = Attribute::of_ints({l.stride, l.stride});
    node.attrs["pads"] = Attribute::of_ints({pad, pad, pad, pad});
    node.attrs["lowbit_activation"] = Attribute::of_string("Relu");
    Tensor bias(DType::kFloat32, {l.oc});
    for (int64_t i = 0; i < l.oc; ++i) bias.data<float>()[i] = 0.01f;
    const memory::desc x_md({1, l.ic, l.h, l.h}, memory::data_type::f32, memory::format_tag::nChw16c);
    std::vector<Tensor> weights;
    std::vector<std::unique_ptr<Kernel>> sides[2];  // [0]: what create_kernel picks, [1]: oneDNN
    for (int i = 0; i < copies; ++i) {
      Tensor w(DType::kFloat32, {l.oc, l.ic, l.k, l.k});
      std::uniform_real_distribution<float> dist(-0.1f, 0.1f);
      for (int64_t j = 0; j < w.numel(); ++j) w.data<float>()[j] = dist(rng);
      weights.push_back(std::move(w));
    }
    for (int side = 0; side < 2; ++side) {
      if (side == 1) setenv("LOWBIT_STREAMING_CONV", "0", 1);
      for (const Tensor& w : weights) {
        std::vector<KernelInput> ins = {{x_md, nullptr}, {plain_desc(w.shape()), &w}, {plain_desc(bias.shape()), &bias}};
        auto k = create_kernel(node, 13, ins, {{1, l.oc, oh, oh}});
        if (!k) {
          std::fprintf(stderr, "%s: no kernel\n", l.name);
          return 1;
        }
        k->pool = &pool;
        sides[side].push_back(std::move(k));
      }
      unsetenv("LOWBIT_STREAMING_CONV");
    }
    memory x(x_md, cpu_engine()), y(sides[0][0]->output_descs[0], cpu_engine());
    float* xp = static_cast<float*>(x.get_data_handle());
    for (size_t i = 0; i < x_md.get_size() / sizeof(float); ++i) xp[i] = 0.01f * float(i % 17);
    std::vector<double> times[2];
    for (int it = 0; it < 12 * copies + 200; ++it)
      for (int side = 0; side < 2; ++side) {
        const auto start = std::chrono::steady_clock::now();
        sides[side][size_t(it % copies)]->execute(stream, {x, {}, {}}, {y});
        stream.wait();
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        if (it >= 2 * copies) times[side].push_back(ms);
      }
    const double a = median(times[0]), b = median(times[1]);
    std::printf("%-36s %-22s %9.3f %9.3f %7.2f\n", l.name, sides[0][0]->implementation(), a, b, a / b);
  }
  return 0;
}
