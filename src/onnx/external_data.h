// External tensor data (TensorProto.data_location = EXTERNAL): the bytes of a weight live in a
// separate file next to the model. This is how models over protobuf's 2 GiB limit are stored.
//
// A model file is untrusted input, so the location it names is confined to the model's folder:
// absolute paths, ".." components, and paths whose real path (symlinks resolved) leaves the real
// path of the folder are rejected, as are non-regular files. Offsets and lengths are checked
// against the file size before anything is read, and data is read with pread (never mmap of an
// unchecked range).
//
// Kept free of protobuf types so it can be tested on its own.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lowbit/status.h"

namespace lowbit {

struct ExternalDataRef {
  std::string location;  // relative to the model's folder
  int64_t offset = 0;
  std::optional<int64_t> length;  // absent: the rest of the file
  std::string checksum;           // recorded, not verified (ONNX does not define its algorithm strictly)
};

// Parses TensorProto.external_data key/value pairs (location, offset, length, checksum; others are
// ignored like ONNX does). `tensor_name` is only for messages.
Expected<ExternalDataRef> parse_external_data_entries(const std::vector<std::pair<std::string, std::string>>& entries,
                                                      const std::string& tensor_name);

// Resolves `location` inside `base_dir` with the rules above; returns the real path of the file.
Expected<std::string> resolve_external_path(const std::string& base_dir, const std::string& location,
                                            const std::string& tensor_name);

// Reads exactly `expected_bytes` bytes described by `ref` into `dst`. Fails when the range lies
// outside the file, or when the stored length (or the rest of the file, without a length) differs
// from `expected_bytes` (which the caller derives from the tensor's dims and type).
Status read_external_data(const std::string& base_dir, const ExternalDataRef& ref, const std::string& tensor_name,
                          int64_t expected_bytes, void* dst);

// Small file helpers shared by the importer: the directory part of a path ("." when none), and a
// check that `path` is an existing regular file (so a directory gets a clear message, not a read error).
std::string directory_of(const std::string& path);
Status check_regular_file(const std::string& path, int64_t* size_out);

}  // namespace lowbit
