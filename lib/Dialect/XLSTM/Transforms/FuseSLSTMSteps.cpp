//===- FuseSLSTMSteps.cpp - Per-step sLSTM loops to one recurrence op -----===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Dialect/XLSTM/IR/XLSTM.h"
#include "xlstm/Dialect/XLSTM/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace xlstm {
#define GEN_PASS_DEF_XLSTMFUSESLSTMSTEPSPASS
#include "xlstm/Dialect/XLSTM/Transforms/Passes.h.inc"
} // namespace xlstm

using namespace mlir;
using namespace xlstm;

namespace {

bool isConstantIndex(OpFoldResult ofr, int64_t value) {
  std::optional<int64_t> c = getConstantIntValue(ofr);
  return c && *c == value;
}

/// `size` is the full extent of dimension `dim` of `tensor`: the static
/// size, or a tensor.dim of a tensor among `sameSize` (the gate inputs, which
/// the recurrence op requires to agree).
bool coversDim(OpFoldResult size, Value tensor, int64_t dim,
               ArrayRef<Value> sameSize) {
  auto type = cast<RankedTensorType>(tensor.getType());
  if (!type.isDynamicDim(dim))
    return isConstantIndex(size, type.getDimSize(dim));
  auto value = dyn_cast<Value>(size);
  auto dimOp = value ? value.getDefiningOp<tensor::DimOp>() : nullptr;
  std::optional<int64_t> index =
      dimOp ? dimOp.getConstantIndex() : std::nullopt;
  return index && *index == dim &&
         llvm::is_contained(sameSize, dimOp.getSource());
}

/// `slice` reads or writes position `iv` of the (B, S, H) tensor `full`:
/// offsets [0, iv, 0], sizes [B, 1, H] covering the batch and the hidden
/// width, unit strides.
bool isStepSlice(OffsetSizeAndStrideOpInterface slice, Value iv, Value full,
                 ArrayRef<Value> gates) {
  SmallVector<OpFoldResult> offsets = slice.getMixedOffsets();
  SmallVector<OpFoldResult> sizes = slice.getMixedSizes();
  if (offsets.size() != 3 || !isConstantIndex(offsets[0], 0) ||
      !isConstantIndex(offsets[2], 0) || dyn_cast<Value>(offsets[1]) != iv ||
      !isConstantIndex(sizes[1], 1) || !coversDim(sizes[0], full, 0, gates) ||
      !coversDim(sizes[2], full, 2, gates))
    return false;
  return llvm::all_of(slice.getMixedStrides(),
                      [](OpFoldResult s) { return isConstantIndex(s, 1); });
}

/// True if `value` is a linalg.fill of the constant 0.
bool isZeroFill(Value value) {
  auto fill = value.getDefiningOp<linalg::FillOp>();
  return fill && matchPattern(fill.getInputs()[0], m_AnyZeroFloat());
}

struct FuseStepLoop : OpRewritePattern<scf::ForOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(scf::ForOp loop,
                                PatternRewriter &rewriter) const override {
    Block *body = loop.getBody();
    auto it = llvm::find_if(*body,
                            [](Operation &op) { return isa<SLSTMStepOp>(op); });
    if (it == body->end())
      return rewriter.notifyMatchFailure(loop, "no sLSTM step in the loop");
    auto step = cast<SLSTMStepOp>(*it);
    Value iv = loop.getInductionVar();
    if (!isConstantIndex(loop.getLowerBound(), 0) ||
        !isConstantIndex(loop.getStep(), 1))
      return rewriter.notifyMatchFailure(loop, "loop does not start at 0 "
                                               "with step 1");
    // Every gate input is one position of a loop-invariant (B, S, H) tensor.
    SmallVector<Value> gates;
    SmallVector<tensor::ExtractSliceOp> slices;
    for (Value gate :
         {step.getIgate(), step.getFgate(), step.getZgate(), step.getOgate()}) {
      auto slice = gate.getDefiningOp<tensor::ExtractSliceOp>();
      if (!slice || slice->getBlock() != body ||
          !loop.isDefinedOutsideOfLoop(slice.getSource()))
        return rewriter.notifyMatchFailure(loop, "gate is not a step slice");
      gates.push_back(slice.getSource());
      slices.push_back(slice);
    }
    for (tensor::ExtractSliceOp slice : slices)
      if (!isStepSlice(slice, iv, slice.getSource(), gates))
        return rewriter.notifyMatchFailure(loop, "gate is not a whole-batch "
                                                 "step slice");
    // The loop covers the whole sequence of the gate inputs.
    auto ub = loop.getUpperBound().getDefiningOp<tensor::DimOp>();
    std::optional<int64_t> ubDim = ub ? ub.getConstantIndex() : std::nullopt;
    if (!ub || !ubDim || *ubDim != 1 ||
        !llvm::is_contained(gates, ub.getSource()))
      return rewriter.notifyMatchFailure(loop, "loop does not cover the "
                                               "sequence");
    // Nothing else happens in the loop: the gate slices, the step, the
    // insertion of h and the yield.
    llvm::SmallPtrSet<Operation *, 4> sliceOps;
    for (Value gate :
         {step.getIgate(), step.getFgate(), step.getZgate(), step.getOgate()})
      sliceOps.insert(gate.getDefiningOp());
    if (body->getOperations().size() != sliceOps.size() + 3)
      return rewriter.notifyMatchFailure(loop, "the loop does more than one "
                                               "sLSTM step");
    // State in = iter args 1..N, out = yields 1..N; y collects the h output.
    ValueRange iterArgs = body->getArguments().drop_front(); // drop iv
    int64_t numStates = step.getNumStates();
    if (static_cast<int64_t>(iterArgs.size()) != numStates + 1 ||
        !llvm::equal(step.getState(), iterArgs.drop_front()))
      return rewriter.notifyMatchFailure(loop, "state is not loop-carried");
    auto yield = cast<scf::YieldOp>(body->getTerminator());
    auto insert = yield.getOperand(0).getDefiningOp<tensor::InsertSliceOp>();
    if (!insert || insert.getSource() != step.getNewState()[0] ||
        insert.getDest() != iterArgs[0] ||
        !isStepSlice(insert, iv, insert.getDest(), gates) ||
        !llvm::equal(yield.getOperands().drop_front(), step.getNewState()))
      return rewriter.notifyMatchFailure(loop, "output is not collected");

    // Zero initial states are the op's default.
    ValueRange inits = loop.getInitArgs().drop_front();
    SmallVector<Value> initialState;
    if (!llvm::all_of(inits, isZeroFill))
      initialState.assign(inits.begin(), inits.end());
    auto fused = SLSTMOp::create(
        rewriter, loop.getLoc(), loop.getResult(0).getType(),
        TypeRange(loop.getResults().drop_front()), gates[0], gates[1], gates[2],
        gates[3], step.getRecurrentKernel(), step.getBias(), initialState,
        step.getNumHeadsAttr(), step.getFunctionAttr());
    rewriter.replaceOp(loop, fused->getResults());
    return success();
  }
};

struct XLSTMFuseSLSTMStepsPass
    : xlstm::impl::XLSTMFuseSLSTMStepsPassBase<XLSTMFuseSLSTMStepsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseStepLoop>(&getContext());
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};

} // namespace
