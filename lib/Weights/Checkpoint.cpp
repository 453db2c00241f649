//===- Checkpoint.cpp - Weight files as they are published ----------------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Weights/Checkpoint.h"
#include "xlstm/Support/Files.h"
#include "xlstm/Support/JSONDepth.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <set>

using namespace llvm;
using namespace xlstm::weights;
namespace fs = llvm::sys::fs;
namespace path = llvm::sys::path;

namespace {
/// The 7B's index is 40 KB; a larger one is not an index.
constexpr uint64_t kMaxIndexBytes = 64 << 20;
constexpr StringLiteral kIndexName = "model.safetensors.index.json";
constexpr StringLiteral kSingleName = "model.safetensors";

Error makeError(const Twine &msg) {
  return createStringError(inconvertibleErrorCode(), msg);
}

/// Shard names come from a file we do not trust: plain relative paths that
/// stay inside the index's folder.
bool isSafeShardName(StringRef name) {
  if (name.empty() || path::is_absolute(name) ||
      path::is_absolute(name, path::Style::windows))
    return false;
  return none_of(make_range(path::begin(name), path::end(name)),
                 [](StringRef part) { return part == ".."; });
}
} // namespace

Checkpoint::~Checkpoint() = default;

void Checkpoint::addShard(const SafetensorsFile &file) {
  unsigned index = shards.size();
  shards.push_back(&file);
  for (const TensorView &t : file.tensors()) {
    all.push_back(&t);
    byName.try_emplace(t.name, &t);
    shardIndex[&t] = index;
  }
}

Checkpoint Checkpoint::view(const SafetensorsFile &file) {
  Checkpoint c;
  c.path = file.name().str();
  c.addShard(file);
  return c;
}

const TensorView *Checkpoint::find(StringRef name) const {
  return byName.lookup(name);
}

StringRef Checkpoint::shardOf(const TensorView &tensor) const {
  auto it = shardIndex.find(&tensor);
  return it == shardIndex.end() ? StringRef() : shards[it->second]->name();
}

const std::map<std::string, std::string> &Checkpoint::metadata() const {
  static const std::map<std::string, std::string> none;
  return shards.empty() ? none : shards.front()->metadata();
}

Expected<Checkpoint> Checkpoint::open(StringRef givenPath) {
  Checkpoint c;
  c.path = givenPath.str();
  std::vector<std::string> shardFiles;
  std::string indexPath;

  if (fs::is_directory(givenPath)) {
    SmallString<256> index(givenPath), single(givenPath);
    path::append(index, kIndexName);
    path::append(single, kSingleName);
    if (fs::exists(index)) {
      indexPath = index.str().str();
    } else if (fs::exists(single)) {
      shardFiles.push_back(single.str().str());
    } else {
      std::error_code ec;
      for (fs::directory_iterator it(givenPath, ec), end; it != end && !ec;
           it.increment(ec))
        if (StringRef(it->path()).ends_with(".safetensors"))
          shardFiles.push_back(it->path());
      if (ec)
        return makeError(givenPath + ": cannot list the folder: " +
                         ec.message());
      if (shardFiles.empty())
        return makeError(givenPath + ": the folder holds no " + kIndexName +
                         ", no " + kSingleName +
                         " and no other .safetensors file");
      llvm::sort(shardFiles);
    }
  } else if (givenPath.ends_with(".json")) {
    indexPath = givenPath.str();
  } else {
    shardFiles.push_back(givenPath.str());
  }

  // Without an index every file is a shard, and a tensor in two of them is
  // ambiguous.
  if (indexPath.empty()) {
    for (const std::string &file : shardFiles) {
      Expected<SafetensorsFile> shard = SafetensorsFile::open(file);
      if (!shard)
        return shard.takeError();
      c.owned.push_back(std::make_unique<SafetensorsFile>(std::move(*shard)));
      c.addShard(*c.owned.back());
    }
    if (c.all.size() != c.byName.size())
      for (const TensorView *t : c.all)
        if (const TensorView *first = c.byName.lookup(t->name); first != t)
          return makeError(givenPath + ": tensor '" + t->name +
                           "' is in both " + c.shardOf(*first) + " and " +
                           c.shardOf(*t));
    return std::move(c);
  }

  // The index: {"metadata": {...}, "weight_map": {tensor: shard file}}.
  auto fail = [&](const Twine &msg) { return makeError(indexPath + ": " + msg); };
  if (xlstm::isExistingNonRegularFile(indexPath))
    return fail("not a regular file");
  uint64_t size = 0;
  if (std::error_code ec = fs::file_size(indexPath, size))
    return fail("cannot open: " + ec.message());
  if (size > kMaxIndexBytes)
    return fail("is " + Twine(size) + " bytes; a checkpoint index is at most " +
                Twine(kMaxIndexBytes) + " bytes");
  ErrorOr<std::unique_ptr<MemoryBuffer>> text =
      MemoryBuffer::getFile(indexPath, /*IsText=*/true);
  if (!text)
    return fail("cannot open: " + text.getError().message());
  StringRef json = (*text)->getBuffer();
  if (xlstm::jsonNestingDepth(json) > xlstm::kMaxJSONDepth)
    return fail("is nested more than " + Twine(xlstm::kMaxJSONDepth) +
                " levels deep (an index nests 2)");
  Expected<json::Value> root = json::parse(json);
  if (!root)
    return fail("not valid JSON: " + toString(root.takeError()));
  const json::Object *object = root->getAsObject();
  const json::Object *weightMap =
      object ? object->getObject("weight_map") : nullptr;
  if (!weightMap)
    return fail("expected a JSON object with a \"weight_map\" object "
                "(tensor name -> shard file)");

  // Shards in the order of their names (model-00001-of-00006 first).
  StringMap<std::string> shardOfTensor;
  std::set<std::string> shardNames;
  for (const auto &[name, value] : *weightMap) {
    std::optional<StringRef> shard = value.getAsString();
    if (!shard)
      return fail("weight_map: the shard of tensor '" + StringRef(name) +
                  "' is not a string");
    if (!isSafeShardName(*shard))
      return fail("weight_map: tensor '" + StringRef(name) + "': shard '" +
                  *shard +
                  "' is not a file name inside the index's folder");
    shardOfTensor[name] = shard->str();
    shardNames.insert(shard->str());
  }
  if (shardNames.empty())
    return fail("weight_map is empty");
  SmallString<256> folder(indexPath);
  path::remove_filename(folder);
  for (const std::string &shard : shardNames) {
    SmallString<256> file(folder);
    path::append(file, shard);
    if (!fs::exists(file)) {
      StringRef example;
      for (const auto &entry : shardOfTensor)
        if (entry.second == shard &&
            (example.empty() || entry.first() < example))
          example = entry.first();
      return fail("shard '" + shard + "' (which holds '" + example +
                  "', among others) does not exist: " + file);
    }
    Expected<SafetensorsFile> opened = SafetensorsFile::open(file);
    if (!opened)
      return opened.takeError();
    c.owned.push_back(std::make_unique<SafetensorsFile>(std::move(*opened)));
  }
  for (const std::unique_ptr<SafetensorsFile> &shard : c.owned)
    c.addShard(*shard);

  // The index and the shards must agree exactly.
  for (const TensorView *t : c.all) {
    StringRef shard = path::filename(c.shardOf(*t));
    if (const TensorView *first = c.byName.lookup(t->name); first != t)
      return fail("tensor '" + t->name + "' is in two shards, " +
                  path::filename(c.shardOf(*first)) + " and " + shard);
    auto it = shardOfTensor.find(t->name);
    if (it == shardOfTensor.end())
      return fail("shard " + shard + " holds tensor '" + t->name +
                  "', which the weight_map does not list");
  }
  for (const auto &entry : shardOfTensor) {
    const TensorView *t = c.byName.lookup(entry.first());
    if (!t)
      return fail("weight_map: tensor '" + entry.first() + "' is mapped to " +
                  entry.second + ", which does not hold it");
    StringRef actual = path::filename(c.shardOf(*t));
    if (actual != path::filename(entry.second))
      return fail("weight_map: tensor '" + entry.first() + "' is mapped to " +
                  entry.second + " but is in " + actual);
  }
  return std::move(c);
}
