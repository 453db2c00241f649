// RUN: xlstm-opt %s --xlstm-dedupe-gpu-modules --mlir-print-debuginfo --mlir-print-local-scope | FileCheck %s

// @a, @b and @c are the same kernel (@c under another name, and with other
// locations); @d differs in one constant and @e in its block size, so they
// stay. Every launch of a merged module now targets the first one, and
// keeps its own location.
// CHECK-LABEL: func.func @host
// CHECK:         gpu.launch_func @a::@forward_kernel {{.*}} loc("first")
// CHECK:         gpu.launch_func @a::@forward_kernel {{.*}} loc("second")
// CHECK:         gpu.launch_func @a::@forward_kernel {{.*}} loc("third")
// CHECK:         gpu.launch_func @d::@forward_kernel
// CHECK:         gpu.launch_func @e::@forward_kernel
// CHECK:         gpu.launch_func @a::@forward_kernel
// CHECK-NOT:   gpu.module @b
// CHECK-NOT:   gpu.module @c
// CHECK:       gpu.module @a
// CHECK:       gpu.module @d
// CHECK:       gpu.module @e
// CHECK-NOT:   gpu.module @b
// CHECK-NOT:   gpu.module @c
// A module with two functions is never merged, nor erased.
// CHECK:       gpu.module @two
// CHECK:       gpu.module @two_copy

module attributes {gpu.container_module} {
  func.func @host(%m: memref<16xf32>) {
    %c1 = arith.constant 1 : index
    %c16 = arith.constant 16 : index
    gpu.launch_func @a::@forward_kernel blocks in (%c1, %c1, %c1) threads in (%c16, %c1, %c1) args(%m : memref<16xf32>) loc("first")
    gpu.launch_func @b::@forward_kernel blocks in (%c1, %c1, %c1) threads in (%c16, %c1, %c1) args(%m : memref<16xf32>) loc("second")
    gpu.launch_func @c::@step_kernel blocks in (%c1, %c1, %c1) threads in (%c16, %c1, %c1) args(%m : memref<16xf32>) loc("third")
    gpu.launch_func @d::@forward_kernel blocks in (%c1, %c1, %c1) threads in (%c16, %c1, %c1) args(%m : memref<16xf32>)
    gpu.launch_func @e::@forward_kernel blocks in (%c1, %c1, %c1) threads in (%c16, %c1, %c1) args(%m : memref<16xf32>)
    gpu.launch_func @b::@forward_kernel blocks in (%c1, %c1, %c1) threads in (%c16, %c1, %c1) args(%m : memref<16xf32>)
    return
  }
  gpu.module @a {
    gpu.func @forward_kernel(%m: memref<16xf32>) kernel attributes {known_block_size = array<i32: 16, 1, 1>} {
      %i = gpu.thread_id x
      %v = memref.load %m[%i] : memref<16xf32>
      %two = arith.constant 2.0 : f32
      %w = arith.mulf %v, %two : f32
      memref.store %w, %m[%i] : memref<16xf32>
      gpu.return
    }
  }
  gpu.module @b {
    gpu.func @forward_kernel(%m: memref<16xf32>) kernel attributes {known_block_size = array<i32: 16, 1, 1>} {
      %i = gpu.thread_id x
      %v = memref.load %m[%i] : memref<16xf32>
      %two = arith.constant 2.0 : f32
      %w = arith.mulf %v, %two : f32
      memref.store %w, %m[%i] : memref<16xf32>
      gpu.return
    }
  }
  gpu.module @c {
    gpu.func @step_kernel(%m: memref<16xf32>) kernel attributes {known_block_size = array<i32: 16, 1, 1>} {
      %i = gpu.thread_id x loc("elsewhere")
      %v = memref.load %m[%i] : memref<16xf32>
      %two = arith.constant 2.0 : f32
      %w = arith.mulf %v, %two : f32
      memref.store %w, %m[%i] : memref<16xf32>
      gpu.return
    }
  }
  gpu.module @d {
    gpu.func @forward_kernel(%m: memref<16xf32>) kernel attributes {known_block_size = array<i32: 16, 1, 1>} {
      %i = gpu.thread_id x
      %v = memref.load %m[%i] : memref<16xf32>
      %two = arith.constant 3.0 : f32
      %w = arith.mulf %v, %two : f32
      memref.store %w, %m[%i] : memref<16xf32>
      gpu.return
    }
  }
  gpu.module @e {
    gpu.func @forward_kernel(%m: memref<16xf32>) kernel attributes {known_block_size = array<i32: 32, 1, 1>} {
      %i = gpu.thread_id x
      %v = memref.load %m[%i] : memref<16xf32>
      %two = arith.constant 2.0 : f32
      %w = arith.mulf %v, %two : f32
      memref.store %w, %m[%i] : memref<16xf32>
      gpu.return
    }
  }
  gpu.module @two {
    gpu.func @forward_kernel() kernel { gpu.return }
    gpu.func @other() kernel { gpu.return }
  }
  gpu.module @two_copy {
    gpu.func @forward_kernel() kernel { gpu.return }
    gpu.func @other() kernel { gpu.return }
  }
}
