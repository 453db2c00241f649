//===- SafetensorsTest.cpp - Tests of the safetensors reader/writer -------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Weights/Safetensors.h"

#include "WeightsTestUtil.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/Endian.h"

#include <cmath>
#include <limits>
#include <random>

using namespace llvm;
using namespace xlstm::weights;
using namespace xlstm::weights::test;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// The bits `v` is stored as in `dtype` (2, 4 or 8 bytes).
uint64_t encode(double v, DType dtype) {
  OwnedTensor t = OwnedTensor::fromF64("t", {}, {v}, dtype);
  uint64_t bits = 0;
  for (size_t i = 0; i < t.bytes.size(); ++i)
    bits |= uint64_t(t.bytes[i]) << (8 * i);
  return bits;
}

/// A view over little-endian `bits` of one element, decoded to double.
double decode(uint64_t bits, DType dtype) {
  uint8_t storage[8];
  support::endian::write64le(storage, bits);
  TensorView view;
  view.dtype = dtype;
  view.bytes = ArrayRef<uint8_t>(storage, elementSize(dtype));
  return toF64(view).front();
}

/// A crafted file: the 8-byte length (the header's, unless `length` is
/// given), the header text and `dataBytes` zero bytes.
std::unique_ptr<MemoryBuffer> craft(StringRef header, size_t dataBytes = 0,
                                    std::optional<uint64_t> length = {}) {
  std::string bytes(8, '\0');
  support::endian::write64le(bytes.data(), length.value_or(header.size()));
  bytes += header.str();
  bytes.append(dataBytes, '\0');
  return MemoryBuffer::getMemBufferCopy(bytes, "t.safetensors");
}

/// The reader's message for `buffer`, or "" if it was accepted.
std::string readError(std::unique_ptr<MemoryBuffer> buffer) {
  Expected<SafetensorsFile> file =
      SafetensorsFile::fromBuffer(std::move(buffer));
  return file ? std::string() : toString(file.takeError());
}

//===----------------------------------------------------------------------===//
// DType and element conversions
//===----------------------------------------------------------------------===//

TEST(DType, SpellingsRoundTrip) {
  for (DType d : {DType::F32, DType::BF16, DType::F16, DType::F64, DType::I64})
    EXPECT_EQ(parseDType(toString(d)), d);
  EXPECT_EQ(toString(DType::BF16), "BF16");
  EXPECT_FALSE(parseDType("f32"));
  EXPECT_FALSE(parseDType("F8_E4M3"));
  EXPECT_EQ(toString(static_cast<DType>(9)), "");
  EXPECT_EQ(elementSize(DType::BF16), 2u);
  EXPECT_EQ(elementSize(DType::F16), 2u);
  EXPECT_EQ(elementSize(DType::F32), 4u);
  EXPECT_EQ(elementSize(DType::F64), 8u);
  EXPECT_EQ(elementSize(DType::I64), 8u);
  EXPECT_TRUE(isFloat(DType::F16));
  EXPECT_FALSE(isFloat(DType::I64));
}

TEST(TensorView, ShapeStringAndCount) {
  TensorView v;
  EXPECT_EQ(v.shapeString(), "scalar");
  EXPECT_EQ(v.numElements(), 1);
  v.shape = {2, 3, 4};
  EXPECT_EQ(v.shapeString(), "2x3x4");
  EXPECT_EQ(v.numElements(), 24);
  v.shape = {0, 5};
  EXPECT_EQ(v.numElements(), 0);
}

TEST(Conversion, BF16IsTheUpperHalfOfF32) {
  EXPECT_EQ(decode(0x3f80, DType::BF16), 1.0);
  EXPECT_EQ(decode(0xc000, DType::BF16), -2.0);
  EXPECT_EQ(decode(0x7f80, DType::BF16), kInf);
  EXPECT_TRUE(std::isnan(decode(0x7fc0, DType::BF16)));
  EXPECT_EQ(decode(0x0001, DType::BF16), std::ldexp(1.0, -133));
  // Every bit pattern decodes to exactly the f32 with those upper bits and
  // encodes back to itself (NaNs stay NaN).
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    double v = decode(bits, DType::BF16);
    float f = bit_cast<float>(bits << 16);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(v));
      EXPECT_TRUE(std::isnan(decode(encode(v, DType::BF16), DType::BF16)));
      continue;
    }
    ASSERT_EQ(v, double(f)) << bits;
    ASSERT_EQ(encode(v, DType::BF16), bits) << bits;
  }
}

TEST(Conversion, F16DecodesIEEEHalf) {
  EXPECT_EQ(decode(0x3c00, DType::F16), 1.0);
  EXPECT_EQ(decode(0xc000, DType::F16), -2.0);
  EXPECT_EQ(decode(0x7bff, DType::F16), 65504.0);
  EXPECT_EQ(decode(0x0400, DType::F16), std::ldexp(1.0, -14));
  EXPECT_EQ(decode(0x0001, DType::F16), std::ldexp(1.0, -24));
  EXPECT_EQ(decode(0x03ff, DType::F16), 1023 * std::ldexp(1.0, -24));
  EXPECT_EQ(decode(0xfc00, DType::F16), -kInf);
  EXPECT_TRUE(std::isnan(decode(0x7e00, DType::F16)));
  EXPECT_TRUE(std::isnan(decode(0xfc01, DType::F16)));
  double negZero = decode(0x8000, DType::F16);
  EXPECT_EQ(negZero, 0.0);
  EXPECT_TRUE(std::signbit(negZero));
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    double v = decode(bits, DType::F16);
    if (std::isnan(v))
      continue;
    ASSERT_EQ(encode(v, DType::F16), bits) << bits;
  }
}

TEST(Conversion, F16RoundsToNearestEven) {
  double ulp1 = std::ldexp(1.0, -10), sub = std::ldexp(1.0, -24);
  EXPECT_EQ(encode(1 + ulp1 / 2, DType::F16), 0x3c00u);     // tie: even
  EXPECT_EQ(encode(1 + 3 * ulp1 / 2, DType::F16), 0x3c02u); // tie: even
  EXPECT_EQ(encode(1 + ulp1 * 0.51, DType::F16), 0x3c01u);
  EXPECT_EQ(encode(65519.0, DType::F16), 0x7bffu);
  EXPECT_EQ(encode(65520.0, DType::F16), 0x7c00u); // tie rounds to inf
  EXPECT_EQ(encode(1e10, DType::F16), 0x7c00u);
  EXPECT_EQ(encode(-1e300, DType::F16), 0xfc00u);
  EXPECT_EQ(encode(kInf, DType::F16), 0x7c00u);
  EXPECT_EQ(encode(-0.0, DType::F16), 0x8000u);
  EXPECT_EQ(encode(sub / 2, DType::F16), 0x0000u); // tie: even (0)
  EXPECT_EQ(encode(sub * 0.51, DType::F16), 0x0001u);
  EXPECT_EQ(encode(3 * sub / 2, DType::F16), 0x0002u);
  EXPECT_EQ(encode(1023.5 * sub, DType::F16), 0x0400u); // into the normals
  EXPECT_EQ(encode(std::ldexp(1.0, -1074), DType::F16), 0x0000u);
  EXPECT_EQ(encode(-std::ldexp(1.0, -30), DType::F16), 0x8000u);
  EXPECT_EQ(encode(kNaN, DType::F16) & 0x7e00, 0x7e00u);
  EXPECT_EQ(encode(-kNaN, DType::F16) & 0xfe00, 0xfe00u);
}

TEST(Conversion, BF16RoundsFromDoubleWithoutDoubleRounding) {
  double ulp1 = std::ldexp(1.0, -7);
  EXPECT_EQ(encode(1 + ulp1 / 2, DType::BF16), 0x3f80u);
  EXPECT_EQ(encode(1 + 3 * ulp1 / 2, DType::BF16), 0x3f82u);
  // Rounding to f32 first would land on the tie and give 0x3f80.
  EXPECT_EQ(encode(1 + ulp1 / 2 + std::ldexp(1.0, -40), DType::BF16), 0x3f81u);
  EXPECT_EQ(encode(1e39, DType::BF16), 0x7f80u);
  EXPECT_EQ(encode(-1e39, DType::BF16), 0xff80u);
  EXPECT_EQ(encode(double(std::numeric_limits<float>::max()), DType::BF16),
            0x7f80u); // rounds up past the largest bf16
  EXPECT_EQ(encode(kNaN, DType::BF16) & 0x7fc0, 0x7fc0u);
}

TEST(Conversion, F32OverflowAndSubnormals) {
  double fmax = std::numeric_limits<float>::max();
  EXPECT_EQ(encode(fmax, DType::F32), 0x7f7fffffu);
  EXPECT_EQ(encode(fmax + std::ldexp(1.0, 102), DType::F32), 0x7f7fffffu);
  EXPECT_EQ(encode(fmax + std::ldexp(1.0, 103), DType::F32), 0x7f800000u);
  EXPECT_EQ(encode(1e300, DType::F32), 0x7f800000u);
  EXPECT_EQ(encode(std::ldexp(1.0, -149), DType::F32), 1u);
  EXPECT_EQ(encode(std::ldexp(1.0, -150), DType::F32), 0u);
  EXPECT_EQ(encode(0.1, DType::F32), bit_cast<uint32_t>(0.1f));
  EXPECT_EQ(encode(-1.0 / 3, DType::F32), bit_cast<uint32_t>(-1.0f / 3));
}

TEST(Conversion, ConvertElementsMatchesTheDoublePath) {
  // The F32<->BF16 fast paths give the bits the general path (via double)
  // gives, on random values, every special class and rounding ties.
  std::mt19937_64 rng(42);
  std::vector<uint32_t> f32Bits = {0x00000000u, 0x80000000u, 0x7f800000u,
                                   0xff800000u, 0x7fc00001u, 0xffa00000u,
                                   0x00000001u, 0x807fffffu, 0x7f7fffffu,
                                   0x3f808000u, 0x3f818000u, 0x3f80ffffu};
  for (int i = 0; i < 4096; ++i)
    f32Bits.push_back(uint32_t(rng()));
  std::vector<uint8_t> f32(f32Bits.size() * 4);
  for (auto [i, bits] : llvm::enumerate(f32Bits))
    support::endian::write32le(f32.data() + 4 * i, bits);
  std::vector<uint8_t> fast(f32Bits.size() * 2), slow(f32Bits.size() * 2);
  convertElements(f32, DType::F32, fast, DType::BF16);
  std::vector<uint8_t> f64(f32Bits.size() * 8);
  convertElements(f32, DType::F32, f64, DType::F64);
  convertElements(f64, DType::F64, slow, DType::BF16);
  for (size_t i = 0; i < f32Bits.size(); ++i)
    ASSERT_EQ(support::endian::read16le(fast.data() + 2 * i),
              support::endian::read16le(slow.data() + 2 * i))
        << "f32 bits 0x" << llvm::utohexstr(f32Bits[i]);
  // And back: bf16 widens exactly.
  std::vector<uint8_t> wide(f32Bits.size() * 4), wideSlow(f32Bits.size() * 4);
  convertElements(fast, DType::BF16, wide, DType::F32);
  convertElements(fast, DType::BF16, f64, DType::F64);
  convertElements(f64, DType::F64, wideSlow, DType::F32);
  EXPECT_EQ(wide, wideSlow);
  // Same dtype: a copy of exactly the destination's element count.
  std::vector<uint8_t> copy(8);
  convertElements(f32, DType::F32, copy, DType::F32);
  EXPECT_TRUE(std::equal(copy.begin(), copy.end(), f32.begin()));
}

TEST(Conversion, I64ByValue) {
  EXPECT_EQ(decode(uint64_t(-5), DType::I64), -5.0);
  EXPECT_EQ(encode(3.0, DType::I64), 3u);
  EXPECT_EQ(encode(-2.5, DType::I64), uint64_t(-3)); // ties away from zero
  EXPECT_EQ(encode(1e30, DType::I64),
            uint64_t(std::numeric_limits<int64_t>::max()));
  EXPECT_EQ(encode(-1e30, DType::I64),
            uint64_t(std::numeric_limits<int64_t>::min()));
  EXPECT_EQ(encode(kNaN, DType::I64), 0u);
}

TEST(Conversion, ToF32MatchesToF64) {
  OwnedTensor t =
      OwnedTensor::fromF64("t", {4}, {0.1, -2.5, 1e300, 3e-46}, DType::F64);
  TensorView v;
  v.dtype = DType::F64;
  v.bytes = t.bytes;
  std::vector<float> f = toF32(v);
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[0], 0.1f);
  EXPECT_EQ(f[1], -2.5f);
  EXPECT_EQ(f[2], std::numeric_limits<float>::infinity());
  EXPECT_EQ(f[3], 0.0f);
}

//===----------------------------------------------------------------------===//
// Writer and round trips
//===----------------------------------------------------------------------===//

using Writer = ScratchDirTest;

TEST_F(Writer, RoundTripsEveryDType) {
  std::vector<double> values = {0.0, 1.0, -2.5, 0.1, 1e-3, 300.25};
  std::vector<OwnedTensor> tensors;
  for (DType d : {DType::F32, DType::BF16, DType::F16, DType::F64, DType::I64})
    tensors.push_back(
        OwnedTensor::fromF64("t." + toString(d).str(), {2, 3}, values, d));
  tensors.push_back(OwnedTensor::fromF64("scalar", {}, {7.0}, DType::F32));
  tensors.push_back(OwnedTensor::fromF64("empty", {0, 3}, {}, DType::F32));
  std::map<std::string, std::string> meta = {{"format", "pt"},
                                             {"note", "quote \" and \\"}};
  std::string file = path("all.safetensors");
  ASSERT_EQ(errorText(writeSafetensors(file, tensors, meta)), "");

  Expected<SafetensorsFile> f = SafetensorsFile::open(file);
  ASSERT_TRUE(bool(f)) << toString(f.takeError());
  EXPECT_EQ(f->metadata(), meta);
  ASSERT_EQ(f->tensors().size(), tensors.size());
  for (auto [view, owned] : llvm::zip(f->tensors(), tensors)) {
    EXPECT_EQ(view.name, owned.name); // file order = given order
    EXPECT_EQ(view.dtype, owned.dtype);
    EXPECT_EQ(ArrayRef<int64_t>(view.shape), ArrayRef<int64_t>(owned.shape));
    EXPECT_EQ(view.bytes, ArrayRef<uint8_t>(owned.bytes));
  }
  EXPECT_EQ(toF64(*f->find("t.F64")), values);
  EXPECT_EQ(toF64(*f->find("t.I64")),
            (std::vector<double>{0, 1, -3, 0, 0, 300}));
  std::vector<double> f32 = toF64(*f->find("t.F32"));
  std::vector<double> bf16 = toF64(*f->find("t.BF16"));
  std::vector<double> f16 = toF64(*f->find("t.F16"));
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(f32[i], double(float(values[i])));
    EXPECT_NEAR(bf16[i], values[i], std::abs(values[i]) / 256);
    EXPECT_NEAR(f16[i], values[i], std::abs(values[i]) / 2048);
  }
  EXPECT_EQ(bf16[2], -2.5);
  EXPECT_EQ(f16[5], 300.25);
  EXPECT_EQ(toF64(*f->find("scalar")), std::vector<double>{7.0});
  EXPECT_TRUE(toF64(*f->find("empty")).empty());
  EXPECT_EQ(f->find("missing"), nullptr);
}

TEST_F(Writer, HeaderIsPaddedAlignedAndDeterministic) {
  std::vector<OwnedTensor> tensors = {
      OwnedTensor::fromF64("b", {3}, {1, 2, 3}, DType::F16),
      OwnedTensor::fromF64("ab", {1}, {4}, DType::F64)};
  std::string p1 = path("one.safetensors"), p2 = path("two.safetensors");
  ASSERT_EQ(errorText(writeSafetensors(p1, tensors, {})), "");
  ASSERT_EQ(errorText(writeSafetensors(p2, tensors, {})), "");
  auto b1 = MemoryBuffer::getFile(p1), b2 = MemoryBuffer::getFile(p2);
  ASSERT_TRUE(b1 && b2);
  StringRef bytes = (*b1)->getBuffer();
  EXPECT_EQ(bytes, (*b2)->getBuffer());
  uint64_t headerSize = support::endian::read64le(bytes.data());
  EXPECT_EQ(headerSize % 8, 0u);
  StringRef header = bytes.substr(8, headerSize);
  EXPECT_EQ(header.rtrim(' ').size(), headerSize - 3); // 109 + 3 spaces
  EXPECT_EQ(header.rtrim(' '),
            R"({"b":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},)"
            R"("ab":{"dtype":"F64","shape":[1],"data_offsets":[6,14]}})");
  EXPECT_EQ(bytes.size(), 8 + headerSize + 14);
}

TEST_F(Writer, MetadataComesFirstWhenPresent) {
  std::string p = path("m.safetensors");
  ASSERT_EQ(errorText(writeSafetensors(
                p, {OwnedTensor::fromF64("x", {1}, {1}, DType::F32)},
                {{"slstm_layout", "cuda"}, {"format", "pt"}})),
            "");
  auto buffer = MemoryBuffer::getFile(p);
  ASSERT_TRUE(bool(buffer));
  EXPECT_TRUE((*buffer)->getBuffer().substr(8).starts_with(
      R"({"__metadata__":{"format":"pt","slstm_layout":"cuda"},"x":)"));
}

TEST_F(Writer, RejectsBadInputsNamingThePath) {
  std::string p = path("bad.safetensors");
  OwnedTensor x = OwnedTensor::fromF64("x", {2}, {1, 2}, DType::F32);
  std::string msg = errorText(writeSafetensors(p, {x, x}, {}));
  EXPECT_EQ(msg, p + ": duplicate tensor name 'x'");

  OwnedTensor wrong = OwnedTensor::fromF64("w", {3}, {1, 2}, DType::F32);
  EXPECT_EQ(errorText(writeSafetensors(p, {wrong}, {})),
            p + ": tensor 'w' has 8 bytes, which does not match shape 3 of "
                "F32");
  OwnedTensor negative = OwnedTensor::fromF64("n", {-1}, {}, DType::F32);
  EXPECT_NE(errorText(writeSafetensors(p, {negative}, {})).find("tensor 'n'"),
            std::string::npos);
  OwnedTensor meta = OwnedTensor::fromF64("__metadata__", {}, {1}, DType::F32);
  EXPECT_NE(errorText(writeSafetensors(p, {meta}, {})).find("reserved"),
            std::string::npos);

  EXPECT_EQ(errorText(writeSafetensors(
                p, {OwnedTensor::fromF64("\xff", {}, {1}, DType::F32)}, {})),
            p + ": tensor name '\xef\xbf\xbd' is not valid UTF-8");
  EXPECT_EQ(errorText(writeSafetensors(p, {x}, {{"k", "\xc3"}})),
            p + ": metadata entry 'k' is not valid UTF-8");

  std::string noDir = path("no/such/dir/w.safetensors");
  msg = errorText(writeSafetensors(noDir, {x}, {}));
  EXPECT_EQ(msg.rfind(noDir + ": cannot open for writing: ", 0), 0u) << msg;
}

TEST(Reader, OpenNamesAMissingFile) {
  Expected<SafetensorsFile> f = SafetensorsFile::open("/no/such.safetensors");
  ASSERT_FALSE(bool(f));
  EXPECT_EQ(
      toString(f.takeError()).rfind("/no/such.safetensors: cannot open", 0),
      0u);
}

//===----------------------------------------------------------------------===//
// Reader validation on crafted files
//===----------------------------------------------------------------------===//

struct BadFile {
  const char *name;
  std::string header;
  size_t dataBytes;
  std::string message; ///< the whole message after "t.safetensors: "
};

class ReaderRejects : public ::testing::TestWithParam<BadFile> {};

TEST_P(ReaderRejects, WithAMessageNamingFileAndTensor) {
  const BadFile &c = GetParam();
  EXPECT_EQ(readError(craft(c.header, c.dataBytes)),
            "t.safetensors: " + c.message);
}

/// A tensor entry `name` with the given JSON fields.
std::string entry(StringRef name, StringRef fields) {
  return ("{\"" + name + "\":{" + fields + "}}").str();
}

const BadFile kBadFiles[] = {
    {"NotJSON", "{\"a\":", 0,
     "header is not valid JSON: [1:5, byte=5]: Unexpected EOF"},
    {"InvalidUTF8", "{\"\xff\":1}", 0,
     "header is not valid JSON: [1:2, byte=2]: Invalid UTF-8 sequence"},
    {"NotAnObject", "[1,2]", 0, "header is not a JSON object"},
    {"DuplicateName",
     R"({"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
     R"("a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}})",
     4, "duplicate tensor name 'a'"},
    {"DuplicateEscapedName",
     R"({"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
     R"("\u0061":{"dtype":"F32","shape":[],"data_offsets":[0,4]}})",
     4, "duplicate tensor name 'a'"},
    {"DuplicateField",
     R"({"a":{"dtype":"F32","shape":[],"dtype":"F16","data_offsets":[0,4]}})",
     4, "tensor 'a': duplicate field 'dtype'"},
    {"DuplicateMetadataKey", R"({"__metadata__":{"k":"1","k":"2"}})", 0,
     "'__metadata__' has a duplicate key 'k'"},
    {"DuplicateMetadata",
     R"({"__metadata__":{},"x":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
     R"("__metadata__":{}})",
     4, "duplicate key '__metadata__' in the header"},
    {"DuplicateNestedKey",
     R"({"a":{"dtype":"F32","shape":[],"data_offsets":[0,4],)"
     R"("extra":[{"x":1,"x":2}]}})",
     4, "duplicate key 'x' in the header"},
    {"EntryNotObject", R"({"a":3})", 0, "tensor 'a': entry is not an object"},
    {"MissingDType", entry("a", R"("shape":[],"data_offsets":[0,4])"), 4,
     "tensor 'a': missing 'dtype'"},
    {"DTypeNotString",
     entry("a", R"("dtype":4,"shape":[],"data_offsets":[0,4])"), 4,
     "tensor 'a': 'dtype' is not a string"},
    {"UnknownDType",
     entry("a", R"("dtype":"F8_E5M2","shape":[],"data_offsets":[0,1])"), 1,
     "tensor 'a': unknown dtype 'F8_E5M2' (known: F32, BF16, F16, F64, I64)"},
    {"MissingShape", entry("a", R"("dtype":"F32","data_offsets":[0,4])"), 4,
     "tensor 'a': missing 'shape'"},
    {"ShapeNotArray",
     entry("a", R"("dtype":"F32","shape":4,"data_offsets":[0,4])"), 4,
     "tensor 'a': 'shape' is not an array"},
    {"NegativeDim",
     entry("a", R"("dtype":"F32","shape":[2,-3],"data_offsets":[0,4])"), 4,
     "tensor 'a': 'shape' has a negative dimension -3"},
    {"FractionalDim",
     entry("a", R"("dtype":"F32","shape":[1.5],"data_offsets":[0,4])"), 4,
     "tensor 'a': 'shape' has a non-integer dimension 1.5"},
    {"FloatSpelledDim",
     entry(
         "a",
         R"("dtype":"F32","shape":[9.223372036854775808e18],"data_offsets":[0,4])"),
     4,
     "tensor 'a': 'shape' has a dimension written as a floating-point number "
     "(9.2233720368547758e+18)"},
    {"StringDim",
     entry("a", R"("dtype":"F32","shape":["2"],"data_offsets":[0,4])"), 4,
     "tensor 'a': 'shape' has a dimension \"2\" that is not a number"},
    {"HugeDim",
     entry(
         "a",
         R"("dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,4])"),
     4,
     "tensor 'a': element count of shape overflows (dimension "
     "18446744073709551615)"},
    {"CountOverflow",
     entry(
         "a",
         R"("dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4])"),
     4, "tensor 'a': element count of shape 4294967296x4294967296 overflows"},
    {"BytesOverflow",
     entry(
         "a",
         R"("dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,4])"),
     4, "tensor 'a': element count of shape 2305843009213693952 overflows"},
    {"MissingOffsets", entry("a", R"("dtype":"F32","shape":[1])"), 4,
     "tensor 'a': missing 'data_offsets'"},
    {"OffsetsNotArray",
     entry("a", R"("dtype":"F32","shape":[1],"data_offsets":"0-4")"), 4,
     "tensor 'a': 'data_offsets' is not an array"},
    {"OffsetsWrongLength",
     entry("a", R"("dtype":"F32","shape":[1],"data_offsets":[4])"), 4,
     "tensor 'a': 'data_offsets' is not [begin, end] with non-negative "
     "integers"},
    {"OffsetsNegative",
     entry("a", R"("dtype":"F32","shape":[1],"data_offsets":[-4,0])"), 4,
     "tensor 'a': 'data_offsets' is not [begin, end] with non-negative "
     "integers"},
    {"OffsetsNotIntegers",
     entry("a", R"("dtype":"F32","shape":[1],"data_offsets":[0.0,4.0])"), 4,
     "tensor 'a': 'data_offsets' is not [begin, end] with non-negative "
     "integers"},
    {"OffsetsReversed",
     entry("a", R"("dtype":"F32","shape":[1],"data_offsets":[8,4])"), 8,
     "tensor 'a': 'data_offsets' [8, 4] has begin > end"},
    {"OffsetsOutsideData",
     entry("a", R"("dtype":"F32","shape":[4],"data_offsets":[0,16])"), 8,
     "tensor 'a': 'data_offsets' [0, 16] lie outside the data section (8 "
     "bytes)"},
    {"OffsetsHuge",
     entry(
         "a",
         R"("dtype":"F32","shape":[1],"data_offsets":[18446744073709551612,18446744073709551615])"),
     8,
     "tensor 'a': 'data_offsets' [18446744073709551612, 18446744073709551615] "
     "lie outside the data section (8 bytes)"},
    {"SizeMismatch",
     entry("a", R"("dtype":"F32","shape":[2],"data_offsets":[0,4])"), 8,
     "tensor 'a': 'data_offsets' span 4 bytes but shape 2 of F32 needs 8"},
    {"Overlap",
     R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
     R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
     12, "tensors 'a' and 'b' overlap in the data section"},
    {"SameRange",
     R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
     R"("a":{"dtype":"I64","shape":[],"data_offsets":[0,8]}})",
     8, "tensors 'a' and 'b' overlap in the data section"},
    {"MetadataNotObject", R"({"__metadata__":["x"]})", 0,
     "'__metadata__' is not an object"},
    {"MetadataNotStrings", R"({"__metadata__":{"a":"b","seed":3}})", 0,
     "'__metadata__' must map strings to strings; 'seed' is not a string"},
};

INSTANTIATE_TEST_SUITE_P(Crafted, ReaderRejects, ::testing::ValuesIn(kBadFiles),
                         [](const auto &info) { return info.param.name; });

TEST(Reader, RejectsBadHeaderLengths) {
  EXPECT_EQ(readError(MemoryBuffer::getMemBufferCopy("", "t.safetensors")),
            "t.safetensors: file is too short (0 bytes) to hold the 8-byte "
            "header length");
  EXPECT_EQ(readError(MemoryBuffer::getMemBufferCopy("1234567", "t.st")),
            "t.st: file is too short (7 bytes) to hold the 8-byte header "
            "length");
  EXPECT_EQ(readError(craft("{}", 0, 100'000'001)),
            "t.safetensors: header length 100000001 is absurd (more than 100 "
            "MB)");
  EXPECT_EQ(readError(craft("{}", 0, ~uint64_t(0))),
            "t.safetensors: header length 18446744073709551615 is absurd "
            "(more than 100 MB)");
  EXPECT_EQ(readError(craft("{}", 0, 3)),
            "t.safetensors: header length 3 exceeds the file size (10 bytes)");
  EXPECT_EQ(
      readError(craft("{}", 0, 0)),
      "t.safetensors: header is not valid JSON: [1:0, byte=0]: Unexpected "
      "EOF");
}

// Found by fuzzing: 35,000 nested arrays overflowed the stack in the JSON
// parser (exit 139). The depth is bounded before parsing.
TEST(Reader, RejectsDeeplyNestedHeaders) {
  std::string deep =
      "{\"t\": " + std::string(35'000, '[') + std::string(35'000, ']') + "}";
  EXPECT_EQ(readError(craft(deep)),
            "t.safetensors: header is nested more than 32 levels deep (a "
            "safetensors header nests 3)");
  // Brackets inside strings do not count.
  std::string inName = "{\"" + std::string(100, '[') +
                       "\": {\"dtype\": "
                       "\"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}";
  EXPECT_EQ(readError(craft(inName, 4)), "");
}

TEST(Reader, AcceptsEdgeCases) {
  // Empty header object, padding spaces, unknown entry fields, gaps, empty
  // tensors anywhere, unsorted offsets.
  EXPECT_EQ(readError(craft("{}")), "");
  EXPECT_EQ(readError(craft("{}      ")), "");
  std::string header =
      R"({"z":{"dtype":"F16","shape":[2],"data_offsets":[12,16],"extra":1},)"
      R"("e":{"dtype":"F32","shape":[0,3],"data_offsets":[14,14]},)"
      R"("a":{"dtype":"I64","shape":[],"data_offsets":[0,8]},)"
      R"("__metadata__":{}})";
  Expected<SafetensorsFile> f = SafetensorsFile::fromBuffer(craft(header, 16));
  ASSERT_TRUE(bool(f)) << toString(f.takeError());
  ASSERT_EQ(f->tensors().size(), 3u);
  EXPECT_EQ(f->tensors()[0].name, "a");
  EXPECT_EQ(f->tensors()[1].name, "z");
  EXPECT_EQ(f->tensors()[2].name, "e");
  EXPECT_EQ(f->tensors()[1].bytes.size(), 4u);
  EXPECT_TRUE(f->tensors()[2].bytes.empty());
  EXPECT_TRUE(f->metadata().empty());
  EXPECT_EQ(f->name(), "t.safetensors");
}

/// Every truncation and many single-byte corruptions of a valid file are
/// either accepted or rejected with a message; none may crash or read out of
/// bounds (run under ASan/UBSan to see the latter).
TEST(Reader, SurvivesTruncationAndCorruption) {
  std::string header =
      R"({"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2,2],)"
      R"("data_offsets":[0,16]},"b":{"dtype":"BF16","shape":[3],)"
      R"("data_offsets":[16,22]}})";
  std::unique_ptr<MemoryBuffer> good = craft(header, 22);
  StringRef bytes = good->getBuffer();
  ASSERT_EQ(readError(MemoryBuffer::getMemBufferCopy(bytes, "ok")), "");
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::string msg =
        readError(MemoryBuffer::getMemBufferCopy(bytes.take_front(n), "cut"));
    EXPECT_EQ(msg.rfind("cut: ", 0), 0u) << n;
  }
  for (size_t i = 0; i < 8 + header.size(); ++i)
    for (char c : {'\0', '"', '9', '-', '{', ']', '\xff'}) {
      std::string copy = bytes.str();
      copy[i] = c;
      Expected<SafetensorsFile> f = SafetensorsFile::fromBuffer(
          MemoryBuffer::getMemBufferCopy(copy, "bad"));
      if (!f) {
        consumeError(f.takeError());
        continue;
      }
      for (const TensorView &t : f->tensors())
        EXPECT_EQ(toF64(t).size(), size_t(t.numElements()));
    }
  // Random multi-byte corruptions of the length field and the header.
  uint64_t state = 12345;
  auto next = [&] { return (state = state * 6364136223846793005 + 1) >> 33; };
  for (int round = 0; round < 5000; ++round) {
    std::string copy = bytes.str();
    for (int k = 0, n = 1 + next() % 4; k < n; ++k)
      copy[next() % (8 + header.size())] = char(next());
    Expected<SafetensorsFile> f =
        SafetensorsFile::fromBuffer(MemoryBuffer::getMemBufferCopy(copy, "r"));
    if (!f)
      consumeError(f.takeError());
  }
}

//===----------------------------------------------------------------------===//
// Golden files
//===----------------------------------------------------------------------===//

TEST(Golden, EveryFileParsesWithFiniteValues) {
  SKIP_WITHOUT_GOLDEN();
  std::error_code ec;
  int files = 0;
  for (sys::fs::directory_iterator it(goldenPath(), ec), end; it != end && !ec;
       it.increment(ec)) {
    if (sys::path::extension(it->path()) != ".safetensors")
      continue;
    ++files;
    Expected<SafetensorsFile> f = SafetensorsFile::open(it->path());
    ASSERT_TRUE(bool(f)) << toString(f.takeError());
    EXPECT_FALSE(f->tensors().empty()) << it->path();
    const uint8_t *prev = nullptr;
    for (const TensorView &t : f->tensors()) {
      EXPECT_TRUE(prev == nullptr || t.bytes.data() >= prev) << t.name;
      prev = t.bytes.data();
      EXPECT_EQ(t.bytes.size(), t.numElements() * elementSize(t.dtype));
      for (double v : toF64(t))
        ASSERT_TRUE(std::isfinite(v)) << it->path() << " " << t.name;
    }
  }
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_GE(files, 17);
}

TEST(Golden, StackReadmeWeights) {
  SKIP_WITHOUT_GOLDEN();
  Expected<SafetensorsFile> f =
      SafetensorsFile::open(goldenPath("stack_readme.weights.safetensors"));
  ASSERT_TRUE(bool(f)) << toString(f.takeError());
  EXPECT_EQ(f->metadata().at("slstm_layout"), "cuda");
  EXPECT_EQ(f->metadata().at("model"), "xLSTMBlockStack");
  // 6 mLSTM blocks of 14 tensors, one sLSTM block of 13, the final norm.
  EXPECT_EQ(f->tensors().size(), 6u * 14 + 13 + 1);
  const TensorView *kernel =
      f->find("blocks.1.xlstm.slstm_cell._recurrent_kernel_");
  ASSERT_TRUE(kernel);
  EXPECT_EQ(kernel->dtype, DType::F32);
  EXPECT_EQ(kernel->shapeString(), "4x32x128");
  EXPECT_EQ(f->find("blocks.0.xlstm.q_proj.weight")->shapeString(), "64x4x4");
  EXPECT_EQ(f->find("post_blocks_norm.weight")->shapeString(), "128");
  // Perturbed away from the init: norm weights are not all zero.
  std::vector<double> norm = toF64(*f->find("blocks.0.xlstm_norm.weight"));
  EXPECT_TRUE(llvm::any_of(norm, [](double v) { return v != 0; }));
}

TEST(Golden, LargeMiniAndIOFiles) {
  SKIP_WITHOUT_GOLDEN();
  Expected<SafetensorsFile> w =
      SafetensorsFile::open(goldenPath("large_mini.weights.safetensors"));
  ASSERT_TRUE(bool(w)) << toString(w.takeError());
  EXPECT_EQ(w->metadata().count("slstm_layout"), 0u);
  EXPECT_EQ(w->metadata().at("model"), "xLSTMLarge");
  EXPECT_EQ(w->tensors().size(), 3u + 2 * 15);
  EXPECT_EQ(w->find("embedding.weight")->shapeString(), "512x256");
  EXPECT_EQ(w->find("backbone.blocks.1.ffn.proj_down.weight")->shapeString(),
            "256x704");

  Expected<SafetensorsFile> io =
      SafetensorsFile::open(goldenPath("lm_readme_v1024.io.safetensors"));
  ASSERT_TRUE(bool(io)) << toString(io.takeError());
  const TensorView *tokens = io->find("tokens");
  ASSERT_TRUE(tokens);
  EXPECT_EQ(tokens->dtype, DType::I64);
  EXPECT_EQ(tokens->shapeString(), "2x48");
  for (double t : toF64(*tokens))
    EXPECT_TRUE(t >= 0 && t < 1024 && t == std::floor(t));
  EXPECT_EQ(io->find("logits")->dtype, DType::F64);
  EXPECT_EQ(io->find("logits")->shapeString(), "2x48x1024");

  Expected<SafetensorsFile> cell =
      SafetensorsFile::open(goldenPath("mlstm_cell.io.safetensors"));
  ASSERT_TRUE(bool(cell)) << toString(cell.takeError());
  EXPECT_EQ(cell->find("h")->shapeString(), "2x3x100x48");
  EXPECT_EQ(cell->find("q")->shapeString(), "2x3x100x32");
  EXPECT_EQ(cell->metadata().at("eps"), "1e-06");
}

} // namespace
