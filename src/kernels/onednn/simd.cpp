#include "kernels/onednn/simd.h"

#include <cstdlib>
#include <cstring>

namespace lowbit::onednn::simd {

int vector_width() {
  static const int cpu = __builtin_cpu_supports("avx512f")                                    ? 16
                         : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 8
                                                                                            : 0;
  // LOWBIT_SIMD=avx2 caps lowbit's own kernels at AVX2 (tests run that path on AVX-512 machines too); read when
  // a kernel is built, not per run.
  const char* cap = std::getenv("LOWBIT_SIMD");
  return cap && std::strcmp(cap, "avx2") == 0 && cpu > 8 ? 8 : cpu;
}

}  // namespace lowbit::onednn::simd
