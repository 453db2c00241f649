#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer into build-fuzz/, then runs each for SECONDS
# (default 30) on a corpus seeded from the repository's inputs (configs,
# golden safetensors, a compiled bundle and its host programs when
# build/bin/xlstmc exists, the tokenizer's golden texts and small
# tokenizer.json files written here). Crashes are written to
# build-fuzz/crashes/.
#   scripts/fuzz.sh [SECONDS]          all targets
#   scripts/fuzz.sh SECONDS TARGET...  some (config, safetensors, bundle,
#                                      host-program, tokenizer)
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
((${#targets[@]})) || targets=(config safetensors checkpoint bundle host-program tokenizer)

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
# Hugging Face config.json files (the same reader).
for hf in "$root"/bench/configs/hf-*/config.json; do
  mkdir -p "$corpus/config"
  cp "$hf" "$corpus/config/$(basename "$(dirname "$hf")").json"
done
# Sharded checkpoint indexes over the target's two shards a and b.
mkdir -p "$corpus/checkpoint"
printf '{"metadata": {"total_size": 16}, "weight_map": {"a": "a.safetensors", "b": "b.safetensors"}}' \
  >"$corpus/checkpoint/index.json"
printf '{"weight_map": {"a": "a.safetensors", "b": "../b.safetensors"}}' \
  >"$corpus/checkpoint/traversal.json"
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

# Tokenizer: texts for the GPT-NeoX tokenizer (the golden lines, one file
# each), and small tokenizer.json files (inputs starting with '{').
mkdir -p "$corpus/tokenizer"
cp "$root/test/xlstm-tokenize/Inputs/sample.txt" "$corpus/tokenizer/"
python3 -c '
import json, sys
for n, line in enumerate(open(sys.argv[1], encoding="utf-8")):
    text = json.loads(line)["text"]
    if text:
        open("%s/golden-%02d.txt" % (sys.argv[2], n), "w", encoding="utf-8",
             newline="").write(text)
' "$root/../shared/tokenizers/gpt-neox-20b/encode-golden.jsonl" \
  "$corpus/tokenizer" 2>/dev/null || true
cat >"$corpus/tokenizer/small.json" <<'JSON'
{"version":"1.0","truncation":null,"padding":null,
"added_tokens":[{"id":9,"content":"<s>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
{"id":10,"content":"  ","single_word":false,"lstrip":false,"rstrip":false,"normalized":true,"special":false}],
"normalizer":{"type":"NFC"},
"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true},
"post_processor":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true},
"decoder":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true},
"model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,"end_of_word_suffix":null,"fuse_unk":false,
"vocab":{"a":0,"b":1,"c":2,"\u0120":3,"ab":4,"abc":5,"\u0120a":6,"bc":7,"\u00c3":8},
"merges":["a b","ab c","\u0120 a","b c"]}}
JSON
cat >"$corpus/tokenizer/pairs.json" <<'JSON'
{"version":"1.0","added_tokens":[],"normalizer":null,
"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":true,"use_regex":false},
"post_processor":null,"decoder":{"type":"ByteLevel"},
"model":{"type":"BPE","unk_token":"<unk>","fuse_unk":true,"ignore_merges":true,
"vocab":{"<unk>":0,"x":1,"y":2,"xy":3,"xyx":4,"\u0120":5},
"merges":[["x","y"],["xy","x"]]}}
JSON

status=0
for t in "${targets[@]}"; do
  max_len=65536
  [ "$t" = bundle ] && max_len=4194304
  if ((ci)); then
    case "$t" in
    config | safetensors | checkpoint | tokenizer) budget=(-runs=40000 -seed=1) ;;
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
