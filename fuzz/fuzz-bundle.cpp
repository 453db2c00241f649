//===- fuzz-bundle.cpp - Fuzz the bundle container ------------------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Any bytes as a .xlstmb bundle: header, checksum, manifest, sections. The
// checksum rejects most mutations early; libFuzzer's comparison tracing
// gets past it, and fuzz-host-program covers the manifest's programs.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Bundle/Bundle.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef bytes(reinterpret_cast<const char *>(data), size);
  llvm::Expected<xlstm::bundle::Bundle> bundle =
      xlstm::bundle::Bundle::fromBuffer(
          llvm::MemoryBuffer::getMemBufferCopy(bytes, "fuzz.xlstmb"));
  if (!bundle)
    llvm::consumeError(bundle.takeError());
  return 0;
}
