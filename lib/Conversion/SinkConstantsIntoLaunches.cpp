//===- SinkConstantsIntoLaunches.cpp - Constants into gpu.launch ----------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"

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
    // Upstream's sinkOperationsIntoLaunchOp replaces uses by scanning each
    // constant's whole use list, once per launch: quadratic in a model's
    // size, as the same few constants feed thousands of launches. Here the
    // launch body is walked once and its operands are redirected.
    getOperation()->walk([](gpu::LaunchOp launch) {
      Region &body = launch.getBody();
      OpBuilder builder = OpBuilder::atBlockBegin(&body.front());
      DenseMap<Value, Value> cloned;
      body.walk([&](Operation *op) {
        for (OpOperand &operand : op->getOpOperands()) {
          auto constant = operand.get().getDefiningOp<arith::ConstantOp>();
          if (!constant || launch->isProperAncestor(constant))
            continue;
          auto [it, inserted] = cloned.try_emplace(operand.get());
          if (inserted)
            it->second = builder.clone(*constant)->getResult(0);
          operand.set(it->second);
        }
      });
    });
  }
};

} // namespace
