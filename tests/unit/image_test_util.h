// Test helpers: a temporary folder, and PNG / JPEG writers (libpng, libjpeg) so that tests make their
// own images with known pixels instead of committing binaries.
#pragma once
#include "temp_dir.h"
#include <gtest/gtest.h>
#include <jpeglib.h>
#include <png.h>
#include <unistd.h>

#include <csetjmp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace lowbit::testing {

using lowbit::test::TempDir;

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Writes a PNG. `samples` holds height*width*channels values (channels from color_type), row-major,
// each < 2^bit_depth. Palette images take indices, with `palette` as RGB triples.
inline void write_png(const std::string& path, int width, int height, int color_type, int bit_depth,
                      const std::vector<uint16_t>& samples, bool interlaced = false,
                      const std::vector<png_color>& palette = {}) {
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_TRUE(f) << path;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    std::fclose(f);
    FAIL() << "libpng failed writing " << path;
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, png_uint_32(width), png_uint_32(height), bit_depth, color_type,
               interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_PLTE(png, info, palette.data(), int(palette.size()));
  png_write_info(png, info);
  if (bit_depth < 8) png_set_packing(png);  // we hand over one byte per sample
  int channels = color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_PALETTE ? 1
                 : color_type == PNG_COLOR_TYPE_GRAY_ALPHA                                 ? 2
                 : color_type == PNG_COLOR_TYPE_RGB                                        ? 3
                                                                                           : 4;
  size_t bytes_per = bit_depth == 16 ? 2 : 1;
  std::vector<unsigned char> data(size_t(width) * height * channels * bytes_per);
  for (size_t i = 0; i < samples.size() && i * bytes_per < data.size(); ++i) {
    if (bytes_per == 2) {
      data[2 * i] = static_cast<unsigned char>(samples[i] >> 8);  // PNG is big-endian
      data[2 * i + 1] = static_cast<unsigned char>(samples[i] & 0xff);
    } else {
      data[i] = static_cast<unsigned char>(samples[i]);
    }
  }
  std::vector<png_bytep> rows(static_cast<size_t>(height));
  for (int y = 0; y < height; ++y) rows[size_t(y)] = data.data() + size_t(y) * width * channels * bytes_per;
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  std::fclose(f);
}

inline void write_png_rgb(const std::string& path, int width, int height, const std::vector<uint16_t>& rgb) {
  write_png(path, width, height, PNG_COLOR_TYPE_RGB, 8, rgb);
}

// Writes a baseline JPEG at quality 100 without chroma subsampling (so flat colors come back within a
// few levels). components: 1 (grey), 3 (RGB) or 4 (CMYK, stored as given, with libjpeg's Adobe marker).
inline void write_jpeg(const std::string& path, int width, int height, int components,
                       const std::vector<uint8_t>& pixels, int quality = 100) {
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_TRUE(f) << path;
  jpeg_compress_struct cinfo;
  jpeg_error_mgr jerr;
  cinfo.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&cinfo);
  jpeg_stdio_dest(&cinfo, f);
  cinfo.image_width = JDIMENSION(width);
  cinfo.image_height = JDIMENSION(height);
  cinfo.input_components = components;
  cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : components == 3 ? JCS_RGB : JCS_CMYK;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  for (int c = 0; c < cinfo.num_components; ++c) {
    cinfo.comp_info[c].h_samp_factor = 1;
    cinfo.comp_info[c].v_samp_factor = 1;
  }
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPLE*>(pixels.data() + size_t(cinfo.next_scanline) * width * components);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::fclose(f);
}

// A flat-colored RGB image (what JPEG reproduces almost exactly).
inline std::vector<uint8_t> flat_rgb(int width, int height, uint8_t r, uint8_t g, uint8_t b) {
  std::vector<uint8_t> p(size_t(width) * size_t(height) * 3);
  for (size_t i = 0; i < p.size(); i += 3) {
    p[i] = r;
    p[i + 1] = g;
    p[i + 2] = b;
  }
  return p;
}

}  // namespace lowbit::testing
