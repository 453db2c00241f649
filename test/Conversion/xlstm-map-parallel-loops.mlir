// RUN: xlstm-opt %s --xlstm-map-parallel-loops=block-size=128 --cse | FileCheck %s
// RUN: xlstm-opt %s --xlstm-map-parallel-loops=block-size=128 --convert-parallel-loops-to-gpu --canonicalize | FileCheck %s --check-prefix=GPU
// RUN: not xlstm-opt %s --xlstm-map-parallel-loops=block-size=0 2>&1 | FileCheck %s --check-prefix=BAD

// BAD: block-size must be in [1, 1024], got 0

// A 2-D loop with a dynamic bound is collapsed to one dimension, tiled by
// the block size with a guard, and mapped: tiles to blocks, elements to
// threads. The reduction inside stays a sequential loop.
// CHECK-LABEL: func @rows
// CHECK:       %[[N:.+]] = arith.muli %{{.*}}, %c64 : index
// CHECK:       scf.parallel (%[[B:[^)]+]]) = (%{{.*}}) to (%[[N]]) step (%[[BS:[^)]+]]) {
// CHECK:         scf.parallel (%[[T:[^)]+]]) = (%{{.*}}) to (%[[BS]]) step (%{{.*}}) {
// CHECK:           arith.cmpi ult, %{{.*}}, %[[N]] : index
// CHECK:           scf.if
// CHECK:             scf.for
// CHECK:         } {mapping = [#gpu.loop_dim_map<processor = thread_x
// CHECK:       } {mapping = [#gpu.loop_dim_map<processor = block_x

// The grid is ceil(rows * 64 / 128) blocks of 128 threads.
// GPU:       #[[CEIL:.+]] = affine_map<()[s0] -> (s0 ceildiv 128)>
// GPU:       func @rows
// GPU:       %[[N:.+]] = arith.muli
// GPU:       %[[BLOCKS:.+]] = affine.apply #[[CEIL]]()[%[[N]]]
// GPU:       gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[BLOCKS]], %{{.*}} = %c1, %{{.*}} = %c1) threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c128, %{{.*}} = %c1, %{{.*}} = %c1)
func.func @rows(%x: memref<?x64xf32>, %y: memref<?x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %n = memref.dim %x, %c0 : memref<?x64xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c64) step (%c1, %c1) {
    %z = arith.constant 0.0 : f32
    %s = scf.for %k = %c0 to %c64 step %c1 iter_args(%acc = %z) -> f32 {
      %v = memref.load %x[%i, %k] : memref<?x64xf32>
      %a = arith.addf %acc, %v : f32
      scf.yield %a : f32
    }
    memref.store %s, %y[%i, %j] : memref<?x64xf32>
    scf.reduce
  }
  return
}
