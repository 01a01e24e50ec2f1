// Calibration data for `lowbit quantize`: .npy files, folders of .npy files and folders of images, served
// as a sequence of batches shaped for the model's inputs.
//
//   quant::CalibDataOptions opt;
//   opt.sources.push_back(*quant::parse_calib_source("input_ids=calib/ids.npy"));   // --calib
//   opt.images_dir = "calib/images";                                               // --calib-images
//   opt.preprocess = "size=224x224,mean=0.485,0.456,0.406,std=0.229,0.224,0.225";  // --preprocess
//   opt.limit = 512;                                                               // --calib-limit
//   auto data = quant::CalibrationData::open(graph, opt);   // checks everything it can without decoding
//   if (!data) return data.status();
//   for (auto& w : (*data)->warnings()) std::cerr << "warning: " << w << "\n";
//   for (int64_t i = 0; i < (*data)->num_batches(); ++i) {
//     auto feeds = (*data)->batch(i);                        // name -> Tensor, read from disk now
//     if (!feeds) return feeds.status();                     // "calib/img_0042.png: not a PNG/JPEG file"
//     std::cerr << "calibrating on " << (*data)->describe_batch(i) << "\n";
//   }
//
// Sources, one per model input:
//   --calib NAME=FILE.npy   axis 0 indexes samples: shape [N, rest...] where rest matches the input's dims
//                           after the first. A file of rank (model rank - 1) is one sample.
//   --calib NAME=DIR        every *.npy of DIR (not recursive), sorted by name, each holding one sample or
//                           several (as above); their samples follow each other. Other files are ignored.
//   --calib FILE / DIR      without NAME: allowed when the model has a single input.
//   --calib-images DIR      PNG/JPEG files of DIR (not recursive, sorted by name, hidden files skipped),
//                           one sample each, preprocessed per --preprocess (src/quant/preprocess.h). Feeds
//                           the model's only 4-D input without a --calib source; if there are several,
//                           name it: --calib-images NAME=DIR. Other files are ignored (with a warning
//                           for other image formats such as .bmp/.webp).
//   "Sorted by name" is byte order of the file names: img_10 comes before img_2.
//
// Batching: batch_size() samples per batch, the model's fixed first dim (all inputs with a fixed first
// dim must agree on it), or 1 when every input's first dim is symbolic; inputs with a symbolic first dim
// then get the same number of samples. Samples left over that do not fill a batch are dropped (with a
// warning). Every input must have the same number of samples (after --calib-limit).
// Shapes: fixed dims must match the data exactly; symbolic dims accept any size (then each batch may
// differ when batch_size() is 1, but a batch of several samples needs one shape, and a symbolic dim that
// two inputs share, like "seq", must take the same size in both within a batch).
// Values: any numeric .npy dtype, converted to the input's dtype; conversions that would change a value
// (3.5 or 300 into uint8, 1e300 into float32) are errors, as are NaN and Inf in any sample.
//
// Memory: open() reads .npy headers and the first bytes of each image, nothing more. batch(i) reads only
// the bytes of its samples (the files are seeked into), so 1,000 images of 640x640 or a 10 GB .npy need
// memory for one batch only.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "lowbit/status.h"
#include "lowbit/tensor.h"
#include "quant/preprocess.h"

namespace lowbit::quant {

struct CalibSource {
  std::string input;  // model input name; "" = the model's only input
  std::string path;   // a .npy file or a folder of .npy files
};

// "NAME=PATH" -> {NAME, PATH} (split at the first '='); "PATH" -> {"", PATH}. Errors on an empty name
// before '=' or an empty path.
Expected<CalibSource> parse_calib_source(const std::string& text);

struct CalibDataOptions {
  std::vector<CalibSource> sources;                  // --calib, repeatable
  std::string images_dir;                            // --calib-images DIR or NAME=DIR (see above); "" = none
  std::string preprocess;                            // --preprocess spec for the images
  int64_t limit = -1;                                // --calib-limit N: use at most the first N samples; -1 = all
  ImageLimits image_limits;                          // caps on decoded image size
  int64_t max_batch_bytes = kDefaultMaxTensorBytes;  // cap on one input's batch tensor
};

// A sequence of calibration batches. Nothing is loaded up front beyond headers: each batch is read when
// asked for, so 1,000 images of 640x640 need memory for one batch only. Not thread-safe.
class CalibrationData {
 public:
  // Checks everything that can be checked without decoding all data: every model input has data (a
  // missing one -> error listing the model's inputs), no source names an unknown input, files
  // exist and are readable, npy headers parse, dtypes convert, per-sample shapes match the model
  // input, sample counts agree across inputs, folders are not empty, the images are PNG/JPEG files
  // (by their first bytes) and the preprocess spec fits the input.
  static Expected<std::unique_ptr<CalibrationData>> open(const Graph& model, const CalibDataOptions& options);
  ~CalibrationData();

  int64_t num_batches() const;
  int64_t batch_size() const;   // samples per batch (see Batching above)
  int64_t num_samples() const;  // num_batches() * batch_size(): the samples actually used
  // Batch i, one tensor per model input, shaped for the model and converted to the input's dtype.
  // Errors name the file and sample ("calib/img_0042.png: not a PNG/JPEG file",
  // "x.npy sample 17: contains NaN").
  Expected<std::map<std::string, Tensor>> batch(int64_t i);
  // Where batch i comes from, for progress and messages: "x.npy samples 8..15", "pages/p3.png",
  // "calib/a.npy sample 2, calib/b.npy samples 0..1"; with several inputs "ids: ...; mask: ...".
  std::string describe_batch(int64_t i) const;
  // One line per input, then the batching: "'x' float32[batch,3,224,224]: 800 images from calib/
  // (size=224x224,scale=1/255,...)\n100 batches of 8 samples".
  std::string describe() const;
  // Things the user should know that do not stop calibration: dropped remainder samples, skipped files,
  // suspicious preprocess values.
  const std::vector<std::string>& warnings() const;
  // The Preprocess in force for the images (size filled in from the model), if there are images.
  const Preprocess* preprocess() const;

  struct Impl;

 private:
  explicit CalibrationData(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lowbit::quant
