// THE integer (re)quantization math of lowbit, following ONNX QuantizeLinear / DequantizeLinear:
//
//   real = (q - zero_point) * scale
//   q    = saturate(round_half_to_even(real / scale) + zero_point)
//
// Every piece of code that turns reals into integers or back (the QuantizeLinear/DequantizeLinear
// reference kernels, the fake-quant simulator of the quantizer, the reference int8 kernels and the
// fast kernels' scalar tails) calls these functions, so they can never disagree by one LSB.
//
//   int8_t q = quant::quantize_value<int8_t>(0.37f, /*scale=*/0.01f, /*zero_point=*/0);   // 37
//   float r = quant::dequantize_value<int8_t>(q, 0.01f, 0);                               // 0.37
//   uint8_t y = quant::requantize<uint8_t>(/*acc=*/1234, /*multiplier=*/0.05f, /*zp=*/128); // 190
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace lowbit::quant {

// Integer storage types lowbit quantizes to.
template <typename Q>
concept QuantType = std::is_same_v<Q, int8_t> || std::is_same_v<Q, uint8_t> || std::is_same_v<Q, int32_t>;

template <QuantType Q>
constexpr int64_t qmin() {
  return std::numeric_limits<Q>::min();
}
template <QuantType Q>
constexpr int64_t qmax() {
  return std::numeric_limits<Q>::max();
}

// Rounds |v| < 2^23 to the nearest integer, ties to the even neighbour, in integer form. Branch-light and
// independent of the floating-point environment's rounding mode (the truncating conversion is exact).
inline int32_t round_half_to_even_small(float v) {
  const int32_t i = int32_t(v);     // toward zero
  const float diff = v - float(i);  // exact: |v| < 2^23
  if (diff > 0.5f || (diff == 0.5f && (i & 1))) return i + 1;
  if (diff < -0.5f || (diff == -0.5f && (i & 1))) return i - 1;
  return i;
}

// Rounds to the nearest integer, ties to the even neighbour (2.5 -> 2, 3.5 -> 4, -2.5 -> -2), independently
// of the floating-point environment's rounding mode. NaN stays NaN; infinities stay infinite.
inline float round_half_to_even(float v) {
  if (!(std::fabs(v) < 8388608.f)) return v;  // NaN, infinite, or |v| >= 2^23: already an integer
  return float(round_half_to_even_small(v));
}
inline double round_half_to_even(double v) {
  if (!(std::fabs(v) < 4503599627370496.0)) return v;  // 2^52
  const int64_t i = int64_t(v);
  const double diff = v - double(i);
  if (diff > 0.5 || (diff == 0.5 && (i & 1))) return double(i + 1);
  if (diff < -0.5 || (diff == -0.5 && (i & 1))) return double(i - 1);
  return double(i);
}

// Clamps an integer-valued real to Q's range and converts. NaN maps to 0 (a defined value rather than UB).
template <QuantType Q>
inline Q saturate(double v) {
  if (std::isnan(v)) return Q(0);
  if (v <= double(qmin<Q>())) return Q(qmin<Q>());
  if (v >= double(qmax<Q>())) return Q(qmax<Q>());
  return Q(v);
}
template <QuantType Q>
inline Q saturate(int64_t v) {
  if (v < qmin<Q>()) return Q(qmin<Q>());
  if (v > qmax<Q>()) return Q(qmax<Q>());
  return Q(v);
}

// saturate(round_half_to_even(v) + zero_point): the step shared by quantize and requantize.
// NaN maps to the zero point (the code of real 0).
template <QuantType Q>
inline Q round_and_saturate(float v, int32_t zero_point) {
  if (std::fabs(v) < 8388608.f) return saturate<Q>(int64_t(round_half_to_even_small(v)) + zero_point);
  if (std::isnan(v)) return saturate<Q>(int64_t(zero_point));
  return saturate<Q>(double(v) + double(zero_point));  // already an integer (or infinite): saturates
}

// q = saturate(round_half_to_even(x / scale) + zero_point). The division is done in float32, as ONNX's
// reference and ONNX Runtime do, so results match them bit for bit (x * (1/scale) would not).
template <QuantType Q>
inline Q quantize_value(float x, float scale, int32_t zero_point) {
  return round_and_saturate<Q>(x / scale, zero_point);
}

// real = (q - zero_point) * scale, computed as ONNX Runtime does: integer subtraction, then one float multiply.
template <QuantType Q>
inline float dequantize_value(Q q, float scale, int32_t zero_point) {
  return float(int64_t(q) - int64_t(zero_point)) * scale;
}

// Requantizes an int32 accumulator (e.g. of an int8 convolution, bias included) into Q:
// y = saturate(round_half_to_even(acc * multiplier) + zero_point), multiplier = s_in * s_w / s_out.
template <QuantType Q>
inline Q requantize(int32_t acc, float multiplier, int32_t zero_point) {
  return round_and_saturate<Q>(float(acc) * multiplier, zero_point);
}

}  // namespace lowbit::quant
