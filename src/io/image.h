// PNG and JPEG decoding for calibration images (libpng, libjpeg-turbo).
//
//   Expected<Image> img = decode_image_file("calib/cat.jpg");
//   if (!img) return img.status();                 // "calib/cat.jpg: not a PNG/JPEG file", ...
//   float red = img->value(/*y=*/0, /*x=*/0, /*c=*/0);   // 0..255 whatever the bit depth
//
// Every image comes out as interleaved RGB (height x width x 3), which is what the preprocessing
// (src/quant/preprocess.h) expects, whatever the file held:
//   grey          -> replicated into R, G and B
//   grey + alpha,
//   RGBA          -> alpha dropped (not blended onto a background; cv2.imread and PIL's convert("RGB")
//                    do the same, so calibration sees what the deployed pipeline most likely sees)
//   palette, 1/2/4-bit grey  -> expanded to 8-bit RGB
//   16-bit PNG    -> kept at 16 bits (bit_depth 16); value() maps 65535 to 255 so `scale=1/255`
//                    means the same for 8- and 16-bit files
//   CMYK JPEG     -> converted to RGB (Adobe's inverted CMYK included)
// Not applied: EXIF orientation, ICC profiles, PNG gamma (neither cv2.imread nor PIL's Image.open
// applies the latter two by default, and calibration ranges barely depend on them).
//
// The format is taken from the file's first bytes, not its extension. A corrupt or truncated file is
// an error naming the file; the libraries' error paths (longjmp out of libjpeg/libpng) are contained
// here, so bad input never aborts the process or leaks.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "lowbit/status.h"

namespace lowbit {

enum class ImageFormat { kUnknown, kPng, kJpeg };

struct Image {
  int64_t height = 0, width = 0;
  int bit_depth = 8;             // 8 or 16 (16-bit PNG only)
  int source_channels = 3;       // what the file held: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA/CMYK (for messages)
  std::vector<uint16_t> pixels;  // height * width * 3, RGB interleaved, row-major

  // Pixel value in 8-bit units (0..255), also for 16-bit images (value / 257).
  float value(int64_t y, int64_t x, int c) const {
    float v = float(pixels[size_t((y * width + x) * 3 + c)]);
    return bit_depth == 16 ? v / 257.0f : v;
  }
};

// Refuses absurd image headers before allocating (a 100-byte file can claim 65535 x 65535 pixels).
struct ImageLimits {
  int64_t max_pixels = int64_t(1) << 27;  // 134 Mpixel: 800 MB as 16-bit RGB
  int64_t max_file_bytes = int64_t(1) << 30;
};

// PNG / JPEG from the first bytes of a file (8 are enough), kUnknown otherwise.
ImageFormat sniff_image_format(const void* head, size_t size);
// Reads just enough of the file to tell its format; error "<path>: not a PNG/JPEG file" otherwise.
Expected<ImageFormat> image_file_format(const std::string& path);
// True for the extensions lowbit decodes: .png .jpg .jpeg .jpe (any case).
bool has_decodable_image_extension(const std::string& filename);
// True for other common image extensions (.bmp .webp .tif .tiff .gif ...), to tell the user why
// they were skipped.
bool has_other_image_extension(const std::string& filename);

Expected<Image> decode_image_file(const std::string& path, const ImageLimits& limits = {});
// Decodes from memory; display_name is used in messages.
Expected<Image> decode_image(const std::string& bytes, const std::string& display_name, const ImageLimits& limits = {});

}  // namespace lowbit
