//===- Passes.td - xlstm dialect transformations ------------*- tablegen -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_DIALECT_XLSTM_TRANSFORMS_PASSES_TD
#define XLSTM_DIALECT_XLSTM_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def XLSTMExpandBlocksPass : Pass<"xlstm-expand-blocks"> {
  let summary = "Rewrite block ops into layer ops and primitives";
  let description = [{
    Replaces `xlstm.mlstm_block`, `xlstm.slstm_block`, `xlstm.large_block` and
    `xlstm.lm_head` by what they compute (spec xlstm-architecture §b,
    xlstm-large-7b §2): norms, projections (`linalg.contract`), the causal
    conv, headwise projections, the recurrence ops, the FFN and elementwise
    epilogues (`linalg.generic`), with tensor reshapes and slices in between.
    Checkpoint layouts are resolved here: the sLSTM recurrent kernel and bias
    are brought from their stored layout into the (NH, DH, 4, DH) / (NH, 4, DH)
    form `xlstm.slstm` takes, fused xLSTM-7B projections are sliced apart.
    The sLSTM recurrence comes out in its per-step form (an `scf.for` of
    `xlstm.slstm_step`); `xlstm-fuse-slstm-steps` fuses it.
  }];
  let options = [
    Option<"largeCellF32", "large-cell-f32", "bool", /*default=*/"true",
           "xLSTM-7B blocks in bf16/f16 programs: q, k and v of the mLSTM "
           "cell in float32 (its intra-chunk denominators are sensitive to "
           "their rounding); off: in the activations' type, as upstream's "
           "bf16 model and TFLA's kernels take them">,
    Option<"gateParts", "gate-parts", "bool", /*default=*/"true",
           "mLSTM blocks whose q, k and v are multiples of 32 wide: the "
           "input and forget gate pre-activations, projections of "
           "cat(q, k, v), as the sum of each part's product with its columns "
           "of the gate weight, so that the concatenation is never copied">,
    Option<"gateBiasFirst", "gate-bias-first", "bool", /*default=*/"true",
           "With gate-parts: each gate's bias added to its first part's "
           "sum, which the later parts add to, so that the first "
           "projection's kernels store it with the bias (no elementwise "
           "pass over the finished sum); off: the bias added last">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def XLSTMTileMLSTMChunkwisePass : Pass<"xlstm-tile-mlstm-chunkwise"> {
  let summary = "Rewrite the mLSTM recurrence into its chunkwise form";
  let description = [{
    Replaces every `xlstm.mlstm` by `xlstm.mlstm_chunk_states` (the
    recurrence over chunk boundaries, sequential in the number of chunks) and
    `xlstm.mlstm_chunk_outputs` (all chunks in parallel), the form the GPU
    kernels implement (spec mlstm-kernels-algorithms §3). Any sequence length
    works: the last chunk may be shorter. Initial and final states carry over;
    chunk states are float32 (float64 for float64 inputs). With
    `narrow-entering-states`, the states entering each chunk (C, the largest
    intermediate: batch x heads x chunks x DHQK x DHV) are stored in bf16
    where k and v are both bf16 (f16's range could overflow; a step
    program's single chunk keeps float32), as TFLA stores them: the
    scan still carries C in float32, and the chunk outputs multiply q by it
    on 16-bit tensor cores; n, m and the final state stay float32.
  }];
  let options = [
    Option<"chunkSize", "chunk-size", "int64_t", /*default=*/"64",
           "Positions per chunk (larger: fewer stored states, more intra-chunk work)">,
    Option<"narrowEnteringStates", "narrow-entering-states", "bool",
           /*default=*/"true",
           "Entering C states in bf16 where k and v are both bf16">
  ];
}

def XLSTMFuseSLSTMStepsPass : Pass<"xlstm-fuse-slstm-steps"> {
  let summary = "Fuse a per-step sLSTM loop into one recurrence op";
  let description = [{
    Matches the loop `xlstm-expand-blocks` emits — an `scf.for` over the
    whole sequence whose body slices the four gate inputs at the induction
    variable, applies one `xlstm.slstm_step` to the carried state and inserts
    the new hidden state into the output — and replaces it by a single
    `xlstm.slstm` over all steps, the unit the GPU backend turns into one
    persistent kernel. Zero initial states are dropped (the op's default).
    Loops of any other shape are left alone.
  }];
}

def XLSTMLowerToLinalgPass : Pass<"xlstm-lower-to-linalg"> {
  let summary = "Rewrite the remaining xlstm ops into linalg, tensor and scf";
  let description = [{
    The first step of the GPU path: after `xlstm-expand-blocks`,
    `xlstm-tile-mlstm-chunkwise` and `xlstm-fuse-slstm-steps`, replaces every
    remaining xlstm op (norms, soft cap, headwise projections, causal conv,
    gated FFN, embedding, the chunk-state scan, the chunk outputs, the sLSTM
    recurrence and its step) by upstream tensor-level IR: `linalg.generic`
    with float32 math (float64 stays float64) for any storage type,
    reductions over the last dimension, `tensor` slices and reshapes, and
    `scf.for` over chunks and time steps. Contractions into bf16/f16 are
    rewritten to accumulate in float32 and round once. The result computes
    the same values (the float64 evaluator checks it) and contains no xlstm
    ops; an op that needs an earlier pass is an error.

    ```mlir
    %y = xlstm.soft_cap %x cap 1.500000e+01 : tensor<?x?x2xf32>
    // becomes
    %y = linalg.generic {...} ins(%x : tensor<?x?x2xf32>) outs(%e : ...) {
    ^bb0(%in: f32, %out: f32):
      %d = arith.divf %in, %cap : f32
      %t = math.tanh %d : f32
      %r = arith.mulf %cap, %t : f32
      linalg.yield %r : f32
    } -> tensor<?x?x2xf32>
    ```
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

#endif // XLSTM_DIALECT_XLSTM_TRANSFORMS_PASSES_TD
