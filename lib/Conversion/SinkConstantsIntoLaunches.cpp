//===- SinkConstantsIntoLaunches.cpp - Constants into gpu.launch ----------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Utils/GPUUtils.h"

namespace xlstm {
#define GEN_PASS_DEF_XLSTMSINKCONSTANTSINTOLAUNCHESPASS
#include "xlstm/Conversion/Passes.h.inc"
} // namespace xlstm

using namespace mlir;

namespace {

struct XLSTMSinkConstantsIntoLaunchesPass
    : xlstm::impl::XLSTMSinkConstantsIntoLaunchesPassBase<
          XLSTMSinkConstantsIntoLaunchesPass> {
  using Base::Base;

  void runOnOperation() override {
    WalkResult result = getOperation()->walk([](gpu::LaunchOp launch) {
      if (failed(sinkOperationsIntoLaunchOp(launch, [](Operation *op) {
            return isa<arith::ConstantOp>(op);
          })))
        return WalkResult::interrupt();
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
