#!/usr/bin/env bash
# The GPU proof, in two halves because the GPU machine has CUDA but neither
# MLIR nor LLVM:
#   scripts/gpu-check.sh prepare   (here) build the portable MLIR-free tools
#                                  and tests into gpu-out/, compile every
#                                  golden config into f32 and bf16 bundles,
#                                  copy the golden data beside them
#   scripts/gpu-check.sh prepare hf ['OPTS' ...]  (here) the same tools,
#                                  the Hugging Face model folders of
#                                  bench/configs and their bundles, the
#                                  GPT-NeoX tokenizer; a bf16 7B bundle per
#                                  xlstm-to-gpu option string OPTS (tf32=1,
#                                  what xlstmc --dtype bf16 sets, is added
#                                  where OPTS do not say tf32; "f32:OPTS":
#                                  a float32 7B bundle instead)
#   scripts/gpu-check.sh run-hf [7b] (on the GPU machine, after `prepare hf`)
#                                  transformers-made checkpoints against
#                                  transformers (scripts/hf-check.py; 7b: the
#                                  xLSTM-7B part only), then xlstm-generate
#                                  and the decode benchmarks on the 7B
#   scripts/gpu-check.sh sweep     (on the GPU machine, after `prepare hf`
#                                  with OPTS)
#                                  decode ms/step of each 7B bundle variant
#                                  (`checkpoint`: only write the random 7B
#                                  it decodes, e.g. for scripts/ncu-decode.sh)
#   scripts/gpu-check.sh prepare tiles ['OPTS' ...]  (here) the tools and
#                                  the forward bench models (7B block, 24
#                                  mLSTM blocks, sLSTM 768; TILES_MODELS: other
#                                  bench/configs or python-free-configs names,
#                                  e.g. mlstm_a2, readme_stack) compiled once per
#                                  xlstm-to-gpu option string (default: a set
#                                  of projection tile configurations; tf32=1
#                                  added where it does not say tf32)
#   scripts/gpu-check.sh tiles     (on the GPU machine, after `prepare
#                                  tiles`) forward ms of every variant, one
#                                  line each, and its slowest kernels
#                                  (TILES_NCU=1: also Nsight Compute's
#                                  per-kernel table of the sLSTM blocks,
#                                  TILES_NCU_MODELS / TILES_NCU_REGEX narrow
#                                  it); e.g.
#                                  split K for 17-128 rows (with TILES_SHORT_ROWS=1): prepare tiles
#                                  "tf32=1" "tf32=1 mma-split-k-blocks=132"
#   scripts/gpu-check.sh run       (on the GPU machine, with gpu-out/ carried)
#                                  runtime tests, then the e2e lit suite
#                                  (test/e2e, REQUIRES: cuda-gpu: every golden
#                                  case on --device=cuda against the GPU
#                                  tolerances), upstream's own bf16 error per
#                                  case (when `prepare` ran with
#                                  XLSTM_UPSTREAM_CLONE=a clone of NX-AI/xlstm),
#                                  then the benchmarks (XLSTM_RUN_BENCH=0:
#                                  none); logs in
#                                  gpu-logs.tar.gz in $OUT (or ./)
# With the device tool: run `prepare`, then
#   run(command="bash scripts/gpu-check.sh run", carry=["gpu-out"]).
# The golden suite and the 7B in one call: `prepare`, then
# XLSTM_GPU_OUT=gpu-out-hf XLSTM_GPU_SHARED_TOOLS=1 ... prepare hf, then
#   run(command="bash scripts/gpu-check.sh run; XLSTM_GPU_OUT=gpu-out-hf
#       bash scripts/gpu-check.sh run-hf 7b", carry=["gpu-out", "gpu-out-hf"])
# (logs: gpu-logs.tar.gz and gpu-logs-gpu-out-hf.tar.gz in $OUT).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# (XLSTM_GPU_OUT: another folder, so that several prepared sets can travel
# in one call, e.g. gpu-out-hf beside gpu-out.)
# `prepare` empties it, so it must be a folder of the repository (relative
# paths are taken from the repository's root).
out="${XLSTM_GPU_OUT:-gpu-out}"
case "$out" in
/*) ;;
*) out="$root/$out" ;;
esac
case "$out" in
*/../* | */..) echo "XLSTM_GPU_OUT=$out: no '..' please" >&2 && exit 2 ;;
"$root"/?*) ;;
*)
  echo "XLSTM_GPU_OUT=$out: expected a folder inside $root" >&2
  exit 2
  ;;
esac
lit=/usr/lib/llvm-22/bin/lit
# The GPU-side commands' log archive in $OUT (or ./): gpu-logs.tar.gz for
# gpu-out, gpu-logs-FOLDER.tar.gz for another folder, and
# gpu-logs-FOLDER-sweep.tar.gz for `sweep` (run-hf's logs on the same
# folder stay), so that several commands of one device call keep theirs.
archive="gpu-logs.tar.gz"
[ "$(basename "$out")" = gpu-out ] || archive="gpu-logs-$(basename "$out").tar.gz"
case "${1:-}" in
sweep | checkpoint) archive="${archive%.tar.gz}-$1.tar.gz" ;;
esac

# Golden cases (shared/golden); test/e2e has a test per case.
golden_cases=(stack_readme lm_readme_v1024 parity_xlstm11 parity_xlstm10
  parity_xlstm01 mlstm_variant slstm_variant large_mini)

# The bundles travel as one xz archive (PTX and cubins shrink ~5x): the
# golden set with xlstm-generate would pass the 64 MiB the device tool
# carries. The GPU-side commands unpack it first.
# An explicit xlstm-to-gpu{...} pipeline starts from the pass defaults, in
# which tf32 is off; xlstmc --dtype bf16 turns it on. A bf16 variant says
# tf32=1 unless its options choose.
# XLSTM_GPU_OPTIONS: xlstm-to-gpu options that `prepare` adds to every
# bundle it compiles (golden, reference and bench models), on top of what
# xlstmc sets for the dtype: the golden cases and benchmarks of a kernel
# option before it is the default, e.g.
#   XLSTM_GPU_OPTIONS="mma-fuse-epilogues=1" scripts/gpu-check.sh prepare
compile() { # xlstmc's arguments
  if [ -z "${XLSTM_GPU_OPTIONS:-}" ]; then
    "$xlstmc" "$@"
    return
  fi
  local args=() dtype=f32 pipeline="" extra="" previous=""
  for a in "$@"; do
    case "$a" in
    --pass-pipeline=*) pipeline="${a#--pass-pipeline=}" ;;
    --persistent-slstm=false) extra="persistent-slstm=0 " ;;
    *) args+=("$a") ;;
    esac
    [ "$previous" = --dtype ] && dtype="$a"
    previous="$a"
  done
  if [ -z "$pipeline" ]; then
    local tf32=0
    [ "$dtype" = bf16 ] && tf32=1
    pipeline="builtin.module(xlstm-to-gpu{tf32=$tf32})"
  fi
  pipeline="${pipeline/xlstm-to-gpu\{/xlstm-to-gpu\{$extra$XLSTM_GPU_OPTIONS }"
  "$xlstmc" "${args[@]}" "$(chip_for "$XLSTM_GPU_OPTIONS")" \
    --pass-pipeline="$pipeline"
}
# --chip for an option string: griddepcontrol (grid-dependency-wait) is
# sm_90 PTX.
chip_for() {
  case " $1 " in
  *" grid-dependency-wait=1 "* | *" grid-dependency-wait=true "*) echo "--chip=sm_90" ;;
  *) echo "--chip=sm_80" ;;
  esac
}
bf16_options() {
  case " $1 " in
  *" tf32="*) echo "$1" ;;
  *) echo "tf32=1${1:+ $1}" ;;
  esac
}
pack_bundles() {
  tar -C "$out" -cJf "$out/bundles.tar.xz" bundles && rm -rf "$out/bundles"
  # XLSTM_GPU_SHARED_TOOLS=1 (hf and tiles sets): no tools of its own (17
  # MB); the GPU-side commands copy gpu-out's, so both sets travel in one
  # call under the device tool's 64 MiB.
  if [ "${XLSTM_GPU_SHARED_TOOLS:-0}" = 1 ]; then
    rm -f "$out"/xlstm-* "$out/XLSTMRuntimeTests" "$out/libxlstm_runtime.so"
  fi
  du -sh "$out"
}
unpack_bundles() {
  if [ -f "$out/bundles.tar.xz" ]; then
    tar -C "$out" -xJf "$out/bundles.tar.xz" && rm -f "$out/bundles.tar.xz"
  fi
  # A folder prepared with XLSTM_GPU_SHARED_TOOLS=1 takes gpu-out's tools.
  if [ ! -x "$out/xlstm-run" ] && [ -x "$root/gpu-out/xlstm-run" ]; then
    cp "$root"/gpu-out/xlstm-* "$root/gpu-out/XLSTMRuntimeTests" \
      "$root/gpu-out/libxlstm_runtime.so" "$out/"
  fi
}

case "${1:-}" in
prepare)
  build="$root/build-gpu"
  if [ ! -f "$build/build.ninja" ]; then
    cmake -G Ninja -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
      -DXLSTM_ENABLE_COMPILER=OFF -DXLSTM_STATIC_LLVM_SUPPORT=ON \
      -DLLVM_DIR=/usr/lib/llvm-22/lib/cmake/llvm \
      -DLLVM_USE_LINKER=lld >/dev/null
  fi
  ninja -C "$build" xlstm-gpu-info xlstm-compare xlstm-run xlstm-bundle \
    xlstm-generate XLSTMRuntimeTests xlstm_runtime
  rm -rf "$out" && mkdir -p "$out/bundles" "$out/golden"
  cp "$build/bin/xlstm-gpu-info" "$build/bin/xlstm-compare" \
    "$build/bin/xlstm-run" "$build/bin/xlstm-bundle" \
    "$build/bin/xlstm-generate" \
    "$build/unittests/Runtime/XLSTMRuntimeTests" \
    "$(readlink -f "$build"/lib/libxlstm_runtime.so)" "$out/"
  mv "$out"/libxlstm_runtime.so* "$out/libxlstm_runtime.so"
  # The device tool carries at most 64 MiB with the working tree: strip the
  # tools, and carry the golden set or the Hugging Face set, not both.
  strip "$out"/xlstm-* "$out/XLSTMRuntimeTests" "$out/libxlstm_runtime.so"
  xlstmc="${XLSTM_BUILD_DIR:-$root/build}/bin/xlstmc"
  if [ "${2:-golden}" = hf ]; then
    cp "$root/../shared/tokenizers/gpt-neox-20b/tokenizer.json" "$out/"
    # Hugging Face model folders (config.json only: scripts/hf-check.py makes
    # the checkpoints with transformers on the GPU machine) and their bundles.
    mkdir -p "$out/hf"
    for name in hf-small hf-xlstm-7b; do
      cp -r "$root/bench/configs/$name" "$out/hf/"
    done
    cp "$root/scripts/hf-check.py" "$out/"
    # The 7B bundles carry sm_90 cubins (H100/H200; a fifth more bytes, 220
    # KB compressed): from PTX alone each of run-hf's 7B runs spent ~24 s of
    # CPU (the driver compiling them, weights on the device after 1.7 s),
    # which took `run-hf 7b` past one device call. The small model's stay
    # PTX, so the JIT path runs too.
    for dtype in f32 bf16; do
      "$xlstmc" "$root/bench/configs/hf-small" --dtype "$dtype" --cubins=none \
        --quiet -o "$out/bundles/hf_small.$dtype.xlstmb"
      "$xlstmc" "$root/bench/configs/hf-xlstm-7b" --dtype "$dtype" \
        --cubins=sm_90 --quiet -o "$out/bundles/hf_xlstm_7b.$dtype.xlstmb"
    done
    # bf16 with the chunkwise mLSTM on 3xTF32 instead of tf32: how much of
    # the bf16-vs-f32 error the cell's tf32 rounding is (hf-check reports).
    "$xlstmc" "$root/bench/configs/hf-xlstm-7b" --dtype bf16 --cubins=sm_90 \
      --quiet --pass-pipeline='builtin.module(xlstm-to-gpu{tf32=0})' \
      -o "$out/bundles/hf_xlstm_7b.bf16-3xtf32.xlstmb"
    # Variants for `sweep`: one bf16 bundle per xlstm-to-gpu option string
    # after `hf` (its options in a .txt beside it); "f32:OPTS" makes a
    # float32 one, which hf-check.py compares with transformers' float32
    # and float64 logits.
    shift 2
    for i in $(seq 1 $#); do
      dtype=bf16 opts="${!i}"
      case "$opts" in
      f32:*) dtype=f32 opts="${opts#f32:}" ;;
      *) opts="$(bf16_options "$opts")" ;;
      esac
      echo "$opts" >"$out/bundles/hf_xlstm_7b.$dtype-v$i.txt"
      "$xlstmc" "$root/bench/configs/hf-xlstm-7b" --dtype "$dtype" \
        --cubins=sm_90 --quiet "$(chip_for "$opts")" \
        --pass-pipeline="builtin.module(xlstm-to-gpu{$opts})" \
        -o "$out/bundles/hf_xlstm_7b.$dtype-v$i.xlstmb"
    done
    pack_bundles
    exit 0
  fi
  if [ "${2:-golden}" = tiles ]; then
    shift 2
    if [ $# -eq 0 ]; then
      set -- "mma-staged-tile=128x128x32/2x4 mma-stages=4" \
        "mma-staged-tile=128x128x32/2x4 mma-stages=4 mma-staged-group-m=8" \
        "mma-staged-tile=128x256x32/2x4 mma-stages=4 mma-staged-group-m=8" \
        "mma-staged-tile=128x256x64/2x4 mma-stages=3 mma-staged-group-m=8" \
        "mma-staged-tile=256x128x64/4x2 mma-stages=3 mma-staged-group-m=8" \
        "mma-staged-tile=128x128x64/2x2 mma-stages=4 mma-staged-group-m=8" \
        "mma-staged-tile=128x128x64/2x4 mma-stages=4 mma-staged-group-m=8" \
        "mma-staged-tile=128x256x32/2x4 mma-stages=4" \
        "mma-staged-tile=128x128x32/2x4 mma-stages=4 mma-split-k-blocks=132"
    fi
    variants=()
    for opts in "$@"; do
      variants+=("$(bf16_options "$opts")")
    done
    mkdir -p "$out/bundles/tiles"
    for i in "${!variants[@]}"; do
      echo "${variants[$i]}" >"$out/bundles/tiles/v$i.txt"
      for name in ${TILES_MODELS:-xlstm7b_block mlstm_stack_24 slstm_block_768}; do
        # (bench/configs, or the shipped configs: readme_stack.)
        config="$root/bench/configs/$name.yaml"
        [ -f "$config" ] || config="$root/python-free-configs/$name.yaml"
        "$xlstmc" "$config" --dtype bf16 --quiet \
          --cubins=sm_90 "$(chip_for "${variants[$i]}")" \
          --pass-pipeline="builtin.module(xlstm-to-gpu{${variants[$i]}})" \
          -o "$out/bundles/tiles/v$i-$name.xlstmb"
      done
    done
    pack_bundles
    exit 0
  fi
  # PTX that our own pipeline makes, for the runtime tests to run: the bf16
  # tensor-core tile of test/Target/NVVM/mma-bf16.mlir, and the small-batch
  # projection kernel of test/Conversion/contract-small-batch.mlir.
  opt="${XLSTM_BUILD_DIR:-$root/build}/bin/xlstm-opt"
  extract_ptx() { # entry-name output: the PTX image holding that kernel
    python3 -c '
import re, sys
text, name = sys.stdin.read(), sys.argv[1]
for m in re.finditer(r"assembly = \"((?:[^\"\\]|\\.)*)\"", text):
    asm = re.sub(r"\\([0-9A-Fa-f]{2})",
                 lambda m: chr(int(m.group(1), 16)), m.group(1))
    if ".entry " + name + "(" in asm:
        sys.stdout.write(asm)
        sys.exit(0)
sys.exit("no PTX image has the kernel " + name)
' "$1" >"$2"
  }
  if [ -x "$opt" ]; then
    "$opt" "$root/test/Target/NVVM/mma-bf16.mlir" \
      --xlstm-gpu-to-ptx="chip=sm_80" | extract_ptx mma_tile "$out/mma-bf16.ptx"
    # (16 warps without split K, 8 with: the runtime tests launch them so.)
    for variant in "16 0 small-batch" "8 512 small-batch-split"; do
      read -r warps split name <<<"$variant"
      "$opt" "$root/test/Conversion/contract-small-batch.mlir" \
        --xlstm-contract-to-mma="stages=0 gemv-min-n=0 small-batch-warps=$warps small-batch-unroll=4 small-batch-split-k-blocks=$split" |
        "$opt" --xlstm-gpu-to-ptx="chip=sm_80" |
        extract_ptx projection_small_batch_mma "$out/$name.ptx"
    done
    # The decoding kernels that store an elementwise op's result
    # (CudaDecodingEpilogues): the gated pair's, the soft-capped gate's.
    "$opt" "$root/test/Conversion/contract-decoding-epilogues.mlir" \
      --xlstm-contract-to-mma="gated-decoding=1 fuse-epilogues=1 skinny-float32=1 gemv-min-n=0 small-batch-warps=8 small-batch-unroll=4" |
      "$opt" --xlstm-gpu-to-ptx="chip=sm_80" >"$out/decoding-epilogues.mlir"
    for variant in "projection_gemv_gated gated-gemv" \
      "projection_small_batch_mma_gated gated-small-batch" \
      "projection_skinny_mma soft-cap-skinny" \
      "projection_skinny_gemv soft-cap-skinny-f32"; do
      read -r kernel name <<<"$variant"
      extract_ptx "$kernel" "$out/$name.ptx" <"$out/decoding-epilogues.mlir"
    done
    rm "$out/decoding-epilogues.mlir"
  else
    echo "note: no $opt; the MLIR-made kernel tests will skip" >&2
  fi
  # The GPT-NeoX tokenizer for the C API's tokenizer test.
  cp "$root/../shared/tokenizers/gpt-neox-20b/tokenizer.json" "$out/"
  # Every golden model as f32 and bf16 bundles, and the data to check them.
  xlstmc="${XLSTM_BUILD_DIR:-$root/build}/bin/xlstmc"
  golden="$root/../shared/golden"
  # f32 bundles carry sm_90 cubins (the H200 loads them), bf16 bundles only
  # PTX (the driver JIT-compiles it): both load paths run, and gpu-out/ stays
  # under the 64 MiB the device tool carries.
  for name in "${golden_cases[@]}"; do
    compile "$golden/$name.yaml" --dtype f32 --cubins=sm_90 \
      -o "$out/bundles/$name.f32.xlstmb"
    compile "$golden/$name.yaml" --dtype bf16 --cubins=none \
      -o "$out/bundles/$name.bf16.xlstmb"
    cp "$golden/$name.yaml" "$golden/$name.weights.safetensors" \
      "$golden/$name.io.safetensors" "$out/golden/"
  done
  # Upstream's xlstm package as it made the golden data (v2.0.5), for
  # scripts/upstream-bf16.py (upstream's own bf16 error per case), when
  # XLSTM_UPSTREAM_CLONE names a clone of NX-AI/xlstm.
  if [ -n "${XLSTM_UPSTREAM_CLONE:-}" ]; then
    mkdir -p "$out/upstream"
    git -C "$XLSTM_UPSTREAM_CLONE" archive v2.0.5 xlstm |
      tar -x -C "$out/upstream" --exclude=xlstm/xlstm_large
  fi
  # Random weights and inputs at a shape no golden case has (batch 3, 77
  # positions: a partial chunk, GEMM rows that are not a tile multiple):
  # the float64 reference device's outputs, for test/e2e/random_shapes.
  run="${XLSTM_BUILD_DIR:-$root/build}/bin/xlstm-run"
  for name in stack_readme lm_readme_v1024 large_mini slstm_variant; do
    "$run" "$out/bundles/$name.f32.xlstmb" --device=reference --batch 3 \
      --seqlen 77 --seed 7 --steps 5 \
      --output "$out/golden/$name.random.safetensors" >/dev/null
  done
  # Decoding shapes: batch 1 (the single-row matrix-vector kernels) with a
  # 12-token prompt (M = 12: the multi-row ones in the forward), for
  # test/e2e/decode_shapes.
  for name in lm_readme_v1024 large_mini stack_readme; do
    "$run" "$out/bundles/$name.f32.xlstmb" --device=reference --batch 1 \
      --seqlen 12 --seed 9 --steps 6 \
      --output "$out/golden/$name.decode.safetensors" >/dev/null
  done
  # Shape cases from bench/configs, checked against the float64 reference
  # device on random weights (seed 9): bundles in f32 and bf16, reference
  # outputs at the given batch.
  reference_case() { # config batch
    for dtype in f32 bf16; do
      compile "$root/bench/configs/$1.yaml" --dtype "$dtype" \
        --cubins=none --quiet -o "$out/bundles/$1.$dtype.xlstmb"
    done
    "$run" "$out/bundles/$1.f32.xlstmb" --device=reference \
      --batch "$2" --seqlen 12 --seed 9 --steps 6 \
      --output "$out/golden/$1.decode.safetensors" >/dev/null
  }
  # The 7B's head shapes (256 key rows, 512 value columns) at one small
  # block, batch 3 so that the steps take the small-batch tensor-core
  # projections and the row-split decode states kernel.
  reference_case large_decode_wide 3
  # The fused decode step's four-columns-a-lane kernel (chosen from 256
  # blocks up, as at batch 16 of the 7B), forced at batch 3 (the options
  # xlstmc gives each dtype, plus decode-step-wide-blocks).
  for spec in "f32:" "bf16:tf32=1 "; do
    compile "$root/bench/configs/large_decode_wide.yaml" \
      --dtype "${spec%%:*}" --cubins=none --quiet \
      --pass-pipeline="builtin.module(xlstm-to-gpu{${spec#*:}decode-step-wide-blocks=1})" \
      -o "$out/bundles/large_decode_wide.wide.${spec%%:*}.xlstmb"
  done
  # A sampler of 32 threads loading 3 tokens each (96 a sweep step): the
  # 1024-token vocabulary takes 11 steps, the last one partial (tokens
  # clamped), for test/e2e/sampling against the host sampler.
  compile "$golden/lm_readme_v1024.yaml" --dtype f32 --cubins=none --quiet \
    --pass-pipeline="builtin.module(xlstm-to-gpu{sampler-threads=32 sampler-tokens-in-flight=3})" \
    -o "$out/bundles/lm_readme_v1024.sweeps.f32.xlstmb"
  # sLSTM heads of 512 units (two gate pre-activations per thread).
  reference_case slstm_wide 2
  # sLSTM heads of 192 and 128 units (issue 10's sLSTM blocks): in bf16 the
  # tensor-core recurrence (2 rows a block, R's fragments partly in shared
  # memory at 192; 4 rows, a half-filled block at 128), in f32 the scalar
  # kernel reading R's last rows from its shared-memory copy.
  reference_case slstm_block_768 2
  reference_case slstm_block_512 2
  # Projections whose K (40, 80) is not a multiple of 16: zero-padded
  # copies of x and W.
  reference_case odd_width_40 3
  # sLSTM heads of 18 and 25 units (gate blocks no mma tile divides: the
  # headwise thread-per-outputs kernel).
  reference_case odd_width_72 3
  reference_case odd_width_100 3
  # mLSTM q/k/v blocks of 32x32: headwise tensor-core contractions, v's
  # blocks read in place from a slice of the up projection's output.
  reference_case qkv_blocks_32 3
  # The generic sLSTM lowering (a launch per step), which the persistent
  # kernel replaced by default, stays checked on one case.
  compile "$golden/slstm_variant.yaml" --dtype f32 --cubins=none \
    --persistent-slstm=false -o "$out/bundles/slstm_variant.generic.f32.xlstmb"
  # Benchmark models (docs/performance.md); the README stack is the golden
  # stack_readme model.
  compile "$root/bench/configs/xlstm7b_block.yaml" --dtype bf16 \
    --cubins=sm_90 -o "$out/bundles/bench_xlstm7b_block.bf16.xlstmb"
  # The same block with the cell's q/k/v in bf16 (the float32 default keeps
  # the 7B's logits further inside the bf16 bound): its chunk kernels on
  # bf16 tensor cores at the a1 shape, as TFLA runs it.
  compile "$root/bench/configs/xlstm7b_block.yaml" --dtype bf16 --quiet \
    --cubins=sm_90 -o "$out/bundles/bench_xlstm7b_block_bf16_cell.bf16.xlstmb" \
    --pass-pipeline='builtin.module(xlstm-to-gpu{tf32=1 large-cell-f32=0})'
  # Issue 10's workloads: one sLSTM block at width 768 and 512, 24 mLSTM
  # blocks of width 1024.
  for name in slstm_block_768 slstm_block_512 mlstm_stack_24 mlstm_a2; do
    compile "$root/bench/configs/$name.yaml" --dtype bf16 --quiet \
      --cubins=sm_90 -o "$out/bundles/bench_$name.bf16.xlstmb"
  done
  # lit (pure Python, from the LLVM install) and the e2e suite, so that the
  # GPU machine runs it without LLVM.
  mkdir -p "$out/lit"
  cp -r "$(dirname "$(readlink -f "$(command -v "$lit")")")/../utils/lit/lit" \
    "$out/lit/lit" 2>/dev/null || cp -r /usr/lib/llvm-22/utils/lit/lit "$out/lit/lit"
  find "$out/lit" -name __pycache__ -prune -exec rm -rf {} +
  printf 'import os, sys\nsys.path.insert(0, os.path.dirname(__file__))\nfrom lit.main import main\nmain()\n' \
    >"$out/lit/run-lit.py"
  cp -r "$root/test/e2e" "$out/e2e"
  pack_bundles
  ;;
run)
  # Logs and JSON go to one archive, gpu-logs.tar.gz in $OUT (or ./): the
  # device tool brings back only a few files per run.
  logs="$(mktemp -d)"
  trap 'tar -C "$logs" -czf "${OUT:-$root}/$archive" .' EXIT
  unpack_bundles
  cd "$out"
  status=0
  ./xlstm-gpu-info 2>&1 | tee "$logs/gpu-info.txt" || status=1
  if [ -f mma-bf16.ptx ]; then export XLSTM_MMA_PTX="$PWD/mma-bf16.ptx"; fi
  if [ -f gated-gemv.ptx ]; then
    export XLSTM_GATED_GEMV_PTX="$PWD/gated-gemv.ptx"
    export XLSTM_GATED_SMALL_BATCH_PTX="$PWD/gated-small-batch.ptx"
    export XLSTM_SOFT_CAP_SKINNY_PTX="$PWD/soft-cap-skinny.ptx"
    export XLSTM_SOFT_CAP_SKINNY_F32_PTX="$PWD/soft-cap-skinny-f32.ptx"
  fi
  if [ -f small-batch.ptx ]; then
    export XLSTM_SMALL_BATCH_PTX="$PWD/small-batch.ptx"
  fi
  if [ -f small-batch-split.ptx ]; then
    export XLSTM_SMALL_BATCH_SPLIT_PTX="$PWD/small-batch-split.ptx"
  fi
  # The C API test runs a golden model through a bundle.
  export XLSTM_TEST_BUNDLE="$PWD/bundles/parity_xlstm11.f32.xlstmb"
  export XLSTM_TEST_GOLDEN="$PWD/golden"
  export XLSTM_TEST_TOKENIZER="$PWD/tokenizer.json"
  ./XLSTMRuntimeTests --gtest_brief=1 2>&1 | tee "$logs/runtime-tests.txt" ||
    status=1
  # The Python bindings (python/) over the shared runtime on the GPU.
  XLSTM_RUNTIME_LIB="$PWD/libxlstm_runtime.so" XLSTM_SOURCE_DIR="$root" \
    XLSTM_TEST_BUNDLE="$PWD/bundles/lm_readme_v1024.f32.xlstmb" \
    python3 -m unittest discover -s "$root/python/tests" 2>&1 |
    tee "$logs/python-tests.txt"
  status=$((status | PIPESTATUS[0]))
  # The e2e lit suite: every golden case on the GPU in f32 and bf16, against
  # the GPU tolerances of shared/golden/README.md (f32 1e-4, greedy tokens
  # exact; bf16 3e-2). -a prints every comparison.
  XLSTM_E2E_ROOT="$PWD" python3 lit/run-lit.py -a e2e 2>&1 |
    tee "$logs/golden.txt"
  status=$((status | PIPESTATUS[0]))
  # Upstream's own bf16 error on the same cases (issue 10's accuracy bound:
  # 3e-2, or 1.1 x upstream's where that is larger), when `prepare` had
  # its package.
  if [ -d upstream/xlstm ]; then
    python3 "$root/scripts/upstream-bf16.py" upstream golden \
      "$logs/upstream-bf16.json" 2>&1 | tee "$logs/upstream-bf16.txt"
    status=$((status | PIPESTATUS[0]))
  fi
  # First timings (JSON per run; docs/performance.md records them): the README
  # stack at B 4, S 256 and one xLSTM-7B block at B 1, S 8192 (its chunkwise
  # mLSTM is the a1 shape of shared/docs/perf-anchors-h200.md).
  # Each: replayed as a CUDA graph (the default), launch by launch
  # (-eager), and launch by launch with per-kernel times (-profile).
  bench() { # bundle dtype name batch seqlen warmup iterations
    local flags=(--device=cuda --dtype "$2" --batch "$4" --seqlen "$5"
      --warmup "$6" --bench "$7")
    ./xlstm-run "$1" "${flags[@]}" \
      --bench-json "$logs/bench-$3-$2.json" >/dev/null || status=1
    ./xlstm-run "$1" "${flags[@]}" --cuda-graphs=false \
      --bench-json "$logs/bench-$3-$2-eager.json" >/dev/null || status=1
    ./xlstm-run "$1" "${flags[@]}" --profile \
      --bench-json "$logs/bench-$3-$2-profile.json" >/dev/null || status=1
  }
  # (XLSTM_RUN_BENCH=0: the checks only, for a short device call.)
  if [ "${XLSTM_RUN_BENCH:-1}" = 0 ]; then exit $status; fi
  for dtype in f32 bf16; do
    bench "bundles/stack_readme.$dtype.xlstmb" "$dtype" readme_stack 4 256 3 20
  done
  bench bundles/bench_xlstm7b_block.bf16.xlstmb bf16 xlstm7b_block 1 8192 1 3
  bench bundles/bench_xlstm7b_block_bf16_cell.bf16.xlstmb bf16 \
    xlstm7b_block_bf16_cell 1 8192 1 3
  bench bundles/bench_slstm_block_768.bf16.xlstmb bf16 slstm_block_768 16 1024 1 5
  bench bundles/bench_slstm_block_512.bf16.xlstmb bf16 slstm_block_512 16 1024 1 5
  bench bundles/bench_mlstm_stack_24.bf16.xlstmb bf16 mlstm_stack_24 8 2048 1 5
  bench bundles/bench_mlstm_a2.bf16.xlstmb bf16 mlstm_a2 8 2048 3 20
  # One line per benchmark: graph-replayed median and the profile's top
  # kernels.
  python3 "$root/scripts/bench-summary.py" "$logs" 2>&1 |
    tee "$logs/bench-summary.txt" || true
  exit $status
  ;;
checkpoint | sweep)
  # checkpoint: only unpack the set and write the random 7B checkpoint
  # (for scripts/ncu-decode.sh).
  # sweep: decode speed of bundle variants on the random bf16 xLSTM-7B:
  # every bundles/hf_xlstm_7b.bf16*.xlstmb of a `prepare hf` (add variants
  # with xlstmc --pass-pipeline='builtin.module(xlstm-to-gpu{...})'), batch
  # 1 and 16, one line each.
  logs="$(mktemp -d)"
  trap 'tar -C "$logs" -czf "${OUT:-$root}/$archive" .' EXIT
  unpack_bundles
  # (The checkpoint a `run-hf` of this machine wrote serves as it is.)
  if [ ! -f "$out/hf-work/xlstm-7b/config.json" ]; then
    python3 "$out/hf-check.py" "$out" "$logs" 7b-write >"$logs/write.txt" 2>&1
  fi
  [ "$1" = sweep ] || exit 0
  cd "$out"
  for bundle in bundles/hf_xlstm_7b.bf16*.xlstmb; do
    for b in 1 16; do
      name="$(basename "$bundle" .xlstmb)-b$b"
      spec="${bundle%.xlstmb}.txt"
      if [ "$b" = 1 ] && [ -f "$spec" ]; then echo "$name: $(cat "$spec")"; fi
      ./xlstm-run "$bundle" --device=cuda --dtype bf16 \
        --weights hf-work/xlstm-7b --batch "$b" --seqlen 64 --warmup 2 \
        --bench-decode 32 --bench-json "$logs/$name.json" >/dev/null
      python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print("%-40s %8.3f ms/step" % (sys.argv[2], d["decode_ms_per_step"]["median"]))' \
        "$logs/$name.json" "$name"
    done
  done
  ;;
tiles)
  # Forward time of each `prepare tiles` variant (CUDA graphs, median), and
  # the kernels that take the most time in a profiled run of the 7B block.
  logs="$(mktemp -d)"
  trap 'tar -C "$logs" -czf "${OUT:-$root}/$archive" .' EXIT
  unpack_bundles
  cd "$out"
  for spec in bundles/tiles/v*.txt; do
    v="$(basename "$spec" .txt)"
    echo "$v: $(cat "$spec")"
    # (TILES_SHORT_ROWS=1 adds S 17, 32, 64 and 128: projections of 17-128
    # rows, where mma-split-k-blocks splits K; off by default to keep a
    # variant's runs few: device time is scarce.)
    models=("xlstm7b_block 1 8192" "mlstm_stack_24 8 2048"
      "slstm_block_768 16 1024" "mlstm_a2 8 2048" "slstm_block_512 16 1024"
      "readme_stack 4 256")
    if [ "${TILES_SHORT_ROWS:-0}" = 1 ]; then
      models+=("xlstm7b_block 1 17" "xlstm7b_block 1 32" "xlstm7b_block 1 64"
        "xlstm7b_block 1 128")
    fi
    for model in "${models[@]}"; do
      set -- $model
      [ -f "bundles/tiles/$v-$1.xlstmb" ] || continue
      ./xlstm-run "bundles/tiles/$v-$1.xlstmb" --device=cuda --dtype bf16 \
        --batch "$2" --seqlen "$3" --seed 1 --warmup 2 --bench 5 \
        --bench-json "$logs/$v-$1-$3.json" >/dev/null || echo "  $1 failed"
      python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print("  %-24s %9.3f ms" % (sys.argv[2], d["forward_ms"]["median"]))' \
        "$logs/$v-$1-$3.json" "$1 B$2 S$3" || true
    done
    # The same outputs as the first variant (M = 2 x 300 leaves partial
    # tiles, M = 40 few enough tiles to split K; accumulation order
    # differs, so a bf16-level tolerance).
    for model in xlstm7b_block:logits mlstm_stack_24:y slstm_block_768:y \
      mlstm_a2:y slstm_block_512:y readme_stack:y; do
      key="${model#*:}" model="${model%:*}"
      [ -f "bundles/tiles/$v-$model.xlstmb" ] || continue
      for shape in "2 300" "1 40"; do
        set -- $shape
        ./xlstm-run "bundles/tiles/$v-$model.xlstmb" --device=cuda \
          --dtype bf16 --batch "$1" --seqlen "$2" --seed 1 \
          --output "$logs/$v-$model-$2.out" >/dev/null 2>&1 ||
          echo "  $model: run failed"
        if [ "$v" != v0 ]; then
          ./xlstm-compare "$logs/$v-$model-$2.out" "$logs/v0-$model-$2.out" \
            --keys "$key" --tolerance 2e-2 |
            sed "s/^/  $model B$1 S$2 vs v0: /" ||
            echo "  $model B$1 S$2: differs from v0"
        fi
      done
    done
    # Profiles under bench-summary.py's names (bench-V_MODEL-bf16-profile.json
    # beside the graphed run's bench-V_MODEL-bf16.json): per-kernel ms, GB/s
    # and TFLOP/s of each variant; the four slowest kernels printed here,
    # and those whose name matches TILES_KERNELS (a Python regex, say
    # "conv"), with their time a launch.
    for model in "xlstm7b_block 1 8192" "slstm_block_768 16 1024" \
      "slstm_block_512 16 1024" "mlstm_a2 8 2048"; do
      set -- $model
      [ -f "bundles/tiles/$v-$1.xlstmb" ] || continue
      cp "$logs/$v-$1-$3.json" "$logs/bench-${v}_$1-bf16.json" 2>/dev/null ||
        true
      ./xlstm-run "bundles/tiles/$v-$1.xlstmb" --device=cuda --dtype bf16 \
        --batch "$2" --seqlen "$3" --seed 1 --warmup 1 --bench 3 --profile \
        --bench-json "$logs/bench-${v}_$1-bf16-profile.json" >/dev/null ||
        true
      python3 -c 'import json, os, re, sys
kernels = json.load(open(sys.argv[1])).get("kernels", [])
for k in sorted(kernels, key=lambda k: -k["ms_per_run"])[:4]:
    print("    %8.3f ms %3d x %s" % (k["ms_per_run"], k["launches_per_run"],
                                    k["kernel"]))
pattern = os.environ.get("TILES_KERNELS")
for k in kernels if pattern else []:
    if re.search(pattern, k["kernel"]):
        print("    %8.1f us a launch, %6.0f GB/s  %s" % (
            1000 * k["ms_per_run"] / k["launches_per_run"],
            k.get("view_gb_per_s", 0), k["kernel"]))' \
        "$logs/bench-${v}_$1-bf16-profile.json" || true
    done
    # (TILES_NCU=1: Nsight Compute's own duration and DRAM bytes of every
    # kernel of the sLSTM blocks (TILES_NCU_MODELS, default both widths;
    # TILES_NCU_REGEX: only the kernels it matches), free of the profile's
    # event pairs, which weigh on their 20-90 us kernels; the ten longest
    # printed.)
    for model in ${TILES_NCU_MODELS:-slstm_block_768 slstm_block_512}; do
      [ "${TILES_NCU:-0}" = 1 ] && [ -f "bundles/tiles/$v-$model.xlstmb" ] ||
        continue
      OUT="$logs" XLSTM_RUN="$out/xlstm-run" bash "$root/scripts/ncu-forward.sh" \
        "bundles/tiles/$v-$model.xlstmb" 16 1024 "${TILES_NCU_REGEX:-.}" \
        >"$logs/ncu-$v-$model.txt" 2>&1 || true
      head -2 "$logs/ncu-$v-$model.txt"
      tail -n +3 "$logs/ncu-$v-$model.txt" | grep -v "all profiled" |
        sort -k2 -n -r | head -10
    done
  done
  python3 "$root/scripts/bench-summary.py" "$logs" >"$logs/bench-summary.txt" ||
    true
  ;;
run-hf)
  # Hugging Face checkpoints against transformers (scripts/hf-check.py):
  # a small model sharded and fused, a random bf16 xLSTM-7B as published.
  logs="$(mktemp -d)"
  trap 'tar -C "$logs" -czf "${OUT:-$root}/$archive" .' EXIT
  unpack_bundles
  set +e
  python3 "$out/hf-check.py" "$out" "$logs" "${2:-all}" 2>&1 | tee "$logs/hf-check.txt"
  status=${PIPESTATUS[0]}
  set -e
  # Decoding the random xLSTM-7B it wrote: batch 1 and 16, 64-token
  # prompts, greedy, states on the device; then one profiled run (launch by
  # launch, per-kernel times).
  cd "$out"
  ckpt=hf-work/xlstm-7b
  for b in 1 16; do
    ./xlstm-run bundles/hf_xlstm_7b.bf16.xlstmb --device=cuda --dtype bf16 \
      --weights "$ckpt" --batch "$b" --seqlen 64 --warmup 2 \
      --bench-decode 64 --bench-json "$logs/decode-7b-bf16-b$b.json" ||
      status=1
  done
  # The same with the tokens chosen on the host (logits copied back every
  # step), for comparison with the GPU sampler above.
  for b in 1 16; do
    ./xlstm-run bundles/hf_xlstm_7b.bf16.xlstmb --device=cuda --dtype bf16 \
      --weights "$ckpt" --batch "$b" --seqlen 64 --warmup 2 --host-sampling \
      --bench-decode 64 --bench-json "$logs/decode-7b-bf16-b$b-host.json" ||
      status=1
  done
  # Prefill of a 2048-token prompt at batch 1.
  ./xlstm-run bundles/hf_xlstm_7b.bf16.xlstmb --device=cuda --dtype bf16 \
    --weights "$ckpt" --batch 1 --seqlen 2048 --warmup 2 --bench-decode 64 \
    --bench-json "$logs/decode-7b-bf16-b1-s2048.json" || status=1
  # Text in, text out (random weights: noise, but every stage runs).
  ./xlstm-generate bundles/hf_xlstm_7b.bf16.xlstmb --dtype bf16 \
    --weights "$ckpt" --tokenizer tokenizer.json \
    --prompt "The capital of France is" --max-new-tokens 64 \
    --temperature 0.8 --top-k 50 --seed 1 >"$logs/generate-7b.txt" \
    2>&1 || status=1
  for b in 1 16; do
    ./xlstm-run bundles/hf_xlstm_7b.bf16.xlstmb --device=cuda --dtype bf16 \
      --weights "$ckpt" --batch "$b" --seqlen 64 --warmup 2 --bench-decode 4 \
      --profile --bench-json "$logs/decode-7b-bf16-b$b-profile.json" \
      >/dev/null || status=1
  done
  exit $status
  ;;
*)
  echo "usage: $0 prepare|run|run-hf|sweep|checkpoint|tiles" >&2
  exit 2
  ;;
esac
