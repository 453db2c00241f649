// The decoding kernels that store an elementwise op's result, as the
// runtime tests launch them (scripts/gpu-check.sh extracts their PTX;
// CudaDecodingEpilogues in unittests/Runtime/CudaObjectsTest.cpp checks them
// against float64): the gated pair silu(x Wg^T) * (x Wu^T) rounded to bf16
// (gated-decoding: the matrix-vector kernel for one row, the small-batch one
// for 2 to 16; N = 44 leaves half a block of 8 columns; K = 1056 ends in a
// partial step), and a gate pre-activation's bias and soft cap
// 15 tanh((x W^T + b) / 15) (fuse-epilogues: the skinny kernel for more than
// 16 rows), also of a float32 model (skinny-float32: the matrix-vector
// kernel with x and W swapped, a warp of 4 per row of x). The signatures
// below are what the tests pass.
// RUN: xlstm-opt %s --xlstm-contract-to-mma="gated-decoding=1 fuse-epilogues=1 skinny-float32=1 gemv-min-n=0 small-batch-warps=8 small-batch-unroll=4" | FileCheck %s
// RUN: xlstm-opt %s --xlstm-contract-to-mma="gated-decoding=1 fuse-epilogues=1 skinny-float32=1 gemv-min-n=0 small-batch-warps=8 small-batch-unroll=4" | xlstm-opt --xlstm-gpu-to-ptx="chip=sm_80" | FileCheck %s --check-prefix=PTX

// CHECK-LABEL: func @gated(
// CHECK:         gpu.launch_func @projection_gemv_gated::@projection_gemv_gated blocks in (%{{.+}}, {{.*}} threads in (%c128,
// CHECK:         gpu.launch_func @projection_small_batch_mma_gated::@projection_small_batch_mma_gated blocks in (%{{.+}}, {{.*}} threads in (%c256,
// CHECK-LABEL: func @soft_cap(
// CHECK:         gpu.launch_func @projection_skinny_mma::@projection_skinny_mma {{.*}} threads in (%c512,
// CHECK-LABEL: func @soft_cap_f32(
// CHECK:         gpu.launch_func @projection_skinny_gemv::@projection_skinny_gemv {{.*}} threads in (%c128,
// CHECK-LABEL: gpu.func @projection_gemv_gated(
// CHECK-SAME:    %{{.+}}: memref<?x1056xbf16>, %{{.+}}: memref<44x1056xbf16>, %{{.+}}: memref<?x44xbf16>, %{{.+}}: index, %{{.+}}: memref<44x1056xbf16>)
// CHECK-LABEL: gpu.func @projection_small_batch_mma_gated(
// CHECK-SAME:    %{{.+}}: memref<?x1056xbf16>, %{{.+}}: memref<44x1056xbf16>, %{{.+}}: memref<?x44xbf16>, %{{.+}}: index, %{{.+}}: memref<44x1056xbf16>)
// CHECK-LABEL: gpu.func @projection_skinny_mma(
// CHECK-SAME:    %{{.+}}: memref<?x256xbf16>, %{{.+}}: memref<8x256xbf16>, %{{.+}}: memref<?x8xf32>, %{{.+}}: index, %{{.+}}: memref<8xbf16>)
// CHECK-LABEL: gpu.func @projection_skinny_gemv(
// CHECK-SAME:    %{{.+}}: memref<?x256xf32>, %{{.+}}: memref<8x256xf32>, %{{.+}}: memref<?x8xf32>, %{{.+}}: index, %{{.+}}: memref<8xf32>)
// PTX-DAG:     .entry projection_gemv_gated(
// PTX-DAG:     .entry projection_small_batch_mma_gated(
// PTX-DAG:     .entry projection_skinny_mma(
// PTX-DAG:     .entry projection_skinny_gemv(

#x = affine_map<(d0, d1, d2) -> (d0, d2)>
#w = affine_map<(d0, d1, d2) -> (d1, d2)>
#y = affine_map<(d0, d1, d2) -> (d0, d1)>
#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>

func.func @gated(%x: memref<?x1056xbf16>, %wg: memref<44x1056xbf16>, %wu: memref<44x1056xbf16>) -> memref<?x44xbf16> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %m = memref.dim %x, %c0 : memref<?x1056xbf16>
  %g = memref.alloc(%m) : memref<?x44xf32>
  linalg.fill ins(%zero : f32) outs(%g : memref<?x44xf32>)
  %u = memref.alloc(%m) : memref<?x44xf32>
  linalg.fill ins(%zero : f32) outs(%u : memref<?x44xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %wg : memref<?x1056xbf16>, memref<44x1056xbf16>) outs(%g : memref<?x44xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %wu : memref<?x1056xbf16>, memref<44x1056xbf16>) outs(%u : memref<?x44xf32>)
  %out = memref.alloc(%m) : memref<?x44xbf16>
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%g, %u : memref<?x44xf32>, memref<?x44xf32>) outs(%out : memref<?x44xbf16>) {
  ^bb0(%in: f32, %in2: f32, %o: bf16):
    %n = arith.negf %in : f32
    %e = math.exp %n : f32
    %d = arith.addf %e, %one : f32
    %sg = arith.divf %in, %d : f32
    %p = arith.mulf %sg, %in2 : f32
    %t = arith.truncf %p : f32 to bf16
    linalg.yield %t : bf16
  }
  memref.dealloc %g : memref<?x44xf32>
  memref.dealloc %u : memref<?x44xf32>
  return %out : memref<?x44xbf16>
}

func.func @soft_cap(%x: memref<?x256xbf16>, %w: memref<8x256xbf16>, %bias: memref<8xbf16>) -> memref<?x8xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %cap = arith.constant 15.0 : f32
  %m = memref.dim %x, %c0 : memref<?x256xbf16>
  %pre = memref.alloc(%m) : memref<?x8xf32>
  linalg.fill ins(%zero : f32) outs(%pre : memref<?x8xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x256xbf16>, memref<8x256xbf16>) outs(%pre : memref<?x8xf32>)
  %out = memref.alloc(%m) : memref<?x8xf32>
  linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%pre, %bias : memref<?x8xf32>, memref<8xbf16>) outs(%out : memref<?x8xf32>) {
  ^bb0(%in: f32, %b: bf16, %o: f32):
    %e = arith.extf %b : bf16 to f32
    %a = arith.addf %in, %e : f32
    %d = arith.divf %a, %cap : f32
    %t = math.tanh %d : f32
    %r = arith.mulf %t, %cap : f32
    linalg.yield %r : f32
  }
  memref.dealloc %pre : memref<?x8xf32>
  return %out : memref<?x8xf32>
}

func.func @soft_cap_f32(%x: memref<?x256xf32>, %w: memref<8x256xf32>, %bias: memref<8xf32>) -> memref<?x8xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %cap = arith.constant 15.0 : f32
  %m = memref.dim %x, %c0 : memref<?x256xf32>
  %pre = memref.alloc(%m) : memref<?x8xf32>
  linalg.fill ins(%zero : f32) outs(%pre : memref<?x8xf32>)
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x256xf32>, memref<8x256xf32>) outs(%pre : memref<?x8xf32>)
  %out = memref.alloc(%m) : memref<?x8xf32>
  linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%pre, %bias : memref<?x8xf32>, memref<8xf32>) outs(%out : memref<?x8xf32>) {
  ^bb0(%in: f32, %b: f32, %o: f32):
    %a = arith.addf %in, %b : f32
    %d = arith.divf %a, %cap : f32
    %t = math.tanh %d : f32
    %r = arith.mulf %t, %cap : f32
    linalg.yield %r : f32
  }
  memref.dealloc %pre : memref<?x8xf32>
  return %out : memref<?x8xf32>
}
