//===- Version.h - What the tools print for --version ----------*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Every tool's --version: the project version and git revision (recorded at
// build time into VersionInfo.inc), then the LLVM it was built against.
// Header-only so that the MLIR-free tools can use it too.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_VERSION_H
#define XLSTM_VERSION_H

#include "xlstm/VersionInfo.inc"

#include "llvm/Config/llvm-config.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/raw_ostream.h"

namespace xlstm {

/// Makes --version print "<tool> (xlstm-mlir <version>, git <revision>)"
/// and the LLVM version on a second line.
inline void setVersionPrinter(const char *tool) {
  static const char *name = tool;
  llvm::cl::SetVersionPrinter([](llvm::raw_ostream &os) {
    os << name << " (xlstm-mlir " XLSTM_VERSION_STRING ", git "
       << XLSTM_GIT_REVISION << ")\n"
       << "built with LLVM " LLVM_VERSION_STRING "\n";
  });
}

} // namespace xlstm

#endif // XLSTM_VERSION_H
