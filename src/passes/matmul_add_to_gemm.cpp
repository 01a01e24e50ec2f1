// Pass matmul_add_to_gemm: Add(MatMul(A, B), C) -> Gemm(A, B, C) when that is exactly Gemm's semantics:
// A is 2-D, B is a constant 2-D matrix, C a constant that broadcasts to the M x N result the way Gemm's C
// does (scalar, [N], [1, N], [M, N], [M, 1]), float32/float64, and only the Add reads the MatMul output.
// One kernel call instead of two passes over the result, and the shape Gemm-specific fusions expect.
#include "passes/graph_rewrite.h"
#include "passes/pass.h"

namespace lowbit {

namespace {

bool bias_fits_gemm(const Tensor& c, const ValueType& result) {
  if (c.rank() > 2) return false;
  const Dim& m = result.dims[0];
  const Dim& n = result.dims[1];
  if (c.rank() >= 1) {
    const int64_t cols = c.dim(c.rank() - 1);
    if (cols != 1 && !(n.known() && n.value == cols)) return false;
  }
  if (c.rank() == 2 && c.dim(0) != 1 && !(m.known() && m.value == c.dim(0))) return false;
  return true;
}

}  // namespace

Status matmul_add_to_gemm(Graph& g, PassContext& ctx) {
  GraphUses uses(g);
  std::vector<bool> removed(g.nodes.size(), false);
  int changes = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& mm = g.nodes[i];
    if (mm.op_type != "MatMul" || !mm.domain.empty() || ctx.pinned(mm) || mm.num_inputs() != 2) continue;
    const ValueInfo* a = g.find(mm.inputs[0]);
    const ValueInfo* y = g.find(mm.outputs[0]);
    const Tensor* b = constant_value(g, mm.inputs[1]);
    if (!a || !y || !b || !a->type.has_shape || a->type.rank() != 2 || b->rank() != 2) continue;
    if (b->dtype() != DType::kFloat32 && b->dtype() != DType::kFloat64) continue;
    if (!y->type.has_shape || y->type.rank() != 2 || !uses.single_internal_use(mm.outputs[0])) continue;
    const ValueUse use = uses.of(mm.outputs[0])[0];
    Node& add = g.nodes[use.node];
    if (add.op_type != "Add" || !add.domain.empty() || ctx.pinned(add) || add.num_inputs() != 2) continue;
    if (add.inputs[0] == add.inputs[1]) continue;
    const std::string& c_name = add.inputs[1 - use.input];
    const Tensor* c = constant_value(g, c_name);
    if (!c || c->dtype() != b->dtype() || !bias_fits_gemm(*c, y->type)) continue;
    Node gemm;
    gemm.name = mm.name;
    gemm.op_type = "Gemm";
    gemm.inputs = {mm.inputs[0], mm.inputs[1], c_name};
    gemm.outputs = {add.outputs[0]};
    ctx.note(str_cat("fused ", mm.describe(), " + ", add.describe(), " into Gemm"));
    mm = std::move(gemm);
    removed[use.node] = true;
    ++changes;
  }
  if (changes == 0) return Status::Ok();
  return commit_rewrite(g, removed, ctx.report.pass);
}

}  // namespace lowbit
