//===- Random.cpp - Reproducible random numbers ---------------------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Weights/Random.h"

#include <cmath>

using namespace xlstm::weights;

namespace {
/// ln(x) for x > 0 from frexp (exact) and the atanh series on
/// [sqrt(1/2), sqrt(2)), accurate to ~1e-16; unlike std::log it gives the
/// same bits on every platform (the library is built with -ffp-contract=off).
double portableLog(double x) {
  int e;
  double m = std::frexp(x, &e);
  if (m < 0.70710678118654752) {
    m *= 2;
    --e;
  }
  double s = (m - 1) / (m + 1), s2 = s * s, term = s, sum = 0;
  for (int k = 1; k < 36; k += 2) { // |s| <= 0.172: s^35 < 1e-26
    sum += term / k;
    term *= s2;
  }
  return 2 * sum + e * 0.69314718055994531;
}

uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}
} // namespace

SeededRandom::SeededRandom(uint64_t seed, llvm::StringRef name) {
  uint64_t hash = 0xcbf29ce484222325; // FNV-1a
  for (unsigned char c : name)
    hash = (hash ^ c) * 0x100000001b3;
  state = seed ^ mix(hash);
}

uint64_t SeededRandom::next() { return mix(state += 0x9e3779b97f4a7c15); }

double SeededRandom::normal() {
  if (hasSpare) {
    hasSpare = false;
    return spare;
  }
  double u, v, s;
  do {
    u = 2 * uniform() - 1;
    v = 2 * uniform() - 1;
    s = u * u + v * v;
  } while (s >= 1 || s == 0);
  double f = std::sqrt(-2 * portableLog(s) / s);
  spare = v * f;
  hasSpare = true;
  return u * f;
}
