//===- CudaBackend.cpp - The CUDA DeviceBackend ---------------------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Kernel images loaded once, launches on one stream, a caching allocation
// pool, CUDA-graph recordings with their capture arenas, per-launch timing.
//
//===----------------------------------------------------------------------===//

#include "HostProgramSupport.h"
#include "xlstm/Runtime/CudaObjects.h"
#include "xlstm/Runtime/HostProgram.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>

using namespace llvm;
using namespace xlstm::runtime;
using namespace xlstm::runtime::detail;

//===----------------------------------------------------------------------===//
// The CUDA backend
//===----------------------------------------------------------------------===//

namespace {

/// Where a released allocation's buffer goes.
class BufferHome {
public:
  virtual ~BufferHome() = default;
  virtual void give(DeviceBuffer buffer) = 0;
};

/// Free device buffers by bucket size. Shared by the backend and every
/// allocation it handed out, so an allocation outliving the backend still
/// has somewhere to go; the buffers are freed when the last owner goes.
class BufferPool : public BufferHome {
public:
  explicit BufferPool(const Context &context) : context(context) {}

  /// The bucket `bytes` goes to: powers of two up to 1 MiB (at most 2x
  /// waste on small buffers), 2 MiB multiples above (little waste on the
  /// large ones, which repeat exactly from run to run anyway).
  static size_t bucket(size_t bytes) {
    constexpr size_t kSmall = size_t(1) << 20, kLargeStep = size_t(2) << 20;
    if (bytes <= 512)
      return 512;
    if (bytes <= kSmall)
      return size_t(1) << (64 - __builtin_clzll(bytes - 1));
    if (bytes > std::numeric_limits<size_t>::max() - kLargeStep)
      return bytes;
    return (bytes + kLargeStep - 1) / kLargeStep * kLargeStep;
  }

  Expected<DeviceBuffer> take(size_t bytes) {
    size_t size = bucket(bytes);
    {
      std::lock_guard<std::mutex> lock(mutex);
      auto it = free.find(size);
      if (it != free.end() && !it->second.empty()) {
        DeviceBuffer buffer = std::move(it->second.back());
        it->second.pop_back();
        cachedBytes -= size;
        return std::move(buffer);
      }
    }
    Expected<DeviceBuffer> buffer = DeviceBuffer::allocate(context, size);
    if (buffer)
      return buffer;
    // Out of memory, perhaps only because of what we cache: free it, retry.
    if (cachedBytes == 0)
      return buffer.takeError();
    consumeError(buffer.takeError());
    releaseAll();
    return DeviceBuffer::allocate(context, size);
  }

  void give(DeviceBuffer buffer) override {
    std::lock_guard<std::mutex> lock(mutex);
    cachedBytes += buffer.size();
    free[buffer.size()].push_back(std::move(buffer));
  }

  void releaseAll() {
    std::map<size_t, std::vector<DeviceBuffer>> released;
    {
      std::lock_guard<std::mutex> lock(mutex);
      released.swap(free);
      cachedBytes = 0;
    }
  }

  size_t getCachedBytes() {
    std::lock_guard<std::mutex> lock(mutex);
    return cachedBytes;
  }

private:
  const Context &context;
  std::mutex mutex;
  std::map<size_t, std::vector<DeviceBuffer>> free;
  size_t cachedBytes = 0;
};

/// The buffers of one graph capture. A graph replays the addresses it was
/// captured with, so what the capture allocates stays with it: a buffer
/// released during the capture is reused only by later allocations of the
/// same capture (safe: a captured stream is one chain of work), never by
/// other work, until the arena is gone (the recording and every value
/// holding one of its buffers); then everything goes back to the pool.
class CaptureArena : public BufferHome {
public:
  explicit CaptureArena(std::shared_ptr<BufferPool> pool)
      : pool(std::move(pool)) {}
  ~CaptureArena() override {
    for (auto &[size, buffers] : free)
      for (DeviceBuffer &buffer : buffers)
        pool->give(std::move(buffer));
  }

  Expected<DeviceBuffer> take(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      auto it = free.find(BufferPool::bucket(bytes));
      if (it != free.end() && !it->second.empty()) {
        DeviceBuffer buffer = std::move(it->second.back());
        it->second.pop_back();
        return std::move(buffer);
      }
    }
    return pool->take(bytes);
  }

  void give(DeviceBuffer buffer) override {
    std::lock_guard<std::mutex> lock(mutex);
    free[buffer.size()].push_back(std::move(buffer));
  }

private:
  std::shared_ptr<BufferPool> pool;
  std::mutex mutex;
  std::map<size_t, std::vector<DeviceBuffer>> free;
};

/// An allocation from a pool or arena; returns its buffer there when
/// released.
class PooledAllocation : public Allocation {
public:
  PooledAllocation(std::shared_ptr<BufferHome> home, DeviceBuffer buffer,
                   size_t bytes)
      : Allocation(buffer.get(), bytes), home(std::move(home)),
        buffer(std::move(buffer)) {}
  ~PooledAllocation() override {
    if (home)
      home->give(std::move(buffer));
  }

private:
  std::shared_ptr<BufferHome> home;
  DeviceBuffer buffer;
};

/// "[start, start + bytes) of an allocation of N bytes" when it does not fit.
Error checkRange(const Allocation &allocation, size_t offset, size_t bytes,
                 StringRef what) {
  if (offset <= allocation.getBytes() &&
      bytes <= allocation.getBytes() - offset)
    return Error::success();
  return makeError(formatv("{0} of {1} bytes at offset {2} does not fit in an "
                           "allocation of {3} bytes",
                           what, bytes, offset, allocation.getBytes()));
}

} // namespace

struct CudaBackend::Impl {
  struct Kernel {
    Function function;
    /// The dynamic shared memory the kernel may use (48 KiB less its
    /// static shared memory until an opt-in raises it), read from the
    /// driver at the first launch that asks for any.
    std::optional<unsigned> maxDynamicShared;
    /// KernelRef::waitsOnPreviousGrid: launched overlapping the kernel
    /// before it.
    bool overlapPrevious = false;
  };

  explicit Impl(const Context &context, Stream stream)
      : context(context), stream(std::move(stream)),
        pool(std::make_shared<BufferPool>(context)) {}

  const Context &context;
  Stream stream;
  std::vector<Module> modules; // before kernels: they refer to the modules
  std::vector<Kernel> kernels;
  std::shared_ptr<BufferPool> pool;
  /// Set while record() captures: allocations come from it.
  std::shared_ptr<CaptureArena> arena;
  // Profiling: an event pair per timed launch, reused across takeProfile().
  bool profiling = false;
  struct Timed {
    unsigned kernel;
    Event start, end;
    uint64_t viewBytes = 0;
  };
  std::vector<Timed> timed;
  size_t numTimed = 0;
  /// The timed launches of each kernel by their memref arguments.
  std::unordered_map<unsigned, std::vector<KernelTime::Launches>> byViews;
};

CudaBackend::CudaBackend(std::unique_ptr<Impl> impl) : impl(std::move(impl)) {}
CudaBackend::~CudaBackend() = default;

Expected<std::unique_ptr<CudaBackend>> CudaBackend::create(
    const Context &context, ArrayRef<KernelRef> kernels,
    function_ref<Expected<StringRef>(const KernelRef &)> loadImage) {
  Expected<Stream> stream = Stream::create(context);
  if (!stream)
    return stream.takeError();
  auto impl = std::make_unique<Impl>(context, std::move(*stream));
  // Kernels that share an image (a section) share one loaded module.
  StringMap<size_t> moduleIndex;
  for (const KernelRef &kernel : kernels) {
    auto [it, inserted] = moduleIndex.try_emplace(
        kernel.section.empty() ? kernel.module : kernel.section,
        impl->modules.size());
    if (inserted) {
      Expected<StringRef> image = loadImage(kernel);
      if (!image)
        return image.takeError();
      Expected<Module> module = Module::load(context, *image);
      if (!module)
        return makeError("loading kernel module '" + kernel.module + "' (" +
                         kernel.section + "): " + toString(module.takeError()));
      impl->modules.push_back(std::move(*module));
    }
    Expected<Function> function =
        impl->modules[it->second].getFunction(kernel.name);
    if (!function)
      return makeError("kernel module '" + kernel.module +
                       "': " + toString(function.takeError()));
    impl->kernels.push_back(
        {std::move(*function), std::nullopt, kernel.waitsOnPreviousGrid});
  }
  return std::unique_ptr<CudaBackend>(new CudaBackend(std::move(impl)));
}

Expected<std::shared_ptr<Allocation>> CudaBackend::allocate(size_t bytes) {
  if (bytes == 0)
    return std::make_shared<Allocation>(0, 0);
  if (impl->arena) {
    Expected<DeviceBuffer> buffer = impl->arena->take(bytes);
    if (!buffer)
      return buffer.takeError();
    return std::make_shared<PooledAllocation>(impl->arena, std::move(*buffer),
                                              bytes);
  }
  Expected<DeviceBuffer> buffer = impl->pool->take(bytes);
  if (!buffer)
    return buffer.takeError();
  return std::make_shared<PooledAllocation>(impl->pool, std::move(*buffer),
                                            bytes);
}

struct CudaBackend::Recording::State {
  const Stream &stream;
  GraphExec graph;
  std::shared_ptr<CaptureArena> arena;
};

CudaBackend::Recording::Recording(std::unique_ptr<State> state)
    : state(std::move(state)) {}
CudaBackend::Recording::~Recording() = default;

Error CudaBackend::Recording::replay() const {
  return state->graph.launch(state->stream);
}

Expected<std::unique_ptr<CudaBackend::Recording>>
CudaBackend::record(function_ref<Error()> enqueue) {
  if (impl->arena)
    return makeError("a recording is already under way");
  if (impl->profiling)
    return makeError("per-launch profiling cannot be recorded into a graph; "
                     "turn it off first");
  auto arena = std::make_shared<CaptureArena>(impl->pool);
  impl->arena = arena;
  // Relaxed: a pool miss may allocate while capturing; the buffer is the
  // arena's from then on.
  Expected<GraphExec> graph = GraphExec::capture(
      impl->stream, enqueue, cu::CU_STREAM_CAPTURE_MODE_RELAXED);
  impl->arena.reset();
  if (!graph)
    return graph.takeError();
  return std::unique_ptr<Recording>(
      new Recording(std::make_unique<Recording::State>(Recording::State{
          impl->stream, std::move(*graph), std::move(arena)})));
}

Error CudaBackend::launch(unsigned kernel, const LaunchShape &shape,
                          const KernelArguments &arguments) {
  if (kernel >= impl->kernels.size())
    return makeError(formatv("there is no kernel {0}; the backend has {1}",
                             kernel, impl->kernels.size()));
  Impl::Kernel &entry = impl->kernels[kernel];
  // More than the kernel may take by default (48 KiB less its static shared
  // memory) needs an opt-in per kernel.
  if (shape.sharedMemoryBytes > 0) {
    if (!entry.maxDynamicShared) {
      Expected<int> maxDynamic = entry.function.getAttribute(
          cu::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES);
      if (!maxDynamic)
        return maxDynamic.takeError();
      entry.maxDynamicShared = unsigned(std::max(*maxDynamic, 0));
    }
    if (shape.sharedMemoryBytes > *entry.maxDynamicShared) {
      // Another table entry of the same function (its overlapped and its
      // plain launches) may have raised the limit since: never lower it.
      Expected<int> current = entry.function.getAttribute(
          cu::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES);
      if (!current)
        return current.takeError();
      unsigned limit = unsigned(std::max(*current, 0));
      unsigned wanted = std::min<unsigned>(shape.sharedMemoryBytes,
                                           std::numeric_limits<int>::max());
      if (wanted > limit) {
        if (Error err = entry.function.setAttribute(
                cu::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                int(wanted)))
          return err;
        limit = wanted;
      }
      entry.maxDynamicShared = limit;
    }
  }
  Impl::Timed *timing = nullptr;
  if (impl->profiling) {
    if (impl->numTimed == impl->timed.size()) {
      Expected<Event> start = Event::create(impl->context);
      if (!start)
        return start.takeError();
      Expected<Event> end = Event::create(impl->context);
      if (!end)
        return end.takeError();
      impl->timed.push_back({kernel, std::move(*start), std::move(*end)});
    }
    timing = &impl->timed[impl->numTimed++];
    timing->kernel = kernel;
    timing->viewBytes = arguments.getViewBytes();
    SmallVector<KernelArguments::View> views = arguments.getViews();
    std::vector<KernelTime::Launches> &seen = impl->byViews[kernel];
    auto same = llvm::find_if(
        seen, [&](const KernelTime::Launches &l) { return l.views == views; });
    if (same == seen.end())
      seen.push_back({std::move(views), 1});
    else
      ++same->count;
    if (Error err = timing->start.record(impl->stream))
      return err;
  }
  if (Error err = runtime::launch(
          entry.function, {shape.grid[0], shape.grid[1], shape.grid[2]},
          {shape.block[0], shape.block[1], shape.block[2]},
          shape.sharedMemoryBytes, impl->stream,
          // cuLaunchKernel reads the parameters and keeps no pointers.
          const_cast<void **>(arguments.getPointers().data()),
          entry.overlapPrevious))
    return err;
  return timing ? timing->end.record(impl->stream) : Error::success();
}

const Stream &CudaBackend::getStream() const { return impl->stream; }

Error CudaBackend::setProfiling(bool on) {
  impl->profiling = on;
  return Error::success();
}

Expected<std::vector<CudaBackend::KernelTime>> CudaBackend::takeProfile() {
  if (Error err = impl->stream.synchronize())
    return std::move(err);
  std::vector<KernelTime> times;
  std::unordered_map<unsigned, size_t> slot;
  for (size_t i = 0; i < impl->numTimed; ++i) {
    const Impl::Timed &t = impl->timed[i];
    Expected<float> ms = Event::elapsedMilliseconds(t.start, t.end);
    if (!ms)
      return ms.takeError();
    auto [it, inserted] = slot.try_emplace(t.kernel, times.size());
    if (inserted) {
      times.push_back({t.kernel});
      times.back().byViews = std::move(impl->byViews[t.kernel]);
    }
    times[it->second].launches += 1;
    times[it->second].milliseconds += *ms;
    times[it->second].viewBytes += t.viewBytes;
  }
  impl->numTimed = 0;
  impl->byViews.clear();
  return times;
}

Error CudaBackend::copy(const Allocation &target, size_t targetOffset,
                        const Allocation &source, size_t sourceOffset,
                        size_t bytes) {
  if (Error err = checkRange(target, targetOffset, bytes, "a copy target"))
    return err;
  if (Error err = checkRange(source, sourceOffset, bytes, "a copy source"))
    return err;
  if (bytes == 0)
    return Error::success();
  const CudaDriver &driver = impl->context.getDriver();
  return driver.check(
      driver.cuMemcpyDtoDAsync(target.getAddress() + targetOffset,
                               source.getAddress() + sourceOffset, bytes,
                               impl->stream.get()),
      formatv("queueing a copy of {0} bytes on the GPU", bytes));
}

Error CudaBackend::copyFromHost(const Allocation &target, size_t offset,
                                const void *source, size_t bytes) {
  if (Error err = checkRange(target, offset, bytes, "a copy to the GPU"))
    return err;
  if (bytes == 0)
    return Error::success();
  const CudaDriver &driver = impl->context.getDriver();
  // Synchronous on the legacy stream, which waits for our blocking stream.
  return driver.check(
      driver.cuMemcpyHtoD(target.getAddress() + offset, source, bytes),
      formatv("copying {0} bytes to the GPU", bytes));
}

Error CudaBackend::copyToHost(void *target, const Allocation &source,
                              size_t offset, size_t bytes) {
  if (Error err = checkRange(source, offset, bytes, "a copy from the GPU"))
    return err;
  if (bytes == 0)
    return Error::success();
  const CudaDriver &driver = impl->context.getDriver();
  return driver.check(
      driver.cuMemcpyDtoH(target, source.getAddress() + offset, bytes),
      formatv("copying {0} bytes from the GPU", bytes));
}

Error CudaBackend::synchronize() { return impl->stream.synchronize(); }

size_t CudaBackend::getCachedBytes() const {
  return impl->pool->getCachedBytes();
}

void CudaBackend::releaseCached() { impl->pool->releaseAll(); }
