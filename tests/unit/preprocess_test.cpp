// --preprocess parsing (values, every error naming its key/value), bilinear resize against hand-computed
// values (cv2.INTER_LINEAR's half-pixel formula), and normalisation into NCHW / NHWC, RGB / BGR / grey.
#include "quant/preprocess.h"

#include <gtest/gtest.h>

namespace lowbit::quant {
namespace {

Preprocess parse_ok(const std::string& spec) {
  auto p = parse_preprocess(spec);
  EXPECT_TRUE(p.ok()) << spec << ": " << p.status().message();
  return p.ok() ? *p : Preprocess{};
}

std::string parse_error(const std::string& spec) {
  auto p = parse_preprocess(spec);
  EXPECT_FALSE(p.ok()) << spec << " parsed";
  return p.ok() ? "" : p.status().message();
}

// An 8-bit RGB image from interleaved values.
Image make_image(int64_t h, int64_t w, const std::vector<uint16_t>& rgb) {
  Image img;
  img.height = h;
  img.width = w;
  img.pixels = rgb;
  return img;
}

TEST(Preprocess, DefaultsAndFullSpec) {
  Preprocess d = parse_ok("");
  EXPECT_EQ(d, Preprocess{});
  EXPECT_EQ(d.height, 0);
  EXPECT_EQ(d.scale, 1.f / 255);
  EXPECT_EQ(parse_ok("   "), Preprocess{});

  Preprocess p =
      parse_ok("size=320x240,scale=1/255,mean=0.485,0.456,0.406,std=0.229,0.224,0.225,color=bgr,layout=nhwc");
  EXPECT_EQ(p.height, 320);
  EXPECT_EQ(p.width, 240);
  EXPECT_EQ(p.scale, float(1.0 / 255));
  EXPECT_EQ(p.mean, (std::vector<float>{0.485f, 0.456f, 0.406f}));
  EXPECT_EQ(p.std, (std::vector<float>{0.229f, 0.224f, 0.225f}));
  EXPECT_TRUE(p.bgr);
  EXPECT_TRUE(p.nhwc);
  // Order does not matter; spaces, upper case and Python brackets are tolerated.
  Preprocess q = parse_ok(
      " LAYOUT=NHWC , color=BGR, std=[0.229, 0.224, 0.225], mean=(0.485,0.456,0.406), "
      "scale = 1 / 255, size=320X240");
  EXPECT_EQ(p, q);
}

TEST(Preprocess, ScaleSizeAndSingleValues) {
  EXPECT_EQ(parse_ok("scale=0.0039").scale, 0.0039f);
  EXPECT_EQ(parse_ok("scale=1").scale, 1.0f);
  EXPECT_EQ(parse_ok("scale=2/255").scale, float(2.0 / 255));
  EXPECT_EQ(parse_ok("scale=1e-3").scale, 1e-3f);
  Preprocess sq = parse_ok("size=640");
  EXPECT_EQ(sq.height, 640);
  EXPECT_EQ(sq.width, 640);
  Preprocess one = parse_ok("mean=0.5,std=0.25");
  EXPECT_EQ(one.mean, (std::vector<float>{0.5f, 0.5f, 0.5f}));
  EXPECT_EQ(one.std, (std::vector<float>{0.25f, 0.25f, 0.25f}));
  EXPECT_EQ(parse_ok("mean=-1,+2,3e1").mean, (std::vector<float>{-1, 2, 30}));
}

TEST(Preprocess, ErrorsNameTheKeyAndValue) {
  struct Case {
    const char* spec;
    const char* expect;
  };
  for (Case c : {
           Case{"sise=224x224", "unknown key 'sise' (known: size, scale, mean, std, color, layout)"},
           Case{"size=224x", "size=224x: expected HxW"},
           Case{"size=axb", "size=axb: expected HxW"},
           Case{"size=0x224", "size=0x224: height and width must be between 1 and 16384"},
           Case{"size=-3x4", "size=-3x4: expected HxW"},
           Case{"size=99999x5", "size=99999x5: height and width"},
           Case{"scale=1/0", "scale=1/0: division by zero"},
           Case{"scale=abc", "scale=abc: expected a number (0.0039) or a fraction (1/255)"},
           Case{"scale=-1", "scale=-1: the scale must be a positive"},
           Case{"scale=nan", "scale=nan: expected a number"},
           Case{"scale=1e60", "scale=1e60: the scale must be a positive float32"},
           Case{"mean=1,2", "mean=1,2: expected 1 or 3 values (one per channel), got 2"},
           Case{"mean=1,2,3,4", "mean=1,2,3,4: expected 1 or 3 values"},
           Case{"mean=1,x,3", "mean=1,x,3: 'x' is not a finite number"},
           Case{"std=1,0,1", "std=1,0,1: '0' is not positive"},
           Case{"std=-0.5", "std=-0.5: '-0.5' is not positive"},
           Case{"color=grey", "color=grey: expected rgb or bgr"},
           Case{"layout=chw", "layout=chw: expected nchw or nhwc"},
           Case{"mean=0,0,0,mean=1", "key 'mean' is given twice"},
           Case{"224x224", "'224x224' is not key=value"},
           Case{"size=224x224,,scale=1", "empty entry"},
           Case{"scale=1,", "empty entry"},
           Case{"=5", "'=5' has no key"},
           Case{"scale=", "scale= has no value"},
           Case{"size=2x2,3", "'3' is not key=value"},
       }) {
    std::string msg = parse_error(c.spec);
    EXPECT_NE(msg.find(c.expect), std::string::npos) << c.spec << " -> " << msg;
    EXPECT_EQ(msg.rfind("--preprocess: ", 0), 0u) << msg;
  }
}

TEST(Preprocess, ToStringRoundTrips) {
  for (const char* spec :
       {"", "size=224x224,scale=1/255,mean=0.485,0.456,0.406,std=0.229,0.224,0.225",
        "scale=1,mean=103.94,116.78,123.68,color=bgr", "size=32x48,scale=0.0039,layout=nhwc", "scale=1/127.5,mean=1"}) {
    Preprocess p = parse_ok(spec);
    std::string text = to_string(p);
    EXPECT_EQ(parse_ok(text), p) << spec << " -> " << text;
  }
  EXPECT_EQ(to_string(parse_ok("size=224x224,mean=0.485,0.456,0.406")),
            "size=224x224,scale=1/255,mean=0.485,0.456,0.406,std=1,1,1,color=rgb,layout=nchw");
  EXPECT_EQ(to_string(Preprocess{}), "scale=1/255,mean=0,0,0,std=1,1,1,color=rgb,layout=nchw");
}

// Hand-computed with src = (dst + 0.5) * in/out - 0.5, clamped (cv2.INTER_LINEAR):
//   2 -> 4: src = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1) -> p0, .75p0+.25p1, .25p0+.75p1, p1
//   4 -> 2: src = 0.5, 2.5 -> averages of pairs
//   3 -> 2: src = 0.25, 1.75 -> .75p0+.25p1, .25p1+.75p2
TEST(Preprocess, BilinearResizeMatchesHandComputedValues) {
  auto row = [](const std::vector<uint16_t>& v) {  // one row, grey replicated
    std::vector<uint16_t> rgb;
    for (uint16_t x : v) rgb.insert(rgb.end(), {x, x, x});
    return make_image(1, int64_t(v.size()), rgb);
  };
  auto channel0 = [](const std::vector<float>& rgb) {
    std::vector<float> r;
    for (size_t i = 0; i < rgb.size(); i += 3) r.push_back(rgb[i]);
    return r;
  };
  EXPECT_EQ(channel0(resize_bilinear(row({0, 100}), 1, 4)), (std::vector<float>{0, 25, 75, 100}));
  EXPECT_EQ(channel0(resize_bilinear(row({0, 100, 200, 40}), 1, 2)), (std::vector<float>{50, 120}));
  EXPECT_EQ(channel0(resize_bilinear(row({0, 100, 200}), 1, 2)), (std::vector<float>{25, 175}));

  // 2x2 -> 3x3 in both directions: scale 2/3, src = -1/6 (->0), 0.5, 7/6 (->1).
  Image sq = make_image(2, 2, {0, 0, 0, 90, 90, 90, 30, 30, 30, 210, 210, 210});
  std::vector<float> out = channel0(resize_bilinear(sq, 3, 3));
  std::vector<float> expect = {0, 45, 90, 15, 82.5f, 150, 30, 120, 210};
  ASSERT_EQ(out.size(), expect.size());
  for (size_t i = 0; i < out.size(); ++i) EXPECT_FLOAT_EQ(out[i], expect[i]) << i;

  // Channels stay apart; the same size is an exact copy.
  Image c = make_image(1, 2, {10, 20, 30, 40, 50, 60});
  EXPECT_EQ(resize_bilinear(c, 1, 2), (std::vector<float>{10, 20, 30, 40, 50, 60}));
  EXPECT_EQ(resize_bilinear(c, 1, 1), (std::vector<float>{25, 35, 45}));
}

TEST(Preprocess, NormalisesIntoNchwRgb) {
  Image img = make_image(1, 2, {0, 128, 255, 10, 20, 30});
  Preprocess p = parse_ok("size=1x2,scale=1/255,mean=0.5,0.25,0,std=0.5,2,1");
  std::vector<float> out(6);
  ASSERT_TRUE(preprocess_image(img, p, 3, out.data()).ok());
  auto v = [&](float pixel, int c) { return (pixel * p.scale - p.mean[size_t(c)]) / p.std[size_t(c)]; };
  // Planes: R of both pixels, then G, then B.
  EXPECT_EQ(out, (std::vector<float>{v(0, 0), v(10, 0), v(128, 1), v(20, 1), v(255, 2), v(30, 2)}));
  EXPECT_FLOAT_EQ(out[0], -1.0f);
  EXPECT_FLOAT_EQ(out[4], 1.0f);
}

TEST(Preprocess, BgrAndNhwc) {
  Image img = make_image(1, 2, {1, 2, 3, 4, 5, 6});
  Preprocess p = parse_ok("size=1x2,scale=1,mean=100,200,300,color=bgr,layout=nhwc");
  std::vector<float> out(6);
  ASSERT_TRUE(preprocess_image(img, p, 3, out.data()).ok());
  // Interleaved B,G,R per pixel; mean in the model's (BGR) order.
  EXPECT_EQ(out, (std::vector<float>{3 - 100, 2 - 200, 1 - 300, 6 - 100, 5 - 200, 4 - 300}));
  p.nhwc = false;
  ASSERT_TRUE(preprocess_image(img, p, 3, out.data()).ok());
  EXPECT_EQ(out, (std::vector<float>{3 - 100, 6 - 100, 2 - 200, 5 - 200, 1 - 300, 4 - 300}));
}

TEST(Preprocess, GreyModelUsesLumaAndResizes) {
  Image img = make_image(1, 2, {255, 0, 0, 10, 10, 10});
  Preprocess p = parse_ok("size=1x2,scale=1");
  std::vector<float> out(2);
  ASSERT_TRUE(preprocess_image(img, p, 1, out.data()).ok());
  EXPECT_FLOAT_EQ(out[0], 0.299f * 255);
  EXPECT_FLOAT_EQ(out[1], 10);
  // Resizing happens before the grey conversion: 2 -> 1 averages to (132.5, 5, 5).
  p.width = 1;
  ASSERT_TRUE(preprocess_image(img, p, 1, out.data()).ok());
  EXPECT_FLOAT_EQ(out[0], 0.299f * 132.5f + 0.587f * 5 + 0.114f * 5);
}

TEST(Preprocess, SixteenBitImagesUseEightBitUnits) {
  Image img = make_image(1, 1, {65535, 0, 257});
  img.bit_depth = 16;
  Preprocess p = parse_ok("size=1x1");
  std::vector<float> out(3);
  ASSERT_TRUE(preprocess_image(img, p, 3, out.data()).ok());
  EXPECT_FLOAT_EQ(out[0], 1.0f);
  EXPECT_FLOAT_EQ(out[1], 0.0f);
  EXPECT_FLOAT_EQ(out[2], 1.0f / 255);
}

TEST(Preprocess, ApplyErrors) {
  Image img = make_image(1, 1, {1, 2, 3});
  std::vector<float> out(3);
  Status no_size = preprocess_image(img, Preprocess{}, 3, out.data());
  ASSERT_FALSE(no_size.ok());
  EXPECT_NE(no_size.message().find("size=HxW"), std::string::npos);
  Status two = preprocess_image(img, parse_ok("size=1x1"), 2, out.data());
  ASSERT_FALSE(two.ok());
  EXPECT_NE(two.message().find("1 or 3 channels"), std::string::npos);
}

}  // namespace
}  // namespace lowbit::quant
