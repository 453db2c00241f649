//===- XLSTMOps.td - xlstm operations ----------------------*- tablegen -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_DIALECT_XLSTM_IR_XLSTMOPS_TD
#define XLSTM_DIALECT_XLSTM_IR_XLSTMOPS_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/BuiltinAttributes.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "xlstm/Dialect/XLSTM/IR/XLSTMDialect.td"
include "xlstm/Dialect/XLSTM/IR/XLSTMEnums.td"
include "xlstm/Dialect/XLSTM/IR/XLSTMAttrs.td"

def XLSTM_FloatTensor : RankedTensorOf<[AnyFloat]>;
def XLSTM_IntTensor : RankedTensorOf<[AnySignlessInteger]>;

def XLSTM_FloatNonNegative : AttrConstraint<
    CPred<"::llvm::cast<::mlir::FloatAttr>($_self).getValueAsDouble() >= 0.0">,
    "whose value is non-negative">;
def XLSTM_FloatPositive : AttrConstraint<
    CPred<"::llvm::cast<::mlir::FloatAttr>($_self).getValueAsDouble() > 0.0">,
    "whose value is positive">;
def XLSTM_Eps : ConfinedAttr<F64Attr, [XLSTM_FloatNonNegative]>;

//===----------------------------------------------------------------------===//
// Graph level: blocks, embedding, LM head
//===----------------------------------------------------------------------===//

// A block op takes the block input and its checkpoint tensors in upstream
// state_dict order; the config attribute fixes which tensors and shapes.
// The recurrent state is optional on both sides: `state(...)` continues from
// a given state (zeros when absent) and final-state results return the state
// after the last position; getStateSpecs() lists the tensors.
class XLSTM_BlockOp<string mnemonic, Attr configAttr>
    : XLSTM_Op<mnemonic, [Pure, AttrSizedOperandSegments,
                          AllTypesMatch<["input", "result"]>]> {
  let arguments = (ins XLSTM_FloatTensor:$input,
                       Variadic<XLSTM_FloatTensor>:$params,
                       Variadic<XLSTM_FloatTensor>:$state,
                       configAttr:$config);
  let results = (outs XLSTM_FloatTensor:$result,
                      Variadic<XLSTM_FloatTensor>:$final_state);
  let assemblyFormat = [{
    $input `config` qualified($config) `params` `(` $params `)`
    (`state` `(` $state^ `)`)? attr-dict `:` type($input) `,`
    `(` type($params) `)` (`,` `state` `(` type($state)^ `)`)?
    (`->` `state` `(` type($final_state)^ `)`)?
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Names (relative to the block, upstream state_dict spelling) and shapes
    /// of the parameters this block takes, in operand order.
    ::llvm::SmallVector<::xlstm::ParamSpec> getParamSpecs();
    /// The parameter operand with the given relative name; null when this
    /// configuration lacks a parameter others have (a bias); a fatal error
    /// for a name no configuration of the block kind has (a misspelling).
    ::mlir::Value getParam(::llvm::StringRef name);
    /// Names and shapes (batch dynamic) of the recurrent state, in order.
    ::llvm::SmallVector<::xlstm::ParamSpec> getStateSpecs();
  }];
}

def XLSTM_MLSTMBlockOp : XLSTM_BlockOp<"mlstm_block", XLSTM_MLSTMLayerAttr> {
  let summary = "pre-norm residual mLSTM block of the original xLSTM";
  let description = [{
    `y = x + mLSTMLayer(LayerNorm(x))` (spec xlstm-architecture §b.2, §b.4):
    up-projection, causal conv + SiLU, headwise q/k/v, gates from
    concat(q, k, v), the mLSTM cell, per-head norm, learnable skip, SiLU(z)
    output gate and down-projection. `params` are, in order: xlstm_norm.weight,
    xlstm.learnable_skip, xlstm.proj_up.weight [.bias], xlstm.{q,k,v}_proj.weight
    [.bias], xlstm.conv1d.conv.{weight,bias}, xlstm.mlstm_cell.{igate,fgate}.
    {weight,bias}, xlstm.mlstm_cell.outnorm.weight, xlstm.proj_down.weight
    [.bias]; bracketed ones exist when the config has `bias = true`.
    `xlstm-expand-blocks` rewrites it into layer ops.

    ```mlir
    %y = xlstm.mlstm_block %x
        config #xlstm.mlstm_layer<embedding_dim = 128, inner_dim = 256,
            num_heads = 4, conv_kernel_size = 4, qkv_blocksize = 4,
            bias = false>
        params(%p0, %p1, ...)
        : tensor<?x?x128xf32>, (tensor<128xf32>, tensor<256xf32>, ...)
    ```
  }];
}

def XLSTM_SLSTMBlockOp : XLSTM_BlockOp<"slstm_block", XLSTM_SLSTMLayerAttr> {
  let summary = "pre-norm residual sLSTM block with its optional gated FFN";
  let description = [{
    `x = x + sLSTMLayer(LayerNorm(x))`, then, with a feed-forward,
    `x = x + GatedFFN(LayerNorm(x))` (spec §b.5-§b.7). `params` are, in order:
    xlstm_norm.weight, xlstm.conv1d.conv.{weight,bias} (when
    conv_kernel_size > 0), xlstm.{fgate,igate,zgate,ogate}.weight,
    xlstm.slstm_cell._recurrent_kernel_, xlstm.slstm_cell._bias_ (in the
    config's layout), xlstm.group_norm.weight (when group_norm_weight), then
    ffn_norm.weight, ffn.proj_up.weight [.bias], ffn.proj_down.weight [.bias].
    Note the upstream quirk kept for checkpoint compatibility: the tensor
    named `fgate` produces the input gate and `igate` the forget gate.

    ```mlir
    %y = xlstm.slstm_block %x
        config #xlstm.slstm_layer<embedding_dim = 128, num_heads = 4,
            conv_kernel_size = 4, group_norm_weight = true, layout = cuda,
            function = slstm,
            feedforward = #xlstm.ffn<proj_dim = 192, act = gelu, bias = false>>
        params(%p0, ...)
        : tensor<?x?x128xf32>, (tensor<128xf32>, ...)
    ```
  }];
}

def XLSTM_LargeBlockOp : XLSTM_BlockOp<"large_block", XLSTM_LargeBlockAttr> {
  let summary = "xLSTM-7B block: mLSTM sub-block and SwiGLU FFN";
  let description = [{
    spec xlstm-large-7b §2: RMSNorm, q/k/v/output-gate projections, soft-capped
    gate pre-activations, the mLSTM cell (query-scaled), per-head norm,
    sigmoid output gate, out_proj and residual; then RMSNorm, SwiGLU FFN and
    residual. `params` are the `backbone.blocks.{b}.` tensors of the
    checkpoint in state_dict order; `weight_mode = fused` takes the
    concatenated `qkv_opreact`, `ifgate_preact` and `proj_up_gate_z` instead.

    ```mlir
    %y = xlstm.large_block %x
        config #xlstm.large_block<embedding_dim = 256, num_heads = 2,
            qk_dim = 128, v_dim = 256, ffn_dim = 704, use_bias = false,
            norm_eps = 1.000000e-06 : f64, eps = 1.000000e-06 : f64,
            gate_soft_cap = 1.500000e+01 : f64, weight_mode = single>
        params(%p0, ...)
        : tensor<?x?x256xf32>, (tensor<256xf32>, ...)
    ```
  }];
}

def XLSTM_EmbeddingOp : XLSTM_Op<"embedding", [Pure]> {
  let summary = "token embedding lookup";
  let description = [{
    `result[b, s, :] = table[tokens[b, s], :]`, converted to the result's
    element type (a bf16 table can start a float32 residual stream). A token
    outside `[0, vocab_size)` is an error at run time, never an
    out-of-bounds read.

    ```mlir
    %e = xlstm.embedding %tokens, %table
        : (tensor<?x?xi64>, tensor<1024x128xf32>) -> tensor<?x?x128xf32>
    ```
  }];
  let arguments = (ins XLSTM_IntTensor:$tokens, XLSTM_FloatTensor:$table);
  let results = (outs XLSTM_FloatTensor:$result);
  let assemblyFormat = [{
    $tokens `,` $table attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def XLSTM_LMHeadOp : XLSTM_Op<"lm_head", [Pure]> {
  let summary = "output projection to vocabulary logits, optionally soft-capped";
  let description = [{
    `logits = x W^T` with `W` of shape (vocab, E), no bias; with `soft_cap = c`
    the result is `c * tanh(logits / c)` (xLSTM-7B uses 30). The products
    accumulate in float32; the result may be wider than the input (float32
    logits from bf16 activations and weights).

    ```mlir
    %l = xlstm.lm_head %x, %w {soft_cap = 3.000000e+01 : f64}
        : (tensor<?x?x256xf32>, tensor<512x256xf32>) -> tensor<?x?x512xf32>
    ```
  }];
  let arguments = (ins XLSTM_FloatTensor:$input, XLSTM_FloatTensor:$weight,
                       OptionalAttr<ConfinedAttr<F64Attr, [XLSTM_FloatPositive]>>:$soft_cap);
  let results = (outs XLSTM_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Gated recurrences
//===----------------------------------------------------------------------===//

def XLSTM_MLSTMOp : XLSTM_Op<"mlstm", [Pure]> {
  let summary = "mLSTM cell: matrix memory with exponential input gate";
  let description = [{
    Runs the stabilised mLSTM recurrence over the sequence for every batch
    row and head (spec xlstm-architecture §b.3, xlstm-large-7b §3):

    ```
    m_t = max(logsigmoid(f_t) + m_{t-1}, i_t)
    C_t = exp(logsigmoid(f_t) + m_{t-1} - m_t) C_{t-1} + exp(i_t - m_t) k_t v_t^T
    n_t = (same) n_{t-1} + exp(i_t - m_t) k_t
    h_t = q_t^T C_t / (max(|q_t . n_t|, exp(-m_t)) + eps)
    ```

    with `s = 1/sqrt(DHQK)` applied to the keys (`qk_scaling = key`, original
    xLSTM: the state holds scaled keys) or to the queries (`qk_scaling =
    query`, xLSTM-7B). Shapes: q, k `(B, NH, S, DHQK)`, v `(B, NH, S, DHV)`,
    igate/fgate pre-activations `(B, NH, S)`, h `(B, NH, S, DHV)`. The optional
    initial state `(C, n, m)` has shapes `(B, NH, DHQK, DHV)`, `(B, NH, DHQK)`,
    `(B, NH)` and defaults to zeros; when the op has four results the last
    three are the final state in the same shapes.

    ```mlir
    %h, %c, %n, %m = xlstm.mlstm %q, %k, %v, %i, %f
        initial_state(%c0, %n0, %m0)
        {eps = 1.000000e-06 : f64, qk_scaling = #xlstm.qk_scaling<query>}
        : (...) -> (tensor<?x2x?x64xf32>, tensor<?x2x64x128xf32>,
                    tensor<?x2x64xf32>, tensor<?x2xf32>)
    ```
  }];
  let arguments = (ins XLSTM_FloatTensor:$q, XLSTM_FloatTensor:$k,
                       XLSTM_FloatTensor:$v, XLSTM_FloatTensor:$igate,
                       XLSTM_FloatTensor:$fgate,
                       Variadic<XLSTM_FloatTensor>:$initial_state,
                       XLSTM_QKScaling:$qk_scaling,
                       DefaultValuedAttr<XLSTM_Eps, "1.0e-6">:$eps);
  let results = (outs XLSTM_FloatTensor:$h,
                      Variadic<XLSTM_FloatTensor>:$final_state);
  let assemblyFormat = [{
    $q `,` $k `,` $v `,` $igate `,` $fgate
    (`initial_state` `(` $initial_state^ `)`)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def XLSTM_SLSTMOp : XLSTM_Op<"slstm", [Pure]> {
  let summary = "sLSTM cell: scalar memory with recurrent, head-wise mixing";
  let description = [{
    Runs the sLSTM recurrence over the sequence (spec xlstm-architecture
    §b.6). The gate pre-activations `igate, fgate, zgate, ogate` are the input
    contributions `(B, S, H)` with `H = NH * DH` head-major. Per step, the
    previous hidden state is mixed in per head:
    `raw_g[h, j] = gate_g[t, h*DH + j] + sum_i h_{t-1}[h, i] R[h, i, g, j] + b[h, g, j]`
    with `recurrent_kernel` R `(NH, DH, 4, DH)` and `bias` b `(NH, 4, DH)`,
    gate order i, f, z, o. `function = slstm` uses exponential gating with the
    stabiliser m and state (h, c, n, m); `function = lstm` the classic LSTM
    with state (h, c). Each state tensor is `(B, H)`; the optional initial
    state defaults to zeros and the optional final-state results follow
    `y (B, S, H)`, the hidden states before any norm.

    ```mlir
    %y = xlstm.slstm %i, %f, %z, %o, %r, %b
        {function = #xlstm.function<slstm>, num_heads = 4 : i64}
        : (tensor<?x?x128xf32>, tensor<?x?x128xf32>, tensor<?x?x128xf32>,
           tensor<?x?x128xf32>, tensor<4x32x4x32xf32>, tensor<4x4x32xf32>)
        -> tensor<?x?x128xf32>
    ```
  }];
  let arguments = (ins XLSTM_FloatTensor:$igate, XLSTM_FloatTensor:$fgate,
                       XLSTM_FloatTensor:$zgate, XLSTM_FloatTensor:$ogate,
                       XLSTM_FloatTensor:$recurrent_kernel,
                       XLSTM_FloatTensor:$bias,
                       Variadic<XLSTM_FloatTensor>:$initial_state,
                       ConfinedAttr<I64Attr, [IntPositive]>:$num_heads,
                       XLSTM_SLSTMFunction:$function);
  let results = (outs XLSTM_FloatTensor:$y,
                      Variadic<XLSTM_FloatTensor>:$final_state);
  let assemblyFormat = [{
    $igate `,` $fgate `,` $zgate `,` $ogate `,` $recurrent_kernel `,` $bias
    (`initial_state` `(` $initial_state^ `)`)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Number of state tensors: 4 (h, c, n, m) for slstm, 2 (h, c) for lstm.
    int64_t getNumStates() {
      return getFunction() == ::xlstm::SLSTMFunction::slstm ? 4 : 2;
    }
  }];
}

def XLSTM_MLSTMChunkStatesOp : XLSTM_Op<"mlstm_chunk_states", [Pure]> {
  let summary = "chunkwise mLSTM, part 1: the states at every chunk boundary";
  let description = [{
    The inter-chunk recurrence of the chunkwise mLSTM (spec
    mlstm-kernels-algorithms §3, kernel 1). The sequence is cut into
    `NC = ceil(S / chunk_size)` chunks; the last one may be shorter. With
    in-chunk cumulative log forget gates `b_l`, chunk total `g = b_{L-1}` and
    `a_l = g - b_l + i_l`, starting from the initial state (zeros if absent):

    ```
    m' = max(g + m, max_l a_l)
    C' = exp(g + m - m') C + sum_l exp(a_l - m') k_l v_l^T     (n' likewise)
    ```

    Results: the state entering each chunk `(B, NH, NC, DHQK, DHV)`,
    `(B, NH, NC, DHQK)`, `(B, NH, NC)`, then the state after the last chunk
    `(B, NH, DHQK, DHV)`, `(B, NH, DHQK)`, `(B, NH)`. `qk_scaling = key`
    scales the keys by 1/sqrt(DHQK) before they enter the state, like
    `xlstm.mlstm`.

    ```mlir
    %c, %n, %m, %cf, %nf, %mf = xlstm.mlstm_chunk_states %k, %v, %i, %f
        {chunk_size = 64 : i64, qk_scaling = #xlstm.qk_scaling<query>}
        : (tensor<?x8x?x256xbf16>, tensor<?x8x?x512xbf16>, tensor<?x8x?xf32>,
           tensor<?x8x?xf32>)
        -> (tensor<?x8x?x256x512xf32>, tensor<?x8x?x256xf32>, tensor<?x8x?xf32>,
            tensor<?x8x256x512xf32>, tensor<?x8x256xf32>, tensor<?x8xf32>)
    ```
  }];
  let arguments = (ins XLSTM_FloatTensor:$k, XLSTM_FloatTensor:$v,
                       XLSTM_FloatTensor:$igate, XLSTM_FloatTensor:$fgate,
                       Variadic<XLSTM_FloatTensor>:$initial_state,
                       ConfinedAttr<I64Attr, [IntPositive]>:$chunk_size,
                       XLSTM_QKScaling:$qk_scaling);
  let results = (outs XLSTM_FloatTensor:$chunk_c, XLSTM_FloatTensor:$chunk_n,
                      XLSTM_FloatTensor:$chunk_m, XLSTM_FloatTensor:$final_c,
                      XLSTM_FloatTensor:$final_n, XLSTM_FloatTensor:$final_m);
  let assemblyFormat = [{
    $k `,` $v `,` $igate `,` $fgate
    (`initial_state` `(` $initial_state^ `)`)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def XLSTM_MLSTMChunkOutputsOp : XLSTM_Op<"mlstm_chunk_outputs", [Pure]> {
  let summary = "chunkwise mLSTM, part 2: outputs of all chunks in parallel";
  let description = [{
    The intra-chunk outputs of the chunkwise mLSTM (spec
    mlstm-kernels-algorithms §3, kernel 2), independent across chunks. For row
    `l` of a chunk entering with state `(C, n, m)`:

    ```
    D_lj   = b_l - b_j + i_j (j <= l),  m_l = max(b_l + m, max_j D_lj)
    num_l  = exp(b_l + m - m_l) q_l^T C + sum_j (q_l . k_j) exp(D_lj - m_l) v_j
    den_l  = exp(b_l + m - m_l) q_l . n + sum_j (q_l . k_j) exp(D_lj - m_l)
    h_l    = num_l / (max(|den_l|, exp(-m_l)) + eps)
    ```

    with `1/sqrt(DHQK)` applied per `qk_scaling`. The chunk states are the
    first three results of `xlstm.mlstm_chunk_states`. Together the two ops
    compute exactly `xlstm.mlstm` up to where eps lands.

    ```mlir
    %h = xlstm.mlstm_chunk_outputs %q, %k, %v, %i, %f, %c, %n, %m
        {chunk_size = 64 : i64, qk_scaling = #xlstm.qk_scaling<query>}
        : (...) -> tensor<?x8x?x512xbf16>
    ```
  }];
  let arguments = (ins XLSTM_FloatTensor:$q, XLSTM_FloatTensor:$k,
                       XLSTM_FloatTensor:$v, XLSTM_FloatTensor:$igate,
                       XLSTM_FloatTensor:$fgate, XLSTM_FloatTensor:$chunk_c,
                       XLSTM_FloatTensor:$chunk_n, XLSTM_FloatTensor:$chunk_m,
                       ConfinedAttr<I64Attr, [IntPositive]>:$chunk_size,
                       XLSTM_QKScaling:$qk_scaling,
                       DefaultValuedAttr<XLSTM_Eps, "1.0e-6">:$eps);
  let results = (outs XLSTM_FloatTensor:$h);
  let assemblyFormat = [{
    $q `,` $k `,` $v `,` $igate `,` $fgate `,` $chunk_c `,` $chunk_n `,`
    $chunk_m attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def XLSTM_SLSTMStepOp : XLSTM_Op<"slstm_step", [Pure]> {
  let summary = "one time step of the sLSTM recurrence";
  let description = [{
    The update of `xlstm.slstm` for a single position: gate inputs `(B, H)`,
    the recurrent kernel `(NH, DH, 4, DH)`, the bias `(NH, 4, DH)` and the
    state (h, c, n, m) for `function = slstm` or (h, c) for `lstm`, each
    `(B, H)`; the results are the new state, whose first tensor is the step's
    output. `xlstm-expand-blocks` emits a loop of these (one launch per step,
    upstream's vanilla backend); `xlstm-fuse-slstm-steps` fuses the loop into
    one `xlstm.slstm`.

    ```mlir
    %h, %c, %n, %m = xlstm.slstm_step %i, %f, %z, %o, %r, %b
        state(%h0, %c0, %n0, %m0)
        {function = #xlstm.function<slstm>, num_heads = 4 : i64}
        : (...) -> (tensor<?x128xf32>, tensor<?x128xf32>, tensor<?x128xf32>,
                    tensor<?x128xf32>)
    ```
  }];
  let arguments = (ins XLSTM_FloatTensor:$igate, XLSTM_FloatTensor:$fgate,
                       XLSTM_FloatTensor:$zgate, XLSTM_FloatTensor:$ogate,
                       XLSTM_FloatTensor:$recurrent_kernel,
                       XLSTM_FloatTensor:$bias,
                       Variadic<XLSTM_FloatTensor>:$state,
                       ConfinedAttr<I64Attr, [IntPositive]>:$num_heads,
                       XLSTM_SLSTMFunction:$function);
  let results = (outs Variadic<XLSTM_FloatTensor>:$new_state);
  let assemblyFormat = [{
    $igate `,` $fgate `,` $zgate `,` $ogate `,` $recurrent_kernel `,` $bias
    `state` `(` $state `)` attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    int64_t getNumStates() {
      return getFunction() == ::xlstm::SLSTMFunction::slstm ? 4 : 2;
    }
  }];
}

//===----------------------------------------------------------------------===//
// Primitives
//===----------------------------------------------------------------------===//

def XLSTM_CausalConv1dOp : XLSTM_Op<"causal_conv1d",
    [Pure, AttrSizedOperandSegments, AllTypesMatch<["input", "result"]>]> {
  let summary = "causal depthwise 1-D convolution over the sequence";
  let description = [{
    `y[b, t, d] = bias[d] + sum_{k<K} w[d, k] * x[b, t - (K-1) + k, d]` with
    `x = 0` before the first step: every channel has its own kernel of width
    K, `w[d, K-1]` multiplies the current input. input `(B, S, D)`, weight
    `(D, K)`, optional bias `(D)`. The state is the `K - 1` inputs before
    the first position, `(B, K - 1, D)` oldest first: `initial_state` gives
    it (zeros when absent), a second result returns it after the last
    position.

    ```mlir
    %y, %s = xlstm.causal_conv1d %x, %w bias(%b) initial_state(%s0)
        : (tensor<?x?x256xf32>, tensor<256x4xf32>, tensor<256xf32>,
           tensor<?x3x256xf32>) -> (tensor<?x?x256xf32>, tensor<?x3x256xf32>)
    ```
  }];
  let arguments = (ins XLSTM_FloatTensor:$input, XLSTM_FloatTensor:$weight,
                       Optional<XLSTM_FloatTensor>:$bias,
                       Optional<XLSTM_FloatTensor>:$initial_state);
  let results = (outs XLSTM_FloatTensor:$result,
                      Optional<XLSTM_FloatTensor>:$final_state);
  let assemblyFormat = [{
    $input `,` $weight (`bias` `(` $bias^ `)`)?
    (`initial_state` `(` $initial_state^ `)`)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def XLSTM_HeadwiseLinearOp : XLSTM_Op<"headwise_linear", [Pure]> {
  let summary = "block-diagonal linear map (LinearHeadwiseExpand)";
  let description = [{
    The last dimension, `NB * I` wide, is split into `NB` contiguous blocks of
    `I` features, each mapped by its own `(O, I)` matrix:
    `y[..., h*O + o] = sum_i x[..., h*I + i] * W[h, o, i] + bias[h*O + o]`.
    weight `(NB, O, I)`, optional bias `(NB * O)`.

    ```mlir
    %q = xlstm.headwise_linear %x, %w
        : (tensor<?x?x256xf32>, tensor<64x4x4xf32>) -> tensor<?x?x256xf32>
    ```
  }];
  let arguments = (ins XLSTM_FloatTensor:$input, XLSTM_FloatTensor:$weight,
                       Optional<XLSTM_FloatTensor>:$bias);
  let results = (outs XLSTM_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`bias` `(` $bias^ `)`)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

// The result may have another float element type than the input: a float32
// residual stream normalised straight into a bf16 projection operand.
class XLSTM_NormOp<string mnemonic> : XLSTM_Op<mnemonic,
    [Pure, AttrSizedOperandSegments, AllShapesMatch<["input", "result"]>]> {
  let results = (outs XLSTM_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`weight` `(` $weight^ `)`)? (`bias` `(` $bias^ `)`)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def XLSTM_LayerNormOp : XLSTM_NormOp<"layer_norm"> {
  let summary = "LayerNorm over the last dimension (xLSTM's residual-weight form)";
  let description = [{
    `y = (x - mean) / sqrt(var + eps) * s + bias`, biased variance over the
    last dimension, with `s = 1 + w` for `scaling = one_plus_weight` (the
    original xLSTM stores the scale as an offset from one, eps 1e-5) or
    `s = w` for `scaling = weight`; no weight means `s = 1`.

    ```mlir
    %y = xlstm.layer_norm %x weight(%w)
        {eps = 1.000000e-05 : f64, scaling = #xlstm.norm_scaling<one_plus_weight>}
        : (tensor<?x?x128xf32>, tensor<128xf32>) -> tensor<?x?x128xf32>
    ```
  }];
  let arguments = (ins XLSTM_FloatTensor:$input,
                       Optional<XLSTM_FloatTensor>:$weight,
                       Optional<XLSTM_FloatTensor>:$bias,
                       XLSTM_Eps:$eps,
                       XLSTM_NormScaling:$scaling);
}

def XLSTM_MultiHeadNormOp : XLSTM_NormOp<"multihead_norm"> {
  let summary = "per-head LayerNorm (group norm with one group per head)";
  let description = [{
    The last dimension, `NH * DH` wide and head-major, is normalised per head
    over its DH values (biased variance, no affine per head), then scaled per
    channel like `xlstm.layer_norm`. Used for the mLSTM `outnorm`, the sLSTM
    `group_norm` and the xLSTM-7B `multihead_norm`.

    ```mlir
    %y = xlstm.multihead_norm %h weight(%w)
        {eps = 1.000000e-05 : f64, num_heads = 4 : i64,
         scaling = #xlstm.norm_scaling<one_plus_weight>}
        : (tensor<?x?x256xf32>, tensor<256xf32>) -> tensor<?x?x256xf32>
    ```
  }];
  let arguments = (ins XLSTM_FloatTensor:$input,
                       Optional<XLSTM_FloatTensor>:$weight,
                       Optional<XLSTM_FloatTensor>:$bias,
                       ConfinedAttr<I64Attr, [IntPositive]>:$num_heads,
                       XLSTM_Eps:$eps,
                       XLSTM_NormScaling:$scaling);
}

def XLSTM_RMSNormOp : XLSTM_NormOp<"rms_norm"> {
  let summary = "RMSNorm over the last dimension (xLSTM-7B)";
  let description = [{
    `y = x * rsqrt(mean(x^2) + eps) * w + bias`, reduced in float32 and
    rounded to the input type before the weight is applied.

    ```mlir
    %y = xlstm.rms_norm %x weight(%w) {eps = 1.000000e-06 : f64}
        : (tensor<?x?x256xf32>, tensor<256xf32>) -> tensor<?x?x256xf32>
    ```
  }];
  let arguments = (ins XLSTM_FloatTensor:$input,
                       Optional<XLSTM_FloatTensor>:$weight,
                       Optional<XLSTM_FloatTensor>:$bias,
                       XLSTM_Eps:$eps);
}

def XLSTM_SoftCapOp : XLSTM_Op<"soft_cap",
    [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "elementwise soft cap c * tanh(x / c)";
  let description = [{
    Bounds values smoothly to `(-cap, cap)`; xLSTM-7B caps gate
    pre-activations at 15 and logits at 30.

    ```mlir
    %y = xlstm.soft_cap %x cap 1.500000e+01 : tensor<?x?x2xf32>
    ```
  }];
  let arguments = (ins XLSTM_FloatTensor:$input,
                       ConfinedAttr<F64Attr, [XLSTM_FloatPositive]>:$cap);
  let results = (outs XLSTM_FloatTensor:$result);
  let assemblyFormat = "$input `cap` $cap attr-dict `:` type($input)";
}

def XLSTM_GatedFFNOp : XLSTM_Op<"gated_ffn",
    [Pure, AttrSizedOperandSegments, AllShapesMatch<["input", "result"]>]> {
  let summary = "gated feed-forward: (act(x Wg^T) * (x Wu^T)) Wd^T";
  let description = [{
    gate and up weights `(P, E)`, down weight `(E, P)`; the three biases
    `(P), (P), (E)` are all present or all absent. With `act = swish` this is
    SwiGLU (xLSTM-7B); the original sLSTM block uses GELU by default. The
    down projection accumulates in float32 and writes the result's element
    type, which may be wider than the input's (a float32 residual stream).

    ```mlir
    %y = xlstm.gated_ffn %x, %wg, %wu, %wd {act = #xlstm.act<gelu>}
        : (tensor<?x?x128xf32>, tensor<192x128xf32>, tensor<192x128xf32>,
           tensor<128x192xf32>) -> tensor<?x?x128xf32>
    ```
  }];
  let arguments = (ins XLSTM_FloatTensor:$input,
                       XLSTM_FloatTensor:$gate_weight,
                       XLSTM_FloatTensor:$up_weight,
                       XLSTM_FloatTensor:$down_weight,
                       Optional<XLSTM_FloatTensor>:$gate_bias,
                       Optional<XLSTM_FloatTensor>:$up_bias,
                       Optional<XLSTM_FloatTensor>:$down_bias,
                       XLSTM_Activation:$act);
  let results = (outs XLSTM_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $gate_weight `,` $up_weight `,` $down_weight
    (`biases` `(` $gate_bias^ `,` $up_bias `,` $down_bias `)`)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

#endif // XLSTM_DIALECT_XLSTM_IR_XLSTMOPS_TD
