#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Forward-pass speed of QuantScope's native runtime (`quantscope-cli eval`, the forward passes
only) against the same model run by PyTorch eager in Python (float32, inference mode), with the
same number of threads, on the same windows. Prints tokens/s of both and the ratio. Families:
a Llama (GQA, SwiGLU) or a Hugging Face GPT-2 (Conv1D weights, LayerNorm, gelu_new).

usage: bench_forward.py --cli QUANTSCOPE_CLI --workdir DIR [--family llama|gpt2 --hidden 512
                        --layers 4 --vocab 4096 --seq-len 256 --windows 4 --threads N]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
import safetensors_numpy as st  # noqa: E402


def make_model(folder, hidden, layers, vocab, seed=1):
    heads, kv = 8, 4
    inter = int(hidden * 8 / 3) // 8 * 8
    cfg = {"model_type": "llama", "hidden_size": hidden, "intermediate_size": inter, "num_hidden_layers": layers,
           "num_attention_heads": heads, "num_key_value_heads": kv, "vocab_size": vocab,
           "max_position_embeddings": 4096, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
           "tie_word_embeddings": False}
    rng = np.random.default_rng(seed)
    hd = hidden // heads

    def normal(*shape):
        return (0.02 * rng.standard_normal(shape)).astype(np.float32)

    t = {"model.embed_tokens.weight": normal(vocab, hidden), "model.norm.weight": np.ones(hidden, np.float32),
         "lm_head.weight": normal(vocab, hidden)}
    for i in range(layers):
        p = f"model.layers.{i}."
        t[p + "input_layernorm.weight"] = np.ones(hidden, np.float32)
        t[p + "post_attention_layernorm.weight"] = np.ones(hidden, np.float32)
        t[p + "self_attn.q_proj.weight"] = normal(heads * hd, hidden)
        t[p + "self_attn.k_proj.weight"] = normal(kv * hd, hidden)
        t[p + "self_attn.v_proj.weight"] = normal(kv * hd, hidden)
        t[p + "self_attn.o_proj.weight"] = normal(hidden, heads * hd)
        t[p + "mlp.gate_proj.weight"] = normal(inter, hidden)
        t[p + "mlp.up_proj.weight"] = normal(inter, hidden)
        t[p + "mlp.down_proj.weight"] = normal(hidden, inter)
    os.makedirs(folder)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f)
    st.write(os.path.join(folder, "model.safetensors"), t)
    return cfg, {k: torch.from_numpy(v) for k, v in t.items()}


def make_gpt2(folder, hidden, layers, vocab, seed=1):
    cfg = {"model_type": "gpt2", "n_embd": hidden, "n_layer": layers, "n_head": 8, "n_positions": 4096,
           "vocab_size": vocab, "n_inner": None, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5}
    rng = np.random.default_rng(seed)

    def normal(*shape):
        return (0.02 * rng.standard_normal(shape)).astype(np.float32)

    t = {"transformer.wte.weight": normal(vocab, hidden), "transformer.wpe.weight": normal(4096, hidden),
         "transformer.ln_f.weight": np.ones(hidden, np.float32), "transformer.ln_f.bias": normal(hidden)}
    for i in range(layers):
        p = f"transformer.h.{i}."
        for ln in ("ln_1", "ln_2"):
            t[p + ln + ".weight"] = np.ones(hidden, np.float32)
            t[p + ln + ".bias"] = normal(hidden)
        # Conv1D: weights stored [in, out]
        for name, inp, out in (("attn.c_attn", hidden, 3 * hidden), ("attn.c_proj", hidden, hidden),
                               ("mlp.c_fc", hidden, 4 * hidden), ("mlp.c_proj", 4 * hidden, hidden)):
            t[p + name + ".weight"] = normal(inp, out)
            t[p + name + ".bias"] = normal(out)
    os.makedirs(folder)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f)
    st.write(os.path.join(folder, "model.safetensors"), t)
    return cfg, {k: torch.from_numpy(v) for k, v in t.items()}


def eager_gpt2(cfg, w, ids):
    """A plain PyTorch GPT-2 forward (Hugging Face semantics: Conv1D x @ W + b, tanh GELU)."""
    nh, h = cfg["n_head"], cfg["n_embd"]
    hd, T = h // nh, ids.shape[0]
    mask = torch.full((T, T), float("-inf")).triu(1)

    def ln(x, name):
        return F.layer_norm(x, (h,), w[name + ".weight"], w[name + ".bias"], cfg["layer_norm_epsilon"])

    def conv1d(x, name):
        return torch.addmm(w[name + ".bias"], x, w[name + ".weight"])

    x = w["transformer.wte.weight"][ids] + w["transformer.wpe.weight"][:T]
    for i in range(cfg["n_layer"]):
        p = f"transformer.h.{i}."
        q, k, v = conv1d(ln(x, p + "ln_1"), p + "attn.c_attn").view(T, 3, nh, hd).permute(1, 2, 0, 3)
        a = torch.softmax(q @ k.transpose(1, 2) / hd ** 0.5 + mask, -1) @ v
        x = x + conv1d(a.transpose(0, 1).reshape(T, h), p + "attn.c_proj")
        m = F.gelu(conv1d(ln(x, p + "ln_2"), p + "mlp.c_fc"), approximate="tanh")
        x = x + conv1d(m, p + "mlp.c_proj")
    return F.linear(ln(x, "transformer.ln_f"), w["transformer.wte.weight"])


def eager_forward(cfg, w, ids):
    """A plain PyTorch Llama forward, as a Python user writes it (float32)."""
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg["hidden_size"] // nh
    T = ids.shape[0]
    inv = 1.0 / cfg["rope_theta"] ** (torch.arange(0, hd, 2).float() / hd)
    angles = torch.outer(torch.arange(T).float(), inv)
    cos, sin = torch.cat([angles.cos()] * 2, -1), torch.cat([angles.sin()] * 2, -1)
    mask = torch.full((T, T), float("-inf")).triu(1)

    def norm(x, g):
        return g * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + cfg["rms_norm_eps"])

    def rope(x):
        x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
        return x * cos + torch.cat([-x2, x1], -1) * sin

    x = w["model.embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = norm(x, w[p + "input_layernorm.weight"])
        q = rope(F.linear(h, w[p + "self_attn.q_proj.weight"]).view(T, nh, hd).transpose(0, 1))
        k = rope(F.linear(h, w[p + "self_attn.k_proj.weight"]).view(T, nkv, hd).transpose(0, 1))
        v = F.linear(h, w[p + "self_attn.v_proj.weight"]).view(T, nkv, hd).transpose(0, 1)
        k, v = k.repeat_interleave(nh // nkv, 0), v.repeat_interleave(nh // nkv, 0)
        a = torch.softmax(q @ k.transpose(1, 2) / hd ** 0.5 + mask, -1) @ v
        x = x + F.linear(a.transpose(0, 1).reshape(T, nh * hd), w[p + "self_attn.o_proj.weight"])
        h = norm(x, w[p + "post_attention_layernorm.weight"])
        x = x + F.linear(F.silu(F.linear(h, w[p + "mlp.gate_proj.weight"])) * F.linear(h, w[p + "mlp.up_proj.weight"]),
                         w[p + "mlp.down_proj.weight"])
    return F.linear(norm(x, w["model.norm.weight"]), w["lm_head.weight"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--family", choices=["llama", "gpt2"], default="llama")
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--windows", type=int, default=4)
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", os.cpu_count())))
    args = ap.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir)
    folder = os.path.join(args.workdir, "model")
    make, forward = (make_gpt2, eager_gpt2) if args.family == "gpt2" else (make_model, eager_forward)
    cfg, w = make(folder, args.hidden, args.layers, args.vocab)
    n = args.seq_len * args.windows + 1
    ids = np.random.default_rng(2).integers(0, args.vocab, n).tolist()
    data = os.path.join(args.workdir, "ids.json")
    with open(data, "w") as f:
        json.dump(ids, f)

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    out = subprocess.run([args.cli, "eval", folder, "--data", data, "--seq-len", str(args.seq_len), "--json"],
                         check=True, capture_output=True, text=True, env=env).stdout
    native = json.loads(out)

    torch.set_num_threads(args.threads)
    windows = [torch.tensor(ids[i * args.seq_len:(i + 1) * args.seq_len]) for i in range(args.windows)]
    with torch.inference_mode():
        forward(cfg, w, windows[0][:8])  # warm-up, as the native side has loaded its weights
        start = time.perf_counter()
        nll = 0.0
        for i, win in enumerate(windows):
            logits = forward(cfg, w, win)
            target = torch.tensor(ids[i * args.seq_len + 1:(i + 1) * args.seq_len + 1])
            nll += F.cross_entropy(logits, target, reduction="sum").item()
        seconds = time.perf_counter() - start
    eager_tps = args.seq_len * args.windows / seconds
    eager_ppl = float(np.exp(nll / (args.seq_len * args.windows)))
    if abs(native["perplexity"] / eager_ppl - 1) > 1e-4:
        print(f"FAIL: perplexity {native['perplexity']} (native) vs {eager_ppl} (eager)")
        return 1
    print(f"forward of a {args.layers}-layer {'GPT-2' if args.family == 'gpt2' else 'Llama'} (hidden {args.hidden}, vocab {args.vocab}), "
          f"{args.windows} windows of {args.seq_len} tokens, {args.threads} threads:")
    print(f"  native {native['tokens_per_second']:.0f} tokens/s, PyTorch eager {eager_tps:.0f} tokens/s: "
          f"ratio {native['tokens_per_second'] / eager_tps:.2f}x (perplexities agree: {eager_ppl:.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
