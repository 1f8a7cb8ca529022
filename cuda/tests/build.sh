#!/bin/bash
# Builds the standalone CUDA program ts_cuda_tool (no Node): `test` (kernel checks; host emulation with
# --emulate) and `bench` (the benchmark, same code as the addon's cuda.bench). Runs here without a GPU.
#   cuda/tests/build.sh [OUT_DIR]     (default build/cuda-tests, git-ignored)
# TS_CUDA_GENCODE picks the device code (default: sm_90 machine code plus compute_90 PTX for newer cards;
# scripts/gpu-pack.sh asks for sm_90 alone for an H100/H200: 2.6 MB compressed instead of 7.1).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/build/cuda-tests}
mkdir -p "$out/obj"
NVCC=${NVCC:-nvcc}
GENCODE=${TS_CUDA_GENCODE:-arch=compute_90,code=[sm_90,compute_90]}
FLAGS=(-std=c++17 -O3 -gencode "$GENCODE" --expt-relaxed-constexpr -Xptxas -v -I"$root/cuda")
# Objects built with other device code are rebuilt (the source timestamps alone would keep them).
if [ "$(cat "$out/obj/gencode" 2>/dev/null)" != "$GENCODE" ]; then
  rm -f "$out"/obj/*.o
  echo "$GENCODE" > "$out/obj/gencode"
fi
jobs=()
for f in launch update forecast fill eager_baseline bench; do
  src="$root/cuda/$f.cu"
  obj="$out/obj/$f.o"
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find "$root/cuda" -maxdepth 1 -name '*.cuh' -newer "$obj" -o -maxdepth 1 -name '*.h' -newer "$obj")" ]; then
    "$NVCC" "${FLAGS[@]}" -c "$src" -o "$obj" 2> "$out/obj/$f.ptxas.log" &
    jobs+=($!)
  fi
done
# The CPU kernels: the i8 checks compare the CUDA kernels with them byte for byte.
CXX=${CXX:-c++}
for f in cpu_kernels cpu_kernels_avx2 cpu_kernels_generic environment thread_pool; do
  src="$root/native/$f.cc"
  obj="$out/obj/$f.o"
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find "$root/native" "$root/cuda" -maxdepth 1 -name '*.h' -newer "$obj")" ]; then
    "$CXX" -std=c++17 -O3 -c "$src" -o "$obj" &
    jobs+=($!)
  fi
done
for j in "${jobs[@]}"; do wait "$j"; done
objs=("$out"/obj/{launch,update,forecast,fill,eager_baseline,bench,cpu_kernels,cpu_kernels_avx2,cpu_kernels_generic,environment,thread_pool}.o)
"$NVCC" "${FLAGS[@]}" -cudart static "$root/cuda/tests/tool.cu" "$root/cuda/tests/kernel_test.cu" "$root/cuda/tests/bench_main.cu" \
  "${objs[@]}" -lpthread -o "$out/ts_cuda_tool" 2> "$out/obj/tool.ptxas.log"
# Resource report: any kernel with a stack frame or spills is a regression (register arrays in local memory).
if cat "$out"/obj/*.ptxas.log | grep -E "stack frame|spill" | grep -vE "0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads" ; then
  echo "WARNING: a kernel uses local memory (see $out/obj/*.ptxas.log)" >&2
fi
echo "built $out/ts_cuda_tool"
