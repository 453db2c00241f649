// A projection into a freshly zero-filled buffer writes its results instead
// of adding them: the fill, or the copy of a shared zero buffer that
// bufferization makes, is erased (and the shared fill once nothing copies
// from it). Anything else keeps the accumulating kernel.
// RUN: xlstm-opt %s --xlstm-contract-to-mma="gemv-max-rows=0 stages=0" --split-input-file | FileCheck %s

#x = affine_map<(d0, d1, d2) -> (d0, d2)>
#w = affine_map<(d0, d1, d2) -> (d1, d2)>
#y = affine_map<(d0, d1, d2) -> (d0, d1)>
#id = affine_map<(d0, d1) -> (d0, d1)>

// Two projections copying one zero buffer (one launch each, no fill, no
// copy) and one into its own generic zero fill: all three launch the one
// kernel that never loads its output.
// CHECK-LABEL: func @shared_zero
// CHECK-NOT:   linalg.
// CHECK:       gpu.launch_func @[[$WRITE:projection_mma]]::
// CHECK-NOT:   linalg.
// CHECK:       gpu.launch_func @[[$WRITE]]::
// CHECK-NOT:   linalg.
// CHECK:       gpu.launch_func @[[$WRITE]]::
// CHECK-NOT:   linalg.
// CHECK:       return
// CHECK:       gpu.func @[[$WRITE]](%{{[^:]+}}: memref<?x64xbf16>, %{{[^:]+}}: memref<32x64xbf16>, %[[OUT:[^:]+]]: memref<?x32xf32>
// CHECK-NOT:     memref.load %[[OUT]]
// CHECK:         gpu.return
func.func @shared_zero(%x: memref<?x64xbf16>, %w: memref<32x64xbf16>, %w2: memref<32x64xbf16>)
    -> (memref<?x32xf32>, memref<?x32xf32>, memref<?x32xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = memref.dim %x, %c0 : memref<?x64xbf16>
  %z = memref.alloc(%m) : memref<?x32xf32>
  linalg.fill ins(%zero : f32) outs(%z : memref<?x32xf32>)
  %a = memref.alloc(%m) : memref<?x32xf32>
  linalg.copy ins(%z : memref<?x32xf32>) outs(%a : memref<?x32xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x64xbf16>, memref<32x64xbf16>) outs(%a : memref<?x32xf32>)
  %b = memref.alloc(%m) : memref<?x32xf32>
  linalg.copy ins(%z : memref<?x32xf32>) outs(%b : memref<?x32xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w2 : memref<?x64xbf16>, memref<32x64xbf16>) outs(%b : memref<?x32xf32>)
  %c = memref.alloc(%m) : memref<?x32xf32>
  linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]}
      outs(%c : memref<?x32xf32>) {
  ^bb0(%out: f32):
    linalg.yield %zero : f32
  }
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x64xbf16>, memref<32x64xbf16>) outs(%c : memref<?x32xf32>)
  return %a, %b, %c : memref<?x32xf32>, memref<?x32xf32>, memref<?x32xf32>
}

// -----

#x = affine_map<(d0, d1, d2) -> (d0, d2)>
#w = affine_map<(d0, d1, d2) -> (d1, d2)>
#y = affine_map<(d0, d1, d2) -> (d0, d1)>
#id = affine_map<(d0, d1) -> (d0, d1)>

// A fill of one (a bias-like start) and a zero buffer read by something
// else between the fill and the copy stay: those kernels add to `out`.
// CHECK-LABEL: func @not_zero
// CHECK:       linalg.fill
// CHECK:       gpu.launch_func @[[$ADD:projection_mma]]::
// CHECK:       linalg.fill
// CHECK:       linalg.generic
// CHECK:       linalg.copy
// CHECK:       gpu.launch_func @[[$ADD]]::
// CHECK:       gpu.func @[[$ADD]](%{{[^:]+}}: memref<?x64xbf16>, %{{[^:]+}}: memref<32x64xbf16>, %[[OUT:[^:]+]]: memref<?x32xf32>
// CHECK:         memref.load %[[OUT]]
func.func @not_zero(%x: memref<?x64xbf16>, %w: memref<32x64xbf16>)
    -> (memref<?x32xf32>, memref<?x32xf32>) {
  %c0 = arith.constant 0 : index
  %one = arith.constant 1.0 : f32
  %zero = arith.constant 0.0 : f32
  %m = memref.dim %x, %c0 : memref<?x64xbf16>
  %a = memref.alloc(%m) : memref<?x32xf32>
  linalg.fill ins(%one : f32) outs(%a : memref<?x32xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x64xbf16>, memref<32x64xbf16>) outs(%a : memref<?x32xf32>)
  %z = memref.alloc(%m) : memref<?x32xf32>
  linalg.fill ins(%zero : f32) outs(%z : memref<?x32xf32>)
  // Writes the zero buffer: what the copy below reads is not zero.
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%a : memref<?x32xf32>) outs(%z : memref<?x32xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  }
  %b = memref.alloc(%m) : memref<?x32xf32>
  linalg.copy ins(%z : memref<?x32xf32>) outs(%b : memref<?x32xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x64xbf16>, memref<32x64xbf16>) outs(%b : memref<?x32xf32>)
  return %a, %b : memref<?x32xf32>, memref<?x32xf32>
}

// -----

#x = affine_map<(d0, d1, d2) -> (d0, d2)>
#w = affine_map<(d0, d1, d2) -> (d1, d2)>
#y = affine_map<(d0, d1, d2) -> (d0, d1)>
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>

// A view of the output made before the fill can write it between the fill
// and the projection: the fill stays and the kernel adds.
// CHECK-LABEL: func @view_before_fill
// CHECK:       linalg.fill
// CHECK:       linalg.generic
// CHECK:       gpu.launch_func @[[$VIEW:projection_mma]]::
// CHECK:       gpu.func @[[$VIEW]](%{{[^:]+}}: memref<?x64xbf16>, %{{[^:]+}}: memref<32x64xbf16>, %[[OUT:[^:]+]]: memref<?x32xf32>
// CHECK:         memref.load %[[OUT]]
func.func @view_before_fill(%x: memref<?x64xbf16>, %w: memref<32x64xbf16>)
    -> memref<?x32xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %m = memref.dim %x, %c0 : memref<?x64xbf16>
  %a = memref.alloc(%m) : memref<?x32xf32>
  %v = memref.expand_shape %a [[0], [1, 2]] output_shape [%m, 4, 8]
      : memref<?x32xf32> into memref<?x4x8xf32>
  linalg.fill ins(%zero : f32) outs(%a : memref<?x32xf32>)
  linalg.generic {indexing_maps = [#id3], iterator_types = ["parallel", "parallel", "parallel"]}
      outs(%v : memref<?x4x8xf32>) {
  ^bb0(%out: f32):
    linalg.yield %one : f32
  }
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x64xbf16>, memref<32x64xbf16>) outs(%a : memref<?x32xf32>)
  return %a : memref<?x32xf32>
}

// -----

#x = affine_map<(d0, d1, d2) -> (d0, d2)>
#w = affine_map<(d0, d1, d2) -> (d1, d2)>
#y = affine_map<(d0, d1, d2) -> (d0, d1)>
#id = affine_map<(d0, d1) -> (d0, d1)>

// A written float32 result that only a rounding to bf16 reads (the next
// op's operand): the kernel stores the bf16 values, two adjacent columns
// per 32-bit store, and neither the rounding nor the float32 buffer stays.
// CHECK-LABEL: func @rounded
// CHECK-SAME:  (%[[X:[^:]+]]: memref<?x64xbf16>, %{{[^:]+}}: memref<32x64xbf16>)
// CHECK:       %[[Y:.+]] = memref.alloc(%{{.+}}) : memref<?x32xbf16>
// CHECK-NOT:   memref.alloc
// CHECK-NOT:   linalg.
// CHECK:       gpu.launch_func @[[$ROUND:projection_mma]]::{{.*}} args(%[[X]] : memref<?x64xbf16>, %{{[^:]+}} : memref<32x64xbf16>, %[[Y]] : memref<?x32xbf16>, %{{[^:]+}} : index)
// CHECK-NOT:   linalg.
// CHECK:       return %[[Y]]
func.func @rounded(%x: memref<?x64xbf16>, %w: memref<32x64xbf16>) -> memref<?x32xbf16> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = memref.dim %x, %c0 : memref<?x64xbf16>
  %y = memref.alloc(%m) : memref<?x32xbf16>
  %a = memref.alloc(%m) : memref<?x32xf32>
  linalg.fill ins(%zero : f32) outs(%a : memref<?x32xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x64xbf16>, memref<32x64xbf16>) outs(%a : memref<?x32xf32>)
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%a : memref<?x32xf32>) outs(%y : memref<?x32xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %t = arith.truncf %in : f32 to bf16
    linalg.yield %t : bf16
  }
  return %y : memref<?x32xbf16>
}

// A float32 result that something else reads too keeps its buffer and the
// rounding.
// CHECK-LABEL: func @rounded_and_read
// CHECK:       gpu.launch_func
// CHECK:       linalg.generic
// CHECK:       linalg.copy
// The kernel of @rounded:
// CHECK:       gpu.func @[[$ROUND]](%{{[^:]+}}: memref<?x64xbf16>, %{{[^:]+}}: memref<32x64xbf16>, %[[OUTK:[^:]+]]: memref<?x32xbf16>
// CHECK-NOT:     memref.load %[[OUTK]]
// CHECK:         arith.truncf {{.*}} : vector<2xf32> to vector<2xbf16>
// CHECK:         vector.store {{.*}}, %[[OUTK]]{{.*}} {alignment = 4 : i64} : memref<?x32xbf16>, vector<2xbf16>
func.func @rounded_and_read(%x: memref<?x64xbf16>, %w: memref<32x64xbf16>, %z: memref<?x32xf32>) -> memref<?x32xbf16> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = memref.dim %x, %c0 : memref<?x64xbf16>
  %y = memref.alloc(%m) : memref<?x32xbf16>
  %a = memref.alloc(%m) : memref<?x32xf32>
  linalg.fill ins(%zero : f32) outs(%a : memref<?x32xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x64xbf16>, memref<32x64xbf16>) outs(%a : memref<?x32xf32>)
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%a : memref<?x32xf32>) outs(%y : memref<?x32xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %t = arith.truncf %in : f32 to bf16
    linalg.yield %t : bf16
  }
  linalg.copy ins(%a : memref<?x32xf32>) outs(%z : memref<?x32xf32>)
  return %y : memref<?x32xbf16>
}

// -----

// The bf16 output read through a view between the projection and the
// rounding: writing it early would change what the copy reads.
// CHECK-LABEL: func @rounded_output_read_early
// CHECK:       gpu.launch_func
// CHECK:       linalg.copy
// CHECK:       linalg.generic
func.func @rounded_output_read_early(%x: memref<?x64xbf16>, %w: memref<32x64xbf16>, %z: memref<?x16xbf16>) -> memref<?x32xbf16> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = memref.dim %x, %c0 : memref<?x64xbf16>
  %y = memref.alloc(%m) : memref<?x32xbf16>
  %v = memref.subview %y[0, 0] [%m, 16] [1, 1] : memref<?x32xbf16> to memref<?x16xbf16, strided<[32, 1]>>
  %a = memref.alloc(%m) : memref<?x32xf32>
  linalg.fill ins(%zero : f32) outs(%a : memref<?x32xf32>)
  linalg.contract indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                   affine_map<(d0, d1, d2) -> (d1, d2)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>]
      ins(%x, %w : memref<?x64xbf16>, memref<32x64xbf16>) outs(%a : memref<?x32xf32>)
  linalg.copy ins(%v : memref<?x16xbf16, strided<[32, 1]>>) outs(%z : memref<?x16xbf16>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%a : memref<?x32xf32>) outs(%y : memref<?x32xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %t = arith.truncf %in : f32 to bf16
    linalg.yield %t : bf16
  }
  return %y : memref<?x32xbf16>
}

// -----

// The same shapes and types, written and added to: two kernels (the
// configuration keys the cache, not only the types).
// CHECK-LABEL: func @write_and_add
// CHECK:       gpu.launch_func @[[$W:projection_mma(_[0-9]+)?]]::
// CHECK:       gpu.launch_func @[[$A:projection_mma(_[0-9]+)?]]::
// CHECK:       gpu.func @[[$W]](%{{[^:]+}}: memref<?x64xbf16>, %{{[^:]+}}: memref<32x64xbf16>, %[[OUTW:[^:]+]]: memref<?x32xf32>
// CHECK-NOT:     memref.load %[[OUTW]]
// CHECK:       gpu.func @[[$A]](%{{[^:]+}}: memref<?x64xbf16>, %{{[^:]+}}: memref<32x64xbf16>, %[[OUTA:[^:]+]]: memref<?x32xf32>
// CHECK:         memref.load %[[OUTA]]
func.func @write_and_add(%x: memref<?x64xbf16>, %w: memref<32x64xbf16>, %acc: memref<?x32xf32>) -> memref<?x32xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = memref.dim %x, %c0 : memref<?x64xbf16>
  %a = memref.alloc(%m) : memref<?x32xf32>
  linalg.fill ins(%zero : f32) outs(%a : memref<?x32xf32>)
  linalg.contract indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                   affine_map<(d0, d1, d2) -> (d1, d2)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>]
      ins(%x, %w : memref<?x64xbf16>, memref<32x64xbf16>) outs(%a : memref<?x32xf32>)
  linalg.contract indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                   affine_map<(d0, d1, d2) -> (d1, d2)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>]
      ins(%x, %w : memref<?x64xbf16>, memref<32x64xbf16>) outs(%acc : memref<?x32xf32>)
  return %a : memref<?x32xf32>
}
