//===- ExpandBlocks.cpp - Block ops to layer ops and primitives -----------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Rewrites each graph-level block op into what it computes, following
// shared/spec/xlstm-architecture.md §b and xlstm-large-7b.md §2 step by step.
// The recurrences become `xlstm.mlstm` / `xlstm.slstm`, projections
// `linalg.contract`, elementwise epilogues `linalg.generic`.
//
//===----------------------------------------------------------------------===//

#include "LayerBuilder.h"
#include "xlstm/Dialect/XLSTM/IR/XLSTM.h"
#include "xlstm/Dialect/XLSTM/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace xlstm {
#define GEN_PASS_DEF_XLSTMEXPANDBLOCKSPASS
#include "xlstm/Dialect/XLSTM/Transforms/Passes.h.inc"
} // namespace xlstm

using namespace mlir;
using namespace xlstm;

namespace {


APFloat f64(double v) { return APFloat(v); }

/// Element type of gate pre-activations computed from `x`: float32 for
/// narrow (bf16/f16) activations, the activations' type otherwise.
Type gateType(Value x) {
  Type elt = getElementTypeOrSelf(x.getType());
  return elt.getIntOrFloatBitWidth() < 32 ? Float32Type::get(x.getContext())
                                          : elt;
}

/// `x`'s shape with element type `elt`.
RankedTensorType withElement(Value x, Type elt) {
  return cast<RankedTensorType>(x.getType()).clone(elt);
}

/// The element type of a block's parameters, which its projections take as
/// operands. The residual stream around the block (its input and result)
/// may be wider: float32 in narrow programs built with a float32 residual.
template <typename BlockOpT> Type operandType(BlockOpT op) {
  return getElementTypeOrSelf(op.getParams().front().getType());
}

/// LayerNorm of `x` (the residual stream), written as `resultElt`: the
/// projections after it read their operand type.
Value layerNorm(LayerBuilder &lb, Value x, Value weight, Type resultElt) {
  OpBuilder &b = lb.builder();
  return LayerNormOp::create(b, lb.location(), withElement(x, resultElt), x,
                             weight, /*bias=*/Value(), f64(kXLSTMNormEps),
                             NormScaling::one_plus_weight);
}

/// The depthwise conv weight is stored as (D, 1, K); the primitive takes (D,
/// K).
CausalConv1dOp causalConv(LayerBuilder &lb, Value x, Value weight, Value bias,
                          Value initialState, Type finalStateType) {
  Value w = lb.collapse(weight, {{0, 1}, {2}});
  return CausalConv1dOp::create(lb.builder(), lb.location(), x.getType(),
                                finalStateType, x, w, bias, initialState);
}

/// Access to a block op's recurrent state by name (in getStateSpecs order):
/// the given initial state and the final-state result types.
template <typename BlockOpT> struct BlockState {
  explicit BlockState(BlockOpT op) : op(op), specs(op.getStateSpecs()) {}

  int64_t indexOf(StringRef name) const {
    for (auto [i, spec] : llvm::enumerate(specs))
      if (spec.name == name)
        return i;
    llvm_unreachable("unknown state name");
  }
  /// The initial value of state `name`, or null (start from zeros).
  Value initial(StringRef name) const {
    return op.getState().empty() ? Value() : op.getState()[indexOf(name)];
  }
  /// States `from` .. end, or none.
  ValueRange initialFrom(StringRef name) const {
    return op.getState().empty() ? ValueRange()
                                 : op.getState().drop_front(indexOf(name));
  }
  /// The type of final state `name`, or null when no final state is wanted.
  Type finalType(StringRef name) const {
    return wanted() ? op.getFinalState()[indexOf(name)].getType() : Type();
  }
  SmallVector<Type> finalTypesFrom(StringRef name) const {
    if (!wanted())
      return {};
    return llvm::to_vector(
        TypeRange(op.getFinalState().drop_front(indexOf(name))));
  }
  bool wanted() const { return !op.getFinalState().empty(); }

  mutable BlockOpT op; // op accessors are not const
  SmallVector<ParamSpec> specs;
};

/// The FFN of `x`, written as `resultElt` (the residual stream's type).
Value gatedFFN(LayerBuilder &lb, Value x, Value gateW, Value upW, Value downW,
               Value gateB, Value upB, Value downB, Activation act,
               Type resultElt) {
  return GatedFFNOp::create(lb.builder(), lb.location(),
                            withElement(x, resultElt), x, gateW, upW, downW,
                            gateB, upB, downB, act);
}

//===----------------------------------------------------------------------===//
// mLSTM block (spec §b.2, §b.4)
//===----------------------------------------------------------------------===//

struct ExpandMLSTMBlock : OpRewritePattern<MLSTMBlockOp> {
  ExpandMLSTMBlock(MLIRContext *ctx, bool gateParts, bool gateBiasFirst)
      : OpRewritePattern(ctx), gateParts(gateParts),
        gateBiasFirst(gateBiasFirst) {}
  bool gateParts;     ///< gate-parts
  bool gateBiasFirst; ///< gate-bias-first

  LogicalResult matchAndRewrite(MLSTMBlockOp op,
                                PatternRewriter &rewriter) const override {
    MLSTMLayerAttr c = op.getConfig();
    LayerBuilder lb(rewriter, op.getLoc());
    auto p = [&](StringRef name) { return op.getParam(name); };
    int64_t di = c.getInnerDim(), nh = c.getNumHeads();

    Value x = op.getInput();
    Type operandElt = operandType(op);
    Type residualElt = getElementTypeOrSelf(x.getType());
    Value xn = layerNorm(lb, x, p("xlstm_norm.weight"), operandElt);
    Value up =
        lb.linear(xn, p("xlstm.proj_up.weight"), p("xlstm.proj_up.bias"));
    Value xm = lb.sliceLastDim(up, 0, di);
    Value z = lb.sliceLastDim(up, di, di);
    BlockState<MLSTMBlockOp> state(op);
    CausalConv1dOp conv = causalConv(
        lb, xm, p("xlstm.conv1d.conv.weight"), p("xlstm.conv1d.conv.bias"),
        state.initial("conv"), state.finalType("conv"));
    Value xc = lb.silu(conv.getResult());
    auto headwise = [&](Value in, StringRef proj) -> Value {
      return HeadwiseLinearOp::create(rewriter, op.getLoc(), in.getType(), in,
                                      p(("xlstm." + proj + ".weight").str()),
                                      p(("xlstm." + proj + ".bias").str()));
    };
    // q and k read the convolved branch, v the raw one (spec §g.2).
    Value q = headwise(xc, "q_proj");
    Value k = headwise(xc, "k_proj");
    Value v = headwise(xm, "v_proj");
    // Gate pre-activations in float32 whatever the storage type: the
    // exponential gating and the cumulative log forget gates amplify their
    // rounding (and they are only NH wide).
    Type gateElt = gateType(q);
    // The gates read cat(q, k, v). With gate-parts, where each part's
    // columns of the gate weights start on 32 elements (the projection
    // kernels read such column slices of W in place), as the sum of the
    // three parts' products instead: the concatenated copy (three times
    // q's bytes moved twice) is never made.
    bool byParts = gateParts && di % 32 == 0;
    Value qkv = byParts ? Value()
                        : tensor::ConcatOp::create(rewriter, op.getLoc(), 2,
                                                   ValueRange{q, k, v});
    auto gate = [&](StringRef name) {
      Value w = p(("xlstm.mlstm_cell." + name + ".weight").str());
      Value bias = p(("xlstm.mlstm_cell." + name + ".bias").str());
      return byParts
                 ? lb.linearOfParts({q, k, v}, w, bias, gateElt, gateBiasFirst)
                 : lb.linear(qkv, w, bias, gateElt);
    };
    Value ig = gate("igate"), fg = gate("fgate");

    Value qh = lb.splitHeads(q, nh), kh = lb.splitHeads(k, nh);
    Value vh = lb.splitHeads(v, nh);
    Value igh = lb.transpose(ig, {0, 2, 1}), fgh = lb.transpose(fg, {0, 2, 1});
    auto cell = MLSTMOp::create(
        rewriter, op.getLoc(), vh.getType(), state.finalTypesFrom("C"), qh, kh,
        vh, igh, fgh, state.initialFrom("C"), QKScaling::key, f64(kMLSTMEps));
    Value h = lb.mergeHeads(cell.getH());
    Value hn = MultiHeadNormOp::create(rewriter, op.getLoc(), h.getType(), h,
                                       p("xlstm.mlstm_cell.outnorm.weight"),
                                       /*bias=*/Value(), nh, f64(kXLSTMNormEps),
                                       NormScaling::one_plus_weight);
    // h_o = (h_n + skip * x_c) * SiLU(z)
    Value ho = lb.elementwise(
        {hn, xc, z, p("xlstm.learnable_skip")},
        [](OpBuilder &b, Location loc, ValueRange a) -> Value {
          Value skip = arith::MulFOp::create(b, loc, a[3], a[1]);
          Value hs = arith::AddFOp::create(b, loc, a[0], skip);
          Value gate = arith::MulFOp::create(
              b, loc, a[2], LayerBuilder::scalarSigmoid(b, loc, a[2]));
          return arith::MulFOp::create(b, loc, hs, gate);
        });
    Value y = lb.linear(ho, p("xlstm.proj_down.weight"),
                        p("xlstm.proj_down.bias"), residualElt);
    SmallVector<Value> results = {lb.add(x, y)};
    if (state.wanted()) {
      results.push_back(conv.getFinalState());
      llvm::append_range(results, cell.getFinalState());
    }
    rewriter.replaceOp(op, results);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// sLSTM block (spec §b.5-§b.7)
//===----------------------------------------------------------------------===//

/// Brings `_recurrent_kernel_` into (NH, DH, 4, DH) = R[h, i, g, j].
Value recurrentKernelToCanonical(LayerBuilder &lb, Value kernel,
                                 SLSTMLayerAttr c) {
  int64_t nh = c.getNumHeads(), dh = c.getHeadDim();
  if (c.getLayout() == SLSTMLayout::cuda) // int[h, i, g*DH + j]
    return lb.expand(kernel, {{0}, {1}, {2, 3}}, {nh, dh, 4, dh});
  // vanilla: int[h, g*DH + j, i] -> (h, g, j, i) -> (h, i, g, j)
  Value split = lb.expand(kernel, {{0}, {1, 2}, {3}}, {nh, 4, dh, dh});
  return lb.transpose(split, {0, 3, 1, 2});
}

/// Brings `_bias_` into (NH, 4, DH) = b[h, g, j].
Value biasToCanonical(LayerBuilder &lb, Value bias, SLSTMLayerAttr c) {
  int64_t nh = c.getNumHeads(), dh = c.getHeadDim();
  if (c.getLayout() == SLSTMLayout::cuda) // head-major int[h*4*DH + g*DH + j]
    return lb.expand(bias, {{0, 1, 2}}, {nh, 4, dh});
  // vanilla, gate-major: int[g*NH*DH + h*DH + j]
  Value split = lb.expand(bias, {{0, 1, 2}}, {4, nh, dh});
  return lb.transpose(split, {1, 0, 2});
}

/// The per-step form of the sLSTM recurrence: an scf.for over the sequence
/// with one xlstm.slstm_step per position, from `initialState` (zeros when
/// empty). The loop's results are the hidden states (B, S, H), then the
/// final state. xlstm-fuse-slstm-steps turns it into one xlstm.slstm.
scf::ForOp buildSLSTMStepLoop(LayerBuilder &lb, Value wi, Value wf, Value wz,
                              Value wo, Value r, Value bias, int64_t numHeads,
                              SLSTMFunction function, ValueRange initialState,
                              Type stateElt) {
  OpBuilder &b = lb.builder();
  Location loc = lb.location();
  auto gateType = cast<RankedTensorType>(wi.getType());
  int64_t hidden = gateType.getDimSize(2);
  OpFoldResult batch = tensor::getMixedSize(b, loc, wi, 0);
  Value seq = tensor::DimOp::create(b, loc, wi, 1);
  auto sliceType = RankedTensorType::get({gateType.getDimSize(0), hidden},
                                         gateType.getElementType());
  auto stateType =
      RankedTensorType::get({gateType.getDimSize(0), hidden}, stateElt);
  Value zero = LayerBuilder::scalarConstant(b, loc, stateElt, 0.0);
  Value emptyState = tensor::EmptyOp::create(
      b, loc, ArrayRef<OpFoldResult>{batch, b.getIndexAttr(hidden)}, stateElt);
  Value zeroState =
      linalg::FillOp::create(b, loc, zero, emptyState).getResult(0);
  int numStates = function == SLSTMFunction::slstm ? 4 : 2;
  // The hidden states are collected in the state type.
  SmallVector<Value> inits = {tensor::EmptyOp::create(
      b, loc, tensor::getMixedSizes(b, loc, wi), stateElt)};
  if (initialState.empty())
    inits.append(numStates, zeroState);
  else
    llvm::append_range(inits, initialState);
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  auto loop = scf::ForOp::create(
      b, loc, c0, seq, c1, inits,
      [&](OpBuilder &nb, Location l, Value t, ValueRange args) {
        SmallVector<OpFoldResult> offsets = {nb.getIndexAttr(0), t,
                                             nb.getIndexAttr(0)};
        SmallVector<OpFoldResult> sizes = {batch, nb.getIndexAttr(1),
                                           nb.getIndexAttr(hidden)};
        SmallVector<OpFoldResult> strides(3, nb.getIndexAttr(1));
        SmallVector<Value> gates;
        for (Value g : {wi, wf, wz, wo})
          gates.push_back(tensor::ExtractSliceOp::create(
              nb, l, sliceType, g, offsets, sizes, strides));
        auto step = SLSTMStepOp::create(
            nb, l, SmallVector<Type>(numStates, stateType), gates[0], gates[1],
            gates[2], gates[3], r, bias, args.drop_front(),
            nb.getI64IntegerAttr(numHeads),
            SLSTMFunctionAttr::get(nb.getContext(), function));
        Value y = tensor::InsertSliceOp::create(
            nb, l, step.getNewState()[0], args[0], offsets, sizes, strides);
        SmallVector<Value> yields = {y};
        llvm::append_range(yields, step.getNewState());
        scf::YieldOp::create(nb, l, yields);
      });
  return loop;
}

struct ExpandSLSTMBlock : OpRewritePattern<SLSTMBlockOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(SLSTMBlockOp op,
                                PatternRewriter &rewriter) const override {
    SLSTMLayerAttr c = op.getConfig();
    LayerBuilder lb(rewriter, op.getLoc());
    auto p = [&](StringRef name) { return op.getParam(name); };
    int64_t nh = c.getNumHeads();

    Value x = op.getInput();
    Type operandElt = operandType(op);
    Type residualElt = getElementTypeOrSelf(x.getType());
    Value xn = layerNorm(lb, x, p("xlstm_norm.weight"), operandElt);
    BlockState<SLSTMBlockOp> state(op);
    Value xc = xn, convState;
    if (c.getConvKernelSize() > 0) {
      CausalConv1dOp conv = causalConv(
          lb, xn, p("xlstm.conv1d.conv.weight"), p("xlstm.conv1d.conv.bias"),
          state.initial("conv"), state.finalType("conv"));
      xc = lb.silu(conv.getResult());
      convState = conv.getFinalState();
    }
    auto headwise = [&](Value in, StringRef gate) -> Value {
      return HeadwiseLinearOp::create(rewriter, op.getLoc(), in.getType(), in,
                                      p(("xlstm." + gate + ".weight").str()),
                                      /*bias=*/Value());
    };
    // Upstream quirk (spec §b.5): `fgate` feeds the input gate, `igate` the
    // forget gate. z and o read the un-convolved input.
    Value wi = headwise(xc, "fgate");
    Value wf = headwise(xc, "igate");
    Value wz = headwise(xn, "zgate");
    Value wo = headwise(xn, "ogate");
    Value r = recurrentKernelToCanonical(
        lb, p("xlstm.slstm_cell._recurrent_kernel_"), c);
    Value bias = biasToCanonical(lb, p("xlstm.slstm_cell._bias_"), c);
    // Cell states are float32 (float64 for float64 models) unless the block
    // says otherwise through its state types.
    Type stateElt = residualElt.isF64() ? Type(rewriter.getF64Type())
                                        : Type(rewriter.getF32Type());
    if (Value h = state.initial("h"))
      stateElt = getElementTypeOrSelf(h.getType());
    else if (Type h = state.finalType("h"))
      stateElt = getElementTypeOrSelf(h);
    scf::ForOp loop =
        buildSLSTMStepLoop(lb, wi, wf, wz, wo, r, bias, nh, c.getFunction(),
                           state.initialFrom("h"), stateElt);
    // The group norm reads the hidden states in the residual stream's type.
    Value y = lb.castElements(loop.getResult(0), residualElt);
    Value yn = MultiHeadNormOp::create(
        rewriter, op.getLoc(), x.getType(), y, p("xlstm.group_norm.weight"),
        /*bias=*/Value(), nh, f64(kXLSTMNormEps), NormScaling::one_plus_weight);
    Value out = lb.add(x, yn);

    if (FeedForwardAttr ffn = c.getFeedforward()) {
      int64_t pd = ffn.getProjDim();
      Value fn = layerNorm(lb, out, p("ffn_norm.weight"), operandElt);
      // proj_up stacks [gate; up] along its output dimension.
      // (Operands are built one statement each so the IR order does not
      // depend on the compiler's argument evaluation order.)
      Value upW = p("ffn.proj_up.weight"), upB = p("ffn.proj_up.bias");
      Value gateW = lb.sliceRows(upW, 0, pd);
      Value valueW = lb.sliceRows(upW, pd, pd);
      Value gateB, valueB;
      if (upB) {
        gateB = lb.sliceRows(upB, 0, pd);
        valueB = lb.sliceRows(upB, pd, pd);
      }
      Value f = gatedFFN(lb, fn, gateW, valueW, p("ffn.proj_down.weight"),
                         gateB, valueB, p("ffn.proj_down.bias"), ffn.getAct(),
                         residualElt);
      out = lb.add(out, f);
    }
    SmallVector<Value> results = {out};
    if (state.wanted()) {
      if (convState)
        results.push_back(convState);
      llvm::append_range(results, loop.getResults().drop_front());
    }
    rewriter.replaceOp(op, results);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// xLSTM-7B block (spec xlstm-large-7b §2)
//===----------------------------------------------------------------------===//

struct ExpandLargeBlock : OpRewritePattern<LargeBlockOp> {
  ExpandLargeBlock(MLIRContext *context, bool cellF32)
      : OpRewritePattern(context), cellF32(cellF32) {}
  bool cellF32; ///< large-cell-f32

  LogicalResult matchAndRewrite(LargeBlockOp op,
                                PatternRewriter &rewriter) const override {
    LargeBlockAttr c = op.getConfig();
    LayerBuilder lb(rewriter, op.getLoc());
    Location loc = op.getLoc();
    auto p = [&](StringRef name) { return op.getParam(name); };
    int64_t nh = c.getNumHeads(), qk = c.getQkDim(), vd = c.getVDim();
    int64_t fd = c.getFfnDim();
    bool fused = c.getWeightMode() == WeightMode::fused;
    FloatAttr normEps = c.getNormEps();
    Value x = op.getInput();
    Type operandElt = operandType(op);
    Type residualElt = getElementTypeOrSelf(x.getType());
    // Norms read the residual stream and write the projections' operands.
    auto rmsNorm = [&](Value in, StringRef name) -> Value {
      return RMSNormOp::create(rewriter, loc, withElement(in, operandElt), in,
                               p((name + ".weight").str()),
                               p((name + ".bias").str()), normEps);
    };
    // Weight and bias of projection `name`, or rows [offset, offset + size)
    // of the fused projection `fusedName` when the checkpoint is fused.
    auto projection = [&](Value in, StringRef name, StringRef fusedName,
                          int64_t offset, int64_t size,
                          Type resultElt = {}) -> Value {
      if (!fused)
        return lb.linear(in, p((name + ".weight").str()),
                         p((name + ".bias").str()), resultElt);
      Value weight =
          lb.sliceRows(p((fusedName + ".weight").str()), offset, size);
      Value bias = p((fusedName + ".bias").str());
      if (bias)
        bias = lb.sliceRows(bias, offset, size);
      return lb.linear(in, weight, bias, resultElt);
    };
    auto softCap = [&](Value in) -> Value {
      return SoftCapOp::create(rewriter, loc, in.getType(), in,
                               c.getGateSoftCap());
    };

    Value xn = rmsNorm(x, "norm_mlstm");
    StringRef qkvo = "mlstm_layer.qkv_opreact",
              ifg = "mlstm_layer.ifgate_preact";
    // The cell's inputs stay float32 in narrow models too: its intra-chunk
    // denominators are sensitive to their rounding (bf16 q/k/v put the
    // large_mini golden logits 3.2e-2 off, over the 3e-2 bound; float32
    // 2.2e-2, on the H200).
    Type cellElt = cellF32 ? gateType(xn) : getElementTypeOrSelf(xn.getType());
    Value q = projection(xn, "mlstm_layer.q", qkvo, 0, qk, cellElt);
    Value k = projection(xn, "mlstm_layer.k", qkvo, qk, qk, cellElt);
    Value v = projection(xn, "mlstm_layer.v", qkvo, 2 * qk, vd, cellElt);
    // Gates in float32 (see the mLSTM block). The output gate too: its
    // pre-activation and sigmoid in bf16 added 3e-3 to the random 7B's bf16
    // logits error (3.2e-2, over the 3e-2 bound, on the H200); only the
    // gated product, out_proj's operand, is rounded.
    Type gateElt = gateType(xn);
    Value o = projection(xn, "mlstm_layer.ogate_preact", qkvo, 2 * qk + vd, vd,
                         gateElt);
    Value ig = softCap(
        projection(xn, "mlstm_layer.igate_preact", ifg, 0, nh, gateElt));
    Value fg = softCap(
        projection(xn, "mlstm_layer.fgate_preact", ifg, nh, nh, gateElt));

    Value qh = lb.splitHeads(q, nh), kh = lb.splitHeads(k, nh);
    Value vh = lb.splitHeads(v, nh);
    Value igh = lb.transpose(ig, {0, 2, 1}), fgh = lb.transpose(fg, {0, 2, 1});
    BlockState<LargeBlockOp> state(op);
    auto cell = MLSTMOp::create(
        rewriter, loc, vh.getType(), state.finalTypesFrom("C"), qh, kh, vh, igh,
        fgh, state.initialFrom("C"), QKScaling::query, c.getEps().getValue());
    Value h = lb.mergeHeads(cell.getH());
    Value hn = MultiHeadNormOp::create(rewriter, loc, h.getType(), h,
                                       p("mlstm_layer.multihead_norm.weight"),
                                       p("mlstm_layer.multihead_norm.bias"), nh,
                                       normEps.getValue(), NormScaling::weight);
    Value gated = lb.castElements(
        lb.elementwise({o, hn},
                       [](OpBuilder &b, Location l, ValueRange a) -> Value {
                         // (A 16-bit cell output, large-cell-f32 off, meets
                         // the float32 gate in float32.)
                         Value h = a[1];
                         if (h.getType() != a[0].getType())
                           h = arith::ExtFOp::create(b, l, a[0].getType(), h);
                         return arith::MulFOp::create(
                             b, l, LayerBuilder::scalarSigmoid(b, l, a[0]), h);
                       }),
        operandElt);
    Value x1 = lb.add(x, lb.linear(gated, p("mlstm_layer.out_proj.weight"),
                                   p("mlstm_layer.out_proj.bias"), residualElt));

    Value xf = rmsNorm(x1, "norm_ffn");
    Value gateW, upW, gateB, upB;
    if (fused) {
      Value w = p("ffn.proj_up_gate_z.weight"),
            bz = p("ffn.proj_up_gate_z.bias");
      gateW = lb.sliceRows(w, 0, fd);
      upW = lb.sliceRows(w, fd, fd);
      if (bz) {
        gateB = lb.sliceRows(bz, 0, fd);
        upB = lb.sliceRows(bz, fd, fd);
      }
    } else {
      gateW = p("ffn.proj_up_gate.weight");
      upW = p("ffn.proj_up.weight");
      gateB = p("ffn.proj_up_gate.bias");
      upB = p("ffn.proj_up.bias");
    }
    Value f = gatedFFN(lb, xf, gateW, upW, p("ffn.proj_down.weight"), gateB,
                       upB, p("ffn.proj_down.bias"), Activation::swish,
                       residualElt);
    SmallVector<Value> results = {lb.add(x1, f)};
    llvm::append_range(results, cell.getFinalState());
    rewriter.replaceOp(op, results);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// LM head
//===----------------------------------------------------------------------===//

struct ExpandLMHead : OpRewritePattern<LMHeadOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(LMHeadOp op,
                                PatternRewriter &rewriter) const override {
    LayerBuilder lb(rewriter, op.getLoc());
    // A residual stream wider than the weights (no final norm to narrow it)
    // is rounded to the weights' type: the projection takes one operand
    // type. The products accumulate in float32 into the result's type.
    Value input = lb.castElements(
        op.getInput(), getElementTypeOrSelf(op.getWeight().getType()));
    Value logits =
        lb.linear(input, op.getWeight(), /*bias=*/Value(),
                  getElementTypeOrSelf(op.getResult().getType()));
    if (std::optional<APFloat> cap = op.getSoftCap())
      logits =
          SoftCapOp::create(rewriter, op.getLoc(), logits.getType(), logits,
                            rewriter.getF64FloatAttr(cap->convertToDouble()));
    rewriter.replaceOp(op, logits);
    return success();
  }
};

struct XLSTMExpandBlocksPass
    : xlstm::impl::XLSTMExpandBlocksPassBase<XLSTMExpandBlocksPass> {
  using Base::Base;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<ExpandSLSTMBlock, ExpandLMHead>(&getContext());
    patterns.add<ExpandMLSTMBlock>(&getContext(), gateParts, gateBiasFirst);
    patterns.add<ExpandLargeBlock>(&getContext(), largeCellF32);
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};

} // namespace
