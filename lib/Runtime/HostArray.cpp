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

/// `count` elements at `data`, stored as `from`, as an array of `to`. (A
/// count other than the shape's is a caller bug: asserted, and never a read
/// past `data`; missing elements stay zero.)
static HostArray encodeElements(llvm::ArrayRef<int64_t> shape,
                                const void *data, size_t count,
                                weights::DType from, weights::DType to) {
  assert(int64_t(count) == countElements(shape) && "size mismatch");
  HostArray a(to, shape);
  size_t n = std::min<size_t>(count, countElements(shape));
  weights::convertElements(
      llvm::ArrayRef<uint8_t>(static_cast<const uint8_t *>(data),
                              n * weights::elementSize(from)),
      from,
      llvm::MutableArrayRef<uint8_t>(a.bytes).take_front(
          n * weights::elementSize(to)),
      to);
  return a;
}

HostArray HostArray::fromF32(llvm::ArrayRef<int64_t> shape,
                             llvm::ArrayRef<float> values) {
  return encodeElements(shape, values.data(), values.size(),
                        weights::DType::F32, weights::DType::F32);
}

HostArray HostArray::fromF64(llvm::ArrayRef<int64_t> shape,
                             llvm::ArrayRef<double> values,
                             weights::DType dtype) {
  return encodeElements(shape, values.data(), values.size(),
                        weights::DType::F64, dtype);
}

HostArray HostArray::fromTokens(llvm::ArrayRef<int64_t> shape,
                                llvm::ArrayRef<int64_t> tokens) {
  return encodeElements(shape, tokens.data(), tokens.size(),
                        weights::DType::I64, weights::DType::I64);
}

std::vector<HostArray>
xlstm::runtime::toFloat32Arrays(llvm::ArrayRef<weights::ParamDesc> params,
                                const weights::ParamValues &values) {
  std::vector<HostArray> arrays;
  for (auto [desc, v] : llvm::zip(params, values))
    arrays.push_back(HostArray::fromF64(desc.shape, v, weights::DType::F32));
  return arrays;
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
