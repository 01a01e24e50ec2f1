// lowbit_upgrade_export: imports an ONNX model, upgrades it to OPSET with upgrade_opset and writes it with
// export_onnx (ONNX's checker runs first). Used by run_upgrade_export_test.sh; a test tool, not the CLI.
//
//   lowbit_upgrade_export IN.onnx OUT.onnx OPSET [EXTERNAL_DATA_THRESHOLD_BYTES]
#include <cstdlib>
#include <iostream>

#include "onnx/exporter.h"
#include "onnx/importer.h"
#include "passes/upgrade_opset.h"

int main(int argc, char** argv) {
  using namespace lowbit;
  if (argc != 4 && argc != 5) {
    std::cerr << "usage: lowbit_upgrade_export IN.onnx OUT.onnx OPSET [EXTERNAL_DATA_THRESHOLD_BYTES]\n";
    return 2;
  }
  Expected<Graph> g = import_onnx_file(argv[1]);
  if (!g) {
    std::cerr << g.status().message() << "\n";
    return 1;
  }
  const int from = g->opset;
  const size_t nodes_before = g->nodes.size();
  Status s = upgrade_opset(*g, std::atoi(argv[3]));
  ExportOptions options;
  if (argc == 5) options.external_data_threshold_bytes = std::atoll(argv[4]);
  if (s.ok()) s = export_onnx(*g, argv[2], options);
  if (!s.ok()) {
    std::cerr << s.message() << "\n";
    return 1;
  }
  std::cout << argv[1] << ": opset " << from << " -> " << g->opset << ", " << nodes_before << " -> " << g->nodes.size()
            << " nodes, written to " << argv[2] << "\n";
  return 0;
}
