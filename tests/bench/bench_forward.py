#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Forward-pass speed of QuantScope's native runtime (`quantscope-cli eval`, the forward passes
only) against the same model run by PyTorch eager in Python (float32, inference mode), with the
same number of threads, on the same windows. Prints tokens/s of both and the ratio. Families:
a Llama (GQA, SwiGLU), a Hugging Face GPT-2 (Conv1D weights, LayerNorm, gelu_new) or a Hugging
Face BERT masked-LM encoder (post-LN, exact GELU, tied decoder), scored with the masked-LM
pseudo-perplexity protocol: every window runs 7 times, each pass with every 7th position masked,
and both sides count every pass's tokens.

usage: bench_forward.py --cli QUANTSCOPE_CLI --workdir DIR [--family llama|gpt2|bert --hidden 512
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


def make_bert(folder, hidden, layers, vocab, seed=1):
    """A Hugging Face BertForMaskedLM (the decoder tied to the word embeddings)."""
    inter = 4 * hidden
    cfg = {"model_type": "bert", "hidden_size": hidden, "intermediate_size": inter, "num_hidden_layers": layers,
           "num_attention_heads": 8, "vocab_size": vocab, "max_position_embeddings": 512, "type_vocab_size": 2,
           "hidden_act": "gelu", "layer_norm_eps": 1e-12, "pad_token_id": 0}
    rng = np.random.default_rng(seed)

    def normal(*shape):
        return (0.02 * rng.standard_normal(shape)).astype(np.float32)

    def layer_norm(name):
        t[name + ".weight"] = 1 + normal(hidden)
        t[name + ".bias"] = normal(hidden)

    def linear(name, out, inp):
        t[name + ".weight"] = normal(out, inp)
        t[name + ".bias"] = normal(out)

    e = "bert.embeddings."
    t = {e + "word_embeddings.weight": normal(vocab, hidden), e + "position_embeddings.weight": normal(512, hidden),
         e + "token_type_embeddings.weight": normal(2, hidden)}
    layer_norm(e + "LayerNorm")
    for i in range(layers):
        p = f"bert.encoder.layer.{i}."
        for name in ("query", "key", "value"):
            linear(p + "attention.self." + name, hidden, hidden)
        linear(p + "attention.output.dense", hidden, hidden)
        layer_norm(p + "attention.output.LayerNorm")
        linear(p + "intermediate.dense", inter, hidden)
        linear(p + "output.dense", hidden, inter)
        layer_norm(p + "output.LayerNorm")
    linear("cls.predictions.transform.dense", hidden, hidden)
    layer_norm("cls.predictions.transform.LayerNorm")
    t["cls.predictions.bias"] = normal(vocab)
    os.makedirs(folder)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f)
    st.write(os.path.join(folder, "model.safetensors"), t)
    return cfg, {k: torch.from_numpy(v) for k, v in t.items()}


def eager_bert(cfg, w, ids):
    """A plain PyTorch BERT masked-LM forward (Hugging Face semantics: post-LN, exact GELU, no
    attention mask, token type 0, the decoder tied to the word embeddings). Logits [T, V]."""
    nh, h = cfg["num_attention_heads"], cfg["hidden_size"]
    hd, T = h // nh, ids.shape[0]

    def ln(x, name):
        return F.layer_norm(x, (h,), w[name + ".weight"], w[name + ".bias"], cfg["layer_norm_eps"])

    def linear(x, name):
        return F.linear(x, w[name + ".weight"], w[name + ".bias"])

    e = "bert.embeddings."
    x = w[e + "word_embeddings.weight"][ids] + w[e + "position_embeddings.weight"][:T] \
        + w[e + "token_type_embeddings.weight"][0]
    x = ln(x, e + "LayerNorm")
    for i in range(cfg["num_hidden_layers"]):
        p = f"bert.encoder.layer.{i}."
        q, k, v = (linear(x, p + "attention.self." + n).view(T, nh, hd).transpose(0, 1)
                   for n in ("query", "key", "value"))
        a = torch.softmax(q @ k.transpose(1, 2) / hd ** 0.5, -1) @ v
        x = ln(x + linear(a.transpose(0, 1).reshape(T, h), p + "attention.output.dense"), p + "attention.output.LayerNorm")
        m = F.gelu(linear(x, p + "intermediate.dense"))
        x = ln(x + linear(m, p + "output.dense"), p + "output.LayerNorm")
    x = ln(F.gelu(linear(x, "cls.predictions.transform.dense")), "cls.predictions.transform.LayerNorm")
    return F.linear(x, w[e + "word_embeddings.weight"], w["cls.predictions.bias"])


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


MASK_EVERY = 7  # the CLI's default --mask-every, passed explicitly


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--family", choices=["llama", "gpt2", "bert"], default="llama")
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
    make, forward, name = {"llama": (make_model, eager_forward, "Llama"), "gpt2": (make_gpt2, eager_gpt2, "GPT-2"),
                           "bert": (make_bert, eager_bert, "BERT")}[args.family]
    masked = args.family == "bert"
    cfg, w = make(folder, args.hidden, args.layers, args.vocab)
    # Overlap (decoders): windows of seq_len + 1 ids overlapping by one. Masked (the encoder):
    # disjoint windows of seq_len, so exactly seq_len * windows ids (one more would be a window of
    # its own); the mask token is the last id, which the data avoids.
    mask_id = args.vocab - 1
    n = args.seq_len * args.windows + (0 if masked else 1)
    ids = np.random.default_rng(2).integers(0, mask_id if masked else args.vocab, n).tolist()
    data = os.path.join(args.workdir, "ids.json")
    with open(data, "w") as f:
        json.dump(ids, f)

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    command = [args.cli, "eval", folder, "--data", data, "--seq-len", str(args.seq_len), "--json"]
    if masked:
        command += ["--protocol", "masked", "--mask-token", str(mask_id), "--mask-every", str(MASK_EVERY)]
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    native = json.loads(out)

    torch.set_num_threads(args.threads)
    windows = [torch.tensor(ids[i * args.seq_len:(i + 1) * args.seq_len]) for i in range(args.windows)]
    passes = MASK_EVERY if masked else 1
    with torch.inference_mode():
        forward(cfg, w, windows[0][:8])  # warm-up, as the native side has loaded its weights
        start = time.perf_counter()
        nll = 0.0
        for i, win in enumerate(windows):
            if masked:
                # Pass j hides the positions p with p % 7 == j and scores them from both sides. The
                # head runs on all T rows, as a Hugging Face BertForMaskedLM does; the native side
                # runs it on the scored rows only (about 10% of the eager time at the default size).
                for j in range(MASK_EVERY):
                    rows = torch.arange(j, args.seq_len, MASK_EVERY)
                    hidden = win.clone()
                    hidden[rows] = mask_id
                    logits = forward(cfg, w, hidden)
                    nll += F.cross_entropy(logits[rows], win[rows], reduction="sum").item()
                continue
            logits = forward(cfg, w, win)
            target = torch.tensor(ids[i * args.seq_len + 1:(i + 1) * args.seq_len + 1])
            nll += F.cross_entropy(logits, target, reduction="sum").item()
        seconds = time.perf_counter() - start
    eager_tps = args.seq_len * args.windows * passes / seconds
    eager_ppl = float(np.exp(nll / (args.seq_len * args.windows)))
    if native["tokens"] != args.seq_len * args.windows:
        print(f"FAIL: the native side scored {native['tokens']} tokens, not {args.seq_len * args.windows}")
        return 1
    if abs(native["perplexity"] / eager_ppl - 1) > 1e-4:
        print(f"FAIL: perplexity {native['perplexity']} (native) vs {eager_ppl} (eager)")
        return 1
    print(f"forward of a {args.layers}-layer {name} (hidden {args.hidden}, vocab {args.vocab}), "
          f"{args.windows} windows of {args.seq_len} tokens{f' x {passes} masked passes' if masked else ''}, "
          f"{args.threads} threads:")
    print(f"  native {native['tokens_per_second']:.0f} tokens/s, PyTorch eager {eager_tps:.0f} tokens/s: "
          f"ratio {native['tokens_per_second'] / eager_tps:.2f}x (perplexities agree: {eager_ppl:.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
