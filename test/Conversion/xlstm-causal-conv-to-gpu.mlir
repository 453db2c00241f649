// A causal conv becomes one kernel: a thread per (row, run of 8 positions by
// default, 8 bytes of channels) reading the K - 1 inputs before its run from
// the state or the input and then each input of the run once; one more
// thread per row and channels writes the final state.
// RUN: xlstm-opt %s --split-input-file --xlstm-causal-conv-to-gpu='in-place-slices=0' | FileCheck %s
// RUN: xlstm-opt %s --split-input-file --xlstm-causal-conv-to-gpu | FileCheck %s --check-prefix=SLICE
// RUN: xlstm-opt %s --split-input-file --xlstm-causal-conv-to-gpu='epilogue-f32=0' | FileCheck %s --check-prefix=EXACT
// RUN: xlstm-opt %s --split-input-file --xlstm-causal-conv-to-gpu='epilogue-approx=0' | FileCheck %s --check-prefix=PRECISE
// RUN: xlstm-opt %s --split-input-file --xlstm-causal-conv-to-gpu='epilogue-flush-denormals=0' | FileCheck %s --check-prefix=AFN
// RUN: xlstm-opt %s --split-input-file --xlstm-causal-conv-to-gpu='run-length=4' | FileCheck %s --check-prefix=RUN4
// RUN: not xlstm-opt %s --split-input-file --xlstm-causal-conv-to-gpu='run-length=0' 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: run-length must be 1 to 64, got 0
// RUN: xlstm-opt %s --split-input-file --xlstm-causal-conv-to-gpu='vector-bytes=16' | FileCheck %s --check-prefix=V16
// RUN: xlstm-opt %s --split-input-file --xlstm-causal-conv-to-gpu='vector-bytes=4' | FileCheck %s --check-prefix=V4
// RUN: not xlstm-opt %s --split-input-file --xlstm-causal-conv-to-gpu='vector-bytes=12' 2>&1 | FileCheck %s --check-prefix=BADVEC
// BADVEC: vector-bytes must be 4, 8 or 16, got 12

// CHECK-LABEL: func @with_state
// CHECK-NOT:   xlstm.causal_conv1d
// CHECK:       %[[S:.+]] = memref.dim %{{.+}}, %c1
// CHECK:       %[[RUNS:.+]] = arith.ceildivui %[[S]], %c8
// CHECK:       arith.addi %[[RUNS]], %c1
// CHECK:       %[[MANY:.+]] = arith.cmpi uge, %{{.+}}, %c65536
// CHECK:       scf.if %[[MANY]]
// CHECK:       gpu.launch
// CHECK:         scf.if
// The K - 1 = 3 inputs before the run (each from the state or the input),
// then the run's 8, all before the first store (and each read once); each
// tap one fused multiply-add.
// CHECK-COUNT-6:   vector.load %{{.+}} : memref<?x{{[?3]}}x256xbf16>, vector<4xbf16>
// The thread's 4 channels' taps (16 values together in w) and biases: one
// vector load each.
// CHECK:           %[[W:.+]] = memref.collapse_shape %{{.+}} {{\[\[}}0, 1]] : memref<256x4xbf16> into memref<1024xbf16>
// CHECK:           vector.load %[[W]][%{{.+}}] {alignment = 16 : i64} : memref<1024xbf16>, vector<16xbf16>
// CHECK:           vector.load %{{.+}} {alignment = 8 : i64} : memref<256xbf16>, vector<4xbf16>
// CHECK-NOT:       vector.store
// CHECK-COUNT-8:   vector.load %{{.+}} : memref<?x?x256xbf16>, vector<4xbf16>
// CHECK-NOT:       vector.{{load|store}}
// CHECK-COUNT-16:  math.fma {{.*}} : f32
// CHECK-COUNT-8:   vector.store {{.*}} : memref<?x?x256xbf16>, vector<4xbf16>
// CHECK:         } else {
// CHECK-COUNT-3:   vector.store {{.*}} : memref<?x3x256xbf16>, vector<4xbf16>
// CHECK:       } {xlstm.kernel = {dtype = "bf16", family = "conv", kernel = "causal conv, 4 channels x 8 positions per thread", shape = "?x?x256x4", when = ">= 65536 threads"}}
// Fewer threads than that in runs of 8 (short or few sequences): one
// position per thread, so that the GPU has enough of them.
// CHECK:       } else {
// CHECK:         gpu.launch
// CHECK:       } {xlstm.kernel = {dtype = "bf16", family = "conv", kernel = "causal conv, 4 channels x 1 position per thread", shape = "?x?x256x4", when = "fewer threads"}}
// run-length sets the run.
// RUN4-LABEL:  func @with_state
// RUN4:        arith.ceildivui %{{.+}}, %c4
// RUN4-COUNT-4:  vector.store {{.*}} : memref<?x?x256xbf16>, vector<4xbf16>
// RUN4-NOT:      vector.store {{.*}} : memref<?x?x256xbf16>, vector<4xbf16>
// RUN4:        } else {
// RUN4:        kernel = "causal conv, 4 channels x 4 positions per thread"
// With whole-runs, a run that ends inside the sequence takes a branch
// whose loads are not clamped to the last position and whose stores are not
// guarded; the row's last run keeps both.
// RUN: xlstm-opt %s --split-input-file --xlstm-causal-conv-to-gpu='whole-runs=1' | FileCheck %s --check-prefix=WHOLE
// WHOLE-LABEL:    func @with_state
// WHOLE:          gpu.launch
// WHOLE:            %[[END:.+]] = arith.addi %{{.+}}, %c8{{[_0-9]*}} : index
// WHOLE-NEXT:       %[[INSIDE:.+]] = arith.cmpi ule, %[[END]], %{{.+}} : index
// WHOLE-NEXT:       scf.if %[[INSIDE]] {
// WHOLE-NOT:          arith.minui
// WHOLE-COUNT-8:      vector.load %{{.+}} : memref<?x?x256xbf16>, vector<4xbf16>
// WHOLE-NOT:          scf.if
// WHOLE-COUNT-8:      vector.store {{.*}} : memref<?x?x256xbf16>, vector<4xbf16>
// WHOLE-NEXT:       } else {
// WHOLE-COUNT-8:      arith.minui
// WHOLE-COUNT-8:      scf.if
// WHOLE:            kernel = "causal conv, 4 channels x 8 positions per thread, whole runs unguarded"
// WHOLE:            kernel = "causal conv, 4 channels x 1 position per thread"
// vector-bytes sets the channels a thread takes.
// V16-LABEL:   func @with_state
// V16-COUNT-8:   vector.store {{.*}} : memref<?x?x256xbf16>, vector<8xbf16>
// V16:         kernel = "causal conv, 8 channels x 8 positions per thread"
func.func @with_state(%x: tensor<?x?x256xbf16>, %w: tensor<256x4xbf16>, %b: tensor<256xbf16>, %s0: tensor<?x3x256xbf16>)
    -> (tensor<?x?x256xbf16>, tensor<?x3x256xbf16>) {
  %y, %s = xlstm.causal_conv1d %x, %w bias(%b) initial_state(%s0)
      : (tensor<?x?x256xbf16>, tensor<256x4xbf16>, tensor<256xbf16>, tensor<?x3x256xbf16>)
      -> (tensor<?x?x256xbf16>, tensor<?x3x256xbf16>)
  return %y, %s : tensor<?x?x256xbf16>, tensor<?x3x256xbf16>
}

// -----

// The mLSTM's conv reads half of the up projection: a column slice whose
// rows start on whole vectors is read in place through a strided view
// (bufferization would otherwise copy it into a dense buffer first).
// (With in-place-slices=0 the slice is read as a dense buffer.)
// SLICE-LABEL: func @column_slice
// SLICE:         %[[UP:.+]] = bufferization.to_buffer %arg0 read_only
// SLICE:         %[[X:.+]] = memref.subview %[[UP]][0, 0, 256] [%{{.+}}, %{{.+}}, 256] [1, 1, 1]
// SLICE-SAME:      to memref<?x?x256xbf16, strided<[?, 512, 1], offset: 256>>
// SLICE:         gpu.launch
// SLICE:           vector.load %[[X]][
// SLICE:         kernel = "causal conv, 4 channels x 8 positions per thread, input read in place"
// CHECK-LABEL: func @column_slice
// CHECK:         bufferization.to_buffer %{{.+}} read_only : tensor<?x?x256xbf16> to memref<?x?x256xbf16>
// CHECK-NOT:     memref.subview
func.func @column_slice(%up: tensor<?x?x512xbf16>, %w: tensor<256x4xbf16>) -> tensor<?x?x256xbf16> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %up, %c0 : tensor<?x?x512xbf16>
  %s = tensor.dim %up, %c1 : tensor<?x?x512xbf16>
  %x = tensor.extract_slice %up[0, 0, 256] [%b, %s, 256] [1, 1, 1]
      : tensor<?x?x512xbf16> to tensor<?x?x256xbf16>
  %y, %f = xlstm.causal_conv1d %x, %w
      : (tensor<?x?x256xbf16>, tensor<256x4xbf16>) -> (tensor<?x?x256xbf16>, tensor<?x3x256xbf16>)
  return %y : tensor<?x?x256xbf16>
}

// -----

// Channels that do not fill 8-byte vectors: one channel per thread, scalar
// loads (also of 16-bit inputs, below); no state in or out.
// CHECK-LABEL: func @scalar
// CHECK:       gpu.launch
// CHECK-NOT:     vector.load
// CHECK:         memref.load {{.*}} : memref<?x?x5xf32>
// CHECK:       } {xlstm.kernel = {dtype = "f32", family = "conv", kernel = "causal conv, 1 channel x 8 positions per thread", shape = "?x?x5x2", when = ">= 65536 threads"}}
func.func @scalar(%x: tensor<?x?x5xf32>, %w: tensor<5x2xf32>) -> tensor<?x?x5xf32> {
  %y = xlstm.causal_conv1d %x, %w : (tensor<?x?x5xf32>, tensor<5x2xf32>) -> tensor<?x?x5xf32>
  return %y : tensor<?x?x5xf32>
}

// -----

// CHECK-LABEL: func @scalar_bf16
// CHECK:       gpu.launch
// CHECK-NOT:     vector.load
// CHECK:         memref.load {{.*}} : memref<?x?x6xbf16>
// CHECK:         arith.extf {{.*}} : bf16 to f32
// CHECK:         memref.store {{.*}} : memref<?x?x6xbf16>
// CHECK:       kernel = "causal conv, 1 channel x 8 positions per thread"
// vector-bytes=4: two bf16 channels a thread.
// V4-LABEL:    func @scalar_bf16
// V4:          vector.load {{.*}} : memref<?x?x6xbf16>, vector<2xbf16>
// V4:          kernel = "causal conv, 2 channels x 8 positions per thread"
func.func @scalar_bf16(%x: tensor<?x?x6xbf16>, %w: tensor<6x2xbf16>) -> tensor<?x?x6xbf16> {
  %y = xlstm.causal_conv1d %x, %w : (tensor<?x?x6xbf16>, tensor<6x2xbf16>) -> tensor<?x?x6xbf16>
  return %y : tensor<?x?x6xbf16>
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
// pass over the output goes. By default the SiLU runs in float32 (rounded
// once, at the store) with approximate exp and division (a bf16 result),
// in their flush-to-zero forms: exp as ex2.approx.ftz of x log2(e), the
// division 1 / d as rcp.approx.ftz.
// CHECK-LABEL: func @silu
// CHECK:       gpu.launch
// CHECK:           %[[R:.+]] = arith.truncf {{.*}} : f32 to bf16
// CHECK:           %[[I:.+]] = arith.extf %[[R]] : bf16 to f32
// CHECK:           %[[N:.+]] = arith.negf %[[I]] : f32
// CHECK:           %[[L:.+]] = arith.mulf %[[N]], %{{.+}} : f32
// CHECK:           %[[E:.+]] = llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f32"(%[[L]]) : (f32) -> f32
// CHECK:           %[[D:.+]] = arith.addf %[[E]], %{{.+}} : f32
// CHECK:           %[[G:.+]] = llvm.call_intrinsic "llvm.nvvm.rcp.approx.ftz.f"(%[[D]]) : (f32) -> f32
// CHECK:           arith.mulf %[[I]], %[[G]] : f32
// CHECK-NOT:       math.exp
// CHECK:         vector.store {{.*}} : memref<?x?x256xbf16>, vector<4xbf16>
// CHECK:       } {xlstm.kernel = {dtype = "bf16", family = "conv", kernel = "causal conv, 4 channels x 8 positions per thread, the elementwise op after it fused (float32, approximate exp and division, flush to zero)", shape = "?x?x256x4", when = ">= 65536 threads"}}
// CHECK-NOT:   linalg.generic
// CHECK:       return
// epilogue-f32=0: the body's own bf16 ops, as its own kernel computed them.
// EXACT-LABEL: func @silu
// EXACT:       gpu.launch
// EXACT-COUNT-4: arith.truncf {{.*}} : f32 to bf16
// EXACT:           arith.negf {{.*}} : bf16
// EXACT:           math.exp {{.*}} : bf16
// EXACT:         vector.store {{.*}} : memref<?x?x256xbf16>, vector<4xbf16>
// EXACT:       kernel = "causal conv, 4 channels x 8 positions per thread, the elementwise op after it fused"
// epilogue-approx=0: float32, exact exp and division.
// PRECISE-LABEL: func @silu
// PRECISE:       gpu.launch
// PRECISE-NOT:   fastmath
// PRECISE:       math.exp {{.*}} : f32
// PRECISE-NOT:   fastmath
// PRECISE:       kernel = "causal conv, 4 channels x 8 positions per thread, the elementwise op after it fused (float32)"
// epilogue-flush-denormals=0: the approximate-functions flag on exp and
// division, whose instructions keep subnormals.
// AFN-LABEL: func @silu
// AFN:       gpu.launch
// AFN:           math.exp %{{.+}} fastmath<afn> : f32
// AFN:           arith.divf %{{.+}}, %{{.+}} fastmath<afn> : f32
// AFN-NOT:       llvm.call_intrinsic
// AFN:       kernel = "causal conv, 4 channels x 8 positions per thread, the elementwise op after it fused (float32, approximate exp and division)"
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

// A float32 result: its body in float32 as it is, nothing approximate.
// CHECK-LABEL: func @f32_silu
// CHECK:       gpu.launch
// CHECK-NOT:   fastmath
// CHECK:       math.exp {{.*}} : f32
// CHECK-NOT:   fastmath
// CHECK:       kernel = "causal conv, 2 channels x 8 positions per thread, the elementwise op after it fused (float32)"
#idf = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
func.func @f32_silu(%x: tensor<?x?x8xf32>, %w: tensor<8x2xf32>) -> tensor<?x?x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %one = arith.constant 1.0 : f32
  %y = xlstm.causal_conv1d %x, %w : (tensor<?x?x8xf32>, tensor<8x2xf32>) -> tensor<?x?x8xf32>
  %b = tensor.dim %y, %c0 : tensor<?x?x8xf32>
  %s = tensor.dim %y, %c1 : tensor<?x?x8xf32>
  %e = tensor.empty(%b, %s) : tensor<?x?x8xf32>
  %z = linalg.generic {indexing_maps = [#idf, #idf], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%y : tensor<?x?x8xf32>) outs(%e : tensor<?x?x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %n = arith.negf %in : f32
    %x1 = math.exp %n : f32
    %d = arith.addf %x1, %one : f32
    %r = arith.divf %in, %d : f32
    linalg.yield %r : f32
  } -> tensor<?x?x8xf32>
  return %z : tensor<?x?x8xf32>
}

// -----

// A body with a bit cast cannot be promoted to float32: fused as it is.
// CHECK-LABEL: func @bitcast_body
// CHECK:       gpu.launch
// CHECK:       arith.bitcast {{.*}} : bf16 to i16
// CHECK:       kernel = "causal conv, 4 channels x 8 positions per thread, the elementwise op after it fused"
#idb = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
func.func @bitcast_body(%x: tensor<?x?x256xbf16>, %w: tensor<256x4xbf16>) -> tensor<?x?x256xbf16> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %y = xlstm.causal_conv1d %x, %w : (tensor<?x?x256xbf16>, tensor<256x4xbf16>) -> tensor<?x?x256xbf16>
  %b = tensor.dim %y, %c0 : tensor<?x?x256xbf16>
  %s = tensor.dim %y, %c1 : tensor<?x?x256xbf16>
  %e = tensor.empty(%b, %s) : tensor<?x?x256xbf16>
  %z = linalg.generic {indexing_maps = [#idb, #idb], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%y : tensor<?x?x256xbf16>) outs(%e : tensor<?x?x256xbf16>) {
  ^bb0(%in: bf16, %out: bf16):
    %i = arith.bitcast %in : bf16 to i16
    %f = arith.bitcast %i : i16 to bf16
    linalg.yield %f : bf16
  } -> tensor<?x?x256xbf16>
  return %z : tensor<?x?x256xbf16>
}

// -----

// The conv's output read twice (the SiLU and the return): nothing fused.
// CHECK-LABEL: func @silu_and_raw
// CHECK:       } {xlstm.kernel = {dtype = "f32", family = "conv", kernel = "causal conv, 2 channels x 8 positions per thread", shape = "?x?x8x2", when = ">= 65536 threads"}}
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
