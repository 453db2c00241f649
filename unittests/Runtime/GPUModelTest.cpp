//===- GPUModelTest.cpp - GPUModel's host arrays and device states --------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// On a GPU, with XLSTM_TEST_BUNDLE (a token model compiled by this xlstmc,
// f32) and XLSTM_TEST_GOLDEN (its golden weights): forward/step on host
// arrays agree with prefill/decodeStep on device states, states read back
// and written again are unchanged, rows prefilled alone and copied into a
// batch state equal the batch's own prefill, and misuse is a clear error.
// Skipped elsewhere.
//
//===----------------------------------------------------------------------===//

#include "GoldenGPUModel.h"

#include <cmath>
#include <string>

using namespace xlstm;
using namespace xlstm::runtime;

namespace {

std::string errorText(llvm::Error e) { return llvm::toString(std::move(e)); }

/// Largest |a - b| over max(1, |b|) (the same kernels may run in another
/// order between the forward and the prefill programs).
double maxRelativeDifference(llvm::ArrayRef<float> a, llvm::ArrayRef<float> b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    worst = std::max(worst, std::abs(double(a[i]) - b[i]) /
                                std::max(1.0, std::abs(double(b[i]))));
  return worst;
}

TEST(GPUModel, HostArraysAndDeviceStatesAgree) {
  std::unique_ptr<test::GoldenGPUModel> golden;
  test::openGoldenGPUModel(golden);
  if (IsSkipped() || HasFatalFailure())
    return;
  GPUModel &model = golden->model();
  const int64_t vocab = golden->vocab;

  // Parameters as host arrays must have the table's shapes and float types.
  std::vector<HostArray> tooFew = {HostArray(weights::DType::F32, {3})};
  EXPECT_NE(errorText(model.setParameters(tooFew)).find("parameter values for"),
            std::string::npos);
  std::vector<HostArray> wrongShape;
  for (const weights::ParamDesc &desc : model.getParams())
    wrongShape.emplace_back(weights::DType::F32, desc.shape);
  wrongShape.front() = HostArray(weights::DType::F32, {3});
  EXPECT_NE(errorText(model.setParameters(wrongShape)).find("expected"),
            std::string::npos);
  ASSERT_FALSE(bool(model.setParameters(golden->bound)));

  const int64_t batch = 2, length = 7;
  std::vector<int64_t> prompt(batch * length);
  for (int64_t i = 0; i < batch * length; ++i)
    prompt[i] = (i * 53 + 11) % vocab;
  GPUModel::HostInput input{prompt.data(), nullptr, batch, length};

  // forward: every position's logits and the final states on the host.
  llvm::Expected<GPUModel::Result> forward = model.forward(input);
  ASSERT_TRUE(bool(forward)) << llvm::toString(forward.takeError());
  ASSERT_EQ(forward->output.dtype, weights::DType::F32);
  ASSERT_EQ(forward->output.getNumElements(), batch * length * vocab);
  std::vector<float> all = forward->output.toF32();
  std::vector<float> lastOfForward;
  for (int64_t r = 0; r < batch; ++r)
    lastOfForward.insert(lastOfForward.end(),
                         all.begin() + ((r * length) + length - 1) * vocab,
                         all.begin() + ((r * length) + length) * vocab);

  // prefill into a device state: the same last logits and states.
  llvm::Expected<std::unique_ptr<GPUModel::DeviceState>> state =
      model.createState(batch);
  ASSERT_TRUE(bool(state));
  std::vector<float> last(batch * vocab);
  ASSERT_FALSE(bool(model.prefill(input, **state, last)));
  EXPECT_LT(maxRelativeDifference(last, lastOfForward), 1e-5);
  llvm::Expected<std::vector<HostArray>> read = model.readState(**state);
  ASSERT_TRUE(bool(read));
  ASSERT_EQ(read->size(), forward->states.size());
  for (auto [a, b] : llvm::zip(*read, forward->states)) {
    EXPECT_EQ(a.shape, b.shape);
    EXPECT_LT(maxRelativeDifference(a.toF32(), b.toF32()), 1e-5);
  }

  // step from the host states equals decodeStep from the device state.
  std::vector<int64_t> next = {1 % vocab, vocab - 1};
  GPUModel::HostInput one{next.data(), nullptr, batch, 1};
  llvm::Expected<GPUModel::Result> stepped = model.step(one, forward->states);
  ASSERT_TRUE(bool(stepped)) << llvm::toString(stepped.takeError());
  std::vector<float> decoded(batch * vocab);
  ASSERT_FALSE(bool(model.decodeStep(one, **state, decoded)));
  EXPECT_LT(maxRelativeDifference(decoded, stepped->output.toF32()), 1e-5);

  // States written back are the states read (float32 written into a
  // float32 program: bit for bit), and float64 host values are accepted.
  llvm::Expected<std::vector<HostArray>> before = model.readState(**state);
  ASSERT_TRUE(bool(before));
  std::vector<HostArray> widened;
  for (const HostArray &a : *before)
    widened.push_back(a.convertTo(weights::DType::F64));
  ASSERT_FALSE(bool(model.writeState(**state, widened)));
  llvm::Expected<std::vector<HostArray>> after = model.readState(**state);
  ASSERT_TRUE(bool(after));
  for (auto [a, b] : llvm::zip(*after, *before))
    EXPECT_EQ(a.bytes, b.bytes);

  // Rows prefilled alone, copied side by side: the batch prefill's states.
  llvm::Expected<std::unique_ptr<GPUModel::DeviceState>> joined =
      model.createState(batch);
  ASSERT_TRUE(bool(joined));
  for (int64_t r = 0; r < batch; ++r) {
    llvm::Expected<std::unique_ptr<GPUModel::DeviceState>> row =
        model.createState(1);
    ASSERT_TRUE(bool(row));
    std::vector<float> rowLast(vocab);
    ASSERT_FALSE(bool(model.prefill({prompt.data() + r * length, nullptr, 1,
                                     length},
                                    **row, rowLast)));
    ASSERT_FALSE(bool(model.copyStateRows(**row, **joined, r)));
    EXPECT_NE(errorText(model.copyStateRows(**row, **joined, batch))
                  .find("outside a state of batch 2"),
              std::string::npos);
  }
  llvm::Expected<std::vector<HostArray>> joinedStates =
      model.readState(**joined);
  ASSERT_TRUE(bool(joinedStates));
  for (auto [a, b] : llvm::zip(*joinedStates, forward->states))
    EXPECT_LT(maxRelativeDifference(a.toF32(), b.toF32()), 1e-5);

  // Misuse.
  std::vector<int64_t> outside = {0, vocab};
  EXPECT_NE(errorText(model.forward({outside.data(), nullptr, 1, 2})
                          .takeError())
                .find("out of range"),
            std::string::npos);
  std::vector<HostArray> oneRow = model.zeroStates(1);
  EXPECT_NE(errorText(model.step(one, oneRow).takeError())
                .find("does not have the shape of batch 2"),
            std::string::npos);
  EXPECT_NE(errorText(model.step(input, forward->states).takeError())
                .find("one position"),
            std::string::npos);
  model.forgetState(**state);
  model.forgetState(**joined);
}

} // namespace
