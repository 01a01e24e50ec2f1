// oneDNN ConvTranspose, nearest Resize, DepthToSpace, Reshape and Concat vs the reference kernels, on random odd shapes and on
// blocked inputs (a Conv in front), rtol 1e-4. Also checks which geometries stay on the reference kernel.
#include <gtest/gtest.h>

#include "onednn_test_util.h"

namespace lowbit {
namespace {

using namespace onednn_test;

struct DeconvCase {
  int64_t n, c, m, h, w, k, group, stride, dilation;
  std::vector<int64_t> pads, output_padding;
  bool bias;
  std::string activation;
  int expect_onednn = 1;
};

TEST(OneDnnConvTranspose, RandomShapesMatchReference) {
  std::mt19937 rng(seed_for("OneDnnConvTranspose.RandomShapesMatchReference"));
  const std::vector<DeconvCase> cases = {
      {1, 8, 1, 9, 11, 2, 1, 2, 1, {0, 0, 0, 0}, {0, 0}, true, ""},    // the OCR head: 2x2 stride 2, one channel
      {2, 7, 5, 6, 5, 3, 1, 2, 1, {1, 0, 1, 2}, {1, 0}, false, ""},    // asymmetric pads, output_padding
      {1, 12, 9, 5, 7, 3, 3, 1, 2, {1, 1, 1, 1}, {0, 0}, true, ""},    // groups, dilation
      {1, 16, 16, 8, 8, 4, 16, 2, 1, {1, 1, 1, 1}, {0, 0}, true, ""},  // depthwise
      {1, 17, 19, 4, 6, 3, 1, 3, 1, {1, 0, 1, 1}, {1, 1}, true, "Relu"},
      // output_padding beyond pad_end: bias-only cells past the full result, a negative right pad for oneDNN
      {1, 17, 19, 4, 6, 3, 1, 3, 1, {0, 0, 0, 0}, {2, 1}, true, "Relu", 0},
      {1, 5, 24, 7, 7, 2, 1, 2, 1, {0, 0, 0, 0}, {0, 0}, true, "Sigmoid"},
      // stride == kernel, kw * M >= 16 columns: one matmul per kernel row (conv_transpose_patches.cpp)
      {2, 24, 24, 5, 7, 2, 1, 2, 1, {0, 0, 0, 0}, {0, 0}, true, "Relu"},   // the DB head's 24 -> 24 layer, batch 2
      {1, 13, 9, 3, 4, 3, 1, 3, 1, {0, 0, 0, 0}, {0, 0}, false, ""},       // 3x3 patches, odd channels
      {1, 16, 8, 6, 5, 2, 1, 2, 1, {0, 0, 0, 0}, {0, 0}, true, "HardSwish"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE("case " + std::to_string(i));
    const DeconvCase& k = cases[i];
    GraphBuilder b;
    b.input("x", {k.n, k.c, k.h, k.w});
    b.constant("w", random_tensor(rng, {k.c, k.m / k.group, k.k, k.k}));
    std::vector<std::string> ins = {"x", "w"};
    if (k.bias) {
      b.constant("b", random_tensor(rng, {k.m}));
      ins.push_back("b");
    }
    std::map<std::string, Attribute> attrs = {{"group", int1(k.group)},
                                              {"strides", ints({k.stride, k.stride})},
                                              {"dilations", ints({k.dilation, k.dilation})},
                                              {"pads", ints(k.pads)},
                                              {"output_padding", ints(k.output_padding)}};
    if (!k.activation.empty()) attrs["lowbit_activation"] = str(k.activation);
    b.node("ConvTranspose", ins, {"y"}, attrs);
    EXPECT_EQ(compare_backends(b.done({"y"}), {{"x", random_tensor(rng, {k.n, k.c, k.h, k.w})}}), k.expect_onednn);
  }
}

// Resize with constant scales (or sizes) on a blocked input; integer nearest upscales run on oneDNN, everything
// else stays on the reference kernel.
TEST(OneDnnResize, NearestIntegerScales) {
  std::mt19937 rng(seed_for("OneDnnResize.NearestIntegerScales"));
  struct Case {
    std::string mode, coord, nearest;
    std::vector<float> scales;  // empty: use sizes
    std::vector<int64_t> sizes;
    bool onednn;
  };
  const std::vector<Case> cases = {
      {"nearest", "asymmetric", "floor", {1, 1, 2, 2}, {}, true},  // the PaddleOCR FPN form
      {"nearest", "asymmetric", "floor", {1, 1, 4, 3}, {}, true},
      {"nearest", "half_pixel", "round_prefer_floor", {1, 1, 2, 2}, {}, true},
      {"nearest", "half_pixel", "round_prefer_floor", {1, 1, 3, 3}, {}, true},
      {"nearest", "asymmetric", "round_prefer_ceil", {1, 1, 2, 2}, {}, false},  // picks other pixels
      {"nearest", "asymmetric", "floor", {}, {2, 6, 14, 22}, true},             // sizes
      {"nearest", "asymmetric", "floor", {1, 1, 1.5f, 2}, {}, false},           // fractional factor
      {"nearest", "align_corners", "round_prefer_floor", {1, 1, 3, 3}, {}, false},
      {"linear", "asymmetric", "floor", {1, 1, 2, 2}, {}, false},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE("case " + std::to_string(i));
    const Case& c = cases[i];
    GraphBuilder b;
    b.input("x", {2, 5, 7, 11});
    b.constant("w", random_tensor(rng, {6, 5, 1, 1}));
    b.constant("roi", Tensor(DType::kFloat32, {0}));
    b.node("Conv", {"x", "w"}, {"c"});  // blocked output
    std::vector<std::string> ins = {"c", "roi"};
    if (c.scales.empty()) {
      b.constant("scales", Tensor(DType::kFloat32, {0}));
      b.constant("sizes", Tensor::from_vector<int64_t>(DType::kInt64, {4}, c.sizes));
      ins.insert(ins.end(), {"scales", "sizes"});
    } else {
      b.constant("scales", Tensor::from_vector<float>(DType::kFloat32, {4}, c.scales));
      ins.push_back("scales");
    }
    b.node("Resize", ins, {"y"},
           {{"mode", str(c.mode)}, {"coordinate_transformation_mode", str(c.coord)}, {"nearest_mode", str(c.nearest)}});
    EXPECT_EQ(compare_backends(b.done({"y"}), {{"x", random_tensor(rng, {2, 5, 7, 11})}}), c.onednn ? 2 : 1);
  }
}

// DepthToSpace on a blocked Conv output (reordered to nhwc) and on the plain input: DCR on oneDNN's side (row
// copies), CRD on the reference kernel.
TEST(OneDnnDepthToSpace, DcrRunsOnNhwcCopiesCrdStaysReference) {
  std::mt19937 rng(seed_for("OneDnnDepthToSpace.DcrRunsOnNhwcCopiesCrdStaysReference"));
  for (const std::string mode : {"DCR", "CRD"})
    for (int64_t block : {2, 3}) {
      SCOPED_TRACE(mode + " " + std::to_string(block));
      GraphBuilder b;
      b.input("x", {2, 5, 4, 7});
      b.constant("w", random_tensor(rng, {3 * block * block, 5, 1, 1}));
      b.node("Conv", {"x", "w"}, {"c"});
      b.node("DepthToSpace", {"c"}, {"y"}, {{"blocksize", int1(block)}, {"mode", str(mode)}});
      EXPECT_EQ(compare_backends(b.done({"y"}), {{"x", random_tensor(rng, {2, 5, 4, 7})}}, 1e-6), mode == "DCR" ? 2 : 1);
    }
}

// Reshape / Flatten / Unsqueeze of plain tensors on oneDNN's side: a copy while the input is still read later, the
// input's own buffer when it dies there (bit for bit the reference's result either way).
TEST(OneDnnReshape, PlainInputsReshapeInPlaceOrByCopy) {
  std::mt19937 rng(seed_for("OneDnnReshape.PlainInputsReshapeInPlaceOrByCopy"));
  GraphBuilder b;
  b.input("x", {2, 6, 4, 5});
  b.constant("shape", Tensor::from_vector<int64_t>(DType::kInt64, {3}, {2, 24, -1}));
  b.constant("axes", Tensor::from_vector<int64_t>(DType::kInt64, {1}, {1}));
  b.node("Relu", {"x"}, {"r"});                              // plain
  b.node("Reshape", {"r", "shape"}, {"copied"});             // r is read again below: a copy
  b.node("Flatten", {"r"}, {"flat"}, {{"axis", int1(2)}});   // r dies here: in place
  b.node("Unsqueeze", {"flat", "axes"}, {"unsq"});
  EXPECT_EQ(compare_backends(b.done({"copied", "unsq"}), {{"x", random_tensor(rng, {2, 6, 4, 5})}}, 0, 3), 4);
}

// Concat of blocked and plain inputs with odd channel counts, on the channel axis and others.
TEST(OneDnnConcat, MixedLayoutsAndAxes) {
  std::mt19937 rng(seed_for("OneDnnConcat.MixedLayoutsAndAxes"));
  for (int64_t axis : {1, -1, 0, 2}) {
    SCOPED_TRACE("axis " + std::to_string(axis));
    const int64_t c1 = 3 + int64_t(rng() % 20), c2 = 1 + int64_t(rng() % 40);
    GraphBuilder b;
    b.input("x", {1, 4, 9, 9});
    b.input("p", {1, axis == 1 ? 7 : c2, 9, 9});
    b.constant("w1", random_tensor(rng, {axis == 1 ? c1 : c2, 4, 3, 3}));
    b.constant("w2", random_tensor(rng, {c2, 4, 3, 3}));
    b.node("Conv", {"x", "w1"}, {"a"}, {{"pads", ints({1, 1, 1, 1})}});
    b.node("Conv", {"x", "w2"}, {"c"}, {{"pads", ints({1, 1, 1, 1})}});
    b.node("Concat", {"a", "c", "p"}, {"y"}, {{"axis", int1(axis)}});
    b.node("Relu", {"y"}, {"z"});
    EXPECT_EQ(compare_backends(b.done({"z"}), {{"x", random_tensor(rng, {1, 4, 9, 9})},
                                               {"p", random_tensor(rng, {1, axis == 1 ? 7 : c2, 9, 9})}}),
              4);
  }
}

}  // namespace
}  // namespace lowbit
