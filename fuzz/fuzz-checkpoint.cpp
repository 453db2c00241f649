//===- fuzz-checkpoint.cpp - Fuzz the sharded checkpoint index reader -----===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Any bytes as the model.safetensors.index.json of a Hugging Face sharded
// checkpoint, in a folder that holds two valid shards (a.safetensors with
// tensor "a", b.safetensors with "b"): opened as --weights opens it. The
// index names shard files, so it is also the path-traversal surface.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Weights/Checkpoint.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <string>

namespace {

/// A safetensors file with one float32 tensor `name` of two elements.
void writeShard(llvm::StringRef path, llvm::StringRef name) {
  std::string header = "{\"" + name.str() +
                       "\":{\"dtype\":\"F32\",\"shape\":[2],"
                       "\"data_offsets\":[0,8]}}";
  while (header.size() % 8)
    header += ' ';
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec)
    std::abort();
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i)
    os << static_cast<char>((n >> (8 * i)) & 0xff);
  os << header << std::string(8, '\0');
}

/// The folder of the shards, made once per process.
const std::string &folder() {
  static const std::string dir = [] {
    llvm::SmallString<128> path;
    if (llvm::sys::fs::createUniqueDirectory("fuzz-checkpoint", path))
      std::abort();
    llvm::SmallString<128> shard(path);
    llvm::sys::path::append(shard, "a.safetensors");
    writeShard(shard, "a");
    shard = path;
    llvm::sys::path::append(shard, "b.safetensors");
    writeShard(shard, "b");
    return std::string(path);
  }();
  return dir;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::SmallString<128> index(folder());
  llvm::sys::path::append(index, "model.safetensors.index.json");
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(index, ec);
    if (ec)
      std::abort();
    os.write(reinterpret_cast<const char *>(data), size);
  }
  llvm::Expected<xlstm::weights::Checkpoint> checkpoint =
      xlstm::weights::Checkpoint::open(index);
  if (checkpoint) {
    // Whatever the index says, only the two real tensors can be found.
    for (const xlstm::weights::TensorView *t : checkpoint->tensors())
      if (t->name != "a" && t->name != "b")
        std::abort();
  } else {
    llvm::consumeError(checkpoint.takeError());
  }
  return 0;
}
