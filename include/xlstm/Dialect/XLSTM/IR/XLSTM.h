//===- XLSTM.h - xlstm dialect ----------------------------------*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// The xlstm dialect: its ops, configuration attributes and enums.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_DIALECT_XLSTM_IR_XLSTM_H
#define XLSTM_DIALECT_XLSTM_IR_XLSTM_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SmallVector.h"
#include <string>

namespace xlstm {

/// One checkpoint tensor a block op takes: its name relative to the block
/// (upstream state_dict spelling, e.g. "xlstm.proj_up.weight") and shape.
struct ParamSpec {
  std::string name;
  llvm::SmallVector<int64_t, 3> shape;
};

} // namespace xlstm

#include "xlstm/Dialect/XLSTM/IR/XLSTMEnums.h.inc"
#include "xlstm/Dialect/XLSTM/IR/XLSTMOpsDialect.h.inc"

#define GET_ATTRDEF_CLASSES
#include "xlstm/Dialect/XLSTM/IR/XLSTMAttrs.h.inc"

#define GET_OP_CLASSES
#include "xlstm/Dialect/XLSTM/IR/XLSTMOps.h.inc"

namespace xlstm {

/// Constants the original xLSTM fixes rather than configures (spec
/// xlstm-architecture §b.1, §b.3); the one definition the frontend, the
/// expansion and the reference evaluator share. (The xLSTM-7B's eps values
/// are config fields and travel in LargeBlockAttr.)
/// LayerNorm / group-norm eps of the original xLSTM (weights as 1 + w).
inline constexpr double kXLSTMNormEps = 1e-5;
/// mLSTM cell denominator eps of the original xLSTM.
inline constexpr double kMLSTMEps = 1e-6;

/// Parameter tables of the block configurations, in state_dict order. The
/// frontend names function arguments with them, the block verifiers check
/// shapes against them and xlstm-expand-blocks looks operands up by name.
/// With `everyName`, the table also lists the parameters other
/// configurations of the same block kind have (biases, conv, FFN, the other
/// 7B weight mode; their shapes are not meaningful): what a name lookup
/// accepts as "optional, absent here" rather than a misspelling.
llvm::SmallVector<ParamSpec> getParamSpecs(MLSTMLayerAttr config,
                                           bool everyName = false);
llvm::SmallVector<ParamSpec> getParamSpecs(SLSTMLayerAttr config,
                                           bool everyName = false);
llvm::SmallVector<ParamSpec> getParamSpecs(LargeBlockAttr config,
                                           bool everyName = false);

/// Recurrent state of a block, in operand order: "conv" (the last K - 1
/// inputs of the causal conv, (B, K - 1, D)), then the cell state (mLSTM
/// "C", "n", "m"; sLSTM "h", "c", "n", "m" or "h", "c"). The batch
/// dimension is dynamic.
llvm::SmallVector<ParamSpec> getStateSpecs(MLSTMLayerAttr config);
llvm::SmallVector<ParamSpec> getStateSpecs(SLSTMLayerAttr config);
llvm::SmallVector<ParamSpec> getStateSpecs(LargeBlockAttr config);

} // namespace xlstm

#endif // XLSTM_DIALECT_XLSTM_IR_XLSTM_H
