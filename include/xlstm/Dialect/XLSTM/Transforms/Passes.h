//===- Passes.h - xlstm dialect transformations -----------------*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_DIALECT_XLSTM_TRANSFORMS_PASSES_H
#define XLSTM_DIALECT_XLSTM_TRANSFORMS_PASSES_H

#include "mlir/Pass/Pass.h"

namespace xlstm {

#define GEN_PASS_DECL
#include "xlstm/Dialect/XLSTM/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "xlstm/Dialect/XLSTM/Transforms/Passes.h.inc"

} // namespace xlstm

#endif // XLSTM_DIALECT_XLSTM_TRANSFORMS_PASSES_H
