// Projections reading a slice of the last dimension of x (the per-block
// operands of a headwise projection) and one matrix of a stacked weight:
// x's source is collapsed to rows and sliced again, W is read in place.
// Unaligned or partial slices stay generic, with the reason recorded.
// RUN: xlstm-opt %s --xlstm-contract-to-mma="gemv-max-rows=0" --split-input-file | FileCheck %s

#x = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#w = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
#y = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>

// CHECK-LABEL: func @block_slice
// CHECK:       %[[X:.+]] = memref.alloc
// CHECK:       %[[ROWS:.+]] = memref.collapse_shape %[[X]] {{\[\[}}0, 1], [2]] : memref<?x?x128xbf16> into memref<?x128xbf16>
// CHECK:       memref.subview %[[ROWS]][0, 32] [%{{.+}}, 32] [1, 1] : memref<?x128xbf16> to memref<?x32xbf16, strided<[128, 1], offset: 32>>
// CHECK:       gpu.launch
// CHECK-NOT:   linalg.contract
func.func @block_slice(%a: memref<?x?x128xbf16>, %w: memref<4x32x32xbf16>) -> memref<?x?x32xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %d0 = memref.dim %a, %c0 : memref<?x?x128xbf16>
  %d1 = memref.dim %a, %c1 : memref<?x?x128xbf16>
  %x = memref.alloc(%d0, %d1) : memref<?x?x128xbf16>
  %xs = memref.subview %x[0, 0, 32] [%d0, %d1, 32] [1, 1, 1] : memref<?x?x128xbf16> to memref<?x?x32xbf16, strided<[?, 128, 1], offset: 32>>
  %ws = memref.subview %w[1, 0, 0] [1, 32, 32] [1, 1, 1] : memref<4x32x32xbf16> to memref<32x32xbf16, strided<[32, 1], offset: 1024>>
  %o = memref.alloc(%d0, %d1) : memref<?x?x32xf32>
  linalg.contract indexing_maps = [#x, #w, #y] ins(%xs, %ws : memref<?x?x32xbf16, strided<[?, 128, 1], offset: 32>>, memref<32x32xbf16, strided<[32, 1], offset: 1024>>) outs(%o : memref<?x?x32xf32>)
  return %o : memref<?x?x32xf32>
}

// -----

#x = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#w = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
#y = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>

// An offset of 4 bf16 (8 bytes) breaks the 16-byte loads; a slice of the
// leading dimensions does not collapse to rows of x.
// CHECK-LABEL: func @not_taken
// CHECK:       linalg.contract {{.*}} {xlstm.generic_reason = "strided operands other than 16-byte aligned slices of the last dimension"}
// CHECK:       linalg.contract {{.*}} {xlstm.generic_reason = "strided operands other than 16-byte aligned slices of the last dimension"}
// CHECK-NOT:   gpu.launch
func.func @not_taken(%a: memref<?x?x128xbf16>, %w: memref<32x32xbf16>, %o: memref<?x?x32xf32>, %o2: memref<1x?x32xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %d0 = memref.dim %a, %c0 : memref<?x?x128xbf16>
  %d1 = memref.dim %a, %c1 : memref<?x?x128xbf16>
  %xs = memref.subview %a[0, 0, 4] [%d0, %d1, 32] [1, 1, 1] : memref<?x?x128xbf16> to memref<?x?x32xbf16, strided<[?, 128, 1], offset: 4>>
  linalg.contract indexing_maps = [#x, #w, #y] ins(%xs, %w : memref<?x?x32xbf16, strided<[?, 128, 1], offset: 4>>, memref<32x32xbf16>) outs(%o : memref<?x?x32xf32>)
  %lead = memref.subview %a[0, 0, 0] [1, %d1, 32] [1, 1, 1] : memref<?x?x128xbf16> to memref<1x?x32xbf16, strided<[?, 128, 1]>>
  linalg.contract indexing_maps = [#x, #w, #y] ins(%lead, %w : memref<1x?x32xbf16, strided<[?, 128, 1]>>, memref<32x32xbf16>) outs(%o2 : memref<1x?x32xf32>)
  return
}
