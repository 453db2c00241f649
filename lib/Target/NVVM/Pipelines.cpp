//===- Pipelines.cpp - GPU modules to PTX and cubins ----------------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Target/NVVM/Pipelines.h"
#include "xlstm/Target/NVVM/Passes.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVM.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/NVVMToLLVM/NVVMToLLVM.h"
#include "mlir/Conversion/Passes.h"
#include "mlir/Conversion/UBToLLVM/UBToLLVM.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVM.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Index/IR/IndexDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/UB/IR/UBOps.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/TargetParser/Triple.h"

#include <mutex>

extern "C" {
void LLVMInitializeNVPTXTargetInfo();
void LLVMInitializeNVPTXTarget();
void LLVMInitializeNVPTXTargetMC();
}

using namespace mlir;

void xlstm::buildGPUToNVVMBinaryPipeline(OpPassManager &pm,
                                         const NVPTXOptions &options) {
  // A few large images instead of one per kernel: the cost of an image
  // (LLVM target setup, libdevice, a ptxas run) is mostly fixed.
  if (options.kernelModules > 0)
    pm.addPass(createXLSTMMergeGPUModulesPass({options.kernelModules}));
  GpuNVVMAttachTargetOptions attach;
  attach.chip = options.chip;
  attach.features = options.features;
  attach.optLevel = options.optLevel;
  pm.addPass(createGpuNVVMAttachTarget(attach));
  // Within each gpu.module: structured control flow, then nvgpu/vector/gpu
  // to NVVM and LLVM (vector before gpu, or ub.poison is left over).
  OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
  // Subviews and affine maps become plain index arithmetic first.
  kernels.addPass(memref::createExpandStridedMetadataPass());
  kernels.addPass(createLowerAffinePass());
  kernels.addPass(createSCFToControlFlowPass());
  kernels.addPass(createConvertNVGPUToNVVMPass());
  kernels.addPass(createConvertVectorToLLVMPass());
  kernels.addPass(createConvertGpuOpsToNVVMOps());
  // Dynamic shared memory after the static buffers, not among them.
  kernels.addPass(createXLSTMExternDynamicSharedMemoryPass());
  kernels.addPass(createConvertNVVMToLLVMPass());
  kernels.addPass(createCanonicalizerPass());
  kernels.addPass(createCSEPass());
  kernels.addPass(createReconcileUnrealizedCastsPass());
  // Upstream's gpu-module-to-binary, with the modules serialized in parallel.
  XLSTMGPUModuleToBinaryPassOptions binary;
  binary.compilationTarget = options.format;
  binary.toolkitPath = options.toolkitPath;
  pm.addPass(createXLSTMGPUModuleToBinaryPass(binary, options.onProgress));
}

void xlstm::registerGPUDialects(DialectRegistry &registry) {
  registry.insert<cf::ControlFlowDialect, gpu::GPUDialect, index::IndexDialect,
                  LLVM::LLVMDialect, memref::MemRefDialect, NVVM::NVVMDialect,
                  nvgpu::NVGPUDialect, ub::UBDialect, vector::VectorDialect>();
}

void xlstm::registerNVVMTargetInterfaces(DialectRegistry &registry) {
  // Without the target model gpu-module-to-binary cannot serialise (it
  // crashes in MLIR 22).
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  registerGPUDialectTranslation(registry);
  arith::registerConvertArithToLLVMInterface(registry);
  cf::registerConvertControlFlowToLLVMInterface(registry);
  registerConvertFuncToLLVMInterface(registry);
  index::registerConvertIndexToLLVMInterface(registry);
  registerConvertMathToLLVMInterface(registry);
  registerConvertMemRefToLLVMInterface(registry);
  registerConvertNVVMToLLVMInterface(registry);
  ub::registerConvertUBToLLVMInterface(registry);
  vector::registerConvertVectorToLLVMInterface(registry);
}

std::optional<unsigned> xlstm::smVersion(StringRef chip) {
  if (!chip.consume_front("sm_"))
    return std::nullopt;
  StringRef digits = chip.take_while(llvm::isDigit);
  unsigned version;
  if (digits.empty() || digits.getAsInteger(10, version))
    return std::nullopt;
  return version;
}

llvm::Error xlstm::checkChip(StringRef chip) {
  static std::once_flag initialized;
  std::call_once(initialized, [] {
    LLVMInitializeNVPTXTargetInfo();
    LLVMInitializeNVPTXTarget();
    LLVMInitializeNVPTXTargetMC();
  });
  llvm::Triple triple("nvptx64-nvidia-cuda");
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return llvm::createStringError("the NVPTX backend is not available: " +
                                   error);
  std::unique_ptr<llvm::MCSubtargetInfo> subtarget(
      target->createMCSubtargetInfo(triple, "", ""));
  std::string usable;
  for (const llvm::SubtargetSubTypeKV &cpu :
       subtarget->getAllProcessorDescriptions()) {
    std::optional<unsigned> version = smVersion(cpu.Key);
    if (version && *version >= 80)
      usable += (usable.empty() ? "" : ", ") + std::string(cpu.Key);
  }
  std::optional<unsigned> version = smVersion(chip);
  if (subtarget->isCPUStringValid(chip) && version && *version >= 80)
    return llvm::Error::success();
  return llvm::createStringError(
      "unsupported GPU architecture '" + chip.str() + "': " +
      (version && *version < 80
           ? "the kernels need sm_80 or later (bf16 mma.sync, cp.async); "
           : "") +
      "expected one of " + usable);
}

namespace {
struct GPUToPTXOptions : public PassPipelineOptions<GPUToPTXOptions> {
  Option<std::string> chip{*this, "chip", llvm::cl::desc("SM architecture"),
                           llvm::cl::init("sm_80")};
  Option<std::string> features{*this, "features",
                               llvm::cl::desc("PTX features, e.g. +ptx80"),
                               llvm::cl::init("")};
  Option<unsigned> optLevel{*this, "opt-level",
                            llvm::cl::desc("Optimisation level"),
                            llvm::cl::init(3)};
  Option<std::string> format{
      *this, "format",
      llvm::cl::desc("isa (PTX), bin (cubin via ptxas) or fatbin"),
      llvm::cl::init("isa")};
  Option<unsigned> modules{
      *this, "modules",
      llvm::cl::desc("gpu.modules (PTX images) to pack the kernels into; 0: "
                     "one per kernel"),
      llvm::cl::init(8)};
  Option<std::string> toolkit{*this, "toolkit",
                              llvm::cl::desc("CUDA toolkit root for ptxas"),
                              llvm::cl::init("")};
};
} // namespace

void xlstm::registerNVVMPipelines() {
  registerXLSTMTargetNVVMPasses();
  PassPipelineRegistration<GPUToPTXOptions>(
      "xlstm-gpu-to-ptx",
      "Lower gpu.module kernels to NVVM and serialise them (PTX or cubin)",
      [](OpPassManager &pm, const GPUToPTXOptions &o) {
        buildGPUToNVVMBinaryPipeline(pm, {o.chip, o.features, o.optLevel,
                                          o.format, o.toolkit, o.modules});
      });
}
