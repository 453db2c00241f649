//===- TileMLSTMChunkwise.cpp - mLSTM recurrence to chunkwise form --------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Dialect/XLSTM/IR/XLSTM.h"
#include "xlstm/Dialect/XLSTM/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace xlstm {
#define GEN_PASS_DEF_XLSTMTILEMLSTMCHUNKWISEPASS
#include "xlstm/Dialect/XLSTM/Transforms/Passes.h.inc"
} // namespace xlstm

using namespace mlir;
using namespace xlstm;

namespace {

struct TileMLSTM : OpRewritePattern<MLSTMOp> {
  TileMLSTM(MLIRContext *ctx, int64_t chunkSize, bool narrowEntering)
      : OpRewritePattern(ctx), chunkSize(chunkSize),
        narrowEntering(narrowEntering) {}

  LogicalResult matchAndRewrite(MLSTMOp op,
                                PatternRewriter &rewriter) const override {
    auto kType = cast<RankedTensorType>(op.getK().getType());
    auto vType = cast<RankedTensorType>(op.getV().getType());
    int64_t b = kType.getDimSize(0), nh = kType.getDimSize(1);
    int64_t s = kType.getDimSize(2), dqk = kType.getDimSize(3);
    int64_t dv = vType.getDimSize(3);
    int64_t nc = ShapedType::isDynamic(s)
                     ? ShapedType::kDynamic
                     : s / chunkSize + (s % chunkSize != 0);
    // States accumulate in float32 (float64 stays float64), or in whatever
    // type the op already returns its final state in.
    Type stateElt = kType.getElementType().isF64() ? rewriter.getF64Type()
                                                   : rewriter.getF32Type();
    if (!op.getFinalState().empty())
      stateElt = cast<RankedTensorType>(op.getFinalState()[0].getType())
                     .getElementType();
    auto tensor = [&](ArrayRef<int64_t> shape, Type elt) {
      return RankedTensorType::get(shape, elt);
    };
    // Entering C in the operands' 16-bit type: half the traffic of the
    // largest intermediate, and a tensor-core operand as it is.
    // Only bf16: f16's range could overflow a C summed over a long
    // context. Not for a step program (a static sequence of at most one
    // chunk), whose outputs read the float32 initial state directly.
    Type kElt = kType.getElementType();
    bool step = !ShapedType::isDynamic(s) && s <= chunkSize;
    bool narrow = narrowEntering && !step && stateElt.isF32() &&
                  kElt.isBF16() && vType.getElementType() == kElt;
    Type enteringElt = narrow ? kElt : stateElt;
    SmallVector<Type> stateTypes = {tensor({b, nh, nc, dqk, dv}, enteringElt),
                                    tensor({b, nh, nc, dqk}, stateElt),
                                    tensor({b, nh, nc}, stateElt),
                                    tensor({b, nh, dqk, dv}, stateElt),
                                    tensor({b, nh, dqk}, stateElt),
                                    tensor({b, nh}, stateElt)};
    auto states = MLSTMChunkStatesOp::create(
        rewriter, op.getLoc(), stateTypes, op.getK(), op.getV(), op.getIgate(),
        op.getFgate(), op.getInitialState(), chunkSize, op.getQkScaling());
    auto outputs = MLSTMChunkOutputsOp::create(
        rewriter, op.getLoc(), op.getH().getType(), op.getQ(), op.getK(),
        op.getV(), op.getIgate(), op.getFgate(), states.getChunkC(),
        states.getChunkN(), states.getChunkM(), chunkSize, op.getQkScaling(),
        op.getEps());
    SmallVector<Value> replacements = {outputs.getH()};
    if (!op.getFinalState().empty())
      llvm::append_range(replacements,
                         ValueRange{states.getFinalC(), states.getFinalN(),
                                    states.getFinalM()});
    rewriter.replaceOp(op, replacements);
    return success();
  }

  int64_t chunkSize;
  bool narrowEntering;
};

struct XLSTMTileMLSTMChunkwisePass
    : xlstm::impl::XLSTMTileMLSTMChunkwisePassBase<
          XLSTMTileMLSTMChunkwisePass> {
  using Base::Base;

  void runOnOperation() override {
    if (chunkSize <= 0) {
      getOperation()->emitError("xlstm-tile-mlstm-chunkwise: chunk-size must "
                                "be positive, got ")
          << static_cast<int64_t>(chunkSize);
      return signalPassFailure();
    }
    RewritePatternSet patterns(&getContext());
    patterns.add<TileMLSTM>(&getContext(), chunkSize, narrowEnteringStates);
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};

} // namespace
