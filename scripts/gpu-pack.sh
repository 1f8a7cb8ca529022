#!/bin/bash
# Prepares .gpu/ (git-ignored) for scripts/gpu-check.sh on a GPU machine that has no Node, no npm and
# builds nothing. Run on a build machine with nvcc (no GPU needed), then copy the repository with .gpu/ to
# the GPU machine and run `bash scripts/gpu-check.sh` there (docs/gpu-checks.md).
# .gpu/ receives:
#   node.xz               the node running this script (or TS_GPU_NODE=/path/to/node)
#   taylorseer.node.xz    the addon built WITH CUDA and the benchmark kernels (TAYLORSEER_ADDON if set, else
#                         built here with cmake-js into build/gpu-addon, -DTAYLORSEER_BENCH=ON)
#   ts_cuda_tool.xz       standalone kernel checks + benchmark (cuda/tests/build.sh)
#   gpu-tests.cjs         test/gpu/*.test.ts bundled with esbuild, `vitest` aliased to a small shim
#   cuda-bench.cjs        lib/bench/cuda-bench.ts runner (test/gpu/harness/bench-main.ts)
#   pytorch_anchors.py    optional: TS_GPU_ANCHORS=/path/to/script.py, a PyTorch script run beside our
#                         benchmark on the same card (argument: the JSON file to write)
#   cli.cjs, ort.tar.xz   the CLI bundled with esbuild and onnxruntime-node's CPU backend (linux x64), so
#                         that the overhead ratio of the cache and glue (`taylorseer eval`) is also measured
#                         on the GPU machine's CPU cores (TS_GPU_CPU_OVERHEAD=0 leaves them out)
set -euo pipefail
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$root"
G=.gpu
mkdir -p "$G"
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude

# 1. node
node_bin=${TS_GPU_NODE:-$(command -v node)}
if [ ! -s "$G/node.xz" ] || [ "$node_bin" -nt "$G/node.xz" ]; then xz -T2 -6 -c "$node_bin" > "$G/node.xz"; fi

# 2. the standalone CUDA tool
cuda/tests/build.sh build/cuda-tests
xz -T2 -6 -c build/cuda-tests/ts_cuda_tool > "$G/ts_cuda_tool.xz"

# 3. the addon, built with CUDA and the benchmark kernels (TAYLORSEER_BENCH; the package's addon leaves them out)
is_cuda_build() { [ -f "$1" ] && node -e "process.exit(require('$1').build.cuda ? 0 : 1)" 2>/dev/null; }
addon=""
for cand in ${TAYLORSEER_ADDON:-} build/gpu-addon/Release/taylorseer.node; do
  if is_cuda_build "$root/$cand" || is_cuda_build "$cand"; then addon=$cand; break; fi
done
if [ -z "$addon" ] || { [ "$addon" = build/gpu-addon/Release/taylorseer.node ] && [ -n "$(find native cuda -newer "$addon" -name '*.c*' | head -1)" ]; }; then
  echo "gpu-pack: building a CUDA addon with the benchmark kernels into build/gpu-addon (cmake-js)"
  node node_modules/cmake-js/bin/cmake-js compile --out build/gpu-addon --CDTAYLORSEER_BENCH=ON -l error > build/gpu-addon.log 2>&1 ||
    { tail -30 build/gpu-addon.log; exit 1; }
  addon=build/gpu-addon/Release/taylorseer.node
  is_cuda_build "$root/$addon" || { echo "gpu-pack: $addon is not a CUDA build" >&2; exit 1; }
fi
echo "gpu-pack: addon $addon"
if [ -n "$(find native cuda -newer "$addon" \( -name '*.cc' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) | head -1)" ]; then
  echo "gpu-pack: WARNING: $addon is older than sources in native/ or cuda/ (rebuild: TAYLORSEER_BENCH=1 npm run build:native)" >&2
fi
xz -T2 -6 -c "$addon" > "$G/taylorseer.node.xz"

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

# 5. anchors (optional)
if [ -n "${TS_GPU_ANCHORS:-}" ]; then install -m 644 "$TS_GPU_ANCHORS" "$G/pytorch_anchors.py"; else rm -f "$G/pytorch_anchors.py"; fi

# What is copied to the GPU machine: the working tree plus .gpu (kept under 64 MiB, so it fits small transfers).
tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
gpu=$(du -cb "$G"/* | tail -1 | cut -f1)
ls -la "$G"
echo "gpu-pack: working tree $((tree / 1048576)) MiB + .gpu $((gpu / 1048576)) MiB = $(((tree + gpu) / 1048576)) MiB (limit 64 MiB)"
[ $((tree + gpu)) -lt $((64 * 1048576)) ] || { echo "gpu-pack: too large to carry" >&2; exit 1; }
echo 'gpu-pack: ready. On the GPU machine, from the repository root with .gpu/: bash scripts/gpu-check.sh'
