#!/usr/bin/env python3
"""Rewrites an xlstm_large checkpoint in the layouts checkpoints are published in.

    hf-layout.py SRC.safetensors OUT_DIR [--shards N] [--hf-names] [--fused]
                 [--config JSON] [--no-index]

Reads SRC (xlstm_large names, weight_mode single, as the golden files and
`xlstm-run --save-weights` write them) and writes OUT_DIR as Hugging Face
does: `model.safetensors` for one shard, else
`model-0000k-of-0000N.safetensors` plus `model.safetensors.index.json`
(`--no-index`: shards without an index, as xlstm_large's
`model_{n}.safetensors`). `--hf-names` renames `embedding.weight` to
transformers' `backbone.embeddings.weight`; `--fused` concatenates the rows
of q/k/v/ogate_preact, igate/fgate_preact and proj_up_gate/proj_up into
weight_mode "fused" tensors; `--config` writes the JSON object given as
OUT_DIR/config.json. Python standard library only (the tests run it where
numpy is not installed): a fused tensor's rows are its parts' bytes, one
after the other.
"""
import argparse
import json
import os
import struct
import sys

FUSED = [
    ("mlstm_layer.qkv_opreact", ["mlstm_layer.q", "mlstm_layer.k",
                                 "mlstm_layer.v", "mlstm_layer.ogate_preact"]),
    ("mlstm_layer.ifgate_preact", ["mlstm_layer.igate_preact",
                                   "mlstm_layer.fgate_preact"]),
    ("ffn.proj_up_gate_z", ["ffn.proj_up_gate", "ffn.proj_up"]),
]


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    body = data[8 + n:]
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        tensors[name] = (entry["dtype"], entry["shape"], body[begin:end])
    return tensors, meta


def write_safetensors(path, tensors, meta):
    header, offset = {}, 0
    if meta:
        header["__metadata__"] = meta
    for name, (dtype, shape, blob) in tensors:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, (_, _, blob) in tensors:
            f.write(blob)


def fuse(tensors):
    out = dict(tensors)
    for name in list(tensors):
        for fused, parts in FUSED:
            for kind in ("weight", "bias"):
                suffix = "%s.%s" % (parts[0], kind)
                if not name.endswith(suffix):
                    continue
                prefix = name[:-len(suffix)]
                names = ["%s%s.%s" % (prefix, p, kind) for p in parts]
                if not all(n in tensors for n in names):
                    continue
                dtypes = {tensors[n][0] for n in names}
                if len(dtypes) != 1:
                    sys.exit("hf-layout: %s: parts differ in dtype" % fused)
                rows = sum(tensors[n][1][0] for n in names)
                shape = [rows] + tensors[names[0]][1][1:]
                blob = b"".join(tensors[n][2] for n in names)
                for n in names:
                    del out[n]
                out["%s%s.%s" % (prefix, fused, kind)] = (
                    dtypes.pop(), shape, blob)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source")
    parser.add_argument("out_dir")
    parser.add_argument("--shards", type=int, default=1)
    parser.add_argument("--hf-names", action="store_true")
    parser.add_argument("--fused", action="store_true")
    parser.add_argument("--no-index", action="store_true")
    parser.add_argument("--config", help="JSON object for config.json")
    args = parser.parse_args()

    tensors, meta = read_safetensors(args.source)
    if args.fused:
        tensors = fuse(tensors)
    if args.hf_names and "embedding.weight" in tensors:
        tensors["backbone.embeddings.weight"] = tensors.pop("embedding.weight")
    os.makedirs(args.out_dir, exist_ok=True)
    names = sorted(tensors)
    shards = max(1, min(args.shards, len(names)))
    # Contiguous runs of names, as save_pretrained fills shard after shard.
    groups = [names[i * len(names) // shards:(i + 1) * len(names) // shards]
              for i in range(shards)]
    weight_map = {}
    for k, group in enumerate(groups):
        if shards == 1:
            file = "model.safetensors"
        elif args.no_index:
            file = "model_%d.safetensors" % k
        else:
            file = "model-%05d-of-%05d.safetensors" % (k + 1, shards)
        write_safetensors(os.path.join(args.out_dir, file),
                          [(n, tensors[n]) for n in group], meta)
        for n in group:
            weight_map[n] = file
    if shards > 1 and not args.no_index:
        total = sum(len(t[2]) for t in tensors.values())
        with open(os.path.join(args.out_dir,
                               "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total},
                       "weight_map": weight_map}, f, indent=2)
    if args.config:
        with open(os.path.join(args.out_dir, "config.json"), "w") as f:
            json.dump(json.loads(args.config), f, indent=2)


if __name__ == "__main__":
    main()
