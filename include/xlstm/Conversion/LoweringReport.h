//===- LoweringReport.h - Which kernel each model op became -----*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// The kernel-building passes (xlstm-contract-to-mma, -chunkwise-mlstm-to-mma,
// -persistent-slstm, -warp-norms) record on every gpu.launch they create
// which kernel it is and for which shape; xlstm-lowering-report gathers
// these and the linalg ops left for the generic kernels into one table.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_CONVERSION_LOWERINGREPORT_H
#define XLSTM_CONVERSION_LOWERINGREPORT_H

#include "xlstm/Conversion/Passes.h"
#include "xlstm/Dialect/XLSTM/IR/XLSTMAttrNames.h"

#include "mlir/IR/Operation.h"
#include "mlir/IR/Value.h"

#include <string>

namespace xlstm {

struct KernelChoice {
  /// projection, conv, norm or recurrence.
  std::string family;
  /// The shape the kernel was built for: M x N x K for projections ('?'
  /// where known only at run time), the operand's for the others.
  std::string shape;
  /// The kernel and its configuration, e.g. "mma-staged 128x128x32 4 stages".
  std::string kernel;
  /// The run-time condition that selects this kernel among the op's, e.g.
  /// "M = 1"; empty when it is the only one.
  std::string when;
};

/// Records `choice` on `launch`; `reads` (the weight of a projection, an
/// input otherwise) gives the element type and, where it comes from an
/// @forward argument, the parameter name.
void recordKernelChoice(mlir::Operation *launch, const KernelChoice &choice,
                        mlir::Value reads);

/// Records why a pass did not give `op` a specialised kernel.
void recordGenericReason(mlir::Operation *op, llvm::StringRef reason);

/// xlstm-lowering-report printing its table to `os`.
std::unique_ptr<mlir::Pass>
createXLSTMLoweringReportPass(const XLSTMLoweringReportPassOptions &options,
                              llvm::raw_ostream &os);

/// `shape` as "AxBxC", '?' for dynamic sizes.
std::string formatShape(llvm::ArrayRef<int64_t> shape);

/// The rows of `shape` (lead..., C): the product of its leading sizes, or
/// dynamic when one is (a projection's M).
int64_t leadingRows(llvm::ArrayRef<int64_t> shape);

} // namespace xlstm

#endif // XLSTM_CONVERSION_LOWERINGREPORT_H
