//===- BundleTest.cpp - The .xlstmb container -----------------------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Bundle/Bundle.h"
#include "xlstm/Support/FatalErrors.h"

#include "llvm/Support/Endian.h"
#include "llvm/Support/xxhash.h"

#include "gtest/gtest.h"

using namespace llvm;
using namespace xlstm::bundle;

namespace {

std::string sample() {
  json::Object manifest{{"model", "xLSTMBlockStack"},
                        {"config", json::Object{{"embedding_dim", 128}}}};
  std::vector<Section> sections = {
      {"kernels.sm_80.ptx", "ptx", ".version 7.0\n.target sm_80\n"},
      {"kernels.sm_90.cubin", "cubin",
       std::string("\x7f"
                   "ELF\0\1\2",
                   7)},
      {"empty", "ptx", ""}};
  Expected<std::string> bytes = serialize(manifest, sections);
  EXPECT_TRUE(bool(bytes));
  return bytes ? *bytes : "";
}

Expected<Bundle> parse(StringRef bytes) {
  return Bundle::fromBuffer(
      MemoryBuffer::getMemBufferCopy(bytes, "model.xlstmb"));
}

std::string errorOf(Expected<Bundle> b) {
  return b ? "" : toString(b.takeError());
}

/// Rewrites the checksum so that a deliberate change reaches the later
/// checks.
std::string resealed(std::string bytes) {
  support::endian::write64le(bytes.data() + 24,
                             xxh3_64bits(StringRef(bytes).drop_front(32)));
  return bytes;
}

TEST(Bundle, RoundTrip) {
  std::string bytes = sample();
  Expected<Bundle> b = parse(bytes);
  ASSERT_TRUE(bool(b)) << toString(b.takeError());
  EXPECT_EQ(b->manifest().getString("model"), "xLSTMBlockStack");
  ASSERT_EQ(b->sections().size(), 3u);
  const Bundle::SectionView *cubin = b->find("kernels.sm_90.cubin");
  ASSERT_TRUE(cubin);
  EXPECT_EQ(cubin->kind, "cubin");
  EXPECT_EQ(cubin->data, StringRef("\x7f"
                                   "ELF\0\1\2",
                                   7));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(cubin->data.data()) % 16,
            reinterpret_cast<uintptr_t>(bytes.data()) % 16)
      << "sections are 16-byte aligned within the file";
  EXPECT_EQ(b->find("kernels.sm_80.ptx")->data,
            ".version 7.0\n.target sm_80\n");
  EXPECT_TRUE(b->find("empty")->data.empty());
  EXPECT_EQ(b->find("missing"), nullptr);
}

TEST(Bundle, RejectsCorruption) {
  std::string bytes = sample();
  EXPECT_NE(errorOf(parse(bytes.substr(0, 10))).find("shorter than the header"),
            std::string::npos);
  std::string magic = bytes;
  magic[0] = 'Y';
  EXPECT_NE(errorOf(parse(magic)).find("wrong magic"), std::string::npos);
  std::string version = bytes;
  support::endian::write32le(version.data() + 8, 2);
  EXPECT_NE(errorOf(parse(version))
                .find("bundle format version 2 is not "
                      "supported (this build reads "
                      "version 1)"),
            std::string::npos);
  EXPECT_NE(errorOf(parse(bytes.substr(0, bytes.size() - 3)))
                .find("truncated or padded bundle"),
            std::string::npos);
  // Every single-byte change of the payload is caught by the checksum.
  for (size_t i = 32; i < bytes.size(); i += 7) {
    std::string flipped = bytes;
    flipped[i] ^= 0x40;
    EXPECT_NE(errorOf(parse(flipped)).find("checksum mismatch"),
              std::string::npos)
        << "byte " << i;
  }
}

TEST(Bundle, RejectsBadManifests) {
  std::string bytes = sample();
  // Manifest size beyond the payload.
  std::string big = bytes;
  support::endian::write64le(big.data() + 32, 1u << 30);
  EXPECT_NE(errorOf(parse(resealed(big))).find("exceeds the payload"),
            std::string::npos);
  // A section moved outside the file.
  std::string moved = bytes;
  size_t pos = moved.find("\"offset\":32");
  ASSERT_NE(pos, std::string::npos);
  moved.replace(pos, 11, "\"offset\":99"); // same length: sizes stay valid
  EXPECT_NE(errorOf(parse(resealed(moved))).find("lies outside the file"),
            std::string::npos);
  // Not JSON.
  std::string json = bytes;
  json[40] = 'x'; // the first byte of the manifest JSON
  EXPECT_NE(errorOf(parse(resealed(json))).find("bad manifest"),
            std::string::npos);
}

TEST(Bundle, RejectsDeeplyNestedManifests) {
  // A checksummed bundle whose manifest nests 100000 arrays: an error, not
  // a stack overflow in the JSON parser.
  std::string manifest(100000, '[');
  std::string payload(8, '\0');
  support::endian::write64le(payload.data(), manifest.size());
  payload += manifest;
  std::string bytes = sample().substr(0, 32) + payload;
  support::endian::write64le(bytes.data() + 16, payload.size());
  EXPECT_NE(errorOf(parse(resealed(bytes))).find("nested more than 32"),
            std::string::npos);
}

TEST(Bundle, RejectsHugeManifests) {
  // Found by fuzzing: a valid 98 MB manifest took 49 s and 9 GB to load.
  std::string manifest = "{" + std::string(65 << 20, ' ') + "}";
  std::string payload(8, '\0');
  support::endian::write64le(payload.data(), manifest.size());
  payload += manifest;
  std::string bytes = sample().substr(0, 32) + payload;
  support::endian::write64le(bytes.data() + 16, payload.size());
  EXPECT_NE(
      errorOf(parse(resealed(bytes))).find("more than the 64 MiB accepted"),
      std::string::npos);
}

TEST(Bundle, OpenRejectsDevicesAndFifos) {
  // Found by fuzzing: /dev/zero was read until memory ran out.
  Expected<Bundle> bundle = Bundle::open("/dev/zero");
  ASSERT_FALSE(bool(bundle));
  EXPECT_EQ(toString(bundle.takeError()), "/dev/zero: not a regular file");
}

TEST(Bundle, WriterRejectsDuplicatesAndReservedKeys) {
  Expected<std::string> dup =
      serialize(json::Object{}, {{"a", "ptx", ""}, {"a", "ptx", ""}});
  ASSERT_FALSE(bool(dup));
  EXPECT_NE(toString(dup.takeError()).find("duplicate section name 'a'"),
            std::string::npos);
  Expected<std::string> reserved = serialize(json::Object{{"sections", 1}}, {});
  ASSERT_FALSE(bool(reserved));
  EXPECT_NE(toString(reserved.takeError()).find("must not define"),
            std::string::npos);
}

TEST(Bundle, MissingFile) {
  Expected<Bundle> b = Bundle::open("/nonexistent/model.xlstmb");
  ASSERT_FALSE(bool(b));
  EXPECT_NE(
      toString(b.takeError()).find("/nonexistent/model.xlstmb: cannot open"),
      std::string::npos);
}

} // namespace

// The tools turn LLVM's fatal errors into "tool: error: ..." and exit
// code 1 instead of an abort with a stack dump (issue 11: no input makes a
// tool abort).
TEST(Tools, FatalErrorsBecomeDiagnostics) {
  EXPECT_EXIT(
      {
        xlstm::reportFatalErrorsAsDiagnostics("some-tool");
        llvm::report_fatal_error("out of memory");
      },
      ::testing::ExitedWithCode(1), "some-tool: error: out of memory");
}
