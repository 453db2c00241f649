//===- HostProgram.cpp - Interpreting a bundle's host programs ------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// The parser renumbers the program's value ids densely in definition order,
// so the interpreter keeps every value in one vector and the numbering the
// compiler chose (sparse, huge, results before or after regions) cannot make
// it allocate or index out of range. Everything static is checked once; the
// interpreter checks only what depends on run-time values, and all size,
// offset and byte arithmetic on such values is overflow-checked.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Runtime/HostProgram.h"

#include "xlstm/Runtime/CudaObjects.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

using namespace llvm;
using namespace xlstm::runtime;

namespace {

Error makeError(const Twine &msg) {
  return createStringError(inconvertibleErrorCode(), msg);
}

bool mulOverflow(int64_t a, int64_t b, int64_t &result) {
  return __builtin_mul_overflow(a, b, &result);
}
bool addOverflow(int64_t a, int64_t b, int64_t &result) {
  return __builtin_add_overflow(a, b, &result);
}

/// "?" for kDynamic.
std::string formatStatic(int64_t value) {
  return value == kDynamic ? "?" : std::to_string(value);
}

std::string formatList(ArrayRef<int64_t> values) {
  std::string text = "[";
  for (auto [i, value] : enumerate(values))
    text += (i ? ", " : "") + formatStatic(value);
  return text + "]";
}

//===----------------------------------------------------------------------===//
// Integer semantics
//===----------------------------------------------------------------------===//

/// The canonical int64 of the low `width` bits: sign-extended, except i1,
/// which is 0 or 1.
int64_t wrapTo(uint64_t bits, unsigned width) {
  if (width >= 64)
    return int64_t(bits);
  if (width == 1)
    return int64_t(bits & 1);
  unsigned shift = 64 - width;
  return int64_t(bits << shift) >> shift;
}

/// The signed interpretation of a canonical value (i1 true is -1).
int64_t asSigned(int64_t value, unsigned width) {
  return width == 1 ? -(value & 1) : value;
}

/// The unsigned interpretation of a canonical value.
uint64_t asUnsigned(int64_t value, unsigned width) {
  if (width >= 64)
    return uint64_t(value);
  return uint64_t(value) & ((uint64_t(1) << width) - 1);
}

/// Truncating signed division and remainder without C++'s INT64_MIN / -1
/// overflow (MLIR leaves it undefined; we wrap).
int64_t divideSigned(int64_t a, int64_t b) {
  return b == -1 ? int64_t(0 - uint64_t(a)) : a / b;
}
int64_t remainderSigned(int64_t a, int64_t b) { return b == -1 ? 0 : a % b; }

//===----------------------------------------------------------------------===//
// Names
//===----------------------------------------------------------------------===//

struct OpInfo {
  StringLiteral name;
  OpKind kind;
};

/// The host op set (HostOps.def, shared with the emitter and the docs).
constexpr OpInfo kOps[] = {
#define HOST_OP(Kind, Name, Category) {Name, OpKind::Kind},
#include "xlstm/Runtime/HostOps.def"
};

std::optional<OpKind> lookupOp(StringRef name) {
  for (const OpInfo &info : kOps)
    if (info.name == name)
      return info.kind;
  return std::nullopt;
}

bool isBinaryInteger(OpKind kind) {
  return kind >= OpKind::AddI && kind <= OpKind::XOrI;
}

std::optional<ScalarKind> lookupScalar(StringRef name) {
  return StringSwitch<std::optional<ScalarKind>>(name)
      .Case("index", ScalarKind::Index)
      .Case("i64", ScalarKind::I64)
      .Case("i32", ScalarKind::I32)
      .Case("i1", ScalarKind::I1)
      .Case("f32", ScalarKind::F32)
      .Case("f64", ScalarKind::F64)
      .Default(std::nullopt);
}

std::optional<ElementKind> lookupElement(StringRef name) {
  return StringSwitch<std::optional<ElementKind>>(name)
      .Case("f32", ElementKind::F32)
      .Case("bf16", ElementKind::BF16)
      .Case("f16", ElementKind::F16)
      .Case("f64", ElementKind::F64)
      .Case("i64", ElementKind::I64)
      .Case("i32", ElementKind::I32)
      .Default(std::nullopt);
}

/// The identity-layout strides of `shape` (kDynamic where a size outside
/// them is dynamic), or nullopt when they overflow.
std::optional<SmallVector<int64_t, 4>>
identityStrides(ArrayRef<int64_t> shape) {
  SmallVector<int64_t, 4> strides(shape.size(), 1);
  int64_t running = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = running;
    if (running == kDynamic || shape[i] == kDynamic)
      running = kDynamic;
    else if (mulOverflow(running, shape[i], running))
      return std::nullopt;
  }
  return strides;
}

std::string describeJsonKind(const json::Value &value) {
  switch (value.kind()) {
  case json::Value::Null:
    return "null";
  case json::Value::Boolean:
    return "a boolean";
  case json::Value::Number:
    return "a number";
  case json::Value::String:
    return "a string";
  case json::Value::Array:
    return "an array";
  case json::Value::Object:
    return "an object";
  }
  return "a value";
}

} // namespace

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

unsigned xlstm::runtime::getIntegerWidth(ScalarKind kind) {
  switch (kind) {
  case ScalarKind::Index:
  case ScalarKind::I64:
    return 64;
  case ScalarKind::I32:
    return 32;
  case ScalarKind::I1:
    return 1;
  case ScalarKind::F32:
  case ScalarKind::F64:
    return 0;
  }
  return 0;
}

bool xlstm::runtime::isInteger(ScalarKind kind) {
  return getIntegerWidth(kind) != 0;
}

StringRef xlstm::runtime::getName(ScalarKind kind) {
  switch (kind) {
  case ScalarKind::Index:
    return "index";
  case ScalarKind::I64:
    return "i64";
  case ScalarKind::I32:
    return "i32";
  case ScalarKind::I1:
    return "i1";
  case ScalarKind::F32:
    return "f32";
  case ScalarKind::F64:
    return "f64";
  }
  return "?";
}

StringRef xlstm::runtime::getName(ElementKind kind) {
  switch (kind) {
  case ElementKind::F32:
    return "f32";
  case ElementKind::BF16:
    return "bf16";
  case ElementKind::F16:
    return "f16";
  case ElementKind::F64:
    return "f64";
  case ElementKind::I64:
    return "i64";
  case ElementKind::I32:
    return "i32";
  }
  return "?";
}

size_t xlstm::runtime::getElementBytes(ElementKind kind) {
  switch (kind) {
  case ElementKind::BF16:
  case ElementKind::F16:
    return 2;
  case ElementKind::F32:
  case ElementKind::I32:
    return 4;
  case ElementKind::F64:
  case ElementKind::I64:
    return 8;
  }
  return 1;
}

StringRef xlstm::runtime::getName(OpKind kind) {
  for (const OpInfo &info : kOps)
    if (info.kind == kind)
      return info.name;
  return "?";
}

std::string xlstm::runtime::toString(const Type &type) {
  if (!type.isMemRef())
    return getName(type.scalar).str();
  const MemRefType &m = type.memrefType;
  std::string text = "memref<";
  for (int64_t size : m.shape)
    text += formatStatic(size) + "x";
  text += getName(m.element).str();
  text += ", strided<" + formatList(m.strides) +
          ", offset: " + formatStatic(m.offset) + ">>";
  return text;
}

namespace {

/// A static list entry: an integer, or null for kDynamic.
Expected<int64_t> parseStatic(const json::Value &value, const Twine &what) {
  if (value.getAsNull())
    return kDynamic;
  std::optional<int64_t> number = value.getAsInteger();
  if (!number || *number == kDynamic)
    return makeError(what + " is " + describeJsonKind(value) +
                     "; expected an integer or null");
  return *number;
}

Expected<SmallVector<int64_t, 4>> parseStaticList(const json::Value *value,
                                                  const Twine &what) {
  if (!value)
    return makeError(what + " is missing");
  const json::Array *array = value->getAsArray();
  if (!array)
    return makeError(what + " is " + describeJsonKind(*value) +
                     "; expected an array");
  SmallVector<int64_t, 4> result;
  for (auto [i, entry] : enumerate(*array)) {
    Expected<int64_t> parsed = parseStatic(entry, what + " entry " + Twine(i));
    if (!parsed)
      return parsed.takeError();
    result.push_back(*parsed);
  }
  return result;
}

} // namespace

Expected<Type> xlstm::runtime::parseType(const json::Value &json,
                                         const Twine &what) {
  const json::Object *object = json.getAsObject();
  if (!object || object->size() != 1)
    return makeError(what + ": a type is an object with one key, \"scalar\" "
                            "or \"memref\"");
  if (const json::Value *scalar = object->get("scalar")) {
    std::optional<StringRef> name = scalar->getAsString();
    std::optional<ScalarKind> kind = name ? lookupScalar(*name) : std::nullopt;
    if (!kind)
      return makeError(what + ": unknown scalar type " +
                       (name ? "'" + *name + "'" : describeJsonKind(*scalar)) +
                       "; expected index, i64, i32, i1, f32 or f64");
    return Type::getScalar(*kind);
  }
  const json::Object *memref = object->getObject("memref");
  if (!memref)
    return makeError(what + ": a type is an object with one key, \"scalar\" "
                            "or \"memref\" (an object)");
  MemRefType type;
  std::optional<StringRef> element = memref->getString("element");
  std::optional<ElementKind> kind =
      element ? lookupElement(*element) : std::nullopt;
  if (!kind)
    return makeError(what + ": the memref element type " +
                     (element ? "'" + *element + "'"
                              : "is missing or not a "
                                "string") +
                     "; expected f32, bf16, f16, f64, i64 or i32");
  type.element = *kind;
  Expected<SmallVector<int64_t, 4>> shape =
      parseStaticList(memref->get("shape"), what + ": memref \"shape\"");
  if (!shape)
    return shape.takeError();
  Expected<SmallVector<int64_t, 4>> strides =
      parseStaticList(memref->get("strides"), what + ": memref \"strides\"");
  if (!strides)
    return strides.takeError();
  if (shape->size() != strides->size())
    return makeError(what + formatv(": the memref has {0} sizes but {1} "
                                    "strides",
                                    shape->size(), strides->size()));
  for (auto [i, size] : enumerate(*shape))
    if (size != kDynamic && size < 0)
      return makeError(what +
                       formatv(": memref size {0} is negative ({1})", i, size));
  const json::Value *offset = memref->get("offset");
  if (!offset)
    return makeError(what + ": memref \"offset\" is missing");
  Expected<int64_t> parsedOffset =
      parseStatic(*offset, what + ": memref \"offset\"");
  if (!parsedOffset)
    return parsedOffset.takeError();
  type.shape = std::move(*shape);
  type.strides = std::move(*strides);
  type.offset = *parsedOffset;
  return Type::getMemRef(std::move(type));
}

//===----------------------------------------------------------------------===//
// Values
//===----------------------------------------------------------------------===//

Allocation::~Allocation() = default;

std::optional<int64_t> MemRefValue::getNumElements() const {
  int64_t count = 1;
  for (int64_t size : sizes)
    if (mulOverflow(count, size, count))
      return std::nullopt;
  return count;
}

Error MemRefValue::checkInBounds(const Twine &what) const {
  if (!allocation)
    return makeError(what + " has no allocation");
  int64_t low = offset, high = offset;
  bool overflow = false;
  for (auto [size, stride] : zip(sizes, strides)) {
    if (size < 0)
      return makeError(what + formatv(" has a negative size ({0})", size));
    if (size == 0)
      return Error::success(); // reaches no element
    int64_t span = 0;
    overflow |= mulOverflow(size - 1, stride, span);
    overflow |= addOverflow(span < 0 ? low : high, span, span < 0 ? low : high);
  }
  int64_t elementBytes = int64_t(getElementBytes(element));
  int64_t endByte = 0;
  if (!overflow)
    overflow |= addOverflow(high, 1, endByte) ||
                mulOverflow(endByte, elementBytes, endByte);
  if (overflow || low < 0 || uint64_t(endByte) > allocation->getBytes())
    return makeError(
        what +
        formatv(" (offset {0}, sizes {1}, strides {2}, {3}) reaches outside "
                "its allocation of {4} bytes",
                offset, formatList(sizes), formatList(strides),
                getName(element), allocation->getBytes()));
  return Error::success();
}

bool MemRefValue::isContiguous() const {
  int64_t expected = 1;
  for (size_t i = sizes.size(); i-- > 0;) {
    if (sizes[i] == 0)
      return true;
    if (sizes[i] == 1)
      continue;
    if (strides[i] != expected)
      return false;
    if (mulOverflow(expected, sizes[i], expected))
      return false;
  }
  return true;
}

namespace {

/// Whether `value` has `type`'s static facts. Strides of dimensions of size
/// 0 or 1 are not compared: no access depends on them, and MLIR's inference
/// and its lowering disagree about them.
bool matchesType(const MemRefValue &value, const MemRefType &type) {
  if (value.element != type.element || value.getRank() != type.getRank())
    return false;
  if (type.offset != kDynamic && type.offset != value.offset)
    return false;
  for (size_t i = 0; i < type.getRank(); ++i) {
    if (type.shape[i] != kDynamic && type.shape[i] != value.sizes[i])
      return false;
    if (value.sizes[i] > 1 && type.strides[i] != kDynamic &&
        type.strides[i] != value.strides[i])
      return false;
  }
  return true;
}

std::string describe(const MemRefValue &value) {
  std::string text = "memref<";
  for (int64_t size : value.sizes)
    text += std::to_string(size) + "x";
  return text + getName(value.element).str() + ", strides " +
         formatList(value.strides) + ", offset " +
         std::to_string(value.offset) + ">";
}

} // namespace

Expected<Value> xlstm::runtime::checkValue(const Value &value, const Type &type,
                                           const Twine &what) {
  auto mismatch = [&](StringRef got) {
    return makeError(what + " is " + got + "; expected " + toString(type));
  };
  switch (value.getKind()) {
  case Value::Kind::None:
    return mismatch("missing");
  case Value::Kind::Integer: {
    if (!type.isIntegerScalar())
      return mismatch("an integer");
    unsigned width = getIntegerWidth(type.scalar);
    int64_t v = value.getInteger();
    // Either the signed or the unsigned reading of `width` bits.
    bool fits = width >= 64 || (v >= -(int64_t(1) << (width - 1)) &&
                                v <= int64_t((uint64_t(1) << width) - 1));
    if (!fits)
      return makeError(what + formatv(" is {0}, which does not fit in {1}", v,
                                      getName(type.scalar)));
    return Value::getInteger(wrapTo(uint64_t(v), width));
  }
  case Value::Kind::Float:
    if (!type.isFloatScalar())
      return mismatch("a float");
    return value;
  case Value::Kind::MemRef: {
    if (!type.isMemRef())
      return mismatch("a memref");
    const MemRefValue &memref = value.getMemRef();
    if (memref.sizes.size() != memref.strides.size())
      return makeError(what + " has a malformed descriptor (as many sizes as "
                              "strides are needed)");
    if (!matchesType(memref, type.memrefType))
      return mismatch(describe(memref));
    if (Error err = memref.checkInBounds(what))
      return std::move(err);
    return value;
  }
  }
  return mismatch("unknown");
}

//===----------------------------------------------------------------------===//
// Kernel table
//===----------------------------------------------------------------------===//

Expected<std::vector<KernelRef>>
xlstm::runtime::parseKernels(const json::Value &kernels) {
  const json::Array *array = kernels.getAsArray();
  if (!array)
    return makeError("\"kernels\" is " + describeJsonKind(kernels) +
                     "; expected an array");
  std::vector<KernelRef> result;
  for (auto [i, entry] : enumerate(*array)) {
    const json::Object *object = entry.getAsObject();
    std::optional<StringRef> module, name, section;
    if (object) {
      module = object->getString("module");
      name = object->getString("name");
      section = object->getString("section");
    }
    if (!module || !name || !section)
      return makeError(formatv("kernel {0} needs string fields \"module\", "
                               "\"name\" and \"section\"",
                               i));
    std::optional<StringRef> origin = object->getString("origin");
    KernelRef ref{module->str(),
                  name->str(),
                  section->str(),
                  origin ? origin->str() : std::string(),
                  {}};
    if (const json::Object *cubins = object->getObject("cubins"))
      for (const auto &[chip, cubin] : *cubins) {
        std::optional<StringRef> s = cubin.getAsString();
        if (!s)
          return makeError(formatv("kernel {0}: cubin '{1}' is not a "
                                   "section name",
                                   i, chip.str()));
        ref.cubins.emplace_back(chip.str(), s->str());
      }
    result.push_back(std::move(ref));
  }
  return result;
}

//===----------------------------------------------------------------------===//
// Parsing and validation
//===----------------------------------------------------------------------===//

namespace xlstm::runtime {

/// Builds a HostProgram. Values are renumbered densely in definition order;
/// `live` maps the program's ids to ours while they are in scope.
class ProgramParser {
public:
  explicit ProgramParser(ArrayRef<KernelRef> kernels) : kernels(kernels) {}

  Expected<HostProgram> parse(const json::Value &json);

private:
  Error parseOps(const json::Array &ops, std::vector<Op> &out,
                 const std::string &prefix, unsigned depth, bool topLevel);
  Error parseOp(const json::Value &json, Op &op, unsigned depth);
  Error parseRegion(const json::Object &object, StringRef key, Op &op,
                    ArrayRef<Type> argumentTypes, ArrayRef<Type> yieldTypes,
                    unsigned depth, bool optional = false);

  // Helpers that report at the current op.
  Error error(const Twine &msg) const {
    return makeError("host program: " + location + ": " + msg);
  }
  Expected<uint32_t> use(const json::Value &id, const Twine &what);
  Expected<uint32_t> define(const json::Value &id, Type type,
                            const Twine &what);
  Expected<SmallVector<uint32_t, 4>> useList(const json::Value *ids,
                                             const Twine &what);
  Error expectOperands(const Op &op, size_t count);
  Error expectResults(const Op &op, size_t count);
  Error expectType(uint32_t value, const Type &type, const Twine &what);
  Error expectIntegerType(uint32_t value, const Twine &what);
  Error expectMemRef(uint32_t value, const Twine &what);
  Error expectIndices(const Op &op, size_t first, const Twine &what);
  Expected<SmallVector<int64_t, 4>> staticList(const json::Object &object,
                                               StringRef key, size_t length,
                                               size_t &dynamicCount,
                                               bool nonNegative);
  Error parseReassociation(const json::Object &object, Op &op,
                           size_t groupCount, size_t innerRank);
  Error checkOp(const json::Object &object, Op &op, unsigned depth);

  ArrayRef<KernelRef> kernels;
  std::vector<Type> types; ///< by our id
  // Not DenseMap: its reserved keys (INT64_MAX, INT64_MAX - 1) are ids too.
  std::unordered_map<int64_t, uint32_t>
      live;                              ///< program id -> our id, in scope
  std::unordered_set<int64_t> defined;   ///< every program id defined so far
  std::vector<int64_t> scope;            ///< program ids defined, in order
  std::string location = "arguments";    ///< where errors are reported
  std::vector<const Type *> resultTypes; ///< of the program, for func.return
};

} // namespace xlstm::runtime

Expected<uint32_t> ProgramParser::use(const json::Value &id,
                                      const Twine &what) {
  std::optional<int64_t> number = id.getAsInteger();
  if (!number)
    return error(what + " is " + describeJsonKind(id) +
                 "; expected a value id");
  auto it = live.find(*number);
  if (it != live.end())
    return it->second;
  if (defined.count(*number))
    return error(what + formatv(" uses %{0} outside the region that defines "
                                "it",
                                *number));
  return error(what + formatv(" uses %{0} before it is defined", *number));
}

Expected<uint32_t> ProgramParser::define(const json::Value &id, Type type,
                                         const Twine &what) {
  std::optional<int64_t> number = id.getAsInteger();
  if (!number)
    return error(what + " is " + describeJsonKind(id) +
                 "; expected a value id");
  if (!defined.insert(*number).second)
    return error(what + formatv(" defines %{0} a second time", *number));
  if (types.size() >= std::numeric_limits<uint32_t>::max())
    return error("too many values");
  uint32_t ours = uint32_t(types.size());
  types.push_back(std::move(type));
  live[*number] = ours;
  scope.push_back(*number);
  return ours;
}

Expected<SmallVector<uint32_t, 4>>
ProgramParser::useList(const json::Value *ids, const Twine &what) {
  SmallVector<uint32_t, 4> result;
  if (!ids)
    return result;
  const json::Array *array = ids->getAsArray();
  if (!array)
    return error(what + " is " + describeJsonKind(*ids) +
                 "; expected an array of value ids");
  for (auto [i, id] : enumerate(*array)) {
    Expected<uint32_t> value = use(id, what + " " + Twine(i));
    if (!value)
      return value.takeError();
    result.push_back(*value);
  }
  return result;
}

Error ProgramParser::expectOperands(const Op &op, size_t count) {
  if (op.operands.size() == count)
    return Error::success();
  return error(formatv("has {0} operand{1}; expected {2}", op.operands.size(),
                       op.operands.size() == 1 ? "" : "s", count));
}

Error ProgramParser::expectResults(const Op &op, size_t count) {
  if (op.results.size() == count)
    return Error::success();
  return error(formatv("has {0} result{1}; expected {2}", op.results.size(),
                       op.results.size() == 1 ? "" : "s", count));
}

Error ProgramParser::expectType(uint32_t value, const Type &type,
                                const Twine &what) {
  if (types[value] == type)
    return Error::success();
  return error(what + " has type " + toString(types[value]) + "; expected " +
               toString(type));
}

Error ProgramParser::expectIntegerType(uint32_t value, const Twine &what) {
  if (types[value].isIntegerScalar())
    return Error::success();
  return error(what + " has type " + toString(types[value]) +
               "; expected an integer (index, i64, i32 or i1)");
}

Error ProgramParser::expectMemRef(uint32_t value, const Twine &what) {
  if (types[value].isMemRef())
    return Error::success();
  return error(what + " has type " + toString(types[value]) +
               "; expected a memref");
}

Error ProgramParser::expectIndices(const Op &op, size_t first,
                                   const Twine &what) {
  for (size_t i = first; i < op.operands.size(); ++i)
    if (Error err =
            expectType(op.operands[i], Type::getScalar(ScalarKind::Index),
                       what + " (operand " + Twine(i) + ")"))
      return err;
  return Error::success();
}

Expected<SmallVector<int64_t, 4>>
ProgramParser::staticList(const json::Object &object, StringRef key,
                          size_t length, size_t &dynamicCount,
                          bool nonNegative) {
  Expected<SmallVector<int64_t, 4>> list =
      parseStaticList(object.get(key), "\"" + key + "\"");
  if (!list)
    return error(toString(list.takeError()));
  if (list->size() != length)
    return error(formatv("\"{0}\" has {1} entries; expected {2}", key,
                         list->size(), length));
  for (auto [i, value] : enumerate(*list)) {
    if (value == kDynamic)
      ++dynamicCount;
    else if (nonNegative && value < 0)
      return error(
          formatv("\"{0}\" entry {1} is negative ({2})", key, i, value));
  }
  return list;
}

Error ProgramParser::parseReassociation(const json::Object &object, Op &op,
                                        size_t groupCount, size_t innerRank) {
  const json::Array *groups = object.getArray("reassociation");
  if (!groups)
    return error("\"reassociation\" is missing or not an array");
  // A rank-0 side has no groups; the other side is all unit dimensions.
  if (groupCount == 0) {
    if (!groups->empty())
      return error("\"reassociation\" must be empty for a rank-0 memref");
    return Error::success();
  }
  if (groups->size() != groupCount)
    return error(formatv("\"reassociation\" has {0} groups; expected {1}",
                         groups->size(), groupCount));
  size_t next = 0;
  for (auto [g, group] : enumerate(*groups)) {
    const json::Array *dims = group.getAsArray();
    if (!dims || dims->empty())
      return error(formatv("\"reassociation\" group {0} is not a non-empty "
                           "array",
                           g));
    SmallVector<unsigned, 2> parsed;
    for (const json::Value &dim : *dims) {
      std::optional<int64_t> d = dim.getAsInteger();
      if (!d || *d != int64_t(next) || next >= innerRank)
        return error(formatv("\"reassociation\" group {0} must continue with "
                             "dimension {1} (groups list dimensions 0..{2} in "
                             "order)",
                             g, next, int64_t(innerRank) - 1));
      parsed.push_back(unsigned(next++));
    }
    op.reassociation.push_back(std::move(parsed));
  }
  if (next != innerRank)
    return error(formatv("\"reassociation\" covers {0} dimensions; expected "
                         "{1}",
                         next, innerRank));
  return Error::success();
}

Error ProgramParser::parseRegion(const json::Object &object, StringRef key,
                                 Op &op, ArrayRef<Type> argumentTypes,
                                 ArrayRef<Type> yieldTypes, unsigned depth,
                                 bool optional) {
  const json::Value *value = object.get(key);
  if (!value && optional) {
    op.regions.emplace_back();
    return Error::success();
  }
  const json::Object *region = value ? value->getAsObject() : nullptr;
  if (!region)
    return error("region \"" + key + "\" is missing or not an object");
  if (depth >= HostProgram::kMaxRegionDepth)
    return error(
        formatv("regions nest deeper than {0}", HostProgram::kMaxRegionDepth));

  Region result;
  size_t scopeStart = scope.size();
  const json::Value *arguments = region->get("arguments");
  const json::Array *argumentArray =
      arguments ? arguments->getAsArray() : nullptr;
  if (arguments && !argumentArray)
    return error("region \"" + key + "\" arguments are not an array");
  size_t argumentCount = argumentArray ? argumentArray->size() : 0;
  if (argumentCount != argumentTypes.size())
    return error(formatv("region \"{0}\" has {1} arguments; expected {2}", key,
                         argumentCount, argumentTypes.size()));
  for (size_t i = 0; i < argumentCount; ++i) {
    Expected<uint32_t> id =
        define((*argumentArray)[i], argumentTypes[i],
               "region \"" + key + "\" argument " + Twine(i));
    if (!id)
      return id.takeError();
    result.arguments.push_back(*id);
  }

  const json::Array *body = region->getArray("body");
  if (!body)
    return error("region \"" + key + "\" has no \"body\" array");
  std::string saved = location;
  if (Error err =
          parseOps(*body, result.body, (location + " > " + key + " ").str(),
                   depth + 1, /*topLevel=*/false))
    return err;
  location = saved;

  Expected<SmallVector<uint32_t, 4>> yields =
      useList(region->get("yield"), "region \"" + key + "\" yield");
  if (!yields)
    return yields.takeError();
  if (yields->size() != yieldTypes.size())
    return error(formatv("region \"{0}\" yields {1} values; expected {2}", key,
                         yields->size(), yieldTypes.size()));
  for (auto [i, id] : enumerate(*yields))
    if (Error err = expectType(id, yieldTypes[i],
                               "region \"" + key + "\" yield " + Twine(i)))
      return err;
  result.yields = std::move(*yields);

  // What the region defined goes out of scope.
  for (size_t i = scopeStart; i < scope.size(); ++i)
    live.erase(scope[i]);
  scope.resize(scopeStart);
  op.regions.push_back(std::move(result));
  return Error::success();
}

Error ProgramParser::parseOps(const json::Array &ops, std::vector<Op> &out,
                              const std::string &prefix, unsigned depth,
                              bool topLevel) {
  out.reserve(ops.size());
  for (auto [i, json] : enumerate(ops)) {
    location = prefix + "op " + std::to_string(i);
    if (const json::Object *object = json.getAsObject())
      if (std::optional<StringRef> name = object->getString("op"))
        location += " (" + name->str() + ")";
    Op op;
    op.location = location;
    if (Error err = parseOp(json, op, depth))
      return err;
    if (op.kind == OpKind::Return && (!topLevel || i + 1 != ops.size()))
      return error("func.return must be the last op of the program's body");
    out.push_back(std::move(op));
  }
  if (topLevel && (out.empty() || out.back().kind != OpKind::Return)) {
    location = "body";
    return error("the program's body does not end with func.return");
  }
  return Error::success();
}

Error ProgramParser::parseOp(const json::Value &json, Op &op, unsigned depth) {
  const json::Object *object = json.getAsObject();
  if (!object)
    return error("is " + describeJsonKind(json) + "; expected an object");
  std::optional<StringRef> name = object->getString("op");
  if (!name)
    return error("has no \"op\" name");
  std::optional<OpKind> kind = lookupOp(*name);
  if (!kind)
    return error("unknown op '" + *name + "'");
  op.kind = *kind;

  Expected<SmallVector<uint32_t, 4>> operands =
      useList(object->get("operands"), "operand");
  if (!operands)
    return operands.takeError();
  op.operands = std::move(*operands);

  // Result types are parsed now; results are defined after the op's regions
  // (they are not visible inside them).
  const json::Value *resultsValue = object->get("results");
  const json::Value *typesValue = object->get("types");
  const json::Array *resultIds =
      resultsValue ? resultsValue->getAsArray() : nullptr;
  const json::Array *resultTypes =
      typesValue ? typesValue->getAsArray() : nullptr;
  if ((resultsValue && !resultIds) || (typesValue && !resultTypes))
    return error("\"results\" and \"types\" must be arrays");
  size_t resultCount = resultIds ? resultIds->size() : 0;
  if ((resultTypes ? resultTypes->size() : 0) != resultCount)
    return error(formatv("has {0} results but {1} types", resultCount,
                         resultTypes ? resultTypes->size() : 0));
  for (size_t i = 0; i < resultCount; ++i) {
    Expected<Type> type =
        parseType((*resultTypes)[i], "result " + Twine(i) + " type");
    if (!type)
      return error(toString(type.takeError()));
    op.resultTypes.push_back(std::move(*type));
    op.results.push_back(0); // filled in below
  }

  if (Error err = checkOp(*object, op, depth))
    return err;

  for (size_t i = 0; i < resultCount; ++i) {
    Expected<uint32_t> id =
        define((*resultIds)[i], op.resultTypes[i], "result " + Twine(i));
    if (!id)
      return id.takeError();
    op.results[i] = *id;
  }
  return Error::success();
}

Error ProgramParser::checkOp(const json::Object &object, Op &op,
                             unsigned depth) {
  const Type indexType = Type::getScalar(ScalarKind::Index);
  const Type i1Type = Type::getScalar(ScalarKind::I1);
  auto resultMemRef = [&]() -> Expected<const MemRefType *> {
    if (Error err = expectResults(op, 1))
      return std::move(err);
    if (!op.resultTypes[0].isMemRef())
      return error("result has type " + toString(op.resultTypes[0]) +
                   "; expected a memref");
    return &op.resultTypes[0].memrefType;
  };
  auto sourceMemRef = [&]() -> Expected<const MemRefType *> {
    if (op.operands.empty())
      return error("has no operands; expected a memref source");
    if (Error err = expectMemRef(op.operands[0], "the source (operand 0)"))
      return std::move(err);
    return &types[op.operands[0]].memrefType;
  };
  auto sameElement = [&](const MemRefType &source,
                         const MemRefType &result) -> Error {
    if (source.element == result.element)
      return Error::success();
    return error("changes the element type from " + getName(source.element) +
                 " to " + getName(result.element));
  };

  switch (op.kind) {
  case OpKind::Constant: {
    if (Error err = expectOperands(op, 0))
      return err;
    if (Error err = expectResults(op, 1))
      return err;
    const Type &type = op.resultTypes[0];
    const json::Value *value = object.get("value");
    if (!value)
      return error("has no \"value\"");
    if (type.isIntegerScalar()) {
      std::optional<int64_t> number = value->getAsInteger();
      if (std::optional<bool> flag = value->getAsBoolean())
        number = *flag;
      else if (!number)
        if (std::optional<uint64_t> large = value->getAsUINT64())
          number = int64_t(*large);
      if (!number)
        return error("\"value\" is " + describeJsonKind(*value) +
                     "; expected an integer for type " + toString(type));
      Expected<Value> checked =
          checkValue(Value::getInteger(*number), type, "\"value\"");
      if (!checked)
        return error(toString(checked.takeError()));
      op.constant = *checked;
    } else if (type.isFloatScalar()) {
      std::optional<double> number = value->getAsNumber();
      if (std::optional<StringRef> text = value->getAsString())
        number = StringSwitch<std::optional<double>>(*text)
                     .Case("inf", std::numeric_limits<double>::infinity())
                     .Case("-inf", -std::numeric_limits<double>::infinity())
                     .Case("nan", std::numeric_limits<double>::quiet_NaN())
                     .Default(std::nullopt);
      if (!number)
        return error("\"value\" is " + describeJsonKind(*value) +
                     "; expected a number (or \"inf\", \"-inf\", \"nan\")");
      op.constant = Value::getFloat(*number);
    } else {
      return error("result type " + toString(type) +
                   " is not a scalar; expected an integer or float");
    }
    return Error::success();
  }

  case OpKind::CmpI: {
    if (Error err = expectOperands(op, 2))
      return err;
    if (Error err = expectResults(op, 1))
      return err;
    if (op.resultTypes[0] != i1Type)
      return error("result has type " + toString(op.resultTypes[0]) +
                   "; expected i1");
    if (Error err = expectIntegerType(op.operands[0], "operand 0"))
      return err;
    if (Error err =
            expectType(op.operands[1], types[op.operands[0]], "operand 1"))
      return err;
    op.operandType = types[op.operands[0]].scalar;
    std::optional<StringRef> predicate = object.getString("predicate");
    std::optional<CmpPredicate> parsed =
        predicate ? StringSwitch<std::optional<CmpPredicate>>(*predicate)
                        .Case("eq", CmpPredicate::EQ)
                        .Case("ne", CmpPredicate::NE)
                        .Case("slt", CmpPredicate::SLT)
                        .Case("sle", CmpPredicate::SLE)
                        .Case("sgt", CmpPredicate::SGT)
                        .Case("sge", CmpPredicate::SGE)
                        .Case("ult", CmpPredicate::ULT)
                        .Case("ule", CmpPredicate::ULE)
                        .Case("ugt", CmpPredicate::UGT)
                        .Case("uge", CmpPredicate::UGE)
                        .Default(std::nullopt)
                  : std::nullopt;
    if (!parsed)
      return error("\"predicate\" " +
                   (predicate ? "'" + *predicate + "' is unknown"
                              : Twine("is missing or not a string")) +
                   "; expected eq, ne, slt, sle, sgt, sge, ult, ule, ugt or "
                   "uge");
    op.predicate = *parsed;
    return Error::success();
  }

  case OpKind::Select: {
    if (Error err = expectOperands(op, 3))
      return err;
    if (Error err = expectResults(op, 1))
      return err;
    if (Error err = expectType(op.operands[0], i1Type, "the condition"))
      return err;
    if (Error err = expectType(op.operands[1], op.resultTypes[0], "operand 1"))
      return err;
    return expectType(op.operands[2], op.resultTypes[0], "operand 2");
  }

  case OpKind::IndexCast:
  case OpKind::IndexCastUI:
  case OpKind::ExtSI:
  case OpKind::ExtUI:
  case OpKind::TruncI: {
    if (Error err = expectOperands(op, 1))
      return err;
    if (Error err = expectResults(op, 1))
      return err;
    if (Error err = expectIntegerType(op.operands[0], "operand 0"))
      return err;
    const Type &from = types[op.operands[0]], &to = op.resultTypes[0];
    op.operandType = from.scalar;
    if (!to.isIntegerScalar())
      return error("result has type " + toString(to) + "; expected an integer");
    bool fromIndex = from.scalar == ScalarKind::Index;
    bool toIndex = to.scalar == ScalarKind::Index;
    unsigned fromWidth = getIntegerWidth(from.scalar);
    unsigned toWidth = getIntegerWidth(to.scalar);
    if (op.kind == OpKind::IndexCast || op.kind == OpKind::IndexCastUI) {
      if (fromIndex == toIndex)
        return error("casts " + toString(from) + " to " + toString(to) +
                     "; exactly one side must be index");
    } else if (fromIndex || toIndex) {
      return error("casts " + toString(from) + " to " + toString(to) +
                   "; index needs arith.index_cast");
    } else if (op.kind == OpKind::TruncI ? toWidth >= fromWidth
                                         : toWidth <= fromWidth) {
      return error("casts " + toString(from) + " to " + toString(to) +
                   (op.kind == OpKind::TruncI ? "; expected a narrower type"
                                              : "; expected a wider type"));
    }
    return Error::success();
  }

  case OpKind::Dim: {
    if (Error err = expectOperands(op, 2))
      return err;
    if (Error err = expectResults(op, 1))
      return err;
    if (Error err = expectMemRef(op.operands[0], "operand 0"))
      return err;
    if (Error err = expectType(op.operands[1], indexType, "operand 1"))
      return err;
    if (op.resultTypes[0] != indexType)
      return error("result has type " + toString(op.resultTypes[0]) +
                   "; expected index");
    return Error::success();
  }

  case OpKind::Alloc: {
    Expected<const MemRefType *> result = resultMemRef();
    if (!result)
      return result.takeError();
    const MemRefType &type = **result;
    size_t dynamic = count(type.shape, kDynamic);
    if (Error err = expectOperands(op, dynamic))
      return err;
    if (Error err = expectIndices(op, 0, "a dynamic size"))
      return err;
    std::optional<SmallVector<int64_t, 4>> identity =
        identityStrides(type.shape);
    if (!identity)
      return error("the result type " + toString(op.resultTypes[0]) +
                   " is too large");
    if (type.offset != 0 || type.strides != *identity)
      return error("the result type " + toString(op.resultTypes[0]) +
                   " does not have the identity layout (strides " +
                   formatList(*identity) + ", offset 0)");
    return Error::success();
  }

  case OpKind::Dealloc: {
    if (Error err = expectOperands(op, 1))
      return err;
    if (Error err = expectResults(op, 0))
      return err;
    return expectMemRef(op.operands[0], "operand 0");
  }

  case OpKind::SubView: {
    Expected<const MemRefType *> source = sourceMemRef();
    if (!source)
      return source.takeError();
    Expected<const MemRefType *> result = resultMemRef();
    if (!result)
      return result.takeError();
    size_t rank = (*source)->getRank(), dynamic = 0;
    Expected<SmallVector<int64_t, 4>> offsets =
        staticList(object, "static_offsets", rank, dynamic, true);
    if (!offsets)
      return offsets.takeError();
    Expected<SmallVector<int64_t, 4>> sizes =
        staticList(object, "static_sizes", rank, dynamic, true);
    if (!sizes)
      return sizes.takeError();
    Expected<SmallVector<int64_t, 4>> strides =
        staticList(object, "static_strides", rank, dynamic, false);
    if (!strides)
      return strides.takeError();
    if (Error err = expectOperands(op, 1 + dynamic))
      return err;
    if (Error err = expectIndices(op, 1, "a dynamic offset, size or stride"))
      return err;
    op.staticOffsets = std::move(*offsets);
    op.staticSizes = std::move(*sizes);
    op.staticStrides = std::move(*strides);

    if (const json::Value *dropped = object.get("dropped_dims")) {
      const json::Array *array = dropped->getAsArray();
      if (!array)
        return error("\"dropped_dims\" is " + describeJsonKind(*dropped) +
                     "; expected an array");
      for (const json::Value &entry : *array) {
        std::optional<int64_t> dim = entry.getAsInteger();
        if (!dim || *dim < 0 || uint64_t(*dim) >= rank ||
            (!op.droppedDims.empty() && *dim <= op.droppedDims.back()))
          return error(formatv("\"dropped_dims\" must list source dimensions "
                               "(0..{0}) in ascending order",
                               int64_t(rank) - 1));
        if (op.staticSizes[*dim] != kDynamic && op.staticSizes[*dim] != 1)
          return error(formatv("drops dimension {0} of size {1}; only unit "
                               "dimensions can be dropped",
                               *dim, op.staticSizes[*dim]));
        op.droppedDims.push_back(unsigned(*dim));
      }
    }
    if (Error err = sameElement(**source, **result))
      return err;
    if ((*result)->getRank() != rank - op.droppedDims.size())
      return error(formatv("result has rank {0}; expected {1} (source rank "
                           "{2}, {3} dropped)",
                           (*result)->getRank(), rank - op.droppedDims.size(),
                           rank, op.droppedDims.size()));
    return Error::success();
  }

  case OpKind::ExpandShape: {
    Expected<const MemRefType *> source = sourceMemRef();
    if (!source)
      return source.takeError();
    Expected<const MemRefType *> result = resultMemRef();
    if (!result)
      return result.takeError();
    if (Error err = sameElement(**source, **result))
      return err;
    size_t dynamic = 0;
    Expected<SmallVector<int64_t, 4>> shape = staticList(
        object, "static_output_shape", (*result)->getRank(), dynamic, true);
    if (!shape)
      return shape.takeError();
    op.staticSizes = std::move(*shape);
    if (Error err = expectOperands(op, 1 + dynamic))
      return err;
    if (Error err = expectIndices(op, 1, "a dynamic output size"))
      return err;
    return parseReassociation(object, op, (*source)->getRank(),
                              (*result)->getRank());
  }

  case OpKind::CollapseShape: {
    Expected<const MemRefType *> source = sourceMemRef();
    if (!source)
      return source.takeError();
    Expected<const MemRefType *> result = resultMemRef();
    if (!result)
      return result.takeError();
    if (Error err = expectOperands(op, 1))
      return err;
    if (Error err = sameElement(**source, **result))
      return err;
    return parseReassociation(object, op, (*result)->getRank(),
                              (*source)->getRank());
  }

  case OpKind::Cast: {
    if (Error err = expectOperands(op, 1))
      return err;
    Expected<const MemRefType *> source = sourceMemRef();
    if (!source)
      return source.takeError();
    Expected<const MemRefType *> result = resultMemRef();
    if (!result)
      return result.takeError();
    if (Error err = sameElement(**source, **result))
      return err;
    const MemRefType &from = **source, &to = **result;
    auto compatible = [](int64_t a, int64_t b) {
      return a == kDynamic || b == kDynamic || a == b;
    };
    bool ok =
        from.getRank() == to.getRank() && compatible(from.offset, to.offset);
    for (size_t i = 0; ok && i < from.getRank(); ++i)
      ok = compatible(from.shape[i], to.shape[i]) &&
           compatible(from.strides[i], to.strides[i]);
    if (!ok)
      return error("cannot cast " + toString(types[op.operands[0]]) + " to " +
                   toString(op.resultTypes[0]));
    return Error::success();
  }

  case OpKind::ReinterpretCast: {
    Expected<const MemRefType *> source = sourceMemRef();
    if (!source)
      return source.takeError();
    Expected<const MemRefType *> result = resultMemRef();
    if (!result)
      return result.takeError();
    if (Error err = sameElement(**source, **result))
      return err;
    size_t rank = (*result)->getRank(), dynamic = 0;
    Expected<SmallVector<int64_t, 4>> offsets =
        staticList(object, "static_offsets", 1, dynamic, true);
    if (!offsets)
      return offsets.takeError();
    Expected<SmallVector<int64_t, 4>> sizes =
        staticList(object, "static_sizes", rank, dynamic, true);
    if (!sizes)
      return sizes.takeError();
    Expected<SmallVector<int64_t, 4>> strides =
        staticList(object, "static_strides", rank, dynamic, false);
    if (!strides)
      return strides.takeError();
    if (Error err = expectOperands(op, 1 + dynamic))
      return err;
    if (Error err = expectIndices(op, 1, "a dynamic offset, size or stride"))
      return err;
    op.staticOffsets = std::move(*offsets);
    op.staticSizes = std::move(*sizes);
    op.staticStrides = std::move(*strides);
    return Error::success();
  }

  case OpKind::Copy: {
    if (Error err = expectOperands(op, 2))
      return err;
    if (Error err = expectResults(op, 0))
      return err;
    if (Error err = expectMemRef(op.operands[0], "the source (operand 0)"))
      return err;
    if (Error err = expectMemRef(op.operands[1], "the target (operand 1)"))
      return err;
    const MemRefType &from = types[op.operands[0]].memrefType;
    const MemRefType &to = types[op.operands[1]].memrefType;
    if (from.element != to.element || from.getRank() != to.getRank())
      return error("copies " + toString(types[op.operands[0]]) + " to " +
                   toString(types[op.operands[1]]) +
                   "; expected the same element type and rank");
    return Error::success();
  }

  case OpKind::LaunchFunc: {
    if (Error err = expectOperands(op, 0))
      return err;
    if (Error err = expectResults(op, 0))
      return err;
    std::optional<int64_t> kernel = object.get("kernel")
                                        ? object.get("kernel")->getAsInteger()
                                        : std::nullopt;
    if (!kernel || *kernel < 0 || uint64_t(*kernel) >= kernels.size())
      return error(formatv("\"kernel\" must be an index into the {0} "
                           "kernels of the bundle",
                           kernels.size()));
    op.kernel = unsigned(*kernel);
    for (auto [key, target] :
         {std::pair<StringRef, std::array<uint32_t, 3> *>{"grid", &op.grid},
          {"block", &op.block}}) {
      Expected<SmallVector<uint32_t, 4>> ids =
          useList(object.get(key), "\"" + key + "\" entry");
      if (!ids)
        return ids.takeError();
      if (!object.get(key) || ids->size() != 3)
        return error("\"" + key + "\" must list 3 value ids");
      for (size_t i = 0; i < 3; ++i) {
        if (Error err = expectIntegerType((*ids)[i],
                                          "\"" + key + "\" entry " + Twine(i)))
          return err;
        (*target)[i] = (*ids)[i];
      }
    }
    if (const json::Value *shared = object.get("shared_memory");
        shared && !shared->getAsNull()) {
      Expected<uint32_t> id = use(*shared, "\"shared_memory\"");
      if (!id)
        return id.takeError();
      if (Error err = expectIntegerType(*id, "\"shared_memory\""))
        return err;
      op.sharedMemory = *id;
    }
    Expected<SmallVector<uint32_t, 4>> args =
        useList(object.get("args"), "argument");
    if (!args)
      return args.takeError();
    for (auto [i, id] : enumerate(*args))
      if (types[id] == i1Type)
        return error(formatv("kernel argument {0} is an i1; the compiler "
                             "must widen it",
                             i));
    op.args.assign(args->begin(), args->end());
    for (uint32_t id : op.args)
      op.argTypes.push_back(types[id]);
    return Error::success();
  }

  case OpKind::For: {
    if (op.operands.size() < 3)
      return error(formatv("has {0} operands; expected at least 3 (lower "
                           "bound, upper bound, step)",
                           op.operands.size()));
    if (Error err = expectIntegerType(op.operands[0], "the lower bound"))
      return err;
    const Type &ivType = types[op.operands[0]];
    op.operandType = ivType.scalar;
    if (Error err = expectType(op.operands[1], ivType, "the upper bound"))
      return err;
    if (Error err = expectType(op.operands[2], ivType, "the step"))
      return err;
    size_t iterCount = op.operands.size() - 3;
    if (Error err = expectResults(op, iterCount))
      return err;
    SmallVector<Type, 4> argumentTypes = {ivType};
    for (size_t i = 0; i < iterCount; ++i) {
      if (Error err = expectType(op.operands[3 + i], op.resultTypes[i],
                                 "initial value " + Twine(i)))
        return err;
      argumentTypes.push_back(op.resultTypes[i]);
    }
    return parseRegion(object, "body", op, argumentTypes, op.resultTypes,
                       depth);
  }

  case OpKind::If: {
    if (Error err = expectOperands(op, 1))
      return err;
    if (Error err = expectType(op.operands[0], i1Type, "the condition"))
      return err;
    if (Error err = parseRegion(object, "then", op, {}, op.resultTypes, depth))
      return err;
    return parseRegion(object, "else", op, {}, op.resultTypes, depth,
                       /*optional=*/op.results.empty());
  }

  case OpKind::Return: {
    if (Error err = expectResults(op, 0))
      return err;
    if (Error err = expectOperands(op, resultTypes.size()))
      return err;
    for (auto [i, id] : enumerate(op.operands))
      if (Error err = expectType(id, *resultTypes[i], "result " + Twine(i)))
        return err;
    return Error::success();
  }

  default:
    break;
  }

  // The binary integer ops.
  if (!isBinaryInteger(op.kind))
    return error("is not handled by the parser");
  if (Error err = expectOperands(op, 2))
    return err;
  if (Error err = expectResults(op, 1))
    return err;
  if (!op.resultTypes[0].isIntegerScalar())
    return error("result has type " + toString(op.resultTypes[0]) +
                 "; expected an integer");
  if (Error err = expectType(op.operands[0], op.resultTypes[0], "operand 0"))
    return err;
  return expectType(op.operands[1], op.resultTypes[0], "operand 1");
}

Expected<HostProgram> ProgramParser::parse(const json::Value &json) {
  HostProgram program;
  const json::Object *object = json.getAsObject();
  if (!object)
    return makeError("host program: is " + describeJsonKind(json) +
                     "; expected an object");

  const json::Array *arguments = object->getArray("arguments");
  if (!arguments)
    return makeError("host program: \"arguments\" is missing or not an array");
  for (auto [i, entry] : enumerate(*arguments)) {
    location = "argument " + std::to_string(i);
    const json::Object *argument = entry.getAsObject();
    std::optional<StringRef> name =
        argument ? argument->getString("name") : std::nullopt;
    std::optional<StringRef> role =
        argument ? argument->getString("role") : std::nullopt;
    if (!name || !role)
      return error("needs string fields \"name\" and \"role\"");
    location += " '" + name->str() + "'";
    if (*role != "input" && *role != "parameter" && *role != "state")
      return error("role '" + *role +
                   "' is unknown; expected input, "
                   "parameter or state");
    const json::Value *typeJson = argument->get("type");
    if (!typeJson)
      return error("has no \"type\"");
    Expected<Type> type = parseType(*typeJson, "type");
    if (!type)
      return error(toString(type.takeError()));
    if (program.findArgument(*name))
      return error("the name is used by an earlier argument");
    // Argument i is value i.
    Expected<uint32_t> id = define(json::Value(int64_t(i)), *type, "argument");
    if (!id)
      return id.takeError();
    program.arguments.push_back({name->str(), role->str(), std::move(*type)});
  }

  const json::Array *results = object->getArray("results");
  if (!results)
    return makeError("host program: \"results\" is missing or not an array");
  for (auto [i, entry] : enumerate(*results)) {
    location = "result " + std::to_string(i);
    const json::Object *result = entry.getAsObject();
    std::optional<StringRef> name =
        result ? result->getString("name") : std::nullopt;
    const json::Value *typeJson = result ? result->get("type") : nullptr;
    if (!name || !typeJson)
      return error("needs a string \"name\" and a \"type\"");
    Expected<Type> type = parseType(*typeJson, "type");
    if (!type)
      return error(toString(type.takeError()));
    program.results.push_back({name->str(), std::move(*type)});
  }
  for (const ProgramResult &result : program.results)
    resultTypes.push_back(&result.type);

  const json::Array *body = object->getArray("body");
  if (!body)
    return makeError("host program: \"body\" is missing or not an array");
  if (Error err = parseOps(*body, program.body, "", 0, /*topLevel=*/true))
    return std::move(err);
  program.numValues = types.size();
  return std::move(program);
}

Expected<HostProgram> HostProgram::parse(const json::Value &program,
                                         ArrayRef<KernelRef> kernels) {
  return ProgramParser(kernels).parse(program);
}

std::optional<unsigned> HostProgram::findArgument(StringRef name) const {
  for (auto [i, argument] : enumerate(arguments))
    if (argument.name == name)
      return unsigned(i);
  return std::nullopt;
}

//===----------------------------------------------------------------------===//
// Kernel arguments
//===----------------------------------------------------------------------===//

Expected<KernelArguments> KernelArguments::pack(ArrayRef<Value> values,
                                                ArrayRef<Type> types) {
  if (values.size() != types.size())
    return makeError(formatv("packing {0} kernel arguments with {1} types",
                             values.size(), types.size()));
  KernelArguments packed;
  // Count first: `pointers` point into `slots`, which must not reallocate.
  size_t count = 0;
  for (const Type &type : types)
    count += type.isMemRef() ? 3 + 2 * type.memrefType.getRank() : 1;
  packed.slots.assign(count, 0);
  packed.sizes.reserve(count);
  auto push = [&](const void *data, size_t bytes) {
    size_t slot = packed.sizes.size();
    std::memcpy(&packed.slots[slot], data, bytes);
    packed.sizes.push_back(uint8_t(bytes));
  };
  for (auto [i, value, type] : enumerate(values, types)) {
    auto wrongKind = [&, i = i, &type = type] {
      return makeError(formatv("kernel argument {0} does not hold a value of "
                               "its type {1}",
                               i, toString(type)));
    };
    if (type.isMemRef()) {
      if (value.getKind() != Value::Kind::MemRef ||
          value.getMemRef().getRank() != type.memrefType.getRank() ||
          !value.getMemRef().allocation)
        return wrongKind();
      const MemRefValue &memref = value.getMemRef();
      uint64_t base = memref.allocation->getAddress();
      // allocated and aligned pointers: the allocation's base; the offset
      // field carries the view's offset.
      push(&base, 8);
      push(&base, 8);
      push(&memref.offset, 8);
      for (int64_t size : memref.sizes)
        push(&size, 8);
      for (int64_t stride : memref.strides)
        push(&stride, 8);
      continue;
    }
    switch (type.scalar) {
    case ScalarKind::Index:
    case ScalarKind::I64: {
      if (value.getKind() != Value::Kind::Integer)
        return wrongKind();
      int64_t v = value.getInteger();
      push(&v, 8);
      break;
    }
    case ScalarKind::I32: {
      if (value.getKind() != Value::Kind::Integer)
        return wrongKind();
      int32_t v = int32_t(value.getInteger());
      push(&v, 4);
      break;
    }
    case ScalarKind::F32: {
      if (value.getKind() != Value::Kind::Float)
        return wrongKind();
      float v = float(value.getFloat());
      push(&v, 4);
      break;
    }
    case ScalarKind::F64: {
      if (value.getKind() != Value::Kind::Float)
        return wrongKind();
      double v = value.getFloat();
      push(&v, 8);
      break;
    }
    case ScalarKind::I1:
      return makeError(formatv("kernel argument {0} is an i1, which is not a "
                               "kernel argument type",
                               i));
    }
  }
  packed.pointers.reserve(count);
  for (uint64_t &slot : packed.slots)
    packed.pointers.push_back(&slot);
  return std::move(packed);
}

//===----------------------------------------------------------------------===//
// Execution
//===----------------------------------------------------------------------===//

DeviceBackend::~DeviceBackend() = default;

namespace {

/// Runs one program once. `values` holds every value by our id.
/// Calls `fn` on every value id `op` reads, in its regions too.
void forEachUse(const Op &op, function_ref<void(uint32_t)> fn) {
  for (uint32_t id : op.operands)
    fn(id);
  if (op.kind == OpKind::LaunchFunc) {
    for (uint32_t id : op.grid)
      fn(id);
    for (uint32_t id : op.block)
      fn(id);
    if (op.sharedMemory)
      fn(*op.sharedMemory);
    for (uint32_t id : op.args)
      fn(id);
  }
  for (const Region &region : op.regions) {
    for (const Op &inner : region.body)
      forEachUse(inner, fn);
    for (uint32_t id : region.yields)
      fn(id);
  }
}

/// For each top-level op, the values it defines or reads for the last
/// time: the interpreter drops them after the op, so that memory returns to
/// the pool as soon as the program is done with it (bufferization inserts
/// no deallocations; without this every intermediate of a forward would
/// stay allocated to its end). Arguments belong to the caller and the last
/// op (func.return) hands its operands out; neither is released.
std::vector<SmallVector<uint32_t, 4>>
lastUses(ArrayRef<Op> body, size_t numValues, size_t numArguments) {
  constexpr size_t kNever = std::numeric_limits<size_t>::max();
  std::vector<size_t> last(numValues, kNever);
  for (auto [i, op] : enumerate(body)) {
    for (uint32_t id : op.results)
      last[id] = i; // a value nobody reads goes right away
    forEachUse(op, [&, i = i](uint32_t id) { last[id] = i; });
  }
  std::vector<SmallVector<uint32_t, 4>> release(body.size());
  for (size_t id = numArguments; id < numValues; ++id)
    if (last[id] != kNever && last[id] + 1 < body.size())
      release[last[id]].push_back(id);
  return release;
}

class Interpreter {
public:
  Interpreter(const HostProgram &program, DeviceBackend &backend)
      : program(program), backend(backend), values(program.getNumValues()) {}

  Expected<std::vector<Value>> run(ArrayRef<Value> arguments);

private:
  Error runOps(ArrayRef<Op> ops);
  Error runOp(const Op &op);
  Error runRegion(const Region &region);
  Error runInteger(const Op &op);
  Error runView(const Op &op);
  Error runLaunch(const Op &op);

  Error error(const Op &op, const Twine &msg) const {
    return makeError("host program: " + op.location + ": " + msg);
  }
  int64_t integer(uint32_t id) const { return values[id].getInteger(); }
  const MemRefValue &memref(uint32_t id) const {
    return values[id].getMemRef();
  }
  /// Fails for a value memref.dealloc dropped.
  Error checkLive(const Op &op, ArrayRef<uint32_t> ids, StringRef what) const {
    for (auto [i, id] : enumerate(ids))
      if (values[id].isNone())
        return error(op,
                     formatv("{0} {1} is used after memref.dealloc", what, i));
    return Error::success();
  }
  /// Stores a view `op` made, after checking it has the declared type.
  Error setView(const Op &op, MemRefValue view) {
    if (!matchesType(view, op.resultTypes[0].memrefType))
      return error(op, "made " + describe(view) +
                           ", which does not have the declared type " +
                           toString(op.resultTypes[0]));
    values[op.results[0]] = Value::getMemRef(std::move(view));
    return Error::success();
  }

  const HostProgram &program;
  DeviceBackend &backend;
  std::vector<Value> values;
  /// Ops this execution may still run (HostProgram::kMaxExecutedOps).
  uint64_t opsLeft = HostProgram::kMaxExecutedOps;
};

Expected<std::vector<Value>> Interpreter::run(ArrayRef<Value> arguments) {
  ArrayRef<ProgramArgument> declared = program.getArguments();
  if (arguments.size() != declared.size())
    return makeError(formatv("host program: given {0} arguments; it takes {1}",
                             arguments.size(), declared.size()));
  for (auto [i, argument] : enumerate(declared)) {
    Expected<Value> checked =
        checkValue(arguments[i], argument.type,
                   "host program: argument '" + argument.name + "'");
    if (!checked)
      return checked.takeError();
    values[i] = std::move(*checked);
  }
  ArrayRef<Op> body = program.getBody();
  std::vector<SmallVector<uint32_t, 4>> release =
      lastUses(body, values.size(), declared.size());
  for (auto [i, op] : enumerate(body)) {
    if (Error err = runOp(op))
      return std::move(err);
    for (uint32_t id : release[i])
      values[id] = Value();
  }
  const Op &ret = body.back();
  std::vector<Value> results;
  results.reserve(ret.operands.size());
  for (uint32_t id : ret.operands)
    results.push_back(values[id]);
  return results;
}

Error Interpreter::runOps(ArrayRef<Op> ops) {
  for (const Op &op : ops) {
    if (opsLeft == 0)
      return error(op, formatv("the program runs more than {0} ops; a loop "
                               "bound is wrong (a malformed bundle?)",
                               HostProgram::kMaxExecutedOps));
    --opsLeft;
    if (Error err = runOp(op))
      return err;
  }
  return Error::success();
}

Error Interpreter::runRegion(const Region &region) {
  if (Error err = runOps(region.body))
    return err;
  for (uint32_t id : region.yields)
    if (values[id].isNone())
      return makeError("host program: a region yields a value after its "
                       "memref.dealloc");
  return Error::success();
}

Error Interpreter::runOp(const Op &op) {
  if (Error err = checkLive(op, op.operands, "operand"))
    return err;
  switch (op.kind) {
  case OpKind::Constant:
    values[op.results[0]] = op.constant;
    return Error::success();

  case OpKind::Select:
    values[op.results[0]] =
        values[op.operands[integer(op.operands[0]) ? 1 : 2]];
    return Error::success();

  case OpKind::Dim: {
    const MemRefValue &source = memref(op.operands[0]);
    int64_t dim = integer(op.operands[1]);
    if (dim < 0 || uint64_t(dim) >= source.getRank())
      return error(op, formatv("dimension {0} is out of range for a memref of "
                               "rank {1}",
                               dim, source.getRank()));
    if (Error err = source.checkInBounds("the memref"))
      return error(op, toString(std::move(err)));
    values[op.results[0]] = Value::getInteger(source.sizes[dim]);
    return Error::success();
  }

  case OpKind::Alloc: {
    const MemRefType &type = op.resultTypes[0].memrefType;
    MemRefValue result;
    result.element = type.element;
    size_t next = 0;
    int64_t elements = 1;
    for (auto [i, declared] : enumerate(type.shape)) {
      int64_t size = declared;
      if (size == kDynamic)
        size = integer(op.operands[next++]);
      if (size < 0)
        return error(op, formatv("size {0} is negative ({1})", i, size));
      if (mulOverflow(elements, size, elements))
        return error(op, "the number of elements overflows");
      result.sizes.push_back(size);
    }
    std::optional<SmallVector<int64_t, 4>> strides =
        identityStrides(result.sizes);
    int64_t bytes = 0;
    if (!strides ||
        mulOverflow(elements, int64_t(getElementBytes(type.element)), bytes))
      return error(op, "allocating " + formatList(result.sizes) + " " +
                           getName(type.element) + ": the size overflows");
    result.strides = std::move(*strides);
    Expected<std::shared_ptr<Allocation>> allocation =
        backend.allocate(size_t(bytes));
    if (!allocation)
      return error(op, toString(allocation.takeError()));
    result.allocation = std::move(*allocation);
    return setView(op, std::move(result));
  }

  case OpKind::Dealloc:
    values[op.operands[0]] = Value();
    return Error::success();

  case OpKind::SubView:
  case OpKind::ExpandShape:
  case OpKind::CollapseShape:
  case OpKind::Cast:
  case OpKind::ReinterpretCast:
    return runView(op);

  case OpKind::Copy: {
    const MemRefValue &source = memref(op.operands[0]);
    const MemRefValue &target = memref(op.operands[1]);
    if (source.sizes != target.sizes)
      return error(op, "copies " + describe(source) + " to " +
                           describe(target) + ": the sizes differ");
    if (!source.isContiguous() || !target.isContiguous())
      return error(op, "copies " + describe(source) + " to " +
                           describe(target) +
                           ": only contiguous memrefs can be copied");
    if (Error err = source.checkInBounds("the source"))
      return error(op, toString(std::move(err)));
    if (Error err = target.checkInBounds("the target"))
      return error(op, toString(std::move(err)));
    // In bounds, so these products fit.
    size_t elementBytes = getElementBytes(source.element);
    size_t bytes = size_t(*source.getNumElements()) * elementBytes;
    if (bytes == 0)
      return Error::success();
    if (Error err = backend.copy(
            *target.allocation, size_t(target.offset) * elementBytes,
            *source.allocation, size_t(source.offset) * elementBytes, bytes))
      return error(op, toString(std::move(err)));
    return Error::success();
  }

  case OpKind::LaunchFunc:
    return runLaunch(op);

  case OpKind::For: {
    const Region &body = op.regions[0];
    // Signed bounds (MLIR's default); the induction variable wraps to the
    // bounds' width.
    unsigned width = getIntegerWidth(op.operandType);
    int64_t lower = asSigned(integer(op.operands[0]), width);
    int64_t upper = asSigned(integer(op.operands[1]), width);
    int64_t step = asSigned(integer(op.operands[2]), width);
    if (step <= 0)
      return error(op, formatv("the step is {0}; it must be positive", step));
    uint64_t trips =
        upper <= lower
            ? 0
            : (uint64_t(upper) - uint64_t(lower) - 1) / uint64_t(step) + 1;
    // Each trip runs at least the body's ops: a loop that cannot finish
    // within the budget is rejected before it starts.
    if (trips > 0 && trips > opsLeft / std::max<size_t>(body.body.size(), 1))
      return error(op, formatv("a loop of {0} trips would run more than {1} "
                               "ops; a loop bound is wrong (a malformed "
                               "bundle?)",
                               trips, HostProgram::kMaxExecutedOps));
    size_t iterCount = op.operands.size() - 3;
    for (size_t i = 0; i < iterCount; ++i)
      values[body.arguments[1 + i]] = values[op.operands[3 + i]];
    for (uint64_t trip = 0; trip < trips; ++trip) {
      values[body.arguments[0]] = Value::getInteger(
          wrapTo(uint64_t(lower) + trip * uint64_t(step), width));
      if (Error err = runRegion(body))
        return err;
      for (size_t i = 0; i < iterCount; ++i)
        values[body.arguments[1 + i]] = values[body.yields[i]];
    }
    for (size_t i = 0; i < iterCount; ++i)
      values[op.results[i]] = values[body.arguments[1 + i]];
    return Error::success();
  }

  case OpKind::If: {
    const Region &region = op.regions[integer(op.operands[0]) ? 0 : 1];
    if (Error err = runRegion(region))
      return err;
    for (size_t i = 0; i < op.results.size(); ++i)
      values[op.results[i]] = values[region.yields[i]];
    return Error::success();
  }

  case OpKind::Return:
    for (uint32_t id : op.operands)
      if (values[id].getKind() == Value::Kind::MemRef)
        if (Error err = memref(id).checkInBounds("a result"))
          return error(op, toString(std::move(err)));
    return Error::success();

  default:
    return runInteger(op);
  }
}

Error Interpreter::runInteger(const Op &op) {
  unsigned width = getIntegerWidth(op.resultTypes[0].scalar);
  int64_t a = integer(op.operands[0]);
  auto set = [&](uint64_t bits) {
    values[op.results[0]] = Value::getInteger(wrapTo(bits, width));
    return Error::success();
  };

  if (op.kind >= OpKind::IndexCast && op.kind <= OpKind::TruncI) {
    unsigned from = getIntegerWidth(op.operandType);
    bool isSigned = op.kind == OpKind::IndexCast || op.kind == OpKind::ExtSI;
    // Widening extends by the cast's signedness; narrowing truncates.
    return set(isSigned ? uint64_t(asSigned(a, from)) : asUnsigned(a, from));
  }

  int64_t b = integer(op.operands[1]);
  if (op.kind == OpKind::CmpI) {
    unsigned from = getIntegerWidth(op.operandType);
    int64_t sa = asSigned(a, from), sb = asSigned(b, from);
    uint64_t ua = asUnsigned(a, from), ub = asUnsigned(b, from);
    bool result = false;
    switch (op.predicate) {
    case CmpPredicate::EQ:
      result = ua == ub;
      break;
    case CmpPredicate::NE:
      result = ua != ub;
      break;
    case CmpPredicate::SLT:
      result = sa < sb;
      break;
    case CmpPredicate::SLE:
      result = sa <= sb;
      break;
    case CmpPredicate::SGT:
      result = sa > sb;
      break;
    case CmpPredicate::SGE:
      result = sa >= sb;
      break;
    case CmpPredicate::ULT:
      result = ua < ub;
      break;
    case CmpPredicate::ULE:
      result = ua <= ub;
      break;
    case CmpPredicate::UGT:
      result = ua > ub;
      break;
    case CmpPredicate::UGE:
      result = ua >= ub;
      break;
    }
    values[op.results[0]] = Value::getInteger(result);
    return Error::success();
  }

  int64_t sa = asSigned(a, width), sb = asSigned(b, width);
  uint64_t ua = asUnsigned(a, width), ub = asUnsigned(b, width);
  switch (op.kind) {
  case OpKind::DivSI:
  case OpKind::DivUI:
  case OpKind::RemSI:
  case OpKind::RemUI:
  case OpKind::CeilDivSI:
  case OpKind::CeilDivUI:
  case OpKind::FloorDivSI:
    if (ub == 0)
      return error(op, formatv("division by zero ({0} / 0)", sa));
    break;
  default:
    break;
  }
  switch (op.kind) {
  case OpKind::AddI:
    return set(ua + ub);
  case OpKind::SubI:
    return set(ua - ub);
  case OpKind::MulI:
    return set(ua * ub);
  case OpKind::DivSI:
    return set(uint64_t(divideSigned(sa, sb)));
  case OpKind::DivUI:
    return set(ua / ub);
  case OpKind::RemSI:
    return set(uint64_t(remainderSigned(sa, sb)));
  case OpKind::RemUI:
    return set(ua % ub);
  case OpKind::CeilDivSI:
  case OpKind::FloorDivSI: {
    // Round the truncated quotient up (ceil) or down (floor) when the
    // remainder is non-zero and the exact quotient is positive (ceil) or
    // negative (floor).
    uint64_t quotient = uint64_t(divideSigned(sa, sb));
    int64_t remainder = remainderSigned(sa, sb);
    bool positive = (remainder < 0) == (sb < 0);
    if (remainder != 0 && op.kind == OpKind::CeilDivSI && positive)
      ++quotient;
    if (remainder != 0 && op.kind == OpKind::FloorDivSI && !positive)
      --quotient;
    return set(quotient);
  }
  case OpKind::CeilDivUI:
    return set(ua / ub + (ua % ub != 0));
  case OpKind::MinSI:
    return set(uint64_t(std::min(sa, sb)));
  case OpKind::MaxSI:
    return set(uint64_t(std::max(sa, sb)));
  case OpKind::MinUI:
    return set(std::min(ua, ub));
  case OpKind::MaxUI:
    return set(std::max(ua, ub));
  case OpKind::AndI:
    return set(ua & ub);
  case OpKind::OrI:
    return set(ua | ub);
  case OpKind::XOrI:
    return set(ua ^ ub);
  default:
    return error(op, "is not an integer op");
  }
}

Error Interpreter::runView(const Op &op) {
  const MemRefValue &source = memref(op.operands[0]);
  MemRefValue result;
  result.allocation = source.allocation;
  result.element = source.element;
  size_t next = 1; // the next dynamic operand
  auto resolve = [&](int64_t value) {
    return value == kDynamic ? integer(op.operands[next++]) : value;
  };

  switch (op.kind) {
  case OpKind::SubView: {
    SmallVector<int64_t, 4> offsets, sizes, strides;
    for (int64_t v : op.staticOffsets)
      offsets.push_back(resolve(v));
    for (int64_t v : op.staticSizes)
      sizes.push_back(resolve(v));
    for (int64_t v : op.staticStrides)
      strides.push_back(resolve(v));
    result.offset = source.offset;
    const unsigned *dropped = op.droppedDims.begin();
    for (size_t i = 0; i < source.getRank(); ++i) {
      int64_t offset = offsets[i], size = sizes[i], step = strides[i];
      // MLIR leaves a subview outside its source undefined; we refuse it.
      int64_t last = 0, delta = 0;
      bool overflow = false;
      if (size > 0)
        overflow = mulOverflow(size - 1, step, last) ||
                   addOverflow(offset, last, last);
      if (offset < 0 || size < 0 || overflow || offset > source.sizes[i] ||
          (size > 0 && (last < 0 || last >= source.sizes[i])))
        return error(op, formatv("dimension {0}: offset {1}, size {2}, stride "
                                 "{3} do not fit in the source's size {4}",
                                 i, offset, size, step, source.sizes[i]));
      if (mulOverflow(offset, source.strides[i], delta) ||
          addOverflow(result.offset, delta, result.offset))
        return error(op, "the offset overflows");
      if (dropped != op.droppedDims.end() && *dropped == i) {
        ++dropped;
        if (size != 1)
          return error(
              op, formatv("drops dimension {0}, whose size is {1}", i, size));
        continue;
      }
      int64_t stride = 0;
      if (mulOverflow(source.strides[i], step, stride))
        return error(op, "a stride overflows");
      result.sizes.push_back(size);
      result.strides.push_back(stride);
    }
    return setView(op, std::move(result));
  }

  case OpKind::ExpandShape: {
    result.offset = source.offset;
    for (int64_t v : op.staticSizes)
      result.sizes.push_back(resolve(v));
    result.strides.assign(result.sizes.size(), 1);
    for (auto [g, group] : enumerate(op.reassociation)) {
      // Innermost dimension first: it keeps the source stride, and each
      // outer one steps over the inner ones.
      int64_t stride = source.strides[g], product = 1;
      for (size_t k = group.size(); k-- > 0;) {
        unsigned d = group[k];
        result.strides[d] = stride;
        if (mulOverflow(product, result.sizes[d], product) ||
            (k > 0 && mulOverflow(stride, result.sizes[d], stride)))
          return error(op, "a size or stride overflows");
      }
      if (product != source.sizes[g])
        return error(op, formatv("group {0} has {1} elements; the source "
                                 "dimension has {2}",
                                 g, product, source.sizes[g]));
    }
    if (op.reassociation.empty() &&
        any_of(result.sizes, [](int64_t size) { return size != 1; }))
      return error(op, "expanding a rank-0 memref needs unit sizes");
    return setView(op, std::move(result));
  }

  case OpKind::CollapseShape: {
    const MemRefType &type = op.resultTypes[0].memrefType;
    result.offset = source.offset;
    for (auto [g, group] : enumerate(op.reassociation)) {
      int64_t size = 1, stride = 0;
      bool found = false;
      bool empty = any_of(group, [&](unsigned d) { return !source.sizes[d]; });
      // Contiguous: each non-unit dimension steps over the next inner one.
      int64_t expected = 0;
      for (size_t k = group.size(); k-- > 0;) {
        unsigned d = group[k];
        if (mulOverflow(size, source.sizes[d], size))
          return error(op, "a size overflows");
        if (source.sizes[d] == 1)
          continue;
        if (!found) {
          stride = source.strides[d];
          found = true;
        } else if (!empty && source.strides[d] != expected) {
          return error(op, formatv("group {0} of {1} is not contiguous", g,
                                   describe(source)));
        }
        if (mulOverflow(source.strides[d], source.sizes[d], expected))
          expected = kDynamic;
      }
      // A group of unit dimensions: any stride reaches the same element;
      // prefer the declared one, as MLIR's lowering does.
      if (!found)
        stride = type.strides[g] != kDynamic ? type.strides[g]
                                             : source.strides[group.back()];
      result.sizes.push_back(size);
      result.strides.push_back(stride);
    }
    if (op.reassociation.empty() &&
        any_of(source.sizes, [](int64_t size) { return size != 1; }))
      return error(op, "collapsing to rank 0 needs unit sizes");
    return setView(op, std::move(result));
  }

  case OpKind::Cast:
    return setView(op, source);

  case OpKind::ReinterpretCast: {
    result.offset = resolve(op.staticOffsets[0]);
    for (int64_t v : op.staticSizes)
      result.sizes.push_back(resolve(v));
    for (int64_t v : op.staticStrides)
      result.strides.push_back(resolve(v));
    // The one view op that can reach outside its source: check it here.
    if (Error err = result.checkInBounds("the view"))
      return error(op, toString(std::move(err)));
    return setView(op, std::move(result));
  }

  default:
    return error(op, "is not a view op");
  }
}

Error Interpreter::runLaunch(const Op &op) {
  if (Error err = checkLive(op, op.args, "kernel argument"))
    return err;
  LaunchShape shape;
  for (size_t i = 0; i < 3; ++i) {
    for (auto [what, id, target] : {std::tuple<StringRef, uint32_t, unsigned *>{
                                        "grid", op.grid[i], &shape.grid[i]},
                                    {"block", op.block[i], &shape.block[i]}}) {
      int64_t v = integer(id);
      // An empty grid is an empty loop (no rows): nothing to launch.
      int64_t low = what == "grid" ? 0 : 1;
      if (v < low || v > int64_t(std::numeric_limits<unsigned>::max()))
        return error(op, formatv("{0} size {1} is {2}; expected {3}..{4}", what,
                                 "xyz"[i], v, low,
                                 std::numeric_limits<unsigned>::max()));
      *target = unsigned(v);
    }
  }
  if (shape.grid[0] == 0 || shape.grid[1] == 0 || shape.grid[2] == 0)
    return Error::success();
  if (op.sharedMemory) {
    int64_t v = integer(*op.sharedMemory);
    if (v < 0 || v > int64_t(std::numeric_limits<unsigned>::max()))
      return error(op, formatv("shared memory size is {0}", v));
    shape.sharedMemoryBytes = unsigned(v);
  }
  SmallVector<Value, 8> args;
  SmallVector<Type, 8> types;
  for (auto [i, id] : enumerate(op.args)) {
    const Value &value = values[id];
    if (value.getKind() == Value::Kind::MemRef)
      if (Error err =
              value.getMemRef().checkInBounds("kernel argument " + Twine(i)))
        return error(op, toString(std::move(err)));
    args.push_back(value);
    types.push_back(op.argTypes[i]);
  }
  Expected<KernelArguments> packed = KernelArguments::pack(args, types);
  if (!packed)
    return error(op, toString(packed.takeError()));
  if (Error err = backend.launch(op.kernel, shape, *packed))
    return error(op, toString(std::move(err)));
  return Error::success();
}

} // namespace

Expected<std::vector<Value>>
xlstm::runtime::execute(const HostProgram &program, DeviceBackend &backend,
                        ArrayRef<Value> arguments) {
  return Interpreter(program, backend).run(arguments);
}

Expected<std::vector<Value>>
xlstm::runtime::bindArguments(const HostProgram &program,
                              const StringMap<Value> &named) {
  for (const auto &entry : named)
    if (!program.findArgument(entry.getKey()))
      return makeError("host program: there is no argument '" + entry.getKey() +
                       "'");
  std::vector<Value> result;
  for (const ProgramArgument &argument : program.getArguments()) {
    auto it = named.find(argument.name);
    if (it == named.end())
      return makeError("host program: argument '" + argument.name + "' (" +
                       argument.role + ") is not given");
    result.push_back(it->second);
  }
  return result;
}

Expected<MemRefValue> xlstm::runtime::allocateMemRef(DeviceBackend &backend,
                                                     ElementKind element,
                                                     ArrayRef<int64_t> sizes) {
  MemRefValue result;
  result.element = element;
  result.sizes.assign(sizes.begin(), sizes.end());
  std::optional<int64_t> elements = result.getNumElements();
  std::optional<SmallVector<int64_t, 4>> strides = identityStrides(sizes);
  int64_t bytes = 0;
  if (any_of(sizes, [](int64_t size) { return size < 0; }) || !elements ||
      !strides ||
      mulOverflow(*elements, int64_t(getElementBytes(element)), bytes))
    return makeError("cannot allocate a memref of sizes " + formatList(sizes));
  result.strides = std::move(*strides);
  Expected<std::shared_ptr<Allocation>> allocation =
      backend.allocate(size_t(bytes));
  if (!allocation)
    return allocation.takeError();
  result.allocation = std::move(*allocation);
  return std::move(result);
}

//===----------------------------------------------------------------------===//
// The CUDA backend
//===----------------------------------------------------------------------===//

namespace {

/// Where a released allocation's buffer goes.
class BufferHome {
public:
  virtual ~BufferHome() = default;
  virtual void give(DeviceBuffer buffer) = 0;
};

/// Free device buffers by bucket size. Shared by the backend and every
/// allocation it handed out, so an allocation outliving the backend still
/// has somewhere to go; the buffers are freed when the last owner goes.
class BufferPool : public BufferHome {
public:
  explicit BufferPool(const Context &context) : context(context) {}

  /// The bucket `bytes` goes to: powers of two up to 1 MiB (at most 2x
  /// waste on small buffers), 2 MiB multiples above (little waste on the
  /// large ones, which repeat exactly from run to run anyway).
  static size_t bucket(size_t bytes) {
    constexpr size_t kSmall = size_t(1) << 20, kLargeStep = size_t(2) << 20;
    if (bytes <= 512)
      return 512;
    if (bytes <= kSmall)
      return size_t(1) << (64 - __builtin_clzll(bytes - 1));
    if (bytes > std::numeric_limits<size_t>::max() - kLargeStep)
      return bytes;
    return (bytes + kLargeStep - 1) / kLargeStep * kLargeStep;
  }

  Expected<DeviceBuffer> take(size_t bytes) {
    size_t size = bucket(bytes);
    {
      std::lock_guard<std::mutex> lock(mutex);
      auto it = free.find(size);
      if (it != free.end() && !it->second.empty()) {
        DeviceBuffer buffer = std::move(it->second.back());
        it->second.pop_back();
        cachedBytes -= size;
        return std::move(buffer);
      }
    }
    Expected<DeviceBuffer> buffer = DeviceBuffer::allocate(context, size);
    if (buffer)
      return buffer;
    // Out of memory, perhaps only because of what we cache: free it, retry.
    if (cachedBytes == 0)
      return buffer.takeError();
    consumeError(buffer.takeError());
    releaseAll();
    return DeviceBuffer::allocate(context, size);
  }

  void give(DeviceBuffer buffer) override {
    std::lock_guard<std::mutex> lock(mutex);
    cachedBytes += buffer.size();
    free[buffer.size()].push_back(std::move(buffer));
  }

  void releaseAll() {
    std::map<size_t, std::vector<DeviceBuffer>> released;
    {
      std::lock_guard<std::mutex> lock(mutex);
      released.swap(free);
      cachedBytes = 0;
    }
  }

  size_t getCachedBytes() {
    std::lock_guard<std::mutex> lock(mutex);
    return cachedBytes;
  }

private:
  const Context &context;
  std::mutex mutex;
  std::map<size_t, std::vector<DeviceBuffer>> free;
  size_t cachedBytes = 0;
};

/// The buffers of one graph capture. A graph replays the addresses it was
/// captured with, so what the capture allocates stays with it: a buffer
/// released during the capture is reused only by later allocations of the
/// same capture (safe: a captured stream is one chain of work), never by
/// other work, until the arena is gone (the recording and every value
/// holding one of its buffers); then everything goes back to the pool.
class CaptureArena : public BufferHome {
public:
  explicit CaptureArena(std::shared_ptr<BufferPool> pool)
      : pool(std::move(pool)) {}
  ~CaptureArena() override {
    for (auto &[size, buffers] : free)
      for (DeviceBuffer &buffer : buffers)
        pool->give(std::move(buffer));
  }

  Expected<DeviceBuffer> take(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      auto it = free.find(BufferPool::bucket(bytes));
      if (it != free.end() && !it->second.empty()) {
        DeviceBuffer buffer = std::move(it->second.back());
        it->second.pop_back();
        return std::move(buffer);
      }
    }
    return pool->take(bytes);
  }

  void give(DeviceBuffer buffer) override {
    std::lock_guard<std::mutex> lock(mutex);
    free[buffer.size()].push_back(std::move(buffer));
  }

private:
  std::shared_ptr<BufferPool> pool;
  std::mutex mutex;
  std::map<size_t, std::vector<DeviceBuffer>> free;
};

/// An allocation from a pool or arena; returns its buffer there when
/// released.
class PooledAllocation : public Allocation {
public:
  PooledAllocation(std::shared_ptr<BufferHome> home, DeviceBuffer buffer,
                   size_t bytes)
      : Allocation(buffer.get(), bytes), home(std::move(home)),
        buffer(std::move(buffer)) {}
  ~PooledAllocation() override {
    if (home)
      home->give(std::move(buffer));
  }

private:
  std::shared_ptr<BufferHome> home;
  DeviceBuffer buffer;
};

/// "[start, start + bytes) of an allocation of N bytes" when it does not fit.
Error checkRange(const Allocation &allocation, size_t offset, size_t bytes,
                 StringRef what) {
  if (offset <= allocation.getBytes() &&
      bytes <= allocation.getBytes() - offset)
    return Error::success();
  return makeError(formatv("{0} of {1} bytes at offset {2} does not fit in an "
                           "allocation of {3} bytes",
                           what, bytes, offset, allocation.getBytes()));
}

} // namespace

struct CudaBackend::Impl {
  struct Kernel {
    Function function;
    /// The dynamic shared memory the kernel may use (48 KiB without opt-in).
    unsigned maxDynamicShared = 48 * 1024;
  };

  explicit Impl(const Context &context, Stream stream)
      : context(context), stream(std::move(stream)),
        pool(std::make_shared<BufferPool>(context)) {}

  const Context &context;
  Stream stream;
  std::vector<Module> modules; // before kernels: they refer to the modules
  std::vector<Kernel> kernels;
  std::shared_ptr<BufferPool> pool;
  /// Set while record() captures: allocations come from it.
  std::shared_ptr<CaptureArena> arena;
  // Profiling: an event pair per timed launch, reused across takeProfile().
  bool profiling = false;
  struct Timed {
    unsigned kernel;
    Event start, end;
  };
  std::vector<Timed> timed;
  size_t numTimed = 0;
};

CudaBackend::CudaBackend(std::unique_ptr<Impl> impl) : impl(std::move(impl)) {}
CudaBackend::~CudaBackend() = default;

Expected<std::unique_ptr<CudaBackend>> CudaBackend::create(
    const Context &context, ArrayRef<KernelRef> kernels,
    function_ref<Expected<StringRef>(const KernelRef &)> loadImage) {
  Expected<Stream> stream = Stream::create(context);
  if (!stream)
    return stream.takeError();
  auto impl = std::make_unique<Impl>(context, std::move(*stream));
  // Kernels that share an image (a section) share one loaded module.
  StringMap<size_t> moduleIndex;
  for (const KernelRef &kernel : kernels) {
    auto [it, inserted] = moduleIndex.try_emplace(
        kernel.section.empty() ? kernel.module : kernel.section,
        impl->modules.size());
    if (inserted) {
      Expected<StringRef> image = loadImage(kernel);
      if (!image)
        return image.takeError();
      Expected<Module> module = Module::load(context, *image);
      if (!module)
        return makeError("loading kernel module '" + kernel.module + "' (" +
                         kernel.section + "): " + toString(module.takeError()));
      impl->modules.push_back(std::move(*module));
    }
    Expected<Function> function =
        impl->modules[it->second].getFunction(kernel.name);
    if (!function)
      return makeError("kernel module '" + kernel.module +
                       "': " + toString(function.takeError()));
    impl->kernels.push_back({std::move(*function)});
  }
  return std::unique_ptr<CudaBackend>(new CudaBackend(std::move(impl)));
}

Expected<std::shared_ptr<Allocation>> CudaBackend::allocate(size_t bytes) {
  if (bytes == 0)
    return std::make_shared<Allocation>(0, 0);
  if (impl->arena) {
    Expected<DeviceBuffer> buffer = impl->arena->take(bytes);
    if (!buffer)
      return buffer.takeError();
    return std::make_shared<PooledAllocation>(impl->arena, std::move(*buffer),
                                              bytes);
  }
  Expected<DeviceBuffer> buffer = impl->pool->take(bytes);
  if (!buffer)
    return buffer.takeError();
  return std::make_shared<PooledAllocation>(impl->pool, std::move(*buffer),
                                            bytes);
}

struct CudaBackend::Recording::State {
  const Stream &stream;
  GraphExec graph;
  std::shared_ptr<CaptureArena> arena;
};

CudaBackend::Recording::Recording(std::unique_ptr<State> state)
    : state(std::move(state)) {}
CudaBackend::Recording::~Recording() = default;

Error CudaBackend::Recording::replay() const {
  return state->graph.launch(state->stream);
}

Expected<std::unique_ptr<CudaBackend::Recording>>
CudaBackend::record(function_ref<Error()> enqueue) {
  if (impl->arena)
    return makeError("a recording is already under way");
  if (impl->profiling)
    return makeError("per-launch profiling cannot be recorded into a graph; "
                     "turn it off first");
  auto arena = std::make_shared<CaptureArena>(impl->pool);
  impl->arena = arena;
  // Relaxed: a pool miss may allocate while capturing; the buffer is the
  // arena's from then on.
  Expected<GraphExec> graph = GraphExec::capture(
      impl->stream, enqueue, cu::CU_STREAM_CAPTURE_MODE_RELAXED);
  impl->arena.reset();
  if (!graph)
    return graph.takeError();
  return std::unique_ptr<Recording>(
      new Recording(std::make_unique<Recording::State>(Recording::State{
          impl->stream, std::move(*graph), std::move(arena)})));
}

Error CudaBackend::launch(unsigned kernel, const LaunchShape &shape,
                          const KernelArguments &arguments) {
  if (kernel >= impl->kernels.size())
    return makeError(formatv("there is no kernel {0}; the backend has {1}",
                             kernel, impl->kernels.size()));
  Impl::Kernel &entry = impl->kernels[kernel];
  // More than 48 KiB of dynamic shared memory needs an opt-in per kernel.
  if (shape.sharedMemoryBytes > entry.maxDynamicShared) {
    if (Error err = entry.function.setAttribute(
            cu::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
            int(std::min<unsigned>(shape.sharedMemoryBytes,
                                   std::numeric_limits<int>::max()))))
      return err;
    entry.maxDynamicShared = shape.sharedMemoryBytes;
  }
  Impl::Timed *timing = nullptr;
  if (impl->profiling) {
    if (impl->numTimed == impl->timed.size()) {
      Expected<Event> start = Event::create(impl->context);
      if (!start)
        return start.takeError();
      Expected<Event> end = Event::create(impl->context);
      if (!end)
        return end.takeError();
      impl->timed.push_back({kernel, std::move(*start), std::move(*end)});
    }
    timing = &impl->timed[impl->numTimed++];
    timing->kernel = kernel;
    if (Error err = timing->start.record(impl->stream))
      return err;
  }
  if (Error err = runtime::launch(
          entry.function, {shape.grid[0], shape.grid[1], shape.grid[2]},
          {shape.block[0], shape.block[1], shape.block[2]},
          shape.sharedMemoryBytes, impl->stream,
          // cuLaunchKernel reads the parameters and keeps no pointers.
          const_cast<void **>(arguments.getPointers().data())))
    return err;
  return timing ? timing->end.record(impl->stream) : Error::success();
}

const Stream &CudaBackend::getStream() const { return impl->stream; }

Error CudaBackend::setProfiling(bool on) {
  impl->profiling = on;
  return Error::success();
}

Expected<std::vector<CudaBackend::KernelTime>> CudaBackend::takeProfile() {
  if (Error err = impl->stream.synchronize())
    return std::move(err);
  std::vector<KernelTime> times;
  std::unordered_map<unsigned, size_t> slot;
  for (size_t i = 0; i < impl->numTimed; ++i) {
    const Impl::Timed &t = impl->timed[i];
    Expected<float> ms = Event::elapsedMilliseconds(t.start, t.end);
    if (!ms)
      return ms.takeError();
    auto [it, inserted] = slot.try_emplace(t.kernel, times.size());
    if (inserted)
      times.push_back({t.kernel});
    times[it->second].launches += 1;
    times[it->second].milliseconds += *ms;
  }
  impl->numTimed = 0;
  return times;
}

Error CudaBackend::copy(const Allocation &target, size_t targetOffset,
                        const Allocation &source, size_t sourceOffset,
                        size_t bytes) {
  if (Error err = checkRange(target, targetOffset, bytes, "a copy target"))
    return err;
  if (Error err = checkRange(source, sourceOffset, bytes, "a copy source"))
    return err;
  if (bytes == 0)
    return Error::success();
  const CudaDriver &driver = impl->context.getDriver();
  return driver.check(
      driver.cuMemcpyDtoDAsync(target.getAddress() + targetOffset,
                               source.getAddress() + sourceOffset, bytes,
                               impl->stream.get()),
      formatv("queueing a copy of {0} bytes on the GPU", bytes));
}

Error CudaBackend::copyFromHost(const Allocation &target, size_t offset,
                                const void *source, size_t bytes) {
  if (Error err = checkRange(target, offset, bytes, "a copy to the GPU"))
    return err;
  if (bytes == 0)
    return Error::success();
  const CudaDriver &driver = impl->context.getDriver();
  // Synchronous on the legacy stream, which waits for our blocking stream.
  return driver.check(
      driver.cuMemcpyHtoD(target.getAddress() + offset, source, bytes),
      formatv("copying {0} bytes to the GPU", bytes));
}

Error CudaBackend::copyToHost(void *target, const Allocation &source,
                              size_t offset, size_t bytes) {
  if (Error err = checkRange(source, offset, bytes, "a copy from the GPU"))
    return err;
  if (bytes == 0)
    return Error::success();
  const CudaDriver &driver = impl->context.getDriver();
  return driver.check(
      driver.cuMemcpyDtoH(target, source.getAddress() + offset, bytes),
      formatv("copying {0} bytes from the GPU", bytes));
}

Error CudaBackend::synchronize() { return impl->stream.synchronize(); }

size_t CudaBackend::getCachedBytes() const {
  return impl->pool->getCachedBytes();
}

void CudaBackend::releaseCached() { impl->pool->releaseAll(); }
