//===- ModelSpecTest.cpp - Tests of the ModelSpec helpers -----------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Config/ModelSpec.h"

#include "gtest/gtest.h"

using namespace xlstm::config;

namespace {

// The examples of shared/spec/xlstm-architecture.md §a (UpProjConfigMixin).
TEST(ProjUpDim, SpecExamples) {
  EXPECT_EQ(computeProjUpDim(2.0, 128, 64, true), 256);
  EXPECT_EQ(computeProjUpDim(1.3, 128, 64, true), 192);
  EXPECT_EQ(computeProjUpDim(1.3, 64, 64, true), 128);
  EXPECT_EQ(computeProjUpDim(1.3, 1024, 64, true), 1344);
  EXPECT_EQ(computeProjUpDim(2.0, 768, 64, true), 1536);
}

TEST(ProjUpDim, RoundsDownWhenAsked) {
  EXPECT_EQ(computeProjUpDim(1.3, 128, 64, false), 128);
  EXPECT_EQ(computeProjUpDim(0.1, 128, 64, false), 0);
}

TEST(ProjUpDim, SentinelEmbeddingDimGivesZero) {
  // Upstream computes this before the stack pushes embedding_dim down.
  EXPECT_EQ(computeProjUpDim(2.0, -1, 64, true), 0);
}

TEST(ProjUpDim, UnrepresentableResultsAreMinusOne) {
  EXPECT_EQ(computeProjUpDim(1e300, 128, 64, true), -1);
  EXPECT_EQ(computeProjUpDim(2.0, 128, 0, true), -1);
}

TEST(ModelSpecNames, EnumSpellingsAreUpstreams) {
  EXPECT_EQ(toString(ActFn::Gelu), "gelu");
  EXPECT_EQ(toString(ActFn::ReluSquared), "relu^2");
  EXPECT_EQ(toString(ActFn::Swish), "swish");
  EXPECT_EQ(toString(SLSTMBackend::Vanilla), "vanilla");
  EXPECT_EQ(toString(SLSTMBackend::Cuda), "cuda");
  EXPECT_EQ(toString(SLSTMFunction::LSTM), "lstm");
  EXPECT_EQ(toString(SLSTMBiasInit::PowerlawBlockDependent),
            "powerlaw_blockdependent");
  EXPECT_EQ(toString(SLSTMBiasInit::Zeros), "zeros");
  EXPECT_EQ(toString(RecurrentWeightInit::Standard), "standard");
  EXPECT_EQ(toString(ModelFamily::LMModel), "xLSTMLMModelConfig");
  EXPECT_EQ(toString(ModelFamily::Large), "xLSTMLargeConfig");
}

TEST(ModelSpecNames, OutOfRangeEnumIsEmpty) {
  EXPECT_EQ(toString(static_cast<ActFn>(6)), "");
  EXPECT_EQ(toString(static_cast<SLSTMBackend>(-1)), "");
}

TEST(ModelSpecAccessors, BlockMapString) {
  StackConfig stack;
  EXPECT_EQ(stack.blockMapString(), "");
  stack.blockMap = {BlockKind::MLSTM, BlockKind::SLSTM, BlockKind::MLSTM};
  EXPECT_EQ(stack.blockMapString(), "0,1,0");
}

TEST(ModelSpecAccessors, FamilyDispatch) {
  ModelSpec spec;
  spec.stack.embeddingDim = 64;
  spec.stack.numBlocks = 3;
  spec.large.embeddingDim = 4096;
  spec.large.numBlocks = 32;
  EXPECT_FALSE(spec.isLarge());
  EXPECT_FALSE(spec.hasTokens());
  EXPECT_EQ(spec.embeddingDim(), 64);
  EXPECT_EQ(spec.numBlocks(), 3);
  spec.family = ModelFamily::LMModel;
  EXPECT_TRUE(spec.hasTokens());
  spec.family = ModelFamily::Large;
  EXPECT_TRUE(spec.isLarge());
  EXPECT_EQ(spec.embeddingDim(), 4096);
  EXPECT_EQ(spec.numBlocks(), 32);
}

TEST(ModelSpecAccessors, HeadDims) {
  MLSTMLayerConfig mlstm;
  mlstm.innerEmbeddingDim = 256;
  EXPECT_EQ(mlstm.headDim(), 64);
  SLSTMLayerConfig slstm;
  slstm.hiddenSize = 128;
  EXPECT_EQ(slstm.headDim(), 32);
}

} // namespace
