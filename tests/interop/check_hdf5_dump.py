#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Interop check of the HDF5 dump with Debian's h5py and numpy: the documented layout
(core/export/hdf5_exporter.h), codes and scales that dequantize within one quantization step of
the stored originals, per-group scales with a ragged last group, statistics that add up, and
gzip-compressed chunked datasets."""
import json
import os
import subprocess
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interop_common  # noqa: E402
import safetensors_numpy as st  # noqa: E402


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def main():
    args, src = interop_common.setup()
    _, source = st.read(os.path.join(src, "model.safetensors"))
    for preset, group in (("vllm-w4a16", 128), ("nanogpt-affine", None)):
        out = os.path.join(args.workdir, preset)
        subprocess.run([args.cli, "convert", src, "-o", out, "--format", "hdf5", "--scheme", preset, "--hdf5-original",
                        "--keep", "lm_head"], check=True, stdout=subprocess.DEVNULL)
        with h5py.File(os.path.join(out, "quantscope_dump.h5"), "r") as f:
            assert text(f.attrs["layout"]) == "quantscope-dump" and int(f.attrs["layout_version"]) == 1
            assert json.loads(text(f.attrs["scheme"]))["name"] == preset
            assert set(f.keys()) == {"tensors", "kept", "activations"}
            assert len(f["tensors"]) == 28, len(f["tensors"])  # 29 Linear weights, lm_head kept
            assert "lm_head.weight" in f["kept"] and "model.norm.weight" in f["kept"]
            for name, g in f["tensors"].items():
                dtype, shape, raw = source[name]
                w = st.to_numpy(dtype, shape, raw).astype(np.float32)
                assert np.array_equal(g["original"][()], w), name
                codes = g["codes"][()]
                assert codes.dtype == np.int8 and codes.shape == shape
                if codes.nbytes >= 64 * 1024:  # small datasets are stored contiguous
                    assert g["codes"].compression == "gzip" and g["codes"].chunks is not None
                scale = g["scale"][()]
                zp = g["zero_point"][()] if "zero_point" in g else np.zeros_like(scale)
                if group:
                    assert scale.shape == (shape[0], -(-shape[1] // group)), (name, scale.shape)
                    s = np.repeat(scale, group, axis=1)[:, :shape[1]]
                    z = np.repeat(zp, group, axis=1)[:, :shape[1]]
                else:
                    assert scale.shape == (), scale.shape  # per tensor
                    s, z = scale, zp
                deq = (codes.astype(np.float32) - z) * s
                assert np.all(np.abs(deq - w) <= np.broadcast_to(s, w.shape) * 1.0001), name
                hist = g["code_histogram"][()]
                assert hist.sum() == codes.size
                assert g["code_std"].shape == (shape[0],)
                for attr in ("mse", "sqnr_db", "max_abs_error", "cosine", "clipped_fraction", "code_type", "scheme"):
                    assert attr in g.attrs, (name, attr)
                mse = float(np.mean((deq.astype(np.float64) - w) ** 2))
                assert abs(float(g.attrs["mse"]) - mse) <= 1e-3 * mse + 1e-12, (name, float(g.attrs["mse"]), mse)
        print(f"OK: {preset}: 28 tensors with codes, scales, statistics and originals")


if __name__ == "__main__":
    main()
