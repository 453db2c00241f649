//===- HostArray.cpp - Host arrays crossing the GPU runtime's API ---------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Runtime/HostArray.h"

#include "llvm/ADT/StringExtras.h"

#include <cassert>
#include <cstring>

using namespace xlstm;
using namespace xlstm::runtime;

static int64_t countElements(llvm::ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

HostArray::HostArray(weights::DType dtype, llvm::ArrayRef<int64_t> shape)
    : dtype(dtype), shape(shape.begin(), shape.end()),
      bytes(size_t(countElements(shape)) * weights::elementSize(dtype), 0) {}

HostArray HostArray::fromF32(llvm::ArrayRef<int64_t> shape,
                             llvm::ArrayRef<float> values) {
  assert(int64_t(values.size()) == countElements(shape) && "size mismatch");
  HostArray a(weights::DType::F32, shape);
  std::memcpy(a.bytes.data(), values.data(), a.bytes.size());
  return a;
}

HostArray HostArray::fromTokens(llvm::ArrayRef<int64_t> shape,
                                llvm::ArrayRef<int64_t> tokens) {
  assert(int64_t(tokens.size()) == countElements(shape) && "size mismatch");
  HostArray a(weights::DType::I64, shape);
  std::memcpy(a.bytes.data(), tokens.data(), a.bytes.size());
  return a;
}

int64_t HostArray::getNumElements() const { return countElements(shape); }

std::vector<float> HostArray::toF32() const {
  weights::TensorView view{"", dtype, shape, bytes};
  return weights::toF32(view);
}

HostArray HostArray::convertTo(weights::DType to) const {
  HostArray out(to, shape);
  weights::convertElements(bytes, dtype, out.bytes, to);
  return out;
}

std::string HostArray::describe() const {
  std::string s;
  for (auto [i, d] : llvm::enumerate(shape))
    s += (i ? "x" : "") + std::to_string(d);
  return s + " " + weights::toString(dtype).lower();
}
