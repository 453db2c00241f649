//===- HostProgram.cpp - Types and values of host programs ----------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// The host-program runtime in four files: types, values and the kernel
// table here; parsing and validation (HostProgramParser.cpp); argument
// packing and the interpreter (HostProgramInterpreter.cpp); the CUDA
// backend (CudaBackend.cpp); helpers they share in HostProgramSupport.h.
//
// The parser renumbers the program's value ids densely in definition order,
// so the interpreter keeps every value in one vector and the numbering the
// compiler chose (sparse, huge, results before or after regions) cannot make
// it allocate or index out of range. Everything static is checked once; the
// interpreter checks only what depends on run-time values, and all size,
// offset and byte arithmetic on such values is overflow-checked.
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
    if (const json::Value *waits = object->get("waits_on_previous_grid")) {
      std::optional<bool> flag = waits->getAsBoolean();
      if (!flag)
        return makeError(formatv("kernel {0}: \"waits_on_previous_grid\" "
                                 "is {1}; expected a boolean",
                                 i, describeJsonKind(*waits)));
      ref.waitsOnPreviousGrid = *flag;
    }
    result.push_back(std::move(ref));
  }
  return result;
}

