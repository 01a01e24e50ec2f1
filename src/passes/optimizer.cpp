#include "passes/optimizer.h"

#include <algorithm>
#include <sstream>

namespace lowbit {

namespace {
// Passes of the first group repeat together: folding exposes identical subexpressions, merging them
// exposes more folding (e.g. PyTorch's repeated shape arithmetic).
// lower_qdq (index 0) runs once before them: folding would turn DequantizeLinear(int8 weights) into floats.
constexpr size_t kRepeatedFirst = 1, kRepeatedEnd = 6;
}  // namespace

const std::vector<PassInfo>& pass_list() {
  static const std::vector<PassInfo> passes = {
      {"lower_qdq",
       "QDQ graphs -> integer execution: DQ->Conv->[act]->Q (and residual Add) to QLinearConv, int8 data movement, "
       "one-sided int8 to uint8",
       lower_qdq},
      {"eliminate_dead_code", "remove nodes whose outputs nobody uses and unused initializers", eliminate_dead_code},
      {"remove_identity", "remove Identity, inference Dropout and Cast to the same type", remove_identity},
      {"fold_constants", "evaluate nodes whose inputs are all constants (reference kernels)", fold_constants},
      {"fold_shape_subgraphs",
       "Shape->Gather->Unsqueeze->Concat chains: fold known dims, make Reshape targets static (0 = copy dim)",
       fold_shape_subgraphs},
      {"merge_common_subexpressions", "merge identical constants and identical nodes on the same inputs",
       merge_common_subexpressions},
      {"fold_batchnorm", "fold BatchNormalization into Conv/ConvTranspose/Gemm weights; others become scale-shift",
       fold_batchnorm},
      {"fold_conv_scale_shift", "Conv followed by Mul/Add/Sub/Div with per-channel constants -> scaled weights and bias",
       fold_conv_scale_shift},
      {"fuse_hardswish_pattern",
       "x*Clip(x+3,0,6)/6 -> Mul(x, HardSigmoid(x)); Clip(x+3,0,6)/6 and Clip(a*x+b,0,1) -> HardSigmoid",
       fuse_hardswish_pattern},
      {"fold_scale_shift_into_conv",
       "per-channel Mul/Add before a Conv -> its weights and bias (only the scale when the Conv pads)",
       fold_scale_shift_into_conv},
      {"matmul_add_to_gemm", "MatMul(2-D A, constant 2-D B) + constant bias -> Gemm", matmul_add_to_gemm},
      {"fuse_residual_add", "Add(Conv(...), same-shaped tensor) -> Conv with a residual input", fuse_residual_add},
      {"fuse_conv_activation", "activation after Conv/ConvTranspose/Gemm -> fused attribute", fuse_conv_activation},
  };
  return passes;
}

const PassInfo* find_pass(const std::string& name) {
  for (auto& p : pass_list())
    if (name == p.name) return &p;
  return nullptr;
}

Status run_pass(Graph& g, const std::string& name, const OptimizeOptions& options, PassReport* report) {
  const PassInfo* p = find_pass(name);
  if (!p) return error(StatusCode::kInvalidArgument, "unknown optimization pass '", name, "'");
  PassReport local;
  PassReport& r = report ? *report : local;
  r.pass = name;
  PassContext ctx{options, r};
  return p->run(g, ctx).with_context(str_cat("pass ", name));
}

Status optimize_graph(Graph& g, const OptimizeOptions& options, std::vector<PassReport>* reports) {
  for (auto& name : options.disabled_passes)
    if (!find_pass(name)) {
      std::string known;
      for (auto& p : pass_list()) known += (known.empty() ? "" : ", ") + std::string(p.name);
      return error(StatusCode::kInvalidArgument, "unknown optimization pass '", name, "' (passes: ", known, ")");
    }
  const auto& passes = pass_list();
  std::vector<PassReport> all(passes.size());
  for (size_t i = 0; i < passes.size(); ++i) all[i].pass = passes[i].name;
  auto run = [&](size_t i) -> Expected<int> {
    if (options.disabled_passes.count(passes[i].name)) return 0;
    const int before = all[i].changes;
    PassContext ctx{options, all[i]};
    LB_RETURN_IF_ERROR(passes[i].run(g, ctx).with_context(str_cat("pass ", passes[i].name)));
    return all[i].changes - before;
  };
  LB_RETURN_IF_ERROR(run(0).status());
  for (int round = 0; round < std::max(1, options.max_fold_iterations); ++round) {
    int changed = 0;
    for (size_t i = kRepeatedFirst; i < kRepeatedEnd; ++i) {
      LB_ASSIGN_OR_RETURN(int c, run(i));
      changed += c;
    }
    if (changed == 0) break;
  }
  for (size_t i = kRepeatedEnd; i < passes.size(); ++i) LB_RETURN_IF_ERROR(run(i).status());
  LB_RETURN_IF_ERROR(run(kRepeatedFirst).status());  // fusions leave their intermediates unused (dead code)
  if (reports) {
    reports->clear();
    for (size_t i = 0; i < passes.size(); ++i)
      if (!options.disabled_passes.count(passes[i].name)) reports->push_back(std::move(all[i]));
  }
  return Status::Ok();
}

std::map<std::string, int> op_counts(const Graph& g) {
  std::map<std::string, int> counts;
  for (auto& n : g.nodes) ++counts[n.domain.empty() ? n.op_type : n.domain + "." + n.op_type];
  return counts;
}

std::string format_optimize_report(const std::map<std::string, int>& before, const std::map<std::string, int>& after,
                                   const std::vector<PassReport>& reports, int max_notes) {
  auto total = [](const std::map<std::string, int>& m) {
    int t = 0;
    for (auto& [k, v] : m) t += v;
    return t;
  };
  std::ostringstream os;
  os << "optimized graph: " << total(before) << " -> " << total(after) << " nodes\n";
  std::map<std::string, std::pair<int, int>> rows;
  for (auto& [op, n] : before) rows[op].first = n;
  for (auto& [op, n] : after) rows[op].second = n;
  size_t width = 0;
  for (auto& [op, c] : rows) width = std::max(width, op.size());
  for (auto& [op, c] : rows) {
    os << "  " << op << std::string(width - op.size() + 2, ' ') << c.first << " -> " << c.second;
    if (c.first != c.second) os << "  (" << (c.second > c.first ? "+" : "") << c.second - c.first << ")";
    os << "\n";
  }
  os << "passes:\n";
  size_t pw = 0;
  for (auto& r : reports) pw = std::max(pw, r.pass.size());
  for (auto& r : reports) {
    os << "  " << r.pass << std::string(pw - r.pass.size() + 2, ' ') << r.changes
       << (r.changes == 1 ? " change" : " changes") << "\n";
    const size_t shown = max_notes < 0 ? r.notes.size() : std::min(r.notes.size(), size_t(max_notes));
    for (size_t i = 0; i < shown; ++i) os << "    - " << r.notes[i] << "\n";
    if (shown < r.notes.size()) os << "    ... and " << r.notes.size() - shown << " more\n";
  }
  return os.str();
}

}  // namespace lowbit
