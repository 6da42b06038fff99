#!/usr/bin/env bash
# Every test of dyag. Installs what the tests need first (each step is
# idempotent): the Gemma 3 270M model, Chromium (HTML report test), a
# llama.cpp OpenAI-compatible server (generate-training llm-based test),
# the NVRTC library (CUDA kernels compile test), Go (bindings). Then runs
# the Rust test suite, the portable-kernel variants, the CUDA feature's
# tests and the C/Go bindings' tests, and the reference tests again with
# nothing beside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
step() { printf '\n==> %s\n' "$*" >&2; }
started=$SECONDS

step "set-up: model";            scripts/fetch-model.sh
step "set-up: chromium";         scripts/setup-chromium.sh
step "set-up: llama.cpp server"; DYAG_LLM_SERVER_PYTHON="$(scripts/setup-llm-server.sh)"; export DYAG_LLM_SERVER_PYTHON
step "set-up: NVRTC";            scripts/setup-nvrtc.sh
step "set-up: Go";               scripts/install-go.sh

step "format: cargo fmt --check (rustfmt.toml)"
cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
cargo fmt --check

step "lint: cargo clippy -D warnings (default features and cuda)"
cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
cargo clippy --all-targets -- -D warnings
cargo clippy --all-targets --features cuda -- -D warnings
cargo clippy --lib --no-default-features -- -D warnings

step "Rust tests (release build)"
cargo test --release

step "unsafe-heavy unit tests under valgrind (kernels, ops, quantisation, C ABI handles)"
scripts/test-unsafe.sh

step "self-contained: the reference tests with nothing beside the repository"
scripts/test-isolated.sh

step "portable and AVX2 kernels: fixtures and unit tests at DYAG_SIMD=scalar and avx2"
for level in scalar avx2; do
  DYAG_SIMD=$level cargo test --release --lib --test fixtures_forward --test fixtures_train --test quant_levels
done

step "CUDA feature: build, NVRTC compile of every kernel, CPU-side checks (GPU tests skip without a device)"
cargo test --release --features cuda --lib --test cuda_nvrtc_compile --test nf4_reference --test cuda_kernels --test cuda_model --test cuda_device_cli

step "C and Go bindings against the lean release static library (C tests under valgrind and ASan)"
PROFILE=release scripts/test-bindings.sh

echo "all tests passed in $((SECONDS - started)) s" >&2
