#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes PyTorch checkpoints with Debian's torch, for QuantScope's reader tests.

For every case it writes the checkpoint and `<case>.expected.json` + `<case>.expected.bin`:
the name, dtype, shape of each tensor QuantScope should list, and its values as contiguous
little-endian bytes, so the C++ test can compare exactly.

usage: make_torch_checkpoints.py OUTDIR
"""
import collections
import json
import os
import sys

import torch

DTYPES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}


def raw_bytes(t):
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def expect(outdir, case, tensors, metadata_keys=(), aliases=None):
    entries, blob = [], bytearray()
    for name, t in tensors.items():
        data = raw_bytes(t)
        entries.append({"name": name, "dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "offset": len(blob), "bytes": len(data)})
        blob += data
    with open(os.path.join(outdir, case + ".expected.bin"), "wb") as f:
        f.write(blob)
    with open(os.path.join(outdir, case + ".expected.json"), "w") as f:
        json.dump({"tensors": entries, "metadata_keys": list(metadata_keys), "aliases": aliases or {}}, f, indent=1)


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln = torch.nn.LayerNorm(16)
        self.attn = torch.nn.Linear(16, 48)
        self.proj = torch.nn.Linear(16, 16, bias=False)
        self.register_buffer("mask", torch.tril(torch.ones(4, 4)).bool())


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = torch.nn.Embedding(32, 16)
        self.h = torch.nn.ModuleList([Block(), Block()])
        self.lm_head = torch.nn.Linear(16, 32, bias=False)
        self.lm_head.weight = self.wte.weight  # tied, one storage


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    torch.manual_seed(1234)
    model = Tiny()

    # OrderedDict state dicts (with their _metadata attribute) in three float types.
    for dtype, case in ((torch.float32, "state_fp32"), (torch.float16, "state_fp16"), (torch.bfloat16, "state_bf16")):
        sd = model.to(dtype).state_dict()
        assert isinstance(sd, collections.OrderedDict) and hasattr(sd, "_metadata")
        torch.save(sd, os.path.join(outdir, case + ".pt"))
        expect(outdir, case, sd, aliases={"lm_head.weight": "wte.weight"})
    model = model.float()

    # Legacy (pre-1.6) format.
    sd = model.state_dict()
    torch.save(sd, os.path.join(outdir, "legacy.pt"), _use_new_zipfile_serialization=False)
    expect(outdir, "legacy", sd, aliases={"lm_head.weight": "wte.weight"})

    # nanoGPT-like ckpt.pt: compiled-model prefix, optimizer state after a step, args, a 0-d loss.
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss = model.lm_head(model.wte(torch.tensor([1, 2, 3]))).square().mean()
    loss.backward()
    opt.step()
    sd = model.state_dict()
    ckpt = {
        "model": collections.OrderedDict(("_orig_mod." + k, v) for k, v in sd.items()),
        "optimizer": opt.state_dict(),
        "model_args": {"n_layer": 2, "n_head": 2, "n_embd": 16, "block_size": 4, "bias": True, "vocab_size": 32,
                       "dropout": 0.0},
        "iter_num": 5,
        "best_val_loss": torch.tensor(2.5),
        "config": {"dataset": "shakespeare_char", "learning_rate": 1e-3, "compile": True, "wandb_log": False,
                   "out_dir": "out", "betas": (0.9, 0.95), "init_from": None},
    }
    os.makedirs(os.path.join(outdir, "nanogpt"), exist_ok=True)
    torch.save(ckpt, os.path.join(outdir, "nanogpt", "ckpt.pt"))
    expect(outdir, "nanogpt", sd, metadata_keys=["model_args", "iter_num", "best_val_loss", "config"],
           aliases={"lm_head.weight": "wte.weight"})

    # Sharded pytorch_model-0000i-of-00002.bin with an index.
    shard_dir = os.path.join(outdir, "sharded")
    os.makedirs(shard_dir, exist_ok=True)
    names = list(sd.keys())
    halves = [names[: len(names) // 2], names[len(names) // 2:]]
    weight_map = {}
    for i, part in enumerate(halves):
        fname = "pytorch_model-%05d-of-00002.bin" % (i + 1)
        torch.save({k: sd[k].clone() for k in part}, os.path.join(shard_dir, fname))
        weight_map.update({k: fname for k in part})
    with open(os.path.join(shard_dir, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f)
    with open(os.path.join(shard_dir, "config.json"), "w") as f:
        json.dump({"model_type": "gpt2", "n_layer": 2}, f)
    expect(outdir, "sharded", {k: sd[k] for k in names})

    # Views: transposed, sliced with a storage offset, a broadcast (stride 0), tied slices,
    # and every non-float dtype; in zip and in legacy format.
    base = torch.arange(60, dtype=torch.float32).reshape(6, 10)
    views = {
        "base": base,
        "transposed": base.t(),
        "columns": base[:, 3:7],
        "rows_offset": base[2:5],
        "every_other": base[::2, 1::3],
        "broadcast": torch.arange(5, dtype=torch.float32).expand(3, 5),
        "scalar": torch.tensor(7.25, dtype=torch.float64),
        "i8": torch.tensor([-128, -1, 0, 1, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 1, 255], dtype=torch.uint8),
        "i16": torch.tensor([-32768, 32767], dtype=torch.int16),
        "i32": torch.tensor([[-5, 6], [7, -8]], dtype=torch.int32),
        "i64": torch.tensor([-(2 ** 40), 2 ** 40], dtype=torch.int64),
        "flags": torch.tensor([True, False, True]),
        "empty": torch.zeros(0, 4),
    }
    torch.save(views, os.path.join(outdir, "views.pt"))
    torch.save(views, os.path.join(outdir, "views_legacy.pt"), _use_new_zipfile_serialization=False)
    view_aliases = {"transposed": "base", "columns": "base", "rows_offset": "base", "every_other": "base"}
    expect(outdir, "views", views, aliases=view_aliases)
    expect(outdir, "views_legacy", views, aliases=view_aliases)

    # Things that must be refused: a pickled module and a pickle calling os.system.
    torch.save(Block(), os.path.join(outdir, "module.pt"))


if __name__ == "__main__":
    main()
