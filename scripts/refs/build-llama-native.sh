#!/usr/bin/env bash
# Builds the ggml libraries (ggml-base, ggml, ggml-cpu) of llama.cpp commit 0c1e570 -- the sources
# vendored in the llama-cpp-python 0.3.36 sdist from PyPI -- with -march=native (GGML_NATIVE=ON, OpenMP),
# like the "CPU build, -march=native" llama.cpp that made tests/data/refs, and assembles a library
# folder: the llama-cpp-python wheel's libllama.so (+ libmtmd.so) next to these native ggml libraries.
# Pass it to make_gemma3_refs.py --llama-lib DIR. The wheel itself (scripts/setup-llm-server.sh) is a
# portable AVX2 build; on an AVX-512 CPU the two sum float32 dot products in a different order.
#
# Do not use the result on a CPU that advertises AMX unless the kernel grants AMX state (see
# scripts/setup-llm-server.sh). About 3-6 minutes on 2 cores. Not run in CI.
#
# Usage: scripts/refs/build-llama-native.sh [DIR]   (default DIR: .venv-refs/llama-native)
# Prints DIR on stdout.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
py="$("$root/scripts/refs/setup-venv.sh")"
venv="$(dirname "$(dirname "$py")")"
out="${1:-$venv/llama-native}"
version="0.3.36"
jobs="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
work="${XDG_CACHE_HOME:-$HOME/.cache}/dyag/refs/llama-cpp-python-$version"
stamp="$out/.built-from"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version native" ] && [ -f "$out/libggml-cpu.so" ]; then
  echo "$out"; exit 0
fi
"$py" -m pip install --quiet --disable-pip-version-check cmake ninja >&2
export PATH="$venv/bin:$PATH"
mkdir -p "$work"
if [ ! -d "$work/llama_cpp_python-$version/vendor/llama.cpp" ]; then
  "$py" -m pip download --quiet --disable-pip-version-check --no-deps "llama-cpp-python==$version" -d "$work" >&2
  tar xzf "$work/llama_cpp_python-$version.tar.gz" -C "$work"
fi
src="$work/llama_cpp_python-$version/vendor/llama.cpp"
build="$work/build-native"
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
  -DGGML_NATIVE=ON -DGGML_OPENMP=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_COMMON=OFF -DLLAMA_CURL=OFF >&2
nice -n 10 cmake --build "$build" --target ggml -j "$jobs" >&2
wheel_lib="$("$py" -c 'import llama_cpp, os; print(os.path.join(os.path.dirname(llama_cpp.__file__), "lib"))')"
rm -rf "$out"; mkdir -p "$out"
cp -P "$wheel_lib"/libllama.so* "$wheel_lib"/libmtmd.so* "$out"/ 2>/dev/null || cp -P "$wheel_lib"/libllama.so* "$out"/
cp -P "$build"/bin/libggml*.so* "$out"/
echo "$version native" > "$stamp"
echo "$out"
