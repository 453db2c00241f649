// RUN: xlstm-opt %s --pass-pipeline="builtin.module(gpu.module(xlstm-align-workgroup-memory))" | FileCheck %s
// RUN: xlstm-opt %s --pass-pipeline="builtin.module(gpu.module(xlstm-align-workgroup-memory{alignment=64}))" | FileCheck %s --check-prefix=A64
// RUN: not xlstm-opt %s --pass-pipeline="builtin.module(gpu.module(xlstm-align-workgroup-memory{alignment=12}))" 2>&1 | FileCheck %s --check-prefix=BAD

// Workgroup buffers without an alignment get one; a given one is kept.
// CHECK:  workgroup(%{{.+}} : memref<2x128x40xbf16, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %{{.+}} : memref<64xf32, #gpu.address_space<workgroup>> {llvm.align = 4 : i64})
// A64:    workgroup(%{{.+}} : memref<2x128x40xbf16, #gpu.address_space<workgroup>> {llvm.align = 64 : i64}, %{{.+}} : memref<64xf32, #gpu.address_space<workgroup>> {llvm.align = 4 : i64})
// BAD: alignment must be a power of two
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @k() workgroup(%a : memref<2x128x40xbf16, #gpu.address_space<workgroup>>,
                            %b : memref<64xf32, #gpu.address_space<workgroup>> {llvm.align = 4 : i64}) kernel {
      gpu.return
    }
  }
}
