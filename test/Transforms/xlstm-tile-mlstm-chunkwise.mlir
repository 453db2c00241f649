// RUN: xlstm-opt %s --xlstm-tile-mlstm-chunkwise | FileCheck %s
// RUN: xlstm-opt %s --xlstm-tile-mlstm-chunkwise=chunk-size=16 | FileCheck %s --check-prefix=C16
// RUN: xlstm-opt %s --xlstm-tile-mlstm-chunkwise="chunk-size=16 narrow-entering-states=0" | FileCheck %s --check-prefix=WIDE
// RUN: not xlstm-opt %s --xlstm-tile-mlstm-chunkwise=chunk-size=0 2>&1 | FileCheck %s --check-prefix=BAD

// BAD: chunk-size must be positive, got 0

// Dynamic sequence length: the chunk count is dynamic too.
// CHECK-LABEL: func @dynamic
// CHECK-SAME: (%[[Q:[^:]+]]: tensor<?x2x?x8xf32>, %[[K:[^:]+]]: tensor<?x2x?x8xf32>, %[[V:[^:]+]]: tensor<?x2x?x4xf32>, %[[I:[^:]+]]: tensor<?x2x?xf32>, %[[F:[^:]+]]: tensor<?x2x?xf32>)
// CHECK:      %[[CC:[^,]+]], %[[CN:[^,]+]], %[[CM:[^,]+]], %{{[^,]+}}, %{{[^,]+}}, %{{[^ ]+}} = xlstm.mlstm_chunk_states %[[K]], %[[V]], %[[I]], %[[F]] {chunk_size = 64 : i64, qk_scaling = #xlstm.qk_scaling<key>}
// CHECK-SAME:   -> (tensor<?x2x?x8x4xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?xf32>, tensor<?x2x8x4xf32>, tensor<?x2x8xf32>, tensor<?x2xf32>)
// CHECK:      %[[H:.+]] = xlstm.mlstm_chunk_outputs %[[Q]], %[[K]], %[[V]], %[[I]], %[[F]], %[[CC]], %[[CN]], %[[CM]] {chunk_size = 64 : i64, qk_scaling = #xlstm.qk_scaling<key>}
// CHECK-NOT:  xlstm.mlstm {{.*}}qk_scaling
// CHECK:      return %[[H]]
func.func @dynamic(%q: tensor<?x2x?x8xf32>, %k: tensor<?x2x?x8xf32>, %v: tensor<?x2x?x4xf32>,
                   %i: tensor<?x2x?xf32>, %f: tensor<?x2x?xf32>) -> tensor<?x2x?x4xf32> {
  %h = xlstm.mlstm %q, %k, %v, %i, %f {qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?xf32>, tensor<?x2x?xf32>) -> tensor<?x2x?x4xf32>
  return %h : tensor<?x2x?x4xf32>
}

// Static length 100 = 6 chunks of 16 plus a partial one; bf16 k and v: the
// entering C states are bf16 (float32 with narrow-entering-states=0), n, m
// and the final state float32; the initial state goes in, the final state
// comes from the scan.
// C16-LABEL: func @static_with_state
// C16-SAME: (%[[Q:[^:]+]]: tensor<1x2x100x8xbf16>, %[[K:[^:]+]]: tensor<1x2x100x8xbf16>, %[[V:[^:]+]]: tensor<1x2x100x4xbf16>, %[[I:[^:]+]]: tensor<1x2x100xf32>, %[[F:[^:]+]]: tensor<1x2x100xf32>, %[[C0:[^:]+]]: tensor<1x2x8x4xf32>, %[[N0:[^:]+]]: tensor<1x2x8xf32>, %[[M0:[^:]+]]: tensor<1x2xf32>)
// C16:      %{{[^,]+}}, %{{[^,]+}}, %{{[^,]+}}, %[[FC:[^,]+]], %[[FN:[^,]+]], %[[FM:[^ ]+]] = xlstm.mlstm_chunk_states %[[K]], %[[V]], %[[I]], %[[F]] initial_state(%[[C0]], %[[N0]], %[[M0]]) {chunk_size = 16 : i64, qk_scaling = #xlstm.qk_scaling<query>}
// C16-SAME:   -> (tensor<1x2x7x8x4xbf16>, tensor<1x2x7x8xf32>, tensor<1x2x7xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8xf32>, tensor<1x2xf32>)
// WIDE-LABEL: func @static_with_state
// WIDE:       xlstm.mlstm_chunk_states
// WIDE-SAME:    -> (tensor<1x2x7x8x4xf32>, tensor<1x2x7x8xf32>, tensor<1x2x7xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8xf32>, tensor<1x2xf32>)
// C16:      %[[H:.+]] = xlstm.mlstm_chunk_outputs {{.*}} {chunk_size = 16 : i64, eps = 0.000000e+00 : f64, qk_scaling = #xlstm.qk_scaling<query>}
// C16-SAME:   -> tensor<1x2x100x4xbf16>
// C16:      return %[[H]], %[[FC]], %[[FN]], %[[FM]]
func.func @static_with_state(%q: tensor<1x2x100x8xbf16>, %k: tensor<1x2x100x8xbf16>, %v: tensor<1x2x100x4xbf16>,
                             %i: tensor<1x2x100xf32>, %f: tensor<1x2x100xf32>, %c0: tensor<1x2x8x4xf32>,
                             %n0: tensor<1x2x8xf32>, %m0: tensor<1x2xf32>)
    -> (tensor<1x2x100x4xbf16>, tensor<1x2x8x4xf32>, tensor<1x2x8xf32>, tensor<1x2xf32>) {
  %h, %c, %n, %m = xlstm.mlstm %q, %k, %v, %i, %f initial_state(%c0, %n0, %m0) {eps = 0.0 : f64, qk_scaling = #xlstm.qk_scaling<query>}
      : (tensor<1x2x100x8xbf16>, tensor<1x2x100x8xbf16>, tensor<1x2x100x4xbf16>, tensor<1x2x100xf32>, tensor<1x2x100xf32>,
         tensor<1x2x8x4xf32>, tensor<1x2x8xf32>, tensor<1x2xf32>)
      -> (tensor<1x2x100x4xbf16>, tensor<1x2x8x4xf32>, tensor<1x2x8xf32>, tensor<1x2xf32>)
  return %h, %c, %n, %m : tensor<1x2x100x4xbf16>, tensor<1x2x8x4xf32>, tensor<1x2x8xf32>, tensor<1x2xf32>
}
