//===- AlignWorkgroupMemory.cpp - Align kernels' shared buffers -----------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Conversion/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace xlstm {
#define GEN_PASS_DEF_XLSTMALIGNWORKGROUPMEMORYPASS
#include "xlstm/Conversion/Passes.h.inc"
} // namespace xlstm

using namespace mlir;

namespace {

struct XLSTMAlignWorkgroupMemoryPass
    : xlstm::impl::XLSTMAlignWorkgroupMemoryPassBase<
          XLSTMAlignWorkgroupMemoryPass> {
  using Base::Base;

  void runOnOperation() override {
    if (alignment < 1 || (alignment & (alignment - 1)) != 0) {
      getOperation()->emitError("xlstm-align-workgroup-memory: alignment "
                                "must be a power of two");
      return signalPassFailure();
    }
    StringAttr name =
        StringAttr::get(&getContext(), LLVM::LLVMDialect::getAlignAttrName());
    getOperation().walk([&](gpu::GPUFuncOp func) {
      for (unsigned i = 0, e = func.getNumWorkgroupAttributions(); i < e; ++i)
        if (!func.getWorkgroupAttributionAttr(i, name))
          func.setWorkgroupAttributionAttr(
              i, name,
              IntegerAttr::get(IntegerType::get(&getContext(), 64), alignment));
    });
  }
};

} // namespace
