//===- Ptxas.h - Cubins and resource reports from ptxas ---------*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Runs the CUDA toolkit's ptxas on PTX text: a cubin for one architecture
// and the resource usage `ptxas -v` reports per kernel (registers, spills,
// shared memory, stack). MLIR's gpu-module-to-binary swallows that report,
// so xlstmc runs ptxas itself on the kernels it keeps.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_TARGET_NVVM_PTXAS_H
#define XLSTM_TARGET_NVVM_PTXAS_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <optional>
#include <string>
#include <vector>

namespace xlstm {

/// ptxas -v about one kernel.
struct KernelResources {
  std::string name;
  int registers = 0;
  int64_t sharedBytes = 0, stackBytes = 0;
  int64_t spillStoreBytes = 0, spillLoadBytes = 0;
};

struct PtxasResult {
  std::string cubin;
  std::vector<KernelResources> kernels;
};

/// The ptxas of `toolkit` (its bin/), else of $PATH, else of $CUDA_HOME /
/// /usr/local/cuda; nullopt when there is none.
std::optional<std::string> findPtxas(llvm::StringRef toolkit = "");

/// The CUDA toolkit root whose libdevice (nvvm/libdevice/libdevice.10.bc)
/// the PTX serialisation links for math functions: `given`, else
/// $CUDA_HOME / $CUDA_PATH / $CUDA_ROOT, else the toolkit of the ptxas on
/// $PATH, else /usr/local/cuda; nullopt when none has libdevice.
std::optional<std::string> findCudaToolkit(llvm::StringRef given = "");

/// Assembles `ptx` for `chip` (e.g. "sm_90") at -O3 with -v.
llvm::Expected<PtxasResult> runPtxas(llvm::StringRef ptxas, llvm::StringRef ptx,
                                     llvm::StringRef chip);

} // namespace xlstm

#endif // XLSTM_TARGET_NVVM_PTXAS_H
