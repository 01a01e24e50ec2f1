// Session: runs an imported Graph on the CPU: oneDNN kernels where one exists, reference kernels elsewhere.
//
//   LB_ASSIGN_OR_RETURN(Graph g, import_onnx_file("model.onnx"));
//   LB_ASSIGN_OR_RETURN(auto session, Session::create(std::move(g), {.threads = 2}));
//   LB_ASSIGN_OR_RETURN(auto outputs, session->run({{"x", input_tensor}}));
//
// The same session runs any input shape the model's symbolic dims allow (batch, image size):
// shapes are re-inferred per run from the actual inputs, so nothing is tied to the first call.
#pragma once
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "runtime/plan.h"
#include "runtime/thread_pool.h"

namespace lowbit {

struct SessionOptions {
  int threads = 0;                                  // <= 0: all cores
  int64_t max_tensor_bytes = kDefaultMaxTensorBytes; // cap on any single intermediate tensor
  Backend backend = Backend::kAuto;                 // kRef: reference kernels only (the oracle)
};

// Per-node timing hook (for bench --profile): called after each node with the backend that ran it
// ("onednn" or "ref") and its wall time.
using NodeObserver = std::function<void(const Node&, const char* backend, double milliseconds)>;
// Value hook (for calibration and layer-by-layer comparison): called once per float32 node output, right after
// its node ran, with the tensor in plain row-major layout (a reorder copy when oneDNN keeps it blocked). Only
// values for which `wants(name)` is true are materialised, so unobserved values cost nothing.
struct ValueObserver {
  std::function<bool(const std::string& value)> wants;
  std::function<void(const std::string& value, const Tensor&)> observe;
  explicit operator bool() const { return bool(observe); }
};

class Session {
 public:
  static Expected<std::unique_ptr<Session>> create(Graph graph, SessionOptions options = {});

  const Graph& graph() const { return graph_; }
  // Checks names, dtypes and shapes of the inputs against the model (all problems at once),
  // then executes. Returns every graph output by name.
  Expected<std::map<std::string, Tensor>> run(const std::map<std::string, Tensor>& inputs,
                                              const NodeObserver& observer = nullptr,
                                              const ValueObserver& value_observer = {});
  // Input validation alone (used by run, and by the CLI before a long benchmark).
  Status check_inputs(const std::map<std::string, Tensor>& inputs) const;
  int num_threads() const { return pool_->num_threads(); }
  Backend backend() const { return options_.backend; }
  // Nodes that ran on oneDNN kernels in the last run (0 with the reference backend).
  int last_run_onednn_nodes() const { return last_onednn_nodes_; }
  // Peak bytes of intermediate activations during the last run: with oneDNN, the plan's pooled buffers plus
  // the most plain tensors alive at once; with the reference backend, the most node outputs alive at once.
  // Weights and graph inputs are not counted. 0 before the first run.
  int64_t last_run_peak_activation_bytes() const { return last_peak_activation_bytes_; }

 private:
  Session(Graph g, SessionOptions o);
  Graph graph_;
  SessionOptions options_;
  std::unique_ptr<ThreadPool> pool_;
  std::vector<std::vector<std::string>> release_after_;  // values whose last use is node i
  // Compiled plans (oneDNN backends) per input-shape signature: a new shape plans again, a seen one reuses
  // its primitives and packed weights.
  std::map<std::vector<Shape>, std::unique_ptr<Plan>> plans_;
  int last_onednn_nodes_ = 0;
  int64_t last_peak_activation_bytes_ = 0;
  Expected<std::map<std::string, Tensor>> run_ref(const std::map<std::string, Tensor>& inputs,
                                                  const NodeObserver& observer, const ValueObserver& value_observer);
};

}  // namespace lowbit
