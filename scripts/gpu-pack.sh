#!/bin/bash
# Prepares .gpu/ (git-ignored) for scripts/gpu-check.sh or scripts/gpu-e2e.sh on the GPU machine, which
# has no Node, no npm and builds nothing. Run here (nvcc, no GPU needed):
#   scripts/gpu-pack.sh            then on the device: carry [".gpu"], command: bash scripts/gpu-check.sh
#   scripts/gpu-pack.sh e2e        then on the device: carry [".gpu"], command: bash scripts/gpu-e2e.sh
#                                  (only the tool and libtaylorseer: the e2e run needs no Node)
# .gpu/ receives (e2e: only ts_cuda_tool.xz and libtaylorseer.so.xz; the rest is removed):
#   node.xz               this machine's node (via /work/shared/gpu/pack-node.sh)
#   taylorseer.node.xz    the addon built WITH CUDA (build/Release if it is a CUDA build, else built here
#                         with cmake-js into build/gpu-addon)
#   libtaylorseer.so.xz   e2e only: the C library built beside that addon (bench/e2e loads it with ctypes)
#   ts_cuda_tool.xz       standalone kernel checks + benchmark (cuda/tests/build.sh)
#   gpu-tests.cjs         test/gpu/*.test.ts bundled with esbuild, `vitest` aliased to a small shim
#   cuda-bench.cjs        lib/bench/cuda-bench.ts runner (test/gpu/harness/bench-main.ts)
#   pytorch_anchors.py    the PyTorch anchor script (shared/anchors), run beside our benchmark
#   cli.cjs, ort.tar.xz   the CLI bundled with esbuild and onnxruntime-node's CPU backend (linux x64), so
#                         that issue 6's overhead ratio (`taylorseer eval`) is also measured on the device
#                         machine's 16 CPU cores (TS_GPU_CPU_OVERHEAD=0 leaves them out)
set -euo pipefail
mode=${1:-check}
case "$mode" in check | e2e) ;; *) echo "usage: scripts/gpu-pack.sh [check|e2e]" >&2; exit 2 ;; esac
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$root"
G=.gpu
mkdir -p "$G"
exclude=$(git rev-parse --git-path info/exclude)  # a worktree's .git is a file
mkdir -p "$(dirname "$exclude")"
grep -qx '/.gpu/' "$exclude" 2>/dev/null || echo '/.gpu/' >> "$exclude"

# 1. node (not for e2e)
if [ "$mode" = e2e ]; then rm -f "$G/node.xz" "$G/taylorseer.node.xz" "$G/gpu-tests.cjs" "$G/cuda-bench.cjs" "$G/cli.cjs" "$G/ort.tar.xz" "$G/pytorch_anchors.py"
elif [ -x /work/shared/gpu/pack-node.sh ]; then /work/shared/gpu/pack-node.sh >/dev/null || true  # checked below
fi
[ "$mode" = e2e ] || [ -s "$G/node.xz" ] || { echo "gpu-pack: $G/node.xz missing (run /work/shared/gpu/pack-node.sh)" >&2; exit 1; }

# 2. the standalone CUDA tool
cuda/tests/build.sh build/cuda-tests
xz -T2 -6 -c build/cuda-tests/ts_cuda_tool > "$G/ts_cuda_tool.xz"

# 3. the addon, built with CUDA
is_cuda_build() { [ -f "$1" ] && node -e "process.exit(require('$1').build.cuda ? 0 : 1)" 2>/dev/null; }
addon=""
for cand in ${TAYLORSEER_ADDON:-} build/Release/taylorseer.node build/gpu-addon/Release/taylorseer.node; do
  if is_cuda_build "$root/$cand" || is_cuda_build "$cand"; then addon=$cand; break; fi
done
if [ -z "$addon" ] || { [ "$addon" = build/gpu-addon/Release/taylorseer.node ] && [ -n "$(find native cuda -newer "$addon" -name '*.c*' | head -1)" ]; }; then
  echo "gpu-pack: building a CUDA addon into build/gpu-addon (cmake-js)"
  node node_modules/cmake-js/bin/cmake-js compile --out build/gpu-addon -l error > build/gpu-addon.log 2>&1 ||
    { tail -30 build/gpu-addon.log; exit 1; }
  addon=build/gpu-addon/Release/taylorseer.node
  is_cuda_build "$root/$addon" || { echo "gpu-pack: $addon is not a CUDA build" >&2; exit 1; }
fi
echo "gpu-pack: addon $addon"
if [ -n "$(find native cuda -newer "$addon" \( -name '*.cc' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) | head -1)" ]; then
  echo "gpu-pack: WARNING: $addon is older than sources in native/ or cuda/ (rebuild: npm run build:native)" >&2
fi
[ "$mode" = e2e ] || xz -T2 -6 -c "$addon" > "$G/taylorseer.node.xz"

# 3b. e2e: libtaylorseer from the same build, checked to carry the CUDA kernels (ts_cuda_usable: 3 = not compiled)
if [ "$mode" = e2e ]; then
  lib=$(dirname "$addon")/libtaylorseer.so
  [ -f "$lib" ] || { echo "gpu-pack: $lib missing (rebuild: npm run build:native)" >&2; exit 1; }
  python3 -c "import ctypes, os, sys; sys.exit(ctypes.CDLL(os.path.abspath(sys.argv[1])).ts_cuda_usable() == 3)" "$lib" ||
    { echo "gpu-pack: $lib was built without CUDA" >&2; exit 1; }
  xz -T2 -6 -c "$lib" > "$G/libtaylorseer.so.xz"
else
  rm -f "$G/libtaylorseer.so.xz"
fi

if [ "$mode" = check ]; then

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
# from its own folder). TS_GPU_CPU_OVERHEAD=0 leaves both out (13 MB: what travels is close to its 64 MiB
# limit; the stage then skips itself).
if [ "${TS_GPU_CPU_OVERHEAD:-1}" = 0 ]; then
  rm -f "$G/cli.cjs" "$G/ort.tar.xz"
else
  "$esb" lib/cli/main.ts --bundle --platform=node --format=cjs --target=node20 --log-level=warning \
    --external:onnxruntime-node --external:@resvg/resvg-js --outfile="$G/cli.cjs"
  ort=node_modules/onnxruntime-node
  if [ ! -s "$G/ort.tar.xz" ] || [ "$ort/package.json" -nt "$G/ort.tar.xz" ]; then
    tar -cf - node_modules/onnxruntime-common/package.json node_modules/onnxruntime-common/dist/cjs \
      "$ort/package.json" "$ort/dist" "$ort/bin/napi-v6/linux/x64" | xz -T2 -6 > "$G/ort.tar.xz"
  fi
fi

# 5. anchors
install -m 644 /work/shared/anchors/pytorch_anchors.py "$G/pytorch_anchors.py"
fi  # check

# What travels: the working tree plus .gpu must stay under 64 MiB.
tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
gpu=$(du -cb "$G"/* | tail -1 | cut -f1)
ls -la "$G"
echo "gpu-pack: working tree $((tree / 1048576)) MiB + .gpu $((gpu / 1048576)) MiB = $(((tree + gpu) / 1048576)) MiB (limit 64 MiB)"
[ $((tree + gpu)) -lt $((64 * 1048576)) ] || { echo "gpu-pack: too large to carry" >&2; exit 1; }
if [ "$mode" = e2e ]; then
  echo 'gpu-pack: ready. device run: carry [".gpu"], command "bash scripts/gpu-e2e.sh", timeout_s 540'
else
  echo 'gpu-pack: ready. device run: carry [".gpu"], command "bash scripts/gpu-check.sh", timeout_s 420'
fi
