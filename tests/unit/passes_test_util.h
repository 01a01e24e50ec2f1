// Helpers for the graph-optimizer tests (tests/unit/passes_*_test.cpp): build small graphs by hand, run a pass,
// and check that random inputs give the same outputs before and after (Session on the reference kernels).
//
//   GraphBuilder b;
//   auto x = b.input("x", {Dim::symbol("N"), 3, 8, 8});
//   auto y = b.node("Relu", {b.node("Conv", {x, b.random_constant("w", {4, 3, 3, 3})}, {{"pads", ints({1,1,1,1})}})});
//   b.output(y);
//   Graph before = b.build(), after = before;
//   run_pass_ok(after, "fuse_conv_activation");
//   expect_same_outputs(before, after);
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "ir/shape_inference.h"
#include "passes/optimizer.h"
#include "runtime/session.h"

namespace lowbit::passes_test {

inline Attribute ints(std::vector<int64_t> v) { return Attribute::of_ints(std::move(v)); }
inline Attribute i64(int64_t v) { return Attribute::of_int(std::move(v)); }
inline Attribute f32(float v) { return Attribute::of_float(std::move(v)); }
inline Attribute str(std::string v) { return Attribute::of_string(std::move(v)); }

// Uniform random float32 tensor in [lo, hi).
inline Tensor random_tensor(Shape shape, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  Tensor t(DType::kFloat32, std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

inline Tensor int64_tensor(Shape shape, std::vector<int64_t> v) {
  return Tensor::from_vector(DType::kInt64, std::move(shape), v);
}

class GraphBuilder {
 public:
  explicit GraphBuilder(int opset = 13) {
    g_.opset = opset;
    g_.opset_imports[""] = opset;
    g_.ir_version = 8;
  }

  std::string input(const std::string& name, std::vector<Dim> dims, DType dtype = DType::kFloat32) {
    g_.inputs.push_back(name);
    ValueInfo& v = g_.values[name];
    v.name = name;
    v.type = ValueType(dtype, std::move(dims));
    return name;
  }
  // An initializer; `overridable` also lists it as a graph input (IR < 4 style).
  std::string constant(const std::string& name, Tensor t, bool overridable = false) {
    ValueInfo& v = g_.values[name];
    v.name = name;
    v.type = ValueType::of(t);
    v.constant = std::move(t);
    v.initializer = true;
    if (overridable) g_.overridable_initializers.push_back(name);
    return name;
  }
  std::string random_constant(const std::string& name, Shape shape, float lo = -1.0f, float hi = 1.0f) {
    return constant(name, random_tensor(std::move(shape), seed_++, lo, hi));
  }
  // Adds a node with `outputs` outputs named "<name>_out<i>" and returns them.
  std::vector<std::string> node_multi(const std::string& op, std::vector<std::string> inputs,
                                      std::map<std::string, Attribute> attrs, size_t outputs,
                                      const std::string& name = "") {
    Node n;
    n.name = name.empty() ? op + "_" + std::to_string(g_.nodes.size()) : name;
    n.op_type = op;
    n.inputs = std::move(inputs);
    n.attrs = std::move(attrs);
    for (size_t i = 0; i < outputs; ++i) n.outputs.push_back(n.name + "_out" + (i ? std::to_string(i) : ""));
    g_.nodes.push_back(n);
    return n.outputs;
  }
  std::string node(const std::string& op, std::vector<std::string> inputs, std::map<std::string, Attribute> attrs = {},
                   const std::string& name = "") {
    return node_multi(op, std::move(inputs), std::move(attrs), 1, name)[0];
  }
  void output(const std::string& name) { g_.outputs.push_back(name); }

  // Sorts, validates and infers; fails the test on any issue.
  Graph build() {
    Graph g = g_;
    EXPECT_TRUE(topological_sort(g).ok());
    auto issues = validate_and_infer(g);
    EXPECT_TRUE(issues.empty()) << issues_to_status(issues, "test graph").message();
    g.index_producers();
    return g;
  }

 private:
  Graph g_;
  uint32_t seed_ = 1;
};

inline int count_op(const Graph& g, const std::string& op) {
  int n = 0;
  for (auto& node : g.nodes) n += node.op_type == op;
  return n;
}

inline const Node* find_node_by_op(const Graph& g, const std::string& op) {
  for (auto& node : g.nodes)
    if (node.op_type == op) return &node;
  return nullptr;
}

inline PassReport run_pass_ok(Graph& g, const std::string& pass, const OptimizeOptions& options = {}) {
  PassReport report;
  Status s = run_pass(g, pass, options, &report);
  EXPECT_TRUE(s.ok()) << s.message();
  return report;
}

// Random inputs for every graph input (symbolic dims take `symbol_size`).
inline std::map<std::string, Tensor> random_inputs(const Graph& g, uint32_t seed, int64_t symbol_size = 2) {
  std::map<std::string, Tensor> in;
  for (auto& name : g.inputs) {
    const ValueInfo* v = g.find(name);
    Shape shape;
    for (auto& d : v->type.dims) shape.push_back(d.known() ? d.value : symbol_size);
    if (v->type.dtype == DType::kFloat32) {
      in[name] = random_tensor(shape, seed++, -2.0f, 2.0f);
    } else {
      Tensor t(v->type.dtype, shape);  // zeros for the rare non-float input
      in[name] = t;
    }
  }
  return in;
}

// Runs both graphs on the same random inputs and compares every output. Tolerance: |a - b| <=
// rtol * (|b| + max|b| over the tensor), i.e. 1e-5 relative per element, with near-zero elements judged
// against the tensor's scale (folding BN changes the rounding of sums that cancel).
inline void expect_same_outputs(const Graph& before, const Graph& after, uint32_t seed = 7, double rtol = 1e-5,
                                int64_t symbol_size = 2) {
  SCOPED_TRACE("random inputs with seed " + std::to_string(seed));
  ASSERT_EQ(before.outputs, after.outputs) << "graph output names changed";
  auto inputs = random_inputs(before, seed, symbol_size);
  auto s1 = Session::create(before, {.threads = 1});
  auto s2 = Session::create(after, {.threads = 1});
  ASSERT_TRUE(s1.ok()) << s1.status().message();
  ASSERT_TRUE(s2.ok()) << s2.status().message();
  auto r1 = (*s1)->run(inputs);
  auto r2 = (*s2)->run(inputs);
  ASSERT_TRUE(r1.ok()) << r1.status().message();
  ASSERT_TRUE(r2.ok()) << r2.status().message();
  for (auto& [name, want] : *r1) {
    ASSERT_TRUE(r2->count(name)) << "output " << name << " missing after the pass";
    const Tensor& got = r2->at(name);
    ASSERT_EQ(got.dtype(), want.dtype()) << name;
    ASSERT_EQ(got.shape(), want.shape()) << name;
    double scale = 0;
    for (int64_t i = 0; i < want.numel(); ++i) scale = std::max(scale, std::fabs(want.get_as_double(i)));
    int bad = 0;
    for (int64_t i = 0; i < want.numel() && bad < 5; ++i) {
      const double w = want.get_as_double(i), gv = got.get_as_double(i);
      if (std::isnan(w) && std::isnan(gv)) continue;
      if (std::fabs(w - gv) > rtol * (std::fabs(w) + scale)) {
        ++bad;
        ADD_FAILURE() << "output " << name << "[" << i << "]: before " << w << ", after " << gv;
      }
    }
  }
}

}  // namespace lowbit::passes_test
