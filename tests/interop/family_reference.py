# SPDX-License-Identifier: GPL-3.0-or-later
"""Plain-PyTorch reference forwards (float64) of the GPT-2/nanoGPT and BERT/RoBERTa families, for
check_family_forward.py: written from the upstream model definitions, sharing no code with
QuantScope, and checked first against torch.nn.TransformerEncoderLayer (check_reference_blocks).
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

import interop_common


fail = interop_common.fail


# ----------------------------------------------------------------------------------------------
# Reference forwards (float64). `s` is the spec the generator used (the ground truth of the
# architecture), `w` maps stored tensor names to float64 tensors, `mutant` names mistakes.

def gelu(x, tanh):
    if tanh:  # transformers' NewGELUActivation
        return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def activation(x, name, mutant):
    if name in ("gelu", "gelu_new"):
        tanh = name == "gelu_new"
        if "other_gelu" in mutant:
            tanh = not tanh
        return gelu(x, tanh)
    if name == "relu":
        return torch.relu(x)
    raise ValueError(name)


def layer_norm(x, weight, bias, eps):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    y = (x - mean) / torch.sqrt(var + eps) * weight
    return y + bias if bias is not None else y


def attention(q, k, v, heads, kv_heads, causal, mutant):
    """q [T, heads*hd], k/v [T, kv_heads*hd] -> [T, heads*hd]."""
    T = q.shape[0]
    hd = q.shape[1] // heads
    q = q.view(T, heads, hd).transpose(0, 1)
    k = k.view(T, kv_heads, hd).transpose(0, 1)
    v = v.view(T, kv_heads, hd).transpose(0, 1)
    group = heads // kv_heads
    if "gqa_modulo" in mutant:
        k, v = k.repeat(group, 1, 1), v.repeat(group, 1, 1)
    else:  # query head h reads kv head h // group
        k, v = k.repeat_interleave(group, 0), v.repeat_interleave(group, 0)
    scores = q @ k.transpose(1, 2)
    if "no_scale" not in mutant:
        scores = scores / math.sqrt(hd)
    if causal != ("flip_causal" in mutant):
        scores = scores.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
    return (torch.softmax(scores, -1) @ v).transpose(0, 1).reshape(T, heads * hd)


def gpt_reference(s, w, ids, mutant=()):
    p = s["prefix"]
    ids = torch.as_tensor(np.asarray(ids, dtype=np.int64))
    T = len(ids)

    def norm(x, name):
        if s["norm"] == "rms":
            eps = 1e-5 if "rms_eps" in mutant else 0.0  # the fork's RMSNorm has no epsilon
            return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * w[name + ".gain"]
        bias = w.get(name + ".bias") if "no_norm_bias" not in mutant else None
        return layer_norm(x, w[name + ".weight"], bias, s["eps"])

    def linear(x, name):
        W = w[name + ".weight"]
        if s["conv1d"]:  # Conv1D: x @ W + b with W [in, out]
            y = x @ (W.reshape(W.shape[1], W.shape[0]).T if "conv1d_untransposed" in mutant else W)
        else:
            y = x @ W.T
        b = w.get(name + ".bias")
        return y + b if b is not None and "no_bias" not in mutant else y

    x = w[p + "wte.weight"][ids]
    if s["positions"] and "no_positions" not in mutant:
        x = x + w[p + "wpe.weight"][:T]
    H, nh, nkv = s["hidden"], s["heads"], s["kv_heads"]
    for i in range(s["layers"]):
        b = f"{p}h.{i}."
        n1, n2 = b + s["norm_names"][0], b + s["norm_names"][1]
        h = x if "post_ln" in mutant else norm(x, n1)
        if s["fused"]:
            qkv = linear(h, b + "attn.c_attn")
            q, k, v = qkv[:, :H], qkv[:, H:2 * H], qkv[:, 2 * H:]
        else:
            q, k, v = (linear(h, b + "attn.c_attn_" + t) for t in "qkv")
        x = x + linear(attention(q, k, v, nh, nkv, True, mutant), b + "attn.c_proj")
        if "post_ln" in mutant:
            x = norm(x, n1)
        h = x if "post_ln" in mutant else norm(x, n2)
        xo, yo = (0.0, 0.0) if "no_offsets" in mutant else s["offsets"]
        mlp = linear(activation(linear(h, b + "mlp.c_fc") - xo, s["act"], mutant) - yo, b + "mlp.c_proj")
        x = x + mlp
        if "post_ln" in mutant:
            x = norm(x, n2)
    x = norm(x, p + "ln_f")
    head = w.get("lm_head.weight", w[p + "wte.weight"])
    return x @ head.T


def bert_reference(s, w, ids, mutant=()):
    p, eps = s["prefix"], s["eps"]
    ids = torch.as_tensor(np.asarray(ids, dtype=np.int64))
    if s["offset"] and "no_offset" not in mutant:  # create_position_ids_from_input_ids
        mask = (ids != s["pad"]).long()
        positions = torch.cumsum(mask, 0) * mask + s["pad"]
    else:
        positions = torch.arange(len(ids))

    def ln(x, name):
        return layer_norm(x, w[name + ".weight"], w[name + ".bias"], eps)

    def linear(x, name):
        return x @ w[name + ".weight"].T + w[name + ".bias"]

    e = p + "embeddings."
    x = w[e + "word_embeddings.weight"][ids] + w[e + "position_embeddings.weight"][positions]
    if "no_token_type" not in mutant:
        x = x + w[e + "token_type_embeddings.weight"][0]
    x = ln(x, e + "LayerNorm")
    for i in range(s["layers"]):
        b = f"{p}encoder.layer.{i}."
        h = ln(x, b + "attention.output.LayerNorm") if "pre_ln" in mutant else x
        q, k, v = (linear(h, b + "attention.self." + t) for t in ("query", "key", "value"))
        out = linear(attention(q, k, v, s["heads"], s["heads"], False, mutant), b + "attention.output.dense")
        x = x + out if "pre_ln" in mutant else ln(x + out, b + "attention.output.LayerNorm")
        h = ln(x, b + "output.LayerNorm") if "pre_ln" in mutant else x
        out = linear(activation(linear(h, b + "intermediate.dense"), s["act"], mutant), b + "output.dense")
        x = x + out if "pre_ln" in mutant else ln(x + out, b + "output.LayerNorm")
    hd = s["head"]
    if s["head"] == "cls.predictions.":
        dense, norm, bias = hd + "transform.dense", hd + "transform.LayerNorm", hd + "bias"
    else:
        dense, norm, bias = hd + "dense", hd + "layer_norm", hd + "bias"
    if "no_head_transform" not in mutant:
        x = ln(activation(linear(x, dense), "gelu", mutant), norm)
    decoder = w.get(hd + "decoder.weight")
    if decoder is None or "tied_decoder" in mutant:
        decoder = w[e + "word_embeddings.weight"]
    return x @ decoder.T + w[bias]


# ----------------------------------------------------------------------------------------------
# 1. The reference blocks against torch.nn.TransformerEncoderLayer

def check_reference_blocks():
    torch.manual_seed(0)
    H, nh, T = 16, 4, 7
    for norm_first in (True, False):
        layer = torch.nn.TransformerEncoderLayer(H, nh, 32, dropout=0.0, activation="gelu", layer_norm_eps=1e-5,
                                                 batch_first=True, norm_first=norm_first).double().eval()
        with torch.no_grad():
            for prm in layer.parameters():
                prm.copy_(torch.randn_like(prm) * 0.5)
        wq, wk, wv = layer.self_attn.in_proj_weight.detach().chunk(3)
        bq, bk, bv = layer.self_attn.in_proj_bias.detach().chunk(3)
        x = torch.randn(T, H, dtype=torch.float64)
        mask = torch.triu(torch.full((T, T), float("-inf"), dtype=torch.float64), 1) if norm_first else None
        with torch.no_grad():
            expected = layer(x.unsqueeze(0), src_mask=mask)[0]
        d = {k: v.detach() for k, v in layer.named_parameters()}

        def lin(h, name, W, b):
            return h @ W.T + b

        def ln(h, name):
            return layer_norm(h, d[name + ".weight"], d[name + ".bias"], 1e-5)

        def block(h):
            q, k, v = lin(h, "", wq, bq), lin(h, "", wk, bk), lin(h, "", wv, bv)
            att = attention(q, k, v, nh, nh, norm_first, ())
            return lin(att, "", d["self_attn.out_proj.weight"], d["self_attn.out_proj.bias"])

        def ff(h):
            return lin(activation(lin(h, "", d["linear1.weight"], d["linear1.bias"]), "gelu", ()), "",
                       d["linear2.weight"], d["linear2.bias"])

        if norm_first:  # GPT-2 / nanoGPT block
            y = x + block(ln(x, "norm1"))
            y = y + ff(ln(y, "norm2"))
        else:  # BERT layer
            y = ln(x + block(x), "norm1")
            y = ln(y + ff(y), "norm2")
        diff = (y - expected).abs().max().item()
        if diff > 1e-10:
            fail(f"reference block (norm_first={norm_first}) differs from TransformerEncoderLayer by {diff}")
    print("reference self-check: pre-LN causal and post-LN bidirectional blocks match TransformerEncoderLayer")


def masked_pseudo_perplexity(reference, s, w, ids, seq_len, mask, every):
    """eval's masked protocol, independently: disjoint windows of seq_len; pass j of a window
    masks the positions p with p % every == j and scores them; ppl = exp(mean NLL)."""
    nll, count = 0.0, 0
    for begin in range(0, len(ids) - 1, seq_len):
        window = ids[begin:begin + seq_len]
        for j in range(every):
            rows = list(range(j, len(window), every))
            if not rows:
                continue
            masked = list(window)
            for p in rows:
                masked[p] = mask
            logits = reference(s, w, masked)
            nll += F.cross_entropy(logits[rows], torch.as_tensor([window[p] for p in rows]), reduction="sum").item()
            count += len(rows)
    return math.exp(nll / count), count
