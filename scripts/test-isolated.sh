#!/usr/bin/env bash
# Runs the reference tests with nothing beside the repository: proof that they
# read nothing outside it (CI's own checkout has a reference folder next to it,
# so a plain run could not tell).
#
# The test binaries are built as usual (shared with `cargo test --release`),
# then run in a private mount namespace where the repository's parent folder
# is an empty tmpfs holding only the repository: same paths, nothing beside.
# Where mount namespaces are not allowed (`unshare -m` fails), the tests run
# instead from a fresh clone in an empty temporary folder, with a target
# folder of their own (slower: every dependency is compiled again; a shared
# one would leave the clone's binaries in this checkout's target folder).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tests=(--test self_contained --test fixtures_forward --test fixtures_train --test gemma3_reference
  --test tokenizer_hf_fixture --test tokenizer_gemma3 --test safetensors_files --test capi_fixture --test eval_engine_cli)

if unshare -m true 2>/dev/null && [ -d /dev/shm ] && [ "$(dirname "$root")" != / ]; then
  mapfile -t exes < <(cargo test --release --no-run --message-format=json "${tests[@]}" |
    python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["executable"])')
  [ "${#exes[@]}" -eq $((${#tests[@]} / 2)) ] || { echo "error: expected $((${#tests[@]} / 2)) test binaries, cargo built ${#exes[@]}" >&2; exit 1; }
  parent=$(dirname "$root") name=$(basename "$root")
  # Where the repository stays reachable once its parent is covered (not under the parent).
  keep=$(mktemp -d /dev/shm/dyag-isolated.XXXXXX)
  trap 'rmdir "$keep"' EXIT
  unshare -m bash -c '
    set -euo pipefail
    root=$1 parent=$2 name=$3 keep=$4; shift 4
    mount --bind "$root" "$keep"
    mount -t tmpfs -o size=1m dyag-isolated "$parent"
    mkdir "$parent/$name"
    mount --bind "$keep" "$parent/$name"
    [ "$(ls -A "$parent")" = "$name" ] || { echo "error: $parent holds more than the repository" >&2; exit 1; }
    cd "$parent/$name"
    echo "[test-isolated] $parent holds only $name; running $# test binaries" >&2
    for exe in "$@"; do "$exe"; done' _ "$root" "$parent" "$name" "$keep" "${exes[@]}"
else
  echo "[test-isolated] no mount namespace here (unshare -m): testing a fresh clone with a target folder of its own" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  git clone --quiet --no-hardlinks "$root" "$tmp/dyag"
  cd "$tmp/dyag"
  [ "$(ls -A "$tmp")" = dyag ] || { echo "error: $tmp holds more than the clone" >&2; exit 1; }
  CARGO_TARGET_DIR="$tmp/dyag/target" DYAG_MODELS_DIR="${DYAG_MODELS_DIR:-$root/models}" cargo test --release "${tests[@]}"
fi
