//===- Sampling.h - Next-token choice from logits ---------------*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// What Hugging Face `generate` and llama.cpp do with a row of logits:
// repetition penalty (CTRL: a logit of a token already in the sequence is
// divided by the penalty when positive, multiplied when negative), then
// greedy argmax when the temperature is 0, else temperature, top-k, top-p
// (the smallest set of most likely tokens whose probability reaches p; at
// least one) and a draw from the renormalised distribution. The random
// stream is a splitmix64 sequence from the seed, so a seed gives the same
// tokens on every machine. Runs on the host (sampling on the GPU is issue
// 9's next step). MLIR-free.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_RUNTIME_SAMPLING_H
#define XLSTM_RUNTIME_SAMPLING_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace xlstm::runtime {

struct SamplingOptions {
  double temperature = 0;       ///< 0: greedy
  int64_t topK = 0;             ///< 0: all tokens
  double topP = 1;              ///< 1: all tokens
  double repetitionPenalty = 1; ///< 1: none
  uint64_t seed = 0;

  /// Names the option that is out of range (temperature < 0, top-p outside
  /// (0, 1], penalty <= 0, top-k < 0).
  llvm::Error validate() const;
};

class Sampler {
public:
  explicit Sampler(SamplingOptions options) : options(options), state(options.seed) {}

  /// The next token for one row of `logits` (the vocabulary), given the
  /// tokens of the sequence so far (for the repetition penalty).
  int64_t next(llvm::ArrayRef<float> logits, llvm::ArrayRef<int64_t> history);

  /// The candidates `next` draws from after penalty, top-k and top-p, with
  /// their probabilities (for tests; greedy: the argmax with 1).
  std::vector<std::pair<int64_t, double>>
  candidates(llvm::ArrayRef<float> logits, llvm::ArrayRef<int64_t> history) const;

private:
  /// A uniform double in [0, 1).
  double uniform();

  SamplingOptions options;
  uint64_t state;
};

} // namespace xlstm::runtime

#endif // XLSTM_RUNTIME_SAMPLING_H
