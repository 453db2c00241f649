#!/usr/bin/env python3
"""One table of the forward benchmarks gpu-check.sh ran.

    bench-summary.py LOG_DIR

For every bench-NAME-DTYPE.json in LOG_DIR: the median forward time with
CUDA graphs and launch by launch, and the five kernels that take the most
time in the profiled run (bench-NAME-DTYPE-profile.json).
"""
import glob
import json
import os
import sys

logs = sys.argv[1]
for path in sorted(glob.glob(os.path.join(logs, "bench-*.json"))):
    base = os.path.basename(path)[len("bench-"):-len(".json")]
    if base.endswith("-eager") or base.endswith("-profile"):
        continue
    with open(path) as f:
        graph = json.load(f)
    line = "%-28s B%-3d S%-5d graphs %9.3f ms" % (
        base, graph["batch"], graph["seqlen"], graph["forward_ms"]["median"])
    eager = path[:-len(".json")] + "-eager.json"
    if os.path.exists(eager):
        with open(eager) as f:
            line += "  eager %9.3f ms" % json.load(f)["forward_ms"]["median"]
    print(line)
    profile = path[:-len(".json")] + "-profile.json"
    if os.path.exists(profile):
        with open(profile) as f:
            kernels = json.load(f).get("kernels", [])
        for k in sorted(kernels, key=lambda k: -k["ms_per_run"])[:6]:
            print("    %8.3f ms  %3d x  %s" % (k["ms_per_run"],
                                             k["launches_per_run"],
                                             k["kernel"]))
