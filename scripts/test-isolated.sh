#!/usr/bin/env bash
# Runs the reference tests from a fresh clone of this repository in an empty
# temporary folder, with nothing beside it: proof that the tests need nothing
# outside the repository (CI's own checkout has a reference folder next to it,
# so it could not tell). The clone has the committed tree (HEAD); the model is
# read from this checkout's models/ (DYAG_MODELS_DIR) and the build reuses
# this checkout's target folder, where only dyag itself is compiled again.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git clone --quiet --no-hardlinks "$root" "$tmp/dyag"
ls -A "$tmp" | grep -qvx dyag && { echo "error: $tmp holds more than the clone" >&2; exit 1; }
cd "$tmp/dyag"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
export DYAG_MODELS_DIR="${DYAG_MODELS_DIR:-$root/models}"
cargo test --release --test self_contained --test fixtures_forward --test fixtures_train --test gemma3_reference \
  --test tokenizer_hf_fixture --test tokenizer_gemma3 --test safetensors_files --test capi_fixture --test eval_engine_cli
