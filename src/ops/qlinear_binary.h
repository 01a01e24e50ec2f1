// QLinearAdd / QLinearMul (ONNX Runtime's com.microsoft semantics, produced by pass lower_qdq from
// DequantizeLinear -> Add/Mul -> [activation] -> QuantizeLinear):
//   inputs   A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point (zero points optional)
//   C        = saturate(round_half_even(act(real(A) op real(B)) / C_scale) + C_zero_point)
//   real(Q)  = float(Q - zero_point) * scale
// with an optional fused activation (lowbit_activation, src/ops/fused_activation.h). Every step is the float
// operation the QDQ graph's simulation performs, in the same order, so both kernels match it bit for bit.
#pragma once
#include <cmath>

#include "ops/fused_activation.h"
#include "quant/quant_math.h"

namespace lowbit {

struct QLinearBinaryParams {
  bool mul = false;
  float a_scale = 1, b_scale = 1, c_scale = 1;
  int32_t a_zero = 0, b_zero = 0, c_zero = 0;
  FusedActivation act;
};

// The real value before the activation.
inline float qlinear_binary_value(const QLinearBinaryParams& p, int32_t a, int32_t b) {
  const float x = float(a - p.a_zero) * p.a_scale, y = float(b - p.b_zero) * p.b_scale;
  return p.mul ? x * y : x + y;
}

}  // namespace lowbit
