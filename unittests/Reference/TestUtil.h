//===- TestUtil.h - Helpers for the reference tests -------------*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_UNITTESTS_REFERENCE_TESTUTIL_H
#define XLSTM_UNITTESTS_REFERENCE_TESTUTIL_H

#include "xlstm/Reference/Tensor.h"

#include <cmath>
#include <random>

namespace xlstm::reference::test {

/// N(0, stddev) values of the given shape; fresh but reproducible per seed.
inline Tensor randomTensor(llvm::ArrayRef<int64_t> shape, std::mt19937_64 &rng,
                           double stddev = 1.0, double mean = 0.0) {
  Tensor t(shape);
  std::normal_distribution<double> dist(mean, stddev);
  for (double &v : t.data)
    v = dist(rng);
  return t;
}

/// ||a - b|| / ||b|| (inf if the shapes differ or anything is not finite).
inline double relativeError(const Tensor &a, const Tensor &b) {
  if (a.shape != b.shape)
    return INFINITY;
  double diff = 0, norm = 0;
  for (size_t i = 0; i < a.data.size(); ++i) {
    if (!std::isfinite(a.data[i]) || !std::isfinite(b.data[i]))
      return INFINITY;
    diff += (a.data[i] - b.data[i]) * (a.data[i] - b.data[i]);
    norm += b.data[i] * b.data[i];
  }
  return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

} // namespace xlstm::reference::test

#endif // XLSTM_UNITTESTS_REFERENCE_TESTUTIL_H
