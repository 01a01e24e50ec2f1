#include "tools/cli_common.h"

#include <cctype>

#include "passes/optimizer.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <set>
#include <system_error>

#include "io/npy.h"
#include "onnx/importer.h"

namespace lowbit::cli {

namespace fs = std::filesystem;

int print_error(const std::string& message, int exit_code) {
  std::cout.flush();
  std::cerr << "lowbit: error: " << message << "\n";
  std::cerr.flush();
  return exit_code;
}

Expected<int64_t> parse_memory_size(const std::string& text) {
  size_t pos = 0;
  double value = 0;
  try {
    value = std::stod(text, &pos);
  } catch (...) {
    pos = 0;
  }
  std::string unit = text.substr(pos);
  for (auto& c : unit) c = char(std::toupper(static_cast<unsigned char>(c)));
  if (!unit.empty() && unit.back() == 'B' && unit.size() > 1) unit.pop_back();  // "4GB" == "4G"
  double mult = unit.empty() || unit == "B" ? 1 : unit == "K" ? 1024.0 : unit == "M" ? 1048576.0
                : unit == "G" ? 1073741824.0 : unit == "T" ? 1099511627776.0 : -1;
  if (pos == 0 || mult < 0 || !(value > 0) || value * mult > 9.0e18)
    return error(StatusCode::kInvalidArgument, "--max-memory '", text, "': expected a size such as 4G, 512M or 1048576");
  return int64_t(value * mult);
}

void add_max_memory_flag(CLI::App* cmd, std::string* text) {
  cmd->add_option("--max-memory", *text,
                  "Largest tensor (weights or activations) lowbit may allocate, e.g. 2G or 512M (default 16G); "
                  "a model or input that needs more fails with the node/tensor name before allocating");
}

Expected<Graph> load_model(const std::string& path, bool validate, int64_t max_tensor_bytes) {
  std::error_code ec;
  auto st = fs::status(path, ec);
  if (ec || !fs::exists(st)) return error(StatusCode::kNotFound, "cannot open model '", path, "': no such file");
  if (fs::is_directory(st)) return error(StatusCode::kIoError, "cannot read model '", path, "': it is a directory");
  if (!fs::is_regular_file(st))
    return error(StatusCode::kIoError, "cannot read model '", path, "': not a regular file");
  ImportOptions options;
  options.validate = validate;
  options.max_tensor_bytes = max_tensor_bytes;
  return import_onnx_file(path, options);
}

Status optimize_model(Graph& g, const OptimizeFlags& flags, std::vector<PassReport>* reports) {
  if (flags.disabled) return Status::Ok();
  OptimizeOptions options;
  options.disabled_passes.insert(flags.disabled_passes.begin(), flags.disabled_passes.end());
  options.keep_nodes.insert(flags.keep_nodes.begin(), flags.keep_nodes.end());
  for (auto& name : flags.keep_nodes) {
    bool found = false;
    for (auto& n : g.nodes) found |= n.name == name;
    if (!found) return error(StatusCode::kInvalidArgument, "--keep-node '", name, "': the model has no node of that name");
  }
  return optimize_graph(g, options, reports).with_context("optimizing the graph");
}

void add_optimize_flags(CLI::App* cmd, OptimizeFlags* flags) {
  cmd->add_flag("--no-optimize", flags->disabled, "Run the graph as imported (no folding or fusion)");
  cmd->add_option("--disable-pass", flags->disabled_passes, "Skip one optimizer pass (repeatable; see inspect --optimized)")
      ->allow_extra_args(false);
  cmd->add_option("--keep-node", flags->keep_nodes, "Keep this node as it is: no pass folds, fuses or rewrites it")
      ->allow_extra_args(false);
}

Expected<NamedArg> parse_named_arg(const std::string& spec, const char* what) {
  NamedArg a;
  a.original = spec;
  size_t eq = spec.find('=');
  if (eq == std::string::npos) {
    a.value = spec;
  } else {
    a.name = spec.substr(0, eq);
    a.value = spec.substr(eq + 1);
    if (a.name.empty())
      return error(StatusCode::kInvalidArgument, what, " '", spec, "' has an empty name (expected NAME=VALUE)");
  }
  if (a.value.empty())
    return error(StatusCode::kInvalidArgument, what, " '", spec, "' has no value (expected NAME=VALUE)");
  return a;
}

namespace {
std::string list_inputs(const Graph& g) {
  std::string r;
  for (auto& n : g.inputs) {
    const ValueInfo* v = g.find(n);
    r += str_cat(r.empty() ? "" : ", ", "'", n, "'", v ? " " + v->type.to_string() : "");
  }
  return r.empty() ? "none" : r;
}
}  // namespace

Expected<std::map<std::string, std::string>> assign_to_inputs(const Graph& g, const std::vector<NamedArg>& args,
                                                              const char* what) {
  std::set<std::string> accepted(g.inputs.begin(), g.inputs.end());
  accepted.insert(g.overridable_initializers.begin(), g.overridable_initializers.end());
  std::map<std::string, std::string> out;
  for (const NamedArg& a : args) {
    std::string name = a.name, value = a.value;
    if (!name.empty() && !accepted.count(name)) {
      // A path that itself contains '=' given without NAME= to a one-input model.
      if (g.inputs.size() == 1 && fs::exists(a.original)) {
        name = g.inputs[0];
        value = a.original;
      } else {
        return error(StatusCode::kNotFound, what, " '", a.original, "': '", name,
                     "' is not an input of the model (inputs: ", list_inputs(g), ")");
      }
    }
    if (name.empty()) {
      if (g.inputs.size() != 1)
        return error(StatusCode::kInvalidArgument, what, " '", a.original, "' has no NAME= but the model has ",
                     g.inputs.size(), " inputs (", list_inputs(g), "); use NAME=", a.value);
      name = g.inputs[0];
    }
    if (out.count(name)) return error(StatusCode::kInvalidArgument, what, " for input '", name, "' is given twice");
    out[name] = value;
  }
  return out;
}

Expected<Shape> parse_shape(const std::string& text) {
  Shape s;
  if (text.empty() || text == "scalar") return s;
  size_t pos = 0;
  while (true) {
    size_t end = text.find_first_of("x,", pos);
    std::string part = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    bool digits = !part.empty() && part.size() <= 18 && part.find_first_not_of("0123456789") == std::string::npos;
    if (!digits) return error(StatusCode::kInvalidArgument, "bad shape '", text, "' (expected dims like 1x3x224x224)");
    s.push_back(std::stoll(part));
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  if (!checked_numel(s)) return error(StatusCode::kInvalidArgument, "shape '", text, "' is too large");
  return s;
}

namespace {
template <typename T>
T saturate_from_double(double v) {
  if (std::isnan(v)) return T(0);
  if (v <= double(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
  if (v >= double(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  return T(v);
}

template <typename T>
void fill_integer(const Tensor& src, Tensor& dst) {
  T* out = dst.data<T>();
  bool src_int = dtype_is_integer(src.dtype()) && src.dtype() != DType::kUint64;
  for (int64_t i = 0; i < src.numel(); ++i) {
    if (src_int) {  // exact path: int64 holds every source value
      int64_t v = src.get_as_int64(i);
      if constexpr (std::is_same_v<T, uint64_t>)
        out[i] = v < 0 ? 0 : uint64_t(v);
      else if constexpr (std::is_same_v<T, int64_t>)
        out[i] = v;
      else
        out[i] = T(std::clamp<int64_t>(v, std::numeric_limits<T>::lowest(), std::numeric_limits<T>::max()));
    } else {
      out[i] = saturate_from_double<T>(src.get_as_double(i));
    }
  }
}
}  // namespace

Tensor convert_dtype(const Tensor& src, DType to) {
  if (src.dtype() == to) return src;
  Tensor dst(to, src.shape());
  int64_t n = src.numel();
  switch (to) {
    case DType::kFloat32:
      for (int64_t i = 0; i < n; ++i) dst.data<float>()[i] = float(src.get_as_double(i));
      break;
    case DType::kFloat64:
      for (int64_t i = 0; i < n; ++i) dst.data<double>()[i] = src.get_as_double(i);
      break;
    case DType::kFloat16:
      for (int64_t i = 0; i < n; ++i) dst.data<uint16_t>()[i] = float_to_half(float(src.get_as_double(i)));
      break;
    case DType::kBFloat16:
      for (int64_t i = 0; i < n; ++i) dst.data<uint16_t>()[i] = float_to_bfloat16(float(src.get_as_double(i)));
      break;
    case DType::kBool:
      for (int64_t i = 0; i < n; ++i) dst.data<uint8_t>()[i] = src.get_as_double(i) != 0;
      break;
    case DType::kInt8:
      fill_integer<int8_t>(src, dst);
      break;
    case DType::kUint8:
      fill_integer<uint8_t>(src, dst);
      break;
    case DType::kInt16:
      fill_integer<int16_t>(src, dst);
      break;
    case DType::kUint16:
      fill_integer<uint16_t>(src, dst);
      break;
    case DType::kInt32:
      fill_integer<int32_t>(src, dst);
      break;
    case DType::kUint32:
      fill_integer<uint32_t>(src, dst);
      break;
    case DType::kInt64:
      fill_integer<int64_t>(src, dst);
      break;
    case DType::kUint64:
      fill_integer<uint64_t>(src, dst);
      break;
    default:
      break;
  }
  return dst;
}

Expected<Tensor> load_input_npy(const Graph& g, const std::string& name, const std::string& file, bool cast) {
  LB_ASSIGN_OR_RETURN(Tensor t, read_npy(file));
  const ValueInfo* v = g.find(name);
  if (!v) return t;
  const ValueType& want = v->type;
  if (want.dtype != DType::kUndefined && t.dtype() != want.dtype) {
    if (!cast)
      return error(StatusCode::kInvalidArgument, "wrong dtype for input '", name, "': '", file, "' holds ",
                   dtype_name(t.dtype()), " but the model expects ", dtype_name(want.dtype),
                   " (convert the file, e.g. a.astype(np.", dtype_name(want.dtype), "), or pass --cast)");
    if (!dtype_is_storable(want.dtype))
      return error(StatusCode::kUnsupported, "input '", name, "' has dtype ", dtype_name(want.dtype),
                   ", which lowbit cannot feed");
    t = convert_dtype(t, want.dtype);
  }
  if (want.has_shape) {
    bool bad = t.rank() != want.rank();
    for (size_t d = 0; !bad && d < want.rank(); ++d) bad = want.dims[d].known() && want.dims[d].value != t.dim(d);
    if (bad)
      return error(StatusCode::kInvalidArgument, "wrong shape for input '", name, "': '", file, "' holds ",
                   shape_to_string(t.shape()), " but the model expects ", want.to_string());
  }
  return t;
}

std::string safe_file_name(const std::string& value_name) {
  std::string r;
  for (char c : value_name) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    r.push_back(ok ? c : '_');
  }
  // No hidden files and no "." / "..": leading dots become '_' too.
  for (char& c : r) {
    if (c != '.') break;
    c = '_';
  }
  if (r.empty()) r = "_";
  if (r.size() > 200) r = r.substr(0, 200);
  return r;
}

Status check_output_dir(const std::string& dir) {
  std::error_code ec;
  auto st = fs::status(dir, ec);
  if (fs::exists(st) && !fs::is_directory(st))
    return error(StatusCode::kIoError, "output directory '", dir, "' exists and is not a directory");
  return Status::Ok();
}

Status write_outputs(const std::string& dir, const std::vector<std::pair<std::string, const Tensor*>>& outputs,
                     std::vector<std::pair<std::string, std::string>>* written) {
  LB_RETURN_IF_ERROR(check_output_dir(dir));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return error(StatusCode::kIoError, "cannot create output directory '", dir, "': ", ec.message());

  // Final paths; distinct outputs that sanitize to the same name get a numeric suffix.
  std::vector<std::string> finals, temps;
  std::set<std::string> used;
  for (auto& [name, tensor] : outputs) {
    std::string base = safe_file_name(name), candidate = base;
    for (int k = 2; used.count(candidate); ++k) candidate = str_cat(base, "_", k);
    used.insert(candidate);
    finals.push_back((fs::path(dir) / (candidate + ".npy")).string());
  }
  auto remove_temps = [&] {
    for (auto& t : temps) std::remove(t.c_str());
  };
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& t = *outputs[i].second;
    std::string bytes = serialize_npy(t);
    if (bytes.empty()) {
      remove_temps();
      return error(StatusCode::kUnsupported, "output '", outputs[i].first, "' has dtype ", dtype_name(t.dtype()),
                   ", which .npy cannot hold");
    }
    std::string tmp = str_cat(finals[i], ".tmp-", getpid());
    temps.push_back(tmp);
    FILE* f = std::fopen(tmp.c_str(), "wb");
    bool ok = f && std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
    if (f && std::fclose(f) != 0) ok = false;
    if (!ok) {
      int err = errno;
      remove_temps();
      return error(StatusCode::kIoError, "cannot write '", finals[i],
                   "': ", std::error_code(err, std::generic_category()).message());
    }
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (std::rename(temps[i].c_str(), finals[i].c_str()) != 0) {
      int err = errno;
      for (size_t j = 0; j < outputs.size(); ++j) std::remove((j < i ? finals[j] : temps[j]).c_str());
      if (written) written->clear();
      return error(StatusCode::kIoError, "cannot write '", finals[i],
                   "': ", std::error_code(err, std::generic_category()).message());
    }
    if (written) written->emplace_back(outputs[i].first, finals[i]);
  }
  return Status::Ok();
}

std::string with_thousands(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), r;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) r.push_back(',');
    r.push_back(digits[i]);
  }
  return (n < 0 ? "-" : "") + r;
}

std::string human_bytes(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = double(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

}  // namespace lowbit::cli
