// RUN: xlstm-opt %s --xlstm-expand-blocks=gate-parts=0 | FileCheck %s
// RUN: xlstm-opt %s --xlstm-expand-blocks --cse | xlstm-opt | FileCheck %s --check-prefix=PARSE
// RUN: xlstm-opt %s --xlstm-expand-blocks=gate-bias-first=0 | FileCheck %s --check-prefix=PARTS
// RUN: xlstm-opt %s --xlstm-expand-blocks | FileCheck %s --check-prefix=FIRST

// mLSTM block with biases (spec xlstm-architecture §b.2, §b.4):
// x + proj_down((norm(h) + skip * silu(conv(x_m))) * silu(z)).

// PARSE-LABEL: func @mlstm_block
// PARSE-NOT: xlstm.mlstm_block

// CHECK-LABEL: func @mlstm_block
// CHECK-SAME: (%[[X:.+]]: tensor<?x?x8xf32>, %[[NORM:[^:]+]]: tensor<8xf32>, %[[SKIP:[^:]+]]: tensor<16xf32>, %[[UPW:[^:]+]]: tensor<32x8xf32>, %[[UPB:[^:]+]]: tensor<32xf32>, %[[QW:[^:]+]]: tensor<4x4x4xf32>, %[[QB:[^:]+]]: tensor<16xf32>, %[[KW:[^:]+]]: tensor<4x4x4xf32>, %[[KB:[^:]+]]: tensor<16xf32>, %[[VW:[^:]+]]: tensor<4x4x4xf32>, %[[VB:[^:]+]]: tensor<16xf32>, %[[CW:[^:]+]]: tensor<16x1x2xf32>, %[[CB:[^:]+]]: tensor<16xf32>, %[[IW:[^:]+]]: tensor<2x48xf32>, %[[IB:[^:]+]]: tensor<2xf32>, %[[FW:[^:]+]]: tensor<2x48xf32>, %[[FB:[^:]+]]: tensor<2xf32>, %[[ON:[^:]+]]: tensor<16xf32>, %[[DW:[^:]+]]: tensor<8x16xf32>, %[[DB:[^:]+]]: tensor<8xf32>)
// CHECK:      %[[XN:.+]] = xlstm.layer_norm %[[X]] weight(%[[NORM]]) {eps = 1.000000e-05 : f64, scaling = #xlstm.norm_scaling<one_plus_weight>}
// CHECK:      %[[UP0:.+]] = linalg.contract {{.*}} ins(%[[XN]], %[[UPW]] : tensor<?x?x8xf32>, tensor<32x8xf32>)
// CHECK:      %[[UP:.+]] = linalg.generic {{.*}} ins(%[[UP0]], %[[UPB]] : tensor<?x?x32xf32>, tensor<32xf32>)
// CHECK:      %[[XM:.+]] = tensor.extract_slice %[[UP]][0, 0, 0] [%{{.+}}, %{{.+}}, 16] [1, 1, 1]
// CHECK:      %[[Z:.+]] = tensor.extract_slice %[[UP]][0, 0, 16] [%{{.+}}, %{{.+}}, 16] [1, 1, 1]
// CHECK:      %[[CWK:.+]] = tensor.collapse_shape %[[CW]] {{\[}}[0, 1], [2]] : tensor<16x1x2xf32> into tensor<16x2xf32>
// CHECK:      %[[CONV:.+]] = xlstm.causal_conv1d %[[XM]], %[[CWK]] bias(%[[CB]])
// CHECK:      %[[XC:.+]] = linalg.generic {{.*}} ins(%[[CONV]] : tensor<?x?x16xf32>)
// CHECK:        math.exp
// CHECK:      %[[Q:.+]] = xlstm.headwise_linear %[[XC]], %[[QW]] bias(%[[QB]])
// CHECK:      %[[K:.+]] = xlstm.headwise_linear %[[XC]], %[[KW]] bias(%[[KB]])
// CHECK:      %[[V:.+]] = xlstm.headwise_linear %[[XM]], %[[VW]] bias(%[[VB]])
// CHECK:      %[[QKV:.+]] = tensor.concat dim(2) %[[Q]], %[[K]], %[[V]] : {{.*}} -> tensor<?x?x48xf32>
// CHECK:      linalg.contract {{.*}} ins(%[[QKV]], %[[IW]] :
// CHECK:      %[[IG:.+]] = linalg.generic {{.*}} ins(%{{.+}}, %[[IB]] :
// CHECK:      linalg.contract {{.*}} ins(%[[QKV]], %[[FW]] :
// CHECK:      %[[FG:.+]] = linalg.generic {{.*}} ins(%{{.+}}, %[[FB]] :
// CHECK:      %[[QE:.+]] = tensor.expand_shape %[[Q]] {{\[}}[0], [1], [2, 3]] output_shape [%{{.+}}, %{{.+}}, 2, 8]
// CHECK:      %[[QH:.+]] = linalg.transpose ins(%[[QE]] : tensor<?x?x2x8xf32>) outs(%{{.+}} : tensor<?x2x?x8xf32>) permutation = [0, 2, 1, 3]
// CHECK:      %[[KH:.+]] = linalg.transpose
// CHECK:      %[[VH:.+]] = linalg.transpose
// CHECK:      %[[IH:.+]] = linalg.transpose ins(%[[IG]] : tensor<?x?x2xf32>) outs(%{{.+}} : tensor<?x2x?xf32>) permutation = [0, 2, 1]
// CHECK:      %[[FH:.+]] = linalg.transpose ins(%[[FG]] : tensor<?x?x2xf32>)
// CHECK:      %[[H:.+]] = xlstm.mlstm %[[QH]], %[[KH]], %[[VH]], %[[IH]], %[[FH]] {qk_scaling = #xlstm.qk_scaling<key>}
// CHECK-SAME:     -> tensor<?x2x?x8xf32>
// CHECK:      %[[HT:.+]] = linalg.transpose ins(%[[H]] : tensor<?x2x?x8xf32>) outs(%{{.+}} : tensor<?x?x2x8xf32>) permutation = [0, 2, 1, 3]
// CHECK:      %[[HM:.+]] = tensor.collapse_shape %[[HT]] {{\[}}[0], [1], [2, 3]] : tensor<?x?x2x8xf32> into tensor<?x?x16xf32>
// CHECK:      %[[HN:.+]] = xlstm.multihead_norm %[[HM]] weight(%[[ON]]) {eps = 1.000000e-05 : f64, num_heads = 2 : i64, scaling = #xlstm.norm_scaling<one_plus_weight>}
// CHECK:      %[[HO:.+]] = linalg.generic {{.*}} ins(%[[HN]], %[[XC]], %[[Z]], %[[SKIP]] : tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<16xf32>)
// CHECK:      linalg.contract {{.*}} ins(%[[HO]], %[[DW]] : tensor<?x?x16xf32>, tensor<8x16xf32>)
// CHECK:      %[[Y:.+]] = linalg.generic {{.*}} ins(%{{.+}}, %[[DB]] :
// CHECK:      %[[OUT:.+]] = linalg.generic {{.*}} ins(%[[X]], %[[Y]] : tensor<?x?x8xf32>, tensor<?x?x8xf32>)
// CHECK:        arith.addf
// CHECK:      return %[[OUT]]
func.func @mlstm_block(%x: tensor<?x?x8xf32>, %norm: tensor<8xf32>, %skip: tensor<16xf32>,
    %up_w: tensor<32x8xf32>, %up_b: tensor<32xf32>, %q_w: tensor<4x4x4xf32>, %q_b: tensor<16xf32>,
    %k_w: tensor<4x4x4xf32>, %k_b: tensor<16xf32>, %v_w: tensor<4x4x4xf32>, %v_b: tensor<16xf32>,
    %conv_w: tensor<16x1x2xf32>, %conv_b: tensor<16xf32>, %ig_w: tensor<2x48xf32>, %ig_b: tensor<2xf32>,
    %fg_w: tensor<2x48xf32>, %fg_b: tensor<2xf32>, %outnorm: tensor<16xf32>, %down_w: tensor<8x16xf32>,
    %down_b: tensor<8xf32>) -> tensor<?x?x8xf32> {
  %0 = xlstm.mlstm_block %x config #xlstm.mlstm_layer<embedding_dim = 8, inner_dim = 16, num_heads = 2, conv_kernel_size = 2, qkv_blocksize = 4, bias = true>
      params(%norm, %skip, %up_w, %up_b, %q_w, %q_b, %k_w, %k_b, %v_w, %v_b, %conv_w, %conv_b, %ig_w, %ig_b, %fg_w, %fg_b, %outnorm, %down_w, %down_b)
      : tensor<?x?x8xf32>, (tensor<8xf32>, tensor<16xf32>, tensor<32x8xf32>, tensor<32xf32>, tensor<4x4x4xf32>, tensor<16xf32>, tensor<4x4x4xf32>, tensor<16xf32>, tensor<4x4x4xf32>, tensor<16xf32>, tensor<16x1x2xf32>, tensor<16xf32>, tensor<2x48xf32>, tensor<2xf32>, tensor<2x48xf32>, tensor<2xf32>, tensor<16xf32>, tensor<8x16xf32>, tensor<8xf32>)
  return %0 : tensor<?x?x8xf32>
}

// By default (gate-parts), the input and forget gates of q, k and v 32 wide are
// the sum of each part's product with its columns of the gate weight
// (accumulated in one zero-filled output), not a projection of their
// concatenation; 16 wide (above) they keep it.
// PARTS-LABEL: func @mlstm_block
// PARTS:         tensor.concat
// PARTS-LABEL: func @mlstm_block_parts
// PARTS-NOT:     tensor.concat
// PARTS:         %[[Q:.+]] = xlstm.headwise_linear
// PARTS:         %[[K:.+]] = xlstm.headwise_linear
// PARTS:         %[[V:.+]] = xlstm.headwise_linear
// PARTS:         %[[ZERO:.+]] = linalg.fill
// PARTS:         %[[WQ:.+]] = tensor.extract_slice %arg13[0, 0] [2, 32] [1, 1] : tensor<2x96xf32> to tensor<2x32xf32>
// PARTS:         %[[PQ:.+]] = linalg.contract {{.*}} ins(%[[Q]], %[[WQ]] : {{.*}}) outs(%[[ZERO]] :
// PARTS:         %[[WK:.+]] = tensor.extract_slice %arg13[0, 32] [2, 32] [1, 1]
// PARTS:         %[[PK:.+]] = linalg.contract {{.*}} ins(%[[K]], %[[WK]] : {{.*}}) outs(%[[PQ]] :
// PARTS:         %[[WV:.+]] = tensor.extract_slice %arg13[0, 64] [2, 32] [1, 1]
// PARTS:         %[[PV:.+]] = linalg.contract {{.*}} ins(%[[V]], %[[WV]] : {{.*}}) outs(%[[PK]] :
// PARTS:         linalg.generic {{.*}} ins(%[[PV]], %arg14 :
// With gate-bias-first (the default) the bias joins the first part's sum (its kernels
// can store it with the bias added); the other parts add to that.
// FIRST-LABEL: func @mlstm_block_parts
// FIRST:         %[[WQ:.+]] = tensor.extract_slice %arg13[0, 0] [2, 32] [1, 1]
// FIRST:         %[[PQ:.+]] = linalg.contract {{.*}} ins(%{{.+}}, %[[WQ]] :
// FIRST:         %[[BQ:.+]] = linalg.generic {{.*}} ins(%[[PQ]], %arg14 :
// FIRST:         %[[PK:.+]] = linalg.contract {{.*}} outs(%[[BQ]] :
// FIRST:         %[[PV:.+]] = linalg.contract {{.*}} outs(%[[PK]] :
// FIRST-NOT:     linalg.generic {{.*}} ins(%[[PV]], %arg14 :
// PARTS-NOT:     tensor.concat
// PARTS:         xlstm.mlstm
func.func @mlstm_block_parts(%x: tensor<?x?x16xf32>, %norm: tensor<16xf32>, %skip: tensor<32xf32>,
    %up_w: tensor<64x16xf32>, %up_b: tensor<64xf32>, %q_w: tensor<8x4x4xf32>, %q_b: tensor<32xf32>,
    %k_w: tensor<8x4x4xf32>, %k_b: tensor<32xf32>, %v_w: tensor<8x4x4xf32>, %v_b: tensor<32xf32>,
    %conv_w: tensor<32x1x2xf32>, %conv_b: tensor<32xf32>, %ig_w: tensor<2x96xf32>, %ig_b: tensor<2xf32>,
    %fg_w: tensor<2x96xf32>, %fg_b: tensor<2xf32>, %outnorm: tensor<32xf32>, %down_w: tensor<16x32xf32>,
    %down_b: tensor<16xf32>) -> tensor<?x?x16xf32> {
  %0 = xlstm.mlstm_block %x config #xlstm.mlstm_layer<embedding_dim = 16, inner_dim = 32, num_heads = 2, conv_kernel_size = 2, qkv_blocksize = 4, bias = true>
      params(%norm, %skip, %up_w, %up_b, %q_w, %q_b, %k_w, %k_b, %v_w, %v_b, %conv_w, %conv_b, %ig_w, %ig_b, %fg_w, %fg_b, %outnorm, %down_w, %down_b)
      : tensor<?x?x16xf32>, (tensor<16xf32>, tensor<32xf32>, tensor<64x16xf32>, tensor<64xf32>, tensor<8x4x4xf32>, tensor<32xf32>, tensor<8x4x4xf32>, tensor<32xf32>, tensor<8x4x4xf32>, tensor<32xf32>, tensor<32x1x2xf32>, tensor<32xf32>, tensor<2x96xf32>, tensor<2xf32>, tensor<2x96xf32>, tensor<2xf32>, tensor<32xf32>, tensor<16x32xf32>, tensor<16xf32>)
  return %0 : tensor<?x?x16xf32>
}
