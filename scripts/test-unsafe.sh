#!/usr/bin/env bash
# The unsafe-heavy unit tests (CPU kernels, ops, quantisation, the C ABI's
# handles) under valgrind's memcheck: out-of-bounds reads and writes,
# uninitialised values and leaks in the code that uses raw pointers. Miri
# would need a nightly toolchain; valgrind runs the release test binary as
# built. Valgrind does not emulate AVX-512, so the kernels run at the AVX2
# level here (the CPU's features as valgrind reports them) and again at the
# portable level (DYAG_SIMD=scalar).
#   scripts/test-unsafe.sh [FILTER...]   default filters: cpu:: ops:: quant:: ffi::
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is required (apt-get install valgrind)" >&2; exit 1; }
filters=("$@")
[ ${#filters[@]} -gt 0 ] || filters=(cpu:: ops:: quant:: ffi::)
bin=$(cargo test --release --lib --no-run --message-format=json 2>/dev/null \
    | python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "dyag" and m.get("executable"):
        print(m["executable"])')
[ -n "$bin" ] || { echo "no library test binary found" >&2; exit 1; }
for level in "" scalar; do
    echo "==> valgrind: ${filters[*]} (DYAG_SIMD=${level:-best})" >&2
    DYAG_SIMD=$level valgrind --error-exitcode=99 --quiet --leak-check=no \
        "$bin" "${filters[@]}" --test-threads=2 -q
done
