#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The project's structural rules, checked on the source tree (ctest: structure_rules).

- core/ includes no Qt header; widgets/ includes no libtorch header (DESIGN.md's layering);
- no source file (C++, Python, JavaScript; tests too) is over 500 lines, and no function of
  core/, widgets/ or app/ over 120 lines (function extents from universal-ctags);
- cancellation reaches long loops through qs::CancelToken: no `std::atomic<bool>*` in a
  header of core/ or app/;
- every source file (C++, Python, shell, CMake) carries an SPDX-License-Identifier line.
Prints every violation with its file and line, and exits 1 when there is one.
"""
import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 120
CXX = (".cpp", ".h")
SPDX_SUFFIXES = (".cpp", ".h", ".py", ".sh", ".cmake")


def tracked_files(root):
    out = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True, check=False)
    if out.returncode != 0:  # not a checkout (a source tarball): every file
        return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file() and ".git" not in p.parts)
    return sorted(Path(p) for p in out.stdout.decode().split("\0") if p and (root / p).is_file())


def long_functions(root, files):
    ctags = shutil.which("ctags")
    if ctags is None:
        return ["universal-ctags is not installed (packaging/install-deps.sh installs it): function lengths unchecked"]
    args = [ctags, "--languages=C++", "--kinds-c++=+f", "--fields=+ne", "--extras=-q", "--output-format=json",
            "-f", "-"] + [str(f) for f in files]
    out = subprocess.run(args, cwd=root, capture_output=True, text=True, check=True)
    problems = []
    for line in out.stdout.splitlines():
        tag = json.loads(line)
        if tag.get("kind") != "function" or "end" not in tag:
            continue
        length = tag["end"] - tag["line"] + 1
        if length > MAX_FUNCTION_LINES:
            problems.append(f"{tag['path']}:{tag['line']}: {tag['name']} is {length} lines "
                            f"(at most {MAX_FUNCTION_LINES})")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=Path(__file__).resolve().parents[2], type=Path)
    root = parser.parse_args().root.resolve()
    files = tracked_files(root)
    problems = []
    code = [f for f in files if f.parts and f.parts[0] in ("core", "widgets", "app") and f.suffix in CXX]
    for f in files:
        if f.suffix in CXX + (".py", ".mjs") and "corpus" not in f.parts:
            count = len((root / f).read_text(encoding="utf-8", errors="replace").splitlines())
            if count > MAX_FILE_LINES:
                problems.append(f"{f}: {count} lines (at most {MAX_FILE_LINES}; split it by purpose)")
    for f in code:
        lines = (root / f).read_text(encoding="utf-8", errors="replace").split("\n")
        for n, line in enumerate(lines, 1):
            if f.parts[0] == "core" and re.match(r'\s*#\s*include\s*[<"]Q[A-Za-z]+', line):
                problems.append(f"{f}:{n}: core/ includes a Qt header")
            if f.parts[0] == "widgets" and re.match(r'\s*#\s*include\s*[<"](torch|ATen|c10)/', line):
                problems.append(f"{f}:{n}: widgets/ includes a libtorch header")
            if f.suffix == ".h" and f.parts[0] in ("core", "app") and re.search(r"std::atomic<bool>\s*\*", line):
                problems.append(f"{f}:{n}: a raw std::atomic<bool>* in a header (take a qs::CancelToken)")
    problems += long_functions(root, code)
    for f in files:
        if f.suffix in SPDX_SUFFIXES or f.name == "CMakeLists.txt" or (f.parts[0] == ".ci" and f.name == "run"):
            if f.parts[0] == "tests" and "corpus" in f.parts:
                continue
            head = (root / f).read_text(encoding="utf-8", errors="replace").split("\n")[:3]
            if not any("SPDX-License-Identifier:" in line for line in head):
                problems.append(f"{f}:1: no SPDX-License-Identifier line in its first three lines")
    for p in problems:
        print(p)
    print(f"structure: {len(code)} C++ files and {len(files)} tracked files checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
