#include "lowbit/tensor.h"

#include <gtest/gtest.h>

using namespace lowbit;

TEST(Tensor, AllocatesZeroFilled) {
  Tensor t(DType::kFloat32, {2, 3});
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.nbytes(), 24u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(t.data<float>()[i], 0.f);
}

TEST(Tensor, CreateRejectsOverflowAndCap) {
  EXPECT_FALSE(Tensor::create(DType::kFloat32, {int64_t(1) << 40, int64_t(1) << 40}).ok());
  EXPECT_FALSE(Tensor::create(DType::kFloat32, {-1, 3}).ok());
  EXPECT_FALSE(Tensor::create(DType::kFloat32, {1024, 1024}, 1000).ok());
  EXPECT_TRUE(Tensor::create(DType::kFloat32, {0, 5}).ok());
}

TEST(Tensor, HalfRoundTrip) {
  for (float f : {0.f, 1.f, -2.5f, 65504.f, 6.1035156e-05f, 5.9604645e-08f})
    EXPECT_EQ(half_to_float(float_to_half(f)), f) << f;
  EXPECT_EQ(float_to_half(1.0f + 1.0f / 2048), float_to_half(1.0f));  // ties to even
  EXPECT_EQ(bfloat16_to_float(float_to_bfloat16(3.0f)), 3.0f);
}

TEST(Tensor, ReshapedSharesBuffer) {
  Tensor t(DType::kInt64, {6});
  Tensor r = t.reshaped({2, 3});
  r.data<int64_t>()[5] = 7;
  EXPECT_EQ(t.data<int64_t>()[5], 7);
  EXPECT_EQ(t.get_as_double(5), 7.0);
}
