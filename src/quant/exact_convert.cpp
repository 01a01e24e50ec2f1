// Value-preserving conversion (see exact_convert.h). Integers go through __int128 so that every int64 and
// uint64 value compares exactly against every target range; floats go through double.
#include "quant/exact_convert.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "kernels/ref/dispatch.h"

namespace lowbit::quant {
namespace {

using Wide = __int128;

template <typename T>
constexpr bool is_float_like_v = std::is_floating_point_v<T> || is_half_v<T>;

template <typename T>
double load_float(T v) {
  if constexpr (is_half_v<T>)
    return double(to_float(v));
  else
    return double(v);
}

std::string number_text(Wide v) {
  if (v >= 0 && v <= Wide(std::numeric_limits<uint64_t>::max())) return std::to_string(uint64_t(v));
  return std::to_string(int64_t(v));
}

template <typename To>
bool store_float(double v, To* out, DType to, ConvertIssue* issue, int64_t i) {
  if constexpr (is_half_v<To>) {
    *out = from_float<To>(float(v));
    if (std::isfinite(to_float(*out))) return true;
  } else {
    *out = To(v);
    if (std::isfinite(*out)) return true;
  }
  issue->index = i;
  issue->what = str_cat("value ", v, " is outside the ", dtype_name(to), " range");
  return false;
}

template <typename From, typename To>
bool convert_typed(const From* src, To* dst, DType to, int64_t count, ConvertIssue* issue) {
  for (int64_t i = 0; i < count; ++i) {
    if constexpr (is_float_like_v<From>) {
      double v = load_float(src[i]);
      if (!std::isfinite(v)) {
        issue->index = i;
        issue->what = std::isnan(v) ? "contains NaN" : (v > 0 ? "contains Inf" : "contains -Inf");
        return false;
      }
      if constexpr (is_float_like_v<To>) {
        if (!store_float(v, &dst[i], to, issue, i)) return false;
      } else {
        if (std::trunc(v) != v) {
          issue->index = i;
          issue->what = str_cat("value ", v, " is not an integer");
          return false;
        }
        // 2^digits is exact in double; the min of a signed type is -2^digits, exact too.
        const double upper = std::ldexp(1.0, std::numeric_limits<To>::digits);
        if (v >= upper || v < double(std::numeric_limits<To>::min())) {
          issue->index = i;
          issue->what = str_cat("value ", v, " is outside the ", dtype_name(to), " range");
          return false;
        }
        dst[i] = To(v);
      }
    } else {  // integer source
      Wide v = Wide(src[i]);
      if constexpr (is_float_like_v<To>) {
        if (!store_float(double(v), &dst[i], to, issue, i)) return false;
      } else {
        if (v < Wide(std::numeric_limits<To>::min()) || v > Wide(std::numeric_limits<To>::max())) {
          issue->index = i;
          issue->what = str_cat("value ", number_text(v), " is outside the ", dtype_name(to), " range");
          return false;
        }
        dst[i] = To(v);
      }
    }
  }
  return true;
}

bool is_numeric(DType t) { return dtype_is_float(t) || dtype_is_integer(t); }

}  // namespace

bool convertible(DType from, DType to) {
  if (from == DType::kBool || to == DType::kBool) return from == to;
  return is_numeric(from) && is_numeric(to) && dtype_is_storable(from) && dtype_is_storable(to);
}

bool convert_exact(DType from, const void* src, DType to, void* dst, int64_t count, ConvertIssue* issue) {
  if (!convertible(from, to)) {
    issue->index = 0;
    issue->what = str_cat("cannot convert ", dtype_name(from), " to ", dtype_name(to));
    return false;
  }
  if (from == DType::kBool) {  // any non-zero byte is true, as numpy reads it
    auto* s = static_cast<const uint8_t*>(src);
    auto* d = static_cast<uint8_t*>(dst);
    for (int64_t i = 0; i < count; ++i) d[i] = s[i] != 0;
    return true;
  }
  bool ok = true;
  dispatch_dtype(from, [&](auto from_tag) {
    using From = typename decltype(from_tag)::type;
    if constexpr (!std::is_same_v<From, bool>) {
      dispatch_dtype(to, [&](auto to_tag) {
        using To = typename decltype(to_tag)::type;
        if constexpr (!std::is_same_v<To, bool>)
          ok = convert_typed<From, To>(static_cast<const From*>(src), static_cast<To*>(dst), to, count, issue);
      });
    }
  });
  return ok;
}

}  // namespace lowbit::quant
