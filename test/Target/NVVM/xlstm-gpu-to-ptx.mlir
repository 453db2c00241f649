// RUN: xlstm-opt %s --split-input-file --xlstm-gpu-to-ptx | FileCheck %s --check-prefix=SM80
// RUN: xlstm-opt %s --split-input-file --xlstm-gpu-to-ptx="chip=sm_90 features=+ptx80" | FileCheck %s --check-prefix=SM90
// RUN: not xlstm-opt %s --split-input-file --xlstm-gpu-to-ptx="format=nonsense" 2>&1 | FileCheck %s --check-prefix=BAD

// The back half of the GPU lowering on a small kernel: gpu.module ->
// NVVM -> PTX, for sm_80 (the default: runs on A100 and later through the
// driver's JIT) and sm_90.

// SM80: gpu.binary @kernels [#gpu.object<#nvvm.target<O = 3, chip = "sm_80">
// SM80-SAME: assembly = "
// SM80-SAME: .version 7.0\0A.target sm_80
// SM80-SAME: .visible .entry affine(
// SM80-SAME: ld.global
// SM80-SAME: st.global

// SM90: #nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">
// SM90-SAME: .version 8.0\0A.target sm_90

// BAD: error

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @affine(%x: memref<?xf32>, %y: memref<?xf32>, %n: index) kernel {
      %bid = gpu.block_id x
      %bdim = gpu.block_dim x
      %tid = gpu.thread_id x
      %base = arith.muli %bid, %bdim : index
      %i = arith.addi %base, %tid : index
      %inb = arith.cmpi ult, %i, %n : index
      scf.if %inb {
        %v = memref.load %x[%i] : memref<?xf32>
        %two = arith.constant 2.0 : f32
        %one = arith.constant 1.0 : f32
        %m = arith.mulf %v, %two : f32
        %r = arith.addf %m, %one : f32
        %e = math.exp %r : f32
        memref.store %e, %y[%i] : memref<?xf32>
      }
      gpu.return
    }
  }
}

// -----

// Subviews (strided metadata) lower too.
// SM80-LABEL: gpu.binary @views
// SM80-SAME: .visible .entry tail(
module attributes {gpu.container_module} {
  gpu.module @views {
    gpu.func @tail(%x: memref<?xf32>, %n: index) kernel {
      %c1 = arith.constant 1 : index
      %m = arith.subi %n, %c1 : index
      %v = memref.subview %x[1] [%m] [1] : memref<?xf32> to memref<?xf32, strided<[1], offset: 1>>
      %i = gpu.global_id x
      %inb = arith.cmpi ult, %i, %m : index
      scf.if %inb {
        %a = memref.load %v[%i] : memref<?xf32, strided<[1], offset: 1>>
        memref.store %a, %x[%i] : memref<?xf32>
      }
      gpu.return
    }
  }
}
