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
# What a copy of the same bytes takes: 4.17 TB/s is the rate of 1 GiB copies,
# which a launch of a few MB cannot reach (its ramp and tail are most of
# it). PyTorch's float32 negation (read n bytes, write n) timed by Nsight
# Compute the same way at 1 to 512 MB moved, three launches each; every
# kernel line below adds the copy's time at its bytes (log-linear between
# sizes) and its share of it.
reference="$logs/ncu-decode-copy-reference.csv"
if python3 -c 'import torch' 2>/dev/null; then
  /usr/local/cuda/bin/ncu --clock-control none --kernel-name-base demangled \
    --kernel-name regex:neg_kernel \
    --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum \
    --csv --page raw python3 -c '
import torch
for mb in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512):
    src = torch.rand(mb * 2**20 // 8, device="cuda")
    dst = torch.empty_like(src)
    for _ in range(3):
        torch.neg(src, out=dst)
torch.cuda.synchronize()
' >"$reference" 2>&1 || echo "ncu-decode: the copy reference failed (see $reference)"
fi
# Which op each kernel comes from (the bundle's manifest), printed beside
# it: kernel names alone are easily mislabelled.
manifest="$logs/ncu-decode-manifest.json"
./xlstm-bundle --manifest "$bundle" >"$manifest" 2>/dev/null || rm -f "$manifest"
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
    python3 - "$csv" "$b" "$what" "$reference" "$manifest" <<'PY'
import csv, json, math, os, re, sys

scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "byte": 1, "Kbyte": 1e3,
         "Mbyte": 1e6, "Gbyte": 1e9}


def launches(path):
    """(kernel name, block size or None, seconds, DRAM bytes) per launch."""
    rows = list(csv.reader(open(path)))
    head = next(i for i, r in enumerate(rows) if r and r[0] == "ID")
    names, units = rows[head], rows[head + 1]
    k, t, d, w = (names.index(n) for n in
                  ("Kernel Name", "gpu__time_duration.sum",
                   "dram__bytes_read.sum", "dram__bytes_write.sum"))
    bs = names.index("launch__block_size") if "launch__block_size" in names else None
    for r in rows[head + 2:]:
        if len(r) <= max(k, t, d, w, bs or 0):
            continue
        value = lambda i: float(r[i].replace(",", "")) * scale[units[i]]
        yield (r[k], r[bs].replace(",", "") if bs is not None else None,
               value(t), value(d) + value(w))


# The copy's seconds at a byte count: the median of each size's launches,
# log-linear between sizes (None without a reference).
copy = None
if os.path.exists(sys.argv[4]):
    try:
        sizes = {}
        for _, _, s, by in launches(sys.argv[4]):
            sizes.setdefault(round(math.log2(by / 2**20)), []).append((by, s))
        points = sorted(sorted(v)[len(v) // 2] for v in sizes.values())

        def copy(by):
            if by <= points[0][0]:  # no faster than the smallest copy
                return points[0][1]
            lo = max([p for p in points if p[0] <= by], default=points[0])
            hi = min([p for p in points if p[0] >= by], default=points[-1])
            if hi[0] == lo[0]:  # past the largest: its rate
                return lo[1] * by / lo[0]
            f = math.log(by / lo[0]) / math.log(hi[0] / lo[0])
            return math.exp(math.log(lo[1]) * (1 - f) + math.log(hi[1]) * f)
    except (StopIteration, ValueError):
        copy = None

# kernel name -> the ops it serves, block numbers folded ("blocks.*").
origins = {}
if os.path.exists(sys.argv[5]):
    for k in json.load(open(sys.argv[5])).get("kernels", []):
        origins.setdefault(k["name"], set()).add(
            re.sub(r"blocks\.[0-9]+", "blocks.*", k.get("origin", "?")))


def origin(name):
    base = re.sub(r"^void |\(.*$", "", name)
    return ", ".join(sorted(origins.get(base, ())))[:60]


print("batch %s, %s (DRAM read + written; share of 4.17 TB/s%s)" %
      (sys.argv[2], sys.argv[3],
       "; a copy of the same bytes and the share of its time" if copy else ""))
shown = 0
for name, block, s, by in launches(sys.argv[1]):
    if sys.argv[3] == "step" and block != "512":
        continue
    line = "  %-42s %7.1f us %7.1f MB %5.2f TB/s %4.0f %%" % (
        name[:42], s * 1e6, by / 1e6, by / s / 1e12, by / s / 4.17e12 * 100)
    if copy:
        line += "   copy %6.1f us %4.0f %%" % (copy(by) * 1e6, copy(by) / s * 100)
    if origins:
        line += "   [%s]" % origin(name)
    print(line)
    shown += 1
    if shown == 6:
        break
PY
  done
done
