// Plan: the compiled form of a graph for one input-shape signature (DESIGN.md's "plan once, execute many").
//
//   Plan plan(graph, {.max_tensor_bytes = ..., .pool = pool, .use_onednn = true});
//   LB_ASSIGN_OR_RETURN(auto outputs, plan.run(inputs));   // first run builds kernels, later runs reuse them
//
// Each node gets a kernel the first time it runs: a oneDNN kernel (primitive built for the concrete shapes and
// input layouts, weights packed once) where one exists, else the op's reference kernel. Activations produced by
// oneDNN kernels stay in oneDNN's blocked layouts (nChw16c ...) while the consumer is another oneDNN kernel;
// they are reordered to plain row-major tensors only where a reference kernel or a graph output needs them.
// A node whose input layouts change between runs (data-dependent shapes) is simply rebuilt. oneDNN output
// buffers come from a pool and go back to it after the value's last consumer, so activation memory follows
// liveness (peak_activation_bytes reports it) rather than growing with the node count.
// A Plan is not thread-safe: one run at a time (the Session serialises runs).
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "runtime/thread_pool.h"

namespace lowbit {
struct ValueObserver;  // runtime/session.h
}

namespace lowbit {

// Which kernels a session runs.
enum class Backend {
  kRef,     // reference kernels only (the oracle)
  kOneDnn,  // oneDNN kernels wherever one exists, reference kernels for the other nodes
  kAuto,    // the best available: today the same as kOneDnn on the CPU
};
const char* backend_name(Backend b);
bool parse_backend(const std::string& name, Backend* out);  // "ref", "onednn", "auto"

struct PlanOptions {
  int64_t max_tensor_bytes = kDefaultMaxTensorBytes;
  ThreadPool* pool = nullptr;  // for the reference kernels
  int threads = 0;             // for oneDNN (<= 0: all cores)
  bool use_onednn = true;
};

class Plan {
 public:
  Plan(const Graph& graph, PlanOptions options);
  ~Plan();
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;

  // Executes the graph on inputs already checked by the session (names, dtypes, shapes).
  Expected<std::map<std::string, Tensor>> run(const std::map<std::string, Tensor>& inputs,
                                              const std::function<void(const Node&, const char*, double)>& observer = nullptr,
                                              const ValueObserver* value_observer = nullptr);
  // How many nodes ran on oneDNN kernels in the last run (the rest used reference kernels).
  int onednn_node_count() const;
  // Bytes held by the plan's pooled oneDNN activation buffers (reused by liveness; kept between runs).
  int64_t onednn_buffer_bytes() const;
  // Peak activation memory of the last run: the pooled oneDNN buffers plus the most plain tensors (reference
  // kernel outputs, reorder copies) alive at once. Excludes weights, inputs, graph outputs handed back and
  // oneDNN's internal scratch.
  int64_t peak_activation_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lowbit
