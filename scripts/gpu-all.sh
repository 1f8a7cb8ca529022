#!/bin/bash
# Every GPU check in ONE device call, run ON THE DEVICE MACHINE from the repository root: the kernel checks
# (scripts/gpu-check.sh: kernel test, node GPU tests, benchmark with the 'i8' rows, compute-sanitizer) and
# the end-to-end latency measurement (the e2e stage of scripts/gpu-e2e.sh), so that a session whose device
# time allows one start covers both. Prepared here by `scripts/gpu-pack.sh all`; device call: carry [".gpu"],
# command "bash scripts/gpu-all.sh", timeout_s 570.
# Results: $OUT/check (summary.json) and $OUT/e2e (e2e.json, e2e-summary.json); both summaries printed LAST.
# TS_GPU_CHECK_BUDGET_S (default 270) and TS_GPU_E2E_BUDGET_S (default 250) bound the two parts.
set -u
here=$(dirname "$0")
for f in node.xz taylorseer.node.xz ts_cuda_tool.xz libtaylorseer.so.xz gpu-tests.cjs cuda-bench.cjs; do
  [ -s ".gpu/$f" ] || { echo "gpu-all: .gpu/$f missing: prepare with scripts/gpu-pack.sh all" >&2; exit 2; }
done
OUT=${OUT:-/tmp/taylorseer-gpu-out}
mkdir -p "$OUT/check" "$OUT/e2e"

OUT=$OUT/check TS_GPU_BUDGET_S=${TS_GPU_CHECK_BUDGET_S:-270} bash "$here/gpu-check.sh" > "$OUT/check.log" 2>&1
echo "gpu-all: check part exit $? ($(wc -l < "$OUT/check.log") lines in check.log)"
OUT=$OUT/e2e TS_GPU_BUDGET_S=${TS_GPU_E2E_BUDGET_S:-250} TS_GPU_E2E_STAGES=e2e bash "$here/gpu-e2e.sh" > "$OUT/e2e.log" 2>&1
echo "gpu-all: e2e part exit $? ($(wc -l < "$OUT/e2e.log") lines in e2e.log)"

grep -h "rc=\|skipped" "$OUT/check/stages.txt" "$OUT/e2e/stages.txt"
python3 "$here/gpu-summary.py" "$OUT/check"
python3 "$here/../bench/e2e/summary.py" "$OUT/e2e"
