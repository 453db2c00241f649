//===- Ptxas.cpp - Cubins and resource reports from ptxas -----------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Target/NVVM/Ptxas.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/Regex.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>

using namespace llvm;

std::optional<std::string> xlstm::findPtxas(StringRef toolkit) {
  auto inBin = [](StringRef root) -> std::optional<std::string> {
    SmallString<256> path(root);
    sys::path::append(path, "bin", "ptxas");
    if (sys::fs::can_execute(path))
      return path.str().str();
    return std::nullopt;
  };
  if (!toolkit.empty())
    return inBin(toolkit);
  if (ErrorOr<std::string> onPath = sys::findProgramByName("ptxas"))
    return *onPath;
  for (const char *var : {"CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"})
    if (const char *root = std::getenv(var))
      if (std::optional<std::string> p = inBin(root))
        return p;
  return inBin("/usr/local/cuda");
}

std::optional<std::string> xlstm::findCudaToolkit(StringRef given) {
  auto hasLibdevice = [](StringRef root) {
    SmallString<256> path(root);
    sys::path::append(path, "nvvm", "libdevice", "libdevice.10.bc");
    return sys::fs::exists(path);
  };
  if (!given.empty())
    return hasLibdevice(given) ? std::optional<std::string>(given.str())
                               : std::nullopt;
  for (const char *var : {"CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"})
    if (const char *root = std::getenv(var))
      if (hasLibdevice(root))
        return std::string(root);
  if (ErrorOr<std::string> ptxas = sys::findProgramByName("ptxas")) {
    StringRef root = sys::path::parent_path(sys::path::parent_path(*ptxas));
    if (hasLibdevice(root))
      return root.str();
  }
  if (hasLibdevice("/usr/local/cuda"))
    return std::string("/usr/local/cuda");
  return std::nullopt;
}

namespace {
/// Removes the temporary files on scope exit.
struct TempFiles {
  SmallVector<SmallString<128>, 3> paths;
  ~TempFiles() {
    for (const auto &p : paths)
      sys::fs::remove(p);
  }
  Expected<StringRef> make(StringRef suffix) {
    SmallString<128> path;
    if (std::error_code ec =
            sys::fs::createTemporaryFile("xlstm-ptxas", suffix, path))
      return createStringError("cannot create a temporary file: " +
                               ec.message());
    paths.push_back(path);
    return StringRef(paths.back());
  }
};

int64_t number(StringRef text) {
  int64_t v = 0;
  text.trim().getAsInteger(10, v);
  return v;
}
} // namespace

Expected<xlstm::PtxasResult> xlstm::runPtxas(StringRef ptxas, StringRef ptx,
                                             StringRef chip) {
  TempFiles files;
  Expected<StringRef> input = files.make("ptx");
  Expected<StringRef> output = files.make("cubin");
  Expected<StringRef> log = files.make("log");
  if (!input)
    return input.takeError();
  if (!output)
    return output.takeError();
  if (!log)
    return log.takeError();
  {
    std::error_code ec;
    raw_fd_ostream os(*input, ec);
    if (ec)
      return createStringError("cannot write " + *input + ": " + ec.message());
    os << ptx;
  }
  std::string arch = ("-arch=" + chip).str();
  SmallVector<StringRef> args = {ptxas,  arch, "-O3",  "-v",
                                 *input, "-o", *output};
  std::optional<StringRef> redirects[] = {std::nullopt, *log, *log};
  std::string message;
  int rc =
      sys::ExecuteAndWait(ptxas, args, std::nullopt, redirects,
                          /*SecondsToWait=*/600, /*MemoryLimit=*/0, &message);
  ErrorOr<std::unique_ptr<MemoryBuffer>> logText = MemoryBuffer::getFile(*log);
  std::string diagnostics =
      logText ? (*logText)->getBuffer().trim().str() : std::string();
  if (rc != 0)
    return createStringError("ptxas (" + ptxas + " " + arch + ") failed" +
                             (message.empty() ? "" : ": " + message) +
                             (diagnostics.empty() ? "" : "\n" + diagnostics));
  ErrorOr<std::unique_ptr<MemoryBuffer>> cubin = MemoryBuffer::getFile(
      *output, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!cubin)
    return createStringError("ptxas wrote no cubin: " +
                             cubin.getError().message());
  PtxasResult result;
  result.cubin = (*cubin)->getBuffer().str();

  // ptxas info    : Compiling entry function 'k' for 'sm_90'
  // ptxas info    : Function properties for k
  //     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
  // ptxas info    : Used 40 registers, used 0 barriers, 1024 bytes smem, ...
  Regex entry("Compiling entry function '([^']+)'");
  Regex frame("([0-9]+) bytes stack frame, ([0-9]+) bytes spill stores, "
              "([0-9]+) bytes spill loads");
  Regex used("Used ([0-9]+) registers");
  Regex smem("([0-9]+) bytes smem");
  SmallVector<StringRef> lines;
  StringRef(diagnostics).split(lines, '\n');
  for (StringRef line : lines) {
    SmallVector<StringRef, 4> m;
    if (entry.match(line, &m)) {
      result.kernels.push_back({m[1].str()});
      continue;
    }
    if (result.kernels.empty())
      continue;
    KernelResources &k = result.kernels.back();
    if (frame.match(line, &m)) {
      k.stackBytes = number(m[1]);
      k.spillStoreBytes = number(m[2]);
      k.spillLoadBytes = number(m[3]);
    }
    if (used.match(line, &m))
      k.registers = static_cast<int>(number(m[1]));
    if (smem.match(line, &m))
      k.sharedBytes = number(m[1]);
  }
  return result;
}
