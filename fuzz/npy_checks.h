// What the .npy fuzz target checks for one input, shared by fuzz/fuzz_npy.cpp and the FuzzInputs gtest:
// both readers — parse_npy on bytes, and the seeking read_npy_header + read_npy_elements that calibration uses
// on big files — must give a value or a clean error, never touch memory they should not, and agree.
// Returns false on a broken invariant (memory errors are the sanitizers' business).
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "io/npy.h"

namespace lowbit::fuzz {

inline bool check_npy_bytes(const std::string& bytes) {
  // A small cap so that a header promising a huge array is rejected rather than allocated.
  auto t = parse_npy(bytes, "<fuzz>", /*max_bytes=*/1 << 20);
  if (t && !parse_npy(serialize_npy(*t), "<fuzz-roundtrip>", 1 << 22)) return false;
  if (!t && t.status().message().empty()) return false;

  // The file path: the same bytes in an anonymous in-memory file.
  const int fd = memfd_create("fuzz_npy", 0);
  if (fd < 0) return true;  // no memfd here: nothing more to check
  bool ok = true;
  if (write(fd, bytes.data(), bytes.size()) == ssize_t(bytes.size())) {
    const std::string path = "/proc/self/fd/" + std::to_string(fd);
    auto h = read_npy_header(path);
    if (h) {
      int64_t count = 1;
      for (int64_t d : h->shape) count *= d;
      const int64_t elem = int64_t(dtype_size(h->dtype));
      // Up to 4096 elements from the start and from the end: bounded memory whatever the header claims.
      const int64_t n = std::min<int64_t>(count, 4096);
      std::vector<unsigned char> buf(size_t(std::max<int64_t>(n, 1) * elem));
      for (int64_t first : {int64_t(0), count - n}) {
        if (n > 0 && !read_npy_elements(path, *h, first, n, buf.data()).ok()) ok = false;
      }
      // Out of range must fail cleanly.
      if (read_npy_elements(path, *h, count, 1, buf.data()).ok()) ok = false;
      // Both readers accept the same small arrays and read the same bytes.
      if (t && count <= 4096 && n > 0 && std::memcmp(buf.data(), t->raw(), size_t(n * elem)) != 0) ok = false;
    } else if (h.status().message().empty()) {
      ok = false;
    }
  }
  close(fd);
  return ok;
}

}  // namespace lowbit::fuzz
