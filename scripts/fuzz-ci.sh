#!/usr/bin/env bash
# The fuzzing step of CI (about a minute, most of it the build when the
# release test build is not there yet): replays every committed fuzz input —
# the seed corpora fuzz/corpus/<target>/ and the reproducers of past findings
# fuzz/findings/<target>/ — through the fuzz targets' own code
# (fuzz/harness.rs) with the normal release build, no sanitizer and no
# nightly (tests/fuzz_corpora.rs; `cargo test --release` runs it as well).
# Fuzzing campaigns themselves: scripts/fuzz.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
cargo test --release --test fuzz_corpora -- --nocapture >"$log" 2>&1 || status=$?
grep -E '^(test |error)|inputs in|took|panicked|failures' "$log" || true
[ "$status" -eq 0 ] || tail -n 40 "$log"
echo "fuzz corpora replayed in $((SECONDS - started)) s" >&2
exit "$status"
