// How calibration images become model input: the `--preprocess` spec, bilinear resizing, and
// normalisation into NCHW or NHWC float planes.
//
//   auto p = quant::parse_preprocess("size=224x224,scale=1/255,mean=0.485,0.456,0.406,std=0.229,0.224,0.225");
//   if (!p) return p.status();          // "--preprocess: unknown key 'sise' (known: size, scale, ...)"
//   Expected<Image> img = decode_image_file("calib/cat.jpg");
//   std::vector<float> chw(3 * 224 * 224);
//   Status s = quant::preprocess_image(*img, *p, /*channels=*/3, chw.data());
//
// The spec is a comma-separated list of key=value; mean and std take their values on after the comma:
//   size=HxW (or size=N for NxN)   resize target; absent (0) = the model input's static H and W
//   scale=1/255 or scale=0.0039   multiplies the 0..255 pixel value first        (default 1/255)
//   mean=a,b,c  std=a,b,c          per channel, in the model's channel order (so after color=bgr
//                                  the first value is the blue one); one value = all channels
//                                  (defaults 0 and 1)
//   color=rgb|bgr                  channel order the model expects                 (default rgb)
//   layout=nchw|nhwc               where the channel dim is in the model input     (default nchw)
// value = (pixel * scale - mean[c]) / std[c]. Example: torchvision's ImageNet models take
// "scale=1/255,mean=0.485,0.456,0.406,std=0.229,0.224,0.225"; Caffe-style BGR models with means in
// pixel units take "scale=1,color=bgr,mean=103.94,116.78,123.68".
//
// Resizing stretches the image to HxW (no letterbox, no crop) with bilinear interpolation and half-pixel
// centres, the formula of cv2.resize(..., interpolation=cv2.INTER_LINEAR): src = (dst + 0.5) * in/out - 0.5,
// clamped to the edge. It is computed in float and not rounded back to 8 bits (cv2 rounds to uint8, so the
// two differ by at most half a pixel step); like cv2 and unlike PIL, there is no anti-aliasing filter when
// shrinking.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/image.h"
#include "lowbit/status.h"

namespace lowbit::quant {

struct Preprocess {
  int64_t height = 0, width = 0;  // 0 = take from the model input's static dims
  float scale = 1.f / 255;
  std::vector<float> mean{0, 0, 0}, std{1, 1, 1};  // 3 values (parse_preprocess replicates a single one)
  bool bgr = false;
  bool nhwc = false;
  bool operator==(const Preprocess&) const = default;
};

// Every error names the bad key or value; unknown keys are errors; "" gives the defaults.
Expected<Preprocess> parse_preprocess(const std::string& spec);
// The canonical spec (every key in a fixed order; size only when set): parse_preprocess(to_string(p)) == p.
// "size=224x224,scale=1/255,mean=0,0,0,std=1,1,1,color=rgb,layout=nchw" (no size= when 0).
std::string to_string(const Preprocess& p);

// Resizes to out_h x out_w (see the top comment): RGB interleaved floats in 0..255 units. An image that
// already has the size is copied exactly.
std::vector<float> resize_bilinear(const Image& img, int64_t out_h, int64_t out_w);

// Writes one sample of p.height x p.width (both must be set) into out: `channels` planes (NCHW, one
// after the other) or interleaved channels (NHWC), per p.nhwc. channels is 3 (color order per p.bgr) or
// 1 (luma 0.299 R + 0.587 G + 0.114 B, as cv2 and PIL convert to grey; uses mean[0], std[0]).
// out holds channels * p.height * p.width floats.
Status preprocess_image(const Image& img, const Preprocess& p, int channels, float* out);

}  // namespace lowbit::quant
