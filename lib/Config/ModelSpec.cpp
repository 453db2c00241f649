//===- ModelSpec.cpp - Model configuration in the upstream schema ---------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Names of the enumerated config values (exactly the strings upstream accepts)
// and the derived-dimension arithmetic shared by the parser and its users.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Config/ModelSpec.h"

#include "llvm/ADT/ArrayRef.h"

#include <cmath>

using namespace xlstm::config;

/// Returns `names[value]`, or "" for a value outside the table. The parser
/// enumerates an enum's spellings by counting up until it gets "".
template <typename E>
static llvm::StringRef nameOf(llvm::ArrayRef<llvm::StringRef> names, E value) {
  auto idx = static_cast<size_t>(value);
  return idx < names.size() ? names[idx] : llvm::StringRef();
}

llvm::StringRef xlstm::config::toString(ActFn fn) {
  static constexpr llvm::StringRef names[] = {"gelu",    "relu",  "relu^2",
                                              "sigmoid", "swish", "selu"};
  return nameOf(names, fn);
}

llvm::StringRef xlstm::config::toString(SLSTMBackend backend) {
  static constexpr llvm::StringRef names[] = {"vanilla", "cuda"};
  return nameOf(names, backend);
}

llvm::StringRef xlstm::config::toString(SLSTMFunction fn) {
  static constexpr llvm::StringRef names[] = {"slstm", "lstm"};
  return nameOf(names, fn);
}

llvm::StringRef xlstm::config::toString(SLSTMBiasInit init) {
  static constexpr llvm::StringRef names[] = {
      "powerlaw_blockdependent", "small_init", "standard", "zeros"};
  return nameOf(names, init);
}

llvm::StringRef xlstm::config::toString(RecurrentWeightInit init) {
  static constexpr llvm::StringRef names[] = {"zeros", "standard"};
  return nameOf(names, init);
}

llvm::StringRef xlstm::config::toString(ModelFamily family) {
  static constexpr llvm::StringRef names[] = {
      "xLSTMBlockStackConfig", "xLSTMLMModelConfig", "xLSTMLargeConfig"};
  return nameOf(names, family);
}

/// Python: `int(math.ceil(pf * E / M) * M)` (or floor). Returns -1 when the
/// result is not a representable int64 (the parser rejects such configs
/// before calling this; the guard only keeps the cast defined).
int64_t xlstm::config::computeProjUpDim(double projFactor, int64_t embeddingDim,
                                        int64_t multipleOf, bool roundUp) {
  if (multipleOf <= 0)
    return -1;
  double multiplier = projFactor * static_cast<double>(embeddingDim) /
                      static_cast<double>(multipleOf);
  multiplier = roundUp ? std::ceil(multiplier) : std::floor(multiplier);
  // 2^62 / multipleOf keeps both the cast and the product in range.
  double limit = std::ldexp(1.0, 62) / static_cast<double>(multipleOf);
  if (!(std::fabs(multiplier) <= limit))
    return -1;
  return static_cast<int64_t>(multiplier) * multipleOf;
}

std::string StackConfig::blockMapString() const {
  std::string out;
  for (BlockKind kind : blockMap) {
    if (!out.empty())
      out += ',';
    out += kind == BlockKind::SLSTM ? '1' : '0';
  }
  return out;
}
