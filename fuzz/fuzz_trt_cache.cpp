// libFuzzer target: the TensorRT calibration cache parser (src/quant/calibration_cache.h).
#include <cstddef>
#include <cstdint>
#include <string>

#include "quant/calibration_cache.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string header;
  auto entries = lowbit::quant::parse_trt_cache(text, "<fuzz>", &header);
  if (entries) {
    for (const auto& e : *entries) (void)lowbit::quant::calibration_from_cache_entry(e);
  }
  return 0;
}
