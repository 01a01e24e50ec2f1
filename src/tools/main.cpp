// lowbit: one command line tool for inspecting, running and benchmarking ONNX models.
//
//   lowbit inspect model.onnx [--json]
//   lowbit run model.onnx --input x=x.npy --output-dir out/
//   lowbit bench model.onnx --shape x=1x3x224x224 --iterations 50 [--json] [--profile]
//   lowbit ops [--markdown]
//   lowbit compare model.onnx model.int8.onnx --input x=samples.npy [--json r.json] [--html r.html]
//
// Exit codes: 0 ok, 1 runtime/model error, 2 usage error. Every error is one message on stderr
// starting with "lowbit: error:"; nothing escapes as an exception or a crash.
#include <malloc.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <new>
#include <string>

#include "tools/cli_common.h"

namespace {

using namespace lowbit::cli;

constexpr const char* kBackendHelp =
    "auto (default): oneDNN kernels where one exists, reference kernels elsewhere; onednn: the same; "
    "ref: reference kernels only (the accuracy oracle)";

// oneDNN and lowbit's own kernels run on OpenMP (src/runtime/thread_pool.h). Between two parallel regions the
// threads should spin for a while rather than sleep: waking a sleeping thread costs a futex round trip per
// primitive, and on this VM that made mobilenet_v2's int8 engine 3.5x slower (6.7 ms passive vs 1.9 ms with
// spinning). Debian's libgomp spins only once per wait by default on CPUs whose CPUID reports a hybrid core
// layout (this VM's does), so ask for libgomp's usual ~3 ms (GOMP_SPINCOUNT=300000) unless the user chose a
// policy. libgomp reads it only at load time: set it and re-execute once.
//
// Same re-exec: glibc.malloc.hugetlb=1 lets malloc back large blocks with transparent huge pages. Loading a
// model touches its whole weight size in fresh memory, and on this VM each 4 KiB page fault is costly:
// resnet50's import went from ~950 ms to ~120-320 ms with it (bench load_ms, same machine, one session).
void ensure_runtime_environment(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return;
  setenv("GOMP_SPINCOUNT", "300000", 1);
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  std::string t = tunables ? tunables : "";
  if (t.find("glibc.malloc.hugetlb") == std::string::npos)
    setenv("GLIBC_TUNABLES", (t.empty() ? std::string() : t + ":").append("glibc.malloc.hugetlb=1").c_str(), 1);
  execv("/proc/self/exe", argv);  // returns only on failure: then carry on with the default policy
}

int run_cli(int argc, char** argv) {
  CLI::App app{"lowbit " LOWBIT_VERSION
               ": post-training INT8 quantization and a fast CPU inference engine for ONNX models."};
  app.name("lowbit");
  app.set_version_flag("--version", "lowbit " LOWBIT_VERSION);
  app.require_subcommand(1, 1);
  app.footer(
      "Examples:\n"
      "  lowbit inspect model.onnx\n"
      "  lowbit run model.onnx --input x=x.npy --output-dir out\n"
      "  lowbit bench model.onnx --shape x=1x3x224x224 --iterations 20\n"
      "  lowbit ops --markdown\n"
      "  lowbit compare model.onnx model.int8.onnx --input x=samples.npy --html report.html\n"
      "Exit codes: 0 ok, 1 runtime or model error, 2 usage error. See docs/cli.md.");

  InspectOptions inspect;
  CLI::App* cmd_inspect = app.add_subcommand(
      "inspect", "Show a model's metadata, inputs/outputs, operators, parameters and anything lowbit cannot run");
  cmd_inspect->add_option("model", inspect.model, "ONNX model file")->required();
  cmd_inspect->add_flag("--json", inspect.json, "Print one JSON object instead of text");
  cmd_inspect->add_flag("--optimized", inspect.optimized,
                        "Also run the graph optimizer: op counts before -> after and what each pass changed");
  cmd_inspect->add_option("--disable-pass", inspect.optimize.disabled_passes, "With --optimized: skip this pass")
      ->allow_extra_args(false);
  cmd_inspect->add_option("--keep-node", inspect.optimize.keep_nodes, "With --optimized: leave this node as it is")
      ->allow_extra_args(false);
  cmd_inspect->footer(
      "Exit code 0 whenever the file parses as an ONNX model, even if it uses unsupported operators\n"
      "(they are listed); 1 if it cannot be read or parsed.");

  RunOptions run;
  std::string run_backend = "auto", bench_backend = "auto";
  CLI::App* cmd_run = app.add_subcommand("run", "Run a model on .npy inputs and write one .npy per output");
  cmd_run->add_option("model", run.model, "ONNX model file")->required();
  cmd_run
      ->add_option("-i,--input", run.inputs,
                   "Input as NAME=FILE.npy (repeat per input; plain FILE.npy when the model has one input)")
      ->allow_extra_args(false);  // one value per --input, so `--input x.npy model.onnx` works
  cmd_run->add_option("-o,--output-dir", run.output_dir, "Folder for the outputs (created if missing)")->required();
  cmd_run->add_option("-t,--threads", run.threads, "Worker threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  add_optimize_flags(cmd_run, &run.optimize);
  add_max_memory_flag(cmd_run, &run.max_memory);
  cmd_run->add_option("-b,--backend", run_backend, kBackendHelp)->check(CLI::IsMember({"auto", "onednn", "ref"}));
  cmd_run->add_flag("--cast", run.cast,
                    "Convert inputs whose .npy dtype differs from the model's (otherwise an error)");
  cmd_run->add_flag("-q,--quiet", run.quiet, "Print nothing on success");
  cmd_run->footer(
      "Outputs are written as DIR/<output name>.npy (characters other than A-Z a-z 0-9 . _ - become '_'),\n"
      "only after the whole run succeeded, via temp files renamed into place.");

  BenchOptions bench;
  CLI::App* cmd_bench = app.add_subcommand("bench", "Measure load time, latency and throughput (like trtexec)");
  cmd_bench->add_option("model", bench.model, "ONNX model file")->required();
  cmd_bench
      ->add_option("-s,--shape", bench.shapes, "Input shape as NAME=1x3x224x224 (needed for inputs with symbolic dims)")
      ->allow_extra_args(false);
  cmd_bench->add_option("-i,--input", bench.inputs, "Use real data for an input: NAME=FILE.npy (else random data)")
      ->allow_extra_args(false);
  cmd_bench->add_option("--warmup", bench.warmup, "Untimed runs first")->check(CLI::NonNegativeNumber);
  cmd_bench->add_option("-n,--iterations", bench.iterations, "Timed runs (at least this many)")
      ->check(CLI::PositiveNumber);
  cmd_bench->add_option("-d,--duration", bench.duration_s, "Keep running for at least this many seconds")
      ->check(CLI::NonNegativeNumber);
  cmd_bench->add_option("-t,--threads", bench.threads, "Worker threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  add_optimize_flags(cmd_bench, &bench.optimize);
  add_max_memory_flag(cmd_bench, &bench.max_memory);
  cmd_bench->add_option("-b,--backend", bench_backend, kBackendHelp)->check(CLI::IsMember({"auto", "onednn", "ref"}));
  cmd_bench->add_option("--seed", bench.seed, "Seed of the random inputs");
  cmd_bench->add_flag("--json", bench.json, "Print one JSON object on stdout (progress still goes to stderr)");
  cmd_bench->add_flag("--profile", bench.profile, "Time every node; print a table sorted by total time");
  cmd_bench->add_flag("--cast", bench.cast, "Convert --input files whose dtype differs from the model's");
  cmd_bench->add_flag("-q,--quiet", bench.quiet, "No progress messages on stderr");
  cmd_bench->footer(
      "Random inputs: floats uniform in [-1, 1), integers in [0, 8), bools 50/50, from --seed (default 0).\n"
      "Throughput = iterations x batch / measured time; batch is dim 0 of the first input.");

  QuantizeOptions quantize;
  std::string quantize_backend = "auto";
  CLI::App* cmd_quantize = app.add_subcommand(
      "quantize", "Quantize a float model to INT8 (QDQ ONNX) from calibration data, a TensorRT cache or a table");
  cmd_quantize->add_option("model", quantize.model, "FP32 ONNX model file")->required();
  cmd_quantize->add_option("-o,--output", quantize.output, "Quantized ONNX model to write");
  cmd_quantize->add_option("--calib", quantize.calib,
                           "Calibration data: NAME=FILE.npy (first axis = samples) or NAME=DIR (folder of .npy); repeat per input")
      ->allow_extra_args(false);
  cmd_quantize->add_option("--calib-images", quantize.calib_images, "Folder of JPEG/PNG images for the model's image input");
  cmd_quantize->add_option("--preprocess", quantize.preprocess,
                           "How images become tensors: \"size=HxW,scale=1/255,mean=a,b,c,std=a,b,c,color=rgb|bgr,layout=nchw|nhwc\"");
  cmd_quantize->add_option("--calib-limit", quantize.calib_limit, "Use at most N calibration samples")->check(CLI::PositiveNumber);
  cmd_quantize->add_option("--method", quantize.method, "Range per tensor: auto (lowest quantization error), minmax, entropy "
                           "(TensorRT EntropyCalibration2), percentile, mse")
      ->check(CLI::IsMember({"auto", "minmax", "entropy", "percentile", "mse"}));
  auto* percentile_opt = cmd_quantize->add_option("--percentile", quantize.percentile, "With --method percentile (default 99.99)");
  cmd_quantize->add_option("--activations", quantize.activations,
                           "symmetric, asymmetric, or auto (asymmetric for one-sided tensors such as post-ReLU/Sigmoid)")
      ->check(CLI::IsMember({"auto", "symmetric", "asymmetric"}));
  cmd_quantize->add_option("--activation-type", quantize.activation_type, "int8 (default) or uint8 activations")
      ->check(CLI::IsMember({"int8", "uint8"}));
  cmd_quantize->add_option("--io", quantize.io, "Model inputs/outputs: float (default), int8 or uint8 (scale/zero point printed)")
      ->check(CLI::IsMember({"float", "int8", "uint8"}));
  cmd_quantize->add_flag("--weight-only", quantize.weight_only, "int8 weights, float activations (no data needed)");
  cmd_quantize->add_flag("--adaround", quantize.adaround,
                         "Choose each weight's rounding (up or down) to minimise every layer's output error on the "
                         "calibration data (AdaRound); slower");
  cmd_quantize->add_option("--adaround-iters", quantize.adaround_iters, "Optimiser iterations per layer for --adaround (default 500)")
      ->check(CLI::PositiveNumber);
  cmd_quantize->add_flag("--per-tensor-weights", quantize.per_tensor_weights, "One scale per weight tensor instead of per channel");
  cmd_quantize->add_flag("--reduce-range", quantize.reduce_range,
                         "7-bit weights (codes in [-64, 64], as ONNX Runtime's reduce_range): full-speed exact INT8 on "
                         "CPUs without VNNI (AVX2 only), at a small accuracy cost");
  cmd_quantize->add_flag("--equalize", quantize.equalize,
                         "Cross-layer equalization of Conv -> [Relu] -> Conv pairs before calibration (exact in float)");
  cmd_quantize->add_flag("--equalize-relu6", quantize.equalize_relu6,
                         "With --equalize: also equalize through Clip(0, 6), replacing it by Relu (changes the float "
                         "model; the summary reports how much)");
  cmd_quantize->add_flag("--bias-correction", quantize.bias_correction,
                         "Subtract each layer's mean weight-rounding error from its bias (needs calibration data)");
  cmd_quantize->add_option("--exclude", quantize.exclude, "Keep this node (name) or op type in float; repeatable")
      ->allow_extra_args(false);
  cmd_quantize->add_option("--precision", quantize.precision, "NODE=fp32: keep this node in float; repeatable")
      ->allow_extra_args(false);
  cmd_quantize->add_option("--write-cache", quantize.write_cache, "Write a TensorRT calibration cache");
  cmd_quantize->add_option("--read-cache", quantize.read_cache, "Take activation ranges from a TensorRT calibration cache");
  cmd_quantize->add_option("--table", quantize.table, "Write the calibration table (JSON): method, range, scale, zero point per tensor");
  cmd_quantize->add_option("--read-table", quantize.read_table, "Take activation ranges from a (reviewed/edited) table");
  cmd_quantize->add_flag("--table-only", quantize.table_only, "Stop after writing --table / --write-cache");
  cmd_quantize->add_option("--target-sqnr", quantize.target_sqnr,
                           "Automatic mixed precision: keep the fewest layers in FP32 so that the output SQNR (dB) on "
                           "held-back calibration samples reaches this");
  cmd_quantize->add_option("--target-metric", quantize.target_metric,
                           "Automatic mixed precision on a task metric: top1=0.99, cosine=0.999, iou:0.3=0.95 or sqnr=DB");
  cmd_quantize->add_option("--holdout", quantize.holdout,
                           "Calibration batches held back to score mixed precision (default: the last 20%)")
      ->check(CLI::PositiveNumber);
  cmd_quantize->add_option("--max-candidates", quantize.max_candidates, "Mixed precision: score at most N candidate models")
      ->check(CLI::PositiveNumber);
  cmd_quantize->add_option("-t,--threads", quantize.threads, "Worker threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  cmd_quantize->add_option("-b,--backend", quantize_backend, kBackendHelp)->check(CLI::IsMember({"auto", "onednn", "ref"}));
  cmd_quantize->add_flag("-q,--quiet", quantize.quiet, "No progress bar and no summary");
  add_max_memory_flag(cmd_quantize, &quantize.max_memory);
  cmd_quantize->footer(
      "Numerics: real = (q - zero_point) x scale; weights int8 symmetric per output channel; biases int32.\n"
      "The output is a standard QDQ ONNX model (opset >= 13) that ONNX Runtime and TensorRT load. See docs/quantize.md.");

  CompareCliOptions compare;
  std::string compare_backend = "auto";
  CLI::App* cmd_compare = app.add_subcommand(
      "compare", "Compare an FP32 model with its quantized version layer by layer (SQNR, cosine, MSE, max error)");
  cmd_compare->add_option("fp32_model", compare.fp32_model, "FP32 ONNX model")->required();
  cmd_compare->add_option("quant_model", compare.quant_model, "Quantized (QDQ) ONNX model of the same network")->required();
  cmd_compare->add_option("-i,--input", compare.inputs,
                          "NAME=FILE.npy or NAME=DIR: samples for an input (axis 0 = samples, as --calib); repeat per input")
      ->required();
  cmd_compare->add_option("--limit", compare.limit, "Compare at most N samples")->check(CLI::PositiveNumber);
  cmd_compare->add_option("--json", compare.json, "Write the whole report as JSON to this file");
  cmd_compare->add_option("--html", compare.html, "Write a self-contained HTML report (chart, sortable table, histograms)");
  cmd_compare->add_option("--threshold", compare.threshold, "Binarization threshold for the IoU of map-like outputs (default 0.5)");
  cmd_compare->add_option("--worst", compare.worst, "How many worst layers to name (default 10)")->check(CLI::NonNegativeNumber);
  cmd_compare->add_flag("--no-local", compare.no_local, "Skip the run that measures the error each layer adds alone");
  cmd_compare->add_flag("--brief", compare.brief, "Print only the outputs and the worst layers, not every tensor");
  cmd_compare->add_option("-t,--threads", compare.threads, "Worker threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  cmd_compare->add_option("-b,--backend", compare_backend, kBackendHelp)->check(CLI::IsMember({"auto", "onednn", "ref"}));
  cmd_compare->add_flag("-q,--quiet", compare.quiet, "No progress on stderr");
  add_max_memory_flag(cmd_compare, &compare.max_memory);
  cmd_compare->footer(
      "Tensors are matched by name. 'accumulated' is the quantized model run end to end; 'layer alone' is each layer run\n"
      "on the FP32 model's values of its inputs (the error that layer adds). See docs/compare.md.");

  OpsOptions ops;
  CLI::App* cmd_ops = app.add_subcommand("ops", "List the supported operators (the op table)");
  cmd_ops->add_flag("--markdown", ops.markdown, "Print docs/operators.md exactly");

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string hint = " (see 'lowbit --help')";
    for (CLI::App* sub : app.get_subcommands()) hint = " (see 'lowbit " + sub->get_name() + " --help')";
    return usage_error(e.what() + hint);
  }

  if (cmd_inspect->parsed()) return run_inspect(inspect);
  lowbit::parse_backend(run_backend, &run.backend);  // values already checked by IsMember
  lowbit::parse_backend(bench_backend, &bench.backend);
  if (cmd_run->parsed()) return run_run(run);
  if (cmd_bench->parsed()) return run_bench(bench);
  if (cmd_ops->parsed()) return run_ops(ops);
  if (cmd_compare->parsed()) {
    lowbit::parse_backend(compare_backend, &compare.backend);
    return run_compare(compare);
  }
  if (cmd_quantize->parsed()) {
    lowbit::parse_backend(quantize_backend, &quantize.backend);
    quantize.percentile_set = percentile_opt->count() > 0;
    return run_quantize(quantize);
  }
  return usage_error("no command given (see 'lowbit --help')");
}

}  // namespace

int main(int argc, char** argv) {
  ensure_runtime_environment(argv);
  // Activation buffers of large models exceed glibc's dynamic mmap threshold (32 MiB), so each run
  // would mmap fresh pages and pay page faults again (mobilenet_v2 batch 8: 3x slower). Keep big
  // blocks in the heap for reuse across runs. (The planned activation arena makes this moot.)
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  // Last line of defence: a bug must still end as one "lowbit: error:" line, never a crash.
  try {
    return run_cli(argc, argv);
  } catch (const std::bad_alloc&) {
    return print_error("out of memory");
  } catch (const std::exception& e) {
    return print_error(std::string("internal error: ") + e.what());
  } catch (...) {
    return print_error("internal error: unknown exception");
  }
}
