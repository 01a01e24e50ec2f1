// lowbit ops [--markdown]: the op table from src/ops/op_list.h. docs/operators.md is exactly the
// --markdown output (a ctest test fails when it is stale).
#include <cstdio>
#include <iostream>

#include "ops/op_table.h"
#include "tools/cli_common.h"

namespace lowbit::cli {

int run_ops(const OpsOptions& options) {
  if (options.markdown) {
    std::cout << operators_markdown();
    return kExitOk;
  }
  std::printf("%-22s %-8s %-12s %s\n", "operator", "opsets", "family", "notes");
  for (auto& op : op_table()) {
    std::string opsets = str_cat(op.since_opset, "-", op.until_opset);
    std::printf("%-22s %-8s %-12s %s\n", op.name, opsets.c_str(), op.family, op.summary);
  }
  std::printf("\n%zu operators (ai.onnx, opsets %d-%d); every one has a reference kernel.\n", op_table().size(),
              kMinOpset, kMaxOpset);
  return kExitOk;
}

}  // namespace lowbit::cli
