// PNG / JPEG decoding: every PNG flavour to exact RGB, JPEG within a few levels, and bad files (wrong
// content, truncated at every length, random corruption, absurd sizes) as errors naming the file.
#include "io/image.h"

#include <gtest/gtest.h>

#include <random>

#include "image_test_util.h"

namespace lowbit {
namespace {

using testing::TempDir;
using testing::write_jpeg;
using testing::write_png;

void expect_rgb(const Image& img, int64_t y, int64_t x, float r, float g, float b) {
  EXPECT_EQ(img.value(y, x, 0), r) << "at (" << y << "," << x << ")";
  EXPECT_EQ(img.value(y, x, 1), g) << "at (" << y << "," << x << ")";
  EXPECT_EQ(img.value(y, x, 2), b) << "at (" << y << "," << x << ")";
}

TEST(Image, PngRgbExact) {
  TempDir dir;
  // 3 wide, 2 high.
  write_png(dir.file("a.png"), 3, 2, PNG_COLOR_TYPE_RGB, 8,
            {0, 1, 2, 10, 20, 30, 255, 254, 253, 100, 0, 50, 7, 8, 9, 128, 64, 32});
  auto img = decode_image_file(dir.file("a.png"));
  ASSERT_TRUE(img.ok()) << img.status().message();
  EXPECT_EQ(img->width, 3);
  EXPECT_EQ(img->height, 2);
  EXPECT_EQ(img->bit_depth, 8);
  EXPECT_EQ(img->source_channels, 3);
  expect_rgb(*img, 0, 0, 0, 1, 2);
  expect_rgb(*img, 0, 2, 255, 254, 253);
  expect_rgb(*img, 1, 0, 100, 0, 50);
  expect_rgb(*img, 1, 2, 128, 64, 32);
}

TEST(Image, PngGreyIsReplicatedAndAlphaDropped) {
  TempDir dir;
  write_png(dir.file("g.png"), 2, 1, PNG_COLOR_TYPE_GRAY, 8, {17, 240});
  write_png(dir.file("ga.png"), 2, 1, PNG_COLOR_TYPE_GRAY_ALPHA, 8, {17, 0, 240, 128});
  write_png(dir.file("rgba.png"), 2, 1, PNG_COLOR_TYPE_RGB_ALPHA, 8, {1, 2, 3, 0, 4, 5, 6, 255});
  for (auto [name, channels] : {std::pair{"g.png", 1}, std::pair{"ga.png", 2}}) {
    auto img = decode_image_file(dir.file(name));
    ASSERT_TRUE(img.ok()) << img.status().message();
    EXPECT_EQ(img->source_channels, channels);
    expect_rgb(*img, 0, 0, 17, 17, 17);
    expect_rgb(*img, 0, 1, 240, 240, 240);
  }
  auto rgba = decode_image_file(dir.file("rgba.png"));
  ASSERT_TRUE(rgba.ok()) << rgba.status().message();
  EXPECT_EQ(rgba->source_channels, 4);
  expect_rgb(*rgba, 0, 0, 1, 2, 3);  // alpha 0 does not blacken the pixel: it is dropped, not blended
  expect_rgb(*rgba, 0, 1, 4, 5, 6);
}

TEST(Image, Png16BitKeepsPrecisionIn8BitUnits) {
  TempDir dir;
  write_png(dir.file("a.png"), 2, 1, PNG_COLOR_TYPE_RGB, 16, {0, 257, 65535, 1000, 30000, 514});
  auto img = decode_image_file(dir.file("a.png"));
  ASSERT_TRUE(img.ok()) << img.status().message();
  EXPECT_EQ(img->bit_depth, 16);
  expect_rgb(*img, 0, 0, 0, 1, 255);
  EXPECT_FLOAT_EQ(img->value(0, 1, 0), 1000.0f / 257);
  EXPECT_FLOAT_EQ(img->value(0, 1, 1), 30000.0f / 257);
  EXPECT_EQ(img->value(0, 1, 2), 2);
  // 16-bit grey too.
  write_png(dir.file("g.png"), 1, 1, PNG_COLOR_TYPE_GRAY, 16, {65535});
  auto grey = decode_image_file(dir.file("g.png"));
  ASSERT_TRUE(grey.ok()) << grey.status().message();
  expect_rgb(*grey, 0, 0, 255, 255, 255);
}

TEST(Image, PngPaletteLowBitGreyAndInterlaced) {
  TempDir dir;
  std::vector<png_color> palette = {{10, 20, 30}, {200, 100, 0}};
  write_png(dir.file("p.png"), 3, 1, PNG_COLOR_TYPE_PALETTE, 8, {1, 0, 1}, false, palette);
  auto p = decode_image_file(dir.file("p.png"));
  ASSERT_TRUE(p.ok()) << p.status().message();
  expect_rgb(*p, 0, 0, 200, 100, 0);
  expect_rgb(*p, 0, 1, 10, 20, 30);

  write_png(dir.file("bits.png"), 3, 1, PNG_COLOR_TYPE_GRAY, 1, {1, 0, 1});
  auto bits = decode_image_file(dir.file("bits.png"));
  ASSERT_TRUE(bits.ok()) << bits.status().message();
  expect_rgb(*bits, 0, 0, 255, 255, 255);
  expect_rgb(*bits, 0, 1, 0, 0, 0);

  std::vector<uint16_t> rgb;
  for (int i = 0; i < 9 * 9; ++i) rgb.insert(rgb.end(), {uint16_t(i), uint16_t(2 * i), uint16_t(255 - i)});
  write_png(dir.file("i.png"), 9, 9, PNG_COLOR_TYPE_RGB, 8, rgb, /*interlaced=*/true);
  auto inter = decode_image_file(dir.file("i.png"));
  ASSERT_TRUE(inter.ok()) << inter.status().message();
  for (int i = 0; i < 81; ++i) expect_rgb(*inter, i / 9, i % 9, float(i), float(2 * i), float(255 - i));
}

TEST(Image, JpegRgbGreyAndCmykWithinTolerance) {
  TempDir dir;
  write_jpeg(dir.file("rgb.jpg"), 16, 8, 3, testing::flat_rgb(16, 8, 200, 40, 90));
  write_jpeg(dir.file("grey.jpeg"), 8, 8, 1, std::vector<uint8_t>(64, 77));
  // Adobe CMYK as libjpeg writes it (inverted): RGB = C*K/255, ...
  std::vector<uint8_t> cmyk;
  for (int i = 0; i < 64; ++i) cmyk.insert(cmyk.end(), {200, 100, 50, 255});
  write_jpeg(dir.file("cmyk.jpg"), 8, 8, 4, cmyk);
  struct Case {
    const char* name;
    float r, g, b;
    int channels;
  };
  for (Case c :
       {Case{"rgb.jpg", 200, 40, 90, 3}, Case{"grey.jpeg", 77, 77, 77, 1}, Case{"cmyk.jpg", 200, 100, 50, 4}}) {
    auto img = decode_image_file(dir.file(c.name));
    ASSERT_TRUE(img.ok()) << c.name << ": " << img.status().message();
    EXPECT_EQ(img->source_channels, c.channels) << c.name;
    EXPECT_EQ(img->bit_depth, 8);
    for (int64_t y = 0; y < img->height; ++y)
      for (int64_t x = 0; x < img->width; ++x) {
        EXPECT_NEAR(img->value(y, x, 0), c.r, 3) << c.name;
        EXPECT_NEAR(img->value(y, x, 1), c.g, 3) << c.name;
        EXPECT_NEAR(img->value(y, x, 2), c.b, 3) << c.name;
      }
  }
}

TEST(Image, FormatComesFromContentNotExtension) {
  TempDir dir;
  write_png(dir.file("really_png.jpg"), 1, 1, PNG_COLOR_TYPE_RGB, 8, {1, 2, 3});
  write_jpeg(dir.file("really_jpeg.png"), 8, 8, 3, testing::flat_rgb(8, 8, 50, 60, 70));
  EXPECT_EQ(*image_file_format(dir.file("really_png.jpg")), ImageFormat::kPng);
  EXPECT_EQ(*image_file_format(dir.file("really_jpeg.png")), ImageFormat::kJpeg);
  EXPECT_TRUE(decode_image_file(dir.file("really_png.jpg")).ok());
  EXPECT_TRUE(decode_image_file(dir.file("really_jpeg.png")).ok());
}

TEST(Image, NotAnImageEmptyOrMissing) {
  TempDir dir;
  testing::write_bytes(dir.file("notes.png"), "just some text, not pixels");
  testing::write_bytes(dir.file("empty.jpg"), "");
  for (const char* name : {"notes.png", "empty.jpg"}) {
    auto img = decode_image_file(dir.file(name));
    ASSERT_FALSE(img.ok());
    EXPECT_EQ(img.status().message(), dir.file(name) + ": not a PNG/JPEG file");
    auto fmt = image_file_format(dir.file(name));
    ASSERT_FALSE(fmt.ok());
    EXPECT_EQ(fmt.status().message(), dir.file(name) + ": not a PNG/JPEG file");
  }
  auto missing = decode_image_file(dir.file("nope.png"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("nope.png: no such file"), std::string::npos);
  auto folder = decode_image_file(dir.path());
  EXPECT_FALSE(folder.ok());
}

// Every proper prefix of a valid file is an error (never a crash, never a half-grey image).
TEST(Image, TruncatedAtEveryLengthIsAnError) {
  TempDir dir;
  std::vector<uint16_t> rgb;
  for (int i = 0; i < 16 * 16; ++i) rgb.insert(rgb.end(), {uint16_t(i % 256), uint16_t((i * 7) % 256), 9});
  write_png(dir.file("a.png"), 16, 16, PNG_COLOR_TYPE_RGB, 8, rgb);
  std::vector<uint8_t> pix;
  for (int i = 0; i < 32 * 32 * 3; ++i) pix.push_back(uint8_t((i * 37) % 256));
  write_jpeg(dir.file("a.jpg"), 32, 32, 3, pix, 90);
  for (const char* name : {"a.png", "a.jpg"}) {
    std::string bytes = testing::read_bytes(dir.file(name));
    ASSERT_TRUE(decode_image(bytes, name).ok()) << name;
    for (size_t n = 0; n < bytes.size(); ++n) {
      auto img = decode_image(bytes.substr(0, n), name);
      ASSERT_FALSE(img.ok()) << name << " truncated to " << n << " of " << bytes.size() << " bytes decoded";
      EXPECT_EQ(img.status().message().rfind(std::string(name) + ": ", 0), 0u) << img.status().message();
    }
  }
  // Cut in the header tables and cut in the pixel data: both say so.
  const std::string jpg = testing::read_bytes(dir.file("a.jpg"));
  for (size_t n : {size_t(400), jpg.size() - 100}) {
    auto cut = decode_image(jpg.substr(0, n), "cut.jpg");
    ASSERT_FALSE(cut.ok());
    EXPECT_EQ(cut.status().message().rfind("cut.jpg: corrupt or truncated JPEG file: Premature end of JPEG file", 0),
              0u)
        << cut.status().message();
  }
  const std::string png = testing::read_bytes(dir.file("a.png"));
  auto cut_png = decode_image(png.substr(0, png.size() / 2), "cut.png");
  ASSERT_FALSE(cut_png.ok());
  EXPECT_NE(cut_png.status().message().find("truncated PNG file"), std::string::npos) << cut_png.status().message();
}

// Random byte flips: decoded or refused, never a crash (run under ASan/valgrind to check for leaks).
TEST(Image, RandomCorruptionNeverCrashes) {
  TempDir dir;
  std::vector<uint16_t> rgb(12 * 10 * 3, 99);
  write_png(dir.file("a.png"), 12, 10, PNG_COLOR_TYPE_RGB, 8, rgb);
  write_jpeg(dir.file("a.jpg"), 24, 16, 3, testing::flat_rgb(24, 16, 1, 2, 3), 75);
  const unsigned seed = 1234;
  std::mt19937 rng(seed);
  int refused = 0, decoded = 0;
  ImageLimits limits;  // a flipped header byte can claim 60000x9000 pixels: keep such decodes small
  limits.max_pixels = 100000;
  for (const char* name : {"a.png", "a.jpg"}) {
    const std::string good = testing::read_bytes(dir.file(name));
    for (int trial = 0; trial < 300; ++trial) {
      std::string bad = good;
      int flips = 1 + int(rng() % 4);
      for (int k = 0; k < flips; ++k) bad[rng() % bad.size()] = char(rng() % 256);
      auto img = decode_image(bad, name, limits);
      if (img.ok()) {
        ++decoded;
        EXPECT_EQ(img->pixels.size(), size_t(img->width * img->height * 3));
      } else {
        ++refused;
        EXPECT_EQ(img.status().message().rfind(std::string(name) + ": ", 0), 0u) << img.status().message();
      }
    }
  }
  EXPECT_GT(refused, 0) << "seed " << seed;
  (void)decoded;
}

TEST(Image, SizeLimitsRefuseBeforeDecoding) {
  TempDir dir;
  write_png(dir.file("a.png"), 4, 4, PNG_COLOR_TYPE_RGB, 8, std::vector<uint16_t>(48, 1));
  write_jpeg(dir.file("a.jpg"), 8, 8, 3, testing::flat_rgb(8, 8, 1, 2, 3));
  ImageLimits tiny;
  tiny.max_pixels = 15;
  for (const char* name : {"a.png", "a.jpg"}) {
    auto img = decode_image_file(dir.file(name), tiny);
    ASSERT_FALSE(img.ok()) << name;
    EXPECT_EQ(img.status().code(), StatusCode::kResourceExhausted);
    EXPECT_NE(img.status().message().find("exceeds the limit of 15 pixels"), std::string::npos)
        << img.status().message();
  }
  ImageLimits small_file;
  small_file.max_file_bytes = 10;
  auto big = decode_image_file(dir.file("a.png"), small_file);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("exceeds the image limit of 10 bytes"), std::string::npos);

  // A PNG header claiming 2^20 x 2^20 pixels in a 70-byte file: refused by the header check, no allocation.
  std::string bytes = testing::read_bytes(dir.file("a.png"));
  // IHDR width/height are bytes 16..23; the CRC after them is now wrong, which libpng reports too:
  // either way an error, not a 3 TB allocation.
  bytes.replace(16, 8, std::string("\x00\x10\x00\x00\x00\x10\x00\x00", 8));
  auto huge = decode_image(bytes, "huge.png");
  EXPECT_FALSE(huge.ok());
}

TEST(Image, Extensions) {
  for (const char* n : {"a.png", "b.PNG", "c.jpg", "d.JPEG", "e.jpe", "dir.x/f.Jpg"})
    EXPECT_TRUE(has_decodable_image_extension(n)) << n;
  for (const char* n : {"a.npy", "b.bmp", "png", "c.png.txt", "d"}) EXPECT_FALSE(has_decodable_image_extension(n)) << n;
  for (const char* n : {"a.bmp", "b.WEBP", "c.tiff", "d.gif"}) EXPECT_TRUE(has_other_image_extension(n)) << n;
  EXPECT_FALSE(has_other_image_extension("a.png"));
}

}  // namespace
}  // namespace lowbit
