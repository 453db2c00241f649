//===- Bundle.cpp - The .xlstmb container ---------------------------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Bundle/Bundle.h"
#include "xlstm/Support/Files.h"
#include "xlstm/Support/JSONDepth.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Support/xxhash.h"

using namespace llvm;
using namespace xlstm::bundle;

namespace {
constexpr char kMagic[8] = {'X', 'L', 'S', 'T', 'M', 'B', '\0', '\1'};
constexpr size_t kHeaderSize = 32;

Error fail(StringRef file, const Twine &message) {
  return createStringError(inconvertibleErrorCode(), file + ": " + message);
}

uint64_t read64(const char *p) { return support::endian::read64le(p); }
} // namespace

const Bundle::SectionView *Bundle::find(StringRef name) const {
  for (const SectionView &s : sectionList)
    if (s.name == name)
      return &s;
  return nullptr;
}

Expected<Bundle> Bundle::open(StringRef path) {
  if (xlstm::isExistingNonRegularFile(path))
    return fail(path, "not a regular file");
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer = MemoryBuffer::getFile(
      path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!buffer)
    return fail(path, "cannot open: " + buffer.getError().message());
  return fromBuffer(std::move(*buffer));
}

Expected<Bundle> Bundle::fromBuffer(std::unique_ptr<MemoryBuffer> buffer) {
  StringRef file = buffer->getBufferIdentifier();
  StringRef bytes = buffer->getBuffer();
  if (bytes.size() < kHeaderSize)
    return fail(file, "not an xlstm bundle (" + Twine(bytes.size()) +
                          " bytes, shorter than the header)");
  if (bytes.take_front(8) != StringRef(kMagic, 8))
    return fail(file, "not an xlstm bundle (wrong magic)");
  uint32_t version = support::endian::read32le(bytes.data() + 8);
  if (version != kFormatVersion)
    return fail(file, "bundle format version " + Twine(version) +
                          " is not supported (this build reads version " +
                          Twine(kFormatVersion) + "); recompile the model");
  uint64_t payloadSize = read64(bytes.data() + 16);
  StringRef payload = bytes.drop_front(kHeaderSize);
  if (payloadSize != payload.size())
    return fail(file, "truncated or padded bundle: the header says " +
                          Twine(payloadSize) + " payload bytes, the file has " +
                          Twine(payload.size()));
  if (xxh3_64bits(payload) != read64(bytes.data() + 24))
    return fail(file, "corrupt bundle (checksum mismatch)");
  if (payload.size() < 8)
    return fail(file, "corrupt bundle (no manifest)");
  uint64_t manifestSize = read64(payload.data());
  if (manifestSize > payload.size() - 8)
    return fail(file, "corrupt bundle (manifest size " + Twine(manifestSize) +
                          " exceeds the payload)");
  // The xLSTM-7B's manifest is under 5 MB; a huge one costs gigabytes to
  // parse and validate before anything could reject it.
  constexpr uint64_t kMaxManifestBytes = uint64_t(64) << 20;
  if (manifestSize > kMaxManifestBytes)
    return fail(file, "bad manifest: " + Twine(manifestSize) +
                          " bytes, more than the 64 MiB accepted");
  // llvm::json recurses once per nesting level: bound it before parsing.
  StringRef manifestText = payload.substr(8, manifestSize);
  if (xlstm::jsonNestingDepth(manifestText) > xlstm::kMaxJSONDepth)
    return fail(file, "bad manifest: nested more than " +
                          Twine(xlstm::kMaxJSONDepth) + " levels deep");
  Expected<json::Value> manifest = json::parse(manifestText);
  if (!manifest)
    return fail(file, "bad manifest: " + toString(manifest.takeError()));
  json::Object *object = manifest->getAsObject();
  if (!object)
    return fail(file, "bad manifest: not a JSON object");

  // Sections live in the area after the manifest, 16-byte aligned.
  StringRef area = payload.drop_front(
      std::min<uint64_t>(alignTo(8 + manifestSize, 16), payload.size()));
  Bundle result;
  json::Array *sections = object->getArray("sections");
  if (!sections)
    return fail(file, "bad manifest: no \"sections\" array");
  StringSet<> names;
  for (auto [i, entry] : llvm::enumerate(*sections)) {
    json::Object *s = entry.getAsObject();
    std::optional<StringRef> name = s ? s->getString("name") : std::nullopt;
    std::optional<StringRef> kind = s ? s->getString("kind") : std::nullopt;
    std::optional<uint64_t> offset =
        s && s->get("offset") ? s->get("offset")->getAsUINT64() : std::nullopt;
    std::optional<uint64_t> size =
        s && s->get("size") ? s->get("size")->getAsUINT64() : std::nullopt;
    if (!name || !kind || !offset || !size)
      return fail(file, "bad manifest: section #" + Twine(i) +
                            " needs name, kind, offset and size");
    if (!names.insert(*name).second)
      return fail(file, "bad manifest: duplicate section '" + *name + "'");
    if (*offset > area.size() || *size > area.size() - *offset)
      return fail(file, "corrupt bundle: section '" + *name +
                            "' lies outside the file");
    result.sectionList.push_back(
        {name->str(), kind->str(), area.substr(*offset, *size)});
  }
  result.manifestObject = std::move(*object);
  result.buffer = std::move(buffer);
  return std::move(result);
}

Expected<std::string> xlstm::bundle::serialize(const json::Object &manifest,
                                               ArrayRef<Section> sections) {
  if (manifest.get("sections"))
    return createStringError("the manifest must not define \"sections\"");
  // Section offsets are relative to the section area, which starts at the
  // first 16-byte boundary after the manifest (so cubins stay aligned).
  json::Object full = manifest;
  json::Array table;
  StringSet<> names;
  uint64_t offset = 0;
  for (const Section &s : sections) {
    if (!names.insert(s.name).second)
      return createStringError("duplicate section name '" + s.name + "'");
    offset = alignTo(offset, 16);
    table.push_back(
        json::Object{{"name", s.name},
                     {"kind", s.kind},
                     {"offset", static_cast<int64_t>(offset)},
                     {"size", static_cast<int64_t>(s.data.size())}});
    offset += s.data.size();
  }
  full["sections"] = std::move(table);
  std::string manifestText;
  raw_string_ostream(manifestText) << json::Value(std::move(full));

  std::string payload(8, '\0');
  support::endian::write64le(payload.data(), manifestText.size());
  payload += manifestText;
  size_t area = alignTo(payload.size(), 16);
  for (const Section &s : sections) {
    payload.resize(area + alignTo(payload.size() - area, 16), '\0');
    payload += s.data;
  }

  std::string out(kHeaderSize, '\0');
  std::copy_n(kMagic, 8, out.begin());
  support::endian::write32le(out.data() + 8, kFormatVersion);
  support::endian::write64le(out.data() + 16, payload.size());
  support::endian::write64le(out.data() + 24, xxh3_64bits(payload));
  return out + payload;
}

Error xlstm::bundle::writeBundle(StringRef path, const json::Object &manifest,
                                 ArrayRef<Section> sections) {
  Expected<std::string> bytes = serialize(manifest, sections);
  if (!bytes)
    return bytes.takeError();
  std::error_code ec;
  raw_fd_ostream os(path, ec, sys::fs::OF_None);
  if (ec)
    return fail(path, "cannot write: " + ec.message());
  os << *bytes;
  os.close();
  if (os.has_error()) {
    std::error_code error = os.error();
    os.clear_error(); // or the stream's destructor aborts
    return fail(path, "cannot write: " + error.message());
  }
  return Error::success();
}
