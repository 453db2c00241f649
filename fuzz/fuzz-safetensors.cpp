//===- fuzz-safetensors.cpp - Fuzz the safetensors reader and binding -----===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Any bytes as a .safetensors file; when the reader accepts them, they are
// bound to a small parameter table (names, shapes, an alias), as
// --weights does.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Weights/ParameterBinding.h"
#include "xlstm/Weights/Safetensors.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace xlstm::weights;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef bytes(reinterpret_cast<const char *>(data), size);
  llvm::Expected<SafetensorsFile> file = SafetensorsFile::fromBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(bytes, "fuzz.safetensors"));
  if (!file) {
    llvm::consumeError(file.takeError());
    return 0;
  }
  ParamDesc params[] = {{"a", {2, 3}, {}}, {"b", {3}, {"c"}}};
  llvm::Expected<ParamValues> values =
      bindParameters(params, *file, xlstm::config::SLSTMBackend::Cuda);
  if (!values)
    llvm::consumeError(values.takeError());
  return 0;
}
