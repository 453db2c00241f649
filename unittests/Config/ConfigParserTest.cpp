//===- ConfigParserTest.cpp - Tests of the YAML model config reader -------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Defaults, derived fields, family detection, every diagnostic (text and
// line:col), the golden and shipped configs, the printer round trip, and
// hostile input.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Config/ConfigParser.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

#include <random>

using namespace xlstm::config;
using llvm::StringRef;

namespace {

struct Parsed {
  std::optional<ModelSpec> spec;
  std::string diags;
};

Parsed parse(StringRef yaml, SchemaHint hint = SchemaHint::Auto) {
  Parsed p;
  llvm::raw_string_ostream os(p.diags);
  p.spec = parseModelConfig(yaml, "test.yaml", os, hint);
  return p;
}

Parsed parseFile(StringRef path) {
  Parsed p;
  llvm::raw_string_ostream os(p.diags);
  p.spec = parseModelConfigFile(path, os);
  return p;
}

std::string print(const ModelSpec &spec) {
  std::string out;
  llvm::raw_string_ostream os(out);
  printModelSpec(spec, os);
  return out;
}

/// Parses and expects success without any diagnostic.
#define ASSERT_PARSES(parsed, yaml, ...)                                       \
  Parsed parsed = parse(yaml, ##__VA_ARGS__);                                  \
  ASSERT_TRUE(parsed.spec) << parsed.diags;                                    \
  EXPECT_EQ(parsed.diags, "")

/// The README block stack (shared/golden/stack_readme.yaml).
constexpr const char *kReadmeStack = R"(mlstm_block:
  mlstm:
    conv1d_kernel_size: 4
    qkv_proj_blocksize: 4
    num_heads: 4
slstm_block:
  slstm:
    backend: cuda
    num_heads: 4
    conv1d_kernel_size: 4
    bias_init: powerlaw_blockdependent
  feedforward:
    proj_factor: 1.3
    act_fn: gelu
context_length: 256
num_blocks: 7
embedding_dim: 128
slstm_at: [1]
)";

std::string goldenDir() { return XLSTM_SOURCE_DIR "/../shared/golden"; }
std::string shippedDir() { return XLSTM_SOURCE_DIR "/python-free-configs"; }

std::vector<std::string> yamlFilesIn(const std::string &dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
       it.increment(ec))
    if (StringRef(it->path()).ends_with(".yaml"))
      files.push_back(it->path());
  llvm::sort(files);
  return files;
}

//===----------------------------------------------------------------------===//
// Defaults
//===----------------------------------------------------------------------===//

TEST(ConfigDefaults, MLSTMBlockStack) {
  ASSERT_PARSES(p, "mlstm_block: {}\n");
  const ModelSpec &spec = *p.spec;
  EXPECT_EQ(spec.family, ModelFamily::BlockStack);
  EXPECT_EQ(spec.sourceName, "test.yaml");
  const StackConfig &s = spec.stack;
  EXPECT_EQ(s.contextLength, -1);
  EXPECT_EQ(s.numBlocks, 1);
  EXPECT_EQ(s.embeddingDim, 128);
  EXPECT_TRUE(s.addPostBlocksNorm);
  EXPECT_FALSE(s.bias);
  EXPECT_EQ(s.dropout, 0.0);
  EXPECT_TRUE(s.slstmAt.empty());
  EXPECT_FALSE(s.slstmAtAll);
  EXPECT_EQ(s.vocabSize, -1);
  EXPECT_FALSE(s.slstmBlock);
  EXPECT_EQ(s.blockMapString(), "0");
  ASSERT_TRUE(s.mlstmBlock);
  const MLSTMLayerConfig &m = s.mlstmBlock->mlstm;
  EXPECT_EQ(m.conv1dKernelSize, 4);
  EXPECT_EQ(m.qkvProjBlocksize, 4);
  EXPECT_EQ(m.numHeads, 4);
  EXPECT_EQ(m.projFactor, 2.0);
  EXPECT_TRUE(m.roundProjUpDimUp);
  EXPECT_EQ(m.roundProjUpToMultipleOf, 64);
  EXPECT_EQ(m.embeddingDim, 128);
  EXPECT_EQ(m.contextLength, -1);
  EXPECT_EQ(m.numBlocks, 1);
  EXPECT_EQ(m.innerEmbeddingDim, 256);
  EXPECT_EQ(m.headDim(), 64);
}

TEST(ConfigDefaults, SLSTMBlockStack) {
  ASSERT_PARSES(p, "slstm_block: {}\nnum_blocks: 2\n");
  const StackConfig &s = p.spec->stack;
  EXPECT_TRUE(s.slstmAtAll);
  EXPECT_EQ(s.slstmAt, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(s.blockMapString(), "1,1");
  ASSERT_TRUE(s.slstmBlock);
  const SLSTMLayerConfig &l = s.slstmBlock->slstm;
  EXPECT_EQ(l.embeddingDim, 128);
  EXPECT_EQ(l.hiddenSize, 128);
  EXPECT_EQ(l.numHeads, 4);
  EXPECT_EQ(l.headDim(), 32);
  EXPECT_EQ(l.conv1dKernelSize, 4);
  EXPECT_TRUE(l.groupNormWeight);
  EXPECT_EQ(l.backend, SLSTMBackend::Cuda);
  EXPECT_EQ(l.function, SLSTMFunction::SLSTM);
  EXPECT_EQ(l.biasInit, SLSTMBiasInit::PowerlawBlockDependent);
  EXPECT_EQ(l.recurrentWeightInit, RecurrentWeightInit::Zeros);
  EXPECT_FALSE(l.gradientRecurrentCut);
  EXPECT_FALSE(l.gradientRecurrentClipval);
  EXPECT_FALSE(l.forwardClipval);
  EXPECT_EQ(l.batchSize, 8);
  EXPECT_EQ(l.inputShape, "BSGNH");
  EXPECT_EQ(l.internalInputShape, "SBNGH");
  EXPECT_EQ(l.outputShape, "BNSH");
  EXPECT_TRUE(l.enableAutomaticMixedPrecision);
  EXPECT_EQ(l.initialVal, 0.0);
  EXPECT_EQ(l.numStates, 4);
  EXPECT_EQ(l.numGates, 4);
  EXPECT_EQ(l.numBlocks, 2);
  // sLSTMCellConfig.__post_init__: b is set, a <- b, r <- dtype, w <- dtype,
  // s <- w, g <- r.
  EXPECT_EQ(l.dtype, "bfloat16");
  EXPECT_EQ(l.dtypeB, "float32");
  EXPECT_EQ(l.dtypeA, "float32");
  EXPECT_EQ(l.dtypeR, "bfloat16");
  EXPECT_EQ(l.dtypeW, "bfloat16");
  EXPECT_EQ(l.dtypeS, "bfloat16");
  EXPECT_EQ(l.dtypeG, "bfloat16");
  ASSERT_TRUE(s.slstmBlock->feedforward);
  const FeedForwardConfig &ff = *s.slstmBlock->feedforward;
  EXPECT_EQ(ff.projFactor, 1.3);
  EXPECT_TRUE(ff.roundProjUpDimUp);
  EXPECT_EQ(ff.roundProjUpToMultipleOf, 64);
  EXPECT_EQ(ff.actFn, ActFn::Gelu);
  EXPECT_EQ(ff.embeddingDim, 128);
  EXPECT_EQ(ff.dropout, 0.0);
  EXPECT_FALSE(ff.bias);
  EXPECT_EQ(ff.ffType, "ffn_gated");
  EXPECT_EQ(ff.numBlocks, 2);
  EXPECT_EQ(ff.projUpDim, 192);
}

TEST(ConfigDefaults, Large) {
  ASSERT_PARSES(p,
                "embedding_dim: 512\nnum_heads: 4\nnum_blocks: 2\n"
                "vocab_size: 1000\n",
                SchemaHint::Large);
  const LargeConfig &c = p.spec->large;
  EXPECT_EQ(p.spec->family, ModelFamily::Large);
  EXPECT_FALSE(c.useBias);
  EXPECT_EQ(c.normEps, 1e-6);
  EXPECT_TRUE(c.normReductionForceFloat32);
  EXPECT_TRUE(c.addOutNorm);
  EXPECT_EQ(c.qkDimFactor, 0.5);
  EXPECT_EQ(c.vDimFactor, 1.0);
  EXPECT_EQ(c.chunkwiseKernel, "chunkwise--triton_limit_chunk");
  EXPECT_EQ(c.sequenceKernel, "native_sequence__triton");
  EXPECT_EQ(c.stepKernel, "triton");
  EXPECT_EQ(c.mode, "train");
  EXPECT_EQ(c.chunkSize, 64);
  EXPECT_FALSE(c.returnLastStates);
  EXPECT_EQ(c.autocastKernelDtype, "bfloat16");
  EXPECT_EQ(c.eps, 1e-6);
  EXPECT_EQ(c.inferenceStateDtype, "float32");
  EXPECT_EQ(c.ffnProjFactor, 2.6667);
  EXPECT_EQ(c.ffnRoundUpToMultipleOf, 64);
  EXPECT_EQ(c.gateSoftCap, 15.0);
  EXPECT_EQ(c.outputLogitSoftCap, 30.0);
  EXPECT_EQ(c.weightMode, "single");
  EXPECT_EQ(c.qkDim, 256);
  EXPECT_EQ(c.vDim, 512);
  EXPECT_EQ(c.qkHeadDim, 64);
  EXPECT_EQ(c.vHeadDim, 128);
  EXPECT_EQ(c.ffnDim, 1408);
}

//===----------------------------------------------------------------------===//
// Derived fields
//===----------------------------------------------------------------------===//

TEST(ConfigDerived, StackValuesArePushedDown) {
  ASSERT_PARSES(p, R"(mlstm_block: {}
slstm_block:
  feedforward:
    dropout: 0.125
    bias: true
num_blocks: 3
embedding_dim: 64
context_length: 512
bias: true
dropout: 0.25
slstm_at: [2]
)");
  const StackConfig &s = p.spec->stack;
  const MLSTMLayerConfig &m = s.mlstmBlock->mlstm;
  EXPECT_EQ(m.embeddingDim, 64);
  EXPECT_TRUE(m.bias);
  EXPECT_EQ(m.dropout, 0.25);
  EXPECT_EQ(m.contextLength, 512);
  EXPECT_EQ(m.numBlocks, 3);
  EXPECT_EQ(m.innerEmbeddingDim, 128);
  const SLSTMLayerConfig &l = s.slstmBlock->slstm;
  EXPECT_EQ(l.embeddingDim, 64);
  EXPECT_EQ(l.dropout, 0.25);
  EXPECT_EQ(l.numBlocks, 3);
  // The stack's dropout and bias do not reach the feed-forward.
  const FeedForwardConfig &ff = *s.slstmBlock->feedforward;
  EXPECT_EQ(ff.dropout, 0.125);
  EXPECT_TRUE(ff.bias);
  EXPECT_EQ(ff.embeddingDim, 64);
  EXPECT_EQ(ff.numBlocks, 3);
  EXPECT_EQ(ff.projUpDim, 128); // E=64, pf=1.3
  EXPECT_EQ(s.blockMapString(), "0,0,1");
}

TEST(ConfigDerived, FeedForwardStaysUnbiasedUnderStackBias) {
  ASSERT_PARSES(p, "slstm_block: {}\nbias: true\ndropout: 0.5\n");
  EXPECT_FALSE(p.spec->stack.slstmBlock->feedforward->bias);
  EXPECT_EQ(p.spec->stack.slstmBlock->feedforward->dropout, 0.0);
}

TEST(ConfigDerived, ProjUpDimExamples) {
  ASSERT_PARSES(p, "slstm_block: {}\nembedding_dim: 1024\n");
  EXPECT_EQ(p.spec->stack.slstmBlock->feedforward->projUpDim, 1344);
  ASSERT_PARSES(q, "mlstm_block:\n  mlstm:\n    proj_factor: 1.3\n"
                   "    round_proj_up_dim_up: false\n");
  EXPECT_EQ(q.spec->stack.mlstmBlock->mlstm.innerEmbeddingDim, 128);
}

TEST(ConfigDerived, RoundingMultipleIsUsed) {
  ASSERT_PARSES(p, "mlstm_block:\n  mlstm:\n    proj_factor: 1.3\n"
                   "    round_proj_up_to_multiple_of: 8\n");
  EXPECT_EQ(p.spec->stack.mlstmBlock->mlstm.innerEmbeddingDim, 168);
}

TEST(ConfigDerived, SLSTMNonPositiveHeadsBecomeOne) {
  for (StringRef heads : {"0", "-3"}) {
    ASSERT_PARSES(p, ("slstm_block:\n  slstm:\n    num_heads: " + heads).str());
    EXPECT_EQ(p.spec->stack.slstmBlock->slstm.numHeads, 1);
    EXPECT_EQ(p.spec->stack.slstmBlock->slstm.headDim(), 128);
  }
}

TEST(ConfigDerived, NumStatesFollowFunction) {
  ASSERT_PARSES(p, "slstm_block:\n  slstm:\n    function: lstm\n");
  EXPECT_EQ(p.spec->stack.slstmBlock->slstm.function, SLSTMFunction::LSTM);
  EXPECT_EQ(p.spec->stack.slstmBlock->slstm.numStates, 2);
}

TEST(ConfigDerived, DtypeDerivationOrder) {
  ASSERT_PARSES(p, R"(slstm_block:
  slstm:
    dtype: float16
    dtype_b: null
)");
  const SLSTMLayerConfig &l = p.spec->stack.slstmBlock->slstm;
  EXPECT_EQ(l.dtypeB, "float16");
  EXPECT_EQ(l.dtypeA, "float16");
  EXPECT_EQ(l.dtypeR, "float16");
  EXPECT_EQ(l.dtypeW, "float16");
  EXPECT_EQ(l.dtypeS, "float16");
  EXPECT_EQ(l.dtypeG, "float16");
  ASSERT_PARSES(q, R"(slstm_block:
  slstm:
    dtype_r: float32
    dtype_w: float16
)");
  const SLSTMLayerConfig &k = q.spec->stack.slstmBlock->slstm;
  EXPECT_EQ(k.dtypeG, "float32"); // g <- r
  EXPECT_EQ(k.dtypeS, "float16"); // s <- w
  EXPECT_EQ(k.dtypeA, "float32"); // a <- b
}

TEST(ConfigDerived, SlstmAtAllString) {
  ASSERT_PARSES(p, "mlstm_block: {}\nslstm_block: {}\nnum_blocks: 3\n"
                   "slstm_at: all\n");
  EXPECT_TRUE(p.spec->stack.slstmAtAll);
  EXPECT_EQ(p.spec->stack.blockMapString(), "1,1,1");
  ASSERT_PARSES(q, "mlstm_block: {}\nslstm_block: {}\nslstm_at: \"all\"\n");
  EXPECT_TRUE(q.spec->stack.slstmAtAll);
}

TEST(ConfigDerived, MissingMLSTMBlockForcesAll) {
  ASSERT_PARSES(p, "mlstm_block: null\nslstm_block: {}\nnum_blocks: 4\n");
  EXPECT_TRUE(p.spec->stack.slstmAtAll);
  EXPECT_EQ(p.spec->stack.blockMapString(), "1,1,1,1");
}

TEST(ConfigDerived, SlstmAtOrderIsKept) {
  ASSERT_PARSES(p, "mlstm_block: {}\nslstm_block: {}\nnum_blocks: 4\n"
                   "slstm_at: [3, 0]\n");
  EXPECT_EQ(p.spec->stack.slstmAt, (std::vector<int64_t>{3, 0}));
  EXPECT_EQ(p.spec->stack.blockMapString(), "1,0,0,1");
  EXPECT_EQ(p.spec->blockKind(3), BlockKind::SLSTM);
}

TEST(ConfigDerived, FeedForwardNullMeansNone) {
  ASSERT_PARSES(p, "slstm_block:\n  feedforward: null\n");
  EXPECT_FALSE(p.spec->stack.slstmBlock->feedforward);
  ASSERT_PARSES(q, "slstm_block:\n  feedforward:\n");
  EXPECT_FALSE(q.spec->stack.slstmBlock->feedforward);
}

TEST(ConfigDerived, UnusedBlockConfigIsKeptUnchecked) {
  // Upstream never builds an unused block, so its heads need not divide.
  ASSERT_PARSES(p, "mlstm_block:\n  mlstm:\n    num_heads: 3\n"
                   "slstm_block: {}\nslstm_at: all\n");
  EXPECT_EQ(p.spec->stack.mlstmBlock->mlstm.numHeads, 3);
}

TEST(ConfigDerived, LargeFeedForwardWidths) {
  // round_up(E * 2.6667, 64) on Python floats.
  for (auto [e, f] :
       {std::pair<int, int>{4096, 10944}, {512, 1408}, {256, 704}}) {
    ASSERT_PARSES(p, "embedding_dim: " + std::to_string(e) +
                         "\nnum_heads: 2\nnum_blocks: 1\nvocab_size: 8\n"
                         "chunk_size: 64\n");
    EXPECT_EQ(p.spec->large.ffnDim, f) << e;
  }
}

TEST(ConfigDerived, LargeDimsTruncateLikeInt) {
  ASSERT_PARSES(p,
                "embedding_dim: 100\nnum_heads: 1\nnum_blocks: 1\n"
                "vocab_size: 8\nqk_dim_factor: 0.333\nv_dim_factor: 0.999\n");
  EXPECT_EQ(p.spec->large.qkDim, 33);
  EXPECT_EQ(p.spec->large.vDim, 99);
}

//===----------------------------------------------------------------------===//
// Scalars
//===----------------------------------------------------------------------===//

TEST(ConfigScalars, BooleanSpellings) {
  for (StringRef yes : {"true", "True", "TRUE"}) {
    ASSERT_PARSES(p, ("mlstm_block: {}\nbias: " + yes).str());
    EXPECT_TRUE(p.spec->stack.bias) << yes.str();
  }
  for (StringRef no : {"false", "False", "FALSE"}) {
    ASSERT_PARSES(p, ("mlstm_block: {}\nadd_post_blocks_norm: " + no).str());
    EXPECT_FALSE(p.spec->stack.addPostBlocksNorm) << no.str();
  }
}

TEST(ConfigScalars, NumberSpellings) {
  for (auto [text, value] : {std::pair<StringRef, double>{"2", 2.0},
                             {"1.5", 1.5},
                             {"+1.5", 1.5},
                             {".5", 0.5},
                             {"1.", 1.0},
                             {"1.0e1", 10.0},
                             {"25e-1", 2.5}}) {
    ASSERT_PARSES(p,
                  ("mlstm_block:\n  mlstm:\n    proj_factor: " + text).str());
    EXPECT_EQ(p.spec->stack.mlstmBlock->mlstm.projFactor, value) << text.str();
  }
  ASSERT_PARSES(q, "mlstm_block: {}\nnum_blocks: +3\ncontext_length: -1\n");
  EXPECT_EQ(q.spec->stack.numBlocks, 3);
}

TEST(ConfigScalars, QuotedAndBlockStrings) {
  ASSERT_PARSES(p, R"(slstm_block:
  slstm:
    backend: "vanilla"
    function: 'lstm'
    dtype: |-
      float32
)");
  EXPECT_EQ(p.spec->stack.slstmBlock->slstm.backend, SLSTMBackend::Vanilla);
  EXPECT_EQ(p.spec->stack.slstmBlock->slstm.function, SLSTMFunction::LSTM);
  EXPECT_EQ(p.spec->stack.slstmBlock->slstm.dtype, "float32");
}

TEST(ConfigScalars, OptionalFloats) {
  ASSERT_PARSES(p, "slstm_block:\n  slstm:\n    gradient_recurrent_clipval: "
                   "1.5\n    forward_clipval: ~\n");
  EXPECT_EQ(p.spec->stack.slstmBlock->slstm.gradientRecurrentClipval, 1.5);
  EXPECT_FALSE(p.spec->stack.slstmBlock->slstm.forwardClipval);
}

TEST(ConfigScalars, AnchorsAreIgnored) {
  ASSERT_PARSES(p, "mlstm_block: &m {}\nnum_blocks: &n 2\n");
  EXPECT_EQ(p.spec->stack.numBlocks, 2);
}

TEST(ConfigScalars, TrainingOnlyFieldsAreKept) {
  ASSERT_PARSES(p, R"(vocab_size: 10
weight_decay_on_embedding: true
add_embedding_dropout: true
tie_weights: true
slstm_block:
  slstm:
    gradient_recurrent_cut: true
    batch_size: 16
    enable_automatic_mixed_precision: false
    initial_val: 0.5
    constants: {}
)");
  const StackConfig &s = p.spec->stack;
  EXPECT_TRUE(s.weightDecayOnEmbedding);
  EXPECT_TRUE(s.addEmbeddingDropout);
  EXPECT_TRUE(s.tieWeights);
  EXPECT_TRUE(s.slstmBlock->slstm.gradientRecurrentCut);
  EXPECT_EQ(s.slstmBlock->slstm.batchSize, 16);
  EXPECT_FALSE(s.slstmBlock->slstm.enableAutomaticMixedPrecision);
  EXPECT_EQ(s.slstmBlock->slstm.initialVal, 0.5);
}

//===----------------------------------------------------------------------===//
// Family detection and the experiment layout
//===----------------------------------------------------------------------===//

TEST(ConfigFamily, Detection) {
  ASSERT_PARSES(stack, kReadmeStack);
  EXPECT_EQ(stack.spec->family, ModelFamily::BlockStack);
  for (StringRef key :
       {"vocab_size: 7", "tie_weights: false",
        "weight_decay_on_embedding: false", "add_embedding_dropout: false"}) {
    std::string vocab = key.starts_with("vocab") ? "" : "\nvocab_size: 7";
    Parsed lm = parse(("mlstm_block: {}\n" + key + vocab).str());
    ASSERT_TRUE(lm.spec) << lm.diags;
    EXPECT_EQ(lm.spec->family, ModelFamily::LMModel) << key.str();
  }
  for (StringRef key :
       {"use_bias: false", "norm_eps: 1.0e-5", "chunk_size: 32",
        "qk_dim_factor: 0.5", "weight_mode: fused", "mode: inference"}) {
    Parsed large = parse(("embedding_dim: 64\nnum_heads: 2\nnum_blocks: 1\n"
                          "vocab_size: 7\n" +
                          key)
                             .str());
    ASSERT_TRUE(large.spec) << large.diags;
    EXPECT_EQ(large.spec->family, ModelFamily::Large) << key.str();
  }
}

TEST(ConfigFamily, HintForcesFamily) {
  ASSERT_PARSES(p, kReadmeStack, SchemaHint::BlockStack);
  EXPECT_EQ(p.spec->family, ModelFamily::BlockStack);
  ASSERT_PARSES(q, std::string(kReadmeStack) + "vocab_size: 9\n",
                SchemaHint::LMModel);
  EXPECT_EQ(q.spec->family, ModelFamily::LMModel);
  EXPECT_EQ(q.spec->stack.vocabSize, 9);
}

TEST(ConfigFamily, ExperimentLayoutReadsOnlyModel) {
  ASSERT_PARSES(p, R"(training:
  lr_decay_until_steps: ${.num_steps}
  anything: [goes, {here: !!tag x}]
  alias: *undefined
model:
  num_blocks: 2
  embedding_dim: 64
  mlstm_block:
    mlstm:
      num_heads: 1
  slstm_block: {}
  slstm_at: []
  context_length: 256
  vocab_size: 3
dataset:
  kwargs:
    context_length: 256
)");
  EXPECT_EQ(p.spec->family, ModelFamily::LMModel);
  EXPECT_EQ(p.spec->stack.vocabSize, 3);
  EXPECT_EQ(p.spec->stack.blockMapString(), "0,0");
}

//===----------------------------------------------------------------------===//
// Warnings (the config still loads)
//===----------------------------------------------------------------------===//

TEST(ConfigWarnings, OverwrittenFieldIsReported) {
  Parsed p = parse("mlstm_block:\n  mlstm:\n    embedding_dim: 64\n"
                   "embedding_dim: 128\n");
  ASSERT_TRUE(p.spec) << p.diags;
  EXPECT_NE(p.diags.find("test.yaml:3:5: warning: "
                         "'mlstm_block.mlstm.embedding_dim' is ignored: "
                         "upstream sets it from the stack's 'embedding_dim'"),
            std::string::npos)
      << p.diags;
  EXPECT_EQ(p.spec->stack.mlstmBlock->mlstm.embeddingDim, 128);
}

TEST(ConfigWarnings, DerivedKeysAreAcceptedAndIgnored) {
  Parsed p = parse("mlstm_block:\n  _block_idx: null\n  mlstm:\n"
                   "    _inner_embedding_dim: 7\n_block_map: \"1\"\n");
  ASSERT_TRUE(p.spec) << p.diags;
  EXPECT_NE(p.diags.find("test.yaml:5:1: warning: '_block_map' is ignored: "
                         "upstream derives it from 'slstm_at'"),
            std::string::npos)
      << p.diags;
  EXPECT_EQ(p.spec->stack.mlstmBlock->mlstm.innerEmbeddingDim, 256);
  EXPECT_EQ(p.spec->stack.blockMapString(), "0");
}

TEST(ConfigWarnings, SlstmAtWithoutMLSTMBlock) {
  Parsed p = parse("slstm_block: {}\nnum_blocks: 3\nslstm_at: [1]\n");
  ASSERT_TRUE(p.spec) << p.diags;
  EXPECT_NE(p.diags.find("test.yaml:3:1: warning: 'slstm_at' is ignored: "
                         "without 'mlstm_block' every block is an sLSTM "
                         "block"),
            std::string::npos)
      << p.diags;
  EXPECT_EQ(p.spec->stack.blockMapString(), "1,1,1");
}

//===----------------------------------------------------------------------===//
// Errors: one case per diagnostic, with its text and line:col
//===----------------------------------------------------------------------===//

struct ErrorCase {
  const char *name;
  const char *yaml;
  /// "line:col: error: message" (checked after "test.yaml:"), or a bare
  /// message where the location is not the point of the case.
  const char *diag;
  SchemaHint hint = SchemaHint::Auto;
};

const ErrorCase kErrorCases[] = {
    // Wrong types.
    {"IntGivenString", "mlstm_block:\n  mlstm:\n    num_heads: four\n",
     "3:16: error: 'mlstm_block.mlstm.num_heads' must be an integer, got the "
     "string 'four'"},
    {"IntGivenFloat", "mlstm_block: {}\nnum_blocks: 2.5\n",
     "2:13: error: 'num_blocks' must be an integer, got the float 2.5"},
    {"IntGivenQuotedNumber", "mlstm_block: {}\nnum_blocks: \"2\"\n",
     "2:13: error: 'num_blocks' must be an integer, got the quoted string '2'"},
    {"IntGivenBool", "mlstm_block: {}\nnum_blocks: true\n",
     "2:13: error: 'num_blocks' must be an integer, got the boolean true"},
    {"IntGivenNull", "mlstm_block: {}\nnum_blocks:\n",
     "2:1: error: 'num_blocks' must be an integer, got null"},
    {"IntGivenMapping", "mlstm_block: {}\nembedding_dim: {a: 1}\n",
     "2:16: error: 'embedding_dim' must be an integer, got a mapping"},
    {"IntGivenSequence", "mlstm_block: {}\nembedding_dim: [1]\n",
     "2:16: error: 'embedding_dim' must be an integer, got a sequence"},
    {"IntOverflow", "mlstm_block: {}\nnum_blocks: 99999999999999999999\n",
     "2:13: error: 'num_blocks' is out of range: 99999999999999999999 does "
     "not fit in a 64-bit integer"},
    {"IntLeadingZero", "mlstm_block: {}\nnum_blocks: 010\n",
     "2:13: error: 'num_blocks' must be a decimal integer without leading "
     "zeros, got 010 (YAML 1.1 reads it as octal)"},
    {"BoolGivenYes", "mlstm_block: {}\nbias: yes\n",
     "2:7: error: 'bias' must be a boolean (true or false), got the string "
     "'yes'; YAML 1.1 spellings such as yes/no/on/off are not booleans here"},
    {"BoolGivenQuotedTrue", "mlstm_block: {}\nbias: \"true\"\n",
     "2:7: error: 'bias' must be a boolean (true or false), got the quoted "
     "string 'true'"},
    {"BoolGivenInt", "mlstm_block: {}\nbias: 1\n",
     "2:7: error: 'bias' must be a boolean (true or false), got the integer "
     "1"},
    {"FloatGivenString", "mlstm_block: {}\ndropout: high\n",
     "2:10: error: 'dropout' must be a number, got the string 'high'"},
    {"FloatNaN", "mlstm_block: {}\ndropout: .nan\n",
     "2:10: error: 'dropout' must be a finite number, got .nan"},
    {"FloatInf", "mlstm_block:\n  mlstm:\n    proj_factor: -.inf\n",
     "3:18: error: 'mlstm_block.mlstm.proj_factor' must be a finite number, "
     "got -.inf"},
    {"FloatOverflow", "mlstm_block: {}\ndropout: 1e999\n",
     "2:10: error: 'dropout' is out of range: 1e999 does not fit in a double"},
    {"StringGivenInt", "slstm_block:\n  slstm:\n    dtype: 32\n",
     "3:12: error: 'slstm_block.slstm.dtype' must be one of bfloat16, "
     "float16, float32, got the integer 32"},

    // Out-of-range values.
    {"NumBlocksZero", "mlstm_block: {}\nnum_blocks: 0\n",
     "2:13: error: 'num_blocks' must be >= 1, got 0"},
    {"NumBlocksHuge", "mlstm_block: {}\nnum_blocks: 100000\n",
     "2:13: error: 'num_blocks' must be <= 65536, got 100000"},
    {"EmbeddingDimNegative", "mlstm_block: {}\nembedding_dim: -5\n",
     "2:16: error: 'embedding_dim' must be >= 1, got -5"},
    {"EmbeddingDimHuge", "mlstm_block: {}\nembedding_dim: 4294967296\n",
     "2:16: error: 'embedding_dim' must be <= 2147483647, got 4294967296"},
    {"MLSTMConvZero", "mlstm_block:\n  mlstm:\n    conv1d_kernel_size: 0\n",
     "3:25: error: 'mlstm_block.mlstm.conv1d_kernel_size' must be >= 2, got 0 "
     "(upstream crashes with 0, since the mLSTM layer always resets its conv, "
     "and returns an empty sequence with 1)"},
    {"MLSTMConvOne", "mlstm_block:\n  mlstm:\n    conv1d_kernel_size: 1\n",
     "3:25: error: 'mlstm_block.mlstm.conv1d_kernel_size' must be >= 2, got "
     "1"},
    {"SLSTMConvOne", "slstm_block:\n  slstm:\n    conv1d_kernel_size: 1\n",
     "3:25: error: 'slstm_block.slstm.conv1d_kernel_size' must be 0 (no "
     "convolution) or >= 2, got 1 (upstream returns an empty sequence with "
     "1)"},
    {"SLSTMConvNegative",
     "slstm_block:\n  slstm:\n    conv1d_kernel_size: -2\n",
     "3:25: error: 'slstm_block.slstm.conv1d_kernel_size' must be 0 (no "
     "convolution) or >= 2, got -2"},
    {"MLSTMHeadsZero", "mlstm_block:\n  mlstm:\n    num_heads: 0\n",
     "3:16: error: 'mlstm_block.mlstm.num_heads' must be >= 1, got 0"},
    {"BlocksizeZero", "mlstm_block:\n  mlstm:\n    qkv_proj_blocksize: 0\n",
     "3:25: error: 'mlstm_block.mlstm.qkv_proj_blocksize' must be >= 1, got "
     "0"},
    {"ProjFactorZero", "mlstm_block:\n  mlstm:\n    proj_factor: 0\n",
     "3:18: error: 'mlstm_block.mlstm.proj_factor' must be > 0, got 0"},
    {"FFNProjFactorNegative",
     "slstm_block:\n  feedforward:\n    proj_factor: -1.3\n",
     "3:18: error: 'slstm_block.feedforward.proj_factor' must be > 0, got "
     "-1.3"},
    {"RoundingMultipleZero",
     "mlstm_block:\n  mlstm:\n    round_proj_up_to_multiple_of: 0\n",
     "3:35: error: 'mlstm_block.mlstm.round_proj_up_to_multiple_of' must be "
     ">= 1, got 0"},
    {"VocabSizeZero", "mlstm_block: {}\nvocab_size: 0\n",
     "2:13: error: 'vocab_size' must be >= 1, got 0"},
    {"DropoutOne", "mlstm_block: {}\ndropout: 1.0\n",
     "2:10: error: 'dropout' must be in [0, 1), got 1.0"},
    {"DropoutNegative", "mlstm_block: {}\ndropout: -0.1\n",
     "2:10: error: 'dropout' must be in [0, 1), got -0.1"},
    {"FFNDropout", "slstm_block:\n  feedforward:\n    dropout: 1.5\n",
     "3:14: error: 'slstm_block.feedforward.dropout' must be in [0, 1), got "
     "1.5"},
    {"ContextLengthZero", "mlstm_block: {}\ncontext_length: 0\n",
     "2:17: error: 'context_length' must be -1 (unset) or between 1 and "
     "2147483647, got 0"},
    {"NumGates", "slstm_block:\n  slstm:\n    num_gates: 3\n",
     "3:16: error: 'slstm_block.slstm.num_gates' must be 4, got 3 (the sLSTM "
     "has input, forget, cell and output gates)"},
    {"BatchSizeZero", "slstm_block:\n  slstm:\n    batch_size: 0\n",
     "3:17: error: 'slstm_block.slstm.batch_size' must be >= 1, got 0"},
    {"LargeHeadsZero",
     "embedding_dim: 64\nnum_heads: 0\nnum_blocks: 1\nvocab_size: 8\n",
     "2:12: error: 'num_heads' must be >= 1, got 0", SchemaHint::Large},
    {"LargeChunkSizeZero",
     "embedding_dim: 64\nnum_heads: 1\nnum_blocks: 1\nvocab_size: 8\n"
     "chunk_size: 0\n",
     "5:13: error: 'chunk_size' must be >= 1, got 0"},
    {"LargeSoftCapZero",
     "embedding_dim: 64\nnum_heads: 1\nnum_blocks: 1\nvocab_size: 8\n"
     "gate_soft_cap: 0.0\n",
     "5:16: error: 'gate_soft_cap' must be > 0, got 0.0"},
    {"LargeNormEpsNegative",
     "embedding_dim: 64\nnum_heads: 1\nnum_blocks: 1\nvocab_size: 8\n"
     "norm_eps: -1.0e-6\n",
     "5:11: error: 'norm_eps' must be >= 0, got -1.0e-6"},

    // Indivisible dimensions and degenerate derived dimensions.
    {"MLSTMHeadsIndivisible", "mlstm_block:\n  mlstm:\n    num_heads: 3\n",
     "3:16: error: 'mlstm_block.mlstm.num_heads' (3) must divide the mLSTM "
     "inner dimension _inner_embedding_dim = 256"},
    {"BlocksizeIndivisible",
     "mlstm_block:\n  mlstm:\n    qkv_proj_blocksize: 5\n",
     "3:25: error: 'mlstm_block.mlstm.qkv_proj_blocksize' (5) must divide the "
     "mLSTM inner dimension _inner_embedding_dim = 256"},
    {"MLSTMHeadsIndivisibleByDefault",
     "mlstm_block:\n  mlstm:\n    proj_factor: 1.0\n"
     "    round_proj_up_to_multiple_of: 6\nembedding_dim: 6\n",
     "2:3: error: 'mlstm_block.mlstm.num_heads' (4) must divide the mLSTM "
     "inner dimension _inner_embedding_dim = 6"},
    {"SLSTMHeadsIndivisible", "slstm_block:\n  slstm:\n    num_heads: 3\n",
     "3:16: error: 'slstm_block.slstm.num_heads' (3) must divide "
     "embedding_dim 128 (the sLSTM hidden size)"},
    {"InnerDimZero",
     "mlstm_block:\n  mlstm:\n    proj_factor: 0.1\n"
     "    round_proj_up_dim_up: false\n",
     "3:18: error: 'mlstm_block.mlstm._inner_embedding_dim' = proj_factor 0.1 "
     "x embedding_dim 128, rounded down to a multiple of 64, is 0; it must be "
     "between 1 and 2147483647"},
    {"InnerDimHuge", "mlstm_block:\n  mlstm:\n    proj_factor: 1.0e300\n",
     "3:18: error: 'mlstm_block.mlstm._inner_embedding_dim' = proj_factor "
     "1.0e+300 x embedding_dim 128, rounded up to a multiple of 64, is too "
     "large; it must be between 1 and 2147483647"},
    {"FFNDimZero",
     "slstm_block:\n  feedforward:\n    proj_factor: 0.25\n"
     "    round_proj_up_dim_up: false\n",
     "3:18: error: 'slstm_block.feedforward._proj_up_dim' = proj_factor 0.25 "
     "x embedding_dim 128, rounded down to a multiple of 64, is 0"},
    {"LargeHeadsIndivisibleQK",
     "embedding_dim: 256\nnum_heads: 3\nnum_blocks: 1\nvocab_size: 8\n",
     "2:12: error: 'num_heads' (3) must divide qk_dim = int(embedding_dim 256 "
     "x qk_dim_factor 0.5) = 128",
     SchemaHint::Large},
    {"LargeHeadsIndivisibleV",
     "embedding_dim: 256\nnum_heads: 2\nnum_blocks: 1\nvocab_size: 8\n"
     "v_dim_factor: 0.35\n",
     "2:12: error: 'num_heads' (2) must divide v_dim = int(embedding_dim 256 "
     "x v_dim_factor 0.35) = 89"},
    {"LargeQKDimZero",
     "embedding_dim: 256\nnum_heads: 2\nnum_blocks: 1\nvocab_size: 8\n"
     "qk_dim_factor: 0.001\n",
     "5:16: error: 'qk_dim' = int(embedding_dim 256 x qk_dim_factor 0.001) is "
     "0; it must be between 1 and 2147483647"},
    {"LargeFFNTooWide",
     "embedding_dim: 256\nnum_heads: 2\nnum_blocks: 1\nvocab_size: 8\n"
     "ffn_proj_factor: 1.0e12\n",
     "5:18: error: the feed-forward width round_up(embedding_dim 256 x "
     "ffn_proj_factor 1000000000000.0, 64) is too large; it must be <= "
     "2147483647"},

    // slstm_at.
    {"SlstmAtOutOfRange",
     "mlstm_block: {}\nslstm_block: {}\nnum_blocks: 7\nslstm_at: [1, 7]\n",
     "4:15: error: 'slstm_at' index 7 is out of range: num_blocks is 7, so "
     "indices go from 0 to 6"},
    {"SlstmAtNegative", "mlstm_block: {}\nslstm_block: {}\nslstm_at: [-1]\n",
     "3:12: error: 'slstm_at' index -1 is negative; blocks are numbered from "
     "0"},
    {"SlstmAtDuplicate",
     "mlstm_block: {}\nslstm_block: {}\nnum_blocks: 3\nslstm_at: [1, 1]\n",
     "4:15: error: 'slstm_at' lists block 1 twice"},
    {"SlstmAtBadString", "mlstm_block: {}\nslstm_at: some\n",
     "2:11: error: 'slstm_at' must be a list of block indices or 'all', got "
     "the string 'some'"},
    {"SlstmAtBadEntry", "mlstm_block: {}\nslstm_block: {}\nslstm_at: [0, a]\n",
     "3:15: error: 'slstm_at[1]' must be an integer, got the string 'a'"},
    {"SlstmAtNull", "mlstm_block: {}\nslstm_at:\n",
     "2:1: error: 'slstm_at' must be a list of block indices or 'all', got "
     "null"},
    {"SLSTMPositionWithoutBlock",
     "mlstm_block: {}\nnum_blocks: 3\nslstm_at: [2]\n",
     "3:12: error: block 2 is an sLSTM block ('slstm_at') but 'slstm_block' "
     "is not set"},
    {"AllWithoutSLSTMBlock", "mlstm_block: {}\nslstm_at: all\n",
     "2:11: error: block 0 is an sLSTM block ('slstm_at') but 'slstm_block' "
     "is not set"},
    {"NoBlocksAtAll", "num_blocks: 2\n",
     "1:1: error: neither 'mlstm_block' nor 'slstm_block' is set; without "
     "'mlstm_block' every block is an sLSTM block, so 'slstm_block' is "
     "required"},

    // Spellings outside the allowed set.
    {"ActFn", "slstm_block:\n  feedforward:\n    act_fn: tanh\n",
     "3:13: error: 'slstm_block.feedforward.act_fn' must be one of gelu, "
     "relu, relu^2, sigmoid, swish, selu, got the string 'tanh'"},
    {"Backend", "slstm_block:\n  slstm:\n    backend: triton\n",
     "3:14: error: 'slstm_block.slstm.backend' must be one of vanilla, cuda, "
     "got the string 'triton'"},
    {"Function", "slstm_block:\n  slstm:\n    function: gru\n",
     "3:15: error: 'slstm_block.slstm.function' must be one of slstm, lstm, "
     "got the string 'gru'"},
    {"BiasInit", "slstm_block:\n  slstm:\n    bias_init: ones\n",
     "3:16: error: 'slstm_block.slstm.bias_init' must be one of "
     "powerlaw_blockdependent, small_init, standard, zeros, got the string "
     "'ones'"},
    {"RecurrentWeightInit",
     "slstm_block:\n  slstm:\n    recurrent_weight_init: random\n",
     "3:28: error: 'slstm_block.slstm.recurrent_weight_init' must be one of "
     "zeros, standard, got the string 'random'"},
    {"Dtype", "slstm_block:\n  slstm:\n    dtype_r: float64\n",
     "3:14: error: 'slstm_block.slstm.dtype_r' must be one of bfloat16, "
     "float16, float32, got the string 'float64'"},
    {"InputShape", "slstm_block:\n  slstm:\n    output_shape: NSBH\n",
     "3:19: error: 'slstm_block.slstm.output_shape' must be one of BNSH, SBH, "
     "BSH, SBNH, got the string 'NSBH'"},
    {"FFType", "slstm_block:\n  feedforward:\n    ff_type: ffn\n",
     "3:14: error: 'slstm_block.feedforward.ff_type' must be one of "
     "ffn_gated, got the string 'ffn'"},
    {"WeightMode",
     "embedding_dim: 64\nnum_heads: 1\nnum_blocks: 1\nvocab_size: 8\n"
     "weight_mode: packed\n",
     "5:14: error: 'weight_mode' must be one of single, fused, got the string "
     "'packed'"},
    {"Mode",
     "embedding_dim: 64\nnum_heads: 1\nnum_blocks: 1\nvocab_size: 8\n"
     "mode: eval\n",
     "5:7: error: 'mode' must be one of train, train_with_padding, "
     "inference, got the string 'eval'"},
    {"StepKernel",
     "embedding_dim: 64\nnum_heads: 1\nnum_blocks: 1\nvocab_size: 8\n"
     "step_kernel: triton_fused\n",
     "5:14: error: 'step_kernel' must be one of native, triton, got the "
     "string 'triton_fused'"},
    {"Constants", "slstm_block:\n  slstm:\n    constants: {A: 1}\n",
     "3:16: error: 'slstm_block.slstm.constants' must be an empty mapping, got "
     "a mapping (extra CUDA compile defines of upstream's sLSTM kernel are "
     "not supported)"},

    // Keys and sections.
    {"UnknownKey", "mlstm_block:\n  mlstm:\n    foo: 1\n",
     "3:5: error: unknown key 'foo' in mlstm_block.mlstm; expected one of: "
     "proj_factor, round_proj_up_dim_up, round_proj_up_to_multiple_of, "
     "conv1d_kernel_size, qkv_proj_blocksize, num_heads"},
    {"UnknownKeySuggestion", "mlstm_block:\n  mlstm:\n    num_head: 1\n",
     "3:5: error: unknown key 'num_head' in mlstm_block.mlstm; did you mean "
     "'num_heads'? expected one of:"},
    {"UnknownTopLevelKey", "mlstm_block: {}\nfoo: 1\n",
     "2:1: error: unknown key 'foo' in the top level (xLSTMBlockStackConfig); "
     "expected one of: mlstm_block, slstm_block, context_length, num_blocks, "
     "embedding_dim, add_post_blocks_norm, bias, dropout, slstm_at"},
    {"UnknownKeyInModel",
     "model:\n  mlstm_block: {}\n  vocab_size: 3\n  x: 1\n",
     "4:3: error: unknown key 'x' in model (xLSTMLMModelConfig); expected one "
     "of: mlstm_block,"},
    {"UnknownLargeKey",
     "embedding_dim: 64\nnum_heads: 1\nnum_blocks: 1\nvocab_size: 8\n"
     "chunk_sizes: 8\n",
     "5:1: error: unknown key 'chunk_sizes' in the top level "
     "(xLSTMLargeConfig); did you mean 'chunk_size'?"},
    {"DuplicateKey", "mlstm_block: {}\nnum_blocks: 1\nnum_blocks: 2\n",
     "3:1: error: duplicate key 'num_blocks' in the top level "
     "(xLSTMBlockStackConfig) (first given at line 2)"},
    {"NonStringKey", "mlstm_block: {}\n? [1]\n: 2\n",
     "2:3: error: keys in the top level (xLSTMBlockStackConfig) must be plain "
     "strings, got a sequence"},
    {"SectionNotMapping", "mlstm_block: [1]\n",
     "1:14: error: 'mlstm_block' must be a mapping (mLSTMBlockConfig) or "
     "null, got a sequence"},
    {"RequiredSectionNull", "mlstm_block:\n  mlstm: null\n",
     "2:10: error: 'mlstm_block.mlstm' must be a mapping (mLSTMLayerConfig), "
     "got null"},
    {"RequiredSectionEmpty", "slstm_block:\n  slstm:\n",
     "2:3: error: 'slstm_block.slstm' must be a mapping (sLSTMLayerConfig), "
     "got null"},
    {"IgnoredKeyGivenMapping", "mlstm_block:\n  _block_idx: {a: 1}\n",
     "2:15: error: 'mlstm_block._block_idx' must be a scalar, got a mapping"},

    // Families.
    {"MixedLargeAndStack", "num_heads: 4\nmlstm_block: {}\n",
     "2:1: error: 'mlstm_block' is an xLSTMBlockStackConfig key, but "
     "'num_heads' at line 1 is an xLSTMLargeConfig key; a config follows one "
     "schema"},
    {"MixedLMAndLarge", "tie_weights: true\nvocab_size: 8\nchunk_size: 64\n",
     "3:1: error: 'chunk_size' is an xLSTMLargeConfig key, but 'tie_weights' "
     "at line 1 is an xLSTMLMModelConfig key; a config follows one schema"},
    {"HintBlockStackRejectsLMKey", "mlstm_block: {}\nvocab_size: 8\n",
     "2:1: error: unknown key 'vocab_size' in the top level "
     "(xLSTMBlockStackConfig)",
     SchemaHint::BlockStack},
    {"HintLargeRejectsStackKey",
     "embedding_dim: 64\nnum_heads: 1\nnum_blocks: 1\nvocab_size: 8\n"
     "mlstm_block: {}\n",
     "5:1: error: unknown key 'mlstm_block' in the top level "
     "(xLSTMLargeConfig)",
     SchemaHint::Large},
    {"HintLMNeedsVocab", "mlstm_block: {}\n",
     "1:1: error: 'vocab_size' is required for an xLSTMLMModelConfig "
     "(upstream's default -1 cannot build the embedding)",
     SchemaHint::LMModel},
    {"LMNeedsVocab", "mlstm_block: {}\ntie_weights: true\n",
     "1:1: error: 'vocab_size' is required for an xLSTMLMModelConfig"},
    {"LargeMissingField", "embedding_dim: 64\nchunk_size: 16\n",
     "1:1: error: missing required field 'num_heads' (xLSTMLargeConfig has no "
     "default for it)"},

    // The experiment layout.
    {"Interpolation",
     "model:\n  mlstm_block: {}\n  context_length: "
     "${dataset.kwargs.context_length}\n",
     "3:19: error: OmegaConf interpolation '${dataset.kwargs.context_length}' "
     "in field 'context_length' is not supported; write the value"},
    {"InterpolationNested",
     "mlstm_block:\n  mlstm:\n    num_heads: \"${oc.env:HEADS}\"\n",
     "3:16: error: OmegaConf interpolation '${oc.env:HEADS}' in field "
     "'mlstm_block.mlstm.num_heads' is not supported; write the value"},
    {"InterpolationInList",
     "mlstm_block: {}\nslstm_block: {}\nslstm_at: [\"${x}\"]\n",
     "3:12: error: OmegaConf interpolation '${x}' in field 'slstm_at[0]' is "
     "not supported"},
    {"ModelNotMapping", "training: {}\nmodel: 3\n",
     "2:8: error: 'model' must be a mapping of model fields, got the integer "
     "3"},
    {"ModelEmpty", "model:\ndataset: {}\n",
     "1:1: error: 'model' must be a mapping of model fields, got null"},

    // Documents.
    {"EmptyFile", "",
     "1:1: error: empty config file; expected a mapping with "
     "model fields"},
    {"CommentsOnly", "# nothing here\n\n",
     "1:1: error: empty config file; expected a mapping with model fields"},
    {"ExplicitNull", "null\n", "1:1: error: empty config file"},
    {"TopLevelSequence", "- 1\n- 2\n",
     "1:1: error: expected a mapping of model fields at the top level, got a "
     "sequence"},
    {"TopLevelScalar", "hello\n",
     "1:1: error: expected a mapping of model fields at the top level, got "
     "the string 'hello'"},
    {"TwoDocuments", "mlstm_block: {}\n---\nmlstm_block: {}\n",
     "3:1: error: expected a single YAML document, found another one"},
    {"UnclosedFlowSequence", "mlstm_block: {}\nslstm_at: [1, 2\n",
     "error: Could not find closing ]!"},
    {"BadEscape", "mlstm_block: {}\nfoo: \"\\q\"\n",
     "2:8: error: Unrecognized escape code"},
    {"Alias", "mlstm_block: {}\nembedding_dim: &e 64\nnum_blocks: *e\n",
     "3:1: error: YAML alias '*e' in 'num_blocks' is not supported; write the "
     "value"},
    {"Tag", "mlstm_block: {}\nnum_blocks: !!int 2\n",
     "2:19: error: YAML tag '!!int' on 'num_blocks' is not supported; write "
     "the plain value"},
    {"TagOnSection", "mlstm_block: !foo {}\n",
     "error: YAML tag '!foo' on 'mlstm_block' is not supported"},
};

void PrintTo(const ErrorCase &c, std::ostream *os) { *os << c.name; }

class ConfigErrorTest : public testing::TestWithParam<ErrorCase> {};

TEST_P(ConfigErrorTest, Reports) {
  const ErrorCase &c = GetParam();
  Parsed p = parse(c.yaml, c.hint);
  EXPECT_FALSE(p.spec);
  std::string expected = c.diag;
  if (!expected.empty() && llvm::isDigit(expected[0]))
    expected = "test.yaml:" + expected;
  EXPECT_NE(p.diags.find(expected), std::string::npos)
      << "expected: " << expected << "\ngot:\n"
      << p.diags;
}

INSTANTIATE_TEST_SUITE_P(Config, ConfigErrorTest,
                         testing::ValuesIn(kErrorCases),
                         [](const testing::TestParamInfo<ErrorCase> &info) {
                           return std::string(info.param.name);
                         });

TEST(ConfigErrors, DiagnosticShowsSourceLineAndCaret) {
  Parsed p = parse("mlstm_block:\n  mlstm:\n    num_heads: four\n");
  EXPECT_EQ(p.diags, "test.yaml:3:16: error: 'mlstm_block.mlstm.num_heads' "
                     "must be an integer, got the string 'four'\n"
                     "    num_heads: four\n"
                     "               ^\n");
}

TEST(ConfigErrors, AllFieldErrorsAreReported) {
  Parsed p = parse("mlstm_block: {}\nnum_blocks: 0\nembedding_dim: x\n");
  EXPECT_NE(p.diags.find("test.yaml:2:13: error:"), std::string::npos);
  EXPECT_NE(p.diags.find("test.yaml:3:16: error:"), std::string::npos);
}

TEST(ConfigErrors, ErrorCountIsCapped) {
  std::string yaml = "mlstm_block: {}\n";
  for (int i = 0; i < 50; ++i)
    yaml += "bad" + std::to_string(i) + ": 1\n";
  Parsed p = parse(yaml);
  EXPECT_FALSE(p.spec);
  size_t errors = 0;
  for (size_t at = p.diags.find(": error: "); at != std::string::npos;
       at = p.diags.find(": error: ", at + 1))
    ++errors;
  EXPECT_EQ(errors, 20u);
  EXPECT_NE(p.diags.find("note: too many errors; the rest are not shown"),
            std::string::npos);
}

TEST(ConfigErrors, LongValuesAreShortenedInMessages) {
  Parsed p =
      parse("mlstm_block: {}\nnum_blocks: " + std::string(100000, 'x') + "\n");
  EXPECT_FALSE(p.spec);
  EXPECT_NE(p.diags.find("got the string '" + std::string(40, 'x') + "...'"),
            std::string::npos);
}

TEST(ConfigErrors, MissingFile) {
  Parsed p = parseFile("/nonexistent/model.yaml");
  EXPECT_FALSE(p.spec);
  EXPECT_EQ(p.diags, "/nonexistent/model.yaml: error: cannot open config "
                     "file: No such file or directory\n");
}

TEST(ConfigErrors, FolderWithoutAConfig) {
  // A folder is read as a model folder; the source tree holds no config.
  Parsed p = parseFile(XLSTM_SOURCE_DIR);
  EXPECT_FALSE(p.spec);
  EXPECT_NE(p.diags.find(": error: a model folder must hold config.json "
                         "(Hugging Face) or config.yaml (xlstm_large)"),
            std::string::npos)
      << p.diags;
}

/// print -> parse -> print must be a fixed point, without diagnostics, and
/// the family must survive.
void expectRoundTrip(const ModelSpec &spec) {
  std::string text = print(spec);
  Parsed again = parse(text);
  ASSERT_TRUE(again.spec) << again.diags << "\n" << text;
  EXPECT_EQ(again.diags, "") << text;
  EXPECT_EQ(again.spec->family, spec.family);
  EXPECT_EQ(print(*again.spec), text);
}

//===----------------------------------------------------------------------===//
// Hostile input: never crash, always explain
//===----------------------------------------------------------------------===//

void expectRejected(const std::string &yaml) {
  Parsed p = parse(yaml);
  EXPECT_FALSE(p.spec);
  EXPECT_NE(p.diags.find("error: "), std::string::npos) << p.diags;
}

TEST(ConfigHostile, DeepFlowNesting) {
  expectRejected("a: " + std::string(200000, '['));
  Parsed p = parse("model: " + std::string(100, '[') + std::string(100, ']'));
  EXPECT_NE(p.diags.find("error: YAML nesting deeper than 64 levels is not "
                         "supported"),
            std::string::npos)
      << p.diags;
}

TEST(ConfigHostile, DeepBlockNesting) {
  std::string dashes;
  for (int i = 0; i < 100000; ++i)
    dashes += "- ";
  expectRejected(dashes + "x\n");
  std::string mappings;
  for (int i = 0; i < 300; ++i)
    mappings += std::string(i, ' ') + "k" + std::to_string(i) + ":\n";
  expectRejected(mappings);
}

TEST(ConfigHostile, TooManyNodes) {
  std::string items = "training: [";
  for (int i = 0; i < (1 << 20); ++i)
    items += "1,";
  Parsed p = parse(items + "1]\nmodel: {}\n");
  EXPECT_FALSE(p.spec);
  EXPECT_NE(p.diags.find("error: YAML document too large"), std::string::npos);
}

TEST(ConfigHostile, AliasBombInIgnoredSection) {
  // Aliases are never expanded, so a "billion laughs" costs nothing.
  std::string yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 20; ++i)
    yaml += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" +
            std::string(9, ' ') + "*a" + std::to_string(i - 1) + ", *a" +
            std::to_string(i - 1) + "]\n";
  Parsed p = parse(yaml + "model:\n  mlstm_block: {}\n");
  ASSERT_TRUE(p.spec) << p.diags;
}

TEST(ConfigHostile, RandomBytes) {
  std::mt19937 rng(1234);
  for (int round = 0; round < 300; ++round) {
    std::string bytes(rng() % 200, '\0');
    for (char &c : bytes)
      c = static_cast<char>(rng() % 256);
    Parsed p = parse(bytes);
    if (!p.spec) {
      EXPECT_FALSE(p.diags.empty()) << round;
    }
  }
}

TEST(ConfigHostile, MutatedReadmeConfig) {
  // Byte-level mutations of a valid config: each run either loads (and then
  // round-trips) or says why not; none may crash.
  const std::string base = kReadmeStack;
  const std::string alphabet = " \n\t:-[]{},#&*!|>'\"%@`?0123456789.aeE+-~";
  std::mt19937 rng(42);
  for (int round = 0; round < 2000; ++round) {
    std::string text = base;
    for (int edits = 1 + rng() % 4; edits > 0; --edits) {
      size_t at = rng() % (text.size() + 1);
      char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
      case 0:
        text.insert(at, 1, c);
        break;
      case 1:
        if (at < text.size())
          text.erase(at, 1);
        break;
      default:
        if (at < text.size())
          text[at] = c;
        break;
      }
    }
    Parsed p = parse(text);
    if (p.spec)
      expectRoundTrip(*p.spec);
    else
      EXPECT_NE(p.diags.find("error"), std::string::npos) << text;
  }
}

//===----------------------------------------------------------------------===//
// Golden configs (shared/golden) with the values of spec §c.2 and §c.3
//===----------------------------------------------------------------------===//

class GoldenConfigTest : public testing::Test {
protected:
  void SetUp() override {
    if (!llvm::sys::fs::is_directory(goldenDir()))
      GTEST_SKIP() << "no golden data at " << goldenDir();
  }
  ModelSpec load(StringRef name) {
    Parsed p = parseFile(goldenDir() + "/" + name.str() + ".yaml");
    EXPECT_TRUE(p.spec) << p.diags;
    EXPECT_EQ(p.diags, "");
    return p.spec.value_or(ModelSpec());
  }
};

void expectReadmeBlocks(const StackConfig &s) {
  EXPECT_EQ(s.numBlocks, 7);
  EXPECT_EQ(s.embeddingDim, 128);
  EXPECT_EQ(s.contextLength, 256);
  EXPECT_EQ(s.blockMapString(), "0,1,0,0,0,0,0");
  ASSERT_TRUE(s.mlstmBlock && s.slstmBlock && s.slstmBlock->feedforward);
  const MLSTMLayerConfig &m = s.mlstmBlock->mlstm;
  EXPECT_EQ(m.innerEmbeddingDim, 256);
  EXPECT_EQ(m.headDim(), 64);
  EXPECT_EQ(m.innerEmbeddingDim / m.qkvProjBlocksize, 64); // NHp
  EXPECT_EQ(s.slstmBlock->slstm.headDim(), 32);
  EXPECT_EQ(s.slstmBlock->slstm.backend, SLSTMBackend::Cuda);
  EXPECT_EQ(s.slstmBlock->feedforward->projUpDim, 192);
  EXPECT_EQ(s.slstmBlock->feedforward->actFn, ActFn::Gelu);
}

TEST_F(GoldenConfigTest, StackReadme) {
  ModelSpec spec = load("stack_readme");
  EXPECT_EQ(spec.family, ModelFamily::BlockStack);
  expectReadmeBlocks(spec.stack);
}

TEST_F(GoldenConfigTest, LMReadmeV1024) {
  ModelSpec spec = load("lm_readme_v1024");
  EXPECT_EQ(spec.family, ModelFamily::LMModel);
  EXPECT_EQ(spec.stack.vocabSize, 1024);
  EXPECT_FALSE(spec.stack.tieWeights);
  expectReadmeBlocks(spec.stack);
}

TEST_F(GoldenConfigTest, ParityXLSTM10) {
  ModelSpec spec = load("parity_xlstm10");
  EXPECT_EQ(spec.family, ModelFamily::LMModel);
  EXPECT_EQ(spec.stack.vocabSize, 3);
  EXPECT_EQ(spec.stack.contextLength, 256);
  EXPECT_EQ(spec.stack.blockMapString(), "0,0");
  const MLSTMLayerConfig &m = spec.stack.mlstmBlock->mlstm;
  EXPECT_EQ(m.innerEmbeddingDim, 128);
  EXPECT_EQ(m.headDim(), 128);
  EXPECT_EQ(m.innerEmbeddingDim / m.qkvProjBlocksize, 32);
  EXPECT_TRUE(spec.stack.slstmBlock); // `slstm_block: {}` is a default block
}

TEST_F(GoldenConfigTest, ParityXLSTM11) {
  ModelSpec spec = load("parity_xlstm11");
  EXPECT_EQ(spec.stack.blockMapString(), "0,1");
  EXPECT_EQ(spec.stack.slstmBlock->slstm.numHeads, 1);
  EXPECT_EQ(spec.stack.slstmBlock->slstm.headDim(), 64);
  EXPECT_EQ(spec.stack.slstmBlock->feedforward->projUpDim, 128);
}

TEST_F(GoldenConfigTest, ParityXLSTM01) {
  ModelSpec spec = load("parity_xlstm01");
  EXPECT_EQ(spec.stack.blockMapString(), "1,1");
  EXPECT_FALSE(spec.stack.slstmAtAll);
}

TEST_F(GoldenConfigTest, MLSTMVariant) {
  ModelSpec spec = load("mlstm_variant");
  const StackConfig &s = spec.stack;
  EXPECT_EQ(spec.family, ModelFamily::BlockStack);
  EXPECT_EQ(s.blockMapString(), "0,0,0");
  EXPECT_FALSE(s.addPostBlocksNorm);
  const MLSTMLayerConfig &m = s.mlstmBlock->mlstm;
  EXPECT_TRUE(m.bias);
  EXPECT_EQ(m.conv1dKernelSize, 2);
  EXPECT_EQ(m.numHeads, 8);
  EXPECT_EQ(m.innerEmbeddingDim, 128);
  EXPECT_EQ(m.headDim(), 16);
  EXPECT_EQ(m.innerEmbeddingDim / m.qkvProjBlocksize, 16);
}

TEST_F(GoldenConfigTest, SLSTMVariant) {
  ModelSpec spec = load("slstm_variant");
  const StackConfig &s = spec.stack;
  EXPECT_FALSE(s.mlstmBlock);
  EXPECT_TRUE(s.slstmAtAll);
  EXPECT_EQ(s.blockMapString(), "1,1");
  const SLSTMLayerConfig &l = s.slstmBlock->slstm;
  EXPECT_EQ(l.backend, SLSTMBackend::Vanilla);
  EXPECT_EQ(l.conv1dKernelSize, 0);
  EXPECT_EQ(l.biasInit, SLSTMBiasInit::SmallInit);
  EXPECT_EQ(l.recurrentWeightInit, RecurrentWeightInit::Standard);
  EXPECT_EQ(l.headDim(), 48);
  EXPECT_EQ(s.slstmBlock->feedforward->actFn, ActFn::Swish);
  EXPECT_EQ(s.slstmBlock->feedforward->projUpDim, 192); // ceil(144/64)*64
}

TEST_F(GoldenConfigTest, LargeMini) {
  ModelSpec spec = load("large_mini");
  EXPECT_EQ(spec.family, ModelFamily::Large);
  const LargeConfig &c = spec.large;
  EXPECT_EQ(c.embeddingDim, 256);
  EXPECT_EQ(c.numHeads, 2);
  EXPECT_EQ(c.numBlocks, 2);
  EXPECT_EQ(c.vocabSize, 512);
  EXPECT_EQ(c.chunkSize, 16);
  EXPECT_EQ(c.qkDim, 128);
  EXPECT_EQ(c.vDim, 256);
  EXPECT_EQ(c.qkHeadDim, 64);
  EXPECT_EQ(c.vHeadDim, 128);
  EXPECT_EQ(c.ffnDim, 704);
}

TEST_F(GoldenConfigTest, EveryGoldenConfigLoads) {
  std::vector<std::string> files = yamlFilesIn(goldenDir());
  EXPECT_GE(files.size(), 8u);
  for (const std::string &file : files) {
    Parsed p = parseFile(file);
    EXPECT_TRUE(p.spec) << file << "\n" << p.diags;
  }
}

//===----------------------------------------------------------------------===//
// Shipped configs (python-free-configs)
//===----------------------------------------------------------------------===//

ModelSpec loadShipped(StringRef name) {
  Parsed p = parseFile(shippedDir() + "/" + name.str());
  EXPECT_TRUE(p.spec) << p.diags;
  EXPECT_EQ(p.diags, "");
  return p.spec.value_or(ModelSpec());
}

TEST(ShippedConfigs, EveryFileLoadsCleanly) {
  std::vector<std::string> files = yamlFilesIn(shippedDir());
  EXPECT_GE(files.size(), 9u);
  for (const std::string &file : files) {
    Parsed p = parseFile(file);
    EXPECT_TRUE(p.spec) << file << "\n" << p.diags;
    EXPECT_EQ(p.diags, "") << file;
  }
}

TEST(ShippedConfigs, XLSTM7B) {
  ModelSpec spec = loadShipped("xlstm_7b.yaml");
  const LargeConfig &c = spec.large;
  EXPECT_EQ(spec.family, ModelFamily::Large);
  EXPECT_EQ(c.embeddingDim, 4096);
  EXPECT_EQ(c.numHeads, 8);
  EXPECT_EQ(c.numBlocks, 32);
  EXPECT_EQ(c.vocabSize, 50304);
  EXPECT_EQ(c.mode, "inference");
  EXPECT_TRUE(c.returnLastStates);
  EXPECT_EQ(c.qkDim, 2048);
  EXPECT_EQ(c.vDim, 4096);
  EXPECT_EQ(c.qkHeadDim, 256);
  EXPECT_EQ(c.vHeadDim, 512);
  EXPECT_EQ(c.ffnDim, 10944);
}

TEST(ShippedConfigs, ReadmeLM) {
  ModelSpec spec = loadShipped("readme_lm.yaml");
  EXPECT_EQ(spec.family, ModelFamily::LMModel);
  EXPECT_EQ(spec.stack.vocabSize, 50304);
  EXPECT_FALSE(spec.stack.tieWeights);
  expectReadmeBlocks(spec.stack);
}

TEST(ShippedConfigs, PaperSizedLMs) {
  struct Size {
    const char *file;
    int64_t embeddingDim, numBlocks, innerDim, ffnDim;
  };
  for (const Size &size : {Size{"xlstm71_125m.yaml", 768, 24, 1536, 1024},
                           Size{"xlstm71_350m.yaml", 1024, 24, 2048, 1344},
                           Size{"xlstm71_1_3b.yaml", 2048, 48, 4096, 2688}}) {
    SCOPED_TRACE(size.file);
    ModelSpec spec = loadShipped(size.file);
    const StackConfig &s = spec.stack;
    EXPECT_EQ(spec.family, ModelFamily::LMModel);
    EXPECT_EQ(s.vocabSize, 50304);
    EXPECT_EQ(s.contextLength, 2048);
    EXPECT_EQ(s.embeddingDim, size.embeddingDim);
    EXPECT_EQ(s.numBlocks, size.numBlocks);
    // xLSTM[7:1]: one sLSTM block per eight.
    EXPECT_EQ(static_cast<int64_t>(s.slstmAt.size()) * 8, size.numBlocks);
    ASSERT_TRUE(s.mlstmBlock && s.slstmBlock);
    EXPECT_EQ(s.mlstmBlock->mlstm.innerEmbeddingDim, size.innerDim);
    EXPECT_EQ(s.slstmBlock->feedforward->projUpDim, size.ffnDim);
  }
}

TEST(ShippedConfigs, MatchTheGoldenOnes) {
  if (!llvm::sys::fs::is_directory(goldenDir()))
    GTEST_SKIP() << "no golden data at " << goldenDir();
  for (auto [shipped, golden] :
       {std::pair<StringRef, StringRef>{"readme_stack", "stack_readme"},
        {"parity_xlstm01", "parity_xlstm01"},
        {"parity_xlstm10", "parity_xlstm10"},
        {"parity_xlstm11", "parity_xlstm11"}}) {
    Parsed a = parseFile(shippedDir() + "/" + shipped.str() + ".yaml");
    Parsed b = parseFile(goldenDir() + "/" + golden.str() + ".yaml");
    ASSERT_TRUE(a.spec && b.spec) << a.diags << b.diags;
    EXPECT_EQ(print(*a.spec), print(*b.spec)) << shipped.str();
  }
}

//===----------------------------------------------------------------------===//
// printModelSpec
//===----------------------------------------------------------------------===//

TEST(ConfigPrinter, RoundTripsEveryConfigFile) {
  std::vector<std::string> files = yamlFilesIn(shippedDir());
  for (const std::string &file : yamlFilesIn(goldenDir()))
    files.push_back(file);
  for (const std::string &file : files) {
    SCOPED_TRACE(file);
    Parsed p = parseFile(file);
    ASSERT_TRUE(p.spec) << p.diags;
    expectRoundTrip(*p.spec);
  }
}

TEST(ConfigPrinter, RoundTripsNonDefaultValues) {
  ASSERT_PARSES(p, R"(vocab_size: 77
tie_weights: true
mlstm_block:
  mlstm:
    proj_factor: 1.7
    round_proj_up_dim_up: false
    round_proj_up_to_multiple_of: 16
    conv1d_kernel_size: 3
    qkv_proj_blocksize: 8
    num_heads: 2
slstm_block:
  slstm:
    num_heads: 0
    function: lstm
    backend: vanilla
    bias_init: zeros
    gradient_recurrent_clipval: 0.3
    dtype: float32
    dtype_b: null
    initial_val: -2.5e-7
  feedforward: null
num_blocks: 5
embedding_dim: 96
bias: true
dropout: 0.1
context_length: 1000
slstm_at: [4, 1]
)");
  expectRoundTrip(*p.spec);
  std::string text = print(*p.spec);
  EXPECT_NE(text.find("slstm_at: [4, 1]\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  feedforward: null\n"), std::string::npos) << text;
  EXPECT_NE(text.find("    initial_val: -2.5e-07\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("    num_heads: 1\n"), std::string::npos) << text;
}

TEST(ConfigPrinter, WritesDerivedFieldsAsComments) {
  ASSERT_PARSES(p, kReadmeStack);
  std::string text = print(*p.spec);
  for (StringRef line :
       {"# xLSTMBlockStackConfig as resolved by xlstm-mlir",
        "    # derived: _inner_embedding_dim: 256\n",
        "    # derived: head_dim: 64\n", "    # derived: num_proj_heads: 64\n",
        "    # derived: hidden_size: 128\n", "    # derived: head_dim: 32\n",
        "    # derived: _proj_up_dim: 192\n",
        "# derived: _block_map: \"0,1,0,0,0,0,0\"\n", "slstm_at: [1]\n",
        "    proj_factor: 1.3\n", "    dtype_b: float32\n",
        "add_post_blocks_norm: true\n"})
    EXPECT_NE(text.find(line.str()), std::string::npos) << line.str() << text;
  EXPECT_EQ(text.find("vocab_size"), std::string::npos);
  EXPECT_EQ(print(*p.spec), text); // deterministic
}

TEST(ConfigPrinter, WritesLargeConfig) {
  ASSERT_PARSES(p, "embedding_dim: 256\nnum_heads: 2\nnum_blocks: 2\n"
                   "vocab_size: 512\nchunk_size: 16\n");
  std::string text = print(*p.spec);
  for (StringRef line :
       {"output_logit_soft_cap: 30.0\n", "norm_eps: 1.0e-06\n",
        "ffn_proj_factor: 2.6667\n", "# derived: qk_dim: 128\n",
        "# derived: up_proj_dim: 704\n"})
    EXPECT_NE(text.find(line.str()), std::string::npos) << line.str() << text;
  expectRoundTrip(*p.spec);
}

TEST(ConfigPrinter, QuotesStringsThatAreNotPlainSafe) {
  ModelSpec spec;
  spec.large.embeddingDim = 64;
  spec.large.numHeads = 1;
  spec.large.numBlocks = 1;
  spec.large.vocabSize = 8;
  spec.family = ModelFamily::Large;
  spec.large.mode = "a: b";
  std::string text = print(spec);
  EXPECT_NE(text.find("mode: \"a: b\"\n"), std::string::npos) << text;
}

} // namespace

//===----------------------------------------------------------------------===//
// Hugging Face config.json (transformers' xLSTMConfig)
//===----------------------------------------------------------------------===//

namespace {
Parsed parseJSON(StringRef json) {
  Parsed p;
  llvm::raw_string_ostream os(p.diags);
  p.spec = parseModelConfig(json, "config.json", os);
  return p;
}
} // namespace

TEST(HFConfig, EmptyIsTransformersDefaultsTheXLSTM7B) {
  Parsed p = parseJSON(R"({"model_type": "xlstm"})");
  ASSERT_TRUE(p.spec) << p.diags;
  EXPECT_EQ(p.diags, "");
  const LargeConfig &c = p.spec->large;
  EXPECT_EQ(p.spec->family, ModelFamily::Large);
  EXPECT_EQ(c.embeddingDim, 4096);
  EXPECT_EQ(c.numBlocks, 32);
  EXPECT_EQ(c.numHeads, 8);
  EXPECT_EQ(c.vocabSize, 50304);
  EXPECT_EQ(c.qkDim, 2048);
  EXPECT_EQ(c.vDim, 4096);
  EXPECT_EQ(c.ffnDim, 10944);
  EXPECT_EQ(c.mode, "inference");
  EXPECT_TRUE(c.returnLastStates);
  ASSERT_TRUE(p.spec->specialTokens);
  EXPECT_FALSE(p.spec->specialTokens->bos); // only what the file says
}

TEST(HFConfig, The7BConfigJSON) {
  // The fields of NX-AI/xLSTM-7b's config.json (7B spec §1.2), including
  // the original training-time keys transformers no longer reads.
  Parsed p = parseJSON(R"({
    "architectures": ["xLSTMForCausalLM"], "model_type": "xlstm",
    "embedding_dim": 4096, "num_blocks": 32, "num_heads": 8,
    "head_dim": 512, "qk_dim_factor": 0.5, "v_dim_factor": 1.0,
    "vocab_size": 50304, "ffn_proj_factor": 2.667,
    "ffn_round_up_to_multiple_of": 64, "gate_soft_cap": 15.0,
    "output_logit_soft_cap": 30.0, "norm_eps": 1e-06, "cell_norm_eps": 1e-06,
    "norm_reduction_force_float32": true, "use_bias": false,
    "add_out_norm": true, "tie_word_embeddings": false,
    "igate_bias_init_range": -10.0, "mlstm_round_up_to_multiple_of": 64,
    "return_last_states": true, "add_qk_norm": false, "add_post_norm": false,
    "add_forward_backend_padding": false, "force_bos_token_insert": true,
    "forward_backend_name": "chunkwise--triton_limit_chunk",
    "step_backend_name": "triton_fused", "torch_dtype": "float32",
    "bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1,
    "transformers_version": "4.48.0", "use_cache": true})");
  ASSERT_TRUE(p.spec) << p.diags;
  EXPECT_EQ(p.diags, "");
  const LargeConfig &c = p.spec->large;
  EXPECT_EQ(c.embeddingDim, 4096);
  EXPECT_EQ(c.qkHeadDim, 256);
  EXPECT_EQ(c.vHeadDim, 512);
  EXPECT_EQ(c.ffnDim, 10944);
  const auto &tokens = *p.spec->specialTokens;
  EXPECT_EQ(tokens.bos, 0);
  EXPECT_EQ(tokens.pad, 1);
  EXPECT_EQ(tokens.eos, std::vector<int64_t>{2});
  EXPECT_TRUE(tokens.forceBosInsert);
}

TEST(HFConfig, AliasesAndNulls) {
  // transformers writes both names; either alone, or one null, is enough.
  for (StringRef json :
       {R"({"model_type": "xlstm", "hidden_size": 256, "num_hidden_layers": 3})",
        R"({"model_type": "xlstm", "embedding_dim": 256, "num_blocks": 3})",
        R"({"model_type": "xlstm", "hidden_size": 256, "embedding_dim": null,
            "num_hidden_layers": null, "num_blocks": 3})",
        R"({"model_type": "xlstm", "hidden_size": 256, "embedding_dim": 256,
            "num_hidden_layers": 3, "num_blocks": 3})"}) {
    Parsed p = parseJSON(json);
    ASSERT_TRUE(p.spec) << json.str() << p.diags;
    EXPECT_EQ(p.spec->large.embeddingDim, 256);
    EXPECT_EQ(p.spec->large.numBlocks, 3);
  }
  Parsed list =
      parseJSON(R"({"model_type": "xlstm", "eos_token_id": [2, 0]})");
  ASSERT_TRUE(list.spec) << list.diags;
  EXPECT_EQ(list.spec->specialTokens->eos, (std::vector<int64_t>{2, 0}));
}

TEST(HFConfig, Errors) {
  struct Case {
    const char *json, *message;
  };
  const Case cases[] = {
      {R"({"model_type": "llama"})",
       "config.json:1:16: error: 'model_type' is the quoted string 'llama'; "
       "xlstm-mlir reads Hugging Face configs of model_type \"xlstm\""},
      {R"({"model_type": "xlstm", "hidden_size": 256, "embedding_dim": 512})",
       "config.json:1:62: error: 'embedding_dim' is 512 but 'hidden_size' is "
       "256; they name the same field"},
      {R"({"model_type": "xlstm", "tie_word_embeddings": true})",
       "'tie_word_embeddings' is true; xlstm-mlir builds the xLSTM-7B "
       "architecture without it"},
      {R"({"model_type": "xlstm", "add_qk_norm": true})",
       "'add_qk_norm' is true"},
      {R"({"model_type": "xlstm", "num_heads": "eight"})", "num_heads"},
      {R"({"model_type": "xlstm", "weight_mode": "split"})", "weight_mode"},
      // int(96 x 0.5) = 48, but transformers' cache rounds up to 64.
      {R"({"model_type": "xlstm", "hidden_size": 96, "num_heads": 2})",
       "transformers' xLSTMConfig rounds qk_dim = hidden_size 96 x "
       "qk_dim_factor 0.5 up to 64 (a multiple of 64) for its cache, but its "
       "layers use 48"},
      {R"({"model_type": "xlstm", "model_type": "xlstm"})", "duplicate key"},
  };
  for (const Case &c : cases) {
    Parsed p = parseJSON(c.json);
    EXPECT_FALSE(p.spec) << c.json;
    EXPECT_NE(p.diags.find(c.message), std::string::npos)
        << c.json << "\n" << p.diags;
  }
  // Keys transformers does not know are ignored with a warning.
  Parsed unknown = parseJSON(R"({"model_type": "xlstm", "rope_theta": 1})");
  ASSERT_TRUE(unknown.spec);
  EXPECT_NE(unknown.diags.find("warning: 'rope_theta' is not a field of "
                               "transformers' xLSTMConfig; ignored"),
            std::string::npos)
      << unknown.diags;
}

TEST(HFConfig, ModelFolders) {
  llvm::SmallString<128> dir;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("xlstm-hf", dir));
  // A folder without a config is an error naming what it should hold.
  Parsed none = parseFile(dir);
  EXPECT_FALSE(none.spec);
  EXPECT_NE(none.diags.find("a model folder must hold config.json"),
            std::string::npos)
      << none.diags;
  llvm::SmallString<128> file(dir);
  llvm::sys::path::append(file, "config.json");
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(file, ec);
    ASSERT_FALSE(ec);
    os << R"({"model_type": "xlstm", "hidden_size": 256, "num_heads": 2,
              "num_hidden_layers": 2, "vocab_size": 512})";
  }
  Parsed p = parseFile(dir);
  ASSERT_TRUE(p.spec) << p.diags;
  EXPECT_EQ(p.spec->large.embeddingDim, 256);
  EXPECT_EQ(p.spec->sourceName, file.str().str());
  llvm::sys::fs::remove(file);
  llvm::sys::fs::remove(dir);
}
