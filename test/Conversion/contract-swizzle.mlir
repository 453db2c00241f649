// The staged GEMM's swizzle at row widths other than 64 and 128 bytes.
// RUN: xlstm-opt %s --xlstm-contract-to-mma="staged-tile=128x128x48/2x4 staged-tile-large= staged-group-m=0 gemv-max-rows=0 staged-tile-short-k= short-k-tiles-per-block=1" --cse | FileCheck %s --check-prefix=SIX
// RUN: xlstm-opt %s --xlstm-contract-to-mma="staged-tile=128x128x16/2x4 staged-tile-large= staged-group-m=0 gemv-max-rows=0 staged-tile-short-k= short-k-tiles-per-block=1" --cse | FileCheck %s --check-prefix=TWO

// Rows of 96 bytes (6 chunks): XOR keys below 2, the largest power of two
// dividing 6, so a chunk only trades places with its pair's other half and
// never leaves the row; the key is bit 2 of the row (8 / 2 rows a key).
// SIX-LABEL: gpu.func @projection_mma_staged(
// SIX:         memref.view {{.*}} to memref<4x128x48xbf16, #gpu.address_space<workgroup>>
// SIX:         arith.select %{{.+}}, %c8, %c0
// SIX-NEXT:    arith.addi
// SIX-NEXT:    %[[LINE:.+]] = arith.divui %[[ROW:.+]], %c4
// SIX:         %[[KEY:.+]] = arith.andi %[[LINE]], %c1
// SIX-NEXT:    %[[SWZ:.+]] = arith.xori %{{.+}}, %[[KEY]]
// SIX-NEXT:    %[[COL:.+]] = arith.muli %[[SWZ]], %c8
// SIX-NEXT:    nvgpu.device_async_copy {{.*}}[%{{.+}}, %[[ROW]], %[[COL]]]
// Rows of 32 bytes (2 chunks): 4 rows share a 128-byte line.
// TWO-LABEL: gpu.func @projection_mma_staged(
// TWO:         memref.view {{.*}} to memref<4x128x16xbf16, #gpu.address_space<workgroup>>
// TWO:         arith.select %{{.+}}, %c8, %c0
// TWO-NEXT:    arith.addi
// TWO-NEXT:    %[[LINE:.+]] = arith.divui %[[ROW:.+]], %c4
// TWO:         %[[KEY:.+]] = arith.andi %[[LINE]], %c1
// TWO-NEXT:    %[[SWZ:.+]] = arith.xori %{{.+}}, %[[KEY]]
// TWO-NEXT:    %[[COL:.+]] = arith.muli %[[SWZ]], %c8
// TWO-NEXT:    nvgpu.device_async_copy {{.*}}[%{{.+}}, %[[ROW]], %[[COL]]]
func.func @projection(%x: memref<?x96xbf16>, %w: memref<256x96xbf16>, %y: memref<?x256xf32>) {
  linalg.contract indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                   affine_map<(d0, d1, d2) -> (d1, d2)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>]
      ins(%x, %w : memref<?x96xbf16>, memref<256x96xbf16>) outs(%y : memref<?x256xf32>)
  return
}
