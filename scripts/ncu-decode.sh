#!/usr/bin/env bash
# Per-kernel bandwidth of the decode projections of the random xLSTM-7B
# (on the GPU machine, after `scripts/gpu-check.sh run-hf 7b` or `sweep`
# wrote the checkpoint): Nsight Compute's kernel durations and DRAM bytes
# (clocks unlocked, as the benchmarks run) for the matrix-vector and
# small-batch kernels of the first decode steps, batch 1 and 16, and
# their share of the 4.17 TB/s the H200 copies at.
#   scripts/ncu-decode.sh [BUNDLE]   (default: the bf16 bundle of prepare hf)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/gpu-out"
bundle="${1:-bundles/hf_xlstm_7b.bf16.xlstmb}"
logs="${OUT:-$out}"
cd "$out"
for b in 1 16; do
  /usr/local/cuda/bin/ncu --clock-control none \
    --kernel-name regex:'projection_(gemv|small_batch)' --launch-count 14 \
    --metrics gpu__time_duration.sum,dram__bytes_read.sum \
    --csv --page raw ./xlstm-run "$bundle" --device=cuda --dtype bf16 \
    --weights hf-work/xlstm-7b --batch "$b" --seqlen 64 --warmup 0 \
    --bench-decode 2 --cuda-graphs=false >"$logs/ncu-decode-b$b.csv" 2>&1
  python3 - "$logs/ncu-decode-b$b.csv" "$b" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
head = next(i for i, r in enumerate(rows) if r and r[0] == "ID")
names, units = rows[head], rows[head + 1]
k, t, d = (names.index(n) for n in
           ("Kernel Name", "gpu__time_duration.sum", "dram__bytes_read.sum"))
scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "byte": 1, "Kbyte": 1e3,
         "Mbyte": 1e6, "Gbyte": 1e9}
print("batch %s" % sys.argv[2])
for r in rows[head + 2:]:
    if len(r) <= max(k, t, d):
        continue
    s = float(r[t].replace(",", "")) * scale[units[t]]
    by = float(r[d].replace(",", "")) * scale[units[d]]
    print("  %-42s %7.1f us %7.1f MB %5.2f TB/s %4.0f %%" %
          (r[k][:42], s * 1e6, by / 1e6, by / s / 1e12, by / s / 4.17e12 * 100))
PY
done
