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

/// Both linalg ops around `operand` (the one that owns it and the one that
/// defines it, where they are linalg ops) must be all-parallel.
bool onlyElementwise(OpOperand *operand) {
  Operation *owner = operand->getOwner();
  Operation *producer = operand->get().getDefiningOp();
  if (isa<linalg::LinalgOp>(owner) && !allParallel(owner))
    return false;
  if (producer && isa<linalg::LinalgOp>(producer) && !allParallel(producer))
    return false;
  return true;
}

struct XLSTMFuseElementwisePass
    : xlstm::impl::XLSTMFuseElementwisePassBase<XLSTMFuseElementwisePass> {
  using Base::Base;

  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    RewritePatternSet patterns(ctx);
    linalg::populateElementwiseOpsFusionPatterns(patterns, onlyElementwise);
    linalg::populateFoldReshapeOpsByExpansionPatterns(patterns,
                                                      onlyElementwise);
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
