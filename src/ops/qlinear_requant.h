// How a QLinearConv turns its int32 accumulator into the output code: the one rule the reference kernel
// (src/kernels/ref/conv_gemm.cpp) and the oneDNN int8 kernel (src/kernels/onednn/qconv.cpp) both follow, so
// they differ only by float rounding (at most 1 LSB where a value lands on a rounding tie).
//
//   acc[m]  = B[m] + sum (X - x_zp) * (W[m] - w_zp[m])                       (exact integers)
//   v       = float(acc) * out_scale[m]
//   v       = clamp(round_half_even(v), lo, hi) * to_conv                     (lowbit_conv_scale only)
//   v      += residual_scale * float(R - r_zp)                               (lowbit_residual only)
//   v       = act(v)                                                         (fused activation)
//   v      *= post_scale
//   Y       = saturate(round_half_to_even(v) + y_zp)
//
// For activations that commute with a positive scale (none, Relu, LeakyRelu, Clip with its bounds divided by
// y_scale) the division by y_scale is folded into out_scale and residual_scale (post_scale = 1): one multiply
// per value, as ONNX Runtime's QLinearConv does. Other activations (Sigmoid, HardSwish ...) run on real values
// (out_scale = x_scale * w_scale[m]) and post_scale = 1 / y_scale. With the intermediate rounding below, v
// starts in units of lowbit_conv_scale (the rounding is then a bare round + clamp) and post_scale converts at
// the end; the unit choice keeps every oneDNN post-op chain to at most one scaling step (oneDNN 2.6 mixes up
// the constants of two eltwise_linear post-ops in one int8 kernel; tests/unit/onednn_qconv_test.cpp).
//
// lowbit_conv_scale (float) and lowbit_conv_range (ints [lo, hi], codes minus zero point) keep the rounding and
// saturation of a QuantizeLinear -> DequantizeLinear pair the graph had between the Conv and its residual Add
// (pass lower_qdq): the fused node then computes exactly what the QDQ graph specifies, clipping included.
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
  bool round_conv = false;  // the lowbit_conv_scale step: v = clamp(round(v), lo, hi) * to_conv
  float to_conv = 1, conv_lo = 0, conv_hi = 0;
};

inline constexpr const char* kConvScaleAttr = "lowbit_conv_scale";
inline constexpr const char* kConvRangeAttr = "lowbit_conv_range";

// The intermediate rounding attributes (absent: scale 0). kInvalidModel when malformed.
struct ConvRounding {
  float scale = 0;
  int64_t lo = 0, hi = 0;
};
inline Expected<ConvRounding> parse_conv_rounding(const Node& node) {
  ConvRounding r;
  if (!node.has_attr(kConvScaleAttr) && !node.has_attr(kConvRangeAttr)) return r;
  r.scale = node.attr_float(kConvScaleAttr, 0);
  const std::vector<int64_t> range = node.attr_ints(kConvRangeAttr);
  if (!(r.scale > 0) || !std::isfinite(r.scale) || range.size() != 2 || range[0] > range[1])
    return Status(StatusCode::kInvalidModel, str_cat("attributes '", kConvScaleAttr, "' (> 0) and '", kConvRangeAttr,
                                                     "' ([lo, hi], lo <= hi) must come together"));
  r.lo = range[0];
  r.hi = range[1];
  return r;
}

inline bool activation_commutes_with_scale(FusedActivationKind k) {
  return k == FusedActivationKind::kNone || k == FusedActivationKind::kRelu || k == FusedActivationKind::kLeakyRelu ||
         k == FusedActivationKind::kClip;
}

// w_scale: one value or one per output channel (`channels` of them in the result).
inline QLinearRequant qlinear_requant(const FusedActivation& act, float x_scale, const std::vector<float>& w_scale,
                                      int64_t channels, float y_scale, int32_t y_zero_point, float r_scale = 0,
                                      int32_t r_zero_point = 0, const ConvRounding& rounding = {}) {
  QLinearRequant q;
  q.act = act;
  q.act.residual = false;
  q.y_zero_point = y_zero_point;
  q.residual_zero_point = r_zero_point;
  const bool fold = activation_commutes_with_scale(act.kind);
  // The unit v is counted in: y's step when the activation commutes with scaling, real values otherwise; with
  // the intermediate rounding, v starts in the Conv output's own steps (so the rounding is a bare round + clip).
  const bool round_conv = rounding.scale > 0;
  const float unit = round_conv ? rounding.scale : fold ? y_scale : 1.f;
  q.out_scale.resize(size_t(channels));
  for (int64_t m = 0; m < channels; ++m)
    q.out_scale[size_t(m)] = x_scale * w_scale[w_scale.size() == 1 ? 0 : size_t(m)] / (unit == 1.f ? 1.f : unit);
  if (round_conv) {
    q.round_conv = true;
    q.conv_lo = float(rounding.lo);
    q.conv_hi = float(rounding.hi);
    q.to_conv = fold ? 1.f : rounding.scale;  // back to real values for a non-commuting activation
  }
  const float act_unit = round_conv ? (fold ? rounding.scale : 1.f) : unit;  // the unit v has at the activation
  q.residual_scale = r_scale / act_unit;
  q.post_scale = act_unit / y_scale;
  if (act_unit != 1.f && act.kind == FusedActivationKind::kClip) {
    // Bounds move into v's units; the "no bound" sentinels stay sentinels.
    if (q.act.alpha != std::numeric_limits<float>::lowest()) q.act.alpha = act.alpha / act_unit;
    if (q.act.beta != std::numeric_limits<float>::max()) q.act.beta = act.beta / act_unit;
  }
  return q;
}

}  // namespace lowbit
