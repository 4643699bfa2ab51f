#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""An independent GPTQ in plain PyTorch, with llm-compressor's conventions (GPTQModifier and
compressed-tensors' min-max observer; ../shared/reference/vllm_compressed_tensors.md section 5),
checked against what QuantScope computed on the same weight and calibration inputs.

usage: reference_gptq.py CASES.safetensors CASES.json
The safetensors file holds `weight` [out, in], `inputs` [sequences, tokens, in] and per case
`<case>.weight` (QuantScope's fake-quantized weight), `<case>.codes`, `<case>.scale`,
`<case>.zero_point` (float32). CASES.json lists {"name", "bits", "symmetric", "group_size" (0:
per channel), "actorder" ("static", "group", "none"), "static_groups"}. Fails when a scale
differs, or more than 0.1% of the codes differ, or any by more than one step.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_numpy as st  # noqa: E402
from interop_common import fail  # noqa: E402


def observe(w, bits, symmetric, group_size):
    """compressed-tensors' memoryless min-max observer: scale and zero point per row (or per
    row and group), float32. Symmetric: absmax / ((qmax - qmin) / 2), zero 0; affine:
    (max - min) / (qmax - qmin), zero = round(clamp(qmin - min / scale)); the range always holds 0."""
    qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    rows, cols = w.shape
    g = group_size if group_size > 0 else cols
    units = (cols + g - 1) // g
    scale = torch.empty(rows, units)
    zero = torch.zeros(rows, units)
    for u in range(units):
        part = w[:, u * g:(u + 1) * g]
        lo = torch.clamp(part.amin(1), max=0.0)
        hi = torch.clamp(part.amax(1), min=0.0)
        if symmetric:
            s = torch.maximum(lo.abs(), hi) / ((qmax - qmin) / 2)
            z = torch.zeros(rows)
        else:
            s = (hi - lo) / (qmax - qmin)
            z = torch.round(torch.clamp(qmin - lo / s, qmin, qmax))
        scale[:, u] = torch.where(s == 0, torch.finfo(torch.float32).eps, s)
        zero[:, u] = z
    return scale, zero, qmin, qmax


def gptq(w, h, bits, symmetric, group_size, actorder, static_groups, block=128, damp_frac=0.01):
    """Returns the fake-quantized weight and the scale/zero/unit used by each (storage) column."""
    original = w.clone().float()
    w = original.clone()
    h = h.clone().float()
    rows, cols = w.shape
    perm = None
    if actorder != "none":
        perm = torch.argsort(torch.diag(h), descending=True)
        w = w[:, perm]
        h = h[perm][:, perm]
    loop_groups = actorder == "group" or (not static_groups and perm is not None)
    g = group_size if group_size > 0 else cols
    # Scales once, before the loop: from the original weight, or the permuted one for group order.
    scale, zero, qmin, qmax = observe(w if loop_groups else original, bits, symmetric, group_size)
    unit = torch.arange(cols) // g
    if perm is not None and not loop_groups:
        unit = unit[perm]
    dead = torch.diag(h) == 0
    h[dead, dead] = 1
    w[:, dead] = 0
    damp = damp_frac * torch.mean(torch.diag(h))
    h = h + damp * torch.eye(cols)
    hinv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    q = torch.zeros_like(w)
    for i1 in range(0, cols, block):
        i2 = min(i1 + block, cols)
        w1 = w[:, i1:i2].clone()
        err1 = torch.zeros(rows, i2 - i1)
        h1 = hinv[i1:i2, i1:i2]
        for i in range(i2 - i1):
            j = i1 + i
            if not static_groups and group_size > 0 and j % g == 0:
                s, z, _, _ = observe(w[:, j:j + g], bits, symmetric, 0)
                scale[:, unit[j]] = s[:, 0]
                zero[:, unit[j]] = z[:, 0]
            col = w1[:, i]
            s, z = scale[:, unit[j]], zero[:, unit[j]]
            qc = (torch.clamp(torch.round(col / s) + z, qmin, qmax) - z) * s
            q[:, j] = qc
            e = (col - qc) / h1[i, i]
            w1[:, i:] -= e.unsqueeze(1) @ h1[i, i:].unsqueeze(0)
            err1[:, i] = e
        w[:, i2:] -= err1 @ hinv[i1:i2, i2:]
    if perm is not None:
        inverse = torch.argsort(perm)
        q = q[:, inverse]
        unit = unit[inverse]
    return q, scale, zero, unit, qmin, qmax


def main():
    _, raw = st.read(sys.argv[1])
    tensors = {k: torch.from_numpy(st.to_numpy(*v).copy()) for k, v in raw.items()}
    cases = json.load(open(sys.argv[2]))
    w = tensors["weight"]
    x = tensors["inputs"]
    h = torch.zeros(w.shape[1], w.shape[1])
    for seq in x:  # llm-compressor: H = (2 / sequences) sum_tokens x x^T
        h += 2 * seq.T @ seq
    h /= x.shape[0]
    for c in cases:
        name = c["name"]
        q, scale, zero, unit, qmin, qmax = gptq(w, h, c["bits"], c["symmetric"], c["group_size"], c["actorder"],
                                                c["static_groups"])
        ours_scale = tensors[name + ".scale"].reshape(scale.shape[0], -1)
        if ours_scale.shape != scale.shape or not torch.allclose(ours_scale, scale, rtol=1e-6, atol=0):
            fail(f"{name}: scales differ (max {float((ours_scale - scale).abs().max()):.3g})")
        ref_codes = torch.clamp(torch.round(q / scale[:, unit]) + zero[:, unit], qmin, qmax)
        ours = tensors[name + ".codes"]
        diff = (ours - ref_codes).abs()
        share = float((diff > 0).float().mean())
        if float(diff.max()) > 1 or share > 1e-3:
            fail(f"{name}: {int((diff > 0).sum())} codes differ ({share:.3%}), at most {float(diff.max()):.0f} steps")
        wq = tensors[name + ".weight"]
        out_ref = ((q - w) @ x.reshape(-1, w.shape[1]).T).pow(2).sum()
        out_ours = ((wq - w) @ x.reshape(-1, w.shape[1]).T).pow(2).sum()
        print(f"{name}: scales equal, {int((diff > 0).sum())} of {diff.numel()} codes differ by one; "
              f"output error ours/reference {float(out_ours / out_ref):.6f}")
    print("OK")


if __name__ == "__main__":
    main()
