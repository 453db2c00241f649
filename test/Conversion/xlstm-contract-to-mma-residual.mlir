// A projection into a zero-filled float32 buffer that only an in-place
// residual add r = r + y then reads adds into r directly: its kernels start
// from the output (the accumulating forms), and the add and the buffer go.
// RUN: xlstm-opt %s --xlstm-contract-to-mma=f32-pair-stores=0 | FileCheck %s
// RUN: xlstm-opt %s --xlstm-contract-to-mma="accumulate-residuals=0 f32-pair-stores=0" | FileCheck %s --check-prefix=OFF
// With accumulate-in-epilogue the pipelined kernel starts from zero and adds
// r where it stores (the products' sum rounded before the residual joins):
// RUN: xlstm-opt %s --xlstm-contract-to-mma="accumulate-in-epilogue=1 f32-pair-stores=0" | FileCheck %s --check-prefix=EPILOGUE
// EPILOGUE-LABEL: gpu.func @projection_mma_staged(
// EPILOGUE-NOT:   memref.load %arg2
// EPILOGUE:       scf.for {{.*}} iter_args(%{{[^ ]+}} = %cst,
// EPILOGUE:       nvvm.mma.sync
// EPILOGUE:       %[[OLD:.+]] = memref.load %arg2[
// EPILOGUE-NEXT:  %[[NEW:.+]] = arith.addf %{{.+}}, %[[OLD]] : f32
// EPILOGUE-NEXT:  memref.store %[[NEW]], %arg2[
// With f32-pair-stores a lane reads, adds and stores its two adjacent
// columns together (8 bytes: the row width is even):
// RUN: xlstm-opt %s --xlstm-contract-to-mma=f32-pair-stores=1 | FileCheck %s --check-prefix=PAIRS
// PAIRS-LABEL:   gpu.func @projection_mma_staged(
// PAIRS:         nvvm.mma.sync
// PAIRS-NOT:     memref.store %{{.+}}, %arg2
// PAIRS:         %[[OLD:.+]] = vector.load %arg2[%[[ROW:.+]], %[[COL:.+]]] {alignment = 8 : i64} : memref<?x128xf32>, vector<2xf32>
// PAIRS-NEXT:    %[[NEW:.+]] = arith.addf %{{.+}}, %[[OLD]] : vector<2xf32>
// PAIRS-NEXT:    vector.store %[[NEW]], %arg2[%[[ROW]], %[[COL]]] {alignment = 8 : i64} : memref<?x128xf32>, vector<2xf32>
// PAIRS-NOT:     memref.store %{{.+}}, %arg2
// PAIRS:         gpu.return

#x = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#w = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
#y = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>

// CHECK-LABEL: func @residual
// CHECK-SAME:    (%[[X:.+]]: memref<?x?x64xbf16>, %[[W:.+]]: memref<128x64xbf16>, %[[R:.+]]: memref<?x?x128xf32>)
// CHECK-NOT:   memref.alloc
// CHECK-NOT:   linalg.generic
// CHECK:       %[[R2:.+]] = memref.collapse_shape %[[R]]
// CHECK:       gpu.launch_func @projection_small_batch_mma{{.*}} args({{.*}}, %[[W]] : memref<128x64xbf16>, %[[R2]] : memref<?x128xf32>
// CHECK:       gpu.launch_func @projection_mma_staged{{.*}} args({{.*}}, %[[W]] : memref<128x64xbf16>, %[[R2]] : memref<?x128xf32>
// CHECK-NOT:   linalg.generic
// CHECK:       return
// OFF-LABEL:   func @residual
// OFF:         linalg.generic
// OFF-NEXT:    ^bb0
// OFF-NEXT:      arith.addf
func.func @residual(%x: memref<?x?x64xbf16>, %w: memref<128x64xbf16>, %r: memref<?x?x128xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %b = memref.dim %x, %c0 : memref<?x?x64xbf16>
  %s = memref.dim %x, %c1 : memref<?x?x64xbf16>
  %y = memref.alloc(%b, %s) : memref<?x?x128xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<?x?x128xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x?x64xbf16>, memref<128x64xbf16>) outs(%y : memref<?x?x128xf32>)
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%r, %y : memref<?x?x128xf32>, memref<?x?x128xf32>) outs(%r : memref<?x?x128xf32>) {
  ^bb0(%a: f32, %p: f32, %o: f32):
    %sum = arith.addf %a, %p : f32
    linalg.yield %sum : f32
  }
  memref.dealloc %y : memref<?x?x128xf32>
  return
}

// The zero buffer is bufferization's shared one (filled once, copied from):
// it stays for the copy, and the projection still adds into r.
// CHECK-LABEL: func @shared_zeros
// CHECK:       linalg.fill
// CHECK:       linalg.copy
// CHECK-NOT:   linalg.generic
// CHECK:       gpu.launch_func @projection_mma_staged{{.*}} %{{.+}} : memref<?x128xf32>
// CHECK-NOT:   linalg.generic
func.func @shared_zeros(%x: memref<?x?x64xbf16>, %w: memref<128x64xbf16>, %r: memref<?x?x128xf32>, %other: memref<?x?x128xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %b = memref.dim %x, %c0 : memref<?x?x64xbf16>
  %s = memref.dim %x, %c1 : memref<?x?x64xbf16>
  %y = memref.alloc(%b, %s) : memref<?x?x128xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<?x?x128xf32>)
  linalg.copy ins(%y : memref<?x?x128xf32>) outs(%other : memref<?x?x128xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x?x64xbf16>, memref<128x64xbf16>) outs(%y : memref<?x?x128xf32>)
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%y : memref<?x?x128xf32>) outs(%r : memref<?x?x128xf32>) {
  ^bb0(%p: f32, %o: f32):
    %sum = arith.addf %o, %p : f32
    linalg.yield %sum : f32
  }
  return
}

// r is read between the projection and the add: as before.
// CHECK-LABEL: func @residual_read_between
// CHECK:       memref.copy
// CHECK:       linalg.generic
func.func @residual_read_between(%x: memref<?x?x64xbf16>, %w: memref<128x64xbf16>, %r: memref<?x?x128xf32>, %keep: memref<?x?x128xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %b = memref.dim %x, %c0 : memref<?x?x64xbf16>
  %s = memref.dim %x, %c1 : memref<?x?x64xbf16>
  %y = memref.alloc(%b, %s) : memref<?x?x128xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<?x?x128xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x?x64xbf16>, memref<128x64xbf16>) outs(%y : memref<?x?x128xf32>)
  memref.copy %r, %keep : memref<?x?x128xf32> to memref<?x?x128xf32>
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%r, %y : memref<?x?x128xf32>, memref<?x?x128xf32>) outs(%r : memref<?x?x128xf32>) {
  ^bb0(%a: f32, %p: f32, %o: f32):
    %sum = arith.addf %a, %p : f32
    linalg.yield %sum : f32
  }
  return
}

// r is a view of a buffer that is read in between: as before (the read must
// see r without the projection).
// CHECK-LABEL: func @residual_view_read_between
// CHECK:       memref.copy
// CHECK:       linalg.generic
func.func @residual_view_read_between(%x: memref<?x?x64xbf16>, %w: memref<128x64xbf16>, %base: memref<?x128xf32>, %keep: memref<?x128xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %b = memref.dim %x, %c0 : memref<?x?x64xbf16>
  %s = memref.dim %x, %c1 : memref<?x?x64xbf16>
  %r = memref.expand_shape %base [[0, 1], [2]] output_shape [%b, %s, 128] : memref<?x128xf32> into memref<?x?x128xf32>
  %y = memref.alloc(%b, %s) : memref<?x?x128xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<?x?x128xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x?x64xbf16>, memref<128x64xbf16>) outs(%y : memref<?x?x128xf32>)
  memref.copy %base, %keep : memref<?x128xf32> to memref<?x128xf32>
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%r, %y : memref<?x?x128xf32>, memref<?x?x128xf32>) outs(%r : memref<?x?x128xf32>) {
  ^bb0(%a: f32, %p: f32, %o: f32):
    %sum = arith.addf %a, %p : f32
    linalg.yield %sum : f32
  }
  return
}

// y allocated outside a loop around the projection and read at the top of
// each iteration (the previous iteration's y): as before.
// CHECK-LABEL: func @residual_in_loop
// CHECK:       scf.for
// CHECK:         linalg.copy
// CHECK:         linalg.generic
func.func @residual_in_loop(%x: memref<?x?x64xbf16>, %w: memref<128x64xbf16>, %r: memref<?x?x128xf32>, %prev: memref<?x?x128xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %b = memref.dim %x, %c0 : memref<?x?x64xbf16>
  %s = memref.dim %x, %c1 : memref<?x?x64xbf16>
  %y = memref.alloc(%b, %s) : memref<?x?x128xf32>
  scf.for %i = %c0 to %n step %c1 {
    linalg.copy ins(%y : memref<?x?x128xf32>) outs(%prev : memref<?x?x128xf32>)
    linalg.fill ins(%zero : f32) outs(%y : memref<?x?x128xf32>)
    linalg.contract indexing_maps = [#x, #w, #y]
        ins(%x, %w : memref<?x?x64xbf16>, memref<128x64xbf16>) outs(%y : memref<?x?x128xf32>)
    linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel", "parallel"]}
        ins(%r, %y : memref<?x?x128xf32>, memref<?x?x128xf32>) outs(%r : memref<?x?x128xf32>) {
    ^bb0(%a: f32, %p: f32, %o: f32):
      %sum = arith.addf %a, %p : f32
      linalg.yield %sum : f32
    }
  }
  return
}
