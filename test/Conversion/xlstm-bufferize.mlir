// RUN: xlstm-opt %s --xlstm-bufferize --canonicalize | FileCheck %s

// Function boundaries become dense buffers; a loop may yield a fresh buffer
// each iteration; the copy into the slice is a linalg.copy (a kernel later),
// not a memref.copy.
// CHECK-LABEL: func @scan
// CHECK-SAME:  (%[[X:.+]]: memref<?x8xf32>, %[[N:.+]]: index) -> memref<?x8xf32>
// CHECK:       scf.for {{.*}} -> (memref<?x8xf32>)
// CHECK:         memref.alloc
// CHECK:         linalg.generic
// CHECK:         scf.yield
// CHECK:       linalg.copy
// CHECK-NOT:   memref.copy
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @scan(%x: tensor<?x8xf32>, %n: index) -> tensor<?x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %x) -> tensor<?x8xf32> {
    %e = tensor.empty(%n) : tensor<?x8xf32>
    %next = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
        ins(%acc, %x : tensor<?x8xf32>, tensor<?x8xf32>) outs(%e : tensor<?x8xf32>) {
    ^bb0(%a: f32, %b: f32, %o: f32):
      %s = arith.addf %a, %b : f32
      linalg.yield %s : f32
    } -> tensor<?x8xf32>
    scf.yield %next : tensor<?x8xf32>
  }
  %slice = tensor.extract_slice %r[0, 0] [%n, 4] [1, 1] : tensor<?x8xf32> to tensor<?x4xf32>
  %out = tensor.insert_slice %slice into %x[0, 4] [%n, 4] [1, 1] : tensor<?x4xf32> into tensor<?x8xf32>
  return %out : tensor<?x8xf32>
}
