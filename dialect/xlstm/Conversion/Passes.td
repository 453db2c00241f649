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
  }];
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

#endif // XLSTM_CONVERSION_PASSES_TD
