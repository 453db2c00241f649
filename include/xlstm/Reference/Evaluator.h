//===- Evaluator.h - Float64 evaluator of xlstm IR --------------*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Evaluates a func.func at the tensor level in float64: the xlstm ops (block,
// recurrence and primitive ops, through reference/Kernels.h) and the upstream
// ops the passes produce (linalg structured ops through their indexing maps
// and scalar bodies, tensor reshapes and slices, arith constants). Element
// types are ignored: every value is computed in float64. This is the oracle
// that proves passes preserve meaning: evaluate before and after, compare.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_REFERENCE_EVALUATOR_H
#define XLSTM_REFERENCE_EVALUATOR_H

#include "xlstm/Reference/Tensor.h"

#include "mlir/Support/LLVM.h"

namespace mlir {
namespace func {
class FuncOp;
} // namespace func
} // namespace mlir

namespace xlstm::reference {

/// Runs `function` on `arguments` (one per function argument, shapes fully
/// known). On an unsupported op or a run-time error (e.g. a token out of
/// range, a shape mismatch) emits an error at the op and fails.
mlir::FailureOr<llvm::SmallVector<Tensor>>
evaluate(mlir::func::FuncOp function, llvm::ArrayRef<Tensor> arguments);

} // namespace xlstm::reference

#endif // XLSTM_REFERENCE_EVALUATOR_H
