// Conv and ConvTranspose: reference kernels against direct loops written here, plus inference checks.
#include <gtest/gtest.h>

#include "conv_gemm_test_util.h"

using namespace lowbit;
using namespace lowbit::cg_test;

namespace {

struct ConvCase {
  Shape x;                    // N x C x spatial...
  int64_t out_channels = 1;   // M
  Shape kernel;               // spatial
  int64_t group = 1;
  std::vector<int64_t> strides, dilations, pads;  // empty: attribute absent
  std::string auto_pad;                           // empty: attribute absent
  bool bias = true;
  // ConvTranspose only
  std::vector<int64_t> output_padding, output_shape;
};

std::string describe(const ConvCase& c) {
  auto list = [](const std::vector<int64_t>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
    return s + "]";
  };
  return "x=" + shape_to_string(c.x) + " M=" + std::to_string(c.out_channels) + " k=" + shape_to_string(c.kernel) +
         " group=" + std::to_string(c.group) + " strides=" + list(c.strides) + " dilations=" + list(c.dilations) +
         " pads=" + list(c.pads) + " auto_pad=" + c.auto_pad + " bias=" + std::to_string(c.bias) +
         " output_padding=" + list(c.output_padding) + " output_shape=" + list(c.output_shape);
}

Node conv_node(const ConvCase& c, bool transposed) {
  std::map<std::string, Attribute> attrs;
  if (c.group != 1) attrs["group"] = int_attr(c.group);
  if (!c.strides.empty()) attrs["strides"] = ints_attr(c.strides);
  if (!c.dilations.empty()) attrs["dilations"] = ints_attr(c.dilations);
  if (!c.pads.empty()) attrs["pads"] = ints_attr(c.pads);
  if (!c.auto_pad.empty()) attrs["auto_pad"] = string_attr(c.auto_pad);
  if (!c.output_padding.empty()) attrs["output_padding"] = ints_attr(c.output_padding);
  if (!c.output_shape.empty()) attrs["output_shape"] = ints_attr(c.output_shape);
  return make_node(transposed ? "ConvTranspose" : "Conv", c.bias ? 3 : 2, attrs);
}

int64_t at_or(const std::vector<int64_t>& v, size_t i, int64_t def) { return v.empty() ? def : v[i]; }

// Expected output spatial sizes and begin pads, computed from the ONNX formulas independently of conv_params.h.
void expected_geometry(const ConvCase& c, bool transposed, Shape* out, std::vector<int64_t>* pad_begin) {
  const size_t d = c.kernel.size();
  for (size_t i = 0; i < d; ++i) {
    const int64_t in = c.x[i + 2], k = c.kernel[i], s = at_or(c.strides, i, 1), dil = at_or(c.dilations, i, 1);
    const bool same = c.auto_pad == "SAME_UPPER" || c.auto_pad == "SAME_LOWER";
    const bool explicit_pads = c.auto_pad.empty() || c.auto_pad == "NOTSET";
    const int64_t pb = explicit_pads ? at_or(c.pads, i, 0) : 0, pe = explicit_pads ? at_or(c.pads, i + d, 0) : 0;
    if (!transposed) {
      if (same) {
        const int64_t o = (in + s - 1) / s;
        const int64_t total = std::max<int64_t>(0, (o - 1) * s + (k - 1) * dil + 1 - in);
        out->push_back(o);
        pad_begin->push_back(c.auto_pad == "SAME_UPPER" ? total / 2 : (total + 1) / 2);
      } else {
        out->push_back((in + pb + pe - (k - 1) * dil - 1) / s + 1);
        pad_begin->push_back(pb);
      }
    } else {
      const int64_t full = s * (in - 1) + at_or(c.output_padding, i, 0) + (k - 1) * dil + 1;
      if (!c.output_shape.empty() || same) {
        const int64_t o = c.output_shape.empty() ? in * s : c.output_shape[i];
        const int64_t total = std::max<int64_t>(0, full - o);
        out->push_back(o);
        pad_begin->push_back(c.auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2);
      } else {
        out->push_back(full - pb - pe);
        pad_begin->push_back(pb);
      }
    }
  }
}

// Iterates every multi-index of `dims`, calling fn(index vector, flat offset).
template <typename F>
void for_each_index(const Shape& dims, F&& fn) {
  int64_t total = 1;
  for (int64_t v : dims) total *= v;
  std::vector<int64_t> idx(dims.size(), 0);
  for (int64_t flat = 0; flat < total; ++flat) {
    int64_t rest = flat;
    for (size_t i = dims.size(); i-- > 0;) {
      idx[i] = rest % dims[i];
      rest /= dims[i];
    }
    fn(idx, flat);
  }
}

// Direct-loop Conv / ConvTranspose in double precision.
// `magnitude` receives, per output element, the sum of |terms| (for the error scale).
std::vector<double> naive(const ConvCase& c, bool transposed, const Tensor& x, const Tensor& w, const Tensor& b,
                          Shape* out_shape, std::vector<double>* magnitude) {
  Shape out_spatial;
  std::vector<int64_t> pb;
  expected_geometry(c, transposed, &out_spatial, &pb);
  const size_t d = c.kernel.size();
  const int64_t batch = c.x[0], channels = c.x[1], m = c.out_channels;
  const int64_t cin = channels / c.group, cout = m / c.group;
  const Shape in_spatial(c.x.begin() + 2, c.x.end());
  *out_shape = {batch, m};
  out_shape->insert(out_shape->end(), out_spatial.begin(), out_spatial.end());
  const auto in_st = strides_of(in_spatial), out_st = strides_of(out_spatial), k_st = strides_of(c.kernel);
  int64_t in_size = 1, out_size = 1, k_size = 1;
  for (size_t i = 0; i < d; ++i) in_size *= in_spatial[i], out_size *= out_spatial[i], k_size *= c.kernel[i];
  std::vector<double> y(batch * m * out_size, 0.0);
  std::vector<double>& mag = *magnitude;
  mag.assign(y.size(), 0.0);
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t oc = 0; oc < m; ++oc)
      for (int64_t p = 0; p < out_size; ++p) {
        y[(n * m + oc) * out_size + p] = c.bias ? b.get_as_double(oc) : 0.0;
        mag[(n * m + oc) * out_size + p] = c.bias ? std::abs(b.get_as_double(oc)) : 0.0;
      }
  // Conv: out[o] += x[o*s - p + k*d] * w[oc, ic, k].  ConvTranspose: out[i*s - p + k*d] += x[i] * w[ic, oc, k].
  const Shape& grid = transposed ? in_spatial : out_spatial;
  const Shape& image = transposed ? out_spatial : in_spatial;
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t g = 0; g < c.group; ++g)
      for (int64_t ocl = 0; ocl < cout; ++ocl)
        for (int64_t icl = 0; icl < cin; ++icl) {
          const int64_t oc = g * cout + ocl, ic = g * cin + icl;
          for_each_index(grid, [&](const std::vector<int64_t>& o, int64_t grid_flat) {
            for_each_index(c.kernel, [&](const std::vector<int64_t>& k, int64_t k_flat) {
              int64_t image_flat = 0;
              for (size_t i = 0; i < d; ++i) {
                const int64_t coord = o[i] * at_or(c.strides, i, 1) - pb[i] + k[i] * at_or(c.dilations, i, 1);
                if (coord < 0 || coord >= image[i]) return;
                image_flat += coord * (transposed ? out_st[i] : in_st[i]);
              }
              const int64_t x_index = (n * channels + ic) * in_size + (transposed ? grid_flat : image_flat);
              const int64_t w_index = (transposed ? ic * cout + ocl : oc * cin + icl) * k_size + k_flat;
              const int64_t y_index = (n * m + oc) * out_size + (transposed ? image_flat : grid_flat);
              const double term = x.get_as_double(x_index) * w.get_as_double(w_index);
              y[y_index] += term;
              mag[y_index] += std::abs(term);
            });
          });
        }
  return y;
}

void check_case(const ConvCase& c, bool transposed, std::mt19937& rng, ThreadPool* pool,
                DType dtype = DType::kFloat32) {
  SCOPED_TRACE((transposed ? "ConvTranspose " : "Conv ") + describe(c));
  Shape w_shape = transposed ? Shape{c.x[1], c.out_channels / c.group} : Shape{c.out_channels, c.x[1] / c.group};
  w_shape.insert(w_shape.end(), c.kernel.begin(), c.kernel.end());
  Tensor x = random_tensor(rng, dtype, c.x);
  Tensor w = random_tensor(rng, dtype, w_shape);
  Tensor b = c.bias ? random_tensor(rng, dtype, {c.out_channels}) : Tensor();
  Shape want_shape;
  std::vector<double> magnitude;
  std::vector<double> want = naive(c, transposed, x, w, b, &want_shape, &magnitude);
  auto got = run_op(conv_node(c, transposed), 13, c.bias ? std::vector<Tensor>{x, w, b} : std::vector<Tensor>{x, w},
                    pool);
  ASSERT_TRUE(got.ok()) << got.status().message();
  ASSERT_EQ(shape_to_string(got->shape()), shape_to_string(want_shape));
  EXPECT_LT(max_error(*got, want, magnitude), dtype == DType::kFloat32 ? 1e-5 : 1e-12);
}

ConvCase random_conv_case(std::mt19937& rng, bool transposed) {
  auto pick = [&](int64_t lo, int64_t hi) { return lo + int64_t(rng() % uint32_t(hi - lo + 1)); };
  ConvCase c;
  const size_t d = size_t(pick(1, 3));
  c.group = pick(1, 3);
  if (pick(0, 3) == 0) c.group = pick(2, 5);  // sometimes depthwise-like: one input channel per group
  const int64_t cin = c.group > 3 ? 1 : pick(1, 4);
  c.out_channels = c.group * pick(1, 4);
  c.x = {pick(1, 2), c.group * cin};
  const int64_t max_extent = d == 3 ? 6 : d == 2 ? 11 : 25;
  for (size_t i = 0; i < d; ++i) {
    c.kernel.push_back(pick(1, 3));
    c.strides.push_back(pick(1, 3));
    c.dilations.push_back(pick(1, 2));
    c.x.push_back(pick(c.dilations[i] * (c.kernel[i] - 1) + 1, max_extent));
  }
  const int64_t mode = pick(0, 4);
  if (mode == 0) c.auto_pad = "SAME_UPPER";
  if (mode == 1) c.auto_pad = "SAME_LOWER";
  if (mode == 2 && !transposed) c.auto_pad = "VALID";
  if (mode >= 3 || (mode == 2 && transposed)) {
    c.pads.resize(2 * d);
    for (size_t i = 0; i < 2 * d; ++i) c.pads[i] = pick(0, 2);
  }
  if (transposed) {
    for (size_t i = 0; i < d; ++i) c.output_padding.push_back(pick(0, std::max(c.strides[i], c.dilations[i]) - 1));
    if (c.auto_pad.empty() && pick(0, 2) == 0) {
      c.pads.clear();
      for (size_t i = 0; i < d; ++i) c.output_shape.push_back(c.strides[i] * (c.x[i + 2] - 1) + pick(1, 3));
    }
    // pads must leave something of the full output
    for (size_t i = 0; i < d && !c.pads.empty(); ++i) {
      const int64_t full = c.strides[i] * (c.x[i + 2] - 1) + c.output_padding[i] + (c.kernel[i] - 1) * c.dilations[i] + 1;
      while (c.pads[i] + c.pads[i + d] >= full) c.pads[i] = c.pads[i + d] = 0;
    }
  }
  c.bias = pick(0, 1) == 1;
  return c;
}

}  // namespace

TEST(ConvKernel, Basic2DMatchesHandComputed) {
  // 1x1x3x3 input, 2x2 kernel of ones: each output sums a 2x2 window.
  Tensor x = Tensor::from_vector<float>(DType::kFloat32, {1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor w = Tensor::from_vector<float>(DType::kFloat32, {1, 1, 2, 2}, {1, 1, 1, 1});
  auto y = run_op(make_node("Conv", 2), 11, {x, w});
  ASSERT_TRUE(y.ok()) << y.status().message();
  EXPECT_EQ(shape_to_string(y->shape()), "1x1x2x2");
  EXPECT_EQ(std::vector<float>(y->data<float>(), y->data<float>() + 4), (std::vector<float>{12, 16, 24, 28}));
}

TEST(ConvKernel, FixedCasesMatchDirectLoops) {
  std::mt19937 rng = seeded_rng("ConvKernel.FixedCasesMatchDirectLoops");
  ThreadPool pool(2);
  std::vector<ConvCase> cases = {
      {{1, 3, 7, 9}, 5, {3, 3}, 1, {}, {}, {1, 1, 1, 1}},                      // padded 3x3
      {{2, 4, 8, 8}, 6, {1, 1}},                                                // pointwise (no im2col)
      {{1, 4, 9, 9}, 6, {1, 1}, 2, {2, 2}},                                     // strided 1x1, grouped
      {{1, 6, 10, 11}, 6, {3, 3}, 6, {2, 2}, {}, {1, 0, 2, 1}},                 // depthwise, asymmetric pads
      {{1, 3, 9, 10}, 6, {3, 2}, 3, {1, 2}, {2, 1}, {0, 1, 2, 0}},              // depthwise x2 multiplier
      {{1, 4, 11, 12}, 4, {3, 3}, 2, {}, {2, 3}, {}, "SAME_UPPER"},             // dilated SAME_UPPER
      {{1, 2, 10, 7}, 3, {4, 3}, 1, {3, 2}, {}, {}, "SAME_LOWER", false},       // SAME_LOWER, no bias
      {{1, 2, 10, 7}, 3, {4, 3}, 1, {3, 2}, {}, {}, "VALID"},                   // VALID
      {{2, 3, 17}, 4, {5}, 1, {2}, {3}, {4, 1}},                                 // 1-D
      {{1, 2, 5, 6, 7}, 3, {2, 3, 2}, 1, {1, 2, 1}, {2, 1, 1}, {1, 0, 1, 0, 1, 1}},  // 3-D
      {{1, 4, 5, 6, 7}, 4, {3, 3, 3}, 4, {}, {}, {1, 1, 1, 1, 1, 1}},           // 3-D depthwise
      {{1, 37, 15, 16}, 41, {3, 3}, 1, {}, {}, {1, 1, 1, 1}},                   // GEMM tile edges (M=41, K=333)
      {{1, 64, 90, 90}, 4, {3, 3}, 1, {}, {}, {1, 1, 1, 1}, "", false},         // im2col in column chunks
      {{1, 1, 6, 6}, 1, {6, 6}},                                                // kernel covers the input
  };
  for (auto& c : cases) check_case(c, false, rng, &pool);
  check_case(cases[0], false, rng, nullptr);
  check_case(cases[3], false, rng, nullptr);
}

TEST(ConvKernel, RandomCasesMatchDirectLoops) {
  std::mt19937 rng = seeded_rng("ConvKernel.RandomCasesMatchDirectLoops");
  ThreadPool pool(2);
  for (int i = 0; i < 60; ++i) check_case(random_conv_case(rng, false), false, rng, i % 2 ? &pool : nullptr);
}

TEST(ConvKernel, Float64) {
  std::mt19937 rng = seeded_rng("ConvKernel.Float64");
  check_case({{1, 3, 7, 8}, 4, {3, 3}, 1, {2, 1}, {}, {1, 1, 0, 1}}, false, rng, nullptr, DType::kFloat64);
  check_case({{1, 4, 7, 8}, 4, {3, 3}, 4, {}, {}, {1, 1, 1, 1}}, false, rng, nullptr, DType::kFloat64);
  check_case({{1, 3, 5, 4}, 4, {3, 3}, 1, {2, 2}, {}, {1, 1, 0, 1}}, true, rng, nullptr, DType::kFloat64);
}

TEST(ConvTransposeKernel, FixedCasesMatchDirectLoops) {
  std::mt19937 rng = seeded_rng("ConvTransposeKernel.FixedCasesMatchDirectLoops");
  ThreadPool pool(2);
  std::vector<ConvCase> cases = {
      {{1, 3, 4, 5}, 2, {3, 3}, 1, {2, 2}},                                            // stride 2
      {{1, 4, 5, 5}, 6, {1, 1}},                                                       // pointwise (no col2im)
      {{1, 4, 3, 4}, 6, {3, 2}, 2, {2, 3}, {2, 1}, {1, 0, 0, 2}},                      // groups, dilations, pads
      {{1, 2, 3, 3}, 2, {3, 3}, 1, {3, 2}, {}, {}, "", true, {1, 1}},                  // output_padding
      {{1, 2, 3, 3}, 2, {3, 3}, 1, {3, 2}, {}, {}, "", true, {}, {10, 8}},             // output_shape > full
      {{1, 2, 4, 4}, 3, {3, 3}, 1, {2, 2}, {}, {}, "", true, {}, {6, 7}},              // output_shape crops
      {{1, 1, 3, 3}, 2, {3, 3}, 1, {2, 2}, {}, {}, "SAME_UPPER"},                      // auto_pad
      {{1, 1, 3, 4}, 2, {3, 2}, 1, {2, 3}, {}, {}, "SAME_LOWER", false},
      {{2, 3, 7}, 4, {4}, 1, {3}, {2}, {1, 2}, "", true, {2}},                         // 1-D
      {{1, 2, 3, 4, 3}, 2, {2, 3, 2}, 2, {2, 1, 2}, {1, 2, 1}, {0, 1, 1, 0, 0, 1}},    // 3-D grouped
      {{1, 6, 5, 5}, 6, {3, 3}, 6, {2, 2}, {}, {1, 1, 1, 1}},                          // depthwise
      {{1, 4, 90, 90}, 64, {3, 3}, 1, {}, {}, {1, 1, 1, 1}, "", false},                // col2im in column chunks
  };
  for (auto& c : cases) check_case(c, true, rng, &pool);
  check_case(cases[2], true, rng, nullptr);
}

TEST(ConvTransposeKernel, RandomCasesMatchDirectLoops) {
  std::mt19937 rng = seeded_rng("ConvTransposeKernel.RandomCasesMatchDirectLoops");
  ThreadPool pool(2);
  for (int i = 0; i < 60; ++i) check_case(random_conv_case(rng, true), true, rng, i % 2 ? &pool : nullptr);
}

// ---------------------------------------------------------------- inference

namespace {
ValueType f32(std::vector<Dim> dims) { return ValueType(DType::kFloat32, std::move(dims)); }

Status infer_conv(const char* op, std::map<std::string, Attribute> attrs, std::vector<ValueType> types,
                  ValueType* out = nullptr) {
  ValueType ignored;
  return infer(make_node(op, types.size(), std::move(attrs)), 13, types, out ? out : &ignored);
}

void expect_fails(const Status& s, StatusCode code, const std::string& fragment) {
  EXPECT_EQ(s.code(), code) << s.message();
  EXPECT_NE(s.message().find(fragment), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("'n'"), std::string::npos) << "message should name the node: " << s.message();
}
}  // namespace

TEST(ConvInference, SymbolicBatchAndSameSpatialPassThrough) {
  ValueType out;
  ASSERT_TRUE(infer_conv("Conv", {{"pads", ints_attr({1, 1, 1, 1})}},
                         {f32({Dim::symbol("N"), 3, Dim::symbol("H"), 224}), f32({8, 3, 3, 3}), f32({8})}, &out)
                  .ok());
  EXPECT_EQ(out.to_string(), "float32[N,8,H,224]");
  ASSERT_TRUE(infer_conv("Conv", {{"strides", ints_attr({2, 2})}, {"auto_pad", string_attr("SAME_UPPER")}},
                         {f32({Dim::symbol("N"), 3, Dim::symbol("H"), 225}), f32({8, 3, 3, 3})}, &out)
                  .ok());
  EXPECT_EQ(out.to_string(), "float32[N,8,?,113]");
  ASSERT_TRUE(infer_conv("ConvTranspose", {{"strides", ints_attr({2, 2})}, {"group", int_attr(2)}},
                         {f32({Dim::symbol("N"), 4, 5, Dim::symbol("W")}), f32({4, 3, 3, 3})}, &out)
                  .ok());
  EXPECT_EQ(out.to_string(), "float32[N,6,11,?]");
  // Unknown rank of X: W still gives the rank and the output channels.
  ValueType unranked;
  unranked.dtype = DType::kFloat32;
  ASSERT_TRUE(infer_conv("Conv", {}, {unranked, f32({8, 3, 3, 3})}, &out).ok());
  EXPECT_EQ(out.to_string(), "float32[?,8,?,?]");
}

TEST(ConvInference, KernelShapeAttributeOnly) {
  ValueType out;
  ASSERT_TRUE(infer_conv("Conv", {{"kernel_shape", ints_attr({3, 5})}},
                         {f32({1, 2, 10, 10}), f32({4, 2, Dim::symbol("kh"), Dim::symbol("kw")})}, &out)
                  .ok());
  EXPECT_EQ(out.to_string(), "float32[1,4,8,6]");
}

TEST(ConvInference, RejectsInconsistentModels) {
  const StatusCode bad = StatusCode::kInvalidModel;
  expect_fails(infer_conv("Conv", {}, {f32({1, 4, 8, 8}), f32({8, 3, 3, 3})}), bad, "channels");
  expect_fails(infer_conv("Conv", {{"group", int_attr(2)}}, {f32({1, 4, 8, 8}), f32({7, 2, 3, 3})}), bad,
               "not divisible by group");
  expect_fails(infer_conv("Conv", {}, {f32({1, 3, 8, 8}), f32({8, 3, 3})}), bad, "same rank");
  expect_fails(infer_conv("Conv", {}, {f32({1, 3}), f32({8, 3})}), bad, "rank >= 3");
  expect_fails(infer_conv("Conv", {}, {f32({1, 3, 8, 8}), f32({8, 3, 3, 3}), f32({7})}), bad, "bias B has 7");
  expect_fails(infer_conv("Conv", {}, {f32({1, 3, 8, 8}), f32({8, 3, 3, 3}), f32({8, 1})}), bad, "1-D");
  expect_fails(infer_conv("Conv", {{"pads", ints_attr({1, 1})}}, {f32({1, 3, 8, 8}), f32({8, 3, 3, 3})}), bad,
               "'pads'");
  expect_fails(infer_conv("Conv", {{"pads", ints_attr({1, -1, 1, 1})}}, {f32({1, 3, 8, 8}), f32({8, 3, 3, 3})}), bad,
               ">= 0");
  expect_fails(infer_conv("Conv", {{"strides", ints_attr({1, 0})}}, {f32({1, 3, 8, 8}), f32({8, 3, 3, 3})}), bad,
               "'strides'");
  expect_fails(infer_conv("Conv", {{"dilations", ints_attr({1})}}, {f32({1, 3, 8, 8}), f32({8, 3, 3, 3})}), bad,
               "'dilations'");
  expect_fails(infer_conv("Conv", {{"group", int_attr(0)}}, {f32({1, 3, 8, 8}), f32({8, 3, 3, 3})}), bad, "group");
  expect_fails(infer_conv("Conv", {{"auto_pad", string_attr("SAME")}}, {f32({1, 3, 8, 8}), f32({8, 3, 3, 3})}), bad,
               "auto_pad");
  expect_fails(infer_conv("Conv", {{"kernel_shape", ints_attr({3, 2})}}, {f32({1, 3, 8, 8}), f32({8, 3, 3, 3})}),
               bad, "kernel_shape");
  expect_fails(infer_conv("Conv", {{"dilations", ints_attr({4, 1})}}, {f32({1, 3, 8, 8}), f32({8, 3, 3, 3})}), bad,
               "padded input");
  expect_fails(infer_conv("Conv", {{"output_padding", ints_attr({1, 1})}}, {f32({1, 3, 8, 8}), f32({8, 3, 3, 3})}),
               bad, "ConvTranspose");
  expect_fails(infer_conv("ConvTranspose", {}, {f32({1, 3, 8, 8}), f32({4, 3, 3, 3})}), bad, "channels");
  expect_fails(infer_conv("ConvTranspose", {}, {f32({1, 4, 8, 8}), f32({4, 3, 3, 3}), f32({4})}), bad, "bias");
  expect_fails(infer_conv("ConvTranspose", {{"output_shape", ints_attr({9})}}, {f32({1, 4, 8, 8}), f32({4, 3, 3, 3})}),
               bad, "output_shape");
  expect_fails(infer_conv("ConvTranspose", {{"pads", ints_attr({5, 5, 0, 0})}}, {f32({1, 4, 2, 2}), f32({4, 3, 3, 3})}),
               bad, "crop");
  expect_fails(infer_conv("Conv", {}, {f32({1, 3, 8, 8})}), bad, "input");
}

TEST(ConvInference, UnsupportedAndMismatchedTypes) {
  const ValueType i32x(DType::kInt32, {1, 3, 8, 8}), i32w(DType::kInt32, {8, 3, 3, 3});
  expect_fails(infer_conv("Conv", {}, {i32x, i32w}), StatusCode::kUnsupported, "int32");
  expect_fails(infer_conv("ConvTranspose", {}, {ValueType(DType::kFloat16, {1, 3, 8, 8}), i32w}),
               StatusCode::kUnsupported, "float16");
  expect_fails(infer_conv("Conv", {}, {f32({1, 3, 8, 8}), ValueType(DType::kFloat64, {8, 3, 3, 3})}),
               StatusCode::kInvalidModel, "must match");
}
