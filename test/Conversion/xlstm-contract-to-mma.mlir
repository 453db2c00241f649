// The direct kernel (fragments from global memory):
// RUN: xlstm-opt %s --xlstm-contract-to-mma="stages=0 staged-tile-short-k= short-k-tiles-per-block=1" --cse | FileCheck %s
// RUN: xlstm-opt %s --xlstm-contract-to-mma="stages=0 staged-tile-short-k= short-k-tiles-per-block=1 accumulate-in-epilogue=0" --cse | FileCheck %s --check-prefix=ACCOUT
// RUN: xlstm-opt %s --xlstm-contract-to-mma="stages=0 warps-m=1 warps-n=4 warp-tiles-m=1 warp-tiles-n=2 gemv-max-rows=0 staged-tile-short-k= short-k-tiles-per-block=1" | FileCheck %s --check-prefix=TILE
// RUN: not xlstm-opt %s --xlstm-contract-to-mma="warps-m=0 staged-tile-short-k= short-k-tiles-per-block=1" 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: not xlstm-opt %s --xlstm-contract-to-mma="stages=1 staged-tile-short-k= short-k-tiles-per-block=1" 2>&1 | FileCheck %s --check-prefix=BADSTAGES
// RUN: xlstm-opt %s --xlstm-contract-to-mma="stages=0 staged-tile-short-k= short-k-tiles-per-block=1" --gpu-kernel-outlining | xlstm-opt --xlstm-gpu-to-ptx | FileCheck %s --check-prefix=PTX
// RUN: xlstm-opt %s --xlstm-contract-to-mma="tf32=1 staged-tile-short-k= short-k-tiles-per-block=1" | FileCheck %s --check-prefix=PLAIN
// The staged kernel (the default where K % 32 == 0):
// RUN: xlstm-opt %s --xlstm-contract-to-mma="staged-tile=128x128x32/2x4 staged-tile-large= staged-group-m=0 staged-tile-short-k= short-k-tiles-per-block=1" --cse | FileCheck %s --check-prefix=STAGED
// RUN: xlstm-opt %s --pass-pipeline="builtin.module(xlstm-contract-to-mma{staged-tile=128x128x32/2x4 staged-tile-large= staged-group-m=0},gpu-kernel-outlining,gpu.module(xlstm-align-workgroup-memory))" | xlstm-opt --xlstm-gpu-to-ptx | FileCheck %s --check-prefix=STAGEDPTX
// RUN: xlstm-opt %s --xlstm-contract-to-mma="staged-tile=128x256x64/2x4 staged-tile-large= staged-group-m=8 stages=3 gemv-max-rows=0 staged-tile-short-k= short-k-tiles-per-block=1" --cse | FileCheck %s --check-prefix=WIDE
// RUN: xlstm-opt %s --xlstm-contract-to-mma="staged-tile=128x128x64/2x2/4 staged-tile-large=128x256x64/2x4/3 gemv-max-rows=0 staged-tile-short-k= short-k-tiles-per-block=1" --cse | FileCheck %s --check-prefix=SHAPE
// RUN: %if ptxas %{ xlstm-opt %s --pass-pipeline="builtin.module(xlstm-contract-to-mma{staged-tile=128x256x64/2x4 staged-tile-large= staged-group-m=8 stages=3 gemv-max-rows=0},gpu-kernel-outlining,gpu.module(xlstm-align-workgroup-memory))" | xlstm-opt --xlstm-gpu-to-ptx="format=bin chip=sm_80 toolkit=%cuda_toolkit" | FileCheck %s --check-prefix=WIDEBIN %}
// RUN: not xlstm-opt %s --xlstm-contract-to-mma="staged-tile=100x128x32/2x4 staged-tile-short-k= short-k-tiles-per-block=1" 2>&1 | FileCheck %s --check-prefix=BADTILE
// RUN: xlstm-opt %s --xlstm-contract-to-mma="staged-tile=128x128x32/2x4 staged-tile-large= staged-group-m=0 split-k-blocks=128 gemv-max-rows=0 f32-pair-stores=0 staged-tile-short-k= short-k-tiles-per-block=1" --cse | FileCheck %s --check-prefix=SPLIT
// RUN: xlstm-opt %s --pass-pipeline="builtin.module(xlstm-contract-to-mma{staged-tile=128x128x32/2x4 staged-tile-large= staged-group-m=0 split-k-blocks=128 gemv-max-rows=0},gpu-kernel-outlining,gpu.module(xlstm-align-workgroup-memory))" | xlstm-opt --xlstm-gpu-to-ptx | FileCheck %s --check-prefix=SPLITPTX
// RUN: not xlstm-opt %s --xlstm-contract-to-mma="staged-tile=256x256x64/2x4 staged-tile-short-k= short-k-tiles-per-block=1" 2>&1 | FileCheck %s --check-prefix=BIGTILE
// RUN: xlstm-opt %s --xlstm-contract-to-mma="staged-tile=128x128x32/2x4 staged-tile-large= staged-group-m=0 staged-swizzle=0 staged-tile-short-k= short-k-tiles-per-block=1" --cse | FileCheck %s --check-prefix=PADDED
// RUN: xlstm-opt %s --xlstm-contract-to-mma="staged-tile=128x128x64/2x2/4 staged-tile-large=128x256x64/2x4/4 shared-bytes=232448 gemv-max-rows=0 staged-tile-short-k= short-k-tiles-per-block=1" --cse | FileCheck %s --check-prefix=SM90
// RUN: not xlstm-opt %s --xlstm-contract-to-mma="staged-tile-large=128x256x64/2x4/4 staged-tile-short-k= short-k-tiles-per-block=1" 2>&1 | FileCheck %s --check-prefix=SM90BAD
// RUN: not xlstm-opt %s --xlstm-contract-to-mma="shared-bytes=1024 staged-tile-short-k= short-k-tiles-per-block=1" 2>&1 | FileCheck %s --check-prefix=BADBYTES
// RUN: not xlstm-opt %s --xlstm-contract-to-mma="staged-tile=64x64x32/2x2 staged-tile-large= shared-bytes=49152 staged-tile-short-k= short-k-tiles-per-block=1" 2>&1 | FileCheck %s --check-prefix=FALLBACKBYTES

// Every kernel is a gpu.func built once per configuration and operand
// types (kernels repeat across a model's blocks), launched by
// gpu.launch_func; the kernels follow the functions.
// Four K steps in flight (the default): 4 x 2 x 8 KiB of dynamic shared
// memory viewed as A's and B's stages, rows dense (32 elements) with their
// 16-byte chunks swizzled: a row's 4 chunks share a 128-byte line with the
// next row, so chunk c of row r sits at c ^ ((r / 2) % 4), for the copies
// and the ldmatrix alike. Three steps queued before the loop, each
// iteration waits for its step, refills the stage read last, and runs 2
// k16 steps of 4 A + 2 B ldmatrix and 16 mma.
// STAGED-LABEL: func @projection(
// STAGED:       %[[SMEM:.+]] = arith.constant 65536 : i32
// STAGED:       gpu.launch_func @projection_mma_staged::@projection_mma_staged blocks in ({{.*}}) threads in (%c256, %c1, %c1) dynamic_shared_memory_size %[[SMEM]] args(
// STAGED-LABEL: func @projection_f16(
// STAGED:       gpu.launch_func @[[$F16:projection_mma_staged_[0-9]+]]::
// STAGED-LABEL: func @projection_k16(
// STAGED:       gpu.launch_func @[[$K16:projection_mma(_[0-9]+)?]]::
// STAGED-LABEL: gpu.func @projection_mma_staged(
// STAGED-SAME:    known_block_size = array<i32: 256, 1, 1>
// STAGED:         %[[BYTES:.+]] = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
// STAGED:         %[[SA:.+]] = memref.view %[[BYTES]][%c0{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<4x128x32xbf16, #gpu.address_space<workgroup>>
// STAGED:         %[[SB:.+]] = memref.view %[[BYTES]][%c32768{{.*}}][]
// STAGED:         %[[PAIR:.+]] = arith.divui %[[ROW:.+]], %c2
// STAGED:         %[[KEY:.+]] = arith.andi %[[PAIR]], %c3
// STAGED-NEXT:    %[[SWZ:.+]] = arith.xori %{{.+}}, %[[KEY]]
// STAGED-NEXT:    %[[COL:.+]] = arith.muli %[[SWZ]], %c8
// STAGED-NEXT:    nvgpu.device_async_copy {{.*}}, %[[SA]][%{{.+}}, %[[ROW]], %[[COL]]]
// STAGED-COUNT-3: nvvm.cp.async.commit.group
// STAGED:         scf.for
// STAGED:           nvvm.cp.async.wait.group 2
// STAGED-NEXT:      gpu.barrier
// STAGED:           scf.if
// STAGED:             nvgpu.device_async_copy {{.*}}, %[[SA]]
// STAGED:             nvgpu.device_async_copy {{.*}}, %[[SB]]
// STAGED:           nvvm.cp.async.commit.group
// STAGED:           arith.xori
// STAGED:           nvgpu.ldmatrix %[[SA]]
// STAGED-COUNT-3:   nvgpu.ldmatrix %[[SA]]
// STAGED-COUNT-2:   nvgpu.ldmatrix %[[SB]]
// STAGED-COUNT-16:  nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<bf16>
// STAGED:       gpu.func @[[$F16]](
// STAGED:         nvgpu.ldmatrix {{.*}} -> vector<4x2xf16>
// STAGED:       gpu.func @[[$K16]](
// STAGED-NOT:     workgroup
// STAGED:         nvvm.mma.sync
// STAGEDPTX: .shared .align 16 .b8 __dynamic_shmem
// STAGEDPTX: cp.async.cg.shared.global
// STAGEDPTX: ldmatrix.sync.aligned.m8n8.x4.shared.b16
// STAGEDPTX: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32

// Decoding shapes: M <= 16 (checked at run time) takes the matrix-vector
// kernels, one for M = 1 (two 16-byte loads of W per lane per step), one for
// up to 16 rows; a warp per row of W, float32 FMAs, a butterfly of shuffles;
// larger M the tensor-core kernel in the else branch.
// RUN: xlstm-opt %s --xlstm-contract-to-mma="gemv-min-n=0 staged-tile-short-k= short-k-tiles-per-block=1" --cse | FileCheck %s --check-prefix=GEMV
// RUN: xlstm-opt %s --xlstm-contract-to-mma="gemv-max-rows=0 staged-tile-short-k= short-k-tiles-per-block=1" | FileCheck %s --check-prefix=NOGEMV
// RUN: not xlstm-opt %s --xlstm-contract-to-mma="gemv-max-rows=33 staged-tile-short-k= short-k-tiles-per-block=1" 2>&1 | FileCheck %s --check-prefix=BADGEMV
// RUN: xlstm-opt %s --xlstm-contract-to-mma="gemv-min-n=0 staged-tile-short-k= short-k-tiles-per-block=1" --gpu-kernel-outlining | xlstm-opt --xlstm-gpu-to-ptx | FileCheck %s --check-prefix=GEMVPTX
// GEMV-LABEL: func @projection(
// GEMV:         %[[M:.+]] = memref.dim
// GEMV:         %[[FEW:.+]] = arith.cmpi ule, %[[M]], %c16
// GEMV:         scf.if %[[FEW]] {
// GEMV:           %[[ONE:.+]] = arith.cmpi eq, %[[M]], %c1
// GEMV:           scf.if %[[ONE]] {
// GEMV:             gpu.launch_func @projection_gemv::@projection_gemv {{.*}} threads in (%c128, %c1, %c1)
// GEMV:           } else {
// GEMV:             gpu.launch_func @projection_small_batch_mma::
// GEMV:           }
// GEMV:         } else {
// GEMV:           gpu.launch_func @projection_mma_staged::{{.*}} dynamic_shared_memory_size
// GEMV-LABEL: func @projection_f32(
// GEMV:             gpu.launch_func @[[$GEMVF32:projection_gemv_[0-9]+]]::
// GEMV-LABEL: gpu.func @projection_gemv(
// GEMV:           scf.for {{.*}} = %c0 to %c32 step %c512
// GEMV:             vector.load {{.*}} {alignment = 16 : i64} : memref<24x32xbf16>, vector<8xbf16>
// GEMV-COUNT-8:     llvm.intr.fma
// GEMV:           gpu.shuffle  xor
// GEMV-LABEL: gpu.func @projection_small_batch_mma(
// GEMV-SAME:      workgroup(
// GEMV-COUNT-16:    nvvm.mma.sync
// GEMV:       gpu.func @[[$GEMVF32]](
// GEMV:             vector.load {{.*}} : memref<24x32xf32>, vector<4xf32>
// NOGEMV-LABEL: func @projection(
// NOGEMV-NOT:   arith.cmpi ule
// NOGEMV:       gpu.launch_func
// NOGEMV-NOT:   gpu.launch_func
// NOGEMV-LABEL: func @projection_f16(
// BADGEMV: gemv-max-rows must be 0 to 32
// GEMVPTX: ld.global.v4.{{[bu]}}32
// GEMVPTX: fma.rn.f32
// GEMVPTX: shfl.sync.bfly.b32

// BAD: tile options must be positive with at most 32 warps per block
// BADSTAGES: stages must be 0 (the direct kernel) or 2 to 8

#x = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#w = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
#y = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>

// A bf16 projection into f32: a launch of ceil(M / 64) x ceil(N / 64)
// blocks of 4 warps over the collapsed rows, 2 x 4 mma tiles per warp and
// k-step, accumulators loaded from and stored to the output.
// CHECK-LABEL: func @projection
// CHECK-SAME:  (%[[X:.+]]: memref<?x?x32xbf16>, %[[W:.+]]: memref<24x32xbf16>, %[[Y:.+]]: memref<?x?x24xf32>)
// CHECK-DAG:   %[[XC:.+]] = memref.collapse_shape %[[X]] {{\[\[}}0, 1], [2]] : memref<?x?x32xbf16> into memref<?x32xbf16>
// CHECK-DAG:   %[[YC:.+]] = memref.collapse_shape %[[Y]] {{\[\[}}0, 1], [2]] : memref<?x?x24xf32> into memref<?x24xf32>
// CHECK:       %[[M:.+]] = memref.dim %[[XC]], %c0
// CHECK-DAG:   %[[GX:.+]] = arith.ceildivui %c24, %c64
// CHECK-DAG:   %[[GY:.+]] = arith.ceildivui %[[M]], %c64
// CHECK:       gpu.launch_func @projection_mma::@projection_mma blocks in (%[[GY]], %[[GX]], %c1) threads in (%c128, %c1, %c1) args(%[[XC]] : memref<?x32xbf16>, %[[W]] : memref<24x32xbf16>, %[[YC]] : memref<?x24xf32>, %[[M]] : index)
// CHECK-NOT:   linalg.contract
// TILE-LABEL: func @projection(
// TILE:        gpu.launch_func @projection_mma::{{.*}} threads in (%c128,
// TILE-LABEL: gpu.func @projection_mma(
// TILE-COUNT-2: nvvm.mma.sync
// TILE-NOT:    nvvm.mma.sync
// TILE-LABEL: gpu.func @projection_mma_{{[0-9]+}}(
// PTX: ld.global.b32
// PTX: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTX: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
func.func @projection(%x: memref<?x?x32xbf16>, %w: memref<24x32xbf16>, %y: memref<?x?x24xf32>) {
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x?x32xbf16>, memref<24x32xbf16>) outs(%y : memref<?x?x24xf32>)
  return
}

// f16 takes its fragments as vector<2xf16> (its kernel below).
// CHECK-LABEL: func @projection_f16
// CHECK:       gpu.launch_func @[[$MMAF16:projection_mma_[0-9]+]]::
func.func @projection_f16(%x: memref<?x?x32xf16>, %w: memref<24x32xf16>, %y: memref<?x?x24xf32>) {
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x?x32xf16>, memref<24x32xf16>) outs(%y : memref<?x?x24xf32>)
  return
}

// Not for tensor cores: a strided view stays linalg.contract for the
// generic path. (A K the mma's k step does not divide:
// xlstm-contract-to-mma-pad-k.mlir.)
// CHECK-LABEL: func @left_alone
// CHECK-COUNT-1: linalg.contract
// CHECK-NOT:   gpu.launch_func
func.func @left_alone(%y: memref<?x?x24xf32>,
                      %x3: memref<?x?x32xbf16, strided<[?, 64, 1]>>, %w3: memref<24x32xbf16>) {
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x3, %w3 : memref<?x?x32xbf16, strided<[?, 64, 1]>>, memref<24x32xbf16>) outs(%y : memref<?x?x24xf32>)
  return
}

// float32: 64x64 block tiles of 4 warps on m16n8k8 tf32, each fragment
// split into hi and lo (3xTF32: three mma per tile), k steps of 8; with
// tf32=1 one mma per tile.
// CHECK-LABEL: func @projection_f32
// CHECK:       gpu.launch_func @projection_tf32_mma::{{.*}} threads in (%c128, %c1, %c1)
// CHECK-NOT:   linalg.contract
// PLAIN-LABEL: gpu.func @projection_tf32_mma(
// PLAIN-COUNT-8: nvvm.mma.sync
// PLAIN-NOT:     nvvm.mma.sync
// PLAIN:       gpu.return
func.func @projection_f32(%x: memref<?x?x32xf32>, %w: memref<24x32xf32>, %y: memref<?x?x24xf32>) {
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x?x32xf32>, memref<24x32xf32>) outs(%y : memref<?x?x24xf32>)
  return
}

// K = 16 is not a multiple of the staged kernel's K step: the direct kernel.
// CHECK-LABEL: func @projection_k16
// CHECK:       gpu.launch_func @projection_mma_{{[0-9]+}}::
func.func @projection_k16(%x: memref<?x16xbf16>, %w: memref<8x16xbf16>, %y: memref<?x8xf32>) {
  linalg.contract indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                   affine_map<(d0, d1, d2) -> (d1, d2)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>]
      ins(%x, %w : memref<?x16xbf16>, memref<8x16xbf16>) outs(%y : memref<?x8xf32>)
  return
}

// A configured pipelined kernel: 128x256 block tiles with K steps of 64 in
// three stages (3 x (128 + 256) x 64 x 2 bytes), 8 warps of 64x64 (4 x 8
// mma tiles: 4 + 4 ldmatrix per 16-wide K slice, 32 mma), blocks walked in
// groups of 8 block rows on a 1-D grid.
// WIDE-LABEL: func @projection_k128
// WIDE:       %[[SMEM:.+]] = arith.constant 147456 : i32
// WIDE:       %[[ROWS:.+]] = arith.ceildivui %{{.+}}, %c128
// WIDE:       %[[COLS:.+]] = arith.ceildivui %{{.+}}, %c256
// WIDE:       %[[GRID:.+]] = arith.muli %[[ROWS]], %[[COLS]]
// WIDE:       gpu.launch_func @[[$WIDEK:projection_mma_staged(_[0-9]+)?]]::{{.*}} blocks in (%[[GRID]], %c1, %c1) threads in (%c256, %c1, %c1) dynamic_shared_memory_size %[[SMEM]]
// WIDE:       gpu.func @[[$WIDEK]](
// WIDE:         %[[SA:.+]] = memref.view {{.*}} to memref<3x128x64xbf16, #gpu.address_space<workgroup>>
// WIDE:         %[[SB:.+]] = memref.view {{.*}}[%c49152{{.*}}][] {{.*}} to memref<3x256x64xbf16, #gpu.address_space<workgroup>>
// WIDE:         arith.minui
// Rows of 8 chunks: chunk c of row r at c ^ (r % 8).
// WIDE:         %[[KEY:.+]] = arith.andi %{{.+}}, %c7
// WIDE-NEXT:    %[[SWZ:.+]] = arith.xori %{{.+}}, %[[KEY]]
// WIDE-NEXT:    %[[COL:.+]] = arith.muli %[[SWZ]], %c8
// WIDE-NEXT:    nvgpu.device_async_copy {{.*}}, %[[SA]][%{{.+}}, %{{.+}}, %[[COL]]]
// WIDE:         scf.for
// WIDE-COUNT-4:   nvgpu.ldmatrix %[[SA]]
// WIDE-COUNT-4:   nvgpu.ldmatrix %[[SB]]
// WIDE-COUNT-32:  nvvm.mma.sync
// WIDEBIN: gpu.binary
// Two configurations, chosen per shape at run time: outputs of at least 264
// tiles of 128x256 take 128x256x64 (8 warps of 64x64, 3 stages), smaller
// ones 128x128x64 (4 warps of 64x64, 4 stages); both walk groups of 8 tile
// rows.
// SHAPE-LABEL: func @projection_k128
// SHAPE:       %[[COLS:.+]] = arith.ceildivui %c512, %c256
// SHAPE:       %[[ROWS:.+]] = arith.ceildivui %{{.+}}, %c128
// SHAPE:       %[[LARGE:.+]] = arith.muli %[[ROWS]], %[[COLS]]
// SHAPE:       %[[MANY:.+]] = arith.cmpi uge, %[[LARGE]], %c264
// SHAPE:       scf.if %[[MANY]] {
// SHAPE:         gpu.launch_func {{.*}} blocks in (%[[LARGE]], %c1, %c1) threads in (%c256, %c1, %c1) dynamic_shared_memory_size %c147456
// SHAPE:       } else {
// SHAPE:         gpu.launch_func {{.*}}threads in (%c128, %c1, %c1) dynamic_shared_memory_size %c131072
// BADTILE: staged tile '100x128x32/2x4': each warp needs whole 16x16 tiles
// BIGTILE: staged tile '256x256x64/2x4': stages x (BM + BN) x BK x 2 bytes = 262144 exceed the 166912 bytes of shared memory a block may have (shared-bytes)
// Padded rows (staged-swizzle=0): 32 + 8 elements, no XOR.
// PADDED:       arith.constant 81920 : i32
// PADDED-LABEL: gpu.func @projection_mma_staged(
// PADDED:         memref.view {{.*}} to memref<4x128x40xbf16, #gpu.address_space<workgroup>>
// PADDED-NOT:     arith.xori
// PADDED:         gpu.return
// Four stages of 128x256x64 take 192 KiB, more than sm_80's 163 KiB: only
// with a larger shared-bytes (sm_90 gives 227 KiB).
// SM90-LABEL: func @projection_k128
// SM90:         gpu.launch_func {{.*}} threads in (%c256, %c1, %c1) dynamic_shared_memory_size %c196608
// SM90BAD: staged tile '128x256x64/2x4/4': stages x (BM + BN) x BK x 2 bytes = 196608 exceed the 166912 bytes of shared memory a block may have (shared-bytes)
// BADBYTES: shared-bytes must be at least 49152
// FALLBACKBYTES: the 128x128x32 fallback's 4 stages need 65536 bytes of shared memory, more than shared-bytes (49152)
func.func @projection_k128(%x: memref<?x128xbf16>, %w: memref<512x128xbf16>, %y: memref<?x512xf32>) {
  linalg.contract indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                   affine_map<(d0, d1, d2) -> (d1, d2)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>]
      ins(%x, %w : memref<?x128xbf16>, memref<512x128xbf16>) outs(%y : memref<?x512xf32>)
  return
}

// Split K: the output (a zero-filled allocation) has ceil(M / 128) x 2
// tiles; below 128 tiles the 16 K steps of 32 split into up to 4 ranges of
// at least 4 steps (grid z), chosen at run time. When there is more than
// one split the output is zeroed first and every split adds its partial
// sums atomically; with one split the kernel stores as usual.
// SPLIT-LABEL: func @projection_split_k
// SPLIT-NOT:   linalg.fill
// SPLIT:       %[[ROWS:.+]] = arith.ceildivui %{{.+}}, %c128
// SPLIT:       %[[COLS:.+]] = arith.ceildivui %c256, %c128
// SPLIT:       %[[TILES:.+]] = arith.muli %[[ROWS]], %[[COLS]]
// SPLIT:       %[[SOME:.+]] = arith.maxui %[[TILES]], %c1
// SPLIT:       %[[WANTED:.+]] = arith.ceildivui %c128, %[[SOME]]
// SPLIT:       %[[CAPPED:.+]] = arith.minui %[[WANTED]], %c4
// SPLIT:       %[[PER:.+]] = arith.ceildivui %c16, %[[CAPPED]]
// SPLIT:       %[[SPLITS:.+]] = arith.ceildivui %c16, %[[PER]]
// SPLIT:       %[[MANY:.+]] = arith.cmpi ugt, %[[SPLITS]], %c1
// SPLIT:       scf.if %[[MANY]] {
// SPLIT:         gpu.launch_func @projection_zero::@projection_zero {{.*}} args(%[[Y:[^ ]+]] : memref<?x256xf32>,
// SPLIT:       gpu.launch_func @[[$SPLITK:projection_mma_staged(_[0-9]+)?]]::{{.*}} blocks in (%[[ROWS]], %[[COLS]], %[[SPLITS]]) {{.*}} args({{.*}}, %[[Y]] : memref<?x256xf32>, {{.*}}, %[[PER]] : index, %[[SPLITS]] : index)
// SPLIT-LABEL: gpu.func @projection_zero(
// SPLIT:         memref.store
// SPLIT:       gpu.func @[[$SPLITK]](
// SPLIT-SAME:      %[[YK:[^:]+]]: memref<?x256xf32>, %{{[^:]+}}: index, %[[PERK:[^:]+]]: index, %[[SPLITSK:[^:]+]]: index)
// SPLIT:         %[[COUNT:.+]] = arith.minui %[[PERK]]
// SPLIT:         %[[MANYK:.+]] = arith.cmpi ugt, %[[SPLITSK]], %c1
// SPLIT:         scf.for %{{.+}} = %c0 to %[[COUNT]]
// SPLIT:         scf.if %[[MANYK]] {
// SPLIT:           memref.atomic_rmw addf %{{.+}}, %[[YK]]
// SPLIT:         } else {
// SPLIT:           memref.store
// SPLITPTX: atom.global.add.f32
func.func @projection_split_k(%x: memref<?x512xbf16>, %w: memref<256x512xbf16>) -> memref<?x256xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = memref.dim %x, %c0 : memref<?x512xbf16>
  %y = memref.alloc(%m) : memref<?x256xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<?x256xf32>)
  linalg.contract indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                   affine_map<(d0, d1, d2) -> (d1, d2)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>]
      ins(%x, %w : memref<?x512xbf16>, memref<256x512xbf16>) outs(%y : memref<?x256xf32>)
  return %y : memref<?x256xf32>
}

// Two projections of the same shapes and types launch one kernel.
// CHECK-LABEL: func @twice
// CHECK:       gpu.launch_func @[[$TWICE:projection_mma_[0-9]+]]::
// CHECK:       gpu.launch_func @[[$TWICE]]::
// CHECK:       return
func.func @twice(%x: memref<?x64xbf16>, %w: memref<32x64xbf16>, %y: memref<?x32xf32>, %z: memref<?x32xf32>) {
  linalg.contract indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                   affine_map<(d0, d1, d2) -> (d1, d2)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>]
      ins(%x, %w : memref<?x64xbf16>, memref<32x64xbf16>) outs(%y : memref<?x32xf32>)
  linalg.contract indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                   affine_map<(d0, d1, d2) -> (d1, d2)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>]
      ins(%x, %w : memref<?x64xbf16>, memref<32x64xbf16>) outs(%z : memref<?x32xf32>)
  return
}

// The kernels of the default run (CHECK), in the order the functions made
// them. The direct bf16 kernel, adding to its float32 output: accumulators
// from zero, the output added as they are stored (accumulate-in-epilogue:
// started from a large output, the tensor cores' sums would drop the
// products' low bits), 2 x 4 mma tiles per warp and k-step.
// CHECK-LABEL: gpu.func @projection_mma(
// CHECK-SAME:    %[[XK:[^:]+]]: memref<?x32xbf16>, %[[WK:[^:]+]]: memref<24x32xbf16>, %[[YK:[^:]+]]: memref<?x24xf32>, %{{[^:]+}}: index)
// CHECK-SAME:    known_block_size = array<i32: 128, 1, 1>
// CHECK-NOT:     memref.load %[[YK]]
// CHECK:         scf.for {{.*}} = %c0 to %c32 step %c16
// CHECK:           vector.load %[[XK]]{{.*}} {alignment = 4 : i64} : memref<?x32xbf16>, vector<2xbf16>
// CHECK:           vector.load %[[WK]]{{.*}} {alignment = 4 : i64} : memref<24x32xbf16>, vector<2xbf16>
// CHECK-COUNT-8:   nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<bf16>
// CHECK:         scf.if
// CHECK:           %[[OLD:.+]] = memref.load %[[YK]]
// CHECK:           arith.addf %{{.+}}, %[[OLD]]
// CHECK:           memref.store {{.*}}, %[[YK]]
// CHECK:       gpu.func @[[$MMAF16]](
// CHECK:         vector.load {{.*}} : memref<?x32xf16>, vector<2xf16>
// CHECK-NOT:     vector.bitcast
// CHECK:         nvvm.mma.sync {{.*}} : (vector<2xf16>, vector<2xf16>, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// float32: 3xTF32, adding to its output as the bf16 kernel does (from
// zero, the output added when stored).
// CHECK-LABEL: gpu.func @projection_tf32_mma(
// CHECK-SAME:    %{{[^:]+}}: memref<?x32xf32>, %{{[^:]+}}: memref<24x32xf32>, %[[YT:[^:]+]]: memref<?x24xf32>
// CHECK-NOT:     memref.load %[[YT]]
// CHECK:         scf.for {{.*}} = %c0 to %c32 step %c8
// CHECK:           nvvm.convert.float.to.tf32
// CHECK:           arith.bitcast
// CHECK-COUNT-24:  nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<tf32>{{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 8>
// CHECK-NOT:       nvvm.mma.sync
// CHECK:         scf.if
// CHECK:           %[[OLDT:.+]] = memref.load %[[YT]]
// CHECK:           arith.addf %{{.+}}, %[[OLDT]]

// With accumulate-in-epilogue=0 the direct and tf32 kernels start their
// accumulators from the output they add to.
// ACCOUT-LABEL: gpu.func @projection_mma(
// ACCOUT-SAME:    %{{[^:]+}}: memref<?x32xbf16>, %{{[^:]+}}: memref<24x32xbf16>, %[[YA:[^:]+]]: memref<?x24xf32>
// ACCOUT:         memref.load %[[YA]]
// ACCOUT:         scf.for
// ACCOUT-LABEL: gpu.func @projection_tf32_mma(
// ACCOUT-SAME:    %{{[^:]+}}: memref<?x32xf32>, %{{[^:]+}}: memref<24x32xf32>, %[[YB:[^:]+]]: memref<?x24xf32>
// ACCOUT:         memref.load %[[YB]]
// ACCOUT:         scf.for
