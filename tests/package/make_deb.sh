#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# ctest's package_deb: runs CPack's DEB generator in the build folder and validates the package
# (packaging/check-deb.sh: contents, Depends, desktop-file-validate, appstreamcli, lintian).
#   tests/package/make_deb.sh BUILD_DIR
set -euo pipefail
build="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rm -f "$build"/package/quantscope_*.deb
(cd "$build" && cpack -G DEB --config CPackConfig.cmake)
"$here/../../packaging/check-deb.sh" "$(ls "$build"/package/quantscope_*.deb)"
