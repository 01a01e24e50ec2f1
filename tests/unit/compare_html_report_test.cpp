// The HTML report of `lowbit compare`: the data is embedded intact and cannot break out of its <script>
// element, malformed reports still render, and the page names no network URL. Whether the page's script
// actually runs is checked in headless Chromium by tests/cli/check_html_report.py on the samples this file
// writes when asked:
//   LOWBIT_HTML_SAMPLE=/tmp/r.html       a realistic 150-layer report
//   LOWBIT_HTML_BIG_SAMPLE=/tmp/b.html   the same shape with 2000 layers (the table switches to windowed rows)
//   LOWBIT_HTML_EDGE_SAMPLE=/tmp/e.html  hostile names, nulls, NaN, missing fields (must still draw, no errors)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "compare/html_report.h"

namespace lowbit::compare {
namespace {

using json = nlohmann::json;

const std::string kDataOpen = "<script type=\"application/json\" id=\"report-data\">";

// The text of the report-data element, and the page with that text removed.
std::string data_text(const std::string& page) {
  size_t b = page.find(kDataOpen);
  if (b == std::string::npos) return "";
  b += kDataOpen.size();
  size_t e = page.find("</script>", b);
  return e == std::string::npos ? "" : page.substr(b, e - b);
}
std::string without_data(const std::string& page) {
  const std::string data = data_text(page);
  const size_t b = page.find(kDataOpen);
  return b == std::string::npos ? page : page.substr(0, b) + page.substr(b + kDataOpen.size() + data.size());
}
size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

json metric(double sqnr, bool exact = false) {
  const double err = std::pow(10.0, -sqnr / 10);  // relative error power
  return {{"sqnr_db", exact ? 200.0 : sqnr},
          {"cosine", exact ? 1.0 : 1 - err / 2},
          {"mse", exact ? 0.0 : err * 0.5},
          {"max_abs", exact ? 0.0 : std::sqrt(err) * 4},
          {"exact", exact},
          {"count", 802816}};
}

// FP32 histogram over [lo, hi] (widened to the quantized range, as tensor_metrics' Histogram does): a Gaussian,
// or for ReLU outputs a half-Gaussian with a spike at zero.
json histogram(double sigma, bool relu, double range_lo, double range_hi, double tail) {
  const double lo = std::min(relu ? 0.0 : -tail * sigma, range_lo), hi = std::max(tail * sigma, range_hi);
  std::vector<int64_t> counts(64);
  for (int k = 0; k < 64; ++k) {
    const double x = lo + (k + 0.5) * (hi - lo) / 64;
    double c = 1e6 * std::exp(-x * x / (2 * sigma * sigma)) * (hi - lo) / 64 / sigma;
    if (relu && k == 0) c += 4e5;
    counts[size_t(k)] = std::abs(x) > tail * sigma ? 0 : int64_t(c);
  }
  return {{"min", lo}, {"max", hi}, {"counts", counts}};
}

// What `lowbit compare` measures exactly, estimated here from the histogram (bins whose centre is outside).
double clipped_fraction(const json& h, double lo, double hi) {
  const double a = h["min"], b = h["max"];
  const size_t n = h["counts"].size();
  double out = 0, total = 0;
  for (size_t k = 0; k < n; ++k) {
    const double c = h["counts"][k], x = a + (double(k) + 0.5) * (b - a) / double(n);
    total += c;
    if (x < lo || x > hi) out += c;
  }
  return total > 0 ? out / total : 0;
}

// A ResNet-like network: SQNR decreasing smoothly along the depth, a few layers that lose much more
// (narrow ranges clipping long tails), exact data-movement layers, one layer that could not be isolated.
json realistic_report(int n = 150) {
  json layers = json::array();
  // One residual block per 8 layers, named like PyTorch's ONNX exporter names them.
  const char* ops[] = {"Conv", "Relu", "Conv", "Relu", "Conv", "Add", "Relu", "MaxPool"};
  const char* names[] = {"conv1", "relu", "conv2", "relu_1", "conv3", "Add", "relu_2", "maxpool"};
  std::vector<int> dips;
  for (int d : {23, 61, 97, 128, 141}) dips.push_back(d * n / 150);
  std::vector<std::pair<double, std::string>> by_local;
  double acc = 46;
  for (int i = 0; i < n; ++i) {
    const std::string op = i == n - 2 ? "Flatten" : i == n - 1 ? "Gemm" : ops[i % 8];
    const int stage = 1 + i * 4 / n, block = i / 8;
    const double t = i * 150.0 / n;  // the same shape of curve for any depth
    const std::string base = "/layer" + std::to_string(stage) + "/layer" + std::to_string(stage) + "." +
                             std::to_string(block) + "/" + (i >= n - 2 ? op : names[i % 8]);
    const std::string tensor = i == n - 1 ? "logits" : base + "/" + op + "_output_0";
    const bool dip = std::find(dips.begin(), dips.end(), i) != dips.end();
    const bool quantized = op != "Flatten";
    const bool exact_local = op == "MaxPool" || op == "Flatten";
    double local = 44 - 6 * std::sin(t * 0.37) - 4.0 * i / n + (dip ? -24 : 0);
    acc = std::min(acc, 46 - 22.0 * i / n + 0.8 * std::sin(t * 0.5)) - (dip ? 2.5 : 0);
    const double sigma = 0.6 + 0.4 * std::sin(t * 0.11) + (op == "Add" ? 0.5 : 0);
    const bool relu = op == "Relu" || op == "MaxPool";
    const double amax = sigma * (dip ? 2.6 : 4.2);
    const double lo = relu ? 0 : -amax, hi = amax;
    json l = {{"index", i},
              {"tensor", tensor},
              {"node", base},
              {"op_type", op},
              {"shape", i >= n - 2 ? json{1, i == n - 1 ? 1000 : 2048}
                                   : json{1, 64 << (stage - 1), 56 >> (stage - 1), 56 >> (stage - 1)}},
              {"is_output", i == n - 1},
              {"quantized", quantized}};
    if (quantized) {
      const double scale = relu ? hi / 255 : amax / 127;
      l["dtype"] = relu ? "uint8" : "int8";
      l["scale"] = scale;
      l["zero_point"] = 0;
      l["range"] = {relu ? 0.0 : -128 * scale, (relu ? 255 : 127) * scale};
      l["clipped_fraction"] = clipped_fraction(histogram(sigma, relu, lo, hi, 4.5), l["range"][0], l["range"][1]);
    } else {
      l["dtype"] = l["scale"] = l["zero_point"] = l["range"] = nullptr;
    }
    l["fp32_min"] = relu ? 0 : -4.5 * sigma;
    l["fp32_max"] = 4.5 * sigma;
    l["accumulated"] = metric(acc);
    l["local"] = i == 77 ? json(nullptr) : metric(local, exact_local);
    if (i % 13 != 5) l["histogram"] = histogram(sigma, relu, lo, hi, 4.5);
    if (i != 77 && !exact_local) by_local.push_back({local, tensor});
    layers.push_back(l);
  }
  std::sort(by_local.begin(), by_local.end());
  json worst = json::array();
  for (size_t k = 0; k < by_local.size() && k < 10; ++k) worst.push_back(by_local[k].second);
  return {{"tool", "lowbit compare"},
          {"fp32_model", "resnet50.onnx"},
          {"quant_model", "resnet50.int8.onnx"},
          {"samples", 4},
          {"inputs", {{{"name", "x"}, {"file", "calib/in.npy"}, {"shape", {4, 3, 224, 224}}}}},
          {"layers", layers},
          {"outputs",
           {{{"tensor", "logits"},
             {"accumulated", metric(acc)},
             {"task", {{"kind", "classifier"}, {"top1_agreement", 0.98}, {"count", 50}}}},
            {{"tensor", "prob_map"},
             {"quant_tensor", "prob_map_q"},
             {"accumulated", metric(27.4)},
             {"task",
              {{"kind", "map"},
               {"threshold", 0.3},
               {"iou", 0.95},
               {"mean_sample_iou", 0.951},
               {"min_sample_iou", 0.912},
               {"count", 4}}}},
            {{"tensor", "aux"}, {"accumulated", metric(0, true)}, {"task", nullptr}}}},
          {"worst", worst},
          {"notes", {"3 tensors of the FP32 model have no counterpart in the quantized model"}}};
}

// Everything a careless producer (or a hostile model) could put in the report.
json edge_report() {
  const std::string nasty = "</script><script>alert(1)</script>";
  json layers = json::array();
  layers.push_back({{"index", 0},
                    {"tensor", nasty},
                    {"node", "<!-- & \"quotes\" 'single' \xE2\x80\xA8 \xE2\x80\xA9"},
                    {"op_type", "Conv"},
                    {"shape", {1, "N", nullptr, 8}},
                    {"quantized", true},
                    {"dtype", "int8"},
                    {"scale", 0.5},
                    {"zero_point", 0},
                    {"range", {-64, 63.5}},
                    {"accumulated", metric(30.5)},
                    {"local", metric(35)},
                    {"histogram", {{"min", -1}, {"max", 1}, {"counts", {1, 2, "x", -5, nullptr, 3}}}}});
  layers.push_back(
      {{"tensor", "nulls"},
       {"accumulated",
        {{"sqnr_db", nullptr}, {"cosine", nullptr}, {"mse", nullptr}, {"max_abs", nullptr}, {"exact", nullptr}}},
       {"local", nullptr},
       {"histogram", {{"min", 2}, {"max", 2}, {"counts", {7}}}},
       {"range", {1}}});
  layers.push_back({{"index", "two"},
                    {"tensor", 42},
                    {"accumulated", metric(200, true)},
                    {"local", "bogus"},
                    {"histogram", {{"min", 5}, {"max", -5}, {"counts", {1}}}},
                    {"scale", NAN},
                    {"shape", "1x2"}});
  layers.push_back("not an object");
  layers.push_back({{"tensor", "invalid utf8 \xFF\xFE"},
                    {"accumulated", metric(-3.5)},
                    {"local", metric(1e-9)},
                    {"range", {3, -3}},
                    {"histogram", {{"min", -10}, {"max", 10}, {"counts", json::array()}}}});
  layers.push_back({{"tensor", "wide"},
                    {"quantized", true},
                    {"range", {-0.1, 0.1}},
                    {"accumulated", metric(12)},
                    {"local", metric(14)},
                    {"histogram", {{"min", -1e30}, {"max", 1e30}, {"counts", {0, 1e18, 3}}}}});
  return {{"fp32_model", nasty},
          {"quant_model", "https://example.com/model.onnx"},
          {"samples", "many"},
          {"inputs", {nullptr, {{"name", nasty}, {"shape", {1, 2}}}}},
          {"layers", layers},
          {"outputs",
           {nullptr,
            {{"tensor", nasty}, {"accumulated", nullptr}, {"task", {{"kind", "classifier"}}}},
            {{"accumulated", metric(10)}, {"task", {{"kind", "map"}, {"iou", "x"}}}},
            {{"task", {{"kind", "detector"}}}}}},
          {"worst", {nasty, "nulls", 7, nullptr, "missing tensor", "nulls"}},
          {"notes", "not a list"}};
}

void write_if_requested(const char* env, const json& report) {
  const char* path = std::getenv(env);
  if (!path || !*path) return;
  std::ofstream f(path, std::ios::binary);
  f << render_html_report(report);
  ASSERT_TRUE(f.good()) << "cannot write " << path;
}

TEST(CompareHtmlReport, EmbedsDataAndMarkers) {
  const json report = realistic_report();
  const std::string page = render_html_report(report);
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.find("<pre id=\"errors\""), std::string::npos);
  EXPECT_NE(page.find("window.onerror"), std::string::npos);
  EXPECT_NE(page.find("unhandledrejection"), std::string::npos);
  EXPECT_NE(page.find("dataset.chart = 'drawn'"), std::string::npos);
  EXPECT_NE(page.find("dataset.points"), std::string::npos);
  EXPECT_NE(page.find("dataset.rows"), std::string::npos);
  EXPECT_NE(page.find("Content-Security-Policy"), std::string::npos);
  // The error hook runs before the data and the drawing script.
  EXPECT_LT(page.find("window.onerror"), page.find(kDataOpen));
  // The embedded data parses back to the report.
  const std::string data = data_text(page);
  ASSERT_FALSE(data.empty());
  EXPECT_EQ(json::parse(data), report);
  EXPECT_NE(data.find("/layer1/layer1.0/conv1/Conv_output_0"), std::string::npos);
  EXPECT_EQ(count(page, "</html>"), 1u);
}

TEST(CompareHtmlReport, TensorNamesCannotBreakOut) {
  const json report = edge_report();
  const std::string page = render_html_report(report);
  EXPECT_EQ(page.find("</script><script>alert(1)"), std::string::npos);
  EXPECT_EQ(page.find("<script>alert"), std::string::npos);
  EXPECT_EQ(page.find("<!--"), std::string::npos);
  // Exactly the page's own three script elements are closed.
  EXPECT_EQ(count(page, "</script>"), 3u);
  const std::string data = data_text(page);
  for (char c : {'<', '>', '&'}) EXPECT_EQ(data.find(c), std::string::npos) << c;
  EXPECT_EQ(data.find("\xE2\x80\xA8"), std::string::npos);
  EXPECT_EQ(data.find("\xE2\x80\xA9"), std::string::npos);
  EXPECT_NE(data.find("\\u003c/script\\u003e"), std::string::npos);
  // Still the same data once parsed, except invalid UTF-8 (U+FFFD) and NaN (null, JSON has no NaN).
  const json back = json::parse(data);
  EXPECT_EQ(back["layers"][0]["tensor"], "</script><script>alert(1)</script>");
  EXPECT_EQ(back["layers"][0]["node"], report["layers"][0]["node"]);
  EXPECT_EQ(back["layers"][4]["tensor"], "invalid utf8 \xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_TRUE(back["layers"][2]["scale"].is_null());
}

TEST(CompareHtmlReport, MalformedAndEmptyReportsRender) {
  json null_metrics = realistic_report(3);
  for (auto& l : null_metrics["layers"]) {
    l["accumulated"] = {{"sqnr_db", nullptr}, {"cosine", nullptr}, {"mse", nullptr}, {"max_abs", nullptr}};
    l["local"] = nullptr;
    l.erase("histogram");
  }
  json no_layers = realistic_report(1);
  no_layers["layers"] = json::array();
  no_layers["worst"] = json::array();
  const std::vector<json> reports = {
      null_metrics,        no_layers,    json::object(), json(nullptr),
      json::array({1, 2}), json("text"), json(3.5),      json::parse(R"({"layers": {"a": 1}, "worst": "x"})")};
  for (const json& r : reports) {
    std::string page;
    ASSERT_NO_THROW(page = render_html_report(r)) << r.dump();
    EXPECT_NE(page.find("id=\"report-data\""), std::string::npos);
    EXPECT_EQ(json::parse(data_text(page)), r);
  }
  EXPECT_NO_THROW(render_html_report(edge_report()));
  // NaN and infinity have no JSON form: they arrive as null (the page shows "n/a").
  json nan_metric = {{"sqnr_db", NAN}, {"cosine", INFINITY}};
  EXPECT_EQ(data_text(render_html_report(nan_metric)), R"({"cosine":null,"sqnr_db":null})");
}

TEST(CompareHtmlReport, NamesNoNetworkUrlOutsideData) {
  // The edge report carries an https URL as a model name: allowed inside the data, nowhere else.
  const std::string page = render_html_report(edge_report());
  ASSERT_NE(data_text(page).find("https://example.com"), std::string::npos);
  const std::string rest = without_data(page);
  EXPECT_EQ(rest.find("http://"), std::string::npos);
  EXPECT_EQ(rest.find("https://"), std::string::npos);
  EXPECT_EQ(rest.find(" src="), std::string::npos);  // no external scripts or images
  EXPECT_EQ(rest.find("<link"), std::string::npos);  // no external stylesheets or fonts
  EXPECT_EQ(rest.find("@import"), std::string::npos);
  EXPECT_EQ(rest.find("url("), std::string::npos);
}

TEST(CompareHtmlReport, WritesSamplesForTheBrowserCheck) {
  const json report = realistic_report();
  EXPECT_EQ(report["layers"].size(), 150u);
  EXPECT_EQ(report["worst"].size(), 10u);
  write_if_requested("LOWBIT_HTML_SAMPLE", report);
  write_if_requested("LOWBIT_HTML_EDGE_SAMPLE", edge_report());
  if (std::getenv("LOWBIT_HTML_BIG_SAMPLE")) write_if_requested("LOWBIT_HTML_BIG_SAMPLE", realistic_report(2000));
}

}  // namespace
}  // namespace lowbit::compare
