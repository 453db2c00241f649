// A projection's float32 result that one later elementwise op alone reads,
// with parameter vectors along its columns as the op's other inputs (the
// mLSTM gates' bias and soft cap), is stored as that op's result by the
// kernels (fuse-epilogues), where every kernel the projection may take can:
// the decoding ones (matrix-vector, small-batch) and the skinny one. The op
// and the float32 buffer go; the vectors become kernel arguments.
// RUN: xlstm-opt %s --xlstm-contract-to-mma=fuse-epilogues=1 | FileCheck %s
// RUN: xlstm-opt %s --xlstm-contract-to-mma="fuse-epilogues=1 gemv-min-n=0" | FileCheck %s --check-prefix=SIB
// RUN: xlstm-opt %s --xlstm-contract-to-mma=fuse-epilogues=0 | FileCheck %s --check-prefix=OFF
// RUN: xlstm-opt %s --xlstm-contract-to-mma=fuse-epilogues=1 --xlstm-lowering-report -o /dev/null | FileCheck %s --check-prefix=REPORT

// CHECK-LABEL: func @gate_soft_cap
// CHECK-SAME:    (%{{.+}}: memref<?x?x64xbf16>, %[[W:.+]]: memref<8x64xbf16>, %[[BIAS:.+]]: memref<8xbf16>)
// CHECK-NOT:   linalg.generic
// CHECK:       %[[OUT:.+]] = memref.alloc({{.*}}) : memref<?x?x8xf32>
// CHECK-NOT:   memref.alloc
// CHECK:       %[[OUT2:.+]] = memref.collapse_shape %[[OUT]]
// CHECK:       scf.if
// CHECK:         gpu.launch_func @projection_small_batch_mma::@projection_small_batch_mma {{.*}} args({{.*}}, %[[W]] : memref<8x64xbf16>, %[[OUT2]] : memref<?x8xf32>, %{{.+}} : index, %[[BIAS]] : memref<8xbf16>)
// CHECK:       } else {
// CHECK:         gpu.launch_func @projection_skinny_mma::@projection_skinny_mma {{.*}} args({{.*}}, %[[W]] : memref<8x64xbf16>, %[[OUT2]] : memref<?x8xf32>, %{{.+}} : index, %[[BIAS]] : memref<8xbf16>)
// CHECK:       }
// CHECK-NOT:   linalg.generic
// CHECK-NOT:   memref.dealloc
// CHECK:       return %[[OUT]]
// The skinny kernel (x streamed as A, out[m][n] stored the other way
// round): the bias of the stored value's column, then the body.
// CHECK-LABEL: gpu.func @projection_skinny_mma(
// CHECK-SAME:    %[[KOUT:[^:]+]]: memref<?x8xf32>, %{{.+}}: index, %[[KBIAS:[^:]+]]: memref<8xbf16>)
// CHECK:         %[[B:.+]] = memref.load %[[KBIAS]][%[[COL:.+]]] : memref<8xbf16>
// CHECK:         arith.extf %[[B]] : bf16 to f32
// CHECK:         math.tanh
// CHECK:         memref.store %{{.+}}, %[[KOUT]][%{{.+}}, %[[COL]]] : memref<?x8xf32>
// OFF-LABEL:   func @gate_soft_cap
// OFF:         linalg.generic
// OFF:           math.tanh
// REPORT:      gate_soft_cap {{.*}}?x8x64{{.*}}small-batch mma {{.*}}, storing the elementwise op after it [M <= 16] | skinny mma {{.*}}, storing the elementwise op after it [M > 16]

// SIB-LABEL:   func @siblings
// SIB-SAME:      (%{{.+}}: memref<?x?x64xbf16>, %[[WV:.+]]: memref<64x64xbf16>, %[[W:.+]]: memref<8x64xbf16>, %[[BIAS:.+]]: memref<8xbf16>)
// SIB-NOT:     linalg.generic
// SIB:         gpu.launch_func @projection_gemv_siblings::@projection_gemv_siblings {{.*}} args({{.*}}, %[[WV]] : memref<64x64xbf16>, %{{.+}} : memref<?x64xf32>, %[[W]] : memref<8x64xbf16>, %{{.+}} : memref<?x8xf32>, %[[BIAS]] : memref<8xbf16>)
// SIB:         gpu.launch_func @projection_small_batch_mma_siblings::@projection_small_batch_mma_siblings {{.*}} %[[BIAS]] : memref<8xbf16>)
// SIB:         gpu.launch_func @projection_mma_staged::
// SIB:         gpu.launch_func @projection_skinny_mma{{.*}} %[[BIAS]] : memref<8xbf16>)
// SIB-NOT:     linalg.generic
// SIB:         return
// Not fused: a vector computed here or an argument written here (either
// could change in between), a result read twice, an output too wide for
// the skinny kernel (the pipelined kernel has no epilogue).
// SIB-LABEL:   func @computed_vector
// SIB:         linalg.generic
// SIB-LABEL:   func @written_vector
// SIB:         linalg.generic
// SIB-LABEL:   func @written_through_view
// SIB:         linalg.generic
// SIB-LABEL:   func @sibling_writes_vector
// SIB:         linalg.generic
// SIB-LABEL:   func @read_twice
// SIB:         linalg.generic
// SIB-LABEL:   func @too_wide
// SIB:         linalg.generic
// A gate by parts (gate-parts): the bias goes into the first part's sum in
// place, then the next part adds to it. The first part's kernels store with
// the bias added; later users of the buffer read that.
// SIB-LABEL:   func @in_place_then_accumulate
// SIB-SAME:      %[[W0:[^:]+]]: memref<8x64xbf16>, %[[W1:[^:]+]]: memref<8x64xbf16>, %[[BIAS:[^:]+]]: memref<8xbf16>)
// SIB-NOT:     linalg.generic
// SIB:         gpu.launch_func @projection_skinny_mma{{.*}}, %[[W0]] : memref<8x64xbf16>, {{.*}} %[[BIAS]] : memref<8xbf16>) {{.*}}storing the elementwise op after it
// SIB:         gpu.launch_func @projection_skinny_mma{{.*}}, %[[W1]] : memref<8x64xbf16>, {{.*}}adding to its output
// SIB-NOT:     linalg.generic
// SIB:         return
// Not where something reads the sum before the in-place op.
// SIB-LABEL:   func @read_before_in_place
// SIB:         linalg.generic
// The sibling kernel: the gate's range of blocks adds the bias (its first
// input) before the cap; the other projection stores its sums.
// SIB-LABEL:   gpu.func @projection_gemv_siblings(
// SIB-SAME:      %[[KV:[^:]+]]: memref<?x64xf32>, %{{.+}}: memref<8x64xbf16>, %[[KOUT:[^:]+]]: memref<?x8xf32>, %[[KBIAS:[^:]+]]: memref<8xbf16>)
// SIB:           memref.store %{{.+}}, %[[KV]]
// SIB:         } else {
// SIB:           memref.load %[[KBIAS]]
// SIB:           math.tanh
// SIB:           memref.store %{{.+}}, %[[KOUT]]

#x = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#w = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
#y = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#col = affine_map<(d0, d1, d2) -> (d2)>

func.func @gate_soft_cap(%x: memref<?x?x64xbf16>, %w: memref<8x64xbf16>, %bias: memref<8xbf16>) -> memref<?x?x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %cap = arith.constant 15.0 : f32
  %b = memref.dim %x, %c0 : memref<?x?x64xbf16>
  %s = memref.dim %x, %c1 : memref<?x?x64xbf16>
  %pre = memref.alloc(%b, %s) : memref<?x?x8xf32>
  linalg.fill ins(%zero : f32) outs(%pre : memref<?x?x8xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x?x64xbf16>, memref<8x64xbf16>) outs(%pre : memref<?x?x8xf32>)
  %out = memref.alloc(%b, %s) : memref<?x?x8xf32>
  linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%pre, %bias : memref<?x?x8xf32>, memref<8xbf16>) outs(%out : memref<?x?x8xf32>) {
  ^bb0(%in: f32, %bi: bf16, %o: f32):
    %e = arith.extf %bi : bf16 to f32
    %a = arith.addf %in, %e : f32
    %d = arith.divf %a, %cap : f32
    %t = math.tanh %d : f32
    %m = arith.mulf %t, %cap : f32
    linalg.yield %m : f32
  }
  memref.dealloc %pre : memref<?x?x8xf32>
  return %out : memref<?x?x8xf32>
}

// Siblings (decoding): the gate's epilogue in the launch of both.
func.func @siblings(%x: memref<?x?x64xbf16>, %wv: memref<64x64xbf16>, %w: memref<8x64xbf16>, %bias: memref<8xbf16>) -> (memref<?x?x64xf32>, memref<?x?x8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %cap = arith.constant 15.0 : f32
  %b = memref.dim %x, %c0 : memref<?x?x64xbf16>
  %s = memref.dim %x, %c1 : memref<?x?x64xbf16>
  %v = memref.alloc(%b, %s) : memref<?x?x64xf32>
  linalg.fill ins(%zero : f32) outs(%v : memref<?x?x64xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %wv : memref<?x?x64xbf16>, memref<64x64xbf16>) outs(%v : memref<?x?x64xf32>)
  %pre = memref.alloc(%b, %s) : memref<?x?x8xf32>
  linalg.fill ins(%zero : f32) outs(%pre : memref<?x?x8xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x?x64xbf16>, memref<8x64xbf16>) outs(%pre : memref<?x?x8xf32>)
  %out = memref.alloc(%b, %s) : memref<?x?x8xf32>
  linalg.generic {indexing_maps = [#col, #id, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%bias, %pre : memref<8xbf16>, memref<?x?x8xf32>) outs(%out : memref<?x?x8xf32>) {
  ^bb0(%bi: bf16, %in: f32, %o: f32):
    %e = arith.extf %bi : bf16 to f32
    %a = arith.addf %in, %e : f32
    %d = arith.divf %a, %cap : f32
    %t = math.tanh %d : f32
    %m = arith.mulf %t, %cap : f32
    linalg.yield %m : f32
  }
  memref.dealloc %pre : memref<?x?x8xf32>
  return %v, %out : memref<?x?x64xf32>, memref<?x?x8xf32>
}

// Not fused: a vector that is not a parameter (computed here, so it could
// be written in between), the result read by a second op, and a projection
// too wide for the skinny kernel (the pipelined one has no epilogue).
func.func @computed_vector(%x: memref<?x?x64xbf16>, %w: memref<8x64xbf16>, %bias: memref<8xf32>) -> memref<?x?x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %b = memref.dim %x, %c0 : memref<?x?x64xbf16>
  %s = memref.dim %x, %c1 : memref<?x?x64xbf16>
  %vec = memref.alloc() : memref<8xf32>
  memref.copy %bias, %vec : memref<8xf32> to memref<8xf32>
  %pre = memref.alloc(%b, %s) : memref<?x?x8xf32>
  linalg.fill ins(%zero : f32) outs(%pre : memref<?x?x8xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x?x64xbf16>, memref<8x64xbf16>) outs(%pre : memref<?x?x8xf32>)
  %out = memref.alloc(%b, %s) : memref<?x?x8xf32>
  linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%pre, %vec : memref<?x?x8xf32>, memref<8xf32>) outs(%out : memref<?x?x8xf32>) {
  ^bb0(%in: f32, %bi: f32, %o: f32):
    %a = arith.addf %in, %bi : f32
    linalg.yield %a : f32
  }
  return %out : memref<?x?x8xf32>
}

func.func @written_vector(%x: memref<?x?x64xbf16>, %w: memref<8x64xbf16>, %bias: memref<8xf32>, %new: memref<8xf32>) -> memref<?x?x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %b = memref.dim %x, %c0 : memref<?x?x64xbf16>
  %s = memref.dim %x, %c1 : memref<?x?x64xbf16>
  %pre = memref.alloc(%b, %s) : memref<?x?x8xf32>
  linalg.fill ins(%zero : f32) outs(%pre : memref<?x?x8xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x?x64xbf16>, memref<8x64xbf16>) outs(%pre : memref<?x?x8xf32>)
  memref.copy %new, %bias : memref<8xf32> to memref<8xf32>
  %out = memref.alloc(%b, %s) : memref<?x?x8xf32>
  linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%pre, %bias : memref<?x?x8xf32>, memref<8xf32>) outs(%out : memref<?x?x8xf32>) {
  ^bb0(%in: f32, %bi: f32, %o: f32):
    %a = arith.addf %in, %bi : f32
    linalg.yield %a : f32
  }
  return %out : memref<?x?x8xf32>
}

func.func @written_through_view(%x: memref<?x?x64xbf16>, %w: memref<8x64xbf16>, %bias: memref<8xf32>, %new: memref<8xf32>) -> memref<?x?x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %b = memref.dim %x, %c0 : memref<?x?x64xbf16>
  %s = memref.dim %x, %c1 : memref<?x?x64xbf16>
  %pre = memref.alloc(%b, %s) : memref<?x?x8xf32>
  linalg.fill ins(%zero : f32) outs(%pre : memref<?x?x8xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x?x64xbf16>, memref<8x64xbf16>) outs(%pre : memref<?x?x8xf32>)
  %view = memref.subview %bias[0] [8] [1] : memref<8xf32> to memref<8xf32, strided<[1]>>
  memref.copy %new, %view : memref<8xf32> to memref<8xf32, strided<[1]>>
  %out = memref.alloc(%b, %s) : memref<?x?x8xf32>
  linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%pre, %bias : memref<?x?x8xf32>, memref<8xf32>) outs(%out : memref<?x?x8xf32>) {
  ^bb0(%in: f32, %bi: f32, %o: f32):
    %a = arith.addf %in, %bi : f32
    linalg.yield %a : f32
  }
  return %out : memref<?x?x8xf32>
}

// The first projection writes the vector (through a view); the second,
// a sibling of the same x, would read it in the same launch.
func.func @sibling_writes_vector(%x: memref<1x1x64xbf16>, %w0: memref<8x64xbf16>, %w1: memref<8x64xbf16>, %bias: memref<8xf32>) -> memref<1x1x8xf32> {
  %zero = arith.constant 0.0 : f32
  %first = memref.expand_shape %bias [[0, 1, 2]] output_shape [1, 1, 8] : memref<8xf32> into memref<1x1x8xf32>
  linalg.fill ins(%zero : f32) outs(%first : memref<1x1x8xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w0 : memref<1x1x64xbf16>, memref<8x64xbf16>) outs(%first : memref<1x1x8xf32>)
  %pre = memref.alloc() : memref<1x1x8xf32>
  linalg.fill ins(%zero : f32) outs(%pre : memref<1x1x8xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w1 : memref<1x1x64xbf16>, memref<8x64xbf16>) outs(%pre : memref<1x1x8xf32>)
  %out = memref.alloc() : memref<1x1x8xf32>
  linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%pre, %bias : memref<1x1x8xf32>, memref<8xf32>) outs(%out : memref<1x1x8xf32>) {
  ^bb0(%in: f32, %bi: f32, %o: f32):
    %a = arith.addf %in, %bi : f32
    linalg.yield %a : f32
  }
  memref.dealloc %pre : memref<1x1x8xf32>
  return %out : memref<1x1x8xf32>
}

func.func @read_twice(%x: memref<?x?x64xbf16>, %w: memref<8x64xbf16>, %bias: memref<8xf32>, %keep: memref<?x?x8xf32>) -> memref<?x?x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %b = memref.dim %x, %c0 : memref<?x?x64xbf16>
  %s = memref.dim %x, %c1 : memref<?x?x64xbf16>
  %pre = memref.alloc(%b, %s) : memref<?x?x8xf32>
  linalg.fill ins(%zero : f32) outs(%pre : memref<?x?x8xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x?x64xbf16>, memref<8x64xbf16>) outs(%pre : memref<?x?x8xf32>)
  %out = memref.alloc(%b, %s) : memref<?x?x8xf32>
  linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%pre, %bias : memref<?x?x8xf32>, memref<8xf32>) outs(%out : memref<?x?x8xf32>) {
  ^bb0(%in: f32, %bi: f32, %o: f32):
    %a = arith.addf %in, %bi : f32
    linalg.yield %a : f32
  }
  memref.copy %pre, %keep : memref<?x?x8xf32> to memref<?x?x8xf32>
  return %out : memref<?x?x8xf32>
}

func.func @too_wide(%x: memref<?x?x64xbf16>, %w: memref<64x64xbf16>, %bias: memref<64xf32>) -> memref<?x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %b = memref.dim %x, %c0 : memref<?x?x64xbf16>
  %s = memref.dim %x, %c1 : memref<?x?x64xbf16>
  %pre = memref.alloc(%b, %s) : memref<?x?x64xf32>
  linalg.fill ins(%zero : f32) outs(%pre : memref<?x?x64xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x?x64xbf16>, memref<64x64xbf16>) outs(%pre : memref<?x?x64xf32>)
  %out = memref.alloc(%b, %s) : memref<?x?x64xf32>
  linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%pre, %bias : memref<?x?x64xf32>, memref<64xf32>) outs(%out : memref<?x?x64xf32>) {
  ^bb0(%in: f32, %bi: f32, %o: f32):
    %a = arith.addf %in, %bi : f32
    linalg.yield %a : f32
  }
  return %out : memref<?x?x64xf32>
}

// A float32 model's gate (skinny-float32): above 16 rows the matrix-vector
// kernel with x and W swapped (a warp per row of x, W's 8 rows each lane's
// few rows), storing the epilogue's value; without the option the tf32 tile
// kernel and the elementwise kernel after it.
// F32-LABEL:   func @gate_soft_cap_f32
// F32-SAME:      (%{{.+}}: memref<?x?x64xf32>, %[[W:.+]]: memref<8x64xf32>, %[[BIAS:.+]]: memref<8xf32>)
// F32-NOT:     linalg.generic
// F32:         gpu.launch_func @projection_gemv
// F32:         } else {
// F32:         gpu.launch_func @projection_skinny_gemv::@projection_skinny_gemv {{.*}} args({{.*}}, %[[W]] : memref<8x64xf32>, %{{.+}} : memref<?x8xf32>, %{{.+}} : index, %[[BIAS]] : memref<8xf32>)
// F32-NOT:     linalg.generic
// F32:         return
// F32-LABEL:   gpu.func @projection_skinny_gemv(
// F32-SAME:      %[[KX:[^:]+]]: memref<?x64xf32>, %[[KW:[^:]+]]: memref<8x64xf32>, %[[KOUT:[^:]+]]: memref<?x8xf32>, %[[KM:[^:]+]]: index, %[[KBIAS:[^:]+]]: memref<8xf32>)
// F32:           %[[ROW:.+]] = arith.addi %{{.+}}, %{{.+}} : index
// F32:           arith.cmpi ult, %[[ROW]], %[[KM]] : index
// F32:           vector.load %[[KW]]
// F32:           vector.load %[[KX]][%[[ROW]],
// F32:           gpu.shuffle xor
// F32:           %[[B:.+]] = memref.load %[[KBIAS]][%[[LANE:.+]]] : memref<8xf32>
// F32:           math.tanh
// F32:           memref.store %{{.+}}, %[[KOUT]][%[[ROW]], %[[LANE]]] : memref<?x8xf32>
// F32-OFF-LABEL: func @gate_soft_cap_f32
// F32-OFF:       gpu.launch_func @projection_tf32_mma
// F32-OFF:       linalg.generic
// RUN: xlstm-opt %s --xlstm-contract-to-mma="fuse-epilogues=1 skinny-float32=1" | FileCheck %s --check-prefix=F32
// RUN: xlstm-opt %s --xlstm-contract-to-mma="fuse-epilogues=1 skinny-float32=0" | FileCheck %s --check-prefix=F32-OFF
func.func @gate_soft_cap_f32(%x: memref<?x?x64xf32>, %w: memref<8x64xf32>, %bias: memref<8xf32>) -> memref<?x?x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %cap = arith.constant 15.0 : f32
  %b = memref.dim %x, %c0 : memref<?x?x64xf32>
  %s = memref.dim %x, %c1 : memref<?x?x64xf32>
  %pre = memref.alloc(%b, %s) : memref<?x?x8xf32>
  linalg.fill ins(%zero : f32) outs(%pre : memref<?x?x8xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x?x64xf32>, memref<8x64xf32>) outs(%pre : memref<?x?x8xf32>)
  %out = memref.alloc(%b, %s) : memref<?x?x8xf32>
  linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%pre, %bias : memref<?x?x8xf32>, memref<8xf32>) outs(%out : memref<?x?x8xf32>) {
  ^bb0(%in: f32, %bi: f32, %o: f32):
    %a = arith.addf %in, %bi : f32
    %d = arith.divf %a, %cap : f32
    %t = math.tanh %d : f32
    %m = arith.mulf %t, %cap : f32
    linalg.yield %m : f32
  }
  memref.dealloc %pre : memref<?x?x8xf32>
  return %out : memref<?x?x8xf32>
}

func.func @in_place_then_accumulate(%x: memref<?x?x64xbf16>, %x1: memref<?x?x64xbf16>, %w0: memref<8x64xbf16>, %w1: memref<8x64xbf16>, %bias: memref<8xbf16>) -> memref<?x?x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %b = memref.dim %x, %c0 : memref<?x?x64xbf16>
  %s = memref.dim %x, %c1 : memref<?x?x64xbf16>
  %g = memref.alloc(%b, %s) : memref<?x?x8xf32>
  linalg.fill ins(%zero : f32) outs(%g : memref<?x?x8xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w0 : memref<?x?x64xbf16>, memref<8x64xbf16>) outs(%g : memref<?x?x8xf32>)
  linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%g, %bias : memref<?x?x8xf32>, memref<8xbf16>) outs(%g : memref<?x?x8xf32>) {
  ^bb0(%in: f32, %bi: bf16, %o: f32):
    %e = arith.extf %bi : bf16 to f32
    %a = arith.addf %in, %e : f32
    linalg.yield %a : f32
  }
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x1, %w1 : memref<?x?x64xbf16>, memref<8x64xbf16>) outs(%g : memref<?x?x8xf32>)
  return %g : memref<?x?x8xf32>
}

func.func @read_before_in_place(%x: memref<?x?x64xbf16>, %w0: memref<8x64xbf16>, %bias: memref<8xbf16>, %keep: memref<?x?x8xf32>) -> memref<?x?x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %b = memref.dim %x, %c0 : memref<?x?x64xbf16>
  %s = memref.dim %x, %c1 : memref<?x?x64xbf16>
  %g = memref.alloc(%b, %s) : memref<?x?x8xf32>
  linalg.fill ins(%zero : f32) outs(%g : memref<?x?x8xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w0 : memref<?x?x64xbf16>, memref<8x64xbf16>) outs(%g : memref<?x?x8xf32>)
  memref.copy %g, %keep : memref<?x?x8xf32> to memref<?x?x8xf32>
  linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%g, %bias : memref<?x?x8xf32>, memref<8xbf16>) outs(%g : memref<?x?x8xf32>) {
  ^bb0(%in: f32, %bi: bf16, %o: f32):
    %e = arith.extf %bi : bf16 to f32
    %a = arith.addf %in, %e : f32
    linalg.yield %a : f32
  }
  return %g : memref<?x?x8xf32>
}
