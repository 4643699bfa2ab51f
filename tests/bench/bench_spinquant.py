#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Step time of SpinQuant's rotation learning: QuantScope's (`quantscope-cli eval --spinquant`,
"seconds_per_step" of its JSON: the layer-by-layer forward, the loss, the per-layer recomputed
backward and the Cayley updates of R1 and every R2) against the same step written in PyTorch eager
(Python) as a user would write it: the whole rotated Llama as one autograd graph (norms folded,
W R1 and R1^T W, R2 per head on v and o, vllm-w8a8-int8's int8 channel weights and int4 token
activations with straight-through gradients), cross-entropy, backward, the same Cayley update.
Same model size, tokens per step and threads. Prints seconds per step and the ratio eager /
QuantScope. With --check, both start from QuantScope's rotation (the seed's randomised Hadamard,
rebuilt here from std::mt19937_64) with a learning rate so large that the step is 1 / ||A||_1:
the first loss, the first step (the gradient's norm) and the second loss (after the update) must
agree within 1e-4 (the second loss within 5e-3 with int4 activations), an independent check of
the loss, its gradient and the update.

usage: bench_spinquant.py --cli QUANTSCOPE_CLI --workdir DIR [--hidden 512 --layers 4 --vocab 4096
                          --seq-len 256 --steps 4 --threads N --check]
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


def fake_weight(w):  # vllm-w8a8-int8: int8 per output channel, compressed-tensors' absmax / 127.5
    with torch.no_grad():
        s = (w.abs().amax(1, keepdim=True) / 127.5).clamp_min(torch.finfo(torch.float32).eps)
        q = torch.clamp(torch.round(w / s), -128, 127) * s
    return ste(w, q)


def fake_act(x):  # int4-token-dynamic: per token absmax / 7, codes rne(x * (1 / scale)) (NxD's rule)
    with torch.no_grad():
        s = (x.abs().amax(-1, keepdim=True) / 7).clamp_min(torch.finfo(torch.float32).eps)
        q = torch.clamp(torch.round(x * (1 / s)), -8, 7) * s
    return ste(x, q)


def mt19937_64(seed):
    """std::mt19937_64's outputs (the C++ standard's constants)."""
    n, m, mask = 312, 156, (1 << 64) - 1
    mt = [seed & mask]
    for i in range(1, n):
        mt.append((6364136223846793005 * (mt[-1] ^ (mt[-1] >> 62)) + i) & mask)
    index = n
    while True:
        if index >= n:
            for i in range(n):
                x = (mt[i] & 0xFFFFFFFF80000000) | (mt[(i + 1) % n] & 0x7FFFFFFF)
                mt[i] = mt[(i + m) % n] ^ (x >> 1) ^ (0xB5026F5AA96619E9 if x & 1 else 0)
            index = 0
        y = mt[index]
        index += 1
        y ^= (y >> 29) & 0x5555555555555555
        y ^= (y << 17) & 0x71D67FFFEDA60000
        y ^= (y << 37) & 0xFFF7EEE000000000
        y ^= y >> 43
        yield y & mask


def randomised_hadamard(n, seed):
    """QuantScope's Rotation::make(n, hadamard, seed) for a power of two: H diag(signs) / sqrt(n),
    H the Sylvester matrix, the signs from the seed's mt19937_64 (odd: +1)."""
    h = torch.ones(1, 1, dtype=torch.float64)
    while h.shape[0] < n:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    gen = mt19937_64(seed)
    signs = torch.tensor([1.0 if next(gen) & 1 else -1.0 for _ in range(n)], dtype=torch.float64)
    return h * signs / n ** 0.5


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
        return F.linear(fake_act(x) if ACTIVATIONS[0] == "int4-token-dynamic" else x, fake_weight(weight))

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


LR_CHECK = 1000.0
ACTIVATIONS = ["int4-token-dynamic"]  # or "none" (--activations)


def cayley(r, g, lr):
    a = g @ r.t() - r @ g.t()
    step = min(lr, 1.0 / (a.abs().sum(0).max().item() + 1e-8))
    eye = torch.eye(r.shape[0], dtype=r.dtype)
    return torch.linalg.solve(eye + a * (step / 2), (eye - a * (step / 2)) @ r), step


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
    ap.add_argument("--activations", choices=["int4-token-dynamic", "none"], default="int4-token-dynamic")
    ap.add_argument("--check", action="store_true",
                    help="start from QuantScope's rotation with a large learning rate (the step is then 1/||A||_1) "
                         "and compare the first two steps' losses and the first step size")
    args = ap.parse_args()
    ACTIVATIONS[0] = args.activations
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
               "--scheme", "vllm-w8a8-int8", "--activations", args.activations, "--rotate", "hadamard",
               "--spinquant", "--spinquant-steps", str(args.steps), "--calibration-samples", str(args.steps),
               "--spinquant-lr", str(LR_CHECK if args.check else 1.5), "--json"]
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    native = json.loads(out)["spinquant"]
    if native["batch"] != 1 or len(native["losses"]) != args.steps:
        print(f"FAIL: the native side ran {native}")
        return 1

    torch.set_num_threads(args.threads)
    hd = args.hidden // cfg["num_attention_heads"]
    lr = LR_CHECK if args.check else 1.5
    if args.check:  # QuantScope's start (seed 0): R1 from seed 0, every R2 from seed 1
        r1 = randomised_hadamard(args.hidden, 0)
        r2 = [randomised_hadamard(hd, 1) for _ in range(args.layers)]
    else:
        r1 = torch.linalg.qr(torch.randn(args.hidden, args.hidden, dtype=torch.float64))[0]
        r2 = [torch.linalg.qr(torch.randn(hd, hd, dtype=torch.float64))[0] for _ in range(args.layers)]
    steps = []
    windows = [torch.tensor(ids[i * args.seq_len:(i + 1) * args.seq_len]) for i in range(args.steps)]
    losses, seconds = [], []
    for step in range(args.steps + (0 if args.check else 1)):  # timing: the first one warms up
        start = time.perf_counter()
        l1 = r1.float().requires_grad_(True)
        l2 = [r.float().requires_grad_(True) for r in r2]
        loss = loss_of(cfg, w, l1, l2, windows[step % args.steps])
        loss.backward()
        r1, size = cayley(r1, l1.grad.double(), lr)
        r2 = [cayley(r, l.grad.double(), lr)[0] for r, l in zip(r2, l2)]
        steps.append(size)
        if step > 0 or args.check:
            seconds.append(time.perf_counter() - start)
            losses.append(loss.item())
    if args.check:
        ours, theirs = native["losses"][:2] + native["step_sizes"][:1], losses[:2] + steps[:1]
        print(f"check (start rotation, lr {lr}): QuantScope losses {ours[0]:.6f}, {ours[1]:.6f}, first step "
              f"{ours[2]:.6g}; PyTorch eager {theirs[0]:.6f}, {theirs[1]:.6f}, {theirs[2]:.6g}")
        # The loss after the step is compared loosely with int4 activations: after a large rotation a
        # few codes round the other way in float32 (at 4 bits each moves a value by a seventh of its
        # token's range); without activation quantization everything agrees to 1e-4.
        tolerance = [1e-4, 5e-3 if args.activations != "none" else 1e-4, 1e-4]
        bad = [i for i in range(3) if abs(ours[i] - theirs[i]) > tolerance[i] * abs(theirs[i])]
        if bad or not theirs[2] < lr:
            print("FAIL: SpinQuant's first steps differ from the PyTorch eager reference")
            return 1
    eager = sum(seconds) / len(seconds)
    print(f"SpinQuant step of a {args.layers}-layer Llama (hidden {args.hidden}, vocab {args.vocab}), W8A4, "
          f"{args.seq_len} tokens per step, {args.threads} threads:")
    print(f"  QuantScope {native['seconds_per_step']:.3f} s per step (layer by layer, recomputed; loss "
          f"{native['losses'][0]:.3f}), PyTorch eager {eager:.3f} s (one graph; loss {losses[0]:.3f}): "
          f"ratio eager/QuantScope {eager / native['seconds_per_step']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
