#!/bin/bash
# Prepares .gpu/ (git-ignored) for scripts/gpu-check.sh or scripts/gpu-e2e.sh on a GPU machine that has no
# Node, no npm and builds nothing. Run on a build machine with nvcc (no GPU needed), then copy the repository
# with .gpu/ to the GPU machine and run the matching script there from the repository root (docs/gpu-checks.md):
#   scripts/gpu-pack.sh            then: bash scripts/gpu-check.sh
#   scripts/gpu-pack.sh e2e        then: bash scripts/gpu-e2e.sh (only the tool and libtaylorseer: no Node needed)
#   scripts/gpu-pack.sh all        then: bash scripts/gpu-all.sh (both, in one device call)
# .gpu/ receives (e2e: only ts_cuda_tool.xz and libtaylorseer.so.xz; the rest is removed):
#   node.xz               the node running this script (or TS_GPU_NODE=/path/to/node), stripped
#   taylorseer.node.xz    the addon built WITH CUDA and the benchmark kernels (TAYLORSEER_ADDON if set, else
#                         built here with cmake-js into build/gpu-addon, -DTAYLORSEER_BENCH=ON, sm_90 only)
#   libtaylorseer.so.xz   e2e and all: the C library built beside that addon (bench/e2e loads it with ctypes)
#   ts_cuda_tool.xz       standalone kernel checks + benchmark (cuda/tests/build.sh, sm_90 only)
#   gpu-tests.cjs         test/gpu/*.test.ts bundled with esbuild, `vitest` aliased to a small shim
#   cuda-bench.cjs        lib/bench/cuda-bench.ts runner (test/gpu/harness/bench-main.ts)
#   pytorch_anchors.py    optional: TS_GPU_ANCHORS=/path/to/script.py, a PyTorch script run beside our
#                         benchmark on the same card (argument: the JSON file to write)
#   cli.cjs, ort.tar.xz   the CLI bundled with esbuild and onnxruntime-node's CPU backend (linux x64), so
#                         that the overhead ratio of the cache and glue (`taylorseer eval`) is also measured
#                         on the GPU machine's CPU cores: packed when they fit the 64 MiB that travels
#                         (TS_GPU_CPU_OVERHEAD=1 insists, 0 leaves them out)
# The GPU machines are H100/H200 (sm_90): the device code is packed without PTX, which is most of the
# compressed size (forecast.cu: 1.7 MB with it, 0.3 MB without).
set -euo pipefail
mode=${1:-check}
case "$mode" in check | e2e | all) ;; *) echo "usage: scripts/gpu-pack.sh [check|e2e|all]" >&2; exit 2 ;; esac
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$root"
G=.gpu
mkdir -p "$G"
# What is copied to the GPU machine: the working tree plus .gpu, at most 64 MiB in all.
LIMIT=$((64 * 1048576))
tree_bytes() { git ls-files -z --cached --others --exclude-standard | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1; }
travelling_bytes() { echo $(($(tree_bytes) + $(du -cb "$G"/* | tail -1 | cut -f1))); }
exclude=$(git rev-parse --git-path info/exclude)  # a worktree's .git is a file
mkdir -p "$(dirname "$exclude")"
grep -qx '/.gpu/' "$exclude" 2>/dev/null || echo '/.gpu/' >> "$exclude"

# 1. node (not for e2e)
if [ "$mode" = e2e ]; then
  rm -f "$G/node.xz" "$G/taylorseer.node.xz" "$G/gpu-tests.cjs" "$G/cuda-bench.cjs" "$G/cli.cjs" "$G/ort.tar.xz" "$G/pytorch_anchors.py"
else
  node_bin=${TS_GPU_NODE:-$(command -v node)}
  if [ ! -s "$G/node.xz" ] || [ "$node_bin" -nt "$G/node.xz" ]; then
    # Symbols stripped: 2 MB less to carry, nothing the run needs.
    tmp_node=$(mktemp)
    strip -o "$tmp_node" "$node_bin" 2> /dev/null || cp "$node_bin" "$tmp_node"
    xz -T2 -6 -c "$tmp_node" > "$G/node.xz"
    rm -f "$tmp_node"
  fi
fi

# 2. the standalone CUDA tool, sm_90 machine code only
TS_CUDA_GENCODE="arch=compute_90,code=sm_90" cuda/tests/build.sh build/cuda-tests-sm90
xz -T2 -6 -c build/cuda-tests-sm90/ts_cuda_tool > "$G/ts_cuda_tool.xz"

# 3. the addon, built with CUDA and the benchmark kernels (TAYLORSEER_BENCH; the package's addon leaves them out)
is_cuda_build() { [ -f "$1" ] && node -e "process.exit(require('$1').build.cuda ? 0 : 1)" 2>/dev/null; }
addon=""
for cand in ${TAYLORSEER_ADDON:-} build/gpu-addon/Release/taylorseer.node; do
  if is_cuda_build "$root/$cand" || is_cuda_build "$cand"; then addon=$cand; break; fi
done
# An existing build/gpu-addon configured for other device code is rebuilt from scratch (cmake-js keeps a
# configured build's cache).
if [ -f build/gpu-addon/CMakeCache.txt ] && ! grep -qE '^CMAKE_CUDA_ARCHITECTURES:[A-Z]+=90-real$' build/gpu-addon/CMakeCache.txt; then
  rm -rf build/gpu-addon
  [ "$addon" = build/gpu-addon/Release/taylorseer.node ] && addon=""
fi
if [ -z "$addon" ] || { [ "$addon" = build/gpu-addon/Release/taylorseer.node ] && [ -n "$(find native cuda -newer "$addon" -name '*.c*' | head -1)" ]; }; then
  echo "gpu-pack: building a CUDA addon with the benchmark kernels into build/gpu-addon (cmake-js, sm_90)"
  node node_modules/cmake-js/bin/cmake-js compile --out build/gpu-addon --CDTAYLORSEER_BENCH=ON \
    --CDCMAKE_CUDA_ARCHITECTURES=90-real -l error > build/gpu-addon.log 2>&1 ||
    { tail -30 build/gpu-addon.log; exit 1; }
  addon=build/gpu-addon/Release/taylorseer.node
  is_cuda_build "$root/$addon" || { echo "gpu-pack: $addon is not a CUDA build" >&2; exit 1; }
fi
echo "gpu-pack: addon $addon"
if [ -n "$(find native cuda -newer "$addon" \( -name '*.cc' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) | head -1)" ]; then
  echo "gpu-pack: WARNING: $addon is older than sources in native/ or cuda/ (rebuild: TAYLORSEER_BENCH=1 npm run build:native)" >&2
fi
[ "$mode" = e2e ] || xz -T2 -6 -c "$addon" > "$G/taylorseer.node.xz"

# 3b. e2e, all: libtaylorseer from the same build, checked to carry the CUDA kernels (ts_cuda_usable: 3 = not compiled)
if [ "$mode" != check ]; then
  lib=$(dirname "$addon")/libtaylorseer.so
  [ -f "$lib" ] || { echo "gpu-pack: $lib missing (rebuild: npm run build:native)" >&2; exit 1; }
  python3 -c "import ctypes, os, sys; sys.exit(ctypes.CDLL(os.path.abspath(sys.argv[1])).ts_cuda_usable() == 3)" "$lib" ||
    { echo "gpu-pack: $lib was built without CUDA" >&2; exit 1; }
  xz -T2 -6 -c "$lib" > "$G/libtaylorseer.so.xz"
else
  rm -f "$G/libtaylorseer.so.xz"
fi

if [ "$mode" != e2e ]; then

# 4. bundles (esbuild; `vitest` -> the shim)
esb=node_modules/.bin/esbuild
{
  for f in test/gpu/*.test.ts; do echo "import './$f';"; done
  echo "import { main } from './test/gpu/harness/main';"
  echo "void main();"
} | "$esb" --bundle --platform=node --format=cjs --target=node20 --loader=ts --sourcefile=gpu-tests-entry.ts \
  --alias:vitest=./test/gpu/harness/vitest-shim.ts --log-level=warning --outfile="$G/gpu-tests.cjs"
"$esb" test/gpu/harness/bench-main.ts --bundle --platform=node --format=cjs --target=node20 --log-level=warning \
  --outfile="$G/cuda-bench.cjs"

# 4b. the CLI for the device CPU's `eval` (onnxruntime-node stays outside the bundle: it loads its binary
# from its own folder): 13 MB, packed when it fits what travels (TS_GPU_CPU_OVERHEAD=1: always, and the size
# check below then refuses a pack that does not fit; 0: never). Without it the stage skips itself.
rm -f "$G/cli.cjs" "$G/ort.tar.xz"
if [ "${TS_GPU_CPU_OVERHEAD:-auto}" != 0 ]; then
  "$esb" lib/cli/main.ts --bundle --platform=node --format=cjs --target=node20 --log-level=warning \
    --external:onnxruntime-node --external:@resvg/resvg-js --outfile="$G/cli.cjs"
  ort=node_modules/onnxruntime-node
  tar -cf - node_modules/onnxruntime-common/package.json node_modules/onnxruntime-common/dist/cjs \
    "$ort/package.json" "$ort/dist" "$ort/bin/napi-v6/linux/x64" | xz -T2 -6 > "$G/ort.tar.xz"
  if [ "${TS_GPU_CPU_OVERHEAD:-auto}" = auto ] && [ "$(travelling_bytes)" -ge "$LIMIT" ]; then
    rm -f "$G/cli.cjs" "$G/ort.tar.xz"
    echo "gpu-pack: the CPU overhead stage left out (it would not fit the 64 MiB that travel)"
  fi
fi

# 5. anchors (optional)
if [ -n "${TS_GPU_ANCHORS:-}" ]; then install -m 644 "$TS_GPU_ANCHORS" "$G/pytorch_anchors.py"; else rm -f "$G/pytorch_anchors.py"; fi
fi  # check, all

tree=$(tree_bytes)
gpu=$(du -cb "$G"/* | tail -1 | cut -f1)
ls -la "$G"
echo "gpu-pack: working tree $((tree / 1048576)) MiB + .gpu $((gpu / 1048576)) MiB = $(((tree + gpu) / 1048576)) MiB (limit 64 MiB)"
[ $((tree + gpu)) -lt "$LIMIT" ] || { echo "gpu-pack: too large to carry" >&2; exit 1; }
script=scripts/gpu-check.sh
[ "$mode" = check ] || script=scripts/gpu-$mode.sh
echo "gpu-pack: ready. On the GPU machine, from the repository root with .gpu/: bash $script"
