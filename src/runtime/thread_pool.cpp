#include "runtime/thread_pool.h"

#include <algorithm>
#include <exception>
#include <mutex>
#include <thread>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace lowbit {

ThreadPool::ThreadPool(int threads) {
  threads_ = threads > 0 ? threads : int(std::max(1u, std::thread::hardware_concurrency()));
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& body, int64_t grain) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t tasks = std::min<int64_t>(threads_, (n + grain - 1) / grain);
#ifdef _OPENMP
  // Inside another parallel region (nested) OpenMP gives a team of one: the body then runs inline.
  if (tasks > 1 && !omp_in_parallel()) {
    std::exception_ptr error;
    std::mutex error_mu;
#pragma omp parallel num_threads(int(tasks))
    {
      // Chunks from the team OpenMP actually gave (it may be smaller than asked).
      const int64_t team = omp_get_num_threads(), t = omp_get_thread_num();
      const int64_t chunk = (n + team - 1) / team;
      const int64_t begin = std::min(n, t * chunk), end = std::min(n, begin + chunk);
      try {
        if (begin < end) body(begin, end);
      } catch (...) {  // an exception must not leave the parallel region
        std::lock_guard<std::mutex> lock(error_mu);
        if (!error) error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
    return;
  }
#endif
  (void)tasks;
  body(0, n);
}

}  // namespace lowbit
