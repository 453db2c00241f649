// Whole-tile stores (xlstm-contract-to-mma whole-tile-stores, the default):
// where K is more than 8 K steps, a tile of the pipelined kernel that lies
// wholly inside the output stores without a bounds check per store, one
// check a tile; edge tiles keep their guarded stores. A K of at most 8
// steps (mostly stores a tile) and whole-tile-stores=0 keep only the
// guarded ones.
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma | FileCheck %s --check-prefix=LONG
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="whole-tile-stores=0" | FileCheck %s --check-prefix=GUARDED
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma | FileCheck %s --check-prefix=SHORT

// K = 1024: 16 steps of the default 128x128x64 tile.
// LONG-LABEL:  gpu.func @projection_mma_staged(
// LONG:          nvvm.mma.sync
// LONG:          %[[MFITS:.+]] = arith.cmpi ule, %{{.+}}, %arg3 : index
// LONG:          %[[NFITS:.+]] = arith.cmpi ule, %{{.+}}, %c256{{[_0-9]*}} : index
// LONG:          %[[WHOLE:.+]] = arith.andi %[[MFITS]], %[[NFITS]] : i1
// LONG-NEXT:     scf.if %[[WHOLE]] {
// LONG-NOT:        scf.if
// LONG:            vector.store
// LONG:          } else {
// LONG:            scf.if
// LONG:              vector.store
// LONG:          gpu.return
// GUARDED-LABEL: gpu.func @projection_mma_staged(
// GUARDED:         nvvm.mma.sync
// GUARDED-NOT:     } else {
// GUARDED:         %[[FITS:.+]] = arith.andi %{{.+}}, %{{.+}} : i1
// GUARDED-NEXT:    scf.if %[[FITS]] {
// GUARDED:           vector.store
// GUARDED-NOT:     } else {
// GUARDED:         gpu.return
func.func @long_k(%x: memref<?x1024xbf16>, %w: memref<256x1024xbf16>, %y: memref<?x256xf32>) {
  linalg.contract indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                   affine_map<(d0, d1, d2) -> (d1, d2)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>]
      ins(%x, %w : memref<?x1024xbf16>, memref<256x1024xbf16>) outs(%y : memref<?x256xf32>)
  return
}

// -----

// K = 256: 4 steps, guarded stores only.
// SHORT:        // -----
// SHORT:        gpu.func @projection_mma_staged(
// SHORT:          nvvm.mma.sync
// SHORT-NOT:      } else {
// SHORT:          gpu.return
func.func @short_k(%x: memref<?x256xbf16>, %w: memref<256x256xbf16>, %y: memref<?x256xf32>) {
  linalg.contract indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                   affine_map<(d0, d1, d2) -> (d1, d2)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>]
      ins(%x, %w : memref<?x256xbf16>, memref<256x256xbf16>) outs(%y : memref<?x256xf32>)
  return
}
