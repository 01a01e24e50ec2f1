// Shared machinery of the elementwise reference kernels (src/kernels/ref/elementwise_*.cpp, cast.cpp):
// dtype visitors restricted to the types an op accepts, load/store through float for the 16-bit floats,
// overflow-free integer arithmetic, defined float->int conversion, and parallel loops over equal-shaped
// and broadcast tensors.
//
//   visit_dtype<kNumericTypes>(x.dtype(), [&](auto tag) {
//     using T = typename decltype(tag)::type;
//     map_unary<T, T>(ctx, x, y, [](auto v) { return v < 0 ? -v : v; });
//   });
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "kernels/ref/dispatch.h"
#include "ops/broadcast.h"
#include "ops/op_context.h"

namespace lowbit {

// ---------------------------------------------------------------------------------------------
// Type sets and visitors

enum ElementTypeSet : unsigned {
  kFloatTypes = 1,      // float32, float64, float16, bfloat16
  kSignedIntTypes = 2,  // int8..int64
  kUnsignedIntTypes = 4,
  kBoolType = 8,
  kSignedTypes = kFloatTypes | kSignedIntTypes,
  kIntTypes = kSignedIntTypes | kUnsignedIntTypes,
  kNumericTypes = kFloatTypes | kIntTypes,
  kAllTypes = kNumericTypes | kBoolType,
};

// Calls f(TypeTag<T>{}) for dtype t if it belongs to Set; returns false (without calling) otherwise.
// bool is visited as uint8_t storage so that any byte read from a file stays defined behaviour.
template <unsigned Set, typename F>
bool visit_dtype(DType t, F&& f) {
  switch (t) {
#define LOWBIT_VISIT_CASE(dtype, type, set) \
  case DType::dtype:                        \
    if constexpr ((Set & (set)) != 0) {     \
      f(TypeTag<type>{});                   \
      return true;                          \
    }                                       \
    break;
    LOWBIT_VISIT_CASE(kFloat32, float, kFloatTypes)
    LOWBIT_VISIT_CASE(kFloat64, double, kFloatTypes)
    LOWBIT_VISIT_CASE(kFloat16, Half, kFloatTypes)
    LOWBIT_VISIT_CASE(kBFloat16, BFloat16, kFloatTypes)
    LOWBIT_VISIT_CASE(kInt8, int8_t, kSignedIntTypes)
    LOWBIT_VISIT_CASE(kInt16, int16_t, kSignedIntTypes)
    LOWBIT_VISIT_CASE(kInt32, int32_t, kSignedIntTypes)
    LOWBIT_VISIT_CASE(kInt64, int64_t, kSignedIntTypes)
    LOWBIT_VISIT_CASE(kUint8, uint8_t, kUnsignedIntTypes)
    LOWBIT_VISIT_CASE(kUint16, uint16_t, kUnsignedIntTypes)
    LOWBIT_VISIT_CASE(kUint32, uint32_t, kUnsignedIntTypes)
    LOWBIT_VISIT_CASE(kUint64, uint64_t, kUnsignedIntTypes)
    LOWBIT_VISIT_CASE(kBool, uint8_t, kBoolType)
#undef LOWBIT_VISIT_CASE
    default:
      break;
  }
  return false;
}

// Kernels only see dtypes their inference accepted; anything else is a lowbit bug.
inline Status unexpected_dtype(const KernelContext& ctx, DType t) {
  return error(StatusCode::kInternal, ctx.node.describe(), ": reference kernel got unexpected dtype ", dtype_name(t));
}

// ---------------------------------------------------------------------------------------------
// Load / store: 16-bit floats are computed in float.

template <typename T>
using compute_t = std::conditional_t<is_half_v<T>, float, T>;

template <typename T>
inline compute_t<T> load(T v) {
  if constexpr (is_half_v<T>)
    return to_float(v);
  else
    return v;
}
template <typename T, typename V>
inline T store(V v) {
  if constexpr (is_half_v<T>)
    return from_float<T>(static_cast<float>(v));
  else
    return static_cast<T>(v);
}

// ---------------------------------------------------------------------------------------------
// Integer arithmetic without undefined behaviour: signed overflow wraps (two's complement, like
// ONNX Runtime on every real machine); the operands are widened to at least `unsigned` first so that
// e.g. uint16*uint16 never overflows a promoted int.

template <typename T>
using wrap_uint_t = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;

template <typename T>
inline T wrap_add(T a, T b) {
  if constexpr (std::is_integral_v<T>)
    return T(wrap_uint_t<T>(a) + wrap_uint_t<T>(b));
  else
    return a + b;
}
template <typename T>
inline T wrap_sub(T a, T b) {
  if constexpr (std::is_integral_v<T>)
    return T(wrap_uint_t<T>(a) - wrap_uint_t<T>(b));
  else
    return a - b;
}
template <typename T>
inline T wrap_mul(T a, T b) {
  if constexpr (std::is_integral_v<T>)
    return T(wrap_uint_t<T>(a) * wrap_uint_t<T>(b));
  else
    return a * b;
}
template <typename T>
inline T wrap_neg(T a) {
  if constexpr (std::is_integral_v<T>)
    return T(wrap_uint_t<T>(0) - wrap_uint_t<T>(a));
  else
    return -a;
}
// Integer division truncates toward zero (C++ and ONNX Runtime). x/0 is 0 and INT_MIN/-1 wraps to
// INT_MIN: ONNX leaves both undefined, lowbit picks a defined, documented result instead of crashing.
template <typename T>
inline T safe_div(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    if (b == 0) return 0;
    if constexpr (std::is_signed_v<T>)
      if (b == -1) return wrap_neg(a);
    return T(a / b);
  } else {
    return a / b;
  }
}

// Min/Max propagate NaN (like numpy.minimum / numpy.maximum, which the ONNX references use).
template <typename T>
inline T nan_min(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(a)) return a;
    if (std::isnan(b)) return b;
  }
  return b < a ? b : a;
}
template <typename T>
inline T nan_max(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(a)) return a;
    if (std::isnan(b)) return b;
  }
  return a < b ? b : a;
}

// Float -> integer with a defined result for every input: truncation toward zero, NaN -> 0, values
// outside the target range saturate to its min/max (C++ static_cast would be undefined behaviour).
template <typename To>
inline To saturate_float_to_int(double v) {
  static_assert(std::is_integral_v<To>);
  if (std::isnan(v)) return 0;
  v = std::trunc(v);
  const double upper_exclusive = std::ldexp(1.0, std::numeric_limits<To>::digits);  // 2^bits (exact)
  if (v >= upper_exclusive) return std::numeric_limits<To>::max();
  if (v <= static_cast<double>(std::numeric_limits<To>::min())) return std::numeric_limits<To>::min();
  return static_cast<To>(v);
}

// Converts one element between any two storage types (the Cast rules):
//   float -> int: saturate_float_to_int; int -> int: modular (C++20 / numpy / ONNX Runtime);
//   anything -> bool: != 0 (NaN is true, as in numpy); bool -> anything: 0 or 1;
//   16-bit floats go through float (round to nearest even on the way down).
template <typename From, typename To>
inline To convert_element(From v) {
  if constexpr (is_half_v<From>) {
    return convert_element<float, To>(to_float(v));
  } else if constexpr (is_half_v<To>) {
    return from_float<To>(static_cast<float>(v));
  } else if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    return saturate_float_to_int<To>(static_cast<double>(v));
  } else {
    return static_cast<To>(v);
  }
}

// ---------------------------------------------------------------------------------------------
// Loops. Big tensors are split over the session's threads in chunks of about this many elements.

constexpr int64_t kElementwiseGrain = 16384;

// y[i] = fn(x[i]) over equal-shaped tensors; fn takes and returns compute values.
template <typename In, typename Out, typename F>
void map_unary(KernelContext& ctx, const Tensor& x, Tensor& y, F fn) {
  const In* src = x.data<In>();
  Out* dst = y.data<Out>();
  ctx.parallel_for(
      y.numel(),
      [&](int64_t begin, int64_t end) {
        const F f = fn;  // a local copy: stores to dst cannot alias its captures, so the loop vectorizes
        for (int64_t i = begin; i < end; ++i) dst[i] = store<Out>(f(load(src[i])));
      },
      kElementwiseGrain);
}

// The output shape with adjacent dims merged wherever every input is contiguous (or broadcast) across
// both, so [N,C,H,W] * [C,1,1] walks rows of H*W with one scalar per row instead of W-long rows.
template <size_t N>
struct BroadcastPlan {
  Shape dims;                                   // merged output dims, rank >= 1
  std::array<std::vector<int64_t>, N> strides;  // element strides of each input per merged dim
};

template <size_t N>
BroadcastPlan<N> make_broadcast_plan(const Shape& out, const std::array<const Shape*, N>& inputs) {
  std::array<std::vector<int64_t>, N> full;
  for (size_t k = 0; k < N; ++k) full[k] = broadcast_strides(*inputs[k], out);
  BroadcastPlan<N> plan;
  for (size_t d = 0; d < out.size(); ++d) {
    if (out[d] == 1) continue;  // contributes nothing to any offset
    bool mergeable = !plan.dims.empty();
    for (size_t k = 0; k < N && mergeable; ++k) mergeable = plan.strides[k].back() == full[k][d] * out[d];
    if (mergeable) {
      plan.dims.back() *= out[d];
      for (size_t k = 0; k < N; ++k) plan.strides[k].back() = full[k][d];
    } else {
      plan.dims.push_back(out[d]);
      for (size_t k = 0; k < N; ++k) plan.strides[k].push_back(full[k][d]);
    }
  }
  if (plan.dims.empty()) {  // scalar output, or only size-1 dims
    plan.dims.push_back(1);
    for (size_t k = 0; k < N; ++k) plan.strides[k].push_back(0);
  }
  return plan;
}

// Calls row(out_offset, in_offsets, inner_strides, length) for every innermost run of `out`, in parallel.
// in_offsets are element offsets into each input; inner_strides are each input's step along the run (0 for
// a broadcast input, 1 otherwise). Runs longer than kElementwiseGrain are cut into pieces so that equal-shaped
// tensors (one single run after merging) still spread over the threads.
template <size_t N, typename RowFn>
void for_each_broadcast_row(KernelContext& ctx, const Shape& out, const std::array<const Shape*, N>& inputs,
                            RowFn&& row) {
  if (numel_unchecked(out) == 0) return;
  const BroadcastPlan<N> plan = make_broadcast_plan<N>(out, inputs);
  const size_t rank = plan.dims.size();
  const int64_t inner = plan.dims.back();
  const int64_t rows = numel_unchecked(plan.dims) / inner;
  const int64_t piece = std::min(inner, kElementwiseGrain);
  const int64_t pieces_per_row = (inner + piece - 1) / piece;
  std::array<int64_t, N> inner_strides;
  for (size_t k = 0; k < N; ++k) inner_strides[k] = plan.strides[k].back();
  ctx.parallel_for(
      rows * pieces_per_row,
      [&](int64_t unit_begin, int64_t unit_end) {
        // multi-index (over all merged dims but the last) and input offsets of the first unit's row
        int64_t r = unit_begin / pieces_per_row;
        std::vector<int64_t> idx(rank - 1, 0);
        std::array<int64_t, N> off{};
        int64_t rem = r;
        for (int64_t d = int64_t(rank) - 2; d >= 0; --d) {
          idx[d] = rem % plan.dims[d];
          rem /= plan.dims[d];
          for (size_t k = 0; k < N; ++k) off[k] += idx[d] * plan.strides[k][d];
        }
        for (int64_t unit = unit_begin; unit < unit_end; ++unit) {
          const int64_t p = unit - r * pieces_per_row;
          const int64_t start = p * piece;
          std::array<int64_t, N> piece_off;
          for (size_t k = 0; k < N; ++k) piece_off[k] = off[k] + start * inner_strides[k];
          row(r * inner + start, piece_off, inner_strides, std::min(piece, inner - start));
          if (p + 1 < pieces_per_row) continue;
          ++r;  // next row: advance the multi-index like an odometer
          for (int64_t d = int64_t(rank) - 2; d >= 0; --d) {
            ++idx[d];
            for (size_t k = 0; k < N; ++k) off[k] += plan.strides[k][d];
            if (idx[d] < plan.dims[d]) break;
            for (size_t k = 0; k < N; ++k) off[k] -= plan.strides[k][d] * plan.dims[d];
            idx[d] = 0;
          }
        }
      },
      std::max<int64_t>(1, kElementwiseGrain / piece));
}

// out = fn(a, b) with numpy broadcasting; fn takes compute values of A and B and returns a value stored
// as Out. `out` may alias `a` when a already has the output shape (used by the variadic ops).
template <typename A, typename B, typename Out, typename F>
void map_binary(KernelContext& ctx, const Tensor& a, const Tensor& b, Tensor& out, F fn) {
  const A* pa = a.data<A>();
  const B* pb = b.data<B>();
  Out* po = out.data<Out>();
  const Shape& shape = out.shape();
  for_each_broadcast_row<2>(
      ctx, shape, {&a.shape(), &b.shape()},
      [&](int64_t o, const std::array<int64_t, 2>& off, const std::array<int64_t, 2>& step, int64_t len) {
        const A* x = pa + off[0];
        const B* y = pb + off[1];
        Out* z = po + o;
        const F f = fn;  // local copy, see map_unary
        // the common cases get their own tight (vectorizable) loops
        if (step[0] == 1 && step[1] == 1) {
          for (int64_t i = 0; i < len; ++i) z[i] = store<Out>(f(load(x[i]), load(y[i])));
        } else if (step[0] == 1 && step[1] == 0) {
          const auto yv = load(y[0]);
          for (int64_t i = 0; i < len; ++i) z[i] = store<Out>(f(load(x[i]), yv));
        } else if (step[0] == 0 && step[1] == 1) {
          const auto xv = load(x[0]);
          for (int64_t i = 0; i < len; ++i) z[i] = store<Out>(f(xv, load(y[i])));
        } else {
          for (int64_t i = 0; i < len; ++i) z[i] = store<Out>(f(load(x[i * step[0]]), load(y[i * step[1]])));
        }
      });
}

// Converts every element of src into dst (same shape, any storable dtypes but string). Shared by Cast
// and by kernels that need an operand in another type (Pow with mixed base/exponent types).
Status convert_tensor(KernelContext& ctx, const Tensor& src, Tensor& dst);

}  // namespace lowbit
