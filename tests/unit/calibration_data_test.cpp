// Calibration data: .npy batching for dynamic and fixed batch sizes (with the remainder warning), dtype
// conversion, folders of .npy, images with preprocessing, lazy per-batch reading, and every bad input
// (missing/unknown inputs, wrong shapes, bad files, empty folders, NaN) with the content of its message.
#include "quant/calibration_data.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>

#include "image_test_util.h"
#include "io/npy.h"

namespace lowbit::quant {
namespace {

using lowbit::testing::TempDir;

Graph make_model(const std::vector<std::pair<std::string, ValueType>>& inputs) {
  Graph g;
  for (auto& [name, type] : inputs) {
    g.inputs.push_back(name);
    ValueInfo vi;
    vi.name = name;
    vi.type = type;
    g.values[name] = vi;
  }
  return g;
}

ValueType f32(std::vector<Dim> dims) { return ValueType(DType::kFloat32, std::move(dims)); }
Dim sym(const char* name) { return Dim::symbol(name); }

// Values start, start+1, ... in any numeric dtype.
Tensor seq(DType dtype, Shape shape, double start = 0) {
  Tensor t(dtype, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) {
    double v = start + double(i);
    switch (dtype) {
      case DType::kFloat32:
        t.data<float>()[i] = float(v);
        break;
      case DType::kFloat64:
        t.data<double>()[i] = v;
        break;
      case DType::kInt32:
        t.data<int32_t>()[i] = int32_t(v);
        break;
      case DType::kInt64:
        t.data<int64_t>()[i] = int64_t(v);
        break;
      case DType::kUint8:
        t.data<uint8_t>()[i] = uint8_t(v);
        break;
      default:
        ADD_FAILURE() << "seq: dtype " << dtype_name(dtype);
    }
  }
  return t;
}

void save(const std::string& path, const Tensor& t) { ASSERT_TRUE(write_npy(path, t).ok()) << path; }

CalibDataOptions npy_options(const std::string& input, const std::string& path) {
  CalibDataOptions o;
  o.sources.push_back({input, path});
  return o;
}

std::unique_ptr<CalibrationData> open_ok(const Graph& g, const CalibDataOptions& o) {
  auto d = CalibrationData::open(g, o);
  EXPECT_TRUE(d.ok()) << d.status().message();
  return d.ok() ? std::move(d).value() : nullptr;
}

std::string open_error(const Graph& g, const CalibDataOptions& o) {
  auto d = CalibrationData::open(g, o);
  EXPECT_FALSE(d.ok()) << "open() succeeded";
  return d.ok() ? "" : d.status().message();
}

#define EXPECT_CONTAINS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

TEST(CalibData, NpyDynamicBatchGivesOneSamplePerBatch) {
  TempDir dir("calib");
  save(dir.file("x.npy"), seq(DType::kFloat32, {5, 3, 2, 2}));
  Graph g = make_model({{"x", f32({sym("batch"), 3, 2, 2})}});
  auto data = open_ok(g, npy_options("x", dir.file("x.npy")));
  ASSERT_TRUE(data);
  EXPECT_EQ(data->batch_size(), 1);
  EXPECT_EQ(data->num_batches(), 5);
  EXPECT_EQ(data->num_samples(), 5);
  EXPECT_TRUE(data->warnings().empty());
  auto b = data->batch(3);
  ASSERT_TRUE(b.ok()) << b.status().message();
  const Tensor& x = b->at("x");
  EXPECT_EQ(x.shape(), (Shape{1, 3, 2, 2}));
  for (int64_t i = 0; i < 12; ++i) EXPECT_EQ(x.data<float>()[i], float(36 + i));
  EXPECT_EQ(data->describe_batch(3), dir.file("x.npy") + " sample 3");
  EXPECT_FALSE(data->batch(5).ok());
  EXPECT_FALSE(data->batch(-1).ok());
  EXPECT_CONTAINS(data->describe(), "5 batches of 1 samples");
}

TEST(CalibData, NpyFixedBatchGroupsSamplesAndWarnsAboutTheRemainder) {
  TempDir dir("calib");
  save(dir.file("x.npy"), seq(DType::kFloat32, {5, 2}));
  Graph g = make_model({{"x", f32({2, 2})}});
  auto data = open_ok(g, npy_options("x", dir.file("x.npy")));
  ASSERT_TRUE(data);
  EXPECT_EQ(data->batch_size(), 2);
  EXPECT_EQ(data->num_batches(), 2);
  ASSERT_EQ(data->warnings().size(), 1u);
  EXPECT_EQ(data->warnings()[0], "the last 1 of 5 samples do not fill a batch of 2 and are skipped");
  auto b = data->batch(1);
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->at("x").shape(), (Shape{2, 2}));
  EXPECT_EQ(std::vector<float>(b->at("x").data<float>(), b->at("x").data<float>() + 4),
            (std::vector<float>{4, 5, 6, 7}));
  EXPECT_EQ(data->describe_batch(1), dir.file("x.npy") + " samples 2..3");
}

TEST(CalibData, SingleSampleFileAndSymbolicDims) {
  TempDir dir("calib");
  save(dir.file("one.npy"), seq(DType::kFloat32, {3, 7, 5}));  // rank = model rank - 1: one sample
  Graph g = make_model({{"x", f32({sym("batch"), 3, sym("h"), sym("w")})}});
  auto data = open_ok(g, npy_options("x", dir.file("one.npy")));
  ASSERT_TRUE(data);
  EXPECT_EQ(data->num_batches(), 1);
  auto b = data->batch(0);
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->at("x").shape(), (Shape{1, 3, 7, 5}));
  EXPECT_EQ(b->at("x").data<float>()[104], 104.0f);
}

TEST(CalibData, NumericDtypesAreConvertedToTheInputType) {
  TempDir dir("calib");
  save(dir.file("f64.npy"), seq(DType::kFloat64, {2, 3}, 0.5));
  save(dir.file("i32.npy"), seq(DType::kInt32, {2, 3}, -3));
  save(dir.file("u8.npy"), seq(DType::kUint8, {2, 3}, 250));
  Graph g = make_model(
      {{"a", f32({sym("n"), 3})}, {"b", f32({sym("n"), 3})}, {"c", ValueType(DType::kFloat16, {sym("n"), 3})}});
  CalibDataOptions o;
  o.sources = {{"a", dir.file("f64.npy")}, {"b", dir.file("i32.npy")}, {"c", dir.file("u8.npy")}};
  auto data = open_ok(g, o);
  ASSERT_TRUE(data);
  auto b = data->batch(1);
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->at("a").dtype(), DType::kFloat32);
  EXPECT_EQ(b->at("a").data<float>()[2], 5.5f);
  EXPECT_EQ(b->at("b").data<float>()[0], 0.0f);
  EXPECT_EQ(b->at("c").dtype(), DType::kFloat16);
  EXPECT_EQ(b->at("c").get_as_double(2), 255.0);
  EXPECT_CONTAINS(data->describe_batch(1), "a: " + dir.file("f64.npy") + " sample 1; b: ");

  // Integer inputs take integral floats; anything that would change a value is an error naming file + sample.
  Graph ids = make_model({{"ids", ValueType(DType::kInt64, {sym("n"), 3})}});
  Tensor good = seq(DType::kFloat64, {2, 3});
  save(dir.file("good.npy"), good);
  auto ok = open_ok(ids, npy_options("ids", dir.file("good.npy")));
  ASSERT_TRUE(ok);
  auto ok_batch = ok->batch(1);
  ASSERT_TRUE(ok_batch.ok()) << ok_batch.status().message();
  EXPECT_EQ(ok_batch->at("ids").data<int64_t>()[2], 5);

  Tensor half = seq(DType::kFloat64, {2, 3});
  half.data<double>()[4] = 3.5;
  save(dir.file("half.npy"), half);
  auto h = open_ok(ids, npy_options("ids", dir.file("half.npy")));
  ASSERT_TRUE(h);
  EXPECT_TRUE(h->batch(0).ok());
  auto bad = h->batch(1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), dir.file("half.npy") +
                                        " sample 1: value 3.5 is not an integer (element 1 of the sample; input "
                                        "'ids' is int64)");

  Graph u8 = make_model({{"p", ValueType(DType::kUint8, {sym("n"), 2})}});
  save(dir.file("big.npy"), Tensor::from_vector<int64_t>(DType::kInt64, {2, 2}, {1, 2, 3, 300}));
  auto big = open_ok(u8, npy_options("p", dir.file("big.npy")));
  ASSERT_TRUE(big);
  auto big_batch = big->batch(1);
  ASSERT_FALSE(big_batch.ok());
  EXPECT_CONTAINS(big_batch.status().message(), "big.npy sample 1: value 300 is outside the uint8 range");

  save(dir.file("huge.npy"), Tensor::from_vector<double>(DType::kFloat64, {1, 3}, {1, 2, 1e300}));
  auto huge = open_ok(make_model({{"x", f32({sym("n"), 3})}}), npy_options("x", dir.file("huge.npy")));
  ASSERT_TRUE(huge);
  auto huge_batch = huge->batch(0);
  ASSERT_FALSE(huge_batch.ok());
  EXPECT_CONTAINS(huge_batch.status().message(), "huge.npy sample 0: value 1e+300 is outside the float32 range");
}

TEST(CalibData, BoolObjectAndStringDataAreRefused) {
  TempDir dir("calib");
  Graph g = make_model({{"x", f32({sym("n"), 2})}});
  save(dir.file("b.npy"), Tensor(DType::kBool, {3, 2}));
  EXPECT_CONTAINS(
      open_error(g, npy_options("x", dir.file("b.npy"))),
      dir.file("b.npy") + ": bool data cannot feed input 'x' float32[n,2] (bool data feeds only bool inputs)");
  // Hand-written headers numpy produces for object and unicode arrays.
  for (auto [name, descr] : {std::pair{"o.npy", "|O"}, std::pair{"s.npy", "<U3"}}) {
    std::string dict = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (2, 2), }";
    std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
    std::string header = dict + std::string(64 - (10 + dict.size() + 1) % 64, ' ') + "\n";
    bytes.push_back(char(header.size() & 0xff));
    bytes.push_back(char(header.size() >> 8));
    bytes += header + std::string(64, '\0');
    lowbit::testing::write_bytes(dir.file(name), bytes);
    std::string msg = open_error(g, npy_options("x", dir.file(name)));
    EXPECT_CONTAINS(msg, dir.file(name));
    EXPECT_CONTAINS(msg, "unsupported dtype");
  }
}

TEST(CalibData, NanAndInfNameTheFileAndSample) {
  TempDir dir("calib");
  Tensor t = seq(DType::kFloat32, {20, 4});
  t.data<float>()[17 * 4 + 2] = std::numeric_limits<float>::quiet_NaN();
  t.data<float>()[3 * 4] = -std::numeric_limits<float>::infinity();
  save(dir.file("x.npy"), t);
  auto data = open_ok(make_model({{"x", f32({sym("n"), 4})}}), npy_options("x", dir.file("x.npy")));
  ASSERT_TRUE(data);
  EXPECT_TRUE(data->batch(16).ok());
  auto nan = data->batch(17);
  ASSERT_FALSE(nan.ok());
  EXPECT_CONTAINS(nan.status().message(), dir.file("x.npy") + " sample 17: contains NaN (element 2 of the sample");
  auto inf = data->batch(3);
  ASSERT_FALSE(inf.ok());
  EXPECT_CONTAINS(inf.status().message(), "x.npy sample 3: contains -Inf");
}

// Batches are read when asked for: data written after open() is what batch() sees (so nothing was held
// in memory), and a file whose size changed is refused instead of read at stale offsets.
TEST(CalibData, ReadsEachBatchFromDiskWhenAskedFor) {
  TempDir dir("calib");
  const std::string path = dir.file("x.npy");
  save(path, seq(DType::kFloat32, {1000, 8}));
  auto data = open_ok(make_model({{"x", f32({sym("n"), 8})}}), npy_options("x", path));
  ASSERT_TRUE(data);
  EXPECT_EQ(data->num_batches(), 1000);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    std::string bytes = lowbit::testing::read_bytes(path);
    size_t data_offset = bytes.size() - 1000 * 8 * 4;
    float nan = std::numeric_limits<float>::quiet_NaN();
    f.seekp(std::streamoff(data_offset + 500 * 8 * 4));
    f.write(reinterpret_cast<const char*>(&nan), 4);
  }
  auto b = data->batch(999);
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->at("x").data<float>()[7], 999 * 8 + 7.0f);
  EXPECT_CONTAINS(data->batch(500).status().message(), "x.npy sample 500: contains NaN");
  save(path, seq(DType::kFloat32, {10, 8}));
  EXPECT_CONTAINS(data->batch(0).status().message(), "changed since its header was read");
}

TEST(CalibData, FolderOfNpyFilesInNameOrder) {
  TempDir dir("calib");
  save(dir.file("a.npy"), seq(DType::kFloat32, {2, 2}, 0));    // samples 0, 1
  save(dir.file("b.npy"), seq(DType::kFloat64, {2}, 100));     // one sample (rank - 1): 2
  save(dir.file("c.npy"), seq(DType::kFloat32, {3, 2}, 200));  // samples 3, 4, 5
  lowbit::testing::write_bytes(dir.file("notes.txt"), "ignored");
  lowbit::testing::write_bytes(dir.file(".hidden.npy"), "ignored too");
  Graph g = make_model({{"x", f32({2, 2})}});
  auto data = open_ok(g, npy_options("x", dir.path()));
  ASSERT_TRUE(data);
  EXPECT_EQ(data->num_batches(), 3);
  EXPECT_TRUE(data->warnings().empty());
  auto b = data->batch(1);
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(std::vector<float>(b->at("x").data<float>(), b->at("x").data<float>() + 4),
            (std::vector<float>{100, 101, 200, 201}));
  EXPECT_EQ(data->describe_batch(1), dir.file("b.npy") + " sample 0, " + dir.file("c.npy") + " sample 0");
  EXPECT_CONTAINS(data->describe(), "(3 .npy files)");
}

TEST(CalibData, FoldersWithoutData) {
  TempDir dir("calib");
  Graph g = make_model({{"x", f32({sym("n"), 3, 2, 2})}});
  EXPECT_EQ(open_error(g, npy_options("x", dir.path())),
            "--calib x=" + dir.path() + ": folder '" + dir.path() + "' has no .npy files");
  lowbit::testing::write_png_rgb(dir.file("a.png"), 2, 2, std::vector<uint16_t>(12, 5));
  EXPECT_CONTAINS(open_error(g, npy_options("x", dir.path())),
                  "has no .npy files (it has 1 PNG/JPEG images: use --calib-images x=" + dir.path() + ")");
  EXPECT_EQ(open_error(g, npy_options("x", dir.file("nope"))),
            "--calib x=" + dir.file("nope") + ": no such file or folder");
}

TEST(CalibData, InputNamesMustMatchTheModel) {
  TempDir dir("calib");
  save(dir.file("x.npy"), seq(DType::kFloat32, {2, 3}));
  Graph two = make_model({{"x", f32({sym("n"), 3})}, {"y", ValueType(DType::kInt64, {sym("n"), 3})}});
  EXPECT_EQ(open_error(two, npy_options("x", dir.file("x.npy"))),
            "no calibration data for input(s) 'y' int64[n,3]; give --calib NAME=FILE.npy for each; the model's "
            "inputs: 'x' float32[n,3], 'y' int64[n,3]");
  EXPECT_CONTAINS(open_error(two, npy_options("z", dir.file("x.npy"))),
                  "the model has no input 'z'; its inputs: 'x' float32[n,3], 'y' int64[n,3]");
  EXPECT_CONTAINS(open_error(two, npy_options("", dir.file("x.npy"))), "say which input it feeds");
  CalibDataOptions twice = npy_options("x", dir.file("x.npy"));
  twice.sources.push_back({"x", dir.file("x.npy")});
  EXPECT_CONTAINS(open_error(two, twice), "input 'x' is given calibration data twice");
  EXPECT_CONTAINS(open_error(two, CalibDataOptions{}), "no calibration data: give --calib");
  // A single-input model needs no name.
  EXPECT_TRUE(open_ok(make_model({{"x", f32({sym("n"), 3})}}), npy_options("", dir.file("x.npy"))));

  EXPECT_EQ(parse_calib_source("a=b=c.npy")->input, "a");
  EXPECT_EQ(parse_calib_source("a=b=c.npy")->path, "b=c.npy");
  EXPECT_EQ(parse_calib_source("x.npy")->input, "");
  EXPECT_CONTAINS(parse_calib_source("=x.npy").status().message(), "no input name");
  EXPECT_CONTAINS(parse_calib_source("x=").status().message(), "no file or folder");
}

TEST(CalibData, ShapesMustFitTheModel) {
  TempDir dir("calib");
  Graph g = make_model({{"x", f32({sym("batch"), 3, 4})}});
  save(dir.file("dim.npy"), seq(DType::kFloat32, {2, 3, 5}));
  EXPECT_EQ(open_error(g, npy_options("x", dir.file("dim.npy"))),
            dir.file("dim.npy") +
                ": samples of shape [3,5] do not fit input 'x' float32[batch,3,4]: dim 2 is 5 in "
                "the file but 4 in the model");
  save(dir.file("rank.npy"), seq(DType::kFloat32, {12}));
  EXPECT_EQ(open_error(g, npy_options("x", dir.file("rank.npy"))),
            dir.file("rank.npy") +
                ": shape [12] does not fit input 'x' float32[batch,3,4]: expected [N,3,4] (N "
                "samples) or [3,4] (one sample)");
  save(dir.file("none.npy"), Tensor(DType::kFloat32, {0, 3, 4}));
  EXPECT_CONTAINS(open_error(g, npy_options("x", dir.file("none.npy"))), "none.npy: holds no samples (shape 0x3x4)");
  Graph sym_w = make_model({{"x", f32({sym("batch"), 3, sym("w")})}});
  save(dir.file("empty.npy"), Tensor(DType::kFloat32, {2, 3, 0}));
  EXPECT_CONTAINS(open_error(sym_w, npy_options("x", dir.file("empty.npy"))), "empty.npy: its samples are empty");
  // With a fixed batch of several samples, one batch needs one shape.
  TempDir folder("calib");
  save(folder.file("a.npy"), seq(DType::kFloat32, {2, 3, 4}));
  save(folder.file("b.npy"), seq(DType::kFloat32, {2, 3, 6}));
  Graph fixed = make_model({{"x", f32({2, 3, sym("w")})}});
  EXPECT_CONTAINS(open_error(fixed, npy_options("x", folder.path())), "a batch of 2 samples needs one shape");
  // ... but with a dynamic batch every sample may have its own.
  auto dyn = open_ok(sym_w, npy_options("x", folder.path()));
  ASSERT_TRUE(dyn);
  auto last = dyn->batch(3);
  ASSERT_TRUE(last.ok()) << last.status().message();
  EXPECT_EQ(last->at("x").shape(), (Shape{1, 3, 6}));
}

TEST(CalibData, BadNpyFilesAreErrorsNotCrashes) {
  TempDir dir("calib");
  Graph g = make_model({{"x", f32({sym("n"), 4})}});
  std::string good = serialize_npy(seq(DType::kFloat32, {3, 4}));
  for (size_t n : {size_t(0), size_t(5), size_t(20), good.size() - 1}) {
    lowbit::testing::write_bytes(dir.file("cut.npy"), good.substr(0, n));
    std::string msg = open_error(g, npy_options("x", dir.file("cut.npy")));
    EXPECT_CONTAINS(msg, dir.file("cut.npy"));
  }
  // A header claiming a billion samples in a 100-byte file.
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 4), }";
  std::string header = dict + std::string(64 - (10 + dict.size() + 1) % 64, ' ') + "\n";
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8) + char(header.size() & 0xff) + char(header.size() >> 8) +
                      header + std::string(16, '\0');
  lowbit::testing::write_bytes(dir.file("claims.npy"), bytes);
  EXPECT_CONTAINS(open_error(g, npy_options("x", dir.file("claims.npy"))), "data size mismatch");
  lowbit::testing::write_bytes(dir.file("text.npy"), "not numpy at all");
  EXPECT_CONTAINS(open_error(g, npy_options("x", dir.file("text.npy"))), "is not a .npy file");
}

TEST(CalibData, SampleCountsAgreeAndLimit) {
  TempDir dir("calib");
  save(dir.file("x.npy"), seq(DType::kFloat32, {5, 2}));
  save(dir.file("y.npy"), seq(DType::kFloat32, {4, 2}));
  Graph g = make_model({{"x", f32({sym("n"), 2})}, {"y", f32({sym("n"), 2})}});
  CalibDataOptions o;
  o.sources = {{"x", dir.file("x.npy")}, {"y", dir.file("y.npy")}};
  EXPECT_CONTAINS(open_error(g, o), "the inputs have different numbers of samples: 'x' 5 (" + dir.file("x.npy") +
                                        "), 'y' 4 (" + dir.file("y.npy") + ")");

  Graph one = make_model({{"x", f32({sym("n"), 2})}});
  CalibDataOptions limited = npy_options("x", dir.file("x.npy"));
  limited.limit = 3;
  auto data = open_ok(one, limited);
  ASSERT_TRUE(data);
  EXPECT_EQ(data->num_batches(), 3);
  limited.limit = 0;
  EXPECT_CONTAINS(open_error(one, limited), "--calib-limit must be a positive number of samples (got 0)");
  limited.limit = -5;
  EXPECT_CONTAINS(open_error(one, limited), "--calib-limit must be a positive");
  Graph eight = make_model({{"x", f32({8, 2})}});
  limited.limit = 4;
  EXPECT_EQ(open_error(eight, limited),
            "one batch needs 8 samples (the model's batch size) but --calib-limit 4 allows 4");
  limited.limit = -1;
  EXPECT_EQ(open_error(eight, limited), "one batch needs 8 samples (the model's batch size) but the data has 5");
  limited.limit = 7;
  Graph three = make_model({{"x", f32({3, 2})}});
  save(dir.file("x9.npy"), seq(DType::kFloat32, {9, 2}));
  limited.sources[0].path = dir.file("x9.npy");
  auto lim = open_ok(three, limited);
  ASSERT_TRUE(lim);
  EXPECT_EQ(lim->num_batches(), 2);
  ASSERT_EQ(lim->warnings().size(), 1u);
  EXPECT_CONTAINS(lim->warnings()[0], "the last 1 of 7 samples");
}

TEST(CalibData, FixedBatchDimsMustAgreeAndSymbolicOnesFollow) {
  TempDir dir("calib");
  save(dir.file("x.npy"), seq(DType::kFloat32, {4, 2}));
  save(dir.file("y.npy"), seq(DType::kFloat32, {4, 3}));
  CalibDataOptions o;
  o.sources = {{"x", dir.file("x.npy")}, {"y", dir.file("y.npy")}};
  EXPECT_CONTAINS(open_error(make_model({{"x", f32({2, 2})}, {"y", f32({1, 3})}}), o),
                  "the model's inputs disagree on the batch size (first dim): 'x' float32[2,2] and 'y' float32[1,3]");
  auto data = open_ok(make_model({{"x", f32({2, 2})}, {"y", f32({sym("n"), 3})}}), o);
  ASSERT_TRUE(data);
  EXPECT_EQ(data->batch_size(), 2);
  auto b = data->batch(1);
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->at("y").shape(), (Shape{2, 3}));
  EXPECT_EQ(b->at("y").data<float>()[0], 6.0f);
}

TEST(CalibData, SharedSymbolicDimsAgreeWithinABatch) {
  TempDir ids("calib"), mask("calib");
  save(ids.file("0.npy"), seq(DType::kInt64, {1, 5}));
  save(ids.file("1.npy"), seq(DType::kInt64, {1, 7}));
  save(mask.file("0.npy"), seq(DType::kInt64, {1, 5}));
  save(mask.file("1.npy"), seq(DType::kInt64, {1, 6}));
  Graph g = make_model({{"ids", ValueType(DType::kInt64, {sym("batch"), sym("seq")})},
                        {"mask", ValueType(DType::kInt64, {sym("batch"), sym("seq")})}});
  CalibDataOptions o;
  o.sources = {{"ids", ids.path()}, {"mask", mask.path()}};
  EXPECT_EQ(open_error(g, o), "batch 1: the symbolic dim 'seq' is 7 in 'ids' (" + ids.file("1.npy") +
                                  ") but 6 in 'mask' (" + mask.file("1.npy") + ")");
  save(mask.file("1.npy"), seq(DType::kInt64, {1, 7}));
  auto data = open_ok(g, o);
  ASSERT_TRUE(data);
  auto b = data->batch(1);
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->at("mask").shape(), (Shape{1, 7}));
}

// ---- images ---------------------------------------------------------------------------------

TEST(CalibData, ImagesArePreprocessedIntoNchwBatches) {
  TempDir dir("calib");
  // Two 2x2 PNGs with known pixels, a flat JPEG, and files that are not images.
  lowbit::testing::write_png_rgb(dir.file("img_0.png"), 2, 2, {0, 51, 102, 153, 204, 255, 10, 20, 30, 40, 50, 60});
  lowbit::testing::write_png(dir.file("img_1.png"), 2, 2, PNG_COLOR_TYPE_GRAY, 8, {0, 255, 51, 102});
  lowbit::testing::write_jpeg(dir.file("img_2.jpg"), 2, 2, 3, lowbit::testing::flat_rgb(2, 2, 200, 100, 50));
  lowbit::testing::write_bytes(dir.file("labels.txt"), "cat\n");
  lowbit::testing::write_bytes(dir.file("skip.bmp"), "BM");
  Graph g = make_model({{"images", f32({sym("batch"), 3, 2, 2})}});
  CalibDataOptions o;
  o.images_dir = dir.path();
  o.preprocess = "mean=0.5,std=0.5";
  auto data = open_ok(g, o);
  ASSERT_TRUE(data);
  EXPECT_EQ(data->num_batches(), 3);
  ASSERT_EQ(data->warnings().size(), 1u);
  EXPECT_CONTAINS(data->warnings()[0], "skipped 1 .bmp files");
  ASSERT_NE(data->preprocess(), nullptr);
  EXPECT_EQ(data->preprocess()->height, 2);  // from the model
  auto v = [](float pixel) { return (pixel * (1.f / 255) - 0.5f) / 0.5f; };
  auto b0 = data->batch(0);
  ASSERT_TRUE(b0.ok()) << b0.status().message();
  const Tensor& x = b0->at("images");
  EXPECT_EQ(x.shape(), (Shape{1, 3, 2, 2}));
  // R plane: pixels 0, 153, 10, 40; G plane: 51, 204, 20, 50; B: 102, 255, 30, 60.
  std::vector<float> expect = {v(0), v(153), v(10), v(40), v(51), v(204), v(20), v(50), v(102), v(255), v(30), v(60)};
  EXPECT_EQ(std::vector<float>(x.data<float>(), x.data<float>() + 12), expect);
  EXPECT_FLOAT_EQ(x.data<float>()[0], -1.0f);
  EXPECT_FLOAT_EQ(x.data<float>()[9], 1.0f);
  auto b1 = data->batch(1);  // grey: replicated into all three planes
  ASSERT_TRUE(b1.ok());
  for (int c = 0; c < 3; ++c) EXPECT_EQ(b1->at("images").data<float>()[c * 4 + 3], v(102));
  auto b2 = data->batch(2);
  ASSERT_TRUE(b2.ok());
  EXPECT_NEAR(b2->at("images").data<float>()[0], v(200), 3 * 2.0f / 255);
  EXPECT_EQ(data->describe_batch(2), dir.file("img_2.jpg"));
  EXPECT_CONTAINS(data->describe(), "'images' float32[batch,3,2,2]: 3 images from " + dir.path() +
                                        " (size=2x2,scale=1/255,mean=0.5,0.5,0.5,std=0.5,0.5,0.5");
}

TEST(CalibData, ImagesResizedIntoNhwcBgrFixedBatch) {
  TempDir dir("calib");
  // 4x2 image (2 rows of 4): resizing to 2x2 averages horizontal pairs; rows stay (scale 1 vertically).
  std::vector<uint16_t> rgb;
  for (int i = 0; i < 8; ++i) rgb.insert(rgb.end(), {uint16_t(10 * i), uint16_t(100 + i), uint16_t(200)});
  lowbit::testing::write_png_rgb(dir.file("a.png"), 4, 2, rgb);
  lowbit::testing::write_png_rgb(dir.file("b.png"), 4, 2, rgb);
  lowbit::testing::write_png_rgb(dir.file("c.png"), 4, 2, rgb);
  Graph g = make_model({{"x", f32({2, sym("h"), sym("w"), 3})}});
  CalibDataOptions o;
  o.images_dir = dir.path();
  o.preprocess = "size=2x2,scale=1,layout=nhwc,color=bgr";
  auto data = open_ok(g, o);
  ASSERT_TRUE(data);
  EXPECT_EQ(data->num_batches(), 1);
  ASSERT_EQ(data->warnings().size(), 1u);  // c.png does not fill a batch of 2
  auto b = data->batch(0);
  ASSERT_TRUE(b.ok()) << b.status().message();
  const Tensor& x = b->at("x");
  EXPECT_EQ(x.shape(), (Shape{2, 2, 2, 3}));
  // Pixel (0,0) of sample 0: B=200, G=avg(100,101), R=avg(0,10); pixel (1,1): R=avg(60,70), G=avg(106,107).
  EXPECT_EQ(std::vector<float>(x.data<float>(), x.data<float>() + 3), (std::vector<float>{200, 100.5f, 5}));
  EXPECT_EQ(std::vector<float>(x.data<float>() + 9, x.data<float>() + 12), (std::vector<float>{200, 106.5f, 65}));
  EXPECT_EQ(x.data<float>()[12], 200);  // sample 1 starts with the same image content
  EXPECT_EQ(data->describe_batch(0), dir.file("a.png") + " .. " + dir.file("b.png") + " (2 images)");
}

TEST(CalibData, ImagesNamedWithSeveralInputs) {
  TempDir dir("calib"), npy("calib");
  lowbit::testing::write_png_rgb(dir.file("a.png"), 2, 2, std::vector<uint16_t>(12, 255));
  save(npy.file("info.npy"), seq(DType::kFloat32, {1, 2}));
  Graph g = make_model({{"image", f32({1, 3, 2, 2})}, {"info", f32({1, 2})}, {"other", f32({1, 3, 2, 2})}});
  CalibDataOptions o;
  o.sources = {{"info", npy.file("info.npy")}, {"other", npy.file("info.npy")}};
  o.images_dir = dir.path();
  EXPECT_CONTAINS(open_error(g, o), "does not fit input 'other'");  // npy errors come first
  o.sources.pop_back();
  EXPECT_CONTAINS(open_error(g, o), "say which one takes the images: --calib-images NAME=" + dir.path());
  o.images_dir = "image=" + dir.path();
  o.sources.push_back({"other", dir.path()});
  EXPECT_CONTAINS(open_error(g, o), "has no .npy files (it has 1 PNG/JPEG images: use --calib-images other=");
  o.sources.pop_back();
  save(npy.file("other.npy"), seq(DType::kFloat32, {1, 3, 2, 2}));
  o.sources.push_back({"other", npy.file("other.npy")});
  auto data = open_ok(g, o);
  ASSERT_TRUE(data);
  auto b = data->batch(0);
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_FLOAT_EQ(b->at("image").data<float>()[0], 1.0f);
  EXPECT_EQ(b->at("info").shape(), (Shape{1, 2}));
  EXPECT_EQ(b->size(), 3u);
}

TEST(CalibData, ImageFolderErrors) {
  TempDir dir("calib");
  Graph g = make_model({{"x", f32({sym("batch"), 3, 2, 2})}});
  CalibDataOptions o;
  o.images_dir = dir.path();
  EXPECT_EQ(open_error(g, o), "--calib-images " + dir.path() + ": folder has no PNG/JPEG images (.png, .jpg, .jpeg)");
  lowbit::testing::write_bytes(dir.file("a.webp"), "RIFF");
  save(dir.file("a.npy"), seq(DType::kFloat32, {1, 3, 2, 2}));
  EXPECT_CONTAINS(open_error(g, o),
                  "it has 1 .webp files, which lowbit does not decode: convert them; it has 1 .npy "
                  "files: use --calib x=" +
                      dir.path());
  o.images_dir = dir.file("missing");
  EXPECT_CONTAINS(open_error(g, o), "missing: no such folder");
  o.images_dir = dir.file("a.npy");
  EXPECT_CONTAINS(open_error(g, o), "not a folder");

  // Not-an-image content behind an image name: found at open(), naming the file.
  o.images_dir = dir.path();
  lowbit::testing::write_bytes(dir.file("img_0042.png"), "<html>404</html>");
  EXPECT_EQ(open_error(g, o), dir.file("img_0042.png") + ": not a PNG/JPEG file");
  // A corrupt image with a valid signature: found by batch(), naming the file.
  std::filesystem::remove(dir.file("img_0042.png"));
  lowbit::testing::write_png_rgb(dir.file("good.png"), 2, 2, std::vector<uint16_t>(12, 1));
  std::string png = lowbit::testing::read_bytes(dir.file("good.png"));
  lowbit::testing::write_bytes(dir.file("truncated.png"), png.substr(0, png.size() / 2));
  auto data = open_ok(g, o);
  ASSERT_TRUE(data);
  EXPECT_TRUE(data->batch(0).ok());
  auto bad = data->batch(1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind(dir.file("truncated.png") + ": ", 0), 0u) << bad.status().message();
}

TEST(CalibData, ImagesMustFitTheInput) {
  TempDir dir("calib");
  lowbit::testing::write_png_rgb(dir.file("a.png"), 2, 2, std::vector<uint16_t>(12, 1));
  CalibDataOptions o;
  o.images_dir = dir.path();
  auto err = [&](const Graph& g) { return open_error(g, o); };
  EXPECT_CONTAINS(err(make_model({{"x", f32({1, 4, 2, 2})}})),
                  "input 'x' float32[1,4,2,2]: dim 1 (the channels with layout=nchw) is 4, but images give 3 channels");
  EXPECT_CONTAINS(err(make_model({{"x", f32({1, 224, 224, 3})}})),
                  "dim 1 (the channels with layout=nchw) is 224, but images give 3 channels (or 1 for grey); the input "
                  "looks NHWC: add layout=nhwc in --preprocess");
  EXPECT_CONTAINS(err(make_model({{"x", f32({1, 3, sym("h"), sym("w")})}})),
                  "has no fixed height and width (dims 2 and 3): say which size to resize to with size=HxW");
  EXPECT_CONTAINS(err(make_model({{"x", f32({1, 3, 2})}})), "images feed 4-D inputs (NCHW or NHWC)");
  EXPECT_CONTAINS(err(make_model({{"x", ValueType(DType::kUint8, {1, 3, 2, 2})}})),
                  "images feed float inputs, but input 'x' uint8[1,3,2,2] is uint8; give --calib x=FILE.npy");
  o.preprocess = "size=4x4";
  EXPECT_CONTAINS(
      err(make_model({{"x", f32({1, 3, 2, 2})}})),
      "--preprocess size=4x4 does not fit input 'x' float32[1,3,2,2]: dim 2 (height with layout=nchw) is 2");
  o.preprocess = "size=4x4,colour=rgb";
  EXPECT_CONTAINS(err(make_model({{"x", f32({1, 3, 2, 2})}})), "unknown key 'colour'");
  o.preprocess = "mean=0.1,0.2,0.3";
  EXPECT_CONTAINS(err(make_model({{"x", f32({1, 1, 2, 2})}})), "takes grey images (1 channel): give a single mean");

  // Grey models get luma; a mean in pixel units with scale=1/255 is warned about.
  o.preprocess = "mean=120";
  auto grey = open_ok(make_model({{"x", f32({1, 1, 2, 2})}}), o);
  ASSERT_TRUE(grey);
  ASSERT_EQ(grey->warnings().size(), 1u);
  EXPECT_CONTAINS(grey->warnings()[0], "mean 120 is larger than any scaled pixel");
  auto b = grey->batch(0);
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->at("x").shape(), (Shape{1, 1, 2, 2}));
  EXPECT_FLOAT_EQ(b->at("x").data<float>()[0], 1.0f / 255 - 120);

  // --preprocess without images is pointless: a warning, not an error.
  save(dir.file("x.npy"), seq(DType::kFloat32, {1, 3}));
  CalibDataOptions npy = npy_options("x", dir.file("x.npy"));
  npy.preprocess = "size=2x2";
  auto d = open_ok(make_model({{"x", f32({1, 3})}}), npy);
  ASSERT_TRUE(d);
  ASSERT_EQ(d->warnings().size(), 1u);
  EXPECT_CONTAINS(d->warnings()[0], "--preprocess is ignored");
}

}  // namespace
}  // namespace lowbit::quant
