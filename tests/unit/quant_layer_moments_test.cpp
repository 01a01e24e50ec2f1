// quant/layer_moments: which layers AdaRound optimises, and that the collected input moments are exact: for a
// weight change D, sum_r D_r^T H D_r equals the measured mean squared change of the layer's outputs (Conv with
// groups, strides, dilations, pads and auto_pad; Gemm with and without transB; MatMul on a rank-3 input).
#include <cmath>
#include <random>

#include "io/npy.h"
#include "passes/graph_rewrite.h"
#include "passes_test_util.h"
#include "quant/layer_moments.h"
#include "temp_dir.h"

namespace lowbit::quant {
namespace {

using namespace lowbit::passes_test;

// Writes `samples` random samples for input "x" of `g` (symbolic batch) and opens them as calibration data.
std::unique_ptr<CalibrationData> open_data(const Graph& g, const test::TempDir& dir, Shape sample_shape,
                                           int64_t samples, uint32_t seed) {
  Shape shape = {samples};
  shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
  Tensor t = random_tensor(shape, seed, -1.f, 2.f);
  const std::string path = dir.file("x_" + std::to_string(seed) + ".npy");
  EXPECT_TRUE(write_npy(path, t).ok());
  CalibDataOptions o;
  o.sources = {{"x", path}};
  auto data = CalibrationData::open(g, o);
  EXPECT_TRUE(data.ok()) << data.status().message();
  return data.ok() ? std::move(*data) : nullptr;
}

// Mean over output positions of |y(W + D) - y(W)|^2 (summed over channels), run on every calibration batch.
double measured_error(const Graph& g, const std::string& weight, const Tensor& delta, CalibrationData& data,
                      int64_t positions_per_channel_row) {
  Graph moved = g;
  Tensor w = constant_value(g, weight)->clone();
  for (int64_t i = 0; i < w.numel(); ++i) w.data<float>()[i] += delta.data<float>()[i];
  moved.values[weight].constant = w;
  auto s0 = Session::create(g, {.threads = 1, .backend = Backend::kRef});
  auto s1 = Session::create(moved, {.threads = 1, .backend = Backend::kRef});
  double sum = 0;
  int64_t positions = 0;
  for (int64_t b = 0; b < data.num_batches(); ++b) {
    auto feeds = data.batch(b);
    auto y0 = (*s0)->run(*feeds);
    auto y1 = (*s1)->run(*feeds);
    EXPECT_TRUE(y0.ok() && y1.ok());
    const Tensor& a = y0->begin()->second;
    const Tensor& c = y1->begin()->second;
    for (int64_t i = 0; i < a.numel(); ++i) sum += std::pow(double(c.data<float>()[i]) - double(a.data<float>()[i]), 2);
    positions += a.numel() / positions_per_channel_row;
  }
  return sum / double(positions);
}

// sum over rows of D_r^T H D_r from the collected moments (block diagonal H: only blocks contribute).
double moment_error(const LinearLayer& l, const LayerMoments& m, const Tensor& delta) {
  const std::vector<float> d = weight_matrix(l, delta);
  const int64_t mg = l.out_channels / l.groups;
  double sum = 0;
  for (auto& b : m.blocks) {
    const int64_t w = b.k1 - b.k0;
    for (int64_t r = b.group * mg; r < (b.group + 1) * mg; ++r) {
      const float* dr = d.data() + r * l.k + b.k0;
      if (!b.h.empty()) {
        for (int64_t i = 0; i < w; ++i)
          for (int64_t j = 0; j < w; ++j) sum += double(dr[i]) * b.h[size_t(i * w + j)] * dr[j];
      } else {
        const int64_t n = int64_t(b.x.size()) / w;
        for (int64_t s = 0; s < n; ++s) {
          double dot = 0;
          for (int64_t i = 0; i < w; ++i) dot += double(dr[i]) * b.x[size_t(s * w + i)];
          sum += dot * dot / double(n);
        }
      }
    }
  }
  return sum;
}

struct Case {
  Graph g;
  Shape sample;              // one sample of x
  int64_t out_per_position;  // output values per sampled position (the output channels)
};

void expect_exact_moments(const Case& c, const MomentOptions& mo = {}) {
  test::TempDir dir("moments");
  auto plan = plan_quantization(c.g, {});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  LayerSelection sel = select_linear_layers(c.g, *plan);
  ASSERT_EQ(sel.layers.size(), 1u);
  const LinearLayer& l = sel.layers[0];
  auto data = open_data(c.g, dir, c.sample, 3, 11);
  ASSERT_TRUE(data);
  auto session = Session::create(c.g, {.threads = 1});
  ASSERT_TRUE(session.ok());
  auto moments = collect_layer_moments(**session, *data, sel.layers, mo);
  ASSERT_TRUE(moments.ok()) << moments.status().message();
  ASSERT_GT((*moments)[0].n, 0);
  const Tensor delta = random_tensor(constant_value(c.g, l.weight)->shape(), 5, -0.1f, 0.1f);
  const double want = measured_error(c.g, l.weight, delta, *data, c.out_per_position);
  const double got = moment_error(l, (*moments)[0], delta);
  EXPECT_NEAR(got, want, 1e-4 * want) << l.node;
}

TEST(LayerMoments, ConvWithGroupsStridesDilationsAndPadsIsExact) {
  GraphBuilder b;
  auto x = b.input("x", {Dim::symbol("N"), 4, 9, 8});
  auto y =
      b.node("Conv", {x, b.random_constant("w", {6, 2, 3, 2})},
             {{"group", i64(2)}, {"strides", ints({2, 1})}, {"dilations", ints({1, 2})}, {"pads", ints({1, 0, 2, 1})}},
             "conv");
  b.output(y);
  // All 3 samples' positions fit the row budget, so H is the exact mean over every output position.
  expect_exact_moments({b.build(), {4, 9, 8}, 6});
}

TEST(LayerMoments, ConvAutoPadAndOneDimensional) {
  {
    GraphBuilder b;
    auto x = b.input("x", {Dim::symbol("N"), 3, 7, 7});
    b.output(b.node("Conv", {x, b.random_constant("w", {4, 3, 3, 3})},
                    {{"auto_pad", str("SAME_LOWER")}, {"strides", ints({2, 2})}}, "conv"));
    expect_exact_moments({b.build(), {3, 7, 7}, 4});
  }
  {
    GraphBuilder b;
    auto x = b.input("x", {Dim::symbol("N"), 3, 10});
    b.output(b.node("Conv", {x, b.random_constant("w", {5, 3, 4})}, {{"pads", ints({2, 1})}}, "conv1d"));
    expect_exact_moments({b.build(), {3, 10}, 5});
  }
}

TEST(LayerMoments, ColumnBlocksAndTheSamplesFormWhenDataIsScarce) {
  // Beyond max_block columns H is block diagonal, in blocks of whole input channels (9 + 9 + 9 for a 3x3 conv).
  GraphBuilder b;
  auto x = b.input("x", {Dim::symbol("N"), 3, 5, 5});
  b.output(b.node("Conv", {x, b.random_constant("w", {2, 3, 3, 3})}, {{"pads", ints({1, 1, 1, 1})}}, "conv"));
  Graph g = b.build();
  LinearLayer l;
  l.k = 27;
  l.spatial_rank = 2;
  l.conv.kernel = {3, 3};
  auto blocks = column_blocks(l, 10);
  ASSERT_EQ(blocks.size(), 3u);
  EXPECT_EQ(blocks[1], (std::pair<int64_t, int64_t>{9, 18}));
  l.conv.kernel = {1, 1};
  l.k = 10;
  EXPECT_EQ(column_blocks(l, 4).size(), 3u);  // 4 + 4 + 2 (units of one column)
  MomentOptions mo;
  mo.min_rows = mo.max_rows = 12;  // 4 rows per batch: fewer than half of 27 columns -> samples form
  test::TempDir dir("moments");
  auto plan = plan_quantization(g, {});
  ASSERT_TRUE(plan.ok());
  LayerSelection sel = select_linear_layers(g, *plan);
  ASSERT_EQ(sel.layers.size(), 1u);
  auto data = open_data(g, dir, {3, 5, 5}, 3, 2);
  auto session = Session::create(g, {.threads = 1});
  auto m = collect_layer_moments(**session, *data, sel.layers, mo);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)[0].n, 12);
  ASSERT_EQ((*m)[0].blocks.size(), 1u);
  EXPECT_TRUE((*m)[0].blocks[0].h.empty());
  EXPECT_EQ((*m)[0].blocks[0].x.size(), 12u * 27u);
  // Deterministic sampling: the same seed picks the same rows.
  auto again = collect_layer_moments(**session, *data, sel.layers, mo);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0].blocks[0].x, (*m)[0].blocks[0].x);
}

TEST(LayerMoments, GemmBothLayoutsAndMatMulOnRank3InputsAreExact) {
  for (int trans_b : {0, 1}) {
    GraphBuilder b;
    auto x = b.input("x", {Dim::symbol("N"), 7});
    auto w = b.random_constant("w", trans_b ? Shape{5, 7} : Shape{7, 5});
    b.output(b.node("Gemm", {x, w, b.random_constant("bias", {5})}, {{"transB", i64(trans_b)}}, "fc"));
    expect_exact_moments({b.build(), {7}, 5});
  }
  GraphBuilder b;
  auto x = b.input("x", {Dim::symbol("N"), 3, 6});
  b.output(b.node("MatMul", {x, b.random_constant("w", {6, 4})}, {}, "mm"));
  expect_exact_moments({b.build(), {3, 6}, 4});
}

TEST(LayerMoments, SelectionSkipsWhatItCannotOptimiseWithAReason) {
  GraphBuilder b;
  auto x = b.input("x", {Dim::symbol("N"), 2, 4, 4, 4});
  auto c3 = b.node("Conv", {x, b.random_constant("w3", {2, 2, 1, 1, 1})}, {}, "conv3d");
  auto r = b.node("Reshape", {c3, b.constant("shape", int64_tensor({2}, {-1, 128}))}, {}, "flat");
  auto shared = b.random_constant("ws", {128, 128});
  auto m1 = b.node("MatMul", {r, shared}, {}, "mm1");
  auto m2 = b.node("MatMul", {m1, shared}, {}, "mm2");
  auto fc = b.node("Gemm", {m2, b.random_constant("wf", {3, 128})}, {{"transB", i64(1)}}, "fc");
  b.output(fc);
  Graph g = b.build();
  auto plan = plan_quantization(g, {});
  ASSERT_TRUE(plan.ok());
  LayerSelection sel = select_linear_layers(g, *plan);
  ASSERT_EQ(sel.layers.size(), 1u);
  EXPECT_EQ(sel.layers[0].node, "fc");
  EXPECT_EQ(sel.layers[0].k, 128);
  EXPECT_EQ(sel.layers[0].out_channels, 3);
  std::map<std::string, std::string> why(sel.skipped.begin(), sel.skipped.end());
  EXPECT_EQ(why["conv3d"], "3-D convolution");
  EXPECT_EQ(why["mm1"], "weight shared with other nodes");
  EXPECT_EQ(why["mm2"], "weight shared with other nodes");
}

TEST(LayerMoments, WeightMatrixRoundTrips) {
  LinearLayer l;
  l.k = 3;
  l.out_channels = 2;
  l.weight_k_major = true;  // stored [k, out]
  Tensor w = Tensor::from_vector<float>(DType::kFloat32, {3, 2}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(weight_matrix(l, w), (std::vector<float>{1, 3, 5, 2, 4, 6}));
  Tensor codes(DType::kInt8, {3, 2});
  matrix_to_weight(l, {1, 3, 5, 2, 4, 6}, codes);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(codes.data<int8_t>()[i], i + 1);
}

}  // namespace
}  // namespace lowbit::quant
