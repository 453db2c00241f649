//===- CausalConvToGPU.cpp - The causal depthwise conv as one kernel ------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Lowered generically, a causal conv is a zero fill, two copies into a
// padded buffer (the state, then the input), the K-tap reduction and a
// slice for the final state: five kernels and two extra passes over the
// input. Here one thread takes V channels (8 bytes of input by default) of
// a run of consecutive positions: it reads the K - 1 inputs before the run
// from the state or the input and the run's own inputs, all before its
// first store, then slides its window along the run (each input read once),
// and one more thread per row and channels writes the final state. Where
// the conv's only reader is an elementwise op of it alone (the SiLU of the
// mLSTM and sLSTM layers), the kernel applies that op to each output before
// storing it, in float32: one pass over the conv's output fewer. On the
// H200 (bf16, B8 S2048, 2048 channels, SiLU fused) 8-byte vectors and runs
// of 8 take 47 us (2.9 TB/s) where 16-byte ones took 96 us: half the
// registers (64), twice the threads.
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"

#include "xlstm/Conversion/LoweringReport.h"
#include "xlstm/Conversion/Passes.h"
#include "xlstm/Dialect/XLSTM/IR/XLSTM.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
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
  /// The epilogue in float32 (rounded once at the store), with approximate
  /// exp and division.
  bool epilogueF32 = false, epilogueApprox = false;
  /// With epilogueApprox: their flush-to-zero instructions.
  bool epilogueFlushDenormals = false;
};

class CausalConvKernel : KernelBuilder {
public:
  static constexpr int64_t threadsPerBlock = 256;

  /// `vec` channels per thread (one vector load of each row), `positions`
  /// consecutive positions.
  /// With `wholeRuns` (runs of more than one position), a run that ends
  /// inside the sequence (all but a row's last, checked per thread) takes a
  /// branch without the clamped loads and guarded stores that the last run
  /// needs.
  CausalConvKernel(OpBuilder &b, Location loc, int64_t vec, int64_t positions,
                   bool wholeRuns = false)
      : KernelBuilder(b, loc, b.getF32Type()), vec(vec), positions(positions),
        wholeRuns(wholeRuns) {}

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
      // The V channels' taps lie together in w (C x K): one vector load of
      // V x K values (a load instruction per 16 bytes instead of one per
      // tap), and one of the V biases.
      SmallVector<SmallVector<Value>> w(vec);
      Value flatW = memref::CollapseShapeOp::create(
          b, loc, io.w, ArrayRef<ReassociationIndices>{{0, 1}});
      SmallVector<Value> taps =
          loadContiguous(flatW, mul(c, idx(io.taps)), vec * io.taps);
      for (int64_t e = 0; e < vec; ++e)
        w[e].assign(taps.begin() + e * io.taps,
                    taps.begin() + (e + 1) * io.taps);
      SmallVector<Value> bias(vec, constant(0.0));
      if (io.bias)
        bias = loadContiguous(io.bias, c, vec);
      // The run's inputs, all loaded before the first store: the stores
      // might alias them as far as the compiler knows, so loads emitted
      // between stores would wait for each position's math in turn.
      // Past the end (the last run's tail, `whole` false): read a valid
      // row, store nothing. In a whole run the positions' addresses are
      // the first one's plus constants.
      // (Kept in the input's type until used: fewer registers.)
      auto emitRun = [&](SmallVector<SmallVector<Value>> window, bool whole) {
        Value last = whole ? Value() : sub(seq, idx(1));
        SmallVector<Value> runInputs;
        for (int64_t t = 0; t < positions; ++t) {
          Value u = add(u0, idx(t));
          runInputs.push_back(loadRaw(
              io.x,
              {row, whole ? u : arith::MinUIOp::create(b, loc, u, last), c}));
        }
        for (int64_t t = 0; t < positions; ++t) {
          Value u = add(u0, idx(t));
          window.push_back(toCompute(runInputs[t]));
          // y[u] = bias + sum_k w[:, k] * padded[u + k].
          SmallVector<Value> acc(bias);
          for (int64_t k = 0; k < io.taps; ++k)
            for (int64_t e = 0; e < vec; ++e)
              acc[e] =
                  math::FmaOp::create(b, loc, w[e][k], window[k][e], acc[e]);
          auto storeOutput = [&] {
            storeRow(io.epilogue ? applyEpilogue(io, acc) : acc, io.y,
                     {row, u, c});
          };
          if (whole)
            storeOutput();
          else
            ifThen(ult(u, seq), storeOutput);
          window.erase(window.begin());
        }
      };
      if (wholeRuns) {
        Value ends = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule,
                                           add(u0, idx(positions)), seq);
        auto split = scf::IfOp::create(b, loc, TypeRange{}, ends,
                                       /*withElseRegion=*/true);
        OpBuilder::InsertionGuard inner(b);
        b.setInsertionPointToStart(split.thenBlock());
        emitRun(window, /*whole=*/true);
        b.setInsertionPointToStart(split.elseBlock());
        emitRun(window, /*whole=*/false);
      } else {
        emitRun(window, /*whole=*/false);
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
      Value input = castFloat(v, io.outputType);
      if (io.epilogueF32) {
        out.push_back(applyInFloat32(body, castFloat(input, compute),
                                     io.epilogueApprox,
                                     io.epilogueFlushDenormals));
        continue;
      }
      IRMapping map;
      map.map(body.getArgument(0), input);
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

  /// `body` (a float32-promotable one, see promotableToFloat32) on the
  /// float32 `input`: every float value float32, extf/truncf dropped, so
  /// that only the store rounds. `approx`: exp, exp2 and division with the
  /// approximate-functions flag (the GPU's approximate instructions), or
  /// with `flushDenormals` their flush-to-zero forms.
  Value applyInFloat32(Block &body, Value input, bool approx,
                       bool flushDenormals) {
    Type f32 = b.getF32Type();
    IRMapping map;
    map.map(body.getArgument(0), input);
    auto lookup = [&](Value v) -> Value {
      if (Value mapped = map.lookupOrNull(v))
        return mapped;
      // A constant, from inside the body or outside it.
      Attribute value;
      matchPattern(v, m_Constant(&value));
      Value c;
      if (auto f = dyn_cast<FloatAttr>(value))
        c = arith::ConstantOp::create(
            b, loc, b.getFloatAttr(f32, f.getValueAsDouble()));
      else
        c = b.clone(*v.getDefiningOp())->getResult(0);
      map.map(v, c);
      return c;
    };
    for (Operation &op : body.without_terminator()) {
      if (matchPattern(&op, m_Constant()))
        continue; // made where used
      if (isa<arith::ExtFOp, arith::TruncFOp>(op)) {
        map.map(op.getResult(0), lookup(op.getOperand(0)));
        continue;
      }
      SmallVector<Value> operands;
      for (Value operand : op.getOperands())
        operands.push_back(lookup(operand));
      if (approx && flushDenormals)
        if (Value value = approximateFlushingDenormals(op, operands)) {
          map.map(op.getResult(0), value);
          continue;
        }
      Operation *clone = b.clone(op);
      clone->setOperands(operands);
      for (OpResult result : clone->getResults())
        if (isa<FloatType>(result.getType()))
          result.setType(f32);
      if (approx && isa<math::ExpOp, math::Exp2Op, arith::DivFOp>(clone))
        if (auto fastMath = dyn_cast<arith::ArithFastMathInterface>(clone))
          clone->setAttr(fastMath.getFastMathAttrName(),
                         arith::FastMathFlagsAttr::get(
                             b.getContext(), fastMath.getFastMathFlagsAttr()
                                                     .getValue() |
                                                 arith::FastMathFlags::afn));
      map.map(op.getResults(), clone->getResults());
    }
    return lookup(body.getTerminator()->getOperand(0));
  }

  /// exp, exp2 and division of float32 `operands` on the GPU's
  /// approximate instructions in their flush-to-zero forms (ex2.approx.ftz,
  /// rcp.approx.ftz; without .ftz, ptxas wraps each in compares and
  /// selects that keep subnormal inputs and results: a third of the SiLU's
  /// instructions), or null for any other op.
  Value approximateFlushingDenormals(Operation &op, ValueRange operands) {
    Type f32 = b.getF32Type();
    auto intrinsic = [&](StringRef name, Value x) {
      return LLVM::CallIntrinsicOp::create(b, loc, f32, b.getStringAttr(name),
                                           ValueRange{x})
          .getResult(0);
    };
    if (isa<math::ExpOp>(op))
      return intrinsic(
          "llvm.nvvm.ex2.approx.ftz.f32",
          arith::MulFOp::create(b, loc, operands[0], constant(M_LOG2E)));
    if (isa<math::Exp2Op>(op))
      return intrinsic("llvm.nvvm.ex2.approx.ftz.f32", operands[0]);
    if (isa<arith::DivFOp>(op)) {
      Value reciprocal = intrinsic("llvm.nvvm.rcp.approx.ftz.f", operands[1]);
      if (matchPattern(operands[0], m_OneFloat()))
        return reciprocal;
      return arith::MulFOp::create(b, loc, operands[0], reciprocal);
    }
    return {};
  }

  /// A row's `vec` elements as loaded (a vector, or a scalar for vec 1).
  Value loadRaw(Value memref, ValueRange at) {
    Type elt = cast<MemRefType>(memref.getType()).getElementType();
    if (vec == 1)
      return memref::LoadOp::create(b, loc, memref, at);
    return vector::LoadOp::create(
        b, loc, VectorType::get({vec}, elt), memref, at, /*nontemporal=*/false,
        b.getI64IntegerAttr(vec * elt.getIntOrFloatBitWidth() / 8));
  }
  /// loadRaw's value in the compute type, element by element.
  SmallVector<Value> toCompute(Value raw) {
    if (vec == 1)
      return {castFloat(raw, compute)};
    SmallVector<Value> values;
    for (int64_t i = 0; i < vec; ++i)
      values.push_back(castFloat(
          vector::ExtractOp::create(b, loc, raw, ArrayRef<int64_t>{i}),
          compute));
    return values;
  }

  /// `n` consecutive elements of the 1-D `memref` from `offset`, a
  /// multiple of `n` (the whole buffer is 16-byte aligned), in the compute
  /// type: vector loads aligned to the largest power of two dividing their
  /// bytes, at most 16.
  SmallVector<Value> loadContiguous(Value memref, Value offset, int64_t n) {
    Type elt = cast<MemRefType>(memref.getType()).getElementType();
    int64_t bytes = n * elt.getIntOrFloatBitWidth() / 8;
    if (n == 1 || elt.getIntOrFloatBitWidth() % 8 != 0) {
      SmallVector<Value> values;
      for (int64_t i = 0; i < n; ++i)
        values.push_back(load(memref, {n == 1 ? offset : add(offset, idx(i))}));
      return values;
    }
    return loadVector(memref, offset, n, std::min<int64_t>(16, bytes & -bytes));
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
  bool wholeRuns;
};

struct XLSTMCausalConvToGPUPass
    : xlstm::impl::XLSTMCausalConvToGPUPassBase<XLSTMCausalConvToGPUPass> {
  using Base::Base;
  /// Threads below which runs of 8 positions leave the GPU idle (a quarter
  /// of what 132 SMs hold).
  static constexpr int64_t kMinRunThreads = 65536;

  void runOnOperation() override {
    if (!llvm::is_contained({4, 8, 16}, static_cast<int64_t>(vectorBytes))) {
      emitError(getOperation()->getLoc())
          << "xlstm-causal-conv-to-gpu: vector-bytes must be 4, 8 or 16, got "
          << static_cast<int64_t>(vectorBytes);
      return signalPassFailure();
    }
    if (runLength < 1 || runLength > 64) {
      emitError(getOperation()->getLoc())
          << "xlstm-causal-conv-to-gpu: run-length must be 1 to 64, got "
          << static_cast<int64_t>(runLength);
      return signalPassFailure();
    }
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
    // `vector-bytes` of channels per thread where the rows allow it.
    int64_t vec = std::max<int64_t>(
        1, vectorBytes * 8 / xType.getElementTypeBitWidth());
    io.vec = io.channels % vec == 0 ? vec : 1;

    Location loc = NameLoc::get(
        rewriter.getStringAttr(op->getName().getStringRef()), op.getLoc());
    rewriter.setInsertionPoint(op);
    auto idx = [&](int64_t v) {
      return arith::ConstantIndexOp::create(rewriter, loc, v);
    };
    // (The mLSTM's conv reads half of the up projection: in place.)
    bool inPlace = inPlaceSlices && isAlignedColumnSlice(op.getInput(), io.vec);
    io.x = inPlace ? toReadOnlyView(rewriter, loc, op.getInput())
                   : toReadOnlyBuffer(rewriter, loc, op.getInput());
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
    if (io.epilogue && epilogueF32 &&
        promotableToFloat32(io.epilogue.getRegion().front())) {
      io.epilogueF32 = true;
      io.epilogueApprox =
          epilogueApprox &&
          cast<RankedTensorType>(yType).getElementTypeBitWidth() < 32;
      io.epilogueFlushDenormals = io.epilogueApprox && epilogueFlushDenormals;
    }
    std::string epilogue;
    if (io.epilogue)
      epilogue =
          std::string(", the elementwise op after it fused") +
          (io.epilogueFlushDenormals
               ? " (float32, approximate exp and division, flush to zero)"
           : io.epilogueApprox ? " (float32, approximate exp and division)"
           : io.epilogueF32    ? " (float32)"
                               : "");
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
      bool unguardedRuns = wholeRuns && positions > 1;
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
               (unguardedRuns ? ", whole runs unguarded" : "") +
               (inPlace ? ", input read in place" : "") + epilogue,
           when},
          op.getInput());
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPointToStart(&launch.getBody().front());
      CausalConvKernel(rewriter, loc, io.vec, positions, unguardedRuns)
          .build(io, batch, seq, runs, runsPerRow, launch);
    };
    if (xType.getDimSize(1) == 1) {
      // A decode step: one position.
      emitLaunch(1, "");
    } else {
      // Runs of positions per thread read each input once; where they
      // leave fewer than kMinRunThreads threads (short or few sequences)
      // the GPU would idle: one position per thread there (run time).
      Value runs, runsPerRow;
      Value many = arith::CmpIOp::create(
          rewriter, loc, arith::CmpIPredicate::uge,
          threadsFor(runLength, runs, runsPerRow), idx(kMinRunThreads));
      auto choice =
          scf::IfOp::create(rewriter, loc, many, /*withElseRegion=*/true);
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPointToStart(choice.thenBlock());
      emitLaunch(runLength, ">= " + std::to_string(kMinRunThreads) +
                                " threads");
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

  /// Whether applyInFloat32 can run `body`: arith and math ops on floats
  /// (and cmpf's i1), no bit casts or scaled conversions (their types are
  /// their meaning), float constants with plain float values.
  static bool promotableToFloat32(Block &body) {
    auto scalar = [](Type t) { return isa<FloatType>(t) || t.isInteger(1); };
    auto plainFloat = [](Operation *op) {
      Attribute value;
      return matchPattern(op->getResult(0), m_Constant(&value)) &&
             isa<FloatAttr>(value);
    };
    for (Operation &op : body.without_terminator()) {
      if (matchPattern(&op, m_Constant())) {
        if (isa<FloatType>(op.getResult(0).getType()) && !plainFloat(&op))
          return false;
        continue;
      }
      if (!isa<arith::ArithDialect, math::MathDialect>(op.getDialect()) ||
          isa<arith::BitcastOp, arith::ScalingExtFOp, arith::ScalingTruncFOp>(
              op) ||
          !llvm::all_of(op.getOperandTypes(), scalar) ||
          !llvm::all_of(op.getResultTypes(), scalar))
        return false;
      for (Value operand : op.getOperands())
        if (Operation *def = operand.getDefiningOp();
            def && matchPattern(def, m_Constant()) &&
            (!isa<FloatType>(operand.getType()) || !plainFloat(def)))
          return false;
    }
    return true;
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
