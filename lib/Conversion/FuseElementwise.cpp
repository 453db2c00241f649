//===- FuseElementwise.cpp - Elementwise fusion that spares contractions --===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Conversion/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace xlstm {
#define GEN_PASS_DEF_XLSTMFUSEELEMENTWISEPASS
#include "xlstm/Conversion/Passes.h.inc"
} // namespace xlstm

using namespace mlir;

namespace {

bool allParallel(Operation *op) {
  auto linalgOp = dyn_cast_or_null<linalg::LinalgOp>(op);
  return linalgOp && linalgOp.getNumLoops() == linalgOp.getNumParallelLoops();
}

/// Whether fusing `producer` into one of its users leaves memory traffic
/// no worse: it has one use (it goes away), every user is an elementwise
/// op it fuses into too (it goes away once all have), or it reads at most
/// one tensor (the user reads that instead of the result). Otherwise the
/// result stays materialised for its other users and the fused op would
/// re-read all the producer's inputs: a residual stream x_{k+1} = x_k + o_k
/// fused this way re-added every earlier block's output in every block.
bool fusionSparesTraffic(Operation *producer) {
  if (producer->hasOneUse())
    return true;
  // Named ops (copies, transposes) never take a fused producer.
  if (llvm::all_of(producer->getUsers(), [](Operation *user) {
        return isa<linalg::GenericOp>(user) && allParallel(user);
      }))
    return true;
  auto linalgOp = cast<linalg::LinalgOp>(producer);
  return llvm::count_if(linalgOp.getDpsInputOperands(), [](OpOperand *in) {
           return isa<ShapedType>(in->get().getType());
         }) <= 1;
}

/// Both linalg ops around `operand` (the one that owns it and the one that
/// defines it, where they are linalg ops) must be all-parallel, fusing them
/// must not give more than `maxOperands` operands, and must not add reads
/// (fusionSparesTraffic).
bool onlyElementwise(OpOperand *operand, int64_t maxOperands) {
  Operation *owner = operand->getOwner();
  Operation *producer = operand->get().getDefiningOp();
  if (isa<linalg::LinalgOp>(owner) && !allParallel(owner))
    return false;
  if (producer && isa<linalg::LinalgOp>(producer) && !allParallel(producer))
    return false;
  if (producer && isa<linalg::LinalgOp>(producer) &&
      isa<linalg::LinalgOp>(owner) && !fusionSparesTraffic(producer))
    return false;
  if (producer && isa<linalg::LinalgOp>(producer) &&
      isa<linalg::LinalgOp>(owner) &&
      int64_t(owner->getNumOperands() + producer->getNumOperands()) >
          maxOperands + 1)
    return false;
  return true;
}

struct XLSTMFuseElementwisePass
    : xlstm::impl::XLSTMFuseElementwisePassBase<XLSTMFuseElementwisePass> {
  using Base::Base;

  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    RewritePatternSet patterns(ctx);
    if (maxOperands < 2) {
      getOperation()->emitError("xlstm-fuse-elementwise: max-operands must "
                                "be at least 2, got ")
          << static_cast<int64_t>(maxOperands);
      return signalPassFailure();
    }
    int64_t limit = maxOperands;
    auto control = [limit](OpOperand *operand) {
      return onlyElementwise(operand, limit);
    };
    linalg::populateElementwiseOpsFusionPatterns(patterns, control);
    linalg::populateFoldReshapeOpsByExpansionPatterns(patterns, control);
    linalg::populateEraseUnusedOperandsAndResultsPatterns(patterns);
    linalg::GenericOp::getCanonicalizationPatterns(patterns, ctx);
    tensor::ExpandShapeOp::getCanonicalizationPatterns(patterns, ctx);
    tensor::CollapseShapeOp::getCanonicalizationPatterns(patterns, ctx);
    affine::AffineApplyOp::getCanonicalizationPatterns(patterns, ctx);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
