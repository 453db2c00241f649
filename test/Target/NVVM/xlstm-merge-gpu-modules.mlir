// RUN: xlstm-opt %s --xlstm-merge-gpu-modules="modules=2" | FileCheck %s
// RUN: xlstm-opt %s --xlstm-merge-gpu-modules="modules=1" | FileCheck %s --check-prefix=ONE
// RUN: not xlstm-opt %s --xlstm-merge-gpu-modules="modules=0" 2>&1 | FileCheck %s --check-prefix=ZERO
// Then serialized: one PTX image per packed module, every kernel an entry.
// RUN: xlstm-opt %s --xlstm-gpu-to-ptx="modules=1" | FileCheck %s --check-prefix=PTX

// Three kernels into two modules, largest first into the lightest: @big
// alone, @small_a and @small_b together. Kernels are named after their
// old modules and the launches follow. @other_target has other attributes
// and is not packed with the rest.
// CHECK-LABEL: func.func @host
// CHECK:         gpu.launch_func @kernels_1::@small_a
// CHECK:         gpu.launch_func @kernels_0::@big
// CHECK:         gpu.launch_func @kernels_1::@small_b
// CHECK:         gpu.launch_func @other_target::@k
// CHECK:       gpu.module @kernels_0 {
// CHECK-NEXT:    gpu.func @big(
// CHECK:       gpu.module @kernels_1 {
// CHECK-NEXT:    gpu.func @small_a(
// CHECK:         gpu.func @small_b(
// CHECK:       gpu.module @other_target [#nvvm.target<chip = "sm_90">]
// CHECK-NOT:   gpu.module @small_a

// ONE:         gpu.launch_func @kernels::@small_a
// ONE:         gpu.launch_func @kernels::@big
// ONE:         gpu.launch_func @kernels::@small_b
// ONE:       gpu.module @kernels {
// ONE-NEXT:    gpu.func @small_a(
// ONE:         gpu.func @big(
// ONE:         gpu.func @small_b(

// ZERO: modules must be at least 1

// PTX:     gpu.binary @kernels [#gpu.object<#nvvm.target<O = 3, chip = "sm_80">, {{.*}}.entry small_a{{.*}}.entry big{{.*}}.entry small_b
// PTX:     gpu.binary @other_target

module attributes {gpu.container_module} {
  func.func @host(%m: memref<16xf32>) {
    %c1 = arith.constant 1 : index
    %c16 = arith.constant 16 : index
    gpu.launch_func @small_a::@forward_kernel blocks in (%c1, %c1, %c1) threads in (%c16, %c1, %c1) args(%m : memref<16xf32>)
    gpu.launch_func @big::@forward_kernel blocks in (%c1, %c1, %c1) threads in (%c16, %c1, %c1) args(%m : memref<16xf32>)
    gpu.launch_func @small_b::@step_kernel blocks in (%c1, %c1, %c1) threads in (%c16, %c1, %c1) args(%m : memref<16xf32>)
    gpu.launch_func @other_target::@k blocks in (%c1, %c1, %c1) threads in (%c16, %c1, %c1) args(%m : memref<16xf32>)
    return
  }
  gpu.module @small_a {
    gpu.func @forward_kernel(%m: memref<16xf32>) kernel {
      %i = gpu.thread_id x
      %v = memref.load %m[%i] : memref<16xf32>
      %w = arith.addf %v, %v : f32
      memref.store %w, %m[%i] : memref<16xf32>
      gpu.return
    }
  }
  gpu.module @big {
    gpu.func @forward_kernel(%m: memref<16xf32>) kernel {
      %i = gpu.thread_id x
      %v = memref.load %m[%i] : memref<16xf32>
      %a = arith.mulf %v, %v : f32
      %b = arith.mulf %a, %v : f32
      %c = arith.mulf %b, %v : f32
      %d = arith.addf %c, %a : f32
      memref.store %d, %m[%i] : memref<16xf32>
      gpu.return
    }
  }
  gpu.module @small_b {
    gpu.func @step_kernel(%m: memref<16xf32>) kernel {
      %i = gpu.thread_id x
      %v = memref.load %m[%i] : memref<16xf32>
      %w = arith.subf %v, %v : f32
      memref.store %w, %m[%i] : memref<16xf32>
      gpu.return
    }
  }
  gpu.module @other_target [#nvvm.target<chip = "sm_90">] {
    gpu.func @k(%m: memref<16xf32>) kernel {
      gpu.return
    }
  }
}
