// RUN: xlstm-opt %s --xlstm-contract-to-mma --cse | FileCheck %s
// RUN: xlstm-opt %s --xlstm-contract-to-mma=tf32=1 --cse | FileCheck %s --check-prefix=PLAIN

// A float32 projection on 3xTF32 sums K in chunks of 64: each chunk on the
// tensor cores from zero (three mma a k step of 8), then one float32 add a
// accumulator into the running sums, which the stores take. The tensor
// cores' float32 sums are not IEEE-rounded; over K = 4096 in one
// accumulator they put the xLSTM-7B's float32 logits 3.2e-4 off float64.
// K = 256: whole chunks, a constant trip count.
// CHECK-LABEL: gpu.func @projection_tf32_mma(
// CHECK-SAME:    memref<?x256xf32>, %{{[^:]+}}: memref<64x256xf32>
// CHECK:         %[[SUMS:.+]]:32 = scf.for %[[K0:[^ ]+]] = %c0 to %c256 step %c64 iter_args(%[[RUN0:[^ ]+]] = %cst{{[_0-9]*}},
// CHECK:           %[[END:.+]] = arith.addi %[[K0]], %c64
// CHECK-NOT:       arith.minui
// CHECK:           %[[PART:.+]]:32 = scf.for %{{.+}} = %[[K0]] to %[[END]] step %c8 iter_args(%{{[^ ]+}} = %cst{{[_0-9]*}},
// CHECK-COUNT-24:    nvvm.mma.sync
// CHECK:           }
// CHECK:           arith.addf %[[RUN0]], %[[PART]]#0
// CHECK-COUNT-31:  arith.addf %{{.+}}, %[[PART]]#
// CHECK:           scf.yield
// CHECK:         }
// CHECK:         scf.if
// CHECK:           %[[SUMS]]#0
// CHECK:           memref.store
// K = 200: the last chunk (8 of K) ends at K.
// CHECK-LABEL: gpu.func @projection_tf32_mma_{{[0-9]+}}(
// CHECK-SAME:    memref<?x200xf32>
// CHECK:         scf.for %[[K1:[^ ]+]] = %c0 to %c200 step %c64
// CHECK:           %[[UP:.+]] = arith.addi %[[K1]], %c64
// CHECK:           %[[END1:.+]] = arith.minui %[[UP]], %c200
// CHECK:           scf.for %{{.+}} = %[[K1]] to %[[END1]] step %c8

// Plain tf32 (one mma a tile and k step, tf32's own 10-bit precision): one
// loop over K.
// PLAIN-LABEL: gpu.func @projection_tf32_mma(
// PLAIN:         scf.for {{.*}} = %c0 to %c256 step %c8
// PLAIN-NOT:     scf.for
// PLAIN:         gpu.return
func.func @long_k(%x: memref<?x256xf32>, %w: memref<64x256xf32>, %y: memref<?x64xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%y : memref<?x64xf32>)
  linalg.contract indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                   affine_map<(d0, d1, d2) -> (d1, d2)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>]
      ins(%x, %w : memref<?x256xf32>, memref<64x256xf32>) outs(%y : memref<?x64xf32>)
  return
}
func.func @partial_chunk(%x: memref<?x200xf32>, %w: memref<64x200xf32>, %y: memref<?x64xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%y : memref<?x64xf32>)
  linalg.contract indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                   affine_map<(d0, d1, d2) -> (d1, d2)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>]
      ins(%x, %w : memref<?x200xf32>, memref<64x200xf32>) outs(%y : memref<?x64xf32>)
  return
}
