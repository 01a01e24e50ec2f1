// TensorRT's calibration cache (text), so calibrations move between lowbit and TensorRT both ways.
//
//   TRT-8601-EntropyCalibration2
//   input.1: 3c010204
//   conv1_out: 3d8a7c2e
//
// The first line is "TRT-<version>-<algorithm>" (any version digits and algorithm name are accepted on read);
// every other line is "<tensor name>: <hex>", the hex being the IEEE-754 bits of the float32 scale written as
// an unsigned integer (i.e. big-endian digits: 1/127 = 0x3c010204), scale = amax / 127 (int8 symmetric).
// Names may contain ':' (the last colon separates the value). Blank lines and "\r\n" endings are accepted.
//
//   std::vector<quant::CacheEntry> e = {{"input.1", 1.f / 127}};
//   LB_RETURN_IF_ERROR(quant::write_trt_cache("model.cache", e));
//   LB_ASSIGN_OR_RETURN(auto back, quant::read_trt_cache("model.cache"));  // bit-exact scales
#pragma once
#include <string>
#include <vector>

#include "lowbit/status.h"
#include "quant/calibration_methods.h"

namespace lowbit::quant {

struct CacheEntry {
  std::string tensor;
  float scale;  // amax / 127
};

// Fails (writing nothing) on an invalid header, an empty name or one with a line break or surrounding
// blanks (it would not read back), a duplicate name, or a scale that is not > 0 and finite.
Status write_trt_cache(const std::string& path, const std::vector<CacheEntry>& entries,
                       const std::string& header = "TRT-8601-EntropyCalibration2");
// Errors name the file and line: "model.cache:3: bad hex value 'zz' for tensor 'conv1'". Rejects an empty file,
// a bad header, a line without ':', an empty name, a value that is not 1-8 hex digits, a duplicate name and a
// scale that is NaN, infinite, zero or negative.
Expected<std::vector<CacheEntry>> read_trt_cache(const std::string& path);
// The same on text already in memory; `source` names it in errors; the header line goes to *header.
Expected<std::vector<CacheEntry>> parse_trt_cache(const std::string& text, const std::string& source = "<cache>",
                                                  std::string* header = nullptr);

// "3c010204" for 1/127: the 8 lowercase hex digits of the float's bits.
std::string trt_cache_hex(float scale);
// True for "TRT-<digits>-<name>" with a non-empty alphanumeric/underscore name.
bool is_valid_trt_cache_header(const std::string& header);

// A calibration as a cache entry: scale = threshold / 127 (TensorRT only knows int8 symmetric, so an
// asymmetric range's zero point is lost; its threshold max(|lo|, |hi|) is kept). A zero threshold (tensor
// never seen or all zeros) gives scale 1, as choose_scale_zero_point does.
CacheEntry cache_entry_from(const TensorCalibration& c);
// A cache entry as an int8 symmetric calibration: threshold = scale * 127, zero point 0, method "trt-cache".
TensorCalibration calibration_from_cache_entry(const CacheEntry& e);

}  // namespace lowbit::quant
