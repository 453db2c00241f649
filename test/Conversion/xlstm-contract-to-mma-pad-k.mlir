// A projection whose K the mma's k step does not divide (8 for float32, 16
// for bf16) first copies x and W into zero-filled buffers of K rounded up
// (8 for float32, 32 for bf16: the staged kernels' step) and takes the
// kernels on them; the zeros add nothing. With pad-k=0 it stays
// linalg.contract for the generic path.
// RUN: xlstm-opt %s --xlstm-contract-to-mma | FileCheck %s
// RUN: xlstm-opt %s --xlstm-contract-to-mma=pad-k=0 | FileCheck %s --check-prefix=NOPAD

#x = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#w = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
#y = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>

// CHECK-LABEL: func @odd_k
// CHECK:       %[[XP:.+]] = memref.alloc({{.*}}) : memref<?x?x16xf32>
// CHECK:       linalg.fill ins(%{{.+}} : f32) outs(%[[XP]] : memref<?x?x16xf32>)
// CHECK:       %[[XS:.+]] = memref.subview %[[XP]][0, 0, 0] [%{{.+}}, %{{.+}}, 12] [1, 1, 1]
// CHECK:       linalg.copy ins(%{{.+}} : memref<?x?x12xf32>) outs(%[[XS]] :
// CHECK:       %[[WP:.+]] = memref.alloc() : memref<24x16xf32>
// CHECK:       linalg.fill ins(%{{.+}} : f32) outs(%[[WP]] : memref<24x16xf32>)
// CHECK:       linalg.copy ins(%{{.+}} : memref<24x12xf32>) outs(%{{.+}} : memref<24x12xf32, strided<[16, 1]>>)
// CHECK:       gpu.launch_func {{.*}} args(%{{.+}} : memref<?x16xf32>, %[[WP]] : memref<24x16xf32>
// CHECK:       %[[XB:.+]] = memref.alloc({{.*}}) : memref<?x?x32xbf16>
// CHECK:       linalg.fill ins(%{{.+}} : bf16) outs(%[[XB]] : memref<?x?x32xbf16>)
// CHECK:       linalg.copy ins(%{{.+}} : memref<?x?x24xbf16>) outs(%{{.+}} : memref<?x?x24xbf16, strided<[?, 32, 1]>>)
// CHECK:       %[[WB:.+]] = memref.alloc() : memref<24x32xbf16>
// CHECK:       linalg.copy ins(%{{.+}} : memref<24x24xbf16>) outs(%{{.+}} : memref<24x24xbf16, strided<[32, 1]>>)
// CHECK:       gpu.launch_func {{.*}} %[[WB]] : memref<24x32xbf16>
// CHECK-NOT:   linalg.contract
// CHECK:       return
// NOPAD-LABEL: func @odd_k
// NOPAD-COUNT-2: linalg.contract {{.*}}xlstm.generic_reason = "K = {{12|24}} is not a multiple of {{8|16}}"
// NOPAD-NOT:   gpu.launch_func
func.func @odd_k(%x: memref<?x?x12xf32>, %w: memref<24x12xf32>, %y: memref<?x?x24xf32>,
                 %x2: memref<?x?x24xbf16>, %w2: memref<24x24xbf16>, %y2: memref<?x?x24xf32>) {
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x?x12xf32>, memref<24x12xf32>) outs(%y : memref<?x?x24xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x2, %w2 : memref<?x?x24xbf16>, memref<24x24xbf16>) outs(%y2 : memref<?x?x24xf32>)
  return
}

// An output the kernels cannot store to (a strided view other than a
// 16-byte aligned slice): no copies, the generic path as before.
// CHECK-LABEL: func @odd_k_strided_out
// CHECK-NOT:   memref.alloc
// CHECK:       linalg.contract {{.*}}xlstm.generic_reason = "strided operands other than 16-byte aligned slices of the last dimension"
// CHECK-NOT:   gpu.launch_func
func.func @odd_k_strided_out(%x: memref<?x?x12xf32>, %w: memref<24x12xf32>,
                             %y: memref<?x?x24xf32, strided<[?, 32, 1]>>) {
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x?x12xf32>, memref<24x12xf32>) outs(%y : memref<?x?x24xf32, strided<[?, 32, 1]>>)
  return
}
