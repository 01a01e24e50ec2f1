// libFuzzer target: .npy parsing (src/io/npy.h). Any input must give a Tensor or a clean error Status.
#include <cstddef>
#include <cstdint>
#include <string>

#include "io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  // A small cap so that a header promising a huge array is rejected rather than allocated.
  auto t = lowbit::parse_npy(bytes, "<fuzz>", /*max_bytes=*/1 << 20);
  if (t) {
    // Round trip: what was read must serialize and read back.
    auto back = lowbit::parse_npy(lowbit::serialize_npy(*t), "<fuzz-roundtrip>", 1 << 22);
    if (!back) __builtin_trap();
  }
  return 0;
}
