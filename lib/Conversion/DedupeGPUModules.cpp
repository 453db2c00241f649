//===- DedupeGPUModules.cpp - One gpu.module per distinct kernel ----------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Conversion/GPUModules.h"
#include "xlstm/Conversion/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/IR/Threading.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/raw_ostream.h"

#include <limits>

namespace xlstm {
#define GEN_PASS_DEF_XLSTMDEDUPEGPUMODULESPASS
#include "xlstm/Conversion/Passes.h.inc"
} // namespace xlstm

using namespace mlir;

namespace {

/// The text that decides whether two modules are the same kernel: the
/// module's attributes but its name, and its one gpu.func printed under a
/// fixed name. None when the module holds anything else.
std::optional<std::string> fingerprint(gpu::GPUModuleOp module) {
  gpu::GPUFuncOp kernel = xlstm::soleKernel(module);
  if (!kernel)
    return std::nullopt;
  std::string text = xlstm::attributesBesidesName(module);
  llvm::raw_string_ostream os(text);
  // Renamed only while printing: the name is the one thing allowed to
  // differ, and only the launches (rewritten below) refer to it.
  StringAttr name = kernel.getNameAttr();
  SymbolTable::setSymbolName(kernel, "kernel");
  // Every flag that --mlir-print-* could set is fixed: locations must not
  // count, and elided constants would make different kernels look alike.
  OpPrintingFlags flags;
  flags.enableDebugInfo(false)
      .printNameLocAsPrefix(false)
      .elideLargeElementsAttrs(std::numeric_limits<int64_t>::max())
      .elideLargeResourceString(std::numeric_limits<int64_t>::max())
      .skipRegions(false)
      .printValueUsers(false)
      .useLocalScope()
      .assumeVerified();
  kernel->print(os, flags);
  SymbolTable::setSymbolName(kernel, name);
  return text;
}

struct XLSTMDedupeGPUModulesPass
    : xlstm::impl::XLSTMDedupeGPUModulesPassBase<XLSTMDedupeGPUModulesPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp top = getOperation();
    llvm::StringMap<gpu::GPUModuleOp> firstOf;
    // Module name -> the launch target that replaces its kernel.
    DenseMap<StringAttr, SymbolRefAttr> replacement;
    SmallVector<gpu::GPUModuleOp> duplicates;
    // Printing is most of the work; each module is printed (and its kernel
    // renamed for the while) by one thread only.
    SmallVector<gpu::GPUModuleOp> modules(top.getOps<gpu::GPUModuleOp>());
    std::vector<std::optional<std::string>> texts(modules.size());
    parallelFor(&getContext(), 0, modules.size(),
                [&](size_t i) { texts[i] = fingerprint(modules[i]); });
    for (auto [module, text] : llvm::zip_equal(modules, texts)) {
      if (!text)
        continue;
      auto [it, inserted] = firstOf.try_emplace(*text, module);
      if (inserted)
        continue;
      gpu::GPUModuleOp kept = it->second;
      auto keptKernel = *kept.getBody()->getOps<gpu::GPUFuncOp>().begin();
      replacement[module.getSymNameAttr()] = SymbolRefAttr::get(
          kept.getSymNameAttr(), {FlatSymbolRefAttr::get(keptKernel)});
      duplicates.push_back(module);
    }
    if (duplicates.empty())
      return markAllAnalysesPreserved();

    // Launches move to the kept module; any other reference to a duplicate
    // (a symbol use this pass does not know) keeps that module alive rather
    // than leaving it dangling.
    DenseSet<StringAttr> stillUsed;
    xlstm::redirectLaunches(top, replacement, [&](Operation *op) {
      op->getAttrDictionary().walk(
          [&](SymbolRefAttr ref) { stillUsed.insert(ref.getRootReference()); });
    });
    for (gpu::GPUModuleOp module : duplicates) {
      if (stillUsed.contains(module.getSymNameAttr()))
        continue;
      module.erase();
      ++numModulesErased;
    }
  }
};

} // namespace
