// lowbit_conformance: runs ONNX's official node test cases (onnx/backend/test/data/node) through the
// importer and the reference Session, and compares with the expected outputs the way ONNX's own
// backend test runner does (onnx/backend/test/runner: rtol=1e-3, atol=1e-7, NaN == NaN, dtype and
// shape must match; integers and bools exactly).
//
//   lowbit_conformance [--filter REGEX] [--list-skipped] [--verbose] [--json FILE] [--threads N]
//                      [--export-roundtrip] [--upgrade-to OPSET [--only-upgraded]] CASES_DIR
//
// --export-roundtrip writes every imported model back to ONNX (export_onnx's serializer, ONNX checker
// included) and runs the re-imported model instead. --upgrade-to N first upgrades models whose opset is
// below N with upgrade_opset (then round-trips them as above); the expected outputs stay those of the
// original opset, so a pass proves the rewrite kept the meaning. --only-upgraded leaves out the cases whose
// opset is already N or newer (they are not counted). An upgrade refused as unsupported is a skip.
//
// CASES_DIR is either the generated root (holding node/) or the node/ folder itself.
// A case is SKIPPED when import fails with kUnsupported only (an op, dtype or attribute value lowbit
// does not implement); every other problem is a FAILURE: the suite's models are valid ONNX, so an
// import error of any other kind, a run-time error or a mismatch is a lowbit bug.
// The last line of the summary is exactly "N passed, N failed, N skipped"; the exit code is 1 if any failed.
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "onnx/exporter.h"
#include "onnx/importer.h"
#include "passes/upgrade_opset.h"
#include "runtime/session.h"

namespace fs = std::filesystem;
using namespace lowbit;

namespace {

// Tolerances of onnx.backend.test.runner (TestCase defaults for node tests).
constexpr double kRtol = 1e-3;
constexpr double kAtol = 1e-7;

struct Options {
  std::string cases_dir;
  std::string filter;
  std::string json_path;
  bool list_skipped = false;
  bool verbose = false;
  int threads = 1;
  bool export_roundtrip = false;
  int upgrade_to = 0;  // 0: no upgrade
  bool only_upgraded = false;
};

// Cases whose test data contradicts their own model in onnx 1.12 (fixed upstream later): reported as
// skipped with this reason instead of being run.
const std::map<std::string, std::string> kBrokenCases = {
    {"test_castlike_BFLOAT16_to_FLOAT_expanded",
     "onnx 1.12 test data bug: input 'like' is stored with shape [1], the model declares [3,4]"},
    {"test_castlike_FLOAT_to_BFLOAT16_expanded",
     "onnx 1.12 test data bug: input 'like' is stored with shape [1], the model declares [3,4]"},
};

enum class Outcome { kPassed, kFailed, kSkipped };
const char* outcome_name(Outcome o) {
  switch (o) {
    case Outcome::kPassed:
      return "passed";
    case Outcome::kFailed:
      return "failed";
    case Outcome::kSkipped:
      return "skipped";
  }
  return "?";
}

// Error statistics of one output (float outputs only; integer outputs count mismatches).
struct OutputError {
  std::string name;
  double max_abs = 0;      // max |actual - expected| over finite pairs
  double max_rel = 0;      // max |actual - expected| / |expected| over finite pairs, expected != 0
  double worst_ratio = 0;  // max |actual - expected| / (atol + rtol*|expected|): > 1 means out of tolerance
  int64_t mismatches = 0;  // elements outside tolerance (or unequal for exact types)
  int64_t first_mismatch = -1;
  double first_actual = 0, first_expected = 0;
};

struct CaseResult {
  std::string name;
  Outcome outcome = Outcome::kPassed;
  std::string reason;        // skip reason / failure message
  std::string skip_op;       // op the skip is attributed to
  std::string skip_summary;  // one line for the skip table
  std::vector<OutputError> errors;
  double seconds = 0;
  bool upgraded = false;  // upgrade_opset rewrote it (--upgrade-to)
};

std::string first_line(const std::string& s, size_t max_len = 300) {
  std::string line = s.substr(0, s.find('\n'));
  if (line.size() > max_len) line = line.substr(0, max_len) + "...";
  return line;
}

// Op types of the model's nodes (in order), read directly from the protobuf so that skip reasons can
// be grouped by op even when lowbit's importer rejected the model.
std::vector<std::string> model_op_types(const fs::path& model_path, int* opset = nullptr) {
  std::vector<std::string> ops;
  std::ifstream in(model_path, std::ios::binary);
  onnx::ModelProto model;
  if (!in || !model.ParseFromIstream(&in)) return ops;
  if (opset)
    for (const auto& op : model.opset_import())
      if (op.domain().empty() || op.domain() == "ai.onnx") *opset = int(op.version());
  for (const auto& node : model.graph().node()) {
    std::string op = node.op_type();
    if (!node.domain().empty() && node.domain() != "ai.onnx") op = node.domain() + "." + op;
    ops.push_back(op);
  }
  return ops;
}

// The op a skip message is about: an op of the model that the message names as "<Op> '<node>'" or
// "op <Op>", else the model's first non-Constant op.
std::string attribute_skip_to_op(const std::string& message, const std::vector<std::string>& ops) {
  size_t best_pos = std::string::npos;
  std::string best;
  for (const auto& op : ops) {
    std::string bare = op.substr(op.rfind('.') == std::string::npos ? 0 : op.rfind('.') + 1);
    for (const std::string& pattern : {bare + " '", "'" + bare + "'", "op " + bare, bare + " ("}) {
      size_t pos = message.find(pattern);
      if (pos != std::string::npos && pos < best_pos) {
        best_pos = pos;
        best = op;
      }
    }
  }
  if (!best.empty()) return best;
  for (const auto& op : ops)
    if (op != "Constant") return op;
  return ops.empty() ? "(unreadable model)" : ops.front();
}

// One readable line for the skip table: drops the "'<model path>': N problems in the model:" preamble and
// picks the problem that names `op` (else the first one).
std::string summarize_reason(const std::string& message, const std::string& model_path, const std::string& op) {
  std::string text = message;
  for (const std::string& prefix :
       {"'" + model_path + "': ", model_path + ": ", std::string("run failed [unsupported]: ")})
    for (size_t pos; (pos = text.find(prefix)) != std::string::npos;) text.erase(pos, prefix.size());
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    size_t start = line.find_first_not_of(" -");
    if (start == std::string::npos) continue;
    line = line.substr(start);
    if (line.find("in the model:") != std::string::npos && line.back() == ':') continue;
    lines.push_back(line);
  }
  if (lines.empty()) return first_line(text);
  std::string bare = op.substr(op.rfind('.') == std::string::npos ? 0 : op.rfind('.') + 1);
  for (const auto& line : lines)
    if (line.find(bare + " '") != std::string::npos) return line;
  return lines.front();
}

// The whole message on one line, without the model path (for FAIL lines).
std::string one_line(const std::string& message, const std::string& model_path, size_t max_len) {
  std::string text = message;
  for (const std::string& prefix : {"'" + model_path + "': ", model_path + ": "})
    for (size_t pos; (pos = text.find(prefix)) != std::string::npos;) text.erase(pos, prefix.size());
  std::string out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    size_t start = line.find_first_not_of(' ');
    if (start == std::string::npos) continue;
    if (!out.empty()) out += ' ';
    out += line.substr(start);
  }
  if (out.size() > max_len) out = out.substr(0, max_len) + "...";
  return out;
}

bool is_exact_dtype(DType t) { return !dtype_is_float(t); }

double element_as_double(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::kFloat32:
      return t.data<float>()[i];
    case DType::kFloat64:
      return t.data<double>()[i];
    case DType::kFloat16:
      return half_to_float(t.data<uint16_t>()[i]);
    case DType::kBFloat16:
      return bfloat16_to_float(t.data<uint16_t>()[i]);
    default:
      return t.get_as_double(i);
  }
}

// Compares one output the way numpy.testing.assert_allclose(actual, expected, rtol, atol, equal_nan=True)
// does, after an exact dtype and shape check. Returns "" when it matches, else why not.
std::string compare_output(const Tensor& actual, const Tensor& expected, OutputError* err) {
  if (actual.dtype() != expected.dtype())
    return str_cat("dtype ", dtype_name(actual.dtype()), ", expected ", dtype_name(expected.dtype()));
  if (actual.shape() != expected.shape())
    return str_cat("shape ", shape_to_string(actual.shape()), ", expected ", shape_to_string(expected.shape()));
  const int64_t n = expected.numel();
  if (is_exact_dtype(expected.dtype())) {
    const size_t width = dtype_size(expected.dtype());
    const auto* a = static_cast<const uint8_t*>(actual.raw());
    const auto* e = static_cast<const uint8_t*>(expected.raw());
    for (int64_t i = 0; i < n; ++i) {
      if (std::memcmp(a + i * width, e + i * width, width) == 0) continue;
      if (err->mismatches++ == 0) {
        err->first_mismatch = i;
        err->first_actual = actual.get_as_double(i);
        err->first_expected = expected.get_as_double(i);
      }
      double diff = std::fabs(actual.get_as_double(i) - expected.get_as_double(i));
      err->max_abs = std::max(err->max_abs, diff);
    }
    if (err->mismatches == 0) return "";
    return str_cat(err->mismatches, " of ", n, " elements differ (exact type), first at ", err->first_mismatch, ": ",
                   err->first_actual, " vs expected ", err->first_expected);
  }
  for (int64_t i = 0; i < n; ++i) {
    double a = element_as_double(actual, i), e = element_as_double(expected, i);
    bool bad = false;
    if (std::isnan(e) || std::isnan(a)) {
      bad = std::isnan(e) != std::isnan(a);
    } else if (std::isinf(e) || std::isinf(a)) {
      bad = a != e;
    } else {
      double diff = std::fabs(a - e);
      double allowed = kAtol + kRtol * std::fabs(e);
      // ONNX 1.12 makes its bfloat16 expectations by truncating float32; lowbit rounds to nearest even (the
      // rule ONNX adopted in 1.13), so bfloat16 results may differ by one bfloat16 ulp (8 significant bits).
      if (expected.dtype() == DType::kBFloat16 && e != 0)
        allowed = std::max(allowed, std::ldexp(1.0, std::ilogb(e) - 7));
      err->max_abs = std::max(err->max_abs, diff);
      if (e != 0) err->max_rel = std::max(err->max_rel, diff / std::fabs(e));
      err->worst_ratio = std::max(err->worst_ratio, diff / allowed);
      bad = diff > allowed;
    }
    if (bad && err->mismatches++ == 0) {
      err->first_mismatch = i;
      err->first_actual = a;
      err->first_expected = e;
    }
  }
  if (err->mismatches == 0) return "";
  return str_cat(err->mismatches, " of ", n, " elements out of tolerance, first at ", err->first_mismatch, ": ",
                 err->first_actual, " vs expected ", err->first_expected, " (max abs err ", err->max_abs,
                 ", max rel err ", err->max_rel, ")");
}

std::vector<fs::path> sorted_files(const fs::path& dir, const std::string& prefix) {
  std::vector<std::pair<int, fs::path>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string file = entry.path().filename().string();
    if (file.rfind(prefix, 0) != 0 || entry.path().extension() != ".pb") continue;
    found.emplace_back(std::atoi(file.c_str() + prefix.size()), entry.path());
  }
  std::sort(found.begin(), found.end());
  std::vector<fs::path> paths;
  for (auto& f : found) paths.push_back(f.second);
  return paths;
}

// ONNX 1.12 stores bfloat16 test data as uint16 (numpy has no bfloat16): same bits, other type code.
Tensor as_bfloat16_if_stored_as_uint16(Tensor t, DType wanted) {
  if (wanted != DType::kBFloat16 || t.dtype() != DType::kUint16) return t;
  Tensor b(DType::kBFloat16, t.shape());
  std::memcpy(b.raw(), t.raw(), t.nbytes());
  return b;
}

struct DataSetResult {
  std::string failure;       // "" on success
  bool unsupported = false;  // the run stopped with kUnsupported (e.g. Dropout with training_mode=true)
};

// Runs one test_data_set_* folder.
DataSetResult run_data_set(Session& session, const fs::path& data_dir, std::vector<OutputError>* errors) {
  const Graph& graph = session.graph();
  std::map<std::string, Tensor> inputs;
  std::vector<fs::path> input_files = sorted_files(data_dir, "input_");
  if (input_files.size() > graph.inputs.size())
    return {str_cat(input_files.size(), " input files but the model has ", graph.inputs.size(), " inputs")};
  for (size_t i = 0; i < input_files.size(); ++i) {
    std::string pb_name;
    Expected<Tensor> t = read_tensor_pb_file(input_files[i].string(), &pb_name);
    if (!t) return {"cannot read test input: " + t.status().message()};
    // ONNX's runner feeds inputs by position; the name stored in the .pb agrees when present.
    std::string name = graph.inputs[i];
    if (!pb_name.empty() && std::find(graph.inputs.begin(), graph.inputs.end(), pb_name) != graph.inputs.end())
      name = pb_name;
    const ValueInfo* info = graph.find(name);
    inputs[name] = as_bfloat16_if_stored_as_uint16(std::move(*t), info ? info->type.dtype : DType::kUndefined);
  }
  Expected<std::map<std::string, Tensor>> outputs = session.run(inputs);
  if (!outputs)
    return {str_cat("run failed [", status_code_name(outputs.status().code()), "]: ", outputs.status().message()),
            outputs.status().code() == StatusCode::kUnsupported};

  std::vector<fs::path> output_files = sorted_files(data_dir, "output_");
  if (output_files.size() != graph.outputs.size())
    return {str_cat(output_files.size(), " expected outputs but the model has ", graph.outputs.size(), " outputs")};
  std::string failure;
  for (size_t i = 0; i < output_files.size(); ++i) {
    std::string pb_name;
    Expected<Tensor> expected = read_tensor_pb_file(output_files[i].string(), &pb_name);
    if (!expected) return {"cannot read expected output: " + expected.status().message()};
    const std::string& name = graph.outputs[i];
    auto it = outputs->find(name);
    if (it == outputs->end()) return {str_cat("output '", name, "' was not produced")};
    OutputError err;
    err.name = name;
    const ValueInfo* info = graph.find(name);
    Tensor want = as_bfloat16_if_stored_as_uint16(std::move(*expected), info ? info->type.dtype : DType::kUndefined);
    std::string why = compare_output(it->second, want, &err);
    errors->push_back(err);
    if (!why.empty() && failure.empty()) failure = str_cat("output '", name, "': ", why);
  }
  return {failure};
}

CaseResult run_case(const fs::path& case_dir, const Options& options) {
  CaseResult result;
  result.name = case_dir.filename().string();
  auto start = std::chrono::steady_clock::now();
  auto finish = [&](Outcome outcome, std::string reason) {
    result.outcome = outcome;
    result.reason = std::move(reason);
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
  };

  fs::path model_path = case_dir / "model.onnx";
  if (auto broken = kBrokenCases.find(result.name); broken != kBrokenCases.end()) {
    result.skip_op = "(broken test data)";
    result.skip_summary = broken->second;
    return finish(Outcome::kSkipped, broken->second);
  }
  Expected<Graph> graph = import_onnx_file(model_path.string());
  if (!graph) {
    if (graph.status().code() == StatusCode::kUnsupported) {
      result.skip_op = attribute_skip_to_op(graph.status().message(), model_op_types(model_path));
      result.skip_summary = summarize_reason(graph.status().message(), model_path.string(), result.skip_op);
      return finish(Outcome::kSkipped, graph.status().message());
    }
    return finish(Outcome::kFailed,
                  str_cat("import failed [", status_code_name(graph.status().code()), "]: ", graph.status().message()));
  }
  if (options.upgrade_to > 0 && graph->opset < options.upgrade_to) {
    Status upgraded = upgrade_opset(*graph, options.upgrade_to);
    if (!upgraded.ok()) {
      if (upgraded.code() == StatusCode::kUnsupported) {
        result.skip_op = attribute_skip_to_op(upgraded.message(), model_op_types(model_path));
        result.skip_summary = "upgrade: " + summarize_reason(upgraded.message(), model_path.string(), result.skip_op);
        return finish(Outcome::kSkipped, upgraded.message());
      }
      return finish(Outcome::kFailed,
                    str_cat("upgrade failed [", status_code_name(upgraded.code()), "]: ", upgraded.message()));
    }
    result.upgraded = true;
  }
  if (options.export_roundtrip || result.upgraded) {
    Expected<std::string> bytes = serialize_onnx(*graph);
    if (!bytes)
      return finish(Outcome::kFailed, str_cat("export failed [", status_code_name(bytes.status().code()),
                                              "]: ", bytes.status().message()));
    graph = import_onnx_bytes(*bytes, case_dir.string(), "exported " + result.name);
    if (!graph)
      return finish(Outcome::kFailed,
                    str_cat("re-import of the exported model failed [", status_code_name(graph.status().code()),
                            "]: ", graph.status().message()));
  }
  Expected<std::unique_ptr<Session>> session = Session::create(std::move(*graph), {.threads = options.threads});
  if (!session)
    return finish(Outcome::kFailed, str_cat("session creation failed [", status_code_name(session.status().code()),
                                            "]: ", session.status().message()));

  std::vector<fs::path> data_dirs;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(case_dir, ec))
    if (entry.is_directory() && entry.path().filename().string().rfind("test_data_set_", 0) == 0)
      data_dirs.push_back(entry.path());
  std::sort(data_dirs.begin(), data_dirs.end());
  if (data_dirs.empty()) return finish(Outcome::kFailed, "no test_data_set_* folder");

  for (const auto& data_dir : data_dirs) {
    DataSetResult r = run_data_set(**session, data_dir, &result.errors);
    if (r.failure.empty()) continue;
    if (data_dirs.size() > 1) r.failure = data_dir.filename().string() + ": " + r.failure;
    if (r.unsupported) {
      // lowbit declined at run time, where the deciding value is a runtime input (training_mode=true).
      result.skip_op = attribute_skip_to_op(r.failure, model_op_types(model_path));
      result.skip_summary = summarize_reason(r.failure, model_path.string(), result.skip_op);
      return finish(Outcome::kSkipped, r.failure);
    }
    return finish(Outcome::kFailed, r.failure);
  }
  return finish(Outcome::kPassed, "");
}

void print_usage(std::ostream& os) {
  os << "usage: lowbit_conformance [--filter REGEX] [--list-skipped] [--verbose] [--json FILE] [--threads N] "
        "CASES_DIR\n"
        "  CASES_DIR       generated ONNX backend test data (the folder holding node/, or node/ itself)\n"
        "  --filter REGEX  run only cases whose name matches (std::regex_search, ECMAScript)\n"
        "  --list-skipped  print every skipped case with its reason\n"
        "  --verbose       print max abs/rel error of each output of failing cases, and every case's result\n"
        "  --json FILE     write per-case results as JSON\n"
        "  --threads N     threads per session (default 1; cases always run one after another)\n"
        "  --export-roundtrip  export each model to ONNX and run the re-imported model\n"
        "  --upgrade-to N  upgrade models below opset N (13-17) first, then export and re-import them\n"
        "  --only-upgraded with --upgrade-to: run only the cases whose opset is below N\n";
}

bool parse_args(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) {
        std::cerr << "lowbit_conformance: " << arg << " needs a value\n";
        return false;
      }
      *out = argv[++i];
      return true;
    };
    if (arg == "--filter") {
      if (!value(&options->filter)) return false;
    } else if (arg == "--json") {
      if (!value(&options->json_path)) return false;
    } else if (arg == "--threads") {
      std::string v;
      if (!value(&v)) return false;
      options->threads = std::max(1, std::atoi(v.c_str()));
    } else if (arg == "--upgrade-to") {
      std::string v;
      if (!value(&v)) return false;
      options->upgrade_to = std::atoi(v.c_str());
      if (options->upgrade_to < 13 || options->upgrade_to > 17) {
        std::cerr << "lowbit_conformance: --upgrade-to takes an opset from 13 to 17\n";
        return false;
      }
    } else if (arg == "--export-roundtrip") {
      options->export_roundtrip = true;
    } else if (arg == "--only-upgraded") {
      options->only_upgraded = true;
    } else if (arg == "--list-skipped") {
      options->list_skipped = true;
    } else if (arg == "--verbose" || arg == "-v") {
      options->verbose = true;
    } else if (arg == "--help" || arg == "-h") {
      print_usage(std::cout);
      std::exit(0);
    } else if (!arg.empty() && arg[0] == '-') {
      std::cerr << "lowbit_conformance: unknown option " << arg << "\n";
      return false;
    } else if (options->cases_dir.empty()) {
      options->cases_dir = arg;
    } else {
      std::cerr << "lowbit_conformance: more than one cases folder given\n";
      return false;
    }
  }
  if (options->cases_dir.empty()) {
    std::cerr << "lowbit_conformance: no cases folder given\n";
    return false;
  }
  if (options->only_upgraded && options->upgrade_to == 0) {
    std::cerr << "lowbit_conformance: --only-upgraded needs --upgrade-to\n";
    return false;
  }
  return true;
}

void print_error_details(const CaseResult& r) {
  for (const auto& e : r.errors)
    std::cout << "      output '" << e.name << "': max abs err " << e.max_abs << ", max rel err " << e.max_rel
              << ", mismatches " << e.mismatches << "\n";
}

nlohmann::json to_json(const CaseResult& r) {
  nlohmann::json j;
  j["name"] = r.name;
  j["result"] = outcome_name(r.outcome);
  j["seconds"] = r.seconds;
  if (!r.reason.empty()) j["reason"] = r.reason;
  if (!r.skip_op.empty()) j["skip_op"] = r.skip_op;
  if (r.upgraded) j["upgraded"] = true;
  nlohmann::json outs = nlohmann::json::array();
  for (const auto& e : r.errors)
    outs.push_back({{"name", e.name},
                    {"max_abs_err", e.max_abs},
                    {"max_rel_err", e.max_rel},
                    {"tolerance_ratio", e.worst_ratio},
                    {"mismatches", e.mismatches}});
  j["outputs"] = outs;
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!parse_args(argc, argv, &options)) {
    print_usage(std::cerr);
    return 2;
  }
  fs::path root = options.cases_dir;
  if (fs::is_directory(root / "node")) root /= "node";
  if (!fs::is_directory(root)) {
    std::cerr << "lowbit_conformance: '" << root.string() << "' is not a folder\n";
    return 2;
  }
  std::regex filter;
  try {
    filter = std::regex(options.filter.empty() ? std::string(".*") : options.filter);
  } catch (const std::regex_error& e) {
    std::cerr << "lowbit_conformance: bad --filter regex: " << e.what() << "\n";
    return 2;
  }

  std::vector<fs::path> cases;
  int not_applicable = 0;  // --only-upgraded: cases already at the target opset
  for (const auto& entry : fs::directory_iterator(root)) {
    if (!entry.is_directory() || !fs::exists(entry.path() / "model.onnx")) continue;
    if (!std::regex_search(entry.path().filename().string(), filter)) continue;
    if (options.only_upgraded) {
      int opset = 0;
      model_op_types(entry.path() / "model.onnx", &opset);
      if (opset >= options.upgrade_to) {
        ++not_applicable;
        continue;
      }
    }
    cases.push_back(entry.path());
  }
  std::sort(cases.begin(), cases.end());
  if (cases.empty()) std::cerr << "lowbit_conformance: no cases under '" << root.string() << "' match\n";

  std::vector<CaseResult> results;
  int passed = 0, failed = 0, skipped = 0, upgraded_passed = 0, upgraded_total = 0;
  auto suite_start = std::chrono::steady_clock::now();
  for (const auto& case_dir : cases) {
    CaseResult r = run_case(case_dir, options);
    upgraded_total += r.upgraded;
    upgraded_passed += r.upgraded && r.outcome == Outcome::kPassed;
    switch (r.outcome) {
      case Outcome::kPassed:
        ++passed;
        if (options.verbose) std::cout << "PASS " << r.name << "\n";
        break;
      case Outcome::kFailed:
        ++failed;
        std::cout << "FAIL " << r.name << ": "
                  << one_line(r.reason, (case_dir / "model.onnx").string(), options.verbose ? 4000 : 300) << "\n";
        if (options.verbose) print_error_details(r);
        break;
      case Outcome::kSkipped:
        ++skipped;
        if (options.list_skipped || options.verbose)
          std::cout << "SKIP " << r.name << ": "
                    << (options.verbose ? one_line(r.reason, (case_dir / "model.onnx").string(), 4000) : r.skip_summary)
                    << "\n";
        break;
    }
    results.push_back(std::move(r));
  }
  double suite_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - suite_start).count();

  // Skip reasons grouped by op: count, a few case names, and the first message seen.
  struct SkipGroup {
    int count = 0;
    std::vector<std::string> cases;
    std::string example_reason;
  };
  std::map<std::string, SkipGroup> groups;
  for (const auto& r : results) {
    if (r.outcome != Outcome::kSkipped) continue;
    SkipGroup& g = groups[r.skip_op];
    if (g.count++ == 0) g.example_reason = first_line(r.skip_summary, 150);
    g.cases.push_back(r.name);
  }
  if (!groups.empty()) {
    std::vector<std::pair<std::string, const SkipGroup*>> ordered;
    for (auto& [op, g] : groups) ordered.emplace_back(op, &g);
    std::stable_sort(ordered.begin(), ordered.end(),
                     [](auto& a, auto& b) { return a.second->count > b.second->count; });
    std::cout << "\nSkipped cases by op (" << skipped << " cases, " << groups.size() << " ops):\n";
    for (auto& [op, g] : ordered)
      std::cout << "  " << std::left << std::setw(34) << op << std::right << std::setw(4) << g->count << "  "
                << g->example_reason << "\n";
  }

  // The passing cases closest to the tolerance: a regression watch list.
  std::vector<std::pair<double, std::string>> closest;
  for (const auto& r : results) {
    if (r.outcome != Outcome::kPassed) continue;
    for (const auto& e : r.errors)
      if (e.worst_ratio > 0)
        closest.emplace_back(e.worst_ratio,
                             str_cat(r.name, " '", e.name, "': max abs err ", e.max_abs, ", max rel err ", e.max_rel));
  }
  std::sort(closest.rbegin(), closest.rend());
  if (!closest.empty()) {
    std::cout << "\nLargest errors among passing cases (error / allowed error):\n";
    for (size_t i = 0; i < std::min<size_t>(closest.size(), options.verbose ? 25 : 8); ++i)
      std::cout << "  " << std::fixed << std::setprecision(3) << closest[i].first << std::defaultfloat
                << std::setprecision(6) << "  " << closest[i].second << "\n";
  }

  if (!options.json_path.empty()) {
    nlohmann::json j;
    j["cases_dir"] = root.string();
    j["passed"] = passed;
    j["failed"] = failed;
    j["skipped"] = skipped;
    j["seconds"] = suite_seconds;
    j["rtol"] = kRtol;
    j["atol"] = kAtol;
    j["export_roundtrip"] = options.export_roundtrip;
    j["upgrade_to"] = options.upgrade_to;
    j["upgraded"] = upgraded_total;
    j["upgraded_passed"] = upgraded_passed;
    j["cases"] = nlohmann::json::array();
    for (const auto& r : results) j["cases"].push_back(to_json(r));
    std::ofstream out(options.json_path);
    out << j.dump(2) << "\n";
    if (!out) std::cerr << "lowbit_conformance: cannot write " << options.json_path << "\n";
  }

  std::cout << "\n(" << cases.size() << " cases in " << std::fixed << std::setprecision(1) << suite_seconds << " s)\n";
  if (options.upgrade_to > 0)
    std::cout << "upgraded to opset " << options.upgrade_to << ": " << upgraded_total << " cases, " << upgraded_passed
              << " of them passed"
              << (options.only_upgraded
                      ? str_cat("; ", not_applicable, " cases already at opset >= ", options.upgrade_to, " left out")
                      : "")
              << "\n";
  if (options.export_roundtrip) std::cout << "every model was exported to ONNX and re-imported before running\n";
  std::cout << passed << " passed, " << failed << " failed, " << skipped << " skipped\n";
  return failed > 0 ? 1 : 0;
}
