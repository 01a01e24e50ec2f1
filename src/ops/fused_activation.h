// Activation (and residual Add) fused into Conv / ConvTranspose / Gemm by the graph optimizer (src/passes).
//
// ONNX has no fused Conv+activation op, so a fusion is written as attributes in lowbit's own namespace on the
// producing node (which keeps its ONNX op_type, so the op table, inference and the reference kernel still apply):
//
//   lowbit_activation        string: Relu, Clip, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Swish
//   lowbit_activation_alpha  float:  Clip min / LeakyRelu alpha / HardSigmoid and HardSwish alpha
//   lowbit_activation_beta   float:  Clip max / HardSigmoid and HardSwish beta
//   lowbit_residual          int:    1 = Conv input 3 (same shape as the output) is added after the bias and
//                                    before the activation: y = act(conv(x, W) + B + R)
//
// HardSwish here is x * HardSigmoid(x; alpha, beta); ONNX's HardSwish is alpha = 1/6, beta = 0.5, and the
// PyTorch/Paddle pattern Mul(x, HardSigmoid(x)) keeps its own alpha/beta. Swish is x * Sigmoid(x).
// These attributes never reach an exported ONNX file: an exporter must unfuse them (or drop the pass).
//
//   LB_ASSIGN_OR_RETURN(FusedActivation act, parse_fused_activation(node));
//   apply_fused_activation(act, y.data<float>(), y.numel());   // after the bias (and residual) are in
#pragma once
#include <cmath>
#include <limits>
#include <string>

#include "ir/graph.h"

namespace lowbit {

inline constexpr const char* kFusedActivationAttr = "lowbit_activation";
inline constexpr const char* kFusedAlphaAttr = "lowbit_activation_alpha";
inline constexpr const char* kFusedBetaAttr = "lowbit_activation_beta";
inline constexpr const char* kFusedResidualAttr = "lowbit_residual";

enum class FusedActivationKind { kNone, kRelu, kClip, kLeakyRelu, kSigmoid, kHardSigmoid, kHardSwish, kSwish };

struct FusedActivation {
  FusedActivationKind kind = FusedActivationKind::kNone;
  float alpha = 0, beta = 0;
  bool residual = false;

  bool active() const { return kind != FusedActivationKind::kNone; }
};

inline const char* fused_activation_name(FusedActivationKind k) {
  switch (k) {
    case FusedActivationKind::kNone: return "";
    case FusedActivationKind::kRelu: return "Relu";
    case FusedActivationKind::kClip: return "Clip";
    case FusedActivationKind::kLeakyRelu: return "LeakyRelu";
    case FusedActivationKind::kSigmoid: return "Sigmoid";
    case FusedActivationKind::kHardSigmoid: return "HardSigmoid";
    case FusedActivationKind::kHardSwish: return "HardSwish";
    case FusedActivationKind::kSwish: return "Swish";
  }
  return "";
}

// True when the node carries any lowbit fusion attribute.
inline bool has_fused_attrs(const Node& node) {
  return node.has_attr(kFusedActivationAttr) || node.has_attr(kFusedResidualAttr);
}

// Reads the fusion attributes; kInvalidModel for an unknown activation name.
inline Expected<FusedActivation> parse_fused_activation(const Node& node) {
  FusedActivation a;
  a.residual = node.attr_int(kFusedResidualAttr, 0) != 0;
  const std::string name = node.attr_string(kFusedActivationAttr, "");
  if (name.empty()) return a;
  for (auto k : {FusedActivationKind::kRelu, FusedActivationKind::kClip, FusedActivationKind::kLeakyRelu,
                 FusedActivationKind::kSigmoid, FusedActivationKind::kHardSigmoid, FusedActivationKind::kHardSwish,
                 FusedActivationKind::kSwish})
    if (name == fused_activation_name(k)) a.kind = k;
  if (a.kind == FusedActivationKind::kNone)
    return Status(StatusCode::kInvalidModel, str_cat("attribute '", kFusedActivationAttr, "' = '", name,
                                                     "' is not a fusable activation"));
  float def_alpha = 0, def_beta = 0;
  switch (a.kind) {
    case FusedActivationKind::kClip:
      def_alpha = std::numeric_limits<float>::lowest();
      def_beta = std::numeric_limits<float>::max();
      break;
    case FusedActivationKind::kLeakyRelu: def_alpha = 0.01f; break;
    case FusedActivationKind::kHardSigmoid: def_alpha = 0.2f; def_beta = 0.5f; break;
    case FusedActivationKind::kHardSwish: def_alpha = 1.0f / 6; def_beta = 0.5f; break;
    default: break;
  }
  a.alpha = node.attr_float(kFusedAlphaAttr, def_alpha);
  a.beta = node.attr_float(kFusedBetaAttr, def_beta);
  return a;
}

// Writes the fusion attributes (the inverse of parse_fused_activation).
inline void set_fused_activation(Node& node, const FusedActivation& a) {
  auto put_float = [&](const char* n, float v) {
    Attribute at;
    at.kind = Attribute::Kind::kFloat;
    at.f = v;
    node.attrs[n] = at;
  };
  if (a.active()) {
    Attribute s;
    s.kind = Attribute::Kind::kString;
    s.s = fused_activation_name(a.kind);
    node.attrs[kFusedActivationAttr] = s;
    put_float(kFusedAlphaAttr, a.alpha);
    put_float(kFusedBetaAttr, a.beta);
  }
  if (a.residual) {
    Attribute r;
    r.kind = Attribute::Kind::kInt;
    r.i = 1;
    node.attrs[kFusedResidualAttr] = r;
  }
}

// "Relu", "Clip(0, 6)", "residual + Relu" (for reports).
inline std::string describe_fused_activation(const FusedActivation& a) {
  std::string s = a.residual ? "residual Add" : "";
  if (!a.active()) return s;
  if (!s.empty()) s += " + ";
  s += fused_activation_name(a.kind);
  auto num = [](float v) {
    std::string t = std::to_string(v);
    while (t.size() > 1 && t.back() == '0') t.pop_back();
    if (!t.empty() && t.back() == '.') t.pop_back();
    return t;
  };
  switch (a.kind) {
    case FusedActivationKind::kClip: s += "(" + num(a.alpha) + ", " + num(a.beta) + ")"; break;
    case FusedActivationKind::kLeakyRelu: s += "(" + num(a.alpha) + ")"; break;
    case FusedActivationKind::kHardSigmoid:
    case FusedActivationKind::kHardSwish: s += "(" + num(a.alpha) + ", " + num(a.beta) + ")"; break;
    default: break;
  }
  return s;
}

// Applies the activation in place. The formulas are the reference elementwise kernels' (same operation
// order), so a fused node matches the unfused graph bit for bit up to the fused op's own rounding.
template <typename T>
void apply_fused_activation(const FusedActivation& a, T* data, int64_t n) {
  auto clamp = [](T v, T lo, T hi) {  // NaN passes through, like the Clip kernel
    T r = v < lo ? lo : v;
    return r > hi ? hi : r;
  };
  const T alpha = T(a.alpha), beta = T(a.beta);
  switch (a.kind) {
    case FusedActivationKind::kNone: return;
    case FusedActivationKind::kRelu:
      for (int64_t i = 0; i < n; ++i) data[i] = data[i] < T(0) ? T(0) : data[i];
      return;
    case FusedActivationKind::kClip: {
      // Absent bounds were stored as float lowest/max: widen them to T's own limits.
      const T lo = a.alpha == std::numeric_limits<float>::lowest() ? std::numeric_limits<T>::lowest() : alpha;
      const T hi = a.beta == std::numeric_limits<float>::max() ? std::numeric_limits<T>::max() : beta;
      for (int64_t i = 0; i < n; ++i) data[i] = clamp(data[i], lo, hi);
      return;
    }
    case FusedActivationKind::kLeakyRelu:
      for (int64_t i = 0; i < n; ++i) data[i] = data[i] < T(0) ? alpha * data[i] : data[i];
      return;
    case FusedActivationKind::kSigmoid:
    case FusedActivationKind::kSwish:
      for (int64_t i = 0; i < n; ++i) {
        const T v = data[i];
        const T e = std::exp(-std::fabs(v));
        const T r = T(1) / (T(1) + e);
        const T sig = v >= T(0) ? r : e * r;
        data[i] = a.kind == FusedActivationKind::kSwish ? v * sig : sig;
      }
      return;
    case FusedActivationKind::kHardSigmoid:
      for (int64_t i = 0; i < n; ++i) data[i] = clamp(alpha * data[i] + beta, T(0), T(1));
      return;
    case FusedActivationKind::kHardSwish:
      for (int64_t i = 0; i < n; ++i) data[i] = data[i] * clamp(alpha * data[i] + beta, T(0), T(1));
      return;
  }
}

}  // namespace lowbit
