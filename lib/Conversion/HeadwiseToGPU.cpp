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
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"

#include "xlstm/Conversion/LoweringReport.h"
#include "xlstm/Conversion/Passes.h"
#include "xlstm/Dialect/XLSTM/IR/XLSTM.h"

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
      SmallVector<Value> xs;
      if (isVectorRow(io.in, xElt))
        xs = loadVector(io.x, {row, inAt}, io.in);
      else
        for (int64_t i = 0; i < io.in; ++i)
          xs.push_back(load(io.x, {row, add(inAt, idx(i))}));
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
    // The inputs and outputs of a block live in registers.
    if (io.in > maxBlock || io.out > maxBlock)
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
    Value x = toReadOnlyBuffer(rewriter, loc, op.getInput());
    io.x = memref::CollapseShapeOp::create(rewriter, loc, x, toRows);
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
    Value rows = memref::DimOp::create(rewriter, loc, io.x, idx(0));
    Value threads =
        arith::MulIOp::create(rewriter, loc, rows, idx(io.blocks));
    Value one = idx(1);
    auto launch = gpu::LaunchOp::create(
        rewriter, loc,
        arith::CeilDivUIOp::create(rewriter, loc, threads,
                                   idx(HeadwiseKernel::threadsPerBlock)),
        one, one, idx(HeadwiseKernel::threadsPerBlock), one, one);
    recordKernelChoice(
        launch,
        {"projection",
         formatShape(
             {leadingRows(xType.getShape()), io.blocks, io.out, io.in}),
         "headwise, a thread per " + std::to_string(io.out) + "x" +
             std::to_string(io.in) + " block",
         ""},
        op.getWeight());
    {
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPointToStart(&launch.getBody().front());
      HeadwiseKernel(rewriter, loc).build(io, rows, launch);
    }
    rewriter.replaceOp(op, toTensor(rewriter, loc, yType, y));
  }
};

} // namespace
