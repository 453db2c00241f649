//===- CAPITest.cpp - The C API of the runtime ----------------------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Error handling runs everywhere. On a GPU, with XLSTM_TEST_BUNDLE (an f32
// bundle of the golden parity_xlstm11 model) and XLSTM_TEST_GOLDEN (the
// directory of its golden files) set, as scripts/gpu-check.sh does, the C
// API runs the golden case: forward logits and the step path.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Runtime/xlstm_runtime.h"
#include "xlstm/Weights/Safetensors.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

using namespace xlstm;

namespace {

TEST(CAPI, NullArgumentsAreErrors) {
  EXPECT_EQ(xlstm_model_load(nullptr, "f32", 0, nullptr), XLSTM_ERROR);
  EXPECT_NE(std::string(xlstm_last_error()).find("must not be NULL"),
            std::string::npos);
  EXPECT_EQ(xlstm_model_set_weights(nullptr, nullptr, 0), XLSTM_ERROR);
  EXPECT_EQ(xlstm_state_create(nullptr, 1, nullptr), XLSTM_ERROR);
  float out = 0;
  EXPECT_EQ(xlstm_model_set_graph_replay(nullptr, 1), XLSTM_ERROR);
  EXPECT_EQ(xlstm_model_forward(nullptr, 1, 1, &out, &out, nullptr),
            XLSTM_ERROR);
  EXPECT_EQ(xlstm_model_step(nullptr, &out, &out, nullptr), XLSTM_ERROR);
  EXPECT_EQ(xlstm_model_takes_tokens(nullptr), 0);
  EXPECT_EQ(xlstm_model_output_width(nullptr), 0);
  xlstm_model_free(nullptr);
  xlstm_state_free(nullptr);
}

TEST(CAPI, BadDtypeAndMissingBundleSayWhat) {
  xlstm_model *model = nullptr;
  EXPECT_EQ(xlstm_model_load("x.xlstmb", "f64", 0, &model), XLSTM_ERROR);
  EXPECT_EQ(std::string(xlstm_last_error()),
            "xlstm_model_load: dtype must be \"f32\" or \"bf16\", got \"f64\"");
  EXPECT_EQ(xlstm_model_load("/nonexistent/m.xlstmb", "f32", 0, &model),
            XLSTM_ERROR);
  EXPECT_NE(std::string(xlstm_last_error()).find("/nonexistent/m.xlstmb"),
            std::string::npos)
      << xlstm_last_error();
  EXPECT_EQ(model, nullptr);
}

double relativeError(const std::vector<float> &out,
                     const std::vector<double> &gold) {
  double num = 0, den = 0;
  for (size_t i = 0; i < gold.size(); ++i) {
    num += (out[i] - gold[i]) * (out[i] - gold[i]);
    den += gold[i] * gold[i];
  }
  return std::sqrt(num / den);
}

TEST(CAPI, GoldenModelOnTheGpu) {
  const char *bundlePath = std::getenv("XLSTM_TEST_BUNDLE");
  const char *goldenDir = std::getenv("XLSTM_TEST_GOLDEN");
  if (!bundlePath || !goldenDir)
    GTEST_SKIP() << "XLSTM_TEST_BUNDLE / XLSTM_TEST_GOLDEN not set";
  xlstm_model *model = nullptr;
  if (xlstm_model_load(bundlePath, "f32", 0, &model) != XLSTM_OK)
    GTEST_SKIP() << xlstm_last_error();
  std::string golden = std::string(goldenDir) + "/parity_xlstm11";
  ASSERT_EQ(xlstm_model_set_weights(
                model, (golden + ".weights.safetensors").c_str(), 0),
            XLSTM_OK)
      << xlstm_last_error();
  ASSERT_EQ(xlstm_model_takes_tokens(model), 1);
  llvm::Expected<weights::SafetensorsFile> io =
      weights::SafetensorsFile::open(golden + ".io.safetensors");
  ASSERT_TRUE(bool(io)) << llvm::toString(io.takeError());
  const weights::TensorView *tokenView = io->find("tokens");
  const weights::TensorView *logitsView = io->find("logits");
  const weights::TensorView *stepView = io->find("step_logits");
  ASSERT_TRUE(tokenView && logitsView && stepView);
  int64_t batch = tokenView->shape[0], seq = tokenView->shape[1];
  int64_t width = xlstm_model_output_width(model);
  std::vector<int64_t> tokens;
  for (double t : weights::toF64(*tokenView))
    tokens.push_back(static_cast<int64_t>(t));

  std::vector<float> logits(batch * seq * width);
  xlstm_state *final = nullptr;
  ASSERT_EQ(xlstm_state_create(model, batch, &final), XLSTM_OK);
  ASSERT_EQ(xlstm_model_forward(model, batch, seq, tokens.data(), logits.data(),
                                final),
            XLSTM_OK)
      << xlstm_last_error();
  EXPECT_LT(relativeError(logits, weights::toF64(*logitsView)), 1e-4);

  // The step path from a zero state reproduces step_logits.
  xlstm_state *state = nullptr;
  ASSERT_EQ(xlstm_state_create(model, batch, &state), XLSTM_OK);
  int64_t steps = stepView->shape[1];
  std::vector<double> gold = weights::toF64(*stepView);
  std::vector<float> out(batch * steps * width), one(batch * width);
  for (int64_t t = 0; t < steps; ++t) {
    std::vector<int64_t> column(batch);
    for (int64_t b = 0; b < batch; ++b)
      column[b] = tokens[b * seq + t];
    ASSERT_EQ(xlstm_model_step(model, column.data(), one.data(), state),
              XLSTM_OK)
        << xlstm_last_error();
    for (int64_t b = 0; b < batch; ++b)
      std::copy_n(&one[b * width], width, &out[(b * steps + t) * width]);
  }
  EXPECT_LT(relativeError(out, gold), 1e-4);

  // Prefill of all but the last position, then one step on the last token,
  // reproduces the last position's logits: the prefilled state is the
  // forward's, on the device.
  xlstm_state *prefilled = nullptr;
  ASSERT_EQ(xlstm_state_create(model, batch, &prefilled), XLSTM_OK);
  std::vector<int64_t> head(batch * (seq - 1)), last(batch);
  for (int64_t b = 0; b < batch; ++b) {
    std::copy_n(&tokens[b * seq], seq - 1, &head[b * (seq - 1)]);
    last[b] = tokens[b * seq + seq - 1];
  }
  std::vector<float> lastOut(batch * width);
  ASSERT_EQ(xlstm_model_prefill(model, batch, seq - 1, head.data(),
                                lastOut.data(), prefilled),
            XLSTM_OK)
      << xlstm_last_error();
  std::vector<double> goldLogits = weights::toF64(*logitsView);
  std::vector<double> goldPrev, goldLast;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = 0; i < width; ++i) {
      goldPrev.push_back(goldLogits[(b * seq + seq - 2) * width + i]);
      goldLast.push_back(goldLogits[(b * seq + seq - 1) * width + i]);
    }
  EXPECT_LT(relativeError(lastOut, goldPrev), 1e-4);
  ASSERT_EQ(xlstm_model_step(model, last.data(), one.data(), prefilled),
            XLSTM_OK)
      << xlstm_last_error();
  EXPECT_LT(relativeError(one, goldLast), 1e-4);
  xlstm_state_free(prefilled);

  // Greedy generation through the C API equals prefill + steps + argmax.
  {
    int64_t promptLength = seq - 1;
    std::vector<int64_t> row(tokens.begin(), tokens.begin() + promptLength);
    xlstm_sampling greedy = {0, 0, 1, 1, 0};
    std::vector<int64_t> generated(6);
    int64_t count = 0;
    ASSERT_EQ(xlstm_model_generate(model, row.data(), promptLength, &greedy,
                                   6, nullptr, 0, generated.data(), &count,
                                   nullptr, nullptr),
              XLSTM_OK)
        << xlstm_last_error();
    ASSERT_EQ(count, 6);
    xlstm_state *s1 = nullptr;
    ASSERT_EQ(xlstm_state_create(model, 1, &s1), XLSTM_OK);
    std::vector<float> out(width);
    ASSERT_EQ(xlstm_model_prefill(model, 1, promptLength, row.data(),
                                  out.data(), s1),
              XLSTM_OK);
    for (int64_t i = 0; i < 6; ++i) {
      int64_t next = std::max_element(out.begin(), out.end()) - out.begin();
      EXPECT_EQ(generated[i], next) << i;
      ASSERT_EQ(xlstm_model_step(model, &next, out.data(), s1), XLSTM_OK);
    }
    xlstm_state_free(s1);
    // An end token stops early; the callback sees every token.
    std::vector<int64_t> seen;
    auto record = [](int64_t token, void *user) {
      static_cast<std::vector<int64_t> *>(user)->push_back(token);
      return 0;
    };
    ASSERT_EQ(xlstm_model_generate(model, row.data(), promptLength, &greedy,
                                   6, &generated[2], 1, generated.data(),
                                   &count, record, &seen),
              XLSTM_OK);
    EXPECT_LE(count, 3);
    EXPECT_EQ(int64_t(seen.size()), count);
  }

  // Graph replay (the default) refills the recorded input buffers: a second
  // forward of this shape on other tokens replays the recording and matches
  // the same forward run launch by launch.
  std::vector<int64_t> other(tokens);
  for (int64_t &t : other)
    t = (t + 7) % width;
  std::vector<float> replayed(logits.size()), eager(logits.size());
  ASSERT_EQ(xlstm_model_forward(model, batch, seq, other.data(),
                                replayed.data(), nullptr),
            XLSTM_OK)
      << xlstm_last_error();
  ASSERT_EQ(xlstm_model_set_graph_replay(model, 0), XLSTM_OK);
  ASSERT_EQ(xlstm_model_forward(model, batch, seq, other.data(), eager.data(),
                                nullptr),
            XLSTM_OK)
      << xlstm_last_error();
  EXPECT_LT(
      relativeError(replayed, std::vector<double>(eager.begin(), eager.end())),
      1e-6);
  EXPECT_GT(relativeError(replayed,
                          std::vector<double>(logits.begin(), logits.end())),
            1e-3);
  ASSERT_EQ(xlstm_model_set_graph_replay(model, 1), XLSTM_OK);

  // A token outside the vocabulary is an error, not a launch.
  std::vector<int64_t> bad(batch, width + 5);
  EXPECT_EQ(xlstm_model_step(model, bad.data(), one.data(), state),
            XLSTM_ERROR);
  EXPECT_NE(std::string(xlstm_last_error()).find("out of range"),
            std::string::npos);
  xlstm_state_free(state);
  xlstm_state_free(final);
  xlstm_model_free(model);
}

TEST(CAPI, Tokenizer) {
  // XLSTM_TEST_TOKENIZER where ../shared is absent (the GPU machine).
  const char *given = std::getenv("XLSTM_TEST_TOKENIZER");
  std::string path = given ? std::string(given)
                           : std::string(XLSTM_SOURCE_DIR) +
                                 "/../shared/tokenizers/gpt-neox-20b/"
                                 "tokenizer.json";
  xlstm_tokenizer *tok = nullptr;
  if (xlstm_tokenizer_load(path.c_str(), &tok) != XLSTM_OK)
    GTEST_SKIP() << xlstm_last_error();
  // The first line of encode-golden.jsonl.
  const char text[] = "Hello world";
  size_t count = 0;
  ASSERT_EQ(xlstm_tokenizer_encode(tok, text, sizeof(text) - 1, nullptr, 0,
                                   &count),
            XLSTM_OK);
  ASSERT_EQ(count, 2u);
  std::vector<int64_t> ids(count);
  ASSERT_EQ(xlstm_tokenizer_encode(tok, text, sizeof(text) - 1, ids.data(),
                                   ids.size(), &count),
            XLSTM_OK);
  EXPECT_EQ(ids, (std::vector<int64_t>{12092, 1533}));
  size_t length = 0;
  ASSERT_EQ(xlstm_tokenizer_decode(tok, ids.data(), ids.size(), nullptr, 0,
                                   &length),
            XLSTM_OK);
  std::string decoded(length + 1, '\0');
  ASSERT_EQ(xlstm_tokenizer_decode(tok, ids.data(), ids.size(),
                                   decoded.data(), decoded.size(), &length),
            XLSTM_OK);
  EXPECT_STREQ(decoded.c_str(), "Hello world");
  int64_t bad = 1 << 30;
  EXPECT_EQ(xlstm_tokenizer_decode(tok, &bad, 1, nullptr, 0, &length),
            XLSTM_ERROR);
  EXPECT_NE(std::string(xlstm_last_error()).find("1073741824"),
            std::string::npos)
      << xlstm_last_error();
  xlstm_tokenizer_free(tok);
  EXPECT_EQ(xlstm_tokenizer_load("/no/such/tokenizer.json", &tok),
            XLSTM_ERROR);
  EXPECT_NE(std::string(xlstm_last_error()).find("/no/such/tokenizer.json"),
            std::string::npos);
}

} // namespace
