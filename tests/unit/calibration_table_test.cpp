// Calibration table (JSON): bit-exact round trip of every field, hand-written minimal entries, and malformed
// tables failing with a message that names the tensor and field.
#include "temp_dir.h"
#include "quant/calibration_table.h"

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

uint32_t bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

void observe(TensorObserver& o, const std::vector<float>& v) { o.observe(v.data(), int64_t(v.size())); }

std::vector<TensorCalibration> sample_table() {
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.3f, 1.7f);
  std::vector<float> x(20000);
  for (float& v : x) v = nd(rng);
  TensorObserver two_sided(256), relu(256);
  observe(two_sided, x);
  for (float& v : x) v = std::max(v, 0.f);
  observe(relu, x);
  CalibOptions opt;  // auto everything
  std::vector<TensorCalibration> t = {calibrate_tensor("conv1_out", two_sided, opt),
                                      calibrate_tensor("relu:0", relu, opt)};
  opt.unsigned_int = true;
  opt.method = CalibMethod::kEntropy;
  t.push_back(calibrate_tensor("uint8 \"quoted\" name", two_sided, opt));
  return t;
}

void expect_same(const TensorCalibration& a, const TensorCalibration& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.method, b.method);
  for (auto [x, y] : {std::pair{a.min, b.min},
                      {a.max, b.max},
                      {a.range_lo, b.range_lo},
                      {a.range_hi, b.range_hi},
                      {a.threshold, b.threshold},
                      {a.scale, b.scale},
                      {a.histogram_lo, b.histogram_lo},
                      {a.histogram_hi, b.histogram_hi}})
    EXPECT_EQ(bits(x), bits(y)) << a.name;
  EXPECT_EQ(a.zero_point, b.zero_point);
  EXPECT_EQ(a.symmetric, b.symmetric);
  EXPECT_EQ(a.is_unsigned, b.is_unsigned);
  EXPECT_EQ(a.quant_mse, b.quant_mse);
  EXPECT_EQ(a.count, b.count);
  EXPECT_EQ(a.nonfinite_count, b.nonfinite_count);
  EXPECT_EQ(a.histogram, b.histogram);
  ASSERT_EQ(a.candidates.size(), b.candidates.size());
  for (size_t i = 0; i < a.candidates.size(); ++i) {
    EXPECT_EQ(a.candidates[i].first, b.candidates[i].first);
    EXPECT_EQ(bits(a.candidates[i].second), bits(b.candidates[i].second));
  }
  ASSERT_EQ(a.candidate_details.size(), b.candidate_details.size());
  for (size_t i = 0; i < a.candidate_details.size(); ++i) {
    EXPECT_EQ(a.candidate_details[i].method, b.candidate_details[i].method);
    EXPECT_EQ(bits(a.candidate_details[i].range_lo), bits(b.candidate_details[i].range_lo));
    EXPECT_EQ(bits(a.candidate_details[i].range_hi), bits(b.candidate_details[i].range_hi));
    EXPECT_EQ(a.candidate_details[i].quant_mse, b.candidate_details[i].quant_mse);
  }
}

TEST(CalibTable, RoundTripIsExact) {
  TempDir d;
  const std::vector<TensorCalibration> table = sample_table();
  ASSERT_EQ(table[0].candidates.size(), 5u);
  CalibOptions opt;
  opt.method = CalibMethod::kPercentile;
  opt.percentile = 99.95;
  opt.range = ActivationRange::kAsymmetric;
  opt.unsigned_int = true;
  const std::string p = d.file("model.calib.json");
  ASSERT_TRUE(write_calibration_table(p, table, opt).ok());
  CalibOptions back_opt;
  auto back = read_calibration_table(p, &back_opt);
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_EQ(back->size(), table.size());
  for (size_t i = 0; i < table.size(); ++i) expect_same(table[i], (*back)[i]);
  EXPECT_EQ(back_opt.method, CalibMethod::kPercentile);
  EXPECT_EQ(back_opt.percentile, 99.95);
  EXPECT_EQ(back_opt.range, ActivationRange::kAsymmetric);
  EXPECT_TRUE(back_opt.unsigned_int);

  // Readable: one tensor key per line, floats in their short form.
  std::ifstream f(p);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("\"format\": \"lowbit-calibration-table\""), std::string::npos);
  EXPECT_NE(text.find("\n      \"scale\": "), std::string::npos);
  EXPECT_NE(text.find("\"name\": \"conv1_out\""), std::string::npos);
  // Writing what was read gives the same bytes.
  ASSERT_TRUE(write_calibration_table(d.file("again.json"), *back, back_opt).ok());
  std::ifstream g(d.file("again.json"));
  EXPECT_EQ(text, std::string((std::istreambuf_iterator<char>(g)), std::istreambuf_iterator<char>()));
}

TEST(CalibTable, FloatsAreShortButExact) {
  TensorCalibration c;
  c.name = "x";
  c.scale = 0.1f;
  c.threshold = 12.7f;
  c.range_lo = -12.7f;
  c.range_hi = 12.7f;
  auto text = format_calibration_table({c}, CalibOptions());
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("\"scale\": 0.1,"), std::string::npos) << *text;
  auto back = parse_calibration_table(*text);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ((*back)[0].scale, 0.1f);
  EXPECT_EQ((*back)[0].threshold, 12.7f);
}

TEST(CalibTable, EmptyTableAndMinimalHandWrittenEntries) {
  auto empty = format_calibration_table({}, CalibOptions());
  ASSERT_TRUE(empty.ok());
  auto e = parse_calibration_table(*empty);
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_TRUE(e->empty());

  const std::string hand = R"({"format": "lowbit-calibration-table", "version": 1,
    "tensors": [
      {"name": "a", "scale": 0.02, "zero_point": 0},
      {"name": "b", "scale": 0.01, "zero_point": -28},
      {"name": "c", "scale": 0.5, "zero_point": 128, "is_unsigned": true}
    ]})";
  CalibOptions opt;
  opt.method = CalibMethod::kMse;
  auto t = parse_calibration_table(hand, "hand.json", &opt);
  ASSERT_TRUE(t.ok()) << t.status().message();
  ASSERT_EQ(t->size(), 3u);
  EXPECT_EQ(opt.method, CalibMethod::kAuto);  // absent options are the defaults
  const TensorCalibration& a = (*t)[0];
  EXPECT_EQ(a.method, "manual");
  EXPECT_TRUE(a.symmetric);  // zero point 0 on int8
  EXPECT_FLOAT_EQ(a.range_hi, 127 * 0.02f);
  EXPECT_FLOAT_EQ(a.range_lo, -127 * 0.02f);
  EXPECT_FLOAT_EQ(a.threshold, 127 * 0.02f);
  const TensorCalibration& b = (*t)[1];
  EXPECT_FALSE(b.symmetric);
  EXPECT_FLOAT_EQ(b.range_lo, (-128 + 28) * 0.01f);
  EXPECT_FLOAT_EQ(b.range_hi, (127 + 28) * 0.01f);
  EXPECT_TRUE((*t)[2].symmetric);
  EXPECT_TRUE((*t)[2].is_unsigned);
}

struct BadTable {
  const char* what;
  std::string tensors;  // the "tensors" array body, or a whole document when it starts with '!'
  const char* expect;
};

TEST(CalibTable, MalformedTablesAreRejectedWithContext) {
  const std::string ok = R"({"name": "ok", "scale": 0.1, "zero_point": 0})";
  const BadTable cases[] = {
      {"not json", "!{\"format\": ", "not valid JSON"},
      {"json syntax", "!{\"format\": \"lowbit-calibration-table\",\n \"version\": 1,\n \"tensors\": [}", "line 3"},
      {"not an object", "![1, 2]", "expected a JSON object"},
      {"wrong format", "!{\"format\": \"other\", \"version\": 1, \"tensors\": []}",
       "expected 'lowbit-calibration-table'"},
      {"wrong version", "!{\"format\": \"lowbit-calibration-table\", \"version\": 7, \"tensors\": []}",
       "unsupported table version 7"},
      {"no tensors", "!{\"format\": \"lowbit-calibration-table\", \"version\": 1}", "missing the \"tensors\" array"},
      {"unknown top key", "!{\"format\": \"lowbit-calibration-table\", \"version\": 1, \"tensors\": [], \"x\": 1}",
       "unknown key 'x'"},
      {"bad option method",
       "!{\"format\": \"lowbit-calibration-table\", \"version\": 1, \"options\": {\"method\": \"best\"}, \"tensors\": "
       "[]}",
       "unknown method 'best'"},
      {"bad option percentile",
       "!{\"format\": \"lowbit-calibration-table\", \"version\": 1, \"options\": {\"percentile\": 0}, \"tensors\": []}",
       "percentile must be in (0, 100]"},
      {"tensor not an object", "3", "tensor #0 must be an object"},
      {"missing scale", R"({"name": "x", "zero_point": 0})", "tensor #0 ('x'): missing 'scale'"},
      {"missing name", R"({"scale": 1, "zero_point": 0})", "tensor #0: missing 'name'"},
      {"scale as string", R"({"name": "x", "scale": "0.1", "zero_point": 0})", "'scale' must be a number"},
      {"negative scale", R"({"name": "x", "scale": -1, "zero_point": 0})", "tensor #0 ('x'): 'scale' must be > 0"},
      {"zero scale", R"({"name": "x", "scale": 0, "zero_point": 0})", "'scale' must be > 0"},
      {"huge scale", R"({"name": "x", "scale": 1e300, "zero_point": 0})", "'scale' must be > 0 and finite"},
      {"fractional zero point", R"({"name": "x", "scale": 1, "zero_point": 1.5})", "'zero_point' must be an integer"},
      {"zero point outside int8", R"({"name": "x", "scale": 1, "zero_point": 200, "symmetric": false})",
       "'zero_point' 200 is outside int8 [-128, 127]"},
      {"zero point outside uint8", R"({"name": "x", "scale": 1, "zero_point": -1, "is_unsigned": true})",
       "outside uint8 [0, 255]"},
      {"zero point beyond int32", R"({"name": "x", "scale": 1, "zero_point": 99999999999})", "outside int8"},
      {"symmetric with zero point", R"({"name": "x", "scale": 1, "zero_point": 3, "symmetric": true})",
       "symmetric int8 needs 'zero_point' 0, got 3"},
      {"empty name", R"({"name": "", "scale": 1, "zero_point": 0})", "'name' must not be empty"},
      {"duplicate name", ok + "," + ok, "tensor #1 ('ok'): name also used by tensor #0"},
      {"unknown tensor key", R"({"name": "x", "scale": 1, "zero_point": 0, "sacle": 2})", "unknown key 'sacle'"},
      {"min > max", R"({"name": "x", "scale": 1, "zero_point": 0, "min": 2, "max": 1})", "'min' 2 > 'max' 1"},
      {"range inverted", R"({"name": "x", "scale": 1, "zero_point": 0, "range_lo": 1, "range_hi": -1})",
       "'range_lo' 1 > 'range_hi' -1"},
      {"negative histogram", R"({"name": "x", "scale": 1, "zero_point": 0, "histogram": [1, -2]})",
       "'histogram'[1] must be >= 0"},
      {"histogram not numbers", R"({"name": "x", "scale": 1, "zero_point": 0, "histogram": [1, "a"]})",
       "'histogram'[1] must be a number"},
      {"bad bool", R"({"name": "x", "scale": 1, "zero_point": 0, "symmetric": 1})",
       "'symmetric' must be true or false"},
      {"negative count", R"({"name": "x", "scale": 1, "zero_point": 0, "count": -4})", "'count'"},
      {"candidate without threshold",
       R"({"name": "x", "scale": 1, "zero_point": 0, "candidates": [{"method": "mse"}]})",
       "candidate #0 needs 'method' and 'threshold'"},
      {"huge float", R"({"name": "x", "scale": 1, "zero_point": 0, "max": 1e39})", "'max' must be finite"},
  };
  TempDir d;
  for (const BadTable& c : cases) {
    const std::string text = c.tensors[0] == '!' ? c.tensors.substr(1)
                                                 : "{\"format\": \"lowbit-calibration-table\", \"version\": 1, "
                                                   "\"tensors\": [" +
                                                       c.tensors + "]}";
    const std::string p = d.file("bad.json");
    std::ofstream(p, std::ios::binary) << text;
    auto r = read_calibration_table(p);
    ASSERT_FALSE(r.ok()) << c.what;
    const std::string msg = r.status().message();
    EXPECT_NE(msg.find(p), std::string::npos) << c.what << ": " << msg;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << c.what << ": " << msg;
  }
  auto missing = read_calibration_table(d.file("nope.json"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

TEST(CalibTable, WriteValidatesAndWritesNothingOnError) {
  TempDir d;
  std::vector<TensorCalibration> t = sample_table();
  t[1].name = t[0].name;
  const std::string p = d.file("t.json");
  Status s = write_calibration_table(p, t, CalibOptions());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("name also used"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(p), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(p));

  t = sample_table();
  t[0].scale = std::numeric_limits<float>::quiet_NaN();
  EXPECT_FALSE(write_calibration_table(p, t, CalibOptions()).ok());
  t = sample_table();
  t[2].zero_point = 0;  // uint8 symmetric needs 128
  s = write_calibration_table(p, t, CalibOptions());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("symmetric uint8 needs 'zero_point' 128"), std::string::npos) << s.message();
  CalibOptions bad;
  bad.percentile = 101;
  EXPECT_FALSE(write_calibration_table(p, sample_table(), bad).ok());
  EXPECT_FALSE(fs::exists(p));
}

TEST(CalibTable, GarbageDoesNotCrash) {
  std::mt19937 rng(9);
  for (int round = 0; round < 20; ++round) {
    std::string junk;
    for (int i = 0; i < 300; ++i) junk.push_back(char(rng() & 0xff));
    EXPECT_FALSE(parse_calibration_table(junk).ok());
  }
  // Deep nesting (a recursive parser or destructor would overflow the stack).
  EXPECT_FALSE(parse_calibration_table(std::string(100000, '[') + std::string(100000, ']')).ok());
  // Valid JSON of every shape in the wrong places.
  for (const char* doc :
       {"null", "[]", "{}", "\"x\"", "{\"format\": 1}", "{\"format\": \"lowbit-calibration-table\"}",
        "{\"format\": \"lowbit-calibration-table\", \"version\": \"1\"}",
        "{\"format\": \"lowbit-calibration-table\", \"version\": 1, \"tensors\": {}}",
        "{\"format\": \"lowbit-calibration-table\", \"version\": 1, \"options\": [], \"tensors\": []}",
        "{\"format\": \"lowbit-calibration-table\", \"version\": 1, \"tensors\": [{\"name\": "
        "\"x\", \"scale\": 1, \"zero_point\": 0, \"candidates\": 5}]}"})
    EXPECT_FALSE(parse_calibration_table(doc).ok()) << doc;
}

}  // namespace
}  // namespace lowbit::quant
