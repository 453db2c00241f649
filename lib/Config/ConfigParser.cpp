//===- ConfigParser.cpp - YAML model config reader and printer ------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Reading happens in three steps:
//  1. llvm::yaml's streaming parser is copied into a small owned tree (YNode)
//     that keeps every node's location. Depth and size are bounded, so hostile
//     input cannot exhaust the stack or the heap.
//  2. One table per upstream dataclass maps YAML keys onto ModelSpec members
//     with their type, range and spellings; one generic walker applies the
//     tables (unknown and duplicate keys, wrong types, bad values).
//  3. The upstream __post_init__ derivations run, and the cross-field checks
//     report against the locations recorded in step 2.
// The printer walks the same tables, so reader and writer cannot drift apart.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Config/ConfigParser.h"
#include "xlstm/Support/Files.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/YAMLParser.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <variant>

using namespace llvm;
using namespace xlstm::config;

namespace {

/// Real configs nest four levels deep; anything past this is rejected before
/// the recursive tree walk could run out of stack.
constexpr unsigned kMaxDepth = 64;
/// A generous bound on YAML nodes, so a huge file cannot exhaust memory.
constexpr size_t kMaxNodes = 1 << 20;
/// Dimensions stay below 2^31 so that products of two fit in int64.
constexpr int64_t kMaxDim = (int64_t(1) << 31) - 1;
/// The block map is materialised, so num_blocks is bounded separately.
constexpr int64_t kMaxBlocks = 1 << 16;
/// Hostile input could otherwise produce one error per line.
constexpr unsigned kMaxErrors = 20;

constexpr StringRef kDtypes[] = {"bfloat16", "float16", "float32"};
constexpr StringRef kInputShapes[] = {"BSGNH", "SBGNH"};
constexpr StringRef kInternalInputShapes[] = {"SBNGH", "SBGNH", "SBNHG"};
constexpr StringRef kOutputShapes[] = {"BNSH", "SBH", "BSH", "SBNH"};
constexpr StringRef kFFTypes[] = {"ffn_gated"};
constexpr StringRef kChunkwiseKernels[] = {
    "chunkwise--native_autograd",        "chunkwise--native_custbw",
    "chunkwise--triton_limit_chunk",     "chunkwise--triton_xl_chunk",
    "chunkwise--triton_xl_chunk_siging", "parallel--native_autograd",
    "parallel--native_custbw",           "parallel--native_stablef_autograd",
    "parallel--native_stablef_custbw",   "parallel--triton_limit_headdim",
    "parallel--native_siging_autograd",  "parallel--native_siging_custbw"};
constexpr StringRef kSequenceKernels[] = {"native_sequence__native",
                                          "native_sequence__triton"};
constexpr StringRef kStepKernels[] = {"native", "triton"};
constexpr StringRef kModes[] = {"train", "train_with_padding", "inference"};
constexpr StringRef kWeightModes[] = {"single", "fused"};

//===----------------------------------------------------------------------===//
// The owned YAML tree and scalar typing
//===----------------------------------------------------------------------===//

/// One YAML node, copied out of llvm::yaml's streaming parser so that the
/// schema code can look keys up in any order and keep locations for later.
struct YNode {
  enum Kind { Null, Scalar, Mapping, Sequence, Alias };
  Kind kind = Null;
  SMLoc loc;
  std::string value; ///< Scalar: the unescaped text; Alias: the alias name.
  bool plain = true; ///< Scalar: neither quoted nor a block scalar.
  std::string tag;   ///< The tag as written; empty if none.
  /// Mapping: key, value, key, value, ...; Sequence: the items.
  std::vector<YNode> children;

  size_t numEntries() const { return children.size() / 2; }
  const YNode &key(size_t i) const { return children[2 * i]; }
  const YNode &val(size_t i) const { return children[2 * i + 1]; }
};

/// What a plain scalar means under the YAML 1.2 core schema (the subset that
/// OmegaConf and YAML 1.2 agree on).
enum class ScalarType { Null, Bool, Int, Float, String };

bool isDigits(StringRef s) { return !s.empty() && all_of(s, isDigit); }

bool oneOf(StringRef s, ArrayRef<StringRef> set) {
  return is_contained(set, s);
}

StringRef dropSign(StringRef s) {
  return !s.empty() && (s[0] == '-' || s[0] == '+') ? s.drop_front() : s;
}

bool isInfOrNan(StringRef s) {
  return oneOf(s, {".nan", ".NaN", ".NAN"}) ||
         oneOf(dropSign(s), {".inf", ".Inf", ".INF"});
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
bool isFloatLiteral(StringRef s) {
  s = dropSign(s);
  size_t e = s.find_first_of("eE");
  if (e != StringRef::npos && !isDigits(dropSign(s.drop_front(e + 1))))
    return false;
  StringRef mantissa = s.take_front(e);
  auto [whole, frac] = mantissa.split('.');
  if (!mantissa.contains('.'))
    return isDigits(whole);
  if (whole.empty())
    return isDigits(frac);
  return isDigits(whole) && (frac.empty() || isDigits(frac));
}

ScalarType classify(const YNode &n) {
  if (n.kind == YNode::Null)
    return ScalarType::Null;
  if (!n.plain)
    return ScalarType::String;
  StringRef v = n.value;
  if (oneOf(v, {"", "~", "null", "Null", "NULL"}))
    return ScalarType::Null;
  if (oneOf(v, {"true", "True", "TRUE", "false", "False", "FALSE"}))
    return ScalarType::Bool;
  if (isDigits(dropSign(v)))
    return ScalarType::Int;
  if (isFloatLiteral(v) || isInfOrNan(v))
    return ScalarType::Float;
  return ScalarType::String;
}

bool isNull(const YNode &n) {
  return n.kind == YNode::Null ||
         (n.kind == YNode::Scalar && classify(n) == ScalarType::Null);
}

/// A user string shortened and escaped for a one-line message.
std::string shown(StringRef s) {
  std::string out = yaml::escape(s.take_front(40));
  return s.size() > 40 ? out + "..." : out;
}

std::string describe(const YNode &n) {
  switch (n.kind) {
  case YNode::Mapping:
    return "a mapping";
  case YNode::Sequence:
    return "a sequence";
  case YNode::Alias:
    return "an alias";
  default:
    break;
  }
  switch (classify(n)) {
  case ScalarType::Null:
    return "null";
  case ScalarType::Bool:
    return "the boolean " + n.value;
  case ScalarType::Int:
    return "the integer " + shown(n.value);
  case ScalarType::Float:
    return "the float " + shown(n.value);
  case ScalarType::String:
    return (n.plain ? "the string '" : "the quoted string '") + shown(n.value) +
           "'";
  }
  llvm_unreachable("covered switch");
}

/// Shortest text that reads back as exactly `v`, laid out like Python's
/// repr (fixed notation for exponents -4..15), always with a dot.
std::string formatFloat(double v) {
  char buf[40];
  int digits = 1;
  for (; digits < 17; ++digits) {
    std::snprintf(buf, sizeof(buf), "%.*e", digits - 1, v);
    if (std::strtod(buf, nullptr) == v)
      break;
  }
  std::snprintf(buf, sizeof(buf), "%.*e", digits - 1, v);
  int exponent = std::atoi(std::strchr(buf, 'e') + 1);
  if (exponent >= -4 && exponent < 16)
    std::snprintf(buf, sizeof(buf), "%.*f", std::max(0, digits - 1 - exponent),
                  v);
  // "30" -> "30.0" and "1e-06" -> "1.0e-06": PyYAML reads a number without
  // a dot as an integer or a string.
  std::string out = buf;
  if (out.find('.') == std::string::npos)
    out.insert(std::min(out.find('e'), out.size()), ".0");
  return out;
}

/// Python's float `//` (CPython float_floor_div), used by xlstm_large's
/// round_up_to_next_multiple_of.
double pyFloorDiv(double x, double y) {
  double mod = std::fmod(x, y);
  double div = (x - mod) / y;
  if (mod != 0.0 && ((y < 0) != (mod < 0)))
    div -= 1.0;
  if (div == 0.0)
    return std::copysign(0.0, x / y);
  double floorDiv = std::floor(div);
  return div - floorDiv > 0.5 ? floorDiv + 1.0 : floorDiv;
}

std::string joinPath(StringRef path, StringRef key) {
  return path.empty() ? key.str() : (path + "." + key).str();
}

//===----------------------------------------------------------------------===//
// Field tables
//===----------------------------------------------------------------------===//

/// A violated requirement: what is required and, optionally, why.
struct Req {
  const char *what = nullptr;
  const char *why = nullptr;
};
using IntCheck = Req (*)(int64_t);
using FloatCheck = Req (*)(double);

Req positiveDim(int64_t v) {
  if (v < 1)
    return {"must be >= 1"};
  return v > kMaxDim ? Req{"must be <= 2147483647"} : Req{};
}
Req blockCount(int64_t v) {
  if (v < 1)
    return {"must be >= 1"};
  return v > kMaxBlocks ? Req{"must be <= 65536"} : Req{};
}
Req contextLength(int64_t v) {
  if (v == -1 || (v >= 1 && v <= kMaxDim))
    return {};
  return {"must be -1 (unset) or between 1 and 2147483647"};
}
Req mlstmConvWidth(int64_t v) {
  if (v < 2)
    return {"must be >= 2", "upstream crashes with 0, since the mLSTM layer "
                            "always resets its conv, and returns an empty "
                            "sequence with 1"};
  return positiveDim(v);
}
Req slstmConvWidth(int64_t v) {
  if (v < 0 || v == 1)
    return {"must be 0 (no convolution) or >= 2",
            v == 1 ? "upstream returns an empty sequence with 1" : nullptr};
  return v == 0 ? Req{} : positiveDim(v);
}
/// sLSTM num_heads <= 0 means 1 upstream; only the upper bound is checked.
Req slstmHeads(int64_t v) { return v <= 0 ? Req{} : positiveDim(v); }
Req fourGates(int64_t v) {
  return v == 4 ? Req{}
                : Req{"must be 4", "the sLSTM has input, forget, cell and "
                                   "output gates"};
}
Req positive(double v) { return v > 0 ? Req{} : Req{"must be > 0"}; }
Req nonNegative(double v) { return v >= 0 ? Req{} : Req{"must be >= 0"}; }
Req probability(double v) {
  return v >= 0 && v < 1 ? Req{} : Req{"must be in [0, 1)"};
}

class Reader;
class Printer;

/// A key whose value is a section or has a shape of its own (slstm_at).
template <typename T> struct Nested {
  void (*read)(Reader &, const YNode &, const std::string &path, T &);
  void (*print)(Printer &, StringRef key, const T &);
};

/// Where a key's value goes. std::monostate: accepted but stored nowhere
/// (upstream recomputes it and ModelSpec has no member for it).
template <typename T>
using Member =
    std::variant<std::monostate, int64_t T::*, double T::*, bool T::*,
                 std::string T::*, std::optional<double> T::*,
                 std::optional<std::string> T::*, ActFn T::*, SLSTMBackend T::*,
                 SLSTMFunction T::*, SLSTMBiasInit T::*,
                 RecurrentWeightInit T::*, Nested<T>>;

/// One YAML key of an upstream dataclass.
template <typename T> struct Field {
  StringRef key;
  Member<T> member;
  IntCheck intCheck = nullptr;
  FloatCheck floatCheck = nullptr;
  ArrayRef<StringRef> choices;
  /// Set for keys upstream accepts and then overwrites; completes the
  /// sentence "upstream ...". Such keys are read, warned about and printed
  /// back as `# derived:` comments.
  const char *overwrittenBy = nullptr;
  /// A string member where null means "derive it" (sLSTM dtype_b).
  bool nullable = false;

  Field(StringRef key, Member<T> member) : key(key), member(member) {}
  Field(StringRef key, int64_t T::*m, IntCheck check)
      : key(key), member(m), intCheck(check) {}
  Field(StringRef key, double T::*m, FloatCheck check)
      : key(key), member(m), floatCheck(check) {}
  Field(StringRef key, std::string T::*m, ArrayRef<StringRef> choices)
      : key(key), member(m), choices(choices) {}
  Field(StringRef key, std::optional<std::string> T::*m,
        ArrayRef<StringRef> choices)
      : key(key), member(m), choices(choices) {}

  Field overwritten(const char *by) const {
    Field f = *this;
    f.overwrittenBy = by;
    return f;
  }
  Field orNull() const {
    Field f = *this;
    f.nullable = true;
    return f;
  }
};

/// The keys of one upstream dataclass.
template <typename T> struct Section {
  StringRef className;
  std::vector<Field<T>> fields;
  /// Prints values derived beyond the dataclass fields (head dims), or null.
  void (*printDerived)(Printer &, const T &) = nullptr;

  const Field<T> *find(StringRef key) const {
    auto it = find_if(fields, [&](const Field<T> &f) { return f.key == key; });
    return it == fields.end() ? nullptr : &*it;
  }
};

//===----------------------------------------------------------------------===//
// Reader
//===----------------------------------------------------------------------===//

/// Reports through the SourceMgr and remembers where each field was written.
class Reader {
public:
  Reader(SourceMgr &sm, yaml::Stream &stream, StringRef buffer)
      : sm(sm), stream(stream), buffer(buffer) {}

  bool failed() const { return numErrors != 0; }
  void error(SMLoc loc, const Twine &msg);
  void warning(SMLoc loc, const Twine &msg) {
    sm.PrintMessage(loc, SourceMgr::DK_Warning, msg);
  }
  unsigned lineOf(SMLoc loc) const { return sm.getLineAndColumn(loc).first; }

  bool readDocument(YNode &root, SMLoc start);

  /// Rejects what a model field can never hold: tags, aliases and OmegaConf
  /// interpolations.
  bool checkValue(const YNode &v, const std::string &path);
  bool typeError(const YNode &v, const std::string &path, const Twine &expected,
                 const Twine &hint = "");
  bool readInt(const YNode &v, const std::string &path, IntCheck check,
               int64_t &out);
  bool readFloat(const YNode &v, const std::string &path, FloatCheck check,
                 double &out);
  bool readBool(const YNode &v, const std::string &path, bool &out);
  bool readString(const YNode &v, const std::string &path,
                  ArrayRef<StringRef> choices, std::string &out);
  template <typename E>
  bool readEnum(const YNode &v, const std::string &path, E &out);

  template <typename T>
  void readSection(const YNode &map, const std::string &path, StringRef where,
                   const Section<T> &section, T &out);
  template <typename T>
  void readSubsection(const YNode &v, const std::string &path,
                      const Section<T> &section, T &out);
  template <typename T>
  void readOptionalSubsection(const YNode &v, const std::string &path,
                              const Section<T> &section, std::optional<T> &out);

  /// The location recorded for the first of `paths` that was written, else
  /// the start of the model config.
  SMLoc locOf(std::initializer_list<StringRef> paths) const {
    for (StringRef path : paths) {
      auto it = locs.find(path);
      if (it != locs.end())
        return it->second;
    }
    return rootLoc;
  }
  bool written(StringRef path) const { return locs.count(path); }

  SMLoc rootLoc;
  /// Locations of the `slstm_at` entries, parallel to StackConfig::slstmAt.
  std::vector<SMLoc> slstmAtLocs;

  template <typename T>
  void readField(const Field<T> &field, const YNode &v, const std::string &path,
                 T &out);
  /// Records where `path` was written (for locOf and written).
  void noteWritten(StringRef path, SMLoc loc) { locs[path] = loc; }

private:
  bool build(yaml::Node *node, YNode &out, unsigned depth, SMLoc fallback);
  SMLoc flowStart(SMLoc loc) const;

  SourceMgr &sm;
  yaml::Stream &stream;
  StringRef buffer;
  unsigned numErrors = 0;
  size_t numNodes = 0;
  /// Value location (key location for collections) of every field read.
  StringMap<SMLoc> locs;
};

} // namespace

void Reader::error(SMLoc loc, const Twine &msg) {
  if (++numErrors > kMaxErrors)
    return;
  sm.PrintMessage(loc, SourceMgr::DK_Error, msg);
  if (numErrors == kMaxErrors)
    sm.PrintMessage(loc, SourceMgr::DK_Note,
                    "too many errors; the rest are not shown");
}

/// llvm::yaml starts a flow collection's range at its first entry; step back
/// to the bracket on the same line so that messages point at the collection.
SMLoc Reader::flowStart(SMLoc loc) const {
  const char *p = loc.getPointer();
  while (p > buffer.begin() && (p[-1] == ' ' || p[-1] == '\t'))
    --p;
  if (p > buffer.begin() && (p[-1] == '[' || p[-1] == '{'))
    return SMLoc::getFromPointer(p - 1);
  return loc;
}

bool Reader::build(yaml::Node *node, YNode &out, unsigned depth,
                   SMLoc fallback) {
  if (!node) {
    // The YAML parser has reported why (it returns null only on errors).
    if (!stream.failed())
      error(fallback, "malformed YAML");
    return false;
  }
  SMLoc start = node->getSourceRange().Start;
  out.loc = start.isValid() ? start : fallback;
  if (depth > kMaxDepth) {
    error(out.loc, "YAML nesting deeper than " + Twine(kMaxDepth) +
                       " levels is not supported");
    return false;
  }
  if (++numNodes > kMaxNodes) {
    error(out.loc,
          "YAML document too large (more than " + Twine(kMaxNodes) + " nodes)");
    return false;
  }
  out.tag = node->getRawTag().str();
  switch (node->getType()) {
  case yaml::Node::NK_Null:
    // Empty values have no location of their own; their key's is better
    // than the next token's, which is what the parser records.
    out.kind = YNode::Null;
    out.loc = fallback;
    return true;
  case yaml::Node::NK_Alias:
    out.kind = YNode::Alias;
    out.value = cast<yaml::AliasNode>(node)->getName().str();
    out.loc = fallback;
    return true;
  case yaml::Node::NK_Scalar: {
    auto *scalar = cast<yaml::ScalarNode>(node);
    SmallString<32> storage;
    out.kind = YNode::Scalar;
    out.value = scalar->getValue(storage).str();
    StringRef raw = scalar->getRawValue();
    out.plain = !raw.starts_with("'") && !raw.starts_with("\"");
    return true;
  }
  case yaml::Node::NK_BlockScalar:
    out.kind = YNode::Scalar;
    out.value = cast<yaml::BlockScalarNode>(node)->getValue().str();
    out.plain = false;
    return true;
  case yaml::Node::NK_Mapping:
    out.kind = YNode::Mapping;
    out.loc = flowStart(out.loc);
    for (yaml::KeyValueNode &entry : *cast<yaml::MappingNode>(node)) {
      out.children.emplace_back();
      if (!build(entry.getKey(), out.children.back(), depth + 1, out.loc))
        return false;
      SMLoc keyLoc = out.children.back().loc;
      out.children.emplace_back();
      if (!build(entry.getValue(), out.children.back(), depth + 1, keyLoc))
        return false;
    }
    return !stream.failed();
  case yaml::Node::NK_Sequence:
    out.kind = YNode::Sequence;
    out.loc = flowStart(out.loc);
    for (yaml::Node &item : *cast<yaml::SequenceNode>(node)) {
      out.children.emplace_back();
      if (!build(&item, out.children.back(), depth + 1, out.loc))
        return false;
    }
    return !stream.failed();
  default:
    error(out.loc, "unsupported YAML node");
    return false;
  }
}

bool Reader::readDocument(YNode &root, SMLoc start) {
  yaml::document_iterator doc = stream.begin();
  if (doc == stream.end())
    return !stream.failed();
  if (!build(doc->getRoot(), root, 0, start) || stream.failed())
    return false;
  // Only now is it safe to advance: the document has been consumed, so the
  // iterator's skip() has nothing deep left to walk.
  ++doc;
  if (stream.failed())
    return false;
  if (doc != stream.end()) {
    yaml::Node *next = doc->getRoot();
    SMLoc loc = next ? next->getSourceRange().Start : SMLoc();
    error(loc.isValid() ? loc : start,
          "expected a single YAML document, found another one");
    return false;
  }
  return true;
}

bool Reader::checkValue(const YNode &v, const std::string &path) {
  if (!v.tag.empty()) {
    error(v.loc, "YAML tag '" + v.tag + "' on '" + path +
                     "' is not supported; write the plain value");
    return false;
  }
  if (v.kind == YNode::Alias) {
    error(v.loc, "YAML alias '*" + v.value + "' in '" + path +
                     "' is not supported; write the value");
    return false;
  }
  size_t at = v.kind == YNode::Scalar ? v.value.find("${") : std::string::npos;
  if (at == std::string::npos)
    return true;
  StringRef rest = StringRef(v.value).drop_front(at);
  error(v.loc, "OmegaConf interpolation '" +
                   shown(rest.take_until([](char c) { return c == '}'; })) +
                   "}' in field '" + path +
                   "' is not supported; write the value");
  return false;
}

bool Reader::typeError(const YNode &v, const std::string &path,
                       const Twine &expected, const Twine &hint) {
  error(v.loc,
        "'" + path + "' must be " + expected + ", got " + describe(v) + hint);
  return false;
}

/// Reports `'path' <requirement>, got <value> (<why>)`.
static bool rangeError(Reader &r, const YNode &v, const std::string &path,
                       Req req) {
  r.error(v.loc, "'" + path + "' " + req.what + ", got " + shown(v.value) +
                     (req.why ? Twine(" (") + req.why + ")" : Twine()));
  return false;
}

bool Reader::readInt(const YNode &v, const std::string &path, IntCheck check,
                     int64_t &out) {
  if (v.kind != YNode::Scalar || classify(v) != ScalarType::Int)
    return typeError(v, path, "an integer");
  StringRef digits = dropSign(v.value);
  bool negative = v.value[0] == '-';
  if (digits.size() > 1 && digits[0] == '0') {
    error(v.loc, "'" + path +
                     "' must be a decimal integer without leading "
                     "zeros, got " +
                     shown(v.value) + " (YAML 1.1 reads it as octal)");
    return false;
  }
  uint64_t magnitude = 0;
  uint64_t limit = (uint64_t(1) << 63) - (negative ? 0 : 1);
  if (digits.getAsInteger(10, magnitude) || magnitude > limit) {
    error(v.loc, "'" + path + "' is out of range: " + shown(v.value) +
                     " does not fit in a 64-bit integer");
    return false;
  }
  int64_t value = negative ? static_cast<int64_t>(0 - magnitude)
                           : static_cast<int64_t>(magnitude);
  if (check)
    if (Req req = check(value); req.what)
      return rangeError(*this, v, path, req);
  out = value;
  return true;
}

bool Reader::readFloat(const YNode &v, const std::string &path,
                       FloatCheck check, double &out) {
  ScalarType type = classify(v);
  if (v.kind != YNode::Scalar ||
      (type != ScalarType::Int && type != ScalarType::Float))
    return typeError(v, path, "a number");
  if (isInfOrNan(v.value)) {
    error(v.loc, "'" + path + "' must be a finite number, got " + v.value);
    return false;
  }
  double value = 0;
  if (StringRef(v.value).getAsDouble(value) || !std::isfinite(value)) {
    error(v.loc, "'" + path + "' is out of range: " + shown(v.value) +
                     " does not fit in a double");
    return false;
  }
  if (check)
    if (Req req = check(value); req.what)
      return rangeError(*this, v, path, req);
  out = value;
  return true;
}

bool Reader::readBool(const YNode &v, const std::string &path, bool &out) {
  if (v.kind == YNode::Scalar && classify(v) == ScalarType::Bool) {
    out = v.value[0] == 't' || v.value[0] == 'T';
    return true;
  }
  bool yaml11 =
      v.kind == YNode::Scalar && v.plain &&
      oneOf(StringRef(v.value).lower(), {"yes", "no", "on", "off", "y", "n"});
  return typeError(v, path, "a boolean (true or false)",
                   yaml11 ? "; YAML 1.1 spellings such as yes/no/on/off are "
                            "not booleans here"
                          : "");
}

bool Reader::readString(const YNode &v, const std::string &path,
                        ArrayRef<StringRef> choices, std::string &out) {
  std::string expected =
      choices.empty() ? "a string" : "one of " + join(choices, ", ");
  if (v.kind != YNode::Scalar || classify(v) != ScalarType::String ||
      (!choices.empty() && !is_contained(choices, v.value)))
    return typeError(v, path, expected);
  out = v.value;
  return true;
}

template <typename E>
bool Reader::readEnum(const YNode &v, const std::string &path, E &out) {
  // toString() yields "" past the last enumerator.
  SmallVector<StringRef, 8> names;
  for (int i = 0; !toString(static_cast<E>(i)).empty(); ++i)
    names.push_back(toString(static_cast<E>(i)));
  std::string name;
  if (!readString(v, path, names, name))
    return false;
  out = static_cast<E>(find(names, name) - names.begin());
  return true;
}

template <typename T>
void Reader::readField(const Field<T> &field, const YNode &v,
                       const std::string &path, T &out) {
  std::visit(
      [&](auto member) {
        using M = decltype(member);
        if constexpr (std::is_same_v<M, std::monostate>) {
          if (v.kind != YNode::Scalar && v.kind != YNode::Null)
            typeError(v, path, "a scalar");
        } else if constexpr (std::is_same_v<M, Nested<T>>) {
          member.read(*this, v, path, out);
        } else if constexpr (std::is_same_v<M, int64_t T::*>) {
          readInt(v, path, field.intCheck, out.*member);
        } else if constexpr (std::is_same_v<M, double T::*>) {
          readFloat(v, path, field.floatCheck, out.*member);
        } else if constexpr (std::is_same_v<M, bool T::*>) {
          readBool(v, path, out.*member);
        } else if constexpr (std::is_same_v<M, std::string T::*>) {
          if (field.nullable && isNull(v))
            (out.*member).clear();
          else
            readString(v, path, field.choices, out.*member);
        } else if constexpr (std::is_same_v<M, std::optional<double> T::*>) {
          double value = 0;
          if (isNull(v))
            (out.*member).reset();
          else if (readFloat(v, path, field.floatCheck, value))
            out.*member = value;
        } else if constexpr (std::is_same_v<M,
                                            std::optional<std::string> T::*>) {
          std::string value;
          if (isNull(v))
            (out.*member).reset();
          else if (readString(v, path, field.choices, value))
            out.*member = value;
        } else {
          readEnum(v, path, out.*member);
        }
      },
      field.member);
}

template <typename T>
void Reader::readSection(const YNode &map, const std::string &path,
                         StringRef where, const Section<T> &section, T &out) {
  StringMap<SMLoc> seen;
  for (size_t i = 0, e = map.numEntries(); i != e; ++i) {
    const YNode &key = map.key(i), &value = map.val(i);
    if (key.kind != YNode::Scalar || !key.tag.empty()) {
      error(key.loc, "keys in " + where + " must be plain strings, got " +
                         describe(key));
      continue;
    }
    auto [first, inserted] = seen.try_emplace(key.value, key.loc);
    if (!inserted) {
      error(key.loc, "duplicate key '" + shown(key.value) + "' in " + where +
                         " (first given at line " +
                         Twine(lineOf(first->second)) + ")");
      continue;
    }
    const Field<T> *field = section.find(key.value);
    if (!field) {
      SmallVector<StringRef, 32> expected;
      StringRef suggestion;
      unsigned best = 3; // suggest only close misspellings
      for (const Field<T> &f : section.fields) {
        if (f.overwrittenBy)
          continue;
        expected.push_back(f.key);
        unsigned distance = StringRef(key.value).edit_distance(f.key, true, 3);
        if (distance < best) {
          best = distance;
          suggestion = f.key;
        }
      }
      error(key.loc,
            "unknown key '" + shown(key.value) + "' in " + where +
                (suggestion.empty() ? Twine(";")
                                    : "; did you mean '" + suggestion + "'?") +
                " expected one of: " + join(expected, ", "));
      continue;
    }
    std::string fieldPath = joinPath(path, key.value);
    locs[fieldPath] = value.kind == YNode::Scalar ? value.loc : key.loc;
    if (!checkValue(value, fieldPath))
      continue;
    if (field->overwrittenBy)
      warning(key.loc, "'" + fieldPath + "' is ignored: upstream " +
                           field->overwrittenBy);
    readField(*field, value, fieldPath, out);
  }
}

template <typename T>
void Reader::readSubsection(const YNode &v, const std::string &path,
                            const Section<T> &section, T &out) {
  if (v.kind != YNode::Mapping) {
    typeError(v, path, "a mapping (" + section.className + ")");
    return;
  }
  readSection(v, path, path, section, out);
}

template <typename T>
void Reader::readOptionalSubsection(const YNode &v, const std::string &path,
                                    const Section<T> &section,
                                    std::optional<T> &out) {
  if (isNull(v)) {
    out.reset();
    return;
  }
  if (v.kind != YNode::Mapping) {
    typeError(v, path, "a mapping (" + section.className + ") or null");
    return;
  }
  out.emplace();
  readSection(v, path, path, section, *out);
}

//===----------------------------------------------------------------------===//
// Printer
//===----------------------------------------------------------------------===//

namespace {

/// Writes YAML in the upstream schema, two spaces per level.
class Printer {
public:
  explicit Printer(raw_ostream &os) : os(os) {}

  void line(StringRef key, const Twine &value) {
    os.indent(indent) << key << ": " << value << "\n";
  }
  void derived(StringRef key, const Twine &value) {
    os.indent(indent) << "# derived: " << key << ": " << value << "\n";
  }
  template <typename T> void section(const Section<T> &section, const T &obj);
  template <typename T>
  void subsection(StringRef key, const Section<T> &s, const T &obj) {
    os.indent(indent) << key << ":\n";
    indent += 2;
    section(s, obj);
    indent -= 2;
  }
  template <typename T>
  void optionalSubsection(StringRef key, const Section<T> &s,
                          const std::optional<T> &obj) {
    if (obj)
      subsection(key, s, *obj);
    else
      line(key, "null");
  }

private:
  raw_ostream &os;
  unsigned indent = 0;
};

std::string formatValue(int64_t v) { return std::to_string(v); }
std::string formatValue(double v) { return formatFloat(v); }
std::string formatValue(bool v) { return v ? "true" : "false"; }
/// Validated spellings print plain; anything else (a hand-built spec) is
/// quoted so that the output stays valid YAML.
std::string formatValue(const std::string &v) {
  YNode n;
  n.kind = YNode::Scalar;
  n.value = v;
  bool plainSafe = classify(n) == ScalarType::String && all_of(v, [](char c) {
                     return isAlnum(c) || StringRef("_-^.").contains(c);
                   });
  return plainSafe ? v : "\"" + yaml::escape(v) + "\"";
}
template <typename V> std::string formatValue(const std::optional<V> &v) {
  return v ? formatValue(*v) : "null";
}
template <typename E, typename = std::enable_if_t<std::is_enum_v<E>>>
std::string formatValue(E v) {
  return toString(v).str();
}

} // namespace

template <typename T> void Printer::section(const Section<T> &s, const T &obj) {
  for (const Field<T> &field : s.fields) {
    std::visit(
        [&](auto member) {
          using M = decltype(member);
          if constexpr (std::is_same_v<M, Nested<T>>) {
            member.print(*this, field.key, obj);
          } else if constexpr (!std::is_same_v<M, std::monostate>) {
            if (field.overwrittenBy)
              derived(field.key, formatValue(obj.*member));
            else
              line(field.key, formatValue(obj.*member));
          }
        },
        field.member);
  }
  if (s.printDerived)
    s.printDerived(*this, obj);
}

//===----------------------------------------------------------------------===//
// The upstream schema
//===----------------------------------------------------------------------===//

namespace {

/// A key whose value is the nested dataclass `C::*M`, described by `S()`.
template <typename C, typename V, V C::*M, const Section<V> &(*S)()>
Nested<C> nestedSection() {
  return {[](Reader &r, const YNode &v, const std::string &path, C &c) {
            r.readSubsection(v, path, S(), c.*M);
          },
          [](Printer &p, StringRef key, const C &c) {
            p.subsection(key, S(), c.*M);
          }};
}

/// The same for an Optional[...] dataclass, where null means None.
template <typename C, typename V, std::optional<V> C::*M,
          const Section<V> &(*S)()>
Nested<C> optionalSection() {
  return {[](Reader &r, const YNode &v, const std::string &path, C &c) {
            r.readOptionalSubsection(v, path, S(), c.*M);
          },
          [](Printer &p, StringRef key, const C &c) {
            p.optionalSubsection(key, S(), c.*M);
          }};
}

const Section<MLSTMLayerConfig> &mlstmLayerSection() {
  using C = MLSTMLayerConfig;
  static const Section<C> section{
      "mLSTMLayerConfig",
      {
          {"proj_factor", &C::projFactor, positive},
          {"round_proj_up_dim_up", &C::roundProjUpDimUp},
          {"round_proj_up_to_multiple_of", &C::roundProjUpToMultipleOf,
           positiveDim},
          Field<C>("_proj_up_dim", &C::innerEmbeddingDim)
              .overwritten("derives it from proj_factor and embedding_dim"),
          {"conv1d_kernel_size", &C::conv1dKernelSize, mlstmConvWidth},
          {"qkv_proj_blocksize", &C::qkvProjBlocksize, positiveDim},
          {"num_heads", &C::numHeads, positiveDim},
          Field<C>("embedding_dim", &C::embeddingDim)
              .overwritten("sets it from the stack's 'embedding_dim'"),
          Field<C>("bias", &C::bias)
              .overwritten("sets it from the stack's 'bias'"),
          Field<C>("dropout", &C::dropout)
              .overwritten("sets it from the stack's 'dropout'"),
          Field<C>("context_length", &C::contextLength)
              .overwritten("sets it from the stack's 'context_length'"),
          Field<C>("_num_blocks", &C::numBlocks)
              .overwritten("sets it from 'num_blocks'"),
          Field<C>("_inner_embedding_dim", &C::innerEmbeddingDim)
              .overwritten("derives it from proj_factor and embedding_dim"),
      },
      [](Printer &p, const C &c) {
        if (c.numHeads > 0)
          p.derived("head_dim", formatValue(c.headDim()));
        if (c.qkvProjBlocksize > 0)
          p.derived("num_proj_heads",
                    formatValue(c.innerEmbeddingDim / c.qkvProjBlocksize));
      }};
  return section;
}

const Section<MLSTMBlockConfig> &mlstmBlockSection() {
  using C = MLSTMBlockConfig;
  static const Section<C> section{
      "mLSTMBlockConfig",
      {
          {"mlstm",
           nestedSection<C, MLSTMLayerConfig, &C::mlstm, mlstmLayerSection>()},
          Field<C>("_num_blocks", std::monostate())
              .overwritten("sets it from 'num_blocks'"),
          Field<C>("_block_idx", std::monostate())
              .overwritten("sets it per block position"),
      }};
  return section;
}

const Section<SLSTMLayerConfig> &slstmLayerSection() {
  using C = SLSTMLayerConfig;
  static const Section<C> section{
      "sLSTMLayerConfig",
      {
          Field<C>("hidden_size", &C::hiddenSize)
              .overwritten("sets it from 'embedding_dim'"),
          {"num_heads", &C::numHeads, slstmHeads},
          Field<C>("num_states", &C::numStates)
              .overwritten("derives it from 'function'"),
          {"backend", &C::backend},
          {"function", &C::function},
          {"bias_init", &C::biasInit},
          {"recurrent_weight_init", &C::recurrentWeightInit},
          Field<C>("_block_idx", std::monostate())
              .overwritten("sets it per block position"),
          Field<C>("_num_blocks", &C::numBlocks)
              .overwritten("sets it from 'num_blocks'"),
          {"num_gates", &C::numGates, fourGates},
          {"gradient_recurrent_cut", &C::gradientRecurrentCut},
          {"gradient_recurrent_clipval", &C::gradientRecurrentClipval},
          {"forward_clipval", &C::forwardClipval},
          {"batch_size", &C::batchSize, positiveDim},
          {"input_shape", &C::inputShape, kInputShapes},
          {"internal_input_shape", &C::internalInputShape,
           kInternalInputShapes},
          {"output_shape", &C::outputShape, kOutputShapes},
          {"constants",
           Nested<C>{
               [](Reader &r, const YNode &v, const std::string &path, C &) {
                 // Extra defines for upstream's CUDA kernel build; they
                 // mean nothing to this compiler.
                 if (v.kind != YNode::Mapping || !v.children.empty())
                   r.typeError(v, path, "an empty mapping",
                               " (extra CUDA compile defines of "
                               "upstream's sLSTM kernel are not "
                               "supported)");
               },
               [](Printer &p, StringRef key, const C &) {
                 p.line(key, "{}");
               }}},
          {"dtype", &C::dtype, kDtypes},
          Field<C>("dtype_b", &C::dtypeB, kDtypes).orNull(),
          {"dtype_r", &C::dtypeR, kDtypes},
          {"dtype_w", &C::dtypeW, kDtypes},
          {"dtype_g", &C::dtypeG, kDtypes},
          {"dtype_s", &C::dtypeS, kDtypes},
          {"dtype_a", &C::dtypeA, kDtypes},
          {"enable_automatic_mixed_precision",
           &C::enableAutomaticMixedPrecision},
          {"initial_val", &C::initialVal, nullptr},
          Field<C>("embedding_dim", &C::embeddingDim)
              .overwritten("sets it from the stack's 'embedding_dim'"),
          {"conv1d_kernel_size", &C::conv1dKernelSize, slstmConvWidth},
          {"group_norm_weight", &C::groupNormWeight},
          Field<C>("dropout", &C::dropout)
              .overwritten("sets it from the stack's 'dropout'"),
      },
      [](Printer &p, const C &c) {
        if (c.numHeads > 0)
          p.derived("head_dim", formatValue(c.headDim()));
      }};
  return section;
}

const Section<FeedForwardConfig> &feedForwardSection() {
  using C = FeedForwardConfig;
  static const Section<C> section{
      "FeedForwardConfig",
      {
          {"proj_factor", &C::projFactor, positive},
          {"round_proj_up_dim_up", &C::roundProjUpDimUp},
          {"round_proj_up_to_multiple_of", &C::roundProjUpToMultipleOf,
           positiveDim},
          Field<C>("_proj_up_dim", &C::projUpDim)
              .overwritten("derives it from proj_factor and embedding_dim"),
          {"act_fn", &C::actFn},
          Field<C>("embedding_dim", &C::embeddingDim)
              .overwritten("sets it from the sLSTM layer's 'embedding_dim'"),
          {"dropout", &C::dropout, probability},
          {"bias", &C::bias},
          {"ff_type", &C::ffType, kFFTypes},
          Field<C>("_num_blocks", &C::numBlocks)
              .overwritten("sets it from 'num_blocks'"),
      }};
  return section;
}

const Section<SLSTMBlockConfig> &slstmBlockSection() {
  using C = SLSTMBlockConfig;
  static const Section<C> section{
      "sLSTMBlockConfig",
      {
          {"slstm",
           nestedSection<C, SLSTMLayerConfig, &C::slstm, slstmLayerSection>()},
          {"feedforward", optionalSection<C, FeedForwardConfig, &C::feedforward,
                                          feedForwardSection>()},
          Field<C>("_num_blocks", std::monostate())
              .overwritten("sets it from 'num_blocks'"),
          Field<C>("_block_idx", std::monostate())
              .overwritten("sets it per block position"),
      }};
  return section;
}

void readSlstmAt(Reader &r, const YNode &v, const std::string &path,
                 StackConfig &s) {
  s.slstmAt.clear();
  r.slstmAtLocs.clear();
  s.slstmAtAll = v.kind == YNode::Scalar && classify(v) == ScalarType::String &&
                 v.value == "all";
  if (s.slstmAtAll)
    return;
  if (v.kind != YNode::Sequence) {
    r.typeError(v, path, "a list of block indices or 'all'");
    return;
  }
  for (const YNode &item : v.children) {
    std::string itemPath = path + "[" + std::to_string(s.slstmAt.size()) + "]";
    int64_t index = 0;
    if (r.checkValue(item, itemPath) &&
        r.readInt(item, itemPath, nullptr, index)) {
      s.slstmAt.push_back(index);
      r.slstmAtLocs.push_back(item.loc);
    }
  }
}

void printSlstmAt(Printer &p, StringRef key, const StackConfig &s) {
  if (s.slstmAtAll)
    return p.line(key, "all");
  std::string list;
  for (int64_t index : s.slstmAt)
    list += (list.empty() ? "" : ", ") + std::to_string(index);
  p.line(key, "[" + list + "]");
}

const Section<StackConfig> &stackSection() {
  using C = StackConfig;
  static const Section<C> section{
      "xLSTMBlockStackConfig",
      {
          {"mlstm_block", optionalSection<C, MLSTMBlockConfig, &C::mlstmBlock,
                                          mlstmBlockSection>()},
          {"slstm_block", optionalSection<C, SLSTMBlockConfig, &C::slstmBlock,
                                          slstmBlockSection>()},
          {"context_length", &C::contextLength, contextLength},
          {"num_blocks", &C::numBlocks, blockCount},
          {"embedding_dim", &C::embeddingDim, positiveDim},
          {"add_post_blocks_norm", &C::addPostBlocksNorm},
          {"bias", &C::bias},
          {"dropout", &C::dropout, probability},
          {"slstm_at", Nested<C>{readSlstmAt, printSlstmAt}},
          Field<C>("_block_map", std::monostate())
              .overwritten("derives it from 'slstm_at'"),
      },
      [](Printer &p, const C &c) {
        p.derived("_block_map", "\"" + c.blockMapString() + "\"");
      }};
  return section;
}

/// xLSTMLMModelConfig: the stack's keys plus four of its own.
const Section<StackConfig> &lmSection() {
  using C = StackConfig;
  static const Section<C> section = [] {
    Section<C> s = stackSection();
    s.className = "xLSTMLMModelConfig";
    s.fields.insert(s.fields.end(),
                    {{"vocab_size", &C::vocabSize, positiveDim},
                     {"tie_weights", &C::tieWeights},
                     {"weight_decay_on_embedding", &C::weightDecayOnEmbedding},
                     {"add_embedding_dropout", &C::addEmbeddingDropout}});
    return s;
  }();
  return section;
}

const Section<LargeConfig> &largeSection() {
  using C = LargeConfig;
  static const Section<C> section{
      "xLSTMLargeConfig",
      {
          {"embedding_dim", &C::embeddingDim, positiveDim},
          {"num_heads", &C::numHeads, positiveDim},
          {"num_blocks", &C::numBlocks, blockCount},
          {"vocab_size", &C::vocabSize, positiveDim},
          {"use_bias", &C::useBias},
          {"norm_eps", &C::normEps, nonNegative},
          {"norm_reduction_force_float32", &C::normReductionForceFloat32},
          {"add_out_norm", &C::addOutNorm},
          {"qk_dim_factor", &C::qkDimFactor, positive},
          {"v_dim_factor", &C::vDimFactor, positive},
          {"chunkwise_kernel", &C::chunkwiseKernel, kChunkwiseKernels},
          {"sequence_kernel", &C::sequenceKernel, kSequenceKernels},
          {"step_kernel", &C::stepKernel, kStepKernels},
          {"mode", &C::mode, kModes},
          {"chunk_size", &C::chunkSize, positiveDim},
          {"return_last_states", &C::returnLastStates},
          {"autocast_kernel_dtype", &C::autocastKernelDtype, kDtypes},
          {"eps", &C::eps, nonNegative},
          {"inference_state_dtype", &C::inferenceStateDtype, kDtypes},
          {"ffn_proj_factor", &C::ffnProjFactor, positive},
          {"ffn_round_up_to_multiple_of", &C::ffnRoundUpToMultipleOf,
           positiveDim},
          {"gate_soft_cap", &C::gateSoftCap, positive},
          {"output_logit_soft_cap", &C::outputLogitSoftCap, positive},
          {"weight_mode", &C::weightMode, kWeightModes},
      },
      [](Printer &p, const C &c) {
        p.derived("qk_dim", formatValue(c.qkDim));
        p.derived("v_dim", formatValue(c.vDim));
        p.derived("qk_head_dim", formatValue(c.qkHeadDim));
        p.derived("v_head_dim", formatValue(c.vHeadDim));
        p.derived("up_proj_dim", formatValue(c.ffnDim));
      }};
  return section;
}

/// Keys every family shares; they do not decide the family.
bool isSharedKey(StringRef key) {
  return oneOf(key, {"embedding_dim", "num_blocks", "vocab_size"});
}

//===----------------------------------------------------------------------===//
// Derivations and cross-field checks (upstream __post_init__)
//===----------------------------------------------------------------------===//

/// UpProjConfigMixin._set_proj_up_dim. When `report`, a result outside
/// 1..2^31-1 is an error against `section`.proj_factor; unreported (the block
/// type is unused) it is returned as computed, -1 if unrepresentable.
int64_t upProjDim(Reader &r, bool report, const std::string &section,
                  StringRef derivedKey, double projFactor, int64_t embeddingDim,
                  int64_t multiple, bool roundUp) {
  double raw = projFactor * static_cast<double>(embeddingDim);
  int64_t dim =
      raw / static_cast<double>(multiple) <= kMaxDim
          ? computeProjUpDim(projFactor, embeddingDim, multiple, roundUp)
          : -1;
  if (dim >= 1 && dim <= kMaxDim)
    return dim;
  if (report)
    r.error(r.locOf({section + ".proj_factor", section}),
            "'" + section + "." + derivedKey + "' = proj_factor " +
                formatFloat(projFactor) + " x embedding_dim " +
                Twine(embeddingDim) + ", rounded " + (roundUp ? "up" : "down") +
                " to a multiple of " + Twine(multiple) + ", is " +
                (dim < 0 ? Twine("too large") : Twine(dim)) +
                "; it must be between 1 and 2147483647");
  return dim;
}

void deriveStack(Reader &r, ModelFamily family, StackConfig &s) {
  int64_t n = s.numBlocks, e = s.embeddingDim;
  if (family == ModelFamily::LMModel && !r.written("vocab_size"))
    r.error(r.rootLoc, "'vocab_size' is required for an xLSTMLMModelConfig "
                       "(upstream's default -1 cannot build the embedding)");

  // Without an mLSTM block every block is an sLSTM block.
  if (!s.mlstmBlock) {
    bool everyBlock = s.slstmAt.size() == static_cast<size_t>(n);
    for (size_t i = 0; everyBlock && i < s.slstmAt.size(); ++i)
      everyBlock = s.slstmAt[i] == static_cast<int64_t>(i);
    if (!s.slstmAtAll && r.written("slstm_at") && !everyBlock)
      r.warning(r.locOf({"slstm_at"}),
                "'slstm_at' is ignored: without 'mlstm_block' every block is "
                "an sLSTM block (upstream sets slstm_at to 'all')");
    s.slstmAtAll = true;
  }
  if (s.slstmAtAll) {
    s.slstmAt.clear();
    for (int64_t i = 0; i < n; ++i)
      s.slstmAt.push_back(i);
  }

  s.blockMap.assign(n, BlockKind::MLSTM);
  SMLoc firstSLSTM;
  int64_t firstSLSTMIndex = -1;
  for (size_t i = 0; i < s.slstmAt.size(); ++i) {
    int64_t index = s.slstmAt[i];
    SMLoc loc = i < r.slstmAtLocs.size() && !s.slstmAtAll
                    ? r.slstmAtLocs[i]
                    : r.locOf({"slstm_at"});
    if (index < 0) {
      r.error(loc, "'slstm_at' index " + Twine(index) +
                       " is negative; blocks are numbered from 0");
    } else if (index >= n) {
      r.error(loc, "'slstm_at' index " + Twine(index) +
                       " is out of range: num_blocks is " + Twine(n) +
                       ", so indices go from 0 to " + Twine(n - 1));
    } else if (s.blockMap[index] == BlockKind::SLSTM) {
      r.error(loc, "'slstm_at' lists block " + Twine(index) + " twice");
    } else {
      s.blockMap[index] = BlockKind::SLSTM;
      if (firstSLSTMIndex < 0) {
        firstSLSTM = loc;
        firstSLSTMIndex = index;
      }
    }
  }
  bool usesMLSTM = is_contained(s.blockMap, BlockKind::MLSTM);
  bool usesSLSTM = is_contained(s.blockMap, BlockKind::SLSTM);

  if (usesSLSTM && !s.slstmBlock) {
    if (!s.mlstmBlock)
      r.error(r.rootLoc, "neither 'mlstm_block' nor 'slstm_block' is set; "
                         "without 'mlstm_block' every block is an sLSTM "
                         "block, so 'slstm_block' is required");
    else
      r.error(firstSLSTM, "block " + Twine(firstSLSTMIndex) +
                              " is an sLSTM block ('slstm_at') but "
                              "'slstm_block' is not set");
  }

  if (s.mlstmBlock) {
    MLSTMLayerConfig &m = s.mlstmBlock->mlstm;
    const std::string path = "mlstm_block.mlstm";
    m.embeddingDim = e;
    m.bias = s.bias;
    m.dropout = s.dropout;
    m.contextLength = s.contextLength;
    m.numBlocks = n;
    m.innerEmbeddingDim =
        upProjDim(r, usesMLSTM, path, "_inner_embedding_dim", m.projFactor, e,
                  m.roundProjUpToMultipleOf, m.roundProjUpDimUp);
    int64_t di = m.innerEmbeddingDim;
    auto mustDivide = [&](StringRef key, int64_t value) {
      std::string field = joinPath(path, key);
      if (usesMLSTM && di > 0 && di % value != 0)
        r.error(r.locOf({field, path, "mlstm_block"}),
                "'" + field + "' (" + Twine(value) +
                    ") must divide the mLSTM inner dimension "
                    "_inner_embedding_dim = " +
                    Twine(di));
    };
    mustDivide("num_heads", m.numHeads);
    mustDivide("qkv_proj_blocksize", m.qkvProjBlocksize);
  }

  if (s.slstmBlock) {
    SLSTMLayerConfig &l = s.slstmBlock->slstm;
    const std::string path = "slstm_block.slstm";
    l.dropout = s.dropout;
    l.embeddingDim = e;
    l.hiddenSize = e;
    l.numBlocks = n;
    if (l.numHeads <= 0)
      l.numHeads = 1;
    if (usesSLSTM && e % l.numHeads != 0)
      r.error(r.locOf({path + ".num_heads", path, "slstm_block"}),
              "'" + path + ".num_heads' (" + Twine(l.numHeads) +
                  ") must divide embedding_dim " + Twine(e) +
                  " (the sLSTM hidden size)");
    // sLSTMCellConfig.__post_init__, in upstream's order.
    if (l.dtypeB.empty())
      l.dtypeB = l.dtype;
    if (!l.dtypeA)
      l.dtypeA = l.dtypeB;
    if (!l.dtypeR)
      l.dtypeR = l.dtype;
    if (!l.dtypeW)
      l.dtypeW = l.dtype;
    if (!l.dtypeS)
      l.dtypeS = l.dtypeW;
    if (!l.dtypeG)
      l.dtypeG = l.dtypeR;
    l.numStates = l.function == SLSTMFunction::LSTM ? 2 : 4;

    if (std::optional<FeedForwardConfig> &ff = s.slstmBlock->feedforward) {
      ff->embeddingDim = l.embeddingDim;
      ff->numBlocks = n;
      ff->projUpDim = upProjDim(
          r, usesSLSTM, "slstm_block.feedforward", "_proj_up_dim",
          ff->projFactor, e, ff->roundProjUpToMultipleOf, ff->roundProjUpDimUp);
    }
  }
}

void deriveLarge(Reader &r, LargeConfig &c) {
  for (StringRef key :
       {"embedding_dim", "num_heads", "num_blocks", "vocab_size"})
    if (!r.written(key))
      r.error(r.rootLoc, "missing required field '" + key +
                             "' (xLSTMLargeConfig has no default for it)");
  if (r.failed())
    return;

  // mLSTMLayer: int(embedding_dim * factor), split evenly over the heads.
  auto headSplit = [&](StringRef name, StringRef factorKey, double factor,
                       int64_t &dim, int64_t &headDim) {
    double raw = static_cast<double>(c.embeddingDim) * factor;
    dim = raw >= 1 && raw <= kMaxDim ? static_cast<int64_t>(raw) : 0;
    std::string formula = ("int(embedding_dim " + Twine(c.embeddingDim) +
                           " x " + factorKey + " " + formatFloat(factor) + ")")
                              .str();
    if (dim == 0)
      r.error(r.locOf({factorKey, "embedding_dim"}),
              "'" + name + "' = " + formula + " is " +
                  (raw < 1 ? "0" : "too large") +
                  "; it must be between 1 and 2147483647");
    else if (dim % c.numHeads != 0)
      r.error(r.locOf({"num_heads"}), "'num_heads' (" + Twine(c.numHeads) +
                                          ") must divide " + name + " = " +
                                          formula + " = " + Twine(dim));
    else
      headDim = dim / c.numHeads;
  };
  headSplit("qk_dim", "qk_dim_factor", c.qkDimFactor, c.qkDim, c.qkHeadDim);
  headSplit("v_dim", "v_dim_factor", c.vDimFactor, c.vDim, c.vHeadDim);

  // FeedForward: round_up_to_next_multiple_of(E * f, m) on Python floats.
  double multiple = static_cast<double>(c.ffnRoundUpToMultipleOf);
  double raw = static_cast<double>(c.embeddingDim) * c.ffnProjFactor;
  double rounded = pyFloorDiv(raw + multiple - 1, multiple) * multiple;
  if (rounded >= 1 && rounded <= kMaxDim)
    c.ffnDim = static_cast<int64_t>(rounded);
  else
    r.error(r.locOf({"ffn_proj_factor", "embedding_dim"}),
            "the feed-forward width round_up(embedding_dim " +
                Twine(c.embeddingDim) + " x ffn_proj_factor " +
                formatFloat(c.ffnProjFactor) + ", " +
                Twine(c.ffnRoundUpToMultipleOf) +
                ") is too large; it must be <= 2147483647");
}

//===----------------------------------------------------------------------===//
// Hugging Face config.json (transformers' xLSTMConfig)
//===----------------------------------------------------------------------===//

/// transformers' xLSTMConfig keys that are xLSTMLargeConfig fields under
/// another name (7B spec §1.2); the rest of its model keys share the name.
constexpr std::pair<StringLiteral, StringLiteral> kHFRenamedKeys[] = {
    {"hidden_size", "embedding_dim"},
    {"num_hidden_layers", "num_blocks"},
};

/// Keys of a Hugging Face config.json that do not change the computation:
/// PretrainedConfig bookkeeping, inference-cache and kernel-backend
/// choices, and the original 7B config's training-time fields.
constexpr StringLiteral kHFIgnoredKeys[] = {
    "architectures", "auto_map", "torch_dtype", "dtype",
    "transformers_version", "use_cache", "max_inference_chunksize",
    "_name_or_path", "output_hidden_states", "output_attentions",
    "return_dict", "is_encoder_decoder", "cell_norm_eps",
    "igate_bias_init_range", "mlstm_round_up_to_multiple_of",
    "add_forward_backend_padding", "forward_backend_name",
    "step_backend_name", "head_dim", "generation_config"};

/// Keys that change the model in ways this compiler does not build; false
/// (their default) is the only accepted value.
constexpr StringLiteral kHFMustBeFalseKeys[] = {
    "tie_word_embeddings", "add_qk_norm", "add_post_norm"};

/// transformers' defaults differ from xLSTMLargeConfig's (the 7B's values,
/// inference mode).
LargeConfig hfDefaults() {
  LargeConfig c;
  c.vocabSize = 50304;
  c.embeddingDim = 4096;
  c.numBlocks = 32;
  c.numHeads = 8;
  c.chunkwiseKernel = "chunkwise--native_autograd";
  c.sequenceKernel = "native_sequence__native";
  c.stepKernel = "native";
  c.mode = "inference";
  c.returnLastStates = true;
  c.ffnProjFactor = 2.667;
  return c;
}

/// Reads a config.json with `model_type: xlstm` into `spec` (family Large).
void readHFConfig(Reader &r, const YNode &root, ModelSpec &spec) {
  spec.family = ModelFamily::Large;
  spec.large = hfDefaults();
  ModelSpec::SpecialTokens tokens;
  StringMap<SMLoc> seen;
  // The first of hidden_size/embedding_dim (num_hidden_layers/num_blocks)
  // given decides; the other must agree.
  StringMap<std::pair<std::string, int64_t>> renamedValue;
  for (size_t i = 0, e = root.numEntries(); i != e; ++i) {
    const YNode &key = root.key(i), &value = root.val(i);
    if (key.kind != YNode::Scalar) {
      r.error(key.loc, "keys of config.json must be strings");
      continue;
    }
    StringRef name = key.value;
    if (!seen.try_emplace(name, key.loc).second) {
      r.error(key.loc, "duplicate key '" + shown(name) + "'");
      continue;
    }
    if (!r.checkValue(value, name.str()))
      continue;
    if (name == "model_type" || is_contained(kHFIgnoredKeys, name))
      continue;
    if (is_contained(kHFMustBeFalseKeys, name)) {
      bool on = false;
      if (r.readBool(value, name.str(), on) && on)
        r.error(value.loc, "'" + name +
                               "' is true; xlstm-mlir builds the xLSTM-7B "
                               "architecture without it (only false is "
                               "supported)");
      continue;
    }
    if (name == "bos_token_id" || name == "pad_token_id") {
      if (isNull(value))
        continue;
      int64_t id = 0;
      if (r.readInt(value, name.str(), nullptr, id))
        (name == "bos_token_id" ? tokens.bos : tokens.pad) = id;
      continue;
    }
    if (name == "eos_token_id") {
      auto readId = [&](const YNode &v) {
        int64_t id = 0;
        if (r.readInt(v, "eos_token_id", nullptr, id))
          tokens.eos.push_back(id);
      };
      if (value.kind == YNode::Sequence)
        for_each(value.children, readId);
      else if (!isNull(value))
        readId(value);
      continue;
    }
    if (name == "force_bos_token_insert") {
      r.readBool(value, name.str(), tokens.forceBosInsert);
      continue;
    }
    StringRef field = name;
    for (auto [hf, large] : kHFRenamedKeys)
      if (name == hf)
        field = large;
    const Field<LargeConfig> *f = largeSection().find(field);
    if (!f) {
      r.warning(key.loc, "'" + shown(name) +
                             "' is not a field of transformers' xLSTMConfig; "
                             "ignored");
      continue;
    }
    // transformers' __post_init__ fills a null alias from its partner.
    if (isNull(value) && (field == "embedding_dim" || field == "num_blocks"))
      continue;
    std::string path = name.str();
    if (field == "embedding_dim" || field == "num_blocks") {
      int64_t v = 0;
      if (!r.readInt(value, path, f->intCheck, v))
        continue;
      auto [it, first] = renamedValue.try_emplace(field, path, v);
      if (!first && it->second.second != v) {
        r.error(value.loc, "'" + name + "' is " + Twine(v) + " but '" +
                               it->second.first + "' is " +
                               Twine(it->second.second) +
                               "; they name the same field");
        continue;
      }
      (field == "embedding_dim" ? spec.large.embeddingDim
                                : spec.large.numBlocks) = v;
      r.noteWritten(field, value.loc);
      continue;
    }
    r.noteWritten(field, value.kind == YNode::Scalar ? value.loc : key.loc);
    r.readField(*f, value, path, spec.large);
  }
  // Every field has transformers' default; deriveLarge wants them written.
  for (StringRef required :
       {"embedding_dim", "num_heads", "num_blocks", "vocab_size"})
    if (!r.written(required))
      r.noteWritten(required, r.rootLoc);
  spec.specialTokens = std::move(tokens);
}

/// transformers' xLSTMConfig rounds qk_dim and v_dim up to a multiple of 64
/// for its cache while its layers use int(E x factor); the checkpoint and
/// the cache agree only when the two are equal.
void checkHFHeadDims(Reader &r, const LargeConfig &c) {
  auto check = [&](StringRef name, StringRef factorKey, double factor,
                   int64_t dim) {
    double raw = static_cast<double>(c.embeddingDim) * factor;
    int64_t rounded = static_cast<int64_t>(pyFloorDiv(raw + 63, 64) * 64);
    if (rounded != dim)
      r.error(r.locOf({factorKey, "embedding_dim"}),
              "transformers' xLSTMConfig rounds " + name + " = hidden_size " +
                  Twine(c.embeddingDim) + " x " + factorKey + " " +
                  formatFloat(factor) + " up to " + Twine(rounded) +
                  " (a multiple of 64) for its cache, but its layers use " +
                  Twine(dim) +
                  "; such a model cannot decode in transformers either "
                  "(choose a width where the two agree)");
  };
  check("qk_dim", "qk_dim_factor", c.qkDimFactor, c.qkDim);
  check("v_dim", "v_dim_factor", c.vDimFactor, c.vDim);
}

/// Picks the schema from the keys present; see ConfigParser.h.
std::optional<ModelFamily> detectFamily(Reader &r, const YNode &model,
                                        SchemaHint hint) {
  switch (hint) {
  case SchemaHint::BlockStack:
    return ModelFamily::BlockStack;
  case SchemaHint::LMModel:
    return ModelFamily::LMModel;
  case SchemaHint::Large:
    return ModelFamily::Large;
  case SchemaHint::Auto:
    break;
  }
  const YNode *largeKey = nullptr, *stackKey = nullptr;
  bool lmKey = false;
  for (size_t i = 0, e = model.numEntries(); i != e; ++i) {
    const YNode &key = model.key(i);
    if (key.kind != YNode::Scalar)
      continue;
    // vocab_size is shared with xLSTMLargeConfig but still says "LM model"
    // when no xLSTMLargeConfig key is present.
    lmKey |= lmSection().find(key.value) && !stackSection().find(key.value);
    if (isSharedKey(key.value))
      continue;
    if (!largeKey && largeSection().find(key.value))
      largeKey = &key;
    if (!stackKey && lmSection().find(key.value))
      stackKey = &key;
  }
  if (largeKey && stackKey) {
    auto className = [](const YNode *key) {
      return largeSection().find(key->value)   ? "xLSTMLargeConfig"
             : stackSection().find(key->value) ? "xLSTMBlockStackConfig"
                                               : "xLSTMLMModelConfig";
    };
    const YNode *later = largeKey->loc.getPointer() > stackKey->loc.getPointer()
                             ? largeKey
                             : stackKey;
    const YNode *earlier = later == largeKey ? stackKey : largeKey;
    r.error(later->loc, "'" + later->value + "' is an " + className(later) +
                            " key, but '" + earlier->value + "' at line " +
                            Twine(r.lineOf(earlier->loc)) + " is an " +
                            className(earlier) +
                            " key; a config follows one schema");
    return std::nullopt;
  }
  if (largeKey)
    return ModelFamily::Large;
  return lmKey ? ModelFamily::LMModel : ModelFamily::BlockStack;
}

void printDiagnostic(const SMDiagnostic &diag, void *context) {
  auto &os = *static_cast<raw_ostream *>(context);
  diag.print(nullptr, os, os.has_colors());
}

} // namespace

//===----------------------------------------------------------------------===//
// Entry points
//===----------------------------------------------------------------------===//

std::optional<ModelSpec> xlstm::config::parseModelConfig(StringRef buffer,
                                                         StringRef bufferName,
                                                         raw_ostream &errs,
                                                         SchemaHint hint) {
  // A null StringRef has no address for diagnostics to point at.
  if (!buffer.data())
    buffer = StringRef("", 0);
  SourceMgr sm;
  sm.setDiagHandler(printDiagnostic, &errs);
  // The stream registers the buffer with `sm` under `bufferName`.
  yaml::Stream stream(MemoryBufferRef(buffer, bufferName), sm,
                      /*ShowColors=*/false);
  Reader r(sm, stream, buffer);
  SMLoc start = SMLoc::getFromPointer(buffer.data());
  YNode root;
  if (!r.readDocument(root, start))
    return std::nullopt;
  if (isNull(root) && root.tag.empty()) {
    r.error(start, "empty config file; expected a mapping with model fields");
    return std::nullopt;
  }
  if (root.kind != YNode::Mapping) {
    r.error(root.loc, "expected a mapping of model fields at the top level, "
                      "got " +
                          describe(root));
    return std::nullopt;
  }

  // Experiment layout: only the `model:` section is read.
  const YNode *model = &root;
  StringRef where = "the top level";
  r.rootLoc = root.loc;
  for (size_t i = 0, e = root.numEntries(); i != e; ++i) {
    const YNode &key = root.key(i), &value = root.val(i);
    if (key.kind != YNode::Scalar || key.value != "model")
      continue;
    if (!r.checkValue(value, "model"))
      return std::nullopt;
    if (value.kind != YNode::Mapping) {
      r.typeError(value, "model", "a mapping of model fields");
      return std::nullopt;
    }
    model = &value;
    where = "model";
    r.rootLoc = key.loc;
    break;
  }

  // A Hugging Face config.json: {"model_type": "xlstm", ...}.
  for (size_t i = 0, e = root.numEntries(); i != e; ++i) {
    const YNode &key = root.key(i), &value = root.val(i);
    if (key.kind != YNode::Scalar || key.value != "model_type")
      continue;
    if (value.kind != YNode::Scalar || value.value != "xlstm") {
      r.error(value.loc,
              "'model_type' is " + describe(value) +
                  "; xlstm-mlir reads Hugging Face configs of model_type "
                  "\"xlstm\" (transformers' xLSTMConfig)");
      return std::nullopt;
    }
    ModelSpec spec;
    spec.sourceName = bufferName.str();
    readHFConfig(r, root, spec);
    if (!r.failed())
      deriveLarge(r, spec.large);
    if (!r.failed())
      checkHFHeadDims(r, spec.large);
    if (r.failed())
      return std::nullopt;
    return spec;
  }

  std::optional<ModelFamily> family = detectFamily(r, *model, hint);
  if (!family)
    return std::nullopt;
  ModelSpec spec;
  spec.family = *family;
  spec.sourceName = bufferName.str();
  std::string whereFull = (where + " (" + toString(*family) + ")").str();
  if (spec.isLarge()) {
    r.readSection(*model, "", whereFull, largeSection(), spec.large);
    if (!r.failed())
      deriveLarge(r, spec.large);
  } else {
    r.readSection(*model, "", whereFull,
                  *family == ModelFamily::LMModel ? lmSection()
                                                  : stackSection(),
                  spec.stack);
    if (!r.failed())
      deriveStack(r, *family, spec.stack);
  }
  if (r.failed())
    return std::nullopt;
  return spec;
}

std::optional<ModelSpec> xlstm::config::parseModelConfigFile(StringRef path,
                                                             raw_ostream &errs,
                                                             SchemaHint hint) {
  // A model folder: Hugging Face's config.json, or xlstm_large's
  // config.yaml.
  SmallString<256> inFolder;
  if (sys::fs::is_directory(path)) {
    for (StringRef name : {"config.json", "config.yaml"}) {
      inFolder = path;
      sys::path::append(inFolder, name);
      if (sys::fs::exists(inFolder))
        break;
      inFolder.clear();
    }
    if (inFolder.empty()) {
      SMDiagnostic(path, SourceMgr::DK_Error,
                   "a model folder must hold config.json (Hugging Face) or "
                   "config.yaml (xlstm_large)")
          .print(nullptr, errs, errs.has_colors());
      return std::nullopt;
    }
    path = inFolder;
  }
  if (xlstm::isExistingNonRegularFile(path)) {
    SMDiagnostic(path, SourceMgr::DK_Error,
                 "cannot open config file: not a regular file")
        .print(nullptr, errs, errs.has_colors());
    return std::nullopt;
  }
  ErrorOr<std::unique_ptr<MemoryBuffer>> file =
      MemoryBuffer::getFileOrSTDIN(path, /*IsText=*/true);
  if (std::error_code ec = file.getError()) {
    SMDiagnostic(path, SourceMgr::DK_Error,
                 "cannot open config file: " + ec.message())
        .print(nullptr, errs, errs.has_colors());
    return std::nullopt;
  }
  return parseModelConfig((*file)->getBuffer(), path, errs, hint);
}

void xlstm::config::printModelSpec(const ModelSpec &spec, raw_ostream &os) {
  os << "# " << toString(spec.family)
     << " as resolved by xlstm-mlir: every field is written out;\n"
        "# '# derived:' lines are computed and are not read back.\n";
  Printer p(os);
  if (spec.isLarge())
    p.section(largeSection(), spec.large);
  else
    p.section(spec.family == ModelFamily::LMModel ? lmSection()
                                                  : stackSection(),
              spec.stack);
}
