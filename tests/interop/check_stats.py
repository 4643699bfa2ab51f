#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Interop check of `quantscope-cli stats --json` against numpy (and Debian's torch for the
quantized codes) on the same data: moments, exact percentiles, sparsity, outliers, histogram,
per-channel ranges, the error and per-channel code std of a scheme, and the comparison of a
checkpoint with its own NxD export."""
import json
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interop_common  # noqa: E402
import reference_quantizers as ref  # noqa: E402
import safetensors_numpy as st  # noqa: E402


def stats(cli, path, *extra):
    out = subprocess.run([cli, "stats", path, "--json", *extra], check=True, capture_output=True, text=True).stdout
    return {t["name"]: t for t in json.loads(out)["tensors"]}


def close(a, b, rel, what):
    assert abs(a - b) <= rel * max(abs(b), 1e-30), f"{what}: {a} vs {b}"


def check_values(t, v, name):
    v = v.astype(np.float64).reshape(-1)
    mean = v.mean()
    m2 = ((v - mean) ** 2).mean()
    m4 = ((v - mean) ** 4).mean()
    assert t["count"] == v.size, name
    assert t["min"] == v.min() and t["max"] == v.max(), name
    assert abs(t["mean"] - mean) <= 1e-6 * max(abs(mean), v.std()), (name, t["mean"], mean)
    close(t["std"], v.std(ddof=1), 1e-5, name + " std")
    close(t["kurtosis"], m4 / m2 ** 2 - 3, 1e-4, name + " kurtosis")
    assert t["zeros"] == int((v == 0).sum()), name
    close(t["sparsity"], (v == 0).mean(), 1e-12, name + " sparsity")
    assert t["outliers"] == int((np.abs(v - mean) > 6 * v.std(ddof=1)).sum()), name
    for key, value in t["percentiles"].items():
        expected = np.percentile(v, float(key[1:]))
        assert abs(value - expected) <= 1e-12 * max(abs(expected), 1e-30), (name, key, value, expected)
    if "histogram" in t:
        h = t["histogram"]
        counts, _ = np.histogram(v, bins=len(h["counts"]), range=(h["lo"], h["hi"]))
        assert sum(h["counts"]) == v.size, name
        moved = int(np.abs(np.array(h["counts"]) - counts).sum())
        assert moved <= 4, (name, moved)  # a value on a bin edge may land one bin over


def main():
    args, demo = interop_common.setup()
    rng = np.random.default_rng(5)
    heavy = (rng.standard_t(3, size=(300, 512)) * 0.02).astype(np.float32)
    heavy[rng.integers(0, 300, 50), rng.integers(0, 512, 50)] = 0
    heavy[7] *= 10  # an outlier channel
    norm = (1 + 0.01 * rng.standard_normal(4096)).astype(np.float32)  # mean >> std
    half = (rng.standard_normal((64, 96)) * 0.05).astype(np.float16)
    path = os.path.join(args.workdir, "data.safetensors")
    st.write(path, {"heavy.weight": heavy, "norm.weight": norm, "half.weight": half,
                             "double.weight": rng.standard_normal((10, 30))})

    got = stats(args.cli, path, "--histogram", "--channels")
    for name, v in (("heavy.weight", heavy), ("norm.weight", norm), ("half.weight", half)):
        check_values(got[name], v, name)
        assert got[name]["quantized"] is False
    ch = got["heavy.weight"]["channels"]
    assert np.allclose(ch["std"], heavy.astype(np.float64).std(axis=1, ddof=1), rtol=1e-5)
    assert np.array_equal(np.array(ch["abs_max"], np.float32), np.abs(heavy).max(axis=1))
    assert got["heavy.weight"]["outlier_channels"] >= 1

    # With a scheme: the error and the per-channel std of the codes, against torch's codes.
    q = stats(args.cli, path, "--tensor", "heavy.weight", "--scheme", "nxd-int8")["heavy.weight"]
    codes, scale = ref.nxd_int8_channel(torch.from_numpy(heavy))
    codes = codes.numpy().astype(np.float64)
    deq = codes * scale.numpy().astype(np.float32)[:, None].astype(np.float64)
    w = heavy.astype(np.float64)
    close(q["mse"], ((w - deq) ** 2).mean(), 1e-6, "mse")
    close(q["sqnr_db"], 10 * np.log10((w ** 2).sum() / ((w - deq) ** 2).sum()), 1e-6, "sqnr")
    assert np.allclose(q["code_std"], codes.std(axis=1, ddof=1), rtol=1e-5), "code_std"
    assert q["channels_below_threshold"] == int((codes.std(axis=1, ddof=1) < 20).sum())
    aiu = stats(args.cli, path, "--tensor", "heavy.weight", "--scheme", "aiu-int8")["heavy.weight"]
    assert len(aiu["code_std_before"]) == 300 and aiu["recomputed_rows"] > 0
    assert aiu["channels_below_threshold"] <= aiu["channels_below_threshold_before"]

    # bf16 weights of the demo model, and the comparison with its NxD export: the difference
    # equals the error the scheme predicts (up to the float partial sums of the quantizer).
    _, source = st.read(os.path.join(demo, "model.safetensors"))
    name = "model.layers.1.mlp.up_proj.weight"
    dtype, shape, raw = source[name]
    check_values(stats(args.cli, demo, "--tensor", name)[name], st.to_numpy(dtype, shape, raw), name)
    out = os.path.join(args.workdir, "nxd")
    subprocess.run([args.cli, "convert", demo, "-o", out, "--format", "nxd"], check=True, stdout=subprocess.DEVNULL)
    predicted = stats(args.cli, demo, "--tensor", name, "--scheme", "nxd-int8")[name]
    compared = stats(args.cli, demo, "--tensor", name, "--compare", out)[name]["compare"]
    assert compared["stored_quantization_b"] == "nxd" and compared["same_shape"]
    close(compared["difference"]["sqnr_db"], predicted["sqnr_db"], 1e-7, "compare sqnr")
    close(compared["difference"]["mse"], predicted["mse"], 1e-7, "compare mse")
    print("stats interop: OK")


if __name__ == "__main__":
    main()
