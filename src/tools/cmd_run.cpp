// lowbit run MODEL --input NAME=FILE.npy ... --output-dir DIR [--threads N] [--cast]
// Everything is checked before the model runs (input names, dtypes, shapes, the output folder),
// and outputs are written only after the whole run succeeded (see write_outputs).
#include <cmath>
#include <cstdio>
#include <iostream>

#include "runtime/session.h"
#include "tools/cli_common.h"

namespace lowbit::cli {
namespace {

// "min -1.25 max 3.5" for numeric outputs; counts NaN/Inf so a broken run is visible at once.
std::string value_summary(const Tensor& t) {
  if (t.numel() == 0) return "empty";
  double lo = INFINITY, hi = -INFINITY;
  int64_t non_finite = 0;
  for (int64_t i = 0; i < t.numel(); ++i) {
    double v = t.get_as_double(i);
    if (!std::isfinite(v)) {
      ++non_finite;
      continue;
    }
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  char buf[128];
  if (non_finite == t.numel()) return str_cat("all ", non_finite, " values non-finite");
  std::snprintf(buf, sizeof buf, "min %.6g max %.6g", lo, hi);
  std::string r = buf;
  if (non_finite) r += str_cat(", ", non_finite, " NaN/Inf");
  return r;
}

}  // namespace

int run_run(const RunOptions& options) {
  std::vector<NamedArg> args;
  for (auto& spec : options.inputs) {
    auto a = parse_named_arg(spec, "--input");
    if (!a) return usage_error(a.status().message());
    args.push_back(*a);
  }
  if (Status s = check_output_dir(options.output_dir); !s.ok()) return fail(s);

  int64_t max_bytes = kDefaultMaxTensorBytes;
  if (!options.max_memory.empty()) {
    auto m = parse_memory_size(options.max_memory);
    if (!m) return usage_error(m.status().message());
    max_bytes = *m;
  }
  auto graph = load_model(options.model, /*validate=*/true, max_bytes);
  if (!graph) return fail(graph.status());
  auto files = assign_to_inputs(*graph, args, "--input");
  if (!files) return fail(files.status());
  std::string missing;
  for (auto& name : graph->inputs) {
    if (files->count(name)) continue;
    const ValueInfo* v = graph->find(name);
    missing += str_cat(missing.empty() ? "" : ", ", "'", name, "'", v ? " " + v->type.to_string() : "");
  }
  if (!missing.empty())
    return fail(error(StatusCode::kInvalidArgument, "'", options.model, "' needs input(s) ", missing,
                      "; pass --input NAME=FILE.npy for each"));

  std::map<std::string, Tensor> inputs;
  for (auto& [name, file] : *files) {
    auto t = load_input_npy(*graph, name, file, options.cast);
    if (!t) return fail(t.status());
    inputs[name] = std::move(*t);
  }

  if (Status s = optimize_model(*graph, options.optimize); !s.ok())
    return fail(s.with_context("'" + options.model + "'"));
  SessionOptions session_options;
  session_options.threads = options.threads;
  session_options.max_tensor_bytes = max_bytes;
  session_options.backend = options.backend;
  auto session = Session::create(std::move(*graph), session_options);
  if (!session) return fail(session.status().with_context("'" + options.model + "'"));
  if (Status s = (*session)->check_inputs(inputs); !s.ok()) return fail(s);

  auto outputs = (*session)->run(inputs);
  if (!outputs) return fail(outputs.status().with_context("running '" + options.model + "'"));

  // Graph order, not map order, so files and messages follow the model's outputs.
  std::vector<std::pair<std::string, const Tensor*>> ordered;
  for (auto& name : (*session)->graph().outputs) {
    auto it = outputs->find(name);
    if (it != outputs->end()) ordered.emplace_back(name, &it->second);
  }
  std::vector<std::pair<std::string, std::string>> written;
  if (Status s = write_outputs(options.output_dir, ordered, &written); !s.ok()) return fail(s);

  if (!options.quiet) {
    for (size_t i = 0; i < written.size(); ++i) {
      const Tensor& t = *ordered[i].second;
      std::cout << "wrote " << written[i].second << "  (output '" << written[i].first << "', " << dtype_name(t.dtype())
                << " " << shape_to_string(t.shape()) << ", " << value_summary(t) << ")\n";
    }
  }
  return kExitOk;
}

}  // namespace lowbit::cli
