#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Peak memory (RSS) of `quantscope-cli eval` on a large generated bf16 Llama checkpoint.

Writes a Llama-shaped safetensors checkpoint (every tensor BF16, streamed to disk: the model is
never held in memory) and a JSON list of random token ids, warms the page cache by reading the
checkpoint once, then runs `CLI eval MODEL --data IDS --seq-len TOKENS --json [EXTRA...]` with
`--scheme vllm-w8a8-int8` and without (float), measuring each child's peak RSS with os.wait4
(ru_maxrss). Prints the peaks against the checkpoint's size, the JSON's "seconds" and
"tokens_per_second" and, when the CLI reports them, "peak_rss_bytes" and the share of the time
spent loading blocks ("block_load_seconds" / "seconds"); absent fields print "-".

usage: bench_eval_memory.py --cli QUANTSCOPE_CLI --workdir DIR [--shape small|tinyllama|7b]
                            [--layers N] [--tokens N] [--threads N] [--keep] [--self-check]
                            [--limit-mb M] [--limit-ratio R] [-- EXTRA CLI ARGS]

Shapes: small (hidden 256, 4 layers, 8 MB: the ctest smoke run), tinyllama (TinyLlama-1.1B,
2.2 GB) and 7b (Llama-2-7B, 13.5 GB). The checkpoint, DIR/model-SHAPE-NL, is reused while its
marker file matches the shape: the large shapes are kept for the next run, the small one is
deleted at the end unless --keep. Exit status 1 when the w8a8 peak exceeds --limit-mb M or
--limit-ratio R times the checkpoint's size. --self-check re-reads the written file's header and
some tensors' bytes, and checks the BF16 rounding against a plain reference.
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

SHAPES = {
    "small": dict(hidden_size=256, num_hidden_layers=4, intermediate_size=688, num_attention_heads=8,
                  num_key_value_heads=4, vocab_size=2048),
    "tinyllama": dict(hidden_size=2048, num_hidden_layers=22, intermediate_size=5632, num_attention_heads=32,
                      num_key_value_heads=4, vocab_size=32000),
    "7b": dict(hidden_size=4096, num_hidden_layers=32, intermediate_size=11008, num_attention_heads=32,
               num_key_value_heads=32, vocab_size=32000),
}
TILE = 4 << 20          # bf16 values in the random tile the weights are cut from
SEED = 1
BF16_ONE = 0x3F80       # 1.0 in bf16, the norm weights
CHUNK = 64 << 20        # bytes per read of the page-cache warm-up
MARKER = "bench_shape.json"
MB = 1 << 20


def llama_config(shape, layers):
    cfg = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], **SHAPES[shape],
           "max_position_embeddings": 4096, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
           "tie_word_embeddings": False, "torch_dtype": "bfloat16"}
    if layers is not None:
        cfg["num_hidden_layers"] = layers
    return cfg


def tensor_shapes(cfg):
    """[(name, shape)] in file order, shapes [out, in] as Hugging Face stores them."""
    h, inter, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    hd = h // cfg["num_attention_heads"]
    q, kv = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd
    out = [("model.embed_tokens.weight", [v, h])]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        out += [(p + "input_layernorm.weight", [h]), (p + "post_attention_layernorm.weight", [h]),
                (p + "self_attn.q_proj.weight", [q, h]), (p + "self_attn.k_proj.weight", [kv, h]),
                (p + "self_attn.v_proj.weight", [kv, h]), (p + "self_attn.o_proj.weight", [h, q]),
                (p + "mlp.gate_proj.weight", [inter, h]), (p + "mlp.up_proj.weight", [inter, h]),
                (p + "mlp.down_proj.weight", [h, inter])]
    return out + [("model.norm.weight", [h]), ("lm_head.weight", [v, h])]


def random_tile():
    """The float32 tile and its bf16 bits (the upper half of float32's, rounded to nearest even),
    twice over so that TILE values from any offset are one slice."""
    f32 = (0.02 * np.random.default_rng(SEED).standard_normal(TILE)).astype(np.float32)
    u32 = f32.view(np.uint32)
    bits = ((u32 + 0x7FFF + ((u32 >> 16) & 1)) >> 16).astype("<u2")
    return f32, np.concatenate([bits, bits])


def layout(cfg):
    """[(name, shape, count, tile offset or None for a norm)], the header dict and the data size."""
    entries, header, offset = [], {}, 0
    for k, (name, shape) in enumerate(tensor_shapes(cfg)):
        count = int(np.prod(shape))
        start = None if name.endswith("norm.weight") else (k * 1_000_003) % TILE
        entries.append((name, shape, count, start))
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + 2 * count]}
        offset += 2 * count
    return entries, header, offset


def chunks(start, count, doubled):
    """A tensor's bf16 bits in pieces of at most TILE: the tile from `start` on, wrapping around
    (ones for a norm)."""
    if start is None:
        yield np.full(count, BF16_ONE, "<u2")
        return
    pos, left = start, count
    while left:
        take = min(left, TILE)
        yield doubled[pos:pos + take]
        left -= take
        pos = (pos + take) % TILE


def write_checkpoint(folder, cfg):
    """Streams model.safetensors: 8-byte header length, JSON header padded to 8, data in header order."""
    entries, header, _ = layout(cfg)
    _, doubled = random_tile()
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(os.path.join(folder, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for name, shape, count, start in entries:
            for piece in chunks(start, count, doubled):
                f.write(piece)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)


def ensure_checkpoint(folder, cfg):
    """Reuses the folder when its marker matches the shape, else (re)writes it. Returns its size."""
    marker = {"config": cfg, "tile": TILE, "seed": SEED}
    path = os.path.join(folder, "model.safetensors")
    try:
        with open(os.path.join(folder, MARKER)) as f:
            if json.load(f) == marker and os.path.exists(path):
                print(f"reusing {folder}")
                return os.path.getsize(path)
    except (OSError, ValueError):
        pass
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    start = time.perf_counter()
    write_checkpoint(folder, cfg)
    size = os.path.getsize(path)
    seconds = time.perf_counter() - start
    print(f"wrote {path}: {size / MB:.0f} MB in {seconds:.1f} s ({size / MB / seconds:.0f} MB/s)")
    with open(os.path.join(folder, MARKER), "w") as f:  # last: an interrupted write is not reused
        json.dump(marker, f)
    return size


def self_check(folder, cfg):
    """Parses the file's header on its own and compares some tensors' bytes with the intent."""
    f32, doubled = random_tile()
    # The rounding against a plain reference: the nearer of the two bf16 neighbours, ties to even.
    lo, x = f32.view(np.uint32) & 0xFFFF0000, f32.astype(np.float64)
    hi = lo + 0x10000
    dlo, dhi = (np.abs(x - b.view(np.float32).astype(np.float64)) for b in (lo, hi))
    up = (dhi < dlo) | ((dhi == dlo) & ((lo >> 16) & 1 == 1))
    assert np.array_equal(np.where(up, hi, lo) >> 16, doubled[:TILE]), "bf16 rounding is not to nearest even"
    entries, _, data_size = layout(cfg)
    path = os.path.join(folder, "model.safetensors")
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        assert n % 8 == 0, "header length is not a multiple of 8"
        header = json.loads(f.read(n))
        assert list(header) == [e[0] for e in entries], "tensor names or order differ"
        assert os.path.getsize(path) == 8 + n + data_size, "file size differs from the header's"
        end = 0
        for name, shape, count, start in entries:
            e = header[name]
            assert e["dtype"] == "BF16" and e["shape"] == shape, name
            assert e["data_offsets"] == [end, end + 2 * count], name + ": data offsets"
            end += 2 * count
        picks = [entries[0], entries[1], entries[4], entries[-2], entries[-1]]  # embed, norm, k_proj, ...
        for name, shape, count, start in picks:
            f.seek(8 + n + header[name]["data_offsets"][0])
            for want in chunks(start, count, doubled):
                got = np.frombuffer(f.read(2 * len(want)), "<u2")
                assert np.array_equal(got, want), name + ": bytes differ"
            values = (got.astype(np.uint32) << 16).view(np.float32)  # the last piece, decoded
            if start is None:
                assert np.all(values == 1.0), name + ": a norm weight is not 1"
            else:
                assert abs(values.std() - 0.02) < 0.002 and abs(values.mean()) < 0.002, name + ": not N(0, 0.02)"
    print(f"self-check passed: {len(entries)} tensors, header and {len(picks)} tensors' bytes as intended")


def reset_peak_rss():
    """A child's ru_maxrss starts at this process's RSS high-water mark (Linux carries it over fork
    and exec): reset the mark to the current RSS and return that floor of the measure, in bytes."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))


def warm_page_cache(path):
    start, buf = time.perf_counter(), bytearray(CHUNK)
    with open(path, "rb", buffering=0) as f:
        while f.readinto(buf):
            pass
    seconds = time.perf_counter() - start
    print(f"page cache warmed: read {path} in 64 MB chunks ({seconds:.1f} s)")


def run_eval(cmd, env):
    """Runs the CLI; returns (its JSON, peak RSS in bytes, the peak's floor, wall seconds). stderr
    goes to a temp file so that reading stdout to the end cannot deadlock; os.wait4 reaps the child."""
    print("running: " + " ".join(cmd), flush=True)
    with tempfile.TemporaryFile() as err:
        floor = reset_peak_rss()
        start = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env)
        out = child.stdout.read()
        child.stdout.close()
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait again
        if child.returncode != 0:
            err.seek(0)
            sys.stderr.write(err.read().decode(errors="replace"))
            raise SystemExit(f"FAIL: the CLI exited with status {child.returncode}")
    return json.loads(out), usage.ru_maxrss * 1024, floor, wall  # ru_maxrss is in KiB on Linux


def fmt(value, spec):
    return "-" if value is None else format(value, spec)


def main():
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    argv, extra = argv[:cut], argv[cut + 1:]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", required=True, help="the quantscope-cli binary")
    ap.add_argument("--workdir", required=True, help="holds the checkpoint (reused) and the data")
    ap.add_argument("--shape", choices=list(SHAPES), default="tinyllama")
    ap.add_argument("--layers", type=int, help="override the shape's number of decoder layers")
    ap.add_argument("--tokens", type=int, help="evaluation tokens = --seq-len (256, 128 for 7b)")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="OMP_NUM_THREADS of the CLI")
    ap.add_argument("--keep", action="store_true", help="keep the small shape's checkpoint too")
    ap.add_argument("--self-check", action="store_true", help="verify the written file's header and bytes")
    ap.add_argument("--limit-mb", type=float, help="fail when the w8a8 peak RSS exceeds M MB")
    ap.add_argument("--limit-ratio", type=float, help="fail when w8a8 peak RSS / checkpoint size exceeds R")
    args = ap.parse_args(argv)
    tokens = args.tokens or (128 if args.shape == "7b" else 256)

    cfg = llama_config(args.shape, args.layers)
    folder = os.path.join(args.workdir, f"model-{args.shape}-{cfg['num_hidden_layers']}L")
    os.makedirs(args.workdir, exist_ok=True)
    size = ensure_checkpoint(folder, cfg)
    if args.self_check:
        self_check(folder, cfg)
    # tokens + 1 ids: one window of `tokens` predicted tokens under the overlap protocol
    ids = np.random.default_rng(2).integers(0, cfg["vocab_size"], tokens + 1).tolist()
    data = os.path.join(args.workdir, f"ids-{cfg['vocab_size']}-{tokens}.json")
    with open(data, "w") as f:
        json.dump(ids, f)
    warm_page_cache(os.path.join(folder, "model.safetensors"))

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    base = [args.cli, "eval", folder, "--data", data, "--seq-len", str(tokens)]
    rows = [(mode, *run_eval(base + scheme + ["--json"] + extra, env))
            for mode, scheme in (("w8a8", ["--scheme", "vllm-w8a8-int8"]), ("float", []))]

    print(f"\neval of a {cfg['num_hidden_layers']}-layer Llama ({args.shape}: hidden {cfg['hidden_size']}, "
          f"vocab {cfg['vocab_size']}), bf16 checkpoint {size / MB:.0f} MB, {tokens} tokens, "
          f"{args.threads} threads")
    print(f"{'mode':<6} {'peak RSS MB':>11} {'ckpt MB':>8} {'peak/ckpt':>9} {'wall s':>7} {'seconds':>8} "
          f"{'tokens/s':>9} {'CLI peak MB':>11} {'block load':>10}")
    for mode, r, peak, floor, wall in rows:
        cli_peak = r.get("peak_rss_bytes")
        load, secs = r.get("block_load_seconds"), r.get("seconds")
        share = f"{100 * load / secs:.0f}%" if load is not None and secs else "-"
        print(f"{mode:<6} {peak / MB:>11.0f} {size / MB:>8.0f} {peak / size:>9.2f} {wall:>7.1f} "
              f"{fmt(secs, '.2f'):>8} {fmt(r.get('tokens_per_second'), '.1f'):>9} "
              f"{fmt(None if cli_peak is None else cli_peak / MB, '.0f'):>11} {share:>10}")
    floor = max(row[3] for row in rows)
    print(f"(peak RSS: the child's ru_maxrss, which cannot go below this script's RSS at spawn, {floor / MB:.0f} MB)")
    if min(row[2] for row in rows) <= floor:
        print("WARNING: a peak equals that floor: it measures this script, not the CLI")

    if args.shape == "small" and not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    peak = rows[0][2]
    failures = []
    if args.limit_mb is not None and peak / MB > args.limit_mb:
        failures.append(f"w8a8 peak RSS {peak / MB:.0f} MB exceeds --limit-mb {args.limit_mb:g}")
    if args.limit_ratio is not None and peak / size > args.limit_ratio:
        failures.append(f"w8a8 peak RSS / checkpoint {peak / size:.2f} exceeds --limit-ratio {args.limit_ratio:g}")
    for message in failures:
        print("FAIL: " + message)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
