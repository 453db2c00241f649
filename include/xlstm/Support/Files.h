//===- Files.h - Which paths the readers refuse to read ---------*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Every reader of a user-named file (configs, IR, weights, inputs, bundles)
// reads it whole; a device or FIFO (/dev/zero) would be read until memory
// runs out. Header-only: the readers live in libraries that share nothing
// else.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_SUPPORT_FILES_H
#define XLSTM_SUPPORT_FILES_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/FileSystem.h"

namespace xlstm {

/// True when `path` exists and is not a regular file (a directory, device
/// or FIFO); "-" (standard input) and missing paths are left to the reader.
inline bool isExistingNonRegularFile(llvm::StringRef path) {
  llvm::sys::fs::file_status status;
  return path != "-" && !llvm::sys::fs::status(path, status) &&
         !llvm::sys::fs::is_regular_file(status);
}

} // namespace xlstm

#endif // XLSTM_SUPPORT_FILES_H
