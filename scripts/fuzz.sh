#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer into build-fuzz/, then runs each for SECONDS
# (default 30) on a corpus seeded from the repository's inputs (configs,
# golden safetensors, a compiled bundle and its host programs when
# build/bin/xlstmc exists). Crashes are written to build-fuzz/crashes/.
#   scripts/fuzz.sh [SECONDS]          all targets
#   scripts/fuzz.sh SECONDS TARGET...  some (config, safetensors, bundle,
#                                      host-program)
#   scripts/fuzz.sh --ci               what .ci/run does: a fresh corpus,
#                                      a fixed seed and a fixed number of
#                                      runs per target (reproducible, ~3 min)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-fuzz"
ci=0
if [ "${1:-}" = --ci ]; then
  ci=1
  shift
  set -- 0 "$@"
fi
seconds="${1:-30}"
shift || true
targets=("$@")
((${#targets[@]})) || targets=(config safetensors bundle host-program)

if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: clang++ is needed (apt-get install clang)" >&2
  exit 1
fi
if [ ! -f "$build/build.ninja" ]; then
  cmake -G Ninja -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DXLSTM_ENABLE_COMPILER=OFF -DXLSTM_BUILD_TESTS=OFF \
    -DXLSTM_BUILD_FUZZERS=ON -DLLVM_USE_LINKER=lld \
    "-DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-sanitize=vptr" \
    "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined" >/dev/null
fi
ninja -C "$build" $(printf 'fuzz-%s ' "${targets[@]}")

# Seed corpora (libFuzzer adds what it finds to the first directory).
corpus="$build/corpus"
if ((ci)); then rm -rf "$corpus"; fi
mkdir -p "$corpus" "$build/crashes"
seed() { mkdir -p "$corpus/$1"; cp "${@:2}" "$corpus/$1/" 2>/dev/null || true; }
seed config "$root"/python-free-configs/*.yaml "$root"/test/xlstmc/Inputs/*.yaml \
  "$root"/test/xlstmc/Inputs/bad/*.yaml
golden="$root/../shared/golden"
for f in "$golden"/*.safetensors; do
  # Small files only: libFuzzer mutates whole inputs.
  [ -f "$f" ] && [ "$(stat -c %s "$f")" -lt 1000000 ] && seed safetensors "$f"
done
mkdir -p "$corpus/safetensors" "$corpus/bundle" "$corpus/host-program"
xlstmc="${XLSTM_BUILD_DIR:-$root/build}/bin/xlstmc"
if [ -x "$xlstmc" ]; then
  "$xlstmc" "$root/python-free-configs/parity_xlstm11.yaml" --cubins=none \
    --quiet -o "$corpus/bundle/parity_xlstm11.xlstmb"
  bundle="${XLSTM_BUILD_DIR:-$root/build}/bin/xlstm-bundle"
  "$bundle" "$corpus/bundle/parity_xlstm11.xlstmb" --manifest | python3 -c '
import json, sys
for name, program in json.load(sys.stdin).get("programs", {}).items():
    open(sys.argv[1] + "/" + name + ".json", "w").write(json.dumps(program))
' "$corpus/host-program"
fi

status=0
for t in "${targets[@]}"; do
  max_len=65536
  [ "$t" = bundle ] && max_len=4194304
  if ((ci)); then
    case "$t" in
    config | safetensors) budget=(-runs=40000 -seed=1) ;;
    *) budget=(-runs=8000 -seed=1) ;;
    esac
  else
    budget=(-max_total_time="$seconds")
  fi
  echo "== fuzz-$t ${budget[*]}"
  if ! "$build/bin/fuzz-$t" "$corpus/$t" "${budget[@]}" \
      -max_len="$max_len" -rss_limit_mb=4096 -timeout=20 \
      -artifact_prefix="$build/crashes/$t-" -print_final_stats=1 \
      2>"$build/fuzz-$t.log"; then
    echo "fuzz-$t: FAILED (log: $build/fuzz-$t.log)"
    tail -30 "$build/fuzz-$t.log"
    status=1
  else
    { grep -E "stat::number_of_executed_units|cov:" "$build/fuzz-$t.log" ||
      true; } | tail -2
  fi
done
exit $status
