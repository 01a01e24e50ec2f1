// The self-contained HTML report of `lowbit compare --html FILE`: one file, no network access, that shows where
// a quantized model loses accuracy layer by layer (SQNR chart, sortable layer table, FP32 histograms against the
// quantized range).
//
//   nlohmann::json report = ...;  // the --json report (see the `lowbit compare` documentation)
//   std::ofstream(path) << compare::render_html_report(report);
//
// The page carries the report JSON verbatim in <script type="application/json" id="report-data"> (escaped so
// that no tensor name can close the element) and draws everything from it with inline JavaScript and SVG; a
// Content-Security-Policy forbids any network load. Missing or malformed fields render as "n/a" rather than
// failing: any JSON value, even a non-object, gives a valid page.
//
// Markers for automated checks (tests/cli/check_html_report.py): <pre id="errors"> collects script errors;
// once drawn, <body> carries data-chart="drawn", data-points (points plotted) and data-rows (table rows).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace lowbit::compare {

// Renders the whole HTML page (UTF-8). Never throws on any JSON input; invalid UTF-8 in strings becomes U+FFFD.
std::string render_html_report(const nlohmann::json& report);

}  // namespace lowbit::compare
