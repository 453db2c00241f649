//===- ReferenceModel.h - A model config run on the float64 oracle -*- C++
//-*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Puts the pieces together for the reference device: config -> graph-level
// IR -> the chosen pipeline level -> parameters bound by upstream name ->
// float64 evaluation of @forward.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_REFERENCE_REFERENCEMODEL_H
#define XLSTM_REFERENCE_REFERENCEMODEL_H

#include "xlstm/Config/ModelSpec.h"
#include "xlstm/Reference/Tensor.h"
#include "xlstm/Weights/ParameterBinding.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace xlstm::reference {

/// How far the IR is lowered before it is evaluated.
enum class PipelineLevel {
  Graph,    ///< block ops as the frontend emits them
  Expanded, ///< after xlstm-expand-blocks
  Tiled,    ///< then xlstm-tile-mlstm-chunkwise and xlstm-fuse-slstm-steps
};

struct ReferenceOptions {
  PipelineLevel level = PipelineLevel::Expanded;
  int64_t chunkSize = 64; ///< for PipelineLevel::Tiled
};

class ReferenceModel {
public:
  /// Builds and lowers the model; errors are emitted through `context`.
  static mlir::FailureOr<ReferenceModel>
  create(mlir::MLIRContext &context, const config::ModelSpec &spec,
         const ReferenceOptions &options);

  /// The parameters @forward takes, in argument order.
  llvm::ArrayRef<weights::ParamDesc> params() const { return paramDescs; }
  /// Name of the model input ("x" or "tokens") and output ("y"/"logits").
  llvm::StringRef inputName() const { return input; }
  llvm::StringRef outputName() const { return output; }
  mlir::ModuleOp module() { return *moduleOp; }

  /// Sets the parameter values (one per params() entry, row-major).
  void setParameters(weights::ParamValues values) {
    paramValues = std::move(values);
  }

  /// Runs @forward on `input` (x (B, S, E) or tokens (B, S)). Shape problems
  /// are reported as an Error naming the expected shape.
  llvm::Expected<Tensor> forward(const Tensor &input);

private:
  ReferenceModel() = default;

  const config::ModelSpec *spec = nullptr;
  mlir::OwningOpRef<mlir::ModuleOp> moduleOp;
  std::vector<weights::ParamDesc> paramDescs;
  weights::ParamValues paramValues;
  std::string input, output;
};

} // namespace xlstm::reference

#endif // XLSTM_REFERENCE_REFERENCEMODEL_H
