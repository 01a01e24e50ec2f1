#include "ops/op_table.h"

#include <map>

namespace lowbit {

Status InferContext::expect_inputs(size_t min, size_t max) const {
  size_t n = node.num_inputs();
  if (n < min || n > max) {
    if (min == max) return fail("expects ", min, " input(s), got ", n);
    return fail("expects between ", min, " and ", max, " inputs, got ", n);
  }
  for (size_t i = 0; i < min; ++i)
    if (!has_input(i)) return fail("required input ", i, " is missing");
  return Status::Ok();
}

Status InferContext::expect_dtype(size_t i, std::initializer_list<DType> allowed) const {
  if (!has_input(i)) return fail("required input ", i, " is missing");
  DType t = in(i).dtype;
  for (DType a : allowed) if (a == t) return Status::Ok();
  std::string names;
  for (DType a : allowed) names += std::string(names.empty() ? "" : ", ") + dtype_name(a);
  return error(StatusCode::kUnsupported, node.describe(), ": input ", i, " ('", node.inputs[i], "') has type ",
               dtype_name(t), "; supported: ", names);
}

const std::vector<OpSpec>& op_table() {
  static const std::vector<OpSpec> table = {
#define LOWBIT_OP_ENTRY(name, since, until, family, summary) {#name, since, until, #family, summary, infer_##name, ref_##name},
      LOWBIT_OP_LIST(LOWBIT_OP_ENTRY)
#undef LOWBIT_OP_ENTRY
  };
  return table;
}

const OpSpec* find_op(const std::string& domain, const std::string& op_type) {
  if (!domain.empty() && domain != "ai.onnx") return nullptr;
  static const std::map<std::string, const OpSpec*> by_name = [] {
    std::map<std::string, const OpSpec*> m;
    for (auto& s : op_table()) m[s.name] = &s;
    return m;
  }();
  auto it = by_name.find(op_type);
  return it == by_name.end() ? nullptr : it->second;
}

namespace {
// Hints for ops users commonly hit that lowbit does not run (yet).
const char* hint_for(const std::string& op_type) {
  static const std::map<std::string, const char*> hints = {
      {"LSTM", "recurrent ops are not supported yet; export with the recurrence unrolled"},
      {"GRU", "recurrent ops are not supported yet; export with the recurrence unrolled"},
      {"RNN", "recurrent ops are not supported yet; export with the recurrence unrolled"},
      {"Loop", "control flow is not supported; export with static loops unrolled"},
      {"If", "control flow is not supported; fold the condition at export (e.g. torch.onnx with constant inputs)"},
      {"Scan", "control flow is not supported"},
      {"NonMaxSuppression", "run NMS outside the model (post-processing)"},
      {"TopK", "not supported yet; run it in post-processing"},
      {"Einsum", "not supported yet; rewrite as MatMul/Transpose before export"},
      {"GridSample", "not supported yet"},
      {"Gelu", "Gelu is opset 20; export with opset <= 17 so it is decomposed into Erf/Mul/Add"},
      {"ConvInteger", "operator-style quantized models are not supported; export in QDQ format"},
      {"MatMulInteger", "operator-style quantized models are not supported; export in QDQ format"},
      {"DynamicQuantizeLinear", "dynamic quantization graphs are not supported; quantize with lowbit instead"},
  };
  auto it = hints.find(op_type);
  return it == hints.end() ? nullptr : it->second;
}
}  // namespace

std::string unsupported_reason(const std::string& domain, const std::string& op_type, int opset) {
  if (!domain.empty() && domain != "ai.onnx") {
    std::string r = "domain '" + domain + "' is not supported (only ai.onnx)";
    if (domain == "com.microsoft")
      r += "; this is an ONNX Runtime contrib op: export without ORT-specific optimizations";
    return r;
  }
  const OpSpec* s = find_op(domain, op_type);
  if (!s) {
    std::string r = "operator is not supported";
    if (const char* h = hint_for(op_type)) r += std::string(" (hint: ") + h + ")";
    return r;
  }
  if (opset < s->since_opset)
    return str_cat("supported from opset ", s->since_opset, " but the model uses opset ", opset);
  if (opset > s->until_opset) {
    std::string r = str_cat("supported up to opset ", s->until_opset, " but the model uses opset ", opset);
    if (op_type == "Upsample") r += " (hint: Upsample was removed in opset 10: use Resize)";
    return r;
  }
  return "";
}

std::string operators_markdown() {
  std::string md =
      "# Supported operators\n\n"
      "Generated from `src/ops/op_list.h` by `lowbit ops --markdown`; do not edit by hand.\n"
      "Every operator has a plain reference kernel (`--backend ref`). Domain: ai.onnx, opsets " +
      std::to_string(kMinOpset) + "–" + std::to_string(kMaxOpset) + ".\n\n"
      "| Operator | Opsets | Family | Notes |\n|---|---|---|---|\n";
  for (auto& s : op_table())
    md += str_cat("| ", s.name, " | ", s.since_opset, "–", s.until_opset, " | ", s.family, " | ", s.summary, " |\n");
  md += str_cat("\n", op_table().size(), " operators.\n");
  return md;
}

}  // namespace lowbit
