//===- fuzz-host-program.cpp - Fuzz the host-program parser/validator -----===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Any bytes as one host program (the JSON a bundle manifest holds per
// entry function), parsed and validated against a table of two kernels.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Runtime/HostProgram.h"
#include "xlstm/Support/JSONDepth.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  // The bundle reader bounds the nesting before it parses; so does this.
  if (xlstm::jsonNestingDepth(text) > xlstm::kMaxJSONDepth)
    return 0;
  llvm::Expected<llvm::json::Value> json = llvm::json::parse(text);
  if (!json) {
    llvm::consumeError(json.takeError());
    return 0;
  }
  xlstm::runtime::KernelRef kernels[2];
  kernels[0].module = "m";
  kernels[0].name = "k0";
  kernels[0].section = "kernels/a.ptx";
  kernels[1] = kernels[0];
  kernels[1].name = "k1";
  llvm::Expected<xlstm::runtime::HostProgram> program =
      xlstm::runtime::HostProgram::parse(*json, kernels);
  if (!program)
    llvm::consumeError(program.takeError());
  return 0;
}
