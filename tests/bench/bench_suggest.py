#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The cost of measured sensitivity: `quantscope-cli suggest` against one `eval` of the same model.

Writes (or reuses) the generated bf16 Llama checkpoint of bench_eval_memory.py and WINDOWS x
TOKENS random token ids, warms the page cache, then runs in the same process, A B A B (--repeat):
  A: `eval MODEL --scheme vllm-w4a16 --seq-len TOKENS` (one full evaluation, float + quantized);
  B: `suggest MODEL --scheme vllm-w4a16 --max-ppl-increase 5 --seq-len TOKENS --sensitivity MODE`
     (every module of the layers measured, then the choice verified by one more evaluation).
Prints the medians, the ratio of suggest's measurement ("sensitivity_seconds") to one evaluation
("seconds" of eval's JSON) and of the whole suggest (wall) to eval (wall), and both peak RSS
(os.wait4). Exit status 1 when the measurement ratio exceeds --max-ratio.

usage: bench_suggest.py --cli QUANTSCOPE_CLI --workdir DIR [--shape small|tinyllama|7b] [--layers N]
                        [--windows 8] [--tokens 256] [--mode block|exact] [--repeat 2] [--threads N]
                        [--max-ratio R] [--keep]
"""
import argparse
import json
import os
import shutil
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_eval_memory as bench  # noqa: E402  (the checkpoint writer and the measured runs)

MB = 1 << 20


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--shape", choices=list(bench.SHAPES), default="tinyllama")
    ap.add_argument("--layers", type=int)
    ap.add_argument("--windows", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--mode", choices=["block", "exact"], default="block")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--max-ratio", type=float, help="fail when sensitivity / one eval exceeds R")
    ap.add_argument("--keep", action="store_true", help="keep the small shape's checkpoint too")
    args = ap.parse_args()

    cfg = bench.llama_config(args.shape, args.layers)
    folder = os.path.join(args.workdir, f"model-{args.shape}-{cfg['num_hidden_layers']}L")
    os.makedirs(args.workdir, exist_ok=True)
    size = bench.ensure_checkpoint(folder, cfg)
    # WINDOWS windows of TOKENS predicted tokens under the overlap protocol
    count = args.windows * args.tokens + 1
    ids = np.random.default_rng(3).integers(0, cfg["vocab_size"], count).tolist()
    data = os.path.join(args.workdir, f"ids-{cfg['vocab_size']}-{count}.json")
    with open(data, "w") as f:
        json.dump(ids, f)
    bench.warm_page_cache(os.path.join(folder, "model.safetensors"))

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    common = ["--data", data, "--seq-len", str(args.tokens), "--scheme", "vllm-w4a16", "--json"]
    evals, suggests = [], []
    for _ in range(args.repeat):
        evals.append(bench.run_eval([args.cli, "eval", folder] + common, env))
        suggests.append(bench.run_eval([args.cli, "suggest", folder] + common
                                       + ["--max-ppl-increase", "5", "--sensitivity", args.mode], env))

    eval_seconds = statistics.median(r[0]["seconds"] for r in evals)
    eval_wall = statistics.median(r[3] for r in evals)
    sens_seconds = statistics.median(r[0]["sensitivity_seconds"] for r in suggests)
    suggest_wall = statistics.median(r[3] for r in suggests)
    modules = len(suggests[0][0]["sensitivity"])
    ratio = sens_seconds / eval_seconds
    print(f"\nsuggest ({args.mode}) of a {cfg['num_hidden_layers']}-layer Llama ({args.shape}: hidden "
          f"{cfg['hidden_size']}, vocab {cfg['vocab_size']}), bf16 checkpoint {size / MB:.0f} MB, "
          f"{args.windows} x {args.tokens} tokens, {args.threads} threads, median of {args.repeat}")
    print(f"{'run':<28} {'seconds':>9} {'wall s':>8} {'peak RSS MB':>12}")
    print(f"{'eval (float + w4a16)':<28} {eval_seconds:>9.2f} {eval_wall:>8.2f} "
          f"{max(r[1] for r in evals) / MB:>12.0f}")
    print(f"{f'sensitivity of {modules} modules':<28} {sens_seconds:>9.2f} {'':>8} {'':>12}")
    print(f"{'suggest (measure + verify)':<28} {'':>9} {suggest_wall:>8.2f} "
          f"{max(r[1] for r in suggests) / MB:>12.0f}")
    print(f"ratio sensitivity / one eval: {ratio:.2f} (target under 10)")
    print(f"ratio suggest wall / eval wall: {suggest_wall / eval_wall:.2f}")

    if args.shape == "small" and not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    if args.max_ratio is not None and ratio > args.max_ratio:
        print(f"FAIL: sensitivity / eval {ratio:.2f} exceeds --max-ratio {args.max_ratio:g}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
