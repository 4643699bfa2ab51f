#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Installs the built .deb into a clean Debian 12 root (debootstrap, then apt-get install ./deb)
# and runs it there: quantscope-cli demo, inspect and convert, and the GUI's screenshot mode
# under xvfb-run. The debootstrapped base is kept in WORKDIR/base and copied afresh for every
# run, so each install starts clean. Exits 77 (ctest: skipped) with the reason when it cannot
# run here: not root, no debootstrap, or no Debian mirror reachable.
#   tests/package/check_install.sh PACKAGE_DIR WORKDIR
set -euo pipefail

package_dir="$1"
workdir="$2"
skip() {
    echo "SKIPPED: $*"
    exit 77
}
[ "$(id -u)" -eq 0 ] || skip "installing into a Debian root needs root (debootstrap, chroot)"
command -v debootstrap >/dev/null || skip "debootstrap is not installed (Debian package debootstrap)"
deb="$(ls "$package_dir"/quantscope_*.deb 2>/dev/null | head -n 1)"
[ -n "$deb" ] || { echo "no quantscope_*.deb in $package_dir (the package_deb test builds it)" >&2; exit 1; }

# The host's Debian mirror, so that the root gets the same library versions the package was
# built against (bookworm with its updates and security suites).
mirror="$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)"
mirror="${mirror:-http://deb.debian.org/debian}"

mkdir -p "$workdir"
base="$workdir/base"
if [ ! -e "$base/.complete" ]; then
    rm -rf "$base"
    echo "check_install: debootstrap bookworm from $mirror into $base"
    if ! debootstrap --variant=minbase bookworm "$base" "$mirror" > "$workdir/debootstrap.log" 2>&1; then
        tail -n 5 "$workdir/debootstrap.log"
        rm -rf "$base"
        skip "debootstrap could not build a Debian 12 root from $mirror (see $workdir/debootstrap.log)"
    fi
    for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
        [ -f "$f" ] && cp "$f" "$base$f"
    done
    touch "$base/.complete"
fi

root="$workdir/root"
cleanup() {
    umount "$root/proc" 2>/dev/null || true
    umount "$root/dev" 2>/dev/null || true
    rm -rf "$root"
}
trap cleanup EXIT
rm -rf "$root"
cp -a "$base" "$root"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
cp "$deb" "$root/tmp/"
in_root() {
    chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"
}
export DEBIAN_FRONTEND=noninteractive
in_root apt-get update -q > "$workdir/apt.log" 2>&1
echo "check_install: apt-get install ./$(basename "$deb") (with its Depends and Recommends)"
if ! in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "/tmp/$(basename "$deb")" >> "$workdir/apt.log" 2>&1; then
    tail -n 20 "$workdir/apt.log"
    echo "check_install: the package does not install into a clean Debian 12 root" >&2
    exit 1
fi
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends xvfb xauth >> "$workdir/apt.log" 2>&1

set -x
in_root quantscope-cli --version
in_root quantscope --version
in_root quantscope-cli demo -o /tmp/demo
in_root quantscope-cli inspect /tmp/demo --json > "$workdir/inspect.json"
grep -q '"tensors"' "$workdir/inspect.json"
in_root quantscope-cli convert /tmp/demo -o /tmp/out --format compressed-tensors --keep lm_head
test -f "$root/tmp/out/model.safetensors"
test -f "$root/tmp/out/config.json"
in_root xvfb-run -a quantscope --demo --screenshot /tmp/window.png
file "$root/tmp/window.png" | grep -q "PNG image data"
# The desktop integration took effect: the file type is known and the menu entry is there.
grep -q "application/x-safetensors" "$root/usr/share/mime/globs2"
test -f "$root/usr/share/applications/io.github.quantscope.QuantScope.desktop"
set +x
echo "check_install: OK: $(basename "$deb") installs and runs in a clean Debian 12 root"
