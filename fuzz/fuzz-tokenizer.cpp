//===- fuzz-tokenizer.cpp - Fuzz the tokenizer loader, encode and decode --===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Inputs starting with '{' are a tokenizer.json: loaded, and when accepted
// used to encode the input and decode the ids. Any other input is text for
// the GPT-NeoX-20B tokenizer (loaded once from $XLSTM_FUZZ_TOKENIZER, else
// from ../shared next to the source tree): encode, decode, and the checks
// that every id is in range, that ASCII without special tokens comes back
// unchanged, and that decode rejects ids outside the vocabulary.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Tokenizer/Tokenizer.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>

using xlstm::tokenizer::Tokenizer;

namespace {
const Tokenizer &neox() {
  static const Tokenizer *tokenizer = [] {
    const char *env = std::getenv("XLSTM_FUZZ_TOKENIZER");
    std::string path =
        env ? env
            : XLSTM_SOURCE_DIR "/../shared/tokenizers/gpt-neox-20b/"
                               "tokenizer.json";
    llvm::Expected<Tokenizer> t = Tokenizer::fromFile(path);
    if (!t) {
      llvm::errs() << "fuzz-tokenizer: " << llvm::toString(t.takeError())
                   << " (set XLSTM_FUZZ_TOKENIZER)\n";
      std::exit(1);
    }
    return new Tokenizer(std::move(*t));
  }();
  return *tokenizer;
}

/// Encodes and decodes `text`; every id must be in range and decode
/// must accept them all.
std::vector<int64_t> roundTrip(const Tokenizer &t, llvm::StringRef text,
                               std::string &decoded) {
  std::vector<int64_t> ids = t.encode(text);
  for (int64_t id : ids)
    if (id < 0 || id >= t.vocabSize() || !t.idToToken(id))
      std::abort();
  llvm::Expected<std::string> back = t.decode(ids, /*skipSpecialTokens=*/false);
  if (!back)
    std::abort();
  decoded = std::move(*back);
  return ids;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef bytes(reinterpret_cast<const char *>(data), size);
  if (bytes.starts_with("{")) {
    llvm::Expected<Tokenizer> t = Tokenizer::fromJSON(bytes, "fuzz.json");
    if (!t) {
      llvm::consumeError(t.takeError());
      return 0;
    }
    std::string decoded;
    roundTrip(*t, bytes, decoded);
    return 0;
  }

  const Tokenizer &t = neox();
  std::string decoded;
  roundTrip(t, bytes, decoded);
  // ASCII is its own NFC and every byte has a token: it must come back.
  bool ascii = llvm::all_of(bytes, [](char c) { return uint8_t(c) < 0x80; });
  if (ascii && decoded != bytes)
    std::abort();

  // The input's bytes as ids, some out of range: decoded or refused.
  std::vector<int64_t> ids;
  for (size_t i = 0; i + 2 <= size && ids.size() < 64; i += 2)
    ids.push_back(int64_t(data[i] | data[i + 1] << 8) - 8);
  llvm::Expected<std::string> text = t.decode(ids);
  if (!text)
    llvm::consumeError(text.takeError());
  return 0;
}
