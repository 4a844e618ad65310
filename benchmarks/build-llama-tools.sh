#!/usr/bin/env bash
# Builds llama.cpp's own programs that the benchmarks compare with (the peers), from the very
# source llama-cpp-python vendors, so that they run the same llama.cpp as verispec's backend:
#   llama-speculative-simple   llama.cpp's draft-model speculative decoding (`verispec bench` peer
#                              `llama-speculative`)
#   llama-server               its HTTP server with continuous batching (the serving peer)
# Usage: benchmarks/build-llama-tools.sh [VERSION]   (about 10 minutes on 2 cores)
# The programs go to $VERISPEC_CACHE/llama-tools/VERSION/ (default ~/.cache/verispec/...).
#
# One CPU kernel set, chosen from this machine's flags (GGML_NATIVE=ON segfaulted on one machine
# of this kind; AVX2 alone ran the 1.5B at less than half the AVX-512 speed). Build on the machine
# that runs the benchmark.
set -euo pipefail

version=${1:-0.3.36}
root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$root/.venv/bin/python}
cache=${VERISPEC_CACHE:-$HOME/.cache/verispec}
out=$cache/llama-tools/$version
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "llama-cpp-python $version source -> $work"
"$python" -m pip download -q --no-deps --no-binary :all: "llama-cpp-python==$version" -d "$work"
tar -xzf "$work"/llama_cpp_python-"$version".tar.gz -C "$work"
src=$work/llama_cpp_python-$version/vendor/llama.cpp

flags=(-DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF
       -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON)
cpu=$(grep -m1 '^flags' /proc/cpuinfo)
has() { [[ " $cpu " == *" $1 "* ]]; }
has avx2 && flags+=(-DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON)
has avx512f && flags+=(-DGGML_AVX512=ON)
has avx512_bf16 && flags+=(-DGGML_AVX512_BF16=ON)
has avx512_vnni && flags+=(-DGGML_AVX512_VNNI=ON)
has avx512vbmi && flags+=(-DGGML_AVX512_VBMI=ON)
# AMX only on request, as for the backend (see the Makefile): its kernels die with SIGILL on the
# Xeon VMs of this kind.
if [[ ${LLAMA_CPP_AMX:-0} == 1 ]]; then
    has amx_tile && flags+=(-DGGML_AMX_TILE=ON)
    has amx_int8 && flags+=(-DGGML_AMX_INT8=ON)
fi
echo "cmake ${flags[*]}"

cmake -S "$src" -B "$work/build" "${flags[@]}" > "$work/cmake.log"
cmake --build "$work/build" -j "$(nproc)" --target llama-speculative-simple llama-server
mkdir -p "$out"
cp "$work/build/bin/llama-speculative-simple" "$work/build/bin/llama-server" "$out/"
printf '%s\n' "${flags[@]}" > "$out/build-flags.txt"
echo "built: $out"
