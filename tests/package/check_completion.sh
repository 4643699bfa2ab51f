#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The bash completion completes quantscope-cli's commands, a command's options, --format's
# values and scheme presets, reading them from the built program's help.
#   tests/package/check_completion.sh COMPLETION_FILE CLI_DIR
set -euo pipefail
# shellcheck source=/dev/null
source "$1"
export PATH="$2:$PATH"
complete_words() {
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    _quantscope_cli
    printf '%s\n' "${COMPREPLY[@]}"
}
expect() {
    local want="$1"
    shift
    local got
    got="$(complete_words "$@")"
    grep -qx -- "$want" <<< "$got" || { echo "completing '$*': no '$want' in: $got" >&2; exit 1; }
}
expect convert quantscope-cli con
expect suggest quantscope-cli s
expect --format quantscope-cli convert --for
expect --max-ppl-increase quantscope-cli suggest --max-p
expect compressed-tensors quantscope-cli convert --format com
expect vllm-w8a8-int8 quantscope-cli convert --scheme vllm-w8
expect --all quantscope-cli help --a
echo "completion OK"
