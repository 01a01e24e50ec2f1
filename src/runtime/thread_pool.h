// Parallel loops for lowbit's own kernels, on the OpenMP threads that oneDNN runs on. One set of threads for
// everything: with a separate pool, the two sets contend for the cores between every oneDNN primitive and a
// lowbit kernel (on this 2-core machine the detector's int8 engine lost a quarter of its time to that, and
// OpenMP could not spin-wait between primitives without starving the other pool). With one thread (or a tiny
// range) the body runs inline, so single-threaded runs have no overhead.
#pragma once
#include <cstdint>
#include <functional>

namespace lowbit {

class ThreadPool {
 public:
  // threads <= 0: all hardware threads.
  explicit ThreadPool(int threads = 0);
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return threads_; }
  // Calls body(begin, end) on disjoint chunks covering [0, n). Blocks until all are done. `grain` is the
  // smallest chunk worth a thread. An exception thrown by the body is rethrown here (the first one).
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& body, int64_t grain = 1);

 private:
  int threads_ = 1;
};

}  // namespace lowbit
