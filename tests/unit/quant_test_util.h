// Small tensors the quantized-model tests share: float scalars (scales) and one-element codes (zero points).
#pragma once
#include <vector>

#include "lowbit/tensor.h"

namespace lowbit::quant_test {

inline Tensor scalar(float v) { return Tensor::from_vector(DType::kFloat32, {}, std::vector<float>{v}); }

// A zero point (or any single code) of type int8 or uint8.
inline Tensor code(DType t, int32_t v) {
  Tensor z(t, {});
  if (t == DType::kInt8) z.data<int8_t>()[0] = int8_t(v);
  else z.data<uint8_t>()[0] = uint8_t(v);
  return z;
}

}  // namespace lowbit::quant_test
