#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Interop check of the compressed-tensors export, from the other side.

Writes the demo model, converts it with quantscope-cli for each vLLM preset (and once with
per-module schemes: a mixed-precision checkpoint of two config groups), then reads the
output with a numpy-only safetensors parser and checks what vLLM's compressed-tensors loader
expects (../shared/reference/vllm_compressed_tensors.md):
  - config.json keeps the source config and adds quantization_config: quant_method, format,
    quantization_status "compressed", config_groups with only the QuantizationArgs fields every
    vLLM release accepts (no scale_dtype / zp_dtype), ignore = the kept Linear modules;
  - int8 / fp8 weights with the source shape, or pack-quantized int32 words + weight_shape;
    weight_scale in the model's dtype with shape [N, 1] or [N, groups]; no zero points;
  - dequantized weights within one quantization step of the source values; the int8 codes
    equal Debian torch's compressed-tensors math in bf16 (clamp, then round half to even);
  - kept Linears and every other tensor byte-identical; recipe.yaml present.
"""
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interop_common  # noqa: E402
import safetensors_numpy as st  # noqa: E402

KEEP = ["lm_head", "layers.3.mlp"]
ALLOWED_ARGS = {"num_bits", "type", "symmetric", "group_size", "strategy", "block_structure", "dynamic", "actorder",
                "observer", "observer_kwargs"}


def e4m3_values():
    """All 256 float8 e4m3fn values, from the format's definition (bias 7, no infinities)."""
    out = np.zeros(256, dtype=np.float64)
    for code in range(256):
        sign = -1.0 if code & 0x80 else 1.0
        exp = (code >> 3) & 0xF
        man = code & 0x7
        if exp == 0xF and man == 0x7:
            out[code] = np.nan
        elif exp == 0:
            out[code] = sign * man / 8.0 * 2.0 ** -6
        else:
            out[code] = sign * (1 + man / 8.0) * 2.0 ** (exp - 7)
    return out


def check(cli, src_dir, work, preset, fmt, bits, group, fp8):
    out_dir = os.path.join(work, preset)
    cmd = [cli, "convert", src_dir, "-o", out_dir, "--format", "compressed-tensors", "--scheme", preset]
    for k in KEEP:
        cmd += ["--keep", k]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(src_dir, "config.json")) as f:
        src_config = json.load(f)
    with open(os.path.join(out_dir, "config.json")) as f:
        config = json.load(f)
    for key, value in src_config.items():
        assert config[key] == value, key
    q = config["quantization_config"]
    assert q["quant_method"] == "compressed-tensors" and q["quantization_status"] == "compressed"
    assert q["format"] == fmt, (preset, q["format"])
    group0 = q["config_groups"]["group_0"]
    assert group0["targets"] == ["Linear"] and group0["format"] == fmt
    for args in (group0["weights"], group0["input_activations"]):
        if args is not None:
            assert set(args) <= ALLOWED_ARGS, set(args) - ALLOWED_ARGS
    assert group0["weights"]["num_bits"] == bits
    assert os.path.exists(os.path.join(out_dir, "recipe.yaml"))

    _, src = st.read(os.path.join(src_dir, "model.safetensors"))
    _, out = st.read(os.path.join(out_dir, "model.safetensors"))
    lut = e4m3_values()
    ignored = []
    quantized = 0
    for name, (dtype, shape, raw) in src.items():
        module = name.rsplit(".", 1)[0]
        linear = name.endswith(".weight") and len(shape) == 2 and "embed" not in module
        if not linear or any(k in module for k in KEEP):
            assert out[name] == (dtype, shape, raw), name + " changed although it was not quantized"
            if linear:
                ignored.append(module)
            continue
        check_weight(name, (dtype, shape, raw), out, fmt, bits, group, fp8, lut)
        quantized += 1
    assert sorted(q["ignore"]) == sorted(ignored), (q["ignore"], ignored)
    return quantized


def check_weight(name, source, out, fmt, bits, group, fp8, lut):
    """One quantized weight: its tensors as `fmt` lays them out, within one step of the source."""
    dtype, shape, raw = source
    module = name.rsplit(".", 1)[0]
    w = st.to_numpy(dtype, shape, raw).astype(np.float32)
    n, k = shape
    s_dtype, s_shape, s_raw = out[module + ".weight_scale"]
    groups = 1 if group is None else -(-k // group)
    assert s_dtype == dtype and s_shape == (n, groups), (name, s_dtype, s_shape)
    scale = st.to_numpy(s_dtype, s_shape, s_raw).astype(np.float32)
    assert module + ".weight_zero_point" not in out, "symmetric zero point written"
    if fmt == "pack-quantized":
        p_dtype, p_shape, p_raw = out[module + ".weight_packed"]
        assert p_dtype == "I32" and p_shape == (n, -(-k * bits // 32)), (name, p_shape)
        sh = out[module + ".weight_shape"]
        assert sh[0] == "I64" and sh[1] == (2,) and list(st.to_numpy(*sh)) == [n, k]
        assert name not in out
        codes = interop_common.unpack(st.to_numpy(p_dtype, p_shape, p_raw), bits, k)
        values = codes.astype(np.float32)
    else:
        c_dtype, c_shape, c_raw = out[name]
        assert c_shape == shape and c_dtype == ("F8_E4M3" if fp8 else "I8"), (name, c_dtype)
        if fp8:
            values = lut[np.frombuffer(c_raw, dtype=np.uint8).reshape(shape)].astype(np.float32)
            assert not np.isnan(values).any()
            assert np.abs(values).max() <= 448
        else:
            codes = np.frombuffer(c_raw, dtype=np.int8).reshape(shape)
            values = codes.astype(np.float32)
    expanded = np.repeat(scale, group or k, axis=1)[:, :k]
    deq = values * expanded
    err = np.abs(deq - w)
    if fp8:  # within one e4m3 step: 2^-3 of the value, or the subnormal spacing
        bound = np.maximum(np.abs(w) * 2.0 ** -3, expanded * 2.0 ** -9) * 1.01 + 1e-12
    else:  # within one quantization step
        bound = expanded * 1.0001
    assert np.all(err <= bound), (name, float((err - bound).max()))
    if not fp8:
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        assert codes.min() >= lo and codes.max() <= hi


def check_mixed(cli, src_dir, work):
    """Per-module schemes: int8 W8A8 by default, int4 W4A16 for layer 1's MLP, one config group per
    scheme with exact module names and its own format, the top-level format mixed-precision."""
    out_dir = os.path.join(work, "mixed")
    cmd = [cli, "convert", src_dir, "-o", out_dir, "--format", "compressed-tensors", "--scheme", "vllm-w8a8-int8",
           "--quantize", "layers.1.mlp=vllm-w4a16"]
    for k in KEEP:
        cmd += ["--keep", k]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out_dir, "config.json")) as f:
        q = json.load(f)["quantization_config"]
    assert q["format"] == "mixed-precision", q["format"]
    groups = q["config_groups"]
    assert sorted(groups) == ["group_0", "group_1"], sorted(groups)
    g0, g1 = groups["group_0"], groups["group_1"]
    assert g0["format"] == "int-quantized" and g1["format"] == "pack-quantized", (g0["format"], g1["format"])
    assert sorted(g1["targets"]) == [f"model.layers.1.mlp.{p}" for p in ("down_proj", "gate_proj", "up_proj")]
    assert "Linear" not in g0["targets"] and not set(g0["targets"]) & set(g1["targets"])
    assert g0["weights"]["num_bits"] == 8 and g0["input_activations"]["dynamic"] is True
    assert g1["weights"]["num_bits"] == 4 and g1["weights"]["group_size"] == 128 and g1["input_activations"] is None
    _, src = st.read(os.path.join(src_dir, "model.safetensors"))
    _, out = st.read(os.path.join(out_dir, "model.safetensors"))
    lut = e4m3_values()
    for module in g0["targets"]:
        check_weight(module + ".weight", src[module + ".weight"], out, "int-quantized", 8, None, False, lut)
    for module in g1["targets"]:
        check_weight(module + ".weight", src[module + ".weight"], out, "pack-quantized", 4, 128, False, lut)
    assert len(g0["targets"]) + len(g1["targets"]) == 29 - 4
    assert sorted(q["ignore"]) == sorted(["lm_head"] + [f"model.layers.3.mlp.{p}" for p in ("down_proj", "gate_proj", "up_proj")]), q["ignore"]
    with open(os.path.join(out_dir, "recipe.yaml")) as f:
        recipe = f.read()
    assert "group_1:" in recipe and '"model.layers.1.mlp.down_proj"' in recipe, recipe
    return len(g0["targets"]) + len(g1["targets"])


def torch_bitexact(src_dir, out_dir):
    """vllm-w8a8-int8 on a bf16 model: the codes llm-compressor's math gives in bf16."""
    try:
        import torch
    except ImportError:
        print("SKIP part: python3-torch missing")
        return
    _, src = st.read(os.path.join(src_dir, "model.safetensors"))
    _, out = st.read(os.path.join(out_dir, "model.safetensors"))
    checked = 0
    for name, (dtype, shape, raw) in src.items():
        module = name.rsplit(".", 1)[0]
        if name + "" not in out or module + ".weight_scale" not in out or dtype != "BF16":
            continue
        bits = np.frombuffer(raw, dtype="<u2").astype(np.int16)
        w = torch.from_numpy(bits.copy()).view(torch.bfloat16).reshape(shape)
        absmax = torch.maximum(w.amin(1, keepdim=True).clamp(max=0).abs(), w.amax(1, keepdim=True).clamp(min=0))
        scale = absmax / 127.5
        ref = torch.round(torch.clamp(w / scale, -128, 127)).to(torch.int8).numpy()
        codes = np.frombuffer(out[name][2], dtype=np.int8).reshape(shape)
        assert np.array_equal(ref, codes), (name, int((ref != codes).sum()))
        s_bits = np.frombuffer(out[module + ".weight_scale"][2], dtype="<u2")
        assert np.array_equal(scale.view(torch.int16).numpy().reshape(-1).astype(np.uint16), s_bits), name
        checked += 1
    assert checked > 0
    print(f"OK: {checked} int8 weights bit-identical to torch's bf16 compressed-tensors math")


def bf16_round(x):
    """float32 -> nearest bfloat16 (ties to even) -> float32."""
    u = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
    return u.astype(np.uint32).view(np.float32)


def nearest_e4m3(values, lut):
    """Round to the nearest finite e4m3fn code, ties to the even code (the torch cast)."""
    finite = np.where(np.isnan(lut), np.inf, lut)
    out = np.empty(values.shape, dtype=np.uint8)
    flat = values.reshape(-1)
    for i, v in enumerate(flat):
        d = np.abs(finite - v)
        best = np.flatnonzero(d == d.min())
        best = [c for c in best if (c & 0x80) == (0x80 if np.signbit(v) else 0)] or list(best)
        even = [c for c in best if c % 2 == 0]
        out.reshape(-1)[i] = (even or best)[0]
    return out


def check_rescale(cli, fp8_dir, work):
    """The Neuron document's 448 -> 240 rescaling of an fp8 checkpoint."""
    out_dir = os.path.join(work, "rescaled")
    subprocess.run([cli, "convert", fp8_dir, "-o", out_dir, "--format", "nxd-fp8-rescale"], check=True,
                   stdout=subprocess.DEVNULL)
    _, before = st.read(os.path.join(fp8_dir, "model.safetensors"))
    _, after = st.read(os.path.join(out_dir, "model.safetensors"))
    lut = e4m3_values()
    factor = np.float32(448.0 / 240.0)
    rescaled = 0
    for name, (dtype, shape, raw) in before.items():
        if dtype == "F8_E4M3":
            old = lut[np.frombuffer(raw, dtype=np.uint8)].astype(np.float32)
            expected = nearest_e4m3(bf16_round(old / factor), lut) if rescaled == 0 else None
            new = np.frombuffer(after[name][2], dtype=np.uint8)
            assert after[name][:2] == (dtype, shape)
            if expected is not None:  # one tensor element by element (the search is slow in Python)
                assert np.array_equal(expected, new), (name, int((expected != new).sum()))
            assert np.abs(lut[new]).max() <= 240.0
            module = name[:-len(".weight")]
            s_dtype, s_shape, s_raw = before[module + ".weight_scale"]
            old_scale = st.to_numpy(s_dtype, s_shape, s_raw).astype(np.float32)
            new_scale = st.to_numpy(*after[module + ".weight_scale"]).astype(np.float32)
            assert np.array_equal(new_scale, bf16_round(old_scale * factor)), module
            prod_old = old.reshape(shape) * old_scale
            prod_new = lut[new].reshape(shape) * new_scale
            assert np.all(np.abs(prod_new - prod_old) <= np.abs(prod_old) * 2.0 ** -3 + new_scale * 2.0 ** -9)
            rescaled += 1
        elif not name.endswith(".weight_scale"):
            assert after[name] == (dtype, shape, raw), name
    assert rescaled == 25, rescaled
    print(f"OK: nxd-fp8-rescale: {rescaled} fp8 weights rescaled to +-240, scales by 448/240")


def main():
    args, src_dir = interop_common.setup()
    cases = [
        ("vllm-w8a8-int8", "int-quantized", 8, None, False),
        ("vllm-fp8-dynamic", "float-quantized", 8, None, True),
        ("vllm-w4a16", "pack-quantized", 4, 128, False),
        ("vllm-w8a16", "pack-quantized", 8, None, False),
    ]
    for preset, fmt, bits, group, fp8 in cases:
        n = check(args.cli, src_dir, args.workdir, preset, fmt, bits, group, fp8)
        assert n == 29 - 4, n  # 29 Linear modules; lm_head and the 3 MLP projections of layer 3 kept
        print(f"OK: {preset} ({fmt}): {n} quantized weights")
    n = check_mixed(args.cli, src_dir, args.workdir)
    print(f"OK: mixed precision (int8 W8A8 + int4 W4A16 for layers.1.mlp): {n} quantized weights in two groups")
    torch_bitexact(src_dir, os.path.join(args.workdir, "vllm-w8a8-int8"))
    check_rescale(args.cli, os.path.join(args.workdir, "vllm-fp8-dynamic"), args.workdir)


if __name__ == "__main__":
    main()
