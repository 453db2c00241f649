//===- ModelBundle.h - Write a compiled model as a .xlstmb ------*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Fills the bundle manifest from a model's graph-level IR: the resolved
// config, the input and output, the parameter table (upstream names,
// shapes, aliases), the recurrent state table, and embeds the IR itself
// (section "graph.mlir"), so a bundle alone is enough to run the model on
// the reference device; with the GPU artifacts, also the host programs
// (docs/host-program.md) and the PTX of their kernels.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_TARGET_BUNDLE_MODELBUNDLE_H
#define XLSTM_TARGET_BUNDLE_MODELBUNDLE_H

#include "xlstm/Config/ModelSpec.h"
#include "xlstm/Target/HostProgram/GPUArtifacts.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

namespace xlstm {

/// Section holding the graph-level IR as MLIR text.
inline constexpr llvm::StringLiteral kGraphSectionName = "graph.mlir";

/// The bytes of the bundle of `module` (as the frontend built it for
/// `spec`).
/// `spec`), with the host programs, kernel table and kernel images of
/// `gpu` (none by default).
llvm::Expected<std::string>
serializeModelBundle(mlir::ModuleOp module, const config::ModelSpec &spec,
                     GPUArtifacts gpu = GPUArtifacts());

} // namespace xlstm

#endif // XLSTM_TARGET_BUNDLE_MODELBUNDLE_H
