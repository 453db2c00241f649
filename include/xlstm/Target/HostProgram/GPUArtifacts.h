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

#include <functional>
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
/// ptxas' resources for one kernel of a PTX image, for one chip.
struct KernelReport {
  std::string section; ///< the PTX section
  std::string kernel;  ///< the entry's name
  std::string chip;
  std::vector<std::string> origins; ///< what the launches of it compute
  int registers = 0;
  int64_t sharedBytes = 0, stackBytes = 0;
  int64_t spillStoreBytes = 0, spillLoadBytes = 0;
};

/// Assembles every PTX image of `artifacts` for each of `chips` with
/// `ptxas` (in parallel), adds the cubins as sections and to the kernel
/// table (`"cubins": {"sm_90": section}`), and returns ptxas' resource
/// report per kernel and chip. `onProgress(done, total)` is called (from
/// the worker threads) as ptxas runs finish.
llvm::Expected<std::vector<KernelReport>>
addCubins(GPUArtifacts &artifacts, llvm::StringRef ptxas,
          llvm::ArrayRef<std::string> chips,
          std::function<void(size_t done, size_t total)> onProgress = {});

/// Adds the host programs of `@forward` and `@step` in `compiled` (the
/// module after the GPU pipeline and gpu-module-to-binary) under
/// `forward_<suffix>` / `step_<suffix>`, with the kernels they launch.
llvm::Error collectGPUArtifacts(mlir::ModuleOp compiled, llvm::StringRef suffix,
                                GPUArtifacts &artifacts);

} // namespace xlstm

#endif // XLSTM_TARGET_HOSTPROGRAM_GPUARTIFACTS_H
