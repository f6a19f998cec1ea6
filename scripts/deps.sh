#!/usr/bin/env bash
# Installs the Debian packages embtab's build and tests need, if any is missing.
#   scripts/deps.sh [extra-package...]     e.g. scripts/deps.sh clang libclang-rt-14-dev
set -euo pipefail

packages=(cmake g++ ninja-build pkg-config libeigen3-dev libxxhash-dev catch2 libbenchmark-dev "$@")

if ! command -v dpkg >/dev/null 2>&1; then
    echo "deps.sh: not a Debian system; install these yourself: ${packages[*]}" >&2
    exit 0
fi

# What is missing.
missing=()
for package in "${packages[@]}"; do
    if ! dpkg -s "$package" 2>/dev/null | grep -q '^Status: install ok installed$'; then
        missing+=("$package")
    fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

# Install it, through sudo when not root.
as_root=()
if [[ $(id -u) -ne 0 ]]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "deps.sh: missing ${missing[*]}; run as root or install sudo" >&2
        exit 1
    fi
    as_root=(sudo)
fi
echo "deps.sh: installing ${missing[*]}"
"${as_root[@]}" apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
