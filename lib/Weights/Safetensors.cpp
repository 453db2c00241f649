//===- Safetensors.cpp - Read and write safetensors files -----------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// The reader checks the whole header before it hands out a single view, and
// every check is done in 64-bit unsigned arithmetic with explicit overflow
// tests, so a hostile header cannot make it read outside the buffer. The
// float conversions are bit-level (no casts that could overflow) and round to
// nearest even from the double value directly, so bf16/f16 are never
// double-rounded through f32.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Weights/Safetensors.h"
#include "xlstm/Support/Files.h"
#include "xlstm/Support/JSONDepth.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#endif
#include <cstring>
#include <limits>

using namespace llvm;
using namespace xlstm::weights;
namespace endian = llvm::support::endian;

namespace {
/// A header larger than this is not a weight file (the 7B shards have 30 KB).
constexpr uint64_t kMaxHeaderBytes = 100 * 1000 * 1000;
constexpr StringLiteral kMetadataKey = "__metadata__";

Error makeError(const Twine &msg) {
  return createStringError(inconvertibleErrorCode(), msg);
}

//===----------------------------------------------------------------------===//
// Bit-level float formats
//===----------------------------------------------------------------------===//

/// A binary floating-point format with `expBits` exponent and `manBits`
/// explicit mantissa bits (IEEE layout: sign, exponent, mantissa).
struct FloatFormat {
  int expBits, manBits;
  int bias() const { return (1 << (expBits - 1)) - 1; }
  uint64_t expMax() const { return (uint64_t(1) << expBits) - 1; }
  uint64_t signBit() const { return uint64_t(1) << (expBits + manBits); }
};
constexpr FloatFormat kF32{8, 23}, kBF16{8, 7}, kF16{5, 10};

/// Rounds `v` to nearest (ties to even) in `fmt`: subnormals, overflow to
/// infinity, NaN stays a quiet NaN with its sign.
uint64_t encodeFloat(double v, FloatFormat fmt) {
  uint64_t d = bit_cast<uint64_t>(v);
  uint64_t sign = (d >> 63) ? fmt.signBit() : 0;
  uint64_t dExp = (d >> 52) & 0x7ff, dMan = d & ((uint64_t(1) << 52) - 1);
  uint64_t inf = sign | (fmt.expMax() << fmt.manBits);
  if (dExp == 0x7ff)
    return dMan ? inf | (uint64_t(1) << (fmt.manBits - 1)) : inf;
  // Double subnormals are far below the smallest subnormal of every target.
  if (dExp == 0)
    return sign;
  // v = m * 2^(e - 52) with a 53-bit significand m.
  int e = int(dExp) - 1023;
  uint64_t m = dMan | (uint64_t(1) << 52);
  int emin = 1 - fmt.bias();
  // Keep `manBits` fraction bits at exponent max(e, emin); the rest rounds.
  int shift = 52 - fmt.manBits + std::max(emin - e, 0);
  if (shift > 53)
    return sign; // below half the smallest subnormal
  uint64_t keep = m >> shift, rem = m & ((uint64_t(1) << shift) - 1);
  uint64_t half = uint64_t(1) << (shift - 1);
  if (rem > half || (rem == half && (keep & 1)))
    ++keep;
  if (e < emin) // subnormal; rounding up to 1 << manBits is the min normal
    return sign | keep;
  if (keep >> (fmt.manBits + 1)) { // the significand carried into a new bit
    keep >>= 1;
    ++e;
  }
  int64_t biased = int64_t(e) + fmt.bias();
  if (biased >= int64_t(fmt.expMax()))
    return inf;
  return sign | (uint64_t(biased) << fmt.manBits) |
         (keep & ((uint64_t(1) << fmt.manBits) - 1));
}

/// The exact value of `bits` in `fmt`.
double decodeFloat(uint64_t bits, FloatFormat fmt) {
  uint64_t exp = (bits >> fmt.manBits) & fmt.expMax();
  uint64_t man = bits & ((uint64_t(1) << fmt.manBits) - 1);
  double sign = (bits & fmt.signBit()) ? -1.0 : 1.0;
  if (exp == fmt.expMax())
    return man ? std::numeric_limits<double>::quiet_NaN()
               : sign * std::numeric_limits<double>::infinity();
  if (exp == 0)
    return sign * std::ldexp(double(man), 1 - fmt.bias() - fmt.manBits);
  return sign * std::ldexp(double(man | (uint64_t(1) << fmt.manBits)),
                           int(exp) - fmt.bias() - fmt.manBits);
}

/// Nearest int64 (ties away from zero); NaN is 0, out-of-range saturates.
int64_t toInt64(double v) {
  if (std::isnan(v))
    return 0;
  if (v >= 0x1p63)
    return std::numeric_limits<int64_t>::max();
  if (v < -0x1p63)
    return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(std::round(v));
}

/// The element at `p` (validated to lie inside the buffer) as a double.
double loadElement(const uint8_t *p, DType dtype) {
  switch (dtype) {
  case DType::F32:
    return bit_cast<float>(endian::read32le(p));
  case DType::BF16:
    return bit_cast<float>(uint32_t(endian::read16le(p)) << 16);
  case DType::F16:
    return decodeFloat(endian::read16le(p), kF16);
  case DType::F64:
    return bit_cast<double>(endian::read64le(p));
  case DType::I64:
    return double(int64_t(endian::read64le(p)));
  }
  llvm_unreachable("unknown dtype");
}

void storeElement(uint8_t *p, double v, DType dtype) {
  switch (dtype) {
  case DType::F32:
    return endian::write32le(p, uint32_t(encodeFloat(v, kF32)));
  case DType::BF16:
    return endian::write16le(p, uint16_t(encodeFloat(v, kBF16)));
  case DType::F16:
    return endian::write16le(p, uint16_t(encodeFloat(v, kF16)));
  case DType::F64:
    return endian::write64le(p, bit_cast<uint64_t>(v));
  case DType::I64:
    return endian::write64le(p, uint64_t(toInt64(v)));
  }
  llvm_unreachable("unknown dtype");
}

/// Element count of `shape`; std::nullopt on a negative dimension or when
/// count * elementSize would not fit in 63 bits.
std::optional<uint64_t> checkedByteSize(ArrayRef<int64_t> shape, DType dtype) {
  uint64_t bytes = elementSize(dtype);
  constexpr uint64_t limit = uint64_t(std::numeric_limits<int64_t>::max());
  for (int64_t dim : shape) {
    if (dim < 0)
      return std::nullopt;
    if (dim != 0 && bytes > limit / uint64_t(dim))
      return std::nullopt;
    bytes *= uint64_t(dim);
  }
  return bytes;
}

std::string joinShape(ArrayRef<int64_t> shape) {
  if (shape.empty())
    return "scalar";
  std::string s;
  raw_string_ostream os(s);
  interleave(shape, os, "x");
  return s;
}

} // namespace

//===----------------------------------------------------------------------===//
// DType
//===----------------------------------------------------------------------===//

static constexpr StringLiteral kDTypeNames[] = {"F32", "BF16", "F16", "F64",
                                                "I64"};

StringRef xlstm::weights::toString(DType dtype) {
  auto idx = static_cast<size_t>(dtype);
  return idx < std::size(kDTypeNames) ? StringRef(kDTypeNames[idx]) : "";
}

std::optional<DType> xlstm::weights::parseDType(StringRef spelling) {
  for (auto [i, name] : enumerate(kDTypeNames))
    if (spelling == name)
      return static_cast<DType>(i);
  return std::nullopt;
}

size_t xlstm::weights::elementSize(DType dtype) {
  switch (dtype) {
  case DType::BF16:
  case DType::F16:
    return 2;
  case DType::F32:
    return 4;
  case DType::F64:
  case DType::I64:
    return 8;
  }
  llvm_unreachable("unknown dtype");
}

bool xlstm::weights::isFloat(DType dtype) { return dtype != DType::I64; }

int64_t TensorView::numElements() const {
  int64_t n = 1;
  for (int64_t dim : shape)
    n *= dim; // validated by the reader not to overflow
  return n;
}

std::string TensorView::shapeString() const { return joinShape(shape); }

//===----------------------------------------------------------------------===//
// Reader
//===----------------------------------------------------------------------===//

Expected<SafetensorsFile> SafetensorsFile::open(StringRef path) {
  if (xlstm::isExistingNonRegularFile(path))
    return makeError(path + ": not a regular file");
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
      MemoryBuffer::getFile(path, /*IsText=*/false,
                            /*RequiresNullTerminator=*/false,
                            /*IsVolatile=*/false);
  if (!buffer)
    return makeError(path + ": cannot open: " + buffer.getError().message());
  return fromBuffer(std::move(*buffer));
}

namespace {
/// Parses one tensor entry of the header; `dataSize` is the size of the data
/// section. On success `view.bytes` is still empty and `begin` is set.
Error parseEntry(StringRef file, StringRef name, const json::Value &entry,
                 uint64_t dataSize, TensorView &view, uint64_t &begin) {
  auto fail = [&](const Twine &msg) {
    return makeError(file + ": tensor '" + name + "': " + msg);
  };
  const json::Object *obj = entry.getAsObject();
  if (!obj)
    return fail("entry is not an object");
  std::optional<StringRef> dtypeName = obj->getString("dtype");
  if (!dtypeName)
    return fail(obj->get("dtype") ? "'dtype' is not a string"
                                  : "missing 'dtype'");
  std::optional<DType> dtype = parseDType(*dtypeName);
  if (!dtype)
    return fail("unknown dtype '" + *dtypeName +
                "' (known: F32, BF16, F16, F64, I64)");
  view.dtype = *dtype;

  const json::Array *shape = obj->getArray("shape");
  if (!shape)
    return fail(obj->get("shape") ? "'shape' is not an array"
                                  : "missing 'shape'");
  for (const json::Value &dim : *shape) {
    // getAsUINT64 accepts integer spellings only; json's getAsInteger would
    // convert a double 2^63 to int64 (undefined), so it is not used.
    std::optional<uint64_t> d = dim.getAsUINT64();
    if (!d) {
      std::optional<double> number = dim.getAsNumber();
      std::string text;
      raw_string_ostream(text) << dim;
      if (!number)
        return fail("'shape' has a dimension " + text +
                    " that is not a number");
      if (*number < 0)
        return fail("'shape' has a negative dimension " + text);
      if (*number != std::floor(*number))
        return fail("'shape' has a non-integer dimension " + text);
      return fail("'shape' has a dimension written as a floating-point "
                  "number (" +
                  text + ")");
    }
    if (*d > uint64_t(std::numeric_limits<int64_t>::max()))
      return fail("element count of shape overflows (dimension " + Twine(*d) +
                  ")");
    view.shape.push_back(int64_t(*d));
  }
  std::optional<uint64_t> byteSize = checkedByteSize(view.shape, view.dtype);
  if (!byteSize)
    return fail("element count of shape " + joinShape(view.shape) +
                " overflows");

  const json::Array *offsets = obj->getArray("data_offsets");
  if (!offsets)
    return fail(obj->get("data_offsets") ? "'data_offsets' is not an array"
                                         : "missing 'data_offsets'");
  std::optional<uint64_t> b, e;
  if (offsets->size() == 2) {
    b = (*offsets)[0].getAsUINT64();
    e = (*offsets)[1].getAsUINT64();
  }
  if (!b || !e)
    return fail("'data_offsets' is not [begin, end] with non-negative "
                "integers");
  if (*b > *e)
    return fail("'data_offsets' [" + Twine(*b) + ", " + Twine(*e) +
                "] has begin > end");
  if (*e > dataSize)
    return fail("'data_offsets' [" + Twine(*b) + ", " + Twine(*e) +
                "] lie outside the data section (" + Twine(dataSize) +
                " bytes)");
  if (*e - *b != *byteSize)
    return fail("'data_offsets' span " + Twine(*e - *b) + " bytes but shape " +
                joinShape(view.shape) + " of " + toString(view.dtype) +
                " needs " + Twine(*byteSize));
  begin = *b;
  return Error::success();
}
/// Describes the first key that occurs twice in one object of `text` (valid
/// JSON). json::parse silently keeps one of two equal keys, but a file with
/// two tensors of the same name must be rejected.
std::optional<std::string> findDuplicateKey(StringRef text) {
  struct Level {
    std::unique_ptr<StringSet<>> keys; ///< null for an array
    std::string name;                  ///< the key this value belongs to
  };
  SmallVector<Level, 4> open;
  std::string lastKey;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '{' || c == '[') {
      open.push_back(
          {c == '{' ? std::make_unique<StringSet<>>() : nullptr, lastKey});
    } else if ((c == '}' || c == ']') && !open.empty()) {
      open.pop_back();
    } else if (c == '"') {
      // Bounds-checked although valid JSON always closes its strings.
      size_t end = i + 1;
      while (end < text.size() && text[end] != '"')
        end += text[end] == '\\' ? 2 : 1;
      if (end >= text.size())
        return std::nullopt;
      StringRef token = text.slice(i, end + 1);
      i = end;
      if (open.empty() || !open.back().keys ||
          !text.drop_front(end + 1).ltrim().starts_with(":"))
        continue;
      // Compare unescaped keys ("a" and "\u0061" are the same name).
      Expected<json::Value> key = json::parse(token);
      lastKey = token.str();
      if (!key)
        consumeError(key.takeError());
      else if (std::optional<StringRef> str = key->getAsString())
        lastKey = str->str();
      if (open.back().keys->insert(lastKey).second)
        continue;
      const std::string &parent = open.back().name;
      if (open.size() == 1 && lastKey != kMetadataKey)
        return "duplicate tensor name '" + lastKey + "'";
      if (open.size() == 2 && parent == kMetadataKey)
        return "'__metadata__' has a duplicate key '" + lastKey + "'";
      if (open.size() == 2)
        return "tensor '" + parent + "': duplicate field '" + lastKey + "'";
      return "duplicate key '" + lastKey + "' in the header";
    }
  }
  return std::nullopt;
}

} // namespace

Expected<SafetensorsFile>
SafetensorsFile::fromBuffer(std::unique_ptr<MemoryBuffer> buffer) {
  StringRef file = buffer->getBufferIdentifier();
  auto fail = [&](const Twine &msg) { return makeError(file + ": " + msg); };
  uint64_t size = buffer->getBufferSize();
  const auto *start =
      reinterpret_cast<const uint8_t *>(buffer->getBufferStart());
  if (size < 8)
    return fail("file is too short (" + Twine(size) +
                " bytes) to hold the 8-byte header length");
  uint64_t headerSize = endian::read64le(start);
  if (headerSize > kMaxHeaderBytes)
    return fail("header length " + Twine(headerSize) +
                " is absurd (more than 100 MB)");
  if (headerSize > size - 8)
    return fail("header length " + Twine(headerSize) +
                " exceeds the file size (" + Twine(size) + " bytes)");
  StringRef headerText(buffer->getBufferStart() + 8, headerSize);
  if (xlstm::jsonNestingDepth(headerText) > xlstm::kMaxJSONDepth)
    return fail("header is nested more than " + Twine(xlstm::kMaxJSONDepth) +
                " levels deep (a safetensors header nests 3)");
  Expected<json::Value> header = json::parse(headerText);
  if (!header)
    return fail("header is not valid JSON: " + toString(header.takeError()));
  const json::Object *root = header->getAsObject();
  if (!root)
    return fail("header is not a JSON object");
  if (std::optional<std::string> duplicate = findDuplicateKey(headerText))
    return fail(*duplicate);

  SafetensorsFile result;
  uint64_t dataSize = size - 8 - headerSize;
  const uint8_t *data = start + 8 + headerSize;
  std::vector<uint64_t> begins;
  for (const auto &[key, value] : *root) {
    if (StringRef(key) == kMetadataKey) {
      const json::Object *meta = value.getAsObject();
      if (!meta)
        return fail("'__metadata__' is not an object");
      for (const auto &[mkey, mvalue] : *meta) {
        std::optional<StringRef> s = mvalue.getAsString();
        if (!s)
          return fail("'__metadata__' must map strings to strings; '" +
                      StringRef(mkey) + "' is not a string");
        result.meta[mkey.str()] = s->str();
      }
      continue;
    }
    TensorView view;
    view.name = key.str();
    uint64_t begin = 0;
    if (Error err = parseEntry(file, key, value, dataSize, view, begin))
      return std::move(err);
    result.tensorList.push_back(std::move(view));
    begins.push_back(begin);
  }

  // json::Object is a hash map: restore the file order, then check overlaps.
  std::vector<size_t> order(begins.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  const std::vector<TensorView> &list = result.tensorList;
  llvm::sort(order, [&](size_t a, size_t b) {
    return std::make_tuple(begins[a], list[a].name) <
           std::make_tuple(begins[b], list[b].name);
  });
  std::vector<TensorView> sorted;
  sorted.reserve(order.size());
  const TensorView *prev = nullptr;
  uint64_t prevEnd = 0;
  for (size_t i : order) {
    TensorView view = std::move(result.tensorList[i]);
    uint64_t bytes = *checkedByteSize(view.shape, view.dtype);
    // Empty tensors occupy no bytes and cannot overlap anything.
    if (bytes != 0) {
      if (prev && begins[i] < prevEnd)
        return fail("tensors '" + prev->name + "' and '" + view.name +
                    "' overlap in the data section");
      view.bytes = ArrayRef<uint8_t>(data + begins[i], bytes);
      view.mapped = buffer->getBufferKind() == MemoryBuffer::MemoryBuffer_MMap;
    }
    sorted.push_back(std::move(view));
    if (bytes != 0) {
      prev = &sorted.back();
      prevEnd = begins[i] + bytes;
    }
  }
  result.tensorList = std::move(sorted);
  result.buffer = std::move(buffer);
  return std::move(result);
}

const TensorView *SafetensorsFile::find(StringRef name) const {
  for (const TensorView &view : tensorList)
    if (view.name == name)
      return &view;
  return nullptr;
}

void xlstm::weights::releasePages(const TensorView &tensor,
                                  ArrayRef<uint8_t> bytes) {
#if defined(__unix__) || defined(__APPLE__)
  // Only mapped files: on anonymous memory MADV_DONTNEED would zero it.
  if (!tensor.mapped || bytes.empty())
    return;
  uintptr_t page = uintptr_t(sys::Process::getPageSizeEstimate());
  uintptr_t begin = alignTo(uintptr_t(bytes.data()), page);
  uintptr_t end = alignDown(uintptr_t(bytes.data() + bytes.size()), page);
  if (begin < end)
    ::madvise(reinterpret_cast<void *>(begin), end - begin, MADV_DONTNEED);
#endif
}

//===----------------------------------------------------------------------===//
// Conversions
//===----------------------------------------------------------------------===//

std::vector<double> xlstm::weights::toF64(const TensorView &tensor) {
  size_t size = elementSize(tensor.dtype);
  std::vector<double> out(tensor.bytes.size() / size);
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = loadElement(tensor.bytes.data() + i * size, tensor.dtype);
  return out;
}

std::vector<float> xlstm::weights::toF32(const TensorView &tensor) {
  size_t size = elementSize(tensor.dtype);
  std::vector<float> out(tensor.bytes.size() / size);
  const uint8_t *data = tensor.bytes.data();
  for (size_t i = 0; i < out.size(); ++i) {
    if (tensor.dtype == DType::F32) { // the common case, without a detour
      out[i] = bit_cast<float>(endian::read32le(data + i * 4));
      continue;
    }
    // Exact for BF16/F16; F64/I64 round like an F32 store would.
    double v = loadElement(data + i * size, tensor.dtype);
    out[i] = bit_cast<float>(uint32_t(encodeFloat(v, kF32)));
  }
  return out;
}

void xlstm::weights::convertElements(ArrayRef<uint8_t> src, DType from,
                                     MutableArrayRef<uint8_t> dst, DType to) {
  size_t count = dst.size() / elementSize(to);
  assert(src.size() >= count * elementSize(from) && "source too short");
  if (from == to) {
    std::memcpy(dst.data(), src.data(), count * elementSize(to));
    return;
  }
  // The checkpoint conversions a GPU load makes, without a detour through
  // double (same results: bf16 is f32's upper half, rounded to even).
  if (from == DType::BF16 && to == DType::F32) {
    for (size_t i = 0; i < count; ++i)
      endian::write32le(dst.data() + 4 * i,
                        uint32_t(endian::read16le(src.data() + 2 * i)) << 16);
    return;
  }
  if (from == DType::F32 && to == DType::BF16) {
    for (size_t i = 0; i < count; ++i) {
      uint32_t bits = endian::read32le(src.data() + 4 * i);
      uint16_t out;
      if ((bits & 0x7fffffffu) > 0x7f800000u) // NaN: keep it quiet
        out = uint16_t(((bits >> 16) & 0x8000u) | 0x7fc0u);
      else
        out = uint16_t((bits + 0x7fffu + ((bits >> 16) & 1)) >> 16);
      endian::write16le(dst.data() + 2 * i, out);
    }
    return;
  }
  size_t fromSize = elementSize(from), toSize = elementSize(to);
  for (size_t i = 0; i < count; ++i)
    storeElement(dst.data() + i * toSize,
                 loadElement(src.data() + i * fromSize, from), to);
}

OwnedTensor OwnedTensor::fromF64(std::string name, std::vector<int64_t> shape,
                                 ArrayRef<double> values, DType dtype) {
  OwnedTensor t;
  t.name = std::move(name);
  t.dtype = dtype;
  t.shape = std::move(shape);
  size_t size = elementSize(dtype);
  t.bytes.resize(values.size() * size);
  for (auto [i, v] : enumerate(values))
    storeElement(t.bytes.data() + i * size, v, dtype);
  return t;
}

//===----------------------------------------------------------------------===//
// Writer
//===----------------------------------------------------------------------===//

Error xlstm::weights::writeSafetensors(
    StringRef path, ArrayRef<OwnedTensor> tensors,
    const std::map<std::string, std::string> &metadata) {
  auto fail = [&](const Twine &msg) { return makeError(path + ": " + msg); };
  // JSON text must be UTF-8 (llvm::json asserts on anything else).
  for (const auto &[key, value] : metadata)
    if (!json::isUTF8(key) || !json::isUTF8(value))
      return fail("metadata entry '" + json::fixUTF8(key) +
                  "' is not valid UTF-8");
  StringSet<> names;
  for (const OwnedTensor &t : tensors) {
    if (!json::isUTF8(t.name))
      return fail("tensor name '" + json::fixUTF8(t.name) +
                  "' is not valid UTF-8");
    if (t.name == kMetadataKey)
      return fail("'__metadata__' is reserved and cannot name a tensor");
    if (!names.insert(t.name).second)
      return fail("duplicate tensor name '" + t.name + "'");
    std::optional<uint64_t> bytes = checkedByteSize(t.shape, t.dtype);
    if (!bytes || *bytes != t.bytes.size())
      return fail("tensor '" + t.name + "' has " + Twine(t.bytes.size()) +
                  " bytes, which does not match shape " + joinShape(t.shape) +
                  " of " + toString(t.dtype));
  }

  // Metadata first, then tensors in the given order: the same inputs always
  // give the same bytes.
  std::string header;
  raw_string_ostream hos(header);
  json::OStream json(hos);
  json.object([&] {
    if (!metadata.empty())
      json.attributeObject(kMetadataKey, [&] {
        for (const auto &[key, value] : metadata)
          json.attribute(key, value);
      });
    uint64_t offset = 0;
    for (const OwnedTensor &t : tensors) {
      json.attributeObject(t.name, [&] {
        json.attribute("dtype", toString(t.dtype));
        json.attributeArray("shape", [&] {
          for (int64_t dim : t.shape)
            json.value(dim);
        });
        json.attributeArray("data_offsets", [&] {
          json.value(offset);
          json.value(offset + t.bytes.size());
        });
      });
      offset += t.bytes.size();
    }
  });
  // Pad with spaces so the data section starts 8-byte aligned.
  header.append((8 - header.size() % 8) % 8, ' ');

  std::error_code ec;
  raw_fd_ostream os(path, ec);
  if (ec)
    return fail("cannot open for writing: " + ec.message());
  char length[8];
  endian::write64le(length, header.size());
  os.write(length, 8);
  os << header;
  for (const OwnedTensor &t : tensors)
    os.write(reinterpret_cast<const char *>(t.bytes.data()), t.bytes.size());
  os.close();
  if (os.has_error()) {
    std::error_code writeError = os.error();
    os.clear_error(); // raw_fd_ostream aborts on an unchecked error
    return fail("cannot write: " + writeError.message());
  }
  return Error::success();
}
