#include "kernels/ref/shape_ops_copy.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/ref/dispatch.h"

namespace lowbit::shape_ops {

namespace {

template <typename Word>
void gather_row(const uint8_t* src, uint8_t* dst, int64_t n, int64_t stride) {
  const Word* s = reinterpret_cast<const Word*>(src);
  Word* d = reinterpret_cast<Word*>(dst);
  for (int64_t i = 0; i < n; ++i) d[i] = s[i * stride];
}

// One output row of n elements read with a fixed source stride.
void copy_row(const uint8_t* src, uint8_t* dst, int64_t n, int64_t stride, size_t elem) {
  if (stride == 1) {
    std::memcpy(dst, src, size_t(n) * elem);
    return;
  }
  switch (elem) {
    case 1:
      gather_row<uint8_t>(src, dst, n, stride);
      return;
    case 2:
      gather_row<uint16_t>(src, dst, n, stride);
      return;
    case 4:
      gather_row<uint32_t>(src, dst, n, stride);
      return;
    case 8:
      gather_row<uint64_t>(src, dst, n, stride);
      return;
    default:
      for (int64_t i = 0; i < n; ++i) std::memcpy(dst + size_t(i) * elem, src + i * stride * int64_t(elem), elem);
  }
}

}  // namespace

std::vector<int64_t> contiguous_strides(const Shape& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) s[i - 1] = s[i] * shape[i];
  return s;
}

void strided_copy(KernelContext& ctx, const void* src, void* dst, size_t elem, const Shape& shape,
                  const std::vector<int64_t>& strides, int64_t offset) {
  // Merge dims: (size a, stride sa)(size b, stride sb) is one dim of size a*b when sa == sb*b.
  std::vector<int64_t> dims, st;
  int64_t total = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    total *= shape[d];
    if (shape[d] == 1) continue;
    if (!dims.empty() && st.back() == strides[d] * shape[d]) {
      dims.back() *= shape[d];
      st.back() = strides[d];
    } else {
      dims.push_back(shape[d]);
      st.push_back(strides[d]);
    }
  }
  if (total == 0) return;
  const uint8_t* s = static_cast<const uint8_t*>(src) + offset * int64_t(elem);
  uint8_t* o = static_cast<uint8_t*>(dst);
  if (dims.empty()) {
    std::memcpy(o, s, elem);
    return;
  }
  const int64_t inner = dims.back(), inner_stride = st.back();
  const int64_t rows = total / inner;
  const size_t outer_rank = dims.size() - 1;
  ctx.parallel_for(
      rows,
      [&](int64_t begin, int64_t end) {
        // Multi-index of row `begin` over the outer dims, and its source offset.
        std::vector<int64_t> idx(outer_rank, 0);
        int64_t off = 0, r = begin;
        for (size_t d = outer_rank; d-- > 0;) {
          idx[d] = r % dims[d];
          r /= dims[d];
          off += idx[d] * st[d];
        }
        for (int64_t row = begin; row < end; ++row) {
          copy_row(s + off * int64_t(elem), o + size_t(row * inner) * elem, inner, inner_stride, elem);
          for (size_t d = outer_rank; d-- > 0;) {
            off += st[d];
            if (++idx[d] < dims[d]) break;
            off -= st[d] * dims[d];
            idx[d] = 0;
          }
        }
      },
      std::max<int64_t>(1, 16384 / inner));
}

void parallel_memcpy(KernelContext& ctx, void* dst, const void* src, size_t n) {
  if (dst == src || n == 0) return;
  constexpr int64_t kBlock = 1 << 16;
  int64_t blocks = int64_t((n + kBlock - 1) / kBlock);
  ctx.parallel_for(
      blocks,
      [&](int64_t b, int64_t e) {
        size_t from = size_t(b * kBlock), to = std::min(n, size_t(e * kBlock));
        std::memcpy(static_cast<uint8_t*>(dst) + from, static_cast<const uint8_t*>(src) + from, to - from);
      },
      4);
}

void fill_elements(void* dst, int64_t count, const void* value, size_t elem) {
  uint8_t* d = static_cast<uint8_t*>(dst);
  if (count <= 0) return;
  bool all_zero = true;
  for (size_t i = 0; i < elem; ++i) all_zero &= static_cast<const uint8_t*>(value)[i] == 0;
  if (all_zero || elem == 1) {
    std::memset(d, all_zero ? 0 : *static_cast<const uint8_t*>(value), size_t(count) * elem);
    return;
  }
  std::memcpy(d, value, elem);
  // Doubling copies: log2(count) memcpy calls.
  int64_t done = 1;
  while (done < count) {
    int64_t n = std::min(done, count - done);
    std::memcpy(d + size_t(done) * elem, d, size_t(n) * elem);
    done += n;
  }
}

void scalar_to_bytes(DType t, double v, void* out) {
  std::memset(out, 0, 8);
  dispatch_dtype(t, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T x;
    if constexpr (is_half_v<T>) {
      x = from_float<T>(float(v));
    } else if constexpr (std::is_same_v<T, bool>) {
      x = v != 0;
    } else if constexpr (std::is_floating_point_v<T>) {
      x = T(v);
    } else {
      // Saturate: converting an out-of-range double to an integer is undefined behaviour.
      if (std::isnan(v)) v = 0;
      v = std::clamp(v, double(std::numeric_limits<T>::lowest()), double(std::numeric_limits<T>::max()));
      x = v >= double(std::numeric_limits<T>::max()) ? std::numeric_limits<T>::max() : T(v);
    }
    std::memcpy(out, &x, sizeof(T));
    return 0;
  });
}

}  // namespace lowbit::shape_ops
