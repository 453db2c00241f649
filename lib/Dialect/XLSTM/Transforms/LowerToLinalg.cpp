//===- LowerToLinalg.cpp - xlstm primitives to upstream tensor IR ---------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Rewrites every xlstm op that survives tiling and fusion into linalg,
// tensor, scf, arith and math on tensors, so that the rest of the GPU path
// (bufferization, loop mapping, outlining) is upstream's. Math runs in
// float32 (float64 stays float64) whatever the storage type, and narrow
// contractions accumulate in float32, like tensor cores do. Sequential
// parts (the chunk-state scan, the sLSTM time steps) become scf.for loops
// whose bodies are parallel linalg ops; the chunk outputs, independent
// across chunks, become a loop too, one chunk of work per iteration.
//
//===----------------------------------------------------------------------===//

#include "LayerBuilder.h"

#include "xlstm/Dialect/XLSTM/IR/XLSTM.h"
#include "xlstm/Dialect/XLSTM/Transforms/CellMath.h"
#include "xlstm/Dialect/XLSTM/Transforms/Headwise.h"
#include "xlstm/Dialect/XLSTM/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

#include <cmath>

namespace xlstm {
#define GEN_PASS_DEF_XLSTMLOWERTOLINALGPASS
#include "xlstm/Dialect/XLSTM/Transforms/Passes.h.inc"
} // namespace xlstm

using namespace mlir;
using namespace xlstm;

namespace {

using utils::IteratorType;
constexpr IteratorType kPar = IteratorType::parallel;
constexpr IteratorType kRed = IteratorType::reduction;

RankedTensorType tensorType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

/// In a body over (b, h, l, j): `value` where j <= l, else `otherwise`.
Value causalOr(OpBuilder &b, Location loc, Value value, double otherwise) {
  Value causal = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle,
                                       linalg::IndexOp::create(b, loc, 3),
                                       linalg::IndexOp::create(b, loc, 2));
  return arith::SelectOp::create(
      b, loc, causal, value,
      LayerBuilder::scalarConstant(b, loc, value.getType(), otherwise));
}

/// Emits the decompositions. Shapes are mixed static/dynamic
/// (OpFoldResult); bodies get their inputs already in the compute type.
class Lowering {
public:
  using BodyFn =
      function_ref<SmallVector<Value>(OpBuilder &, Location, ValueRange)>;

  Lowering(OpBuilder &b, Location loc, Type storage)
      : b(b), loc(loc), ctx(b.getContext()) {
    compute = storage.isF64() ? Type(b.getF64Type()) : Type(b.getF32Type());
  }

  Type computeType() const { return compute; }

  SmallVector<OpFoldResult> sizes(Value x) {
    return tensor::getMixedSizes(b, loc, x);
  }
  OpFoldResult size(Value x, int64_t d) { return sizes(x)[d]; }

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value value(OpFoldResult ofr) {
    return getValueOrCreateConstantIndexOp(b, loc, ofr);
  }
  Value constant(double v, Type type = {}) {
    return LayerBuilder::scalarConstant(b, loc, type ? type : compute, v);
  }

  Value empty(ArrayRef<OpFoldResult> shape, Type elt) {
    return tensor::EmptyOp::create(b, loc, shape, elt);
  }
  Value filled(ArrayRef<OpFoldResult> shape, double v, Type elt = {}) {
    elt = elt ? elt : compute;
    return linalg::FillOp::create(b, loc, constant(v, elt), empty(shape, elt))
        .getResult(0);
  }

  /// Extends or truncates a scalar to `to`.
  static Value convert(OpBuilder &nb, Location nloc, Value v, Type to) {
    Type from = v.getType();
    if (from == to)
      return v;
    unsigned fw = from.getIntOrFloatBitWidth(), tw = to.getIntOrFloatBitWidth();
    if (fw == tw) // bf16 <-> f16
      return convert(nb, nloc, convert(nb, nloc, v, nb.getF32Type()), to);
    if (tw > fw)
      return arith::ExtFOp::create(nb, nloc, to, v);
    return arith::TruncFOp::create(nb, nloc, to, v);
  }

  AffineMap mapExprs(unsigned numLoops, ArrayRef<AffineExpr> exprs) {
    return AffineMap::get(numLoops, 0, exprs, ctx);
  }
  AffineMap map(unsigned numLoops, ArrayRef<int64_t> loops) {
    SmallVector<AffineExpr> exprs;
    for (int64_t l : loops)
      exprs.push_back(getAffineDimExpr(l, ctx));
    return mapExprs(numLoops, exprs);
  }
  AffineExpr dim(unsigned d) { return getAffineDimExpr(d, ctx); }

  /// A linalg.generic; `body` receives the inputs converted to the compute
  /// type (then the current output values) and returns one value per
  /// output, converted here to the outputs' element types.
  SmallVector<Value> generic(ValueRange inputs, ArrayRef<AffineMap> inputMaps,
                             ValueRange inits, ArrayRef<AffineMap> initMaps,
                             ArrayRef<IteratorType> iterators, BodyFn body) {
    SmallVector<AffineMap> maps(inputMaps);
    llvm::append_range(maps, initMaps);
    SmallVector<Type> types;
    for (Value init : inits)
      types.push_back(init.getType());
    Type cType = compute;
    auto op = linalg::GenericOp::create(
        b, loc, types, inputs, inits, maps, iterators,
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          SmallVector<Value> converted;
          for (Value a : args)
            converted.push_back(
                isa<FloatType>(a.getType()) ? convert(nb, nloc, a, cType) : a);
          SmallVector<Value> results = body(nb, nloc, converted);
          for (auto [r, init] : llvm::zip(results, inits))
            r = convert(
                nb, nloc, r,
                cast<RankedTensorType>(init.getType()).getElementType());
          linalg::YieldOp::create(nb, nloc, results);
        });
    return op.getResults();
  }
  Value generic1(ValueRange inputs, ArrayRef<AffineMap> inputMaps, Value init,
                 AffineMap initMap, ArrayRef<IteratorType> iterators,
                 function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
    return generic(inputs, inputMaps, init, initMap, iterators,
                   [&](OpBuilder &nb, Location nloc, ValueRange a) {
                     return SmallVector<Value>{body(nb, nloc, a)};
                   })
        .front();
  }

  /// Elementwise over the loops of `shape` (rank r); each input comes with
  /// the loop dims it is indexed by.
  Value pointwise(ArrayRef<OpFoldResult> shape, Type elt,
                  ArrayRef<std::pair<Value, SmallVector<int64_t>>> inputs,
                  function_ref<Value(OpBuilder &, Location, ValueRange)> fn) {
    unsigned r = shape.size();
    SmallVector<Value> ins;
    SmallVector<AffineMap> maps;
    for (auto &[v, loops] : inputs) {
      ins.push_back(v);
      maps.push_back(map(r, loops));
    }
    SmallVector<IteratorType> iters(r, kPar);
    return generic1(ins, maps, empty(shape, elt),
                    AffineMap::getMultiDimIdentityMap(r, ctx), iters,
                    [&](OpBuilder &nb, Location nloc, ValueRange a) {
                      return fn(nb, nloc, a.drop_back());
                    });
  }

  static SmallVector<int64_t> iota(int64_t n, int64_t from = 0) {
    SmallVector<int64_t> v;
    for (int64_t i = 0; i < n; ++i)
      v.push_back(from + i);
    return v;
  }

  /// Sum over the last dimension of fn(x) (and of the lead-broadcast
  /// `extra` inputs), starting from 0: shape x.shape[:-1].
  Value reduceLast(
      Value x, ValueRange extra, bool max,
      function_ref<Value(OpBuilder &, Location, ValueRange)> fn = nullptr) {
    int64_t r = tensorType(x).getRank();
    SmallVector<OpFoldResult> lead = sizes(x);
    lead.pop_back();
    Value init = filled(lead, max ? -INFINITY : 0.0);
    SmallVector<Value> ins = {x};
    SmallVector<AffineMap> maps = {map(r, iota(r))};
    for (Value e : extra) {
      ins.push_back(e);
      maps.push_back(map(r, iota(r - 1)));
    }
    SmallVector<IteratorType> iters(r - 1, kPar);
    iters.push_back(kRed);
    return generic1(ins, maps, init, map(r, iota(r - 1)), iters,
                    [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
                      Value v = fn ? fn(nb, nloc, a.drop_back()) : a.front();
                      if (max)
                        return arith::MaximumFOp::create(nb, nloc, a.back(), v);
                      return arith::AddFOp::create(nb, nloc, a.back(), v);
                    });
  }

  /// (x - mean) / sqrt(var + eps) over the last dim, or x / rms for
  /// `rms`; in the compute type.
  Value normalizeLast(Value x, double eps, bool rms) {
    auto type = tensorType(x);
    int64_t r = type.getRank(), width = type.getShape().back();
    double invWidth = 1.0 / static_cast<double>(width);
    Value mean;
    if (!rms) {
      Value sum = reduceLast(x, {}, /*max=*/false);
      mean = pointwise(
          sizes(sum), compute, {{sum, iota(r - 1)}},
          [&](OpBuilder &nb, Location nloc, ValueRange a) {
            return arith::MulFOp::create(
                nb, nloc, a[0],
                LayerBuilder::scalarConstant(nb, nloc, compute, invWidth));
          });
    }
    SmallVector<Value> extra;
    if (mean)
      extra.push_back(mean);
    Value sq = reduceLast(
        x, extra, false, [&](OpBuilder &nb, Location nloc, ValueRange a) {
          Value d = a[0];
          if (a.size() > 1)
            d = arith::SubFOp::create(nb, nloc, d, a[1]);
          return arith::MulFOp::create(nb, nloc, d, d).getResult();
        });
    SmallVector<std::pair<Value, SmallVector<int64_t>>> ins = {
        {x, iota(r)}, {sq, iota(r - 1)}};
    if (mean)
      ins.push_back({mean, iota(r - 1)});
    return pointwise(sizes(x), compute, ins,
                     [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
                       Type t = a[0].getType();
                       Value var = arith::MulFOp::create(
                           nb, nloc, a[1],
                           LayerBuilder::scalarConstant(nb, nloc, t, invWidth));
                       Value inv = math::RsqrtOp::create(
                           nb, nloc,
                           arith::AddFOp::create(
                               nb, nloc, var,
                               LayerBuilder::scalarConstant(nb, nloc, t, eps)));
                       Value d = a[0];
                       if (a.size() > 2)
                         d = arith::SubFOp::create(nb, nloc, d, a[2]);
                       return arith::MulFOp::create(nb, nloc, d, inv);
                     });
  }

  /// x * s + bias per channel (last dim) into `elt`; s = w, 1 + w or 1.
  Value scaleShift(Value x, Value weight, Value bias, bool onePlus, Type elt,
                   bool roundFirst = false) {
    int64_t r = tensorType(x).getRank();
    SmallVector<std::pair<Value, SmallVector<int64_t>>> ins = {{x, iota(r)}};
    if (weight)
      ins.push_back({weight, {r - 1}});
    if (bias)
      ins.push_back({bias, {r - 1}});
    return pointwise(
        sizes(x), elt, ins,
        [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
          Value y = a[0];
          if (roundFirst) // RMSNorm: normalised value in the storage type
            y = convert(nb, nloc, convert(nb, nloc, y, elt), y.getType());
          unsigned next = 1;
          if (weight) {
            Value s = a[next++];
            if (onePlus)
              s = arith::AddFOp::create(
                  nb, nloc, s,
                  LayerBuilder::scalarConstant(nb, nloc, s.getType(), 1.0));
            y = arith::MulFOp::create(nb, nloc, y, s);
          }
          if (bias)
            y = arith::AddFOp::create(nb, nloc, y, a[next]);
          return y;
        });
  }

  Value logSigmoid(OpBuilder &nb, Location nloc, Value x) {
    return cellmath::logSigmoid(nb, nloc, x);
  }

  /// In-chunk cumulative log forget gates b_l = sum_{j<=l} logsigmoid(f_j)
  /// of `f` (B, NH, L).
  Value cumulativeLogForget(Value f) {
    SmallVector<OpFoldResult> shape = sizes(f);
    // Loops (b, h, l, j), reduction over j with the causal mask j <= l.
    return generic1({f}, {map(4, {0, 1, 3})}, filled(shape, 0.0),
                    map(4, {0, 1, 2}), {kPar, kPar, kPar, kRed},
                    [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
                      Value term =
                          causalOr(nb, nloc, logSigmoid(nb, nloc, a[0]), 0.0);
                      return arith::AddFOp::create(nb, nloc, a[1], term);
                    });
  }

  /// x[:, :, t0 : t0 + len, ...] for (B, NH, S[, D]) tensors.
  Value chunk(Value x, Value t0, Value len) {
    SmallVector<OpFoldResult> offsets(tensorType(x).getRank(),
                                      b.getIndexAttr(0));
    SmallVector<OpFoldResult> shape = sizes(x);
    SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
    offsets[2] = t0;
    shape[2] = len;
    return tensor::ExtractSliceOp::create(b, loc, x, offsets, shape, strides);
  }

  /// The slice of `x` at index `i` of dimension `d`, with that dim dropped.
  Value sliceAt(Value x, int64_t d, OpFoldResult i) {
    auto type = tensorType(x);
    SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
    SmallVector<OpFoldResult> shape = sizes(x);
    SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
    offsets[d] = i;
    shape[d] = b.getIndexAttr(1);
    SmallVector<int64_t> dropped(type.getShape());
    dropped.erase(dropped.begin() + d);
    auto resultType = RankedTensorType::get(dropped, type.getElementType());
    return tensor::ExtractSliceOp::create(b, loc, resultType, x, offsets, shape,
                                          strides);
  }
  /// Inserts `slice` (dim `d` dropped) into `dest` at index `i` of dim d.
  Value insertAt(Value slice, Value dest, int64_t d, OpFoldResult i) {
    SmallVector<OpFoldResult> offsets(tensorType(dest).getRank(),
                                      b.getIndexAttr(0));
    SmallVector<OpFoldResult> shape = sizes(dest);
    SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
    offsets[d] = i;
    shape[d] = b.getIndexAttr(1);
    return tensor::InsertSliceOp::create(b, loc, slice, dest, offsets, shape,
                                         strides);
  }

  OpBuilder &b;
  Location loc;
  MLIRContext *ctx;
  Type compute;
};

Type elementType(Value v) { return tensorType(v).getElementType(); }

/// The lowerings bake feature, head and kernel widths into the IR; the
/// verifiers allow them dynamic, the frontend never makes them so.
bool staticDim(Value v, int64_t d) {
  auto type = tensorType(v);
  return !ShapedType::isDynamic(
      type.getDimSize(d < 0 ? type.getRank() + d : d));
}

//===----------------------------------------------------------------------===//
// Row-wise primitives
//===----------------------------------------------------------------------===//

/// `acc + a * b`, the body of every contraction here.
Value multiplyAdd(OpBuilder &nb, Location nloc, ValueRange a) {
  return arith::AddFOp::create(nb, nloc, a[2],
                               arith::MulFOp::create(nb, nloc, a[0], a[1]));
}

/// The reassociation of `[..., parts * width] <-> [..., parts, width]` for a
/// rank-`rank` tensor.
SmallVector<ReassociationIndices> splitLastGroups(int64_t rank) {
  SmallVector<ReassociationIndices> groups;
  for (int64_t d = 0; d < rank - 1; ++d)
    groups.push_back({d});
  groups.push_back({rank - 1, rank});
  return groups;
}

/// `x` with its last dim split into `parts` blocks of `width`.
Value splitLast(LayerBuilder &lb, Value x, int64_t parts, int64_t width) {
  int64_t r = tensorType(x).getRank();
  SmallVector<int64_t> split(r + 1, 0);
  split[r - 1] = parts;
  split[r] = width;
  return lb.expand(x, splitLastGroups(r), split);
}

LogicalResult lowerSoftCap(SoftCapOp op, PatternRewriter &rewriter) {
  Lowering l(rewriter, op.getLoc(), elementType(op.getInput()));
  double cap = op.getCap().convertToDouble();
  int64_t r = tensorType(op.getInput()).getRank();
  Value y =
      l.pointwise(l.sizes(op.getInput()), elementType(op.getResult()),
                  {{op.getInput(), Lowering::iota(r)}},
                  [&](OpBuilder &nb, Location nloc, ValueRange a) {
                    Type t = a[0].getType();
                    Value c = LayerBuilder::scalarConstant(nb, nloc, t, cap);
                    Value th = math::TanhOp::create(
                        nb, nloc, arith::DivFOp::create(nb, nloc, a[0], c));
                    return arith::MulFOp::create(nb, nloc, c, th).getResult();
                  });
  rewriter.replaceOp(op, y);
  return success();
}

LogicalResult lowerLayerNorm(LayerNormOp op, PatternRewriter &rewriter) {
  if (!staticDim(op.getInput(), -1))
    return failure();
  Lowering l(rewriter, op.getLoc(), elementType(op.getInput()));
  Value n = l.normalizeLast(op.getInput(), op.getEps().convertToDouble(),
                            /*rms=*/false);
  rewriter.replaceOp(
      op, l.scaleShift(n, op.getWeight(), op.getBias(),
                       op.getScaling() == NormScaling::one_plus_weight,
                       elementType(op.getResult())));
  return success();
}

LogicalResult lowerMultiHeadNorm(MultiHeadNormOp op,
                                 PatternRewriter &rewriter) {
  if (!staticDim(op.getInput(), -1))
    return failure();
  Lowering l(rewriter, op.getLoc(), elementType(op.getInput()));
  LayerBuilder lb(rewriter, op.getLoc());
  auto type = tensorType(op.getInput());
  int64_t nh = op.getNumHeads();
  Value perHead = splitLast(lb, op.getInput(), nh, type.getShape().back() / nh);
  Value n = l.normalizeLast(perHead, op.getEps().convertToDouble(), false);
  Value merged = lb.collapse(n, splitLastGroups(type.getRank()));
  rewriter.replaceOp(
      op, l.scaleShift(merged, op.getWeight(), op.getBias(),
                       op.getScaling() == NormScaling::one_plus_weight,
                       elementType(op.getResult())));
  return success();
}

LogicalResult lowerRMSNorm(RMSNormOp op, PatternRewriter &rewriter) {
  if (!staticDim(op.getInput(), -1))
    return failure();
  Lowering l(rewriter, op.getLoc(), elementType(op.getInput()));
  Value n = l.normalizeLast(op.getInput(), op.getEps().convertToDouble(),
                            /*rms=*/true);
  rewriter.replaceOp(op, l.scaleShift(n, op.getWeight(), op.getBias(), false,
                                      elementType(op.getResult()),
                                      /*roundFirst=*/true));
  return success();
}

LogicalResult lowerHeadwise(HeadwiseLinearOp op, PatternRewriter &rewriter) {
  Lowering l(rewriter, op.getLoc(), elementType(op.getInput()));
  LayerBuilder lb(rewriter, op.getLoc());
  auto wType = tensorType(op.getWeight());
  int64_t nb = wType.getDimSize(0), out = wType.getDimSize(1),
          in = wType.getDimSize(2);
  int64_t r = tensorType(op.getInput()).getRank();
  Value xe = splitLast(lb, op.getInput(), nb, in);
  // Loops: lead (r - 1), h, o, i.
  int64_t loops = r + 2, h = r - 1, o = r, i = r + 1;
  SmallVector<int64_t> xLoops = Lowering::iota(r - 1),
                       outLoops = Lowering::iota(r - 1);
  xLoops.append({h, i});
  outLoops.append({h, o});
  SmallVector<OpFoldResult> shape = l.sizes(xe);
  shape.back() = rewriter.getIndexAttr(out);
  SmallVector<AffineMap> maps = {l.map(loops, xLoops), l.map(loops, {h, o, i}),
                                 l.map(loops, outLoops)};
  Value acc;
  if (headwiseAsProjections(nb, out, in)) {
    // Blocks the size of tensor-core tiles (the sLSTM's gate projections):
    // one contraction of x (lead..., nb, in) with W (nb, out, in), which
    // xlstm-contract-to-mma runs as one tensor-core launch over the blocks,
    // accumulating in the compute type.
    Value init = l.filled(shape, 0.0, l.computeType());
    acc = linalg::ContractOp::create(rewriter, op.getLoc(),
                                     TypeRange{init.getType()},
                                     ValueRange{xe, op.getWeight()},
                                     ValueRange{init},
                                     rewriter.getAffineMapArrayAttr(maps))
              .getResult(0);
  } else {
    SmallVector<IteratorType> iters(r + 1, kPar);
    iters.push_back(kRed);
    acc = l.generic1({xe, op.getWeight()}, {maps[0], maps[1]},
                     l.filled(shape, 0.0), maps[2], iters, multiplyAdd);
  }
  Value merged = lb.collapse(acc, splitLastGroups(r));
  rewriter.replaceOp(op, l.scaleShift(merged, nullptr, op.getBias(), false,
                                      elementType(op.getResult())));
  return success();
}

LogicalResult lowerCausalConv(CausalConv1dOp op, PatternRewriter &rewriter) {
  Location loc = op.getLoc();
  Value x = op.getInput();
  if (!staticDim(op.getWeight(), 1) ||
      (op.getInitialState() &&
       elementType(op.getInitialState()) != elementType(x)))
    return failure();
  Lowering l(rewriter, loc, elementType(x));
  auto wType = tensorType(op.getWeight());
  int64_t width = wType.getDimSize(1);
  Type elt = elementType(x);
  SmallVector<OpFoldResult> xs = l.sizes(x);
  // Padded input: the K - 1 earlier inputs (the state, or zeros), then x.
  SmallVector<OpFoldResult> padded = xs;
  padded[1] = rewriter.getIndexAttr(width - 1);
  Value history = op.getInitialState();
  if (!history)
    history = l.filled(padded, 0.0, elt);
  Value seq = l.value(xs[1]);
  padded[1] =
      arith::AddIOp::create(rewriter, loc, seq, l.index(width - 1)).getResult();
  Value xpad = l.empty(padded, elt);
  SmallVector<OpFoldResult> zero(3, rewriter.getIndexAttr(0)),
      one(3, rewriter.getIndexAttr(1));
  SmallVector<OpFoldResult> historySizes = l.sizes(history);
  xpad = tensor::InsertSliceOp::create(rewriter, loc, history, xpad, zero,
                                       historySizes, one);
  SmallVector<OpFoldResult> at = zero;
  at[1] = rewriter.getIndexAttr(width - 1);
  xpad = tensor::InsertSliceOp::create(rewriter, loc, x, xpad, at, xs, one);
  // y[b, t, d] = bias[d] + sum_k w[d, k] xpad[b, t + k, d].
  Value init = l.filled(xs, 0.0);
  if (Value bias = op.getBias())
    init =
        l.pointwise(xs, l.computeType(), {{bias, {2}}},
                    [](OpBuilder &, Location, ValueRange a) { return a[0]; });
  AffineMap padMap = l.mapExprs(4, {l.dim(0), l.dim(1) + l.dim(3), l.dim(2)});
  Value acc =
      l.generic1({xpad, op.getWeight()}, {padMap, l.map(4, {2, 3})}, init,
                 l.map(4, {0, 1, 2}), {kPar, kPar, kPar, kRed}, multiplyAdd);
  SmallVector<Value> results = {
      l.scaleShift(acc, nullptr, nullptr, false, elementType(op.getResult()))};
  if (op.getFinalState()) {
    // The state after the last position: the last K - 1 padded inputs.
    SmallVector<OpFoldResult> offsets = zero;
    offsets[1] = seq;
    Value last = tensor::ExtractSliceOp::create(rewriter, loc, xpad, offsets,
                                                historySizes, one);
    results.push_back(l.scaleShift(last, nullptr, nullptr, false,
                                   elementType(op.getFinalState())));
  }
  rewriter.replaceOp(op, results);
  return success();
}

Value activation(OpBuilder &b, Location loc, Activation act, Value x) {
  Type t = x.getType();
  auto c = [&](double v) { return LayerBuilder::scalarConstant(b, loc, t, v); };
  switch (act) {
  case Activation::gelu: {
    // Exact GELU: x/2 (1 + erf(x / sqrt 2)).
    Value e = math::ErfOp::create(
        b, loc, arith::MulFOp::create(b, loc, x, c(M_SQRT1_2)));
    Value onePlus = arith::AddFOp::create(b, loc, c(1.0), e);
    return arith::MulFOp::create(
        b, loc, arith::MulFOp::create(b, loc, c(0.5), x), onePlus);
  }
  case Activation::relu:
    return arith::MaximumFOp::create(b, loc, x, c(0.0));
  case Activation::relu_squared: {
    Value r = arith::MaximumFOp::create(b, loc, x, c(0.0));
    return arith::MulFOp::create(b, loc, r, r);
  }
  case Activation::sigmoid:
    return LayerBuilder::scalarSigmoid(b, loc, x);
  case Activation::swish:
    return arith::MulFOp::create(b, loc, x,
                                 LayerBuilder::scalarSigmoid(b, loc, x));
  case Activation::selu: {
    Value neg =
        arith::MulFOp::create(b, loc, c(1.6732632423543772848170429916717),
                              math::ExpM1Op::create(b, loc, x));
    Value pos =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x, c(0.0));
    return arith::MulFOp::create(b, loc, c(1.0507009873554804934193349852946),
                                 arith::SelectOp::create(b, loc, pos, x, neg));
  }
  }
  llvm_unreachable("unknown activation");
}

/// The tensor whose rows [0, N) and [N, 2N) are `first` and `second`, when
/// both are such static slices of one tensor; null otherwise.
static Value stackedRows(Value first, Value second) {
  auto a = first ? first.getDefiningOp<tensor::ExtractSliceOp>() : nullptr;
  auto b = second ? second.getDefiningOp<tensor::ExtractSliceOp>() : nullptr;
  if (!a || !b || a.getSource() != b.getSource() ||
      !a.getSourceType().hasStaticShape() ||
      a.getResultType() != b.getResultType() ||
      !a.hasUnitStride() || !b.hasUnitStride())
    return {};
  ArrayRef<int64_t> source = a.getSourceType().getShape();
  ArrayRef<int64_t> rows = a.getResultType().getShape();
  int64_t n = rows[0];
  if (ShapedType::isDynamic(n) || source[0] != 2 * n ||
      rows.drop_front() != source.drop_front())
    return {};
  SmallVector<int64_t> offsetA(a.getStaticOffsets()),
      offsetB(b.getStaticOffsets());
  SmallVector<int64_t> zeros(source.size(), 0), secondHalf(zeros);
  secondHalf[0] = n;
  if (offsetA != zeros || offsetB != secondHalf)
    return {};
  return a.getSource();
}

LogicalResult lowerGatedFFN(GatedFFNOp op, PatternRewriter &rewriter) {
  Value x = op.getInput();
  Lowering l(rewriter, op.getLoc(), elementType(x));
  LayerBuilder lb(rewriter, op.getLoc());
  Type compute = l.computeType();
  // Projections as linalg.contract accumulating in the compute type (what
  // xlstm-contract-to-mma puts on tensor cores). Gate and up weights that
  // are the two row halves of one parameter (upstream's proj_up) make one
  // projection: one kernel, and contiguous weights instead of two strided
  // row slices.
  Value gate, up;
  Value weights = stackedRows(op.getGateWeight(), op.getUpWeight());
  Value biases = op.getGateBias()
                     ? stackedRows(op.getGateBias(), op.getUpBias())
                     : Value();
  if (weights && (biases || (!op.getGateBias() && !op.getUpBias()))) {
    int64_t n = tensorType(op.getGateWeight()).getDimSize(0);
    Value both = lb.linear(x, weights, biases, compute);
    gate = lb.sliceLastDim(both, 0, n);
    up = lb.sliceLastDim(both, n, n);
  } else {
    gate = lb.linear(x, op.getGateWeight(), op.getGateBias(), compute);
    up = lb.linear(x, op.getUpWeight(), op.getUpBias(), compute);
  }
  int64_t r = tensorType(x).getRank();
  Activation act = op.getAct();
  Value hidden =
      l.pointwise(l.sizes(gate), elementType(x),
                  {{gate, Lowering::iota(r)}, {up, Lowering::iota(r)}},
                  [&](OpBuilder &nb, Location nloc, ValueRange a) {
                    return arith::MulFOp::create(
                               nb, nloc, activation(nb, nloc, act, a[0]), a[1])
                        .getResult();
                  });
  Value down = lb.linear(hidden, op.getDownWeight(), op.getDownBias(), compute);
  rewriter.replaceOp(op, lb.castElements(down, elementType(op.getResult())));
  return success();
}

LogicalResult lowerEmbedding(EmbeddingOp op, PatternRewriter &rewriter) {
  Value tokens = op.getTokens(), table = op.getTable();
  Lowering l(rewriter, op.getLoc(), elementType(table));
  SmallVector<OpFoldResult> shape = l.sizes(tokens);
  shape.push_back(l.size(table, 1));
  // The runtime checks tokens against the vocabulary before any launch.
  Value y = l.generic1(
      {tokens}, {l.map(3, {0, 1})}, l.empty(shape, elementType(op.getResult())),
      l.map(3, {0, 1, 2}), {kPar, kPar, kPar},
      [&](OpBuilder &nb, Location nloc, ValueRange a) -> Value {
        Value row =
            arith::IndexCastOp::create(nb, nloc, nb.getIndexType(), a[0]);
        Value col = linalg::IndexOp::create(nb, nloc, 2);
        Value v =
            tensor::ExtractOp::create(nb, nloc, table, ValueRange{row, col});
        return Lowering::convert(nb, nloc, v, l.computeType());
      });
  rewriter.replaceOp(op, y);
  return success();
}

//===----------------------------------------------------------------------===//
// Chunkwise mLSTM
//===----------------------------------------------------------------------===//

/// Scale of keys and queries for a qk_scaling.
LogicalResult lowerChunkStates(MLSTMChunkStatesOp op,
                               PatternRewriter &rewriter) {
  Location loc = op.getLoc();
  Value k = op.getK(), v = op.getV(), igate = op.getIgate(),
        fgate = op.getFgate();
  if (!staticDim(k, 3))
    return failure();
  Lowering l(rewriter, loc, elementType(k));
  Type stateElt = elementType(op.getFinalC());
  double kScale =
      cellmath::qkScales(op.getQkScaling(), tensorType(k).getDimSize(3)).second;
  int64_t chunkSize = op.getChunkSize();
  SmallVector<OpFoldResult> kShape = l.sizes(k), vShape = l.sizes(v);
  Value seq = l.value(kShape[2]);
  Value numChunks =
      arith::CeilDivSIOp::create(rewriter, loc, seq, l.index(chunkSize));
  SmallVector<OpFoldResult> cShape = {kShape[0], kShape[1], kShape[3],
                                      vShape[3]};
  SmallVector<OpFoldResult> nShape = {kShape[0], kShape[1], kShape[3]};
  SmallVector<OpFoldResult> mShape = {kShape[0], kShape[1]};
  SmallVector<Value> inits;
  if (!op.getInitialState().empty()) {
    llvm::append_range(inits, op.getInitialState());
  } else {
    inits = {l.filled(cShape, 0.0, stateElt), l.filled(nShape, 0.0, stateElt),
             l.filled(mShape, 0.0, stateElt)};
  }
  // The entering states may be stored narrower than the carried ones
  // (xlstm-tile-mlstm-chunkwise's narrow-entering-states).
  auto withChunks = [&](SmallVector<OpFoldResult> shape, Value result) {
    shape.insert(shape.begin() + 2, numChunks);
    return l.empty(shape, elementType(result));
  };
  inits.append({withChunks(cShape, op.getChunkC()),
                withChunks(nShape, op.getChunkN()),
                withChunks(mShape, op.getChunkM())});

  auto loop = scf::ForOp::create(
      rewriter, loc, l.index(0), numChunks, l.index(1), inits,
      [&](OpBuilder &nb, Location nloc, Value chunkIndex, ValueRange iter) {
        Lowering in(nb, nloc, elementType(k));
        Value c = iter[0], n = iter[1], m = iter[2];
        // Record the state entering this chunk, in the type it is stored in.
        auto entering = [&](Value state, Value into) {
          Type elt = elementType(into);
          if (elementType(state) != elt) {
            int64_t r = tensorType(state).getRank();
            state = in.pointwise(
                in.sizes(state), elt, {{state, Lowering::iota(r)}},
                [](OpBuilder &, Location, ValueRange x) { return x[0]; });
          }
          return in.insertAt(state, into, 2, chunkIndex);
        };
        Value chunkC = entering(c, iter[3]);
        Value chunkN = entering(n, iter[4]);
        Value chunkM = entering(m, iter[5]);
        Value t0 =
            arith::MulIOp::create(nb, nloc, chunkIndex, in.index(chunkSize));
        Value len = arith::MinSIOp::create(
            nb, nloc, arith::SubIOp::create(nb, nloc, seq, t0),
            in.index(chunkSize));
        Value kc = in.chunk(k, t0, len), vc = in.chunk(v, t0, len);
        Value ic = in.chunk(igate, t0, len), fc = in.chunk(fgate, t0, len);
        Value cum = in.cumulativeLogForget(fc);
        // g: the chunk's total log forget; a_l = g - b_l + i_l.
        Value g = in.sliceAt(
            cum, 2,
            arith::SubIOp::create(nb, nloc, len, in.index(1)).getResult());
        SmallVector<OpFoldResult> lShape = in.sizes(cum);
        Value a = in.pointwise(
            lShape, in.computeType(),
            {{g, {0, 1}}, {cum, {0, 1, 2}}, {ic, {0, 1, 2}}},
            [](OpBuilder &bb, Location bl, ValueRange x) -> Value {
              return arith::AddFOp::create(
                  bb, bl, arith::SubFOp::create(bb, bl, x[0], x[1]), x[2]);
            });
        Value aMax = in.reduceLast(a, {}, /*max=*/true);
        SmallVector<OpFoldResult> ms = in.sizes(m);
        Value mNew = in.pointwise(
            ms, stateElt, {{g, {0, 1}}, {m, {0, 1}}, {aMax, {0, 1}}},
            [](OpBuilder &bb, Location bl, ValueRange x) -> Value {
              return arith::MaximumFOp::create(
                  bb, bl, arith::AddFOp::create(bb, bl, x[0], x[1]), x[2]);
            });
        Value decay = in.pointwise(
            ms, in.computeType(), {{g, {0, 1}}, {m, {0, 1}}, {mNew, {0, 1}}},
            [](OpBuilder &bb, Location bl, ValueRange x) -> Value {
              return math::ExpOp::create(
                  bb, bl,
                  arith::SubFOp::create(
                      bb, bl, arith::AddFOp::create(bb, bl, x[0], x[1]), x[2]));
            });
        // Weighted keys exp(a_l - m') k_l s.
        Value wk = in.pointwise(
            in.sizes(kc), in.computeType(),
            {{kc, {0, 1, 2, 3}}, {a, {0, 1, 2}}, {mNew, {0, 1}}},
            [&](OpBuilder &bb, Location bl, ValueRange x) -> Value {
              Value w = math::ExpOp::create(
                  bb, bl, arith::SubFOp::create(bb, bl, x[1], x[2]));
              Value ks = arith::MulFOp::create(
                  bb, bl, x[0],
                  LayerBuilder::scalarConstant(bb, bl, x[0].getType(), kScale));
              return arith::MulFOp::create(bb, bl, ks, w);
            });
        auto decayed = [&](Value state) {
          int64_t r = tensorType(state).getRank();
          return in.pointwise(
              in.sizes(state), stateElt,
              {{state, Lowering::iota(r)}, {decay, {0, 1}}},
              [](OpBuilder &bb, Location bl, ValueRange x) {
                return arith::MulFOp::create(bb, bl, x[0], x[1]).getResult();
              });
        };
        // C' = decay C + sum_l wk_l v_l^T; loops (b, h, p, q, l).
        Value cNew = in.generic1(
            {wk, vc}, {in.map(5, {0, 1, 4, 2}), in.map(5, {0, 1, 4, 3})},
            decayed(c), in.map(5, {0, 1, 2, 3}), {kPar, kPar, kPar, kPar, kRed},
            multiplyAdd);
        // n' = decay n + sum_l wk_l; loops (b, h, p, l).
        Value nNew =
            in.generic1({wk}, {in.map(4, {0, 1, 3, 2})}, decayed(n),
                        in.map(4, {0, 1, 2}), {kPar, kPar, kPar, kRed},
                        [](OpBuilder &bb, Location bl, ValueRange x) -> Value {
                          return arith::AddFOp::create(bb, bl, x[1], x[0]);
                        });
        scf::YieldOp::create(
            nb, nloc, ValueRange{cNew, nNew, mNew, chunkC, chunkN, chunkM});
      });
  // Result order: chunk states, then the final state. The chunk count is
  // computed, so the results may be less static than the op's types (a
  // static sequence length): cast them back.
  SmallVector<Value> results;
  const unsigned order[] = {3, 4, 5, 0, 1, 2};
  for (auto [index, type] : llvm::zip(order, op->getResultTypes())) {
    Value r = loop.getResult(index);
    if (r.getType() != type)
      r = tensor::CastOp::create(rewriter, loc, type, r);
    results.push_back(r);
  }
  rewriter.replaceOp(op, results);
  return success();
}

LogicalResult lowerChunkOutputs(MLSTMChunkOutputsOp op,
                                PatternRewriter &rewriter) {
  Location loc = op.getLoc();
  Value q = op.getQ(), k = op.getK(), v = op.getV(), igate = op.getIgate(),
        fgate = op.getFgate();
  if (!staticDim(q, 3))
    return failure();
  Lowering l(rewriter, loc, elementType(q));
  auto [qScale, kScale] =
      cellmath::qkScales(op.getQkScaling(), tensorType(q).getDimSize(3));
  double eps = op.getEps().convertToDouble();
  int64_t chunkSize = op.getChunkSize();
  Type hElt = elementType(op.getH());
  SmallVector<OpFoldResult> hShape = l.sizes(q);
  hShape[3] = l.size(v, 3);
  Value seq = l.value(hShape[2]);
  Value numChunks =
      arith::CeilDivSIOp::create(rewriter, loc, seq, l.index(chunkSize));
  Value chunkC = op.getChunkC(), chunkN = op.getChunkN(),
        chunkM = op.getChunkM();

  auto loop = scf::ForOp::create(
      rewriter, loc, l.index(0), numChunks, l.index(1),
      ValueRange{l.empty(hShape, hElt)},
      [&](OpBuilder &nb, Location nloc, Value chunkIndex, ValueRange iter) {
        Lowering in(nb, nloc, elementType(q));
        Type ct = in.computeType();
        Value t0 =
            arith::MulIOp::create(nb, nloc, chunkIndex, in.index(chunkSize));
        Value len = arith::MinSIOp::create(
            nb, nloc, arith::SubIOp::create(nb, nloc, seq, t0),
            in.index(chunkSize));
        Value qc = in.chunk(q, t0, len), kc = in.chunk(k, t0, len),
              vc = in.chunk(v, t0, len), ic = in.chunk(igate, t0, len),
              fc = in.chunk(fgate, t0, len);
        Value c = in.sliceAt(chunkC, 2, chunkIndex),
              n = in.sliceAt(chunkN, 2, chunkIndex),
              m = in.sliceAt(chunkM, 2, chunkIndex);
        Value cum = in.cumulativeLogForget(fc);
        SmallVector<OpFoldResult> lShape = in.sizes(cum);
        SmallVector<OpFoldResult> ljShape = lShape;
        ljShape.push_back(lShape[2]);
        SmallVector<OpFoldResult> outShape = lShape;
        outShape.push_back(in.size(v, 3));
        // D_lj = b_l - b_j + i_j for j <= l, -inf above the diagonal.
        Value logD = in.generic1(
            {cum, cum, ic},
            {in.map(4, {0, 1, 2}), in.map(4, {0, 1, 3}), in.map(4, {0, 1, 3})},
            in.empty(ljShape, ct), in.map(4, {0, 1, 2, 3}),
            {kPar, kPar, kPar, kPar},
            [&](OpBuilder &bb, Location bl, ValueRange x) -> Value {
              Value d = arith::AddFOp::create(
                  bb, bl, arith::SubFOp::create(bb, bl, x[0], x[1]), x[2]);
              return causalOr(bb, bl, d, -INFINITY);
            });
        Value mIntra = in.reduceLast(logD, {}, /*max=*/true);
        Value mComb = in.pointwise(
            lShape, ct, {{cum, {0, 1, 2}}, {m, {0, 1}}, {mIntra, {0, 1, 2}}},
            [](OpBuilder &bb, Location bl, ValueRange x) -> Value {
              return arith::MaximumFOp::create(
                  bb, bl, arith::AddFOp::create(bb, bl, x[0], x[1]), x[2]);
            });
        Value inter = in.pointwise(
            lShape, ct, {{cum, {0, 1, 2}}, {m, {0, 1}}, {mComb, {0, 1, 2}}},
            [](OpBuilder &bb, Location bl, ValueRange x) -> Value {
              return math::ExpOp::create(
                  bb, bl,
                  arith::SubFOp::create(
                      bb, bl, arith::AddFOp::create(bb, bl, x[0], x[1]), x[2]));
            });
        auto scaled = [&](Value x, double s) {
          return in.pointwise(
              in.sizes(x), ct, {{x, {0, 1, 2, 3}}},
              [&](OpBuilder &bb, Location bl, ValueRange a) -> Value {
                return arith::MulFOp::create(
                    bb, bl, a[0], LayerBuilder::scalarConstant(bb, bl, ct, s));
              });
        };
        Value qs = scaled(qc, qScale), ks = scaled(kc, kScale);
        // Intra-chunk weights P_lj = (q_l . k_j) exp(D_lj - m_l), causal.
        Value qk = in.generic1(
            {qs, ks}, {in.map(5, {0, 1, 2, 4}), in.map(5, {0, 1, 3, 4})},
            in.filled(ljShape, 0.0), in.map(5, {0, 1, 2, 3}),
            {kPar, kPar, kPar, kPar, kRed}, multiplyAdd);
        Value weights = in.generic1(
            {qk, logD, mComb},
            {in.map(4, {0, 1, 2, 3}), in.map(4, {0, 1, 2, 3}),
             in.map(4, {0, 1, 2})},
            in.empty(ljShape, ct), in.map(4, {0, 1, 2, 3}),
            {kPar, kPar, kPar, kPar},
            [&](OpBuilder &bb, Location bl, ValueRange x) -> Value {
              Value w = arith::MulFOp::create(
                  bb, bl, x[0],
                  math::ExpOp::create(
                      bb, bl, arith::SubFOp::create(bb, bl, x[1], x[2])));
              return causalOr(bb, bl, w, 0.0);
            });
        // Numerator: inter_l q_l^T C + sum_j P_lj v_j.
        Value qC = in.generic1(
            {qs, c}, {in.map(5, {0, 1, 2, 4}), in.map(5, {0, 1, 4, 3})},
            in.filled(outShape, 0.0), in.map(5, {0, 1, 2, 3}),
            {kPar, kPar, kPar, kPar, kRed}, multiplyAdd);
        auto timesInter = [&](Value x) {
          int64_t r = tensorType(x).getRank();
          return in.pointwise(
              in.sizes(x), ct, {{x, Lowering::iota(r)}, {inter, {0, 1, 2}}},
              [](OpBuilder &bb, Location bl, ValueRange a) {
                return arith::MulFOp::create(bb, bl, a[0], a[1]).getResult();
              });
        };
        Value num = in.generic1(
            {weights, vc}, {in.map(5, {0, 1, 2, 4}), in.map(5, {0, 1, 4, 3})},
            timesInter(qC), in.map(5, {0, 1, 2, 3}),
            {kPar, kPar, kPar, kPar, kRed}, multiplyAdd);
        // Denominator: inter_l q_l . n + sum_j P_lj.
        Value qn = in.generic1({qs, n},
                               {in.map(4, {0, 1, 2, 3}), in.map(4, {0, 1, 3})},
                               in.filled(lShape, 0.0), in.map(4, {0, 1, 2}),
                               {kPar, kPar, kPar, kRed}, multiplyAdd);
        Value den =
            in.generic1({weights}, {in.map(4, {0, 1, 2, 3})}, timesInter(qn),
                        in.map(4, {0, 1, 2}), {kPar, kPar, kPar, kRed},
                        [](OpBuilder &bb, Location bl, ValueRange x) -> Value {
                          return arith::AddFOp::create(bb, bl, x[1], x[0]);
                        });
        Value h = in.pointwise(
            outShape, hElt,
            {{num, {0, 1, 2, 3}}, {den, {0, 1, 2}}, {mComb, {0, 1, 2}}},
            [&](OpBuilder &bb, Location bl, ValueRange x) -> Value {
              Value floor = math::ExpOp::create(
                  bb, bl, arith::NegFOp::create(bb, bl, x[2]));
              Value denom = arith::AddFOp::create(
                  bb, bl,
                  arith::MaximumFOp::create(
                      bb, bl, math::AbsFOp::create(bb, bl, x[1]), floor),
                  LayerBuilder::scalarConstant(bb, bl, ct, eps));
              return arith::DivFOp::create(bb, bl, x[0], denom);
            });
        SmallVector<OpFoldResult> offsets(4, nb.getIndexAttr(0));
        offsets[2] = t0;
        SmallVector<OpFoldResult> strides(4, nb.getIndexAttr(1));
        Value updated = tensor::InsertSliceOp::create(
            nb, nloc, h, iter[0], offsets, outShape, strides);
        scf::YieldOp::create(nb, nloc, updated);
      });
  rewriter.replaceOp(op, loop.getResult(0));
  return success();
}

//===----------------------------------------------------------------------===//
// sLSTM
//===----------------------------------------------------------------------===//

/// One sLSTM step on (B, H) gate inputs and states; returns the new states
/// in the types of `state`.
SmallVector<Value> slstmStep(Lowering &l, ValueRange gates,
                             Value recurrentKernel, Value bias,
                             ValueRange state, int64_t numHeads,
                             SLSTMFunction function) {
  OpBuilder &b = l.b;
  Location loc = l.loc;
  LayerBuilder lb(b, loc);
  int64_t width = tensorType(gates[0]).getDimSize(1);
  int64_t dh = width / numHeads;
  SmallVector<ReassociationIndices> groups = splitLastGroups(2);
  auto perHead = [&](Value x) { return splitLast(lb, x, numHeads, dh); };
  Value h = perHead(state[0]);
  SmallVector<OpFoldResult> hs = l.sizes(h);
  // rec[b, hd, g, j] = bias[hd, g, j] + sum_i h[b, hd, i] R[hd, i, g, j].
  SmallVector<OpFoldResult> recShape = {hs[0], hs[1], b.getIndexAttr(4), hs[2]};
  Value recInit =
      l.pointwise(recShape, l.computeType(), {{bias, {1, 2, 3}}},
                  [](OpBuilder &, Location, ValueRange a) { return a[0]; });
  Value rec = l.generic1({h, recurrentKernel},
                         {l.map(5, {0, 1, 4}), l.map(5, {1, 4, 2, 3})}, recInit,
                         l.map(5, {0, 1, 2, 3}), {kPar, kPar, kPar, kPar, kRed},
                         multiplyAdd);
  SmallVector<Value> ins;
  SmallVector<AffineMap> maps;
  AffineMap id3 = l.map(3, {0, 1, 2});
  for (Value g : gates) {
    ins.push_back(perHead(g));
    maps.push_back(id3);
  }
  for (int64_t g = 0; g < 4; ++g) {
    ins.push_back(rec);
    maps.push_back(
        l.mapExprs(3, {l.dim(0), l.dim(1),
                       getAffineConstantExpr(g, b.getContext()), l.dim(2)}));
  }
  SmallVector<Value> inits;
  for (Value s : state) {
    ins.push_back(perHead(s));
    maps.push_back(id3);
    inits.push_back(l.empty(hs, elementType(s)));
  }
  SmallVector<AffineMap> initMaps(inits.size(), id3);
  SmallVector<Value> next = l.generic(
      ins, maps, inits, initMaps, {kPar, kPar, kPar},
      [&](OpBuilder &bb, Location bl, ValueRange x) -> SmallVector<Value> {
        SmallVector<Value> raw;
        for (int g = 0; g < 4; ++g)
          raw.push_back(arith::AddFOp::create(bb, bl, x[g], x[4 + g]));
        return cellmath::slstmCell(bb, bl, function, raw,
                                   x.drop_front(8).take_front(state.size()));
      });
  for (Value &s : next)
    s = lb.collapse(s, groups);
  return next;
}

LogicalResult lowerSLSTMStep(SLSTMStepOp op, PatternRewriter &rewriter) {
  Lowering l(rewriter, op.getLoc(), elementType(op.getIgate()));
  SmallVector<Value> gates = {op.getIgate(), op.getFgate(), op.getZgate(),
                              op.getOgate()};
  rewriter.replaceOp(op, slstmStep(l, gates, op.getRecurrentKernel(),
                                   op.getBias(), op.getState(),
                                   op.getNumHeads(), op.getFunction()));
  return success();
}

LogicalResult lowerSLSTM(SLSTMOp op, PatternRewriter &rewriter) {
  Location loc = op.getLoc();
  Lowering l(rewriter, loc, elementType(op.getIgate()));
  SmallVector<Value> gates = {op.getIgate(), op.getFgate(), op.getZgate(),
                              op.getOgate()};
  SmallVector<OpFoldResult> gateShape = l.sizes(gates[0]);
  SmallVector<OpFoldResult> stateShape = {gateShape[0], gateShape[2]};
  SmallVector<Value> inits;
  if (!op.getInitialState().empty()) {
    llvm::append_range(inits, op.getInitialState());
  } else {
    for (int64_t s = 0; s < op.getNumStates(); ++s) {
      Type elt = op.getFinalState().empty()
                     ? l.computeType()
                     : elementType(op.getFinalState()[s]);
      inits.push_back(l.filled(stateShape, 0.0, elt));
    }
  }
  size_t numStates = inits.size();
  Type yElt = elementType(op.getY());
  inits.push_back(l.empty(gateShape, yElt));
  auto loop = scf::ForOp::create(
      rewriter, loc, l.index(0), l.value(gateShape[1]), l.index(1), inits,
      [&](OpBuilder &nb, Location nloc, Value t, ValueRange iter) {
        Lowering in(nb, nloc, elementType(op.getIgate()));
        SmallVector<Value> at;
        for (Value g : gates)
          at.push_back(in.sliceAt(g, 1, t));
        SmallVector<Value> next = slstmStep(
            in, at, op.getRecurrentKernel(), op.getBias(),
            iter.take_front(numStates), op.getNumHeads(), op.getFunction());
        Value h = next[0];
        if (elementType(h) != yElt)
          h = in.scaleShift(h, nullptr, nullptr, false, yElt);
        next.push_back(in.insertAt(h, iter.back(), 1, t));
        scf::YieldOp::create(nb, nloc, next);
      });
  SmallVector<Value> results = {loop.getResults().back()};
  if (!op.getFinalState().empty())
    llvm::append_range(results, loop.getResults().take_front(numStates));
  rewriter.replaceOp(op, results);
  return success();
}

/// A contraction into bf16/f16 accumulates in float32 and rounds once, as
/// on tensor cores, instead of rounding after every product.
struct WidenNarrowContraction : OpRewritePattern<linalg::ContractOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(linalg::ContractOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.hasPureTensorSemantics())
      return failure();
    Value init = op.getDpsInits()[0];
    Type elt = elementType(init);
    if (!isa<FloatType>(elt) || elt.getIntOrFloatBitWidth() >= 32)
      return failure();
    Lowering l(rewriter, op.getLoc(), elt);
    Value wide = l.scaleShift(init, nullptr, nullptr, false, l.computeType());
    auto contract = linalg::ContractOp::create(
        rewriter, op.getLoc(), TypeRange{wide.getType()}, op.getDpsInputs(),
        ValueRange{wide}, op.getIndexingMaps());
    rewriter.replaceOp(
        op, l.scaleShift(contract.getResult(0), nullptr, nullptr, false, elt));
    return success();
  }
};

template <typename OpT> struct LowerOp : OpRewritePattern<OpT> {
  using Fn = LogicalResult (*)(OpT, PatternRewriter &);
  LowerOp(MLIRContext *ctx, Fn fn) : OpRewritePattern<OpT>(ctx), fn(fn) {}
  LogicalResult matchAndRewrite(OpT op,
                                PatternRewriter &rewriter) const override {
    // What the op becomes is named after it (profiles, kernel tables): the
    // lowering builds at the op's location, so the name goes there first,
    // and comes off again if the lowering declines (a pattern that fails
    // must leave the IR as it found it).
    Location original = op->getLoc();
    op->setLoc(NameLoc::get(
        rewriter.getStringAttr(op->getName().getStringRef()), original));
    if (succeeded(fn(op, rewriter)))
      return success();
    op->setLoc(original);
    return failure();
  }
  Fn fn;
};

struct XLSTMLowerToLinalgPass
    : xlstm::impl::XLSTMLowerToLinalgPassBase<XLSTMLowerToLinalgPass> {
  using Base::Base;

  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    RewritePatternSet patterns(ctx);
    patterns.add<LowerOp<SoftCapOp>>(ctx, lowerSoftCap);
    patterns.add<LowerOp<LayerNormOp>>(ctx, lowerLayerNorm);
    patterns.add<LowerOp<MultiHeadNormOp>>(ctx, lowerMultiHeadNorm);
    patterns.add<LowerOp<RMSNormOp>>(ctx, lowerRMSNorm);
    patterns.add<LowerOp<HeadwiseLinearOp>>(ctx, lowerHeadwise);
    patterns.add<LowerOp<CausalConv1dOp>>(ctx, lowerCausalConv);
    patterns.add<LowerOp<GatedFFNOp>>(ctx, lowerGatedFFN);
    patterns.add<LowerOp<EmbeddingOp>>(ctx, lowerEmbedding);
    patterns.add<LowerOp<MLSTMChunkStatesOp>>(ctx, lowerChunkStates);
    patterns.add<LowerOp<MLSTMChunkOutputsOp>>(ctx, lowerChunkOutputs);
    patterns.add<LowerOp<SLSTMOp>>(ctx, lowerSLSTM);
    patterns.add<LowerOp<SLSTMStepOp>>(ctx, lowerSLSTMStep);
    patterns.add<WidenNarrowContraction>(ctx);
    walkAndApplyPatterns(getOperation(), std::move(patterns));
    // What is left needs an earlier pass.
    WalkResult left = getOperation()->walk([](Operation *op) {
      if (!isa<XLSTMDialect>(op->getDialect()))
        return WalkResult::advance();
      op->emitError("xlstm-lower-to-linalg: '")
          << op->getName()
          << "' has no lowering; run xlstm-expand-blocks and "
             "xlstm-tile-mlstm-chunkwise first (feature, head and kernel "
             "widths must be static)";
      return WalkResult::interrupt();
    });
    if (left.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
