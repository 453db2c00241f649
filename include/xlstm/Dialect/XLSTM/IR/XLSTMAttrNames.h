//===- XLSTMAttrNames.h - The xlstm.* discardable attributes ----*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// The names the model functions carry on their arguments, results and
// module: a contract between the frontend, the bundle writer and the
// runtime's manifest. The xlstm dialect verifies them wherever they appear
// (XLSTMDialect::verify*Attribute). No MLIR includes: a name table only.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_DIALECT_XLSTM_IR_XLSTMATTRNAMES_H
#define XLSTM_DIALECT_XLSTM_IR_XLSTMATTRNAMES_H

#include "llvm/ADT/StringRef.h"

namespace xlstm {

/// Argument attribute naming the checkpoint tensor an argument binds to.
inline constexpr llvm::StringLiteral kParamAttrName = "xlstm.param";
/// Argument attribute on the model input ("x" or "tokens").
inline constexpr llvm::StringLiteral kInputAttrName = "xlstm.input";
/// Result attribute naming an output ("y" or "logits").
inline constexpr llvm::StringLiteral kOutputAttrName = "xlstm.output";
/// Argument and result attribute naming a recurrent state tensor
/// ("blocks.<i>.<conv|C|n|m|h|c>").
inline constexpr llvm::StringLiteral kStateAttrName = "xlstm.state";
/// Argument attribute naming a buffer the function reads and writes in
/// place (the sampling program's logits, seen, settings, rng, tokens).
inline constexpr llvm::StringLiteral kBufferAttrName = "xlstm.buffer";
/// Other state_dict names bound to the same tensor (tied embeddings).
inline constexpr llvm::StringLiteral kAliasesAttrName = "xlstm.aliases";
/// Module attribute: the upstream model class.
inline constexpr llvm::StringLiteral kModelAttrName = "xlstm.model";
/// Module attribute: the resolved config the module was built from, as YAML
/// in the upstream schema (comments dropped). It travels through every
/// stage, so that IR from any stage can be compiled into a bundle again
/// (`xlstmc FILE.mlir`); `configOfModule` reads it back.
inline constexpr llvm::StringLiteral kConfigAttrName = "xlstm.config";

/// On a gpu.launch: which kernel a pass built there, for which op and shape
/// (a dictionary of strings: family, shape, kernel, dtype, and optionally
/// when and param), or an array of them for a launch that serves several
/// ops; xlstm-lowering-report reads it.
inline constexpr llvm::StringLiteral kKernelChoiceAttr = "xlstm.kernel";
/// On a gpu.launch_func: its kernel starts by waiting on the grid launched
/// before it (griddepcontrol.wait, sm_90), so it may be launched with
/// programmatic stream serialization (xlstm-grid-dependency-wait).
inline constexpr llvm::StringLiteral kWaitsOnPreviousGridAttr =
    "xlstm.waits_on_previous_grid";
/// On a linalg op: why a pass left it to the generic kernels (a string).
inline constexpr llvm::StringLiteral kGenericReasonAttr =
    "xlstm.generic_reason";

} // namespace xlstm

#endif // XLSTM_DIALECT_XLSTM_IR_XLSTMATTRNAMES_H
