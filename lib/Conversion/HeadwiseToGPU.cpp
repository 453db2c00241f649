//===- HeadwiseToGPU.cpp - Small-block headwise projections as one kernel -===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// The mLSTM's q, k and v projections are block-diagonal with tiny blocks
// (qkv_proj_blocksize 4: hundreds of 4x4 matrices): four multiply-adds per
// output, nothing a tensor core helps with, and bound by reading x and
// writing y once. Lowered generically the reduction runs as one thread per
// output with scalar loads, then a separate epilogue kernel adds the bias
// and converts. Here one thread owns one block of one row: it loads the
// block's inputs as one vector, keeps them in registers, and writes the
// block's outputs, bias added, as one vector.
//
// Mid-sized blocks that do not become tensor-core projections (an sLSTM of
// width 72 has 4 heads of 18x18, which no mma tile divides) get a thread
// per group of up to 16 outputs of one block of one row, which streams the
// block's inputs in the widest loads their alignment allows and keeps only
// its outputs' sums in registers.
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"

#include "xlstm/Conversion/LoweringReport.h"
#include "xlstm/Conversion/Passes.h"
#include "xlstm/Dialect/XLSTM/IR/XLSTM.h"
#include "xlstm/Dialect/XLSTM/Transforms/Headwise.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"

namespace xlstm {
#define GEN_PASS_DEF_XLSTMHEADWISETOGPUPASS
#include "xlstm/Conversion/Passes.h.inc"
} // namespace xlstm

using namespace mlir;
using namespace xlstm;

namespace {

/// x (rows, NB * I), w (NB, O, I), bias (NB * O) or null, y (rows, NB * O).
struct HeadwiseBuffers {
  Value x, w, bias, y;
  int64_t blocks, in, out;
};

/// Whether `n` elements of `elt` make one vector load (4, 8 or 16 bytes).
bool isVectorRow(int64_t n, Type elt) {
  int64_t bits = n * elt.getIntOrFloatBitWidth();
  return n > 1 && (bits == 32 || bits == 64 || bits == 128);
}

/// The largest power of two of bytes, up to 16, that divides `bytes`.
int64_t alignmentOf(int64_t bytes) {
  int64_t a = 16;
  while (bytes % a)
    a /= 2;
  return a;
}

/// The most consecutive elements of `elt` one aligned load may take at
/// offsets that are multiples of `n` elements (rows of `n`), dividing `n`.
int64_t vectorElements(int64_t n, Type elt) {
  int64_t bytes = elt.getIntOrFloatBitWidth() / 8;
  int64_t v = std::max<int64_t>(alignmentOf(n * bytes) / bytes, 1);
  while (n % v)
    v /= 2;
  return v;
}

class HeadwiseKernel : KernelBuilder {
public:
  static constexpr int64_t threadsPerBlock = 256;

  HeadwiseKernel(OpBuilder &b, Location loc)
      : KernelBuilder(b, loc, b.getF32Type()) {}

  void build(const HeadwiseBuffers &io, Value rows, gpu::LaunchOp launch) {
    Value thread = add(mul(launch.getBlockIds().x, idx(threadsPerBlock)),
                       launch.getThreadIds().x);
    Value h = remui(thread, idx(io.blocks));
    Value row = divui(thread, idx(io.blocks));
    ifThen(ult(row, rows), [&] {
      Value inAt = mul(h, idx(io.in)), outAt = mul(h, idx(io.out));
      Type xElt = cast<MemRefType>(io.x.getType()).getElementType();
      SmallVector<Value> xRow = leadingIndices(io.x, row);
      auto xAt = [&](Value column) {
        SmallVector<Value> at(xRow);
        at.push_back(column);
        return at;
      };
      SmallVector<Value> xs;
      if (isVectorRow(io.in, xElt))
        xs = loadVector(io.x, xAt(inAt), io.in);
      else
        for (int64_t i = 0; i < io.in; ++i)
          xs.push_back(load(io.x, xAt(add(inAt, idx(i)))));
      SmallVector<Value> ys;
      Type wElt = cast<MemRefType>(io.w.getType()).getElementType();
      for (int64_t o = 0; o < io.out; ++o) {
        Value acc = io.bias ? load(io.bias, {add(outAt, idx(o))})
                            : constant(0.0);
        // A row of the block's matrix in one load where it makes a vector.
        SmallVector<Value> ws;
        if (isVectorRow(io.in, wElt))
          ws = loadVector(io.w, {h, idx(o), idx(0)}, io.in);
        else
          for (int64_t i = 0; i < io.in; ++i)
            ws.push_back(load(io.w, {h, idx(o), idx(i)}));
        for (int64_t i = 0; i < io.in; ++i)
          acc = addf(acc, mulf(ws[i], xs[i]));
        ys.push_back(acc);
      }
      Type yElt = cast<MemRefType>(io.y.getType()).getElementType();
      if (isVectorRow(io.out, yElt))
        storeVector(ys, io.y, {row, outAt});
      else
        for (int64_t o = 0; o < io.out; ++o)
          store(ys[o], io.y, {row, add(outAt, idx(o))});
    });
    gpu::TerminatorOp::create(b, loc);
  }

  /// Outputs one thread of the wide kernel sums: the most, up to 16, that
  /// divide a block's `out` evenly.
  static int64_t outputsPerThread(int64_t out) {
    int64_t n = std::min<int64_t>(out, 16);
    while (out % n)
      --n;
    return n;
  }

  /// The wide kernel: thread (row, block h, group g) sums outputs
  /// [g * per, (g + 1) * per) of block h, reading the block's inputs once
  /// and the matching rows of its matrix in the widest aligned vectors; the
  /// groups of a block are neighbouring threads, so their x loads coincide
  /// and their stores are contiguous.
  void buildWide(const HeadwiseBuffers &io, Value rows, gpu::LaunchOp launch) {
    int64_t per = outputsPerThread(io.out), groups = io.out / per;
    Value thread = add(mul(launch.getBlockIds().x, idx(threadsPerBlock)),
                       launch.getThreadIds().x);
    Value g = remui(thread, idx(groups));
    Value rest = divui(thread, idx(groups));
    Value h = remui(rest, idx(io.blocks));
    Value row = divui(rest, idx(io.blocks));
    ifThen(ult(row, rows), [&] {
      Value inAt = mul(h, idx(io.in));
      Value first = mul(g, idx(per)); // the group's first output in the block
      Value outAt = add(mul(h, idx(io.out)), first);
      Type xElt = cast<MemRefType>(io.x.getType()).getElementType();
      Type wElt = cast<MemRefType>(io.w.getType()).getElementType();
      Type yElt = cast<MemRefType>(io.y.getType()).getElementType();
      // (x's block offsets and W's rows are multiples of `in` elements.)
      int64_t xWidth = vectorElements(io.in, xElt);
      int64_t wWidth = vectorElements(io.in, wElt);
      auto loadRun = [&](Value m, SmallVector<Value> at, int64_t n,
                         int64_t width) {
        SmallVector<Value> values;
        Value base = at.back();
        for (int64_t i = 0; i < n; i += width) {
          at.back() = add(base, idx(i));
          if (width > 1)
            llvm::append_range(values, loadVector(m, at, width));
          else
            values.push_back(load(m, at));
        }
        return values;
      };
      SmallVector<Value> xRow = leadingIndices(io.x, row);
      SmallVector<Value> acc;
      for (int64_t o = 0; o < per; ++o)
        acc.push_back(io.bias ? load(io.bias, {add(outAt, idx(o))})
                              : constant(0.0));
      // A step of the inputs at a time: its x, then each output's weights.
      int64_t step = std::max(xWidth, wWidth);
      for (int64_t i = 0; i < io.in; i += step) {
        SmallVector<Value> xAt(xRow);
        xAt.push_back(add(inAt, idx(i)));
        SmallVector<Value> xs = loadRun(io.x, xAt, step, xWidth);
        for (int64_t o = 0; o < per; ++o) {
          SmallVector<Value> ws = loadRun(
              io.w, {h, add(first, idx(o)), idx(i)}, step, wWidth);
          for (int64_t e = 0; e < step; ++e)
            acc[o] = addf(acc[o], mulf(ws[e], xs[e]));
        }
      }
      int64_t yWidth = vectorElements(per, yElt);
      for (int64_t o = 0; o < per; o += yWidth) {
        if (yWidth > 1)
          storeVector(ArrayRef(acc).slice(o, yWidth), io.y,
                      {row, add(outAt, idx(o))});
        else
          store(acc[o], io.y, {row, add(outAt, idx(o))});
      }
    });
    gpu::TerminatorOp::create(b, loc);
  }
};

struct XLSTMHeadwiseToGPUPass
    : xlstm::impl::XLSTMHeadwiseToGPUPassBase<XLSTMHeadwiseToGPUPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<HeadwiseLinearOp> ops;
    getOperation()->walk([&](HeadwiseLinearOp op) { ops.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (HeadwiseLinearOp op : ops)
      rewrite(rewriter, op);
  }

  void rewrite(IRRewriter &rewriter, HeadwiseLinearOp op) {
    auto xType = cast<RankedTensorType>(op.getInput().getType());
    auto wType = cast<RankedTensorType>(op.getWeight().getType());
    auto yType = cast<RankedTensorType>(op.getResult().getType());
    // Float32 compute: no float64 operand or result; the result is sized
    // from x, so its leading dimensions must be x's.
    if (xType.getRank() < 2 || !wType.hasStaticShape() ||
        xType.isDynamicDim(xType.getRank() - 1) || hasWiderThanF32(op) ||
        yType.getShape().drop_back() != xType.getShape().drop_back())
      return;
    HeadwiseBuffers io;
    io.blocks = wType.getDimSize(0);
    io.out = wType.getDimSize(1);
    io.in = wType.getDimSize(2);
    if (io.blocks == 0 || io.out == 0 || io.in == 0)
      return;
    // The inputs and outputs of a block live in registers; wider blocks
    // take the wide kernel where the tensor-core projections cannot.
    bool wide = io.in > maxBlock || io.out > maxBlock;
    if (wide && (io.in > maxWideBlock || io.out > maxWideBlock ||
                 headwiseAsProjections(io.blocks, io.out, io.in)))
      return;

    Location loc = NameLoc::get(
        rewriter.getStringAttr(op->getName().getStringRef()), op.getLoc());
    rewriter.setInsertionPoint(op);
    auto idx = [&](int64_t v) {
      return arith::ConstantIndexOp::create(rewriter, loc, v);
    };
    int64_t r = xType.getRank();
    ReassociationIndices lead;
    for (int64_t d = 0; d + 1 < r; ++d)
      lead.push_back(d);
    SmallVector<ReassociationIndices> toRows = {lead, {r - 1}};
    // A column slice (the mLSTM's v reads half of the up projection) is
    // read in place through a strided view, indexed by the row's leading
    // indices; anything else as dense rows. (16 bytes: the widest load.)
    int64_t widest = 128 / xType.getElementTypeBitWidth();
    bool inPlace = inPlaceSlices && isAlignedColumnSlice(op.getInput(), widest);
    Value x = inPlace ? toReadOnlyView(rewriter, loc, op.getInput())
                      : toReadOnlyBuffer(rewriter, loc, op.getInput());
    io.x =
        inPlace ? x : memref::CollapseShapeOp::create(rewriter, loc, x, toRows);
    io.w = toReadOnlyBuffer(rewriter, loc, op.getWeight());
    if (op.getBias())
      io.bias = toReadOnlyBuffer(rewriter, loc, op.getBias());
    SmallVector<Value> sizes;
    for (int64_t d = 0; d < r; ++d)
      sizes.push_back(xType.isDynamicDim(d)
                          ? memref::DimOp::create(rewriter, loc, x, idx(d))
                                .getResult()
                          : Value());
    Value y = allocateLike(rewriter, loc, yType, sizes);
    io.y = memref::CollapseShapeOp::create(rewriter, loc, y, toRows);
    // (A view keeps its leading dimensions: the dense output counts rows.)
    Value rows =
        memref::DimOp::create(rewriter, loc, inPlace ? io.y : io.x, idx(0));
    int64_t groups = wide ? io.out / HeadwiseKernel::outputsPerThread(io.out)
                          : 1;
    Value threads =
        arith::MulIOp::create(rewriter, loc, rows, idx(io.blocks * groups));
    Value one = idx(1);
    auto launch = gpu::LaunchOp::create(
        rewriter, loc,
        arith::CeilDivUIOp::create(rewriter, loc, threads,
                                   idx(HeadwiseKernel::threadsPerBlock)),
        one, one, idx(HeadwiseKernel::threadsPerBlock), one, one);
    recordKernelChoice(
        launch,
        {"projection",
         formatShape({leadingRows(xType.getShape()), io.blocks, io.out, io.in}),
         (wide ? "headwise, a thread per " + std::to_string(io.out / groups) +
                     " outputs of a " + std::to_string(io.out) + "x" +
                     std::to_string(io.in) + " block"
               : "headwise, a thread per " + std::to_string(io.out) + "x" +
                     std::to_string(io.in) + " block") +
             (inPlace ? ", input read in place" : ""),
         ""},
        op.getWeight());
    {
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPointToStart(&launch.getBody().front());
      if (wide)
        HeadwiseKernel(rewriter, loc).buildWide(io, rows, launch);
      else
        HeadwiseKernel(rewriter, loc).build(io, rows, launch);
    }
    rewriter.replaceOp(op, toTensor(rewriter, loc, yType, y));
  }
};

} // namespace
