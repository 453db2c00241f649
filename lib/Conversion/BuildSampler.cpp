//===- BuildSampler.cpp - @sample: the next token of each row on the GPU --===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// A token model's bundle gets a third entry point next to @forward and
// @step: @sample reads the logits of the last position and writes each
// row's next token into the buffer the next step reads, so that decoding
// never brings logits to the host. One block per row:
//
//   1. scores: the logits, divided (positive) or multiplied (negative) by
//      the repetition penalty where the row's seen-token bitmap has the
//      token (Hugging Face's CTRL penalty; a penalty of 1 takes a copy of
//      the code that reads the logits alone);
//   2. temperature 0: the argmax (ties to the lower id, as torch.argmax);
//   3. otherwise u = score / temperature; top-k keeps the keys at or above
//      the k-th largest (ties with it kept, as Hugging Face's TopK warper);
//      top-p keeps, among those, the keys at or above the one where the
//      descending cumulative softmax mass first reaches p (the smallest such
//      prefix, ties kept). Both thresholds come from an exact radix select
//      on the order-preserving integer key of u: four byte-wide histogram
//      passes, per-warp histograms in shared memory (top-k's counts added
//      once per byte value a warp sees: most keys share their top bytes);
//      masses are fixed-point (exp(u - max) * 2^32, integer sums: the same
//      threshold whatever order the atomics land in);
//   4. a Gumbel-max draw over the kept tokens: argmax of u + G, G =
//      -log(-log(r)) with r from a counter-based hash of (seed, draw,
//      row, token), drawn for kept tokens only, which samples softmax(u)
//      restricted to them exactly;
//   5. the token goes to `tokens`, its bit into `seen`, the row's draw
//      counter advances.
//
// runtime::Sampler computes the same function on the host (same hash, same
// thresholds), for the reference device and for tests.
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"

#include "xlstm/Conversion/Passes.h"
#include "xlstm/Dialect/XLSTM/IR/XLSTMAttrNames.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace xlstm {
#define GEN_PASS_DEF_XLSTMBUILDSAMPLERPASS
#include "xlstm/Conversion/Passes.h.inc"
} // namespace xlstm

using namespace mlir;
using namespace xlstm;

namespace {

/// The buffers of @sample (memrefs captured by the launch).
struct SamplerBuffers {
  Value logits;   ///< (B, S, V) in the step's logits type; position S - 1
  Value seen;     ///< (B, ceil(V / 32)) i32 bitmap of tokens seen per row
  Value settings; ///< (4) f32: temperature, top-p, repetition penalty, top-k
  Value rng;      ///< (B, 2) i64: seed, draws so far
  Value tokens;   ///< (B, 1) i64: the sampled tokens
  Value seq;      ///< S (index)
  int64_t vocab;
};

class SampleKernel : KernelBuilder {
public:
  SampleKernel(OpBuilder &b, Location loc, int64_t threads,
               int64_t tokensInFlight)
      : KernelBuilder(b, loc, b.getF32Type()), threads(threads),
        warps(threads / 32), tokensInFlight(tokensInFlight) {}

  void build(const SamplerBuffers &io, gpu::LaunchOp launch) {
    this->io = io;
    ValueRange shared = launch.getWorkgroupAttributions();
    warpBest = shared[0];
    warpIndex = shared[1];
    bins = shared[2];
    merged = shared[3];
    scalars = shared[4];
    maxSlot = shared[5];
    tid = launch.getThreadIds().x;
    row = launch.getBlockIds().x;
    lane = remui(tid, idx(32));
    warp = divui(tid, idx(32));
    position = sub(io.seq, idx(1));

    temperature = load(io.settings, {idx(0)});
    topP = load(io.settings, {idx(1)});
    penalty = load(io.settings, {idx(2)});
    topK = arith::FPToSIOp::create(b, loc, b.getI64Type(),
                                   load(io.settings, {idx(3)}));
    Value seed = memref::LoadOp::create(b, loc, io.rng, ValueRange{row, idx(0)});
    draws = memref::LoadOp::create(b, loc, io.rng, ValueRange{row, idx(1)});
    rowKey = mix(arith::XOrIOp::create(
        b, loc,
        mix(arith::AddIOp::create(
            b, loc, seed,
            arith::MulIOp::create(b, loc, i64(kGolden),
                                  arith::AddIOp::create(b, loc, draws,
                                                        i64(1))))),
        arith::MulIOp::create(
            b, loc, i64(kRowMultiplier),
            arith::AddIOp::create(b, loc, indexToI64(row), i64(1)))));

    Value greedy = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLE,
                                         temperature, constant(0.0));
    auto choose = [&] {
      return ifElse(
          greedy, b.getI32Type(),
          [&] { return blockArgmax([&](Value i) { return score(i); }); },
          [&] { return sampleTopKTopP(); });
    };
    // Without a repetition penalty (1: z / 1 and z * 1 are z, NaN
    // included) the scores are the logits: each token's seen bit, division
    // and selects go. A row's sweep runs on one block, bound by its
    // instructions (greedy at the 7B's vocabulary: ~50 us).
    Value unpenalised = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ,
                                              penalty, constant(1.0));
    Value choice = ifElse(
        unpenalised, b.getI32Type(),
        [&] {
          penalised = false;
          Value token = choose();
          penalised = true;
          return token;
        },
        choose);

    ifThen(eqi(tid, idx(0)), [&] {
      // NaN everywhere leaves no candidate: token 0 rather than an id
      // outside the vocabulary.
      Value vocab = i32(io.vocab);
      Value valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                          choice, vocab);
      Value token = arith::SelectOp::create(b, loc, valid, choice, i32(0));
      memref::StoreOp::create(
          b, loc, arith::ExtUIOp::create(b, loc, b.getI64Type(), token),
          io.tokens, ValueRange{row, idx(0)});
      auto [word, bit] = seenBit(token);
      Value old = memref::LoadOp::create(b, loc, io.seen, ValueRange{row, word});
      memref::StoreOp::create(
          b, loc,
          arith::OrIOp::create(b, loc, old,
                               arith::ShLIOp::create(b, loc, i32(1), bit)),
          io.seen, ValueRange{row, word});
      memref::StoreOp::create(b, loc,
                              arith::AddIOp::create(b, loc, draws, i64(1)),
                              io.rng, ValueRange{row, idx(1)});
    });
    gpu::TerminatorOp::create(b, loc);
  }

private:
  static constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ull;
  static constexpr uint64_t kRowMultiplier = 0xd1b54a32d192ed03ull;

  Value i32(int64_t v) {
    return arith::ConstantIntOp::create(b, loc, b.getI32Type(), v);
  }
  Value i64(uint64_t v) {
    return arith::ConstantIntOp::create(b, loc, b.getI64Type(),
                                        static_cast<int64_t>(v));
  }
  Value indexToI64(Value v) {
    return arith::IndexCastUIOp::create(b, loc, b.getI64Type(), v);
  }
  void barrier() { gpu::BarrierOp::create(b, loc); }

  /// scf.if with one result of `type`.
  Value ifElse(Value cond, Type type, function_ref<Value()> thenFn,
               function_ref<Value()> elseFn) {
    auto op = scf::IfOp::create(b, loc, TypeRange{type}, cond,
                                /*withElseRegion=*/true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(op.thenBlock());
    scf::YieldOp::create(b, loc, thenFn());
    b.setInsertionPointToStart(op.elseBlock());
    scf::YieldOp::create(b, loc, elseFn());
    return op.getResult(0);
  }

  /// splitmix64's finaliser: a bijection of 64-bit words that mixes well.
  Value mix(Value z) {
    auto step = [&](Value v, int64_t shift) {
      return arith::XOrIOp::create(b, loc, v,
                                   arith::ShRUIOp::create(b, loc, v,
                                                          i64(shift)));
    };
    z = arith::MulIOp::create(b, loc, step(z, 30), i64(0xbf58476d1ce4e5b9ull));
    z = arith::MulIOp::create(b, loc, step(z, 27), i64(0x94d049bb133111ebull));
    return step(z, 31);
  }

  /// Where token `token` (i32) is in a row of the seen bitmap: the word
  /// (index) and the bit within it (i32).
  std::pair<Value, Value> seenBit(Value token) {
    Value word = arith::IndexCastUIOp::create(
        b, loc, b.getIndexType(),
        arith::ShRUIOp::create(b, loc, token, i32(5)));
    return {word, arith::AndIOp::create(b, loc, token, i32(31))};
  }

  /// The penalised logit of token `i` (index) of this row, in float32
  /// (the logit itself where the code is built for no penalty).
  Value score(Value i) {
    Value z = load(io.logits, {row, position, i});
    if (!penalised)
      return z;
    auto [wordIndex, bitIndex] = seenBit(
        arith::IndexCastUIOp::create(b, loc, b.getI32Type(), i));
    Value word =
        memref::LoadOp::create(b, loc, io.seen, ValueRange{row, wordIndex});
    Value bit = arith::AndIOp::create(
        b, loc, arith::ShRUIOp::create(b, loc, word, bitIndex), i32(1));
    Value seen = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, bit,
                                       i32(0));
    Value positive = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, z,
                                           constant(0.0));
    Value withPenalty = arith::SelectOp::create(
        b, loc, positive, arith::DivFOp::create(b, loc, z, penalty),
        mulf(z, penalty));
    return arith::SelectOp::create(b, loc, seen, withPenalty, z);
  }

  /// score / temperature.
  Value scaled(Value i) {
    return arith::DivFOp::create(b, loc, score(i), temperature);
  }

  /// The order-preserving unsigned key of a float (i32 bits).
  Value keyOf(Value u) {
    Value bits = arith::BitcastOp::create(b, loc, b.getI32Type(), u);
    Value sign = arith::ShRSIOp::create(b, loc, bits, i32(31));
    Value flip = arith::OrIOp::create(b, loc, sign,
                                      i32(std::numeric_limits<int32_t>::min()));
    return arith::XOrIOp::create(b, loc, bits, flip);
  }

  Value uge(Value x, Value y) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, x, y);
  }

  /// (value, index) pairs: whether (v, i) beats (w, j): larger value, ties
  /// to the lower index.
  Value beats(Value v, Value i, Value w, Value j) {
    Value larger =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, v, w);
    Value tie = arith::AndIOp::create(
        b, loc, arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, v, w),
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, i, j));
    return arith::OrIOp::create(b, loc, larger, tie);
  }

  /// Butterfly reduction of (value, index) pairs across a warp.
  std::pair<Value, Value> warpArgmax(Value v, Value i) {
    for (int32_t offset : {16, 8, 4, 2, 1}) {
      Value ov = gpu::ShuffleOp::create(b, loc, v, offset, 32,
                                        gpu::ShuffleMode::XOR)
                     .getShuffleResult();
      Value oi = gpu::ShuffleOp::create(b, loc, i, offset, 32,
                                        gpu::ShuffleMode::XOR)
                     .getShuffleResult();
      Value take = beats(ov, oi, v, i);
      v = arith::SelectOp::create(b, loc, take, ov, v);
      i = arith::SelectOp::create(b, loc, take, oi, i);
    }
    return {v, i};
  }

  /// This thread's tokens of the row, tid, tid + T, tid + 2T, ... in
  /// increasing order, `tokensInFlight` at a time: their values (`value`,
  /// which loads) are all computed before `body` combines the first, so
  /// that the loads are in flight together rather than one round trip to
  /// L2 a token. (Measured: the greedy sweep of the 7B's vocabulary stays
  /// ~50 us, bound by one block's instructions; the top-k sweeps gain a
  /// little.)
  /// Past the vocabulary a token is clamped to the last one and `valid` is
  /// false.
  SmallVector<Value>
  sweep(ValueRange init, function_ref<Value(Value)> value,
        function_ref<SmallVector<Value>(Value i, Value v, Value valid,
                                        ValueRange acc)>
            body) {
    Value vocab = idx(io.vocab);
    Value last = idx(io.vocab - 1);
    // The loop runs over the warp's first token, so that its lanes take the
    // same iterations (a lane whose tokens all lie past the end takes part
    // with none valid): the warp-wide votes of radixSelect need them
    // together.
    return forRange(sub(tid, lane), vocab, idx(threads * tokensInFlight), init,
                    [&](Value warpBase, ValueRange acc) -> SmallVector<Value> {
                      Value base = add(warpBase, lane);
                      SmallVector<Value> tokens, values, valids;
                      for (int64_t u = 0; u < tokensInFlight; ++u) {
                        Value i = u == 0 ? base : add(base, idx(u * threads));
                        Value valid = ult(i, vocab);
                        tokens.push_back(i);
                        valids.push_back(valid);
                        values.push_back(value(
                            arith::SelectOp::create(b, loc, valid, i, last)));
                      }
                      SmallVector<Value> combined(acc);
                      for (int64_t u = 0; u < tokensInFlight; ++u)
                        combined =
                            body(tokens[u], values[u], valids[u], combined);
                      return combined;
                    });
  }

  /// The index (i32) of the largest `value(i)` over the vocabulary, ties to
  /// the lower index; V when every value is NaN or -inf. Valid in thread 0.
  /// With `refine`, the compared value is refine(i, value(i)), computed
  /// after the iteration's loads (a branch in `value` would stand between
  /// one token's load and the next).
  Value blockArgmax(function_ref<Value(Value)> value,
                    function_ref<Value(Value, Value)> refine = nullptr) {
    Value minusInf = constant(-std::numeric_limits<double>::infinity());
    SmallVector<Value> best = sweep(
        {minusInf, i32(io.vocab)}, value,
        [&](Value i, Value v, Value valid,
            ValueRange acc) -> SmallVector<Value> {
          if (refine)
            v = refine(i, v);
          Value ii = arith::IndexCastUIOp::create(b, loc, b.getI32Type(), i);
          // Each thread's indices increase: strictly larger wins.
          Value take = arith::AndIOp::create(
              b, loc, valid,
              arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, v,
                                    acc[0]));
          return {arith::SelectOp::create(b, loc, take, v, acc[0]),
                  arith::SelectOp::create(b, loc, take, ii, acc[1])};
        });
    auto [v, i] = warpArgmax(best[0], best[1]);
    ifThen(eqi(lane, idx(0)), [&] {
      memref::StoreOp::create(b, loc, v, warpBest, ValueRange{warp});
      memref::StoreOp::create(b, loc, i, warpIndex, ValueRange{warp});
    });
    barrier();
    Value inRange = ult(lane, idx(warps));
    Value safeLane = arith::SelectOp::create(b, loc, inRange, lane, idx(0));
    Value wv = arith::SelectOp::create(
        b, loc, inRange,
        memref::LoadOp::create(b, loc, warpBest, ValueRange{safeLane}),
        minusInf);
    Value wi = arith::SelectOp::create(
        b, loc, inRange,
        memref::LoadOp::create(b, loc, warpIndex, ValueRange{safeLane}),
        i32(io.vocab));
    Value result = warpArgmax(wv, wi).second;
    // The shared slots are reused by the next reduction.
    barrier();
    return result;
  }

  /// The largest `value(i)`, in every thread.
  Value blockMax(function_ref<Value(Value)> value) {
    Value minusInf = constant(-std::numeric_limits<double>::infinity());
    // (A clamped token past the vocabulary is the last one again: no
    // change to a maximum.)
    Value m = sweep(
        {minusInf}, value,
        [&](Value, Value v, Value, ValueRange acc) -> SmallVector<Value> {
          return {arith::MaxNumFOp::create(b, loc, acc[0], v).getResult()};
        })[0];
    // maxnum: a NaN logit does not become the maximum (the host's
    // std::max skips it too).
    for (int32_t offset : {16, 8, 4, 2, 1})
      m = arith::MaxNumFOp::create(
          b, loc, m,
          gpu::ShuffleOp::create(b, loc, m, offset, 32, gpu::ShuffleMode::XOR)
              .getShuffleResult());
    ifThen(eqi(lane, idx(0)),
           [&] { memref::StoreOp::create(b, loc, m, warpBest, ValueRange{warp}); });
    barrier();
    ifThen(eqi(tid, idx(0)), [&] {
      Value all = forRange(0, warps, 1, {minusInf},
                           [&](Value w, ValueRange acc) -> SmallVector<Value> {
                             return {arith::MaxNumFOp::create(
                                         b, loc, acc[0],
                                         memref::LoadOp::create(
                                             b, loc, warpBest, ValueRange{w}))
                                         .getResult()};
                           })[0];
      memref::StoreOp::create(b, loc, all, maxSlot, ValueRange{idx(0)});
    });
    barrier();
    Value result = memref::LoadOp::create(b, loc, maxSlot, ValueRange{idx(0)});
    barrier();
    return result;
  }

  /// The largest key K with weight(keys >= K) >= goal, over the tokens whose
  /// key is at least `floorKey` (keys i32, weights i64): byte by byte from
  /// the top, a histogram of the next byte among the keys that share the
  /// bytes chosen so far; thread 0 walks it from the top. `goalOf` turns
  /// the total weight (the first histogram's sum) into the goal.
  /// Without `weight` every token weighs 1 (counting), which lets a warp's
  /// lanes of one digit add their number at once.
  Value radixSelect(function_ref<Value(Value, Value)> weight,
                    function_ref<Value(Value)> goalOf, Value floorKey) {
    Value prefix = i32(0);
    Value above = i64(0);
    Value zero64 = i64(0);
    for (int level = 0; level < 4; ++level) {
      int64_t shift = 24 - 8 * level;
      forRange(tid, idx(warps * 256), idx(threads), {},
               [&](Value j, ValueRange) -> SmallVector<Value> {
                 memref::StoreOp::create(
                     b, loc, zero64, bins,
                     ValueRange{divui(j, idx(256)), remui(j, idx(256))});
                 return {};
               });
      barrier();
      sweep(
          {}, [&](Value i) { return scaled(i); },
          [&](Value, Value u, Value valid, ValueRange) -> SmallVector<Value> {
            Value key = keyOf(u);
            Value take =
                arith::AndIOp::create(b, loc, valid, uge(key, floorKey));
            if (level > 0)
              take = arith::AndIOp::create(
                  b, loc, take,
                  arith::CmpIOp::create(
                      b, loc, arith::CmpIPredicate::eq,
                      arith::ShRUIOp::create(b, loc, key, i32(shift + 8)),
                      arith::ShRUIOp::create(b, loc, prefix, i32(shift + 8))));
            Value digit = arith::AndIOp::create(
                b, loc, arith::ShRUIOp::create(b, loc, key, i32(shift)),
                i32(255));
            auto add = [&](Value w) {
              memref::AtomicRMWOp::create(
                  b, loc, arith::AtomicRMWKind::addi, w, bins,
                  ValueRange{warp, arith::IndexCastUIOp::create(
                                       b, loc, b.getIndexType(), digit)});
            };
            if (weight) {
              ifThen(take, [&] { add(weight(u, key)); });
              return {};
            }
            // Counting (top-k): the warp's lanes that take the same digit
            // add once, their number (most keys share the top bytes: one
            // shared-memory atomic each would serialise on its bin).
            // (sweep keeps the warp's lanes in step for the vote.)
            Value taking =
                NVVM::VoteSyncOp::create(b, loc, b.getI32Type(), i32(-1), take,
                                         NVVM::VoteSyncKind::ballot);
            ifThen(take, [&] {
              Value peers =
                  NVVM::MatchSyncOp::create(b, loc, b.getI32Type(), taking,
                                            digit, NVVM::MatchSyncKind::any);
              // The lowest of them: no peer below this lane.
              Value below = arith::SubIOp::create(
                  b, loc,
                  arith::ShLIOp::create(b, loc, i32(1),
                                        arith::IndexCastUIOp::create(
                                            b, loc, b.getI32Type(), lane)),
                  i32(1));
              Value lowest = arith::CmpIOp::create(
                  b, loc, arith::CmpIPredicate::eq,
                  arith::AndIOp::create(b, loc, peers, below), i32(0));
              ifThen(lowest, [&] {
                add(arith::ExtUIOp::create(
                    b, loc, b.getI64Type(),
                    LLVM::CtPopOp::create(b, loc, b.getI32Type(), peers)));
              });
            });
            return {};
          });
      barrier();
      forRange(tid, idx(256), idx(threads), {},
               [&](Value d, ValueRange) -> SmallVector<Value> {
                 Value sum = forRange(0, warps, 1, {zero64},
                                      [&](Value w, ValueRange acc)
                                          -> SmallVector<Value> {
                                        return {arith::AddIOp::create(
                                            b, loc, acc[0],
                                            memref::LoadOp::create(
                                                b, loc, bins,
                                                ValueRange{w, d}))};
                                      })[0];
                 memref::StoreOp::create(b, loc, sum, merged, ValueRange{d});
                 return {};
               });
      barrier();
      ifThen(eqi(tid, idx(0)), [&] {
        if (level == 0) {
          Value total =
              forRange(0, 256, 1, {zero64},
                       [&](Value d, ValueRange acc) -> SmallVector<Value> {
                         return {arith::AddIOp::create(
                             b, loc, acc[0],
                             memref::LoadOp::create(b, loc, merged,
                                                    ValueRange{d}))};
                       })[0];
          memref::StoreOp::create(b, loc, goalOf(total), scalars,
                                  ValueRange{idx(2)});
          memref::StoreOp::create(b, loc, total, scalars, ValueRange{idx(3)});
        }
        Value goal = memref::LoadOp::create(b, loc, scalars, ValueRange{idx(2)});
        SmallVector<Value> walk = forRange(
            0, 256, 1, {above, i32(-1)},
            [&](Value j, ValueRange acc) -> SmallVector<Value> {
              Value d = sub(idx(255), j);
              Value h = memref::LoadOp::create(b, loc, merged, ValueRange{d});
              Value open = arith::CmpIOp::create(
                  b, loc, arith::CmpIPredicate::slt, acc[1], i32(0));
              Value reach = arith::CmpIOp::create(
                  b, loc, arith::CmpIPredicate::uge,
                  arith::AddIOp::create(b, loc, acc[0], h), goal);
              Value hit = arith::AndIOp::create(b, loc, open, reach);
              Value pass = arith::AndIOp::create(
                  b, loc, open,
                  arith::XOrIOp::create(
                      b, loc, reach,
                      arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1)));
              return {arith::SelectOp::create(
                          b, loc, pass,
                          arith::AddIOp::create(b, loc, acc[0], h), acc[0]),
                      arith::SelectOp::create(
                          b, loc, hit,
                          arith::IndexCastUIOp::create(b, loc, b.getI32Type(),
                                                       d),
                          acc[1])};
            });
        // No byte reaches the goal only when the total is 0 (handled after
        // the last level): any byte will do.
        Value chosen = arith::MaxSIOp::create(b, loc, walk[1], i32(0));
        Value next = arith::OrIOp::create(
            b, loc, prefix, arith::ShLIOp::create(b, loc, chosen, i32(shift)));
        memref::StoreOp::create(
            b, loc, arith::ExtUIOp::create(b, loc, b.getI64Type(), next),
            scalars, ValueRange{idx(0)});
        memref::StoreOp::create(b, loc, walk[0], scalars, ValueRange{idx(1)});
      });
      barrier();
      prefix = arith::TruncIOp::create(
          b, loc, b.getI32Type(),
          memref::LoadOp::create(b, loc, scalars, ValueRange{idx(0)}));
      above = memref::LoadOp::create(b, loc, scalars, ValueRange{idx(1)});
      barrier();
    }
    // Nothing weighs anything (every score NaN): keep the floor.
    Value total = memref::LoadOp::create(b, loc, scalars, ValueRange{idx(3)});
    Value empty = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                        total, i64(0));
    return arith::SelectOp::create(b, loc, empty, floorKey, prefix);
  }

  /// Temperature, top-k, top-p and the Gumbel-max draw; the token in
  /// thread 0.
  Value sampleTopKTopP() {
    Value vocab64 = i64(io.vocab);
    Value useTopK = arith::AndIOp::create(
        b, loc,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, topK, i64(0)),
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, topK,
                              vocab64));
    Value kKey = ifElse(
        useTopK, b.getI32Type(),
        [&] {
          return radixSelect(/*weight=*/nullptr, [&](Value) { return topK; },
                             i32(0));
        },
        [&] { return i32(0); });
    Value useTopP = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT,
                                          topP, constant(1.0));
    Value threshold = ifElse(
        useTopP, b.getI32Type(),
        [&] {
          Value top = blockMax([&](Value i) { return scaled(i); });
          // exp(u - max) in 32-bit fixed point: at most 2^32 per token.
          auto weight = [&](Value u, Value) -> Value {
            Value p = mulf(exp(subf(u, top)), constant(4294967296.0));
            Value w = arith::FPToUIOp::create(b, loc, b.getI64Type(), p);
            // A NaN score weighs nothing (fptoui of NaN is poison).
            Value ordered = arith::CmpFOp::create(
                b, loc, arith::CmpFPredicate::ORD, p, p);
            return arith::SelectOp::create(b, loc, ordered, w, i64(0));
          };
          auto goalOf = [&](Value total) -> Value {
            Type f64 = b.getF64Type();
            Value scaledTotal = arith::MulFOp::create(
                b, loc, arith::UIToFPOp::create(b, loc, f64, total),
                arith::ExtFOp::create(b, loc, f64, topP));
            Value goal =
                arith::FPToUIOp::create(b, loc, b.getI64Type(), scaledTotal);
            return arith::MaxUIOp::create(b, loc, goal, i64(1));
          };
          return radixSelect(weight, goalOf, kKey);
        },
        [&] { return kKey; });
    return blockArgmax(
        [&](Value i) { return scaled(i); },
        [&](Value i, Value u) {
          // The draw only for kept tokens (a few with
          // top-k): the others are -inf whatever it is.
          Value kept = uge(keyOf(u), threshold);
          return ifElse(
              kept, b.getF32Type(), [&] { return perturbed(i, u); },
              [&] {
                return constant(-std::numeric_limits<double>::infinity());
              });
        });
  }

  /// u + G for token `i` (index): G = -log(-log(r)), a Gumbel draw from
  /// the counter-based hash of the row's key and the token.
  Value perturbed(Value i, Value u) {
    Value r = mix(arith::AddIOp::create(
        b, loc, rowKey,
        arith::MulIOp::create(
            b, loc, i64(kGolden),
            arith::AddIOp::create(b, loc, indexToI64(i), i64(1)))));
    // 23 random bits, centred: in (0, 1) exactly (with 24 the largest
    // would round to 1.0, an infinite Gumbel draw).
    Value bits23 = arith::ShRUIOp::create(b, loc, r, i64(41));
    Value uniform =
        mulf(addf(arith::UIToFPOp::create(b, loc, b.getF32Type(), bits23),
                  constant(0.5)),
             constant(1.0 / 8388608.0));
    Value gumbel = arith::NegFOp::create(
        b, loc,
        math::LogOp::create(b, loc,
                            arith::NegFOp::create(
                                b, loc, math::LogOp::create(b, loc, uniform))));
    return addf(u, gumbel);
  }

  int64_t threads, warps, tokensInFlight;
  /// Whether score() applies the repetition penalty (the code built for a
  /// penalty of 1 leaves it out).
  bool penalised = true;
  SamplerBuffers io;
  Value warpBest, warpIndex, bins, merged, scalars, maxSlot;
  Value tid, row, lane, warp, position;
  Value temperature, topP, penalty, topK, draws, rowKey;
};

struct XLSTMBuildSamplerPass
    : xlstm::impl::XLSTMBuildSamplerPassBase<XLSTMBuildSamplerPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto step = module.lookupSymbol<func::FuncOp>("step");
    if (!step || step.getNumResults() == 0)
      return;
    auto output = step.getResultAttrOfType<StringAttr>(0, kOutputAttrName);
    if (!output || output.getValue() != "logits")
      return; // a block stack: no vocabulary to sample from
    auto logitsType = dyn_cast<ShapedType>(step.getResultTypes()[0]);
    if (!logitsType || logitsType.getRank() != 3 ||
        ShapedType::isDynamic(logitsType.getDimSize(2)) ||
        !isa<Float32Type, BFloat16Type, Float16Type>(
            logitsType.getElementType())) {
      step.emitError("xlstm-build-sampler: @step's logits must be a "
                     "(batch, 1, vocab) f32, bf16 or f16 buffer with a "
                     "static vocabulary, got ")
          << step.getResultTypes()[0];
      return signalPassFailure();
    }
    if (module.lookupSymbol("sample")) {
      module.emitError("xlstm-build-sampler: the module already has @sample");
      return signalPassFailure();
    }
    if (tokensInFlight < 1 || tokensInFlight > 64) {
      module.emitError("xlstm-build-sampler: tokens-in-flight must be 1 to "
                       "64, got ")
          << static_cast<int64_t>(tokensInFlight);
      return signalPassFailure();
    }
    if (threads < 32 || threads > 512 || threads % 32 != 0) {
      module.emitError("xlstm-build-sampler: threads must be a multiple of 32 "
                       "from 32 to 512 (per-warp histograms in 48 KiB of "
                       "shared memory), got ")
          << static_cast<int64_t>(threads);
      return signalPassFailure();
    }
    build(module, logitsType.getDimSize(2), logitsType.getElementType());
  }

  void build(ModuleOp module, int64_t vocab, Type logitsElt) {
    MLIRContext *ctx = &getContext();
    Location loc = NameLoc::get(StringAttr::get(ctx, "xlstm.sample"),
                                module.getLoc());
    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    int64_t dyn = ShapedType::kDynamic;
    Type i32 = b.getI32Type(), i64 = b.getI64Type(), f32 = b.getF32Type();
    SmallVector<std::pair<StringRef, Type>> args = {
        {"logits", MemRefType::get({dyn, dyn, vocab}, logitsElt)},
        {"seen", MemRefType::get({dyn, (vocab + 31) / 32}, i32)},
        {"settings", MemRefType::get({4}, f32)},
        {"rng", MemRefType::get({dyn, 2}, i64)},
        {"tokens", MemRefType::get({dyn, 1}, i64)}};
    SmallVector<Type> types;
    for (auto &[name, type] : args)
      types.push_back(type);
    auto fn = func::FuncOp::create(b, loc, "sample",
                                   b.getFunctionType(types, {}));
    for (auto [i, arg] : llvm::enumerate(args))
      fn.setArgAttr(i, kBufferAttrName, b.getStringAttr(arg.first));
    Block *entry = fn.addEntryBlock();
    b.setInsertionPointToStart(entry);
    auto idx = [&](int64_t v) {
      return arith::ConstantIndexOp::create(b, loc, v);
    };
    SamplerBuffers io{fn.getArgument(0), fn.getArgument(1), fn.getArgument(2),
                      fn.getArgument(3), fn.getArgument(4), Value(), vocab};
    Value rows = memref::DimOp::create(b, loc, io.logits, idx(0));
    io.seq = memref::DimOp::create(b, loc, io.logits, idx(1));
    int64_t warps = threads / 32;
    SmallVector<Type> shared = {
        sharedMemoryType(ctx, {32}, f32), sharedMemoryType(ctx, {32}, i32),
        sharedMemoryType(ctx, {warps, 256}, i64),
        sharedMemoryType(ctx, {256}, i64), sharedMemoryType(ctx, {4}, i64),
        sharedMemoryType(ctx, {1}, f32)};
    Value one = idx(1);
    auto launch = gpu::LaunchOp::create(
        b, loc, rows, one, one, idx(threads), one, one,
        /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
        /*asyncDependencies=*/{}, shared);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(&launch.getBody().front());
      SampleKernel(b, loc, threads, tokensInFlight).build(io, launch);
    }
    func::ReturnOp::create(b, loc);
  }
};

} // namespace
