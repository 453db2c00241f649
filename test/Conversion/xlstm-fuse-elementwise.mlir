// RUN: xlstm-opt %s --split-input-file --xlstm-fuse-elementwise | FileCheck %s
// RUN: xlstm-opt %s --split-input-file --xlstm-fuse-elementwise=max-operands=2 | FileCheck %s --check-prefix=LIMIT

#id = affine_map<(d0, d1) -> (d0, d1)>
#x = affine_map<(d0, d1, d2) -> (d0, d2)>
#w = affine_map<(d0, d1, d2) -> (d1, d2)>
#y = affine_map<(d0, d1, d2) -> (d0, d1)>

// exp then add fuse into one generic; the projection feeding them stays a
// linalg.contract (upstream's fusion would fold it too).
// CHECK-LABEL: func @chain
// CHECK:       %[[P:.+]] = linalg.contract
// CHECK:       %[[F:.+]] = linalg.generic {{.*}} ins(%[[P]], %{{.*}} : tensor<?x8xf32>, tensor<?x8xf32>)
// CHECK:         math.exp
// CHECK:         arith.addf
// CHECK-NOT:   linalg.generic
// CHECK:       return %[[F]]
// With at most 2 operands per op the two stay apart.
// LIMIT-LABEL: func @chain
// LIMIT-COUNT-2: linalg.generic
func.func @chain(%x: tensor<?x16xf32>, %w: tensor<8x16xf32>, %z: tensor<?x8xf32>,
                 %init: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %p = linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : tensor<?x16xf32>, tensor<8x16xf32>) outs(%init : tensor<?x8xf32>) -> tensor<?x8xf32>
  %e = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p : tensor<?x8xf32>) outs(%init : tensor<?x8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.exp %a : f32
    linalg.yield %r : f32
  } -> tensor<?x8xf32>
  %s = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%e, %z : tensor<?x8xf32>, tensor<?x8xf32>) outs(%init : tensor<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %r = arith.addf %a, %b : f32
    linalg.yield %r : f32
  } -> tensor<?x8xf32>
  return %s : tensor<?x8xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#x = affine_map<(d0, d1, d2) -> (d0, d2)>
#w = affine_map<(d0, d1, d2) -> (d1, d2)>
#y = affine_map<(d0, d1, d2) -> (d0, d1)>

// A residual stream: x1 = x0 + o0 is also a projection's operand, so it
// stays materialised; fusing it into x2 = x1 + o1 would re-read x0 and o0
// there (and every earlier block's output in a deep stack). The two adds
// stay apart. The exp, read by the add alone, still fuses into it.
// CHECK-LABEL: func @residual
// CHECK:       %[[X1:.+]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<?x8xf32>, tensor<?x8xf32>)
// CHECK:         arith.addf
// CHECK:       %[[P:.+]] = linalg.contract {{.*}} ins(%[[X1]],
// CHECK:       %[[X2:.+]] = linalg.generic {{.*}} ins(%[[X1]], %[[P]] : tensor<?x8xf32>, tensor<?x8xf32>)
// CHECK:         math.exp
// CHECK:         arith.addf
// CHECK:       return %[[X2]]
func.func @residual(%x0: tensor<?x8xf32>, %o0: tensor<?x8xf32>, %w: tensor<8x8xf32>,
                    %init: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %x1 = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x0, %o0 : tensor<?x8xf32>, tensor<?x8xf32>) outs(%init : tensor<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %r = arith.addf %a, %b : f32
    linalg.yield %r : f32
  } -> tensor<?x8xf32>
  %p = linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x1, %w : tensor<?x8xf32>, tensor<8x8xf32>) outs(%init : tensor<?x8xf32>) -> tensor<?x8xf32>
  %e = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p : tensor<?x8xf32>) outs(%init : tensor<?x8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.exp %a : f32
    linalg.yield %r : f32
  } -> tensor<?x8xf32>
  %x2 = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x1, %e : tensor<?x8xf32>, tensor<?x8xf32>) outs(%init : tensor<?x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %r = arith.addf %a, %b : f32
    linalg.yield %r : f32
  } -> tensor<?x8xf32>
  return %x2 : tensor<?x8xf32>
}
