#!/usr/bin/env bash
# Per-kernel bandwidth of the decode projections and the fused mLSTM step
# kernel of the random xLSTM-7B
# (on the GPU machine, after `scripts/gpu-check.sh run-hf 7b` or `sweep`
# wrote the checkpoint): Nsight Compute's kernel durations and DRAM bytes
# (clocks unlocked, as the benchmarks run) for the matrix-vector and
# small-batch kernels of the first decode steps, batch 1 and 16, and
# their share of the 4.17 TB/s the H200 copies at.
#   scripts/ncu-decode.sh [BUNDLE]   (default: the bf16 bundle of prepare hf)
# NCU_BATCHES="1 16" and NCU_WHAT="projections step" narrow it down;
# XLSTM_GPU_OUT names another prepared folder (e.g. gpu-out-hf).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${XLSTM_GPU_OUT:-$root/gpu-out}"
bundle="${1:-bundles/hf_xlstm_7b.bf16.xlstmb}"
logs="${OUT:-$out}"
cd "$out"
# The projections by name; the step program's own kernels (the fused mLSTM
# decode step: 512 threads a block) by block size.
for b in ${NCU_BATCHES:-1 16}; do
  for what in ${NCU_WHAT:-projections step}; do
    if [ "$what" = projections ]; then
      filter=(--kernel-name regex:'projection_(gemv|small_batch)' --launch-count 14)
    else
      filter=(--kernel-name regex:'^step_kernel' --launch-count 120)
    fi
    csv="$logs/ncu-decode-$(basename "$bundle" .xlstmb)-$what-b$b.csv"
    /usr/local/cuda/bin/ncu --clock-control none "${filter[@]}" \
      --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum,launch__block_size \
      --csv --page raw ./xlstm-run "$bundle" --device=cuda --dtype bf16 \
      --weights hf-work/xlstm-7b --batch "$b" --seqlen 64 --warmup 0 \
      --bench-decode 2 --cuda-graphs=false >"$csv" 2>&1
    python3 - "$csv" "$b" "$what" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
head = next(i for i, r in enumerate(rows) if r and r[0] == "ID")
names, units = rows[head], rows[head + 1]
k, t, d, w, bs = (names.index(n) for n in
                  ("Kernel Name", "gpu__time_duration.sum",
                   "dram__bytes_read.sum", "dram__bytes_write.sum",
                   "launch__block_size"))
scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "byte": 1, "Kbyte": 1e3,
         "Mbyte": 1e6, "Gbyte": 1e9}
print("batch %s, %s (DRAM read + written)" % (sys.argv[2], sys.argv[3]))
shown = 0
for r in rows[head + 2:]:
    if len(r) <= max(k, t, d, w, bs):
        continue
    if sys.argv[3] == "step" and r[bs].replace(",", "") != "512":
        continue
    s = float(r[t].replace(",", "")) * scale[units[t]]
    by = (float(r[d].replace(",", "")) * scale[units[d]] +
          float(r[w].replace(",", "")) * scale[units[w]])
    print("  %-42s %7.1f us %7.1f MB %5.2f TB/s %4.0f %%" %
          (r[k][:42], s * 1e6, by / 1e6, by / s / 1e12, by / s / 4.17e12 * 100))
    shown += 1
    if shown == 6:
        break
PY
  done
done
