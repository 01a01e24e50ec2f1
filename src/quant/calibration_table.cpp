#include "quant/calibration_table.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <unordered_map>

namespace lowbit::quant {

namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

constexpr const char* kFormat = "lowbit-calibration-table";
constexpr int kVersion = 1;

std::string tensor_where(size_t i, const std::string& name) {
  return name.empty() ? str_cat("tensor #", i) : str_cat("tensor #", i, " ('", name, "')");
}

Status check_tensor(const TensorCalibration& c, const std::string& where) {
  auto bad = [&](const auto&... msg) { return error(StatusCode::kInvalidArgument, where, ": ", msg...); };
  if (c.name.empty()) return bad("'name' must not be empty");
  if (!(std::isfinite(c.scale) && c.scale > 0)) return bad("'scale' must be > 0 and finite, got ", c.scale);
  int32_t qmin, qmax;
  quant_grid_limits(false, c.is_unsigned, &qmin, &qmax);
  if (c.zero_point < qmin || c.zero_point > qmax)
    return bad("'zero_point' ", c.zero_point, " is outside ", c.is_unsigned ? "uint8" : "int8", " [", qmin, ", ", qmax,
               "]");
  const int32_t centre = c.is_unsigned ? 128 : 0;
  if (c.symmetric && c.zero_point != centre)
    return bad("symmetric ", c.is_unsigned ? "uint8" : "int8", " needs 'zero_point' ", centre, ", got ", c.zero_point);
  const std::pair<const char*, float> floats[] = {{"min", c.min},
                                                  {"max", c.max},
                                                  {"range_lo", c.range_lo},
                                                  {"range_hi", c.range_hi},
                                                  {"threshold", c.threshold},
                                                  {"histogram_lo", c.histogram_lo},
                                                  {"histogram_hi", c.histogram_hi}};
  for (const auto& [key, v] : floats)
    if (!std::isfinite(v)) return bad("'", key, "' must be finite, got ", v);
  if (c.min > c.max) return bad("'min' ", c.min, " > 'max' ", c.max);
  if (c.range_lo > c.range_hi) return bad("'range_lo' ", c.range_lo, " > 'range_hi' ", c.range_hi);
  if (c.histogram_lo > c.histogram_hi)
    return bad("'histogram_lo' ", c.histogram_lo, " > 'histogram_hi' ", c.histogram_hi);
  if (c.threshold < 0) return bad("'threshold' must be >= 0, got ", c.threshold);
  if (!(std::isfinite(c.quant_mse) && c.quant_mse >= 0))
    return bad("'quant_mse' must be >= 0 and finite, got ", c.quant_mse);
  if (c.count < 0 || c.nonfinite_count < 0) return bad("'count' and 'nonfinite_count' must be >= 0");
  for (size_t i = 0; i < c.histogram.size(); ++i)
    if (!(std::isfinite(c.histogram[i]) && c.histogram[i] >= 0))
      return bad("'histogram'[", i, "] must be >= 0 and finite, got ", c.histogram[i]);
  for (size_t i = 0; i < c.candidates.size(); ++i)
    if (c.candidates[i].first.empty() || !std::isfinite(c.candidates[i].second))
      return bad("candidate #", i, " needs a method name and a finite threshold");
  for (size_t i = 0; i < c.candidate_details.size(); ++i) {
    const CalibCandidate& d = c.candidate_details[i];
    if (d.method.empty() || !std::isfinite(d.threshold) || !std::isfinite(d.range_lo) || !std::isfinite(d.range_hi) ||
        std::isnan(d.quant_mse) || d.quant_mse < 0)
      return bad("candidate #", i, " ('", d.method,
                 "') needs a method name, finite range/threshold and quant_mse >= 0");
  }
  return Status::Ok();
}

// Field access with the error naming the field; every getter returns false (and sets the status) on a
// wrong type, true when the key is absent (leaving *out unchanged) or read.
class Fields {
 public:
  Fields(const json& obj, std::string where) : obj_(obj), where_(std::move(where)) {}
  const Status& status() const { return status_; }
  bool has(const char* key) const { return obj_.contains(key); }

  bool string(const char* key, std::string* out) {
    if (!has(key)) return true;
    const json& v = obj_.at(key);
    if (!v.is_string()) return fail(key, "a string", v);
    *out = v.get<std::string>();
    return true;
  }
  bool boolean(const char* key, bool* out) {
    if (!has(key)) return true;
    const json& v = obj_.at(key);
    if (!v.is_boolean()) return fail(key, "true or false", v);
    *out = v.get<bool>();
    return true;
  }
  bool number(const char* key, double* out) {
    if (!has(key)) return true;
    const json& v = obj_.at(key);
    if (!v.is_number()) return fail(key, "a number", v);
    *out = v.get<double>();
    return true;
  }
  bool number(const char* key, float* out) {
    double d = *out;
    if (!number(key, &d)) return false;
    // Out of float range becomes +-inf (then rejected by validation) rather than undefined behaviour.
    *out = std::isfinite(d) && std::fabs(d) > 3.5e38 ? float(d > 0 ? INFINITY : -INFINITY) : float(d);
    return true;
  }
  bool integer(const char* key, int64_t* out) {
    if (!has(key)) return true;
    const json& v = obj_.at(key);
    if (v.is_number_unsigned()) {
      const uint64_t u = v.get<uint64_t>();
      if (u > uint64_t(INT64_MAX)) return fail(key, "an integer in int64 range", v);
      *out = int64_t(u);
      return true;
    }
    if (!v.is_number_integer()) return fail(key, "an integer", v);
    *out = v.get<int64_t>();
    return true;
  }
  bool unknown_keys(const std::set<std::string>& known) {
    for (auto it = obj_.begin(); it != obj_.end(); ++it)
      if (!known.count(it.key())) {
        std::string list;
        for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
        status_ = error(StatusCode::kInvalidArgument, where_, ": unknown key '", it.key(), "' (known: ", list, ")");
        return false;
      }
    return true;
  }

 private:
  bool fail(const char* key, const char* expected, const json& v) {
    status_ = error(StatusCode::kInvalidArgument, where_, ": '", key, "' must be ", expected, ", got ",
                    v.dump().substr(0, 60));
    return false;
  }
  const json& obj_;
  std::string where_;
  Status status_;
};

Status parse_options(const json& j, const std::string& where, CalibOptions* opt) {
  if (!j.is_object()) return error(StatusCode::kInvalidArgument, where, ": 'options' must be an object");
  Fields f(j, where + ": options");
  std::string method = calib_method_name(opt->method), range = activation_range_name(opt->range);
  if (!f.unknown_keys({"method", "percentile", "range", "unsigned"}) || !f.string("method", &method) ||
      !f.number("percentile", &opt->percentile) || !f.string("range", &range) ||
      !f.boolean("unsigned", &opt->unsigned_int))
    return f.status();
  if (!parse_calib_method(method, &opt->method))
    return error(StatusCode::kInvalidArgument, where, ": options: unknown method '", method,
                 "' (minmax, entropy, percentile, mse, auto)");
  if (!parse_activation_range(range, &opt->range))
    return error(StatusCode::kInvalidArgument, where, ": options: unknown range '", range,
                 "' (symmetric, asymmetric, auto)");
  return validate_calib_options(*opt).with_context(where + ": options");
}

Status parse_candidates(const json& arr, const std::string& where, TensorCalibration* c) {
  if (!arr.is_array()) return error(StatusCode::kInvalidArgument, where, ": 'candidates' must be an array");
  bool all_detailed = true;
  std::vector<CalibCandidate> details;
  for (size_t i = 0; i < arr.size(); ++i) {
    const json& o = arr[i];
    const std::string w = str_cat(where, ": candidate #", i);
    if (!o.is_object()) return error(StatusCode::kInvalidArgument, w, " must be an object");
    Fields f(o, w);
    CalibCandidate d;
    if (!f.has("method") || !f.has("threshold"))
      return error(StatusCode::kInvalidArgument, w, " needs 'method' and 'threshold'");
    if (!f.unknown_keys({"method", "threshold", "range_lo", "range_hi", "quant_mse"}) ||
        !f.string("method", &d.method) || !f.number("threshold", &d.threshold) || !f.number("range_lo", &d.range_lo) ||
        !f.number("range_hi", &d.range_hi) || !f.number("quant_mse", &d.quant_mse))
      return f.status();
    all_detailed = all_detailed && f.has("quant_mse") && f.has("range_lo") && f.has("range_hi");
    c->candidates.emplace_back(d.method, d.threshold);
    details.push_back(std::move(d));
  }
  if (all_detailed) c->candidate_details = std::move(details);
  return Status::Ok();
}

Status parse_tensor(const json& o, const std::string& where, TensorCalibration* c) {
  if (!o.is_object()) return error(StatusCode::kInvalidArgument, where, " must be an object");
  Fields f(o, where);
  for (const char* key : {"name", "scale", "zero_point"})
    if (!f.has(key)) return error(StatusCode::kInvalidArgument, where, ": missing '", key, "'");
  int64_t zp = 0;
  if (!f.unknown_keys({"name", "method", "min", "max", "range_lo", "range_hi", "threshold", "scale", "zero_point",
                       "symmetric", "is_unsigned", "quant_mse", "count", "nonfinite_count", "candidates", "histogram",
                       "histogram_lo", "histogram_hi"}) ||
      !f.string("name", &c->name) || !f.string("method", &c->method) || !f.number("min", &c->min) ||
      !f.number("max", &c->max) || !f.number("range_lo", &c->range_lo) || !f.number("range_hi", &c->range_hi) ||
      !f.number("threshold", &c->threshold) || !f.number("scale", &c->scale) || !f.integer("zero_point", &zp) ||
      !f.boolean("is_unsigned", &c->is_unsigned) || !f.number("quant_mse", &c->quant_mse) ||
      !f.integer("count", &c->count) || !f.integer("nonfinite_count", &c->nonfinite_count) ||
      !f.number("histogram_lo", &c->histogram_lo) || !f.number("histogram_hi", &c->histogram_hi))
    return f.status();
  if (zp < INT32_MIN || zp > INT32_MAX) zp = INT32_MAX;  // rejected by validation with the range in the message
  c->zero_point = int32_t(zp);
  c->symmetric = c->zero_point == (c->is_unsigned ? 128 : 0);  // the default when "symmetric" is absent
  if (!f.boolean("symmetric", &c->symmetric)) return f.status();
  if (c->method.empty()) c->method = "manual";
  // A hand-written entry without a range gets the one its grid covers.
  if (!f.has("range_lo") && !f.has("range_hi") && !f.has("threshold") && std::isfinite(c->scale) && c->scale > 0) {
    int32_t qmin, qmax;
    quant_grid_limits(c->symmetric, c->is_unsigned, &qmin, &qmax);
    // Subtract in double: zero_point is still unvalidated here (INT32_MAX for an out-of-range one), so
    // qmin - zero_point in int32 can overflow (UBSan: -128 - 2147483647); validation rejects it later.
    c->range_lo = float(std::min(0.0, (double(qmin) - double(c->zero_point)) * c->scale));
    c->range_hi = float(std::max(0.0, (double(qmax) - double(c->zero_point)) * c->scale));
    c->threshold = std::max(-c->range_lo, c->range_hi);
  }
  if (f.has("histogram")) {
    const json& h = o.at("histogram");
    if (!h.is_array()) return error(StatusCode::kInvalidArgument, where, ": 'histogram' must be an array of counts");
    for (size_t i = 0; i < h.size(); ++i) {
      if (!h[i].is_number())
        return error(StatusCode::kInvalidArgument, where, ": 'histogram'[", i, "] must be a number, got ", h[i].dump());
      c->histogram.push_back(h[i].get<double>());
    }
  }
  if (f.has("candidates")) LB_RETURN_IF_ERROR(parse_candidates(o.at("candidates"), where, c));
  return Status::Ok();
}

// The double nearest to the float's shortest decimal form, so the JSON shows 0.007874016 rather than
// 0.007874015718698502 yet still reads back to the same float (checked; else the exact value is kept).
double json_float(float f) {
  if (!std::isfinite(f)) return f;
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf - 1, f);
  if (r.ec != std::errc()) return f;
  *r.ptr = 0;
  const double d = std::strtod(buf, nullptr);
  return float(d) == f ? d : double(f);
}

ordered_json tensor_json(const TensorCalibration& c) {
  ordered_json o;
  o["name"] = c.name;
  o["method"] = c.method;
  o["min"] = json_float(c.min);
  o["max"] = json_float(c.max);
  o["range_lo"] = json_float(c.range_lo);
  o["range_hi"] = json_float(c.range_hi);
  o["threshold"] = json_float(c.threshold);
  o["scale"] = json_float(c.scale);
  o["zero_point"] = c.zero_point;
  o["symmetric"] = c.symmetric;
  o["is_unsigned"] = c.is_unsigned;
  o["quant_mse"] = c.quant_mse;
  o["count"] = c.count;
  o["nonfinite_count"] = c.nonfinite_count;
  ordered_json cands = ordered_json::array();
  const bool detailed = c.candidate_details.size() == c.candidates.size();
  for (size_t i = 0; i < c.candidates.size(); ++i) {
    ordered_json e;
    e["method"] = c.candidates[i].first;
    e["threshold"] = json_float(c.candidates[i].second);
    if (detailed) {
      e["range_lo"] = json_float(c.candidate_details[i].range_lo);
      e["range_hi"] = json_float(c.candidate_details[i].range_hi);
      e["quant_mse"] = c.candidate_details[i].quant_mse;
    }
    cands.push_back(std::move(e));
  }
  o["candidates"] = std::move(cands);
  o["histogram"] = c.histogram;
  o["histogram_lo"] = json_float(c.histogram_lo);
  o["histogram_hi"] = json_float(c.histogram_hi);
  return o;
}

}  // namespace

Status validate_calibration_table(const std::vector<TensorCalibration>& table, const CalibOptions& opt) {
  LB_RETURN_IF_ERROR(validate_calib_options(opt));
  std::unordered_map<std::string, size_t> first;
  for (size_t i = 0; i < table.size(); ++i) {
    const std::string where = tensor_where(i, table[i].name);
    LB_RETURN_IF_ERROR(check_tensor(table[i], where));
    const auto [it, inserted] = first.emplace(table[i].name, i);
    if (!inserted)
      return error(StatusCode::kInvalidArgument, where, ": name also used by tensor #", it->second,
                   "; tensor names must be unique");
  }
  return Status::Ok();
}

Expected<std::string> format_calibration_table(const std::vector<TensorCalibration>& table, const CalibOptions& opt) {
  LB_RETURN_IF_ERROR(validate_calibration_table(table, opt));
  ordered_json options;
  options["method"] = calib_method_name(opt.method);
  options["percentile"] = opt.percentile;
  options["range"] = activation_range_name(opt.range);
  options["unsigned"] = opt.unsigned_int;
  // One key per line, arrays on one line: a reviewer scrolls through tensors, not through 64-line histograms.
  std::ostringstream os;
  os << "{\n  \"format\": \"" << kFormat << "\",\n  \"version\": " << kVersion << ",\n  \"options\": " << options.dump()
     << ",\n  \"tensors\": [";
  for (size_t i = 0; i < table.size(); ++i) {
    const ordered_json o = tensor_json(table[i]);
    os << (i ? ",\n" : "\n") << "    {";
    bool first = true;
    for (auto it = o.begin(); it != o.end(); ++it) {
      os << (first ? "\n" : ",\n") << "      " << json(it.key()).dump() << ": " << it.value().dump();
      first = false;
    }
    os << "\n    }";
  }
  os << (table.empty() ? "]\n}\n" : "\n  ]\n}\n");
  return os.str();
}

Expected<std::vector<TensorCalibration>> parse_calibration_table(const std::string& text, const std::string& source,
                                                                 CalibOptions* options) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {  // nlohmann reports "parse error at line L, column C: ..."
    return error(StatusCode::kInvalidArgument, source, ": not valid JSON: ", e.what());
  }
  auto bad = [&](const auto&... msg) { return error(StatusCode::kInvalidArgument, source, ": ", msg...); };
  if (!doc.is_object()) return bad("expected a JSON object with \"format\": \"", kFormat, "\"");
  Fields top(doc, source);
  std::string format;
  int64_t version = 0;
  if (!top.unknown_keys({"format", "version", "options", "tensors"}) || !top.string("format", &format) ||
      !top.integer("version", &version))
    return top.status();
  if (format != kFormat) return bad("\"format\" is '", format, "', expected '", kFormat, "'");
  if (version != kVersion)
    return bad("unsupported table version ", version, " (this lowbit reads version ", kVersion, ")");
  CalibOptions opt;
  if (doc.contains("options")) LB_RETURN_IF_ERROR(parse_options(doc.at("options"), source, &opt));
  if (!doc.contains("tensors") || !doc.at("tensors").is_array()) return bad("missing the \"tensors\" array");
  std::vector<TensorCalibration> table;
  const json& tensors = doc.at("tensors");
  for (size_t i = 0; i < tensors.size(); ++i) {
    const json& t = tensors[i];
    std::string name;
    if (t.is_object() && t.contains("name") && t.at("name").is_string()) name = t.at("name").get<std::string>();
    TensorCalibration c;
    LB_RETURN_IF_ERROR(parse_tensor(t, source + ": " + tensor_where(i, name), &c));
    table.push_back(std::move(c));
  }
  LB_RETURN_IF_ERROR(validate_calibration_table(table, opt).with_context(source));
  if (options) *options = opt;
  return table;
}

Status write_calibration_table(const std::string& path, const std::vector<TensorCalibration>& table,
                               const CalibOptions& opt) {
  const std::string where = "calibration table '" + path + "'";
  Expected<std::string> text = format_calibration_table(table, opt);
  if (!text) return text.status().with_context(where);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return error(StatusCode::kIoError, "cannot open ", where, " for writing");
  f.write(text->data(), std::streamsize(text->size()));
  f.close();
  if (!f) return error(StatusCode::kIoError, "cannot write ", where);
  return Status::Ok();
}

Expected<std::vector<TensorCalibration>> read_calibration_table(const std::string& path, CalibOptions* options) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return error(StatusCode::kNotFound, "cannot open calibration table '", path, "'");
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) return error(StatusCode::kIoError, "cannot read calibration table '", path, "'");
  return parse_calibration_table(ss.str(), path, options);
}

}  // namespace lowbit::quant
