// libFuzzer target: .npy reading (src/io/npy.h), both parse_npy and the seeking header/elements reader.
// Any input must give a Tensor or a clean error Status (checks: fuzz/npy_checks.h).
#include <cstddef>
#include <cstdint>
#include <string>

#include "npy_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!lowbit::fuzz::check_npy_bytes(std::string(reinterpret_cast<const char*>(data), size))) __builtin_trap();
  return 0;
}
