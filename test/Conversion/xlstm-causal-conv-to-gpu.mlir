// A causal conv becomes one kernel: a thread per (row, run of 8 positions,
// 16 bytes of channels) reading the K - 1 inputs before its run from the
// state or the input and then each input of the run once; one more thread
// per row and channels writes the final state.
// RUN: xlstm-opt %s --split-input-file --xlstm-causal-conv-to-gpu | FileCheck %s

// CHECK-LABEL: func @with_state
// CHECK-NOT:   xlstm.causal_conv1d
// CHECK:       %[[S:.+]] = memref.dim %{{.+}}, %c1
// CHECK:       %[[RUNS:.+]] = arith.ceildivui %[[S]], %c8
// CHECK:       arith.addi %[[RUNS]], %c1
// CHECK:       gpu.launch
// CHECK:         scf.if
// CHECK-COUNT-3:   vector.load {{.*}} : memref<?x3x256xbf16>, vector<8xbf16>
// CHECK-COUNT-8:   vector.store {{.*}} : memref<?x?x256xbf16>, vector<8xbf16>
// CHECK:         } else {
// CHECK-COUNT-3:   vector.store {{.*}} : memref<?x3x256xbf16>, vector<8xbf16>
// CHECK:       } {xlstm.kernel = {dtype = "bf16", family = "conv", kernel = "causal conv, 8 channels x 8 positions per thread", shape = "?x?x256x4"}}
func.func @with_state(%x: tensor<?x?x256xbf16>, %w: tensor<256x4xbf16>, %b: tensor<256xbf16>, %s0: tensor<?x3x256xbf16>)
    -> (tensor<?x?x256xbf16>, tensor<?x3x256xbf16>) {
  %y, %s = xlstm.causal_conv1d %x, %w bias(%b) initial_state(%s0)
      : (tensor<?x?x256xbf16>, tensor<256x4xbf16>, tensor<256xbf16>, tensor<?x3x256xbf16>)
      -> (tensor<?x?x256xbf16>, tensor<?x3x256xbf16>)
  return %y, %s : tensor<?x?x256xbf16>, tensor<?x3x256xbf16>
}

// -----

// Channels that do not fill 16-byte vectors: one channel per thread; no
// state in or out.
// CHECK-LABEL: func @scalar
// CHECK:       gpu.launch
// CHECK-NOT:     vector.load
// CHECK:         memref.load {{.*}} : memref<?x?x6xf32>
// CHECK:       } {xlstm.kernel = {dtype = "f32", family = "conv", kernel = "causal conv, 1 channel x 8 positions per thread", shape = "?x?x6x2"}}
func.func @scalar(%x: tensor<?x?x6xf32>, %w: tensor<6x2xf32>) -> tensor<?x?x6xf32> {
  %y = xlstm.causal_conv1d %x, %w : (tensor<?x?x6xf32>, tensor<6x2xf32>) -> tensor<?x?x6xf32>
  return %y : tensor<?x?x6xf32>
}

// -----

// A float64 final state (the verifier lets state types differ) and a final
// state of open width are left to the generic lowering (the kernel stores
// from float32 and sizes the state from the weight).
// CHECK-LABEL: func @declined
// CHECK-NOT:   gpu.launch
// CHECK:       xlstm.causal_conv1d
// CHECK:       xlstm.causal_conv1d
func.func @declined(%x: tensor<?x?x256xf32>, %w: tensor<256x4xf32>)
    -> (tensor<?x3x256xf64>, tensor<?x?x?xf32>) {
  %y, %s = xlstm.causal_conv1d %x, %w
      : (tensor<?x?x256xf32>, tensor<256x4xf32>) -> (tensor<?x?x256xf32>, tensor<?x3x256xf64>)
  %y2, %s2 = xlstm.causal_conv1d %x, %w
      : (tensor<?x?x256xf32>, tensor<256x4xf32>) -> (tensor<?x?x256xf32>, tensor<?x?x?xf32>)
  return %s, %s2 : tensor<?x3x256xf64>, tensor<?x?x?xf32>
}
