#!/usr/bin/env bash
# The GPU proof, in two halves because the GPU machine has CUDA but neither
# MLIR nor LLVM:
#   scripts/gpu-check.sh prepare   (here) build the portable MLIR-free tools
#                                  and tests into gpu-out/, compile every
#                                  golden config into f32 and bf16 bundles,
#                                  copy the golden data beside them
#   scripts/gpu-check.sh run       (on the GPU machine, with gpu-out/ carried)
#                                  runtime tests, then every golden case on
#                                  --device=cuda against the GPU tolerances;
#                                  logs to $OUT (or ./gpu-logs)
# With the device tool: run `prepare`, then
#   run(command="bash scripts/gpu-check.sh run", carry=["gpu-out"]).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/gpu-out"

# Golden cases (shared/golden) and how each runs: xlstm-run flags (commas
# for spaces) and the keys compared, as in test/golden/*.test.
golden_cases=(stack_readme lm_readme_v1024 parity_xlstm11 parity_xlstm10
  parity_xlstm01 mlstm_variant slstm_variant large_mini)
declare -A golden_runs=(
  [stack_readme]="--steps,16 y,step_y"
  [lm_readme_v1024]="--steps,48 logits,step_logits"
  [parity_xlstm11]="--steps,40 logits,step_logits"
  [parity_xlstm10]="--steps,0 logits"
  [parity_xlstm01]="--steps,0 logits"
  [mlstm_variant]="--steps,33 y,step_y"
  [slstm_variant]="--steps,50 y,step_y"
  [large_mini]="--generate,8 logits,generated_tokens,generated_logits,state.0.C,state.0.n,state.0.m,state.1.C,state.1.n,state.1.m"
)

# Runs every golden case on --device=cuda in f32 and bf16 and compares.
run_golden() {
  local logs="$1" st=0 name dtype flags keys tolerance start
  for name in "${golden_cases[@]}"; do
    for dtype in f32 bf16; do
      read -r flags keys <<<"${golden_runs[$name]}"
      tolerance=1e-4
      if [ "$dtype" = bf16 ]; then
        tolerance=3e-2
        # Greedy continuations may pick other tokens in bf16; the prefill
        # outputs are what bf16 is held to.
        keys="${keys%%,generated_tokens*}"
      fi
      echo "== $name $dtype"
      start=$(date +%s%N)
      # shellcheck disable=SC2086
      if ./xlstm-run "bundles/$name.$dtype.xlstmb" --device=cuda \
          --dtype "$dtype" ${flags//,/ } \
          --weights "golden/$name.weights.safetensors" \
          --inputs "golden/$name.io.safetensors" \
          --output "$logs/$name.$dtype.safetensors"; then
        echo "   ran in $(( ($(date +%s%N) - start) / 1000000 )) ms"
        ./xlstm-compare "$logs/$name.$dtype.safetensors" \
          "golden/$name.io.safetensors" --keys "$keys" \
          --tolerance "$tolerance" || st=1
      else
        st=1
      fi
    done
  done
  return $st
}

case "${1:-}" in
prepare)
  build="$root/build-gpu"
  if [ ! -f "$build/build.ninja" ]; then
    cmake -G Ninja -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
      -DXLSTM_ENABLE_COMPILER=OFF -DXLSTM_STATIC_LLVM_SUPPORT=ON \
      -DLLVM_USE_LINKER=lld >/dev/null
  fi
  ninja -C "$build" xlstm-gpu-info xlstm-compare xlstm-run xlstm-bundle \
    XLSTMRuntimeTests
  rm -rf "$out" && mkdir -p "$out/bundles" "$out/golden"
  cp "$build/bin/xlstm-gpu-info" "$build/bin/xlstm-compare" \
    "$build/bin/xlstm-run" "$build/bin/xlstm-bundle" \
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
  # Every golden model as f32 and bf16 bundles, and the data to check them.
  xlstmc="${XLSTM_BUILD_DIR:-$root/build}/bin/xlstmc"
  golden="$root/../shared/golden"
  # f32 bundles carry sm_90 cubins (the H200 loads them), bf16 bundles only
  # PTX (the driver JIT-compiles it): both load paths run, and gpu-out/ stays
  # under the 64 MiB the device tool carries.
  for name in "${golden_cases[@]}"; do
    "$xlstmc" "$golden/$name.yaml" --dtype f32 --cubins=sm_90 \
      -o "$out/bundles/$name.f32.xlstmb"
    "$xlstmc" "$golden/$name.yaml" --dtype bf16 --cubins=none \
      -o "$out/bundles/$name.bf16.xlstmb"
    cp "$golden/$name.weights.safetensors" "$golden/$name.io.safetensors" \
      "$out/golden/"
  done
  # Benchmark models (docs/performance.md); the README stack is the golden
  # stack_readme model.
  "$xlstmc" "$root/bench/configs/xlstm7b_block.yaml" --dtype bf16 \
    --cubins=sm_90 -o "$out/bundles/bench_xlstm7b_block.bf16.xlstmb"
  du -sh "$out"
  ;;
run)
  logs="${OUT:-$root/gpu-logs}"
  mkdir -p "$logs"
  cd "$out"
  status=0
  ./xlstm-gpu-info 2>&1 | tee "$logs/gpu-info.txt" || status=1
  if [ -f mma-bf16.ptx ]; then export XLSTM_MMA_PTX="$PWD/mma-bf16.ptx"; fi
  # The C API test runs a golden model through a bundle.
  export XLSTM_TEST_BUNDLE="$PWD/bundles/parity_xlstm11.f32.xlstmb"
  export XLSTM_TEST_GOLDEN="$PWD/golden"
  ./XLSTMRuntimeTests --gtest_brief=1 2>&1 | tee "$logs/runtime-tests.txt" ||
    status=1
  # Every golden case on the GPU, against the GPU tolerances of
  # shared/golden/README.md: f32 1e-4 (greedy tokens exact), bf16 3e-2.
  run_golden "$logs" 2>&1 | tee "$logs/golden.txt"
  status=$((status | PIPESTATUS[0]))
  # First timings (JSON per run; docs/performance.md records them): the README
  # stack at B 4, S 256 and one xLSTM-7B block at B 1, S 8192 (its chunkwise
  # mLSTM is the a1 shape of shared/docs/perf-anchors-h200.md).
  for dtype in f32 bf16; do
    ./xlstm-run "bundles/stack_readme.$dtype.xlstmb" --device=cuda \
      --dtype "$dtype" --batch 4 --seqlen 256 --bench 20 --profile \
      --bench-json "$logs/bench-readme_stack-$dtype.json" >/dev/null ||
      status=1
  done
  ./xlstm-run bundles/bench_xlstm7b_block.bf16.xlstmb --device=cuda \
    --dtype bf16 --batch 1 --seqlen 8192 --warmup 1 --bench 3 --profile \
    --bench-json "$logs/bench-xlstm7b_block-bf16.json" >/dev/null || status=1
  exit $status
  ;;
*)
  echo "usage: $0 prepare|run" >&2
  exit 2
  ;;
esac
