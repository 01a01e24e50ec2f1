// The graph optimizer: runs the passes of src/passes in a fixed order and reports what each changed.
//
//   OptimizeOptions opt;
//   opt.disabled_passes.insert("fuse_conv_activation");   // e.g. to compare against the unfused graph
//   std::vector<PassReport> reports;
//   LB_RETURN_IF_ERROR(optimize_graph(graph, opt, &reports));
//   std::cout << format_optimize_report(op_counts_before, op_counts(graph), reports);
//
// Order: dead code, identities, constant and shape folding and common subexpressions (repeated until
// nothing changes), then BatchNormalization folding, MatMul+Add -> Gemm, residual Add fusion, activation
// fusion, and a final dead-code sweep. Numerics: every pass keeps outputs within 1e-5 relative of the
// original graph (BN folding and fusions change rounding only).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "passes/pass.h"

namespace lowbit {

struct PassInfo {
  const char* name;
  const char* summary;
  Status (*run)(Graph&, PassContext&);
};

// Every pass, in the order optimize_graph runs them (the first group repeats until a fixed point).
const std::vector<PassInfo>& pass_list();
const PassInfo* find_pass(const std::string& name);

// Runs the enabled passes. `reports` (optional) gets one entry per pass that ran, with its changes summed
// over repetitions. Fails on an unknown name in options.disabled_passes or if a pass breaks the graph.
Status optimize_graph(Graph& g, const OptimizeOptions& options, std::vector<PassReport>* reports = nullptr);

// Runs one pass by name (tests, and `--passes` style CLI use).
Status run_pass(Graph& g, const std::string& name, const OptimizeOptions& options = {}, PassReport* report = nullptr);

// Node count per op type ("Conv" -> 20); fused nodes count as their ONNX op.
std::map<std::string, int> op_counts(const Graph& g);

// Human-readable report for `lowbit inspect --optimized`: node counts per op type before -> after, then each
// pass with its number of changes and up to `max_notes` of its notes (all when max_notes < 0).
std::string format_optimize_report(const std::map<std::string, int>& before, const std::map<std::string, int>& after,
                                   const std::vector<PassReport>& reports, int max_notes = 8);

}  // namespace lowbit
