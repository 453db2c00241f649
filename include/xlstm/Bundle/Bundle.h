//===- Bundle.h - The .xlstmb container -------------------------*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// One self-describing file per compiled model: a fixed header, a JSON
// manifest (config, parameter table, buffers, kernels, plans: written by the
// compiler, read by the runtime) and named binary sections (PTX, cubins).
//
//   offset  size  field
//        0     8  magic "XLSTMB\0\1"
//        8     4  format version (little endian)
//       12     4  reserved, 0
//       16     8  payload size in bytes (everything after the header)
//       24     8  xxh3-64 checksum of the payload
//       32     -  payload: u64 manifest size, the manifest JSON, then the
//                 section area from the next 16-byte boundary; the
//                 manifest's "sections" array gives each section's name,
//                 kind, offset (in the area, 16-byte aligned) and size
//
// The reader checks the container before handing anything out: a wrong
// magic, an unknown version, a checksum mismatch, a truncated file, a
// malformed or too deeply nested manifest, or a section outside the payload
// is an Error naming the file. What a section holds (its kind, alignment,
// contents) is for its consumer to check. LLVM Support only: the
// runtime reads bundles on machines without MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_BUNDLE_BUNDLE_H
#define XLSTM_BUNDLE_BUNDLE_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace xlstm::bundle {

/// The format version this build writes and reads.
inline constexpr uint32_t kFormatVersion = 1;

/// A named binary section, e.g. {"kernels.sm_80.ptx", "ptx", bytes}.
struct Section {
  std::string name;
  std::string kind; ///< "ptx", "cubin", ...
  std::string data;
};

/// A validated bundle in memory.
class Bundle {
public:
  static llvm::Expected<Bundle> open(llvm::StringRef path);
  static llvm::Expected<Bundle>
  fromBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer);

  const llvm::json::Object &manifest() const { return manifestObject; }

  struct SectionView {
    std::string name, kind;
    llvm::StringRef data;
  };
  llvm::ArrayRef<SectionView> sections() const { return sectionList; }
  /// The section named `name`, or null.
  const SectionView *find(llvm::StringRef name) const;
  llvm::StringRef name() const { return buffer->getBufferIdentifier(); }

private:
  std::unique_ptr<llvm::MemoryBuffer> buffer;
  llvm::json::Object manifestObject;
  std::vector<SectionView> sectionList;
};

/// Serialises `manifest` (which must not have a "sections" key: the writer
/// adds it) and `sections` into the bundle format.
llvm::Expected<std::string> serialize(const llvm::json::Object &manifest,
                                      llvm::ArrayRef<Section> sections);
/// serialize() to a file.
llvm::Error writeBundle(llvm::StringRef path,
                        const llvm::json::Object &manifest,
                        llvm::ArrayRef<Section> sections);

} // namespace xlstm::bundle

#endif // XLSTM_BUNDLE_BUNDLE_H
