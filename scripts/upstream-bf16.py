#!/usr/bin/env python3
"""Upstream's own bfloat16 error on the golden cases (issue 10, item 7).

    upstream-bf16.py UPSTREAM_DIR GOLDEN_DIR OUT.json

Runs on the GPU machine (torch, safetensors, PyYAML). UPSTREAM_DIR holds the
`xlstm` package of NX-AI/xlstm v2.0.5 (what made the golden data; `prepare
upstream` of scripts/gpu-check.sh copies it from a local clone). For every
xLSTMBlockStack / xLSTMLMModel golden case: the upstream model built from
NAME.yaml, the golden float32 weights loaded, the parallel forward run in
float32 and in bfloat16 (`model.to(torch.bfloat16)`, bf16 inputs), and
the relative error ||out - golden|| / ||golden|| of `y` or `logits`, the
metric of xlstm-compare and shared/golden/README.md.

The sLSTM runs upstream's vanilla (PyTorch) backend: its CUDA backend
compiles a kernel per configuration at run time; weights stored in the
CUDA layout are converted through the external layout (spec §b.6). The
xLSTM-7B case (large_mini) has its upstream figures in the golden README.
"""
import dataclasses
import json
import os
import sys
import typing

import torch
import yaml
from safetensors import safe_open

upstream_dir, golden_dir, out_path = sys.argv[1:4]
sys.path.insert(0, upstream_dir)
import xlstm  # noqa: E402

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
CASES = ["stack_readme", "lm_readme_v1024", "parity_xlstm11",
         "parity_xlstm10", "parity_xlstm01", "mlstm_variant", "slstm_variant"]


def build(cls, data):
    """A config dataclass from a YAML mapping, nested dataclasses included
    (what dacite does for upstream's README)."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in data.items():
        kind = hints[key]
        for arg in typing.get_args(kind) or (kind,):
            if dataclasses.is_dataclass(arg) and isinstance(value, dict):
                value = build(arg, value)
                break
        kwargs[key] = value
    return cls(**kwargs)


def read(path):
    tensors = {}
    with safe_open(path, framework="pt") as f:
        meta = f.metadata() or {}
        for key in f.keys():
            tensors[key] = f.get_tensor(key)
    return tensors, meta


def to_vanilla(weights, config):
    """sLSTM parameters from the CUDA layout to the vanilla one."""
    out = {}
    for name, w in weights.items():
        if name.endswith("slstm_cell._recurrent_kernel_"):
            w = w.transpose(1, 2).contiguous()  # (NH, DH, 4DH) -> (NH, 4DH, DH)
        elif name.endswith("slstm_cell._bias_"):
            nh = config.slstm_block.slstm.num_heads
            w = w.reshape(nh, 4, -1).permute(1, 0, 2).reshape(-1)
        out[name] = w
    return out


results = {}
for case in CASES:
    with open(os.path.join(golden_dir, case + ".yaml")) as f:
        data = yaml.safe_load(f)
    io, _ = read(os.path.join(golden_dir, case + ".io.safetensors"))
    lm = "tokens" in io
    data = data.get("model", data)
    slstm = data.get("slstm_block")
    if slstm is not None:
        slstm.setdefault("slstm", {})["backend"] = "vanilla"
    cls = xlstm.xLSTMLMModelConfig if lm else xlstm.xLSTMBlockStackConfig
    config = build(cls, data)
    weights, meta = read(os.path.join(golden_dir, case + ".weights.safetensors"))
    if meta.get("slstm_layout", "vanilla") == "cuda":
        weights = to_vanilla(weights, config)
    model = (xlstm.xLSTMLMModel if lm else xlstm.xLSTMBlockStack)(config)
    missing, unexpected = model.load_state_dict(weights, strict=False)
    # Tied weights are stored once (token_embedding.weight).
    missing = [m for m in missing if m != "lm_head.weight" or
               not getattr(config, "tie_weights", False)]
    if missing or unexpected:
        sys.exit("%s: missing %s, unexpected %s" % (case, missing, unexpected))
    key = "logits" if lm else "y"
    gold = io[key].double()
    row = {"key": key}
    for name, dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16)):
        m = model.to(device="cuda", dtype=dtype).eval()
        with torch.no_grad():
            if lm:
                out = m(io["tokens"].cuda())
            else:
                out = m(io["x"].to(device="cuda", dtype=dtype))
        out = out.double().cpu()
        finite = bool(torch.isfinite(out).all())
        err = float((out - gold).norm() / gold.norm())
        row[name] = err if finite else None
    results[case] = row
    print("%-18s %-7s upstream float32 %s  bfloat16 %s" %
          tuple([case, key] + ["%.3e" % row[n] if row[n] is not None
                               else "non-finite"
                               for n in ("float32", "bfloat16")]),
          flush=True)

with open(out_path, "w") as f:
    json.dump(results, f, indent=1)
