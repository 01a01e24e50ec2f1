// Text and JSON forms of a CompareResult (`lowbit compare` stdout, --json; the HTML report embeds the JSON).
#include <cstdio>
#include <sstream>

#include "compare/model_compare.h"

namespace lowbit::compare {
namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// Long PyTorch names (/features/features.16/conv/conv.2/Conv_output_0) keep their informative tail.
std::string shorten(const std::string& s, size_t width) {
  if (s.size() <= width) return s;
  return "..." + s.substr(s.size() - (width - 3));
}

std::string quant_text(const QuantInfo& q) {
  if (!q.quantized) return "float";
  return q.dtype + " s=" + fmt("%.3g", q.scale) + (q.zero_point ? " zp=" + std::to_string(q.zero_point) : "");
}

std::string task_text(const OutputComparison& o) {
  if (o.task == "classifier" && o.top1.rows())
    return fmt("top-1 agreement %.1f %%", 100 * o.top1.agreement()) + " (" + std::to_string(o.top1.rows()) + " rows)";
  if (o.task == "map" && o.iou.samples())
    return fmt("IoU %.3f", o.iou.iou()) + fmt(" at threshold %g", o.iou.threshold()) +
           fmt(" (per sample: mean %.3f,", o.iou.mean_sample_iou()) + fmt(" lowest %.3f)", o.iou.min_sample_iou());
  return "";
}

nlohmann::json task_json(const OutputComparison& o) {
  if (o.task == "classifier" && o.top1.rows())
    return {{"kind", "classifier"}, {"top1_agreement", o.top1.agreement()}, {"count", o.top1.rows()}};
  if (o.task == "map" && o.iou.samples())
    return {{"kind", "map"}, {"threshold", o.iou.threshold()}, {"iou", o.iou.iou()},
            {"mean_sample_iou", o.iou.mean_sample_iou()}, {"min_sample_iou", o.iou.min_sample_iou()}, {"count", o.iou.samples()}};
  return nullptr;
}

}  // namespace

std::string format_compare_text(const CompareResult& r, bool all_layers) {
  std::ostringstream os;
  if (all_layers && !r.layers.empty()) {
    char line[512];
    std::snprintf(line, sizeof line, "%5s  %-44s %-14s %-20s %12s %12s %9s %10s %8s\n", "#", "tensor", "op", "stored as",
                  "accumulated", "layer alone", "cosine", "max abs", "clipped");
    os << line;
    for (auto& L : r.layers) {
      const ErrorMetrics a = L.accumulated.result(), l = L.local.result();
      std::snprintf(line, sizeof line, "%5d  %-44s %-14s %-20s %12s %12s %9s %10s %8s\n", L.index, shorten(L.tensor, 44).c_str(),
                    shorten(L.op_type, 14).c_str(), quant_text(L.quant).c_str(), format_sqnr(a).c_str(),
                    L.has_local ? format_sqnr(l).c_str() : "-", a.cosine ? fmt("%.5f", *a.cosine).c_str() : "n/a",
                    fmt("%.4g", a.max_abs).c_str(),
                    L.quant.quantized && L.elements ? fmt("%.2f%%", 100.0 * double(L.clipped) / double(L.elements)).c_str() : "-");
      os << line;
    }
    os << "\n";
  }
  os << "outputs (" << r.samples << " sample" << (r.samples == 1 ? "" : "s") << "):\n";
  for (auto& o : r.outputs) {
    const ErrorMetrics m = o.accumulated.result();
    os << "  " << o.fp32_name << (o.quant_name != o.fp32_name ? " <-> " + o.quant_name : "") << ": SQNR " << format_sqnr(m)
       << ", cosine " << (m.cosine ? fmt("%.5f", *m.cosine) : "n/a") << ", max abs " << fmt("%.4g", m.max_abs);
    const std::string task = task_text(o);
    if (!task.empty()) os << ", " << task;
    os << "\n";
  }
  if (!r.worst.empty()) {
    bool local = false;
    for (auto& L : r.layers) local = local || L.has_local;
    os << (local ? "worst layers (lowest SQNR added by the layer alone):\n" : "worst layers (lowest accumulated SQNR):\n");
    int rank = 0;
    for (auto& name : r.worst)
      for (auto& L : r.layers)
        if (L.tensor == name) {
          const ErrorMetrics a = L.accumulated.result(), l = L.local.result();
          os << "  " << ++rank << ". " << L.tensor << " (" << L.op_type << " '" << L.node << "', " << quant_text(L.quant)
             << "): alone " << (L.has_local ? format_sqnr(l) : "-") << ", accumulated " << format_sqnr(a);
          if (L.quant.quantized && L.clipped)
            os << fmt(", %.2f%% of FP32 values outside the int8 range", 100.0 * double(L.clipped) / double(L.elements));
          os << "\n";
          break;
        }
  }
  for (auto& n : r.notes) os << "note: " << n << "\n";
  return os.str();
}

nlohmann::json compare_to_json(const CompareResult& r) {
  nlohmann::json j;
  j["samples"] = r.samples;
  j["layers"] = nlohmann::json::array();
  for (auto& L : r.layers) {
    nlohmann::json l = {{"index", L.index}, {"tensor", L.tensor}, {"compared_value", L.compared_value}, {"node", L.node},
                        {"op_type", L.op_type}, {"shape", L.shape}, {"is_output", L.is_output},
                        {"quantized", L.quant.quantized}};
    if (L.quant.quantized) {
      l["dtype"] = L.quant.dtype;
      l["scale"] = L.quant.scale;
      l["zero_point"] = L.quant.zero_point;
      l["range"] = {L.quant.lo, L.quant.hi};
      l["clipped_fraction"] = L.elements ? double(L.clipped) / double(L.elements) : 0.0;
    } else {
      l["dtype"] = l["scale"] = l["zero_point"] = l["range"] = nullptr;
    }
    if (L.elements) {
      l["fp32_min"] = L.fp32_min;
      l["fp32_max"] = L.fp32_max;
    }
    l["accumulated"] = to_json(L.accumulated.result());
    l["local"] = L.has_local ? to_json(L.local.result()) : nlohmann::json(nullptr);
    if (!L.histogram.empty()) l["histogram"] = L.histogram.to_json();
    j["layers"].push_back(std::move(l));
  }
  j["outputs"] = nlohmann::json::array();
  for (auto& o : r.outputs)
    j["outputs"].push_back({{"tensor", o.fp32_name}, {"quant_tensor", o.quant_name}, {"shape", o.shape},
                            {"accumulated", to_json(o.accumulated.result())}, {"task", task_json(o)}});
  j["worst"] = r.worst;
  j["notes"] = r.notes;
  return j;
}

}  // namespace lowbit::compare
