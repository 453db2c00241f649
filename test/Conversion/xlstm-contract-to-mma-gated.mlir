// Two projections of one x whose float32 outputs only one elementwise op
// reads (a gated FFN's silu(gate) * up), or the two halves of one projection
// (the sLSTM block's FFN), become one pipelined kernel that
// interleaves the two W by 8 rows (each staged W row picks its matrix) and
// stores the op's result, evaluated in the kernel, two bf16 at a time. For
// M <= gemv-max-rows the decoding kernels write the two float32 buffers,
// which then live in that branch only, and the op runs after them there.
// RUN: xlstm-opt %s --xlstm-contract-to-mma="gated-decoding=0 staged-tile-short-k= short-k-tiles-per-block=1" | FileCheck %s
// RUN: xlstm-opt %s --xlstm-contract-to-mma="gated-decoding=0 shared-epilogue=0 permuted-column-stores=0 staged-tile-short-k= short-k-tiles-per-block=1" | FileCheck %s --check-prefix=KERNEL
// RUN: xlstm-opt %s --xlstm-contract-to-mma="gated-pairs=0 gated-decoding=0 staged-tile-short-k= short-k-tiles-per-block=1" | FileCheck %s --check-prefix=OFF
// RUN: xlstm-opt %s --xlstm-contract-to-mma="gated-decoding=0 staged-tile-short-k= short-k-tiles-per-block=1" --xlstm-lowering-report -o /dev/null | FileCheck %s --check-prefix=REPORT
// With gated-decoding the decoding kernels stream both W too and store the
// op's result: no float32 buffers and no elementwise kernel in any branch.
// RUN: xlstm-opt %s --xlstm-contract-to-mma="gated-decoding=1 staged-tile-short-k= short-k-tiles-per-block=1" | FileCheck %s --check-prefix=DEC
// RUN: xlstm-opt %s --xlstm-contract-to-mma="gated-decoding=1 gemv-min-n=0 staged-tile-short-k= short-k-tiles-per-block=1" | FileCheck %s --check-prefix=DEC-GEMV
// RUN: xlstm-opt %s --xlstm-contract-to-mma="gated-decoding=1 staged-tile-short-k= short-k-tiles-per-block=1" --xlstm-lowering-report -o /dev/null | FileCheck %s --check-prefix=DEC-REPORT

#x = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#w = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
#y = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>

// CHECK-LABEL: func @gated_ffn
// CHECK-SAME:    (%[[X:.+]]: memref<?x?x64xbf16>, %[[WG:.+]]: memref<96x64xbf16>, %[[WU:.+]]: memref<96x64xbf16>)
// CHECK-NOT:   linalg.contract
// CHECK:       %[[OUT:.+]] = memref.alloc({{.*}}) : memref<?x?x96xbf16>
// CHECK:       %[[OUT2:.+]] = memref.collapse_shape %[[OUT]]
// CHECK:       scf.if
// CHECK:         %[[U:.+]] = memref.alloc({{.*}}) : memref<?x?x96xf32>
// CHECK:         %[[G:.+]] = memref.alloc({{.*}}) : memref<?x?x96xf32>
// CHECK:         gpu.launch_func @projection_small_batch_mma_siblings::
// CHECK:         linalg.generic {{.*}} ins(%[[G]], %[[U]] : {{.*}}) outs(%[[OUT]] :
// CHECK:           math.exp
// CHECK:         memref.dealloc %[[G]]
// CHECK:         memref.dealloc %[[U]]
// CHECK:       } else {
// CHECK:         gpu.launch_func @projection_mma_gated::@projection_mma_gated {{.*}} args(%{{.+}} : memref<?x64xbf16>, %[[WG]] : memref<96x64xbf16>, %[[OUT2]] : memref<?x96xbf16>, %{{.+}} : index, %[[WU]] : memref<96x64xbf16>)
// CHECK:       }
// CHECK-NOT:   memref.dealloc
// CHECK:       return %[[OUT]]
// The kernel: the two W chosen per staged row, the op on the accumulators,
// pairs of results stored together (shared-epilogue=0; through shared
// memory: contract-shared-epilogue.mlir).
// KERNEL-LABEL: gpu.func @projection_mma_gated(
// KERNEL-SAME:     %{{.+}}: memref<?x64xbf16>, %[[KG:.+]]: memref<96x64xbf16>, %{{.+}}: memref<?x96xbf16>, %{{.+}}: index, %[[KU:.+]]: memref<96x64xbf16>)
// KERNEL:         %[[SRC:.+]] = arith.select %{{.+}}, %[[KU]], %[[KG]] : memref<96x64xbf16>
// KERNEL:         nvgpu.device_async_copy %[[SRC]]
// KERNEL:         nvvm.mma.sync
// KERNEL:         math.exp
// KERNEL:         arith.truncf %{{.+}} : f32 to bf16
// KERNEL:         vector.store %{{.+}} : memref<?x96xbf16>, vector<2xbf16>
// OFF-LABEL:   func @gated_ffn
// OFF-COUNT-2: gpu.launch_func @projection_mma_staged
// OFF:         linalg.generic
// OFF-NOT:     projection_mma_gated
// REPORT:      gated_ffn {{.*}}?x96x64{{.*}}one kernel with its gated pair, storing the elementwise op of both [M > 16]

// DEC-LABEL:   func @gated_ffn
// DEC-SAME:      (%[[X:.+]]: memref<?x?x64xbf16>, %[[WG:.+]]: memref<96x64xbf16>, %[[WU:.+]]: memref<96x64xbf16>)
// DEC-NOT:     xf32>
// DEC:         %[[OUT:.+]] = memref.alloc({{.*}}) : memref<?x?x96xbf16>
// DEC:         %[[OUT2:.+]] = memref.collapse_shape %[[OUT]]
// DEC:         scf.if
// A block per 8 columns: 8 rows of each W.
// DEC:           %[[BLOCKS:.+]] = arith.ceildivui %c96, %c8 : index
// DEC:           gpu.launch_func @projection_small_batch_mma_gated::@projection_small_batch_mma_gated blocks in (%[[BLOCKS]], {{.*}} args(%{{.+}} : memref<?x64xbf16>, %[[WG]] : memref<96x64xbf16>, %[[OUT2]] : memref<?x96xbf16>, %{{.+}} : index, %[[WU]] : memref<96x64xbf16>)
// DEC-NOT:       linalg.generic
// DEC:         } else {
// DEC:           gpu.launch_func @projection_mma_gated::@projection_mma_gated
// DEC-NOT:     linalg.generic
// DEC:         return %[[OUT]]
// The kernel: A's rows from both W, the op on the warps' summed
// accumulators, stored as bf16.
// DEC-LABEL:   gpu.func @projection_small_batch_mma_gated(
// DEC-SAME:      %{{.+}}: memref<?x64xbf16>, %[[KG:.+]]: memref<96x64xbf16>, %[[KOUT:.+]]: memref<?x96xbf16>, %{{.+}}: index, %[[KU:.+]]: memref<96x64xbf16>)
// DEC:           vector.load %[[KG]]
// DEC:           vector.load %[[KU]]
// DEC:           nvvm.mma.sync
// DEC:           gpu.barrier
// DEC:           math.exp
// DEC:           memref.store %{{.+}}, %[[KOUT]][%{{.+}}, %{{.+}}] : memref<?x96xbf16>
// DEC-REPORT:  gated_ffn {{.*}}?x96x64{{.*}}small-batch mma {{.*}}one kernel with its gated pair, storing the elementwise op of both [M <= 16] | mma-staged {{.*}}one kernel with its gated pair, storing the elementwise op of both [M > 16]


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

// The gate's output is also read by another op: two kernels as before.
// CHECK-LABEL: func @gate_read_twice
// CHECK-NOT:   projection_mma_gated
// CHECK:       linalg.generic
func.func @gate_read_twice(%x: memref<?x?x64xbf16>, %wg: memref<96x64xbf16>, %wu: memref<96x64xbf16>, %keep: memref<?x?x96xf32>) -> memref<?x?x96xbf16> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
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
    %p = arith.mulf %in, %in2 : f32
    %t = arith.truncf %p : f32 to bf16
    linalg.yield %t : bf16
  }
  memref.copy %g, %keep : memref<?x?x96xf32> to memref<?x?x96xf32>
  return %out : memref<?x?x96xbf16>
}

// A gating body that reads its position (linalg.index): no kernel could
// evaluate it on accumulators; two kernels as before.
// CHECK-LABEL: func @gating_reads_index
// CHECK-NOT:   projection_mma_gated
// CHECK:       linalg.generic
func.func @gating_reads_index(%x: memref<?x?x64xbf16>, %wg: memref<96x64xbf16>, %wu: memref<96x64xbf16>) -> memref<?x?x96xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
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
  %out = memref.alloc(%b, %s) : memref<?x?x96xf32>
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%g, %u : memref<?x?x96xf32>, memref<?x?x96xf32>) outs(%out : memref<?x?x96xf32>) {
  ^bb0(%in: f32, %in2: f32, %o: f32):
    %i = linalg.index 2 : index
    %ii = arith.index_cast %i : index to i32
    %f = arith.sitofp %ii : i32 to f32
    %p = arith.mulf %in, %in2 : f32
    %q = arith.addf %p, %f : f32
    linalg.yield %q : f32
  }
  return %out : memref<?x?x96xf32>
}

// One projection of 2 N outputs whose halves only the elementwise op reads
// (the sLSTM block's FFN): the gated kernel on the two halves of its W, the
// second's rows 96 on (each staged row's index moved by 96 where odd).
// CHECK-LABEL: func @split_halves
// CHECK-SAME:    (%[[X:.+]]: memref<?x?x64xbf16>, %[[W:.+]]: memref<192x64xbf16>)
// CHECK-NOT:   linalg.contract
// CHECK:       scf.if
// CHECK:         %[[Y:.+]] = memref.alloc({{.*}}) : memref<?x?x192xf32>
// CHECK:         memref.subview %[[Y]][0, 0, 0]
// CHECK:         memref.subview %[[Y]][0, 0, 96]
// CHECK:         linalg.generic
// CHECK:         memref.dealloc %[[Y]]
// CHECK:       } else {
// CHECK:         gpu.launch_func @projection_mma_gated{{.*}} args(%{{.+}} : memref<?x64xbf16>, %[[W]] : memref<192x64xbf16>, %{{.+}} : memref<?x96xbf16>, %{{.+}} : index, %[[W]] : memref<192x64xbf16>)
// CHECK-NOT:   memref.dealloc
// KERNEL-LABEL: gpu.func @projection_mma_gated_0(
// KERNEL:         %[[ROWS:.+]] = arith.select %{{.+}}, %c96{{.*}}, %c0{{.*}} : index
// KERNEL:         arith.addi %{{.+}}, %[[ROWS]] : index
// KERNEL:         nvgpu.device_async_copy
// REPORT:      split_halves {{.*}}?x192x64{{.*}}one kernel for both halves, storing the elementwise op of them [M > 16]
// The matrix-vector kernel for one row: each warp a row of each half (the
// second's 96 rows on), the lanes storing the op of the two sums.
// DEC-GEMV-LABEL: func @split_halves
// DEC-GEMV-SAME:    (%[[X:.+]]: memref<?x?x64xbf16>, %[[W:.+]]: memref<192x64xbf16>)
// DEC-GEMV-NOT:   xf32>
// DEC-GEMV:       gpu.launch_func @projection_gemv_gated{{.*}} args(%{{.+}} : memref<?x64xbf16>, %[[W]] : memref<192x64xbf16>, %{{.+}} : memref<?x96xbf16>, %{{.+}} : index, %[[W]] : memref<192x64xbf16>)
// DEC-GEMV:       } else {
// DEC-GEMV:       gpu.launch_func @projection_small_batch_mma_gated
// DEC-GEMV:       } else {
// DEC-GEMV:       gpu.launch_func @projection_mma_gated
// DEC-GEMV-NOT:   linalg.generic
// DEC-GEMV:       return
// (The kernels follow the functions; gated_ffn's gemv comes first.)
// DEC-GEMV-LABEL: gpu.func @projection_gemv_gated_0(
// DEC-GEMV-SAME:    %{{.+}}: memref<?x64xbf16>, %[[KW:.+]]: memref<192x64xbf16>, %[[KOUT:.+]]: memref<?x96xbf16>, %{{.+}}: index, %[[KW2:.+]]: memref<192x64xbf16>)
// DEC-GEMV:         %[[ROW:.+]] = arith.addi %{{.+}}, %{{.+}} : index
// DEC-GEMV:         vector.load %[[KW]][%[[ROW]],
// DEC-GEMV:         %[[SECOND:.+]] = arith.addi %[[ROW]], %c96{{.*}} : index
// DEC-GEMV:         vector.load %[[KW2]][%[[SECOND]],
// DEC-GEMV:         llvm.intr.fma
// DEC-GEMV:         gpu.shuffle xor
// DEC-GEMV:         arith.mulf
// DEC-GEMV:         arith.truncf
// DEC-GEMV:         memref.store %{{.+}}, %[[KOUT]][%{{.+}}, %[[ROW]]] : memref<?x96xbf16>
func.func @split_halves(%x: memref<?x?x64xbf16>, %w: memref<192x64xbf16>) -> memref<?x?x96xbf16> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %b = memref.dim %x, %c0 : memref<?x?x64xbf16>
  %s = memref.dim %x, %c1 : memref<?x?x64xbf16>
  %y = memref.alloc(%b, %s) : memref<?x?x192xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<?x?x192xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x?x64xbf16>, memref<192x64xbf16>) outs(%y : memref<?x?x192xf32>)
  %g = memref.subview %y[0, 0, 0] [%b, %s, 96] [1, 1, 1] : memref<?x?x192xf32> to memref<?x?x96xf32, strided<[?, 192, 1]>>
  %u = memref.subview %y[0, 0, 96] [%b, %s, 96] [1, 1, 1] : memref<?x?x192xf32> to memref<?x?x96xf32, strided<[?, 192, 1], offset: 96>>
  %out = memref.alloc(%b, %s) : memref<?x?x96xbf16>
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%g, %u : memref<?x?x96xf32, strided<[?, 192, 1]>>, memref<?x?x96xf32, strided<[?, 192, 1], offset: 96>>) outs(%out : memref<?x?x96xbf16>) {
  ^bb0(%in: f32, %in2: f32, %o: bf16):
    %p = arith.mulf %in, %in2 : f32
    %t = arith.truncf %p : f32 to bf16
    linalg.yield %t : bf16
  }
  memref.dealloc %y : memref<?x?x192xf32>
  return %out : memref<?x?x96xbf16>
}

// The buffer was used before the projection (bufferization reuses it across
// blocks): uses before it cannot see what it writes, so the kernel still
// takes both halves. A view of it made earlier keeps them apart (its zero
// fill stays: the projection adds to the buffer). In a loop around the
// projection, with the buffer allocated outside, an earlier use reads the
// previous iteration's result: two kernels as well.
// CHECK-LABEL: func @split_reused_buffer
// CHECK:       linalg.copy
// CHECK:       projection_mma_gated
// CHECK-LABEL: func @split_view_read_later
// CHECK-NOT:   gpu.launch_func @projection_mma_gated
// CHECK:       linalg.generic
// CHECK-NOT:   gpu.launch_func @projection_mma_gated
// CHECK:       return
func.func @split_reused_buffer(%x: memref<?x?x64xbf16>, %w: memref<192x64xbf16>, %earlier: memref<?x?x192xf32>) -> memref<?x?x96xbf16> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %b = memref.dim %x, %c0 : memref<?x?x64xbf16>
  %s = memref.dim %x, %c1 : memref<?x?x64xbf16>
  %y = memref.alloc(%b, %s) : memref<?x?x192xf32>
  linalg.copy ins(%earlier : memref<?x?x192xf32>) outs(%y : memref<?x?x192xf32>)
  linalg.copy ins(%y : memref<?x?x192xf32>) outs(%earlier : memref<?x?x192xf32>)
  linalg.fill ins(%zero : f32) outs(%y : memref<?x?x192xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x?x64xbf16>, memref<192x64xbf16>) outs(%y : memref<?x?x192xf32>)
  %g = memref.subview %y[0, 0, 0] [%b, %s, 96] [1, 1, 1] : memref<?x?x192xf32> to memref<?x?x96xf32, strided<[?, 192, 1]>>
  %u = memref.subview %y[0, 0, 96] [%b, %s, 96] [1, 1, 1] : memref<?x?x192xf32> to memref<?x?x96xf32, strided<[?, 192, 1], offset: 96>>
  %out = memref.alloc(%b, %s) : memref<?x?x96xbf16>
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%g, %u : memref<?x?x96xf32, strided<[?, 192, 1]>>, memref<?x?x96xf32, strided<[?, 192, 1], offset: 96>>) outs(%out : memref<?x?x96xbf16>) {
  ^bb0(%in: f32, %in2: f32, %o: bf16):
    %p = arith.mulf %in, %in2 : f32
    %t = arith.truncf %p : f32 to bf16
    linalg.yield %t : bf16
  }
  return %out : memref<?x?x96xbf16>
}

func.func @split_view_read_later(%x: memref<?x?x64xbf16>, %w: memref<192x64xbf16>, %keep: memref<?x?x192xf32>) -> memref<?x?x96xbf16> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %b = memref.dim %x, %c0 : memref<?x?x64xbf16>
  %s = memref.dim %x, %c1 : memref<?x?x64xbf16>
  %y = memref.alloc(%b, %s) : memref<?x?x192xf32>
  %early = memref.subview %y[0, 0, 0] [%b, %s, 192] [1, 1, 1] : memref<?x?x192xf32> to memref<?x?x192xf32, strided<[?, 192, 1]>>
  linalg.fill ins(%zero : f32) outs(%y : memref<?x?x192xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x?x64xbf16>, memref<192x64xbf16>) outs(%y : memref<?x?x192xf32>)
  %g = memref.subview %y[0, 0, 0] [%b, %s, 96] [1, 1, 1] : memref<?x?x192xf32> to memref<?x?x96xf32, strided<[?, 192, 1]>>
  %u = memref.subview %y[0, 0, 96] [%b, %s, 96] [1, 1, 1] : memref<?x?x192xf32> to memref<?x?x96xf32, strided<[?, 192, 1], offset: 96>>
  %out = memref.alloc(%b, %s) : memref<?x?x96xbf16>
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%g, %u : memref<?x?x96xf32, strided<[?, 192, 1]>>, memref<?x?x96xf32, strided<[?, 192, 1], offset: 96>>) outs(%out : memref<?x?x96xbf16>) {
  ^bb0(%in: f32, %in2: f32, %o: bf16):
    %p = arith.mulf %in, %in2 : f32
    %t = arith.truncf %p : f32 to bf16
    linalg.yield %t : bf16
  }
  memref.copy %early, %keep : memref<?x?x192xf32, strided<[?, 192, 1]>> to memref<?x?x192xf32>
  return %out : memref<?x?x96xbf16>
}

// CHECK-LABEL: func @split_in_loop
// CHECK:       scf.for
// CHECK-NOT:   gpu.launch_func @projection_mma_gated
// CHECK:       linalg.generic
// CHECK-NOT:   gpu.launch_func @projection_mma_gated
// CHECK:       return
func.func @split_in_loop(%x: memref<?x?x64xbf16>, %w: memref<192x64xbf16>, %prev: memref<?x?x192xf32>, %out: memref<?x?x96xbf16>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %b = memref.dim %x, %c0 : memref<?x?x64xbf16>
  %s = memref.dim %x, %c1 : memref<?x?x64xbf16>
  %y = memref.alloc(%b, %s) : memref<?x?x192xf32>
  scf.for %i = %c0 to %n step %c1 {
    linalg.copy ins(%y : memref<?x?x192xf32>) outs(%prev : memref<?x?x192xf32>)
    linalg.fill ins(%zero : f32) outs(%y : memref<?x?x192xf32>)
    linalg.contract indexing_maps = [#x, #w, #y]
        ins(%x, %w : memref<?x?x64xbf16>, memref<192x64xbf16>) outs(%y : memref<?x?x192xf32>)
    %g = memref.subview %y[0, 0, 0] [%b, %s, 96] [1, 1, 1] : memref<?x?x192xf32> to memref<?x?x96xf32, strided<[?, 192, 1]>>
    %u = memref.subview %y[0, 0, 96] [%b, %s, 96] [1, 1, 1] : memref<?x?x192xf32> to memref<?x?x96xf32, strided<[?, 192, 1], offset: 96>>
    linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel", "parallel"]}
        ins(%g, %u : memref<?x?x96xf32, strided<[?, 192, 1]>>, memref<?x?x96xf32, strided<[?, 192, 1], offset: 96>>) outs(%out : memref<?x?x96xbf16>) {
    ^bb0(%in: f32, %in2: f32, %o: bf16):
      %p = arith.mulf %in, %in2 : f32
      %t = arith.truncf %p : f32 to bf16
      linalg.yield %t : bf16
    }
  }
  return
}

// A constant of the gating op defined after the projection (its copy for
// the decoding branch would precede it): two kernels as before.
// CHECK-LABEL: func @split_constant_after
// CHECK-NOT:   gpu.launch_func @projection_mma_gated
// CHECK:       linalg.generic
// CHECK:       return
func.func @split_constant_after(%x: memref<?x?x64xbf16>, %w: memref<192x64xbf16>) -> memref<?x?x96xbf16> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %b = memref.dim %x, %c0 : memref<?x?x64xbf16>
  %s = memref.dim %x, %c1 : memref<?x?x64xbf16>
  %y = memref.alloc(%b, %s) : memref<?x?x192xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<?x?x192xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x?x64xbf16>, memref<192x64xbf16>) outs(%y : memref<?x?x192xf32>)
  %half = arith.constant 0.5 : f32
  %g = memref.subview %y[0, 0, 0] [%b, %s, 96] [1, 1, 1] : memref<?x?x192xf32> to memref<?x?x96xf32, strided<[?, 192, 1]>>
  %u = memref.subview %y[0, 0, 96] [%b, %s, 96] [1, 1, 1] : memref<?x?x192xf32> to memref<?x?x96xf32, strided<[?, 192, 1], offset: 96>>
  %out = memref.alloc(%b, %s) : memref<?x?x96xbf16>
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%g, %u : memref<?x?x96xf32, strided<[?, 192, 1]>>, memref<?x?x96xf32, strided<[?, 192, 1], offset: 96>>) outs(%out : memref<?x?x96xbf16>) {
  ^bb0(%in: f32, %in2: f32, %o: bf16):
    %p = arith.mulf %in, %in2 : f32
    %q = arith.mulf %p, %half : f32
    %t = arith.truncf %q : f32 to bf16
    linalg.yield %t : bf16
  }
  return %out : memref<?x?x96xbf16>
}
