//===- Pipelines.h - GPU modules to PTX and cubins --------------*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// The back half of the GPU lowering: gpu.module kernels (gpu, nvgpu, nvvm,
// scf, arith, math, memref, vector) are lowered to NVVM/LLVM and serialised
// by MLIR's NVPTX target into PTX (always available) or cubins (through
// ptxas, when the CUDA toolkit is installed).
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_TARGET_NVVM_PIPELINES_H
#define XLSTM_TARGET_NVVM_PIPELINES_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <functional>
#include <string>

namespace mlir {
class DialectRegistry;
class OpPassManager;
} // namespace mlir

namespace xlstm {

struct NVPTXOptions {
  /// SM architecture, e.g. "sm_80" (runs on every GPU from A100 on through
  /// the driver's JIT) or "sm_90".
  std::string chip = "sm_80";
  /// PTX features, e.g. "+ptx80"; empty: the target's default PTX version.
  std::string features;
  unsigned optLevel = 3;
  /// "isa" (PTX text), "bin" (cubin, runs ptxas) or "fatbin".
  std::string format = "isa";
  /// CUDA toolkit root where ptxas lives; empty: $PATH, then CUDA_ROOT etc.
  std::string toolkitPath;
  /// How many gpu.modules (PTX images) the kernels are packed into
  /// (xlstm-merge-gpu-modules); 0 keeps one module per kernel.
  unsigned kernelModules = 8;
  /// Called as kernel modules finish serializing (done, total); may be
  /// called from several threads at once.
  std::function<void(size_t, size_t)> onProgress;
};

/// Adds the passes that turn every gpu.module into a gpu.binary.
void buildGPUToNVVMBinaryPipeline(mlir::OpPassManager &pm,
                                  const NVPTXOptions &options);

/// Registers what the pipeline needs in the context: the NVVM target
/// attribute's serialisation model, LLVM IR translations, and the
/// ConvertToLLVM interfaces of the dialects kernels use.
void registerNVVMTargetInterfaces(mlir::DialectRegistry &registry);

/// Inserts the dialects kernels are written in (gpu, nvgpu, nvvm, llvm,
/// memref, cf, vector, index, ub).
void registerGPUDialects(mlir::DialectRegistry &registry);

/// Succeeds when `chip` is an architecture this LLVM's NVPTX backend knows
/// and the kernels can target (sm_80 and later: they use bf16 mma.sync and
/// cp.async); else an error that lists the ones that would do.
llvm::Error checkChip(llvm::StringRef chip);

/// The "sm_NN" number of a chip name ("sm_90a" -> 90), if it has one.
std::optional<unsigned> smVersion(llvm::StringRef chip);

/// Registers `xlstm-gpu-to-ptx` (with options chip, features, opt-level,
/// format, toolkit) for the opt tool.
void registerNVVMPipelines();

} // namespace xlstm

#endif // XLSTM_TARGET_NVVM_PIPELINES_H
