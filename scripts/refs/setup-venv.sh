#!/usr/bin/env bash
# Creates (idempotently) the Python environment used to regenerate the reference data
# in tests/data/fixtures and tests/data/refs: .venv-refs/ in the repository root
# (gitignored). Not run in CI. Only PyPI is needed.
#
# Pinned to the versions recorded in tests/data/fixtures/*/meta.json:
#   torch 2.15.0 (the PyPI wheel, +cu132 build, used on CPU), transformers 5.23.0,
#   peft 0.21.2, safetensors 0.8.0, tokenizers 0.23.3, plus numpy and gguf
#   (for dequantising the Gemma 3 GGUF to F32).
# For the Gemma 3 270M logit references it also installs llama-cpp-python 0.3.36
# from the wheel that scripts/setup-llm-server.sh builds and caches in
# ~/.cache/dyag/wheels/ (it builds it, 10-15 minutes, if that cache is empty),
# unless DYAG_REFS_NO_LLAMA=1.
#
# Usage: scripts/refs/setup-venv.sh [VENV_DIR]
# Prints the venv's python path on stdout (everything else goes to stderr).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${1:-$root/.venv-refs}"
py="$venv/bin/python"

pins=(
  "torch==2.15.0"
  "transformers==5.23.0"
  "peft==0.21.2"
  "safetensors==0.8.0"
  "tokenizers==0.23.3"
  "numpy"
  "gguf"
)
llama_version="0.3.36"

check_pins() {
  [ -x "$py" ] && "$py" - <<'PYEOF' 2>/dev/null
import sys, importlib.metadata as md
want = {"torch": "2.15.0", "transformers": "5.23.0", "peft": "0.21.2",
        "safetensors": "0.8.0", "tokenizers": "0.23.3"}
for name, v in want.items():
    got = md.version(name).split("+")[0]
    if got != v:
        sys.exit(1)
import numpy, gguf, torch, transformers, peft  # noqa: F401  (they import)
PYEOF
}
check_llama() {
  [ "${DYAG_REFS_NO_LLAMA:-0}" = 1 ] && return 0
  "$py" -c "import llama_cpp, importlib.metadata as md, sys; sys.exit(md.version('llama-cpp-python') != '$llama_version')" 2>/dev/null
}

if ! check_pins; then
  host_py="$(command -v python3.11 || command -v python3)" || { echo "error: python3 is needed" >&2; exit 1; }
  [ -x "$py" ] || "$host_py" -m venv "$venv"
  "$py" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
  echo "installing ${pins[*]} into $venv (torch pulls the CUDA runtime wheels, ~3 GB)..." >&2
  "$py" -m pip install --disable-pip-version-check "${pins[@]}" >&2
  check_pins || { echo "error: pinned packages did not install correctly in $venv" >&2; exit 1; }
fi

if ! check_llama; then
  wheel_dir=""
  for d in "${XDG_CACHE_HOME:-$HOME/.cache}"/dyag/wheels/llama-cpp-python-"$llama_version"-*; do
    ls "$d"/llama_cpp_python-"$llama_version"-*.whl >/dev/null 2>&1 && { wheel_dir="$d"; break; }
  done
  if [ -z "$wheel_dir" ]; then
    echo "no cached llama-cpp-python wheel: building it with scripts/setup-llm-server.sh (10-15 minutes)" >&2
    "$root/scripts/setup-llm-server.sh" >/dev/null
    for d in "${XDG_CACHE_HOME:-$HOME/.cache}"/dyag/wheels/llama-cpp-python-"$llama_version"-*; do
      ls "$d"/llama_cpp_python-"$llama_version"-*.whl >/dev/null 2>&1 && { wheel_dir="$d"; break; }
    done
  fi
  [ -n "$wheel_dir" ] || { echo "error: no llama-cpp-python wheel found" >&2; exit 1; }
  "$py" -m pip install --disable-pip-version-check --quiet --no-deps "$wheel_dir"/llama_cpp_python-"$llama_version"-*.whl >&2
  "$py" -m pip install --disable-pip-version-check --quiet diskcache jinja2 typing-extensions >&2
  check_llama || { echo "error: llama_cpp does not import in $venv" >&2; exit 1; }
fi

echo "$py"
