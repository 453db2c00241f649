//===- CudaObjects.h - RAII wrappers of CUDA driver objects -----*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Move-only owners of the driver objects the runtime uses: the device's
// primary context, device memory, modules (PTX or cubin) and their kernels,
// streams, events and instantiated CUDA graphs. Every fallible operation
// returns llvm::Error or llvm::Expected with a message that says what was
// attempted; destructors release quietly.
//
// Lifetime and threading: the CudaDriver outlives everything here, and the
// Context outlives the objects made in it. Context::create makes the context
// current on the calling thread; a thread that uses the objects later calls
// Context::makeCurrent first.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_RUNTIME_CUDAOBJECTS_H
#define XLSTM_RUNTIME_CUDAOBJECTS_H

#include "xlstm/Runtime/CudaDriver.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"

#include <string>
#include <utility>

namespace xlstm::runtime {

namespace detail {
/// Owns one driver handle and destroys it with the driver entry point
/// `Destroy` (a pointer to a CudaDriver member).
template <typename HandleT, auto Destroy> class UniqueHandle {
public:
  UniqueHandle() = default;
  UniqueHandle(const CudaDriver &driver, HandleT handle)
      : driver(&driver), handle(handle) {}
  UniqueHandle(UniqueHandle &&other) noexcept
      : driver(other.driver), handle(std::exchange(other.handle, HandleT())) {}
  UniqueHandle &operator=(UniqueHandle &&other) noexcept {
    if (this != &other) {
      reset();
      driver = other.driver;
      handle = std::exchange(other.handle, HandleT());
    }
    return *this;
  }
  ~UniqueHandle() { reset(); }

  HandleT get() const { return handle; }
  const CudaDriver &getDriver() const { return *driver; }
  explicit operator bool() const { return handle != HandleT(); }

private:
  void reset() {
    // Nothing can report a failure here; the driver's errors are sticky
    // and surface at the next checked call.
    if (handle != HandleT())
      (void)(driver->*Destroy)(handle);
    handle = HandleT();
  }

  const CudaDriver *driver = nullptr;
  HandleT handle = HandleT();
};
} // namespace detail

/// What the runtime needs to know about a device.
struct DeviceProperties {
  int ordinal = 0;
  std::string name;
  int computeCapabilityMajor = 0, computeCapabilityMinor = 0;
  int multiprocessorCount = 0;
  int maxThreadsPerBlock = 0;
  /// The most shared memory a kernel may opt in to (cuFuncSetAttribute).
  int maxSharedMemoryPerBlockOptin = 0;
  int l2CacheBytes = 0;
  size_t totalMemoryBytes = 0;
};

/// Queries device `ordinal`; needs no context. An ordinal outside
/// [0, device count) is an error that says how many devices there are.
llvm::Expected<DeviceProperties> queryDevice(const CudaDriver &driver,
                                             int ordinal);

/// The primary context of one device, retained and current on the thread
/// that created it.
class Context {
public:
  static llvm::Expected<Context> create(const CudaDriver &driver,
                                        int ordinal = 0);

  Context(Context &&other) noexcept;
  Context &operator=(Context &&other) noexcept;
  ~Context();

  const CudaDriver &getDriver() const { return *driver; }
  cu::CUdevice getDevice() const { return device; }
  cu::CUcontext get() const { return context; }
  const DeviceProperties &getProperties() const { return properties; }

  /// Makes this context current on the calling thread.
  llvm::Error makeCurrent() const;
  /// Waits for all work in the context.
  llvm::Error synchronize() const;
  /// The device memory free now.
  llvm::Expected<size_t> getFreeMemory() const;

private:
  Context(const CudaDriver &driver, cu::CUdevice device, cu::CUcontext context,
          DeviceProperties properties)
      : driver(&driver), device(device), context(context),
        properties(std::move(properties)) {}
  void release();

  const CudaDriver *driver;
  cu::CUdevice device;
  /// Null once moved from (then the destructor releases nothing).
  cu::CUcontext context;
  DeviceProperties properties;
};

/// Device memory of a fixed size. A zero-byte buffer owns no memory, so
/// empty tensors need no special case.
class DeviceBuffer {
public:
  /// Fails with "out of GPU memory: ..." naming the requested and the free
  /// bytes when the device has too little memory.
  static llvm::Expected<DeviceBuffer> allocate(const Context &context,
                                               size_t bytes);

  DeviceBuffer() = default;

  cu::CUdeviceptr get() const { return memory.get(); }
  size_t size() const { return bytes; }

  /// Synchronous copies of `count` bytes at byte `offset` of this buffer;
  /// a range outside the buffer is an error, not a driver fault.
  llvm::Error copyFromHost(const void *source, size_t count, size_t offset = 0);
  llvm::Error copyToHost(void *destination, size_t count,
                         size_t offset = 0) const;
  /// Copies all of `source` to the start of this buffer.
  llvm::Error copyFromDevice(const DeviceBuffer &source);
  /// Sets every byte to zero.
  llvm::Error zero();

  template <typename T> llvm::Error copyFromHost(llvm::ArrayRef<T> source) {
    return copyFromHost(source.data(), source.size() * sizeof(T));
  }
  template <typename T>
  llvm::Error copyToHost(llvm::MutableArrayRef<T> destination) const {
    return copyToHost(destination.data(), destination.size() * sizeof(T));
  }

private:
  DeviceBuffer(const CudaDriver &driver, cu::CUdeviceptr pointer, size_t bytes)
      : memory(driver, pointer), bytes(bytes) {}
  llvm::Error checkRange(llvm::StringRef operation, size_t count,
                         size_t offset) const;

  detail::UniqueHandle<cu::CUdeviceptr, &CudaDriver::cuMemFree> memory;
  size_t bytes = 0;
};

/// A kernel of a loaded Module; valid while the Module lives.
class Function {
public:
  cu::CUfunction get() const { return function; }
  const CudaDriver &getDriver() const { return *driver; }
  llvm::StringRef getName() const { return name; }

  llvm::Expected<int> getAttribute(cu::CUfunction_attribute attribute) const;
  llvm::Error setAttribute(cu::CUfunction_attribute attribute, int value) const;

private:
  friend class Module;
  Function(const CudaDriver &driver, cu::CUfunction function, std::string name)
      : driver(&driver), function(function), name(std::move(name)) {}

  const CudaDriver *driver;
  cu::CUfunction function;
  std::string name;
};

/// A loaded module: PTX text (JIT-compiled by the driver for the device) or
/// a cubin/fatbin image.
class Module {
public:
  /// Loads `image`; a failure carries the JIT compiler's error log.
  static llvm::Expected<Module> load(const Context &context,
                                     llvm::StringRef image);

  cu::CUmodule get() const { return module.get(); }
  /// The JIT compiler's info log (registers, spills; empty for cubins).
  llvm::StringRef getInfoLog() const { return infoLog; }

  /// The kernel `name`; an error names it if the module has none such.
  llvm::Expected<Function> getFunction(llvm::StringRef name) const;

private:
  Module(const CudaDriver &driver, cu::CUmodule module, std::string infoLog)
      : module(driver, module), infoLog(std::move(infoLog)) {}

  detail::UniqueHandle<cu::CUmodule, &CudaDriver::cuModuleUnload> module;
  std::string infoLog;
};

/// A stream. Created blocking (not CU_STREAM_NON_BLOCKING) on purpose: the
/// synchronous copies of DeviceBuffer run on the legacy default stream, and
/// a blocking stream orders them after the kernels queued here.
class Stream {
public:
  static llvm::Expected<Stream> create(const Context &context);

  cu::CUstream get() const { return stream.get(); }
  const CudaDriver &getDriver() const { return stream.getDriver(); }
  llvm::Error synchronize() const;

private:
  explicit Stream(const CudaDriver &driver, cu::CUstream stream)
      : stream(driver, stream) {}

  detail::UniqueHandle<cu::CUstream, &CudaDriver::cuStreamDestroy> stream;
};

/// A timing event.
class Event {
public:
  static llvm::Expected<Event> create(const Context &context);

  cu::CUevent get() const { return event.get(); }
  llvm::Error record(const Stream &stream) const;
  llvm::Error synchronize() const;

  /// Milliseconds from `start` to `end`; both must have been recorded and
  /// `end` must have completed (synchronize it first).
  static llvm::Expected<float> elapsedMilliseconds(const Event &start,
                                                   const Event &end);

private:
  explicit Event(const CudaDriver &driver, cu::CUevent event)
      : event(driver, event) {}

  detail::UniqueHandle<cu::CUevent, &CudaDriver::cuEventDestroy> event;
};

/// Grid or block extents.
struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};

/// Queues `function` on `stream`. `args` holds one pointer per kernel
/// parameter, pointing at the parameter's value (cuLaunchKernel's
/// kernelParams). Launch failures inside the kernel surface at the next
/// synchronisation. With `overlapPrevious` the launch may begin before the
/// kernel queued before it finishes (programmatic stream serialization,
/// sm_90): only for kernels that wait on the previous grid themselves
/// (griddepcontrol.wait) before touching memory.
llvm::Error launch(const Function &function, Dim3 grid, Dim3 block,
                   unsigned sharedMemoryBytes, const Stream &stream,
                   void **args, bool overlapPrevious = false);

/// An instantiated CUDA graph, replayable with one launch.
class GraphExec {
public:
  /// Captures the work `enqueue` queues on `stream` (which must not be
  /// capturing already) and instantiates it. The capture is ended even when
  /// `enqueue` fails, so the stream stays usable; its error is returned.
  /// The global mode makes unsafe calls (allocations, synchronous copies)
  /// during the capture fail; the relaxed mode allows them, for callers that
  /// allocate memory the graph then keeps using.
  static llvm::Expected<GraphExec>
  capture(const Stream &stream, llvm::function_ref<llvm::Error()> enqueue,
          cu::CUstreamCaptureMode mode = cu::CU_STREAM_CAPTURE_MODE_GLOBAL);

  cu::CUgraphExec get() const { return graph.get(); }
  llvm::Error launch(const Stream &stream) const;

private:
  explicit GraphExec(const CudaDriver &driver, cu::CUgraphExec graph)
      : graph(driver, graph) {}

  detail::UniqueHandle<cu::CUgraphExec, &CudaDriver::cuGraphExecDestroy> graph;
};

} // namespace xlstm::runtime

#endif // XLSTM_RUNTIME_CUDAOBJECTS_H
