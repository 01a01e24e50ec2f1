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

// QLinearGlobalAveragePool (ONNX Runtime's com.microsoft op with channels_last = 0; lower_qdq writes it for
// DequantizeLinear -> GlobalAveragePool -> QuantizeLinear):
//   inputs   X, x_scale, x_zero_point, y_scale, y_zero_point (per tensor; zero points optional)
//   Y[n, c]  = saturate(round_half_even(sum over the spatial dims of (X - x_zero) * x_scale / (y_scale * count))
//              + y_zero)
// The sum is exact in integers and the one float step is qlinear_average_code, shared by both kernels: they agree
// bit for bit. Against the QDQ graph's float simulation (a float mean of dequantized values) the result differs
// only where that float mean's own rounding tips a code: at most 1.
// QLinearAveragePool (com.microsoft, channels_last = 0; lower_qdq writes it for DQ -> AveragePool -> Q) is the same
// per window: the in-bounds codes summed exactly, minus x_zero per in-bounds tap, times x_scale / (y_scale * divisor),
// with divisor the in-bounds taps, or the taps inside the padded input when count_include_pad = 1 (padding is
// real zero). Reference kernel: src/kernels/ref/pool.cpp.
struct QLinearPoolParams {
  float x_scale = 1, y_scale = 1;
  int32_t x_zero = 0, y_zero = 0;
};

inline float qlinear_average_multiplier(const QLinearPoolParams& p, int64_t count) {
  return float(double(p.x_scale) / (double(p.y_scale) * double(count)));
}

// The output code of one (n, c) from the sum of its codes (x_zero not yet subtracted).
template <quant::QuantType Y>
inline Y qlinear_average_code(const QLinearPoolParams& p, int64_t code_sum, int64_t count, float multiplier) {
  return quant::requantize<Y>(int32_t(code_sum - int64_t(p.x_zero) * count), multiplier, p.y_zero);
}

}  // namespace lowbit

