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
  Linalg,   ///< then xlstm-lower-to-linalg: upstream tensor IR only
};

struct ReferenceOptions {
  PipelineLevel level = PipelineLevel::Expanded;
  int64_t chunkSize = 64; ///< for PipelineLevel::Tiled and Linalg
};

class ReferenceModel {
public:
  /// Builds and lowers the model; errors are emitted through `context`.
  static mlir::FailureOr<ReferenceModel>
  create(mlir::MLIRContext &context, const config::ModelSpec &spec,
         const ReferenceOptions &options);
  /// The same from graph-level IR built earlier (e.g. the IR a bundle
  /// carries); the module must have @forward and @step as the frontend
  /// emits them.
  static mlir::FailureOr<ReferenceModel>
  fromModule(mlir::OwningOpRef<mlir::ModuleOp> module,
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

  /// Output and recurrent state of one call.
  struct Result {
    Tensor output;
    std::vector<Tensor> states; ///< in stateNames() order
  };

  /// Runs @forward on `input` (x (B, S, E) or tokens (B, S)) from a zero
  /// state. Shape problems are reported as an Error naming the expected
  /// shape.
  llvm::Expected<Result> forward(const Tensor &input);
  /// Runs @step on one position (x (B, 1, E) or tokens (B, 1)) from `states`.
  llvm::Expected<Result> step(const Tensor &input,
                              llvm::ArrayRef<Tensor> states);
  /// Zero states for a batch of `batch`.
  std::vector<Tensor> zeroStates(int64_t batch) const;
  /// "blocks.<i>.<conv|C|n|m|h|c>" per state tensor.
  llvm::ArrayRef<std::string> stateNames() const { return stateNameList; }

private:
  ReferenceModel() = default;

  mlir::OwningOpRef<mlir::ModuleOp> moduleOp;
  std::vector<weights::ParamDesc> paramDescs;
  weights::ParamValues paramValues;
  llvm::Expected<Result> call(llvm::StringRef function, const Tensor &input,
                              llvm::ArrayRef<Tensor> states);

  std::string input, output;
  std::vector<std::string> stateNameList;
  std::vector<llvm::SmallVector<int64_t, 4>> stateShapes; ///< batch dynamic
};

/// Parses graph IR that came from a file (a bundle's graph.mlir). Parse
/// errors are reported through the context's diagnostics; so is a crash of
/// MLIR's parser, which some malformed ops cause (upstream's
/// linalg.transpose parser segfaults on an out-of-range permutation after
/// reporting it): the parse runs under llvm::CrashRecoveryContext, so bad
/// input is an error, never a crash. Returns null on either.
mlir::OwningOpRef<mlir::ModuleOp> parseModelIR(llvm::StringRef text,
                                               llvm::StringRef name,
                                               mlir::MLIRContext &context);

} // namespace xlstm::reference

#endif // XLSTM_REFERENCE_REFERENCEMODEL_H
