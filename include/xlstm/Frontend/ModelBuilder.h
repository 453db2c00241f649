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
};

/// Argument attribute naming the checkpoint tensor an argument binds to.
inline constexpr llvm::StringLiteral kParamAttrName = "xlstm.param";
/// Argument attribute on the model input ("x" or "tokens").
inline constexpr llvm::StringLiteral kInputAttrName = "xlstm.input";
/// Result attribute naming an output ("y" or "logits").
inline constexpr llvm::StringLiteral kOutputAttrName = "xlstm.output";
/// Argument and result attribute naming a recurrent state tensor
/// ("blocks.<i>.<conv|C|n|m|h|c>").
inline constexpr llvm::StringLiteral kStateAttrName = "xlstm.state";
/// Other state_dict names bound to the same tensor (tied embeddings).
inline constexpr llvm::StringLiteral kAliasesAttrName = "xlstm.aliases";
/// Module attribute: the upstream model class.
inline constexpr llvm::StringLiteral kModelAttrName = "xlstm.model";
/// Module attribute: the resolved config the module was built from, as YAML
/// in the upstream schema (comments dropped). It travels through every
/// stage, so that IR from any stage can be compiled into a bundle again
/// (`xlstmc FILE.mlir`); `configOfModule` reads it back.
inline constexpr llvm::StringLiteral kConfigAttrName = "xlstm.config";

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
