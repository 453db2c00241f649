//===- CudaObjects.cpp - RAII wrappers of CUDA driver objects -------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Error messages say what was attempted with the numbers that matter (bytes,
// kernel names, launch shapes); the driver's name and description of the
// failure follow (CudaDriver::check). Hot paths (launches, copies) build the
// message only when a call failed.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Runtime/CudaObjects.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstdint>
#include <cstring>

using namespace llvm;
using namespace xlstm::runtime;

namespace {

Error makeError(const Twine &msg) {
  return createStringError(inconvertibleErrorCode(), msg);
}

/// "1073741824 bytes (1.0 GiB)".
std::string formatBytes(uint64_t bytes) {
  return formatv("{0} bytes ({1:F1} GiB)", bytes,
                 double(bytes) / double(uint64_t(1) << 30))
      .str();
}

/// "CUDA device 0 (NVIDIA H200)".
std::string describeDevice(const DeviceProperties &properties) {
  return formatv("CUDA device {0} ({1})", properties.ordinal, properties.name)
      .str();
}

/// What kind of image cuModuleLoadDataEx is given, for messages.
StringRef imageKind(StringRef image) {
  if (image.starts_with("\x7f"
                        "ELF"))
    return "cubin";
  // The fatbin magic 0xba55ed50, little-endian.
  if (image.starts_with("\x50\xed\x55\xba"))
    return "fatbin";
  return "PTX";
}

} // namespace

//===----------------------------------------------------------------------===//
// Devices and contexts
//===----------------------------------------------------------------------===//

Expected<DeviceProperties> xlstm::runtime::queryDevice(const CudaDriver &driver,
                                                       int ordinal) {
  Expected<int> count = driver.getDeviceCount();
  if (!count)
    return count.takeError();
  if (ordinal < 0 || ordinal >= *count)
    return makeError(formatv("there is no CUDA device {0}: the machine has {1} "
                             "device{2}",
                             ordinal, *count, *count == 1 ? "" : "s"));

  std::string what = formatv("querying CUDA device {0}", ordinal).str();
  DeviceProperties properties;
  properties.ordinal = ordinal;
  cu::CUdevice device = 0;
  if (Error err = driver.check(driver.cuDeviceGet(&device, ordinal), what))
    return std::move(err);

  char name[256] = {};
  if (Error err = driver.check(
          driver.cuDeviceGetName(name, sizeof(name) - 1, device), what))
    return std::move(err);
  properties.name = name;

  const std::pair<cu::CUdevice_attribute, int DeviceProperties::*>
      attributes[] = {
          {cu::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
           &DeviceProperties::computeCapabilityMajor},
          {cu::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
           &DeviceProperties::computeCapabilityMinor},
          {cu::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
           &DeviceProperties::multiprocessorCount},
          {cu::CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK,
           &DeviceProperties::maxThreadsPerBlock},
          {cu::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
           &DeviceProperties::maxSharedMemoryPerBlockOptin},
          {cu::CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE,
           &DeviceProperties::l2CacheBytes},
      };
  for (auto [attribute, field] : attributes)
    if (Error err = driver.check(driver.cuDeviceGetAttribute(
                                     &(properties.*field), attribute, device),
                                 what))
      return std::move(err);

  if (Error err = driver.check(
          driver.cuDeviceTotalMem(&properties.totalMemoryBytes, device), what))
    return std::move(err);
  return properties;
}

Expected<Context> Context::create(const CudaDriver &driver, int ordinal) {
  Expected<DeviceProperties> properties = queryDevice(driver, ordinal);
  if (!properties)
    return properties.takeError();
  std::string what =
      "retaining the primary context of " + describeDevice(*properties);
  cu::CUdevice device = 0;
  if (Error err = driver.check(driver.cuDeviceGet(&device, ordinal), what))
    return std::move(err);
  cu::CUcontext context = nullptr;
  if (Error err =
          driver.check(driver.cuDevicePrimaryCtxRetain(&context, device), what))
    return std::move(err);

  // From here the destructor releases the retained context on failure.
  Context result(driver, device, context, std::move(*properties));
  if (Error err = result.makeCurrent())
    return std::move(err);
  return std::move(result);
}

Context::Context(Context &&other) noexcept
    : driver(other.driver), device(other.device),
      context(std::exchange(other.context, nullptr)),
      properties(std::move(other.properties)) {}

Context &Context::operator=(Context &&other) noexcept {
  if (this != &other) {
    release();
    driver = other.driver;
    device = other.device;
    context = std::exchange(other.context, nullptr);
    properties = std::move(other.properties);
  }
  return *this;
}

Context::~Context() { release(); }

void Context::release() {
  if (context)
    (void)driver->cuDevicePrimaryCtxRelease(device);
  context = nullptr;
}

Error Context::makeCurrent() const {
  return driver->check(driver->cuCtxSetCurrent(context),
                       "making the context of " + describeDevice(properties) +
                           " current");
}

Error Context::synchronize() const {
  return driver->check(driver->cuCtxSynchronize(),
                       "waiting for " + describeDevice(properties));
}

Expected<size_t> Context::getFreeMemory() const {
  size_t freeBytes = 0, totalBytes = 0;
  if (Error err = driver->check(driver->cuMemGetInfo(&freeBytes, &totalBytes),
                                "reading the free memory of " +
                                    describeDevice(properties)))
    return std::move(err);
  return freeBytes;
}

//===----------------------------------------------------------------------===//
// Memory
//===----------------------------------------------------------------------===//

Expected<DeviceBuffer> DeviceBuffer::allocate(const Context &context,
                                              size_t bytes) {
  if (bytes == 0)
    return DeviceBuffer();
  const CudaDriver &driver = context.getDriver();
  cu::CUdeviceptr pointer = 0;
  cu::CUresult result = driver.cuMemAlloc(&pointer, bytes);
  if (result == cu::CUDA_SUCCESS)
    return DeviceBuffer(driver, pointer, bytes);

  std::string what = "allocating " + formatBytes(bytes) + " on " +
                     describeDevice(context.getProperties());
  if (result == cu::CUDA_ERROR_OUT_OF_MEMORY) {
    Expected<size_t> freeBytes = context.getFreeMemory();
    what = "too little GPU memory: " + what + ", which has " +
           (freeBytes ? formatBytes(*freeBytes) : "an unknown amount") +
           " free";
    consumeError(freeBytes.takeError());
  }
  return driver.check(result, what);
}

Error DeviceBuffer::checkRange(StringRef operation, size_t count,
                               size_t offset) const {
  if (offset <= bytes && count <= bytes - offset)
    return Error::success();
  return makeError(formatv("{0} of {1} bytes at offset {2} does not fit in "
                           "a device buffer of {3} bytes",
                           operation, count, offset, bytes));
}

Error DeviceBuffer::copyFromHost(const void *source, size_t count,
                                 size_t offset) {
  if (Error err = checkRange("a copy to the GPU", count, offset))
    return err;
  if (count == 0)
    return Error::success();
  const CudaDriver &driver = memory.getDriver();
  return driver.check(driver.cuMemcpyHtoD(get() + offset, source, count),
                      "copying " + formatBytes(count) + " to the GPU");
}

Error DeviceBuffer::copyToHost(void *destination, size_t count,
                               size_t offset) const {
  if (Error err = checkRange("a copy from the GPU", count, offset))
    return err;
  if (count == 0)
    return Error::success();
  const CudaDriver &driver = memory.getDriver();
  return driver.check(driver.cuMemcpyDtoH(destination, get() + offset, count),
                      "copying " + formatBytes(count) + " from the GPU");
}

Error DeviceBuffer::copyFromDevice(const DeviceBuffer &source) {
  if (Error err = checkRange("a copy on the GPU", source.size(), 0))
    return err;
  if (source.size() == 0)
    return Error::success();
  const CudaDriver &driver = memory.getDriver();
  return driver.check(driver.cuMemcpyDtoD(get(), source.get(), source.size()),
                      "copying " + formatBytes(source.size()) + " on the GPU");
}

Error DeviceBuffer::zero() {
  if (bytes == 0)
    return Error::success();
  const CudaDriver &driver = memory.getDriver();
  return driver.check(driver.cuMemsetD8(get(), 0, bytes),
                      "zeroing " + formatBytes(bytes) + " on the GPU");
}

//===----------------------------------------------------------------------===//
// Modules and kernels
//===----------------------------------------------------------------------===//

Expected<Module> Module::load(const Context &context, StringRef image) {
  constexpr size_t kLogBytes = 64 * 1024;
  const CudaDriver &driver = context.getDriver();
  // The driver reads PTX up to a NUL; the copy adds one (binaries carry their
  // own sizes and ignore it).
  std::string data = image.str();
  std::string infoLog(kLogBytes, '\0'), errorLog(kLogBytes, '\0');
  cu::CUjit_option options[] = {
      cu::CU_JIT_INFO_LOG_BUFFER,  cu::CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
      cu::CU_JIT_ERROR_LOG_BUFFER, cu::CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
      cu::CU_JIT_LOG_VERBOSE,
  };
  // Option values are passed in pointer-sized slots, integers by value.
  void *values[] = {
      infoLog.data(),
      reinterpret_cast<void *>(uintptr_t(kLogBytes - 1)),
      errorLog.data(),
      reinterpret_cast<void *>(uintptr_t(kLogBytes - 1)),
      reinterpret_cast<void *>(uintptr_t(1)),
  };
  cu::CUmodule module = nullptr;
  cu::CUresult result = driver.cuModuleLoadDataEx(
      &module, data.c_str(), std::size(options), options, values);
  infoLog.resize(std::strlen(infoLog.c_str()));
  errorLog.resize(std::strlen(errorLog.c_str()));
  if (result != cu::CUDA_SUCCESS)
    return driver.check(
        result,
        formatv("loading a {0} module ({1} bytes) on {2}", imageKind(image),
                image.size(), describeDevice(context.getProperties())),
        errorLog.empty()
            ? ""
            : "JIT error log:\n" + StringRef(errorLog).rtrim().str());
  return Module(driver, module, std::move(infoLog));
}

Expected<Function> Module::getFunction(StringRef name) const {
  const CudaDriver &driver = module.getDriver();
  std::string kernel = name.str();
  cu::CUfunction function = nullptr;
  if (Error err = driver.check(
          driver.cuModuleGetFunction(&function, module.get(), kernel.c_str()),
          "looking up kernel '" + name + "' in the module"))
    return std::move(err);
  return Function(driver, function, std::move(kernel));
}

Expected<int> Function::getAttribute(cu::CUfunction_attribute attribute) const {
  int value = 0;
  if (Error err =
          driver->check(driver->cuFuncGetAttribute(&value, attribute, function),
                        formatv("reading attribute {0} of kernel '{1}'",
                                int(attribute), name)))
    return std::move(err);
  return value;
}

Error Function::setAttribute(cu::CUfunction_attribute attribute,
                             int value) const {
  return driver->check(driver->cuFuncSetAttribute(function, attribute, value),
                       formatv("setting attribute {0} of kernel '{1}' to {2}",
                               int(attribute), name, value));
}

Error xlstm::runtime::launch(const Function &function, Dim3 grid, Dim3 block,
                             unsigned sharedMemoryBytes, const Stream &stream,
                             void **args, bool overlapPrevious) {
  const CudaDriver &driver = function.getDriver();
  cu::CUresult result;
  if (overlapPrevious) {
    if (!driver.cuLaunchKernelEx)
      return makeError("kernel '" + function.getName() +
                       "' waits on the previous grid (grid-dependency-wait), "
                       "which needs cuLaunchKernelEx: update the NVIDIA "
                       "driver (CUDA 12 or later)");
    cu::CUlaunchAttribute overlap{};
    overlap.id = cu::CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
    overlap.value.programmaticStreamSerializationAllowed = 1;
    cu::CUlaunchConfig config{grid.x,
                              grid.y,
                              grid.z,
                              block.x,
                              block.y,
                              block.z,
                              sharedMemoryBytes,
                              stream.get(),
                              &overlap,
                              1};
    result = driver.cuLaunchKernelEx(&config, function.get(), args, nullptr);
  } else {
    result = driver.cuLaunchKernel(function.get(), grid.x, grid.y, grid.z,
                                   block.x, block.y, block.z, sharedMemoryBytes,
                                   stream.get(), args, nullptr);
  }
  if (result == cu::CUDA_SUCCESS)
    return Error::success();
  return driver.check(
      result, formatv("launching kernel '{0}' with grid {1}x{2}x{3}, block "
                      "{4}x{5}x{6} and {7} bytes of dynamic shared memory",
                      function.getName(), grid.x, grid.y, grid.z, block.x,
                      block.y, block.z, sharedMemoryBytes));
}

//===----------------------------------------------------------------------===//
// Streams, events, graphs
//===----------------------------------------------------------------------===//

Expected<Stream> Stream::create(const Context &context) {
  const CudaDriver &driver = context.getDriver();
  cu::CUstream stream = nullptr;
  if (Error err =
          driver.check(driver.cuStreamCreate(&stream, cu::CU_STREAM_DEFAULT),
                       "creating a stream"))
    return std::move(err);
  return Stream(driver, stream);
}

Error Stream::synchronize() const {
  const CudaDriver &driver = stream.getDriver();
  return driver.check(driver.cuStreamSynchronize(get()),
                      "waiting for a stream");
}

Expected<Event> Event::create(const Context &context) {
  const CudaDriver &driver = context.getDriver();
  cu::CUevent event = nullptr;
  if (Error err =
          driver.check(driver.cuEventCreate(&event, cu::CU_EVENT_DEFAULT),
                       "creating an event"))
    return std::move(err);
  return Event(driver, event);
}

Error Event::record(const Stream &stream) const {
  const CudaDriver &driver = event.getDriver();
  return driver.check(driver.cuEventRecord(get(), stream.get()),
                      "recording an event");
}

Error Event::synchronize() const {
  const CudaDriver &driver = event.getDriver();
  return driver.check(driver.cuEventSynchronize(get()), "waiting for an event");
}

Expected<float> Event::elapsedMilliseconds(const Event &start,
                                           const Event &end) {
  const CudaDriver &driver = start.event.getDriver();
  float milliseconds = 0;
  if (Error err = driver.check(
          driver.cuEventElapsedTime(&milliseconds, start.get(), end.get()),
          "measuring the time between two events"))
    return std::move(err);
  return milliseconds;
}

Expected<GraphExec> GraphExec::capture(const Stream &stream,
                                       function_ref<Error()> enqueue,
                                       cu::CUstreamCaptureMode mode) {
  const CudaDriver &driver = stream.getDriver();
  if (Error err = driver.check(driver.cuStreamBeginCapture(stream.get(), mode),
                               "beginning a graph capture"))
    return std::move(err);
  Error enqueueError = enqueue();
  cu::CUgraph rawGraph = nullptr;
  Error endError =
      driver.check(driver.cuStreamEndCapture(stream.get(), &rawGraph),
                   "ending a graph capture");
  detail::UniqueHandle<cu::CUgraph, &CudaDriver::cuGraphDestroy> graph(
      driver, rawGraph);
  if (enqueueError) {
    consumeError(std::move(endError));
    return std::move(enqueueError);
  }
  if (endError)
    return std::move(endError);

  cu::CUgraphExec exec = nullptr;
  if (Error err = driver.check(
          driver.cuGraphInstantiateWithFlags(&exec, graph.get(), 0),
          "instantiating a captured graph"))
    return std::move(err);
  return GraphExec(driver, exec);
}

Error GraphExec::launch(const Stream &stream) const {
  const CudaDriver &driver = graph.getDriver();
  return driver.check(driver.cuGraphLaunch(get(), stream.get()),
                      "launching a graph");
}
