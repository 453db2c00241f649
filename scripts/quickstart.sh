#!/usr/bin/env bash
# Quickstart (a): install what is missing, build, and run the main job on the
# default config: compile the upstream README's xLSTMBlockStack and print
# each implemented stage of the lowering.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${XLSTM_BUILD_DIR:-$root/build}"
config="${1:-$root/python-free-configs/readme_stack.yaml}"

"$root/scripts/setup.sh"
"$root/scripts/build.sh" xlstmc xlstm-opt

for stage in config mlir expanded tiled; do
  echo "==== xlstmc $(basename "$config") --emit=$stage"
  "$build/bin/xlstmc" "$config" --emit=$stage
done
