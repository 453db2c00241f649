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
#                                  table (scripts/ncu-decode.sh) and decode
#                                  sweep first; then, on any card, the
#                                  variants' Nsight and forward A/B
#                                  (gpu-check.sh tiles) in the time left
# QUEUE_BUDGET: seconds the run may take (default 560: one device call).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# The gate-head variants (issue 10): v0 the default; v1-v4 each block holding
# its head's W of both projections of a pair (resident-weight-joint); v5 a
# block per projection (resident-weights alone); v6 64-wide short-K tiles
# kept to the gate heads; v7 joint with 64-row slices, two blocks an SM
# (width 512: 96 KiB, 124 registers).
joint="mma-resident-weights=1 mma-resident-weight-joint=1 mma-resident-weight-blocks=132"
variants=(
  "tf32=1"
  "tf32=1 $joint mma-resident-weight-rows=128 mma-resident-weight-stages=2 mma-resident-weight-warps=8"
  "tf32=1 $joint mma-resident-weight-rows=64 mma-resident-weight-stages=3 mma-resident-weight-warps=8 mma-shared-bytes=232448"
  "tf32=1 $joint mma-resident-weight-rows=128 mma-resident-weight-stages=2 mma-resident-weight-warps=16"
  "tf32=1 $joint mma-resident-weight-rows=128 mma-resident-weight-stages=3 mma-resident-weight-warps=8"
  "tf32=1 mma-resident-weights=1 mma-resident-weight-stages=2 mma-resident-weight-rows=128 mma-resident-weight-blocks=264 mma-resident-weight-warps=8"
  "tf32=1 mma-staged-tile-short-k=128x128x64/2x2/3 mma-short-k-max-steps=4"
  "tf32=1 mma-resident-weights=1 mma-resident-weight-joint=1 mma-resident-weight-blocks=264 mma-resident-weight-rows=64 mma-resident-weight-stages=2 mma-resident-weight-warps=8"
)

case "${1:-}" in
prepare)
  bash scripts/gpu-check.sh prepare
  XLSTM_GPU_OUT=gpu-out-hf XLSTM_GPU_SHARED_TOOLS=1 \
    bash scripts/gpu-check.sh prepare hf "" "grid-dependency-wait=1"
  TILES_MODELS="slstm_block_512 slstm_block_768" XLSTM_GPU_OUT=gpu-out-tiles \
    XLSTM_GPU_SHARED_TOOLS=1 bash scripts/gpu-check.sh prepare tiles "${variants[@]}"
  du -sh gpu-out gpu-out-hf gpu-out-tiles
  ;;
run)
  gpu="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
  echo "gpu: $gpu"
  t0=$(date +%s)
  logs="${OUT:-$root}"
  if [[ "$gpu" == *H200* ]]; then
    # The checkpoint first, so that the per-kernel table, the last thing
    # issue 9 lacks, comes before the sweep.
    XLSTM_GPU_OUT=gpu-out-hf bash scripts/gpu-check.sh checkpoint
    echo "checkpoint written at $(($(date +%s) - t0)) s"
    XLSTM_GPU_OUT=gpu-out-hf OUT="$logs" bash scripts/ncu-decode.sh 2>&1 | tail -60
    echo "ncu-decode done at $(($(date +%s) - t0)) s"
    timeout 150 env XLSTM_GPU_OUT=gpu-out-hf bash scripts/gpu-check.sh sweep || true
    echo "sweep done at $(($(date +%s) - t0)) s"
  fi
  left=$((${QUEUE_BUDGET:-560} - ($(date +%s) - t0)))
  if ((left > 120)); then
    timeout "$left" env TILES_NCU=1 TILES_NCU_REGEX='pair|gated|resident' \
      XLSTM_GPU_OUT=gpu-out-tiles bash scripts/gpu-check.sh tiles ||
      echo "tiles stopped (rc $?) at $(($(date +%s) - t0)) s"
  fi
  echo "total $(($(date +%s) - t0)) s"
  ;;
*)
  echo "usage: $0 prepare|run" >&2
  exit 2
  ;;
esac
