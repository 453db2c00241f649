//===- CellMath.h - Scalar math of the recurrent cells ----------*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// The pointwise math of the cells as scalar arith/math IR, built once and
// used wherever a cell is emitted: in linalg bodies by
// `xlstm-lower-to-linalg` and inside the persistent sLSTM kernel of
// `xlstm-persistent-slstm`, so both compute the same expressions in the
// same order.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_DIALECT_XLSTM_TRANSFORMS_CELLMATH_H
#define XLSTM_DIALECT_XLSTM_TRANSFORMS_CELLMATH_H

#include "xlstm/Dialect/XLSTM/IR/XLSTM.h"

#include "mlir/IR/Builders.h"

namespace xlstm::cellmath {

/// 1 / (1 + exp(-x)).
mlir::Value sigmoid(mlir::OpBuilder &b, mlir::Location loc, mlir::Value x);

/// log(sigmoid(x)) as min(x, 0) - log1p(exp(-|x|)): stable at both ends.
mlir::Value logSigmoid(mlir::OpBuilder &b, mlir::Location loc, mlir::Value x);

/// One sLSTM cell update (spec xlstm-architecture §b.6) from the raw gate
/// pre-activations `raw` (i, f, z, o: input plus recurrent contribution
/// plus bias) and the previous state: (h, c, n, m) for `slstm`, (h, c) for
/// `lstm`, all scalars of one float type. Returns the new state in the same
/// order; its h is the step's output.
llvm::SmallVector<mlir::Value> slstmCell(mlir::OpBuilder &b, mlir::Location loc,
                                         SLSTMFunction function,
                                         mlir::ValueRange raw,
                                         mlir::ValueRange state);

/// The factors (on q, on k) of the mLSTM's 1/sqrt(DHQK) under `scaling`.
std::pair<double, double> qkScales(QKScaling scaling, int64_t dhqk);

} // namespace xlstm::cellmath

#endif // XLSTM_DIALECT_XLSTM_TRANSFORMS_CELLMATH_H
