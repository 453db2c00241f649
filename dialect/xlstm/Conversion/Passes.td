//===- Passes.td - From tensor IR to GPU kernels ------------*- tablegen -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_CONVERSION_PASSES_TD
#define XLSTM_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def XLSTMBufferizePass : Pass<"xlstm-bufferize", "::mlir::ModuleOp"> {
  let summary = "Bufferize the model functions for the GPU path";
  let description = [{
    One-Shot bufferization of the whole module with the choices the GPU
    path and the runtime's host programs rely on: function boundaries are
    bufferized with identity layouts (arguments and results are dense
    device buffers), loops may yield fresh buffers (the chunk and time-step
    loops do), and every copy is a `linalg.copy`, so that copies become
    kernels like everything else instead of host-side memcpys of strided
    views.

    ```mlir
    func.func @forward(%x: tensor<?x128xf32>) -> tensor<?x128xf32>
    // becomes
    func.func @forward(%x: memref<?x128xf32>) -> memref<?x128xf32>
    ```

    With `reuse-dead-inputs` (the default), a residual add `r + y` (an
    all-parallel `linalg.generic` adding its two inputs into a
    `tensor.empty`, y a `linalg.contract`'s result) takes r as its init
    where r is a tensor of its own that no later op reads, made in the same
    block: the sum is written over r's buffer, `r = r + y` in place, which
    `xlstm-contract-to-mma accumulate-residuals` folds into y's projection.

    ```mlir
    %y = linalg.contract ... outs(%zero : tensor<?x128xf32>)
    %s = linalg.generic {identity maps} ins(%r, %y : ...) outs(%empty : ...)
    // becomes
    %s = linalg.generic {identity maps} ins(%r, %y : ...) outs(%r : ...)
    ```
  }];
  let options = [
    Option<"reuseDeadInputs", "reuse-dead-inputs", "bool", /*default=*/"true",
           "A residual add r + y of a projection's y writes over r where "
           "no later op reads r (made in the same block) instead of a new "
           "buffer">
  ];
  let dependentDialects = [
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::memref::MemRefDialect"
  ];
}

def XLSTMMapParallelLoopsPass : Pass<"xlstm-map-parallel-loops"> {
  let summary = "Map every outermost scf.parallel to a 1-D GPU grid";
  let description = [{
    Prepares the loops `convert-linalg-to-parallel-loops` makes for
    `convert-parallel-loops-to-gpu`: each outermost `scf.parallel` is
    collapsed into one dimension (consecutive threads take consecutive
    elements of the innermost dimension, so accesses coalesce), tiled by the
    block size with a bounds guard instead of min/max bounds (block sizes
    stay static while the trip count is dynamic), and mapped: tiles to
    `block_x`, elements to `thread_x`. Reductions stay as sequential loops
    inside each thread.

    ```mlir
    scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c128) step (%c1, %c1) {...}
    // becomes, with block-size=256, a loop over ceil(n*128/256) blocks of
    // 256 threads with {mapping = [#gpu.loop_dim_map<processor = block_x ...>]}
    ```
  }];
  let options = [
    Option<"blockSize", "block-size", "int64_t", /*default=*/"256",
           "Threads per block">
  ];
  let dependentDialects = [
    "::mlir::affine::AffineDialect", "::mlir::arith::ArithDialect",
    "::mlir::gpu::GPUDialect", "::mlir::scf::SCFDialect"
  ];
}

def XLSTMSinkConstantsIntoLaunchesPass
    : Pass<"xlstm-sink-constants-into-launches"> {
  let summary = "Clone the constants a gpu.launch uses into its body";
  let description = [{
    Canonicalization hoists constants out of `gpu.launch` bodies, and
    outlining would then pass them as kernel arguments. Cloned into the body
    instead, they become immediates in the kernel: fewer arguments, better
    code, and no scalar argument types (bf16) the host side has no use for.

    ```mlir
    %c = arith.constant 0.0 : bf16
    gpu.launch ... { memref.store %c, %m[%i] : memref<?xbf16> }
    // becomes
    gpu.launch ... { %c = arith.constant 0.0 : bf16
                     memref.store %c, %m[%i] : memref<?xbf16> }
    ```
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def XLSTMContractToMMAPass : Pass<"xlstm-contract-to-mma", "::mlir::ModuleOp"> {
  let summary = "Projections to tensor-core kernels";
  let description = [{
    Replaces each `linalg.contract` on buffers that is a projection
    `out[..., o] += sum_i x[..., i] W[o, i]` with a float32 `out`, identity
    layouts and a static `K` by a `gpu.launch_func` of a tensor-core
    kernel. Each distinct kernel (configuration, operand types, constant
    operands) is built once as a `gpu.func` in a `gpu.module` of its own,
    however many projections launch it: a model repeats its blocks, and
    building, canonicalising and outlining a body per site made most of a
    compile.

    Float32 `x` and `W` (`K % 8 == 0`): `nvvm.mma.sync` m16n8k8 on tf32,
    each operand split into `hi = tf32(v)` and `lo = tf32(v - hi)` and three
    mma per tile (3xTF32, about float32 precision; one with `tf32`), 64x64
    block tiles of 4 warps, fragments read from global memory. Split, K is
    summed in chunks of 64 on the tensor cores, each from zero, and the
    chunks added in float32 (the tensor cores' sums are not IEEE-rounded:
    over a K of 4096 in one accumulator they cost the xLSTM-7B's float32
    logits a factor of 30 in accuracy).

    bf16 or f16 `x` and `W` (`K % 16 == 0`): `nvvm.mma.sync` m16n8k16, f32
    accumulate; operands packed into i32 registers, the form MLIR 22 lowers
    for bf16), the leading dims collapsed into `M` (grid x), starting from
    `out`'s values; rows past `M` and columns past `N` are not stored.

    Where `M <= gemv-max-rows` at run time (decoding) and `K` is a
    multiple of the elements in 16 bytes, matrix-vector kernels instead:
    a warp per row of `W` streaming it in 16-byte loads, float32 FMAs with
    up to `gemv-max-rows` rows of `x`, shuffles summing the lanes (one
    kernel specialised for `M = 1`, one for the rest); an `scf.if` on `M`
    picks the kernel. Where the output is a fresh buffer that the op just
    before the contraction zero-fills (`linalg.fill` of zero or its generic
    form, or a `linalg.copy` of such a buffer, which bufferization makes
    when projections share one zero tensor), every kernel writes its
    results instead of adding them and that initialisation is erased (two
    launches fewer per projection). With `small-batch-mma` (the default), bf16/f16
    rows 2 to `gemv-max-rows` with `K % 32 == 0` take a tensor-core
    kernel instead: 16 rows of `W` per block as the A operand of
    m16n8k16 (x as B, one mma per 8 rows of x), 16-byte loads, the
    block's warps splitting K and summing through shared memory. With
    `skinny-projections` (the default), outputs of a few columns (up to 8
    per 8 rows of `gemv-max-rows`, e.g. the mLSTM gates) at larger M take
    the same kernel with the roles swapped: 16 rows of x per block as A,
    the rows of W as B. With `sibling-projections` (the default),
    projections of one `x` (the same buffer and K, in one block, none
    touching another's output, nothing between them writing `x` or
    touching their outputs) take the decoding kernels in one launch where
    the first one stands, a range of blocks per projection; later outputs'
    allocations move up to it. With `skinny-siblings` (the default), such
    siblings that all take the skinny kernel at larger M, their W rows
    together within its columns, take one launch of it, the W rows stacked
    as its few-row operand and each output stored with its own epilogue
    (the mLSTM's input and forget gate parts read q, k and v once). Decoding streams each weight once per token,
    and a small weight's launch spends about as long ramping up and
    draining as streaming.

    Where `K % 32 == 0` and `stages >= 2`, the staged kernel, described by
    one configuration (`staged-tile`, BMxBNxBK/WMxWN[/stages]): block tiles
    of WM x WN warps, K steps of BK with `stages` of them in flight in
    dynamic shared memory, filled by 16-byte `cp.async` copies (zero-filled
    past `M` and `N`). `ldmatrix` reads the fragments without bank
    conflicts: the staged rows are dense with their 16-byte chunks
    XOR-swizzled per row (`staged-swizzle`, the default; 16 % faster on the
    7B's GEMMs than rows padded by 16 bytes, and 11 % less shared memory);
    the budget for the stages is `shared-bytes`. Blocks walk groups of
    `staged-group-m` tile rows on a 1-D grid (tiles resident together share
    A and W in L2). With `staged-tile-large`, outputs of at least
    `staged-large-min-blocks` of its tiles take that configuration instead
    (an `scf.if` on `M` at run time; none by default). The default is the
    fastest of the H200 sweeps in docs/performance.md (session 28):
    128x128x64 with 4 warps of 64x64 and 3 stages (96 KiB of shared memory:
    two blocks per SM on the H200, so that one block's epilogue overlaps
    the other's main loop), group-m 8; it beat 128x256x64 with 8 warps for
    large outputs plus 128x128x64 in 4 stages for the rest by 4 % on the
    7B block.
    Outputs narrower than the tile, or K not a multiple of its K step,
    fall back to 128x128x32 with 8 warps of 64x32. With
    `split-k-blocks`, outputs of fewer tiles split K over grid z and add
    their partial sums atomically. A headwise (block-diagonal) projection,
    `out[..., h, o] += sum_i x[..., h, i] W[h, o, i]` (what
    `xlstm-lower-to-linalg` makes of `xlstm.headwise_linear` with
    tensor-core-sized blocks), takes the staged kernel once for all its
    blocks with `headwise-one-launch` (the default): block h in grid plane
    z = h, on views of x, W and out (float32 blocks: the tf32 kernel, K not
    a multiple of 32: the direct one, likewise; blocks of a few columns: the
    skinny kernel each, checked first); its decoding kernels run every
    block in one launch, each block reading its own x, together with the
    blocks of later headwise projections of the same x
    (`sibling-projections`; up to 24 blocks a launch, the kernel parameter
    space's bound). With `pad-k` (the default), a projection
    whose K is not a multiple of the k step first copies x and W into
    zero-filled buffers of K rounded up (32 for 16-bit operands, 8 for
    float32) and takes these kernels on them. With `accumulate-residuals`
    (the default), a projection whose zero-filled float32 output only an
    in-place residual add `r = r + y` reads adds into `r` directly. With
    `gated-pairs` (the
    default), two projections of one x into float32 buffers that only one
    elementwise op then reads (the gated FFN's `act(x Wg^T) * (x Wu^T)`)
    become one pipelined kernel whose block tile interleaves the two W by 8
    rows, so that each lane holds both operands of its outputs and stores
    the elementwise op's result (for M above gemv-max-rows; the decoding
    kernels write the two buffers and the op runs after them, in that
    branch only, unless `gated-decoding`: then their warps stream a row of
    each W, or the small-batch kernel's A rows are 8 of each, and they
    store the op's result too). With `fuse-epilogues`, a written float32
    result that one later elementwise op alone reads, its other inputs
    parameter vectors along the columns (the mLSTM gates' bias and soft
    cap), is stored as that op's result by the decoding and skinny kernels
    (only where those are all the projection takes). With `skinny-float32`,
    float32 projections of a few columns take the matrix-vector kernel with
    x and W swapped above gemv-max-rows rows. Otherwise the
    direct kernel: every warp computes a `(16 warp-tiles-m) x (8
    warp-tiles-n)` tile with fragments loaded from global memory as 32-bit
    words. Other contractions are left to the generic path.

    ```mlir
    linalg.contract indexing_maps = [#x, #w, #out]
        ins(%x, %w : memref<?x?x128xbf16>, memref<512x128xbf16>)
        outs(%y : memref<?x?x512xf32>)
    // becomes (staged-tile=128x128x32/2x4 staged-tile-large=
    // staged-group-m=0) a gpu.launch_func of ceil(M / 128) x ceil(512 / 128)
    // blocks of 8 warps with 64 KiB of dynamic shared memory, whose kernel
    // (a gpu.func) uses cp.async, ldmatrix, nvvm.mma.sync
    ```
  }];
  let options = [
    Option<"warpsM", "warps-m", "int64_t", /*default=*/"2",
           "Warps per block along M">,
    Option<"warpsN", "warps-n", "int64_t", /*default=*/"2",
           "Warps per block along N">,
    Option<"warpTilesM", "warp-tiles-m", "int64_t", /*default=*/"2",
           "16-row mma tiles per warp along M">,
    Option<"warpTilesN", "warp-tiles-n", "int64_t", /*default=*/"4",
           "8-column mma tiles per warp along N">,
    Option<"tf32", "tf32", "bool", /*default=*/"false",
           "Float32 projections on plain tf32 (one mma per tile, a 10-bit "
           "mantissa) instead of 3xTF32">,
    Option<"stages", "stages", "int64_t", /*default=*/"4",
           "K steps in flight in the shared-memory pipelined kernel used "
           "where K % 32 == 0 (128x128 block tiles, cp.async, ldmatrix; "
           "stages x 16 KiB of dynamic shared memory for bf16); 0: always "
           "the direct kernel, whose shape the warp options set">,
    Option<"stagedTile", "staged-tile", "std::string",
           /*default=*/"\"128x128x64/2x2/3\"",
           "Block tile, warps and (optionally) stages of the pipelined "
           "kernel, BMxBNxBK/WMxWN[/S] (each warp (BM/WM) x (BN/WN); used "
           "where K % BK == 0, else 128x128x32/2x4 where K % 32 == 0)">,
    Option<"stagedTileLarge", "staged-tile-large", "std::string",
           /*default=*/"\"\"",
           "The pipelined kernel's configuration for outputs with at least "
           "staged-large-min-blocks of its tiles (checked at run time; "
           "empty: none)">,
    Option<"stagedTileNarrow", "staged-tile-narrow", "std::string",
           /*default=*/"\"\"",
           "The pipelined kernel's configuration for outputs whose N the "
           "default tile's BN does not divide but this one's does (e.g. "
           "128x64x64/2x2/4 for the sLSTM's gate blocks of 192 columns, "
           "where 128-column tiles leave half a tile idle; empty: none)">,
    Option<"stagedTileShortK", "staged-tile-short-k", "std::string",
           /*default=*/"\"128x128x32/2x2/3\"",
           "The pipelined kernel's configuration where K is at most "
           "short-k-max-steps (8) of its K steps (the sLSTM's gate heads: K = "
           "192): 32-wide K steps in 3 "
           "stages leave room behind them for the shared-epilogue copy of a "
           "block running several tiles at 2 blocks per SM (84 KB; with "
           "short-k-tiles-per-block, measured on an H100: 0.084 ms for the "
           "sLSTM 768 block's gate heads, 0.0855 with 4 stages, 0.094 for the "
           "default tile a block; empty: the default tile)">,
    Option<"stagedLargeMinBlocks", "staged-large-min-blocks", "int64_t",
           /*default=*/"264",
           "Tiles of staged-tile-large from which it is used (264: two "
           "waves of the H200's 132 SMs)">,
    Option<"padK", "pad-k", "bool", /*default=*/"true",
           "Projections whose K is not a multiple of the mma's k step: x and "
           "W copied into zero-filled buffers of K rounded up (32 for "
           "16-bit operands, 8 for float32) first; off: the generic kernel">,
    Option<"accumulateResiduals", "accumulate-residuals", "bool",
           /*default=*/"true",
           "A projection into a zero-filled float32 buffer that only an "
           "in-place residual add r = r + y then reads adds into r instead "
           "(its kernels start from the output); the add and the buffer go">,
    Option<"accumulateInEpilogue", "accumulate-in-epilogue", "bool",
           /*default=*/"true",
           "The tiled kernels of an accumulating projection (out += x W^T "
           "into a float32 out: pipelined, direct and tf32/3xTF32) start "
           "their accumulators from zero and add out when they store them, "
           "instead of starting from out: the float32 sum of the products "
           "keeps its own precision before a large residual joins it (the "
           "tensor cores' sums drop the low bits of products far below "
           "it)">,
    Option<"gatedPairs", "gated-pairs", "bool", /*default=*/"true",
           "Two projections of one x whose float32 outputs only one "
           "elementwise op reads (a gated FFN's act(gate) * up) run as one "
           "pipelined kernel that interleaves the two W by 8 rows and "
           "stores that op's result (where M > gemv-max-rows); off: two "
           "kernels storing float32, then the elementwise kernel">,
    Option<"fuseEpilogues", "fuse-epilogues", "bool", /*default=*/"true",
           "A written float32 result that one later elementwise op alone "
           "reads, with parameter vectors along its columns as the op's "
           "other inputs (the mLSTM gates' bias and soft cap), is stored as "
           "that op's result by the kernels, where all of them can (the "
           "decoding and skinny kernels); off: the elementwise kernel after "
           "them">,
    Option<"skinnyFloat32", "skinny-float32", "bool", /*default=*/"true",
           "Float32 projections of a few columns (up to gemv-max-rows, e.g. "
           "the mLSTM gates of a float32 model) at more rows than "
           "gemv-max-rows: the matrix-vector kernel with x and W swapped, "
           "a warp per row of x; off: the tf32 tile kernel, 64-column tiles "
           "of mostly dead columns on ceil(M / 64) blocks">,
    Option<"f32PairStores", "f32-pair-stores", "bool", /*default=*/"true",
           "The pipelined kernel stores a float32 output two adjacent "
           "columns at a time (8-byte stores; loads likewise where it adds "
           "to the output), as it stores 16-bit ones: half the store "
           "instructions, whole 32-byte sectors per warp; off: one float32 "
           "per store">,
    Option<"gatedDecoding", "gated-decoding", "bool", /*default=*/"true",
           "A gated pair's decoding kernels (M <= gemv-max-rows) stream "
           "both W and store the elementwise op's result: each warp of the "
           "matrix-vector kernel sums a row of both, the small-batch "
           "kernel's 16 A rows are 8 of each; off: one launch of both "
           "projections into float32 buffers, then the elementwise "
           "kernel">,
    Option<"stagedSiblingPairs", "staged-sibling-pairs", "bool",
           /*default=*/"true",
           "Two headwise projections of one x with the same shape (the "
           "sLSTM's i and f gates, its z and o) run above gemv-max-rows as "
           "one pipelined launch whose tile interleaves the two W by 8 rows, "
           "as the gated kernel's does, storing each projection's own "
           "output: x staged once for both, and 2 x 192-column heads fill "
           "three 128-column tiles exactly; off: a launch per projection">,
    Option<"permutedColumnStores", "permuted-column-stores", "bool",
           /*default=*/"true",
           "The pipelined kernel stages W's rows in an order that gives each "
           "lane one 16-byte chunk of consecutive output columns of each of "
           "its rows (in each group of 4 n tiles, mma column 8 j + 2 t + e "
           "holds output column 8 t + 2 j + e; float32: groups of 2), stored "
           "straight from its accumulators: no copy through shared memory "
           "and none of its barriers. Taken before shared-epilogue, whatever "
           "that says, where it applies: outputs written, not added to, of "
           "identity layout and static width, no split K, a warp's n tiles "
           "of an output in whole groups; several short-K tiles a block as "
           "with the shared epilogue. Measured on an H100 (B16 S1024, "
           "outputs bit-identical): the sLSTM gate heads 42.2 -> 41.2 us at "
           "width 512 and 79.1 -> 73.0 us at 768, its gated FFN -1.7 %; the 7B "
           "block and 24 mLSTM blocks unchanged (+0.3 %, -0.6 %). The "
           "resident-weights kernel likewise, where its warps' n tiles come "
           "in whole groups">,
    Option<"crossTilePrefetch", "cross-tile-prefetch", "bool",
           /*default=*/"false",
           "With several short-K tiles a block, the pipeline's stages run "
           "on across the block's tiles: the last stages - 1 iterations of a "
           "tile's K loop load the next tile's first K steps, which are then "
           "in flight during those iterations and the tile's stores; off: "
           "they are queued after the K loop, behind a barrier, just before "
           "the stores. Applies where K has at least stages - 1 steps">,
    Option<"siblingPairPlanes", "sibling-pair-planes", "bool",
           /*default=*/"true",
           "Headwise projections of other x's with the same rows join a "
           "headwise group (the sLSTM's z and o gates, of the norm's output, "
           "with i and f, of the conv's): their decoding blocks share one "
           "launch, and above gemv-max-rows two sibling pairs of the same "
           "shapes run as one staged-sibling-pairs launch, the grid's z "
           "choosing the pair beside the head, which saves a launch's ramp "
           "and drain (measured on an H100, B16 S1024: the gate heads at "
           "width 512 42.2 -> 43.7 us, at 768 79.1 -> 76.4 us; outputs equal "
           "the default's). With resident-weights the two pairs' resident "
           "kernels likewise share one launch, a plane of blocks per x: on "
           "by default since session 48 (H100, two runs: the 512 gate "
           "heads 34.8 -> 34.6 and 35.6 -> 35.1 us, outputs bit-identical; "
           "the 768 pipelined pair neutral)">,
    Option<"wholeTileStores", "whole-tile-stores", "bool",
           /*default=*/"true",
           "Where K is more than short-k-max-steps (8) K steps, the pipelined "
           "kernel stores a "
           "tile that lies wholly inside the output without a bounds check "
           "per store (one check a tile; the guarded stores stay for edge "
           "tiles). A shorter K's tile is mostly its stores, which two "
           "copies of made slower">,
    Option<"sharedEpilogue", "shared-epilogue", "bool", /*default=*/"true",
           "The pipelined kernel's 16-bit or float32 results (a "
           "projection's, a sibling pair's or a gated pair's combined "
           "values; not split) go through shared memory: each warp writes "
           "its pairs into a copy of the tile (rows padded by 8 values), "
           "then the block stores whole 16-byte row chunks, consecutive "
           "threads along a row, one bounds check a chunk. The copy takes "
           "the drained stages, or with several tiles a block (whose next "
           "tile's loads are then in flight) room behind them, where stages "
           "and copy fit in shared-bytes. Needs N % 8 == 0. Measured on an H100: "
           "the sLSTM's gate heads 0.113 -> 0.093 ms, 24 mLSTM blocks -2.8 %">,
    Option<"sharedEpilogueResiduals", "shared-epilogue-residuals", "bool",
           /*default=*/"false",
           "With shared-epilogue, accumulating projections (out += x W^T: "
           "the residual adds of out_proj and FFN down) with float32 "
           "outputs take it too, each 16-byte chunk of out read, added to "
           "and stored back (with accumulate-in-epilogue; else their sums "
           "already hold out), instead of the whole-tile or guarded stores "
           "(measured slower on an H100: 7B block 9.10 -> 9.14 ms, 24 mLSTM "
           "blocks 45.7 -> 46.2 ms)">,
    Option<"sharedEpilogueSwizzle", "shared-epilogue-swizzle", "bool",
           /*default=*/"false",
           "With shared-epilogue, a copy of 16-bit rows of whole 128-byte "
           "lines is dense with its 16-byte chunks XOR-swizzled (chunk c of "
           "row r at c ^ (r % 8)) instead of padded by 8 values: as free of "
           "bank conflicts in 5 % less shared memory, which lets 5 stages "
           "of 128x128x32 and the copy fit two blocks an SM (H200, sLSTM "
           "gate heads: neutral; with 5 stages 5-11 % slower)">,
    Option<"sharedEpilogueLoadsAhead", "shared-epilogue-loads-ahead",
           "int64_t", /*default=*/"1",
           "With shared-epilogue, the 16-byte chunks of the copy a thread "
           "reads before storing them (1 to 16): 1 reads each in its store's "
           "bounds check; more issue the shared loads back to back, each "
           "store still checked (8: 32 registers; H200, sLSTM gate heads: "
           "neutral)">,
    Option<"residentWeights", "resident-weights", "bool", /*default=*/"true",
           "Headwise projections whose block's W fits in shared memory "
           "beside resident-weight-stages slices of x (the sLSTM's gate "
           "heads, K of a few mma steps) run above gemv-max-rows as one "
           "launch for a group of up to 4 of one x: each block loads one "
           "head's W of one projection once and streams "
           "resident-weight-rows-row slices of x through it, its stores "
           "overlapping the next slices' loads; off: the pipelined kernel, "
           "whose tiles each pay a prologue and stores for a short K. On by "
           "default with resident-weight-joint (session 48, H100, Nsight, "
           "B16 S1024, outputs bit-identical: the sLSTM 512 block's gate "
           "heads 39.3-40.2 -> 34.6-35.6 us for both pairs over six calls; "
           "at 768 the two W do not fit beside 128-row slices and the "
           "pipelined kernel stays, which is right: with smaller slices "
           "they fit and run 1.5x slower)">,
    Option<"residentWeightRows", "resident-weight-rows", "int64_t",
           /*default=*/"128",
           "Rows of x a resident-weights block takes at a time (a multiple "
           "of 16 x the warps along M; raised to that where smaller). H100, "
           "sLSTM 512 gate heads, joint: 128 rows 34.6-35.6 us; 64 rows at "
           "4 warps and two blocks an SM 34.7-35.2, at 8 warps 37.6-41.5; 32 "
           "rows 37.1; 16 rows at three blocks an SM 45.2">,
    Option<"residentWeightStages", "resident-weight-stages", "int64_t",
           /*default=*/"3",
           "Slices of x a resident-weights block has in flight (2 to 8; "
           "H100, sLSTM 512 gate heads: 2 stages 35.7, 3 stages 35.0 us)">,
    Option<"residentWeightWarps", "resident-weight-warps", "int64_t",
           /*default=*/"8",
           "Warps of a resident-weights block (4, 8 or 16): more hide more "
           "of the loads' and stores' latency, each with fewer of a slice's "
           "tiles">,
    Option<"residentWeightBlocks", "resident-weight-blocks", "int64_t",
           /*default=*/"132",
           "Blocks a resident-weights launch aims at (one per SM of the "
           "H100/H200: each loads its W once); each takes as many "
           "consecutive slices as that leaves">,
    Option<"residentWeightJoint", "resident-weight-joint", "bool",
           /*default=*/"true",
           "With resident-weights, each block holds one head's W of every "
           "projection of its launch's group (up to 4 of one x) and runs "
           "each slice of x through all of them: x comes into the SM once "
           "instead of once a projection, the grid a G-th as many blocks "
           "(off: a block a projection and head)">,
    Option<"residentWeightLatePrefetch", "resident-weight-late-prefetch",
           "bool", /*default=*/"false",
           "The resident-weights kernel issues the next slice's copies after "
           "its first pass's products (before their stores) instead of "
           "right after the iteration's barrier, which all warps leave "
           "together: they start on the tensor cores, and the copies' "
           "address arithmetic fills the products' tail (H100, sLSTM 512 "
           "gate heads: no gain, 35.6 -> 35.8 us)">,
    Option<"residentWeightWholeSlices", "resident-weight-whole-slices",
           "bool", /*default=*/"false",
           "With its stores from registers (permuted-column-stores), the "
           "resident-weights kernel runs a slice wholly inside M in a copy "
           "of its passes whose stores go unchecked, no branch a store, so "
           "that the next pass's fragment loads can be scheduled among "
           "them; the partial last slice runs the checked copy (H100, sLSTM "
           "512 gate heads: 35.4 -> 41.4 us; ptxas overlaps the passes and "
           "spills 116 bytes at 255 registers)">,
    Option<"residentWeightEarlyFirstPass", "resident-weight-early-first-pass",
           "bool", /*default=*/"false",
           "With resident-weight-joint's passes, the first projection's W "
           "and the first slice load in a cp.async group of their own and "
           "the other W in the next, so that the block's first pass starts "
           "while those load (waited for before its second; H100, sLSTM 512 "
           "gate heads: no gain, 35.6 -> 35.9 us)">,
    Option<"residentWeightJointSplitN", "resident-weight-joint-split-n",
           "bool", /*default=*/"false",
           "With resident-weight-joint, the block's warps split the columns "
           "of all G projections between them (each warp's tile inside one "
           "projection) and make one pass over a slice, each x fragment "
           "loaded once for all G; off: G passes, every warp on one "
           "projection at a time (fewer accumulators a warp; H100, sLSTM 512 "
           "gate heads: 34.8 -> 39.6 us with split N)">,
    Option<"shortKTilesPerBlock", "short-k-tiles-per-block", "int64_t",
           /*default=*/"0",
           "Output tiles each block of the pipelined kernel runs, one after "
           "another, where K is at most short-k-max-steps (8) of its K steps "
           "(the sLSTM's gate "
           "heads: 6 of 32) and, where staged-tile-short-k is set, in that "
           "configuration only (the default tile's stages and copy leave one "
           "block an SM: the sLSTM 512 block's gated FFN, K of 8 steps of "
           "64, 0.079 -> 0.117 ms): the next tile's first stages are "
           "loaded before the previous tile's stores (with shared-epilogue "
           "its copy lies "
           "behind the stages), a grid that many times smaller; 0: as many "
           "as spread the launch's tiles over at most short-k-blocks blocks "
           "(chosen at run time from M), 1: a tile a block. Measured on an "
           "H100 with 128x128x32/2x2/3: the sLSTM 768 block's gate heads "
           "0.092 -> 0.084 ms, 512's 0.057 -> 0.052">,
    Option<"shortKMaxSteps", "short-k-max-steps", "int64_t",
           /*default=*/"8",
           "The most K steps (of the tile's K step) a projection may have to "
           "count as short-K: to take staged-tile-short-k, several tiles a "
           "block (short-k-tiles-per-block) and no whole-tile stores (8: the "
           "sLSTM's gate heads, and with 64-wide K steps also its gated FFN "
           "at width 512, K = 512; 4 keeps such a tile to the gate heads)">,
    Option<"shortKBlocks", "short-k-blocks", "int64_t", /*default=*/"264",
           "Blocks that short-k-tiles-per-block=0 spreads a launch's tiles "
           "over: 2 blocks of the 128x128 tiles on each of the H100's and "
           "H200's 132 SMs">,
    Option<"headwiseOneLaunch", "headwise-one-launch", "bool",
           /*default=*/"true",
           "A headwise (block-diagonal) projection's tensor-core kernel "
           "(pipelined, tf32 or direct) takes all its blocks in one launch, "
           "block h in grid plane z = h; off: a launch per block on its "
           "views">,
    Option<"splitKBlocks", "split-k-blocks", "int64_t", /*default=*/"0",
           "Split the pipelined kernel's K where the output has fewer tiles "
           "than this (checked at run time; the splits add their partial "
           "sums atomically; 0: never)">,
    Option<"stagedSwizzle", "staged-swizzle", "bool", /*default=*/"true",
           "Pipelined kernel: dense staged rows with the 16-byte chunks "
           "XOR-swizzled per row instead of rows padded by 16 bytes (less "
           "shared memory per stage, same conflict-free ldmatrix)">,
    Option<"sharedBytes", "shared-bytes", "int64_t", /*default=*/"166912",
           "Dynamic shared memory a block may use (163 KiB: what sm_80 "
           "and sm_90 allow, not sm_86/89's 99 KiB; 232448 for sm_90 "
           "only)">,
    Option<"stagedGroupM", "staged-group-m", "int64_t", /*default=*/"8",
           "Pipelined kernel's block order: groups of this many block rows "
           "sweep N together so that resident blocks share A and W tiles in "
           "L2 (0: the plain 2-D grid)">,
    Option<"gemvMaxRows", "gemv-max-rows", "int64_t", /*default=*/"16",
           "Up to this many rows M (checked at run time), the "
           "weight-streaming matrix-vector kernels (one for M = 1, one for "
           "the rest) instead of tensor-core tiles; 0: never">,
    Option<"gemvWarps", "gemv-warps", "int64_t", /*default=*/"4",
           "Warps per block of the matrix-vector kernels (one row of W "
           "each)">,
    Option<"gemvUnroll", "gemv-unroll", "int64_t", /*default=*/"2",
           "16-byte loads of W per lane per step of the single-row "
           "matrix-vector kernel (at least; see gemv-loads-in-flight)">,
    Option<"gemvLoadsInFlight", "gemv-loads-in-flight", "int64_t",
           /*default=*/"16384",
           "The single-row matrix-vector kernel loads more than gemv-unroll "
           "16-byte vectors per lane per step (up to 8, a power of two, no "
           "more than K holds) where its warps, one per row of W, would "
           "otherwise keep fewer than this many warp-wide loads (512 bytes "
           "each) in flight: HBM streams at bandwidth only with megabytes "
           "in flight, and a kernel of few rows has few warps; 0: "
           "gemv-unroll always">,
    Option<"siblingProjections", "sibling-projections", "bool",
           /*default=*/"true",
           "Projections of one x (the same buffer and K, in one block, "
           "free to run together: an mLSTM layer's q, k, v, output gate "
           "and gate pre-activations, a gated FFN's two up projections) "
           "take one launch of the decoding kernels for M <= "
           "gemv-max-rows, a range of blocks per projection, instead of "
           "one launch each">,
    Option<"smallBatchMMA", "small-batch-mma", "bool", /*default=*/"true",
           "For 2 to gemv-max-rows rows of bf16/f16 (K % 32 == 0): W through "
           "the tensor cores (m16n8k16, W as A, x as B) instead of the "
           "multi-row matrix-vector kernel">,
    Option<"skinnyProjections", "skinny-projections", "bool",
           /*default=*/"true",
           "Outputs of at most 8 ceil(gemv-max-rows / 8) columns (bf16/f16, "
           "K % 32 == 0) past gemv-max-rows rows: the small-batch kernel "
           "with x and W swapped (x streamed once, W the few-row operand) "
           "instead of a 128-column tile">,
    Option<"skinnySiblings", "skinny-siblings", "bool", /*default=*/"true",
           "Sibling projections (sibling-projections) that each take the "
           "skinny tensor-core kernel and whose W rows fit its columns "
           "together (the mLSTM's input and forget gates): one launch past "
           "gemv-max-rows rows too, the W rows stacked, x read once">,
    Option<"skinnySiblingsRows", "skinny-siblings-rows", "int64_t",
           /*default=*/"32",
           "The most W rows skinny-siblings stacks into one tensor-core "
           "launch (16 to 32, 8 per token tile; 32 takes the gates of 16 "
           "heads; below the skinny kernel's columns it is those)">,
    Option<"gemvMinN", "gemv-min-n", "int64_t", /*default=*/"512",
           "With fewer rows of W than this (bf16/f16, K % 32 == 0), one row "
           "of x takes the small-batch tensor-core kernel too, whose warps "
           "split K (the matrix-vector kernel's warp per row of W would "
           "leave most of the GPU idle); 0: never">,
    Option<"smallBatchWarps", "small-batch-warps", "int64_t",
           /*default=*/"8",
           "Warps per block of the small-batch tensor-core kernel (16 rows "
           "of W per block; the warps split K)">,
    Option<"smallBatchUnroll", "small-batch-unroll", "int64_t",
           /*default=*/"2",
           "32-element K chunks per warp per step of the small-batch "
           "tensor-core kernel (all loaded before the mma; with "
           "small-batch-pipelined, before the previous step's). 2 is tuned "
           "for the pipelined loads; without them 8 measured best">,
    Option<"skinnyWarps", "skinny-warps", "int64_t", /*default=*/"16",
           "Warps per block of the skinny projections' kernel (16 rows of x "
           "per block; the warps split K)">,
    Option<"smallBatchMinBlocksPerSM", "small-batch-min-blocks-per-sm",
           "int64_t", /*default=*/"2",
           "The small-batch kernel's occupancy hint to ptxas (nvvm.minctasm, "
           "PTX .minnctapersm) for a lone projection (not a launch of "
           "siblings): without one ptxas interleaves each K chunk's loads "
           "with its mma (about 64 registers, one chunk in flight per "
           "warp); 2 blocks per SM let it keep more loads in flight (up to "
           "128 registers), 1 all of a step's; 0: no hint">,
    Option<"smallBatchPipelined", "small-batch-pipelined", "bool",
           /*default=*/"true",
           "The small-batch kernel (not the skinny projections' swapped "
           "one) issues each K step's loads before the "
           "previous step's mma (the loaded registers carried by the loop), "
           "so that a block's steps stream without waiting for the tensor "
           "cores in between; its registers are those of twice the unroll. "
           "On an H100, with unroll 2, the 7B's batch-16 step 7.30 -> 7.20 "
           "ms (unroll 8 unpipelined: 128 registers and spills at 2 blocks "
           "per SM)">,
    Option<"smallBatchSplitKBlocks", "small-batch-split-k-blocks", "int64_t",
           /*default=*/"0",
           "A lone projection (not a launch of siblings) whose small-batch "
           "kernel has fewer blocks (16 rows of W each) than this splits K "
           "over grid rows up to about this many blocks (each split but the "
           "last at least two 32-element chunks per warp); the last block of each column to "
           "finish adds the splits' float32 sums in a fixed order, so "
           "results do not depend on timing. 0: never (the default: on the "
           "7B at batch 16, 512 measured 2 % slower than no split)">,
    Option<"skinnyUnroll", "skinny-unroll", "int64_t", /*default=*/"4",
           "32-element K chunks per warp per step of the skinny "
           "projections' kernel">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::gpu::GPUDialect",
    "::mlir::LLVM::LLVMDialect", "::mlir::memref::MemRefDialect",
    "::mlir::nvgpu::NVGPUDialect", "::mlir::NVVM::NVVMDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect"
  ];
}

def XLSTMFuseElementwisePass : Pass<"xlstm-fuse-elementwise"> {
  let summary = "Fuse elementwise linalg ops, leaving contractions intact";
  let description = [{
    Upstream's elementwise fusion (producer into consumer) and reshape
    propagation, restricted to all-parallel ops: a contraction or a
    reduction is never rewritten, so the projections keep the
    `linalg.contract` form `xlstm-contract-to-mma` recognises (upstream's
    `linalg-fuse-elementwise-ops` folds the head-split reshapes into them and
    turns them into 4-d generics). Fewer kernels and intermediate buffers.

    ```mlir
    %a = linalg.generic {all parallel} ins(%x) ... { math.exp }
    %b = linalg.generic {all parallel} ins(%a, %y) ... { arith.addf }
    // becomes one generic computing exp(x) + y
    ```

    A fusion that would give an op more than `max-operands` operands is
    skipped: the residual stream would otherwise fuse across every block
    into one kernel with an operand per block, past the 4 KiB of kernel
    parameters PTX allows.
  }];
  let options = [
    Option<"maxOperands", "max-operands", "int64_t", /*default=*/"12",
           "Most operands a fused op may have">
  ];
  let dependentDialects = [
    "::mlir::affine::AffineDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def XLSTMPersistentSLSTMPass : Pass<"xlstm-persistent-slstm"> {
  let summary = "Each sLSTM recurrence as one persistent GPU kernel";
  let description = [{
    Replaces every `xlstm.slstm` (all steps) and `xlstm.slstm_step` (one
    decode step) by a single `gpu.launch` with one block per (head, batch
    row) that runs the steps itself, instead of the generic lowering's
    launches per step. A thread owns gate `g` of `U` consecutive hidden units
    `j`: for `DH <= register-head-dim`, `U = 1` and the column
    `R[hd, :, g, j]` of the recurrent kernel stays in registers; else `U` is
    `units-per-thread` (at least `4 * DH / 1024`) and the thread reads its
    rows of R from global memory every step (L2-resident), `dot-unroll`
    rows at a time, one vector load of `U` weights per row, with `h_{t-1}`
    from shared memory; the step's gate inputs are loaded before the dot
    product (`prefetch-gates`) so that their latency hides behind it. (On
    the H200, `U` 2 and 4 and 16 rows at a time were slower for the sLSTM
    benchmarks: fewer, wider loads miss L1.) With `U = 1` the last rows of
    R, as many as `shared-weight-bytes` hold, are copied into shared
    memory once (two 16-bit rows of a column to a 32-bit word) and read
    from there every step: all of a 128-unit bf16 head, 104 of 192 rows of
    a 192-unit one; the first `register-rows` rows stay in registers (40
    of the 192-unit head's; with `pack-register-rows`, 16-bit rows two a
    register: 64), and only the rows between are read from L2.
    Raw gates are handed
    over through shared memory; threads `j < DH` update the cell state in
    registers (float32 math, rounded to the state's storage type every
    step, as the generic lowering does) and publish the new h. Each unit's
    sum keeps the generic lowering's order whatever `U`. The op's tensors
    enter as `bufferization.to_buffer` and results leave as
    `bufferization.to_tensor` of fresh allocations, so the pass runs on
    tensor IR before bufferization. Heads that no `U <= 4` dividing `DH`
    fits into 1024 threads are left to the generic path.

    With `tensor-cores` (default), sequences whose R is bf16 or f16 and whose
    `DH` is a multiple of 16 take a tensor-core kernel instead: a block per
    (head, up to 4 batch rows) forms the step's pre-activations of all its
    rows as one (4 DH x DH) x (DH x 8) product of mma.sync m16n8k16 tiles.
    Up to 16 warps share R's m16 tiles; each loads its A fragments once,
    into registers and, where a thread's registers run out, into shared
    memory in fragment order (one 16-byte load a fragment per step). B's 8
    columns hold h of the block's rows in R's type and the residue h - hi
    in the same type, so that the float32 sums see h to 17 bits (bf16; 22
    for f16) where upstream's kernels round it to R's type; the lanes
    holding a row's two halves add them (the sum's order is the tensor
    cores', not the scalar kernel's). The cell update is the scalar
    kernel's, one thread per (row, unit); a block takes 4 rows, or 2 where
    it has fewer threads than 4 rows have cells. Heads whose fragments do not fit in registers
    and the block's 163 KiB of shared memory keep the scalar kernel. (On
    the H200, B 16 S 1024 DH 192: 1.65 us a step against 3.33.)

    ```mlir
    %y = xlstm.slstm %i, %f, %z, %o, %r, %b {function = #xlstm.function<slstm>,
        num_heads = 4 : i64} : (...) -> tensor<?x?x128xf32>
    // becomes
    gpu.launch blocks(%hd, %row, %u) in (%gx = %c4, %gy = %batch, %gz = %c1)
        threads(%tid, %v, %w) in (%bx = %c128, %by = %c1, %bz = %c1)
        workgroup(%h : memref<32xf32, #gpu.address_space<workgroup>>,
                  %raw : memref<128xf32, #gpu.address_space<workgroup>>) {
      scf.for %t = %c0 to %seq step %c1 iter_args(...) { ... gpu.barrier ... }
    }
    %y = bufferization.to_tensor %alloc restrict writable : ...
    ```
  }];
  let options = [
    Option<"registerHeadDim", "register-head-dim", "int64_t",
           /*default=*/"64",
           "Largest head dimension whose recurrent weights stay in registers"
           " (unrolled dot product)">,
    Option<"unitsPerThread", "units-per-thread", "int64_t",
           /*default=*/"1",
           "Hidden units (consecutive, one gate) per thread where the "
           "recurrent weights are read from memory: one vector load of R "
           "and of the step's gate inputs serves them all (1, 2 or 4; "
           "wide heads take at least 4 * DH / 1024)">,
    Option<"dotUnroll", "dot-unroll", "int64_t", /*default=*/"8",
           "Rows of R loaded together per iteration of the dot product where "
           "R is read from memory (the largest of this, 4 and 1 dividing "
           "DH)">,
    Option<"prefetchGates", "prefetch-gates", "bool", /*default=*/"true",
           "Load the step's gate inputs before the dot product rather than "
           "after it">,
    Option<"sharedWeightBytes", "shared-weight-bytes", "int64_t",
           /*default=*/"166912",
           "Shared memory for the last rows of R where it is read from "
           "memory with one unit a thread (copied once, two 16-bit rows a "
           "word; 0: none; capped by the block's 163 KiB less its static "
           "shared memory)">,
    Option<"registerRowsOption", "register-rows", "int64_t",
           /*default=*/"-1",
           "First rows of R held in registers (float32, loaded once) where "
           "it is read from memory with one unit a thread, up to what the "
           "shared-memory copy leaves (-1: the registers a thread has at the "
           "block's size less 40)">,
    Option<"packRegisterRows", "pack-register-rows", "bool",
           /*default=*/"false",
           "16-bit recurrent weights held in registers two rows a 32-bit "
           "register (unpacked in the dot product, as the shared-memory "
           "copy is): twice the rows on chip for the same registers, fewer "
           "read from L2 every step">,
    Option<"tensorCores", "tensor-cores", "bool", /*default=*/"true",
           "Sequences with 16-bit recurrent weights and a head dimension "
           "divisible by 16 on mma.sync m16n8k16: a block per (head, up to 4 "
           "batch rows), R's fragments in registers and shared memory, h split "
           "into its 16-bit value and residue (B's 8 columns)">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::gpu::GPUDialect", "::mlir::LLVM::LLVMDialect",
    "::mlir::math::MathDialect", "::mlir::NVVM::NVVMDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect"
  ];
}

def XLSTMChunkwiseMLSTMToMMAPass : Pass<"xlstm-chunkwise-mlstm-to-mma"> {
  let summary = "The chunkwise mLSTM's two kernels on tensor cores";
  let description = [{
    Replaces the two halves of the chunkwise mLSTM by one `gpu.launch` each,
    their matrix products on tensor cores (`nvvm.mma.sync` m16n8k8 tf32,
    float32 accumulation), instead of the generic lowering's host loops over
    chunks:

    - `xlstm.mlstm_chunk_states`: the scan over chunks runs inside the
      kernel. A block owns a tile of one head's `C` (a warp per 16 rows, up
      to 64 rows x `dv-tile` columns) in registers and walks the chunks in
      order: it stores the state entering each chunk, computes the chunk's
      gate scalars (cumulative log forget gates, stabiliser, decay, key
      weights) into shared memory, and adds `(w k)^T V` to its decayed tile;
      the blocks of the first column tile carry `n`, the first block `m`.
    - `xlstm.mlstm_chunk_outputs`: all chunks at once (grid: chunk, head x
      `dv-tile` columns, batch row; a warp per 16 rows of a chunk). Each
      block computes the chunk's gate scalars, `S = Q K^T`, the
      decay-weighted causal `P` (row sums by warp shuffles, staged in shared
      memory), `Q C` scaled by the inter-chunk decay, `+ P V`, and the
      normalised `h`.

    With `staged-states` (default), each chunk's key and value tiles and
    gates are copied into dynamic shared memory (`cp.async`) while the chunk
    before computes. With `staged-outputs` (default; 16- or 32-bit operands,
    DHQK a multiple of 32, chunks of 32 or 64), Q, K, the entering C and n
    go through shared memory in slabs of 32 key dimensions, double-buffered,
    and `S = Q K^T` and `Q C` share each Q fragment; the gate scalars are a
    warp scan. Otherwise fragments are read from global memory.

    With `narrow-mma` (default), the staged outputs kernel where q, k, v and
    the entering C share one 16-bit type (bf16: `xlstm-tile-mlstm-chunkwise`'s
    `narrow-entering-states`), and the staged states kernel where k and v
    do, multiply on 16-bit tensor cores (m16n8k16, twice tf32's work per instruction), operand fragments
    loaded by `ldmatrix` (transposed for C, V and the states' keys); the
    outputs kernel keeps P in registers (S's accumulators are P's A
    fragments, rounded to the operands' type) and skips the tiles above each
    warp's diagonal; the states kernel scales its key fragments by the
    position weights. As in TFLA, the products round P and w k to 16 bits;
    accumulation stays float32. Their shared-memory rows are dense with
    XOR-swizzled 16-byte chunks (conflict-free `ldmatrix` without padding),
    and the states kernel stores 16-bit entering states 8 columns a lane
    after a transpose within each quad of lanes (whole 32-byte sectors).

    A decode step (one static position) skips the tensor-core tiles: the
    outputs kernel sums `q . C` with a lane per value column, the states
    kernel writes `decay C + w k v^T` (key rows split over blocks where the
    heads give too few). With `fuse-decode-step` (default), a states op and
    the outputs op that alone reads its entering states (the step program)
    become one kernel that reads `C` once, writes the final state and
    normalises `h` (16 warps split the key rows, every load in flight;
    four value columns a lane where `decode-step-wide-blocks` blocks remain,
    chosen at run time from the batch).

    Otherwise, bf16/f16 `q, k, v` convert to tf32 exactly (one mma per tile); float32
    ones are split 3xTF32 (`hi = tf32(v)`, `lo = tf32(v - hi)`, three mma:
    about float32 precision), unless `allow-tf32` lets them round to tf32
    (a 10-bit mantissa: meant for bf16 models that keep q/k/v in float32).
    Chunk outputs with chunks that are not a multiple of 16 up to 64 are
    left to the generic path.
    Inputs enter as `bufferization.to_buffer`, results leave as
    `bufferization.to_tensor` of fresh allocations. With
    `heads-last-operands` (the default), q, k and v that are transposes of
    (B, S, NH, D) tensors (the layers' layout), and gates that are
    transposes of (B, S, NH) ones (the gate projections' outputs), enter as
    those tensors' buffers, seen through a `memref.transpose` view made
    inside each launch, and an h read only by a transpose back to that
    layout is written through such a view of a (B, S, NH, D) allocation:
    the transposing copies go.

    ```mlir
    %h = xlstm.mlstm_chunk_outputs %q, %k, %v, %i, %f, %c, %n, %m
        {chunk_size = 64 : i64, qk_scaling = #xlstm.qk_scaling<query>}
        : (...) -> tensor<?x8x?x512xbf16>
    // becomes
    gpu.launch blocks(...) in (%gx = %num_chunks, %gy = %c32, %gz = %batch)
        threads(...) in (%bx = %c128, ...) workgroup(...) {
      ... nvvm.mma.sync ... {shape = #nvvm.shape<m = 16, n = 8, k = 8>} ...
    }
    ```
  }];
  let options = [
    Option<"allowTF32", "allow-tf32", "bool", /*default=*/"false",
           "Round float32 q/k/v to tf32 (one mma) instead of 3xTF32">,
    Option<"dvTile", "dv-tile", "int64_t", /*default=*/"128",
           "Value columns per block (halved until it divides DHV)">,
    Option<"stagedOutputs", "staged-outputs", "bool", /*default=*/"true",
           "Chunk outputs with 16- or 32-bit operands stage Q, K, C, n and V "
           "through shared memory (cp.async); off: fragments from global "
           "memory">,
    Option<"stagedStates", "staged-states", "bool", /*default=*/"true",
           "The chunk-states scan copies each chunk's keys, values and gates "
           "into shared memory while the chunk before computes (cp.async); "
           "off: fragments from global memory">,
    Option<"keyRows", "key-rows", "int64_t", /*default=*/"64",
           "Rows of C per chunk-states block (16, 32, 64 or 128; a warp per "
           "16; halved until it divides DHQK): more rows read each value "
           "tile fewer times, fewer give more blocks">,
    Option<"narrowMMA", "narrow-mma", "bool", /*default=*/"true",
           "The staged kernels multiply on 16-bit tensor cores (mma.sync "
           "m16n8k16, ldmatrix fragments, P in registers): the outputs where "
           "q, k, v and the entering C share one 16-bit type, the states "
           "where k and v do; off: tf32">,
    Option<"headsLastOperands", "heads-last-operands", "bool",
           /*default=*/"true",
           "q, k, v and gates that are transposes of (B, S, NH, D) and "
           "(B, S, NH) tensors, and an h "
           "that only a transpose back to that layout reads: the kernels "
           "take those tensors' buffers through transposed views made in "
           "each launch, and the transposing copies go; off: the copies">,
    Option<"fuseDecodeStep", "fuse-decode-step", "bool", /*default=*/"true",
           "A decode step's outputs op and the states op whose entering "
           "states it reads (one static position) run as one kernel that "
           "reads C once; off: a kernel each">,
    Option<"decodeStepWideBlocks", "decode-step-wide-blocks", "int64_t",
           /*default=*/"256",
           "The fused decode step takes 4 value columns a lane (16-byte "
           "loads) where that still makes at least this many blocks (batch x "
           "heads x DHV / 128, known at run time), else one; 0: always one">,
    Option<"gridDependencyWait", "grid-dependency-wait", "bool",
           /*default=*/"false",
           "For xlstm-grid-dependency-wait (sm_90): the fused decode step "
           "loads its first rows of the entering states before it waits on "
           "the grid before it (nvvm.griddepcontrol), where those states are "
           "arguments of the program that nothing in it writes first, so "
           "that reading C overlaps the end of the kernel before it">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::gpu::GPUDialect", "::mlir::LLVM::LLVMDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::nvgpu::NVGPUDialect", "::mlir::NVVM::NVVMDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect"
  ];
}

def XLSTMGridDependencyWaitPass
    : Pass<"xlstm-grid-dependency-wait", "::mlir::ModuleOp"> {
  let summary = "Let each kernel launch while the one before it finishes";
  let description = [{
    Programmatic dependent launch (sm_90 and later): every outlined kernel
    (of the `programs`' launches, when listed) starts with
    `nvvm.griddepcontrol wait`, which returns once the grid
    launched before it on the stream has finished and its memory is
    visible, then `nvvm.griddepcontrol launch_dependents`, which lets the
    next kernel launch as soon as every block of this one has started.
    Every `gpu.launch_func` of such a kernel (in the listed functions) gets
    `xlstm.waits_on_previous_grid`, a launch of anything else (a kernel
    already serialized) none; the bundle's kernel table carries it,
    and the runtime launches those kernels with programmatic stream
    serialization, so that a launch's fixed cost (scheduling, block setup)
    overlaps the tail of the kernel before it. Decoding, whose hundreds of
    launches a token each last a few microseconds, gains most.

    Because every kernel waits before its first instruction, any kernel
    finishes after every earlier one, as with plain stream order. The
    kernels need PTX for sm_90 or later (`xlstmc --chip=sm_90`).

    ```mlir
    gpu.func @k(%a: memref<?xf32>) kernel { ... }
    // becomes
    gpu.func @k(%a: memref<?xf32>) kernel {
      nvvm.griddepcontrol wait
      nvvm.griddepcontrol launch_dependents
      ...
    }
    // and each gpu.launch_func @m::@k gets {xlstm.waits_on_previous_grid}
    ```

    With `early-trigger=0` no `launch_dependents` is added: the next grid
    launches as this one's blocks exit, which still overlaps its launch with
    this grid's completion but keeps its blocks off the SMs until then.

    `programs` limits it to the launches in the listed host functions (say
    `step`, the decode program, whose short launches gain; the forward
    programs' long kernels do not). A kernel launched from one of them and
    from another function too waits in both: launched plainly, its wait and
    trigger do nothing, and only the listed functions' launches are marked.
  }];
  let options = [
    Option<"earlyTrigger", "early-trigger", "bool", /*default=*/"true",
           "Each kernel lets the next one launch right after its wait "
           "(nvvm.griddepcontrol launch_dependents); off: at its exit">,
    ListOption<"programs", "programs", "std::string",
               "Only the launches in these host functions (func.func "
               "names; none given: every function)">
  ];
  let dependentDialects = ["::mlir::NVVM::NVVMDialect"];
}

def XLSTMAlignWorkgroupMemoryPass
    : Pass<"xlstm-align-workgroup-memory", "::mlir::gpu::GPUModuleOp"> {
  let summary = "Align the workgroup buffers of outlined kernels";
  let description = [{
    Gives every workgroup (shared-memory) attribution of a `gpu.func` that
    has no `llvm.align` an alignment of `alignment` bytes. `gpu.launch`
    cannot carry attribution attributes, and without one a buffer is only
    aligned to its element type, while cp.async copies, ldmatrix and vector
    accesses need 16 bytes.

    ```mlir
    gpu.func @k() workgroup(%s : memref<2x128x40xbf16, #gpu.address_space<workgroup>>) kernel
    // becomes
    gpu.func @k() workgroup(%s : memref<2x128x40xbf16, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}) kernel
    ```
  }];
  let options = [
    Option<"alignment", "alignment", "int64_t", /*default=*/"16",
           "Alignment in bytes">
  ];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def XLSTMWarpNormsPass : Pass<"xlstm-warp-norms"> {
  let summary = "Layer, RMS and multi-head norms as one-warp-per-row kernels";
  let description = [{
    Replaces `xlstm.layer_norm`, `xlstm.rms_norm` and `xlstm.multihead_norm`
    (one row per head) by a `gpu.launch` in which a warp owns a row: its
    lanes stride the row, partial sums meet by butterfly shuffles
    (`gpu.shuffle xor`), and the warp writes the normalised, scaled row.
    Layer norms sweep twice (the mean, then the centred second moment, as
    the generic lowering computes them), RMS norms once; float32 math, the
    RMS-normalised value rounded to the storage type before the weight, as
    upstream does. Blocks of 256 threads; rows wide enough to give every
    thread two 16-byte vectors take several warps (up to all 8, at most
    `max-warps-per-row`), whose sums meet in shared memory: a decode step
    normalises one row per batch element, and a lone warp walking a
    4096-wide row waits on its loads. Rows narrower than 32 16-byte vectors
    (a multi-head norm's 128-wide bf16 heads) share a warp, a power-of-two
    group of lanes each holding one whole vector. Operands enter as
    `bufferization.to_buffer`, the result leaves as `bufferization.to_tensor`
    of a fresh allocation; norms over a dynamic width, or with float64
    operands, are left to the generic path. With `fuse-consumers`, the
    all-parallel `linalg.generic` ops that alone use the norm's result (and
    then each other's), whose operands are read at the element (identity
    map) or at its channel (a vector over the last dimension), are defined
    before the norm, and whose bodies use only their own values and
    constants, run in the kernel on each normalised value before it is
    stored, in the same float math: the kernel stores their result, not the
    norm's. An operand may be a column slice of a wider tensor (the mLSTM's
    z, half of its up projection) with static offsets, unit strides and
    rows starting at multiples of 8 elements: the kernel reads it in place
    through a strided view (the leading indices split from the row).

    ```mlir
    %y = xlstm.rms_norm %x, %w {eps = 1.0e-6 : f64}
        : (tensor<?x?x4096xbf16>, tensor<4096xbf16>) -> tensor<?x?x4096xbf16>
    // becomes
    gpu.launch blocks(%b, ...) in (%gx = %ceil_rows_over_8, ...)
        threads(%t, ...) in (%bx = %c256, ...) {
      scf.for %c = %lane to %c4096 step %c32 ... gpu.shuffle xor ...
    }
    ```
  }];
  let options = [
    Option<"maxWarpsPerRow", "max-warps-per-row", "int64_t", "8",
           "The most warps that share one row (1: a warp per row; rounded "
           "down to a power of two)">,
    Option<"fuseConsumers", "fuse-consumers", "bool", /*default=*/"true",
           "Apply the elementwise linalg.generic ops that alone use the "
           "norm's result (a chain of up to 4: the xLSTM-7B's output gate "
           "and rounding after its multi-head norm) before the kernel "
           "stores, reading their other operands (tensors or aligned "
           "column slices defined before the norm) at the element or its "
           "channel, instead of storing the norm and launching them">,
    Option<"registerRows", "register-rows", "bool", /*default=*/"true",
           "Where a thread's share of a row is at most 16 vectors (16 bytes, "
           "or 8 or 4 where 16 do not divide it), load it once into "
           "registers and run the mean, variance and normalisation sweeps on "
           "them (same order of sums); off: each sweep reads the row again "
           "(from L1 or L2), 16-byte vectors or scalars">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::gpu::GPUDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect"
  ];
}

def XLSTMCausalConvToGPUPass : Pass<"xlstm-causal-conv-to-gpu"> {
  let summary = "Each causal depthwise conv as one GPU kernel";
  let description = [{
    Rewrites `xlstm.causal_conv1d` (static channels and kernel width) into
    one `gpu.launch`: a thread per (batch row, run of `run-length`
    positions, `vector-bytes` of channels) sums its K taps, read straight
    from the initial state or the input (each input once, all of the run's
    loaded before its first store, a window sliding along the run), adds
    the bias and writes the output; the threads for the K - 1 positions past
    the end write the final state. Where those runs would give fewer than
    65536 threads (checked at run time), a run is one position. The generic
    lowering builds a padded copy of the input first (zero fill, two copies,
    the reduction, a slice: five kernels). Where the conv's only reader (besides
    `tensor.dim`) is a `linalg.generic` of it alone (identity maps, pure
    scalar body, e.g. the SiLU of the mLSTM and sLSTM layers), the kernel
    applies that body to each output, rounded to the conv's type first,
    and stores its result instead: the op and its pass over the output go.
    With `epilogue-f32` the body runs in float32 and its result is rounded
    once, at the store (16-bit bodies otherwise round after every op, each
    converted to and from float32: most of the kernel's instructions); with
    `epilogue-approx` too, where the result is 16-bit, its exponentials and
    divisions are the GPU's approximate ones: exp's relative error stays
    below 1e-5 over its whole range and division's within 2 float32 ulp,
    well under a bfloat16's 2^-9 rounding, except that a divisor of 2^126
    or more gives 0 (a sigmoid's 1 / (1 + exp(-x)) is then 1e-37 off).
    `epilogue-flush-denormals` (on) takes their flush-to-zero forms:
    subnormal inputs and results (below 2^-126) become 0, and the SiLU of a
    16-bit output loses a third of its instructions (the sLSTM 768 block's
    conv: 1184 -> 888 SASS instructions, 24.5 -> 23.3 us on an H100; the
    outputs of the benchmark blocks bit-identical).

    ```mlir
    %y, %s = xlstm.causal_conv1d %x, %w bias(%b) initial_state(%s0)
        : (tensor<?x?x256xbf16>, tensor<256x4xbf16>, tensor<256xbf16>,
           tensor<?x3x256xbf16>) -> (tensor<?x?x256xbf16>, tensor<?x3x256xbf16>)
    // becomes one gpu.launch of 256-thread blocks, a thread per (row, run of
    // 8 positions or the final state, 4 channels): B * (ceil(S / 8) + 1) * 64
    ```
  }];
  let options = [
    Option<"runLength", "run-length", "int64_t", /*default=*/"8",
           "Consecutive positions a thread takes where that leaves at least "
           "65536 threads (1 to 64)">,
    Option<"vectorBytes", "vector-bytes", "int64_t", /*default=*/"8",
           "Bytes of consecutive channels a thread loads at once (4, 8 or "
           "16), where the channels divide into them">,
    Option<"wholeRuns", "whole-runs", "bool", /*default=*/"false",
           "A run that ends inside the sequence (every run of a row but its "
           "last, checked per thread) takes a branch that loads its "
           "positions unclamped and stores them unguarded, their addresses "
           "the first one's plus constants (the sLSTM 768 block's conv: "
           "575 -> 438 PTX instructions for a run, 80 -> 76 registers); off "
           "until the GPU has checked and timed it">,
    Option<"inPlaceSlices", "in-place-slices", "bool", /*default=*/"true",
           "An input that is a column slice of a wider tensor (the mLSTM's "
           "conv reads half of its up projection), rows starting on whole "
           "vectors, is read through a strided view of that tensor instead "
           "of a dense copy">,
    Option<"epilogueF32", "epilogue-f32", "bool", /*default=*/"true",
           "The fused elementwise op in float32, rounded once at the store; "
           "off: in its own types, op by op, as its own kernel would">,
    Option<"epilogueApprox", "epilogue-approx", "bool", /*default=*/"true",
           "With epilogue-f32, for a 16-bit result: approximate exp, exp2 "
           "and division">,
    Option<"epilogueFlushDenormals", "epilogue-flush-denormals", "bool",
           /*default=*/"true",
           "With epilogue-approx: their flush-to-zero instructions "
           "(ex2.approx.ftz, rcp.approx.ftz), which ptxas does not wrap in "
           "the compares and selects that keep subnormals">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::gpu::GPUDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect", "::mlir::LLVM::LLVMDialect"
  ];
}

def XLSTMHeadwiseToGPUPass : Pass<"xlstm-headwise-to-gpu"> {
  let summary = "Headwise projections with small blocks as one GPU kernel";
  let description = [{
    Rewrites `xlstm.headwise_linear` whose blocks are at most `max-block`
    wide both ways (the mLSTM's q/k/v with qkv_proj_blocksize 4) into one
    `gpu.launch`: a thread per (row, block) loads the block's inputs as one
    vector, computes its outputs in float32 from the weights (read through
    the cache), adds the bias and stores them as one vector in the result
    type. Blocks up to `max-wide-block` that xlstm-lower-to-linalg would
    not make tensor-core projections (K not a multiple of 16, N not of 8,
    or more than 16 blocks; e.g. an sLSTM's 18x18 heads at width 72) get a
    thread per
    group of up to 16 outputs of a block of a row, which reads the block's
    inputs once in the widest aligned vectors and the matching rows of its
    matrix. Larger blocks are left to `xlstm-lower-to-linalg`, which makes
    one tensor-core projection per block where the block allows.

    ```mlir
    %q = xlstm.headwise_linear %x, %w
        : (tensor<?x?x256xbf16>, tensor<64x4x4xbf16>) -> tensor<?x?x256xbf16>
    // becomes one gpu.launch of ceil(rows * 64 / 256) blocks of 256 threads
    ```
  }];
  let options = [
    Option<"maxBlock", "max-block", "int64_t", /*default=*/"16",
           "Largest block width (inputs or outputs) of the thread-per-block "
           "kernel">,
    Option<"maxWideBlock", "max-wide-block", "int64_t", /*default=*/"128",
           "Largest block width of the thread-per-outputs kernel, for "
           "blocks the tensor-core projections cannot take (0: none)">,
    Option<"inPlaceSlices", "in-place-slices", "bool", /*default=*/"true",
           "An input that is a column slice of a wider tensor (the mLSTM's "
           "v reads half of its up projection), rows starting on 16 bytes, "
           "is read through a strided view of that tensor (each row's "
           "leading indices split from the row) instead of a dense copy">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::gpu::GPUDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect"
  ];
}

def XLSTMBuildConvertersPass
    : Pass<"xlstm-build-converters", "::mlir::ModuleOp"> {
  let summary = "Add @convert_<dtype>: checkpoint tensors to the parameters' type on the GPU";
  let description = [{
    For each float type among f32, bf16 and f16 other than the element type
    of `@forward`'s parameters, adds a host function `@convert_<dtype>` with
    one `gpu.launch` (a thread per element) that converts a flat `source`
    buffer of that type into a flat `target` buffer of the parameters' type
    (both `xlstm.buffer` arguments). The runtime uploads a checkpoint tensor
    in its stored type and converts it there: no host conversion, and half
    the bytes over the bus when a bf16 checkpoint feeds a float32 program.

    ```mlir
    func.func @convert_bf16(%source: memref<?xbf16> {xlstm.buffer = "source"},
                            %target: memref<?xf32> {xlstm.buffer = "target"}) {
      // gpu.launch blocks(ceil(n / 256)) threads(256): extf
    }
    ```
  }];
  let options = [
    Option<"threads", "threads", "int64_t", /*default=*/"256",
           "Threads per block (a multiple of 32, at most 1024)">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::func::FuncDialect",
    "::mlir::gpu::GPUDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect"
  ];
}

def XLSTMBuildSamplerPass : Pass<"xlstm-build-sampler", "::mlir::ModuleOp"> {
  let summary = "Add @sample: each row's next token from its logits, on the GPU";
  let description = [{
    For a module whose `@step` returns `logits` (a language model), adds a
    host function `@sample` with one `gpu.launch` (a block per row) that
    reads the logits of the last position and writes the next token, so
    that decoding keeps tokens and logits on the device. Its arguments are
    buffers it reads and writes in place (`xlstm.buffer`): `logits` (B, S,
    V), `seen` (B, ceil(V/32)) i32 bitmap of the tokens each row has seen,
    `settings` (4) f32 = temperature, top-p, repetition penalty, top-k,
    `rng` (B, 2) i64 = seed and draws so far, `tokens` (B, 1) i64.

    Temperature 0 is the argmax (ties to the lower id). Otherwise the
    penalised logits over the temperature are cut to the top-k and then to
    the top-p nucleus (exact radix selects over order-preserving keys, ties
    with the threshold kept, as Hugging Face's warpers) and a Gumbel-max
    draw with counter-based random numbers picks the token: the same seed
    gives the same tokens, and runtime::Sampler computes the same function
    on the host.

    ```mlir
    func.func @sample(%logits: memref<?x?x50304xf32> {xlstm.buffer = "logits"},
                      %seen: memref<?x1572xi32> {xlstm.buffer = "seen"},
                      %settings: memref<4xf32> {xlstm.buffer = "settings"},
                      %rng: memref<?x2xi64> {xlstm.buffer = "rng"},
                      %tokens: memref<?x1xi64> {xlstm.buffer = "tokens"}) {
      // gpu.launch blocks(B) threads(512) ...
    }
    ```
  }];
  let options = [
    Option<"threads", "threads", "int64_t", /*default=*/"512",
           "Threads per row (a multiple of 32, at most 512)">,
    Option<"tokensInFlight", "tokens-in-flight", "int64_t", /*default=*/"8",
           "Tokens a thread loads before it combines the first (1 to 64): "
           "loads in flight in each sweep of the vocabulary">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::func::FuncDialect",
    "::mlir::gpu::GPUDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::NVVM::NVVMDialect",
    "::mlir::scf::SCFDialect"
  ];
}

def XLSTMElementwiseToGPUPass
    : Pass<"xlstm-elementwise-to-gpu", "::mlir::func::FuncOp"> {
  let summary = "Elementwise linalg ops on buffers as vectorised kernels";
  let description = [{
    Rewrites each all-parallel linalg op on buffers (generic, copy,
    transpose, ...) whose operands keep the innermost loop dimension
    innermost with unit stride, or do not use it (broadcasts), and whose
    innermost extent is static, into one `gpu.launch` in which a thread
    takes V consecutive innermost elements, V = `vector-bytes` over the
    narrowest element (halved until it divides the extent): a vector load
    per operand, the op's body V times, a vector store per result, the
    outer indices computed once per V elements. The generic path gives a
    thread per element, 64-bit index divisions each and 2- or 4-byte
    accesses (a third of the H200's bandwidth on a model's copies,
    transposes, activations and residual adds). Every vector access must be
    provably aligned from the operand's type (an identity layout, static
    strides and offset that V divides, or a unit-step subview at such an
    offset of an identity buffer whose innermost extent V divides); other
    ops stay for the generic path, and so do iteration spaces of fewer than
    `min-elements` elements (an `scf.if` on the host where the sizes are
    dynamic): a decoding step's few rows, where a thread per vector would
    leave most of the GPU idle on the body's math.

    ```mlir
    linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
        ins(%a : memref<?x64xf32>) outs(%b : memref<?x64xbf16>) { truncf }
    // becomes a gpu.launch of ceil(M * 64 / 8 / 256) blocks of 256 threads,
    // each: vector.load 8 x f32, 8 truncf, vector.store 8 x bf16
    ```
  }];
  let options = [
    Option<"vectorBytes", "vector-bytes", "int64_t", /*default=*/"16",
           "Bytes of the narrowest operand per thread and access (a power "
           "of two up to 16; 0 or 1: leave every op to the generic path)">,
    Option<"minElements", "min-elements", "int64_t", /*default=*/"262144",
           "Iteration spaces of fewer elements (checked at run time where "
           "the sizes are dynamic) stay on the generic path, a thread per "
           "element: a decoding step's few rows would leave most of the GPU "
           "idle with a thread per vector">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::gpu::GPUDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect"
  ];
}

def XLSTMLinalgToParallelLoopsPass
    : Pass<"xlstm-linalg-to-parallel-loops", "::mlir::func::FuncOp"> {
  let summary = "Lower linalg ops on buffers to scf.parallel loops, op by op";
  let description = [{
    What upstream's `convert-linalg-to-parallel-loops` does to each linalg
    op (the same `linalgOpToParallelLoops` rewrite: parallel dimensions
    become one `scf.parallel`, reductions `scf.for` inside it), applied to
    the ops directly instead of through the greedy rewrite driver. The
    driver revisits and folds every op of the function, which for a model
    of thousands of kernels costs a third of the compile; the folding it
    would do is left to the canonicalization that follows in
    `xlstm-to-gpu`.

    ```mlir
    linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
        ins(%a : memref<?xf32>) outs(%b : memref<?xf32>) { ... }
    // becomes
    scf.parallel (%i) = (%c0) to (%n) step (%c1) {
      %x = memref.load %a[%i] : memref<?xf32>
      ...
      memref.store %y, %b[%i] : memref<?xf32>
    }
    ```
  }];
  let dependentDialects = [
    "::mlir::affine::AffineDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect"
  ];
}

def XLSTMDedupeGPUModulesPass
    : Pass<"xlstm-dedupe-gpu-modules", "::mlir::ModuleOp"> {
  let summary = "Keep one gpu.module per distinct kernel";
  let description = [{
    Outlining makes one `gpu.module` per launch, and the blocks of a model
    repeat: the xLSTM-7B's 2378 launches come from a few dozen distinct
    kernels. This pass keeps the first module of each set of identical ones
    and points every `gpu.launch_func` at it, so that NVVM lowering, LLVM
    code generation and ptxas run once per distinct kernel.

    Two modules are identical when they print the same with the kernel's
    own name left out (forward and step kernels merge too) and carry the
    same attributes; locations do not count, so a launch keeps its own
    location and profiles still say which block it comes from. Modules that
    hold anything but one `gpu.func` are left alone.

    ```mlir
    gpu.launch_func @forward_kernel_0::@forward_kernel ...
    gpu.launch_func @forward_kernel_1::@forward_kernel ...
    gpu.module @forward_kernel_0 { gpu.func @forward_kernel(...) kernel {...} }
    gpu.module @forward_kernel_1 { gpu.func @forward_kernel(...) kernel {...} }
    // becomes, when both bodies are the same
    gpu.launch_func @forward_kernel_0::@forward_kernel ...
    gpu.launch_func @forward_kernel_0::@forward_kernel ...
    gpu.module @forward_kernel_0 { gpu.func @forward_kernel(...) kernel {...} }
    ```
  }];
  let statistics = [
    Statistic<"numModulesErased", "modules-erased",
              "Modules erased as duplicates">
  ];
}

def XLSTMLoweringReportPass
    : Pass<"xlstm-lowering-report", "::mlir::ModuleOp"> {
  let summary = "Report the kernel each projection, conv, norm and "
                "recurrence became";
  let description = [{
    Runs where every whole-kernel rewrite is done and the rest is still
    linalg on buffers (right before `xlstm-linalg-to-parallel-loops` in
    `xlstm-to-gpu`). The kernel-building passes record their choice on the
    `gpu.launch` they create (`xlstm.kernel`: family, shape, kernel and the
    parameter it reads); every linalg op left is going to be a generic
    (scalar, one thread per element) kernel. This pass gathers both, by
    model op: each projection (`linalg.contract`, headwise), causal conv,
    norm and recurrence, where it is (block and op, from the locations the
    frontend gives), its shape and dtype, and the kernels it became, with
    the reason a pass left it generic where one gave one.

    With `print`, the table goes to stdout, one line per op:

    ```
    projection  blocks.0.xlstm.proj_up.weight  ?x512x128 bf16  gemv 8 warps unroll 4 [M = 1] | mma-staged 128x128x32 4 stages [M > 16]
    conv        blocks.0 xlstm.causal_conv1d   ?x?x256x4 bf16  generic
    ```

    With `require-fast-kernels`, an op of those four families that takes a
    generic kernel is an error at its location, naming op, shape and
    reason, and the pass fails. The IR is not changed.
  }];
  let options = [
    Option<"print", "print", "bool", /*default=*/"true",
           "Print the table on stdout">,
    Option<"requireFastKernels", "require-fast-kernels", "bool",
           /*default=*/"false",
           "Fail on any projection, conv, norm or recurrence that takes a "
           "generic kernel">
  ];
}

#endif // XLSTM_CONVERSION_PASSES_TD
