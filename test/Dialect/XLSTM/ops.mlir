// RUN: xlstm-opt %s | FileCheck %s
// RUN: xlstm-opt %s | xlstm-opt | FileCheck %s
// RUN: xlstm-opt %s --mlir-print-op-generic | xlstm-opt | FileCheck %s

// Round trip of every primitive and recurrence op in its custom form.

// CHECK-LABEL: func @embedding_and_head
func.func @embedding_and_head(%tokens: tensor<?x?xi64>, %table: tensor<16x8xf32>) -> tensor<?x?x16xf32> {
  // CHECK: xlstm.embedding %{{.*}}, %{{.*}} : (tensor<?x?xi64>, tensor<16x8xf32>) -> tensor<?x?x8xf32>
  %e = xlstm.embedding %tokens, %table : (tensor<?x?xi64>, tensor<16x8xf32>) -> tensor<?x?x8xf32>
  // CHECK: xlstm.lm_head %{{.*}}, %{{.*}} {soft_cap = 3.000000e+01 : f64}
  %l = xlstm.lm_head %e, %table {soft_cap = 30.0 : f64} : (tensor<?x?x8xf32>, tensor<16x8xf32>) -> tensor<?x?x16xf32>
  // CHECK: xlstm.lm_head %{{.*}}, %{{.*}} : (tensor<?x?x8xf32>
  %m = xlstm.lm_head %e, %table : (tensor<?x?x8xf32>, tensor<16x8xf32>) -> tensor<?x?x16xf32>
  return %l : tensor<?x?x16xf32>
}

// A float32 residual stream around bf16 parameters (narrow programs): the
// embedding widens, norms narrow into projection operands, the FFN writes
// float32 back, the head writes float32 logits.
// CHECK-LABEL: func @mixed_precision_stream
func.func @mixed_precision_stream(%tokens: tensor<?x?xi64>, %table: tensor<16x8xbf16>, %w: tensor<8xbf16>,
                                  %fg: tensor<12x8xbf16>, %fd: tensor<8x12xbf16>) -> tensor<?x?x16xf32> {
  // CHECK: xlstm.embedding {{.*}} -> tensor<?x?x8xf32>
  %e = xlstm.embedding %tokens, %table : (tensor<?x?xi64>, tensor<16x8xbf16>) -> tensor<?x?x8xf32>
  // CHECK: xlstm.rms_norm {{.*}} : (tensor<?x?x8xf32>, tensor<8xbf16>) -> tensor<?x?x8xbf16>
  %n = xlstm.rms_norm %e weight(%w) {eps = 1.0e-6 : f64} : (tensor<?x?x8xf32>, tensor<8xbf16>) -> tensor<?x?x8xbf16>
  // CHECK: xlstm.gated_ffn {{.*}} -> tensor<?x?x8xf32>
  %f = xlstm.gated_ffn %n, %fg, %fg, %fd {act = #xlstm.act<swish>} : (tensor<?x?x8xbf16>, tensor<12x8xbf16>, tensor<12x8xbf16>, tensor<8x12xbf16>) -> tensor<?x?x8xf32>
  // CHECK: xlstm.lm_head {{.*}} : (tensor<?x?x8xbf16>, tensor<16x8xbf16>) -> tensor<?x?x16xf32>
  %l = xlstm.lm_head %n, %table : (tensor<?x?x8xbf16>, tensor<16x8xbf16>) -> tensor<?x?x16xf32>
  return %l : tensor<?x?x16xf32>
}

// CHECK-LABEL: func @mlstm
func.func @mlstm(%q: tensor<2x3x5x4xf32>, %k: tensor<2x3x5x4xf32>, %v: tensor<2x3x5x6xf32>,
                 %i: tensor<2x3x5xf32>, %f: tensor<2x3x5xf32>,
                 %c0: tensor<2x3x4x6xf32>, %n0: tensor<2x3x4xf32>, %m0: tensor<2x3xf32>) {
  // CHECK: xlstm.mlstm %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {qk_scaling = #xlstm.qk_scaling<key>}
  %h = xlstm.mlstm %q, %k, %v, %i, %f {qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<2x3x5x4xf32>, tensor<2x3x5x4xf32>, tensor<2x3x5x6xf32>, tensor<2x3x5xf32>, tensor<2x3x5xf32>) -> tensor<2x3x5x6xf32>
  // CHECK: xlstm.mlstm {{.*}} initial_state(%{{.*}}, %{{.*}}, %{{.*}}) {eps = 0.000000e+00 : f64, qk_scaling = #xlstm.qk_scaling<query>}
  // CHECK-SAME: -> (tensor<2x3x5x6xf32>, tensor<2x3x4x6xf32>, tensor<2x3x4xf32>, tensor<2x3xf32>)
  %h2:4 = xlstm.mlstm %q, %k, %v, %i, %f initial_state(%c0, %n0, %m0) {eps = 0.0 : f64, qk_scaling = #xlstm.qk_scaling<query>}
      : (tensor<2x3x5x4xf32>, tensor<2x3x5x4xf32>, tensor<2x3x5x6xf32>, tensor<2x3x5xf32>, tensor<2x3x5xf32>,
         tensor<2x3x4x6xf32>, tensor<2x3x4xf32>, tensor<2x3xf32>)
      -> (tensor<2x3x5x6xf32>, tensor<2x3x4x6xf32>, tensor<2x3x4xf32>, tensor<2x3xf32>)
  return
}

// CHECK-LABEL: func @slstm
func.func @slstm(%g: tensor<?x?x8xf32>, %r: tensor<2x4x4x4xf32>, %b: tensor<2x4x4xf32>, %s: tensor<?x8xf32>) {
  // CHECK: xlstm.slstm {{.*}} {function = #xlstm.function<slstm>, num_heads = 2 : i64}
  %y = xlstm.slstm %g, %g, %g, %g, %r, %b {function = #xlstm.function<slstm>, num_heads = 2 : i64}
      : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<2x4x4x4xf32>, tensor<2x4x4xf32>) -> tensor<?x?x8xf32>
  // CHECK: xlstm.slstm {{.*}} initial_state(%{{.*}}, %{{.*}}) {function = #xlstm.function<lstm>, num_heads = 2 : i64}
  %y2:3 = xlstm.slstm %g, %g, %g, %g, %r, %b initial_state(%s, %s) {function = #xlstm.function<lstm>, num_heads = 2 : i64}
      : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<2x4x4x4xf32>, tensor<2x4x4xf32>,
         tensor<?x8xf32>, tensor<?x8xf32>) -> (tensor<?x?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>)
  // CHECK: xlstm.slstm_step {{.*}} state(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) {function = #xlstm.function<slstm>, num_heads = 2 : i64}
  %step:4 = xlstm.slstm_step %s, %s, %s, %s, %r, %b state(%s, %s, %s, %s) {function = #xlstm.function<slstm>, num_heads = 2 : i64}
      : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<2x4x4x4xf32>, tensor<2x4x4xf32>,
         tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>)
      -> (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>)
  return
}

// CHECK-LABEL: func @primitives
func.func @primitives(%x: tensor<?x?x8xbf16>, %w: tensor<8x4xbf16>, %b: tensor<8xbf16>,
                      %hw: tensor<2x4x4xbf16>, %fg: tensor<12x8xbf16>, %fd: tensor<8x12xbf16>,
                      %fb: tensor<12xbf16>) {
  // CHECK: xlstm.causal_conv1d %{{.*}}, %{{.*}} bias(%{{.*}}) :
  %0 = xlstm.causal_conv1d %x, %w bias(%b) : (tensor<?x?x8xbf16>, tensor<8x4xbf16>, tensor<8xbf16>) -> tensor<?x?x8xbf16>
  // CHECK: xlstm.causal_conv1d %{{.*}}, %{{.*}} :
  %1 = xlstm.causal_conv1d %x, %w : (tensor<?x?x8xbf16>, tensor<8x4xbf16>) -> tensor<?x?x8xbf16>
  // CHECK: xlstm.headwise_linear %{{.*}}, %{{.*}} bias(%{{.*}}) :
  %2 = xlstm.headwise_linear %x, %hw bias(%b) : (tensor<?x?x8xbf16>, tensor<2x4x4xbf16>, tensor<8xbf16>) -> tensor<?x?x8xbf16>
  // CHECK: xlstm.layer_norm %{{.*}} weight(%{{.*}}) {eps = 1.000000e-05 : f64, scaling = #xlstm.norm_scaling<one_plus_weight>}
  %3 = xlstm.layer_norm %x weight(%b) {eps = 1.0e-5 : f64, scaling = #xlstm.norm_scaling<one_plus_weight>} : (tensor<?x?x8xbf16>, tensor<8xbf16>) -> tensor<?x?x8xbf16>
  // CHECK: xlstm.layer_norm %{{.*}} {eps = 0.000000e+00 : f64, scaling = #xlstm.norm_scaling<weight>} : (tensor<?x?x8xbf16>) -> tensor<?x?x8xbf16>
  %4 = xlstm.layer_norm %x {eps = 0.0 : f64, scaling = #xlstm.norm_scaling<weight>} : (tensor<?x?x8xbf16>) -> tensor<?x?x8xbf16>
  // CHECK: xlstm.multihead_norm %{{.*}} weight(%{{.*}}) bias(%{{.*}}) {eps = 9.9999999999999995E-7 : f64, num_heads = 2 : i64, scaling = #xlstm.norm_scaling<weight>}
  %5 = xlstm.multihead_norm %x weight(%b) bias(%b) {eps = 1.0e-6 : f64, num_heads = 2 : i64, scaling = #xlstm.norm_scaling<weight>} : (tensor<?x?x8xbf16>, tensor<8xbf16>, tensor<8xbf16>) -> tensor<?x?x8xbf16>
  // CHECK: xlstm.rms_norm %{{.*}} weight(%{{.*}}) {eps = 9.9999999999999995E-7 : f64}
  %6 = xlstm.rms_norm %x weight(%b) {eps = 1.0e-6 : f64} : (tensor<?x?x8xbf16>, tensor<8xbf16>) -> tensor<?x?x8xbf16>
  // CHECK: xlstm.soft_cap %{{.*}} cap 1.500000e+01 : tensor<?x?x8xbf16>
  %7 = xlstm.soft_cap %x cap 15.0 : tensor<?x?x8xbf16>
  // CHECK: xlstm.gated_ffn %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {act = #xlstm.act<gelu>}
  %8 = xlstm.gated_ffn %x, %fg, %fg, %fd {act = #xlstm.act<gelu>} : (tensor<?x?x8xbf16>, tensor<12x8xbf16>, tensor<12x8xbf16>, tensor<8x12xbf16>) -> tensor<?x?x8xbf16>
  // CHECK: xlstm.gated_ffn {{.*}} biases(%{{.*}}, %{{.*}}, %{{.*}}) {act = #xlstm.act<swish>}
  %9 = xlstm.gated_ffn %x, %fg, %fg, %fd biases(%fb, %fb, %b) {act = #xlstm.act<swish>} : (tensor<?x?x8xbf16>, tensor<12x8xbf16>, tensor<12x8xbf16>, tensor<8x12xbf16>, tensor<12xbf16>, tensor<12xbf16>, tensor<8xbf16>) -> tensor<?x?x8xbf16>
  return
}

// CHECK-LABEL: func @mlstm_chunkwise
func.func @mlstm_chunkwise(%q: tensor<2x3x10x4xbf16>, %v: tensor<2x3x10x6xbf16>, %g: tensor<2x3x10xf32>,
                           %c0: tensor<2x3x4x6xf32>, %n0: tensor<2x3x4xf32>, %m0: tensor<2x3xf32>) -> tensor<2x3x10x6xbf16> {
  // CHECK: xlstm.mlstm_chunk_states {{.*}} initial_state(%{{.*}}, %{{.*}}, %{{.*}}) {chunk_size = 4 : i64, qk_scaling = #xlstm.qk_scaling<query>}
  // CHECK-SAME: -> (tensor<2x3x3x4x6xf32>, tensor<2x3x3x4xf32>, tensor<2x3x3xf32>, tensor<2x3x4x6xf32>, tensor<2x3x4xf32>, tensor<2x3xf32>)
  %c, %n, %m, %cf, %nf, %mf = xlstm.mlstm_chunk_states %q, %v, %g, %g initial_state(%c0, %n0, %m0) {chunk_size = 4 : i64, qk_scaling = #xlstm.qk_scaling<query>}
      : (tensor<2x3x10x4xbf16>, tensor<2x3x10x6xbf16>, tensor<2x3x10xf32>, tensor<2x3x10xf32>, tensor<2x3x4x6xf32>, tensor<2x3x4xf32>, tensor<2x3xf32>)
      -> (tensor<2x3x3x4x6xf32>, tensor<2x3x3x4xf32>, tensor<2x3x3xf32>, tensor<2x3x4x6xf32>, tensor<2x3x4xf32>, tensor<2x3xf32>)
  // CHECK: xlstm.mlstm_chunk_outputs {{.*}} {chunk_size = 4 : i64, qk_scaling = #xlstm.qk_scaling<query>}
  %h = xlstm.mlstm_chunk_outputs %q, %q, %v, %g, %g, %c, %n, %m {chunk_size = 4 : i64, qk_scaling = #xlstm.qk_scaling<query>}
      : (tensor<2x3x10x4xbf16>, tensor<2x3x10x4xbf16>, tensor<2x3x10x6xbf16>, tensor<2x3x10xf32>, tensor<2x3x10xf32>,
         tensor<2x3x3x4x6xf32>, tensor<2x3x3x4xf32>, tensor<2x3x3xf32>) -> tensor<2x3x10x6xbf16>
  return %h : tensor<2x3x10x6xbf16>
}
