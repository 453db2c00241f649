//===- Headwise.h - How headwise projections are lowered --------*- C++ -*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// xlstm-lower-to-linalg and xlstm-headwise-to-gpu must agree on which
// headwise projections become one block-diagonal contraction (tensor-core
// kernels, xlstm-contract-to-mma) and which the headwise kernels take.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_DIALECT_XLSTM_TRANSFORMS_HEADWISE_H
#define XLSTM_DIALECT_XLSTM_TRANSFORMS_HEADWISE_H

#include <cstdint>

namespace xlstm {

/// Up to this many blocks a headwise projection becomes a tensor-core
/// contraction (the decoding kernel takes its blocks one branch each, and
/// float32 ones launch a kernel per block).
constexpr int64_t kMaxProjectionsPerHeadwise = 16;

/// Whether xlstm-lower-to-linalg lowers a headwise projection of `blocks`
/// blocks of `out` x `in` to one contraction x (..., blocks, in) times W
/// (blocks, out, in): blocks the size of tensor-core tiles (the sLSTM's
/// gate projections), whose slices of x and of the result start on 16
/// bytes, and not too many of them.
inline bool headwiseAsProjections(int64_t blocks, int64_t out, int64_t in) {
  return in % 16 == 0 && out % 8 == 0 &&
         blocks <= kMaxProjectionsPerHeadwise;
}

} // namespace xlstm

#endif // XLSTM_DIALECT_XLSTM_TRANSFORMS_HEADWISE_H
