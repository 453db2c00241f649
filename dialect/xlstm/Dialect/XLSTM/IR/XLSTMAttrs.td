//===- XLSTMAttrs.td - xlstm block configuration attributes -*- tablegen -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Block ops carry their configuration as one typed attribute each, so the IR
// says what it computes without the YAML it came from. Only fields that change
// the forward computation are here; training-only fields stay in the config.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_DIALECT_XLSTM_IR_XLSTMATTRS_TD
#define XLSTM_DIALECT_XLSTM_IR_XLSTMATTRS_TD

include "mlir/IR/AttrTypeBase.td"
include "xlstm/Dialect/XLSTM/IR/XLSTMDialect.td"
include "xlstm/Dialect/XLSTM/IR/XLSTMEnums.td"

class XLSTM_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<XLSTM_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def XLSTM_MLSTMLayerAttr : XLSTM_Attr<"MLSTMLayer", "mlstm_layer"> {
  let summary = "configuration of an mLSTM layer (xLSTM, mLSTMLayerConfig)";
  let description = [{
    `inner_dim` is the up-projected width (`_inner_embedding_dim`), split into
    `num_heads` heads for the cell and into `inner_dim / qkv_blocksize` blocks
    for the headwise q/k/v projections. `bias` adds biases to proj_up,
    proj_down and the q/k/v projections.

    ```mlir
    #xlstm.mlstm_layer<embedding_dim = 128, inner_dim = 256, num_heads = 4,
                       conv_kernel_size = 4, qkv_blocksize = 4, bias = false>
    ```
  }];
  let parameters = (ins "int64_t":$embedding_dim, "int64_t":$inner_dim,
                        "int64_t":$num_heads, "int64_t":$conv_kernel_size,
                        "int64_t":$qkv_blocksize, "::mlir::BoolAttr":$bias);
  let extraClassDeclaration = [{
    int64_t getHeadDim() const { return getInnerDim() / getNumHeads(); }
  }];
}

def XLSTM_FeedForwardAttr : XLSTM_Attr<"FeedForward", "ffn"> {
  let summary = "configuration of a gated feed-forward (FeedForwardConfig)";
  let description = [{
    `y = (act(x W_gate^T) * (x W_up^T)) W_down^T` with an inner width of
    `proj_dim` (the rounded `_proj_up_dim`).

    ```mlir
    #xlstm.ffn<proj_dim = 192, act = gelu, bias = false>
    ```
  }];
  let parameters = (ins "int64_t":$proj_dim,
                        EnumParameter<XLSTM_ActivationAttr>:$act,
                        "::mlir::BoolAttr":$bias);
}

def XLSTM_SLSTMLayerAttr : XLSTM_Attr<"SLSTMLayer", "slstm_layer"> {
  let summary = "configuration of an sLSTM layer and its optional FFN";
  let description = [{
    `conv_kernel_size = 0` means no causal conv. `layout` is the storage
    layout of `_recurrent_kernel_` and `_bias_` in the checkpoint (upstream's
    `backend` field). `feedforward` is absent when the block has no FFN.

    ```mlir
    #xlstm.slstm_layer<embedding_dim = 128, num_heads = 4,
        conv_kernel_size = 4, group_norm_weight = true, layout = cuda,
        function = slstm,
        feedforward = #xlstm.ffn<proj_dim = 192, act = gelu, bias = false>>
    ```
  }];
  let parameters = (ins "int64_t":$embedding_dim, "int64_t":$num_heads,
                        "int64_t":$conv_kernel_size,
                        "::mlir::BoolAttr":$group_norm_weight,
                        EnumParameter<XLSTM_SLSTMLayoutAttr>:$layout,
                        EnumParameter<XLSTM_SLSTMFunctionAttr>:$function,
                        OptionalParameter<"FeedForwardAttr">:$feedforward);
  let extraClassDeclaration = [{
    int64_t getHeadDim() const { return getEmbeddingDim() / getNumHeads(); }
  }];
}

def XLSTM_LargeBlockAttr : XLSTM_Attr<"LargeBlock", "large_block"> {
  let summary = "configuration of an xLSTM-7B block (xLSTMLargeConfig)";
  let description = [{
    An mLSTM sub-block at model width (q, k at `qk_dim`, v and the output gate
    at `v_dim`, `num_heads` heads) followed by a SwiGLU FFN of width
    `ffn_dim`. `norm_eps` is used by the RMSNorms and the per-head norm, `eps`
    by the mLSTM denominator; `gate_soft_cap` caps the gate pre-activations.

    ```mlir
    #xlstm.large_block<embedding_dim = 4096, num_heads = 8, qk_dim = 2048,
        v_dim = 4096, ffn_dim = 10944, use_bias = false,
        norm_eps = 1.000000e-06 : f64, eps = 1.000000e-06 : f64,
        gate_soft_cap = 1.500000e+01 : f64, weight_mode = single>
    ```
  }];
  let parameters = (ins "int64_t":$embedding_dim, "int64_t":$num_heads,
                        "int64_t":$qk_dim, "int64_t":$v_dim, "int64_t":$ffn_dim,
                        "::mlir::BoolAttr":$use_bias,
                        "::mlir::FloatAttr":$norm_eps, "::mlir::FloatAttr":$eps,
                        "::mlir::FloatAttr":$gate_soft_cap,
                        EnumParameter<XLSTM_WeightModeAttr>:$weight_mode);
  let extraClassDeclaration = [{
    int64_t getQKHeadDim() const { return getQkDim() / getNumHeads(); }
    int64_t getVHeadDim() const { return getVDim() / getNumHeads(); }
  }];
}

#endif // XLSTM_DIALECT_XLSTM_IR_XLSTMATTRS_TD
