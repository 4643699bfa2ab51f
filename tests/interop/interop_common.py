"""What every export check starts with: --cli and --workdir arguments, a fresh work folder,
and (optionally) the demo model written there by quantscope-cli."""
import argparse
import os
import shutil
import subprocess


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
