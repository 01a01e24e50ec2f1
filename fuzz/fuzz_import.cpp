// libFuzzer target: ONNX import + validation + shape inference, then the graph optimizer when import succeeds
// (src/onnx/importer.h, src/passes/optimizer.h). Any input must give a Graph or a clean error Status.
#include <cstddef>
#include <cstdint>
#include <string>

#include "onnx/importer.h"
#include "passes/optimizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  lowbit::ImportOptions options;
  options.max_tensor_bytes = 16 << 20;  // keep constant folding of absurd shapes within -rss_limit_mb
  // base_dir "" forbids external data: the fuzzer must not read arbitrary files.
  auto graph = lowbit::import_onnx_bytes(bytes, "", "<fuzz>", options);
  if (!graph) return 0;
  lowbit::OptimizeOptions opt;
  opt.max_folded_bytes = 16 << 20;
  (void)lowbit::optimize_graph(*graph, opt);
  return 0;
}
