//===- Bufferize.cpp - One-Shot bufferization for the GPU path ------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/Transforms/OneShotAnalysis.h"
#include "mlir/Dialect/Bufferization/Transforms/OneShotModuleBufferize.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace xlstm {
#define GEN_PASS_DEF_XLSTMBUFFERIZEPASS
#include "xlstm/Conversion/Passes.h.inc"
} // namespace xlstm

using namespace mlir;

namespace {

/// Whether `user` runs before `op`: its ancestor in `op`'s block comes first.
bool runsBefore(Operation *user, Operation *op) {
  Operation *at = op->getBlock()->findAncestorOpInBlock(*user);
  return at && at != op && at->isBeforeInBlock(op);
}

/// Whether `value` is a whole tensor of its own that bufferization may
/// write over: a kernel's output (bufferization.to_tensor of a writable
/// buffer), a tensor.empty, or a destination-style op's result whose tied
/// init is one of these in turn. Not a view of another tensor, nor a
/// function argument (the caller's) or a loop's carried value.
bool ownsItsBuffer(Value value) {
  // (A chain of destination-style ops is as long as the function: bounded
  // for safety, a longer one is simply not reused.)
  for (int depth = 0; depth < 64; ++depth) {
    Operation *def = value.getDefiningOp();
    if (!def)
      return false;
    if (auto toTensor = dyn_cast<bufferization::ToTensorOp>(def))
      return toTensor.getWritable();
    if (isa<tensor::EmptyOp>(def))
      return true;
    auto dps = dyn_cast<DestinationStyleOpInterface>(def);
    auto result = dyn_cast<OpResult>(value);
    if (!dps || !result)
      return false;
    value = dps.getTiedOpOperand(result)->get();
  }
  return false;
}

/// Whether `op`'s body is one addf of its two inputs' elements.
bool addsItsInputs(linalg::GenericOp op) {
  Block &body = op.getRegion().front();
  auto sum = dyn_cast<arith::AddFOp>(body.front());
  if (op.getNumDpsInputs() != 2 || body.getOperations().size() != 2 || !sum ||
      cast<linalg::YieldOp>(body.getTerminator()).getValues() !=
          ValueRange{sum.getResult()})
    return false;
  Value a = body.getArgument(0), b = body.getArgument(1);
  return (sum.getLhs() == a && sum.getRhs() == b) ||
         (sum.getLhs() == b && sum.getRhs() == a);
}

/// reuse-dead-inputs: a residual add r + y (an all-parallel linalg.generic
/// adding its two inputs into a tensor.empty, y a projection's result) takes
/// r as its init where r is a tensor of its own, read at the same element
/// and by no later op, made in the same block: one-shot bufferization then
/// writes the sum over r's buffer (each element read before it is written),
/// r = r + y in place, which xlstm-contract-to-mma accumulate-residuals
/// folds into y's projection. (Other elementwise ops keep fresh outputs:
/// written over their inputs in general, the xLSTM-7B block's projections
/// lost their fused epilogues and sibling launches, 118 -> 159 launches.)
void writeOverDeadInputs(ModuleOp module) {
  module.walk([](linalg::GenericOp op) {
    if (op.getNumDpsInits() != 1 ||
        op.getNumLoops() != op.getNumParallelLoops() || !addsItsInputs(op))
      return;
    OpOperand &init = op.getDpsInitsMutable()[0];
    if (!init.get().getDefiningOp<tensor::EmptyOp>() ||
        !llvm::all_of(op.getIndexingMapsArray(),
                      [](AffineMap m) { return m.isIdentity(); }))
      return;
    for (int64_t i : {0, 1}) {
      Value r = op.getDpsInputOperand(i)->get();
      Value y = op.getDpsInputOperand(1 - i)->get();
      if (r == y || r.getType() != init.get().getType() ||
          !y.getDefiningOp<linalg::ContractOp>() || !ownsItsBuffer(r) ||
          r.getDefiningOp()->getBlock() != op->getBlock())
        continue;
      if (llvm::all_of(r.getUsers(), [&](Operation *user) {
            return user == op || runsBefore(user, op);
          })) {
        init.set(r);
        return;
      }
    }
  });
}

struct XLSTMBufferizePass
    : xlstm::impl::XLSTMBufferizePassBase<XLSTMBufferizePass> {
  using Base::Base;

  void runOnOperation() override {
    if (reuseDeadInputs)
      writeOverDeadInputs(getOperation());
    bufferization::OneShotBufferizationOptions options;
    options.bufferizeFunctionBoundaries = true;
    options.setFunctionBoundaryTypeConversion(
        bufferization::LayoutMapOption::IdentityLayoutMap);
    // The chunk-state scan and the sLSTM steps carry fresh buffers.
    options.allowReturnAllocsFromLoops = true;
    options.memCpyFn = [](OpBuilder &b, Location loc, Value from,
                          Value to) -> LogicalResult {
      linalg::CopyOp::create(b, loc, from, to);
      return success();
    };
    bufferization::BufferizationState state;
    if (failed(bufferization::runOneShotModuleBufferize(getOperation(), options,
                                                        state)))
      signalPassFailure();
  }
};

} // namespace
