//===- ContractToMMA.cpp - Projections on tensor cores --------------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// A projection y[m, n] += sum_k x[m, k] W[n, k] (x: M x K, W: N x K, both
// K-contiguous) maps directly onto mma.sync m16n8k16 with A = x row-major
// and B = W^T "col": every fragment register is two consecutive k of one
// row of x or W, one aligned 32-bit load. Lane l of a warp holds
//   A: rows g, g + 8 (g = l / 4), k pairs 2t and 2t + 8 (t = l % 4),
//   B: column g, k pairs 2t and 2t + 8,
//   C: rows g, g + 8, columns 2t, 2t + 1
// (PTX ISA, "Matrix Fragments for mma.m16n8k16"). This first tensor-core
// kernel reads fragments straight from global memory (L1 serves the reuse
// between warps); shared-memory staging with cp.async and ldmatrix is the
// next step.
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"

#include "xlstm/Conversion/LoweringReport.h"
#include "xlstm/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

#include <functional>
#include <tuple>

namespace xlstm {
#define GEN_PASS_DEF_XLSTMCONTRACTTOMMAPASS
#include "xlstm/Conversion/Passes.h.inc"
} // namespace xlstm

using namespace mlir;

namespace {

struct TileShape {
  int64_t warpsM, warpsN, tilesM, tilesN;
  int64_t blockM() const { return warpsM * tilesM * 16; }
  int64_t blockN() const { return warpsN * tilesN * 8; }
};

/// The operands of a projection contraction, or failure.
struct Projection {
  Value x, w, out;
  int64_t k;
  /// 0: y[..., n] += x[..., k] W[n, k]. Else the blocks of a headwise
  /// (block-diagonal) projection: y[..., h, n] += x[..., h, k] W[h, n, k]
  /// for h < heads, y of identity layout, x too or the blocks of a slice of
  /// the last dimension of one (headwiseSliceOf).
  int64_t heads = 0;
};

/// Bytes every row start and base of a strided operand must be aligned to:
/// the kernels load 16 bytes at a time (cp.async, vector loads).
constexpr int64_t kOperandAlignment = 16;

/// Whether dynamic size `d` of `view` is the full dimension `d` of its
/// source: memref.dim of the source, or the size the source was allocated
/// with (what bufferization writes).
bool isSourceDim(memref::SubViewOp view, int64_t d) {
  Value size = view.getDynamicSize(d);
  if (auto dim = size.getDefiningOp<memref::DimOp>();
      dim && dim.getSource() == view.getSource() &&
      dim.getConstantIndex() == std::optional<int64_t>(d))
    return true;
  auto alloc = view.getSource().getDefiningOp<memref::AllocOp>();
  return alloc && alloc.getType().isDynamicDim(d) &&
         alloc.getDynamicSizes()[alloc.getType().getDynamicDimIndex(d)] ==
             size;
}

/// The slice of the last dimension `m` is of an identity-layout memref
/// (lead..., C), such as one block's columns of x. Such a view
/// collapses to rows like its source; null if `m` is not one, or its
/// offset or row length breaks the 16-byte alignment.
memref::SubViewOp lastDimSlice(Value m) {
  auto view = m.getDefiningOp<memref::SubViewOp>();
  if (!view || !view.getSourceType().getLayout().isIdentity())
    return {};
  MemRefType source = view.getSourceType();
  int64_t r = source.getRank();
  if (view.getType().getRank() != r || !view.hasUnitStride())
    return {};
  ArrayRef<int64_t> offsets = view.getStaticOffsets();
  ArrayRef<int64_t> sizes = view.getStaticSizes();
  for (int64_t d = 0; d + 1 < r; ++d) {
    if (offsets[d] != 0)
      return {};
    if (ShapedType::isDynamic(sizes[d]) ? !isSourceDim(view, d)
                                        : sizes[d] != source.getDimSize(d))
      return {};
  }
  int64_t bytes = source.getElementTypeBitWidth() / 8;
  int64_t offset = offsets.back(), row = source.getShape().back();
  if (ShapedType::isDynamic(offset) || ShapedType::isDynamic(row) ||
      (offset * bytes) % kOperandAlignment || (row * bytes) % kOperandAlignment)
    return {};
  return view;
}

/// Where a headwise projection's x (lead..., H, K) splits the last dimension
/// of a slice of the last dimension of an identity memref (lastDimSlice:
/// the mLSTM's v takes half of the up projection's output), that slice.
memref::SubViewOp headwiseSliceOf(Value x) {
  auto expand = x.getDefiningOp<memref::ExpandShapeOp>();
  if (!expand)
    return {};
  int64_t r = expand.getResultType().getRank();
  SmallVector<ReassociationIndices> groups = expand.getReassociationIndices();
  if (static_cast<int64_t>(groups.size()) != r - 1 ||
      groups.back() != ReassociationIndices{r - 2, r - 1})
    return {};
  return lastDimSlice(expand.getSrc());
}

/// Whether `w` (N, K) has rows the kernels can read: the identity layout,
/// or unit column stride with a static, 16-byte aligned offset and row
/// stride (one matrix of the headwise weight).
bool isReadableMatrix(MemRefType w) {
  if (w.getLayout().isIdentity())
    return true;
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(w.getStridesAndOffset(strides, offset)) || strides.size() != 2 ||
      strides[1] != 1 || ShapedType::isDynamic(strides[0]) ||
      ShapedType::isDynamic(offset))
    return false;
  int64_t bytes = w.getElementTypeBitWidth() / 8;
  return (offset * bytes) % kOperandAlignment == 0 &&
         (strides[0] * bytes) % kOperandAlignment == 0;
}

/// Whether `op`'s maps are x (lead..., i), W (o, i), out (lead..., o) with
/// loops (lead..., o, i), x of rank `r`; with `headwise`, x (lead..., h, i),
/// W (h, o, i), out (lead..., h, o) with loops (lead..., h, o, i) (what
/// xlstm-lower-to-linalg makes of xlstm.headwise_linear with
/// tensor-core-sized blocks).
bool hasProjectionMaps(linalg::ContractOp op, int64_t r,
                       bool headwise = false) {
  MLIRContext *ctx = op.getContext();
  int64_t numLead = headwise ? r - 2 : r - 1;
  SmallVector<AffineExpr> lead, wExprs;
  for (int64_t d = 0; d < numLead; ++d)
    lead.push_back(getAffineDimExpr(d, ctx));
  AffineExpr o = getAffineDimExpr(r - 1, ctx), i = getAffineDimExpr(r, ctx);
  SmallVector<AffineExpr> xExprs(lead), outExprs(lead);
  if (headwise) {
    AffineExpr h = getAffineDimExpr(r - 2, ctx);
    xExprs.push_back(h);
    outExprs.push_back(h);
    wExprs.push_back(h);
  }
  xExprs.push_back(i);
  outExprs.push_back(o);
  wExprs.append({o, i});
  SmallVector<AffineMap> expected = {AffineMap::get(r + 1, 0, xExprs, ctx),
                                     AffineMap::get(r + 1, 0, wExprs, ctx),
                                     AffineMap::get(r + 1, 0, outExprs, ctx)};
  return op.getIndexingMapsArray() == ArrayRef<AffineMap>(expected);
}

/// The headwise projection `op` computes (Projection::heads), or the reason
/// it is not one the kernels take (element types checked by the caller).
FailureOr<Projection> matchHeadwise(linalg::ContractOp op, Value x, Value w,
                                    Value out, std::string &whyNot) {
  auto fail = [&](const Twine &reason) {
    whyNot = reason.str();
    return failure();
  };
  auto xType = cast<MemRefType>(x.getType());
  auto wType = cast<MemRefType>(w.getType());
  auto outType = cast<MemRefType>(out.getType());
  int64_t r = xType.getRank();
  if (r < 3 || outType.getRank() != r)
    return fail("not x (..., H, K) times blocks W (H, N, K)");
  Type elt = xType.getElementType();
  if ((!xType.getLayout().isIdentity() && !headwiseSliceOf(x)) ||
      !wType.getLayout().isIdentity() || !outType.getLayout().isIdentity())
    return fail("headwise operands of a strided layout other than blocks of "
                "a 16-byte aligned slice of x's last dimension");
  if (!wType.hasStaticShape())
    return fail("dynamic blocks");
  int64_t heads = wType.getDimSize(0), n = wType.getDimSize(1),
          k = wType.getDimSize(2);
  if (xType.getDimSize(r - 2) != heads || xType.getDimSize(r - 1) != k ||
      outType.getDimSize(r - 2) != heads || outType.getDimSize(r - 1) != n)
    return fail("mismatched blocks, K or N");
  int64_t kStep = elt.isF32() ? 8 : 16;
  int64_t bytes = elt.getIntOrFloatBitWidth() / 8;
  // (Each block's rows of x and y start 16-byte aligned.)
  if (k % kStep != 0 || (k * bytes) % kOperandAlignment != 0 ||
      (n * 4) % kOperandAlignment != 0 || n % 8 != 0)
    return fail("blocks of K = " + Twine(k) + ", N = " + Twine(n) +
                ": K must be a multiple of " + Twine(kStep) +
                " and of 16 bytes, N of 8");
  if (!hasProjectionMaps(op, r, /*headwise=*/true))
    return fail("indexing maps are not y[..., h, n] += x[..., h, k] "
                "W[h, n, k]");
  return Projection{x, w, out, k, heads};
}

/// The projection `op` computes, or the reason it is not one the kernels
/// here take (it shows in the lowering report).
FailureOr<Projection> matchProjection(linalg::ContractOp op,
                                      std::string &whyNot) {
  auto fail = [&](const Twine &reason) {
    whyNot = reason.str();
    return failure();
  };
  if (!op.hasPureBufferSemantics() || op.getDpsInputs().size() != 2)
    return fail("not a two-operand contraction on buffers");
  Value x = op.getDpsInputs()[0], w = op.getDpsInputs()[1];
  Value out = op.getDpsInits()[0];
  auto xType = cast<MemRefType>(x.getType());
  auto wType = cast<MemRefType>(w.getType());
  auto outType = cast<MemRefType>(out.getType());
  int64_t r = xType.getRank();
  Type elt = xType.getElementType();
  if (!(elt.isBF16() || elt.isF16() || elt.isF32()) ||
      wType.getElementType() != elt || !outType.getElementType().isF32())
    return fail("operands not all bf16, f16 or f32 with a f32 result");
  if (wType.getRank() == 3)
    return matchHeadwise(op, x, w, out, whyNot);
  if (r < 2 || wType.getRank() != 2 || outType.getRank() != r)
    return fail("not x (..., K) times a matrix W (N, K)");
  if ((!xType.getLayout().isIdentity() && !lastDimSlice(x)) ||
      (!outType.getLayout().isIdentity() && !lastDimSlice(out)) ||
      !isReadableMatrix(wType))
    return fail("strided operands other than 16-byte aligned slices of the "
                "last dimension");
  int64_t k = xType.getShape().back();
  // The k step of the mma: 16 for 16-bit operands, 8 for tf32.
  int64_t kStep = elt.isF32() ? 8 : 16;
  if (ShapedType::isDynamic(k) || wType.getShape()[1] != k ||
      ShapedType::isDynamic(wType.getShape()[0]) ||
      outType.getShape().back() != wType.getShape()[0])
    return fail("dynamic or mismatched K or N");
  if (k % kStep != 0)
    return fail("K = " + Twine(k) + " is not a multiple of " + Twine(kStep));
  if (!hasProjectionMaps(op, r))
    return fail("indexing maps are not y[..., n] += x[..., k] W[n, k]");
  return Projection{x, w, out, k};
}

/// For a contraction that would be a projection but for its K (not a
/// multiple of the mma's k step): x and W copied into zero-filled buffers
/// whose K is padded (to 32 for 16-bit operands, the staged kernels' step;
/// to 8 for float32), the contraction switched to them. The zeros add
/// nothing; the two copies per call cost far less than the generic
/// kernel. Returns whether it padded.
constexpr llvm::StringLiteral kPaddedKAttr = "xlstm.padded_k";

bool padOddK(linalg::ContractOp op, RewriterBase &rewriter) {
  if (!op.hasPureBufferSemantics() || op.getDpsInputs().size() != 2)
    return false;
  Value x = op.getDpsInputs()[0], w = op.getDpsInputs()[1];
  auto xType = cast<MemRefType>(x.getType());
  auto wType = cast<MemRefType>(w.getType());
  auto outType = cast<MemRefType>(op.getDpsInits()[0].getType());
  Type elt = xType.getElementType();
  int64_t r = xType.getRank();
  if (r < 2 || wType.getRank() != 2 || outType.getRank() != r ||
      !(elt.isBF16() || elt.isF16() || elt.isF32()) ||
      wType.getElementType() != elt || !outType.getElementType().isF32() ||
      !wType.hasStaticShape())
    return false;
  int64_t k = xType.getShape().back(), kStep = elt.isF32() ? 8 : 16;
  // (Only where the padded contraction is then a projection the kernels
  // take: otherwise the copies would come on top of the generic kernel.)
  Value out = op.getDpsInits()[0];
  if (ShapedType::isDynamic(k) || wType.getShape()[1] != k ||
      k % kStep == 0 || outType.getShape().back() != wType.getShape()[0] ||
      (!outType.getLayout().isIdentity() && !lastDimSlice(out)) ||
      !hasProjectionMaps(op, r))
    return false;
  int64_t padded = llvm::alignTo(k, elt.isF32() ? 8 : 32);
  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  Value zero =
      arith::ConstantOp::create(rewriter, loc, rewriter.getZeroAttr(elt));
  // A zero-filled (..., padded) buffer with `source` in its first K
  // columns.
  auto pad = [&](Value source, MemRefType type) -> Value {
    SmallVector<int64_t> shape(type.getShape());
    shape.back() = padded;
    SmallVector<Value> dynamic;
    for (int64_t d = 0; d + 1 < type.getRank(); ++d)
      if (type.isDynamicDim(d))
        dynamic.push_back(memref::DimOp::create(rewriter, loc, source, d));
    Value buffer = memref::AllocOp::create(
        rewriter, loc, MemRefType::get(shape, elt), dynamic);
    linalg::FillOp::create(rewriter, loc, zero, buffer);
    SmallVector<OpFoldResult> offsets(type.getRank(), rewriter.getIndexAttr(0));
    SmallVector<OpFoldResult> sizes =
        memref::getMixedSizes(rewriter, loc, source);
    SmallVector<OpFoldResult> strides(type.getRank(),
                                      rewriter.getIndexAttr(1));
    Value columns = memref::SubViewOp::create(rewriter, loc, buffer, offsets,
                                              sizes, strides);
    linalg::CopyOp::create(rewriter, loc, source, columns);
    return buffer;
  };
  Value xPadded = pad(x, xType), wPadded = pad(w, wType);
  rewriter.modifyOpInPlace(op, [&] {
    op->setOperand(0, xPadded);
    op->setOperand(1, wPadded);
    // (The report shows the projection's own K.)
    op->setAttr(kPaddedKAttr, rewriter.getI64IntegerAttr(k));
  });
  return true;
}

/// Stores accumulator e of mma tile (mi, ni) — four per tile, row-major over
/// (mi, ni) — at (row(mi, e), col(ni, e)) of `out` where that lies inside
/// (m, n), rounded to `out`'s element type. Accumulators e and e + 1 are
/// adjacent columns of one row: into a 16-bit `out` of even width they go
/// as one 32-bit store, all of a thread's pairs rounded before its first
/// store (half the registers of the float32 accumulators through the
/// guarded stores).
/// With `atomically`, each value is added to `out` by an atomic add (split
/// K: several blocks add their partial sums); with `addToOut`, to what
/// `out` holds by a load and an add.
void storeTiles(OpBuilder &b, Location loc, ValueRange acc, Value out, Value m,
                Value n, int64_t tilesM, int64_t tilesN,
                function_ref<Value(int64_t, int64_t)> row,
                function_ref<Value(int64_t, int64_t)> col,
                bool atomically = false, bool evenView = false,
                bool addToOut = false, bool float32Pairs = false,
                bool guarded = true) {
  auto lt = [&](Value x, Value y) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, x, y);
  };
  auto outType = cast<MemRefType>(out.getType());
  Type elt = outType.getElementType();
  std::optional<int64_t> width = getConstantIntValue(n);
  // (`evenView`: a strided `out` whose offset and row stride the caller
  // knows to be even, so that pairs stay 4-byte aligned.)
  // (An added-to `out` is a float32 accumulation.)
  assert((!addToOut || elt.isF32()) && "addToOut adds to float32");
  // A lane's two adjacent columns (e, e + 1) in one 4-byte store of 16-bit
  // values, or with `float32Pairs` one 8-byte load/store of float32 ones
  // (a warp's store then writes whole 32-byte sectors).
  bool pairs =
      !atomically &&
      (elt.getIntOrFloatBitWidth() == 16 || (float32Pairs && elt.isF32())) &&
      (outType.getLayout().isIdentity() || evenView) && width &&
      *width % 2 == 0;
  SmallVector<Value> rounded; // 16-bit pairs (never added to `out`)
  if (pairs && elt.getIntOrFloatBitWidth() == 16)
    for (int64_t i = 0; i < tilesM * tilesN * 4; i += 2)
      rounded.push_back(arith::TruncFOp::create(
          b, loc, VectorType::get({2}, elt),
          vector::FromElementsOp::create(b, loc,
                                         VectorType::get({2}, acc[i].getType()),
                                         ValueRange{acc[i], acc[i + 1]})));
  for (int64_t mi = 0; mi < tilesM; ++mi)
    for (int64_t ni = 0; ni < tilesN; ++ni)
      for (int64_t e = 0; e < 4; e += pairs ? 2 : 1) {
        Value r = row(mi, e), c = col(ni, e);
        OpBuilder::InsertionGuard g(b);
        if (guarded) {
          Value inside = arith::AndIOp::create(b, loc, lt(r, m), lt(c, n));
          auto guard = scf::IfOp::create(b, loc, inside, /*else=*/false);
          b.setInsertionPointToStart(guard.thenBlock());
        }
        Value v = acc[(mi * tilesN + ni) * 4 + e];
        if (pairs) {
          auto pairType = VectorType::get({2}, elt);
          int64_t alignment = 2 * elt.getIntOrFloatBitWidth() / 8;
          if (!rounded.empty()) {
            vector::StoreOp::create(
                b, loc, rounded[((mi * tilesN + ni) * 4 + e) / 2], out,
                ValueRange{r, c}, /*nontemporal=*/false,
                b.getI64IntegerAttr(alignment));
            continue;
          }
          // (Float32 pairs: stored as the accumulators hold them.)
          Value two = vector::FromElementsOp::create(
              b, loc, pairType,
              ValueRange{v, acc[(mi * tilesN + ni) * 4 + e + 1]});
          if (addToOut)
            two = arith::AddFOp::create(
                b, loc, two,
                vector::LoadOp::create(b, loc, pairType, out, ValueRange{r, c},
                                       /*nontemporal=*/false,
                                       b.getI64IntegerAttr(alignment)));
          vector::StoreOp::create(b, loc, two, out, ValueRange{r, c},
                                  /*nontemporal=*/false,
                                  b.getI64IntegerAttr(alignment));
          continue;
        }
        if (addToOut)
          v = arith::AddFOp::create(
              b, loc, v, memref::LoadOp::create(b, loc, out, ValueRange{r, c}));
        if (elt != v.getType())
          v = arith::TruncFOp::create(b, loc, elt, v);
        if (atomically)
          memref::AtomicRMWOp::create(b, loc, arith::AtomicRMWKind::addf, v,
                                      out, ValueRange{r, c});
        else
          memref::StoreOp::create(b, loc, v, out, ValueRange{r, c});
      }
}

/// acc[mi][ni] += a[mi] * b[ni] on m16n8k16 tiles; `acc` holds four floats
/// per (mi, ni), row-major over (mi, ni).
void multiplyTiles(OpBuilder &b, Location loc, Type elt,
                   ArrayRef<SmallVector<Value>> a,
                   ArrayRef<SmallVector<Value>> bFrags,
                   MutableArrayRef<Value> acc) {
  int64_t tilesN = bFrags.size();
  for (auto [mi, aFrag] : llvm::enumerate(a))
    for (auto [ni, bFrag] : llvm::enumerate(bFrags)) {
      MutableArrayRef<Value> c = acc.slice((mi * tilesN + ni) * 4, 4);
      SmallVector<Value> d = xlstm::mma16x8x16(b, loc, elt, aFrag, bFrag,
                                               SmallVector<Value>(c));
      llvm::copy(d, c.begin());
    }
}

/// The 16-bit m16n8k16 operand fragments of one 16-wide K slice staged in
/// shared memory `smem` (indexed lead..., row, column), loaded with
/// ldmatrix.x4 by lane `lane`; `column(r, c)` is the column where the
/// 16-byte chunk c of staged row r begins, and the slice is chunks kChunk
/// and kChunk + 1. A: four registers for each of `tiles` 16-row tiles from
/// row `row0`; B (`weights`: W's rows): two registers for each of `tiles`
/// (even) 8-row tiles from row `row0`, one ldmatrix per two tiles.
SmallVector<SmallVector<Value>>
loadFragments(OpBuilder &b, Location loc, Value smem, ValueRange lead,
              Value row0, int64_t tiles, Value kChunk, Value lane,
              function_ref<Value(Value, Value)> column, bool weights) {
  auto idx = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  auto add = [&](Value x, Value y) -> Value {
    return arith::AddIOp::create(b, loc, x, y);
  };
  auto divui = [&](Value x, int64_t y) -> Value {
    return arith::DivUIOp::create(b, loc, x, idx(y));
  };
  auto remui = [&](Value x, int64_t y) -> Value {
    return arith::RemUIOp::create(b, loc, x, idx(y));
  };
  Type elt = cast<MemRefType>(smem.getType()).getElementType();
  SmallVector<SmallVector<Value>> fragments(tiles);
  // A: lanes 0-15 address rows 0-15 at chunk 0, lanes 16-31 the same rows
  // at chunk 1; B: lanes 8j..8j+7 rows (j / 2) * 8 .. + 7 at chunk j % 2.
  for (int64_t i = 0; i < (weights ? tiles / 2 : tiles); ++i) {
    Value laneRow =
        weights ? add(arith::MulIOp::create(b, loc, divui(lane, 16), idx(8)),
                      remui(lane, 8))
                : remui(lane, 16);
    Value row = add(add(row0, idx(i * 16)), laneRow);
    Value laneChunk = weights ? remui(divui(lane, 8), 2) : divui(lane, 16);
    Value col = column(row, add(kChunk, laneChunk));
    SmallVector<Value> at(lead);
    at.append({row, col});
    Value f = nvgpu::LdMatrixOp::create(b, loc, VectorType::get({4, 2}, elt),
                                        smem, at, b.getBoolAttr(false),
                                        b.getI32IntegerAttr(4));
    SmallVector<Value> regs = xlstm::ldmatrixRegisters(b, loc, f);
    if (!weights) {
      fragments[i] = regs;
      continue;
    }
    fragments[2 * i] = {regs[0], regs[1]};
    fragments[2 * i + 1] = {regs[2], regs[3]};
  }
  return fragments;
}

/// Builds the kernel body; `b` is inside the gpu.func.
class MMAKernelBuilder {
public:
  /// With `accumulate`, out += x W^T: the accumulators start from `out`,
  /// or with `addInEpilogue` (a float32 `out`) from zero, `out` added when
  /// they are stored (as StagedMMAKernelBuilder's).
  MMAKernelBuilder(OpBuilder &b, Location loc, TileShape tile, bool accumulate,
                   bool addInEpilogue = false)
      : b(b), loc(loc), tile(tile), accumulate(accumulate && !addInEpilogue),
        addInEpilogue(accumulate && addInEpilogue), i32(b.getI32Type()),
        f32(b.getF32Type()) {}

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value min(Value x, Value y) { return arith::MinUIOp::create(b, loc, x, y); }
  Value lt(Value x, Value y) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, x, y);
  }

  /// Two consecutive 16-bit elements at (row, col): one 32-bit load (the
  /// column is even, K a multiple of 16, the layout the identity), as the
  /// register nvvm.mma.sync takes: an i32 for bf16 (MLIR 22 lowers bf16
  /// only that way), a vector<2xf16> for f16.
  Value loadPair(Value m, Value row, Value col) {
    auto elt = cast<MemRefType>(m.getType()).getElementType();
    Value v = vector::LoadOp::create(
        b, loc, VectorType::get({2}, elt), m, ValueRange{row, col},
        /*nontemporal=*/false, b.getI64IntegerAttr(4));
    if (elt.isF16())
      return v;
    Value word =
        vector::BitCastOp::create(b, loc, VectorType::get({1}, i32), v);
    return vector::ExtractOp::create(b, loc, word, ArrayRef<int64_t>{0});
  }

  void build(Value x, Value w, Value out, Value m, Value n, int64_t k,
             gpu::KernelDim3 blockIds, gpu::KernelDim3 threadIds) {
    Value c8 = idx(8), c32 = idx(32);
    Value tid = threadIds.x;
    Value lane = arith::RemUIOp::create(b, loc, tid, c32);
    Value warp = arith::DivUIOp::create(b, loc, tid, c32);
    xlstm::MmaLane mmaLane = xlstm::MmaLane::of(b, loc, lane);
    Value g = mmaLane.group, t2 = mmaLane.pairColumn(b, loc);
    Value warpM = arith::DivUIOp::create(b, loc, warp, idx(tile.warpsN));
    Value warpN = arith::RemUIOp::create(b, loc, warp, idx(tile.warpsN));
    // Rows (dynamic, possibly many) on grid x, whose limit is 2^31 - 1.
    Value m0 = add(mul(blockIds.x, idx(tile.blockM())),
                   mul(warpM, idx(tile.tilesM * 16)));
    Value n0 = add(mul(blockIds.y, idx(tile.blockN())),
                   mul(warpN, idx(tile.tilesN * 8)));
    Value lastM = arith::SubIOp::create(b, loc, m, idx(1));
    Value lastN = arith::SubIOp::create(b, loc, n, idx(1));

    // Rows and columns this lane touches, clamped for loads.
    SmallVector<Value> rows, rowsClamped; // [mi][half]
    for (int64_t mi = 0; mi < tile.tilesM; ++mi)
      for (int64_t h = 0; h < 2; ++h) {
        Value r = add(add(m0, idx(mi * 16 + h * 8)), g);
        rows.push_back(r);
        rowsClamped.push_back(min(r, lastM));
      }
    SmallVector<Value> cols, colsClamped; // C columns [ni][j]
    SmallVector<Value> wRows;             // B column g of tile ni
    for (int64_t ni = 0; ni < tile.tilesN; ++ni) {
      wRows.push_back(min(add(add(n0, idx(ni * 8)), g), lastN));
      for (int64_t j = 0; j < 2; ++j) {
        Value c = add(add(n0, idx(ni * 8 + j)), t2);
        cols.push_back(c);
        colsClamped.push_back(min(c, lastN));
      }
    }
    auto accIndex = [&](int64_t mi, int64_t ni, int64_t e) {
      return (mi * tile.tilesN + ni) * 4 + e;
    };
    // The accumulators start from `out` (the contraction adds to it).
    SmallVector<Value> acc(tile.tilesM * tile.tilesN * 4);
    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
    for (int64_t mi = 0; mi < tile.tilesM; ++mi)
      for (int64_t ni = 0; ni < tile.tilesN; ++ni)
        for (int64_t e = 0; e < 4; ++e) {
          if (!accumulate) {
            acc[accIndex(mi, ni, e)] = zero;
            continue;
          }
          int64_t h = e / 2, j = e % 2;
          Value r = rowsClamped[mi * 2 + h], c = colsClamped[ni * 2 + j];
          Value v = memref::LoadOp::create(b, loc, out, ValueRange{r, c});
          Value inside = arith::AndIOp::create(b, loc, lt(rows[mi * 2 + h], m),
                                               lt(cols[ni * 2 + j], n));
          acc[accIndex(mi, ni, e)] =
              arith::SelectOp::create(b, loc, inside, v, zero);
        }

    auto loop = scf::ForOp::create(
        b, loc, idx(0), idx(k), idx(16), acc,
        [&](OpBuilder &nb, Location nloc, Value kk, ValueRange iter) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(nb.getInsertionBlock());
          Value k0 = add(kk, t2), k8 = add(k0, c8);
          SmallVector<SmallVector<Value>> a(tile.tilesM);
          for (int64_t mi = 0; mi < tile.tilesM; ++mi) {
            Value r0 = rowsClamped[mi * 2], r8 = rowsClamped[mi * 2 + 1];
            a[mi] = {loadPair(x, r0, k0), loadPair(x, r8, k0),
                     loadPair(x, r0, k8), loadPair(x, r8, k8)};
          }
          SmallVector<SmallVector<Value>> bf(tile.tilesN);
          for (int64_t ni = 0; ni < tile.tilesN; ++ni)
            bf[ni] = {loadPair(w, wRows[ni], k0), loadPair(w, wRows[ni], k8)};
          SmallVector<Value> next(iter);
          multiplyTiles(b, loc, cast<MemRefType>(x.getType()).getElementType(),
                        a, bf, next);
          scf::YieldOp::create(b, loc, next);
        });

    storeTiles(
        b, loc, loop.getResults(), out, m, n, tile.tilesM, tile.tilesN,
        [&](int64_t mi, int64_t e) { return rows[mi * 2 + e / 2]; },
        [&](int64_t ni, int64_t e) { return cols[ni * 2 + e % 2]; },
        /*atomically=*/false, /*evenView=*/false, addInEpilogue);
  }

private:
  OpBuilder &b;
  Location loc;
  TileShape tile;
  bool accumulate, addInEpilogue;
  Type i32, f32;
};

/// The shared-memory pipelined kernel's configuration: a (blockM x blockN)
/// block tile of warpsM x warpsN warps (each (blockM / warpsM) x (blockN /
/// warpsN), i.e. tilesM() x tilesN() mma tiles), K in steps of blockK,
/// `stages` of them in flight in dynamic shared memory, filled by cp.async
/// (16 bytes per copy, zero-filled past M and N), fragments loaded with
/// ldmatrix. The eight 16-byte rows an ldmatrix reads must lie in distinct
/// banks: either the staged rows are padded by 8 elements (16 bytes), or,
/// with `swizzle`, rows stay dense and the 16-byte chunk c of row r is
/// stored at chunk c ^ swizzleKey(r) (the XOR layout CUTLASS and upstream
/// nvgpu use), which saves the padding's shared memory: 128x256x64 tiles
/// fit four stages in 192 KiB instead of three in 162 KiB.
/// With groupM > 0 the blocks run in groups of groupM block rows (M) that
/// sweep N together, so that the blocks resident at once share their A and
/// W tiles in L2 (a 1-D grid); 0 is the plain 2-D grid. Needs K % blockK
/// == 0.
struct StagedTile {
  int64_t blockM = 128, blockN = 128, blockK = 32;
  int64_t warpsM = 2, warpsN = 4;
  int64_t groupM = 0;
  int64_t stages = 0; ///< 0: the pass's `stages` option
  bool swizzle = false;
  /// Output tiles a block runs one after another (1: one; more: the grid
  /// is that many times smaller, and each next tile's first stages are
  /// loaded before the previous tile's results are stored; 0: as many as
  /// the launch says, a kernel argument).
  int64_t tilesPerBlock = 1;
  bool severalTiles() const { return tilesPerBlock != 1; }
  /// The same tile, warps and stages (the options' configuration, whatever
  /// the tiles a block).
  bool sameShape(const StagedTile &o) const {
    return std::tie(blockM, blockN, blockK, warpsM, warpsN, stages) ==
           std::tie(o.blockM, o.blockN, o.blockK, o.warpsM, o.warpsN, o.stages);
  }
  int64_t tilesM() const { return blockM / (16 * warpsM); } // per warp
  int64_t tilesN() const { return blockN / (8 * warpsN); }
  int64_t rowStride() const { return swizzle ? blockK : blockK + 8; }
  int64_t threads() const { return 32 * warpsM * warpsN; }
  /// Dynamic shared memory of `stages` stages of both operands.
  int64_t sharedBytes(int64_t elementBits, int64_t stages) const {
    return stages * (blockM + blockN) * rowStride() * elementBits / 8;
  }
  /// "BMxBNxBK/WMxWN[/S]" (the staged-tile options' spelling; S: stages).
  static FailureOr<StagedTile> parse(StringRef spec, int64_t groupM,
                                     int64_t stages, bool swizzle,
                                     int64_t maxSharedBytes,
                                     std::string &error) {
    StagedTile t;
    t.groupM = groupM;
    t.swizzle = swizzle;
    auto [blocks, rest] = spec.split('/');
    auto [warps, stageCount] = rest.split('/');
    if (!stageCount.empty()) {
      if (stageCount.getAsInteger(10, t.stages) || t.stages < 2 ||
          t.stages > 8) {
        error = ("staged tile '" + spec + "': stages must be 2 to 8").str();
        return failure();
      }
      stages = t.stages;
    }
    SmallVector<StringRef> b, w;
    blocks.split(b, 'x');
    warps.split(w, 'x');
    auto fail = [&](const Twine &why) -> FailureOr<StagedTile> {
      error = ("staged tile '" + spec + "': " + why).str();
      return failure();
    };
    if (b.size() != 3 || w.size() != 2 || b[0].getAsInteger(10, t.blockM) ||
        b[1].getAsInteger(10, t.blockN) || b[2].getAsInteger(10, t.blockK) ||
        w[0].getAsInteger(10, t.warpsM) || w[1].getAsInteger(10, t.warpsN))
      return fail("expected BMxBNxBK/WMxWN[/STAGES], e.g. 128x128x32/2x4");
    if (t.blockM < 1 || t.blockN < 1)
      return fail("the block tile must be positive");
    if (t.warpsM < 1 || t.warpsN < 1 || t.threads() > 1024)
      return fail("1 to 32 warps");
    if (t.blockM % (16 * t.warpsM) || t.blockN % (16 * t.warpsN) ||
        t.blockK % 16 || t.blockK < 16)
      return fail("each warp needs whole 16x16 tiles and K steps of a "
                  "multiple of 16");
    // Every thread copies the same number of 16-byte chunks per stage.
    if ((t.blockM * t.blockK / 8) % t.threads() ||
        (t.blockN * t.blockK / 8) % t.threads())
      return fail("the 16-byte chunks of a stage must spread evenly over "
                  "the threads");
    // Checked for 2-byte operands.
    if (stages >= 2 && t.sharedBytes(16, stages) > maxSharedBytes)
      return fail("stages x (BM + BN) x " +
                  Twine(swizzle ? "BK" : "(BK + 8)") + " x 2 bytes = " +
                  Twine(t.sharedBytes(16, stages)) + " exceed the " +
                  Twine(maxSharedBytes) +
                  " bytes of shared memory a block may have (shared-bytes)");
    if (groupM < 0)
      return fail("staged-group-m must be at least 0");
    return t;
  }
};

class StagedMMAKernelBuilder {
public:
  /// Two projections of one x whose outputs meet only in one elementwise op
  /// (the gated FFN's act(x Wg^T) * (x Wu^T)), computed by one kernel that
  /// stores that op's result: the block tile's W rows alternate between the
  /// two weights every 8 rows (one mma tile's width), so n tiles 2j and
  /// 2j + 1 of a warp hold the same 8 output columns of the first and the
  /// second projection, and each lane holds both operands of the outputs it
  /// stores. The grid spans 2 N columns of that interleaved W.
  struct Gated {
    Value second;  ///< the second projection's W
    Value columns; ///< N of each projection
    /// Where the second projection's rows start in `second` (0, or N where
    /// both are halves of one W: a projection of 2 N outputs whose halves
    /// only the elementwise op reads).
    int64_t secondRowOffset = 0;
    /// The elementwise op's result from the first and second projection's
    /// float32 values, of `out`'s element type.
    function_ref<Value(OpBuilder &, Location, Value, Value)> combine;
    /// Set for a sibling pair (two projections of one x, both results
    /// wanted): the second's output, of `out`'s type; each projection's
    /// values go to its own output and `combine` is unused.
    Value secondOut = nullptr;
  };

  /// With `accumulate`, out += x W^T: the accumulators start from `out`,
  /// or with `addInEpilogue` from zero, `out` added when they are stored
  /// (the products' float32 sum keeps its own precision before a large
  /// residual joins it, the order of y = x W^T; r = r + y).
  /// With `float32Pairs`, a float32 `out` is stored (and read, where
  /// added to) two adjacent columns at a time.
  StagedMMAKernelBuilder(OpBuilder &b, Location loc, const StagedTile &t,
                         bool accumulate, const Gated *gated = nullptr,
                         bool evenView = false, bool addInEpilogue = false,
                         bool float32Pairs = false)
      : b(b), loc(loc), t(t), accumulate(accumulate && !addInEpilogue),
        addInEpilogue(accumulate && addInEpilogue), gated(gated),
        evenView(evenView), float32Pairs(float32Pairs), i32(b.getI32Type()),
        f32(b.getF32Type()) {}

  /// Whole tiles store without a bounds check per store (one a tile).
  bool wholeTileStores = false;
  /// Results go through shared memory and out in 16-byte row chunks
  /// (storeThroughShared; the caller checks that it applies). With several
  /// tiles a block the copy lies behind the stages (the next tile's loads
  /// are in flight in them while a tile stores), the launch's dynamic
  /// shared memory grown by sharedEpilogueBytes.
  bool sharedEpilogue = false;
  /// Tiles a block where t.tilesPerBlock is 0 (a kernel argument).
  Value tilesPerBlockArgument;

  /// With `swizzle`, whether storeThroughShared's copy of rows of `columns`
  /// `elementBytes`-byte values is dense and swizzled (16-bit rows of whole
  /// 128-byte lines: a warp's 4-byte pairs of one chunk in 8 consecutive
  /// rows fall in distinct banks, as an ldmatrix's rows do) rather than
  /// padded by 8 values (float32 pairs span two chunks, which the XOR keys
  /// of neighbouring rows would swap onto each other).
  static bool swizzledCopy(bool swizzle, int64_t columns,
                           int64_t elementBytes) {
    return swizzle && elementBytes == 2 && columns * elementBytes % 128 == 0;
  }
  /// Values a row of that copy takes.
  static int64_t copyRowStride(bool swizzle, int64_t columns,
                               int64_t elementBytes) {
    return swizzledCopy(swizzle, columns, elementBytes) ? columns : columns + 8;
  }
  /// Bytes of shared memory storeThroughShared takes for `outputs` copies
  /// of BM rows of `columns` `elementBytes`-byte values.
  static int64_t sharedEpilogueBytes(const StagedTile &t, bool swizzle,
                                     int64_t outputs, int64_t columns,
                                     int64_t elementBytes) {
    return outputs * t.blockM * copyRowStride(swizzle, columns, elementBytes) *
           elementBytes;
  }
  /// The copy swizzled where it may be (swizzledCopy).
  bool swizzleCopy = false;
  /// W's rows staged in the order that gives each lane one 16-byte chunk of
  /// consecutive output columns of each of its rows in every group of
  /// permutedTiles n tiles (permutedRow), which it stores straight from its
  /// accumulators (storePermuted: no copy through shared memory, no
  /// barrier). The caller checks that it applies (permutedStoresApply).
  bool permutedColumns = false;
  /// The n tiles of such a group: 4 for 16-bit outputs (8 values of 2
  /// bytes a lane), 2 for float32 (4 of 4 bytes).
  int64_t permutedTiles = 4;
  static int64_t permutedTilesFor(Type outElt) {
    return 8 / (outElt.getIntOrFloatBitWidth() / 8);
  }

  /// Whether permutedColumns fits a warp's `tilesN` n tiles (plain, or a
  /// gated or sibling pair's where `gated`) of rows of 16-bit or float32
  /// values `width` wide: a warp's n tiles of one output come in whole
  /// groups, and the rows' 16-byte chunks lie whole inside or outside. (The
  /// caller checks that the outputs are written, not added to.) The
  /// resident-weight kernel's stores use it too.
  static bool permutedStoresApply(int64_t tilesN, bool gated, Type outElt,
                                  int64_t width) {
    if (!outElt.isBF16() && !outElt.isF16() && !outElt.isF32())
      return false;
    int64_t tiles = permutedTilesFor(outElt);
    return tilesN % (gated ? 2 * tiles : tiles) == 0 &&
           width % (2 * tiles) == 0;
  }

  /// The output column (within its group of 8 G columns) whose W row staged
  /// row `r` of the group holds under permutedColumns with groups of G n
  /// tiles: mma column 8 j + 2 t + e of n tile j (lane t's pair e) carries
  /// output column 2 G t + 2 j + e, so that lane t's values of the group's
  /// G n tiles are columns 2 G t..2 G t + 2 G - 1. (Also the resident-weight
  /// kernel's order.)
  static Value permutedRow(OpBuilder &b, Location loc, Value r, int64_t g) {
    auto idx = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(b, loc, v);
    };
    auto remui = [&](Value x, int64_t y) -> Value {
      return arith::RemUIOp::create(b, loc, x, idx(y));
    };
    auto divui = [&](Value x, int64_t y) -> Value {
      return arith::DivUIOp::create(b, loc, x, idx(y));
    };
    auto add = [&](Value x, Value y) -> Value {
      return arith::AddIOp::create(b, loc, x, y);
    };
    auto mul = [&](Value x, Value y) -> Value {
      return arith::MulIOp::create(b, loc, x, y);
    };
    Value tile = remui(divui(r, 8), g), lanePair = remui(divui(r, 2), 4);
    return add(add(mul(lanePair, idx(2 * g)), mul(tile, idx(2))), remui(r, 2));
  }
  Value permutedRow(Value r) { return permutedRow(b, loc, r, permutedTiles); }
  /// 16-byte chunks of the copy a thread reads before storing them (1: each
  /// read inside its store's bounds check).
  int64_t loadsAhead = 1;
  /// With several tiles a block, the stages run on across its tiles: the
  /// last stages - 1 iterations of a tile's K loop load the next tile's
  /// first K steps (runTiles' Continuation) instead of those loads being
  /// queued after the loop, so that they are in flight during the loop's
  /// last steps and the stores, and a tile needs no barrier of its own
  /// before them. Needs K steps >= stages - 1 (the caller checks).
  bool crossTilePrefetch = false;
  /// Where a tile's K steps continue the block's stream of stages
  /// (crossTilePrefetch): its K step 0 sits in stage `base`, and where
  /// `present`, the block's next tile starts at (m0, n0).
  struct Continuation {
    Value base, present, m0, n0;
  };

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value divui(Value x, int64_t y) {
    return arith::DivUIOp::create(b, loc, x, idx(y));
  }
  Value remui(Value x, int64_t y) {
    return arith::RemUIOp::create(b, loc, x, idx(y));
  }
  Value lt(Value x, Value y) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, x, y);
  }

  /// The column in shared memory where the 16-byte chunk `chunk` of staged
  /// row `row` begins (xlstm::swizzledColumn's layout where swizzled; the
  /// operands are 16-bit).
  Value storedColumn(Value row, Value chunk) {
    if (t.swizzle)
      return xlstm::swizzledChunkColumn(b, loc, row, chunk, t.blockK * 2, 2);
    return mul(chunk, idx(8));
  }

  /// Queues the copies of one K step of A (rows m0.., of x) and B (rows n0..
  /// of W) into stage `stage`.
  void loadStage(Value x, Value w, Value sa, Value sb, Value stage, Value k0,
                 Value m0, Value n0, Value m, Value n, Value tid) {
    Type token = nvgpu::DeviceAsyncTokenType::get(b.getContext());
    // 16-byte chunks: (rows x blockK / 8) per operand, spread over threads.
    int64_t chunksPerRow = t.blockK / 8;
    auto copy = [&](Value src, Value dst, Value base, Value limit, int64_t rows,
                    bool weights, bool interleaved) {
      for (int64_t c = 0; c < rows * chunksPerRow / t.threads(); ++c) {
        Value chunk = add(tid, idx(c * t.threads()));
        Value row = divui(chunk, chunksPerRow);
        Value within = remui(chunk, chunksPerRow);
        Value col = mul(within, idx(8));
        // (permutedColumns: within each group of 8 G rows of W's tile, the
        // rows of permutedRow's order; x's rows stay in order.)
        int64_t group = 8 * permutedTiles;
        bool permuted = permutedColumns && weights;
        Value global, source = src;
        if (!interleaved)
          global = permuted ? add(base, add(mul(divui(row, group), idx(group)),
                                            permutedRow(remui(row, group))))
                            : add(base, row);
        Value limitRow = global;
        if (interleaved) {
          // Staged row r of the tile at interleaved row `base` (a multiple
          // of 16): row base / 2 + (r / 16) * 8 + r % 8 of the first W
          // where r / 8 is even, of the second where it is odd.
          // (permutedColumns: staged rows 16 G q + 16 j + 8 s + 2 t + e hold
          // projection s's column 8 G q + 2 G t + 2 j + e, its n tile j of
          // the group q that permutedRow orders.)
          global = permuted
                       ? add(divui(base, 2),
                             add(mul(divui(row, 2 * group), idx(group)),
                                 permutedRow(add(
                                     mul(remui(divui(row, 16), permutedTiles),
                                         idx(8)),
                                     remui(row, 8)))))
                       : add(divui(base, 2),
                             add(mul(divui(row, 16), idx(8)), remui(row, 8)));
          Value odd = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne,
                                            remui(divui(row, 8), 2), idx(0));
          source = arith::SelectOp::create(b, loc, odd, gated->second, src);
          limitRow = global;
          if (gated->secondRowOffset)
            global = add(global, arith::SelectOp::create(
                                     b, loc, odd,
                                     idx(gated->secondRowOffset), idx(0)));
        }
        Value inside = lt(limitRow, limit);
        // Past the matrix: read a valid row, copy zero bytes of it.
        Value safe = arith::SelectOp::create(b, loc, inside, global, idx(0));
        Value srcElements =
            arith::SelectOp::create(b, loc, inside, idx(8), idx(0));
        // (Named in order: the IR does not depend on argument evaluation.)
        Value globalCol = add(k0, col);
        Value stored = storedColumn(row, within);
        nvgpu::DeviceAsyncCopyOp::create(
            b, loc, token, dst, ValueRange{stage, row, stored}, source,
            ValueRange{safe, globalCol}, b.getIndexAttr(8), srcElements,
            b.getUnitAttr());
      }
    };
    copy(x, sa, m0, m, t.blockM, /*weights=*/false, /*interleaved=*/false);
    copy(w, sb, n0, gated ? gated->columns : n, t.blockN, /*weights=*/true,
         /*interleaved=*/gated != nullptr);
  }

  /// The first stages - 1 K steps of the tile at (m0, n0) in flight, a
  /// commit each (empty past K), K step s at column kOffset(s): afterwards
  /// "step kt has landed" is always "at most stages - 2 groups pending".
  void queueFirstStages(Value x, Value w, Value sa, Value sb, Value m0,
                        Value n0, Value m, Value n, Value tid, int64_t stages,
                        int64_t kSteps, function_ref<Value(Value)> kOffset) {
    for (int64_t st = 0; st < stages - 1; ++st) {
      if (st < kSteps)
        loadStage(x, w, sa, sb, idx(st), kOffset(idx(st)), m0, n0, m, n, tid);
      commit();
    }
  }

  /// Closes the group of copies queued since the last commit (possibly
  /// none), and waits until at most `pending` groups are in flight.
  void commit() { NVVM::CpAsyncCommitGroupOp::create(b, loc); }
  void wait(int32_t pending) {
    NVVM::CpAsyncWaitGroupOp::create(b, loc, b.getI32IntegerAttr(pending));
  }

  /// `stages` K steps in flight: the operand tiles live in dynamic shared
  /// memory (A's stages, then B's), t.sharedBytes(bits, stages) bytes.
  /// With `split` (split K), block z of the grid takes K steps [z * per, (z
  /// + 1) * per) of `split->perSplit` and, when there is more than one
  /// split, adds its partial sums to `out` atomically (the caller zeroed
  /// `out` unless the contraction accumulates).
  struct SplitK {
    Value perSplit, numSplits; // host values, uniform in the kernel
  };
  void build(Value x, Value w, Value out, Value m, Value n, int64_t k,
             int64_t stages, const xlstm::KernelCache::Body &kernel,
             std::optional<SplitK> split = std::nullopt) {
    const int64_t tilesM = t.tilesM(), tilesN = t.tilesN();
    Type elt = cast<MemRefType>(x.getType()).getElementType();
    Attribute workgroup = gpu::AddressSpaceAttr::get(
        b.getContext(), gpu::AddressSpace::Workgroup);
    Value bytes = gpu::DynamicSharedMemoryOp::create(
        b, loc,
        MemRefType::get({ShapedType::kDynamic}, b.getI8Type(),
                        MemRefLayoutAttrInterface{}, workgroup));
    auto stagesView = [&](int64_t rows, int64_t offset) -> Value {
      return memref::ViewOp::create(
          b, loc,
          MemRefType::get({stages, rows, t.rowStride()}, elt,
                          MemRefLayoutAttrInterface{}, workgroup),
          bytes, idx(offset), ValueRange{});
    };
    Value sa = stagesView(t.blockM, 0);
    Value sb = stagesView(t.blockN, stages * t.blockM * t.rowStride() *
                                        elt.getIntOrFloatBitWidth() / 8);
    Value tid = kernel.threadIds.x;
    Value lane = remui(tid, 32), warp = divui(tid, 32);
    xlstm::MmaLane mmaLane = xlstm::MmaLane::of(b, loc, lane);
    Value g = mmaLane.group, t2 = mmaLane.pairColumn(b, loc);
    Value warpM = divui(warp, t.warpsN), warpN = remui(warp, t.warpsN);
    // One output tile at (m0, n0): its accumulators, K loop and stores.
    // Without `ownPrologue` its first stages were queued before (several
    // tiles a block); `beforeStore` runs between its K loop and its stores.
    auto runTile = [&](Value m0, Value n0, bool ownPrologue,
                       function_ref<void()> beforeStore,
                       const Continuation *continuation) {
      Value wm0 = mul(warpM, idx(tilesM * 16));
      Value wn0 = mul(warpN, idx(tilesN * 8));

      // This block's K steps: all, or its split's.
      int64_t kSteps = k / t.blockK;
      Value kBegin = idx(0), count = idx(kSteps), splitting;
      if (split) {
        kBegin = mul(kernel.blockIds.z, split->perSplit);
        count = arith::MinUIOp::create(
            b, loc, split->perSplit,
            arith::SubIOp::create(b, loc, idx(kSteps), kBegin));
        splitting = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt,
                                          split->numSplits, idx(1));
      }

      // The accumulators start from `out` (the contraction adds to it).
      auto accIndex = [&](int64_t mi, int64_t ni, int64_t e) {
        return (mi * tilesN + ni) * 4 + e;
      };
      auto accRow = [&](int64_t mi, int64_t e) {
        return add(add(m0, wm0), add(idx(mi * 16 + (e / 2) * 8), g));
      };
      auto accCol = [&](int64_t ni, int64_t e) {
        return add(add(n0, wn0), add(idx(ni * 8 + e % 2), t2));
      };
      Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
      SmallVector<Value> acc(tilesM * tilesN * 4);
      for (int64_t mi = 0; mi < tilesM; ++mi)
        for (int64_t ni = 0; ni < tilesN; ++ni)
          for (int64_t e = 0; e < 4; ++e) {
            if (!accumulate) {
              acc[accIndex(mi, ni, e)] = zero;
              continue;
            }
            Value r = accRow(mi, e), c = accCol(ni, e);
            Value inside = arith::AndIOp::create(b, loc, lt(r, m), lt(c, n));
            // Split blocks start from zero: `out` keeps its values and
            // receives their sums.
            if (splitting)
              inside = arith::AndIOp::create(
                  b, loc, inside,
                  arith::XOrIOp::create(
                      b, loc, splitting,
                      arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1)));
            auto load = scf::IfOp::create(b, loc, TypeRange{f32}, inside,
                                          /*withElseRegion=*/true);
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPointToStart(load.thenBlock());
            scf::YieldOp::create(
                b, loc,
                memref::LoadOp::create(b, loc, out, ValueRange{r, c})
                    .getResult());
            b.setInsertionPointToStart(load.elseBlock());
            scf::YieldOp::create(b, loc, zero);
            acc[accIndex(mi, ni, e)] = load.getResult(0);
          }

      auto kOffset = [&](Value step) {
        return mul(add(kBegin, step), idx(t.blockK));
      };
      // Prologue: the first stages - 1 K steps in flight (a split's own
      // steps guarded by its count); every iteration then commits one group.
      if (ownPrologue && !split)
        queueFirstStages(x, w, sa, sb, m0, n0, m, n, tid, stages, kSteps,
                         kOffset);
      for (int64_t st = 0; ownPrologue && split && st < stages - 1; ++st) {
        auto guard = scf::IfOp::create(b, loc, lt(idx(st), count),
                                       /*withElseRegion=*/false);
        {
          OpBuilder::InsertionGuard g(b);
          b.setInsertionPointToStart(guard.thenBlock());
          loadStage(x, w, sa, sb, idx(st), kOffset(idx(st)), m0, n0, m, n, tid);
        }
        commit();
      }
      auto loop = scf::ForOp::create(
          b, loc, idx(0), count, idx(1), acc,
          [&](OpBuilder &, Location, Value kt, ValueRange iter) {
            // (The stream's step: a continued tile's steps start at `base`.)
            auto streamStage = [&](Value step) {
              return remui(continuation ? add(step, continuation->base) : step,
                           stages);
            };
            Value stage = streamStage(kt);
            wait(stages - 2);
            // Every warp is done with the stage the prefetch below refills
            // (read in the previous iteration, maybe the previous tile's).
            gpu::BarrierOp::create(b, loc);
            Value next = add(kt, idx(stages - 1));
            Value own = lt(next, count);
            Value any = own;
            if (continuation)
              any = arith::OrIOp::create(b, loc, own, continuation->present);
            auto prefetch =
                scf::IfOp::create(b, loc, any, /*withElseRegion=*/false);
            {
              OpBuilder::InsertionGuard guard(b);
              b.setInsertionPointToStart(prefetch.thenBlock());
              Value rows = m0, columns = n0, step = next;
              // Past this tile's K: the next tile's step next - count.
              if (continuation) {
                auto pick = [&](Value mine, Value theirs) -> Value {
                  return arith::SelectOp::create(b, loc, own, mine, theirs);
                };
                rows = pick(m0, continuation->m0);
                columns = pick(n0, continuation->n0);
                step = pick(next, arith::SubIOp::create(b, loc, next, count));
              }
              loadStage(x, w, sa, sb, streamStage(next), kOffset(step), rows,
                        columns, m, n, tid);
            }
            commit();
            SmallVector<Value> c(iter);
            for (int64_t ks = 0; ks < t.blockK / 16; ++ks) {
              // 16-byte chunks: ks * 2 and ks * 2 + 1 hold this K slice.
              Value kChunk = idx(ks * 2);
              auto column = [&](Value row, Value chunk) {
                return storedColumn(row, chunk);
              };
              SmallVector<SmallVector<Value>> a =
                  loadFragments(b, loc, sa, stage, wm0, tilesM, kChunk, lane,
                                column, /*weights=*/false);
              SmallVector<SmallVector<Value>> bf =
                  loadFragments(b, loc, sb, stage, wn0, tilesN, kChunk, lane,
                                column, /*weights=*/true);
              // (Loading slice ks + 1's fragments before this slice's mma
              // was measured neutral on the H200.)
              multiplyTiles(b, loc, elt, a, bf, c);
            }
            scf::YieldOp::create(b, loc, c);
          });
      if (beforeStore)
        beforeStore();

      if (permutedColumns) {
        // (The accumulators' preload and split K's atomic adds take the
        // columns in order.)
        assert(!accumulate && !addInEpilogue && !split &&
               "permuted columns only for outputs written whole");
        storePermuted(loop.getResults(), out, m, n, add(m0, wm0), add(n0, wn0),
                      g, t2);
        return;
      }
      if (sharedEpilogue) {
        int64_t behindStages =
            t.severalTiles()
                ? t.sharedBytes(elt.getIntOrFloatBitWidth(), stages)
                : 0;
        storeThroughShared(loop.getResults(), bytes, behindStages, out, m, n,
                           m0, n0, wm0, wn0, g, t2, tid);
        return;
      }
      // (`guarded`: each store checks its bounds.)
      auto storeAll = [&](bool guarded) {
        if (gated && gated->secondOut)
          return storePair(loop.getResults(), out, m, add(n0, wn0), accRow, t2,
                           guarded);
        if (gated)
          return storeGated(loop.getResults(), out, m, add(n0, wn0), accRow, t2,
                            guarded);
        storeTiles(b, loc, loop.getResults(), out, m, n, tilesM, tilesN, accRow,
                   accCol, /*atomically=*/false, evenView, addInEpilogue,
                   float32Pairs, guarded);
      };
      // With wholeTileStores, a tile inside (m, n) stores without a bounds
      // check per store.
      if (wholeTileStores && !split) {
        auto ule = [&](Value x, Value y) {
          return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, x, y);
        };
        // (Named in order: the IR does not depend on argument evaluation.)
        Value rowsFit = ule(add(m0, idx(t.blockM)), m);
        Value columnsFit = ule(add(n0, idx(t.blockN)), n);
        Value whole = arith::AndIOp::create(b, loc, rowsFit, columnsFit);
        auto choice = scf::IfOp::create(b, loc, whole, /*withElseRegion=*/true);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(choice.thenBlock());
        storeAll(/*guarded=*/false);
        b.setInsertionPointToStart(choice.elseBlock());
        storeAll(/*guarded=*/true);
        return;
      }
      if (!split) {
        storeAll(/*guarded=*/true);
        return;
      }
      auto store =
          scf::IfOp::create(b, loc, splitting, /*withElseRegion=*/true);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(store.thenBlock());
      storeTiles(b, loc, loop.getResults(), out, m, n, tilesM, tilesN, accRow,
                 accCol, /*atomically=*/true);
      b.setInsertionPointToStart(store.elseBlock());
      storeTiles(b, loc, loop.getResults(), out, m, n, tilesM, tilesN, accRow,
                 accCol, /*atomically=*/false, /*evenView=*/false,
                 addInEpilogue, float32Pairs);
    };
    if (t.severalTiles()) {
      assert(!split && "several tiles a block run all of K");
      runTiles(x, w, sa, sb, m, n, k, stages, kernel, runTile);
      return;
    }
    auto [blockRow, blockCol] = blockPosition(kernel, m, n);
    Value m0 = mul(blockRow, idx(t.blockM));
    Value n0 = mul(blockCol, idx(t.blockN));
    runTile(m0, n0, /*ownPrologue=*/true, nullptr, nullptr);
  }

  /// Tiles tile, tile + G, ... (G the grid's blocks, up to t.tilesPerBlock
  /// or tilesPerBlockArgument of them) one after another: the first tile's
  /// first stages queued before its turn, each next tile's after the K loop
  /// of the one before and ahead of that one's stores, so that their loads
  /// are in flight while it stores (a K of a few steps leaves the loads of a
  /// tile's first stages and its stores unhidden otherwise).
  /// With crossTilePrefetch the next tile's first stages come from the K
  /// loop of the one before instead (Continuation).
  void runTiles(Value x, Value w, Value sa, Value sb, Value m, Value n,
                int64_t k, int64_t stages,
                const xlstm::KernelCache::Body &kernel,
                function_ref<void(Value, Value, bool, function_ref<void()>,
                                  const Continuation *)>
                    runTile) {
    Value tid = kernel.threadIds.x;
    int64_t kSteps = k / t.blockK;
    auto ceilDiv = [&](Value v, int64_t d) -> Value {
      return arith::CeilDivUIOp::create(b, loc, v, idx(d));
    };
    Value tiles = mul(ceilDiv(m, t.blockM), ceilDiv(n, t.blockN));
    Value perBlock =
        t.tilesPerBlock ? idx(t.tilesPerBlock) : tilesPerBlockArgument;
    assert(perBlock && "a run-time count of tiles a block is an argument");
    Value grid = arith::CeilDivUIOp::create(b, loc, tiles, perBlock);
    // Where tile `id` starts.
    auto origin = [&](Value id) -> std::pair<Value, Value> {
      auto [row, col] = tilePosition(id, m, n);
      Value m0 = mul(row, idx(t.blockM));
      Value n0 = mul(col, idx(t.blockN));
      return {m0, n0};
    };
    auto kOffset = [&](Value step) { return mul(step, idx(t.blockK)); };
    auto queueStagesOf = [&](Value id) {
      auto [m0, n0] = origin(id);
      queueFirstStages(x, w, sa, sb, m0, n0, m, n, tid, stages, kSteps,
                       kOffset);
    };
    // (Block-uniform conditions: every thread commits the same groups.)
    auto ifThen = [&](Value condition, function_ref<void()> then) {
      auto op = scf::IfOp::create(b, loc, condition, /*withElseRegion=*/false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(op.thenBlock());
      then();
    };
    Value first = kernel.blockIds.x;
    ifThen(lt(first, tiles), [&] { queueStagesOf(first); });
    scf::ForOp::create(
        b, loc, idx(0), perBlock, idx(1), ValueRange{},
        [&](OpBuilder &, Location, Value i, ValueRange) {
          Value tile = add(first, mul(i, grid));
          ifThen(lt(tile, tiles), [&] {
            std::pair<Value, Value> at = origin(tile);
            if (crossTilePrefetch) {
              assert(kSteps >= stages - 1 &&
                     "each tile's K loop has the next tile's first steps "
                     "to load");
              // Tiles before this one took i * kSteps steps of the stream.
              Value next = add(tile, grid);
              Value more = arith::AndIOp::create(
                  b, loc, lt(add(i, idx(1)), perBlock), lt(next, tiles));
              // (Where there is none, this tile's own origin: past the
              // last tile the grouped position may divide by zero.)
              auto [m0, n0] =
                  origin(arith::SelectOp::create(b, loc, more, next, tile));
              // (A whole number of rounds of the stages a tile: every tile
              // starts at stage 0, and the stage stays a constant's offset.)
              Value base = kSteps % stages == 0
                               ? idx(0)
                               : remui(mul(i, idx(kSteps)), stages);
              Continuation continuation{base, more, m0, n0};
              runTile(at.first, at.second, /*ownPrologue=*/false, nullptr,
                      &continuation);
              return;
            }
            runTile(
                at.first, at.second, /*ownPrologue=*/false,
                [&] {
                  // Every warp is done with the stages the next tile's loads
                  // refill.
                  gpu::BarrierOp::create(b, loc);
                  Value next = add(tile, grid);
                  Value more = arith::AndIOp::create(
                      b, loc, lt(add(i, idx(1)), perBlock), lt(next, tiles));
                  ifThen(more, [&] { queueStagesOf(next); });
                },
                nullptr);
          });
          scf::YieldOp::create(b, loc);
        });
  }

  /// The tile's results through shared memory: every warp writes its pairs
  /// (16-bit ones rounded) into a copy of the tile in the pipeline's
  /// (drained) buffers, laid out (swizzledCopy: dense and swizzled, else
  /// rows padded by 8 values) so that the 8 rows and 4 column pairs of a
  /// warp's store (a half-warp's, for float32) hit different banks; then the
  /// block stores whole 16-byte chunks of its rows, consecutive threads along a
  /// row (a warp writes whole 32-byte sectors, a quarter of the store
  /// instructions of 4-byte pairs, half of 8-byte ones), one bounds check a
  /// chunk. A sibling pair's two outputs (n tiles 2j and 2j + 1) are two such
  /// copies; a gated pair's combined values one. Needs N % 8 == 0 and 16-byte
  /// aligned rows of `out`.
  void storeThroughShared(ValueRange acc, Value bytes, int64_t offset,
                          Value out, Value m, Value n, Value m0, Value n0,
                          Value wm0, Value wn0, Value g, Value t2, Value tid) {
    bool pair = gated && gated->secondOut, combined = gated && !pair;
    int64_t outputs = pair ? 2 : 1, tilesN = t.tilesN();
    // (A gated or sibling pair's tile: half as many columns of each output.)
    int64_t columns = gated ? t.blockN / 2 : t.blockN;
    Type elt = cast<MemRefType>(out.getType()).getElementType();
    int64_t elementBytes = elt.getIntOrFloatBitWidth() / 8;
    int64_t stride = copyRowStride(swizzleCopy, columns, elementBytes);
    int64_t rowBytes = stride * elementBytes;
    bool swizzled = swizzledCopy(swizzleCopy, columns, elementBytes);
    Attribute workgroup = gpu::AddressSpaceAttr::get(
        b.getContext(), gpu::AddressSpace::Workgroup);
    // Every warp is done reading the stages (and, where the copy reuses
    // them, every copy has landed; behind them, the next tile's are in
    // flight).
    if (offset == 0)
      wait(0);
    gpu::BarrierOp::create(b, loc);
    // Two views of the copy: 4-byte pairs to write, 16-byte chunks to read.
    // (Memrefs of vectors: memref.load/store lower with the GPU's address
    // spaces, where vector.load/store on workgroup memory would first meet
    // convert-vector-to-llvm, which does not map them.)
    auto pairType = VectorType::get({2}, elt);
    int64_t perChunk = 128 / elt.getIntOrFloatBitWidth();
    auto chunkType = VectorType::get({perChunk}, elt);
    auto view = [&](VectorType vector) -> Value {
      int64_t per = vector.getNumElements();
      return memref::ViewOp::create(
          b, loc,
          MemRefType::get({outputs, t.blockM, stride / per}, vector,
                          MemRefLayoutAttrInterface{}, workgroup),
          bytes, idx(offset), ValueRange{});
    };
    Value pairs = view(pairType);
    for (int64_t mi = 0; mi < t.tilesM(); ++mi)
      for (int64_t ni = 0; ni < tilesN; ni += combined ? 2 : 1)
        for (int64_t e = 0; e < 4; e += 2) {
          int64_t at = (mi * tilesN + ni) * 4 + e;
          // A gated pair's n tiles 2j and 2j + 1 combine into one output's
          // (of its type); other sums are rounded to it.
          Value first = acc[at], second = acc[at + 1];
          if (combined) {
            first = gated->combine(b, loc, first, acc[at + 4]);
            second = gated->combine(b, loc, second, acc[at + 5]);
          }
          Value two = vector::FromElementsOp::create(
              b, loc, VectorType::get({2}, first.getType()),
              ValueRange{first, second});
          if (two.getType() != pairType)
            two = arith::TruncFOp::create(b, loc, pairType, two);
          Value row = add(wm0, add(idx(mi * 16 + (e / 2) * 8), g));
          // A pair's n tile 2j + p: output p's columns 8 j.. of the warp's.
          Value column = gated ? add(divui(wn0, 2), add(idx(ni / 2 * 8), t2))
                               : add(wn0, add(idx(ni * 8), t2));
          if (swizzled)
            column = xlstm::swizzledColumn(b, loc, row, column, rowBytes,
                                           elementBytes);
          memref::StoreOp::create(
              b, loc, two, pairs,
              ValueRange{idx(pair ? ni % 2 : 0), row, divui(column, 2)});
        }
    gpu::BarrierOp::create(b, loc);
    Value chunksOfRows = view(chunkType);
    int64_t chunksPerRow = columns / perChunk;
    int64_t chunks = outputs * t.blockM * chunksPerRow;
    Value width = gated ? gated->columns : n;
    Value column0 = gated ? divui(n0, 2) : n0;
    // The thread's chunks read from the copy `loadsAhead` at a time, then
    // stored, each store under its bounds check: the shared loads are
    // independent of the stores and of each other, and issue back to back
    // instead of each behind the branch of the store before it (all of a
    // float32 tile's at once held 128 registers and spilled). With one, the
    // read stays inside the check.
    struct Chunk {
      Value values, output, globalRow, globalColumn, inside;
      /// (loadsAhead 1: where to read inside the check.)
      Value row, stored;
    };
    auto read = [&](Value output, Value row, Value stored) -> Value {
      return memref::LoadOp::create(b, loc, chunksOfRows,
                                    ValueRange{output, row, stored});
    };
    SmallVector<Chunk> mine;
    auto storeMine = [&] {
      for (Chunk &c : mine) {
        OpBuilder::InsertionGuard guard(b);
        auto store = scf::IfOp::create(b, loc, c.inside, /*else=*/false);
        b.setInsertionPointToStart(store.thenBlock());
        Value values = c.values ? c.values : read(c.output, c.row, c.stored);
        auto storeTo = [&](Value target) {
          vector::StoreOp::create(
              b, loc, values, target, ValueRange{c.globalRow, c.globalColumn},
              /*nontemporal=*/false, b.getI64IntegerAttr(16));
        };
        if (addInEpilogue) {
          // out += the tile's sums, a chunk at a time (float32 only: the
          // copy holds the sums unrounded; pairs never accumulate).
          assert(!gated && "a pair's or gated kernel's output accumulates");
          values = arith::AddFOp::create(
              b, loc,
              vector::LoadOp::create(b, loc, chunkType, out,
                                     ValueRange{c.globalRow, c.globalColumn},
                                     /*nontemporal=*/false,
                                     b.getI64IntegerAttr(16)),
              values);
        }
        if (!pair) {
          storeTo(out);
          continue;
        }
        Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                            c.output, idx(0));
        auto which = scf::IfOp::create(b, loc, first, /*withElseRegion=*/true);
        b.setInsertionPointToStart(which.thenBlock());
        storeTo(out);
        b.setInsertionPointToStart(which.elseBlock());
        storeTo(gated->secondOut);
      }
      mine.clear();
    };
    for (int64_t i = 0; i < llvm::divideCeil(chunks, t.threads()); ++i) {
      Value chunk = add(tid, idx(i * t.threads()));
      Value inRange;
      if (chunks % t.threads()) {
        // (Past the copy: store nothing, and where read ahead of the check,
        // read chunk 0.)
        inRange = lt(chunk, idx(chunks));
        if (loadsAhead > 1)
          chunk = arith::SelectOp::create(b, loc, inRange, chunk, idx(0));
      }
      Value output = divui(chunk, t.blockM * chunksPerRow);
      Value within = remui(chunk, t.blockM * chunksPerRow);
      Value row = divui(within, chunksPerRow);
      Value chunkColumn = remui(within, chunksPerRow);
      Value column = mul(chunkColumn, idx(perChunk));
      Value globalRow = add(m0, row), globalColumn = add(column0, column);
      Value inside = arith::AndIOp::create(b, loc, lt(globalRow, m),
                                           lt(globalColumn, width));
      if (inRange)
        inside = arith::AndIOp::create(b, loc, inside, inRange);
      Value stored = chunkColumn;
      if (swizzled)
        stored = divui(xlstm::swizzledChunkColumn(b, loc, row, chunkColumn,
                                                  rowBytes, elementBytes),
                       perChunk);
      Value values = loadsAhead > 1 ? read(output, row, stored) : Value();
      mine.push_back(
          {values, output, globalRow, globalColumn, inside, row, stored});
      if (static_cast<int64_t>(mine.size()) >= loadsAhead)
        storeMine();
    }
    storeMine();
  }

  /// The tile's results under permutedColumns: lane t's values of a group of
  /// G = permutedTiles n tiles of one output (of a pair's: tiles 2 j + s,
  /// output s; of a gated pair's: tiles 2 j and 2 j + 1 combined) are output
  /// columns 2 G t..2 G t + 2 G - 1 of the group's 8 G, in each of its two
  /// rows of every m tile: one 16-byte chunk, stored straight from the
  /// accumulators under one bounds check (the width is a multiple of 2 G);
  /// a warp's store writes 64 consecutive bytes of each of 8 rows.
  /// `rowBase` and `warpCol` are the warp's first row and (interleaved, for
  /// a pair) column.
  void storePermuted(ValueRange acc, Value out, Value m, Value n, Value rowBase,
                     Value warpCol, Value g, Value t2) {
    storePermuted(b, loc, t.tilesM(), t.tilesN(), permutedTiles, gated, acc,
                  out, m, gated ? gated->columns : n, rowBase, warpCol, g, t2);
  }
  /// The same for a warp of tilesM x tilesN mma tiles in groups of `group`
  /// (also the resident-weight kernel's stores); `width`: the output's.
  /// `guarded` false: the caller knows every row and column inside the
  /// output, and the stores go unchecked.
  static void storePermuted(OpBuilder &b, Location loc, int64_t tilesM,
                            int64_t tilesN, int64_t group, const Gated *gated,
                            ValueRange acc, Value out, Value m, Value width,
                            Value rowBase, Value warpCol, Value g, Value t2,
                            bool guarded = true) {
    auto idx = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(b, loc, v);
    };
    auto add = [&](Value x, Value y) -> Value {
      return arith::AddIOp::create(b, loc, x, y);
    };
    auto lt = [&](Value x, Value y) -> Value {
      return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, x, y);
    };
    bool pair = gated && gated->secondOut, combined = gated && !pair;
    // (A pair's n tiles alternate between its two projections.)
    int64_t perOutput = gated ? tilesN / 2 : tilesN;
    Type elt = cast<MemRefType>(out.getType()).getElementType();
    // (t2 = 2 t: lane t's chunk starts at column 2 G t.)
    Value column0 =
        add(gated ? arith::DivUIOp::create(b, loc, warpCol, idx(2)).getResult()
                  : warpCol,
            arith::MulIOp::create(b, loc, t2, idx(group)));
    for (int64_t s = 0; s < (pair ? 2 : 1); ++s)
      for (int64_t mi = 0; mi < tilesM; ++mi)
        for (int64_t h = 0; h < 2; ++h)
          for (int64_t q = 0; q < perOutput / group; ++q) {
            SmallVector<Value> values;
            for (int64_t j = 0; j < group; ++j) {
              int64_t ni = gated ? 2 * (group * q + j) + s : group * q + j;
              for (int64_t e = 0; e < 2; ++e) {
                Value v = acc[(mi * tilesN + ni) * 4 + 2 * h + e];
                if (combined)
                  v = gated->combine(
                      b, loc, v, acc[(mi * tilesN + ni + 1) * 4 + 2 * h + e]);
                else if (v.getType() != elt)
                  v = arith::TruncFOp::create(b, loc, elt, v);
                values.push_back(v);
              }
            }
            Value row = add(rowBase, add(idx(mi * 16 + h * 8), g));
            Value column = add(column0, idx(8 * group * q));
            OpBuilder::InsertionGuard guard(b);
            if (guarded) {
              auto store = scf::IfOp::create(
                  b, loc,
                  arith::AndIOp::create(b, loc, lt(row, m), lt(column, width)),
                  /*withElseRegion=*/false);
              b.setInsertionPointToStart(store.thenBlock());
            }
            Value chunk = vector::FromElementsOp::create(
                b, loc, VectorType::get({2 * group}, elt), values);
            vector::StoreOp::create(b, loc, chunk, s ? gated->secondOut : out,
                                    ValueRange{row, column},
                                    /*nontemporal=*/false,
                                    b.getI64IntegerAttr(16));
          }
  }

  /// The gated pair's results: for n tiles 2j (first projection) and 2j + 1
  /// (second) of this warp, whose interleaved columns start at `warpCol`,
  /// the combined values of output columns warpCol / 2 + 8 j + t2 and the
  /// next, two adjacent elements of a row stored together where the row
  /// width is even.
  void storeGated(ValueRange acc, Value out, Value m, Value warpCol,
                  function_ref<Value(int64_t, int64_t)> accRow, Value t2,
                  bool guarded) {
    auto outType = cast<MemRefType>(out.getType());
    Type elt = outType.getElementType();
    Value n = gated->columns;
    std::optional<int64_t> width = getConstantIntValue(n);
    bool pairs = outType.getLayout().isIdentity() && width && *width % 2 == 0;
    int64_t tilesN = t.tilesN();
    for (int64_t mi = 0; mi < t.tilesM(); ++mi)
      for (int64_t ni = 0; ni < tilesN; ni += 2)
        for (int64_t e = 0; e < 4; e += 2) {
          Value r = accRow(mi, e);
          Value c = add(add(divui(warpCol, 2), idx(ni / 2 * 8)), t2);
          auto value = [&](int64_t j) {
            return gated->combine(b, loc, acc[(mi * tilesN + ni) * 4 + e + j],
                                  acc[(mi * tilesN + ni + 1) * 4 + e + j]);
          };
          for (int64_t j = 0; j < (pairs ? 1 : 2); ++j) {
            Value cj = add(c, idx(j));
            OpBuilder::InsertionGuard g(b);
            if (guarded) {
              Value inside = arith::AndIOp::create(b, loc, lt(r, m), lt(cj, n));
              auto guard = scf::IfOp::create(b, loc, inside, /*else=*/false);
              b.setInsertionPointToStart(guard.thenBlock());
            }
            if (!pairs) {
              memref::StoreOp::create(b, loc, value(j), out, ValueRange{r, cj});
              continue;
            }
            Value two = vector::FromElementsOp::create(
                b, loc, VectorType::get({2}, elt),
                ValueRange{value(0), value(1)});
            vector::StoreOp::create(
                b, loc, two, out, ValueRange{r, c}, /*nontemporal=*/false,
                b.getI64IntegerAttr(2 * elt.getIntOrFloatBitWidth() / 8));
          }
        }
  }

  /// A sibling pair's results: n tiles 2j of this warp (interleaved
  /// columns from `warpCol`) hold the first projection's output columns
  /// warpCol / 2 + 8 j + t2 and the next, n tiles 2j + 1 the second's same
  /// columns; each goes to its own output as storeTiles stores a tile.
  void storePair(ValueRange acc, Value out, Value m, Value warpCol,
                 function_ref<Value(int64_t, int64_t)> accRow, Value t2,
                 bool guarded) {
    int64_t tilesN = t.tilesN();
    SmallVector<Value> first, second;
    for (int64_t mi = 0; mi < t.tilesM(); ++mi)
      for (int64_t ni = 0; ni < tilesN; ni += 2)
        for (int64_t e = 0; e < 4; ++e) {
          first.push_back(acc[(mi * tilesN + ni) * 4 + e]);
          second.push_back(acc[(mi * tilesN + ni + 1) * 4 + e]);
        }
    Value base = add(divui(warpCol, 2), t2);
    auto col = [&](int64_t nj, int64_t e) {
      return add(base, idx(nj * 8 + e % 2));
    };
    for (auto [values, target] :
         {std::pair{ValueRange(first), out},
          std::pair{ValueRange(second), gated->secondOut}})
      storeTiles(b, loc, values, target, m, gated->columns, t.tilesM(),
                 tilesN / 2, accRow, col, /*atomically=*/false, evenView,
                 /*addToOut=*/false, /*float32Pairs=*/false, guarded);
  }

  /// The (row, column) of this block's tile: the 2-D grid's ids, or with
  /// groupM > 0 its 1-D id walked group by group (groupM tile rows at a
  /// time sweep the tile columns, down each column first).
  std::pair<Value, Value> blockPosition(const xlstm::KernelCache::Body &kernel, Value m,
                                        Value n) {
    if (t.groupM == 0)
      return {kernel.blockIds.x, kernel.blockIds.y};
    return tilePosition(kernel.blockIds.x, m, n);
  }

  /// The (row, column) of tile `id` of a 1-D walk over the tiles: group by
  /// group with groupM > 0 (as blockPosition), else down each column.
  std::pair<Value, Value> tilePosition(Value id, Value m, Value n) {
    auto ceilDiv = [&](Value v, int64_t d) -> Value {
      return arith::CeilDivUIOp::create(b, loc, v, idx(d));
    };
    Value rows = ceilDiv(m, t.blockM), cols = ceilDiv(n, t.blockN);
    if (t.groupM == 0)
      return {arith::RemUIOp::create(b, loc, id, rows),
              arith::DivUIOp::create(b, loc, id, rows)};
    Value perGroup = mul(idx(t.groupM), cols);
    Value first = mul(arith::DivUIOp::create(b, loc, id, perGroup), idx(t.groupM));
    Value height = arith::MinUIOp::create(
        b, loc, arith::SubIOp::create(b, loc, rows, first), idx(t.groupM));
    Value within = arith::RemUIOp::create(b, loc, id, perGroup);
    return {add(first, arith::RemUIOp::create(b, loc, within, height)),
            arith::DivUIOp::create(b, loc, within, height)};
  }

private:
  OpBuilder &b;
  Location loc;
  const StagedTile &t;
  bool accumulate, addInEpilogue;
  const Gated *gated;
  /// `out` is a view of even offset and row stride (a headwise block's).
  bool evenView;
  bool float32Pairs;
  Type i32, f32;
};

/// Block `head` of a headwise projection's collapsed operands, x (M, H K),
/// W (H N, K) and out (M, H N): its x (M, K), W (N, K) and out (M, N), as
/// views (16-byte aligned rows: matchHeadwise checks K and N).
std::array<Value, 3> headViews(OpBuilder &b, Location loc, Value head, Value x,
                               Value w, Value out, OpFoldResult m, int64_t n,
                               int64_t k) {
  auto idx = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  auto view = [&](Value source, OpFoldResult row, OpFoldResult column,
                  OpFoldResult rows, int64_t columns) -> Value {
    SmallVector<OpFoldResult> one(2, b.getIndexAttr(1));
    return memref::SubViewOp::create(
        b, loc, source, ArrayRef<OpFoldResult>{row, column},
        ArrayRef<OpFoldResult>{rows, b.getIndexAttr(columns)}, one);
  };
  OpFoldResult zero = b.getIndexAttr(0);
  Value xColumn = arith::MulIOp::create(b, loc, head, idx(k));
  Value nOffset = arith::MulIOp::create(b, loc, head, idx(n));
  return {view(x, zero, xColumn, m, k),
          view(w, nOffset, zero, b.getIndexAttr(n), k),
          view(out, zero, nOffset, m, n)};
}

/// Headwise projections of a short K whose head's W (N x K) fits in shared
/// memory (the sLSTM's gate heads: 192 x 192, 3 K steps of the pipelined
/// kernel, whose every 128x128 tile pays its prologue and stores for them):
/// each block loads the W of one head of one of G sibling projections (one
/// x) into shared memory once, then streams `rows`-row slices of that
/// head's columns of x through `stages` buffers (cp.async), every slice's
/// outputs one pass over K from shared memory (ldmatrix, m16n8k16), stored
/// while the next slices load. Block b serves projection b % G, head (b /
/// G) % H and the `per` consecutive slices from (b / (G H)) * per: the G
/// blocks of a head and slice run side by side and share x in L2, so x
/// comes from DRAM about once. W and the slices are dense swizzled rows.
/// Joint (`weights` = G): a block holds the head's W of all G projections
/// and makes G passes over each slice (block b: head b % H, slices from
/// (b / H) * per), so x also enters each SM once. Split N: the warps
/// share out the G W's columns (G n, each warp's inside one W) and make
/// one pass, each x fragment loaded once for all G.
struct ResidentWeightTile {
  int64_t n = 0, k = 0, rows = 0, warpsM = 0, warpsN = 0, stages = 0;
  int64_t weights = 1; // W matrices (N x K) a block holds
  bool splitN = false;
  int64_t threads() const { return 32 * warpsM * warpsN; }
  /// Columns the warps share out in one pass.
  int64_t span() const { return splitN ? weights * n : n; }
  int64_t passes() const { return splitN ? 1 : weights; }
  int64_t tilesM() const { return rows / (16 * warpsM); } // per warp
  int64_t tilesN() const { return span() / (8 * warpsN); }
  int64_t sharedBytes(int64_t elementBytes) const {
    return (weights * n + stages * rows) * k * elementBytes;
  }
  /// `warps` warps over a (rows x span) slice, as many of them along N as
  /// divide it in 16-column steps (up to 4); none where the `weights` W
  /// and the slices exceed `maxShared` bytes of 16-bit values, a warp
  /// would hold more than 128 accumulators, or (split N) a warp's columns
  /// would straddle two W.
  static std::optional<ResidentWeightTile>
  choose(int64_t n, int64_t k, int64_t rows, int64_t stages, int64_t warps,
         int64_t maxShared, int64_t weights = 1, bool splitN = false) {
    if (n % 16 || k % 16 || n < 16 || k < 16)
      return std::nullopt;
    ResidentWeightTile t;
    t.n = n;
    t.k = k;
    t.stages = stages;
    t.weights = weights;
    t.splitN = splitN && weights > 1;
    for (int64_t warpsN : {4, 2, 1})
      if (t.span() % (16 * warpsN) == 0 && warps % warpsN == 0) {
        t.warpsN = warpsN;
        break;
      }
    t.warpsM = warps / t.warpsN;
    int64_t step = 16 * t.warpsM;
    t.rows = std::max(step, (rows + step - 1) / step * step);
    if (t.sharedBytes(2) > maxShared || t.tilesM() * t.tilesN() * 4 > 128 ||
        n % (8 * t.tilesN()))
      return std::nullopt;
    return t;
  }
};

class ResidentWeightKernelBuilder : xlstm::KernelBuilder {
public:
  ResidentWeightKernelBuilder(OpBuilder &b, Location loc,
                              const ResidentWeightTile &t, bool float32Pairs)
      : KernelBuilder(b, loc, b.getF32Type()), t(t),
        float32Pairs(float32Pairs) {}

  /// W's rows staged in permuted-column-stores' order within each group of
  /// 8 G rows (G = permutedTiles; StagedMMAKernelBuilder::permutedRow), so
  /// that each lane stores a 16-byte chunk of consecutive columns of each
  /// of its rows straight from its accumulators
  /// (StagedMMAKernelBuilder::storePermuted); 0: in order, stored by
  /// storeTiles. The caller checks that it applies
  /// (StagedMMAKernelBuilder::permutedStoresApply).
  int64_t permutedTiles = 0;

  /// The first pass's W and slice in a cp.async group of their own, the
  /// other passes' W in the next, waited for after the first pass of the
  /// block's first slice: that pass starts while they load.
  bool earlyFirstPass = false;

  /// With permutedTiles: a slice wholly inside M runs its passes in a copy
  /// whose stores go unchecked (no branch a store, so the next pass's
  /// fragment loads can be scheduled among them); the last, partial slice
  /// runs the checked copy.
  bool wholeSlices = false;

  /// The next slice's copies issued after the first pass's products
  /// instead of right after the iteration's barrier.
  bool latePrefetch = false;

  /// xs the planes' x (M, H K), all of M rows; `w` and `out` the G
  /// projections' W (H N, K) and out (M, H N) of each plane in turn; `per`
  /// slices a block. The grid is the planes' grids one after another.
  void build(ArrayRef<Value> xs, Value m, Value per, ArrayRef<Value> w,
             ArrayRef<Value> out, int64_t heads,
             const xlstm::KernelCache::Body &kernel) {
    int64_t planes = xs.size(), g = w.size() / planes;
    assert((t.weights == 1 || t.weights == g) && "one W or all of them");
    Value x = xs.front();
    Type elt = cast<MemRefType>(x.getType()).getElementType();
    Value bid = kernel.blockIds.x, tid = kernel.threadIds.x;
    SmallVector<Value> ownW(w.take_front(g)), ownOut(out.take_front(g));
    Value slices = arith::CeilDivUIOp::create(b, loc, m, idx(t.rows));
    // Several planes: the block's plane and its operands (selects), the
    // block's index within the plane's grid.
    if (planes > 1) {
      Value splits = arith::CeilDivUIOp::create(b, loc, slices, per);
      Value planeBlocks = mul(splits, idx(heads * (g / t.weights)));
      Value plane = divui(bid, planeBlocks);
      bid = remui(bid, planeBlocks);
      for (int64_t p = 1; p < planes; ++p) {
        Value is = eqi(plane, idx(p));
        x = arith::SelectOp::create(b, loc, is, xs[p], x);
        for (int64_t j = 0; j < g; ++j) {
          ownW[j] = arith::SelectOp::create(b, loc, is, w[p * g + j], ownW[j]);
          ownOut[j] =
              arith::SelectOp::create(b, loc, is, out[p * g + j], ownOut[j]);
        }
      }
    }
    // This block's projections: all G (joint), or one (a select over them).
    Value head, split;
    if (t.weights > 1) {
      head = remui(bid, idx(heads));
      split = divui(bid, idx(heads));
    } else {
      Value which = remui(bid, idx(g));
      head = remui(divui(bid, idx(g)), idx(heads));
      split = divui(bid, idx(g * heads));
      for (int64_t j = 1; j < g; ++j) {
        Value is = eqi(which, idx(j));
        ownW[0] = arith::SelectOp::create(b, loc, is, ownW[j], ownW[0]);
        ownOut[0] = arith::SelectOp::create(b, loc, is, ownOut[j], ownOut[0]);
      }
      ownW.truncate(1);
      ownOut.truncate(1);
    }
    Value xh;
    SmallVector<Value> whs, ohs;
    for (auto [wj, outj] : llvm::zip(ownW, ownOut)) {
      std::array<Value, 3> views =
          headViews(b, loc, head, x, wj, outj, m, t.n, t.k);
      xh = views[0];
      whs.push_back(views[1]);
      ohs.push_back(views[2]);
    }
    Value firstSlice = mul(split, per);
    Value count = minui(per, sub(slices, firstSlice));

    Value bytes = dynamicSharedMemory();
    SmallVector<Value> sws;
    for (int64_t j = 0; j < t.weights; ++j)
      sws.push_back(sharedView(bytes, {t.n, t.k}, elt, j * t.n * t.k * 2));
    // Split N: the G W as one (G n, K) matrix (each W's rows keep their
    // swizzle, n being a multiple of 8).
    Value swAll =
        t.splitN ? sharedView(bytes, {t.span(), t.k}, elt, 0) : Value();
    Value sx = sharedView(bytes, {t.stages, t.rows, t.k}, elt,
                          t.weights * t.n * t.k * 2);
    // Slice j of this block into stage `stage` (rows past M zero-filled).
    auto loadSlice = [&](Value j, Value stage) {
      Value m0 = mul(add(firstSlice, j), idx(t.rows));
      copyTileAsync(
          xh, sx, stage, t.rows, t.k, tid, t.threads(),
          [&](Value r, Value) { return ult(add(m0, r), m); },
          [&](Value r, Value c) -> SmallVector<Value> {
            return {add(m0, r), c};
          },
          /*elementsPerCopy=*/0, /*swizzled=*/true);
    };
    auto commit = [&] { NVVM::CpAsyncCommitGroupOp::create(b, loc); };
    // W and the first stages - 1 slices in flight, a group each (W joins
    // the first); "slice j has landed" is then "at most stages - 2 groups
    // pending" in iteration j. Early first pass: W of passes after the
    // first in a group behind the first slice's, one group more, so
    // "slice j has landed" is "at most stages - 1 pending" for j = 0 and
    // as before for j > 0 (slice j in group j + 1, stages + j issued).
    bool early = earlyFirstPass && t.passes() > 1;
    auto loadW = [&](int64_t p) {
      copyTileAsync(
          whs[p], sws[p], {}, t.n, t.k, tid, t.threads(), nullptr,
          [&](Value r, Value c) -> SmallVector<Value> {
            return {permutedTiles ? permutedSource(r) : r, c};
          },
          /*elementsPerCopy=*/0, /*swizzled=*/true);
    };
    for (int64_t p = 0; p < t.weights; ++p)
      if (!early || p == 0)
        loadW(p);
    for (int64_t s = 0; s < t.stages - 1; ++s) {
      // (Slice 0 always exists: the grid has no block without slices.)
      if (s == 0)
        loadSlice(idx(0), idx(0));
      else
        ifThen(ult(idx(s), count), [&] { loadSlice(idx(s), idx(s)); });
      commit();
      if (early && s == 0) {
        for (int64_t p = 1; p < t.weights; ++p)
          loadW(p);
        commit();
      }
    }

    Value lane = remui(tid, idx(32)), warp = divui(tid, idx(32));
    Value wm0 = mul(divui(warp, idx(t.warpsN)), idx(t.tilesM() * 16));
    Value wn0 = mul(remui(warp, idx(t.warpsN)), idx(t.tilesN() * 8));
    // Split N: the W the warp's columns lie in and its first column there.
    Value ownOutSplit, wnOut = wn0;
    if (t.splitN) {
      Value which = divui(wn0, idx(t.n));
      wnOut = remui(wn0, idx(t.n));
      ownOutSplit = ohs[0];
      for (int64_t j = 1; j < t.weights; ++j)
        ownOutSplit = arith::SelectOp::create(b, loc, eqi(which, idx(j)),
                                              ohs[j], ownOutSplit);
    }
    xlstm::MmaLane mmaLane = xlstm::MmaLane::of(b, loc, lane);
    Value gRow = mmaLane.group, t2 = mmaLane.pairColumn(b, loc);
    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
    int64_t rowBytes = t.k * 2;
    forRange(
        idx(0), count, idx(1), ValueRange{},
        [&](Value j, ValueRange) -> SmallVector<Value> {
          Value stage = remui(j, idx(t.stages));
          auto waitPending = [&](int64_t groups) {
            NVVM::CpAsyncWaitGroupOp::create(b, loc,
                                             b.getI32IntegerAttr(groups));
          };
          // (Early first pass: whether this is the block's first slice.)
          Value first = early ? eqi(j, idx(0)) : Value();
          if (early) {
            ifThen(first, [&] { waitPending(t.stages - 1); });
            ifThen(ult(idx(0), j), [&] { waitPending(t.stages - 2); });
          } else {
            waitPending(t.stages - 2);
          }
          // Every warp is done with the stage the load below refills
          // (read in the previous iteration).
          gpu::BarrierOp::create(b, loc);
          // The next slice's copies (the stage they refill was read in
          // the previous iteration, behind the barrier above): here, or
          // with latePrefetch after the first pass's products, so that
          // the warps, which all leave the barrier together, start on
          // the tensor cores instead of on the copies' address arithmetic.
          Value next = add(j, idx(t.stages - 1));
          auto prefetch = [&] {
            ifThen(ult(next, count),
                   [&] { loadSlice(next, remui(next, idx(t.stages))); });
            commit();
          };
          if (!latePrefetch)
            prefetch();
          auto column = [&](Value row, Value chunk) {
            return xlstm::swizzledChunkColumn(b, loc, row, chunk, rowBytes, 2);
          };
          Value m0 = mul(add(firstSlice, j), idx(t.rows));
          auto accRow = [&](int64_t mi, int64_t e) {
            return add(add(m0, wm0), add(idx(mi * 16 + (e / 2) * 8), gRow));
          };
          auto accCol = [&](int64_t ni, int64_t e) {
            return add(wnOut, add(idx(ni * 8 + e % 2), t2));
          };
          // The slice through each W the block holds, each product
          // stored before the next pass (registers for one at a time);
          // split N: one pass through all of them.
          auto passes = [&](bool guarded) {
            for (int64_t p = 0; p < t.passes(); ++p) {
              // (Early first pass: the other W, in the second group, landed
              // and seen by every thread before the first slice's second
              // pass; stages groups plus this iteration's are issued.)
              if (early && p == 1)
                ifThen(first, [&] {
                  waitPending(t.stages - 1);
                  gpu::BarrierOp::create(b, loc);
                });
              Value sw = t.splitN ? swAll : sws[p];
              Value oh = t.splitN ? ownOutSplit : ohs[p];
              SmallVector<Value> acc(t.tilesM() * t.tilesN() * 4, zero);
              for (int64_t ks = 0; ks < t.k / 16; ++ks) {
                Value kChunk = idx(ks * 2);
                multiplyTiles(b, loc, elt,
                              loadFragments(b, loc, sx, stage, wm0, t.tilesM(),
                                            kChunk, lane, column,
                                            /*weights=*/false),
                              loadFragments(b, loc, sw, {}, wn0, t.tilesN(),
                                            kChunk, lane, column,
                                            /*weights=*/true),
                              acc);
              }
              if (latePrefetch && p == 0)
                prefetch();
              if (permutedTiles)
                StagedMMAKernelBuilder::storePermuted(
                    b, loc, t.tilesM(), t.tilesN(), permutedTiles,
                    /*gated=*/nullptr, acc, oh, m, idx(t.n), add(m0, wm0),
                    wnOut, gRow, t2, guarded);
              else
                storeTiles(b, loc, acc, oh, m, idx(t.n), t.tilesM(), t.tilesN(),
                           accRow, accCol, /*atomically=*/false,
                           /*evenView=*/true, /*addToOut=*/false, float32Pairs);
            }
          };
          if (wholeSlices && permutedTiles) {
            Value whole = arith::CmpIOp::create(
                b, loc, arith::CmpIPredicate::ule, add(m0, idx(t.rows)), m);
            auto branch = scf::IfOp::create(b, loc, whole,
                                            /*withElseRegion=*/true);
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPointToStart(branch.thenBlock());
            passes(/*guarded=*/false);
            b.setInsertionPointToStart(branch.elseBlock());
            passes(/*guarded=*/true);
          } else {
            passes(/*guarded=*/true);
          }
          return {};
        });
  }

private:
  /// W's row that staged row `r` holds under permutedTiles: its group of
  /// 8 G rows, permuted within.
  Value permutedSource(Value r) {
    Value within = remui(r, idx(8 * permutedTiles));
    return add(sub(r, within), StagedMMAKernelBuilder::permutedRow(
                                   b, loc, within, permutedTiles));
  }

  const ResidentWeightTile &t;
  bool float32Pairs;
};

/// Float32 projections on tf32 tensor cores (m16n8k8), split 3xTF32 for
/// about float32 precision unless plain tf32 is asked for: a 64x64 block
/// tile of 4 warps (32x32 each: 2 x 4 mma tiles), fragments read from
/// global memory (A: rows g and g + 8, columns t and t + 4; B: W's row g,
/// columns t and t + 4), accumulators starting from `out` (accumulating) or
/// from zero, with `addInEpilogue` `out` added as they are stored: started
/// from a large residual, the tensor cores' float32 sums lose the products'
/// low bits (the xLSTM-7B's float32 logits 3.2e-4 -> 2.0e-3 off float64
/// when out_proj added into the residual this way).
class TF32KernelBuilder : xlstm::KernelBuilder {
public:
  static constexpr int64_t warpsM = 2, warpsN = 2, tilesM = 2, tilesN = 4;
  static constexpr int64_t blockM = warpsM * tilesM * 16;
  static constexpr int64_t blockN = warpsN * tilesN * 8;
  static constexpr int64_t threads = 32 * warpsM * warpsN;
  /// K a tensor-core partial sum covers before a float32 add (split only).
  static constexpr int64_t kChunk = 64;

  TF32KernelBuilder(OpBuilder &b, Location loc, bool split, bool accumulate,
                    bool addInEpilogue = false)
      : KernelBuilder(b, loc, b.getF32Type()),
        accumulate(accumulate && !addInEpilogue),
        addInEpilogue(accumulate && addInEpilogue) {
    splitTF32 = split;
  }

  void build(Value x, Value w, Value out, Value m, Value n, int64_t k,
             const xlstm::KernelCache::Body &kernel) {
    Value tid = kernel.threadIds.x;
    Value lane = remui(tid, idx(32)), warp = divui(tid, idx(32));
    xlstm::MmaLane mmaLane = xlstm::MmaLane::of(b, loc, lane);
    Value g = mmaLane.group, t = mmaLane.inGroup;
    Value m0 = add(mul(kernel.blockIds.x, idx(blockM)),
                   mul(divui(warp, idx(warpsN)), idx(tilesM * 16)));
    Value n0 = add(mul(kernel.blockIds.y, idx(blockN)),
                   mul(remui(warp, idx(warpsN)), idx(tilesN * 8)));
    Value lastM = sub(m, idx(1)), lastN = sub(n, idx(1));
    auto accRow = [&](int64_t mi, int64_t e) {
      return add(m0, add(idx(mi * 16 + (e / 2) * 8), g));
    };
    auto accCol = [&](int64_t ni, int64_t e) {
      return add(n0, add(idx(ni * 8 + e % 2), mul(t, idx(2))));
    };
    auto inside = [&](Value r, Value c) {
      return arith::AndIOp::create(b, loc, ult(r, m), ult(c, n)).getResult();
    };
    SmallVector<Value> acc;
    for (int64_t mi = 0; mi < tilesM; ++mi)
      for (int64_t ni = 0; ni < tilesN; ++ni)
        for (int64_t e = 0; e < 4; ++e) {
          if (!accumulate) {
            acc.push_back(constant(0.0));
            continue;
          }
          Value r = accRow(mi, e), c = accCol(ni, e);
          Value v = load(out, {minui(r, lastM), minui(c, lastN)});
          acc.push_back(
              arith::SelectOp::create(b, loc, inside(r, c), v, constant(0.0)));
        }
    SmallVector<Value> aRows, bRows; // clamped for loads
    for (int64_t mi = 0; mi < tilesM; ++mi)
      for (int64_t h = 0; h < 2; ++h)
        aRows.push_back(minui(add(m0, add(idx(mi * 16 + h * 8), g)), lastM));
    for (int64_t ni = 0; ni < tilesN; ++ni)
      bRows.push_back(minui(add(n0, add(idx(ni * 8), g)), lastN));
    auto kStep = [&](Value kk, ValueRange it) -> SmallVector<Value> {
      Value c0 = add(kk, t), c4 = add(c0, idx(4));
      SmallVector<TF32Fragment> a, bf;
      for (int64_t mi = 0; mi < tilesM; ++mi) {
        Value r0 = aRows[mi * 2], r8 = aRows[mi * 2 + 1];
        a.push_back(fragment({load(x, {r0, c0}), load(x, {r8, c0}),
                              load(x, {r0, c4}), load(x, {r8, c4})}));
      }
      for (int64_t ni = 0; ni < tilesN; ++ni)
        bf.push_back(
            fragment({load(w, {bRows[ni], c0}), load(w, {bRows[ni], c4})}));
      SmallVector<Value> next;
      for (int64_t mi = 0; mi < tilesM; ++mi)
        for (int64_t ni = 0; ni < tilesN; ++ni)
          llvm::append_range(
              next, mma(a[mi], bf[ni], it.slice((mi * tilesN + ni) * 4, 4)));
      return next;
    };
    // Split (3xTF32), K goes in chunks of kChunk, each summed on the tensor
    // cores from zero and added to `acc` by a float32 add: the tensor
    // cores' float32 sums are not rounded as IEEE adds are, and 3 mma a K
    // step into one accumulator over K = 4096 put the xLSTM-7B's float32
    // logits 3.2e-4 off float64 (scalar float32 projections: 1.9e-5).
    if (splitTF32 && k > kChunk) {
      acc = forRange(0, k, kChunk, acc,
                     [&](Value k0, ValueRange outer) -> SmallVector<Value> {
                       // (A constant trip count where chunks are whole.)
                       Value end = add(k0, idx(kChunk));
                       if (k % kChunk != 0)
                         end = minui(end, idx(k));
                       SmallVector<Value> partial = forRange(
                           k0, end, idx(8),
                           SmallVector<Value>(outer.size(), constant(0.0)),
                           kStep);
                       SmallVector<Value> sums;
                       for (auto [total, part] : llvm::zip(outer, partial))
                         sums.push_back(addf(total, part));
                       return sums;
                     });
    } else {
      acc = forRange(0, k, 8, acc, kStep);
    }
    storeTiles(b, loc, acc, out, m, n, tilesM, tilesN, accRow, accCol,
               /*atomically=*/false, /*evenView=*/false, addInEpilogue);
  }

private:
  bool accumulate, addInEpilogue;
};

/// Few rows (decoding: one token per sequence): a weight-streaming
/// matrix-vector kernel instead of tensor-core tiles, which at M = 1 would
/// read W at a fraction of the memory bandwidth. Each warp owns one row n
/// of W and walks K in 16-byte vector loads (every lane `unroll` of them per
/// step, so that enough bytes are in flight to keep HBM busy), multiplying
/// them with up to `maxRows` rows of x (read through L1: x is small and
/// every warp of the block reads the same), accumulating in float32; a
/// butterfly of shuffles sums the lanes and lane m adds row m's sum to
/// out[m, n]. Rows of x past M are read clamped and not stored.
/// An elementwise op a decoding or skinny kernel applies to a projection's
/// float32 sum before storing it (Site::epilogue): the value for output
/// column `col`. Null: the sum itself.
using StoreEpilogue =
    function_ref<Value(OpBuilder &, Location, Value sum, Value col)>;

/// One of several skinny projections of one x whose W rows a swapped
/// kernel stacks (in order) as its few-row operand: x is streamed once for
/// all of them, each output stored with its own flag and epilogue.
struct StackedMember {
  Value w, out;
  int64_t rows;
  bool accumulate;
  StoreEpilogue epilogue;
};

/// What the matrix-vector and small-batch kernels share for stacked
/// members: the store of a stacked W row's sum into its member's output.
class StackingKernelBuilder : protected xlstm::KernelBuilder {
protected:
  using KernelBuilder::KernelBuilder;

  /// Stores `sum`, x row `row`'s product with stacked W row `stackedRow`,
  /// as column stackedRow - begin of the member whose rows [begin, begin +
  /// rows) hold it (written, added to, or through its epilogue); where
  /// `valid` is false, nothing.
  void storeToMember(Value row, Value stackedRow, Value sum,
                     Value valid = nullptr) {
    int64_t begin = 0;
    for (const StackedMember &member : stacked) {
      Value holds = arith::AndIOp::create(
          b, loc, ult(stackedRow, idx(begin + member.rows)),
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, stackedRow,
                                idx(begin)));
      if (valid)
        holds = arith::AndIOp::create(b, loc, valid, holds);
      ifThen(holds, [&] {
        Value column = sub(stackedRow, idx(begin));
        SmallVector<Value, 2> at = {row, column};
        if (member.epilogue) {
          memref::StoreOp::create(b, loc, member.epilogue(b, loc, sum, column),
                                  member.out, at);
          return;
        }
        store(member.accumulate ? addf(load(member.out, at), sum) : sum,
              member.out, at);
      });
      begin += member.rows;
    }
  }

  SmallVector<StackedMember> stacked;
};

class GemvKernelBuilder : StackingKernelBuilder {
public:
  /// A gated pair (the gated FFN's act(x Wg^T) * (x Wu^T)): each warp also
  /// streams row `row + secondRowOffset` of `second` and its lanes store
  /// `combine` of the two sums, so the pair's float32 outputs and the
  /// elementwise kernel after them go.
  struct Gated {
    Value second;
    int64_t secondRowOffset = 0;
    function_ref<Value(OpBuilder &, Location, Value, Value)> combine;
  };

  GemvKernelBuilder(OpBuilder &b, Location loc, int64_t maxRows, int64_t unroll,
                    bool accumulate, std::optional<Gated> gated = std::nullopt,
                    StoreEpilogue epilogue = nullptr)
      : StackingKernelBuilder(b, loc, b.getF32Type()), maxRows(maxRows),
        unroll(unroll), accumulate(accumulate), gated(gated),
        epilogue(epilogue) {}

  /// The same kernel for the transposed problem, a skinny float32
  /// projection (N = maxRows columns, any M, no tensor-core kernel fits):
  /// a warp per row of x streaming it in 16-byte loads, W's few rows the
  /// "rows of x" each lane multiplies, out[m][n] stored the other way
  /// round. (x is read once; the tf32 kernel's 64-column tiles would be
  /// mostly dead columns on a grid of ceil(M / 64) blocks.)
  static GemvKernelBuilder skinny(OpBuilder &b, Location loc, int64_t columns,
                                  int64_t unroll, bool accumulate,
                                  StoreEpilogue epilogue = nullptr) {
    GemvKernelBuilder builder(b, loc, columns, unroll, accumulate, std::nullopt,
                              epilogue);
    builder.swapped = true;
    return builder;
  }

  /// Swapped only: W's rows are `members`' stacked (the build's `w` and
  /// `out` are ignored, its N, maxRows, is their total rows).
  GemvKernelBuilder &stack(ArrayRef<StackedMember> members) {
    assert(swapped && !gated && "stacking is of swapped kernels");
    stacked.assign(members.begin(), members.end());
    return *this;
  }

  /// Elements of `elt` in one 16-byte load.
  static int64_t vectorWidth(Type elt) {
    return 128 / elt.getIntOrFloatBitWidth();
  }

  void build(Value x, Value w, Value out, Value m, int64_t nStatic, int64_t k,
             int64_t warpsPerBlock, const xlstm::KernelCache::Body &kernel) {
    // The streamed operand (`w`, a warp per row, n of them) and the
    // few-row one (m rows).
    Value n;
    if (swapped) {
      std::swap(x, w);
      n = m;
      m = idx(nStatic);
    }
    Type elt = cast<MemRefType>(x.getType()).getElementType();
    int64_t width = vectorWidth(elt);
    auto vecType = VectorType::get({width}, elt);
    auto f32Vec = VectorType::get({width}, b.getF32Type());
    Value tid = kernel.threadIds.x;
    Value lane = remui(tid, idx(32));
    Value row = add(mul(kernel.blockIds.x, idx(warpsPerBlock)),
                    divui(tid, idx(32)));
    // A warp past N has nothing to do (no barrier follows).
    ifThen(ult(row, n ? n : idx(nStatic)), [&] {
      Value lastM = sub(m, idx(1));
      // Row r of the few-row operand: buffer and row (a stacked W's
      // rows lie in the member that holds them, known here).
      SmallVector<Value> xRows, xSources(maxRows, x);
      for (int64_t r = 0; r < maxRows; ++r)
        xRows.push_back(maxRows == 1 ? idx(0) : minui(idx(r), lastM));
      for (int64_t r = 0, member = 0, begin = 0;
           r < maxRows && !stacked.empty(); ++r) {
        while (r >= begin + stacked[member].rows)
          begin += stacked[member++].rows;
        xSources[r] = stacked[member].w;
        xRows[r] = idx(r - begin);
      }
      auto load16 = [&](Value memref, Value r, Value col) {
        Value v = vector::LoadOp::create(
            b, loc, vecType, memref, ValueRange{r, col},
            /*nontemporal=*/false, b.getI64IntegerAttr(16));
        return elt.isF32() ? v
                           : arith::ExtFOp::create(b, loc, f32Vec, v)
                                 .getResult();
      };
      // Sums per row of x: [r] for W, [maxRows + r] for a gated pair's
      // second W.
      int64_t weights = gated ? 2 : 1;
      SmallVector<Value> init(weights * maxRows, constant(0.0));
      int64_t step = 32 * width * unroll;
      SmallVector<Value> acc = forRange(
          0, k, step, init, [&](Value kk, ValueRange it) {
            SmallVector<Value> sums(it);
            for (int64_t u = 0; u < unroll; ++u) {
              Value col = add(kk, add(mul(lane, idx(width)),
                                      idx(u * 32 * width)));
              // K % step != 0: the last step is partly past K.
              bool mayOverrun = k % step != 0;
              auto body = [&](ValueRange in) -> SmallVector<Value> {
                SmallVector<Value> next(in);
                SmallVector<SmallVector<Value>> we(weights);
                for (int64_t h = 0; h < weights; ++h) {
                  Value wv =
                      h == 0
                          ? load16(w, row, col)
                          : load16(gated->second,
                                   add(row, idx(gated->secondRowOffset)), col);
                  for (int64_t e = 0; e < width; ++e)
                    we[h].push_back(vector::ExtractOp::create(
                        b, loc, wv, ArrayRef<int64_t>{e}));
                }
                for (int64_t r = 0; r < maxRows; ++r) {
                  Value xv = load16(xSources[r], xRows[r], col);
                  for (int64_t e = 0; e < width; ++e) {
                    Value xe = vector::ExtractOp::create(b, loc, xv,
                                                         ArrayRef<int64_t>{e});
                    // llvm.intr.fma is fma.rn.f32 itself (math.fma would
                    // go through libdevice's __nv_fmaf).
                    for (int64_t h = 0; h < weights; ++h)
                      next[h * maxRows + r] = LLVM::FMAOp::create(
                          b, loc, xe, we[h][e], next[h * maxRows + r]);
                  }
                }
                return next;
              };
              if (!mayOverrun) {
                sums = body(sums);
                continue;
              }
              auto guard = scf::IfOp::create(b, loc, ValueRange(sums).getTypes(),
                                             ult(col, idx(k)),
                                             /*withElseRegion=*/true);
              {
                OpBuilder::InsertionGuard g(b);
                b.setInsertionPointToStart(guard.thenBlock());
                scf::YieldOp::create(b, loc, body(sums));
                b.setInsertionPointToStart(guard.elseBlock());
                scf::YieldOp::create(b, loc, sums);
              }
              sums = SmallVector<Value>(guard.getResults());
            }
            return sums;
          });
      // Every lane ends with the warp's sums; lane r keeps row r's and
      // the lanes of rows below M store them.
      SmallVector<Value> mine(weights, constant(0.0));
      for (int64_t h = 0; h < weights; ++h)
        for (int64_t r = 0; r < maxRows; ++r) {
          Value sum = acc[h * maxRows + r];
          for (int64_t offset = 16; offset >= 1; offset /= 2)
            sum = addf(sum, gpu::ShuffleOp::create(b, loc, sum, offset, 32,
                                                   gpu::ShuffleMode::XOR)
                                .getShuffleResult());
          mine[h] = maxRows == 1 ? sum
                                 : arith::SelectOp::create(
                                       b, loc, eqi(lane, idx(r)), sum, mine[h])
                                       .getResult();
        }
      if (!stacked.empty()) {
        // Lane r holds the stacked row r: its member's output column.
        storeToMember(row, lane, mine[0]);
        return;
      }
      Value stores = arith::AndIOp::create(
          b, loc, ult(lane, idx(maxRows)), ult(lane, m));
      ifThen(stores, [&] {
        SmallVector<Value, 2> at = {lane, row};
        // (The output's column: W's row, the lane's where swapped.)
        Value column = row;
        if (swapped) {
          std::swap(at[0], at[1]);
          column = lane;
        }
        if (gated) {
          memref::StoreOp::create(
              b, loc, gated->combine(b, loc, mine[0], mine[1]), out, at);
          return;
        }
        if (epilogue) {
          memref::StoreOp::create(b, loc, epilogue(b, loc, mine[0], column),
                                  out, at);
          return;
        }
        store(accumulate ? addf(load(out, at), mine[0]) : mine[0], out, at);
      });
    });
  }

private:
  int64_t maxRows, unroll;
  bool accumulate;
  std::optional<Gated> gated;
  StoreEpilogue epilogue;
  bool swapped = false;
};

/// A few rows (decoding a batch: 2 to 8 * tokenTiles sequences) of bf16 or
/// f16: W streams through the tensor cores as the A operand of m16n8k16
/// (16 rows of W per block) and x is B (8 rows of x per mma, one mma per
/// 8-row tile of x), so the weights are read once, in 16-byte loads, and
/// the FMAs of the matrix-vector kernel (16 per weight at 16 rows, which
/// bound it by L1 and the FMA pipes) become two mma per 16x16 weights.
///
/// A lane's 16-byte load holds k = c .. c + 7 (c = k0 + 8t); mma 0 takes
/// the pairs (c, c+1) and (c+2, c+3) as its k pairs 2t and 2t + 8, mma 1
/// the pairs (c+4, c+5) and (c+6, c+7). The k order inside the mma is
/// permuted the same way for W and x (it depends only on t), so the dot
/// products are unchanged. The block's warps split K in 32-element chunks
/// (`unroll` per warp per step, all loads before the mma), and shared
/// memory sums the warps' accumulators in a fixed order (deterministic,
/// no atomics). Needs K % 32 == 0.
///
/// With `split` (split K across blocks, for a lone projection whose
/// ceil(N / 16) blocks cannot keep the GPU's loads in flight), grid row y
/// takes K elements [y * perSplit, (y + 1) * perSplit). Each block parks
/// its sums in the global `partials`, and the last block of a column to
/// arrive (counted atomically in `arrivals`, which it resets for the next
/// launch) adds the column's partial sums in split order: the result does
/// not depend on which block finishes first. The buffers belong to the
/// kernel's module, shared by every launch of the kernel: launches must
/// follow each other on one stream (as the runtime's do), and one that is
/// aborted leaves its counts behind.
///
/// `swapped` is the same kernel for the transposed problem, a skinny
/// projection (N <= 8 tokenTiles columns, any M): x streams as A, 16 of
/// its rows per block, the few rows of W are B, and out[m][n] is stored
/// the other way round. x is read once in 16-byte loads instead of a
/// 128-column tile of mostly dead columns per 128 rows.
class SmallBatchMMAKernelBuilder : StackingKernelBuilder {
public:
  static constexpr int64_t blockN = 16, chunk = 32;

  struct SplitK {
    int64_t splits, perSplit; // perSplit: K elements, a multiple of 32
    Value partials, arrivals; // f32 and i32 buffers in global memory
  };

  SmallBatchMMAKernelBuilder(
      OpBuilder &b, Location loc, int64_t warps, int64_t unroll,
      int64_t tokenTiles, bool accumulate, bool swapped = false,
      std::optional<SplitK> split = std::nullopt,
      std::optional<GemvKernelBuilder::Gated> gated = std::nullopt,
      StoreEpilogue epilogue = nullptr)
      : StackingKernelBuilder(b, loc, b.getF32Type()), warps(warps),
        unroll(unroll), tokenTiles(tokenTiles), accumulate(accumulate),
        swapped(swapped), split(split), gated(gated), epilogue(epilogue) {
    assert(!(gated && (swapped || split)) && "a gated pair streams both W");
  }

  /// Swapped only: the few-row operand is `members`' W rows stacked (the
  /// build's `w` and `out` are ignored, its N is their total rows).
  SmallBatchMMAKernelBuilder &stack(ArrayRef<StackedMember> members) {
    assert(swapped && !split && !gated && "stacking is of swapped kernels");
    stacked.assign(members.begin(), members.end());
    return *this;
  }

  /// Issue each K step's loads before the previous step's mma (the
  /// loaded registers carried by the loop) instead of after it.
  SmallBatchMMAKernelBuilder &pipelineLoads(bool on) {
    pipelined = on;
    return *this;
  }

  /// Output columns (rows of W) per block: 16, or 8 of each W of a gated
  /// pair (A's rows 0-7 from the first W, 8-15 from the second, so that the
  /// lane holding an output of the first also holds the second's).
  static int64_t columnsPerBlock(bool gated) {
    return gated ? blockN / 2 : blockN;
  }

  /// Floats of the split-K partial sums of an output `n` rows of W wide.
  static int64_t partialFloats(int64_t splits, int64_t n, int64_t tokenTiles) {
    return splits * llvm::divideCeil(n, blockN) * tokenTiles * 4 * 32;
  }

  /// Floats of the shared buffer that sums the warps' accumulators.
  static int64_t reductionFloats(int64_t warps, int64_t tokenTiles) {
    return warps * tokenTiles * 4 * 32;
  }

  void build(Value x, Value w, Value out, Value m, int64_t nStatic, int64_t k,
             const xlstm::KernelCache::Body &kernel) {
    Value n = idx(nStatic);
    // The streamed (A) operand and the few-row (B) one, with row counts.
    if (swapped) {
      std::swap(x, w);
      std::swap(m, n);
    }
    Type elt = cast<MemRefType>(x.getType()).getElementType();
    Type i32 = b.getI32Type();
    Value partial = kernel.workgroup[0];
    Value tid = kernel.threadIds.x;
    Value lane = remui(tid, idx(32)), warp = divui(tid, idx(32));
    xlstm::MmaLane mmaLane = xlstm::MmaLane::of(b, loc, lane);
    Value g = mmaLane.group, t = mmaLane.inGroup;
    Value n0 = mul(kernel.blockIds.x, idx(columnsPerBlock(bool(gated))));
    Value lastM = sub(m, idx(1)), lastN = sub(n, idx(1));
    // Rows past N and M are read clamped (valid memory) and never stored.
    Value wRows[2] = {minui(add(n0, g), lastN),
                      minui(add(n0, add(g, idx(8))), lastN)};
    Value wSources[2] = {w, w};
    if (gated) {
      wRows[1] = add(wRows[0], idx(gated->secondRowOffset));
      wSources[1] = gated->second;
    }
    // Token tile j's rows (W's, where swapped) and the buffer each lane
    // reads its row from.
    SmallVector<Value> xRows, xSources(tokenTiles, x);
    for (int64_t j = 0; j < tokenTiles; ++j)
      xRows.push_back(minui(add(g, idx(j * 8)), lastM));
    if (!stacked.empty()) {
      // A lane's row lies in one member's W, chosen once (a select of
      // the buffers, cast to one type), so that each K step loads it
      // with a single 16-byte load.
      auto common = MemRefType::get(
          {ShapedType::kDynamic, ShapedType::kDynamic}, elt,
          StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic,
                                 {ShapedType::kDynamic, 1}));
      for (int64_t j = 0; j < tokenTiles; ++j) {
        Value source, local;
        int64_t end = 0;
        for (const StackedMember &member : stacked)
          end += member.rows;
        // From the last member back: the first whose rows end past the
        // lane's row wins.
        for (const StackedMember &member : llvm::reverse(stacked)) {
          int64_t begin = end - member.rows;
          Value w = memref::CastOp::create(b, loc, common, member.w);
          Value row = sub(
              arith::MaxUIOp::create(b, loc, xRows[j], idx(begin)).getResult(),
              idx(begin));
          if (!source) {
            source = w;
            local = row;
          } else {
            Value here = ult(xRows[j], idx(end));
            source = arith::SelectOp::create(b, loc, here, w, source);
            local = arith::SelectOp::create(b, loc, here, row, local);
          }
          end = begin;
        }
        xSources[j] = source;
        xRows[j] = local;
      }
    }

    auto vecType = VectorType::get({8}, elt);
    // The four 32-bit mma registers in a 16-byte load: i32 for bf16 (the
    // form MLIR 22 lowers), vector<2xf16> for f16.
    auto registers = [&](Value memref, Value row, Value col) {
      Value v = vector::LoadOp::create(b, loc, vecType, memref,
                                       ValueRange{row, col},
                                       /*nontemporal=*/false,
                                       b.getI64IntegerAttr(16));
      SmallVector<Value> regs;
      if (elt.isF16()) {
        Value pairs = vector::ShapeCastOp::create(
            b, loc, VectorType::get({4, 2}, elt), v);
        for (int64_t r = 0; r < 4; ++r)
          regs.push_back(
              vector::ExtractOp::create(b, loc, pairs, ArrayRef<int64_t>{r}));
      } else {
        Value words = vector::BitCastOp::create(
            b, loc, VectorType::get({4}, i32), v);
        for (int64_t r = 0; r < 4; ++r)
          regs.push_back(
              vector::ExtractOp::create(b, loc, words, ArrayRef<int64_t>{r}));
      }
      return regs;
    };
    Type regType = elt.isF16() ? Type(VectorType::get({2}, elt)) : i32;
    Value zeroReg = arith::ConstantOp::create(b, loc, regType,
                                              b.getZeroAttr(regType));

    SmallVector<Value> init(tokenTiles * 4, constant(0.0));
    int64_t step = warps * unroll * chunk;
    // This block's K elements: all, or [kBegin, kEnd) of its split.
    int64_t span = split ? split->perSplit : k;
    Value kBegin = idx(0), kEnd = idx(k);
    if (split) {
      kBegin = mul(kernel.blockIds.y, idx(span));
      kEnd = minui(add(kBegin, idx(span)), idx(k));
    }
    bool ragged = span % step != 0 || k % span != 0;
    // One step's fragments: each unrolled chunk's W (one or two row
    // sources) and x registers.
    struct Loaded {
      SmallVector<Value> w[2];
      SmallVector<SmallVector<Value>> x;
    };
    auto loadStep = [&](Value kk) {
      SmallVector<Loaded> loaded(unroll);
      for (int64_t u = 0; u < unroll; ++u) {
        Value chunkStart =
            add(kBegin, add(kk, mul(add(idx(u * warps), warp), idx(chunk))));
        // A chunk past this block's K reads its first chunk and counts
        // as zeros.
        Value valid = ult(chunkStart, kEnd);
        Value col =
            add(arith::SelectOp::create(b, loc, valid, chunkStart, kBegin),
                mul(t, idx(8)));
        auto masked = [&](SmallVector<Value> regs) {
          if (!ragged)
            return regs;
          for (Value &r : regs)
            r = arith::SelectOp::create(b, loc, valid, r, zeroReg);
          return regs;
        };
        for (int64_t h = 0; h < 2; ++h)
          loaded[u].w[h] = masked(registers(wSources[h], wRows[h], col));
        for (int64_t j = 0; j < tokenTiles; ++j)
          loaded[u].x.push_back(masked(registers(xSources[j], xRows[j], col)));
      }
      return loaded;
    };
    auto multiplyStep = [&](ArrayRef<Loaded> loaded, ValueRange it) {
      SmallVector<Value> next(it);
      for (int64_t u = 0; u < unroll; ++u)
        for (int64_t half = 0; half < 2; ++half) {
          int64_t p = half * 2;
          SmallVector<Value> a = {loaded[u].w[0][p], loaded[u].w[1][p],
                                  loaded[u].w[0][p + 1], loaded[u].w[1][p + 1]};
          SmallVector<SmallVector<Value>> bFrags;
          for (int64_t j = 0; j < tokenTiles; ++j)
            bFrags.push_back({loaded[u].x[j][p], loaded[u].x[j][p + 1]});
          multiplyTiles(b, loc, elt, {a}, bFrags, next);
        }
      return next;
    };
    SmallVector<Value> acc;
    // (A single step has no next one to load ahead.)
    if (!pipelined || span <= step) {
      // Every load of the step first, then the mma.
      acc = forRange(0, span, step, init,
                     [&](Value kk, ValueRange it) -> SmallVector<Value> {
                       return multiplyStep(loadStep(kk), it);
                     });
    } else {
      // The next step's loads are issued before this step's mma: the
      // loads of a block's steps follow each other without waiting for
      // the tensor cores, and a lone projection of few K steps (the 7B's
      // out_proj at batch 16: 2) streams without a gap between them.
      // The loaded registers ride the loop as iteration arguments.
      auto flatten = [](ArrayRef<Loaded> loaded) {
        SmallVector<Value> regs;
        for (const Loaded &l : loaded) {
          llvm::append_range(regs, l.w[0]);
          llvm::append_range(regs, l.w[1]);
          for (const SmallVector<Value> &xr : l.x)
            llvm::append_range(regs, xr);
        }
        return regs;
      };
      auto unflatten = [&](ValueRange regs) {
        SmallVector<Loaded> loaded(unroll);
        size_t at = 0;
        auto take = [&] {
          SmallVector<Value> four(regs.begin() + at, regs.begin() + at + 4);
          at += 4;
          return four;
        };
        for (Loaded &l : loaded) {
          l.w[0] = take();
          l.w[1] = take();
          for (int64_t j = 0; j < tokenTiles; ++j)
            l.x.push_back(take());
        }
        return loaded;
      };
      SmallVector<Value> carried(init);
      llvm::append_range(carried, flatten(loadStep(idx(0))));
      size_t accs = init.size();
      SmallVector<Value> results = forRange(
          0, span, step, carried,
          [&](Value kk, ValueRange it) -> SmallVector<Value> {
            SmallVector<Loaded> current = unflatten(it.drop_front(accs));
            Value nextK = add(kk, idx(step));
            SmallVector<Type> regTypes(it.size() - accs, regType);
            auto ahead =
                scf::IfOp::create(b, loc, regTypes, ult(nextK, idx(span)),
                                  /*withElseRegion=*/true);
            {
              OpBuilder::InsertionGuard guard(b);
              b.setInsertionPointToStart(ahead.thenBlock());
              scf::YieldOp::create(b, loc, flatten(loadStep(nextK)));
              b.setInsertionPointToStart(ahead.elseBlock());
              scf::YieldOp::create(
                  b, loc, SmallVector<Value>(regTypes.size(), zeroReg));
            }
            SmallVector<Value> next =
                multiplyStep(current, it.take_front(accs));
            llvm::append_range(next, ahead.getResults());
            return next;
          });
      acc.assign(results.begin(), results.begin() + accs);
    }

    // C of tile j: rows g, g + 8 (of W), columns 2t, 2t + 1 (of x's tile).
    // Each warp parks its accumulators, then thread i sums element i over
    // the warps and adds it to out.
    int64_t perWarp = tokenTiles * 4 * 32;
    for (int64_t e = 0; e < tokenTiles * 4; ++e)
      memref::StoreOp::create(
          b, loc, acc[e], partial,
          ValueRange{add(mul(warp, idx(perWarp)), add(idx(e * 32), lane))});
    gpu::BarrierOp::create(b, loc);
    // Runs `body` on each of the block's perWarp elements i.
    auto eachElement = [&](function_ref<void(Value)> body) {
      for (int64_t base = 0; base < perWarp; base += warps * 32) {
        Value i = add(tid, idx(base));
        ifThen(ult(i, idx(perWarp)), [&] { body(i); });
      }
    };
    // Element i's sum goes to out.
    auto finish = [&](Value i, Value sum) {
      Value owner = remui(i, idx(32));
      Value e = remui(divui(i, idx(32)), idx(4));
      Value j = divui(i, idx(128));
      Value row =
          add(add(n0, divui(owner, idx(4))), mul(divui(e, idx(2)), idx(8)));
      Value token = add(mul(j, idx(8)), add(mul(remui(owner, idx(4)), idx(2)),
                                            remui(e, idx(2))));
      if (!stacked.empty()) {
        // (Swapped: `token` is the stacked W row, the output column.)
        storeToMember(row, token, sum, ult(row, n));
        return;
      }
      Value inside = arith::AndIOp::create(b, loc, ult(row, n), ult(token, m));
      ifThen(inside, [&] {
        SmallVector<Value, 2> at = {token, row};
        if (swapped)
          std::swap(at[0], at[1]);
        if (epilogue) {
          // (The output's column: W's row, the B operand's where swapped.)
          memref::StoreOp::create(
              b, loc, epilogue(b, loc, sum, swapped ? token : row), out, at);
          return;
        }
        store(accumulate ? addf(load(out, at), sum) : sum, out, at);
      });
    };
    auto warpSum = [&](Value i) {
      Value sum = constant(0.0);
      for (int64_t v = 0; v < warps; ++v)
        sum = addf(
            sum, memref::LoadOp::create(b, loc, partial,
                                        ValueRange{add(i, idx(v * perWarp))}));
      return sum;
    };
    if (gated) {
      // Element i of e < 2 (row g: the first W's) pairs with element i + 64
      // (e + 2: row g + 8, the second W's same column).
      eachElement([&](Value i) {
        Value owner = remui(i, idx(32));
        Value e = remui(divui(i, idx(32)), idx(4));
        Value j = divui(i, idx(128));
        Value row = add(n0, divui(owner, idx(4)));
        Value token = add(mul(j, idx(8)), add(mul(remui(owner, idx(4)), idx(2)),
                                              remui(e, idx(2))));
        Value inside = arith::AndIOp::create(
            b, loc, ult(e, idx(2)),
            arith::AndIOp::create(b, loc, ult(row, n), ult(token, m)));
        ifThen(inside, [&] {
          Value value =
              gated->combine(b, loc, warpSum(i), warpSum(add(i, idx(64))));
          memref::StoreOp::create(b, loc, value, out, ValueRange{token, row});
        });
      });
      return;
    }
    if (!split) {
      eachElement([&](Value i) { finish(i, warpSum(i)); });
      return;
    }

    // Split K: park the block's sums, count the column's arrivals; the
    // last block adds the splits' sums in order.
    assert(!swapped && "split K streams W");
    Value columns = idx(llvm::divideCeil(nStatic, blockN));
    Value column = kernel.blockIds.x;
    auto partialAt = [&](Value s, Value i) {
      return add(mul(add(mul(s, columns), column), idx(perWarp)), i);
    };
    eachElement([&](Value i) {
      memref::StoreOp::create(b, loc, warpSum(i), split->partials,
                              ValueRange{partialAt(kernel.blockIds.y, i)});
    });
    // The block's stores are ordered before thread 0's by the barrier;
    // its fences around the count make them visible GPU-wide before the
    // count (release) and the other blocks' stores visible to this block
    // after it (acquire, passed on by the next barrier). Thread 0 tells
    // the block, through partial[0] (read above, before the barrier),
    // whether it came last.
    gpu::BarrierOp::create(b, loc);
    ifThen(eqi(tid, idx(0)), [&] {
      NVVM::MembarOp::create(b, loc, NVVM::MemScopeKind::GPU);
      Value before = memref::AtomicRMWOp::create(
          b, loc, arith::AtomicRMWKind::addi,
          arith::ConstantIntOp::create(b, loc, i32, 1), split->arrivals,
          ValueRange{column});
      NVVM::MembarOp::create(b, loc, NVVM::MemScopeKind::GPU);
      Value last = arith::CmpIOp::create(
          b, loc, arith::CmpIPredicate::eq, before,
          arith::ConstantIntOp::create(b, loc, i32, split->splits - 1));
      memref::StoreOp::create(
          b, loc,
          arith::SelectOp::create(b, loc, last, constant(1.0), constant(0.0)),
          partial, ValueRange{idx(0)});
      // Every split has arrived: ready for the next launch.
      ifThen(last, [&] {
        memref::StoreOp::create(b, loc,
                                arith::ConstantIntOp::create(b, loc, i32, 0),
                                split->arrivals, ValueRange{column});
      });
    });
    gpu::BarrierOp::create(b, loc);
    Value cameLast = arith::CmpFOp::create(
        b, loc, arith::CmpFPredicate::OEQ,
        memref::LoadOp::create(b, loc, partial, ValueRange{idx(0)}),
        constant(1.0));
    ifThen(cameLast, [&] {
      eachElement([&](Value i) {
        Value sum = constant(0.0);
        for (int64_t s = 0; s < split->splits; ++s)
          sum = addf(sum,
                     memref::LoadOp::create(b, loc, split->partials,
                                            ValueRange{partialAt(idx(s), i)}));
        finish(i, sum);
      });
    });
  }

private:
  int64_t warps, unroll, tokenTiles;
  bool accumulate, swapped, pipelined = false;
  std::optional<SplitK> split;
  std::optional<GemvKernelBuilder::Gated> gated;
  StoreEpilogue epilogue;
};

/// Whether `op` writes zero to every element of `v`: `linalg.fill` of
/// zero, or its generic form (no inputs, identity map, all parallel,
/// yielding a zero constant) that elementwise fusion leaves.
bool isZeroFill(Operation *op, Value v) {
  if (auto fill = dyn_cast_or_null<linalg::FillOp>(op))
    return fill.getOutputs()[0] == v &&
           matchPattern(fill.value(), m_AnyZeroFloat());
  auto generic = dyn_cast_or_null<linalg::GenericOp>(op);
  if (!generic || generic.getNumDpsInputs() != 0 ||
      generic.getNumDpsInits() != 1 || generic.getDpsInits()[0] != v ||
      !generic.getIndexingMapsArray()[0].isIdentity() ||
      generic.getNumReductionLoops() != 0)
    return false;
  auto yield = cast<linalg::YieldOp>(generic.getBody()->getTerminator());
  return generic.getBody()->getOperations().size() == 1 &&
         matchPattern(yield.getValues()[0], m_AnyZeroFloat());
}

/// The users of `alloc` before `op` in `op`'s block (`op` aside), or
/// failure where one lies nested in an earlier op (what it does there is
/// unknown). Users nested in later ops, a kernel reading a view of the
/// buffer say, come after `op`.
FailureOr<SmallVector<Operation *>> usersBefore(Operation *alloc,
                                                Operation *op) {
  SmallVector<Operation *> before;
  for (Operation *user : alloc->getUsers()) {
    if (user == op)
      continue;
    Operation *at = op->getBlock()->findAncestorOpInBlock(*user);
    if (!at || (at != user && at->isBeforeInBlock(op)))
      return failure();
    if (at == user && user->isBeforeInBlock(op))
      before.push_back(user);
  }
  return before;
}

/// Whether buffer `v` holds zeros when `reader` (a later op of the same
/// block) reads it: a fresh allocation filled with zero, then only read
/// (copied from) until `reader`.
bool holdsZerosAt(Value v, Operation *reader) {
  auto alloc = v.getDefiningOp<memref::AllocOp>();
  if (!alloc)
    return false;
  FailureOr<SmallVector<Operation *>> before = usersBefore(alloc, reader);
  if (failed(before))
    return false;
  Operation *fill = nullptr;
  for (Operation *user : *before) {
    if (isZeroFill(user, v)) {
      if (fill)
        return false;
      fill = user;
      continue;
    }
    auto copy = dyn_cast<linalg::CopyOp>(user);
    if (!copy || copy.getInputs()[0] != v || copy.getOutputs()[0] == v)
      return false;
  }
  // The copies before `reader` come after the fill.
  return fill && llvm::all_of(*before, [&](Operation *user) {
           return user == fill || fill->isBeforeInBlock(user);
         });
}

/// Where `op`'s output is a fresh allocation whose last writer before `op`
/// fills it with zero (`linalg.fill 0`, or `linalg.copy` of a zero buffer,
/// which bufferization makes when several projections share one zero
/// tensor), with nothing touching it in between: erases that
/// initialization (and a zero fill left without readers) and returns
/// true, so that the kernel writes its results instead of adding them.
bool eraseZeroInitialization(linalg::ContractOp op, RewriterBase &rewriter) {
  Value out = op.getDpsInits()[0];
  auto alloc = out.getDefiningOp<memref::AllocOp>();
  if (!alloc || llvm::is_contained(op.getDpsInputs(), out))
    return false;
  // The last use of the output before `op`, in the same block.
  FailureOr<SmallVector<Operation *>> before = usersBefore(alloc, op);
  if (failed(before) || before->empty())
    return false;
  Operation *init = before->front();
  for (Operation *user : *before)
    if (init->isBeforeInBlock(user))
      init = user;
  // Any other use before `op` must neither alias the buffer (views,
  // casts) nor be anything but a structured op on it: a view made before
  // the fill could write or read it between the fill and `op` unseen.
  if (llvm::any_of(*before, [&](Operation *user) {
        return user != init &&
               !isa<linalg::FillOp, linalg::CopyOp, linalg::GenericOp>(user);
      }))
    return false;
  Value source;
  if (!isZeroFill(init, out)) {
    auto copy = dyn_cast<linalg::CopyOp>(init);
    if (!copy || copy.getOutputs()[0] != out ||
        !holdsZerosAt(copy.getInputs()[0], copy))
      return false;
    source = copy.getInputs()[0];
  }
  rewriter.eraseOp(init);
  // A zero buffer nothing copies from any more needs no fill.
  if (source) {
    Operation *sourceAlloc = source.getDefiningOp();
    if (llvm::all_of(sourceAlloc->getUsers(), [&](Operation *user) {
          return isZeroFill(user, source) || isa<memref::DeallocOp>(user);
        }))
      for (Operation *user :
           llvm::make_early_inc_range(sourceAlloc->getUsers()))
        if (isZeroFill(user, source))
          rewriter.eraseOp(user);
  }
  return true;
}

/// Whether `op` is `y = truncf(x)`, elementwise from `x` into `y` (identity
/// maps, all parallel), y of a 16-bit float type.
bool isTruncation(linalg::GenericOp op, Value x) {
  if (op.getNumDpsInputs() != 1 || op.getNumDpsInits() != 1 ||
      op.getDpsInputs()[0] != x ||
      op.getNumLoops() != op.getNumParallelLoops() ||
      !llvm::all_of(op.getIndexingMapsArray(),
                    [](AffineMap m) { return m.isIdentity(); }))
    return false;
  auto yType = cast<MemRefType>(op.getDpsInits()[0].getType());
  if (yType.getShape() != cast<MemRefType>(x.getType()).getShape() ||
      yType.getElementTypeBitWidth() != 16 ||
      !yType.getLayout().isIdentity())
    return false;
  Block &body = op.getRegion().front();
  if (body.getOperations().size() != 2)
    return false;
  auto trunc = dyn_cast<arith::TruncFOp>(body.front());
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  // (Only the default rounding: the kernel's stores round to nearest.)
  return trunc && !trunc.getRoundingmodeAttr() &&
         trunc.getIn() == body.getArgument(0) &&
         yield.getValues().size() == 1 &&
         yield.getValues()[0] == trunc.getResult();
}

/// The buffer that `op`'s result views, or null where `op` makes no view.
/// (memref.transpose is a view without ViewLikeOpInterface in MLIR 22; the
/// chunkwise kernels transpose q, k and v inside their launches.)
Value viewSource(Operation *op) {
  if (auto view = dyn_cast<ViewLikeOpInterface>(op))
    return view.getViewSource();
  if (auto transpose = dyn_cast<memref::TransposeOp>(op))
    return transpose.getIn();
  return {};
}

/// Whether a kernel may write the fresh buffer `y` where `op` stands instead
/// of `consumer` (a later op in its block) writing it: nothing reads or
/// writes `y`, through any view, between `op` and `consumer`, and `op` does
/// not read it. (Buffers are reused: earlier blocks' views of `y` used
/// before `op` are fine.)
bool untouchedBetween(Value y, linalg::ContractOp op, Operation *consumer) {
  SmallVector<Value> aliases = {y};
  for (size_t i = 0; i < aliases.size(); ++i) {
    Value alias = aliases[i];
    if (llvm::is_contained(op.getDpsInputs(), alias))
      return false;
    for (Operation *user : alias.getUsers()) {
      if (user == consumer)
        continue;
      if (viewSource(user) == alias) {
        aliases.push_back(user->getResult(0));
        continue;
      }
      // (Another memref made from it, a select say, aliases it unseen.)
      if (llvm::any_of(user->getResultTypes(), llvm::IsaPred<MemRefType>))
        return false;
      Operation *at = op->getBlock()->findAncestorOpInBlock(*user);
      if (!at)
        return false;
      if (op->isBeforeInBlock(at) && at->isBeforeInBlock(consumer))
        return false;
    }
  }
  return true;
}

/// The size of dimension `d` of `view`, a collapse_shape of the allocation
/// `alloc`, from `alloc`'s own sizes (built at the rewriter's insertion
/// point, a multiplication where several dimensions merge); the caller
/// checked that at most one of them is dynamic.
Value collapsedSize(RewriterBase &rewriter, memref::CollapseShapeOp view,
                    memref::AllocOp alloc, int64_t d) {
  MemRefType type = alloc.getType();
  int64_t statics = 1;
  Value dynamic;
  for (int64_t j : view.getReassociationIndices()[d]) {
    if (!type.isDynamicDim(j)) {
      statics *= type.getDimSize(j);
      continue;
    }
    dynamic = alloc.getDynamicSizes()[type.getDynamicDimIndex(j)];
  }
  Location loc = view.getLoc();
  if (dynamic && statics == 1)
    return dynamic;
  Value factor = arith::ConstantIndexOp::create(rewriter, loc, statics);
  if (!dynamic)
    return factor;
  return arith::MulIOp::create(rewriter, loc, dynamic, factor);
}

/// Where `op` writes (not adds to) a fresh float32 buffer that only a later
/// truncation to 16 bits reads (the bf16 operand of the next op), directly
/// or through a collapse_shape (a headwise projection's blocks read as one
/// row), views of it asked only for their sizes aside: the truncation's
/// output (expanded back to the buffer's shape where it read a view), for
/// the kernel to write rounded values into directly, with the truncation
/// erased (the float32 buffer then has no reader left). Null otherwise.
/// The output must be allocated in `op`'s block (before `op`, or after it
/// and then made anew before it from the buffer's sizes) and be used (or
/// viewed) only after the truncation.
Value fuseTruncation(linalg::ContractOp op, RewriterBase &rewriter) {
  Value out = op.getDpsInits()[0];
  auto alloc = out.getDefiningOp<memref::AllocOp>();
  if (!alloc)
    return {};
  MemRefType outType = alloc.getType();
  // Whether each group of `view`'s dimensions has at most one dynamic
  // size (collapsedSize can then say the view's sizes).
  auto sizable = [&](memref::CollapseShapeOp view) {
    return llvm::all_of(
        view.getReassociationIndices(), [&](const ReassociationIndices &g) {
          return llvm::count_if(g, [&](int64_t j) {
                   return outType.isDynamicDim(j);
                 }) <= 1;
        });
  };
  linalg::GenericOp truncation;
  memref::CollapseShapeOp readView; // null: it reads `out` itself
  SmallVector<memref::CollapseShapeOp> views;
  SmallVector<memref::DimOp> sizeQueries;
  auto takeReader = [&](Operation *user, Value read) {
    auto generic = dyn_cast<linalg::GenericOp>(user);
    if (truncation || !generic || !isTruncation(generic, read) ||
        generic->getBlock() != op->getBlock() ||
        !op->isBeforeInBlock(generic))
      return false;
    truncation = generic;
    return true;
  };
  for (Operation *user : alloc->getUsers()) {
    if (user == op || isa<memref::DeallocOp>(user))
      continue;
    auto view = dyn_cast<memref::CollapseShapeOp>(user);
    if (!view) {
      if (!takeReader(user, out))
        return {};
      continue;
    }
    if (!sizable(view))
      return {};
    views.push_back(view);
    for (Operation *viewUser : view->getUsers()) {
      auto dim = dyn_cast<memref::DimOp>(viewUser);
      if (dim && dim.getConstantIndex()) {
        sizeQueries.push_back(dim);
        continue;
      }
      if (!takeReader(viewUser, view.getResult()))
        return {};
      readView = view;
    }
  }
  if (!truncation)
    return {};
  Value y = truncation.getDpsInits()[0];
  // A fresh buffer (so that only its own uses and their views alias it).
  auto yDef = y.getDefiningOp<memref::AllocOp>();
  if (!yDef || yDef->getBlock() != op->getBlock() ||
      !untouchedBetween(y, op, truncation))
    return {};
  // (All checked: from here on it rewrites.)
  // The views' sizes from the buffer's own, right after it (so before `op`
  // and y).
  auto sizeOf = [&](memref::CollapseShapeOp view, int64_t d) {
    rewriter.setInsertionPointAfter(alloc);
    return collapsedSize(rewriter, view, alloc, d);
  };
  for (memref::DimOp dim : sizeQueries)
    rewriter.replaceOp(
        dim, sizeOf(cast<memref::CollapseShapeOp>(dim.getSource().getDefiningOp()),
                    *dim.getConstantIndex()));
  if (!yDef->isBeforeInBlock(op)) {
    // y made anew before `op`, of the same sizes.
    SmallVector<Value> sizes;
    MemRefType yType = yDef.getType();
    for (int64_t d = 0; d < yType.getRank(); ++d)
      if (yType.isDynamicDim(d))
        sizes.push_back(readView ? sizeOf(readView, d)
                                 : alloc.getDynamicSizes()
                                       [outType.getDynamicDimIndex(d)]);
    rewriter.setInsertionPoint(op);
    auto made = memref::AllocOp::create(rewriter, yDef.getLoc(), yType, sizes,
                                        yDef.getAlignmentAttr());
    rewriter.replaceOp(yDef, made.getResult());
    y = made.getResult();
  }
  rewriter.eraseOp(truncation);
  SmallVector<ReassociationIndices> groups;
  if (readView)
    groups = readView.getReassociationIndices();
  for (memref::CollapseShapeOp view : views)
    if (view->use_empty())
      rewriter.eraseOp(view);
  if (!readView)
    return y;
  rewriter.setInsertionPoint(op);
  return memref::ExpandShapeOp::create(
      rewriter, op.getLoc(),
      MemRefType::get(outType.getShape(),
                      cast<MemRefType>(y.getType()).getElementType()),
      y, groups);
}

bool hasKernelBody(linalg::GenericOp op);

/// Whether nothing writes `buffer` through any of its views (`reader`
/// aside, which only reads it): every other user is a view, or an op
/// whose memory effects are known and write neither it nor an unnamed
/// value.
bool onlyRead(Value buffer, Operation *reader) {
  SmallVector<Value> aliases = {buffer};
  for (size_t i = 0; i < aliases.size(); ++i)
    for (Operation *user : aliases[i].getUsers()) {
      if (user == reader)
        continue;
      if (viewSource(user) == aliases[i]) {
        aliases.push_back(user->getResult(0));
        continue;
      }
      // (Another memref made from it aliases it unseen.)
      auto effects = dyn_cast<MemoryEffectOpInterface>(user);
      if (!effects ||
          llvm::any_of(user->getResultTypes(), llvm::IsaPred<MemRefType>))
        return false;
      SmallVector<MemoryEffects::EffectInstance> list;
      effects.getEffects(list);
      for (const MemoryEffects::EffectInstance &effect : list)
        if (isa<MemoryEffects::Write>(effect.getEffect()) &&
            (!effect.getValue() || effect.getValue() == aliases[i]))
          return false;
    }
  return true;
}

/// Whether `op`, later in `at`'s block, may move before `at`: what it
/// uses exists there (`exempt` aside, which moves too or exists).
bool movableBefore(Operation *op, Operation *at, Value exempt = {}) {
  if (!at->isBeforeInBlock(op))
    return true;
  return llvm::all_of(op->getOperands(), [&](Value v) {
    Operation *def = v.getDefiningOp();
    return v == exempt || !def || def->getBlock() != op->getBlock() ||
           def->isBeforeInBlock(at);
  });
}

/// Where `op` writes (not adds to) a fresh float32 buffer whose one reader
/// is a later elementwise op in its block, y = f(out, v...), of out's shape
/// (or whose first reader is such an op writing y in place, out = y, before
/// every other user),
/// whose other inputs are parameter vectors along the last dimension (a
/// bias) and whose body a kernel can evaluate (the mLSTM gates' bias and
/// soft cap): that op, its input `resultInput` the buffer; y's allocation
/// is moved before `op` where it came later. Null otherwise.
linalg::GenericOp matchEpilogue(linalg::ContractOp op, unsigned &resultInput) {
  Value out = op.getDpsInits()[0];
  auto alloc = out.getDefiningOp<memref::AllocOp>();
  if (!alloc || alloc->getBlock() != op->getBlock() ||
      !alloc.getType().getElementType().isF32() ||
      !alloc.getType().getLayout().isIdentity())
    return {};
  MemRefType outType = alloc.getType();
  int64_t rank = outType.getRank();
  // The first reader of `out` after `op`, a generic in its block; any
  // other user only where that generic writes `out` in place and the user
  // comes after it (reading the generic's result, which the kernels store).
  linalg::GenericOp g;
  SmallVector<Operation *> others;
  // (A user of several operands is listed once for each.)
  for (Operation *user : alloc->getUsers()) {
    if (user == op || user == g || isa<memref::DeallocOp>(user) ||
        llvm::is_contained(others, user))
      continue;
    auto generic = dyn_cast<linalg::GenericOp>(user);
    if (generic && generic->getBlock() == op->getBlock() &&
        op->isBeforeInBlock(generic) && (!g || generic->isBeforeInBlock(g))) {
      if (g)
        others.push_back(g);
      g = generic;
      continue;
    }
    others.push_back(user);
  }
  if (!g)
    return {};
  for (Operation *user : others) {
    Operation *at = op->getBlock()->findAncestorOpInBlock(*user);
    if (g.getDpsInits()[0] != out || !at || !g->isBeforeInBlock(at))
      return {};
  }
  if (g.getNumLoops() != g.getNumParallelLoops() || g.getNumLoops() != rank ||
      !hasKernelBody(g))
    return {};
  Value y = g.getDpsInits()[0];
  auto yType = cast<MemRefType>(y.getType());
  auto yAlloc = y.getDefiningOp<memref::AllocOp>();
  if (!yAlloc || yAlloc->getBlock() != op->getBlock() ||
      !yType.getLayout().isIdentity() ||
      yType.getShape() != outType.getShape() ||
      !g.getIndexingMapsArray().back().isIdentity() ||
      outType.isDynamicDim(rank - 1))
    return {};
  // One input is `out`, read in place; the others are vectors indexed by
  // the last loop, function arguments (parameters: nothing writes them).
  AffineMap column =
      AffineMap::get(rank, 0, getAffineDimExpr(rank - 1, op.getContext()));
  bool sawOut = false;
  for (OpOperand *input : g.getDpsInputOperands()) {
    AffineMap map = g.getMatchingIndexingMap(input);
    if (input->get() == out) {
      if (sawOut || !map.isIdentity())
        return {};
      sawOut = true;
      resultInput = input->getOperandNumber();
      continue;
    }
    auto vType = dyn_cast<MemRefType>(input->get().getType());
    auto arg = dyn_cast<BlockArgument>(input->get());
    if (!vType || vType.getRank() != 1 || !vType.getLayout().isIdentity() ||
        vType.getDimSize(0) != outType.getDimSize(rank - 1) || map != column ||
        !arg || !isa<FunctionOpInterface>(arg.getOwner()->getParentOp()))
      return {};
    // (Read, never written: a state argument could change in between.)
    if (!onlyRead(arg, g))
      return {};
  }
  if (!sawOut || !untouchedBetween(y, op, g) || !movableBefore(yAlloc, op))
    return {};
  if (op->isBeforeInBlock(yAlloc))
    yAlloc->moveBefore(op);
  return g;
}

/// The buffer `v` views: the source of its chain of view-like ops.
Value rootBuffer(Value v) {
  while (Operation *def = v.getDefiningOp()) {
    Value source = viewSource(def);
    if (!source)
      break;
    v = source;
  }
  return v;
}

/// Whether `root` is a buffer whose aliases are its own uses and their views:
/// an allocation, or an argument of the function.
bool isFreshBuffer(Value root) {
  return root.getDefiningOp<memref::AllocOp>() ||
         (isa<BlockArgument>(root) &&
          isa<FunctionOpInterface>(root.getParentBlock()->getParentOp()));
}

/// The extent of dimension `d` of the memref `v`, as a key equal for two
/// dimensions known to be equal: the static size (null, size), or the
/// dimension of a block argument (argument, d) or the index value
/// (value, -1) it was made from, found by following allocations' dynamic
/// sizes, expand_shape's output shape, collapse_shape's one-dimension
/// groups and memref.dim back to their source. None where the chain
/// leaves these ops.
std::optional<std::pair<Value, int64_t>> extentKey(Value v, int64_t d) {
  // (A bound on the chain's length: the IR is finite, but cheap to cap.)
  for (int step = 0; step < 64; ++step) {
    auto type = dyn_cast<MemRefType>(v.getType());
    if (!type || d < 0 || d >= type.getRank())
      return std::nullopt;
    if (!type.isDynamicDim(d))
      return std::pair{Value(), type.getDimSize(d)};
    Operation *def = v.getDefiningOp();
    if (!def)
      return std::pair{v, d};
    OpFoldResult size;
    if (auto alloc = dyn_cast<memref::AllocOp>(def)) {
      size = alloc.getDynamicSizes()[type.getDynamicDimIndex(d)];
    } else if (auto expand = dyn_cast<memref::ExpandShapeOp>(def)) {
      size = expand.getMixedOutputShape()[d];
    } else if (auto collapse = dyn_cast<memref::CollapseShapeOp>(def)) {
      ReassociationIndices group = collapse.getReassociationIndices()[d];
      if (group.size() != 1)
        return std::nullopt;
      v = collapse.getSrc();
      d = group.front();
      continue;
    } else {
      return std::nullopt;
    }
    if (std::optional<int64_t> constant = getConstantIntValue(size))
      return std::pair{Value(), *constant};
    auto dim = cast<Value>(size).getDefiningOp<memref::DimOp>();
    std::optional<int64_t> index = dim ? dim.getConstantIndex() : std::nullopt;
    if (!index)
      return std::pair{cast<Value>(size), int64_t(-1)};
    v = dim.getSource();
    d = *index;
  }
  return std::nullopt;
}

/// Whether the memrefs `a` and `b`, of equal rank, provably have the same
/// sizes in every dimension but the last two (a headwise projection's rows).
bool sameLeadingExtents(Value a, Value b) {
  int64_t rank = cast<MemRefType>(a.getType()).getRank();
  if (cast<MemRefType>(b.getType()).getRank() != rank)
    return false;
  for (int64_t d = 0; d + 2 < rank; ++d) {
    std::optional<std::pair<Value, int64_t>> ka = extentKey(a, d),
                                             kb = extentKey(b, d);
    if (!ka || !kb || *ka != *kb)
      return false;
  }
  return true;
}

/// Whether `user` of a buffer allocated in `op`'s block comes before `op`
/// there: an earlier use of a buffer bufferization reuses, which cannot see
/// what `op` writes. (prepare() keeps a zero fill, so no gated kernel, where
/// a view of the buffer precedes `op`.)
bool usedBefore(Operation *user, Operation *op) {
  if (user->getBlock() != op->getBlock() || !user->isBeforeInBlock(op))
    return false;
  // (A view made earlier could be read after `op`.)
  if (viewSource(user))
    for (Value result : user->getResults())
      for (Operation *viewUser : result.getUsers())
        if (!usedBefore(viewUser, op))
          return false;
  return true;
}

/// Where `op` writes a fresh, zero-filled float32 buffer that only a later
/// residual add `r = r + y` in place reads (a linalg.generic of identity
/// maps whose body is one addf of r's and y's elements; r of y's type and
/// untouched in between): `op` adds into r instead, which its kernels do
/// (they start from the output), and the add, the zero fill and the buffer
/// go. Saves writing y and reading it and r again, and a launch. Returns
/// whether it fused.
bool fuseResidualAdd(linalg::ContractOp op, RewriterBase &rewriter) {
  Value out = op.getDpsInits()[0];
  auto alloc = out.getDefiningOp<memref::AllocOp>();
  auto outType = cast<MemRefType>(out.getType());
  // (Allocated in `op`'s block: in a loop around it, an earlier use would
  // read the previous iteration's y, which is no longer written.)
  if (!alloc || alloc->getBlock() != op->getBlock() ||
      !outType.getElementType().isF32() || !outType.getLayout().isIdentity())
    return false;
  // The one reader after `op` (its zero initialisation comes before).
  linalg::GenericOp add;
  for (Operation *user : alloc->getUsers()) {
    if (user == op || isa<memref::DeallocOp>(user) || usedBefore(user, op))
      continue;
    auto generic = dyn_cast<linalg::GenericOp>(user);
    if (add || !generic || generic->getBlock() != op->getBlock())
      return false;
    add = generic;
  }
  if (!add || add.getNumDpsInits() != 1 || add.getNumDpsInputs() > 2 ||
      add.getNumLoops() != add.getNumParallelLoops() ||
      !llvm::all_of(add.getIndexingMapsArray(),
                    [](AffineMap m) { return m.isIdentity(); }))
    return false;
  Value r = add.getDpsInits()[0];
  if (r == out || r.getType() != out.getType())
    return false;
  // r's and y's elements in the body: y an input; r an input or the init.
  Block &body = add.getRegion().front();
  Value rElement = body.getArguments().back(), yElement;
  for (OpOperand *input : add.getDpsInputOperands()) {
    BlockArgument arg = add.getMatchingBlockArgument(input);
    if (input->get() == out && !yElement)
      yElement = arg;
    else if (input->get() == r)
      rElement = arg;
    else
      return false;
  }
  auto sum = dyn_cast<arith::AddFOp>(body.front());
  if (!yElement || body.getOperations().size() != 2 || !sum ||
      cast<linalg::YieldOp>(body.getTerminator()).getValues() !=
          ValueRange{sum.getResult()} ||
      !((sum.getLhs() == rElement && sum.getRhs() == yElement) ||
        (sum.getLhs() == yElement && sum.getRhs() == rElement)))
    return false;
  // r exists where `op` stands, and may be added to there.
  if (Operation *def = r.getDefiningOp()) {
    Operation *at = def->getBlock()->findAncestorOpInBlock(*op);
    if (!at || !def->isBeforeInBlock(at))
      return false;
  }
  // y starts from zero: a zero initialisation of its own (erased), or a
  // zero buffer others copy from (bufferization's shared zero tensor; it
  // stays). r may be a view: nothing may touch the buffer it views, through
  // any view, in between.
  Value root = rootBuffer(r);
  if (!isFreshBuffer(root) || !untouchedBetween(root, op, add) ||
      !(eraseZeroInitialization(op, rewriter) || holdsZerosAt(out, op)))
    return false;
  rewriter.modifyOpInPlace(op, [&] { op.getDpsInitsMutable()[0].set(r); });
  rewriter.eraseOp(add);
  if (llvm::all_of(alloc->getUsers(), llvm::IsaPred<memref::DeallocOp>)) {
    for (Operation *user : llvm::make_early_inc_range(alloc->getUsers()))
      rewriter.eraseOp(user);
    rewriter.eraseOp(alloc);
  }
  return true;
}

/// Whether `op` is z = f(a, b): elementwise (identity maps, all parallel)
/// from two inputs into one output it does not read, its body pure ops
/// without regions whose only values from outside are constants (a body
/// a kernel can evaluate on two accumulators).
bool isPairwiseElementwise(linalg::GenericOp op) {
  return op.getNumDpsInputs() == 2 && op.getNumDpsInits() == 1 &&
         op.getNumLoops() == op.getNumParallelLoops() &&
         llvm::all_of(op.getIndexingMapsArray(),
                      [](AffineMap m) { return m.isIdentity(); }) &&
         hasKernelBody(op);
}

/// Whether a kernel can evaluate `op`'s body on values it holds: one
/// output it does not read, arith and math ops without regions whose only
/// values from outside are constants (e.g. a linalg.index would mean
/// nothing in a kernel that sees the output as rows), one value yielded.
bool hasKernelBody(linalg::GenericOp op) {
  Region &region = op.getRegion();
  Block &body = region.front();
  if (op.getNumDpsInits() != 1 || !body.getArguments().back().use_empty())
    return false;
  for (Operation &inner : body.without_terminator()) {
    if (!isa<arith::ArithDialect, math::MathDialect>(inner.getDialect()) ||
        inner.getNumRegions() || inner.getNumResults() != 1 ||
        !isMemoryEffectFree(&inner))
      return false;
    for (Value v : inner.getOperands())
      if (v.getParentRegion() != &region && !matchPattern(v, m_Constant()))
        return false;
  }
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  return yield.getValues().size() == 1 &&
         yield.getValues()[0].getParentRegion() == &region;
}

/// `op`'s body (hasKernelBody) evaluated at `b` on `inputs` (one value per
/// input of `op`), its constants cloned: the value it yields.
Value applyBody(OpBuilder &b, linalg::GenericOp op, ValueRange inputs) {
  Region &region = op.getRegion();
  Block &body = region.front();
  IRMapping map;
  for (auto [arg, value] : llvm::zip(body.getArguments(), inputs))
    map.map(arg, value);
  for (Operation &inner : body.without_terminator()) {
    for (Value v : inner.getOperands())
      if (v.getParentRegion() != &region && !map.contains(v))
        map.map(v, b.clone(*v.getDefiningOp())->getResult(0));
    b.clone(inner, map);
  }
  return map.lookupOrDefault(body.getTerminator()->getOperand(0));
}

/// `op`'s body (isPairwiseElementwise) as text, its input `firstInput`
/// first: what tells two such kernels apart in the kernel cache.
std::string pairwiseKey(linalg::GenericOp op, unsigned firstInput) {
  std::string key;
  llvm::raw_string_ostream os(key);
  llvm::DenseMap<Value, unsigned> ids;
  unsigned next = 0;
  Block &body = op.getRegion().front();
  for (BlockArgument arg : body.getArguments())
    ids[arg] = next++;
  os << "first " << firstInput;
  for (Operation &inner : body) {
    os << "; " << inner.getName() << "(";
    for (Value v : inner.getOperands()) {
      if (auto it = ids.find(v); it != ids.end()) {
        os << "%" << it->second << ",";
        continue;
      }
      Attribute constant;
      matchPattern(v, m_Constant(&constant));
      os << constant << ",";
    }
    os << ") " << inner.getAttrDictionary();
    for (Value r : inner.getResults()) {
      ids[r] = next++;
      os << " " << r.getType();
    }
  }
  return key;
}

/// A contraction on its way to kernels.
struct Site {
  linalg::ContractOp op;
  Projection p;
  /// Whether the kernels add to the output (else it was zero-filled and
  /// they write it).
  bool accumulate = false;
  /// The float32 output that `p.out` (its rounding to 16 bits, or the
  /// epilogue's output) replaces.
  Value f32Out;
  /// An elementwise op fused into the kernels' stores (fuse-epilogues):
  /// it read the float32 result as its input `resultInput` and vectors
  /// along the output's columns as the others; the kernels evaluate it and
  /// write p.out, its output. Erased with the contraction.
  linalg::GenericOp epilogue;
  unsigned resultInput = 0;
};

/// (d0, ..., dn) -> (d0 * ... * d_{n-1}, dn) for an identity memref; for a
/// slice of the last dimension of one (lastDimSlice), its source collapsed
/// and sliced again.
Value collapseLeading(OpBuilder &b, Location loc, Value m) {
  int64_t r = cast<MemRefType>(m.getType()).getRank();
  if (r == 2)
    return m;
  ReassociationIndices lead;
  for (int64_t d = 0; d < r - 1; ++d)
    lead.push_back(d);
  auto collapse = [&](Value v) -> Value {
    return memref::CollapseShapeOp::create(
        b, loc, v, ArrayRef<ReassociationIndices>{lead, {r - 1}});
  };
  if (cast<MemRefType>(m.getType()).getLayout().isIdentity())
    return collapse(m);
  memref::SubViewOp view = lastDimSlice(m);
  Value rows = collapse(view.getSource());
  Value numRows = memref::DimOp::create(b, loc, rows, 0);
  SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0),
                                       view.getMixedOffsets().back()};
  SmallVector<OpFoldResult> sizes = {numRows, view.getMixedSizes().back()};
  SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
  return memref::SubViewOp::create(b, loc, rows, offsets, sizes, strides);
}

struct XLSTMContractToMMAPass
    : xlstm::impl::XLSTMContractToMMAPassBase<XLSTMContractToMMAPass> {
  using Base::Base;
  StagedTile staged;
  std::optional<StagedTile> stagedLarge, stagedNarrow, stagedShortK;
  /// This run's kernels, one per configuration and operand types.
  xlstm::KernelCache *cache = nullptr;
  /// Fewer K steps per split would spend more on the atomic adds of the
  /// partial sums than they save.
  static constexpr int64_t kMinStepsPerSplit = 4;
  /// Blocks of headwise projections that one decoding launch may take: each
  /// passes three rank-2 memref descriptors (168 bytes), and a kernel's
  /// parameters may take 4 KiB.
  static constexpr int64_t kMaxDecodingBlocks = 24;

  /// A sibling pair's operands as a second grid plane of a pair's launch
  /// takes them (x, both W, both outputs; the first pair's types).
  struct PairPlane {
    Value x, w, secondW, out, secondOut;
  };

  /// What the staged kernel of a gated pair (StagedMMAKernelBuilder::Gated)
  /// takes besides a projection's operands.
  struct GatedOperands {
    Value second;     ///< the second projection's W
    int64_t columns;  ///< N of each projection
    std::string key;  ///< the elementwise op, for the kernel cache
    std::string note; ///< for the lowering report
    function_ref<Value(OpBuilder &, Location, Value, Value)> combine;
    int64_t secondRowOffset = 0; ///< StagedMMAKernelBuilder::Gated's
    Site *secondSite = nullptr;  ///< the second projection, if its own op
    /// A sibling pair's second output (StagedMMAKernelBuilder::Gated's);
    /// null for a gated pair.
    Value secondOut = nullptr;
    /// A second sibling pair of another x run by the same launch
    /// (sibling-pair-planes); null for none.
    const PairPlane *secondPlane = nullptr;
  };

  /// A headwise projection's operands as one launch takes them: x (M,
  /// heads K), W (heads N, K), out (M, heads N), N = `n`.
  struct HeadwiseOperands {
    Value x, w, out;
    int64_t n;
    SmallVector<Site> blocks; ///< each block on its own views
  };

  /// Zeroes the (m, n) float32 `out` when `splits` > 1 (split blocks add
  /// into it), a thread per element.
  void zeroWhenSplit(OpBuilder &b, Location loc, Value out, Value m, Value n,
                     Value splits) {
    auto cst = [&](int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); };
    Value many = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt,
                                       splits, cst(1));
    auto ifSplit = scf::IfOp::create(b, loc, many, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifSplit.thenBlock());
    Value count = arith::MulIOp::create(b, loc, m, n);
    Value one = cst(1);
    cache->launch(
        b, loc, "projection_zero", "", {out, m, n},
        {arith::CeilDivUIOp::create(b, loc, count, cst(256)), one, one},
        {256, 1, 1}, /*dynamicSharedBytes=*/nullptr, /*workgroup=*/{},
        [&](OpBuilder &b, const xlstm::KernelCache::Body &kernel) {
          Value out = kernel.args[0], m = kernel.args[1], n = kernel.args[2];
          Value i = arith::AddIOp::create(
              b, loc,
              arith::MulIOp::create(
                  b, loc, kernel.blockIds.x,
                  arith::ConstantIndexOp::create(b, loc, 256)),
              kernel.threadIds.x);
          Value count = arith::MulIOp::create(b, loc, m, n);
          auto inside = scf::IfOp::create(
              b, loc,
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, i,
                                    count),
              /*withElseRegion=*/false);
          b.setInsertionPointToStart(inside.thenBlock());
          memref::StoreOp::create(
              b, loc, arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0)),
              out,
              ValueRange{arith::DivUIOp::create(b, loc, i, n),
                         arith::RemUIOp::create(b, loc, i, n)});
        });
  }

  /// The pipelined kernel for K steps that the configured tile does not
  /// divide (K a multiple of 32 only).
  StagedTile fallbackTile() const {
    StagedTile t; // 128x128x32/2x4
    t.groupM = stagedGroupM;
    t.swizzle = stagedSwizzle;
    return t;
  }

  /// One launch of the pipelined kernel in configuration `cfg` (and its
  /// split-K zeroing), recorded for the lowering report. With `heads`, the
  /// blocks of a headwise projection (x (M, heads K), W (heads N, K), out
  /// (M, heads N), N = `n`), block z of the grid taking head z.
  void emitStaged(IRRewriter &rewriter, Location loc, const StagedTile &cfg,
                  Value x,
                  Value w, Value out, Value m, Value n, int64_t k,
                  bool accumulate,
                  function_ref<void(Operation *, const Twine &,
                                    const Twine &)>
                      record,
                  const Twine &when, const GatedOperands *gated = nullptr,
                  int64_t heads = 0) {
    int64_t numStages = cfg.stages ? cfg.stages : stages;
    auto cst = [&](int64_t v) {
      return arith::ConstantIndexOp::create(rewriter, loc, v);
    };
    auto ceilDiv = [&](Value v, int64_t d) -> Value {
      return arith::CeilDivUIOp::create(rewriter, loc, v, cst(d));
    };
    Type elt = cast<MemRefType>(x.getType()).getElementType();
    Value shared = arith::ConstantIntOp::create(
        rewriter, loc, rewriter.getI32Type(),
        cfg.sharedBytes(elt.getIntOrFloatBitWidth(), numStages));
    Value one = cst(1);
    Value gridX = ceilDiv(m, cfg.blockM), gridY = ceilDiv(n, cfg.blockN);
    Value tiles = arith::MulIOp::create(rewriter, loc, gridX, gridY);
    if (cfg.groupM > 0) {
      gridX = tiles;
      gridY = one;
    }
    // Split K where the output has too few tiles to fill the GPU: as many
    // splits as bring the grid to split-k-blocks, each at least
    // kMinStepsPerSplit K steps.
    std::optional<StagedMMAKernelBuilder::SplitK> split;
    // (A second sibling pair: grid planes heads to 2 heads.)
    const PairPlane *plane = gated ? gated->secondPlane : nullptr;
    assert((!plane || heads) && "a pair's second plane is headwise");
    int64_t planes = plane ? 2 : 1;
    Value gridZ = heads ? cst(heads * planes) : one;
    int64_t kSteps = k / cfg.blockK;
    int64_t maxSplits = kSteps / kMinStepsPerSplit;
    if (splitKBlocks > 0 && maxSplits > 1 && !gated && !heads) {
      // (At least one tile: M may be 0.)
      Value wanted = arith::CeilDivUIOp::create(
          rewriter, loc, cst(splitKBlocks),
          arith::MaxUIOp::create(rewriter, loc, tiles, cst(1)));
      Value splits =
          arith::MinUIOp::create(rewriter, loc, wanted, cst(maxSplits));
      Value per = arith::CeilDivUIOp::create(rewriter, loc, cst(kSteps), splits);
      // No split without steps.
      splits = arith::CeilDivUIOp::create(rewriter, loc, cst(kSteps), per);
      split = StagedMMAKernelBuilder::SplitK{per, splits};
      gridZ = splits;
      if (!accumulate)
        zeroWhenSplit(rewriter, loc, out, m, n, splits);
    }
    StagedTile tile = cfg;
    // Whole-tile stores where K is long: a short K's tile is mostly its
    // stores, and two copies of them measured slower (the sLSTM's gate
    // heads, K of 3 steps: 0.112 -> 0.117 ms on an H100).
    bool wholeTiles = wholeTileStores && kSteps > shortKMaxSteps;
    // 16-bit or float32 results through shared memory, where asked and it
    // applies: a projection, a sibling pair or a gated pair's combined values
    // (no split), whole 16-byte chunks of identity-layout rows; in the
    // drained stages, or with several tiles a block (whose next tile's loads
    // are in flight in the stages) behind them, where that fits.
    auto outType = cast<MemRefType>(out.getType());
    int64_t outputs = gated && gated->secondOut ? 2 : 1;
    // (A head's N, and a pair's output's: the pair's own, half the
    // interleaved grid's.)
    std::optional<int64_t> nStatic =
        gated ? std::optional<int64_t>(gated->columns) : getConstantIntValue(n);
    // (An accumulating kernel's sums already hold `out`, or with
    // accumulate-in-epilogue are added to it a chunk at a time; float32
    // only, the residual stream's type.)
    Type outElt = outType.getElementType();
    int64_t stageBytes =
        cfg.sharedBytes(elt.getIntOrFloatBitWidth(), numStages);
    int64_t copyBytes = StagedMMAKernelBuilder::sharedEpilogueBytes(
        cfg, sharedEpilogueSwizzle, outputs,
        gated ? cfg.blockN / 2 : cfg.blockN,
        outElt.getIntOrFloatBitWidth() / 8);
    // (The output, and a sibling pair's second, of identity layout.)
    auto identityOutputs = [&] {
      return outType.getLayout().isIdentity() &&
             (!gated || !gated->secondOut ||
              cast<MemRefType>(gated->secondOut.getType())
                  .getLayout()
                  .isIdentity());
    };
    auto sharedApplies = [&](bool severalTiles) {
      return sharedEpilogue && !split &&
             (!severalTiles ? copyBytes <= stageBytes
                            : stageBytes + copyBytes <= sharedBytes) &&
             (!accumulate ||
              (sharedEpilogueResiduals && !gated && outElt.isF32())) &&
             (outElt.isBF16() || outElt.isF16() || outElt.isF32()) &&
             identityOutputs() && nStatic && *nStatic % 8 == 0;
    };
    // A K of a few steps: several tiles a block, where asked; with
    // short-k-tiles-per-block=0 as many as spread the launch's tiles (of
    // all its heads) over about short-k-blocks blocks, at least one, and
    // only where the results go through shared memory (direct stores
    // measured slower: the sLSTM 768 block's gate heads 0.094 -> 0.120 ms
    // on an H100, against 0.084 through shared memory). Where a short-K
    // configuration is set, only in its kernels: the default tile's stages
    // and copy together leave one block an SM (the sLSTM 512 block's gated
    // FFN, K 8 steps of 64: 0.079 -> 0.117 ms on an H100). Stores from
    // registers (permuted-column-stores) count as through shared memory
    // here: they store whole 16-byte chunks too (session 45, H100: the gate
    // heads at 768 73.0 us against 79.1 through shared memory). They come
    // before and instead of the shared epilogue where they apply: outputs
    // written whole, identity layouts, N static.
    bool permuted = permutedColumnStores && !split && !accumulate &&
                    identityOutputs() && nStatic &&
                    StagedMMAKernelBuilder::permutedStoresApply(
                        cfg.tilesN(), gated != nullptr, outElt, *nStatic);
    Value perBlock;
    bool shortK = kSteps <= shortKMaxSteps &&
                  (!stagedShortK || cfg.sameShape(*stagedShortK));
    if (shortKTilesPerBlock != 1 && !split && shortK &&
        (shortKTilesPerBlock != 0 || permuted ||
         sharedApplies(/*severalTiles=*/true))) {
      tile.tilesPerBlock = shortKTilesPerBlock;
      if (shortKTilesPerBlock) {
        perBlock = cst(shortKTilesPerBlock);
      } else {
        Value all = arith::MulIOp::create(
            rewriter, loc, tiles, cst(std::max<int64_t>(heads, 1) * planes));
        perBlock = arith::MaxUIOp::create(rewriter, loc,
                                          ceilDiv(all, shortKBlocks), cst(1));
      }
      gridX = arith::CeilDivUIOp::create(rewriter, loc, tiles, perBlock);
      gridY = one;
    }
    bool throughShared = !permuted && sharedApplies(tile.severalTiles());
    if (throughShared || permuted)
      wholeTiles = false;
    bool continued =
        crossTilePrefetch && tile.severalTiles() && kSteps >= numStages - 1;
    if (throughShared && tile.severalTiles())
      shared = arith::ConstantIntOp::create(
          rewriter, loc, rewriter.getI32Type(), stageBytes + copyBytes);
    SmallVector<Value> operands = {x, w, out, m, n};
    if (split)
      operands.append({split->perSplit, split->numSplits});
    if (gated)
      operands.append({gated->second, cst(gated->columns)});
    if (gated && gated->secondOut)
      operands.push_back(gated->secondOut);
    // (A run-time count of tiles a block: the last argument but the second
    // plane's.)
    int64_t perBlockArgument = operands.size();
    if (tile.tilesPerBlock == 0)
      operands.push_back(perBlock);
    int64_t planeArgument = operands.size();
    if (plane)
      operands.append(
          {plane->x, plane->w, plane->secondW, plane->out, plane->secondOut});
    std::string config;
    llvm::raw_string_ostream os(config);
    os << cfg.blockM << "x" << cfg.blockN << "x" << cfg.blockK << "/"
       << cfg.warpsM << "x" << cfg.warpsN << "/" << numStages << " group-m "
       << cfg.groupM
       << (accumulate ? accumulateInEpilogue ? " accumulate in epilogue"
                                             : " accumulate"
                      : "")
       << (split ? " split-k" : "") << (cfg.swizzle ? " swizzled" : "")
       << (f32PairStores ? " float32 pairs" : "")
       << (wholeTiles ? " whole-tile stores" : "")
       << (throughShared ? " shared epilogue" : "")
       << (permuted ? " permuted stores" : "");
    if (tile.severalTiles())
      os << " tiles a block " << tile.tilesPerBlock;
    if (continued)
      os << " cross-tile prefetch";
    if (gated)
      os << " gated " << gated->key << " second rows +"
         << gated->secondRowOffset;
    assert((!heads || nStatic) && "a headwise block's N is static");
    if (heads)
      os << " heads " << heads << " of " << *nStatic;
    if (plane)
      os << " planes " << planes;
    StringRef name = !gated             ? "projection_mma_staged"
                     : gated->secondOut ? "projection_mma_pair"
                                        : "projection_mma_gated";
    auto launch = cache->launch(
        rewriter, loc, name, config, operands, {gridX, gridY, gridZ},
        {cfg.threads(), 1, 1}, shared, /*workgroup=*/{},
        [&](OpBuilder &b, const xlstm::KernelCache::Body &kernel) {
          std::optional<StagedMMAKernelBuilder::SplitK> inside;
          if (split)
            inside = StagedMMAKernelBuilder::SplitK{kernel.args[5],
                                                    kernel.args[6]};
          std::optional<StagedMMAKernelBuilder::Gated> pair;
          if (gated)
            pair = StagedMMAKernelBuilder::Gated{
                kernel.args[5], kernel.args[6], gated->secondRowOffset,
                gated->combine, gated->secondOut ? kernel.args[7] : Value()};
          Value x = kernel.args[0], w = kernel.args[1],
                out = kernel.args[2];
          Value head = kernel.blockIds.z;
          // The second plane's blocks: its pair's operands, head z - heads.
          if (plane) {
            assert(pair && pair->secondOut &&
                   "a second plane of sibling pairs");
            Value headsValue = arith::ConstantIndexOp::create(b, loc, heads);
            Value upper = arith::CmpIOp::create(
                b, loc, arith::CmpIPredicate::uge, head, headsValue);
            head = arith::SelectOp::create(
                b, loc, upper, arith::SubIOp::create(b, loc, head, headsValue),
                head);
            auto pick = [&](int64_t i, Value first) -> Value {
              return arith::SelectOp::create(
                  b, loc, upper, kernel.args[planeArgument + i], first);
            };
            x = pick(0, x);
            w = pick(1, w);
            pair->second = pick(2, pair->second);
            out = pick(3, out);
            pair->secondOut = pick(4, pair->secondOut);
          }
          if (heads) {
            std::array<Value, 3> views =
                headViews(b, loc, head, x, w, out, kernel.args[3], *nStatic, k);
            if (pair) {
              std::array<Value, 3> second =
                  headViews(b, loc, head, x, pair->second,
                            pair->secondOut ? pair->secondOut : out,
                            kernel.args[3], *nStatic, k);
              pair->second = second[1];
              if (pair->secondOut)
                pair->secondOut = second[2];
            }
            x = views[0];
            w = views[1];
            out = views[2];
          }
          StagedMMAKernelBuilder builder(
              b, loc, tile, accumulate, pair ? &*pair : nullptr,
              /*evenView=*/heads != 0, accumulateInEpilogue, f32PairStores);
          builder.wholeTileStores = wholeTiles;
          builder.sharedEpilogue = throughShared;
          builder.permutedColumns = permuted;
          if (permuted)
            builder.permutedTiles =
                StagedMMAKernelBuilder::permutedTilesFor(outElt);
          builder.swizzleCopy = sharedEpilogueSwizzle;
          builder.loadsAhead = sharedEpilogueLoadsAhead;
          builder.crossTilePrefetch = continued;
          if (tile.tilesPerBlock == 0)
            builder.tilesPerBlockArgument = kernel.args[perBlockArgument];
          builder.build(x, w, out, kernel.args[3], kernel.args[4], k, numStages,
                        kernel, inside);
        });
    record(launch,
           "mma-staged " + Twine(cfg.blockM) + "x" + Twine(cfg.blockN) + "x" +
               Twine(cfg.blockK) + " " + Twine(cfg.warpsM * cfg.warpsN) +
               " warps " + Twine(numStages) + " stages" +
               (cfg.groupM ? " group-m " + Twine(cfg.groupM) : Twine()) +
               (cfg.swizzle ? " swizzled" : "") +
               (throughShared ? ", stores through shared memory" : "") +
               (permuted ? ", 16-byte stores from registers (W rows permuted)"
                         : "") +
               (split ? ", split-k up to " + Twine(maxSplits) + " below " +
                            Twine(splitKBlocks) + " tiles"
                      : Twine()) +
               (tile.tilesPerBlock > 1
                    ? ", " + Twine(tile.tilesPerBlock) + " tiles a block"
                : tile.tilesPerBlock == 0
                    ? ", several tiles a block (" + Twine(shortKBlocks) +
                          " blocks at most)"
                    : Twine()) +
               (continued ? ", the next tile's first stages loaded in the K "
                            "loop"
                          : "") +
               (gated ? ", " + Twine(gated->note) : Twine()) +
               (plane ? ", one launch for the " + Twine(2 * heads) +
                            " heads of both pairs"
                : heads ? ", one launch for its " + Twine(heads) + " heads"
                        : Twine()),
           when);
  }

  void runOnOperation() override {
    TileShape tile{warpsM, warpsN, warpTilesM, warpTilesN};
    if (tile.warpsM < 1 || tile.warpsN < 1 || tile.tilesM < 1 ||
        tile.tilesN < 1 || tile.warpsM * tile.warpsN > 32) {
      getOperation()->emitError("xlstm-contract-to-mma: tile options must be "
                                "positive with at most 32 warps per block");
      return signalPassFailure();
    }
    if (residentWeightRows < 1 || residentWeightRows > 1024 ||
        residentWeightStages < 2 || residentWeightStages > 8 ||
        residentWeightBlocks < 1 ||
        !llvm::is_contained({4, 8, 16}, residentWeightWarps)) {
      getOperation()->emitError(
          "xlstm-contract-to-mma: resident-weight-rows must be 1 to 1024, "
          "resident-weight-stages 2 to 8, resident-weight-blocks at least 1 "
          "and resident-weight-warps 4, 8 or 16");
      return signalPassFailure();
    }
    if (sharedEpilogueLoadsAhead < 1 || sharedEpilogueLoadsAhead > 16) {
      getOperation()->emitError("xlstm-contract-to-mma: "
                                "shared-epilogue-loads-ahead must be 1 to 16");
      return signalPassFailure();
    }
    if (shortKTilesPerBlock < 0 || shortKTilesPerBlock > 64 ||
        shortKBlocks < 1 || shortKMaxSteps < 1) {
      getOperation()->emitError(
          "xlstm-contract-to-mma: short-k-tiles-per-block must be 0 to 64, "
          "short-k-blocks and short-k-max-steps at least 1");
      return signalPassFailure();
    }
    if (gemvMaxRows < 0 || gemvMaxRows > 32 || gemvWarps < 1 ||
        gemvWarps > 32 || gemvUnroll < 1 || gemvUnroll > 8 ||
        gemvLoadsInFlight < 0) {
      getOperation()->emitError(
          "xlstm-contract-to-mma: gemv-max-rows must be 0 to 32, gemv-warps "
          "1 to 32, gemv-unroll 1 to 8 and gemv-loads-in-flight at least 0");
      return signalPassFailure();
    }
    // The small-batch kernel's reduction buffer is static shared memory:
    // at most 48 KiB.
    int64_t reductionBytes = 4 * SmallBatchMMAKernelBuilder::reductionFloats(
                                     smallBatchWarps, (gemvMaxRows + 7) / 8);
    if (smallBatchWarps < 1 || smallBatchWarps > 32 || smallBatchUnroll < 1 ||
        smallBatchUnroll > 8 || gemvMinN < 0 ||
        (smallBatchMMA && reductionBytes > 48 * 1024)) {
      getOperation()->emitError(
          "xlstm-contract-to-mma: small-batch-warps must be 1 to 32, "
          "small-batch-unroll 1 to 8, gemv-min-n at least 0, and "
          "small-batch-warps x ceil(gemv-max-rows / 8) at most 96 (48 KiB of "
          "shared memory for the small-batch sum)");
      return signalPassFailure();
    }
    if (smallBatchMinBlocksPerSM < 0 || smallBatchMinBlocksPerSM > 32) {
      getOperation()->emitError("xlstm-contract-to-mma: "
                                "small-batch-min-blocks-per-sm must be 0 to "
                                "32");
      return signalPassFailure();
    }
    if (smallBatchSplitKBlocks < 0 || smallBatchSplitKBlocks > (1 << 20)) {
      getOperation()->emitError("xlstm-contract-to-mma: "
                                "small-batch-split-k-blocks must be 0 to "
                                "1048576");
      return signalPassFailure();
    }
    if (skinnyWarps < 1 || skinnyWarps > 32 || skinnyUnroll < 1 ||
        skinnyUnroll > 8 || skinnySiblingsRows < 16 ||
        skinnySiblingsRows > 32 ||
        (skinnyProjections &&
         4 * SmallBatchMMAKernelBuilder::reductionFloats(
                 skinnyWarps,
                 std::max((gemvMaxRows + 7) / 8,
                          skinnySiblings ? (skinnySiblingsRows + 7) / 8
                                         : int64_t(0))) >
             48 * 1024)) {
      getOperation()->emitError(
          "xlstm-contract-to-mma: skinny-warps must be 1 to 32, skinny-unroll "
          "1 to 8, skinny-siblings-rows 16 to 32, and skinny-warps x "
          "ceil(max(gemv-max-rows, skinny-siblings-rows) / 8) at most 96");
      return signalPassFailure();
    }
    if (stages < 0 || stages == 1 || stages > 8) {
      getOperation()->emitError("xlstm-contract-to-mma: stages must be 0 (the "
                                "direct kernel) or 2 to 8");
      return signalPassFailure();
    }
    std::string tileError;
    if (sharedBytes < 48 * 1024) {
      getOperation()->emitError("xlstm-contract-to-mma: shared-bytes must be "
                                "at least 49152 (what every GPU gives)");
      return signalPassFailure();
    }
    FailureOr<StagedTile> parsedTile =
        StagedTile::parse(stagedTile, stagedGroupM, stages, stagedSwizzle,
                          sharedBytes, tileError);
    if (failed(parsedTile)) {
      getOperation()->emitError("xlstm-contract-to-mma: " + tileError);
      return signalPassFailure();
    }
    staged = *parsedTile;
    // The fallback for K steps the tile does not divide needs its stages
    // too.
    if (stages >= 2 && fallbackTile().sharedBytes(16, stages) > sharedBytes) {
      getOperation()->emitError(
          "xlstm-contract-to-mma: the 128x128x32 fallback's " + Twine(stages) +
          " stages need " + Twine(fallbackTile().sharedBytes(16, stages)) +
          " bytes of shared memory, more than shared-bytes (" +
          Twine(sharedBytes) + ")");
      return signalPassFailure();
    }
    for (auto [spec, tile] : {std::pair{&stagedTileLarge, &stagedLarge},
                              std::pair{&stagedTileNarrow, &stagedNarrow},
                              std::pair{&stagedTileShortK, &stagedShortK}}) {
      tile->reset();
      if (spec->empty())
        continue;
      parsedTile = StagedTile::parse(*spec, stagedGroupM, stages, stagedSwizzle,
                                     sharedBytes, tileError);
      if (failed(parsedTile)) {
        getOperation()->emitError("xlstm-contract-to-mma: " + tileError);
        return signalPassFailure();
      }
      *tile = *parsedTile;
    }
    xlstm::KernelCache kernels(getOperation());
    cache = &kernels;
    SmallVector<linalg::ContractOp> contracts;
    getOperation()->walk(
        [&](linalg::ContractOp op) { contracts.push_back(op); });
    IRRewriter rewriter(&getContext());
    if (padK)
      for (linalg::ContractOp op : contracts)
        padOddK(op, rewriter);
    if (accumulateResiduals)
      for (linalg::ContractOp op : contracts)
        fuseResidualAdd(op, rewriter);
    // Each contraction is prepared once (its zero initialisation erased):
    // a sibling's preparation must not run again when its turn comes.
    // (Sites stay where they are: siblings point at them.)
    llvm::DenseMap<Operation *, std::unique_ptr<Site>> prepared;
    auto prepare = [&](linalg::ContractOp op) -> Site * {
      if (auto it = prepared.find(op); it != prepared.end())
        return it->second.get();
      std::string whyNot;
      FailureOr<Projection> p = matchProjection(op, whyNot);
      if (failed(p)) {
        xlstm::recordGenericReason(op, whyNot);
        return nullptr;
      }
      Site site{op, *p};
      // A zero-filled output (the usual projection) is written, not added
      // to: its fill and copy launches go.
      site.accumulate = !eraseZeroInitialization(op, rewriter);
      // A written result that is only rounded to 16 bits is stored
      // rounded (not where split K adds float32 partial sums).
      // (Headwise projections never split.)
      if (!site.accumulate && (splitKBlocks == 0 || p->heads))
        if (Value narrow = fuseTruncation(op, rewriter)) {
          site.f32Out = site.p.out;
          site.p.out = narrow;
        }
      // Another elementwise op alone reading the result (a bias and soft
      // cap) is evaluated where the kernels store, where every kernel the
      // projection may take can (the decoding and skinny ones).
      if (fuseEpilogues && !site.accumulate && !site.f32Out && !p->heads &&
          decodes(site) &&
          takesSkinny(site, cast<MemRefType>(p->w.getType()).getShape()[0]))
        if (linalg::GenericOp g = matchEpilogue(op, site.resultInput)) {
          site.epilogue = g;
          site.f32Out = site.p.out;
          site.p.out = g.getDpsInits()[0];
        }
      return (prepared[op] = std::make_unique<Site>(site)).get();
    };
    llvm::DenseSet<Operation *> lowered;
    for (auto [i, op] : llvm::enumerate(contracts)) {
      if (lowered.contains(op))
        continue;
      Site *site = prepare(op);
      if (!site)
        continue;
      if (site->p.heads) {
        // Later headwise projections of the same x decode in the same
        // launch (the sLSTM's i and f gates read the conv's output, z and o
        // the norm's).
        SmallVector<Site *> group = {site};
        int64_t members = site->p.heads;
        // With sibling-pair-planes, those of another x of the same rows
        // too (the sLSTM's four gates).
        if (siblingProjections && decodes(*site) && site->p.heads > 1)
          for (linalg::ContractOp later :
               ArrayRef(contracts).drop_front(i + 1)) {
            Value laterX = later.getDpsInputs()[0];
            if (lowered.contains(later) ||
                later->getBlock() != op->getBlock() ||
                (laterX != site->p.x &&
                 (!siblingPairPlanes ||
                  laterX.getType() != site->p.x.getType() ||
                  !sameLeadingExtents(laterX, site->p.x))))
              continue;
            Site *next = prepare(later);
            if (next && next->p.heads > 1 && next->p.k == site->p.k &&
                members + next->p.heads <= kMaxDecodingBlocks &&
                canRunAt(*next, op, group)) {
              group.push_back(next);
              members += next->p.heads;
              lowered.insert(later);
            }
          }
        // (Those of one x next to each other, in order of their first
        // member: emitHeadwise pairs neighbours. They all run at `op`.)
        if (siblingPairPlanes) {
          SmallVector<Site *> byX;
          for (Site *member : group)
            if (llvm::none_of(byX,
                              [&](Site *s) { return s->p.x == member->p.x; }))
              llvm::append_range(byX,
                                 llvm::make_filter_range(group, [&](Site *s) {
                                   return s->p.x == member->p.x;
                                 }));
          group = std::move(byX);
        }
        rewriter.setInsertionPoint(op);
        emitHeadwise(rewriter, group);
        for (Site *member : group)
          eraseContraction(rewriter, *member);
        continue;
      }
      if (gatedPairs &&
          (emitGatedPair(rewriter, *site, ArrayRef(contracts).drop_front(i + 1),
                         prepare, lowered) ||
           emitSplitGated(rewriter, *site)))
        continue;
      SmallVector<Site *> siblings = {site};
      if (siblingProjections && decodes(*site))
        for (linalg::ContractOp later : ArrayRef(contracts).drop_front(i + 1)) {
          if (lowered.contains(later) || later->getBlock() != op->getBlock() ||
              later.getDpsInputs()[0] != site->p.x)
            continue;
          Site *next = prepare(later);
          if (next && !next->p.heads && next->p.k == site->p.k &&
              canRunAt(*next, op, siblings)) {
            siblings.push_back(next);
            lowered.insert(later);
          }
        }
      rewriter.setInsertionPoint(op);
      if (siblings.size() > 1) {
        emitSiblingDecoding(rewriter, siblings);
      } else {
        emitProjection(rewriter, *site, /*decodingDone=*/false);
        eraseContraction(rewriter, *site);
      }
    }
  }

  /// The float32 output `out` of `writer`, a fresh buffer, and the one op
  /// besides `writer` that uses it (deallocations and uses before `writer`
  /// aside) where that is a linalg.generic; null otherwise.
  static linalg::GenericOp soleGenericReader(Value out, Operation *writer) {
    auto alloc = out.getDefiningOp<memref::AllocOp>();
    // (Allocated in the writer's block: in a loop around it, an earlier use
    // would read the previous iteration's result.)
    if (!alloc || alloc->getBlock() != writer->getBlock() ||
        !cast<MemRefType>(out.getType()).getElementType().isF32())
      return {};
    linalg::GenericOp found;
    for (Operation *user : alloc->getUsers()) {
      if (user == writer || isa<memref::DeallocOp>(user) ||
          usedBefore(user, writer))
        continue;
      auto generic = dyn_cast<linalg::GenericOp>(user);
      if (!generic || found)
        return {};
      found = generic;
    }
    return found;
  }

  /// For `first` (prepared, written not added to, float32): a later
  /// projection of the same x and K (among `later`) where the two outputs
  /// are read only by one elementwise op of both (isPairwiseElementwise;
  /// the gated FFN's act(gate) * up) into a fresh buffer. Emits them at
  /// `first`'s place as one gated staged kernel storing that op's result
  /// (StagedMMAKernelBuilder::Gated), behind the decoding kernels of both
  /// and the op itself where M may be small; true if it did.
  /// Whether `site` (prepared) may take a gated kernel whose W rows it
  /// provides `rows` of: it writes (not adds to) a float32 buffer, and alone
  /// it would take the staged kernel.
  bool gatedCandidate(const Site &site, int64_t rows) const {
    Type elt = cast<MemRefType>(site.p.x.getType()).getElementType();
    return stages >= 2 && !elt.isF32() && !site.accumulate && !site.f32Out &&
           !site.p.heads && site.p.k % fallbackTile().blockK == 0 &&
           !(skinnyProjections && rows <= skinnyColumns());
  }

  bool emitGatedPair(IRRewriter &rewriter, Site &first,
                     ArrayRef<linalg::ContractOp> later,
                     function_ref<Site *(linalg::ContractOp)> prepare,
                     llvm::DenseSet<Operation *> &lowered) {
    int64_t columns = cast<MemRefType>(first.p.w.getType()).getShape()[0];
    if (!gatedCandidate(first, columns))
      return false;
    Value outA = first.p.out;
    linalg::GenericOp gating = soleGenericReader(outA, first.op);
    if (!gating || gating->getBlock() != first.op->getBlock() ||
        !isPairwiseElementwise(gating))
      return false;
    unsigned firstInput = gating.getDpsInputs()[0] == outA ? 0 : 1;
    Value outB = gating.getDpsInputs()[1 - firstInput];
    if (outB == outA || outB.getType() != outA.getType())
      return false;
    auto other = llvm::find_if(later, [&](linalg::ContractOp c) {
      return !lowered.contains(c) && c.getDpsInits()[0] == outB;
    });
    if (other == later.end() || (*other)->getBlock() != gating->getBlock() ||
        !(*other)->isBeforeInBlock(gating))
      return false;
    Site *second = prepare(*other);
    if (!second || second->accumulate || second->f32Out || second->p.heads ||
        second->p.x != first.p.x || second->p.k != first.p.k ||
        second->p.w.getType() != first.p.w.getType() ||
        soleGenericReader(outB, *other) != gating)
      return false;
    // The result: a fresh buffer of the outputs' shape that may be written
    // at `first` instead of where the op stands.
    Value y = gating.getDpsInits()[0];
    auto yType = cast<MemRefType>(y.getType());
    auto yAlloc = y.getDefiningOp<memref::AllocOp>();
    if (!yAlloc || yAlloc->getBlock() != first.op->getBlock() ||
        !yType.getLayout().isIdentity() ||
        yType.getShape() != cast<MemRefType>(outA.getType()).getShape() ||
        !untouchedBetween(y, first.op, gating))
      return false;
    if (!movableBefore(yAlloc, first.op) ||
        !outsideValuesExistAt(gating, first.op) ||
        !canRunAt(*second, first.op, {&first}))
      return false;

    lowered.insert(*other);
    rewriter.setInsertionPoint(first.op);
    if (first.op->isBeforeInBlock(yAlloc))
      rewriter.moveOpBefore(yAlloc, first.op);
    scf::IfOp fewRows = emitGated(rewriter, first, second, gating, firstInput,
                                  y, {outA, outB}, columns,
                                  /*secondRowOffset=*/0);
    rewriter.eraseOp(second->op);
    for (Value out : {outA, outB})
      confineToBranch(rewriter, out, fewRows);
    return true;
  }

  /// For `site` (prepared, written not added to, float32): where its output
  /// of 2 N columns is read only through its two halves (subviews of the
  /// last dimension) by one elementwise op of both (the sLSTM block's gated
  /// FFN, whose up projection is one of twice the width), the gated kernel
  /// on the two halves of its W; true if it emitted it.
  bool emitSplitGated(IRRewriter &rewriter, Site &site) {
    int64_t rows = cast<MemRefType>(site.p.w.getType()).getShape()[0];
    int64_t columns = rows / 2;
    if (rows % 2 != 0 || !gatedCandidate(site, rows))
      return false;
    Value out = site.p.out;
    auto alloc = out.getDefiningOp<memref::AllocOp>();
    auto outType = cast<MemRefType>(out.getType());
    if (!alloc || alloc->getBlock() != site.op->getBlock() ||
        !outType.getLayout().isIdentity() ||
        !outType.getElementType().isF32() || outType.getShape().back() != rows)
      return false;
    int64_t r = outType.getRank();
    // The two halves: subviews of all rows and columns [0, N) and [N, 2 N),
    // each read only by `gating`.
    memref::SubViewOp halves[2];
    linalg::GenericOp gating;
    for (Operation *user : alloc->getUsers()) {
      if (user == site.op || isa<memref::DeallocOp>(user) ||
          usedBefore(user, site.op))
        continue;
      auto view = dyn_cast<memref::SubViewOp>(user);
      if (!view || view.getSource() != out || !view.hasUnitStride() ||
          view.getType().getRank() != r || !view->hasOneUse())
        return false;
      ArrayRef<int64_t> offsets = view.getStaticOffsets();
      ArrayRef<int64_t> sizes = view.getStaticSizes();
      for (int64_t d = 0; d + 1 < r; ++d)
        if (offsets[d] != 0 ||
            (ShapedType::isDynamic(sizes[d]) ? !isSourceDim(view, d)
                                             : sizes[d] != outType.getDimSize(d)))
          return false;
      if (sizes.back() != columns ||
          (offsets.back() != 0 && offsets.back() != columns))
        return false;
      memref::SubViewOp &half = halves[offsets.back() == 0 ? 0 : 1];
      auto reader = dyn_cast<linalg::GenericOp>(*view->getUsers().begin());
      if (half || !reader || (gating && reader != gating))
        return false;
      half = view;
      gating = reader;
    }
    if (!halves[0] || !halves[1] || gating->getBlock() != site.op->getBlock() ||
        !isPairwiseElementwise(gating) ||
        !llvm::is_contained(gating.getDpsInputs(), halves[0].getResult()) ||
        !llvm::is_contained(gating.getDpsInputs(), halves[1].getResult()))
      return false;
    unsigned firstInput =
        gating.getDpsInputs()[0] == halves[0].getResult() ? 0 : 1;
    Value y = gating.getDpsInits()[0];
    auto yType = cast<MemRefType>(y.getType());
    auto yAlloc = y.getDefiningOp<memref::AllocOp>();
    SmallVector<int64_t> halfShape(outType.getShape());
    halfShape.back() = columns;
    if (!yAlloc || yAlloc->getBlock() != site.op->getBlock() ||
        !yType.getLayout().isIdentity() ||
        yType.getShape() != ArrayRef<int64_t>(halfShape) ||
        !untouchedBetween(y, site.op, gating))
      return false;
    if (!outsideValuesExistAt(gating, site.op))
      return false;
    // The allocation of y and the two views move to `site`.
    SmallVector<Operation *> moved = {yAlloc, halves[0], halves[1]};
    if (!llvm::all_of(moved, [&](Operation *op) {
          return movableBefore(op, site.op, /*exempt=*/out);
        }))
      return false;
    rewriter.setInsertionPoint(site.op);
    for (Operation *op : moved)
      if (site.op->isBeforeInBlock(op))
        rewriter.moveOpBefore(op, site.op);
    scf::IfOp fewRows =
        emitGated(rewriter, site, nullptr, gating, firstInput, y, {out},
                  columns, /*secondRowOffset=*/columns);
    for (memref::SubViewOp half : halves)
      if (half->use_empty())
        rewriter.eraseOp(half);
    confineToBranch(rewriter, out, fewRows);
    return true;
  }

  /// Whether the values `gating`'s body takes from outside (constants) all
  /// exist at `at`, where its copy for the decoding branch goes.
  static bool outsideValuesExistAt(linalg::GenericOp gating, Operation *at) {
    Region &region = gating.getRegion();
    for (Operation &inner : region.front())
      for (Value v : inner.getOperands()) {
        if (v.getParentRegion() == &region)
          continue;
        Operation *def = v.getDefiningOp();
        if (def && def->getBlock() == at->getBlock() &&
            !def->isBeforeInBlock(at))
          return false;
      }
    return true;
  }

  /// The gated kernel for `first` and `second` (null: `first`'s W holds
  /// both, the second's rows from `secondRowOffset`), storing `gating`'s
  /// result into `y`, at the rewriter's insertion point (first's place);
  /// where M may be small, the decoding kernels writing `outs` and a copy
  /// of `gating` after them in that branch, which it returns (else null).
  /// Erases `first` and `gating`.
  scf::IfOp emitGated(IRRewriter &rewriter, Site &first, Site *second,
                 linalg::GenericOp gating, unsigned firstInput, Value y,
                 ArrayRef<Value> outs, int64_t columns,
                 int64_t secondRowOffset) {
    Location loc = first.op.getLoc();
    auto cst = [&](int64_t v) {
      return arith::ConstantIndexOp::create(rewriter, loc, v);
    };
    Value x = collapseLeading(rewriter, loc, first.p.x);
    Value y2 = collapseLeading(rewriter, loc, y);
    Value m = memref::DimOp::create(rewriter, loc, x, cst(0));
    auto combine = [&](OpBuilder &b, Location, Value a, Value c) {
      SmallVector<Value, 2> inputs = {a, c};
      if (firstInput == 1)
        std::swap(inputs[0], inputs[1]);
      return applyBody(b, gating, inputs);
    };
    GatedOperands gated{second ? second->p.w : first.p.w,
                        columns,
                        pairwiseKey(gating, firstInput),
                        second ? "one kernel with its gated pair, storing the "
                                 "elementwise op of both"
                               : "one kernel for both halves, storing the "
                                 "elementwise op of them",
                        combine,
                        secondRowOffset,
                        second};
    // Few rows: with gated-decoding the decoding kernels store the op's
    // result too; else they write the float32 outputs (one launch) and the
    // op runs after them, in that branch only.
    scf::IfOp fewRows;
    std::string tiledWhen;
    if (decodes(first) && gatedDecoding) {
      Site *pair = &first;
      emitDecoding(rewriter, loc, pair, x, m, y2, /*memberXs=*/{},
                   /*projections=*/1, &gated);
      tiledWhen = "M > " + std::to_string(gemvMaxRows);
    } else if (decodes(first)) {
      SmallVector<Site *> group = {&first};
      if (second)
        group.push_back(second);
      SmallVector<Value> collapsed;
      for (Value out : outs)
        collapsed.push_back(collapseLeading(rewriter, loc, out));
      emitDecoding(rewriter, loc, group, x, m, collapsed);
      fewRows = cast<scf::IfOp>(rewriter.getInsertionBlock()->getParentOp());
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPoint(fewRows.thenBlock()->getTerminator());
      rewriter.clone(*gating);
      tiledWhen = "M > " + std::to_string(gemvMaxRows);
    }
    auto recordAll = [&](Operation *launch, const Twine &kernel,
                         const Twine &when) {
      record(first, launch, kernel, when);
      if (second)
        record(*second, launch, kernel, when);
    };
    Value n = cst(2 * columns);
    bool emitted = emitStagedChoice(
        rewriter, loc, m, n, 2 * columns, first.p.k, tiledWhen,
        [&](const StagedTile &cfg, const Twine &when) {
          emitStaged(rewriter, loc, cfg, x, first.p.w, y2, m, n, first.p.k,
                     /*accumulate=*/false, recordAll, when, &gated);
        });
    assert(emitted && "K % 32 == 0 always has a staged configuration");
    (void)emitted;
    rewriter.eraseOp(first.op);
    rewriter.eraseOp(gating);
    return fewRows;
  }

  /// The float32 buffer `out` of a gated pair, now used only by the
  /// decoding branch `fewRows` (if any), its views and deallocations: lives
  /// in that branch only (allocated and freed there), or not at all.
  static void confineToBranch(IRRewriter &rewriter, Value out,
                              scf::IfOp fewRows) {
    auto alloc = out.getDefiningOp<memref::AllocOp>();
    SmallVector<Operation *> deallocs, views;
    auto inBranch = [&](Operation *op) {
      return fewRows && fewRows.getThenRegion().isAncestor(
                            op->getParentRegion());
    };
    for (Operation *user : alloc->getUsers()) {
      if (isa<memref::DeallocOp>(user)) {
        deallocs.push_back(user);
        continue;
      }
      if (inBranch(user))
        continue;
      // (Views made for the branch before it.)
      if (viewSource(user) && llvm::all_of(user->getUsers(), inBranch)) {
        views.push_back(user);
        continue;
      }
      return;
    }
    for (Operation *dealloc : deallocs)
      rewriter.eraseOp(dealloc);
    if (!fewRows) {
      for (Operation *view : views)
        rewriter.eraseOp(view);
      rewriter.eraseOp(alloc);
      return;
    }
    Block *then = fewRows.thenBlock();
    rewriter.moveOpBefore(alloc, &then->front());
    for (Operation *view : views)
      rewriter.moveOpAfter(view, alloc);
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPoint(then->getTerminator());
    memref::DeallocOp::create(rewriter, alloc.getLoc(), alloc);
  }

  /// Whether the few-row (decoding) kernels exist for `site`.
  bool decodes(const Site &site) const {
    Type elt = cast<MemRefType>(site.p.x.getType()).getElementType();
    return gemvMaxRows > 0 &&
           site.p.k % GemvKernelBuilder::vectorWidth(elt) == 0;
  }

  /// Whether the small-batch tensor-core kernel takes `site` (else the
  /// multi-row matrix-vector kernel, for 2 to gemv-max-rows rows).
  bool smallBatchFor(const Site &site) const {
    Type elt = cast<MemRefType>(site.p.x.getType()).getElementType();
    return smallBatchMMA && !elt.isF32() && site.p.k % 32 == 0;
  }

  /// Outputs up to this wide are skinny: the small-batch kernel's token
  /// columns.
  int64_t skinnyColumns() const { return 8 * ((gemvMaxRows + 7) / 8); }

  /// Whether `site`, of N = `n` columns, takes the skinny kernel (the
  /// small-batch one with x and W swapped) at every M.
  bool takesSkinny(const Site &site, int64_t n) const {
    return skinnyProjections && n <= skinnyColumns() &&
           (smallBatchFor(site) || skinnyFloat32For(site));
  }

  /// Whether a skinny `site` takes the float32 matrix-vector kernel with x
  /// and W swapped (skinny-float32).
  bool skinnyFloat32For(const Site &site) const {
    Type elt = cast<MemRefType>(site.p.x.getType()).getElementType();
    return skinnyFloat32 && elt.isF32() &&
           site.p.k % GemvKernelBuilder::vectorWidth(elt) == 0;
  }

  /// Loads of W per lane per step of the single-row matrix-vector kernel
  /// for `rows` rows of W: at least gemv-unroll, and more where too few
  /// warps would otherwise keep gemv-loads-in-flight 16-byte loads in
  /// flight per lane slot (HBM needs megabytes in flight to stream at
  /// bandwidth), up to 8 and no more than K fills.
  int64_t gemvUnrollFor(int64_t rows, int64_t k, int64_t width) const {
    int64_t unroll = gemvUnroll;
    if (gemvLoadsInFlight > 0) {
      int64_t wanted =
          llvm::divideCeil(gemvLoadsInFlight, std::max<int64_t>(rows, 1));
      unroll = std::max<int64_t>(unroll, llvm::PowerOf2Ceil(wanted));
    }
    // (Never past what K fills, unless gemv-unroll itself asks for it.)
    int64_t fills = std::max<int64_t>(1, k / (32 * width));
    return std::max<int64_t>(gemvUnroll,
                             std::min({unroll, int64_t(8), fills}));
  }

  /// The shape `site` shows in the lowering report.
  /// K before padOddK padded it, else 0.
  static int64_t unpaddedK(const Site &site) {
    auto k = site.op->getAttrOfType<IntegerAttr>(kPaddedKAttr);
    return k ? k.getInt() : 0;
  }

  static std::string shapeOf(const Site &site) {
    int64_t k = unpaddedK(site);
    ArrayRef<int64_t> x = cast<MemRefType>(site.p.x.getType()).getShape();
    ArrayRef<int64_t> w = cast<MemRefType>(site.p.w.getType()).getShape();
    // (A headwise projection: the shape of one block.)
    if (site.p.heads)
      x = x.drop_back();
    return xlstm::formatShape(
        {xlstm::leadingRows(x), w[w.size() - 2], k ? k : site.p.k});
  }

  void record(const Site &site, Operation *launch, const Twine &kernel,
              const Twine &when) {
    std::string text = kernel.str();
    if (unpaddedK(site))
      text += " (x and W copied, K padded to " + std::to_string(site.p.k) +
              ")";
    if (site.epilogue)
      text += ", storing the elementwise op after it";
    // (A residual folded in by accumulate-residuals, or gate-parts' sum.)
    if (site.accumulate)
      text += ", adding to its output";
    xlstm::recordKernelChoice(launch,
                              {"projection", shapeOf(site), text, when.str()},
                              site.p.w);
  }

  /// What the kernels of `site` take for its epilogue: its vectors, in
  /// input order (none without one).
  static SmallVector<Value> epilogueVectors(const Site &site) {
    SmallVector<Value> vectors;
    linalg::GenericOp epilogue = site.epilogue;
    if (epilogue)
      for (OpOperand *input : epilogue.getDpsInputOperands())
        if (input->getOperandNumber() != site.resultInput)
          vectors.push_back(input->get());
    return vectors;
  }

  /// `site`'s epilogue on `sum`, the float32 result of output column
  /// `col`, in a kernel whose arguments from `vectors` on are
  /// epilogueVectors(site).
  static Value applyEpilogue(OpBuilder &b, Location loc, const Site &site,
                             ArrayRef<Value> vectors, Value sum, Value col) {
    SmallVector<Value> inputs;
    size_t next = 0;
    linalg::GenericOp epilogue = site.epilogue;
    for (OpOperand *input : epilogue.getDpsInputOperands())
      inputs.push_back(
          input->getOperandNumber() == site.resultInput
              ? sum
              : memref::LoadOp::create(b, loc, vectors[next++], ValueRange{col})
                    .getResult());
    return applyBody(b, epilogue, inputs);
  }

  /// What tells kernels with different epilogues apart in the cache.
  static std::string epilogueKey(const Site &site) {
    return site.epilogue
               ? " epilogue " + pairwiseKey(site.epilogue, site.resultInput)
               : "";
  }

  /// The contraction goes (with its epilogue's op), and with it a float32
  /// output nobody reads.
  static void eraseContraction(IRRewriter &rewriter, Site &site) {
    rewriter.eraseOp(site.op);
    if (site.epilogue)
      rewriter.eraseOp(site.epilogue);
    if (!site.f32Out)
      return;
    Operation *alloc = site.f32Out.getDefiningOp();
    if (llvm::all_of(alloc->getUsers(), [](Operation *user) {
          return isa<memref::DeallocOp>(user);
        })) {
      for (Operation *user : llvm::make_early_inc_range(alloc->getUsers()))
        rewriter.eraseOp(user);
      rewriter.eraseOp(alloc);
    }
  }

  /// Whether the kernels of `site` may run where `first` (a sibling earlier
  /// in the block: of the same x, or with sibling-pair-planes of another x
  /// of the same rows) stands, before the ops in between: nothing there
  /// reads or writes its output buffers (through any view) or writes its x
  /// or W, and no sibling writes what it reads or writes or reads what it
  /// writes. Moves x's, W's and the output's allocations and views up to
  /// `first` where they come later (their operands must exist there).
  bool canRunAt(const Site &site, Operation *first,
                ArrayRef<Site *> siblings) {
    Block *block = first->getBlock();
    auto between = [&](Operation *user) {
      Operation *at = block->findAncestorOpInBlock(*user);
      return at && at != site.op && !at->isBeforeInBlock(first) &&
             at->isBeforeInBlock(site.op);
    };
    // Every non-view user of `root` and its views; failure where the
    // buffer may have aliases this cannot follow (a root other than an
    // allocation or a function argument, or a user that makes another
    // memref of it, such as a select or a region result).
    auto usersOf = [](Value root)
        -> FailureOr<SmallVector<std::pair<Operation *, Value>>> {
      if (!isFreshBuffer(root))
        return failure();
      SmallVector<Value> aliases = {root};
      SmallVector<std::pair<Operation *, Value>> users;
      for (size_t i = 0; i < aliases.size(); ++i)
        for (OpOperand &use : aliases[i].getUses()) {
          Operation *user = use.getOwner();
          if (viewSource(user) == aliases[i]) {
            aliases.push_back(user->getResult(0));
            continue;
          }
          if (llvm::any_of(user->getResultTypes(), llvm::IsaPred<MemRefType>))
            return failure();
          users.push_back({user, aliases[i]});
        }
      return users;
    };
    // Buffers this projection writes, and reads.
    SmallVector<Value> outputs = {rootBuffer(site.p.out)};
    if (site.f32Out)
      outputs.push_back(rootBuffer(site.f32Out));
    SmallVector<Value> inputs = {rootBuffer(site.p.x), rootBuffer(site.p.w)};
    for (Value vector : epilogueVectors(site))
      inputs.push_back(rootBuffer(vector));
    for (Value root : outputs)
      if (llvm::is_contained(inputs, root))
        return false;
    // No sibling may write what this one reads or writes, nor read what it
    // writes (one launch runs them all at once).
    for (Site *sibling : siblings) {
      SmallVector<Value> written = {rootBuffer(sibling->p.out)};
      if (sibling->f32Out)
        written.push_back(rootBuffer(sibling->f32Out));
      for (Value root : written)
        if (llvm::is_contained(outputs, root) ||
            llvm::is_contained(inputs, root))
          return false;
      for (Value root : outputs)
        if (root == rootBuffer(sibling->p.w) ||
            root == rootBuffer(sibling->p.x) ||
            llvm::any_of(epilogueVectors(*sibling), [&](Value vector) {
              return rootBuffer(vector) == root;
            }))
          return false;
    }
    for (Value root : outputs) {
      auto users = usersOf(root);
      if (failed(users))
        return false;
      for (auto [user, alias] : *users)
        if (between(user) && !isa<memref::DeallocOp>(user))
          return false;
    }
    // x and W may be read in between (the siblings read x), not written.
    for (Value root : inputs) {
      auto users = usersOf(root);
      if (failed(users))
        return false;
      for (auto [user, alias] : *users) {
        if (!between(user))
          continue;
        if (auto linalgOp = dyn_cast<linalg::LinalgOp>(user)) {
          if (llvm::is_contained(linalgOp.getDpsInits(), alias))
            return false;
          continue;
        }
        auto effects = dyn_cast<MemoryEffectOpInterface>(user);
        if (!effects || effects.getEffectOnValue<MemoryEffects::Write>(alias))
          return false;
      }
    }
    // x, W and the output (and what they view) must exist at `first`: the
    // allocations and views made later move up, where their own operands
    // allow (x: a view of another x, sibling-pair-planes).
    SmallVector<Operation *> hoist;
    std::function<bool(Value)> available = [&](Value v) {
      Operation *def = v.getDefiningOp();
      if (!def)
        return true;
      Operation *at = block->findAncestorOpInBlock(*def);
      if (!at || at->isBeforeInBlock(first) || llvm::is_contained(hoist, def))
        return true;
      if (at != def || def->getNumRegions() != 0 ||
          !(isa<memref::AllocOp>(def) || isMemoryEffectFree(def)))
        return false;
      if (!llvm::all_of(def->getOperands(), available))
        return false;
      hoist.push_back(def);
      return true;
    };
    if (!available(site.p.x) || !available(site.p.w) || !available(site.p.out))
      return false;
    // (Operands first: `hoist` is in dependence order.)
    for (Operation *op : hoist)
      op->moveBefore(first);
    return true;
  }

  /// Projections of one x (`siblings`, in program order, each free to run
  /// where the first stands): for M up to gemv-max-rows one launch of the
  /// decoding kernel over all of them, at the first one's place; for more
  /// rows each its own kernels there. Decoding streams W at one or a few
  /// rows of x: separate launches of the small ones (the 7B's q and k:
  /// 16.8 MB, about 4 us at bandwidth) spend as long ramping up and
  /// draining as streaming.
  void emitSiblingDecoding(IRRewriter &rewriter, ArrayRef<Site *> siblings) {
    Location loc = siblings.front()->op.getLoc();
    Value x = collapseLeading(rewriter, loc, siblings.front()->p.x);
    Value m = memref::DimOp::create(
        rewriter, loc, x, arith::ConstantIndexOp::create(rewriter, loc, 0));
    SmallVector<Value> outs;
    for (Site *site : siblings)
      outs.push_back(collapseLeading(rewriter, loc, site->p.out));
    emitDecoding(rewriter, loc, siblings, x, m, outs);
    if (!skinnySiblings || !emitStackedSkinny(rewriter, siblings, x, m, outs))
      for (Site *site : siblings)
        emitProjection(rewriter, *site, /*decodingDone=*/true);
    for (Site *site : siblings)
      eraseContraction(rewriter, *site);
  }

  /// For more than gemv-max-rows rows (the branch emitDecoding leaves),
  /// one skinny launch for all of `siblings` where each takes the same
  /// skinny kernel (tensor-core, or float32 matrix-vector) and their W rows
  /// together fit its columns (the mLSTM's input and forget gate parts: x,
  /// up to megabytes a part, read once instead of once a gate). False
  /// where they do not.
  bool emitStackedSkinny(IRRewriter &rewriter, ArrayRef<Site *> siblings,
                         Value x, Value m, ArrayRef<Value> outs) {
    using T = SmallBatchMMAKernelBuilder;
    Type elt = cast<MemRefType>(x.getType()).getElementType();
    bool gemv = skinnyFloat32For(*siblings.front());
    // Each member's W rows (its output columns).
    SmallVector<int64_t> rows;
    for (Site *site : siblings) {
      auto wType = cast<MemRefType>(site->p.w.getType());
      rows.push_back(wType.getShape()[0]);
      if (site->p.heads || !takesSkinny(*site, rows.back()) ||
          skinnyFloat32For(*site) != gemv || wType.getElementType() != elt)
        return false;
    }
    int64_t totalRows = llvm::sum_of(rows);
    // (The tensor-core kernel takes up to skinny-siblings-rows, 4 token
    // tiles at most; the matrix-vector one a row of W per lane, its loads
    // in registers.)
    if (totalRows >
        (gemv ? skinnyColumns()
              : std::max<int64_t>(skinnyColumns(), skinnySiblingsRows)))
      return false;
    Location loc = siblings.front()->op.getLoc();
    int64_t tokenTiles = llvm::divideCeil(totalRows, 8);
    // (x, W0, out0, W1, out1, ..., M, then each member's epilogue vectors.)
    SmallVector<Value> operands = {x};
    std::string key =
        (gemv ? Twine(totalRows) + " columns unroll " + Twine(gemvUnroll)
              : Twine(tokenTiles) + " column tiles unroll " +
                    Twine(skinnyUnroll))
            .str() +
        " rows";
    for (auto [site, out, n] : llvm::zip_equal(siblings, outs, rows)) {
      operands.append({site->p.w, out});
      key += " " + std::to_string(n) + (site->accumulate ? "a" : "w") +
             epilogueKey(*site);
    }
    operands.push_back(m);
    SmallVector<size_t> vectorArgs;
    for (Site *site : siblings) {
      vectorArgs.push_back(operands.size());
      operands.append(epilogueVectors(*site));
    }
    Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
    int64_t warps = gemv ? gemvWarps : skinnyWarps;
    // (A warp per row of x, or 16 rows a block.)
    Value grid = arith::CeilDivUIOp::create(
        rewriter, loc, m,
        arith::ConstantIndexOp::create(rewriter, loc,
                                       gemv ? gemvWarps : T::blockN));
    SmallVector<Type> workgroup;
    if (!gemv)
      workgroup.push_back(xlstm::sharedMemoryType(
          rewriter.getContext(), {T::reductionFloats(skinnyWarps, tokenTiles)},
          rewriter.getF32Type()));
    size_t mArg = 1 + 2 * siblings.size();
    Operation *launch = cache->launch(
        rewriter, loc,
        gemv ? "projection_skinny_gemv_stacked"
             : "projection_skinny_mma_stacked",
        key, operands, {grid, one, one}, {32 * warps, 1, 1},
        /*dynamicSharedBytes=*/nullptr, workgroup,
        [&](OpBuilder &b, const xlstm::KernelCache::Body &kernel) {
          SmallVector<std::function<Value(OpBuilder &, Location, Value, Value)>>
              epilogues;
          for (auto [i, site] : llvm::enumerate(siblings))
            epilogues.push_back([&, i](OpBuilder &b, Location at, Value sum,
                                       Value col) {
              return applyEpilogue(
                  b, at, *siblings[i],
                  ArrayRef(kernel.args).drop_front(vectorArgs[i]), sum, col);
            });
          SmallVector<StackedMember> members;
          for (auto [i, site] : llvm::enumerate(siblings))
            members.push_back(
                {kernel.args[1 + 2 * i], kernel.args[2 + 2 * i], rows[i],
                 site->accumulate,
                 site->epilogue ? StoreEpilogue(epilogues[i]) : nullptr});
          if (gemv) {
            GemvKernelBuilder::skinny(b, loc, totalRows, gemvUnroll,
                                      /*accumulate=*/false)
                .stack(members)
                .build(kernel.args[0], kernel.args[1], kernel.args[2],
                       kernel.args[mArg], totalRows, siblings.front()->p.k,
                       gemvWarps, kernel);
            return;
          }
          T(b, loc, skinnyWarps, skinnyUnroll, tokenTiles,
            /*accumulate=*/false, /*swapped=*/true)
              .stack(members)
              .build(kernel.args[0], kernel.args[1], kernel.args[2],
                     kernel.args[mArg], totalRows, siblings.front()->p.k,
                     kernel);
        });
    std::string text =
        (gemv ? "skinny gemv " + Twine(gemvWarps) + " warps unroll " +
                    Twine(gemvUnroll) + ", a warp per row of x"
              : "skinny mma " + Twine(skinnyWarps) + " warps unroll " +
                    Twine(skinnyUnroll))
            .str() +
        ", one launch for " + std::to_string(siblings.size()) +
        " projections of one x";
    for (Site *site : siblings)
      record(*site, launch, text, "M > " + std::to_string(gemvMaxRows));
    return true;
  }

  /// `scf.if (M <= gemv-max-rows)` with the decoding kernels of `group`
  /// (projections of the collapsed `x` of `m` rows into the collapsed
  /// `outs`) in its then-block, one launch for the whole group (a range of
  /// blocks per projection); leaves the rewriter in its else-block. One
  /// projection keeps the plain kernels' name and signature (x, W, out,
  /// M); a group's are `<name>_siblings`, (x, M, W0, out0, W1, out1, ...).
  /// With `memberXs` (the blocks of a headwise projection), member i reads
  /// its own x, the collapsed `memberXs[i]`, and a group's kernels are
  /// `<name>_heads`, (M, x0, W0, out0, x1, W1, out1, ...); `projections`
  /// says how many headwise projections those blocks are of, `inputs` of
  /// how many x's.
  void emitDecoding(IRRewriter &rewriter, Location loc, ArrayRef<Site *> group,
                    Value x, Value m, ArrayRef<Value> outs,
                    ArrayRef<Value> memberXs = {}, int64_t projections = 1,
                    const GatedOperands *gated = nullptr, int64_t inputs = 1) {
    auto cst = [&](int64_t v) {
      return arith::ConstantIndexOp::create(rewriter, loc, v);
    };
    Type elt = cast<MemRefType>(x.getType()).getElementType();
    assert((!gated || group.size() == 1) && "a gated pair is one launch");
    bool siblings = group.size() > 1;
    bool ownX = siblings && !memberXs.empty();
    SmallVector<Value> operands;
    if (!ownX)
      operands.push_back(x);
    if (siblings)
      operands.push_back(m);
    SmallVector<int64_t> rows;
    std::string accumulating;
    for (auto [i, site, out] : llvm::enumerate(group, outs)) {
      if (ownX)
        operands.push_back(memberXs[i]);
      operands.append({site->p.w, out});
      rows.push_back(cast<MemRefType>(site->p.w.getType()).getShape()[0]);
      accumulating += site->accumulate ? "a" : "w";
    }
    if (!siblings)
      operands.push_back(m);
    // A gated pair: one output of `columns`, both W streamed (the second
    // W follows the operands above).
    int64_t streamedRows = rows.front();
    size_t secondArg = operands.size();
    if (gated) {
      rows.front() = gated->columns;
      streamedRows = 2 * gated->columns;
      operands.push_back(gated->second);
    }
    auto gatedRows = [&](const xlstm::KernelCache::Body &kernel)
        -> std::optional<GemvKernelBuilder::Gated> {
      if (!gated)
        return std::nullopt;
      return GemvKernelBuilder::Gated{kernel.args[secondArg],
                                      gated->secondRowOffset, gated->combine};
    };
    // Then each member's epilogue vectors: where member i's begin.
    SmallVector<size_t> vectorArgs;
    for (Site *site : group) {
      vectorArgs.push_back(operands.size());
      operands.append(epilogueVectors(*site));
    }
    // Member i's epilogue in the kernel, if it has one.
    auto epilogueIn = [&](size_t i, const xlstm::KernelCache::Body &kernel) {
      return [&, i](OpBuilder &b, Location at, Value sum, Value col) {
        return applyEpilogue(b, at, *group[i],
                             ArrayRef(kernel.args).drop_front(vectorArgs[i]),
                             sum, col);
      };
    };
    // Where the kernel finds M and projection i's x and W (its output
    // follows W).
    unsigned mArg = ownX ? 0 : siblings ? 1 : 3;
    auto wArg = [&](size_t i) {
      return ownX ? 2 + 3 * i : siblings ? 2 + 2 * i : 1;
    };
    auto xArg = [&](size_t i) { return ownX ? 1 + 3 * i : 0; };
    int64_t k = group.front()->p.k, totalRows = 0;
    for (int64_t n : rows)
      totalRows += n;
    if (gated)
      totalRows = streamedRows;
    std::string note =
        gated      ? ", " + gated->note
        : ownX     ? (projections == 1
                          ? ", one launch for its " + std::to_string(group.size()) +
                            " heads"
                          : ", one launch for the " + std::to_string(group.size()) +
                            " heads of " + std::to_string(projections) +
                            " projections of " +
                            (inputs == 1 ? std::string("one x")
                                             : std::to_string(inputs) + " x's"))
        : siblings ? ", one launch for " + std::to_string(group.size()) +
                         " projections of one x"
                   : "";
    std::string accumulateKey =
        siblings ? " accumulate " + accumulating
                 : (group.front()->accumulate ? " accumulate" : "");
    if (gated)
      accumulateKey += " gated " + gated->key + " second rows from " +
                       std::to_string(gated->secondRowOffset);
    for (auto [i, site] : llvm::enumerate(group))
      if (site->epilogue)
        accumulateKey += " " + std::to_string(i) + epilogueKey(*site);

    // One kernel: block b runs projection i's kernel with block b - start_i
    // where start_i <= b < start_i + blocks[i].
    auto launchAll = [&](StringRef name, const std::string &config,
                         int64_t rowsPerBlock, int64_t threads,
                         TypeRange workgroup,
                         function_ref<void(
                             OpBuilder &, const xlstm::KernelCache::Body &,
                             size_t member, Value x, Value w, Value out,
                             int64_t n, bool accumulate)>
                             build,
                         int64_t gridY = 1) {
      SmallVector<int64_t> blocks;
      int64_t total = 0;
      for (int64_t n : rows) {
        blocks.push_back(llvm::divideCeil(n, rowsPerBlock));
        total += blocks.back();
      }
      // (One projection: ceil(N / rows per block) blocks, left to fold.)
      Value grid = siblings ? cst(total)
                            : arith::CeilDivUIOp::create(rewriter, loc,
                                                         cst(rows.front()),
                                                         cst(rowsPerBlock))
                                  .getResult();
      return cache->launch(
          rewriter, loc,
          ownX       ? (name + "_heads").str()
          : siblings ? (name + "_siblings").str()
                     : name.str(),
          config + accumulateKey, operands, {grid, cst(gridY), cst(1)},
          {threads, 1, 1}, /*dynamicSharedBytes=*/nullptr, workgroup,
          [&](OpBuilder &b, const xlstm::KernelCache::Body &kernel) {
            Value block = kernel.blockIds.x;
            int64_t start = 0;
            for (size_t i = 0; i < rows.size(); ++i) {
              int64_t end = start + blocks[i];
              // The last range takes what is left (the grid ends there).
              scf::IfOp range;
              if (i + 1 < rows.size()) {
                Value inside = arith::CmpIOp::create(
                    b, loc, arith::CmpIPredicate::ult, block,
                    arith::ConstantIndexOp::create(b, loc, end));
                range = scf::IfOp::create(b, loc, inside,
                                          /*withElseRegion=*/true);
                b.setInsertionPointToStart(range.thenBlock());
              }
              xlstm::KernelCache::Body member = kernel;
              if (start != 0)
                member.blockIds.x = arith::SubIOp::create(
                    b, loc, block,
                    arith::ConstantIndexOp::create(b, loc, start));
              build(b, member, i, kernel.args[xArg(i)], kernel.args[wArg(i)],
                    kernel.args[wArg(i) + 1], rows[i], accumulating[i] == 'a');
              if (range)
                b.setInsertionPointToStart(range.elseBlock());
              start = end;
            }
          });
    };
    // The sites each launch serves (a gated pair's second too).
    SmallVector<Site *> members(group);
    if (gated && gated->secondSite)
      members.push_back(gated->secondSite);
    auto emitGemv = [&](int64_t maxRows, const Twine &when) {
      // Several rows of x already keep loads in flight (and registers
      // busy): unroll the single-row kernel only.
      int64_t unroll =
          maxRows == 1
              ? gemvUnrollFor(totalRows, k, GemvKernelBuilder::vectorWidth(elt))
              : 1;
      auto launch = launchAll(
          gated ? "projection_gemv_gated" : "projection_gemv",
          (Twine(maxRows) + " rows unroll " + Twine(unroll)).str(), gemvWarps,
          32 * gemvWarps, /*workgroup=*/{},
          [&](OpBuilder &b, const xlstm::KernelCache::Body &kernel,
              size_t member, Value x, Value w, Value out, int64_t n,
              bool accumulate) {
            auto epilogue = epilogueIn(member, kernel);
            GemvKernelBuilder(
                b, loc, maxRows, unroll, accumulate, gatedRows(kernel),
                group[member]->epilogue ? StoreEpilogue(epilogue) : nullptr)
                .build(x, w, out, kernel.args[mArg], n, k, gemvWarps, kernel);
          });
      for (Site *site : members)
        record(*site, launch,
               "gemv " + Twine(gemvWarps) + " warps " +
                   (maxRows == 1 ? "unroll " + Twine(unroll)
                                 : "up to " + Twine(maxRows) + " rows") +
                   note,
               when);
    };
    auto emitSmallBatchMMA = [&](const Twine &when) {
      using T = SmallBatchMMAKernelBuilder;
      int64_t tokenTiles = (gemvMaxRows + 7) / 8;
      Type shared = xlstm::sharedMemoryType(
          rewriter.getContext(),
          {T::reductionFloats(smallBatchWarps, tokenTiles)},
          rewriter.getF32Type());
      // A lone projection of fewer blocks (16 rows of W each) than
      // small-batch-split-k-blocks splits K over grid rows, each split at
      // least two chunks a warp but the last (a split of less work spends
      // more on its extra round of stores, count and loads than it
      // gains); its warps' unroll shrinks to its K.
      int64_t splits = 1, perSplit = k, unroll = smallBatchUnroll;
      int64_t columns = llvm::divideCeil(totalRows, T::blockN);
      int64_t kChunks = k / T::chunk;
      // (A gated pair has the blocks of two projections, as siblings do.)
      bool lone = !siblings && !gated;
      if (lone && smallBatchSplitKBlocks > columns) {
        int64_t wanted =
            std::min<int64_t>(llvm::divideCeil(smallBatchSplitKBlocks, columns),
                              kChunks / (2 * smallBatchWarps));
        if (wanted > 1) {
          int64_t chunks = llvm::alignTo(llvm::divideCeil(kChunks, wanted),
                                         uint64_t(smallBatchWarps));
          splits = llvm::divideCeil(kChunks, chunks);
          perSplit = chunks * T::chunk;
          unroll = std::min(unroll, chunks / smallBatchWarps);
        }
      }
      std::string splitNote = splits > 1
                                  ? " split-k " + std::to_string(splits) +
                                        " of " + std::to_string(perSplit) +
                                        " rows " + std::to_string(totalRows)
                                  : "";
      auto launch = launchAll(
          gated ? "projection_small_batch_mma_gated"
                : "projection_small_batch_mma",
          (Twine(tokenTiles) + " token tiles unroll " + Twine(unroll) +
           " min blocks " + Twine(lone ? smallBatchMinBlocksPerSM : 0) +
           splitNote + (smallBatchPipelined ? " pipelined" : ""))
              .str(),
          T::columnsPerBlock(gated), 32 * smallBatchWarps, TypeRange{shared},
          [&](OpBuilder &b, const xlstm::KernelCache::Body &kernel,
              size_t member, Value x, Value w, Value out, int64_t n,
              bool accumulate) {
            // ptxas, free to aim at more resident blocks, interleaves
            // each K chunk's loads with its mma (about 64 registers, one
            // chunk in flight per warp); a minimum of blocks per SM lets it
            // keep more loads in flight. Lone projections only: the
            // siblings' launches have blocks enough to hide the latency
            // (and measured slower with it).
            if (smallBatchMinBlocksPerSM > 0 && lone)
              kernel.func->setAttr(
                  "nvvm.minctasm",
                  b.getI32IntegerAttr(smallBatchMinBlocksPerSM));
            std::optional<T::SplitK> split;
            if (splits > 1) {
              // The partial sums and arrival counts live in the kernel's
              // module: the counts are zero when it loads, and each launch
              // leaves them so.
              auto partialsType = MemRefType::get(
                  {T::partialFloats(splits, n, tokenTiles)}, b.getF32Type());
              auto arrivalsType = MemRefType::get({columns}, b.getI32Type());
              {
                OpBuilder::InsertionGuard guard(b);
                b.setInsertionPointToStart(
                    kernel.func->getParentOfType<gpu::GPUModuleOp>().getBody());
                memref::GlobalOp::create(
                    b, loc, "split_k_partials", b.getStringAttr("private"),
                    partialsType, b.getUnitAttr(), /*constant=*/false,
                    // (Whole 128-byte lines per column and split: no
                    // cached sector holds two columns' sums.)
                    b.getI64IntegerAttr(128));
                memref::GlobalOp::create(
                    b, loc, "split_k_arrivals", b.getStringAttr("private"),
                    arrivalsType,
                    DenseElementsAttr::get(
                        RankedTensorType::get({columns}, b.getI32Type()),
                        b.getI32IntegerAttr(0)),
                    /*constant=*/false, b.getI64IntegerAttr(16));
              }
              split = T::SplitK{splits, perSplit,
                                memref::GetGlobalOp::create(
                                    b, loc, partialsType, "split_k_partials"),
                                memref::GetGlobalOp::create(
                                    b, loc, arrivalsType, "split_k_arrivals")};
            }
            auto epilogue = epilogueIn(member, kernel);
            T(b, loc, smallBatchWarps, unroll, tokenTiles, accumulate,
              /*swapped=*/false, split, gatedRows(kernel),
              group[member]->epilogue ? StoreEpilogue(epilogue) : nullptr)
                .pipelineLoads(smallBatchPipelined)
                .build(x, w, out, kernel.args[mArg], n, k, kernel);
          },
          splits);
      for (Site *site : members)
        record(*site, launch,
               "small-batch mma " + Twine(smallBatchWarps) + " warps unroll " +
                   Twine(unroll) + (smallBatchPipelined ? " pipelined" : "") +
                   (splits > 1 ? ", split-k " + Twine(splits) + " (" +
                                     Twine(perSplit) + " of K each)"
                               : Twine()) +
                   note,
               when);
    };

    Value few = arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::ule,
                                      m, cst(gemvMaxRows));
    auto fewRows = scf::IfOp::create(rewriter, loc, few,
                                     /*withElseRegion=*/true);
    rewriter.setInsertionPointToStart(fewRows.thenBlock());
    bool smallBatch = smallBatchFor(*group.front());
    if (smallBatch && totalRows < gemvMinN) {
      // Few rows of W: a warp per row would leave the GPU idle; the
      // small-batch kernel's warps split K instead, for every M.
      emitSmallBatchMMA("M <= " + Twine(gemvMaxRows));
    } else if (gemvMaxRows == 1) {
      emitGemv(1, "M = 1");
    } else {
      Value single = arith::CmpIOp::create(
          rewriter, loc, arith::CmpIPredicate::eq, m, cst(1));
      auto oneRow = scf::IfOp::create(rewriter, loc, single,
                                      /*withElseRegion=*/true);
      rewriter.setInsertionPointToStart(oneRow.thenBlock());
      emitGemv(1, "M = 1");
      rewriter.setInsertionPointToStart(oneRow.elseBlock());
      std::string some = "M 2-" + std::to_string(gemvMaxRows);
      if (smallBatch)
        emitSmallBatchMMA(some);
      else
        emitGemv(gemvMaxRows, some);
    }
    rewriter.setInsertionPointToStart(fewRows.elseBlock());
  }

  /// The pipelined kernel of an output `nStatic` wide (`n`, a constant) with
  /// `m` rows and depth `k`, through `emit`: the configuration for large
  /// outputs where its tiles number at least staged-large-min-blocks
  /// (checked at run time), else the default one; K must be a multiple of
  /// the K step and N at least its tile width (else the 128x128x32
  /// fallback where K % 32 == 0). False where none fits.
  bool emitStagedChoice(IRRewriter &rewriter, Location loc, Value m, Value n,
                        int64_t nStatic, int64_t k, const std::string &tiledWhen,
                        function_ref<void(const StagedTile &, const Twine &)>
                            emit,
                        int64_t heads = 1) {
    auto ceilDiv = [&](Value v, int64_t d) -> Value {
      return arith::CeilDivUIOp::create(
          rewriter, loc, v, arith::ConstantIndexOp::create(rewriter, loc, d));
    };
    // A K of a few steps: its own configuration, where set.
    if (stagedShortK && k % stagedShortK->blockK == 0 &&
        k / stagedShortK->blockK <= shortKMaxSteps &&
        nStatic >= stagedShortK->blockN) {
      emit(*stagedShortK, tiledWhen);
      return true;
    }
    // Outputs narrower than the configured tile take the fallback too:
    // its 64x32 warp tiles idle less there (and ptxas keeps 64x64 warp
    // tiles of mostly dead accumulators partly on the stack).
    std::optional<StagedTile> small;
    if (stagedNarrow && nStatic % staged.blockN != 0 &&
        nStatic % stagedNarrow->blockN == 0 && k % stagedNarrow->blockK == 0)
      small = stagedNarrow;
    else if (k % staged.blockK == 0 && nStatic >= staged.blockN)
      small = staged;
    else if (k % fallbackTile().blockK == 0)
      small = fallbackTile();
    // (Never for outputs narrower than its tile: most of it would be
    // idle.)
    bool large = stagedLarge && k % stagedLarge->blockK == 0 &&
                 nStatic >= stagedLarge->blockN;
    if (!small && !large)
      return false;
    if (!large || !small) {
      emit(small ? *small : *stagedLarge, tiledWhen);
      return true;
    }
    Value blocks = arith::MulIOp::create(rewriter, loc,
                                         ceilDiv(m, stagedLarge->blockM),
                                         ceilDiv(n, stagedLarge->blockN));
    if (heads > 1)
      blocks = arith::MulIOp::create(
          rewriter, loc, blocks,
          arith::ConstantIndexOp::create(rewriter, loc, heads));
    Value many = arith::CmpIOp::create(
        rewriter, loc, arith::CmpIPredicate::uge, blocks,
        arith::ConstantIndexOp::create(rewriter, loc, stagedLargeMinBlocks));
    auto choice = scf::IfOp::create(rewriter, loc, many,
                                    /*withElseRegion=*/true);
    std::string prefix = tiledWhen.empty() ? "" : tiledWhen + ", ";
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPointToStart(choice.thenBlock());
    emit(*stagedLarge, prefix + ">= " + Twine(stagedLargeMinBlocks) +
                           " tiles of " + Twine(stagedLarge->blockM) + "x" +
                           Twine(stagedLarge->blockN));
    rewriter.setInsertionPointToStart(choice.elseBlock());
    emit(*small, prefix + "fewer tiles");
    return true;
  }

  /// The kernels of headwise projections (Projection::heads blocks; several
  /// of one x, or with sibling-pair-planes of x's of the same rows, those of
  /// one x next to each other, each free to run where the first stands, as
  /// siblings) at the rewriter's insertion point: for M up to gemv-max-rows the
  /// decoding kernels of all their blocks in one launch; for more rows, per
  /// projection, the pipelined kernel with a grid plane per block, or where
  /// that does not apply (f32, K not a multiple of 32) each block's own
  /// kernels on its views.
  void emitHeadwise(IRRewriter &rewriter, ArrayRef<Site *> group) {
    Location loc = group.front()->op.getLoc();
    auto cst = [&](int64_t v) {
      return arith::ConstantIndexOp::create(rewriter, loc, v);
    };
    // x (M, heads K), W (heads N, K), out (M, heads N) of each projection.
    auto rows = [&](Value v) -> Value {
      int64_t r = cast<MemRefType>(v.getType()).getRank();
      ReassociationIndices lead;
      for (int64_t d = 0; d < r - 2; ++d)
        lead.push_back(d);
      return memref::CollapseShapeOp::create(
          rewriter, loc, v,
          ArrayRef<ReassociationIndices>{lead, {r - 2, r - 1}});
    };
    SmallVector<HeadwiseOperands> projections;
    Value m;
    for (Site *site : group) {
      const Projection &p = site->p;
      HeadwiseOperands o;
      // (x the blocks of a slice: the slice's source collapsed to rows and
      // sliced again.)
      memref::SubViewOp slice = headwiseSliceOf(p.x);
      o.x = slice ? collapseLeading(rewriter, loc, slice.getResult())
                  : rows(p.x);
      o.out = rows(p.out);
      o.w = memref::CollapseShapeOp::create(
          rewriter, loc, p.w, ArrayRef<ReassociationIndices>{{0, 1}, {2}});
      o.n = cast<MemRefType>(p.w.getType()).getDimSize(1);
      if (!m)
        m = memref::DimOp::create(rewriter, loc, o.x, cst(0));
      // (Static where x's rows are, so that the blocks' shapes in the
      // lowering report are the op's.)
      OpFoldResult rowCount = memref::getMixedSize(rewriter, loc, o.x, 0);
      for (int64_t h = 0; h < p.heads; ++h) {
        std::array<Value, 3> views =
            headViews(rewriter, loc, cst(h), o.x, o.w, o.out, rowCount, o.n,
                      p.k);
        o.blocks.push_back(Site{site->op,
                                Projection{views[0], views[1], views[2], p.k},
                                site->accumulate});
      }
      projections.push_back(std::move(o));
    }
    const Site &first = *group.front();
    int64_t k = first.p.k;
    // One block: an ordinary projection.
    if (group.size() == 1 && first.p.heads == 1) {
      emitProjection(rewriter, projections.front().blocks.front(),
                     /*decodingDone=*/false);
      return;
    }
    Type elt = cast<MemRefType>(first.p.x.getType()).getElementType();
    bool decoding = decodes(first);
    if (decoding) {
      SmallVector<Site *> members;
      SmallVector<Value> xs, outs;
      for (HeadwiseOperands &o : projections)
        for (Site &block : o.blocks) {
          members.push_back(&block);
          xs.push_back(block.p.x);
          outs.push_back(block.p.out);
        }
      llvm::SmallPtrSet<Value, 2> inputs;
      for (Site *site : group)
        inputs.insert(site->p.x);
      emitDecoding(rewriter, loc, members, projections.front().x, m, outs, xs,
                   group.size(), /*gated=*/nullptr, inputs.size());
    }
    std::string tiledWhen =
        decoding ? "M > " + std::to_string(gemvMaxRows) : "";
    for (size_t i = 0; i < group.size(); ++i) {
      Site *site = group[i];
      HeadwiseOperands &o = projections[i];
      auto record = [&, site = site](Operation *launch, const Twine &kernel,
                                     const Twine &when) {
        this->record(*site, launch, kernel, when);
      };
      int64_t heads = site->p.heads;
      // Blocks of a few columns: the skinny kernel each (emitProjection).
      bool skinny = takesSkinny(o.blocks.front(), o.n);
      // With resident-weights: this projection and the next ones of the
      // same shape (up to 4) in one launch, each block a head's W.
      if (residentWeights && headwiseOneLaunch && !skinny && !elt.isF32()) {
        size_t end = i + 1;
        while (end < group.size() && end - i < 4 &&
               formsSiblingPair(*site, o, *group[end], projections[end]))
          ++end;
        // With sibling-pair-planes, the next as many of another x of the
        // same rows and shapes (the sLSTM's z and o beside i and f) join
        // the launch as a second plane.
        size_t run = end - i, next = end + run;
        bool twoPlanes =
            siblingPairPlanes && next <= group.size() &&
            group[end]->p.x != site->p.x && !group[end]->accumulate &&
            !group[end]->epilogue &&
            formPairPlanes(*site, o, *group[end], projections[end]) &&
            llvm::all_of(llvm::seq(end + 1, next), [&](size_t j) {
              return formsSiblingPair(*group[end], projections[end], *group[j],
                                      projections[j]);
            });
        if (twoPlanes &&
            emitResidentWeights(rewriter, loc, group.slice(i, 2 * run),
                                ArrayRef(projections).slice(i, 2 * run), m,
                                tiledWhen, /*planes=*/2)) {
          i = next - 1;
          continue;
        }
        if (emitResidentWeights(rewriter, loc, group.slice(i, end - i),
                                ArrayRef(projections).slice(i, end - i), m,
                                tiledWhen)) {
          i = end - 1;
          continue;
        }
      }
      // With the next three, two sibling pairs of the same shapes (of two
      // x's): one launch of all four.
      if (siblingPairPlanes && stagedSiblingPairs && headwiseOneLaunch &&
          !skinny && stages >= 2 && !elt.isF32() && i + 3 < group.size() &&
          formsSiblingPair(*site, o, *group[i + 1], projections[i + 1]) &&
          formsSiblingPair(*group[i + 2], projections[i + 2], *group[i + 3],
                           projections[i + 3]) &&
          formPairPlanes(*site, o, *group[i + 2], projections[i + 2]) &&
          emitSiblingPair(rewriter, loc, group.slice(i, 4),
                          ArrayRef(projections).slice(i, 4), m, tiledWhen)) {
        i += 3;
        continue;
      }
      // With the next projection of the same shape: one launch of both.
      if (stagedSiblingPairs && headwiseOneLaunch && !skinny && stages >= 2 &&
          !elt.isF32() && i + 1 < group.size() &&
          formsSiblingPair(*site, o, *group[i + 1], projections[i + 1]) &&
          emitSiblingPair(rewriter, loc, group.slice(i, 2),
                          ArrayRef(projections).slice(i, 2), m, tiledWhen)) {
        ++i;
        continue;
      }
      if (headwiseOneLaunch && !skinny && stages >= 2 && !elt.isF32() &&
          emitStagedChoice(
              rewriter, loc, m, cst(o.n), o.n, k, tiledWhen,
              [&](const StagedTile &cfg, const Twine &when) {
                emitStaged(rewriter, loc, cfg, o.x, o.w, o.out, m, cst(o.n),
                           k, site->accumulate, record, when,
                           /*gated=*/nullptr, heads);
              },
              heads))
        continue;
      // The float32 and direct kernels likewise, a grid plane per block.
      if (headwiseOneLaunch && !skinny) {
        emitUnstaged(rewriter, loc, *site, o.x, o.w, o.out, m, o.n,
                     site->p.heads, tiledWhen);
        continue;
      }
      for (Site &block : o.blocks)
        emitProjection(rewriter, block, /*decodingDone=*/decoding);
    }
  }

  /// Whether headwise projections `a` and `b` (of one x, in program order,
  /// each free to run where `a` stands) can run as one pipelined launch
  /// storing both outputs: the same blocks, shapes and types, neither
  /// accumulating nor with a fused epilogue.
  static bool formsSiblingPair(const Site &a, const HeadwiseOperands &oa,
                               const Site &b, const HeadwiseOperands &ob) {
    return a.p.x == b.p.x && a.p.heads == b.p.heads && a.p.k == b.p.k &&
           oa.n == ob.n && oa.w.getType() == ob.w.getType() &&
           oa.out.getType() == ob.out.getType() && !a.accumulate &&
           !b.accumulate && !a.epilogue && !b.epilogue;
  }

  /// Whether sibling pairs starting with `a` and `b` (formsSiblingPair
  /// each, of x's of the same rows: sibling-pair-planes' groups) can share
  /// one launch, the grid's z choosing the pair: the same heads, shapes
  /// and types.
  static bool formPairPlanes(const Site &a, const HeadwiseOperands &oa,
                             const Site &b, const HeadwiseOperands &ob) {
    return a.p.heads == b.p.heads && a.p.k == b.p.k && oa.n == ob.n &&
           oa.x.getType() == ob.x.getType() &&
           oa.w.getType() == ob.w.getType() &&
           oa.out.getType() == ob.out.getType();
  }

  /// One launch of the headwise projections `members` (one x, the same
  /// shapes and types: formsSiblingPair, or one alone), each block holding
  /// one head's W of one of them in shared memory (ResidentWeightTile).
  /// With `planes` > 1, members are that many such runs of as many
  /// projections, each of its own x of the same rows (formPairPlanes),
  /// whose grids follow one another in the launch. False where their W
  /// does not fit beside the slices, or one accumulates or has an epilogue
  /// (nothing emitted).
  bool emitResidentWeights(IRRewriter &rewriter, Location loc,
                           ArrayRef<Site *> members,
                           ArrayRef<HeadwiseOperands> operands, Value m,
                           const std::string &tiledWhen, int64_t planes = 1) {
    const Site &first = *members.front();
    const HeadwiseOperands &o = operands.front();
    if (first.accumulate || first.epilogue)
      return false;
    int64_t g = members.size() / planes, heads = first.p.heads;
    std::optional<ResidentWeightTile> tile = ResidentWeightTile::choose(
        o.n, first.p.k, residentWeightRows, residentWeightStages,
        residentWeightWarps, sharedBytes, residentWeightJoint ? g : 1,
        residentWeightJointSplitN);
    if (!tile)
      return false;
    auto cst = [&](int64_t v) {
      return arith::ConstantIndexOp::create(rewriter, loc, v);
    };
    auto ceilDiv = [&](Value v, Value d) -> Value {
      return arith::CeilDivUIOp::create(rewriter, loc, v, d);
    };
    auto mul = [&](Value a, Value b) -> Value {
      return arith::MulIOp::create(rewriter, loc, a, b);
    };
    // ceil(M / rows) slices a head and projection (joint: a head) of each
    // plane, spread over about resident-weight-blocks blocks (at least one
    // slice each).
    int64_t blocksPerSlice = planes * heads * (g / tile->weights);
    Value slices = ceilDiv(m, cst(tile->rows));
    Value per = arith::MaxUIOp::create(
        rewriter, loc,
        ceilDiv(mul(slices, cst(blocksPerSlice)), cst(residentWeightBlocks)),
        cst(1));
    Value grid = mul(ceilDiv(slices, per), cst(blocksPerSlice));
    SmallVector<Value> args = {o.x, m, per};
    for (const HeadwiseOperands &p : operands)
      args.append({p.w, p.out});
    for (int64_t p = 1; p < planes; ++p)
      args.push_back(operands[p * g].x);
    Value shared = arith::ConstantIntOp::create(
        rewriter, loc, rewriter.getI32Type(), tile->sharedBytes(2));
    bool early = residentWeightEarlyFirstPass && tile->passes() > 1;
    std::string config;
    llvm::raw_string_ostream os(config);
    // Stores from registers, as the pipelined kernel's, where they apply.
    Type outElt = cast<MemRefType>(o.out.getType()).getElementType();
    bool permuted =
        permutedColumnStores &&
        llvm::all_of(
            operands,
            [](const HeadwiseOperands &p) {
              return cast<MemRefType>(p.out.getType()).getLayout().isIdentity();
            }) &&
        StagedMMAKernelBuilder::permutedStoresApply(
            tile->tilesN(), /*gated=*/false, outElt, tile->n);
    os << tile->rows << "x" << tile->n << "x" << tile->k << "/" << tile->warpsM
       << "x" << tile->warpsN << "/" << tile->stages << " of " << g << " heads "
       << heads << (f32PairStores ? " float32 pairs" : "")
       << (permuted ? " permuted stores" : "")
       << (tile->weights > 1 ? " joint" : "")
       << (tile->splitN ? " split n" : "")
       << (planes > 1 ? " planes " + std::to_string(planes) : "")
       << (early ? " early first pass" : "")
       << (residentWeightWholeSlices && permuted ? " whole slices" : "")
       << (residentWeightLatePrefetch ? " late prefetch" : "");
    Value one = cst(1);
    auto launch = cache->launch(
        rewriter, loc, "projection_mma_resident", config, args,
        {grid, one, one}, {tile->threads(), 1, 1}, shared, /*workgroup=*/{},
        [&](OpBuilder &b, const xlstm::KernelCache::Body &kernel) {
          SmallVector<Value> xs = {kernel.args[0]}, ws, outs;
          for (int64_t j = 0; j < planes * g; ++j) {
            ws.push_back(kernel.args[3 + 2 * j]);
            outs.push_back(kernel.args[4 + 2 * j]);
          }
          for (int64_t p = 1; p < planes; ++p)
            xs.push_back(kernel.args[3 + 2 * planes * g + p - 1]);
          ResidentWeightKernelBuilder builder(b, loc, *tile, f32PairStores);
          if (permuted)
            builder.permutedTiles =
                StagedMMAKernelBuilder::permutedTilesFor(outElt);
          builder.earlyFirstPass = early;
          builder.wholeSlices = residentWeightWholeSlices;
          builder.latePrefetch = residentWeightLatePrefetch;
          builder.build(xs, kernel.args[1], kernel.args[2], ws, outs, heads,
                        kernel);
        });
    std::string kernel =
        ("mma-resident-weights " + Twine(tile->rows) + "-row slices " +
         Twine(tile->warpsM * tile->warpsN) + " warps " + Twine(tile->stages) +
         " stages, " +
         (permuted ? "16-byte stores from registers (W rows permuted" +
                         Twine(residentWeightWholeSlices
                                   ? ", unchecked in whole slices), "
                                   : "), ")
                   : Twine()) +
         (planes > 1 ? "one launch of " + Twine(planes) + " x's, " + Twine(g) +
                           " projections each, "
          : g > 1 ? "one launch of " + Twine(g) + " projections of one x, "
                  : Twine()) +
         (tile->weights > 1
              ? "each block one head's W of all " + Twine(g) +
                    " in shared memory and each slice through them" +
                    (tile->splitN ? " in one pass, "
                     : early      ? " (the first pass before the other W "
                                    "land), "
                                  : ", ")
              : Twine("each block one head's W in shared memory, ")) +
         "one launch for its " + Twine(heads) + " heads")
            .str();
    for (Site *member : members)
      record(*member, launch, kernel, tiledWhen);
    return true;
  }

  /// One pipelined launch of the sibling pair `pair` (formsSiblingPair):
  /// the gated kernel's tile of the two W interleaved by 8 rows over all
  /// heads, each projection's results stored to its own output; with four
  /// members, two such pairs (formPairPlanes), grid planes heads to
  /// 2 heads taking the second. False where no staged configuration takes
  /// the pair's K (nothing emitted).
  bool emitSiblingPair(IRRewriter &rewriter, Location loc,
                       ArrayRef<Site *> pair,
                       ArrayRef<HeadwiseOperands> operands, Value m,
                       const std::string &tiledWhen) {
    assert((pair.size() == 2 || pair.size() == 4) && "one or two pairs");
    Site &a = *pair[0];
    const HeadwiseOperands &oa = operands[0], &ob = operands[1];
    bool planes = pair.size() == 4;
    PairPlane second;
    if (planes)
      second = {operands[2].x, operands[2].w, operands[3].w, operands[2].out,
                operands[3].out};
    GatedOperands gated{ob.w,
                        oa.n,
                        "sibling pair",
                        planes ? "one launch of 2 sibling pairs of 2 x's, W "
                                 "rows interleaved by 8, each output stored"
                               : "one launch of 2 projections of one x, W "
                                 "rows interleaved by 8, each output stored",
                        /*combine=*/nullptr,
                        /*secondRowOffset=*/0,
                        /*secondSite=*/pair[1],
                        /*secondOut=*/ob.out,
                        /*secondPlane=*/planes ? &second : nullptr};
    auto recordAll = [&](Operation *launch, const Twine &kernel,
                         const Twine &when) {
      for (Site *member : pair)
        record(*member, launch, kernel, when);
    };
    Value n = arith::ConstantIndexOp::create(rewriter, loc, 2 * oa.n);
    return emitStagedChoice(
        rewriter, loc, m, n, 2 * oa.n, a.p.k, tiledWhen,
        [&](const StagedTile &cfg, const Twine &when) {
          emitStaged(rewriter, loc, cfg, oa.x, oa.w, oa.out, m, n, a.p.k,
                     /*accumulate=*/false, recordAll, when, &gated, a.p.heads);
        },
        a.p.heads * (planes ? 2 : 1));
  }

  /// The unpipelined tensor-core kernel of a projection (x (M, K), W (N,
  /// K), out (M, N), N = `n`): tf32 (3xTF32 without tf32) for float32
  /// operands, else the direct 16-bit one; recorded with `when`. With
  /// `heads`, the blocks of a headwise projection in one launch (x (M,
  /// heads K), W (heads N, K), out (M, heads N)), block h in grid plane
  /// z = h on views of x, W and out.
  void emitUnstaged(IRRewriter &rewriter, Location loc, const Site &site,
                    Value x, Value w, Value out, Value m, int64_t n,
                    int64_t heads, const std::string &when) {
    auto cst = [&](int64_t v) {
      return arith::ConstantIndexOp::create(rewriter, loc, v);
    };
    auto ceilDiv = [&](Value v, int64_t d) -> Value {
      return arith::CeilDivUIOp::create(rewriter, loc, v, cst(d));
    };
    int64_t k = site.p.k;
    bool accumulate = site.accumulate;
    Type elt = cast<MemRefType>(x.getType()).getElementType();
    // (Only a float32 out is added to in the epilogue.)
    bool addInEpilogue =
        accumulate && accumulateInEpilogue &&
        cast<MemRefType>(out.getType()).getElementType().isF32();
    std::string config =
        (accumulate ? addInEpilogue ? " accumulate in epilogue" : " accumulate"
                    : "") +
        (heads ? " heads " + std::to_string(heads) + " of " + std::to_string(n)
               : std::string());
    std::string note =
        heads ? ", one launch for its " + std::to_string(heads) + " heads"
              : "";
    Value gridZ = cst(heads ? heads : 1);
    // The kernel's x, W and out: the arguments, or head z's views of them.
    auto operands = [&, k](OpBuilder &b, const xlstm::KernelCache::Body &kernel)
        -> std::array<Value, 3> {
      if (!heads)
        return {kernel.args[0], kernel.args[1], kernel.args[2]};
      return headViews(b, loc, kernel.blockIds.z, kernel.args[0],
                       kernel.args[1], kernel.args[2], kernel.args[3], n, k);
    };
    if (elt.isF32()) {
      using T = TF32KernelBuilder;
      bool split = !tf32;
      auto launch = cache->launch(
          rewriter, loc, "projection_tf32_mma",
          (Twine(tf32 ? "tf32" : "3xtf32") + config).str(),
          {x, w, out, m, cst(n)},
          {ceilDiv(m, T::blockM), ceilDiv(cst(n), T::blockN), gridZ},
          {T::threads, 1, 1}, /*dynamicSharedBytes=*/nullptr, /*workgroup=*/{},
          [&](OpBuilder &b, const xlstm::KernelCache::Body &kernel) {
            std::array<Value, 3> v = operands(b, kernel);
            TF32KernelBuilder(b, loc, split, accumulate, addInEpilogue)
                .build(v[0], v[1], v[2], kernel.args[3], kernel.args[4], k,
                       kernel);
          });
      record(site, launch,
             Twine(tf32 ? "tf32" : "3xtf32") + " mma " + Twine(T::blockM) +
                 "x" + Twine(T::blockN) + "x8" + note,
             when);
      return;
    }
    TileShape tile{warpsM, warpsN, warpTilesM, warpTilesN};
    auto launch = cache->launch(
        rewriter, loc, "projection_mma",
        (Twine(tile.warpsM) + "x" + Twine(tile.warpsN) + " warps of " +
         Twine(tile.tilesM) + "x" + Twine(tile.tilesN) + " tiles" + config)
            .str(),
        {x, w, out, m, cst(n)},
        {ceilDiv(m, tile.blockM()), ceilDiv(cst(n), tile.blockN()), gridZ},
        {32 * tile.warpsM * tile.warpsN, 1, 1},
        /*dynamicSharedBytes=*/nullptr, /*workgroup=*/{},
        [&](OpBuilder &b, const xlstm::KernelCache::Body &kernel) {
          std::array<Value, 3> v = operands(b, kernel);
          MMAKernelBuilder(b, loc, tile, accumulate, addInEpilogue)
              .build(v[0], v[1], v[2], kernel.args[3], kernel.args[4], k,
                     kernel.blockIds, kernel.threadIds);
        });
    record(site, launch,
           "mma " + Twine(tile.blockM()) + "x" + Twine(tile.blockN()) +
               "x16 direct" + note,
           when);
  }

  /// The kernels of one projection at the rewriter's insertion point: the
  /// decoding ones for M up to gemv-max-rows (unless `decodingDone`: the
  /// caller branched on M already), then the tiled ones.
  void emitProjection(IRRewriter &rewriter, Site &site, bool decodingDone) {
    Projection *p = &site.p;
    bool accumulate = site.accumulate;
    Location loc = site.op.getLoc();
    Value x = collapseLeading(rewriter, loc, p->x);
    Value out = collapseLeading(rewriter, loc, p->out);
    Value c0 = arith::ConstantIndexOp::create(rewriter, loc, 0);
    Value m = memref::DimOp::create(rewriter, loc, x, c0);
    int64_t nStatic = cast<MemRefType>(p->w.getType()).getShape()[0];
    Value n = arith::ConstantIndexOp::create(rewriter, loc, nStatic);
    auto ceilDiv = [&](Value v, int64_t d) -> Value {
      return arith::CeilDivUIOp::create(
          rewriter, loc, v, arith::ConstantIndexOp::create(rewriter, loc, d));
    };
    Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
    auto record = [&](Operation *launch, const Twine &kernel,
                      const Twine &when) {
      this->record(site, launch, kernel, when);
    };
    Type elt = cast<MemRefType>(x.getType()).getElementType();
    // Decoding shapes (M <= gemv-max-rows, known only at run time): the
    // matrix-vector kernels in one branch (unless the caller made them for
    // a group of siblings), the tiled ones below in the other.
    bool decoding = decodingDone || decodes(site);
    if (!decodingDone && decoding) {
      Site *alone = &site;
      emitDecoding(rewriter, loc, alone, x, m, out);
    }
    // The tiled kernels' run-time condition when the decoding ones exist.
    std::string tiledWhen =
        decoding ? "M > " + std::to_string(gemvMaxRows) : "";
    // A skinny projection (N up to the small-batch kernel's token
    // columns, e.g. the mLSTM gate pre-activations): that kernel with
    // the roles swapped, x streamed once at any M.
    // A skinny float32 projection (skinny-float32): the matrix-vector
    // kernel likewise swapped, a warp per row of x.
    if (takesSkinny(site, nStatic)) {
      using T = SmallBatchMMAKernelBuilder;
      bool gemv = skinnyFloat32For(site);
      int64_t tokenTiles = (nStatic + 7) / 8;
      SmallVector<Type> workgroup;
      if (!gemv)
        workgroup.push_back(xlstm::sharedMemoryType(
            rewriter.getContext(),
            {T::reductionFloats(skinnyWarps, tokenTiles)},
            rewriter.getF32Type()));
      SmallVector<Value> operands = {x, p->w, out, m};
      operands.append(epilogueVectors(site));
      std::string config =
          (gemv ? Twine(nStatic) + " columns unroll " + Twine(gemvUnroll)
                : Twine(tokenTiles) + " column tiles unroll " +
                      Twine(skinnyUnroll))
              .str() +
          (accumulate ? " accumulate" : "") + epilogueKey(site);
      int64_t warps = gemv ? gemvWarps : skinnyWarps;
      auto launch = cache->launch(
          rewriter, loc,
          gemv ? "projection_skinny_gemv" : "projection_skinny_mma", config,
          operands, {ceilDiv(m, gemv ? gemvWarps : T::blockN), one, one},
          {32 * warps, 1, 1}, /*dynamicSharedBytes=*/nullptr, workgroup,
          [&](OpBuilder &b, const xlstm::KernelCache::Body &kernel) {
            auto epilogue = [&](OpBuilder &b, Location at, Value sum,
                                Value col) {
              return applyEpilogue(
                  b, at, site, ArrayRef(kernel.args).drop_front(4), sum, col);
            };
            if (gemv) {
              GemvKernelBuilder::skinny(b, loc, nStatic, gemvUnroll, accumulate,
                                        site.epilogue ? StoreEpilogue(epilogue)
                                                      : nullptr)
                  .build(kernel.args[0], kernel.args[1], kernel.args[2],
                         kernel.args[3], nStatic, p->k, gemvWarps, kernel);
              return;
            }
            T(b, loc, skinnyWarps, skinnyUnroll, tokenTiles, accumulate,
              /*swapped=*/true, /*split=*/std::nullopt,
              /*gated=*/std::nullopt,
              site.epilogue ? StoreEpilogue(epilogue) : nullptr)
                .build(kernel.args[0], kernel.args[1], kernel.args[2],
                       kernel.args[3], nStatic, p->k, kernel);
          });
      record(launch,
             gemv ? "skinny gemv " + Twine(gemvWarps) + " warps unroll " +
                        Twine(gemvUnroll) + ", a warp per row of x"
                  : "skinny mma " + Twine(skinnyWarps) + " warps unroll " +
                        Twine(skinnyUnroll),
             tiledWhen);
      return;
    }
    // 16-bit operands: the pipelined kernel where K allows it.
    if (!elt.isF32() && stages >= 2 &&
        emitStagedChoice(rewriter, loc, m, n, nStatic, p->k, tiledWhen,
                         [&](const StagedTile &cfg, const Twine &when) {
                           emitStaged(rewriter, loc, cfg, x, p->w, out, m, n,
                                      p->k, accumulate, record, when);
                         }))
      return;
    // Else (float32: always) the unpipelined one.
    emitUnstaged(rewriter, loc, site, x, p->w, out, m, nStatic, /*heads=*/0,
                 tiledWhen);
  }
};

} // namespace
