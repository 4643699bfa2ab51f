#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Interop check of `quantscope-cli calibrate` and its HDF5 capture file (the layout documented in
core/runtime/activation_store.h) with Debian's h5py and numpy.

The demo model (llama, 4 layers, hidden 256, intermediate 704, 8 heads) is calibrated on
pre-tokenized ids (a .json list) in windows of SEQ_LEN tokens. Checked:
- the root attributes (layout "quantscope-activations", layout_version 1, the others strings),
  the --json summary (file, points, tokens), no temporary file left behind;
- every expected group: the input of each Linear module (kind "linear_input", channels =
  in_features) and the twelve named points per layer (kind = the point's suffix; channels from
  config.json, 0 for attention.softmax_input and attention.probabilities);
- per-channel points: min/max/abs_max/mean/sq_mean of shape [channels], abs_max = max(|min|,
  |max|), min <= mean <= max, sq_mean >= mean^2, global min/max = min(min)/max(max), the
  histogram (symmetric range covering every value) counting tokens * channels values,
  token_max of length tokens whose max is max(abs_max), the sample [rows, channels] of the
  first rows (inside [min, max], its row maxima = the first token_max values);
- channel-free points: no per-channel datasets, the histogram counts every value, and the
  attention probabilities lie in [0, 1];
- the same tensor seen at several points gives identical statistics: q/k/v_proj inputs =
  attention.input, o_proj input = attention.pv_output, gate/up_proj inputs = mlp.input;
- every dataset chunked and gzip-compressed (level 4).
"""
import json
import os
import subprocess
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interop_common  # noqa: E402

SEQ_LEN = 64
SAMPLES = 3
NAMED = ("attention.input", "attention.q", "attention.k", "attention.softmax_input", "attention.probabilities",
         "attention.v", "attention.pv_output", "attention.output", "mlp.input", "mlp.activation_input",
         "mlp.activation_output", "mlp.output")
PER_CHANNEL = ("min", "max", "abs_max", "mean", "sq_mean")
STAT_ATTRS = ("tokens", "channels", "global_min", "global_max", "histogram_lo", "histogram_hi", "histogram_below",
              "histogram_above", "histogram_non_finite")


def fail(message):
    print("FAIL: " + message, flush=True)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def expected_points(config):
    """{point: (kind, channels)} for the demo model."""
    hidden = config["hidden_size"]
    inter = config["intermediate_size"]
    heads = config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads", heads)
    head_dim = config.get("head_dim", hidden // heads)
    points = {"lm_head": ("linear_input", hidden)}
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        for m in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "mlp.gate_proj", "mlp.up_proj"):
            points[p + m] = ("linear_input", hidden)
        points[p + "self_attn.o_proj"] = ("linear_input", heads * head_dim)
        points[p + "mlp.down_proj"] = ("linear_input", inter)
        channels = {"attention.input": hidden, "attention.q": heads * head_dim, "attention.k": kv_heads * head_dim,
                    "attention.softmax_input": 0, "attention.probabilities": 0, "attention.v": kv_heads * head_dim,
                    "attention.pv_output": heads * head_dim, "attention.output": hidden, "mlp.input": hidden,
                    "mlp.activation_input": inter, "mlp.activation_output": inter, "mlp.output": hidden}
        for name in NAMED:
            points[p + name] = (name, channels[name])
    return points


def histogram_edges(g):
    counts = g["histogram"][()]
    return counts, np.linspace(float(g.attrs["histogram_lo"]), float(g.attrs["histogram_hi"]), len(counts) + 1)


def check_common(name, g, tokens_expected):
    """Attributes, histogram and storage of any point; returns its tokens and channels."""
    for attr in ("kind", *STAT_ATTRS):
        check(attr in g.attrs, f"{name}: attribute {attr} missing")
    tokens, channels = int(g.attrs["tokens"]), int(g.attrs["channels"])
    check(tokens == tokens_expected, f"{name}: tokens {tokens}, expected {tokens_expected}")
    check(int(g.attrs["histogram_non_finite"]) == 0, f"{name}: non-finite values in the demo model")
    check("histogram" in g, f"{name}: no histogram dataset")
    counts, _ = histogram_edges(g)
    check(counts.dtype == np.int64 and counts.ndim == 1 and len(counts) > 0, f"{name}: histogram {counts.dtype} "
          f"{counts.shape}, expected int64 [bins]")
    check(np.all(counts >= 0), f"{name}: negative histogram counts")
    lo, hi = float(g.attrs["histogram_lo"]), float(g.attrs["histogram_hi"])
    gmin, gmax = float(g.attrs["global_min"]), float(g.attrs["global_max"])
    check(lo == -hi and hi >= max(abs(gmin), abs(gmax)) and gmin <= gmax,
          f"{name}: histogram range [{lo}, {hi}] does not cover the values [{gmin}, {gmax}] symmetrically")
    total = int(counts.sum()) + int(g.attrs["histogram_below"]) + int(g.attrs["histogram_above"])
    values = tokens * channels if channels > 0 else tokens
    check(total == values, f"{name}: the histogram counts {total} values, expected {values}")
    for key, d in g.items():
        check(isinstance(d, h5py.Dataset), f"{name}/{key}: not a dataset")
        check(d.chunks is not None and d.compression == "gzip" and d.compression_opts == 4,
              f"{name}/{key}: not chunked with gzip 4 ({d.chunks}, {d.compression}, {d.compression_opts})")
    return tokens, channels


def check_per_channel(name, g, channels, tokens):
    stats = {}
    for key in PER_CHANNEL:
        check(key in g, f"{name}: dataset {key} missing")
        a = g[key][()]
        check(a.dtype == np.float32 and a.shape == (channels,),
              f"{name}/{key}: {a.dtype} {a.shape}, expected float32 ({channels},)")
        check(np.all(np.isfinite(a)), f"{name}/{key}: non-finite values")
        stats[key] = a.astype(np.float64)
    mn, mx, am, mean, sq = (stats[k] for k in PER_CHANNEL)
    check(np.array_equal(am, np.maximum(np.abs(mn), np.abs(mx))), f"{name}: abs_max != max(|min|, |max|)")
    tol = 1e-6 * np.maximum(np.abs(mn), np.abs(mx)) + 1e-30
    check(np.all(mn - tol <= mean) and np.all(mean <= mx + tol), f"{name}: mean outside [min, max]")
    check(np.all(sq - mean ** 2 >= -1e-5 * np.maximum(mean ** 2, 1e-30)), f"{name}: sq_mean < mean^2")
    check(float(g.attrs["global_min"]) == mn.min() and float(g.attrs["global_max"]) == mx.max(),
          f"{name}: global_min/max {float(g.attrs['global_min'])}/{float(g.attrs['global_max'])} != "
          f"min(min)/max(max) {mn.min()}/{mx.max()}")
    check("token_max" in g, f"{name}: no token_max")
    tm = g["token_max"][()]
    check(tm.dtype == np.float32 and tm.shape == (tokens,), f"{name}/token_max: {tm.dtype} {tm.shape}, expected "
          f"float32 ({tokens},)")
    check(abs(float(tm.max()) - am.max()) <= 1e-6 * max(1.0, am.max()),
          f"{name}: max(token_max) {tm.max()} != max(abs_max) {am.max()}")
    check("sample" in g, f"{name}: no sample")
    sample = g["sample"][()]
    check(sample.dtype == np.float32 and sample.ndim == 2 and sample.shape[1] == channels
          and 0 < sample.shape[0] <= tokens, f"{name}/sample: {sample.dtype} {sample.shape}, expected float32 "
          f"[1..{tokens}, {channels}]")
    check(np.all(sample >= mn.astype(np.float32)) and np.all(sample <= mx.astype(np.float32)),
          f"{name}: sample values outside the per-channel [min, max]")
    check(np.array_equal(np.abs(sample).max(axis=1), tm[:sample.shape[0]]),
          f"{name}: the sample rows' max |x| differ from the first token_max values")


def check_channel_free(name, g, kind):
    for key in (*PER_CHANNEL, "token_max", "sample"):
        check(key not in g, f"{name}: unexpected dataset {key} for a point without channels")
    if kind == "attention.probabilities":
        gmin, gmax = float(g.attrs["global_min"]), float(g.attrs["global_max"])
        check(gmin >= 0.0 and gmax <= 1.0 + 1e-6, f"{name}: probabilities in [{gmin}, {gmax}], not inside [0, 1]")
        counts, edges = histogram_edges(g)
        outside = counts[(edges[1:] < -1e-6) | (edges[:-1] > 1.0 + 1e-6)].sum()
        check(outside == 0, f"{name}: {outside} histogram counts outside [0, 1]")


def check_same(f, a, b):
    """The points `a` and `b` saw the same tensor: identical statistics (the kind aside)."""
    ga, gb = f["activations"][a], f["activations"][b]
    for attr in STAT_ATTRS:
        check(ga.attrs[attr] == gb.attrs[attr], f"{a} and {b} differ in {attr}: {ga.attrs[attr]} vs "
              f"{gb.attrs[attr]}")
    check(set(ga.keys()) == set(gb.keys()), f"{a} and {b} hold different datasets")
    for key in ga.keys():
        check(np.array_equal(ga[key][()], gb[key][()]), f"{a} and {b} differ in {key}")


def main():
    args, demo = interop_common.setup()
    with open(os.path.join(demo, "config.json")) as c:
        config = json.load(c)
    expected = expected_points(config)
    rng = np.random.default_rng(0)
    ids = rng.integers(0, config["vocab_size"], size=SEQ_LEN * SAMPLES + 17).tolist()
    data = os.path.join(args.workdir, "ids.json")
    with open(data, "w") as d:
        json.dump(ids, d)
    out = os.path.join(args.workdir, "capture.h5")
    run = subprocess.run([args.cli, "calibrate", demo, "--data", data, "-o", out, "--seq-len", str(SEQ_LEN),
                          "--samples", str(SAMPLES), "--json"], capture_output=True, text=True)
    if run.returncode != 0:
        fail(f"calibrate exited with {run.returncode}:\n{run.stderr}")
    try:
        summary = json.loads(run.stdout)
    except json.JSONDecodeError as e:
        fail(f"calibrate --json printed no JSON ({e}):\n{run.stdout}")
    for key in ("file", "points", "tokens"):
        check(key in summary, f"--json: no '{key}' in {summary}")
    check(os.path.isfile(out) and os.path.samefile(summary["file"], out),
          f"--json: file {summary['file']!r}, expected {out!r}")
    tokens = SEQ_LEN * SAMPLES
    check(summary["tokens"] == tokens, f"--json: tokens {summary['tokens']}, expected {tokens}")
    leftovers = [n for n in os.listdir(args.workdir) if ".tmp-" in n]
    check(not leftovers, f"temporary files left behind: {leftovers}")

    with h5py.File(out, "r") as f:
        check(text(f.attrs.get("layout", "")) == "quantscope-activations", f"layout {f.attrs.get('layout')!r}")
        check(int(f.attrs.get("layout_version", -1)) == 1, f"layout_version {f.attrs.get('layout_version')!r}")
        for key, value in f.attrs.items():
            if key != "layout_version":
                check(isinstance(value, (bytes, str)), f"root attribute {key} is {type(value)}, not a string")
        for key, want in (("seq_len", SEQ_LEN), ("samples", SAMPLES)):
            check(key in f.attrs and json.loads(text(f.attrs[key])) == want,
                  f"root attribute {key}: {f.attrs.get(key)!r}, expected '{want}'")
        for key in ("model", "data"):
            check(key in f.attrs, f"root attribute {key} missing")
        check("activations" in f, "no /activations group")
        groups = f["activations"]
        check(summary["points"] == len(groups), f"--json: points {summary['points']}, the file has {len(groups)}")
        missing = sorted(set(expected) - set(groups.keys()))
        check(not missing, f"{len(missing)} expected points missing, e.g. {missing[:5]}")

        heads = config["num_attention_heads"]
        triangle = SAMPLES * heads * SEQ_LEN * (SEQ_LEN + 1) // 2  # causal scores per head and window
        for name, (kind, channels) in expected.items():
            g = groups[name]
            check(isinstance(g, h5py.Group), f"{name}: not a group")
            check(text(g.attrs.get("kind", "")) == kind, f"{name}: kind {g.attrs.get('kind')!r}, expected {kind!r}")
            got_tokens, got_channels = check_common(name, g, tokens if channels > 0 else triangle)
            check(got_channels == channels, f"{name}: channels {got_channels}, expected {channels}")
            if channels > 0:
                check_per_channel(name, g, channels, got_tokens)
            else:
                check_channel_free(name, g, kind)

        for i in range(config["num_hidden_layers"]):
            p = f"model.layers.{i}."
            for m in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"):
                check_same(f, p + m, p + "attention.input")
            check_same(f, p + "self_attn.o_proj", p + "attention.pv_output")
            for m in ("mlp.gate_proj", "mlp.up_proj"):
                check_same(f, p + m, p + "mlp.input")
    print(f"OK: {len(expected)} capture points over {tokens} tokens ({SAMPLES} windows of {SEQ_LEN})")


if __name__ == "__main__":
    main()
