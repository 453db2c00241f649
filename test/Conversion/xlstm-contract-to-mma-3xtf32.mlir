// RUN: xlstm-opt %s --xlstm-contract-to-mma --cse | FileCheck %s
// RUN: xlstm-opt %s --xlstm-contract-to-mma=tf32=1 --cse | FileCheck %s --check-prefix=PLAIN

// A float32 projection on 3xTF32 sums K in chunks of 64: each chunk on the
// tensor cores from zero (three mma a k step of 8), then one float32 add a
// accumulator into the running sums. The tensor cores' float32 sums are not
// IEEE-rounded; over K = 4096 in one accumulator they put the xLSTM-7B's
// float32 logits 3.2e-4 off float64.
// CHECK-LABEL: gpu.func @projection_tf32_mma(
// CHECK-SAME:    memref<?x256xf32>, %{{[^:]+}}: memref<64x256xf32>
// CHECK:         %[[SUMS:.+]]:32 = scf.for %[[K0:.+]] = %c0 to %c256 step %c64 iter_args(
// CHECK:           %[[END:.+]] = arith.minui
// CHECK:           %[[PART:.+]]:32 = scf.for %{{.+}} = %[[K0]] to %[[END]] step %c8 iter_args(%{{[^ ]+}} = %cst{{[_0-9]*}},
// CHECK-COUNT-24:    nvvm.mma.sync
// CHECK:           }
// CHECK-COUNT-32:  arith.addf %{{.+}}, %[[PART]]#
// CHECK:           scf.yield

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
