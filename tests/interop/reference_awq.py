#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""AWQ's grid search in plain PyTorch with llm-compressor's formulas (the AWQ transform of
llm-compressor 0.13), to check QuantScope's core/algo/awq.h against.

usage: reference_awq.py TENSORS.safetensors CASES.json

TENSORS holds `x` [tokens, in] (the parent's input), `w0`, `w1` [out_i, in] (balance layers) and,
per case, QuantScope's `<case>.w_mean` [in] (duo cases), `<case>.scales` [in] (the winner) and
`<case>.losses` [candidates]. CASES.json lists {"name", "layers" (1: the parent is w0 itself; 2:
the parent's output is both layers' outputs side by side), "bits", "symmetric", "group_size",
"duo_scaling" ("true", "false", "both"), "n_grid"}. Fails when a loss differs by more than 1e-4
relative, the chosen grid point differs, or the winning scales differ by more than 1e-5 relative.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_numpy as st  # noqa: E402
from interop_common import fail  # noqa: E402
from reference_gptq import observe  # noqa: E402


def fake_quantize(w, bits, symmetric, group_size):
    scale, zero, qmin, qmax = observe(w, bits, symmetric, group_size)
    g = group_size if group_size > 0 else w.shape[1]
    unit = torch.arange(w.shape[1]) // g
    s, z = scale[:, unit], zero[:, unit]
    return (torch.clamp(torch.round(w / s) + z, qmin, qmax) - z) * s


def grid(n_grid, duo):
    if duo == "both":
        half = n_grid // 2
        return [(i / (half - 1), d) for i in range(half) for d in (False, True)]
    if duo == "false":
        return [(i / (n_grid - 1), False) for i in range(n_grid)]
    return [(0.0, False)] + [(i / (n_grid - 2), True) for i in range(n_grid - 1)]


def weight_means(weights, group_size):
    total, rows = 0, 0
    for w in weights:
        chunk = group_size if group_size > 0 else w.shape[1]
        a = w.abs().reshape(-1, chunk)
        a = a / (a.amax(dim=1, keepdim=True) + 1e-6)
        total = total + a.reshape(w.shape).sum(0, dtype=torch.float64)
        rows += w.shape[0]
    return (total / rows).float()


def main():
    _, raw = st.read(sys.argv[1])
    t = {k: torch.from_numpy(st.to_numpy(*v).copy()) for k, v in raw.items()}
    x = t["x"]
    for c in json.load(open(sys.argv[2])):
        name = c["name"]
        weights = [t["w0"], t["w1"]][:c["layers"]]
        parent = lambda ws: torch.cat([x @ w.T for w in ws], dim=1)  # noqa: E731
        reference = parent(weights)
        x_mean = x.abs().sum(0) / x.shape[0]
        w_mean = weight_means(weights, c["group_size"])
        if c["duo_scaling"] != "false":
            ours = t[name + ".w_mean"]
            if not torch.allclose(ours, w_mean, rtol=1e-5, atol=1e-7):
                fail(f"{name}: w_mean differs by {float((ours - w_mean).abs().max()):.3g}")
        losses, best, best_scales = [], None, None
        for ratio, duo in grid(c["n_grid"], c["duo_scaling"]):
            if duo:
                s = (x_mean.pow(ratio) / (w_mean.pow(1 - ratio) + 1e-4)).clamp(min=1e-4)
            else:
                s = x_mean.pow(ratio).clamp(min=1e-4)
            s = s / (s.max() * s.min()).sqrt()
            s[torch.isinf(s) | torch.isnan(s)] = 1
            q = [fake_quantize(w * s.view(1, -1), c["bits"], c["symmetric"], c["group_size"]) / s.view(1, -1)
                 for w in weights]
            out = parent(q)
            loss = float((out - reference).pow(2).sum() / reference.numel())
            losses.append(loss)
            if best is None or loss < losses[best]:
                best, best_scales = len(losses) - 1, s
        ours = t[name + ".losses"]
        if ours.numel() != len(losses):
            fail(f"{name}: {ours.numel()} candidates, the reference has {len(losses)}")
        ref = torch.tensor(losses)
        if not torch.allclose(ours.double(), ref.double(), rtol=1e-4, atol=0):
            fail(f"{name}: losses differ, ours {ours.tolist()[:4]}... reference {losses[:4]}...")
        if int(torch.argmin(ours)) != best:
            fail(f"{name}: ours chose candidate {int(torch.argmin(ours))}, the reference {best}")
        if not torch.allclose(t[name + ".scales"], best_scales, rtol=1e-5, atol=0):
            fail(f"{name}: the winning scales differ")
        print(f"{name}: {len(losses)} candidates, the same losses and winner ({best}), "
              f"error {losses[best] / losses[0]:.3f} of the first")
    print("OK")


if __name__ == "__main__":
    main()
