// Shared helpers of the oneDNN backend tests: a tiny graph builder, random tensors, printed seeds, and
// compare_backends (runs a graph on Backend::kRef and Backend::kOneDnn and compares with a relative tolerance).
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "runtime/session.h"

namespace lowbit::onednn_test {

inline Attribute ints(std::vector<int64_t> v) { return Attribute::of_ints(std::move(v)); }
inline Attribute int1(int64_t v) { return Attribute::of_int(std::move(v)); }
inline Attribute flt(float v) { return Attribute::of_float(std::move(v)); }
inline Attribute str(std::string v) { return Attribute::of_string(std::move(v)); }

inline Tensor random_tensor(std::mt19937& rng, Shape shape, float lo = -1, float hi = 1) {
  Tensor t(DType::kFloat32, std::move(shape));
  std::uniform_real_distribution<float> dist(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

// A tiny graph builder: runtime inputs, constants, nodes, outputs.
struct GraphBuilder {
  Graph g;
  GraphBuilder() {
    g.opset = 13;
    g.opset_imports[""] = 13;
  }
  void input(const std::string& name, const Shape& s) {
    g.inputs.push_back(name);
    g.values[name] = ValueInfo{name, ValueType(DType::kFloat32, std::vector<Dim>(s.begin(), s.end())), std::nullopt};
  }
  void constant(const std::string& name, Tensor t) {
    ValueInfo v{name, ValueType::of(t), t};
    v.initializer = true;
    g.values[name] = v;
  }
  void node(const std::string& op, std::vector<std::string> ins, std::vector<std::string> outs,
            std::map<std::string, Attribute> attrs = {}) {
    Node n;
    n.name = op + "_" + std::to_string(g.nodes.size());
    n.op_type = op;
    n.inputs = std::move(ins);
    n.outputs = std::move(outs);
    n.attrs = std::move(attrs);
    for (auto& o : n.outputs) g.values[o] = ValueInfo{o, ValueType(), std::nullopt};
    g.nodes.push_back(std::move(n));
  }
  Graph done(std::vector<std::string> outputs) {
    g.outputs = std::move(outputs);
    g.index_producers();
    return g;
  }
};

// Runs the graph with both backends, compares every output; returns the oneDNN node count.
inline int compare_backends(const Graph& graph, const std::map<std::string, Tensor>& inputs, double tol = 1e-4,
                            int runs = 2) {
  auto ref = Session::create(graph, {.threads = 2, .backend = Backend::kRef});
  auto dnn = Session::create(graph, {.threads = 2, .backend = Backend::kOneDnn});
  EXPECT_TRUE(ref.ok() && dnn.ok());
  if (!ref.ok() || !dnn.ok()) return -1;
  auto want = (*ref)->run(inputs);
  EXPECT_TRUE(want.ok()) << want.status().message();
  if (!want.ok()) return -1;
  for (int r = 0; r < runs; ++r) {  // the second run reuses the plan's primitives and buffers
    auto got = (*dnn)->run(inputs);
    EXPECT_TRUE(got.ok()) << got.status().message();
    if (!got.ok()) return -1;
    for (auto& [name, w] : *want) {
      const Tensor& g = got->at(name);
      EXPECT_EQ(g.shape(), w.shape()) << name;
      if (g.shape() != w.shape()) return -1;
      double worst = 0;
      for (int64_t i = 0; i < w.numel(); ++i) {
        const double a = g.data<float>()[i], b = w.data<float>()[i];
        worst = std::max(worst, std::fabs(a - b) / std::max(1.0, std::fabs(b)));
      }
      EXPECT_LE(worst, tol) << "output " << name << " run " << r;
    }
  }
  return (*dnn)->last_run_onednn_nodes();
}

inline uint32_t seed_for(const char* test) {
  uint32_t seed = std::random_device{}();
  std::printf("[ %s ] seed %u\n", test, seed);
  return seed;
}

}  // namespace lowbit::onednn_test
