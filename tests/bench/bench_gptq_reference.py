#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The plain-PyTorch GPTQ of tests/interop/reference_gptq.py (llm-compressor's loop) timed on a
random layer: what bench_gptq compares QuantScope's GPTQ with, in the same run.

usage: bench_gptq_reference.py ROWS COLS TOKENS BITS GROUP_SIZE THREADS [REPEAT]
Prints the seconds of the Hessian and of the quantization loop (the best of REPEAT runs), as JSON.
"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
from reference_gptq import gptq  # noqa: E402


def main():
    rows, cols, tokens, bits, group, threads = (int(a) for a in sys.argv[1:7])
    repeat = int(sys.argv[7]) if len(sys.argv) > 7 else 1
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    w = torch.randn(rows, cols) * 0.02
    x = torch.randn(tokens // 512, 512, cols)
    hessian = loop = float("inf")
    with torch.inference_mode():
        for _ in range(repeat):
            start = time.perf_counter()
            h = torch.zeros(cols, cols)
            for seq in x:
                h += 2 * seq.T @ seq
            h /= x.shape[0]
            hessian = min(hessian, time.perf_counter() - start)
            start = time.perf_counter()
            gptq(w, h, bits, True, group, "static", True)
            loop = min(loop, time.perf_counter() - start)
    print(json.dumps({"hessian_seconds": hessian, "gptq_seconds": loop}))


if __name__ == "__main__":
    main()
