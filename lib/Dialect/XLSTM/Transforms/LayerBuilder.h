//===- LayerBuilder.h - Tensor-level building blocks for rewrites -*- C++
//-*-===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Small helpers that emit upstream tensor-level IR (linalg, tensor, arith,
// math) for the pieces every block expansion needs: linear layers,
// broadcasting elementwise math, head split/merge and slices. Activations are
// (batch, seq, features) with dynamic batch and sequence length.
//
//===----------------------------------------------------------------------===//

#ifndef XLSTM_LIB_DIALECT_XLSTM_TRANSFORMS_LAYERBUILDER_H
#define XLSTM_LIB_DIALECT_XLSTM_TRANSFORMS_LAYERBUILDER_H

#include "xlstm/Dialect/XLSTM/IR/XLSTM.h"

#include "mlir/Dialect/Utils/ReshapeOpsUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace xlstm {

class LayerBuilder {
public:
  using ScalarFn = llvm::function_ref<mlir::Value(
      mlir::OpBuilder &, mlir::Location, mlir::ValueRange)>;

  LayerBuilder(mlir::OpBuilder &b, mlir::Location loc) : b(b), loc(loc) {}

  /// `x W^T + bias` over the last dimension (`linalg.contract`); `bias` may be
  /// null. The result has `x`'s element type, or `resultElt` when given
  /// (gate pre-activations stay float32 in narrow models).
  mlir::Value linear(mlir::Value x, mlir::Value weight, mlir::Value bias,
                     mlir::Type resultElt = {});
  /// `linear` of the concatenation of `parts` along the last dimension,
  /// without the concatenation: each part against its columns of `weight`,
  /// accumulated in one output (float sums in part order); `bias` added to
  /// the sum last, or with `biasFirst` to the first part's product (which
  /// the later parts add to).
  mlir::Value linearOfParts(mlir::ValueRange parts, mlir::Value weight,
                            mlir::Value bias, mlir::Type resultElt,
                            bool biasFirst = false);
  /// `init + x W^T` (`linalg.contract` into `init`, which sets the result
  /// type).
  mlir::Value accumulateLinear(mlir::Value x, mlir::Value weight,
                               mlir::Value init);

  /// A `linalg.generic` computing `fn` elementwise over the shape of
  /// `inputs[0]`. Lower-rank inputs broadcast along the leading dimensions
  /// (per-channel vectors). The result has the element type of `inputs[0]`.
  mlir::Value elementwise(mlir::ValueRange inputs, ScalarFn fn);

  mlir::Value add(mlir::Value a, mlir::Value b);
  /// `x` with element type `elt` (arith.extf / truncf); `x` if it has it.
  mlir::Value castElements(mlir::Value x, mlir::Type elt);
  mlir::Value silu(mlir::Value x);

  /// Scalar helpers for bodies.
  static mlir::Value scalarSigmoid(mlir::OpBuilder &b, mlir::Location loc,
                                   mlir::Value x);
  static mlir::Value scalarConstant(mlir::OpBuilder &b, mlir::Location loc,
                                    mlir::Type type, double value);

  /// `x[..., offset : offset + size]` of a tensor of any rank.
  mlir::Value sliceLastDim(mlir::Value x, int64_t offset, int64_t size);
  /// Rows `[offset, offset + size)` of a static weight matrix or vector.
  mlir::Value sliceRows(mlir::Value weight, int64_t offset, int64_t size);

  /// (B, S, NH * D) -> (B, NH, S, D).
  mlir::Value splitHeads(mlir::Value x, int64_t numHeads);
  /// (B, NH, S, D) -> (B, S, NH * D).
  mlir::Value mergeHeads(mlir::Value x);
  /// `x` permuted: a `linalg.transpose`, or a reshape where only dims of
  /// size 1 move.
  mlir::Value transpose(mlir::Value x, llvm::ArrayRef<int64_t> permutation);
  /// `x` in `shape` (the same dim 0, the other dims static), the same
  /// elements in the same order: one collapse or expand where one does,
  /// else both through (dim 0, the rest).
  mlir::Value reshape(mlir::Value x, llvm::ArrayRef<int64_t> shape);
  /// `tensor.expand_shape` with the sizes of the expanded dims given
  /// statically and the others taken from `x`.
  mlir::Value expand(mlir::Value x,
                     llvm::ArrayRef<mlir::ReassociationIndices> reassociation,
                     llvm::ArrayRef<int64_t> staticShape);
  mlir::Value
  collapse(mlir::Value x,
           llvm::ArrayRef<mlir::ReassociationIndices> reassociation);

  mlir::OpBuilder &builder() { return b; }
  mlir::Location location() { return loc; }

private:
  mlir::Value emptyLike(mlir::Value x,
                        llvm::ArrayRef<mlir::OpFoldResult> sizes);
  llvm::SmallVector<mlir::OpFoldResult> sizes(mlir::Value x);

  mlir::OpBuilder &b;
  mlir::Location loc;
};

} // namespace xlstm

#endif // XLSTM_LIB_DIALECT_XLSTM_TRANSFORMS_LAYERBUILDER_H
