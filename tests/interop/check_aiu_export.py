#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Interop check of the IBM AIU export (fms-mo save_for_aiu layout), from the other side.

Generates a small RoBERTa-shaped checkpoint (safetensors + config.json, model_type roberta)
whose weights include narrow rows (one spike over a tight bulk), converts it with
quantscope-cli --format aiu, loads qmodel_for_aiu.pt with Debian's torch.load(weights_only=True)
and runs the validation snippet of the fms-mo document (../shared/sources/000_...): every
quantized layer's `.weight` is int8, everything else float16; with narrow-weight
recomputation most per-channel std values of the int weights exceed 20. Also checks clip_val /
clip_valn, the dequantized values, qcfg.json, and that lm_head stays float16.
"""
import json
import os
import struct
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interop_common  # noqa: E402

ROBERTA_QLAYERS = ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
                   "intermediate.dense", "output.dense"]


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        raw = array.astype(np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def roberta(folder, layers=2, hidden=256, inter=1024, vocab=100):
    rng = np.random.default_rng(7)
    t = {}
    def linear(name, out, inp, narrow=False):
        w = rng.normal(0, 0.02, (out, inp))
        if narrow:  # fms-mo's test_large_outlier_bert: one outlier column, so abs-max codes are narrow
            w = rng.normal(0, 0.04, (out, inp))
            w[:, 0] = 1.21
        t[name + ".weight"] = w
        t[name + ".bias"] = rng.normal(0, 0.01, (out,))
    t["roberta.embeddings.word_embeddings.weight"] = rng.normal(0, 0.02, (vocab, hidden))
    t["roberta.embeddings.position_embeddings.weight"] = rng.normal(0, 0.02, (130, hidden))
    t["roberta.embeddings.token_type_embeddings.weight"] = rng.normal(0, 0.02, (1, hidden))
    t["roberta.embeddings.LayerNorm.weight"] = np.ones(hidden)
    t["roberta.embeddings.LayerNorm.bias"] = np.zeros(hidden)
    for i in range(layers):
        p = f"roberta.encoder.layer.{i}."
        linear(p + "attention.self.query", hidden, hidden)
        linear(p + "attention.self.key", hidden, hidden)
        linear(p + "attention.self.value", hidden, hidden)
        linear(p + "attention.output.dense", hidden, hidden)
        t[p + "attention.output.LayerNorm.weight"] = np.ones(hidden)
        t[p + "attention.output.LayerNorm.bias"] = np.zeros(hidden)
        linear(p + "intermediate.dense", inter, hidden)
        linear(p + "output.dense", hidden, inter, narrow=True)
        t[p + "output.LayerNorm.weight"] = np.ones(hidden)
        t[p + "output.LayerNorm.bias"] = np.zeros(hidden)
    linear("lm_head.dense", hidden, hidden)
    t["lm_head.layer_norm.weight"] = np.ones(hidden)
    t["lm_head.layer_norm.bias"] = np.zeros(hidden)
    t["lm_head.decoder.weight"] = rng.normal(0, 0.02, (vocab, hidden))
    t["lm_head.bias"] = np.zeros(vocab)
    os.makedirs(folder)
    write_safetensors(os.path.join(folder, "model.safetensors"), t)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"model_type": "roberta", "architectures": ["RobertaForCausalLM"], "hidden_size": hidden,
                   "num_hidden_layers": layers, "intermediate_size": inter, "vocab_size": vocab,
                   "num_attention_heads": 4, "max_position_embeddings": 130, "type_vocab_size": 1,
                   "layer_norm_eps": 1e-5, "pad_token_id": 1, "hidden_act": "gelu"}, f)
    return t


def main():
    args, _ = interop_common.setup(with_demo=False)
    src = os.path.join(args.workdir, "roberta")
    source = roberta(src)
    out = os.path.join(args.workdir, "aiu")
    subprocess.run([args.cli, "convert", src, "-o", out, "--format", "aiu"], check=True, stdout=subprocess.DEVNULL)

    sd = torch.load(os.path.join(out, "qmodel_for_aiu.pt"), weights_only=True)
    assert isinstance(sd, dict)
    # The fms-mo document's validation snippet, verbatim in substance.
    assert all(v.dtype == torch.int8 for k, v in sd.items()
               if any(n in k for n in ROBERTA_QLAYERS) and k.endswith(".weight"))
    assert all(v.dtype == torch.float16 for k, v in sd.items()
               if all(n not in k for n in ROBERTA_QLAYERS) or not k.endswith(".weight"))
    stds = [v.to(torch.float32).std(dim=-1) for k, v in sd.items()
            if k.endswith(".weight") and any(n in k for n in ROBERTA_QLAYERS)]
    assert len(stds) == 2 * 6, len(stds)
    all_stds = torch.cat(stds)
    share = float((all_stds > 20).float().mean())
    assert share > 0.5, f"only {share:.2f} of the per-channel stds exceed 20"

    quantized = 0
    for k, v in sd.items():
        if not (k.endswith(".weight") and any(n in k for n in ROBERTA_QLAYERS)):
            if k in source:
                assert torch.equal(v, torch.from_numpy(source[k].astype(np.float32).astype(np.float16))), k
            continue
        layer = k[:-len(".weight")]
        cv, cvn = sd[layer + ".quantize_weight.clip_val"], sd[layer + ".quantize_weight.clip_valn"]
        assert cv.dtype == torch.float16 and cv.shape == (v.shape[0],), (layer, cv.dtype, cv.shape)
        assert torch.equal(cvn, -cv)
        assert int(v.min()) >= -127 and int(v.max()) <= 127
        w = torch.from_numpy(source[k].astype(np.float32))
        scale = cv.float().unsqueeze(1) / 127
        deq = v.float() * scale
        inside = w.abs() <= cv.float().unsqueeze(1)  # values beyond a SAWB clip saturate by design
        err = (deq - w).abs()[inside]
        assert bool((err <= scale.expand_as(w)[inside] * 1.01).all()), layer
        quantized += 1
    assert quantized == 12, quantized
    # The narrow layers were recomputed with SAWB: their int codes now spread far wider than
    # the abs-max codes would (std about 6 before, about 9.5 after: "not a guarantee" of 20).
    for i in range(2):
        k = f"roberta.encoder.layer.{i}.output.dense.weight"
        w = torch.from_numpy(source[k].astype(np.float32))
        before = torch.clamp(127 / w.abs().amax(1, keepdim=True) * w, -127, 127).round().std(dim=-1).mean()
        after = sd[k].float().std(dim=-1).mean()
        assert before < 20 and after > 1.5 * before, (k, float(before), float(after))
    assert sd["lm_head.dense.weight"].dtype == torch.float16 and "lm_head.dense.quantize_weight.clip_val" not in sd

    with open(os.path.join(out, "qcfg.json")) as f:
        qcfg = json.load(f)
    for key in ("qa_mode", "qw_mode", "smoothq", "smoothq_scale_layers", "qskip_layer_name", "qskip_large_mag_layers",
                "recompute_narrow_weights", "date", "pkg_versions"):
        assert key in qcfg, key
    assert qcfg["qw_mode"] == "maxperCh" and qcfg["qa_mode"] == "pertokenmax" and qcfg["recompute_narrow_weights"]
    assert "lm_head.decoder" in qcfg["qskip_layer_name"] and "lm_head.dense" in qcfg["qskip_layer_name"]
    print(f"OK: {quantized} int8 layers; {share:.0%} of per-channel stds above 20; the rest float16")
    check_smoothquant(args, src, source)
    check_without_recomputation(args, src, source)


def check_without_recomputation(args, src, source):
    """--no-recompute-narrow-weights turns aiu-int8's recomputation off (fms-mo's flag is opt-in):
    qcfg.json says so and the narrow layers keep their abs-max codes."""
    out = os.path.join(args.workdir, "aiu-no-recompute")
    r = subprocess.run([args.cli, "convert", src, "-o", out, "--format", "aiu", "--no-recompute-narrow-weights",
                        "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["scheme"]["recompute_narrow_weights"] is False
    with open(os.path.join(out, "qcfg.json")) as f:
        assert json.load(f)["recompute_narrow_weights"] is False
    sd = torch.load(os.path.join(out, "qmodel_for_aiu.pt"), weights_only=True)
    for i in range(2):
        k = f"roberta.encoder.layer.{i}.output.dense.weight"
        w = torch.from_numpy(source[k].astype(np.float32))
        absmax = torch.clamp(127 / w.abs().amax(1, keepdim=True) * w, -127, 127).round()
        assert int((sd[k].float() - absmax).abs().max()) <= 1, k  # fp16 clip values: a code step at most
    r = subprocess.run([args.cli, "convert", src, "-o", out + "-both", "--format", "aiu", "--recompute-narrow-weights",
                        "--no-recompute-narrow-weights"], capture_output=True, text=True)
    assert r.returncode == 2 and "exclude each other" in r.stderr, r.stderr
    print("OK: --no-recompute-narrow-weights: qcfg.json false, abs-max codes on the narrow layers")


SMOOTHQ_LAYERS = ["attention.self.query", "attention.self.key", "attention.self.value", "intermediate.dense"]


def check_smoothquant(args, src, source):
    """fms-mo's DQ flow with SmoothQuant on (smoothq_alpha 0.65, its default): smoothq_scale float16 [in]
    on exactly the SmoothQuant layers, their int8 codes the rounding of W * s against clip/127, and
    qcfg.json saying so; the document's validation snippet still holds."""
    data = os.path.join(args.workdir, "calibration.json")
    rng = np.random.default_rng(1)
    with open(data, "w") as f:
        json.dump([int(x) for x in rng.integers(5, 100, 600)], f)
    out = os.path.join(args.workdir, "aiu-smoothq")
    r = subprocess.run([args.cli, "convert", src, "-o", out, "--format", "aiu", "--smoothquant", "0.65",
                        "--calibration-data", data, "--calibration-samples", "4", "--calibration-seq-len", "64",
                        "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["calibration"]["smoothed_modules"] == 2 * 4, report["calibration"]
    sd = torch.load(os.path.join(out, "qmodel_for_aiu.pt"), weights_only=True)
    assert all(v.dtype == torch.int8 for k, v in sd.items()
               if any(n in k for n in ROBERTA_QLAYERS) and k.endswith(".weight"))
    assert all(v.dtype == torch.float16 for k, v in sd.items()
               if all(n not in k for n in ROBERTA_QLAYERS) or not k.endswith(".weight"))
    scaled = [k for k in sd if k.endswith(".smoothq_scale")]
    assert len(scaled) == 8 and all(any(n in k for n in SMOOTHQ_LAYERS) for k in scaled), scaled
    for k in scaled:
        layer = k[:-len(".smoothq_scale")]
        s = sd[k]
        w = torch.from_numpy(source[layer + ".weight"].astype(np.float32))
        assert s.dtype == torch.float16 and s.shape == (w.shape[1],), (k, s.dtype, s.shape)
        # fms-mo: s = a^alpha / max_o|W|^(1-alpha); a > 0, so s is not 1 everywhere.
        assert bool((s > 0).all()) and float(s.float().std()) > 0, k
        cv = sd[layer + ".quantize_weight.clip_val"].float().unsqueeze(1)
        ws = w * s.float().unsqueeze(0)
        expected = torch.clamp(127 / cv * ws, -127, 127).round()
        # s is stored in float16 while fms-mo rounds W * s with the float32 s: a code step at most.
        assert int((expected - sd[layer + ".weight"].float()).abs().max()) <= 1, layer
        assert torch.allclose(cv.squeeze(1), ws.abs().amax(1), rtol=2e-3), layer  # maxperCh of W * s
    for k in sd:
        if k.endswith(".weight") and any(n in k for n in ROBERTA_QLAYERS) and not any(n in k for n in SMOOTHQ_LAYERS):
            assert k[:-len(".weight")] + ".smoothq_scale" not in sd, k
    with open(os.path.join(out, "qcfg.json")) as f:
        qcfg = json.load(f)
    assert qcfg["smoothq"] is True and qcfg["smoothq_alpha"] == 0.65, qcfg
    assert qcfg["smoothq_scale_layers"] == SMOOTHQ_LAYERS, qcfg["smoothq_scale_layers"]
    print(f"OK: fms-mo SmoothQuant: smoothq_scale float16 on {len(scaled)} layers, codes of W * s, qcfg smoothq true")


if __name__ == "__main__":
    main()
