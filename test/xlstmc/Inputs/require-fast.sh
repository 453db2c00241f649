#!/bin/bash
# require-fast.sh XLSTMC CONFIG... : every config compiles in f32 and bf16
# with every projection, conv, norm and recurrence on a specialised kernel
# (xlstmc --require-fast-kernels); prints one line per config and dtype.
set -eo pipefail
xlstmc="$1"
shift
for config in "$@"; do
  for dtype in f32 bf16; do
    summary=$("$xlstmc" "$config" --dtype "$dtype" --require-fast-kernels \
      --lowering-report --quiet | tail -1)
    echo "$(basename "$config") $dtype: $summary"
  done
done
