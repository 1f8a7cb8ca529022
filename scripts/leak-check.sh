#!/usr/bin/env bash
# Leak check of the native addon (slow: not part of `npm test` or CI). `npm run leak-check` or
# `bash scripts/leak-check.sh`. Two phases, both driving scripts/soak.ts (run with tsx):
#  1. valgrind --leak-check=full over a short soak (VALGRIND_STEPS soak steps, 2 worker_threads loading and
#     unloading the addon). Fails on any "definitely lost" or "indirectly lost" block whose allocation stack
#     has a frame in taylorseer.node, and on invalid reads/writes or uses of uninitialised values within the
#     top frames of taylorseer.node. Leaks and errors of node/V8 alone are ignored (filtered on our frames).
#  2. Without valgrind: the 10,000-step soak (RSS_STEPS), RSS and JS heap sampled every 1,000 steps after
#     gc(); fails if either grows more than its bound after the 2,000-step warm-up. V8's young generation is
#     pinned (--max-semi-space-size=1) so that its resizing does not look like growth.
# Each soak step: every entry of a 15-entry table (storage x activation in f32/f16/bf16, orders 0..4,
# 1000 to 40960 elements) updates or forecasts (plain or gated), half sync, half async; 5 TaylorSeers do a
# step of module/moduleAsync/gatedResidual; one bad call must be rejected.
# Env: VALGRIND_STEPS (default 400), RSS_STEPS (10000), RSS_BOUND_MB (4), HEAP_BOUND_MB (1),
#      LEAK_CHECK_DIR (build/leak-check: the valgrind log), TAYLORSEER_ADDON (another build to check).
# Exit status: 0 clean, 1 a check failed, 2 could not run.
set -uo pipefail
cd "$(dirname "$0")/.."

VALGRIND_STEPS=${VALGRIND_STEPS:-400}
RSS_STEPS=${RSS_STEPS:-10000}
RSS_BOUND_MB=${RSS_BOUND_MB:-4}
HEAP_BOUND_MB=${HEAP_BOUND_MB:-1}
OUT=${LEAK_CHECK_DIR:-build/leak-check}
mkdir -p "$OUT"
LOG="$OUT/valgrind.log"

if ! command -v valgrind >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "leak-check: installing valgrind (apt-get)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null || { echo "leak-check: could not install valgrind"; exit 2; }
  else
    echo "leak-check: valgrind is not installed (apt-get install valgrind)"; exit 2
  fi
fi

ADDON=$(node -e "const p=require('path');const e=process.env.TAYLORSEER_ADDON;console.log(e?p.resolve(e):require('node-gyp-build').resolve('.'))" 2>/dev/null) || {
  echo "leak-check: the addon is not built (npm run build:native)"; exit 2; }
echo "leak-check: addon $ADDON"

start=$(date +%s)
status=0

# ---- 1. valgrind ---------------------------------------------------------------------------------------
echo "leak-check: [1/2] valgrind soak, $VALGRIND_STEPS steps + 2 workers (a minute or two)"
valgrind --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=none --num-callers=40 \
  --log-file="$LOG" node --expose-gc --max-semi-space-size=1 --import tsx scripts/soak.ts --steps "$VALGRIND_STEPS" \
  --sample "$VALGRIND_STEPS" --workers 2 --no-rss-check >"$OUT/valgrind-soak.out" 2>&1
vg_rc=$?
grep -E '^soak: (ok|FAILED|FAIL)' "$OUT/valgrind-soak.out" | sed 's/^/leak-check:   /'
if [ $vg_rc -ne 0 ]; then
  echo "leak-check: the soak under valgrind exited with $vg_rc (see $OUT/valgrind-soak.out, $LOG)"
  tail -5 "$OUT/valgrind-soak.out"
  status=1
fi
node - "$LOG" <<'EOF' || status=1
// Splits the valgrind log into records (an error or a loss record, up to the next blank line) and keeps the
// ones that involve taylorseer.node.
const fs = require('node:fs');
const lines = fs.readFileSync(process.argv[2], 'utf8').split('\n').map((l) => l.replace(/^==\d+== ?/, ''));
const records = [];
let cur = null;
for (const l of lines) {
  if (l.trim() === '') { if (cur) records.push(cur); cur = null; continue; }
  if (!cur) cur = { head: l, frames: [] };
  else if (/^\s+(at|by) 0x/.test(l)) cur.frames.push(l.trim());
}
if (cur) records.push(cur);
const ours = (f) => f.includes('taylorseer.node');
const total = { definitely: 0, indirectly: 0 };
const mine = { definitely: [0, 0], indirectly: [0, 0] };
const shown = new Map(); // one example per allocation / error site (first frames without addresses)
const show = (r, kind, bytes) => {
  const key = kind + r.frames.slice(0, 5).map((f) => f.replace(/0x[0-9A-F]+/gi, '')).join('|');
  const s = shown.get(key) ?? { r, bytes: 0, records: 0 };
  s.bytes += bytes;
  s.records++;
  shown.set(key, s);
};
let errors = 0;
for (const r of records) {
  const m = r.head.match(/^([\d,]+) (?:\([\d,]+ direct, [\d,]+ indirect\) )?bytes in ([\d,]+) blocks are (definitely|indirectly) lost/);
  if (m) {
    const bytes = Number(m[1].replace(/,/g, '')), blocks = Number(m[2].replace(/,/g, ''));
    total[m[3]] += bytes;
    if (r.frames.some(ours)) {
      mine[m[3]][0] += bytes;
      mine[m[3]][1] += blocks;
      show(r, m[3], bytes);
    }
  } else if (/^(Invalid (read|write|free)|Conditional jump|Use of uninitialised|Syscall param|Mismatched free|Source and destination overlap)/.test(r.head)) {
    if (r.frames.slice(0, 3).some(ours)) {
      errors++;
      show(r, r.head.replace(/ of size \d+/, ''), 0);
    }
  }
}
const summary = records.find((r) => r.head.startsWith('LEAK SUMMARY'));
if (!summary) { console.log('leak-check: no LEAK SUMMARY in the valgrind log (did the process finish?)'); process.exit(1); }
console.log(`leak-check:   all frames: definitely lost ${total.definitely} B, indirectly lost ${total.indirectly} B (node/V8 included)`);
console.log(`leak-check:   taylorseer.node frames: definitely lost ${mine.definitely[0]} B in ${mine.definitely[1]} blocks, indirectly lost ${mine.indirectly[0]} B in ${mine.indirectly[1]} blocks; invalid accesses / uninitialised uses: ${errors}`);
for (const { r, bytes, records } of [...shown.values()].slice(0, 5)) {
  const what = bytes ? `${bytes} B lost in ${records} loss record(s) from this site, e.g. "${r.head}"` : `${records} x "${r.head}"`;
  console.log(`leak-check:   > ${what}\n${r.frames.slice(0, 6).map((f) => `leak-check:       ${f}`).join('\n')}`);
}
const ok = mine.definitely[0] === 0 && mine.indirectly[0] === 0 && errors === 0;
console.log(`leak-check: [1/2] valgrind: ${ok ? 'ok' : 'FAILED'}`);
process.exit(ok ? 0 : 1);
EOF

# ---- 2. RSS soak ---------------------------------------------------------------------------------------
echo "leak-check: [2/2] RSS soak, $RSS_STEPS steps, sampled every 1000 after gc()"
node --expose-gc --max-semi-space-size=1 --import tsx scripts/soak.ts --steps "$RSS_STEPS" --sample 1000 --warmup 2000 \
  --bound-mb "$RSS_BOUND_MB" --heap-bound-mb "$HEAP_BOUND_MB" >"$OUT/rss-soak.out" 2>&1
rss_rc=$?
grep -E '^soak: ' "$OUT/rss-soak.out" | grep -v '^soak: [0-9 ]*steps,' | sed 's/^/leak-check:   /'
if [ $rss_rc -ne 0 ]; then status=1; echo "leak-check: [2/2] RSS soak: FAILED"; else echo "leak-check: [2/2] RSS soak: ok"; fi

echo "leak-check: $([ $status -eq 0 ] && echo ok || echo FAILED) in $(( $(date +%s) - start )) s (logs in $OUT)"
exit $status
