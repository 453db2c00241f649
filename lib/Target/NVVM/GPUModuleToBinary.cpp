//===- GPUModuleToBinary.cpp - gpu.module to gpu.binary, in parallel ------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Target/NVVM/Passes.h"

#include "mlir/Dialect/GPU/IR/CompilationInterfaces.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/IR/Threading.h"
#include "llvm/ADT/StringSwitch.h"

#include <atomic>

namespace xlstm {
#define GEN_PASS_DEF_XLSTMGPUMODULETOBINARYPASS
#include "xlstm/Target/NVVM/Passes.h.inc"
} // namespace xlstm

using namespace mlir;

namespace {

std::optional<gpu::CompilationTarget> parseFormat(StringRef format) {
  return llvm::StringSwitch<std::optional<gpu::CompilationTarget>>(format)
      .Case("isa", gpu::CompilationTarget::Assembly)
      .Case("bin", gpu::CompilationTarget::Binary)
      .Case("fatbin", gpu::CompilationTarget::Fatbin)
      .Case("llvm", gpu::CompilationTarget::Offload)
      .Default(std::nullopt);
}

struct XLSTMGPUModuleToBinaryPass
    : xlstm::impl::XLSTMGPUModuleToBinaryPassBase<XLSTMGPUModuleToBinaryPass> {
  using Base::Base;
  XLSTMGPUModuleToBinaryPass(
      const xlstm::XLSTMGPUModuleToBinaryPassOptions &options,
      xlstm::SerializeProgressFn onProgress)
      : Base(options), onProgress(std::move(onProgress)) {}

  void runOnOperation() override {
    ModuleOp top = getOperation();
    std::optional<gpu::CompilationTarget> format =
        parseFormat(compilationTarget);
    if (!format) {
      top.emitError() << "xlstm-gpu-module-to-binary: unknown format '"
                      << compilationTarget
                      << "' (expected isa, bin, fatbin or llvm)";
      return signalPassFailure();
    }
    SmallVector<gpu::GPUModuleOp> modules(top.getOps<gpu::GPUModuleOp>());
    for (gpu::GPUModuleOp module : modules)
      if (!module.getTargetsAttr() || module.getTargetsAttr().empty()) {
        module.emitError("gpu.module has no target attribute (run "
                         "nvvm-attach-target first)");
        return signalPassFailure();
      }

    // Built before the threads start: targets may look symbols up in it,
    // and a lazily built table would be a race.
    SymbolTable symbols(top);
    auto symbolTable = [&]() -> SymbolTable * { return &symbols; };
    gpu::TargetOptions options(toolkitPath, /*librariesToLink=*/{}, cmdOptions,
                               /*elfSection=*/{}, *format, symbolTable);

    std::vector<SmallVector<Attribute>> objects(modules.size());
    std::atomic<size_t> done = 0;
    LogicalResult serialized = failableParallelForEachN(
        &getContext(), 0, modules.size(), [&](size_t i) -> LogicalResult {
          gpu::GPUModuleOp module = modules[i];
          for (Attribute attr : module.getTargetsAttr()) {
            auto target = dyn_cast<gpu::TargetAttrInterface>(attr);
            if (!target)
              return module.emitError("target attribute ")
                     << attr << " cannot serialize a module";
            std::optional<SmallVector<char, 0>> object =
                target.serializeToObject(module, options);
            if (!object)
              return module.emitError("failed to serialize to ") << attr;
            // Offload (LLVM bitcode) targets may leave the object empty.
            Attribute objectAttr =
                target.createObject(module, *object, options);
            if (!objectAttr)
              return module.emitError("failed to create an object for ")
                     << attr;
            objects[i].push_back(objectAttr);
          }
          if (onProgress)
            onProgress(++done, modules.size());
          return success();
        });
    if (failed(serialized))
      return signalPassFailure();

    for (auto [module, moduleObjects] : llvm::zip_equal(modules, objects)) {
      OpBuilder builder(module);
      gpu::BinaryOp::create(builder, module.getLoc(), module.getName(),
                            module.getOffloadingHandlerAttr(),
                            builder.getArrayAttr(moduleObjects));
      module.erase();
    }
  }

  xlstm::SerializeProgressFn onProgress;
};

} // namespace

std::unique_ptr<Pass> xlstm::createXLSTMGPUModuleToBinaryPass(
    const XLSTMGPUModuleToBinaryPassOptions &options,
    SerializeProgressFn onProgress) {
  return std::make_unique<XLSTMGPUModuleToBinaryPass>(options,
                                                      std::move(onProgress));
}
