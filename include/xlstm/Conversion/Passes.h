//===- Passes.h - From tensor IR to GPU kernels -----------------*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// The passes between the tensor-level IR and outlined GPU kernels, and the
// `xlstm-to-gpu` pipeline that strings them together with upstream's.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_CONVERSION_PASSES_H
#define XLSTM_CONVERSION_PASSES_H

#include "mlir/Pass/Pass.h"

namespace llvm {
class raw_ostream;
} // namespace llvm

namespace mlir {
class DialectRegistry;
class OpPassManager;
} // namespace mlir

namespace xlstm {

#define GEN_PASS_DECL
#include "xlstm/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "xlstm/Conversion/Passes.h.inc"

struct ToGPUOptions {
  int64_t chunkSize = 64;      ///< xlstm-tile-mlstm-chunkwise
  int64_t blockSize = 256;     ///< xlstm-map-parallel-loops
  bool tensorCores = true;     ///< xlstm-contract-to-mma for bf16/f16
  bool persistentSLSTM = true; ///< xlstm-persistent-slstm
  bool chunkwiseMMA = true;    ///< xlstm-chunkwise-mlstm-to-mma
  bool tf32 = false;     ///< its allow-tf32: float32 q/k/v on tf32 tensor cores
  bool warpNorms = true; ///< xlstm-warp-norms
  bool dedupeKernels = true; ///< xlstm-dedupe-gpu-modules
  bool convKernel = true;    ///< xlstm-causal-conv-to-gpu
  bool headwiseKernel = true; ///< xlstm-headwise-to-gpu
  bool elementwiseKernel = true; ///< xlstm-elementwise-to-gpu
  bool sampler = true;        ///< xlstm-build-sampler (token models)
  bool converters = true;     ///< xlstm-build-converters
  /// xlstm-tile-mlstm-chunkwise narrow-entering-states: entering C in k's
  /// 16-bit type.
  bool narrowEnteringStates = true;
  /// xlstm-expand-blocks large-cell-f32: the xLSTM-7B's q/k/v in float32.
  bool largeCellF32 = true;
  /// xlstm-expand-blocks gate-parts: the mLSTM gates as a sum over q, k, v.
  bool gateParts = true;
  /// xlstm-expand-blocks gate-bias-first: a gate's bias joins its first
  /// part.
  bool gateBiasFirst = true;
  /// xlstm-grid-dependency-wait: kernels launched while the one before
  /// them finishes (sm_90 PTX); with chunkwise.gridDependencyWait too, the
  /// decode step loads the entering states before its wait.
  bool gridDependencyWait = false;
  /// Its options: the next grid may launch right after a kernel's wait
  /// (early-trigger), the launches of the decode program only (measured:
  /// decode gains, the forward programs' long kernels lose).
  XLSTMGridDependencyWaitPassOptions gridDependency{/*earlyTrigger=*/true,
                                                    /*programs=*/{"step"}};
  /// xlstm-lowering-report: print the table (stdout), fail on generic
  /// kernels for projections, convs, norms and recurrences.
  bool loweringReport = false;
  bool requireFastKernels = false;
  llvm::raw_ostream *reportStream = nullptr; ///< null: stdout
  /// End the pipeline after the report (a tool that prints only it).
  bool stopAfterReport = false;
  /// The per-pass knobs (tile shapes, pipeline depth, register budgets),
  /// at the passes' own defaults.
  XLSTMContractToMMAPassOptions mma;
  XLSTMPersistentSLSTMPassOptions slstm;
  /// dv-tile (allow-tf32 comes from `tf32` above).
  XLSTMChunkwiseMLSTMToMMAPassOptions chunkwise;
  XLSTMFuseElementwisePassOptions fusion;
  XLSTMBufferizePassOptions bufferize;
  XLSTMWarpNormsPassOptions norms;
  XLSTMElementwiseToGPUPassOptions elementwise;
  XLSTMCausalConvToGPUPassOptions conv;
  XLSTMHeadwiseToGPUPassOptions headwise;
  XLSTMBuildSamplerPassOptions sampling;
};

/// From graph-level xlstm IR (what the frontend emits) to host functions
/// that launch outlined `gpu.module` kernels: expansion, tiling, fusion,
/// lowering to linalg, bufferization, loop mapping and outlining.
void buildXLSTMToGPUPipeline(mlir::OpPassManager &pm,
                             const ToGPUOptions &options);

/// Registers `xlstm-to-gpu` with mlir-opt style tools, and the upstream
/// passes it strings together so that each step can be run on its own.
void registerXLSTMToGPUPipeline();

/// Dialects and interface models the pipeline needs in the context
/// (bufferization models of the upstream dialects).
void registerToGPUDependencies(mlir::DialectRegistry &registry);

} // namespace xlstm

#endif // XLSTM_CONVERSION_PASSES_H
