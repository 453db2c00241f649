//===- EvaluatorTest.cpp - Evaluator behaviour on hostile inputs ----------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// IR that verifies with dynamic sizes can still meet inconsistent concrete
// shapes at run time; the evaluator must report them, never read out of
// bounds. Scalar bodies follow IEEE NaN rules.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Reference/Evaluator.h"
#include "TestUtil.h"
#include "xlstm/Config/ConfigParser.h"
#include "xlstm/Dialect/XLSTM/IR/XLSTM.h"
#include "xlstm/Frontend/ModelBuilder.h"
#include "xlstm/InitAll.h"
#include "xlstm/Reference/ReferenceModel.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Parser/Parser.h"

#include "gtest/gtest.h"

using namespace mlir;
using namespace xlstm;
using namespace xlstm::reference;

namespace {

class EvaluatorTest : public ::testing::Test {
protected:
  EvaluatorTest() {
    DialectRegistry registry;
    registerAllDialects(registry);
    context.appendDialectRegistry(registry);
  }

  /// Evaluates @f of `ir` on `args`; `errors` collects the diagnostics.
  FailureOr<SmallVector<Tensor>> run(StringRef ir, ArrayRef<Tensor> args) {
    module = parseSourceString<ModuleOp>(ir, &context);
    EXPECT_TRUE(module);
    return evaluate(module->lookupSymbol<func::FuncOp>("f"), args);
  }

  MLIRContext context;
  OwningOpRef<ModuleOp> module;
  std::string errors;
  ScopedDiagnosticHandler handler{&context, [this](Diagnostic &d) {
                                    errors += d.str() + "\n";
                                    return success();
                                  }};
};

TEST_F(EvaluatorTest, StateOfAnotherBatchIsAnError) {
  const char *ir = R"mlir(
func.func @f(%q: tensor<?x1x?x2xf64>, %v: tensor<?x1x?x2xf64>, %g: tensor<?x1x?xf64>,
             %c: tensor<?x1x2x2xf64>, %n: tensor<?x1x2xf64>, %m: tensor<?x1xf64>) -> tensor<?x1x?x2xf64> {
  %h = xlstm.mlstm %q, %q, %v, %g, %g initial_state(%c, %n, %m) {qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<?x1x?x2xf64>, tensor<?x1x?x2xf64>, tensor<?x1x?x2xf64>, tensor<?x1x?xf64>, tensor<?x1x?xf64>,
         tensor<?x1x2x2xf64>, tensor<?x1x2xf64>, tensor<?x1xf64>) -> tensor<?x1x?x2xf64>
  return %h : tensor<?x1x?x2xf64>
}
)mlir";
  // Batch 3 inputs, batch 1 state.
  SmallVector<Tensor> args = {Tensor({3, 1, 4, 2}), Tensor({3, 1, 4, 2}),
                              Tensor({3, 1, 4}),    Tensor({1, 1, 2, 2}),
                              Tensor({1, 1, 2}),    Tensor({1, 1})};
  EXPECT_TRUE(failed(run(ir, args)));
  EXPECT_NE(errors.find("initial state C must have shape (3, 1, 2, 2)"),
            std::string::npos)
      << errors;
}

TEST_F(EvaluatorTest, TensorOpsCheckTheirBounds) {
  const char *ir = R"mlir(
func.func @f(%a: tensor<?x2xf64>, %b: tensor<?x3xf64>, %i: index) -> tensor<?x5xf64> {
  %c = tensor.concat dim(1) %a, %b : (tensor<?x2xf64>, tensor<?x3xf64>) -> tensor<?x5xf64>
  return %c : tensor<?x5xf64>
}
)mlir";
  EXPECT_TRUE(
      failed(run(ir, {Tensor({1, 2}), Tensor({3, 3}), Tensor({}, {0})})));
  EXPECT_NE(errors.find("concatenated tensors differ in dimension 0"),
            std::string::npos)
      << errors;
  errors.clear();
  const char *dim = R"mlir(
func.func @f(%a: tensor<?x2xf64>) -> index {
  %c5 = arith.constant 5 : index
  %d = tensor.dim %a, %c5 : tensor<?x2xf64>
  return %d : index
}
)mlir";
  EXPECT_TRUE(failed(run(dim, {Tensor({1, 2})})));
  EXPECT_NE(errors.find("dimension 5 of a rank-2 tensor"), std::string::npos)
      << errors;
}

TEST_F(EvaluatorTest, NaNRules) {
  const char *ir = R"mlir(
func.func @f(%a: tensor<2xf64>, %b: tensor<2xf64>) -> (tensor<2xf64>, tensor<2xf64>, tensor<2xf64>, tensor<2xf64>) {
  %e = tensor.empty() : tensor<2xf64>
  %r:4 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>,
                                          affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>,
                                          affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>],
                         iterator_types = ["parallel"]}
      ins(%a, %b : tensor<2xf64>, tensor<2xf64>) outs(%e, %e, %e, %e : tensor<2xf64>, tensor<2xf64>, tensor<2xf64>, tensor<2xf64>) {
  ^bb0(%x: f64, %y: f64, %o0: f64, %o1: f64, %o2: f64, %o3: f64):
    %max = arith.maximumf %x, %y : f64
    %num = arith.maxnumf %x, %y : f64
    %one = arith.cmpf one, %x, %y : f64
    %une = arith.cmpf une, %x, %y : f64
    %t = arith.constant 1.0 : f64
    %f = arith.constant 0.0 : f64
    %s1 = arith.select %one, %t, %f : f64
    %s2 = arith.select %une, %t, %f : f64
    linalg.yield %max, %num, %s1, %s2 : f64, f64, f64, f64
  } -> (tensor<2xf64>, tensor<2xf64>, tensor<2xf64>, tensor<2xf64>)
  return %r#0, %r#1, %r#2, %r#3 : tensor<2xf64>, tensor<2xf64>, tensor<2xf64>, tensor<2xf64>
}
)mlir";
  FailureOr<SmallVector<Tensor>> r =
      run(ir, {Tensor({2}, {1.0, 2.0}), Tensor({2}, {NAN, 3.0})});
  ASSERT_TRUE(succeeded(r)) << errors;
  EXPECT_TRUE(std::isnan((*r)[0].data[0])); // maximumf propagates NaN
  EXPECT_EQ((*r)[0].data[1], 3.0);
  EXPECT_EQ((*r)[1].data[0], 1.0); // maxnumf takes the number
  EXPECT_EQ((*r)[2].data[0], 0.0); // one: false with NaN
  EXPECT_EQ((*r)[2].data[1], 1.0);
  EXPECT_EQ((*r)[3].data[0], 1.0); // une: true with NaN
}

} // namespace

// Found by fuzzing: a bundle whose graph.mlir holds an out-of-range
// linalg.transpose permutation crashed upstream's parser (SIGSEGV after it
// reported the error) when the reference device loaded it. Contained: an
// error, and the process goes on.
TEST(ParseModelIR, ParserCrashIsAnError) {
  DialectRegistry registry;
  registerAllDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  std::string errors;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &d) {
    errors += d.str() + "\n";
    return success();
  });
  const char *bad = R"mlir(
func.func @f(%a: tensor<2x3xf32>, %b: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %t = linalg.transpose ins(%a : tensor<2x3xf32>) outs(%b : tensor<3x2xf32>) permutation = [1, 99999999999999999999]
  return %t : tensor<3x2xf32>
}
)mlir";
  EXPECT_FALSE(parseModelIR(bad, "m.xlstmb", context));
  EXPECT_NE(errors.find("integer value too large"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find("MLIR's parser crashed on this IR"), std::string::npos)
      << errors;
  // Good IR still parses (in a fresh context: the crashed one is not
  // trusted).
  MLIRContext fresh(registry);
  EXPECT_TRUE(parseModelIR("func.func @f() { return }", "ok", fresh));
}

// Code review (issue 11): block ops hand out their parameters by name, and
// a misspelt name used to read as "this configuration has no such
// parameter", silently dropping a bias on both sides of the equivalence
// tests. Now only names some configuration has may be absent.
TEST(BlockParams, MisspeltNamesFailLoudly) {
  DialectRegistry registry;
  registerAllDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  std::string errors;
  llvm::raw_string_ostream os(errors);
  std::optional<config::ModelSpec> spec = config::parseModelConfig(
      "mlstm_block:\n  mlstm:\n    num_heads: 4\ncontext_length: 8\n"
      "num_blocks: 1\nembedding_dim: 16\n",
      "t.yaml", os);
  ASSERT_TRUE(spec) << errors;
  OwningOpRef<ModuleOp> module = buildModelModule(context, *spec);
  MLSTMBlockOp block;
  module->walk([&](MLSTMBlockOp op) { block = op; });
  ASSERT_TRUE(block);
  EXPECT_TRUE(block.getParam("xlstm.proj_up.weight"));
  // No bias in this configuration: absent, as designed.
  EXPECT_FALSE(block.getParam("xlstm.proj_up.bias"));
  EXPECT_DEATH(block.getParam("xlstm.proj_up.weigth"),
               "'xlstm.mlstm_block' has no parameter named "
               "'xlstm.proj_up.weigth' in any configuration");
}
