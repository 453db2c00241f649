#!/usr/bin/env bash
# Quickstart (a): install what is missing, build, and run the main job on the
# default config: compile the upstream README's xLSTMBlockStack, print the
# first stages of the lowering, compile it into a bundle (host programs and
# PTX kernels) and run the bundle: on the GPU when there is one, else on the
# float64 reference device.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${XLSTM_BUILD_DIR:-$root/build}"
config="${1:-$root/python-free-configs/readme_stack.yaml}"

"$root/scripts/setup.sh"
"$root/scripts/build.sh" xlstmc xlstm-opt xlstm-run xlstm-gpu-info xlstm-bundle

for stage in config mlir expanded tiled; do
  echo "==== xlstmc $(basename "$config") --emit=$stage"
  "$build/bin/xlstmc" "$config" --emit=$stage
done

out="$build/quickstart"
mkdir -p "$out"
name="$(basename "$config" .yaml)"
echo "==== xlstmc $name.yaml -o $out/$name.xlstmb"
"$build/bin/xlstmc" "$config" -o "$out/$name.xlstmb"
"$build/bin/xlstm-bundle" "$out/$name.xlstmb"
if "$build/bin/xlstm-gpu-info" >/dev/null 2>&1; then
  echo "==== xlstm-run $name.xlstmb --device=cuda --batch 4 --seqlen 256"
  "$build/bin/xlstm-run" "$out/$name.xlstmb" --device=cuda --batch 4 \
    --seqlen 256 --output "$out/$name.out.safetensors"
  echo "==== the same, timed (median of 20 after 3 warm-up runs)"
  "$build/bin/xlstm-run" "$out/$name.xlstmb" --device=cuda --batch 4 \
    --seqlen 256 --bench 20
else
  echo "note: no usable GPU ($("$build/bin/xlstm-gpu-info" 2>&1 | tail -1));" \
    "running on the float64 reference device"
  echo "==== xlstm-run $name.xlstmb --device=reference --batch 1 --seqlen 16"
  "$build/bin/xlstm-run" "$out/$name.xlstmb" --device=reference --batch 1 \
    --seqlen 16 --pipeline tiled --chunk-size 8 \
    --output "$out/$name.out.safetensors"
fi
echo "wrote $out/$name.out.safetensors"
