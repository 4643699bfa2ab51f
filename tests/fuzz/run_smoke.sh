#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs one libFuzzer target for a bounded time on a copy of its seed corpus.
#
#   run_smoke.sh FUZZER CORPUS_DIR DICT RUNS_OR_SECONDS [extra libFuzzer flags...]
#
#   FUZZER           the fuzz executable (tests/fuzz build)
#   CORPUS_DIR       seed corpus; it is copied to a temporary folder and never written to
#   DICT             a libFuzzer -dict file, or "-" for none
#   RUNS_OR_SECONDS  "15s" (or "15sec") runs for 15 seconds (-max_total_time);
#                    "100000" runs 100000 inputs (-runs)
#
# Exits 0 when the fuzzer found nothing; 1 on any finding (crash, sanitizer report, uncaught
# exception, leak, timeout, out-of-memory); 2 on a usage error. On a finding the temporary folder
# is kept and its path printed: artifacts/ holds the reproducer (re-run it with
# `FUZZER artifacts/crash-...`). Environment: QS_FUZZ_TIMEOUT (seconds per input, default 5),
# QS_FUZZ_RSS_MB (default 2048), QS_FUZZ_KEEP=1 keeps the temporary folder even on success.
set -u -o pipefail

usage()
{
    sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

[ $# -ge 4 ] || usage
fuzzer=$1 corpus=$2 dict=$3 budget=$4
shift 4

[ -x "$fuzzer" ] || { echo "run_smoke.sh: $fuzzer is not an executable" >&2; exit 2; }
[ -d "$corpus" ] || { echo "run_smoke.sh: corpus folder $corpus does not exist" >&2; exit 2; }
if [ "$dict" != "-" ] && [ ! -f "$dict" ]; then
    echo "run_smoke.sh: dictionary $dict does not exist" >&2
    exit 2
fi
case $budget in
    *[0-9]s | *[0-9]sec)
        seconds=${budget%sec}
        seconds=${seconds%s}
        limit=(-max_total_time="$seconds") ;;
    *) limit=(-runs="$budget") ;;
esac
case ${limit[0]#*=} in
    '' | *[!0-9]*) echo "run_smoke.sh: RUNS_OR_SECONDS must be like 15s or 100000, got '$budget'" >&2; exit 2 ;;
esac

name=$(basename "$fuzzer")
work=$(mktemp -d "${TMPDIR:-/tmp}/qs-fuzz-$name.XXXXXX") || exit 2
mkdir -p "$work/corpus" "$work/artifacts"
cp -R "$corpus"/. "$work/corpus/"

dict_flag=()
[ "$dict" = "-" ] || dict_flag=(-dict="$dict")

# Symbolized stacks; stop at the first UBSan report (also compiled in with -fno-sanitize-recover).
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ]; then
    for s in llvm-symbolizer llvm-symbolizer-14; do
        if command -v "$s" > /dev/null; then
            ASAN_SYMBOLIZER_PATH=$(command -v "$s")
            export ASAN_SYMBOLIZER_PATH
            break
        fi
    done
fi
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

cmd=("$fuzzer" "${limit[@]}" -timeout="${QS_FUZZ_TIMEOUT:-5}" -rss_limit_mb="${QS_FUZZ_RSS_MB:-2048}"
    -artifact_prefix="$work/artifacts/" -print_final_stats=1 "${dict_flag[@]}" "$@" "$work/corpus")
echo "run_smoke.sh: ${cmd[*]}"
"${cmd[@]}" 2>&1 | tee "$work/fuzz.log"
status=${PIPESTATUS[0]}

# libFuzzer exits non-zero on a finding; -ignore_crashes and friends would hide that, so any
# saved artifact counts as well.
artifacts=$(find "$work/artifacts" -type f | sort)
if [ "$status" -ne 0 ] || [ -n "$artifacts" ]; then
    echo "run_smoke.sh: $name FAILED (exit status $status); log, corpus and artifacts kept in $work" >&2
    for a in $artifacts; do
        echo "run_smoke.sh: reproducer $a ($(stat -c %s "$a") bytes), base64:" >&2
        head -c 4096 "$a" | base64 -w 76 >&2
    done
    exit 1
fi
echo "run_smoke.sh: $name found nothing ($(grep -c '' "$work/fuzz.log") log lines)"
if [ "${QS_FUZZ_KEEP:-0}" = 1 ]; then
    echo "run_smoke.sh: kept $work"
else
    rm -rf "$work"
fi
exit 0
