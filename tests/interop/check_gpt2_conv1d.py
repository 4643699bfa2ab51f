#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""GPT-2's Conv1D projections (attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj: weights stored
[in, out], y = x W + b) are Linear modules to QuantScope, checked on a small Hugging Face GPT-2
folder trained here with Debian's torch on the TinyStories sample (character vocabulary):

  - `select --json` lists the four Conv1D modules of every layer as quantizable;
  - `eval --scheme` quantizes them (4 per layer) and moves the perplexity;
  - NxD: each is written as the Linear weight [out, in] with codes and scales equal to NxD's
    per-channel quantizer applied to the transposed weight (reference_quantizers.py);
  - compressed-tensors int8 (W8A8): `.weight` keeps the stored [in, out] layout, because vLLM's
    GPT-2 loader transposes every c_attn/c_proj/c_fc `.weight` it reads; after that transpose the
    codes and the [out, 1] scales equal compressed-tensors' quantizer on the transposed weight;
  - compressed-tensors int4 (W4A16, pack-quantized): `.weight_packed` [out, in/8] with
    weight_shape [out, in], which vLLM's loader does not transpose;
  - AIU: refused with the reason (fms-mo's save_for_aiu does not take model type gpt2).
"""
import json
import math
import os
import struct
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interop_common  # noqa: E402
import reference_quantizers as ref  # noqa: E402
import safetensors_numpy as st  # noqa: E402

TEXT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "models", "stories260K",
                    "tinystories_valid_sample10.txt")
H, LAYERS, HEADS, CTX = 32, 2, 4, 64
CONV1D = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")


def fail(message):
    print("FAIL: " + message, flush=True)
    sys.exit(1)


def gpt2_forward(p, ids):
    """Hugging Face GPT-2 semantics: Conv1D x @ W + b, pre-LN, tanh GELU, tied head."""
    T = ids.shape[1]
    x = p["transformer.wte.weight"][ids] + p["transformer.wpe.weight"][:T]
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    for i in range(LAYERS):
        b = f"transformer.h.{i}."

        def ln(h, name):
            return F.layer_norm(h, (H,), p[b + name + ".weight"], p[b + name + ".bias"], 1e-5)

        def conv1d(h, name):
            return h @ p[b + name + ".weight"] + p[b + name + ".bias"]

        q, k, v = conv1d(ln(x, "ln_1"), "attn.c_attn").split(H, -1)
        q, k, v = (t.view(-1, T, HEADS, H // HEADS).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-1, -2)) / math.sqrt(H // HEADS)
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        x = x + conv1d((att @ v).transpose(1, 2).reshape(-1, T, H), "attn.c_proj")
        x = x + conv1d(F.gelu(conv1d(ln(x, "ln_2"), "mlp.c_fc"), approximate="tanh"), "mlp.c_proj")
    x = F.layer_norm(x, (H,), p["transformer.ln_f.weight"], p["transformer.ln_f.bias"], 1e-5)
    return x @ p["transformer.wte.weight"].T


def train(folder):
    text = open(TEXT, encoding="utf-8").read()
    chars = sorted(set(text))
    data = torch.tensor([chars.index(c) for c in text])
    V = len(chars)
    g = torch.Generator().manual_seed(7)
    p = {"transformer.wte.weight": torch.randn(V, H, generator=g) * 0.1,
         "transformer.wpe.weight": torch.randn(CTX, H, generator=g) * 0.02,
         "transformer.ln_f.weight": torch.ones(H), "transformer.ln_f.bias": torch.zeros(H)}
    for i in range(LAYERS):
        b = f"transformer.h.{i}."
        for name in ("ln_1", "ln_2"):
            p[b + name + ".weight"], p[b + name + ".bias"] = torch.ones(H), torch.zeros(H)
        for name, (inp, out) in zip(CONV1D, ((H, 3 * H), (H, H), (H, 4 * H), (4 * H, H))):
            p[b + name + ".weight"] = torch.randn(inp, out, generator=g) * 0.08  # Conv1D: [in, out]
            p[b + name + ".bias"] = torch.zeros(out)
    for t in p.values():
        t.requires_grad_(True)
    opt = torch.optim.Adam(p.values(), lr=3e-3)
    split = len(data) * 9 // 10
    for step in range(300):
        starts = torch.randint(0, split - CTX - 1, (16,), generator=g)
        batch = torch.stack([data[s:s + CTX + 1] for s in starts])
        loss = F.cross_entropy(gpt2_forward(p, batch[:, :-1]).reshape(-1, V), batch[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    os.makedirs(folder, exist_ok=True)
    tensors = {k: v.detach().contiguous().numpy().astype(np.float32) for k, v in p.items()}
    header, blobs, offset = {}, [], 0
    for name, a in tensors.items():
        raw = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    blob = json.dumps(header).encode()
    with open(os.path.join(folder, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(blob)) + blob + b"".join(blobs))
    config = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": V, "n_embd": H,
              "n_layer": LAYERS, "n_head": HEADS, "n_positions": CTX, "n_inner": None,
              "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5, "tie_word_embeddings": True,
              "bos_token_id": 0, "eos_token_id": 0}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f)
    held_out = data[split:].tolist()
    with open(os.path.join(folder, "..", "held_out.ids.json"), "w") as f:
        json.dump(held_out, f)
    return tensors, float(loss), V


def cli_json(cli, *args):
    proc = subprocess.run([cli, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        fail(f"{' '.join(args)} exited with {proc.returncode}: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def conv1d_weights(tensors):
    return [(f"transformer.h.{i}.{m}", tensors[f"transformer.h.{i}.{m}.weight"]) for i in range(LAYERS) for m in CONV1D]


def main():
    args, _ = interop_common.setup(with_demo=False)
    folder = os.path.join(args.workdir, "gpt2")
    tensors, loss, vocab = train(folder)
    if not loss < math.log(vocab) - 1:
        fail(f"the model did not train (loss {loss:.3f}, uniform {math.log(vocab):.3f})")
    print(f"trained a GPT-2 ({LAYERS} layers, hidden {H}, vocabulary {vocab}): loss {loss:.3f}", flush=True)
    data = os.path.join(args.workdir, "held_out.ids.json")

    chosen = cli_json(args.cli, "select", folder, "--json")
    names = sorted(m["name"] for m in chosen["modules"])
    expected = sorted(n for n, _ in conv1d_weights(tensors))
    if names != expected:
        fail(f"select lists {names}, expected the Conv1D modules {expected}")
    print(f"  select: the {len(names)} Conv1D modules are quantizable: OK", flush=True)

    base = ["eval", folder, "--data", data, "--seq-len", "48", "--json"]
    ref_ppl = cli_json(args.cli, *base)["perplexity"]
    for scheme in ("nxd-int8", "vllm-w4a16"):
        out = cli_json(args.cli, *base, "--scheme", scheme)
        if out["quantized_modules"] != 4 * LAYERS or not out["kl_divergence"] > 0 or out["perplexity"] == ref_ppl:
            fail(f"eval --scheme {scheme}: {out['quantized_modules']} modules, KL {out['kl_divergence']}, "
                 f"perplexity {out['perplexity']} vs float {ref_ppl}")
        print(f"  eval --scheme {scheme}: {out['quantized_modules']} Conv1D modules quantized, perplexity "
              f"{ref_ppl:.4f} -> {out['perplexity']:.4f}: OK", flush=True)

    nxd = os.path.join(args.workdir, "nxd")
    subprocess.run([args.cli, "convert", folder, "-o", nxd, "--format", "nxd"], check=True, stdout=subprocess.DEVNULL)
    _, out = st.read(os.path.join(nxd, "model.safetensors"))
    for module, w in conv1d_weights(tensors):
        dtype, shape, raw = out[module + ".weight"]
        codes_ref, scale_ref = ref.nxd_int8_channel(torch.from_numpy(np.ascontiguousarray(w.T)))
        if dtype != "I8" or list(shape) != [w.shape[1], w.shape[0]]:
            fail(f"nxd {module}.weight is {dtype} {shape}, expected I8 [out, in] = {[w.shape[1], w.shape[0]]}")
        codes = st.to_numpy(dtype, shape, raw)
        scale = st.to_numpy(*out[module + ".scale"]).reshape(-1)
        if not np.array_equal(codes, codes_ref.numpy()) or not np.array_equal(scale, scale_ref.numpy()):
            fail(f"nxd {module}: codes or scales differ from NxD's per-channel quantizer on the transposed weight")
        # the biases and the rest are copied unchanged
        if out[module + ".bias"][2] != tensors[module + ".bias"].tobytes():
            fail(f"nxd {module}.bias changed")
    print(f"  nxd: {4 * LAYERS} Conv1D weights written as Linear [out, in], codes and scales = NxD's quantizer: OK",
          flush=True)

    ct = os.path.join(args.workdir, "ct-w8a8")
    subprocess.run([args.cli, "convert", folder, "-o", ct, "--format", "compressed-tensors", "--scheme",
                    "vllm-w8a8-int8"], check=True, stdout=subprocess.DEVNULL)
    _, out = st.read(os.path.join(ct, "model.safetensors"))
    for module, w in conv1d_weights(tensors):
        dtype, shape, raw = out[module + ".weight"]
        if dtype != "I8" or list(shape) != list(w.shape):
            fail(f"compressed-tensors {module}.weight is {dtype} {shape}, expected I8 in the stored layout {w.shape}")
        loaded = st.to_numpy(dtype, shape, raw).T  # what vLLM's GPT-2 load_weights does to a Conv1D .weight
        scale = st.to_numpy(*out[module + ".weight_scale"])
        codes_ref, scale_ref = ref.ct_int_symmetric(torch.from_numpy(np.ascontiguousarray(w.T)), 8)
        if not np.array_equal(loaded, codes_ref.numpy()) or not np.array_equal(scale, scale_ref.numpy()):
            fail(f"compressed-tensors {module}: after vLLM's transpose the codes or [out, 1] scales differ")
    with open(os.path.join(ct, "config.json")) as f:
        q = json.load(f)["quantization_config"]
    if q.get("ignore"):
        fail(f"compressed-tensors ignores {q['ignore']}: the Conv1D modules should be quantized")
    print("  compressed-tensors W8A8: .weight in the stored [in, out] layout, = the quantizer on W^T after vLLM's "
          "transpose: OK", flush=True)

    ct4 = os.path.join(args.workdir, "ct-w4a16")
    subprocess.run([args.cli, "convert", folder, "-o", ct4, "--format", "compressed-tensors", "--scheme",
                    "vllm-w4a16"], check=True, stdout=subprocess.DEVNULL)
    _, out = st.read(os.path.join(ct4, "model.safetensors"))
    with open(os.path.join(ct4, "config.json")) as f:
        group = json.load(f)["quantization_config"]["config_groups"]["group_0"]["weights"].get("group_size")
    for module, w in conv1d_weights(tensors):
        shape = st.to_numpy(*out[module + ".weight_shape"]).tolist()
        if shape != [w.shape[1], w.shape[0]]:
            fail(f"compressed-tensors {module}.weight_shape is {shape}, expected [out, in]")
        words = st.to_numpy(*out[module + ".weight_packed"])
        codes = interop_common.unpack(words, 4, w.shape[0])
        codes_ref, _ = ref.ct_int_symmetric(torch.from_numpy(np.ascontiguousarray(w.T)), 4, group=group)
        if not np.array_equal(codes, codes_ref.numpy()):
            fail(f"compressed-tensors W4A16 {module}: the packed codes differ from the quantizer on W^T")
    print(f"  compressed-tensors W4A16: packed [out, in/8] codes = the quantizer on W^T (group {group}): OK",
          flush=True)

    proc = subprocess.run([args.cli, "convert", folder, "-o", os.path.join(args.workdir, "aiu"), "--format", "aiu"],
                          capture_output=True, text=True)
    if proc.returncode == 0 or "'gpt2' is not supported" not in proc.stderr:
        fail(f"aiu: expected a refusal naming the model type gpt2, got {proc.returncode}: {proc.stderr.strip()}")
    print(f"  aiu: refused ({proc.stderr.strip().splitlines()[0][:100]}...): OK", flush=True)


if __name__ == "__main__":
    main()
