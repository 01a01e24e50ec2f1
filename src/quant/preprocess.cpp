// --preprocess parsing and the image -> tensor transform (see preprocess.h for the spec).
#include "quant/preprocess.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace lowbit::quant {
namespace {

constexpr const char* kKnownKeys = "size, scale, mean, std, color, layout";
// Bigger targets are almost certainly typos (size=2240x2240 would need 60 MB per sample as float).
constexpr int64_t kMaxSide = 16384;

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Status bad(const std::string& key, const std::string& value, const std::string& why) {
  return error(StatusCode::kInvalidArgument, "--preprocess: ", key, "=", value, ": ", why);
}

// A finite decimal number, the whole text ("0.5", "1e-3", "+2"; not "nan", "1.5x").
bool parse_number(const std::string& text, double* out) {
  std::string t = text;
  if (!t.empty() && t[0] == '+') t.erase(0, 1);
  if (t.empty()) return false;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), *out);
  return ec == std::errc() && end == t.data() + t.size() && std::isfinite(*out);
}

bool parse_side(const std::string& text, int64_t* out) {
  if (text.empty() || text.size() > 9) return false;
  for (char c : text)
    if (c < '0' || c > '9') return false;
  *out = std::stoll(text);
  return true;
}

Status parse_size(const std::string& value, Preprocess* p) {
  std::string v = lower(value);
  size_t x = v.find('x');
  int64_t h = 0, w = 0;
  bool ok = x == std::string::npos ? parse_side(v, &h) && (w = h, true)
                                   : parse_side(trim(v.substr(0, x)), &h) && parse_side(trim(v.substr(x + 1)), &w);
  if (!ok) return bad("size", value, "expected HxW (e.g. size=224x224) or N for NxN");
  if (h < 1 || w < 1 || h > kMaxSide || w > kMaxSide)
    return bad("size", value, str_cat("height and width must be between 1 and ", kMaxSide));
  p->height = h;
  p->width = w;
  return Status::Ok();
}

Status parse_scale(const std::string& value, Preprocess* p) {
  size_t slash = value.find('/');
  double s = 0;
  if (slash == std::string::npos) {
    if (!parse_number(value, &s)) return bad("scale", value, "expected a number (0.0039) or a fraction (1/255)");
  } else {
    double num = 0, den = 0;
    if (!parse_number(trim(value.substr(0, slash)), &num) || !parse_number(trim(value.substr(slash + 1)), &den))
      return bad("scale", value, "expected a number (0.0039) or a fraction (1/255)");
    if (den == 0) return bad("scale", value, "division by zero");
    s = num / den;
  }
  if (!(s > 0) || !std::isfinite(float(s))) return bad("scale", value, "the scale must be a positive float32 number");
  p->scale = float(s);
  return Status::Ok();
}

// mean/std: 1 or 3 values, optionally in brackets as copied from Python ("[0.485, 0.456, 0.406]").
Status parse_channel_values(const std::string& key, const std::vector<std::string>& items, bool positive,
                            std::vector<float>* out) {
  std::string joined;
  for (size_t i = 0; i < items.size(); ++i) joined += (i ? "," : "") + items[i];
  std::vector<std::string> vals = items;
  if (!vals.empty() && !vals.front().empty() && (vals.front()[0] == '[' || vals.front()[0] == '('))
    vals.front() = trim(vals.front().substr(1));
  if (!vals.empty() && !vals.back().empty() && (vals.back().back() == ']' || vals.back().back() == ')'))
    vals.back() = trim(vals.back().substr(0, vals.back().size() - 1));
  if (vals.size() != 1 && vals.size() != 3)
    return bad(key, joined, str_cat("expected 1 or 3 values (one per channel), got ", vals.size()));
  std::vector<float> r;
  for (auto& v : vals) {
    double d = 0;
    if (!parse_number(v, &d) || !std::isfinite(float(d)))
      return bad(key, joined, str_cat("'", v, "' is not a finite number"));
    if (positive && !(d > 0)) return bad(key, joined, str_cat("'", v, "' is not positive (std divides)"));
    r.push_back(float(d));
  }
  if (r.size() == 1) r.assign(3, r[0]);
  *out = r;
  return Status::Ok();
}

// Shortest text that reads back as the same float.
std::string float_text(float v) {
  char buf[32];
  for (int precision = 6; precision <= 9; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, double(v));
    if (std::strtof(buf, nullptr) == v) break;
  }
  return buf;
}

}  // namespace

Expected<Preprocess> parse_preprocess(const std::string& spec) {
  Preprocess p;
  if (trim(spec).empty()) return p;
  // Split on commas; an item without '=' continues the previous key's value list (mean=a,b,c).
  std::vector<std::pair<std::string, std::vector<std::string>>> entries;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    if (comma == std::string::npos) comma = spec.size();
    std::string item = trim(spec.substr(start, comma - start));
    start = comma + 1;
    size_t eq = item.find('=');
    if (eq != std::string::npos) {
      std::string key = lower(trim(item.substr(0, eq)));
      std::string value = trim(item.substr(eq + 1));
      if (key.empty()) return error(StatusCode::kInvalidArgument, "--preprocess: '", item, "' has no key before '='");
      entries.push_back({key, {value}});
    } else if (item.empty()) {
      return error(StatusCode::kInvalidArgument, "--preprocess: empty entry in '", spec,
                   "' (two commas in a row, or a trailing comma?)");
    } else if (!entries.empty() && (entries.back().first == "mean" || entries.back().first == "std")) {
      entries.back().second.push_back(item);
    } else {
      return error(StatusCode::kInvalidArgument, "--preprocess: '", item,
                   "' is not key=value (only mean and std take several comma-separated values)");
    }
  }

  std::vector<std::string> seen;
  for (auto& [key, values] : entries) {
    for (auto& s : seen)
      if (s == key) return error(StatusCode::kInvalidArgument, "--preprocess: key '", key, "' is given twice");
    seen.push_back(key);
    const std::string& value = values[0];
    if (key != "mean" && key != "std" && values.size() > 1)
      return error(StatusCode::kInvalidArgument, "--preprocess: ", key, " takes one value");
    if (value.empty() && values.size() == 1)
      return error(StatusCode::kInvalidArgument, "--preprocess: ", key, "= has no value");
    if (key == "size") {
      LB_RETURN_IF_ERROR(parse_size(value, &p));
    } else if (key == "scale") {
      LB_RETURN_IF_ERROR(parse_scale(value, &p));
    } else if (key == "mean") {
      LB_RETURN_IF_ERROR(parse_channel_values("mean", values, /*positive=*/false, &p.mean));
    } else if (key == "std") {
      LB_RETURN_IF_ERROR(parse_channel_values("std", values, /*positive=*/true, &p.std));
    } else if (key == "color") {
      std::string v = lower(value);
      if (v != "rgb" && v != "bgr") return bad("color", value, "expected rgb or bgr");
      p.bgr = v == "bgr";
    } else if (key == "layout") {
      std::string v = lower(value);
      if (v != "nchw" && v != "nhwc") return bad("layout", value, "expected nchw or nhwc");
      p.nhwc = v == "nhwc";
    } else {
      return error(StatusCode::kInvalidArgument, "--preprocess: unknown key '", key, "' (known: ", kKnownKeys, ")");
    }
  }
  return p;
}

std::string to_string(const Preprocess& p) {
  // No size = the model's (there is no spec value for "take it from the model" other than leaving it out).
  std::string size = p.height > 0 && p.width > 0 ? str_cat("size=", p.height, "x", p.width, ",") : "";
  // "1/255" reads better than 0.00392157 and is what users write.
  std::string scale = float_text(p.scale);
  float inverse = std::round(1.0f / p.scale);
  if (p.scale < 1 && inverse >= 2 && inverse <= 1e6 && 1.0f / inverse == p.scale)
    scale = str_cat("1/", int64_t(inverse));
  auto list = [](const std::vector<float>& v) {
    std::string r;
    for (size_t i = 0; i < v.size(); ++i) r += (i ? "," : "") + float_text(v[i]);
    return r;
  };
  std::string r = size + "scale=" + scale + ",mean=" + list(p.mean) + ",std=" + list(p.std);
  return r + ",color=" + (p.bgr ? "bgr" : "rgb") + ",layout=" + (p.nhwc ? "nhwc" : "nchw");
}

std::vector<float> resize_bilinear(const Image& img, int64_t out_h, int64_t out_w) {
  std::vector<float> out(size_t(out_h * out_w * 3));
  if (out.empty() || img.height <= 0 || img.width <= 0) return out;
  if (out_h == img.height && out_w == img.width) {
    for (int64_t y = 0; y < out_h; ++y)
      for (int64_t x = 0; x < out_w; ++x)
        for (int c = 0; c < 3; ++c) out[size_t((y * out_w + x) * 3 + c)] = img.value(y, x, c);
    return out;
  }
  // Source taps and weights per output column / row, computed once (cv2's formula, in double).
  struct Tap {
    int64_t i0, i1;
    float w1;  // weight of i1; i0 gets 1 - w1
  };
  auto taps = [](int64_t in, int64_t n) {
    std::vector<Tap> t(static_cast<size_t>(n));
    const double scale = double(in) / double(n);
    for (int64_t d = 0; d < n; ++d) {
      double s = (double(d) + 0.5) * scale - 0.5;
      int64_t i0 = int64_t(std::floor(s));
      double frac = s - double(i0);
      if (i0 < 0) i0 = 0, frac = 0;
      if (i0 >= in - 1) i0 = in - 1, frac = 0;
      t[size_t(d)] = {i0, std::min(i0 + 1, in - 1), float(frac)};
    }
    return t;
  };
  const std::vector<Tap> xs = taps(img.width, out_w), ys = taps(img.height, out_h);
  for (int64_t y = 0; y < out_h; ++y) {
    const Tap& ty = ys[size_t(y)];
    for (int64_t x = 0; x < out_w; ++x) {
      const Tap& tx = xs[size_t(x)];
      for (int c = 0; c < 3; ++c) {
        float top = (1 - tx.w1) * img.value(ty.i0, tx.i0, c) + tx.w1 * img.value(ty.i0, tx.i1, c);
        float bottom = (1 - tx.w1) * img.value(ty.i1, tx.i0, c) + tx.w1 * img.value(ty.i1, tx.i1, c);
        out[size_t((y * out_w + x) * 3 + c)] = (1 - ty.w1) * top + ty.w1 * bottom;
      }
    }
  }
  return out;
}

Status preprocess_image(const Image& img, const Preprocess& p, int channels, float* out) {
  if (p.height <= 0 || p.width <= 0)
    return error(StatusCode::kInvalidArgument, "preprocess: the target size is not set (size=HxW)");
  if (channels != 1 && channels != 3)
    return error(StatusCode::kInvalidArgument, "preprocess: images give 1 or 3 channels, not ", channels);
  if (p.mean.empty() || p.std.empty())
    return error(StatusCode::kInvalidArgument, "preprocess: mean and std need at least one value");
  const std::vector<float> rgb = resize_bilinear(img, p.height, p.width);
  const int64_t plane = p.height * p.width;
  auto mean = [&](int c) { return p.mean[std::min(size_t(c), p.mean.size() - 1)]; };
  auto stdev = [&](int c) { return p.std[std::min(size_t(c), p.std.size() - 1)]; };
  for (int64_t i = 0; i < plane; ++i) {
    const float* px = &rgb[size_t(i * 3)];
    for (int c = 0; c < channels; ++c) {
      float v = channels == 1 ? float(0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2]) : px[p.bgr ? 2 - c : c];
      float r = (v * p.scale - mean(c)) / stdev(c);
      out[p.nhwc ? i * channels + c : c * plane + i] = r;
    }
  }
  return Status::Ok();
}

}  // namespace lowbit::quant
