#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Builds quantscope_<version>_<arch>.deb from the release build and validates it
# (packaging/check-deb.sh). Prints the package's path on the last line.
#   packaging/build-deb.sh            configure and build the preset first
#   packaging/build-deb.sh --no-build package what the build folder holds
# QS_PRESET selects the CMake preset (default: release).
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${QS_PRESET:-release}"
build="build/$preset"
if [ "${1:-}" != "--no-build" ]; then
    cmake --preset "$preset"
    cmake --build --preset "$preset"
fi
rm -f "$build"/package/quantscope_*.deb
(cd "$build" && cpack -G DEB --config CPackConfig.cmake >&2)
deb="$(ls "$build"/package/quantscope_*.deb)"
packaging/check-deb.sh "$deb" >&2
echo "$deb"
