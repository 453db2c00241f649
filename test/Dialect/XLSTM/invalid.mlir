// RUN: xlstm-opt %s --split-input-file --verify-diagnostics

// Every verifier error of the dialect, one per split.

// expected-error @+1 {{num_heads (3) must divide inner_dim (8)}}
func.func private @f() attributes {c = #xlstm.mlstm_layer<embedding_dim = 4, inner_dim = 8, num_heads = 3, conv_kernel_size = 2, qkv_blocksize = 4, bias = false>}

// -----

// expected-error @+1 {{qkv_blocksize (3) must divide inner_dim (8)}}
func.func private @f() attributes {c = #xlstm.mlstm_layer<embedding_dim = 4, inner_dim = 8, num_heads = 2, conv_kernel_size = 2, qkv_blocksize = 3, bias = false>}

// -----

// expected-error @+1 {{embedding_dim must be positive, got 0}}
func.func private @f() attributes {c = #xlstm.mlstm_layer<embedding_dim = 0, inner_dim = 8, num_heads = 2, conv_kernel_size = 2, qkv_blocksize = 4, bias = false>}

// -----

// expected-error @+1 {{conv_kernel_size must be positive, got 0}}
func.func private @f() attributes {c = #xlstm.mlstm_layer<embedding_dim = 4, inner_dim = 8, num_heads = 2, conv_kernel_size = 0, qkv_blocksize = 4, bias = false>}

// -----

// expected-error @+1 {{num_heads (3) must divide embedding_dim (8)}}
func.func private @f() attributes {c = #xlstm.slstm_layer<embedding_dim = 8, num_heads = 3, conv_kernel_size = 4, group_norm_weight = true, layout = cuda, function = slstm>}

// -----

// expected-error @+1 {{conv_kernel_size must be >= 0 (0 = no conv), got -1}}
func.func private @f() attributes {c = #xlstm.slstm_layer<embedding_dim = 8, num_heads = 2, conv_kernel_size = -1, group_norm_weight = true, layout = cuda, function = slstm>}

// -----

// expected-error @+1 {{proj_dim must be positive, got 0}}
func.func private @f() attributes {c = #xlstm.ffn<proj_dim = 0, act = gelu, bias = false>}

// -----

// expected-error @+1 {{num_heads (3) must divide qk_dim (8)}}
func.func private @f() attributes {c = #xlstm.large_block<embedding_dim = 16, num_heads = 3, qk_dim = 8, v_dim = 16, ffn_dim = 64, use_bias = false, norm_eps = 1.0e-6 : f64, eps = 1.0e-6 : f64, gate_soft_cap = 15.0 : f64, weight_mode = single>}

// -----

// expected-error @+1 {{num_heads (2) must divide v_dim (15)}}
func.func private @f() attributes {c = #xlstm.large_block<embedding_dim = 16, num_heads = 2, qk_dim = 8, v_dim = 15, ffn_dim = 64, use_bias = false, norm_eps = 1.0e-6 : f64, eps = 1.0e-6 : f64, gate_soft_cap = 15.0 : f64, weight_mode = single>}

// -----

// expected-error @+1 {{gate_soft_cap must be positive, got 0}}
func.func private @f() attributes {c = #xlstm.large_block<embedding_dim = 16, num_heads = 2, qk_dim = 8, v_dim = 16, ffn_dim = 64, use_bias = false, norm_eps = 1.0e-6 : f64, eps = 1.0e-6 : f64, gate_soft_cap = 0.0 : f64, weight_mode = single>}

// -----

// expected-error @+1 {{norm_eps and eps must be non-negative}}
func.func private @f() attributes {c = #xlstm.large_block<embedding_dim = 16, num_heads = 2, qk_dim = 8, v_dim = 16, ffn_dim = 64, use_bias = false, norm_eps = -1.0 : f64, eps = 1.0e-6 : f64, gate_soft_cap = 15.0 : f64, weight_mode = single>}

// -----

func.func @block_param_count(%x: tensor<?x?x4xf32>, %w: tensor<4xf32>) -> tensor<?x?x4xf32> {
  // expected-error @+1 {{'xlstm.mlstm_block' op expects 14 parameters for its config, got 1}}
  %y = xlstm.mlstm_block %x config #xlstm.mlstm_layer<embedding_dim = 4, inner_dim = 8, num_heads = 2, conv_kernel_size = 2, qkv_blocksize = 4, bias = false> params(%w) : tensor<?x?x4xf32>, (tensor<4xf32>)
  return %y : tensor<?x?x4xf32>
}

// -----

func.func @block_input_width(%x: tensor<?x?x5xf32>, %w: tensor<5xf32>) -> tensor<?x?x5xf32> {
  // expected-error @+1 {{'xlstm.slstm_block' op input must have shape (?, ?, 4), got 'tensor<?x?x5xf32>'}}
  %z = xlstm.slstm_block %x config #xlstm.slstm_layer<embedding_dim = 4, num_heads = 2, conv_kernel_size = 0, group_norm_weight = false, layout = vanilla, function = slstm> params(%w) : tensor<?x?x5xf32>, (tensor<5xf32>)
  return %z : tensor<?x?x5xf32>
}

// -----

func.func @rms_weight(%x: tensor<?x?x5xf32>, %w: tensor<4xf32>) {
  // expected-error @+1 {{'xlstm.rms_norm' op weight must have shape (5), got 'tensor<4xf32>'}}
  %y = xlstm.rms_norm %x weight(%w) {eps = 1.0e-6 : f64} : (tensor<?x?x5xf32>, tensor<4xf32>) -> tensor<?x?x5xf32>
  return
}

// -----

func.func @block_param_shape(%x: tensor<?x?x4xf32>, %n: tensor<4xf32>, %g: tensor<2x2x2xf32>,
                             %r: tensor<2x2x8xf32>, %b: tensor<16xf32>) -> tensor<?x?x4xf32> {
  // expected-error @+1 {{'xlstm.slstm_block' op parameter #5 'xlstm.slstm_cell._recurrent_kernel_' must have shape (2, 8, 2), got 'tensor<2x2x8xf32>'}}
  %y = xlstm.slstm_block %x config #xlstm.slstm_layer<embedding_dim = 4, num_heads = 2, conv_kernel_size = 0, group_norm_weight = false, layout = vanilla, function = slstm> params(%n, %g, %g, %g, %g, %r, %b) : tensor<?x?x4xf32>, (tensor<4xf32>, tensor<2x2x2xf32>, tensor<2x2x2xf32>, tensor<2x2x2xf32>, tensor<2x2x2xf32>, tensor<2x2x8xf32>, tensor<16xf32>)
  return %y : tensor<?x?x4xf32>
}

// -----

func.func @embedding_tokens(%t: tensor<?xi64>, %table: tensor<16x8xf32>) {
  // expected-error @+1 {{'xlstm.embedding' op tokens must be a rank-2 tensor (batch, seq), got 'tensor<?xi64>'}}
  %e = xlstm.embedding %t, %table : (tensor<?xi64>, tensor<16x8xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @embedding_result(%t: tensor<2x3xi64>, %table: tensor<16x8xf32>) {
  // expected-error @+1 {{'xlstm.embedding' op result must have shape (2, 3, 8), got 'tensor<2x3x9xf32>'}}
  %e = xlstm.embedding %t, %table : (tensor<2x3xi64>, tensor<16x8xf32>) -> tensor<2x3x9xf32>
  return
}

// -----

func.func @lm_head_weight(%x: tensor<?x?x8xf32>, %w: tensor<16x7xf32>) {
  // expected-error @+1 {{'xlstm.lm_head' op weight must have shape (?, 8), got 'tensor<16x7xf32>'}}
  %l = xlstm.lm_head %x, %w : (tensor<?x?x8xf32>, tensor<16x7xf32>) -> tensor<?x?x16xf32>
  return
}

// -----

func.func @lm_head_result(%x: tensor<?x?x8xf32>, %w: tensor<16x8xf32>) {
  // expected-error @+1 {{'xlstm.lm_head' op result must have shape (?, ?, 16), got 'tensor<?x?x15xf32>'}}
  %l = xlstm.lm_head %x, %w : (tensor<?x?x8xf32>, tensor<16x8xf32>) -> tensor<?x?x15xf32>
  return
}

// -----

func.func @lm_head_cap(%x: tensor<?x?x8xf32>, %w: tensor<16x8xf32>) {
  // expected-error @+1 {{'xlstm.lm_head' op attribute 'soft_cap' failed to satisfy constraint: 64-bit float attribute whose value is positive}}
  %l = xlstm.lm_head %x, %w {soft_cap = -1.0 : f64} : (tensor<?x?x8xf32>, tensor<16x8xf32>) -> tensor<?x?x16xf32>
  return
}

// -----

func.func @mlstm_rank(%q: tensor<2x5x4xf32>, %v: tensor<2x3x5x6xf32>, %g: tensor<2x3x5xf32>) {
  // expected-error @+1 {{'xlstm.mlstm' op q must be a rank-4 tensor (batch, heads, seq, dhqk), got 'tensor<2x5x4xf32>'}}
  %h = xlstm.mlstm %q, %q, %v, %g, %g {qk_scaling = #xlstm.qk_scaling<key>} : (tensor<2x5x4xf32>, tensor<2x5x4xf32>, tensor<2x3x5x6xf32>, tensor<2x3x5xf32>, tensor<2x3x5xf32>) -> tensor<2x3x5x6xf32>
  return
}

// -----

func.func @mlstm_k(%q: tensor<2x3x5x4xf32>, %k: tensor<2x3x5x3xf32>, %v: tensor<2x3x5x6xf32>, %g: tensor<2x3x5xf32>) {
  // expected-error @+1 {{'xlstm.mlstm' op k must have shape (2, 3, 5, 4), got 'tensor<2x3x5x3xf32>'}}
  %h = xlstm.mlstm %q, %k, %v, %g, %g {qk_scaling = #xlstm.qk_scaling<key>} : (tensor<2x3x5x4xf32>, tensor<2x3x5x3xf32>, tensor<2x3x5x6xf32>, tensor<2x3x5xf32>, tensor<2x3x5xf32>) -> tensor<2x3x5x6xf32>
  return
}

// -----

func.func @mlstm_gate(%q: tensor<2x3x5x4xf32>, %v: tensor<2x3x5x6xf32>, %g: tensor<2x5x3xf32>) {
  // expected-error @+1 {{'xlstm.mlstm' op igate must have shape (2, 3, 5), got 'tensor<2x5x3xf32>'}}
  %h = xlstm.mlstm %q, %q, %v, %g, %g {qk_scaling = #xlstm.qk_scaling<key>} : (tensor<2x3x5x4xf32>, tensor<2x3x5x4xf32>, tensor<2x3x5x6xf32>, tensor<2x5x3xf32>, tensor<2x5x3xf32>) -> tensor<2x3x5x6xf32>
  return
}

// -----

func.func @mlstm_h(%q: tensor<2x3x5x4xf32>, %v: tensor<2x3x5x6xf32>, %g: tensor<2x3x5xf32>) {
  // expected-error @+1 {{'xlstm.mlstm' op h must have shape (2, 3, 5, 6), got 'tensor<2x3x5x4xf32>'}}
  %h = xlstm.mlstm %q, %q, %v, %g, %g {qk_scaling = #xlstm.qk_scaling<key>} : (tensor<2x3x5x4xf32>, tensor<2x3x5x4xf32>, tensor<2x3x5x6xf32>, tensor<2x3x5xf32>, tensor<2x3x5xf32>) -> tensor<2x3x5x4xf32>
  return
}

// -----

func.func @mlstm_state_count(%q: tensor<2x3x5x4xf32>, %v: tensor<2x3x5x6xf32>, %g: tensor<2x3x5xf32>, %c: tensor<2x3x4x6xf32>) {
  // expected-error @+1 {{'xlstm.mlstm' op expects 0 or 3 initial state tensors (C, n, m), got 1}}
  %h = xlstm.mlstm %q, %q, %v, %g, %g initial_state(%c) {qk_scaling = #xlstm.qk_scaling<key>} : (tensor<2x3x5x4xf32>, tensor<2x3x5x4xf32>, tensor<2x3x5x6xf32>, tensor<2x3x5xf32>, tensor<2x3x5xf32>, tensor<2x3x4x6xf32>) -> tensor<2x3x5x6xf32>
  return
}

// -----

func.func @mlstm_state_shape(%q: tensor<2x3x5x4xf32>, %v: tensor<2x3x5x6xf32>, %g: tensor<2x3x5xf32>) {
  // expected-error @+1 {{'xlstm.mlstm' op final state m must have shape (2, 3), got 'tensor<2x3x5xf32>'}}
  %h:4 = xlstm.mlstm %q, %q, %v, %g, %g {qk_scaling = #xlstm.qk_scaling<key>} : (tensor<2x3x5x4xf32>, tensor<2x3x5x4xf32>, tensor<2x3x5x6xf32>, tensor<2x3x5xf32>, tensor<2x3x5xf32>) -> (tensor<2x3x5x6xf32>, tensor<2x3x4x6xf32>, tensor<2x3x4xf32>, tensor<2x3x5xf32>)
  return
}

// -----

func.func @mlstm_eps(%q: tensor<2x3x5x4xf32>, %v: tensor<2x3x5x6xf32>, %g: tensor<2x3x5xf32>) {
  // expected-error @+1 {{'xlstm.mlstm' op attribute 'eps' failed to satisfy constraint: 64-bit float attribute whose value is non-negative}}
  %h = xlstm.mlstm %q, %q, %v, %g, %g {eps = -1.0 : f64, qk_scaling = #xlstm.qk_scaling<key>} : (tensor<2x3x5x4xf32>, tensor<2x3x5x4xf32>, tensor<2x3x5x6xf32>, tensor<2x3x5xf32>, tensor<2x3x5xf32>) -> tensor<2x3x5x6xf32>
  return
}

// -----

func.func @slstm_heads(%g: tensor<?x?x8xf32>, %r: tensor<3x4x4x4xf32>, %b: tensor<3x4x4xf32>) {
  // expected-error @+1 {{'xlstm.slstm' op num_heads (3) must divide the hidden size (8)}}
  %y = xlstm.slstm %g, %g, %g, %g, %r, %b {function = #xlstm.function<slstm>, num_heads = 3 : i64} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<3x4x4x4xf32>, tensor<3x4x4xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @slstm_kernel(%g: tensor<?x?x8xf32>, %r: tensor<2x4x16xf32>, %b: tensor<2x4x4xf32>) {
  // expected-error @+1 {{'xlstm.slstm' op recurrent_kernel must have shape (2, 4, 4, 4), got 'tensor<2x4x16xf32>'}}
  %y = xlstm.slstm %g, %g, %g, %g, %r, %b {function = #xlstm.function<slstm>, num_heads = 2 : i64} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<2x4x16xf32>, tensor<2x4x4xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @slstm_bias(%g: tensor<?x?x8xf32>, %r: tensor<2x4x4x4xf32>, %b: tensor<32xf32>) {
  // expected-error @+1 {{'xlstm.slstm' op bias must have shape (2, 4, 4), got 'tensor<32xf32>'}}
  %y = xlstm.slstm %g, %g, %g, %g, %r, %b {function = #xlstm.function<slstm>, num_heads = 2 : i64} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<2x4x4x4xf32>, tensor<32xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @slstm_gate(%g: tensor<?x?x8xf32>, %z: tensor<?x?x4xf32>, %r: tensor<2x4x4x4xf32>, %b: tensor<2x4x4xf32>) {
  // expected-error @+1 {{'xlstm.slstm' op zgate must have shape (?, ?, 8), got 'tensor<?x?x4xf32>'}}
  %y = xlstm.slstm %g, %g, %z, %g, %r, %b {function = #xlstm.function<slstm>, num_heads = 2 : i64} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x4xf32>, tensor<?x?x8xf32>, tensor<2x4x4x4xf32>, tensor<2x4x4xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @slstm_states(%g: tensor<?x?x8xf32>, %r: tensor<2x4x4x4xf32>, %b: tensor<2x4x4xf32>, %s: tensor<?x8xf32>) {
  // expected-error @+1 {{'xlstm.slstm' op expects 0 or 4 initial state tensors for function slstm, got 2}}
  %y = xlstm.slstm %g, %g, %g, %g, %r, %b initial_state(%s, %s) {function = #xlstm.function<slstm>, num_heads = 2 : i64} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<2x4x4x4xf32>, tensor<2x4x4xf32>, tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @slstm_state_shape(%g: tensor<?x?x8xf32>, %r: tensor<2x4x4x4xf32>, %b: tensor<2x4x4xf32>, %s: tensor<?x4xf32>) {
  // expected-error @+1 {{'xlstm.slstm' op initial state must have shape (?, 8), got 'tensor<?x4xf32>'}}
  %y = xlstm.slstm %g, %g, %g, %g, %r, %b initial_state(%s, %s) {function = #xlstm.function<lstm>, num_heads = 2 : i64} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<2x4x4x4xf32>, tensor<2x4x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @slstm_dynamic_hidden(%g: tensor<?x?x?xf32>, %r: tensor<2x4x4x4xf32>, %b: tensor<2x4x4xf32>) {
  // expected-error @+1 {{'xlstm.slstm' op hidden size must be static}}
  %y = xlstm.slstm %g, %g, %g, %g, %r, %b {function = #xlstm.function<slstm>, num_heads = 2 : i64} : (tensor<?x?x?xf32>, tensor<?x?x?xf32>, tensor<?x?x?xf32>, tensor<?x?x?xf32>, tensor<2x4x4x4xf32>, tensor<2x4x4xf32>) -> tensor<?x?x?xf32>
  return
}

// -----

func.func @conv_weight(%x: tensor<?x?x8xf32>, %w: tensor<4x8xf32>) {
  // expected-error @+1 {{'xlstm.causal_conv1d' op weight must have shape (8, ?), got 'tensor<4x8xf32>'}}
  %y = xlstm.causal_conv1d %x, %w : (tensor<?x?x8xf32>, tensor<4x8xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @conv_width(%x: tensor<?x?x8xf32>, %w: tensor<8x0xf32>) {
  // expected-error @+1 {{'xlstm.causal_conv1d' op kernel width must be at least 1}}
  %y = xlstm.causal_conv1d %x, %w : (tensor<?x?x8xf32>, tensor<8x0xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @conv_bias(%x: tensor<?x?x8xf32>, %w: tensor<8x4xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{'xlstm.causal_conv1d' op bias must have shape (8), got 'tensor<4xf32>'}}
  %y = xlstm.causal_conv1d %x, %w bias(%b) : (tensor<?x?x8xf32>, tensor<8x4xf32>, tensor<4xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @conv_rank(%x: tensor<?x8xf32>, %w: tensor<8x4xf32>) {
  // expected-error @+1 {{'xlstm.causal_conv1d' op input must be a rank-3 tensor (batch, seq, channels), got 'tensor<?x8xf32>'}}
  %y = xlstm.causal_conv1d %x, %w : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @headwise_width(%x: tensor<?x?x8xf32>, %w: tensor<3x4x4xf32>) {
  // expected-error @+1 {{'xlstm.headwise_linear' op input width must be blocks * in_per_block = 12, got 'tensor<?x?x8xf32>'}}
  %y = xlstm.headwise_linear %x, %w : (tensor<?x?x8xf32>, tensor<3x4x4xf32>) -> tensor<?x?x12xf32>
  return
}

// -----

func.func @headwise_result(%x: tensor<?x?x8xf32>, %w: tensor<2x2x4xf32>) {
  // expected-error @+1 {{'xlstm.headwise_linear' op result must have shape (?, ?, 4), got 'tensor<?x?x8xf32>'}}
  %y = xlstm.headwise_linear %x, %w : (tensor<?x?x8xf32>, tensor<2x2x4xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @headwise_bias(%x: tensor<?x?x8xf32>, %w: tensor<2x4x4xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{'xlstm.headwise_linear' op bias must have shape (8), got 'tensor<4xf32>'}}
  %y = xlstm.headwise_linear %x, %w bias(%b) : (tensor<?x?x8xf32>, tensor<2x4x4xf32>, tensor<4xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @headwise_weight(%x: tensor<?x?x8xf32>, %w: tensor<8x8xf32>) {
  // expected-error @+1 {{'xlstm.headwise_linear' op weight must be a rank-3 tensor (blocks, out_per_block, in_per_block), got 'tensor<8x8xf32>'}}
  %y = xlstm.headwise_linear %x, %w : (tensor<?x?x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @norm_bias(%x: tensor<?x?x8xf32>, %b: tensor<7xf32>) {
  // expected-error @+1 {{'xlstm.layer_norm' op bias must have shape (8), got 'tensor<7xf32>'}}
  %y = xlstm.layer_norm %x bias(%b) {eps = 1.0e-5 : f64, scaling = #xlstm.norm_scaling<weight>} : (tensor<?x?x8xf32>, tensor<7xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @norm_eps(%x: tensor<?x?x8xf32>) {
  // expected-error @+1 {{'xlstm.layer_norm' op attribute 'eps' failed to satisfy constraint: 64-bit float attribute whose value is non-negative}}
  %y = xlstm.layer_norm %x {eps = -1.0e-5 : f64, scaling = #xlstm.norm_scaling<weight>} : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @multihead_heads(%x: tensor<?x?x8xf32>) {
  // expected-error @+1 {{'xlstm.multihead_norm' op num_heads (3) must divide the static last dimension, got 'tensor<?x?x8xf32>'}}
  %y = xlstm.multihead_norm %x {eps = 1.0e-5 : f64, num_heads = 3 : i64, scaling = #xlstm.norm_scaling<weight>} : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @soft_cap(%x: tensor<?x?x8xf32>) {
  // expected-error @+1 {{'xlstm.soft_cap' op attribute 'cap' failed to satisfy constraint: 64-bit float attribute whose value is positive}}
  %y = xlstm.soft_cap %x cap 0.0 : tensor<?x?x8xf32>
  return
}

// -----

func.func @ffn_down(%x: tensor<?x?x8xf32>, %g: tensor<12x8xf32>, %d: tensor<12x8xf32>) {
  // expected-error @+1 {{'xlstm.gated_ffn' op down_weight must have shape (8, 12), got 'tensor<12x8xf32>'}}
  %y = xlstm.gated_ffn %x, %g, %g, %d {act = #xlstm.act<gelu>} : (tensor<?x?x8xf32>, tensor<12x8xf32>, tensor<12x8xf32>, tensor<12x8xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @ffn_biases(%x: tensor<?x?x8xf32>, %g: tensor<12x8xf32>, %d: tensor<8x12xf32>, %b: tensor<12xf32>) {
  // expected-error @+1 {{'xlstm.gated_ffn' op expects all three biases or none}}
  %y = "xlstm.gated_ffn"(%x, %g, %g, %d, %b) <{act = #xlstm.act<gelu>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 0, 0>}> : (tensor<?x?x8xf32>, tensor<12x8xf32>, tensor<12x8xf32>, tensor<8x12xf32>, tensor<12xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @ffn_bias_shape(%x: tensor<?x?x8xf32>, %g: tensor<12x8xf32>, %d: tensor<8x12xf32>, %b: tensor<12xf32>) {
  // expected-error @+1 {{'xlstm.gated_ffn' op down_bias must have shape (8), got 'tensor<12xf32>'}}
  %y = xlstm.gated_ffn %x, %g, %g, %d biases(%b, %b, %b) {act = #xlstm.act<gelu>} : (tensor<?x?x8xf32>, tensor<12x8xf32>, tensor<12x8xf32>, tensor<8x12xf32>, tensor<12xf32>, tensor<12xf32>, tensor<12xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @ffn_gate_rank(%x: tensor<?x?x8xf32>, %g: tensor<12x8x1xf32>, %d: tensor<8x12xf32>) {
  // expected-error @+1 {{'xlstm.gated_ffn' op gate_weight must be a rank-2 tensor (proj, embedding), got 'tensor<12x8x1xf32>'}}
  %y = xlstm.gated_ffn %x, %g, %g, %d {act = #xlstm.act<gelu>} : (tensor<?x?x8xf32>, tensor<12x8x1xf32>, tensor<12x8x1xf32>, tensor<8x12xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @ffn_up(%x: tensor<?x?x8xf32>, %g: tensor<12x8xf32>, %u: tensor<10x8xf32>, %d: tensor<8x12xf32>) {
  // expected-error @+1 {{'xlstm.gated_ffn' op up_weight must have shape (12, 8), got 'tensor<10x8xf32>'}}
  %y = xlstm.gated_ffn %x, %g, %u, %d {act = #xlstm.act<gelu>} : (tensor<?x?x8xf32>, tensor<12x8xf32>, tensor<10x8xf32>, tensor<8x12xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @conv_weight_rank(%x: tensor<?x?x8xf32>, %w: tensor<8x1x4xf32>) {
  // expected-error @+1 {{'xlstm.causal_conv1d' op weight must be a rank-2 tensor (channels, kernel), got 'tensor<8x1x4xf32>'}}
  %y = xlstm.causal_conv1d %x, %w : (tensor<?x?x8xf32>, tensor<8x1x4xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @lm_head_rank(%x: tensor<?x8xf32>, %w: tensor<16x8xf32>) {
  // expected-error @+1 {{'xlstm.lm_head' op input must be a rank-3 tensor (batch, seq, embedding), got 'tensor<?x8xf32>'}}
  %l = xlstm.lm_head %x, %w : (tensor<?x8xf32>, tensor<16x8xf32>) -> tensor<?x16xf32>
  return
}

// -----

func.func @lm_head_type(%x: tensor<?x?x8xf32>, %w: tensor<16x8xf32>) {
  // expected-error @+1 {{'xlstm.lm_head' op result element type must be at least as wide as the input's (logits are not narrowed)}}
  %l = xlstm.lm_head %x, %w : (tensor<?x?x8xf32>, tensor<16x8xf32>) -> tensor<?x?x16xbf16>
  return
}

// -----

func.func @embedding_table(%t: tensor<?x?xi64>, %table: tensor<16xf32>) {
  // expected-error @+1 {{'xlstm.embedding' op table must be a rank-2 tensor (vocab, embedding), got 'tensor<16xf32>'}}
  %e = xlstm.embedding %t, %table : (tensor<?x?xi64>, tensor<16xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @mlstm_v_rank(%q: tensor<2x3x5x4xf32>, %v: tensor<2x3x5xf32>, %g: tensor<2x3x5xf32>) {
  // expected-error @+1 {{'xlstm.mlstm' op v must be a rank-4 tensor (batch, heads, seq, dhv), got 'tensor<2x3x5xf32>'}}
  %h = xlstm.mlstm %q, %q, %v, %g, %g {qk_scaling = #xlstm.qk_scaling<key>} : (tensor<2x3x5x4xf32>, tensor<2x3x5x4xf32>, tensor<2x3x5xf32>, tensor<2x3x5xf32>, tensor<2x3x5xf32>) -> tensor<2x3x5x4xf32>
  return
}

// -----

func.func @slstm_rank(%g: tensor<?x8xf32>, %r: tensor<2x4x4x4xf32>, %b: tensor<2x4x4xf32>) {
  // expected-error @+1 {{'xlstm.slstm' op igate must be a rank-3 tensor (batch, seq, hidden), got 'tensor<?x8xf32>'}}
  %y = xlstm.slstm %g, %g, %g, %g, %r, %b {function = #xlstm.function<slstm>, num_heads = 2 : i64} : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<2x4x4x4xf32>, tensor<2x4x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @headwise_rank(%x: tensor<?x?x8xf32>, %w: tensor<2x4x4xf32>) {
  // expected-error @+1 {{'xlstm.headwise_linear' op result must have the rank of the input}}
  %y = xlstm.headwise_linear %x, %w : (tensor<?x?x8xf32>, tensor<2x4x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @chunk_count(%k: tensor<2x3x10x4xf32>, %v: tensor<2x3x10x6xf32>, %g: tensor<2x3x10xf32>) {
  // expected-error @+1 {{'xlstm.mlstm_chunk_states' op chunk_c must have shape (2, 3, 3, 4, 6), got 'tensor<2x3x2x4x6xf32>'}}
  %c, %n, %m, %cf, %nf, %mf = xlstm.mlstm_chunk_states %k, %v, %g, %g {chunk_size = 4 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<2x3x10x4xf32>, tensor<2x3x10x6xf32>, tensor<2x3x10xf32>, tensor<2x3x10xf32>)
      -> (tensor<2x3x2x4x6xf32>, tensor<2x3x2x4xf32>, tensor<2x3x2xf32>, tensor<2x3x4x6xf32>, tensor<2x3x4xf32>, tensor<2x3xf32>)
  return
}

// -----

func.func @chunk_size(%k: tensor<2x3x10x4xf32>, %v: tensor<2x3x10x6xf32>, %g: tensor<2x3x10xf32>) {
  // expected-error @+1 {{'xlstm.mlstm_chunk_states' op attribute 'chunk_size' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %c, %n, %m, %cf, %nf, %mf = xlstm.mlstm_chunk_states %k, %v, %g, %g {chunk_size = 0 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<2x3x10x4xf32>, tensor<2x3x10x6xf32>, tensor<2x3x10xf32>, tensor<2x3x10xf32>)
      -> (tensor<2x3x2x4x6xf32>, tensor<2x3x2x4xf32>, tensor<2x3x2xf32>, tensor<2x3x4x6xf32>, tensor<2x3x4xf32>, tensor<2x3xf32>)
  return
}

// -----

func.func @chunk_state_count(%k: tensor<2x3x10x4xf32>, %v: tensor<2x3x10x6xf32>, %g: tensor<2x3x10xf32>, %c0: tensor<2x3x4x6xf32>) {
  // expected-error @+1 {{'xlstm.mlstm_chunk_states' op expects 0 or 3 initial state tensors (C, n, m), got 1}}
  %c, %n, %m, %cf, %nf, %mf = xlstm.mlstm_chunk_states %k, %v, %g, %g initial_state(%c0) {chunk_size = 4 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<2x3x10x4xf32>, tensor<2x3x10x6xf32>, tensor<2x3x10xf32>, tensor<2x3x10xf32>, tensor<2x3x4x6xf32>)
      -> (tensor<2x3x3x4x6xf32>, tensor<2x3x3x4xf32>, tensor<2x3x3xf32>, tensor<2x3x4x6xf32>, tensor<2x3x4xf32>, tensor<2x3xf32>)
  return
}

// -----

func.func @chunk_outputs_h(%q: tensor<2x3x10x4xf32>, %v: tensor<2x3x10x6xf32>, %g: tensor<2x3x10xf32>,
                           %c: tensor<2x3x3x4x6xf32>, %n: tensor<2x3x3x4xf32>, %m: tensor<2x3x3xf32>) {
  // expected-error @+1 {{'xlstm.mlstm_chunk_outputs' op h must have shape (2, 3, 10, 6), got 'tensor<2x3x10x4xf32>'}}
  %h = xlstm.mlstm_chunk_outputs %q, %q, %v, %g, %g, %c, %n, %m {chunk_size = 4 : i64, qk_scaling = #xlstm.qk_scaling<key>}
      : (tensor<2x3x10x4xf32>, tensor<2x3x10x4xf32>, tensor<2x3x10x6xf32>, tensor<2x3x10xf32>, tensor<2x3x10xf32>,
         tensor<2x3x3x4x6xf32>, tensor<2x3x3x4xf32>, tensor<2x3x3xf32>) -> tensor<2x3x10x4xf32>
  return
}

// -----

func.func @slstm_step_states(%g: tensor<?x8xf32>, %r: tensor<2x4x4x4xf32>, %b: tensor<2x4x4xf32>) {
  // expected-error @+1 {{'xlstm.slstm_step' op expects 4 state tensors in and out for function slstm, got 2 and 2}}
  %s:2 = xlstm.slstm_step %g, %g, %g, %g, %r, %b state(%g, %g) {function = #xlstm.function<slstm>, num_heads = 2 : i64}
      : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<2x4x4x4xf32>, tensor<2x4x4xf32>, tensor<?x8xf32>, tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>)
  return
}

// -----

func.func @slstm_step_heads(%g: tensor<?x8xf32>, %r: tensor<2x4x4x4xf32>, %b: tensor<2x4x4xf32>) {
  // expected-error @+1 {{'xlstm.slstm_step' op num_heads (3) must divide the static hidden size, got 'tensor<?x8xf32>'}}
  %s:2 = xlstm.slstm_step %g, %g, %g, %g, %r, %b state(%g, %g) {function = #xlstm.function<lstm>, num_heads = 3 : i64}
      : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<2x4x4x4xf32>, tensor<2x4x4xf32>, tensor<?x8xf32>, tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>)
  return
}

// -----

func.func @slstm_step_state_shape(%g: tensor<?x8xf32>, %r: tensor<2x4x4x4xf32>, %b: tensor<2x4x4xf32>, %s: tensor<?x4xf32>) {
  // expected-error @+1 {{'xlstm.slstm_step' op state must have shape (?, 8), got 'tensor<?x4xf32>'}}
  %n:2 = xlstm.slstm_step %g, %g, %g, %g, %r, %b state(%s, %s) {function = #xlstm.function<lstm>, num_heads = 2 : i64}
      : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<2x4x4x4xf32>, tensor<2x4x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>)
  return
}

// -----

func.func @norm_rank0(%x: tensor<f32>) {
  // expected-error @+1 {{'xlstm.layer_norm' op input must have at least one dimension}}
  %y = xlstm.layer_norm %x {eps = 1.0e-5 : f64, scaling = #xlstm.norm_scaling<weight>} : (tensor<f32>) -> tensor<f32>
  return
}

// -----

func.func @ffn_rank0(%x: tensor<f32>, %g: tensor<12x8xf32>, %d: tensor<8x12xf32>) {
  // expected-error @+1 {{'xlstm.gated_ffn' op input must have at least one dimension}}
  %y = xlstm.gated_ffn %x, %g, %g, %d {act = #xlstm.act<gelu>} : (tensor<f32>, tensor<12x8xf32>, tensor<12x8xf32>, tensor<8x12xf32>) -> tensor<f32>
  return
}

// -----

func.func @headwise_dynamic_weight(%x: tensor<?x?x8xf32>, %w: tensor<?x4x4xf32>) {
  // expected-error @+1 {{'xlstm.headwise_linear' op weight must have a static shape, got 'tensor<?x4x4xf32>'}}
  %y = xlstm.headwise_linear %x, %w : (tensor<?x?x8xf32>, tensor<?x4x4xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @block_dynamic_width(%x: tensor<?x?x?xf32>, %w: tensor<4xf32>) {
  // expected-error @+1 {{'xlstm.slstm_block' op input must have shape (?, ?, 4), got 'tensor<?x?x?xf32>'}}
  %y = xlstm.slstm_block %x config #xlstm.slstm_layer<embedding_dim = 4, num_heads = 2, conv_kernel_size = 0, group_norm_weight = false, layout = vanilla, function = slstm> params(%w) : tensor<?x?x?xf32>, (tensor<4xf32>)
  return
}

// -----

// expected-error @+1 {{norm_eps, eps and gate_soft_cap must be f64}}
func.func private @f() attributes {c = #xlstm.large_block<embedding_dim = 16, num_heads = 2, qk_dim = 8, v_dim = 16, ffn_dim = 64, use_bias = false, norm_eps = 1.0e-6 : f32, eps = 1.0e-6 : f64, gate_soft_cap = 15.0 : f64, weight_mode = single>}

// -----

func.func @conv_dynamic_kernel(%x: tensor<?x?x4xf32>, %w: tensor<4x?xf32>, %s: tensor<?x3x4xf32>) {
  // A dynamic kernel width cannot be checked against the state: accepted.
  %y, %f = xlstm.causal_conv1d %x, %w initial_state(%s) : (tensor<?x?x4xf32>, tensor<4x?xf32>, tensor<?x3x4xf32>) -> (tensor<?x?x4xf32>, tensor<?x3x4xf32>)
  return
}

// -----

func.func @block_state_types(%x: tensor<?x?x4xf32>, %n: tensor<4xf32>, %g: tensor<2x2x2xf32>,
                             %r: tensor<2x8x2xf32>, %b: tensor<16xf32>, %h: tensor<?x4xf32>, %c: tensor<?x4xf64>) {
  // expected-error @+1 {{'xlstm.slstm_block' op state tensors must share one element type, got 'f32' and 'f64'}}
  %y, %s:2 = xlstm.slstm_block %x config #xlstm.slstm_layer<embedding_dim = 4, num_heads = 2, conv_kernel_size = 0, group_norm_weight = false, layout = vanilla, function = lstm> params(%n, %g, %g, %g, %g, %r, %b) state(%h, %c) : tensor<?x?x4xf32>, (tensor<4xf32>, tensor<2x2x2xf32>, tensor<2x2x2xf32>, tensor<2x2x2xf32>, tensor<2x2x2xf32>, tensor<2x8x2xf32>, tensor<16xf32>), state(tensor<?x4xf32>, tensor<?x4xf64>) -> state(tensor<?x4xf32>, tensor<?x4xf32>)
  return
}
