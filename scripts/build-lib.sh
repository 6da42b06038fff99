#!/bin/sh
# Builds the lean static library for C, C++ and Go programs: the engine,
# training, generation, generate-training and the evaluation of fine-tuned
# models, without the CLI's dependencies (clap, rustyline), RAG's search
# engine (tantivy) or the report charts (plotters): `cargo build --lib
# --no-default-features`. Cargo writes every build's libdyag.a to the same
# path, so the lean one is copied to target/<profile>/lean/libdyag.a, where
# the C Makefile and the Go binding look for it. Prints that path.
#
# Usage: scripts/build-lib.sh [debug|release]   (default debug: the optimised dev profile)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PROFILE=${1:-${PROFILE:-debug}}
case "$PROFILE" in
    debug) FLAGS="" ;;
    release) FLAGS="--release" ;;
    *) echo "profile must be debug or release" >&2; exit 2 ;;
esac
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
cd "$ROOT"
# shellcheck disable=SC2086
cargo build $FLAGS --lib --no-default-features >&2
mkdir -p "$TARGET/$PROFILE/lean"
cp "$TARGET/$PROFILE/libdyag.a" "$TARGET/$PROFILE/lean/libdyag.a.tmp"
mv "$TARGET/$PROFILE/lean/libdyag.a.tmp" "$TARGET/$PROFILE/lean/libdyag.a"
echo "$TARGET/$PROFILE/lean/libdyag.a"
