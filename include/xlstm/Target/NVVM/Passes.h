//===- Passes.h - GPU modules to binaries -----------------------*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_TARGET_NVVM_PASSES_H
#define XLSTM_TARGET_NVVM_PASSES_H

#include "mlir/Pass/Pass.h"

#include <functional>

namespace xlstm {

#define GEN_PASS_DECL
#include "xlstm/Target/NVVM/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "xlstm/Target/NVVM/Passes.h.inc"

/// Called from the serializing threads as modules finish: how many of how
/// many are done (for progress output).
using SerializeProgressFn = std::function<void(size_t done, size_t total)>;

/// xlstm-gpu-module-to-binary, reporting its progress to `onProgress`.
std::unique_ptr<mlir::Pass> createXLSTMGPUModuleToBinaryPass(
    const XLSTMGPUModuleToBinaryPassOptions &options,
    SerializeProgressFn onProgress);

} // namespace xlstm

#endif // XLSTM_TARGET_NVVM_PASSES_H
