//===- ModelBuilder.h - ModelSpec to graph-level xlstm IR -------*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Builds the graph-level module of a model config with two functions:
//   @forward(input, params...) -> (output, final state...)   from a zero state
//   @step(input, params..., state...) -> (output, new state...)  one position
// The input is `x` embeddings for a block stack and `tokens` otherwise; every
// checkpoint tensor is an argument tagged `xlstm.param = "<state_dict name>"`
// in upstream order, so a weight file binds by name; state tensors are tagged
// `xlstm.state`.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_FRONTEND_MODELBUILDER_H
#define XLSTM_FRONTEND_MODELBUILDER_H

#include "xlstm/Config/ModelSpec.h"
#include "xlstm/Dialect/XLSTM/IR/XLSTMAttrNames.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir {
class MLIRContext;
} // namespace mlir

namespace xlstm {

/// Element type of parameters and activations.
enum class ModelDType { F32, BF16 };

struct ModelBuildOptions {
  ModelDType dtype = ModelDType::F32;
  /// In programs narrower than float32: keep the residual stream (block
  /// inputs and results, a block stack's input and output) and the logits
  /// in float32. Projections still take `dtype` operands and accumulate in
  /// float32; their results that add into the stream are written float32
  /// instead of being rounded first. Off: `dtype` throughout, as upstream's
  /// bf16 models run.
  bool float32Residual = true;
};

/// Builds the graph-level module for `spec`. The result verifies.
mlir::OwningOpRef<mlir::ModuleOp>
buildModelModule(mlir::MLIRContext &context, const config::ModelSpec &spec,
                 const ModelBuildOptions &options = {});

/// The config recorded in `module`'s `xlstm.config` attribute; an error
/// naming `sourceName` when it is missing or does not parse (the parser's
/// messages go to `errs`).
llvm::Expected<config::ModelSpec> configOfModule(mlir::ModuleOp module,
                                                 llvm::StringRef sourceName,
                                                 llvm::raw_ostream &errs);

} // namespace xlstm

#endif // XLSTM_FRONTEND_MODELBUILDER_H
