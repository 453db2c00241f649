// RUN: xlstm-opt %s --xlstm-fuse-slstm-steps | FileCheck %s

// The loop xlstm-expand-blocks emits (zero initial state) becomes one
// xlstm.slstm over all steps; the zero state is dropped.
// CHECK-LABEL: func @zero_state
// CHECK-SAME: (%[[I:[^:]+]]: tensor<?x?x8xf32>, %[[F:[^:]+]]: tensor<?x?x8xf32>, %[[Z:[^:]+]]: tensor<?x?x8xf32>, %[[O:[^:]+]]: tensor<?x?x8xf32>, %[[R:[^:]+]]: tensor<2x4x4x4xf32>, %[[B:[^:]+]]: tensor<2x4x4xf32>)
// CHECK-NOT:  scf.for
// CHECK:      %[[Y:[^,]+]], %[[FS:.+]]:4 = xlstm.slstm %[[I]], %[[F]], %[[Z]], %[[O]], %[[R]], %[[B]] {function = #xlstm.function<slstm>, num_heads = 2 : i64}
// CHECK-NOT:  initial_state
// CHECK:      return %[[Y]], %[[FS]]#3
func.func @zero_state(%i: tensor<?x?x8xf32>, %f: tensor<?x?x8xf32>, %z: tensor<?x?x8xf32>, %o: tensor<?x?x8xf32>,
                      %r: tensor<2x4x4x4xf32>, %b: tensor<2x4x4xf32>) -> (tensor<?x?x8xf32>, tensor<?x8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %cst = arith.constant 0.0 : f32
  %batch = tensor.dim %i, %c0 : tensor<?x?x8xf32>
  %seq = tensor.dim %i, %c1 : tensor<?x?x8xf32>
  %e = tensor.empty(%batch) : tensor<?x8xf32>
  %zero = linalg.fill ins(%cst : f32) outs(%e : tensor<?x8xf32>) -> tensor<?x8xf32>
  %y0 = tensor.empty(%batch, %seq) : tensor<?x?x8xf32>
  %res:5 = scf.for %t = %c0 to %seq step %c1 iter_args(%y = %y0, %h = %zero, %c = %zero, %n = %zero, %m = %zero)
      -> (tensor<?x?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>) {
    %gi = tensor.extract_slice %i[0, %t, 0] [%batch, 1, 8] [1, 1, 1] : tensor<?x?x8xf32> to tensor<?x8xf32>
    %gf = tensor.extract_slice %f[0, %t, 0] [%batch, 1, 8] [1, 1, 1] : tensor<?x?x8xf32> to tensor<?x8xf32>
    %gz = tensor.extract_slice %z[0, %t, 0] [%batch, 1, 8] [1, 1, 1] : tensor<?x?x8xf32> to tensor<?x8xf32>
    %go = tensor.extract_slice %o[0, %t, 0] [%batch, 1, 8] [1, 1, 1] : tensor<?x?x8xf32> to tensor<?x8xf32>
    %s:4 = xlstm.slstm_step %gi, %gf, %gz, %go, %r, %b state(%h, %c, %n, %m) {function = #xlstm.function<slstm>, num_heads = 2 : i64}
        : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<2x4x4x4xf32>, tensor<2x4x4xf32>,
           tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>)
        -> (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>)
    %ins = tensor.insert_slice %s#0 into %y[0, %t, 0] [%batch, 1, 8] [1, 1, 1] : tensor<?x8xf32> into tensor<?x?x8xf32>
    scf.yield %ins, %s#0, %s#1, %s#2, %s#3 : tensor<?x?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>
  }
  return %res#0, %res#4 : tensor<?x?x8xf32>, tensor<?x8xf32>
}

// A given initial state is kept.
// CHECK-LABEL: func @given_state
// CHECK-SAME: %[[H0:[^:]+]]: tensor<?x8xf32>, %[[C0:[^:]+]]: tensor<?x8xf32>)
// CHECK:      xlstm.slstm {{.*}} initial_state(%[[H0]], %[[C0]]) {function = #xlstm.function<lstm>, num_heads = 2 : i64}
func.func @given_state(%i: tensor<?x?x8xf32>, %r: tensor<2x4x4x4xf32>, %b: tensor<2x4x4xf32>,
                       %h0: tensor<?x8xf32>, %c0_: tensor<?x8xf32>) -> tensor<?x?x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %batch = tensor.dim %i, %c0 : tensor<?x?x8xf32>
  %seq = tensor.dim %i, %c1 : tensor<?x?x8xf32>
  %y0 = tensor.empty(%batch, %seq) : tensor<?x?x8xf32>
  %res:3 = scf.for %t = %c0 to %seq step %c1 iter_args(%y = %y0, %h = %h0, %c = %c0_)
      -> (tensor<?x?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>) {
    %g = tensor.extract_slice %i[0, %t, 0] [%batch, 1, 8] [1, 1, 1] : tensor<?x?x8xf32> to tensor<?x8xf32>
    %s:2 = xlstm.slstm_step %g, %g, %g, %g, %r, %b state(%h, %c) {function = #xlstm.function<lstm>, num_heads = 2 : i64}
        : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<2x4x4x4xf32>, tensor<2x4x4xf32>,
           tensor<?x8xf32>, tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>)
    %ins = tensor.insert_slice %s#0 into %y[0, %t, 0] [%batch, 1, 8] [1, 1, 1] : tensor<?x8xf32> into tensor<?x?x8xf32>
    scf.yield %ins, %s#0, %s#1 : tensor<?x?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>
  }
  return %res#0 : tensor<?x?x8xf32>
}

// A loop that stops early is not the whole recurrence: left alone.
// CHECK-LABEL: func @partial
// CHECK:      scf.for
// CHECK:        xlstm.slstm_step
// CHECK-NOT:  xlstm.slstm {{.*}}num_heads
func.func @partial(%i: tensor<?x?x8xf32>, %r: tensor<2x4x4x4xf32>, %b: tensor<2x4x4xf32>,
                   %h0: tensor<?x8xf32>, %n: index) -> tensor<?x?x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %batch = tensor.dim %i, %c0 : tensor<?x?x8xf32>
  %seq = tensor.dim %i, %c1 : tensor<?x?x8xf32>
  %y0 = tensor.empty(%batch, %seq) : tensor<?x?x8xf32>
  %res:3 = scf.for %t = %c0 to %n step %c1 iter_args(%y = %y0, %h = %h0, %c = %h0)
      -> (tensor<?x?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>) {
    %g = tensor.extract_slice %i[0, %t, 0] [%batch, 1, 8] [1, 1, 1] : tensor<?x?x8xf32> to tensor<?x8xf32>
    %s:2 = xlstm.slstm_step %g, %g, %g, %g, %r, %b state(%h, %c) {function = #xlstm.function<lstm>, num_heads = 2 : i64}
        : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>, tensor<2x4x4x4xf32>, tensor<2x4x4xf32>,
           tensor<?x8xf32>, tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>)
    %ins = tensor.insert_slice %s#0 into %y[0, %t, 0] [%batch, 1, 8] [1, 1, 1] : tensor<?x8xf32> into tensor<?x?x8xf32>
    scf.yield %ins, %s#0, %s#1 : tensor<?x?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>
  }
  return %res#0 : tensor<?x?x8xf32>
}

// A loop over batch row 0 only is not the recurrence of the whole batch.
// CHECK-LABEL: func @row0
// CHECK:      scf.for
// CHECK:        xlstm.slstm_step
// CHECK-NOT:  xlstm.slstm {{.*}}num_heads
func.func @row0(%i: tensor<?x?x8xf32>, %r: tensor<2x4x4x4xf32>, %b: tensor<2x4x4xf32>,
                %h0: tensor<1x8xf32>, %y0: tensor<1x?x8xf32>) -> tensor<1x?x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %seq = tensor.dim %i, %c1 : tensor<?x?x8xf32>
  %res:3 = scf.for %t = %c0 to %seq step %c1 iter_args(%y = %y0, %h = %h0, %c = %h0)
      -> (tensor<1x?x8xf32>, tensor<1x8xf32>, tensor<1x8xf32>) {
    %g = tensor.extract_slice %i[0, %t, 0] [1, 1, 8] [1, 1, 1] : tensor<?x?x8xf32> to tensor<1x8xf32>
    %s:2 = xlstm.slstm_step %g, %g, %g, %g, %r, %b state(%h, %c) {function = #xlstm.function<lstm>, num_heads = 2 : i64}
        : (tensor<1x8xf32>, tensor<1x8xf32>, tensor<1x8xf32>, tensor<1x8xf32>, tensor<2x4x4x4xf32>, tensor<2x4x4xf32>,
           tensor<1x8xf32>, tensor<1x8xf32>) -> (tensor<1x8xf32>, tensor<1x8xf32>)
    %ins = tensor.insert_slice %s#0 into %y[0, %t, 0] [1, 1, 8] [1, 1, 1] : tensor<1x8xf32> into tensor<1x?x8xf32>
    scf.yield %ins, %s#0, %s#1 : tensor<1x?x8xf32>, tensor<1x8xf32>, tensor<1x8xf32>
  }
  return %res#0 : tensor<1x?x8xf32>
}

// A loop without an sLSTM step is not touched.
// CHECK-LABEL: func @no_step
// CHECK: scf.for
func.func @no_step(%n: index, %x: tensor<4xf32>) -> tensor<4xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%a = %x) -> (tensor<4xf32>) {
    scf.yield %a : tensor<4xf32>
  }
  return %r : tensor<4xf32>
}
