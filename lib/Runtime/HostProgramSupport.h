//===- HostProgramSupport.h - Shared by the host-program files -*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Helpers of the host-program parser, interpreter and types (lib/Runtime
// only): overflow-checked integers, the integer semantics of the host op
// set, name lookups, static lists, and memref checks.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_LIB_RUNTIME_HOSTPROGRAMSUPPORT_H
#define XLSTM_LIB_RUNTIME_HOSTPROGRAMSUPPORT_H

#include "xlstm/Runtime/HostProgram.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

#include <string>

namespace xlstm::runtime::detail {
using namespace llvm;


inline Error makeError(const Twine &msg) {
  return createStringError(inconvertibleErrorCode(), msg);
}

inline bool mulOverflow(int64_t a, int64_t b, int64_t &result) {
  return __builtin_mul_overflow(a, b, &result);
}
inline bool addOverflow(int64_t a, int64_t b, int64_t &result) {
  return __builtin_add_overflow(a, b, &result);
}

/// "?" for kDynamic.
inline std::string formatStatic(int64_t value) {
  return value == kDynamic ? "?" : std::to_string(value);
}

inline std::string formatList(ArrayRef<int64_t> values) {
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
inline int64_t wrapTo(uint64_t bits, unsigned width) {
  if (width >= 64)
    return int64_t(bits);
  if (width == 1)
    return int64_t(bits & 1);
  unsigned shift = 64 - width;
  return int64_t(bits << shift) >> shift;
}

/// The signed interpretation of a canonical value (i1 true is -1).
inline int64_t asSigned(int64_t value, unsigned width) {
  return width == 1 ? -(value & 1) : value;
}

/// The unsigned interpretation of a canonical value.
inline uint64_t asUnsigned(int64_t value, unsigned width) {
  if (width >= 64)
    return uint64_t(value);
  return uint64_t(value) & ((uint64_t(1) << width) - 1);
}

/// Truncating signed division and remainder without C++'s INT64_MIN / -1
/// overflow (MLIR leaves it undefined; we wrap).
inline int64_t divideSigned(int64_t a, int64_t b) {
  return b == -1 ? int64_t(0 - uint64_t(a)) : a / b;
}
inline int64_t remainderSigned(int64_t a, int64_t b) { return b == -1 ? 0 : a % b; }

//===----------------------------------------------------------------------===//
// Names
//===----------------------------------------------------------------------===//

struct OpInfo {
  StringLiteral name;
  OpKind kind;
};

/// The host op set (HostOps.def, shared with the emitter and the docs).
inline constexpr OpInfo kOps[] = {
#define HOST_OP(Kind, Name, Category) {Name, OpKind::Kind},
#include "xlstm/Runtime/HostOps.def"
};

inline std::optional<OpKind> lookupOp(StringRef name) {
  for (const OpInfo &info : kOps)
    if (info.name == name)
      return info.kind;
  return std::nullopt;
}

inline bool isBinaryInteger(OpKind kind) {
  return kind >= OpKind::AddI && kind <= OpKind::XOrI;
}

inline std::optional<ScalarKind> lookupScalar(StringRef name) {
  return StringSwitch<std::optional<ScalarKind>>(name)
      .Case("index", ScalarKind::Index)
      .Case("i64", ScalarKind::I64)
      .Case("i32", ScalarKind::I32)
      .Case("i1", ScalarKind::I1)
      .Case("f32", ScalarKind::F32)
      .Case("f64", ScalarKind::F64)
      .Default(std::nullopt);
}

inline std::optional<ElementKind> lookupElement(StringRef name) {
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
inline std::optional<SmallVector<int64_t, 4>>
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

inline std::string describeJsonKind(const json::Value &value) {
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


/// A static list entry: an integer, or null for kDynamic.
inline Expected<int64_t> parseStatic(const json::Value &value, const Twine &what) {
  if (value.getAsNull())
    return kDynamic;
  std::optional<int64_t> number = value.getAsInteger();
  if (!number || *number == kDynamic)
    return makeError(what + " is " + describeJsonKind(value) +
                     "; expected an integer or null");
  return *number;
}

inline Expected<SmallVector<int64_t, 4>> parseStaticList(const json::Value *value,
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


/// Whether `value` has `type`'s static facts. Strides of dimensions of size
/// 0 or 1 are not compared: no access depends on them, and MLIR's inference
/// and its lowering disagree about them.
inline bool matchesType(const MemRefValue &value, const MemRefType &type) {
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

inline std::string describe(const MemRefValue &value) {
  std::string text = "memref<";
  for (int64_t size : value.sizes)
    text += std::to_string(size) + "x";
  return text + getName(value.element).str() + ", strides " +
         formatList(value.strides) + ", offset " +
         std::to_string(value.offset) + ">";
}


} // namespace xlstm::runtime::detail

#endif // XLSTM_LIB_RUNTIME_HOSTPROGRAMSUPPORT_H
