// tensor_from_proto / read_tensor_pb_file: every storable dtype from raw_data and from the typed
// field ONNX uses for it, and every way the data can disagree with the dims.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "onnx/importer.h"

namespace lowbit {
namespace {

onnx::TensorProto proto_of(const std::string& name, int dtype, std::vector<int64_t> dims) {
  onnx::TensorProto p;
  p.set_name(name);
  p.set_data_type(dtype);
  for (auto d : dims) p.add_dims(d);
  return p;
}

template <typename T>
void set_raw(onnx::TensorProto& p, const std::vector<T>& values) {
  p.set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T)));
}

template <typename T>
std::vector<T> values_of(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/lowbit_tensor_proto_XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string write(const std::string& name, const std::string& bytes) const {
    std::string p = path + "/" + name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
};

TEST(TensorProto, RawDataEveryDtype) {
  {
    auto p = proto_of("f", onnx::TensorProto::FLOAT, {2, 2});
    set_raw<float>(p, {1.5f, -2, 3, 4});
    auto t = tensor_from_proto(p, "");
    ASSERT_TRUE(t.ok()) << t.status().message();
    EXPECT_EQ(t->dtype(), DType::kFloat32);
    EXPECT_EQ(t->shape(), (Shape{2, 2}));
    EXPECT_EQ(values_of<float>(*t), (std::vector<float>{1.5f, -2, 3, 4}));
  }
  {
    auto p = proto_of("i64", onnx::TensorProto::INT64, {3});
    set_raw<int64_t>(p, {-1, 0, int64_t(1) << 40});
    auto t = tensor_from_proto(p, "");
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(values_of<int64_t>(*t), (std::vector<int64_t>{-1, 0, int64_t(1) << 40}));
  }
  // All storable types: byte-for-byte copies of raw_data.
  const std::pair<int, size_t> types[] = {{1, 4}, {2, 1},  {3, 1},  {4, 2},  {5, 2},  {6, 4}, {7, 8},
                                          {9, 1}, {10, 2}, {11, 8}, {12, 4}, {13, 8}, {16, 2}};
  for (auto [code, size] : types) {
    auto p = proto_of("t", code, {3});
    std::string bytes(3 * size, '\0');
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = char(code == 9 ? (i % size == 0) : i + 1);
    p.set_raw_data(bytes);
    auto t = tensor_from_proto(p, "");
    ASSERT_TRUE(t.ok()) << "dtype " << code << ": " << t.status().message();
    EXPECT_EQ(int(t->dtype()), code);
    EXPECT_EQ(std::string(static_cast<const char*>(t->raw()), t->nbytes()), bytes) << "dtype " << code;
  }
}

TEST(TensorProto, TypedFields) {
  {
    auto p = proto_of("f", onnx::TensorProto::FLOAT, {2});
    p.add_float_data(0.25f);
    p.add_float_data(-8);
    auto t = tensor_from_proto(p, "");
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(values_of<float>(*t), (std::vector<float>{0.25f, -8}));
  }
  {
    auto p = proto_of("d", onnx::TensorProto::DOUBLE, {1});
    p.add_double_data(1e300);
    auto t = tensor_from_proto(p, "");
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->data<double>()[0], 1e300);
  }
  {
    auto p = proto_of("i", onnx::TensorProto::INT64, {2});
    p.add_int64_data(-5);
    p.add_int64_data(int64_t(1) << 50);
    auto t = tensor_from_proto(p, "");
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(values_of<int64_t>(*t), (std::vector<int64_t>{-5, int64_t(1) << 50}));
  }
  {
    auto p = proto_of("i8", onnx::TensorProto::INT8, {3});
    for (int v : {-128, 0, 127}) p.add_int32_data(v);
    auto t = tensor_from_proto(p, "");
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(values_of<int8_t>(*t), (std::vector<int8_t>{-128, 0, 127}));
  }
  {
    auto p = proto_of("u8", onnx::TensorProto::UINT8, {2});
    for (int v : {0, 255}) p.add_int32_data(v);
    auto t = tensor_from_proto(p, "");
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(values_of<uint8_t>(*t), (std::vector<uint8_t>{0, 255}));
  }
  {
    auto p = proto_of("i16", onnx::TensorProto::INT16, {2});
    for (int v : {-30000, 30000}) p.add_int32_data(v);
    auto t = tensor_from_proto(p, "");
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(values_of<int16_t>(*t), (std::vector<int16_t>{-30000, 30000}));
  }
  {
    auto p = proto_of("u16", onnx::TensorProto::UINT16, {1});
    p.add_int32_data(65535);
    auto t = tensor_from_proto(p, "");
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->data<uint16_t>()[0], 65535);
  }
  {
    auto p = proto_of("i32", onnx::TensorProto::INT32, {2});
    for (int v : {-7, 1 << 30}) p.add_int32_data(v);
    auto t = tensor_from_proto(p, "");
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(values_of<int32_t>(*t), (std::vector<int32_t>{-7, 1 << 30}));
  }
  {
    auto p = proto_of("b", onnx::TensorProto::BOOL, {3});
    for (int v : {0, 1, 5}) p.add_int32_data(v);
    auto t = tensor_from_proto(p, "");
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(values_of<uint8_t>(*t), (std::vector<uint8_t>{0, 1, 1}));
  }
  {  // 16-bit floats travel as their bit patterns in int32_data.
    auto p = proto_of("h", onnx::TensorProto::FLOAT16, {2});
    p.add_int32_data(float_to_half(1.5f));
    p.add_int32_data(float_to_half(-2.0f));
    auto t = tensor_from_proto(p, "");
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(half_to_float(t->data<uint16_t>()[0]), 1.5f);
    EXPECT_EQ(half_to_float(t->data<uint16_t>()[1]), -2.0f);
  }
  {
    auto p = proto_of("bf", onnx::TensorProto::BFLOAT16, {1});
    p.add_int32_data(float_to_bfloat16(3.0f));
    auto t = tensor_from_proto(p, "");
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(bfloat16_to_float(t->data<uint16_t>()[0]), 3.0f);
  }
  {
    auto p = proto_of("u32", onnx::TensorProto::UINT32, {1});
    p.add_uint64_data(4000000000u);
    auto t = tensor_from_proto(p, "");
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->data<uint32_t>()[0], 4000000000u);
  }
  {
    auto p = proto_of("u64", onnx::TensorProto::UINT64, {1});
    p.add_uint64_data(uint64_t(1) << 63);
    auto t = tensor_from_proto(p, "");
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->data<uint64_t>()[0], uint64_t(1) << 63);
  }
}

TEST(TensorProto, ScalarAndEmpty) {
  auto scalar = proto_of("s", onnx::TensorProto::FLOAT, {});
  scalar.add_float_data(7);
  auto t = tensor_from_proto(scalar, "");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->rank(), 0u);
  EXPECT_EQ(t->numel(), 1);
  EXPECT_EQ(t->data<float>()[0], 7);

  auto empty = proto_of("e", onnx::TensorProto::INT64, {0, 3});
  auto e = tensor_from_proto(empty, "");
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->numel(), 0);
  EXPECT_EQ(e->shape(), (Shape{0, 3}));
}

TEST(TensorProto, DataLengthMismatchNamesTheTensor) {
  auto raw = proto_of("conv.weight", onnx::TensorProto::FLOAT, {2, 3});
  set_raw<float>(raw, {1, 2, 3});
  auto t = tensor_from_proto(raw, "");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidModel);
  EXPECT_NE(t.status().message().find("conv.weight"), std::string::npos) << t.status().message();
  EXPECT_NE(t.status().message().find("24 bytes"), std::string::npos) << t.status().message();

  auto typed = proto_of("bias", onnx::TensorProto::FLOAT, {4});
  typed.add_float_data(1);
  auto u = tensor_from_proto(typed, "");
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.status().message().find("'bias'"), std::string::npos);
  EXPECT_NE(u.status().message().find("float_data holds 1"), std::string::npos) << u.status().message();

  // Data in the wrong field for the type: say where it is.
  auto wrong = proto_of("shape", onnx::TensorProto::INT64, {2});
  wrong.add_int32_data(1);
  wrong.add_int32_data(2);
  auto w = tensor_from_proto(wrong, "");
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("int32_data"), std::string::npos) << w.status().message();

  auto none = proto_of("nothing", onnx::TensorProto::FLOAT, {});
  EXPECT_FALSE(tensor_from_proto(none, "").ok());
}

TEST(TensorProto, BadDimsAndSizes) {
  auto neg = proto_of("neg", onnx::TensorProto::FLOAT, {2, -1});
  auto a = tensor_from_proto(neg, "");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kInvalidModel);
  EXPECT_NE(a.status().message().find("'neg'"), std::string::npos);

  auto overflow = proto_of("huge", onnx::TensorProto::FLOAT, {int64_t(1) << 40, int64_t(1) << 40});
  auto b = tensor_from_proto(overflow, "");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(b.status().message().find("'huge'"), std::string::npos);

  auto big = proto_of("big", onnx::TensorProto::FLOAT, {1024});
  auto c = tensor_from_proto(big, "", /*max_bytes=*/1000);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kResourceExhausted);

  // Overflowing numel * element size (not numel itself).
  auto edge = proto_of("edge", onnx::TensorProto::INT64, {int64_t(1) << 61});
  EXPECT_FALSE(tensor_from_proto(edge, "").ok());
}

TEST(TensorProto, UnsupportedKinds) {
  auto str = proto_of("labels", onnx::TensorProto::STRING, {1});
  str.add_string_data("cat");
  auto a = tensor_from_proto(str, "");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(a.status().message().find("'labels'"), std::string::npos);

  auto seg = proto_of("seg", onnx::TensorProto::FLOAT, {1});
  seg.add_float_data(1);
  seg.mutable_segment()->set_begin(0);
  seg.mutable_segment()->set_end(1);
  auto b = tensor_from_proto(seg, "");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kUnsupported);

  auto cplx = proto_of("c", onnx::TensorProto::COMPLEX64, {1});
  auto c = tensor_from_proto(cplx, "");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(c.status().message().find("complex64"), std::string::npos);

  auto undef = proto_of("u", 0, {1});
  EXPECT_EQ(tensor_from_proto(undef, "").status().code(), StatusCode::kInvalidModel);
  auto unknown = proto_of("x", 99, {1});
  EXPECT_EQ(tensor_from_proto(unknown, "").status().code(), StatusCode::kInvalidModel);
}

TEST(TensorProto, ExternalDataNeedsAFolder) {
  auto p = proto_of("w", onnx::TensorProto::FLOAT, {1});
  p.set_data_location(onnx::TensorProto::EXTERNAL);
  auto* e = p.add_external_data();
  e->set_key("location");
  e->set_value("w.bin");
  auto t = tensor_from_proto(p, "");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("'w'"), std::string::npos);
}

TEST(TensorProto, ReadPbFile) {
  TempDir dir;
  auto p = proto_of("input_0", onnx::TensorProto::INT32, {2});
  set_raw<int32_t>(p, {3, -4});
  std::string path = dir.write("input_0.pb", p.SerializeAsString());
  std::string name;
  auto t = read_tensor_pb_file(path, &name);
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(name, "input_0");
  EXPECT_EQ(values_of<int32_t>(*t), (std::vector<int32_t>{3, -4}));

  for (auto bad : {dir.write("empty.pb", ""), dir.write("junk.pb", std::string("\xff\xff\xff\xff\x0f garbage", 13)),
                   dir.path + "/missing.pb", dir.path}) {
    auto r = read_tensor_pb_file(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().message().rfind("'" + bad + "'", 0), 0u) << r.status().message();
  }
}

TEST(TensorProto, ReadsOnnxConformanceData) {
  const std::string dir = "/work/onnx_cases/node/test_relu/test_data_set_0";
  if (!std::filesystem::exists(dir + "/input_0.pb")) GTEST_SKIP() << "ONNX conformance cases not generated";
  std::string name;
  auto in = read_tensor_pb_file(dir + "/input_0.pb", &name);
  ASSERT_TRUE(in.ok()) << in.status().message();
  EXPECT_EQ(in->dtype(), DType::kFloat32);
  EXPECT_EQ(in->shape(), (Shape{3, 4, 5}));
  EXPECT_EQ(name, "x");
}

}  // namespace
}  // namespace lowbit
