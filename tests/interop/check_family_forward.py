#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Interop check of the native GPT-2/nanoGPT and BERT/RoBERTa forward passes (`quantscope-cli eval
--logits`) against reference forwards written here in plain PyTorch (float64), sharing no code
with QuantScope.

1. Self-check of the reference blocks against torch.nn.TransformerEncoderLayer (float64, weights
   copied): the pre-LN causal block with exact GELU (nanoGPT) and the post-LN bidirectional block
   (BERT) agree to 1e-10.
2. Power check: on each random model, plausible wrong forwards (Conv1D weights read untransposed,
   exact vs tanh GELU, no position embeddings or no RoBERTa offset, post-LN instead of pre-LN,
   no attention scale, wrong GQA head mapping, RMSNorm with an epsilon, ...) move the logits
   beyond 10x the tolerance, so the comparison in 3. would catch them.
3. Small seeded random models: Hugging Face gpt2 folders (with and without the "transformer."
   prefix), nanoGPT ckpt.pt files (karpathy style: fused c_attn nn.Linear, LayerNorm with and
   without bias, one with torch.compile's "_orig_mod." prefix; the ReaLLMASIC fork: separate
   c_attn_q/k/v with n_kv_group, RMSNorm `gain`, activation offsets; and its older ln_1/ln_2
   names with LayerNorm, bias and ReLU), a BERT (bert. prefix, cls.predictions head, tied decoder)
   and a RoBERTa (roberta. prefix, lm_head with its own decoder, position offset 2). The first
   window's logits (--logits) must lie within 1e-4 * max(1, max|ref|) of the reference; for the
   decoders the perplexity too (relative 1e-4); for the encoders the masked-LM pseudo-perplexity
   (every position masked once, 1 in K per pass, in one or two windows) against the same
   computation on the reference (relative 1e-4).
   A BERT folder with its own WordPiece tokenizer.json scores plain text: [MASK] from the
   tokenizer, windows between [CLS] and [SEP], against the reference.
4. `calibrate` records the twelve observer points per layer and every Linear input under the
   checkpoint's module paths (HDF5 read with h5py).
5. Refusals: a BERT without its MLM head, a fork checkpoint with rotary embeddings.
"""
import json
import math
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interop_common  # noqa: E402
import safetensors_numpy as st  # noqa: E402
from family_reference import (bert_reference, check_reference_blocks, fail, gpt_reference,  # noqa: E402
                              masked_pseudo_perplexity)

REL = 1e-4  # the tolerance of the issue, relative to max(1, max |reference logit|)


# ----------------------------------------------------------------------------------------------
# 2./3. Random models

H, LAYERS, HEADS = 64, 2, 4
QK_STD = math.sqrt(2.0 / H)  # scaled scores with std ~2 after a norm: non-uniform attention


class Gen:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def normal(self, *shape, std=0.02):
        return (std * self.rng.standard_normal(shape)).astype(np.float32)

    def gain(self, n):
        return (1 + self.normal(n, std=0.1)).astype(np.float32)


def make_gpt(style, seed, prefix="transformer.", bias=True, kv_heads=HEADS, inner=4 * H, fork_names=False,
             norm="layer", act=None, offsets=(0.0, 0.0)):
    """style: "hf" (Conv1D [in, out], fused), "karpathy" (Linear, fused), "fork" (Linear, q/k/v).
    Returns (spec, {name: float32 numpy})."""
    g = Gen(seed)
    V = 97 if style == "hf" else 65
    hd = H // HEADS
    conv1d = style == "hf"
    s = {"prefix": prefix, "conv1d": conv1d, "fused": style != "fork", "norm": norm, "eps": 1e-5,
         "act": act or ("gelu_new" if style == "hf" else "gelu"), "hidden": H, "heads": HEADS,
         "kv_heads": kv_heads, "layers": LAYERS, "positions": True, "offsets": offsets, "vocab": V,
         "norm_names": ("pre_ln_attn", "pre_ln_mlp") if fork_names else ("ln_1", "ln_2"), "max_positions": 64}
    t = {prefix + "wte.weight": g.normal(V, H), prefix + "wpe.weight": g.normal(64, H)}

    def put_norm(name):
        if norm == "rms":
            t[name + ".gain"] = g.gain(H)
        else:
            t[name + ".weight"] = g.gain(H)
            if bias:
                t[name + ".bias"] = g.normal(H)

    def put_linear(name, out, inp, std=0.02, rows=None, shift=0.0):
        W = np.concatenate([g.normal(r, inp, std=sd) for r, sd in rows], 0) if rows else g.normal(out, inp, std=std)
        t[name + ".weight"] = np.ascontiguousarray(W.T) if conv1d else W
        if bias:
            t[name + ".bias"] = (g.normal(out) + shift).astype(np.float32)

    for i in range(LAYERS):
        b = f"{prefix}h.{i}."
        put_norm(b + s["norm_names"][0])
        if s["fused"]:
            put_linear(b + "attn.c_attn", 3 * H, H, rows=[(H, QK_STD), (H, QK_STD), (H, 0.02)])
        else:
            put_linear(b + "attn.c_attn_q", H, H, std=QK_STD)
            put_linear(b + "attn.c_attn_k", kv_heads * hd, H, std=QK_STD)
            put_linear(b + "attn.c_attn_v", kv_heads * hd, H)
        put_linear(b + "attn.c_proj", H, H)
        put_norm(b + s["norm_names"][1])
        if bias:  # GELU's inputs near -2.7, where tanh and erf GELU differ most relative to their value
            put_linear(b + "mlp.c_fc", inner, H, std=0.1, shift=-2.7)
            put_linear(b + "mlp.c_proj", H, inner, std=0.5)
        else:
            put_linear(b + "mlp.c_fc", inner, H)
            put_linear(b + "mlp.c_proj", H, inner)
        if style == "fork":
            t[b + "mlp.activation_x_offset"] = np.array(offsets[0], dtype=np.float32)
            t[b + "mlp.activation_y_offset"] = np.array(offsets[1], dtype=np.float32)
    put_norm(prefix + "ln_f")
    return s, t


def write_hf(folder, cfg, t):
    os.makedirs(folder)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    st.write(os.path.join(folder, "model.safetensors"), t)


def write_ckpt(path, t, model_args, compiled=False, extra=None):
    """A nanoGPT train.py checkpoint; lm_head.weight shares wte's storage as in the tied model."""
    sd = {}
    for name, a in t.items():
        sd[name] = torch.from_numpy(a.copy())
    sd["lm_head.weight"] = sd["transformer.wte.weight"]
    for name, value in (extra or {}).items():
        sd[name] = value
    if compiled:
        sd = {"_orig_mod." + k: v for k, v in sd.items()}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save({"model": sd, "model_args": model_args, "config": dict(model_args, dataset="shakespeare_char"),
                "iter_num": 0, "best_val_loss": 1.0}, path)


def gpt_cases(workdir):
    """(label, model path, spec, weights (float64), mutants)."""
    cases = []
    # Hugging Face gpt2, GPT2LMHeadModel names (transformer.), tied head not stored.
    s, t = make_gpt("hf", 1)
    cfg = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": 97, "n_embd": H,
           "n_layer": LAYERS, "n_head": HEADS, "n_positions": 64, "n_ctx": 64, "n_inner": None,
           "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5, "scale_attn_weights": True,
           "scale_attn_by_inverse_layer_idx": False, "reorder_and_upcast_attn": False, "bos_token_id": 96,
           "eos_token_id": 96, "torch_dtype": "float32"}
    folder = os.path.join(workdir, "gpt2-hf")
    write_hf(folder, cfg, t)
    cases.append(("gpt2-hf", folder, s, t, ["conv1d_untransposed", "other_gelu", "no_positions", "post_ln",
                                             "no_scale", "no_bias", "no_norm_bias"]))
    # GPT2Model names (no prefix), n_inner given, another epsilon.
    s, t = make_gpt("hf", 2, prefix="", inner=96)
    s["eps"] = 1e-3
    folder = os.path.join(workdir, "gpt2-hf-noprefix")
    write_hf(folder, dict(cfg, n_inner=96, layer_norm_epsilon=1e-3, architectures=["GPT2Model"]), t)
    cases.append(("gpt2-hf-noprefix", folder, s, t, ["conv1d_untransposed", "other_gelu", "post_ln"]))

    karpathy = {"n_layer": LAYERS, "n_head": HEADS, "n_embd": H, "block_size": 64, "vocab_size": 65,
                "dropout": 0.0}
    causal = {f"transformer.h.{i}.attn.bias": torch.tril(torch.ones(64, 64)).view(1, 1, 64, 64)
              for i in range(LAYERS)}
    s, t = make_gpt("karpathy", 3, bias=True)
    path = os.path.join(workdir, "nanogpt-karpathy-bias", "ckpt.pt")
    write_ckpt(path, t, dict(karpathy, bias=True), compiled=True, extra=causal)
    cases.append(("nanogpt-karpathy-bias", path, s, t, ["other_gelu", "no_positions", "post_ln", "no_scale",
                                                        "no_bias"]))
    s, t = make_gpt("karpathy", 4, bias=False)
    path = os.path.join(workdir, "nanogpt-karpathy-nobias", "ckpt.pt")
    write_ckpt(path, t, dict(karpathy, bias=False), extra=causal)
    cases.append(("nanogpt-karpathy-nobias", path, s, t, ["post_ln", "flip_causal", "no_positions"]))

    fork = dict(karpathy, n_kv_group=2, bias=False, norm_variant_attn="rmsnorm", norm_variant_output="rmsnorm",
                activation_variant="gelu", attention_variant="causal", use_abs_pos_embeddings=True,
                use_rotary_embeddings=False, use_pre_ln=True, use_post_ln=False, mlp_variant="mlp",
                mlp_expansion_factor=4, mlp_size=None, mlp_x_offset=0.25, mlp_y_offset=-0.1,
                softmax_variant_attn="softmax", linear_variant_attn="linear", linear_variant_mlp="linear",
                linear_variant_q=None, attention_list=[], n_head_layerlist=[], window_size=None,
                attn_logit_softcapping=None, eval_interval=250)
    s, t = make_gpt("fork", 5, bias=False, kv_heads=2, fork_names=True, norm="rms", offsets=(0.25, -0.1))
    path = os.path.join(workdir, "nanogpt-fork-gqa", "ckpt.pt")
    write_ckpt(path, t, fork)
    cases.append(("nanogpt-fork-gqa", path, s, t, ["gqa_modulo", "rms_eps", "no_offsets", "post_ln",
                                                   "no_scale"]))
    s, t = make_gpt("fork", 6, bias=True, norm="layer", act="relu")
    path = os.path.join(workdir, "nanogpt-fork-layernorm", "ckpt.pt")
    write_ckpt(path, t, dict(fork, n_kv_group=HEADS, bias=True, norm_variant_attn="layernorm",
                             norm_variant_output="layernorm", activation_variant="relu", mlp_x_offset=0.0,
                             mlp_y_offset=0.0))
    cases.append(("nanogpt-fork-layernorm", path, s, t, ["no_bias", "no_norm_bias", "post_ln"]))
    return cases


def make_bert(kind, seed):
    g = Gen(seed)
    V, I, P = 90, 128, 40
    roberta = kind == "roberta"
    pad, offset = (1, 2) if roberta else (0, 0)
    prefix = kind + "."
    s = {"prefix": prefix, "eps": 1e-12 if not roberta else 1e-5, "act": "gelu", "heads": HEADS,
         "layers": LAYERS, "offset": offset, "pad": pad, "vocab": V, "max_positions": P,
         "head": "lm_head." if roberta else "cls.predictions."}
    e = prefix + "embeddings."
    t = {e + "word_embeddings.weight": g.normal(V, H), e + "position_embeddings.weight": g.normal(P + offset, H),
         e + "token_type_embeddings.weight": g.normal(1 if roberta else 2, H, std=0.5)}

    def put_ln(name):
        t[name + ".weight"], t[name + ".bias"] = g.gain(H), g.normal(H)

    def put_linear(name, out, inp, std=0.02, shift=0.0):
        t[name + ".weight"], t[name + ".bias"] = g.normal(out, inp, std=std), (g.normal(out) + shift).astype(np.float32)

    put_ln(e + "LayerNorm")
    for i in range(LAYERS):
        b = f"{prefix}encoder.layer.{i}."
        put_linear(b + "attention.self.query", H, H, QK_STD)
        put_linear(b + "attention.self.key", H, H, QK_STD)
        put_linear(b + "attention.self.value", H, H, 0.2)
        put_linear(b + "attention.output.dense", H, H, 0.2)
        put_ln(b + "attention.output.LayerNorm")
        put_linear(b + "intermediate.dense", I, H, 0.1, shift=-2.7)  # GELU where tanh and erf differ most
        put_linear(b + "output.dense", H, I, 0.5)
        put_ln(b + "output.LayerNorm")
    cfg = {"model_type": kind, "vocab_size": V, "hidden_size": H, "num_hidden_layers": LAYERS,
           "num_attention_heads": HEADS, "intermediate_size": I, "hidden_act": "gelu",
           "layer_norm_eps": s["eps"], "max_position_embeddings": P + offset, "type_vocab_size": 1 if roberta else 2,
           "pad_token_id": pad, "position_embedding_type": "absolute", "torch_dtype": "float32"}
    if roberta:
        cfg.update(architectures=["RobertaForMaskedLM"], bos_token_id=0, eos_token_id=2)
        put_linear("lm_head.dense", H, H, 0.2)
        put_ln("lm_head.layer_norm")
        t["lm_head.decoder.weight"] = g.normal(V, H)  # untied: the stored decoder is used
        t["lm_head.bias"] = g.normal(V)
    else:
        cfg.update(architectures=["BertForPreTraining"])
        put_linear("cls.predictions.transform.dense", H, H, 0.2)
        put_ln("cls.predictions.transform.LayerNorm")
        t["cls.predictions.bias"] = g.normal(V)
        put_linear("cls.seq_relationship", 2, H)  # the NSP head, unused
        put_linear(prefix + "pooler.dense", H, H)
    return cfg, s, t


def bert_cases(workdir):
    cases = []
    for seed, kind, mutants in ((7, "bert", ["pre_ln", "no_token_type", "no_scale", "flip_causal", "other_gelu",
                                             "no_head_transform"]),
                                (8, "roberta", ["no_offset", "pre_ln", "no_scale", "flip_causal", "tied_decoder"])):
        cfg, s, t = make_bert(kind, seed)
        folder = os.path.join(workdir, kind)
        write_hf(folder, cfg, t)
        cases.append((kind, folder, s, t, mutants))
    return cases


# ----------------------------------------------------------------------------------------------
# The CLI side

def to64(t):
    return {k: (torch.from_numpy(np.asarray(v, dtype=np.float64)) if isinstance(v, np.ndarray) else v.double())
            for k, v in t.items()}


def check_power(label, reference, s, w, ids, mutants):
    interop_common.check_power(label, reference, s, w, ids, mutants, REL)


run_eval = interop_common.run_eval


def compare(label, cli, model, ids, workdir, ref_first, ref_ppl=None):
    data = os.path.join(workdir, f"{label}.ids.json")
    with open(data, "w") as f:
        json.dump([int(t) for t in ids], f)
    out = os.path.join(workdir, f"{label}.logits.npy")
    proc = run_eval(cli, model, data, len(ids), out, must_succeed=ref_ppl is not None)
    if not os.path.isfile(out):
        fail(f"{label}: eval wrote no logits (exit {proc.returncode}):\n{proc.stderr.strip()}")
    diff, tol = interop_common.compare_logits(label, out, ref_first, REL)
    note = ""
    if ref_ppl is not None:
        ppl = json.loads(proc.stdout).get("perplexity")
        if not isinstance(ppl, (int, float)) or not abs(ppl - ref_ppl) <= REL * ref_ppl:
            fail(f"{label}: perplexity {ppl!r}, reference {ref_ppl:.8g} (relative tolerance {REL})")
        note = f", ppl {ppl:.6g} vs {ref_ppl:.6g}"
    print(f"  {label}: logits {tuple(ref_first.shape)} max |diff| {diff:.2e} (tol {tol:.1e}){note}: OK", flush=True)


def compare_masked(label, cli, model, ids, workdir, reference, s, w):
    """The masked-LM pseudo-perplexity `eval` reports for an encoder, against the reference."""
    data = os.path.join(workdir, f"{label}.ids.json")
    mask = s["vocab"] - 1
    for seq_len, every in ((len(ids), 7), (len(ids) // 2, 3)):
        cmd = [cli, "eval", model, "--data", data, "--seq-len", str(seq_len), "--mask-token", str(mask),
               "--mask-every", str(every), "--json"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            fail(f"{' '.join(cmd)} exited with {proc.returncode}:\n{proc.stderr.strip()}")
        out = json.loads(proc.stdout)
        ref_ppl, count = masked_pseudo_perplexity(reference, s, w, ids, seq_len, mask, every)
        if out.get("protocol") != "masked" or out.get("tokens") != count:
            fail(f"{label}: masked eval reported protocol {out.get('protocol')!r} and {out.get('tokens')} tokens, "
                 f"expected 'masked' and {count}")
        ppl = out.get("perplexity")
        if not isinstance(ppl, (int, float)) or not abs(ppl - ref_ppl) <= REL * ref_ppl:
            fail(f"{label}: masked pseudo-perplexity {ppl!r}, reference {ref_ppl:.8g} (seq_len {seq_len}, every {every})")
        print(f"  {label}: masked-LM pseudo-perplexity {ppl:.6g} vs {ref_ppl:.6g} (windows of {seq_len}, "
              f"1 in {every} masked per pass): OK", flush=True)


def check_bert_text(cli, workdir, s, w):
    """Text through the model's own WordPiece tokenizer.json into masked-LM scoring: [MASK] comes
    from the tokenizer, every window sits between [CLS] and [SEP] (the data's own markers at the
    ends are not doubled), and the markers are never scored; against the reference."""
    folder = os.path.join(workdir, "bert-text")
    shutil.copytree(os.path.join(workdir, "bert"), folder, dirs_exist_ok=True)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words = [f"w{i}" for i in range(s["vocab"] - len(specials))]
    vocab = {t: i for i, t in enumerate(specials + words)}
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for i, t in enumerate(specials)],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab}}
    with open(os.path.join(folder, "tokenizer.json"), "w") as f:
        json.dump(tokenizer, f)
    rng = np.random.default_rng(31)
    chosen = rng.integers(0, len(words), 45).tolist()
    data = os.path.join(workdir, "bert-text.txt")
    with open(data, "w") as f:
        f.write(" ".join(words[i].upper() if n % 7 == 0 else words[i] for n, i in enumerate(chosen)) + "\n")
    ids = [vocab["[CLS]"]] + [len(specials) + i for i in chosen] + [vocab["[SEP]"]]
    seq_len, every, cls, sep = 16, 4, vocab["[CLS]"], vocab["[SEP]"]
    nll, count = 0.0, 0
    for begin in range(0, len(ids) - 1, seq_len):
        window = ids[begin:begin + seq_len]
        full = ([] if window[0] == cls else [cls]) + window + ([] if window[-1] == sep else [sep])
        for j in range(every):
            rows = [p for p in range(j, len(full), every) if full[p] not in (cls, sep, vocab["[PAD]"])]
            if not rows:
                continue
            masked = [vocab["[MASK]"] if p in rows else t for p, t in enumerate(full)]
            logits = bert_reference(s, w, masked)
            nll += F.cross_entropy(logits[rows], torch.as_tensor([full[p] for p in rows]), reduction="sum").item()
            count += len(rows)
    ref_ppl = math.exp(nll / count)
    cmd = [cli, "eval", folder, "--data", data, "--seq-len", str(seq_len), "--mask-every", str(every), "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        fail(f"{' '.join(cmd)} exited with {proc.returncode}:\n{proc.stderr.strip()}")
    out = json.loads(proc.stdout)
    ppl = out.get("perplexity")
    if out.get("tokens") != count or not isinstance(ppl, (int, float)) or not abs(ppl - ref_ppl) <= REL * ref_ppl:
        fail(f"bert-text: masked scoring of text gave {ppl!r} over {out.get('tokens')} tokens, reference "
             f"{ref_ppl:.8g} over {count}")
    print(f"  bert-text: text -> WordPiece -> masked-LM pseudo-perplexity {ppl:.6g} vs {ref_ppl:.6g} "
          f"({count} tokens, windows between [CLS] and [SEP]): OK", flush=True)


def check_scheme_scope(cli, workdir):
    """A scheme quantizes what an export converts: nanoGPT's nn.Linear layers and Hugging Face
    GPT-2's Conv1D modules (transposed Linear layers, quantized per output channel)."""
    for label, model in (("gpt2-hf", os.path.join(workdir, "gpt2-hf")),
                         ("nanogpt-fork-gqa", os.path.join(workdir, "nanogpt-fork-gqa", "ckpt.pt"))):
        cmd = [cli, "eval", model, "--data", os.path.join(workdir, f"{label}.ids.json"), "--seq-len", "24",
               "--scheme", "nxd-int8", "--json"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            fail(f"{' '.join(cmd)} exited with {proc.returncode}:\n{proc.stderr.strip()}")
        out = json.loads(proc.stdout)
        n, kl = out.get("quantized_modules"), out.get("kl_divergence")
        if not (n and n > 0 and kl > 0):
            fail(f"{label}: a scheme quantized {n} modules (KL {kl}); expected its Linear layers")
        print(f"  {label}: --scheme nxd-int8 quantizes {n} modules (KL {kl:.3g}): OK", flush=True)


def expect_refusal(label, cli, model, workdir, words):
    data = os.path.join(workdir, f"{label}.ids.json")
    with open(data, "w") as f:
        json.dump([1, 2, 3, 4], f)
    proc = run_eval(cli, model, data, 4, os.path.join(workdir, f"{label}.npy"), must_succeed=False)
    if proc.returncode == 0 or proc.returncode < 0 or not all(w in proc.stderr for w in words):
        fail(f"{label}: expected a clean error naming {words}, got exit {proc.returncode}: {proc.stderr.strip()}")
    print(f"  {label}: refused ({proc.stderr.strip().splitlines()[0]})")


POINTS = ["attention.input", "attention.q", "attention.k", "attention.softmax_input", "attention.probabilities",
          "attention.v", "attention.pv_output", "attention.output", "mlp.input", "mlp.activation_input",
          "mlp.activation_output", "mlp.output"]


def check_calibration_names(cli, workdir, label, model, layer_path, linears):
    """`calibrate` records the twelve points of each layer and every Linear input under the
    checkpoint's module paths (so keep/quantize selections by name apply)."""
    import h5py
    out = os.path.join(workdir, f"{label}.h5")
    cmd = [cli, "calibrate", model, "--data", os.path.join(workdir, f"{label}.ids.json"), "-o", out,
           "--seq-len", "16", "--samples", "1", "--force"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        fail(f"{' '.join(cmd)} exited with {proc.returncode}:\n{proc.stderr.strip()}")
    with h5py.File(out, "r") as f:
        got = set(f["activations"].keys())
    expected = {f"{layer_path}{i}.{p}" for i in range(LAYERS) for p in POINTS}
    expected |= {f"{layer_path}{i}.{m}" for i in range(LAYERS) for m in linears[0]} | set(linears[1])
    if got != expected:
        fail(f"{label}: calibrate recorded {sorted(got - expected)} unexpectedly and missed {sorted(expected - got)}")
    print(f"  {label}: calibrate records the {len(got)} expected points and Linear inputs: OK")


def main():
    args, _ = interop_common.setup(with_demo=False)
    begin = time.time()
    torch.set_num_threads(1)
    check_reference_blocks()

    decoders = gpt_cases(args.workdir)
    encoders = bert_cases(args.workdir)
    runs = []
    for n, (label, path, s, t, mutants) in enumerate(decoders + encoders):
        encoder = "head" in s
        reference = bert_reference if encoder else gpt_reference
        w = to64(t)
        rng = np.random.default_rng(200 + n)
        count = s["max_positions"] if encoder else 48
        ids = rng.integers(0, s["vocab"], count).tolist()
        if encoder:  # one unpadded sequence
            ids = [i if i != s["pad"] else s["pad"] + 1 for i in ids]
        check_power(label, reference, s, w, ids, mutants)
        runs.append((label, path, s, w, ids, reference, encoder))
    print("reference power check: every listed mistake moves the logits by > 10x the tolerance")

    print(f"eval against the reference ({args.cli}):")
    for label, path, s, w, ids, reference, encoder in runs:
        ref = reference(s, w, ids)
        ppl = None
        if not encoder:  # overlap protocol, one window: predicts ids[1:] from ids[:-1]
            nll = F.cross_entropy(ref[:-1], torch.as_tensor(ids[1:]), reduction="mean").item()
            ppl = math.exp(nll)
        compare(label, args.cli, path, ids, args.workdir, ref, ppl)
        if encoder:
            compare_masked(label, args.cli, path, ids, args.workdir, reference, s, w)

    check_scheme_scope(args.cli, args.workdir)
    check_bert_text(args.cli, args.workdir, next(r[2] for r in runs if r[0] == "bert"),
                    next(r[3] for r in runs if r[0] == "bert"))

    print("observer points and Linear module names:")
    check_calibration_names(args.cli, args.workdir, "gpt2-hf", os.path.join(args.workdir, "gpt2-hf"),
                            "transformer.h.", (["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"], ["lm_head"]))
    check_calibration_names(args.cli, args.workdir, "nanogpt-fork-gqa",
                            os.path.join(args.workdir, "nanogpt-fork-gqa", "ckpt.pt"), "transformer.h.",
                            (["attn.c_attn_q", "attn.c_attn_k", "attn.c_attn_v", "attn.c_proj", "mlp.c_fc",
                              "mlp.c_proj"], ["lm_head"]))
    check_calibration_names(args.cli, args.workdir, "bert", os.path.join(args.workdir, "bert"), "bert.encoder.layer.",
                            (["attention.self.query", "attention.self.key", "attention.self.value",
                              "attention.output.dense", "intermediate.dense", "output.dense"],
                             ["cls.predictions.transform.dense", "cls.predictions.decoder"]))

    print("refusals:")
    cfg, s, t = make_bert("bert", 9)
    headless = {k: v for k, v in t.items() if not k.startswith("cls.")}
    folder = os.path.join(args.workdir, "bert-headless")
    write_hf(folder, cfg, headless)
    expect_refusal("bert-headless", args.cli, folder, args.workdir, ["masked-LM"])
    s, t = make_gpt("fork", 10, bias=False, fork_names=True, norm="rms")
    path = os.path.join(args.workdir, "nanogpt-rotary", "ckpt.pt")
    write_ckpt(path, t, {"n_layer": LAYERS, "n_head": HEADS, "n_embd": H, "block_size": 64, "vocab_size": 65,
                         "n_kv_group": HEADS, "use_rotary_embeddings": True, "bias": False})
    expect_refusal("nanogpt-rotary", args.cli, path, args.workdir, ["use_rotary_embeddings"])
    print(f"family forward interop: OK ({time.time() - begin:.1f} s)")


if __name__ == "__main__":
    main()
