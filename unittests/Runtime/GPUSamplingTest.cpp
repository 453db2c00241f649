//===- GPUSamplingTest.cpp - Device sampling through GPUModel -------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// On a GPU, with XLSTM_TEST_BUNDLE (a token model compiled by this xlstmc,
// f32) and XLSTM_TEST_GOLDEN (its golden weights): generateStep samples
// what decodeStep + the host Sampler pick, and misuse of the sampling
// calls is a clear error. Skipped elsewhere.
//
//===----------------------------------------------------------------------===//

#include "GoldenGPUModel.h"

#include <string>

using namespace xlstm;
using namespace xlstm::runtime;

namespace {

std::string errorText(llvm::Error e) { return llvm::toString(std::move(e)); }

TEST(GPUSampling, DeviceTokensEqualTheHostSamplerAndMisuseIsAnError) {
  std::unique_ptr<test::GoldenGPUModel> golden;
  test::openGoldenGPUModel(golden);
  if (IsSkipped() || HasFatalFailure())
    return;
  GPUModel &model = golden->model();
  const int64_t vocab = golden->vocab;
  ASSERT_TRUE(model.canSampleOnDevice());
  ASSERT_FALSE(bool(model.setParameters(golden->bound)));

  const int64_t batch = 2, length = 9, steps = 12;
  std::vector<int64_t> prompt(batch * length);
  for (int64_t i = 0; i < batch * length; ++i)
    prompt[i] = (i * 37 + 5) % vocab;
  std::vector<std::vector<int64_t>> history;
  for (int64_t r = 0; r < batch; ++r)
    history.emplace_back(prompt.begin() + r * length,
                         prompt.begin() + (r + 1) * length);

  // With a repetition penalty, and without one (1: the sampler's copy of
  // its code that reads the logits alone); top-k 2 is below any test
  // vocabulary, so its radix select (a warp's counts added at once) runs,
  // with lanes past the vocabulary where it is not a multiple of 32.
  struct Case {
    double penalty;
    int64_t topK;
    double topP;
  };
  for (Case c : {Case{1.3, 20, 0.95}, Case{1.0, 20, 0.95}, Case{1.0, 2, 1.0},
                 Case{1.3, 2, 0.9}}) {
    double penalty = c.penalty;
    SCOPED_TRACE("repetition penalty " + std::to_string(penalty) + ", top-k " +
                 std::to_string(c.topK) + ", top-p " + std::to_string(c.topP));
    SamplingOptions options{0.9, c.topK, c.topP, penalty, 17};
    // The host path: prefill, then decodeStep + a Sampler per row.
    std::vector<std::vector<int64_t>> hostTokens(batch);
    std::vector<int64_t> first(batch);
    {
      llvm::Expected<std::unique_ptr<GPUModel::DeviceState>> state =
          model.createState(batch);
      ASSERT_TRUE(bool(state));
      std::vector<float> logits(batch * vocab);
      ASSERT_FALSE(bool(model.prefill({prompt.data(), nullptr, batch, length},
                                      **state, logits)));
      std::vector<Sampler> samplers;
      std::vector<std::vector<int64_t>> seen(history);
      for (int64_t r = 0; r < batch; ++r)
        samplers.emplace_back(options, r);
      std::vector<int64_t> next(batch);
      for (int64_t n = 0; n < steps; ++n) {
        for (int64_t r = 0; r < batch; ++r) {
          next[r] = samplers[r].next(
              llvm::ArrayRef<float>(&logits[r * vocab], vocab), seen[r]);
          seen[r].push_back(next[r]);
          hostTokens[r].push_back(next[r]);
        }
        if (n == 0)
          first = next;
        ASSERT_FALSE(bool(model.decodeStep({next.data(), nullptr, batch, 1},
                                           **state, logits)));
      }
      model.forgetState(**state);
    }

    // The device path from the same first tokens: the same tokens.
    llvm::Expected<std::unique_ptr<GPUModel::DeviceState>> state =
        model.createState(batch);
    ASSERT_TRUE(bool(state));
    std::vector<float> unused(batch * vocab);
    ASSERT_FALSE(bool(model.prefill({prompt.data(), nullptr, batch, length},
                                    **state, unused)));
    std::vector<int64_t> next(batch);
    if (penalty != 1.0) {
      EXPECT_NE(
          errorText(model.generateStep(**state)).find("startSampling first"),
          std::string::npos);
      EXPECT_NE(
          errorText(model.readTokens(**state, next)).find("startSampling"),
          std::string::npos);
    }
    std::vector<std::vector<int64_t>> seen(history);
    for (int64_t r = 0; r < batch; ++r)
      seen[r].push_back(first[r]);
    if (penalty != 1.0) {
      std::vector<int64_t> outside = {first[0], vocab};
      EXPECT_NE(
          errorText(model.startSampling(**state, options, seen, outside, 1))
              .find("out of range"),
          std::string::npos);
      EXPECT_NE(
          errorText(model.startSampling(**state, options, {seen[0]}, first, 1))
              .find("1 histories"),
          std::string::npos);
    }
    ASSERT_FALSE(bool(model.startSampling(**state, options, seen, first, 1)));
    if (penalty != 1.0) {
      std::vector<int64_t> tooFew(1);
      EXPECT_NE(errorText(model.readTokens(**state, tooFew)).find("1 slots"),
                std::string::npos);
    }
    for (int64_t n = 1; n < steps; ++n) {
      ASSERT_FALSE(bool(model.generateStep(**state)));
      ASSERT_FALSE(bool(model.readTokens(**state, next)));
      for (int64_t r = 0; r < batch; ++r)
        EXPECT_EQ(next[r], hostTokens[r][n]) << "row " << r << " token " << n;
    }
    model.forgetState(**state);
  }
}

} // namespace
