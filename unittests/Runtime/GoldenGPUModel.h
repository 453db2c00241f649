//===- GoldenGPUModel.h - A golden model on the GPU for runtime tests ------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// The GPU tests of GPUModel run the golden parity_xlstm11 model: the bundle
// XLSTM_TEST_BUNDLE (f32, compiled by this xlstmc) with the weights in
// XLSTM_TEST_GOLDEN. Skipped where either is unset or no GPU is found.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_UNITTESTS_RUNTIME_GOLDENGPUMODEL_H
#define XLSTM_UNITTESTS_RUNTIME_GOLDENGPUMODEL_H

#include "xlstm/Bundle/Bundle.h"
#include "xlstm/Config/ConfigParser.h"
#include "xlstm/Runtime/GPUModel.h"
#include "xlstm/Weights/ParameterBinding.h"

#include "gtest/gtest.h"

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

namespace xlstm::runtime::test {

struct GoldenGPUModel {
  std::optional<bundle::Bundle> bundle; ///< outlives the session
  std::optional<config::ModelSpec> spec;
  std::optional<GPUSession> session;
  std::optional<weights::Checkpoint> checkpoint;
  std::vector<weights::BoundTensor> bound; ///< the golden weights
  int64_t vocab = 0;
  GPUModel &model() { return session->getModel(); }
};

/// Opens the golden model into `out` without setting its parameters; the
/// caller returns when the test was skipped or failed
/// (`IsSkipped() || HasFatalFailure()`).
inline void openGoldenGPUModel(std::unique_ptr<GoldenGPUModel> &out) {
  const char *bundlePath = std::getenv("XLSTM_TEST_BUNDLE");
  const char *goldenDir = std::getenv("XLSTM_TEST_GOLDEN");
  if (!bundlePath || !goldenDir)
    GTEST_SKIP() << "XLSTM_TEST_BUNDLE / XLSTM_TEST_GOLDEN not set";
  auto golden = std::make_unique<GoldenGPUModel>();
  llvm::Expected<bundle::Bundle> bundle = bundle::Bundle::open(bundlePath);
  ASSERT_TRUE(bool(bundle)) << llvm::toString(bundle.takeError());
  golden->bundle.emplace(std::move(*bundle));
  std::optional<llvm::StringRef> configText =
      golden->bundle->manifest().getString("config");
  ASSERT_TRUE(configText);
  golden->spec = config::parseModelConfig(*configText, "config", llvm::errs());
  ASSERT_TRUE(golden->spec && golden->spec->hasTokens());
  golden->vocab = golden->spec->vocabSize();
  llvm::Expected<GPUSession> session =
      GPUSession::open(*golden->bundle, "f32", golden->vocab);
  if (!session)
    GTEST_SKIP() << llvm::toString(session.takeError());
  golden->session.emplace(std::move(*session));
  llvm::Expected<weights::Checkpoint> checkpoint = weights::Checkpoint::open(
      std::string(goldenDir) + "/parity_xlstm11.weights.safetensors");
  ASSERT_TRUE(bool(checkpoint)) << llvm::toString(checkpoint.takeError());
  golden->checkpoint.emplace(std::move(*checkpoint));
  llvm::Expected<std::vector<weights::BoundTensor>> bound =
      weights::bindCheckpoint(golden->model().getParams(),
                              *golden->checkpoint,
                              weights::checkpointLayout(*golden->spec));
  ASSERT_TRUE(bool(bound)) << llvm::toString(bound.takeError());
  golden->bound = std::move(*bound);
  out = std::move(golden);
}

} // namespace xlstm::runtime::test

#endif // XLSTM_UNITTESTS_RUNTIME_GOLDENGPUMODEL_H
