//===- xlstm-gpu-info.cpp - Show the CUDA driver and devices --------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
//   xlstm-gpu-info [--cuda-library=libcuda.so.1]
// Prints the CUDA driver version, the device count and, per device, its
// name, compute capability, multiprocessors, shared memory and memory, as
// the runtime sees them. Exits 1 with the runtime's message when there is
// no usable driver. A quick check that a machine can run bundles.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Runtime/CudaDriver.h"
#include "xlstm/Runtime/CudaObjects.h"
#include "xlstm/Support/FatalErrors.h"
#include "xlstm/Version.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/WithColor.h"

using namespace xlstm::runtime;
namespace cl = llvm::cl;

namespace {
cl::OptionCategory category("xlstm-gpu-info options");
cl::opt<std::string> library("cuda-library",
                             cl::desc("The CUDA driver library to open"),
                             cl::init(CudaDriver::kDefaultLibrary.str()),
                             cl::cat(category));

int fail(llvm::Error err) {
  llvm::WithColor::error(llvm::errs(), "xlstm-gpu-info")
      << llvm::toString(std::move(err)) << "\n";
  return 1;
}

double gib(size_t bytes) { return double(bytes) / double(size_t(1) << 30); }
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM y(argc, argv);
  xlstm::setVersionPrinter("xlstm-gpu-info");
  xlstm::reportFatalErrorsAsDiagnostics("xlstm-gpu-info");
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv, "Show the CUDA driver and GPUs\n");

  auto driver = CudaDriver::load(library);
  if (!driver)
    return fail(driver.takeError());
  auto version = (*driver)->getVersion();
  if (!version)
    return fail(version.takeError());
  auto count = (*driver)->getDeviceCount();
  if (!count)
    return fail(count.takeError());

  llvm::raw_ostream &os = llvm::outs();
  os << "CUDA driver: " << *version / 1000 << "." << (*version % 1000) / 10
     << " (" << (*driver)->getLibrary() << ")\n";
  os << "devices: " << *count << "\n";
  for (int ordinal = 0; ordinal < *count; ++ordinal) {
    // A context per device, for the free memory.
    auto context = Context::create(**driver, ordinal);
    if (!context)
      return fail(context.takeError());
    auto freeBytes = context->getFreeMemory();
    if (!freeBytes)
      return fail(freeBytes.takeError());
    const DeviceProperties &p = context->getProperties();
    os << "device " << ordinal << ": " << p.name << "\n"
       << "  compute capability: " << p.computeCapabilityMajor << "."
       << p.computeCapabilityMinor << "\n"
       << "  multiprocessors: " << p.multiprocessorCount << "\n"
       << "  max threads per block: " << p.maxThreadsPerBlock << "\n"
       << "  shared memory per block (opt-in): "
       << p.maxSharedMemoryPerBlockOptin / 1024 << " KiB\n"
       << "  L2 cache: " << p.l2CacheBytes / (1024 * 1024) << " MiB\n"
       << "  memory: " << llvm::format("%.1f", gib(p.totalMemoryBytes))
       << " GiB total, " << llvm::format("%.1f", gib(*freeBytes))
       << " GiB free\n";
  }
  return 0;
}
