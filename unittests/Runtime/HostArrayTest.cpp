//===- HostArrayTest.cpp - Host arrays of the GPU runtime's API -----------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Runtime/HostArray.h"

#include "gtest/gtest.h"

#include <cmath>
#include <limits>

using namespace xlstm;
using namespace xlstm::runtime;

namespace {

TEST(HostArray, ZerosHaveTheShapeAndTypeAsked) {
  HostArray a(weights::DType::BF16, {2, 3, 4});
  EXPECT_EQ(a.rank(), 3);
  EXPECT_EQ(a.dim(-1), 4);
  EXPECT_EQ(a.getNumElements(), 24);
  EXPECT_EQ(a.bytes.size(), 48u);
  for (float v : a.toF32())
    EXPECT_EQ(v, 0.0f);
  EXPECT_EQ(a.describe(), "2x3x4 bf16");
}

TEST(HostArray, Bf16RoundsToNearestEvenAndWidensExactly) {
  // 1 + 2^-8 lies halfway between two bf16 values: to even (1.0); 1 + 3 *
  // 2^-8 halfway again: to even (1 + 2^-6); NaN stays NaN.
  std::vector<float> values = {1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, -2.5f,
                               std::numeric_limits<float>::quiet_NaN()};
  HostArray f32 = HostArray::fromF32({4}, values);
  HostArray bf16 = f32.convertTo(weights::DType::BF16);
  ASSERT_EQ(bf16.bytes.size(), 8u);
  std::vector<float> back = bf16.toF32();
  EXPECT_EQ(back[0], 1.0f);
  EXPECT_EQ(back[1], 1.0f + 0x1p-6f);
  EXPECT_EQ(back[2], -2.5f);
  EXPECT_TRUE(std::isnan(back[3]));
  // Widening to float64 and back is exact.
  HostArray wide = bf16.convertTo(weights::DType::F64);
  EXPECT_EQ(wide.convertTo(weights::DType::BF16).bytes, bf16.bytes);
}

TEST(HostArray, TokensKeepTheirValues) {
  std::vector<int64_t> tokens = {0, 50276, 7};
  HostArray t = HostArray::fromTokens({1, 3}, tokens);
  EXPECT_EQ(t.dtype, weights::DType::I64);
  EXPECT_EQ(t.as<int64_t>(), llvm::ArrayRef<int64_t>(tokens));
  std::vector<float> f = t.toF32();
  EXPECT_EQ(f[1], 50276.0f);
}

} // namespace

namespace {

TEST(HostArray, VerifyRejectsBytesThatDoNotMatchTheShape) {
  HostArray a(weights::DType::BF16, {2, 3});
  EXPECT_FALSE(bool(a.verify("x")));
  a.bytes.pop_back();
  std::string message = llvm::toString(a.verify("state 'c'"));
  EXPECT_NE(message.find("state 'c': 11 bytes for 2x3 bf16"), std::string::npos)
      << message;
  HostArray negative;
  negative.shape = {-1, 4};
  EXPECT_NE(llvm::toString(negative.verify("p")).find("?x4 is not a valid"),
            std::string::npos);
  EXPECT_EQ(formatShape({-1, 8, 4096}), "?x8x4096");
}

} // namespace
