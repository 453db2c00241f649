//===- KernelBuilder.h - Helpers for hand-scheduled GPU kernels -*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// The passes that emit whole kernels (persistent sLSTM, chunkwise mLSTM) build
// gpu.launch bodies op by op; this is their shared vocabulary: index and
// float arithmetic, loads and stores that convert to and from the compute
// type, asynchronous tile copies into shared memory, structured loops and
// conditionals, tf32 tensor-core tiles, and the
// tensor/buffer boundary of a kernel emitted into tensor IR.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_LIB_CONVERSION_KERNELBUILDER_H
#define XLSTM_LIB_CONVERSION_KERNELBUILDER_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringMap.h"

#include <array>

namespace xlstm {

/// `tensor` as a read-only buffer with the identity layout, for a kernel
/// emitted into tensor IR (bufferization resolves it).
mlir::Value toReadOnlyBuffer(mlir::OpBuilder &b, mlir::Location loc,
                             mlir::Value tensor);
/// Whether `tensor` is a column slice a kernel can read in place: an
/// extract_slice of a tensor of the same rank with static offsets and unit
/// strides, whose rows start at multiples of `alignElements` elements (a
/// kernel's vector loads of up to that many elements stay aligned).
bool isAlignedColumnSlice(mlir::Value tensor, int64_t alignElements);
/// An aligned column slice (isAlignedColumnSlice) as a read-only strided
/// view of the sliced tensor's buffer (no copy). Kernels must index it
/// with all of its dimensions.
mlir::Value toReadOnlyView(mlir::OpBuilder &b, mlir::Location loc,
                           mlir::Value slice);
/// `buffer` (a fresh allocation the kernel filled) as a tensor of `type`.
mlir::Value toTensor(mlir::OpBuilder &b, mlir::Location loc, mlir::Type type,
                     mlir::Value buffer);
/// A fresh buffer for a result of tensor type `type`; `sizes` has an entry
/// per dimension, read where the dimension is dynamic (null elsewhere).
mlir::Value allocateLike(mlir::OpBuilder &b, mlir::Location loc,
                         mlir::Type type, llvm::ArrayRef<mlir::Value> sizes);
/// Whether an operand or result of `op` has elements wider than 32 bits:
/// kernels that compute in float32 (and store through truncf) decline it.
bool hasWiderThanF32(mlir::Operation *op);

/// Shared memory (static + dynamic) a block may have on sm_80, the chip
/// the kernels target: the H200 allows 227 KiB, sm_86/89 only 99 KiB (a
/// kernel over that fails to launch there).
constexpr int64_t kMaxSharedBytesPerBlock = 163 * 1024;

/// Bytes per element of the shaped (tensor or memref) value `v`.
int64_t elementBytes(mlir::Value v);

/// A `shape` float buffer of `element` in workgroup (shared) memory.
mlir::MemRefType sharedMemoryType(mlir::MLIRContext *context,
                                  llvm::ArrayRef<int64_t> shape,
                                  mlir::Type element);

/// A lane's place in mma.sync's m16n8 fragments (PTX ISA, "Matrix Fragments
/// for mma.m16n8k16" and "m16n8k8"): its `group`, lane / 4, holds rows
/// group and group + 8 of A and of the accumulators and column group of B;
/// its place in the group, `inGroup` (lane % 4), holds the accumulator
/// columns 2 inGroup and 2 inGroup + 1, and the k pair from 2 inGroup of a
/// 16-bit A and B (k inGroup and inGroup + 4 of a tf32 one).
struct MmaLane {
  mlir::Value group, inGroup;
  static MmaLane of(mlir::OpBuilder &b, mlir::Location loc, mlir::Value lane);
  /// 2 inGroup: the first of the lane's two accumulator columns of a tile.
  mlir::Value pairColumn(mlir::OpBuilder &b, mlir::Location loc) const;
};

/// Kernels built once per configuration rather than once per launch site.
/// A model repeats its blocks, so most launches of a kernel family share
/// their shapes and types: building, canonicalising, outlining and
/// deduplicating a body per site made most of a compile (the xLSTM-7B's 32
/// blocks). The first launch of a key builds a gpu.func in a gpu.module of
/// its own (what gpu-kernel-outlining would make of a gpu.launch); every
/// launch is a gpu.launch_func. Operands defined by constants become
/// constants inside the kernel and part of its key, so that what is static
/// at a site stays static in the kernel, as with a gpu.launch whose
/// constants were sunk.
class KernelCache {
public:
  /// What a kernel body is built from.
  struct Body {
    /// The launch's operands as the kernel sees them: its arguments, and
    /// the constants re-created inside.
    llvm::SmallVector<mlir::Value> args;
    mlir::gpu::KernelDim3 blockIds, threadIds;
    /// The static shared buffers (`workgroup` types of the launch).
    mlir::ValueRange workgroup;
    /// The kernel being built (for attributes such as hints to ptxas).
    mlir::gpu::GPUFuncOp func;
  };
  using BodyBuilder = llvm::function_ref<void(mlir::OpBuilder &, const Body &)>;

  /// Kernels go into `module` (a gpu.module each, named after the kernel).
  explicit KernelCache(mlir::ModuleOp module);

  /// Launches the kernel `name` in configuration `config` on `operands`
  /// (grid `grid`, `block` threads, `dynamicSharedBytes` an i32 or null),
  /// building it with `build` the first time this name, configuration,
  /// block, workgroup types, operand types and constant operands meet.
  /// `build` must make the body from `Body` alone (no value of the site).
  mlir::gpu::LaunchFuncOp launch(mlir::OpBuilder &b, mlir::Location loc,
                                 llvm::StringRef name, llvm::StringRef config,
                                 mlir::ValueRange operands,
                                 mlir::gpu::KernelDim3 grid,
                                 std::array<int64_t, 3> block,
                                 mlir::Value dynamicSharedBytes,
                                 mlir::TypeRange workgroup, BodyBuilder build);

  /// Distinct kernels built so far.
  unsigned size() const { return kernels.size(); }

private:
  mlir::ModuleOp module;
  mlir::SymbolTable symbols;
  llvm::StringMap<mlir::gpu::GPUFuncOp> kernels;
};

/// The element column where element `column` of row `row` of a dense,
/// swizzled shared-memory tile with rows of `rowBytes` is stored. The
/// 16-byte chunks of each 128-byte line are permuted by XOR with a key that
/// differs between the rows sharing a line and between 8 consecutive lines
/// (rows of 128 bytes or more: row % 8; narrower rows share a line, so the
/// key takes the row bits above those), so the eight 16-byte rows an
/// ldmatrix reads at one logical chunk of 8 consecutive rows (or of 8
/// consecutive 128-byte lines) fall in distinct banks without padding.
/// Rows of a chunk count that is not a power of two are swizzled within
/// aligned groups of the largest power of two dividing it (the key then
/// takes the row bits above 8 / that many rows); rows of one chunk, an odd
/// number of chunks or not a whole number of chunks are not swizzled.
mlir::Value swizzledColumn(mlir::OpBuilder &b, mlir::Location loc,
                           mlir::Value row, mlir::Value column,
                           int64_t rowBytes, int64_t elementBytes);
/// The same for the first element of the row's 16-byte chunk `chunk`:
/// the element column where that chunk is stored (ldmatrix addresses and
/// 16-byte copies).
mlir::Value swizzledChunkColumn(mlir::OpBuilder &b, mlir::Location loc,
                                mlir::Value row, mlir::Value chunk,
                                int64_t rowBytes, int64_t elementBytes);

/// The 32-bit registers of an `nvgpu.ldmatrix` result (vector<Nx2xT>,
/// T = bf16 or f16) as mma.sync m16n8k16 takes them: i32 for bf16,
/// vector<2xf16> for f16.
llvm::SmallVector<mlir::Value> ldmatrixRegisters(mlir::OpBuilder &b,
                                                 mlir::Location loc,
                                                 mlir::Value fragment);
/// d = a b + c on one m16n8k16 tile of `elt` (bf16 or f16) operands: four
/// A registers, two B registers, four float32 accumulators; returns d.
llvm::SmallVector<mlir::Value> mma16x8x16(mlir::OpBuilder &b,
                                          mlir::Location loc, mlir::Type elt,
                                          mlir::ValueRange a,
                                          mlir::ValueRange bRegs,
                                          mlir::ValueRange c);

class KernelBuilder {
public:
  /// `compute` is the float type loads convert to and stores from.
  KernelBuilder(mlir::OpBuilder &b, mlir::Location loc, mlir::Type compute);

protected:
  mlir::Value idx(int64_t v);
  mlir::Value constant(double v); ///< in the compute type
  // Index arithmetic.
  mlir::Value add(mlir::Value x, mlir::Value y);
  mlir::Value sub(mlir::Value x, mlir::Value y);
  mlir::Value mul(mlir::Value x, mlir::Value y);
  mlir::Value divui(mlir::Value x, mlir::Value y);
  mlir::Value remui(mlir::Value x, mlir::Value y);
  mlir::Value minui(mlir::Value x, mlir::Value y);
  mlir::Value ult(mlir::Value x, mlir::Value y);
  mlir::Value eqi(mlir::Value x, mlir::Value y);
  /// The indices before the last dimension of `row` (a row of the buffer
  /// collapsed to (rows, last)) in `buffer`: the row itself for a 2-D
  /// buffer, else split by the buffer's sizes (a toReadOnlyView, which
  /// cannot be collapsed).
  llvm::SmallVector<mlir::Value> leadingIndices(mlir::Value buffer,
                                                mlir::Value row);
  // Float arithmetic.
  mlir::Value addf(mlir::Value x, mlir::Value y);
  mlir::Value subf(mlir::Value x, mlir::Value y);
  mlir::Value mulf(mlir::Value x, mlir::Value y);
  mlir::Value maxf(mlir::Value x, mlir::Value y);
  mlir::Value exp(mlir::Value x);

  /// `v` converted to float type `t` (extf/truncf).
  mlir::Value castFloat(mlir::Value v, mlir::Type t);
  /// A load converted to the compute type.
  mlir::Value load(mlir::Value memref, mlir::ValueRange at);
  /// A compute-type value stored in the memref's element type.
  void store(mlir::Value v, mlir::Value memref, mlir::ValueRange at);

  /// `n` consecutive elements from `at` (the last index advancing) in one
  /// vector load aligned to its size (or to `alignment` bytes), converted
  /// to the compute type.
  llvm::SmallVector<mlir::Value> loadVector(mlir::Value memref,
                                            mlir::ValueRange at, int64_t n,
                                            int64_t alignment = 0);
  /// Compute-type `values` stored at `at` onwards in one aligned vector
  /// store in the memref's element type.
  void storeVector(mlir::ValueRange values, mlir::Value memref,
                   mlir::ValueRange at);

  /// The kernel's dynamic shared memory, as bytes.
  mlir::Value dynamicSharedMemory();
  /// A `shape` buffer of `element` at byte `offset` of `bytes`.
  mlir::Value sharedView(mlir::Value bytes, llvm::ArrayRef<int64_t> shape,
                         mlir::Type element, int64_t offset);
  /// Queues cp.async copies of a rows x cols tile of `src` into `dst` at
  /// {lead..., r, c}, reading `src` at from(r, c): `elementsPerCopy`
  /// elements each (0: 16 bytes' worth, bypassing L1), spread over
  /// `threads` threads. Where inside(r, c) is false (`inside` may be null:
  /// everywhere true) the copy zero-fills (reading the tile's first
  /// element, copying no bytes). With `swizzled`, `dst`'s rows are the
  /// tile's cols, dense, swizzled as swizzledColumn says.
  void copyTileAsync(
      mlir::Value src, mlir::Value dst, mlir::ValueRange lead, int64_t rows,
      int64_t cols, mlir::Value tid, int64_t threads,
      llvm::function_ref<mlir::Value(mlir::Value, mlir::Value)> inside,
      llvm::function_ref<llvm::SmallVector<mlir::Value>(mlir::Value,
                                                        mlir::Value)>
          from,
      int64_t elementsPerCopy = 0, bool swizzled = false);

  void ifThen(mlir::Value cond, llvm::function_ref<void()> body);
  /// scf.for over [from, to) by `step` carrying `init`; returns the results.
  llvm::SmallVector<mlir::Value>
  forRange(mlir::Value from, mlir::Value to, mlir::Value step,
           mlir::ValueRange init,
           llvm::function_ref<llvm::SmallVector<mlir::Value>(mlir::Value,
                                                             mlir::ValueRange)>
               body);
  llvm::SmallVector<mlir::Value>
  forRange(int64_t from, int64_t to, int64_t step, mlir::ValueRange init,
           llvm::function_ref<llvm::SmallVector<mlir::Value>(mlir::Value,
                                                             mlir::ValueRange)>
               body);

  /// A float32 as a tf32 operand register (round to nearest, ties away).
  mlir::Value tf32(mlir::Value v);
  /// The tf32 registers of an mma operand fragment: `hi`, and with
  /// `splitTF32` also `lo`, the residue v - hi rounded again (3xTF32: the
  /// products hi*hi + hi*lo + lo*hi keep about float32 precision).
  struct TF32Fragment {
    llvm::SmallVector<mlir::Value, 4> hi, lo;
  };
  TF32Fragment fragment(mlir::ValueRange f32Values);
  /// d = a b + c on one m16n8k8 tf32 tensor-core tile (4 + 2 operand
  /// registers, 4 float32 accumulators): one mma, or three with
  /// `splitTF32` (small terms first); returns d's four floats.
  llvm::SmallVector<mlir::Value>
  mma(const TF32Fragment &a, const TF32Fragment &bFragment, mlir::ValueRange c);

  /// 16-bit tensor-core operands (bf16/f16, `elt`) from shared memory:
  /// ldmatrix.x4 at the lane's row address `at` (transposed: rows are the
  /// k dimension of a B operand stored n-contiguous); four registers.
  llvm::SmallVector<mlir::Value> ldmatrixX4(mlir::Value smem,
                                            mlir::ValueRange at, bool trans);
  /// The accumulators of `tiles` consecutive m16n8 tiles (4 per tile, as
  /// mma.sync leaves them: lane (g, t) holds rows g and g + 8, columns 2t
  /// and 2t + 1 of each tile) rounded to the 16-bit `elt` and regrouped
  /// within each quad of lanes (a 4x4 transpose of 32-bit pairs by two
  /// rounds of shuffles) so that lane t holds the 8 consecutive columns of
  /// tile 4j + t: result[h][j] is a vector<8 x elt> of row g + 8 h. A
  /// quad then stores 64 contiguous bytes of a row in 16-byte stores
  /// instead of 4-byte ones that fill half a 32-byte sector each. Needs
  /// tiles % 4 == 0.
  llvm::SmallVector<llvm::SmallVector<mlir::Value>>
  quadRows16(llvm::ArrayRef<mlir::Value> acc, int64_t tiles,
             mlir::Value lane, mlir::Type elt);
  /// Two float32 values rounded into one 16-bit operand register (`lo` in
  /// the low half, the lower column or k index of a fragment pair).
  mlir::Value packPair(mlir::Value lo, mlir::Value hi, mlir::Type elt);
  /// The two elements of a 16-bit operand register, as float32.
  std::array<mlir::Value, 2> unpackPair(mlir::Value reg, mlir::Type elt);

  mlir::OpBuilder &b;
  mlir::Location loc;
  mlir::Type compute;
  bool splitTF32 = false;
};

} // namespace xlstm

#endif // XLSTM_LIB_CONVERSION_KERNELBUILDER_H
