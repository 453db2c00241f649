//===- ExternDynamicSharedMemory.cpp - extern __shared__ for NVPTX --------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Target/NVVM/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

namespace xlstm {
#define GEN_PASS_DEF_XLSTMEXTERNDYNAMICSHAREDMEMORYPASS
#include "xlstm/Target/NVVM/Passes.h.inc"
} // namespace xlstm

using namespace mlir;

namespace {

struct XLSTMExternDynamicSharedMemoryPass
    : xlstm::impl::XLSTMExternDynamicSharedMemoryPassBase<
          XLSTMExternDynamicSharedMemoryPass> {
  void runOnOperation() override {
    getOperation()->walk([](LLVM::GlobalOp global) {
      auto array = dyn_cast<LLVM::LLVMArrayType>(global.getGlobalType());
      if (global.getAddrSpace() != unsigned(NVVM::NVVMMemorySpace::Shared) ||
          !array || array.getNumElements() != 0 || global.getValueOrNull())
        return;
      global.setLinkage(LLVM::Linkage::External);
    });
  }
};

} // namespace
