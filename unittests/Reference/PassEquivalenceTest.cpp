//===- PassEquivalenceTest.cpp - Passes preserve what the IR computes -----===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// For small models of every block kind: evaluate @forward at graph level (the
// evaluator's own block implementations), after xlstm-expand-blocks, and
// after xlstm-tile-mlstm-chunkwise with several chunk sizes and sequence
// lengths that are not multiples of them, on fresh random parameters and
// inputs; all must agree.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"
#include "xlstm/Config/ConfigParser.h"
#include "xlstm/Dialect/XLSTM/Transforms/Passes.h"
#include "xlstm/Frontend/ModelBuilder.h"
#include "xlstm/InitAll.h"
#include "xlstm/Reference/Evaluator.h"

#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

using namespace mlir;
using namespace xlstm;
using namespace xlstm::reference;
using namespace xlstm::reference::test;

namespace {

class PassEquivalence : public ::testing::Test {
protected:
  PassEquivalence() {
    static bool registered = (registerXLSTMPasses(), mlir::registerCSEPass(),
                              mlir::registerCanonicalizerPass(), true);
    (void)registered;
    DialectRegistry registry;
    registerAllDialects(registry);
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
  }

  OwningOpRef<ModuleOp> build(llvm::StringRef yaml) {
    std::string errors;
    llvm::raw_string_ostream os(errors);
    std::optional<config::ModelSpec> spec =
        config::parseModelConfig(yaml, "test.yaml", os);
    EXPECT_TRUE(spec) << errors;
    if (!spec)
      return nullptr;
    return buildModelModule(context, *spec);
  }

  /// Runs `passes` (a textual pipeline of module passes, e.g.
  /// "xlstm-expand-blocks,cse") on a clone of `module`.
  OwningOpRef<ModuleOp> lower(ModuleOp module, llvm::StringRef passes) {
    OwningOpRef<ModuleOp> copy = module.clone();
    PassManager pm(&context, ModuleOp::getOperationName());
    EXPECT_TRUE(succeeded(parsePassPipeline(passes, pm))) << passes.str();
    EXPECT_TRUE(succeeded(pm.run(*copy))) << passes.str();
    // Guard against a pipeline that silently does nothing.
    EXPECT_NE(print(*copy), print(module))
        << passes.str() << " left the IR unchanged";
    return copy;
  }

  static std::string print(ModuleOp module) {
    std::string text;
    llvm::raw_string_ostream os(text);
    module.print(os);
    return text;
  }

  /// Random arguments for @forward: the input, then N(0, 0.5) parameters
  /// (norm weights and gate weights perturbed away from their inits).
  SmallVector<Tensor> randomArgs(ModuleOp module, int64_t batch, int64_t seq,
                                 uint64_t seed) {
    auto fn = module.lookupSymbol<func::FuncOp>("forward");
    std::mt19937_64 rng(seed);
    SmallVector<Tensor> args;
    for (BlockArgument arg : fn.getArguments()) {
      auto type = cast<RankedTensorType>(arg.getType());
      SmallVector<int64_t> shape(type.getShape());
      if (arg.getArgNumber() == 0) {
        shape[0] = batch;
        shape[1] = seq;
      }
      if (type.getElementType().isInteger(64)) {
        Tensor tokens(shape);
        std::uniform_int_distribution<int> tok(0, 15);
        for (double &t : tokens.data)
          t = tok(rng);
        args.push_back(tokens);
        continue;
      }
      args.push_back(randomTensor(shape, rng, 0.5));
    }
    return args;
  }

  Tensor run(ModuleOp module, ArrayRef<Tensor> args) {
    auto fn = module.lookupSymbol<func::FuncOp>("forward");
    FailureOr<SmallVector<Tensor>> results = evaluate(fn, args);
    EXPECT_TRUE(succeeded(results));
    return succeeded(results) ? (*results)[0] : Tensor();
  }

  /// Graph level == expanded == tiled for every chunk size and length;
  /// `expand` is the expansion pass with its options.
  void checkModel(llvm::StringRef yaml,
                  const std::string &expand = "xlstm-expand-blocks") {
    OwningOpRef<ModuleOp> graph = build(yaml);
    ASSERT_TRUE(graph);
    OwningOpRef<ModuleOp> expanded = lower(*graph, expand + ",cse");
    // Models without an sLSTM block have nothing to fuse.
    bool hasSLSTM =
        print(*graph).find("xlstm.slstm_block") != std::string::npos;
    OwningOpRef<ModuleOp> fused =
        hasSLSTM ? lower(*graph, expand + ",xlstm-fuse-slstm-steps,cse")
                 : nullptr;
    for (int64_t seq : {1, 7, 21}) {
      SmallVector<Tensor> args = randomArgs(*graph, 2, seq, 17 + seq);
      Tensor reference = run(*graph, args);
      ASSERT_FALSE(reference.data.empty());
      EXPECT_LT(relativeError(run(*expanded, args), reference), 1e-12)
          << "expanded, S " << seq;
      if (fused)
        EXPECT_LT(relativeError(run(*fused, args), reference), 1e-12)
            << "sLSTM steps fused, S " << seq;
      for (int64_t chunk : {1, 4, 16}) {
        std::string passes =
            expand +
            ",xlstm-tile-mlstm-chunkwise{chunk-size=" + std::to_string(chunk) +
            "},xlstm-fuse-slstm-steps,canonicalize,cse";
        OwningOpRef<ModuleOp> tiled = lower(*graph, passes);
        EXPECT_LT(relativeError(run(*tiled, args), reference), 1e-11)
            << "tiled, S " << seq << ", chunk " << chunk;
        // All xlstm ops lowered to upstream tensor IR. Its constants (eps,
        // 1/sqrt(DH)) are float32 numbers, the math's type on the GPU, so
        // float64 evaluation differs from the reference in the 8th digit.
        OwningOpRef<ModuleOp> lowered =
            lower(*graph, passes + ",xlstm-lower-to-linalg,canonicalize,cse");
        EXPECT_LT(relativeError(run(*lowered, args), reference), 1e-7)
            << "linalg, S " << seq << ", chunk " << chunk;
      }
    }
  }

  MLIRContext context;
};

TEST_F(PassEquivalence, MLSTMStackWithBiases) {
  checkModel(R"(
mlstm_block:
  mlstm:
    conv1d_kernel_size: 2
    qkv_proj_blocksize: 4
    num_heads: 2
    round_proj_up_to_multiple_of: 8
num_blocks: 2
embedding_dim: 8
bias: true
)");
}

// gate-parts: the input and forget gates of q, k and v 32 wide as the sum
// of three projections, not one of their concatenation.
TEST_F(PassEquivalence, MLSTMGatesByParts) {
  llvm::StringRef yaml = R"(
mlstm_block:
  mlstm:
    conv1d_kernel_size: 2
    qkv_proj_blocksize: 4
    num_heads: 2
num_blocks: 2
embedding_dim: 16
bias: true
)";
  std::string expand = "xlstm-expand-blocks{gate-parts=1}";
  OwningOpRef<ModuleOp> graph = build(yaml);
  ASSERT_TRUE(graph);
  EXPECT_EQ(print(*lower(*graph, expand)).find("tensor.concat"),
            std::string::npos);
  checkModel(yaml, expand);
}

TEST_F(PassEquivalence, SLSTMVanillaWithFFN) {
  checkModel(R"(
slstm_block:
  slstm:
    backend: vanilla
    num_heads: 2
    conv1d_kernel_size: 3
  feedforward:
    proj_factor: 1.5
    round_proj_up_to_multiple_of: 4
    act_fn: selu
num_blocks: 2
embedding_dim: 8
)");
}

TEST_F(PassEquivalence, SLSTMCudaLSTMNoConvNoFFN) {
  checkModel(R"(
slstm_block:
  slstm:
    backend: cuda
    function: lstm
    num_heads: 2
    conv1d_kernel_size: 0
    group_norm_weight: false
  feedforward: null
num_blocks: 1
embedding_dim: 8
add_post_blocks_norm: false
)");
}

TEST_F(PassEquivalence, MixedLanguageModel) {
  checkModel(R"(
vocab_size: 16
tie_weights: true
mlstm_block:
  mlstm:
    num_heads: 2
    round_proj_up_to_multiple_of: 8
slstm_block:
  slstm:
    num_heads: 2
  feedforward:
    act_fn: gelu
    round_proj_up_to_multiple_of: 8
num_blocks: 3
slstm_at: [1]
embedding_dim: 8
)");
}

TEST_F(PassEquivalence, LargeSingleAndFused) {
  for (llvm::StringRef mode : {"single", "fused"})
    checkModel((R"(
embedding_dim: 16
num_heads: 2
num_blocks: 2
vocab_size: 16
ffn_proj_factor: 1.5
ffn_round_up_to_multiple_of: 8
use_bias: true
weight_mode: )" +
                mode.str() + "\n")
                   .c_str());
}

/// The bare cell with initial and final states: chunkwise == recurrent.
TEST_F(PassEquivalence, MLSTMCellWithStates) {
  const char *ir = R"mlir(
func.func @forward(%q: tensor<?x2x?x6xf32>, %k: tensor<?x2x?x6xf32>,
                   %v: tensor<?x2x?x5xf32>, %i: tensor<?x2x?xf32>,
                   %f: tensor<?x2x?xf32>, %c0: tensor<?x2x6x5xf32>,
                   %n0: tensor<?x2x6xf32>, %m0: tensor<?x2xf32>)
    -> (tensor<?x2x?x5xf32>, tensor<?x2x6x5xf32>, tensor<?x2x6xf32>, tensor<?x2xf32>) {
  %h, %c, %n, %m = xlstm.mlstm %q, %k, %v, %i, %f initial_state(%c0, %n0, %m0)
      {qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<?x2x?x6xf32>, tensor<?x2x?x6xf32>, tensor<?x2x?x5xf32>,
         tensor<?x2x?xf32>, tensor<?x2x?xf32>, tensor<?x2x6x5xf32>,
         tensor<?x2x6xf32>, tensor<?x2xf32>)
      -> (tensor<?x2x?x5xf32>, tensor<?x2x6x5xf32>, tensor<?x2x6xf32>, tensor<?x2xf32>)
  return %h, %c, %n, %m : tensor<?x2x?x5xf32>, tensor<?x2x6x5xf32>, tensor<?x2x6xf32>, tensor<?x2xf32>
}
)mlir";
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(ir, &context);
  ASSERT_TRUE(module);
  // The same cell in float64: the linalg lowering's constants are exact
  // there, so it must match to rounding.
  std::string ir64 = ir;
  for (size_t at = ir64.find("f32"); at != std::string::npos;
       at = ir64.find("f32", at))
    ir64.replace(at, 3, "f64");
  OwningOpRef<ModuleOp> module64 = parseSourceString<ModuleOp>(ir64, &context);
  ASSERT_TRUE(module64);
  for (int64_t seq : {1, 9, 40}) {
    std::mt19937_64 rng(seq);
    SmallVector<Tensor> args = {randomTensor({3, 2, seq, 6}, rng),
                                randomTensor({3, 2, seq, 6}, rng),
                                randomTensor({3, 2, seq, 5}, rng),
                                randomTensor({3, 2, seq}, rng, 2.0),
                                randomTensor({3, 2, seq}, rng, 2.0, 1.0),
                                randomTensor({3, 2, 6, 5}, rng),
                                randomTensor({3, 2, 6}, rng),
                                randomTensor({3, 2}, rng)};
    auto fn = module->lookupSymbol<func::FuncOp>("forward");
    FailureOr<SmallVector<Tensor>> before = evaluate(fn, args);
    ASSERT_TRUE(succeeded(before));
    for (int64_t chunk : {1, 8, 16, 64}) {
      OwningOpRef<ModuleOp> tiled =
          lower(*module, "xlstm-tile-mlstm-chunkwise{chunk-size=" +
                             std::to_string(chunk) + "}");
      auto tiledFn = tiled->lookupSymbol<func::FuncOp>("forward");
      FailureOr<SmallVector<Tensor>> after = evaluate(tiledFn, args);
      ASSERT_TRUE(succeeded(after));
      for (size_t r = 0; r < 4; ++r)
        EXPECT_LT(relativeError((*after)[r], (*before)[r]), 1e-12)
            << "result " << r << ", S " << seq << ", chunk " << chunk;
      // Lowered to linalg: float32 constants (1/sqrt(DHQK)) cost ~1e-8.
      for (auto [source, tolerance] :
           {std::make_pair(&module, 1e-7), std::make_pair(&module64, 1e-12)}) {
        OwningOpRef<ModuleOp> lowered = lower(
            **source, "xlstm-tile-mlstm-chunkwise{chunk-size=" +
                          std::to_string(chunk) + "},xlstm-lower-to-linalg");
        FailureOr<SmallVector<Tensor>> linalgResults =
            evaluate(lowered->lookupSymbol<func::FuncOp>("forward"), args);
        ASSERT_TRUE(succeeded(linalgResults));
        for (size_t r = 0; r < 4; ++r)
          EXPECT_LT(relativeError((*linalgResults)[r], (*before)[r]), tolerance)
              << "linalg, result " << r << ", S " << seq << ", chunk " << chunk
              << (source == &module64 ? ", f64" : ", f32");
      }
    }
  }
}

} // namespace
