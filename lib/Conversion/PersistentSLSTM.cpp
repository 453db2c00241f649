//===- PersistentSLSTM.cpp - The sLSTM recurrence as one kernel -----------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// The sLSTM is strictly sequential: step t needs all of h_{t-1} of its head.
// Lowered generically it is a host loop of launches per step. Here the
// whole recurrence is one launch with one block per (head, batch row) that
// loops over time itself:
//
//   thread (g, j) (4 * DH threads) owns gate g of hidden unit j: its column
//   R[hd, :, g, j] of the recurrent kernel lives in registers (or is read
//   from global memory, L1-cached, for heads too wide for that);
//   per step it forms raw = x_g[t, j] + b[g, j] + sum_i h[i] R[i, g, j] from
//   h in shared memory, hands it over in shared memory, and threads j < DH
//   update the cell state (kept in registers) and publish the new h.
//
// The op's tensors cross into buffers with bufferization.to_buffer /
// to_tensor, so the pass runs on tensor IR before bufferization.
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"

#include "xlstm/Conversion/LoweringReport.h"
#include "xlstm/Conversion/Passes.h"
#include "xlstm/Dialect/XLSTM/IR/XLSTM.h"
#include "xlstm/Dialect/XLSTM/Transforms/CellMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"

namespace xlstm {
#define GEN_PASS_DEF_XLSTMPERSISTENTSLSTMPASS
#include "xlstm/Conversion/Passes.h.inc"
} // namespace xlstm

using namespace mlir;
using namespace xlstm;

namespace {

/// What the kernel reads and writes, as buffers. Gates are (B, S, H) for
/// the sequence op, (B, H) for the single step.
struct SLSTMBuffers {
  SmallVector<Value, 4> gates;
  Value recurrentKernel, bias;
  SmallVector<Value, 4> initialState; ///< empty: zeros
  Value y;                            ///< (B, S, H), null for the step
  SmallVector<Value, 4> finalState;   ///< empty: not returned
  SmallVector<Type, 4> stateTypes;    ///< storage type of each state
};

class SLSTMKernel : KernelBuilder {
public:
  /// `units` hidden units (consecutive, one gate) per thread; 1 where the
  /// recurrent weights are held in registers.
  SLSTMKernel(OpBuilder &b, Location loc, Type compute, int64_t dh,
              SLSTMFunction function, bool inRegisters, int64_t units,
              int64_t dotUnroll, bool prefetchGates)
      : KernelBuilder(b, loc, compute), dh(dh), function(function),
        inRegisters(inRegisters), units(units), dotUnroll(dotUnroll),
        prefetchGates(prefetchGates) {}

  /// Threads per block: one per `units` (gate, unit) pre-activations.
  static int64_t threadsFor(int64_t dh, int64_t units) {
    return 4 * dh / units;
  }

  /// Units per thread for a head of `dh` where R is read from memory: the
  /// fewest of 1, 2, 4, at least `wanted`, that divide `dh` and fit the
  /// head into 1024 threads, else the most below `wanted` that do; 0 where
  /// none does (a thread per unit updates the cells: at least `dh`
  /// threads).
  static int64_t unitsFor(int64_t dh, int64_t wanted) {
    auto fits = [&](int64_t u) { return dh % u == 0 && 4 * dh / u <= 1024; };
    for (int64_t u = wanted; u <= 4; u *= 2)
      if (fits(u))
        return u;
    for (int64_t u = wanted / 2; u >= 1; u /= 2)
      if (fits(u))
        return u;
    return 0;
  }

  void build(const SLSTMBuffers &io, Value seqLen, gpu::LaunchOp launch) {
    Value hd = launch.getBlockIds().x, row = launch.getBlockIds().y;
    Value tid = launch.getThreadIds().x;
    Value hShared = launch.getWorkgroupAttributions()[0];
    Value rawShared = launch.getWorkgroupAttributions()[1];
    // This thread's pre-activations: slots first .. first + units - 1,
    // gate g of units j .. j + units - 1 (dh % units == 0: one gate).
    Value first = units == 1 ? tid : mul(tid, idx(units));
    Value g = divui(first, idx(dh)), j = remui(first, idx(dh));
    Value channel = add(mul(hd, idx(dh)), j);
    // Threads 0 .. dh - 1 update the cell of unit tid.
    Value isCell = ult(tid, idx(dh));
    Value cellChannel = add(mul(hd, idx(dh)), tid);
    bool sequence = static_cast<bool>(io.y);
    int64_t numStates = io.stateTypes.size();

    SmallVector<Value> bias = loadVector(io.bias, {hd, g, j}, units);
    SmallVector<Value> weights; // R[hd, :, g, j] when held in registers
    if (inRegisters)
      for (int64_t i = 0; i < dh; ++i)
        weights.push_back(load(io.recurrentKernel, {hd, idx(i), g, j}));

    SmallVector<Value> state;
    for (int64_t s = 0; s < numStates; ++s)
      state.push_back(io.initialState.empty()
                          ? constant(0.0)
                          : load(io.initialState[s], {row, cellChannel}));
    ifThen(isCell, [&] { store(state[0], hShared, {tid}); });
    gpu::BarrierOp::create(b, loc);

    // h_{t-1}[i .. i + n) from shared memory. (Scalar loads: NVPTX's
    // load-store vectorizer makes them 16-byte loads where i is a multiple
    // of 4; vector ops on shared memory would reach convert-vector-to-llvm
    // before the GPU address spaces are mapped.)
    auto loadH = [&](Value i, int64_t n) {
      SmallVector<Value> hs;
      for (int64_t q = 0; q < n; ++q)
        hs.push_back(load(hShared, {q ? add(i, idx(q)) : i}));
      return hs;
    };

    auto loop = scf::ForOp::create(
        b, loc, idx(0), seqLen, idx(1), state,
        [&](OpBuilder &, Location, Value t, ValueRange iter) {
          // The step's gate inputs first: their loads are in flight
          // during the dot product.
          SmallVector<Value, 3> at = {row};
          if (sequence)
            at.push_back(t);
          at.push_back(channel);
          SmallVector<Value> x;
          if (prefetchGates)
            x = loadGates(io.gates, g, at);
          // raw = x_g + (b_g + sum_i h_i R_i), the order of the linalg
          // lowering, for each unit.
          SmallVector<Value> acc(bias);
          if (!weights.empty()) {
            SmallVector<Value> hs = loadH(idx(0), dh);
            for (int64_t i = 0; i < dh; ++i)
              acc[0] = addf(acc[0], mulf(hs[i], weights[i]));
          } else {
            // `unroll` rows of R per iteration: their loads are in flight
            // together (each sum keeps its order).
            int64_t unroll = dh % dotUnroll == 0 ? dotUnroll
                             : dh % 4 == 0       ? 4
                                                 : 1;
            acc = forRange(
                idx(0), idx(dh), idx(unroll), acc,
                [&](Value i0, ValueRange a) -> SmallVector<Value> {
                  SmallVector<SmallVector<Value>> rs;
                  for (int64_t u = 0; u < unroll; ++u)
                    rs.push_back(loadVector(
                        io.recurrentKernel,
                        {hd, u ? add(i0, idx(u)) : i0, g, j}, units));
                  SmallVector<Value> hs = loadH(i0, unroll);
                  SmallVector<Value> sums(a);
                  for (int64_t u = 0; u < unroll; ++u)
                    for (int64_t k = 0; k < units; ++k)
                      sums[k] = addf(sums[k], mulf(hs[u], rs[u][k]));
                  return sums;
                });
          }
          if (!prefetchGates)
            x = loadGates(io.gates, g, at);
          SmallVector<Value> raw;
          for (int64_t k = 0; k < units; ++k)
            raw.push_back(addf(x[k], acc[k]));
          for (int64_t k = 0; k < units; ++k)
            store(raw[k], rawShared, {k ? add(first, idx(k)) : first});
          gpu::BarrierOp::create(b, loc);

          auto update = scf::IfOp::create(b, loc, iter.getTypes(), isCell,
                                          /*withElseRegion=*/true);
          {
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPointToStart(update.thenBlock());
            SmallVector<Value> raws;
            for (int64_t gate = 0; gate < 4; ++gate)
              raws.push_back(load(rawShared, {add(idx(gate * dh), tid)}));
            SmallVector<Value> next = cellmath::slstmCell(
                b, loc, function, raws, SmallVector<Value>(iter));
            // States round to their storage type every step, as stored.
            for (auto [v, type] : llvm::zip(next, io.stateTypes))
              v = castFloat(castFloat(v, type), compute);
            store(next[0], hShared, {tid});
            if (sequence)
              store(next[0], io.y, {row, t, cellChannel});
            scf::YieldOp::create(b, loc, next);
            b.setInsertionPointToStart(update.elseBlock());
            scf::YieldOp::create(b, loc, iter);
          }
          gpu::BarrierOp::create(b, loc);
          scf::YieldOp::create(b, loc, update.getResults());
        });
    if (!io.finalState.empty())
      ifThen(isCell, [&] {
        for (int64_t s = 0; s < numStates; ++s)
          store(loop.getResult(s), io.finalState[s], {row, cellChannel});
      });
    gpu::TerminatorOp::create(b, loc);
  }

private:
  /// This thread's `units` values of gate `g` (uniform across a warp when
  /// DH / units >= 32) from the four buffers, in one vector load.
  SmallVector<Value> loadGates(ArrayRef<Value> gates, Value g, ValueRange at) {
    SmallVector<Type> types(units, compute);
    auto pick = scf::IndexSwitchOp::create(b, loc, types, g,
                                           ArrayRef<int64_t>{0, 1, 2}, 3);
    OpBuilder::InsertionGuard guard(b);
    for (int64_t c = 0; c < 4; ++c) {
      Region &region =
          c < 3 ? pick.getCaseRegions()[c] : pick.getDefaultRegion();
      b.setInsertionPointToStart(&region.emplaceBlock());
      scf::YieldOp::create(b, loc,
                           units == 1
                               ? SmallVector<Value>{load(gates[c], at)}
                               : loadVector(gates[c], at, units));
    }
    return SmallVector<Value>(pick.getResults());
  }
  int64_t dh;
  SLSTMFunction function;
  bool inRegisters;
  int64_t units, dotUnroll;
  bool prefetchGates;
};

struct XLSTMPersistentSLSTMPass
    : xlstm::impl::XLSTMPersistentSLSTMPassBase<XLSTMPersistentSLSTMPass> {
  using Base::Base;

  void runOnOperation() override {
    if (unitsPerThread != 1 && unitsPerThread != 2 && unitsPerThread != 4) {
      getOperation()->emitError("xlstm-persistent-slstm: units-per-thread "
                                "must be 1, 2 or 4, got ")
          << static_cast<int64_t>(unitsPerThread);
      return signalPassFailure();
    }
    if (dotUnroll < 1 || dotUnroll > 32) {
      getOperation()->emitError("xlstm-persistent-slstm: dot-unroll must be "
                                "in [1, 32], got ")
          << static_cast<int64_t>(dotUnroll);
      return signalPassFailure();
    }
    SmallVector<Operation *> ops;
    getOperation()->walk([&](Operation *op) {
      if (isa<SLSTMOp, SLSTMStepOp>(op))
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (Operation *op : ops)
      if (auto seq = dyn_cast<SLSTMOp>(op))
        rewrite(rewriter, op, seq.getIgate(), seq.getFgate(), seq.getZgate(),
                seq.getOgate(), seq.getRecurrentKernel(), seq.getBias(),
                seq.getInitialState(), seq.getNumHeads(), seq.getFunction(),
                seq.getNumStates());
      else if (auto step = dyn_cast<SLSTMStepOp>(op))
        rewrite(rewriter, op, step.getIgate(), step.getFgate(), step.getZgate(),
                step.getOgate(), step.getRecurrentKernel(), step.getBias(),
                step.getState(), step.getNumHeads(), step.getFunction(),
                step.getNumStates());
  }

  void rewrite(IRRewriter &rewriter, Operation *op, Value i, Value f, Value z,
               Value o, Value recurrentKernel, Value bias,
               ValueRange initialState, int64_t numHeads,
               SLSTMFunction function, int64_t numStates) {
    // The kernel is named after the op (profiles, kernel tables).
    Location loc = NameLoc::get(
        rewriter.getStringAttr(op->getName().getStringRef()), op->getLoc());
    auto gateType = cast<RankedTensorType>(i.getType());
    int64_t width = gateType.getShape().back();
    if (ShapedType::isDynamic(width) || width % numHeads != 0)
      return;
    int64_t dh = width / numHeads;
    // A block per (head, batch row): a thread per gate pre-activation with
    // R in registers, else per `units` of them (see unitsFor).
    bool inRegisters = dh <= registerHeadDim && 4 * dh <= 1024;
    int64_t units = inRegisters ? 1 : SLSTMKernel::unitsFor(dh, unitsPerThread);
    if (units == 0)
      return;
    // Results are sized from the gates: their width must be known.
    if (llvm::any_of(op->getResultTypes(), [](Type t) {
          return ShapedType::isDynamic(cast<ShapedType>(t).getShape().back());
        }))
      return;
    bool sequence = isa<SLSTMOp>(op);
    Type storage = gateType.getElementType();
    Type compute = storage.isF64() ? Type(rewriter.getF64Type())
                                   : Type(rewriter.getF32Type());

    rewriter.setInsertionPoint(op);
    auto toBuffer = [&](Value v) { return toReadOnlyBuffer(rewriter, loc, v); };
    SLSTMBuffers io;
    for (Value gate : {i, f, z, o})
      io.gates.push_back(toBuffer(gate));
    io.recurrentKernel = toBuffer(recurrentKernel);
    io.bias = toBuffer(bias);
    for (Value s : initialState)
      io.initialState.push_back(toBuffer(s));

    // Results: y then the final states (sequence), or the new states (step).
    Value c0 = arith::ConstantIndexOp::create(rewriter, loc, 0);
    Value c1 = arith::ConstantIndexOp::create(rewriter, loc, 1);
    Value batch = memref::DimOp::create(rewriter, loc, io.gates[0], c0);
    Value seqLen =
        sequence ? memref::DimOp::create(rewriter, loc, io.gates[0], c1) : c1;
    // (B, H) states, (B, S, H) outputs.
    auto alloc = [&](Type type) {
      SmallVector<Value> sizes = {batch, Value()};
      if (cast<RankedTensorType>(type).getRank() == 3)
        sizes.insert(sizes.begin() + 1, seqLen);
      return allocateLike(rewriter, loc, type, sizes);
    };
    SmallVector<Value> allocs;
    for (Type t : op->getResultTypes())
      allocs.push_back(alloc(t));
    ArrayRef<Value> stateAllocs(allocs);
    if (sequence) {
      io.y = allocs[0];
      stateAllocs = stateAllocs.drop_front();
    }
    io.finalState.assign(stateAllocs.begin(), stateAllocs.end());
    // Storage type of each state: what is returned, else what is given,
    // else the compute type.
    for (int64_t s = 0; s < numStates; ++s) {
      Type t = compute;
      if (!stateAllocs.empty())
        t = cast<MemRefType>(stateAllocs[s].getType()).getElementType();
      else if (!initialState.empty())
        t = cast<RankedTensorType>(initialState[s].getType()).getElementType();
      io.stateTypes.push_back(t);
    }

    auto idx = [&](int64_t v) {
      return arith::ConstantIndexOp::create(rewriter, loc, v);
    };
    auto sharedType = [&](int64_t n) {
      return sharedMemoryType(rewriter.getContext(), {n}, compute);
    };
    auto launch = gpu::LaunchOp::create(
        rewriter, loc, idx(numHeads), batch, c1,
        idx(SLSTMKernel::threadsFor(dh, units)), c1, c1,
        /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
        /*asyncDependencies=*/{},
        /*workgroupAttributions=*/
        TypeRange{sharedType(dh), sharedType(4 * dh)});
    xlstm::recordKernelChoice(
        launch,
        {"recurrence", xlstm::formatShape(gateType.getShape()),
         std::string(sequence ? "persistent sLSTM" : "sLSTM step") +
             ", head dim " + std::to_string(dh) + ", recurrent weights in " +
             (inRegisters ? std::string("registers")
                          : "global memory, " + std::to_string(units) +
                                " units a thread"),
         ""},
        recurrentKernel);
    {
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPointToStart(&launch.getBody().front());
      SLSTMKernel(rewriter, loc, compute, dh, function, inRegisters, units,
                  dotUnroll, prefetchGates)
          .build(io, seqLen, launch);
    }
    SmallVector<Value> results;
    for (auto [value, type] : llvm::zip(allocs, op->getResultTypes()))
      results.push_back(toTensor(rewriter, loc, type, value));
    rewriter.replaceOp(op, results);
  }
};

} // namespace
