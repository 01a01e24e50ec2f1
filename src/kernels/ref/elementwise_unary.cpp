// Reference kernels: unary math and activations (Sqrt ... Elu, Clip). Every op maps x[i] -> y[i] over
// equal-shaped tensors; 16-bit floats are computed in float.
#include <cmath>
#include <limits>

#include "ops/elementwise_kernels.h"
#include "ops/op_table.h"

namespace lowbit {

namespace {

template <unsigned Set, typename Op>
Status unary(KernelContext& ctx, Op op) {
  const Tensor& x = ctx.in(0);
  bool handled = visit_dtype<Set>(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    map_unary<T, T>(ctx, x, ctx.out(0), op);
  });
  return handled ? Status::Ok() : unexpected_dtype(ctx, x.dtype());
}

// Clamps to [lo, hi]; NaN passes through, and lo > hi gives hi (numpy.clip / ONNX Runtime).
template <typename C>
inline C clamp_nan(C v, C lo, C hi) {
  C r = v < lo ? lo : v;
  return r > hi ? hi : r;
}

}  // namespace

Status ref_Sqrt(KernelContext& ctx) {
  return unary<kFloatTypes>(ctx, [](auto v) { return std::sqrt(v); });
}
Status ref_Exp(KernelContext& ctx) {
  return unary<kFloatTypes>(ctx, [](auto v) { return std::exp(v); });
}
Status ref_Log(KernelContext& ctx) {
  return unary<kFloatTypes>(ctx, [](auto v) { return std::log(v); });
}
Status ref_Reciprocal(KernelContext& ctx) {
  return unary<kFloatTypes>(ctx, [](auto v) { return decltype(v)(1) / v; });
}
Status ref_Floor(KernelContext& ctx) {
  return unary<kFloatTypes>(ctx, [](auto v) { return std::floor(v); });
}
Status ref_Ceil(KernelContext& ctx) {
  return unary<kFloatTypes>(ctx, [](auto v) { return std::ceil(v); });
}
Status ref_Erf(KernelContext& ctx) {
  return unary<kFloatTypes>(ctx, [](auto v) { return std::erf(v); });
}
Status ref_Tanh(KernelContext& ctx) {
  return unary<kFloatTypes>(ctx, [](auto v) { return std::tanh(v); });
}

Status ref_Neg(KernelContext& ctx) {
  return unary<kSignedTypes>(ctx, [](auto v) { return wrap_neg(v); });
}
Status ref_Abs(KernelContext& ctx) {
  return unary<kNumericTypes>(ctx, [](auto v) {
    using C = decltype(v);
    if constexpr (std::is_unsigned_v<C>)
      return v;
    else if constexpr (std::is_integral_v<C>)
      return v < 0 ? wrap_neg(v) : v;  // |INT_MIN| wraps to INT_MIN
    else
      return std::fabs(v);
  });
}

Status ref_Relu(KernelContext& ctx) {
  return unary<kSignedTypes>(ctx, [](auto v) { return v < decltype(v)(0) ? decltype(v)(0) : v; });
}
Status ref_LeakyRelu(KernelContext& ctx) {
  const float alpha = ctx.node.attr_float("alpha", 0.01f);
  return unary<kFloatTypes>(ctx, [alpha](auto v) {
    using C = decltype(v);
    return v < C(0) ? C(alpha) * v : v;
  });
}
Status ref_Elu(KernelContext& ctx) {
  const float alpha = ctx.node.attr_float("alpha", 1.0f);
  return unary<kFloatTypes>(ctx, [alpha](auto v) {
    using C = decltype(v);
    return v < C(0) ? C(alpha) * std::expm1(v) : v;
  });
}

// Sigmoid without exp overflow: with e = e^-|x| (never above 1), sigmoid is 1/(1+e) for x >= 0 and
// e/(1+e) for x < 0, so nothing divides inf by inf; one exp and no branch around it.
Status ref_Sigmoid(KernelContext& ctx) {
  return unary<kFloatTypes>(ctx, [](auto v) {
    using C = decltype(v);
    const C e = std::exp(-std::fabs(v));
    const C r = C(1) / (C(1) + e);
    return v >= C(0) ? r : e * r;
  });
}
Status ref_HardSigmoid(KernelContext& ctx) {
  const float alpha = ctx.node.attr_float("alpha", 0.2f);
  const float beta = ctx.node.attr_float("beta", 0.5f);
  return unary<kFloatTypes>(ctx, [alpha, beta](auto v) {
    using C = decltype(v);
    return clamp_nan(C(alpha) * v + C(beta), C(0), C(1));
  });
}
Status ref_HardSwish(KernelContext& ctx) {
  return unary<kFloatTypes>(ctx, [](auto v) {
    using C = decltype(v);
    return v * clamp_nan(v / C(6) + C(0.5), C(0), C(1));
  });
}
// Softplus = log(1 + e^x), written so large |x| neither overflows nor loses the small tail.
Status ref_Softplus(KernelContext& ctx) {
  return unary<kFloatTypes>(ctx, [](auto v) {
    using C = decltype(v);
    return v > C(0) ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v));
  });
}

// Clip: bounds from attributes (opset < 11) or optional one-element inputs (opset 11+); a missing
// bound does not clip.
Status ref_Clip(KernelContext& ctx) {
  const Tensor& x = ctx.in(0);
  bool handled = visit_dtype<kNumericTypes>(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    C lo = std::numeric_limits<C>::lowest();
    C hi = std::numeric_limits<C>::max();
    if (ctx.opset < 11) {
      if (ctx.node.has_attr("min")) lo = convert_element<float, C>(ctx.node.attr_float("min", 0));
      if (ctx.node.has_attr("max")) hi = convert_element<float, C>(ctx.node.attr_float("max", 0));
    } else {
      if (ctx.has_input(1) && ctx.in(1).numel() > 0) lo = load(ctx.in(1).data<T>()[0]);
      if (ctx.has_input(2) && ctx.in(2).numel() > 0) hi = load(ctx.in(2).data<T>()[0]);
    }
    map_unary<T, T>(ctx, x, ctx.out(0), [lo, hi](C v) { return clamp_nan(v, lo, hi); });
  });
  return handled ? Status::Ok() : unexpected_dtype(ctx, x.dtype());
}

}  // namespace lowbit
