// ONNX export: Graph -> ONNX model file that ONNX Runtime, TensorRT and ONNX's own checker accept.
//
//   Graph g = ...;                                    // imported, optimized, quantized, ...
//   LB_RETURN_IF_ERROR(upgrade_opset(g, 13));          // optional: old opsets to the QDQ-friendly opset 13
//   LB_RETURN_IF_ERROR(export_onnx(g, "model.int8.onnx"));
//
// What is written:
//   - opset_import from g.opset_imports, with ai.onnx at g.opset; the IR version is the lowest one that
//     ONNX pairs with that opset (opset 9 -> 4, 10 -> 5, 11 -> 6, 12-14 -> 7, 15-17 -> 8), but at least 4:
//     IR 3 would force every initializer to be listed as a graph input, i.e. to become overridable.
//   - graph inputs (runtime inputs, then overridable initializers), outputs and value_info with dtypes and
//     shapes (symbolic dims as dim_param, unknown dims left empty);
//   - every constant that no node produces as an initializer (raw_data, every lowbit dtype). A constant
//     that a node still produces (a Constant node's output, a value folded at import) is written by its
//     node only, so nothing is stored twice;
//   - nodes in topological order with unique names and every attribute kind lowbit holds.
// It refuses (an error naming the node) nodes carrying lowbit-internal attributes ("lowbit_*", which
// only lowbit's runtime understands: export before fusing, or from an unfused graph), ops that do not
// exist at the graph's opset, and subgraph attributes. Before anything is written, ONNX's C++ checker
// runs on the model, including full shape inference in strict mode (what
// onnx.checker.check_model(path, full_check=True) does in Python).
#pragma once
#include <cstdint>
#include <string>

#include "ir/graph.h"

namespace lowbit {

struct ExportOptions {
  std::string producer_name = "lowbit";
  // When the initializers together exceed this many bytes, export_onnx stores every initializer of 1 KiB
  // or more in "<file>.data" next to the model (ONNX external data; protobuf files cannot exceed 2 GiB).
  // serialize_onnx ignores it: it has no folder to put a data file in.
  int64_t external_data_threshold_bytes = int64_t(1) << 30;
  bool run_checker = true;  // ONNX's checker + strict shape inference before writing
  // Types of intermediate values (value_info). Optional in ONNX (readers infer them); `lowbit quantize` leaves
  // them out, which keeps small quantized models small (~50 KB of 1.4 MB for the PaddleOCR detector).
  bool write_value_info = true;
};

// Writes `g` to `path`. The model (and data file) are first written to temporary files in the same
// folder and then renamed, so a failure never leaves a half-written or truncated file at `path`.
Status export_onnx(const Graph& g, const std::string& path, const ExportOptions& options = {});

// The serialized ModelProto in memory (every initializer inline), e.g. for tests and round trips
// through import_onnx_bytes.
Expected<std::string> serialize_onnx(const Graph& g, const ExportOptions& options = {});

// The IR version export writes for an ai.onnx opset (see above).
int64_t ir_version_for_opset(int opset);

}  // namespace lowbit
