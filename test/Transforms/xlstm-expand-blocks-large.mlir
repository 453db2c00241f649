// RUN: xlstm-opt %s --xlstm-expand-blocks | FileCheck %s
// RUN: xlstm-opt %s --xlstm-expand-blocks --cse | xlstm-opt | FileCheck %s --check-prefix=PARSE
// RUN: xlstm-opt %s --xlstm-expand-blocks=large-cell-f32=0 | FileCheck %s --check-prefix=NARROW-CELL

// xLSTM-7B blocks (spec xlstm-large-7b §2): E 8, 2 heads, qk_dim 4, v_dim 8,
// FFN 16.

// PARSE-NOT: xlstm.large_block

// Single weight mode, no biases.
// CHECK-LABEL: func @large_single
// CHECK-SAME: (%[[X:[^:]+]]: tensor<?x?x8xf32>, %[[NM:[^:]+]]: tensor<8xf32>, %[[WQ:[^:]+]]: tensor<4x8xf32>, %[[WK:[^:]+]]: tensor<4x8xf32>, %[[WV:[^:]+]]: tensor<8x8xf32>, %[[WO:[^:]+]]: tensor<8x8xf32>, %[[WI:[^:]+]]: tensor<2x8xf32>, %[[BI:[^:]+]]: tensor<2xf32>, %[[WF:[^:]+]]: tensor<2x8xf32>, %[[BF:[^:]+]]: tensor<2xf32>, %[[MH:[^:]+]]: tensor<8xf32>, %[[OUTP:[^:]+]]: tensor<8x8xf32>, %[[NF:[^:]+]]: tensor<8xf32>, %[[GATE:[^:]+]]: tensor<16x8xf32>, %[[UP:[^:]+]]: tensor<16x8xf32>, %[[DOWN:[^:]+]]: tensor<8x16xf32>)
// CHECK:      %[[XN:.+]] = xlstm.rms_norm %[[X]] weight(%[[NM]]) {eps = 9.9999999999999995E-7 : f64}
// CHECK:      %[[Q:.+]] = linalg.contract {{.*}} ins(%[[XN]], %[[WQ]] :
// CHECK:      %[[K:.+]] = linalg.contract {{.*}} ins(%[[XN]], %[[WK]] :
// CHECK:      %[[V:.+]] = linalg.contract {{.*}} ins(%[[XN]], %[[WV]] :
// CHECK:      %[[O:.+]] = linalg.contract {{.*}} ins(%[[XN]], %[[WO]] :
// CHECK:      linalg.contract {{.*}} ins(%[[XN]], %[[WI]] :
// CHECK:      %[[IB:.+]] = linalg.generic {{.*}} ins(%{{.+}}, %[[BI]] :
// CHECK:      %[[IC:.+]] = xlstm.soft_cap %[[IB]] cap 1.500000e+01 : tensor<?x?x2xf32>
// CHECK:      linalg.contract {{.*}} ins(%[[XN]], %[[WF]] :
// CHECK:      %[[FB:.+]] = linalg.generic {{.*}} ins(%{{.+}}, %[[BF]] :
// CHECK:      %[[FC:.+]] = xlstm.soft_cap %[[FB]] cap 1.500000e+01 : tensor<?x?x2xf32>
// CHECK:      %[[QH:.+]] = linalg.transpose {{.*}} outs(%{{.+}} : tensor<?x2x?x2xf32>)
// CHECK:      %[[KH:.+]] = linalg.transpose {{.*}} outs(%{{.+}} : tensor<?x2x?x2xf32>)
// CHECK:      %[[VH:.+]] = linalg.transpose {{.*}} outs(%{{.+}} : tensor<?x2x?x4xf32>)
// CHECK:      %[[IH:.+]] = linalg.transpose ins(%[[IC]] :
// CHECK:      %[[FH:.+]] = linalg.transpose ins(%[[FC]] :
// CHECK:      %[[H:.+]] = xlstm.mlstm %[[QH]], %[[KH]], %[[VH]], %[[IH]], %[[FH]] {qk_scaling = #xlstm.qk_scaling<query>}
// CHECK:      %[[HM:.+]] = tensor.collapse_shape
// CHECK:      %[[HN:.+]] = xlstm.multihead_norm %[[HM]] weight(%[[MH]]) {eps = 9.9999999999999995E-7 : f64, num_heads = 2 : i64, scaling = #xlstm.norm_scaling<weight>}
// CHECK:      %[[G:.+]] = linalg.generic {{.*}} ins(%[[O]], %[[HN]] :
// CHECK:        math.exp
// CHECK:      linalg.contract {{.*}} ins(%[[G]], %[[OUTP]] :
// CHECK:      %[[X1:.+]] = linalg.generic {{.*}} ins(%[[X]], %{{.+}} :
// CHECK:      %[[XF:.+]] = xlstm.rms_norm %[[X1]] weight(%[[NF]])
// CHECK:      %[[F:.+]] = xlstm.gated_ffn %[[XF]], %[[GATE]], %[[UP]], %[[DOWN]] {act = #xlstm.act<swish>}
// CHECK:      %[[OUT:.+]] = linalg.generic {{.*}} ins(%[[X1]], %[[F]] :
// CHECK:      return %[[OUT]]
func.func @large_single(%x: tensor<?x?x8xf32>, %norm_mlstm: tensor<8xf32>, %q: tensor<4x8xf32>,
    %k: tensor<4x8xf32>, %v: tensor<8x8xf32>, %o: tensor<8x8xf32>, %ig: tensor<2x8xf32>,
    %ig_b: tensor<2xf32>, %fg: tensor<2x8xf32>, %fg_b: tensor<2xf32>, %mh: tensor<8xf32>,
    %out_proj: tensor<8x8xf32>, %norm_ffn: tensor<8xf32>, %gate: tensor<16x8xf32>,
    %up: tensor<16x8xf32>, %down: tensor<8x16xf32>) -> tensor<?x?x8xf32> {
  %0 = xlstm.large_block %x config #xlstm.large_block<embedding_dim = 8, num_heads = 2, qk_dim = 4, v_dim = 8, ffn_dim = 16, use_bias = false, norm_eps = 1.0e-6 : f64, eps = 1.0e-6 : f64, gate_soft_cap = 15.0 : f64, weight_mode = single>
      params(%norm_mlstm, %q, %k, %v, %o, %ig, %ig_b, %fg, %fg_b, %mh, %out_proj, %norm_ffn, %gate, %up, %down)
      : tensor<?x?x8xf32>, (tensor<8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<2x8xf32>, tensor<2xf32>, tensor<2x8xf32>, tensor<2xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<8x16xf32>)
  return %0 : tensor<?x?x8xf32>
}

// Fused weight mode with biases: projections are row slices of the fused
// tensors, in the order q, k, v, o / i, f / gate, up.
// CHECK-LABEL: func @large_fused
// CHECK-SAME: (%[[X:[^:]+]]: tensor<?x?x8xf32>, %[[NMW:[^:]+]]: tensor<8xf32>, %[[NMB:[^:]+]]: tensor<8xf32>, %[[QKVO:[^:]+]]: tensor<24x8xf32>, %[[QKVOB:[^:]+]]: tensor<24xf32>, %[[IF:[^:]+]]: tensor<4x8xf32>, %[[IFB:[^:]+]]: tensor<4xf32>, %[[MHW:[^:]+]]: tensor<8xf32>, %[[MHB:[^:]+]]: tensor<8xf32>, %[[OPW:[^:]+]]: tensor<8x8xf32>, %[[OPB:[^:]+]]: tensor<8xf32>, %[[NFW:[^:]+]]: tensor<8xf32>, %[[NFB:[^:]+]]: tensor<8xf32>, %[[GZ:[^:]+]]: tensor<32x8xf32>, %[[GZB:[^:]+]]: tensor<32xf32>, %[[DW:[^:]+]]: tensor<8x16xf32>, %[[DB:[^:]+]]: tensor<8xf32>)
// CHECK:      xlstm.rms_norm %[[X]] weight(%[[NMW]]) bias(%[[NMB]])
// CHECK:      tensor.extract_slice %[[QKVO]][0, 0] [4, 8] [1, 1]
// CHECK:      tensor.extract_slice %[[QKVOB]][0] [4] [1]
// CHECK:      tensor.extract_slice %[[QKVO]][4, 0] [4, 8] [1, 1]
// CHECK:      tensor.extract_slice %[[QKVOB]][4] [4] [1]
// CHECK:      tensor.extract_slice %[[QKVO]][8, 0] [8, 8] [1, 1]
// CHECK:      tensor.extract_slice %[[QKVOB]][8] [8] [1]
// CHECK:      tensor.extract_slice %[[QKVO]][16, 0] [8, 8] [1, 1]
// CHECK:      tensor.extract_slice %[[QKVOB]][16] [8] [1]
// CHECK:      tensor.extract_slice %[[IF]][0, 0] [2, 8] [1, 1]
// CHECK:      tensor.extract_slice %[[IFB]][0] [2] [1]
// CHECK:      xlstm.soft_cap
// CHECK:      tensor.extract_slice %[[IF]][2, 0] [2, 8] [1, 1]
// CHECK:      tensor.extract_slice %[[IFB]][2] [2] [1]
// CHECK:      xlstm.soft_cap
// CHECK:      xlstm.mlstm
// CHECK:      xlstm.multihead_norm %{{.+}} weight(%[[MHW]]) bias(%[[MHB]])
// CHECK:      linalg.generic {{.*}} ins(%{{.+}}, %[[OPB]] :
// CHECK:      xlstm.rms_norm %{{.+}} weight(%[[NFW]]) bias(%[[NFB]])
// CHECK:      %[[GW:.+]] = tensor.extract_slice %[[GZ]][0, 0] [16, 8] [1, 1]
// CHECK:      %[[UW:.+]] = tensor.extract_slice %[[GZ]][16, 0] [16, 8] [1, 1]
// CHECK:      %[[GB:.+]] = tensor.extract_slice %[[GZB]][0] [16] [1]
// CHECK:      %[[UB:.+]] = tensor.extract_slice %[[GZB]][16] [16] [1]
// CHECK:      xlstm.gated_ffn %{{.+}}, %[[GW]], %[[UW]], %[[DW]] biases(%[[GB]], %[[UB]], %[[DB]]) {act = #xlstm.act<swish>}
func.func @large_fused(%x: tensor<?x?x8xf32>, %nm_w: tensor<8xf32>, %nm_b: tensor<8xf32>,
    %qkvo: tensor<24x8xf32>, %qkvo_b: tensor<24xf32>, %if: tensor<4x8xf32>, %if_b: tensor<4xf32>,
    %mh_w: tensor<8xf32>, %mh_b: tensor<8xf32>, %op_w: tensor<8x8xf32>, %op_b: tensor<8xf32>,
    %nf_w: tensor<8xf32>, %nf_b: tensor<8xf32>, %gz: tensor<32x8xf32>, %gz_b: tensor<32xf32>,
    %down: tensor<8x16xf32>, %down_b: tensor<8xf32>) -> tensor<?x?x8xf32> {
  %0 = xlstm.large_block %x config #xlstm.large_block<embedding_dim = 8, num_heads = 2, qk_dim = 4, v_dim = 8, ffn_dim = 16, use_bias = true, norm_eps = 1.0e-6 : f64, eps = 1.0e-6 : f64, gate_soft_cap = 15.0 : f64, weight_mode = fused>
      params(%nm_w, %nm_b, %qkvo, %qkvo_b, %if, %if_b, %mh_w, %mh_b, %op_w, %op_b, %nf_w, %nf_b, %gz, %gz_b, %down, %down_b)
      : tensor<?x?x8xf32>, (tensor<8xf32>, tensor<8xf32>, tensor<24x8xf32>, tensor<24xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<32x8xf32>, tensor<32xf32>, tensor<8x16xf32>, tensor<8xf32>)
  return %0 : tensor<?x?x8xf32>
}

// The LM head is a projection to the vocabulary, soft-capped when asked.
// CHECK-LABEL: func @lm_head
// CHECK-SAME: (%[[X:[^:]+]]: tensor<?x?x8xf32>, %[[W:[^:]+]]: tensor<16x8xf32>)
// CHECK:      %[[L:.+]] = linalg.contract {{.*}} ins(%[[X]], %[[W]] : tensor<?x?x8xf32>, tensor<16x8xf32>) outs(%{{.+}} : tensor<?x?x16xf32>)
// CHECK:      %[[C:.+]] = xlstm.soft_cap %[[L]] cap 3.000000e+01 : tensor<?x?x16xf32>
// CHECK:      %[[P:.+]] = linalg.contract {{.*}} ins(%[[X]], %[[W]] :
// CHECK-NOT:  xlstm.soft_cap
// CHECK:      return %[[C]], %[[P]]
func.func @lm_head(%x: tensor<?x?x8xf32>, %w: tensor<16x8xf32>) -> (tensor<?x?x16xf32>, tensor<?x?x16xf32>) {
  %0 = xlstm.lm_head %x, %w {soft_cap = 30.0 : f64} : (tensor<?x?x8xf32>, tensor<16x8xf32>) -> tensor<?x?x16xf32>
  %1 = xlstm.lm_head %x, %w : (tensor<?x?x8xf32>, tensor<16x8xf32>) -> tensor<?x?x16xf32>
  return %0, %1 : tensor<?x?x16xf32>, tensor<?x?x16xf32>
}

// A float32 residual stream around bf16 parameters: the norms write the
// bf16 operands of the projections, out_proj and the FFN write float32 into
// the stream, the residual adds run in float32.
// CHECK-LABEL: func @large_float32_residual
// CHECK-SAME: %[[OUTP:[^:]+]]: tensor<8x8xbf16>, %{{[^:]+}}: tensor<8xbf16>, %{{[^:]+}}: tensor<16x8xbf16>
// CHECK:      %[[XN:.+]] = xlstm.rms_norm %{{.+}} : (tensor<?x?x8xf32>, tensor<8xbf16>) -> tensor<?x?x8xbf16>
// CHECK:      linalg.contract {{.*}} ins(%[[XN]], %{{.+}} : tensor<?x?x8xbf16>, tensor<4x8xbf16>) outs(%{{.+}} : tensor<?x?x4xf32>)
// CHECK:      %[[OP:.+]] = linalg.contract {{.*}} ins(%{{.+}}, %[[OUTP]] : tensor<?x?x8xbf16>, tensor<8x8xbf16>) outs(%{{.+}} : tensor<?x?x8xf32>)
// CHECK:      %[[X1:.+]] = linalg.generic {{.*}} ins(%{{.+}}, %[[OP]] : tensor<?x?x8xf32>, tensor<?x?x8xf32>)
// CHECK:      %[[XF:.+]] = xlstm.rms_norm %[[X1]] {{.*}} -> tensor<?x?x8xbf16>
// CHECK:      %[[F:.+]] = xlstm.gated_ffn %[[XF]], {{.*}} -> tensor<?x?x8xf32>
// CHECK:      linalg.generic {{.*}} ins(%[[X1]], %[[F]] : tensor<?x?x8xf32>, tensor<?x?x8xf32>)
// The cell's q, k and v are float32 by default (q's projection above writes
// float32); large-cell-f32=0 keeps them bf16 (the gates stay float32), and
// the cell's bf16 output meets the float32 output gate in float32.
// NARROW-CELL-LABEL: func @large_float32_residual
// NARROW-CELL:       xlstm.mlstm {{.*}} : (tensor<?x2x?x2xbf16>, tensor<?x2x?x2xbf16>, tensor<?x2x?x4xbf16>, tensor<?x2x?xf32>, tensor<?x2x?xf32>)
// NARROW-CELL:       xlstm.multihead_norm {{.*}} -> tensor<?x?x8xbf16>
// NARROW-CELL:       arith.extf %{{.+}} : bf16 to f32
// NARROW-CELL:       arith.mulf %{{.+}}, %{{.+}} : f32
func.func @large_float32_residual(%x: tensor<?x?x8xf32>, %norm_mlstm: tensor<8xbf16>, %q: tensor<4x8xbf16>,
    %k: tensor<4x8xbf16>, %v: tensor<8x8xbf16>, %o: tensor<8x8xbf16>, %ig: tensor<2x8xbf16>,
    %ig_b: tensor<2xbf16>, %fg: tensor<2x8xbf16>, %fg_b: tensor<2xbf16>, %mh: tensor<8xbf16>,
    %out_proj: tensor<8x8xbf16>, %norm_ffn: tensor<8xbf16>, %gate: tensor<16x8xbf16>,
    %up: tensor<16x8xbf16>, %down: tensor<8x16xbf16>) -> tensor<?x?x8xf32> {
  %0 = xlstm.large_block %x config #xlstm.large_block<embedding_dim = 8, num_heads = 2, qk_dim = 4, v_dim = 8, ffn_dim = 16, use_bias = false, norm_eps = 1.0e-6 : f64, eps = 1.0e-6 : f64, gate_soft_cap = 15.0 : f64, weight_mode = single>
      params(%norm_mlstm, %q, %k, %v, %o, %ig, %ig_b, %fg, %fg_b, %mh, %out_proj, %norm_ffn, %gate, %up, %down)
      : tensor<?x?x8xf32>, (tensor<8xbf16>, tensor<4x8xbf16>, tensor<4x8xbf16>, tensor<8x8xbf16>, tensor<8x8xbf16>, tensor<2x8xbf16>, tensor<2xbf16>, tensor<2x8xbf16>, tensor<2xbf16>, tensor<8xbf16>, tensor<8x8xbf16>, tensor<8xbf16>, tensor<16x8xbf16>, tensor<16x8xbf16>, tensor<8x16xbf16>)
  return %0 : tensor<?x?x8xf32>
}

// float32 logits from bf16 operands; a float32 input (no final norm before
// the head) is rounded to the weights' type first.
// CHECK-LABEL: func @lm_head_float32_logits
// CHECK:      linalg.contract {{.*}} ins(%{{.+}}, %{{.+}} : tensor<?x?x8xbf16>, tensor<16x8xbf16>) outs(%{{.+}} : tensor<?x?x16xf32>)
// CHECK:      %[[R:.+]] = linalg.generic {{.*}} ins(%{{.+}} : tensor<?x?x8xf32>) outs(%{{.+}} : tensor<?x?x8xbf16>)
// CHECK:      linalg.contract {{.*}} ins(%[[R]], %{{.+}} : tensor<?x?x8xbf16>, tensor<16x8xbf16>) outs(%{{.+}} : tensor<?x?x16xf32>)
func.func @lm_head_float32_logits(%x: tensor<?x?x8xbf16>, %wide: tensor<?x?x8xf32>, %w: tensor<16x8xbf16>) -> (tensor<?x?x16xf32>, tensor<?x?x16xf32>) {
  %0 = xlstm.lm_head %x, %w : (tensor<?x?x8xbf16>, tensor<16x8xbf16>) -> tensor<?x?x16xf32>
  %1 = xlstm.lm_head %wide, %w : (tensor<?x?x8xf32>, tensor<16x8xbf16>) -> tensor<?x?x16xf32>
  return %0, %1 : tensor<?x?x16xf32>, tensor<?x?x16xf32>
}

// bf16 weights over a float32 residual stream: q, k, v, the gates and the
// output gate's pre-activation come out of their projections in float32;
// the output gate (sigmoid and product with the normed h) is computed in
// float32 and only the product, out_proj's operand, is rounded to bf16.
// CHECK-LABEL: func @large_bf16
// CHECK:      %[[XN:.+]] = xlstm.rms_norm {{.*}} -> tensor<?x?x8xbf16>
// CHECK:      linalg.contract {{.*}} -> tensor<?x?x4xf32>
// CHECK:      linalg.contract {{.*}} -> tensor<?x?x4xf32>
// CHECK:      linalg.contract {{.*}} -> tensor<?x?x8xf32>
// CHECK:      %[[O:.+]] = linalg.contract {{.*}} -> tensor<?x?x8xf32>
// CHECK:      %[[HN:.+]] = xlstm.multihead_norm {{.*}} -> tensor<?x?x8xf32>
// CHECK:      %[[G:.+]] = linalg.generic {{.*}} ins(%[[O]], %[[HN]] : tensor<?x?x8xf32>, tensor<?x?x8xf32>) outs(%{{.+}} : tensor<?x?x8xf32>)
// CHECK:        math.exp %{{.+}} : f32
// CHECK:      %[[GB:.+]] = linalg.generic {{.*}} ins(%[[G]] : tensor<?x?x8xf32>) outs(%{{.+}} : tensor<?x?x8xbf16>)
// CHECK:        arith.truncf
// CHECK:      linalg.contract {{.*}} ins(%[[GB]], %{{.+}} : tensor<?x?x8xbf16>, tensor<8x8xbf16>) {{.*}} -> tensor<?x?x8xf32>
func.func @large_bf16(%x: tensor<?x?x8xf32>, %norm_mlstm: tensor<8xbf16>, %q: tensor<4x8xbf16>,
    %k: tensor<4x8xbf16>, %v: tensor<8x8xbf16>, %o: tensor<8x8xbf16>, %ig: tensor<2x8xbf16>,
    %ig_b: tensor<2xbf16>, %fg: tensor<2x8xbf16>, %fg_b: tensor<2xbf16>, %mh: tensor<8xbf16>,
    %out_proj: tensor<8x8xbf16>, %norm_ffn: tensor<8xbf16>, %gate: tensor<16x8xbf16>,
    %up: tensor<16x8xbf16>, %down: tensor<8x16xbf16>) -> tensor<?x?x8xf32> {
  %0 = xlstm.large_block %x config #xlstm.large_block<embedding_dim = 8, num_heads = 2, qk_dim = 4, v_dim = 8, ffn_dim = 16, use_bias = false, norm_eps = 1.0e-6 : f64, eps = 1.0e-6 : f64, gate_soft_cap = 15.0 : f64, weight_mode = single>
      params(%norm_mlstm, %q, %k, %v, %o, %ig, %ig_b, %fg, %fg_b, %mh, %out_proj, %norm_ffn, %gate, %up, %down)
      : tensor<?x?x8xf32>, (tensor<8xbf16>, tensor<4x8xbf16>, tensor<4x8xbf16>, tensor<8x8xbf16>, tensor<8x8xbf16>, tensor<2x8xbf16>, tensor<2xbf16>, tensor<2x8xbf16>, tensor<2xbf16>, tensor<8xbf16>, tensor<8x8xbf16>, tensor<8xbf16>, tensor<16x8xbf16>, tensor<16x8xbf16>, tensor<8x16xbf16>)
  return %0 : tensor<?x?x8xf32>
}
