// MaxPool / AveragePool / GlobalAveragePool / GlobalMaxPool: hand-computed cases (several taken from
// ONNX's node tests and checked against PyTorch), a naive N-d re-implementation on random shapes,
// symbolic inference, and error cases.
#include <algorithm>
#include <limits>

#include "norm_pool_test_util.h"

using namespace lowbit;
using namespace lowbit::np_test;

namespace {

Node pool_node(const std::string& op, std::map<std::string, Attribute> attrs, size_t outputs = 1) {
  return make_node(op, 1, outputs, std::move(attrs));
}

Tensor iota(Shape shape, float start = 1) {
  Tensor t(DType::kFloat32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = start + float(i);
  return t;
}

// Naive N-d pooling written straight from the ONNX text: every kernel tap, bounds-checked.
struct NaivePool {
  std::vector<int64_t> k, s, d, pb, pe;
  bool ceil = false, include_pad = false, is_max = true;
};

Shape naive_out_shape(const Shape& x, const NaivePool& p) {
  Shape out = {x[0], x[1]};
  for (size_t a = 0; a < p.k.size(); ++a) {
    const int64_t eff = (p.k[a] - 1) * p.d[a] + 1;
    const double v = double(x[a + 2] + p.pb[a] + p.pe[a] - eff) / double(p.s[a]);
    int64_t o = int64_t(p.ceil ? std::ceil(v) : std::floor(v)) + 1;
    if (p.ceil && (o - 1) * p.s[a] >= x[a + 2] + p.pb[a]) --o;
    out.push_back(o);
  }
  return out;
}

std::vector<double> naive_pool(const Tensor& x, const NaivePool& p, std::vector<double>* argmax = nullptr) {
  const Shape& xs = x.shape();
  const Shape os = naive_out_shape(xs, p);
  const size_t r = p.k.size();
  int64_t in_plane = 1, out_plane = 1, taps = 1;
  for (size_t a = 0; a < r; ++a) in_plane *= xs[a + 2], out_plane *= os[a + 2], taps *= p.k[a];
  std::vector<double> out;
  for (int64_t c = 0; c < xs[0] * xs[1]; ++c) {
    for (int64_t o = 0; o < out_plane; ++o) {
      double best = -std::numeric_limits<double>::infinity(), sum = 0;
      int64_t best_idx = -1, count = 0, padded_count = 0;
      for (int64_t t = 0; t < taps; ++t) {
        int64_t orem = o, trem = t, offset = 0, stride = 1;
        bool inside = true, inside_padded = true;
        for (size_t a = r; a-- > 0;) {
          const int64_t oi = orem % os[a + 2], ti = trem % p.k[a];
          orem /= os[a + 2], trem /= p.k[a];
          const int64_t pos = oi * p.s[a] - p.pb[a] + ti * p.d[a];
          inside &= pos >= 0 && pos < xs[a + 2];
          inside_padded &= pos < xs[a + 2] + p.pe[a];
          offset += pos * stride;
          stride *= xs[a + 2];
        }
        padded_count += inside_padded;
        if (!inside) continue;
        const double v = x.get_as_double(c * in_plane + offset);
        ++count;
        sum += v;
        if (v > best) best = v, best_idx = c * in_plane + offset;
      }
      if (p.is_max) {
        out.push_back(best);
        if (argmax) argmax->push_back(double(best_idx));
      } else {
        out.push_back(sum / double(p.include_pad ? padded_count : count));
      }
    }
  }
  return out;
}

}  // namespace

TEST(MaxPool, TwoByTwoStrideTwo) {
  auto r = run_op(pool_node("MaxPool", {{"kernel_shape", ints_attr({2, 2})}, {"strides", ints_attr({2, 2})}}), 13,
                  {iota({1, 1, 4, 4})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{1, 1, 2, 2}));
  expect_near(r.outputs[0], {6, 8, 14, 16});
}

TEST(MaxPool, DilationsOnnxExample) {  // test_maxpool_2d_dilations
  auto r = run_op(pool_node("MaxPool", {{"kernel_shape", ints_attr({2, 2})}, {"dilations", ints_attr({2, 2})}}), 12,
                  {iota({1, 1, 4, 4})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.outputs[0], {11, 12, 15, 16});
}

TEST(MaxPool, IndicesWithPadsOnnxExample) {  // test_maxpool_with_argmax_2d_precomputed_pads
  auto r = run_op(pool_node("MaxPool", {{"kernel_shape", ints_attr({5, 5})}, {"pads", ints_attr({2, 2, 2, 2})}}, 2), 12,
                  {iota({1, 1, 5, 5})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  std::vector<double> row_values[3] = {{13, 14, 15, 15, 15}, {18, 19, 20, 20, 20}, {23, 24, 25, 25, 25}};
  std::vector<double> y, idx;
  for (int i = 0; i < 5; ++i)
    for (double v : row_values[std::min(i, 2)]) y.push_back(v), idx.push_back(v - 1);
  expect_near(r.outputs[0], y);
  EXPECT_EQ(r.outputs[1].dtype(), DType::kInt64);
  expect_near(r.outputs[1], idx, 0, 0);
}

TEST(MaxPool, IndicesColumnMajorOnnxExample) {  // test_maxpool_with_argmax_2d_precomputed_strides
  auto r = run_op(
      pool_node("MaxPool",
                {{"kernel_shape", ints_attr({2, 2})}, {"strides", ints_attr({2, 2})}, {"storage_order", int_attr(1)}},
                2),
      12, {iota({1, 1, 5, 5})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.outputs[0], {7, 9, 17, 19});
  expect_near(r.outputs[1], {6, 16, 8, 18}, 0, 0);
}

TEST(MaxPool, IndicesCountBatchAndChannels) {
  // Indices are flat over N x C x spatial: the second plane's argmax is offset by one plane.
  Tensor x = floats({2, 2, 1, 3}, {1, 3, 2, /**/ 9, 8, 7, /**/ 0, 0, 5, /**/ -1, -2, -3});
  auto r = run_op(pool_node("MaxPool", {{"kernel_shape", ints_attr({1, 3})}}, 2), 12, {x});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.outputs[0], {3, 9, 5, -1});
  expect_near(r.outputs[1], {1, 3, 8, 9}, 0, 0);
}

TEST(MaxPool, SameUpperAndLowerPutTheOddPadAtOppositeEnds) {
  Tensor x = iota({1, 1, 4});
  for (auto [mode, max_expect, avg_expect] :
       {std::tuple{"SAME_UPPER", std::vector<double>{2, 3, 4, 4}, std::vector<double>{1.5, 2.5, 3.5, 4}},
        std::tuple{"SAME_LOWER", std::vector<double>{1, 2, 3, 4}, std::vector<double>{1, 1.5, 2.5, 3.5}}}) {
    std::map<std::string, Attribute> attrs = {{"kernel_shape", ints_attr({2})}, {"auto_pad", string_attr(mode)}};
    auto m = run_op(pool_node("MaxPool", attrs), 12, {x});
    ASSERT_TRUE(m.status.ok()) << m.status.message();
    expect_near(m.outputs[0], max_expect, 0, 0, mode);
    auto a = run_op(pool_node("AveragePool", attrs), 12, {x});
    ASSERT_TRUE(a.status.ok()) << a.status.message();
    expect_near(a.outputs[0], avg_expect, 1e-6, 0, mode);
  }
}

TEST(MaxPool, ValidAutoPadIgnoresPads) {
  auto r = run_op(
      pool_node("MaxPool",
                {{"kernel_shape", ints_attr({3})}, {"strides", ints_attr({2})}, {"auto_pad", string_attr("VALID")}}),
      12, {iota({1, 1, 6})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.outputs[0], {3, 5});
}

TEST(MaxPool, CeilModeDropsWindowStartingInRightPadding) {
  // in=4, k=2, s=3, pads 1+1: ceil((4+2-2)/3)+1 = 3, but window 3 would start at 6-1=5 >= 4: dropped.
  // PyTorch max_pool1d(arange(1,5), 2, 3, padding=1, ceil_mode=True) = [1, 4].
  auto r = run_op(pool_node("MaxPool", {{"kernel_shape", ints_attr({2})},
                                        {"strides", ints_attr({3})},
                                        {"pads", ints_attr({1, 1})},
                                        {"ceil_mode", int_attr(1)}}),
                  12, {iota({1, 1, 4})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{1, 1, 2}));
  expect_near(r.outputs[0], {1, 4});
}

TEST(MaxPool, CeilModeKeepsPartialWindow) {  // test_maxpool_2d_ceil: 4x4, k3, s2 -> 2x2
  auto r = run_op(
      pool_node("MaxPool",
                {{"kernel_shape", ints_attr({3, 3})}, {"strides", ints_attr({2, 2})}, {"ceil_mode", int_attr(1)}}),
      12, {iota({1, 1, 4, 4})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.outputs[0], {11, 12, 15, 16});
  // ceil_mode did not exist before opset 10: the attribute is ignored there (floor -> 1x1).
  auto old = run_op(
      pool_node("MaxPool",
                {{"kernel_shape", ints_attr({3, 3})}, {"strides", ints_attr({2, 2})}, {"ceil_mode", int_attr(1)}}),
      9, {iota({1, 1, 4, 4})});
  ASSERT_TRUE(old.status.ok()) << old.status.message();
  EXPECT_EQ(old.outputs[0].shape(), (Shape{1, 1, 1, 1}));
}

TEST(MaxPool, IntegerAndHalfTypes) {
  Tensor i8 = Tensor::from_vector<int8_t>(DType::kInt8, {1, 1, 4}, {-128, -5, 127, 3});
  auto r = run_op(pool_node("MaxPool", {{"kernel_shape", ints_attr({2})}}), 12, {i8});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.outputs[0].dtype(), DType::kInt8);
  expect_near(r.outputs[0], {-5, 127, 127}, 0, 0);

  Tensor u8 = Tensor::from_vector<uint8_t>(DType::kUint8, {1, 1, 3}, {0, 255, 7});
  r = run_op(pool_node("MaxPool", {{"kernel_shape", ints_attr({2})}}), 12, {u8});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.outputs[0], {255, 255}, 0, 0);

  Tensor h = Tensor::from_vector<uint16_t>(DType::kFloat16, {1, 1, 3},
                                           {float_to_half(-1.5f), float_to_half(2.25f), float_to_half(0.5f)});
  r = run_op(pool_node("MaxPool", {{"kernel_shape", ints_attr({2})}}), 12, {h});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.outputs[0], {2.25, 2.25}, 0, 0);
  r = run_op(pool_node("AveragePool", {{"kernel_shape", ints_attr({2})}}), 12, {h});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.outputs[0], {0.375, 1.375}, 0, 0);

  Tensor d = Tensor::from_vector<double>(DType::kFloat64, {1, 1, 2}, {0.1, 0.3});
  r = run_op(pool_node("AveragePool", {{"kernel_shape", ints_attr({2})}}), 12, {d});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_DOUBLE_EQ(r.outputs[0].data<double>()[0], (0.1 + 0.3) / 2);
}

TEST(AveragePool, CountIncludePad) {
  std::map<std::string, Attribute> attrs = {{"kernel_shape", ints_attr({2})}, {"pads", ints_attr({1, 1})}};
  auto excl = run_op(pool_node("AveragePool", attrs), 12, {iota({1, 1, 3})});
  ASSERT_TRUE(excl.status.ok()) << excl.status.message();
  expect_near(excl.outputs[0], {1, 1.5, 2.5, 3});
  attrs["count_include_pad"] = int_attr(1);
  auto incl = run_op(pool_node("AveragePool", attrs), 12, {iota({1, 1, 3})});
  ASSERT_TRUE(incl.status.ok()) << incl.status.message();
  expect_near(incl.outputs[0], {0.5, 1.5, 2.5, 1.5});
}

TEST(AveragePool, CeilModeWindowPastPaddingIsNotCounted) {
  // PyTorch avg_pool1d(arange(1,7), 3, 2, padding=1, ceil_mode=True): include_pad [1,3,5,3], exclude [1.5,3,5,6].
  std::map<std::string, Attribute> attrs = {{"kernel_shape", ints_attr({3})},
                                            {"strides", ints_attr({2})},
                                            {"pads", ints_attr({1, 1})},
                                            {"ceil_mode", int_attr(1)}};
  auto excl = run_op(pool_node("AveragePool", attrs), 12, {iota({1, 1, 6})});
  ASSERT_TRUE(excl.status.ok()) << excl.status.message();
  expect_near(excl.outputs[0], {1.5, 3, 5, 6});
  attrs["count_include_pad"] = int_attr(1);
  auto incl = run_op(pool_node("AveragePool", attrs), 12, {iota({1, 1, 6})});
  ASSERT_TRUE(incl.status.ok()) << incl.status.message();
  expect_near(incl.outputs[0], {1, 3, 5, 3});
}

TEST(Pool, RandomShapesMatchNaive) {
  const uint32_t seed = test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  auto uni = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  ThreadPool pool(2);
  int checked = 0;
  for (int iter = 0; iter < 300; ++iter) {
    const size_t r = size_t(uni(1, 3));
    NaivePool p;
    p.is_max = uni(0, 1) == 1;
    p.ceil = uni(0, 1) == 1;
    p.include_pad = uni(0, 1) == 1;
    const int auto_pad = int(uni(0, 5));  // 0..2: NOTSET, 3: SAME_UPPER, 4: SAME_LOWER, 5: VALID
    Shape xs = {uni(1, 2), uni(1, 3)};
    for (size_t a = 0; a < r; ++a) {
      xs.push_back(uni(1, 8));
      p.k.push_back(uni(1, 4));
      p.s.push_back(uni(1, 3));
      p.d.push_back(p.is_max ? uni(1, 2) : 1);
      const int64_t eff = (p.k[a] - 1) * p.d[a] + 1;
      // Pads up to eff + 1: larger than the kernel is legal as long as no window is all padding.
      p.pb.push_back(auto_pad <= 2 ? uni(0, std::min<int64_t>(eff + 1, 3)) : 0);
      p.pe.push_back(auto_pad <= 2 ? uni(0, std::min<int64_t>(eff + 1, 3)) : 0);
    }
    std::map<std::string, Attribute> attrs = {{"kernel_shape", ints_attr(p.k)}, {"strides", ints_attr(p.s)}};
    if (p.is_max) attrs["dilations"] = ints_attr(p.d);
    if (!p.is_max) attrs["count_include_pad"] = int_attr(p.include_pad);
    if (auto_pad <= 2) {
      std::vector<int64_t> pads = p.pb;
      pads.insert(pads.end(), p.pe.begin(), p.pe.end());
      attrs["pads"] = ints_attr(pads);
      attrs["ceil_mode"] = int_attr(p.ceil);
    } else {
      // auto_pad: the test derives the explicit pads itself, and ceil_mode does not apply.
      p.ceil = false;
      attrs["auto_pad"] = string_attr(auto_pad == 3 ? "SAME_UPPER" : auto_pad == 4 ? "SAME_LOWER" : "VALID");
      for (size_t a = 0; a < r && auto_pad != 5; ++a) {
        const int64_t out = (xs[a + 2] + p.s[a] - 1) / p.s[a], eff = (p.k[a] - 1) * p.d[a] + 1;
        const int64_t total = std::max<int64_t>(0, (out - 1) * p.s[a] + eff - xs[a + 2]);
        p.pb[a] = auto_pad == 3 ? total / 2 : total - total / 2;
        p.pe[a] = total - p.pb[a];
      }
    }
    Shape expected_shape = naive_out_shape(xs, p);
    bool valid = std::all_of(expected_shape.begin(), expected_shape.end(), [](int64_t d) { return d >= 1; });
    for (size_t a = 0; a < r && valid; ++a)  // every window needs a tap inside the input
      for (int64_t o = 0; o < expected_shape[a + 2] && valid; ++o) {
        bool any = false;
        for (int64_t j = 0; j < p.k[a]; ++j) {
          const int64_t pos = o * p.s[a] - p.pb[a] + j * p.d[a];
          any |= pos >= 0 && pos < xs[a + 2];
        }
        valid = any;
      }
    Tensor x = random_floats(xs, rng);
    const bool with_indices = p.is_max && uni(0, 1) == 1;
    Node node = pool_node(p.is_max ? "MaxPool" : "AveragePool", attrs, with_indices ? 2 : 1);
    auto res = run_op(node, 12, {x}, iter % 2 ? &pool : nullptr);
    std::string what = "iter " + std::to_string(iter) + " x " + shape_to_string(xs);
    if (!valid) {
      EXPECT_EQ(res.status.code(), StatusCode::kInvalidModel) << what;
      continue;
    }
    ASSERT_TRUE(res.status.ok()) << what << ": " << res.status.message();
    ASSERT_EQ(res.outputs[0].shape(), expected_shape) << what;
    std::vector<double> argmax;
    expect_near(res.outputs[0], naive_pool(x, p, &argmax), 1e-5, 1e-5, what);
    if (with_indices) expect_near(res.outputs[1], argmax, 0, 0, what + " indices");
    ++checked;
  }
  EXPECT_GT(checked, 100);
}

TEST(GlobalPool, AnyRank) {
  for (Shape s : {Shape{2, 3, 5}, Shape{1, 2, 3, 4}, Shape{2, 1, 2, 3, 2}}) {
    Tensor x = iota(s, -7);
    auto avg = run_op(make_node("GlobalAveragePool", 1, 1), 12, {x});
    auto mx = run_op(make_node("GlobalMaxPool", 1, 1), 12, {x});
    ASSERT_TRUE(avg.status.ok() && mx.status.ok()) << avg.status.message() << mx.status.message();
    Shape expected = s;
    std::fill(expected.begin() + 2, expected.end(), 1);
    EXPECT_EQ(avg.outputs[0].shape(), expected);
    EXPECT_EQ(mx.outputs[0].shape(), expected);
    const int64_t planes = s[0] * s[1], plane = x.numel() / planes;
    std::vector<double> mean, max;
    for (int64_t c = 0; c < planes; ++c) {
      mean.push_back(-7 + double(c * plane) + double(plane - 1) / 2);  // mean of an arithmetic run
      max.push_back(-7 + double(c * plane + plane - 1));
    }
    expect_near(avg.outputs[0], mean);
    expect_near(mx.outputs[0], max);
  }
}

TEST(Pool, SymbolicInference) {
  ValueType x(DType::kFloat32, {Dim::symbol("batch"), 3, Dim::symbol("h"), 32});
  std::vector<ValueType> out;
  Node node = pool_node("MaxPool", {{"kernel_shape", ints_attr({2, 2})}, {"strides", ints_attr({2, 2})}}, 2);
  ASSERT_TRUE(infer(node, 13, {&x}, &out).ok());
  EXPECT_EQ(out[0].to_string(), "float32[batch,3,?,16]");
  EXPECT_EQ(out[1].dtype, DType::kInt64);
  EXPECT_EQ(out[1].to_string(), "int64[batch,3,?,16]");

  ASSERT_TRUE(infer(make_node("GlobalAveragePool", 1, 1), 13, {&x}, &out).ok());
  EXPECT_EQ(out[0].to_string(), "float32[batch,3,1,1]");

  ValueType unranked;
  unranked.dtype = DType::kFloat32;
  ASSERT_TRUE(infer(node, 13, {&unranked}, &out).ok());
  EXPECT_EQ(out[0].dtype, DType::kFloat32);
  EXPECT_FALSE(out[0].has_shape);
}

TEST(Pool, Errors) {
  Tensor x = iota({1, 1, 4, 4});
  auto code = [&](std::map<std::string, Attribute> attrs, const Tensor& in, const char* op = "MaxPool") {
    return run_op(pool_node(op, std::move(attrs)), 12, {in}).status.code();
  };
  EXPECT_EQ(code({}, x), StatusCode::kInvalidModel);                                  // no kernel_shape
  EXPECT_EQ(code({{"kernel_shape", ints_attr({2})}}, x), StatusCode::kInvalidModel);  // wrong length
  EXPECT_EQ(code({{"kernel_shape", ints_attr({2, 0})}}, x), StatusCode::kInvalidModel);
  EXPECT_EQ(code({{"kernel_shape", ints_attr({2, 2})}, {"pads", ints_attr({1, 1})}}, x), StatusCode::kInvalidModel);
  EXPECT_EQ(code({{"kernel_shape", ints_attr({2, 2})}, {"pads", ints_attr({2, 0, 0, 0})}}, x),
            StatusCode::kInvalidModel);  // first window entirely in padding
  EXPECT_EQ(code({{"kernel_shape", ints_attr({2, 2})}, {"pads", ints_attr({0, 0, 0, 2})}}, x),
            StatusCode::kInvalidModel);  // last window entirely in padding
  EXPECT_EQ(code({{"kernel_shape", ints_attr({2, 2})}, {"pads", ints_attr({-1, 0, 0, 0})}}, x),
            StatusCode::kInvalidModel);
  EXPECT_EQ(code({{"kernel_shape", ints_attr({2, 2})}, {"strides", ints_attr({0, 1})}}, x), StatusCode::kInvalidModel);
  EXPECT_EQ(code({{"kernel_shape", ints_attr({2, 2})}, {"auto_pad", string_attr("SAME")}}, x),
            StatusCode::kInvalidModel);
  EXPECT_EQ(code({{"kernel_shape", ints_attr({5, 5})}}, x), StatusCode::kInvalidModel);          // kernel > input
  EXPECT_EQ(code({{"kernel_shape", ints_attr({2})}}, iota({4, 4})), StatusCode::kInvalidModel);  // rank 2
  EXPECT_EQ(code({{"kernel_shape", ints_attr({2, 2})}, {"dilations", ints_attr({2, 2})}}, x, "AveragePool"),
            StatusCode::kUnsupported);
  Tensor i32(DType::kInt32, {1, 1, 4, 4});
  EXPECT_EQ(code({{"kernel_shape", ints_attr({2, 2})}}, i32), StatusCode::kUnsupported);
  EXPECT_EQ(code({{"kernel_shape", ints_attr({2, 2})}}, Tensor(DType::kInt8, {1, 1, 4, 4}), "AveragePool"),
            StatusCode::kUnsupported);
  // Absurd values are rejected up front (no overflow, no long validation loop).
  EXPECT_EQ(code({{"kernel_shape", ints_attr({int64_t(1) << 40, 2})}}, x), StatusCode::kInvalidModel);
  EXPECT_EQ(code({{"kernel_shape", ints_attr({2, 2})}, {"pads", ints_attr({0, 0, int64_t(1) << 40, 0})}}, x),
            StatusCode::kInvalidModel);
  // Missing input.
  EXPECT_EQ(run_op(make_node("MaxPool", 0, 1, {{"kernel_shape", ints_attr({2, 2})}}), 12, {}).status.code(),
            StatusCode::kInvalidModel);
  EXPECT_EQ(run_op(make_node("GlobalMaxPool", 1, 1), 12, {iota({2, 3})}).status.code(), StatusCode::kInvalidModel);
  // The message names the node and the offending attribute.
  auto r = run_op(pool_node("MaxPool", {{"kernel_shape", ints_attr({2})}}), 12, {x});
  EXPECT_NE(r.status.message().find("MaxPool 'n'"), std::string::npos) << r.status.message();
  EXPECT_NE(r.status.message().find("kernel_shape"), std::string::npos) << r.status.message();
}

TEST(AveragePool, PadsLargerThanKernelAsPyTorchOpset9Exports) {
  // PyTorch exports ceil_mode at opset 9 as extra end padding (pads 1+2 with kernel 2):
  // avg_pool1d(arange(1,10), 2, 3, padding=1, ceil_mode=True, count_include_pad=False) = [1, 3.5, 6.5, 9].
  auto r = run_op(pool_node("AveragePool", {{"kernel_shape", ints_attr({2})}, {"strides", ints_attr({3})},
                                            {"pads", ints_attr({1, 2})}}),
                  9, {iota({1, 1, 9})});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  expect_near(r.outputs[0], {1, 3.5, 6.5, 9});
}
