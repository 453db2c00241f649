//===- Checkpoint.h - Weight files as they are published --------*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// A checkpoint is one safetensors file or the shards of a Hugging Face
// sharded checkpoint (`model.safetensors.index.json`: `weight_map` tensor
// name -> shard file), memory-mapped and validated as a whole when opened:
// every shard the index names exists and holds what the index says, no
// tensor is in two shards, no shard holds a tensor the index does not list.
// Tensors are looked up by name across the shards without copying them.
// LLVM Support only (no MLIR): the runtime loads checkpoints too.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_WEIGHTS_CHECKPOINT_H
#define XLSTM_WEIGHTS_CHECKPOINT_H

#include "xlstm/Weights/Safetensors.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"

namespace xlstm::weights {

class Checkpoint {
public:
  /// Opens `path`: a `.safetensors` file, a `*.index.json` of a sharded
  /// checkpoint (shards relative to its folder), or a folder holding
  /// `model.safetensors.index.json`, `model.safetensors`, or safetensors
  /// files without an index (xlstm_large's `model_{n}.safetensors`).
  /// Errors name the file (and shard and tensor) at fault.
  static llvm::Expected<Checkpoint> open(llvm::StringRef path);
  /// A checkpoint of one file the caller keeps alive.
  static Checkpoint view(const SafetensorsFile &file);

  Checkpoint(Checkpoint &&) = default;
  Checkpoint &operator=(Checkpoint &&) = default;
  ~Checkpoint();

  /// The tensor named `name` in any shard, or null.
  const TensorView *find(llvm::StringRef name) const;
  /// Every tensor, shard by shard in file order.
  llvm::ArrayRef<const TensorView *> tensors() const { return all; }
  /// The shard file that holds `tensor` (for messages).
  llvm::StringRef shardOf(const TensorView &tensor) const;
  /// The first shard's "__metadata__" (shards of one checkpoint agree).
  const std::map<std::string, std::string> &metadata() const;
  /// The path given to open (or the file's name).
  llvm::StringRef name() const { return path; }
  size_t numShards() const { return shards.size(); }

private:
  Checkpoint() = default;
  void addShard(const SafetensorsFile &file);

  std::string path;
  std::vector<std::unique_ptr<SafetensorsFile>> owned;
  std::vector<const SafetensorsFile *> shards;
  std::vector<const TensorView *> all;
  llvm::StringMap<const TensorView *> byName;
  llvm::DenseMap<const TensorView *, unsigned> shardIndex;
};

} // namespace xlstm::weights

#endif // XLSTM_WEIGHTS_CHECKPOINT_H
