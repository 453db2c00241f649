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
#include "xlstm/Support/FatalErrors.h"
#include "xlstm/Support/Files.h"
#include "xlstm/Target/Bundle/ModelBundle.h"
#include "xlstm/Target/HostProgram/GPUArtifacts.h"
#include "xlstm/Target/NVVM/Pipelines.h"
#include "xlstm/Target/NVVM/Ptxas.h"
#include "xlstm/Version.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassInstrumentation.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
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
                                   cl::desc("<model config .yaml | config.json | Hugging Face "
                         "model folder | IR .mlir>"),
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
cl::opt<EmitKind> fromStage(
    "from",
    cl::desc("Stage of an IR input (default: detected; any .mlir input is IR, "
             "e.g. the output of --emit=mlir|expanded|tiled|linalg|gpu, "
             "edited or transformed by xlstm-opt)"),
    cl::values(clEnumValN(EmitKind::MLIR, "mlir", "graph-level xlstm IR"),
               clEnumValN(EmitKind::Expanded, "expanded", "--emit=expanded"),
               clEnumValN(EmitKind::Tiled, "tiled", "--emit=tiled"),
               clEnumValN(EmitKind::Linalg, "linalg", "--emit=linalg"),
               clEnumValN(EmitKind::GPU, "gpu", "--emit=gpu")),
    cl::cat(xlstmcCategory));
cl::opt<std::string> passPipeline(
    "pass-pipeline",
    cl::desc("Textual pass pipeline that replaces xlstm-to-gpu on the way to "
             "--emit=gpu|ptx|cubin|bundle, e.g. "
             "'builtin.module(xlstm-to-gpu{chunk-size=128 block-size=128})'; "
             "every pass and option of xlstm-opt is available"),
    cl::init(""), cl::cat(xlstmcCategory));
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
cl::opt<bool> loweringReport(
    "lowering-report",
    cl::desc("Print which kernel each projection, causal conv, norm and "
             "recurrence became (block, op, shape, dtype, kernel) instead of "
             "the output"),
    cl::cat(xlstmcCategory));
cl::opt<bool> requireFastKernels(
    "require-fast-kernels",
    cl::desc("Fail, naming op, shape and reason, if a projection, causal "
             "conv, norm or recurrence takes a generic (scalar) kernel"),
    cl::cat(xlstmcCategory));
cl::opt<std::string> chip("chip",
                          cl::desc("GPU architecture of the PTX (sm_80 runs "
                                   "on A100 and later through the driver JIT; "
                                   "from sm_90 the decode program's launches "
                                   "overlap their predecessors')"),
                          cl::init("sm_80"), cl::cat(xlstmcCategory));
cl::opt<xlstm::ModelDType>
    dtype("dtype", cl::desc("Element type of parameters and activations"),
          cl::init(xlstm::ModelDType::F32),
          cl::values(clEnumValN(xlstm::ModelDType::F32, "f32", "float32"),
                     clEnumValN(xlstm::ModelDType::BF16, "bf16", "bfloat16")),
          cl::cat(xlstmcCategory));
cl::opt<bool> float32Residual(
    "float32-residual",
    cl::desc("With --dtype bf16: keep the residual stream between blocks and "
             "the logits in float32 (projections still take bf16 operands); "
             "=false: bf16 throughout, as upstream's bf16 models"),
    cl::init(true), cl::cat(xlstmcCategory));
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
const char *stageName(EmitKind stage) {
  switch (stage) {
  case EmitKind::MLIR:
    return "mlir";
  case EmitKind::Expanded:
    return "expanded";
  case EmitKind::Tiled:
    return "tiled";
  case EmitKind::Linalg:
    return "linalg";
  default:
    return "gpu";
  }
}

/// The --emit stage that IR read from a file corresponds to: gpu once it
/// has outlined kernels, mlir while block ops remain, expanded while
/// step-by-step recurrences remain, tiled while any xlstm op remains, else
/// linalg.
EmitKind detectStage(ModuleOp module) {
  bool gpu = false, blocks = false, recurrences = false, xlstmOps = false;
  module.walk([&](Operation *op) {
    if (isa<gpu::GPUModuleOp, gpu::BinaryOp>(op))
      gpu = true;
    StringRef name = op->getName().getStringRef();
    if (!name.starts_with("xlstm."))
      return;
    xlstmOps = true;
    blocks |= llvm::is_contained(
        {StringRef("xlstm.mlstm_block"), StringRef("xlstm.slstm_block"),
         StringRef("xlstm.large_block"), StringRef("xlstm.lm_head")},
        name);
    recurrences |= name == "xlstm.mlstm" || name == "xlstm.slstm_step";
  });
  if (gpu)
    return EmitKind::GPU;
  if (blocks)
    return EmitKind::MLIR;
  if (recurrences)
    return EmitKind::Expanded;
  return xlstmOps ? EmitKind::Tiled : EmitKind::Linalg;
}

/// The element type of the model's parameters: what --dtype was.
std::optional<xlstm::ModelDType> dtypeOf(ModuleOp module) {
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward)
    return std::nullopt;
  for (BlockArgument arg : forward.getArguments()) {
    if (!forward.getArgAttr(arg.getArgNumber(), xlstm::kParamAttrName))
      continue;
    Type elt = cast<ShapedType>(arg.getType()).getElementType();
    if (elt.isBF16())
      return xlstm::ModelDType::BF16;
    if (elt.isF32())
      return xlstm::ModelDType::F32;
    return std::nullopt;
  }
  return std::nullopt;
}

/// "role name" per argument of @forward: what a bundle's manifest (from the
/// graph IR) and its host programs (from the compiled IR) must agree on.
std::vector<std::string> forwardSignature(ModuleOp module) {
  std::vector<std::string> names;
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward)
    return names;
  for (BlockArgument arg : forward.getArguments())
    for (StringRef attr :
         {xlstm::kInputAttrName, xlstm::kParamAttrName, xlstm::kStateAttrName})
      if (auto name =
              forward.getArgAttrOfType<StringAttr>(arg.getArgNumber(), attr))
        names.push_back((attr + " " + name.getValue()).str());
  return names;
}

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
    auto type = cast<ShapedType>(arg.getType());
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

/// Whether ptxas assembles PTX for `ptxChip` into a cubin for `cubinChip`:
/// the same or a newer architecture, except that PTX for an
/// architecture-specific target ("sm_90a") assembles for that one only.
bool ptxasCanAssemble(StringRef cubinChip, StringRef ptxChip) {
  if (ptxChip.ends_with("a"))
    return cubinChip == ptxChip;
  return xlstm::smVersion(cubinChip).value_or(0) >=
         xlstm::smVersion(ptxChip).value_or(0);
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
  xlstm::reportFatalErrorsAsDiagnostics("xlstmc");
  // Every pass and pipeline xlstm-opt knows, for --pass-pipeline.
  xlstm::registerAllPasses();
  xlstm::registerXLSTMConversionPasses();
  xlstm::registerXLSTMToGPUPipeline();
  xlstm::registerNVVMPipelines();
  cl::HideUnrelatedOptions(xlstmcCategory);
  cl::ParseCommandLineOptions(
      argc, argv,
      "xLSTM compiler\n\n"
      "  MLIR's pass-manager and printing flags (--mlir-timing,\n"
      "  --mlir-print-ir-after-all, --mlir-print-debuginfo, ...) work too;\n"
      "  --help-hidden lists them.\n");
  auto fail = [](const Twine &message) {
    llvm::WithColor::error(llvm::errs(), "xlstmc") << message << "\n";
    return 1;
  };
  Progress progress(!quiet);
  if (llvm::Error error = xlstm::checkChip(chip))
    return fail("--chip: " + llvm::toString(std::move(error)));
  // Checked before any work: a typo should not cost a compile.
  SmallVector<std::string> cubinChips;
  if (cubins != "auto" && cubins != "none")
    for (StringRef c : llvm::split(cubins, ','))
      if (!c.trim().empty()) {
        if (llvm::Error error = xlstm::checkChip(c.trim()))
          return fail("--cubins: " + llvm::toString(std::move(error)));
        if (!ptxasCanAssemble(c.trim(), chip))
          return fail("--cubins: ptxas cannot assemble --chip=" + chip +
                      "'s PTX for " + c.trim() +
                      " (only for that architecture or a newer one; for an "
                      "'a' target, that one alone)");
        cubinChips.push_back(c.trim().str());
      }

  DialectRegistry registry;
  xlstm::registerAllDialects(registry);
  xlstm::registerGPUDialects(registry);
  xlstm::registerNVVMTargetInterfaces(registry);
  xlstm::registerToGPUDependencies(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  // Diagnostics as file:line:col: error: with the source line (IR input).
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);

  // Inputs that are neither config nor IR get a plain answer instead of a
  // parser's view of their bytes (or an endless read of a device file).
  if (inputFilename != "-") {
    // A folder is a model folder (Hugging Face config.json); the config
    // reader finds the file in it.
    if (xlstm::isExistingNonRegularFile(inputFilename) &&
        !llvm::sys::fs::is_directory(inputFilename))
      return fail(inputFilename + ": not a regular file");
    if (auto head = llvm::MemoryBuffer::getFileSlice(inputFilename, 6, 0))
      if ((*head)->getBuffer() == "XLSTMB")
        return fail(inputFilename +
                    " is a compiled bundle; xlstmc takes a "
                    "model config (.yaml) or IR (.mlir); inspect bundles "
                    "with xlstm-bundle, run them with xlstm-run");
  }

  // The input: a YAML config (built into graph-level IR here), or IR of any
  // stage, which carries its config in the xlstm.config attribute.
  bool irInput = fromStage.getNumOccurrences() > 0 ||
                 StringRef(inputFilename).ends_with(".mlir");
  std::optional<xlstm::config::ModelSpec> spec;
  std::string noSpec; // why there is none, for IR without xlstm.config
  OwningOpRef<ModuleOp> module; // graph level: the bundle's graph.mlir
  OwningOpRef<ModuleOp> source; // IR input, lowered from where it stands
  EmitKind inputStage = EmitKind::MLIR;
  xlstm::ModelDType modelDType = dtype;
  if (!irInput) {
    spec = xlstm::config::parseModelConfigFile(inputFilename, llvm::errs(),
                                               schema);
    if (!spec)
      return 1;
  } else {
    source = parseSourceFile<ModuleOp>(inputFilename, sourceMgr,
                                       ParserConfig(&context));
    if (!source)
      return 1;
    if (failed(verify(*source)))
      return 1;
    inputStage = fromStage.getNumOccurrences() ? EmitKind(fromStage)
                                               : detectStage(*source);
    std::optional<xlstm::ModelDType> irDType = dtypeOf(*source);
    if (!irDType)
      return fail(inputFilename +
                  ": @forward has no float32 or bfloat16 "
                  "parameter argument (xlstm.param) to take the dtype from");
    if (dtype.getNumOccurrences() && dtype != *irDType)
      return fail(Twine("--dtype differs from the parameters of ") +
                  inputFilename + " (the dtype is fixed when IR is built)");
    if (float32Residual.getNumOccurrences())
      return fail(Twine("--float32-residual applies to configs; the types of ") +
                  inputFilename + " are fixed (they were set when its IR was "
                  "built)");
    modelDType = *irDType;
    llvm::Expected<xlstm::config::ModelSpec> recorded =
        xlstm::configOfModule(*source, inputFilename, llvm::errs());
    if (recorded)
      spec = std::move(*recorded);
    else
      noSpec = llvm::toString(recorded.takeError());
  }

  // --emit=ptx -o DIR/: one file per kernel image instead of one module.
  bool ptxDirectory = emitKind == EmitKind::PTX && !kernelReport &&
                      StringRef(outputFilename).ends_with("/");
  std::string errorMessage;
  std::unique_ptr<llvm::ToolOutputFile> output = openOutputFile(
      ptxDirectory ? std::string("-") : outputFilename.getValue(),
      &errorMessage);
  if (!output)
    return fail(errorMessage);

  if (emitKind == EmitKind::Config) {
    if (!spec)
      return fail(noSpec);
    xlstm::config::printModelSpec(*spec, output->os());
    return finish(*output);
  }

  bool emitBundle = emitKind == EmitKind::Bundle ||
                    (emitKind.getNumOccurrences() == 0 &&
                     StringRef(outputFilename).ends_with(".xlstmb"));
  if (kernelReport || loweringReport)
    emitBundle = false;
  if (requireFastKernels && !loweringReport && !emitBundle &&
      !kernelReport && emitKind < EmitKind::GPU)
    return fail("--require-fast-kernels checks the GPU lowering: use it with "
                "--emit=gpu|ptx|cubin|bundle, -o FILE.xlstmb or "
                "--lowering-report");
  if ((loweringReport || requireFastKernels) && !passPipeline.empty())
    return fail("--lowering-report and --require-fast-kernels configure the "
                "default pipeline; with --pass-pipeline, give "
                "xlstm-to-gpu{lowering-report=1 require-fast-kernels=1}");
  // IR stages only go forward.
  bool stageEmit = emitKind == EmitKind::MLIR ||
                   emitKind == EmitKind::Expanded ||
                   emitKind == EmitKind::Tiled || emitKind == EmitKind::Linalg;
  if (irInput && stageEmit && !emitBundle && !kernelReport &&
      !loweringReport &&
      (emitKind < inputStage || inputStage == EmitKind::GPU))
    return fail(Twine(inputFilename) + " is at stage '" +
                stageName(inputStage) +
                "', past --emit=" + stageName(emitKind));

  // The graph-level IR: built from the config, or for IR input rebuilt from
  // its recorded config when a bundle needs it (its graph.mlir is what the
  // reference device runs: the model as configured, the oracle for any
  // lowering experiment).
  if (!irInput || emitBundle) {
    if (!spec)
      return fail(noSpec);
    module = xlstm::buildModelModule(context, *spec,
                                     {modelDType, float32Residual});
    if (failed(verify(*module)))
      return fail("internal error: the IR built for '" + inputFilename +
                  "' does not verify");
  }
  if (irInput && emitBundle &&
      forwardSignature(*module) != forwardSignature(*source))
    return fail(inputFilename +
                ": the arguments of @forward (their "
                "xlstm.input/param/state names) differ from those of the "
                "model its xlstm.config describes; a bundle needs both to "
                "agree");
  if (irInput && inputStage == EmitKind::Linalg && !stageEmit &&
      passPipeline.empty())
    llvm::WithColor::warning(llvm::errs(), "xlstmc")
        << inputFilename << " is at stage 'linalg': the recurrences and "
        << "norms were lowered generically, so the whole-kernel rewrites "
        << "(persistent sLSTM, chunkwise mLSTM on tensor cores, warp norms) "
        << "cannot apply; start from --emit=tiled IR to keep them\n";

  xlstm::GPUArtifacts artifacts;
  std::optional<std::string> ptxas = xlstm::findPtxas(cudaToolkit);
  // libdevice supplies the kernels' math functions (exp, tanh, erf, ...).
  std::optional<std::string> toolkit = xlstm::findCudaToolkit(cudaToolkit);
  if ((kernelReport || emitKind == EmitKind::Cubin) && !ptxas) {
    llvm::WithColor::error(llvm::errs(), "xlstmc")
        << "no ptxas found (give --cuda-toolkit=PATH): needed for "
        << (kernelReport ? "--kernel-report" : "--emit=cubin") << "\n";
    return 1;
  }
  bool needsPTX = !loweringReport &&
                  (emitBundle || kernelReport || emitKind == EmitKind::PTX ||
                  emitKind == EmitKind::Cubin);
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
  if (needsPTX || emitKind == EmitKind::GPU || loweringReport) {
    if (chunkSize <= 0 || blockSize <= 0) {
      llvm::WithColor::error(llvm::errs(), "xlstmc")
          << "--chunk-size and --block-size must be positive\n";
      return 1;
    }
    // The bundle keeps the graph IR; the kernels come from a copy (or from
    // the IR input).
    OwningOpRef<ModuleOp> gpuModule =
        source ? std::move(source)
               : OwningOpRef<ModuleOp>(cast<ModuleOp>((*module)->clone()));
    bool pipelineFailed = false;
    // xlstm-grid-dependency-wait's griddepcontrol is sm_90 PTX.
    bool waitsNeedNewerChip = false;
    if (failed(runPasses(
            *gpuModule, progress,
            [&](OpPassManager &pm) {
              // xlstm-to-gpu's expansion, tiling and fusion find nothing to do
              // on IR that is past them, so it continues IR from any stage.
              if (!passPipeline.empty()) {
                // `pm` runs on the top-level module: its passes are what
                // builtin.module(...) holds (given bare, they are taken as is).
                StringRef text = StringRef(passPipeline).trim();
                if (text.consume_front("builtin.module(") &&
                    text.consume_back(")"))
                  text = text.trim();
                else
                  text = StringRef(passPipeline).trim();
                if (failed(parsePassPipeline(text, pm, llvm::errs())))
                  pipelineFailed = true;
              } else if (inputStage != EmitKind::GPU) {
                xlstm::ToGPUOptions options{
                    chunkSize, blockSize, tensorCores, persistentSLSTM,
                    chunkwiseMMA,
                    /*tf32=*/modelDType == xlstm::ModelDType::BF16};
                // sm_90 and later: the decode program's launches overlap
                // (programmatic dependent launch; docs/performance.md,
                // session 42).
                options.gridDependencyWait =
                    xlstm::smVersion(chip).value_or(0) >= 90;
                // With the decode step's entering states loaded before its
                // wait (the pipeline's decode-step-states-before-wait).
                options.chunkwise.gridDependencyWait =
                    options.gridDependencyWait;
                options.loweringReport = loweringReport;
                options.requireFastKernels = requireFastKernels;
                options.reportStream = &output->os();
                // The report is all that is printed: nothing after it.
                options.stopAfterReport = loweringReport;
                xlstm::buildXLSTMToGPUPipeline(pm, options);
              }
              if (loweringReport)
                return;
              if (emitKind != EmitKind::GPU || kernelReport) {
                for (Pass &pass : pm.getPasses())
                  if (pass.getArgument() == "xlstm-grid-dependency-wait" &&
                      xlstm::smVersion(chip).value_or(0) < 90)
                    waitsNeedNewerChip = true;
                if (waitsNeedNewerChip) {
                  pm.clear(); // nothing to run: the error says why
                  return;
                }
                xlstm::NVPTXOptions ptx;
                ptx.chip = chip;
                ptx.toolkitPath = *toolkit;
                ptx.onProgress = progress.counter("kernel images serialized");
                // One PTX module that ptxas accepts as a whole (a directory
                // gets the bundle's images, one file each).
                if (emitKind == EmitKind::PTX && !kernelReport && !ptxDirectory)
                  ptx.kernelModules = 1;
                if (emitKind == EmitKind::Cubin && !kernelReport) {
                  ptx.format = "bin";
                  ptx.toolkitPath = llvm::sys::path::parent_path(
                                        llvm::sys::path::parent_path(*ptxas))
                                        .str();
                }
                xlstm::buildGPUToNVVMBinaryPipeline(pm, ptx);
              }
            })) ||
        pipelineFailed || waitsNeedNewerChip) {
      if (waitsNeedNewerChip)
        return fail("grid-dependency-wait: the kernels' griddepcontrol "
                    "needs PTX for sm_90 or later; add --chip=sm_90 (got "
                    "--chip=" +
                    chip + ")");
      return 1;
    }
    if (loweringReport)
      return finish(*output);
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
    if (ptxDirectory) {
      if (std::error_code ec =
              llvm::sys::fs::create_directories(outputFilename))
        return fail(outputFilename + ": " + ec.message());
      for (auto binary : gpuModule->getOps<gpu::BinaryOp>()) {
        std::string path =
            (outputFilename + binary.getSymName() + ".ptx").str();
        std::unique_ptr<llvm::ToolOutputFile> file =
            openOutputFile(path, &errorMessage);
        if (!file)
          return fail(errorMessage);
        for (Attribute object : binary.getObjects())
          file->os() << cast<gpu::ObjectAttr>(object).getObject().getValue();
        if (finish(*file))
          return 1;
      }
      return 0;
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
            *gpuModule, modelDType == xlstm::ModelDType::BF16 ? "bf16" : "f32",
            artifacts)) {
      llvm::WithColor::error(llvm::errs(), "xlstmc")
          << llvm::toString(std::move(error)) << "\n";
      return 1;
    }
    // Cubins (and ptxas' resource report) for the kernels the bundle keeps.
    SmallVector<std::string> chips = cubinChips;
    if ((cubins == "auto" && ptxas) || (kernelReport && chips.empty())) {
      // sm_80 and sm_90, those ptxas can assemble from --chip's PTX.
      chips.clear();
      for (StringRef c : {"sm_80", "sm_90"})
        if (ptxasCanAssemble(c, chip))
          chips.push_back(c.str());
      if (chips.empty())
        chips.push_back(chip);
    }
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

  ModuleOp target = source ? *source : *module;
  if (emitKind == EmitKind::Params) {
    printParamTable(target, output->os());
    return finish(*output);
  }

  if (emitKind == EmitKind::Expanded || emitKind == EmitKind::Tiled ||
      emitKind == EmitKind::Linalg) {
    if (chunkSize <= 0) {
      llvm::WithColor::error(llvm::errs(), "xlstmc")
          << "--chunk-size must be positive\n";
      return 1;
    }
    if (failed(runPasses(target, progress, [&](OpPassManager &pm) {
          if (inputStage < EmitKind::Expanded)
            pm.addPass(xlstm::createXLSTMExpandBlocksPass());
          if (emitKind != EmitKind::Expanded) {
            if (inputStage < EmitKind::Tiled) {
              pm.addPass(xlstm::createXLSTMTileMLSTMChunkwisePass(
                  {static_cast<int64_t>(chunkSize)}));
              pm.addPass(xlstm::createXLSTMFuseSLSTMStepsPass());
            }
            if (emitKind == EmitKind::Linalg && inputStage < EmitKind::Linalg)
              pm.addPass(xlstm::createXLSTMLowerToLinalgPass());
            pm.addPass(createCanonicalizerPass());
          }
          // The expansion queries sizes per layer; share repeated queries.
          pm.addPass(createCSEPass());
        })))
      return 1;
  }

  target->print(output->os());
  output->os() << "\n";
  return finish(*output);
}
