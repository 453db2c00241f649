// RUN: xlstm-opt %s --split-input-file --xlstm-split-concat-contractions | FileCheck %s

#x = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#w = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
#y = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>

// The gates' concat(q, k, v) along K: three contractions over the pieces
// and W's matching column slices, each accumulating into the last; the
// concat goes.
// CHECK-LABEL: func @gates
// CHECK-SAME:  (%[[Q:[^:]+]]: tensor<?x?x32xbf16>, %[[K:[^:]+]]: tensor<?x?x32xbf16>, %[[V:[^:]+]]: tensor<?x?x64xbf16>, %[[W:[^:]+]]: tensor<4x128xbf16>, %[[Z:[^:]+]]: tensor<?x?x4xf32>)
// CHECK-NOT:   tensor.concat
// CHECK:       %[[W0:.+]] = tensor.extract_slice %[[W]][0, 0] [4, 32] [1, 1]
// CHECK:       %[[G0:.+]] = linalg.contract {{.*}} ins(%[[Q]], %[[W0]] : {{.*}}) outs(%[[Z]] : tensor<?x?x4xf32>)
// CHECK:       %[[W1:.+]] = tensor.extract_slice %[[W]][0, 32] [4, 32] [1, 1]
// CHECK:       %[[G1:.+]] = linalg.contract {{.*}} ins(%[[K]], %[[W1]] : {{.*}}) outs(%[[G0]] : tensor<?x?x4xf32>)
// CHECK:       %[[W2:.+]] = tensor.extract_slice %[[W]][0, 64] [4, 64] [1, 1]
// CHECK:       %[[G2:.+]] = linalg.contract {{.*}} ins(%[[V]], %[[W2]] : {{.*}}) outs(%[[G1]] : tensor<?x?x4xf32>)
// CHECK:       return %[[G2]]
func.func @gates(%q: tensor<?x?x32xbf16>, %k: tensor<?x?x32xbf16>, %v: tensor<?x?x64xbf16>,
                 %w: tensor<4x128xbf16>, %z: tensor<?x?x4xf32>) -> tensor<?x?x4xf32> {
  %x = tensor.concat dim(2) %q, %k, %v
      : (tensor<?x?x32xbf16>, tensor<?x?x32xbf16>, tensor<?x?x64xbf16>) -> tensor<?x?x128xbf16>
  %g = linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : tensor<?x?x128xbf16>, tensor<4x128xbf16>) outs(%z : tensor<?x?x4xf32>) -> tensor<?x?x4xf32>
  return %g : tensor<?x?x4xf32>
}

// -----

#x = affine_map<(d0, d1, d2) -> (d0, d2)>
#w = affine_map<(d0, d1, d2) -> (d1, d2)>
#y = affine_map<(d0, d1, d2) -> (d0, d1)>

// A concat along a parallel dimension (rows of x) is left alone, and so is
// one with a piece of dynamic width.
// CHECK-LABEL: func @not_the_reduction
// CHECK:       tensor.concat
// CHECK:       linalg.contract
// CHECK-NOT:   linalg.contract
// CHECK-LABEL: func @dynamic_piece
// CHECK:       tensor.concat
// CHECK:       linalg.contract
// CHECK-NOT:   linalg.contract
func.func @not_the_reduction(%a: tensor<2x8xf32>, %b: tensor<3x8xf32>, %w: tensor<4x8xf32>,
                             %z: tensor<5x4xf32>) -> tensor<5x4xf32> {
  %x = tensor.concat dim(0) %a, %b : (tensor<2x8xf32>, tensor<3x8xf32>) -> tensor<5x8xf32>
  %g = linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : tensor<5x8xf32>, tensor<4x8xf32>) outs(%z : tensor<5x4xf32>) -> tensor<5x4xf32>
  return %g : tensor<5x4xf32>
}
func.func @dynamic_piece(%a: tensor<2x?xf32>, %b: tensor<2x4xf32>, %w: tensor<4x?xf32>,
                         %z: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %x = tensor.concat dim(1) %a, %b : (tensor<2x?xf32>, tensor<2x4xf32>) -> tensor<2x?xf32>
  %g = linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : tensor<2x?xf32>, tensor<4x?xf32>) outs(%z : tensor<2x4xf32>) -> tensor<2x4xf32>
  return %g : tensor<2x4xf32>
}
