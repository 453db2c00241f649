#!/usr/bin/env python3
"""One table of the forward benchmarks gpu-check.sh ran.

    bench-summary.py LOG_DIR

For every bench-NAME-DTYPE.json in LOG_DIR: the median forward time with
CUDA graphs and launch by launch, the peer's figure for the same workload
from ../shared/docs/perf-anchors-h200.md and our time as a multiple of it,
and the eight kernels that take the most time in the profiled run
(bench-NAME-DTYPE-profile.json) with the GB/s of their arguments and the
TFLOP/s of projections; for the one-block 7B model (its cell's q/k/v in
float32, and in bf16), its chunkwise mLSTM kernels against TFLA at the a1
shape, and the one-block a2 model's at the a2 shape.
"""
import glob
import json
import os
import sys

# (peer, its milliseconds), perf-anchors-h200.md on the same machine kind.
PEERS = {
    "readme_stack-f32": ("upstream xLSTMBlockStack (c1)", 11.50),
    "readme_stack-bf16": ("upstream xLSTMBlockStack bf16", 12.68),
    "slstm_block_768-bf16": ("upstream sLSTMLayer alone (b)", 16.40),
    "slstm_block_512-bf16": ("upstream sLSTMLayer alone (b)", 13.11),
    "mlstm_stack_24-bf16": ("upstream 24 mLSTM blocks (c2)", 191.9),
}
# TFLA's chunkwise mLSTM (xl_chunk, L=128) at the shapes of the benchmarks
# whose chunkwise kernels run them: a1 (the 7B block, B1 NH8 S8192 256/512)
# and a2 (B8 NH16 S2048 128/128).
TFLA_MS = {"xlstm7b_block": ("a1", 0.895),
           "xlstm7b_block_bf16_cell": ("a1, bf16 q/k/v", 0.895),
           "mlstm_a2": ("a2", 0.597)}

# Kernels listed per benchmark, and the bandwidth the H200 copies at
# (perf-anchors-h200.md) that the GB/s column is a fraction of.
TOP = 8
H200_GB_PER_S = 4170.0


def projection_flops(views):
    """2 M N K per (weight, output) pair of a projection launch: x (M, K) is
    its first 2-D view, then each weight (N, K) is followed by its output
    (M, N) (one pair, or several for sibling projections of one x). A gated
    pair's kernel (x, W1, y, M, W2) ends with its second weight, of the
    first's shape, whose products meet the first's in y. A headwise
    projection's kernel takes x (M, H K), its blocks' weights stacked (H N,
    K) and y (M, H N)."""
    mats = [v["sizes"] for v in views if len(v["sizes"]) == 2]
    if not mats:
        return 0
    m, k = mats[0]
    flops, i = 0, 1
    while i + 1 < len(mats):
        w, y = mats[i], mats[i + 1]
        if w[1] == k and y == [m, w[0]]:
            flops += 2 * m * w[0] * k
            i += 2
        elif k % w[1] == 0 and w[0] % (k // w[1]) == 0 and y == [m, w[0]]:
            flops += 2 * m * w[0] * w[1]
            i += 2
        else:
            i += 1
    if len(mats) == 4 and mats[3] == mats[1] and mats[2] == [m, mats[1][0]]:
        flops += 2 * m * mats[3][0] * k
    return flops


def kernel_line(k):
    """ms and launches per run; the bytes of its arguments' views over its
    time (each element once: the least it moved) as GB/s and a fraction of
    the H200's; TFLOP/s for projections."""
    ms = k["ms_per_run"]
    line = "%8.3f ms %4d x" % (ms, k["launches_per_run"])
    gbs = k.get("view_gb_per_s")
    if gbs is not None:
        line += "  %6.0f GB/s %3.0f %%" % (gbs, 100 * gbs / H200_GB_PER_S)
    flops = 0
    if "projection" in k["kernel"]:
        flops = sum(projection_flops(l["views"]) * l["launches"]
                    for l in k.get("launches_by_views", []))
    line += "  %6.1f TFLOP/s" % (flops / ms / 1e9) if flops and ms else \
        "                "
    return line + "  " + k["kernel"]


logs = sys.argv[1]
# Every benchmark with a graph-replayed run, a profiled one or both (a
# profile alone: one kernel family timed at one shape).
bases = set()
for path in glob.glob(os.path.join(logs, "bench-*.json")):
    base = os.path.basename(path)[len("bench-"):-len(".json")]
    for suffix in ("-eager", "-profile"):
        if base.endswith(suffix):
            base = base[:-len(suffix)]
    bases.add(base)
for base in sorted(bases):
    path = os.path.join(logs, "bench-%s.json" % base)
    timed = path if os.path.exists(path) else \
        path[:-len(".json")] + "-profile.json"
    with open(timed) as f:
        graph = json.load(f)
    line = "%-28s B%-3d S%-5d %s %9.3f ms" % (
        base, graph["batch"], graph["seqlen"],
        "graphs" if timed == path else "profiled",
        graph["forward_ms"]["median"])
    eager = path[:-len(".json")] + "-eager.json"
    if os.path.exists(eager):
        with open(eager) as f:
            line += "  eager %9.3f ms" % json.load(f)["forward_ms"]["median"]
    if base in PEERS:
        peer, peer_ms = PEERS[base]
        line += "  | %s %.2f ms: %.2fx its time" % (
            peer, peer_ms, graph["forward_ms"]["median"] / peer_ms)
    print(line)
    profile = path[:-len(".json")] + "-profile.json"
    if os.path.exists(profile):
        with open(profile) as f:
            kernels = json.load(f).get("kernels", [])
        model = base.rsplit("-", 1)[0]
        if model in TFLA_MS:
            shape, tfla_ms = TFLA_MS[model]
            chunkwise = sum(k["ms_per_run"] for k in kernels
                            if "mlstm_chunk" in k["kernel"])
            print("    chunkwise mLSTM (%s shape) %.3f ms | TFLA %.3f ms: "
                  "%.2fx its time" % (shape, chunkwise, tfla_ms,
                                      chunkwise / tfla_ms))
        for k in sorted(kernels, key=lambda k: -k["ms_per_run"])[:TOP]:
            print("    " + kernel_line(k))
