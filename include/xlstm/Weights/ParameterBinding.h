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
#include "xlstm/Weights/Checkpoint.h"
#include "xlstm/Weights/Safetensors.h"

#include <optional>

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

/// Where one parameter's values lie in a checkpoint: `count` elements from
/// element `offset` of `tensor` (all of it, or a row range of a fused
/// tensor), in the tensor's stored dtype, possibly in the other sLSTM
/// layout. Points into the checkpoint, which must outlive it.
struct BoundTensor {
  const TensorView *tensor = nullptr;
  int64_t offset = 0, count = 0;
  /// An sLSTM recurrent kernel or bias stored in the other layout.
  struct LayoutChange {
    bool isKernel;
    int64_t numHeads, headDim;
    config::SLSTMBackend from, to;
  };
  std::optional<LayoutChange> layoutChange;

  /// The stored bytes (before any layout change).
  llvm::ArrayRef<uint8_t> bytes() const;
  std::vector<double> toF64() const;
  /// Writes the values as `dtype` into `out` (count * elementSize(dtype)
  /// bytes), converting straight from the stored dtype.
  void encode(DType dtype, llvm::MutableArrayRef<uint8_t> out) const;
  /// Drops the stored bytes' pages from memory (see releasePages).
  void releasePages() const { weights::releasePages(*tensor, bytes()); }
};

/// Binds every parameter of `params` to the tensors of `checkpoint`, one
/// BoundTensor per parameter, without reading any data but tied copies.
/// A parameter is found under its name, its aliases, the Hugging Face
/// spelling (`backbone.embeddings.weight` for `embedding.weight`), or as
/// its rows of a weight_mode "fused" tensor (`qkv_opreact` = q, k, v,
/// ogate_preact; `ifgate_preact` = igate, fgate; `proj_up_gate_z` =
/// proj_up_gate, proj_up). sLSTM `_recurrent_kernel_` / `_bias_` tensors
/// are brought into `modelLayout` when the file's `slstm_layout` metadata
/// says they are stored in the other one (no metadata: the file is assumed
/// to be in `modelLayout`). All problems are reported together, each naming
/// the file (the shard, for sharded checkpoints) and the tensor with
/// expected and found shape/dtype: missing tensors, unexpected tensors,
/// wrong shapes, non-float dtypes, tied copies that differ.
llvm::Expected<std::vector<BoundTensor>>
bindCheckpoint(llvm::ArrayRef<ParamDesc> params, const Checkpoint &checkpoint,
               config::SLSTMBackend modelLayout);

/// bindCheckpoint, then every value as float64 (for the reference device).
llvm::Expected<ParamValues> bindParameters(llvm::ArrayRef<ParamDesc> params,
                                           const Checkpoint &checkpoint,
                                           config::SLSTMBackend modelLayout);
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

/// The parameters of `params` from the checkpoint `path` (Checkpoint::open:
/// a file, an index or a folder; bound by
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
