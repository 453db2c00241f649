// The mLSTM layers hand the cell q, k, v as transposes of (B, S, NH, D)
// tensors and transpose h back. With heads-last-operands (the default) the
// chunk kernels take those tensors' buffers and index them through a
// memref.transpose made inside each launch (host programs have no
// transposes); h is written through such a view of a (B, S, NH, DHV)
// buffer, the transpose back goes and h's sizes are asked of that buffer.
// RUN: xlstm-opt %s --xlstm-chunkwise-mlstm-to-mma | FileCheck %s
// RUN: xlstm-opt %s --xlstm-chunkwise-mlstm-to-mma --canonicalize | FileCheck %s --check-prefix=DEAD
// RUN: xlstm-opt %s --xlstm-chunkwise-mlstm-to-mma="heads-last-operands=0" | FileCheck %s --check-prefix=COPIES
// RUN: %if ptxas %{ xlstm-opt %s --xlstm-chunkwise-mlstm-to-mma --gpu-kernel-outlining | xlstm-opt --xlstm-gpu-to-ptx="format=bin chip=sm_80 toolkit=%cuda_toolkit" | FileCheck %s --check-prefix=BIN %}

// CHECK-LABEL: func @layers_layout
// CHECK-SAME:    (%[[Q:[^:]+]]: tensor<?x?x2x32xbf16>, %[[K:[^:]+]]: tensor<?x?x2x32xbf16>, %[[V:[^:]+]]: tensor<?x?x2x256xbf16>
// CHECK-DAG:   %[[KB:.+]] = bufferization.to_buffer %[[K]] read_only : tensor<?x?x2x32xbf16> to memref<?x?x2x32xbf16>
// CHECK-DAG:   %[[VB:.+]] = bufferization.to_buffer %[[V]] read_only : tensor<?x?x2x256xbf16> to memref<?x?x2x256xbf16>
// The sequence length is dim 1 of the layers' layout.
// CHECK:       memref.dim %[[KB]], %c1
// CHECK:       gpu.launch
// CHECK-DAG:     memref.transpose %[[KB]] (d0, d1, d2, d3) -> (d0, d2, d1, d3) : memref<?x?x2x32xbf16> to memref<?x2x?x32xbf16, strided<[?, 32, 64, 1]>>
// CHECK-DAG:     memref.transpose %[[VB]] (d0, d1, d2, d3) -> (d0, d2, d1, d3) : memref<?x?x2x256xbf16> to memref<?x2x?x256xbf16, strided<[?, 256, 512, 1]>>
// CHECK:       %[[QB:.+]] = bufferization.to_buffer %[[Q]] read_only
// CHECK:       %[[H:.+]] = memref.alloc(%{{.+}}, %{{.+}}) : memref<?x?x2x256xbf16>
// CHECK:       gpu.launch
// CHECK-DAG:     memref.transpose %[[QB]] (d0, d1, d2, d3) -> (d0, d2, d1, d3)
// CHECK-DAG:     memref.transpose %[[H]] (d0, d1, d2, d3) -> (d0, d2, d1, d3) : memref<?x?x2x256xbf16> to memref<?x2x?x256xbf16, strided<[?, 256, 512, 1]>>
// CHECK:       %[[HT:.+]] = bufferization.to_tensor %[[H]] restrict writable : memref<?x?x2x256xbf16> to tensor<?x?x2x256xbf16>
// CHECK:       %[[SEQ:.+]] = tensor.dim %[[HT]], %c1
// CHECK:       return %[[HT]], %[[SEQ]]
// Nothing reads the transposes any more.
// DEAD-LABEL:  func @layers_layout
// DEAD-NOT:    linalg.transpose
// COPIES-LABEL: func @layers_layout
// COPIES-COUNT-4: linalg.transpose
// COPIES-NOT:   memref.transpose
// BIN: gpu.binary
func.func @layers_layout(%q0: tensor<?x?x2x32xbf16>, %k0: tensor<?x?x2x32xbf16>,
                         %v0: tensor<?x?x2x256xbf16>, %i: tensor<?x2x?xf32>,
                         %f: tensor<?x2x?xf32>) -> (tensor<?x?x2x256xbf16>, index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %q0, %c0 : tensor<?x?x2x32xbf16>
  %s = tensor.dim %q0, %c1 : tensor<?x?x2x32xbf16>
  %eq = tensor.empty(%b, %s) : tensor<?x2x?x32xbf16>
  %q = linalg.transpose ins(%q0 : tensor<?x?x2x32xbf16>) outs(%eq : tensor<?x2x?x32xbf16>) permutation = [0, 2, 1, 3]
  %k = linalg.transpose ins(%k0 : tensor<?x?x2x32xbf16>) outs(%eq : tensor<?x2x?x32xbf16>) permutation = [0, 2, 1, 3]
  %ev = tensor.empty(%b, %s) : tensor<?x2x?x256xbf16>
  %v = linalg.transpose ins(%v0 : tensor<?x?x2x256xbf16>) outs(%ev : tensor<?x2x?x256xbf16>) permutation = [0, 2, 1, 3]
  %c, %n, %m, %cf, %nf, %mf = xlstm.mlstm_chunk_states %k, %v, %i, %f
      {chunk_size = 64 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<?x2x?x32xbf16>, tensor<?x2x?x256xbf16>, tensor<?x2x?xf32>,
         tensor<?x2x?xf32>)
      -> (tensor<?x2x?x32x256xbf16>, tensor<?x2x?x32xbf16>, tensor<?x2x?xf32>,
          tensor<?x2x32x256xbf16>, tensor<?x2x32xbf16>, tensor<?x2xf32>)
  %h = xlstm.mlstm_chunk_outputs %q, %k, %v, %i, %f, %c, %n, %m
      {chunk_size = 64 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<?x2x?x32xbf16>, tensor<?x2x?x32xbf16>, tensor<?x2x?x256xbf16>,
         tensor<?x2x?xf32>, tensor<?x2x?xf32>, tensor<?x2x?x32x256xbf16>,
         tensor<?x2x?x32xbf16>, tensor<?x2x?xf32>) -> tensor<?x2x?x256xbf16>
  %c2 = arith.constant 2 : index
  %hs = tensor.dim %h, %c2 : tensor<?x2x?x256xbf16>
  %eh = tensor.empty(%b, %s) : tensor<?x?x2x256xbf16>
  %back = linalg.transpose ins(%h : tensor<?x2x?x256xbf16>) outs(%eh : tensor<?x?x2x256xbf16>) permutation = [0, 2, 1, 3]
  return %back, %hs : tensor<?x?x2x256xbf16>, index
}

// The gates likewise: projections' outputs (B, S, NH) handed over as
// transposes enter as those buffers, read through (d0, d2, d1) views; the
// staged kernels' element-wise cp.async copies of a gate (its last dim now
// strided) read through a one-element view at the element's address.
// CHECK-LABEL: func @gates_heads_last
// CHECK-SAME:    %[[I:[^:]+]]: tensor<?x?x2xf32>, %[[F:[^:]+]]: tensor<?x?x2xf32>)
// CHECK-DAG:   %[[IB:.+]] = bufferization.to_buffer %[[I]] read_only : tensor<?x?x2xf32> to memref<?x?x2xf32>
// CHECK-DAG:   %[[FB:.+]] = bufferization.to_buffer %[[F]] read_only : tensor<?x?x2xf32> to memref<?x?x2xf32>
// CHECK:       gpu.launch
// CHECK-DAG:     memref.transpose %[[IB]] (d0, d1, d2) -> (d0, d2, d1) : memref<?x?x2xf32> to memref<?x2x?xf32, strided<[?, 1, 2]>>
// CHECK-DAG:     memref.transpose %[[FB]] (d0, d1, d2) -> (d0, d2, d1) : memref<?x?x2xf32> to memref<?x2x?xf32, strided<[?, 1, 2]>>
// CHECK:         %[[BASE:[^,]+]], %[[OFF:[^,]+]], %{{.+}} = memref.extract_strided_metadata %{{.+}} : memref<?x2x?xf32, strided<[?, 1, 2]>>
// CHECK:         %[[ONE:.+]] = memref.reinterpret_cast %[[BASE]] to offset: [%{{.+}}], sizes: [1], strides: [1] : memref<f32> to memref<1xf32, strided<[1], offset: ?>>
// CHECK:         nvgpu.device_async_copy %[[ONE]][%{{.+}}], {{.*}}, 1, %{{.+}} : memref<1xf32, strided<[1], offset: ?>> to
// The outputs kernel reads them the same way.
// CHECK:       gpu.launch
// CHECK-COUNT-2: memref.transpose %{{.+}} (d0, d1, d2) -> (d0, d2, d1) : memref<?x?x2xf32> to memref<?x2x?xf32, strided<[?, 1, 2]>>
// DEAD-LABEL:  func @gates_heads_last
// DEAD-NOT:    linalg.transpose
// COPIES-LABEL: func @gates_heads_last
// COPIES-COUNT-6: linalg.transpose
// COPIES-NOT:   memref.transpose
func.func @gates_heads_last(%q0: tensor<?x?x2x32xbf16>, %k0: tensor<?x?x2x32xbf16>,
                            %v0: tensor<?x?x2x256xbf16>, %i0: tensor<?x?x2xf32>,
                            %f0: tensor<?x?x2xf32>) -> tensor<?x?x2x256xbf16> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %q0, %c0 : tensor<?x?x2x32xbf16>
  %s = tensor.dim %q0, %c1 : tensor<?x?x2x32xbf16>
  %eq = tensor.empty(%b, %s) : tensor<?x2x?x32xbf16>
  %q = linalg.transpose ins(%q0 : tensor<?x?x2x32xbf16>) outs(%eq : tensor<?x2x?x32xbf16>) permutation = [0, 2, 1, 3]
  %k = linalg.transpose ins(%k0 : tensor<?x?x2x32xbf16>) outs(%eq : tensor<?x2x?x32xbf16>) permutation = [0, 2, 1, 3]
  %ev = tensor.empty(%b, %s) : tensor<?x2x?x256xbf16>
  %v = linalg.transpose ins(%v0 : tensor<?x?x2x256xbf16>) outs(%ev : tensor<?x2x?x256xbf16>) permutation = [0, 2, 1, 3]
  %eg = tensor.empty(%b, %s) : tensor<?x2x?xf32>
  %i = linalg.transpose ins(%i0 : tensor<?x?x2xf32>) outs(%eg : tensor<?x2x?xf32>) permutation = [0, 2, 1]
  %f = linalg.transpose ins(%f0 : tensor<?x?x2xf32>) outs(%eg : tensor<?x2x?xf32>) permutation = [0, 2, 1]
  %c, %n, %m, %cf, %nf, %mf = xlstm.mlstm_chunk_states %k, %v, %i, %f
      {chunk_size = 64 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<?x2x?x32xbf16>, tensor<?x2x?x256xbf16>, tensor<?x2x?xf32>,
         tensor<?x2x?xf32>)
      -> (tensor<?x2x?x32x256xbf16>, tensor<?x2x?x32xbf16>, tensor<?x2x?xf32>,
          tensor<?x2x32x256xbf16>, tensor<?x2x32xbf16>, tensor<?x2xf32>)
  %h = xlstm.mlstm_chunk_outputs %q, %k, %v, %i, %f, %c, %n, %m
      {chunk_size = 64 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<?x2x?x32xbf16>, tensor<?x2x?x32xbf16>, tensor<?x2x?x256xbf16>,
         tensor<?x2x?xf32>, tensor<?x2x?xf32>, tensor<?x2x?x32x256xbf16>,
         tensor<?x2x?x32xbf16>, tensor<?x2x?xf32>) -> tensor<?x2x?x256xbf16>
  %eh = tensor.empty(%b, %s) : tensor<?x?x2x256xbf16>
  %back = linalg.transpose ins(%h : tensor<?x2x?x256xbf16>) outs(%eh : tensor<?x?x2x256xbf16>) permutation = [0, 2, 1, 3]
  return %back : tensor<?x?x2x256xbf16>
}
