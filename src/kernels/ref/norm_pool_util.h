// Small helpers shared by the norm / pool / softmax reference kernels: the arithmetic type each
// storage type computes in (16-bit floats compute in float, double stays double) and conversions.
#pragma once
#include <type_traits>

#include "kernels/ref/dispatch.h"

namespace lowbit {

template <typename T>
using AccOf = std::conditional_t<std::is_same_v<T, double>, double, float>;

template <typename T>
inline AccOf<T> load_acc(T v) {
  if constexpr (is_half_v<T>)
    return to_float(v);
  else
    return static_cast<AccOf<T>>(v);
}

template <typename T>
inline T store_acc(AccOf<T> v) {
  if constexpr (is_half_v<T>)
    return from_float<T>(v);
  else
    return static_cast<T>(v);
}

// Writes a double into element i of a floating-point tensor of any storage type.
inline void store_double(Tensor& t, int64_t i, double v) {
  switch (t.dtype()) {
    case DType::kFloat32:
      t.data<float>()[i] = float(v);
      break;
    case DType::kFloat64:
      t.data<double>()[i] = v;
      break;
    case DType::kFloat16:
      t.data<uint16_t>()[i] = float_to_half(float(v));
      break;
    case DType::kBFloat16:
      t.data<uint16_t>()[i] = float_to_bfloat16(float(v));
      break;
    default:
      break;
  }
}

// Product of dims [begin, end) of a shape.
inline int64_t dims_product(const Shape& s, size_t begin, size_t end) {
  int64_t n = 1;
  for (size_t i = begin; i < end && i < s.size(); ++i) n *= s[i];
  return n;
}

}  // namespace lowbit
