// RUN: xlstm-opt %s --split-input-file --xlstm-warp-norms=register-rows=0 | FileCheck %s
// RUN: xlstm-opt %s --split-input-file --xlstm-warp-norms=max-warps-per-row=1 | FileCheck %s --check-prefix=ONE-WARP
// RUN: %if ptxas %{ xlstm-opt %s --split-input-file --xlstm-warp-norms --gpu-kernel-outlining | xlstm-opt --split-input-file --xlstm-gpu-to-ptx="format=bin chip=sm_80 toolkit=%cuda_toolkit" | FileCheck %s --check-prefix=BIN %}
// RUN: xlstm-opt %s --split-input-file --xlstm-warp-norms=fuse-consumers=1 | FileCheck %s --check-prefix=FUSE
// With register-rows (the default; the CHECK lines turn it off), a thread's
// vectors of a row are loaded once, before the sweeps, which then run on
// registers; off, each sweep reads the row again:
// RUN: xlstm-opt %s --split-input-file --xlstm-warp-norms | FileCheck %s --check-prefix=REGS
// RUN: xlstm-opt %s --split-input-file --xlstm-warp-norms | FileCheck %s --check-prefix=WEIGHTS
// RUN: %if ptxas %{ xlstm-opt %s --split-input-file --xlstm-warp-norms=fuse-consumers=1 --gpu-kernel-outlining | xlstm-opt --split-input-file --xlstm-gpu-to-ptx="format=bin chip=sm_80 toolkit=%cuda_toolkit" | FileCheck %s --check-prefix=FUSE-BIN %}

// A layer norm: rows collapsed, two shuffle-reduced sweeps (mean, centred
// second moment), then the scaled row. A 128-wide bf16 row is 16 vectors of
// 16 bytes: 16 lanes per row, two rows per warp (16 per block of 256), four
// shuffles that stay inside each 16-lane group.
// CHECK-LABEL: func @layer_norm
// CHECK:       %[[X:.+]] = memref.collapse_shape {{.*}} : memref<?x?x128xbf16> into memref<?x128xbf16>
// CHECK:       %[[Y:.+]] = memref.alloc(%{{.+}}, %{{.+}}) : memref<?x?x128xbf16>
// CHECK:       %[[ROWS:.+]] = memref.dim %[[X]], %c0
// CHECK:       %[[BLOCKS:.+]] = arith.ceildivui %{{.+}}, %c16
// CHECK:       gpu.launch blocks({{.*}}) in (%{{[^ ]+}} = %[[BLOCKS]], {{.*}} threads({{.*}}) in (%{{[^ ]+}} = %c256
// CHECK:         arith.remui %{{.+}}, %c16
// CHECK:         scf.for
// CHECK:           vector.load {{.*}} : memref<?x128xbf16>, vector<8xbf16>
// CHECK-NOT:     gpu.shuffle  xor %{{.+}}, %c16_i32
// CHECK:         gpu.shuffle  xor %{{.+}}, %c8_i32
// CHECK-COUNT-3:   gpu.shuffle  xor
// CHECK:         scf.for
// CHECK-COUNT-4:   gpu.shuffle  xor
// CHECK-NOT:       gpu.shuffle
// CHECK:         math.rsqrt
// CHECK:         scf.if
// CHECK:           scf.for
// CHECK:             vector.store
// CHECK:       } {xlstm.kernel = {dtype = "bf16", family = "norm", kernel = "16 lanes per row layer norm", shape = "?x?x128"}}
// CHECK:       bufferization.to_tensor %[[Y]]
// CHECK-NOT:   xlstm.layer_norm
// BIN: gpu.binary @layer_norm_kernel
func.func @layer_norm(%x: tensor<?x?x128xbf16>, %w: tensor<128xbf16>)
    -> tensor<?x?x128xbf16> {
  %y = xlstm.layer_norm %x weight(%w) {eps = 1.0e-5 : f64, scaling = #xlstm.norm_scaling<one_plus_weight>}
      : (tensor<?x?x128xbf16>, tensor<128xbf16>) -> tensor<?x?x128xbf16>
  return %y : tensor<?x?x128xbf16>
}

// -----

// An RMS norm sweeps once, rounds the normalised value to the storage type,
// then scales. 64 bf16 values: 8 lanes per row, three shuffles.
// CHECK-LABEL: func @rms_norm
// CHECK:       gpu.launch
// CHECK-COUNT-3: gpu.shuffle  xor
// CHECK-NOT:     gpu.shuffle
// CHECK:         math.rsqrt
// CHECK:         arith.truncf {{.*}} : f32 to bf16
// CHECK:         arith.extf
// CHECK:         arith.mulf
// BIN: gpu.binary @rms_norm_kernel
func.func @rms_norm(%x: tensor<?x?x64xbf16>, %w: tensor<64xbf16>)
    -> tensor<?x?x64xbf16> {
  %y = xlstm.rms_norm %x weight(%w) {eps = 1.0e-6 : f64}
      : (tensor<?x?x64xbf16>, tensor<64xbf16>) -> tensor<?x?x64xbf16>
  return %y : tensor<?x?x64xbf16>
}

// -----

// A multi-head norm normalises each head's slice: 2 rows per input row, of
// 32 floats (8 vectors: 8 lanes per row).
// CHECK-LABEL: func @multihead_norm
// CHECK:       arith.muli %{{.+}}, %c2{{(_[0-9]+)?}} : index
// CHECK:       gpu.launch
// CHECK:         arith.remui %{{.+}}, %c8{{(_[0-9]+)?}} : index
// CHECK:         arith.divui %{{.+}}, %c2{{(_[0-9]+)?}} : index
// CHECK:         arith.remui %{{.+}}, %c2{{(_[0-9]+)?}} : index
// CHECK-COUNT-3: gpu.shuffle  xor
// CHECK-NOT:     gpu.shuffle  xor %{{.+}}, %c8_i32
// BIN: gpu.binary @multihead_norm_kernel
func.func @multihead_norm(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>)
    -> tensor<?x?x64xf32> {
  %y = xlstm.multihead_norm %x weight(%w) {eps = 1.0e-5 : f64, num_heads = 2 : i64, scaling = #xlstm.norm_scaling<weight>}
      : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  return %y : tensor<?x?x64xf32>
}

// -----

// A float32 residual row normalised into bf16 operands: 16-byte loads of
// four floats, the four results stored as one 8-byte bf16 vector. The row
// is wide enough for all 8 warps of a block (a block per row, four vectors
// per thread); the warps' sums meet in shared memory after a barrier, and
// every thread adds all eight.
// CHECK-LABEL: func @rms_norm_f32_to_bf16
// CHECK:       arith.ceildivui %{{.+}}, %c1
// CHECK:       gpu.launch {{.*}} workgroup(%[[SUMS:.+]] : memref<8xf32, #gpu.address_space<workgroup>>)
// CHECK-COUNT-4: vector.load {{.*}} : memref<?x4096xf32>, vector<4xf32>
// CHECK-COUNT-5: gpu.shuffle  xor
// CHECK:         memref.store %{{.+}}, %[[SUMS]]
// CHECK:         gpu.barrier
// CHECK-COUNT-8: memref.load %[[SUMS]]
// CHECK:         math.rsqrt
// CHECK:         arith.truncf {{.*}} : vector<4xf32> to vector<4xbf16>
// CHECK:         vector.store {{.*}} : memref<?x4096xbf16>, vector<4xbf16>
// ONE-WARP-LABEL: func @rms_norm_f32_to_bf16
// ONE-WARP:       arith.ceildivui %{{.+}}, %c8
// ONE-WARP-NOT:   workgroup
// ONE-WARP-NOT:   gpu.barrier
// ONE-WARP:       return
// BIN: gpu.binary @rms_norm_f32_to_bf16_kernel
func.func @rms_norm_f32_to_bf16(%x: tensor<?x?x4096xf32>, %w: tensor<4096xbf16>)
    -> tensor<?x?x4096xbf16> {
  %y = xlstm.rms_norm %x weight(%w) {eps = 1.0e-6 : f64}
      : (tensor<?x?x4096xf32>, tensor<4096xbf16>) -> tensor<?x?x4096xbf16>
  return %y : tensor<?x?x4096xbf16>
}

// -----

// A 1024-wide float32 layer norm: 4 warps per row (two rows per block), a
// shared buffer per sweep so the second sweep's writes need no barrier
// before them.
// CHECK-LABEL: func @layer_norm_four_warps
// CHECK:       arith.ceildivui %{{.+}}, %c2
// CHECK:       gpu.launch {{.*}} workgroup(%[[MEAN:.+]] : memref<8xf32, #gpu.address_space<workgroup>>, %[[SECOND:.+]] : memref<8xf32, #gpu.address_space<workgroup>>)
// CHECK:         memref.store %{{.+}}, %[[MEAN]]
// CHECK:         gpu.barrier
// CHECK-COUNT-4: memref.load %[[MEAN]]
// CHECK:         memref.store %{{.+}}, %[[SECOND]]
// CHECK:         gpu.barrier
// CHECK-COUNT-4: memref.load %[[SECOND]]
// CHECK-NOT:     memref.load %[[SECOND]]
// CHECK:         math.rsqrt
// BIN: gpu.binary @layer_norm_four_warps_kernel
// REGS-LABEL: func @layer_norm_four_warps
// REGS:       gpu.launch
// REGS-COUNT-2: vector.load {{.*}} : memref<?x1024xf32>, vector<4xf32>
// REGS-NOT:     scf.for
// REGS-NOT:     vector.load {{.*}} : memref<?x1024xf32>
// REGS:         math.rsqrt
// REGS-NOT:     vector.load {{.*}} : memref<?x1024xf32>
// REGS:         vector.store {{.*}} : memref<?x1024xf32>, vector<4xf32>
func.func @layer_norm_four_warps(%x: tensor<?x1024xf32>, %w: tensor<1024xf32>)
    -> tensor<?x1024xf32> {
  %y = xlstm.layer_norm %x weight(%w) {eps = 1.0e-5 : f64, scaling = #xlstm.norm_scaling<weight>}
      : (tensor<?x1024xf32>, tensor<1024xf32>) -> tensor<?x1024xf32>
  return %y : tensor<?x1024xf32>
}

// -----

// The sLSTM block's pre-norm: a float32 residual of 768 normalised into
// bf16 with 1 + weight (bf16). With register rows, the lane's six vectors
// of the row and of the weight are all loaded before the first store (a
// load after a store would wait for it: the output may alias the weight as
// far as the compiler knows).
// REGS-LABEL: func @layer_norm_768_f32_to_bf16
// REGS:       gpu.launch
// REGS-COUNT-6: vector.load {{.*}} : memref<?x768xf32>, vector<4xf32>
// REGS-NOT:     vector.store
// REGS-NOT:     memref.load {{.*}} : memref<768xbf16>
// REGS:         math.rsqrt
// REGS-NOT:     vector.load
// REGS-NOT:     memref.load {{.*}} : memref<768xbf16>
// REGS-COUNT-6: vector.store {{.*}} : memref<?x768xbf16>, vector<4xbf16>
// WEIGHTS-LABEL: func @layer_norm_768_f32_to_bf16
// WEIGHTS-COUNT-6: vector.load {{.*}} : memref<768xbf16>, vector<4xbf16>
// WEIGHTS:         math.rsqrt
func.func @layer_norm_768_f32_to_bf16(%x: tensor<?x768xf32>, %w: tensor<768xbf16>)
    -> tensor<?x768xbf16> {
  %y = xlstm.layer_norm %x weight(%w) {eps = 1.0e-5 : f64, scaling = #xlstm.norm_scaling<one_plus_weight>}
      : (tensor<?x768xf32>, tensor<768xbf16>) -> tensor<?x768xbf16>
  return %y : tensor<?x768xbf16>
}

// -----

// Heads of 192 floats: 16-byte vectors do not divide a warp's share, so
// without register-rows a thread reads scalars; with it, three 8-byte
// vectors each, kept for all sweeps.
// CHECK-LABEL: func @multihead_norm_192
// CHECK:       scf.for
// CHECK:         memref.load {{.*}} : memref<?x768xf32>
// REGS-LABEL: func @multihead_norm_192
// REGS:       gpu.launch
// REGS-COUNT-3: vector.load {{.*}} : memref<?x768xf32>, vector<2xf32>
// REGS-NOT:     scf.for
// REGS-NOT:     memref.load {{.*}} : memref<?x768xf32>
// REGS:         math.rsqrt
// REGS-COUNT-3: vector.store {{.*}} : memref<?x768xf32>, vector<2xf32>
func.func @multihead_norm_192(%x: tensor<?x768xf32>, %w: tensor<768xf32>)
    -> tensor<?x768xf32> {
  %y = xlstm.multihead_norm %x weight(%w) {eps = 1.0e-5 : f64, num_heads = 4 : i64, scaling = #xlstm.norm_scaling<weight>}
      : (tensor<?x768xf32>, tensor<768xf32>) -> tensor<?x768xf32>
  return %y : tensor<?x768xf32>
}

// -----

// float64 stays on the generic path.
// CHECK-LABEL: func @f64_norm
// CHECK-NOT:   gpu.launch
// CHECK:       xlstm.layer_norm
func.func @f64_norm(%x: tensor<?x8xf64>) -> tensor<?x8xf64> {
  %y = xlstm.layer_norm %x {eps = 1.0e-5 : f64, scaling = #xlstm.norm_scaling<weight>} : (tensor<?x8xf64>) -> tensor<?x8xf64>
  return %y : tensor<?x8xf64>
}

// -----

// fuse-consumers: the xLSTM-7B's output gate after its multi-head norm,
// sigmoid(o) * norm, then the rounding to bf16, run in the norm's kernel
// before it stores: o is read 4 values a load at the element, beside the
// row and before the sweeps (register rows: every load before the first
// store), the kernel stores bf16, and neither generic is left (their
// tensor.dim users take the norm input's sizes). Without the option both
// stay.
// CHECK-LABEL: func @gated_multihead_norm
// CHECK:         gpu.launch
// CHECK:         linalg.generic
// CHECK:         linalg.generic
// FUSE-LABEL: func @gated_multihead_norm
// FUSE-SAME:    (%[[X:[^:]+]]: tensor<?x?x64xf32>, %[[O:[^:]+]]: tensor<?x?x64xf32>
// FUSE:         %[[OB:.+]] = bufferization.to_buffer %[[O]] read_only
// FUSE:         %[[OROWS:.+]] = memref.collapse_shape %[[OB]]
// FUSE:         %[[OUT:.+]] = memref.alloc({{.*}}) : memref<?x?x64xbf16>
// FUSE:         gpu.launch
// FUSE:           vector.load %[[OROWS]]
// FUSE:           gpu.shuffle xor
// FUSE-NOT:       vector.load %[[OROWS]]
// FUSE:           math.exp
// FUSE:           arith.divf
// FUSE:           arith.mulf
// FUSE:           arith.truncf
// FUSE:         %[[Y:.+]] = bufferization.to_tensor %[[OUT]]
// FUSE-NOT:     linalg.generic
// FUSE:         tensor.dim %[[X]], %c0
// FUSE:         %[[D:.+]] = tensor.dim %[[Y]], %c0
// FUSE:         return %[[Y]], %[[D]]
// FUSE-BIN: gpu.binary @gated_multihead_norm_kernel
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
func.func @gated_multihead_norm(%x: tensor<?x?x64xf32>, %o: tensor<?x?x64xf32>,
                                %w: tensor<64xbf16>)
    -> (tensor<?x?x64xbf16>, index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = xlstm.multihead_norm %x weight(%w) {eps = 1.0e-5 : f64, num_heads = 2 : i64, scaling = #xlstm.norm_scaling<weight>}
      : (tensor<?x?x64xf32>, tensor<64xbf16>) -> tensor<?x?x64xf32>
  %d0 = tensor.dim %n, %c0 : tensor<?x?x64xf32>
  %d1 = tensor.dim %n, %c1 : tensor<?x?x64xf32>
  %e = tensor.empty(%d0, %d1) : tensor<?x?x64xf32>
  %g = linalg.generic {indexing_maps = [#id3, #id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%o, %n : tensor<?x?x64xf32>, tensor<?x?x64xf32>) outs(%e : tensor<?x?x64xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %one = arith.constant 1.0 : f32
    %neg = arith.negf %a : f32
    %ex = math.exp %neg : f32
    %den = arith.addf %one, %ex : f32
    %sig = arith.divf %one, %den : f32
    %r = arith.mulf %sig, %b : f32
    linalg.yield %r : f32
  } -> tensor<?x?x64xf32>
  %g0 = tensor.dim %g, %c0 : tensor<?x?x64xf32>
  %g1 = tensor.dim %g, %c1 : tensor<?x?x64xf32>
  %e2 = tensor.empty(%g0, %g1) : tensor<?x?x64xbf16>
  %t = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%g : tensor<?x?x64xf32>) outs(%e2 : tensor<?x?x64xbf16>) {
  ^bb0(%a: f32, %out: bf16):
    %r = arith.truncf %a : f32 to bf16
    linalg.yield %r : bf16
  } -> tensor<?x?x64xbf16>
  %dd = tensor.dim %t, %c0 : tensor<?x?x64xbf16>
  return %t, %dd : tensor<?x?x64xbf16>, index
}

// -----

// A consumer whose other operand is computed after the norm, one that
// reads the norm's value twice, and a channel vector: the first two stay
// generics, the skip (a vector over channels) joins the kernel, its four
// channels of a lane loaded beside the row, before the sweeps.
// FUSE-LABEL: func @consumers_kept_and_channel
// FUSE:         %[[SKIP:.+]] = bufferization.to_buffer %arg2 read_only
// FUSE:         gpu.launch
// FUSE-COUNT-4:   memref.load %[[SKIP]][%{{.+}}] : memref<64xf32>
// FUSE:           gpu.shuffle xor
// FUSE-NOT:       memref.load %[[SKIP]]
// FUSE:           math.rsqrt
// FUSE-NOT:       gpu.launch
// FUSE:           arith.addf
// FUSE:         gpu.launch
// FUSE:         linalg.generic
// FUSE-SAME:      ins(%{{.+}}, %{{.+}} : tensor<?x64xf32>, tensor<?x64xf32>)
// FUSE:         gpu.launch
// FUSE:         linalg.generic
#id2 = affine_map<(d0, d1) -> (d0, d1)>
#ch2 = affine_map<(d0, d1) -> (d1)>
func.func @consumers_kept_and_channel(%x: tensor<?x64xf32>, %w: tensor<64xf32>,
                                      %skip: tensor<64xf32>)
    -> (tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>) {
  %c0 = arith.constant 0 : index
  %d = tensor.dim %x, %c0 : tensor<?x64xf32>
  %e = tensor.empty(%d) : tensor<?x64xf32>
  %n = xlstm.layer_norm %x weight(%w) {eps = 1.0e-5 : f64, scaling = #xlstm.norm_scaling<weight>}
      : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  %s = linalg.generic {indexing_maps = [#id2, #ch2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%n, %skip : tensor<?x64xf32>, tensor<64xf32>) outs(%e : tensor<?x64xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %r = arith.addf %a, %b : f32
    linalg.yield %r : f32
  } -> tensor<?x64xf32>
  %n2 = xlstm.layer_norm %x weight(%w) {eps = 1.0e-5 : f64, scaling = #xlstm.norm_scaling<weight>}
      : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  %late = arith.addf %x, %x : tensor<?x64xf32>
  %u = linalg.generic {indexing_maps = [#id2, #id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%n2, %late : tensor<?x64xf32>, tensor<?x64xf32>) outs(%e : tensor<?x64xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %r = arith.mulf %a, %b : f32
    linalg.yield %r : f32
  } -> tensor<?x64xf32>
  %n3 = xlstm.layer_norm %x weight(%w) {eps = 1.0e-5 : f64, scaling = #xlstm.norm_scaling<weight>}
      : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  %v = linalg.generic {indexing_maps = [#id2, #id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%n3, %n3 : tensor<?x64xf32>, tensor<?x64xf32>) outs(%e : tensor<?x64xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %r = arith.mulf %a, %b : f32
    linalg.yield %r : f32
  } -> tensor<?x64xf32>
  return %s, %u, %v : tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>
}


// -----

// Fused: a body that uses a constant from outside it (made again in the
// kernel) and an operand that is a column slice of a wider tensor (the
// mLSTM's z, the second half of its up projection), read in place through
// a strided view of that tensor, its row split into the leading indices.
// FUSE-LABEL: func @consumers_constant_and_slice
// FUSE:         %[[WIDE:.+]] = bufferization.to_buffer %arg2 read_only
// FUSE:         %[[Z:.+]] = memref.subview %[[WIDE]][0, 0, 64] [%{{.+}}, %{{.+}}, 64] [1, 1, 1]
// FUSE-SAME:      to memref<?x?x64xf32, strided<[?, 128, 1], offset: 64>>
// FUSE:         gpu.launch
// FUSE:           %[[S:.+]] = memref.dim %[[Z]], %c1
// FUSE:           %[[IN:.+]] = arith.remui %{{.+}}, %[[S]]
// FUSE:           %[[OUT:.+]] = arith.divui %{{.+}}, %[[S]]
// FUSE:           vector.load %[[Z]][%[[OUT]], %[[IN]], %{{.+}}] {alignment = 16 : i64}
// FUSE:           %[[TWO:.+]] = arith.constant 2.000000e+00 : f32
// FUSE:           arith.mulf %{{.+}}, %[[TWO]] : f32
// FUSE-NOT:     linalg.generic
// FUSE:         return
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
func.func @consumers_constant_and_slice(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>,
                                        %wide: tensor<?x?x128xf32>)
    -> tensor<?x?x64xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %d0 = tensor.dim %x, %c0 : tensor<?x?x64xf32>
  %d1 = tensor.dim %x, %c1 : tensor<?x?x64xf32>
  %e = tensor.empty(%d0, %d1) : tensor<?x?x64xf32>
  %two = arith.constant 2.0 : f32
  %z = tensor.extract_slice %wide[0, 0, 64] [%d0, %d1, 64] [1, 1, 1]
      : tensor<?x?x128xf32> to tensor<?x?x64xf32>
  %n = xlstm.layer_norm %x weight(%w) {eps = 1.0e-5 : f64, scaling = #xlstm.norm_scaling<weight>}
      : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  %u = linalg.generic {indexing_maps = [#id3, #id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%n, %z : tensor<?x?x64xf32>, tensor<?x?x64xf32>) outs(%e : tensor<?x?x64xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %r = arith.mulf %a, %b : f32
    %t = arith.mulf %r, %two : f32
    linalg.yield %t : f32
  } -> tensor<?x?x64xf32>
  return %u : tensor<?x?x64xf32>
}

// -----

// Not fused: a body that uses a value from outside it that is not a
// constant (the clone would run in the kernel without it), and a slice
// whose rows do not start on 8 elements (the kernel's vector loads would
// be misaligned): both stay generics.
// FUSE-LABEL: func @consumers_not_fusable
// FUSE:         gpu.launch
// FUSE:         linalg.generic
// FUSE:         gpu.launch
// FUSE:         linalg.generic
#id2n = affine_map<(d0, d1) -> (d0, d1)>
func.func @consumers_not_fusable(%x: tensor<?x64xf32>, %w: tensor<64xf32>,
                                 %wide: tensor<?x128xf32>, %scale: f32)
    -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  %c0 = arith.constant 0 : index
  %d = tensor.dim %x, %c0 : tensor<?x64xf32>
  %e = tensor.empty(%d) : tensor<?x64xf32>
  %n = xlstm.layer_norm %x weight(%w) {eps = 1.0e-5 : f64, scaling = #xlstm.norm_scaling<weight>}
      : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  %s = linalg.generic {indexing_maps = [#id2n, #id2n], iterator_types = ["parallel", "parallel"]}
      ins(%n : tensor<?x64xf32>) outs(%e : tensor<?x64xf32>) {
  ^bb0(%a: f32, %out: f32):
    %r = arith.mulf %a, %scale : f32
    linalg.yield %r : f32
  } -> tensor<?x64xf32>
  %z = tensor.extract_slice %wide[0, 60] [%d, 64] [1, 1]
      : tensor<?x128xf32> to tensor<?x64xf32>
  %n2 = xlstm.layer_norm %x weight(%w) {eps = 1.0e-5 : f64, scaling = #xlstm.norm_scaling<weight>}
      : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  %u = linalg.generic {indexing_maps = [#id2n, #id2n, #id2n], iterator_types = ["parallel", "parallel"]}
      ins(%n2, %z : tensor<?x64xf32>, tensor<?x64xf32>) outs(%e : tensor<?x64xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %r = arith.mulf %a, %b : f32
    linalg.yield %r : f32
  } -> tensor<?x64xf32>
  return %s, %u : tensor<?x64xf32>, tensor<?x64xf32>
}
