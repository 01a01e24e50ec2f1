// Row-major GEMM used by the reference Conv (im2col), ConvTranspose (col2im), Gemm and MatMul kernels:
//
//   C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C[m, n]      op(X) = X or X^T
//
//   GemmArgs<float> g;
//   g.m = 64; g.n = 3136; g.k = 576;
//   g.a = weights; g.lda = 576;      // A is m x k (or k x m with trans_a)
//   g.b = columns; g.ldb = 3136;     // B is k x n (or n x k with trans_b)
//   g.c = output;  g.ldc = 3136;
//   gemm(g, pool);                   // pool may be nullptr (single thread)
//
// float32 runs a packed, cache-blocked, register-tiled kernel compiled for AVX-512, AVX2+FMA and plain x86-64,
// picked at run time from the CPU. Other element types use a simple loop (they are rare in models).
// beta == 0 means C is write-only: NaN/Inf already in C do not leak into the result (BLAS convention).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/thread_pool.h"

namespace lowbit {

template <typename T>
struct GemmArgs {
  int64_t m = 0, n = 0, k = 0;
  const T* a = nullptr;
  int64_t lda = 0;
  bool trans_a = false;
  const T* b = nullptr;
  int64_t ldb = 0;
  bool trans_b = false;
  T* c = nullptr;
  int64_t ldc = 0;
  T alpha = T(1);
  T beta = T(0);
};

void gemm(const GemmArgs<float>& args, ThreadPool* pool);
void gemm(const GemmArgs<double>& args, ThreadPool* pool);
void gemm(const GemmArgs<int32_t>& args, ThreadPool* pool);
void gemm(const GemmArgs<int64_t>& args, ThreadPool* pool);
void gemm(const GemmArgs<uint32_t>& args, ThreadPool* pool);
void gemm(const GemmArgs<uint64_t>& args, ThreadPool* pool);

// Which float32 micro-kernel runs, e.g. "avx512 8x32" (for benchmarks and reports).
const char* gemm_f32_kernel_name();
// For tests and benchmarks: the float32 kernels this CPU can run (best first), and a way to force one
// process-wide (false if the name is not among them). Not meant to be switched while GEMMs run.
std::vector<std::string> gemm_f32_kernel_names();
bool select_gemm_f32_kernel(const std::string& name);

}  // namespace lowbit
