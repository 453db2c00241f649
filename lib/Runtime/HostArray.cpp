//===- HostArray.cpp - Host arrays crossing the GPU runtime's API ---------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Runtime/HostArray.h"

#include "llvm/ADT/StringExtras.h"

#include <algorithm>
#include <cassert>
#include <cstdint>
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

// (A size mismatch is a caller bug: asserted, and never a read past
// `values`.)
HostArray HostArray::fromF32(llvm::ArrayRef<int64_t> shape,
                             llvm::ArrayRef<float> values) {
  assert(int64_t(values.size()) == countElements(shape) && "size mismatch");
  HostArray a(weights::DType::F32, shape);
  std::memcpy(a.bytes.data(), values.data(),
              std::min(a.bytes.size(), values.size() * sizeof(float)));
  return a;
}

HostArray HostArray::fromTokens(llvm::ArrayRef<int64_t> shape,
                                llvm::ArrayRef<int64_t> tokens) {
  assert(int64_t(tokens.size()) == countElements(shape) && "size mismatch");
  HostArray a(weights::DType::I64, shape);
  std::memcpy(a.bytes.data(), tokens.data(),
              std::min(a.bytes.size(), tokens.size() * sizeof(int64_t)));
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

std::string xlstm::runtime::formatShape(llvm::ArrayRef<int64_t> shape) {
  std::string s;
  for (auto [i, d] : llvm::enumerate(shape))
    s += (i ? "x" : "") + (d < 0 ? std::string("?") : std::to_string(d));
  return s;
}

std::string HostArray::describe() const {
  return formatShape(shape) + " " + weights::toString(dtype).lower();
}

llvm::Error HostArray::verify(llvm::StringRef what) const {
  uint64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0 || (d > 0 && count > uint64_t(INT64_MAX) / uint64_t(d)))
      return llvm::createStringError("%s: shape %s is not a valid array shape",
                                     what.str().c_str(),
                                     formatShape(shape).c_str());
    count *= uint64_t(d);
  }
  if (count > uint64_t(INT64_MAX) / weights::elementSize(dtype) ||
      bytes.size() != count * weights::elementSize(dtype))
    return llvm::createStringError(
        "%s: %zu bytes for %s (%llu elements of %zu bytes)",
        what.str().c_str(), bytes.size(), describe().c_str(),
        static_cast<unsigned long long>(count), weights::elementSize(dtype));
  return llvm::Error::success();
}
