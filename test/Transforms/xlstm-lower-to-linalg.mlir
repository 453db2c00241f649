// RUN: xlstm-opt %s --split-input-file --xlstm-lower-to-linalg --cse --verify-diagnostics | FileCheck %s
// The values are checked by the float64 evaluator (unittests/Reference
// PassEquivalence, golden tests at --pipeline=linalg); this file checks the
// shape of the lowering.

// Soft cap: one elementwise generic, math in float32 for bf16 storage.
// CHECK-LABEL: func @soft_cap_bf16
// CHECK-NOT:   xlstm.
// CHECK:       linalg.generic
// CHECK:         arith.extf %{{.*}} : bf16 to f32
// CHECK:         math.tanh %{{.*}} : f32
// CHECK:         arith.truncf %{{.*}} : f32 to bf16
// CHECK:       return
func.func @soft_cap_bf16(%x: tensor<?x?x2xbf16>) -> tensor<?x?x2xbf16> {
  %y = xlstm.soft_cap %x cap 1.500000e+01 : tensor<?x?x2xbf16>
  return %y : tensor<?x?x2xbf16>
}

// -----

// Causal conv: the padded input (state, then x), a reduction over the
// kernel taps through the map (t + k), and the last K - 1 inputs as the
// final state.
// CHECK:       #[[PAD:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1 + d3, d2)>
// CHECK-LABEL: func @conv_with_state
// CHECK-SAME:  (%[[X:[^:]+]]: tensor<?x?x8xf32>, %[[W:[^:]+]]: tensor<8x4xf32>, %[[B:[^:]+]]: tensor<8xf32>, %[[S:[^:]+]]: tensor<?x3x8xf32>)
// CHECK:       %[[P0:.+]] = tensor.insert_slice %[[S]] into
// CHECK:       %[[P:.+]] = tensor.insert_slice %[[X]] into %[[P0]][0, 3, 0]
// CHECK:       linalg.generic {indexing_maps = [#{{map[0-9]*}}, {{.*}}], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[P]], %[[W]]
// CHECK:       tensor.extract_slice %[[P]]
// CHECK-NOT:   xlstm.
func.func @conv_with_state(%x: tensor<?x?x8xf32>, %w: tensor<8x4xf32>, %b: tensor<8xf32>,
                           %s: tensor<?x3x8xf32>) -> (tensor<?x?x8xf32>, tensor<?x3x8xf32>) {
  %y, %f = xlstm.causal_conv1d %x, %w bias(%b) initial_state(%s)
      : (tensor<?x?x8xf32>, tensor<8x4xf32>, tensor<8xf32>, tensor<?x3x8xf32>)
      -> (tensor<?x?x8xf32>, tensor<?x3x8xf32>)
  return %y, %f : tensor<?x?x8xf32>, tensor<?x3x8xf32>
}

// -----

// The chunk-state scan is a loop over ceil(S / L) chunks carrying (C, n, m)
// and the per-chunk results; the chunk outputs a loop over the chunks too.
// CHECK-LABEL: func @chunkwise
// CHECK:       %[[NC:.+]] = arith.ceildivsi %{{.*}}, %c16
// CHECK:       scf.for %{{.*}} = %c0 to %[[NC]] step %c1 iter_args({{.*}}) -> (tensor<?x2x8x4xf32>, tensor<?x2x8xf32>, tensor<?x2xf32>, tensor<?x2x?x8x4xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?xf32>)
// CHECK:         arith.minsi
// CHECK:         linalg.index 3
// CHECK:         scf.yield
// CHECK:       scf.for {{.*}} -> (tensor<?x2x?x4xf32>)
// CHECK-NOT:   xlstm.
func.func @chunkwise(%q: tensor<?x2x?x8xf32>, %k: tensor<?x2x?x8xf32>, %v: tensor<?x2x?x4xf32>,
                     %i: tensor<?x2x?xf32>, %f: tensor<?x2x?xf32>) -> tensor<?x2x?x4xf32> {
  %c, %n, %m, %cf, %nf, %mf = xlstm.mlstm_chunk_states %k, %v, %i, %f
      {chunk_size = 16 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<?x2x?x8xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?xf32>, tensor<?x2x?xf32>)
      -> (tensor<?x2x?x8x4xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?xf32>,
          tensor<?x2x8x4xf32>, tensor<?x2x8xf32>, tensor<?x2xf32>)
  %h = xlstm.mlstm_chunk_outputs %q, %k, %v, %i, %f, %c, %n, %m
      {chunk_size = 16 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?xf32>,
         tensor<?x2x?xf32>, tensor<?x2x?x8x4xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?xf32>)
      -> tensor<?x2x?x4xf32>
  return %h : tensor<?x2x?x4xf32>
}

// -----

// Entering C stored in bf16 (narrow-entering-states): the scan carries C
// in float32 and rounds each chunk's copy into the bf16 result.
// CHECK-LABEL: func @narrow_entering
// CHECK:       scf.for {{.*}} -> (tensor<?x2x8x4xf32>, tensor<?x2x8xf32>, tensor<?x2xf32>, tensor<?x2x?x8x4xbf16>, tensor<?x2x?x8xf32>, tensor<?x2x?xf32>)
// CHECK:         linalg.generic {{.*}} ins(%{{.*}} : tensor<?x2x8x4xf32>) outs(%{{.*}} : tensor<?x2x8x4xbf16>)
// CHECK:           arith.truncf %{{.*}} : f32 to bf16
// CHECK:         tensor.insert_slice %{{.*}} : tensor<?x2x8x4xbf16> into tensor<?x2x?x8x4xbf16>
func.func @narrow_entering(%k: tensor<?x2x?x8xbf16>, %v: tensor<?x2x?x4xbf16>,
                           %i: tensor<?x2x?xf32>, %f: tensor<?x2x?xf32>)
    -> (tensor<?x2x?x8x4xbf16>, tensor<?x2x8x4xf32>) {
  %c, %n, %m, %cf, %nf, %mf = xlstm.mlstm_chunk_states %k, %v, %i, %f
      {chunk_size = 16 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<?x2x?x8xbf16>, tensor<?x2x?x4xbf16>, tensor<?x2x?xf32>, tensor<?x2x?xf32>)
      -> (tensor<?x2x?x8x4xbf16>, tensor<?x2x?x8xf32>, tensor<?x2x?xf32>,
          tensor<?x2x8x4xf32>, tensor<?x2x8xf32>, tensor<?x2xf32>)
  return %c, %cf : tensor<?x2x?x8x4xbf16>, tensor<?x2x8x4xf32>
}

// -----

// The fused sLSTM is a loop over time steps; each step mixes the previous
// hidden state per head (a reduction over the head dim) and updates all four
// states in one generic with four results.
// CHECK-LABEL: func @slstm
// CHECK:       scf.for %[[T:.+]] = %c0 to %{{.*}} step %c1 iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x?x8xf32>)
// CHECK:         tensor.extract_slice %{{.*}}[0, %[[T]], 0] [%{{.*}}, 1, 8] [1, 1, 1] : tensor<?x?x8xf32> to tensor<?x8xf32>
// CHECK:         iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]
// CHECK:         linalg.generic {{.*}} outs(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x2x4xf32>, tensor<?x2x4xf32>, tensor<?x2x4xf32>, tensor<?x2x4xf32>)
// CHECK:         tensor.insert_slice %{{.*}} into %{{.*}}[0, %[[T]], 0]
// CHECK-NOT:   xlstm.
func.func @slstm(%i: tensor<?x?x8xf32>, %f: tensor<?x?x8xf32>, %z: tensor<?x?x8xf32>,
                 %o: tensor<?x?x8xf32>, %r: tensor<2x4x4x4xf32>, %b: tensor<2x4x4xf32>)
    -> tensor<?x?x8xf32> {
  %y = xlstm.slstm %i, %f, %z, %o, %r, %b {function = #xlstm.function<slstm>, num_heads = 2 : i64}
      : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>,
         tensor<2x4x4x4xf32>, tensor<2x4x4xf32>) -> tensor<?x?x8xf32>
  return %y : tensor<?x?x8xf32>
}

// -----

// Narrow contractions accumulate in float32 and round once.
// CHECK-LABEL: func @bf16_projection
// CHECK:       %[[ACC:.+]] = linalg.contract {{.*}} ins(%{{.*}}, %{{.*}} : tensor<?x16xbf16>, tensor<8x16xbf16>) outs(%{{.*}} : tensor<?x8xf32>)
// CHECK:       linalg.generic {{.*}} ins(%[[ACC]] : tensor<?x8xf32>) outs(%{{.*}} : tensor<?x8xbf16>)
#lhs = affine_map<(d0, d1, d2) -> (d0, d2)>
#rhs = affine_map<(d0, d1, d2) -> (d1, d2)>
#out = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func @bf16_projection(%x: tensor<?x16xbf16>, %w: tensor<8x16xbf16>,
                           %init: tensor<?x8xbf16>) -> tensor<?x8xbf16> {
  %y = linalg.contract indexing_maps = [#lhs, #rhs, #out]
      ins(%x, %w : tensor<?x16xbf16>, tensor<8x16xbf16>) outs(%init : tensor<?x8xbf16>) -> tensor<?x8xbf16>
  return %y : tensor<?x8xbf16>
}

// -----

// Headwise projections with tensor-core-sized blocks (the sLSTM's gates):
// one contraction of x's blocks (lead..., h, in) with W (h, out, in) in
// float32, collapsed back to rows and rounded once; small blocks (the
// mLSTM's 4x4 q/k/v) a generic multiply-add.
// CHECK-LABEL: func @headwise_blocks
// CHECK:       %[[XB:.+]] = tensor.expand_shape %{{.+}} {{\[\[}}0], [1], [2, 3]] output_shape [%{{.+}}, %{{.+}}, 2, 16] : tensor<?x?x32xbf16> into tensor<?x?x2x16xbf16>
// CHECK:       %[[ACC:.+]] = linalg.contract indexing_maps = [#{{.+}}, #{{.+}}, #{{.+}}] ins(%[[XB]], %{{.+}} : tensor<?x?x2x16xbf16>, tensor<2x8x16xbf16>) outs(%{{.+}} : tensor<?x?x2x8xf32>)
// CHECK:       %[[ROWS:.+]] = tensor.collapse_shape %[[ACC]] {{\[\[}}0], [1], [2, 3]] : tensor<?x?x2x8xf32> into tensor<?x?x16xf32>
// CHECK:       linalg.generic {{.*}} ins(%[[ROWS]] : tensor<?x?x16xf32>) outs(%{{.+}} : tensor<?x?x16xbf16>)
// CHECK-LABEL: func @headwise_small_blocks
// CHECK-NOT:   linalg.contract
// CHECK:       linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]
func.func @headwise_blocks(%x: tensor<?x?x32xbf16>, %w: tensor<2x8x16xbf16>) -> tensor<?x?x16xbf16> {
  %y = xlstm.headwise_linear %x, %w : (tensor<?x?x32xbf16>, tensor<2x8x16xbf16>) -> tensor<?x?x16xbf16>
  return %y : tensor<?x?x16xbf16>
}
func.func @headwise_small_blocks(%x: tensor<?x?x8xbf16>, %w: tensor<2x4x4xbf16>) -> tensor<?x?x8xbf16> {
  %y = xlstm.headwise_linear %x, %w : (tensor<?x?x8xbf16>, tensor<2x4x4xbf16>) -> tensor<?x?x8xbf16>
  return %y : tensor<?x?x8xbf16>
}

// -----

// The untiled recurrence needs xlstm-tile-mlstm-chunkwise first.
func.func @untiled(%q: tensor<1x1x4x8xf32>, %i: tensor<1x1x4xf32>) -> tensor<1x1x4x8xf32> {
  // expected-error @+1 {{'xlstm.mlstm' has no lowering; run xlstm-expand-blocks and xlstm-tile-mlstm-chunkwise first}}
  %h = xlstm.mlstm %q, %q, %q, %i, %i {qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4xf32>, tensor<1x1x4xf32>) -> tensor<1x1x4x8xf32>
  return %h : tensor<1x1x4x8xf32>
}

// -----

// A dynamic feature width cannot be baked into the norm.
func.func @dynamic_width(%x: tensor<?x?xf32>) -> tensor<?x?xf32> {
  // expected-error @+1 {{'xlstm.rms_norm' has no lowering}}
  %y = xlstm.rms_norm %x {eps = 1.000000e-06 : f64} : (tensor<?x?xf32>) -> tensor<?x?xf32>
  return %y : tensor<?x?xf32>
}
