//===- ChunkwiseMLSTMToMMA.cpp - Chunkwise mLSTM on tensor cores ----------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// The chunkwise mLSTM on tensor cores. `xlstm.mlstm_chunk_states` is one
// kernel with the chunk loop inside (ChunkStatesKernel below);
// `xlstm.mlstm_chunk_outputs` one kernel over all chunks: a block per
// (chunk, head and DHV tile, batch row), one warp per 16 rows of the chunk.
// Per block:
//   1. the chunk's gate scalars (cumulative log forget gates b, input gates
//      i, stabiliser m_l, inter-chunk decay, q_l . n) into shared memory;
//   2. S = Q K^T on tensor cores (each warp its 16 rows x all L columns);
//   3. P_lj = S_lj exp(b_l - b_j + i_j - m_l) for j <= l in registers, the
//      row sums of P (the intra-chunk part of the denominator) by shuffles
//      (the staged kernels keep P in registers for step 5, the unstaged one
//      stages it in shared memory);
//   4. acc = Q C on tensor cores, scaled per row by the inter-chunk decay;
//   5. acc += P V on tensor cores;
//   6. h = acc / (max(|den|, exp(-m_l)) + eps), stored.
// Where q, k, v and the entering C share one 16-bit type the staged kernels
// use mma.sync m16n8k16 with ldmatrix fragments (buildStaged16,
// multiply16); otherwise the matrix products use mma.sync m16n8k8 on tf32
// (fragments converted from bf16/f16/f32 with round-to-nearest),
// accumulating in float32. Fragment
// layouts (PTX ISA, "Matrix Fragments for mma.m16n8k8", .tf32), with
// g = lane / 4, t = lane % 4:
//   A (16x8):  a0 (g, t), a1 (g + 8, t), a2 (g, t + 4), a3 (g + 8, t + 4)
//   B (8x8):   b0 (k = t, n = g), b1 (k = t + 4, n = g)
//   C (16x8):  c0 (g, 2t), c1 (g, 2t + 1), c2 (g + 8, 2t), c3 (g + 8, 2t + 1)
// By default both kernels stage their operands in dynamic shared memory
// with cp.async (the chunk outputs: slabs of 32 key dimensions of Q, K, C
// and n, double-buffered; the chunk states: the next chunk's keys, values
// and gates while this one computes); without staging, fragments are read
// with scalar loads from global memory (L1 serves the reuse).
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"

#include "xlstm/Conversion/LoweringReport.h"
#include "xlstm/Conversion/Passes.h"
#include "xlstm/Dialect/XLSTM/IR/XLSTM.h"
#include "xlstm/Dialect/XLSTM/Transforms/CellMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/PatternMatch.h"

#include <cmath>

namespace xlstm {
#define GEN_PASS_DEF_XLSTMCHUNKWISEMLSTMTOMMAPASS
#include "xlstm/Conversion/Passes.h.inc"
} // namespace xlstm

using namespace mlir;
using namespace xlstm;

namespace {

/// The element type of a shaped (tensor or memref) value.
Type elementTypeOf(Value v) {
  return cast<ShapedType>(v.getType()).getElementType();
}

/// The operands and result of one chunk-outputs op, as buffers.
struct ChunkOutputs {
  Value q, k, v, igate, fgate, chunkC, chunkN, chunkM, h;
  int64_t chunk, dhqk, dhv, dvTile;
  double qScale, kScale, eps;
};

/// The block's place in the chunk-outputs grid (chunk, head x value-column
/// tile, batch row) and a thread's rows: warp w owns rows 16 w + g and
/// 16 w + g + 8 of the chunk (g = lane / 4, t = lane % 4).
struct OutputsCoords {
  Value chunkIdx, hd, dv0, row, tid, lane, warp, g, t, seq, last, t0, lo, hi;
};

/// Emits the chunk-outputs kernel bodies; `b` is inside the gpu.launch.
/// `build` reads the operand fragments from global memory; `buildStaged`
/// stages them through shared memory (16- or 32-bit operands).
class ChunkOutputsKernel : KernelBuilder {
public:
  ChunkOutputsKernel(OpBuilder &b, Location loc, bool split)
      : KernelBuilder(b, loc, b.getF32Type()) {
    splitTF32 = split;
  }

  void build(const ChunkOutputs &io, gpu::LaunchOp launch) {
    ValueRange shared = launch.getWorkgroupAttributions();
    Value logfSh = shared[0], iSh = shared[1], cumSh = shared[2],
          mSh = shared[3], interSh = shared[4], qnSh = shared[5],
          pSh = shared[6];
    int64_t L = io.chunk;
    OutputsCoords c = coords(io, launch);
    Value row = c.row, hd = c.hd, chunkIdx = c.chunkIdx, tid = c.tid;
    Value t = c.t, lo = c.lo, hi = c.hi;
    auto seqRow = [&](Value l) { return minui(add(c.t0, l), c.last); };

    // 1. Per-row scalars: log sigmoid(f), i, q_l . n (threads l < L).
    ifThen(ult(tid, idx(L)), [&] {
      Value r = seqRow(tid);
      Value f = load(io.fgate, {row, hd, r});
      store(cellmath::logSigmoid(b, loc, f), logfSh, {tid});
      store(load(io.igate, {row, hd, r}), iSh, {tid});
      Value qn = forRange(0, io.dhqk, 1, {constant(0.0)},
                          [&](Value p, ValueRange acc) -> SmallVector<Value> {
                            Value qv = load(io.q, {row, hd, r, p});
                            Value nv = load(io.chunkN, {row, hd, chunkIdx, p});
                            return {addf(acc[0], mulf(qv, nv))};
                          })[0];
      store(qn, qnSh, {tid});
    });
    gpu::BarrierOp::create(b, loc);
    // The prefix sums and maxima along the chunk, by one thread:
    // b_l = sum_{j<=l} log sigmoid(f_j), m_l = max(b_l + m, b_l +
    // max_{j<=l}(i_j - b_j)), inter_l = exp(b_l + m - m_l).
    ifThen(eqi(tid, idx(0)), [&] {
      Value m = load(io.chunkM, {row, hd, chunkIdx});
      forRange(0, L, 1, {constant(0.0), constant(-INFINITY)},
               [&](Value l, ValueRange it) -> SmallVector<Value> {
                 Value cum = addf(it[0], load(logfSh, {l}));
                 Value pm = maxf(it[1], subf(load(iSh, {l}), cum));
                 Value carried = addf(cum, m);
                 Value mComb = maxf(carried, addf(cum, pm));
                 store(cum, cumSh, {l});
                 store(mComb, mSh, {l});
                 store(exp(subf(carried, mComb)), interSh, {l});
                 return {cum, pm};
               });
    });
    gpu::BarrierOp::create(b, loc);

    Value qLo = seqRow(lo), qHi = seqRow(hi);
    auto qFragment = [&](Value kk) {
      Value c0 = add(kk, t), c4 = add(c0, idx(4));
      return fragment(
          {load(io.q, {row, hd, qLo, c0}), load(io.q, {row, hd, qHi, c0}),
           load(io.q, {row, hd, qLo, c4}), load(io.q, {row, hd, qHi, c4})});
    };

    // 2. S = Q K^T: L / 8 column tiles of keys.
    int64_t sTiles = L / 8;
    SmallVector<Value> sAcc(sTiles * 4, constant(0.0));
    sAcc =
        forRange(0, io.dhqk, 8, sAcc,
                 [&](Value kk, ValueRange acc) -> SmallVector<Value> {
                   TF32Fragment a = qFragment(kk);
                   Value c0 = add(kk, t), c4 = add(c0, idx(4));
                   SmallVector<Value> next;
                   for (int64_t n = 0; n < sTiles; ++n) {
                     Value key = seqRow(add(idx(n * 8), c.g));
                     TF32Fragment bf =
                         fragment({load(io.k, {row, hd, key, c0}),
                                   load(io.k, {row, hd, key, c4})});
                     llvm::append_range(next, mma(a, bf, acc.slice(n * 4, 4)));
                   }
                   return next;
                 });

    // 3. P, its row sums, P into shared memory.
    std::array<Value, 2> rowSum =
        causalWeights(io, c, sAcc, cumSh, iSh, mSh, pSh);
    std::array<Value, 2> inter = {load(interSh, {lo}), load(interSh, {hi})};
    std::array<Value, 2> den =
        denominators(io, inter, {load(qnSh, {lo}), load(qnSh, {hi})}, rowSum);
    gpu::BarrierOp::create(b, loc);

    // 4. acc = Q C over this block's DHV columns, times inter_l * qScale.
    int64_t oTiles = io.dvTile / 8;
    SmallVector<Value> acc(oTiles * 4, constant(0.0));
    auto column = [&](int64_t n) { return add(c.dv0, add(idx(n * 8), c.g)); };
    acc = forRange(
        0, io.dhqk, 8, acc, [&](Value kk, ValueRange it) -> SmallVector<Value> {
          TF32Fragment a = qFragment(kk);
          Value k0 = add(kk, t), k4 = add(k0, idx(4));
          SmallVector<Value> next;
          for (int64_t n = 0; n < oTiles; ++n) {
            Value col = column(n);
            SmallVector<Value> bf = {
                load(io.chunkC, {row, hd, chunkIdx, k0, col}),
                load(io.chunkC, {row, hd, chunkIdx, k4, col})};
            llvm::append_range(next, mma(a, fragment(bf), it.slice(n * 4, 4)));
          }
          return next;
        });
    scaleByDecay(io, acc, inter);

    // 5. acc += P V.
    acc = forRange(
        0, L, 8, acc, [&](Value kk, ValueRange it) -> SmallVector<Value> {
          Value c0 = add(kk, t), c4 = add(c0, idx(4));
          SmallVector<Value> a = {load(pSh, {lo, c0}), load(pSh, {hi, c0}),
                                  load(pSh, {lo, c4}), load(pSh, {hi, c4})};
          TF32Fragment aFrag = fragment(a);
          Value v0 = seqRow(c0), v4 = seqRow(c4);
          SmallVector<Value> next;
          for (int64_t n = 0; n < oTiles; ++n) {
            Value col = column(n);
            TF32Fragment bf = fragment({load(io.v, {row, hd, v0, col}),
                                        load(io.v, {row, hd, v4, col})});
            llvm::append_range(next, mma(aFrag, bf, it.slice(n * 4, 4)));
          }
          return next;
        });

    normaliseAndStore(io, c, acc, den, mSh);
    gpu::TerminatorOp::create(b, loc);
  }

  /// The staged kernel on 16-bit tensor cores (mma.sync m16n8k16), for q,
  /// k, v and the entering C all bf16 or all f16 (n may be wider): Q's A
  /// fragments, K's and C's B fragments come from the slabs by ldmatrix
  /// (C transposed), q . n is summed from Q's fragments on the way; P stays
  /// in registers (an S accumulator pair is P's A fragment, rounded to the
  /// operands' type), and each warp multiplies V (ldmatrix, transposed) by
  /// its P up to its diagonal. Needs L a multiple of 32 up to 64, DHQK a
  /// multiple of `slab` and the DHV tile a multiple of 16.
  void buildStaged16(const ChunkOutputs &io, gpu::LaunchOp launch) {
    ValueRange shared = launch.getWorkgroupAttributions();
    Value cumSh = shared[0], iSh = shared[1], mSh = shared[2],
          interSh = shared[3];
    int64_t L = io.chunk, tile = io.dvTile;
    Type elt = elementTypeOf(io.q);
    OutputsCoords c = coords(io, launch);
    StagedSlabs st = stageFirstSlab(io, c, /*swizzled=*/true);
    // ldmatrix lane addresses: an A fragment's rows (lane % 16) and k half
    // (lane / 16); a non-transposed B pair's n rows and k half; a
    // transposed B pair's k rows and n half. Halves are 16-byte chunks of
    // the swizzled rows: `column` maps a row and chunk to the element
    // column where it is stored.
    Value lane16 = remui(c.lane, idx(16)), laneHalf = divui(c.lane, idx(16));
    Value lane8 = remui(c.lane, idx(8));
    Value quarter = remui(divui(c.lane, idx(8)), idx(2));
    Value aRow = add(mul(c.warp, idx(16)), lane16);
    Value bRow = add(mul(laneHalf, idx(8)), lane8);
    Value tRow = add(lane8, mul(quarter, idx(8)));
    Value t2 = mul(c.t, idx(2));
    int64_t bytes = elementBytes(io.q);
    int64_t qkRowBytes = slab * bytes, tileRowBytes = tile * bytes;
    auto column = [&](Value row, Value chunk, int64_t rowBytes) {
      return swizzledChunkColumn(b, loc, row, chunk, rowBytes, bytes);
    };

    // 1. The gate scalars, while the first slab is in flight.
    gateScalarsByWarp(io, c, cumSh, iSh, mSh, interSh);

    // 2 and 4. S = Q K^T and Q C slab by slab; the partial sums of q . n
    // of this lane's rows lo and hi.
    int64_t sTiles = L / 8, oTiles = tile / 8;
    SmallVector<Value> init(4 * (sTiles + oTiles) + 2, constant(0.0));
    SmallVector<Value> sums = forEachSlab(
        io, c, st, init,
        [&](Value stage, ValueRange it) -> SmallVector<Value> {
          SmallVector<Value> acc(it);
          for (int64_t ks = 0; ks < slab; ks += 16) {
            SmallVector<Value> a = ldmatrixX4(
                st.q,
                {stage, aRow,
                 column(aRow, add(idx(ks / 8), laneHalf), qkRowBytes)},
                false);
            // a0: (lo, ks + 2t..), a1: (hi, ks + 2t..), a2: (lo, ks + 8 +
            // 2t..), a3: (hi, ks + 8 + 2t..).
            Value &qnLo = acc[4 * (sTiles + oTiles)];
            Value &qnHi = acc[4 * (sTiles + oTiles) + 1];
            for (int64_t half = 0; half < 2; ++half) {
              Value d = add(idx(ks + 8 * half), t2);
              Value n0 = load(st.n, {stage, idx(0), d});
              Value n1 = load(st.n, {stage, idx(0), add(d, idx(1))});
              auto [lo0, lo1] = unpackPair(a[2 * half], elt);
              auto [hi0, hi1] = unpackPair(a[2 * half + 1], elt);
              qnLo = addf(qnLo, addf(mulf(lo0, n0), mulf(lo1, n1)));
              qnHi = addf(qnHi, addf(mulf(hi0, n0), mulf(hi1, n1)));
            }
            auto multiply = [&](int64_t tile0, ArrayRef<Value> regs) {
              for (int64_t h = 0; h < 2; ++h) {
                int64_t at = 4 * (tile0 + h);
                SmallVector<Value> d = mma16x8x16(
                    b, loc, elt, a, regs.slice(2 * h, 2),
                    ArrayRef<Value>(acc).slice(at, 4));
                llvm::copy(d, acc.begin() + at);
              }
            };
            for (int64_t np = 0; np < sTiles / 2; ++np) {
              Value key = add(idx(16 * np), bRow);
              multiply(2 * np,
                       ldmatrixX4(st.k,
                                  {stage, key,
                                   column(key, add(idx(ks / 8), quarter),
                                          qkRowBytes)},
                                  false));
            }
            for (int64_t np = 0; np < oTiles / 2; ++np) {
              Value dim = add(idx(ks), tRow);
              multiply(sTiles + 2 * np,
                       ldmatrixX4(st.c,
                                  {stage, dim,
                                   column(dim, add(idx(2 * np), laneHalf),
                                          tileRowBytes)},
                                  true));
            }
          }
          return acc;
        });
    SmallVector<Value> p(sums.begin(), sums.begin() + 4 * sTiles);
    SmallVector<Value> acc(sums.begin() + 4 * sTiles,
                           sums.begin() + 4 * (sTiles + oTiles));
    std::array<Value, 2> qn = {sums[4 * (sTiles + oTiles)],
                               sums[4 * (sTiles + oTiles) + 1]};
    for (Value &sum : qn)
      sum = reduceOverRowGroup(sum);

    // 3. P and its row sums, in registers.
    std::array<Value, 2> rowSum =
        causalWeights(io, c, p, cumSh, iSh, mSh, /*pSh=*/Value());
    std::array<Value, 2> inter = {load(interSh, {c.lo}), load(interSh, {c.hi})};
    std::array<Value, 2> den = denominators(io, inter, qn, rowSum);
    scaleByDecay(io, acc, inter);

    // 5. acc += P V over the key tiles kt <= warp (P is 0 past the
    // warp's diagonal). P's accumulator tiles 2 kt and 2 kt + 1 are the A
    // fragment of key columns 16 kt .. 16 kt + 15.
    for (int64_t kt = 0; kt < L / 16; ++kt) {
      auto step = scf::IfOp::create(b, loc, TypeRange(ValueRange(acc)),
                                    ult(c.warp, idx(kt)),
                                    /*withElseRegion=*/true);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(step.thenBlock());
      scf::YieldOp::create(b, loc, acc);
      b.setInsertionPointToStart(step.elseBlock());
      SmallVector<Value> a;
      for (int64_t n : {2 * kt, 2 * kt + 1})
        for (int64_t e : {0, 2})
          a.push_back(packPair(p[4 * n + e], p[4 * n + e + 1], elt));
      // a = {tile 2kt rows lo, rows hi, tile 2kt + 1 rows lo, rows hi}.
      SmallVector<Value> next(acc);
      for (int64_t np = 0; np < oTiles / 2; ++np) {
        Value position = add(idx(16 * kt), tRow);
        SmallVector<Value> regs = ldmatrixX4(
            st.v,
            {position,
             column(position, add(idx(2 * np), laneHalf), tileRowBytes)},
            true);
        for (int64_t h = 0; h < 2; ++h) {
          int64_t at = 4 * (2 * np + h);
          SmallVector<Value> d =
              mma16x8x16(b, loc, elt, a, ArrayRef<Value>(regs).slice(2 * h, 2),
                         ArrayRef<Value>(next).slice(at, 4));
          llvm::copy(d, next.begin() + at);
        }
      }
      scf::YieldOp::create(b, loc, next);
      b.setInsertionPointAfter(step);
      acc.assign(step.getResults().begin(), step.getResults().end());
    }

    normaliseAndStore(io, c, acc, den, mSh);
    // The empty group of the last slab's prefetch completes before exit.
    NVVM::CpAsyncWaitGroupOp::create(b, loc, b.getI32IntegerAttr(0));
    gpu::TerminatorOp::create(b, loc);
  }

  /// K steps of the staged kernel's slabs along DHQK, and slab buffers
  /// (two: the next slab loads while this one computes).
  static constexpr int64_t slab = 32, stages = 2;

  /// Byte offsets of the staged kernels' dynamic shared memory, for q/k,
  /// C, n and v elements of `qkBytes`, `cBytes`, `nBytes` and `vBytes`:
  /// `stages` slabs of Q and K (L x (slab + 16 bytes)), of C (slab x
  /// (tile + 8)) and n (slab), then V (L x (tile + 8), float32: tile + 4,
  /// whose rows 2t and 2t + 1 the tf32 P V reads). The paddings keep a
  /// fragment's 32 reads (an ldmatrix's eight 16-byte rows) in distinct
  /// banks, and rows 16-byte aligned. With `swizzled` (the 16-bit kernel,
  /// whose every read of Q, K, C and V is an ldmatrix) the rows are dense,
  /// their 16-byte chunks swizzled (xlstm::swizzledColumn) instead.
  struct StagedLayout {
    int64_t qkStride, cStride, vStride, q, k, c, n, v, total;
    StagedLayout(int64_t L, int64_t tile, int64_t qkBytes, int64_t cBytes,
                 int64_t nBytes, int64_t vBytes, bool swizzled)
        : qkStride(swizzled ? slab : slab + 16 / qkBytes),
          cStride(swizzled ? tile : tile + 8),
          vStride(swizzled ? tile : tile + (vBytes == 4 ? 4 : 8)) {
      q = 0;
      k = q + stages * L * qkStride * qkBytes;
      c = k + stages * L * qkStride * qkBytes;
      n = c + stages * slab * cStride * cBytes;
      v = n + stages * slab * nBytes;
      total = v + L * vStride * vBytes;
    }
  };

  /// The staged kernel: the chunk's Q and K and the entering C and n go
  /// through shared memory in slabs of `slab` key dimensions (cp.async, 16
  /// bytes a copy, double-buffered), and S = Q K^T and Q C share
  /// each slab's Q fragments, with q . n summed from them on the way; V is
  /// copied with the first slab. Needs L a multiple of 32 up to 64, DHQK a
  /// multiple of `slab`, 16-bit or float32 operands (q and k alike).
  void buildStaged(const ChunkOutputs &io, gpu::LaunchOp launch) {
    ValueRange shared = launch.getWorkgroupAttributions();
    Value cumSh = shared[0], iSh = shared[1], mSh = shared[2],
          interSh = shared[3];
    int64_t L = io.chunk, tile = io.dvTile;
    OutputsCoords c = coords(io, launch);
    StagedSlabs st = stageFirstSlab(io, c, /*swizzled=*/false);
    Value qSh = st.q, kSh = st.k, cSh = st.c, nSh = st.n;

    // 1. The gate scalars, while the first slab is in flight.
    gateScalarsByWarp(io, c, cumSh, iSh, mSh, interSh);

    // 2 and 4. S = Q K^T and Q C slab by slab; the partial sums of q . n
    // of this lane's two rows and its columns t, t + 4.
    int64_t sTiles = L / 8, oTiles = tile / 8;
    SmallVector<Value> init(4 * (sTiles + oTiles) + 2, constant(0.0));
    SmallVector<Value> sums = forEachSlab(
        io, c, st, init,
        [&](Value stage, ValueRange it) -> SmallVector<Value> {
          SmallVector<Value> acc(it);
          for (int64_t ks = 0; ks < slab; ks += 8) {
            Value c0 = add(idx(ks), c.t), c4 = add(c0, idx(4));
            SmallVector<Value> qv = {
                load(qSh, {stage, c.lo, c0}), load(qSh, {stage, c.hi, c0}),
                load(qSh, {stage, c.lo, c4}), load(qSh, {stage, c.hi, c4})};
            Value n0 = load(nSh, {stage, idx(0), c0}),
                  n4 = load(nSh, {stage, idx(0), c4});
            Value &qnLo = acc[4 * (sTiles + oTiles)];
            Value &qnHi = acc[4 * (sTiles + oTiles) + 1];
            qnLo = addf(qnLo, addf(mulf(qv[0], n0), mulf(qv[2], n4)));
            qnHi = addf(qnHi, addf(mulf(qv[1], n0), mulf(qv[3], n4)));
            TF32Fragment a = fragment(qv);
            for (int64_t n = 0; n < sTiles; ++n) {
              Value key = add(idx(n * 8), c.g);
              TF32Fragment bf = fragment(
                  {load(kSh, {stage, key, c0}), load(kSh, {stage, key, c4})});
              SmallVector<Value> d =
                  mma(a, bf, ArrayRef<Value>(acc).slice(4 * n, 4));
              llvm::copy(d, acc.begin() + 4 * n);
            }
            for (int64_t n = 0; n < oTiles; ++n) {
              Value col = add(idx(n * 8), c.g);
              TF32Fragment bf = fragment(
                  {load(cSh, {stage, c0, col}), load(cSh, {stage, c4, col})});
              int64_t at = 4 * (sTiles + n);
              SmallVector<Value> d =
                  mma(a, bf, ArrayRef<Value>(acc).slice(at, 4));
              llvm::copy(d, acc.begin() + at);
            }
          }
          return acc;
        });
    SmallVector<Value> sAcc(sums.begin(), sums.begin() + 4 * sTiles);
    SmallVector<Value> acc(sums.begin() + 4 * sTiles,
                           sums.begin() + 4 * (sTiles + oTiles));
    std::array<Value, 2> qn = {sums[4 * (sTiles + oTiles)],
                               sums[4 * (sTiles + oTiles) + 1]};
    // The four lanes of a row group hold the row's columns.
    for (Value &sum : qn)
      sum = reduceOverRowGroup(sum);
    // 3. P and its row sums, in registers.
    std::array<Value, 2> rowSum =
        causalWeights(io, c, sAcc, cumSh, iSh, mSh, /*pSh=*/Value());
    std::array<Value, 2> inter = {load(interSh, {c.lo}), load(interSh, {c.hi})};
    std::array<Value, 2> den = denominators(io, inter, qn, rowSum);
    scaleByDecay(io, acc, inter);

    // 5. acc += P V over the key tiles kt <= 2 warp + 1 (P is 0 past the
    // warp's diagonal). The k order inside each m16n8k8 is permuted, the
    // same for P and V: k slot t is key column 2t, slot t + 4 column
    // 2t + 1, so S's accumulators (c0 (g, 2t), c1 (g, 2t + 1), c2 (g + 8,
    // 2t), c3 (g + 8, 2t + 1)) are P's A fragment as they are.
    for (int64_t kt = 0; kt < L / 8; ++kt) {
      auto step = scf::IfOp::create(b, loc, TypeRange(ValueRange(acc)),
                                    ult(add(mul(c.warp, idx(2)), idx(1)),
                                        idx(kt)),
                                    /*withElseRegion=*/true);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(step.thenBlock());
      scf::YieldOp::create(b, loc, acc);
      b.setInsertionPointToStart(step.elseBlock());
      TF32Fragment a = fragment({sAcc[4 * kt], sAcc[4 * kt + 2],
                                 sAcc[4 * kt + 1], sAcc[4 * kt + 3]});
      Value j0 = add(idx(8 * kt), mul(c.t, idx(2))), j1 = add(j0, idx(1));
      SmallVector<Value> next;
      for (int64_t n = 0; n < oTiles; ++n) {
        Value col = add(idx(n * 8), c.g);
        TF32Fragment bf =
            fragment({load(st.v, {j0, col}), load(st.v, {j1, col})});
        llvm::append_range(next, mma(a, bf, ArrayRef<Value>(acc).slice(n * 4, 4)));
      }
      scf::YieldOp::create(b, loc, next);
      b.setInsertionPointAfter(step);
      acc.assign(step.getResults().begin(), step.getResults().end());
    }

    normaliseAndStore(io, c, acc, den, mSh);
    gpu::TerminatorOp::create(b, loc);
  }

private:
  /// The staged kernels' shared buffers (views of the dynamic shared
  /// memory `bytes`, laid out as StagedLayout says).
  struct StagedSlabs {
    Value bytes, q, k, c, n, v;
    bool swizzled = false; ///< Q, K, C and V (StagedLayout)
  };

  /// Queues the copies of slab `s` (key dimensions slab s .. s + 31 of Q,
  /// K, C and n) into `stage`; rows of the chunk past the sequence are
  /// zero-filled.
  void loadSlab(const ChunkOutputs &io, const OutputsCoords &c,
                const StagedSlabs &st, Value stage, Value s) {
    int64_t L = io.chunk, threads = 32 * (L / 16);
    Value k0 = mul(s, idx(slab));
    auto inSequence = [&](Value r, Value) { return ult(add(c.t0, r), c.seq); };
    for (auto [src, dst] : {std::pair(io.q, st.q), std::pair(io.k, st.k)})
      copyTileAsync(
          src, dst, {stage}, L, slab, c.tid, threads, inSequence,
          [&](Value r, Value col) -> SmallVector<Value> {
            return {c.row, c.hd, add(c.t0, r), add(k0, col)};
          },
          /*elementsPerCopy=*/0, st.swizzled);
    copyTileAsync(
        io.chunkC, st.c, {stage}, slab, io.dvTile, c.tid, threads, nullptr,
        [&](Value r, Value col) -> SmallVector<Value> {
          return {c.row, c.hd, c.chunkIdx, add(k0, r), add(c.dv0, col)};
        },
        /*elementsPerCopy=*/0, st.swizzled);
    copyTileAsync(io.chunkN, st.n, {stage}, 1, slab, c.tid, threads, nullptr,
                  [&](Value, Value col) -> SmallVector<Value> {
                    return {c.row, c.hd, c.chunkIdx, add(k0, col)};
                  });
  }

  /// The slab loop of the staged kernels: for each slab, once it has
  /// landed and the stage the prefetch refills is free, queues the next
  /// slab and runs `body` on this one's stage, carrying `init`.
  SmallVector<Value>
  forEachSlab(const ChunkOutputs &io, const OutputsCoords &c,
              const StagedSlabs &st, ValueRange init,
              function_ref<SmallVector<Value>(Value, ValueRange)> body) {
    return forRange(
        0, io.dhqk / slab, 1, init,
        [&](Value s, ValueRange it) -> SmallVector<Value> {
          Value stage = remui(s, idx(stages));
          NVVM::CpAsyncWaitGroupOp::create(b, loc, b.getI32IntegerAttr(0));
          // Slab s is visible to all, and every warp is done with the
          // stage the prefetch refills.
          gpu::BarrierOp::create(b, loc);
          Value next = add(s, idx(1));
          ifThen(ult(next, idx(io.dhqk / slab)),
                 [&] { loadSlab(io, c, st, remui(next, idx(stages)), next); });
          NVVM::CpAsyncCommitGroupOp::create(b, loc);
          return body(stage, it);
        });
  }

  /// The shared buffers, with slab 0 and the block's V tile queued (one
  /// cp.async group).
  StagedSlabs stageFirstSlab(const ChunkOutputs &io, const OutputsCoords &c,
                             bool swizzled) {
    int64_t L = io.chunk, tile = io.dvTile, threads = 32 * (L / 16);
    StagedLayout layout(L, tile, elementBytes(io.q), elementBytes(io.chunkC),
                        elementBytes(io.chunkN), elementBytes(io.v), swizzled);
    StagedSlabs st;
    st.swizzled = swizzled;
    st.bytes = dynamicSharedMemory();
    auto view = [&](ArrayRef<int64_t> shape, Value of, int64_t offset) {
      return sharedView(st.bytes, shape, elementTypeOf(of), offset);
    };
    st.q = view({stages, L, layout.qkStride}, io.q, layout.q);
    st.k = view({stages, L, layout.qkStride}, io.k, layout.k);
    st.c = view({stages, slab, layout.cStride}, io.chunkC, layout.c);
    st.n = view({stages, 1, slab}, io.chunkN, layout.n);
    st.v = view({L, layout.vStride}, io.v, layout.v);
    loadSlab(io, c, st, idx(0), idx(0));
    copyTileAsync(
        io.v, st.v, {}, L, tile, c.tid, threads,
        [&](Value r, Value) { return ult(add(c.t0, r), c.seq); },
        [&](Value r, Value col) -> SmallVector<Value> {
          return {c.row, c.hd, add(c.t0, r), add(c.dv0, col)};
        },
        /*elementsPerCopy=*/0, swizzled);
    NVVM::CpAsyncCommitGroupOp::create(b, loc);
    return st;
  }

  OutputsCoords coords(const ChunkOutputs &io, gpu::LaunchOp launch) {
    OutputsCoords c;
    int64_t dvTiles = io.dhv / io.dvTile;
    c.chunkIdx = launch.getBlockIds().x;
    c.hd = divui(launch.getBlockIds().y, idx(dvTiles));
    c.dv0 = mul(remui(launch.getBlockIds().y, idx(dvTiles)), idx(io.dvTile));
    c.row = launch.getBlockIds().z;
    c.tid = launch.getThreadIds().x;
    c.lane = remui(c.tid, idx(32));
    c.warp = divui(c.tid, idx(32));
    MmaLane mmaLane = MmaLane::of(b, loc, c.lane);
    c.g = mmaLane.group;
    c.t = mmaLane.inGroup;
    c.seq = memref::DimOp::create(b, loc, io.q, idx(2));
    c.last = sub(c.seq, idx(1));
    c.t0 = mul(c.chunkIdx, idx(io.chunk));
    c.lo = add(mul(c.warp, idx(16)), c.g);
    c.hi = add(c.lo, idx(8));
    return c;
  }

  /// `v` summed over the four lanes of its row group (same g).
  Value reduceOverRowGroup(Value v) {
    for (int32_t s : {1, 2})
      v = addf(v, gpu::ShuffleOp::create(b, loc, v, s, 32,
                                         gpu::ShuffleMode::XOR)
                      .getShuffleResult());
    return v;
  }

  /// 1. The chunk's gate scalars by warp 0, each lane L / 32 consecutive
  /// rows (clamped to the sequence): b_l = sum_{j<=l} log sigmoid(f_j) by
  /// an inclusive warp scan, m_l = max(b_l + m, b_l + max_{j<=l}(i_j -
  /// b_j)) by a max scan, inter_l = exp(b_l + m - m_l); into cumSh, iSh,
  /// mSh, interSh.
  void gateScalarsByWarp(const ChunkOutputs &io, const OutputsCoords &c,
                         Value cumSh, Value iSh, Value mSh, Value interSh) {
    int64_t per = io.chunk / 32;
    Value negInf = constant(-INFINITY);
    auto scanUp = [&](Value v, Value identity, auto combine) {
      for (int32_t offset : {1, 2, 4, 8, 16}) {
        auto up = gpu::ShuffleOp::create(b, loc, v, offset, 32,
                                         gpu::ShuffleMode::UP);
        v = combine(v, arith::SelectOp::create(b, loc, up.getValid(),
                                               up.getShuffleResult(),
                                               identity));
      }
      return v;
    };
    ifThen(eqi(c.warp, idx(0)), [&] {
      Value first = mul(c.lane, idx(per));
      SmallVector<Value> cum, input;
      Value run = constant(0.0);
      for (int64_t e = 0; e < per; ++e) {
        Value r = minui(add(c.t0, add(first, idx(e))), c.last);
        run = addf(run, cellmath::logSigmoid(
                            b, loc, load(io.fgate, {c.row, c.hd, r})));
        cum.push_back(run);
        input.push_back(load(io.igate, {c.row, c.hd, r}));
      }
      Value before = subf(
          scanUp(run, constant(0.0),
                 [&](Value x, Value y) { return addf(x, y); }),
          run);
      SmallVector<Value> localMax;
      Value pm = negInf;
      for (int64_t e = 0; e < per; ++e) {
        cum[e] = addf(before, cum[e]);
        pm = maxf(pm, subf(input[e], cum[e]));
        localMax.push_back(pm);
      }
      Value inclusiveMax =
          scanUp(pm, negInf, [&](Value x, Value y) { return maxf(x, y); });
      auto prev = gpu::ShuffleOp::create(b, loc, inclusiveMax, 1, 32,
                                         gpu::ShuffleMode::UP);
      Value beforeMax = arith::SelectOp::create(
          b, loc, prev.getValid(), prev.getShuffleResult(), negInf);
      Value m = load(io.chunkM, {c.row, c.hd, c.chunkIdx});
      for (int64_t e = 0; e < per; ++e) {
        Value l = add(first, idx(e));
        Value carried = addf(cum[e], m);
        Value mComb = maxf(carried, addf(cum[e], maxf(beforeMax, localMax[e])));
        store(cum[e], cumSh, {l});
        store(input[e], iSh, {l});
        store(mComb, mSh, {l});
        store(exp(subf(carried, mComb)), interSh, {l});
      }
    });
  }

  /// 3. P_lj = S_lj qk-scale exp(b_l - b_j + i_j - m_l) for j <= l (0
  /// above the diagonal) in registers: `sAcc` (S's accumulators) becomes
  /// P, also stored to pSh (L rows) unless pSh is null; returns the row
  /// sums of P of this thread's rows lo and hi (by shuffles).
  std::array<Value, 2> causalWeights(const ChunkOutputs &io,
                                     const OutputsCoords &c,
                                     MutableArrayRef<Value> sAcc, Value cumSh,
                                     Value iSh, Value mSh, Value pSh) {
    Value qkScale = constant(io.qScale * io.kScale);
    std::array<Value, 2> rowSum = {constant(0.0), constant(0.0)};
    for (int64_t n = 0; n < io.chunk / 8; ++n)
      for (int64_t e = 0; e < 4; ++e) {
        Value l = e < 2 ? c.lo : c.hi;
        Value j = add(idx(n * 8 + e % 2), mul(c.t, idx(2)));
        Value logD =
            addf(subf(load(cumSh, {l}), load(cumSh, {j})), load(iSh, {j}));
        Value w = mulf(mulf(sAcc[n * 4 + e], qkScale),
                       exp(subf(logD, load(mSh, {l}))));
        Value causal =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, j, l);
        Value p = arith::SelectOp::create(b, loc, causal, w, constant(0.0));
        if (pSh)
          store(p, pSh, {l, j});
        sAcc[n * 4 + e] = p;
        rowSum[e / 2] = addf(rowSum[e / 2], p);
      }
    for (Value &sum : rowSum)
      sum = reduceOverRowGroup(sum);
    return rowSum;
  }

  /// The denominators' sums of rows lo and hi: inter_l (q_l . n) qScale +
  /// the row sum of P.
  std::array<Value, 2> denominators(const ChunkOutputs &io,
                                    std::array<Value, 2> inter,
                                    std::array<Value, 2> qn,
                                    std::array<Value, 2> rowSum) {
    Value qScale = constant(io.qScale);
    return {addf(mulf(inter[0], mulf(qn[0], qScale)), rowSum[0]),
            addf(mulf(inter[1], mulf(qn[1], qScale)), rowSum[1])};
  }

  /// Q C's accumulators times inter_l qScale of their rows.
  void scaleByDecay(const ChunkOutputs &io, MutableArrayRef<Value> acc,
                    std::array<Value, 2> inter) {
    Value qScale = constant(io.qScale);
    for (auto [i, a] : llvm::enumerate(acc))
      a = mulf(a, mulf(inter[(i % 4) / 2], qScale));
  }

  /// 6. h = acc / (max(|den|, exp(-m_l)) + eps) for the rows inside the
  /// sequence, two adjacent columns per store.
  void normaliseAndStore(const ChunkOutputs &io, const OutputsCoords &c,
                         ArrayRef<Value> acc, std::array<Value, 2> den,
                         Value mSh) {
    Value eps = constant(io.eps);
    for (int64_t h = 0; h < 2; ++h) {
      Value l = h == 0 ? c.lo : c.hi;
      Value floor = exp(arith::NegFOp::create(b, loc, load(mSh, {l})));
      Value denom = addf(
          maxf(math::AbsFOp::create(b, loc, den[h]).getResult(), floor), eps);
      Value pos = add(c.t0, l);
      ifThen(ult(pos, c.seq), [&] {
        for (int64_t n = 0; n < io.dvTile / 8; ++n) {
          Value col = add(c.dv0, add(idx(n * 8), mul(c.t, idx(2))));
          SmallVector<Value> pair;
          for (int64_t e = 2 * h; e < 2 * h + 2; ++e)
            pair.push_back(
                arith::DivFOp::create(b, loc, acc[n * 4 + e], denom));
          storeVector(pair, io.h, {c.row, c.hd, pos, col});
        }
      });
    }
  }
};

/// The arithmetic of one decode position (the chunk kernels' for a chunk of
/// one), shared by the decode kernels so that the fused step kernel and
/// the separate ones compute alike.
class DecodeMath : protected KernelBuilder {
protected:
  using KernelBuilder::KernelBuilder;

  /// A thread's place in a decode grid of (column tiles, heads, batch
  /// rows) with `perLane` value columns a lane.
  struct Place {
    Value hd, row, tid, lane, warp, col;
  };
  Place place(gpu::LaunchOp launch, int64_t columns, int64_t perLane = 1) {
    Place p;
    p.hd = launch.getBlockIds().y;
    p.row = launch.getBlockIds().z;
    p.tid = launch.getThreadIds().x;
    p.lane = remui(p.tid, idx(32));
    p.warp = divui(p.tid, idx(32));
    p.col = add(mul(launch.getBlockIds().x, idx(columns)),
                mul(p.lane, idx(perLane)));
    return p;
  }

  struct StepGates {
    Value mNew, w, decay;
  };
  /// b_0 = log sigmoid(f), a_0 = (b_0 - b_0) + i, m' = max(b_0 + m, a_0),
  /// w = exp(a_0 - m') kScale, decay = exp(b_0 + m - m').
  StepGates stepGates(Value f, Value i, Value m, double kScale) {
    Value total = cellmath::logSigmoid(b, loc, f);
    Value a0 = addf(subf(total, total), i);
    Value carried = addf(total, m);
    Value mNew = maxf(carried, a0);
    return {mNew, mulf(exp(subf(a0, mNew)), constant(kScale)),
            exp(subf(carried, mNew))};
  }

  /// h of one value column: the chunk kernel's row 0 from q . C (`qc`),
  /// q . k and q . n of the entering state, v and the gates (cum = log
  /// sigmoid(f), the stabiliser max(cum + m, cum + (i - cum)), the decay
  /// of the entering state).
  Value normalisedOutput(Value qc, Value qk, Value qn, Value v, Value f,
                         Value i, Value m, double qScale, double kScale,
                         double eps) {
    Value cum = cellmath::logSigmoid(b, loc, f);
    Value carried = addf(cum, m);
    Value mComb = maxf(carried, addf(cum, subf(i, cum)));
    Value inter = exp(subf(carried, mComb));
    Value logD = addf(subf(cum, cum), i);
    Value p = mulf(mulf(qk, constant(qScale * kScale)),
                   exp(subf(logD, mComb)));
    Value scale = constant(qScale);
    Value den = addf(mulf(inter, mulf(qn, scale)), p);
    Value h = addf(mulf(qc, mulf(inter, scale)), mulf(p, v));
    Value floor = exp(arith::NegFOp::create(b, loc, mComb));
    Value denom =
        addf(maxf(math::AbsFOp::create(b, loc, den).getResult(), floor),
             constant(eps));
    return arith::DivFOp::create(b, loc, h, denom);
  }

  /// `v` rounded to `stored`'s element type and back (the carried states
  /// round to their storage type, as the chunk kernel's).
  Value roundTo(Value v, Value stored) {
    return castFloat(
        castFloat(v, cast<MemRefType>(stored.getType()).getElementType()),
        compute);
  }

};

/// The outputs of a decode step (one position, static): the chunk kernel
/// above would pad the position to a whole chunk of rows and walk C in a
/// dependent chain of tensor-core steps. Here a block owns 32 value columns
/// of one head: each of its 8 warps sums q[d] C[d, j] over an eighth of the
/// key dimension with a lane per column (coalesced rows of C, `unroll` loads
/// in flight per lane), warp 0 also forms q.k and q.n; then lane j of warp 0
/// combines the partials with the gate scalars exactly as the chunk kernel
/// computes its row 0.
class DecodeOutputsKernel : DecodeMath {
public:
  static constexpr int64_t columns = 32, warps = 8, unroll = 8;

  /// `perChunk`: the entering states are chunk-indexed (B, NH, 1, ...)
  /// results of the states op; else the initial states (B, NH, ...).
  DecodeOutputsKernel(OpBuilder &b, Location loc, bool perChunk)
      : DecodeMath(b, loc, b.getF32Type()), perChunk(perChunk) {}

  void build(const ChunkOutputs &io, gpu::LaunchOp launch) {
    ValueRange shared = launch.getWorkgroupAttributions();
    Value partialSh = shared[0], scalarSh = shared[1];
    auto [hd, row, tid, lane, warp, col] = place(launch, columns);
    Value pos = idx(0);
    auto entering = [&](Value state, SmallVector<Value> at) {
      if (perChunk)
        at.insert(at.begin() + 2, idx(0));
      return load(state, at);
    };

    // q . C over this warp's rows of C, for column `col`.
    int64_t rowsPerWarp = io.dhqk / warps;
    Value d0 = mul(warp, idx(rowsPerWarp));
    Value qc =
        forRange(0, rowsPerWarp, unroll, {constant(0.0)},
                 [&](Value dd, ValueRange acc) -> SmallVector<Value> {
                   SmallVector<Value> terms;
                   for (int64_t u = 0; u < unroll; ++u) {
                     Value d = add(d0, add(dd, idx(u)));
                     terms.push_back(
                         mulf(load(io.q, {row, hd, pos, d}),
                              entering(io.chunkC, {row, hd, d, col})));
                   }
                   Value sum = acc[0];
                   for (Value term : terms)
                     sum = addf(sum, term);
                   return {sum};
                 })[0];
    store(qc, partialSh, {warp, lane});
    // q . k and q . n by warp 0, lanes striding the key dimension.
    ifThen(eqi(warp, idx(0)), [&] {
      SmallVector<Value> dots = forRange(
          lane, idx(io.dhqk), idx(32), {constant(0.0), constant(0.0)},
          [&](Value d, ValueRange acc) -> SmallVector<Value> {
            Value qv = load(io.q, {row, hd, pos, d});
            return {addf(acc[0], mulf(qv, load(io.k, {row, hd, pos, d}))),
                    addf(acc[1],
                         mulf(qv, entering(io.chunkN, {row, hd, d})))};
          });
      for (int64_t i = 0; i < 2; ++i) {
        for (int32_t offset : {16, 8, 4, 2, 1})
          dots[i] = addf(dots[i], gpu::ShuffleOp::create(b, loc, dots[i],
                                                         offset, 32,
                                                         gpu::ShuffleMode::XOR)
                                      .getShuffleResult());
        ifThen(eqi(lane, idx(0)), [&] { store(dots[i], scalarSh, {idx(i)}); });
      }
    });
    gpu::BarrierOp::create(b, loc);

    ifThen(eqi(warp, idx(0)), [&] {
      Value acc = constant(0.0);
      for (int64_t w = 0; w < warps; ++w)
        acc = addf(acc, load(partialSh, {idx(w), lane}));
      Value qk = load(scalarSh, {idx(0)}), qn = load(scalarSh, {idx(1)});
      Value f = load(io.fgate, {row, hd, pos});
      Value i = load(io.igate, {row, hd, pos});
      Value m = entering(io.chunkM, {row, hd});
      Value v = load(io.v, {row, hd, pos, col});
      store(normalisedOutput(acc, qk, qn, v, f, i, m, io.qScale, io.kScale,
                             io.eps),
            io.h, {row, hd, pos, col});
    });
    gpu::TerminatorOp::create(b, loc);
  }

private:
  bool perChunk;
};

/// The operands and results of one chunk-states op, as buffers.
struct ChunkStates {
  Value k, v, igate, fgate;
  SmallVector<Value, 3> initial; ///< C, n, m; empty: zeros
  Value chunkC, chunkN, chunkM, finalC, finalN, finalM;
  int64_t chunk, dhqk, dhv, pTile, dvTile;
  double kScale;
};

/// `xlstm.mlstm_chunk_states`: the scan over chunks runs inside the kernel.
/// A block owns a (pTile x dvTile) tile of one head's C in registers (a
/// warp per 16 rows) and walks the chunks in order: it records the state
/// entering each chunk, computes the chunk's gate scalars (one thread, into
/// shared memory), decays its tile and adds (w k)^T V on tensor cores. The
/// blocks of the first DHV tile also carry n, the first block m.
class ChunkStatesKernel : KernelBuilder {
public:
  /// With `staged`, each chunk's keys, values and gates are copied into
  /// shared memory (cp.async, the next chunk's while this one computes).
  /// With `mma16` (staged only; k and v of one 16-bit type), the update
  /// runs on m16n8k16 tensor cores with ldmatrix fragments.
  ChunkStatesKernel(OpBuilder &b, Location loc, bool split, bool staged,
                    bool mma16)
      : KernelBuilder(b, loc, b.getF32Type()), staged(staged), mma16(mma16) {
    splitTF32 = split;
  }

  /// The staged kernel's dynamic shared memory: two chunks of K's tile
  /// columns (L x (pTile + 8)), V's (L x (tile + 8)) and the f and i gates
  /// (L each); the paddings keep fragment reads in distinct banks. With
  /// `swizzled` (the 16-bit kernel) K's and V's rows are dense, their
  /// 16-byte chunks swizzled (xlstm::swizzledColumn) instead.
  struct StagedLayout {
    int64_t kStride, vStride, k, v, f, i, total;
    StagedLayout(int64_t L, int64_t pTile, int64_t tile, int64_t kBytes,
                 int64_t vBytes, int64_t gateBytes, bool swizzled)
        : kStride(swizzled ? pTile : pTile + 8),
          vStride(swizzled ? tile : tile + 8) {
      k = 0;
      v = k + 2 * L * kStride * kBytes;
      f = v + 2 * L * vStride * vBytes;
      i = f + 2 * L * gateBytes;
      total = i + 2 * L * gateBytes;
    }
  };

  void build(const ChunkStates &io, gpu::LaunchOp launch) {
    ValueRange shared = launch.getWorkgroupAttributions();
    Value logfSh = shared[0], iSh = shared[1], cumSh = shared[2],
          wSh = shared[3], scalarSh = shared[4];
    int64_t L = io.chunk, threads = 2 * io.pTile;
    int64_t qTiles = io.dhv / io.dvTile;
    Value tile = launch.getBlockIds().x, hd = launch.getBlockIds().y,
          row = launch.getBlockIds().z;
    Value pTileIdx = divui(tile, idx(qTiles));
    Value qTileIdx = remui(tile, idx(qTiles));
    Value p0 = mul(pTileIdx, idx(io.pTile));
    Value q0 = mul(qTileIdx, idx(io.dvTile));
    Value tid = launch.getThreadIds().x;
    Value lane = remui(tid, idx(32)), warp = divui(tid, idx(32));
    MmaLane mmaLane = MmaLane::of(b, loc, lane);
    Value g = mmaLane.group, t = mmaLane.inGroup;
    Value seq = memref::DimOp::create(b, loc, io.k, idx(2));
    Value last = sub(seq, idx(1));
    Value numChunks = arith::CeilDivUIOp::create(b, loc, seq, idx(L));
    Value lo = add(p0, add(mul(warp, idx(16)), g)), hi = add(lo, idx(8));
    Value ownsN = eqi(qTileIdx, idx(0));
    Value nThread = ult(tid, idx(io.pTile));
    Value ownsM = eqi(tile, idx(0));
    Value p = add(p0, tid); // the n entry thread tid < pTile carries
    int64_t nTiles = io.dvTile / 8;
    // Accumulator e of column tile n sits at (row e < 2 ? lo : hi,
    // column q0 + 8 n + 2 t + e % 2).
    auto accColumn = [&](int64_t n, int64_t e) {
      return add(q0, add(idx(n * 8 + e % 2), mul(t, idx(2))));
    };

    // Where the chunk's operands come from: global memory (rows clamped to
    // the sequence), or this chunk's stage of shared memory (rows past the
    // sequence zero) with `p`/`col` relative to the block's tile.
    Value kSh, vSh, fSh, igateSh, stage;
    if (staged)
      std::tie(kSh, vSh, fSh, igateSh) = stagedViews(io, L);
    auto kAt = [&](Value t0, Value l, Value pAbs) {
      if (staged && mma16)
        return load(kSh, {stage, l,
                          swizzledColumn(b, loc, l, sub(pAbs, p0),
                                         io.pTile * elementBytes(io.k),
                                         elementBytes(io.k))});
      if (staged)
        return load(kSh, {stage, l, sub(pAbs, p0)});
      return load(io.k, {row, hd, minui(add(t0, l), last), pAbs});
    };
    // (Only the tf32 update reads V this way: never swizzled.)
    auto vAt = [&](Value t0, Value l, Value colAbs) {
      if (staged)
        return load(vSh, {stage, l, sub(colAbs, q0)});
      return load(io.v, {row, hd, minui(add(t0, l), last), colAbs});
    };
    auto gateAt = [&](Value gates, Value gatesSh, Value t0, Value l) {
      if (staged)
        return load(gatesSh, {stage, idx(0), l});
      return load(gates, {row, hd, minui(add(t0, l), last)});
    };
    // Queues the copies of chunk `c` into stage `into`.
    auto prefetch = [&](Value c, Value into) {
      Value t0 = mul(c, idx(L));
      auto rowInside = [&](Value r, Value) { return ult(add(t0, r), seq); };
      copyTileAsync(
          io.k, kSh, {into}, L, io.pTile, tid, threads, rowInside,
          [&](Value r, Value col) -> SmallVector<Value> {
            return {row, hd, add(t0, r), add(p0, col)};
          },
          /*elementsPerCopy=*/0, /*swizzled=*/mma16);
      copyTileAsync(
          io.v, vSh, {into}, L, io.dvTile, tid, threads, rowInside,
          [&](Value r, Value col) -> SmallVector<Value> {
            return {row, hd, add(t0, r), add(q0, col)};
          },
          /*elementsPerCopy=*/0, /*swizzled=*/mma16);
      // Gates an element at a time: their rows need not be 16-byte aligned.
      auto positionInside = [&](Value, Value l) {
        return ult(add(t0, l), seq);
      };
      for (auto [gates, gatesSh] :
           {std::pair(io.fgate, fSh), std::pair(io.igate, igateSh)})
        copyTileAsync(
            gates, gatesSh, {into}, 1, L, tid, threads, positionInside,
            [&](Value, Value l) -> SmallVector<Value> {
              return {row, hd, add(t0, l)};
            },
            /*elementsPerCopy=*/1);
    };
    if (staged) {
      prefetch(idx(0), idx(0));
      NVVM::CpAsyncCommitGroupOp::create(b, loc);
    }

    SmallVector<Value> init;
    for (int64_t n = 0; n < nTiles; ++n)
      for (int64_t e = 0; e < 4; ++e)
        init.push_back(io.initial.empty()
                           ? constant(0.0)
                           : load(io.initial[0],
                                  {row, hd, e < 2 ? lo : hi, accColumn(n, e)}));
    Value pSafe = minui(p, idx(io.dhqk - 1));
    init.push_back(io.initial.empty() ? constant(0.0)
                                      : load(io.initial[1], {row, hd, pSafe}));
    init.push_back(io.initial.empty() ? constant(0.0)
                                      : load(io.initial[2], {row, hd}));

    SmallVector<Value> state = forRange(
        idx(0), numChunks, idx(1), init,
        [&](Value chunkIdx, ValueRange it) -> SmallVector<Value> {
          ValueRange acc = it.take_front(nTiles * 4);
          Value n = it[nTiles * 4], m = it[nTiles * 4 + 1];
          if (staged) {
            // This chunk has landed and is visible, and every warp is done
            // with the stage (and the shared scalars) of the one before.
            stage = remui(chunkIdx, idx(2));
            NVVM::CpAsyncWaitGroupOp::create(b, loc, b.getI32IntegerAttr(0));
            gpu::BarrierOp::create(b, loc);
            Value next = add(chunkIdx, idx(1));
            ifThen(ult(next, numChunks),
                   [&] { prefetch(next, remui(next, idx(2))); });
            NVVM::CpAsyncCommitGroupOp::create(b, loc);
          }
          // The state entering this chunk: 16-bit, 8 adjacent columns a
          // store after a transpose within each quad (whole 32-byte
          // sectors, where pairs of columns filled half of one each);
          // else two adjacent columns a store (a quad's pairs of float32
          // fill a sector).
          Type enteringElt = elementTypeOf(io.chunkC);
          if ((enteringElt.isBF16() || enteringElt.isF16()) && nTiles % 4 == 0) {
            auto rows = quadRows16(SmallVector<Value>(acc), nTiles, lane, enteringElt);
            for (int64_t h = 0; h < 2; ++h)
              for (int64_t j = 0; j < nTiles / 4; ++j)
                vector::StoreOp::create(
                    b, loc, rows[h][j], io.chunkC,
                    ValueRange{row, hd, chunkIdx, h ? hi : lo,
                               add(q0, mul(add(idx(4 * j), t), idx(8)))},
                    /*nontemporal=*/false, b.getI64IntegerAttr(16));
          } else {
            for (int64_t nt = 0; nt < nTiles; ++nt)
              for (int64_t e = 0; e < 4; e += 2)
                storeVector(acc.slice(nt * 4 + e, 2), io.chunkC,
                            {row, hd, chunkIdx, e < 2 ? lo : hi,
                             accColumn(nt, e)});
          }
          ifThen(arith::AndIOp::create(b, loc, ownsN, nThread), [&] {
            store(n, io.chunkN, {row, hd, chunkIdx, p});
          });
          ifThen(arith::AndIOp::create(b, loc, ownsM, eqi(tid, idx(0))), [&] {
            store(m, io.chunkM, {row, hd, chunkIdx});
          });

          // Gate scalars: b_l (cumulative log forget), g = b_{len-1},
          // a_l = g - b_l + i_l, m' = max(g + m, max_l a_l),
          // w_l = exp(a_l - m') kScale (0 past the sequence), the decay
          // exp(g + m - m').
          Value t0 = mul(chunkIdx, idx(L));
          Value len = minui(sub(seq, t0), idx(L));
          if (L % 32 == 0)
            gateScalarsByWarp(
                io, len, m, tid, wSh, scalarSh,
                [&](Value l) { return gateAt(io.fgate, fSh, t0, l); },
                [&](Value l) { return gateAt(io.igate, igateSh, t0, l); });
          else
            gateScalarsSerially(io, row, hd, t0, len, last, m, tid, threads,
                                logfSh, iSh, cumSh, wSh, scalarSh);
          gpu::BarrierOp::create(b, loc);
          Value mNew = load(scalarSh, {idx(0)});
          Value decay = load(scalarSh, {idx(1)});

          // C' = decay C + (w k)^T V; rows p of C are A's rows, positions l
          // the reduction.
          SmallVector<Value> decayed;
          for (Value a : acc)
            decayed.push_back(mulf(a, decay));
          SmallVector<Value> next =
              mma16 ? multiply16(io, decayed, kSh, vSh, wSh, stage, warp, lane)
                    : forRange(
              0, L, 8, decayed,
              [&](Value kk, ValueRange c) -> SmallVector<Value> {
                Value l0 = add(kk, t), l4 = add(l0, idx(4));
                Value w0 = load(wSh, {l0}), w4 = load(wSh, {l4});
                SmallVector<Value> a = {mulf(kAt(t0, l0, lo), w0),
                                        mulf(kAt(t0, l0, hi), w0),
                                        mulf(kAt(t0, l4, lo), w4),
                                        mulf(kAt(t0, l4, hi), w4)};
                TF32Fragment aFrag = fragment(a);
                SmallVector<Value> out;
                for (int64_t nt = 0; nt < nTiles; ++nt) {
                  Value col = add(q0, add(idx(nt * 8), g));
                  SmallVector<Value> bf = {vAt(t0, l0, col),
                                           vAt(t0, l4, col)};
                  llvm::append_range(
                      out, mma(aFrag, fragment(bf), c.slice(nt * 4, 4)));
                }
                return out;
              });
          // n' = decay n + sum_l w_l k_l, by the threads that carry n.
          auto nUpdate =
              scf::IfOp::create(b, loc, TypeRange{compute},
                                arith::AndIOp::create(b, loc, ownsN, nThread),
                                /*withElseRegion=*/true);
          {
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPointToStart(nUpdate.thenBlock());
            // Eight independent partial sums (L is a multiple of 8): the
            // loads of a step are in flight together, not one add apart.
            SmallVector<Value> partial(8, constant(0.0));
            partial = forRange(
                0, L, 8, partial,
                [&](Value l0, ValueRange s) -> SmallVector<Value> {
                  SmallVector<Value> next;
                  for (int64_t u = 0; u < 8; ++u) {
                    Value l = add(l0, idx(u));
                    next.push_back(
                        addf(s[u], mulf(load(wSh, {l}), kAt(t0, l, p))));
                  }
                  return next;
                });
            Value sum = mulf(n, decay);
            for (Value x : partial)
              sum = addf(sum, x);
            scf::YieldOp::create(b, loc, sum);
            b.setInsertionPointToStart(nUpdate.elseBlock());
            scf::YieldOp::create(b, loc, n);
          }
          // The next chunk overwrites the shared scalars (staged: after the
          // barrier that starts its iteration).
          if (!staged)
            gpu::BarrierOp::create(b, loc);
          // The carried state rounds to its storage type every chunk, as
          // stored by the generic lowering (a no-op for float32 states).
          auto round = [&](Value v, Value stored) {
            Type elt = cast<MemRefType>(stored.getType()).getElementType();
            return castFloat(castFloat(v, elt), compute);
          };
          for (Value &v : next)
            v = round(v, io.finalC);
          next.push_back(round(nUpdate.getResult(0), io.finalN));
          next.push_back(round(mNew, io.finalM));
          return next;
        });

    for (int64_t nt = 0; nt < nTiles; ++nt)
      for (int64_t e = 0; e < 4; ++e)
        store(state[nt * 4 + e], io.finalC,
              {row, hd, e < 2 ? lo : hi, accColumn(nt, e)});
    ifThen(arith::AndIOp::create(b, loc, ownsN, nThread), [&] {
      store(state[nTiles * 4], io.finalN, {row, hd, p});
    });
    ifThen(arith::AndIOp::create(b, loc, ownsM, eqi(tid, idx(0))), [&] {
      store(state[nTiles * 4 + 1], io.finalM, {row, hd});
    });
    // The last chunk's empty prefetch group (and, for an empty sequence,
    // chunk 0's zero-fill) completes before the block exits.
    if (staged)
      NVVM::CpAsyncWaitGroupOp::create(b, loc, b.getI32IntegerAttr(0));
    gpu::TerminatorOp::create(b, loc);
  }

private:
  /// The staged kernel's K, V, f and i buffers (two chunks each).
  std::tuple<Value, Value, Value, Value> stagedViews(const ChunkStates &io,
                                                     int64_t L) {
    StagedLayout layout(L, io.pTile, io.dvTile, elementBytes(io.k),
                        elementBytes(io.v), elementBytes(io.fgate), mma16);
    Value bytes = dynamicSharedMemory();
    return {
        sharedView(bytes, {2, L, layout.kStride}, elementTypeOf(io.k), layout.k),
        sharedView(bytes, {2, L, layout.vStride}, elementTypeOf(io.v), layout.v),
        sharedView(bytes, {2, 1, L}, elementTypeOf(io.fgate), layout.f),
        sharedView(bytes, {2, 1, L}, elementTypeOf(io.igate), layout.i)};
  }

  bool staged, mma16;

  /// acc + (w k)^T V over this chunk's stage on m16n8k16 tensor cores: A
  /// (this warp's 16 rows of the key tile x 16 positions) by a transposed
  /// ldmatrix of K, scaled by w per position and rounded back to the
  /// operands' type; B (16 positions x 16 value columns) by a transposed
  /// ldmatrix of V.
  SmallVector<Value> multiply16(const ChunkStates &io, ArrayRef<Value> acc,
                                Value kSh, Value vSh, Value wSh, Value stage,
                                Value warp, Value lane) {
    Type elt = elementTypeOf(io.k);
    int64_t kRowBytes = io.pTile * elementBytes(io.k),
            vRowBytes = io.dvTile * elementBytes(io.v);
    Value lane8 = remui(lane, idx(8)), laneHalf = divui(lane, idx(16));
    Value quarter = remui(divui(lane, idx(8)), idx(2));
    Value t2 = mul(remui(lane, idx(4)), idx(2));
    int64_t nTiles = io.dvTile / 8;
    return forRange(
        0, io.chunk, 16, acc,
        [&](Value kk, ValueRange c) -> SmallVector<Value> {
          // Matrix i = lane / 8 of the A fragment: positions kk + 8 (i / 2)
          // on, key rows 16 warp + 8 (i % 2) on (16-byte chunk 2 warp + i %
          // 2 of the swizzled rows).
          Value kRow = add(kk, add(lane8, mul(laneHalf, idx(8))));
          SmallVector<Value> a = ldmatrixX4(
              kSh,
              {stage, kRow,
               swizzledChunkColumn(b, loc, kRow,
                                   add(mul(warp, idx(2)), quarter), kRowBytes,
                                   elementBytes(io.k))},
              true);
          // a0, a1: positions kk + 2t, + 1; a2, a3: kk + 8 + 2t, + 1.
          for (int64_t half = 0; half < 2; ++half) {
            Value l = add(kk, add(idx(8 * half), t2));
            Value w0 = load(wSh, {l}), w1 = load(wSh, {add(l, idx(1))});
            for (int64_t r = 2 * half; r < 2 * half + 2; ++r) {
              auto [x0, x1] = unpackPair(a[r], elt);
              a[r] = packPair(mulf(x0, w0), mulf(x1, w1), elt);
            }
          }
          SmallVector<Value> out(c);
          for (int64_t np = 0; np < nTiles / 2; ++np) {
            Value vRow = add(kk, add(lane8, mul(quarter, idx(8))));
            SmallVector<Value> regs = ldmatrixX4(
                vSh,
                {stage, vRow,
                 swizzledChunkColumn(b, loc, vRow, add(idx(2 * np), laneHalf),
                                     vRowBytes, elementBytes(io.v))},
                true);
            for (int64_t h = 0; h < 2; ++h) {
              int64_t at = 4 * (2 * np + h);
              SmallVector<Value> d = mma16x8x16(
                  b, loc, elt, a, ArrayRef<Value>(regs).slice(2 * h, 2),
                  ArrayRef<Value>(out).slice(at, 4));
              llvm::copy(d, out.begin() + at);
            }
          }
          return out;
        });
  }

  /// The chunk's gate scalars by warp 0: each lane takes L / 32 consecutive
  /// positions, the cumulative sums meet by an inclusive warp scan
  /// (shuffles up), the maximum by butterfly shuffles.
  void gateScalarsByWarp(const ChunkStates &io, Value len, Value m, Value tid,
                         Value wSh, Value scalarSh,
                         function_ref<Value(Value)> fgateAt,
                         function_ref<Value(Value)> igateAt) {
    int64_t per = io.chunk / 32;
    ifThen(ult(tid, idx(32)), [&] {
      Value first = mul(tid, idx(per));
      SmallVector<Value> local, input, valid;
      Value run = constant(0.0);
      for (int64_t e = 0; e < per; ++e) {
        Value l = add(first, idx(e));
        Value inside = ult(l, len);
        Value logf = cellmath::logSigmoid(b, loc, fgateAt(l));
        run = addf(
            run, arith::SelectOp::create(b, loc, inside, logf, constant(0.0)));
        local.push_back(run);
        input.push_back(igateAt(l));
        valid.push_back(inside);
      }
      Value inclusive = run;
      for (int32_t offset : {1, 2, 4, 8, 16}) {
        auto up = gpu::ShuffleOp::create(b, loc, inclusive, offset, 32,
                                         gpu::ShuffleMode::UP);
        inclusive =
            addf(inclusive,
                 arith::SelectOp::create(b, loc, up.getValid(),
                                         up.getShuffleResult(), constant(0.0)));
      }
      Value before = subf(inclusive, run);
      // Past the sequence the terms are 0: the last lane holds g.
      Value total = gpu::ShuffleOp::create(b, loc, inclusive, 31, 32,
                                           gpu::ShuffleMode::IDX)
                        .getShuffleResult();
      SmallVector<Value> a;
      Value aMax = constant(-INFINITY);
      for (int64_t e = 0; e < per; ++e) {
        Value cum = addf(before, local[e]);
        Value al = addf(subf(total, cum), input[e]);
        al = arith::SelectOp::create(b, loc, valid[e], al, constant(-INFINITY));
        a.push_back(al);
        aMax = maxf(aMax, al);
      }
      for (int32_t offset : {16, 8, 4, 2, 1})
        aMax = maxf(aMax, gpu::ShuffleOp::create(b, loc, aMax, offset, 32,
                                                 gpu::ShuffleMode::XOR)
                              .getShuffleResult());
      Value carried = addf(total, m);
      Value mNew = maxf(carried, aMax);
      Value kScale = constant(io.kScale);
      for (int64_t e = 0; e < per; ++e) {
        Value w = mulf(exp(subf(a[e], mNew)), kScale);
        store(arith::SelectOp::create(b, loc, valid[e], w, constant(0.0)), wSh,
              {add(first, idx(e))});
      }
      ifThen(eqi(tid, idx(0)), [&] {
        store(mNew, scalarSh, {idx(0)});
        store(exp(subf(carried, mNew)), scalarSh, {idx(1)});
      });
    });
  }

  /// The same by one thread, for chunk lengths that are not a multiple of
  /// 32.
  void gateScalarsSerially(const ChunkStates &io, Value row, Value hd, Value t0,
                           Value len, Value last, Value m, Value tid,
                           int64_t threads, Value logfSh, Value iSh,
                           Value cumSh, Value wSh, Value scalarSh) {
    int64_t L = io.chunk;
    forRange(tid, idx(L), idx(threads), {},
             [&](Value l, ValueRange) -> SmallVector<Value> {
               Value r = minui(add(t0, l), last);
               store(cellmath::logSigmoid(b, loc, load(io.fgate, {row, hd, r})),
                     logfSh, {l});
               store(load(io.igate, {row, hd, r}), iSh, {l});
               return {};
             });
    gpu::BarrierOp::create(b, loc);
    ifThen(eqi(tid, idx(0)), [&] {
      Value total = forRange(idx(0), len, idx(1), {constant(0.0)},
                             [&](Value l, ValueRange c) -> SmallVector<Value> {
                               Value cum = addf(c[0], load(logfSh, {l}));
                               store(cum, cumSh, {l});
                               return {cum};
                             })[0];
      Value aMax = forRange(idx(0), len, idx(1), {constant(-INFINITY)},
                            [&](Value l, ValueRange a) -> SmallVector<Value> {
                              Value al = addf(subf(total, load(cumSh, {l})),
                                              load(iSh, {l}));
                              store(al, wSh, {l});
                              return {maxf(a[0], al)};
                            })[0];
      Value carried = addf(total, m);
      Value mNew = maxf(carried, aMax);
      Value kScale = constant(io.kScale);
      forRange(0, L, 1, {}, [&](Value l, ValueRange) -> SmallVector<Value> {
        Value w = mulf(exp(subf(load(wSh, {l}), mNew)), kScale);
        store(arith::SelectOp::create(b, loc, ult(l, len), w, constant(0.0)),
              wSh, {l});
        return {};
      });
      store(mNew, scalarSh, {idx(0)});
      store(exp(subf(carried, mNew)), scalarSh, {idx(1)});
    });
  }
};

/// The states of a decode step (one position, one chunk): the chunk kernel
/// would pad the position to a chunk of tensor-core rows. Here every thread
/// of a block owns one value column j of one head and a stride of the key
/// rows d: it records the entering state C[d, j] and writes decay C[d, j] +
/// w k[d] v[j], `unroll` rows in flight; the first column block carries n,
/// its first thread m. The gate scalars are the chunk kernel's for one
/// position (every thread forms them, a few loads and exponentials).
class DecodeStatesKernel : DecodeMath {
public:
  static constexpr int64_t columns = 32, warps = 8, unroll = 8;

  /// `rowSplits` blocks share a column tile, each `dhqk / rowSplits` rows
  /// of C (at batch 1 the heads and column tiles alone are too few blocks
  /// to stream C at bandwidth).
  /// Without `storeEntering`, the chunk-indexed results (the entering
  /// state, which no one reads) are not written.
  DecodeStatesKernel(OpBuilder &b, Location loc, int64_t rowSplits,
                     bool storeEntering)
      : DecodeMath(b, loc, b.getF32Type()), rowSplits(rowSplits),
        storeEntering(storeEntering) {}

  /// The most row splits (up to 4) that `dhqk` allows.
  static int64_t rowSplitsFor(int64_t dhqk) {
    for (int64_t splits : {4, 2})
      if (dhqk % (splits * warps * unroll) == 0)
        return splits;
    return 1;
  }

  void build(const ChunkStates &io, gpu::LaunchOp launch) {
    int64_t columnTiles = io.dhv / columns;
    Value tile = remui(launch.getBlockIds().x, idx(columnTiles));
    Value part = divui(launch.getBlockIds().x, idx(columnTiles));
    Value dv0 = mul(tile, idx(columns));
    Value hd = launch.getBlockIds().y, row = launch.getBlockIds().z;
    Value tid = launch.getThreadIds().x;
    Value lane = remui(tid, idx(32)), warp = divui(tid, idx(32));
    Value pos = idx(0), chunkIdx = idx(0);
    Value col = add(dv0, lane);
    bool zeros = io.initial.empty();
    Value m = zeros ? constant(0.0) : load(io.initial[2], {row, hd});

    auto [mNew, w, decay] =
        stepGates(load(io.fgate, {row, hd, pos}),
                  load(io.igate, {row, hd, pos}), m, io.kScale);
    auto round = [&](Value v, Value stored) { return roundTo(v, stored); };

    Value v = load(io.v, {row, hd, pos, col});
    int64_t rowsPerBlock = io.dhqk / rowSplits;
    Value firstRow = mul(part, idx(rowsPerBlock));
    forRange(0, rowsPerBlock / warps, unroll, {},
             [&](Value dd, ValueRange) -> SmallVector<Value> {
               SmallVector<Value> ds, cs;
               for (int64_t u = 0; u < unroll; ++u) {
                 Value d = add(firstRow,
                               add(mul(add(dd, idx(u)), idx(warps)), warp));
                 ds.push_back(d);
                 cs.push_back(zeros ? constant(0.0)
                                    : load(io.initial[0], {row, hd, d, col}));
               }
               for (auto [d, c] : llvm::zip(ds, cs)) {
                 if (storeEntering)
                   store(c, io.chunkC, {row, hd, chunkIdx, d, col});
                 Value kw = mulf(load(io.k, {row, hd, pos, d}), w);
                 store(round(addf(mulf(c, decay), mulf(kw, v)), io.finalC),
                       io.finalC, {row, hd, d, col});
               }
               return {};
             });
    // n' = decay n + w k, by the first block of the head.
    ifThen(eqi(launch.getBlockIds().x, idx(0)), [&] {
      forRange(tid, idx(io.dhqk), idx(32 * warps), {},
               [&](Value d, ValueRange) -> SmallVector<Value> {
                 Value n = zeros ? constant(0.0)
                                 : load(io.initial[1], {row, hd, d});
                 if (storeEntering)
                   store(n, io.chunkN, {row, hd, chunkIdx, d});
                 Value next = addf(mulf(n, decay),
                                   mulf(w, load(io.k, {row, hd, pos, d})));
                 store(round(next, io.finalN), io.finalN, {row, hd, d});
                 return {};
               });
      ifThen(eqi(tid, idx(0)), [&] {
        if (storeEntering)
          store(m, io.chunkM, {row, hd, chunkIdx});
        store(round(mNew, io.finalM), io.finalM, {row, hd});
      });
    });
    gpu::TerminatorOp::create(b, loc);
  }

private:
  int64_t rowSplits;
  bool storeEntering;
};

/// A whole decode step in one kernel: the outputs of the one position and
/// the final states, where the step program's outputs op reads the
/// entering states of its states op. The separate kernels each read the
/// block's C (4 MB per batch row in the xLSTM-7B); this one reads it once.
/// A block owns 32 `perLane` value columns of one head and batch row, a
/// lane `perLane` adjacent columns (one vector load per row); its 16 warps
/// split the key rows, all of a step's loads in flight (16 rows a step
/// with one column a lane, 8 with four): each thread writes
/// decay C[d, j] + w k[d] v[j] (the states kernel's arithmetic) and sums
/// q[d] C[d, j], q.k and q.n over its warp's rows (the head's first block
/// also writes n' and m'); warp 0 then combines the warps' sums as the
/// outputs kernel does. No loop over the key dimension runs in one warp
/// alone: its serial loads would cost more than streaming C.
/// With `statesBeforeWait` (grid-dependency-wait, where nothing in the
/// program writes the entering states first) the first rows of C, n and m
/// are loaded before the kernel waits on the grid before it
/// (griddepcontrol), the rest after: at batch 1 C is one round trip of
/// loads, which then overlaps the end of that grid.
class DecodeStepKernel : DecodeMath {
public:
  static constexpr int64_t warps = 16, loadsInFlight = 16;

  DecodeStepKernel(OpBuilder &b, Location loc, int64_t perLane,
                   bool statesBeforeWait = false)
      : DecodeMath(b, loc, b.getF32Type()), perLane(perLane),
        statesBeforeWait(statesBeforeWait) {}

  /// Value columns per block with `perLane` columns a lane.
  static int64_t columnsFor(int64_t perLane) { return 32 * perLane; }

  /// Whether the kernel takes DHQK x DHV heads with `perLane` columns a
  /// lane.
  static bool fits(int64_t dhqk, int64_t dhv, int64_t perLane) {
    return dhv % columnsFor(perLane) == 0 && dhqk % warps == 0;
  }

  /// Workgroup buffers: the warps' q . C per column, their q . k, q . n.
  static SmallVector<Type> sharedTypes(MLIRContext *ctx, int64_t perLane) {
    Type f32 = Float32Type::get(ctx);
    return {sharedMemoryType(ctx, {warps, columnsFor(perLane)}, f32),
            sharedMemoryType(ctx, {warps, 2}, f32)};
  }

  /// `outputs` supplies q, h and the scales; `states` the rest (its
  /// initial states are the entering ones).
  void build(const ChunkOutputs &outputs, const ChunkStates &states,
             gpu::LaunchOp launch) {
    ValueRange shared = launch.getWorkgroupAttributions();
    Value partialSh = shared[0], dotsSh = shared[1];
    // (col: the lane's first column.)
    auto [hd, row, tid, lane, warp, col] =
        place(launch, columnsFor(perLane), perLane);
    Value pos = idx(0);
    Value c0 = states.initial[0], n0 = states.initial[1];
    Value m = load(states.initial[2], {row, hd});
    // The lane's columns of a row: one element, or a vector of them.
    auto columns = [&](Value memref, SmallVector<Value> at) {
      at.push_back(col);
      return perLane == 1 ? SmallVector<Value>{load(memref, at)}
                          : loadVector(memref, at, perLane);
    };
    // This warp's rows: `unroll` rows from d0 + dd.
    int64_t rowsPerWarp = states.dhqk / warps;
    int64_t unroll = std::min<int64_t>(
        loadsInFlight / perLane,
        int64_t(1) << llvm::countr_zero(uint64_t(rowsPerWarp)));
    Value d0 = mul(warp, idx(rowsPerWarp));
    struct Rows {
      SmallVector<Value> ds, qs, ks, ns;
      SmallVector<SmallVector<Value>> cs;
    };
    // Their C columns, q, k and n, row by row; without `inputs`, C and n
    // only (loadInputRows adds q and k).
    auto loadRows = [&](Value dd, bool inputs = true) {
      Rows r;
      for (int64_t u = 0; u < unroll; ++u) {
        Value d = add(d0, add(dd, idx(u)));
        r.ds.push_back(d);
        r.cs.push_back(columns(c0, {row, hd, d}));
        if (inputs) {
          r.qs.push_back(load(outputs.q, {row, hd, pos, d}));
          r.ks.push_back(load(states.k, {row, hd, pos, d}));
        }
        r.ns.push_back(load(n0, {row, hd, d}));
      }
      return r;
    };
    // The rows' q and k, which the grid before may write.
    auto loadInputRows = [&](Rows &r) {
      for (Value d : r.ds) {
        r.qs.push_back(load(outputs.q, {row, hd, pos, d}));
        r.ks.push_back(load(states.k, {row, hd, pos, d}));
      }
    };
    std::optional<Rows> early;
    if (statesBeforeWait) {
      early = loadRows(idx(0), /*inputs=*/false);
      // (xlstm-grid-dependency-wait adds the trigger for the next grid.)
      NVVM::GriddepcontrolOp::create(b, loc, NVVM::GridDepActionKind::wait);
    }
    Value f = load(states.fgate, {row, hd, pos});
    Value i = load(states.igate, {row, hd, pos});
    auto storeColumns = [&](ValueRange values, Value memref,
                            SmallVector<Value> at) {
      at.push_back(col);
      if (perLane == 1)
        store(values[0], memref, at);
      else
        storeVector(values, memref, at);
    };
    SmallVector<Value> v = columns(states.v, {row, hd, pos});
    // The head's first block writes n' (lane 0 of each warp, its rows)
    // and m'.
    Value first = eqi(launch.getBlockIds().x, idx(0));
    Value writesN = arith::AndIOp::create(b, loc, first, eqi(lane, idx(0)));

    // This warp's rows: all loads (C by columns; q, k, n the same for
    // every lane) first, then the new state's stores; q . C, q . k and
    // q . n summed in row order (the last two alike in every lane).
    // The first rows' loads go out before the gates' arithmetic, which
    // waits on f, i and m: C's first round trip overlaps theirs.
    Rows firstRows = early ? *early : loadRows(idx(0));
    if (early)
      loadInputRows(firstRows);
    auto [mNew, w, decay] = stepGates(f, i, m, states.kScale);
    // The new state's rows, and the sums `acc` (q . C per column, then
    // q . k, q . n) with them.
    auto update = [&](const Rows &r, ValueRange acc) {
      SmallVector<Value> next(acc);
      for (int64_t u = 0; u < unroll; ++u) {
        Value kw = mulf(r.ks[u], w);
        SmallVector<Value> updated;
        for (int64_t j = 0; j < perLane; ++j) {
          updated.push_back(addf(mulf(r.cs[u][j], decay), mulf(kw, v[j])));
          next[j] = addf(next[j], mulf(r.qs[u], r.cs[u][j]));
        }
        storeColumns(updated, states.finalC, {row, hd, r.ds[u]});
        next[perLane] = addf(next[perLane], mulf(r.qs[u], r.ks[u]));
        next[perLane + 1] = addf(next[perLane + 1], mulf(r.qs[u], r.ns[u]));
      }
      ifThen(writesN, [&] {
        for (int64_t u = 0; u < unroll; ++u)
          store(roundTo(addf(mulf(r.ns[u], decay), mulf(w, r.ks[u])),
                        states.finalN),
                states.finalN, {row, hd, r.ds[u]});
      });
      return next;
    };
    SmallVector<Value> sums =
        update(firstRows, SmallVector<Value>(perLane + 2, constant(0.0)));
    sums = forRange(unroll, rowsPerWarp, unroll, sums,
                    [&](Value dd, ValueRange acc) -> SmallVector<Value> {
                      return update(loadRows(dd), acc);
                    });
    Value lane0 = mul(lane, idx(perLane));
    for (int64_t j = 0; j < perLane; ++j)
      store(sums[j], partialSh, {warp, add(lane0, idx(j))});
    ifThen(eqi(lane, idx(0)), [&] {
      store(sums[perLane], dotsSh, {warp, idx(0)});
      store(sums[perLane + 1], dotsSh, {warp, idx(1)});
    });
    ifThen(arith::AndIOp::create(b, loc, first, eqi(tid, idx(0))), [&] {
      store(roundTo(mNew, states.finalM), states.finalM, {row, hd});
    });
    gpu::BarrierOp::create(b, loc);

    // Warp 0: the warps' sums in order, h of the lane's columns.
    ifThen(eqi(warp, idx(0)), [&] {
      Value qk = constant(0.0), qn = constant(0.0);
      for (int64_t w = 0; w < warps; ++w) {
        qk = addf(qk, load(dotsSh, {idx(w), idx(0)}));
        qn = addf(qn, load(dotsSh, {idx(w), idx(1)}));
      }
      for (int64_t j = 0; j < perLane; ++j) {
        Value qc = constant(0.0);
        for (int64_t w = 0; w < warps; ++w)
          qc = addf(qc, load(partialSh, {idx(w), add(lane0, idx(j))}));
        store(normalisedOutput(qc, qk, qn, v[j], f, i, m, outputs.qScale,
                               outputs.kScale, outputs.eps),
              outputs.h, {row, hd, pos, add(col, idx(j))});
      }
    });
    gpu::TerminatorOp::create(b, loc);
  }

private:
  int64_t perLane;
  bool statesBeforeWait;
};

bool isNarrowFloat(Type t) { return t.isBF16() || t.isF16(); }


/// Whether a staged kernel can copy `v`'s elements 16 bytes at a time and
/// convert them: 16- or 32-bit floats.
bool isStageable(Value v) {
  int64_t bytes = elementBytes(v);
  return bytes == 2 || bytes == 4;
}

/// (b, s, h, d) <-> (b, h, s, d): the mLSTM layers lay q, k, v out with
/// the heads behind the sequence and hand the cell transposes of them; h
/// goes back the same way.
constexpr std::array<int64_t, 4> kSwapHeadsAndSequence = {0, 2, 1, 3};

/// Whether `op` swaps dimensions 1 and 2 of a rank-4 tensor (q, k, v, h),
/// or of a rank-3 one where `gates` ((b, s, h) <-> (b, h, s): the gate
/// pre-activations).
bool swapsHeadsAndSequence(linalg::TransposeOp op, bool gates = false) {
  ArrayRef<int64_t> swap(kSwapHeadsAndSequence);
  return op && op.getPermutation() == (gates ? swap.take_front(3) : swap);
}

/// Where the only reader of `h` (B, NH, S, DHV) is a transpose back to
/// (B, S, NH, DHV), besides questions of its sizes: that transpose.
linalg::TransposeOp headsLastReader(Value h) {
  linalg::TransposeOp transpose;
  for (Operation *user : h.getUsers()) {
    if (isa<tensor::DimOp>(user))
      continue;
    auto reader = dyn_cast<linalg::TransposeOp>(user);
    if (transpose || !reader || reader.getInput() != h ||
        !swapsHeadsAndSequence(reader))
      return {};
    transpose = reader;
  }
  return transpose;
}

/// The buffers of one op's kernels where q, k, v or h (B, NH, S, D) are
/// transposes of (B, S, NH, D) tensors: the kernels take those tensors'
/// buffers and index them through a transposed view made inside each
/// launch (a host program has no transposes; D stays contiguous, so every
/// load and copy works alike), and the transposing copies go once nothing
/// else reads them.
class HeadsLastBuffers {
public:
  /// `enabled`: the pass's heads-last-operands (off: every buffer as the op
  /// has it).
  explicit HeadsLastBuffers(bool enabled) : enabled(enabled) {}

  /// A q, k or v operand as the buffer the kernels take.
  Value operand(OpBuilder &b, Location loc, Value v) {
    auto transpose = v.getDefiningOp<linalg::TransposeOp>();
    if (!enabled || !swapsHeadsAndSequence(transpose))
      return toReadOnlyBuffer(b, loc, v);
    Value buffer = toReadOnlyBuffer(b, loc, transpose.getInput());
    swapped.push_back(buffer);
    return buffer;
  }

  /// A gate operand (B, NH, S) as the buffer the kernels take: a (B, S,
  /// NH) one where the gate is its transpose (the gates are projections'
  /// outputs, heads last; the kernels read them an element at a time).
  Value gate(OpBuilder &b, Location loc, Value v) {
    auto transpose = v.getDefiningOp<linalg::TransposeOp>();
    if (!enabled || !swapsHeadsAndSequence(transpose, /*gates=*/true))
      return toReadOnlyBuffer(b, loc, v);
    Value buffer = toReadOnlyBuffer(b, loc, transpose.getInput());
    swapped.push_back(buffer);
    return buffer;
  }

  /// The buffer a kernel writes the result `h` (B, NH, S, DHV) into, of
  /// `sizes` (null where static): a (B, S, NH, DHV) one where a transpose
  /// back to that layout alone reads h.
  Value result(OpBuilder &b, Location loc, Value h, ArrayRef<Value> sizes) {
    linalg::TransposeOp transpose = headsLastReader(h);
    if (!enabled || !transpose)
      return allocateLike(b, loc, h.getType(), sizes);
    Value buffer =
        allocateLike(b, loc, transpose.getResult()[0].getType(),
                     {sizes[0], sizes[2], sizes[1], sizes[3]});
    swapped.push_back(buffer);
    return buffer;
  }

  /// Size `d` of `buffer` as the kernels see it (B, NH, S, D).
  Value dim(OpBuilder &b, Location loc, Value buffer, int64_t d) {
    if (isSwapped(buffer))
      d = kSwapHeadsAndSequence[d];
    return memref::DimOp::create(
        b, loc, buffer, arith::ConstantIndexOp::create(b, loc, d));
  }

  /// `buffer` as a kernel sees it, made at the builder's point (inside its
  /// launch).
  Value inKernel(OpBuilder &b, Location loc, Value buffer) {
    if (!isSwapped(buffer))
      return buffer;
    // (Rank 4: q, k, v, h; rank 3: a gate.)
    int64_t rank = cast<MemRefType>(buffer.getType()).getRank();
    return memref::TransposeOp::create(
        b, loc, buffer,
        AffineMapAttr::get(AffineMap::getPermutationMap(
            ArrayRef<int64_t>(kSwapHeadsAndSequence).take_front(rank),
            b.getContext())));
  }
  ChunkOutputs inKernel(OpBuilder &b, Location loc, ChunkOutputs io) {
    io.q = inKernel(b, loc, io.q);
    io.k = inKernel(b, loc, io.k);
    io.v = inKernel(b, loc, io.v);
    io.igate = inKernel(b, loc, io.igate);
    io.fgate = inKernel(b, loc, io.fgate);
    io.h = inKernel(b, loc, io.h);
    return io;
  }
  ChunkStates inKernel(OpBuilder &b, Location loc, ChunkStates io) {
    io.k = inKernel(b, loc, io.k);
    io.v = inKernel(b, loc, io.v);
    io.igate = inKernel(b, loc, io.igate);
    io.fgate = inKernel(b, loc, io.fgate);
    return io;
  }

  /// Replaces the result `h` by the tensor of `buffer` (result()); where
  /// that holds the (B, S, NH, DHV) layout, the transpose back goes (its
  /// readers take the buffer's tensor) and h's sizes are asked of it.
  void replaceResult(RewriterBase &rewriter, Location loc, Value h,
                     Value buffer) {
    if (!isSwapped(buffer)) {
      rewriter.replaceAllUsesWith(
          h, toTensor(rewriter, loc, h.getType(), buffer));
      return;
    }
    linalg::TransposeOp transpose = headsLastReader(h);
    Value result = transpose.getResult()[0];
    Value tensor = toTensor(rewriter, loc, result.getType(), buffer);
    rewriter.replaceAllUsesWith(result, tensor);
    rewriter.eraseOp(transpose);
    for (Operation *user : llvm::make_early_inc_range(h.getUsers())) {
      auto dim = cast<tensor::DimOp>(user);
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPoint(dim);
      // (Only 1 and 2 swap: an index out of range stays as it was.)
      std::optional<int64_t> d = dim.getConstantIndex();
      Value index =
          d ? arith::ConstantIndexOp::create(rewriter, loc,
                                             *d == 1   ? 2
                                             : *d == 2 ? 1
                                                       : *d)
                  .getResult()
            : Value();
      // (A size asked at a run-time index: the same permutation, computed.)
      if (!index) {
        Value i = dim.getIndex();
        auto cst = [&](int64_t v) {
          return arith::ConstantIndexOp::create(rewriter, loc, v);
        };
        auto is = [&](int64_t v) {
          return arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::eq,
                                       i, cst(v));
        };
        index = arith::SelectOp::create(
            rewriter, loc, is(1), cst(2),
            arith::SelectOp::create(rewriter, loc, is(2), cst(1), i));
      }
      rewriter.replaceOpWithNewOp<tensor::DimOp>(dim, tensor, index);
    }
  }

private:
  bool isSwapped(Value buffer) const {
    return llvm::is_contained(swapped, buffer);
  }
  bool enabled;
  SmallVector<Value, 4> swapped;
};

/// Whether the kernels can take `op`: every operand and result at most
/// float32 (they compute in float32), and the results static except for
/// the batch (dim 0) and the sequence or chunk count (dim 2), which the
/// kernels size from the inputs.
bool kernelsSupport(Operation *op) {
  auto fits = [](Type t) {
    auto shaped = cast<ShapedType>(t);
    return shaped.getElementType().getIntOrFloatBitWidth() <= 32;
  };
  if (!llvm::all_of(op->getOperandTypes(), fits) ||
      !llvm::all_of(op->getResultTypes(), fits))
    return false;
  return llvm::all_of(op->getResultTypes(), [](Type t) {
    auto shaped = cast<ShapedType>(t);
    for (auto [d, size] : llvm::enumerate(shaped.getShape()))
      if (d != 0 && d != 2 && ShapedType::isDynamic(size))
        return false;
    return true;
  });
}
/// The largest of `preferred`, halved, that divides `dim` and is a
/// multiple of 8; 0 if none.
int64_t columnTile(int64_t preferred, int64_t dim) {
  int64_t tile = preferred;
  while (tile > 8 && dim % tile != 0)
    tile /= 2;
  return dim % tile == 0 && tile % 8 == 0 ? tile : 0;
}

struct XLSTMChunkwiseMLSTMToMMAPass
    : xlstm::impl::XLSTMChunkwiseMLSTMToMMAPassBase<
          XLSTMChunkwiseMLSTMToMMAPass> {
  using Base::Base;

  void runOnOperation() override {
    if (dvTile < 8 || dvTile % 8 != 0) {
      getOperation()->emitError(
          "xlstm-chunkwise-mlstm-to-mma: dv-tile must be a positive multiple "
          "of 8");
      return signalPassFailure();
    }
    if (decodeStepWideBlocks < 0) {
      getOperation()->emitError("xlstm-chunkwise-mlstm-to-mma: "
                                "decode-step-wide-blocks must be 0 or more");
      return signalPassFailure();
    }
    if (!llvm::is_contained({16, 32, 64, 128}, keyRows)) {
      getOperation()->emitError(
          "xlstm-chunkwise-mlstm-to-mma: key-rows must be 16, 32, 64 or 128");
      return signalPassFailure();
    }
    SmallVector<Operation *> ops;
    getOperation()->walk([&](Operation *op) {
      if (isa<MLSTMChunkOutputsOp, MLSTMChunkStatesOp>(op))
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    // Outputs first: a decode step's outputs kernel reads the initial
    // states, and the states kernel then sees its entering-state results
    // unused.
    auto statesBegin =
        std::stable_partition(ops.begin(), ops.end(), [](Operation *op) {
          return isa<MLSTMChunkOutputsOp>(op);
        });
    // A decode step's outputs op and the states op it reads the entering
    // states of: one kernel.
    llvm::DenseSet<Operation *> fused;
    if (fuseDecodeStep) {
      DominanceInfo dominance(getOperation());
      // (Only the outputs ops: the states ops fused so far are erased.)
      for (Operation *op : llvm::make_range(ops.begin(), statesBegin)) {
        auto outputs = cast<MLSTMChunkOutputsOp>(op);
        Operation *at = nullptr;
        if (MLSTMChunkStatesOp states =
                fusableDecodeStep(outputs, dominance, at)) {
          fused.insert(outputs);
          fused.insert(states);
          rewriteDecodeStep(rewriter, outputs, states, at);
        }
      }
    }
    for (Operation *op : ops) {
      if (fused.contains(op))
        continue;
      if (auto outputs = dyn_cast<MLSTMChunkOutputsOp>(op))
        rewriteOutputs(rewriter, outputs);
      else
        rewriteStates(rewriter, cast<MLSTMChunkStatesOp>(op));
    }
  }

  /// Whether products with these operands need 3xTF32: bf16/f16 convert to
  /// tf32 exactly, float32 loses mantissa bits unless plain tf32 is allowed
  /// (bf16 models that keep q/k/v in float32).
  bool needsSplitTF32(ArrayRef<Value> operands) const {
    return !allowTF32 && !llvm::all_of(operands, [](Value v) {
      return isNarrowFloat(elementTypeOf(v));
    });
  }

  /// (B, NH, S, D) with a static S of at most one chunk: the step program.
  static bool isDecodeStep(RankedTensorType type, int64_t chunk) {
    return !type.isDynamicDim(2) && type.getDimSize(2) <= chunk;
  }

  static void record(gpu::LaunchOp launch, RankedTensorType operand,
                     const Twine &kernel, Value reads,
                     const Twine &when = "") {
    xlstm::recordKernelChoice(launch,
                              {"recurrence",
                               xlstm::formatShape(operand.getShape()),
                               kernel.str(), when.str()},
                              reads);
  }

  static Location kernelLoc(IRRewriter &rewriter, Operation *op) {
    // The kernel is named after the op (profiles, kernel tables).
    return NameLoc::get(rewriter.getStringAttr(op->getName().getStringRef()),
                        op->getLoc());
  }

  /// The states op whose decode step `outputs` completes, where the two
  /// can be one kernel: one static position, the entering states (the
  /// states op's initial ones, in their types) read by `outputs` alone,
  /// the same k, v, gates and scaling, shapes the kernel takes. `at`: the
  /// op to build the kernel before (the outputs op, unless something
  /// between the two reads the final states).
  static MLSTMChunkStatesOp fusableDecodeStep(MLSTMChunkOutputsOp outputs,
                                              DominanceInfo &dominance,
                                              Operation *&at) {
    auto states = outputs.getChunkC().getDefiningOp<MLSTMChunkStatesOp>();
    if (!states || states.getInitialState().size() != 3 ||
        !kernelsSupport(outputs) || !kernelsSupport(states))
      return {};
    auto qType = cast<RankedTensorType>(outputs.getQ().getType());
    auto vType = cast<RankedTensorType>(outputs.getV().getType());
    int64_t dhqk = qType.getDimSize(3), dhv = vType.getDimSize(3);
    if (qType.isDynamicDim(2) || qType.getDimSize(2) != 1 ||
        ShapedType::isDynamic(dhqk) || ShapedType::isDynamic(dhv) ||
        qType.isDynamicDim(1) || !DecodeStepKernel::fits(dhqk, dhv, 1))
      return {};
    ValueRange entering = states->getResults().take_front(3);
    if (!llvm::equal(entering,
                     ValueRange{outputs.getChunkC(), outputs.getChunkN(),
                                outputs.getChunkM()}) ||
        outputs.getK() != states.getK() || outputs.getV() != states.getV() ||
        outputs.getIgate() != states.getIgate() ||
        outputs.getFgate() != states.getFgate() ||
        outputs.getQkScaling() != states.getQkScaling())
      return {};
    for (auto [initial, result] :
         llvm::zip(states.getInitialState(), entering))
      if (elementTypeOf(initial) != elementTypeOf(result) ||
          llvm::any_of(result.getUsers(),
                       [&](Operation *user) { return user != outputs; }))
        return {};
    // Before the outputs op if every reader of the final states follows
    // it, else before the states op if q is known there.
    ValueRange finals = states->getResults().drop_front(3);
    if (llvm::all_of(finals, [&](Value v) {
          return llvm::all_of(v.getUsers(), [&](Operation *user) {
            return dominance.properlyDominates(outputs.getOperation(), user);
          });
        }))
      at = outputs;
    else if (dominance.properlyDominates(outputs.getQ(), states))
      at = states;
    else
      return {};
    return states;
  }

  /// A states op's inputs as buffers, with its sizes and key scale (the
  /// results are the caller's).
  static ChunkStates statesInputs(IRRewriter &rewriter, Location loc,
                                  MLSTMChunkStatesOp op,
                                  HeadsLastBuffers &layouts) {
    auto buffer = [&](Value v) { return toReadOnlyBuffer(rewriter, loc, v); };
    ChunkStates io;
    io.k = layouts.operand(rewriter, loc, op.getK());
    io.v = layouts.operand(rewriter, loc, op.getV());
    io.igate = layouts.gate(rewriter, loc, op.getIgate());
    io.fgate = layouts.gate(rewriter, loc, op.getFgate());
    for (Value s : op.getInitialState())
      io.initial.push_back(buffer(s));
    io.chunk = op.getChunkSize();
    io.dhqk = cast<RankedTensorType>(op.getK().getType()).getDimSize(3);
    io.dhv = cast<RankedTensorType>(op.getV().getType()).getDimSize(3);
    io.pTile = io.dvTile = 0;
    io.kScale = cellmath::qkScales(op.getQkScaling(), io.dhqk).second;
    return io;
  }

  /// Whether the decode step of `states` and `outputs` may load the
  /// entering states before it waits on the grid before it: they are
  /// arguments of a program (a public function nothing calls) that only
  /// the chunkwise ops read, so no kernel of the program writes them; and
  /// q, k, v and the gates are computed in the program, so the grid before
  /// the step is one of its own, not the end of an earlier call (which may
  /// still be writing the states passed back in).
  static bool enteringStatesUnwritten(MLSTMChunkStatesOp states,
                                      MLSTMChunkOutputsOp outputs) {
    auto func = states->getParentOfType<func::FuncOp>();
    auto module = func ? func->getParentOfType<ModuleOp>() : nullptr;
    if (!module || !func.isPublic() ||
        !SymbolTable::symbolKnownUseEmpty(func, module))
      return false;
    ValueRange initial = states.getInitialState();
    bool statesOnlyRead =
        !initial.empty() && llvm::all_of(initial, [&](Value s) {
          auto arg = dyn_cast<BlockArgument>(s);
          return arg && arg.getOwner() == &func.getBody().front() &&
                 llvm::all_of(arg.getUsers(), [](Operation *user) {
                   return isa<MLSTMChunkStatesOp, MLSTMChunkOutputsOp>(user);
                 });
        });
    // Through reshapes and transposes (views, or copies of an argument).
    auto computedHere = [](Value v) {
      while (Operation *def = v.getDefiningOp()) {
        if (!isa<tensor::ExpandShapeOp, tensor::CollapseShapeOp, tensor::CastOp,
                 tensor::ExtractSliceOp, linalg::TransposeOp>(def))
          return true;
        v = def->getOperand(0);
      }
      return false;
    };
    return statesOnlyRead &&
           llvm::all_of(ValueRange{outputs.getQ(), states.getK(), states.getV(),
                                   states.getIgate(), states.getFgate()},
                        computedHere);
  }

  /// One launch of DecodeStepKernel for `outputs` and `states`, before
  /// `at`.
  void rewriteDecodeStep(IRRewriter &rewriter, MLSTMChunkOutputsOp outputs,
                         MLSTMChunkStatesOp states, Operation *at) {
    using D = DecodeStepKernel;
    // (Asked before this rewrite adds its own reads of the states.)
    bool statesBeforeWait =
        gridDependencyWait && enteringStatesUnwritten(states, outputs);
    auto qType = cast<RankedTensorType>(outputs.getQ().getType());
    int64_t dhqk = qType.getDimSize(3);
    int64_t dhv = cast<RankedTensorType>(outputs.getV().getType()).getDimSize(3);
    // Named for profiles and the lowering report.
    Location loc = NameLoc::get(
        rewriter.getStringAttr("xlstm.mlstm_decode_step"), outputs->getLoc());
    rewriter.setInsertionPoint(at);
    auto idx = [&](int64_t v) {
      return arith::ConstantIndexOp::create(rewriter, loc, v);
    };
    auto [qScale, kScale] = cellmath::qkScales(outputs.getQkScaling(), dhqk);
    HeadsLastBuffers layouts(headsLastOperands);
    ChunkStates st = statesInputs(rewriter, loc, states, layouts);
    Value batch = layouts.dim(rewriter, loc, st.k, 0);
    SmallVector<Value> finals;
    for (Value result : states->getResults().drop_front(3)) {
      auto type = cast<RankedTensorType>(result.getType());
      SmallVector<Value> sizes(type.getRank());
      sizes[0] = batch;
      finals.push_back(allocateLike(rewriter, loc, type, sizes));
    }
    st.finalC = finals[0];
    st.finalN = finals[1];
    st.finalM = finals[2];
    ChunkOutputs out{};
    out.q = layouts.operand(rewriter, loc, outputs.getQ());
    out.qScale = qScale;
    out.kScale = kScale;
    out.eps = outputs.getEps().convertToDouble();
    out.h = layouts.result(rewriter, loc, outputs.getH(),
                           {batch, Value(), idx(1), Value()});

    int64_t numHeads = qType.getDimSize(1);
    auto emit = [&](int64_t perLane, const Twine &when) {
      int64_t columns = D::columnsFor(perLane);
      auto launch = gpu::LaunchOp::create(
          rewriter, loc, idx(dhv / columns), idx(numHeads), batch,
          idx(32 * D::warps), idx(1), idx(1),
          /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
          /*asyncDependencies=*/{},
          D::sharedTypes(rewriter.getContext(), perLane));
      record(launch, qType,
             "decode step (outputs and states in one kernel) " +
                 Twine(D::warps) + " warps, " + Twine(perLane) +
                 (perLane == 1 ? " column" : " columns") + " a lane" +
                 (statesBeforeWait
                      ? ", entering states loaded before the grid wait"
                      : ""),
             outputs.getQ(), when);
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPointToStart(&launch.getBody().front());
      DecodeStepKernel(rewriter, loc, perLane, statesBeforeWait)
          .build(layouts.inKernel(rewriter, loc, out),
                 layouts.inKernel(rewriter, loc, st), launch);
    };
    // Four columns a lane (16-byte loads of float32 C, 4x the bytes in
    // flight per warp) where the grid keeps decode-step-wide-blocks
    // blocks; one otherwise (batch 1 needs the blocks more).
    int64_t wide = 4;
    if (decodeStepWideBlocks > 0 && D::fits(dhqk, dhv, wide)) {
      Value blocks = arith::MulIOp::create(
          rewriter, loc, batch, idx(numHeads * (dhv / D::columnsFor(wide))));
      Value enough = arith::CmpIOp::create(rewriter, loc,
                                           arith::CmpIPredicate::uge, blocks,
                                           idx(decodeStepWideBlocks));
      auto choice = scf::IfOp::create(rewriter, loc, enough,
                                      /*withElseRegion=*/true);
      OpBuilder::InsertionGuard guard(rewriter);
      std::string many = ">= " + std::to_string(decodeStepWideBlocks) +
                         " blocks of " + std::to_string(wide) + " columns";
      rewriter.setInsertionPointToStart(choice.thenBlock());
      emit(wide, many);
      rewriter.setInsertionPointToStart(choice.elseBlock());
      emit(1, "fewer");
    } else {
      emit(1, "");
    }
    layouts.replaceResult(rewriter, loc, outputs.getH(), out.h);
    rewriter.eraseOp(outputs);
    for (auto [result, value] :
         llvm::zip(states->getResults().drop_front(3), finals))
      rewriter.replaceAllUsesWith(
          result, toTensor(rewriter, loc, result.getType(), value));
    rewriter.eraseOp(states);
  }

  void rewriteOutputs(IRRewriter &rewriter, MLSTMChunkOutputsOp op) {
    auto qType = cast<RankedTensorType>(op.getQ().getType());
    auto vType = cast<RankedTensorType>(op.getV().getType());
    int64_t dhqk = qType.getDimSize(3), dhv = vType.getDimSize(3);
    int64_t numHeads = qType.getDimSize(1);
    int64_t chunk = op.getChunkSize();
    // One warp per 16 rows of a chunk, tf32 k-steps of 8, P (chunk x
    // chunk floats) in static shared memory.
    if (!kernelsSupport(op) || ShapedType::isDynamic(dhqk) ||
        ShapedType::isDynamic(dhv) || ShapedType::isDynamic(numHeads) ||
        dhqk % 8 != 0 || chunk % 16 != 0 || chunk > 64)
      return;
    bool split = needsSplitTF32({op.getQ(), op.getK(), op.getV()});
    // 3xTF32 doubles the fragment registers: fewer accumulator columns
    // keep the kernel clear of spills.
    // A decode step (a static sequence of one chunk or less) has a single
    // chunk per head: narrow column tiles give the GPU enough blocks to
    // stream C at bandwidth.
    int64_t cap = split || isDecodeStep(qType, chunk) ? 32 : dvTile;
    int64_t tile = columnTile(std::min<int64_t>(dvTile, cap), dhv);
    if (!tile)
      return;

    Location loc = kernelLoc(rewriter, op);
    rewriter.setInsertionPoint(op);
    auto [qScale, kScale] = cellmath::qkScales(op.getQkScaling(), dhqk);
    auto buffer = [&](Value v) { return toReadOnlyBuffer(rewriter, loc, v); };
    // One position: chunk 0's entering state is the initial state itself;
    // the decode kernel reads that, and the states kernel need not copy
    // it out.
    using D = DecodeOutputsKernel;
    bool decode = !qType.isDynamicDim(2) && qType.getDimSize(2) == 1 &&
                  dhv % D::columns == 0 && dhqk % (D::warps * D::unroll) == 0;
    SmallVector<Value> entering = {op.getChunkC(), op.getChunkN(),
                                   op.getChunkM()};
    bool perChunk = true;
    if (auto states = op.getChunkC().getDefiningOp<MLSTMChunkStatesOp>();
        decode && states && states.getInitialState().size() == 3 &&
        llvm::equal(entering, states->getResults().take_front(3))) {
      ValueRange initial = states.getInitialState();
      if (llvm::all_of(llvm::seq(0, 3), [&](int i) {
            return elementTypeOf(initial[i]) == elementTypeOf(entering[i]);
          })) {
        entering.assign(initial.begin(), initial.end());
        perChunk = false;
      }
    }
    HeadsLastBuffers layouts(headsLastOperands);
    ChunkOutputs io{layouts.operand(rewriter, loc, op.getQ()),
                    layouts.operand(rewriter, loc, op.getK()),
                    layouts.operand(rewriter, loc, op.getV()),
                    layouts.gate(rewriter, loc, op.getIgate()),
                    layouts.gate(rewriter, loc, op.getFgate()),
                    buffer(entering[0]),
                    buffer(entering[1]),
                    buffer(entering[2]),
                    Value(),
                    chunk,
                    dhqk,
                    dhv,
                    tile,
                    qScale,
                    kScale,
                    op.getEps().convertToDouble()};
    auto idx = [&](int64_t v) {
      return arith::ConstantIndexOp::create(rewriter, loc, v);
    };
    Value batch = layouts.dim(rewriter, loc, io.q, 0);
    Value seq = layouts.dim(rewriter, loc, io.q, 2);
    io.h = layouts.result(rewriter, loc, op.getH(),
                          {batch, Value(), seq, Value()});
    Value numChunks =
        arith::CeilDivUIOp::create(rewriter, loc, seq, idx(chunk));
    MLIRContext *ctx = rewriter.getContext();
    Type f32 = rewriter.getF32Type();
    // One position (the step program): the decode kernel.
    if (decode) {
      SmallVector<Type> shared = {
          sharedMemoryType(ctx, {D::warps, D::columns}, f32),
          sharedMemoryType(ctx, {2}, f32)};
      auto launch = gpu::LaunchOp::create(
          rewriter, loc, idx(dhv / D::columns), idx(numHeads), batch,
          idx(32 * D::warps), idx(1), idx(1),
          /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
          /*asyncDependencies=*/{}, shared);
      record(launch, qType, "decode outputs " + Twine(D::warps) + " warps",
             op.getQ());
      {
        OpBuilder::InsertionGuard guard(rewriter);
        rewriter.setInsertionPointToStart(&launch.getBody().front());
        DecodeOutputsKernel(rewriter, loc, perChunk)
            .build(layouts.inKernel(rewriter, loc, io), launch);
      }
      layouts.replaceResult(rewriter, loc, op.getH(), io.h);
      rewriter.eraseOp(op);
      return;
    }
    // Staged through shared memory: 16- or 32-bit operands (16-byte
    // copies), whole slabs of DHQK, the warp-scanned gate scalars.
    using Outputs = ChunkOutputsKernel;
    bool staged =
        stagedOutputs && chunk % 32 == 0 && dhqk % Outputs::slab == 0 &&
        elementTypeOf(op.getQ()) == elementTypeOf(op.getK()) &&
        llvm::all_of(
            ArrayRef<Value>{op.getQ(), op.getV(), entering[0], entering[1]},
            isStageable);
    // 16-bit tensor cores where q, k, v and the entering C share one
    // 16-bit type (ldmatrix pairs of 8-column tiles).
    Type qElt = elementTypeOf(op.getQ());
    bool mma16 = staged && narrowMMA && isNarrowFloat(qElt) &&
                 elementTypeOf(op.getV()) == qElt &&
                 elementTypeOf(entering[0]) == qElt && tile % 16 == 0;
    // Four chunk-long float arrays of static shared memory besides.
    Outputs::StagedLayout layout(chunk, tile,
                                 staged ? elementBytes(op.getQ()) : 4,
                                 staged ? elementBytes(entering[0]) : 4,
                                 staged ? elementBytes(entering[1]) : 4,
                                 staged ? elementBytes(op.getV()) : 4, mma16);
    staged = staged && layout.total + 4 * 4 * chunk <= kMaxSharedBytesPerBlock;
    mma16 = mma16 && staged;
    // The staged kernel: four scalar arrays static, the slabs dynamic; the
    // other: six scalar arrays and P static.
    SmallVector<Type> shared(staged ? 4 : 6,
                             sharedMemoryType(ctx, {chunk}, f32));
    if (!staged)
      shared.push_back(sharedMemoryType(ctx, {chunk, chunk}, f32));
    Value sharedBytes =
        staged ? arith::ConstantIntOp::create(rewriter, loc,
                                              rewriter.getI32Type(),
                                              layout.total)
                     .getResult()
               : Value();
    auto launch = gpu::LaunchOp::create(
        rewriter, loc, numChunks, idx(numHeads * (dhv / tile)), batch,
        idx(32 * (chunk / 16)), idx(1), idx(1), sharedBytes,
        /*asyncTokenType=*/nullptr, /*asyncDependencies=*/{}, shared);
    std::string slabs =
        staged ? (", slabs of " + Twine(Outputs::slab)).str() : "";
    StringRef mmaKind = mma16 ? (qElt.isBF16() ? "bf16" : "f16")
                        : split ? "3xtf32"
                                : "tf32";
    record(launch, qType,
           "chunk outputs " + Twine(staged ? "staged " : "") + mmaKind +
               " mma, chunk " + Twine(chunk) + ", dv tile " + Twine(tile) +
               slabs,
           op.getQ());
    {
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPointToStart(&launch.getBody().front());
      ChunkOutputsKernel kernel(rewriter, loc, split);
      ChunkOutputs inside = layouts.inKernel(rewriter, loc, io);
      if (mma16)
        kernel.buildStaged16(inside, launch);
      else if (staged)
        kernel.buildStaged(inside, launch);
      else
        kernel.build(inside, launch);
    }
    layouts.replaceResult(rewriter, loc, op.getH(), io.h);
    rewriter.eraseOp(op);
  }

  void rewriteStates(IRRewriter &rewriter, MLSTMChunkStatesOp op) {
    auto kType = cast<RankedTensorType>(op.getK().getType());
    auto vType = cast<RankedTensorType>(op.getV().getType());
    int64_t dhqk = kType.getDimSize(3), dhv = vType.getDimSize(3);
    int64_t numHeads = kType.getDimSize(1);
    int64_t chunk = op.getChunkSize();
    // Four chunk-long float arrays in static shared memory.
    if (!kernelsSupport(op) || ShapedType::isDynamic(dhqk) ||
        ShapedType::isDynamic(dhv) || ShapedType::isDynamic(numHeads) ||
        dhqk % 16 != 0 || chunk % 8 != 0 || chunk > 1024)
      return;
    // A warp per 16 rows of C: the largest of key-rows, halved, that
    // divides DHQK.
    int64_t pTile = keyRows;
    while (pTile > 16 && dhqk % pTile != 0)
      pTile /= 2;
    bool split = needsSplitTF32({op.getK(), op.getV()});
    int64_t cap = isDecodeStep(kType, chunk) ? 32 : split ? 64 : dvTile;
    int64_t tile = columnTile(std::min<int64_t>(dvTile, cap), dhv);
    if (!tile)
      return;

    Location loc = kernelLoc(rewriter, op);
    rewriter.setInsertionPoint(op);
    HeadsLastBuffers layouts(headsLastOperands);
    ChunkStates io = statesInputs(rewriter, loc, op, layouts);
    io.pTile = pTile;
    io.dvTile = tile;
    auto idx = [&](int64_t v) {
      return arith::ConstantIndexOp::create(rewriter, loc, v);
    };
    Value batch = layouts.dim(rewriter, loc, io.k, 0);
    Value seq = layouts.dim(rewriter, loc, io.k, 2);
    Value numChunks =
        arith::CeilDivUIOp::create(rewriter, loc, seq, idx(chunk));
    // Chunk-indexed results are (B, NH, NC, ...), final ones (B, NH, ...).
    SmallVector<Value> results;
    for (auto [i, type] : llvm::enumerate(op->getResultTypes())) {
      SmallVector<Value> sizes(cast<RankedTensorType>(type).getRank());
      sizes[0] = batch;
      if (i < 3)
        sizes[2] = numChunks;
      results.push_back(allocateLike(rewriter, loc, type, sizes));
    }
    io.chunkC = results[0];
    io.chunkN = results[1];
    io.chunkM = results[2];
    io.finalC = results[3];
    io.finalN = results[4];
    io.finalM = results[5];

    // One position (the step program): the decode kernel.
    using D = DecodeStatesKernel;
    if (!kType.isDynamicDim(2) && kType.getDimSize(2) == 1 &&
        dhv % D::columns == 0 && dhqk % (D::warps * D::unroll) == 0) {
      int64_t rowSplits = D::rowSplitsFor(dhqk);
      auto launch = gpu::LaunchOp::create(
          rewriter, loc, idx(dhv / D::columns * rowSplits), idx(numHeads),
          batch, idx(32 * D::warps), idx(1), idx(1));
      record(launch, kType,
             "decode states " + Twine(D::warps) + " warps, " +
                 Twine(rowSplits) + " row splits",
             op.getK());
      {
        OpBuilder::InsertionGuard guard(rewriter);
        rewriter.setInsertionPointToStart(&launch.getBody().front());
        bool entering = llvm::any_of(op->getResults().take_front(3),
                                     [](Value r) { return !r.use_empty(); });
        DecodeStatesKernel(rewriter, loc, rowSplits, entering)
            .build(layouts.inKernel(rewriter, loc, io), launch);
      }
      SmallVector<Value> tensors;
      for (auto [value, type] : llvm::zip(results, op->getResultTypes()))
        tensors.push_back(toTensor(rewriter, loc, type, value));
      rewriter.replaceOp(op, tensors);
      return;
    }
    MLIRContext *ctx = rewriter.getContext();
    Type f32 = rewriter.getF32Type();
    SmallVector<Type> shared(4, sharedMemoryType(ctx, {chunk}, f32));
    shared.push_back(sharedMemoryType(ctx, {2}, f32));
    // Staged: 16- or 32-bit keys and values (16-byte copies of whole rows
    // of the block's tile), float32 gates (copied one by one), whole warps
    // of gate scalars.
    bool staged = stagedStates && chunk % 32 == 0 && isStageable(op.getK()) &&
                  isStageable(op.getV()) &&
                  elementTypeOf(op.getFgate()).isF32() &&
                  elementTypeOf(op.getIgate()).isF32();
    Type kElt = elementTypeOf(op.getK());
    bool narrow = narrowMMA && isNarrowFloat(kElt) &&
                  elementTypeOf(op.getV()) == kElt && tile % 16 == 0;
    ChunkStatesKernel::StagedLayout layout(
        chunk, pTile, tile, staged ? elementBytes(op.getK()) : 4,
        staged ? elementBytes(op.getV()) : 4, 4, staged && narrow);
    // Four chunk-long float arrays and two floats of static shared memory
    // besides.
    staged =
        staged && layout.total + 4 * (4 * chunk + 2) <= kMaxSharedBytesPerBlock;
    bool mma16 = staged && narrow;
    Value sharedBytes =
        staged ? arith::ConstantIntOp::create(
                     rewriter, loc, rewriter.getI32Type(), layout.total)
                     .getResult()
               : Value();
    auto launch = gpu::LaunchOp::create(
        rewriter, loc, idx((dhqk / pTile) * (dhv / tile)), idx(numHeads), batch,
        idx(2 * pTile), idx(1), idx(1), sharedBytes,
        /*asyncTokenType=*/nullptr, /*asyncDependencies=*/{}, shared);
    record(launch, kType,
           "chunk states " + Twine(staged ? "staged " : "") +
               Twine(mma16   ? (kElt.isBF16() ? "bf16" : "f16")
                     : split ? "3xtf32"
                             : "tf32") +
               " mma, chunk " +
               Twine(chunk) + ", " + Twine(pTile) + " key rows x " +
               Twine(tile) + " value columns per block",
           op.getK());
    {
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPointToStart(&launch.getBody().front());
      ChunkStatesKernel(rewriter, loc, split, staged, mma16)
          .build(layouts.inKernel(rewriter, loc, io), launch);
    }
    SmallVector<Value> tensors;
    for (auto [value, type] : llvm::zip(results, op->getResultTypes()))
      tensors.push_back(toTensor(rewriter, loc, type, value));
    rewriter.replaceOp(op, tensors);
  }
};

} // namespace
