#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes the files of a nanoGPT quantization-fork run (ReaLLMASIC/nanoGPT) for QuantScope's
tests, following the fork's code paths as documented in shared/reference/nanogpt_fork_formats.md,
with Debian's python3-torch and numpy and no QuantScope code:

  OUT/ckpt.pt                  train.py's checkpoint after an eval: QuantizedLinear on every
                               projection (symmetric, affine, ternary, stochastic; 8, 6 and 4 bits),
                               --store_activations with every attention and MLP point quantized
  OUT/meta.pkl                 the character vocabulary
  OUT/quantized_weights.pkl    quantization/save_weights.py's output (default protocol, 4)
  OUT/quantized_weights_p5.pkl the same at protocol 5 (numpy's in-band _frombuffer form)
  OUT/quantization_data.pkl    sample.py --quantization_data_file: the whole state dict
  OUT/expected.safetensors     (q - zero_point) * scale of every stored code tensor, from numpy
  OUT/expected.json            {"methods": {codes tensor: [method, bits]}, "activations": [...],
                               "points": [the 12 point names]}

Usage: make_nanogpt_fork.py OUT
"""
import collections
import json
import math
import os
import pickle
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

N_LAYER, N_HEAD, N_EMBD, N_KV_GROUP, BLOCK, VOCAB = 2, 4, 32, 2, 16, 65
BATCH = 3


# quantization/quantize.py, as documented: every quantizer returns (zero_point, scale, codes).
def set_dtype(bits):
    return torch.int32 if bits > 16 else torch.int16 if bits > 8 else torch.int8


def symmetric_quant(t, bits, causal_mask=False):
    bit_max = (1 << (bits - 1)) - 1
    bit_min = -bit_max - 1
    absmax = torch.tril(t).abs().max() if causal_mask else t.abs().max()
    scale = absmax / bit_max
    q = torch.clamp(torch.round(t / scale), min=bit_min, max=bit_max)
    return torch.tensor([0]), scale, q.to(set_dtype(bits))


def affine_quant(t, bits):
    bit_min = -(1 << (bits - 1))
    bit_max = (1 << (bits - 1)) - 1
    scale = (t.max() - t.min()) / ((1 << bits) - 1)
    zp = -torch.round(t.min() / scale) + bit_min
    q = torch.clamp(torch.round(t / scale) + zp, min=bit_min, max=bit_max)
    return zp, scale, q.to(set_dtype(bits))


def stochastic_quant(t, bits):
    s = (1 << bits) - 1
    norm = t.abs().max()
    level = t.abs() / norm * s
    floor = torch.trunc(level)
    q = torch.sign(t) * (floor + torch.bernoulli(level - floor))
    return torch.tensor([0]), norm / s, q.to(set_dtype(bits))


def ternary_quant(t, bits, causal_mask=False):
    scale = (torch.tril(t) if causal_mask else t).abs().mean().clamp(min=1e-5)
    q = torch.clamp(torch.round(t / scale), -1, 1)
    return torch.tensor([0]), scale, q.to(torch.int8)


QUANTIZERS = {"symmetric_quant": symmetric_quant, "affine_quant": affine_quant,
              "stochastic_quant": stochastic_quant, "ternary_quant": ternary_quant}


def dequantize(zp, scale, q):
    return (q - zp) * scale


class QuantizedLinear(nn.Linear):
    """variations/linear_variations.py's QuantizedLinear: buffers registered in its order, the
    codes recomputed from the float weight at every eval forward."""

    def __init__(self, in_features, out_features, method, bits):
        super().__init__(in_features, out_features, bias=False)
        self.quant_method, self.weight_bits = method, bits
        self.register_buffer("_step", torch.zeros(1))
        self.register_buffer("quantized_weight", None)
        self.register_buffer("weight_norm", None)
        self.register_buffer("weight_zero_point", torch.tensor([0]))

    def forward(self, x):
        if self.training:
            self._step += 1
            return F.linear(x, self.weight)
        zp, scale, q = QUANTIZERS[self.quant_method](self.weight, self.weight_bits)
        self.weight_zero_point[0], self.weight_norm, self.quantized_weight = zp, scale, q
        return F.linear(x, dequantize(self.weight_zero_point[0], self.weight_norm, self.quantized_weight))


ATTN_POINTS = ["attn_act_input", "attn_act_qk_mult_q_input", "attn_act_qk_mult_k_input", "attn_act_softmax_input",
               "attn_act_pv_mult_p_input", "attn_act_pv_mult_v_input", "attn_act_pv_mult_output", "attn_act_output"]
MLP_POINTS = ["mlp_act_input", "mlp_act_activation_input", "mlp_act_activation_output", "mlp_act_output"]


def create_activation_buffers(module, points):  # quant_utils.create_activation_buffers
    for p in points:
        module.register_buffer(p, None)
        module.register_buffer(p + "_scale", None)
        module.register_buffer(p + "_zero_point", None)


def fake_quantize_act(module, name, x, bits=8, causal_mask=False):  # symmetric, --store_activations
    zp, scale, q = symmetric_quant(x, bits, causal_mask=causal_mask)
    setattr(module, name, q)
    setattr(module, name + "_scale", scale)
    setattr(module, name + "_zero_point", zp)
    out = dequantize(zp, scale, q)
    if causal_mask:
        out = torch.where(torch.isfinite(x), out, x)
    return out


class RMSNorm(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.gain = nn.Parameter(1.0 + 0.1 * torch.randn(n))

    def forward(self, x):
        return x / (x.norm(2, dim=-1, keepdim=True) / math.sqrt(x.size(-1))) * self.gain


class Attention(nn.Module):
    def __init__(self, methods):
        super().__init__()
        hs = N_EMBD // N_HEAD
        self.c_attn_q = QuantizedLinear(N_EMBD, N_EMBD, *methods["q"])
        self.c_attn_k = QuantizedLinear(N_EMBD, hs * N_KV_GROUP, *methods["k"])
        self.c_attn_v = QuantizedLinear(N_EMBD, hs * N_KV_GROUP, *methods["v"])
        self.c_proj = QuantizedLinear(N_EMBD, N_EMBD, *methods["proj"])
        self.register_buffer("bias", torch.tril(torch.ones(BLOCK, BLOCK)).view(1, 1, BLOCK, BLOCK))
        create_activation_buffers(self, ATTN_POINTS)

    def forward(self, x):
        B, T, C = x.shape
        hs = C // N_HEAD
        x = fake_quantize_act(self, "attn_act_input", x)
        q = self.c_attn_q(x).view(B, T, N_HEAD, hs).transpose(1, 2)
        k = self.c_attn_k(x).view(B, T, N_KV_GROUP, hs).transpose(1, 2)
        v = self.c_attn_v(x).view(B, T, N_KV_GROUP, hs).transpose(1, 2)
        q = fake_quantize_act(self, "attn_act_qk_mult_q_input", q)
        k = fake_quantize_act(self, "attn_act_qk_mult_k_input", k)
        rep = N_HEAD // N_KV_GROUP
        att = (q @ k.repeat_interleave(rep, dim=1).transpose(-2, -1)) * (1.0 / math.sqrt(hs))
        att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
        att = fake_quantize_act(self, "attn_act_softmax_input", att, causal_mask=True)
        att = F.softmax(att, dim=-1)
        att = fake_quantize_act(self, "attn_act_pv_mult_p_input", att)
        v = fake_quantize_act(self, "attn_act_pv_mult_v_input", v)
        y = att @ v.repeat_interleave(rep, dim=1)
        y = fake_quantize_act(self, "attn_act_pv_mult_output", y)
        y = self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))
        return fake_quantize_act(self, "attn_act_output", y)


class MLP(nn.Module):
    def __init__(self, methods):
        super().__init__()
        self.c_fc = QuantizedLinear(N_EMBD, 4 * N_EMBD, *methods["fc"])
        self.c_proj = QuantizedLinear(4 * N_EMBD, N_EMBD, *methods["mlp_proj"])
        self.register_buffer("activation_x_offset", torch.tensor(0.0))
        self.register_buffer("activation_y_offset", torch.tensor(0.0))
        create_activation_buffers(self, MLP_POINTS)

    def forward(self, x):
        x = fake_quantize_act(self, "mlp_act_input", x)
        x = fake_quantize_act(self, "mlp_act_activation_input", self.c_fc(x))
        x = fake_quantize_act(self, "mlp_act_activation_output", F.gelu(x))
        return fake_quantize_act(self, "mlp_act_output", self.c_proj(x))


class Block(nn.Module):
    def __init__(self, methods):
        super().__init__()
        self.pre_ln_attn = RMSNorm(N_EMBD)
        self.attn = Attention(methods)
        self.pre_ln_mlp = RMSNorm(N_EMBD)
        self.mlp = MLP(methods)

    def forward(self, x):
        x = x + self.attn(self.pre_ln_attn(x))
        return x + self.mlp(self.pre_ln_mlp(x))


# The methods per projection, per layer: every quantizer and several bit widths appear.
METHODS = [
    {"q": ("symmetric_quant", 8), "k": ("affine_quant", 8), "v": ("ternary_quant", 8),
     "proj": ("symmetric_quant", 4), "fc": ("affine_quant", 6), "mlp_proj": ("stochastic_quant", 4)},
    {"q": ("affine_quant", 4), "k": ("symmetric_quant", 6), "v": ("symmetric_quant", 8),
     "proj": ("ternary_quant", 8), "fc": ("symmetric_quant", 8), "mlp_proj": ("affine_quant", 8)},
]
PROJECTIONS = {"q": "attn.c_attn_q", "k": "attn.c_attn_k", "v": "attn.c_attn_v", "proj": "attn.c_proj",
               "fc": "mlp.c_fc", "mlp_proj": "mlp.c_proj"}


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(VOCAB, N_EMBD), wpe=nn.Embedding(BLOCK, N_EMBD),
            h=nn.ModuleList([Block(METHODS[i]) for i in range(N_LAYER)]), ln_f=RMSNorm(N_EMBD)))
        self.lm_head = nn.Linear(N_EMBD, VOCAB, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # wte_weight_tying

    def forward(self, idx):
        x = self.transformer.wte(idx) + self.transformer.wpe(torch.arange(idx.size(1)))
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, a in tensors.items():
        raw = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(1234)
    model = GPT()
    with torch.no_grad():
        for block in model.transformer.h:
            for m in (block.attn.c_attn_q, block.attn.c_attn_k, block.attn.c_attn_v, block.attn.c_proj,
                      block.mlp.c_fc, block.mlp.c_proj):
                m.weight.normal_(0.0, 0.08)
    model.train()
    model(torch.randint(0, VOCAB, (BATCH, BLOCK)))  # one training forward: _step counts it
    model.eval()
    with torch.no_grad():  # estimate_loss(): the eval forward that fills the codes and activations
        model(torch.randint(0, VOCAB, (BATCH, BLOCK)))
    model_args = {"n_layer": N_LAYER, "n_head": N_HEAD, "n_embd": N_EMBD, "n_kv_group": N_KV_GROUP,
                  "block_size": BLOCK, "vocab_size": VOCAB, "bias": False, "dropout": 0.0,
                  "norm_variant_attn": "rmsnorm", "norm_variant_output": "rmsnorm", "activation_variant": "gelu",
                  "use_abs_pos_embeddings": True, "use_rotary_embeddings": False, "wte_weight_tying": True,
                  "linear_variant_attn": "quantized_linear", "linear_variant_mlp": "quantized_linear",
                  "quantize_linear_method": "affine_quant", "quantize_linear_bits": 8,
                  "quantize_attn_act": True, "quantize_mlp_act": True, "activations_quant_method": "symmetric_quant",
                  "store_activations": True, "quantization_warmup_iters": 100}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    ckpt = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "model_args": model_args,
            "iter_num": 10, "best_val_loss": torch.tensor(4.17), "best_iter": 10, "config": {"dataset": "shakespeare_char"}}
    torch.save(ckpt, os.path.join(out, "ckpt.pt"))
    chars = [chr(c) for c in range(32, 32 + VOCAB - 1)] + ["\n"]
    with open(os.path.join(out, "meta.pkl"), "wb") as f:
        pickle.dump({"vocab_size": VOCAB, "itos": dict(enumerate(chars)), "stoi": {c: i for i, c in enumerate(chars)}}, f)

    # quantization/save_weights.py
    state = torch.load(os.path.join(out, "ckpt.pt"), map_location="cpu")["model"]  # as save_weights.py loads it
    keep = ("quantized_bias", "bias_norm", "zero_point", "quantized_weight", "weight_norm")
    saved = collections.OrderedDict()
    for k, v in state.items():
        k = k.replace("_orig_mod.", "")
        if "mlp_act" in k or "attn_act" in k or k.endswith(keep):
            saved[k] = v.cpu().numpy()
    with open(os.path.join(out, "quantized_weights.pkl"), "wb") as f:
        pickle.dump(saved, f)
    with open(os.path.join(out, "quantized_weights_p5.pkl"), "wb") as f:
        pickle.dump(saved, f, protocol=5)
    # sample.py --quantization_data_file: the whole state dict, unfiltered
    with open(os.path.join(out, "quantization_data.pkl"), "wb") as f:
        pickle.dump(collections.OrderedDict((k, v.cpu().numpy()) for k, v in state.items()), f)

    expected, methods, activations = {}, {}, []
    for i in range(N_LAYER):
        for key, module in PROJECTIONS.items():
            p = f"transformer.h.{i}.{module}."
            # In wide integers: numpy (like torch in the fork's own dequantize) would subtract the
            # zero point in int8 and wrap.
            q = saved[p + "quantized_weight"].astype(np.int64)
            expected[p + "quantized_weight"] = (q - saved[p + "weight_zero_point"][0]) * saved[p + "weight_norm"].astype(np.float64)
            methods[p + "quantized_weight"] = list(METHODS[i][key])
        for group, points in (("attn", ATTN_POINTS), ("mlp", MLP_POINTS)):
            for point in points:
                name = f"transformer.h.{i}.{group}.{point}"
                q = saved[name].astype(np.float64)
                value = (q - saved[name + "_zero_point"][0]) * saved[name + "_scale"]
                if point == "attn_act_softmax_input":  # the masked scores were -inf
                    value = np.where(np.triu(np.ones(value.shape[-2:], bool), 1), -np.inf, value)
                expected[name] = value
                activations.append(name)
    write_safetensors(os.path.join(out, "expected.safetensors"), expected)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({"methods": methods, "activations": activations, "points": ATTN_POINTS + MLP_POINTS}, f, indent=1)


if __name__ == "__main__":
    main()
