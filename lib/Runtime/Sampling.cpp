//===- Sampling.cpp - Next-token choice from logits -----------------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Runtime/Sampling.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/STLExtras.h"

#include <algorithm>
#include <cmath>
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

double Sampler::uniform() {
  // splitmix64: the same stream on every platform.
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return double(z >> 11) * 0x1.0p-53;
}

std::vector<std::pair<int64_t, double>>
Sampler::candidates(llvm::ArrayRef<float> logits,
                    llvm::ArrayRef<int64_t> history) const {
  std::vector<double> scores(logits.begin(), logits.end());
  if (options.repetitionPenalty != 1) {
    llvm::DenseSet<int64_t> seen(history.begin(), history.end());
    for (int64_t t : seen)
      if (t >= 0 && t < int64_t(scores.size()))
        scores[t] = scores[t] > 0 ? scores[t] / options.repetitionPenalty
                                  : scores[t] * options.repetitionPenalty;
  }
  std::vector<int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  // Ties go to the lower id, as torch.argmax does.
  auto better = [&](int64_t a, int64_t b) {
    return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
  };
  if (options.temperature == 0 || scores.size() == 1) {
    int64_t best = *std::min_element(order.begin(), order.end(), better);
    return {{best, 1.0}};
  }
  size_t keep = order.size();
  if (options.topK > 0)
    keep = std::min<size_t>(keep, options.topK);
  std::partial_sort(order.begin(), order.begin() + keep, order.end(), better);
  order.resize(keep);
  // Softmax of score / T over the kept tokens, the largest first.
  double top = scores[order.front()] / options.temperature;
  std::vector<double> p;
  double sum = 0;
  for (int64_t t : order) {
    p.push_back(std::exp(scores[t] / options.temperature - top));
    sum += p.back();
  }
  size_t n = order.size();
  if (options.topP < 1) {
    double mass = 0;
    for (n = 0; n < order.size();) {
      mass += p[n] / sum;
      ++n;
      if (mass >= options.topP)
        break;
    }
  }
  double kept = std::accumulate(p.begin(), p.begin() + n, 0.0);
  std::vector<std::pair<int64_t, double>> out;
  for (size_t i = 0; i < n; ++i)
    out.emplace_back(order[i], p[i] / kept);
  return out;
}

int64_t Sampler::next(llvm::ArrayRef<float> logits,
                      llvm::ArrayRef<int64_t> history) {
  std::vector<std::pair<int64_t, double>> c = candidates(logits, history);
  if (c.size() == 1)
    return c.front().first;
  double r = uniform(), acc = 0;
  for (auto [token, p] : c) {
    acc += p;
    if (r < acc)
      return token;
  }
  return c.back().first;
}
