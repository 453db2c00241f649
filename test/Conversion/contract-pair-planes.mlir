// sibling-pair-planes (on by default): headwise projections of two x's with the same rows
// (the sLSTM's i and f gates read the conv's output, z and o the norm's)
// join one group. Their decoding blocks share one launch, and above
// gemv-max-rows the two sibling pairs run as one pipelined launch whose grid
// z takes pair z / heads, head z % heads: the second pair's x, W and outputs
// are selected in the kernel before the head's views.
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="sibling-pair-planes=1 shared-epilogue=0 permuted-column-stores=0 staged-tile-short-k= short-k-tiles-per-block=1 resident-weights=0" | FileCheck %s --check-prefix=PLANES
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="sibling-pair-planes=1 staged-tile-short-k= short-k-tiles-per-block=1 resident-weights=0" --xlstm-lowering-report -o /dev/null | FileCheck %s --check-prefix=REPORT
// With resident-weights (the default), the joint kernel takes both pairs in
// one launch: the grid is a plane of blocks for each x, the kernel picks
// its plane's x, W and outputs, then its head and slices within the plane.
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="sibling-pair-planes=1" | FileCheck %s --check-prefix=RESIDENT
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="sibling-pair-planes=1" --xlstm-lowering-report -o /dev/null | FileCheck %s --check-prefix=RESIDENTREPORT
// RESIDENTREPORT: gates_of_two_xs {{.*}}[M 2-16] | mma-resident-weights 128-row slices 8 warps 3 stages, 16-byte stores from registers (W rows permuted), one launch of 2 x's, 2 projections each, each block one head's W of all 2 in shared memory and each slice through them, one launch for its 2 heads [M > 16]
// RESIDENTREPORT: rows_not_known_equal {{.*}}[M <= 16] | mma-resident-weights {{.*}}one launch of 2 projections of one x,
// Off (the default before session 48): a pair launch for each x.
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="shared-epilogue=0 permuted-column-stores=0 staged-tile-short-k= short-k-tiles-per-block=1 resident-weights=0 sibling-pair-planes=0" | FileCheck %s --check-prefix=OFF

#x = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
#w = affine_map<(d0, d1, d2, d3, d4) -> (d2, d3, d4)>
#y = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>

// REPORT: gates_of_two_xs {{.*}}gemv 4 warps unroll 2, one launch for the 8 heads of 4 projections of 2 x's [M = 1]
// REPORT-SAME: mma-staged 128x128x64 4 warps 3 stages group-m 8 swizzled, 16-byte stores from registers (W rows permuted), one launch of 2 sibling pairs of 2 x's, W rows interleaved by 8, each output stored, one launch for the 4 heads of both pairs [M > 16]
// REPORT: rows_not_known_equal {{.*}}one launch for the 4 heads of 2 projections of one x [M <= 16] | {{.*}}one launch of 2 projections of one x,
// PLANES-LABEL: func @gates_of_two_xs
// PLANES-SAME:    (%[[XA:[^:]+]]: memref<?x?x2x64xbf16>,
// PLANES:         %[[XB:.+]] = memref.alloc(%{{.+}}, %{{.+}}) : memref<?x?x2x64xbf16>
// PLANES:         %[[XB2:.+]] = memref.collapse_shape %[[XB]] {{\[}}[0, 1], [2, 3]]
// PLANES:         scf.if
// PLANES:           gpu.launch_func @projection_small_batch_mma_heads{{[_0-9]*}}::
// PLANES-NOT:       gpu.launch_func
// PLANES:         } else {
// PLANES:           gpu.launch_func @projection_mma_pair::@projection_mma_pair blocks in (%{{.+}}, %c1{{[_0-9]*}}, %c4{{[_0-9]*}}) {{.*}} args(%{{.+}} : memref<?x128xbf16>, %{{.+}} : memref<128x64xbf16>, %{{.+}} : memref<?x128xf32>, %{{.+}} : index, %{{.+}} : memref<128x64xbf16>, %{{.+}} : memref<?x128xf32>, %[[XB2]] : memref<?x128xbf16>, %{{.+}} : memref<128x64xbf16>, %{{.+}} : memref<128x64xbf16>, %{{.+}} : memref<?x128xf32>, %{{.+}} : memref<?x128xf32>)
// PLANES-NOT:       gpu.launch_func
// PLANES:         return
// The kernel: grid planes 2 and 3 take the second pair, head z - 2.
// PLANES:       gpu.func @projection_mma_pair(
// PLANES:         %[[Z:.+]] = gpu.block_id z
// PLANES:         %[[UPPER:.+]] = arith.cmpi uge, %[[Z]], %[[TWO:.+]] : index
// PLANES:         %[[LESS:.+]] = arith.subi %[[Z]], %[[TWO]] : index
// PLANES:         %[[HEAD:.+]] = arith.select %[[UPPER]], %[[LESS]], %[[Z]] : index
// PLANES:         %[[X:.+]] = arith.select %[[UPPER]], %arg6, %arg0 : memref<?x128xbf16>
// PLANES:         %[[W:.+]] = arith.select %[[UPPER]], %arg7, %arg1 : memref<128x64xbf16>
// PLANES:         %[[W2:.+]] = arith.select %[[UPPER]], %arg8, %arg4 : memref<128x64xbf16>
// PLANES:         %[[O:.+]] = arith.select %[[UPPER]], %arg9, %arg2 : memref<?x128xf32>
// PLANES:         %[[O2:.+]] = arith.select %[[UPPER]], %arg10, %arg5 : memref<?x128xf32>
// PLANES:         memref.subview %[[X]][0, %{{.+}}] [%arg3, 64]
// PLANES:         gpu.return
// RESIDENT-LABEL: func @gates_of_two_xs
// RESIDENT:       } else {
// RESIDENT:         %[[SLICES:.+]] = arith.ceildivui %{{.+}}, %c128{{[_0-9]*}} : index
// RESIDENT:         %[[ALL:.+]] = arith.muli %[[SLICES]], %c4{{[_0-9]*}} : index
// RESIDENT:         %[[WANT:.+]] = arith.ceildivui %[[ALL]], %c132 : index
// RESIDENT:         %[[PER:.+]] = arith.maxui %[[WANT]], %c1{{[_0-9]*}} : index
// RESIDENT:         %[[SPLITS:.+]] = arith.ceildivui %[[SLICES]], %[[PER]] : index
// RESIDENT:         %[[GRID:.+]] = arith.muli %[[SPLITS]], %c4{{[_0-9]*}} : index
// RESIDENT:         gpu.launch_func @projection_mma_resident::@projection_mma_resident blocks in (%[[GRID]], %c1{{[_0-9]*}}, %c1{{[_0-9]*}})
// RESIDENT-NOT:     gpu.launch_func
// RESIDENT:       return
// RESIDENT:       gpu.func @projection_mma_resident(%arg0: memref<?x128xbf16>, %arg1: index, %arg2: index, {{.*}}, %arg11: memref<?x128xbf16>) {{.*}}kernel
// RESIDENT:         %[[B:.+]] = gpu.block_id x
// RESIDENT:         %[[S:.+]] = arith.ceildivui %arg1, %c128{{[_0-9]*}} : index
// RESIDENT:         %[[SPL:.+]] = arith.ceildivui %[[S]], %arg2 : index
// RESIDENT:         %[[PB:.+]] = arith.muli %[[SPL]], %c2{{[_0-9]*}} : index
// RESIDENT-NEXT:    %[[PLANE:.+]] = arith.divui %[[B]], %[[PB]] : index
// RESIDENT-NEXT:    %[[WITHIN:.+]] = arith.remui %[[B]], %[[PB]] : index
// RESIDENT:         %[[IS:.+]] = arith.cmpi eq, %[[PLANE]], %c1{{[_0-9]*}} : index
// RESIDENT-NEXT:    %[[X:.+]] = arith.select %[[IS]], %arg11, %arg0
// RESIDENT-NEXT:    %[[W1:.+]] = arith.select %[[IS]], %arg7, %arg3
// RESIDENT-NEXT:    %[[O1:.+]] = arith.select %[[IS]], %arg8, %arg4
// RESIDENT-NEXT:    %[[W2:.+]] = arith.select %[[IS]], %arg9, %arg5
// RESIDENT-NEXT:    %[[O2:.+]] = arith.select %[[IS]], %arg10, %arg6
// RESIDENT:         %[[HEAD:.+]] = arith.remui %[[WITHIN]], %c2{{[_0-9]*}} : index
// RESIDENT:         arith.divui %[[WITHIN]], %c2{{[_0-9]*}} : index
// RESIDENT-DAG:     memref.subview %[[X]][0, %{{.+}}]
// RESIDENT-DAG:     memref.subview %[[W1]][%{{.+}}, 0]
// RESIDENT-DAG:     memref.subview %[[O1]][0, %{{.+}}]
// RESIDENT-DAG:     memref.subview %[[W2]][%{{.+}}, 0]
// RESIDENT-DAG:     memref.subview %[[O2]][0, %{{.+}}]
// RESIDENT:         gpu.return
// OFF-LABEL: func @gates_of_two_xs
// OFF:         gpu.launch_func @projection_small_batch_mma_heads{{[_0-9]*}}::
// OFF:         } else {
// OFF:           gpu.launch_func @projection_mma_pair::@projection_mma_pair blocks in (%{{.+}}, %c1{{[_0-9]*}}, %c2{{[_0-9]*}})
// OFF:         gpu.launch_func @projection_small_batch_mma_heads{{[_0-9]*}}::
// OFF:         } else {
// OFF:           gpu.launch_func @projection_mma_pair::@projection_mma_pair blocks in (%{{.+}}, %c1{{[_0-9]*}}, %c2{{[_0-9]*}})
// OFF:         return
func.func @gates_of_two_xs(%xa: memref<?x?x2x64xbf16>, %wi: memref<2x64x64xbf16>, %wf: memref<2x64x64xbf16>, %wz: memref<2x64x64xbf16>, %wo: memref<2x64x64xbf16>) -> (memref<?x?x2x64xf32>, memref<?x?x2x64xf32>, memref<?x?x2x64xf32>, memref<?x?x2x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %d0 = memref.dim %xa, %c0 : memref<?x?x2x64xbf16>
  %d1 = memref.dim %xa, %c1 : memref<?x?x2x64xbf16>
  %xb = memref.alloc(%d0, %d1) : memref<?x?x2x64xbf16>
  linalg.copy ins(%xa : memref<?x?x2x64xbf16>) outs(%xb : memref<?x?x2x64xbf16>)
  %i = memref.alloc(%d0, %d1) : memref<?x?x2x64xf32>
  linalg.fill ins(%zero : f32) outs(%i : memref<?x?x2x64xf32>)
  linalg.contract indexing_maps = [#x, #w, #y] ins(%xa, %wi : memref<?x?x2x64xbf16>, memref<2x64x64xbf16>) outs(%i : memref<?x?x2x64xf32>)
  %f = memref.alloc(%d0, %d1) : memref<?x?x2x64xf32>
  linalg.fill ins(%zero : f32) outs(%f : memref<?x?x2x64xf32>)
  linalg.contract indexing_maps = [#x, #w, #y] ins(%xa, %wf : memref<?x?x2x64xbf16>, memref<2x64x64xbf16>) outs(%f : memref<?x?x2x64xf32>)
  // (The rows of the second x: the same dimensions of the first, through a
  // view made later.)
  %d0b = memref.dim %xb, %c0 : memref<?x?x2x64xbf16>
  %d1b = memref.dim %xb, %c1 : memref<?x?x2x64xbf16>
  %z = memref.alloc(%d0b, %d1b) : memref<?x?x2x64xf32>
  linalg.fill ins(%zero : f32) outs(%z : memref<?x?x2x64xf32>)
  linalg.contract indexing_maps = [#x, #w, #y] ins(%xb, %wz : memref<?x?x2x64xbf16>, memref<2x64x64xbf16>) outs(%z : memref<?x?x2x64xf32>)
  %o = memref.alloc(%d0b, %d1b) : memref<?x?x2x64xf32>
  linalg.fill ins(%zero : f32) outs(%o : memref<?x?x2x64xf32>)
  linalg.contract indexing_maps = [#x, #w, #y] ins(%xb, %wo : memref<?x?x2x64xbf16>, memref<2x64x64xbf16>) outs(%o : memref<?x?x2x64xf32>)
  return %i, %f, %z, %o : memref<?x?x2x64xf32>, memref<?x?x2x64xf32>, memref<?x?x2x64xf32>, memref<?x?x2x64xf32>
}

// -----

#x = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
#w = affine_map<(d0, d1, d2, d3, d4) -> (d2, d3, d4)>
#y = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>

// Two x's whose rows are not known to be equal (two arguments): a pair
// launch each, and a decoding launch each.
// PLANES-LABEL: func @rows_not_known_equal
// PLANES:         gpu.launch_func @projection_small_batch_mma_heads{{[_0-9]*}}::
// PLANES:         gpu.launch_func @projection_mma_pair::@projection_mma_pair blocks in (%{{.+}}, %c1{{[_0-9]*}}, %c2{{[_0-9]*}})
// PLANES:         gpu.launch_func @projection_small_batch_mma_heads{{[_0-9]*}}::
// PLANES:         gpu.launch_func @projection_mma_pair::@projection_mma_pair blocks in (%{{.+}}, %c1{{[_0-9]*}}, %c2{{[_0-9]*}})
// PLANES:         return
func.func @rows_not_known_equal(%xa: memref<?x?x2x64xbf16>, %xb: memref<?x?x2x64xbf16>, %wi: memref<2x64x64xbf16>, %wf: memref<2x64x64xbf16>, %wz: memref<2x64x64xbf16>, %wo: memref<2x64x64xbf16>) -> (memref<?x?x2x64xf32>, memref<?x?x2x64xf32>, memref<?x?x2x64xf32>, memref<?x?x2x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %d0 = memref.dim %xa, %c0 : memref<?x?x2x64xbf16>
  %d1 = memref.dim %xa, %c1 : memref<?x?x2x64xbf16>
  %i = memref.alloc(%d0, %d1) : memref<?x?x2x64xf32>
  linalg.fill ins(%zero : f32) outs(%i : memref<?x?x2x64xf32>)
  linalg.contract indexing_maps = [#x, #w, #y] ins(%xa, %wi : memref<?x?x2x64xbf16>, memref<2x64x64xbf16>) outs(%i : memref<?x?x2x64xf32>)
  %f = memref.alloc(%d0, %d1) : memref<?x?x2x64xf32>
  linalg.fill ins(%zero : f32) outs(%f : memref<?x?x2x64xf32>)
  linalg.contract indexing_maps = [#x, #w, #y] ins(%xa, %wf : memref<?x?x2x64xbf16>, memref<2x64x64xbf16>) outs(%f : memref<?x?x2x64xf32>)
  %d0b = memref.dim %xb, %c0 : memref<?x?x2x64xbf16>
  %d1b = memref.dim %xb, %c1 : memref<?x?x2x64xbf16>
  %z = memref.alloc(%d0b, %d1b) : memref<?x?x2x64xf32>
  linalg.fill ins(%zero : f32) outs(%z : memref<?x?x2x64xf32>)
  linalg.contract indexing_maps = [#x, #w, #y] ins(%xb, %wz : memref<?x?x2x64xbf16>, memref<2x64x64xbf16>) outs(%z : memref<?x?x2x64xf32>)
  %o = memref.alloc(%d0b, %d1b) : memref<?x?x2x64xf32>
  linalg.fill ins(%zero : f32) outs(%o : memref<?x?x2x64xf32>)
  linalg.contract indexing_maps = [#x, #w, #y] ins(%xb, %wo : memref<?x?x2x64xbf16>, memref<2x64x64xbf16>) outs(%o : memref<?x?x2x64xf32>)
  return %i, %f, %z, %o : memref<?x?x2x64xf32>, memref<?x?x2x64xf32>, memref<?x?x2x64xf32>, memref<?x?x2x64xf32>
}

// -----

#x = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
#w = affine_map<(d0, d1, d2, d3, d4) -> (d2, d3, d4)>
#y = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>

// The second x written after the first pair (it must keep its value from
// the first pair's place on): the second pair stays where it is.
// PLANES-LABEL: func @second_x_written_between
// PLANES:         gpu.launch_func @projection_mma_pair::@projection_mma_pair blocks in (%{{.+}}, %c1{{[_0-9]*}}, %c2{{[_0-9]*}})
// PLANES:         linalg.copy
// PLANES:         gpu.launch_func @projection_mma_pair::@projection_mma_pair blocks in (%{{.+}}, %c1{{[_0-9]*}}, %c2{{[_0-9]*}})
// PLANES:         return
func.func @second_x_written_between(%xa: memref<?x?x2x64xbf16>, %wi: memref<2x64x64xbf16>, %wf: memref<2x64x64xbf16>, %wz: memref<2x64x64xbf16>, %wo: memref<2x64x64xbf16>) -> (memref<?x?x2x64xf32>, memref<?x?x2x64xf32>, memref<?x?x2x64xf32>, memref<?x?x2x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %d0 = memref.dim %xa, %c0 : memref<?x?x2x64xbf16>
  %d1 = memref.dim %xa, %c1 : memref<?x?x2x64xbf16>
  %xb = memref.alloc(%d0, %d1) : memref<?x?x2x64xbf16>
  %i = memref.alloc(%d0, %d1) : memref<?x?x2x64xf32>
  linalg.fill ins(%zero : f32) outs(%i : memref<?x?x2x64xf32>)
  linalg.contract indexing_maps = [#x, #w, #y] ins(%xa, %wi : memref<?x?x2x64xbf16>, memref<2x64x64xbf16>) outs(%i : memref<?x?x2x64xf32>)
  %f = memref.alloc(%d0, %d1) : memref<?x?x2x64xf32>
  linalg.fill ins(%zero : f32) outs(%f : memref<?x?x2x64xf32>)
  linalg.contract indexing_maps = [#x, #w, #y] ins(%xa, %wf : memref<?x?x2x64xbf16>, memref<2x64x64xbf16>) outs(%f : memref<?x?x2x64xf32>)
  linalg.copy ins(%xa : memref<?x?x2x64xbf16>) outs(%xb : memref<?x?x2x64xbf16>)
  %z = memref.alloc(%d0, %d1) : memref<?x?x2x64xf32>
  linalg.fill ins(%zero : f32) outs(%z : memref<?x?x2x64xf32>)
  linalg.contract indexing_maps = [#x, #w, #y] ins(%xb, %wz : memref<?x?x2x64xbf16>, memref<2x64x64xbf16>) outs(%z : memref<?x?x2x64xf32>)
  %o = memref.alloc(%d0, %d1) : memref<?x?x2x64xf32>
  linalg.fill ins(%zero : f32) outs(%o : memref<?x?x2x64xf32>)
  linalg.contract indexing_maps = [#x, #w, #y] ins(%xb, %wo : memref<?x?x2x64xbf16>, memref<2x64x64xbf16>) outs(%o : memref<?x?x2x64xf32>)
  return %i, %f, %z, %o : memref<?x?x2x64xf32>, memref<?x?x2x64xf32>, memref<?x?x2x64xf32>, memref<?x?x2x64xf32>
}

// -----

#x = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
#w = affine_map<(d0, d1, d2, d3, d4) -> (d2, d3, d4)>
#y = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>

// The two x's projections alternating in program order: the group puts
// those of one x next to each other, and the two pairs still run as one
// launch.
// PLANES-LABEL: func @alternating_xs
// PLANES:         gpu.launch_func @projection_small_batch_mma_heads{{[_0-9]*}}::
// PLANES-NOT:     gpu.launch_func @projection_small_batch_mma_heads
// PLANES:         gpu.launch_func @projection_mma_pair::@projection_mma_pair blocks in (%{{.+}}, %c1{{[_0-9]*}}, %c4{{[_0-9]*}})
// PLANES-NOT:     gpu.launch_func
// PLANES:         return
func.func @alternating_xs(%xa: memref<?x?x2x64xbf16>, %wi: memref<2x64x64xbf16>, %wf: memref<2x64x64xbf16>, %wz: memref<2x64x64xbf16>, %wo: memref<2x64x64xbf16>) -> (memref<?x?x2x64xf32>, memref<?x?x2x64xf32>, memref<?x?x2x64xf32>, memref<?x?x2x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %d0 = memref.dim %xa, %c0 : memref<?x?x2x64xbf16>
  %d1 = memref.dim %xa, %c1 : memref<?x?x2x64xbf16>
  %xb = memref.alloc(%d0, %d1) : memref<?x?x2x64xbf16>
  linalg.copy ins(%xa : memref<?x?x2x64xbf16>) outs(%xb : memref<?x?x2x64xbf16>)
  %i = memref.alloc(%d0, %d1) : memref<?x?x2x64xf32>
  linalg.fill ins(%zero : f32) outs(%i : memref<?x?x2x64xf32>)
  linalg.contract indexing_maps = [#x, #w, #y] ins(%xa, %wi : memref<?x?x2x64xbf16>, memref<2x64x64xbf16>) outs(%i : memref<?x?x2x64xf32>)
  %z = memref.alloc(%d0, %d1) : memref<?x?x2x64xf32>
  linalg.fill ins(%zero : f32) outs(%z : memref<?x?x2x64xf32>)
  linalg.contract indexing_maps = [#x, #w, #y] ins(%xb, %wz : memref<?x?x2x64xbf16>, memref<2x64x64xbf16>) outs(%z : memref<?x?x2x64xf32>)
  %f = memref.alloc(%d0, %d1) : memref<?x?x2x64xf32>
  linalg.fill ins(%zero : f32) outs(%f : memref<?x?x2x64xf32>)
  linalg.contract indexing_maps = [#x, #w, #y] ins(%xa, %wf : memref<?x?x2x64xbf16>, memref<2x64x64xbf16>) outs(%f : memref<?x?x2x64xf32>)
  %o = memref.alloc(%d0, %d1) : memref<?x?x2x64xf32>
  linalg.fill ins(%zero : f32) outs(%o : memref<?x?x2x64xf32>)
  linalg.contract indexing_maps = [#x, #w, #y] ins(%xb, %wo : memref<?x?x2x64xbf16>, memref<2x64x64xbf16>) outs(%o : memref<?x?x2x64xf32>)
  return %i, %f, %z, %o : memref<?x?x2x64xf32>, memref<?x?x2x64xf32>, memref<?x?x2x64xf32>, memref<?x?x2x64xf32>
}
