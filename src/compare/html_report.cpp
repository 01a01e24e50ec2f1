// Assembles the HTML report page: static assets (html_report_assets.cpp) around the escaped report JSON.
#include "compare/html_report.h"

#include <exception>
#include <string_view>

#include "compare/html_report_assets.h"

namespace lowbit::compare {
namespace {

// JSON text that is safe as the content of a <script type="application/json"> element. The HTML tokenizer
// ends that element at the first "</script" and treats "<!--" specially, so '<' and '>' must never appear raw;
// '&' is escaped too so the text stays inert if someone moves it into an attribute. U+2028/U+2029 are escaped
// because older JavaScript engines reject them in string literals (someone may paste the data into code).
// All of these can only occur inside JSON strings, where a \uXXXX escape means the same character.
std::string json_for_script(const nlohmann::json& report) {
  std::string text;
  try {
    // error_handler_t::replace: invalid UTF-8 in names becomes U+FFFD instead of throwing.
    text = report.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } catch (const std::exception&) {
    text = "null";  // the page then says the data is missing
  }
  std::string out;
  out.reserve(text.size() + text.size() / 16);
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '<') {
      out += "\\u003c";
    } else if (c == '>') {
      out += "\\u003e";
    } else if (c == '&') {
      out += "\\u0026";
    } else if (c == '\xE2' && i + 2 < text.size() && text[i + 1] == '\x80' &&
               (text[i + 2] == '\xA8' || text[i + 2] == '\xA9')) {
      out += text[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string render_html_report(const nlohmann::json& report) {
  const std::string data = json_for_script(report);
  std::string page;
  page.reserve(data.size() + 64 * 1024);
  page +=
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      // The report must work offline and must not leak model names: forbid every load except inline code.
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n"
      "<meta name=\"generator\" content=\"lowbit compare\">\n"
      "<title>lowbit compare report</title>\n<style>\n";
  page += html_assets::kStyle;
  page += "</style>\n</head>\n<body>\n<pre id=\"errors\" role=\"alert\"></pre>\n<script>\n";
  page += html_assets::kErrorHook;
  page += "</script>\n";
  page += html_assets::kSkeleton;
  page += "<script type=\"application/json\" id=\"report-data\">";
  page += data;
  page += "</script>\n<script>\n";
  page += html_assets::kScript;
  page += "</script>\n</body>\n</html>\n";
  return page;
}

}  // namespace lowbit::compare
