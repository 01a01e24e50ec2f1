// The blocked GEMM (kernels/ref/gemm.h) and the Gemm / MatMul ops against naive loops, plus inference checks.
#include "kernels/ref/gemm.h"

#include <gtest/gtest.h>

#include "conv_gemm_test_util.h"

using namespace lowbit;
using namespace lowbit::cg_test;

namespace {

struct GemmCase {
  int64_t m, n, k;
  bool trans_a = false, trans_b = false;
  float alpha = 1, beta = 0;
  int64_t pad = 0;  // extra elements per row of every matrix (leading dimension > width)
};

// Runs gemm() on random data and checks it against a double-precision triple loop.
template <typename T>
void check_gemm(const GemmCase& c, std::mt19937& rng, ThreadPool* pool) {
  SCOPED_TRACE("m=" + std::to_string(c.m) + " n=" + std::to_string(c.n) + " k=" + std::to_string(c.k) +
               " transA=" + std::to_string(c.trans_a) + " transB=" + std::to_string(c.trans_b) + " alpha=" +
               std::to_string(c.alpha) + " beta=" + std::to_string(c.beta) + " pad=" + std::to_string(c.pad));
  std::uniform_real_distribution<double> u(-1, 1);
  const int64_t a_rows = c.trans_a ? c.k : c.m, a_cols = c.trans_a ? c.m : c.k;
  const int64_t b_rows = c.trans_b ? c.n : c.k, b_cols = c.trans_b ? c.k : c.n;
  const int64_t lda = a_cols + c.pad, ldb = b_cols + c.pad, ldc = c.n + c.pad;
  std::vector<T> a(a_rows * lda), b(b_rows * ldb), cm(c.m * ldc);
  for (auto& v : a) v = T(u(rng));
  for (auto& v : b) v = T(u(rng));
  for (auto& v : cm) v = c.beta == 0 ? std::numeric_limits<T>::quiet_NaN() : T(u(rng));  // beta 0: C is write-only
  std::vector<T> c0 = cm;
  GemmArgs<T> g;
  g.m = c.m, g.n = c.n, g.k = c.k;
  g.a = a.data(), g.lda = lda, g.trans_a = c.trans_a;
  g.b = b.data(), g.ldb = ldb, g.trans_b = c.trans_b;
  g.c = cm.data(), g.ldc = ldc;
  g.alpha = T(c.alpha), g.beta = T(c.beta);
  gemm(g, pool);
  double worst = 0;
  for (int64_t i = 0; i < c.m; ++i)
    for (int64_t j = 0; j < c.n; ++j) {
      double sum = 0, magnitude = 0;
      for (int64_t p = 0; p < c.k; ++p) {
        const double term =
            double(c.trans_a ? a[p * lda + i] : a[i * lda + p]) * double(c.trans_b ? b[j * ldb + p] : b[p * ldb + j]);
        sum += term;
        magnitude += std::abs(term);
      }
      const double c_term = c.beta == 0 ? 0.0 : c.beta * double(c0[i * ldc + j]);
      const double want = c.alpha * sum + c_term;
      const double scale = std::abs(c.alpha) * magnitude + std::abs(c_term);
      const double e = std::abs(double(cm[i * ldc + j]) - want) / (scale + 1e-6);
      if (!(e <= worst)) worst = e;
    }
  EXPECT_LT(worst, (std::is_same_v<T, float> ? 1e-5 : 1e-12));
  // Padding past each row of C is never touched.
  for (int64_t i = 0; i < c.m; ++i)
    for (int64_t j = c.n; j < ldc; ++j)
      if (!(cm[i * ldc + j] == c0[i * ldc + j] || (std::isnan(double(cm[i * ldc + j])) && std::isnan(double(c0[i * ldc + j])))))
        ADD_FAILURE() << "C padding written at " << i << "," << j;
}

}  // namespace

// Every ISA variant this CPU can run (AVX-512, AVX2, baseline), not only the one picked by default.
class GemmKernel : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { ASSERT_TRUE(select_gemm_f32_kernel(GetParam())); }
  void TearDown() override { select_gemm_f32_kernel(gemm_f32_kernel_names().front()); }
};
INSTANTIATE_TEST_SUITE_P(Isa, GemmKernel, ::testing::ValuesIn(gemm_f32_kernel_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param.substr(0, info.param.find_first_of(" +"));
                         });

TEST_P(GemmKernel, TileEdgesAndTransposes) {
  std::mt19937 rng = seeded_rng("GemmKernel.TileEdgesAndTransposes");
  ThreadPool pool(2);
  // Sizes straddle every MR (4, 6, 8), NR (8, 16, 32), task block (96 x 192) and depth slab (256) boundary.
  const int64_t sizes[] = {1, 5, 7, 8, 9, 17, 31, 33, 95, 97, 193};
  for (int64_t m : {1, 2, 3, 4, 7, 8, 9, 95, 97})
    for (int64_t n : {1, 15, 33, 193})
      for (int64_t k : {1, 3, 257}) {
        check_gemm<float>({m, n, k, false, false}, rng, &pool);
        if (m < 4) check_gemm<float>({m, n, k, true, true, 0.5f, 2.0f, 1}, rng, &pool);  // matrix-vector path
      }
  for (int t = 0; t < 4; ++t)
    for (int64_t s : sizes) {
      const int64_t m = s, n = sizes[(s + t) % 11], k = sizes[(s * 3 + t) % 11];
      check_gemm<float>({m, n, k, (t & 1) != 0, (t & 2) != 0, 0.5f, t == 3 ? 0.0f : -1.5f, t}, rng,
                        t % 2 ? &pool : nullptr);
    }
}

TEST_P(GemmKernel, RandomShapes) {
  std::mt19937 rng = seeded_rng("GemmKernel.RandomShapes");
  ThreadPool pool(2);
  for (int i = 0; i < 40; ++i) {
    GemmCase c{1 + int64_t(rng() % 130), 1 + int64_t(rng() % 300), 1 + int64_t(rng() % 600), (rng() & 1) != 0,
               (rng() & 1) != 0};
    c.alpha = (rng() & 1) ? 1.0f : 0.75f;
    c.beta = float(int(rng() % 3)) * 0.5f;  // 0, 0.5, 1
    c.pad = int64_t(rng() % 3);
    check_gemm<float>(c, rng, (i & 1) ? &pool : nullptr);
  }
}

TEST(GemmSimple, DegenerateSizes) {
  // k = 0: C = beta * C; alpha = 0: same. m or n = 0: nothing happens.
  std::vector<float> a(4, 1.0f), b(4, 1.0f), c = {1, 2, 3, 4};
  GemmArgs<float> g;
  g.m = 2, g.n = 2, g.k = 0, g.a = a.data(), g.lda = 2, g.b = b.data(), g.ldb = 2, g.c = c.data(), g.ldc = 2;
  g.beta = 2;
  gemm(g, nullptr);
  EXPECT_EQ(c, (std::vector<float>{2, 4, 6, 8}));
  g.k = 2, g.alpha = 0, g.beta = 0;
  gemm(g, nullptr);
  EXPECT_EQ(c, (std::vector<float>{0, 0, 0, 0}));
  g.m = 0;
  gemm(g, nullptr);
}

TEST(GemmSimple, OtherElementTypes) {
  std::mt19937 rng = seeded_rng("GemmSimple.OtherElementTypes");
  ThreadPool pool(2);
  check_gemm<double>({13, 17, 19, false, false, 1.0f, 0.5f}, rng, &pool);
  check_gemm<double>({13, 17, 19, true, true, 2.0f, 0.0f, 1}, rng, nullptr);
  // int32 wraps on overflow instead of being undefined
  std::vector<int32_t> a = {int32_t(1) << 30, 3}, b = {4, 5}, c(1);
  GemmArgs<int32_t> g;
  g.m = 1, g.n = 1, g.k = 2, g.a = a.data(), g.lda = 2, g.b = b.data(), g.ldb = 1, g.c = c.data(), g.ldc = 1;
  gemm(g, nullptr);
  EXPECT_EQ(c[0], 15);
}

// ---------------------------------------------------------------- Gemm op

namespace {
Node gemm_node(int64_t trans_a, int64_t trans_b, float alpha, float beta, size_t inputs) {
  return make_node("Gemm", inputs,
                   {{"transA", int_attr(trans_a)}, {"transB", int_attr(trans_b)}, {"alpha", float_attr(alpha)},
                    {"beta", float_attr(beta)}});
}
}  // namespace

TEST(GemmOp, TransposesAndBroadcastC) {
  std::mt19937 rng = seeded_rng("GemmOp.TransposesAndBroadcastC");
  ThreadPool pool(2);
  const int64_t m = 7, n = 37, k = 19;
  const std::vector<Shape> c_shapes = {{}, {1}, {n}, {1, n}, {m, 1}, {m, n}, {1, 1}};
  int variant = 0;
  for (int trans_a = 0; trans_a < 2; ++trans_a)
    for (int trans_b = 0; trans_b < 2; ++trans_b)
      for (const Shape& cs : c_shapes) {
        SCOPED_TRACE("transA=" + std::to_string(trans_a) + " transB=" + std::to_string(trans_b) + " C=" +
                     shape_to_string(cs));
        Tensor a = random_tensor(rng, DType::kFloat32, trans_a ? Shape{k, m} : Shape{m, k});
        Tensor b = random_tensor(rng, DType::kFloat32, trans_b ? Shape{n, k} : Shape{k, n});
        Tensor c = random_tensor(rng, DType::kFloat32, cs);
        const float alpha = 0.5f, beta = ++variant % 3 == 0 ? 0.0f : 2.0f;
        auto y = run_op(gemm_node(trans_a, trans_b, alpha, beta, 3), 13, {a, b, c}, variant % 2 ? &pool : nullptr);
        ASSERT_TRUE(y.ok()) << y.status().message();
        ASSERT_EQ(shape_to_string(y->shape()), shape_to_string({m, n}));
        std::vector<double> want(m * n);
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            double sum = 0;
            for (int64_t p = 0; p < k; ++p)
              sum += a.get_as_double(trans_a ? p * m + i : i * k + p) * b.get_as_double(trans_b ? j * k + p : p * n + j);
            const int64_t ci = cs.size() == 2 && cs[0] != 1 ? i : 0;
            const int64_t cj = !cs.empty() && cs.back() != 1 ? j : 0;
            const int64_t c_cols = cs.empty() ? 1 : cs.back();
            want[i * n + j] = alpha * sum + beta * c.get_as_double(ci * c_cols + cj);
          }
        EXPECT_LT(max_error(*y, want), 1e-5);
      }
}

TEST(GemmOp, OptionalCFromOpset11) {
  Tensor a = Tensor::from_vector<float>(DType::kFloat32, {1, 2}, {1, 2});
  Tensor b = Tensor::from_vector<float>(DType::kFloat32, {2, 1}, {3, 4});
  auto y = run_op(make_node("Gemm", 2), 13, {a, b});
  ASSERT_TRUE(y.ok()) << y.status().message();
  EXPECT_EQ(y->data<float>()[0], 11.0f);
  auto old = run_op(make_node("Gemm", 2), 9, {a, b});
  EXPECT_EQ(old.status().code(), StatusCode::kInvalidModel);
  // float64 works too
  Tensor ad = Tensor::from_vector<double>(DType::kFloat64, {1, 2}, {1, 2});
  Tensor bd = Tensor::from_vector<double>(DType::kFloat64, {2, 1}, {3, 4});
  auto yd = run_op(make_node("Gemm", 2), 13, {ad, bd});
  ASSERT_TRUE(yd.ok()) << yd.status().message();
  EXPECT_EQ(yd->data<double>()[0], 11.0);
}

TEST(GemmOp, Inference) {
  ValueType out;
  auto f32 = [](std::vector<Dim> d) { return ValueType(DType::kFloat32, std::move(d)); };
  ASSERT_TRUE(infer(gemm_node(0, 1, 1, 1, 3), 13, {f32({Dim::symbol("N"), 2048}), f32({1000, 2048}), f32({1000})}, &out)
                  .ok());
  EXPECT_EQ(out.to_string(), "float32[N,1000]");
  Status s = infer(gemm_node(0, 0, 1, 1, 2), 13, {f32({4, 5}), f32({6, 7})}, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidModel);
  EXPECT_NE(s.message().find("inner dimensions"), std::string::npos) << s.message();
  s = infer(gemm_node(0, 0, 1, 1, 3), 13, {f32({4, 5}), f32({5, 7}), f32({3, 7})}, &out);
  EXPECT_NE(s.message().find("broadcast"), std::string::npos) << s.message();
  s = infer(gemm_node(0, 0, 1, 1, 2), 13, {f32({2, 4, 5}), f32({5, 7})}, &out);
  EXPECT_NE(s.message().find("2-D"), std::string::npos) << s.message();
  s = infer(gemm_node(2, 0, 1, 1, 2), 13, {f32({4, 5}), f32({5, 7})}, &out);
  EXPECT_NE(s.message().find("transA"), std::string::npos) << s.message();
  s = infer(gemm_node(0, 0, 1, 1, 2), 13, {ValueType(DType::kInt32, {4, 5}), ValueType(DType::kInt32, {5, 7})}, &out);
  EXPECT_EQ(s.code(), StatusCode::kUnsupported) << s.message();
}

// ---------------------------------------------------------------- MatMul op

namespace {
// numpy matmul in double via explicit broadcasting of the batch dims.
std::vector<double> naive_matmul(const Tensor& a, const Tensor& b, const Shape& out_shape) {
  Shape as = a.shape(), bs = b.shape();
  const bool a_vec = as.size() == 1, b_vec = bs.size() == 1;
  if (a_vec) as.insert(as.begin(), 1);
  if (b_vec) bs.push_back(1);
  const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  const size_t batch_rank = std::max(as.size(), bs.size()) - 2;
  while (as.size() < batch_rank + 2) as.insert(as.begin(), 1);
  while (bs.size() < batch_rank + 2) bs.insert(bs.begin(), 1);
  Shape batch(batch_rank);
  int64_t batches = 1;
  for (size_t i = 0; i < batch_rank; ++i) batches *= (batch[i] = std::max(as[i], bs[i]));
  std::vector<double> y;
  for (int64_t bi = 0; bi < batches; ++bi) {
    int64_t rest = bi, a_off = 0, b_off = 0, a_mul = m * k, b_mul = k * n;
    for (size_t i = batch_rank; i-- > 0;) {
      const int64_t coord = rest % batch[i];
      rest /= batch[i];
      a_off += (as[i] == 1 ? 0 : coord) * a_mul;
      b_off += (bs[i] == 1 ? 0 : coord) * b_mul;
      a_mul *= as[i];
      b_mul *= bs[i];
    }
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t p = 0; p < k; ++p) s += a.get_as_double(a_off + i * k + p) * b.get_as_double(b_off + p * n + j);
        y.push_back(s);
      }
  }
  EXPECT_EQ(int64_t(y.size()), numel_unchecked(out_shape));
  return y;
}

void check_matmul(const Shape& as, const Shape& bs, const std::string& want_shape, std::mt19937& rng,
                  ThreadPool* pool, DType dtype = DType::kFloat32) {
  SCOPED_TRACE("A=" + shape_to_string(as) + " B=" + shape_to_string(bs) + " " + dtype_name(dtype));
  Tensor a = random_tensor(rng, dtype, as), b = random_tensor(rng, dtype, bs);
  auto y = run_op(make_node("MatMul", 2), 13, {a, b}, pool);
  ASSERT_TRUE(y.ok()) << y.status().message();
  ASSERT_EQ(shape_to_string(y->shape()), want_shape);
  EXPECT_LT(max_error(*y, naive_matmul(a, b, y->shape())), dtype == DType::kFloat32 ? 1e-5 : 1e-12);
}
}  // namespace

TEST(MatMulOp, NumpySemantics) {
  std::mt19937 rng = seeded_rng("MatMulOp.NumpySemantics");
  ThreadPool pool(2);
  check_matmul({5}, {5}, "scalar", rng, &pool);
  check_matmul({5}, {5, 3}, "3", rng, &pool);
  check_matmul({4, 5}, {5}, "4", rng, &pool);
  check_matmul({2, 3, 5}, {5}, "2x3", rng, &pool);
  check_matmul({5}, {2, 5, 3}, "2x3", rng, &pool);
  check_matmul({4, 5}, {5, 3}, "4x3", rng, &pool);
  check_matmul({3, 4, 5}, {5, 6}, "3x4x6", rng, &pool);           // one B: folded into a single GEMM
  check_matmul({4, 5}, {3, 5, 6}, "3x4x6", rng, &pool);           // A broadcast over B's batch
  check_matmul({2, 1, 4, 5}, {3, 5, 6}, "2x3x4x6", rng, &pool);   // both broadcast
  check_matmul({2, 3, 4, 5}, {2, 3, 5, 6}, "2x3x4x6", rng, nullptr);
  check_matmul({2, 100, 70}, {1, 70, 120}, "2x100x120", rng, &pool);  // big enough to thread inside the GEMM
  check_matmul({3, 0, 5}, {5, 2}, "3x0x2", rng, &pool);
  check_matmul({3, 4, 0}, {0, 2}, "3x4x2", rng, &pool);  // empty sum: zeros
}

TEST(MatMulOp, OtherElementTypes) {
  std::mt19937 rng = seeded_rng("MatMulOp.OtherElementTypes");
  ThreadPool pool(2);
  check_matmul({2, 3, 4}, {4, 5}, "2x3x5", rng, &pool, DType::kFloat64);
  check_matmul({2, 3, 4}, {2, 4, 5}, "2x3x5", rng, &pool, DType::kInt32);
  check_matmul({3, 4}, {4}, "3", rng, nullptr, DType::kInt64);
}

TEST(MatMulOp, Inference) {
  ValueType out;
  auto f32 = [](std::vector<Dim> d) { return ValueType(DType::kFloat32, std::move(d)); };
  const Node mm = make_node("MatMul", 2);
  ASSERT_TRUE(infer(mm, 13, {f32({Dim::symbol("B"), Dim::symbol("S"), 64}), f32({64, 32})}, &out).ok());
  EXPECT_EQ(out.to_string(), "float32[B,S,32]");
  ASSERT_TRUE(infer(mm, 13, {f32({Dim::symbol("S"), 64}), f32({8, 1, 64, 32})}, &out).ok());
  EXPECT_EQ(out.to_string(), "float32[8,1,S,32]");
  ASSERT_TRUE(infer(mm, 13, {f32({64}), f32({Dim::symbol("B"), 64, 32})}, &out).ok());
  EXPECT_EQ(out.to_string(), "float32[B,32]");
  Status s = infer(mm, 13, {f32({3, 4}), f32({5, 6})}, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidModel);
  EXPECT_NE(s.message().find("inner dimensions"), std::string::npos) << s.message();
  s = infer(mm, 13, {f32({2, 3, 4}), f32({3, 4, 6})}, &out);
  EXPECT_NE(s.message().find("broadcast"), std::string::npos) << s.message();
  s = infer(mm, 13, {f32({}), f32({3, 4})}, &out);
  EXPECT_NE(s.message().find("1-D"), std::string::npos) << s.message();
  s = infer(mm, 13, {ValueType(DType::kFloat16, {3, 4}), ValueType(DType::kFloat16, {4, 5})}, &out);
  EXPECT_EQ(s.code(), StatusCode::kUnsupported) << s.message();
  s = infer(mm, 13, {f32({3, 4}), ValueType(DType::kFloat64, {4, 5})}, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidModel) << s.message();
}
