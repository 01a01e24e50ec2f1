// Protobuf plumbing shared by the importer and the TensorProto reader: parsing with the 2 GiB
// limit lifted (protobuf's default is 64 MiB in older releases), and element-type codes.
#pragma once
#include <string>

#include "lowbit/status.h"
#include "lowbit/tensor.h"

namespace google::protobuf {
class MessageLite;
}

namespace lowbit {

// Parses `bytes` into `msg`. Returns false on malformed data (the message is then unusable).
bool parse_proto_bytes(const std::string& bytes, google::protobuf::MessageLite* msg);
// Reads `path` (must be a regular file <= 2 GiB, protobuf's hard limit) and parses it into `msg`.
// `what` names the expected content in the error ("ONNX model", "TensorProto"). Errors start with
// the file name.
Status parse_proto_file(const std::string& path, const char* what, google::protobuf::MessageLite* msg);

// ONNX TensorProto.DataType code -> DType, or an error naming `what` ("tensor 'w'", "graph input 'x'"):
// kUnsupported for string/complex/other types lowbit cannot hold, kInvalidModel for undefined/unknown codes.
Expected<DType> dtype_from_onnx(int64_t code, const std::string& what);
// "complex64", "float8e4m3fn", ... for codes lowbit cannot store (messages only).
std::string onnx_elem_type_name(int64_t code);

}  // namespace lowbit
