#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Installs what QuantScope needs to build, run and test on Debian 12, and nothing that is
# already there. Idempotent: a second run installs nothing and does not touch the network.
set -euo pipefail

packages=(
    # toolchain
    cmake ninja-build g++ ccache pkg-config
    # function extents for the structural rules test (tests/lint/check_structure.py)
    universal-ctags
    # Qt 6 Widgets (+ Concurrent, PrintSupport, Test), its platform plugins and fonts
    qt6-base-dev qt6-base-dev-tools qt6-qpa-plugins libgl-dev libqt6opengl6-dev fonts-dejavu-core
    # the engine's libraries
    libtorch-dev libhdf5-dev nlohmann-json3-dev libyaml-cpp-dev
    # SentencePiece tokenizers (.model files) for the calibration runtime
    libsentencepiece-dev
    # Unicode for the tokenizers (normalization, categories, \p{L} regular expressions)
    libicu-dev
    # an optimised BLAS for libtorch's matrix products (Debian's default libblas3 is the
    # reference implementation, about 16x slower for the model runtime); the OpenMP build
    # shares libtorch's threads instead of oversubscribing the cores
    libopenblas0-openmp
    # SVG export of the plots
    qt6-svg-dev
    # plots
    libqcustomplot-dev libqcustomplot2.1-qt6
    # headless GUI runs and screenshots
    xvfb xauth
    # interop tests: Debian's PyTorch, numpy and h5py read what we write
    python3 python3-torch python3-numpy python3-h5py python3-sentencepiece
    # fuzz targets: clang with its libFuzzer runtime (the main build uses g++)
    clang libclang-rt-14-dev
    # the Debian package: icons rendered from the SVG, man pages from --help, the validators,
    # and the install test's clean Debian 12 root
    librsvg2-bin help2man dpkg-dev fakeroot file lintian desktop-file-utils appstream debootstrap
    # conversion spread over processes and machines (the README's and the test's GNU parallel)
    parallel
)

# interop_tokenizers compares with Hugging Face's own JavaScript tokenizers (@huggingface/tokenizers,
# pinned in tests/interop/node/package-lock.json). Node and npm usually come with the machine;
# where they do not, Debian's nodejs and npm are installed. The npm install is skipped when the
# locked version is already there.
install_node_deps() {
    local dir want have
    dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/interop/node"
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        echo "install-deps: installing Debian's nodejs and npm (for tests/interop/node)"
        $sudo apt-get update -q
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends nodejs npm
    fi
    want="$(node -e 'const l=require(process.argv[1]);console.log(l.packages["node_modules/@huggingface/tokenizers"].version)' "$dir/package-lock.json")"
    have="$(node -e 'try{console.log(require(process.argv[1]).version)}catch(e){}' "$dir/node_modules/@huggingface/tokenizers/package.json")"
    if [ "$have" = "$want" ]; then
        echo "install-deps: @huggingface/tokenizers $want is installed in tests/interop/node"
        return
    fi
    echo "install-deps: npm ci in tests/interop/node (@huggingface/tokenizers $want)"
    (cd "$dir" && npm ci --no-audit --no-fund)
}

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#packages[@]} packages are installed"
    install_node_deps
    exit 0
fi

echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
install_node_deps
