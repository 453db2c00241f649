// RUN: not xlstm-opt %s --xlstm-lower-to-linalg --mlir-print-op-on-diagnostic --mlir-print-debuginfo 2>&1 | FileCheck %s

// Code review (issue 11): a lowering that declines must leave the op as it
// found it. The op used to be renamed after itself (NameLoc
// "xlstm.rms_norm") before its lowering ran, and kept that name when the
// lowering failed, breaking the rewrite-pattern contract.
// CHECK:     error: xlstm-lower-to-linalg: 'xlstm.rms_norm' has no lowering
// CHECK:     see current operation:
// CHECK-SAME: loc("{{[^"]*}}xlstm-lower-to-linalg-declined.mlir":[[@LINE+3]]:8)
// A dynamic feature width cannot be baked into the norm.
func.func @dynamic_width(%x: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %y = xlstm.rms_norm %x {eps = 1.000000e-06 : f64} : (tensor<?x?xf32>) -> tensor<?x?xf32>
  return %y : tensor<?x?xf32>
}
