#!/bin/bash
# The end-to-end GPU measurement, run ON THE DEVICE MACHINE from the repository root (PyTorch there, no
# Node, no build step). Prepared here by `scripts/gpu-pack.sh e2e` (which packs .gpu/libtaylorseer.so.xz and
# .gpu/ts_cuda_tool.xz); device call: carry [".gpu"], command "bash scripts/gpu-e2e.sh", timeout_s 540.
# Stages (each bounded, the whole run under ~8 minutes; a failing stage does not stop the others):
#   1. nvidia-smi                 read-only queries (card settings are never changed)
#   2. kernel_test                ts_cuda_tool test: every kernel bit-exact against a CPU reference,
#                                 indirect launches captured in CUDA graphs and replayed with new values
#   3. e2e                        bench/e2e/run.py: FLUX.1-dev- and DiT-XL/2-shaped models, full compute vs
#                                 the reference's eager cache vs libtaylorseer (direct and CUDA graphs)
#   4. bench                      ts_cuda_tool bench --no-single: the FLUX step kernels against copy bandwidth
#   5. memcheck, racecheck        compute-sanitizer on ts_cuda_tool test --quick (the new indirect and
#                                 graph paths included)
#   6. summary                    $OUT/e2e-summary.json and the table, printed LAST
# TS_GPU_E2E_STAGES (default "kernel_test e2e bench sanitizers") picks the stages: scripts/gpu-all.sh runs
# only "e2e" here, after scripts/gpu-check.sh has run the others.
set -u
BUDGET=${TS_GPU_BUDGET_S:-470}
STAGES=" ${TS_GPU_E2E_STAGES:-kernel_test e2e bench sanitizers} "
want() { [[ $STAGES == *" $1 "* ]]; }
for s in $STAGES; do
  case $s in kernel_test | e2e | bench | sanitizers) ;; *) echo "gpu-e2e: unknown stage '$s' in TS_GPU_E2E_STAGES (kernel_test, e2e, bench, sanitizers)" >&2; exit 2 ;; esac
done
# shellcheck source=scripts/gpu-stages.sh
source "$(dirname "$0")/gpu-stages.sh"

echo "== nvidia-smi"
nvidia-smi --query-gpu=name,memory.total,memory.used,clocks.sm,clocks.mem,clocks.max.sm,power.draw,power.limit,temperature.gpu --format=csv | tee "$OUT/nvidia-smi.txt"

xz -dc "$G/ts_cuda_tool.xz" > "$W/ts_cuda_tool" && chmod +x "$W/ts_cuda_tool"
xz -dc "$G/libtaylorseer.so.xz" > "$W/libtaylorseer.so"
export TAYLORSEER_LIB="$W/libtaylorseer.so"

want kernel_test && stage kernel_test 90 "$W/ts_cuda_tool" test
want e2e && stage e2e 240 env PYTHONUNBUFFERED=1 python3 bench/e2e/run.py --out "$OUT/e2e.json" --reps 2
want bench && stage bench 80 "$W/ts_cuda_tool" bench --no-single --out "$OUT/bench.json"
want sanitizers && sanitizer_stages memcheck racecheck 75
python3 bench/e2e/summary.py "$OUT"
