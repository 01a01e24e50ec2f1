// Calibration: runs the float model over the calibration batches with an observer on every tensor the plan
// quantizes, and keeps only streaming statistics (min/max and a histogram per tensor, see tensor_observer.h),
// never the activations themselves, so memory does not grow with the number of samples.
//
//   LB_ASSIGN_OR_RETURN(auto data, CalibrationData::open(graph, data_options));
//   LB_ASSIGN_OR_RETURN(auto session, Session::create(graph, {.threads = 2}));
//   LB_ASSIGN_OR_RETURN(auto stats, collect_statistics(*session, *data, plan.activations, {.progress = true}));
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "quant/calibration_data.h"
#include "quant/tensor_observer.h"
#include "runtime/session.h"

namespace lowbit::quant {

struct CollectOptions {
  bool progress = false;  // a progress bar on stderr (one line per 10% when stderr is not a terminal)
  int64_t batches = -1;   // only the first N batches (-1: all); the rest is held back (mixed-precision scoring)
  // Another observer fed in the same run (graph inputs included), e.g. bias correction's input means.
  ValueObserver also;
};

struct CalibrationStatistics {
  std::map<std::string, TensorObserver> observers;  // one per observed tensor
  int64_t batches = 0, samples = 0;
  double seconds = 0;
};

// Fails naming the batch ("pages/p3.png: ...") when a batch cannot be read or the model fails on it, and
// naming the tensor when it saw NaN/Inf (a model that overflows in float cannot be calibrated).
Expected<CalibrationStatistics> collect_statistics(Session& session, CalibrationData& data,
                                                   const std::vector<std::string>& tensors,
                                                   const CollectOptions& options = {});

}  // namespace lowbit::quant
