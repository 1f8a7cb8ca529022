#!/usr/bin/env bash
# Regenerates every file of bench-results/video/ (docs/studies/video.md) from fixtures/wan-clips: the fixed
# schedules, the sweep's best fixed one, the calibrated placement, each on the calibration and held-out clips,
# and the two demos. The best fixed schedule and the calibrated placement are read from the sweep's and
# calibrate's output, so the script stays true when the model changes. One onnxruntime thread per run.
#
#   npm run build:ts && bash scripts/studies/video.sh [OUT]      (OUT defaults to bench-results/video)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-bench-results/video}
mkdir -p "$OUT"
source scripts/studies/common.sh

M=(--model fixtures/wan-clips --steps 50 --guidance 4)
CAL=(--labels 0,1,2,3,4,0,1,2,3,4 --noise fixtures/wan-clips/reference/quality-noise.f32)
HELD=(--labels 0,1,2,3,4,0,1,2,3,4 --seed 1)

# eval NAME FLAGS...: one schedule on both clip sets, --cfg separate as the Wan fork runs guidance
evalboth() {
  local name=$1; shift
  ts eval "${M[@]}" --threads 1 --cfg separate "$@" "${CAL[@]}" --repeat 1 --json > "$OUT/wan-clips-eval-$name-calibration.json"
  ts eval "${M[@]}" --threads 1 --cfg separate "$@" "${HELD[@]}" --repeat 1 --json > "$OUT/wan-clips-eval-$name-heldout.json"
  echo "$name: $(json d.psnr < "$OUT/wan-clips-eval-$name-calibration.json") / $(json d.psnr < "$OUT/wan-clips-eval-$name-heldout.json") dB"
}

evalboth wan-defaults --schedule fixed --interval 5 --warmup 1 --order 1
evalboth wan-steps-o2 --schedule fixed --interval 5 --warmup 1 --order 2

# best fixed (and adaptive) at 10 full steps, chosen on the calibration clips; batched CFG, which a fixed or
# mask schedule makes equal to separate
ts sweep "${M[@]}" --shifts 1 --budgets 10 --orders 1,2 --variables step "${CAL[@]}" \
  --holdout-labels 0,1,2,3,4,0,1,2,3,4 --holdout-seed 1 --out "$TMP/sweep" | dir > "$OUT/wan-clips-sweep.txt"
cp "$TMP/sweep/sweep.json" "$OUT/wan-clips-shift1-sweep.json"
cp "$TMP/sweep/plot-shift-1.png" "$OUT/wan-clips-shift1-plot.png"
read -r -a BEST <<< "$(best_fixed "$OUT/wan-clips-shift1-sweep.json" 10 flags)"
evalboth best-fixed "${BEST[@]}"

calibrate_best "$OUT/wan-clips-shift1-sweep.json" 10 "$OUT/wan-clips-calibrate.json" "${M[@]}" --order 2 --variable step "${CAL[@]}"
read -r -a CALIBRATED <<< "$(json d.evalFlags < "$OUT/wan-clips-calibrate.json")"
evalboth calibrated "${CALIBRATED[@]}"

demo() {
  local name=$1; shift
  { echo "\$ taylorseer demo --model fixtures/wan-clips --guidance 4 $* --threads 1 --out DIR"
    ts demo --model fixtures/wan-clips --guidance 4 "$@" --threads 1 --out "$TMP/$name"; } | dir > "$OUT/$name.log"
}
demo wan-clips-demo --cfg separate
cp "$TMP/wan-clips-demo/comparison.png" "$OUT/wan-clips-demo-comparison.png"
demo wan-clips-demo-wan2.1 --preset wan2.1
cp "$TMP/wan-clips-demo-wan2.1/comparison.png" "$OUT/wan-clips-demo-wan2.1-strips.png"
cp "$(ls "$TMP"/wan-clips-demo-wan2.1/*.anim.png | grep -v /full.anim.png | head -1)" "$OUT/wan-clips-demo-wan2.1.anim.png"
relative_paths "$OUT"
echo "wrote $OUT"
