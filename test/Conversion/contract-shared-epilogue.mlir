// shared-epilogue (on by default; where permuted-column-stores, also on by
// default, applies, it stores instead: the RUN lines below turn it off but
// for PERM): the pipelined kernel's 16-bit or float32 results go through
// shared memory. After the K loop every copy has landed and a
// barrier passes; each warp writes its rounded pairs into a copy of the
// tile (rows padded by 8 values, 16 bytes; written as 4-byte pairs); a
// second barrier; then the block stores whole 16-byte chunks of the tile's
// rows, one bounds check a chunk. A sibling pair's outputs are two copies,
// each stored to its own output; a gated pair's combined values one; an
// accumulating projection's float32 sums are added to its output a chunk at
// a time.
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="permuted-column-stores=0 staged-tile-short-k= short-k-tiles-per-block=1 resident-weights=0" | FileCheck %s
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="permuted-column-stores=0 shared-epilogue=1 staged-tile-short-k= short-k-tiles-per-block=1 resident-weights=0" | FileCheck %s
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="permuted-column-stores=0 shared-epilogue=1 staged-tile-short-k= short-k-tiles-per-block=1 resident-weights=0" --xlstm-lowering-report -o /dev/null | FileCheck %s --check-prefix=REPORT
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="permuted-column-stores=0 shared-epilogue=0 staged-tile-short-k= short-k-tiles-per-block=1 resident-weights=0" | FileCheck %s --check-prefix=OFF
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="permuted-column-stores=0 shared-epilogue-residuals=1 staged-tile-short-k= short-k-tiles-per-block=1 resident-weights=0" | FileCheck %s --check-prefix=RESIDUAL
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="permuted-column-stores=0 shared-epilogue-residuals=1 accumulate-in-epilogue=0 staged-tile-short-k= short-k-tiles-per-block=1 resident-weights=0" | FileCheck %s --check-prefix=FROMSTART
// shared-epilogue-swizzle=1 shared-epilogue-loads-ahead=8: 16-bit rows of
// whole 128-byte lines dense, chunk c of row r stored at c ^ (r % 8); a
// thread reads 8 chunks of the copy, then stores them, each under its check
// (float32 copies stay padded).
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="permuted-column-stores=0 shared-epilogue-swizzle=1 shared-epilogue-loads-ahead=8 staged-tile-short-k= short-k-tiles-per-block=1 resident-weights=0" | FileCheck %s --check-prefix=SWZ
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="permuted-column-stores=0 shared-epilogue-swizzle=1 shared-epilogue-loads-ahead=8 shared-epilogue-residuals=1 staged-tile-short-k= short-k-tiles-per-block=1 resident-weights=0" | FileCheck %s --check-prefix=SWZRESIDUAL
// RUN: xlstm-opt %s --split-input-file --pass-pipeline="builtin.module(xlstm-contract-to-mma{permuted-column-stores=0 shared-epilogue-swizzle=1 shared-epilogue-loads-ahead=8 resident-weights=0},gpu-kernel-outlining,gpu.module(xlstm-align-workgroup-memory))" 2>&1 | xlstm-opt --split-input-file --xlstm-gpu-to-ptx 2>&1 | FileCheck %s --check-prefix=PTX
// permuted-column-stores=1 replaces the copy where it applies (outputs
// written, a warp's n tiles of an output in groups of 4): W's rows staged
// so that mma column 8 j + 2 t + e of a 32-column group holds output column
// 8 t + 2 j + e, and each lane stores its 8 consecutive columns of a row as
// one 16-byte chunk (two of float32) from its accumulators, no copy and no
// barrier after the K loop; accumulating projections keep their stores.
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="permuted-column-stores=1 staged-tile-short-k= short-k-tiles-per-block=1 resident-weights=0" | FileCheck %s --check-prefix=PERM
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="staged-tile-short-k= short-k-tiles-per-block=1 resident-weights=0" --xlstm-lowering-report -o /dev/null | FileCheck %s --check-prefix=PERMREPORT
// PERMREPORT: gate_blocks {{.*}}mma-staged 128x128x32 8 warps 4 stages group-m 8 swizzled, 16-byte stores from registers (W rows permuted), one launch for its 4 heads [M > 16]
// PERMREPORT: gates_of_one_x {{.*}}, 16-byte stores from registers (W rows permuted), one launch of 2 projections of one x,
// PERMREPORT: gated_ffn {{.*}}, 16-byte stores from registers (W rows permuted), one kernel with its gated pair
// PERMREPORT: float32_out {{.*}}, 16-byte stores from registers (W rows permuted) [M > 16]
// PERMREPORT: accumulate {{.*}}mma-staged 128x128x64 4 warps 3 stages group-m 8 swizzled, adding to its output [M > 16]
// RUN: xlstm-opt %s --split-input-file --pass-pipeline="builtin.module(xlstm-contract-to-mma{permuted-column-stores=1 resident-weights=0},gpu-kernel-outlining,gpu.module(xlstm-align-workgroup-memory))" 2>&1 | xlstm-opt --split-input-file --xlstm-gpu-to-ptx 2>&1 | FileCheck %s --check-prefix=PERMPTX
// PERMPTX-NOT:   error
// PERMPTX:       .entry projection_mma_staged
// PERMPTX-NOT:   st.shared
// PERMPTX:       st.global.v4.b32
// PERMPTX-NOT:   st.shared
// PERMPTX:       ret;
// PERMPTX:       .entry projection_mma_pair
// PERMPTX-NOT:   st.shared
// PERMPTX:       st.global.v4.b32
// PERMPTX-NOT:   st.shared
// PERMPTX:       ret;
// RUN: not xlstm-opt %s --split-input-file --xlstm-contract-to-mma="permuted-column-stores=0 shared-epilogue-loads-ahead=0 resident-weights=0" 2>&1 | FileCheck %s --check-prefix=BADAHEAD
// BADAHEAD: shared-epilogue-loads-ahead must be 1 to 16
// In PTX, with no diagnostics on the way (the copy's views are memrefs of
// vectors, which lower with the workgroup address space): 4-byte shared
// stores, 16-byte shared loads and 16-byte global stores.
// RUN: xlstm-opt %s --split-input-file --pass-pipeline="builtin.module(xlstm-contract-to-mma{permuted-column-stores=0 shared-epilogue=1 resident-weights=0},gpu-kernel-outlining,gpu.module(xlstm-align-workgroup-memory))" 2>&1 | xlstm-opt --split-input-file --xlstm-gpu-to-ptx 2>&1 | FileCheck %s --check-prefix=PTX
// PTX-NOT:   error
// PTX:       .entry projection_mma_staged
// PTX:       st.shared.b32
// PTX:       ld.shared.v4.b32
// PTX:       st.global.v4.b32
// PTX-NOT:   error
// PTX:       .entry projection_mma_pair
// PTX:       st.shared.b32
// PTX:       ld.shared.v4.b32
// PTX:       st.global.v4.b32
// PTX-NOT:   error
// PTX:       .entry projection_mma_gated
// PTX:       st.shared.b32
// PTX:       ld.shared.v4.b32
// PTX:       st.global.v4.b32
// PTX-NOT:   error
// PTX:       .entry projection_mma_staged
// PTX:       st.shared.v2.b32
// PTX:       ld.shared.v4.b32
// PTX:       st.global.v4.b32
// PTX-NOT:   error

#x = affine_map<(b, s, h, n, k) -> (b, s, h, k)>
#w = affine_map<(b, s, h, n, k) -> (h, n, k)>
#y = affine_map<(b, s, h, n, k) -> (b, s, h, n)>
#id = affine_map<(b, s, h, n) -> (b, s, h, n)>

// REPORT: gate_blocks {{.*}}mma-staged 128x128x32 8 warps 4 stages group-m 8 swizzled, stores through shared memory, one launch for its 4 heads [M > 16]
// CHECK-LABEL: gpu.func @projection_mma_staged(
// CHECK:         nvvm.mma.sync
// CHECK:         nvvm.cp.async.wait.group 0
// CHECK-NEXT:    gpu.barrier
// CHECK:         %[[PAIRS:.+]] = memref.view %{{.+}}[%{{.+}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<1x128x68xvector<2xbf16>, #gpu.address_space<workgroup>>
// CHECK:         %[[TWO:.+]] = arith.truncf %{{.+}} : vector<2xf32> to vector<2xbf16>
// CHECK:         memref.store %[[TWO]], %[[PAIRS]][%{{.+}}, %{{.+}}, %{{.+}}] : memref<1x128x68xvector<2xbf16>, #gpu.address_space<workgroup>>
// CHECK:         gpu.barrier
// CHECK:         %[[CHUNKS:.+]] = memref.view %{{.+}}[%{{.+}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<1x128x17xvector<8xbf16>, #gpu.address_space<workgroup>>
// CHECK:         scf.if
// CHECK-NEXT:      %[[EIGHT:.+]] = memref.load %[[CHUNKS]][%{{.+}}, %{{.+}}, %{{.+}}] : memref<1x128x17xvector<8xbf16>, #gpu.address_space<workgroup>>
// CHECK-NEXT:      vector.store %[[EIGHT]], %{{.+}}[%{{.+}}, %{{.+}}] {alignment = 16 : i64} : memref<?x64xbf16, strided<[256, 1], offset: ?>>, vector<8xbf16>
// CHECK-NOT:     memref.store %{{.+}} : memref<?x64xbf16
// CHECK:         gpu.return
// SWZ-LABEL: gpu.func @projection_mma_staged(
// SWZ:         %[[PAIRS:.+]] = memref.view %{{.+}}[%{{.+}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<1x128x64xvector<2xbf16>, #gpu.address_space<workgroup>>
// SWZ:         %[[TWO:.+]] = arith.truncf %{{.+}} : vector<2xf32> to vector<2xbf16>
// SWZ:         %[[KEY:.+]] = arith.andi %[[ROW:.+]], %c7{{[_0-9]*}} : index
// SWZ-NEXT:    arith.xori %{{.+}}, %[[KEY]] : index
// SWZ:         memref.store %[[TWO]], %[[PAIRS]][%{{.+}}, %[[ROW]], %{{.+}}] : memref<1x128x64xvector<2xbf16>, #gpu.address_space<workgroup>>
// SWZ:         gpu.barrier
// SWZ:         %[[CHUNKS:.+]] = memref.view %{{.+}}[%{{.+}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<1x128x16xvector<8xbf16>, #gpu.address_space<workgroup>>
// 8 warps: 8 chunks a thread, all read, then all stored.
// SWZ:         %[[READKEY:.+]] = arith.andi %[[READROW:.+]], %c7{{[_0-9]*}} : index
// SWZ-NEXT:    arith.xori %{{.+}}, %[[READKEY]] : index
// SWZ:         %[[EIGHT:.+]] = memref.load %[[CHUNKS]][%{{.+}}, %[[READROW]], %{{.+}}] : memref<1x128x16xvector<8xbf16>, #gpu.address_space<workgroup>>
// SWZ-COUNT-7: memref.load %[[CHUNKS]]
// SWZ-NOT:     scf.if
// SWZ:         scf.if
// SWZ-NEXT:      vector.store %[[EIGHT]], %{{.+}}[%{{.+}}, %{{.+}}] {alignment = 16 : i64} : memref<?x64xbf16, strided<[256, 1], offset: ?>>, vector<8xbf16>
// SWZ-COUNT-7: vector.store
// SWZ-NOT:     memref.load %[[CHUNKS]]
// SWZ:         gpu.return
// OFF-LABEL: gpu.func @projection_mma_staged(
// OFF-NOT:     vector<8xbf16>
// OFF:         gpu.return
func.func @gate_blocks(%x: memref<?x?x4x64xbf16>, %w: memref<4x64x64xbf16>) -> memref<?x?x4x64xbf16> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %d0 = memref.dim %x, %c0 : memref<?x?x4x64xbf16>
  %d1 = memref.dim %x, %c1 : memref<?x?x4x64xbf16>
  %acc = memref.alloc(%d0, %d1) {alignment = 64 : i64} : memref<?x?x4x64xf32>
  linalg.fill ins(%zero : f32) outs(%acc : memref<?x?x4x64xf32>)
  linalg.contract indexing_maps = [#x, #w, #y] ins(%x, %w : memref<?x?x4x64xbf16>, memref<4x64x64xbf16>) outs(%acc : memref<?x?x4x64xf32>)
  %y = memref.alloc(%d0, %d1) {alignment = 64 : i64} : memref<?x?x4x64xbf16>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%acc : memref<?x?x4x64xf32>) outs(%y : memref<?x?x4x64xbf16>) {
  ^bb0(%a: f32, %b: bf16):
    %t = arith.truncf %a : f32 to bf16
    linalg.yield %t : bf16
  }
  return %y : memref<?x?x4x64xbf16>
}

// -----

#x = affine_map<(b, s, h, n, k) -> (b, s, h, k)>
#w = affine_map<(b, s, h, n, k) -> (h, n, k)>
#y = affine_map<(b, s, h, n, k) -> (b, s, h, n)>
#id = affine_map<(b, s, h, n) -> (b, s, h, n)>

// REPORT: gates_of_one_x {{.*}}mma-staged 128x128x64 4 warps 3 stages group-m 8 swizzled, stores through shared memory, one launch of 2 projections of one x
// CHECK-LABEL: gpu.func @projection_mma_pair(
// CHECK-DAG:     %[[FIRST:.+]] = memref.subview %arg2[0, %{{.+}}] [%arg3, 64] [1, 1]
// CHECK-DAG:     %[[SECOND:.+]] = memref.subview %arg5[0, %{{.+}}] [%arg3, 64] [1, 1]
// CHECK:         nvvm.mma.sync
// CHECK:         nvvm.cp.async.wait.group 0
// CHECK-NEXT:    gpu.barrier
// CHECK:         %[[PAIRS:.+]] = memref.view %{{.+}}[%{{.+}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<2x128x36xvector<2xbf16>, #gpu.address_space<workgroup>>
// A lane's pair: output column wn0 / 2 + 8 j + t2, the view's column half that.
// CHECK:         %[[HALFWN:.+]] = arith.divui %{{.+}}, %c2{{[_0-9]*}} : index
// CHECK-NEXT:    %[[COL:.+]] = arith.addi %[[HALFWN]], %{{.+}} : index
// CHECK:         %[[PAIRCOL:.+]] = arith.divui %[[COL]], %c2{{[_0-9]*}} : index
// CHECK-NEXT:    memref.store %{{.+}}, %[[PAIRS]][%c0{{[_0-9]*}}, %{{.+}}, %[[PAIRCOL]]]
// CHECK:         memref.store %{{.+}}, %[[PAIRS]][%c1{{[_0-9]*}}, %{{.+}}, %{{.+}}]
// CHECK:         gpu.barrier
// Chunk c of 2 x 128 rows x 8: output c / 1024, row (c % 1024) / 8, chunk
// c % 8 at output column n0 / 2 + 8 (c % 8), within the head's 64.
// CHECK:         %[[CHUNKS:.+]] = memref.view %{{.+}}[%{{.+}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<2x128x9xvector<8xbf16>, #gpu.address_space<workgroup>>
// CHECK:         %[[HALFN0:.+]] = arith.divui %{{.+}}, %c2{{[_0-9]*}} : index
// CHECK:         %[[OUTPUT:.+]] = arith.divui %{{.+}}, %c1024{{[_0-9]*}} : index
// CHECK:         %[[WITHIN:.+]] = arith.remui %{{.+}}, %c1024{{[_0-9]*}} : index
// CHECK:         %[[ROW:.+]] = arith.divui %[[WITHIN]], %c8{{[_0-9]*}} : index
// CHECK:         %[[CHUNK:.+]] = arith.remui %[[WITHIN]], %c8{{[_0-9]*}} : index
// CHECK:         %[[COLUMN:.+]] = arith.muli %[[CHUNK]], %c8{{[_0-9]*}} : index
// CHECK-NEXT:    %[[GROW:.+]] = arith.addi %{{.+}}, %[[ROW]] : index
// CHECK-NEXT:    %[[GCOL:.+]] = arith.addi %[[HALFN0]], %[[COLUMN]] : index
// CHECK-NEXT:    arith.cmpi ult, %[[GCOL]], %c64 : index
// CHECK-NEXT:    arith.cmpi ult, %[[GROW]], %arg3 : index
// CHECK:         scf.if
// CHECK-NEXT:      %[[EIGHT:.+]] = memref.load %[[CHUNKS]][%[[OUTPUT]], %[[ROW]], %[[CHUNK]]]
// CHECK:           arith.cmpi eq, %[[OUTPUT]], %c0{{[_0-9]*}} : index
// CHECK-NEXT:      scf.if
// CHECK-NEXT:        vector.store %[[EIGHT]], %[[FIRST]][%[[GROW]], %[[GCOL]]] {alignment = 16 : i64}
// CHECK-NEXT:      } else {
// CHECK-NEXT:        vector.store %[[EIGHT]], %[[SECOND]][%[[GROW]], %[[GCOL]]] {alignment = 16 : i64}
// CHECK:         gpu.return
// SWZ-LABEL: gpu.func @projection_mma_pair(
// SWZ:         %[[PAIRS:.+]] = memref.view %{{.+}}[%{{.+}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<2x128x32xvector<2xbf16>, #gpu.address_space<workgroup>>
// SWZ:         %[[HALFWN:.+]] = arith.divui %{{.+}}, %c2{{[_0-9]*}} : index
// SWZ-NEXT:    %[[COL:.+]] = arith.addi %[[HALFWN]], %{{.+}} : index
// Swizzled: chunk COL / 8 of the row stored at (COL / 8) ^ (row % 8).
// SWZ:         %[[COLCHUNK:.+]] = arith.divui %[[COL]], %c8{{[_0-9]*}} : index
// SWZ:         %[[COLKEY:.+]] = arith.andi %{{.+}}, %c7{{[_0-9]*}} : index
// SWZ-NEXT:    %[[COLSWZ:.+]] = arith.xori %[[COLCHUNK]], %[[COLKEY]] : index
// SWZ-NEXT:    %[[COLAT:.+]] = arith.muli %[[COLSWZ]], %c8{{[_0-9]*}} : index
// SWZ-NEXT:    %[[SWZCOL:.+]] = arith.addi %[[COLAT]], %{{.+}} : index
// SWZ:         %[[PAIRCOL:.+]] = arith.divui %[[SWZCOL]], %c2{{[_0-9]*}} : index
// SWZ-NEXT:    memref.store %{{.+}}, %[[PAIRS]][%c0{{[_0-9]*}}, %{{.+}}, %[[PAIRCOL]]]
// SWZ:         gpu.barrier
// SWZ:         %[[CHUNKS:.+]] = memref.view %{{.+}}[%{{.+}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<2x128x8xvector<8xbf16>, #gpu.address_space<workgroup>>
// SWZ:         %[[OUTPUT:.+]] = arith.divui %{{.+}}, %c1024{{[_0-9]*}} : index
// SWZ:         %[[WITHIN:.+]] = arith.remui %{{.+}}, %c1024{{[_0-9]*}} : index
// SWZ:         %[[ROW:.+]] = arith.divui %[[WITHIN]], %c8{{[_0-9]*}} : index
// SWZ:         %[[CHUNK:.+]] = arith.remui %[[WITHIN]], %c8{{[_0-9]*}} : index
// SWZ:         %[[KEY:.+]] = arith.andi %[[ROW]], %c7{{[_0-9]*}} : index
// SWZ-NEXT:    %[[SWZ:.+]] = arith.xori %[[CHUNK]], %[[KEY]] : index
// SWZ-NEXT:    %[[AT:.+]] = arith.muli %[[SWZ]], %c8{{[_0-9]*}} : index
// SWZ:         %[[STORED:.+]] = arith.divui %[[AT]], %c8{{[_0-9]*}} : index
// SWZ-NEXT:    %[[EIGHT:.+]] = memref.load %[[CHUNKS]][%[[OUTPUT]], %[[ROW]], %[[STORED]]]
// 4 warps: 16 chunks a thread, read and stored 8 at a time.
// SWZ-COUNT-7: memref.load %[[CHUNKS]]
// SWZ-NOT:     scf.if
// SWZ:         scf.if
// SWZ:           arith.cmpi eq, %[[OUTPUT]], %c0{{[_0-9]*}} : index
// SWZ-NEXT:      scf.if
// SWZ-NEXT:        vector.store %[[EIGHT]]
// SWZ:         memref.load %[[CHUNKS]]
// SWZ:         gpu.return
// PERM-LABEL: gpu.func @projection_mma_pair(
// PERM:         scf.yield
// PERM-NEXT:  }
// PERM-NOT:     gpu.barrier
// Output 0 of row g: n tiles 0, 2, 4, 6 (the first projection's), one chunk
// of 8 bf16.
// PERM:         %[[A:.+]] = arith.truncf %[[ACC:.+]]#0 : f32 to bf16
// PERM-NEXT:    %[[B:.+]] = arith.truncf %[[ACC]]#1 : f32 to bf16
// PERM-NEXT:    %[[C:.+]] = arith.truncf %[[ACC]]#8 : f32 to bf16
// PERM-COUNT-16: vector.store %{{.+}} {alignment = 16 : i64} : memref<?x64xbf16, strided<[128, 1], offset: ?>>, vector<8xbf16>
// PERM-NOT:     vector.store
// PERM:         gpu.return
func.func @gates_of_one_x(%x: memref<?x?x2x64xbf16>, %wi: memref<2x64x64xbf16>, %wf: memref<2x64x64xbf16>) -> (memref<?x?x2x64xbf16>, memref<?x?x2x64xbf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %d0 = memref.dim %x, %c0 : memref<?x?x2x64xbf16>
  %d1 = memref.dim %x, %c1 : memref<?x?x2x64xbf16>
  %i = memref.alloc(%d0, %d1) : memref<?x?x2x64xf32>
  linalg.fill ins(%zero : f32) outs(%i : memref<?x?x2x64xf32>)
  linalg.contract indexing_maps = [#x, #w, #y] ins(%x, %wi : memref<?x?x2x64xbf16>, memref<2x64x64xbf16>) outs(%i : memref<?x?x2x64xf32>)
  %f = memref.alloc(%d0, %d1) : memref<?x?x2x64xf32>
  linalg.fill ins(%zero : f32) outs(%f : memref<?x?x2x64xf32>)
  linalg.contract indexing_maps = [#x, #w, #y] ins(%x, %wf : memref<?x?x2x64xbf16>, memref<2x64x64xbf16>) outs(%f : memref<?x?x2x64xf32>)
  %ib = memref.alloc(%d0, %d1) : memref<?x?x2x64xbf16>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%i : memref<?x?x2x64xf32>) outs(%ib : memref<?x?x2x64xbf16>) {
  ^bb0(%a: f32, %b: bf16):
    %t = arith.truncf %a : f32 to bf16
    linalg.yield %t : bf16
  }
  %fb = memref.alloc(%d0, %d1) : memref<?x?x2x64xbf16>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%f : memref<?x?x2x64xf32>) outs(%fb : memref<?x?x2x64xbf16>) {
  ^bb0(%a: f32, %b: bf16):
    %t = arith.truncf %a : f32 to bf16
    linalg.yield %t : bf16
  }
  return %ib, %fb : memref<?x?x2x64xbf16>, memref<?x?x2x64xbf16>
}

// -----

// A gated pair (silu(x Wg^T) * (x Wu^T)): the combined values of n tiles 2j
// and 2j + 1 go into one copy of 64 + 8 columns.
#x = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#w = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
#y = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>

// REPORT: gated_ffn {{.*}}mma-staged {{.*}}, stores through shared memory, one kernel with its gated pair
// CHECK-LABEL: gpu.func @projection_mma_gated(
// CHECK:         nvvm.mma.sync
// CHECK:         nvvm.cp.async.wait.group 0
// CHECK-NEXT:    gpu.barrier
// CHECK:         %[[PAIRS:.+]] = memref.view %{{.+}}[%{{.+}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<1x128x36xvector<2xbf16>, #gpu.address_space<workgroup>>
// CHECK:         math.exp
// CHECK:         %[[TWO:.+]] = vector.from_elements %{{.+}}, %{{.+}} : vector<2xbf16>
// CHECK:         memref.store %[[TWO]], %[[PAIRS]][%c0{{[_0-9]*}}, %{{.+}}, %{{.+}}]
// CHECK:         gpu.barrier
// CHECK:         memref.view %{{.+}} to memref<1x128x9xvector<8xbf16>, #gpu.address_space<workgroup>>
// CHECK:         vector.store %{{.+}}, %{{.+}}[%{{.+}}, %{{.+}}] {alignment = 16 : i64} : memref<?x96xbf16>, vector<8xbf16>
// CHECK:         gpu.return
func.func @gated_ffn(%x: memref<?x?x64xbf16>, %wg: memref<96x64xbf16>, %wu: memref<96x64xbf16>) -> memref<?x?x96xbf16> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %b = memref.dim %x, %c0 : memref<?x?x64xbf16>
  %s = memref.dim %x, %c1 : memref<?x?x64xbf16>
  %g = memref.alloc(%b, %s) : memref<?x?x96xf32>
  linalg.fill ins(%zero : f32) outs(%g : memref<?x?x96xf32>)
  %u = memref.alloc(%b, %s) : memref<?x?x96xf32>
  linalg.fill ins(%zero : f32) outs(%u : memref<?x?x96xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %wg : memref<?x?x64xbf16>, memref<96x64xbf16>) outs(%g : memref<?x?x96xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %wu : memref<?x?x64xbf16>, memref<96x64xbf16>) outs(%u : memref<?x?x96xf32>)
  %out = memref.alloc(%b, %s) : memref<?x?x96xbf16>
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%g, %u : memref<?x?x96xf32>, memref<?x?x96xf32>) outs(%out : memref<?x?x96xbf16>) {
  ^bb0(%in: f32, %in2: f32, %o: bf16):
    %n = arith.negf %in : f32
    %e = math.exp %n : f32
    %d = arith.addf %e, %one : f32
    %sg = arith.divf %in, %d : f32
    %p = arith.mulf %sg, %in2 : f32
    %t = arith.truncf %p : f32 to bf16
    linalg.yield %t : bf16
  }
  memref.dealloc %g : memref<?x?x96xf32>
  memref.dealloc %u : memref<?x?x96xf32>
  return %out : memref<?x?x96xbf16>
}

// -----

// float32 results: 8-byte pairs into rows of 128 + 8 floats (a half-warp's
// 8-byte stores hit 32 banks), 16-byte chunks of 4.
// CHECK-LABEL: gpu.func @projection_mma_staged(
// CHECK-SAME:    memref<256x1024xbf16>
// CHECK:         nvvm.cp.async.wait.group 0
// CHECK-NEXT:    gpu.barrier
// CHECK:         %[[PAIRS:.+]] = memref.view %{{.+}} to memref<1x128x68xvector<2xf32>, #gpu.address_space<workgroup>>
// CHECK-NOT:     arith.truncf
// CHECK:         memref.store %{{.+}}, %[[PAIRS]]
// CHECK:         gpu.barrier
// CHECK:         memref.view %{{.+}} to memref<1x128x34xvector<4xf32>, #gpu.address_space<workgroup>>
// CHECK:         vector.store %{{.+}}, %{{.+}}[%{{.+}}, %{{.+}}] {alignment = 16 : i64} : memref<?x256xf32>, vector<4xf32>
// CHECK:         gpu.return
// PERM-LABEL: gpu.func @projection_mma_staged({{.*}}memref<256x1024xbf16>
// x's staged row r: row r of the tile's (only W's rows are permuted).
// PERM:         %[[XR:.+]] = arith.divui %{{.+}}, %c8{{[_0-9]*}} : index
// PERM:         %[[XROW:.+]] = arith.addi %{{.+}}, %[[XR]] : index
// PERM-NEXT:    arith.cmpi ult, %[[XROW]], %arg3 : index
// PERM:         nvgpu.device_async_copy %arg0
// W's staged row r: row 16 (r / 16) + permuted (r % 16) of the tile's
// (float32: groups of 2 n tiles, 4 columns a lane).
// PERM:         %[[IN:.+]] = arith.remui %[[R:.+]], %c16{{[_0-9]*}} : index
// PERM:         %[[BY8:.+]] = arith.divui %[[IN]], %c8{{[_0-9]*}} : index
// PERM:         %[[TILE:.+]] = arith.remui %[[BY8]], %c2{{[_0-9]*}} : index
// PERM:         %[[BY2:.+]] = arith.divui %[[IN]], %c2{{[_0-9]*}} : index
// PERM:         %[[LANE:.+]] = arith.remui %[[BY2]], %c4{{[_0-9]*}} : index
// PERM:         %[[E:.+]] = arith.remui %[[IN]], %c2{{[_0-9]*}} : index
// PERM:         %[[TWOJ:.+]] = arith.muli %[[TILE]], %c2{{[_0-9]*}} : index
// PERM:         %[[FOURT:.+]] = arith.muli %[[LANE]], %c4{{[_0-9]*}} : index
// PERM:         %[[SUM:.+]] = arith.addi %[[FOURT]], %[[TWOJ]] : index
// PERM:         %[[PERMUTED:.+]] = arith.addi %[[SUM]], %[[E]] : index
// PERM:         %[[GROUP:.+]] = arith.divui %[[R]], %c16{{[_0-9]*}} : index
// PERM:         %[[GROUPROW:.+]] = arith.muli %[[GROUP]], %c16{{[_0-9]*}} : index
// PERM:         %[[WITHIN:.+]] = arith.addi %[[GROUPROW]], %[[PERMUTED]] : index
// PERM:         arith.addi %{{.+}}, %[[WITHIN]] : index
// PERM:         nvgpu.device_async_copy %arg1
// PERM:         nvvm.mma.sync
// After the K loop: no copy, no barrier; row g of m tile 0 stores n tiles
// 0-1's pairs as columns 4 t..4 t + 3 of the first 16, n tiles 2-3's of the
// next 16.
// PERM:         scf.yield
// PERM-NEXT:  }
// PERM-NOT:     gpu.barrier
// PERM-NOT:     memref.view
// PERM:         scf.if
// PERM-NEXT:      %[[FIRST:.+]] = vector.from_elements %[[ACC:.+]]#0, %[[ACC]]#1, %[[ACC]]#4, %[[ACC]]#5 : vector<4xf32>
// PERM-NEXT:      vector.store %[[FIRST]], %arg2[%{{.+}}, %{{.+}}] {alignment = 16 : i64} : memref<?x256xf32>, vector<4xf32>
// PERM:         scf.if
// PERM-NEXT:      %[[SECOND:.+]] = vector.from_elements %[[ACC]]#8, %[[ACC]]#9, %[[ACC]]#12, %[[ACC]]#13 : vector<4xf32>
// PERM-NEXT:      vector.store %[[SECOND]], %arg2[%{{.+}}, %{{.+}}] {alignment = 16 : i64} : memref<?x256xf32>, vector<4xf32>
// PERM-NOT:     gpu.barrier
// PERM:         gpu.return
func.func @float32_out(%x: memref<?x1024xbf16>, %w: memref<256x1024xbf16>) -> memref<?x256xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = memref.dim %x, %c0 : memref<?x1024xbf16>
  %y = memref.alloc(%m) : memref<?x256xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<?x256xf32>)
  linalg.contract indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                   affine_map<(d0, d1, d2) -> (d1, d2)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>]
      ins(%x, %w : memref<?x1024xbf16>, memref<256x1024xbf16>) outs(%y : memref<?x256xf32>)
  return %y : memref<?x256xf32>
}

// -----

// An accumulating projection (out += x W^T, the residual add of an FFN down
// projection) keeps its own stores by default. With
// shared-epilogue-residuals its float32 sums go through the copy too: with
// accumulate-in-epilogue (the default) they start from zero and each
// 16-byte chunk of out is read, added to and stored back (old + sum, as the
// guarded stores add them); with accumulate-in-epilogue=0 they start from
// out and are stored like any float32 sums.
// CHECK-LABEL: gpu.func @projection_mma_staged(%arg0: memref<?x1024xbf16>, %arg1: memref<512x1024xbf16>
// CHECK-NOT:     memref.view %{{.+}} to memref<1x128x34xvector<4xf32>
// CHECK:         gpu.return
// RESIDUAL-LABEL: gpu.func @projection_mma_staged(%arg0: memref<?x1024xbf16>, %arg1: memref<512x1024xbf16>
// RESIDUAL-NOT:     memref.load %arg2
// RESIDUAL:         scf.for
// RESIDUAL:         nvvm.cp.async.wait.group 0
// RESIDUAL:         memref.view %{{.+}} to memref<1x128x68xvector<2xf32>, #gpu.address_space<workgroup>>
// RESIDUAL:         %[[SUMS:.+]] = memref.load %{{.+}} : memref<1x128x34xvector<4xf32>, #gpu.address_space<workgroup>>
// RESIDUAL-NEXT:    %[[OLD:.+]] = vector.load %arg2[%{{.+}}, %{{.+}}] {alignment = 16 : i64} : memref<?x512xf32>, vector<4xf32>
// RESIDUAL-NEXT:    %[[NEW:.+]] = arith.addf %[[OLD]], %[[SUMS]] : vector<4xf32>
// RESIDUAL-NEXT:    vector.store %[[NEW]], %arg2[%{{.+}}, %{{.+}}] {alignment = 16 : i64} : memref<?x512xf32>, vector<4xf32>
// RESIDUAL:         gpu.return
// SWZRESIDUAL-LABEL: gpu.func @projection_mma_staged(%arg0: memref<?x1024xbf16>, %arg1: memref<512x1024xbf16>
// SWZRESIDUAL:         memref.view %{{.+}} to memref<1x128x68xvector<2xf32>, #gpu.address_space<workgroup>>
// SWZRESIDUAL-COUNT-8: memref.load %{{.+}} : memref<1x128x34xvector<4xf32>, #gpu.address_space<workgroup>>
// SWZRESIDUAL-NEXT:    scf.if
// SWZRESIDUAL-NEXT:    vector.load %arg2
// SWZRESIDUAL:         gpu.return
// FROMSTART-LABEL: gpu.func @projection_mma_staged(%arg0: memref<?x1024xbf16>, %arg1: memref<512x1024xbf16>
// FROMSTART:       memref.load %arg2
// FROMSTART:       scf.for
// FROMSTART:       nvvm.cp.async.wait.group 0
// FROMSTART:       %[[SUMS:.+]] = memref.load %{{.+}} : memref<1x128x34xvector<4xf32>, #gpu.address_space<workgroup>>
// FROMSTART-NEXT:  vector.store %[[SUMS]], %arg2[%{{.+}}, %{{.+}}] {alignment = 16 : i64} : memref<?x512xf32>, vector<4xf32>
// FROMSTART:       gpu.return
func.func @accumulate(%x: memref<?x1024xbf16>, %w: memref<512x1024xbf16>, %y: memref<?x512xf32>) {
  linalg.contract indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                   affine_map<(d0, d1, d2) -> (d1, d2)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>]
      ins(%x, %w : memref<?x1024xbf16>, memref<512x1024xbf16>) outs(%y : memref<?x512xf32>)
  return
}
