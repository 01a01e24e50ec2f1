// Byte-level copy primitives for the data-movement reference kernels (Transpose, Slice, Expand,
// Pad, ...). They move elements by size, never by type, so every dtype (int64 shape tensors,
// bool masks, float16) goes through the same code.
#pragma once
#include <cstdint>
#include <vector>

#include "lowbit/tensor.h"
#include "ops/op_context.h"

namespace lowbit::shape_ops {

// dst is contiguous with shape `shape`; element i (multi-index idx) comes from
// src[offset + sum_d idx[d] * strides[d]] (strides in elements, may be 0 or negative).
// Adjacent dims that are contiguous in src are merged first, so the inner loop is a memcpy
// whenever the innermost stride is 1.
void strided_copy(KernelContext& ctx, const void* src, void* dst, size_t elem, const Shape& shape,
                  const std::vector<int64_t>& strides, int64_t offset);

// Plain copy of n bytes, split across threads when large.
void parallel_memcpy(KernelContext& ctx, void* dst, const void* src, size_t n);

// Writes `count` copies of the `elem`-byte value at `value` to dst.
void fill_elements(void* dst, int64_t count, const void* value, size_t elem);

// Row-major element strides of a shape.
std::vector<int64_t> contiguous_strides(const Shape& shape);

// `v` converted to dtype t's bytes (saturating for integers, != 0 for bool), into out[0..7].
void scalar_to_bytes(DType t, double v, void* out);

}  // namespace lowbit::shape_ops
