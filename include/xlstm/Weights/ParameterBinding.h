//===- ParameterBinding.h - Checkpoint tensors by upstream name -*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Binds the parameters a compiled model expects (name, shape, aliases, in
// @forward argument order) to the tensors of a safetensors file, creates
// them with the upstream initialisation schemes, and writes them back.
// LLVM Support and the config layer only (no MLIR).
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_WEIGHTS_PARAMETERBINDING_H
#define XLSTM_WEIGHTS_PARAMETERBINDING_H

#include "xlstm/Config/ModelSpec.h"
#include "xlstm/Weights/Safetensors.h"

namespace xlstm::weights {

/// One parameter a model expects: its upstream state_dict name, its shape,
/// and other names that may carry the same tensor (tied embeddings, the HF
/// spelling of the xLSTM-7B embedding).
struct ParamDesc {
  std::string name;
  llvm::SmallVector<int64_t, 4> shape;
  llvm::SmallVector<std::string, 1> aliases;
};

/// Parameter values as float64, one vector per ParamDesc, row-major.
using ParamValues = std::vector<std::vector<double>>;

/// Binds every parameter of `params` to a tensor of `file` (by name or
/// alias), converting the dtype and bringing sLSTM `_recurrent_kernel_` /
/// `_bias_` tensors into `modelLayout` when the file's `slstm_layout`
/// metadata says they are stored in the other one (no metadata: the file is
/// assumed to be in `modelLayout`). All problems are reported together, each
/// naming the tensor with expected and found shape/dtype: missing tensors,
/// unexpected tensors, wrong shapes, non-float dtypes, tied copies that
/// differ.
llvm::Expected<ParamValues> bindParameters(llvm::ArrayRef<ParamDesc> params,
                                           const SafetensorsFile &file,
                                           config::SLSTMBackend modelLayout);

/// Creates parameters with the upstream initialisation schemes of
/// shared/spec/xlstm-architecture.md §d (original models, as after
/// `reset_parameters()`) and xlstm-large-7b.md §7 (xLSTM-7B, the HF
/// paper-style init). Deterministic for a given seed on every platform.
ParamValues initParameters(const config::ModelSpec &spec,
                           llvm::ArrayRef<ParamDesc> params, uint64_t seed);

/// The sLSTM recurrent-kernel/bias layout a model's checkpoints use by
/// default: its config's `backend` (cuda when the model has no sLSTM).
config::SLSTMBackend checkpointLayout(const config::ModelSpec &spec);

/// The parameters of `params` from the safetensors file `path` (bound by
/// name, in `checkpointLayout(spec)` unless the file says otherwise) or,
/// when `path` is empty, upstream's init from `seed` rounded to float32 as
/// upstream creates them (so that a saved copy reloads exactly).
llvm::Expected<ParamValues>
loadOrInitParameters(const config::ModelSpec &spec,
                     llvm::ArrayRef<ParamDesc> params, llvm::StringRef path,
                     uint64_t seed);

/// Writes parameters under their upstream names (aliases are not written:
/// tied tensors are stored once), with metadata `slstm_layout` set to
/// `layout` and `format` = "pt".
llvm::Error writeParameters(llvm::StringRef path,
                            llvm::ArrayRef<ParamDesc> params,
                            const ParamValues &values, DType dtype,
                            config::SLSTMBackend layout);

/// Converts an sLSTM recurrent kernel / bias between the two storage
/// layouts (spec §b.6). `numHeads` and `headDim` describe the layer.
std::vector<double> convertRecurrentKernel(llvm::ArrayRef<double> kernel,
                                           int64_t numHeads, int64_t headDim,
                                           config::SLSTMBackend from,
                                           config::SLSTMBackend to);
std::vector<double> convertSLSTMBias(llvm::ArrayRef<double> bias,
                                     int64_t numHeads, int64_t headDim,
                                     config::SLSTMBackend from,
                                     config::SLSTMBackend to);

} // namespace xlstm::weights

#endif // XLSTM_WEIGHTS_PARAMETERBINDING_H
