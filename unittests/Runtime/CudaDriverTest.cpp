//===- CudaDriverTest.cpp - Tests of the driver layer without a GPU -------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// What must work on any machine: the errors for a missing driver, a library
// that is not a (recent) driver and the toolkit's stub, the CudaError format
// and the host-side range checks of DeviceBuffer.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Runtime/CudaDriver.h"
#include "xlstm/Runtime/CudaObjects.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

#include <cstdlib>
#include <vector>

using namespace llvm;
using namespace xlstm::runtime;

namespace {

TEST(CudaDriver, MissingLibraryIsNoCudaDriver) {
  Expected<std::unique_ptr<CudaDriver>> driver =
      CudaDriver::load("/nonexistent/libcuda.so.1");
  ASSERT_FALSE(driver);
  std::string message = toString(driver.takeError());
  EXPECT_EQ(
      message.find("no CUDA driver: cannot load /nonexistent/libcuda.so.1 ("),
      0u)
      << message;
  EXPECT_NE(message.find("); a GPU and the NVIDIA driver are needed for "
                         "--device=cuda"),
            std::string::npos)
      << message;
}

TEST(CudaDriver, LibraryWithoutDriverSymbolsNamesTheSymbol) {
  // Any shared library lacking the entry points stands in for an old driver.
  Expected<std::unique_ptr<CudaDriver>> driver = CudaDriver::load("libm.so.6");
  ASSERT_FALSE(driver);
  EXPECT_EQ(toString(driver.takeError()),
            "the CUDA driver libm.so.6 does not export cuGetErrorName: the "
            "driver is too old for this runtime (update the NVIDIA driver)");
}

TEST(CudaDriver, StubLibraryFailsAtCuInit) {
  std::string stub;
  for (const char *candidate : {
#ifdef XLSTM_CUDA_STUB_LIBRARY
           XLSTM_CUDA_STUB_LIBRARY,
#endif
           "/usr/local/cuda/lib64/stubs/libcuda.so"})
    if (sys::fs::exists(candidate)) {
      stub = candidate;
      break;
    }
  if (stub.empty())
    GTEST_SKIP() << "no CUDA toolkit stub libcuda.so here";

  // In a child process: the stub's SONAME is libcuda.so.1, so once loaded
  // it would answer this process's later dlopen("libcuda.so.1") calls.
  EXPECT_EXIT(
      {
        Expected<std::unique_ptr<CudaDriver>> driver = CudaDriver::load(stub);
        cu::CUresult result = cu::CUDA_SUCCESS;
        if (!driver)
          handleAllErrors(driver.takeError(), [&](const CudaError &err) {
            result = err.getResult();
            errs() << err.message();
          });
        std::exit(result == cu::CUDA_ERROR_STUB_LIBRARY ? 0 : 1);
      },
      ::testing::ExitedWithCode(0),
      "^cannot initialise the CUDA driver .*libcuda.so: "
      "CUDA_ERROR_STUB_LIBRARY: CUDA driver is a stub library$");
}

TEST(CudaDriver, CudaErrorFormat) {
  Error plain =
      make_error<CudaError>(cu::CUDA_ERROR_OUT_OF_MEMORY, "allocating",
                            "CUDA_ERROR_OUT_OF_MEMORY", "out of memory", "");
  EXPECT_EQ(toString(std::move(plain)),
            "allocating: CUDA_ERROR_OUT_OF_MEMORY: out of memory");
  Error detailed = make_error<CudaError>(
      cu::CUDA_ERROR_INVALID_PTX, "loading", "CUDA_ERROR_INVALID_PTX",
      "a PTX JIT compilation failed", "JIT error log:\nline 3; error");
  EXPECT_EQ(toString(std::move(detailed)),
            "loading: CUDA_ERROR_INVALID_PTX: a PTX JIT compilation failed\n"
            "JIT error log:\nline 3; error");
}

TEST(DeviceBuffer, EmptyBufferChecksRangesWithoutADriver) {
  DeviceBuffer empty;
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_EQ(empty.get(), 0u);
  std::vector<float> host(4);
  EXPECT_FALSE(errorToBool(empty.copyFromHost(host.data(), 0)));
  EXPECT_FALSE(errorToBool(empty.zero()));
  EXPECT_FALSE(errorToBool(empty.copyFromDevice(DeviceBuffer())));
  EXPECT_EQ(toString(empty.copyFromHost(ArrayRef<float>(host))),
            "a copy to the GPU of 16 bytes at offset 0 does not fit in a "
            "device buffer of 0 bytes");
  EXPECT_EQ(toString(empty.copyToHost(host.data(), 0, 8)),
            "a copy from the GPU of 0 bytes at offset 8 does not fit in a "
            "device buffer of 0 bytes");
}

} // namespace
