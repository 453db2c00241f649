//===- HostProgramParser.cpp - Host programs from manifest JSON -----------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Parsing and validation of a host program: every op, operand counts and
// types, ids defined once before use, kernel indices, hostile JSON
// (docs/host-program.md). The parser renumbers the program's value ids
// densely in definition order (see HostProgram.cpp).
//
//===----------------------------------------------------------------------===//

#include "HostProgramSupport.h"
#include "xlstm/Runtime/CudaObjects.h"
#include "xlstm/Runtime/HostProgram.h"

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
using namespace xlstm::runtime::detail;

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
    if (*role != "input" && *role != "parameter" && *role != "state" &&
        *role != "buffer")
      return error("role '" + *role +
                   "' is unknown; expected input, "
                   "parameter, state or buffer");
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

