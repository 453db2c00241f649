//===- GoldenCellTest.cpp - The bare mLSTM cell against upstream ----------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// ../shared/golden/mlstm_cell.io.safetensors: one mLSTM cell (xLSTM-7B
// convention, eps 1e-6) computed by upstream in float64. The recurrent
// kernel, the chunkwise kernels and the IR (before and after
// xlstm-tile-mlstm-chunkwise) must all match it.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"
#include "xlstm/Dialect/XLSTM/Transforms/Passes.h"
#include "xlstm/InitAll.h"
#include "xlstm/Reference/Evaluator.h"
#include "xlstm/Reference/Kernels.h"
#include "xlstm/Weights/Safetensors.h"

#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"

#include "gtest/gtest.h"

using namespace mlir;
using namespace xlstm;
using namespace xlstm::reference;
using namespace xlstm::reference::test;

namespace {

constexpr const char *kGolden =
    XLSTM_SOURCE_DIR "/../shared/golden/mlstm_cell.io.safetensors";

class GoldenCell : public ::testing::Test {
protected:
  void SetUp() override {
    if (!llvm::sys::fs::exists(kGolden))
      GTEST_SKIP() << "no golden data at " << kGolden;
    auto file = weights::SafetensorsFile::open(kGolden);
    ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
    for (const char *name :
         {"q", "k", "v", "igate_preact", "fgate_preact", "h"}) {
      const weights::TensorView *t = file->find(name);
      ASSERT_TRUE(t) << name;
      tensors[name] = Tensor(t->shape, weights::toF64(*t));
    }
  }
  std::map<std::string, Tensor> tensors;
};

TEST_F(GoldenCell, Kernels) {
  const Tensor &q = tensors["q"], &k = tensors["k"], &v = tensors["v"];
  const Tensor &i = tensors["igate_preact"], &f = tensors["fgate_preact"];
  const Tensor &h = tensors["h"];
  EXPECT_LT(relativeError(mlstm(q, k, v, i, f, false, 1e-6), h), 1e-5);
  // Where 1/sqrt(d) goes does not change h.
  EXPECT_LT(relativeError(mlstm(q, k, v, i, f, true, 1e-6), h), 1e-5);
  for (int64_t chunk : {16, 64}) {
    MLSTMChunkStates st = mlstmChunkStates(k, v, i, f, chunk, false);
    EXPECT_LT(relativeError(mlstmChunkOutputs(q, k, v, i, f, st.c, st.n, st.m,
                                              chunk, false, 1e-6),
                            h),
              1e-5)
        << "chunk " << chunk;
  }
}

TEST_F(GoldenCell, IRBeforeAndAfterTiling) {
  DialectRegistry registry;
  registerAllDialects(registry);
  MLIRContext context(registry);
  const Tensor &q = tensors["q"], &v = tensors["v"];
  std::string qType = "tensor<" + q.shapeString() + "xf64>";
  std::string vType = "tensor<" + v.shapeString() + "xf64>";
  std::string gType =
      "tensor<" + tensors["igate_preact"].shapeString() + "xf64>";
  std::string ir =
      "func.func @forward(%q: " + qType + ", %k: " + qType + ", %v: " + vType +
      ", %i: " + gType + ", %f: " + gType + ") -> " + vType +
      " {\n  %h = xlstm.mlstm %q, %k, %v, %i, %f "
      "{qk_scaling = #xlstm.qk_scaling<query>} : (" +
      qType + ", " + qType + ", " + vType + ", " + gType + ", " + gType +
      ") -> " + vType + "\n  return %h : " + vType + "\n}\n";
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(ir, &context);
  ASSERT_TRUE(module);
  SmallVector<Tensor> args = {q, tensors["k"], v, tensors["igate_preact"],
                              tensors["fgate_preact"]};
  for (int64_t chunk : {0, 16, 64}) {
    // Each chunk size tiles its own copy of the recurrent form.
    OwningOpRef<ModuleOp> copy = module->clone();
    if (chunk) {
      PassManager pm(&context, ModuleOp::getOperationName());
      pm.addPass(createXLSTMTileMLSTMChunkwisePass({chunk}));
      ASSERT_TRUE(succeeded(pm.run(*copy)));
    }
    auto fn = copy->lookupSymbol<func::FuncOp>("forward");
    FailureOr<SmallVector<Tensor>> out = evaluate(fn, args);
    ASSERT_TRUE(succeeded(out));
    EXPECT_LT(relativeError((*out)[0], tensors["h"]), 1e-5)
        << "chunk " << chunk;
  }
}

} // namespace
