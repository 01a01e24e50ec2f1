// The fuzz targets' committed inputs (fuzz/seeds/<target>/ and fuzz/regressions/<target>/, the latter being
// inputs that once crashed a target) through the same entry points as fuzz/*.cpp, in the normal build:
// each must give a value or a clean error Status. Crashes found by fuzzing get a named test below as well.
#include "io/npy.h"
#include "npy_checks.h"
#include "onnx/importer.h"
#include "passes/optimizer.h"
#include "quant/calibration_cache.h"
#include "quant/calibration_table.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace lowbit {
namespace {

namespace fs = std::filesystem;

// Every committed input of one fuzz target: {file name, bytes}.
std::vector<std::pair<std::string, std::string>> fuzz_inputs(const std::string& target) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const char* kind : {"seeds", "regressions"}) {
    const fs::path dir = fs::path(LOWBIT_SOURCE_DIR) / "fuzz" / kind / target;
    if (!fs::is_directory(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir)) {
      std::ifstream f(e.path(), std::ios::binary);
      std::ostringstream ss;
      ss << f.rdbuf();
      out.emplace_back(e.path().filename().string(), ss.str());
    }
  }
  return out;
}

// What fuzz/fuzz_import.cpp does.
Status import_and_optimize(const std::string& bytes) {
  ImportOptions options;
  options.max_tensor_bytes = 16 << 20;
  LB_ASSIGN_OR_RETURN(Graph g, import_onnx_bytes(bytes, "", "<fuzz>", options));
  OptimizeOptions opt;
  opt.max_folded_bytes = 16 << 20;
  return optimize_graph(g, opt);
}

TEST(FuzzInputs, NpySeedsAndRegressionsParseOrFailCleanly) {
  auto inputs = fuzz_inputs("fuzz_npy");
  EXPECT_FALSE(inputs.empty());
  for (const auto& [name, bytes] : inputs) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(fuzz::check_npy_bytes(bytes));  // parse_npy and the seeking header/elements reader
  }
}

TEST(FuzzInputs, TrtCacheSeedsAndRegressionsParseOrFailCleanly) {
  auto inputs = fuzz_inputs("fuzz_trt_cache");
  EXPECT_FALSE(inputs.empty());
  for (const auto& [name, text] : inputs) {
    SCOPED_TRACE(name);
    auto e = quant::parse_trt_cache(text, name);
    if (!e) EXPECT_FALSE(e.status().message().empty());
  }
}

TEST(FuzzInputs, CalibrationTableSeedsAndRegressionsParseOrFailCleanly) {
  auto inputs = fuzz_inputs("fuzz_calib_table");
  EXPECT_FALSE(inputs.empty());
  for (const auto& [name, text] : inputs) {
    SCOPED_TRACE(name);
    quant::CalibOptions opt;
    auto t = quant::parse_calibration_table(text, name, &opt);
    if (t) {
      auto formatted = quant::format_calibration_table(*t, opt);
      ASSERT_TRUE(formatted.ok()) << formatted.status().message();
      EXPECT_TRUE(quant::parse_calibration_table(*formatted, name).ok());
    } else {
      EXPECT_FALSE(t.status().message().empty());
    }
  }
}

TEST(FuzzInputs, ImportSeedsAndRegressionsImportOrFailCleanly) {
  for (const auto& [name, bytes] : fuzz_inputs("fuzz_import")) {
    SCOPED_TRACE(name);
    Status s = import_and_optimize(bytes);
    if (!s.ok()) EXPECT_FALSE(s.message().empty());
  }
}

}  // namespace
}  // namespace lowbit
