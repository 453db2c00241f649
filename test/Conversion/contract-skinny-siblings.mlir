// Skinny sibling projections: contractions of one x that each take the
// skinny kernel (a few output columns: the mLSTM's input and forget gate
// parts of gate-parts) and whose W rows fit its token columns together take
// one launch of it past gemv-max-rows rows, W's rows stacked as its few-row
// operand: x is read once for both gates. Each lane picks the member W its
// row lies in once (a select of the buffers cast to one type); each output
// keeps its own write or accumulate.
// The default stacks up to 32 rows (ROWS32); CHECK is the 16-row limit.
// RUN: xlstm-opt %s --xlstm-contract-to-mma="skinny-siblings-rows=16" --cse | FileCheck %s
// RUN: xlstm-opt %s --xlstm-contract-to-mma="skinny-siblings=false" --cse | FileCheck %s --check-prefix=OFF
// RUN: xlstm-opt %s --xlstm-contract-to-mma --cse | FileCheck %s --check-prefix=ROWS32
// RUN: not xlstm-opt %s --xlstm-contract-to-mma="skinny-siblings-rows=40" 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: skinny-siblings-rows 16 to 32

#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>

// CHECK-LABEL: func @gate_parts(
// CHECK-SAME:      %[[Q:[^:]+]]: memref<?x2048xbf16>, %[[K:[^:]+]]: memref<?x2048xbf16>
// CHECK:         %[[IG:.+]] = memref.alloc(%{{.+}}) : memref<?x4xf32>
// CHECK:         %[[WIQ:.+]] = memref.subview %{{.+}}[0, 0] [4, 2048]
// CHECK:         %[[WFQ:.+]] = memref.subview %{{.+}}[0, 0] [4, 2048]
// CHECK:         %[[FG:.+]] = memref.alloc(%{{.+}}) : memref<?x4xf32>
// CHECK:         scf.if
// CHECK:           gpu.launch_func @projection_small_batch_mma_siblings::
// CHECK:         } else {
// 16 rows of x a block; the launch writes both outputs:
// CHECK:           gpu.launch_func @projection_skinny_mma_stacked::@projection_skinny_mma_stacked blocks in (%{{.+}}, %c1, %c1) threads in (%c512, %c1, %c1) args(%[[Q]] : memref<?x2048xbf16>, %[[WIQ]] : memref<4x2048xbf16, strided<[4096, 1]>>, %[[IG]] : memref<?x4xf32>, %[[WFQ]] : memref<4x2048xbf16, strided<[4096, 1]>>, %[[FG]] : memref<?x4xf32>, %{{.+}} : index)
// CHECK-SAME:        kernel = "skinny mma 16 warps unroll 4, one launch for 2 projections of one x"{{.*}}param = "igate"{{.*}}when = "M > 16"{{.*}}param = "fgate"
// CHECK-NOT:       gpu.launch_func
// CHECK:         }
// The k parts add to both outputs, in one launch too.
// CHECK:         scf.if
// CHECK:         } else {
// CHECK:           gpu.launch_func @projection_skinny_mma_stacked_1::@projection_skinny_mma_stacked_1 {{.*}} args(%[[K]] : memref<?x2048xbf16>, %{{.+}}, %[[IG]] : memref<?x4xf32>, %{{.+}}, %[[FG]] : memref<?x4xf32>, %{{.+}} : index)
// CHECK-SAME:        kernel = "skinny mma 16 warps unroll 4, one launch for 2 projections of one x, adding to its output"
// CHECK:         }
// CHECK:         return
// OFF-LABEL: func @gate_parts(
// OFF-NOT:     _stacked
// OFF:         gpu.launch_func @projection_skinny_mma::
// OFF:         gpu.launch_func @projection_skinny_mma::
// OFF:         return

// Float32 (skinny-float32): the matrix-vector kernel, a warp per row of x,
// stacks the rows the same way; which W a row comes from is known when the
// kernel is built.
// CHECK-LABEL: func @gate_parts_f32(
// CHECK:         gpu.launch_func @projection_skinny_gemv_stacked::@projection_skinny_gemv_stacked blocks in (%{{.+}}, %c1, %c1) threads in (%c128, %c1, %c1)
// CHECK-SAME:        kernel = "skinny gemv 4 warps unroll 2, a warp per row of x, one launch for 2 projections of one x"
// CHECK:         return

// With skinny-siblings-rows=16 the tensor-core kernel stacks up to 2 token
// tiles; by default (32) up to 4 (the gates of 16 heads).
// 3 x 12 rows are more than either: each its own launch.
// CHECK-LABEL: func @sixteen_heads(
// CHECK-NOT:     _stacked
// CHECK:         return
// ROWS32-LABEL: func @sixteen_heads(
// ROWS32:        gpu.launch_func @projection_skinny_mma_stacked{{.*}} args(%{{.+}} : memref<?x2048xbf16>, %{{.+}} : memref<16x2048xbf16>, %{{.+}} : memref<?x16xf32>, %{{.+}} : memref<16x2048xbf16>, %{{.+}} : memref<?x16xf32>, %{{.+}} : index)
// ROWS32-LABEL: func @too_wide(
// ROWS32-NOT:    _stacked
// ROWS32:        return
// CHECK-LABEL: func @too_wide(
// CHECK-NOT:     _stacked
// CHECK:         gpu.launch_func @projection_skinny_mma
// CHECK:         gpu.launch_func @projection_skinny_mma
// CHECK:         gpu.launch_func @projection_skinny_mma
// CHECK:         return

// The kernel: lanes with row g < 4 read the input gate's W (row g), the
// others the forget gate's (row g - 4), chosen before the K loop.
// CHECK:       gpu.func @projection_skinny_mma_stacked(%{{.+}}: memref<?x2048xbf16>, %[[WI:[^:]+]]: memref<4x2048xbf16, strided<[4096, 1]>>, %[[OI:[^:]+]]: memref<?x4xf32>, %[[WF:[^:]+]]: memref<4x2048xbf16, strided<[4096, 1]>>, %[[OF:[^:]+]]: memref<?x4xf32>, %{{.+}}: index)
// CHECK-DAG:     %[[CF:.+]] = memref.cast %[[WF]] : memref<4x2048xbf16, strided<[4096, 1]>> to memref<?x?xbf16, strided<[?, 1], offset: ?>>
// CHECK-DAG:     %[[CI:.+]] = memref.cast %[[WI]] : memref<4x2048xbf16, strided<[4096, 1]>> to memref<?x?xbf16, strided<[?, 1], offset: ?>>
// CHECK:         %[[IN:.+]] = arith.cmpi ult, %{{.+}}, %c4 : index
// CHECK:         %[[W:.+]] = arith.select %[[IN]], %[[CI]], %[[CF]] : memref<?x?xbf16, strided<[?, 1], offset: ?>>
// CHECK:         scf.for
// CHECK:           vector.load %[[W]][
// CHECK:         memref.store %{{.+}}, %[[OI]][%{{.+}}, %{{.+}}] : memref<?x4xf32>
// CHECK:         %[[COL:.+]] = arith.subi %{{.+}}, %c4 : index
// CHECK:         memref.store %{{.+}}, %[[OF]][%{{.+}}, %[[COL]]] : memref<?x4xf32>
// The float32 kernel: rows 0-3 from the input gate's W, 4-7 from the forget
// gate's; lane r < 4 stores column r of the first output, lanes 4-7 column
// r - 4 of the second.
// CHECK:       gpu.func @projection_skinny_gemv_stacked(%{{.+}}: memref<?x2048xf32>, %[[WI32:[^:]+]]: memref<4x2048xf32, strided<[4096, 1]>>, %[[OI32:[^:]+]]: memref<?x4xf32>, %[[WF32:[^:]+]]: memref<4x2048xf32, strided<[4096, 1]>>, %[[OF32:[^:]+]]: memref<?x4xf32>, %{{.+}}: index)
// CHECK:         vector.load %[[WI32]][%c3,
// CHECK-NEXT:    vector.extract
// CHECK:         vector.load %[[WF32]][%c0,
// CHECK:         memref.store %{{.+}}, %[[OI32]][
// CHECK:         %[[COL32:.+]] = arith.subi %{{.+}}, %c4 : index
// CHECK:         memref.store %{{.+}}, %[[OF32]][%{{.+}}, %[[COL32]]]

func.func @gate_parts(%q: memref<?x2048xbf16>, %k: memref<?x2048xbf16>,
                      %wi: memref<4x4096xbf16> {xlstm.param = "igate"},
                      %wf: memref<4x4096xbf16> {xlstm.param = "fgate"})
    -> (memref<?x4xf32>, memref<?x4xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = memref.dim %q, %c0 : memref<?x2048xbf16>
  %ig = memref.alloc(%m) : memref<?x4xf32>
  linalg.fill ins(%zero : f32) outs(%ig : memref<?x4xf32>)
  %wiq = memref.subview %wi[0, 0] [4, 2048] [1, 1] : memref<4x4096xbf16> to memref<4x2048xbf16, strided<[4096, 1]>>
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%q, %wiq : memref<?x2048xbf16>, memref<4x2048xbf16, strided<[4096, 1]>>)
      outs(%ig : memref<?x4xf32>)
  %wik = memref.subview %wi[0, 2048] [4, 2048] [1, 1] : memref<4x4096xbf16> to memref<4x2048xbf16, strided<[4096, 1], offset: 2048>>
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%k, %wik : memref<?x2048xbf16>, memref<4x2048xbf16, strided<[4096, 1], offset: 2048>>)
      outs(%ig : memref<?x4xf32>)
  %fg = memref.alloc(%m) : memref<?x4xf32>
  linalg.fill ins(%zero : f32) outs(%fg : memref<?x4xf32>)
  %wfq = memref.subview %wf[0, 0] [4, 2048] [1, 1] : memref<4x4096xbf16> to memref<4x2048xbf16, strided<[4096, 1]>>
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%q, %wfq : memref<?x2048xbf16>, memref<4x2048xbf16, strided<[4096, 1]>>)
      outs(%fg : memref<?x4xf32>)
  %wfk = memref.subview %wf[0, 2048] [4, 2048] [1, 1] : memref<4x4096xbf16> to memref<4x2048xbf16, strided<[4096, 1], offset: 2048>>
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%k, %wfk : memref<?x2048xbf16>, memref<4x2048xbf16, strided<[4096, 1], offset: 2048>>)
      outs(%fg : memref<?x4xf32>)
  // q read later through a transposed view (as the chunkwise kernels do):
  // a view of q, not an alias the pass cannot follow.
  %qt = memref.transpose %q (d0, d1) -> (d1, d0) : memref<?x2048xbf16> to memref<2048x?xbf16, strided<[1, 2048]>>
  %first = memref.load %qt[%c0, %c0] : memref<2048x?xbf16, strided<[1, 2048]>>
  return %ig, %fg : memref<?x4xf32>, memref<?x4xf32>
}

func.func @gate_parts_f32(%q: memref<?x2048xf32>,
                          %wi: memref<4x4096xf32> {xlstm.param = "igate"},
                          %wf: memref<4x4096xf32> {xlstm.param = "fgate"})
    -> (memref<?x4xf32>, memref<?x4xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = memref.dim %q, %c0 : memref<?x2048xf32>
  %ig = memref.alloc(%m) : memref<?x4xf32>
  linalg.fill ins(%zero : f32) outs(%ig : memref<?x4xf32>)
  %wiq = memref.subview %wi[0, 0] [4, 2048] [1, 1] : memref<4x4096xf32> to memref<4x2048xf32, strided<[4096, 1]>>
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%q, %wiq : memref<?x2048xf32>, memref<4x2048xf32, strided<[4096, 1]>>)
      outs(%ig : memref<?x4xf32>)
  %fg = memref.alloc(%m) : memref<?x4xf32>
  linalg.fill ins(%zero : f32) outs(%fg : memref<?x4xf32>)
  %wfq = memref.subview %wf[0, 0] [4, 2048] [1, 1] : memref<4x4096xf32> to memref<4x2048xf32, strided<[4096, 1]>>
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%q, %wfq : memref<?x2048xf32>, memref<4x2048xf32, strided<[4096, 1]>>)
      outs(%fg : memref<?x4xf32>)
  return %ig, %fg : memref<?x4xf32>, memref<?x4xf32>
}

func.func @sixteen_heads(%x: memref<?x2048xbf16>,
                         %wa: memref<16x2048xbf16> {xlstm.param = "a16"},
                         %wb: memref<16x2048xbf16> {xlstm.param = "b16"})
    -> (memref<?x16xf32>, memref<?x16xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = memref.dim %x, %c0 : memref<?x2048xbf16>
  %a = memref.alloc(%m) : memref<?x16xf32>
  linalg.fill ins(%zero : f32) outs(%a : memref<?x16xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %wa : memref<?x2048xbf16>, memref<16x2048xbf16>)
      outs(%a : memref<?x16xf32>)
  %b = memref.alloc(%m) : memref<?x16xf32>
  linalg.fill ins(%zero : f32) outs(%b : memref<?x16xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %wb : memref<?x2048xbf16>, memref<16x2048xbf16>)
      outs(%b : memref<?x16xf32>)
  return %a, %b : memref<?x16xf32>, memref<?x16xf32>
}

func.func @too_wide(%x: memref<?x2048xbf16>,
                    %wa: memref<12x2048xbf16> {xlstm.param = "a"},
                    %wb: memref<12x2048xbf16> {xlstm.param = "b"},
                    %wc: memref<12x2048xbf16> {xlstm.param = "c"})
    -> (memref<?x12xf32>, memref<?x12xf32>, memref<?x12xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = memref.dim %x, %c0 : memref<?x2048xbf16>
  %a = memref.alloc(%m) : memref<?x12xf32>
  linalg.fill ins(%zero : f32) outs(%a : memref<?x12xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %wa : memref<?x2048xbf16>, memref<12x2048xbf16>)
      outs(%a : memref<?x12xf32>)
  %b = memref.alloc(%m) : memref<?x12xf32>
  linalg.fill ins(%zero : f32) outs(%b : memref<?x12xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %wb : memref<?x2048xbf16>, memref<12x2048xbf16>)
      outs(%b : memref<?x12xf32>)
  %c = memref.alloc(%m) : memref<?x12xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<?x12xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %wc : memref<?x2048xbf16>, memref<12x2048xbf16>)
      outs(%c : memref<?x12xf32>)
  return %a, %b, %c : memref<?x12xf32>, memref<?x12xf32>, memref<?x12xf32>
}
