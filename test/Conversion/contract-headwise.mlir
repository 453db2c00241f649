// A headwise (block-diagonal) projection, y[..., h, n] = sum_k x[..., h, k]
// W[h, n, k] (what xlstm-lower-to-linalg makes of an sLSTM's gate
// projections): one launch over all blocks. The pipelined kernel takes
// block h in grid plane z = h, on views of x, W and y; the decoding kernels
// run every block in one launch, each block its own x. A truncation to
// bf16 after it, read through the blocks' collapsed view or not, is stored
// by the kernels (its buffer allocated anew before them from the sizes of
// the float32 one, which goes).
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="staged-sibling-pairs=0 staged-tile-short-k= short-k-tiles-per-block=1 resident-weights=0" | FileCheck %s
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="shared-epilogue=0 permuted-column-stores=0 staged-tile-short-k= short-k-tiles-per-block=1 resident-weights=0" | FileCheck %s --check-prefix=KERNEL
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="stages=0 staged-tile-short-k= short-k-tiles-per-block=1 resident-weights=0" | FileCheck %s --check-prefix=DIRECT
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="headwise-one-launch=0 staged-tile-short-k= short-k-tiles-per-block=1 resident-weights=0" | FileCheck %s --check-prefix=PERBLOCK
// Blocks of 64 columns, which the default 128-column tile does not divide,
// take staged-tile-narrow where it is set (else the 128x128x32 fallback):
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="staged-tile-narrow=128x64x64/2x2/4 staged-tile-short-k= short-k-tiles-per-block=1 resident-weights=0" --xlstm-lowering-report -o /dev/null | FileCheck %s --check-prefix=NARROW
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="staged-tile-short-k= short-k-tiles-per-block=1 resident-weights=0" --xlstm-lowering-report -o /dev/null | FileCheck %s --check-prefix=WIDE
// RUN: not xlstm-opt %s --split-input-file --xlstm-contract-to-mma="staged-tile-narrow=128x64 staged-tile-short-k= short-k-tiles-per-block=1 resident-weights=0" 2>&1 | FileCheck %s --check-prefix=BADNARROW
// With staged-sibling-pairs (the default; the CHECK lines above turn it
// off), two headwise projections of one x take one pipelined launch above
// 16 rows (W rows interleaved by 8), storing each its own output:
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="staged-sibling-pairs=1 shared-epilogue=0 permuted-column-stores=0 staged-tile-short-k= short-k-tiles-per-block=1 resident-weights=0" | FileCheck %s --check-prefix=PAIR
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="staged-sibling-pairs=1 staged-tile-short-k= short-k-tiles-per-block=1 resident-weights=0" --xlstm-lowering-report -o /dev/null | FileCheck %s --check-prefix=PAIRREPORT
// With resident-weights, the projections of one x of a shape take one
// launch above 16 rows: block b holds head (b / 2) % 2's W of projection
// b % 2 in shared memory (64 x 64 bf16 beside 3 slices of 64 x 64) and
// streams its slices of x through it, ceil(M / 64) slices spread over about
// 132 blocks:
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="resident-weights=1 staged-tile-short-k= short-k-tiles-per-block=1 resident-weight-joint=0 resident-weight-rows=64" | FileCheck %s --check-prefix=RESIDENT
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="resident-weights=1 staged-tile-short-k= short-k-tiles-per-block=1 resident-weight-joint=0 resident-weight-rows=64" --xlstm-lowering-report -o /dev/null | FileCheck %s --check-prefix=RESIDENTREPORT
// RUN: not xlstm-opt %s --split-input-file --xlstm-contract-to-mma="resident-weight-stages=1 staged-tile-short-k= short-k-tiles-per-block=1 resident-weights=0" 2>&1 | FileCheck %s --check-prefix=BADRESIDENT
// RUN: not xlstm-opt %s --split-input-file --xlstm-contract-to-mma="resident-weight-warps=3 staged-tile-short-k= short-k-tiles-per-block=1 resident-weights=0" 2>&1 | FileCheck %s --check-prefix=BADRESIDENT
// BADRESIDENT: error: xlstm-contract-to-mma: resident-weight-rows must be 1 to 1024, resident-weight-stages 2 to 8, resident-weight-blocks at least 1 and resident-weight-warps 4, 8 or 16
// RESIDENTREPORT: gate_blocks {{.*}}mma-resident-weights 64-row slices 8 warps 3 stages, each block one head's W in shared memory, one launch for its 4 heads [M > 16]
// RESIDENTREPORT: gates_of_one_x {{.*}}mma-resident-weights 64-row slices 8 warps 3 stages, 16-byte stores from registers (W rows permuted), one launch of 2 projections of one x, each block one head's W in shared memory, one launch for its 2 heads [M > 16]
// Stores from registers as the pipelined kernel's (permuted-column-stores,
// on by default), where the warps' n tiles come in whole groups (float32:
// 2, so not gate_blocks' bf16 with 2 n tiles a warp); off, storeTiles:
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="resident-weights=1 permuted-column-stores=0 staged-tile-short-k= short-k-tiles-per-block=1 resident-weight-joint=0 resident-weight-rows=64" --xlstm-lowering-report -o /dev/null | FileCheck %s --check-prefix=RESIDENTPLAIN
// RESIDENTPLAIN: gate_blocks {{.*}}mma-resident-weights 64-row slices 8 warps 3 stages, each block one head's W in shared memory, one launch for its 4 heads [M > 16]
// RESIDENTPLAIN: gates_of_one_x {{.*}}mma-resident-weights 64-row slices 8 warps 3 stages, one launch of 2 projections of one x, each block one head's W in shared memory, one launch for its 2 heads [M > 16]
// resident-weight-joint: block b holds head b % 2's W of both projections
// (2 x 64 x 64 bf16 beside the 3 slices: 40 KiB) and runs each slice
// through both, so a grid of ceil(M / 64) slices x 2 heads over 132:
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="resident-weights=1 resident-weight-joint=1 staged-tile-short-k= short-k-tiles-per-block=1 resident-weight-rows=64" | FileCheck %s --check-prefix=JOINT
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="resident-weights=1 resident-weight-joint=1 staged-tile-short-k= short-k-tiles-per-block=1 resident-weight-rows=64" --xlstm-lowering-report -o /dev/null | FileCheck %s --check-prefix=JOINTREPORT
// JOINTREPORT: gate_blocks {{.*}}mma-resident-weights 64-row slices 8 warps 3 stages, each block one head's W in shared memory, one launch for its 4 heads [M > 16]
// JOINTREPORT: gates_of_one_x {{.*}}mma-resident-weights 64-row slices 8 warps 3 stages, 16-byte stores from registers (W rows permuted), one launch of 2 projections of one x, each block one head's W of all 2 in shared memory and each slice through them, one launch for its 2 heads [M > 16]
// resident-weight-early-first-pass: the second W in a cp.async group of its
// own behind the first slice's, waited for (and a barrier) before the
// first slice's second pass; the first iteration waits for one group more.
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="resident-weight-early-first-pass=1" | FileCheck %s --check-prefix=EARLY
// resident-weight-whole-slices: a slice wholly inside M (its first row +
// 128 <= M) runs both passes with unchecked stores, the partial one the
// checked copy:
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="resident-weight-whole-slices=1" | FileCheck %s --check-prefix=WHOLE
// resident-weight-late-prefetch: the next slice's copies after the first
// pass's products, before its stores:
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="resident-weight-late-prefetch=1" | FileCheck %s --check-prefix=LATE
// By default (resident-weights and resident-weight-joint on), 128-row
// slices through both W:
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma --xlstm-lowering-report -o /dev/null | FileCheck %s --check-prefix=DEFAULTREPORT
// DEFAULTREPORT: gates_of_one_x {{.*}}mma-resident-weights 128-row slices 8 warps 3 stages, 16-byte stores from registers (W rows permuted), one launch of 2 projections of one x, each block one head's W of all 2 in shared memory and each slice through them, one launch for its 2 heads [M > 16]
// resident-weight-joint-split-n: the 8 warps share out both W's 128
// columns (2 x 4 warps of 32 x 32, each warp's inside one W, whose output
// it selects once) and make one pass a slice, 32 mma and 8 stores a warp:
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="resident-weights=1 resident-weight-joint=1 resident-weight-joint-split-n=1 staged-tile-short-k= short-k-tiles-per-block=1 resident-weight-rows=64" | FileCheck %s --check-prefix=SPLITN
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="resident-weights=1 resident-weight-joint=1 resident-weight-joint-split-n=1 staged-tile-short-k= short-k-tiles-per-block=1 resident-weight-rows=64" --xlstm-lowering-report -o /dev/null | FileCheck %s --check-prefix=SPLITNREPORT
// SPLITNREPORT: gates_of_one_x {{.*}}mma-resident-weights 64-row slices 8 warps 3 stages, 16-byte stores from registers (W rows permuted), one launch of 2 projections of one x, each block one head's W of all 2 in shared memory and each slice through them in one pass, one launch for its 2 heads [M > 16]
// With staged-tile-short-k, projections whose K is at most 8 of its K
// steps (64 here: 2) take that configuration instead of the default tile:
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="staged-tile-short-k=64x128x32/2x2/3 short-k-tiles-per-block=1 resident-weights=0" --xlstm-lowering-report -o /dev/null | FileCheck %s --check-prefix=SHORTK
// RUN: not xlstm-opt %s --split-input-file --xlstm-contract-to-mma="staged-tile-short-k=64x128 resident-weights=0" 2>&1 | FileCheck %s --check-prefix=BADSHORTK
// SHORTK: gates_of_one_x {{.*}}mma-staged 64x128x32 4 warps 3 stages group-m 8 swizzled, 16-byte stores from registers (W rows permuted), one launch of 2 projections of one x, W rows interleaved by 8, each output stored, one launch for its 2 heads [M > 16]
// BADSHORTK: error: xlstm-contract-to-mma: staged tile '64x128': expected BMxBNxBK/WMxWN[/STAGES]
// With short-k-tiles-per-block (K of 2 steps here), each block of the
// pipelined kernel runs up to 4 tiles, tile, tile + G, ... (G the grid):
// the first's first stages queued before the loop, each next tile's after
// the K loop of the one before (behind a barrier) and ahead of its stores.
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="short-k-tiles-per-block=4 staged-tile-short-k= resident-weights=0" | FileCheck %s --check-prefix=MULTI
// RUN: not xlstm-opt %s --split-input-file --xlstm-contract-to-mma="short-k-tiles-per-block=65 resident-weights=0" 2>&1 | FileCheck %s --check-prefix=BADMULTI
// RUN: not xlstm-opt %s --split-input-file --xlstm-contract-to-mma="short-k-tiles-per-block=0 short-k-blocks=0 resident-weights=0" 2>&1 | FileCheck %s --check-prefix=BADMULTI
// RUN: not xlstm-opt %s --split-input-file --xlstm-contract-to-mma="short-k-max-steps=0 resident-weights=0" 2>&1 | FileCheck %s --check-prefix=BADMULTI
// BADMULTI: error: xlstm-contract-to-mma: short-k-tiles-per-block must be 0 to 64, short-k-blocks and short-k-max-steps at least 1
// K's 2 steps above short-k-max-steps=1: not short-K, a tile a block.
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="short-k-tiles-per-block=4 staged-tile-short-k= short-k-max-steps=1 resident-weights=0" --xlstm-lowering-report -o /dev/null | FileCheck %s --check-prefix=LONGK
// LONGK: gate_blocks {{.*}}mma-staged 128x128x32 8 warps 4 stages group-m 8 swizzled, 16-byte stores from registers (W rows permuted), one launch for its 4 heads [M > 16]{{$}}
// With a short-K configuration set (the default's 128x128x32/2x2/3), only
// its kernels run several tiles a block: these 64-column heads, narrower
// than its tiles, take the fallback tile, a tile a block.
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="resident-weights=0" --xlstm-lowering-report -o /dev/null | FileCheck %s --check-prefix=OTHERTILE
// OTHERTILE: gate_blocks {{.*}}mma-staged 128x128x32 8 warps 4 stages group-m 8 swizzled, 16-byte stores from registers (W rows permuted), one launch for its 4 heads [M > 16]{{$}}
// The shared-memory epilogue (on by default) of such a block keeps its copy
// behind the stages, where the next tile's loads are in flight while a tile
// stores: the launch takes the 4 stages (64 KiB) and the copy (128 rows of
// 128 + 8 bf16 values), the copy's views start behind the stages, and no
// wait for every copy precedes them.
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="permuted-column-stores=0 short-k-tiles-per-block=4 staged-tile-short-k= resident-weights=0" | FileCheck %s --check-prefix=MULTISHARED
// MULTISHARED-LABEL: func @gate_blocks
// MULTISHARED:       %[[BYTES:.+]] = arith.constant 100352 : i32
// MULTISHARED:       gpu.launch_func @projection_mma_staged::@projection_mma_staged {{.*}} dynamic_shared_memory_size %[[BYTES]]
// MULTISHARED:       gpu.func @projection_mma_staged(
// MULTISHARED-NOT:   nvvm.cp.async.wait.group 0
// MULTISHARED:       memref.view %{{.+}}[%c65536{{[_0-9]*}}][] : {{.*}} to memref<1x128x68xvector<2xbf16>, #gpu.address_space<workgroup>>
// MULTISHARED-NOT:   nvvm.cp.async.wait.group 0
// MULTISHARED:       memref.view %{{.+}}[%c65536{{[_0-9]*}}][] : {{.*}} to memref<1x128x17xvector<8xbf16>, #gpu.address_space<workgroup>>
// MULTISHARED:       gpu.return
// With cross-tile-prefetch the stages run on across a block's tiles: tile i
// starts at stage (i x 2 K steps) mod 3, and each K iteration's prefetch
// loads the tile's own K step or, past its K, the next tile's (rows, columns
// and step selected); no barrier follows the K loop, nor a queue of the next
// tile's stages. With 4 stages K's 2 steps leave nothing to continue.
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="short-k-tiles-per-block=4 staged-tile-short-k= stages=3 cross-tile-prefetch=1 resident-weights=0" | FileCheck %s --check-prefix=CROSS
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="short-k-tiles-per-block=4 staged-tile-short-k= stages=3 cross-tile-prefetch=1 resident-weights=0" --xlstm-lowering-report -o /dev/null | FileCheck %s --check-prefix=CROSSREPORT
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="short-k-tiles-per-block=4 staged-tile-short-k= cross-tile-prefetch=1 resident-weights=0" --xlstm-lowering-report -o /dev/null | FileCheck %s --check-prefix=NOCROSS
// CROSS-LABEL: func @gate_blocks
// CROSS:       gpu.func @projection_mma_staged(
// CROSS-COUNT-2: nvvm.cp.async.commit.group
// CROSS:         scf.for %[[I:.+]] = %{{.+}} to %c4{{[_0-9]*}} step
// (The next tile's origin, or this tile's where there is none.)
// CROSS:           %[[MORE:.+]] = arith.andi %{{.+}}, %{{.+}} : i1
// CROSS-NEXT:      %[[FOLLOWING:.+]] = arith.select %[[MORE]], %{{.+}}, %{{.+}} : index
// CROSS:           %[[STEPS:.+]] = arith.muli %[[I]], %c2{{[_0-9]*}} : index
// CROSS:           %[[BASE:.+]] = arith.remui %[[STEPS]], %c3{{[_0-9]*}} : index
// CROSS:           scf.for %[[KT:.+]] = %{{.+}} to %[[COUNT:[a-z0-9_]+]] step
// CROSS:             %[[AT:.+]] = arith.addi %[[KT]], %[[BASE]] : index
// CROSS:             arith.remui %[[AT]], %c3{{[_0-9]*}} : index
// CROSS-NEXT:        nvvm.cp.async.wait.group 1
// CROSS-NEXT:        gpu.barrier
// CROSS:             %[[NEXT:.+]] = arith.addi %[[KT]], %c2{{[_0-9]*}} : index
// CROSS-NEXT:        %[[OWN:.+]] = arith.cmpi ult, %[[NEXT]], %[[COUNT]] : index
// CROSS-NEXT:        %[[ANY:.+]] = arith.ori %[[OWN]], %[[MORE]] : i1
// CROSS-NEXT:        scf.if %[[ANY]] {
// CROSS-NEXT:          arith.select %[[OWN]]
// CROSS-NEXT:          arith.select %[[OWN]]
// CROSS-NEXT:          %[[PAST:.+]] = arith.subi %[[NEXT]], %[[COUNT]] : index
// CROSS-NEXT:          arith.select %[[OWN]], %[[NEXT]], %[[PAST]] : index
// CROSS:             nvvm.cp.async.commit.group
// CROSS-NOT:         gpu.barrier
// CROSS-NOT:         nvvm.cp.async.commit.group
// CROSS:             vector.store
// CROSS:         gpu.return
// CROSSREPORT: gate_blocks {{.*}}mma-staged 128x128x32 8 warps 3 stages group-m 8 swizzled, 16-byte stores from registers (W rows permuted), 4 tiles a block, the next tile's first stages loaded in the K loop, one launch for its 4 heads [M > 16]
// NOCROSS: gate_blocks {{.*}}mma-staged 128x128x32 8 warps 4 stages group-m 8 swizzled, 16-byte stores from registers (W rows permuted), 4 tiles a block, one launch for its 4 heads [M > 16]
// With short-k-tiles-per-block=0 the host counts the tiles a block at run
// time, max(ceil(tiles of all 4 heads / short-k-blocks), 1), and passes the
// count to the kernel, whose tile loop runs to it:
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="short-k-tiles-per-block=0 staged-tile-short-k= resident-weights=0" | FileCheck %s --check-prefix=RUNTIME
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="short-k-tiles-per-block=0 short-k-blocks=100 staged-tile-short-k= resident-weights=0" --xlstm-lowering-report -o /dev/null | FileCheck %s --check-prefix=RUNTIMEREPORT
// Without the shared epilogue (direct stores measured slower with several
// tiles a block) the run-time count keeps a tile a block:
// RUN: xlstm-opt %s --split-input-file --xlstm-contract-to-mma="short-k-tiles-per-block=0 shared-epilogue=0 permuted-column-stores=0 staged-tile-short-k= resident-weights=0" --xlstm-lowering-report -o /dev/null | FileCheck %s --check-prefix=RUNTIMEDIRECT
// RUNTIMEDIRECT: gate_blocks {{.*}}mma-staged 128x128x32 8 warps 4 stages group-m 8 swizzled, one launch for its 4 heads [M > 16]
// RUNTIME-LABEL: func @gate_blocks
// RUNTIME:         %[[ALL:.+]] = arith.muli %[[TILES:[0-9]+]], %c4{{[_0-9]*}} : index
// RUNTIME:         %[[SPREAD:.+]] = arith.ceildivui %[[ALL]], %c264{{[_0-9]*}} : index
// RUNTIME:         %[[PER:.+]] = arith.maxui %[[SPREAD]], %c1{{[_0-9]*}} : index
// RUNTIME:         %[[GRID:.+]] = arith.ceildivui %[[TILES]], %[[PER]] : index
// RUNTIME:         gpu.launch_func @projection_mma_staged::@projection_mma_staged blocks in (%[[GRID]], %c1{{[_0-9]*}}, %c4{{[_0-9]*}}) {{.*}} args({{.*}}, %[[PER]] : index)
// RUNTIME:       gpu.func @projection_mma_staged({{.*}}, %[[ARG:.+]]: index) kernel
// RUNTIME:         arith.ceildivui %{{.+}}, %[[ARG]] : index
// RUNTIME:         scf.for %{{.+}} = %{{.+}} to %[[ARG]] step
// RUNTIMEREPORT: gate_blocks {{.*}}mma-staged 128x128x32 8 warps 4 stages group-m 8 swizzled, 16-byte stores from registers (W rows permuted), several tiles a block (100 blocks at most), one launch for its 4 heads [M > 16]
// PAIRREPORT: gates_of_one_x {{.*}}mma-staged 128x128x64 4 warps 3 stages group-m 8 swizzled, 16-byte stores from registers (W rows permuted), one launch of 2 projections of one x, W rows interleaved by 8, each output stored, one launch for its 2 heads [M > 16]
// NARROW:    gate_blocks {{.*}}?x64x64{{.*}}mma-staged 128x64x64 4 warps 4 stages group-m 8 swizzled, 16-byte stores from registers (W rows permuted), one launch for its 4 heads [M > 16]
// WIDE:      gate_blocks {{.*}}?x64x64{{.*}}mma-staged 128x128x32 8 warps 4 stages group-m 8 swizzled, 16-byte stores from registers (W rows permuted), one launch for its 4 heads [M > 16]
// BADNARROW: error: xlstm-contract-to-mma: staged tile '128x64': expected BMxBNxBK/WMxWN[/STAGES]

#x = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
#w = affine_map<(d0, d1, d2, d3, d4) -> (d2, d3, d4)>
#y = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>
#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>

// CHECK-LABEL: func @gate_blocks
// CHECK-SAME:    (%[[X:.+]]: memref<?x?x4x64xbf16>, %[[W:.+]]: memref<4x64x64xbf16>)
// CHECK-NOT:   linalg.
// CHECK-NOT:   xf32>
// CHECK:       %[[Y:.+]] = memref.alloc(%{{.+}}, %{{.+}}) {alignment = 64 : i64} : memref<?x?x4x64xbf16>
// CHECK-DAG:   %[[XR:.+]] = memref.collapse_shape %[[X]] {{\[\[}}0, 1], [2, 3]] : memref<?x?x4x64xbf16> into memref<?x256xbf16>
// CHECK-DAG:   %[[YR:.+]] = memref.collapse_shape %[[Y]] {{\[\[}}0, 1], [2, 3]] : memref<?x?x4x64xbf16> into memref<?x256xbf16>
// CHECK-DAG:   %[[WR:.+]] = memref.collapse_shape %[[W]] {{\[\[}}0, 1], [2]] : memref<4x64x64xbf16> into memref<256x64xbf16>
// CHECK:       scf.if
// CHECK:         gpu.launch_func @projection_small_batch_mma_heads::{{.*}} args(%{{.+}} : index, %{{.+}} : memref<?x64xbf16, strided<[256, 1], offset: ?>>, %{{.+}} : memref<64x64xbf16, strided<[64, 1], offset: ?>>, %{{.+}} : memref<?x64xbf16, strided<[256, 1], offset: ?>>, %{{.+}} : memref<?x64xbf16, strided<[256, 1], offset: ?>>,
// CHECK:       } else {
// CHECK:         gpu.launch_func @projection_mma_staged::{{.*}} blocks in (%{{.+}}, %c1{{.*}}, %c4) {{.*}} args(%[[XR]] : memref<?x256xbf16>, %[[WR]] : memref<256x64xbf16>, %[[YR]] : memref<?x256xbf16>,
// CHECK:       return
//
// Block h's views in the pipelined kernel; with shared-epilogue=0 its bf16
// results stored two at a time (a block's columns start at an even offset).
// KERNEL-LABEL: gpu.func @projection_mma_staged(
// KERNEL-SAME:    %[[KX:[^:]+]]: memref<?x256xbf16>, %[[KW:[^:]+]]: memref<256x64xbf16>, %[[KY:[^:]+]]: memref<?x256xbf16>
// KERNEL:         %[[H:.+]] = gpu.block_id z
// KERNEL-DAG:     %[[XOFF:.+]] = arith.muli %[[H]], %c64
// KERNEL-DAG:     memref.subview %[[KX]][0, %[[XOFF]]] [%{{.+}}, 64] [1, 1] : memref<?x256xbf16> to memref<?x64xbf16, strided<[256, 1], offset: ?>>
// KERNEL-DAG:     memref.subview %[[KW]][%{{.+}}, 0] [64, 64] [1, 1] : memref<256x64xbf16> to memref<64x64xbf16, strided<[64, 1], offset: ?>>
// KERNEL-DAG:     memref.subview %[[KY]][0, %{{.+}}] [%{{.+}}, 64] [1, 1] : memref<?x256xbf16> to memref<?x64xbf16, strided<[256, 1], offset: ?>>
// KERNEL:         nvvm.mma.sync
// The bf16 pairs are all rounded before the first (guarded) store: half the
// registers of the float32 accumulators through the stores.
// KERNEL:         arith.truncf %{{.+}} : vector<2xf32> to vector<2xbf16>
// KERNEL:         vector.store %{{.+}} : memref<?x64xbf16, strided<[256, 1], offset: ?>>, vector<2xbf16>
// KERNEL-NOT:     arith.truncf
// KERNEL:         gpu.return
// Without the pipelined kernel, the direct one over all blocks; with
// headwise-one-launch=0 a launch per block.
// DIRECT-LABEL: func @gate_blocks
// DIRECT:       } else {
// DIRECT:         gpu.launch_func @projection_mma::{{.*}} blocks in (%{{.+}}, %{{.+}}, %c4{{[_0-9]*}})
// PERBLOCK-LABEL: func @gate_blocks
// PERBLOCK:       } else {
// PERBLOCK-COUNT-4: gpu.launch_func @projection_mma_staged{{[_0-9]*}}::{{.*}} blocks in (%{{.+}}, %{{.+}}, %c1{{[_0-9]*}}) {{.*}} memref<?x64xbf16, strided<[256, 1], offset: ?>>
// MULTI-LABEL: func @gate_blocks
// MULTI:       } else {
// MULTI:         %[[TILES:.+]] = arith.muli
// MULTI:         %[[GRID:.+]] = arith.ceildivui %[[TILES]], %c4{{[_0-9]*}} : index
// MULTI:         gpu.launch_func @projection_mma_staged::@projection_mma_staged blocks in (%[[GRID]], %c1{{[_0-9]*}}, %c4{{[_0-9]*}})
// MULTI:       gpu.func @projection_mma_staged(
// MULTI:         %[[FIRST:.+]] = gpu.block_id x
// MULTI:         %[[G:.+]] = arith.ceildivui %[[TILES2:[0-9]+]], %c4{{[_0-9]*}} : index
// MULTI-NEXT:    %[[HAS:.+]] = arith.cmpi ult, %[[FIRST]], %[[TILES2]] : index
// MULTI-NEXT:    scf.if %[[HAS]]
// MULTI-COUNT-3:   nvvm.cp.async.commit.group
// MULTI:         scf.for %[[I:.+]] = %{{.+}} to %c4{{[_0-9]*}} step
// MULTI:           %[[STRIDE:.+]] = arith.muli %[[I]], %[[G]] : index
// MULTI:           %[[TILE:.+]] = arith.addi %[[FIRST]], %[[STRIDE]] : index
// MULTI:           scf.if
// MULTI:             scf.for
// MULTI:               nvvm.cp.async.wait.group
// MULTI:             gpu.barrier
// MULTI:             %[[NEXT:.+]] = arith.addi %[[TILE]], %[[G]] : index
// MULTI:             scf.if
// MULTI-COUNT-3:       nvvm.cp.async.commit.group
// MULTI:             vector.store
// MULTI:         gpu.return
func.func @gate_blocks(%x: memref<?x?x4x64xbf16>, %w: memref<4x64x64xbf16>) -> memref<?x?x256xbf16> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %d0 = memref.dim %x, %c0 : memref<?x?x4x64xbf16>
  %d1 = memref.dim %x, %c1 : memref<?x?x4x64xbf16>
  %acc = memref.alloc(%d0, %d1) {alignment = 64 : i64} : memref<?x?x4x64xf32>
  linalg.fill ins(%zero : f32) outs(%acc : memref<?x?x4x64xf32>)
  linalg.contract indexing_maps = [#x, #w, #y] ins(%x, %w : memref<?x?x4x64xbf16>, memref<4x64x64xbf16>) outs(%acc : memref<?x?x4x64xf32>)
  // (Sizes asked of the collapsed view, as bufferization leaves them.)
  %rows = memref.collapse_shape %acc [[0], [1], [2, 3]] : memref<?x?x4x64xf32> into memref<?x?x256xf32>
  %e0 = memref.dim %rows, %c0 : memref<?x?x256xf32>
  %e1 = memref.dim %rows, %c1 : memref<?x?x256xf32>
  %y = memref.alloc(%e0, %e1) {alignment = 64 : i64} : memref<?x?x4x64xbf16>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%acc : memref<?x?x4x64xf32>) outs(%y : memref<?x?x4x64xbf16>) {
  ^bb0(%a: f32, %b: bf16):
    %t = arith.truncf %a : f32 to bf16
    linalg.yield %t : bf16
  }
  %r = memref.collapse_shape %y [[0], [1], [2, 3]] : memref<?x?x4x64xbf16> into memref<?x?x256xbf16>
  return %r : memref<?x?x256xbf16>
}

// -----

#x = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
#w = affine_map<(d0, d1, d2, d3, d4) -> (d2, d3, d4)>
#y = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>

// The truncation reading the collapsed view itself: the kernels write its
// buffer through an expand_shape of it.
// CHECK-LABEL: func @truncation_of_rows
// CHECK-NOT:   linalg.
// CHECK:       %[[Y:.+]] = memref.alloc(%{{.+}}, %{{.+}}) : memref<?x?x256xbf16>
// CHECK:       memref.expand_shape %[[Y]] {{\[\[}}0], [1], [2, 3]] output_shape [%{{.+}}, %{{.+}}, 4, 64] : memref<?x?x256xbf16> into memref<?x?x4x64xbf16>
// CHECK:       gpu.launch_func @projection_mma_staged::{{.*}} blocks in (%{{.+}}, %c1{{.*}}, %c4)
// CHECK:       return %[[Y]]
func.func @truncation_of_rows(%x: memref<?x?x4x64xbf16>, %w: memref<4x64x64xbf16>) -> memref<?x?x256xbf16> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %d0 = memref.dim %x, %c0 : memref<?x?x4x64xbf16>
  %d1 = memref.dim %x, %c1 : memref<?x?x4x64xbf16>
  %acc = memref.alloc(%d0, %d1) : memref<?x?x4x64xf32>
  linalg.fill ins(%zero : f32) outs(%acc : memref<?x?x4x64xf32>)
  %y = memref.alloc(%d0, %d1) : memref<?x?x256xbf16>
  linalg.contract indexing_maps = [#x, #w, #y] ins(%x, %w : memref<?x?x4x64xbf16>, memref<4x64x64xbf16>) outs(%acc : memref<?x?x4x64xf32>)
  %rows = memref.collapse_shape %acc [[0], [1], [2, 3]] : memref<?x?x4x64xf32> into memref<?x?x256xf32>
  linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%rows : memref<?x?x256xf32>) outs(%y : memref<?x?x256xbf16>) {
  ^bb0(%a: f32, %b: bf16):
    %t = arith.truncf %a : f32 to bf16
    linalg.yield %t : bf16
  }
  return %y : memref<?x?x256xbf16>
}

// -----

#x = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
#w = affine_map<(d0, d1, d2, d3, d4) -> (d2, d3, d4)>
#y = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>

// float32 blocks: the decoding kernels in one launch, then the tf32 kernel
// in one launch too, block h in grid plane z = h on its views (KERNEL).
// CHECK-LABEL: func @f32_blocks
// CHECK:       scf.if
// CHECK:         gpu.launch_func @projection_gemv_heads::
// CHECK:       } else {
// CHECK:         gpu.launch_func @projection_tf32_mma::{{.*}} blocks in (%{{.+}}, %{{.+}}, %c2{{[_0-9]*}}) {{.*}} args(%{{.+}} : memref<?x64xf32>, %{{.+}} : memref<64x32xf32>, %{{.+}} : memref<?x64xf32>,
// CHECK-NOT:     gpu.launch_func
// CHECK:       }
// KERNEL-LABEL: gpu.func @projection_tf32_mma(
// KERNEL:         gpu.block_id z
// KERNEL:         memref.subview {{.*}} : memref<?x64xf32> to memref<?x32xf32, strided<[64, 1], offset: ?>>
func.func @f32_blocks(%x: memref<?x2x32xf32>, %w: memref<2x32x32xf32>) -> memref<?x2x32xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %d0 = memref.dim %x, %c0 : memref<?x2x32xf32>
  %acc = memref.alloc(%d0) : memref<?x2x32xf32>
  linalg.fill ins(%zero : f32) outs(%acc : memref<?x2x32xf32>)
  linalg.contract indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>, affine_map<(d0, d1, d2, d3) -> (d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>] ins(%x, %w : memref<?x2x32xf32>, memref<2x32x32xf32>) outs(%acc : memref<?x2x32xf32>)
  return %acc : memref<?x2x32xf32>
}

// -----

#x = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#w = affine_map<(d0, d1, d2, d3) -> (d1, d2, d3)>
#y = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>

// Blocks of K = 40 (80 bytes: no whole 16-byte mma k steps) stay generic,
// with the reason.
// CHECK-LABEL: func @odd_blocks
// CHECK:       linalg.contract {{.*}} {xlstm.generic_reason = "blocks of K = 40, N = 40: K must be a multiple of 16 and of 16 bytes, N of 8"}
func.func @odd_blocks(%x: memref<?x2x40xbf16>, %w: memref<2x40x40xbf16>, %acc: memref<?x2x40xf32>) {
  linalg.contract indexing_maps = [#x, #w, #y] ins(%x, %w : memref<?x2x40xbf16>, memref<2x40x40xbf16>) outs(%acc : memref<?x2x40xf32>)
  return
}

// -----

#x = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
#w = affine_map<(d0, d1, d2, d3, d4) -> (d2, d3, d4)>
#y = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>

// Blocks of a slice of x's last dimension (the mLSTM's v, half of the up
// projection's output): the slice's source collapsed to rows and sliced
// again, then the one launch over all blocks.
// CHECK-LABEL: func @blocks_of_a_slice
// CHECK:       %[[ROWS:.+]] = memref.collapse_shape %{{.+}} {{\[\[}}0, 1], [2]] : memref<?x?x512xbf16> into memref<?x512xbf16>
// CHECK:       %[[X:.+]] = memref.subview %[[ROWS]][0, 256] [%{{.+}}, 256] [1, 1] : memref<?x512xbf16> to memref<?x256xbf16, strided<[512, 1], offset: 256>>
// CHECK:       gpu.launch_func @projection_mma_staged{{[_0-9]*}}::{{.*}} blocks in (%{{.+}}, %c1{{.*}}, %c8) {{.*}} args(%[[X]] : memref<?x256xbf16, strided<[512, 1], offset: 256>>
// CHECK-NOT:   linalg.contract
func.func @blocks_of_a_slice(%up: memref<?x?x512xbf16>, %w: memref<8x32x32xbf16>) -> memref<?x?x8x32xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %d0 = memref.dim %up, %c0 : memref<?x?x512xbf16>
  %d1 = memref.dim %up, %c1 : memref<?x?x512xbf16>
  %a = memref.alloc(%d0, %d1) : memref<?x?x512xbf16>
  memref.copy %up, %a : memref<?x?x512xbf16> to memref<?x?x512xbf16>
  %half = memref.subview %a[0, 0, 256] [%d0, %d1, 256] [1, 1, 1] : memref<?x?x512xbf16> to memref<?x?x256xbf16, strided<[?, 512, 1], offset: 256>>
  %x = memref.expand_shape %half [[0], [1], [2, 3]] output_shape [%d0, %d1, 8, 32] : memref<?x?x256xbf16, strided<[?, 512, 1], offset: 256>> into memref<?x?x8x32xbf16, strided<[?, 512, 32, 1], offset: 256>>
  %acc = memref.alloc(%d0, %d1) : memref<?x?x8x32xf32>
  linalg.fill ins(%zero : f32) outs(%acc : memref<?x?x8x32xf32>)
  linalg.contract indexing_maps = [#x, #w, #y] ins(%x, %w : memref<?x?x8x32xbf16, strided<[?, 512, 32, 1], offset: 256>>, memref<8x32x32xbf16>) outs(%acc : memref<?x?x8x32xf32>)
  return %acc : memref<?x?x8x32xf32>
}

// -----

#x = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
#w = affine_map<(d0, d1, d2, d3, d4) -> (d2, d3, d4)>
#y = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>

// Two headwise projections of one x (the sLSTM's i and f gates): decoding
// takes all their blocks in one launch, at the first one's place; for more
// rows each takes its own launch over its blocks.
// CHECK-LABEL: func @gates_of_one_x
// CHECK:       scf.if
// CHECK:         gpu.launch_func @projection_small_batch_mma_heads{{[_0-9]*}}::
// CHECK-NOT:     gpu.launch_func
// CHECK:       } else {
// CHECK-COUNT-2: gpu.launch_func @projection_mma_staged{{[_0-9]*}}::{{.*}} blocks in (%{{.+}}, %c1{{.*}}, %c2{{[_0-9]*}})
// CHECK-NOT:   linalg.contract
// PAIR-LABEL: func @gates_of_one_x
// PAIR-DAG:   %[[I:.+]] = memref.alloc({{.+}}) : memref<?x?x2x64xf32>
// PAIR-DAG:   %[[F:.+]] = memref.alloc({{.+}}) : memref<?x?x2x64xf32>
// PAIR-DAG:   %[[I2:.+]] = memref.collapse_shape %[[I]] {{\[}}[0, 1], [2, 3]]
// PAIR-DAG:   %[[WI:.+]] = memref.collapse_shape %arg1 {{\[}}[0, 1], [2]]
// PAIR-DAG:   %[[F2:.+]] = memref.collapse_shape %[[F]] {{\[}}[0, 1], [2, 3]]
// PAIR-DAG:   %[[WF:.+]] = memref.collapse_shape %arg2 {{\[}}[0, 1], [2]]
// PAIR:       } else {
// PAIR:         gpu.launch_func @projection_mma_pair::@projection_mma_pair blocks in (%{{.+}}, %c1{{[_0-9]*}}, %c2{{[_0-9]*}}) {{.*}} args(%{{.+}} : memref<?x128xbf16>, %[[WI]] : memref<128x64xbf16>, %[[I2]] : memref<?x128xf32>, %{{.+}} : index, %[[WF]] : memref<128x64xbf16>, %[[F2]] : memref<?x128xf32>)
// PAIR-NOT:     gpu.launch_func
// PAIR:       return
// Block z's views of both W and both outputs; rows of W alternate between
// them by 8; the first's values go to the first output, then the second's
// to the second (shared-epilogue=0: stored one pair at a time).
// PAIR:       gpu.func @projection_mma_pair(
// PAIR-DAG:     %[[O1:.+]] = memref.subview %arg2[0, %{{.+}}] [%arg3, 64] [1, 1]
// PAIR-DAG:     %[[W1:.+]] = memref.subview %arg1[%{{.+}}, 0] [64, 64] [1, 1]
// PAIR-DAG:     %[[W2:.+]] = memref.subview %arg4[%{{.+}}, 0] [64, 64] [1, 1]
// PAIR-DAG:     %[[O2:.+]] = memref.subview %arg5[0, %{{.+}}] [%arg3, 64] [1, 1]
// PAIR:         arith.select %{{.+}}, %[[W2]], %[[W1]]
// PAIR-COUNT-64: memref.store %{{.+}}, %[[O1]][
// PAIR-COUNT-64: memref.store %{{.+}}, %[[O2]][
// PAIR-NOT:     memref.store
// PAIR:         gpu.return
// RESIDENT-LABEL: func @gates_of_one_x
// RESIDENT:       } else {
// RESIDENT:         %[[SLICES:.+]] = arith.ceildivui %[[M:.+]], %c64{{[_0-9]*}} : index
// RESIDENT:         %[[ALL:.+]] = arith.muli %[[SLICES]], %c4{{[_0-9]*}} : index
// RESIDENT:         %[[WANT:.+]] = arith.ceildivui %[[ALL]], %c132 : index
// RESIDENT:         %[[PER:.+]] = arith.maxui %[[WANT]], %c1{{[_0-9]*}} : index
// RESIDENT:         %[[SPLITS:.+]] = arith.ceildivui %[[SLICES]], %[[PER]] : index
// RESIDENT:         %[[GRID:.+]] = arith.muli %[[SPLITS]], %c4{{[_0-9]*}} : index
// RESIDENT:         gpu.launch_func @projection_mma_resident::@projection_mma_resident blocks in (%[[GRID]], %c1{{[_0-9]*}}, %c1{{[_0-9]*}}) threads in (%c256{{[_0-9]*}}, %c1{{[_0-9]*}}, %c1{{[_0-9]*}}) dynamic_shared_memory_size %c32768_i32 args(%{{.+}} : memref<?x128xbf16>, %[[M]] : index, %[[PER]] : index, %{{.+}} : memref<128x64xbf16>, %{{.+}} : memref<?x128xf32>, %{{.+}} : memref<128x64xbf16>, %{{.+}} : memref<?x128xf32>)
// RESIDENT-NOT:     gpu.launch_func
// RESIDENT:       return
// W and slice 0 in one group, slice 1 (where the block has it) in the next;
// each iteration waits for its slice, refills the stage read before, and
// runs K (4 steps of 16) on 2 x 2 tiles a warp.
// RESIDENT:       gpu.func @projection_mma_resident(
// RESIDENT:         %[[B:.+]] = gpu.block_id x
// RESIDENT:         arith.remui %[[B]], %c2
// RESIDENT:         arith.select
// (W's staged row r holds row r - r % 16 + the permuted column of r % 16.)
// RESIDENT:         arith.remui %{{.+}}, %c16{{[_0-9]*}} : index
// RESIDENT-COUNT-4: nvgpu.device_async_copy
// RESIDENT:         nvvm.cp.async.commit.group
// RESIDENT:         scf.if
// RESIDENT-COUNT-2:   nvgpu.device_async_copy
// RESIDENT:         nvvm.cp.async.commit.group
// RESIDENT:         scf.for
// RESIDENT:           nvvm.cp.async.wait.group 1
// RESIDENT-NEXT:      gpu.barrier
// RESIDENT:           scf.if
// RESIDENT-COUNT-2:     nvgpu.device_async_copy
// RESIDENT:           nvvm.cp.async.commit.group
// RESIDENT-COUNT-16:  nvvm.mma.sync
// RESIDENT-NOT:       nvvm.mma.sync
// Each lane's 4 float32 of a row (n tiles 0 and 1): one 16-byte store a
// row, 2 m tiles x 2 rows, each checked against M.
// RESIDENT-COUNT-4:   vector.store %{{.+}}, %{{.+}}[%{{.+}}, %{{.+}}] {alignment = 16 : i64} : memref<?x64xf32, strided<[128, 1], offset: ?>>, vector<4xf32>
// RESIDENT-NOT:       memref.store
// RESIDENT:         gpu.return
// JOINT-LABEL: func @gates_of_one_x
// JOINT:       } else {
// JOINT:         %[[SLICES:.+]] = arith.ceildivui %[[M:.+]], %c64{{[_0-9]*}} : index
// JOINT:         %[[ALL:.+]] = arith.muli %[[SLICES]], %c2{{[_0-9]*}} : index
// JOINT:         %[[WANT:.+]] = arith.ceildivui %[[ALL]], %c132 : index
// JOINT:         %[[PER:.+]] = arith.maxui %[[WANT]], %c1{{[_0-9]*}} : index
// JOINT:         %[[SPLITS:.+]] = arith.ceildivui %[[SLICES]], %[[PER]] : index
// JOINT:         %[[GRID:.+]] = arith.muli %[[SPLITS]], %c2{{[_0-9]*}} : index
// JOINT:         gpu.launch_func @projection_mma_resident::@projection_mma_resident blocks in (%[[GRID]], %c1{{[_0-9]*}}, %c1{{[_0-9]*}}) threads in (%c256{{[_0-9]*}}, %c1{{[_0-9]*}}, %c1{{[_0-9]*}}) dynamic_shared_memory_size %c40960_i32 args(
// JOINT-NOT:     gpu.launch_func
// JOINT:       return
// No select of a projection: the head is b % 2, the first slice b / 2 x
// per; both W (8 KiB each) and slice 0 in the first group.
// JOINT:       gpu.func @projection_mma_resident(
// JOINT:         %[[B:.+]] = gpu.block_id x
// JOINT:         arith.remui %[[B]], %c2
// JOINT:         arith.divui %[[B]], %c2
// JOINT-NOT:     arith.select %{{.+}}, %arg5
// JOINT-DAG:     %[[O1:.+]] = memref.subview %arg4[0, %{{.+}}] [%arg1, 64] [1, 1]
// JOINT-DAG:     %[[O2:.+]] = memref.subview %arg6[0, %{{.+}}] [%arg1, 64] [1, 1]
// JOINT-DAG:     %[[S1:.+]] = memref.view %{{.+}}[%c0{{[_0-9]*}}][] {{.*}} to memref<64x64xbf16, #gpu.address_space<workgroup>>
// JOINT-DAG:     %[[S2:.+]] = memref.view %{{.+}}[%c8192{{[_0-9]*}}][] {{.*}} to memref<64x64xbf16, #gpu.address_space<workgroup>>
// JOINT-DAG:     memref.view %{{.+}}[%c16384{{[_0-9]*}}][] {{.*}} to memref<3x64x64xbf16, #gpu.address_space<workgroup>>
// JOINT-COUNT-2: nvgpu.device_async_copy %{{.+}}, %[[S1]]
// JOINT-COUNT-2: nvgpu.device_async_copy %{{.+}}, %[[S2]]
// JOINT-COUNT-2: nvgpu.device_async_copy
// JOINT-NEXT:    nvvm.cp.async.commit.group
// Each slice: 16 mma on the first W, its 4 stores; then the second's.
// JOINT:         scf.for
// JOINT:           nvvm.cp.async.wait.group 1
// JOINT-NEXT:      gpu.barrier
// JOINT:           nvvm.cp.async.commit.group
// JOINT-COUNT-16:  nvvm.mma.sync
// JOINT-NOT:       nvvm.mma.sync
// JOINT-COUNT-4:   vector.store %{{.+}}, %[[O1]][
// JOINT-COUNT-16:  nvvm.mma.sync
// JOINT-NOT:       nvvm.mma.sync
// JOINT-COUNT-4:   vector.store %{{.+}}, %[[O2]][
// JOINT-NOT:       vector.store
// JOINT:         gpu.return
// EARLY-LABEL: func @gates_of_one_x
// EARLY:       gpu.func @projection_mma_resident(
// EARLY:         %[[W2:.+]] = memref.view %{{.+}}[%c8192{{[_0-9]*}}][] {{.*}} to memref<64x64xbf16, #gpu.address_space<workgroup>>
// EARLY-NOT:     nvgpu.device_async_copy %{{.+}}, %[[W2]]
// EARLY:         nvvm.cp.async.commit.group
// EARLY-COUNT-2: nvgpu.device_async_copy %{{.+}}, %[[W2]]
// EARLY-NEXT:    nvvm.cp.async.commit.group
// EARLY:         scf.for
// EARLY:           scf.if %[[FIRST:[^ ]+]] {
// EARLY-NEXT:        nvvm.cp.async.wait.group 2
// EARLY:           scf.if
// EARLY-NEXT:        nvvm.cp.async.wait.group 1
// EARLY:           gpu.barrier
// EARLY-COUNT-32:  nvvm.mma.sync
// EARLY-NOT:       nvvm.mma.sync
// EARLY:           scf.if %[[FIRST]] {
// EARLY-NEXT:        nvvm.cp.async.wait.group 2
// EARLY-NEXT:        gpu.barrier
// EARLY-COUNT-32:  nvvm.mma.sync
// EARLY:         gpu.return
// WHOLE-LABEL: func @gates_of_one_x
// WHOLE:       gpu.func @projection_mma_resident(
// WHOLE:         scf.for
// WHOLE:           nvvm.cp.async.commit.group
// WHOLE:           %[[END:.+]] = arith.addi %{{.+}}, %c128{{[_0-9]*}} : index
// WHOLE-NEXT:      %[[WHOLE:.+]] = arith.cmpi ule, %[[END]], %arg1 : index
// WHOLE-NEXT:      scf.if %[[WHOLE]] {
// WHOLE-NOT:         scf.if
// WHOLE-COUNT-32:    nvvm.mma.sync
// WHOLE-NOT:         scf.if
// WHOLE-COUNT-8:     vector.store
// WHOLE-NOT:         scf.if
// WHOLE-COUNT-32:    nvvm.mma.sync
// WHOLE-NOT:         scf.if
// WHOLE-COUNT-8:     vector.store
// WHOLE-NEXT:      } else {
// WHOLE-COUNT-32:    nvvm.mma.sync
// WHOLE:             scf.if
// WHOLE-NEXT:          vector.from_elements
// WHOLE-NEXT:          vector.store
// WHOLE:         gpu.return
// LATE-LABEL: func @gates_of_one_x
// LATE:       gpu.func @projection_mma_resident(
// LATE:         scf.for
// LATE:           nvvm.cp.async.wait.group 1
// LATE-NEXT:      gpu.barrier
// LATE-NOT:       nvgpu.device_async_copy
// LATE-COUNT-32:  nvvm.mma.sync
// LATE-NOT:       vector.store
// LATE:           nvgpu.device_async_copy
// LATE:           nvvm.cp.async.commit.group
// LATE-NOT:       nvvm.mma.sync
// LATE:           vector.store
// LATE:           nvvm.mma.sync
// LATE:         gpu.return
// SPLITN-LABEL: func @gates_of_one_x
// SPLITN:       gpu.launch_func @projection_mma_resident::@projection_mma_resident {{.*}} dynamic_shared_memory_size %c40960_i32 args(
// SPLITN:       gpu.func @projection_mma_resident(
// SPLITN-DAG:     %[[O1:.+]] = memref.subview %arg4[0, %{{.+}}] [%arg1, 64] [1, 1]
// SPLITN-DAG:     %[[O2:.+]] = memref.subview %arg6[0, %{{.+}}] [%arg1, 64] [1, 1]
// SPLITN-DAG:     memref.view %{{.+}}[%c0{{[_0-9]*}}][] {{.*}} to memref<128x64xbf16, #gpu.address_space<workgroup>>
// SPLITN:         %[[OWN:.+]] = arith.select %{{.+}}, %[[O2]], %[[O1]]
// SPLITN:         scf.for
// SPLITN:           nvvm.cp.async.wait.group 1
// SPLITN-COUNT-32:  nvvm.mma.sync
// SPLITN-NOT:       nvvm.mma.sync
// SPLITN-COUNT-8:   vector.store %{{.+}}, %[[OWN]][
// SPLITN-NOT:       vector.store
// SPLITN:         gpu.return
func.func @gates_of_one_x(%x: memref<?x?x2x64xbf16>, %wi: memref<2x64x64xbf16>, %wf: memref<2x64x64xbf16>) -> (memref<?x?x2x64xf32>, memref<?x?x2x64xf32>) {
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
  return %i, %f : memref<?x?x2x64xf32>, memref<?x?x2x64xf32>
}

// -----

#x = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
#w = affine_map<(d0, d1, d2, d3, d4) -> (d2, d3, d4)>
#y = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>

// A decoding launch takes at most 24 blocks (three memref descriptors a
// block; a kernel's parameters may take 4 KiB): two projections of 16
// blocks decode in a launch each.
// CHECK-LABEL: func @many_blocks_of_one_x
// CHECK-COUNT-2: gpu.launch_func @projection_small_batch_mma_heads{{[_0-9]*}}::
// CHECK:       return
func.func @many_blocks_of_one_x(%x: memref<?x16x32xbf16>, %wi: memref<16x32x32xbf16>, %wf: memref<16x32x32xbf16>) -> (memref<?x16x32xf32>, memref<?x16x32xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %d0 = memref.dim %x, %c0 : memref<?x16x32xbf16>
  %i = memref.alloc(%d0) : memref<?x16x32xf32>
  linalg.fill ins(%zero : f32) outs(%i : memref<?x16x32xf32>)
  linalg.contract indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>, affine_map<(d0, d1, d2, d3) -> (d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>] ins(%x, %wi : memref<?x16x32xbf16>, memref<16x32x32xbf16>) outs(%i : memref<?x16x32xf32>)
  %f = memref.alloc(%d0) : memref<?x16x32xf32>
  linalg.fill ins(%zero : f32) outs(%f : memref<?x16x32xf32>)
  linalg.contract indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>, affine_map<(d0, d1, d2, d3) -> (d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>] ins(%x, %wf : memref<?x16x32xbf16>, memref<16x32x32xbf16>) outs(%f : memref<?x16x32xf32>)
  return %i, %f : memref<?x16x32xf32>, memref<?x16x32xf32>
}
