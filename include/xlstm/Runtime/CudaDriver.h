//===- CudaDriver.h - The CUDA driver API, opened with dlopen ---*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// The runtime talks to the GPU through the CUDA driver API, but it neither
// includes cuda.h nor links libcuda: CudaDriver::load opens libcuda.so.1 with
// dlopen and resolves the few entry points it needs by their exported
// (versioned) symbol names. So the runtime builds, and its host tests run, on
// machines without a GPU or a CUDA toolkit, and a missing driver is an Error
// with a clear message instead of a loader failure at program start.
//
// Namespace `cu` declares the driver's types and the enum values we use with
// the spellings and values of cuda.h (CUDA 13); a unit test compares them with
// cuda.h wherever the toolkit is installed.
//
// See docs/runtime.md.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_RUNTIME_CUDADRIVER_H
#define XLSTM_RUNTIME_CUDADRIVER_H

#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"

#include <cstddef>
#include <memory>
#include <string>

namespace xlstm::runtime {

namespace cu {
// Handles and scalars, as in cuda.h.
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
struct CUctx_st;
struct CUmod_st;
struct CUfunc_st;
struct CUstream_st;
struct CUevent_st;
struct CUgraph_st;
struct CUgraphExec_st;
using CUcontext = CUctx_st *;
using CUmodule = CUmod_st *;
using CUfunction = CUfunc_st *;
using CUstream = CUstream_st *;
using CUevent = CUevent_st *;
using CUgraph = CUgraph_st *;
using CUgraphExec = CUgraphExec_st *;

/// The result codes this layer looks at or names without a driver.
enum : CUresult {
  CUDA_SUCCESS = 0,
  CUDA_ERROR_INVALID_VALUE = 1,
  CUDA_ERROR_OUT_OF_MEMORY = 2,
  CUDA_ERROR_NOT_INITIALIZED = 3,
  CUDA_ERROR_STUB_LIBRARY = 34,
  CUDA_ERROR_NO_DEVICE = 100,
  CUDA_ERROR_INVALID_DEVICE = 101,
  CUDA_ERROR_INVALID_PTX = 218,
  CUDA_ERROR_NOT_FOUND = 500,
  CUDA_ERROR_SYSTEM_DRIVER_MISMATCH = 803,
};

enum CUdevice_attribute : int {
  CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1,
  CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
  CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE = 38,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
  CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97,
};

enum CUfunction_attribute : int {
  CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 0,
  CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES = 1,
  CU_FUNC_ATTRIBUTE_NUM_REGS = 4,
  CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8,
};

enum CUjit_option : int {
  CU_JIT_INFO_LOG_BUFFER = 3,
  CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4,
  CU_JIT_ERROR_LOG_BUFFER = 5,
  CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6,
  CU_JIT_LOG_VERBOSE = 12,
};

enum CUstreamCaptureMode : int {
  CU_STREAM_CAPTURE_MODE_GLOBAL = 0,
  CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1,
  CU_STREAM_CAPTURE_MODE_RELAXED = 2,
};

// cuLaunchKernelEx's configuration, laid out as cuda.h's (CUDA 12+).
enum CUlaunchAttributeID : int {
  CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6,
};
struct CUlaunchAttribute {
  CUlaunchAttributeID id;
  char pad[8 - sizeof(CUlaunchAttributeID)];
  // (cuda.h's union holds pointers among its members: 8-byte aligned.)
  union alignas(8) {
    char pad[64];
    int programmaticStreamSerializationAllowed;
  } value;
};
static_assert(sizeof(CUlaunchAttribute) == 72 &&
                  alignof(CUlaunchAttribute) == 8 &&
                  offsetof(CUlaunchAttribute, value) == 8,
              "cuda.h's layout");
struct CUlaunchConfig {
  unsigned gridDimX, gridDimY, gridDimZ;
  unsigned blockDimX, blockDimY, blockDimZ;
  unsigned sharedMemBytes;
  CUstream hStream;
  CUlaunchAttribute *attrs;
  unsigned numAttrs;
};
static_assert(sizeof(CUlaunchConfig) == 56 &&
                  offsetof(CUlaunchConfig, hStream) == 32 &&
                  offsetof(CUlaunchConfig, attrs) == 40 &&
                  offsetof(CUlaunchConfig, numAttrs) == 48,
              "cuda.h's layout");

enum : unsigned {
  CU_STREAM_DEFAULT = 0x0,
  CU_EVENT_DEFAULT = 0x0,
};
} // namespace cu

/// The driver entry points: X(member, (parameter types), exported symbols...).
/// The first exported symbol that resolves is used; later ones are fallbacks
/// for older drivers.
#define XLSTM_CUDA_DRIVER_FUNCTIONS(X)                                         \
  X(cuGetErrorName, (cu::CUresult, const char **), "cuGetErrorName")           \
  X(cuGetErrorString, (cu::CUresult, const char **), "cuGetErrorString")       \
  X(cuInit, (unsigned), "cuInit")                                              \
  X(cuDriverGetVersion, (int *), "cuDriverGetVersion")                         \
  X(cuDeviceGetCount, (int *), "cuDeviceGetCount")                             \
  X(cuDeviceGet, (cu::CUdevice *, int), "cuDeviceGet")                         \
  X(cuDeviceGetName, (char *, int, cu::CUdevice), "cuDeviceGetName")           \
  X(cuDeviceGetAttribute, (int *, cu::CUdevice_attribute, cu::CUdevice),       \
    "cuDeviceGetAttribute")                                                    \
  X(cuDeviceTotalMem, (size_t *, cu::CUdevice), "cuDeviceTotalMem_v2")         \
  X(cuDevicePrimaryCtxRetain, (cu::CUcontext *, cu::CUdevice),                 \
    "cuDevicePrimaryCtxRetain")                                                \
  X(cuDevicePrimaryCtxRelease, (cu::CUdevice), "cuDevicePrimaryCtxRelease_v2") \
  X(cuCtxSetCurrent, (cu::CUcontext), "cuCtxSetCurrent")                       \
  X(cuCtxSynchronize, (), "cuCtxSynchronize")                                  \
  X(cuMemGetInfo, (size_t *, size_t *), "cuMemGetInfo_v2")                     \
  X(cuMemAlloc, (cu::CUdeviceptr *, size_t), "cuMemAlloc_v2")                  \
  X(cuMemFree, (cu::CUdeviceptr), "cuMemFree_v2")                              \
  X(cuMemcpyHtoD, (cu::CUdeviceptr, const void *, size_t), "cuMemcpyHtoD_v2")  \
  X(cuMemcpyDtoH, (void *, cu::CUdeviceptr, size_t), "cuMemcpyDtoH_v2")        \
  X(cuMemcpyDtoD, (cu::CUdeviceptr, cu::CUdeviceptr, size_t),                  \
    "cuMemcpyDtoD_v2")                                                         \
  X(cuMemcpyDtoDAsync,                                                         \
    (cu::CUdeviceptr, cu::CUdeviceptr, size_t, cu::CUstream),                  \
    "cuMemcpyDtoDAsync_v2")                                                    \
  X(cuMemsetD8, (cu::CUdeviceptr, unsigned char, size_t), "cuMemsetD8_v2")     \
  X(cuModuleLoadDataEx,                                                        \
    (cu::CUmodule *, const void *, unsigned, cu::CUjit_option *, void **),     \
    "cuModuleLoadDataEx")                                                      \
  X(cuModuleUnload, (cu::CUmodule), "cuModuleUnload")                          \
  X(cuModuleGetFunction, (cu::CUfunction *, cu::CUmodule, const char *),       \
    "cuModuleGetFunction")                                                     \
  X(cuFuncGetAttribute, (int *, cu::CUfunction_attribute, cu::CUfunction),     \
    "cuFuncGetAttribute")                                                      \
  X(cuFuncSetAttribute, (cu::CUfunction, cu::CUfunction_attribute, int),       \
    "cuFuncSetAttribute")                                                      \
  X(cuLaunchKernel,                                                            \
    (cu::CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,         \
     unsigned, unsigned, cu::CUstream, void **, void **),                      \
    "cuLaunchKernel")                                                          \
  X(cuStreamCreate, (cu::CUstream *, unsigned), "cuStreamCreate")              \
  X(cuStreamSynchronize, (cu::CUstream), "cuStreamSynchronize")                \
  X(cuStreamDestroy, (cu::CUstream), "cuStreamDestroy_v2")                     \
  X(cuEventCreate, (cu::CUevent *, unsigned), "cuEventCreate")                 \
  X(cuEventRecord, (cu::CUevent, cu::CUstream), "cuEventRecord")               \
  X(cuEventSynchronize, (cu::CUevent), "cuEventSynchronize")                   \
  X(cuEventElapsedTime, (float *, cu::CUevent, cu::CUevent),                   \
    "cuEventElapsedTime_v2", "cuEventElapsedTime")                             \
  X(cuEventDestroy, (cu::CUevent), "cuEventDestroy_v2")                        \
  X(cuStreamBeginCapture, (cu::CUstream, cu::CUstreamCaptureMode),             \
    "cuStreamBeginCapture_v2")                                                 \
  X(cuStreamEndCapture, (cu::CUstream, cu::CUgraph *), "cuStreamEndCapture")   \
  X(cuGraphInstantiateWithFlags,                                               \
    (cu::CUgraphExec *, cu::CUgraph, unsigned long long),                      \
    "cuGraphInstantiateWithFlags")                                             \
  X(cuGraphLaunch, (cu::CUgraphExec, cu::CUstream), "cuGraphLaunch")           \
  X(cuGraphExecDestroy, (cu::CUgraphExec), "cuGraphExecDestroy")               \
  X(cuGraphDestroy, (cu::CUgraph), "cuGraphDestroy")

/// Entry points a driver may lack (null then): only the launches that need
/// them fail, naming the newer driver they need.
#define XLSTM_CUDA_DRIVER_OPTIONAL_FUNCTIONS(X)                                \
  X(cuLaunchKernelEx,                                                          \
    (const cu::CUlaunchConfig *, cu::CUfunction, void **, void **),            \
    "cuLaunchKernelEx")

/// A failed driver call: "what: CUDA_ERROR_OUT_OF_MEMORY: out of memory",
/// then any details (a JIT log) on the following lines. Carries the CUresult
/// so callers can react to particular codes.
class CudaError : public llvm::ErrorInfo<CudaError> {
public:
  static char ID;

  CudaError(cu::CUresult result, std::string what, std::string name,
            std::string description, std::string details)
      : result(result), what(std::move(what)), name(std::move(name)),
        description(std::move(description)), details(std::move(details)) {}

  cu::CUresult getResult() const { return result; }
  void log(llvm::raw_ostream &os) const override;
  std::error_code convertToErrorCode() const override {
    return llvm::inconvertibleErrorCode();
  }

private:
  cu::CUresult result;
  std::string what, name, description, details;
};

/// The loaded and initialised CUDA driver. Immutable after load(), so one
/// instance may be shared by threads. It must outlive every object made with
/// it (CudaObjects.h). The library stays loaded for the rest of the process
/// once cuInit ran: unloading a driver that has started threads is unsafe.
class CudaDriver {
public:
  static constexpr llvm::StringLiteral kDefaultLibrary = "libcuda.so.1";

  /// Opens `library`, resolves every entry point and calls cuInit(0).
  static llvm::Expected<std::unique_ptr<CudaDriver>>
  load(llvm::StringRef library = kDefaultLibrary);

  CudaDriver(const CudaDriver &) = delete;
  CudaDriver &operator=(const CudaDriver &) = delete;

  /// The library path or name that was loaded.
  llvm::StringRef getLibrary() const { return library; }

  /// Success for CUDA_SUCCESS, else a CudaError "what: NAME: description"
  /// followed by `details` on the next line when there are any.
  llvm::Error check(cu::CUresult result, const llvm::Twine &what,
                    llvm::StringRef details = "") const;

  /// "CUDA_ERROR_OUT_OF_MEMORY" (or "CUDA error <n>" for an unknown code).
  std::string errorName(cu::CUresult result) const;
  /// "out of memory" (or "unknown error").
  std::string errorString(cu::CUresult result) const;

  /// The driver's CUDA version, e.g. 13000 for 13.0.
  llvm::Expected<int> getVersion() const;
  llvm::Expected<int> getDeviceCount() const;

  // The raw entry points. Prefer the wrappers in CudaObjects.h.
#define XLSTM_CUDA_DECLARE_ENTRY(NAME, PARAMS, ...)                            \
  cu::CUresult(*NAME) PARAMS = nullptr;
  XLSTM_CUDA_DRIVER_FUNCTIONS(XLSTM_CUDA_DECLARE_ENTRY)
  XLSTM_CUDA_DRIVER_OPTIONAL_FUNCTIONS(XLSTM_CUDA_DECLARE_ENTRY)
#undef XLSTM_CUDA_DECLARE_ENTRY

private:
  explicit CudaDriver(std::string library) : library(std::move(library)) {}

  std::string library;
};

} // namespace xlstm::runtime

#endif // XLSTM_RUNTIME_CUDADRIVER_H
