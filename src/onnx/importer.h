// ONNX import: file -> validated, shape-inferred Graph.
//
//   ImportOptions opt;
//   Expected<Graph> g = import_onnx_file("model.onnx", opt);
//   if (!g) { std::cerr << g.status().message(); }   // lists EVERY problem found, not just the first
//
// Accepts ai.onnx opsets 7-17 and IR versions 3-8, initializers (also when listed as graph
// inputs), Constant nodes, symbolic dims, and external data files, which are read only from
// inside the model's folder (absolute paths, "..", and symlinks leaving it are rejected; offsets
// and lengths are checked against the file).
#pragma once
#include <string>

#include "ir/graph.h"

namespace onnx { class TensorProto; }

namespace lowbit {

struct ImportOptions {
  int64_t max_tensor_bytes = kDefaultMaxTensorBytes;  // cap on any one initializer / inferred tensor
  bool validate = true;                               // run validate_and_infer (off only for `inspect` of broken models)
};

// Reads and parses the file, imports, validates and infers shapes. Errors name the file.
Expected<Graph> import_onnx_file(const std::string& path, const ImportOptions& options = {});
// Same from bytes already in memory; `base_dir` is where external data is looked up
// ("" forbids external data).
Expected<Graph> import_onnx_bytes(const std::string& bytes, const std::string& base_dir, const std::string& display_name,
                                  const ImportOptions& options = {});

// TensorProto -> Tensor (raw_data, typed fields, external data relative to base_dir).
Expected<Tensor> tensor_from_proto(const onnx::TensorProto& proto, const std::string& base_dir,
                                   int64_t max_bytes = kDefaultMaxTensorBytes);
// Reads a serialized TensorProto file (the ONNX test-data .pb format). Returns the tensor and its name.
Expected<Tensor> read_tensor_pb_file(const std::string& path, std::string* name = nullptr);

}  // namespace lowbit
