//===- Sampling.h - Next-token choice from logits ---------------*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// What Hugging Face `generate` does with a row of logits: repetition penalty
// (CTRL: a logit of a token already in the sequence is divided by the
// penalty when positive, multiplied when negative), then greedy argmax when
// the temperature is 0, else temperature, top-k (the k largest, ties with
// the k-th kept), top-p (the smallest set of most likely tokens whose
// probability reaches p, ties kept; at least one) and a draw from the
// renormalised distribution.
//
// This is the host twin of the compiled `@sample` program
// (lib/Conversion/BuildSampler.cpp), which runs the same function on the GPU:
// float32 arithmetic, thresholds on order-preserving integer keys, top-p
// masses in 32-bit fixed point, and a Gumbel-max draw whose random numbers
// come from a counter-based hash of (seed, draw, row, token). A seed
// therefore gives the same tokens on every machine, on the host and on the
// GPU (up to the last bit of exp/log on a knife-edge). MLIR-free.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_RUNTIME_SAMPLING_H
#define XLSTM_RUNTIME_SAMPLING_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <array>
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
  /// The `settings` buffer of the `@sample` program: temperature, top-p,
  /// repetition penalty, top-k (clamped to the vocabulary), as float32.
  std::array<float, 4> deviceSettings(int64_t vocab) const;
};

/// The sampling of one batch row. Row r of a batch draws its own stream
/// from the seed (the row index enters the hash), as the device does.
class Sampler {
public:
  explicit Sampler(SamplingOptions options, int64_t row = 0)
      : options(options), row(row) {}

  /// The next token for one row of `logits` (the vocabulary), given the
  /// tokens of the sequence so far (for the repetition penalty).
  int64_t next(llvm::ArrayRef<float> logits, llvm::ArrayRef<int64_t> history);

  /// The candidates `next` draws from after penalty, top-k and top-p, most
  /// likely first, with their probabilities (for tests; greedy: the argmax
  /// with 1).
  std::vector<std::pair<int64_t, double>>
  candidates(llvm::ArrayRef<float> logits,
             llvm::ArrayRef<int64_t> history) const;

  /// Draws made so far (the device program's per-row counter).
  uint64_t getDraws() const { return draws; }

private:
  SamplingOptions options;
  int64_t row;
  uint64_t draws = 0;
};

/// The float32 order-preserving key (larger float, larger unsigned key).
uint32_t sampleOrderKey(float value);
/// The Gumbel noise the draw `draw` of row `row` adds to token `token`.
float sampleGumbelNoise(uint64_t seed, uint64_t draw, int64_t row,
                        int64_t token);

} // namespace xlstm::runtime

#endif // XLSTM_RUNTIME_SAMPLING_H
