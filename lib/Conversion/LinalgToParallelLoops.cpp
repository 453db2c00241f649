//===- LinalgToParallelLoops.cpp - linalg to scf.parallel, op by op -------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Conversion/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/PatternMatch.h"

namespace xlstm {
#define GEN_PASS_DEF_XLSTMLINALGTOPARALLELLOOPSPASS
#include "xlstm/Conversion/Passes.h.inc"
} // namespace xlstm

using namespace mlir;

namespace {

struct XLSTMLinalgToParallelLoopsPass
    : xlstm::impl::XLSTMLinalgToParallelLoopsPassBase<
          XLSTMLinalgToParallelLoopsPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<linalg::LinalgOp> ops;
    getOperation().walk([&](linalg::LinalgOp op) { ops.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (linalg::LinalgOp op : ops) {
      // Tensor semantics cannot become loops; upstream leaves them too.
      if (!op.hasPureBufferSemantics())
        continue;
      rewriter.setInsertionPoint(op);
      if (failed(linalg::linalgOpToParallelLoops(rewriter, op))) {
        op->emitError("xlstm-linalg-to-parallel-loops: cannot lower");
        return signalPassFailure();
      }
      rewriter.eraseOp(op);
    }
  }
};

} // namespace
