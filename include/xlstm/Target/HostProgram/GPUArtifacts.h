//===- GPUArtifacts.h - Host programs and kernel images ---------*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Reads what the GPU pipeline left in a module (host functions that launch
// kernels, `gpu.binary` images) and turns it into bundle content: one host
// program per entry function (docs/host-program.md), the kernel table, and
// one section per kernel image. Anything a host program cannot express is
// an error naming the op.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_TARGET_HOSTPROGRAM_GPUARTIFACTS_H
#define XLSTM_TARGET_HOSTPROGRAM_GPUARTIFACTS_H

#include "xlstm/Bundle/Bundle.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <vector>

namespace xlstm {

struct GPUArtifacts {
  /// "forward_<suffix>", "step_<suffix>" -> PROGRAM.
  llvm::json::Object programs;
  /// Kernel table: {"module", "name", "section"}.
  llvm::json::Array kernels;
  std::vector<bundle::Section> sections;
};

/// One kernel image assembled by ptxas for one chip.
struct ImageReport {
  std::string section; ///< the PTX section
  std::string chip;
  std::vector<std::string> origins; ///< what the kernels launched from it do
  int registers = 0;
  int64_t sharedBytes = 0, stackBytes = 0;
  int64_t spillStoreBytes = 0, spillLoadBytes = 0;
};

/// Assembles every PTX image of `artifacts` for each of `chips` with
/// `ptxas` (in parallel), adds the cubins as sections and to the kernel
/// table (`"cubins": {"sm_90": section}`), and returns ptxas' resource
/// report per image and chip.
llvm::Expected<std::vector<ImageReport>>
addCubins(GPUArtifacts &artifacts, llvm::StringRef ptxas,
          llvm::ArrayRef<std::string> chips);

/// Adds the host programs of `@forward` and `@step` in `compiled` (the
/// module after the GPU pipeline and gpu-module-to-binary) under
/// `forward_<suffix>` / `step_<suffix>`, with the kernels they launch.
llvm::Error collectGPUArtifacts(mlir::ModuleOp compiled, llvm::StringRef suffix,
                                GPUArtifacts &artifacts);

} // namespace xlstm

#endif // XLSTM_TARGET_HOSTPROGRAM_GPUARTIFACTS_H
