// Element conversion for calibration data that refuses to change values silently. Cast's rules
// (saturate, wrap, NaN -> 0) are right for a model op but wrong for user data: token ids stored as
// float 3.5, pixel 300 into uint8 or 1e300 into float32 mean the data is not what the model expects,
// and calibrating on it would give wrong ranges without a word.
//
//   ConvertIssue issue;
//   if (!convert_exact(DType::kFloat64, src, DType::kFloat32, dst, n, &issue))
//     return error(..., "x.npy element ", issue.index, ": ", issue.what);   // "contains NaN"
#pragma once
#include <cstdint>
#include <string>

#include "lowbit/tensor.h"

namespace lowbit::quant {

struct ConvertIssue {
  int64_t index = -1;  // first offending element
  std::string what;    // "contains NaN", "contains Inf", "value 3.5 is not an integer", ...
};

// True if `from` data can feed a `to` input at all: numeric to numeric, or bool to bool.
bool convertible(DType from, DType to);

// Converts count elements. Float sources must be finite; every value must survive the conversion:
// integral and in range for integer targets, in range (finite after rounding) for float targets.
// Float targets round to nearest (float64 0.1 -> float32 0.1f is fine). Returns false at the first
// offending element (dst is then partly written) and describes it in *issue.
bool convert_exact(DType from, const void* src, DType to, void* dst, int64_t count, ConvertIssue* issue);

}  // namespace lowbit::quant
