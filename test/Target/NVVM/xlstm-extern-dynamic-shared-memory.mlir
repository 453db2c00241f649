// RUN: xlstm-opt %s --pass-pipeline='builtin.module(gpu.module(xlstm-extern-dynamic-shared-memory))' | FileCheck %s
// Through the whole PTX pipeline: the array gpu.dynamic_shared_memory
// lowers to is an extern, after the static buffers.
// RUN: xlstm-opt %s --xlstm-gpu-to-ptx | FileCheck %s --check-prefix=PTX

// The zero-length shared array (what gpu.dynamic_shared_memory lowers to)
// becomes external; sized shared buffers, globals with an initialiser and
// other address spaces keep their linkage.
// CHECK-LABEL: gpu.module @kernels
// CHECK:       llvm.mlir.global external @__dynamic_shmem__0() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<0 x i8>
// CHECK:       llvm.mlir.global internal @static_buffer() {addr_space = 3 : i32, alignment = 4 : i64} : !llvm.array<64 x f32>
// CHECK:       llvm.mlir.global internal @generic_zero() {addr_space = 0 : i32, alignment = 16 : i64} : !llvm.array<0 x i8>
// PTX:         .extern .shared .align 16 .b8 __dynamic_shmem__{{[0-9]+}}[];
// PTX:         .entry both(
gpu.module @kernels {
  llvm.mlir.global internal @__dynamic_shmem__0() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<0 x i8>
  llvm.mlir.global internal @static_buffer() {addr_space = 3 : i32, alignment = 4 : i64} : !llvm.array<64 x f32>
  llvm.mlir.global internal @generic_zero() {alignment = 16 : i64} : !llvm.array<0 x i8>

  // A kernel with a static workgroup buffer and dynamic shared memory.
  gpu.func @both(%in: memref<64xf32>, %out: memref<64xf32>) workgroup(%static: memref<64xf32, #gpu.address_space<workgroup>>) kernel {
    %c0 = arith.constant 0 : index
    %c63 = arith.constant 63 : index
    %tid = gpu.thread_id x
    %dyn = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
    %view = memref.view %dyn[%c0][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<64xf32, #gpu.address_space<workgroup>>
    %x = memref.load %in[%tid] : memref<64xf32>
    memref.store %x, %static[%tid] : memref<64xf32, #gpu.address_space<workgroup>>
    gpu.barrier
    %mirror = arith.subi %c63, %tid : index
    %v = memref.load %static[%mirror] : memref<64xf32, #gpu.address_space<workgroup>>
    memref.store %v, %view[%tid] : memref<64xf32, #gpu.address_space<workgroup>>
    gpu.barrier
    %w = memref.load %view[%mirror] : memref<64xf32, #gpu.address_space<workgroup>>
    memref.store %w, %out[%tid] : memref<64xf32>
    gpu.return
  }
}
