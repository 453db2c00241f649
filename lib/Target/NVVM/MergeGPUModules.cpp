//===- MergeGPUModules.cpp - Pack kernels into a few gpu.modules ----------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Conversion/GPUModules.h"
#include "xlstm/Target/NVVM/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/Support/raw_ostream.h"

#include <map>
#include <numeric>

namespace xlstm {
#define GEN_PASS_DEF_XLSTMMERGEGPUMODULESPASS
#include "xlstm/Target/NVVM/Passes.h.inc"
} // namespace xlstm

using namespace mlir;

namespace {

struct XLSTMMergeGPUModulesPass
    : xlstm::impl::XLSTMMergeGPUModulesPassBase<XLSTMMergeGPUModulesPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp top = getOperation();
    if (modules < 1) {
      top.emitError("xlstm-merge-gpu-modules: modules must be at least 1");
      return signalPassFailure();
    }
    llvm::MapVector<std::string, SmallVector<gpu::GPUModuleOp>,
                    std::map<std::string, unsigned>>
        groups;
    for (auto module : top.getOps<gpu::GPUModuleOp>())
      if (xlstm::soleKernel(module))
        groups[xlstm::attributesBesidesName(module)].push_back(module);

    SymbolTable symbols(top);
    DenseMap<StringAttr, SymbolRefAttr> replacement;
    for (auto &[attributes, group] : groups) {
      if (group.size() < 2)
        continue;
      pack(group, symbols, replacement);
    }
    if (replacement.empty())
      return markAllAnalysesPreserved();

    xlstm::redirectLaunches(top, replacement);
  }

  void pack(ArrayRef<gpu::GPUModuleOp> group, SymbolTable &symbols,
            DenseMap<StringAttr, SymbolRefAttr> &replacement) {
    size_t count = std::min<size_t>(modules, group.size());
    // Largest first into the lightest module; ties by IR order, so the
    // result depends on the IR alone. Size: operations, a fair proxy for
    // the time LLVM and ptxas spend on a kernel.
    SmallVector<int64_t> sizes;
    for (gpu::GPUModuleOp module : group) {
      int64_t ops = 0;
      module.walk([&](Operation *) { ++ops; });
      sizes.push_back(ops);
    }
    SmallVector<size_t> order(group.size());
    std::iota(order.begin(), order.end(), 0);
    llvm::stable_sort(order,
                      [&](size_t a, size_t b) { return sizes[a] > sizes[b]; });
    SmallVector<int64_t> load(count, 0);
    SmallVector<size_t> bucketOf(group.size());
    for (size_t i : order) {
      size_t lightest =
          std::min_element(load.begin(), load.end()) - load.begin();
      bucketOf[i] = lightest;
      load[lightest] += sizes[i];
    }

    // The new modules sit where the first packed one was, with its
    // attributes (the group shares them).
    gpu::GPUModuleOp first = group.front();
    SmallVector<gpu::GPUModuleOp> buckets;
    OpBuilder detached(&getContext());
    for (size_t b = 0; b < count; ++b) {
      std::string name =
          count == 1 ? std::string("kernels") : "kernels_" + std::to_string(b);
      auto bucket = gpu::GPUModuleOp::create(detached, first.getLoc(), name);
      for (NamedAttribute attr : first->getAttrs())
        if (attr.getName() != SymbolTable::getSymbolAttrName())
          bucket->setAttr(attr.getName(), attr.getValue());
      symbols.insert(bucket, Block::iterator(first));
      buckets.push_back(bucket);
    }
    // Kernels keep the IR order within a module; each is renamed after its
    // old module, whose name is unique.
    for (auto [i, packed] : llvm::enumerate(group)) {
      gpu::GPUModuleOp module = packed;
      gpu::GPUFuncOp kernel = xlstm::soleKernel(module);
      gpu::GPUModuleOp bucket = buckets[bucketOf[i]];
      StringAttr name = module.getSymNameAttr();
      kernel->moveBefore(bucket.getBody(), bucket.getBody()->end());
      SymbolTable::setSymbolName(kernel, name);
      replacement[name] = SymbolRefAttr::get(bucket.getSymNameAttr(),
                                             {FlatSymbolRefAttr::get(name)});
      symbols.erase(module);
    }
  }
};

} // namespace
