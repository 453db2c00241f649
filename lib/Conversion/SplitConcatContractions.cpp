//===- SplitConcatContractions.cpp - Contract the pieces of a concat ------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// A contraction over a concatenation along its reduction dimension is the
// sum of the contractions over the pieces: x = concat(a, b, c) along K,
// y = x W^T becomes y = a W[:, 0:Ka]^T + b W[:, Ka:Ka+Kb]^T + ..., each
// accumulating into the result of the one before. The concatenated copy
// (written once, read once per contraction) goes; each piece is read where
// it already lies. The mLSTM's gate pre-activations read concat(q, k, v).
//
//===----------------------------------------------------------------------===//

#include "xlstm/Conversion/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace xlstm {
#define GEN_PASS_DEF_XLSTMSPLITCONCATCONTRACTIONSPASS
#include "xlstm/Conversion/Passes.h.inc"
} // namespace xlstm

using namespace mlir;

namespace {

/// The single position of loop `loop` among the results of `map`, or
/// nullopt if it appears more than once, in an expression, or not at all.
std::optional<unsigned> positionOf(AffineMap map, unsigned loop) {
  std::optional<unsigned> found;
  for (auto [i, e] : llvm::enumerate(map.getResults())) {
    if (!e.isFunctionOfDim(loop))
      continue;
    auto dim = dyn_cast<AffineDimExpr>(e);
    if (!dim || found)
      return std::nullopt;
    found = i;
  }
  return found;
}

struct SplitConcatContraction : OpRewritePattern<linalg::ContractOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::ContractOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.hasPureTensorSemantics() || op.getNumDpsInputs() != 2)
      return failure();
    SmallVector<AffineMap> maps = op.getIndexingMapsArray();
    for (unsigned side = 0; side < 2; ++side) {
      auto concat = op.getDpsInputs()[side].getDefiningOp<tensor::ConcatOp>();
      if (!concat)
        continue;
      // The concatenated dimension must be a reduction loop that indexes
      // exactly one dimension of each input and none of the output.
      AffineMap concatMap = maps[side], otherMap = maps[1 - side];
      auto dimExpr =
          dyn_cast<AffineDimExpr>(concatMap.getResult(concat.getDim()));
      if (!dimExpr)
        continue;
      unsigned loop = dimExpr.getPosition();
      if (op.getIteratorTypesArray()[loop] != utils::IteratorType::reduction)
        continue;
      std::optional<unsigned> inConcat = positionOf(concatMap, loop);
      std::optional<unsigned> inOther = positionOf(otherMap, loop);
      if (!inConcat || *inConcat != concat.getDim() || !inOther ||
          maps[2].isFunctionOfDim(loop))
        continue;
      // Static piece widths give static slices of the other operand.
      SmallVector<int64_t> widths;
      for (Value piece : concat.getInputs()) {
        int64_t w = cast<RankedTensorType>(piece.getType())
                        .getDimSize(concat.getDim());
        if (ShapedType::isDynamic(w))
          return failure();
        widths.push_back(w);
      }
      Value other = op.getDpsInputs()[1 - side];
      auto otherType = cast<RankedTensorType>(other.getType());
      int64_t rank = otherType.getRank();
      Location loc = op.getLoc();
      Value acc = op.getDpsInits()[0];
      int64_t offset = 0;
      for (auto [piece, width] : llvm::zip(concat.getInputs(), widths)) {
        SmallVector<OpFoldResult> offsets(rank, rewriter.getIndexAttr(0));
        SmallVector<OpFoldResult> sizes =
            tensor::getMixedSizes(rewriter, loc, other);
        SmallVector<OpFoldResult> strides(rank, rewriter.getIndexAttr(1));
        offsets[*inOther] = rewriter.getIndexAttr(offset);
        sizes[*inOther] = rewriter.getIndexAttr(width);
        Value slice = tensor::ExtractSliceOp::create(rewriter, loc, other,
                                                     offsets, sizes, strides);
        // A copy of the op (its maps, casts and body) on the pieces.
        Operation *part = rewriter.clone(*op);
        part->setOperand(side, piece);
        part->setOperand(1 - side, slice);
        part->setOperand(2, acc);
        acc = part->getResult(0);
        offset += width;
      }
      rewriter.replaceOp(op, acc);
      if (concat->use_empty())
        rewriter.eraseOp(concat);
      return success();
    }
    return failure();
  }
};

struct XLSTMSplitConcatContractionsPass
    : xlstm::impl::XLSTMSplitConcatContractionsPassBase<
          XLSTMSplitConcatContractionsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<SplitConcatContraction>(&getContext());
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};

} // namespace
