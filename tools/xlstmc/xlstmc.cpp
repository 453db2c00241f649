//===- xlstmc.cpp - Compile an xLSTM model config -------------------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// The compiler driver: reads a model YAML in the upstream schema and emits
// one stage of the lowering ladder (see --emit).
//
//===----------------------------------------------------------------------===//

#include "xlstm/Config/ConfigParser.h"
#include "xlstm/Conversion/Passes.h"
#include "xlstm/Frontend/ModelBuilder.h"
#include "xlstm/InitAll.h"
#include "xlstm/Target/Bundle/ModelBundle.h"
#include "xlstm/Target/HostProgram/GPUArtifacts.h"
#include "xlstm/Target/NVVM/Pipelines.h"
#include "xlstm/Target/NVVM/Ptxas.h"
#include "xlstm/Version.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassInstrumentation.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"

#include <chrono>
#include <map>
#include <mutex>

using namespace mlir;
namespace cl = llvm::cl;

namespace {
enum class EmitKind {
  Config,
  Params,
  MLIR,
  Expanded,
  Tiled,
  Linalg,
  GPU,
  PTX,
  Cubin,
  Bundle
};

cl::OptionCategory xlstmcCategory("xlstmc options");

cl::opt<std::string> inputFilename(cl::Positional, cl::Required,
                                   cl::desc("<model config .yaml>"),
                                   cl::cat(xlstmcCategory));
cl::opt<std::string> outputFilename("o",
                                    cl::desc("Output file (default: stdout)"),
                                    cl::value_desc("file"), cl::init("-"),
                                    cl::cat(xlstmcCategory));
cl::opt<EmitKind> emitKind(
    "emit", cl::desc("Stage to emit"), cl::init(EmitKind::MLIR),
    cl::values(
        clEnumValN(
            EmitKind::Config, "config",
            "the resolved config (all fields, defaults, derived values)"),
        clEnumValN(EmitKind::Params, "params",
                   "the checkpoint tensors @forward binds: name, shape, total"),
        clEnumValN(EmitKind::MLIR, "mlir",
                   "graph-level xlstm IR: block ops on named parameters"),
        clEnumValN(EmitKind::Expanded, "expanded",
                   "after xlstm-expand-blocks: layer ops, recurrences, linalg"),
        clEnumValN(
            EmitKind::Tiled, "tiled",
            "then xlstm-tile-mlstm-chunkwise and xlstm-fuse-slstm-steps"),
        clEnumValN(EmitKind::Linalg, "linalg",
                   "then xlstm-lower-to-linalg: no xlstm ops left"),
        clEnumValN(EmitKind::GPU, "gpu",
                   "after xlstm-to-gpu: host functions launching outlined "
                   "gpu.module kernels"),
        clEnumValN(EmitKind::PTX, "ptx",
                   "the PTX of every kernel (xlstm-gpu-to-ptx)"),
        clEnumValN(EmitKind::Cubin, "cubin",
                   "the IR with every kernel assembled for --chip by ptxas "
                   "(gpu.binary objects)"),
        clEnumValN(EmitKind::Bundle, "bundle",
                   "a .xlstmb bundle: manifest, graph IR, host programs and "
                   "PTX kernels; the default when -o ends in .xlstmb")),
    cl::cat(xlstmcCategory));
cl::opt<int64_t> chunkSize("chunk-size",
                           cl::desc("Chunk size of the chunkwise mLSTM "
                                    "(--emit=tiled|linalg)"),
                           cl::init(64), cl::cat(xlstmcCategory));
cl::opt<int64_t> blockSize("block-size",
                           cl::desc("Threads per block of the generic "
                                    "kernels (--emit=gpu|ptx|bundle)"),
                           cl::init(256), cl::cat(xlstmcCategory));
cl::opt<bool> tensorCores("tensor-cores",
                          cl::desc("bf16 projections on tensor cores "
                                   "(mma.sync); off: the generic kernels"),
                          cl::init(true), cl::cat(xlstmcCategory));
cl::opt<bool> persistentSLSTM(
    "persistent-slstm",
    cl::desc("Each sLSTM recurrence as one persistent kernel over all steps; "
             "off: one launch per step (the generic kernels)"),
    cl::init(true), cl::cat(xlstmcCategory));
cl::opt<bool> chunkwiseMMA(
    "chunkwise-mma",
    cl::desc("The chunkwise mLSTM's outputs on tensor cores (tf32; float32 "
             "q/k/v only for --dtype bf16); off: the generic kernels"),
    cl::init(true), cl::cat(xlstmcCategory));
cl::opt<std::string> cubins(
    "cubins",
    cl::desc("Architectures to add cubins for to a bundle, e.g. sm_80,sm_90; "
             "'auto': sm_80 and sm_90 when ptxas is found; 'none'"),
    cl::init("auto"), cl::cat(xlstmcCategory));
cl::opt<std::string> cudaToolkit("cuda-toolkit",
                                 cl::desc("CUDA toolkit root (libdevice, "
                                          "ptxas); default: $CUDA_HOME, "
                                          "$PATH, /usr/local/cuda"),
                                 cl::init(""), cl::cat(xlstmcCategory));
cl::opt<bool> kernelReport(
    "kernel-report",
    cl::desc("Print ptxas' resources (registers, spills, shared memory) per "
             "kernel image for sm_80 and sm_90 (or --cubins) instead of "
             "the output"),
    cl::cat(xlstmcCategory));
cl::opt<std::string> chip("chip",
                          cl::desc("GPU architecture of the PTX (sm_80 runs "
                                   "on A100 and later through the driver JIT)"),
                          cl::init("sm_80"), cl::cat(xlstmcCategory));
cl::opt<xlstm::ModelDType>
    dtype("dtype", cl::desc("Element type of parameters and activations"),
          cl::init(xlstm::ModelDType::F32),
          cl::values(clEnumValN(xlstm::ModelDType::F32, "f32", "float32"),
                     clEnumValN(xlstm::ModelDType::BF16, "bf16", "bfloat16")),
          cl::cat(xlstmcCategory));
cl::opt<bool> verifyEach(
    "verify-each",
    cl::desc("Verify the IR after every pass (default: once, at the end; "
             "xlstm-opt verifies after each pass)"),
    cl::init(false), cl::cat(xlstmcCategory));
cl::opt<bool> quiet("quiet",
                    cl::desc("No progress lines on stderr (they appear once "
                             "a compile has taken a few seconds)"),
                    cl::cat(xlstmcCategory));
cl::opt<xlstm::config::SchemaHint>
    schema("schema", cl::desc("Config schema (default: detect from the keys)"),
           cl::init(xlstm::config::SchemaHint::Auto),
           xlstm::config::schemaHintValues(), cl::cat(xlstmcCategory));
/// One line per checkpoint tensor (`name shape dtype`), then the total; tied
/// tensors count once, as in upstream's parameter count.
void printParamTable(ModuleOp module, llvm::raw_ostream &os) {
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  int64_t total = 0;
  for (BlockArgument arg : forward.getArguments()) {
    auto name = forward.getArgAttrOfType<StringAttr>(arg.getArgNumber(),
                                                     xlstm::kParamAttrName);
    if (!name)
      continue;
    auto type = cast<RankedTensorType>(arg.getType());
    os << name.getValue() << " ";
    llvm::interleave(type.getShape(), os, "x");
    os << " " << type.getElementType();
    if (auto aliases = forward.getArgAttrOfType<ArrayAttr>(
            arg.getArgNumber(), xlstm::kAliasesAttrName))
      for (auto alias : aliases.getAsValueRange<StringAttr>())
        os << " (also " << alias << ")";
    os << "\n";
    total += type.getNumElements();
  }
  os << "total " << total << " parameters\n";
}
/// One line per kernel and chip: resources, then what it computes.
void printKernelReport(llvm::ArrayRef<xlstm::KernelReport> reports,
                       llvm::raw_ostream &os) {
  os << llvm::formatv("{0,-9} {1,5} {2,12} {3,8} {4,6}  {5}\n", "chip", "regs",
                      "spill st/ld", "smem", "stack", "kernel: launched as");
  int maxRegisters = 0, spilling = 0;
  for (const xlstm::KernelReport &r : reports) {
    std::map<std::string, int> counts;
    for (const std::string &o : r.origins)
      ++counts[o.empty() ? "(unnamed)" : o];
    std::string what;
    for (const auto &[o, n] : counts)
      what += (what.empty() ? "" : ", ") + o +
              (n > 1 ? " x" + std::to_string(n) : "");
    os << llvm::formatv("{0,-9} {1,5} {2,12} {3,8} {4,6}  {5}: {6}\n", r.chip,
                        r.registers,
                        std::to_string(r.spillStoreBytes) + "/" +
                            std::to_string(r.spillLoadBytes),
                        r.sharedBytes, r.stackBytes, r.kernel, what);
    maxRegisters = std::max(maxRegisters, r.registers);
    spilling += r.spillStoreBytes + r.spillLoadBytes > 0;
  }
  os << reports.size() << " kernel/chip pairs, at most " << maxRegisters
     << " registers, " << spilling << " with spills\n";
}

/// Progress lines on stderr: what the compiler is doing, once it has run
/// for a few seconds (short compiles stay silent), then at most one line a
/// second per stage. Safe to call from worker threads.
class Progress {
public:
  explicit Progress(bool enabled) : enabled(enabled) {}

  void report(llvm::StringRef stage, size_t done = 0, size_t total = 0) {
    if (!enabled)
      return;
    std::lock_guard<std::mutex> lock(mutex);
    auto now = Clock::now();
    double elapsed = std::chrono::duration<double>(now - start).count();
    if (elapsed < 2.0)
      return;
    bool sameStage = stage == lastStage;
    bool finished = total > 0 && done == total;
    if (sameStage && !finished &&
        std::chrono::duration<double>(now - lastLine).count() < 1.0)
      return;
    llvm::errs() << llvm::formatv("xlstmc: [{0:f1} s] {1}", elapsed, stage);
    if (total > 0)
      llvm::errs() << " " << done << "/" << total;
    llvm::errs() << "\n";
    lastStage = stage.str();
    lastLine = now;
  }

  /// A callback for counted work (kernels serialized, ptxas runs).
  std::function<void(size_t, size_t)> counter(std::string stage) {
    if (!enabled)
      return {};
    return [this, stage](size_t done, size_t total) {
      report(stage, done, total);
    };
  }

private:
  using Clock = std::chrono::steady_clock;
  bool enabled;
  Clock::time_point start = Clock::now(), lastLine;
  std::string lastStage;
  std::mutex mutex;
};

/// Names each top-level pass on the progress output as it starts (nested
/// passes run per kernel, in parallel, and would only be noise).
struct ProgressInstrumentation : public PassInstrumentation {
  explicit ProgressInstrumentation(Progress &progress) : progress(progress) {}
  void runBeforePass(Pass *pass, Operation *op) override {
    if (!op->getParentOp() && !pass->getArgument().empty())
      progress.report(pass->getArgument());
  }
  Progress &progress;
};

/// Runs the passes `build` adds, with the pass-manager and timing flags
/// (--mlir-print-ir-after-all, --mlir-timing, ...) applied.
LogicalResult runPasses(ModuleOp module, Progress &progress,
                        llvm::function_ref<void(OpPassManager &)> build) {
  PassManager pm(module->getContext());
  pm.addInstrumentation(std::make_unique<ProgressInstrumentation>(progress));
  // Verifying a 7B model after each of ~30 passes costs a tenth of the
  // compile; the passes are verified pass by pass in the lit tests.
  pm.enableVerifier(verifyEach);
  if (failed(applyPassManagerCLOptions(pm)))
    return failure();
  DefaultTimingManager tm;
  applyDefaultTimingManagerCLOptions(tm);
  TimingScope timing = tm.getRootScope();
  pm.enableTiming(timing);
  build(pm);
  if (failed(pm.run(module)))
    return failure();
  if (!verifyEach && failed(verify(module))) {
    llvm::WithColor::error(llvm::errs(), "xlstmc")
        << "internal error: the compiled IR does not verify (rerun with "
           "--verify-each to find the pass)\n";
    return failure();
  }
  return success();
}

/// Keeps the output file if everything was written; a full disk is an
/// error, not an abort in the stream's destructor.
int finish(llvm::ToolOutputFile &output) {
  output.os().flush();
  if (output.os().has_error()) {
    llvm::WithColor::error(llvm::errs(), "xlstmc")
        << "cannot write the output: " << output.os().error().message() << "\n";
    output.os().clear_error();
    return 1;
  }
  output.keep();
  return 0;
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM y(argc, argv);
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerDefaultTimingManagerCLOptions();
  xlstm::setVersionPrinter("xlstmc");
  cl::HideUnrelatedOptions(xlstmcCategory);
  cl::ParseCommandLineOptions(
      argc, argv,
      "xLSTM compiler\n\n"
      "  MLIR's pass-manager and printing flags (--mlir-timing,\n"
      "  --mlir-print-ir-after-all, --mlir-print-debuginfo, ...) work too;\n"
      "  --help-hidden lists them.\n");
  Progress progress(!quiet);
  if (llvm::Error error = xlstm::checkChip(chip)) {
    llvm::WithColor::error(llvm::errs(), "xlstmc")
        << "--chip: " << llvm::toString(std::move(error)) << "\n";
    return 1;
  }
  // Checked before any work: a typo should not cost a compile.
  SmallVector<std::string> cubinChips;
  if (cubins != "auto" && cubins != "none")
    for (StringRef c : llvm::split(cubins, ','))
      if (!c.trim().empty()) {
        if (llvm::Error error = xlstm::checkChip(c.trim())) {
          llvm::WithColor::error(llvm::errs(), "xlstmc")
              << "--cubins: " << llvm::toString(std::move(error)) << "\n";
          return 1;
        }
        cubinChips.push_back(c.trim().str());
      }

  std::optional<xlstm::config::ModelSpec> spec =
      xlstm::config::parseModelConfigFile(inputFilename, llvm::errs(), schema);
  if (!spec)
    return 1;

  std::string errorMessage;
  std::unique_ptr<llvm::ToolOutputFile> output =
      openOutputFile(outputFilename, &errorMessage);
  if (!output) {
    llvm::WithColor::error(llvm::errs(), "xlstmc") << errorMessage << "\n";
    return 1;
  }

  if (emitKind == EmitKind::Config) {
    xlstm::config::printModelSpec(*spec, output->os());
    return finish(*output);
  }

  DialectRegistry registry;
  xlstm::registerAllDialects(registry);
  xlstm::registerGPUDialects(registry);
  xlstm::registerNVVMTargetInterfaces(registry);
  xlstm::registerToGPUDependencies(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  OwningOpRef<ModuleOp> module =
      xlstm::buildModelModule(context, *spec, {dtype});
  if (failed(verify(*module))) {
    llvm::WithColor::error(llvm::errs(), "xlstmc")
        << "internal error: the IR built for '" << inputFilename
        << "' does not verify\n";
    return 1;
  }

  bool emitBundle = emitKind == EmitKind::Bundle ||
                    (emitKind.getNumOccurrences() == 0 &&
                     StringRef(outputFilename).ends_with(".xlstmb"));
  xlstm::GPUArtifacts artifacts;
  if (kernelReport)
    emitBundle = false;
  std::optional<std::string> ptxas = xlstm::findPtxas(cudaToolkit);
  // libdevice supplies the kernels' math functions (exp, tanh, erf, ...).
  std::optional<std::string> toolkit = xlstm::findCudaToolkit(cudaToolkit);
  if ((kernelReport || emitKind == EmitKind::Cubin) && !ptxas) {
    llvm::WithColor::error(llvm::errs(), "xlstmc")
        << "no ptxas found (give --cuda-toolkit=PATH): needed for "
        << (kernelReport ? "--kernel-report" : "--emit=cubin") << "\n";
    return 1;
  }
  bool needsPTX = emitBundle || kernelReport || emitKind == EmitKind::PTX ||
                  emitKind == EmitKind::Cubin;
  if (needsPTX && !toolkit) {
    StringRef problem = "no CUDA toolkit with libdevice "
                        "(nvvm/libdevice/libdevice.10.bc) found: the kernels' "
                        "math functions come from it; give --cuda-toolkit=PATH "
                        "or set CUDA_HOME";
    if (!emitBundle) {
      llvm::WithColor::error(llvm::errs(), "xlstmc") << problem << "\n";
      return 1;
    }
    // A bundle without kernels still runs on the reference device.
    llvm::WithColor::warning(llvm::errs(), "xlstmc")
        << problem << "; writing the bundle without GPU programs (it runs "
        << "on --device=reference only)\n";
    needsPTX = false;
  }
  if (needsPTX || emitKind == EmitKind::GPU) {
    if (chunkSize <= 0 || blockSize <= 0) {
      llvm::WithColor::error(llvm::errs(), "xlstmc")
          << "--chunk-size and --block-size must be positive\n";
      return 1;
    }
    // The bundle keeps the graph IR; the kernels come from a copy.
    OwningOpRef<ModuleOp> gpuModule(cast<ModuleOp>((*module)->clone()));
    if (failed(runPasses(*gpuModule, progress, [&](OpPassManager &pm) {
          xlstm::buildXLSTMToGPUPipeline(
              pm,
              {chunkSize, blockSize, tensorCores, persistentSLSTM, chunkwiseMMA,
               /*tf32=*/dtype == xlstm::ModelDType::BF16});
          if (emitKind != EmitKind::GPU || kernelReport) {
            xlstm::NVPTXOptions ptx;
            ptx.chip = chip;
            ptx.toolkitPath = *toolkit;
            ptx.onProgress = progress.counter("kernel images serialized");
            // One PTX module that ptxas accepts as a whole.
            if (emitKind == EmitKind::PTX && !kernelReport)
              ptx.kernelModules = 1;
            if (emitKind == EmitKind::Cubin && !kernelReport) {
              ptx.format = "bin";
              ptx.toolkitPath = llvm::sys::path::parent_path(
                                    llvm::sys::path::parent_path(*ptxas))
                                    .str();
            }
            xlstm::buildGPUToNVVMBinaryPipeline(pm, ptx);
          }
        })))
      return 1;
    if (emitKind == EmitKind::Cubin && !kernelReport) {
      gpuModule->print(output->os());
      output->os() << "\n";
      return finish(*output);
    }
    if (emitKind == EmitKind::GPU && !kernelReport) {
      gpuModule->print(output->os());
      output->os() << "\n";
      return finish(*output);
    }
    if (emitKind == EmitKind::PTX && !kernelReport) {
      for (auto binary : gpuModule->getOps<gpu::BinaryOp>())
        for (Attribute object : binary.getObjects())
          output->os() << "// gpu.module @" << binary.getSymName() << "\n"
                       << cast<gpu::ObjectAttr>(object).getObject().getValue()
                       << "\n";
      return finish(*output);
    }
    if (llvm::Error error = xlstm::collectGPUArtifacts(
            *gpuModule, dtype == xlstm::ModelDType::BF16 ? "bf16" : "f32",
            artifacts)) {
      llvm::WithColor::error(llvm::errs(), "xlstmc")
          << llvm::toString(std::move(error)) << "\n";
      return 1;
    }
    // Cubins (and ptxas' resource report) for the kernels the bundle keeps.
    SmallVector<std::string> chips = cubinChips;
    if (cubins == "auto" && ptxas)
      chips = {"sm_80", "sm_90"};
    if (kernelReport && chips.empty())
      chips = {"sm_80", "sm_90"};
    if (!chips.empty()) {
      if (!ptxas) {
        llvm::WithColor::error(llvm::errs(), "xlstmc")
            << "--cubins=" << cubins
            << ": no ptxas found (give --cuda-toolkit=PATH)\n";
        return 1;
      }
      llvm::Expected<std::vector<xlstm::KernelReport>> reports =
          xlstm::addCubins(artifacts, *ptxas, chips,
                           progress.counter("ptxas (image x chip)"));
      if (!reports) {
        llvm::WithColor::error(llvm::errs(), "xlstmc")
            << llvm::toString(reports.takeError()) << "\n";
        return 1;
      }
      if (kernelReport) {
        printKernelReport(*reports, output->os());
        return finish(*output);
      }
    }
  }

  if (emitBundle) {
    progress.report("writing the bundle");
    llvm::Expected<std::string> bytes =
        xlstm::serializeModelBundle(*module, *spec, std::move(artifacts));
    if (!bytes) {
      llvm::WithColor::error(llvm::errs(), "xlstmc")
          << llvm::toString(bytes.takeError()) << "\n";
      return 1;
    }
    output->os() << *bytes;
    return finish(*output);
  }

  if (emitKind == EmitKind::Params) {
    printParamTable(*module, output->os());
    return finish(*output);
  }

  if (emitKind == EmitKind::Expanded || emitKind == EmitKind::Tiled ||
      emitKind == EmitKind::Linalg) {
    if (chunkSize <= 0) {
      llvm::WithColor::error(llvm::errs(), "xlstmc")
          << "--chunk-size must be positive\n";
      return 1;
    }
    if (failed(runPasses(*module, progress, [&](OpPassManager &pm) {
          pm.addPass(xlstm::createXLSTMExpandBlocksPass());
          if (emitKind != EmitKind::Expanded) {
            pm.addPass(xlstm::createXLSTMTileMLSTMChunkwisePass(
                {static_cast<int64_t>(chunkSize)}));
            pm.addPass(xlstm::createXLSTMFuseSLSTMStepsPass());
            if (emitKind == EmitKind::Linalg)
              pm.addPass(xlstm::createXLSTMLowerToLinalgPass());
            pm.addPass(createCanonicalizerPass());
          }
          // The expansion queries sizes per layer; share repeated queries.
          pm.addPass(createCSEPass());
        })))
      return 1;
  }

  module->print(output->os());
  output->os() << "\n";
  return finish(*output);
}
