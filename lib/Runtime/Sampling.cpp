//===- Sampling.cpp - Next-token choice from logits -----------------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Mirrors the kernel of lib/Conversion/BuildSampler.cpp step for step (the
// same float32 operations in the same order), so that host and device pick
// the same tokens.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Runtime/Sampling.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/STLExtras.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

using namespace xlstm::runtime;

llvm::Error SamplingOptions::validate() const {
  if (!(temperature >= 0) || !std::isfinite(temperature))
    return llvm::createStringError("--temperature must be >= 0, got %g",
                                   temperature);
  if (topK < 0)
    return llvm::createStringError("--top-k must be >= 0, got %lld",
                                   static_cast<long long>(topK));
  if (!(topP > 0 && topP <= 1))
    return llvm::createStringError("--top-p must be in (0, 1], got %g", topP);
  if (!(repetitionPenalty > 0) || !std::isfinite(repetitionPenalty))
    return llvm::createStringError("--repetition-penalty must be > 0, got %g",
                                   repetitionPenalty);
  return llvm::Error::success();
}

std::array<float, 4> SamplingOptions::deviceSettings(int64_t vocab) const {
  return {float(temperature), float(topP), float(repetitionPenalty),
          float(std::min(topK, vocab))};
}

namespace {
constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ull;
constexpr uint64_t kRowMultiplier = 0xd1b54a32d192ed03ull;

/// splitmix64's finaliser.
uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t rowKey(uint64_t seed, uint64_t draw, int64_t row) {
  return mix(mix(seed + kGolden * (draw + 1)) ^
             (kRowMultiplier * (uint64_t(row) + 1)));
}

float gumbel(uint64_t key, int64_t token) {
  uint64_t r = mix(key + kGolden * (uint64_t(token) + 1));
  // 23 bits: the largest value stays below 1 in float32.
  float uniform = (float(r >> 41) + 0.5f) * (1.0f / 8388608.0f);
  return -std::log(-std::log(uniform));
}

/// What the kernel computes before its draw: the scaled scores u and the
/// key threshold of the kept tokens (greedy: the penalised scores).
struct Prepared {
  bool greedy = false;
  std::vector<float> u;
  uint32_t threshold = 0;
};

Prepared prepare(const SamplingOptions &options, llvm::ArrayRef<float> logits,
                 llvm::ArrayRef<int64_t> history) {
  int64_t vocab = logits.size();
  std::array<float, 4> settings = options.deviceSettings(vocab);
  float temperature = settings[0], topP = settings[1], penalty = settings[2];
  int64_t topK = int64_t(settings[3]);
  Prepared p;
  p.u.assign(logits.begin(), logits.end());
  if (penalty != 1.0f) {
    llvm::DenseSet<int64_t> seen(history.begin(), history.end());
    for (int64_t t : seen)
      if (t >= 0 && t < vocab)
        p.u[t] = p.u[t] > 0 ? p.u[t] / penalty : p.u[t] * penalty;
  }
  if (temperature <= 0) {
    p.greedy = true;
    return p;
  }
  for (float &x : p.u)
    x = x / temperature;
  std::vector<uint32_t> keys(vocab);
  for (int64_t i = 0; i < vocab; ++i)
    keys[i] = sampleOrderKey(p.u[i]);
  uint32_t kKey = 0;
  if (topK > 0 && topK < vocab) {
    std::vector<uint32_t> sorted(keys);
    std::nth_element(sorted.begin(), sorted.begin() + (topK - 1), sorted.end(),
                     std::greater<uint32_t>());
    kKey = sorted[topK - 1];
  }
  p.threshold = kKey;
  if (topP < 1.0f) {
    float top = -std::numeric_limits<float>::infinity();
    for (float x : p.u)
      top = std::max(top, x);
    // Fixed-point masses: exact integer sums, as the kernel's atomics.
    std::vector<std::pair<uint32_t, uint64_t>> mass;
    uint64_t total = 0;
    for (int64_t i = 0; i < vocab; ++i)
      if (keys[i] >= kKey) {
        float scaled = std::exp(p.u[i] - top) * 4294967296.0f;
        uint64_t w = std::isnan(scaled) ? 0 : uint64_t(scaled);
        mass.emplace_back(keys[i], w);
        total += w;
      }
    uint64_t goal =
        std::max<uint64_t>(1, uint64_t(double(total) * double(topP)));
    llvm::sort(mass, [](auto &a, auto &b) { return a.first > b.first; });
    uint64_t above = 0;
    for (size_t i = 0; i < mass.size();) {
      size_t j = i;
      uint64_t sameKey = 0;
      for (; j < mass.size() && mass[j].first == mass[i].first; ++j)
        sameKey += mass[j].second;
      if (above + sameKey >= goal) {
        p.threshold = mass[i].first;
        break;
      }
      above += sameKey;
      i = j;
    }
  }
  return p;
}

/// Index of the largest value, ties to the lower index; `values.size()` if
/// none is larger than -inf (all NaN).
int64_t argmax(llvm::ArrayRef<float> values) {
  int64_t best = values.size();
  float bestValue = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0, e = values.size(); i < e; ++i)
    if (values[i] > bestValue) {
      bestValue = values[i];
      best = i;
    }
  return best;
}
} // namespace

uint32_t xlstm::runtime::sampleOrderKey(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits ^ ((bits & 0x80000000u) ? 0xffffffffu : 0x80000000u);
}

float xlstm::runtime::sampleGumbelNoise(uint64_t seed, uint64_t draw,
                                        int64_t row, int64_t token) {
  return gumbel(rowKey(seed, draw, row), token);
}

std::vector<std::pair<int64_t, double>>
Sampler::candidates(llvm::ArrayRef<float> logits,
                    llvm::ArrayRef<int64_t> history) const {
  Prepared p = prepare(options, logits, history);
  if (p.greedy) {
    int64_t best = argmax(p.u);
    return {{best < int64_t(p.u.size()) ? best : 0, 1.0}};
  }
  std::vector<int64_t> kept;
  for (int64_t i = 0, e = p.u.size(); i < e; ++i)
    if (sampleOrderKey(p.u[i]) >= p.threshold)
      kept.push_back(i);
  llvm::stable_sort(kept, [&](int64_t a, int64_t b) { return p.u[a] > p.u[b]; });
  std::vector<std::pair<int64_t, double>> out;
  if (kept.empty())
    return {{0, 1.0}};
  double top = p.u[kept.front()], sum = 0;
  for (int64_t t : kept)
    sum += std::exp(double(p.u[t]) - top);
  for (int64_t t : kept)
    out.emplace_back(t, std::exp(double(p.u[t]) - top) / sum);
  return out;
}

int64_t Sampler::next(llvm::ArrayRef<float> logits,
                      llvm::ArrayRef<int64_t> history) {
  Prepared p = prepare(options, logits, history);
  uint64_t draw = draws++;
  int64_t vocab = p.u.size(), token;
  if (p.greedy) {
    token = argmax(p.u);
  } else {
    uint64_t key = rowKey(options.seed, draw, row);
    std::vector<float> v(vocab, -std::numeric_limits<float>::infinity());
    for (int64_t i = 0; i < vocab; ++i)
      if (sampleOrderKey(p.u[i]) >= p.threshold)
        v[i] = p.u[i] + gumbel(key, i);
    token = argmax(v);
  }
  // No candidate (every logit NaN): token 0, as the kernel.
  return token < vocab ? token : 0;
}
