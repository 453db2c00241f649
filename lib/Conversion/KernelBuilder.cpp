//===- KernelBuilder.cpp - Helpers for hand-scheduled GPU kernels ---------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Matchers.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace xlstm {

Value toReadOnlyBuffer(OpBuilder &b, Location loc, Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  return bufferization::ToBufferOp::create(
      b, loc, MemRefType::get(type.getShape(), type.getElementType()), tensor,
      /*read_only=*/true);
}

bool isAlignedColumnSlice(Value tensor, int64_t alignElements) {
  auto slice = tensor.getDefiningOp<tensor::ExtractSliceOp>();
  if (!slice)
    return false;
  RankedTensorType source = slice.getSourceType();
  int64_t rank = source.getRank();
  if (slice.getResultType().getRank() != rank || !slice.hasUnitStride() ||
      ShapedType::isDynamic(source.getDimSize(rank - 1)) ||
      source.getDimSize(rank - 1) % alignElements != 0)
    return false;
  // Offsets before the last move by whole rows of the source (multiples
  // of its last size, aligned above); the last one must keep the
  // alignment itself.
  std::optional<int64_t> last =
      getConstantIntValue(slice.getMixedOffsets().back());
  return last && *last % alignElements == 0 &&
         llvm::all_of(slice.getMixedOffsets(), [](OpFoldResult o) {
           return getConstantIntValue(o).has_value();
         });
}

Value toReadOnlyView(OpBuilder &b, Location loc, Value sliced) {
  auto slice = sliced.getDefiningOp<tensor::ExtractSliceOp>();
  assert(slice && "a column slice (isAlignedColumnSlice)");
  Value source = toReadOnlyBuffer(b, loc, slice.getSource());
  return memref::SubViewOp::create(b, loc, source, slice.getMixedOffsets(),
                                   slice.getMixedSizes(),
                                   slice.getMixedStrides());
}

Value toTensor(OpBuilder &b, Location loc, Type type, Value buffer) {
  return bufferization::ToTensorOp::create(b, loc, type, buffer,
                                           /*restrict=*/true,
                                           /*writable=*/true);
}

Value allocateLike(OpBuilder &b, Location loc, Type type,
                   ArrayRef<Value> sizes) {
  auto tensorType = cast<RankedTensorType>(type);
  assert(static_cast<int64_t>(sizes.size()) == tensorType.getRank() &&
         "a size per dimension");
  SmallVector<Value> dynamic;
  for (auto [dim, size] : llvm::enumerate(sizes))
    if (tensorType.isDynamicDim(dim))
      dynamic.push_back(size);
  return memref::AllocOp::create(
      b, loc,
      MemRefType::get(tensorType.getShape(), tensorType.getElementType()),
      dynamic);
}

KernelCache::KernelCache(ModuleOp module) : module(module), symbols(module) {}

gpu::LaunchFuncOp KernelCache::launch(OpBuilder &b, Location loc,
                                      StringRef name, StringRef config,
                                      ValueRange operands,
                                      gpu::KernelDim3 grid,
                                      std::array<int64_t, 3> block,
                                      Value dynamicSharedBytes,
                                      TypeRange workgroup, BodyBuilder build) {
  // The key: everything the body may depend on. Constants by value (they
  // are folded into the body), the rest by type.
  std::string key;
  llvm::raw_string_ostream os(key);
  os << name << "|" << config << "|" << block[0] << "x" << block[1] << "x"
     << block[2];
  for (Type t : workgroup)
    os << "|w:" << t;
  SmallVector<Value> arguments;
  SmallVector<Attribute> constants(operands.size());
  for (auto [i, v] : llvm::enumerate(operands)) {
    if (matchPattern(v, m_Constant(&constants[i])))
      os << "|c:" << constants[i] << ":" << v.getType();
    else {
      os << "|a:" << v.getType();
      arguments.push_back(v);
    }
  }
  gpu::GPUFuncOp kernel = kernels.lookup(key);
  if (!kernel) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToEnd(module.getBody());
    auto gpuModule = gpu::GPUModuleOp::create(b, loc, name);
    symbols.insert(gpuModule); // renamed where the name is taken
    b.setInsertionPointToStart(gpuModule.getBody());
    kernel = gpu::GPUFuncOp::create(
        b, loc, gpuModule.getName(),
        b.getFunctionType(ValueRange(arguments).getTypes(), {}), workgroup);
    kernel->setAttr(gpu::GPUDialect::getKernelFuncAttrName(),
                    b.getUnitAttr());
    kernel.setKnownBlockSizeAttr(b.getDenseI32ArrayAttr(
        {int32_t(block[0]), int32_t(block[1]), int32_t(block[2])}));
    b.setInsertionPointToStart(&kernel.getBody().front());
    Body body;
    unsigned next = 0;
    for (auto [i, v] : llvm::enumerate(operands))
      body.args.push_back(constants[i]
                              ? b.clone(*v.getDefiningOp())->getResult(0)
                              : Value(kernel.getArgument(next++)));
    auto ids = [&](auto op) {
      using Op = decltype(op);
      return gpu::KernelDim3{Op::create(b, loc, gpu::Dimension::x),
                             Op::create(b, loc, gpu::Dimension::y),
                             Op::create(b, loc, gpu::Dimension::z)};
    };
    body.blockIds = ids(gpu::BlockIdOp());
    body.threadIds = ids(gpu::ThreadIdOp());
    body.workgroup = kernel.getWorkgroupAttributions();
    body.func = kernel;
    build(b, body);
    // (The body may leave the builder inside a region of its own.)
    b.setInsertionPointToEnd(&kernel.getBody().front());
    gpu::ReturnOp::create(b, loc);
    // (Inserted after the body: a body may launch kernels of its own.)
    kernels[key] = kernel;
  }
  module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                  b.getUnitAttr());
  auto cst = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v).getResult();
  };
  return gpu::LaunchFuncOp::create(
      b, loc, kernel, grid,
      gpu::KernelDim3{cst(block[0]), cst(block[1]), cst(block[2])},
      dynamicSharedBytes, arguments);
}

bool hasWiderThanF32(Operation *op) {
  auto wide = [](Type t) {
    auto shaped = dyn_cast<ShapedType>(t);
    return shaped && shaped.getElementTypeBitWidth() > 32;
  };
  return llvm::any_of(op->getOperandTypes(), wide) ||
         llvm::any_of(op->getResultTypes(), wide);
}

MemRefType sharedMemoryType(MLIRContext *context, ArrayRef<int64_t> shape,
                            Type element) {
  return MemRefType::get(
      shape, element, MemRefLayoutAttrInterface{},
      gpu::AddressSpaceAttr::get(context, gpu::AddressSpace::Workgroup));
}

KernelBuilder::KernelBuilder(OpBuilder &b, Location loc, Type compute)
    : b(b), loc(loc), compute(compute) {}

Value KernelBuilder::idx(int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}
Value KernelBuilder::constant(double v) {
  return arith::ConstantOp::create(b, loc, compute, b.getFloatAttr(compute, v));
}
Value KernelBuilder::add(Value x, Value y) {
  return arith::AddIOp::create(b, loc, x, y);
}
Value KernelBuilder::sub(Value x, Value y) {
  return arith::SubIOp::create(b, loc, x, y);
}
Value KernelBuilder::mul(Value x, Value y) {
  return arith::MulIOp::create(b, loc, x, y);
}
Value KernelBuilder::divui(Value x, Value y) {
  return arith::DivUIOp::create(b, loc, x, y);
}
Value KernelBuilder::remui(Value x, Value y) {
  return arith::RemUIOp::create(b, loc, x, y);
}
SmallVector<Value> KernelBuilder::leadingIndices(Value buffer, Value row) {
  auto type = cast<MemRefType>(buffer.getType());
  if (type.getRank() == 2)
    return {row};
  SmallVector<Value> at(type.getRank() - 1);
  for (int64_t d = type.getRank() - 2; d > 0; --d) {
    Value size = memref::DimOp::create(b, loc, buffer, idx(d));
    at[d] = remui(row, size);
    row = divui(row, size);
  }
  at[0] = row;
  return at;
}
Value KernelBuilder::minui(Value x, Value y) {
  return arith::MinUIOp::create(b, loc, x, y);
}
Value KernelBuilder::ult(Value x, Value y) {
  return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, x, y);
}
Value KernelBuilder::eqi(Value x, Value y) {
  return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, x, y);
}
Value KernelBuilder::addf(Value x, Value y) {
  return arith::AddFOp::create(b, loc, x, y);
}
Value KernelBuilder::subf(Value x, Value y) {
  return arith::SubFOp::create(b, loc, x, y);
}
Value KernelBuilder::mulf(Value x, Value y) {
  return arith::MulFOp::create(b, loc, x, y);
}
Value KernelBuilder::maxf(Value x, Value y) {
  return arith::MaximumFOp::create(b, loc, x, y);
}
Value KernelBuilder::exp(Value x) { return math::ExpOp::create(b, loc, x); }

Value KernelBuilder::castFloat(Value v, Type t) {
  if (v.getType() == t)
    return v;
  if (t.getIntOrFloatBitWidth() < v.getType().getIntOrFloatBitWidth())
    return arith::TruncFOp::create(b, loc, t, v);
  return arith::ExtFOp::create(b, loc, t, v);
}

Value KernelBuilder::load(Value memref, ValueRange at) {
  return castFloat(memref::LoadOp::create(b, loc, memref, at), compute);
}

void KernelBuilder::store(Value v, Value memref, ValueRange at) {
  Type elt = cast<MemRefType>(memref.getType()).getElementType();
  memref::StoreOp::create(b, loc, castFloat(v, elt), memref, at);
}

SmallVector<Value> KernelBuilder::loadVector(Value memref, ValueRange at,
                                             int64_t n, int64_t alignment) {
  Type elt = cast<MemRefType>(memref.getType()).getElementType();
  int64_t bytes = n * elt.getIntOrFloatBitWidth() / 8;
  Value v = vector::LoadOp::create(
      b, loc, VectorType::get({n}, elt), memref, at, /*nontemporal=*/false,
      b.getI64IntegerAttr(alignment ? alignment : bytes));
  if (elt != compute)
    v = arith::ExtFOp::create(b, loc, VectorType::get({n}, compute), v);
  SmallVector<Value> values;
  for (int64_t i = 0; i < n; ++i)
    values.push_back(
        vector::ExtractOp::create(b, loc, v, ArrayRef<int64_t>{i}));
  return values;
}

void KernelBuilder::storeVector(ValueRange values, Value memref,
                                ValueRange at) {
  Type elt = cast<MemRefType>(memref.getType()).getElementType();
  int64_t n = values.size();
  Value v = vector::FromElementsOp::create(
      b, loc, VectorType::get({n}, compute), values);
  if (elt != compute)
    v = arith::TruncFOp::create(b, loc, VectorType::get({n}, elt), v);
  vector::StoreOp::create(b, loc, v, memref, at, /*nontemporal=*/false,
                          b.getI64IntegerAttr(n * elt.getIntOrFloatBitWidth() /
                                              8));
}

int64_t elementBytes(Value v) {
  return cast<ShapedType>(v.getType()).getElementTypeBitWidth() / 8;
}

Value KernelBuilder::dynamicSharedMemory() {
  Attribute workgroup = gpu::AddressSpaceAttr::get(
      b.getContext(), gpu::AddressSpace::Workgroup);
  return gpu::DynamicSharedMemoryOp::create(
      b, loc,
      MemRefType::get({ShapedType::kDynamic}, b.getI8Type(),
                      MemRefLayoutAttrInterface{}, workgroup));
}

Value KernelBuilder::sharedView(Value bytes, ArrayRef<int64_t> shape,
                                Type element, int64_t offset) {
  Attribute workgroup = gpu::AddressSpaceAttr::get(
      b.getContext(), gpu::AddressSpace::Workgroup);
  return memref::ViewOp::create(
      b, loc,
      MemRefType::get(shape, element, MemRefLayoutAttrInterface{}, workgroup),
      bytes, idx(offset), ValueRange{});
}

void KernelBuilder::copyTileAsync(
    Value src, Value dst, ValueRange lead, int64_t rows, int64_t cols,
    Value tid, int64_t threads, function_ref<Value(Value, Value)> inside,
    function_ref<SmallVector<Value>(Value, Value)> from,
    int64_t elementsPerCopy, bool swizzled) {
  Type token = nvgpu::DeviceAsyncTokenType::get(b.getContext());
  int64_t bytes = elementBytes(src);
  bool wide = elementsPerCopy == 0;
  int64_t perCopy = wide ? 16 / bytes : elementsPerCopy;
  assert(bytes > 0 && cols % perCopy == 0 && "whole copies per row");
  assert(llvm::is_contained({4, 8, 16}, perCopy * bytes) &&
         "cp.async copies 4, 8 or 16 bytes");
  assert((!swizzled || wide) && "swizzled tiles are copied in whole chunks");
  int64_t perRow = cols / perCopy, copies = rows * perRow;
  // cp.async reads a source whose last dimension is contiguous. Single
  // elements of a strided view (a transposed one, such as the mLSTM gates
  // read heads-last) copy from a one-element view at their address.
  auto srcType = cast<MemRefType>(src.getType());
  auto [srcStrides, srcOffset] = srcType.getStridesAndOffset();
  memref::ExtractStridedMetadataOp srcMetadata;
  if (srcStrides.back() != 1) {
    assert(perCopy == 1 && "a strided source is copied an element at a time");
    srcMetadata = memref::ExtractStridedMetadataOp::create(b, loc, src);
  }
  auto elementAt = [&](SmallVector<Value> at) -> std::pair<Value, Value> {
    if (!srcMetadata)
      return {src, Value()};
    Value linear = srcMetadata.getOffset();
    for (auto [i, stride] : llvm::zip(at, srcMetadata.getStrides()))
      linear = add(linear, mul(i, stride));
    auto one = MemRefType::get(
        {1}, srcType.getElementType(),
        StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, {1}),
        srcType.getMemorySpace());
    Value view = memref::ReinterpretCastOp::create(
        b, loc, one, srcMetadata.getBaseBuffer(), OpFoldResult(linear),
        ArrayRef<OpFoldResult>{b.getIndexAttr(1)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
    return {view, idx(0)};
  };
  for (int64_t first = 0; first < copies; first += threads) {
    Value id = add(tid, idx(first));
    auto body = [&] {
      Value r = divui(id, idx(perRow));
      Value col = mul(remui(id, idx(perRow)), idx(perCopy));
      Value srcRow = r, srcCol = col, size = idx(perCopy);
      if (inside) {
        Value ok = inside(r, col);
        srcRow = arith::SelectOp::create(b, loc, ok, r, idx(0));
        srcCol = arith::SelectOp::create(b, loc, ok, col, idx(0));
        size = arith::SelectOp::create(b, loc, ok, idx(perCopy), idx(0));
      }
      SmallVector<Value> at(lead.begin(), lead.end());
      // (A 16-byte copy is one whole chunk.)
      at.append({r, swizzled ? swizzledChunkColumn(b, loc, r,
                                                   remui(id, idx(perRow)),
                                                   cols * bytes, bytes)
                             : col});
      SmallVector<Value> srcAt = from(srcRow, srcCol);
      auto [source, element] = elementAt(srcAt);
      if (element)
        srcAt = {element};
      nvgpu::DeviceAsyncCopyOp::create(b, loc, token, dst, at, source, srcAt,
                                       b.getIndexAttr(perCopy), size,
                                       wide ? b.getUnitAttr() : UnitAttr());
    };
    if (first + threads <= copies)
      body();
    else
      ifThen(ult(id, idx(copies)), body);
  }
}

void KernelBuilder::ifThen(Value cond, function_ref<void()> body) {
  auto op = scf::IfOp::create(b, loc, cond, /*withElseRegion=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(op.thenBlock());
  body();
}

SmallVector<Value> KernelBuilder::forRange(
    Value from, Value to, Value step, ValueRange init,
    function_ref<SmallVector<Value>(Value, ValueRange)> body) {
  // The body builder runs with `b` inside the new loop.
  auto loop =
      scf::ForOp::create(b, loc, from, to, step, init,
                         [&](OpBuilder &, Location, Value iv, ValueRange iter) {
                           scf::YieldOp::create(b, loc, body(iv, iter));
                         });
  return SmallVector<Value>(loop.getResults().begin(), loop.getResults().end());
}

SmallVector<Value> KernelBuilder::forRange(
    int64_t from, int64_t to, int64_t step, ValueRange init,
    function_ref<SmallVector<Value>(Value, ValueRange)> body) {
  return forRange(idx(from), idx(to), idx(step), init, body);
}

/// One mma.sync m16n8k`k` (row-major A, column-major B) of `type`
/// operands accumulating four float32 values; returns d.
static SmallVector<Value> mmaSync(OpBuilder &b, Location loc, int32_t k,
                                  NVVM::MMATypes type, ValueRange a,
                                  ValueRange bRegs, ValueRange c) {
  Type f32 = b.getF32Type();
  auto resultType =
      LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
  Value d = NVVM::MmaOp::create(
      b, loc, resultType, a, bRegs, c, {16, 8, k}, std::nullopt, std::nullopt,
      std::array<NVVM::MMATypes, 2>{type, type},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                     NVVM::MMALayout::col});
  SmallVector<Value> out;
  for (int64_t e = 0; e < 4; ++e)
    out.push_back(LLVM::ExtractValueOp::create(b, loc, d, e));
  return out;
}

Value KernelBuilder::tf32(Value v) {
  return NVVM::ConvertFloatToTF32Op::create(
      b, loc, b.getI32Type(), castFloat(v, b.getF32Type()),
      NVVM::FPRoundingModeAttr::get(b.getContext(), NVVM::FPRoundingMode::RNA));
}

KernelBuilder::TF32Fragment KernelBuilder::fragment(ValueRange f32Values) {
  TF32Fragment f;
  for (Value v : f32Values) {
    v = castFloat(v, b.getF32Type());
    Value hi = tf32(v);
    f.hi.push_back(hi);
    if (splitTF32) {
      Value hiValue = arith::BitcastOp::create(b, loc, b.getF32Type(), hi);
      f.lo.push_back(tf32(subf(v, hiValue)));
    }
  }
  return f;
}

SmallVector<Value> KernelBuilder::mma(const TF32Fragment &a,
                                      const TF32Fragment &bFragment,
                                      ValueRange c) {
  auto one = [&](ArrayRef<Value> x, ArrayRef<Value> y, ValueRange acc) {
    return mmaSync(b, loc, 8, NVVM::MMATypes::tf32, x, y, acc);
  };
  if (a.lo.empty() || bFragment.lo.empty())
    return one(a.hi, bFragment.hi, c);
  SmallVector<Value> d = one(a.lo, bFragment.hi, c);
  d = one(a.hi, bFragment.lo, d);
  return one(a.hi, bFragment.hi, d);
}

/// The XOR keys of swizzled rows of `rowBytes`: the largest power of two
/// (at most 8) dividing the chunk count, so that XOR with a key stays
/// inside an aligned group of that many chunks, hence inside the row (a
/// row of 6 chunks swaps within pairs); 1: not swizzled.
static int64_t swizzleKeys(int64_t rowBytes) {
  if (rowBytes % 16)
    return 1;
  int64_t chunks = rowBytes / 16, keys = 1;
  while (keys < 8 && chunks % (2 * keys) == 0)
    keys *= 2;
  return keys;
}

/// The stored 16-byte chunk of chunk `chunk` of row `row`.
static Value swizzledChunk(OpBuilder &b, Location loc, Value row,
                           Value chunk, int64_t rowBytes) {
  int64_t keys = swizzleKeys(rowBytes);
  if (keys == 1)
    return chunk;
  // Rows of fewer than 8 keys' chunks take the row bits above those that
  // select their part of a 128-byte line (8 / keys rows a key).
  int64_t rowsPerLine = 8 / keys;
  auto cst = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value line = rowsPerLine == 1
                   ? row
                   : arith::DivUIOp::create(b, loc, row, cst(rowsPerLine));
  Value key = arith::AndIOp::create(b, loc, line, cst(keys - 1));
  return arith::XOrIOp::create(b, loc, chunk, key);
}

Value swizzledChunkColumn(OpBuilder &b, Location loc, Value row, Value chunk,
                          int64_t rowBytes, int64_t elementBytes) {
  return arith::MulIOp::create(
      b, loc, swizzledChunk(b, loc, row, chunk, rowBytes),
      arith::ConstantIndexOp::create(b, loc, 16 / elementBytes));
}

Value swizzledColumn(OpBuilder &b, Location loc, Value row, Value column,
                     int64_t rowBytes, int64_t elementBytes) {
  if (swizzleKeys(rowBytes) == 1)
    return column;
  int64_t perChunk = 16 / elementBytes;
  auto cst = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value chunk = arith::DivUIOp::create(b, loc, column, cst(perChunk));
  Value within = arith::RemUIOp::create(b, loc, column, cst(perChunk));
  return arith::AddIOp::create(
      b, loc,
      swizzledChunkColumn(b, loc, row, chunk, rowBytes, elementBytes),
      within);
}

SmallVector<Value> ldmatrixRegisters(OpBuilder &b, Location loc,
                                     Value fragment) {
  auto vecType = cast<VectorType>(fragment.getType());
  int64_t n = vecType.getShape()[0];
  SmallVector<Value> regs;
  if (vecType.getElementType().isF16()) {
    for (int64_t r = 0; r < n; ++r)
      regs.push_back(
          vector::ExtractOp::create(b, loc, fragment, ArrayRef<int64_t>{r}));
    return regs;
  }
  Value words = vector::BitCastOp::create(
      b, loc, VectorType::get({n, 1}, b.getI32Type()), fragment);
  for (int64_t r = 0; r < n; ++r)
    regs.push_back(
        vector::ExtractOp::create(b, loc, words, ArrayRef<int64_t>{r, 0}));
  return regs;
}

SmallVector<Value> mma16x8x16(OpBuilder &b, Location loc, Type elt,
                              ValueRange a, ValueRange bRegs, ValueRange c) {
  return mmaSync(b, loc, 16,
                 elt.isBF16() ? NVVM::MMATypes::bf16 : NVVM::MMATypes::f16, a,
                 bRegs, c);
}

SmallVector<Value> KernelBuilder::ldmatrixX4(Value smem, ValueRange at,
                                             bool trans) {
  Type elt = cast<MemRefType>(smem.getType()).getElementType();
  Value f = nvgpu::LdMatrixOp::create(b, loc, VectorType::get({4, 2}, elt),
                                      smem, at, b.getBoolAttr(trans),
                                      b.getI32IntegerAttr(4));
  return ldmatrixRegisters(b, loc, f);
}

Value KernelBuilder::packPair(Value lo, Value hi, Type elt) {
  Type f32 = b.getF32Type();
  Value pair = vector::FromElementsOp::create(
      b, loc, VectorType::get({2}, f32),
      ValueRange{castFloat(lo, f32), castFloat(hi, f32)});
  Value narrow =
      arith::TruncFOp::create(b, loc, VectorType::get({2}, elt), pair);
  if (elt.isF16())
    return narrow;
  Value word = vector::BitCastOp::create(
      b, loc, VectorType::get({1}, b.getI32Type()), narrow);
  return vector::ExtractOp::create(b, loc, word, ArrayRef<int64_t>{0});
}

SmallVector<SmallVector<Value>>
KernelBuilder::quadRows16(ArrayRef<Value> acc, int64_t tiles, Value lane,
                          Type elt) {
  assert(tiles % 4 == 0 && acc.size() == size_t(4 * tiles));
  Type i32 = b.getI32Type();
  auto word = [&](Value lo, Value hi) -> Value {
    Value pair = packPair(lo, hi, elt);
    if (!elt.isF16())
      return pair;
    Value bits = vector::BitCastOp::create(
        b, loc, VectorType::get({1}, i32), pair);
    return vector::ExtractOp::create(b, loc, bits, ArrayRef<int64_t>{0});
  };
  Value t = arith::RemUIOp::create(
      b, loc, lane, arith::ConstantIndexOp::create(b, loc, 4));
  auto bitOf = [&](int64_t bit) -> Value {
    Value masked = arith::AndIOp::create(
        b, loc, t, arith::ConstantIndexOp::create(b, loc, bit));
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, masked,
                                 arith::ConstantIndexOp::create(b, loc, 0));
  };
  Value bit0 = bitOf(1), bit1 = bitOf(2);
  auto select = [&](Value c, Value x, Value y) -> Value {
    return arith::SelectOp::create(b, loc, c, x, y);
  };
  // One round on lane bit `set` (1 or 2): the lanes t and t ^ distance
  // swap the words whose index differs from the lane in that bit, so that
  // after both rounds lane t's word s is lane s's word t.
  auto round = [&](SmallVector<Value> &w, Value set, int32_t distance) {
    for (int64_t k = 0; k < 4; ++k) {
      if (k & distance)
        continue;
      int64_t other = k + distance;
      Value send = select(set, w[k], w[other]);
      Value got = gpu::ShuffleOp::create(b, loc, send, distance, 32,
                                         gpu::ShuffleMode::XOR)
                      .getShuffleResult();
      w[k] = select(set, got, w[k]);
      w[other] = select(set, w[other], got);
    }
  };
  SmallVector<SmallVector<Value>> rows(2);
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t j = 0; j < tiles / 4; ++j) {
      SmallVector<Value> w;
      for (int64_t i = 0; i < 4; ++i) {
        int64_t at = 4 * (4 * j + i) + 2 * h;
        w.push_back(word(acc[at], acc[at + 1]));
      }
      round(w, bit0, 1);
      round(w, bit1, 2);
      Value words = vector::FromElementsOp::create(
          b, loc, VectorType::get({4}, i32), w);
      rows[h].push_back(vector::BitCastOp::create(
          b, loc, VectorType::get({8}, elt), words));
    }
  return rows;
}

std::array<Value, 2> KernelBuilder::unpackPair(Value reg, Type elt) {
  Value pair = reg;
  if (!elt.isF16()) {
    Value word = vector::BroadcastOp::create(
        b, loc, VectorType::get({1}, b.getI32Type()), reg);
    pair = vector::BitCastOp::create(b, loc, VectorType::get({2}, elt), word);
  }
  Value wide = arith::ExtFOp::create(
      b, loc, VectorType::get({2}, b.getF32Type()), pair);
  return {vector::ExtractOp::create(b, loc, wide, ArrayRef<int64_t>{0}),
          vector::ExtractOp::create(b, loc, wide, ArrayRef<int64_t>{1})};
}

MmaLane MmaLane::of(OpBuilder &b, Location loc, Value lane) {
  Value four = arith::ConstantIndexOp::create(b, loc, 4);
  return {arith::DivUIOp::create(b, loc, lane, four),
          arith::RemUIOp::create(b, loc, lane, four)};
}

Value MmaLane::pairColumn(OpBuilder &b, Location loc) const {
  return arith::MulIOp::create(b, loc, inGroup,
                               arith::ConstantIndexOp::create(b, loc, 2));
}

} // namespace xlstm
