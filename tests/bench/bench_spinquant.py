#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Step time of SpinQuant's rotation learning: QuantScope's (`quantscope-cli eval --spinquant`,
"seconds_per_step" of its JSON: the layer-by-layer forward, the loss, the per-layer recomputed
backward and the Cayley updates of R1 and every R2) against the same step written in PyTorch eager
(Python) as a user would write it: the whole rotated W4A4 Llama as one autograd graph (norms
folded, W R1 and R1^T W, R2 per head on v and o, int4 channel weights and int4 token activations
with straight-through gradients), cross-entropy, backward, the same Cayley update. Same model
size, tokens per step and threads. Prints seconds per step and the ratio eager / QuantScope.

usage: bench_spinquant.py --cli QUANTSCOPE_CLI --workdir DIR [--hidden 512 --layers 4 --vocab 4096
                          --seq-len 256 --steps 4 --threads N]
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_forward import make_model  # noqa: E402


def ste(x, q):
    return x + (q - x).detach()


def fake_weight(w):  # int4 symmetric per output channel (compressed-tensors: absmax / 7.5, codes -8..7)
    with torch.no_grad():
        s = (w.abs().amax(1, keepdim=True) / 7.5).clamp_min(1e-12)
        q = torch.clamp(torch.round(w / s), -8, 7) * s
    return ste(w, q)


def fake_act(x):  # int4 per token, absmax / 7
    with torch.no_grad():
        s = (x.abs().amax(-1, keepdim=True) / 7).clamp_min(1e-12)
        q = torch.clamp(torch.round(x / s), -8, 7) * s
    return ste(x, q)


def loss_of(cfg, w, r1, r2, ids):
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    h = cfg["hidden_size"]
    hd = h // nh
    T = ids.shape[0] - 1
    inv = 1.0 / cfg["rope_theta"] ** (torch.arange(0, hd, 2).float() / hd)
    angles = torch.outer(torch.arange(T).float(), inv)
    cos, sin = torch.cat([angles.cos()] * 2, -1), torch.cat([angles.sin()] * 2, -1)
    mask = torch.full((T, T), float("-inf")).triu(1)

    def norm(x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + cfg["rms_norm_eps"])

    def rope(x):
        x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
        return x * cos + torch.cat([-x2, x1], -1) * sin

    def lin(x, weight):
        return F.linear(fake_act(x), fake_weight(weight))

    x = w["model.embed_tokens.weight"][ids[:-1]] @ r1
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        g1, g2 = w[p + "input_layernorm.weight"], w[p + "post_attention_layernorm.weight"]
        wq = (w[p + "self_attn.q_proj.weight"] * g1) @ r1
        wk = (w[p + "self_attn.k_proj.weight"] * g1) @ r1
        wv = r2[i].t() @ ((w[p + "self_attn.v_proj.weight"] * g1) @ r1).view(nkv, hd, h)
        wo = r1.t() @ (w[p + "self_attn.o_proj.weight"].view(h, nh, hd) @ r2[i]).view(h, nh * hd)
        wg = (w[p + "mlp.gate_proj.weight"] * g2) @ r1
        wu = (w[p + "mlp.up_proj.weight"] * g2) @ r1
        wd = r1.t() @ w[p + "mlp.down_proj.weight"]
        a = norm(x)
        q = rope(lin(a, wq).view(T, nh, hd).transpose(0, 1))
        k = rope(lin(a, wk).view(T, nkv, hd).transpose(0, 1))
        v = lin(a, wv.reshape(nkv * hd, h)).view(T, nkv, hd).transpose(0, 1)
        k, v = k.repeat_interleave(nh // nkv, 0), v.repeat_interleave(nh // nkv, 0)
        att = torch.softmax(q @ k.transpose(1, 2) / hd ** 0.5 + mask, -1) @ v
        x = x + lin(att.transpose(0, 1).reshape(T, nh * hd), wo)
        b = norm(x)
        x = x + lin(F.silu(lin(b, wg)) * lin(b, wu), wd)
    logits = F.linear(norm(x @ r1.t()) * w["model.norm.weight"], w["lm_head.weight"])
    return F.cross_entropy(logits, ids[1:])


def cayley(r, g, lr):
    a = g @ r.t() - r @ g.t()
    step = min(lr, 1.0 / (a.abs().sum(0).max().item() + 1e-8))
    eye = torch.eye(r.shape[0], dtype=r.dtype)
    return torch.linalg.solve(eye + a * (step / 2), (eye - a * (step / 2)) @ r)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", os.cpu_count())))
    args = ap.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir)
    folder = os.path.join(args.workdir, "model")
    cfg, w = make_model(folder, args.hidden, args.layers, args.vocab)
    ids = np.random.default_rng(2).integers(0, args.vocab, args.seq_len * args.steps + 1).tolist()
    data = os.path.join(args.workdir, "ids.json")
    with open(data, "w") as f:
        json.dump(ids, f)

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    command = [args.cli, "eval", folder, "--data", data, "--seq-len", str(args.seq_len), "--max-windows", "1",
               "--scheme", "vllm-w8a8-int8", "--activations", "int4-token-dynamic", "--rotate", "hadamard",
               "--spinquant", "--spinquant-steps", str(args.steps), "--calibration-samples", str(args.steps),
               "--json"]
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    native = json.loads(out)["spinquant"]
    if native["batch"] != 1 or len(native["losses"]) != args.steps:
        print(f"FAIL: the native side ran {native}")
        return 1

    torch.set_num_threads(args.threads)
    hd = args.hidden // cfg["num_attention_heads"]
    r1 = torch.linalg.qr(torch.randn(args.hidden, args.hidden, dtype=torch.float64))[0]
    r2 = [torch.linalg.qr(torch.randn(hd, hd, dtype=torch.float64))[0] for _ in range(args.layers)]
    windows = [torch.tensor(ids[i * args.seq_len:(i + 1) * args.seq_len]) for i in range(args.steps)]
    losses, seconds = [], []
    for step in range(args.steps + 1):  # the first one warms up
        start = time.perf_counter()
        l1 = r1.float().requires_grad_(True)
        l2 = [r.float().requires_grad_(True) for r in r2]
        loss = loss_of(cfg, w, l1, l2, windows[step % args.steps])
        loss.backward()
        r1 = cayley(r1, l1.grad.double(), 1.5)
        r2 = [cayley(r, l.grad.double(), 1.5) for r, l in zip(r2, l2)]
        if step > 0:
            seconds.append(time.perf_counter() - start)
            losses.append(loss.item())
    eager = sum(seconds) / len(seconds)
    print(f"SpinQuant step of a {args.layers}-layer Llama (hidden {args.hidden}, vocab {args.vocab}), W4A4, "
          f"{args.seq_len} tokens per step, {args.threads} threads:")
    print(f"  QuantScope {native['seconds_per_step']:.3f} s per step (layer by layer, recomputed; loss "
          f"{native['losses'][0]:.3f}), PyTorch eager {eager:.3f} s (one graph; loss {losses[0]:.3f}): "
          f"ratio eager/QuantScope {eager / native['seconds_per_step']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
