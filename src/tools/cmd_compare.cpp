// lowbit compare FP32_MODEL QUANT_MODEL --input NAME=FILE.npy|DIR ... [--json FILE] [--html FILE]
// Runs both models on the same samples and reports, per tensor in topological order, the error the quantized
// model accumulates and the error each layer adds alone (src/compare/model_compare.h), plus task metrics of
// the outputs. Everything is checked before the long runs; report files are written only when all succeeded.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "compare/html_report.h"
#include "compare/model_compare.h"
#include "quant/calibration_data.h"
#include "tools/cli_common.h"

namespace lowbit::cli {
namespace {

// Writes `text` to `path` through a temporary file in the same folder, renamed into place.
Status write_text_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp" + std::to_string(getpid());
  {
    std::ofstream f(tmp, std::ios::binary);
    if (!f) return error(StatusCode::kIoError, "cannot write '", path, "': ", std::strerror(errno));
    f << text;
    f.flush();
    if (!f) {
      std::remove(tmp.c_str());
      return error(StatusCode::kIoError, "cannot write '", path, "' (disk full?)");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    return error(StatusCode::kIoError, "cannot write '", path, "': ", ec.message());
  }
  return Status();
}

// A report path must be writable before an expensive comparison starts.
Status check_report_path(const std::string& path, const char* flag) {
  if (path.empty()) return Status();
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) return error(StatusCode::kInvalidArgument, flag, " '", path, "' is a folder, not a file");
  fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) parent = ".";
  if (!fs::is_directory(parent, ec))
    return error(StatusCode::kInvalidArgument, flag, " '", path, "': folder '", parent.string(), "' does not exist");
  if (access(parent.c_str(), W_OK) != 0)
    return error(StatusCode::kInvalidArgument, flag, " '", path, "': folder '", parent.string(), "' is not writable");
  return Status();
}

}  // namespace

int run_compare(const CompareCliOptions& o) {
  if (o.inputs.empty()) return usage_error("compare needs --input NAME=FILE.npy (or NAME=DIR) for the model inputs");
  if (!(o.threshold == o.threshold)) return usage_error("--threshold must be a number");
  if (!o.json.empty() && o.json == o.html) return usage_error("--json and --html must name different files");
  for (auto* p : {&o.json, &o.html})
    if (!p->empty() && (*p == o.fp32_model || *p == o.quant_model)) return usage_error("a report must not overwrite a model");
  int64_t max_bytes = kDefaultMaxTensorBytes;
  if (!o.max_memory.empty()) {
    auto m = parse_memory_size(o.max_memory);
    if (!m) return usage_error(m.status().message());
    max_bytes = *m;
  }
  quant::CalibDataOptions data_options;
  for (auto& spec : o.inputs) {
    auto s = quant::parse_calib_source(spec);
    if (!s) return usage_error("--input: " + s.status().message());
    data_options.sources.push_back(*s);
  }
  data_options.limit = o.limit;
  data_options.max_batch_bytes = max_bytes;
  if (Status s = check_report_path(o.json, "--json"); !s.ok()) return fail(s);
  if (Status s = check_report_path(o.html, "--html"); !s.ok()) return fail(s);

  auto fp32 = load_model(o.fp32_model, /*validate=*/true, max_bytes);
  if (!fp32) return fail(fp32.status());
  auto quant = load_model(o.quant_model, /*validate=*/true, max_bytes);
  if (!quant) return fail(quant.status());
  auto data = quant::CalibrationData::open(*fp32, data_options);
  if (!data) return fail(data.status());
  if ((*data)->num_batches() == 0) return fail(error(StatusCode::kInvalidArgument, "--input holds no complete sample"));
  if (!o.quiet)
    for (auto& w : (*data)->warnings()) std::cerr << "lowbit: warning: " << w << "\n";

  compare::CompareOptions co;
  co.threads = o.threads;
  co.backend = o.backend;
  co.max_tensor_bytes = max_bytes;
  co.local = !o.no_local;
  co.map_threshold = o.threshold;
  co.worst = o.worst;
  auto comparer = compare::ModelComparer::create(*fp32, *quant, co);
  if (!comparer) return fail(comparer.status().with_context("comparing '" + o.fp32_model + "' with '" + o.quant_model + "'"));

  const auto start = std::chrono::steady_clock::now();
  const int64_t n = (*data)->num_batches();
  for (int64_t b = 0; b < n; ++b) {
    auto batch = (*data)->batch(b);
    if (!batch) return fail(batch.status());
    if (Status s = (*comparer)->add_sample(*batch); !s.ok())
      return fail(s.with_context("comparing on " + (*data)->describe_batch(b)));
    if (!o.quiet) {
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::fprintf(stderr, "compared %lld/%lld samples (%s), %.1f s\n", (long long)(b + 1), (long long)n,
                   (*data)->describe_batch(b).c_str(), secs);
    }
  }
  const compare::CompareResult result = (*comparer)->result();

  nlohmann::json report = compare::compare_to_json(result);
  report["tool"] = "lowbit compare";
  report["fp32_model"] = o.fp32_model;
  report["quant_model"] = o.quant_model;
  report["inputs"] = nlohmann::json::array();
  if (auto first = (*data)->batch(0); first)
    for (auto& [name, t] : *first) {
      std::string file;
      for (auto& s : data_options.sources)
        if (s.input == name || (s.input.empty() && data_options.sources.size() == 1)) file = s.path;
      report["inputs"].push_back({{"name", name}, {"file", file}, {"shape", t.shape()}});
    }
  if (!o.json.empty())
    if (Status s = write_text_atomically(o.json, report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"); !s.ok())
      return fail(s);
  if (!o.html.empty())
    if (Status s = write_text_atomically(o.html, compare::render_html_report(report)); !s.ok()) return fail(s);

  std::cout << "compare: FP32 '" << o.fp32_model << "' vs quantized '" << o.quant_model << "': " << result.layers.size()
            << " tensors matched, " << result.samples << " sample" << (result.samples == 1 ? "" : "s") << "\n";
  std::cout << compare::format_compare_text(result, !o.brief);
  if (!o.json.empty()) std::cout << "wrote " << o.json << "\n";
  if (!o.html.empty()) std::cout << "wrote " << o.html << "\n";
  return kExitOk;
}

}  // namespace lowbit::cli
