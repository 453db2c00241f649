//===- ElementwiseToGPU.cpp - Elementwise linalg ops as vector kernels ----===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// The generic path (linalg -> scf.parallel -> one collapsed 1-D grid) gives
// every element a thread that delinearises its index with 64-bit divisions
// and moves 2 or 4 bytes per access: the copies, transposes, activations,
// gates and residual adds of a model ran at a third of the H200's bandwidth.
// Here an all-parallel linalg op whose operands all keep the innermost loop
// dimension innermost and contiguous (or do not use it: broadcasts) becomes
// one gpu.launch in which a thread takes V consecutive innermost elements
// (16 bytes of the narrowest operand): one vector load per operand, the
// op's body V times, one vector store per result, and the outer indices
// computed once per V elements. Where an operand's layout does not prove
// its vectors aligned, the op stays for the generic path. Broadcast
// operands may be wider (the token ids of an embedding lookup), and a load
// in the body along the innermost loop index (the lookup's gather of a
// table row) is one vector load too.
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"

#include "xlstm/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"

#include <numeric>

namespace xlstm {
#define GEN_PASS_DEF_XLSTMELEMENTWISETOGPUPASS
#include "xlstm/Conversion/Passes.h.inc"
} // namespace xlstm

using namespace mlir;

namespace {

constexpr int64_t kThreadsPerBlock = 256;

/// How an operand is read or written: along the innermost loop dimension
/// (a vector per thread) or not at all (one scalar per thread, a
/// broadcast).
struct Access {
  OpOperand *operand;
  AffineMap map;
  bool vector;
};

/// The V of `op` where it qualifies (0 where not): all loops parallel, a
/// static innermost extent that V divides, every map a projected
/// permutation whose results either end in the innermost loop dimension or
/// never use it, every operand of a float or integer element type no wider
/// than 32 bits with unit innermost stride where it is read as vectors.
int64_t vectorWidth(linalg::LinalgOp op, int64_t vectorBytes,
                    SmallVectorImpl<Access> &accesses) {
  if (op.getNumLoops() == 0 || op.getNumLoops() != op.getNumParallelLoops() ||
      !op.hasPureBufferSemantics() || op->getNumRegions() != 1 ||
      op.getNumDpsInits() == 0)
    return 0;
  // (A payload with regions of its own could hide linalg.index ops.)
  for (Operation &inner : op->getRegion(0).front())
    if (inner.getNumRegions() != 0)
      return 0;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  int64_t inner = ranges.back();
  unsigned innerDim = op.getNumLoops() - 1;
  int64_t narrowest = 4;
  for (OpOperand &operand : op->getOpOperands()) {
    auto type = dyn_cast<MemRefType>(operand.get().getType());
    if (!type)
      return 0;
    Type elt = type.getElementType();
    if (!elt.isIntOrFloat() || elt.getIntOrFloatBitWidth() > 64 ||
        elt.getIntOrFloatBitWidth() % 8 != 0)
      return 0;
    AffineMap map = op.getMatchingIndexingMap(&operand);
    if (!map.isProjectedPermutation())
      return 0;
    bool usesInner = map.isFunctionOfDim(innerDim);
    bool vector = usesInner;
    // (Wider than 32 bits: broadcasts only, one scalar a thread.)
    if (usesInner && elt.getIntOrFloatBitWidth() > 32)
      return 0;
    if (usesInner) {
      if (map.getNumResults() == 0 ||
          map.getResults().back() != getAffineDimExpr(innerDim, op.getContext()))
        return 0;
      SmallVector<int64_t> strides;
      int64_t offset;
      if (failed(type.getStridesAndOffset(strides, offset)) ||
          strides.back() != 1)
        return 0;
      narrowest = std::min<int64_t>(narrowest, elt.getIntOrFloatBitWidth() / 8);
    }
    // Each result element written by one iteration: every loop indexes it
    // (else several threads would write one element).
    if (op.isDpsInit(&operand) && !map.isPermutation())
      return 0;
    accesses.push_back({&operand, map, vector});
  }
  if (ShapedType::isDynamic(inner))
    return 0;
  int64_t v = vectorBytes / narrowest;
  while (v > 1 && inner % v != 0)
    v /= 2;
  return v > 1 ? v : 0;
}

class ElementwiseKernel : xlstm::KernelBuilder {
public:
  ElementwiseKernel(OpBuilder &b, Location loc, int64_t vec)
      : KernelBuilder(b, loc, b.getF32Type()), vec(vec) {}

  /// A thread per V innermost elements of the iteration space `sizes`
  /// (outer sizes dynamic or static, the innermost static).
  void build(linalg::LinalgOp op, ArrayRef<Access> accesses,
             ArrayRef<Value> sizes, Value total, gpu::LaunchOp launch) {
    Value thread = add(mul(launch.getBlockIds().x, idx(kThreadsPerBlock)),
                       launch.getThreadIds().x);
    ifThen(ult(thread, total), [&] {
      // The loop indices of the thread's first element.
      int64_t n = sizes.size();
      SmallVector<Value> at(n);
      Value rest = thread;
      Value vectors = divui(sizes.back(), idx(vec));
      at[n - 1] = mul(remui(rest, vectors), idx(vec));
      rest = divui(rest, vectors);
      for (int64_t d = n - 2; d >= 0; --d) {
        at[d] = d == 0 ? rest : remui(rest, sizes[d]);
        if (d > 0)
          rest = divui(rest, sizes[d]);
      }
      // Per block argument: its V values (a broadcast repeats one).
      Block &body = op->getRegion(0).front();
      SmallVector<SmallVector<Value>> lanes(body.getNumArguments());
      for (const Access &access : accesses) {
        unsigned arg = access.operand->getOperandNumber();
        if (!op.payloadUsesValueFromOperand(access.operand))
          continue;
        SmallVector<Value> where = indicesOf(access.map, at);
        Value memref = access.operand->get();
        if (access.vector)
          lanes[arg] = loadRaw(memref, where, vec);
        else
          lanes[arg] = SmallVector<Value>(
              vec, memref::LoadOp::create(b, loc, memref, where));
      }
      // The body V times; linalg.index of the innermost dimension advances
      // per lane. Loads along it (rowLoads) are one vector load in lane 0
      // whose elements the later lanes take.
      auto yield = cast<linalg::YieldOp>(body.getTerminator());
      SmallVector<SmallVector<Value>> results(yield.getNumOperands());
      llvm::DenseSet<Operation *> rows = rowLoads(op, accesses);
      llvm::DenseMap<Operation *, SmallVector<Value>> rowValues;
      for (int64_t lane = 0; lane < vec; ++lane) {
        IRMapping map;
        for (auto [i, arg] : llvm::enumerate(body.getArguments()))
          if (!lanes[i].empty())
            map.map(arg, lanes[i][lane]);
        for (Operation &inner : body.without_terminator()) {
          if (auto index = dyn_cast<linalg::IndexOp>(inner)) {
            Value i = at[index.getDim()];
            if (index.getDim() == n - 1 && lane > 0)
              i = add(i, idx(lane));
            map.map(index.getResult(), i);
            continue;
          }
          if (rows.contains(&inner)) {
            auto load = cast<memref::LoadOp>(inner);
            if (lane == 0)
              rowValues[&inner] =
                  loadRaw(map.lookupOrDefault(load.getMemRef()),
                          llvm::map_to_vector(load.getIndices(),
                                              [&](Value v) {
                                                return map.lookupOrDefault(v);
                                              }),
                          vec);
            map.map(load.getResult(), rowValues[&inner][lane]);
            continue;
          }
          b.clone(inner, map);
        }
        for (auto [r, value] : llvm::enumerate(yield.getOperands()))
          results[r].push_back(map.lookupOrDefault(value));
      }
      for (auto [r, init] : llvm::enumerate(op.getDpsInitsMutable())) {
        auto it = llvm::find_if(accesses, [&](const Access &a) {
          return a.operand == &init;
        });
        storeRaw(results[r], init.get(), indicesOf(it->map, at));
      }
    });
    gpu::TerminatorOp::create(b, loc);
  }

  /// The memref.loads of `op`'s body that read V consecutive elements across
  /// the lanes: the last index is the innermost linalg.index itself, every
  /// other index is the same in all lanes (depends on neither that index nor
  /// a vector-read block argument), and the memref, defined outside the
  /// body, has the identity layout and a static innermost extent V divides
  /// (so that the lane-0 index, a multiple of V, starts an aligned vector).
  llvm::DenseSet<Operation *> rowLoads(linalg::LinalgOp op,
                                       ArrayRef<Access> accesses) {
    Block &body = op->getRegion(0).front();
    unsigned innerDim = op.getNumLoops() - 1;
    // Values that differ between lanes.
    llvm::DenseSet<Value> varying;
    for (const Access &access : accesses)
      if (access.vector && access.operand->getOwner() == op.getOperation() &&
          access.operand->getOperandNumber() < body.getNumArguments())
        varying.insert(body.getArgument(access.operand->getOperandNumber()));
    llvm::DenseSet<Operation *> rows;
    for (Operation &inner : body.without_terminator()) {
      if (auto index = dyn_cast<linalg::IndexOp>(inner)) {
        if (index.getDim() == innerDim)
          varying.insert(index.getResult());
        continue;
      }
      bool dependsOnLane = llvm::any_of(inner.getOperands(), [&](Value v) {
        return varying.contains(v);
      });
      if (auto load = dyn_cast<memref::LoadOp>(inner)) {
        auto type = load.getMemRefType();
        auto index = load.getIndices().empty()
                         ? linalg::IndexOp()
                         : load.getIndices().back().getDefiningOp<linalg::IndexOp>();
        bool othersSame = llvm::none_of(
            load.getIndices().drop_back(),
            [&](Value v) { return varying.contains(v); });
        if (index && index.getDim() == innerDim && othersSame &&
            !varying.contains(load.getMemRef()) &&
            load.getMemRef().getParentRegion() != &op->getRegion(0) &&
            type.getLayout().isIdentity() &&
            !ShapedType::isDynamic(type.getShape().back()) &&
            type.getShape().back() % vec == 0 &&
            type.getElementType().getIntOrFloatBitWidth() <= 32) {
          rows.insert(&inner);
          varying.insert(load.getResult());
          continue;
        }
      }
      if (dependsOnLane)
        for (Value r : inner.getResults())
          varying.insert(r);
    }
    return rows;
  }

private:
  SmallVector<Value> indicesOf(AffineMap map, ArrayRef<Value> at) {
    SmallVector<Value> where;
    for (AffineExpr e : map.getResults())
      where.push_back(at[cast<AffineDimExpr>(e).getPosition()]);
    return where;
  }
  /// V elements as they are stored (no conversion: the body converts).
  SmallVector<Value> loadRaw(Value memref, ValueRange at, int64_t n) {
    Type elt = cast<MemRefType>(memref.getType()).getElementType();
    Value v = vector::LoadOp::create(
        b, loc, VectorType::get({n}, elt), memref, at, /*nontemporal=*/false,
        b.getI64IntegerAttr(alignment(n, elt)));
    SmallVector<Value> values;
    for (int64_t i = 0; i < n; ++i)
      values.push_back(
          vector::ExtractOp::create(b, loc, v, ArrayRef<int64_t>{i}));
    return values;
  }
  void storeRaw(ValueRange values, Value memref, ValueRange at) {
    Type elt = cast<MemRefType>(memref.getType()).getElementType();
    int64_t n = values.size();
    Value v = vector::FromElementsOp::create(
        b, loc, VectorType::get({n}, elt), values);
    vector::StoreOp::create(b, loc, v, memref, at, /*nontemporal=*/false,
                            b.getI64IntegerAttr(alignment(n, elt)));
  }
  /// What the access may claim: its size, at most 16 bytes (what the
  /// alignment proof of the pass guarantees; wider vectors split anyway).
  static int64_t alignment(int64_t n, Type elt) {
    return std::min<int64_t>(16, n * elt.getIntOrFloatBitWidth() / 8);
  }

  int64_t vec;
};

struct XLSTMElementwiseToGPUPass
    : xlstm::impl::XLSTMElementwiseToGPUPassBase<XLSTMElementwiseToGPUPass> {
  using Base::Base;

  void runOnOperation() override {
    if (vectorBytes < 0 || vectorBytes > 16 ||
        (vectorBytes & (vectorBytes - 1)) != 0) {
      getOperation()->emitError("xlstm-elementwise-to-gpu: vector-bytes must "
                                "be 0, 1, 2, 4, 8 or 16, got ")
          << static_cast<int64_t>(vectorBytes);
      return signalPassFailure();
    }
    if (minElements < 0) {
      getOperation()->emitError("xlstm-elementwise-to-gpu: min-elements must "
                                "be at least 0");
      return signalPassFailure();
    }
    if (vectorBytes < 2)
      return;
    SmallVector<linalg::LinalgOp> ops;
    getOperation()->walk([&](linalg::LinalgOp op) {
      if (!op->getParentOfType<gpu::LaunchOp>())
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::LinalgOp op : ops) {
      SmallVector<Access> accesses;
      int64_t vec = vectorWidth(op, vectorBytes, accesses);
      if (vec > 1)
        rewrite(rewriter, op, accesses, vec);
    }
  }

  /// Whether every vector access of `op` is provably V-aligned: an
  /// identity layout, static strides and offset that V divides, or a
  /// unit-step subview with such an offset of an identity-layout buffer
  /// whose innermost extent V divides (every stride of that buffer but the
  /// last is a multiple of its innermost extent).
  static bool aligned(ArrayRef<Access> accesses, int64_t vec) {
    for (const Access &access : accesses) {
      if (!access.vector)
        continue;
      Value v = access.operand->get();
      auto type = cast<MemRefType>(v.getType());
      if (type.getLayout().isIdentity())
        continue;
      SmallVector<int64_t> strides;
      int64_t offset;
      if (failed(type.getStridesAndOffset(strides, offset)) ||
          ShapedType::isDynamic(offset) || offset % vec != 0)
        return false;
      bool staticStrides = llvm::all_of(
          ArrayRef<int64_t>(strides).drop_back(),
          [&](int64_t s) { return !ShapedType::isDynamic(s) && s % vec == 0; });
      if (staticStrides)
        continue;
      auto view = v.getDefiningOp<memref::SubViewOp>();
      if (!view || !llvm::all_of(view.getStaticStrides(),
                                 [](int64_t s) { return s == 1; }))
        return false;
      MemRefType source = view.getSourceType();
      if (!source.getLayout().isIdentity() ||
          ShapedType::isDynamic(source.getShape().back()) ||
          source.getShape().back() % vec != 0)
        return false;
    }
    return true;
  }

  void rewrite(IRRewriter &rewriter, linalg::LinalgOp op,
               ArrayRef<Access> accesses, int64_t vec) {
    if (!aligned(accesses, vec))
      return;
    // Few elements (a decoding step's rows) keep a thread each: a thread
    // per vector would leave most of the GPU idle on the body's math.
    // Decided here where the sizes are static, else on the host (at least
    // one element: an empty space would launch no blocks).
    SmallVector<int64_t> staticRanges = op.getStaticLoopRanges();
    int64_t inner = staticRanges.back();
    std::optional<int64_t> staticTotal;
    if (llvm::none_of(staticRanges, ShapedType::isDynamic))
      staticTotal = std::accumulate(staticRanges.begin(),
                                    staticRanges.end() - 1, int64_t(1),
                                    std::multiplies<int64_t>());
    int64_t minimum = std::max<int64_t>(minElements, 1);
    if (staticTotal && *staticTotal * inner < minimum)
      return;
    Location loc = op.getLoc();
    rewriter.setInsertionPoint(op);
    auto cst = [&](int64_t v) {
      return arith::ConstantIndexOp::create(rewriter, loc, v);
    };
    SmallVector<Value> sizes;
    for (Range r : op.createLoopRanges(rewriter, loc))
      sizes.push_back(getValueOrCreateConstantIndexOp(rewriter, loc, r.size));
    Value total = cst(1);
    for (Value s : ArrayRef<Value>(sizes).drop_back())
      total = arith::MulIOp::create(rewriter, loc, total, s);
    if (!staticTotal) {
      Value elements = arith::MulIOp::create(rewriter, loc, total, cst(inner));
      auto many = arith::CmpIOp::create(rewriter, loc,
                                        arith::CmpIPredicate::uge, elements,
                                        cst(minimum));
      auto choice = scf::IfOp::create(rewriter, loc, many,
                                      /*withElseRegion=*/true);
      rewriter.setInsertionPointToStart(choice.elseBlock());
      rewriter.clone(*op);
      rewriter.setInsertionPointToStart(choice.thenBlock());
    }
    total = arith::MulIOp::create(rewriter, loc, total, cst(inner / vec));
    Value blocks = arith::CeilDivUIOp::create(rewriter, loc, total,
                                              cst(kThreadsPerBlock));
    Value one = cst(1);
    auto launch = gpu::LaunchOp::create(rewriter, loc, blocks, one, one,
                                        cst(kThreadsPerBlock), one, one);
    {
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPointToStart(&launch.getBody().front());
      ElementwiseKernel(rewriter, loc, vec)
          .build(op, accesses, sizes, total, launch);
    }
    rewriter.eraseOp(op);
  }
};

} // namespace
