#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# QuantScope quick start, from a clean clone on Debian 12:
#   packaging/quickstart.sh run    install what is missing, build, open the GUI on the demo model
#   packaging/quickstart.sh test   install what is missing, build, run the whole test suite
# QS_PRESET selects the CMake preset (default: release; see CMakePresets.json).
set -euo pipefail

cd "$(dirname "$0")/.."
mode="${1:-}"
case "$mode" in
    run | test) ;;
    *)
        echo "usage: packaging/quickstart.sh run|test" >&2
        exit 2
        ;;
esac
preset="${QS_PRESET:-release}"

packaging/install-deps.sh
cmake --preset "$preset"
cmake --build --preset "$preset"

if [ "$mode" = test ]; then
    exec ctest --preset "$preset" --parallel 2
fi

gui="build/$preset/app/quantscope"
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
    echo "quickstart: no display; starting the GUI on a virtual X server (xvfb-run)" >&2
    exec xvfb-run -a "$gui" --demo
fi
exec "$gui" --demo
