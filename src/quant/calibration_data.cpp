// Calibration data sources (see calibration_data.h). open() resolves which data feeds which model input and
// checks everything that headers can tell; batch() then only reads, converts and preprocesses.
#include "quant/calibration_data.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <tuple>

#include "io/image.h"
#include "io/npy.h"
#include "quant/exact_convert.h"

namespace lowbit::quant {
namespace fs = std::filesystem;

namespace {

// A .npy file holding `count` consecutive samples of the input's sequence, starting at sample `first`.
struct NpyPart {
  std::string path;
  NpyHeader header;
  int64_t first = 0;
  int64_t count = 0;
  Shape sample_shape;
  int64_t sample_elems = 0;
};

// Everything about one model input: its type and where its samples come from (.npy parts or images).
struct Feed {
  std::string name;
  ValueType type;
  std::string source;  // the path as the user gave it
  bool assigned = false;
  bool images = false;
  std::vector<NpyPart> parts;
  std::vector<std::string> image_files;
  int channels = 3;  // images: 3 (RGB/BGR) or 1 (grey model input)
  int64_t samples = 0;

  bool has_batch_axis() const { return type.rank() >= 1; }
  // The model's dims of one sample: all but the first.
  std::vector<Dim> sample_dims() const {
    return has_batch_axis() ? std::vector<Dim>(type.dims.begin() + 1, type.dims.end()) : std::vector<Dim>{};
  }
  const NpyPart& part_of(int64_t sample) const {
    auto it =
        std::upper_bound(parts.begin(), parts.end(), sample, [](int64_t s, const NpyPart& p) { return s < p.first; });
    return *(it - 1);
  }
};

std::string dims_text(const std::vector<Dim>& dims) {
  std::string r = "[";
  for (size_t i = 0; i < dims.size(); ++i) r += (i ? "," : "") + dims[i].to_string();
  return r + "]";
}

std::string describe_input(const Feed& f) { return str_cat("'", f.name, "' ", f.type.to_string()); }

std::string list_inputs(const std::vector<Feed>& feeds) {
  std::string r;
  for (size_t i = 0; i < feeds.size(); ++i) r += (i ? ", " : "") + describe_input(feeds[i]);
  return r;
}

std::string lower_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

// Regular files of `dir` (not recursive), hidden ones skipped (macOS "._x.jpg" resource forks are not
// images), sorted by name.
Expected<std::vector<fs::path>> list_folder(const std::string& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  if (ec) return error(StatusCode::kIoError, "cannot list folder '", dir, "': ", ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return error(StatusCode::kIoError, "cannot list folder '", dir, "': ", ec.message());
    const fs::path& p = it->path();
    std::string name = p.filename().string();
    if (name.empty() || name[0] == '.') continue;
    std::error_code type_ec;
    if (!fs::is_regular_file(it->status(type_ec)) || type_ec) continue;  // follows symlinks
    files.push_back(p);
  }
  std::sort(files.begin(), files.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename().string() < b.filename().string(); });
  return files;
}

// "3 .bmp, 1 .webp" for the files of `files` that are other image formats.
std::string other_image_summary(const std::vector<fs::path>& files, int64_t* count) {
  std::map<std::string, int64_t> by_ext;
  for (auto& f : files)
    if (has_other_image_extension(f.filename().string())) by_ext[lower_extension(f)]++;
  std::string r;
  *count = 0;
  for (auto& [ext, n] : by_ext) {
    r += (r.empty() ? "" : ", ") + str_cat(n, " ", ext);
    *count += n;
  }
  return r;
}

// Fits one .npy header to the input: shape [N, sample...] (N samples) or [sample...] (one sample).
Status add_npy_part(Feed& feed, const std::string& path, const NpyHeader& h) {
  if (!convertible(h.dtype, feed.type.dtype))
    return error(StatusCode::kInvalidArgument, path, ": ", dtype_name(h.dtype), " data cannot feed input ",
                 describe_input(feed),
                 h.dtype == DType::kBool || feed.type.dtype == DType::kBool
                     ? " (bool data feeds only bool inputs)"
                     : " (numeric data of any dtype is converted; this pair is not numeric)");
  const std::vector<Dim> sample_dims = feed.sample_dims();
  const size_t sample_rank = sample_dims.size();
  NpyPart part;
  part.path = path;
  part.header = h;
  if (h.shape.size() == sample_rank + 1) {
    part.count = h.shape[0];
    part.sample_shape.assign(h.shape.begin() + 1, h.shape.end());
  } else if (h.shape.size() == sample_rank) {
    part.count = 1;
    part.sample_shape = h.shape;
  } else {
    std::vector<Dim> many = sample_dims;
    many.insert(many.begin(), Dim::symbol("N"));
    return error(StatusCode::kInvalidArgument, path, ": shape ", dims_text({h.shape.begin(), h.shape.end()}),
                 " does not fit input ", describe_input(feed), ": expected ", dims_text(many), " (N samples) or ",
                 dims_text(sample_dims), " (one sample)");
  }
  for (size_t j = 0; j < sample_rank; ++j) {
    const Dim& d = sample_dims[j];
    if (d.known() && d.value != part.sample_shape[j])
      return error(StatusCode::kInvalidArgument, path, ": samples of shape ",
                   dims_text({part.sample_shape.begin(), part.sample_shape.end()}), " do not fit input ",
                   describe_input(feed), ": dim ", j + 1, " is ", part.sample_shape[j], " in the file but ", d.value,
                   " in the model");
  }
  if (part.count == 0)
    return error(StatusCode::kInvalidArgument, path, ": holds no samples (shape ", shape_to_string(h.shape), ")");
  part.sample_elems = numel_unchecked(part.sample_shape);  // <= numel of the file, checked by the reader
  if (part.sample_elems == 0)
    return error(StatusCode::kInvalidArgument, path, ": its samples are empty (shape ", shape_to_string(h.shape),
                 " has a zero dim)");
  part.first = feed.samples;
  feed.samples += part.count;
  feed.parts.push_back(std::move(part));
  return Status::Ok();
}

Status load_npy_source(Feed& feed, const std::string& path) {
  const std::string flag = str_cat("--calib ", feed.name, "=", path);
  std::error_code ec;
  auto st = fs::status(path, ec);
  if (ec || !fs::exists(st)) return error(StatusCode::kNotFound, flag, ": no such file or folder");
  std::vector<std::string> files;
  if (fs::is_directory(st)) {
    LB_ASSIGN_OR_RETURN(std::vector<fs::path> all, list_folder(path));
    int64_t images = 0;
    for (auto& f : all) {
      if (lower_extension(f) == ".npy") files.push_back(f.string());
      images += has_decodable_image_extension(f.filename().string());
    }
    if (files.empty())
      return error(
          StatusCode::kInvalidArgument, flag, ": folder '", path, "' has no .npy files",
          images ? str_cat(" (it has ", images, " PNG/JPEG images: use --calib-images ", feed.name, "=", path, ")")
                 : "");
  } else {
    files.push_back(path);
  }
  for (auto& f : files) {
    LB_ASSIGN_OR_RETURN(NpyHeader h, read_npy_header(f));
    LB_RETURN_IF_ERROR(add_npy_part(feed, f, h));
  }
  return Status::Ok();
}

// Fills in size and channels from the model input and checks that the spec fits it.
Status fit_preprocess(Feed& feed, Preprocess& p, std::vector<std::string>& warnings) {
  const auto& dims = feed.type.dims;
  const std::string layout = p.nhwc ? "layout=nhwc" : "layout=nchw";
  const size_t c_axis = p.nhwc ? 3 : 1, h_axis = p.nhwc ? 1 : 2, w_axis = h_axis + 1;
  const Dim& c = dims[c_axis];
  if (c.known() && c.value != 3 && c.value != 1) {
    const Dim& other = dims[p.nhwc ? 1 : 3];
    bool other_fits = other.known() && (other.value == 3 || other.value == 1);
    return error(StatusCode::kInvalidArgument, "--calib-images: input ", describe_input(feed), ": dim ", c_axis,
                 " (the channels with ", layout, ") is ", c.value, ", but images give 3 channels (or 1 for grey)",
                 other_fits ? str_cat("; the input looks ", p.nhwc ? "NCHW: use layout=nchw" : "NHWC: add layout=nhwc",
                                      " in --preprocess")
                            : "");
  }
  feed.channels = c.known() && c.value == 1 ? 1 : 3;
  const Dim &h = dims[h_axis], &w = dims[w_axis];
  if (p.height == 0) {
    if (!h.known() || !w.known() || h.value <= 0 || w.value <= 0)
      return error(StatusCode::kInvalidArgument, "--calib-images: input ", describe_input(feed),
                   " has no fixed height and width (dims ", h_axis, " and ", w_axis,
                   "): say which size to resize to with size=HxW in --preprocess");
    p.height = h.value;
    p.width = w.value;
  } else {
    for (auto [axis, what, want] : {std::tuple{h_axis, "height", p.height}, std::tuple{w_axis, "width", p.width}}) {
      const Dim& d = dims[axis];
      if (d.known() && d.value != want)
        return error(StatusCode::kInvalidArgument, "--preprocess size=", p.height, "x", p.width, " does not fit input ",
                     describe_input(feed), ": dim ", axis, " (", what, " with ", layout, ") is ", d.value);
    }
  }
  if (feed.channels == 1 && (std::adjacent_find(p.mean.begin(), p.mean.end(), std::not_equal_to<>()) != p.mean.end() ||
                             std::adjacent_find(p.std.begin(), p.std.end(), std::not_equal_to<>()) != p.std.end()))
    return error(StatusCode::kInvalidArgument, "--preprocess: input ", describe_input(feed),
                 " takes grey images (1 channel): give a single mean and std value");
  // A mean above every scaled pixel makes the channel negative everywhere: almost surely a mean given in
  // 0..255 units with scale=1/255 (or the reverse).
  for (float m : p.mean)
    if (std::abs(m) > 255.0f * p.scale * 1.0001f) {
      warnings.push_back(str_cat("--preprocess: mean ", m, " is larger than any scaled pixel (255 * scale = ",
                                 255.0f * p.scale, "); means in pixel units go with scale=1"));
      break;
    }
  return Status::Ok();
}

Status load_images(Feed& feed, const std::string& dir, std::vector<std::string>& warnings) {
  const std::string flag = str_cat("--calib-images ", dir);
  std::error_code ec;
  auto st = fs::status(dir, ec);
  if (ec || !fs::exists(st)) return error(StatusCode::kNotFound, flag, ": no such folder");
  if (!fs::is_directory(st))
    return error(StatusCode::kInvalidArgument, flag, ": not a folder (give the folder that holds the images)");
  const auto& dims = feed.type.dims;
  if (!feed.type.has_shape || dims.size() != 4)
    return error(StatusCode::kInvalidArgument, flag, ": images feed 4-D inputs (NCHW or NHWC), but input ",
                 describe_input(feed), " is not one; give --calib ", feed.name, "=FILE.npy instead");
  if (!dtype_is_float(feed.type.dtype))
    return error(StatusCode::kInvalidArgument, flag, ": images feed float inputs, but input ", describe_input(feed),
                 " is ", dtype_name(feed.type.dtype), "; give --calib ", feed.name, "=FILE.npy instead");
  LB_ASSIGN_OR_RETURN(std::vector<fs::path> all, list_folder(dir));
  int64_t npy = 0, others = 0;
  for (auto& f : all) {
    if (has_decodable_image_extension(f.filename().string()))
      feed.image_files.push_back(f.string());
    else
      npy += lower_extension(f) == ".npy";
  }
  std::string other_summary = other_image_summary(all, &others);
  if (feed.image_files.empty())
    return error(
        StatusCode::kInvalidArgument, flag, ": folder has no PNG/JPEG images (.png, .jpg, .jpeg)",
        others ? str_cat("; it has ", other_summary, " files, which lowbit does not decode: convert them") : "",
        npy ? str_cat("; it has ", npy, " .npy files: use --calib ", feed.name, "=", dir) : "");
  if (others)
    warnings.push_back(str_cat(flag, ": skipped ", other_summary,
                               " files (lowbit decodes PNG and JPEG only; convert them to use them)"));
  feed.samples = int64_t(feed.image_files.size());
  return Status::Ok();
}

// The images argument: "NAME=DIR" when NAME is a model input, else the whole text is the folder.
std::pair<std::string, std::string> split_images_arg(const std::string& text, const std::vector<Feed>& feeds) {
  size_t eq = text.find('=');
  if (eq != std::string::npos) {
    std::string name = text.substr(0, eq);
    for (auto& f : feeds)
      if (f.name == name) return {name, text.substr(eq + 1)};
  }
  return {"", text};
}

std::string range_text(int64_t a, int64_t b) {  // samples [a, b)
  return b - a == 1 ? str_cat(" sample ", a) : str_cat(" samples ", a, "..", b - 1);
}

}  // namespace

struct CalibrationData::Impl {
  std::vector<Feed> feeds;
  int64_t batch_size = 1;
  int64_t num_batches = 0;
  std::optional<Preprocess> pre;
  std::vector<std::string> warnings;
  CalibDataOptions options;

  Status resolve_sources(const Graph& model);
  Status resolve_images();
  Status plan_batches();
  Status check_shared_symbols() const;
  Expected<Tensor> read_npy_batch(const Feed& f, int64_t first) const;
  Expected<Tensor> read_image_batch(const Feed& f, int64_t first) const;
  std::string describe_samples(const Feed& f, int64_t first, int64_t count) const;
};

Expected<CalibSource> parse_calib_source(const std::string& text) {
  size_t eq = text.find('=');
  CalibSource s;
  if (eq == std::string::npos) {
    s.path = text;
  } else {
    s.input = text.substr(0, eq);
    s.path = text.substr(eq + 1);
    if (s.input.empty())
      return error(StatusCode::kInvalidArgument, "--calib '", text, "': no input name before '=' (NAME=PATH)");
  }
  if (s.path.empty())
    return error(StatusCode::kInvalidArgument, "--calib '", text, "': no file or folder (NAME=FILE.npy or NAME=DIR)");
  return s;
}

Status CalibrationData::Impl::resolve_sources(const Graph& model) {
  for (const std::string& name : model.inputs) {
    const ValueInfo* vi = model.find(name);
    if (!vi) return error(StatusCode::kInternal, "model input '", name, "' has no value info");
    Feed f;
    f.name = name;
    f.type = vi->type;
    feeds.push_back(std::move(f));
  }
  if (feeds.empty()) return error(StatusCode::kInvalidArgument, "the model has no inputs to feed calibration data to");
  for (Feed& f : feeds) {
    if (!f.type.has_shape)
      return error(StatusCode::kUnsupported, "input '", f.name,
                   "' has no shape in the model, so calibration cannot tell how to batch its data; "
                   "give the model input a shape");
    if (!convertible(f.type.dtype, f.type.dtype))
      return error(StatusCode::kUnsupported, "input ", describe_input(f), ": calibration cannot feed ",
                   dtype_name(f.type.dtype), " inputs");
  }
  if (options.sources.empty() && options.images_dir.empty())
    return error(StatusCode::kInvalidArgument,
                 "no calibration data: give --calib NAME=FILE.npy (or NAME=DIR) per input, or --calib-images DIR; "
                 "the model's inputs: ",
                 list_inputs(feeds));
  for (const CalibSource& src : options.sources) {
    if (src.path.empty())
      return error(StatusCode::kInvalidArgument, "--calib ", src.input, "=: no file or folder given");
    std::string name = src.input;
    if (name.empty()) {
      if (feeds.size() != 1)
        return error(StatusCode::kInvalidArgument, "--calib ", src.path,
                     ": say which input it feeds (--calib NAME=", src.path,
                     "); the model's inputs: ", list_inputs(feeds));
      name = feeds[0].name;
    }
    auto it = std::find_if(feeds.begin(), feeds.end(), [&](const Feed& f) { return f.name == name; });
    if (it == feeds.end())
      return error(StatusCode::kNotFound, "--calib ", name, "=", src.path, ": the model has no input '", name,
                   "'; its inputs: ", list_inputs(feeds));
    if (it->assigned)
      return error(StatusCode::kInvalidArgument, "input '", name, "' is given calibration data twice ('", it->source,
                   "' and '", src.path, "')");
    it->assigned = true;
    it->source = src.path;
    LB_RETURN_IF_ERROR(load_npy_source(*it, src.path));
  }
  return Status::Ok();
}

Status CalibrationData::Impl::resolve_images() {
  if (options.images_dir.empty()) {
    if (!options.preprocess.empty()) warnings.push_back("--preprocess is ignored: it applies to --calib-images only");
    return Status::Ok();
  }
  auto [name, dir] = split_images_arg(options.images_dir, feeds);
  Feed* target = nullptr;
  if (!name.empty()) {
    for (auto& f : feeds)
      if (f.name == name) target = &f;
  } else if (feeds.size() == 1) {
    target = &feeds[0];
  } else {
    std::vector<Feed*> candidates;
    for (auto& f : feeds)
      if (!f.assigned && f.type.rank() == 4) candidates.push_back(&f);
    if (candidates.size() != 1)
      return error(StatusCode::kInvalidArgument, "--calib-images ", dir, ": the model has several inputs (",
                   list_inputs(feeds), "); say which one takes the images: --calib-images NAME=", dir);
    target = candidates[0];
  }
  if (target->assigned)
    return error(StatusCode::kInvalidArgument, "input '", target->name, "' is given calibration data twice ('",
                 target->source, "' and images from '", dir, "')");
  target->assigned = true;
  target->images = true;
  target->source = dir;
  LB_ASSIGN_OR_RETURN(Preprocess p, parse_preprocess(options.preprocess));
  LB_RETURN_IF_ERROR(load_images(*target, dir, warnings));
  LB_RETURN_IF_ERROR(fit_preprocess(*target, p, warnings));
  pre = p;
  return Status::Ok();
}

Status CalibrationData::Impl::plan_batches() {
  std::string missing;
  for (auto& f : feeds)
    if (!f.assigned) missing += (missing.empty() ? "" : ", ") + describe_input(f);
  if (!missing.empty())
    return error(StatusCode::kInvalidArgument, "no calibration data for input(s) ", missing,
                 "; give --calib NAME=FILE.npy for each; the model's inputs: ", list_inputs(feeds));

  // Batch size: the fixed first dims, which must agree.
  const Feed* fixed = nullptr;
  for (auto& f : feeds) {
    if (!f.has_batch_axis() || !f.type.dims[0].known()) continue;
    if (!fixed) {
      fixed = &f;
    } else if (f.type.dims[0].value != fixed->type.dims[0].value) {
      return error(StatusCode::kUnsupported,
                   "the model's inputs disagree on the batch size (first dim): ", describe_input(*fixed), " and ",
                   describe_input(f));
    }
  }
  batch_size = fixed ? fixed->type.dims[0].value : 1;
  if (batch_size <= 0)
    return error(StatusCode::kInvalidArgument, "input ", describe_input(*fixed), " has a batch dim of 0");
  for (auto& f : feeds) {
    if (!f.has_batch_axis() && batch_size > 1)
      return error(StatusCode::kUnsupported, "input ", describe_input(f), " is a scalar, but the batch size is ",
                   batch_size, " (from input ", describe_input(*fixed), ")");
    // A batch of several samples is one tensor: one shape for all (symbolic dims included).
    if (batch_size > 1)
      for (auto& p : f.parts)
        if (p.sample_shape != f.parts[0].sample_shape)
          return error(StatusCode::kInvalidArgument, "input '", f.name, "': ", f.parts[0].path, " has samples of ",
                       shape_to_string(f.parts[0].sample_shape), " but ", p.path, " of ",
                       shape_to_string(p.sample_shape), "; a batch of ", batch_size, " samples needs one shape");
  }

  for (auto& f : feeds)
    if (f.samples != feeds[0].samples) {
      std::string counts;
      for (auto& g : feeds)
        counts += (counts.empty() ? "" : ", ") + str_cat("'", g.name, "' ", g.samples, " (", g.source, ")");
      return error(StatusCode::kInvalidArgument, "the inputs have different numbers of samples: ", counts);
    }
  const int64_t total = feeds[0].samples;
  const int64_t used = options.limit > 0 ? std::min(total, options.limit) : total;
  num_batches = used / batch_size;
  if (num_batches == 0)
    return error(StatusCode::kInvalidArgument, "one batch needs ", batch_size, " samples (the model's batch size) but ",
                 options.limit > 0 && options.limit < total ? str_cat("--calib-limit ", options.limit, " allows ")
                                                            : "the data has ",
                 used);
  if (used % batch_size)
    warnings.push_back(str_cat("the last ", used % batch_size, " of ", used, " samples do not fill a batch of ",
                               batch_size, " and are skipped"));

  for (auto& f : feeds) {
    Shape shape =
        f.images ? (pre->nhwc ? Shape{pre->height, pre->width, f.channels} : Shape{f.channels, pre->height, pre->width})
                 : f.parts[0].sample_shape;
    for (auto& p : f.parts)  // the largest sample decides
      if (p.sample_elems > numel_unchecked(shape)) shape = p.sample_shape;
    if (f.has_batch_axis()) shape.insert(shape.begin(), batch_size);
    auto numel = checked_numel(shape);
    int64_t elem = int64_t(dtype_size(f.type.dtype));
    if (!numel || *numel > options.max_batch_bytes / elem)
      return error(StatusCode::kResourceExhausted, "a batch of input '", f.name, "' (", shape_to_string(shape), " ",
                   dtype_name(f.type.dtype), ") would exceed the ", options.max_batch_bytes, "-byte limit");
  }
  LB_RETURN_IF_ERROR(check_shared_symbols());
  // Image headers are cheap to check now and expensive to discover broken after an hour of calibration.
  for (auto& f : feeds)
    if (f.images)
      for (int64_t i = 0; i < num_batches * batch_size; ++i)
        LB_RETURN_IF_ERROR(image_file_format(f.image_files[size_t(i)]).status());
  return Status::Ok();
}

// A symbolic dim that appears in several places ("seq" in input_ids and attention_mask) is one size
// within a batch.
Status CalibrationData::Impl::check_shared_symbols() const {
  std::map<std::string, int> uses;
  for (auto& f : feeds)
    if (!f.images)
      for (size_t j = 1; j < f.type.dims.size(); ++j)
        if (!f.type.dims[j].param.empty()) uses[f.type.dims[j].param]++;
  bool any_shared = false;
  for (auto& [param, n] : uses) any_shared |= n > 1;
  if (!any_shared) return Status::Ok();
  for (int64_t b = 0; b < num_batches; ++b) {
    std::map<std::string, std::pair<int64_t, std::string>> seen;  // param -> size, where
    for (auto& f : feeds) {
      if (f.images) continue;
      const NpyPart& part = f.part_of(b * batch_size);
      for (size_t j = 1; j < f.type.dims.size(); ++j) {
        const std::string& param = f.type.dims[j].param;
        if (param.empty() || uses[param] < 2) continue;
        int64_t size = part.sample_shape[j - 1];
        auto [it, inserted] = seen.try_emplace(param, size, str_cat("'", f.name, "' (", part.path, ")"));
        if (!inserted && it->second.first != size)
          return error(StatusCode::kInvalidArgument, "batch ", b, ": the symbolic dim '", param, "' is ",
                       it->second.first, " in ", it->second.second, " but ", size, " in '", f.name, "' (", part.path,
                       ")");
      }
    }
  }
  return Status::Ok();
}

Expected<Tensor> CalibrationData::Impl::read_npy_batch(const Feed& f, int64_t first) const {
  const int64_t count = f.has_batch_axis() ? batch_size : 1;
  Shape shape = f.part_of(first).sample_shape;
  const int64_t sample_elems = numel_unchecked(shape);
  if (f.has_batch_axis()) shape.insert(shape.begin(), batch_size);
  auto t = Tensor::create(f.type.dtype, shape, options.max_batch_bytes);
  if (!t) return t.status().with_context(str_cat("input '", f.name, "'"));
  const size_t out_elem = dtype_size(f.type.dtype);
  std::vector<unsigned char> scratch;
  for (int64_t s = first; s < first + count;) {
    const NpyPart& part = f.part_of(s);
    const int64_t local = s - part.first;
    const int64_t n = std::min(first + count - s, part.count - local);
    scratch.resize(size_t(n * sample_elems) * dtype_size(part.header.dtype));
    LB_RETURN_IF_ERROR(
        read_npy_elements(part.path, part.header, local * sample_elems, n * sample_elems, scratch.data()));
    ConvertIssue issue;
    void* dst = static_cast<unsigned char*>(t->raw()) + size_t((s - first) * sample_elems) * out_elem;
    if (!convert_exact(part.header.dtype, scratch.data(), f.type.dtype, dst, n * sample_elems, &issue))
      return error(StatusCode::kInvalidArgument, part.path, " sample ", local + issue.index / sample_elems, ": ",
                   issue.what, " (element ", issue.index % sample_elems, " of the sample; input '", f.name, "' is ",
                   dtype_name(f.type.dtype), ")");
    s += n;
  }
  return t;
}

Expected<Tensor> CalibrationData::Impl::read_image_batch(const Feed& f, int64_t first) const {
  const Preprocess& p = *pre;
  Shape sample = p.nhwc ? Shape{p.height, p.width, f.channels} : Shape{f.channels, p.height, p.width};
  const int64_t sample_elems = numel_unchecked(sample);
  sample.insert(sample.begin(), batch_size);
  auto t = Tensor::create(f.type.dtype, sample, options.max_batch_bytes);
  if (!t) return t.status().with_context(str_cat("input '", f.name, "'"));
  std::vector<float> buf(static_cast<size_t>(sample_elems));
  for (int64_t k = 0; k < batch_size; ++k) {
    const std::string& path = f.image_files[size_t(first + k)];
    LB_ASSIGN_OR_RETURN(Image img, decode_image_file(path, options.image_limits));
    LB_RETURN_IF_ERROR(preprocess_image(img, p, f.channels, buf.data()).with_context(path));
    ConvertIssue issue;
    void* dst = static_cast<unsigned char*>(t->raw()) + size_t(k * sample_elems) * dtype_size(f.type.dtype);
    if (!convert_exact(DType::kFloat32, buf.data(), f.type.dtype, dst, sample_elems, &issue))
      return error(StatusCode::kInvalidArgument, path, ": after preprocessing (", to_string(p), "): ", issue.what);
  }
  return t;
}

std::string CalibrationData::Impl::describe_samples(const Feed& f, int64_t first, int64_t count) const {
  if (f.images) {
    if (count == 1) return f.image_files[size_t(first)];
    return str_cat(f.image_files[size_t(first)], " .. ", f.image_files[size_t(first + count - 1)], " (", count,
                   " images)");
  }
  std::string r;
  for (int64_t s = first; s < first + count;) {
    const NpyPart& part = f.part_of(s);
    const int64_t local = s - part.first, n = std::min(first + count - s, part.count - local);
    r += (r.empty() ? "" : ", ") + part.path + range_text(local, local + n);
    s += n;
  }
  return r;
}

CalibrationData::CalibrationData(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CalibrationData::~CalibrationData() = default;

Expected<std::unique_ptr<CalibrationData>> CalibrationData::open(const Graph& model, const CalibDataOptions& options) {
  if (options.limit == 0 || options.limit < -1)
    return error(StatusCode::kInvalidArgument, "--calib-limit must be a positive number of samples (got ",
                 options.limit, ")");
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  LB_RETURN_IF_ERROR(impl->resolve_sources(model));
  LB_RETURN_IF_ERROR(impl->resolve_images());
  LB_RETURN_IF_ERROR(impl->plan_batches());
  return std::unique_ptr<CalibrationData>(new CalibrationData(std::move(impl)));
}

int64_t CalibrationData::num_batches() const { return impl_->num_batches; }
int64_t CalibrationData::batch_size() const { return impl_->batch_size; }
int64_t CalibrationData::num_samples() const { return impl_->num_batches * impl_->batch_size; }
const std::vector<std::string>& CalibrationData::warnings() const { return impl_->warnings; }
const Preprocess* CalibrationData::preprocess() const { return impl_->pre ? &*impl_->pre : nullptr; }

Expected<std::map<std::string, Tensor>> CalibrationData::batch(int64_t i) {
  if (i < 0 || i >= impl_->num_batches)
    return error(StatusCode::kOutOfRange, "calibration batch ", i, " does not exist (there are ", impl_->num_batches,
                 ")");
  std::map<std::string, Tensor> out;
  for (const Feed& f : impl_->feeds) {
    const int64_t first = i * impl_->batch_size;
    Expected<Tensor> t = f.images ? impl_->read_image_batch(f, first) : impl_->read_npy_batch(f, first);
    if (!t) return t.status();
    out.emplace(f.name, std::move(t).value());
  }
  return out;
}

std::string CalibrationData::describe_batch(int64_t i) const {
  if (i < 0 || i >= impl_->num_batches) return str_cat("batch ", i, " (out of range)");
  std::string r;
  for (const Feed& f : impl_->feeds) {
    std::string what = impl_->describe_samples(f, i * impl_->batch_size, impl_->batch_size);
    r += impl_->feeds.size() == 1 ? what : str_cat(r.empty() ? "" : "; ", f.name, ": ", what);
  }
  return r;
}

std::string CalibrationData::describe() const {
  std::string r;
  for (const Feed& f : impl_->feeds) {
    r += str_cat(describe_input(f), ": ", f.samples, f.images ? " images from " : " samples from ", f.source);
    if (f.images)
      r += str_cat(" (", to_string(*impl_->pre), ")");
    else if (f.parts.size() > 1)
      r += str_cat(" (", f.parts.size(), " .npy files)");
    r += "\n";
  }
  return r + str_cat(impl_->num_batches, " batches of ", impl_->batch_size, " samples");
}

}  // namespace lowbit::quant
