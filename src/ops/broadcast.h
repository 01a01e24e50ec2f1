// Numpy-style (multidirectional) broadcasting, shared by every op that broadcasts
// (binary elementwise, Where, PRelu, Expand, Min/Max/Sum, ...).
#pragma once
#include <string>
#include <vector>

#include "ir/graph.h"

namespace lowbit {

// Symbolic broadcast of several shapes. Known dims must match or be 1; a symbolic dim against 1
// keeps the symbol; two different unknowns give unknown. Returns false and sets *why on mismatch.
bool broadcast_dims(const std::vector<std::vector<Dim>>& shapes, std::vector<Dim>* out, std::string* why);

// Concrete broadcast of two shapes (caller has validated them through broadcast_dims).
Shape broadcast_shapes(const Shape& a, const Shape& b);

// Element strides of `in` when read with `out`'s indices (0 along broadcast axes), right-aligned,
// one entry per out dim. Walk with for_each_broadcast_index below.
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);

// Calls fn(out_index, in_offsets...) for every element of `out` in row-major order, where each
// in_offset is the element offset into the corresponding input given its broadcast strides.
// Keeps the innermost loop tight: this is the hot loop of every broadcasting reference kernel.
template <size_t N, typename F>
void for_each_broadcast_index(const Shape& out, const std::vector<int64_t> (&strides)[N], F&& fn) {
  const size_t rank = out.size();
  int64_t total = 1;
  for (int64_t d : out) total *= d;
  if (total == 0) return;
  std::vector<int64_t> idx(rank, 0);
  int64_t off[N] = {};
  const int64_t inner = rank ? out[rank - 1] : 1;
  int64_t inner_stride[N];
  for (size_t k = 0; k < N; ++k) inner_stride[k] = rank ? strides[k][rank - 1] : 0;
  for (int64_t base = 0; base < total; base += inner) {
    int64_t o[N];
    for (size_t k = 0; k < N; ++k) o[k] = off[k];
    for (int64_t i = 0; i < inner; ++i) {
      fn(base + i, o);
      for (size_t k = 0; k < N; ++k) o[k] += inner_stride[k];
    }
    // advance the outer multi-index (all dims but the last)
    for (int64_t d = int64_t(rank) - 2; d >= 0; --d) {
      ++idx[d];
      for (size_t k = 0; k < N; ++k) off[k] += strides[k][d];
      if (idx[d] < out[d]) break;
      for (size_t k = 0; k < N; ++k) off[k] -= strides[k][d] * out[d];
      idx[d] = 0;
    }
  }
}

}  // namespace lowbit
