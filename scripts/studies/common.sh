# Sourced by the study scripts: the CLI from dist/, JSON fields from stdin, a temporary folder named DIR in the
# logs, and the calibrated placement as the best of three local searches.
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
ts() { node dist/cli/main.js "$@"; }
# json EXPR < FILE: the JavaScript expression EXPR of the parsed input d
json() { node -e "const d = JSON.parse(require('fs').readFileSync(0, 'utf8')); process.stdout.write(String($1))"; }
# the logs name the temporary output folders DIR, as the studies' commands do
dir() { sed "s#$TMP/[A-Za-z0-9.-]*#DIR#g"; }

# best_fixed SWEEP_JSON BUDGET flags|run: the sweep's best fixed schedule at that budget, as eval flags or as a
# dit-ddim-samples.ts run (fixed:N:W:O:C)
best_fixed() {
  json "(() => { const r = d.summary.find((r) => r.budget === $2).bestFixed, s = r.schedule;
    return '$3' === 'flags' ? \`--schedule fixed --interval \${s.interval} --warmup \${s.warmup} --cooldown \${s.cooldown} --order \${r.order} --variable \${r.variable}\`
      : \`fixed:\${s.interval}:\${s.warmup}:\${r.order}:\${s.cooldown}\`; })()" < "$1"
}

# calibrate_best SWEEP_JSON BUDGET OUT_JSON CALIBRATE_ARGS...: the search is local, so it runs from three starts and
# keeps the placement with the highest PSNR (the earlier start on a tie): calibrate's evenly spaced start with the
# sweep's best fixed warm-up (calibrate applies a cool-down to the adaptive start only), the sweep's best fixed
# schedule itself (its full steps as a list, cool-down included; left out if it has not exactly BUDGET), and the
# sweep's best adaptive schedule with its warm-up and cool-down
calibrate_best() {
  local sweep=$1 budget=$2 out=$3
  shift 3
  local start files=()
  for start in fixed swept adaptive; do
    local key=$([ "$start" = adaptive ] && echo bestAdaptive || echo bestFixed)
    local wc from=$start
    wc=$(json "(() => { const s = d.summary.find((r) => r.budget === $budget).$key.schedule;
      return \`--warmup \${s.warmup} --cooldown \${s.cooldown}\`; })()" < "$sweep")
    if [ "$start" = swept ]; then
      from=$(json "(() => { const { FixedSchedule } = require('./dist/index.js');
        const full = new FixedSchedule(d.summary.find((r) => r.budget === $budget).bestFixed.schedule).fullSteps();
        return full.length === $budget ? full.join(',') : ''; })()" < "$sweep")
      [ -n "$from" ] || continue
    fi
    # shellcheck disable=SC2086
    ts calibrate "$@" --budget "$budget" --start $from $wc --json > "$TMP/calibrate-$budget-$start.json"
    files+=("$TMP/calibrate-$budget-$start.json")
  done
  node -e "const runs = process.argv.slice(1).map((f) => JSON.parse(require('fs').readFileSync(f, 'utf8')));
    process.stdout.write(JSON.stringify(runs.reduce((a, b) => (b.psnr > a.psnr ? b : a))) + '\n')" "${files[@]}" > "$out"
}

# relative_paths DIR: results carry no absolute path of the machine (strips the repository prefix from whatever a tool printed)
relative_paths() { sed -i "s#$PWD/##g" "$1"/*.json "$1"/*.log "$1"/*.txt 2>/dev/null || true; }
