//===- SamplingTest.cpp - Tests of next-token sampling --------------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Statistics of the sampler on fresh random logits: top-k and top-p never
// emit an excluded token, frequencies follow the softmax, temperature 0 is
// greedy, a seed reproduces its tokens, rows draw their own streams, the
// repetition penalty divides positive and multiplies negative logits. The
// GPU twin (@sample) is checked against this one on the H200
// (CudaGpu.SampleProgramMatchesTheHostSampler).
//
//===----------------------------------------------------------------------===//

#include "xlstm/Runtime/Sampling.h"

#include "gtest/gtest.h"

#include <cmath>
#include <map>
#include <random>
#include <set>

using namespace xlstm::runtime;

namespace {

std::vector<float> randomLogits(size_t n, unsigned seed, float scale = 3) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0, scale);
  std::vector<float> logits(n);
  for (float &x : logits)
    x = normal(rng);
  return logits;
}

std::vector<int64_t> byScore(const std::vector<float> &logits) {
  std::vector<int64_t> order(logits.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](int64_t a, int64_t b) { return logits[a] > logits[b]; });
  return order;
}

TEST(Sampling, GreedyIsTheArgmaxAndIgnoresTheSeed) {
  for (unsigned trial = 0; trial < 20; ++trial) {
    std::vector<float> logits = randomLogits(1000, trial);
    int64_t argmax = byScore(logits).front();
    for (uint64_t seed : {0, 1, 99}) {
      Sampler s({/*temperature=*/0, 0, 1, 1, seed});
      EXPECT_EQ(s.next(logits, {}), argmax);
    }
  }
}

TEST(Sampling, TopKNeverEmitsAnExcludedToken) {
  std::vector<float> logits = randomLogits(500, 7, 1);
  std::vector<int64_t> order = byScore(logits);
  std::set<int64_t> allowed(order.begin(), order.begin() + 5);
  Sampler s({1.0, 5, 1, 1, 3});
  std::set<int64_t> seen;
  for (int i = 0; i < 5000; ++i) {
    int64_t t = s.next(logits, {});
    ASSERT_TRUE(allowed.count(t)) << t;
    seen.insert(t);
  }
  EXPECT_EQ(seen, allowed); // every allowed token appears
}

TEST(Sampling, TopPKeepsTheSmallestSetReachingP) {
  std::vector<float> logits = randomLogits(300, 11, 2);
  Sampler probe({1.0, 0, 1, 1, 0});
  std::vector<std::pair<int64_t, double>> all = probe.candidates(logits, {});
  double mass = 0;
  std::set<int64_t> allowed;
  for (auto [t, p] : all) {
    allowed.insert(t);
    mass += p;
    if (mass >= 0.8)
      break;
  }
  Sampler s({1.0, 0, 0.8, 1, 5});
  for (int i = 0; i < 5000; ++i)
    ASSERT_TRUE(allowed.count(s.next(logits, {})));
  // A tiny p keeps the top token only.
  Sampler tiny({1.0, 0, 1e-9, 1, 5});
  EXPECT_EQ(tiny.next(logits, {}), byScore(logits).front());
}

TEST(Sampling, FrequenciesFollowTheSoftmax) {
  std::vector<float> logits = {1.0f, 2.0f, 0.5f, -1.0f};
  double t = 0.7, z = 0;
  for (float x : logits)
    z += std::exp(x / t);
  Sampler s({t, 0, 1, 1, 42});
  std::map<int64_t, int> counts;
  const int n = 200000;
  for (int i = 0; i < n; ++i)
    ++counts[s.next(logits, {})];
  for (size_t i = 0; i < logits.size(); ++i) {
    double expected = std::exp(logits[i] / t) / z;
    EXPECT_NEAR(double(counts[i]) / n, expected, 0.01) << i;
  }
}

TEST(Sampling, TemperatureTowardsZeroBecomesGreedy) {
  std::vector<float> logits = randomLogits(200, 3);
  Sampler s({1e-4, 0, 1, 1, 9});
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(s.next(logits, {}), byScore(logits).front());
}

TEST(Sampling, SameSeedSameTokens) {
  std::vector<float> logits = randomLogits(1000, 5, 1);
  auto draw = [&](uint64_t seed) {
    Sampler s({0.9, 50, 0.95, 1.1, seed});
    std::vector<int64_t> tokens;
    for (int i = 0; i < 64; ++i)
      tokens.push_back(s.next(logits, tokens));
    return tokens;
  };
  EXPECT_EQ(draw(1), draw(1));
  EXPECT_NE(draw(1), draw(2));
}

TEST(Sampling, RepetitionPenalty) {
  // Token 0 (positive) is divided, token 1 (negative) multiplied.
  std::vector<float> logits = {2.0f, -1.0f, 1.5f};
  Sampler greedy({0, 0, 1, 2.0, 0});
  EXPECT_EQ(greedy.next(logits, {}), 0);
  EXPECT_EQ(greedy.next(logits, {0}), 2); // 2 / 2 = 1 < 1.5
  Sampler probe({1.0, 0, 1, 2.0, 0});
  auto c = probe.candidates(logits, {1});
  double p1 = 0;
  for (auto [t, p] : c)
    if (t == 1)
      p1 = p;
  double z = std::exp(2.0) + std::exp(-2.0) + std::exp(1.5);
  EXPECT_NEAR(p1, std::exp(-2.0) / z, 1e-9);
}

TEST(Sampling, TopKKeepsTiesWithTheKthToken) {
  // Hugging Face's TopK warper keeps every token at least as large as the
  // k-th: with k = 2 and a tie for second place, three candidates.
  std::vector<float> logits = {3.0f, 1.0f, 2.0f, 2.0f, 0.5f};
  Sampler probe({1.0, 2, 1, 1, 0});
  std::set<int64_t> kept;
  for (auto [t, p] : probe.candidates(logits, {}))
    kept.insert(t);
  EXPECT_EQ(kept, (std::set<int64_t>{0, 2, 3}));
}

TEST(Sampling, RowsDrawTheirOwnStreams) {
  std::vector<float> logits = randomLogits(1000, 8, 0.5);
  auto draw = [&](int64_t row) {
    Sampler s({1.0, 0, 1, 1, 7}, row);
    std::vector<int64_t> tokens;
    for (int i = 0; i < 32; ++i)
      tokens.push_back(s.next(logits, {}));
    return tokens;
  };
  EXPECT_EQ(draw(3), draw(3));
  EXPECT_NE(draw(0), draw(1));
}

TEST(Sampling, OrderKeysFollowTheFloats) {
  std::vector<float> values = {-INFINITY, -3e38f, -2.5f, -1e-30f, -0.0f, 0.0f,
                               1e-30f,    1.0f,   2.5f,  3e38f,   INFINITY};
  for (size_t i = 1; i < values.size(); ++i)
    EXPECT_LE(sampleOrderKey(values[i - 1]), sampleOrderKey(values[i])) << i;
  EXPECT_LT(sampleOrderKey(-2.5f), sampleOrderKey(1e-30f));
  // The Gumbel noise is finite for every token (the uniform stays in (0, 1)).
  for (int64_t t = 0; t < 100000; ++t)
    ASSERT_TRUE(std::isfinite(sampleGumbelNoise(1, 2, 3, t))) << t;
}

TEST(Sampling, ANaNLogitDoesNotOpenTheNucleus) {
  // One NaN among finite logits: top-p still keeps the few likely tokens
  // (the NaN neither sets the maximum nor weighs anything) and is never
  // drawn.
  std::vector<float> logits = randomLogits(400, 13, 4);
  logits[7] = NAN;
  Sampler probe({1.0, 0, 0.5, 1, 0});
  auto kept = probe.candidates(logits, {});
  EXPECT_LT(kept.size(), 40u);
  Sampler s({1.0, 0, 0.5, 1, 2});
  for (int i = 0; i < 2000; ++i)
    ASSERT_NE(s.next(logits, {}), 7);
}

TEST(Sampling, OptionsAreValidated) {
  EXPECT_FALSE(bool(llvm::errorToBool(SamplingOptions{}.validate())));
  auto message = [](SamplingOptions o) {
    return llvm::toString(o.validate());
  };
  EXPECT_NE(message({-1, 0, 1, 1, 0}).find("--temperature"), std::string::npos);
  EXPECT_NE(message({1, -2, 1, 1, 0}).find("--top-k"), std::string::npos);
  EXPECT_NE(message({1, 0, 0, 1, 0}).find("--top-p"), std::string::npos);
  EXPECT_NE(message({1, 0, 1.5, 1, 0}).find("--top-p"), std::string::npos);
  EXPECT_NE(message({1, 0, 1, 0, 0}).find("--repetition-penalty"),
            std::string::npos);
}

} // namespace
