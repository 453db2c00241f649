//===- PersistentSLSTM.cpp - The sLSTM recurrence as one kernel -----------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// The sLSTM is strictly sequential: step t needs all of h_{t-1} of its head.
// Lowered generically it is a host loop of launches per step. Here the
// whole recurrence is one launch whose blocks loop over time themselves:
//
//   - on tensor cores (16-bit R, DH a multiple of 16): a block per (head, up
//     to 4 batch rows) forms each step's pre-activations of all its rows as
//     one mma.sync product of R's fragments (held on chip) and h;
//   - else a block per (head, batch row), thread (g, j) (4 * DH threads)
//     owning gate g of hidden unit j: its column R[hd, :, g, j] of the
//     recurrent kernel lives in registers (or is read from shared or global
//     memory for heads too wide for that); per step it forms
//     raw = x_g[t, j] + b[g, j] + sum_i h[i] R[i, g, j] from h in shared
//     memory.
//   In both, raw gates are handed over in shared memory and a thread per
//   (row, unit) updates the cell state (kept in registers) and publishes
//   the new h.
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
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
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

/// The registers a thread may use in a block of `threads`: the register
/// file is four quarters of 16K, one per warp scheduler, each serving
/// every fourth warp; ptxas allocates in eights, at most 255.
int64_t registersPerThread(int64_t threads) {
  int64_t warpsPerQuarter = llvm::divideCeil(llvm::divideCeil(threads, 32), 4);
  return std::min<int64_t>(255, 16384 / (warpsPerQuarter * 32) / 8 * 8);
}

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

/// The recurrence on 16-bit tensor cores: a block per (head, `rows` batch
/// rows) forms the step's pre-activations of all its rows as one product
/// (4 DH x DH) x (DH x 8) of mma.sync m16n8k16 tiles. A is the head's R
/// with rows m = g * DH + j (gate-major) and k the h index; its fragments
/// are loaded once, into registers and, where those run out, into shared
/// memory in fragment order (a lane's four words contiguous: one 16-byte
/// load a fragment, no bank conflicts). B's columns are h of the block's
/// rows rounded to R's type (hi, columns 0 .. rows - 1) and the residue
/// h - hi rounded again (lo, the next `rows` columns): the lane holding a
/// row's hi sums adds its partner's lo sums, so the products see h to 17
/// bits (bf16) or 22 (f16) where upstream's kernels round h to R's type.
/// (The scalar kernel's float32 FMAs see all of h and keep the generic
/// lowering's order of the sum; this one's order is the tensor cores'.) Per
/// step a warp issues about a tenth of the scalar kernel's instructions, and R
/// is read from on chip only.
class SLSTMTensorCoreKernel : KernelBuilder {
public:
  struct Shape {
    int64_t warps = 0;         ///< warps per block
    int64_t tilesM = 0;        ///< m16 tiles (of 4 DH) per warp
    int64_t registerTiles = 0; ///< A fragments per warp held in registers
    int64_t sharedTiles = 0;   ///< the rest, in shared memory
    int64_t rows = 0;          ///< batch rows per block (4 or 2)
    int64_t threads() const { return warps * 32; }
  };
  /// Registers the kernel needs besides A fragments in registers (4 each):
  /// accumulators, B fragments, the cell's state, gate inputs and biases.
  static constexpr int64_t kOtherRegisters = 56;

  /// The block shape for a head of `dh`: at most 16 warps sharing the 4 DH
  /// rows of R in whole m16 tiles, as many fragments in registers as a
  /// thread has left, the rest in shared memory, and 4 batch rows (h and
  /// its residue fill B's 8 columns) or, where the block has fewer threads
  /// than 4 rows have cells, 2. None where `dh` is not a multiple of 16,
  /// 2 rows have more cells than threads or the rest does not fit in
  /// `sharedLimit` bytes.
  static std::optional<Shape> shapeFor(int64_t dh, int64_t sharedLimit) {
    if (dh % 16 != 0)
      return std::nullopt;
    int64_t mTiles = 4 * dh / 16, kTiles = dh / 16;
    Shape s;
    s.tilesM = (mTiles + 15) / 16;
    while (mTiles % s.tilesM != 0)
      ++s.tilesM;
    s.warps = mTiles / s.tilesM;
    s.rows = 4 * dh <= s.threads() ? 4 : 2;
    int64_t perWarp = s.tilesM * kTiles;
    int64_t registers = registersPerThread(s.threads());
    s.registerTiles =
        std::clamp<int64_t>((registers - kOtherRegisters) / 4, 0, perWarp);
    s.sharedTiles = perWarp - s.registerTiles;
    if (s.rows * dh > s.threads() || sharedBytes(s, dh) > sharedLimit)
      return std::nullopt;
    return s;
  }
  /// A fragments, then B (8 rows of DH + 8 16-bit values: the padding puts
  /// a fragment load's 8 rows in distinct banks), then the raw
  /// pre-activations (rows x 4 DH float32).
  static int64_t fragmentBytes(const Shape &s) {
    return s.warps * s.sharedTiles * 32 * 16;
  }
  static int64_t bStride(int64_t dh) { return dh + 8; }
  static int64_t rawOffset(const Shape &s, int64_t dh) {
    return llvm::alignTo(fragmentBytes(s) + 8 * bStride(dh) * 2, 16);
  }
  static int64_t sharedBytes(const Shape &s, int64_t dh) {
    return rawOffset(s, dh) + s.rows * 4 * dh * 4;
  }

  SLSTMTensorCoreKernel(OpBuilder &b, Location loc, int64_t dh,
                        SLSTMFunction function, Type element, Shape shape)
      : KernelBuilder(b, loc, b.getF32Type()), dh(dh), function(function),
        element(element), shape(shape) {}

  void build(const SLSTMBuffers &io, Value seqLen, gpu::LaunchOp launch) {
    Value hd = launch.getBlockIds().x, rowBlock = launch.getBlockIds().y;
    Value tid = launch.getThreadIds().x;
    Value warp = divui(tid, idx(32)), lane = remui(tid, idx(32));
    MmaLane mmaLane = MmaLane::of(b, loc, lane);
    Value grp = mmaLane.group, tig = mmaLane.inGroup;
    Value batch = memref::DimOp::create(b, loc, io.gates[0], idx(0));
    Type i32 = b.getI32Type(), f32 = b.getF32Type();
    int64_t kTiles = dh / 16, tilesM = shape.tilesM, rows = shape.rows;
    int64_t perWarp = tilesM * kTiles;
    int64_t numStates = io.stateTypes.size();

    Value smem = dynamicSharedMemory();
    Value aShared;
    if (shape.sharedTiles > 0)
      aShared =
          sharedView(smem, {shape.warps * shape.sharedTiles * 32, 4}, i32, 0);
    int64_t stride = bStride(dh);
    Value hB = sharedView(smem, {8, stride}, element, fragmentBytes(shape));
    Value hBWords =
        sharedView(smem, {8, stride / 2}, i32, fragmentBytes(shape));
    Value raw = sharedView(smem, {rows, 4 * dh}, f32, rawOffset(shape, dh));
    // B's unused columns (fewer than 4 rows) stay zero.
    if (rows < 4)
      forRange(tid, idx(8 * stride), idx(shape.threads()), {},
               [&](Value e, ValueRange) -> SmallVector<Value> {
                 memref::StoreOp::create(
                     b, loc, castFloat(constant(0.0), element), hB,
                     ValueRange{divui(e, idx(stride)), remui(e, idx(stride))});
                 return {};
               });

    // Thread tid updates the cell of unit j of the block's batch row
    // `local`. Threads past the block's cells read clamped indices and
    // store nothing; rows past the batch compute on the last row's inputs
    // and store only into B (columns no valid row reads).
    Value valid = ult(tid, idx(rows * dh));
    Value clamped = minui(tid, idx(rows * dh - 1));
    Value local = divui(clamped, idx(dh)), j = remui(clamped, idx(dh));
    Value unclampedRow = add(mul(rowBlock, idx(rows)), local);
    Value active =
        arith::AndIOp::create(b, loc, valid, ult(unclampedRow, batch));
    Value row = minui(unclampedRow, sub(batch, idx(1)));
    Value channel = add(mul(hd, idx(dh)), j);
    SmallVector<Value, 4> bias;
    for (int64_t g = 0; g < 4; ++g)
      bias.push_back(load(io.bias, {hd, idx(g), j}));
    SmallVector<Value> state;
    for (int64_t s = 0; s < numStates; ++s)
      state.push_back(io.initialState.empty()
                          ? constant(0.0)
                          : load(io.initialState[s], {row, channel}));
    // h into B: hi (its value in R's type) in column `local`, the residue
    // lo in column `local` + rows.
    auto storeH = [&](Value h) {
      ifThen(valid, [&] {
        Value hi = castFloat(h, element);
        Value lo = castFloat(subf(h, castFloat(hi, compute)), element);
        memref::StoreOp::create(b, loc, hi, hB, ValueRange{local, j});
        memref::StoreOp::create(b, loc, lo, hB,
                                ValueRange{add(local, idx(rows)), j});
      });
    };
    gpu::BarrierOp::create(b, loc);
    storeH(state[0]);
    gpu::BarrierOp::create(b, loc);

    // R's fragments, loaded last before the loop so that their 16-bit
    // halves are packed as they arrive (loaded earlier, the halves stay
    // live, one register each, until the loop needs the words). In the
    // order the product uses them (k tile, then m tile);
    // the ones in registers spread evenly among those in shared memory, so
    // that the shared loads interleave with mma on register operands.
    SmallVector<int64_t> sharedSlot(perWarp, -1);
    for (int64_t u = 0, slot = 0; u < perWarp; ++u) {
      bool inRegisters = (u + 1) * shape.registerTiles / perWarp !=
                         u * shape.registerTiles / perWarp;
      if (!inRegisters)
        sharedSlot[u] = slot++;
    }
    auto sharedFragment = [&](int64_t slot, int64_t r) -> SmallVector<Value> {
      Value at =
          add(mul(add(mul(warp, idx(shape.sharedTiles)), idx(slot)), idx(32)),
              lane);
      return {at, idx(r)};
    };
    // The first of R's rows (m = g * DH + j) in this warp's m16 tile mi.
    auto tileRow = [&](int64_t mi) {
      return mul(add(mul(warp, idx(tilesM)), idx(mi)), idx(16));
    };
    // A fragment register r of tile (mi, kt): rows grp (+ 8 for odd r),
    // k pair 2 tig (+ 8 from r = 2 on), as mma.sync m16n8k16 takes them.
    SmallVector<SmallVector<Value, 4>> registerFragments(perWarp);
    for (int64_t kt = 0; kt < kTiles; ++kt)
      for (int64_t mi = 0; mi < tilesM; ++mi) {
        int64_t u = kt * tilesM + mi;
        for (int64_t r = 0; r < 4; ++r) {
          Value m = add(tileRow(mi), add(grp, idx(8 * (r & 1))));
          Value gate = divui(m, idx(dh)), unit = remui(m, idx(dh));
          Value k = add(idx(kt * 16 + 8 * (r >> 1)), mul(tig, idx(2)));
          Value w0 = memref::LoadOp::create(b, loc, io.recurrentKernel,
                                            ValueRange{hd, k, gate, unit});
          Value w1 = memref::LoadOp::create(
              b, loc, io.recurrentKernel,
              ValueRange{hd, add(k, idx(1)), gate, unit});
          Value word = toWord(packPair(w0, w1, element));
          if (sharedSlot[u] < 0)
            registerFragments[u].push_back(fromWord(word));
          else
            memref::StoreOp::create(b, loc, word, aShared,
                                    sharedFragment(sharedSlot[u], r));
        }
      }

    // The lanes holding columns 2 tig, 2 tig + 1 as hi sums (tig < rows /
    // 2) and their partners (tig ^ rows / 2) with those rows' lo sums.
    int64_t partner = rows / 2;
    Value hiLane = ult(tig, idx(rows / 2));
    bool sequence = static_cast<bool>(io.y);
    auto loop = scf::ForOp::create(
        b, loc, idx(0), seqLen, idx(1), state,
        [&](OpBuilder &, Location, Value t, ValueRange iter) {
          // The step's gate inputs first: in flight during the product.
          SmallVector<Value, 3> at = {row};
          if (sequence)
            at.push_back(t);
          at.push_back(channel);
          SmallVector<Value, 4> x;
          for (int64_t g = 0; g < 4; ++g)
            x.push_back(load(io.gates[g], at));
          SmallVector<SmallVector<Value>> acc(
              tilesM, SmallVector<Value>(4, constant(0.0)));
          for (int64_t kt = 0; kt < kTiles; ++kt) {
            // B fragment: k pair 2 tig (and + 8) of column grp.
            SmallVector<Value, 2> bRegs;
            for (int64_t half = 0; half < 2; ++half)
              bRegs.push_back(fromWord(memref::LoadOp::create(
                  b, loc, hBWords,
                  ValueRange{grp, add(idx(kt * 8 + 4 * half), tig)})));
            for (int64_t mi = 0; mi < tilesM; ++mi) {
              int64_t u = kt * tilesM + mi;
              SmallVector<Value, 4> a;
              if (sharedSlot[u] < 0) {
                a = registerFragments[u];
              } else {
                for (int64_t r = 0; r < 4; ++r)
                  a.push_back(fromWord(memref::LoadOp::create(
                      b, loc, aShared, sharedFragment(sharedSlot[u], r))));
              }
              acc[mi] = mma16x8x16(b, loc, element, a, bRegs, acc[mi]);
            }
          }
          for (int64_t mi = 0; mi < tilesM; ++mi) {
            // hi + lo of each (gate row, batch row): accumulator e holds
            // row grp (+ 8 from e = 2 on) of column 2 tig + e % 2.
            SmallVector<Value, 4> sums;
            for (Value v : acc[mi])
              sums.push_back(
                  addf(v, gpu::ShuffleOp::create(b, loc, v, partner, 32,
                                                 gpu::ShuffleMode::XOR)
                              .getShuffleResult()));
            ifThen(hiLane, [&] {
              Value m0 = tileRow(mi);
              for (int64_t e = 0; e < 4; ++e)
                store(sums[e], raw,
                      {add(mul(tig, idx(2)), idx(e & 1)),
                       add(m0, add(grp, idx(8 * (e >> 1))))});
            });
          }
          gpu::BarrierOp::create(b, loc);

          // raw = x_g + (b_g + sum_i h_i R_i), grouped as the scalar kernel
          // groups them.
          SmallVector<Value> raws;
          for (int64_t g = 0; g < 4; ++g)
            raws.push_back(addf(
                x[g], addf(bias[g], load(raw, {local, add(idx(g * dh), j)}))));
          SmallVector<Value> next =
              cellmath::slstmCell(b, loc, function, raws, iter);
          // States round to their storage type every step, as stored.
          for (auto [v, type] : llvm::zip(next, io.stateTypes))
            v = castFloat(castFloat(v, type), compute);
          storeH(next[0]);
          if (sequence)
            ifThen(active, [&] { store(next[0], io.y, {row, t, channel}); });
          gpu::BarrierOp::create(b, loc);
          scf::YieldOp::create(b, loc, next);
        });
    if (!io.finalState.empty())
      ifThen(active, [&] {
        for (int64_t s = 0; s < numStates; ++s)
          store(loop.getResult(s), io.finalState[s], {row, channel});
      });
    gpu::TerminatorOp::create(b, loc);
  }

private:
  /// An operand register (i32 for bf16, vector<2xf16> for f16) as the
  /// 32-bit word shared memory holds, and back.
  Value toWord(Value reg) {
    if (!element.isF16())
      return reg;
    Value bits = vector::BitCastOp::create(
        b, loc, VectorType::get({1}, b.getI32Type()), reg);
    return vector::ExtractOp::create(b, loc, bits, ArrayRef<int64_t>{0});
  }
  Value fromWord(Value word) {
    if (!element.isF16())
      return word;
    return vector::BitCastOp::create(
        b, loc, VectorType::get({2}, element),
        vector::BroadcastOp::create(
            b, loc, VectorType::get({1}, b.getI32Type()), word));
  }

  int64_t dh;
  SLSTMFunction function;
  Type element;
  Shape shape;
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
    Type rElement =
        cast<RankedTensorType>(recurrentKernel.getType()).getElementType();
    // The op's results: its allocations, written by the kernel.
    auto replaceByResults = [&] {
      SmallVector<Value> results;
      for (auto [value, type] : llvm::zip(allocs, op->getResultTypes()))
        results.push_back(toTensor(rewriter, loc, type, value));
      rewriter.replaceOp(op, results);
    };
    // Sequences (decode steps of one position included) with 16-bit R: the
    // tensor-core kernel where its fragments fit on chip. (The single-step
    // op keeps the scalar kernel.)
    std::optional<SLSTMTensorCoreKernel::Shape> mmaShape;
    if (tensorCores && sequence && compute.isF32() &&
        (rElement.isBF16() || rElement.isF16()))
      mmaShape = SLSTMTensorCoreKernel::shapeFor(dh, kMaxSharedBytesPerBlock);
    if (mmaShape) {
      int64_t rows = mmaShape->rows;
      Value blocks =
          arith::CeilDivUIOp::create(rewriter, loc, batch, idx(rows));
      Value bytes = arith::ConstantIntOp::create(
          rewriter, loc, rewriter.getI32Type(),
          SLSTMTensorCoreKernel::sharedBytes(*mmaShape, dh));
      auto launch =
          gpu::LaunchOp::create(rewriter, loc, idx(numHeads), blocks, c1,
                                idx(mmaShape->threads()), c1, c1, bytes);
      xlstm::recordKernelChoice(
          launch,
          {"recurrence", xlstm::formatShape(gateType.getShape()),
           "persistent sLSTM on tensor cores (m16n8k16, h as value + "
           "residue), head dim " +
               std::to_string(dh) + ", " + std::to_string(rows) +
               " batch rows a block, " + std::to_string(mmaShape->warps) +
               " warps, R fragments " +
               std::to_string(mmaShape->registerTiles) +
               " a warp in registers, " +
               std::to_string(mmaShape->sharedTiles) + " in shared memory",
           ""},
          recurrentKernel);
      {
        OpBuilder::InsertionGuard guard(rewriter);
        rewriter.setInsertionPointToStart(&launch.getBody().front());
        SLSTMTensorCoreKernel(rewriter, loc, dh, function, rElement, *mmaShape)
            .build(io, seqLen, launch);
      }
      replaceByResults();
      return;
    }
    auto sharedType = [&](int64_t n) {
      return sharedMemoryType(rewriter.getContext(), {n}, compute);
    };
    // The last rows of R in shared memory, as many as shared-weight-bytes
    // holds (within the block's limit), in whole iterations of the dot
    // product.
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
              : std::max<int64_t>(0, registersPerThread(threads) -
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
    replaceByResults();
  }
};

} // namespace
