//===- CausalConvToGPU.cpp - The causal depthwise conv as one kernel ------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Lowered generically, a causal conv is a zero fill, two copies into a
// padded buffer (the state, then the input), the K-tap reduction and a
// slice for the final state: five kernels and two extra passes over the
// input. Here one thread takes V channels (16 bytes of input) of a run of
// consecutive positions: it reads the K - 1 inputs before the run from the
// state or the input, then slides its window along the run reading each
// input once, and one more thread per row and channels writes the final
// state. Where the conv's only reader is an elementwise op of it alone (the
// SiLU of the mLSTM and sLSTM layers), the kernel applies that op to each
// output before storing it: one pass over the conv's output fewer.
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"

#include "xlstm/Conversion/LoweringReport.h"
#include "xlstm/Conversion/Passes.h"
#include "xlstm/Dialect/XLSTM/IR/XLSTM.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

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
  /// An elementwise op of y alone whose result the kernel stores in y's
  /// place (its body applied to each output, rounded to y's type first).
  linalg::GenericOp epilogue;
  Type outputType; ///< the conv's own element type
  int64_t channels, taps;
  int64_t vec; ///< channels per thread
};

class CausalConvKernel : KernelBuilder {
public:
  static constexpr int64_t threadsPerBlock = 256;

  /// `vec` channels per thread (one vector load of each row), `positions`
  /// consecutive positions.
  CausalConvKernel(OpBuilder &b, Location loc, int64_t vec, int64_t positions)
      : KernelBuilder(b, loc, b.getF32Type()), vec(vec),
        positions(positions) {}

  /// One thread per (batch row, run of `positions` positions, V
  /// channels), and per (batch row, V channels) one more for the final
  /// state. `runs` is ceil(S / positions); `runsPerRow` that plus one when
  /// the final state is written.
  void build(const ConvBuffers &io, Value batch, Value seq, Value runs,
             Value runsPerRow, gpu::LaunchOp launch) {
    int64_t history = io.taps - 1;
    Value thread = add(mul(launch.getBlockIds().x, idx(threadsPerBlock)),
                       launch.getThreadIds().x);
    Value vecs = idx(io.channels / vec);
    Value c = mul(remui(thread, vecs), idx(vec));
    Value rest = divui(thread, vecs);
    Value run = remui(rest, runsPerRow);
    Value row = divui(rest, runsPerRow);
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
      auto output = scf::IfOp::create(b, loc, TypeRange{}, ult(run, runs),
                                      /*withElseRegion=*/io.final != nullptr);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(output.thenBlock());
      // The run's K - 1 inputs before its first position (padded positions
      // u0 .. u0 + K - 2), then a sliding window: each input read once.
      Value u0 = mul(run, idx(positions));
      SmallVector<SmallVector<Value>> window;
      for (int64_t k = 0; k < history; ++k)
        window.push_back(input(add(u0, idx(k))));
      SmallVector<SmallVector<Value>> w(vec);
      SmallVector<Value> bias(vec, constant(0.0));
      for (int64_t e = 0; e < vec; ++e) {
        for (int64_t k = 0; k < io.taps; ++k)
          w[e].push_back(load(io.w, {add(c, idx(e)), idx(k)}));
        if (io.bias)
          bias[e] = load(io.bias, {add(c, idx(e))});
      }
      Value last = sub(seq, idx(1));
      for (int64_t t = 0; t < positions; ++t) {
        Value u = add(u0, idx(t));
        // Past the end (the last run's tail): read a valid row, store
        // nothing.
        SmallVector<Value> current =
            loadRow(io.x, {row, arith::MinUIOp::create(b, loc, u, last), c});
        window.push_back(current);
        // y[u] = bias + sum_k w[:, k] * padded[u + k].
        SmallVector<Value> acc(bias);
        for (int64_t k = 0; k < io.taps; ++k)
          for (int64_t e = 0; e < vec; ++e)
            acc[e] = addf(acc[e], mulf(w[e][k], window[k][e]));
        ifThen(ult(u, seq), [&] {
          storeRow(io.epilogue ? applyEpilogue(io, acc) : acc, io.y,
                   {row, u, c});
        });
        window.erase(window.begin());
      }
      if (io.final) {
        // Final state row j: padded position S + j.
        b.setInsertionPointToStart(output.elseBlock());
        for (int64_t j = 0; j < history; ++j)
          storeRow(input(add(seq, idx(j))), io.final, {row, idx(j), c});
      }
    });
    gpu::TerminatorOp::create(b, loc);
  }

private:
  /// The epilogue's body on each of `values`, each first rounded to the
  /// conv's type (what the op read from the conv's output before).
  SmallVector<Value> applyEpilogue(const ConvBuffers &io, ValueRange values) {
    linalg::GenericOp epilogue = io.epilogue;
    Block &body = epilogue.getRegion().front();
    SmallVector<Value> out;
    for (Value v : values) {
      IRMapping map;
      map.map(body.getArgument(0), castFloat(v, io.outputType));
      for (Operation &op : body.without_terminator()) {
        for (Value operand : op.getOperands())
          if (operand.getParentBlock() != &body && !map.contains(operand))
            map.map(operand, b.clone(*operand.getDefiningOp())->getResult(0));
        b.clone(op, map);
      }
      Value result = map.lookupOrDefault(body.getTerminator()->getOperand(0));
      out.push_back(castFloat(result, compute));
    }
    return out;
  }

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

  int64_t vec, positions;
};

struct XLSTMCausalConvToGPUPass
    : xlstm::impl::XLSTMCausalConvToGPUPassBase<XLSTMCausalConvToGPUPass> {
  using Base::Base;
  /// Threads below which runs of 8 positions leave the GPU idle (a quarter
  /// of what 132 SMs hold).
  static constexpr int64_t kMinRunThreads = 65536;

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
    // Float32 compute: no float64 operand or result; the final state's
    // (K - 1, C) sized from the weight.
    if (xType.getRank() != 3 || wType.getRank() != 2 ||
        !wType.hasStaticShape() || xType.isDynamicDim(2) ||
        hasWiderThanF32(op) ||
        (op.getFinalState() &&
         (op.getFinalState().getType().isDynamicDim(1) ||
          op.getFinalState().getType().isDynamicDim(2))))
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
    io.outputType = op.getResult().getType().getElementType();
    io.epilogue = elementwiseReader(op.getResult());
    Type yType = io.epilogue ? io.epilogue.getResult(0).getType()
                             : op.getResult().getType();
    io.y = allocateLike(rewriter, loc, cast<RankedTensorType>(yType),
                        {batch, seq, Value()});
    if (op.getFinalState())
      io.final = allocateLike(rewriter, loc, op.getFinalState().getType(),
                              {batch, Value(), Value()});
    Value one = idx(1);
    std::string shape = formatShape(
        {xType.getDimSize(0), xType.getDimSize(1), io.channels, io.taps});
    // Threads for runs of `positions` positions: (batch, runs and the
    // final state's, channel vectors).
    auto threadsFor = [&](int64_t positions, Value &runs, Value &runsPerRow) {
      runs = arith::CeilDivUIOp::create(rewriter, loc, seq, idx(positions));
      runsPerRow = runs;
      if (op.getFinalState())
        runsPerRow = arith::AddIOp::create(rewriter, loc, runs, one);
      return arith::MulIOp::create(
                 rewriter, loc,
                 arith::MulIOp::create(rewriter, loc, batch, runsPerRow),
                 idx(io.channels / io.vec))
          .getResult();
    };
    auto emitLaunch = [&](int64_t positions, const std::string &when) {
      Value runs, runsPerRow;
      Value threads = threadsFor(positions, runs, runsPerRow);
      Value blocks = arith::CeilDivUIOp::create(
          rewriter, loc, threads, idx(CausalConvKernel::threadsPerBlock));
      auto launch = gpu::LaunchOp::create(
          rewriter, loc, blocks, one, one,
          idx(CausalConvKernel::threadsPerBlock), one, one);
      recordKernelChoice(
          launch,
          {"conv", shape,
           "causal conv, " + std::to_string(io.vec) +
               (io.vec == 1 ? " channel" : " channels") + " x " +
               std::to_string(positions) +
               (positions == 1 ? " position" : " positions") + " per thread" +
               (io.epilogue ? ", the elementwise op after it fused" : ""),
           when},
          op.getInput());
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPointToStart(&launch.getBody().front());
      CausalConvKernel(rewriter, loc, io.vec, positions)
          .build(io, batch, seq, runs, runsPerRow, launch);
    };
    if (xType.getDimSize(1) == 1) {
      // A decode step: one position.
      emitLaunch(1, "");
    } else {
      // Runs of 8 positions per thread read each input once; where they
      // leave fewer than kMinRunThreads threads (short or few sequences)
      // the GPU would idle: one position per thread there (run time).
      Value runs, runsPerRow;
      Value many = arith::CmpIOp::create(
          rewriter, loc, arith::CmpIPredicate::uge,
          threadsFor(8, runs, runsPerRow), idx(kMinRunThreads));
      auto choice =
          scf::IfOp::create(rewriter, loc, many, /*withElseRegion=*/true);
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPointToStart(choice.thenBlock());
      emitLaunch(8, ">= " + std::to_string(kMinRunThreads) + " threads");
      rewriter.setInsertionPointToStart(choice.elseBlock());
      emitLaunch(1, "fewer threads");
    }
    Value y = toTensor(rewriter, loc, cast<RankedTensorType>(yType), io.y);
    if (io.epilogue) {
      for (Operation *user : llvm::make_early_inc_range(op.getResult().getUsers()))
        if (auto dim = dyn_cast<tensor::DimOp>(user)) {
          int64_t d = *dim.getConstantIndex();
          rewriter.replaceOp(dim, d == 0   ? batch
                                  : d == 1 ? seq
                                           : idx(io.channels));
        }
      rewriter.replaceOp(io.epilogue, y);
      if (op.getFinalState())
        rewriter.replaceAllUsesWith(
            op.getFinalState(),
            toTensor(rewriter, loc, op.getFinalState().getType(), io.final));
      rewriter.eraseOp(op);
      return;
    }
    SmallVector<Value> results = {y};
    if (op.getFinalState())
      results.push_back(
          toTensor(rewriter, loc, op.getFinalState().getType(), io.final));
    rewriter.replaceOp(op, results);
  }

  /// The only reader of `y` where it is an elementwise op of `y` alone
  /// (identity maps, all parallel, one result of y's shape, a body of pure
  /// scalar ops that ignores its output's old value), else null.
  static linalg::GenericOp elementwiseReader(Value y) {
    // (Its sizes may be asked too: the kernel knows them.)
    linalg::GenericOp op;
    for (Operation *user : y.getUsers()) {
      if (auto dim = dyn_cast<tensor::DimOp>(user);
          dim && dim.getConstantIndex())
        continue;
      if (op || !isa<linalg::GenericOp>(user))
        return {};
      op = cast<linalg::GenericOp>(user);
    }
    if (!op || op.getNumDpsInputs() != 1 || op.getNumDpsInits() != 1 ||
        op.getNumResults() != 1 ||
        op.getNumLoops() != op.getNumParallelLoops() ||
        !llvm::all_of(op.getIndexingMapsArray(),
                      [](AffineMap m) { return m.isIdentity(); }))
      return {};
    auto yType = cast<RankedTensorType>(y.getType());
    auto rType = cast<RankedTensorType>(op.getResult(0).getType());
    if (rType.getShape() != yType.getShape() ||
        !isa<FloatType>(rType.getElementType()) ||
        rType.getElementType().getIntOrFloatBitWidth() > 32)
      return {};
    Block &body = op.getRegion().front();
    if (!body.getArgument(1).use_empty())
      return {};
    for (Operation &inner : body.without_terminator()) {
      if (inner.getNumRegions() != 0 || !isMemoryEffectFree(&inner) ||
          isa<linalg::IndexOp>(inner))
        return {};
      // (Values from outside the body: constants only, which the kernel
      // makes for itself.)
      for (Value operand : inner.getOperands())
        if (operand.getParentBlock() != &body &&
            !matchPattern(operand, m_Constant()))
          return {};
    }
    return op;
  }
};

} // namespace
