# SPDX-License-Identifier: GPL-3.0-or-later
"""What every export check starts with: --cli and --workdir arguments, a fresh work folder,
and (optionally) the demo model written there by quantscope-cli."""
import argparse
import os
import shutil
import subprocess
import sys


def setup(with_demo=True):
    """Returns (args, demo_dir or None) after emptying args.workdir."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir)
    if not with_demo:
        return args, None
    demo = os.path.join(args.workdir, "demo")
    subprocess.run([args.cli, "demo", "-o", demo], check=True, stdout=subprocess.DEVNULL)
    return args, demo


def compare_logits(label, npy_path, ref, rel):
    """The float32 logits `quantscope-cli eval --logits` wrote against a float64 torch reference:
    same shape, every value within rel * max(1, max |ref|). Exits with a message naming the worst
    position otherwise; returns (max difference, tolerance)."""
    import sys

    import numpy as np
    logits = np.load(npy_path)
    if logits.dtype != np.float32 or logits.shape != tuple(ref.shape):
        print(f"FAIL: {label}: --logits wrote {logits.dtype} {logits.shape}, expected float32 {tuple(ref.shape)}",
              flush=True)
        sys.exit(1)
    expected = ref.numpy()
    diff = np.abs(logits.astype(np.float64) - expected).max()
    tol = rel * max(1.0, float(np.abs(expected).max()))
    if not diff <= tol:  # also catches NaN
        where = np.unravel_index(np.nanargmax(np.abs(logits - expected)), logits.shape)
        print(f"FAIL: {label}: logits differ from the reference by {diff:.3e} > {tol:.1e} (worst at position "
              f"{where[0]}, token {where[1]}: {logits[where]} vs {expected[where]})", flush=True)
        sys.exit(1)
    return diff, tol


def fail(message):
    print("FAIL: " + message, flush=True)
    sys.exit(1)


def tolerance(ref, rel):
    """rel relative to max(1, max |reference logit|): the logits checks' tolerance."""
    return rel * max(1.0, ref.abs().max().item())


def check_power(label, reference, spec, w, ids, mutants, rel):
    """Each plausible mistake (a `mutant` of `reference(spec, w, ids, mutant=...)`) moves the
    logits by more than 10x the tolerance: otherwise the check would miss it."""
    ref = reference(spec, w, ids)
    for mutant in mutants:
        moved = (reference(spec, w, ids, mutant=(mutant,)) - ref).abs().max().item()
        if not moved >= 10 * tolerance(ref, rel):
            fail(f"{label}: the mistake {mutant!r} moves the logits by only {moved:.2e}; the test would miss it")


def run_eval(cli, model, data, seq_len, logits_path, must_succeed=True):
    """`quantscope-cli eval ... --logits logits_path --json`; the finished process."""
    cmd = [cli, "eval", model, "--data", data, "--seq-len", str(seq_len), "--logits", logits_path, "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 and must_succeed:
        fail(f"{' '.join(cmd)} exited with {proc.returncode}:\n{proc.stderr.strip()}")
    return proc


def unpack(words, bits, cols):
    """compressed-tensors unpack (numpy): element c at bit c*bits of the row's little-endian stream, minus 2^(bits-1)."""
    import numpy as np
    per = 32 // bits
    u = words.astype(np.int64) & 0xFFFFFFFF
    shifts = np.arange(per, dtype=np.int64) * bits
    vals = (u[:, :, None] >> shifts[None, None, :]) & ((1 << bits) - 1)
    return vals.reshape(words.shape[0], -1)[:, :cols] - (1 << (bits - 1))
