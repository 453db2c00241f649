//===- WeightsTestUtil.h - Helpers of the weights unit tests ----*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// The golden data directory (../shared/golden next to the checkout; tests
// skip when it is absent) and a per-test scratch directory.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_UNITTESTS_WEIGHTS_WEIGHTSTESTUTIL_H
#define XLSTM_UNITTESTS_WEIGHTS_WEIGHTSTESTUTIL_H

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include "gtest/gtest.h"

#include <string>

namespace xlstm::weights::test {

inline std::string goldenPath(llvm::StringRef file = "") {
  llvm::SmallString<256> path(XLSTM_SOURCE_DIR "/../shared/golden");
  if (!file.empty())
    llvm::sys::path::append(path, file);
  return std::string(path);
}

#define SKIP_WITHOUT_GOLDEN()                                                  \
  do {                                                                         \
    if (!llvm::sys::fs::is_directory(goldenPath()))                            \
      GTEST_SKIP() << "no golden data at " << goldenPath();                    \
  } while (false)

/// The message of `err` ("" for success); consumes it.
inline std::string errorText(llvm::Error err) {
  return err ? llvm::toString(std::move(err)) : std::string();
}

/// A fixture with a fresh scratch directory, removed afterwards.
class ScratchDirTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("xlstm-weights", dir));
  }
  void TearDown() override { llvm::sys::fs::remove_directories(dir); }
  std::string path(llvm::StringRef name) const {
    llvm::SmallString<256> p(dir);
    llvm::sys::path::append(p, name);
    return std::string(p);
  }

  llvm::SmallString<128> dir;
};

} // namespace xlstm::weights::test

#endif // XLSTM_UNITTESTS_WEIGHTS_WEIGHTSTESTUTIL_H
