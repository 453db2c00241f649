//===- Tokenizer.cpp - Byte-level BPE from a tokenizer.json ---------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// The steps of the `tokenizers` library's encode, in its order: added
// tokens that are not normalised are cut out of the raw text; the rest is
// NFC-normalised (utf8proc) and cut at the normalised added tokens; each
// remaining piece is split by the GPT-2 regex (hand-written over utf8proc's
// character categories), its bytes mapped to the GPT-2 byte characters,
// and merged by BPE, lowest merge rank first, leftmost first among equal
// ranks. The loader checks every field it reads and refuses fields and
// values it does not implement, so a tokenizer.json of another kind fails
// loudly instead of giving other ids.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Tokenizer/Tokenizer.h"
#include "xlstm/Support/Files.h"
#include "xlstm/Support/JSONDepth.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <queue>

using namespace llvm;
using namespace xlstm::tokenizer;
namespace json = llvm::json;

//===----------------------------------------------------------------------===//
// UTF-8 and character classes
//===----------------------------------------------------------------------===//

namespace {

/// The code point starting at text[i] of valid UTF-8 `text`; advances i.
uint32_t nextCodePoint(StringRef text, size_t &i) {
  auto byte = [&](size_t k) { return uint32_t(uint8_t(text[k])); };
  uint32_t b0 = byte(i);
  if (b0 < 0x80) {
    i += 1;
    return b0;
  }
  if (b0 < 0xE0) {
    uint32_t cp = (b0 & 0x1F) << 6 | (byte(i + 1) & 0x3F);
    i += 2;
    return cp;
  }
  if (b0 < 0xF0) {
    uint32_t cp =
        (b0 & 0x0F) << 12 | (byte(i + 1) & 0x3F) << 6 | (byte(i + 2) & 0x3F);
    i += 3;
    return cp;
  }
  uint32_t cp = (b0 & 0x07) << 18 | (byte(i + 1) & 0x3F) << 12 |
                (byte(i + 2) & 0x3F) << 6 | (byte(i + 3) & 0x3F);
  i += 4;
  return cp;
}

void appendUTF8(uint32_t cp, std::string &out) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | cp >> 6);
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | cp >> 12);
    out += char(0x80 | (cp >> 6 & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | cp >> 18);
    out += char(0x80 | (cp >> 12 & 0x3F));
    out += char(0x80 | (cp >> 6 & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

/// What the GPT-2 regex distinguishes. Whitespace is the Unicode White_Space
/// property (the regex's \s, Rust's char::is_whitespace): the separators
/// Zs, Zl, Zp and the controls TAB..CR and NEL. U+0020 is apart because
/// only it is the regex's optional leading " ".
enum class CharClass : uint8_t { Space, OtherSpace, Letter, Number, Other };

CharClass classify(uint32_t cp) {
  if (cp == ' ')
    return CharClass::Space;
  if ((cp >= 0x09 && cp <= 0x0D) || cp == 0x85)
    return CharClass::OtherSpace;
  switch (utf8proc_category(utf8proc_int32_t(cp))) {
  case UTF8PROC_CATEGORY_LU:
  case UTF8PROC_CATEGORY_LL:
  case UTF8PROC_CATEGORY_LT:
  case UTF8PROC_CATEGORY_LM:
  case UTF8PROC_CATEGORY_LO:
    return CharClass::Letter;
  case UTF8PROC_CATEGORY_ND:
  case UTF8PROC_CATEGORY_NL:
  case UTF8PROC_CATEGORY_NO:
    return CharClass::Number;
  case UTF8PROC_CATEGORY_ZS:
  case UTF8PROC_CATEGORY_ZL:
  case UTF8PROC_CATEGORY_ZP:
    return CharClass::OtherSpace;
  default:
    return CharClass::Other;
  }
}

bool isSpace(CharClass c) {
  return c == CharClass::Space || c == CharClass::OtherSpace;
}

/// NFC of valid UTF-8 `text` (utf8proc; ASCII is its own NFC).
std::string toNFC(StringRef text) {
  if (llvm::all_of(text, [](char c) { return uint8_t(c) < 0x80; }))
    return text.str();
  utf8proc_uint8_t *out = nullptr;
  utf8proc_ssize_t length =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t *>(text.data()),
                   utf8proc_ssize_t(text.size()), &out,
                   utf8proc_option_t(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (length < 0) {
    // The input is valid UTF-8 (encode replaced anything else), so only
    // memory can run out.
    if (length == UTF8PROC_ERROR_NOMEM)
      report_bad_alloc_error("utf8proc: out of memory");
    report_fatal_error(Twine("utf8proc: ") + utf8proc_errmsg(length));
  }
  std::string result(reinterpret_cast<const char *>(out), size_t(length));
  std::free(out);
  return result;
}

/// GPT-2's bytes_to_unicode: the printable Latin-1 bytes ('!'..'~',
/// '¡'..'¬', '®'..'ÿ') stand for themselves, the other 68 bytes in order
/// for U+0100, U+0101, ... so every byte is a visible character.
std::array<uint32_t, 256> byteCharacters() {
  std::array<uint32_t, 256> chars{};
  uint32_t next = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) ||
                     (b >= 0xAE && b <= 0xFF);
    chars[b] = printable ? b : next++;
  }
  return chars;
}

} // namespace

std::string xlstm::tokenizer::replaceInvalidUTF8(StringRef bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t i = 0, n = bytes.size();
  while (i < n) {
    uint8_t b0 = bytes[i];
    if (b0 < 0x80) {
      out += char(b0);
      ++i;
      continue;
    }
    // The sequence length from the lead byte and the range of the second
    // byte (which excludes overlong forms, surrogates and > U+10FFFF).
    size_t length = 0;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      length = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      length = 3;
      lo = b0 == 0xE0 ? 0xA0 : 0x80;
      hi = b0 == 0xED ? 0x9F : 0xBF;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      length = 4;
      lo = b0 == 0xF0 ? 0x90 : 0x80;
      hi = b0 == 0xF4 ? 0x8F : 0xBF;
    }
    size_t valid = 1;
    for (; valid < length && i + valid < n; ++valid) {
      uint8_t c = bytes[i + valid];
      if (c < (valid == 1 ? lo : 0x80) || c > (valid == 1 ? hi : 0xBF))
        break;
    }
    if (length && valid == length)
      out.append(bytes.data() + i, length);
    else
      out += "\xEF\xBF\xBD"; // one U+FFFD per maximal invalid prefix
    i += valid;
  }
  return out;
}

std::vector<StringRef> xlstm::tokenizer::splitGPT2(StringRef text) {
  std::vector<size_t> offsets;
  std::vector<CharClass> classes;
  offsets.reserve(text.size() + 1);
  classes.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    offsets.push_back(i);
    classes.push_back(classify(nextCodePoint(text, i)));
  }
  size_t n = classes.size();
  offsets.push_back(text.size());
  // The ASCII character at k, or 0 (a non-ASCII character's first byte is
  // never an ASCII letter or quote).
  auto ascii = [&](size_t k) { return k < n ? text[offsets[k]] : '\0'; };

  // The end of the regex's match at character i: its alternatives in order.
  auto matchEnd = [&](size_t i) -> size_t {
    if (ascii(i) == '\'') { // 's|'t|'re|'ve|'m|'ll|'d
      char c1 = ascii(i + 1), c2 = ascii(i + 2);
      if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd')
        return i + 2;
      if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') ||
          (c1 == 'l' && c2 == 'l'))
        return i + 3;
    }
    // ` ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+`: a space joins the run that
    // follows it.
    size_t j = i + (classes[i] == CharClass::Space && i + 1 < n);
    CharClass c = classes[j];
    if (!isSpace(c)) {
      while (j < n && classes[j] == c)
        ++j;
      return j;
    }
    // `\s+(?!\S)|\s+`: a run at the end of the text is one piece; before
    // other text, all of it but its last character, which the next match
    // takes (joining the next word if it is U+0020, else alone as `\s+`).
    size_t end = i;
    while (end < n && isSpace(classes[end]))
      ++end;
    return end == n || end - i == 1 ? end : end - 1;
  };

  std::vector<StringRef> pieces;
  for (size_t i = 0; i < n;) {
    size_t end = matchEnd(i);
    pieces.push_back(text.slice(offsets[i], offsets[end]));
    i = end;
  }
  return pieces;
}

//===----------------------------------------------------------------------===//
// The tokenizer's state
//===----------------------------------------------------------------------===//

namespace {

/// Added tokens by their bytes, for the leftmost-longest cut of the text.
class TokenTrie {
public:
  void insert(StringRef token, int64_t id) {
    uint32_t node = 0;
    for (uint8_t b : token.bytes()) {
      uint32_t child = find(node, b);
      if (!child) {
        child = uint32_t(nodes.size());
        nodes[node].children.push_back({b, child});
        nodes.emplace_back();
      }
      node = child;
    }
    nodes[node].id = id;
    firstBytes[uint8_t(token[0])] = true;
  }

  /// The longest token `text` starts with: its length and id (0 and -1
  /// when none).
  std::pair<size_t, int64_t> longestPrefix(StringRef text) const {
    std::pair<size_t, int64_t> best{0, -1};
    if (text.empty() || !firstBytes[uint8_t(text[0])])
      return best;
    uint32_t node = 0;
    for (size_t i = 0; i < text.size(); ++i) {
      node = find(node, uint8_t(text[i]));
      if (!node)
        break;
      if (nodes[node].id >= 0)
        best = {i + 1, nodes[node].id};
    }
    return best;
  }

  bool empty() const { return nodes.size() == 1; }

private:
  struct Node {
    SmallVector<std::pair<uint8_t, uint32_t>, 2> children;
    int64_t id = -1;
  };
  uint32_t find(uint32_t node, uint8_t b) const {
    for (auto [byte, child] : nodes[node].children)
      if (byte == b)
        return child;
    return 0;
  }
  std::vector<Node> nodes{1};
  std::array<bool, 256> firstBytes{};
};

/// Cuts `text` at the tokens of `trie` (leftmost first, then longest, as
/// the `tokenizers` library's Aho-Corasick search): `onText` gets the
/// non-empty text between them, `onToken` each token's id.
void splitAtTokens(const TokenTrie &trie, StringRef text,
                   function_ref<void(StringRef)> onText,
                   function_ref<void(int64_t)> onToken) {
  size_t start = 0;
  if (!trie.empty()) {
    for (size_t i = 0; i < text.size();) {
      auto [length, id] = trie.longestPrefix(text.drop_front(i));
      if (!length) {
        ++i;
        continue;
      }
      if (i > start)
        onText(text.slice(start, i));
      onToken(id);
      i += length;
      start = i;
    }
  }
  if (start < text.size())
    onText(text.drop_front(start));
}

struct Merge {
  uint32_t rank;
  int64_t result;
};

uint64_t pairKey(int64_t left, int64_t right) {
  return uint64_t(left) << 32 | uint64_t(right);
}

/// Ids are below 2^31, so pair keys never collide with DenseMap's empty and
/// tombstone keys.
constexpr int64_t kMaxId = (int64_t(1) << 31) - 1;

/// How many ids below the largest may have no token.
constexpr int64_t kMaxUnusedIds = 1 << 16;

/// Words at most this long are cached (the `tokenizers` library's limit).
constexpr size_t kMaxCachedWordBytes = 256;
constexpr size_t kMaxCachedWords = 1 << 16;

} // namespace

struct Tokenizer::Impl {
  // normalizer and pre-tokenizer
  bool nfc = false;
  bool addPrefixSpace = false;
  bool useRegex = true;

  // model: BPE
  StringMap<int64_t> vocab;
  DenseMap<uint64_t, Merge> merges;
  std::array<int64_t, 256> byteIds; // -1: the byte's character is unknown
  std::optional<int64_t> unkId;
  bool fuseUnk = false;
  bool ignoreMerges = false;

  // added tokens
  StringMap<int64_t> added;
  SmallVector<int64_t> specialIds;
  TokenTrie rawTokens, normalizedTokens;

  // every id: its spelling (in `vocab` or `added`), whether it has one,
  // whether it is special
  std::vector<StringRef> spelling;
  std::vector<uint8_t> flags;
  static constexpr uint8_t kPresent = 1, kSpecial = 2;

  // decoding: byte of each byte character (-1: none)
  std::vector<int16_t> charBytes;

  mutable std::mutex cacheMutex;
  mutable StringMap<std::vector<int64_t>> cache;

  void encodePiece(StringRef piece, std::vector<int64_t> &ids) const;
  void encodeWord(StringRef word, std::vector<int64_t> &ids) const;
  void mergeWord(StringRef word, std::vector<int64_t> &ids) const;
  void appendTokenBytes(StringRef token, std::string &out) const;
};

void Tokenizer::Impl::encodePiece(StringRef piece,
                                  std::vector<int64_t> &ids) const {
  std::string prefixed;
  if (addPrefixSpace && !piece.starts_with(" ")) {
    prefixed = " " + piece.str();
    piece = prefixed;
  }
  if (!useRegex)
    return encodeWord(piece, ids);
  for (StringRef word : splitGPT2(piece))
    encodeWord(word, ids);
}

void Tokenizer::Impl::encodeWord(StringRef word,
                                 std::vector<int64_t> &ids) const {
  if (ignoreMerges) {
    std::string chars;
    static const std::array<uint32_t, 256> byteChars = byteCharacters();
    for (uint8_t b : word.bytes())
      appendUTF8(byteChars[b], chars);
    auto it = vocab.find(chars);
    if (it != vocab.end()) {
      ids.push_back(it->second);
      return;
    }
  }
  bool cacheable = word.size() <= kMaxCachedWordBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cacheMutex);
    auto it = cache.find(word);
    if (it != cache.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  size_t begin = ids.size();
  mergeWord(word, ids);
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cacheMutex);
    if (cache.size() >= kMaxCachedWords)
      cache.clear();
    cache.try_emplace(word, ids.begin() + begin, ids.end());
  }
}

void Tokenizer::Impl::mergeWord(StringRef word,
                                std::vector<int64_t> &ids) const {
  // One symbol per byte character; bytes without one become the unknown
  // token (consecutive ones fused if fuse_unk) or vanish without it.
  struct Symbol {
    int64_t id; // -1: merged into its left neighbour
    int32_t prev, next;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  auto add = [&](int64_t id) {
    int32_t pos = int32_t(symbols.size());
    symbols.push_back({id, pos - 1, -1});
    if (pos > 0)
      symbols[pos - 1].next = pos;
  };
  int64_t pendingUnk = -1;
  for (uint8_t b : word.bytes()) {
    if (byteIds[b] >= 0) {
      if (pendingUnk >= 0)
        add(pendingUnk);
      pendingUnk = -1;
      add(byteIds[b]);
    } else if (unkId) {
      if (pendingUnk >= 0 && !fuseUnk)
        add(pendingUnk);
      pendingUnk = *unkId;
    }
  }
  if (pendingUnk >= 0)
    add(pendingUnk);
  if (symbols.empty())
    return;

  // Lowest rank first, then leftmost: a min-heap of (rank, position).
  // Entries go stale when a neighbour merges; they are recognised by the
  // pair at their position no longer having their rank.
  using Entry = std::pair<uint32_t, int32_t>;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> queue;
  auto push = [&](int32_t pos) {
    int32_t next = symbols[pos].next;
    if (next < 0)
      return;
    auto it = merges.find(pairKey(symbols[pos].id, symbols[next].id));
    if (it != merges.end())
      queue.push({it->second.rank, pos});
  };
  for (int32_t pos = 0; pos < int32_t(symbols.size()); ++pos)
    push(pos);
  while (!queue.empty()) {
    auto [rank, pos] = queue.top();
    queue.pop();
    Symbol &s = symbols[pos];
    if (s.id < 0 || s.next < 0)
      continue;
    auto it = merges.find(pairKey(s.id, symbols[s.next].id));
    if (it == merges.end() || it->second.rank != rank)
      continue;
    int32_t right = s.next;
    s.id = it->second.result;
    s.next = symbols[right].next;
    if (s.next >= 0)
      symbols[s.next].prev = pos;
    symbols[right].id = -1;
    if (s.prev >= 0)
      push(s.prev);
    push(pos);
  }
  for (int32_t pos = 0; pos >= 0; pos = symbols[pos].next)
    ids.push_back(symbols[pos].id);
}

void Tokenizer::Impl::appendTokenBytes(StringRef token,
                                       std::string &out) const {
  // As the ByteLevel decoder: a token of byte characters is those bytes; a
  // token with any other character (an added "<|endoftext|>" is made of
  // byte characters, a run of spaces is not) is its UTF-8 as it stands.
  size_t start = out.size();
  for (size_t i = 0; i < token.size();) {
    uint32_t cp = nextCodePoint(token, i);
    if (cp >= charBytes.size() || charBytes[cp] < 0) {
      out.resize(start);
      out += token;
      return;
    }
    out += char(charBytes[cp]);
  }
}

//===----------------------------------------------------------------------===//
// Loading tokenizer.json
//===----------------------------------------------------------------------===//

namespace {

/// `text` cut to about 60 bytes (at a character boundary) for a message.
std::string shorten(std::string text) {
  if (text.size() <= 60)
    return text;
  size_t end = 57;
  while (end > 0 && (uint8_t(text[end]) & 0xC0) == 0x80)
    --end;
  return text.substr(0, end) + "...";
}

/// Reads the JSON fields, each error prefixed with the file name and the
/// field's path ("model.merges[3]").
class Loader {
public:
  explicit Loader(StringRef name) : name(name.str()) {}

  Error fail(const Twine &field, const Twine &message) const {
    return createStringError(inconvertibleErrorCode(),
                             name + ": " + field + ": " + message);
  }
  Error failFile(const Twine &message) const {
    return createStringError(inconvertibleErrorCode(), name + ": " + message);
  }

  /// A JSON value as the "got ..." of a message: scalars as JSON text
  /// (shortened), containers by kind.
  static std::string describe(const json::Value *value) {
    if (!value)
      return "nothing (the field is missing)";
    if (value->kind() == json::Value::Object)
      return "an object";
    if (value->kind() == json::Value::Array)
      return "an array";
    return shorten(formatv("{0}", *value).str());
  }
  Error expected(const Twine &field, const Twine &what,
                 const json::Value *got) const {
    return fail(field, "expected " + what + ", got " + describe(got));
  }

  static std::string join(StringRef path, StringRef key) {
    return path.empty() ? key.str() : (path + "." + key).str();
  }

  /// Refuses fields outside `known` (they would change what the file
  /// means in ways this tokenizer does not implement).
  Error checkFields(const json::Object &object, StringRef path,
                    ArrayRef<StringRef> known) const {
    std::vector<std::string> unknown;
    for (const auto &entry : object)
      if (!llvm::is_contained(known, StringRef(entry.first)))
        unknown.push_back(entry.first.str());
    if (unknown.empty())
      return Error::success();
    std::sort(unknown.begin(), unknown.end());
    return fail(join(path, unknown.front()), "unsupported field");
  }

  /// `object[key]` as a bool; `fallback` when absent.
  Expected<bool> getBool(const json::Object &object, StringRef path,
                         StringRef key, bool fallback) const {
    const json::Value *value = object.get(key);
    if (!value)
      return fallback;
    if (std::optional<bool> b = value->getAsBoolean())
      return *b;
    return expected(join(path, key), "true or false", value);
  }

  /// `object[key]` as a string; std::nullopt when absent or null.
  Expected<std::optional<StringRef>>
  getOptionalString(const json::Object &object, StringRef path,
                    StringRef key) const {
    const json::Value *value = object.get(key);
    if (!value || value->kind() == json::Value::Null)
      return std::optional<StringRef>();
    if (std::optional<StringRef> s = value->getAsString())
      return s;
    return expected(join(path, key), "a string or null", value);
  }

  /// The "type" of a component object at `path`: null (std::nullopt when
  /// `allowNull`) or an object whose "type" is a string.
  Expected<std::optional<StringRef>> componentType(const json::Value *value,
                                                   StringRef path,
                                                   bool allowNull) const {
    if (allowNull && (!value || value->kind() == json::Value::Null))
      return std::optional<StringRef>();
    const json::Object *object = value ? value->getAsObject() : nullptr;
    if (!object)
      return expected(path, allowNull ? "an object or null" : "an object",
                      value);
    const json::Value *type = object->get("type");
    std::optional<StringRef> s = type ? type->getAsString() : std::nullopt;
    if (!s)
      return expected(join(path, "type"), "a string", type);
    return s;
  }

  std::string name;
};

/// `s` as a JSON string literal, for messages.
std::string quoted(StringRef s) {
  return shorten(formatv("{0}", json::Value(s.str())).str());
}

Error loadNormalizer(const Loader &l, const json::Value *value,
                     Tokenizer::Impl &t) {
  Expected<std::optional<StringRef>> type =
      l.componentType(value, "normalizer", /*allowNull=*/true);
  if (!type)
    return type.takeError();
  if (!*type)
    return Error::success();
  if (**type != "NFC")
    return l.fail("normalizer.type", "unsupported normalizer " +
                                         quoted(**type) +
                                         " (supported: \"NFC\" or null)");
  if (Error e = l.checkFields(*value->getAsObject(), "normalizer", {"type"}))
    return e;
  t.nfc = true;
  return Error::success();
}

/// The ByteLevel fields; their values matter to the pre-tokenizer only (to
/// the post-processor and decoder they are offsets and spacing options
/// the ids and decoded bytes do not depend on).
Error checkByteLevel(const Loader &l, const json::Object &object,
                     StringRef path, bool *addPrefixSpace, bool *useRegex) {
  if (Error e = l.checkFields(
          object, path,
          {"type", "add_prefix_space", "trim_offsets", "use_regex"}))
    return e;
  // The `tokenizers` library's defaults for absent fields.
  Expected<bool> prefix = l.getBool(object, path, "add_prefix_space", true);
  Expected<bool> trim = l.getBool(object, path, "trim_offsets", true);
  Expected<bool> regex = l.getBool(object, path, "use_regex", true);
  if (!prefix)
    return prefix.takeError();
  if (!trim)
    return trim.takeError();
  if (!regex)
    return regex.takeError();
  if (addPrefixSpace)
    *addPrefixSpace = *prefix;
  if (useRegex)
    *useRegex = *regex;
  return Error::success();
}

Error loadPreTokenizer(const Loader &l, const json::Value *value,
                       Tokenizer::Impl &t) {
  Expected<std::optional<StringRef>> type =
      l.componentType(value, "pre_tokenizer", /*allowNull=*/false);
  if (!type)
    return type.takeError();
  if (**type != "ByteLevel")
    return l.fail("pre_tokenizer.type",
                  "expected \"ByteLevel\", got " + quoted(**type));
  return checkByteLevel(l, *value->getAsObject(), "pre_tokenizer",
                        &t.addPrefixSpace, &t.useRegex);
}

/// The post-processor (null or ByteLevel, which adds no tokens) and the
/// decoder (ByteLevel).
Error loadByteLevelOnly(const Loader &l, const json::Value *value,
                        StringRef path, bool allowNull) {
  Expected<std::optional<StringRef>> type =
      l.componentType(value, path, allowNull);
  if (!type)
    return type.takeError();
  if (!*type)
    return Error::success();
  if (**type != "ByteLevel")
    return l.fail(Loader::join(path, "type"),
                  (allowNull ? "expected \"ByteLevel\" or null, got "
                             : "expected \"ByteLevel\", got ") +
                      quoted(**type));
  return checkByteLevel(l, *value->getAsObject(), path, nullptr, nullptr);
}

/// An id of the vocabulary or of an added token.
Expected<int64_t> getId(const Loader &l, const json::Value *value,
                        const Twine &field) {
  std::optional<int64_t> id = value ? value->getAsInteger() : std::nullopt;
  if (!id || *id < 0 || *id > kMaxId)
    return l.expected(field, "an integer id in [0, " + Twine(kMaxId) + "]",
                      value);
  return *id;
}

Error loadModel(const Loader &l, const json::Value *value, Tokenizer::Impl &t) {
  const json::Object *model = value ? value->getAsObject() : nullptr;
  if (!model)
    return l.expected("model", "an object", value);
  const json::Value *type = model->get("type");
  if (!type || type->getAsString() != std::optional<StringRef>("BPE"))
    return l.expected("model.type", "\"BPE\"", type);
  if (Error e = l.checkFields(
          *model, "model",
          {"type", "dropout", "unk_token", "continuing_subword_prefix",
           "end_of_word_suffix", "fuse_unk", "byte_fallback", "ignore_merges",
           "vocab", "merges"}))
    return e;

  // Options this implementation refuses unless they are off.
  if (const json::Value *dropout = model->get("dropout");
      dropout && dropout->kind() != json::Value::Null &&
      dropout->getAsNumber() != std::optional<double>(0.0))
    return l.fail("model.dropout",
                  "BPE dropout is not supported (expected null, got " +
                      Loader::describe(dropout) + ")");
  for (StringRef key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    Expected<std::optional<StringRef>> s =
        l.getOptionalString(*model, "model", key);
    if (!s)
      return s.takeError();
    if (*s && !(*s)->empty())
      return l.fail(Loader::join("model", key),
                    "not supported (expected null, got " + quoted(**s) + ")");
  }
  Expected<bool> byteFallback =
      l.getBool(*model, "model", "byte_fallback", false);
  if (!byteFallback)
    return byteFallback.takeError();
  if (*byteFallback)
    return l.fail("model.byte_fallback", "true is not supported");
  Expected<bool> fuseUnk = l.getBool(*model, "model", "fuse_unk", false);
  Expected<bool> ignoreMerges =
      l.getBool(*model, "model", "ignore_merges", false);
  if (!fuseUnk)
    return fuseUnk.takeError();
  if (!ignoreMerges)
    return ignoreMerges.takeError();
  t.fuseUnk = *fuseUnk;
  t.ignoreMerges = *ignoreMerges;

  const json::Value *vocabValue = model->get("vocab");
  const json::Object *vocab = vocabValue ? vocabValue->getAsObject() : nullptr;
  if (!vocab)
    return l.expected("model.vocab", "an object of token: id", vocabValue);
  DenseMap<int64_t, StringRef> byId;
  for (const auto &[token, idValue] : *vocab) {
    Expected<int64_t> id =
        getId(l, &idValue, "model.vocab[" + quoted(token) + "]");
    if (!id)
      return id.takeError();
    auto [it, inserted] = byId.try_emplace(*id, StringRef(token));
    if (!inserted) {
      // Name the pair in a fixed order (objects iterate in hash order).
      StringRef a = std::min(it->second, StringRef(token));
      StringRef b = std::max(it->second, StringRef(token));
      return l.fail("model.vocab", "id " + Twine(*id) + " is given to both " +
                                       quoted(a) + " and " + quoted(b));
    }
    t.vocab[token] = *id;
  }

  Expected<std::optional<StringRef>> unk =
      l.getOptionalString(*model, "model", "unk_token");
  if (!unk)
    return unk.takeError();
  if (*unk) {
    auto it = t.vocab.find(**unk);
    if (it == t.vocab.end())
      return l.fail("model.unk_token",
                    quoted(**unk) + " is not in model.vocab");
    t.unkId = it->second;
  }

  // Merges: "a b" (one space) or ["a", "b"]; the merged token must be in
  // the vocabulary too. A repeated pair takes its later rank, as in the
  // `tokenizers` library.
  const json::Value *mergesValue = model->get("merges");
  const json::Array *merges = mergesValue ? mergesValue->getAsArray() : nullptr;
  if (!merges)
    return l.expected("model.merges", "an array", mergesValue);
  t.merges.reserve(merges->size());
  for (auto [rank, entry] : llvm::enumerate(*merges)) {
    std::string field = ("model.merges[" + Twine(rank) + "]").str();
    StringRef left, right;
    if (std::optional<StringRef> s = entry.getAsString()) {
      auto [a, b] = s->split(' ');
      if (a.size() == s->size() || b.contains(' '))
        return l.expected(field, "\"A B\" (two tokens, one space between)",
                          &entry);
      left = a;
      right = b;
    } else if (const json::Array *pair = entry.getAsArray();
               pair && pair->size() == 2 && (*pair)[0].getAsString() &&
               (*pair)[1].getAsString()) {
      left = *(*pair)[0].getAsString();
      right = *(*pair)[1].getAsString();
    } else {
      return l.expected(field, "\"A B\" or [\"A\", \"B\"]", &entry);
    }
    int64_t ids[3];
    std::string merged = (left + right).str();
    StringRef parts[3] = {left, right, merged};
    for (int k = 0; k < 3; ++k) {
      auto it = t.vocab.find(parts[k]);
      if (it == t.vocab.end())
        return l.fail(field, (k == 2 ? "the merged token " : "token ") +
                                 quoted(parts[k]) + " is not in model.vocab");
      ids[k] = it->second;
    }
    t.merges[pairKey(ids[0], ids[1])] = Merge{uint32_t(rank), ids[2]};
  }
  return Error::success();
}

Error loadAddedTokens(const Loader &l, const json::Value *value,
                      Tokenizer::Impl &t) {
  if (!value || value->kind() == json::Value::Null)
    return Error::success();
  const json::Array *tokens = value->getAsArray();
  if (!tokens)
    return l.expected("added_tokens", "an array", value);
  DenseMap<int64_t, StringRef> modelSpelling;
  for (const auto &entry : t.vocab)
    modelSpelling[entry.second] = entry.first();
  DenseMap<int64_t, size_t> addedIds;
  for (auto [i, entry] : llvm::enumerate(*tokens)) {
    std::string path = ("added_tokens[" + Twine(i) + "]").str();
    const json::Object *object = entry.getAsObject();
    if (!object)
      return l.expected(path, "an object", &entry);
    if (Error e = l.checkFields(*object, path,
                                {"id", "content", "single_word", "lstrip",
                                 "rstrip", "normalized", "special"}))
      return e;
    Expected<int64_t> id = getId(l, object->get("id"), path + ".id");
    if (!id)
      return id.takeError();
    const json::Value *contentValue = object->get("content");
    std::optional<StringRef> content =
        contentValue ? contentValue->getAsString() : std::nullopt;
    if (!content || content->empty())
      return l.expected(path + ".content", "a non-empty string", contentValue);
    for (StringRef flag : {"single_word", "lstrip", "rstrip"}) {
      Expected<bool> on = l.getBool(*object, path, flag, false);
      if (!on)
        return on.takeError();
      if (*on)
        return l.fail(Loader::join(path, flag), "true is not supported");
    }
    Expected<bool> special = l.getBool(*object, path, "special", false);
    if (!special)
      return special.takeError();
    // The `tokenizers` library's default: special tokens are matched in
    // the raw text, others in the normalised text.
    Expected<bool> normalized =
        l.getBool(*object, path, "normalized", !*special);
    if (!normalized)
      return normalized.takeError();

    // The id must be the model's for this spelling, or one the model and
    // the other added tokens do not use.
    auto inModel = t.vocab.find(*content);
    if (inModel != t.vocab.end() && inModel->second != *id)
      return l.fail(path + ".id",
                    "is " + Twine(*id) + ", but model.vocab has " +
                        quoted(*content) + " as " + Twine(inModel->second));
    if (inModel == t.vocab.end() && modelSpelling.count(*id))
      return l.fail(path + ".id", "is " + Twine(*id) + ", which model.vocab " +
                                      "gives to " + quoted(modelSpelling[*id]));
    if (auto [it, inserted] = addedIds.try_emplace(*id, i); !inserted)
      return l.fail(path + ".id", "is " + Twine(*id) + ", as added_tokens[" +
                                      Twine(it->second) + "]");
    if (!t.added.try_emplace(*content, *id).second)
      return l.fail(path + ".content", quoted(*content) + " is added twice");
    if (*normalized) {
      std::string pattern = t.nfc ? toNFC(*content) : content->str();
      t.normalizedTokens.insert(pattern, *id);
    } else {
      t.rawTokens.insert(*content, *id);
    }
    if (*special)
      t.specialIds.push_back(*id);
  }
  return Error::success();
}

/// The id tables and the byte characters' ids.
Error finish(const Loader &l, Tokenizer::Impl &t) {
  int64_t size = 0;
  for (const auto &entry : t.vocab)
    size = std::max(size, entry.second + 1);
  for (const auto &entry : t.added)
    size = std::max(size, entry.second + 1);
  if (size == 0)
    return l.fail("model.vocab", "is empty");
  // Ids index tables: a few unused ids are harmless, a lone huge one would
  // cost gigabytes.
  int64_t count = int64_t(t.vocab.size());
  for (const auto &entry : t.added)
    count += !t.vocab.count(entry.first());
  if (size - count > kMaxUnusedIds)
    return l.failFile("token ids go up to " + Twine(size - 1) + " for " +
                      Twine(count) + " tokens (at most " +
                      Twine(kMaxUnusedIds) + " ids may be unused)");
  t.spelling.assign(size, StringRef());
  t.flags.resize(size, 0);
  for (const auto &entry : t.vocab)
    t.spelling[entry.second] = entry.first();
  for (const auto &entry : t.added)
    t.spelling[entry.second] = entry.first();
  for (const auto &entry : t.vocab)
    t.flags[entry.second] |= Tokenizer::Impl::kPresent;
  for (const auto &entry : t.added)
    t.flags[entry.second] |= Tokenizer::Impl::kPresent;
  for (int64_t id : t.specialIds)
    t.flags[id] |= Tokenizer::Impl::kSpecial;

  std::array<uint32_t, 256> chars = byteCharacters();
  uint32_t maxChar = *std::max_element(chars.begin(), chars.end());
  t.charBytes.assign(maxChar + 1, -1);
  for (uint32_t b = 0; b < 256; ++b) {
    t.charBytes[chars[b]] = int16_t(b);
    std::string spelling;
    appendUTF8(chars[b], spelling);
    auto it = t.vocab.find(spelling);
    t.byteIds[b] = it == t.vocab.end() ? -1 : it->second;
  }
  return Error::success();
}

Expected<std::unique_ptr<Tokenizer::Impl>> load(StringRef text,
                                                StringRef name) {
  Loader l(name);
  // llvm::json recurses once per nesting level: bound it before parsing.
  if (xlstm::jsonNestingDepth(text) > xlstm::kMaxJSONDepth)
    return l.failFile("nested more than " + Twine(xlstm::kMaxJSONDepth) +
                      " levels deep");
  Expected<json::Value> root = json::parse(text);
  if (!root)
    return l.failFile("invalid JSON: " + toString(root.takeError()));
  const json::Object *object = root->getAsObject();
  if (!object)
    return l.failFile("expected a JSON object, got " +
                      Loader::describe(&*root));
  if (Error e = l.checkFields(*object, "",
                              {"version", "truncation", "padding",
                               "added_tokens", "normalizer", "pre_tokenizer",
                               "post_processor", "decoder", "model"}))
    return std::move(e);
  if (const json::Value *version = object->get("version");
      version && version->getAsString() != std::optional<StringRef>("1.0"))
    return l.expected("version", "\"1.0\"", version);
  for (StringRef key : {"truncation", "padding"})
    if (const json::Value *v = object->get(key);
        v && v->kind() != json::Value::Null)
      return l.fail(key, "not supported (expected null, got " +
                             Loader::describe(v) + ")");

  // The model first: what kind of tokenizer the file holds is the most
  // telling error.
  auto t = std::make_unique<Tokenizer::Impl>();
  if (Error e = loadModel(l, object->get("model"), *t))
    return std::move(e);
  if (Error e = loadNormalizer(l, object->get("normalizer"), *t))
    return std::move(e);
  if (Error e = loadPreTokenizer(l, object->get("pre_tokenizer"), *t))
    return std::move(e);
  if (Error e = loadByteLevelOnly(l, object->get("post_processor"),
                                  "post_processor", /*allowNull=*/true))
    return std::move(e);
  if (Error e = loadByteLevelOnly(l, object->get("decoder"), "decoder",
                                  /*allowNull=*/false))
    return std::move(e);
  if (Error e = loadAddedTokens(l, object->get("added_tokens"), *t))
    return std::move(e);
  if (Error e = finish(l, *t))
    return std::move(e);
  return std::move(t);
}

} // namespace

//===----------------------------------------------------------------------===//
// Tokenizer
//===----------------------------------------------------------------------===//

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer &&) noexcept = default;
Tokenizer &Tokenizer::operator=(Tokenizer &&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Expected<Tokenizer> Tokenizer::fromFile(StringRef path) {
  auto fail = [&](const Twine &message) {
    return createStringError(inconvertibleErrorCode(), path + ": " + message);
  };
  if (xlstm::isExistingNonRegularFile(path))
    return fail("not a regular file");
  uint64_t size = 0;
  if (std::error_code ec = sys::fs::file_size(path, size))
    return fail("cannot open: " + ec.message());
  if (size > kMaxTokenizerFileBytes)
    return fail(Twine(size) + " bytes, more than the " +
                Twine(kMaxTokenizerFileBytes >> 20) + " MiB accepted");
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer = MemoryBuffer::getFile(
      path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!buffer)
    return fail("cannot open: " + buffer.getError().message());
  if ((*buffer)->getBufferSize() > kMaxTokenizerFileBytes)
    return fail("grew past " + Twine(kMaxTokenizerFileBytes >> 20) +
                " MiB while being read");
  return fromJSON((*buffer)->getBuffer(), path);
}

Expected<Tokenizer> Tokenizer::fromJSON(StringRef text,
                                        StringRef nameForErrors) {
  Expected<std::unique_ptr<Impl>> impl = load(text, nameForErrors);
  if (!impl)
    return impl.takeError();
  return Tokenizer(std::move(*impl));
}

std::vector<int64_t> Tokenizer::encode(StringRef utf8) const {
  std::string text = replaceInvalidUTF8(utf8);
  std::vector<int64_t> ids;
  auto pushToken = [&](int64_t id) { ids.push_back(id); };
  splitAtTokens(
      impl->rawTokens, text,
      [&](StringRef raw) {
        std::string normalized = impl->nfc ? toNFC(raw) : raw.str();
        splitAtTokens(
            impl->normalizedTokens, normalized,
            [&](StringRef piece) { impl->encodePiece(piece, ids); }, pushToken);
      },
      pushToken);
  return ids;
}

Expected<std::string> Tokenizer::decodeBytes(ArrayRef<int64_t> ids,
                                             bool skipSpecialTokens) const {
  std::string bytes;
  for (int64_t id : ids) {
    if (id < 0 || id >= vocabSize())
      return createStringError(inconvertibleErrorCode(),
                               "token id " + Twine(id) +
                                   " is out of range [0, " +
                                   Twine(vocabSize()) + ")");
    uint8_t flags = impl->flags[id];
    if (!(flags & Impl::kPresent))
      return createStringError(inconvertibleErrorCode(),
                               "token id " + Twine(id) +
                                   " has no token in the vocabulary");
    if (skipSpecialTokens && (flags & Impl::kSpecial))
      continue;
    impl->appendTokenBytes(impl->spelling[id], bytes);
  }
  return bytes;
}

Expected<std::string> Tokenizer::decode(ArrayRef<int64_t> ids,
                                        bool skipSpecialTokens) const {
  Expected<std::string> bytes = decodeBytes(ids, skipSpecialTokens);
  if (!bytes)
    return bytes.takeError();
  return replaceInvalidUTF8(*bytes);
}

int64_t Tokenizer::vocabSize() const { return int64_t(impl->spelling.size()); }

std::optional<int64_t> Tokenizer::tokenToId(StringRef token) const {
  if (auto it = impl->added.find(token); it != impl->added.end())
    return it->second;
  if (auto it = impl->vocab.find(token); it != impl->vocab.end())
    return it->second;
  return std::nullopt;
}

std::optional<StringRef> Tokenizer::idToToken(int64_t id) const {
  if (id < 0 || id >= vocabSize() || !(impl->flags[id] & Impl::kPresent))
    return std::nullopt;
  return impl->spelling[id];
}

bool Tokenizer::isSpecial(int64_t id) const {
  return id >= 0 && id < vocabSize() && (impl->flags[id] & Impl::kSpecial);
}
