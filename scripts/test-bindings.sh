#!/bin/sh
# Builds dyag's static library and CLI once (cargo, in the shared target
# folder), then builds and runs against them:
#   - the C tests and examples (bindings/c): test_capi under valgrind (or
#     AddressSanitizer), test_gemma (gemma3:270m, token for token against the
#     CLI) with AddressSanitizer, the query and finetune examples;
#   - the Go tests and example (bindings/go).
# Needs: a C compiler, make, valgrind (or DYAG_MEMCHECK=asan), Go >= 1.19
# (scripts/install-go.sh) and models/gemma-3-270m-q4_k_m.gguf (scripts/fetch-model.sh).
#
# Environment: PROFILE=debug|release (cargo profile, default debug: the
# optimised dev profile `cargo build`/`cargo test` already built),
# CARGO_TARGET_DIR, DYAG_MEMCHECK=valgrind|asan (default valgrind).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PROFILE=${PROFILE:-debug}
MEMCHECK=${DYAG_MEMCHECK:-valgrind}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
LIBDIR="$CARGO_TARGET_DIR/$PROFILE"
case "$PROFILE" in
    debug) CARGO_PROFILE="" ;;
    release) CARGO_PROFILE="--release" ;;
    *) echo "PROFILE must be debug or release" >&2; exit 2 ;;
esac
case "$MEMCHECK" in
    valgrind|asan) ;;
    *) echo "DYAG_MEMCHECK must be valgrind or asan" >&2; exit 2 ;;
esac

timed() {
    label=$1
    shift
    start=$(date +%s)
    "$@"
    echo "[test-bindings] $label: $(($(date +%s) - start)) s" >&2
}

cd "$ROOT"
timed "cargo build (the lean libdyag.a, then the dyag CLI, $PROFILE)" sh -c "scripts/build-lib.sh $PROFILE >/dev/null && cargo build $CARGO_PROFILE --bin dyag"

timed "C: build" make -C bindings/c --no-print-directory PROFILE="$PROFILE" BUILT=1 all
timed "C: test_capi under $MEMCHECK" make -C bindings/c --no-print-directory PROFILE="$PROFILE" BUILT=1 "check-$MEMCHECK"
timed "C: test_gemma (ASan) against the CLI" make -C bindings/c --no-print-directory PROFILE="$PROFILE" BUILT=1 check-gemma
timed "C: hostile model files (ASan)" make -C bindings/c --no-print-directory PROFILE="$PROFILE" BUILT=1 check-hostile
timed "C: examples" make -C bindings/c --no-print-directory PROFILE="$PROFILE" BUILT=1 examples

if ! command -v go >/dev/null 2>&1; then
    echo "go not found: run scripts/install-go.sh" >&2
    exit 1
fi
# Go's caches live in the target folder when the environment names none
# (CI may have no HOME); no module is downloaded (the binding has no dependency).
export GOCACHE="${GOCACHE:-$CARGO_TARGET_DIR/go/cache}"
export GOPATH="${GOPATH:-$CARGO_TARGET_DIR/go/path}"
export GOPROXY=off GOFLAGS=-mod=mod
export CGO_ENABLED=1 CGO_LDFLAGS="-L$LIBDIR/lean ${CGO_LDFLAGS:-}"
export DYAG_CLI="$LIBDIR/dyag"
cd "$ROOT/bindings/go"
timed "Go: vet + build the example" sh -c 'go vet ./... && go build -o "$CARGO_TARGET_DIR/go/dyag-go-example" ./example'
timed "Go: go test" go test -count=1 -v ./...
echo "[test-bindings] all C and Go checks passed" >&2
