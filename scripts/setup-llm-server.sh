#!/usr/bin/env bash
# Installs llama.cpp's OpenAI-compatible server (the `llama-cpp-python[server]`
# PyPI package) into a virtual environment inside the repository (.venv-llm/,
# gitignored), idempotently. The tests of `generate-training --method llm-based
# --llm-url ...` start this server on loopback with the project's GGUF model.
#
# PyPI has no binary wheel of llama-cpp-python for Linux/CPython 3.11, so it is
# built from source (cmake and ninja come as PyPI wheels; g++ is needed): about
# 10-15 minutes on 2 cores the first time. The built wheel is kept in
# ~/.cache/dyag/wheels/<version>-<flags>/, so later runs, fresh clones and new
# venvs on the same machine install it in seconds.
#
# Build flags: a portable AVX2 build, not `-march=native`. A native build on a
# CPU that advertises AMX uses AMX tile instructions, which crash (general
# protection fault in ldtilecfg) where the kernel or VM does not grant AMX
# state, as on this project's machines.
#
# Usage: scripts/setup-llm-server.sh [VENV_DIR]
# Prints the venv's python path on stdout (for DYAG_LLM_SERVER_PYTHON).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${1:-$root/.venv-llm}"
version="0.3.36"
py="$venv/bin/python"

simd="-DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
grep -qw avx2 /proc/cpuinfo 2>/dev/null || simd="-DGGML_AVX=OFF -DGGML_AVX2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF -DGGML_BMI2=OFF"
cmake_args="-DGGML_NATIVE=OFF $simd -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF"
flags_id="$(printf '%s' "$cmake_args" | sha256sum | cut -c1-12)"
wheels="${XDG_CACHE_HOME:-$HOME/.cache}/dyag/wheels/llama-cpp-python-$version-$flags_id"
stamp="$venv/.dyag-llama-build"

installed_ok() {
  [ -x "$py" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version-$flags_id" ] && "$py" - "$version" <<'EOF' 2>/dev/null
import sys, importlib.metadata as md
import llama_cpp, llama_cpp.server.app, uvicorn  # the server and its extras import
sys.exit(0 if md.version("llama-cpp-python") == sys.argv[1] else 1)
EOF
}

if installed_ok; then
  echo "llama-cpp-python $version server already installed in $venv" >&2
  echo "$py"
  exit 0
fi

host_py="$(command -v python3 || command -v python)" || { echo "error: python3 is needed" >&2; exit 1; }
start=$(date +%s)
[ -x "$py" ] || "$host_py" -m venv "$venv"
"$py" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2

if ! ls "$wheels"/llama_cpp_python-"$version"-*.whl >/dev/null 2>&1; then
  command -v g++ >/dev/null || command -v c++ >/dev/null || { echo "error: a C++ compiler (g++) is needed to build llama-cpp-python" >&2; exit 1; }
  echo "building llama-cpp-python $version (first time on this machine: 10-15 minutes)..." >&2
  mkdir -p "$wheels"
  # --no-cache-dir: a wheel pip built earlier with other flags must not be reused.
  CMAKE_ARGS="$cmake_args" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
    "$py" -m pip wheel --no-cache-dir --no-deps --disable-pip-version-check -w "$wheels" "llama-cpp-python==$version" >&2
fi
"$py" -m pip install --disable-pip-version-check --quiet --force-reinstall --no-deps "$wheels"/llama_cpp_python-"$version"-*.whl >&2
"$py" -m pip install --disable-pip-version-check --quiet --find-links "$wheels" "llama-cpp-python[server]==$version" >&2
echo "$version-$flags_id" > "$stamp"
installed_ok || { echo "error: llama-cpp-python[server] did not install correctly in $venv" >&2; exit 1; }
echo "installed in $(( $(date +%s) - start )) s: $py" >&2
echo "$py"
