#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""SmoothQuant's scales in numpy, as llm-compressor's SmoothQuantModifier computes them
(../shared/reference/vllm_compressed_tensors.md section 4), checked against QuantScope's.

usage: reference_smoothquant.py CASES.safetensors
The file holds `inputs` [tokens, in] (the norm's output, fed in several pieces), `balance.<i>`
[out_i, in] (the balance layers' weights) and per alpha `scales.<alpha>` (QuantScope's s), plus
`minimum`/`maximum` (QuantScope's running per-channel range of the inputs). Fails when a value
differs by more than float32 rounding.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_numpy as st  # noqa: E402
from interop_common import fail  # noqa: E402


def scales(x, weights, alpha):
    """A = max - min of the activations per channel, W = 2 max |W[:, j]| over every balance layer,
    s = A^alpha / W^(1 - alpha) (A where W is 0), at least 1e-5; in float32 like torch."""
    a = (x.max(axis=0) - x.min(axis=0)).astype(np.float32)
    w = (np.float32(2.0) * np.max(np.concatenate([np.abs(b).max(axis=0, keepdims=True) for b in weights]), axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.power(a, np.float32(alpha)) / np.power(w, np.float32(1 - alpha))
    s = np.where(w > 0, s, a)
    return np.maximum(s, np.float32(1e-5)).astype(np.float32)


def main():
    _, tensors = st.read(sys.argv[1])
    arrays = {name: st.to_numpy(*entry) for name, entry in tensors.items()}
    x = arrays["inputs"]
    weights = [arrays[n] for n in sorted(arrays) if n.startswith("balance.")]
    if not np.array_equal(arrays["minimum"], x.min(axis=0)) or not np.array_equal(arrays["maximum"], x.max(axis=0)):
        fail("the running range differs from the inputs' min and max")
    checked = 0
    for name in sorted(arrays):
        if not name.startswith("scales."):
            continue
        alpha = float(name[len("scales."):])
        ours, ref = arrays[name], scales(x, weights, alpha)
        worst = float(np.max(np.abs(ours - ref) / ref))
        if worst > 2e-6:
            fail(f"alpha {alpha}: scales differ by {worst:.3g} (relative)")
        checked += 1
    if checked == 0:
        fail("no scales to check")
    print(f"OK: {checked} alphas, {x.shape[1]} channels, {len(weights)} balance layers")


if __name__ == "__main__":
    main()
