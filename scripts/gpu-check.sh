#!/bin/bash
# The GPU check, run ON THE GPU MACHINE from the repository root, with no build step and no npm:
#   .gpu/ prepared by scripts/gpu-pack.sh on a build machine, then: bash scripts/gpu-check.sh
# (docs/gpu-checks.md; on a CUDA machine with Node and nvcc the same checks run directly.)
# Stages (each bounded; the whole run stays under ~6 minutes; a failing stage does not stop the others):
#   1. nvidia-smi (read-only queries; card settings are never changed)
#   2. ts_cuda_tool test            kernels vs a CPU reference, bit-exact, guard bands, every dtype/count
#   3. node GPU tests               test/gpu/*.test.ts through the addon (bundled, vitest shim)
#   4. benchmark                    through the addon (lib/bench/cuda-bench.ts); standalone tool if that fails
#   5. compute-sanitizer memcheck and racecheck on `ts_cuda_tool test --quick` (racecheck: the shared
#      memory of the update-norms reduction)
#   6. CPU overhead ratio          `taylorseer eval` on the machine's CPU cores (overhead ratio, N=5 O=2 W=3)
#   7. PyTorch anchors              .gpu/pytorch_anchors.py if packed (TS_GPU_ANCHORS), same card
#   8. summary                      $OUT/summary.json and a comparison table, printed LAST
# The end-to-end latency measurement (FLUX/DiT-shaped models in PyTorch, libtaylorseer through ctypes,
# CUDA graphs) is a separate call with the same carry: bash scripts/gpu-e2e.sh
set -u
BUDGET=${TS_GPU_BUDGET_S:-330}
# shellcheck source=scripts/gpu-stages.sh
source "$(dirname "$0")/gpu-stages.sh"

echo "== nvidia-smi"
nvidia-smi --query-gpu=name,memory.total,memory.used,clocks.sm,clocks.mem,clocks.max.sm,power.draw,power.limit,temperature.gpu,persistence_mode,compute_mode --format=csv | tee "$OUT/nvidia-smi.txt"
nvidia-smi -q -d CLOCK,PERFORMANCE > "$OUT/nvidia-smi-q.txt" 2>&1 || true

# unpack (no build: only decompression)
xz -dc "$G/node.xz" > "$W/node" && chmod +x "$W/node"
xz -dc "$G/ts_cuda_tool.xz" > "$W/ts_cuda_tool" && chmod +x "$W/ts_cuda_tool"
xz -dc "$G/taylorseer.node.xz" > "$W/taylorseer.node"
export TAYLORSEER_ADDON="$W/taylorseer.node"
"$W/node" --version
"$W/node" -e "const a=require(process.env.TAYLORSEER_ADDON); console.log(JSON.stringify(a.cudaInfo()))" | tee "$OUT/cudainfo.json"

stage kernel_test 90 "$W/ts_cuda_tool" test
stage node_tests 120 env TS_TEST_JSON="$OUT/node_tests.json" "$W/node" "$G/gpu-tests.cjs"
if ! stage bench 120 "$W/node" "$G/cuda-bench.cjs" "$OUT/bench.json"; then
  stage bench_tool 100 "$W/ts_cuda_tool" bench --out "$OUT/bench.json"
fi
sanitizer_stages sanitizer racecheck 90
if [ -s "$G/ort.tar.xz" ] && [ -s "$G/cli.cjs" ]; then
  (cd "$W" && xz -dc "$OLDPWD/$G/ort.tar.xz" | tar -xf -) && cp "$G/cli.cjs" "$W/cli.cjs"
  nproc > "$OUT/cpu_overhead_nproc.txt"
  stage cpu_overhead 60 sh -c "'$W/node' '$W/cli.cjs' eval --model fixtures/dit-digits --steps 50 --guidance 3 --labels 3,7 \
    --noise fixtures/dit-digits/reference/noise.f32 --schedule fixed --interval 5 --order 2 --warmup 3 --repeat 3 \
    --json > '$OUT/cpu_overhead.json'"
else
  echo "cpu_overhead skipped (packed without it: it did not fit what travels, or TS_GPU_CPU_OVERHEAD=0)" | tee -a "$OUT/stages.txt"
fi
if [ -s "$G/pytorch_anchors.py" ]; then
  stage anchors 180 env PYTHONUNBUFFERED=1 python3 "$G/pytorch_anchors.py" "$OUT/anchors.json"
else
  echo "anchors skipped (packed without TS_GPU_ANCHORS)" | tee -a "$OUT/stages.txt"
fi
python3 scripts/gpu-summary.py "$OUT"
# Everything also as one archive, for copying back.
tar -C "$OUT" -czf /tmp/taylorseer-gpu-logs.tgz --exclude=logs.tgz . && mv /tmp/taylorseer-gpu-logs.tgz "$OUT/logs.tgz"
