#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Interop check of the NxD export, from the other side.

Writes the demo model and converts it with quantscope-cli, then reads both with a numpy-only
safetensors parser and checks, tensor by tensor:
  - Linear weights that were not kept: int8 codes with the source shape plus a float32
    [out, 1] `.scale`; codes * scale within half a quantization step of the source values;
  - the same codes and scales as Debian's PyTorch computes with NxD's recipe
    (PerChannelAbsMaxObserver + torch.quantize_per_channel), bit for bit;
  - every other tensor (kept Linears, norms, embeddings) byte-identical to the source;
  - modules_to_not_convert.json in NxD's flat shape.
"""
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interop_common  # noqa: E402
import safetensors_numpy as st  # noqa: E402

KEEP = ["lm_head", "layers.3.mlp", "layers.1.self_attn.q_proj"]


def kept(module):
    return any(pattern in module for pattern in KEEP)


def main():
    args, src_dir = interop_common.setup()
    out_dir = os.path.join(args.workdir, "nxd")
    cmd = [args.cli, "convert", src_dir, "-o", out_dir, "--format", "nxd"]
    for k in KEEP:
        cmd += ["--keep", k]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)

    _, src = st.read(os.path.join(src_dir, "model.safetensors"))
    meta, out = st.read(os.path.join(out_dir, "model.safetensors"))
    assert meta.get("format") == "pt", meta

    try:
        import torch
    except ImportError:
        torch = None
        print("SKIP part: python3-torch missing, bit-exact comparison with torch not run")

    quantized = 0
    for name, (dtype, shape, raw) in src.items():
        module = name.rsplit(".", 1)[0]
        linear = name.endswith(".weight") and len(shape) == 2 and "embed" not in module
        if linear and not kept(module):
            q_dtype, q_shape, q_raw = out[name]
            s_dtype, s_shape, s_raw = out[module + ".scale"]
            assert q_dtype == "I8" and q_shape == shape, (name, q_dtype, q_shape)
            assert s_dtype == "F32" and s_shape == (shape[0], 1), (name, s_dtype, s_shape)
            w = st.to_numpy(dtype, shape, raw).astype(np.float32)
            codes = st.to_numpy(q_dtype, q_shape, q_raw)
            scale = st.to_numpy(s_dtype, s_shape, s_raw)
            err = np.abs(codes.astype(np.float32) * scale - w)
            assert np.all(err <= scale * 0.5001), (name, float(err.max()))
            assert codes.min() >= -128 and codes.max() <= 127
            if torch is not None:
                wt = torch.from_numpy(w.copy())
                ref_scale = torch.clamp(wt.abs().amax(dim=1) / 127, min=torch.finfo(torch.float32).eps)
                ref = torch.quantize_per_channel(wt, ref_scale.double(), torch.zeros(shape[0], dtype=torch.long), 0,
                                                 torch.qint8).int_repr().numpy()
                assert np.array_equal(ref, codes), (name, int((ref != codes).sum()))
                assert np.array_equal(ref_scale.numpy(), scale.reshape(-1)), name
            quantized += 1
        else:
            assert module + ".scale" not in out, name
            assert out[name] == (dtype, shape, raw), name + " changed although it was not quantized"
    assert quantized == 29 - 5, quantized  # 29 Linear modules; KEEP keeps lm_head, 3 MLP and 1 attention projection
    assert len(out) == len(src) + quantized

    with open(os.path.join(out_dir, "modules_to_not_convert.json")) as f:
        assert json.load(f) == {"modules_to_not_convert": KEEP}
    # The other two shapes NxD's inference_demo reads.
    for shape, expected in (("model", {"model": {"modules_to_not_convert": KEEP}}),
                            ("draft", {"model": {"modules_to_not_convert": KEEP},
                                       "draft_model": {"modules_to_not_convert": KEEP}})):
        shaped = os.path.join(args.workdir, "nxd-" + shape)
        cmd = [args.cli, "convert", src_dir, "-o", shaped, "--format", "nxd", "--nxd-keep-shape", shape]
        for k in KEEP:
            cmd += ["--keep", k]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(shaped, "modules_to_not_convert.json")) as f:
            assert json.load(f) == expected, shape
    print(f"OK: {quantized} quantized weights checked against numpy" + (" and torch" if torch else ""))


if __name__ == "__main__":
    main()
