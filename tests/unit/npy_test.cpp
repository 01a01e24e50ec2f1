// .npy reader/writer: round trips, header dialects, byte orders, malformed files, and files
// written (and read back) by numpy itself when /usr/bin/python3 has numpy.
#include "temp_dir.h"
#include "io/npy.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

namespace lowbit {
namespace {

namespace fs = std::filesystem;

// Builds a .npy byte string by hand: magic, version, little-endian header length, header, data.
std::string make_npy(const std::string& dict, const std::string& data, int major = 1) {
  std::string header = dict + "\n";
  std::string out = "\x93NUMPY";
  out.push_back(char(major));
  out.push_back(0);
  size_t len_bytes = major == 1 ? 2 : 4;
  for (size_t i = 0; i < len_bytes; ++i) out.push_back(char((header.size() >> (8 * i)) & 0xff));
  return out + header + data;
}

std::string bytes_of(const Tensor& t) { return std::string(static_cast<const char*>(t.raw()), t.nbytes()); }

using lowbit::test::TempDir;

TEST(Npy, RoundTripEveryDtype) {
  for (DType d : {DType::kBool, DType::kInt8, DType::kUint8, DType::kInt16, DType::kUint16, DType::kInt32,
                  DType::kUint32, DType::kInt64, DType::kUint64, DType::kFloat16, DType::kFloat32, DType::kFloat64}) {
    Tensor t(d, {2, 3});
    auto* p = static_cast<unsigned char*>(t.raw());
    for (size_t i = 0; i < t.nbytes(); ++i)
      p[i] = (d == DType::kBool) ? (i % 2) : static_cast<unsigned char>(i * 7 + 1);
    std::string bytes = serialize_npy(t);
    ASSERT_EQ((bytes.size() - t.nbytes()) % 64, 0u) << "header must be padded to 64 bytes";
    auto back = parse_npy(bytes, "mem.npy");
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(back->dtype(), d) << dtype_name(d);
    EXPECT_EQ(back->shape(), (Shape{2, 3}));
    EXPECT_EQ(bytes_of(*back), bytes_of(t)) << dtype_name(d);
  }
}

TEST(Npy, RoundTripScalarAndEmpty) {
  for (Shape s : {Shape{}, Shape{0}, Shape{3, 0}, Shape{0, 2, 5}, Shape{1, 1, 1, 1, 1, 1, 1, 1}}) {
    Tensor t(DType::kFloat32, s);
    if (t.numel() > 0) t.data<float>()[0] = 4.5f;
    std::string bytes = serialize_npy(t);
    auto back = parse_npy(bytes, "mem.npy");
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(back->shape(), s);
    EXPECT_EQ(back->numel(), t.numel());
    if (t.numel() > 0) EXPECT_EQ(back->data<float>()[0], 4.5f);
  }
  EXPECT_NE(serialize_npy(Tensor(DType::kFloat32, {})).find("'shape': ()"), std::string::npos);
  EXPECT_NE(serialize_npy(Tensor(DType::kFloat32, {7})).find("'shape': (7,)"), std::string::npos);
}

TEST(Npy, BFloat16IsWidenedToFloat32) {
  Tensor t(DType::kBFloat16, {2});
  t.data<uint16_t>()[0] = float_to_bfloat16(1.5f);
  t.data<uint16_t>()[1] = float_to_bfloat16(-2.0f);
  auto back = parse_npy(serialize_npy(t), "mem.npy");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->dtype(), DType::kFloat32);
  EXPECT_EQ(back->data<float>()[0], 1.5f);
  EXPECT_EQ(back->data<float>()[1], -2.0f);
}

TEST(Npy, HeaderDialects) {
  std::string data(8, '\0');
  data[0] = 1;
  data[4] = 2;
  for (std::string dict : {
           "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }",
           "{'shape': (2,), 'fortran_order': False, 'descr': '<i4'}",
           "{\"descr\":\"<i4\",\"fortran_order\":False,\"shape\":(2,)}",
           "{ 'descr' : '<i4' ,\n 'fortran_order' : False , 'shape' : ( 2 , ) , }      ",
           "{'descr': '<i4', 'fortran_order': False, 'shape': (2L,), }",  // Python 2 long
           "{'descr': '<i4', 'fortran_order': False, 'shape': [2]}",
       }) {
    auto t = parse_npy(make_npy(dict, data), "dialect.npy");
    if (dict.find("[2]") != std::string::npos) {  // a list is not a tuple: numpy would reject it too
      EXPECT_FALSE(t.ok()) << dict;
      continue;
    }
    ASSERT_TRUE(t.ok()) << dict << ": " << t.status().message();
    EXPECT_EQ(t->dtype(), DType::kInt32);
    EXPECT_EQ(t->data<int32_t>()[0], 1);
    EXPECT_EQ(t->data<int32_t>()[1], 2);
  }
}

TEST(Npy, Versions2And3) {
  std::string data(4, '\0');
  float one = 1.0f;
  std::memcpy(data.data(), &one, 4);
  for (int major : {2, 3}) {
    auto t = parse_npy(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", data, major), "v.npy");
    ASSERT_TRUE(t.ok()) << t.status().message();
    EXPECT_EQ(t->data<float>()[0], 1.0f);
  }
}

TEST(Npy, BigEndianIsSwapped) {
  auto i4 = parse_npy(make_npy("{'descr': '>i4', 'fortran_order': False, 'shape': (2,)}",
                               std::string("\x00\x00\x00\x01\xff\xff\xff\xfe", 8)),
                      "be.npy");
  ASSERT_TRUE(i4.ok()) << i4.status().message();
  EXPECT_EQ(i4->data<int32_t>()[0], 1);
  EXPECT_EQ(i4->data<int32_t>()[1], -2);

  auto f8 = parse_npy(make_npy("{'descr': '>f8', 'fortran_order': False, 'shape': ()}",
                               std::string("\x3f\xf8\x00\x00\x00\x00\x00\x00", 8)),
                      "be.npy");
  ASSERT_TRUE(f8.ok());
  EXPECT_EQ(f8->data<double>()[0], 1.5);

  auto u2 = parse_npy(make_npy("{'descr': '>u2', 'fortran_order': False, 'shape': (1,)}", std::string("\x01\x02", 2)),
                      "be.npy");
  ASSERT_TRUE(u2.ok());
  EXPECT_EQ(u2->data<uint16_t>()[0], 0x0102);

  auto f2 = parse_npy(make_npy("{'descr': '>f2', 'fortran_order': False, 'shape': (1,)}", std::string("\x3c\x00", 2)),
                      "be.npy");
  ASSERT_TRUE(f2.ok());
  EXPECT_EQ(half_to_float(f2->data<uint16_t>()[0]), 1.0f);

  auto b1 = parse_npy(make_npy("{'descr': '|b1', 'fortran_order': False, 'shape': (2,)}", std::string("\x01\x00", 2)),
                      "b.npy");
  ASSERT_TRUE(b1.ok());
  EXPECT_EQ(b1->dtype(), DType::kBool);
  EXPECT_EQ(b1->data<uint8_t>()[0], 1);
}

// Every malformed input gives an error that names the file; none crashes or allocates wildly.
TEST(Npy, MalformedInputsAreClearErrors) {
  const std::string f4x2 = std::string(8, '\0');
  struct Case {
    const char* what;
    std::string bytes;
    const char* expect;  // substring of the message
  };
  std::vector<Case> cases = {
      {"empty file", "", "bad magic"},
      {"bad magic", "PK\x03\x04 this is a zip", "bad magic"},
      {"magic only", "\x93NUMPY", "truncated"},
      {"no header length", std::string("\x93NUMPY\x01\x00", 8), "truncated"},
      {"unknown version", make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", f4x2, 4), "version 4.0"},
      {"header longer than file", std::string("\x93NUMPY\x01\x00\xff\x00{'descr'", 17), "truncated"},
      {"truncated header", make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,", ""), "malformed"},
      {"not a dict", make_npy("['descr', '<f4']", f4x2), "not a Python dict"},
      {"unterminated string", make_npy("{'descr': '<f4, 'fortran_order': False}", f4x2), "malformed"},
      {"missing key", make_npy("{'descr': '<f4', 'shape': (2,)}", f4x2), "must have the keys"},
      {"duplicate key", make_npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", f4x2),
       "duplicate key"},
      {"unknown key", make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", f4x2),
       "unexpected key"},
      {"complex dtype", make_npy("{'descr': '<c8', 'fortran_order': False, 'shape': (1,)}", f4x2), "complex"},
      {"object dtype", make_npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,)}", f4x2), "unsupported dtype"},
      {"string dtype", make_npy("{'descr': '<U2', 'fortran_order': False, 'shape': (1,)}", f4x2), "strings"},
      {"float128", make_npy("{'descr': '<f16', 'fortran_order': False, 'shape': (1,)}", f4x2), "unsupported dtype"},
      {"structured", make_npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", f4x2), "structured"},
      {"fortran order", make_npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2,)}", f4x2), "Fortran"},
      {"fortran not bool", make_npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", f4x2), "True or False"},
      {"shape not tuple", make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': 2}", f4x2), "tuple"},
      {"shape (2) is an int", make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2)}", f4x2), "tuple"},
      {"float dim", make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,)}", f4x2), "malformed"},
      {"negative dim", make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", f4x2), "negative"},
      {"too little data", make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}", f4x2), "size mismatch"},
      {"too much data", make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", f4x2), "size mismatch"},
      {"huge shape",
       make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776)}", f4x2),
       "too large"},
      {"huge but no overflow",
       make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,)}", f4x2), "too large"},
      {"dim beyond int64", make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", f4x2),
       "64 bits"},
      {"dim of 200 digits",
       make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::string(200, '1') + ",)}", f4x2),
       "64 bits"},
      {"trailing garbage", make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} xyz", f4x2),
       "unexpected text"},
  };
  for (auto& c : cases) {
    auto t = parse_npy(c.bytes, "bad.npy");
    ASSERT_FALSE(t.ok()) << c.what;
    EXPECT_NE(t.status().message().find("bad.npy"), std::string::npos) << c.what << ": " << t.status().message();
    EXPECT_NE(t.status().message().find(c.expect), std::string::npos) << c.what << ": " << t.status().message();
  }
}

TEST(Npy, MaxBytesIsEnforcedBeforeAllocation) {
  std::string data(400, '\0');
  auto t = parse_npy(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (100,)}", data), "cap.npy", 100);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kResourceExhausted);
}

TEST(Npy, FileErrors) {
  TempDir dir;
  auto missing = read_npy(dir.file("nope.npy"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope.npy"), std::string::npos);

  auto directory = read_npy(dir.path());
  ASSERT_FALSE(directory.ok());
  EXPECT_NE(directory.status().message().find("directory"), std::string::npos);

  // A truncated file on disk: same checks as in memory, before any allocation.
  std::string full = serialize_npy(Tensor(DType::kFloat32, {1000}));
  std::ofstream(dir.file("trunc.npy"), std::ios::binary) << full.substr(0, full.size() - 10);
  auto trunc = read_npy(dir.file("trunc.npy"));
  ASSERT_FALSE(trunc.ok());
  EXPECT_NE(trunc.status().message().find("size mismatch"), std::string::npos) << trunc.status().message();

  std::ofstream(dir.file("tiny.npy"), std::ios::binary) << "\x93NUM";
  EXPECT_FALSE(read_npy(dir.file("tiny.npy")).ok());
}

TEST(Npy, WriteIsAtomicAndReadable) {
  TempDir dir;
  Tensor t(DType::kInt64, {3});
  t.data<int64_t>()[2] = -5;
  ASSERT_TRUE(write_npy(dir.file("a.npy"), t).ok());
  auto back = read_npy(dir.file("a.npy"));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->data<int64_t>()[2], -5);
  int files = 0;
  for (auto& e : fs::directory_iterator(dir.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1) << "no temp file may be left behind";
  // Writing into a missing folder fails cleanly.
  Status s = write_npy(dir.file("missing/a.npy"), t);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("missing/a.npy"), std::string::npos);
}

bool have_numpy() {
  static const bool ok = std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
  return ok;
}

// numpy writes, lowbit reads: dtypes, byte orders, versions 2.0/3.0, 0-d and 0-size arrays.
TEST(Npy, ReadsFilesWrittenByNumpy) {
  if (!have_numpy()) GTEST_SKIP() << "/usr/bin/python3 with numpy not available";
  TempDir dir;
  std::string script = dir.file("make.py");
  std::ofstream(script) << "import numpy as np, sys\n"
                           "from numpy.lib import format as F\n"
                           "d = sys.argv[1]\n"
                           "np.save(d + '/f4.npy', np.arange(6, dtype='<f4').reshape(2, 3) / 4)\n"
                           "np.save(d + '/f8be.npy', np.array([1.5, -2.25], dtype='>f8'))\n"
                           "np.save(d + '/i8.npy', np.array([[-1, 2**40]], dtype='<i8'))\n"
                           "np.save(d + '/u1.npy', np.array([0, 255, 7], dtype=np.uint8))\n"
                           "np.save(d + '/b1.npy', np.array([True, False, True]))\n"
                           "np.save(d + '/f2.npy', np.array([0.5, -1.0], dtype=np.float16))\n"
                           "np.save(d + '/i2be.npy', np.array([-3, 300], dtype='>i2'))\n"
                           "np.save(d + '/scalar.npy', np.float32(3.25))\n"
                           "np.save(d + '/empty.npy', np.zeros((0, 4), dtype=np.int32))\n"
                           "np.save(d + '/fortran.npy', np.asfortranarray(np.ones((2, 3), np.float32)))\n"
                           "for v in [(2, 0), (3, 0)]:\n"
                           "    with open(d + '/v%d.npy' % v[0], 'wb') as f:\n"
                           "        F.write_array(f, np.array([7, 8], dtype=np.uint32), version=v)\n";
  ASSERT_EQ(std::system(("/usr/bin/python3 " + script + " " + dir.path()).c_str()), 0);

  auto f4 = read_npy(dir.file("f4.npy"));
  ASSERT_TRUE(f4.ok()) << f4.status().message();
  EXPECT_EQ(f4->shape(), (Shape{2, 3}));
  EXPECT_EQ(f4->data<float>()[5], 1.25f);

  auto f8 = read_npy(dir.file("f8be.npy"));
  ASSERT_TRUE(f8.ok()) << f8.status().message();
  EXPECT_EQ(f8->dtype(), DType::kFloat64);
  EXPECT_EQ(f8->data<double>()[1], -2.25);

  auto i8 = read_npy(dir.file("i8.npy"));
  ASSERT_TRUE(i8.ok());
  EXPECT_EQ(i8->data<int64_t>()[1], int64_t(1) << 40);

  auto u1 = read_npy(dir.file("u1.npy"));
  ASSERT_TRUE(u1.ok());
  EXPECT_EQ(u1->dtype(), DType::kUint8);
  EXPECT_EQ(u1->data<uint8_t>()[1], 255);

  auto b1 = read_npy(dir.file("b1.npy"));
  ASSERT_TRUE(b1.ok());
  EXPECT_EQ(b1->dtype(), DType::kBool);
  EXPECT_EQ(b1->data<uint8_t>()[1], 0);
  EXPECT_EQ(b1->data<uint8_t>()[2], 1);

  auto f2 = read_npy(dir.file("f2.npy"));
  ASSERT_TRUE(f2.ok());
  EXPECT_EQ(half_to_float(f2->data<uint16_t>()[1]), -1.0f);

  auto i2 = read_npy(dir.file("i2be.npy"));
  ASSERT_TRUE(i2.ok());
  EXPECT_EQ(i2->data<int16_t>()[0], -3);
  EXPECT_EQ(i2->data<int16_t>()[1], 300);

  auto scalar = read_npy(dir.file("scalar.npy"));
  ASSERT_TRUE(scalar.ok());
  EXPECT_EQ(scalar->rank(), 0u);
  EXPECT_EQ(scalar->data<float>()[0], 3.25f);

  auto empty = read_npy(dir.file("empty.npy"));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->shape(), (Shape{0, 4}));

  auto fortran = read_npy(dir.file("fortran.npy"));
  ASSERT_FALSE(fortran.ok());
  EXPECT_NE(fortran.status().message().find("Fortran"), std::string::npos);

  for (const char* v : {"v2.npy", "v3.npy"}) {
    auto t = read_npy(dir.file(v));
    ASSERT_TRUE(t.ok()) << v << ": " << t.status().message();
    EXPECT_EQ(t->data<uint32_t>()[1], 8u);
  }
}

// lowbit writes, numpy reads and checks.
TEST(Npy, NumpyReadsFilesWrittenByLowbit) {
  if (!have_numpy()) GTEST_SKIP() << "/usr/bin/python3 with numpy not available";
  TempDir dir;
  Tensor f(DType::kFloat32, {2, 2});
  for (int i = 0; i < 4; ++i) f.data<float>()[i] = float(i) - 1.5f;
  Tensor u(DType::kUint16, {3});
  u.data<uint16_t>()[2] = 65535;
  Tensor b(DType::kBool, {});
  b.data<uint8_t>()[0] = 1;
  ASSERT_TRUE(write_npy(dir.file("f.npy"), f).ok());
  ASSERT_TRUE(write_npy(dir.file("u.npy"), u).ok());
  ASSERT_TRUE(write_npy(dir.file("b.npy"), b).ok());
  std::string script = dir.file("check.py");
  std::ofstream(script) << "import numpy as np, sys\n"
                           "d = sys.argv[1]\n"
                           "f = np.load(d + '/f.npy'); u = np.load(d + '/u.npy'); b = np.load(d + '/b.npy')\n"
                           "assert f.dtype == np.float32 and f.shape == (2, 2), f\n"
                           "assert (f.ravel() == np.arange(4) - 1.5).all(), f\n"
                           "assert u.dtype == np.uint16 and u[2] == 65535, u\n"
                           "assert b.dtype == np.bool_ and b.shape == () and bool(b), b\n";
  EXPECT_EQ(std::system(("/usr/bin/python3 " + script + " " + dir.path()).c_str()), 0);
}

// Header first, then element ranges read by seeking (what calibration data does for big files).
TEST(Npy, HeaderThenElementRanges) {
  TempDir dir;
  // Big-endian int32 0..11 as shape (3, 4), written by hand: ranges come back in native order.
  std::string data;
  for (int i = 0; i < 12; ++i) data += std::string{0, 0, 0, char(i)};
  const std::string path = dir.file("be.npy");
  std::ofstream(path, std::ios::binary) << make_npy("{'descr': '>i4', 'fortran_order': False, 'shape': (3, 4), }",
                                                    data);
  auto h = read_npy_header(path);
  ASSERT_TRUE(h.ok()) << h.status().message();
  EXPECT_EQ(h->dtype, DType::kInt32);
  EXPECT_TRUE(h->swap_bytes);
  EXPECT_EQ(h->shape, (Shape{3, 4}));
  EXPECT_EQ(h->data_bytes, 48);
  EXPECT_EQ(h->data_offset + h->data_bytes, h->file_size);
  std::vector<int32_t> got(5);
  ASSERT_TRUE(read_npy_elements(path, *h, 6, 5, got.data()).ok());
  EXPECT_EQ(got, (std::vector<int32_t>{6, 7, 8, 9, 10}));
  EXPECT_TRUE(read_npy_elements(path, *h, 12, 0, got.data()).ok());

  Status outside = read_npy_elements(path, *h, 10, 3, got.data());
  ASSERT_FALSE(outside.ok());
  EXPECT_EQ(outside.code(), StatusCode::kOutOfRange);
  EXPECT_NE(outside.message().find("elements [10, 13) are outside its array of 12 elements"), std::string::npos);
  EXPECT_FALSE(read_npy_elements(path, *h, -1, 1, got.data()).ok());

  // The header check needs no memory for the data, so no max_bytes; the file size is still checked.
  std::ofstream(path, std::ios::binary) << make_npy(
      "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 4), }", std::string(16, '\0'));
  auto claims = read_npy_header(path);
  ASSERT_FALSE(claims.ok());
  EXPECT_NE(claims.status().message().find("data size mismatch"), std::string::npos);
  // A file rewritten since its header was read is refused rather than read at stale offsets.
  Status changed = read_npy_elements(path, *h, 0, 1, got.data());
  ASSERT_FALSE(changed.ok());
  EXPECT_NE(changed.message().find("changed since its header was read"), std::string::npos);
  EXPECT_FALSE(read_npy_header(dir.file("missing.npy")).ok());
  EXPECT_FALSE(read_npy_header(dir.path()).ok());
}

}  // namespace
}  // namespace lowbit
