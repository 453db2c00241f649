//===- Safetensors.h - Read and write safetensors files ---------*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// The safetensors format: an 8-byte little-endian header length, a JSON
// header mapping tensor names to {dtype, shape, data_offsets} (plus an
// optional "__metadata__" string map), then the raw little-endian data.
// The reader validates everything before any data is touched: header size
// within the file, known dtypes, shapes whose element count times the dtype
// size equals the byte range, ranges inside the data section and not
// overlapping. A truncated or hostile file is an Error, never an
// out-of-bounds read. LLVM Support only (no MLIR): the runtime uses it too.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_WEIGHTS_SAFETENSORS_H
#define XLSTM_WEIGHTS_SAFETENSORS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace xlstm::weights {

/// Element types we read and write ("F32", "BF16", "F16", "F64", "I64").
enum class DType : uint8_t { F32, BF16, F16, F64, I64 };

llvm::StringRef toString(DType dtype);
/// Parses the safetensors spelling ("F32", ...); std::nullopt if unknown.
std::optional<DType> parseDType(llvm::StringRef spelling);
size_t elementSize(DType dtype);
bool isFloat(DType dtype);

/// A tensor inside a loaded file; `bytes` points into the file's buffer.
struct TensorView {
  std::string name;
  DType dtype;
  llvm::SmallVector<int64_t, 4> shape;
  llvm::ArrayRef<uint8_t> bytes;
  /// The bytes are pages of a memory-mapped file (releasePages may drop
  /// them from memory; they are read again from the file when touched).
  bool mapped = false;

  int64_t numElements() const;
  /// "2x3x4" (a scalar is "scalar").
  std::string shapeString() const;
};

/// A loaded, validated safetensors file.
class SafetensorsFile {
public:
  /// Reads and validates `path`. Errors name the file and what is wrong.
  static llvm::Expected<SafetensorsFile> open(llvm::StringRef path);
  /// Validates an in-memory file; messages use the buffer identifier.
  static llvm::Expected<SafetensorsFile>
  fromBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer);

  /// Tensors in order of their data offsets.
  llvm::ArrayRef<TensorView> tensors() const { return tensorList; }
  /// The tensor named `name`, or null.
  const TensorView *find(llvm::StringRef name) const;
  /// The "__metadata__" map (empty if absent).
  const std::map<std::string, std::string> &metadata() const { return meta; }
  llvm::StringRef name() const { return buffer->getBufferIdentifier(); }

private:
  std::unique_ptr<llvm::MemoryBuffer> buffer;
  std::vector<TensorView> tensorList;
  std::map<std::string, std::string> meta;
};

/// Lets the kernel drop the pages that lie wholly inside `bytes` of a
/// mapped tensor from memory (they are file-backed and read-only: touching
/// them again reads the file). Loaders call it once a tensor is on the GPU,
/// so that loading a checkpoint does not keep all of it resident. A no-op
/// for tensors that are not mapped and where the OS has no madvise.
void releasePages(const TensorView &tensor, llvm::ArrayRef<uint8_t> bytes);

/// Converts any supported dtype to double / float (bf16 and f16 exactly,
/// i64 by value).
std::vector<double> toF64(const TensorView &tensor);
std::vector<float> toF32(const TensorView &tensor);

/// Converts the elements of `src` (stored as `from`) into `dst` as `to`,
/// `dst.size() / elementSize(to)` of them: a copy when the dtypes agree,
/// else exact widening or round to nearest even (as fromF64 rounds).
/// `src` must hold at least as many elements.
void convertElements(llvm::ArrayRef<uint8_t> src, DType from,
                     llvm::MutableArrayRef<uint8_t> dst, DType to);

/// A tensor owned in memory, for writing.
struct OwnedTensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes; ///< little-endian, `dtype` encoded

  /// Encodes `values` as `dtype` (round to nearest even for bf16/f16).
  static OwnedTensor fromF64(std::string name, std::vector<int64_t> shape,
                             llvm::ArrayRef<double> values, DType dtype);
};

/// Writes a safetensors file (header padded to 8 bytes, tensors in the
/// given order). Names must be unique.
llvm::Error
writeSafetensors(llvm::StringRef path, llvm::ArrayRef<OwnedTensor> tensors,
                 const std::map<std::string, std::string> &metadata);

} // namespace xlstm::weights

#endif // XLSTM_WEIGHTS_SAFETENSORS_H
