#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""llm-awq's clip search (awq/quantize/auto_clip.py, auto_clip_layer: n_grid 20, max_shrink 0.5,
every n_tokens // n_sample_token-th token) in plain PyTorch, with compressed-tensors' min-max
observer as the quantizer, to check QuantScope's awqClip (core/algo/awq.h) against.

usage: reference_awq_clip.py TENSORS.safetensors CASES.json

TENSORS holds per case `<case>.w` [out, in], `<case>.x` [tokens, in] and QuantScope's
`<case>.clipped`; CASES.json lists {"name", "bits", "symmetric", "group_size"}. Fails when a clipped
weight differs by more than 1e-6 relative to the weight's max, or when the search would not move
anything (a case that cannot fail).
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_numpy as st  # noqa: E402
from interop_common import fail  # noqa: E402
from reference_awq import fake_quantize  # noqa: E402


def auto_clip(w, x, bits, symmetric, group_size, n_grid=20, max_shrink=0.5, n_sample_token=512):
    rows, cols = w.shape
    g = group_size if group_size > 0 else cols
    x = x[0::max(1, x.shape[0] // n_sample_token)]
    xg = x.reshape(x.shape[0], cols // g, g)  # [t, G, g]
    wg = w.reshape(rows, cols // g, g)  # [co, G, g]
    org_max = wg.abs().amax(-1, keepdim=True)  # [co, G, 1]
    best = org_max.clone()
    min_err = torch.full_like(org_max, 1e9)
    org_out = torch.einsum("tgk,cgk->ctg", xg, wg)
    for i in range(int(max_shrink * n_grid)):
        max_val = org_max * (1 - i / n_grid)
        cur = torch.clamp(wg, -max_val, max_val).reshape(rows, cols)
        q = fake_quantize(cur, bits, symmetric, group_size).reshape(rows, cols // g, g)
        err = (torch.einsum("tgk,cgk->ctg", xg, q) - org_out).pow(2).mean(1).unsqueeze(-1)
        better = err < min_err
        min_err[better] = err[better]
        best[better] = max_val[better]
    return torch.clamp(wg, -best, best).reshape(rows, cols)


def main():
    _, raw = st.read(sys.argv[1])
    tensors = {k: torch.from_numpy(st.to_numpy(*v).copy()) for k, v in raw.items()}
    cases = json.load(open(sys.argv[2]))
    for c in cases:
        n = c["name"]
        w, x, ours = tensors[n + ".w"], tensors[n + ".x"], tensors[n + ".clipped"]
        ref = auto_clip(w, x, c["bits"], c["symmetric"], c["group_size"])
        if torch.equal(ref, w):
            fail(f"{n}: the reference clips nothing: the case cannot tell")
        diff = (ref - ours).abs().max().item() / w.abs().max().item()
        if diff > 1e-6:
            fail(f"{n}: clipped weights differ by {diff:.3g} (relative to max |w|)")
        shrunk = (ref != w).float().mean().item()
        print(f"OK: {n}: equal to llm-awq's clip search ({shrunk:.1%} of the weights clipped)")


if __name__ == "__main__":
    main()
