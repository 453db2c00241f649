// REQUIRES: ptxas
// RUN: xlstm-opt %s --xlstm-gpu-to-ptx="format=bin chip=sm_80 toolkit=%cuda_toolkit" | FileCheck %s --check-prefix=SM80
// RUN: xlstm-opt %s --xlstm-gpu-to-ptx="format=bin chip=sm_90 toolkit=%cuda_toolkit" | FileCheck %s --check-prefix=SM90

// ptxas accepts the kernel for both architectures and produces an ELF cubin.
// SM80: gpu.binary @kernels [#gpu.object<#nvvm.target<O = 3, chip = "sm_80">
// SM80-SAME: bin = "\7FELF
// SM90: #nvvm.target<O = 3, chip = "sm_90">
// SM90-SAME: bin = "\7FELF

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @scale(%x: memref<?xf32>, %n: index) kernel {
      %i = gpu.global_id x
      %inb = arith.cmpi ult, %i, %n : index
      scf.if %inb {
        %v = memref.load %x[%i] : memref<?xf32>
        %s = arith.mulf %v, %v : f32
        memref.store %s, %x[%i] : memref<?xf32>
      }
      gpu.return
    }
  }
}
