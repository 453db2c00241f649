#!/usr/bin/env bash
# Per-kernel hardware counters of one forward pass (on the GPU machine):
# Nsight Compute's duration, DRAM bytes (and their share of the 4.17 TB/s
# the H200 copies at), registers, grid, achieved occupancy, tensor-pipe and
# SM throughput for every kernel of one `xlstm-run` forward, clocks
# unlocked as the benchmarks run them.
#   scripts/ncu-forward.sh BUNDLE BATCH SEQLEN [KERNEL-REGEX]
# e.g. after `gpu-check.sh prepare tiles` and unpacking its bundles:
#   scripts/ncu-forward.sh gpu-out-tiles/bundles/tiles/v0-slstm_block_768.xlstmb 16 1024
# The CSV goes to $OUT (or the current folder) as ncu-BUNDLE-bBATCH-sSEQLEN.csv.
# XLSTM_RUN names the xlstm-run to use (default: beside the bundle's
# gpu-out folder, else on PATH).
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 BUNDLE BATCH SEQLEN [KERNEL-REGEX]" >&2
  exit 2
fi
bundle="$1" batch="$2" seqlen="$3" regex="${4:-.}"
root="$(cd "$(dirname "$0")/.." && pwd)"
run="${XLSTM_RUN:-$root/gpu-out/xlstm-run}"
[ -x "$run" ] || run="$(command -v xlstm-run)"
ncu="${NCU:-/usr/local/cuda/bin/ncu}"
csv="${OUT:-.}/ncu-$(basename "$bundle" .xlstmb)-b$batch-s$seqlen.csv"
# One forward: no warm-up, one timed run, launch by launch (a graph replay
# hides the kernels from the profiler). NCU_LAUNCHES=N: the first N only.
limit=()
if [ -n "${NCU_LAUNCHES:-}" ]; then limit=(--launch-count "$NCU_LAUNCHES"); fi
"$ncu" --clock-control none --kernel-name "regex:$regex" "${limit[@]}" \
  --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum,launch__registers_per_thread,launch__grid_size,launch__block_size,sm__warps_active.avg.pct_of_peak_sustained_active,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,sm__throughput.avg.pct_of_peak_sustained_elapsed \
  --csv --page raw "$run" "$bundle" --device=cuda --dtype bf16 \
  --batch "$batch" --seqlen "$seqlen" --warmup 0 --bench 1 \
  --cuda-graphs=false >"$csv" 2>&1 || true
python3 - "$csv" "$bundle B$batch S$seqlen" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
try:
    head = next(i for i, r in enumerate(rows) if r and r[0] == "ID")
except StopIteration:
    sys.exit("ncu wrote no table:\n" + open(sys.argv[1]).read()[-2000:])
names, units = rows[head], rows[head + 1]
scale = {"ns": 1e-9, "nsecond": 1e-9, "us": 1e-6, "usecond": 1e-6,
         "ms": 1e-3, "msecond": 1e-3, "byte": 1, "Kbyte": 1e3, "Mbyte": 1e6,
         "Gbyte": 1e9}
def value(row, name):
    i = names.index(name)
    return float(row[i].replace(",", "")) * scale.get(units[i], 1)
print("%s (ncu, clocks unlocked; bandwidth: DRAM read + written over 4.17 TB/s)"
      % sys.argv[2])
print("  %-44s %9s %8s %5s %4s %7s %4s %5s %5s %5s" %
      ("kernel", "us", "MB", "bw%", "regs", "grid", "blk", "occ%", "tc%",
       "sm%"))
total = 0.0
for r in rows[head + 2:]:
    if len(r) < len(names):
        continue
    s = value(r, "gpu__time_duration.sum")
    by = value(r, "dram__bytes_read.sum") + value(r, "dram__bytes_write.sum")
    total += s
    print("  %-44s %9.1f %8.1f %5.0f %4d %7d %4d %5.0f %5.0f %5.0f" % (
        r[names.index("Kernel Name")][:44], s * 1e6, by / 1e6,
        by / s / 4.17e12 * 100, value(r, "launch__registers_per_thread"),
        value(r, "launch__grid_size"), value(r, "launch__block_size"),
        value(r, "sm__warps_active.avg.pct_of_peak_sustained_active"),
        value(r, "sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active"),
        value(r, "sm__throughput.avg.pct_of_peak_sustained_elapsed")))
print("  %-44s %9.1f" % ("all profiled launches", total * 1e6))
PY
