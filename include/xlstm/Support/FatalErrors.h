//===- FatalErrors.h - LLVM fatal errors as tool diagnostics ----*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// LLVM reports some errors with report_fatal_error (out of memory in a
// container, backend failures, internal invariants), which by default abort
// with a stack dump and exit code 134. The tools turn them into their usual
// "tool: error: ..." line and exit code 1, so no input makes them abort.
// Header-only: every tool, with or without MLIR, uses it.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_SUPPORT_FATALERRORS_H
#define XLSTM_SUPPORT_FATALERRORS_H

#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/Signals.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

namespace xlstm {

/// Installs the handler; `tool` is the name the messages start with.
inline void reportFatalErrorsAsDiagnostics(const char *tool) {
  static const char *name = tool;
  llvm::install_fatal_error_handler(
      [](void *, const char *reason, bool) {
        llvm::WithColor::error(llvm::errs(), name) << reason << "\n";
        llvm::errs().flush();
        llvm::sys::RunInterruptHandlers(); // removes partial output files
        llvm::sys::Process::Exit(1);
      },
      nullptr);
}

} // namespace xlstm

#endif // XLSTM_SUPPORT_FATALERRORS_H
