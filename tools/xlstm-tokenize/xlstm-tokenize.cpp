//===- xlstm-tokenize.cpp - Text to token ids and back --------------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
//   xlstm-tokenize TOKENIZER.json --encode   UTF-8 text on stdin (all of
//                                            it, as is) -> one JSON array of
//                                            ids and a newline on stdout
//   xlstm-tokenize TOKENIZER.json --decode   a JSON array of ids on stdin ->
//                                            the text on stdout (special
//                                            tokens skipped, no newline added)
// The ids and text of the Hugging Face `tokenizers` library's
// encode(text).ids and decode(ids) for the byte-level BPE tokenizer.json
// files docs/tokenizer.md describes. MLIR-free, like the runtime.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Support/FatalErrors.h"
#include "xlstm/Support/JSONDepth.h"
#include "xlstm/Tokenizer/Tokenizer.h"
#include "xlstm/Version.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace xlstm;
namespace cl = llvm::cl;
namespace json = llvm::json;

namespace {
cl::OptionCategory category("xlstm-tokenize options");
cl::opt<std::string> tokenizerPath(cl::Positional, cl::Required,
                                   cl::desc("<tokenizer.json>"),
                                   cl::cat(category));
cl::opt<bool> encode("encode",
                     cl::desc("UTF-8 text on stdin, a JSON array of ids on "
                              "stdout"),
                     cl::cat(category));
cl::opt<bool> decode("decode",
                     cl::desc("A JSON array of ids on stdin, the text on "
                              "stdout (special tokens skipped)"),
                     cl::cat(category));

int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "xlstm-tokenize") << message << "\n";
  return 1;
}

/// The ids of a JSON array on stdin.
llvm::Expected<std::vector<int64_t>> parseIds(llvm::StringRef text) {
  auto error = [](const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "stdin: " + message);
  };
  if (jsonNestingDepth(text) > kMaxJSONDepth)
    return error("expected a JSON array of token ids, got JSON nested more "
                 "than " +
                 llvm::Twine(kMaxJSONDepth) + " levels deep");
  llvm::Expected<json::Value> value = json::parse(text);
  if (!value)
    return error("expected a JSON array of token ids: " +
                 llvm::toString(value.takeError()));
  const json::Array *array = value->getAsArray();
  if (!array)
    return error("expected a JSON array of token ids, got " +
                 std::string(value->kind() == json::Value::Object
                                 ? "an object"
                                 : "a scalar"));
  std::vector<int64_t> ids;
  ids.reserve(array->size());
  for (auto [i, element] : llvm::enumerate(*array)) {
    std::optional<int64_t> id = element.getAsInteger();
    if (!id) {
      std::string got = llvm::formatv("{0}", element).str();
      if (got.size() > 40) { // cut at a character boundary
        size_t end = 37;
        while (end > 0 && (uint8_t(got[end]) & 0xC0) == 0x80)
          --end;
        got = got.substr(0, end) + "...";
      }
      return error("element " + llvm::Twine(i) +
                   ": expected an integer token id, got " + got);
    }
    ids.push_back(*id);
  }
  return ids;
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM y(argc, argv);
  xlstm::setVersionPrinter("xlstm-tokenize");
  xlstm::reportFatalErrorsAsDiagnostics("xlstm-tokenize");
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "Byte-level BPE tokenizer (Hugging Face tokenizer.json)\n\n"
      "  xlstm-tokenize TOKENIZER.json --encode < text > ids.json\n"
      "  xlstm-tokenize TOKENIZER.json --decode < ids.json > text\n");

  if (encode == decode)
    return fail("give one of --encode and --decode");

  llvm::Expected<tokenizer::Tokenizer> tok =
      tokenizer::Tokenizer::fromFile(tokenizerPath);
  if (!tok)
    return fail(llvm::toString(tok.takeError()));

  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> input =
      llvm::MemoryBuffer::getSTDIN();
  if (!input)
    return fail("cannot read stdin: " + input.getError().message());
  llvm::StringRef text = (*input)->getBuffer();
  llvm::raw_ostream &os = llvm::outs();

  if (encode) {
    std::vector<int64_t> ids = tok->encode(text);
    os << '[';
    llvm::interleave(ids, os, ",");
    os << "]\n";
    return 0;
  }
  llvm::Expected<std::vector<int64_t>> ids = parseIds(text);
  if (!ids)
    return fail(llvm::toString(ids.takeError()));
  llvm::Expected<std::string> decoded = tok->decode(*ids);
  if (!decoded)
    return fail(llvm::toString(decoded.takeError()));
  os << *decoded;
  return 0;
}
