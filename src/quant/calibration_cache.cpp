#include "quant/calibration_cache.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_map>

namespace lowbit::quant {

namespace {

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

bool is_hex_digit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

float float_from_bits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

bool valid_scale(float s) { return std::isfinite(s) && s > 0; }

}  // namespace

std::string trt_cache_hex(float scale) {
  uint32_t bits;
  std::memcpy(&bits, &scale, sizeof bits);
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", unsigned(bits));
  return buf;
}

bool is_valid_trt_cache_header(const std::string& header) {
  if (header.rfind("TRT-", 0) != 0) return false;
  size_t i = 4;
  const size_t digits_begin = i;
  while (i < header.size() && header[i] >= '0' && header[i] <= '9') ++i;
  if (i == digits_begin || i >= header.size() || header[i] != '-') return false;
  ++i;
  if (i == header.size()) return false;
  for (; i < header.size(); ++i) {
    const char c = header[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')) return false;
  }
  return true;
}

Status write_trt_cache(const std::string& path, const std::vector<CacheEntry>& entries, const std::string& header) {
  const std::string where = "calibration cache '" + path + "'";
  if (!is_valid_trt_cache_header(header))
    return error(StatusCode::kInvalidArgument, where, ": header '", header,
                 "' is not of the form TRT-<version>-<algorithm> (e.g. TRT-8601-EntropyCalibration2)");
  std::unordered_map<std::string, size_t> seen;
  std::string text = header + "\n";
  for (size_t i = 0; i < entries.size(); ++i) {
    const CacheEntry& e = entries[i];
    if (e.tensor.empty()) return error(StatusCode::kInvalidArgument, where, ": entry #", i, " has an empty name");
    if (e.tensor.find_first_of("\r\n") != std::string::npos || trim(e.tensor) != e.tensor)
      return error(StatusCode::kInvalidArgument, where, ": tensor name '", e.tensor,
                   "' has a line break or surrounding blanks and would not read back");
    if (!valid_scale(e.scale))
      return error(StatusCode::kInvalidArgument, where, ": tensor '", e.tensor, "' has scale ", e.scale,
                   "; a scale must be > 0 and finite");
    if (!seen.emplace(e.tensor, i).second)
      return error(StatusCode::kInvalidArgument, where, ": tensor '", e.tensor, "' appears twice (entries #",
                   seen[e.tensor], " and #", i, ")");
    text += e.tensor + ": " + trt_cache_hex(e.scale) + "\n";
  }
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return error(StatusCode::kIoError, "cannot open ", where, " for writing");
  f.write(text.data(), std::streamsize(text.size()));
  f.close();
  if (!f) return error(StatusCode::kIoError, "cannot write ", where);
  return Status::Ok();
}

Expected<std::vector<CacheEntry>> parse_trt_cache(const std::string& text, const std::string& source,
                                                  std::string* header) {
  auto fail = [&](size_t line, const auto&... msg) {
    return error(StatusCode::kInvalidArgument, source, ":", line, ": ", msg...);
  };
  std::vector<CacheEntry> entries;
  std::unordered_map<std::string, size_t> line_of;  // name -> line, to name both lines of a duplicate
  bool have_header = false;
  std::istringstream in(text);
  std::string raw;
  size_t line_no = 0;
  while (std::getline(in, raw)) {
    ++line_no;
    const std::string line = trim(raw);
    if (line.empty()) continue;
    if (!have_header) {
      if (!is_valid_trt_cache_header(line))
        return fail(line_no, "expected a header 'TRT-<version>-<algorithm>' (e.g. TRT-8601-EntropyCalibration2), got '",
                    line.substr(0, 80), "'");
      if (header) *header = line;
      have_header = true;
      continue;
    }
    const size_t colon = line.rfind(':');
    if (colon == std::string::npos)
      return fail(line_no, "expected '<tensor name>: <hex scale>', got '", line.substr(0, 80), "'");
    const std::string name = trim(line.substr(0, colon));
    const std::string hex = trim(line.substr(colon + 1));
    if (name.empty()) return fail(line_no, "empty tensor name before ':'");
    if (hex.empty() || hex.size() > 8 || !std::all_of(hex.begin(), hex.end(), is_hex_digit))
      return fail(line_no, "bad hex value '", hex.substr(0, 40), "' for tensor '", name,
                  "' (expected 1-8 hex digits of a float32's bits)");
    const float scale = float_from_bits(uint32_t(std::stoul(hex, nullptr, 16)));
    if (!valid_scale(scale))
      return fail(line_no, "tensor '", name, "' has scale ", scale, " (0x", hex, "); a scale must be > 0 and finite");
    const auto [it, inserted] = line_of.emplace(name, line_no);
    if (!inserted) return fail(line_no, "tensor '", name, "' appears twice (first on line ", it->second, ")");
    entries.push_back({name, scale});
  }
  if (!have_header) return error(StatusCode::kInvalidArgument, source, ":1: empty calibration cache (no header line)");
  return entries;
}

Expected<std::vector<CacheEntry>> read_trt_cache(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return error(StatusCode::kNotFound, "cannot open calibration cache '", path, "'");
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) return error(StatusCode::kIoError, "cannot read calibration cache '", path, "'");
  return parse_trt_cache(ss.str(), path);
}

CacheEntry cache_entry_from(const TensorCalibration& c) {
  const float s = float(double(c.threshold) / 127.0);
  return {c.name, valid_scale(s) && s >= FLT_MIN ? s : 1.f};
}

TensorCalibration calibration_from_cache_entry(const CacheEntry& e) {
  TensorCalibration c;
  c.name = e.tensor;
  c.method = "trt-cache";
  c.scale = valid_scale(e.scale) ? e.scale : 1.f;
  c.threshold = float(double(c.scale) * 127.0);
  if (!std::isfinite(c.threshold)) c.threshold = FLT_MAX;
  c.range_lo = -c.threshold;
  c.range_hi = c.threshold;
  c.zero_point = 0;  // min/max/count stay 0: a cache does not say what was observed
  c.symmetric = true;
  c.is_unsigned = false;
  return c;
}

}  // namespace lowbit::quant
