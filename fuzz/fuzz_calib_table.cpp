// libFuzzer target: the calibration table JSON (src/quant/calibration_table.h).
#include <cstddef>
#include <cstdint>
#include <string>

#include "quant/calibration_table.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  lowbit::quant::CalibOptions options;
  auto table = lowbit::quant::parse_calibration_table(text, "<fuzz>", &options);
  if (table) {
    // A table that parsed is valid, so it must format (and the result parse again).
    auto formatted = lowbit::quant::format_calibration_table(*table, options);
    if (!formatted) __builtin_trap();
    if (!lowbit::quant::parse_calibration_table(*formatted, "<fuzz-roundtrip>")) __builtin_trap();
  }
  return 0;
}
