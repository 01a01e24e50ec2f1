// lowbit bench MODEL [--shape NAME=1x3x224x224 ...] [--input NAME=FILE.npy ...] [--warmup N]
//                    [--iterations N] [--duration S] [--threads N] [--json] [--profile]
// Like trtexec: load time, throughput, latency percentiles and jitter; --profile adds per-node
// times from Session::run's NodeObserver. Results on stdout, progress on stderr.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "runtime/precision.h"
#include "runtime/session.h"
#include "tools/cli_common.h"

namespace lowbit::cli {
namespace {

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

struct LatencyStats {
  double min = 0, mean = 0, median = 0, p90 = 0, p95 = 0, p99 = 0, max = 0, stddev = 0;
};

// Percentiles interpolate linearly between closest ranks (numpy's default).
double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  double pos = p / 100.0 * double(sorted.size() - 1);
  size_t lo = size_t(pos);
  size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - double(lo));
}

LatencyStats compute_stats(std::vector<double> ms) {
  LatencyStats s;
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  double sum = 0;
  for (double v : ms) sum += v;
  s.mean = sum / double(ms.size());
  double var = 0;
  for (double v : ms) var += (v - s.mean) * (v - s.mean);
  s.stddev = std::sqrt(var / double(ms.size()));
  s.min = ms.front();
  s.max = ms.back();
  s.median = percentile(ms, 50);
  s.p90 = percentile(ms, 90);
  s.p95 = percentile(ms, 95);
  s.p99 = percentile(ms, 99);
  return s;
}

Tensor random_tensor(DType dtype, const Shape& shape, std::mt19937_64& rng, Status* status) {
  auto created = Tensor::create(dtype, shape);
  if (!created) {
    *status = created.status();
    return {};
  }
  Tensor t = std::move(*created);
  std::uniform_real_distribution<double> real(-1.0, 1.0);
  std::uniform_int_distribution<int> small(0, 7);
  for (int64_t i = 0; i < t.numel(); ++i) {
    switch (dtype) {
      case DType::kFloat32:
        t.data<float>()[i] = float(real(rng));
        break;
      case DType::kFloat64:
        t.data<double>()[i] = real(rng);
        break;
      case DType::kFloat16:
        t.data<uint16_t>()[i] = float_to_half(float(real(rng)));
        break;
      case DType::kBFloat16:
        t.data<uint16_t>()[i] = float_to_bfloat16(float(real(rng)));
        break;
      case DType::kBool:
        t.data<uint8_t>()[i] = uint8_t(small(rng) & 1);
        break;
      default: {
        // Every integer type holds 0..7; write it in the element's width.
        int v = small(rng);
        switch (dtype_size(dtype)) {
          case 1:
            t.data<uint8_t>()[i] = uint8_t(v);
            break;
          case 2:
            t.data<uint16_t>()[i] = uint16_t(v);
            break;
          case 4:
            t.data<uint32_t>()[i] = uint32_t(v);
            break;
          default:
            t.data<uint64_t>()[i] = uint64_t(v);
            break;
        }
      }
    }
  }
  return t;
}

struct NodeTime {
  std::string name, op_type, precision;
  double total_ms = 0;
  int64_t calls = 0;
  std::string backend = "ref";  // what actually ran the node in the last timed run
};

class Progress {
 public:
  explicit Progress(bool quiet) : quiet_(quiet), tty_(isatty(2)) {}
  void line(const std::string& text) {
    if (quiet_) return;
    end_update();
    std::cerr << "lowbit: " << text << "\n";
  }
  // Same-line updates on a terminal; on a pipe only every ~10%, so logs stay short.
  void update(const std::string& what, int64_t i, int64_t n) {
    if (quiet_) return;
    if (tty_) {
      std::cerr << "\rlowbit: " << what << " " << i << "/" << n << std::flush;
      pending_ = true;
    } else if (n > 0 && (i == n || (i * 10 / n) != ((i - 1) * 10 / n))) {
      std::cerr << "lowbit: " << what << " " << i << "/" << n << "\n";
    }
  }
  void end_update() {
    if (pending_) std::cerr << "\n";
    pending_ = false;
  }

 private:
  bool quiet_, tty_, pending_ = false;
};

std::string fmt(double v, const char* spec = "%.3f") {
  char buf[64];
  std::snprintf(buf, sizeof buf, spec, v);
  return buf;
}

}  // namespace

int run_bench(const BenchOptions& options) {
  // Syntax first: a typo in --shape should not wait for a model load.
  std::vector<NamedArg> shape_args, input_args;
  for (auto& spec : options.shapes) {
    auto a = parse_named_arg(spec, "--shape");
    if (!a) return usage_error(a.status().message());
    auto s = parse_shape(a->value);
    if (!s) return usage_error(str_cat("--shape '", spec, "': ", s.status().message()));
    shape_args.push_back(*a);
  }
  for (auto& spec : options.inputs) {
    auto a = parse_named_arg(spec, "--input");
    if (!a) return usage_error(a.status().message());
    input_args.push_back(*a);
  }
  Progress progress(options.quiet);

  int64_t max_bytes = kDefaultMaxTensorBytes;
  if (!options.max_memory.empty()) {
    auto m = parse_memory_size(options.max_memory);
    if (!m) return usage_error(m.status().message());
    max_bytes = *m;
  }
  auto load_start = Clock::now();
  auto graph = load_model(options.model, /*validate=*/true, max_bytes);
  if (!graph) return fail(graph.status());
  const Graph& g = *graph;

  // Which input gets which shape / file.
  auto shape_names = assign_to_inputs(g, shape_args, "--shape");
  if (!shape_names) return fail(shape_names.status());
  std::map<std::string, Shape> shapes;
  for (auto& [name, text] : *shape_names) shapes[name] = *parse_shape(text);  // syntax checked above
  auto files = assign_to_inputs(g, input_args, "--input");
  if (!files) return fail(files.status());
  for (auto& [name, file] : *files)
    if (shapes.count(name)) return usage_error(str_cat("input '", name, "' has both --shape and --input; give one"));

  std::map<std::string, Tensor> inputs;
  std::map<std::string, std::string> input_source;  // for the report
  std::string unresolved, example;
  std::mt19937_64 rng(options.seed);
  for (auto& name : g.inputs) {
    const ValueInfo* v = g.find(name);
    if (auto f = files->find(name); f != files->end()) {
      auto t = load_input_npy(g, name, f->second, options.cast);
      if (!t) return fail(t.status());
      inputs[name] = std::move(*t);
      input_source[name] = f->second;
      continue;
    }
    if (!v || v->type.dtype == DType::kUndefined || !dtype_is_storable(v->type.dtype))
      return fail(error(StatusCode::kUnsupported, "input '", name, "' has type ", v ? v->type.to_string() : "unknown",
                        "; lowbit bench cannot make data for it"));
    Shape shape;
    if (auto s = shapes.find(name); s != shapes.end()) {
      shape = s->second;
    } else if (v->type.fully_known()) {
      shape = v->type.concrete();
    } else {
      std::string syms;
      if (!v->type.has_shape) syms = "unknown rank";
      for (auto& d : v->type.dims)
        if (!d.known()) syms += str_cat(syms.empty() ? "" : ", ", d.param.empty() ? "?" : "'" + d.param + "'");
      if (unresolved.empty()) {  // an example built from the model's own dims, symbols set to 1
        example = name + "=";
        for (size_t d = 0; d < v->type.dims.size(); ++d)
          example += str_cat(d ? "x" : "", v->type.dims[d].known() ? v->type.dims[d].value : 1);
        if (!v->type.has_shape) example += "1x3x224x224";
      }
      unresolved +=
          str_cat(unresolved.empty() ? "" : "; ", "'", name, "' ", v->type.to_string(), " (symbolic: ", syms, ")");
      continue;
    }
    Status st;
    inputs[name] = random_tensor(v->type.dtype, shape, rng, &st);
    if (!st.ok()) return fail(st.with_context(str_cat("random data for input '", name, "'")));
    input_source[name] = str_cat("random, seed ", options.seed);
  }
  if (!unresolved.empty())
    return fail(error(StatusCode::kInvalidArgument, "input shape unknown for ", unresolved,
                      "; pass --shape NAME=DIMS, e.g. --shape ", example));

  if (Status s = optimize_model(*graph, options.optimize); !s.ok())
    return fail(s.with_context("'" + options.model + "'"));
  SessionOptions session_options;
  session_options.threads = options.threads;
  session_options.max_tensor_bytes = max_bytes;
  session_options.backend = options.backend;
  auto session_or = Session::create(std::move(*graph), session_options);
  if (!session_or) return fail(session_or.status().with_context("'" + options.model + "'"));
  Session& session = **session_or;
  double load_ms = ms_since(load_start);
  if (Status s = session.check_inputs(inputs); !s.ok()) return fail(s);
  const Graph& model = session.graph();

  int64_t batch = 1;
  if (!model.inputs.empty()) {
    const Tensor& first = inputs[model.inputs.front()];
    if (first.rank() >= 1 && first.dim(0) > 0) batch = first.dim(0);
  }

  // Progress starts only now: every validation error above stays a single clean message.
  progress.line(str_cat("bench ", options.model, ": ", options.warmup, " warmup + ", options.iterations,
                        " timed run(s)",
                        options.duration_s > 0 ? str_cat(" (at least ", options.duration_s, " s)") : ""));
  // The first run also compiles (oneDNN primitives, packed weights): time it to report compile cost.
  double first_run_ms = -1;
  for (int i = 0; i < options.warmup; ++i) {
    progress.update("warmup", i + 1, options.warmup);
    auto first_start = Clock::now();
    auto out = session.run(inputs);
    if (i == 0) first_run_ms = ms_since(first_start);
    if (!out) {
      progress.end_update();
      return fail(out.status().with_context("running '" + options.model + "'"));
    }
  }
  progress.end_update();

  // Profile: per node, in graph order, accumulated over the timed runs only.
  std::vector<NodeTime> node_times(model.nodes.size());
  std::map<const Node*, size_t> node_index;
  for (size_t i = 0; i < model.nodes.size(); ++i) {
    node_times[i].name = model.nodes[i].name;
    node_times[i].op_type = model.nodes[i].op_type;
    node_times[i].precision = node_precision(model, model.nodes[i]);
    node_index[&model.nodes[i]] = i;
  }
  NodeObserver observer = nullptr;
  if (options.profile) {
    observer = [&](const Node& node, const char* backend, double ms) {
      auto it = node_index.find(&node);
      if (it == node_index.end()) return;
      node_times[it->second].backend = backend;
      node_times[it->second].total_ms += ms;
      node_times[it->second].calls += 1;
    };
  }

  std::vector<double> latencies;
  auto bench_start = Clock::now();
  int64_t target = options.iterations;
  while (true) {
    double elapsed_s = ms_since(bench_start) / 1000.0;
    if (int64_t(latencies.size()) >= options.iterations && elapsed_s >= options.duration_s) break;
    auto start = Clock::now();
    auto out = session.run(inputs, observer);
    double ms = ms_since(start);
    if (!out) {
      progress.end_update();
      return fail(out.status().with_context("running '" + options.model + "'"));
    }
    latencies.push_back(ms);
    if (int64_t(latencies.size()) > target) target = int64_t(latencies.size());  // --duration extends the run
    progress.update("iteration", int64_t(latencies.size()), target);
  }
  progress.end_update();
  double total_ms = ms_since(bench_start);
  LatencyStats st = compute_stats(latencies);
  double measured_s = 0;
  for (double v : latencies) measured_s += v / 1000.0;
  double throughput = measured_s > 0 ? double(latencies.size()) * double(batch) / measured_s : 0;

  std::vector<NodeTime> profile;
  double profile_total = 0;
  if (options.profile) {
    profile = node_times;
    std::stable_sort(profile.begin(), profile.end(),
                     [](const NodeTime& a, const NodeTime& b) { return a.total_ms > b.total_ms; });
    for (auto& n : profile) profile_total += n.total_ms;
  }

  if (options.json) {
    json j;
    j["model"] = options.model;
    j["load_ms"] = load_ms;
    if (first_run_ms >= 0) {
      j["first_run_ms"] = first_run_ms;
      j["compile_ms"] = std::max(0.0, first_run_ms - st.median);  // first run minus a steady-state run
    }
    j["threads"] = session.num_threads();
    j["batch"] = batch;
    j["warmup"] = options.warmup;
    j["iterations"] = latencies.size();
    j["total_ms"] = total_ms;
    j["throughput_per_s"] = throughput;
    j["latency_ms"] = {{"min", st.min}, {"mean", st.mean}, {"median", st.median}, {"p90", st.p90},
                       {"p95", st.p95}, {"p99", st.p99},   {"max", st.max},       {"stddev", st.stddev}};
    j["latencies_ms"] = latencies;  // every timed run, so side-by-side scripts can pool exact medians
    json ins = json::object();
    for (auto& name : model.inputs) {
      const Tensor& t = inputs[name];
      ins[name] = {{"dtype", dtype_name(t.dtype())}, {"shape", t.shape()}, {"source", input_source[name]}};
    }
    j["inputs"] = ins;
    j["backend"] = backend_name(session.backend());
    j["onednn_nodes"] = session.last_run_onednn_nodes();
    j["peak_activation_bytes"] = session.last_run_peak_activation_bytes();
    if (options.profile) {
      json rows = json::array();
      for (auto& n : profile)
        rows.push_back({{"node", n.name},
                        {"op_type", n.op_type},
                        {"backend", n.backend},
                        {"precision", n.precision},
                        {"calls", n.calls},
                        {"total_ms", n.total_ms},
                        {"mean_ms", n.calls ? n.total_ms / double(n.calls) : 0.0},
                        {"percent", profile_total > 0 ? 100.0 * n.total_ms / profile_total : 0.0}});
      j["profile"] = rows;
    }
    std::cout << j.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return kExitOk;
  }

  std::ostream& o = std::cout;
  o << "Model:        " << options.model << " (opset " << model.opset << ", " << model.nodes.size() << " nodes)\n";
  for (auto& name : model.inputs) {
    const Tensor& t = inputs[name];
    o << "Input:        " << name << " " << dtype_name(t.dtype()) << " " << shape_to_string(t.shape()) << " ("
      << input_source[name] << ")\n";
  }
  o << "Backend:      " << backend_name(session.backend()) << " (" << session.last_run_onednn_nodes() << " of "
    << model.nodes.size() << " nodes on oneDNN), " << session.num_threads() << " thread(s)\n";
  o << "Activations:  peak " << human_bytes(session.last_run_peak_activation_bytes()) << " (intermediate tensors alive at once)\n";
  o << "Load time:    " << fmt(load_ms) << " ms (import + validation + optimizer + session)\n";
  if (first_run_ms >= 0)
    o << "Compile time: " << fmt(std::max(0.0, first_run_ms - st.median))
      << " ms (first run " << fmt(first_run_ms) << " ms minus the median: primitives and packed weights)\n";
  o << "Iterations:   " << latencies.size() << " timed (+" << options.warmup << " warmup) in "
    << (total_ms >= 1000 ? fmt(total_ms / 1000.0) + " s" : fmt(total_ms) + " ms") << "\n";
  o << "Throughput:   " << fmt(throughput, "%.2f") << " inferences/s (batch " << batch << ")\n";
  o << "Latency (ms): min " << fmt(st.min) << "  mean " << fmt(st.mean) << "  median " << fmt(st.median) << "\n"
    << "              p90 " << fmt(st.p90) << "  p95 " << fmt(st.p95) << "  p99 " << fmt(st.p99) << "  max "
    << fmt(st.max) << "\n";
  o << "Jitter:       stddev " << fmt(st.stddev) << " ms ("
    << fmt(st.mean > 0 ? 100.0 * st.stddev / st.mean : 0.0, "%.1f") << "% of mean)\n";

  if (options.profile) {
    size_t width = 4, op_width = 7;
    for (auto& n : profile) width = std::max(width, std::min<size_t>(n.name.size(), 48));
    for (auto& n : profile) op_width = std::max(op_width, n.op_type.size());
    o << "\nPer-node time over " << latencies.size() << " timed runs, sorted by total time:\n";
    char line[512];
    std::snprintf(line, sizeof line, "  %-*s  %-*s  %-7s  %-10s  %6s  %11s  %10s  %6s\n", int(width), "node",
                  int(op_width), "op_type", "backend", "precision", "calls", "total_ms", "mean_ms", "%");
    o << line;
    for (auto& n : profile) {
      std::string name = n.name.size() > 48 ? n.name.substr(0, 45) + "..." : n.name;
      std::snprintf(line, sizeof line, "  %-*s  %-*s  %-7s  %-10s  %6lld  %11.3f  %10.3f  %5.1f%%\n", int(width),
                    name.c_str(), int(op_width), n.op_type.c_str(), n.backend.c_str(), n.precision.c_str(),
                    static_cast<long long>(n.calls), n.total_ms,
                    n.calls ? n.total_ms / double(n.calls) : 0.0,
                    profile_total > 0 ? 100.0 * n.total_ms / profile_total : 0.0);
      o << line;
    }
    // Per op type too: the first thing to look at when choosing what to optimize.
    std::map<std::string, std::pair<double, int64_t>> by_op;
    for (auto& n : profile) {
      by_op[n.op_type].first += n.total_ms;
      by_op[n.op_type].second += 1;
    }
    std::vector<std::pair<std::string, std::pair<double, int64_t>>> ops(by_op.begin(), by_op.end());
    std::sort(ops.begin(), ops.end(), [](auto& a, auto& b) { return a.second.first > b.second.first; });
    // Which layers really ran in INT8: time per precision, and the float nodes by name.
    std::map<std::string, std::pair<double, int64_t>> by_precision;
    std::string float_nodes;
    int float_count = 0;
    bool integer_graph = false;
    for (auto& n : profile) {
      by_precision[n.precision].first += n.total_ms;
      by_precision[n.precision].second += 1;
      integer_graph |= n.precision != "fp32";
      if (n.precision == "fp32" && ++float_count <= 8) float_nodes += (float_nodes.empty() ? "" : ", ") + n.name;
    }
    if (integer_graph) {
      o << "\nPer precision (what the node executed in):\n";
      for (auto& [p, v] : by_precision) {
        std::snprintf(line, sizeof line, "  %-10s  %4lld nodes  %11.3f ms  %5.1f%%\n", p.c_str(),
                      static_cast<long long>(v.second), v.first,
                      profile_total > 0 ? 100.0 * v.first / profile_total : 0.0);
        o << line;
      }
      if (float_count > 0)
        o << "  float nodes: " << float_nodes << (float_count > 8 ? str_cat(" ... (", float_count, " in all)") : "")
          << " (why: lowbit inspect --optimized, pass lower_qdq)\n";
    }
    o << "\nPer op type:\n";
    for (auto& [op, v] : ops) {
      std::snprintf(line, sizeof line, "  %-*s  %4lld nodes  %11.3f ms  %5.1f%%\n", int(op_width), op.c_str(),
                    static_cast<long long>(v.second), v.first,
                    profile_total > 0 ? 100.0 * v.first / profile_total : 0.0);
      o << line;
    }
  }
  return kExitOk;
}

}  // namespace lowbit::cli
