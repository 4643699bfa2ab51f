#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Validates a built quantscope .deb: its contents (binaries, desktop file, metainfo, mime entry,
# icons, man pages, completion, copyright, changelog), Depends from dpkg-shlibdeps,
# desktop-file-validate, appstreamcli validate and lintian. Lintian errors fail; its warnings
# fail too unless packaging/lintian-accepted.txt lists the tag with the reason it is accepted.
#   packaging/check-deb.sh quantscope_<version>_<arch>.deb
set -euo pipefail

deb="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() {
    echo "check-deb: $*" >&2
    exit 1
}
for tool in dpkg-deb lintian desktop-file-validate appstreamcli; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (packaging/install-deps.sh installs it)"
done

dpkg-deb -x "$deb" "$work/root"
dpkg-deb -f "$deb" > "$work/control"
app=io.github.quantscope.QuantScope
for f in usr/bin/quantscope usr/bin/quantscope-cli \
    "usr/share/applications/$app.desktop" "usr/share/metainfo/$app.metainfo.xml" \
    usr/share/mime/packages/quantscope.xml usr/share/icons/hicolor/scalable/apps/quantscope.svg \
    usr/share/icons/hicolor/{48x48,64x64,128x128,256x256}/apps/quantscope.png \
    usr/share/man/man1/quantscope.1.gz usr/share/man/man1/quantscope-cli.1.gz \
    usr/share/bash-completion/completions/quantscope-cli usr/share/bash-completion/completions/quantscope \
    usr/share/doc/quantscope/copyright usr/share/doc/quantscope/changelog.gz; do
    [ -e "$work/root/$f" ] || fail "$deb has no /$f"
done
for size in 48 64 128 256; do
    file "$work/root/usr/share/icons/hicolor/${size}x${size}/apps/quantscope.png" | grep -q "$size x $size" \
        || fail "the ${size}x${size} icon is not ${size} x ${size} pixels"
done
# Depends as dpkg-shlibdeps computed it: the libraries the binaries link, with versions.
depends="$(sed -n 's/^Depends: //p' "$work/control")"
for lib in libc6 libqt6widgets6 libtorch libqcustomplot libhdf5 qt6-qpa-plugins; do
    grep -q "$lib" <<< "$depends" || fail "Depends lacks $lib: $depends"
done
grep -q "MimeType=.*application/x-safetensors" "$work/root/usr/share/applications/$app.desktop" \
    || fail "the desktop file does not claim application/x-safetensors"
zcat "$work/root/usr/share/man/man1/quantscope-cli.1.gz" | grep -q "convert" || fail "the CLI's man page lacks its commands"

desktop-file-validate "$work/root/usr/share/applications/$app.desktop"
appstreamcli validate --no-net --explain "$work/root/usr/share/metainfo/$app.metainfo.xml"

# lintian: E: always fails; W: fails unless accepted.
lintian --tag-display-limit 0 --display-info "$deb" > "$work/lintian.txt" 2>&1 || true
cat "$work/lintian.txt"
accepted="$(awk '!/^#/ && NF {print $1}' "$here/lintian-accepted.txt")"
bad=0
while read -r level _ tag _; do
    case "$level" in
        E:) echo "check-deb: lintian error: $tag" >&2; bad=1 ;;
        W:) grep -qx -- "$tag" <<< "$accepted" || { echo "check-deb: lintian warning not accepted: $tag" >&2; bad=1; } ;;
    esac
done < <(grep -E '^[EW]: ' "$work/lintian.txt")
[ "$bad" -eq 0 ] || fail "lintian found problems in $deb"
echo "check-deb: $deb is valid ($(dpkg-deb -f "$deb" Version), $(du -h "$deb" | cut -f1))"
echo "check-deb: Depends: $depends"
