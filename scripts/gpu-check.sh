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
  # PTX that our own pipeline makes, for the runtime tests to run: the bf16
  # tensor-core tile of test/Target/NVVM/mma-bf16.mlir.
  opt="${XLSTM_BUILD_DIR:-$root/build}/bin/xlstm-opt"
  if [ -x "$opt" ]; then
    "$opt" "$root/test/Target/NVVM/mma-bf16.mlir" \
      --xlstm-gpu-to-ptx="chip=sm_80" | python3 -c '
import re, sys
text = sys.stdin.read()
asm = re.search(r"assembly = \"((?:[^\"\\]|\\.)*)\"", text).group(1)
sys.stdout.write(re.sub(r"\\([0-9A-Fa-f]{2})",
                        lambda m: chr(int(m.group(1), 16)), asm))
' >"$out/mma-bf16.ptx"
  else
    echo "note: no $opt; the MLIR-made kernel tests will skip" >&2
  fi
  du -sh "$out"
  ;;
run)
  logs="${OUT:-$root/gpu-logs}"
  mkdir -p "$logs"
  cd "$out"
  status=0
  ./xlstm-gpu-info 2>&1 | tee "$logs/gpu-info.txt" || status=1
  if [ -f mma-bf16.ptx ]; then export XLSTM_MMA_PTX="$PWD/mma-bf16.ptx"; fi
  ./XLSTMRuntimeTests --gtest_brief=1 2>&1 | tee "$logs/runtime-tests.txt" ||
    status=1
  exit $status
  ;;
*)
  echo "usage: $0 prepare|run" >&2
  exit 2
  ;;
esac
