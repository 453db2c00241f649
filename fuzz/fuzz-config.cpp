//===- fuzz-config.cpp - Fuzz the model config reader ---------------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Any bytes as a model YAML: parsed, validated, and when accepted printed
// back and parsed again (the resolved config must read back).
//
//===----------------------------------------------------------------------===//

#include "xlstm/Config/ConfigParser.h"

#include "llvm/Support/raw_ostream.h"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  std::optional<xlstm::config::ModelSpec> spec =
      xlstm::config::parseModelConfig(text, "fuzz.yaml", llvm::nulls());
  if (!spec)
    return 0;
  std::string printed;
  llvm::raw_string_ostream os(printed);
  xlstm::config::printModelSpec(*spec, os);
  if (!xlstm::config::parseModelConfig(printed, "printed.yaml", llvm::nulls()))
    std::abort(); // an accepted config must print to one that reads back
  return 0;
}
