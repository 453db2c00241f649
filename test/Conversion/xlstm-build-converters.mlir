// RUN: xlstm-opt %s --split-input-file --xlstm-build-converters | FileCheck %s
// RUN: not xlstm-opt %s --split-input-file --xlstm-build-converters=threads=40 2>&1 | FileCheck %s --check-prefix=BAD

// bf16 parameters: conversions from f32 and f16 checkpoints, a thread per
// element, through float32.
// CHECK-LABEL: func.func @forward
// CHECK-LABEL: func.func @convert_f32
// CHECK-SAME: (%[[S:.+]]: memref<?xf32> {xlstm.buffer = "source"}, %[[T:.+]]: memref<?xbf16> {xlstm.buffer = "target"})
// CHECK:      %[[N:.+]] = memref.dim %[[S]], %c0
// CHECK:      %[[B:.+]] = arith.ceildivui %[[N]], %c256
// CHECK:      gpu.launch blocks(%{{.+}}, %{{.+}}, %{{.+}}) in (%{{.+}} = %[[B]],
// CHECK:      arith.truncf %{{.+}} : f32 to bf16
// CHECK-LABEL: func.func @convert_f16
// CHECK-SAME: memref<?xf16> {xlstm.buffer = "source"}, %{{.+}}: memref<?xbf16> {xlstm.buffer = "target"})
// CHECK:      arith.extf %{{.+}} : f16 to f32
// CHECK:      arith.truncf %{{.+}} : f32 to bf16
// CHECK-NOT:  func.func @convert_bf16
// BAD: error: xlstm-build-converters: threads must be a multiple of 32 from 32 to 1024, got 40
module {
  func.func @forward(%x: memref<?x8xf32> {xlstm.input = "x"}, %w: memref<8xbf16> {xlstm.param = "w"}) {
    return
  }
}

// -----

// float32 parameters: from bf16 and f16.
// CHECK-LABEL: func.func @convert_bf16
// CHECK-SAME: memref<?xbf16> {xlstm.buffer = "source"}, %{{.+}}: memref<?xf32> {xlstm.buffer = "target"})
// CHECK:      arith.extf %{{.+}} : bf16 to f32
// CHECK-LABEL: func.func @convert_f16
// CHECK-NOT:  func.func @convert_f32
module {
  func.func @forward(%x: memref<?x8xf32> {xlstm.input = "x"}, %w: memref<8xf32> {xlstm.param = "w"}) {
    return
  }
}
