//===- Random.h - Reproducible random numbers -------------------*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// The random numbers of random weight init and random model inputs: a
// splitmix64 stream per name, with uniform and normal draws that give the
// same bits on every platform (no std:: distributions, no libm log).
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_WEIGHTS_RANDOM_H
#define XLSTM_WEIGHTS_RANDOM_H

#include "llvm/ADT/StringRef.h"

#include <cstdint>

namespace xlstm::weights {

/// splitmix64, one stream per (seed, name).
class SeededRandom {
public:
  SeededRandom(uint64_t seed, llvm::StringRef name);
  /// 64 random bits.
  uint64_t next();
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return double(next() >> 11) * 0x1p-53; }
  /// Standard normal (Marsaglia polar method).
  double normal();

private:
  uint64_t state;
  double spare = 0;
  bool hasSpare = false;
};

} // namespace xlstm::weights

#endif // XLSTM_WEIGHTS_RANDOM_H
