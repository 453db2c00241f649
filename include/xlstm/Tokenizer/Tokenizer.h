//===- Tokenizer.h - Byte-level BPE from a tokenizer.json -------*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// The byte-level BPE tokenizers of the GPT-2 family (GPT-NeoX-20B, which
// xLSTM-7B uses) read from a Hugging Face `tokenizer.json`: added tokens
// split off first, NFC, the GPT-2 pre-tokenizer regex, bytes mapped to
// printable characters, BPE merges by rank; decoding maps the characters
// back to bytes. encode/decode give the ids and text of the `tokenizers`
// library's `encode(text).ids` and `decode(ids)`. The loader accepts
// exactly the pieces it implements and names the file and the JSON field of
// anything else (docs/tokenizer.md lists them). LLVM Support and utf8proc
// only (no MLIR): generation runs where the GPU is.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_TOKENIZER_TOKENIZER_H
#define XLSTM_TOKENIZER_TOKENIZER_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace xlstm::tokenizer {

/// Larger tokenizer.json files are refused before reading (GPT-NeoX's is
/// 2 MB, the largest published ones tens of MB).
inline constexpr uint64_t kMaxTokenizerFileBytes = uint64_t(256) << 20;

class Tokenizer {
public:
  /// Reads `path` (a regular file of at most kMaxTokenizerFileBytes).
  /// Errors start with the path, then the JSON field: "tokenizer.json:
  /// model.type: expected "BPE", got "WordPiece"".
  static llvm::Expected<Tokenizer> fromFile(llvm::StringRef path);
  /// Parses the text of a tokenizer.json; errors start with `nameForErrors`.
  static llvm::Expected<Tokenizer> fromJSON(llvm::StringRef text,
                                            llvm::StringRef nameForErrors);

  Tokenizer(Tokenizer &&) noexcept;
  Tokenizer &operator=(Tokenizer &&) noexcept;
  ~Tokenizer();

  /// The ids of `utf8`, special tokens in it included. Bytes that are not
  /// UTF-8 become U+FFFD first (each maximal invalid subsequence one
  /// replacement character, as Rust's from_utf8_lossy and Python's
  /// errors="replace"), so every input has an encoding. Thread-safe.
  std::vector<int64_t> encode(llvm::StringRef utf8) const;

  /// The text of `ids`: the bytes of decodeBytes with invalid UTF-8
  /// replaced by U+FFFD. Ids outside [0, vocabSize()) or without a token
  /// are errors naming the id.
  llvm::Expected<std::string> decode(llvm::ArrayRef<int64_t> ids,
                                     bool skipSpecialTokens = true) const;
  /// The raw bytes of `ids`, which may end inside a UTF-8 sequence (a
  /// streaming decoder holds such a tail back until the next token).
  llvm::Expected<std::string> decodeBytes(llvm::ArrayRef<int64_t> ids,
                                          bool skipSpecialTokens = true) const;

  /// One more than the largest id (model vocabulary and added tokens).
  int64_t vocabSize() const;
  /// The id of a token as spelled in the vocabulary ("Ġworld",
  /// "<|endoftext|>").
  std::optional<int64_t> tokenToId(llvm::StringRef token) const;
  /// The vocabulary spelling of `id`; std::nullopt when it has none.
  std::optional<llvm::StringRef> idToToken(int64_t id) const;
  /// True for the added tokens marked "special" (decode skips them).
  bool isSpecial(int64_t id) const;

  /// The tables, defined in Tokenizer.cpp only.
  struct Impl;

private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl;
};

/// `bytes` with every maximal invalid UTF-8 subsequence replaced by U+FFFD.
std::string replaceInvalidUTF8(llvm::StringRef bytes);

/// The pieces the GPT-2 pre-tokenizer regex
///   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
/// cuts valid UTF-8 `text` into, in order; they concatenate to `text`.
std::vector<llvm::StringRef> splitGPT2(llvm::StringRef text);

} // namespace xlstm::tokenizer

#endif // XLSTM_TOKENIZER_TOKENIZER_H
