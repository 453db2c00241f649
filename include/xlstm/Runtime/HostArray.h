//===- HostArray.h - Host arrays crossing the GPU runtime's API -*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// A row-major array in host memory in one of the types the compiled
// programs exchange: float32, bf16 or f16 values (raw little-endian bits)
// or int64 tokens. GPUModel returns outputs and states in the program's own
// element type (a bf16 state crosses as bf16, no widening) and accepts any
// float type for states, converting once. Float64 is the reference
// device's alone.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_RUNTIME_HOSTARRAY_H
#define XLSTM_RUNTIME_HOSTARRAY_H

#include "xlstm/Weights/ParameterBinding.h"
#include "xlstm/Weights/Safetensors.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"

#include <cstdint>
#include <string>
#include <vector>

namespace xlstm::runtime {

struct HostArray {
  weights::DType dtype = weights::DType::F32;
  llvm::SmallVector<int64_t, 4> shape;
  std::vector<uint8_t> bytes; ///< little-endian, `dtype` encoded

  HostArray() = default;
  /// Zeros (the bytes of 0 in every type).
  HostArray(weights::DType dtype, llvm::ArrayRef<int64_t> shape);
  /// `values` (as many as the shape has elements) as an array of `dtype`.
  static HostArray fromF32(llvm::ArrayRef<int64_t> shape,
                           llvm::ArrayRef<float> values);
  static HostArray fromF64(llvm::ArrayRef<int64_t> shape,
                           llvm::ArrayRef<double> values,
                           weights::DType dtype);
  static HostArray fromTokens(llvm::ArrayRef<int64_t> shape,
                              llvm::ArrayRef<int64_t> tokens);

  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  int64_t dim(int64_t i) const { return shape[i < 0 ? i + rank() : i]; }
  int64_t getNumElements() const;
  /// The values as float32: exact for bf16/f16, tokens by value.
  std::vector<float> toF32() const;
  /// The elements in `to` (a copy when the type agrees; round to nearest
  /// even when narrowing).
  HostArray convertTo(weights::DType to) const;
  /// The elements as `T`, which must have the element's size (float for
  /// F32, int64_t for I64, uint16_t for bf16/f16 bits).
  template <typename T> llvm::ArrayRef<T> as() const {
    return llvm::ArrayRef<T>(reinterpret_cast<const T *>(bytes.data()),
                             bytes.size() / sizeof(T));
  }
  /// "2x1x64 bf16"
  std::string describe() const;
  /// Whether the dimensions are non-negative and `bytes` holds exactly
  /// their elements (the fields are public: API entry points check).
  llvm::Error verify(llvm::StringRef what) const;
};

/// "2x1x64" (dynamic dimensions as "?").
std::string formatShape(llvm::ArrayRef<int64_t> shape);

/// Parameter values from the weights layer (upstream's init, float64
/// vectors in `params` order) as float32 arrays of their shapes, as
/// upstream creates them.
std::vector<HostArray> toFloat32Arrays(llvm::ArrayRef<weights::ParamDesc> params,
                                       const weights::ParamValues &values);

} // namespace xlstm::runtime

#endif // XLSTM_RUNTIME_HOSTARRAY_H
