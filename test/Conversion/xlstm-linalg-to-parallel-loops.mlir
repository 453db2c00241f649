// RUN: xlstm-opt %s --pass-pipeline="builtin.module(func.func(xlstm-linalg-to-parallel-loops))" | FileCheck %s --check-prefix=RAW
// With the canonicalization xlstm-to-gpu runs after it, the index maps fold:
// RUN: xlstm-opt %s --pass-pipeline="builtin.module(func.func(xlstm-linalg-to-parallel-loops,canonicalize))" | FileCheck %s

// RAW-LABEL: func.func @elementwise
// RAW:         scf.parallel
// RAW:           affine.apply
// RAW-NOT:     linalg.generic

// Parallel dimensions become one scf.parallel, reductions an scf.for
// inside it, as upstream's convert-linalg-to-parallel-loops does.
// CHECK-LABEL: func.func @elementwise
// CHECK:         scf.parallel (%[[I:[a-z0-9_]+]]) =
// CHECK:           %[[X:[a-z0-9_]+]] = memref.load %{{.+}}[%[[I]]]
// CHECK:           %[[Y:[a-z0-9_]+]] = arith.mulf %[[X]], %[[X]]
// CHECK:           memref.store %[[Y]], %{{.+}}[%[[I]]]
// CHECK-NOT:     linalg.
func.func @elementwise(%a: memref<?xf32>, %b: memref<?xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>],
                  iterator_types = ["parallel"]}
      ins(%a : memref<?xf32>) outs(%b : memref<?xf32>) {
  ^bb0(%x: f32, %y: f32):
    %m = arith.mulf %x, %x : f32
    linalg.yield %m : f32
  }
  return
}

// CHECK-LABEL: func.func @row_sums
// CHECK:         scf.parallel (%[[R:[a-z0-9_]+]]) =
// CHECK:           scf.for %[[C:[a-z0-9_]+]] =
// CHECK:             memref.load %{{.+}}[%[[R]], %[[C]]]
// CHECK:             arith.addf
// CHECK-NOT:     linalg.
func.func @row_sums(%a: memref<8x16xf32>, %s: memref<8xf32>) {
  linalg.generic {indexing_maps = [affine_map<(r, c) -> (r, c)>, affine_map<(r, c) -> (r)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%a : memref<8x16xf32>) outs(%s : memref<8xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %t = arith.addf %x, %acc : f32
    linalg.yield %t : f32
  }
  return
}

// Ops on tensors are left alone.
// CHECK-LABEL: func.func @on_tensors
// CHECK:         linalg.fill
func.func @on_tensors(%t: tensor<4xf32>) -> tensor<4xf32> {
  %c = arith.constant 1.0 : f32
  %f = linalg.fill ins(%c : f32) outs(%t : tensor<4xf32>) -> tensor<4xf32>
  return %f : tensor<4xf32>
}
