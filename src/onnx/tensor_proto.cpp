// TensorProto -> Tensor, and the protobuf parsing helpers (proto_util.h).
//
// A TensorProto stores its elements in one of three places: raw_data (little-endian bytes),
// external data (a file next to the model), or a typed repeated field whose choice depends on the
// element type (ONNX packs all small integer types, bool and the 16-bit floats into int32_data).
// Every path checks the element count against the dims before copying, because the file is
// untrusted and a mismatch would otherwise read or write out of bounds.
#include <fcntl.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <bit>
#include <climits>
#include <cstring>

#include "onnx/external_data.h"
#include "onnx/importer.h"
#include "onnx/proto_util.h"

namespace lowbit {

static_assert(std::endian::native == std::endian::little, "raw_data is little-endian; big-endian hosts need swapping");

bool parse_proto_bytes(const std::string& bytes, google::protobuf::MessageLite* msg) {
  if (bytes.size() > size_t(INT_MAX)) return false;
  google::protobuf::io::ArrayInputStream array(bytes.data(), int(bytes.size()));
  google::protobuf::io::CodedInputStream coded(&array);
  coded.SetTotalBytesLimit(INT_MAX);
  return msg->ParseFromCodedStream(&coded) && coded.ConsumedEntireMessage();
}

Status parse_proto_file(const std::string& path, const char* what, google::protobuf::MessageLite* msg) {
  auto fail = [&](StatusCode code, const auto&... why) { return error(code, "'", path, "': ", why...); };
  int64_t size = 0;
  Status s = check_regular_file(path, &size);
  if (!s.ok()) return s.with_context("'" + path + "'");
  if (size == 0) return fail(StatusCode::kInvalidModel, "the file is empty, not a valid ", what);
  if (size > int64_t(INT_MAX))
    return fail(StatusCode::kUnsupported, "the file is ", size, " bytes; protobuf files are limited to 2 GiB (",
                "larger models must keep their weights in external data files)");
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(StatusCode::kIoError, "cannot open: ", std::strerror(errno));
  bool parsed = false;
  {
    // Stream from the descriptor: no second in-memory copy of a 2 GiB file.
    google::protobuf::io::FileInputStream file(fd, 1 << 20);  // big blocks: fewer syscalls on GiB files
    google::protobuf::io::CodedInputStream coded(&file);
    coded.SetTotalBytesLimit(INT_MAX);
    parsed = msg->ParseFromCodedStream(&coded) && coded.ConsumedEntireMessage();
    if (file.GetErrno() != 0) {
      int e = file.GetErrno();
      close(fd);
      return fail(StatusCode::kIoError, "read failed: ", std::strerror(e));
    }
  }
  close(fd);
  if (!parsed)
    return fail(StatusCode::kInvalidModel, "not a valid ", what, " (protobuf parsing failed: truncated or not a ", what,
                " file)");
  return Status::Ok();
}

std::string onnx_elem_type_name(int64_t code) {
  switch (code) {
    case 14:
      return "complex64";
    case 15:
      return "complex128";
    case 17:
      return "float8e4m3fn";
    case 18:
      return "float8e4m3fnuz";
    case 19:
      return "float8e5m2";
    case 20:
      return "float8e5m2fnuz";
    case 21:
      return "uint4";
    case 22:
      return "int4";
    default:
      break;
  }
  if (code >= 0 && code <= 16 && code != 14 && code != 15) return dtype_name(DType(code));
  return "unknown (" + std::to_string(code) + ")";
}

Expected<DType> dtype_from_onnx(int64_t code, const std::string& what) {
  if (code == 0) return error(StatusCode::kInvalidModel, what, " has no element type (UNDEFINED)");
  if (code == int64_t(DType::kString))
    return error(StatusCode::kUnsupported, what, " has string elements, which lowbit does not support");
  if (code > 0 && code <= 16 && dtype_is_storable(DType(code))) return DType(code);
  if (code > 0 && code <= 22)
    return error(StatusCode::kUnsupported, what, " has element type ", onnx_elem_type_name(code),
                 ", which lowbit does not support");
  return error(StatusCode::kInvalidModel, what, " has an unknown element type code ", code);
}

namespace {

std::string tensor_label(const onnx::TensorProto& proto) {
  return "tensor '" + (proto.name().empty() ? std::string("<unnamed>") : proto.name()) + "'";
}

// Copies a typed repeated field into the tensor, converting each element with `convert`.
template <typename Dst, typename Field, typename Convert>
Status copy_typed(const Field& field, const char* field_name, Tensor& t, const std::string& label, Convert convert) {
  if (int64_t(field.size()) != t.numel())
    return error(StatusCode::kInvalidModel, label, " (", dtype_name(t.dtype()), ", shape ", shape_to_string(t.shape()),
                 ") needs ", t.numel(), " values but ", field_name, " holds ", field.size());
  Dst* out = t.data<Dst>();
  for (int64_t i = 0; i < t.numel(); ++i) out[i] = convert(field.Get(int(i)));
  return Status::Ok();
}

// Names the typed fields that hold data, for the "wrong field" case.
std::string populated_fields(const onnx::TensorProto& p) {
  std::string s;
  auto add = [&](int n, const char* name) {
    if (n > 0) s += std::string(s.empty() ? "" : ", ") + name;
  };
  add(p.float_data_size(), "float_data");
  add(p.int32_data_size(), "int32_data");
  add(p.int64_data_size(), "int64_data");
  add(p.double_data_size(), "double_data");
  add(p.uint64_data_size(), "uint64_data");
  add(p.string_data_size(), "string_data");
  return s.empty() ? "none" : s;
}

Status fill_from_typed_fields(const onnx::TensorProto& p, Tensor& t, const std::string& label) {
  auto narrow = [](auto v) { return v; };
  switch (t.dtype()) {
    case DType::kFloat32:
      return copy_typed<float>(p.float_data(), "float_data", t, label, narrow);
    case DType::kFloat64:
      return copy_typed<double>(p.double_data(), "double_data", t, label, narrow);
    case DType::kInt64:
      return copy_typed<int64_t>(p.int64_data(), "int64_data", t, label, narrow);
    case DType::kInt32:
      return copy_typed<int32_t>(p.int32_data(), "int32_data", t, label, narrow);
    // ONNX stores these in int32_data, one element per int32 (16-bit floats as their bit pattern).
    case DType::kInt8:
      return copy_typed<int8_t>(p.int32_data(), "int32_data", t, label, [](int32_t v) { return int8_t(v); });
    case DType::kUint8:
      return copy_typed<uint8_t>(p.int32_data(), "int32_data", t, label, [](int32_t v) { return uint8_t(v); });
    case DType::kInt16:
      return copy_typed<int16_t>(p.int32_data(), "int32_data", t, label, [](int32_t v) { return int16_t(v); });
    case DType::kUint16:
    case DType::kFloat16:
    case DType::kBFloat16:
      return copy_typed<uint16_t>(p.int32_data(), "int32_data", t, label, [](int32_t v) { return uint16_t(v); });
    case DType::kBool:
      return copy_typed<uint8_t>(p.int32_data(), "int32_data", t, label, [](int32_t v) { return uint8_t(v != 0); });
    case DType::kUint32:
      return copy_typed<uint32_t>(p.uint64_data(), "uint64_data", t, label, [](uint64_t v) { return uint32_t(v); });
    case DType::kUint64:
      return copy_typed<uint64_t>(p.uint64_data(), "uint64_data", t, label, narrow);
    default:
      return error(StatusCode::kInternal, label, ": no typed field for ", dtype_name(t.dtype()));
  }
}

}  // namespace

Expected<Tensor> tensor_from_proto(const onnx::TensorProto& proto, const std::string& base_dir, int64_t max_bytes) {
  const std::string label = tensor_label(proto);
  if (proto.has_segment())
    return error(StatusCode::kUnsupported, label, " is stored in segments, which lowbit does not support");
  LB_ASSIGN_OR_RETURN(DType dtype, dtype_from_onnx(proto.data_type(), label));
  Shape shape(proto.dims().begin(), proto.dims().end());
  for (int64_t d : shape)
    if (d < 0)
      return error(StatusCode::kInvalidModel, label, " has a negative dim in its shape ", shape_to_string(shape));
  Expected<int64_t> numel = checked_numel(shape);
  if (!numel || *numel > max_bytes / int64_t(dtype_size(dtype)))
    return error(StatusCode::kResourceExhausted, label, " (", dtype_name(dtype), ", shape ", shape_to_string(shape),
                 ") is larger than the ", max_bytes, "-byte limit on one tensor");
  const int64_t nbytes = *numel * int64_t(dtype_size(dtype));

  // raw_data and external data overwrite every byte: skip zero-filling (a whole pass over the weights).
  const bool overwritten = proto.data_location() == onnx::TensorProto_DataLocation_EXTERNAL || proto.has_raw_data();
  auto created = Tensor::create(dtype, shape, max_bytes, /*zero_fill=*/!overwritten);
  if (!created) return created.status().with_context(label);
  Tensor t = std::move(*created);

  if (proto.data_location() == onnx::TensorProto_DataLocation_EXTERNAL) {
    std::vector<std::pair<std::string, std::string>> entries;
    for (auto& e : proto.external_data()) entries.emplace_back(e.key(), e.value());
    const std::string name = proto.name().empty() ? "<unnamed>" : proto.name();
    LB_ASSIGN_OR_RETURN(ExternalDataRef ref, parse_external_data_entries(entries, name));
    LB_RETURN_IF_ERROR(read_external_data(base_dir, ref, name, nbytes, t.raw()));
    return t;
  }
  if (proto.has_raw_data()) {
    const std::string& raw = proto.raw_data();
    if (int64_t(raw.size()) != nbytes)
      return error(StatusCode::kInvalidModel, label, " (", dtype_name(dtype), ", shape ", shape_to_string(shape),
                   ") needs ", nbytes, " bytes but raw_data holds ", raw.size());
    if (nbytes > 0) std::memcpy(t.raw(), raw.data(), size_t(nbytes));
    return t;
  }
  Status s = fill_from_typed_fields(proto, t, label);
  if (!s.ok() && *numel > 0 && s.code() == StatusCode::kInvalidModel)
    return Status(s.code(), s.message() + " (typed fields holding data: " + populated_fields(proto) + ")");
  LB_RETURN_IF_ERROR(s);
  return t;
}

Expected<Tensor> read_tensor_pb_file(const std::string& path, std::string* name) {
  onnx::TensorProto proto;
  LB_RETURN_IF_ERROR(parse_proto_file(path, "TensorProto", &proto));
  auto t = tensor_from_proto(proto, directory_of(path));
  if (!t) return t.status().with_context("'" + path + "'");
  if (name) *name = proto.name();
  return t;
}

}  // namespace lowbit
