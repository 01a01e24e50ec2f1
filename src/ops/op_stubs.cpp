// Weak placeholders so the tree links while op families are being written. A strong definition
// in a family file replaces each. TODO(foundation): delete this file once every op is defined.
#include "ops/op_table.h"

namespace lowbit {
#define LOWBIT_STUB_OP(name, since, until, family, summary)                                           \
  __attribute__((weak)) Status infer_##name(InferContext& ctx) {                                    \
    return ctx.unsupported("not implemented yet");                                                  \
  }                                                                                                 \
  __attribute__((weak)) Status ref_##name(KernelContext& ctx) {                                     \
    return error(StatusCode::kUnsupported, ctx.node.describe(), ": no reference kernel yet");       \
  }
LOWBIT_OP_LIST(LOWBIT_STUB_OP)
#undef LOWBIT_STUB_OP
}  // namespace lowbit
