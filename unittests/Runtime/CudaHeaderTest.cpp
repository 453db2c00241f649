//===- CudaHeaderTest.cpp - Our driver declarations against cuda.h --------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Built only where the CUDA toolkit is installed: the runtime declares the
// driver's types and enum values itself (CudaDriver.h), and a wrong value
// would be a silent misbehaviour on the GPU. Compiling this file is the test.
//
//===----------------------------------------------------------------------===//

// First, so that cuda.h's renaming macros (cuMemAlloc -> cuMemAlloc_v2) do
// not touch our declarations.
#include "xlstm/Runtime/CudaDriver.h"

#include <cuda.h>

#include "gtest/gtest.h"

#include <type_traits>

namespace cu = xlstm::runtime::cu;

#define XLSTM_EXPECT_SAME_VALUE(NAME)                                          \
  static_assert(static_cast<long long>(cu::NAME) ==                            \
                    static_cast<long long>(::NAME),                            \
                #NAME " differs from cuda.h");

XLSTM_EXPECT_SAME_VALUE(CUDA_SUCCESS)
XLSTM_EXPECT_SAME_VALUE(CUDA_ERROR_INVALID_VALUE)
XLSTM_EXPECT_SAME_VALUE(CUDA_ERROR_OUT_OF_MEMORY)
XLSTM_EXPECT_SAME_VALUE(CUDA_ERROR_NOT_INITIALIZED)
XLSTM_EXPECT_SAME_VALUE(CUDA_ERROR_STUB_LIBRARY)
XLSTM_EXPECT_SAME_VALUE(CUDA_ERROR_NO_DEVICE)
XLSTM_EXPECT_SAME_VALUE(CUDA_ERROR_INVALID_DEVICE)
XLSTM_EXPECT_SAME_VALUE(CUDA_ERROR_INVALID_PTX)
XLSTM_EXPECT_SAME_VALUE(CUDA_ERROR_NOT_FOUND)
XLSTM_EXPECT_SAME_VALUE(CUDA_ERROR_SYSTEM_DRIVER_MISMATCH)
XLSTM_EXPECT_SAME_VALUE(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK)
XLSTM_EXPECT_SAME_VALUE(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
XLSTM_EXPECT_SAME_VALUE(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE)
XLSTM_EXPECT_SAME_VALUE(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
XLSTM_EXPECT_SAME_VALUE(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)
XLSTM_EXPECT_SAME_VALUE(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)
XLSTM_EXPECT_SAME_VALUE(CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK)
XLSTM_EXPECT_SAME_VALUE(CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES)
XLSTM_EXPECT_SAME_VALUE(CU_FUNC_ATTRIBUTE_NUM_REGS)
XLSTM_EXPECT_SAME_VALUE(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES)
XLSTM_EXPECT_SAME_VALUE(CU_JIT_INFO_LOG_BUFFER)
XLSTM_EXPECT_SAME_VALUE(CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES)
XLSTM_EXPECT_SAME_VALUE(CU_JIT_ERROR_LOG_BUFFER)
XLSTM_EXPECT_SAME_VALUE(CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES)
XLSTM_EXPECT_SAME_VALUE(CU_JIT_LOG_VERBOSE)
XLSTM_EXPECT_SAME_VALUE(CU_STREAM_CAPTURE_MODE_GLOBAL)
XLSTM_EXPECT_SAME_VALUE(CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)
XLSTM_EXPECT_SAME_VALUE(CU_STREAM_CAPTURE_MODE_RELAXED)
XLSTM_EXPECT_SAME_VALUE(CU_STREAM_DEFAULT)
XLSTM_EXPECT_SAME_VALUE(CU_EVENT_DEFAULT)

static_assert(std::is_same_v<cu::CUdeviceptr, ::CUdeviceptr>);
static_assert(std::is_same_v<cu::CUdevice, ::CUdevice>);
// Enums are passed where cuda.h has its enum types: the sizes must agree.
static_assert(sizeof(cu::CUresult) == sizeof(::CUresult));
static_assert(sizeof(cu::CUdevice_attribute) == sizeof(::CUdevice_attribute));
static_assert(sizeof(cu::CUfunction_attribute) ==
              sizeof(::CUfunction_attribute));
static_assert(sizeof(cu::CUjit_option) == sizeof(::CUjit_option));
static_assert(sizeof(cu::CUstreamCaptureMode) == sizeof(::CUstreamCaptureMode));

TEST(CudaHeader, DeclarationsMatchCudaH) {
  SUCCEED() << "checked at compile time against CUDA " << CUDA_VERSION;
}
