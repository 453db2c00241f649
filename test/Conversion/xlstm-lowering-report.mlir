// xlstm-lowering-report gathers the kernels xlstm-contract-to-mma recorded
// and the linalg ops left for the generic kernels, with the reason the pass
// gave, by parameter (xlstm.param) or location.
// RUN: xlstm-opt %s --xlstm-contract-to-mma="gemv-max-rows=0 pad-k=0" --xlstm-lowering-report -o /dev/null | FileCheck %s
// RUN: not xlstm-opt %s --xlstm-contract-to-mma="gemv-max-rows=0 pad-k=0" --xlstm-lowering-report="print=0 require-fast-kernels=1" -o /dev/null 2>&1 | FileCheck %s --check-prefix=REQUIRE
// With pad-k (the default) the odd K is padded: the projection keeps its
// name and its own K, and says so.
// RUN: xlstm-opt %s --xlstm-contract-to-mma="gemv-max-rows=0" --xlstm-lowering-report -o /dev/null | FileCheck %s --check-prefix=PADDED
// PADDED: forward projection odd.weight ?x32x24 bf16 mma-staged 128x128x32 8 warps 4 stages group-m 8 swizzled (x and W copied, K padded to 32), adding to its output{{$}}
// REQUIRE: error: projection odd.weight (forward, ?x32x24 bf16) takes a generic kernel: K = 24 is not a multiple of 16 (--require-fast-kernels)
// REQUIRE: error: {{.*}}norm blocks.2 xlstm.layer_norm (forward, 32 f32) takes a generic kernel (--require-fast-kernels)

#x = affine_map<(d0, d1, d2) -> (d0, d2)>
#w = affine_map<(d0, d1, d2) -> (d1, d2)>
#y = affine_map<(d0, d1, d2) -> (d0, d1)>

// CHECK:      function family where shape dtype kernels
// (Its output is not zero-filled first: the projection adds to it.)
// CHECK-NEXT: forward projection up.weight ?x32x64 bf16 mma-staged 128x128x32 8 warps 4 stages group-m 8 swizzled, adding to its output{{$}}
// CHECK-NEXT: forward projection odd.weight ?x32x24 bf16 generic (K = 24 is not a multiple of 16)
// CHECK-NEXT: forward norm blocks.2 xlstm.layer_norm 32 f32 generic
// CHECK-NEXT: 3 ops, 1 on specialised kernels only, 2 with generic kernels; 1 other generic kernels
func.func @forward(%x: memref<?x64xbf16>, %w: memref<32x64xbf16> {xlstm.param = "up.weight"},
                   %x2: memref<?x24xbf16>, %w2: memref<32x24xbf16> {xlstm.param = "odd.weight"},
                   %v: memref<32xf32>) -> (memref<?x32xf32>, memref<?x32xf32>) {
  %c0 = arith.constant 0 : index
  %m = memref.dim %x, %c0 : memref<?x64xbf16>
  %a = memref.alloc(%m) : memref<?x32xf32>
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<?x64xbf16>, memref<32x64xbf16>) outs(%a : memref<?x32xf32>)
  %b = memref.alloc(%m) : memref<?x32xf32>
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x2, %w2 : memref<?x24xbf16>, memref<32x24xbf16>) outs(%b : memref<?x32xf32>)
  %sum = memref.alloc() : memref<f32>
  linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>], iterator_types = ["reduction"]}
      ins(%v : memref<32xf32>) outs(%sum : memref<f32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %in, %out : f32
    linalg.yield %s : f32
  } loc(fused["xlstm.layer_norm"("blocks.2")])
  // Elementwise work (here also at a norm's location) is counted, not
  // listed.
  linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      outs(%v : memref<32xf32>) {
  ^bb0(%out: f32):
    %s = arith.addf %out, %out : f32
    linalg.yield %s : f32
  } loc(fused["xlstm.layer_norm"("blocks.2")])
  return %a, %b : memref<?x32xf32>, memref<?x32xf32>
}
