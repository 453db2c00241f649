// RUN: xlstm-opt %s --split-input-file --xlstm-persistent-slstm | FileCheck %s
// RUN: xlstm-opt %s --split-input-file --xlstm-persistent-slstm="register-head-dim=16" | FileCheck %s --check-prefix=GLOBAL
// RUN: %if ptxas %{ xlstm-opt %s --split-input-file --xlstm-persistent-slstm --gpu-kernel-outlining | xlstm-opt --split-input-file --xlstm-gpu-to-ptx="format=bin chip=sm_80 toolkit=%cuda_toolkit" | FileCheck %s --check-prefix=BIN %}

// The whole recurrence is one launch: a block per (head, batch row) of
// 4 * DH threads, h and the raw gates in shared memory, a time loop with
// two barriers per step, y and the final states written from the cell
// threads (tid < DH). The recurrent column of each thread is loaded once,
// before the loop (DH = 32 <= register-head-dim).
// CHECK-LABEL: func @sequence
// CHECK-SAME:    (%[[I:[^:]+]]: tensor<?x?x64xf32>, %[[F:[^:]+]]: tensor<?x?x64xf32>, %[[Z:[^:]+]]: tensor<?x?x64xf32>, %[[O:[^:]+]]: tensor<?x?x64xf32>, %[[R:[^:]+]]: tensor<2x32x4x32xbf16>, %[[B:[^:]+]]: tensor<2x4x32xbf16>)
// CHECK-DAG:   %[[IB:.+]] = bufferization.to_buffer %[[I]] read_only : tensor<?x?x64xf32> to memref<?x?x64xf32>
// CHECK-DAG:   %[[RB:.+]] = bufferization.to_buffer %[[R]] read_only
// CHECK:       %[[BATCH:.+]] = memref.dim %[[IB]], %c0
// CHECK:       %[[SEQ:.+]] = memref.dim %[[IB]], %c1
// CHECK:       %[[Y:.+]] = memref.alloc(%[[BATCH]], %[[SEQ]]) : memref<?x?x64xbf16>
// CHECK:       gpu.launch blocks(%[[HD:[^,]+]], %[[ROW:[^,]+]], %{{[^)]+}}) in (%{{[^ ]+}} = %c2, %{{[^ ]+}} = %[[BATCH]], %{{[^ ]+}} = %c1)
// CHECK-SAME:    threads(%[[TID:[^,]+]], {{.*}} in (%{{[^ ]+}} = %c128,
// CHECK-SAME:    workgroup(%[[H:[^ ]+]] : memref<32xf32, #gpu.address_space<workgroup>>, %[[RAW:[^ ]+]] : memref<128xf32, #gpu.address_space<workgroup>>)
// CHECK-COUNT-32: memref.load %[[RB]]
// CHECK:         gpu.barrier
// CHECK:         %[[LOOP:.+]]:4 = scf.for %[[T:.+]] = %{{.+}} to %[[SEQ]] step %{{.+}} iter_args
// CHECK-COUNT-32:  memref.load %[[H]]
// CHECK:           scf.index_switch
// CHECK:           memref.store %{{.+}}, %[[RAW]][%[[TID]]]
// CHECK-NEXT:      gpu.barrier
// CHECK:           scf.if %{{.+}} -> (f32, f32, f32, f32)
// CHECK:             math.log1p
// CHECK:             memref.store %{{.+}}, %[[H]]
// CHECK:             arith.truncf %{{.+}} : f32 to bf16
// CHECK:             memref.store %{{.+}}, %[[Y]][%[[ROW]], %[[T]], %{{.+}}] : memref<?x?x64xbf16>
// CHECK:           gpu.barrier
// CHECK:         scf.if
// CHECK-COUNT-4:   memref.store %[[LOOP]]#
// CHECK:       bufferization.to_tensor %[[Y]] restrict writable
// CHECK-NOT:   xlstm.slstm
// GLOBAL-LABEL: func @sequence
// GLOBAL:       gpu.launch
// GLOBAL-NOT:   memref.load {{.*}} : memref<2x32x4x32xbf16>
// GLOBAL:       scf.for
// GLOBAL:         scf.for {{.*}} = %c0{{.*}} to %c32{{.*}} step %c8{{.*}} iter_args
// GLOBAL:           memref.load {{.*}} : memref<2x32x4x32xbf16>
// BIN: gpu.binary @sequence_kernel
func.func @sequence(%i: tensor<?x?x64xf32>, %f: tensor<?x?x64xf32>,
                    %z: tensor<?x?x64xf32>, %o: tensor<?x?x64xf32>,
                    %r: tensor<2x32x4x32xbf16>, %b: tensor<2x4x32xbf16>)
    -> (tensor<?x?x64xbf16>, tensor<?x64xf32>, tensor<?x64xf32>,
        tensor<?x64xf32>, tensor<?x64xf32>) {
  %y, %h, %c, %n, %m = xlstm.slstm %i, %f, %z, %o, %r, %b
      {function = #xlstm.function<slstm>, num_heads = 2 : i64}
      : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>,
         tensor<?x?x64xf32>, tensor<2x32x4x32xbf16>, tensor<2x4x32xbf16>)
      -> (tensor<?x?x64xbf16>, tensor<?x64xf32>, tensor<?x64xf32>,
          tensor<?x64xf32>, tensor<?x64xf32>)
  return %y, %h, %c, %n, %m : tensor<?x?x64xbf16>, tensor<?x64xf32>,
      tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>
}

// -----

// One decode step of the classic LSTM cell from given states: the same
// kernel with a single step; the new states are the results.
// CHECK-LABEL: func @lstm_step
// CHECK-SAME:    %[[H0:[^:]+]]: tensor<?x16xf32>, %[[C0:[^:]+]]: tensor<?x16xf32>)
// CHECK:       %[[HB:.+]] = bufferization.to_buffer %[[H0]] read_only
// CHECK:       gpu.launch {{.*}} threads({{.*}}) in (%{{[^ ]+}} = %c64,
// CHECK:         memref.load %[[HB]]
// CHECK:         scf.for %{{.+}} = %{{.+}} to %c1{{.*}} iter_args({{.*}}) -> (f32, f32)
// CHECK:           memref.load {{.*}} : memref<?x16xf32>
// CHECK:           scf.if %{{.+}} -> (f32, f32)
// CHECK-NOT:         math.log1p
// CHECK:             math.tanh
// CHECK-COUNT-2: bufferization.to_tensor
// CHECK-NOT:   xlstm.slstm_step
// BIN: gpu.binary @lstm_step_kernel
func.func @lstm_step(%i: tensor<?x16xf32>, %f: tensor<?x16xf32>,
                     %z: tensor<?x16xf32>, %o: tensor<?x16xf32>,
                     %r: tensor<1x16x4x16xf32>, %b: tensor<1x4x16xf32>,
                     %h0: tensor<?x16xf32>, %c0: tensor<?x16xf32>)
    -> (tensor<?x16xf32>, tensor<?x16xf32>) {
  %h, %c = xlstm.slstm_step %i, %f, %z, %o, %r, %b state(%h0, %c0)
      {function = #xlstm.function<lstm>, num_heads = 1 : i64}
      : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>,
         tensor<?x16xf32>, tensor<1x16x4x16xf32>, tensor<1x4x16xf32>,
         tensor<?x16xf32>, tensor<?x16xf32>) -> (tensor<?x16xf32>, tensor<?x16xf32>)
  return %h, %c : tensor<?x16xf32>, tensor<?x16xf32>
}

// -----

// A head wider than 256 units: 1024 threads, each with two of the head's
// 2048 gate pre-activations (two raw stores per step), the recurrent
// weights read in the loop.
// CHECK-LABEL: func @wide
// CHECK:       gpu.launch
// CHECK-SAME:    threads(%[[TID:[^,]+]], {{.*}} in (%{{[^ ]+}} = %c1024,
// CHECK:         scf.for
// CHECK:           memref.store %{{.+}}, %[[RAW:[^\[]+]][%[[TID]]]
// CHECK:           memref.store %{{.+}}, %[[RAW]][%{{.+}}]
// CHECK-NEXT:      gpu.barrier
func.func @wide(%g: tensor<?x?x512xf32>, %r: tensor<1x512x4x512xf32>,
                %b: tensor<1x4x512xf32>) -> tensor<?x?x512xf32> {
  %y = xlstm.slstm %g, %g, %g, %g, %r, %b
      {function = #xlstm.function<slstm>, num_heads = 1 : i64}
      : (tensor<?x?x512xf32>, tensor<?x?x512xf32>, tensor<?x?x512xf32>,
         tensor<?x?x512xf32>, tensor<1x512x4x512xf32>, tensor<1x4x512xf32>)
      -> tensor<?x?x512xf32>
  return %y : tensor<?x?x512xf32>
}

// -----

// A head of 2048 units has more cells than a block has threads: left to
// the generic lowering.
// CHECK-LABEL: func @too_wide
// CHECK-NOT:   gpu.launch
// CHECK:       xlstm.slstm
func.func @too_wide(%g: tensor<?x?x2048xf32>, %r: tensor<1x2048x4x2048xf32>,
                    %b: tensor<1x4x2048xf32>) -> tensor<?x?x2048xf32> {
  %y = xlstm.slstm %g, %g, %g, %g, %r, %b
      {function = #xlstm.function<slstm>, num_heads = 1 : i64}
      : (tensor<?x?x2048xf32>, tensor<?x?x2048xf32>, tensor<?x?x2048xf32>,
         tensor<?x?x2048xf32>, tensor<1x2048x4x2048xf32>, tensor<1x4x2048xf32>)
      -> tensor<?x?x2048xf32>
  return %y : tensor<?x?x2048xf32>
}

// -----

// 4 x 320 pre-activations do not split evenly over 1024 threads: left to
// the generic lowering.
// CHECK-LABEL: func @uneven
// CHECK-NOT:   gpu.launch
// CHECK:       xlstm.slstm
func.func @uneven(%g: tensor<?x?x320xf32>, %r: tensor<1x320x4x320xf32>,
                  %b: tensor<1x4x320xf32>) -> tensor<?x?x320xf32> {
  %y = xlstm.slstm %g, %g, %g, %g, %r, %b
      {function = #xlstm.function<slstm>, num_heads = 1 : i64}
      : (tensor<?x?x320xf32>, tensor<?x?x320xf32>, tensor<?x?x320xf32>,
         tensor<?x?x320xf32>, tensor<1x320x4x320xf32>, tensor<1x4x320xf32>)
      -> tensor<?x?x320xf32>
  return %y : tensor<?x?x320xf32>
}

// -----

// A result whose width the type leaves open cannot be sized from the
// gates: left to the generic lowering (it used to crash the pass).
// CHECK-LABEL: func @open_width
// CHECK-NOT:   gpu.launch
// CHECK:       xlstm.slstm
func.func @open_width(%g: tensor<?x?x64xf32>, %r: tensor<2x32x4x32xf32>,
                      %b: tensor<2x4x32xf32>) -> tensor<?x?x?xf32> {
  %y = xlstm.slstm %g, %g, %g, %g, %r, %b
      {function = #xlstm.function<slstm>, num_heads = 2 : i64}
      : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>,
         tensor<?x?x64xf32>, tensor<2x32x4x32xf32>, tensor<2x4x32xf32>)
      -> tensor<?x?x?xf32>
  return %y : tensor<?x?x?xf32>
}
