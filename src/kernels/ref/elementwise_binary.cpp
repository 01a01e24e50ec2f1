// Reference kernels: broadcasting arithmetic (Add, Sub, Mul, Div, Pow, PRelu) and the variadic
// Min / Max / Sum. Shapes and dtypes were checked by inference (src/ops/elementwise.cpp).
#include <cmath>
#include <cstring>

#include "ops/elementwise_kernels.h"
#include "ops/op_table.h"

namespace lowbit {

namespace {

// out = op(a, b) for two inputs of one dtype from Set; op takes compute values (float for 16-bit floats).
template <unsigned Set, typename Op>
Status binary_same_type(KernelContext& ctx, Op op) {
  const Tensor& a = ctx.in(0);
  const Tensor& b = ctx.in(1);
  Tensor& out = ctx.out(0);
  bool handled = visit_dtype<Set>(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    map_binary<T, T, T>(ctx, a, b, out, op);
  });
  return handled ? Status::Ok() : unexpected_dtype(ctx, a.dtype());
}

// Min / Max / Sum over N inputs: fold pairwise into the output, which has the full broadcast shape
// after the first step, so later steps can update it in place.
template <typename Op>
Status variadic(KernelContext& ctx, Op op) {
  const size_t n = ctx.node.num_inputs();
  Tensor& out = ctx.out(0);
  if (n == 1) {
    std::memcpy(out.raw(), ctx.in(0).raw(), out.nbytes());
    return Status::Ok();
  }
  bool handled = visit_dtype<kNumericTypes>(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    map_binary<T, T, T>(ctx, ctx.in(0), ctx.in(1), out, op);
    for (size_t i = 2; i < n; ++i) map_binary<T, T, T>(ctx, out, ctx.in(i), out, op);
  });
  return handled ? Status::Ok() : unexpected_dtype(ctx, out.dtype());
}

// Exact integer power by squaring (wrapping on overflow). Negative exponents truncate like the real
// result would: 1 and -1 stay exact, everything else (0^-n included, which has no value) gives 0.
template <typename T, typename E>
T int_pow(T base, E exponent) {
  if constexpr (std::is_signed_v<E>) {
    if (exponent < 0) {
      if (base == T(1)) return 1;
      if constexpr (std::is_signed_v<T>)
        if (base == T(-1)) return (exponent & 1) ? T(-1) : T(1);
      return 0;
    }
  }
  T result = 1;
  auto e = static_cast<std::make_unsigned_t<E>>(exponent);
  while (e != 0) {
    if (e & 1) result = wrap_mul(result, base);
    base = wrap_mul(base, base);
    e >>= 1;
  }
  return result;
}

}  // namespace

Status ref_Add(KernelContext& ctx) {
  return binary_same_type<kNumericTypes>(ctx, [](auto a, auto b) { return wrap_add(a, b); });
}
Status ref_Sub(KernelContext& ctx) {
  return binary_same_type<kNumericTypes>(ctx, [](auto a, auto b) { return wrap_sub(a, b); });
}
Status ref_Mul(KernelContext& ctx) {
  return binary_same_type<kNumericTypes>(ctx, [](auto a, auto b) { return wrap_mul(a, b); });
}
Status ref_Div(KernelContext& ctx) {
  return binary_same_type<kNumericTypes>(ctx, [](auto a, auto b) { return safe_div(a, b); });
}

Status ref_Min(KernelContext& ctx) {
  return variadic(ctx, [](auto a, auto b) { return nan_min(a, b); });
}
Status ref_Max(KernelContext& ctx) {
  return variadic(ctx, [](auto a, auto b) { return nan_max(a, b); });
}
Status ref_Sum(KernelContext& ctx) {
  return variadic(ctx, [](auto a, auto b) { return wrap_add(a, b); });
}

// Pow: the output has the base's type. Integer ^ integer is exact; anything involving floats is
// computed with std::pow (in double when the types differ) and converted back with the Cast rules.
Status ref_Pow(KernelContext& ctx) {
  const Tensor& base = ctx.in(0);
  const Tensor& exponent = ctx.in(1);
  Tensor& out = ctx.out(0);
  if (base.dtype() == exponent.dtype()) {
    return binary_same_type<kNumericTypes>(ctx, [](auto a, auto b) {
      using C = decltype(a);
      if constexpr (std::is_integral_v<C>)
        return int_pow(a, b);
      else
        return C(std::pow(a, b));
    });
  }
  // Mixed types (opset 12+): bring the exponent to int64 (integer base and exponent) or double.
  const bool integer_pair = dtype_is_integer(base.dtype()) && dtype_is_integer(exponent.dtype());
  auto converted = Tensor::create(integer_pair ? DType::kInt64 : DType::kFloat64, exponent.shape());
  if (!converted) return converted.status();
  LB_RETURN_IF_ERROR(convert_tensor(ctx, exponent, *converted));
  bool handled = visit_dtype<kNumericTypes>(base.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    if (integer_pair) {
      if constexpr (std::is_integral_v<T>)
        map_binary<T, int64_t, T>(ctx, base, *converted, out, [](C a, int64_t e) { return int_pow(a, e); });
    } else {
      map_binary<T, double, T>(ctx, base, *converted, out, [](C a, double e) {
        double r = std::pow(static_cast<double>(a), e);
        if constexpr (std::is_integral_v<C>)
          return saturate_float_to_int<C>(r);
        else
          return r;
      });
    }
  });
  return handled ? Status::Ok() : unexpected_dtype(ctx, base.dtype());
}

// PRelu: slope broadcasts to X; the output has X's shape.
Status ref_PRelu(KernelContext& ctx) {
  return binary_same_type<kNumericTypes>(ctx, [](auto x, auto slope) {
    using C = decltype(x);
    if constexpr (std::is_unsigned_v<C>)
      return x;  // never negative
    else
      return x < C(0) ? wrap_mul(x, slope) : x;
  });
}

}  // namespace lowbit
