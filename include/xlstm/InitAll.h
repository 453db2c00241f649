//===- InitAll.h - Register the dialects and passes xlstm tools use -*- C++
//-*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// One place that lists what the tools understand: our dialect and passes and
// the upstream dialects and passes the lowering produces or runs. Tools pick
// these explicitly instead of registering all of MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_INITALL_H
#define XLSTM_INITALL_H

#include "xlstm/Dialect/XLSTM/IR/XLSTM.h"
#include "xlstm/Dialect/XLSTM/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Transforms/Passes.h"

namespace xlstm {

inline void registerAllDialects(mlir::DialectRegistry &registry) {
  registry
      .insert<XLSTMDialect, mlir::arith::ArithDialect, mlir::func::FuncDialect,
              mlir::linalg::LinalgDialect, mlir::math::MathDialect,
              mlir::scf::SCFDialect, mlir::tensor::TensorDialect>();
}

inline void registerAllPasses() {
  registerXLSTMPasses();
  // Generic clean-ups and the linalg passes used to inspect expanded IR
  // (e.g. --linalg-generalize-named-ops).
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mlir::registerSymbolDCEPass();
  mlir::registerLinalgPasses();
}

} // namespace xlstm

#endif // XLSTM_INITALL_H
