#!/usr/bin/env bash
# The GPU proof, in two halves because the GPU machine has CUDA but neither
# MLIR nor LLVM:
#   scripts/gpu-check.sh prepare   (here) build the portable MLIR-free tools
#                                  and tests into gpu-out/
#   scripts/gpu-check.sh run       (on the GPU machine, with gpu-out/ carried)
#                                  run them and write logs to $OUT (or ./gpu-logs)
# With the device tool: run `prepare`, then
#   run(command="bash scripts/gpu-check.sh run", carry=["gpu-out"]).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/gpu-out"

case "${1:-}" in
prepare)
  build="$root/build-gpu"
  if [ ! -f "$build/build.ninja" ]; then
    cmake -G Ninja -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
      -DXLSTM_ENABLE_COMPILER=OFF -DXLSTM_STATIC_LLVM_SUPPORT=ON \
      -DLLVM_USE_LINKER=lld >/dev/null
  fi
  ninja -C "$build" xlstm-gpu-info xlstm-compare XLSTMRuntimeTests
  rm -rf "$out" && mkdir -p "$out"
  cp "$build/bin/xlstm-gpu-info" "$build/bin/xlstm-compare" \
    "$build/unittests/Runtime/XLSTMRuntimeTests" "$out/"
  du -sh "$out"
  ;;
run)
  logs="${OUT:-$root/gpu-logs}"
  mkdir -p "$logs"
  cd "$out"
  status=0
  ./xlstm-gpu-info 2>&1 | tee "$logs/gpu-info.txt" || status=1
  ./XLSTMRuntimeTests --gtest_brief=1 2>&1 | tee "$logs/runtime-tests.txt" ||
    status=1
  exit $status
  ;;
*)
  echo "usage: $0 prepare|run" >&2
  exit 2
  ;;
esac
