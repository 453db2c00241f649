// RUN: xlstm-opt %s --xlstm-expand-blocks | FileCheck %s
// RUN: xlstm-opt %s --xlstm-expand-blocks --cse | xlstm-opt | FileCheck %s --check-prefix=PARSE

// sLSTM blocks (spec xlstm-architecture §b.5-§b.7): the checkpoint's `fgate`
// feeds the input gate and `igate` the forget gate; the recurrent kernel and
// bias are brought from their stored layout into R (NH, DH, 4, DH) and
// b (NH, 4, DH).

// PARSE-NOT: xlstm.slstm_block

// vanilla layout, conv, FFN (stacked gate/up projection).
// CHECK-LABEL: func @slstm_vanilla
// CHECK-SAME: (%[[X:[^:]+]]: tensor<?x?x8xf32>, %[[NORM:[^:]+]]: tensor<8xf32>, %[[CW:[^:]+]]: tensor<8x1x2xf32>, %[[CB:[^:]+]]: tensor<8xf32>, %[[FGATE:[^:]+]]: tensor<2x4x4xf32>, %[[IGATE:[^:]+]]: tensor<2x4x4xf32>, %[[ZGATE:[^:]+]]: tensor<2x4x4xf32>, %[[OGATE:[^:]+]]: tensor<2x4x4xf32>, %[[R:[^:]+]]: tensor<2x16x4xf32>, %[[B:[^:]+]]: tensor<32xf32>, %[[GN:[^:]+]]: tensor<8xf32>, %[[FN:[^:]+]]: tensor<8xf32>, %[[UP:[^:]+]]: tensor<24x8xf32>, %[[DOWN:[^:]+]]: tensor<8x12xf32>)
// CHECK:      %[[XN:.+]] = xlstm.layer_norm %[[X]] weight(%[[NORM]])
// CHECK:      %[[CONV:.+]] = xlstm.causal_conv1d %[[XN]], %{{.+}} bias(%[[CB]])
// CHECK:      %[[XC:.+]] = linalg.generic {{.*}} ins(%[[CONV]] :
// CHECK:      %[[WI:.+]] = xlstm.headwise_linear %[[XC]], %[[FGATE]] :
// CHECK:      %[[WF:.+]] = xlstm.headwise_linear %[[XC]], %[[IGATE]] :
// CHECK:      %[[WZ:.+]] = xlstm.headwise_linear %[[XN]], %[[ZGATE]] :
// CHECK:      %[[WO:.+]] = xlstm.headwise_linear %[[XN]], %[[OGATE]] :
// CHECK:      %[[RS:.+]] = tensor.expand_shape %[[R]] {{\[}}[0], [1, 2], [3]] output_shape [2, 4, 4, 4] : tensor<2x16x4xf32> into tensor<2x4x4x4xf32>
// CHECK:      %[[RC:.+]] = linalg.transpose ins(%[[RS]] : tensor<2x4x4x4xf32>) outs(%{{.+}} : tensor<2x4x4x4xf32>) permutation = [0, 3, 1, 2]
// CHECK:      %[[BS:.+]] = tensor.expand_shape %[[B]] {{\[}}[0, 1, 2]] output_shape [4, 2, 4] : tensor<32xf32> into tensor<4x2x4xf32>
// CHECK:      %[[BC:.+]] = linalg.transpose ins(%[[BS]] : tensor<4x2x4xf32>) outs(%{{.+}} : tensor<2x4x4xf32>) permutation = [1, 0, 2]
// The recurrence in its per-step form, from a zero state.
// CHECK:      %[[ZERO:.+]] = linalg.fill ins(%{{.+}} : f32) outs(%{{.+}} : tensor<?x8xf32>)
// CHECK:      %[[LOOP:.+]]:5 = scf.for %[[T:.+]] = %{{.+}} to %{{.+}} step %{{.+}} iter_args(%[[YA:[^ ]+]] = %{{.+}}, %[[H:[^ ]+]] = %[[ZERO]], %[[C:[^ ]+]] = %[[ZERO]], %[[N:[^ ]+]] = %[[ZERO]], %[[M:[^ ]+]] = %[[ZERO]])
// CHECK:        %[[GI:.+]] = tensor.extract_slice %[[WI]][0, %[[T]], 0] [%{{.+}}, 1, 8] [1, 1, 1] : tensor<?x?x8xf32> to tensor<?x8xf32>
// CHECK:        %[[GF:.+]] = tensor.extract_slice %[[WF]][0, %[[T]], 0]
// CHECK:        %[[GZ:.+]] = tensor.extract_slice %[[WZ]][0, %[[T]], 0]
// CHECK:        %[[GO:.+]] = tensor.extract_slice %[[WO]][0, %[[T]], 0]
// CHECK:        %[[S:.+]]:4 = xlstm.slstm_step %[[GI]], %[[GF]], %[[GZ]], %[[GO]], %[[RC]], %[[BC]] state(%[[H]], %[[C]], %[[N]], %[[M]]) {function = #xlstm.function<slstm>, num_heads = 2 : i64}
// CHECK:        %[[INS:.+]] = tensor.insert_slice %[[S]]#0 into %[[YA]][0, %[[T]], 0] [%{{.+}}, 1, 8] [1, 1, 1]
// CHECK:        scf.yield %[[INS]], %[[S]]#0, %[[S]]#1, %[[S]]#2, %[[S]]#3
// CHECK:      %[[YN:.+]] = xlstm.multihead_norm %[[LOOP]]#0 weight(%[[GN]]) {eps = 1.000000e-05 : f64, num_heads = 2 : i64, scaling = #xlstm.norm_scaling<one_plus_weight>}
// CHECK:      %[[X1:.+]] = linalg.generic {{.*}} ins(%[[X]], %[[YN]] :
// CHECK:      %[[XF:.+]] = xlstm.layer_norm %[[X1]] weight(%[[FN]])
// CHECK:      %[[GW:.+]] = tensor.extract_slice %[[UP]][0, 0] [12, 8] [1, 1] : tensor<24x8xf32> to tensor<12x8xf32>
// CHECK:      %[[UW:.+]] = tensor.extract_slice %[[UP]][12, 0] [12, 8] [1, 1] : tensor<24x8xf32> to tensor<12x8xf32>
// CHECK:      %[[F:.+]] = xlstm.gated_ffn %[[XF]], %[[GW]], %[[UW]], %[[DOWN]] {act = #xlstm.act<gelu>}
// CHECK:      %[[OUT:.+]] = linalg.generic {{.*}} ins(%[[X1]], %[[F]] :
// CHECK:      return %[[OUT]]
func.func @slstm_vanilla(%x: tensor<?x?x8xf32>, %norm: tensor<8xf32>, %conv_w: tensor<8x1x2xf32>,
    %conv_b: tensor<8xf32>, %fgate: tensor<2x4x4xf32>, %igate: tensor<2x4x4xf32>, %zgate: tensor<2x4x4xf32>,
    %ogate: tensor<2x4x4xf32>, %r: tensor<2x16x4xf32>, %b: tensor<32xf32>, %gn: tensor<8xf32>,
    %ffn_norm: tensor<8xf32>, %up: tensor<24x8xf32>, %down: tensor<8x12xf32>) -> tensor<?x?x8xf32> {
  %0 = xlstm.slstm_block %x config #xlstm.slstm_layer<embedding_dim = 8, num_heads = 2, conv_kernel_size = 2, group_norm_weight = true, layout = vanilla, function = slstm, feedforward = #xlstm.ffn<proj_dim = 12, act = gelu, bias = false>>
      params(%norm, %conv_w, %conv_b, %fgate, %igate, %zgate, %ogate, %r, %b, %gn, %ffn_norm, %up, %down)
      : tensor<?x?x8xf32>, (tensor<8xf32>, tensor<8x1x2xf32>, tensor<8xf32>, tensor<2x4x4xf32>, tensor<2x4x4xf32>, tensor<2x4x4xf32>, tensor<2x4x4xf32>, tensor<2x16x4xf32>, tensor<32xf32>, tensor<8xf32>, tensor<8xf32>, tensor<24x8xf32>, tensor<8x12xf32>)
  return %0 : tensor<?x?x8xf32>
}

// cuda layout, no conv, no group-norm weight, no FFN, classic LSTM function.
// CHECK-LABEL: func @slstm_cuda_plain
// CHECK-SAME: (%[[X:[^:]+]]: tensor<?x?x8xf32>, %[[NORM:[^:]+]]: tensor<8xf32>, %[[FGATE:[^:]+]]: tensor<2x4x4xf32>, %[[IGATE:[^:]+]]: tensor<2x4x4xf32>, %[[ZGATE:[^:]+]]: tensor<2x4x4xf32>, %[[OGATE:[^:]+]]: tensor<2x4x4xf32>, %[[R:[^:]+]]: tensor<2x4x16xf32>, %[[B:[^:]+]]: tensor<32xf32>)
// CHECK:      %[[XN:.+]] = xlstm.layer_norm %[[X]] weight(%[[NORM]])
// CHECK-NOT:  xlstm.causal_conv1d
// CHECK:      %[[WI:.+]] = xlstm.headwise_linear %[[XN]], %[[FGATE]] :
// CHECK:      %[[WF:.+]] = xlstm.headwise_linear %[[XN]], %[[IGATE]] :
// CHECK:      %[[WZ:.+]] = xlstm.headwise_linear %[[XN]], %[[ZGATE]] :
// CHECK:      %[[WO:.+]] = xlstm.headwise_linear %[[XN]], %[[OGATE]] :
// CHECK:      %[[RC:.+]] = tensor.expand_shape %[[R]] {{\[}}[0], [1], [2, 3]] output_shape [2, 4, 4, 4] : tensor<2x4x16xf32> into tensor<2x4x4x4xf32>
// CHECK:      %[[BC:.+]] = tensor.expand_shape %[[B]] {{\[}}[0, 1, 2]] output_shape [2, 4, 4] : tensor<32xf32> into tensor<2x4x4xf32>
// CHECK:      %[[LOOP:.+]]:3 = scf.for
// CHECK:        xlstm.slstm_step {{.*}}, %[[RC]], %[[BC]] state(%{{.+}}, %{{.+}}) {function = #xlstm.function<lstm>, num_heads = 2 : i64}
// CHECK:      %[[YN:.+]] = xlstm.multihead_norm %[[LOOP]]#0 {eps = 1.000000e-05 : f64, num_heads = 2 : i64, scaling = #xlstm.norm_scaling<one_plus_weight>}
// CHECK:      %[[OUT:.+]] = linalg.generic {{.*}} ins(%[[X]], %[[YN]] :
// CHECK-NOT:  xlstm.gated_ffn
// CHECK:      return %[[OUT]]
func.func @slstm_cuda_plain(%x: tensor<?x?x8xf32>, %norm: tensor<8xf32>, %fgate: tensor<2x4x4xf32>,
    %igate: tensor<2x4x4xf32>, %zgate: tensor<2x4x4xf32>, %ogate: tensor<2x4x4xf32>,
    %r: tensor<2x4x16xf32>, %b: tensor<32xf32>) -> tensor<?x?x8xf32> {
  %0 = xlstm.slstm_block %x config #xlstm.slstm_layer<embedding_dim = 8, num_heads = 2, conv_kernel_size = 0, group_norm_weight = false, layout = cuda, function = lstm>
      params(%norm, %fgate, %igate, %zgate, %ogate, %r, %b)
      : tensor<?x?x8xf32>, (tensor<8xf32>, tensor<2x4x4xf32>, tensor<2x4x4xf32>, tensor<2x4x4xf32>, tensor<2x4x4xf32>, tensor<2x4x16xf32>, tensor<32xf32>)
  return %0 : tensor<?x?x8xf32>
}

// States of another element type than the activations (f16 vs bf16, equal
// widths) are carried in their type; the hidden states are cast back through
// f32.
// CHECK-LABEL: func @slstm_f16_state
// CHECK:      scf.for {{.*}} -> (tensor<?x?x8xf16>, tensor<?x8xf16>, tensor<?x8xf16>)
// CHECK:      arith.extf %{{.+}} : f16 to f32
// CHECK:      arith.truncf %{{.+}} : f32 to bf16
func.func @slstm_f16_state(%x: tensor<?x?x8xbf16>, %norm: tensor<8xbf16>, %g: tensor<2x4x4xbf16>,
    %r: tensor<2x4x16xbf16>, %b: tensor<32xbf16>, %h: tensor<?x8xf16>, %c: tensor<?x8xf16>)
    -> (tensor<?x?x8xbf16>, tensor<?x8xf16>, tensor<?x8xf16>) {
  %y, %s:2 = xlstm.slstm_block %x config #xlstm.slstm_layer<embedding_dim = 8, num_heads = 2, conv_kernel_size = 0, group_norm_weight = false, layout = cuda, function = lstm>
      params(%norm, %g, %g, %g, %g, %r, %b) state(%h, %c)
      : tensor<?x?x8xbf16>, (tensor<8xbf16>, tensor<2x4x4xbf16>, tensor<2x4x4xbf16>, tensor<2x4x4xbf16>, tensor<2x4x4xbf16>, tensor<2x4x16xbf16>, tensor<32xbf16>), state(tensor<?x8xf16>, tensor<?x8xf16>) -> state(tensor<?x8xf16>, tensor<?x8xf16>)
  return %y, %s#0, %s#1 : tensor<?x?x8xbf16>, tensor<?x8xf16>, tensor<?x8xf16>
}
