// Graph optimization passes: the interface every pass shares.
//
// A pass rewrites a validated, shape-inferred Graph in place and says what it changed in a PassReport.
// Each pass lives in its own file (src/passes/<name>.cpp) with its own test (tests/unit/passes_<name>_test.cpp);
// optimizer.h runs them in order. Every pass keeps graph output names, never folds a graph output away,
// treats overridable initializers as run-time inputs (not constants) and leaves nodes named in
// OptimizeOptions::keep_nodes untouched.
#pragma once
#include <set>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace lowbit {

struct PassReport {
  std::string pass;
  int changes = 0;
  std::vector<std::string> notes;  // one line per change ("folded BatchNormalization 'bn1' into Conv 'conv1'")
};

struct OptimizeOptions {
  std::set<std::string> disabled_passes;  // pass names (see pass_list()) not to run
  std::set<std::string> keep_nodes;       // node names no pass may rewrite, fuse or fold (per-node switch)
  int64_t max_folded_bytes = int64_t(64) << 20;  // constant folding never creates a bigger tensor
  int max_fold_iterations = 4;                   // rounds of fold / clean-up until nothing changes
};

struct PassContext {
  const OptimizeOptions& options;
  PassReport& report;

  bool pinned(const Node& n) const { return options.keep_nodes.count(n.name) != 0; }
  void note(std::string line) {
    ++report.changes;
    report.notes.push_back(std::move(line));
  }
};

// The passes. Each returns an error only on an internal inconsistency; a pattern that does not apply is
// simply left alone. They leave the graph topologically sorted and re-inferred.
Status lower_qdq(Graph& g, PassContext& ctx);
Status eliminate_dead_code(Graph& g, PassContext& ctx);
Status remove_identity(Graph& g, PassContext& ctx);
Status fold_constants(Graph& g, PassContext& ctx);
Status fold_shape_subgraphs(Graph& g, PassContext& ctx);
Status merge_common_subexpressions(Graph& g, PassContext& ctx);
Status fold_batchnorm(Graph& g, PassContext& ctx);
Status fold_conv_scale_shift(Graph& g, PassContext& ctx);
Status fuse_hardswish_pattern(Graph& g, PassContext& ctx);
Status fold_scale_shift_into_conv(Graph& g, PassContext& ctx);
Status matmul_add_to_gemm(Graph& g, PassContext& ctx);
Status fuse_residual_add(Graph& g, PassContext& ctx);
Status fuse_conv_activation(Graph& g, PassContext& ctx);

}  // namespace lowbit
