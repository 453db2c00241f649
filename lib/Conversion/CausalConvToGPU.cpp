//===- CausalConvToGPU.cpp - The causal depthwise conv as one kernel ------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Lowered generically, a causal conv is a zero fill, two copies into a
// padded buffer (the state, then the input), the K-tap reduction and a
// slice for the final state: five kernels and two extra passes over the
// input. Here one thread takes V channels (16 bytes of input) of one
// position: it reads its K taps straight from the state or the input,
// writes the output, and threads past the last position write the final
// state the same way.
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
#define GEN_PASS_DEF_XLSTMCAUSALCONVTOGPUPASS
#include "xlstm/Conversion/Passes.h.inc"
} // namespace xlstm

using namespace mlir;
using namespace xlstm;

namespace {

/// The buffers of one conv: x (B, S, C), w (C, K), bias (C) or null,
/// initial and final state (B, K - 1, C) or null, y (B, S, C).
struct ConvBuffers {
  Value x, w, bias, initial, y, final;
  int64_t channels, taps;
  int64_t vec; ///< channels per thread
};

class CausalConvKernel : KernelBuilder {
public:
  static constexpr int64_t threadsPerBlock = 256;

  /// `vec` channels per thread (one vector load of each row).
  CausalConvKernel(OpBuilder &b, Location loc, int64_t vec)
      : KernelBuilder(b, loc, b.getF32Type()), vec(vec) {}

  /// One thread per (batch row, position, V channels); positions S to
  /// S + K - 2 are the final state's rows.
  void build(const ConvBuffers &io, Value batch, Value seq, Value rows,
             gpu::LaunchOp launch) {
    int64_t history = io.taps - 1;
    Value thread = add(mul(launch.getBlockIds().x, idx(threadsPerBlock)),
                       launch.getThreadIds().x);
    Value vecs = idx(io.channels / vec);
    Value c = mul(remui(thread, vecs), idx(vec));
    Value rest = divui(thread, vecs);
    Value u = remui(rest, rows);
    Value row = divui(rest, rows);
    // V values at padded position p (p < K - 1: the state, else x[p-K+1]).
    auto input = [&](Value p) -> SmallVector<Value> {
      SmallVector<Type> types(vec, compute);
      auto fromState = scf::IfOp::create(b, loc, types, ult(p, idx(history)),
                                         /*withElseRegion=*/true);
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(fromState.thenBlock());
        SmallVector<Value> v(vec, constant(0.0));
        if (io.initial)
          v = loadRow(io.initial, {row, p, c});
        scf::YieldOp::create(b, loc, v);
        b.setInsertionPointToStart(fromState.elseBlock());
        scf::YieldOp::create(b, loc,
                             loadRow(io.x, {row, sub(p, idx(history)), c}));
      }
      return SmallVector<Value>(fromState.getResults());
    };
    ifThen(ult(row, batch), [&] {
      auto output = scf::IfOp::create(b, loc, TypeRange{}, ult(u, seq),
                                      /*withElseRegion=*/io.final != nullptr);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(output.thenBlock());
      // y[u] = bias + sum_k w[:, k] * padded[u + k].
      SmallVector<Value> acc(vec, constant(0.0));
      if (io.bias)
        for (int64_t e = 0; e < vec; ++e)
          acc[e] = load(io.bias, {add(c, idx(e))});
      for (int64_t k = 0; k < io.taps; ++k) {
        SmallVector<Value> xs = input(add(u, idx(k)));
        for (int64_t e = 0; e < vec; ++e)
          acc[e] = addf(acc[e], mulf(load(io.w, {add(c, idx(e)), idx(k)}),
                                     xs[e]));
      }
      storeRow(acc, io.y, {row, u, c});
      if (io.final) {
        // Final state row j = u - S: padded position S + j.
        b.setInsertionPointToStart(output.elseBlock());
        Value j = sub(u, seq);
        storeRow(input(add(seq, j)), io.final, {row, j, c});
      }
    });
    gpu::TerminatorOp::create(b, loc);
  }

private:
  SmallVector<Value> loadRow(Value memref, ValueRange at) {
    if (vec == 1)
      return {load(memref, at)};
    return loadVector(memref, at, vec);
  }
  void storeRow(ValueRange values, Value memref, ValueRange at) {
    if (vec == 1)
      store(values[0], memref, at);
    else
      storeVector(values, memref, at);
  }

  int64_t vec;
};

struct XLSTMCausalConvToGPUPass
    : xlstm::impl::XLSTMCausalConvToGPUPassBase<XLSTMCausalConvToGPUPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<CausalConv1dOp> ops;
    getOperation()->walk([&](CausalConv1dOp op) { ops.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (CausalConv1dOp op : ops)
      rewrite(rewriter, op);
  }

  void rewrite(IRRewriter &rewriter, CausalConv1dOp op) {
    auto xType = cast<RankedTensorType>(op.getInput().getType());
    auto wType = cast<RankedTensorType>(op.getWeight().getType());
    if (xType.getRank() != 3 || wType.getRank() != 2 ||
        !wType.hasStaticShape() || xType.isDynamicDim(2) ||
        llvm::any_of(op->getOperandTypes(), [](Type t) {
          return cast<ShapedType>(t).getElementTypeBitWidth() > 32;
        }))
      return;
    ConvBuffers io;
    io.channels = xType.getDimSize(2);
    io.taps = wType.getDimSize(1);
    // 16 bytes of channels per thread where the rows allow it.
    int64_t vec = 128 / xType.getElementTypeBitWidth();
    io.vec = io.channels % vec == 0 ? vec : 1;

    Location loc = NameLoc::get(
        rewriter.getStringAttr(op->getName().getStringRef()), op.getLoc());
    rewriter.setInsertionPoint(op);
    auto idx = [&](int64_t v) {
      return arith::ConstantIndexOp::create(rewriter, loc, v);
    };
    io.x = toReadOnlyBuffer(rewriter, loc, op.getInput());
    io.w = toReadOnlyBuffer(rewriter, loc, op.getWeight());
    if (op.getBias())
      io.bias = toReadOnlyBuffer(rewriter, loc, op.getBias());
    if (op.getInitialState())
      io.initial = toReadOnlyBuffer(rewriter, loc, op.getInitialState());
    Value batch = memref::DimOp::create(rewriter, loc, io.x, idx(0));
    Value seq = memref::DimOp::create(rewriter, loc, io.x, idx(1));
    io.y = allocateLike(rewriter, loc, op.getResult().getType(),
                        {batch, seq, Value()});
    Value rows = seq;
    if (op.getFinalState()) {
      io.final = allocateLike(rewriter, loc, op.getFinalState().getType(),
                              {batch, Value(), Value()});
      rows = arith::AddIOp::create(rewriter, loc, seq, idx(io.taps - 1));
    }
    Value threads = arith::MulIOp::create(
        rewriter, loc,
        arith::MulIOp::create(rewriter, loc, batch, rows),
        idx(io.channels / io.vec));
    Value blocks = arith::CeilDivUIOp::create(
        rewriter, loc, threads, idx(CausalConvKernel::threadsPerBlock));
    Value one = idx(1);
    auto launch = gpu::LaunchOp::create(
        rewriter, loc, blocks, one, one,
        idx(CausalConvKernel::threadsPerBlock), one, one);
    recordKernelChoice(launch,
                       {"conv",
                        formatShape({xType.getDimSize(0), xType.getDimSize(1),
                                     io.channels, io.taps}),
                        "causal conv, " + std::to_string(io.vec) +
                            (io.vec == 1 ? " channel" : " channels") +
                            " per thread",
                        ""},
                       op.getInput());
    {
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPointToStart(&launch.getBody().front());
      CausalConvKernel(rewriter, loc, io.vec)
          .build(io, batch, seq, rows, launch);
    }
    SmallVector<Value> results = {
        toTensor(rewriter, loc, op.getResult().getType(), io.y)};
    if (op.getFinalState())
      results.push_back(
          toTensor(rewriter, loc, op.getFinalState().getType(), io.final));
    rewriter.replaceOp(op, results);
  }
};

} // namespace
