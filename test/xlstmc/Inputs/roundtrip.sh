#!/usr/bin/env bash
# roundtrip.sh XLSTMC XLSTM_OPT CONFIG TMP: the graph-level IR of CONFIG (f32
# and bf16) prints back identically through xlstm-opt, and the expanded IR
# parses and has no block ops left.
set -euo pipefail
xlstmc=$1 opt=$2 config=$3 tmp=$4
for dtype in f32 bf16; do
  "$xlstmc" "$config" --dtype=$dtype -o "$tmp.$dtype.mlir"
  "$opt" "$tmp.$dtype.mlir" -o "$tmp.$dtype.2.mlir"
  diff "$tmp.$dtype.mlir" "$tmp.$dtype.2.mlir"
done
"$xlstmc" "$config" --emit=expanded -o "$tmp.expanded.mlir"
"$opt" "$tmp.expanded.mlir" -o "$tmp.expanded.2.mlir"
if grep -E 'xlstm\.(mlstm_block|slstm_block|large_block|lm_head) ' "$tmp.expanded.2.mlir"; then
  echo "block ops left after xlstm-expand-blocks" >&2
  exit 1
fi
grep -q 'xlstm\.\(mlstm\|slstm\|slstm_step\) ' "$tmp.expanded.2.mlir"
# The tiled form has no step-by-step recurrences left.
"$xlstmc" "$config" --emit=tiled --chunk-size=16 -o "$tmp.tiled.mlir"
"$opt" "$tmp.tiled.mlir" -o "$tmp.tiled.2.mlir"
if grep -E 'xlstm\.(mlstm|slstm_step) ' "$tmp.tiled.2.mlir"; then
  echo "recurrences left after tiling and fusion" >&2
  exit 1
fi
