#!/usr/bin/env bash
# The queued GPU measurements (docs/gpu-plan.md, "Next steps") as one device
# call, so that a fresh checkout can make it in two commands:
#   scripts/gpu-queue.sh prepare   (here, after scripts/build.sh) the tools
#                                  and golden bundles (gpu-out), the 7B set
#                                  (gpu-out-hf) and the sLSTM gate-head
#                                  variants (gpu-out-tiles)
#   scripts/gpu-queue.sh run       (on the GPU machine, with gpu-out,
#                                  gpu-out-hf and gpu-out-tiles carried)
#                                  on an H200: the 7B's per-kernel decode
#                                  table (scripts/ncu-decode.sh) first;
#                                  then, on any card, the runtime tests
#                                  and golden suite (gpu-check.sh run
#                                  without benchmarks), the variants'
#                                  Nsight and forward A/B (gpu-check.sh
#                                  tiles), and on an H200 the decode sweep,
#                                  in the time left
# QUEUE_BUDGET: seconds the run may take (default 560: one device call);
# QUEUE_GOLDEN=0: no golden suite; QUEUE_H200_ONLY=1: nothing unless on an
# H200.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# The gate-head variants (issue 10): v0 the pipelined pair kernel, a
# launch per pair (the default before session 48); v1 the default: each
# block holding its head's W of both projections of a pair
# (resident-weight-joint, 128-row slices, 3 stages, 8 warps), both pairs
# in one launch, a plane of blocks each (sibling-pair-planes); v2 the same
# in a launch per pair. (Session 48 measured on H100s, none faster than
# v1: 2 stages, 16 warps, 64-row slices at one and two blocks an SM,
# 16-row slices at three, a block per projection at two and three,
# resident-weight-joint-split-n, -early-first-pass, -whole-slices and
# -late-prefetch; docs/performance.md.)
variants=(
  "tf32=1 mma-resident-weights=0 mma-sibling-pair-planes=0"
  "tf32=1"
  "tf32=1 mma-sibling-pair-planes=0"
)

case "${1:-}" in
prepare)
  bash scripts/gpu-check.sh prepare
  XLSTM_GPU_OUT=gpu-out-hf XLSTM_GPU_SHARED_TOOLS=1 \
    bash scripts/gpu-check.sh prepare hf "" "grid-dependency-wait=1"
  TILES_MODELS="slstm_block_512 slstm_block_768 readme_stack" XLSTM_GPU_OUT=gpu-out-tiles \
    XLSTM_GPU_SHARED_TOOLS=1 bash scripts/gpu-check.sh prepare tiles "${variants[@]}"
  "${XLSTM_BUILD_DIR:-build}/bin/xlstmc" bench/configs/slstm_block_512.yaml \
    --dtype bf16 --emit=ptx --quiet -o gpu-out-tiles/slstm_block_512.ptx
  du -sh gpu-out gpu-out-hf gpu-out-tiles
  ;;
run)
  gpu="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
  echo "gpu: $gpu"
  # (QUEUE_H200_ONLY=1: nothing on another card, whose figures the issues'
  # targets do not take.)
  if [[ "${QUEUE_H200_ONLY:-0}" == 1 && "$gpu" != *H200* ]]; then exit 0; fi
  t0=$(date +%s)
  logs="${OUT:-$root}"
  left() { echo $((${QUEUE_BUDGET:-560} - ($(date +%s) - t0))); }
  if [[ "$gpu" == *H200* ]]; then
    # The checkpoint first, so that the per-kernel table, the last thing
    # issue 9 lacks, comes first.
    XLSTM_GPU_OUT=gpu-out-hf bash scripts/gpu-check.sh checkpoint
    echo "checkpoint written at $(($(date +%s) - t0)) s"
    XLSTM_GPU_OUT=gpu-out-hf OUT="$logs" bash scripts/ncu-decode.sh 2>&1 | tail -60
    echo "ncu-decode done at $(($(date +%s) - t0)) s"
  fi
  # The runtime tests and the golden suite on the default bundles (QUEUE_GOLDEN=0:
  # skip), then the gate-head variants.
  if [[ "${QUEUE_GOLDEN:-1}" == 1 ]]; then
    timeout "$(left)" env XLSTM_RUN_BENCH=0 bash scripts/gpu-check.sh run \
      >"$logs/queue-golden.txt" 2>&1 && echo "golden: all passed" ||
      echo "golden: rc $?"
    grep -E "^\[  (PASSED|FAILED) |^(Passed|Failed|Total)|^FAIL:|^Ran |^OK|^FAILED" \
      "$logs/queue-golden.txt" | tail -20 || true
    # The largest relative error of each tolerance class (3e-2: bf16).
    grep -oE "relative error [0-9.e+-]+ \(tolerance [0-9.e+-]+\)" \
      "$logs/queue-golden.txt" | awk '{t = $5; v = $3 + 0; if (v > m[t]) m[t] = v;
        n[t]++} END {for (t in m) print "  max relative error", m[t], "of", n[t],
        "with tolerance", t}' || true
    echo "golden done at $(($(date +%s) - t0)) s"
  fi
  if (($(left) > 120)); then
    timeout "$(left)" env TILES_NCU=1 TILES_NCU_REGEX='pair|gated|resident' \
      XLSTM_GPU_OUT=gpu-out-tiles bash scripts/gpu-check.sh tiles ||
      echo "tiles stopped (rc $?) at $(($(date +%s) - t0)) s"
  fi
  # The resident kernel's SASS (sm_90) for reading here, where there is no
  # cuobjdump: its PTX comes with gpu-out-tiles.
  cuda=/usr/local/cuda/bin
  if [ -f gpu-out-tiles/slstm_block_512.ptx ] && [ -x $cuda/cuobjdump ]; then
    $cuda/ptxas -arch=sm_90 gpu-out-tiles/slstm_block_512.ptx -o "$logs/slstm_block_512.cubin" &&
      $cuda/cuobjdump -sass "$logs/slstm_block_512.cubin" |
      awk '/Function : projection_mma_resident/{p = 1} p && /Function : / &&
        !/projection_mma_resident/{p = 0} p' >"$logs/resident.sass" &&
      rm "$logs/slstm_block_512.cubin" && wc -l "$logs/resident.sass" || true
  fi
  if [[ "$gpu" == *H200* ]] && (($(left) > 60)); then
    timeout "$(left)" env XLSTM_GPU_OUT=gpu-out-hf bash scripts/gpu-check.sh sweep || true
    echo "sweep done at $(($(date +%s) - t0)) s"
  fi
  echo "total $(($(date +%s) - t0)) s"
  ;;
*)
  echo "usage: $0 prepare|run" >&2
  exit 2
  ;;
esac
