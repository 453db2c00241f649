//===- XLSTMDialect.cpp - xlstm dialect registration ----------------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Dialect/XLSTM/IR/XLSTM.h"
#include "xlstm/Dialect/XLSTM/IR/XLSTMAttrNames.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace xlstm;

#include "xlstm/Dialect/XLSTM/IR/XLSTMEnums.cpp.inc"
#include "xlstm/Dialect/XLSTM/IR/XLSTMOpsDialect.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "xlstm/Dialect/XLSTM/IR/XLSTMAttrs.cpp.inc"

void XLSTMDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "xlstm/Dialect/XLSTM/IR/XLSTMAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "xlstm/Dialect/XLSTM/IR/XLSTMOps.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Attribute verifiers
//===----------------------------------------------------------------------===//

namespace {
/// Checks `value > 0` and, when `divides` is set, that `value` divides it.
LogicalResult checkPositive(function_ref<InFlightDiagnostic()> emitError,
                            StringRef name, int64_t value) {
  if (value > 0)
    return success();
  return emitError() << name << " must be positive, got " << value;
}
LogicalResult checkDivides(function_ref<InFlightDiagnostic()> emitError,
                           StringRef divisorName, int64_t divisor,
                           StringRef name, int64_t value) {
  if (value % divisor == 0)
    return success();
  return emitError() << divisorName << " (" << divisor << ") must divide "
                     << name << " (" << value << ")";
}
} // namespace

LogicalResult
MLSTMLayerAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                       int64_t embeddingDim, int64_t innerDim, int64_t numHeads,
                       int64_t convKernelSize, int64_t qkvBlocksize,
                       BoolAttr bias) {
  if (failed(checkPositive(emitError, "embedding_dim", embeddingDim)) ||
      failed(checkPositive(emitError, "inner_dim", innerDim)) ||
      failed(checkPositive(emitError, "num_heads", numHeads)) ||
      failed(checkPositive(emitError, "conv_kernel_size", convKernelSize)) ||
      failed(checkPositive(emitError, "qkv_blocksize", qkvBlocksize)) ||
      failed(checkDivides(emitError, "num_heads", numHeads, "inner_dim",
                          innerDim)) ||
      failed(checkDivides(emitError, "qkv_blocksize", qkvBlocksize, "inner_dim",
                          innerDim)))
    return failure();
  if (!bias)
    return emitError() << "bias must be set";
  return success();
}

LogicalResult
FeedForwardAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                        int64_t projDim, Activation act, BoolAttr bias) {
  if (failed(checkPositive(emitError, "proj_dim", projDim)))
    return failure();
  if (!bias)
    return emitError() << "bias must be set";
  return success();
}

LogicalResult SLSTMLayerAttr::verify(
    function_ref<InFlightDiagnostic()> emitError, int64_t embeddingDim,
    int64_t numHeads, int64_t convKernelSize, BoolAttr groupNormWeight,
    SLSTMLayout layout, SLSTMFunction function, FeedForwardAttr feedforward) {
  if (failed(checkPositive(emitError, "embedding_dim", embeddingDim)) ||
      failed(checkPositive(emitError, "num_heads", numHeads)) ||
      failed(checkDivides(emitError, "num_heads", numHeads, "embedding_dim",
                          embeddingDim)))
    return failure();
  if (convKernelSize < 0)
    return emitError() << "conv_kernel_size must be >= 0 (0 = no conv), got "
                       << convKernelSize;
  if (!groupNormWeight)
    return emitError() << "group_norm_weight must be set";
  return success();
}

LogicalResult
LargeBlockAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                       int64_t embeddingDim, int64_t numHeads, int64_t qkDim,
                       int64_t vDim, int64_t ffnDim, BoolAttr useBias,
                       FloatAttr normEps, FloatAttr eps, FloatAttr gateSoftCap,
                       WeightMode weightMode) {
  if (failed(checkPositive(emitError, "embedding_dim", embeddingDim)) ||
      failed(checkPositive(emitError, "num_heads", numHeads)) ||
      failed(checkPositive(emitError, "qk_dim", qkDim)) ||
      failed(checkPositive(emitError, "v_dim", vDim)) ||
      failed(checkPositive(emitError, "ffn_dim", ffnDim)) ||
      failed(checkDivides(emitError, "num_heads", numHeads, "qk_dim", qkDim)) ||
      failed(checkDivides(emitError, "num_heads", numHeads, "v_dim", vDim)))
    return failure();
  if (!useBias || !normEps || !eps || !gateSoftCap)
    return emitError()
           << "use_bias, norm_eps, eps and gate_soft_cap must be set";
  if (!normEps.getType().isF64() || !eps.getType().isF64() ||
      !gateSoftCap.getType().isF64())
    return emitError() << "norm_eps, eps and gate_soft_cap must be f64";
  if (normEps.getValueAsDouble() < 0 || eps.getValueAsDouble() < 0)
    return emitError() << "norm_eps and eps must be non-negative";
  if (gateSoftCap.getValueAsDouble() <= 0)
    return emitError() << "gate_soft_cap must be positive, got "
                       << gateSoftCap.getValueAsDouble();
  return success();
}

//===----------------------------------------------------------------------===//
// The xlstm.* attributes of model functions and modules
//===----------------------------------------------------------------------===//

namespace {
/// What the runtime's manifest reads out of the attribute: a name.
LogicalResult expectName(Operation *op, NamedAttribute attr, StringRef where) {
  auto name = dyn_cast<StringAttr>(attr.getValue());
  if (name && !name.getValue().empty())
    return success();
  return op->emitOpError() << "'" << attr.getName().getValue() << "' on "
                           << where << " must be a non-empty string, got "
                           << attr.getValue();
}

constexpr StringLiteral kKnownAttributes =
    "known: xlstm.model and xlstm.config on the module; xlstm.input, "
    "xlstm.param, xlstm.aliases, xlstm.state and xlstm.buffer on function "
    "arguments; "
    "xlstm.output and xlstm.state on function results; xlstm.kernel and "
    "xlstm.generic_reason on the ops of a lowering; "
    "xlstm.waits_on_previous_grid on gpu.launch_func";
} // namespace

LogicalResult XLSTMDialect::verifyOperationAttribute(Operation *op,
                                                     NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  if (name == kGenericReasonAttr) {
    if (!isa<StringAttr>(attr.getValue()))
      return op->emitOpError() << "'" << name << "' must be a string";
    return success();
  }
  if (name == kWaitsOnPreviousGridAttr) {
    // (The GPU dialect is not a dependency here: checked by name.)
    if (!isa<UnitAttr>(attr.getValue()) ||
        op->getName().getStringRef() != "gpu.launch_func")
      return op->emitOpError()
             << "'" << name << "' must be a unit attribute on gpu.launch_func";
    return success();
  }
  if (name == kKernelChoiceAttr) {
    auto isChoice = [](Attribute a) {
      auto fields = dyn_cast<DictionaryAttr>(a);
      return fields && llvm::all_of(fields, [](NamedAttribute field) {
               return isa<StringAttr>(field.getValue());
             }) &&
             fields.get("family") && fields.get("kernel") &&
             fields.get("shape");
    };
    auto list = dyn_cast<ArrayAttr>(attr.getValue());
    if (list ? list.empty() || !llvm::all_of(list, isChoice)
             : !isChoice(attr.getValue()))
      return op->emitOpError()
             << "'" << name
             << "' must be a dictionary of strings with at least family, "
                "kernel and shape, or a non-empty array of them";
    return success();
  }
  if (name != kModelAttrName && name != kConfigAttrName)
    return op->emitOpError() << "has unknown attribute '" << name << "' ("
                             << kKnownAttributes << ")";
  if (!isa<ModuleOp>(op))
    return op->emitOpError() << "'" << name << "' belongs on the module";
  if (failed(expectName(op, attr, "the module")))
    return failure();
  StringRef value = cast<StringAttr>(attr.getValue()).getValue();
  if (name == kModelAttrName &&
      !llvm::is_contained({StringRef("xLSTMBlockStack"),
                           StringRef("xLSTMLMModel"), StringRef("xLSTMLarge")},
                          value))
    return op->emitOpError()
           << "'" << name << "' must be xLSTMBlockStack, xLSTMLMModel or "
           << "xLSTMLarge, got '" << value << "'";
  return success();
}

LogicalResult XLSTMDialect::verifyRegionArgAttribute(Operation *op, unsigned,
                                                     unsigned argIndex,
                                                     NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  std::string where = "argument " + std::to_string(argIndex);
  if (name == kInputAttrName || name == kParamAttrName ||
      name == kStateAttrName || name == kBufferAttrName)
    return expectName(op, attr, where);
  if (name == kAliasesAttrName) {
    auto aliases = dyn_cast<ArrayAttr>(attr.getValue());
    if (aliases && llvm::all_of(aliases, [](Attribute a) {
          auto s = dyn_cast<StringAttr>(a);
          return s && !s.getValue().empty();
        }))
      return success();
    return op->emitOpError()
           << "'" << name << "' on " << where
           << " must be an array of non-empty strings, got " << attr.getValue();
  }
  return op->emitOpError() << "has unknown attribute '" << name << "' on "
                           << where << " (" << kKnownAttributes << ")";
}

LogicalResult XLSTMDialect::verifyRegionResultAttribute(Operation *op, unsigned,
                                                        unsigned resultIndex,
                                                        NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  std::string where = "result " + std::to_string(resultIndex);
  if (name == kOutputAttrName || name == kStateAttrName)
    return expectName(op, attr, where);
  return op->emitOpError() << "has unknown attribute '" << name << "' on "
                           << where << " (" << kKnownAttributes << ")";
}
