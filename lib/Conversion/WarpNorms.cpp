//===- WarpNorms.cpp - Norms as one-warp-per-row kernels ------------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Lowered generically, a norm is a reduction with one thread per row walking
// the whole row, then an elementwise kernel: few threads, long dependent
// chains, two passes over memory. Here a warp owns a row: its lanes stride
// the row, partial sums meet by butterfly shuffles, and the same warp
// writes the normalised, scaled row. Wide rows take several warps (up to a
// block of 8), whose sums meet in shared memory: decoding has one row per
// batch element, and one warp walking 4096 values is latency-bound. Rows
// narrower than a warp's 16-byte vectors (the heads of a multi-head norm,
// 128 bf16 values) share a warp, a lane group each, so that every load is
// a whole vector: scalar loads of such rows ran at 37 % of the H200's
// bandwidth. Layer
// norms take two sweeps (mean, then the centred second moment, as the
// generic lowering computes them); RMS norms one.
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
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"

namespace xlstm {
#define GEN_PASS_DEF_XLSTMWARPNORMSPASS
#include "xlstm/Conversion/Passes.h.inc"
} // namespace xlstm

using namespace mlir;
using namespace xlstm;

namespace {

/// The most elements a norm kernel's vector load takes (16 bytes of a
/// 16-bit row): column slices it reads in place start at multiples of it.
constexpr int64_t kMaxVectorElements = 8;

/// An elementwise op applied to the normalised values before they are
/// stored (fuse-consumers): its body, and per input the buffer it reads,
/// (rows, channels) at the element or (channels) at its channel; none for
/// the input that is the previous value. A column slice of a wider tensor
/// is read in place: its buffer is a strided view of the norm's rank,
/// indexed by the row's leading indices.
struct EpilogueStep {
  linalg::GenericOp op;
  SmallVector<Value> buffers;
  SmallVector<bool> perChannel;
};

/// One norm as a kernel: rows of `width` values, `groups` rows per row of
/// the (collapsed) input (the heads of a multi-head norm).
struct NormKernelSpec {
  Value input, weight, bias, output; // 2-D (rows, groups * width) buffers
  Type normElt;                      ///< the norm's own result type
  SmallVector<EpilogueStep> epilogue;
  int64_t width, groups;
  int64_t warpsPerRow; ///< a power of two dividing warpsPerBlock
  /// Lanes per row where a row takes less than a warp (a power of two
  /// below 32), else 32.
  int64_t lanesPerRow = 32;
  bool rms, onePlusWeight;

  /// Threads that share a row, and rows per block.
  int64_t rowThreads() const {
    return warpsPerRow > 1 ? 32 * warpsPerRow : lanesPerRow;
  }
  int64_t rowsPerBlock(int64_t warpsPerBlock) const {
    return 32 * warpsPerBlock / rowThreads();
  }
  double eps;
};

class WarpNormKernel : KernelBuilder {
public:
  static constexpr int64_t warpsPerBlock = 8;

  /// The most vectors of a row a thread keeps in registers (registerRows).
  static constexpr int64_t maxRegisterVectors = 16;

  /// Whether a thread's share of a row is whole vectors of at least two
  /// elements (vectorise's, narrow ones included), few enough to keep in
  /// registers.
  static bool keepsRowInRegisters(const NormKernelSpec &k) {
    Type inElt = cast<MemRefType>(k.input.getType()).getElementType();
    int64_t vec = vectorise(k.width, inElt, k.rowThreads(), true).first;
    return vec > 1 && k.width / (k.rowThreads() * vec) <= maxRegisterVectors;
  }

  WarpNormKernel(OpBuilder &b, Location loc, bool registerRows)
      : KernelBuilder(b, loc, b.getF32Type()), registerRows(registerRows) {}

  /// The vector width and unroll of a row read by `rowThreads` threads:
  /// 16-byte vectors where they divide the row, else with `narrow` 8- or
  /// 4-byte ones (a multi-head norm's 192-wide groups), else scalars.
  static std::pair<int64_t, int64_t> vectorise(int64_t width, Type element,
                                               int64_t rowThreads,
                                               bool narrow = false) {
    int64_t bits = element.getIntOrFloatBitWidth();
    for (int64_t bytes : {16, 8, 4}) {
      int64_t vec = bytes * 8 / bits;
      if (vec < 2 || (bytes < 16 && !narrow))
        break;
      for (int64_t u : {4, 2, 1})
        if (width % (rowThreads * vec * u) == 0)
          return {vec, u};
    }
    return {1, 1};
  }

  /// Warps per row: as many as keep two 16-byte vectors per thread (the
  /// row's loads in flight), at most a block and `maxWarps` (rounded down to
  /// a power of two; none where it is not positive).
  static int64_t chooseWarpsPerRow(int64_t width, Type element,
                                   int64_t maxWarps) {
    int64_t vec = 128 / element.getIntOrFloatBitWidth();
    int64_t warps = maxWarps > 0 ? int64_t(llvm::bit_floor(uint64_t(
                                       std::min(maxWarps, warpsPerBlock))))
                                 : warpsPerBlock;
    while (warps > 1 && width % (32 * warps * vec * 2) != 0)
      warps /= 2;
    return warps;
  }

  /// Lanes for a row of `width` elements: width / vec where that is a
  /// power of two below 32 (16-byte vectors, whole), else a warp's 32.
  static int64_t chooseLanesPerRow(int64_t width, Type element) {
    int64_t vec = 128 / element.getIntOrFloatBitWidth();
    if (width % vec != 0 || width / vec >= 32 ||
        !llvm::isPowerOf2_64(width / vec))
      return 32;
    return width / vec;
  }

  void build(const NormKernelSpec &k, Value numRows, gpu::LaunchOp launch) {
    Value tid = launch.getThreadIds().x;
    int64_t rowThreads = k.rowThreads();
    Value lane = remui(tid, idx(rowThreads));
    Value row = add(mul(launch.getBlockIds().x,
                        idx(k.rowsPerBlock(warpsPerBlock))),
                    divui(tid, idx(rowThreads)));
    // Rows past the end still take part in the shuffles (whole warps do),
    // reading row 0, and store nothing.
    Value valid = ult(row, numRows);
    Value safeRow = arith::SelectOp::create(b, loc, valid, row, idx(0));
    Value inputRow = divui(safeRow, idx(k.groups));
    Value base = mul(remui(safeRow, idx(k.groups)), idx(k.width));
    auto column = [&](Value c) { return add(base, c); };
    // Rows whose width allows it are read `vec` elements (16 bytes) at a
    // time, `unroll` loads per thread per step, to keep several loads in
    // flight instead of waiting for each.
    Type inElt = cast<MemRefType>(k.input.getType()).getElementType();
    // (A float32 residual normalised into bf16 stores 8 bytes per vector.)
    auto [vec, unroll] = vectorise(k.width, inElt, rowThreads, registerRows);
    // With registerRows, a thread's vectors of the row loaded once, in the
    // order the sweeps visit them: vector j at column (j rowThreads +
    // lane) vec.
    int64_t perThread = k.width / (rowThreads * vec);
    SmallVector<Value> cachedColumns;
    SmallVector<SmallVector<Value>> cached;
    // With them, what the lane's columns read besides the row: every load
    // of the kernel issued before its first store (between stores each
    // would wait for the one before, as far as the compiler knows they may
    // alias: six round trips a row at width 768 that the row's bytes do not
    // pay for). The fused consumers' operands are each read at the element
    // they write (or its channel), so reading all of them before any store
    // is right even where the output reuses one's buffer.
    SmallVector<ColumnOperands> cachedOperands;
    if (registerRows && keepsRowInRegisters(k))
      for (int64_t j = 0; j < perThread; ++j) {
        Value c = mul(add(idx(j * rowThreads), lane), idx(vec));
        cachedColumns.push_back(c);
        cached.push_back(loadVector(k.input, {inputRow, column(c)}, vec));
        cachedOperands.push_back(
            loadColumnOperands(k, c, vec, inputRow, column));
      }
    // Calls `body(c, xs)` for this lane's columns c .. c + vec - 1 of the
    // row (xs their values), carrying `init`.
    auto visit =
        [&](ValueRange init,
            function_ref<SmallVector<Value>(Value, ArrayRef<Value>, ValueRange)>
                body) -> SmallVector<Value> {
      if (!cached.empty()) {
        SmallVector<Value> acc(init);
        for (auto [c, xs] : llvm::zip_equal(cachedColumns, cached))
          acc = body(c, xs, acc);
        return acc;
      }
      if (vec == 1)
        return forRange(lane, idx(k.width), idx(rowThreads), init,
                        [&](Value c, ValueRange acc) {
                          Value x = load(k.input, {inputRow, column(c)});
                          return body(c, {x}, acc);
                        });
      return forRange(
          0, k.width, rowThreads * vec * unroll, init,
          [&](Value c0, ValueRange acc) {
            SmallVector<Value> next(acc);
            for (int64_t u = 0; u < unroll; ++u) {
              Value c = add(c0, mul(add(lane, idx(u * rowThreads)), idx(vec)));
              next = body(c, loadVector(k.input, {inputRow, column(c)}, vec),
                          next);
            }
            return next;
          });
    };
    // Each sweep's per-warp sums (several warps per row) meet in their own
    // shared buffer, so the second sweep needs no barrier before writing.
    unsigned sweeps = 0;
    auto sweep = [&](Value init,
                     function_ref<Value(Value, Value)> term) -> Value {
      Value partial =
          visit({init}, [&](Value c, ArrayRef<Value> xs, ValueRange acc) {
            Value sum = acc[0];
            for (auto [e, x] : llvm::enumerate(xs))
              sum = addf(sum, term(x, add(c, idx(e))));
            return SmallVector<Value>{sum};
          })[0];
      // (Lane groups narrower than a warp: XOR offsets below their size
      // stay inside the group.)
      for (int32_t offset : {16, 8, 4, 2, 1})
        if (offset < rowThreads)
          partial =
            addf(partial, gpu::ShuffleOp::create(b, loc, partial, offset, 32,
                                                 gpu::ShuffleMode::XOR)
                              .getShuffleResult());
      if (k.warpsPerRow == 1)
        return partial;
      // Every thread adds its row's warp sums in the same order: all see
      // the same total.
      Value sums = launch.getWorkgroupAttributions()[sweeps++];
      Value warp = divui(tid, idx(32));
      ifThen(eqi(remui(tid, idx(32)), idx(0)),
             [&] { store(partial, sums, {warp}); });
      gpu::BarrierOp::create(b, loc);
      Value first = mul(divui(tid, idx(rowThreads)), idx(k.warpsPerRow));
      Value total = load(sums, {first});
      for (int64_t w = 1; w < k.warpsPerRow; ++w)
        total = addf(total, load(sums, {add(first, idx(w))}));
      return total;
    };
    Value invWidth = constant(1.0 / static_cast<double>(k.width));
    Value mean;
    if (!k.rms)
      mean = mulf(sweep(constant(0.0), [](Value x, Value) { return x; }),
                  invWidth);
    Value second = sweep(constant(0.0), [&](Value x, Value) {
      Value d = mean ? subf(x, mean) : x;
      return mulf(d, d);
    });
    Value inv = math::RsqrtOp::create(
        b, loc, addf(mulf(second, invWidth), constant(k.eps)));
    ifThen(valid, [&] {
      // (The register rows' vectors come in order: the j-th visit is
      // vector j.)
      size_t j = 0;
      visit({}, [&](Value c, ArrayRef<Value> xs, ValueRange) {
        ColumnOperands operands =
            cachedOperands.empty()
                ? loadColumnOperands(k, c, vec, inputRow, column)
                : cachedOperands[j];
        SmallVector<Value> ys;
        for (auto [e, x] : llvm::enumerate(xs)) {
          Value y = mulf(mean ? subf(x, mean) : x, inv);
          // RMS norm: the normalised value in the storage type first, as
          // upstream's rms_norm does.
          if (k.rms)
            y = castFloat(castFloat(y, k.normElt), compute);
          if (k.weight) {
            Value s = operands.weights[e];
            if (k.onePlusWeight)
              s = addf(s, constant(1.0));
            y = mulf(y, s);
          }
          if (k.bias)
            y = addf(y, operands.biases[e]);
          ys.push_back(y);
        }
        applyEpilogue(k, ys, operands.epilogue);
        if (vec == 1)
          store(ys[0], k.output, {inputRow, column(c)});
        else
          storeVector(ys, k.output, {inputRow, column(c)});
        ++j;
        return SmallVector<Value>{};
      });
    });
    gpu::TerminatorOp::create(b, loc);
  }

private:
  bool registerRows;

  /// The fused consumers' other operands at this lane's columns c ..
  /// c + vec - 1: per step and operand, a value per column (a vector load
  /// per column group, or a load at each column's channel; none for the
  /// value so far).
  using EpilogueOperands = SmallVector<SmallVector<SmallVector<Value>>>;
  EpilogueOperands loadEpilogueOperands(const NormKernelSpec &k, Value c,
                                        int64_t vec, Value inputRow,
                                        function_ref<Value(Value)> column) {
    EpilogueOperands operands;
    for (const EpilogueStep &step : k.epilogue) {
      SmallVector<SmallVector<Value>> &loaded = operands.emplace_back();
      loaded.resize(step.buffers.size());
      for (auto [i, buffer] : llvm::enumerate(step.buffers)) {
        if (!buffer)
          continue;
        if (step.perChannel[i]) {
          for (int64_t e = 0; e < vec; ++e)
            loaded[i].push_back(load(buffer, {column(add(c, idx(e)))}));
          continue;
        }
        SmallVector<Value> at = leadingIndices(buffer, inputRow);
        at.push_back(column(c));
        loaded[i] = vec == 1 ? SmallVector<Value>{load(buffer, at)}
                             : loadVector(buffer, at, vec);
      }
    }
    return operands;
  }

  /// What this lane's columns c .. c + vec - 1 read besides the row: the
  /// norm's weights and biases (a vector load each, none where the norm
  /// has none) and the fused consumers' operands.
  struct ColumnOperands {
    SmallVector<Value> weights, biases;
    EpilogueOperands epilogue;
  };
  ColumnOperands loadColumnOperands(const NormKernelSpec &k, Value c,
                                    int64_t vec, Value inputRow,
                                    function_ref<Value(Value)> column) {
    auto channels = [&](Value buffer) {
      return vec == 1 ? SmallVector<Value>{load(buffer, {column(c)})}
                      : loadVector(buffer, {column(c)}, vec);
    };
    ColumnOperands operands;
    if (k.weight)
      operands.weights = channels(k.weight);
    if (k.bias)
      operands.biases = channels(k.bias);
    operands.epilogue = loadEpilogueOperands(k, c, vec, inputRow, column);
    return operands;
  }

  /// The fused consumers on this lane's values `ys`: each op's body cloned
  /// per value, its inputs the value so far (in the op's element type, as
  /// if stored and loaded) and `operands` (loadEpilogueOperands).
  void applyEpilogue(const NormKernelSpec &k, SmallVector<Value> &ys,
                     const EpilogueOperands &operands) {
    for (auto [s, step] : llvm::enumerate(k.epilogue)) {
      linalg::GenericOp op = step.op;
      Block &body = op.getRegion().front();
      const SmallVector<SmallVector<Value>> &loaded = operands[s];
      // Constants the body reads from outside it, made in the kernel.
      IRMapping constants;
      for (Operation &bodyOp : body.without_terminator())
        for (Value v : bodyOp.getOperands())
          if (v.getParentRegion() != &op.getRegion() && !constants.contains(v))
            constants.map(v, b.clone(*v.getDefiningOp())->getResult(0));
      auto yield = cast<linalg::YieldOp>(body.getTerminator());
      for (auto [e, y] : llvm::enumerate(ys)) {
        IRMapping map = constants;
        for (auto [i, buffer] : llvm::enumerate(step.buffers)) {
          BlockArgument arg = body.getArgument(i);
          Value v = !buffer ? y : loaded[i][e];
          map.map(arg, castFloat(v, arg.getType()));
        }
        for (Operation &bodyOp : body.without_terminator())
          b.clone(bodyOp, map);
        y = castFloat(map.lookupOrDefault(yield.getOperand(0)), compute);
      }
    }
  }
};

/// The elementwise consumers a norm's kernel can apply before it stores:
/// starting from its result, the linalg.generic that alone uses the value
/// so far, as long as it is all parallel, writes one fresh float result at
/// the element, reads that value once at the element and every other
/// operand at the element or at its channel (the last dimension), and its
/// body is float arithmetic on its own values and constants; at most
/// `maxSteps`. The consumers must be in the norm's block and the other
/// operands dominate it (the kernel replaces it there): whole tensors, or
/// aligned column slices (a projection's halves), which the kernel reads
/// in place.
SmallVector<linalg::GenericOp>
fusableConsumers(Operation *norm, int64_t maxSteps, DominanceInfo &dominance) {
  SmallVector<linalg::GenericOp> chain;
  Value value = norm->getResult(0);
  auto type = cast<RankedTensorType>(value.getType());
  int64_t rank = type.getRank();
  MLIRContext *ctx = norm->getContext();
  AffineMap channel =
      AffineMap::get(rank, 0, getAffineDimExpr(rank - 1, ctx), ctx);
  auto readable = [&](Value v) {
    return dominance.properlyDominates(v, norm) &&
           (!v.getDefiningOp<tensor::ExtractSliceOp>() ||
            isAlignedColumnSlice(v, kMaxVectorElements));
  };
  // Every value the body uses is its own or a constant (the clone runs in
  // the kernel, the constants made there).
  auto selfContained = [](linalg::GenericOp op) {
    Region &region = op.getRegion();
    auto inside = [&](Value v) {
      return v.getParentRegion() == &region || matchPattern(v, m_Constant());
    };
    return llvm::all_of(region.front(), [&](Operation &bodyOp) {
      return (isa<linalg::YieldOp>(bodyOp) ||
              isa_and_present<arith::ArithDialect, math::MathDialect>(
                  bodyOp.getDialect())) &&
             bodyOp.getNumRegions() == 0 &&
             llvm::all_of(bodyOp.getOperands(), inside);
    });
  };
  auto isFloat = [](Type t) {
    return isa<FloatType>(t) && t.getIntOrFloatBitWidth() <= 32;
  };
  // The value's one user besides tensor.dim ops (of the norm's shape).
  auto soleUser = [](Value v) -> Operation * {
    Operation *user = nullptr;
    for (Operation *u : v.getUsers()) {
      if (isa<tensor::DimOp>(u))
        continue;
      if (user)
        return nullptr;
      user = u;
    }
    return user;
  };
  while (int64_t(chain.size()) < maxSteps) {
    auto op = dyn_cast_or_null<linalg::GenericOp>(soleUser(value));
    if (!op || op->getBlock() != norm->getBlock() || op.getNumDpsInits() != 1 ||
        op.getNumResults() != 1 || op.getNumLoops() != rank ||
        op.getNumParallelLoops() != rank ||
        op.getResult(0).getType() !=
            RankedTensorType::get(type.getShape(),
                                  getElementTypeOrSelf(op.getResult(0))))
      break;
    OpOperand *init = op.getDpsInitOperand(0);
    if (!op.getMatchingIndexingMap(init).isIdentity() ||
        !op.getMatchingBlockArgument(init).use_empty() ||
        !isFloat(getElementTypeOrSelf(op.getResult(0).getType())))
      break;
    int64_t uses = 0;
    bool ok = true;
    for (OpOperand *in : op.getDpsInputOperands()) {
      AffineMap map = op.getMatchingIndexingMap(in);
      ok &= isFloat(getElementTypeOrSelf(in->get().getType()));
      if (in->get() == value) {
        ok &= map.isIdentity();
        ++uses;
      } else {
        ok &= (map.isIdentity() || map == channel) && readable(in->get());
      }
    }
    ok &= uses == 1 && selfContained(op);
    if (!ok)
      break;
    chain.push_back(op);
    value = op.getResult(0);
  }
  return chain;
}

struct XLSTMWarpNormsPass
    : xlstm::impl::XLSTMWarpNormsPassBase<XLSTMWarpNormsPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation()->walk([&](Operation *op) {
      if (isa<LayerNormOp, RMSNormOp, MultiHeadNormOp>(op))
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (Operation *op : ops) {
      if (auto n = dyn_cast<LayerNormOp>(op))
        rewrite(rewriter, op, n.getInput(), n.getWeight(), n.getBias(),
                n.getEps().convertToDouble(), /*groups=*/1, /*rms=*/false,
                n.getScaling() == NormScaling::one_plus_weight);
      else if (auto n = dyn_cast<RMSNormOp>(op))
        rewrite(rewriter, op, n.getInput(), n.getWeight(), n.getBias(),
                n.getEps().convertToDouble(), 1, /*rms=*/true, false);
      else if (auto n = dyn_cast<MultiHeadNormOp>(op))
        rewrite(rewriter, op, n.getInput(), n.getWeight(), n.getBias(),
                n.getEps().convertToDouble(), n.getNumHeads(), /*rms=*/false,
                n.getScaling() == NormScaling::one_plus_weight);
    }
  }

  /// The buffer an epilogue reads `value` from at the element: its rows,
  /// or for an aligned column slice a strided view of the sliced tensor's
  /// buffer (no copy).
  static Value elementBuffer(IRRewriter &rewriter, Location loc, Value value,
                             function_ref<Value(Value)> rows2d) {
    if (isAlignedColumnSlice(value, kMaxVectorElements))
      return toReadOnlyView(rewriter, loc, value);
    return rows2d(toReadOnlyBuffer(rewriter, loc, value));
  }

  void rewrite(IRRewriter &rewriter, Operation *op, Value input, Value weight,
               Value bias, double eps, int64_t groups, bool rms,
               bool onePlusWeight) {
    auto type = cast<RankedTensorType>(input.getType());
    auto normType = cast<RankedTensorType>(op->getResult(0).getType());
    int64_t channels = type.getShape().back();
    // The kernel computes in float32 over a static row.
    if (type.getRank() < 2 || ShapedType::isDynamic(channels) ||
        channels % groups != 0 || normType.getShape() != type.getShape() ||
        type.getElementType().getIntOrFloatBitWidth() > 32 ||
        normType.getElementType().getIntOrFloatBitWidth() > 32)
      return;
    SmallVector<linalg::GenericOp> consumers;
    if (fuseConsumers)
      consumers =
          fusableConsumers(op, /*maxSteps=*/4, getAnalysis<DominanceInfo>());
    // What the kernel stores: the last fused consumer's result, else the
    // norm's.
    Value replaced =
        consumers.empty() ? op->getResult(0) : consumers.back().getResult(0);
    auto resultType = cast<RankedTensorType>(replaced.getType());
    Location loc = NameLoc::get(
        rewriter.getStringAttr(op->getName().getStringRef()), op->getLoc());
    rewriter.setInsertionPoint(op);
    auto idx = [&](int64_t v) {
      return arith::ConstantIndexOp::create(rewriter, loc, v);
    };
    // (lead..., C) -> (rows, C).
    ReassociationIndices lead;
    for (int64_t d = 0; d + 1 < type.getRank(); ++d)
      lead.push_back(d);
    SmallVector<ReassociationIndices> groupsOf = {lead, {type.getRank() - 1}};
    auto rows2d = [&](Value m) -> Value {
      return memref::CollapseShapeOp::create(rewriter, loc, m, groupsOf);
    };
    NormKernelSpec k;
    Value inputBuffer = toReadOnlyBuffer(rewriter, loc, input);
    k.input = rows2d(inputBuffer);
    k.weight = weight ? toReadOnlyBuffer(rewriter, loc, weight) : Value();
    k.bias = bias ? toReadOnlyBuffer(rewriter, loc, bias) : Value();
    k.normElt = normType.getElementType();
    Value chained = op->getResult(0);
    for (linalg::GenericOp consumer : consumers) {
      EpilogueStep step;
      step.op = consumer;
      for (OpOperand *in : consumer.getDpsInputOperands()) {
        bool isChain = in->get() == chained;
        bool perChannel =
            !isChain && !consumer.getMatchingIndexingMap(in).isIdentity();
        step.perChannel.push_back(perChannel);
        step.buffers.push_back(
            isChain      ? Value()
            : perChannel ? toReadOnlyBuffer(rewriter, loc, in->get())
                         : elementBuffer(rewriter, loc, in->get(), rows2d));
      }
      k.epilogue.push_back(step);
      chained = consumer.getResult(0);
    }
    SmallVector<Value> sizes;
    for (int64_t d = 0; d < type.getRank(); ++d)
      sizes.push_back(
          type.isDynamicDim(d)
              ? memref::DimOp::create(rewriter, loc, inputBuffer, idx(d))
                    .getResult()
              : Value());
    Value output = allocateLike(rewriter, loc, resultType, sizes);
    k.output = rows2d(output);
    k.width = channels / groups;
    k.groups = groups;
    k.rms = rms;
    k.onePlusWeight = onePlusWeight;
    k.eps = eps;
    k.warpsPerRow = WarpNormKernel::chooseWarpsPerRow(
        k.width, type.getElementType(), maxWarpsPerRow);
    if (k.warpsPerRow == 1)
      k.lanesPerRow =
          WarpNormKernel::chooseLanesPerRow(k.width, type.getElementType());
    Value inputRows = memref::DimOp::create(rewriter, loc, k.input, idx(0));
    Value numRows =
        arith::MulIOp::create(rewriter, loc, inputRows, idx(groups));
    Value blocks = arith::CeilDivUIOp::create(
        rewriter, loc, numRows,
        idx(k.rowsPerBlock(WarpNormKernel::warpsPerBlock)));
    Value one = idx(1);
    // One buffer of per-warp sums per sweep when warps share a row.
    SmallVector<Type> shared;
    if (k.warpsPerRow > 1)
      shared.assign(rms ? 1 : 2,
                    sharedMemoryType(&getContext(),
                                     {WarpNormKernel::warpsPerBlock},
                                     rewriter.getF32Type()));
    auto launch = gpu::LaunchOp::create(
        rewriter, loc, blocks, one, one,
        idx(32 * WarpNormKernel::warpsPerBlock), one, one,
        /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
        /*asyncDependencies=*/{}, shared);
    // A norm from a float32 residual stream into bf16 operands says so.
    std::string writes;
    {
      llvm::raw_string_ostream os(writes);
      if (!consumers.empty())
        os << ", then " << consumers.size() << " elementwise op"
           << (consumers.size() > 1 ? "s" : "");
      if (resultType.getElementType() != type.getElementType())
        os << ", writes " << resultType.getElementType();
    }
    xlstm::recordKernelChoice(
        launch,
        {"norm", xlstm::formatShape(type.getShape()),
         (k.warpsPerRow > 1 ? std::to_string(k.warpsPerRow) + " warps per row "
          : k.lanesPerRow < 32
              ? std::to_string(k.lanesPerRow) + " lanes per row "
              : std::string("warp-per-row ")) +
             (rms ? "rms" : "layer") + " norm" +
             (groups > 1 ? ", " + std::to_string(groups) + " groups" : "") +
             (registerRows && WarpNormKernel::keepsRowInRegisters(k)
                  ? ", row in registers"
                  : "") +
             writes,
         ""},
        input);
    {
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPointToStart(&launch.getBody().front());
      WarpNormKernel(rewriter, loc, registerRows).build(k, numRows, launch);
    }
    // The stored value replaces the last fused op; the chain and the norm
    // are then unused.
    Value result = toTensor(rewriter, loc, resultType, output);
    if (consumers.empty()) {
      rewriter.replaceOp(op, result);
      return;
    }
    rewriter.replaceAllUsesWith(replaced, result);
    // Sizes taken from the chain's values are the norm input's (every step
    // keeps the shape); then the chain and the norm go, last first.
    auto erase = [&](Operation *dead) {
      for (OpOperand &use :
           llvm::make_early_inc_range(dead->getResult(0).getUses()))
        rewriter.modifyOpInPlace(use.getOwner(), [&] { use.set(input); });
      rewriter.eraseOp(dead);
    };
    for (linalg::GenericOp consumer : llvm::reverse(consumers))
      erase(consumer);
    erase(op);
  }
};

} // namespace
