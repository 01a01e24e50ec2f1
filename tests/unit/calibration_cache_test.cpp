// TensorRT calibration cache: bit-exact round trip, hand-written TensorRT-style caches, and malformed caches
// failing with the file name and line number.
#include "temp_dir.h"
#include "quant/calibration_cache.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cfloat>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

namespace lowbit::quant {
namespace {

namespace fs = std::filesystem;

using lowbit::test::TempDir;

std::string write_text(const TempDir& d, const std::string& name, const std::string& text) {
  const std::string p = d.file(name);
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

TEST(TrtCache, HexIsTheFloatBitsBigEndian) {
  EXPECT_EQ(trt_cache_hex(1.f / 127.f), "3c010204");
  EXPECT_EQ(trt_cache_hex(1.f), "3f800000");
  EXPECT_EQ(trt_cache_hex(std::numeric_limits<float>::denorm_min()), "00000001");
}

TEST(TrtCache, WriteReadRoundTripIsBitExact) {
  TempDir d;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-30.f, 10.f);
  std::vector<CacheEntry> entries;
  for (int i = 0; i < 50; ++i) entries.push_back({"t" + std::to_string(i), std::exp2(u(rng))});
  entries.push_back({"conv1:0", FLT_MIN});  // a colon in the name; the smallest normal scale
  entries.push_back({"(Unnamed Layer* 3) [Convolution]_output", FLT_MAX});
  entries.push_back({"tiny", std::numeric_limits<float>::denorm_min()});
  const std::string p = d.file("model.cache");
  ASSERT_TRUE(write_trt_cache(p, entries).ok());

  std::ifstream f(p);
  std::string first;
  std::getline(f, first);
  EXPECT_EQ(first, "TRT-8601-EntropyCalibration2");

  auto back = read_trt_cache(p);
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_EQ(back->size(), entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ((*back)[i].tensor, entries[i].tensor);
    EXPECT_EQ(bits_of((*back)[i].scale), bits_of(entries[i].scale)) << entries[i].tensor;
  }
  // A custom header is written as given.
  ASSERT_TRUE(write_trt_cache(p, {{"x", 0.5f}}, "TRT-100300-MinMaxCalibration").ok());
  std::string header;
  std::ifstream g(p);
  std::getline(g, header);
  EXPECT_EQ(header, "TRT-100300-MinMaxCalibration");
}

TEST(TrtCache, ReadsAHandWrittenTensorRtCache) {
  TempDir d;
  const std::string p = write_text(d, "trt.cache",
                                   "TRT-8601-EntropyCalibration2\r\n"
                                   "input.1: 3c010204\r\n"
                                   "onnx::Conv_193: 3d8a7c2e\r\n"
                                   "\r\n"
                                   "Relu_5:  3F800000  \r\n"
                                   "out: 1\r\n");
  std::string header;
  std::ifstream f(p);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto e = parse_trt_cache(text, p, &header);
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(header, "TRT-8601-EntropyCalibration2");
  ASSERT_EQ(e->size(), 4u);
  EXPECT_EQ((*e)[0].tensor, "input.1");
  EXPECT_EQ((*e)[0].scale, 1.f / 127.f);
  EXPECT_EQ((*e)[1].tensor, "onnx::Conv_193");  // the last colon separates the value
  EXPECT_EQ(bits_of((*e)[1].scale), 0x3d8a7c2eu);
  EXPECT_EQ((*e)[2].tensor, "Relu_5");
  EXPECT_EQ((*e)[2].scale, 1.f);
  EXPECT_EQ(bits_of((*e)[3].scale), 1u);  // fewer than 8 digits: the leading zeros TensorRT may omit
  auto from_file = read_trt_cache(p);
  ASSERT_TRUE(from_file.ok());
  EXPECT_EQ(from_file->size(), 4u);
  // Another algorithm name and version are accepted.
  EXPECT_TRUE(parse_trt_cache("TRT-7000-LegacyCalibration\na: 3f800000\n").ok());
}

struct Malformed {
  const char* what;
  const char* text;
  const char* expect_in_message;
};

TEST(TrtCache, MalformedCachesNameFileAndLine) {
  TempDir d;
  const Malformed cases[] = {
      {"empty file", "", ":1: empty"},
      {"only blank lines", "\n\n", ":1: empty"},
      {"bad header", "TensorRT cache\nx: 3f800000\n", ":1: expected a header"},
      {"header without algorithm", "TRT-8601-\n", ":1: expected a header"},
      {"header without version", "TRT-abc-EntropyCalibration2\n", ":1: expected a header"},
      {"missing colon", "TRT-8601-EntropyCalibration2\ninput 3c010204\n", ":2: expected '<tensor name>: <hex scale>'"},
      {"empty name", "TRT-8601-EntropyCalibration2\na: 3f800000\n: 3c010204\n", ":3: empty tensor name"},
      {"bad hex", "TRT-8601-EntropyCalibration2\nx: 3c01g204\n", ":2: bad hex value '3c01g204'"},
      {"too many digits", "TRT-8601-EntropyCalibration2\nx: 3c0102040\n", ":2: bad hex value"},
      {"empty value", "TRT-8601-EntropyCalibration2\nx:\n", ":2: bad hex value"},
      {"duplicate", "TRT-8601-EntropyCalibration2\nx: 3f800000\ny: 3f800000\n\nx: 3c010204\n",
       ":5: tensor 'x' appears twice (first on line 2)"},
      {"NaN scale", "TRT-8601-EntropyCalibration2\nx: 7fc00000\n", ":2: tensor 'x' has scale nan"},
      {"Inf scale", "TRT-8601-EntropyCalibration2\nx: 7f800000\n", ":2: tensor 'x' has scale inf"},
      {"negative scale", "TRT-8601-EntropyCalibration2\nx: bf800000\n", ":2: tensor 'x' has scale -1"},
      {"zero scale", "TRT-8601-EntropyCalibration2\nx: 0\n", ":2: tensor 'x' has scale 0"},
  };
  for (const Malformed& m : cases) {
    const std::string p = write_text(d, "bad.cache", m.text);
    auto r = read_trt_cache(p);
    ASSERT_FALSE(r.ok()) << m.what;
    const std::string msg = r.status().message();
    EXPECT_NE(msg.find(p), std::string::npos) << m.what << ": " << msg;
    EXPECT_NE(msg.find(m.expect_in_message), std::string::npos) << m.what << ": " << msg;
  }
  auto missing = read_trt_cache(d.file("does_not_exist.cache"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

TEST(TrtCache, BinaryGarbageDoesNotCrash) {
  std::string junk;
  std::mt19937 rng(11);
  for (int i = 0; i < 4096; ++i) junk.push_back(char(rng() & 0xff));
  EXPECT_FALSE(parse_trt_cache(junk).ok());
  EXPECT_FALSE(parse_trt_cache("TRT-1-A\n" + junk).ok());
}

TEST(TrtCache, WriteRejectsWhatWouldNotReadBack) {
  TempDir d;
  const std::string p = d.file("w.cache");
  const std::pair<std::vector<CacheEntry>, const char*> bad[] = {
      {{{"", 1.f}}, "empty name"},
      {{{"a\nb", 1.f}}, "line break"},
      {{{" padded", 1.f}}, "surrounding blanks"},
      {{{"x", 1.f}, {"x", 2.f}}, "appears twice"},
      {{{"x", 0.f}}, "must be > 0"},
      {{{"x", -1.f}}, "must be > 0"},
      {{{"x", std::numeric_limits<float>::quiet_NaN()}}, "must be > 0"},
      {{{"x", std::numeric_limits<float>::infinity()}}, "must be > 0"},
  };
  for (const auto& [entries, expect] : bad) {
    Status s = write_trt_cache(p, entries);
    ASSERT_FALSE(s.ok()) << expect;
    EXPECT_NE(s.message().find(expect), std::string::npos) << s.message();
  }
  EXPECT_FALSE(fs::exists(p));  // nothing written on failure
  Status h = write_trt_cache(p, {{"x", 1.f}}, "TRT8601EntropyCalibration2");
  EXPECT_FALSE(h.ok());
  EXPECT_NE(h.message().find("header"), std::string::npos);
  EXPECT_FALSE(write_trt_cache(d.file("no_such_dir/x.cache"), {{"x", 1.f}}).ok());
  EXPECT_TRUE(write_trt_cache(p, {}).ok());  // header only
  auto empty = read_trt_cache(p);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(TrtCache, ConvertsToAndFromCalibrations) {
  TensorCalibration c;
  c.name = "act";
  c.threshold = 2.54f;
  c.range_lo = -2.54f;
  c.range_hi = 2.54f;
  const CacheEntry e = cache_entry_from(c);
  EXPECT_EQ(e.tensor, "act");
  EXPECT_EQ(e.scale, float(2.54f / 127.0));
  c.threshold = 0;  // an all-zero tensor
  EXPECT_EQ(cache_entry_from(c).scale, 1.f);

  const TensorCalibration back = calibration_from_cache_entry({"in", 1.f / 127.f});
  EXPECT_EQ(back.name, "in");
  EXPECT_EQ(back.method, "trt-cache");
  EXPECT_EQ(back.scale, 1.f / 127.f);
  EXPECT_EQ(back.zero_point, 0);
  EXPECT_TRUE(back.symmetric);
  EXPECT_NEAR(back.threshold, 1.f, 1e-6f);
  EXPECT_EQ(back.range_lo, -back.threshold);
}

}  // namespace
}  // namespace lowbit::quant
