//===- GPUModules.h - Helpers for passes over outlined kernels --*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// What xlstm-dedupe-gpu-modules and xlstm-merge-gpu-modules agree on about
// an outlined module: it is handled only when it holds exactly one kernel,
// and its attributes other than the name decide what it may be combined
// with. Header-only: the two passes live in different libraries.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_CONVERSION_GPUMODULES_H
#define XLSTM_CONVERSION_GPUMODULES_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace xlstm {

/// The only op of `module` when it is a gpu.func; null otherwise.
inline mlir::gpu::GPUFuncOp soleKernel(mlir::gpu::GPUModuleOp module) {
  mlir::gpu::GPUFuncOp kernel;
  for (mlir::Operation &op : module.getBody()->getOperations()) {
    auto func = llvm::dyn_cast<mlir::gpu::GPUFuncOp>(op);
    if (!func || kernel)
      return {};
    kernel = func;
  }
  return kernel;
}

/// The module's attributes but its name, as text: modules that differ in
/// them (targets, say) are never merged or packed together.
inline std::string attributesBesidesName(mlir::gpu::GPUModuleOp module) {
  std::string text;
  llvm::raw_string_ostream os(text);
  for (mlir::NamedAttribute attr : module->getAttrs())
    if (attr.getName() != mlir::SymbolTable::getSymbolAttrName())
      os << attr.getName() << "=" << attr.getValue() << "\n";
  return text;
}

/// Points every gpu.launch_func outside the gpu.modules of `top` whose
/// kernel module is a key of `replacement` at the mapped kernel, and calls
/// `onHostOp` (if given) for each of those ops after the rewrite.
inline void redirectLaunches(
    mlir::ModuleOp top,
    const llvm::DenseMap<mlir::StringAttr, mlir::SymbolRefAttr> &replacement,
    llvm::function_ref<void(mlir::Operation *)> onHostOp = {}) {
  top.walk([&](mlir::Operation *op) {
    if (llvm::isa<mlir::gpu::GPUModuleOp>(op))
      return mlir::WalkResult::skip();
    if (auto launch = llvm::dyn_cast<mlir::gpu::LaunchFuncOp>(op)) {
      auto it = replacement.find(launch.getKernelModuleName());
      if (it != replacement.end())
        launch.setKernelAttr(it->second);
    }
    if (onHostOp)
      onHostOp(op);
    return mlir::WalkResult::advance();
  });
}

} // namespace xlstm

#endif // XLSTM_CONVERSION_GPUMODULES_H
