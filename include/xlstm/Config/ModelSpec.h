//===- ModelSpec.h - Model configuration in the upstream schema -*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// The in-memory form of an xLSTM model config. Field names follow upstream
// NX-AI/xlstm (xLSTMBlockStackConfig, xLSTMLMModelConfig, mLSTM/sLSTM block and
// layer configs, FeedForwardConfig) and xlstm_large (xLSTMLargeConfig) so that
// a reader of the upstream dataclasses recognises every member. Derived fields
// (leading underscore upstream) are filled by the parser, never by users.
//
// This layer depends on LLVM Support only: the runtime and tools that do not
// link MLIR can use it.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_CONFIG_MODELSPEC_H
#define XLSTM_CONFIG_MODELSPEC_H

#include "llvm/ADT/StringRef.h"
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace xlstm::config {

/// Activation of the gated feed-forward (FeedForwardConfig.act_fn).
enum class ActFn { Gelu, Relu, ReluSquared, Sigmoid, Swish, Selu };
/// sLSTM implementation; decides the stored layout of the recurrent kernel and
/// bias (spec xlstm-architecture.md §b.6).
enum class SLSTMBackend { Vanilla, Cuda };
/// sLSTM pointwise function: exponential gating or the classic LSTM.
enum class SLSTMFunction { SLSTM, LSTM };
enum class SLSTMBiasInit { PowerlawBlockDependent, SmallInit, Standard, Zeros };
enum class RecurrentWeightInit { Zeros, Standard };
enum class BlockKind { MLSTM, SLSTM };

llvm::StringRef toString(ActFn fn);
llvm::StringRef toString(SLSTMBackend backend);
llvm::StringRef toString(SLSTMFunction fn);
llvm::StringRef toString(SLSTMBiasInit init);
llvm::StringRef toString(RecurrentWeightInit init);

/// UpProjConfigMixin: `M * ceil(factor * E / M)` (or floor), computed in
/// double precision like Python does.
int64_t computeProjUpDim(double projFactor, int64_t embeddingDim,
                         int64_t multipleOf, bool roundUp);

/// mLSTMLayerConfig.
struct MLSTMLayerConfig {
  int64_t conv1dKernelSize = 4;
  int64_t qkvProjBlocksize = 4;
  int64_t numHeads = 4;
  double projFactor = 2.0;
  bool roundProjUpDimUp = true;
  int64_t roundProjUpToMultipleOf = 64;
  int64_t embeddingDim = -1;  // pushed down from the stack
  bool bias = false;          // pushed down from the stack
  double dropout = 0.0;       // pushed down from the stack
  int64_t contextLength = -1; // pushed down from the stack
  int64_t numBlocks = 1;      // _num_blocks
  // Derived.
  int64_t innerEmbeddingDim = 0; // _inner_embedding_dim == _proj_up_dim
  int64_t headDim() const { return innerEmbeddingDim / numHeads; }
};

/// FeedForwardConfig (the sLSTM block's gated FFN).
struct FeedForwardConfig {
  double projFactor = 1.3;
  bool roundProjUpDimUp = true;
  int64_t roundProjUpToMultipleOf = 64;
  ActFn actFn = ActFn::Gelu;
  int64_t embeddingDim = -1;
  double dropout = 0.0;
  bool bias = false;
  std::string ffType = "ffn_gated";
  int64_t numBlocks = 1;
  // Derived.
  int64_t projUpDim = 0; // _proj_up_dim
};

/// sLSTMLayerConfig (including the sLSTMCellConfig fields).
struct SLSTMLayerConfig {
  int64_t embeddingDim = -1; // == hidden_size
  int64_t numHeads = 4;
  int64_t conv1dKernelSize = 4; // 0 = no conv
  bool groupNormWeight = true;
  double dropout = 0.0;
  SLSTMBackend backend = SLSTMBackend::Cuda;
  SLSTMFunction function = SLSTMFunction::SLSTM;
  SLSTMBiasInit biasInit = SLSTMBiasInit::PowerlawBlockDependent;
  RecurrentWeightInit recurrentWeightInit = RecurrentWeightInit::Zeros;
  // Training-only / CUDA-compile fields, accepted and kept verbatim.
  bool gradientRecurrentCut = false;
  std::optional<double> gradientRecurrentClipval;
  std::optional<double> forwardClipval;
  int64_t batchSize = 8;
  std::string inputShape = "BSGNH";
  std::string internalInputShape = "SBNGH";
  std::string outputShape = "BNSH";
  std::string dtype = "bfloat16";
  std::string dtypeB = "float32";
  std::optional<std::string> dtypeR, dtypeW, dtypeG, dtypeS, dtypeA;
  bool enableAutomaticMixedPrecision = true;
  double initialVal = 0.0;
  int64_t numBlocks = 1;
  // Derived.
  int64_t hiddenSize = 0; // == embeddingDim
  int64_t numStates = 4;  // 4 for slstm, 2 for lstm
  int64_t numGates = 4;
  int64_t headDim() const { return hiddenSize / numHeads; }
};

struct MLSTMBlockConfig {
  MLSTMLayerConfig mlstm;
};

struct SLSTMBlockConfig {
  SLSTMLayerConfig slstm;
  std::optional<FeedForwardConfig> feedforward = FeedForwardConfig();
};

/// xLSTMBlockStackConfig plus the xLSTMLMModelConfig fields.
struct StackConfig {
  std::optional<MLSTMBlockConfig> mlstmBlock;
  std::optional<SLSTMBlockConfig> slstmBlock;
  int64_t contextLength = -1;
  int64_t numBlocks = 1;
  int64_t embeddingDim = 128;
  bool addPostBlocksNorm = true;
  bool bias = false;
  double dropout = 0.0;
  /// `slstm_at` as written; `slstmAtAll` records the string form "all".
  std::vector<int64_t> slstmAt;
  bool slstmAtAll = false;
  // xLSTMLMModelConfig fields (meaningful when ModelSpec::family is LMModel).
  int64_t vocabSize = -1;
  bool tieWeights = false;
  bool weightDecayOnEmbedding = false;
  bool addEmbeddingDropout = false;
  // Derived: one entry per block (_block_map).
  std::vector<BlockKind> blockMap;
  /// "0,1,0" like upstream's `_block_map`.
  std::string blockMapString() const;
};

/// xLSTMLargeConfig (the xLSTM-7B architecture).
struct LargeConfig {
  int64_t embeddingDim = 0; // required
  int64_t numHeads = 0;     // required
  int64_t numBlocks = 0;    // required
  int64_t vocabSize = 0;    // required
  bool useBias = false;
  double normEps = 1e-6;
  bool normReductionForceFloat32 = true;
  bool addOutNorm = true;
  double qkDimFactor = 0.5;
  double vDimFactor = 1.0;
  std::string chunkwiseKernel = "chunkwise--triton_limit_chunk";
  std::string sequenceKernel = "native_sequence__triton";
  std::string stepKernel = "triton";
  std::string mode = "train";
  int64_t chunkSize = 64;
  bool returnLastStates = false;
  std::string autocastKernelDtype = "bfloat16";
  double eps = 1e-6;
  std::string inferenceStateDtype = "float32";
  double ffnProjFactor = 2.6667;
  int64_t ffnRoundUpToMultipleOf = 64;
  double gateSoftCap = 15.0;
  double outputLogitSoftCap = 30.0;
  std::string weightMode = "single"; // "single" | "fused"
  // Derived.
  int64_t qkDim = 0;     // int(E * qk_dim_factor)
  int64_t vDim = 0;      // int(E * v_dim_factor)
  int64_t qkHeadDim = 0; // DHQK
  int64_t vHeadDim = 0;  // DHV
  int64_t ffnDim = 0;    // round_up(E * ffn_proj_factor, multiple)
};

/// Which upstream model class a config describes.
enum class ModelFamily {
  BlockStack, ///< xLSTMBlockStack: embeddings in, embeddings out.
  LMModel,    ///< xLSTMLMModel: tokens in, logits out.
  Large,      ///< xlstm_large xLSTMLarge (xLSTM-7B architecture).
};

/// A fully validated model config with every derived field filled in.
struct ModelSpec {
  ModelFamily family = ModelFamily::BlockStack;
  StackConfig stack; ///< BlockStack and LMModel.
  LargeConfig large; ///< Large.
  /// The file this spec was read from (for messages), if any.
  std::string sourceName;
  /// Token ids of a Hugging Face config.json (generation inserts BOS and
  /// stops at EOS); absent for upstream YAML configs, which have none.
  struct SpecialTokens {
    std::optional<int64_t> bos, pad;
    std::vector<int64_t> eos;
    bool forceBosInsert = false;
  };
  std::optional<SpecialTokens> specialTokens;

  bool isLarge() const { return family == ModelFamily::Large; }
  bool hasTokens() const { return family != ModelFamily::BlockStack; }
  int64_t embeddingDim() const {
    return isLarge() ? large.embeddingDim : stack.embeddingDim;
  }
  /// The language models' vocabulary size (-1 for a bare block stack).
  int64_t vocabSize() const {
    return isLarge() ? large.vocabSize : stack.vocabSize;
  }
  int64_t numBlocks() const {
    return isLarge() ? large.numBlocks : stack.numBlocks;
  }
  /// Layer config of block `idx` with its per-block fields (_block_idx) set.
  /// Only meaningful for the BlockStack and LMModel families.
  BlockKind blockKind(int64_t idx) const { return stack.blockMap[idx]; }
};

llvm::StringRef toString(ModelFamily family);

} // namespace xlstm::config

#endif // XLSTM_CONFIG_MODELSPEC_H
