//===- JSONDepth.h - Nesting depth of JSON text before parsing --*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// llvm::json::parse recurses once per nesting level, so a hostile file of
// a few hundred kilobytes of '[' overflows the stack. Every reader of JSON
// from files (bundle manifests, safetensors headers) bounds the depth with
// this scan first. Header-only: those readers live in MLIR-free libraries
// that share no other code.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_SUPPORT_JSONDEPTH_H
#define XLSTM_SUPPORT_JSONDEPTH_H

#include "llvm/ADT/StringRef.h"

#include <algorithm>

namespace xlstm {

/// The deepest nesting of objects and arrays in `text` (brackets inside
/// strings do not count); meaningful for any text, valid JSON or not.
inline int jsonNestingDepth(llvm::StringRef text) {
  int depth = 0, maxDepth = 0;
  bool inString = false, escaped = false;
  for (char c : text) {
    if (inString) {
      escaped = !escaped && c == '\\';
      inString = escaped || c != '"';
      continue;
    }
    inString = c == '"';
    depth += (c == '[' || c == '{') - (c == ']' || c == '}');
    maxDepth = std::max(maxDepth, depth);
  }
  return maxDepth;
}

/// Deeper than any file this project reads legitimately nests.
inline constexpr int kMaxJSONDepth = 32;

} // namespace xlstm

#endif // XLSTM_SUPPORT_JSONDEPTH_H
