#!/usr/bin/env bash
# Regenerates every file of bench-results/dit-ddim/ (docs/studies/dit-ddim.md) from fixtures/dit-ddim: the
# sweep at 11 and 18 full steps, the calibrated placements, the paper's and the DiT fork's schedules on the
# samples A (chosen on) and B (held out), 500 samples C of each, the shapes classifier and the Frechet
# distances. The best fixed schedules and the calibrated placements are read from the sweep's and calibrate's
# output, so the script stays true when the model changes. One onnxruntime thread per run.
#
#   npm run build:ts && bash scripts/studies/dit-ddim.sh [OUT]   (OUT defaults to bench-results/dit-ddim;
#   needs python3 with PyTorch for the classifier)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-bench-results/dit-ddim}
mkdir -p "$OUT"
source scripts/studies/common.sh
PY=${PYTHON:-python3}

A=0,1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7,8,9
B=9,8,7,6,5,4,3,2,1,0,9,8,7,6,5,4,3,2,1,0
M=(--model fixtures/dit-ddim --steps 50 --guidance 4)
WHEN="build machine, $(date -u +%Y-%m-%d)"

SWEEP=(--shifts 1 --budgets 11,18 --orders 3 --variables step --labels $A --seed 11 --holdout-labels $B --holdout-seed 12)
{ echo "# taylorseer sweep --model fixtures/dit-ddim --steps 50 --guidance 4 ${SWEEP[*]} --out DIR"
  echo "# $WHEN; the summary table (stdout)"
  ts sweep "${M[@]}" "${SWEEP[@]}" --out "$TMP/sweep"; } | dir > "$OUT/dit-ddim-shift1-sweep.log"
cp "$TMP/sweep/sweep.json" "$OUT/dit-ddim-shift1-sweep.json"
cp "$TMP/sweep/plot-shift-1.png" "$OUT/dit-ddim-shift1-plot.png"
best() { best_fixed "$OUT/dit-ddim-shift1-sweep.json" "$@"; }

for K in 18 11; do
  calibrate_best "$OUT/dit-ddim-shift1-sweep.json" $K "$OUT/dit-ddim-budget$K-o3-step-calibrate.json" \
    "${M[@]}" --order 3 --variable step --labels $A --seed 11
done
mask() { json "\`mask:\${d.schedule.full.join(',')}:\${d.schedule.warmup}:\${d.order}\`" < "$OUT/dit-ddim-budget$1-o3-step-calibrate.json"; }

LOG="$OUT/dit-ddim-eval-insample-heldout.log"
{ echo "# A = $A (--seed 11, the samples the sweep and calibrate chose on); B = $B (--seed 12, held out)"
  echo "# each block: the command, then its --json output; $WHEN; wall times are one run each on a tiny model (not a speed measurement)"; } > "$LOG"
row() {
  local name=$1; shift
  for set in A:$A:11 B:$B:12; do
    IFS=: read -r S L SEED <<< "$set"
    local cmd="taylorseer eval --model fixtures/dit-ddim --steps 50 --guidance 4 --labels \$$S --seed $SEED --repeat 1 --threads 1 --json $*"
    echo "== $name set $S: $cmd" >> "$LOG"
    ts eval "${M[@]}" --labels "$L" --seed "$SEED" --repeat 1 --threads 1 --json "$@" >> "$LOG"
    echo >> "$LOG"
  done
}
row paper-n3o3 --schedule fixed --interval 3 --warmup 2 --order 3 --variable step
row paper-n5o3 --schedule fixed --interval 5 --warmup 2 --order 3 --variable step
row dit-fork-n4o4 --schedule fixed --interval 4 --warmup 2 --order 4 --variable step
row fixed18-best $(best 18 flags)
row fixed11-best $(best 11 flags)
row calibrated11 $(json d.evalFlags < "$OUT/dit-ddim-budget11-o3-step-calibrate.json")
row calibrated18 $(json d.evalFlags < "$OUT/dit-ddim-budget18-o3-step-calibrate.json")

# C: 500 samples, 50 per class
npx tsx scripts/dit-ddim-samples.ts --model fixtures/dit-ddim --per-class 50 --seed 21 --out "$TMP/C" \
  --run n3o3=fixed:3:2:3 --run n5o3=fixed:5:2:3 --run fixed18="$(best 18 run)" --run fixed11="$(best 11 run)" \
  --run cal11="$(mask 11)" --run cal18="$(mask 18)"
npx tsx scripts/dit-ddim-samples.ts --model fixtures/dit-ddim --per-class 50 --seed 22 --out "$TMP/C22"
cp "$TMP/C/samples.json" "$OUT/dit-ddim-c500-samples.json"
for f in "$TMP"/C/*.png; do cp "$f" "$OUT/dit-ddim-c500-$(basename "$f")"; done

"$PY" scripts/train-dit/shape_classifier.py train --out "$OUT/shape-classifier.npz" --steps 1500 > "$OUT/shape-classifier-train.log"
L=$(node -e "process.stdout.write(Array.from({ length: 500 }, (_, i) => Math.floor(i / 50)).join(','))")
score() { "$PY" scripts/train-dit/shape_classifier.py score --classifier "$OUT/shape-classifier.npz" --labels "$L" "$@"; }
score --set full="$TMP/C/full.f32" --set n3o3="$TMP/C/n3o3.f32" --set n5o3="$TMP/C/n5o3.f32" --set fixed18="$TMP/C/fixed18.f32" \
  --set fixed11="$TMP/C/fixed11.f32" --set cal11="$TMP/C/cal11.f32" --set cal18="$TMP/C/cal18.f32" > "$OUT/dit-ddim-c500-fd.json"
score --set full="$TMP/C/full.f32" --set full-seed22="$TMP/C22/full.f32" > "$OUT/dit-ddim-c500-fd-floor.json"
relative_paths "$OUT"
echo "wrote $OUT"
