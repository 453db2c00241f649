//===- TokenizerTest.cpp - Tests of the byte-level BPE tokenizer ----------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// The GPT-NeoX-20B tokenizer against the `tokenizers` library's golden
// encodings (../shared/tokenizers), random round trips, the GPT-2 split on
// cases read off the regex, the BPE rules on a small hand-written
// tokenizer.json, and every kind of file the loader must refuse.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Tokenizer/Tokenizer.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"

#include <gtest/gtest.h>
#include <utf8proc.h>

#include <chrono>
#include <cstdlib>
#include <random>

using namespace llvm;
using namespace xlstm::tokenizer;
namespace json = llvm::json;

namespace {

std::string neoxPath(StringRef file) {
  return (Twine(XLSTM_SOURCE_DIR) + "/../shared/tokenizers/gpt-neox-20b/" +
          file)
      .str();
}

std::string utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += char(cp);
  } else if (cp < 0x800) {
    s += char(0xC0 | cp >> 6);
    s += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += char(0xE0 | cp >> 12);
    s += char(0x80 | (cp >> 6 & 0x3F));
    s += char(0x80 | (cp & 0x3F));
  } else {
    s += char(0xF0 | cp >> 18);
    s += char(0x80 | (cp >> 12 & 0x3F));
    s += char(0x80 | (cp >> 6 & 0x3F));
    s += char(0x80 | (cp & 0x3F));
  }
  return s;
}

/// NFC by utf8proc directly (the text may hold U+0000).
std::string nfc(StringRef s) {
  utf8proc_uint8_t *out = nullptr;
  utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t *>(s.data()),
                   utf8proc_ssize_t(s.size()), &out,
                   utf8proc_option_t(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  EXPECT_GE(n, 0);
  std::string result(reinterpret_cast<char *>(out),
                     size_t(std::max<long>(n, 0)));
  std::free(out);
  return result;
}

std::string describe(ArrayRef<int64_t> ids) {
  std::string s;
  raw_string_ostream os(s);
  os << '[';
  interleaveComma(ids, os);
  os << ']';
  return s;
}

/// The GPT-NeoX-20B tokenizer, loaded once.
class NeoX : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    if (tok)
      return;
    Expected<Tokenizer> t = Tokenizer::fromFile(neoxPath("tokenizer.json"));
    if (t)
      tok.emplace(std::move(*t));
    else
      loadError = toString(t.takeError());
  }
  void SetUp() override { ASSERT_TRUE(tok.has_value()) << loadError; }

  static std::optional<Tokenizer> tok;
  static std::string loadError;
};
std::optional<Tokenizer> NeoX::tok;
std::string NeoX::loadError;

TEST_F(NeoX, Vocabulary) {
  EXPECT_EQ(tok->vocabSize(), 50277);
  EXPECT_EQ(tok->tokenToId("<|endoftext|>"), 0);
  EXPECT_EQ(tok->tokenToId("<|unk|>"), 1);
  EXPECT_EQ(tok->tokenToId("Ġworld"), 1533);
  EXPECT_EQ(tok->tokenToId("  "), 50276);
  EXPECT_EQ(tok->tokenToId("no such token"), std::nullopt);
  EXPECT_EQ(tok->idToToken(12092), StringRef("Hello"));
  EXPECT_EQ(tok->idToToken(50254), StringRef(std::string(24, ' ')));
  EXPECT_EQ(tok->idToToken(50277), std::nullopt);
  EXPECT_EQ(tok->idToToken(-1), std::nullopt);
  EXPECT_TRUE(tok->isSpecial(0));
  EXPECT_TRUE(tok->isSpecial(1));
  EXPECT_FALSE(tok->isSpecial(50276));
  EXPECT_FALSE(tok->isSpecial(12092));
}

// Every line of the golden file: the ids of `text` and the text of `ids`.
TEST_F(NeoX, Golden) {
  ErrorOr<std::unique_ptr<MemoryBuffer>> file =
      MemoryBuffer::getFile(neoxPath("encode-golden.jsonl"));
  ASSERT_TRUE(file) << file.getError().message();
  SmallVector<StringRef> lines;
  (*file)->getBuffer().split(lines, '\n', -1, /*KeepEmpty=*/false);
  ASSERT_GE(lines.size(), 20u);
  size_t encoded = 0, decoded = 0;
  for (auto [n, line] : llvm::enumerate(lines)) {
    Expected<json::Value> value = json::parse(line);
    ASSERT_TRUE(bool(value)) << toString(value.takeError());
    const json::Object &o = *value->getAsObject();
    StringRef text = *o.getString("text");
    std::vector<int64_t> ids;
    for (const json::Value &id : *o.getArray("ids"))
      ids.push_back(*id.getAsInteger());
    std::vector<int64_t> got = tok->encode(text);
    EXPECT_EQ(describe(got), describe(ids))
        << "line " << n + 1 << ": " << text.str();
    encoded += got == ids;
    Expected<std::string> back = tok->decode(ids);
    ASSERT_TRUE(bool(back)) << toString(back.takeError());
    EXPECT_EQ(*back, *o.getString("decoded")) << "line " << n + 1;
    decoded += *back == *o.getString("decoded");
  }
  EXPECT_EQ(encoded, lines.size());
  EXPECT_EQ(decoded, lines.size());
}

TEST_F(NeoX, SpecialTokens) {
  std::vector<int64_t> ids = tok->encode("<|endoftext|>between<|endoftext|>");
  EXPECT_EQ(describe(ids), "[0, 17352, 0]");
  EXPECT_EQ(*tok->decode(ids), "between");
  EXPECT_EQ(*tok->decode(ids, /*skipSpecialTokens=*/false),
            "<|endoftext|>between<|endoftext|>");
  // A near miss is text, and the whitespace tokens are not special.
  EXPECT_EQ(*tok->decode(tok->encode("<|endoftext|")), "<|endoftext|");
  EXPECT_EQ(*tok->decode({50254}), std::string(24, ' '));
}

TEST_F(NeoX, EveryByteRoundTrips) {
  for (int b = 0; b < 128; ++b) {
    std::string s(1, char(b));
    Expected<std::string> back = tok->decode(tok->encode(s));
    ASSERT_TRUE(bool(back));
    EXPECT_EQ(*back, s) << "byte " << b;
  }
  // Ids of single bytes decode to those bytes, partial UTF-8 included.
  Expected<std::string> bytes = tok->decodeBytes(tok->encode("\xC3\xA9"));
  ASSERT_TRUE(bool(bytes));
  EXPECT_EQ(*bytes, "\xC3\xA9");
}

TEST_F(NeoX, DecodeErrors) {
  Expected<std::string> high = tok->decode({12092, 50277});
  ASSERT_FALSE(bool(high));
  EXPECT_EQ(toString(high.takeError()),
            "token id 50277 is out of range [0, 50277)");
  Expected<std::string> negative = tok->decode({-3});
  ASSERT_FALSE(bool(negative));
  EXPECT_EQ(toString(negative.takeError()),
            "token id -3 is out of range [0, 50277)");
}

// Bytes that are not UTF-8 become U+FFFD, one per maximal invalid
// subsequence (Unicode's recommendation, Rust's from_utf8_lossy).
TEST_F(NeoX, InvalidUTF8) {
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(replaceInvalidUTF8("a\377b"), "a" + fffd + "b");
  EXPECT_EQ(replaceInvalidUTF8("\xF0\x9F\x98"), fffd);    // cut emoji
  EXPECT_EQ(replaceInvalidUTF8("\xE0\x80"), fffd + fffd); // overlong
  EXPECT_EQ(replaceInvalidUTF8("\xC0\xAF"), fffd + fffd);
  // A surrogate and a code point above U+10FFFF: each byte.
  EXPECT_EQ(replaceInvalidUTF8("\xED\xA0\x80"), fffd + fffd + fffd);
  EXPECT_EQ(replaceInvalidUTF8("\xF4\x90\x80\x80"), fffd + fffd + fffd + fffd);
  EXPECT_EQ(replaceInvalidUTF8("\342\202x"), fffd + "x");
  EXPECT_EQ(replaceInvalidUTF8("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");
  EXPECT_EQ(tok->encode("caf\xE9!"), tok->encode("caf" + fffd + "!"));
  // Decoding half of a character gives U+FFFD; decodeBytes gives the byte.
  std::vector<int64_t> ids = tok->encode("\xC3\xA9");
  ASSERT_EQ(ids.size(), 1u); // "Ã©" is one token
  std::vector<int64_t> bytes = tok->encode("\xC3\xA9\xC3\xA9\xC3");
  EXPECT_EQ(*tok->decode(bytes), "\xC3\xA9\xC3\xA9" + fffd);
}

/// Random UTF-8 from several scripts, whitespace runs, controls and the
/// special tokens: the whole `text` and its `segments`, special tokens
/// marked.
struct RandomText {
  std::string text;
  std::vector<std::pair<std::string, bool>> segments;
};

RandomText randomText(std::mt19937 &rng) {
  // ASCII without '<' and '|' (no accidental special tokens), controls,
  // Latin-1, combining marks, Greek, Cyrillic, Hebrew, Arabic, Devanagari,
  // Hangul jamo (which NFC composes), kana, CJK, Hangul syllables, spaces,
  // emoji, mathematical letters, full-width forms, number forms.
  static const std::pair<uint32_t, uint32_t> ranges[] = {
      {0x20, 0x3B},       {0x3D, 0x7B},     {0x7D, 0x7E},
      {0x00, 0x1F},       {0xA0, 0xFF},     {0x300, 0x36F},
      {0x391, 0x3C9},     {0x410, 0x44F},   {0x5D0, 0x5EA},
      {0x627, 0x64A},     {0x905, 0x939},   {0x1100, 0x1175},
      {0x3041, 0x3096},   {0x4E00, 0x9FA5}, {0xAC00, 0xD7A3},
      {0x2000, 0x200A},   {0x2028, 0x2029}, {0x1F600, 0x1F64F},
      {0x1D400, 0x1D433}, {0xFF10, 0xFF5A}, {0x2150, 0x218B}};
  static const char *whitespace[] = {" ",      "\t",     "\n",     "\r\n",
                                     "\u00A0", "\u3000", "\u2028", "\u0085"};
  RandomText r;
  std::string current;
  auto flush = [&] {
    if (!current.empty())
      r.segments.push_back({current, false});
    current.clear();
  };
  int pieces = std::uniform_int_distribution<int>(0, 40)(rng);
  for (int p = 0; p < pieces; ++p) {
    int kind = std::uniform_int_distribution<int>(0, 9)(rng);
    if (kind == 0) {
      flush();
      r.segments.push_back({rng() % 2 ? "<|endoftext|>" : "<|unk|>", true});
    } else if (kind <= 2) {
      int n = std::uniform_int_distribution<int>(1, 30)(rng);
      for (int i = 0; i < n; ++i)
        current += rng() % 4 ? " " : whitespace[rng() % std::size(whitespace)];
    } else {
      auto [lo, hi] = ranges[rng() % std::size(ranges)];
      int n = std::uniform_int_distribution<int>(1, 8)(rng);
      for (int i = 0; i < n; ++i)
        current += utf8(std::uniform_int_distribution<uint32_t>(lo, hi)(rng));
    }
  }
  flush();
  for (auto &[s, special] : r.segments)
    r.text += s;
  return r;
}

// decode(encode(x)) is x with its text between special tokens in NFC.
TEST_F(NeoX, RandomRoundTrips) {
  std::mt19937 rng(20240917);
  for (int n = 0; n < 3000; ++n) {
    RandomText r = randomText(rng);
    std::string all, skipped;
    for (auto &[s, special] : r.segments) {
      all += special ? s : nfc(s);
      if (!special)
        skipped += nfc(s);
    }
    std::vector<int64_t> ids = tok->encode(r.text);
    Expected<std::string> kept = tok->decode(ids, /*skipSpecialTokens=*/false);
    ASSERT_TRUE(bool(kept)) << toString(kept.takeError());
    ASSERT_EQ(*kept, all) << "case " << n;
    Expected<std::string> plain = tok->decode(ids);
    ASSERT_TRUE(bool(plain));
    ASSERT_EQ(*plain, skipped) << "case " << n;
  }
}

// A single 100k-character word merges in O(n log n), not quadratically
// (no time limit: the milliseconds are recorded as test properties).
TEST_F(NeoX, LongWord) {
  std::mt19937 rng(7);
  std::string letters, accents;
  for (int i = 0; i < 100000; ++i)
    letters += char('a' + rng() % 26);
  for (int i = 0; i < 50000; ++i)
    accents += utf8(0xE0 + rng() % 30);
  std::pair<const char *, std::string> words[] = {
      {"letters", letters},
      {"same", std::string(100000, 'a')},
      {"accents", accents}};
  for (const auto &[name, word] : words) {
    auto start = std::chrono::steady_clock::now();
    std::vector<int64_t> ids = tok->encode(word);
    double ms = std::chrono::duration<double, std::milli>(
                    std::chrono::steady_clock::now() - start)
                    .count();
    RecordProperty(std::string("encode_ms_") + name, int(ms));
    EXPECT_LT(ids.size(), word.size()) << name;
    Expected<std::string> back = tok->decode(ids);
    ASSERT_TRUE(bool(back));
    EXPECT_EQ(*back, word) << name;
  }
}

//===----------------------------------------------------------------------===//
// The GPT-2 split
//===----------------------------------------------------------------------===//

std::vector<std::string> split(StringRef text) {
  std::vector<std::string> pieces;
  for (StringRef piece : splitGPT2(text))
    pieces.push_back(piece.str());
  return pieces;
}

using Pieces = std::vector<std::string>;

TEST(GPT2Split, Words) {
  EXPECT_EQ(split(""), Pieces{});
  EXPECT_EQ(split("Hello world"), (Pieces{"Hello", " world"}));
  EXPECT_EQ(split("it's they're I'd"),
            (Pieces{"it", "'s", " they", "'re", " I", "'d"}));
  // Contractions are lowercase, and a space before them joins the quote.
  EXPECT_EQ(split("IT'S"), (Pieces{"IT", "'", "S"}));
  EXPECT_EQ(split("a 'sb"), (Pieces{"a", " '", "sb"}));
  EXPECT_EQ(split("'sup"), (Pieces{"'s", "up"}));
  EXPECT_EQ(split("x1234 5½"), (Pieces{"x", "1234", " 5½"}));
  EXPECT_EQ(split("!!! ?? a"), (Pieces{"!!!", " ??", " a"}));
  // Combining marks are not letters (categories Mn, Mc).
  EXPECT_EQ(split("e\u0301t\u00E9"), (Pieces{"e", "\u0301", "t\u00E9"}));
  EXPECT_EQ(split("日本語の文章。中"), (Pieces{"日本語の文章", "。", "中"}));
}

TEST(GPT2Split, Whitespace) {
  // A run before text: all but its last character, which joins the next
  // word when it is U+0020 and is a piece of its own otherwise.
  EXPECT_EQ(split("  two"), (Pieces{" ", " two"}));
  EXPECT_EQ(split("a\t\tb"), (Pieces{"a", "\t", "\t", "b"}));
  EXPECT_EQ(split("a \n b"), (Pieces{"a", " \n", " b"}));
  EXPECT_EQ(split("a\n\n\nb"), (Pieces{"a", "\n\n", "\n", "b"}));
  EXPECT_EQ(split("a\n b"), (Pieces{"a", "\n", " b"}));
  EXPECT_EQ(split("a \u00A0b"), (Pieces{"a", " ", "\u00A0", "b"}));
  // A run at the end is one piece; so is a lone space.
  EXPECT_EQ(split("x   "), (Pieces{"x", "   "}));
  EXPECT_EQ(split(" "), (Pieces{" "}));
  EXPECT_EQ(split(" \n"), (Pieces{" \n"}));
  // U+3000, U+2028 and NEL are whitespace; U+200B and U+001C are not.
  EXPECT_EQ(split("a\u3000\u2028b"), (Pieces{"a", "\u3000", "\u2028", "b"}));
  EXPECT_EQ(split("a\u0085b"), (Pieces{"a", "\u0085", "b"}));
  EXPECT_EQ(split("a\u200B\x1C b"), (Pieces{"a", "\u200B\x1C", " b"}));
}

//===----------------------------------------------------------------------===//
// A small tokenizer.json
//===----------------------------------------------------------------------===//

/// GPT-2's byte character of `b`, written independently of the library.
std::string byteChar(int b) {
  int n = 0;
  for (int c = 0; c < 256; ++c) {
    bool printable = (c >= 33 && c <= 126) || (c >= 161 && c <= 172) ||
                     (c >= 174 && c <= 255);
    if (c == b)
      return utf8(printable ? c : 256 + n);
    n += !printable;
  }
  return "";
}

/// Every byte character as ids 0..255, then "ab" 256, "abc" 257, "bc" 258,
/// "Ġa" 259, "<s>" 260 (special, added), "xy" 261 (added, normalised).
json::Object smallTokenizer() {
  json::Object vocab;
  for (int b = 0; b < 256; ++b)
    vocab[byteChar(b)] = b;
  vocab["ab"] = 256;
  vocab["abc"] = 257;
  vocab["bc"] = 258;
  vocab[byteChar(' ') + "a"] = 259;
  vocab["<s>"] = 260;
  auto byteLevel = [] {
    return json::Object{{"type", "ByteLevel"},
                        {"add_prefix_space", false},
                        {"trim_offsets", true},
                        {"use_regex", true}};
  };
  return json::Object{
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", json::Array{json::Object{{"id", 260},
                                                {"content", "<s>"},
                                                {"single_word", false},
                                                {"lstrip", false},
                                                {"rstrip", false},
                                                {"normalized", false},
                                                {"special", true}},
                                   json::Object{{"id", 261},
                                                {"content", "xy"},
                                                {"single_word", false},
                                                {"lstrip", false},
                                                {"rstrip", false},
                                                {"normalized", true},
                                                {"special", false}}}},
      {"normalizer", json::Object{{"type", "NFC"}}},
      {"pre_tokenizer", byteLevel()},
      {"post_processor", byteLevel()},
      {"decoder", byteLevel()},
      {"model", json::Object{{"type", "BPE"},
                             {"dropout", nullptr},
                             {"unk_token", nullptr},
                             {"continuing_subword_prefix", nullptr},
                             {"end_of_word_suffix", nullptr},
                             {"fuse_unk", false},
                             {"vocab", std::move(vocab)},
                             {"merges", json::Array{"a b", "b c", "ab c",
                                                    byteChar(' ') + " a"}}}}};
}

std::string text(const json::Object &o) {
  return formatv("{0}", json::Value(json::Object(o))).str();
}

json::Object &field(json::Object &o, StringRef key) {
  return *o.getObject(key);
}

/// The ids of `input` under `o`, or the load error.
std::string encodeWith(const json::Object &o, StringRef input) {
  Expected<Tokenizer> t = Tokenizer::fromJSON(text(o), "t.json");
  if (!t)
    return toString(t.takeError());
  return describe(t->encode(input));
}

/// The load error of `o` ("" if it loads).
std::string loadError(const json::Object &o) {
  Expected<Tokenizer> t = Tokenizer::fromJSON(text(o), "t.json");
  return t ? std::string() : toString(t.takeError());
}

TEST(SmallTokenizer, MergeOrder) {
  json::Object o = smallTokenizer();
  // "a b" (rank 0) before "b c" (rank 1), then "ab c".
  EXPECT_EQ(encodeWith(o, "abc"), "[257]");
  EXPECT_EQ(encodeWith(o, "bc"), "[258]");
  EXPECT_EQ(encodeWith(o, "abab"), "[256, 256]");
  EXPECT_EQ(encodeWith(o, "cab a"), "[99, 256, 259]");
  // With "b c" first, "abc" is a + bc (no merge makes "abc" from those).
  field(o, "model")["merges"] =
      json::Array{"b c", "a b", "ab c", byteChar(' ') + " a"};
  EXPECT_EQ(encodeWith(o, "abc"), "[97, 258]");
  // The pair form of merges means the same.
  field(o, "model")["merges"] =
      json::Array{json::Array{"a", "b"}, json::Array{"b", "c"},
                  json::Array{"ab", "c"}, json::Array{byteChar(' '), "a"}};
  EXPECT_EQ(encodeWith(o, "abc"), "[257]");
}

TEST(SmallTokenizer, AddedTokens) {
  json::Object o = smallTokenizer();
  EXPECT_EQ(encodeWith(o, "a<s>ab"), "[97, 260, 256]");
  EXPECT_EQ(encodeWith(o, "cxyc"), "[99, 261, 99]");
  Expected<Tokenizer> t = Tokenizer::fromJSON(text(o), "t.json");
  ASSERT_TRUE(bool(t));
  EXPECT_EQ(*t->decode({97, 260, 261}), "axy");
  EXPECT_EQ(*t->decode({97, 260, 261}, false), "a<s>xy");
  EXPECT_EQ(t->vocabSize(), 262);
}

TEST(SmallTokenizer, Options) {
  json::Object o = smallTokenizer();
  field(o, "pre_tokenizer")["add_prefix_space"] = true;
  EXPECT_EQ(encodeWith(o, "a"), "[259]");
  EXPECT_EQ(encodeWith(o, " a"), "[259]");
  EXPECT_EQ(encodeWith(o, "<s>a"), "[260, 259]");
  o = smallTokenizer();
  field(o, "pre_tokenizer")["use_regex"] = false;
  EXPECT_EQ(encodeWith(o, "b!a"), "[98, 33, 97]");
  o = smallTokenizer();
  // ignore_merges: a whole word in the vocabulary is one token.
  field(o, "model")["merges"] = json::Array{"a b"};
  EXPECT_EQ(encodeWith(o, "abc"), "[256, 99]");
  field(o, "model")["ignore_merges"] = true;
  EXPECT_EQ(encodeWith(o, "abc"), "[257]");
  // No normalizer: "e" + U+0301 stays two characters.
  o = smallTokenizer();
  EXPECT_EQ(encodeWith(o, "e\u0301"), encodeWith(o, "\u00E9"));
  o["normalizer"] = nullptr;
  EXPECT_NE(encodeWith(o, "e\u0301"), encodeWith(o, "\u00E9"));
  o["post_processor"] = nullptr;
  EXPECT_EQ(loadError(o), "");
}

TEST(SmallTokenizer, UnknownBytes) {
  json::Object o = smallTokenizer();
  json::Object &vocab = *field(o, "model").getObject("vocab");
  vocab.erase(byteChar('q'));
  vocab.erase(byteChar('r'));
  vocab["<unk>"] = 1000; // ids 262..999 unused
  // Without an unknown token, bytes missing from the vocabulary vanish (and
  // their neighbours merge).
  EXPECT_EQ(encodeWith(o, "aqrb"), "[256]");
  field(o, "model")["unk_token"] = "<unk>";
  EXPECT_EQ(encodeWith(o, "aqrb"), "[97, 1000, 1000, 98]");
  field(o, "model")["fuse_unk"] = true;
  EXPECT_EQ(encodeWith(o, "aqrb"), "[97, 1000, 98]");
  Expected<Tokenizer> t = Tokenizer::fromJSON(text(o), "t.json");
  ASSERT_TRUE(bool(t));
  EXPECT_EQ(t->vocabSize(), 1001);
  Expected<std::string> hole = t->decode({500});
  ASSERT_FALSE(bool(hole));
  EXPECT_EQ(toString(hole.takeError()),
            "token id 500 has no token in the vocabulary");
  field(o, "model")["unk_token"] = "<nope>";
  EXPECT_EQ(loadError(o),
            "t.json: model.unk_token: \"<nope>\" is not in model.vocab");
}

//===----------------------------------------------------------------------===//
// Files the loader refuses
//===----------------------------------------------------------------------===//

TEST(Malformed, Structure) {
  json::Object o = smallTokenizer();
  field(o, "model")["type"] = "WordPiece";
  EXPECT_EQ(loadError(o),
            "t.json: model.type: expected \"BPE\", got \"WordPiece\"");

  o = smallTokenizer();
  field(o, "model").erase("vocab");
  EXPECT_EQ(loadError(o), "t.json: model.vocab: expected an object of token: "
                          "id, got nothing (the field is missing)");

  o = smallTokenizer();
  field(o, "model").erase("merges");
  EXPECT_EQ(loadError(o), "t.json: model.merges: expected an array, got "
                          "nothing (the field is missing)");

  o = smallTokenizer();
  o.erase("model");
  EXPECT_EQ(loadError(o), "t.json: model: expected an object, got nothing "
                          "(the field is missing)");

  o = smallTokenizer();
  field(o, "model")["merges"] = json::Array{"a b", "a zz"};
  EXPECT_EQ(loadError(o),
            "t.json: model.merges[1]: token \"zz\" is not in model.vocab");
  field(o, "model")["merges"] = json::Array{"a c"};
  EXPECT_EQ(loadError(o), "t.json: model.merges[0]: the merged token \"ac\" "
                          "is not in model.vocab");
  field(o, "model")["merges"] = json::Array{"a b c"};
  EXPECT_EQ(loadError(o), "t.json: model.merges[0]: expected \"A B\" (two "
                          "tokens, one space between), got \"a b c\"");
  field(o, "model")["merges"] = json::Array{json::Array{"a"}};
  EXPECT_EQ(loadError(o), "t.json: model.merges[0]: expected \"A B\" or "
                          "[\"A\", \"B\"], got an array");

  o = smallTokenizer();
  field(o, "model").getObject("vocab")->operator[]("zz") = 5;
  std::string error = loadError(o);
  EXPECT_TRUE(StringRef(error).starts_with("t.json: model.vocab: id 5 is given "
                                           "to both "))
      << error;
  field(o, "model").getObject("vocab")->operator[]("zz") = -5;
  EXPECT_EQ(loadError(o), "t.json: model.vocab[\"zz\"]: expected an integer "
                          "id in [0, 2147483647], got -5");
  // A lone huge id would make the id tables gigabytes.
  field(o, "model").getObject("vocab")->operator[]("zz") = 2147483647;
  EXPECT_EQ(loadError(o), "t.json: token ids go up to 2147483647 for 263 "
                          "tokens (at most 65536 ids may be unused)");
}

TEST(Malformed, Unsupported) {
  json::Object o = smallTokenizer();
  o["normalizer"] = json::Object{{"type", "Lowercase"}};
  EXPECT_EQ(loadError(o), "t.json: normalizer.type: unsupported normalizer "
                          "\"Lowercase\" (supported: \"NFC\" or null)");
  o = smallTokenizer();
  o["pre_tokenizer"] = json::Object{{"type", "Whitespace"}};
  EXPECT_EQ(loadError(o), "t.json: pre_tokenizer.type: expected "
                          "\"ByteLevel\", got \"Whitespace\"");
  o = smallTokenizer();
  o["pre_tokenizer"] = nullptr;
  EXPECT_EQ(loadError(o),
            "t.json: pre_tokenizer: expected an object, got null");
  o = smallTokenizer();
  o["post_processor"] = json::Object{{"type", "TemplateProcessing"}};
  EXPECT_EQ(loadError(o), "t.json: post_processor.type: expected "
                          "\"ByteLevel\" or null, got \"TemplateProcessing\"");
  o = smallTokenizer();
  o["decoder"] = nullptr;
  EXPECT_EQ(loadError(o), "t.json: decoder: expected an object, got null");
  o = smallTokenizer();
  o["truncation"] = json::Object{{"max_length", 8}};
  EXPECT_EQ(loadError(o), "t.json: truncation: not supported (expected "
                          "null, got an object)");
  o = smallTokenizer();
  field(o, "model")["dropout"] = 0.5;
  EXPECT_EQ(loadError(o), "t.json: model.dropout: BPE dropout is not "
                          "supported (expected null, got 0.5)");
  o = smallTokenizer();
  field(o, "model")["continuing_subword_prefix"] = "##";
  EXPECT_EQ(loadError(o), "t.json: model.continuing_subword_prefix: not "
                          "supported (expected null, got \"##\")");
  o = smallTokenizer();
  field(o, "model")["byte_fallback"] = true;
  EXPECT_EQ(loadError(o), "t.json: model.byte_fallback: true is not supported");
  o = smallTokenizer();
  field(o, "model")["frobnicate"] = 1;
  EXPECT_EQ(loadError(o), "t.json: model.frobnicate: unsupported field");
  o = smallTokenizer();
  o["version"] = "2.0";
  EXPECT_EQ(loadError(o), "t.json: version: expected \"1.0\", got \"2.0\"");
}

TEST(Malformed, AddedTokens) {
  auto withAdded = [](json::Object token) {
    json::Object o = smallTokenizer();
    o["added_tokens"] = json::Array{std::move(token)};
    return loadError(o);
  };
  json::Object base{
      {"id", 300},       {"content", "<x>"}, {"single_word", false},
      {"lstrip", false}, {"rstrip", false},  {"normalized", false},
      {"special", true}};
  EXPECT_EQ(withAdded(base), "");
  json::Object t = base;
  t["lstrip"] = true;
  EXPECT_EQ(withAdded(t),
            "t.json: added_tokens[0].lstrip: true is not supported");
  t = base;
  t["single_word"] = true;
  EXPECT_EQ(withAdded(t),
            "t.json: added_tokens[0].single_word: true is not supported");
  t = base;
  t["content"] = "";
  EXPECT_EQ(withAdded(t), "t.json: added_tokens[0].content: expected a "
                          "non-empty string, got \"\"");
  t = base;
  t["content"] = "ab";
  EXPECT_EQ(withAdded(t), "t.json: added_tokens[0].id: is 300, but "
                          "model.vocab has \"ab\" as 256");
  t = base;
  t["id"] = 256;
  EXPECT_EQ(withAdded(t), "t.json: added_tokens[0].id: is 256, which "
                          "model.vocab gives to \"ab\"");
  t = base;
  t["special"] = "yes";
  EXPECT_EQ(withAdded(t), "t.json: added_tokens[0].special: expected true or "
                          "false, got \"yes\"");
}

TEST(Malformed, Files) {
  // Truncated: the real file cut in half.
  ErrorOr<std::unique_ptr<MemoryBuffer>> file =
      MemoryBuffer::getFile(neoxPath("tokenizer.json"));
  ASSERT_TRUE(file);
  StringRef whole = (*file)->getBuffer();
  Expected<Tokenizer> truncated =
      Tokenizer::fromJSON(whole.take_front(whole.size() / 2), "cut.json");
  ASSERT_FALSE(bool(truncated));
  EXPECT_TRUE(StringRef(toString(truncated.takeError()))
                  .starts_with("cut.json: invalid JSON: "));

  Expected<Tokenizer> deep = Tokenizer::fromJSON(
      std::string(100000, '[') + std::string(100000, ']'), "deep.json");
  ASSERT_FALSE(bool(deep));
  EXPECT_EQ(toString(deep.takeError()),
            "deep.json: nested more than 32 levels deep");

  Expected<Tokenizer> array = Tokenizer::fromJSON("[1]", "a.json");
  ASSERT_FALSE(bool(array));
  EXPECT_EQ(toString(array.takeError()),
            "a.json: expected a JSON object, got an array");

  Expected<Tokenizer> device = Tokenizer::fromFile("/dev/zero");
  ASSERT_FALSE(bool(device));
  EXPECT_EQ(toString(device.takeError()), "/dev/zero: not a regular file");

  Expected<Tokenizer> missing = Tokenizer::fromFile("/nonexistent/t.json");
  ASSERT_FALSE(bool(missing));
  EXPECT_EQ(toString(missing.takeError()),
            "/nonexistent/t.json: cannot open: No such file or directory");

  // Larger than the cap (a sparse file: nothing is written or read).
  SmallString<128> path;
  int fd = -1;
  ASSERT_FALSE(sys::fs::createTemporaryFile("huge", "json", fd, path));
  ASSERT_FALSE(sys::fs::resize_file(fd, kMaxTokenizerFileBytes + 1));
  sys::Process::SafelyCloseFileDescriptor(fd);
  Expected<Tokenizer> huge = Tokenizer::fromFile(path);
  sys::fs::remove(path);
  ASSERT_FALSE(bool(huge));
  EXPECT_EQ(toString(huge.takeError()),
            (path + ": 268435457 bytes, more than the 256 MiB accepted").str());
}

} // namespace
