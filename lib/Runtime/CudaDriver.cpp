//===- CudaDriver.cpp - The CUDA driver API, opened with dlopen -----------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Loading is all or nothing: every entry point must resolve before cuInit
// runs, so a too-old driver is reported by the symbol it lacks rather than
// by a crash on first use. Error names come from the driver when it can give
// them and from a small built-in table otherwise (the stub library answers
// cuGetErrorName with CUDA_ERROR_STUB_LIBRARY, too).
//
//===----------------------------------------------------------------------===//

#include "xlstm/Runtime/CudaDriver.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <dlfcn.h>
#include <initializer_list>

using namespace llvm;
using namespace xlstm::runtime;

char CudaError::ID = 0;

void CudaError::log(raw_ostream &os) const {
  os << what << ": " << name << ": " << description;
  if (!details.empty())
    os << "\n" << details;
}

namespace {

Error makeError(const Twine &msg) {
  return createStringError(inconvertibleErrorCode(), msg);
}

struct KnownResult {
  cu::CUresult result;
  const char *name;
  const char *description;
};

/// The codes worth naming when the driver cannot (the descriptions are the
/// driver's own).
constexpr KnownResult kKnownResults[] = {
    {cu::CUDA_SUCCESS, "CUDA_SUCCESS", "no error"},
    {cu::CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE",
     "invalid argument"},
    {cu::CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {cu::CUDA_ERROR_NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED",
     "initialization error"},
    {cu::CUDA_ERROR_STUB_LIBRARY, "CUDA_ERROR_STUB_LIBRARY",
     "CUDA driver is a stub library"},
    {cu::CUDA_ERROR_NO_DEVICE, "CUDA_ERROR_NO_DEVICE",
     "no CUDA-capable device is detected"},
    {cu::CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE",
     "invalid device ordinal"},
    {cu::CUDA_ERROR_INVALID_PTX, "CUDA_ERROR_INVALID_PTX",
     "a PTX JIT compilation failed"},
    {cu::CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND",
     "named symbol not found"},
    {cu::CUDA_ERROR_SYSTEM_DRIVER_MISMATCH, "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH",
     "system has unsupported display driver / cuda driver combination"},
};

using ErrorQuery = cu::CUresult (*)(cu::CUresult, const char **);

/// Asks the driver through `query` (cuGetErrorName or cuGetErrorString),
/// then the table's `field`, else gives `unknown`.
std::string lookUp(ErrorQuery query, cu::CUresult result,
                   const char *KnownResult::*field, const Twine &unknown) {
  const char *text = nullptr;
  if (query && query(result, &text) == cu::CUDA_SUCCESS && text)
    return text;
  for (const KnownResult &known : kKnownResults)
    if (known.result == result)
      return known.*field;
  return unknown.str();
}

/// Points `entry` at the first of `symbols` that `handle` exports.
template <typename EntryPoint>
Error resolve(void *handle, StringRef library, EntryPoint &entry,
              std::initializer_list<const char *> symbols) {
  for (const char *symbol : symbols) {
    if (void *address = dlsym(handle, symbol)) {
      entry = reinterpret_cast<EntryPoint>(address);
      return Error::success();
    }
  }
  return makeError("the CUDA driver " + library + " does not export " +
                   join(symbols, " or ") +
                   ": the driver is too old for this runtime (update the "
                   "NVIDIA driver)");
}

} // namespace

Expected<std::unique_ptr<CudaDriver>> CudaDriver::load(StringRef library) {
  std::unique_ptr<CudaDriver> driver(new CudaDriver(library.str()));
  const std::string &name = driver->library;
  void *handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *reason = dlerror();
    return makeError("no CUDA driver: cannot load " + name + " (" +
                     (reason ? reason : "unknown reason") +
                     "); a GPU and the NVIDIA driver are needed for "
                     "--device=cuda");
  }

#define XLSTM_CUDA_RESOLVE_ENTRY(NAME, PARAMS, ...)                            \
  if (Error err = resolve(handle, name, driver->NAME, {__VA_ARGS__})) {        \
    dlclose(handle);                                                           \
    return std::move(err);                                                     \
  }
  XLSTM_CUDA_DRIVER_FUNCTIONS(XLSTM_CUDA_RESOLVE_ENTRY)
#undef XLSTM_CUDA_RESOLVE_ENTRY
#define XLSTM_CUDA_RESOLVE_OPTIONAL_ENTRY(NAME, PARAMS, ...)                   \
  consumeError(resolve(handle, name, driver->NAME, {__VA_ARGS__}));
  XLSTM_CUDA_DRIVER_OPTIONAL_FUNCTIONS(XLSTM_CUDA_RESOLVE_OPTIONAL_ENTRY)
#undef XLSTM_CUDA_RESOLVE_OPTIONAL_ENTRY

  // No dlclose from here on: cuInit may have started driver threads.
  if (Error err = driver->check(driver->cuInit(0),
                                "cannot initialise the CUDA driver " + name))
    return std::move(err);
  return std::move(driver);
}

Error CudaDriver::check(cu::CUresult result, const Twine &what,
                        StringRef details) const {
  if (result == cu::CUDA_SUCCESS)
    return Error::success();
  return make_error<CudaError>(result, what.str(), errorName(result),
                               errorString(result), details.str());
}

std::string CudaDriver::errorName(cu::CUresult result) const {
  return lookUp(cuGetErrorName, result, &KnownResult::name,
                "CUDA error " + Twine(result));
}

std::string CudaDriver::errorString(cu::CUresult result) const {
  return lookUp(cuGetErrorString, result, &KnownResult::description,
                "unknown error");
}

Expected<int> CudaDriver::getVersion() const {
  int version = 0;
  if (Error err = check(cuDriverGetVersion(&version),
                        "reading the CUDA driver version"))
    return std::move(err);
  return version;
}

Expected<int> CudaDriver::getDeviceCount() const {
  int count = 0;
  if (Error err = check(cuDeviceGetCount(&count), "counting CUDA devices"))
    return std::move(err);
  return count;
}
