// RUN: xlstm-opt %s --split-input-file --xlstm-chunkwise-mlstm-to-mma | FileCheck %s
// RUN: xlstm-opt %s --split-input-file --xlstm-chunkwise-mlstm-to-mma="allow-tf32=1 dv-tile=64" | FileCheck %s --check-prefix=TF32
// RUN: xlstm-opt %s --split-input-file --xlstm-chunkwise-mlstm-to-mma="narrow-mma=0" | FileCheck %s --check-prefix=WIDE
// RUN: xlstm-opt %s --split-input-file --xlstm-chunkwise-mlstm-to-mma="allow-tf32=1 staged-outputs=0 staged-states=0" | FileCheck %s --check-prefix=UNSTAGED
// RUN: not xlstm-opt %s --split-input-file --xlstm-chunkwise-mlstm-to-mma="dv-tile=12" 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: %if ptxas %{ xlstm-opt %s --split-input-file --xlstm-chunkwise-mlstm-to-mma --gpu-kernel-outlining | xlstm-opt --split-input-file --xlstm-gpu-to-ptx="format=bin chip=sm_80 toolkit=%cuda_toolkit" | FileCheck %s --check-prefix=BIN %}
// RUN: not xlstm-opt %s --split-input-file --xlstm-chunkwise-mlstm-to-mma="key-rows=48" 2>&1 | FileCheck %s --check-prefix=BADROWS
// RUN: xlstm-opt %s --split-input-file --xlstm-chunkwise-mlstm-to-mma="fuse-decode-step=0" | FileCheck %s --check-prefix=SEPARATE
// RUN: xlstm-opt %s --split-input-file --xlstm-chunkwise-mlstm-to-mma | FileCheck %s --check-prefix=PLACE
// RUN: xlstm-opt %s --split-input-file --xlstm-chunkwise-mlstm-to-mma="decode-step-wide-blocks=0" | FileCheck %s --check-prefix=ONE
// RUN: not xlstm-opt %s --split-input-file --xlstm-chunkwise-mlstm-to-mma="decode-step-wide-blocks=-1" 2>&1 | FileCheck %s --check-prefix=BADWIDE
// RUN: xlstm-opt %s --split-input-file --xlstm-chunkwise-mlstm-to-mma="grid-dependency-wait=1 decode-step-wide-blocks=0" | FileCheck %s --check-prefix=WAIT

// BAD: dv-tile must be a positive multiple of 8
// BADROWS: key-rows must be 16, 32, 64 or 128

// Without staging (staged-outputs=0), bf16 q/k/v: one launch over (chunk,
// head x DHV tile, batch row) with a warp per 16 rows of the 64-row chunk;
// the gate scalars and P in shared memory; S = Q K^T (8 column tiles), Q C and P V (16 tiles of the 128
// value columns) on m16n8k8 tf32 tensor cores; rows past the sequence are
// not stored; fragments are read from global memory.
// UNSTAGED-LABEL: func @bf16_outputs
// UNSTAGED-DAG:   %[[Q:.+]] = bufferization.to_buffer %arg0 read_only : tensor<?x2x?x32xbf16> to memref<?x2x?x32xbf16>
// UNSTAGED-DAG:   %[[C:.+]] = bufferization.to_buffer %arg5 read_only
// UNSTAGED:       %[[B:.+]] = memref.dim %[[Q]], %c0
// UNSTAGED:       %[[S:.+]] = memref.dim %[[Q]], %c2
// UNSTAGED:       %[[H:.+]] = memref.alloc(%[[B]], %[[S]]) : memref<?x2x?x256xbf16>
// UNSTAGED:       %[[NC:.+]] = arith.ceildivui %[[S]], %c64
// UNSTAGED:       gpu.launch blocks({{.*}}) in (%{{[^ ]+}} = %[[NC]], %{{[^ ]+}} = %c4, %{{[^ ]+}} = %[[B]])
// UNSTAGED-SAME:    threads({{.*}}) in (%{{[^ ]+}} = %c128,
// UNSTAGED-SAME:    workgroup({{.*}}memref<64x64xf32, #gpu.address_space<workgroup>>)
// UNSTAGED:         math.log1p
// UNSTAGED:         gpu.barrier
// UNSTAGED:         gpu.barrier
// UNSTAGED:         scf.for {{.*}} -> (f32, f32
// UNSTAGED-COUNT-8:   nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<tf32>{{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 8>
// UNSTAGED:         gpu.shuffle  xor
// UNSTAGED:         gpu.barrier
// UNSTAGED:         scf.for
// UNSTAGED:           memref.load %[[C]]
// UNSTAGED-COUNT-16:  nvvm.mma.sync
// UNSTAGED:         scf.for
// UNSTAGED-COUNT-16:  nvvm.mma.sync
// UNSTAGED:         scf.if
// UNSTAGED:           vector.store {{.*}}, %[[H]]{{.*}} vector<2xbf16>
// UNSTAGED:       bufferization.to_tensor %[[H]] restrict writable
// UNSTAGED-NOT:   xlstm.mlstm_chunk_outputs
// bf16 q/k/v (DHQK 32: one slab): the staged kernel with 16-bit slabs of
// Q and K (rows of 32 + 8 elements), C, n (float32) and V (bf16) copied 16
// bytes at a time.
// CHECK-LABEL: func @bf16_outputs
// CHECK:       gpu.launch
// CHECK-SAME:    dynamic_shared_memory_size
// CHECK-COUNT-4: nvgpu.device_async_copy {{.*}}, 8, {{.*}} : memref<?x2x?x32xbf16> to memref<2x64x40xbf16, #gpu.address_space<workgroup>>
// CHECK:         nvgpu.device_async_copy {{.*}}, 4, {{.*}} : memref<?x2x?x32x256xf32> to memref<2x32x136xf32, #gpu.address_space<workgroup>>
// CHECK:         scf.for
// CHECK:           memref.load {{.*}} : memref<2x64x40xbf16, #gpu.address_space<workgroup>>
// CHECK:           arith.extf
// CHECK:           nvvm.mma.sync
// CHECK:         vector.store {{.*}} vector<2xbf16>
// CHECK-NOT:   xlstm.mlstm_chunk_outputs
// TF32-LABEL:  func @bf16_outputs
// TF32:        gpu.launch blocks({{.*}}) in (%{{[^ ]+}} = %{{.+}}, %{{[^ ]+}} = %c8,
// BIN: gpu.binary @bf16_outputs_kernel
func.func @bf16_outputs(%q: tensor<?x2x?x32xbf16>, %k: tensor<?x2x?x32xbf16>,
                        %v: tensor<?x2x?x256xbf16>, %i: tensor<?x2x?xf32>,
                        %f: tensor<?x2x?xf32>, %c: tensor<?x2x?x32x256xf32>,
                        %n: tensor<?x2x?x32xf32>, %m: tensor<?x2x?xf32>)
    -> tensor<?x2x?x256xbf16> {
  %h = xlstm.mlstm_chunk_outputs %q, %k, %v, %i, %f, %c, %n, %m
      {chunk_size = 64 : i64, qk_scaling = #xlstm.qk_scaling<query>}
      : (tensor<?x2x?x32xbf16>, tensor<?x2x?x32xbf16>, tensor<?x2x?x256xbf16>,
         tensor<?x2x?xf32>, tensor<?x2x?xf32>, tensor<?x2x?x32x256xf32>,
         tensor<?x2x?x32xf32>, tensor<?x2x?xf32>) -> tensor<?x2x?x256xbf16>
  return %h : tensor<?x2x?x256xbf16>
}

// -----

// bf16 q, k, v and entering C (narrow-entering-states): the staged kernel
// on bf16 m16n8k16 tensor cores. Per 16 key dimensions a warp loads Q's A
// fragment by ldmatrix, K's (8 column tiles) and C's (16 tiles, transposed)
// B fragments by ldmatrix pairs; q . n comes from Q's fragment; P stays in
// registers and multiplies V key tile by key tile up to the warp's
// diagonal (scf.if per tile), rounded to bf16. With narrow-mma=0 the tf32
// kernel, P through shared memory. Rows are dense with swizzled 16-byte
// chunks: 2 x 64 x 32 x 2 bytes each of Q and K, 2 x 32 x 128 x 2 of C,
// 2 x 32 x 4 of n, 64 x 128 x 2 of V.
// CHECK-LABEL: func @bf16_outputs_narrow
// CHECK:       gpu.launch
// CHECK-SAME:    dynamic_shared_memory_size %c49408_i32
// CHECK:         nvgpu.device_async_copy {{.*}} : memref<?x2x?x32x256xbf16> to memref<2x32x128xbf16, #gpu.address_space<workgroup>>
// Q's rows of 64 bytes: chunk c of row r at c ^ ((r / 2) % 4).
// CHECK:         scf.for
// CHECK:           nvvm.cp.async.commit.group
// CHECK:           %[[PAIR:.+]] = arith.divui %[[QROW:.+]], %c2
// CHECK-NEXT:      %{{.+}} = arith.constant 3 : index
// CHECK-NEXT:      %[[KEY:.+]] = arith.andi %[[PAIR]], %c3
// CHECK-NEXT:      %[[SWZ:.+]] = arith.xori %{{.+}}, %[[KEY]]
// CHECK-NEXT:      %[[QCOL:.+]] = arith.muli %[[SWZ]], %c8
// CHECK-NEXT:      nvgpu.ldmatrix %{{.+}}[%{{.+}}, %[[QROW]], %[[QCOL]]] {numTiles = 4 : i32, transpose = false} : memref<2x64x32xbf16, #gpu.address_space<workgroup>> -> vector<4x2xbf16>
// CHECK:           arith.extf {{.*}} : vector<2xbf16> to vector<2xf32>
// CHECK-COUNT-4:   nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false} : memref<2x64x32xbf16, #gpu.address_space<workgroup>>
// CHECK-COUNT-8:   nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = true} : memref<2x32x128xbf16, #gpu.address_space<workgroup>>
// CHECK:           nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<bf16>{{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 16>
// CHECK-NOT:     memref.store {{.*}} : memref<64x68xf32
// CHECK:         scf.if {{.*}} -> (f32, f32
// CHECK:         } else {
// CHECK-COUNT-4:   arith.truncf {{.*}} : vector<2xf32> to vector<2xbf16>
// CHECK:           nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = true} : memref<64x128xbf16, #gpu.address_space<workgroup>>
// CHECK-COUNT-2:   nvvm.mma.sync {{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 16>
// CHECK:         vector.store {{.*}} vector<2xbf16>
// CHECK-NOT:   xlstm.mlstm_chunk_outputs
// WIDE-LABEL:  func @bf16_outputs_narrow
// WIDE-NOT:      nvgpu.ldmatrix
// WIDE:          nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<tf32>
// WIDE:        return
// BIN: gpu.binary @bf16_outputs_narrow_kernel
func.func @bf16_outputs_narrow(%q: tensor<?x2x?x32xbf16>, %k: tensor<?x2x?x32xbf16>,
                               %v: tensor<?x2x?x256xbf16>, %i: tensor<?x2x?xf32>,
                               %f: tensor<?x2x?xf32>, %c: tensor<?x2x?x32x256xbf16>,
                               %n: tensor<?x2x?x32xf32>, %m: tensor<?x2x?xf32>)
    -> tensor<?x2x?x256xbf16> {
  %h = xlstm.mlstm_chunk_outputs %q, %k, %v, %i, %f, %c, %n, %m
      {chunk_size = 64 : i64, qk_scaling = #xlstm.qk_scaling<query>}
      : (tensor<?x2x?x32xbf16>, tensor<?x2x?x32xbf16>, tensor<?x2x?x256xbf16>,
         tensor<?x2x?xf32>, tensor<?x2x?xf32>, tensor<?x2x?x32x256xbf16>,
         tensor<?x2x?x32xf32>, tensor<?x2x?xf32>) -> tensor<?x2x?x256xbf16>
  return %h : tensor<?x2x?x256xbf16>
}

// -----

// BADWIDE: decode-step-wide-blocks must be 0 or more

// A decode step (a static single position): blocks of 32 value columns per
// head and batch row, 8 warps summing q . C over 8 key rows each (a lane
// per column, 8 loads of C in flight), no tensor-core tiles.
// CHECK-LABEL: func @decode_outputs
// CHECK:       gpu.launch blocks({{.*}}) in (%{{[^ ]+}} = %c8, %{{[^ ]+}} = %c2{{[_0-9]*}}, %{{[^ ]+}} = %{{.+}}) threads({{.*}}) in (%{{[^ ]+}} = %c256
// CHECK-NOT:     nvvm.mma.sync
// CHECK-COUNT-8:   memref.load %{{.*}} : memref<?x2x1x64x256xf32>
// CHECK:         gpu.shuffle  xor
// CHECK:         gpu.barrier
// CHECK:         arith.divf
// CHECK-NOT:   xlstm.mlstm_chunk_outputs
func.func @decode_outputs(%q: tensor<?x2x1x64xf32>, %v: tensor<?x2x1x256xf32>,
                          %g: tensor<?x2x1xf32>, %c: tensor<?x2x1x64x256xf32>,
                          %n: tensor<?x2x1x64xf32>)
    -> tensor<?x2x1x256xf32> {
  %h = xlstm.mlstm_chunk_outputs %q, %q, %v, %g, %g, %c, %n, %g
      {chunk_size = 64 : i64, qk_scaling = #xlstm.qk_scaling<query>}
      : (tensor<?x2x1x64xf32>, tensor<?x2x1x64xf32>, tensor<?x2x1x256xf32>,
         tensor<?x2x1xf32>, tensor<?x2x1xf32>, tensor<?x2x1x64x256xf32>,
         tensor<?x2x1x64xf32>, tensor<?x2x1xf32>) -> tensor<?x2x1x256xf32>
  return %h : tensor<?x2x1x256xf32>
}

// -----

// float32 q/k/v: each fragment is split into tf32 hi and lo parts and
// every tile takes three mma (lo*hi, hi*lo, hi*hi), unless tf32 is allowed.
// DHQK 16 is not a whole slab: fragments from global memory.
// CHECK-LABEL: func @f32_outputs
// CHECK:       gpu.launch
// CHECK-NOT:     gpu.dynamic_shared_memory
// CHECK:         %[[HI:.+]] = nvvm.convert.float.to.tf32 %[[V:[^ ]+]]
// CHECK:         %[[HIF:.+]] = arith.bitcast %[[HI]] : i32 to f32
// CHECK:         %[[D:.+]] = arith.subf %[[V]], %[[HIF]]
// CHECK:         nvvm.convert.float.to.tf32 %[[D]]
// CHECK-COUNT-3: nvvm.mma.sync
// CHECK-NOT:   xlstm.mlstm_chunk_outputs
// TF32-LABEL:  func @f32_outputs
// TF32:        gpu.launch
// TF32-NOT:    arith.bitcast
// TF32:        nvvm.mma.sync
// TF32-NOT:    xlstm.mlstm_chunk_outputs
func.func @f32_outputs(%q: tensor<?x1x?x16xf32>, %v: tensor<?x1x?x16xf32>,
                       %g: tensor<?x1x?xf32>, %c: tensor<?x1x?x16x16xf32>,
                       %n: tensor<?x1x?x16xf32>) -> tensor<?x1x?x16xf32> {
  %h = xlstm.mlstm_chunk_outputs %q, %q, %v, %g, %g, %c, %n, %g
      {chunk_size = 32 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<?x1x?x16xf32>, tensor<?x1x?x16xf32>, tensor<?x1x?x16xf32>,
         tensor<?x1x?xf32>, tensor<?x1x?xf32>, tensor<?x1x?x16x16xf32>,
         tensor<?x1x?x16xf32>, tensor<?x1x?xf32>) -> tensor<?x1x?x16xf32>
  return %h : tensor<?x1x?x16xf32>
}

// -----

// float32 q/k/v (bf16 models keep the cell's inputs in float32), DHQK a
// multiple of 32: the staged kernel. The chunk's Q and K, the entering C
// and n go through shared memory in slabs of 32 key dimensions (cp.async,
// two slabs in flight, V with the first one) in dynamic shared memory; at
// dv-tile 64: 2 x (2 x 64 x 36 + 32 x 72 + 32) + 64 x 68 floats = 72960
// bytes. Per K step of a slab, S = Q K^T (8 key tiles) and Q C (8 value
// tiles) share Q's fragment; the gate scalars come from a warp scan; P
// stays in registers (no barrier after the slabs) and P V, one scf.if per
// 8-key tile, stops at the warp's diagonal.
// TF32-LABEL:  func @staged_outputs
// TF32:        %[[BYTES:.+]] = arith.constant 72960 : i32
// TF32:        gpu.launch blocks({{[^)]*}}) in (%{{[^ ]+}} = %{{[^ ]+}}, %{{[^ ]+}} = %c8, %{{[^)]*}})
// TF32-SAME:     threads({{[^)]*}}) in (%{{[^ ]+}} = %c128
// TF32-SAME:     dynamic_shared_memory_size %[[BYTES]]
// TF32:          gpu.dynamic_shared_memory
// TF32-COUNT-4:  nvgpu.device_async_copy {{.*}} : memref<?x2x?x64xf32> to memref<2x64x36xf32, #gpu.address_space<workgroup>>
// TF32:          nvgpu.device_async_copy {{.*}} : memref<?x2x?x256xf32> to memref<64x68xf32, #gpu.address_space<workgroup>>
// TF32:          nvvm.cp.async.commit.group
// TF32:          gpu.shuffle  up
// TF32:          scf.for
// TF32:            nvvm.cp.async.wait.group 0
// TF32:            gpu.barrier
// TF32:            scf.if
// TF32:              nvgpu.device_async_copy
// TF32:            nvvm.cp.async.commit.group
// TF32-COUNT-16:   nvvm.mma.sync
// TF32:          gpu.shuffle  xor
// TF32-NOT:      gpu.barrier
// TF32:          scf.if {{.*}} -> (f32
// TF32:          } else {
// TF32-COUNT-8:    nvvm.mma.sync
// TF32:          vector.store {{.*}} vector<2xf32>
// TF32-NOT:    xlstm.mlstm_chunk_outputs
// The same without staging: fragments from global memory.
// UNSTAGED-LABEL: func @staged_outputs
// UNSTAGED-NOT:   nvgpu.device_async_copy
// UNSTAGED:       memref.load %{{.*}} : memref<?x2x?x64xf32>
// UNSTAGED-NOT:   nvgpu.device_async_copy
// UNSTAGED:       return
// BIN: gpu.binary @staged_outputs_kernel
func.func @staged_outputs(%q: tensor<?x2x?x64xf32>, %k: tensor<?x2x?x64xf32>,
                          %v: tensor<?x2x?x256xf32>, %i: tensor<?x2x?xf32>,
                          %f: tensor<?x2x?xf32>, %c: tensor<?x2x?x64x256xf32>,
                          %n: tensor<?x2x?x64xf32>, %m: tensor<?x2x?xf32>)
    -> tensor<?x2x?x256xf32> {
  %h = xlstm.mlstm_chunk_outputs %q, %k, %v, %i, %f, %c, %n, %m
      {chunk_size = 64 : i64, qk_scaling = #xlstm.qk_scaling<query>}
      : (tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x256xf32>,
         tensor<?x2x?xf32>, tensor<?x2x?xf32>, tensor<?x2x?x64x256xf32>,
         tensor<?x2x?x64xf32>, tensor<?x2x?xf32>) -> tensor<?x2x?x256xf32>
  return %h : tensor<?x2x?x256xf32>
}

// -----

// Chunks of 128 rows would need 64 KiB of P in shared memory: generic path.
// CHECK-LABEL: func @large_chunks
// TF32-LABEL:  func @large_chunks
// CHECK-NOT:   gpu.launch
// CHECK:       xlstm.mlstm_chunk_outputs
func.func @large_chunks(%q: tensor<?x1x?x16xbf16>, %g: tensor<?x1x?xf32>,
                        %c: tensor<?x1x?x16x16xf32>, %n: tensor<?x1x?x16xf32>)
    -> tensor<?x1x?x16xbf16> {
  %h = xlstm.mlstm_chunk_outputs %q, %q, %q, %g, %g, %c, %n, %g
      {chunk_size = 128 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<?x1x?x16xbf16>, tensor<?x1x?x16xbf16>, tensor<?x1x?x16xbf16>,
         tensor<?x1x?xf32>, tensor<?x1x?xf32>, tensor<?x1x?x16x16xf32>,
         tensor<?x1x?x16xf32>, tensor<?x1x?xf32>) -> tensor<?x1x?x16xbf16>
  return %h : tensor<?x1x?x16xbf16>
}

// -----

// The chunk-state scan with the chunk loop inside the kernel (unstaged:
// operands from global memory): a block per
// (32 x 128 tile of C, head, batch row) — one warp per 16 rows — walks the
// chunks, stores the state entering each (C, and n and m from the blocks
// that carry them), computes the gate scalars in the first warp (a scan by
// shuffles up, the maximum by butterflies), and adds
// (w k)^T V with m16n8k8 tf32 mma (16 column tiles per warp); the final
// state after the loop. Initial states are read when given.
// UNSTAGED-LABEL: func @bf16_states
// UNSTAGED-DAG:   %[[C0:.+]] = bufferization.to_buffer %arg4 read_only
// UNSTAGED-DAG:   %[[K:.+]] = bufferization.to_buffer %arg0 read_only
// UNSTAGED:       %[[B:.+]] = memref.dim %[[K]], %c0
// UNSTAGED:       %[[S:.+]] = memref.dim %[[K]], %c2
// UNSTAGED:       %[[NC:.+]] = arith.ceildivui %[[S]], %c64
// UNSTAGED:       %[[CC:.+]] = memref.alloc(%[[B]], %[[NC]]) : memref<?x2x?x32x256xf32>
// UNSTAGED:       %[[FC:.+]] = memref.alloc(%[[B]]) : memref<?x2x32x256xf32>
// UNSTAGED:       gpu.launch blocks({{.*}}) in (%{{[^ ]+}} = %c2{{(_[0-9]+)?}}, %{{[^ ]+}} = %c2{{(_[0-9]+)?}}, %{{[^ ]+}} = %[[B]])
// UNSTAGED-SAME:    threads({{.*}}) in (%{{[^ ]+}} = %c64
// UNSTAGED:         memref.load %[[C0]]
// UNSTAGED:         scf.for
// UNSTAGED:           memref.store {{.*}}, %[[CC]]
// UNSTAGED:           scf.if
// UNSTAGED:             math.log1p
// UNSTAGED-COUNT-5:     gpu.shuffle  up
// UNSTAGED:             gpu.shuffle  idx
// UNSTAGED-COUNT-5:     gpu.shuffle  xor
// UNSTAGED:           gpu.barrier
// UNSTAGED:           scf.for
// UNSTAGED-COUNT-16:    nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<tf32>
// UNSTAGED:           scf.if {{.*}} -> (f32)
// UNSTAGED:           gpu.barrier
// UNSTAGED:         memref.store {{.*}}, %[[FC]]
// UNSTAGED-COUNT-6: bufferization.to_tensor
// UNSTAGED-NOT:   xlstm.mlstm_chunk_states
// Staged (the default): each chunk's keys (the block's 32 columns, dense
// rows of 64 bytes whose 16-byte chunks are swizzled: chunk c of row r at
// c ^ ((r / 2) % 4)), values (rows of 256 bytes: c ^ (r % 8)) and gates
// are copied into shared memory, the next chunk's while this one
// computes; the gate scalars, the mma and n read them there.
// CHECK-LABEL: func @bf16_states
// CHECK-DAG:   %[[C0:.+]] = bufferization.to_buffer %arg4 read_only
// CHECK-DAG:   %[[K:.+]] = bufferization.to_buffer %arg0 read_only
// CHECK:       %[[CC:.+]] = memref.alloc(%{{.+}}, %{{.+}}) : memref<?x2x?x32x256xf32>
// CHECK:       %[[FC:.+]] = memref.alloc(%{{.+}}) : memref<?x2x32x256xf32>
// CHECK:       gpu.launch
// CHECK-SAME:    dynamic_shared_memory_size
// CHECK:         gpu.dynamic_shared_memory
// CHECK:         arith.andi %{{.+}}, %c3
// CHECK:         arith.xori
// CHECK:         nvgpu.device_async_copy %[[K]]{{.*}}, 8, {{.*}}bypassL1{{.*}} to memref<2x64x32xbf16, #gpu.address_space<workgroup>>
// CHECK:         arith.andi %{{.+}}, %c7
// CHECK:         arith.xori
// CHECK:         nvgpu.device_async_copy {{.*}} to memref<2x64x128xbf16, #gpu.address_space<workgroup>>
// CHECK:         nvgpu.device_async_copy {{.*}}, 1, {{.*}} : memref<?x2x?xf32> to memref<2x1x64xf32, #gpu.address_space<workgroup>>
// CHECK:         nvvm.cp.async.commit.group
// CHECK:         memref.load %[[C0]]
// CHECK:         scf.for
// CHECK:           nvvm.cp.async.wait.group 0
// CHECK:           gpu.barrier
// CHECK:           scf.if
// CHECK:             nvgpu.device_async_copy
// CHECK:           nvvm.cp.async.commit.group
// CHECK:           vector.store {{.*}}, %[[CC]]{{.*}} : memref<?x2x?x32x256xf32>, vector<2xf32>
// CHECK:           scf.if
// CHECK:             math.log1p
// CHECK-COUNT-5:     gpu.shuffle  up
// CHECK:           gpu.barrier
// The update on bf16 tensor cores: A (keys) by a transposed ldmatrix,
// scaled by the position weights and rounded back; B (values) by
// transposed ldmatrix pairs of 8-column tiles.
// CHECK:           scf.for {{.*}} step %c16
// CHECK:             arith.xori
// CHECK:             nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = true} : memref<2x64x32xbf16, #gpu.address_space<workgroup>> -> vector<4x2xbf16>
// CHECK-COUNT-4:     arith.truncf {{.*}} : vector<2xf32> to vector<2xbf16>
// CHECK:             arith.xori
// CHECK:             nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = true} : memref<2x64x128xbf16, #gpu.address_space<workgroup>> -> vector<4x2xbf16>
// CHECK-COUNT-2:     nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<bf16>{{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 16>
// CHECK:           scf.if {{.*}} -> (f32)
// CHECK-NOT:       gpu.barrier
// CHECK:         memref.store {{.*}}, %[[FC]]
// CHECK-NOT:   xlstm.mlstm_chunk_states
// WIDE-LABEL:  func @bf16_states
// WIDE:          scf.for
// WIDE:            memref.load {{.*}} : memref<2x64x40xbf16, #gpu.address_space<workgroup>>
// WIDE-COUNT-16:   nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<tf32>
// TF32-LABEL:  func @bf16_states
// BIN: gpu.binary @bf16_states_kernel
func.func @bf16_states(%k: tensor<?x2x?x32xbf16>, %v: tensor<?x2x?x256xbf16>,
                       %i: tensor<?x2x?xf32>, %f: tensor<?x2x?xf32>,
                       %c0: tensor<?x2x32x256xf32>, %n0: tensor<?x2x32xf32>,
                       %m0: tensor<?x2xf32>)
    -> (tensor<?x2x?x32x256xf32>, tensor<?x2x?x32xf32>, tensor<?x2x?xf32>,
        tensor<?x2x32x256xf32>, tensor<?x2x32xf32>, tensor<?x2xf32>) {
  %c, %n, %m, %cf, %nf, %mf = xlstm.mlstm_chunk_states %k, %v, %i, %f
      initial_state(%c0, %n0, %m0)
      {chunk_size = 64 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<?x2x?x32xbf16>, tensor<?x2x?x256xbf16>, tensor<?x2x?xf32>,
         tensor<?x2x?xf32>, tensor<?x2x32x256xf32>, tensor<?x2x32xf32>,
         tensor<?x2xf32>)
      -> (tensor<?x2x?x32x256xf32>, tensor<?x2x?x32xf32>, tensor<?x2x?xf32>,
          tensor<?x2x32x256xf32>, tensor<?x2x32xf32>, tensor<?x2xf32>)
  return %c, %n, %m, %cf, %nf, %mf
      : tensor<?x2x?x32x256xf32>, tensor<?x2x?x32xf32>, tensor<?x2x?xf32>,
        tensor<?x2x32x256xf32>, tensor<?x2x32xf32>, tensor<?x2xf32>
}

// -----

// The states of a decode step (a static single position): a thread per
// value column and a stride of key rows, no tensor-core tiles; the first
// column block carries n and m.
// CHECK-LABEL: func @decode_states
// CHECK:       gpu.launch blocks({{.*}}) in (%{{[^ ]+}} = %c8{{[_0-9]*}}, %{{[^ ]+}} = %c2{{[_0-9]*}}, %{{[^ ]+}} = %{{.+}}) threads({{.*}}) in (%{{[^ ]+}} = %c256
// CHECK-NOT:     nvvm.mma.sync
// CHECK:         scf.for
// CHECK-COUNT-8:   memref.load %{{.*}} : memref<?x2x64x256xf32>
// CHECK:         scf.if
// CHECK-NOT:   xlstm.mlstm_chunk_states
func.func @decode_states(%k: tensor<?x2x1x64xf32>, %v: tensor<?x2x1x256xf32>,
                         %g: tensor<?x2x1xf32>,
                         %c0: tensor<?x2x64x256xf32>, %n0: tensor<?x2x64xf32>,
                         %m0: tensor<?x2xf32>)
    -> (tensor<?x2x1x64x256xf32>, tensor<?x2x1x64xf32>, tensor<?x2x1xf32>,
        tensor<?x2x64x256xf32>, tensor<?x2x64xf32>, tensor<?x2xf32>) {
  %c, %n, %m, %cf, %nf, %mf = xlstm.mlstm_chunk_states %k, %v, %g, %g
      initial_state(%c0, %n0, %m0)
      {chunk_size = 64 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<?x2x1x64xf32>, tensor<?x2x1x256xf32>, tensor<?x2x1xf32>,
         tensor<?x2x1xf32>, tensor<?x2x64x256xf32>, tensor<?x2x64xf32>,
         tensor<?x2xf32>)
      -> (tensor<?x2x1x64x256xf32>, tensor<?x2x1x64xf32>, tensor<?x2x1xf32>,
          tensor<?x2x64x256xf32>, tensor<?x2x64xf32>, tensor<?x2xf32>)
  return %c, %n, %m, %cf, %nf, %mf
      : tensor<?x2x1x64x256xf32>, tensor<?x2x1x64xf32>, tensor<?x2x1xf32>,
        tensor<?x2x64x256xf32>, tensor<?x2x64xf32>, tensor<?x2xf32>
}

// -----

// 256 key rows (the xLSTM-7B's): four blocks share each 32-column tile,
// 64 rows each (8 tiles x 4 = 32 blocks per head), so that a batch-1 step
// streams C with enough blocks; the first block of the head carries n, m.
// CHECK-LABEL: func @decode_states_split_rows
// CHECK:       gpu.launch blocks({{.*}}) in (%{{[^ ]+}} = %c32{{[_0-9]*}}, %{{[^ ]+}} = %c2{{[_0-9]*}}, %{{[^ ]+}} = %{{.+}}) threads({{.*}}) in (%{{[^ ]+}} = %c256
// CHECK:         arith.remui %{{.*}}, %c8
// CHECK:         arith.divui %{{.*}}, %c8
// CHECK:         arith.muli %{{.*}}, %c64
// CHECK:         scf.for {{.*}} = %c0{{.*}} to %c8{{.*}} step %c8
func.func @decode_states_split_rows(%k: tensor<?x2x1x256xf32>, %v: tensor<?x2x1x256xf32>,
                         %g: tensor<?x2x1xf32>,
                         %c0: tensor<?x2x256x256xf32>, %n0: tensor<?x2x256xf32>,
                         %m0: tensor<?x2xf32>)
    -> (tensor<?x2x1x256x256xf32>, tensor<?x2x1x256xf32>, tensor<?x2x1xf32>,
        tensor<?x2x256x256xf32>, tensor<?x2x256xf32>, tensor<?x2xf32>) {
  %c, %n, %m, %cf, %nf, %mf = xlstm.mlstm_chunk_states %k, %v, %g, %g
      initial_state(%c0, %n0, %m0)
      {chunk_size = 64 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<?x2x1x256xf32>, tensor<?x2x1x256xf32>, tensor<?x2x1xf32>,
         tensor<?x2x1xf32>, tensor<?x2x256x256xf32>, tensor<?x2x256xf32>,
         tensor<?x2xf32>)
      -> (tensor<?x2x1x256x256xf32>, tensor<?x2x1x256xf32>, tensor<?x2x1xf32>,
          tensor<?x2x256x256xf32>, tensor<?x2x256xf32>, tensor<?x2xf32>)
  return %c, %n, %m, %cf, %nf, %mf
      : tensor<?x2x1x256x256xf32>, tensor<?x2x1x256xf32>, tensor<?x2x1xf32>,
        tensor<?x2x256x256xf32>, tensor<?x2x256xf32>, tensor<?x2xf32>
}

// -----

// A whole decode step (states, then outputs of the one position): one
// kernel reads the initial C once, writes the final C, n (first column
// block) and m, and normalises h; 16 warps of 4 key rows each, every row's
// load in flight before the stores, q . k and q . n summed per warp too
// (no serial loop of one warp over the keys). The chunk-indexed results
// are gone.
// With fuse-decode-step=0: the outputs kernel reads the initial states
// (chunk 0's entering state is the initial state), so the states kernel
// writes only the final states.
// By default the batch picks, at run time, four columns a lane (16-byte
// loads and stores of C) where batch x heads x DHV / 128 >= 256 blocks.
// CHECK-LABEL: func @decode_step
// CHECK-SAME:    %[[C0:[a-z0-9]+]]: tensor<?x2x64x256xf32>
// CHECK:         %[[IN:.+]] = bufferization.to_buffer %[[C0]] read_only
// CHECK:         %[[BLOCKS:.+]] = arith.muli %{{.*}}, %c4
// CHECK:         %[[MANY:.+]] = arith.cmpi uge, %[[BLOCKS]], %c256
// CHECK:         scf.if %[[MANY]]
// CHECK:           gpu.launch blocks({{.*}}) in (%{{[^ ]+}} = %c2{{[_0-9]*}}, %{{[^ ]+}} = %c2{{[_0-9]*}}, %{{[^ ]+}} = %{{.+}}) threads({{.*}}) in (%{{[^ ]+}} = %c512{{.*}} workgroup(%{{.*}} : memref<16x128xf32, #gpu.address_space<workgroup>>
// CHECK-COUNT-4:     vector.load %[[IN]]{{.*}} vector<4xf32>
// CHECK-COUNT-4:     vector.store {{.*}} : memref<?x2x64x256xf32>, vector<4xf32>
// CHECK:           } else {
// CHECK:           gpu.launch blocks({{.*}}) in (%{{[^ ]+}} = %c8{{[_0-9]*}}, %{{[^ ]+}} = %c2{{[_0-9]*}}, %{{[^ ]+}} = %{{.+}}) threads({{.*}}) in (%{{[^ ]+}} = %c512
// CHECK-NOT:     xlstm.mlstm_chunk
// CHECK:         return
// With decode-step-wide-blocks=0, a lane per column only: 16 warps of 4
// key rows each, every row's load in flight before the stores.
// ONE-LABEL: func @decode_step
// ONE-SAME:    %[[C0:[a-z0-9]+]]: tensor<?x2x64x256xf32>
// ONE:         %[[IN:.+]] = bufferization.to_buffer %[[C0]] read_only
// ONE-NOT:     scf.if
// ONE:         gpu.launch blocks({{.*}}) in (%{{[^ ]+}} = %c8{{[_0-9]*}}, %{{[^ ]+}} = %c2{{[_0-9]*}}, %{{[^ ]+}} = %{{.+}}) threads({{.*}}) in (%{{[^ ]+}} = %c512
// ONE-NOT:       nvvm.mma.sync
// ONE-COUNT-4:   memref.load %[[IN]]
// ONE-NOT:       memref.load %[[IN]]
// ONE-COUNT-4:   memref.store {{.*}} : memref<?x2x64x256xf32>
// ONE:           memref.store {{.*}} : memref<?x2x64xf32>
// ONE:           memref.store {{.*}} : memref<16x2xf32, #gpu.address_space<workgroup>>
// ONE:           memref.store {{.*}} : memref<?x2xf32>
// ONE-NOT:       gpu.shuffle
// ONE:           gpu.barrier
// ONE:           arith.divf
// ONE-NOT:     gpu.launch
// ONE:         return
// With grid-dependency-wait, q, k, v and the gates arguments too: the grid
// before the step may be the end of an earlier call, which may still write
// the states passed back in; no early loads.
// WAIT-LABEL: func @decode_step(
// WAIT:         gpu.launch
// WAIT-NOT:     nvvm.griddepcontrol
// WAIT:         return
// SEPARATE-LABEL: func @decode_step
// SEPARATE-SAME:    %[[C0:[a-z0-9]+]]: tensor<?x2x64x256xf32>
// SEPARATE:         gpu.launch
// SEPARATE-NOT:       memref.store {{.*}} : memref<?x2x1x64x256xf32>
// SEPARATE:           memref.store {{.*}} : memref<?x2x64x256xf32>
// SEPARATE-NOT:       memref.store {{.*}} : memref<?x2x1x64xf32>
// SEPARATE-NOT:       memref.store {{.*}} : memref<?x2x1xf32>
// SEPARATE:         %[[IN:.+]] = bufferization.to_buffer %[[C0]] read_only
// SEPARATE:         gpu.launch
// SEPARATE:           memref.load %[[IN]]
// SEPARATE:         return
func.func @decode_step(%q: tensor<?x2x1x64xf32>, %k: tensor<?x2x1x64xf32>,
                       %v: tensor<?x2x1x256xf32>, %g: tensor<?x2x1xf32>,
                       %c0: tensor<?x2x64x256xf32>, %n0: tensor<?x2x64xf32>,
                       %m0: tensor<?x2xf32>)
    -> (tensor<?x2x1x256xf32>, tensor<?x2x64x256xf32>, tensor<?x2x64xf32>,
        tensor<?x2xf32>) {
  %c, %n, %m, %cf, %nf, %mf = xlstm.mlstm_chunk_states %k, %v, %g, %g
      initial_state(%c0, %n0, %m0)
      {chunk_size = 64 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<?x2x1x64xf32>, tensor<?x2x1x256xf32>, tensor<?x2x1xf32>,
         tensor<?x2x1xf32>, tensor<?x2x64x256xf32>, tensor<?x2x64xf32>,
         tensor<?x2xf32>)
      -> (tensor<?x2x1x64x256xf32>, tensor<?x2x1x64xf32>, tensor<?x2x1xf32>,
          tensor<?x2x64x256xf32>, tensor<?x2x64xf32>, tensor<?x2xf32>)
  %h = xlstm.mlstm_chunk_outputs %q, %k, %v, %g, %g, %c, %n, %m
      {chunk_size = 64 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<?x2x1x64xf32>, tensor<?x2x1x64xf32>, tensor<?x2x1x256xf32>,
         tensor<?x2x1xf32>, tensor<?x2x1xf32>, tensor<?x2x1x64x256xf32>,
         tensor<?x2x1x64xf32>, tensor<?x2x1xf32>) -> tensor<?x2x1x256xf32>
  return %h, %cf, %nf, %mf : tensor<?x2x1x256xf32>, tensor<?x2x64x256xf32>,
                             tensor<?x2x64xf32>, tensor<?x2xf32>
}

// -----

// The entering C is also returned (someone else reads it): no fused step,
// the states kernel stores it and the outputs kernel reads it.
// CHECK-LABEL: func @decode_step_entering_read
// CHECK:         gpu.launch
// CHECK:           memref.store {{.*}} : memref<?x2x1x64x256xf32>
// CHECK:         gpu.launch
// CHECK-NOT:     xlstm.mlstm_decode_step
// CHECK:         return
func.func @decode_step_entering_read(%q: tensor<?x2x1x64xf32>, %k: tensor<?x2x1x64xf32>,
                       %v: tensor<?x2x1x256xf32>, %g: tensor<?x2x1xf32>,
                       %c0: tensor<?x2x64x256xf32>, %n0: tensor<?x2x64xf32>,
                       %m0: tensor<?x2xf32>)
    -> (tensor<?x2x1x256xf32>, tensor<?x2x1x64x256xf32>) {
  %c, %n, %m, %cf, %nf, %mf = xlstm.mlstm_chunk_states %k, %v, %g, %g
      initial_state(%c0, %n0, %m0)
      {chunk_size = 64 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<?x2x1x64xf32>, tensor<?x2x1x256xf32>, tensor<?x2x1xf32>,
         tensor<?x2x1xf32>, tensor<?x2x64x256xf32>, tensor<?x2x64xf32>,
         tensor<?x2xf32>)
      -> (tensor<?x2x1x64x256xf32>, tensor<?x2x1x64xf32>, tensor<?x2x1xf32>,
          tensor<?x2x64x256xf32>, tensor<?x2x64xf32>, tensor<?x2xf32>)
  %h = xlstm.mlstm_chunk_outputs %q, %k, %v, %g, %g, %c, %n, %m
      {chunk_size = 64 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<?x2x1x64xf32>, tensor<?x2x1x64xf32>, tensor<?x2x1x256xf32>,
         tensor<?x2x1xf32>, tensor<?x2x1xf32>, tensor<?x2x1x64x256xf32>,
         tensor<?x2x1x64xf32>, tensor<?x2x1xf32>) -> tensor<?x2x1x256xf32>
  return %h, %c : tensor<?x2x1x256xf32>, tensor<?x2x1x64x256xf32>
}

// -----

// The final C read between the states op and the outputs op: the fused
// kernel goes where the states op stood (q is known there).
// CHECK-LABEL: func @decode_step_final_read_early
// CHECK:         scf.if
// CHECK-NOT:     xlstm.mlstm_chunk
// CHECK:         return
// PLACE-LABEL: func @decode_step_final_read_early
// PLACE:         scf.if
// PLACE:         %[[CF:.+]] = bufferization.to_tensor
// PLACE:         tensor.dim %{{.*}}, %c0
// PLACE:         return
func.func @decode_step_final_read_early(%q: tensor<?x2x1x64xf32>, %k: tensor<?x2x1x64xf32>,
                       %v: tensor<?x2x1x256xf32>, %g: tensor<?x2x1xf32>,
                       %c0: tensor<?x2x64x256xf32>, %n0: tensor<?x2x64xf32>,
                       %m0: tensor<?x2xf32>)
    -> (tensor<?x2x1x256xf32>, index) {
  %c, %n, %m, %cf, %nf, %mf = xlstm.mlstm_chunk_states %k, %v, %g, %g
      initial_state(%c0, %n0, %m0)
      {chunk_size = 64 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<?x2x1x64xf32>, tensor<?x2x1x256xf32>, tensor<?x2x1xf32>,
         tensor<?x2x1xf32>, tensor<?x2x64x256xf32>, tensor<?x2x64xf32>,
         tensor<?x2xf32>)
      -> (tensor<?x2x1x64x256xf32>, tensor<?x2x1x64xf32>, tensor<?x2x1xf32>,
          tensor<?x2x64x256xf32>, tensor<?x2x64xf32>, tensor<?x2xf32>)
  %zero = arith.constant 0 : index
  %rows = tensor.dim %cf, %zero : tensor<?x2x64x256xf32>
  %h = xlstm.mlstm_chunk_outputs %q, %k, %v, %g, %g, %c, %n, %m
      {chunk_size = 64 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<?x2x1x64xf32>, tensor<?x2x1x64xf32>, tensor<?x2x1x256xf32>,
         tensor<?x2x1xf32>, tensor<?x2x1xf32>, tensor<?x2x1x64x256xf32>,
         tensor<?x2x1x64xf32>, tensor<?x2x1xf32>) -> tensor<?x2x1x256xf32>
  return %h, %rows : tensor<?x2x1x256xf32>, index
}

// -----

// float64 operands (the kernels compute in float32) and results with
// dimensions the kernels cannot size stay on the generic path.
// CHECK-LABEL: func @left_alone
// CHECK-NOT:   gpu.launch
// CHECK-COUNT-2: xlstm.mlstm_chunk_outputs
// TF32-LABEL:  func @left_alone
// TF32-NOT:    gpu.launch
func.func @left_alone(%q: tensor<?x1x?x16xf64>, %g: tensor<?x1x?xf64>,
                      %c: tensor<?x1x?x16x16xf64>, %n: tensor<?x1x?x16xf64>,
                      %q2: tensor<?x1x?x16xbf16>, %g2: tensor<?x1x?xf32>,
                      %c2: tensor<?x1x?x16x16xf32>, %n2: tensor<?x1x?x16xf32>)
    -> (tensor<?x1x?x16xf64>, tensor<?x?x?x?xbf16>) {
  %h = xlstm.mlstm_chunk_outputs %q, %q, %q, %g, %g, %c, %n, %g
      {chunk_size = 64 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<?x1x?x16xf64>, tensor<?x1x?x16xf64>, tensor<?x1x?x16xf64>,
         tensor<?x1x?xf64>, tensor<?x1x?xf64>, tensor<?x1x?x16x16xf64>,
         tensor<?x1x?x16xf64>, tensor<?x1x?xf64>) -> tensor<?x1x?x16xf64>
  %h2 = xlstm.mlstm_chunk_outputs %q2, %q2, %q2, %g2, %g2, %c2, %n2, %g2
      {chunk_size = 64 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<?x1x?x16xbf16>, tensor<?x1x?x16xbf16>, tensor<?x1x?x16xbf16>,
         tensor<?x1x?xf32>, tensor<?x1x?xf32>, tensor<?x1x?x16x16xf32>,
         tensor<?x1x?x16xf32>, tensor<?x1x?xf32>) -> tensor<?x?x?x?xbf16>
  return %h, %h2 : tensor<?x1x?x16xf64>, tensor<?x?x?x?xbf16>
}

// -----

// Chunks that are not a multiple of 32 positions: the gate scalars by one
// thread (all threads load the gates, a barrier, thread 0 scans).
// CHECK-LABEL: func @states_chunk16
// TF32-LABEL:  func @states_chunk16
// Chunks of 16 (not whole warps of gate scalars) are not staged.
// CHECK:       gpu.launch
// CHECK-NOT:     gpu.dynamic_shared_memory
// CHECK:         scf.for
// CHECK:           math.log1p
// CHECK:           gpu.barrier
// CHECK:           scf.if
// CHECK:             scf.for
// CHECK-NOT:   xlstm.mlstm_chunk_states
// BIN: gpu.binary @states_chunk16_kernel
func.func @states_chunk16(%k: tensor<?x1x?x16xbf16>, %v: tensor<?x1x?x16xbf16>,
                          %g: tensor<?x1x?xf32>)
    -> (tensor<?x1x?x16x16xf32>, tensor<?x1x?x16xf32>, tensor<?x1x?xf32>,
        tensor<?x1x16x16xf32>, tensor<?x1x16xf32>, tensor<?x1xf32>) {
  %c, %n, %m, %cf, %nf, %mf = xlstm.mlstm_chunk_states %k, %v, %g, %g
      {chunk_size = 16 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<?x1x?x16xbf16>, tensor<?x1x?x16xbf16>, tensor<?x1x?xf32>,
         tensor<?x1x?xf32>)
      -> (tensor<?x1x?x16x16xf32>, tensor<?x1x?x16xf32>, tensor<?x1x?xf32>,
          tensor<?x1x16x16xf32>, tensor<?x1x16xf32>, tensor<?x1xf32>)
  return %c, %n, %m, %cf, %nf, %mf
      : tensor<?x1x?x16x16xf32>, tensor<?x1x?x16xf32>, tensor<?x1x?xf32>,
        tensor<?x1x16x16xf32>, tensor<?x1x16xf32>, tensor<?x1xf32>
}

// -----

// The entering states in bf16 (narrow-entering-states): each quad of lanes
// regroups its accumulator pairs by two rounds of shuffles (distance 1,
// then 2) so that every lane stores 8 adjacent columns in one 16-byte
// store: a quad writes 64 contiguous bytes of a row.
// CHECK-LABEL: func @bf16_states_narrow
// CHECK:       %[[CC:.+]] = memref.alloc(%{{.+}}, %{{.+}}) : memref<?x2x?x32x256xbf16>
// CHECK:       gpu.launch
// CHECK:         scf.for
// CHECK:           gpu.shuffle  xor %{{.+}}, %c1_i32{{[_0-9]*}}, %c32_i32{{[_0-9]*}} : i32
// CHECK:           gpu.shuffle  xor %{{.+}}, %c1_i32{{[_0-9]*}}, %c32_i32{{[_0-9]*}} : i32
// CHECK:           gpu.shuffle  xor %{{.+}}, %c2_i32{{[_0-9]*}}, %c32_i32{{[_0-9]*}} : i32
// CHECK:           gpu.shuffle  xor %{{.+}}, %c2_i32{{[_0-9]*}}, %c32_i32{{[_0-9]*}} : i32
// CHECK:           vector.bitcast {{.*}} : vector<4xi32> to vector<8xbf16>
// CHECK:           vector.store {{.*}}, %[[CC]]{{.*}} {alignment = 16 : i64} : memref<?x2x?x32x256xbf16>, vector<8xbf16>
// CHECK-COUNT-7:   vector.store {{.*}}, %[[CC]]{{.*}} : memref<?x2x?x32x256xbf16>, vector<8xbf16>
// CHECK-NOT:       vector.store {{.*}}, %[[CC]]
// CHECK:           math.log1p
func.func @bf16_states_narrow(%k: tensor<?x2x?x32xbf16>, %v: tensor<?x2x?x256xbf16>,
                              %i: tensor<?x2x?xf32>, %f: tensor<?x2x?xf32>)
    -> (tensor<?x2x?x32x256xbf16>, tensor<?x2x?x32xf32>, tensor<?x2x?xf32>,
        tensor<?x2x32x256xf32>, tensor<?x2x32xf32>, tensor<?x2xf32>) {
  %c, %n, %m, %cf, %nf, %mf = xlstm.mlstm_chunk_states %k, %v, %i, %f
      {chunk_size = 64 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<?x2x?x32xbf16>, tensor<?x2x?x256xbf16>, tensor<?x2x?xf32>,
         tensor<?x2x?xf32>)
      -> (tensor<?x2x?x32x256xbf16>, tensor<?x2x?x32xf32>, tensor<?x2x?xf32>,
          tensor<?x2x32x256xf32>, tensor<?x2x32xf32>, tensor<?x2xf32>)
  return %c, %n, %m, %cf, %nf, %mf
      : tensor<?x2x?x32x256xbf16>, tensor<?x2x?x32xf32>, tensor<?x2x?xf32>,
        tensor<?x2x32x256xf32>, tensor<?x2x32xf32>, tensor<?x2xf32>
}

// -----

// The same with f16 operands and entering states: the pairs become 32-bit
// words for the shuffles by a bitcast, and 8 f16 columns a store.
// CHECK-LABEL: func @f16_states_narrow
// CHECK:       %[[CC:.+]] = memref.alloc(%{{.+}}, %{{.+}}) : memref<?x2x?x32x256xf16>
// CHECK:         scf.for
// CHECK:           vector.bitcast {{.*}} : vector<2xf16> to vector<1xi32>
// CHECK:           gpu.shuffle  xor %{{.+}}, %c1_i32{{[_0-9]*}}, %c32_i32{{[_0-9]*}} : i32
// CHECK:           vector.bitcast {{.*}} : vector<4xi32> to vector<8xf16>
// CHECK:           vector.store {{.*}}, %[[CC]]{{.*}} {alignment = 16 : i64} : memref<?x2x?x32x256xf16>, vector<8xf16>
func.func @f16_states_narrow(%k: tensor<?x2x?x32xf16>, %v: tensor<?x2x?x256xf16>,
                             %i: tensor<?x2x?xf32>, %f: tensor<?x2x?xf32>)
    -> (tensor<?x2x?x32x256xf16>, tensor<?x2x?x32xf32>, tensor<?x2x?xf32>,
        tensor<?x2x32x256xf32>, tensor<?x2x32xf32>, tensor<?x2xf32>) {
  %c, %n, %m, %cf, %nf, %mf = xlstm.mlstm_chunk_states %k, %v, %i, %f
      {chunk_size = 64 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<?x2x?x32xf16>, tensor<?x2x?x256xf16>, tensor<?x2x?xf32>,
         tensor<?x2x?xf32>)
      -> (tensor<?x2x?x32x256xf16>, tensor<?x2x?x32xf32>, tensor<?x2x?xf32>,
          tensor<?x2x32x256xf32>, tensor<?x2x32xf32>, tensor<?x2xf32>)
  return %c, %n, %m, %cf, %nf, %mf
      : tensor<?x2x?x32x256xf16>, tensor<?x2x?x32xf32>, tensor<?x2x?xf32>,
        tensor<?x2x32x256xf32>, tensor<?x2x32xf32>, tensor<?x2xf32>
}

// -----

// An entering state that the program computes (here zeros) may be written
// by the grid just before: no early loads, no wait of the kernel's own.
// WAIT-LABEL: func @decode_step_computed_state
// WAIT:         gpu.launch
// WAIT-NOT:     nvvm.griddepcontrol
// WAIT:         return
func.func @decode_step_computed_state(%q: tensor<?x2x1x64xf32>, %k: tensor<?x2x1x64xf32>,
                       %v: tensor<?x2x1x256xf32>, %g: tensor<?x2x1xf32>,
                       %n0: tensor<?x2x64xf32>, %m0: tensor<?x2xf32>)
    -> tensor<?x2x1x256xf32> {
  %c0i = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %b = tensor.dim %q, %c0i : tensor<?x2x1x64xf32>
  %empty = tensor.empty(%b) : tensor<?x2x64x256xf32>
  %c0 = linalg.fill ins(%zero : f32) outs(%empty : tensor<?x2x64x256xf32>) -> tensor<?x2x64x256xf32>
  %c, %n, %m, %cf, %nf, %mf = xlstm.mlstm_chunk_states %k, %v, %g, %g
      initial_state(%c0, %n0, %m0)
      {chunk_size = 64 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<?x2x1x64xf32>, tensor<?x2x1x256xf32>, tensor<?x2x1xf32>,
         tensor<?x2x1xf32>, tensor<?x2x64x256xf32>, tensor<?x2x64xf32>,
         tensor<?x2xf32>)
      -> (tensor<?x2x1x64x256xf32>, tensor<?x2x1x64xf32>, tensor<?x2x1xf32>,
          tensor<?x2x64x256xf32>, tensor<?x2x64xf32>, tensor<?x2xf32>)
  %h = xlstm.mlstm_chunk_outputs %q, %k, %v, %g, %g, %c, %n, %m
      {chunk_size = 64 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<?x2x1x64xf32>, tensor<?x2x1x64xf32>, tensor<?x2x1x256xf32>,
         tensor<?x2x1xf32>, tensor<?x2x1xf32>, tensor<?x2x1x64x256xf32>,
         tensor<?x2x1x64xf32>, tensor<?x2x1xf32>) -> tensor<?x2x1x256xf32>
  return %h : tensor<?x2x1x256xf32>
}

// -----

// With grid-dependency-wait the entering states, arguments of the function
// that only the chunkwise ops read, are loaded before the kernel waits on
// the grid before it (sm_90's griddepcontrol) where q, k, v and the gates
// are computed in the function (that grid is one of its own); q, k, v and
// the gates are read after the wait.
// WAIT-LABEL: func @decode_step_computed_inputs
// WAIT-SAME:    %[[C0:[a-z0-9]+]]: tensor<?x2x64x256xf32>
// WAIT:         %[[IN:.+]] = bufferization.to_buffer %[[C0]] read_only
// WAIT:         gpu.launch
// WAIT-COUNT-4:   memref.load %[[IN]]
// WAIT-NEXT:      memref.load {{.*}} : memref<?x2x64xf32>
// WAIT:           nvvm.griddepcontrol wait
// WAIT-NOT:       memref.load %[[IN]]
// WAIT:           memref.load {{.*}} : memref<?x2x1xf32>
// WAIT:           memref.store {{.*}} : memref<?x2x64x256xf32>
// WAIT-NOT:       nvvm.griddepcontrol
// WAIT:         return
func.func @decode_step_computed_inputs(%q0: tensor<?x2x1x64xf32>, %k: tensor<?x2x1x64xf32>,
                       %v: tensor<?x2x1x256xf32>, %g0: tensor<?x2x1xf32>,
                       %c0: tensor<?x2x64x256xf32>, %n0: tensor<?x2x64xf32>,
                       %m0: tensor<?x2xf32>)
    -> (tensor<?x2x1x256xf32>, tensor<?x2x64x256xf32>) {
  %zero = arith.constant 0 : index
  %b = tensor.dim %q0, %zero : tensor<?x2x1x64xf32>
  %qe = tensor.empty(%b) : tensor<?x2x1x64xf32>
  %q = linalg.copy ins(%q0 : tensor<?x2x1x64xf32>) outs(%qe : tensor<?x2x1x64xf32>) -> tensor<?x2x1x64xf32>
  %ge = tensor.empty(%b) : tensor<?x2x1xf32>
  %g = linalg.copy ins(%g0 : tensor<?x2x1xf32>) outs(%ge : tensor<?x2x1xf32>) -> tensor<?x2x1xf32>
  %ke = tensor.empty(%b) : tensor<?x2x1x64xf32>
  %k1 = linalg.copy ins(%k : tensor<?x2x1x64xf32>) outs(%ke : tensor<?x2x1x64xf32>) -> tensor<?x2x1x64xf32>
  %ve = tensor.empty(%b) : tensor<?x2x1x256xf32>
  %v1 = linalg.copy ins(%v : tensor<?x2x1x256xf32>) outs(%ve : tensor<?x2x1x256xf32>) -> tensor<?x2x1x256xf32>
  %c, %n, %m, %cf, %nf, %mf = xlstm.mlstm_chunk_states %k1, %v1, %g, %g
      initial_state(%c0, %n0, %m0)
      {chunk_size = 64 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<?x2x1x64xf32>, tensor<?x2x1x256xf32>, tensor<?x2x1xf32>,
         tensor<?x2x1xf32>, tensor<?x2x64x256xf32>, tensor<?x2x64xf32>,
         tensor<?x2xf32>)
      -> (tensor<?x2x1x64x256xf32>, tensor<?x2x1x64xf32>, tensor<?x2x1xf32>,
          tensor<?x2x64x256xf32>, tensor<?x2x64xf32>, tensor<?x2xf32>)
  %h = xlstm.mlstm_chunk_outputs %q, %k1, %v1, %g, %g, %c, %n, %m
      {chunk_size = 64 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<?x2x1x64xf32>, tensor<?x2x1x64xf32>, tensor<?x2x1x256xf32>,
         tensor<?x2x1xf32>, tensor<?x2x1xf32>, tensor<?x2x1x64x256xf32>,
         tensor<?x2x1x64xf32>, tensor<?x2x1xf32>) -> tensor<?x2x1x256xf32>
  return %h, %cf : tensor<?x2x1x256xf32>, tensor<?x2x64x256xf32>
}
