// How a QLinearConv turns its int32 accumulator into the output code: the one rule the reference kernel
// (src/kernels/ref/conv_gemm.cpp) and the oneDNN int8 kernel (src/kernels/onednn/qconv.cpp) both follow, so
// they differ only by float rounding (at most 1 LSB where a value lands on a rounding tie).
//
//   acc[m]  = B[m] + sum (X - x_zp) * (W[m] - w_zp[m])                       (exact integers)
//   v       = float(acc) * out_scale[m]
//   v      += residual_scale * float(R - r_zp)                               (lowbit_residual only)
//   v       = act(v)                                                         (fused activation)
//   v      *= post_scale
//   Y       = saturate(round_half_to_even(v) + y_zp)
//
// For activations that commute with a positive scale (none, Relu, LeakyRelu, Clip with its bounds divided by
// y_scale) the division by y_scale is folded into out_scale and residual_scale (post_scale = 1): one multiply
// per value, as ONNX Runtime's QLinearConv does. Other activations (Sigmoid, HardSwish ...) run on real values
// (out_scale = x_scale * w_scale[m]) and post_scale = 1 / y_scale.
#pragma once
#include <cmath>
#include <limits>
#include <vector>

#include "ir/graph.h"
#include "ops/fused_activation.h"

namespace lowbit {

struct QLinearRequant {
  std::vector<float> out_scale;  // one per output channel
  float residual_scale = 0;
  int32_t residual_zero_point = 0;
  FusedActivation act;  // alpha/beta already in the domain it runs in
  float post_scale = 1;
  int32_t y_zero_point = 0;
};

inline bool activation_commutes_with_scale(FusedActivationKind k) {
  return k == FusedActivationKind::kNone || k == FusedActivationKind::kRelu || k == FusedActivationKind::kLeakyRelu ||
         k == FusedActivationKind::kClip;
}

// w_scale: one value or one per output channel (`channels` of them in the result).
inline QLinearRequant qlinear_requant(const FusedActivation& act, float x_scale, const std::vector<float>& w_scale,
                                      int64_t channels, float y_scale, int32_t y_zero_point, float r_scale = 0,
                                      int32_t r_zero_point = 0) {
  QLinearRequant q;
  q.act = act;
  q.act.residual = false;
  q.y_zero_point = y_zero_point;
  q.residual_zero_point = r_zero_point;
  const bool fold = activation_commutes_with_scale(act.kind);
  q.out_scale.resize(size_t(channels));
  for (int64_t m = 0; m < channels; ++m) {
    const float real = x_scale * w_scale[w_scale.size() == 1 ? 0 : size_t(m)];
    q.out_scale[size_t(m)] = fold ? real / y_scale : real;
  }
  q.residual_scale = fold ? r_scale / y_scale : r_scale;
  q.post_scale = fold ? 1.f : 1.f / y_scale;
  if (fold && act.kind == FusedActivationKind::kClip) {
    // Bounds move into the output's units; the "no bound" sentinels stay sentinels.
    if (q.act.alpha != std::numeric_limits<float>::lowest()) q.act.alpha = act.alpha / y_scale;
    if (q.act.beta != std::numeric_limits<float>::max()) q.act.beta = act.beta / y_scale;
  }
  return q;
}

}  // namespace lowbit
