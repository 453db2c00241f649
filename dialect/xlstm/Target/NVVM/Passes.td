//===- Passes.td - GPU modules to binaries ------------------*- tablegen -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_TARGET_NVVM_PASSES_TD
#define XLSTM_TARGET_NVVM_PASSES_TD

include "mlir/Pass/PassBase.td"

def XLSTMMergeGPUModulesPass
    : Pass<"xlstm-merge-gpu-modules", "::mlir::ModuleOp"> {
  let summary = "Pack the kernels into a few gpu.modules";
  let description = [{
    Outlining leaves one `gpu.module` per kernel, and each becomes its own
    LLVM module, PTX image and ptxas run: the fixed cost per image (target
    machine, libdevice, ptxas start-up) outweighs the work for most
    kernels. This pass moves the kernels into `modules` modules (fewer when
    there are fewer kernels), balanced by size (largest first, into the
    lightest module), so that serialization and ptxas still run in
    parallel, and `modules=1` gives one PTX image with every kernel as an
    entry. The assignment depends on the IR only, never on the thread
    count, so the output is reproducible.

    A kernel takes its old module's name (unique in the symbol table), and
    every `gpu.launch_func` is updated. Only modules that hold one
    `gpu.func` and agree in their other attributes are packed together.

    ```mlir
    gpu.launch_func @forward_kernel::@forward_kernel ...
    gpu.launch_func @forward_kernel_0::@forward_kernel ...
    gpu.module @forward_kernel { gpu.func @forward_kernel() kernel {...} }
    gpu.module @forward_kernel_0 { gpu.func @forward_kernel() kernel {...} }
    // becomes, with modules=1
    gpu.launch_func @kernels::@forward_kernel ...
    gpu.launch_func @kernels::@forward_kernel_0 ...
    gpu.module @kernels {
      gpu.func @forward_kernel() kernel {...}
      gpu.func @forward_kernel_0() kernel {...}
    }
    ```
  }];
  let options = [
    Option<"modules", "modules", "unsigned", /*default=*/"8",
           "Number of modules to pack the kernels into">
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def XLSTMExternDynamicSharedMemoryPass
    : Pass<"xlstm-extern-dynamic-shared-memory", "::mlir::gpu::GPUModuleOp"> {
  let summary = "Make the dynamic shared memory symbol an extern array";
  let description = [{
    `gpu.dynamic_shared_memory` lowers (convert-gpu-to-nvvm) to an internal
    zero-length array in address space 3. NVPTX prints an internal one as a
    one-byte static `.shared` variable, which ptxas places among the
    kernel's static shared buffers: offsets into "dynamic" shared memory
    then overwrite those buffers (a kernel with both reads garbage). An
    external zero-length array is CUDA's `extern __shared__ x[]`: PTX
    `.extern .shared .b8 x[]`, placed after all static shared memory. This
    pass gives every zero-length address-space-3 global external linkage.

    ```mlir
    llvm.mlir.global internal @__dynamic_shmem__0()
        {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<0 x i8>
    // becomes
    llvm.mlir.global external @__dynamic_shmem__0()
        {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<0 x i8>
    ```
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def XLSTMGPUModuleToBinaryPass
    : Pass<"xlstm-gpu-module-to-binary", "::mlir::ModuleOp"> {
  let summary = "Serialize gpu.modules to gpu.binary ops, in parallel";
  let description = [{
    What upstream's `gpu-module-to-binary` does (each target attribute of a
    `gpu.module` serializes it: LLVM IR, libdevice linked in, optimised,
    PTX, and with `format=bin` a cubin from ptxas), with the modules
    serialized concurrently on the context's thread pool: each one is its
    own LLVM context and target machine, so they share nothing but the
    MLIR context. The binaries replace their modules in the original order,
    so the output does not depend on the thread count.

    ```mlir
    gpu.module @k [#nvvm.target<chip = "sm_80">] { gpu.func @k() kernel {...} }
    // becomes
    gpu.binary @k [#gpu.object<#nvvm.target<chip = "sm_80">, "...PTX...">]
    ```
  }];
  let options = [
    Option<"toolkitPath", "toolkit", "std::string", /*default=*/"\"\"",
           "CUDA toolkit root (libdevice, ptxas)">,
    Option<"compilationTarget", "format", "std::string",
           /*default=*/"\"isa\"",
           "isa (PTX), bin (cubin via ptxas), fatbin or llvm (bitcode)">,
    Option<"cmdOptions", "opts", "std::string", /*default=*/"\"\"",
           "Extra options for the target's compiler (e.g. ptxas)">
  ];
}

#endif // XLSTM_TARGET_NVVM_PASSES_TD
