//===- Pipeline.cpp - The xlstm-to-gpu pipeline ---------------------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Conversion/LoweringReport.h"
#include "xlstm/Conversion/Passes.h"
#include "xlstm/Dialect/XLSTM/Transforms/Passes.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/Transforms/FuncBufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/Linalg/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/SCF/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Dialect/Tensor/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

/// Canonicalization without region simplification, for the passes before
/// deduplication: the IR is structured (no CFG blocks before the NVVM
/// lowering), and region DCE over the whole undeduplicated model costs more
/// than it finds; the last canonicalization runs in full.
static std::unique_ptr<Pass> createStructuredCanonicalizerPass() {
  GreedyRewriteConfig config;
  config.setRegionSimplificationLevel(GreedySimplifyRegionLevel::Disabled);
  return createCanonicalizerPass(config);
}

void xlstm::buildXLSTMToGPUPipeline(OpPassManager &pm,
                                    const ToGPUOptions &options) {
  pm.addPass(createXLSTMExpandBlocksPass(
      {options.largeCellF32, options.gateParts, options.gateBiasFirst}));
  pm.addPass(createXLSTMTileMLSTMChunkwisePass(
      {options.chunkSize, options.narrowEnteringStates}));
  pm.addPass(createXLSTMFuseSLSTMStepsPass());
  // The tiled stage as `xlstmc --emit=tiled` prints it: the kernel passes
  // see the same IR whether it came from a config or from printed IR.
  pm.addPass(createStructuredCanonicalizerPass());
  pm.addPass(createCSEPass());
  if (options.persistentSLSTM)
    pm.addPass(createXLSTMPersistentSLSTMPass(options.slstm));
  if (options.chunkwiseMMA) {
    XLSTMChunkwiseMLSTMToMMAPassOptions chunkwise = options.chunkwise;
    chunkwise.allowTF32 = options.tf32;
    chunkwise.gridDependencyWait =
        options.gridDependencyWait && options.chunkwise.gridDependencyWait;
    pm.addPass(createXLSTMChunkwiseMLSTMToMMAPass(chunkwise));
  }
  if (options.warpNorms)
    pm.addPass(createXLSTMWarpNormsPass(options.norms));
  if (options.convKernel)
    pm.addPass(createXLSTMCausalConvToGPUPass(options.conv));
  if (options.headwiseKernel)
    pm.addPass(createXLSTMHeadwiseToGPUPass(options.headwise));
  pm.addPass(createXLSTMLowerToLinalgPass());
  pm.addPass(createStructuredCanonicalizerPass());
  pm.addPass(createCSEPass());
  // Elementwise consumers into their producers: fewer kernels and buffers.
  pm.addPass(createXLSTMFuseElementwisePass(options.fusion));
  pm.addPass(createXLSTMBufferizePass(options.bufferize));
  pm.addPass(createStructuredCanonicalizerPass());
  if (options.tensorCores)
    pm.addPass(createXLSTMContractToMMAPass(options.mma));
  // Every whole-kernel rewrite is done; what is still linalg becomes a
  // generic kernel next.
  if (options.loweringReport || options.requireFastKernels)
    pm.addPass(createXLSTMLoweringReportPass(
        {options.loweringReport, options.requireFastKernels},
        options.reportStream ? *options.reportStream : llvm::outs()));
  if (options.stopAfterReport)
    return;
  // Token models: @sample, the next token on the GPU (memref level, one
  // launch, outlined with the rest).
  if (options.sampler)
    pm.addPass(createXLSTMBuildSamplerPass(options.sampling));
  // @convert_<dtype>: checkpoint tensors converted on the GPU at load.
  if (options.converters)
    pm.addPass(createXLSTMBuildConvertersPass());
  if (options.elementwiseKernel)
    pm.addNestedPass<func::FuncOp>(
        createXLSTMElementwiseToGPUPass(options.elementwise));
  pm.addNestedPass<func::FuncOp>(createXLSTMLinalgToParallelLoopsPass());
  pm.addPass(createXLSTMMapParallelLoopsPass({options.blockSize}));
  pm.addPass(createConvertParallelLoopToGpuPass());
  // Constant block sizes before outlining become known_block_size (PTX
  // .reqntid), which lets the NVPTX backend use fewer registers.
  pm.addPass(createStructuredCanonicalizerPass());
  pm.addPass(createXLSTMSinkConstantsIntoLaunchesPass());
  pm.addPass(createGpuKernelOutliningPass());
  // Repeated blocks outline to identical kernels: keep one of each before
  // anything else runs on them (the later passes then see a few dozen
  // kernels instead of thousands), and once more at the end for kernels
  // that the cleanups below make identical.
  if (options.dedupeKernels)
    pm.addPass(createXLSTMDedupeGPUModulesPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createXLSTMAlignWorkgroupMemoryPass());
  pm.addPass(createLowerAffinePass());
  // The full canonicalizer once, on the small deduplicated IR: its region
  // DCE drops host values that only dead loop-carried chains use.
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  if (options.dedupeKernels)
    pm.addPass(createXLSTMDedupeGPUModulesPass());
  if (options.gridDependencyWait)
    pm.addPass(createXLSTMGridDependencyWaitPass(options.gridDependency));
}

namespace {
struct ToGPUPipelineOptions : public PassPipelineOptions<ToGPUPipelineOptions> {
  Option<int64_t> chunkSize{*this, "chunk-size",
                            llvm::cl::desc("Chunk size of the mLSTM"),
                            llvm::cl::init(64)};
  Option<int64_t> blockSize{*this, "block-size",
                            llvm::cl::desc("Threads per block"),
                            llvm::cl::init(256)};
  Option<bool> tensorCores{
      *this, "tensor-cores",
      llvm::cl::desc(
          "bf16/f16 projections on mma.sync (xlstm-contract-to-mma)"),
      llvm::cl::init(true)};
  Option<bool> persistentSLSTM{
      *this, "persistent-slstm",
      llvm::cl::desc("sLSTM recurrences as persistent kernels "
                     "(xlstm-persistent-slstm)"),
      llvm::cl::init(true)};
  Option<bool> chunkwiseMMA{
      *this, "chunkwise-mma",
      llvm::cl::desc("Chunkwise mLSTM outputs on tensor cores "
                     "(xlstm-chunkwise-mlstm-to-mma)"),
      llvm::cl::init(true)};
  Option<bool> tf32{
      *this, "tf32",
      llvm::cl::desc("Float32 q/k/v of the chunkwise mLSTM on tf32 tensor "
                     "cores (for bf16 models)"),
      llvm::cl::init(false)};
  Option<bool> warpNorms{
      *this, "warp-norms",
      llvm::cl::desc("Norms as one-warp-per-row kernels (xlstm-warp-norms)"),
      llvm::cl::init(true)};
  Option<bool> convKernel{
      *this, "conv-kernel",
      llvm::cl::desc("Causal convs as one kernel each "
                     "(xlstm-causal-conv-to-gpu)"),
      llvm::cl::init(true)};
  Option<bool> headwiseKernel{
      *this, "headwise-kernel",
      llvm::cl::desc("Small-block headwise projections as one kernel each "
                     "(xlstm-headwise-to-gpu)"),
      llvm::cl::init(true)};
  Option<bool> elementwiseKernel{
      *this, "elementwise-kernel",
      llvm::cl::desc("Elementwise linalg ops as vectorised kernels "
                     "(xlstm-elementwise-to-gpu)"),
      llvm::cl::init(true)};
  Option<int64_t> elementwiseVectorBytes{
      *this, "elementwise-vector-bytes",
      llvm::cl::desc("xlstm-elementwise-to-gpu vector-bytes"),
      llvm::cl::init(xlstm::XLSTMElementwiseToGPUPassOptions().vectorBytes)};
  Option<int64_t> elementwiseMinElements{
      *this, "elementwise-min-elements",
      llvm::cl::desc("xlstm-elementwise-to-gpu min-elements"),
      llvm::cl::init(xlstm::XLSTMElementwiseToGPUPassOptions().minElements)};
  Option<bool> sampler{
      *this, "sampler",
      llvm::cl::desc("Token models: add @sample, sampling on the GPU "
                     "(xlstm-build-sampler)"),
      llvm::cl::init(true)};
  Option<int64_t> samplerThreads{
      *this, "sampler-threads",
      llvm::cl::desc("xlstm-build-sampler threads: a row's block"),
      llvm::cl::init(xlstm::XLSTMBuildSamplerPassOptions().threads)};
  Option<int64_t> samplerTokensInFlight{
      *this, "sampler-tokens-in-flight",
      llvm::cl::desc("xlstm-build-sampler tokens-in-flight: tokens a thread "
                     "loads before combining the first"),
      llvm::cl::init(xlstm::XLSTMBuildSamplerPassOptions().tokensInFlight)};
  Option<bool> converters{
      *this, "converters",
      llvm::cl::desc("Add @convert_<dtype>, parameter conversion on the GPU "
                     "(xlstm-build-converters)"),
      llvm::cl::init(true)};
  Option<bool> dedupeKernels{
      *this, "dedupe-kernels",
      llvm::cl::desc("One gpu.module per distinct kernel "
                     "(xlstm-dedupe-gpu-modules)"),
      llvm::cl::init(true)};
  Option<bool> loweringReport{
      *this, "lowering-report",
      llvm::cl::desc("Print which kernel each projection, conv, norm and "
                     "recurrence became (xlstm-lowering-report)"),
      llvm::cl::init(false)};
  Option<bool> requireFastKernels{
      *this, "require-fast-kernels",
      llvm::cl::desc("Fail if a projection, conv, norm or recurrence takes "
                     "a generic kernel (xlstm-lowering-report)"),
      llvm::cl::init(false)};
  // The passes' own knobs; defaults read from the passes' option structs.
  Option<int64_t> mmaWarpsM{
      *this, "mma-warps-m",
      llvm::cl::desc("xlstm-contract-to-mma warps-m: warps per block along M"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().warpsM)};
  Option<int64_t> mmaWarpsN{
      *this, "mma-warps-n",
      llvm::cl::desc("xlstm-contract-to-mma warps-n: warps per block along N"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().warpsN)};
  Option<int64_t> mmaWarpTilesM{
      *this, "mma-warp-tiles-m",
      llvm::cl::desc("xlstm-contract-to-mma warp-tiles-m: 16-row mma tiles "
                     "per warp"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().warpTilesM)};
  Option<int64_t> mmaWarpTilesN{
      *this, "mma-warp-tiles-n",
      llvm::cl::desc("xlstm-contract-to-mma warp-tiles-n: 8-column mma tiles "
                     "per warp"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().warpTilesN)};
  Option<int64_t> mmaStages{
      *this, "mma-stages",
      llvm::cl::desc("xlstm-contract-to-mma stages: K steps in flight (0: "
                     "the direct kernel)"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().stages)};
  Option<std::string> mmaStagedTile{
      *this, "mma-staged-tile",
      llvm::cl::desc("xlstm-contract-to-mma staged-tile: the pipelined "
                     "kernel's BMxBNxBK/WMxWN"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().stagedTile)};
  Option<std::string> mmaStagedTileLarge{
      *this, "mma-staged-tile-large",
      llvm::cl::desc("xlstm-contract-to-mma staged-tile-large: the "
                     "configuration for outputs of many tiles (empty: none)"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().stagedTileLarge)};
  Option<std::string> mmaStagedTileNarrow{
      *this, "mma-staged-tile-narrow",
      llvm::cl::desc("xlstm-contract-to-mma staged-tile-narrow: the "
                     "configuration for outputs whose N the default tile "
                     "does not divide but this one does"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().stagedTileNarrow)};
  Option<std::string> mmaStagedTileShortK{
      *this, "mma-staged-tile-short-k",
      llvm::cl::desc("xlstm-contract-to-mma staged-tile-short-k: the "
                     "configuration where K is at most short-k-max-steps "
                     "of its K steps"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().stagedTileShortK)};
  Option<int64_t> mmaStagedLargeMinBlocks{
      *this, "mma-staged-large-min-blocks",
      llvm::cl::desc("xlstm-contract-to-mma staged-large-min-blocks"),
      llvm::cl::init(
          xlstm::XLSTMContractToMMAPassOptions().stagedLargeMinBlocks)};
  Option<int64_t> mmaStagedGroupM{
      *this, "mma-staged-group-m",
      llvm::cl::desc("xlstm-contract-to-mma staged-group-m: block rows per "
                     "group of the pipelined kernel's raster (0: 2-D grid)"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().stagedGroupM)};
  Option<bool> mmaStagedSwizzle{
      *this, "mma-staged-swizzle",
      llvm::cl::desc("xlstm-contract-to-mma staged-swizzle: XOR-swizzled "
                     "staged rows instead of padded ones"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().stagedSwizzle)};
  Option<int64_t> mmaSharedBytes{
      *this, "mma-shared-bytes",
      llvm::cl::desc("xlstm-contract-to-mma shared-bytes: dynamic shared "
                     "memory a projection block may use"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().sharedBytes)};
  Option<bool> mmaPadK{
      *this, "mma-pad-k",
      llvm::cl::desc("xlstm-contract-to-mma pad-k: projections of an odd K "
                     "on zero-padded copies of x and W"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().padK)};
  Option<bool> mmaAccumulateResiduals{
      *this, "mma-accumulate-residuals",
      llvm::cl::desc("xlstm-contract-to-mma accumulate-residuals: a "
                     "projection adds into the residual stream instead of "
                     "a buffer a separate add then reads"),
      llvm::cl::init(
          xlstm::XLSTMContractToMMAPassOptions().accumulateResiduals)};
  Option<bool> mmaHeadwiseOneLaunch{
      *this, "mma-headwise-one-launch",
      llvm::cl::desc("xlstm-contract-to-mma headwise-one-launch: a headwise "
                     "projection's pipelined kernel takes all its blocks in "
                     "one launch"),
      llvm::cl::init(
          xlstm::XLSTMContractToMMAPassOptions().headwiseOneLaunch)};
  Option<bool> accumulateInEpilogue{
      *this, "mma-accumulate-in-epilogue",
      llvm::cl::desc("xlstm-contract-to-mma accumulate-in-epilogue: an "
                     "accumulating projection's pipelined kernel adds its "
                     "output when it stores, not from the start"),
      llvm::cl::init(
          xlstm::XLSTMContractToMMAPassOptions().accumulateInEpilogue)};
  Option<bool> mmaGatedPairs{
      *this, "mma-gated-pairs",
      llvm::cl::desc("xlstm-contract-to-mma gated-pairs: a gated FFN's two "
                     "up projections and their gating as one kernel"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().gatedPairs)};
  Option<bool> mmaSkinnyFloat32{
      *this, "mma-skinny-float32",
      llvm::cl::desc("xlstm-contract-to-mma skinny-float32: float32 "
                     "projections of a few columns on the matrix-vector "
                     "kernel with x and W swapped"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().skinnyFloat32)};
  Option<bool> mmaF32PairStores{
      *this, "mma-f32-pair-stores",
      llvm::cl::desc("xlstm-contract-to-mma f32-pair-stores: the pipelined "
                     "kernel's float32 outputs stored two columns at a time"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().f32PairStores)};
  Option<bool> mmaFuseEpilogues{
      *this, "mma-fuse-epilogues",
      llvm::cl::desc("xlstm-contract-to-mma fuse-epilogues: the elementwise "
                     "op alone reading a skinny projection's result (a bias "
                     "and soft cap) evaluated where its kernels store"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().fuseEpilogues)};
  Option<bool> mmaGatedDecoding{
      *this, "mma-gated-decoding",
      llvm::cl::desc("xlstm-contract-to-mma gated-decoding: a gated pair's "
                     "decoding kernels store the gating's result"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().gatedDecoding)};
  Option<bool> mmaStagedSiblingPairs{
      *this, "mma-staged-sibling-pairs",
      llvm::cl::desc("xlstm-contract-to-mma staged-sibling-pairs: two "
                     "headwise projections of one x in one pipelined "
                     "launch, W rows interleaved, each output stored"),
      llvm::cl::init(
          xlstm::XLSTMContractToMMAPassOptions().stagedSiblingPairs)};
  Option<bool> mmaWholeTileStores{
      *this, "mma-whole-tile-stores",
      llvm::cl::desc("xlstm-contract-to-mma whole-tile-stores: tiles inside "
                     "the output stored without per-store bounds checks"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().wholeTileStores)};
  Option<bool> mmaSharedEpilogue{
      *this, "mma-shared-epilogue",
      llvm::cl::desc("xlstm-contract-to-mma shared-epilogue: the pipelined "
                     "kernel's 16-bit or float32 results stored through "
                     "shared memory in 16-byte row chunks"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().sharedEpilogue)};
  Option<bool> mmaSharedEpilogueResiduals{
      *this, "mma-shared-epilogue-residuals",
      llvm::cl::desc("xlstm-contract-to-mma shared-epilogue-residuals: "
                     "accumulating float32 projections through the shared "
                     "epilogue too"),
      llvm::cl::init(
          xlstm::XLSTMContractToMMAPassOptions().sharedEpilogueResiduals)};
  Option<bool> mmaPermutedColumnStores{
      *this, "mma-permuted-column-stores",
      llvm::cl::desc("xlstm-contract-to-mma permuted-column-stores: W rows "
                     "staged so that lanes store 16-byte chunks from their "
                     "accumulators"),
      llvm::cl::init(
          xlstm::XLSTMContractToMMAPassOptions().permutedColumnStores)};
  Option<bool> mmaCrossTilePrefetch{
      *this, "mma-cross-tile-prefetch",
      llvm::cl::desc("xlstm-contract-to-mma cross-tile-prefetch: with "
                     "several short-K tiles a block, the K loop loads the "
                     "next tile's first stages"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().crossTilePrefetch)};
  Option<bool> mmaSiblingPairPlanes{
      *this, "mma-sibling-pair-planes",
      llvm::cl::desc("xlstm-contract-to-mma sibling-pair-planes: headwise "
                     "projections of other x's with the same rows join a "
                     "group, two sibling pairs one launch"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().siblingPairPlanes)};
  Option<bool> mmaSharedEpilogueSwizzle{
      *this, "mma-shared-epilogue-swizzle",
      llvm::cl::desc("xlstm-contract-to-mma shared-epilogue-swizzle: the "
                     "shared epilogue's 16-bit copy dense and swizzled"),
      llvm::cl::init(
          xlstm::XLSTMContractToMMAPassOptions().sharedEpilogueSwizzle)};
  Option<int64_t> mmaSharedEpilogueLoadsAhead{
      *this, "mma-shared-epilogue-loads-ahead",
      llvm::cl::desc("xlstm-contract-to-mma shared-epilogue-loads-ahead: "
                     "chunks of the copy a thread reads before storing them"),
      llvm::cl::init(
          xlstm::XLSTMContractToMMAPassOptions().sharedEpilogueLoadsAhead)};
  Option<bool> mmaResidentWeights{
      *this, "mma-resident-weights",
      llvm::cl::desc("xlstm-contract-to-mma resident-weights: headwise "
                     "projections of a short K with each block's W held in "
                     "shared memory, slices of x streamed through it"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().residentWeights)};
  Option<int64_t> mmaResidentWeightRows{
      *this, "mma-resident-weight-rows",
      llvm::cl::desc("xlstm-contract-to-mma resident-weight-rows: rows of x "
                     "a resident-weights block takes at a time"),
      llvm::cl::init(
          xlstm::XLSTMContractToMMAPassOptions().residentWeightRows)};
  Option<int64_t> mmaResidentWeightStages{
      *this, "mma-resident-weight-stages",
      llvm::cl::desc("xlstm-contract-to-mma resident-weight-stages: slices "
                     "of x in flight"),
      llvm::cl::init(
          xlstm::XLSTMContractToMMAPassOptions().residentWeightStages)};
  Option<int64_t> mmaResidentWeightWarps{
      *this, "mma-resident-weight-warps",
      llvm::cl::desc("xlstm-contract-to-mma resident-weight-warps: warps of "
                     "a resident-weights block"),
      llvm::cl::init(
          xlstm::XLSTMContractToMMAPassOptions().residentWeightWarps)};
  Option<int64_t> mmaResidentWeightBlocks{
      *this, "mma-resident-weight-blocks",
      llvm::cl::desc("xlstm-contract-to-mma resident-weight-blocks: blocks "
                     "a resident-weights launch aims at"),
      llvm::cl::init(
          xlstm::XLSTMContractToMMAPassOptions().residentWeightBlocks)};
  Option<bool> mmaResidentWeightJoint{
      *this, "mma-resident-weight-joint",
      llvm::cl::desc("xlstm-contract-to-mma resident-weight-joint: each "
                     "resident-weights block holds its head's W of every "
                     "projection of the launch, x read into it once"),
      llvm::cl::init(
          xlstm::XLSTMContractToMMAPassOptions().residentWeightJoint)};
  Option<bool> mmaResidentWeightLatePrefetch{
      *this, "mma-resident-weight-late-prefetch",
      llvm::cl::desc("xlstm-contract-to-mma resident-weight-late-prefetch: "
                     "the next slice's copies after the first pass's "
                     "products"),
      llvm::cl::init(
          xlstm::XLSTMContractToMMAPassOptions().residentWeightLatePrefetch)};
  Option<bool> mmaResidentWeightWholeSlices{
      *this, "mma-resident-weight-whole-slices",
      llvm::cl::desc("xlstm-contract-to-mma resident-weight-whole-slices: "
                     "unchecked stores in the resident kernel's whole "
                     "slices"),
      llvm::cl::init(
          xlstm::XLSTMContractToMMAPassOptions().residentWeightWholeSlices)};
  Option<bool> mmaResidentWeightEarlyFirstPass{
      *this, "mma-resident-weight-early-first-pass",
      llvm::cl::desc("xlstm-contract-to-mma resident-weight-early-first-"
                     "pass: the joint block's first pass starts before the "
                     "other W land"),
      llvm::cl::init(
          xlstm::XLSTMContractToMMAPassOptions().residentWeightEarlyFirstPass)};
  Option<bool> mmaResidentWeightJointSplitN{
      *this, "mma-resident-weight-joint-split-n",
      llvm::cl::desc("xlstm-contract-to-mma resident-weight-joint-split-n: "
                     "the joint block's warps split all G projections' "
                     "columns, one pass over a slice"),
      llvm::cl::init(
          xlstm::XLSTMContractToMMAPassOptions().residentWeightJointSplitN)};
  Option<int64_t> mmaShortKTilesPerBlock{
      *this, "mma-short-k-tiles-per-block",
      llvm::cl::desc("xlstm-contract-to-mma short-k-tiles-per-block: output "
                     "tiles a block of the pipelined kernel runs where K is "
                     "at most short-k-max-steps K steps"),
      llvm::cl::init(
          xlstm::XLSTMContractToMMAPassOptions().shortKTilesPerBlock)};
  Option<int64_t> mmaShortKMaxSteps{
      *this, "mma-short-k-max-steps",
      llvm::cl::desc("xlstm-contract-to-mma short-k-max-steps: the most K "
                     "steps a short-K projection has"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().shortKMaxSteps)};
  Option<int64_t> mmaShortKBlocks{
      *this, "mma-short-k-blocks",
      llvm::cl::desc("xlstm-contract-to-mma short-k-blocks: the blocks "
                     "short-k-tiles-per-block=0 spreads a launch's tiles "
                     "over"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().shortKBlocks)};
  Option<int64_t> mmaSplitKBlocks{
      *this, "mma-split-k-blocks",
      llvm::cl::desc("xlstm-contract-to-mma split-k-blocks: split K below "
                     "this many output tiles (0: never)"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().splitKBlocks)};
  Option<int64_t> normMaxWarpsPerRow{
      *this, "norm-max-warps-per-row",
      llvm::cl::desc("xlstm-warp-norms max-warps-per-row"),
      llvm::cl::init(xlstm::XLSTMWarpNormsPassOptions().maxWarpsPerRow)};
  Option<bool> normFuseConsumers{
      *this, "norm-fuse-consumers",
      llvm::cl::desc("xlstm-warp-norms fuse-consumers: the elementwise ops "
                     "after a norm applied before its kernel stores"),
      llvm::cl::init(xlstm::XLSTMWarpNormsPassOptions().fuseConsumers)};
  Option<bool> normRegisterRows{
      *this, "norm-register-rows",
      llvm::cl::desc("xlstm-warp-norms register-rows: a thread's share of a "
                     "row loaded once into registers for all sweeps"),
      llvm::cl::init(xlstm::XLSTMWarpNormsPassOptions().registerRows)};
  Option<bool> mmaTF32{
      *this, "mma-tf32",
      llvm::cl::desc("xlstm-contract-to-mma tf32: float32 projections on one "
                     "tf32 mma per tile instead of 3xTF32"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().tf32)};
  Option<int64_t> gemvMaxRows{
      *this, "mma-gemv-max-rows",
      llvm::cl::desc("xlstm-contract-to-mma gemv-max-rows: up to this many "
                     "rows, the decoding kernels (0: never)"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().gemvMaxRows)};
  Option<int64_t> gemvWarps{
      *this, "mma-gemv-warps",
      llvm::cl::desc("xlstm-contract-to-mma gemv-warps: warps per block of "
                     "the matrix-vector kernels"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().gemvWarps)};
  Option<int64_t> gemvUnroll{
      *this, "mma-gemv-unroll",
      llvm::cl::desc("xlstm-contract-to-mma gemv-unroll: 16-byte loads of W "
                     "per lane per step of the one-row kernel"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().gemvUnroll)};
  Option<int64_t> gemvLoadsInFlight{
      *this, "mma-gemv-loads-in-flight",
      llvm::cl::desc("xlstm-contract-to-mma gemv-loads-in-flight: warp-wide "
                     "loads the one-row kernel keeps in flight (raises its "
                     "unroll for few rows of W; 0: gemv-unroll always)"),
      llvm::cl::init(
          xlstm::XLSTMContractToMMAPassOptions().gemvLoadsInFlight)};
  Option<bool> siblingProjections{
      *this, "mma-sibling-projections",
      llvm::cl::desc("xlstm-contract-to-mma sibling-projections: projections "
                     "of one x decode in one launch"),
      llvm::cl::init(
          xlstm::XLSTMContractToMMAPassOptions().siblingProjections)};
  Option<bool> skinnySiblings{
      *this, "mma-skinny-siblings",
      llvm::cl::desc("xlstm-contract-to-mma skinny-siblings: sibling skinny "
                     "projections in one launch, their W rows stacked"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().skinnySiblings)};
  Option<int64_t> skinnySiblingsRows{
      *this, "mma-skinny-siblings-rows",
      llvm::cl::desc("xlstm-contract-to-mma skinny-siblings-rows: the most W "
                     "rows stacked into one skinny tensor-core launch (16 to "
                     "32)"),
      llvm::cl::init(
          xlstm::XLSTMContractToMMAPassOptions().skinnySiblingsRows)};
  Option<int64_t> gemvMinN{
      *this, "mma-gemv-min-n",
      llvm::cl::desc("xlstm-contract-to-mma gemv-min-n: below this many rows "
                     "of W one row of x takes the small-batch kernel too"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().gemvMinN)};
  Option<bool> smallBatchMMA{
      *this, "mma-small-batch",
      llvm::cl::desc("xlstm-contract-to-mma small-batch-mma: 2 to "
                     "gemv-max-rows bf16/f16 rows on tensor cores"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().smallBatchMMA)};
  Option<int64_t> smallBatchWarps{
      *this, "mma-small-batch-warps",
      llvm::cl::desc("xlstm-contract-to-mma small-batch-warps: warps per "
                     "block of the small-batch kernel"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().smallBatchWarps)};
  Option<int64_t> smallBatchUnroll{
      *this, "mma-small-batch-unroll",
      llvm::cl::desc("xlstm-contract-to-mma small-batch-unroll: K chunks per "
                     "warp per step of the small-batch kernel"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().smallBatchUnroll)};
  Option<int64_t> skinnyWarps{
      *this, "mma-skinny-warps",
      llvm::cl::desc("xlstm-contract-to-mma skinny-warps: warps per block of "
                     "the skinny projections' kernel"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().skinnyWarps)};
  Option<int64_t> smallBatchMinBlocksPerSM{
      *this, "mma-small-batch-min-blocks-per-sm",
      llvm::cl::desc("xlstm-contract-to-mma small-batch-min-blocks-per-sm: "
                     "the small-batch kernel's occupancy hint to ptxas (0: "
                     "none)"),
      llvm::cl::init(
          xlstm::XLSTMContractToMMAPassOptions().smallBatchMinBlocksPerSM)};
  Option<bool> smallBatchPipelined{
      *this, "mma-small-batch-pipelined",
      llvm::cl::desc("xlstm-contract-to-mma small-batch-pipelined: the "
                     "small-batch kernel's next K step loaded before this "
                     "step's mma"),
      llvm::cl::init(
          xlstm::XLSTMContractToMMAPassOptions().smallBatchPipelined)};
  Option<int64_t> smallBatchSplitKBlocks{
      *this, "mma-small-batch-split-k-blocks",
      llvm::cl::desc("xlstm-contract-to-mma small-batch-split-k-blocks: "
                     "split K of lone small-batch projections of fewer "
                     "blocks than this (0: never)"),
      llvm::cl::init(
          xlstm::XLSTMContractToMMAPassOptions().smallBatchSplitKBlocks)};
  Option<int64_t> skinnyUnroll{
      *this, "mma-skinny-unroll",
      llvm::cl::desc("xlstm-contract-to-mma skinny-unroll: K chunks per warp "
                     "per step of the skinny projections' kernel"),
      llvm::cl::init(xlstm::XLSTMContractToMMAPassOptions().skinnyUnroll)};
  Option<int64_t> registerHeadDim{
      *this, "register-head-dim",
      llvm::cl::desc("xlstm-persistent-slstm register-head-dim: largest head "
                     "dimension whose recurrent weights stay in registers"),
      llvm::cl::init(xlstm::XLSTMPersistentSLSTMPassOptions().registerHeadDim)};
  Option<int64_t> slstmUnitsPerThread{
      *this, "slstm-units-per-thread",
      llvm::cl::desc("xlstm-persistent-slstm units-per-thread: hidden units "
                     "per thread where R is read from memory (1, 2 or 4)"),
      llvm::cl::init(xlstm::XLSTMPersistentSLSTMPassOptions().unitsPerThread)};
  Option<int64_t> slstmDotUnroll{
      *this, "slstm-dot-unroll",
      llvm::cl::desc("xlstm-persistent-slstm dot-unroll: rows of R loaded "
                     "together where R is read from memory"),
      llvm::cl::init(xlstm::XLSTMPersistentSLSTMPassOptions().dotUnroll)};
  Option<bool> slstmPrefetchGates{
      *this, "slstm-prefetch-gates",
      llvm::cl::desc("xlstm-persistent-slstm prefetch-gates: the step's gate "
                     "inputs loaded before the dot product"),
      llvm::cl::init(xlstm::XLSTMPersistentSLSTMPassOptions().prefetchGates)};
  Option<int64_t> slstmSharedWeightBytes{
      *this, "slstm-shared-weight-bytes",
      llvm::cl::desc("xlstm-persistent-slstm shared-weight-bytes: shared "
                     "memory for the last rows of R (0: none)"),
      llvm::cl::init(
          xlstm::XLSTMPersistentSLSTMPassOptions().sharedWeightBytes)};
  Option<int64_t> slstmRegisterRows{
      *this, "slstm-register-rows",
      llvm::cl::desc("xlstm-persistent-slstm register-rows: first rows of R "
                     "held in registers where R is read from memory"),
      llvm::cl::init(
          xlstm::XLSTMPersistentSLSTMPassOptions().registerRowsOption)};
  Option<bool> slstmPackRegisterRows{
      *this, "slstm-pack-register-rows",
      llvm::cl::desc("xlstm-persistent-slstm pack-register-rows: 16-bit "
                     "recurrent weights two rows a register"),
      llvm::cl::init(
          xlstm::XLSTMPersistentSLSTMPassOptions().packRegisterRows)};
  Option<bool> slstmTensorCores{
      *this, "slstm-tensor-cores",
      llvm::cl::desc("xlstm-persistent-slstm tensor-cores: sequences with "
                     "16-bit recurrent weights on mma.sync, up to 4 batch "
                     "rows a block"),
      llvm::cl::init(xlstm::XLSTMPersistentSLSTMPassOptions().tensorCores)};
  Option<int64_t> dvTile{
      *this, "dv-tile",
      llvm::cl::desc("xlstm-chunkwise-mlstm-to-mma dv-tile: value columns per "
                     "block"),
      llvm::cl::init(xlstm::XLSTMChunkwiseMLSTMToMMAPassOptions().dvTile)};
  Option<bool> stagedChunkOutputs{
      *this, "staged-chunk-outputs",
      llvm::cl::desc("xlstm-chunkwise-mlstm-to-mma staged-outputs: chunk "
                     "outputs through shared memory"),
      llvm::cl::init(
          xlstm::XLSTMChunkwiseMLSTMToMMAPassOptions().stagedOutputs)};
  Option<bool> stagedChunkStates{
      *this, "staged-chunk-states",
      llvm::cl::desc("xlstm-chunkwise-mlstm-to-mma staged-states: the chunk "
                     "scan's operands through shared memory"),
      llvm::cl::init(
          xlstm::XLSTMChunkwiseMLSTMToMMAPassOptions().stagedStates)};
  Option<int64_t> chunkKeyRows{
      *this, "chunk-key-rows",
      llvm::cl::desc("xlstm-chunkwise-mlstm-to-mma key-rows: rows of C per "
                     "chunk-states block"),
      llvm::cl::init(xlstm::XLSTMChunkwiseMLSTMToMMAPassOptions().keyRows)};
  Option<bool> narrowChunkMMA{
      *this, "narrow-chunk-mma",
      llvm::cl::desc("xlstm-chunkwise-mlstm-to-mma narrow-mma: both chunk "
                     "kernels on 16-bit tensor cores where q, k, v and the "
                     "entering C share one 16-bit type"),
      llvm::cl::init(xlstm::XLSTMChunkwiseMLSTMToMMAPassOptions().narrowMMA)};
  Option<bool> chunkwiseHeadsLast{
      *this, "chunkwise-heads-last",
      llvm::cl::desc("xlstm-chunkwise-mlstm-to-mma heads-last-operands: the "
                     "chunk kernels read q, k, v and write h in the layers' "
                     "(B, S, NH, D) layout through transposed views instead "
                     "of transposing copies"),
      llvm::cl::init(
          xlstm::XLSTMChunkwiseMLSTMToMMAPassOptions().headsLastOperands)};
  Option<bool> fuseDecodeStep{
      *this, "fuse-decode-step",
      llvm::cl::desc("xlstm-chunkwise-mlstm-to-mma fuse-decode-step: a "
                     "decode step's mLSTM outputs and states in one kernel"),
      llvm::cl::init(
          xlstm::XLSTMChunkwiseMLSTMToMMAPassOptions().fuseDecodeStep)};
  Option<int64_t> decodeStepWideBlocks{
      *this, "decode-step-wide-blocks",
      llvm::cl::desc("xlstm-chunkwise-mlstm-to-mma decode-step-wide-blocks: "
                     "blocks the fused decode step must keep to take 4 "
                     "value columns a lane (0: one always)"),
      llvm::cl::init(
          xlstm::XLSTMChunkwiseMLSTMToMMAPassOptions().decodeStepWideBlocks)};
  Option<bool> narrowEnteringStates{
      *this, "narrow-entering-states",
      llvm::cl::desc("xlstm-tile-mlstm-chunkwise narrow-entering-states: "
                     "entering C states in k's 16-bit type"),
      llvm::cl::init(true)};
  Option<bool> largeCellF32{
      *this, "large-cell-f32",
      llvm::cl::desc("xlstm-expand-blocks large-cell-f32: the xLSTM-7B "
                     "mLSTM cell's q, k and v in float32 in bf16 programs"),
      llvm::cl::init(true)};
  Option<bool> gateParts{
      *this, "gate-parts",
      llvm::cl::desc("xlstm-expand-blocks gate-parts: the mLSTM's gate "
                     "pre-activations as a sum over q, k and v, not a "
                     "projection of their concatenation"),
      llvm::cl::init(true)};
  Option<bool> gateBiasFirst{
      *this, "gate-bias-first",
      llvm::cl::desc("xlstm-expand-blocks gate-bias-first: a gate's bias "
                     "added to its first part, stored by that projection's "
                     "kernels"),
      llvm::cl::init(true)};
  Option<bool> gridDependencyWait{
      *this, "grid-dependency-wait",
      llvm::cl::desc("xlstm-grid-dependency-wait: the kernels of "
                     "grid-dependency-programs wait on the grid before them "
                     "at their entry, so that the runtime may launch them "
                     "while that grid finishes (programmatic dependent "
                     "launch; needs PTX for sm_90: xlstmc --chip=sm_90)"),
      llvm::cl::init(false)};
  Option<bool> gridDependencyEarlyTrigger{
      *this, "grid-dependency-early-trigger",
      llvm::cl::desc("xlstm-grid-dependency-wait early-trigger: the next "
                     "kernel may launch right after this one's wait; off: "
                     "as its blocks exit"),
      llvm::cl::init(true)};
  ListOption<std::string> gridDependencyPrograms{
      *this, "grid-dependency-programs",
      llvm::cl::desc("xlstm-grid-dependency-wait programs: the host "
                     "functions whose launches overlap (default step, the "
                     "decode program; every program's: forward,prefill,"
                     "step,sample,convert_f32,convert_f16)"),
      llvm::cl::list_init<std::string>({"step"})};
  Option<bool> decodeStepStatesBeforeWait{
      *this, "decode-step-states-before-wait",
      llvm::cl::desc("With grid-dependency-wait: the decode step loads the "
                     "entering states before it waits on the grid before it "
                     "(xlstm-chunkwise-mlstm-to-mma grid-dependency-wait)"),
      llvm::cl::init(true)};
  Option<int64_t> convRunLength{
      *this, "conv-run-length",
      llvm::cl::desc("xlstm-causal-conv-to-gpu run-length: consecutive "
                     "positions per thread"),
      llvm::cl::init(xlstm::XLSTMCausalConvToGPUPassOptions().runLength)};
  Option<int64_t> convVectorBytes{
      *this, "conv-vector-bytes",
      llvm::cl::desc("xlstm-causal-conv-to-gpu vector-bytes: bytes of "
                     "channels per thread"),
      llvm::cl::init(xlstm::XLSTMCausalConvToGPUPassOptions().vectorBytes)};
  Option<bool> convWholeRuns{
      *this, "conv-whole-runs",
      llvm::cl::desc("xlstm-causal-conv-to-gpu whole-runs: runs inside the "
                     "sequence without clamped loads or guarded stores"),
      llvm::cl::init(xlstm::XLSTMCausalConvToGPUPassOptions().wholeRuns)};
  Option<bool> reuseDeadInputs{
      *this, "reuse-dead-inputs",
      llvm::cl::desc("xlstm-bufferize reuse-dead-inputs: a residual add of "
                     "a projection writes over the residual where no later "
                     "op reads it"),
      llvm::cl::init(xlstm::XLSTMBufferizePassOptions().reuseDeadInputs)};
  Option<bool> inPlaceSlices{
      *this, "in-place-slices",
      llvm::cl::desc("xlstm-causal-conv-to-gpu and xlstm-headwise-to-gpu "
                     "in-place-slices: inputs that are aligned column slices "
                     "read through strided views, not copied"),
      llvm::cl::init(xlstm::XLSTMCausalConvToGPUPassOptions().inPlaceSlices)};
  Option<bool> convEpilogueF32{
      *this, "conv-epilogue-f32",
      llvm::cl::desc("xlstm-causal-conv-to-gpu epilogue-f32: the fused "
                     "elementwise op in float32"),
      llvm::cl::init(xlstm::XLSTMCausalConvToGPUPassOptions().epilogueF32)};
  Option<bool> convEpilogueApprox{
      *this, "conv-epilogue-approx",
      llvm::cl::desc("xlstm-causal-conv-to-gpu epilogue-approx: approximate "
                     "exp and division in a 16-bit result's fused op"),
      llvm::cl::init(xlstm::XLSTMCausalConvToGPUPassOptions().epilogueApprox)};
  Option<bool> convEpilogueFlushDenormals{
      *this, "conv-epilogue-flush-denormals",
      llvm::cl::desc("xlstm-causal-conv-to-gpu epilogue-flush-denormals: "
                     "the approximate exp and division in their "
                     "flush-to-zero forms"),
      llvm::cl::init(
          xlstm::XLSTMCausalConvToGPUPassOptions().epilogueFlushDenormals)};
  Option<int64_t> maxFusedOperands{
      *this, "max-fused-operands",
      llvm::cl::desc("xlstm-fuse-elementwise max-operands"),
      llvm::cl::init(xlstm::XLSTMFuseElementwisePassOptions().maxOperands)};
};
} // namespace

void xlstm::registerXLSTMToGPUPipeline() {
  registerConvertParallelLoopToGpuPass();
  registerLowerAffinePass();
  bufferization::registerBufferizationPasses();
  registerGPUPasses();
  registerSCFPasses();
  PassPipelineRegistration<ToGPUPipelineOptions>(
      "xlstm-to-gpu",
      "Graph-level xlstm IR to host functions launching outlined GPU kernels",
      [](OpPassManager &pm, const ToGPUPipelineOptions &o) {
        ToGPUOptions options{o.chunkSize,       o.blockSize,    o.tensorCores,
                             o.persistentSLSTM, o.chunkwiseMMA, o.tf32,
                             o.warpNorms,       o.dedupeKernels};
        options.mma.warpsM = o.mmaWarpsM;
        options.mma.warpsN = o.mmaWarpsN;
        options.mma.warpTilesM = o.mmaWarpTilesM;
        options.mma.warpTilesN = o.mmaWarpTilesN;
        options.mma.stages = o.mmaStages;
        options.mma.stagedTile = o.mmaStagedTile;
        options.mma.stagedGroupM = o.mmaStagedGroupM;
        options.mma.stagedSwizzle = o.mmaStagedSwizzle;
        options.mma.sharedBytes = o.mmaSharedBytes;
        options.mma.stagedTileLarge = o.mmaStagedTileLarge;
        options.mma.stagedTileNarrow = o.mmaStagedTileNarrow;
        options.mma.stagedTileShortK = o.mmaStagedTileShortK;
        options.mma.shortKMaxSteps = o.mmaShortKMaxSteps;
        options.mma.shortKBlocks = o.mmaShortKBlocks;
        options.mma.stagedLargeMinBlocks = o.mmaStagedLargeMinBlocks;
        options.mma.splitKBlocks = o.mmaSplitKBlocks;
        options.mma.padK = o.mmaPadK;
        options.mma.gatedPairs = o.mmaGatedPairs;
        options.mma.gatedDecoding = o.mmaGatedDecoding;
        options.mma.stagedSiblingPairs = o.mmaStagedSiblingPairs;
        options.mma.wholeTileStores = o.mmaWholeTileStores;
        options.mma.sharedEpilogue = o.mmaSharedEpilogue;
        options.mma.sharedEpilogueResiduals = o.mmaSharedEpilogueResiduals;
        options.mma.permutedColumnStores = o.mmaPermutedColumnStores;
        options.mma.crossTilePrefetch = o.mmaCrossTilePrefetch;
        options.mma.siblingPairPlanes = o.mmaSiblingPairPlanes;
        options.mma.sharedEpilogueSwizzle = o.mmaSharedEpilogueSwizzle;
        options.mma.sharedEpilogueLoadsAhead = o.mmaSharedEpilogueLoadsAhead;
        options.mma.residentWeights = o.mmaResidentWeights;
        options.mma.residentWeightRows = o.mmaResidentWeightRows;
        options.mma.residentWeightStages = o.mmaResidentWeightStages;
        options.mma.residentWeightBlocks = o.mmaResidentWeightBlocks;
        options.mma.residentWeightWarps = o.mmaResidentWeightWarps;
        options.mma.residentWeightJoint = o.mmaResidentWeightJoint;
        options.mma.residentWeightJointSplitN = o.mmaResidentWeightJointSplitN;
        options.mma.residentWeightEarlyFirstPass =
            o.mmaResidentWeightEarlyFirstPass;
        options.mma.residentWeightWholeSlices = o.mmaResidentWeightWholeSlices;
        options.mma.residentWeightLatePrefetch =
            o.mmaResidentWeightLatePrefetch;
        options.mma.shortKTilesPerBlock = o.mmaShortKTilesPerBlock;
        options.mma.fuseEpilogues = o.mmaFuseEpilogues;
        options.mma.f32PairStores = o.mmaF32PairStores;
        options.mma.skinnyFloat32 = o.mmaSkinnyFloat32;
        options.mma.headwiseOneLaunch = o.mmaHeadwiseOneLaunch;
        options.mma.accumulateResiduals = o.mmaAccumulateResiduals;
        options.norms.maxWarpsPerRow = o.normMaxWarpsPerRow;
        options.norms.fuseConsumers = o.normFuseConsumers;
        options.norms.registerRows = o.normRegisterRows;
        options.mma.tf32 = o.mmaTF32;
        options.mma.gemvMaxRows = o.gemvMaxRows;
        options.mma.gemvWarps = o.gemvWarps;
        options.mma.gemvUnroll = o.gemvUnroll;
        options.mma.gemvLoadsInFlight = o.gemvLoadsInFlight;
        options.mma.siblingProjections = o.siblingProjections;
        options.mma.skinnySiblings = o.skinnySiblings;
        options.mma.skinnySiblingsRows = o.skinnySiblingsRows;
        options.mma.gemvMinN = o.gemvMinN;
        options.mma.smallBatchMMA = o.smallBatchMMA;
        options.mma.smallBatchWarps = o.smallBatchWarps;
        options.mma.smallBatchUnroll = o.smallBatchUnroll;
        options.mma.skinnyWarps = o.skinnyWarps;
        options.mma.skinnyUnroll = o.skinnyUnroll;
        options.mma.smallBatchMinBlocksPerSM = o.smallBatchMinBlocksPerSM;
        options.mma.smallBatchSplitKBlocks = o.smallBatchSplitKBlocks;
        options.mma.smallBatchPipelined = o.smallBatchPipelined;
        options.mma.accumulateInEpilogue = o.accumulateInEpilogue;
        options.slstm.registerHeadDim = o.registerHeadDim;
        options.slstm.unitsPerThread = o.slstmUnitsPerThread;
        options.slstm.dotUnroll = o.slstmDotUnroll;
        options.slstm.prefetchGates = o.slstmPrefetchGates;
        options.slstm.sharedWeightBytes = o.slstmSharedWeightBytes;
        options.slstm.registerRowsOption = o.slstmRegisterRows;
        options.slstm.packRegisterRows = o.slstmPackRegisterRows;
        options.slstm.tensorCores = o.slstmTensorCores;
        options.chunkwise.dvTile = o.dvTile;
        options.chunkwise.stagedOutputs = o.stagedChunkOutputs;
        options.chunkwise.stagedStates = o.stagedChunkStates;
        options.chunkwise.narrowMMA = o.narrowChunkMMA;
        options.chunkwise.keyRows = o.chunkKeyRows;
        options.chunkwise.fuseDecodeStep = o.fuseDecodeStep;
        options.chunkwise.headsLastOperands = o.chunkwiseHeadsLast;
        options.chunkwise.decodeStepWideBlocks = o.decodeStepWideBlocks;
        options.narrowEnteringStates = o.narrowEnteringStates;
        options.largeCellF32 = o.largeCellF32;
        options.gateParts = o.gateParts;
        options.gateBiasFirst = o.gateBiasFirst;
        options.gridDependencyWait = o.gridDependencyWait;
        options.gridDependency.earlyTrigger = o.gridDependencyEarlyTrigger;
        options.gridDependency.programs.assign(o.gridDependencyPrograms.begin(),
                                               o.gridDependencyPrograms.end());
        options.chunkwise.gridDependencyWait = o.decodeStepStatesBeforeWait;
        options.fusion.maxOperands = o.maxFusedOperands;
        options.bufferize.reuseDeadInputs = o.reuseDeadInputs;
        options.convKernel = o.convKernel;
        options.conv.runLength = o.convRunLength;
        options.conv.vectorBytes = o.convVectorBytes;
        options.conv.wholeRuns = o.convWholeRuns;
        options.conv.inPlaceSlices = o.inPlaceSlices;
        options.headwise.inPlaceSlices = o.inPlaceSlices;
        options.conv.epilogueF32 = o.convEpilogueF32;
        options.conv.epilogueApprox = o.convEpilogueApprox;
        options.conv.epilogueFlushDenormals = o.convEpilogueFlushDenormals;
        options.headwiseKernel = o.headwiseKernel;
        options.elementwiseKernel = o.elementwiseKernel;
        options.elementwise.vectorBytes = o.elementwiseVectorBytes;
        options.elementwise.minElements = o.elementwiseMinElements;
        options.sampler = o.sampler;
        options.sampling.threads = o.samplerThreads;
        options.sampling.tokensInFlight = o.samplerTokensInFlight;
        options.converters = o.converters;
        options.loweringReport = o.loweringReport;
        options.requireFastKernels = o.requireFastKernels;
        buildXLSTMToGPUPipeline(pm, options);
      });
}

void xlstm::registerToGPUDependencies(DialectRegistry &registry) {
  // bufferization: xlstm-persistent-slstm's output, between its tensor and
  // buffer worlds.
  registry.insert<bufferization::BufferizationDialect, gpu::GPUDialect>();
  // affine.apply: what the loop mapping leaves until lower-affine, so that
  // IR printed between those passes parses again.
  registry.insert<affine::AffineDialect>();
  arith::registerBufferizableOpInterfaceExternalModels(registry);
  bufferization::func_ext::registerBufferizableOpInterfaceExternalModels(
      registry);
  linalg::registerBufferizableOpInterfaceExternalModels(registry);
  scf::registerBufferizableOpInterfaceExternalModels(registry);
  tensor::registerBufferizableOpInterfaceExternalModels(registry);
}
