//===- Tensor.h - Dense float64 host tensors for the reference --*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// The value type of the reference evaluator: a row-major float64 array with
// a shape. Integer tensors (tokens) are held as exact doubles.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_REFERENCE_TENSOR_H
#define XLSTM_REFERENCE_TENSOR_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include <cstdint>
#include <string>
#include <vector>

namespace xlstm::reference {

struct Tensor {
  llvm::SmallVector<int64_t, 4> shape;
  std::vector<double> data;

  Tensor() = default;
  /// Zeros of the given shape.
  explicit Tensor(llvm::ArrayRef<int64_t> shape)
      : shape(shape.begin(), shape.end()), data(numElements(shape), 0.0) {}
  Tensor(llvm::ArrayRef<int64_t> shape, std::vector<double> values)
      : shape(shape.begin(), shape.end()), data(std::move(values)) {}

  static int64_t numElements(llvm::ArrayRef<int64_t> shape) {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  int64_t size() const { return static_cast<int64_t>(data.size()); }
  int64_t dim(int64_t i) const { return shape[i < 0 ? i + rank() : i]; }
  /// Row-major strides.
  llvm::SmallVector<int64_t, 4> strides() const {
    llvm::SmallVector<int64_t, 4> s(shape.size(), 1);
    for (int64_t i = rank() - 2; i >= 0; --i)
      s[i] = s[i + 1] * shape[i + 1];
    return s;
  }
  /// "2x3x4".
  std::string shapeString() const;
};

} // namespace xlstm::reference

#endif // XLSTM_REFERENCE_TENSOR_H
