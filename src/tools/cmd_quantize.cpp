// lowbit quantize MODEL --calib NAME=FILE.npy|DIR ... | --calib-images DIR --preprocess SPEC | --read-cache FILE
//                 | --read-table FILE | --weight-only  -o OUT.onnx [--table FILE.json] [--write-cache FILE] ...
// Everything is computed first; files are written only at the end (the model via a temp file + rename), so a
// failure leaves nothing half-written.
#include <filesystem>
#include <iostream>
#include <optional>

#include "kernels/onednn/int8_pairs.h"
#include "onnx/exporter.h"
#include "quant/calibration_cache.h"
#include "quant/calibration_table.h"
#include "quant/quantizer.h"
#include "quant/mixed_precision.h"
#include "tools/cli_common.h"

namespace fs = std::filesystem;

namespace lowbit::cli {
namespace {

int64_t file_bytes(const std::string& path) {
  std::error_code ec;
  auto n = fs::file_size(path, ec);
  return ec ? -1 : int64_t(n);
}

// Checks the combination of flags before any work (a usage error, exit code 2).
std::string check_flags(const QuantizeOptions& o) {
  const bool data = !o.calib.empty() || !o.calib_images.empty();
  const int sources = int(data) + int(!o.read_cache.empty()) + int(!o.read_table.empty()) + int(o.weight_only);
  if (sources == 0)
    return "quantize needs ranges: --calib NAME=FILE.npy|DIR, --calib-images DIR, --read-cache FILE, --read-table FILE, "
           "or --weight-only";
  if (sources > 1)
    return "use only one of --calib/--calib-images, --read-cache, --read-table and --weight-only";
  if (o.output.empty() && !o.table_only) return "--output/-o OUT.onnx is required (or --table-only with --table)";
  if (o.table_only && o.table.empty() && o.write_cache.empty()) return "--table-only needs --table FILE.json or --write-cache FILE";
  if (o.weight_only && (!o.table.empty() || !o.write_cache.empty()))
    return "--weight-only calibrates nothing, so --table/--write-cache have nothing to write";
  if (o.bias_correction && !data)
    return "--bias-correction measures each layer's mean input on calibration data: it needs --calib or "
           "--calib-images (not --weight-only, --read-cache or --read-table)";
  if (o.bias_correction && o.table_only) return "--bias-correction changes the quantized model's biases; --table-only writes no model";
  if (o.equalize_relu6 && !o.equalize) return "--equalize-relu6 extends --equalize; add --equalize";
  if (!o.preprocess.empty() && o.calib_images.empty()) return "--preprocess applies to --calib-images only";
  if (o.method != "percentile" && o.percentile_set) return "--percentile needs --method percentile";
  if (!o.output.empty() && (o.output == o.model)) return "--output must not overwrite the input model";
  const bool target = !o.target_sqnr.empty() || !o.target_metric.empty();
  if (!o.target_sqnr.empty() && !o.target_metric.empty()) return "use --target-sqnr or --target-metric, not both";
  if (target && o.weight_only) return "--target-* needs activations to quantize: not with --weight-only";
  if (target && o.table_only) return "--target-* chooses layers of the quantized model: not with --table-only";
  if (target && o.calib.empty() && o.calib_images.empty())
    return "--target-* scores candidates on calibration samples: give --calib or --calib-images (with --read-table/--read-cache "
           "all of them are held back)";
  if (!target && o.holdout > 0) return "--holdout applies to --target-sqnr / --target-metric only";
  if (o.adaround && !data)
    return "--adaround needs calibration data (--calib or --calib-images): it fits the rounding to each layer's inputs";
  if (o.adaround && o.table_only) return "--adaround only changes the model's weights, and --table-only writes no model";
  if (o.adaround_iters > 0 && !o.adaround) return "--adaround-iters needs --adaround";
  if (o.adaround && o.reduce_range) return "--adaround rounds within the 8-bit weight range: not with --reduce-range (yet)";
  return "";
}

}  // namespace

int run_quantize(const QuantizeOptions& o) {
  if (std::string why = check_flags(o); !why.empty()) return usage_error(why);
  quant::QuantizeOptions qo;
  if (!quant::parse_calib_method(o.method, &qo.calib.method)) return usage_error("--method: unknown method '" + o.method + "'");
  qo.calib.percentile = o.percentile;
  if (!(o.percentile > 0 && o.percentile <= 100)) return usage_error("--percentile must be in (0, 100]");
  qo.calib.range = o.activations == "symmetric"    ? quant::ActivationRange::kSymmetric
                   : o.activations == "asymmetric" ? quant::ActivationRange::kAsymmetric
                                                   : quant::ActivationRange::kAuto;
  qo.calib.unsigned_int = o.activation_type == "uint8";
  qo.io = o.io == "int8" ? quant::IoType::kInt8 : o.io == "uint8" ? quant::IoType::kUInt8 : quant::IoType::kFloat;
  qo.plan.weight_only = o.weight_only;
  qo.plan.per_channel_weights = !o.per_tensor_weights;
  qo.plan.weight_qmax = o.reduce_range ? 64 : 127;
  qo.equalize = o.equalize;
  qo.equalize_relu6 = o.equalize_relu6;
  qo.bias_correction = o.bias_correction;
  for (auto& e : o.exclude) qo.plan.exclude.insert(e);
  for (auto& spec : o.precision) {
    auto a = parse_named_arg(spec, "--precision");
    if (!a) return usage_error(a.status().message());
    if (a->name.empty() || (a->value != "fp32" && a->value != "float32"))
      return usage_error("--precision '" + spec + "': expected NODE=fp32 (the only higher precision the CPU engine runs today)");
    qo.plan.exclude.insert(a->name);
  }
  std::optional<quant::TargetMetric> target;
  if (!o.target_sqnr.empty() || !o.target_metric.empty()) {
    auto t = quant::parse_target_metric(o.target_metric.empty() ? "sqnr=" + o.target_sqnr : o.target_metric);
    if (!t) {
      std::string msg = t.status().message();
      if (!o.target_sqnr.empty()) msg = "--target-sqnr '" + o.target_sqnr + "': not a number of dB";
      return usage_error(msg);
    }
    target = *t;
    qo.holdout_batches = o.holdout;  // -1: 20%
  }
  for (auto& spec : o.calib) {
    auto a = parse_named_arg(spec, "--calib");
    if (!a) return usage_error(a.status().message());
    qo.data.sources.push_back({a->name, a->value});
  }
  qo.data.images_dir = o.calib_images;
  qo.data.preprocess = o.preprocess;
  qo.data.limit = o.calib_limit;
  qo.read_cache = o.read_cache;
  qo.read_table = o.read_table;
  qo.threads = o.threads;
  qo.backend = o.backend;
  qo.progress = !o.quiet;
  qo.adaround.enabled = o.adaround;
  if (o.adaround_iters > 0) qo.adaround.params.iterations = o.adaround_iters;
  if (!o.output.empty()) {
    fs::path parent = fs::path(o.output).parent_path();
    std::error_code ec;
    if (!parent.empty() && !fs::is_directory(parent, ec))
      return fail(error(StatusCode::kNotFound, "cannot write '", o.output, "': folder '", parent.string(), "' does not exist"));
  }

  if (!o.max_memory.empty()) {
    auto m = parse_memory_size(o.max_memory);
    if (!m) return usage_error(m.status().message());
    qo.max_tensor_bytes = *m;
    qo.data.max_batch_bytes = *m;
  }
  auto graph = load_model(o.model, /*validate=*/true, qo.max_tensor_bytes);
  if (!graph) return fail(graph.status());
  // An unnamed --calib goes to the only input (assign_to_inputs checks names and duplicates).
  if (!qo.data.sources.empty()) {
    std::vector<NamedArg> args;
    for (auto& s : qo.data.sources) args.push_back({s.input, s.path, s.input.empty() ? s.path : s.input + "=" + s.path});
    auto assigned = assign_to_inputs(*graph, args, "--calib");
    if (!assigned) return fail(assigned.status());
    qo.data.sources.clear();
    for (auto& [name, path] : *assigned) qo.data.sources.push_back({name, path});
  }

  auto result = quant::calibrate_graph(std::move(*graph), qo);
  if (!result) return fail(result.status().with_context("quantizing '" + o.model + "'"));
  for (auto& w : result->warnings) std::cerr << "lowbit: warning: " << w << "\n";

  std::optional<quant::MixedPrecisionReport> mixed;
  if (target) {
    quant::MixedPrecisionOptions mo;
    mo.target = *target;
    mo.max_evaluations = o.max_candidates;
    auto m = quant::choose_mixed_precision(*result, qo, mo);
    if (!m) return fail(m.status().with_context("mixed precision for '" + o.model + "'"));
    mixed = std::move(*m);
    // The chosen FP32 nodes join --exclude; the plan is redone with them (the table stays as calibrated).
    for (auto& k : mixed->kept) qo.plan.exclude.insert(k.node);
    auto plan = quant::plan_quantization(result->graph, quant::plan_options(qo));
    if (!plan) return fail(plan.status().with_context("quantizing '" + o.model + "'"));
    result->plan = std::move(*plan);
  }
  if (!o.table_only) {
    if (Status s = quant::apply_quantization(*result, qo); !s.ok()) return fail(s.with_context("quantizing '" + o.model + "'"));
    ExportOptions eo;
    eo.write_value_info = false;  // optional in ONNX; keeps the quantized file small
    if (Status s = export_onnx(result->graph, o.output, eo); !s.ok()) return fail(s);
  }
  if (!o.table.empty()) {
    if (Status s = quant::write_calibration_table(o.table, result->table, qo.calib); !s.ok()) return fail(s);
  }
  if (!o.write_cache.empty()) {
    if (Status s = quant::write_trt_cache(o.write_cache, quant::cache_entries(result->table)); !s.ok()) return fail(s);
  }
  if (o.quiet) return kExitOk;
  std::cout << "lowbit quantize: '" << o.model << "'";
  if (!o.table_only) std::cout << " -> '" << o.output << "'";
  std::cout << "\n" << quant::format_quantize_summary(*result, file_bytes(o.model), o.table_only ? -1 : file_bytes(o.output));
  if (o.reduce_range) std::cout << "weights:     7-bit range, codes in [-64, 64] (--reduce-range)\n";
  else if (!o.table_only && onednn::int8_pairs_saturate())
    std::cout << "note:        this CPU has no VNNI: lowbit keeps 8-bit weights exact here by splitting them, at about "
                 "FP32 speed; --reduce-range (7-bit weights) runs INT8 unsplit, faster (docs/int8_engine.md)\n";
  if (mixed) std::cout << quant::format_mixed_precision(*mixed);
  if (!o.table.empty()) std::cout << "table:       " << o.table << " (" << result->table.size() << " tensors)\n";
  if (!o.write_cache.empty()) std::cout << "cache:       " << o.write_cache << " (TensorRT format, scale = amax / 127)\n";
  return kExitOk;
}

}  // namespace lowbit::cli
