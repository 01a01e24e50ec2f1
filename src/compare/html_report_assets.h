// The static parts of the HTML report (html_report.cpp assembles the page): stylesheet, the error hook that
// must run before anything else, the page skeleton and the script that draws the report. Kept apart from the
// C++ so that each file stays readable.
#pragma once

namespace lowbit::compare::html_assets {

extern const char kStyle[];      // CSS, inside <style>
extern const char kErrorHook[];  // JS, first <script>: window.onerror etc. append to <pre id="errors">
extern const char kSkeleton[];   // HTML of <main>: the panels the script fills
extern const char kScript[];     // JS, last <script>: parses #report-data and draws everything

}  // namespace lowbit::compare::html_assets
