// Shared pieces of the `lowbit` command line tool: exit codes, the one-line error convention,
// model loading, --input/--shape parsing, input .npy loading with dtype checks, and atomic
// output writing. Each subcommand lives in its own cmd_<name>.cpp.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "lowbit/status.h"
#include "lowbit/tensor.h"
#include "passes/pass.h"
#include "runtime/plan.h"

#ifndef LOWBIT_VERSION
#define LOWBIT_VERSION "0.1.0"
#endif

namespace lowbit::cli {

// Exit codes (documented in docs/cli.md).
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;  // runtime or model error (bad file, bad input, unsupported op, ...)
constexpr int kExitUsage = 2;    // the command line itself is wrong

// Prints "lowbit: error: <message>" on stderr (one message, possibly a multi-line list) and
// returns the exit code to use.
int print_error(const std::string& message, int exit_code = kExitFailure);
inline int fail(const Status& s) { return print_error(s.message(), kExitFailure); }
inline int usage_error(const std::string& message) { return print_error(message, kExitUsage); }

// ---- options of each subcommand -------------------------------------------------------------

// Graph optimizer switches shared by run, bench and inspect (DESIGN: per-node switches).
struct OptimizeFlags {
  bool disabled = false;                     // --no-optimize
  std::vector<std::string> disabled_passes;  // --disable-pass NAME
  std::vector<std::string> keep_nodes;       // --keep-node NAME: no pass rewrites, fuses or folds it
};

struct InspectOptions {
  std::string model;
  bool json = false;
  bool optimized = false;  // also run the passes and show the graph after them and what each changed
  OptimizeFlags optimize;
};

struct RunOptions {
  std::string max_memory;  // --max-memory SIZE: cap on any one tensor (default 16G)
  std::string model;
  std::vector<std::string> inputs;  // NAME=FILE.npy (or FILE.npy for a one-input model)
  std::string output_dir;
  int threads = 0;
  Backend backend = Backend::kAuto;
  OptimizeFlags optimize;
  bool cast = false;
  bool quiet = false;
};

struct BenchOptions {
  std::string max_memory;  // --max-memory SIZE: cap on any one tensor (default 16G)
  std::string model;
  std::vector<std::string> shapes;  // NAME=1x3x224x224
  std::vector<std::string> inputs;  // NAME=FILE.npy
  int warmup = 1;
  int iterations = 10;
  double duration_s = 0;
  int threads = 0;
  Backend backend = Backend::kAuto;
  OptimizeFlags optimize;
  uint64_t seed = 0;
  bool json = false;
  bool profile = false;
  bool cast = false;
  bool quiet = false;
};

struct QuantizeOptions {
  std::string max_memory;  // --max-memory SIZE: cap on any one tensor (default 16G)
  std::string model, output;
  std::vector<std::string> calib;      // NAME=FILE.npy or NAME=DIR
  std::string calib_images, preprocess;
  int64_t calib_limit = -1;
  std::string method = "auto";
  double percentile = 99.99;
  bool percentile_set = false;
  std::string activations = "auto";    // symmetric | asymmetric | auto
  std::string activation_type = "int8";
  std::string io = "float";
  bool weight_only = false, per_tensor_weights = false;
  bool reduce_range = false;           // --reduce-range: weight codes in [-64, 64]
  bool equalize = false, equalize_relu6 = false, bias_correction = false;
  std::vector<std::string> exclude, precision;
  std::string read_cache, write_cache, read_table, table;
  bool table_only = false;
  std::string target_sqnr;     // --target-sqnr DB
  std::string target_metric;   // --target-metric KIND=VALUE
  int64_t holdout = -1;        // --holdout N batches held back for scoring (-1: 20%)
  int max_candidates = 32;     // --max-candidates N
  int threads = 0;
  Backend backend = Backend::kAuto;
  bool quiet = false;
  bool adaround = false;   // --adaround
  int adaround_iters = 0;  // --adaround-iters N (0: the default)
};

struct OpsOptions {
  bool markdown = false;
};

struct CompareCliOptions {
  std::string max_memory;
  std::string fp32_model, quant_model;
  std::vector<std::string> inputs;  // NAME=FILE.npy or NAME=DIR (axis 0 = samples, as --calib)
  int64_t limit = -1;               // --limit N samples
  std::string json, html;           // report files
  double threshold = 0.5;           // binarization threshold of map-like outputs
  int worst = 10;
  bool no_local = false;            // skip the layer-alone run
  bool brief = false;               // outputs and worst layers only on stdout
  int threads = 0;
  Backend backend = Backend::kAuto;
  bool quiet = false;
};

int run_inspect(const InspectOptions& options);
int run_run(const RunOptions& options);
int run_bench(const BenchOptions& options);
int run_ops(const OpsOptions& options);
int run_quantize(const QuantizeOptions& options);
int run_compare(const CompareCliOptions& options);

// ---- helpers --------------------------------------------------------------------------------

// Imports a model. With validate=false, structural import only (inspect runs validation itself).
// max_tensor_bytes caps any single initializer or inferred tensor (--max-memory).
Expected<Graph> load_model(const std::string& path, bool validate, int64_t max_tensor_bytes = kDefaultMaxTensorBytes);
// "--max-memory" values: bytes, or a number with K/M/G/T (binary units, e.g. "4G", "512M", "1.5G").
Expected<int64_t> parse_memory_size(const std::string& text);
// Adds --max-memory SIZE to a subcommand (the text is parsed by parse_memory_size when the command runs).
void add_max_memory_flag(CLI::App* cmd, std::string* text);
// Runs the graph optimizer unless flags.disabled; `reports` (optional) receives what each pass changed.
Status optimize_model(Graph& g, const OptimizeFlags& flags, std::vector<PassReport>* reports = nullptr);
// Adds --no-optimize / --disable-pass / --keep-node to a subcommand.
void add_optimize_flags(CLI::App* cmd, OptimizeFlags* flags);

// "NAME=VALUE" or "VALUE" (no name). A syntax problem (empty name or value) is a usage error.
struct NamedArg {
  std::string name;  // "" when none was given
  std::string value;
  std::string original;
};
Expected<NamedArg> parse_named_arg(const std::string& spec, const char* what);

// Assigns each NAME=VALUE to a model input. A spec without NAME is allowed only when the model has
// exactly one input. Unknown names and duplicates are errors that list the model's inputs.
Expected<std::map<std::string, std::string>> assign_to_inputs(const Graph& g, const std::vector<NamedArg>& args,
                                                              const char* what);

// "1x3x224x224" (also "1,3,224,224"); "scalar" or "" for rank 0.
Expected<Shape> parse_shape(const std::string& text);

// Reads FILE.npy for model input `name` and checks dtype and static dims against the model, naming
// the file in every message. A dtype mismatch is an error unless `cast` (explicit conversion).
Expected<Tensor> load_input_npy(const Graph& g, const std::string& name, const std::string& file, bool cast);

// Element-wise conversion between numeric dtypes (float->int truncates toward zero and saturates).
Tensor convert_dtype(const Tensor& t, DType to);

// A file name for an output: characters outside [A-Za-z0-9._-] become '_', and so do leading dots
// (no hidden files, never "." or ".."); never empty.
std::string safe_file_name(const std::string& value_name);

// Writes every tensor as DIR/<safe name>.npy, all or nothing: each goes to a temp file first and
// is renamed into place only once all temp files were written. Creates DIR if missing.
// `written` receives (output name, path) pairs in order.
Status write_outputs(const std::string& dir, const std::vector<std::pair<std::string, const Tensor*>>& outputs,
                     std::vector<std::pair<std::string, std::string>>* written);
// Fails early when DIR exists and is not a directory (before a long run).
Status check_output_dir(const std::string& dir);

// "1,234,567"
std::string with_thousands(int64_t n);
// "97.5 MiB"
std::string human_bytes(int64_t bytes);

}  // namespace lowbit::cli
