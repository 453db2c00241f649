//===- ConfigParser.h - YAML model config reader ----------------*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Reads a model config YAML in the upstream schema into a ModelSpec. Accepts a
// bare model config (xLSTMBlockStackConfig, xLSTMLMModelConfig or
// xLSTMLargeConfig) or an experiment file whose `model:` section is the model
// config. Every problem is reported as `file:line:col: error: ...` through the
// given SourceMgr and makes the parse fail; nothing aborts.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_CONFIG_CONFIGPARSER_H
#define XLSTM_CONFIG_CONFIGPARSER_H

#include "xlstm/Config/ModelSpec.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Error.h"
#include <optional>

namespace llvm {
class SourceMgr;
class raw_ostream;
} // namespace llvm

namespace xlstm::config {

/// Forces a schema instead of detecting it from the keys present.
enum class SchemaHint { Auto, BlockStack, LMModel, Large };

/// The spellings of SchemaHint for the tools' `--schema` option.
inline llvm::cl::ValuesClass schemaHintValues() {
  return llvm::cl::values(
      clEnumValN(SchemaHint::Auto, "auto", "detect from the keys"),
      clEnumValN(SchemaHint::BlockStack, "stack", "xLSTMBlockStackConfig"),
      clEnumValN(SchemaHint::LMModel, "lm", "xLSTMLMModelConfig"),
      clEnumValN(SchemaHint::Large, "large",
                 "xLSTMLargeConfig (xLSTM-7B architecture)"));
}

/// Parses `buffer` (named `bufferName` in messages). Diagnostics are printed
/// to `errs` in the `file:line:col: error: message` form with the source line
/// and a caret. Returns std::nullopt on any error.
std::optional<ModelSpec> parseModelConfig(llvm::StringRef buffer,
                                          llvm::StringRef bufferName,
                                          llvm::raw_ostream &errs,
                                          SchemaHint hint = SchemaHint::Auto);

/// Reads and parses a file; a missing or unreadable file is reported as
/// `path: error: ...`.
std::optional<ModelSpec>
parseModelConfigFile(llvm::StringRef path, llvm::raw_ostream &errs,
                     SchemaHint hint = SchemaHint::Auto);

/// Writes the spec back as YAML in the upstream schema with every field,
/// derived ones as comments. Used by `xlstmc --emit=config`.
void printModelSpec(const ModelSpec &spec, llvm::raw_ostream &os);

} // namespace xlstm::config

#endif // XLSTM_CONFIG_CONFIGPARSER_H
