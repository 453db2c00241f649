//===- LayerBuilder.cpp - Tensor-level building blocks for rewrites -------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "LayerBuilder.h"

#include "mlir/Dialect/Utils/ReshapeOpsUtils.h"
#include "xlstm/Dialect/XLSTM/Transforms/CellMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace xlstm;

namespace {
RankedTensorType tensorType(Value v) {
  return cast<RankedTensorType>(v.getType());
}
} // namespace

SmallVector<OpFoldResult> LayerBuilder::sizes(Value x) {
  return tensor::getMixedSizes(b, loc, x);
}

Value LayerBuilder::emptyLike(Value x, ArrayRef<OpFoldResult> shape) {
  return tensor::EmptyOp::create(b, loc, shape, tensorType(x).getElementType());
}

Value LayerBuilder::scalarConstant(OpBuilder &b, Location loc, Type type,
                                   double value) {
  return arith::ConstantOp::create(b, loc, type, b.getFloatAttr(type, value));
}

Value LayerBuilder::scalarSigmoid(OpBuilder &b, Location loc, Value x) {
  return cellmath::sigmoid(b, loc, x);
}

Value LayerBuilder::linear(Value x, Value weight, Value bias, Type resultElt) {
  return linearOfParts(x, weight, bias,
                       resultElt ? resultElt : tensorType(x).getElementType());
}

Value LayerBuilder::linearOfParts(ValueRange parts, Value weight, Value bias,
                                  Type resultElt, bool biasFirst) {
  SmallVector<OpFoldResult> shape = sizes(parts.front());
  shape.back() = b.getIndexAttr(tensorType(weight).getDimSize(0));
  Value zero = scalarConstant(b, loc, resultElt, 0.0);
  Value empty = tensor::EmptyOp::create(b, loc, shape, resultElt);
  Value y = linalg::FillOp::create(b, loc, zero, empty).getResult(0);
  // (One part takes the whole weight, no slice of it.)
  int64_t column = 0;
  for (Value part : parts) {
    int64_t width = tensorType(part).getShape().back();
    Value w = parts.size() == 1 ? weight : sliceLastDim(weight, column, width);
    y = accumulateLinear(part, w, y);
    // With biasFirst the bias joins the first part's sum, which the later
    // parts add to: the first projection's kernels can store it with the
    // bias added instead of an elementwise pass over the finished sum.
    if (column == 0 && bias && biasFirst)
      y = add(y, castElements(bias, resultElt));
    column += width;
  }
  return bias && !biasFirst ? add(y, castElements(bias, resultElt)) : y;
}

Value LayerBuilder::accumulateLinear(Value x, Value weight, Value init) {
  int64_t rank = tensorType(x).getRank();
  // Loops: the leading dims of x, then the output feature o, then the
  // reduction over input features i.
  MLIRContext *ctx = b.getContext();
  unsigned numLoops = rank + 1;
  SmallVector<AffineExpr> xExprs, outExprs;
  for (int64_t d = 0; d < rank - 1; ++d) {
    xExprs.push_back(getAffineDimExpr(d, ctx));
    outExprs.push_back(getAffineDimExpr(d, ctx));
  }
  AffineExpr o = getAffineDimExpr(rank - 1, ctx),
             i = getAffineDimExpr(rank, ctx);
  xExprs.push_back(i);
  outExprs.push_back(o);
  SmallVector<AffineMap> maps = {AffineMap::get(numLoops, 0, xExprs, ctx),
                                 AffineMap::get(numLoops, 0, {o, i}, ctx),
                                 AffineMap::get(numLoops, 0, outExprs, ctx)};
  return linalg::ContractOp::create(b, loc, TypeRange{init.getType()},
                                    ValueRange{x, weight}, ValueRange{init},
                                    b.getAffineMapArrayAttr(maps))
      .getResult(0);
}

Value LayerBuilder::elementwise(ValueRange inputs, ScalarFn fn) {
  Value first = inputs.front();
  int64_t rank = tensorType(first).getRank();
  MLIRContext *ctx = b.getContext();
  SmallVector<AffineMap> maps;
  for (Value in : inputs) {
    int64_t inRank = tensorType(in).getRank();
    maps.push_back(AffineMap::getMinorIdentityMap(rank, inRank, ctx));
  }
  maps.push_back(AffineMap::getMultiDimIdentityMap(rank, ctx));
  Value init = emptyLike(first, sizes(first));
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, TypeRange{init.getType()}, inputs, ValueRange{init}, maps,
             iterators,
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               Value r = fn(nb, nloc, args.drop_back());
               linalg::YieldOp::create(nb, nloc, r);
             })
      .getResult(0);
}

Value LayerBuilder::add(Value x, Value y) {
  return elementwise({x, y}, [](OpBuilder &b, Location loc, ValueRange a) {
    return arith::AddFOp::create(b, loc, a[0], a[1]).getResult();
  });
}

Value LayerBuilder::castElements(Value x, Type elt) {
  auto type = tensorType(x);
  if (type.getElementType() == elt)
    return x;
  Value init = tensor::EmptyOp::create(b, loc, sizes(x), elt);
  // Equal widths (f16 <-> bf16) have no direct cast: go through f32.
  unsigned from = type.getElementType().getIntOrFloatBitWidth();
  unsigned to = elt.getIntOrFloatBitWidth();
  if (from == to && from < 32)
    return castElements(castElements(x, b.getF32Type()), elt);
  bool widen = to > from;
  int64_t rank = type.getRank();
  MLIRContext *ctx = b.getContext();
  SmallVector<AffineMap> maps(2, AffineMap::getMultiDimIdentityMap(rank, ctx));
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, TypeRange{init.getType()}, ValueRange{x}, ValueRange{init},
             maps, iterators,
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               Value v = widen ? arith::ExtFOp::create(nb, nloc, elt, args[0])
                                     .getResult()
                               : arith::TruncFOp::create(nb, nloc, elt, args[0])
                                     .getResult();
               linalg::YieldOp::create(nb, nloc, v);
             })
      .getResult(0);
}

Value LayerBuilder::silu(Value x) {
  return elementwise({x}, [](OpBuilder &b, Location loc, ValueRange a) {
    return arith::MulFOp::create(b, loc, a[0], scalarSigmoid(b, loc, a[0]))
        .getResult();
  });
}

Value LayerBuilder::sliceLastDim(Value x, int64_t offset, int64_t size) {
  int64_t rank = tensorType(x).getRank();
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
  SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
  SmallVector<OpFoldResult> shape = sizes(x);
  offsets.back() = b.getIndexAttr(offset);
  shape.back() = b.getIndexAttr(size);
  return tensor::ExtractSliceOp::create(b, loc, x, offsets, shape, strides);
}

Value LayerBuilder::sliceRows(Value weight, int64_t offset, int64_t size) {
  int64_t rank = tensorType(weight).getRank();
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
  SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
  SmallVector<OpFoldResult> shape = sizes(weight);
  offsets.front() = b.getIndexAttr(offset);
  shape.front() = b.getIndexAttr(size);
  return tensor::ExtractSliceOp::create(b, loc, weight, offsets, shape,
                                        strides);
}

/// {{0}, {1, ..., rank - 1}}: dim 0 apart, the rest as one.
static SmallVector<ReassociationIndices> leadingAndRest(int64_t rank) {
  ReassociationIndices rest;
  for (int64_t d = 1; d < rank; ++d)
    rest.push_back(d);
  return {{0}, rest};
}

Value LayerBuilder::reshape(Value x, ArrayRef<int64_t> shape) {
  RankedTensorType type = tensorType(x);
  if (type.getShape() == shape)
    return x;
  auto target = RankedTensorType::get(shape, type.getElementType());
  // One collapse or one expand where that can do it (a form the
  // canonicalizer leaves as it is, so that IR printed at any stage and
  // read back lowers the same); dynamic sizes come from the source.
  if (target.getRank() < type.getRank())
    if (auto groups = getReassociationIndicesForReshape(type, target))
      return tensor::CollapseShapeOp::create(b, loc, target, x, *groups);
  if (target.getRank() > type.getRank())
    if (auto groups = getReassociationIndicesForReshape(target, type))
      return tensor::ExpandShapeOp::create(b, loc, target, x, *groups);
  // (B, ...) to (B, ...) through (B, product of the rest).
  assert(shape[0] == type.getDimSize(0) && "the same leading dim");
  Value rows = x;
  if (type.getRank() > 2)
    rows = tensor::CollapseShapeOp::create(b, loc, x,
                                           leadingAndRest(type.getRank()));
  if (target.getRank() == 2)
    return rows;
  return tensor::ExpandShapeOp::create(b, loc, target, rows,
                                       leadingAndRest(target.getRank()));
}

Value LayerBuilder::transpose(Value x, ArrayRef<int64_t> permutation) {
  SmallVector<OpFoldResult> in = sizes(x), out;
  for (int64_t p : permutation)
    out.push_back(in[p]);
  // A permutation that moves only dims of size 1 (the head split of a
  // one-position step) keeps the memory order: a reshape, not a copy.
  ArrayRef<int64_t> shape = tensorType(x).getShape();
  SmallVector<int64_t> moved, outShape;
  for (int64_t p : permutation) {
    outShape.push_back(shape[p]);
    if (shape[p] != 1)
      moved.push_back(p);
  }
  // (Only where dim 0, the batch, stays and no other dim is dynamic.)
  if (!moved.empty() && llvm::is_sorted(moved) && permutation[0] == 0 &&
      llvm::count(shape.drop_front(), ShapedType::kDynamic) == 0)
    return reshape(x, outShape);
  return linalg::TransposeOp::create(b, loc, x, emptyLike(x, out), permutation)
      .getResult()[0];
}

Value LayerBuilder::expand(Value x,
                           ArrayRef<ReassociationIndices> reassociation,
                           ArrayRef<int64_t> staticShape) {
  SmallVector<OpFoldResult> in = sizes(x), out;
  for (auto [srcDim, group] : llvm::enumerate(reassociation)) {
    for (int64_t d : group)
      out.push_back(group.size() == 1 ? in[srcDim]
                                      : b.getIndexAttr(staticShape[d]));
  }
  SmallVector<int64_t> resultShape;
  for (OpFoldResult ofr : out) {
    std::optional<int64_t> c = getConstantIntValue(ofr);
    resultShape.push_back(c ? *c : ShapedType::kDynamic);
  }
  auto resultType =
      RankedTensorType::get(resultShape, tensorType(x).getElementType());
  return tensor::ExpandShapeOp::create(b, loc, resultType, x, reassociation,
                                       out);
}

Value LayerBuilder::collapse(Value x,
                             ArrayRef<ReassociationIndices> reassociation) {
  return tensor::CollapseShapeOp::create(b, loc, x, reassociation);
}

Value LayerBuilder::splitHeads(Value x, int64_t numHeads) {
  RankedTensorType type = tensorType(x);
  int64_t width = type.getDimSize(2);
  // One position: (B, 1, W) is (B, NH, 1, DH) in memory.
  if (type.getDimSize(1) == 1)
    return reshape(x, {type.getDimSize(0), numHeads, 1, width / numHeads});
  Value split =
      expand(x, {{0}, {1}, {2, 3}}, {0, 0, numHeads, width / numHeads});
  return transpose(split, {0, 2, 1, 3});
}

Value LayerBuilder::mergeHeads(Value x) {
  RankedTensorType type = tensorType(x);
  if (type.getDimSize(2) == 1)
    return reshape(x, {type.getDimSize(0), 1,
                       type.getDimSize(1) * type.getDimSize(3)});
  return collapse(transpose(x, {0, 2, 1, 3}), {{0}, {1}, {2, 3}});
}
