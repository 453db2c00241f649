#!/usr/bin/env bash
# roundtrip.sh XLSTMC XLSTM_OPT CONFIG TMP: for f32 and bf16, the graph-level
# IR of CONFIG prints back identically through xlstm-opt, the expanded IR
# parses and has no block ops left, and the tiled IR has no step-by-step
# recurrences left.
set -euo pipefail
xlstmc=$1 opt=$2 config=$3 tmp=$4
for dtype in f32 bf16; do
  "$xlstmc" "$config" --dtype=$dtype -o "$tmp.$dtype.mlir"
  "$opt" "$tmp.$dtype.mlir" -o "$tmp.$dtype.2.mlir"
  diff "$tmp.$dtype.mlir" "$tmp.$dtype.2.mlir"

  "$xlstmc" "$config" --dtype=$dtype --emit=expanded -o "$tmp.$dtype.exp.mlir"
  "$opt" "$tmp.$dtype.exp.mlir" -o "$tmp.$dtype.exp.2.mlir"
  if grep -E 'xlstm\.(mlstm_block|slstm_block|large_block|lm_head) ' \
      "$tmp.$dtype.exp.2.mlir"; then
    echo "block ops left after xlstm-expand-blocks" >&2
    exit 1
  fi
  grep -q 'xlstm\.\(mlstm\|slstm_step\) ' "$tmp.$dtype.exp.2.mlir"

  "$xlstmc" "$config" --dtype=$dtype --emit=tiled --chunk-size=16 \
    -o "$tmp.$dtype.tiled.mlir"
  "$opt" "$tmp.$dtype.tiled.mlir" -o "$tmp.$dtype.tiled.2.mlir"
  if grep -E 'xlstm\.(mlstm|slstm_step) ' "$tmp.$dtype.tiled.2.mlir"; then
    echo "recurrences left after tiling and fusion" >&2
    exit 1
  fi
done
