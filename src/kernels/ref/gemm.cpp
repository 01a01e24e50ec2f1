// Packed, cache-blocked float32 GEMM (the BLIS recipe, shrunk to what a reference engine needs).
//
// C is cut into tasks of kBlockM x kBlockN that threads share out. Each task walks the k dimension in
// kBlockK slabs: it packs its slab of op(A) into MR-row slivers (alpha folded in) and its slab of op(B)
// into NR-column slivers, then a register-tiled MR x NR micro-kernel sweeps the slivers. Packing makes the
// micro-kernel's loads contiguous whatever the transposes, and gives zero padding at the edges for free.
//
// The micro-kernel is plain C++ over an MR x NR block of accumulators held as GCC vector-extension values
// (no intrinsics). It is compiled three times (AVX-512, AVX2+FMA, baseline x86-64) with tile sizes that fit
// each register file, and the best one for the CPU is picked at first use (select_gemm_f32_kernel overrides
// it for tests). Because every task packs into its own thread-local buffers, tile sizes can differ per ISA
// without any shared state.
#include "kernels/ref/gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <type_traits>
#include <vector>

namespace lowbit {
namespace {

constexpr int64_t kBlockK = 256;  // depth of a packed slab: one B sliver (k x NR) stays in L1
constexpr int64_t kBlockM = 96;   // rows of C per task; a multiple of every MR below. Packed A slab sits in L2
constexpr int64_t kBlockN = 192;  // columns of C per task; a multiple of every NR below

// Below this many multiply-adds a GEMM runs on the calling thread: waking workers costs more.
constexpr int64_t kMinParallelMacs = int64_t(1) << 18;

// Fewer rows than this take the streaming matrix-vector path (compute_skinny), in chunks of this many columns.
constexpr int64_t kSkinnyRows = 4;
constexpr int64_t kSkinnyColumns = 256;

#define LB_ALWAYS_INLINE inline __attribute__((always_inline))

// Element (i, j) of op(X) lives at data[i * row_stride + j * col_stride].
struct StridedMatrix {
  const float* data;
  int64_t row_stride, col_stride;
  float at(int64_t i, int64_t j) const { return data[i * row_stride + j * col_stride]; }
};

struct Problem {
  int64_t m, n, k;
  StridedMatrix a, b;  // op(A) is m x k, op(B) is k x n
  float* c;
  int64_t ldc;
  float alpha, beta;
};

// Packs rows [i0, i0 + rows) x depth [p0, p0 + depth) of op(A), times alpha, as MR-row slivers:
// sliver s holds dst[p * MR + r] = alpha * A(i0 + s * MR + r, p0 + p), zero past the last row.
template <int MR>
LB_ALWAYS_INLINE void pack_a(const StridedMatrix& a, int64_t i0, int64_t rows, int64_t p0, int64_t depth, float alpha,
                             float* dst) {
  for (int64_t s = 0; s < rows; s += MR) {
    const int64_t valid = std::min<int64_t>(MR, rows - s);
    if (valid < MR) std::fill(dst, dst + depth * MR, 0.0f);
    for (int64_t r = 0; r < valid; ++r) {
      const float* src = a.data + (i0 + s + r) * a.row_stride + p0 * a.col_stride;
      for (int64_t p = 0; p < depth; ++p) dst[p * MR + r] = alpha * src[p * a.col_stride];
    }
    dst += depth * MR;
  }
}

// Packs depth [p0, p0 + depth) x columns [j0, j0 + cols) of op(B) as NR-column slivers:
// sliver s holds dst[p * NR + j] = B(p0 + p, j0 + s * NR + j), zero past the last column.
template <int NR>
LB_ALWAYS_INLINE void pack_b(const StridedMatrix& b, int64_t p0, int64_t depth, int64_t j0, int64_t cols, float* dst) {
  for (int64_t s = 0; s < cols; s += NR) {
    const int64_t valid = std::min<int64_t>(NR, cols - s);
    if (b.col_stride == 1 && valid == NR) {  // rows of B are contiguous: copy NR at a time
      for (int64_t p = 0; p < depth; ++p) {
        const float* src = b.data + (p0 + p) * b.row_stride + j0 + s;
        for (int j = 0; j < NR; ++j) dst[p * NR + j] = src[j];
      }
    } else {  // transposed B (or a ragged edge): read each column contiguously where possible
      if (valid < NR) std::fill(dst, dst + depth * NR, 0.0f);
      for (int64_t j = 0; j < valid; ++j)
        for (int64_t p = 0; p < depth; ++p) dst[p * NR + j] = b.at(p0 + p, j0 + s + j);
    }
    dst += depth * NR;
  }
}

// A vector of V floats (GCC/Clang vector extension: plain C++ arithmetic, no intrinsics). Compiled inside an
// AVX-512 / AVX2 / baseline function it becomes zmm / ymm / xmm registers.
template <int V>
struct FloatVec {
  typedef float type __attribute__((vector_size(V * sizeof(float))));
};

// c[MR x NR] (row stride ldc) = or += a_sliver * b_sliver over `depth`: each step broadcasts MR values of A
// against the NR values of B, held as NR/V vectors, into MR x NR/V accumulator registers.
// The accumulators are written as vectors on purpose: GCC 12 auto-vectorizing the same loops over a float
// array spilled accumulators on AVX2 and ran at half the speed (measured), while this form stays in registers.
template <int MR, int NR, int V>
LB_ALWAYS_INLINE void micro_kernel(int64_t depth, const float* __restrict a, const float* __restrict b,
                                   float* __restrict c, int64_t ldc, bool accumulate) {
  using Vec = typename FloatVec<V>::type;
  constexpr int kVecs = NR / V;
  static_assert(NR % V == 0, "NR must be a whole number of vectors");
  Vec acc[MR][kVecs] = {};
  for (int64_t p = 0; p < depth; ++p) {
    Vec b_row[kVecs];
    for (int v = 0; v < kVecs; ++v) std::memcpy(&b_row[v], b + v * V, sizeof(Vec));
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const float ai = a[i];
      for (int v = 0; v < kVecs; ++v) acc[i][v] += ai * b_row[v];
    }
    a += MR;
    b += NR;
  }
  for (int i = 0; i < MR; ++i) {
    for (int v = 0; v < kVecs; ++v) {
      float* dst = c + i * ldc + v * V;
      Vec out = acc[i][v];
      if (accumulate) {
        Vec old;
        std::memcpy(&old, dst, sizeof(Vec));
        out += old;
      }
      std::memcpy(dst, &out, sizeof(Vec));
    }
  }
}

// Thread-local packing buffers, reused across calls (a task packs at most kBlockM x kBlockK of A and
// kBlockK x kBlockN of B).
struct PackBuffers {
  struct FreeDeleter {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, FreeDeleter> a, b;
  PackBuffers()
      : a(static_cast<float*>(std::aligned_alloc(64, kBlockM * kBlockK * sizeof(float)))),
        b(static_cast<float*>(std::aligned_alloc(64, kBlockK * kBlockN * sizeof(float)))) {}
};

PackBuffers& pack_buffers() {
  thread_local PackBuffers buffers;
  return buffers;
}

// Computes the C block rows [i0, i0 + rows) x columns [j0, j0 + cols) over the whole k range.
template <int MR, int NR, int V>
LB_ALWAYS_INLINE void compute_block(const Problem& pr, int64_t i0, int64_t rows, int64_t j0, int64_t cols) {
  static_assert(kBlockM % MR == 0 && kBlockN % NR == 0, "task blocks must hold whole tiles");
  PackBuffers& buf = pack_buffers();
  float* a_pack = buf.a.get();
  float* b_pack = buf.b.get();
  if (pr.beta != 0.0f && pr.beta != 1.0f)
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) pr.c[(i0 + i) * pr.ldc + j0 + j] *= pr.beta;
  alignas(64) float edge[MR * NR];
  for (int64_t p0 = 0; p0 < pr.k; p0 += kBlockK) {
    const int64_t depth = std::min(kBlockK, pr.k - p0);
    const bool accumulate = p0 > 0 || pr.beta != 0.0f;
    pack_a<MR>(pr.a, i0, rows, p0, depth, pr.alpha, a_pack);
    pack_b<NR>(pr.b, p0, depth, j0, cols, b_pack);
    for (int64_t jr = 0; jr < cols; jr += NR) {
      const float* b_sliver = b_pack + jr * depth;
      const int64_t tile_cols = std::min<int64_t>(NR, cols - jr);
      for (int64_t ir = 0; ir < rows; ir += MR) {
        const float* a_sliver = a_pack + ir * depth;
        const int64_t tile_rows = std::min<int64_t>(MR, rows - ir);
        float* c = pr.c + (i0 + ir) * pr.ldc + j0 + jr;
        if (tile_rows == MR && tile_cols == NR) {
          micro_kernel<MR, NR, V>(depth, a_sliver, b_sliver, c, pr.ldc, accumulate);
        } else {  // ragged edge: compute a full tile aside, then add the valid part
          micro_kernel<MR, NR, V>(depth, a_sliver, b_sliver, edge, NR, false);
          for (int64_t i = 0; i < tile_rows; ++i)
            for (int64_t j = 0; j < tile_cols; ++j)
              c[i * pr.ldc + j] = accumulate ? c[i * pr.ldc + j] + edge[i * NR + j] : edge[i * NR + j];
        }
      }
    }
  }
}

// Few rows of C (a matrix-vector product, e.g. a batch-1 fully connected layer): packing B and computing
// mostly-empty MR-row tiles would cost more than the math, so stream B once instead. a_rows holds op(A) times
// alpha, row after row. Computes columns [j0, j1) of every row.
template <int L>
LB_ALWAYS_INLINE void compute_skinny(const Problem& pr, const float* a_rows, int64_t j0, int64_t j1) {
  for (int64_t i = 0; i < pr.m; ++i) {
    float* c = pr.c + i * pr.ldc;
    const float* a = a_rows + i * pr.k;
    if (pr.b.col_stride == 1) {  // rows of B are contiguous: c += a[p] * B[p, :]
      for (int64_t j = j0; j < j1; ++j) c[j] = pr.beta == 0.0f ? 0.0f : pr.beta * c[j];
      for (int64_t p = 0; p < pr.k; ++p) {
        const float ap = a[p];
        const float* b = pr.b.data + p * pr.b.row_stride;
        for (int64_t j = j0; j < j1; ++j) c[j] += ap * b[j];
      }
    } else {  // B transposed: each output is a dot product of two contiguous vectors
      for (int64_t j = j0; j < j1; ++j) {
        const float* b = pr.b.data + j * pr.b.col_stride;
        float partial[L] = {};  // L independent sums, so the loop vectorizes without reassociating
        int64_t p = 0;
        for (; p + L <= pr.k; p += L)
          for (int l = 0; l < L; ++l) partial[l] += a[p + l] * b[p + l];
        float sum = 0.0f;
        for (int l = 0; l < L; ++l) sum += partial[l];
        for (; p < pr.k; ++p) sum += a[p] * b[p];
        c[j] = pr.beta == 0.0f ? sum : sum + pr.beta * c[j];
      }
    }
  }
}

using BlockFn = void (*)(const Problem&, int64_t, int64_t, int64_t, int64_t);
using SkinnyFn = void (*)(const Problem&, const float*, int64_t, int64_t);

#if defined(__x86_64__)
// AVX-512 has 32 vector registers: 8 x 32 floats = 16 zmm accumulators. AVX2 has 16: 6 x 16 = 12 ymm.
__attribute__((target("arch=x86-64-v4"))) void compute_block_avx512(const Problem& pr, int64_t i0, int64_t rows,
                                                                    int64_t j0, int64_t cols) {
  compute_block<8, 32, 16>(pr, i0, rows, j0, cols);
}
__attribute__((target("arch=x86-64-v4"))) void compute_skinny_avx512(const Problem& pr, const float* a_rows,
                                                                     int64_t j0, int64_t j1) {
  compute_skinny<32>(pr, a_rows, j0, j1);
}
__attribute__((target("arch=x86-64-v3"))) void compute_block_avx2(const Problem& pr, int64_t i0, int64_t rows,
                                                                  int64_t j0, int64_t cols) {
  compute_block<6, 16, 8>(pr, i0, rows, j0, cols);
}
__attribute__((target("arch=x86-64-v3"))) void compute_skinny_avx2(const Problem& pr, const float* a_rows,
                                                                   int64_t j0, int64_t j1) {
  compute_skinny<16>(pr, a_rows, j0, j1);
}
#endif
void compute_block_baseline(const Problem& pr, int64_t i0, int64_t rows, int64_t j0, int64_t cols) {
  compute_block<4, 8, 4>(pr, i0, rows, j0, cols);
}
void compute_skinny_baseline(const Problem& pr, const float* a_rows, int64_t j0, int64_t j1) {
  compute_skinny<8>(pr, a_rows, j0, j1);
}

struct Kernel {
  BlockFn block;
  SkinnyFn skinny;
  const char* name;
};

// Every kernel this CPU can run, best first.
const std::vector<Kernel>& available_kernels() {
  static const std::vector<Kernel> kernels = [] {
    std::vector<Kernel> k;
#if defined(__x86_64__)
    __builtin_cpu_init();
#if defined(__clang__)  // clang 14 knows no "x86-64-vN" levels here (the fuzz build): test the features themselves
    const bool v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2");
    const bool v4 = v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                    __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
                    __builtin_cpu_supports("avx512vl");
#else
    const bool v3 = __builtin_cpu_supports("x86-64-v3");
    const bool v4 = __builtin_cpu_supports("x86-64-v4");
#endif
    if (v4) k.push_back({compute_block_avx512, compute_skinny_avx512, "avx512 8x32"});
    if (v3) k.push_back({compute_block_avx2, compute_skinny_avx2, "avx2+fma 6x16"});
#endif
    k.push_back({compute_block_baseline, compute_skinny_baseline, "baseline 4x8"});
    return k;
  }();
  return kernels;
}

std::atomic<const Kernel*> selected_kernel{nullptr};

const Kernel& best_kernel() {
  const Kernel* k = selected_kernel.load(std::memory_order_relaxed);
  return k ? *k : available_kernels().front();
}

void run_parallel(ThreadPool* pool, int64_t tasks, int64_t macs, const std::function<void(int64_t, int64_t)>& body) {
  if (pool && macs >= kMinParallelMacs) pool->parallel_for(tasks, body, 1);
  else body(0, tasks);
}

// Element type agnostic fallback: rows of C in parallel, i-p-j loop order so B is read along rows.
// Integers are multiplied as unsigned so overflow wraps (as in ONNX Runtime) instead of being undefined.
template <typename T>
void gemm_simple(const GemmArgs<T>& g, ThreadPool* pool) {
  using U = typename std::conditional_t<std::is_integral_v<T>, std::make_unsigned<T>, std::type_identity<T>>::type;
  if (g.m <= 0 || g.n <= 0) return;
  const U alpha = U(g.alpha), beta = U(g.beta);
  const U* a = reinterpret_cast<const U*>(g.a);
  const U* b = reinterpret_cast<const U*>(g.b);
  auto rows = [&](int64_t i_begin, int64_t i_end) {
    for (int64_t i = i_begin; i < i_end; ++i) {
      U* c = reinterpret_cast<U*>(g.c + i * g.ldc);
      for (int64_t j = 0; j < g.n; ++j) c[j] = beta == U(0) ? U(0) : U(beta * c[j]);
      for (int64_t p = 0; p < g.k; ++p) {
        const U ap = U(alpha * (g.trans_a ? a[p * g.lda + i] : a[i * g.lda + p]));
        if (g.trans_b) {
          for (int64_t j = 0; j < g.n; ++j) c[j] += U(ap * b[j * g.ldb + p]);
        } else {
          const U* b_row = b + p * g.ldb;
          for (int64_t j = 0; j < g.n; ++j) c[j] += U(ap * b_row[j]);
        }
      }
    }
  };
  run_parallel(pool, g.m, g.m * g.n * std::max<int64_t>(g.k, 1), rows);
}

}  // namespace

void gemm(const GemmArgs<float>& g, ThreadPool* pool) {
  if (g.m <= 0 || g.n <= 0) return;
  if (g.k <= 0 || g.alpha == 0.0f) {  // nothing to multiply: C = beta * C
    for (int64_t i = 0; i < g.m; ++i)
      for (int64_t j = 0; j < g.n; ++j) g.c[i * g.ldc + j] = g.beta == 0.0f ? 0.0f : g.beta * g.c[i * g.ldc + j];
    return;
  }
  Problem pr{g.m,
             g.n,
             g.k,
             g.trans_a ? StridedMatrix{g.a, 1, g.lda} : StridedMatrix{g.a, g.lda, 1},
             g.trans_b ? StridedMatrix{g.b, 1, g.ldb} : StridedMatrix{g.b, g.ldb, 1},
             g.c,
             g.ldc,
             g.alpha,
             g.beta};
  const Kernel& kernel = best_kernel();
  if (g.m < kSkinnyRows) {
    std::vector<float> a_rows(g.m * g.k);
    for (int64_t i = 0; i < g.m; ++i)
      for (int64_t p = 0; p < g.k; ++p) a_rows[i * g.k + p] = g.alpha * pr.a.at(i, p);
    const int64_t chunks = (g.n + kSkinnyColumns - 1) / kSkinnyColumns;
    run_parallel(pool, chunks, g.m * g.n * g.k, [&](int64_t begin, int64_t end) {
      kernel.skinny(pr, a_rows.data(), begin * kSkinnyColumns, std::min(g.n, end * kSkinnyColumns));
    });
    return;
  }
  const int64_t row_blocks = (g.m + kBlockM - 1) / kBlockM;
  const int64_t col_blocks = (g.n + kBlockN - 1) / kBlockN;
  // Tasks are numbered row-block-major so one thread's consecutive tasks share the rows of A.
  run_parallel(pool, row_blocks * col_blocks, g.m * g.n * g.k, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t i0 = (t / col_blocks) * kBlockM, j0 = (t % col_blocks) * kBlockN;
      kernel.block(pr, i0, std::min(kBlockM, g.m - i0), j0, std::min(kBlockN, g.n - j0));
    }
  });
}

void gemm(const GemmArgs<double>& g, ThreadPool* pool) { gemm_simple(g, pool); }
void gemm(const GemmArgs<int32_t>& g, ThreadPool* pool) { gemm_simple(g, pool); }
void gemm(const GemmArgs<int64_t>& g, ThreadPool* pool) { gemm_simple(g, pool); }
void gemm(const GemmArgs<uint32_t>& g, ThreadPool* pool) { gemm_simple(g, pool); }
void gemm(const GemmArgs<uint64_t>& g, ThreadPool* pool) { gemm_simple(g, pool); }

const char* gemm_f32_kernel_name() { return best_kernel().name; }

std::vector<std::string> gemm_f32_kernel_names() {
  std::vector<std::string> names;
  for (const Kernel& k : available_kernels()) names.push_back(k.name);
  return names;
}

bool select_gemm_f32_kernel(const std::string& name) {
  for (const Kernel& k : available_kernels())
    if (name == k.name) {
      selected_kernel.store(&k);
      return true;
    }
  return false;
}

}  // namespace lowbit
