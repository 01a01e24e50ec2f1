// Type dispatch for reference kernels: run a generic lambda with the C++ type of a DType.
//
//   return dispatch_numeric(x.dtype(), [&](auto tag) -> Status {
//     using T = typename decltype(tag)::type;
//     ...
//   });
//
// float16/bfloat16 are not arithmetic C++ types: kernels that support them convert through
// float (see to_float / from_float below).
#pragma once
#include <cstdint>
#include <type_traits>

#include "lowbit/tensor.h"

namespace lowbit {

template <typename T> struct TypeTag { using type = T; };

// A 16-bit float held as raw bits; kernels convert through float.
struct Half { uint16_t bits; };
struct BFloat16 { uint16_t bits; };

template <typename F>
auto dispatch_dtype(DType t, F&& f, bool* handled = nullptr) -> decltype(f(TypeTag<float>{})) {
  if (handled) *handled = true;
  switch (t) {
    case DType::kFloat32: return f(TypeTag<float>{});
    case DType::kFloat64: return f(TypeTag<double>{});
    case DType::kInt8: return f(TypeTag<int8_t>{});
    case DType::kUint8: return f(TypeTag<uint8_t>{});
    case DType::kInt16: return f(TypeTag<int16_t>{});
    case DType::kUint16: return f(TypeTag<uint16_t>{});
    case DType::kInt32: return f(TypeTag<int32_t>{});
    case DType::kUint32: return f(TypeTag<uint32_t>{});
    case DType::kInt64: return f(TypeTag<int64_t>{});
    case DType::kUint64: return f(TypeTag<uint64_t>{});
    case DType::kBool: return f(TypeTag<bool>{});
    case DType::kFloat16: return f(TypeTag<Half>{});
    case DType::kBFloat16: return f(TypeTag<BFloat16>{});
    default: break;
  }
  if (handled) *handled = false;
  return f(TypeTag<float>{});  // unreachable for validated inputs; callers check dtype first
}

template <typename T> constexpr bool is_half_v = std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;

inline float to_float(Half h) { return half_to_float(h.bits); }
inline float to_float(BFloat16 h) { return bfloat16_to_float(h.bits); }
template <typename T> inline T from_float(float f) {
  if constexpr (std::is_same_v<T, Half>) return Half{float_to_half(f)};
  else if constexpr (std::is_same_v<T, BFloat16>) return BFloat16{float_to_bfloat16(f)};
  else return static_cast<T>(f);
}

}  // namespace lowbit
