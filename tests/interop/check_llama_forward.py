#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Interop check of the native Llama-family forward pass (`quantscope-cli eval`) against a
reference forward written here in plain PyTorch (float64), sharing no code with QuantScope.

1. Self-check of the reference on the real stories260K model (llama2.c legacy .bin, read with
   numpy per ../shared/models/stories260K/SOURCE.md): greedy decoding from BOS reproduces the
   upstream text, the rotate_half layout with permuted wq/wk rows gives the same logits as
   llama2.c's interleaved pairs, and the 10-story perplexity is the documented 3.955.
2. Power check: on each random model below, plausible wrong forwards (wrong RoPE layout, no RoPE
   scaling, wrong GQA head mapping, missing biases or Granite multipliers, ...) move the logits
   far beyond the tolerance, so the comparison in 3. would catch them.
3. Small seeded random models as Hugging Face folders (config.json + float32 model.safetensors;
   weights ~ N(0, 0.02) except q/k, scaled for non-uniform attention, see make_model()):
   llama (tied, GQA), llama with llama3 and linear RoPE scaling, qwen2 (q/k/v biases),
   granite (multipliers), mistral (explicit head_dim != hidden/heads). For each, `eval` on 48
   pre-tokenized ids: the first-window logits (--logits) within 1e-4 * max(1, max|ref|) of the
   reference, 47 predicted tokens, and the perplexity of the reference logits within 1e-4
   relative. One model is also evaluated with several overlapping windows (--seq-len 16).
4. stories260K.bin through `eval`, with pre-tokenized ids and with the text file (tokenizer
   found next to the checkpoint), 256-token windows, against the reference.
"""
import heapq
import json
import math
import os
import struct
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interop_common  # noqa: E402
import safetensors_numpy as st  # noqa: E402

STORIES = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                                        "shared", "models", "stories260K"))
GREEDY_TEXT = ("Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
               "One day, she saw a big, red ball. She wanted to play with it, but it was too high")
REL = 1e-4  # the tolerance of the issue, relative to max(1, max |reference logit|)


fail = interop_common.fail


# ----------------------------------------------------------------------------------------------
# Reference forward (Hugging Face transformers semantics, float64)

def head_dim(cfg):
    return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


def rope_inv_freq(cfg, mutant=()):
    """inv_freq of transformers' ROPE_INIT_FUNCTIONS: default, "linear" and "llama3"."""
    hd = head_dim(cfg)
    theta = 10000.0 if "default_theta" in mutant else cfg.get("rope_theta", 10000.0)
    inv = 1.0 / theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd)
    scaling = cfg.get("rope_scaling")
    if not scaling or "no_rope_scaling" in mutant:
        return inv
    kind = scaling.get("rope_type", scaling.get("type"))
    if kind == "linear":
        return inv / scaling["factor"]
    if kind == "llama3":  # _compute_llama3_parameters
        factor, low, high = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"]
        orig = scaling["original_max_position_embeddings"]
        wavelen = 2 * math.pi / inv
        scaled = torch.where(wavelen > orig / low, inv / factor, inv)
        smooth = (orig / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < orig / high) & ~(wavelen > orig / low)
        if "llama3_unsmoothed" in mutant:
            return scaled
        return torch.where(medium, smoothed, scaled)
    if kind == "default":
        return inv
    raise ValueError(f"rope_scaling type {kind!r} is not in the reference")


def apply_rope(x, cos, sin, interleaved):
    """x: [heads, T, hd]; cos/sin: [T, hd/2]. rotate_half pairs (j, j + hd/2) as in transformers,
    or llama2.c's interleaved pairs (2j, 2j + 1); both rotate pair j by pos * inv_freq[j]."""
    if interleaved:
        a, b = x[..., 0::2], x[..., 1::2]
        return torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2)
    half = x.shape[-1] // 2
    a, b = x[..., :half], x[..., half:]
    return torch.cat((a * cos - b * sin, b * cos + a * sin), dim=-1)


def rms_norm(x, weight, eps):
    return weight * (x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps))


def reference_logits(cfg, w, ids, interleaved_rope=False, mutant=()):
    """Logits [T, vocab] (float64) of the tokens `ids` at positions 0..T-1 from an empty cache.
    `w`: Hugging Face tensor names -> float64 tensors. `mutant` names deliberate mistakes, used
    only to show that the comparison would catch them."""
    granite = cfg.get("model_type") == "granite"
    nh, hd = cfg["num_attention_heads"], head_dim(cfg)
    nkv = cfg.get("num_key_value_heads") or nh
    eps = cfg["rms_norm_eps"]
    ids = torch.as_tensor(np.asarray(ids, dtype=np.int64))
    T = len(ids)

    embed = w["model.embed_tokens.weight"]
    x = embed[ids]
    if granite and "no_embedding_multiplier" not in mutant:
        x = x * cfg["embedding_multiplier"]
    scale = cfg["attention_multiplier"] if granite and "granite_default_scale" not in mutant else hd ** -0.5
    residual = cfg["residual_multiplier"] if granite and "no_residual_multiplier" not in mutant else 1.0

    angles = torch.outer(torch.arange(T, dtype=torch.float64), rope_inv_freq(cfg, mutant))
    cos, sin = torch.cos(angles), torch.sin(angles)
    if "interleaved_rope" in mutant:
        interleaved_rope = not interleaved_rope
    future = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    if "no_causal_mask" in mutant:
        future[:] = False

    def linear(h, name):
        y = h @ w[name + ".weight"].T
        if name + ".bias" in w and "no_bias" not in mutant:
            y = y + w[name + ".bias"]
        return y

    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = linear(h, p + "self_attn.q_proj").view(T, nh, hd).transpose(0, 1)
        k = linear(h, p + "self_attn.k_proj").view(T, nkv, hd).transpose(0, 1)
        v = linear(h, p + "self_attn.v_proj").view(T, nkv, hd).transpose(0, 1)
        q, k = apply_rope(q, cos, sin, interleaved_rope), apply_rope(k, cos, sin, interleaved_rope)
        if "gqa_modulo" in mutant:  # query head h on kv head h % nkv instead of h // (nh / nkv)
            k, v = k.repeat(nh // nkv, 1, 1), v.repeat(nh // nkv, 1, 1)
        else:  # transformers' repeat_kv
            k, v = k.repeat_interleave(nh // nkv, dim=0), v.repeat_interleave(nh // nkv, dim=0)
        scores = (q @ k.transpose(1, 2)) * scale
        scores = scores.masked_fill(future, float("-inf"))
        attn = (torch.softmax(scores, dim=-1) @ v).transpose(0, 1).reshape(T, nh * hd)
        x = x + residual * linear(attn, p + "self_attn.o_proj")
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        mlp = linear(F.silu(linear(h, p + "mlp.gate_proj")) * linear(h, p + "mlp.up_proj"), p + "mlp.down_proj")
        x = x + residual * mlp
    x = rms_norm(x, w["model.norm.weight"], eps)
    tied = cfg.get("tie_word_embeddings") or "tied_head" in mutant
    head = embed if tied else w["lm_head.weight"]
    logits = x @ head.T
    if granite and "no_logits_scaling" not in mutant:
        logits = logits / cfg["logits_scaling"]
    return logits


def sum_nll(logits, targets):
    return F.cross_entropy(logits, torch.as_tensor(np.asarray(targets, dtype=np.int64)), reduction="sum").item()


def overlap_perplexity(cfg, w, ids, seq_len, interleaved_rope=False):
    """The "overlap" protocol: windows of seq_len + 1 tokens overlapping by one, each run from
    position 0 on its first seq_len tokens, predicting its last seq_len (the last may be shorter).
    Returns (perplexity, predicted tokens, logits of the first min(seq_len, len(ids)) tokens, which
    is what --logits writes: with len(ids) <= seq_len it has one row more than the window runs)."""
    total, count, start = 0.0, 0, 0
    while start + 1 < len(ids):
        window = ids[start:start + seq_len + 1]
        total += sum_nll(reference_logits(cfg, w, window[:-1], interleaved_rope), window[1:])
        count += len(window) - 1
        start += seq_len
    return math.exp(total / count), count, reference_logits(cfg, w, ids[:seq_len], interleaved_rope)


# ----------------------------------------------------------------------------------------------
# stories260K (llama2.c legacy checkpoint and tokenizer, layout from SOURCE.md)

def load_llama2c(path):
    """Returns (config dict in Hugging Face terms, {HF name: float64 tensor}) with llama2.c's own
    row order for wq/wk (interleaved RoPE pairs)."""
    data = np.fromfile(path, dtype="<f4")
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = np.frombuffer(data[:7].tobytes(), dtype="<i4").tolist()
    shared = vocab > 0
    vocab, hd = abs(vocab), dim // heads
    cfg = {"model_type": "llama", "hidden_size": dim, "intermediate_size": hidden, "num_hidden_layers": layers,
           "num_attention_heads": heads, "num_key_value_heads": kv_heads, "vocab_size": vocab,
           "max_position_embeddings": seq_len, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
           "tie_word_embeddings": shared}
    pos = 7

    def take(*shape):
        nonlocal pos
        n = int(np.prod(shape))
        out = torch.from_numpy(data[pos:pos + n].astype(np.float64).reshape(shape))
        pos += n
        return out

    emb = take(vocab, dim)
    att_norm = take(layers, dim)
    wq, wk = take(layers, dim, dim), take(layers, kv_heads * hd, dim)
    wv, wo = take(layers, kv_heads * hd, dim), take(layers, dim, dim)
    ffn_norm = take(layers, dim)
    w1, w2, w3 = take(layers, hidden, dim), take(layers, dim, hidden), take(layers, hidden, dim)
    final_norm = take(dim)
    pos += 2 * seq_len * hd // 2  # freq_cis_real, freq_cis_imag: unused
    w = {"model.embed_tokens.weight": emb, "model.norm.weight": final_norm}
    if not shared:
        w["lm_head.weight"] = take(vocab, dim)
    if pos != len(data):
        fail(f"{path}: {len(data) - pos} floats left after the last tensor")
    for i in range(layers):
        p = f"model.layers.{i}."
        w.update({p + "input_layernorm.weight": att_norm[i], p + "post_attention_layernorm.weight": ffn_norm[i],
                  p + "self_attn.q_proj.weight": wq[i], p + "self_attn.k_proj.weight": wk[i],
                  p + "self_attn.v_proj.weight": wv[i], p + "self_attn.o_proj.weight": wo[i],
                  p + "mlp.gate_proj.weight": w1[i], p + "mlp.down_proj.weight": w2[i],
                  p + "mlp.up_proj.weight": w3[i]})
    return cfg, w


def to_rotate_half(cfg, w):
    """wq/wk rows from interleaved pairs to the rotate_half layout, as transformers'
    convert_llama_weights_to_hf permute() does: per head, rows 0,2,4,... then 1,3,5,..."""
    hd, out = head_dim(cfg), dict(w)
    for name, t in w.items():
        if name.endswith(("q_proj.weight", "k_proj.weight")):
            out[name] = t.view(t.shape[0] // hd, hd // 2, 2, t.shape[1]).transpose(1, 2).reshape(t.shape)
    return out


def read_tokenizer(path, vocab):
    with open(path, "rb") as f:
        blob = f.read()
    pieces, scores, pos = [], [], 4
    for _ in range(vocab):
        score, n = struct.unpack_from("<fi", blob, pos)
        pieces.append(blob[pos + 8:pos + 8 + n])
        scores.append(score)
        pos += 8 + n
    if pos != len(blob):
        fail(f"{path}: {len(blob) - pos} bytes after the last token")
    return pieces, scores


def decode(pieces, ids):
    """llama2.c run.c decode() of the tokens after a leading BOS: byte tokens <0xXX>, a piece's
    leading space dropped after BOS."""
    out, prev = b"", 1
    for t in ids[1:] if ids[:1] == [1] else ids:
        piece = pieces[t]
        if prev == 1 and piece.startswith(b" "):
            piece = piece[1:]
        if len(piece) == 6 and piece.startswith(b"<0x") and piece.endswith(b">"):
            piece = bytes([int(piece[3:5], 16)])
        out += piece
        prev = t
    return out.decode("utf-8", errors="replace")


def encode(pieces, scores, text):
    """llama2.c run.c encode(text, bos=1, eos=0): BOS, the dummy prefix " ", codepoints (byte
    fallback +3), then merge the best-scoring adjacent pair (leftmost on ties) until none is left.
    The same merge order as run.c's quadratic loop, with a heap and a linked list."""
    lookup = {p: i for i, p in enumerate(pieces)}
    raw = text.encode("utf-8")
    ids = [1]
    if raw:
        ids.append(lookup[b" "])
    i = 0
    while i < len(raw):
        n = 1
        while i + n < len(raw) and (raw[i + n] & 0xC0) == 0x80 and n < 4:
            n += 1
        cp = raw[i:i + n]
        ids.extend([lookup[cp]] if cp in lookup else [b + 3 for b in cp])
        i += n
    nxt, prv, alive = list(range(1, len(ids) + 1)), list(range(-1, len(ids) - 1)), [True] * len(ids)
    nxt[-1] = -1
    heap = []

    def push(a):
        b = nxt[a]
        if a >= 0 and b >= 0:
            merged = lookup.get(pieces[ids[a]] + pieces[ids[b]])
            if merged is not None:
                heapq.heappush(heap, (-scores[merged], a, ids[a], ids[b], merged))

    for a in range(len(ids) - 1):
        push(a)
    while heap:
        _, a, left, right, merged = heapq.heappop(heap)
        b = nxt[a]
        if not alive[a] or b < 0 or ids[a] != left or ids[b] != right:
            continue  # stale entry
        ids[a], alive[b] = merged, False
        nxt[a] = nxt[b]
        if nxt[b] >= 0:
            prv[nxt[b]] = a
        push(a)
        if prv[a] >= 0:
            push(prv[a])
    return [t for t, ok in zip(ids, alive) if ok]


def check_reference_on_stories260K():
    """The reference against the real model. Returns (cfg, weights in rotate_half layout, story
    ids) for the CLI checks, or None without ../shared/models/stories260K."""
    model = os.path.join(STORIES, "stories260K.bin")
    if not os.path.isfile(model):
        print(f"reference self-check: SKIPPED ({STORIES} is absent)")
        return None
    begin = time.time()
    cfg, w = load_llama2c(model)
    pieces, scores = read_tokenizer(os.path.join(STORIES, "tok512.bin"), cfg["vocab_size"])
    ids = [1]
    for _ in range(60):  # greedy from BOS, the whole prefix recomputed each step
        ids.append(int(reference_logits(cfg, w, ids, interleaved_rope=True)[-1].argmax()))
    text = decode(pieces, ids)
    if not text.startswith(GREEDY_TEXT):
        fail(f"reference: greedy decoding of stories260K gives {text!r}, expected {GREEDY_TEXT!r}")

    hf = to_rotate_half(cfg, w)
    diff = (reference_logits(cfg, hf, ids) - reference_logits(cfg, w, ids, interleaved_rope=True)).abs().max().item()
    if diff > 1e-9:
        fail(f"reference: rotate_half with permuted wq/wk differs from interleaved RoPE by {diff}")

    with open(os.path.join(STORIES, "tinystories_valid_sample10.txt"), encoding="utf-8") as f:
        sample = f.read()
    story = encode(pieces, scores, sample)
    if len(story) != 3361 or decode(pieces, story) != sample:
        fail(f"reference tokenizer: {len(story)} tokens (expected 3361) or no exact round trip")
    ppl, count, _ = overlap_perplexity(cfg, hf, story, 256)
    if count != 3360 or abs(ppl - 3.955) > 0.0005:
        fail(f"reference: 10-story perplexity {ppl:.4f} over {count} tokens, SOURCE.md says 3.955 over 3360")
    print(f"reference self-check on stories260K: greedy text OK, rotate_half == interleaved (max diff {diff:.1e}), "
          f"10-story ppl {ppl:.4f} over {count} tokens ({time.time() - begin:.1f} s)")
    return cfg, hf, story


# ----------------------------------------------------------------------------------------------
# Random models

BASE = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "vocab_size": 97, "max_position_embeddings": 128, "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0, "hidden_act": "silu", "torch_dtype": "float32", "bos_token_id": 1,
        "eos_token_id": 2}

CASES = [
    # (name, config overrides, mistakes the comparison must catch)
    ("llama-tied-gqa", {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "tie_word_embeddings": True,
                        "attention_bias": False, "mlp_bias": False},
     ["interleaved_rope", "gqa_modulo", "no_causal_mask"]),
    # rope_theta 10000 with head_dim 16: wavelengths 6.3 (kept), 19.9 (smoothed), >= 62.8 (divided by 8)
    ("llama3-rope-scaling", {"model_type": "llama", "architectures": ["LlamaForCausalLM"],
                             "tie_word_embeddings": False, "max_position_embeddings": 256,
                             "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                              "high_freq_factor": 4.0, "original_max_position_embeddings": 32}},
     ["no_rope_scaling", "llama3_unsmoothed", "interleaved_rope", "tied_head"]),
    ("llama-linear-rope", {"model_type": "llama", "architectures": ["LlamaForCausalLM"],
                           "tie_word_embeddings": False, "rope_scaling": {"type": "linear", "factor": 4.0}},
     ["no_rope_scaling", "tied_head"]),
    ("qwen2-bias", {"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], "tie_word_embeddings": False,
                    "rope_theta": 1000000.0, "rms_norm_eps": 1e-6, "use_sliding_window": False,
                    "sliding_window": None},
     ["no_bias", "default_theta", "gqa_modulo"]),
    ("granite", {"model_type": "granite", "architectures": ["GraniteForCausalLM"], "tie_word_embeddings": True,
                 "embedding_multiplier": 12.0, "attention_multiplier": 0.0078125, "residual_multiplier": 0.22,
                 "logits_scaling": 8.0, "attention_bias": False, "mlp_bias": False},
     ["no_embedding_multiplier", "granite_default_scale", "no_residual_multiplier", "no_logits_scaling",
      "interleaved_rope"]),
    ("mistral-head-dim", {"model_type": "mistral", "architectures": ["MistralForCausalLM"],
                          "tie_word_embeddings": False, "head_dim": 32, "sliding_window": None},
     ["interleaved_rope", "gqa_modulo"]),
]


def make_model(folder, overrides, seed):
    """Writes config.json and model.safetensors; returns (cfg, {name: float64 tensor}).
    Weights ~ N(0, 0.02) and norms ~ 1 + N(0, 0.1), except q_proj/k_proj: with 0.02 the attention
    scores are ~1e-2 and attention is uniform, so a wrong RoPE, RoPE scaling or softmax scale would
    stay under the tolerance (Granite's attention_multiplier 1/128 even hides a wrong scale
    entirely). Their std is chosen so that the scaled scores have std ~2, as in trained models.
    Granite's o_proj/down_proj get 0.02 / residual_multiplier so that the attention and MLP outputs
    are not lost next to the embeddings, which embedding_multiplier makes 12x larger."""
    cfg = dict(BASE, **overrides)
    rng = np.random.default_rng(seed)
    H, I, V, hd = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"], head_dim(cfg)
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    scale = cfg["attention_multiplier"] if cfg["model_type"] == "granite" else hd ** -0.5
    qk_std = math.sqrt(2.0 / (math.sqrt(hd) * H * scale))  # std(q . k * scale) = sqrt(hd) * H * std^2 * scale
    out_std = 0.02 / cfg.get("residual_multiplier", 1.0)

    def normal(*shape, std=0.02):
        return (std * rng.standard_normal(shape)).astype(np.float32)

    def norm():
        return (1 + normal(H, std=0.1)).astype(np.float32)

    t = {"model.embed_tokens.weight": normal(V, H)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        t[p + "input_layernorm.weight"] = norm()
        for proj, rows in (("q", nh * hd), ("k", nkv * hd), ("v", nkv * hd)):
            t[p + f"self_attn.{proj}_proj.weight"] = normal(rows, H, std=qk_std if proj != "v" else 0.02)
            if cfg["model_type"] == "qwen2":
                t[p + f"self_attn.{proj}_proj.bias"] = normal(rows)
        t[p + "self_attn.o_proj.weight"] = normal(H, nh * hd, std=out_std)
        t[p + "post_attention_layernorm.weight"] = norm()
        t[p + "mlp.gate_proj.weight"] = normal(I, H)
        t[p + "mlp.up_proj.weight"] = normal(I, H)
        t[p + "mlp.down_proj.weight"] = normal(H, I, std=out_std)
    t["model.norm.weight"] = norm()
    if not cfg["tie_word_embeddings"]:
        t["lm_head.weight"] = normal(V, H)
    os.makedirs(folder)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    st.write(os.path.join(folder, "model.safetensors"), t)
    return cfg, {k: torch.from_numpy(v.astype(np.float64)) for k, v in t.items()}


def check_power(name, cfg, w, ids, mutants):
    interop_common.check_power(name, reference_logits, cfg, w, ids, mutants, REL)


# ----------------------------------------------------------------------------------------------
# The CLI side

def run_eval(cli, model, data, seq_len, logits_path):
    proc = interop_common.run_eval(cli, model, data, seq_len, logits_path)
    try:
        return json.loads(proc.stdout)
    except ValueError:
        fail(f"eval {model}: stdout is not JSON:\n{proc.stdout.strip()}")


def compare_eval(label, cli, model, ids_or_text, workdir, seq_len, ref_ppl, ref_count, ref_first):
    """Runs eval (with --logits) and compares everything with the reference values."""
    if isinstance(ids_or_text, str):
        data = ids_or_text
    else:
        data = os.path.join(workdir, f"{label}.ids.json")
        with open(data, "w") as f:
            json.dump([int(t) for t in ids_or_text], f)
    out = os.path.join(workdir, f"{label}.logits.npy")
    got = run_eval(cli, model, data, seq_len, out)
    diff, tol = interop_common.compare_logits(label, out, ref_first, REL)
    for key, expected in (("tokens", ref_count), ("protocol", "overlap"), ("seq_len", seq_len)):
        if got.get(key) != expected:
            fail(f"{label}: JSON {key} = {got.get(key)!r}, expected {expected!r} ({got})")
    ppl = got.get("perplexity")
    if not isinstance(ppl, (int, float)) or not abs(ppl - ref_ppl) <= REL * ref_ppl:
        fail(f"{label}: perplexity {ppl!r}, reference {ref_ppl:.8g} (relative tolerance {REL})")
    print(f"  {label}: logits {tuple(ref_first.shape)} max |diff| {diff:.2e} (tol {tol:.1e}), "
          f"ppl {ppl:.6g} vs {ref_ppl:.6g}, {got['tokens']} tokens: OK", flush=True)


def main():
    args, _ = interop_common.setup(with_demo=False)
    begin = time.time()
    torch.set_num_threads(1)
    stories = check_reference_on_stories260K()

    models = []
    for seed, (name, overrides, mutants) in enumerate(CASES):
        folder = os.path.join(args.workdir, name)
        cfg, w = make_model(folder, overrides, seed)
        ids = np.random.default_rng(100 + seed).integers(0, cfg["vocab_size"], 48).tolist()
        check_power(name, cfg, w, ids, mutants)
        models.append((name, folder, cfg, w, ids))
    print("reference power check: every listed mistake moves the logits by > 10x the tolerance")

    print(f"eval against the reference ({args.cli}):")
    for name, folder, cfg, w, ids in models:
        ppl, count, first = overlap_perplexity(cfg, w, ids, 48)
        compare_eval(name, args.cli, folder, ids, args.workdir, 48, ppl, count, first)
    name, folder, cfg, w, ids = models[1]  # several windows, positions restarting at 0 in each
    ppl, count, first = overlap_perplexity(cfg, w, ids, 16)
    compare_eval(name + "-windows16", args.cli, folder, ids, args.workdir, 16, ppl, count, first)

    if stories is not None:
        cfg, w, story = stories
        model = os.path.join(STORIES, "stories260K.bin")
        ppl, count, first = overlap_perplexity(cfg, w, story, 256)
        compare_eval("stories260K-ids", args.cli, model, story, args.workdir, 256, ppl, count, first)
        compare_eval("stories260K-text", args.cli, model, os.path.join(STORIES, "tinystories_valid_sample10.txt"),
                     args.workdir, 256, ppl, count, first)
    print(f"llama forward interop: OK ({time.time() - begin:.1f} s)")


if __name__ == "__main__":
    main()
