//===- KernelsTest.cpp - The float64 kernels against independent forms ----===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Each recurrence is checked against a differently written form of the same
// function: the mLSTM against its unstabilised parallel definition (spec
// xlstm-architecture §b.3) and against the chunkwise algorithm; recurrences
// and the conv against themselves split in two with the state carried over.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Reference/Kernels.h"
#include "TestUtil.h"

#include "gtest/gtest.h"

using namespace xlstm::reference;
using namespace xlstm::reference::test;

namespace {

/// h_t = sum_j w_tj v_j / max(|sum_j w_tj|, 1) with
/// w_tj = (q_t . k_j / sqrt(d)) exp(sum_{s=j+1..t} logsigmoid(f_s) + i_j).
Tensor unstabilisedParallel(const Tensor &q, const Tensor &k, const Tensor &v,
                            const Tensor &ig, const Tensor &fg) {
  int64_t b = q.dim(0), nh = q.dim(1), s = q.dim(2), d = q.dim(3);
  int64_t dv = v.dim(3);
  Tensor h({b, nh, s, dv});
  for (int64_t bh = 0; bh < b * nh; ++bh)
    for (int64_t t = 0; t < s; ++t) {
      double den = 0;
      std::vector<double> num(dv, 0.0);
      for (int64_t j = 0; j <= t; ++j) {
        double logDecay = ig.data[bh * s + j];
        for (int64_t u = j + 1; u <= t; ++u)
          logDecay += logSigmoid(fg.data[bh * s + u]);
        double qk = 0;
        for (int64_t i = 0; i < d; ++i)
          qk += q.data[(bh * s + t) * d + i] * k.data[(bh * s + j) * d + i];
        double w = qk / std::sqrt(static_cast<double>(d)) * std::exp(logDecay);
        den += w;
        for (int64_t x = 0; x < dv; ++x)
          num[x] += w * v.data[(bh * s + j) * dv + x];
      }
      for (int64_t x = 0; x < dv; ++x)
        h.data[(bh * s + t) * dv + x] = num[x] / std::max(std::abs(den), 1.0);
    }
  return h;
}

struct MLSTMInputs {
  Tensor q, k, v, ig, fg;
};
MLSTMInputs randomMLSTM(int64_t b, int64_t nh, int64_t s, int64_t dqk,
                        int64_t dv, uint64_t seed) {
  std::mt19937_64 rng(seed);
  // Strong gates: input gates up to ~e^3, forget gates across the range.
  return {randomTensor({b, nh, s, dqk}, rng),
          randomTensor({b, nh, s, dqk}, rng), randomTensor({b, nh, s, dv}, rng),
          randomTensor({b, nh, s}, rng, 2.0),
          randomTensor({b, nh, s}, rng, 2.0, 1.0)};
}

TEST(MLSTMKernel, MatchesUnstabilisedDefinition) {
  for (bool scaleKeys : {true, false}) {
    MLSTMInputs in = randomMLSTM(2, 3, 37, 8, 5, 1);
    Tensor h = mlstm(in.q, in.k, in.v, in.ig, in.fg, scaleKeys, /*eps=*/0.0);
    Tensor ref = unstabilisedParallel(in.q, in.k, in.v, in.ig, in.fg);
    EXPECT_LT(relativeError(h, ref), 1e-12) << "scaleKeys " << scaleKeys;
  }
}

TEST(MLSTMKernel, StateCarriesOver) {
  MLSTMInputs in = randomMLSTM(2, 2, 20, 4, 6, 2);
  Tensor full = mlstm(in.q, in.k, in.v, in.ig, in.fg, true, 1e-6);
  // Split at 13: run the prefix, then the rest from the prefix's state.
  auto slice = [](const Tensor &t, int64_t from, int64_t to) {
    int64_t s = t.dim(2), inner = t.size() / (t.dim(0) * t.dim(1) * s);
    llvm::SmallVector<int64_t, 4> shape(t.shape);
    shape[2] = to - from;
    Tensor out(shape);
    for (int64_t bh = 0; bh < t.dim(0) * t.dim(1); ++bh)
      std::copy_n(&t.data[(bh * s + from) * inner], (to - from) * inner,
                  &out.data[bh * (to - from) * inner]);
    return out;
  };
  MLSTMState mid, last;
  Tensor h1 = mlstm(slice(in.q, 0, 13), slice(in.k, 0, 13), slice(in.v, 0, 13),
                    slice(in.ig, 0, 13), slice(in.fg, 0, 13), true, 1e-6,
                    nullptr, &mid);
  Tensor h2 = mlstm(slice(in.q, 13, 20), slice(in.k, 13, 20),
                    slice(in.v, 13, 20), slice(in.ig, 13, 20),
                    slice(in.fg, 13, 20), true, 1e-6, &mid, &last);
  EXPECT_LT(relativeError(h1, slice(full, 0, 13)), 1e-14);
  EXPECT_LT(relativeError(h2, slice(full, 13, 20)), 1e-14);
}

TEST(MLSTMKernel, ChunkwiseEqualsRecurrent) {
  for (bool scaleKeys : {true, false})
    for (int64_t s : {1, 7, 33, 64})
      for (int64_t chunk : {1, 4, 16, 64, 100}) {
        MLSTMInputs in = randomMLSTM(2, 2, s, 6, 5, 3 + s);
        std::mt19937_64 rng(99);
        MLSTMState init{randomTensor({2, 2, 6, 5}, rng),
                        randomTensor({2, 2, 6}, rng),
                        randomTensor({2, 2}, rng)};
        MLSTMState recurrentFinal;
        Tensor h = mlstm(in.q, in.k, in.v, in.ig, in.fg, scaleKeys, 1e-6, &init,
                         &recurrentFinal);
        MLSTMChunkStates st =
            mlstmChunkStates(in.k, in.v, in.ig, in.fg, chunk, scaleKeys, &init);
        Tensor hc = mlstmChunkOutputs(in.q, in.k, in.v, in.ig, in.fg, st.c,
                                      st.n, st.m, chunk, scaleKeys, 1e-6);
        EXPECT_LT(relativeError(hc, h), 1e-12)
            << "S " << s << " chunk " << chunk;
        EXPECT_LT(relativeError(st.final.c, recurrentFinal.c), 1e-12);
        EXPECT_LT(relativeError(st.final.n, recurrentFinal.n), 1e-12);
        EXPECT_LT(relativeError(st.final.m, recurrentFinal.m), 1e-12);
      }
}

TEST(SLSTMKernel, StateCarriesOver) {
  std::mt19937_64 rng(4);
  int64_t b = 2, s = 9, nh = 2, dh = 3, h = nh * dh;
  Tensor g[4];
  for (Tensor &t : g)
    t = randomTensor({b, s, h}, rng);
  Tensor r = randomTensor({nh, dh, 4, dh}, rng, 0.5);
  Tensor bias = randomTensor({nh, 4, dh}, rng);
  for (bool lstm : {false, true}) {
    Tensor full = slstm(g[0], g[1], g[2], g[3], r, bias, nh, lstm);
    auto part = [&](const Tensor &t, int64_t from, int64_t to) {
      Tensor out({b, to - from, h});
      for (int64_t bi = 0; bi < b; ++bi)
        std::copy_n(&t.data[(bi * s + from) * h], (to - from) * h,
                    &out.data[bi * (to - from) * h]);
      return out;
    };
    SLSTMState mid;
    Tensor y1 = slstm(part(g[0], 0, 4), part(g[1], 0, 4), part(g[2], 0, 4),
                      part(g[3], 0, 4), r, bias, nh, lstm, nullptr, &mid);
    Tensor y2 = slstm(part(g[0], 4, s), part(g[1], 4, s), part(g[2], 4, s),
                      part(g[3], 4, s), r, bias, nh, lstm, &mid);
    EXPECT_EQ(mid.size(), lstm ? 2u : 4u);
    EXPECT_LT(relativeError(y1, part(full, 0, 4)), 1e-15);
    EXPECT_LT(relativeError(y2, part(full, 4, s)), 1e-15);
  }
}

TEST(SLSTMKernel, FirstStepAndNormaliser) {
  // One head, one unit, no recurrence: after the first step m = i, so
  // i_t = 1, f_t = min(exp(logsigmoid(f) + m - m), 1), c = tanh(z), n = 1,
  // h = sigmoid(o) tanh(z).
  Tensor i({1, 1, 1}, {0.3}), f({1, 1, 1}, {-0.2}), z({1, 1, 1}, {0.7}),
      o({1, 1, 1}, {1.1});
  Tensor r({1, 1, 4, 1}), b({1, 4, 1});
  Tensor y = slstm(i, f, z, o, r, b, 1, false);
  EXPECT_NEAR(y.data[0], sigmoid(1.1) * std::tanh(0.7), 1e-15);
}

TEST(CausalConvKernel, StateEqualsConcatenation) {
  std::mt19937_64 rng(5);
  int64_t b = 2, s = 7, d = 3, k = 4;
  Tensor x = randomTensor({b, s, d}, rng), w = randomTensor({d, k}, rng),
         bias = randomTensor({d}, rng);
  Tensor full = causalConv1d(x, w, &bias);
  // Hand check of one value: y[0, 2, 1] = b + w[1, 1] x[0] + w[1, 2] x[1] +
  // w[1, 3] x[2] (w[., 0] multiplies a zero before the start).
  double expect = bias.data[1] + w.data[1 * k + 1] * x.data[0 * d + 1] +
                  w.data[1 * k + 2] * x.data[1 * d + 1] +
                  w.data[1 * k + 3] * x.data[2 * d + 1];
  EXPECT_NEAR(full.data[2 * d + 1], expect, 1e-15);
  for (int64_t split : {1, 2, 5}) {
    Tensor a({b, split, d}), c({b, s - split, d});
    for (int64_t bi = 0; bi < b; ++bi) {
      std::copy_n(&x.data[bi * s * d], split * d, &a.data[bi * split * d]);
      std::copy_n(&x.data[(bi * s + split) * d], (s - split) * d,
                  &c.data[bi * (s - split) * d]);
    }
    Tensor state;
    Tensor ya = causalConv1d(a, w, &bias, nullptr, &state);
    ASSERT_EQ(state.shape, (llvm::SmallVector<int64_t, 4>{b, k - 1, d}));
    Tensor yc = causalConv1d(c, w, &bias, &state);
    for (int64_t bi = 0; bi < b; ++bi)
      for (int64_t t = 0; t < s; ++t)
        for (int64_t ch = 0; ch < d; ++ch) {
          double got = t < split
                           ? ya.data[(bi * split + t) * d + ch]
                           : yc.data[(bi * (s - split) + t - split) * d + ch];
          EXPECT_NEAR(got, full.data[(bi * s + t) * d + ch], 1e-14);
        }
  }
}

TEST(NormKernels, SmallExample) {
  Tensor x({1, 4}, {1.0, 2.0, 3.0, 6.0});
  Tensor w({4}, {0.5, 0.0, -0.5, 1.0});
  // mean 3, biased var (4 + 1 + 0 + 9) / 4 = 3.5.
  Tensor y = groupLayerNorm(x, 1, &w, nullptr, 0.0, /*onePlusWeight=*/true);
  double inv = 1.0 / std::sqrt(3.5);
  EXPECT_NEAR(y.data[0], -2 * inv * 1.5, 1e-15);
  EXPECT_NEAR(y.data[3], 3 * inv * 2.0, 1e-15);
  // Two groups: (1, 2) and (3, 6) normalised separately.
  Tensor g = groupLayerNorm(x, 2, nullptr, nullptr, 0.0, false);
  EXPECT_NEAR(g.data[0], -1.0, 1e-15);
  EXPECT_NEAR(g.data[3], 1.0, 1e-15);
  Tensor r = rmsNorm(x, &w, nullptr, 0.0);
  EXPECT_NEAR(r.data[3], 6.0 / std::sqrt(50.0 / 4.0), 1e-15);
}

TEST(EmbeddingKernel, RejectsOutOfRangeTokens) {
  Tensor table({3, 2}, {0, 1, 2, 3, 4, 5});
  Tensor out;
  double bad = 0;
  EXPECT_TRUE(embedding(Tensor({1, 2}, {2, 0}), table, out, bad));
  EXPECT_EQ(out.data, (std::vector<double>{4, 5, 0, 1}));
  EXPECT_FALSE(embedding(Tensor({1, 2}, {1, 3}), table, out, bad));
  EXPECT_EQ(bad, 3);
  EXPECT_FALSE(embedding(Tensor({1, 1}, {-1}), table, out, bad));
}

} // namespace
