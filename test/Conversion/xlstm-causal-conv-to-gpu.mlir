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
// CHECK:       %[[MANY:.+]] = arith.cmpi uge, %{{.+}}, %c65536
// CHECK:       scf.if %[[MANY]]
// CHECK:       gpu.launch
// CHECK:         scf.if
// CHECK-COUNT-3:   vector.load {{.*}} : memref<?x3x256xbf16>, vector<8xbf16>
// CHECK-COUNT-8:   vector.store {{.*}} : memref<?x?x256xbf16>, vector<8xbf16>
// CHECK:         } else {
// CHECK-COUNT-3:   vector.store {{.*}} : memref<?x3x256xbf16>, vector<8xbf16>
// CHECK:       } {xlstm.kernel = {dtype = "bf16", family = "conv", kernel = "causal conv, 8 channels x 8 positions per thread", shape = "?x?x256x4", when = ">= 65536 threads"}}
// Fewer threads than that in runs of 8 (short or few sequences): one
// position per thread, so that the GPU has enough of them.
// CHECK:       } else {
// CHECK:         gpu.launch
// CHECK:       } {xlstm.kernel = {dtype = "bf16", family = "conv", kernel = "causal conv, 8 channels x 1 position per thread", shape = "?x?x256x4", when = "fewer threads"}}
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
// CHECK:       } {xlstm.kernel = {dtype = "f32", family = "conv", kernel = "causal conv, 1 channel x 8 positions per thread", shape = "?x?x6x2", when = ">= 65536 threads"}}
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

// -----

// The conv's only reader is the SiLU after it (an elementwise op of the conv
// alone; its sizes may be asked too): the kernel applies it to each output,
// rounded to the conv's type first, and stores the SiLU; the SiLU's own
// pass over the output goes.
// CHECK-LABEL: func @silu
// CHECK:       gpu.launch
// CHECK-COUNT-8: arith.truncf {{.*}} : f32 to bf16
// CHECK:           arith.negf {{.*}} : bf16
// CHECK:           math.exp {{.*}} : bf16
// CHECK:         vector.store {{.*}} : memref<?x?x256xbf16>, vector<8xbf16>
// CHECK:       } {xlstm.kernel = {dtype = "bf16", family = "conv", kernel = "causal conv, 8 channels x 8 positions per thread, the elementwise op after it fused", shape = "?x?x256x4", when = ">= 65536 threads"}}
// CHECK-NOT:   linalg.generic
// CHECK:       return
#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
func.func @silu(%x: tensor<?x?x256xbf16>, %w: tensor<256x4xbf16>) -> tensor<?x?x256xbf16> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %one = arith.constant 1.0 : bf16
  %y = xlstm.causal_conv1d %x, %w : (tensor<?x?x256xbf16>, tensor<256x4xbf16>) -> tensor<?x?x256xbf16>
  %b = tensor.dim %y, %c0 : tensor<?x?x256xbf16>
  %s = tensor.dim %y, %c1 : tensor<?x?x256xbf16>
  %e = tensor.empty(%b, %s) : tensor<?x?x256xbf16>
  %z = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%y : tensor<?x?x256xbf16>) outs(%e : tensor<?x?x256xbf16>) {
  ^bb0(%in: bf16, %out: bf16):
    %n = arith.negf %in : bf16
    %x1 = math.exp %n : bf16
    %d = arith.addf %x1, %one : bf16
    %sg = arith.divf %one, %d : bf16
    %r = arith.mulf %in, %sg : bf16
    linalg.yield %r : bf16
  } -> tensor<?x?x256xbf16>
  return %z : tensor<?x?x256xbf16>
}

// -----

// The conv's output read twice (the SiLU and the return): nothing fused.
// CHECK-LABEL: func @silu_and_raw
// CHECK:       } {xlstm.kernel = {dtype = "f32", family = "conv", kernel = "causal conv, 4 channels x 8 positions per thread", shape = "?x?x8x2", when = ">= 65536 threads"}}
// CHECK:       linalg.generic
#id2 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
func.func @silu_and_raw(%x: tensor<?x?x8xf32>, %w: tensor<8x2xf32>) -> (tensor<?x?x8xf32>, tensor<?x?x8xf32>) {
  %y = xlstm.causal_conv1d %x, %w : (tensor<?x?x8xf32>, tensor<8x2xf32>) -> tensor<?x?x8xf32>
  %z = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%y : tensor<?x?x8xf32>) outs(%y : tensor<?x?x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.mulf %in, %in : f32
    linalg.yield %r : f32
  } -> tensor<?x?x8xf32>
  return %y, %z : tensor<?x?x8xf32>, tensor<?x?x8xf32>
}
