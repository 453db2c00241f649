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
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"

#include <numeric>

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
              int64_t dotUnroll, bool prefetchGates, int64_t sharedRows,
              int64_t registerRows, bool packedRegisterRows)
      : KernelBuilder(b, loc, compute), dh(dh), function(function),
        inRegisters(inRegisters), units(units), dotUnroll(dotUnroll),
        prefetchGates(prefetchGates), sharedRows(sharedRows),
        registerRows(registerRows), packedRegisterRows(packedRegisterRows) {}

  /// Rows of R loaded together per iteration of the dot product.
  static int64_t unrollFor(int64_t dh, int64_t dotUnroll) {
    return dh % dotUnroll == 0 ? dotUnroll : dh % 4 == 0 ? 4 : 1;
  }

  /// Rows of R per 32-bit word of its shared-memory copy: two 16-bit
  /// weights (rows i, i + 1 of one column), or one wider.
  static int64_t rowsPerWord(Type element) {
    return element.getIntOrFloatBitWidth() == 16 ? 2 : 1;
  }
  /// The rows of R (the last ones of the sum) that `bytes` of shared memory
  /// hold for a head of `dh` with `element` weights: a multiple of
  /// `granule` (whole iterations of the dot product, whole words).
  static int64_t sharedRowsFor(int64_t dh, Type element, int64_t bytes,
                               int64_t granule) {
    int64_t bytesPerRow = 4 * dh * 4 / rowsPerWord(element);
    int64_t rows = std::min(dh, bytes / bytesPerRow);
    return rows - rows % granule;
  }
  static int64_t sharedBytesFor(int64_t dh, Type element, int64_t rows) {
    return rows / rowsPerWord(element) * 4 * dh * 4;
  }

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
    Type rElement =
        cast<MemRefType>(io.recurrentKernel.getType()).getElementType();
    // R[hd, :, g, j] when held in registers; where R is read from memory,
    // its first `registerRows` rows (with packedRegisterRows, two 16-bit
    // rows a 32-bit register, as the shared-memory copy holds them).
    SmallVector<Value> weights;
    if (packedRegisterRows) {
      for (int64_t i = 0; i < registerRows; i += 2)
        weights.push_back(packPair(
            memref::LoadOp::create(b, loc, io.recurrentKernel,
                                   ValueRange{hd, idx(i), g, j}),
            memref::LoadOp::create(b, loc, io.recurrentKernel,
                                   ValueRange{hd, idx(i + 1), g, j})));
    } else {
      for (int64_t i = 0, e = inRegisters ? dh : registerRows; i < e; ++i)
        weights.push_back(load(io.recurrentKernel, {hd, idx(i), g, j}));
    }

    SmallVector<Value> state;
    for (int64_t s = 0; s < numStates; ++s)
      state.push_back(io.initialState.empty()
                          ? constant(0.0)
                          : load(io.initialState[s], {row, cellChannel}));
    ifThen(isCell, [&] { store(state[0], hShared, {tid}); });
    // The last `sharedRows` rows of the head's R, copied once into shared
    // memory as 32-bit words (two 16-bit rows of one column a word), so
    // that each step reads them from there instead of from L2.
    int64_t pack = rowsPerWord(rElement);
    int64_t firstShared = dh - sharedRows;
    Value rShared;
    if (sharedRows > 0) {
      int64_t words = sharedRows / pack, columns = 4 * dh;
      Type wordType = pack == 2 ? Type(b.getI32Type()) : rElement;
      rShared = sharedView(dynamicSharedMemory(), {words, columns}, wordType,
                           /*offset=*/0);
      int64_t threads = threadsFor(dh, units);
      forRange(tid, idx(words * columns), idx(threads), {},
               [&](Value w, ValueRange) -> SmallVector<Value> {
                 Value word = divui(w, idx(columns));
                 Value slot = remui(w, idx(columns));
                 Value row = add(idx(firstShared), mul(word, idx(pack)));
                 Value gate = divui(slot, idx(dh)), unit = remui(slot, idx(dh));
                 SmallVector<Value> halves;
                 for (int64_t r = 0; r < pack; ++r)
                   halves.push_back(memref::LoadOp::create(
                       b, loc, io.recurrentKernel,
                       ValueRange{hd, r ? add(row, idx(r)) : row, gate, unit}));
                 Value v = pack == 2 ? packPair(halves[0], halves[1])
                                     : halves[0];
                 memref::StoreOp::create(b, loc, v, rShared,
                                         ValueRange{word, slot});
                 return {};
               });
    }
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
          if (packedRegisterRows) {
            // h eight rows at a time, next to their products (all of h
            // loaded first would hold as many registers as the rows).
            for (int64_t i = 0; i < registerRows; i += 8) {
              int64_t n = std::min<int64_t>(8, registerRows - i);
              SmallVector<Value> hs = loadH(idx(i), n);
              for (int64_t k = 0; k < n; k += 2) {
                auto [r0, r1] = unpackPairInLoop(weights[(i + k) / 2], rElement);
                acc[0] = addf(acc[0], mulf(hs[k], r0));
                acc[0] = addf(acc[0], mulf(hs[k + 1], r1));
              }
            }
          } else if (!weights.empty()) {
            SmallVector<Value> hs = loadH(idx(0), weights.size());
            for (auto [h, w] : llvm::zip(hs, weights))
              acc[0] = addf(acc[0], mulf(h, w));
          }
          if (!inRegisters) {
            // `unroll` rows of R per iteration: their loads are in flight
            // together (each sum keeps its order).
            int64_t unroll = unrollFor(dh, dotUnroll);
            acc = forRange(
                idx(registerRows), idx(firstShared), idx(unroll), acc,
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
            if (sharedRows > 0)
              acc = sharedDot(rShared, rElement, firstShared, unroll, acc,
                              first, loadH);
          }
          if (!prefetchGates)
            x = loadGates(io.gates, g, at);
          for (int64_t k = 0; k < units; ++k)
            store(addf(x[k], acc[k]), rawShared,
                  {k ? add(first, idx(k)) : first});
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
  /// Two 16-bit weights (rows i and i + 1 of one column) as one 32-bit word,
  /// the first in its low half.
  Value packPair(Value lo, Value hi) {
    return vector::ExtractOp::create(
        b, loc,
        vector::BitCastOp::create(
            b, loc, VectorType::get({1}, b.getI32Type()),
            vector::FromElementsOp::create(
                b, loc, VectorType::get({2}, lo.getType()),
                ValueRange{lo, hi})),
        ArrayRef<int64_t>{0});
  }
  /// packPair's two weights of `element`, in the compute type.
  std::pair<Value, Value> unpackPair(Value word, Type element) {
    Value halves = vector::BitCastOp::create(
        b, loc, VectorType::get({2}, element),
        vector::BroadcastOp::create(
            b, loc, VectorType::get({1}, b.getI32Type()), word));
    auto half = [&](int64_t r) {
      return castFloat(
          vector::ExtractOp::create(b, loc, halves, ArrayRef<int64_t>{r}),
          compute);
    };
    return {half(0), half(1)};
  }

  /// unpackPair for a word that stays the same across the time loop (a
  /// register row pair), in two asm statements that LLVM keeps in the loop:
  /// hoisted, its 2 x register-rows results would need twice the registers
  /// the packing saves. bf16 only (its float32 value is its bits shifted
  /// into the high half); other 16-bit types unpack as loop-invariant code.
  std::pair<Value, Value> unpackPairInLoop(Value word, Type element) {
    if (!element.isBF16())
      return unpackPair(word, element);
    Type i32 = b.getI32Type();
    auto asmOp = [&](StringRef text) {
      Value bits = LLVM::InlineAsmOp::create(
                       b, loc, i32, ValueRange{word}, text, "=r,r",
                       /*has_side_effects=*/true, /*is_align_stack=*/false,
                       LLVM::tailcallkind::TailCallKind::None,
                       /*asm_dialect=*/LLVM::AsmDialectAttr(),
                       /*operand_attrs=*/ArrayAttr())
                       .getResult(0);
      return castFloat(arith::BitcastOp::create(b, loc, b.getF32Type(), bits),
                       compute);
    };
    return {asmOp("shl.b32 $0, $1, 16;"),
            asmOp("and.b32 $0, $1, 0xffff0000;")};
  }

  /// acc += h[i] R[i] over the rows from `firstShared` on, read from their
  /// shared-memory copy `rShared` of `rElement` weights (rowsPerWord a word;
  /// `units` == 1), `unroll` rows an iteration, in row order.
  SmallVector<Value>
  sharedDot(Value rShared, Type rElement, int64_t firstShared, int64_t unroll,
            ValueRange acc, Value slot,
            function_ref<SmallVector<Value>(Value, int64_t)> loadH) {
    int64_t pack = rowsPerWord(rElement);
    int64_t wordsPerIteration = std::lcm(unroll, pack) / pack;
    unroll = wordsPerIteration * pack;
    return forRange(
        idx(0), idx((dh - firstShared) / pack), idx(wordsPerIteration), acc,
        [&](Value w0, ValueRange a) -> SmallVector<Value> {
          SmallVector<Value> rs;
          for (int64_t q = 0; q < wordsPerIteration; ++q) {
            Value word = memref::LoadOp::create(
                b, loc, rShared, ValueRange{q ? add(w0, idx(q)) : w0, slot});
            if (pack == 1) {
              rs.push_back(castFloat(word, compute));
              continue;
            }
            auto [r0, r1] = unpackPair(word, rElement);
            rs.append({r0, r1});
          }
          SmallVector<Value> hs =
              loadH(add(idx(firstShared), mul(w0, idx(pack))), unroll);
          Value sum = a[0];
          for (int64_t u = 0; u < unroll; ++u)
            sum = addf(sum, mulf(hs[u], rs[u]));
          return {sum};
        });
  }

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
  int64_t sharedRows, registerRows;
  bool packedRegisterRows;
};

/// Registers the memory-path kernel needs besides rows of R held in
/// registers (ptxas: 41 at 768 threads; with 40 rows held, 80 of the 85
/// a thread has, no spills).
constexpr int64_t kSLSTMKernelRegisters = 40;
/// The same with pack-register-rows (the unpacking's temporaries; ptxas:
/// 32 words of R at 768 threads fit without spills, 36 do not).
constexpr int64_t kSLSTMPackedKernelRegisters = 48;

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
    if (registerRowsOption < -1 || sharedWeightBytes < 0) {
      getOperation()->emitError("xlstm-persistent-slstm: register-rows must "
                                "be -1 (auto) or more, shared-weight-bytes "
                                "not negative");
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
    // The last rows of R in shared memory, as many as shared-weight-bytes
    // holds (within the block's limit), in whole iterations of the dot
    // product.
    Type rElement =
        cast<RankedTensorType>(recurrentKernel.getType()).getElementType();
    // (A single step reads R once whatever it does: staging it on chip
    // would only add the copy.)
    int64_t sharedRows = 0;
    if (sequence && !inRegisters && units == 1 && sharedWeightBytes > 0) {
      int64_t staticBytes = (dh + 4 * dh) * (compute.getIntOrFloatBitWidth() / 8);
      int64_t granule = std::lcm(SLSTMKernel::unrollFor(dh, dotUnroll),
                                 SLSTMKernel::rowsPerWord(rElement));
      sharedRows = SLSTMKernel::sharedRowsFor(
          dh, rElement,
          std::min<int64_t>(sharedWeightBytes,
                            kMaxSharedBytesPerBlock - staticBytes),
          granule);
    }
    // The first rows of R in registers, as many as register-rows asks
    // (auto: the registers a thread has at this block size, which ptxas
    // allocates in eights, beyond the ~40 the kernel needs) that the shared
    // copy leaves, in whole iterations of the dot product; with
    // pack-register-rows and 16-bit weights, two rows a register.
    int64_t registerRows = 0;
    bool packed = false;
    if (sequence && !inRegisters && units == 1) {
      packed = packRegisterRows && SLSTMKernel::rowsPerWord(rElement) == 2;
      int64_t unroll = SLSTMKernel::unrollFor(dh, dotUnroll);
      int64_t threads = SLSTMKernel::threadsFor(dh, units);
      int64_t wanted =
          registerRowsOption >= 0
              ? int64_t(registerRowsOption)
              : std::max<int64_t>(
                    0, std::min<int64_t>(255, 65536 / threads / 8 * 8) -
                           (packed ? kSLSTMPackedKernelRegisters
                                   : kSLSTMKernelRegisters)) *
                    (packed ? 2 : 1);
      registerRows = std::min<int64_t>(wanted, dh - sharedRows);
      registerRows -= registerRows % (packed ? std::lcm(unroll, int64_t(2))
                                              : unroll);
      packed = packed && registerRows > 0;
    }
    Value dynamicShared;
    if (sharedRows > 0) {
      dynamicShared = arith::ConstantIntOp::create(
          rewriter, loc, rewriter.getI32Type(),
          SLSTMKernel::sharedBytesFor(dh, rElement, sharedRows));
    }
    auto launch = gpu::LaunchOp::create(
        rewriter, loc, idx(numHeads), batch, c1,
        idx(SLSTMKernel::threadsFor(dh, units)), c1, c1, dynamicShared, /*asyncTokenType=*/nullptr,
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
                                (units == 1 ? " unit" : " units") +
                                " a thread" +
                                (registerRows > 0
                                     ? ", the first " +
                                           std::to_string(registerRows) +
                                           " rows in registers" +
                                           (packed ? " (two a register)" : "")
                                     : "") +
                                (sharedRows > 0
                                     ? ", the last " +
                                           std::to_string(sharedRows) +
                                           " rows in shared memory"
                                     : "")),
         ""},
        recurrentKernel);
    {
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPointToStart(&launch.getBody().front());
      SLSTMKernel(rewriter, loc, compute, dh, function, inRegisters, units,
                  dotUnroll, prefetchGates, sharedRows, registerRows, packed)
          .build(io, seqLen, launch);
    }
    SmallVector<Value> results;
    for (auto [value, type] : llvm::zip(allocs, op->getResultTypes()))
      results.push_back(toTensor(rewriter, loc, type, value));
    rewriter.replaceOp(op, results);
  }
};

} // namespace
