//===- GridDependencyWait.cpp - Programmatic dependent launch -------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Every kernel (of the chosen host functions' launches) waits on the grid
// before it at its entry and lets the next one launch right after (sm_90's
// griddepcontrol); those launches are marked so that the runtime launches
// them with programmatic stream serialization.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Conversion/Passes.h"
#include "xlstm/Dialect/XLSTM/IR/XLSTMAttrNames.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/STLExtras.h"

namespace xlstm {
#define GEN_PASS_DEF_XLSTMGRIDDEPENDENCYWAITPASS
#include "xlstm/Conversion/Passes.h.inc"
} // namespace xlstm

using namespace mlir;

namespace {

struct XLSTMGridDependencyWaitPass
    : xlstm::impl::XLSTMGridDependencyWaitPassBase<
          XLSTMGridDependencyWaitPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    // (A misspelt name would otherwise overlap nothing, silently.)
    for (const std::string &name : programs)
      if (!module.lookupSymbol<FunctionOpInterface>(name))
        module.emitWarning() << "xlstm-grid-dependency-wait: programs names '"
                             << name << "', which is no function here";
    // The launches to mark: those in the listed host functions, or all.
    auto selected = [&](gpu::LaunchFuncOp launch) {
      if (programs.empty())
        return true;
      auto function = launch->getParentOfType<FunctionOpInterface>();
      return function && llvm::is_contained(programs, function.getName());
    };
    // The kernels the selected launches start: (gpu.module, gpu.func).
    llvm::DenseSet<std::pair<StringAttr, StringAttr>> launched, waiting;
    module.walk([&](gpu::LaunchFuncOp launch) {
      if (selected(launch))
        launched.insert({launch.getKernelModuleName(), launch.getKernelName()});
    });
    module.walk([&](gpu::GPUFuncOp func) {
      auto gpuModule = func->getParentOfType<gpu::GPUModuleOp>();
      if (!func.isKernel() || !gpuModule ||
          !launched.contains({gpuModule.getNameAttr(), func.getNameAttr()}))
        return;
      waiting.insert({gpuModule.getNameAttr(), func.getNameAttr()});
      // A kernel that waits already at its top level, which every thread
      // runs (a builder placed the wait after loads of data no earlier
      // kernel of the program writes, or this pass ran), keeps its wait.
      NVVM::GriddepcontrolOp wait, trigger;
      for (auto op : func.getBody().front().getOps<NVVM::GriddepcontrolOp>()) {
        NVVM::GriddepcontrolOp &slot =
            op.getKind() == NVVM::GridDepActionKind::wait ? wait : trigger;
        if (!slot)
          slot = op;
      }
      if (!wait) {
        OpBuilder b = OpBuilder::atBlockBegin(&func.getBody().front());
        wait = NVVM::GriddepcontrolOp::create(b, func.getLoc(),
                                              NVVM::GridDepActionKind::wait);
      }
      // The trigger right after the wait: the next grid launches once every
      // block of this one is past its wait, so at most one grid ahead holds
      // blocks on the SMs while it waits. Without it the next grid
      // launches as this one's blocks exit.
      if (earlyTrigger && !trigger) {
        OpBuilder b(wait->getContext());
        b.setInsertionPointAfter(wait);
        NVVM::GriddepcontrolOp::create(
            b, wait.getLoc(), NVVM::GridDepActionKind::launch_dependents);
      }
    });
    UnitAttr unit = UnitAttr::get(&getContext());
    // Only launches of kernels that now wait: one whose kernel is not a
    // gpu.func here (already serialized, say) would overlap the grid
    // before it unguarded.
    module.walk([&](gpu::LaunchFuncOp launch) {
      if (selected(launch) && waiting.contains({launch.getKernelModuleName(),
                                                launch.getKernelName()}))
        launch->setAttr(xlstm::kWaitsOnPreviousGridAttr, unit);
    });
  }
};

} // namespace
