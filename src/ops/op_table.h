// Registry built from op_list.h. Lookups by (domain, op_type, opset).
#pragma once
#include <string>
#include <vector>

#include "ops/op_context.h"
#include "ops/op_list.h"

namespace lowbit {

#define LOWBIT_DECLARE_OP(name, since, until, family, summary) \
  Status infer_##name(InferContext& ctx);                      \
  Status ref_##name(KernelContext& ctx);
LOWBIT_OP_LIST(LOWBIT_DECLARE_OP)
#undef LOWBIT_DECLARE_OP

struct OpSpec {
  const char* name;
  int since_opset;  // first ai.onnx opset handled
  int until_opset;  // last ai.onnx opset handled
  const char* family;
  const char* summary;
  InferFn infer;
  KernelFn ref;  // plain reference kernel (always built)
};

// Supported ai.onnx opset range of the whole importer.
constexpr int kMinOpset = 7;
constexpr int kMaxOpset = 17;
constexpr int kMinIrVersion = 3;
constexpr int kMaxIrVersion = 8;

const std::vector<OpSpec>& op_table();
// nullptr when the op is unknown in that domain.
const OpSpec* find_op(const std::string& domain, const std::string& op_type);
// Why a node cannot be handled ("" if it can): unknown op, other domain, opset out of range.
// Includes a hint where one exists ("Upsample was removed in opset 10: use Resize").
std::string unsupported_reason(const std::string& domain, const std::string& op_type, int opset);
// The generated docs/operators.md.
std::string operators_markdown();

}  // namespace lowbit
