// In-process A/B of one model under different environment settings (kernel switches such as
// LOWBIT_STREAMING_CONV=0): one optimized graph, one session per setting, each session's kernels built while its
// variables are set, then the sessions' runs alternated so machine noise (this VM is shared) hits all alike.
// Differences of 2-3% are visible here that separate `lowbit bench` processes drown in noise.
//
//   build/bin/lowbit_ab_env MODEL NAME=DIMS ITERATIONS SETTING...
//   build/bin/lowbit_ab_env resnet50.onnx input=1x3x224x224 200 "LOWBIT_STREAMING_CONV=0" ""
//
// A SETTING is a space-separated list of VAR=VALUE ("" = the environment as it is). Random input in [-1, 1),
// 2 threads. Prints median / p25 / min per setting and each median over the first setting's; progress on stderr.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>

#include "onnx/importer.h"
#include "passes/optimizer.h"
#include "runtime/session.h"

using namespace lowbit;

namespace {

int die(const std::string& message) {
  std::fprintf(stderr, "lowbit_ab_env: %s\n", message.c_str());
  return 1;
}

// VAR=VALUE pairs of one setting; false on a word without '='.
bool parse_setting(const std::string& text, std::vector<std::pair<std::string, std::string>>* vars) {
  std::istringstream in(text);
  std::string word;
  while (in >> word) {
    const size_t eq = word.find('=');
    if (eq == std::string::npos || eq == 0) return false;
    vars->push_back({word.substr(0, eq), word.substr(eq + 1)});
  }
  return true;
}

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[size_t(q * double(v.size() - 1))];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) return die("usage: lowbit_ab_env MODEL NAME=DIMS ITERATIONS SETTING... (see bench/ab_env.cpp)");
  const std::string spec = argv[2];
  const size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0) return die("input '" + spec + "': expected NAME=DIMS, e.g. input=1x3x224x224");
  Shape shape;
  std::istringstream dims(spec.substr(eq + 1));
  for (std::string d; std::getline(dims, d, 'x');) {
    char* end = nullptr;
    const long long v = std::strtoll(d.c_str(), &end, 10);
    if (d.empty() || *end != '\0' || v <= 0) return die("input '" + spec + "': bad dimension '" + d + "'");
    shape.push_back(v);
  }
  const int iterations = std::atoi(argv[3]);
  if (iterations < 1) return die(std::string("ITERATIONS '") + argv[3] + "' must be a positive number");
  std::vector<std::string> settings(argv + 4, argv + argc);
  std::vector<std::vector<std::pair<std::string, std::string>>> vars(settings.size());
  for (size_t i = 0; i < settings.size(); ++i)
    if (!parse_setting(settings[i], &vars[i])) return die("setting '" + settings[i] + "': expected VAR=VALUE words");

  auto graph = import_onnx_file(argv[1]);
  if (!graph.ok()) return die(graph.status().message());
  if (Status s = optimize_graph(*graph, OptimizeOptions{}); !s.ok()) return die(s.message());
  Tensor x(DType::kFloat32, shape);
  std::mt19937 rng(0);
  std::uniform_real_distribution<float> dist(-1, 1);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = dist(rng);
  const std::map<std::string, Tensor> feeds = {{spec.substr(0, eq), x}};

  std::vector<std::unique_ptr<Session>> sessions;
  for (size_t i = 0; i < settings.size(); ++i) {
    std::fprintf(stderr, "lowbit_ab_env: building '%s'\n", settings[i].c_str());
    for (auto& [k, v] : vars[i]) setenv(k.c_str(), v.c_str(), 1);
    auto session = Session::create(*graph, {.threads = 2});
    if (!session.ok()) return die(session.status().message());
    auto first = (*session)->run(feeds);  // builds this shape's kernels under the setting
    for (auto& [k, v] : vars[i]) unsetenv(k.c_str());
    if (!first.ok()) return die(first.status().message());
    sessions.push_back(std::move(*session));
  }
  std::vector<std::vector<double>> times(sessions.size());
  const int warmup = 10;
  for (int it = 0; it < warmup + iterations; ++it) {
    if (it % 50 == 0) std::fprintf(stderr, "lowbit_ab_env: round %d/%d\n", it, warmup + iterations);
    for (size_t i = 0; i < sessions.size(); ++i) {
      const auto start = std::chrono::steady_clock::now();
      auto out = sessions[i]->run(feeds);
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      if (!out.ok()) return die(out.status().message());
      if (it >= warmup) times[i].push_back(ms);
    }
  }
  const double base = percentile(times[0], 0.5);
  std::printf("%-40s %10s %10s %10s %8s\n", "setting", "median ms", "p25 ms", "min ms", "ratio");
  for (size_t i = 0; i < sessions.size(); ++i)
    std::printf("%-40s %10.3f %10.3f %10.3f %8.3f\n", settings[i].empty() ? "(as is)" : settings[i].c_str(),
                percentile(times[i], 0.5), percentile(times[i], 0.25), percentile(times[i], 0.0),
                percentile(times[i], 0.5) / base);
  return 0;
}
