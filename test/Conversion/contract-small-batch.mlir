// The small-batch tensor-core projection (decoding 2 to 16 sequences): for
// M <= 16 rows at run time and M > 1, 16 rows of W per block of 16 warps as
// the A operand of m16n8k16, x as B (two 8-row tiles), 16-byte loads, the
// warps splitting K in 32-element chunks (4 per warp per step: a step is
// 2048, so K = 1056 ends in a partial step whose missing chunks are
// masked to zero), and a shared-memory sum over the warps. The CHECK and
// SPLIT lines take small-batch-pipelined=0 (all of a step's loads, then its
// mma); the default loads each step ahead of the one before (PIPE).
// RUN: xlstm-opt %s --xlstm-contract-to-mma="gemv-min-n=0 small-batch-warps=16 small-batch-unroll=4 small-batch-split-k-blocks=0 small-batch-pipelined=0" --cse | FileCheck %s
// RUN: xlstm-opt %s --xlstm-contract-to-mma="gemv-min-n=0 small-batch-warps=8 small-batch-unroll=4 small-batch-split-k-blocks=512 small-batch-pipelined=0" --cse | FileCheck %s --check-prefix=SPLIT
// RUN: not xlstm-opt %s --xlstm-contract-to-mma="small-batch-split-k-blocks=-1" 2>&1 | FileCheck %s --check-prefix=BADSPLIT
// RUN: xlstm-opt %s --xlstm-contract-to-mma="small-batch-warps=16 small-batch-unroll=4" --cse | FileCheck %s --check-prefix=FEWN
// RUN: xlstm-opt %s --xlstm-contract-to-mma="small-batch-mma=false" | FileCheck %s --check-prefix=FMA
// RUN: xlstm-opt %s --xlstm-contract-to-mma="skinny-projections=false small-batch-warps=16 small-batch-unroll=4" --cse | FileCheck %s --check-prefix=NOSKINNY
// RUN: not xlstm-opt %s --xlstm-contract-to-mma="small-batch-unroll=9" 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: not xlstm-opt %s --xlstm-contract-to-mma="small-batch-warps=32 gemv-max-rows=32" 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: not xlstm-opt %s --xlstm-contract-to-mma="skinny-unroll=9" 2>&1 | FileCheck %s --check-prefix=BADSKINNY
// RUN: xlstm-opt %s --xlstm-contract-to-mma="small-batch-min-blocks-per-sm=0" | FileCheck %s --check-prefix=NOHINT
// RUN: xlstm-opt %s --xlstm-contract-to-mma="gemv-min-n=0 small-batch-warps=16 small-batch-split-k-blocks=0" --cse | FileCheck %s --check-prefix=PIPE
// RUN: not xlstm-opt %s --xlstm-contract-to-mma="small-batch-min-blocks-per-sm=33" 2>&1 | FileCheck %s --check-prefix=BADHINT
// RUN: not xlstm-opt %s --xlstm-contract-to-mma="skinny-warps=32 gemv-max-rows=32" 2>&1 | FileCheck %s --check-prefix=BADSKINNY
// The kernel's signature is what scripts/gpu-check.sh hands the runtime
// test (CudaSmallBatch.MlirProjectionMatchesFloat64 and MlirSplitKProjectionMatchesFloat64), without and with
// split K (16 warps, grid (3, 1); 8 warps, grid (3, 2)):
// RUN: xlstm-opt %s --xlstm-contract-to-mma="stages=0 gemv-min-n=0 small-batch-warps=16 small-batch-unroll=4 small-batch-split-k-blocks=0" | FileCheck %s --check-prefix=SIGNATURE
// RUN: xlstm-opt %s --xlstm-contract-to-mma="stages=0 gemv-min-n=0 small-batch-warps=8 small-batch-unroll=4 small-batch-split-k-blocks=512" | FileCheck %s --check-prefix=SIGNATURE8
// RUN: xlstm-opt %s --xlstm-contract-to-mma="stages=0 gemv-min-n=0 small-batch-warps=8 small-batch-unroll=4 small-batch-split-k-blocks=512" | xlstm-opt --xlstm-gpu-to-ptx | FileCheck %s --check-prefixes=PTX,SPLITPTX

// CHECK-LABEL: func @small_batch(
// CHECK:       scf.if %[[ONE:.+]] {
// CHECK:         gpu.launch_func @projection_gemv::{{.*}} threads in (%c128, %c1, %c1)
// CHECK:       } else {
// CHECK:         %[[GRID:.+]] = arith.ceildivui %c40, %c16
// CHECK:         gpu.launch_func @projection_small_batch_mma::@projection_small_batch_mma blocks in (%[[GRID]], %c1, %c1) threads in (%c512, %c1, %c1)
// CHECK-LABEL: func @small_batch_f16(
// CHECK:         gpu.launch_func @[[$F16:projection_small_batch_mma_[0-9]+]]::
// CHECK-LABEL: func @k_not_32(
// CHECK-NOT:     projection_small_batch_mma
// CHECK:       } else {
// CHECK-NOT:     projection_small_batch_mma
// CHECK:       return
// CHECK-LABEL: func @skinny(
// CHECK:           gpu.launch_func @projection_small_batch_mma
// CHECK:       } else {
// CHECK:         %[[SGRID:.+]] = arith.ceildivui %{{.+}}, %c16
// CHECK:         gpu.launch_func @projection_skinny_mma::@projection_skinny_mma blocks in (%[[SGRID]], %c1, %c1) threads in (%c512, %c1, %c1)
// A lone projection's kernel tells ptxas to plan for 2 resident blocks per
// SM (up to 128 registers: more loads in flight than the ~64 it picks
// unhinted, which interleave each K chunk's loads with its mma).
// CHECK-LABEL: gpu.func @projection_small_batch_mma(
// CHECK-SAME:      workgroup(%[[PART:.+]] : memref<4096xf32, #gpu.address_space<workgroup>>)
// CHECK-SAME:      kernel attributes {known_block_size = array<i32: 512, 1, 1>, nvvm.minctasm = 2 : i32}
// CHECK:           scf.for {{.*}} = %c0 to %c1056 step %c2048
// CHECK-COUNT-4:     vector.load {{.*}} {alignment = 16 : i64} : memref<40x1056xbf16>, vector<8xbf16>
// CHECK:             vector.bitcast {{.*}} : vector<8xbf16> to vector<4xi32>
// CHECK:             arith.select
// CHECK-COUNT-16:    nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<bf16>
// CHECK:           memref.store {{.*}}, %[[PART]]
// CHECK:           gpu.barrier
// CHECK-COUNT-16:  memref.load %[[PART]]
// CHECK:         gpu.func @[[$F16]](
// CHECK:           vector.shape_cast {{.*}} : vector<8xf16> to vector<4x2xf16>
// CHECK:           nvvm.mma.sync {{.*}} : (vector<2xf16>, vector<2xf16>, f32)
// CHECK:       gpu.func @projection_skinny_mma(
// CHECK-SAME:      %[[SX:[^:]+]]: memref<?x6144xbf16>, %[[SW:[^:]+]]: memref<4x6144xbf16>, %[[SY:[^:]+]]: memref<?x4xf32>
// CHECK:           vector.load %[[SX]]{{.*}} : memref<?x6144xbf16>, vector<8xbf16>
// CHECK:           vector.load %[[SW]]{{.*}} : memref<4x6144xbf16>, vector<8xbf16>
// CHECK:           nvvm.mma.sync
// CHECK:           gpu.barrier
// CHECK:           memref.store {{.*}}, %[[SY]][%{{.+}}, %{{.+}}] : memref<?x4xf32>

// FMA-LABEL: func @small_batch(
// FMA-NOT:     projection_small_batch_mma
// FMA:         } else {
// FMA:           gpu.launch_func @[[$FMA:projection_gemv_[0-9]+]]::
// FMA:         gpu.func @[[$FMA]](
// FMA-NOT:       workgroup
// FMA-COUNT-16:  vector.load {{.*}} : memref<?x1056xbf16>, vector<8xbf16>

// NOHINT-NOT: nvvm.minctasm

// small-batch-pipelined (the default): the first K step's 8 loads (2
// chunks x W's two row groups and x's two token tiles) before the loop,
// which carries them with the accumulators; each iteration loads the next step (none past
// K: zeros) before its own 8 mma. K = 1056 in steps of 16 x 2 x 32 = 1024:
// the second step's missing chunks are masked.
// PIPE-LABEL: gpu.func @projection_small_batch_mma(
// PIPE-COUNT-8:  vector.load {{.*}} : memref<{{.*}}x1056xbf16>, vector<8xbf16>
// PIPE:          %[[ACC:.+]]:40 = scf.for %[[K:.+]] = %c0 to %c1056 step %c1024 iter_args(
// PIPE:            %[[NEXT:.+]] = arith.addi %[[K]], %c1024
// PIPE:            %[[MORE:.+]] = arith.cmpi ult, %[[NEXT]], %c1056
// PIPE:            %[[AHEAD:.+]]:32 = scf.if %[[MORE]] -> (i32,
// PIPE-COUNT-8:      vector.load
// PIPE:            } else {
// PIPE-NOT:          vector.load
// PIPE:            }
// PIPE-NOT:        vector.load
// PIPE-COUNT-8:    nvvm.mma.sync
// PIPE-NOT:        nvvm.mma.sync
// PIPE:            scf.yield {{.*}}, %[[AHEAD]]#0,
// PIPE:          memref.store %[[ACC]]#0,
// BADHINT: small-batch-min-blocks-per-sm must be 0 to 32
// BADSKINNY: skinny-warps must be 1 to 32, skinny-unroll 1 to 8, skinny-siblings-rows 16 to 32, and skinny-warps x ceil(max(gemv-max-rows, skinny-siblings-rows) / 8) at most 96
// BAD: small-batch-warps must be 1 to 32, small-batch-unroll 1 to 8, gemv-min-n at least 0, and small-batch-warps x ceil(gemv-max-rows / 8) at most 96

// Fewer rows of W than gemv-min-n (40 < 512 by default): one small-batch
// launch for every M up to 16, M = 1 included (its warps split K).
// FEWN-LABEL: func @small_batch(
// FEWN:         scf.if
// FEWN-NOT:       arith.cmpi eq
// FEWN:           gpu.launch_func @projection_small_batch_mma::
// FEWN:         } else {

// SIGNATURE: gpu.module @projection_small_batch_mma
// SIGNATURE-NEXT: gpu.func @projection_small_batch_mma(%arg0: memref<?x1056xbf16>, %arg1: memref<40x1056xbf16>, %arg2: memref<?x40xf32>, %arg3: index) workgroup(%arg4 : memref<4096xf32, #gpu.address_space<workgroup>>)
// SIGNATURE8: gpu.module @projection_small_batch_mma
// SIGNATURE8-NEXT: memref.global
// SIGNATURE8-NEXT: memref.global
// SIGNATURE8-NEXT: gpu.func @projection_small_batch_mma(%arg0: memref<?x1056xbf16>, %arg1: memref<40x1056xbf16>, %arg2: memref<?x40xf32>, %arg3: index) workgroup(%arg4 : memref<2048xf32, #gpu.address_space<workgroup>>)

// SPLITPTX: .global .align 16 .b8 split_k_arrivals[12];
// PTX: .entry projection_small_batch_mma(
// PTX: ld.global.v4.b32
// PTX: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTX: bar.sync
// SPLITPTX: atom.global.add.u32

// Split K (small-batch-split-k-blocks=512; at least 2 chunks a warp in
// every split but the last): 3 blocks of 16 rows of W are too few, so with
// 8 warps K splits over 2 grid rows of 768 (24 chunks, a step of 8 warps x
// 3) and 288 (9 chunks, the rest masked). Each block parks its warps' sums
// in the module's global partial sums; after a barrier its thread 0 counts
// the arrival between two GPU-scope fences (release, acquire); the last of
// a column adds both splits in order and resets the count.
// SPLIT-LABEL: func @small_batch(
// SPLIT:         gpu.launch_func @projection_small_batch_mma::@projection_small_batch_mma blocks in (%{{.+}}, %c2, %c1)
// SPLIT-SAME:      kernel = "small-batch mma 8 warps unroll 3, split-k 2 (768 of K each), adding to its output"
// The few-row skinny projection (4 rows of W, K 6144): 12 splits of 512.
// SPLIT-LABEL: func @skinny(
// SPLIT:           gpu.launch_func @[[$SKINNYSPLIT:projection_small_batch_mma_[0-9]+]]::{{.*}} blocks in (%{{.+}}, %c12, %c1)
// SPLIT-SAME:      split-k 12 (512 of K each)
// SPLIT:       gpu.module @projection_small_batch_mma
// SPLIT-NEXT:    memref.global "private" @split_k_partials : memref<1536xf32> = uninitialized {alignment = 128 : i64}
// SPLIT-NEXT:    memref.global "private" @split_k_arrivals : memref<3xi32> = dense<0>
// SPLIT:         gpu.func @projection_small_batch_mma(
// SPLIT-DAG:       %[[PARTIALS:.+]] = memref.get_global @split_k_partials
// SPLIT-DAG:       %[[ARRIVALS:.+]] = memref.get_global @split_k_arrivals
// SPLIT:           %[[BEGIN:.+]] = arith.muli %block_id_y, %c768
// SPLIT:           scf.for {{.*}} = %c0 to %c768 step %c768
// SPLIT-NOT:       gpu.barrier
// SPLIT-COUNT-12:    nvvm.mma.sync
// SPLIT:           memref.store {{.*}}, %[[PARTIALS]]
// SPLIT:           gpu.barrier
// SPLIT:           scf.if
// SPLIT-NEXT:        nvvm.memory.barrier <gpu>
// SPLIT:             memref.atomic_rmw addi {{.*}}, %[[ARRIVALS]][%block_id_x]
// SPLIT-NEXT:        nvvm.memory.barrier <gpu>
// SPLIT:             memref.store %c0_i32, %[[ARRIVALS]][%block_id_x]
// SPLIT:           gpu.barrier
// SPLIT-NOT:       nvvm.memory.barrier
// SPLIT-COUNT-2:     memref.load %[[PARTIALS]]
// SPLIT:             memref.store {{.*}} : memref<?x40xf32>
// SPLIT:       gpu.module @[[$SKINNYSPLIT]]
// SPLIT-NEXT:    memref.global "private" @split_k_partials : memref<3072xf32>
// BADSPLIT: small-batch-split-k-blocks must be 0 to 1048576

#x = affine_map<(d0, d1, d2) -> (d0, d2)>
#w = affine_map<(d0, d1, d2) -> (d1, d2)>
#y = affine_map<(d0, d1, d2) -> (d0, d1)>

func.func @small_batch(%x: memref<?x1056xbf16>, %w: memref<40x1056xbf16>, %y: memref<?x40xf32>) {
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x1056xbf16>, memref<40x1056xbf16>) outs(%y : memref<?x40xf32>)
  return
}

func.func @small_batch_f16(%x: memref<?x64xf16>, %w: memref<32x64xf16>, %y: memref<?x32xf32>) {
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x64xf16>, memref<32x64xf16>) outs(%y : memref<?x32xf32>)
  return
}

// K % 32 != 0: the multi-row FMA kernel stays.
func.func @k_not_32(%x: memref<?x48xbf16>, %w: memref<32x48xbf16>, %y: memref<?x32xf32>) {
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x48xbf16>, memref<32x48xbf16>) outs(%y : memref<?x32xf32>)
  return
}

// A skinny projection (N = 4 gate pre-activations) past 16 rows: the
// small-batch kernel with x and W swapped: a block per 16 rows of x (the
// A operand, streamed in 16-byte loads), W's rows as B, out[m][n] stored
// row by row of x. Without skinny-projections: the 128-column staged tile.
// NOSKINNY-LABEL: func @skinny(
// NOSKINNY-NOT:   projection_skinny_mma
// NOSKINNY:       gpu.launch_func @projection_mma_staged
func.func @skinny(%x: memref<?x6144xbf16>, %w: memref<4x6144xbf16>, %y: memref<?x4xf32>) {
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x6144xbf16>, memref<4x6144xbf16>) outs(%y : memref<?x4xf32>)
  return
}
