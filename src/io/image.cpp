// PNG / JPEG decoding. Both libraries report errors by calling a handler that must not return: libjpeg's
// default one calls exit(), libpng's longjmps to png_jmpbuf. We install handlers that record the message
// and longjmp back to us. Rules that keep this well-defined in C++:
//   - every setjmp sits in guarded(), whose only locals are trivial; the code it runs (a lambda calling
//     the library) creates no object with a destructor, so a longjmp never skips one;
//   - everything with a destructor (output buffers, the file's bytes) is created before, outside;
//   - the library's own state is always destroyed afterwards (jpeg_destroy_decompress /
//     png_destroy_read_struct free everything they allocated, also after an error).
#include "io/image.h"

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

// jpeglib.h needs size_t and FILE declared first (<cstdio> above); jerror.h holds the message codes.
#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

namespace lowbit {
namespace {

constexpr unsigned char kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

// Runs f(); returns false if the library longjmp'd out of it (see the rules at the top).
// noinline: the setjmp must stay in this frame, not merge into the caller's.
template <typename F>
__attribute__((noinline)) bool guarded(std::jmp_buf& jump, F&& f) {
  if (setjmp(jump)) return false;
  f();
  return true;
}

std::string lower_extension(const std::string& filename) {
  std::string ext = std::filesystem::path(filename).extension().string();
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

Status check_dims(int64_t width, int64_t height, const std::string& name, const ImageLimits& limits) {
  if (width <= 0 || height <= 0)
    return error(StatusCode::kInvalidArgument, name, ": image has no pixels (", width, "x", height, ")");
  if (width > limits.max_pixels / height)
    return error(StatusCode::kResourceExhausted, name, ": image of ", width, "x", height,
                 " pixels exceeds the limit of ", limits.max_pixels, " pixels");
  return Status::Ok();
}

// ---- JPEG -----------------------------------------------------------------------------------

struct JpegError {
  jpeg_error_mgr mgr;  // first member: libjpeg hands us a jpeg_error_mgr*
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  char corrupt[JMSG_LENGTH_MAX];  // first warning that means the pixels are wrong; "" if none
};

void jpeg_on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  cinfo->err->format_message(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Warnings: libjpeg decodes on after them, filling missing data with grey. Calibrating on half-grey
// images would silently skew the ranges, so truncation and corrupt entropy data become errors (like
// PIL's "image file is truncated"); harmless ones (extra bytes between markers, odd JFIF versions) pass.
void jpeg_on_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  int code = cinfo->err->msg_code;
  bool corrupt = code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_HUFF_BAD_CODE ||
                 code == JWRN_MUST_RESYNC || code == JWRN_NOT_SEQUENTIAL;
  if (corrupt && err->corrupt[0] == '\0') cinfo->err->format_message(cinfo, err->corrupt);
  cinfo->err->num_warnings++;
}

void jpeg_silent(j_common_ptr) {}  // the default prints to stderr

// CMYK as libjpeg hands it over; Adobe files (the common case) store it inverted.
inline void cmyk_to_rgb(const JSAMPLE* p, bool inverted, uint16_t* out) {
  int c = p[0], m = p[1], y = p[2], k = p[3];
  if (!inverted) {
    c = 255 - c;
    m = 255 - m;
    y = 255 - y;
    k = 255 - k;
  }
  out[0] = uint16_t((c * k + 127) / 255);
  out[1] = uint16_t((m * k + 127) / 255);
  out[2] = uint16_t((y * k + 127) / 255);
}

Expected<Image> decode_jpeg(const std::string& bytes, const std::string& name, const ImageLimits& limits) {
  jpeg_decompress_struct cinfo;
  JpegError err;
  std::memset(&cinfo, 0, sizeof(cinfo));
  std::memset(&err, 0, sizeof(err));
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_on_error;
  err.mgr.emit_message = jpeg_on_message;
  err.mgr.output_message = jpeg_silent;

  bool created = false;
  bool cmyk = false;
  auto fail = [&](const char* what) {
    if (created) jpeg_destroy_decompress(&cinfo);
    // Running out of data makes libjpeg warn, insert an end marker and fail later with a message about
    // whatever it was parsing ("Bogus Huffman table definition"): the warning says what really happened.
    if (err.corrupt[0] != '\0')
      return error(StatusCode::kInvalidArgument, name, ": corrupt or truncated JPEG file: ", err.corrupt,
                   " (then: ", err.message, ")");
    return error(StatusCode::kInvalidArgument, name, ": ", what, ": ", err.message);
  };
  bool ok = guarded(err.jump, [&] {
    jpeg_create_decompress(&cinfo);
    created = true;
    jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()),
                 static_cast<unsigned long>(bytes.size()));
    jpeg_read_header(&cinfo, TRUE);
    cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    // libjpeg-turbo converts grey and YCbCr to RGB itself, but not CMYK.
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_calc_output_dimensions(&cinfo);
  });
  if (!ok) return fail("cannot read the JPEG header");

  Image img;
  img.width = cinfo.output_width;
  img.height = cinfo.output_height;
  img.source_channels = cinfo.num_components;
  Status dims = check_dims(img.width, img.height, name, limits);
  if (!dims.ok() || cinfo.output_components != (cmyk ? 4 : 3)) {
    jpeg_destroy_decompress(&cinfo);
    if (!dims.ok()) return dims;
    return error(StatusCode::kUnsupported, name, ": JPEG with ", cinfo.num_components, " color components");
  }
  const bool adobe_inverted = cmyk && cinfo.saw_Adobe_marker;
  img.pixels.resize(size_t(img.width * img.height * 3));
  std::vector<JSAMPLE> row(size_t(img.width) * size_t(cinfo.output_components));

  ok = guarded(err.jump, [&] {
    jpeg_start_decompress(&cinfo);
    JSAMPROW rows[1] = {row.data()};
    while (cinfo.output_scanline < cinfo.output_height) {
      JDIMENSION y = cinfo.output_scanline;
      if (jpeg_read_scanlines(&cinfo, rows, 1) != 1) break;
      uint16_t* out = img.pixels.data() + size_t(y) * size_t(img.width) * 3;
      if (cmyk) {
        for (JDIMENSION x = 0; x < cinfo.output_width; ++x) cmyk_to_rgb(&row[x * 4], adobe_inverted, out + x * 3);
      } else {
        for (size_t i = 0; i < size_t(img.width) * 3; ++i) out[i] = row[i];
      }
    }
    jpeg_finish_decompress(&cinfo);
  });
  if (!ok) return fail("corrupt JPEG data");
  jpeg_destroy_decompress(&cinfo);
  if (err.corrupt[0] != '\0')
    return error(StatusCode::kInvalidArgument, name, ": corrupt or truncated JPEG file: ", err.corrupt);
  return img;
}

// ---- PNG ------------------------------------------------------------------------------------

struct PngContext {
  std::jmp_buf jump;
  char message[256];
  const unsigned char* data;
  size_t size;
  size_t pos;
};

void png_on_error(png_structp png, png_const_charp msg) {
  auto* ctx = static_cast<PngContext*>(png_get_error_ptr(png));
  std::snprintf(ctx->message, sizeof(ctx->message), "%s", msg ? msg : "unknown error");
  std::longjmp(ctx->jump, 1);
}

void png_on_warning(png_structp, png_const_charp) {}  // e.g. "iCCP: known incorrect sRGB profile": harmless

void png_read_from_memory(png_structp png, png_bytep out, png_size_t n) {
  auto* ctx = static_cast<PngContext*>(png_get_io_ptr(png));
  if (n > ctx->size - ctx->pos) png_error(png, "truncated PNG file (premature end of data)");
  std::memcpy(out, ctx->data + ctx->pos, n);
  ctx->pos += n;
}

Expected<Image> decode_png(const std::string& bytes, const std::string& name, const ImageLimits& limits) {
  PngContext ctx;
  std::memset(&ctx, 0, sizeof(ctx));
  ctx.data = reinterpret_cast<const unsigned char*>(bytes.data());
  ctx.size = bytes.size();
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_on_error, png_on_warning);
  if (!png) return error(StatusCode::kResourceExhausted, name, ": cannot create a PNG reader");
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    return error(StatusCode::kResourceExhausted, name, ": cannot create a PNG reader");
  }
  auto fail = [&](const std::string& what) {
    png_destroy_read_struct(&png, &info, nullptr);
    return error(StatusCode::kInvalidArgument, name, ": ", what, ctx.message);
  };

  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, color_type = 0;
  bool ok = guarded(ctx.jump, [&] {
    png_set_read_fn(png, &ctx, png_read_from_memory);
    // libpng's own cap on dimensions, before anything is allocated for rows.
    png_set_user_limits(png, 1u << 20, 1u << 20);
    png_read_info(png, info);
    png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, nullptr, nullptr, nullptr);
    // Normalise every PNG flavour to RGB at 8 or 16 bits (see image.h).
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (color_type & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    if (bit_depth == 16) png_set_swap(png);  // PNG is big-endian; we read native uint16_t
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
  });
  if (!ok) return fail("cannot read the PNG header: ");

  Image img;
  img.width = width;
  img.height = height;
  img.bit_depth = bit_depth == 16 ? 16 : 8;
  img.source_channels = color_type == PNG_COLOR_TYPE_GRAY         ? 1
                        : color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
                        : color_type == PNG_COLOR_TYPE_RGB_ALPHA  ? 4
                                                                  : 3;
  Status dims = check_dims(img.width, img.height, name, limits);
  const size_t row_bytes = png_get_rowbytes(png, info);
  const size_t expected_row = size_t(img.width) * 3 * size_t(img.bit_depth / 8);
  if (!dims.ok() || row_bytes != expected_row) {
    png_destroy_read_struct(&png, &info, nullptr);
    if (!dims.ok()) return dims;
    return error(StatusCode::kInternal, name, ": unexpected PNG row size ", row_bytes, " (expected ", expected_row,
                 ")");
  }
  img.pixels.resize(size_t(img.width * img.height * 3));
  // 16-bit rows go straight into the pixels; 8-bit rows into a byte buffer widened afterwards.
  std::vector<unsigned char> bytes8(img.bit_depth == 8 ? size_t(img.height) * row_bytes : 0);
  std::vector<png_bytep> rows(size_t(img.height));
  for (size_t y = 0; y < rows.size(); ++y)
    rows[y] = img.bit_depth == 8 ? bytes8.data() + y * row_bytes
                                 : reinterpret_cast<png_bytep>(img.pixels.data() + y * size_t(img.width) * 3);
  ok = guarded(ctx.jump, [&] {
    png_read_image(png, rows.data());
    png_read_end(png, nullptr);
  });
  if (!ok) return fail("corrupt PNG data: ");
  png_destroy_read_struct(&png, &info, nullptr);
  if (img.bit_depth == 8) std::copy(bytes8.begin(), bytes8.end(), img.pixels.begin());
  return img;
}

}  // namespace

ImageFormat sniff_image_format(const void* head, size_t size) {
  auto* p = static_cast<const unsigned char*>(head);
  if (size >= 8 && std::memcmp(p, kPngSignature, 8) == 0) return ImageFormat::kPng;
  if (size >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return ImageFormat::kJpeg;  // SOI + a marker
  return ImageFormat::kUnknown;
}

Expected<ImageFormat> image_file_format(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error(StatusCode::kIoError, path, ": cannot open");
  char head[8] = {};
  in.read(head, sizeof(head));
  ImageFormat f = sniff_image_format(head, size_t(in.gcount()));
  if (f == ImageFormat::kUnknown) return error(StatusCode::kInvalidArgument, path, ": not a PNG/JPEG file");
  return f;
}

bool has_decodable_image_extension(const std::string& filename) {
  std::string ext = lower_extension(filename);
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".jpe";
}

bool has_other_image_extension(const std::string& filename) {
  std::string ext = lower_extension(filename);
  for (const char* e : {".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm", ".pgm", ".pbm", ".heic", ".avif", ".jxl",
                        ".jp2", ".exr", ".hdr", ".dib", ".ico"})
    if (ext == e) return true;
  return false;
}

Expected<Image> decode_image(const std::string& bytes, const std::string& display_name, const ImageLimits& limits) {
  switch (sniff_image_format(bytes.data(), bytes.size())) {
    case ImageFormat::kPng:
      return decode_png(bytes, display_name, limits);
    case ImageFormat::kJpeg:
      return decode_jpeg(bytes, display_name, limits);
    default:
      return error(StatusCode::kInvalidArgument, display_name, ": not a PNG/JPEG file");
  }
}

Expected<Image> decode_image_file(const std::string& path, const ImageLimits& limits) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return error(StatusCode::kNotFound, path, ": no such file (or not a regular file)");
  auto size = std::filesystem::file_size(path, ec);
  if (ec) return error(StatusCode::kIoError, path, ": cannot read: ", ec.message());
  if (int64_t(size) > limits.max_file_bytes)
    return error(StatusCode::kResourceExhausted, path, ": file of ", size, " bytes exceeds the image limit of ",
                 limits.max_file_bytes, " bytes");
  std::ifstream in(path, std::ios::binary);
  if (!in) return error(StatusCode::kIoError, path, ": cannot open");
  std::string bytes(size_t(size), '\0');
  in.read(bytes.data(), std::streamsize(size));
  if (in.gcount() != std::streamsize(size))
    return error(StatusCode::kIoError, path, ": cannot read (file changed while reading?)");
  return decode_image(bytes, path, limits);
}

}  // namespace lowbit
