#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs clang-tidy (the checks of .clang-tidy) over QuantScope's own sources, in parallel:
#   tests/lint/run_clang_tidy.sh [BUILD_DIR] [FILE_REGEX]
# BUILD_DIR defaults to build/release (configured, so that compile_commands.json exists).
# GCC's precompiled header cannot be read by clang, so the compile database is copied with the
# PCH flags removed (every file then parses its own headers: slower, same result). Exits non-zero
# when clang-tidy reports a warning.
set -euo pipefail
cd "$(dirname "$0")/../.."
build="${1:-build/release}"
root="$(pwd)"
filter="${2:-^$root/(core|app|widgets)/}"
[ -f "$build/compile_commands.json" ] || { echo "run_clang_tidy: configure $build first" >&2; exit 2; }
db="$build/clang-tidy"
mkdir -p "$db"
/usr/bin/python3 - "$build/compile_commands.json" "$db/compile_commands.json" <<'PY'
import json, re, sys
entries = json.load(open(sys.argv[1]))
for e in entries:
    e["command"] = re.sub(r" -include \S+cmake_pch\.hxx| -Winvalid-pch", "", e["command"])
# Left out: the fuzz targets (another compiler's project), generated moc files, and the kernel
# dispatch, whose __builtin_cpu_supports("f16c") GCC knows and clang 14 does not.
skip = ("/tests/fuzz/", "_autogen/", "/quant/kernels/row_kernels.cpp")
json.dump([e for e in entries if not any(s in e["file"] for s in skip)], open(sys.argv[2], "w"), indent=1)
PY
log="$db/clang-tidy.log"
run-clang-tidy -quiet -p "$db" -j "$(nproc)" -header-filter="^$root/(core|app|widgets)/" "$filter" > "$log" 2>&1 || true
sed -E 's/\x1b\[[0-9;]*m//g' "$log" | grep -E "(warning|error): " | sort -u > "$db/findings.txt" || true
count=$(wc -l < "$db/findings.txt")
echo "run_clang_tidy: $count findings (details in $log)"
cat "$db/findings.txt"
[ "$count" -eq 0 ]
