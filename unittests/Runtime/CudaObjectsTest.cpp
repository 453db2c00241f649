//===- CudaObjectsTest.cpp - Tests of the RAII wrappers on a GPU ----------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// These tests need a GPU and the NVIDIA driver; each skips when
// CudaDriver::load() fails (CI, this repository's build machine). One driver
// and one context serve every test of a process.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Runtime/CudaObjects.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <vector>

using namespace llvm;
using namespace xlstm::runtime;

namespace {

/// y[i] = 2 * x[i] + 1 for i < n. Hand-written test data; sm_80 PTX JITs to
/// any newer GPU.
constexpr const char *kAffinePtx = R"(
.version 7.0
.target sm_80
.address_size 64

.visible .entry affine(.param .u64 y, .param .u64 x, .param .u32 n)
{
  .reg .pred %p;
  .reg .b32 %r<5>;
  .reg .f32 %f<3>;
  .reg .b64 %rd<6>;

  ld.param.u64 %rd1, [y];
  ld.param.u64 %rd2, [x];
  ld.param.u32 %r1, [n];
  mov.u32 %r2, %ctaid.x;
  mov.u32 %r3, %ntid.x;
  mov.u32 %r4, %tid.x;
  mad.lo.s32 %r2, %r2, %r3, %r4;
  setp.ge.u32 %p, %r2, %r1;
  @%p bra DONE;
  mul.wide.u32 %rd3, %r2, 4;
  cvta.to.global.u64 %rd2, %rd2;
  add.s64 %rd4, %rd2, %rd3;
  ld.global.f32 %f1, [%rd4];
  fma.rn.f32 %f2, %f1, 0f40000000, 0f3F800000;
  cvta.to.global.u64 %rd1, %rd1;
  add.s64 %rd5, %rd1, %rd3;
  st.global.f32 [%rd5], %f2;
DONE:
  ret;
}
)";

/// y[i] += 1 for i < n, after waiting on the previous grid (griddepcontrol:
/// sm_90 PTX), as kernels of xlstm-grid-dependency-wait start.
constexpr const char *kWaitingIncrementPtx = R"(
.version 7.8
.target sm_90
.address_size 64

.visible .entry increment(.param .u64 y, .param .u32 n)
{
  .reg .pred %p;
  .reg .b32 %r<5>;
  .reg .f32 %f<3>;
  .reg .b64 %rd<4>;

  griddepcontrol.wait;
  griddepcontrol.launch_dependents;
  ld.param.u64 %rd1, [y];
  ld.param.u32 %r1, [n];
  mov.u32 %r2, %ctaid.x;
  mov.u32 %r3, %ntid.x;
  mov.u32 %r4, %tid.x;
  mad.lo.s32 %r2, %r2, %r3, %r4;
  setp.ge.u32 %p, %r2, %r1;
  @%p bra DONE;
  mul.wide.u32 %rd2, %r2, 4;
  cvta.to.global.u64 %rd1, %rd1;
  add.s64 %rd3, %rd1, %rd2;
  ld.global.f32 %f1, [%rd3];
  add.f32 %f2, %f1, 0f3F800000;
  st.global.f32 [%rd3], %f2;
DONE:
  ret;
}
)";

constexpr unsigned kElements = 1 << 20;
constexpr unsigned kBlock = 256;

/// The message of `err` and, for a CudaError, its result (else -1).
std::pair<std::string, cu::CUresult> describe(Error err) {
  cu::CUresult result = -1;
  std::string message;
  handleAllErrors(
      std::move(err),
      [&](const CudaError &cudaErr) {
        result = cudaErr.getResult();
        message = cudaErr.message();
      },
      [&](const ErrorInfoBase &other) { message = other.message(); });
  return {message, result};
}

class CudaGpu : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    Expected<std::unique_ptr<CudaDriver>> loaded = CudaDriver::load();
    if (!loaded) {
      skipReason = toString(loaded.takeError());
      return;
    }
    driver = std::move(*loaded);
    Expected<Context> created = Context::create(*driver);
    if (!created) {
      skipReason = toString(created.takeError());
      return;
    }
    context.emplace(std::move(*created));
  }
  static void TearDownTestSuite() {
    context.reset();
    driver.reset();
  }
  void SetUp() override {
    if (!context)
      GTEST_SKIP() << skipReason;
    ASSERT_FALSE(errorToBool(context->makeCurrent()));
  }

  /// Inputs 0, 0.25, ..., exact in float.
  static std::vector<float> affineInput() {
    std::vector<float> x(kElements);
    for (unsigned i = 0; i < kElements; ++i)
      x[i] = float(i) * 0.25f - 1000.0f;
    return x;
  }
  static void expectAffineOutput(const DeviceBuffer &y) {
    std::vector<float> x = affineInput(), out(kElements);
    ASSERT_FALSE(errorToBool(y.copyToHost(MutableArrayRef<float>(out))));
    unsigned mismatches = 0;
    for (unsigned i = 0; i < kElements; ++i)
      mismatches += out[i] != 2.0f * x[i] + 1.0f;
    EXPECT_EQ(mismatches, 0u);
  }

  /// Loads `image`, copies the input and queues the kernel on `stream`.
  struct Affine {
    Module module;
    Function function;
    DeviceBuffer x, y;
  };
  static Expected<Affine> prepareAffine(StringRef image) {
    Expected<Module> module = Module::load(*context, image);
    if (!module)
      return module.takeError();
    Expected<Function> function = module->getFunction("affine");
    if (!function)
      return function.takeError();
    Expected<DeviceBuffer> x =
        DeviceBuffer::allocate(*context, kElements * sizeof(float));
    if (!x)
      return x.takeError();
    Expected<DeviceBuffer> y =
        DeviceBuffer::allocate(*context, kElements * sizeof(float));
    if (!y)
      return y.takeError();
    std::vector<float> input = affineInput();
    if (Error err = x->copyFromHost(ArrayRef<float>(input)))
      return std::move(err);
    if (Error err = y->zero())
      return std::move(err);
    return Affine{std::move(*module), *function, std::move(*x), std::move(*y)};
  }
  static Error launchAffine(Affine &affine, const Stream &stream) {
    cu::CUdeviceptr y = affine.y.get(), x = affine.x.get();
    unsigned n = kElements;
    void *args[] = {&y, &x, &n};
    return launch(affine.function, {kElements / kBlock, 1, 1}, {kBlock, 1, 1},
                  0, stream, args);
  }

  static inline std::unique_ptr<CudaDriver> driver;
  static inline std::optional<Context> context;
  static inline std::string skipReason;
};

TEST_F(CudaGpu, DriverVersionAndErrorNames) {
  Expected<int> version = driver->getVersion();
  ASSERT_TRUE(bool(version)) << toString(version.takeError());
  EXPECT_GE(*version, 11000);
  EXPECT_FALSE(errorToBool(driver->check(cu::CUDA_SUCCESS, "nothing")));
  auto [message, result] =
      describe(driver->check(cu::CUDA_ERROR_OUT_OF_MEMORY, "allocating"));
  EXPECT_EQ(message, "allocating: CUDA_ERROR_OUT_OF_MEMORY: out of memory");
  EXPECT_EQ(result, cu::CUDA_ERROR_OUT_OF_MEMORY);
}

TEST_F(CudaGpu, ContextProperties) {
  const DeviceProperties &properties = context->getProperties();
  EXPECT_EQ(properties.ordinal, 0);
  EXPECT_FALSE(properties.name.empty());
  EXPECT_GE(properties.computeCapabilityMajor, 7);
  EXPECT_GT(properties.multiprocessorCount, 0);
  EXPECT_GE(properties.maxThreadsPerBlock, 1024);
  EXPECT_GE(properties.maxSharedMemoryPerBlockOptin, 48 * 1024);
  Expected<size_t> freeBytes = context->getFreeMemory();
  ASSERT_TRUE(bool(freeBytes)) << toString(freeBytes.takeError());
  EXPECT_GT(*freeBytes, 0u);
  EXPECT_LE(*freeBytes, properties.totalMemoryBytes);
  EXPECT_FALSE(errorToBool(context->synchronize()));
}

TEST_F(CudaGpu, MissingDeviceSaysHowManyThereAre) {
  Expected<Context> missing = Context::create(*driver, 1000);
  ASSERT_FALSE(missing);
  std::string message = toString(missing.takeError());
  EXPECT_EQ(message.find("there is no CUDA device 1000: the machine has "), 0u)
      << message;
}

TEST_F(CudaGpu, BufferRoundTrip) {
  std::vector<float> input = affineInput(), output(kElements, -1.0f);
  Expected<DeviceBuffer> a =
      DeviceBuffer::allocate(*context, kElements * sizeof(float));
  Expected<DeviceBuffer> b =
      DeviceBuffer::allocate(*context, kElements * sizeof(float));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->size(), kElements * sizeof(float));
  ASSERT_FALSE(errorToBool(a->copyFromHost(ArrayRef<float>(input))));
  ASSERT_FALSE(errorToBool(b->copyFromDevice(*a)));
  ASSERT_FALSE(errorToBool(b->copyToHost(MutableArrayRef<float>(output))));
  EXPECT_EQ(input, output);

  // Partial copies at an offset, then zeroing.
  float tail[2] = {};
  ASSERT_FALSE(errorToBool(
      b->copyToHost(tail, sizeof(tail), (kElements - 2) * sizeof(float))));
  EXPECT_EQ(tail[0], input[kElements - 2]);
  EXPECT_EQ(tail[1], input[kElements - 1]);
  EXPECT_EQ(toString(b->copyToHost(tail, sizeof(tail),
                                   (kElements - 1) * sizeof(float))),
            "a copy from the GPU of 8 bytes at offset 4194300 does not fit "
            "in a device buffer of 4194304 bytes");
  ASSERT_FALSE(errorToBool(b->zero()));
  ASSERT_FALSE(errorToBool(b->copyToHost(MutableArrayRef<float>(output))));
  EXPECT_EQ(output, std::vector<float>(kElements, 0.0f));

  // Moving transfers ownership; the moved-from buffer frees nothing.
  DeviceBuffer moved = std::move(*b);
  EXPECT_EQ(moved.size(), kElements * sizeof(float));
}

TEST_F(CudaGpu, TooBigAllocationIsAClearError) {
  constexpr size_t kTenTerabytes = size_t(10) << 40;
  auto [message, result] =
      describe(DeviceBuffer::allocate(*context, kTenTerabytes).takeError());
  EXPECT_EQ(result, cu::CUDA_ERROR_OUT_OF_MEMORY) << message;
  EXPECT_EQ(message.find("too little GPU memory: allocating 10995116277760 "
                         "bytes (10240.0 GiB) on CUDA device 0 ("),
            0u)
      << message;
  EXPECT_NE(message.find(" free: CUDA_ERROR_OUT_OF_MEMORY: out of memory"),
            std::string::npos)
      << message;
  // The context is still usable.
  EXPECT_TRUE(bool(DeviceBuffer::allocate(*context, 1024)));
}

TEST_F(CudaGpu, PtxKernelRunsOnAStream) {
  Expected<Affine> affine = prepareAffine(kAffinePtx);
  ASSERT_TRUE(bool(affine)) << toString(affine.takeError());
  Expected<int> registers =
      affine->function.getAttribute(cu::CU_FUNC_ATTRIBUTE_NUM_REGS);
  ASSERT_TRUE(bool(registers)) << toString(registers.takeError());
  EXPECT_GT(*registers, 0);
  EXPECT_EQ(affine->function.getName(), "affine");

  Expected<Stream> stream = Stream::create(*context);
  ASSERT_TRUE(bool(stream)) << toString(stream.takeError());
  ASSERT_FALSE(errorToBool(launchAffine(*affine, *stream)));
  ASSERT_FALSE(errorToBool(stream->synchronize()));
  expectAffineOutput(affine->y);
}

TEST_F(CudaGpu, CubinKernelRuns) {
  ErrorOr<std::string> ptxas = sys::findProgramByName("ptxas");
  if (!ptxas)
    ptxas = sys::findProgramByName("ptxas", {"/usr/local/cuda/bin"});
  if (!ptxas)
    GTEST_SKIP() << "no ptxas to make a cubin";
  const DeviceProperties &properties = context->getProperties();
  std::string arch = "sm_" + std::to_string(properties.computeCapabilityMajor) +
                     std::to_string(properties.computeCapabilityMinor);
  SmallString<128> ptxPath, cubinPath;
  ASSERT_FALSE(sys::fs::createTemporaryFile("affine", "ptx", ptxPath));
  ASSERT_FALSE(sys::fs::createTemporaryFile("affine", "cubin", cubinPath));
  {
    std::error_code ec;
    raw_fd_ostream os(ptxPath, ec);
    ASSERT_FALSE(ec);
    os << kAffinePtx;
  }
  int rc = sys::ExecuteAndWait(
      *ptxas, {*ptxas, "-arch", arch, ptxPath.str(), "-o", cubinPath.str()});
  ASSERT_EQ(rc, 0);
  ErrorOr<std::unique_ptr<MemoryBuffer>> cubin =
      MemoryBuffer::getFile(cubinPath, /*IsText=*/false);
  sys::fs::remove(ptxPath);
  sys::fs::remove(cubinPath);
  ASSERT_TRUE(bool(cubin));

  Expected<Affine> affine = prepareAffine((*cubin)->getBuffer());
  ASSERT_TRUE(bool(affine)) << toString(affine.takeError());
  Expected<Stream> stream = Stream::create(*context);
  ASSERT_TRUE(bool(stream));
  ASSERT_FALSE(errorToBool(launchAffine(*affine, *stream)));
  ASSERT_FALSE(errorToBool(stream->synchronize()));
  expectAffineOutput(affine->y);
}

TEST_F(CudaGpu, PtxSyntaxErrorCarriesTheJitLog) {
  std::string broken = kAffinePtx;
  size_t fma = broken.find("fma.rn.f32");
  ASSERT_NE(fma, std::string::npos);
  broken.replace(fma, 6, "fma.bogus");
  auto [message, result] = describe(Module::load(*context, broken).takeError());
  EXPECT_EQ(result, cu::CUDA_ERROR_INVALID_PTX) << message;
  EXPECT_EQ(message.find("loading a PTX module ("), 0u) << message;
  EXPECT_NE(message.find("CUDA_ERROR_INVALID_PTX: a PTX JIT compilation "
                         "failed\nJIT error log:\n"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("bogus"), std::string::npos) << message;
}

TEST_F(CudaGpu, MissingKernelIsNamed) {
  Expected<Module> module = Module::load(*context, kAffinePtx);
  ASSERT_TRUE(bool(module)) << toString(module.takeError());
  auto [message, result] = describe(module->getFunction("nope").takeError());
  EXPECT_EQ(result, cu::CUDA_ERROR_NOT_FOUND);
  EXPECT_EQ(message, "looking up kernel 'nope' in the module: "
                     "CUDA_ERROR_NOT_FOUND: named symbol not found");
}

/// A memref<R x C x T> kernel argument as MLIR's lowering passes it:
/// allocated and aligned pointers, offset, two sizes, two strides.
struct Descriptor2D {
  cu::CUdeviceptr allocated, aligned;
  uint64_t offset, rows, cols, rowStride, colStride;
};

/// `args` followed by a pointer to every field of `descs`, in order (the
/// kernel parameter array for launch()).
std::vector<void *> kernelArguments(MutableArrayRef<Descriptor2D> descs,
                                    std::vector<void *> args = {}) {
  for (Descriptor2D &d : descs)
    for (void *field : {(void *)&d.allocated, (void *)&d.aligned,
                        (void *)&d.offset, (void *)&d.rows, (void *)&d.cols,
                        (void *)&d.rowStride, (void *)&d.colStride})
      args.push_back(field);
  return args;
}

/// Queues `function` on `stream`, waits for it, and reads `count` values of
/// T back from `out`.
template <typename T>
Expected<std::vector<T>> runAndRead(const Function &function, Dim3 grid,
                                    Dim3 block, const Stream &stream,
                                    std::vector<void *> &args,
                                    const DeviceBuffer &out, size_t count) {
  if (Error error = launch(function, grid, block, 0, stream, args.data()))
    return std::move(error);
  if (Error error = stream.synchronize())
    return std::move(error);
  std::vector<T> values(count);
  if (Error error = out.copyToHost(MutableArrayRef<T>(values)))
    return std::move(error);
  return values;
}

/// A uniform value in [-1, 1) rounded to bf16: its bits, and the float it
/// is in `rounded`.
uint16_t randomBf16(std::mt19937_64 &rng, float &rounded) {
  float v = std::uniform_real_distribution<float>(-1, 1)(rng);
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  bits = (bits + 0x8000u) & 0xffff0000u;
  std::memcpy(&rounded, &bits, 4);
  return uint16_t(bits >> 16);
}

/// ||got - want|| / ||want|| over the pairs added.
struct RelativeError {
  double error = 0, reference = 0;
  void add(double got, double want) {
    error += (got - want) * (got - want);
    reference += want * want;
  }
  double value() const { return std::sqrt(error / reference); }
};

/// The bf16 tensor-core tile of test/Target/NVVM/mma-bf16.mlir as PTX from
/// xlstm-opt (scripts/gpu-check.sh prepare writes it; `run` names it in
/// XLSTM_MMA_PTX): one warp, C(16x8) = A(16x16) * B(8x16)^T, checked against
/// a float64 product of the same bf16 values.
TEST_F(CudaGpu, MlirBf16MmaTileMatchesFloat64) {
  const char *path = std::getenv("XLSTM_MMA_PTX");
  if (!path)
    GTEST_SKIP() << "XLSTM_MMA_PTX is not set (scripts/gpu-check.sh sets it)";
  ErrorOr<std::unique_ptr<MemoryBuffer>> ptx = MemoryBuffer::getFile(path);
  ASSERT_TRUE(bool(ptx)) << path << ": " << ptx.getError().message();
  Expected<Module> module = Module::load(*context, (*ptx)->getBuffer());
  ASSERT_TRUE(bool(module)) << toString(module.takeError());
  Expected<Function> function = module->getFunction("mma_tile");
  ASSERT_TRUE(bool(function)) << toString(function.takeError());

  // Random values rounded to bf16 (the top half of a float).
  uint64_t state = uint64_t(std::random_device{}()) | 1;
  auto bf16Bits = [&](float &rounded) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    float v = float(int64_t(state >> 40) - (1 << 23)) / float(1 << 22);
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    bits = (bits + 0x8000u) & 0xffff0000u; // round half up, fine for a test
    std::memcpy(&rounded, &bits, 4);
    return uint16_t(bits >> 16);
  };
  std::vector<uint16_t> a(16 * 16), b(8 * 16);
  std::vector<float> af(a.size()), bf(b.size());
  for (size_t i = 0; i < a.size(); ++i)
    a[i] = bf16Bits(af[i]);
  for (size_t i = 0; i < b.size(); ++i)
    b[i] = bf16Bits(bf[i]);

  auto upload = [&](ArrayRef<uint16_t> host) -> Expected<DeviceBuffer> {
    Expected<DeviceBuffer> buf =
        DeviceBuffer::allocate(*context, host.size() * 2);
    if (!buf)
      return buf.takeError();
    if (Error err = buf->copyFromHost(host))
      return std::move(err);
    return buf;
  };
  Expected<DeviceBuffer> da = upload(a), db = upload(b);
  ASSERT_TRUE(bool(da)) << toString(da.takeError());
  ASSERT_TRUE(bool(db)) << toString(db.takeError());
  Expected<DeviceBuffer> dc = DeviceBuffer::allocate(*context, 16 * 8 * 4);
  ASSERT_TRUE(bool(dc)) << toString(dc.takeError());
  ASSERT_FALSE(errorToBool(dc->zero()));

  Descriptor2D descs[] = {{da->get(), da->get(), 0, 16, 16, 16, 1},
                          {db->get(), db->get(), 0, 8, 16, 16, 1},
                          {dc->get(), dc->get(), 0, 16, 8, 8, 1}};
  std::vector<void *> args = kernelArguments(descs);
  Expected<Stream> stream = Stream::create(*context);
  ASSERT_TRUE(bool(stream)) << toString(stream.takeError());
  ASSERT_FALSE(errorToBool(
      launch(*function, {1, 1, 1}, {32, 1, 1}, 0, *stream, args.data())));
  ASSERT_FALSE(errorToBool(stream->synchronize()));

  std::vector<float> c(16 * 8);
  ASSERT_FALSE(errorToBool(dc->copyToHost(MutableArrayRef<float>(c))));
  double errNorm = 0, refNorm = 0;
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 8; ++j) {
      double ref = 0;
      for (int k = 0; k < 16; ++k)
        ref += double(af[i * 16 + k]) * double(bf[j * 16 + k]);
      errNorm += (c[i * 8 + j] - ref) * (c[i * 8 + j] - ref);
      refNorm += ref * ref;
    }
  ASSERT_GT(refNorm, 0.0);
  // f32 accumulation of 16 exact bf16 products.
  EXPECT_LT(std::sqrt(errNorm / refNorm), 1e-6);
}

/// The small-batch projection kernel of
/// test/Conversion/contract-small-batch.mlir (out[m, n] += sum_k x[m, k]
/// W[n, k], W 40 x 1056 bf16: N not a multiple of the 16 rows a block takes,
/// K ending in a partial step) as PTX from xlstm-opt (in environment
/// variable `pathVariable`, set by scripts/gpu-check.sh), `warps` warps a
/// block, K split over `splits` grid rows, at every M from 1 to 16 on fresh
/// random values, against a float64 product of the same bf16 values; rows
/// past M and the added-to output are checked too. The launches follow each
/// other, so a split kernel's arrival counts must be back at zero after
/// each.
class CudaSmallBatch : public CudaGpu {
protected:
  void checkProjection(const char *pathVariable, unsigned warps,
                       unsigned splits);
};

void CudaSmallBatch::checkProjection(const char *pathVariable, unsigned warps,
                                     unsigned splits) {
  const char *path = std::getenv(pathVariable);
  if (!path)
    GTEST_SKIP() << pathVariable
                 << " is not set (scripts/gpu-check.sh sets it)";
  ErrorOr<std::unique_ptr<MemoryBuffer>> ptx = MemoryBuffer::getFile(path);
  ASSERT_TRUE(bool(ptx)) << path << ": " << ptx.getError().message();
  Expected<Module> module = Module::load(*context, (*ptx)->getBuffer());
  ASSERT_TRUE(bool(module)) << toString(module.takeError());
  Expected<Function> function =
      module->getFunction("projection_small_batch_mma");
  ASSERT_TRUE(bool(function)) << toString(function.takeError());

  constexpr int64_t n = 40, k = 1056, maxRows = 16;
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<float> uniform(-1, 1);
  std::vector<uint16_t> w(n * k), x(maxRows * k);
  std::vector<float> wf(w.size()), xf(x.size()), init(maxRows * n);
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = randomBf16(rng, wf[i]);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = randomBf16(rng, xf[i]);
  for (float &v : init)
    v = uniform(rng);

  Expected<DeviceBuffer> dw = DeviceBuffer::allocate(*context, w.size() * 2);
  Expected<DeviceBuffer> dx = DeviceBuffer::allocate(*context, x.size() * 2);
  Expected<DeviceBuffer> dout =
      DeviceBuffer::allocate(*context, init.size() * 4);
  ASSERT_TRUE(dw && dx && dout);
  ASSERT_FALSE(errorToBool(dw->copyFromHost(ArrayRef<uint16_t>(w))));
  ASSERT_FALSE(errorToBool(dx->copyFromHost(ArrayRef<uint16_t>(x))));
  Expected<Stream> stream = Stream::create(*context);
  ASSERT_TRUE(bool(stream)) << toString(stream.takeError());

  for (uint64_t m = 1; m <= maxRows; ++m) {
    ASSERT_FALSE(errorToBool(dout->copyFromHost(ArrayRef<float>(init))));
    // (x, W, out, M): the kernel's arguments, which the lit test pins.
    Descriptor2D descs[] = {{dx->get(), dx->get(), 0, m, k, k, 1},
                            {dw->get(), dw->get(), 0, n, k, k, 1},
                            {dout->get(), dout->get(), 0, m, n, n, 1}};
    std::vector<void *> args = kernelArguments(descs);
    args.push_back(&m);
    Expected<std::vector<float>> out = runAndRead<float>(
        *function, {unsigned((n + 15) / 16), splits, 1}, {32 * warps, 1, 1},
        *stream, args, *dout, init.size());
    ASSERT_TRUE(bool(out)) << toString(out.takeError());
    RelativeError error;
    for (uint64_t r = 0; r < maxRows; ++r)
      for (int64_t c = 0; c < n; ++c) {
        double ref = init[r * n + c];
        if (r < m)
          for (int64_t i = 0; i < k; ++i)
            ref += double(xf[r * k + i]) * double(wf[c * k + i]);
        double got = (*out)[r * n + c];
        if (r >= m) { // rows past M are never written
          EXPECT_EQ(got, ref) << "row " << r << " col " << c << " M " << m;
        }
        error.add(got, ref);
      }
    // f32 accumulation of 1056 exact bf16 products.
    EXPECT_LT(error.value(), 1e-5) << "M = " << m;
  }
}

TEST_F(CudaSmallBatch, MlirProjectionMatchesFloat64) {
  // small-batch-warps=16, no split (scripts/gpu-check.sh).
  checkProjection("XLSTM_SMALL_BATCH_PTX", 16, 1);
}

/// Split K (small-batch-split-k-blocks), small-batch-warps=8: 2 grid rows
/// of K 768 and 288.
TEST_F(CudaSmallBatch, MlirSplitKProjectionMatchesFloat64) {
  checkProjection("XLSTM_SMALL_BATCH_SPLIT_PTX", 8, 2);
}

/// The decoding kernels that store an elementwise op's result, from
/// test/Conversion/contract-decoding-epilogues.mlir as PTX (scripts/
/// gpu-check.sh writes them and names them in the environment variables),
/// on fresh random bf16 values against float64.
class CudaDecodingEpilogues : public CudaGpu {
protected:
  std::mt19937_64 rng{std::random_device{}()};

  /// The kernel `name` of the PTX file `path`; an error says why not.
  Expected<Function> kernel(const char *path, StringRef name) {
    ErrorOr<std::unique_ptr<MemoryBuffer>> ptx = MemoryBuffer::getFile(path);
    if (!ptx)
      return createStringError(ptx.getError(), "%s: %s", path,
                               ptx.getError().message().c_str());
    Expected<Module> module = Module::load(*context, (*ptx)->getBuffer());
    if (!module)
      return module.takeError();
    modules.push_back(std::move(*module));
    return modules.back().getFunction(name);
  }

  /// silu(x Wg^T) * (x Wu^T) rounded to bf16 (x M x 1056, W 44 x 1056) by
  /// `function` with `threads` a block and `columns` outputs a block, at
  /// each M of `rows`; rows past M stay untouched.
  void checkGated(Function function, unsigned threads, unsigned columns,
                  ArrayRef<uint64_t> rows);
  void checkSoftCap(Function function, bool float32, unsigned threads,
                    unsigned rows);

  std::vector<Module> modules;
};

void CudaDecodingEpilogues::checkGated(Function function, unsigned threads,
                                       unsigned columns,
                                       ArrayRef<uint64_t> rows) {
  constexpr int64_t n = 44, k = 1056, maxRows = 16;
  std::vector<uint16_t> wg(n * k), wu(n * k), x(maxRows * k);
  std::vector<float> wgf(wg.size()), wuf(wu.size()), xf(x.size());
  for (size_t i = 0; i < wg.size(); ++i) {
    wg[i] = randomBf16(rng, wgf[i]);
    wu[i] = randomBf16(rng, wuf[i]);
  }
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = randomBf16(rng, xf[i]);
  // 1.0 in bf16 everywhere first: rows past M must keep it.
  std::vector<uint16_t> init(maxRows * n, 0x3f80);
  Expected<DeviceBuffer> dwg = DeviceBuffer::allocate(*context, wg.size() * 2);
  Expected<DeviceBuffer> dwu = DeviceBuffer::allocate(*context, wu.size() * 2);
  Expected<DeviceBuffer> dx = DeviceBuffer::allocate(*context, x.size() * 2);
  Expected<DeviceBuffer> dout =
      DeviceBuffer::allocate(*context, init.size() * 2);
  ASSERT_TRUE(dwg && dwu && dx && dout);
  ASSERT_FALSE(errorToBool(dwg->copyFromHost(ArrayRef<uint16_t>(wg))));
  ASSERT_FALSE(errorToBool(dwu->copyFromHost(ArrayRef<uint16_t>(wu))));
  ASSERT_FALSE(errorToBool(dx->copyFromHost(ArrayRef<uint16_t>(x))));
  Expected<Stream> stream = Stream::create(*context);
  ASSERT_TRUE(bool(stream)) << toString(stream.takeError());
  for (uint64_t m : rows) {
    ASSERT_FALSE(errorToBool(dout->copyFromHost(ArrayRef<uint16_t>(init))));
    // (x, Wg, out, M, Wu): the kernel's arguments, which the lit test pins.
    Descriptor2D descs[] = {{dx->get(), dx->get(), 0, m, k, k, 1},
                            {dwg->get(), dwg->get(), 0, n, k, k, 1},
                            {dout->get(), dout->get(), 0, m, n, n, 1}};
    Descriptor2D second[] = {{dwu->get(), dwu->get(), 0, n, k, k, 1}};
    std::vector<void *> args = kernelArguments(descs);
    args.push_back(&m);
    args = kernelArguments(second, args);
    Expected<std::vector<uint16_t>> out = runAndRead<uint16_t>(
        function, {unsigned((n + columns - 1) / columns), 1, 1},
        {threads, 1, 1}, *stream, args, *dout, init.size());
    ASSERT_TRUE(bool(out)) << toString(out.takeError());
    RelativeError error;
    for (uint64_t r = 0; r < maxRows; ++r)
      for (int64_t c = 0; c < n; ++c) {
        uint16_t bits = (*out)[r * n + c];
        if (r >= m) { // rows past M are never written
          EXPECT_EQ(bits, 0x3f80) << "row " << r << " col " << c << " M " << m;
          continue;
        }
        double g = 0, u = 0;
        for (int64_t i = 0; i < k; ++i) {
          g += double(xf[r * k + i]) * double(wgf[c * k + i]);
          u += double(xf[r * k + i]) * double(wuf[c * k + i]);
        }
        double ref = g / (1 + std::exp(-g)) * u;
        uint32_t wide = uint32_t(bits) << 16;
        float got;
        std::memcpy(&got, &wide, 4);
        error.add(got, ref);
      }
    ASSERT_GT(error.reference, 0.0);
    // float32 sums, then one rounding to bf16 (2^-9 relative).
    EXPECT_LT(error.value(), 5e-3) << "M = " << m;
  }
}

/// gated-decoding, one row: each warp of 4 sums a row of both W.
TEST_F(CudaDecodingEpilogues, GatedMatrixVectorMatchesFloat64) {
  const char *path = std::getenv("XLSTM_GATED_GEMV_PTX");
  if (!path)
    GTEST_SKIP()
        << "XLSTM_GATED_GEMV_PTX is not set (scripts/gpu-check.sh sets it)";
  Expected<Function> f = kernel(path, "projection_gemv_gated");
  ASSERT_TRUE(bool(f)) << toString(f.takeError());
  checkGated(*f, 128, 4, {1});
}

/// gated-decoding, 2 to 16 rows: 8 rows of each W a block (8 warps).
TEST_F(CudaDecodingEpilogues, GatedSmallBatchMatchesFloat64) {
  const char *path = std::getenv("XLSTM_GATED_SMALL_BATCH_PTX");
  if (!path)
    GTEST_SKIP() << "XLSTM_GATED_SMALL_BATCH_PTX is not set "
                    "(scripts/gpu-check.sh sets it)";
  Expected<Function> f = kernel(path, "projection_small_batch_mma_gated");
  ASSERT_TRUE(bool(f)) << toString(f.takeError());
  checkGated(*f, 256, 8, {2, 3, 5, 7, 8, 9, 11, 13, 15, 16});
}

/// fuse-epilogues: 15 tanh((x W^T + b) / 15) from a skinny kernel (x M x
/// 256, W 8 x 256, b 8, in bf16 or with `float32` in float32), `rows` rows
/// of x a block of `threads`, at M 17, 100 and 1000; rows past M untouched.
void CudaDecodingEpilogues::checkSoftCap(Function function, bool float32,
                                         unsigned threads, unsigned rows) {
  constexpr int64_t n = 8, k = 256, maxRows = 1000;
  size_t bytes = float32 ? 4 : 2;
  // The values as uploaded (bf16 bits, or float32 bits) and as floats.
  auto random = [&](size_t count, std::vector<uint32_t> &bits,
                    std::vector<float> &values) {
    bits.resize(count);
    values.resize(count);
    for (size_t i = 0; i < count; ++i) {
      if (!float32) {
        bits[i] = randomBf16(rng, values[i]);
        continue;
      }
      values[i] = std::uniform_real_distribution<float>(-1, 1)(rng);
      std::memcpy(&bits[i], &values[i], 4);
    }
  };
  auto upload = [&](const std::vector<uint32_t> &bits,
                    DeviceBuffer &buffer) -> Error {
    if (float32)
      return buffer.copyFromHost(ArrayRef<uint32_t>(bits));
    std::vector<uint16_t> narrow(bits.begin(), bits.end());
    return buffer.copyFromHost(ArrayRef<uint16_t>(narrow));
  };
  std::vector<uint32_t> w, x, bias;
  std::vector<float> wf, xf, biasf;
  // (Sums of 256 products: pre-activations of a few units, which the cap
  // bends.)
  random(n * k, w, wf);
  random(maxRows * k, x, xf);
  random(n, bias, biasf);
  Expected<DeviceBuffer> dw =
      DeviceBuffer::allocate(*context, w.size() * bytes);
  Expected<DeviceBuffer> dx =
      DeviceBuffer::allocate(*context, x.size() * bytes);
  Expected<DeviceBuffer> db = DeviceBuffer::allocate(*context, n * bytes);
  Expected<DeviceBuffer> dout =
      DeviceBuffer::allocate(*context, maxRows * n * 4);
  ASSERT_TRUE(dw && dx && db && dout);
  ASSERT_FALSE(errorToBool(upload(w, *dw)));
  ASSERT_FALSE(errorToBool(upload(x, *dx)));
  ASSERT_FALSE(errorToBool(upload(bias, *db)));
  Expected<Stream> stream = Stream::create(*context);
  ASSERT_TRUE(bool(stream)) << toString(stream.takeError());
  for (uint64_t m : {17ull, 100ull, 1000ull}) {
    std::vector<float> init(maxRows * n, 7.0f);
    ASSERT_FALSE(errorToBool(dout->copyFromHost(ArrayRef<float>(init))));
    // (x, W, out, M, bias).
    Descriptor2D descs[] = {{dx->get(), dx->get(), 0, m, k, k, 1},
                            {dw->get(), dw->get(), 0, n, k, k, 1},
                            {dout->get(), dout->get(), 0, m, n, n, 1}};
    std::vector<void *> args = kernelArguments(descs);
    args.push_back(&m);
    cu::CUdeviceptr biasPtr = db->get();
    uint64_t biasOffset = 0, biasSize = n, biasStride = 1;
    for (void *field : {(void *)&biasPtr, (void *)&biasPtr, (void *)&biasOffset,
                        (void *)&biasSize, (void *)&biasStride})
      args.push_back(field);
    Expected<std::vector<float>> out =
        runAndRead<float>(function, {unsigned((m + rows - 1) / rows), 1, 1},
                          {threads, 1, 1}, *stream, args, *dout, init.size());
    ASSERT_TRUE(bool(out)) << toString(out.takeError());
    RelativeError error;
    for (uint64_t r = 0; r < uint64_t(maxRows); ++r)
      for (int64_t c = 0; c < n; ++c) {
        double got = (*out)[r * n + c];
        if (r >= m) {
          EXPECT_EQ(got, 7.0) << "row " << r << " col " << c << " M " << m;
          continue;
        }
        double pre = biasf[c];
        for (int64_t i = 0; i < k; ++i)
          pre += double(xf[r * k + i]) * double(wf[c * k + i]);
        error.add(got, 15 * std::tanh(pre / 15));
      }
    ASSERT_GT(error.reference, 0.0);
    // float32 sums of 256 products, float32 tanh.
    EXPECT_LT(error.value(), 1e-5) << "M = " << m;
  }
}

/// The skinny tensor-core kernel (bf16): 16 rows a block of 16 warps.
TEST_F(CudaDecodingEpilogues, SoftCapSkinnyMatchesFloat64) {
  const char *path = std::getenv("XLSTM_SOFT_CAP_SKINNY_PTX");
  if (!path)
    GTEST_SKIP() << "XLSTM_SOFT_CAP_SKINNY_PTX is not set "
                    "(scripts/gpu-check.sh sets it)";
  Expected<Function> f = kernel(path, "projection_skinny_mma");
  ASSERT_TRUE(bool(f)) << toString(f.takeError());
  checkSoftCap(*f, /*float32=*/false, 512, 16);
}

/// skinny-float32: the matrix-vector kernel with x and W swapped, a warp of
/// 4 per row of x.
TEST_F(CudaDecodingEpilogues, SoftCapSkinnyFloat32MatchesFloat64) {
  const char *path = std::getenv("XLSTM_SOFT_CAP_SKINNY_F32_PTX");
  if (!path)
    GTEST_SKIP() << "XLSTM_SOFT_CAP_SKINNY_F32_PTX is not set "
                    "(scripts/gpu-check.sh sets it)";
  Expected<Function> f = kernel(path, "projection_skinny_gemv");
  ASSERT_TRUE(bool(f)) << toString(f.takeError());
  checkSoftCap(*f, /*float32=*/true, 128, 4);
}

TEST_F(CudaGpu, EventsTimeAKernel) {
  Expected<Affine> affine = prepareAffine(kAffinePtx);
  ASSERT_TRUE(bool(affine)) << toString(affine.takeError());
  Expected<Stream> stream = Stream::create(*context);
  Expected<Event> start = Event::create(*context);
  Expected<Event> end = Event::create(*context);
  ASSERT_TRUE(stream && start && end);
  ASSERT_FALSE(errorToBool(start->record(*stream)));
  ASSERT_FALSE(errorToBool(launchAffine(*affine, *stream)));
  ASSERT_FALSE(errorToBool(end->record(*stream)));
  ASSERT_FALSE(errorToBool(end->synchronize()));
  Expected<float> ms = Event::elapsedMilliseconds(*start, *end);
  ASSERT_TRUE(bool(ms)) << toString(ms.takeError());
  EXPECT_GT(*ms, 0.0f);
  EXPECT_LT(*ms, 1000.0f);
}

TEST_F(CudaGpu, CapturedGraphReplays) {
  Expected<Affine> affine = prepareAffine(kAffinePtx);
  ASSERT_TRUE(bool(affine)) << toString(affine.takeError());
  Expected<Stream> stream = Stream::create(*context);
  ASSERT_TRUE(bool(stream));
  Expected<GraphExec> graph = GraphExec::capture(
      *stream, [&] { return launchAffine(*affine, *stream); });
  ASSERT_TRUE(bool(graph)) << toString(graph.takeError());
  // Capturing queued nothing: y is still zero.
  ASSERT_FALSE(errorToBool(stream->synchronize()));
  float first = -1.0f;
  ASSERT_FALSE(errorToBool(affine->y.copyToHost(&first, sizeof(first))));
  EXPECT_EQ(first, 0.0f);

  for (int replay = 0; replay < 2; ++replay) {
    ASSERT_FALSE(errorToBool(affine->y.zero()));
    ASSERT_FALSE(errorToBool(graph->launch(*stream)));
    ASSERT_FALSE(errorToBool(stream->synchronize()));
    expectAffineOutput(affine->y);
  }
}

// Launches that may overlap the kernel before them (programmatic stream
// serialization) still see its results when they wait on it first: each of
// 64 increments of 4M elements reads the previous one's, on the stream and
// in a captured graph.
TEST_F(CudaGpu, OverlappedLaunchesThatWaitKeepStreamOrder) {
  if (context->getProperties().computeCapabilityMajor < 9)
    GTEST_SKIP() << "griddepcontrol needs sm_90";
  Expected<Module> module = Module::load(*context, kWaitingIncrementPtx);
  ASSERT_TRUE(bool(module)) << toString(module.takeError());
  Expected<Function> function = module->getFunction("increment");
  ASSERT_TRUE(bool(function)) << toString(function.takeError());
  constexpr unsigned n = 4 * kElements, launches = 64;
  Expected<DeviceBuffer> y = DeviceBuffer::allocate(*context, n * 4);
  ASSERT_TRUE(bool(y));
  Expected<Stream> stream = Stream::create(*context);
  ASSERT_TRUE(bool(stream));
  cu::CUdeviceptr pointer = y->get();
  unsigned count = n;
  void *args[] = {&pointer, &count};
  auto enqueue = [&]() -> Error {
    for (unsigned i = 0; i < launches; ++i)
      if (Error err = launch(*function, {n / kBlock, 1, 1}, {kBlock, 1, 1}, 0,
                             *stream, args, /*overlapPrevious=*/true))
        return err;
    return Error::success();
  };
  auto expectAll = [&](float value) {
    std::vector<float> out(n);
    ASSERT_FALSE(errorToBool(y->copyToHost(MutableArrayRef<float>(out))));
    EXPECT_EQ(llvm::count_if(out, [&](float v) { return v != value; }), 0);
  };
  ASSERT_FALSE(errorToBool(y->zero()));
  ASSERT_FALSE(errorToBool(enqueue()));
  ASSERT_FALSE(errorToBool(stream->synchronize()));
  expectAll(float(launches));
  Expected<GraphExec> graph = GraphExec::capture(*stream, enqueue);
  ASSERT_TRUE(bool(graph)) << toString(graph.takeError());
  for (int replay = 1; replay <= 2; ++replay) {
    ASSERT_FALSE(errorToBool(graph->launch(*stream)));
    ASSERT_FALSE(errorToBool(stream->synchronize()));
    expectAll(float(launches * (replay + 1)));
  }
}

TEST_F(CudaGpu, FailedCaptureLeavesTheStreamUsable) {
  Expected<Stream> stream = Stream::create(*context);
  ASSERT_TRUE(bool(stream));
  Expected<GraphExec> graph = GraphExec::capture(*stream, [] {
    return createStringError(inconvertibleErrorCode(), "enqueue failed");
  });
  ASSERT_FALSE(graph);
  EXPECT_EQ(toString(graph.takeError()), "enqueue failed");
  Expected<Affine> affine = prepareAffine(kAffinePtx);
  ASSERT_TRUE(bool(affine)) << toString(affine.takeError());
  ASSERT_FALSE(errorToBool(launchAffine(*affine, *stream)));
  ASSERT_FALSE(errorToBool(stream->synchronize()));
  expectAffineOutput(affine->y);
}

} // namespace
