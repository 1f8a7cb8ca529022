#!/usr/bin/env node
/*
 * Overhead of TaylorSeer on single-graph models: wall speedup / evaluation speedup at N=5, O=2, W=3 (the
 * reference's fixed schedule, module granularity, labels 3 and 7, 50 steps, guidance 3, batched CFG), and
 * where the accelerated run's time goes. Needs `npm run build:ts`.
 *
 *   node scripts/graph-overhead.js MODEL.onnx|DIR ... [--pieces DIR ...] [--rounds R] [--threads T]
 *
 * Each round runs full compute and the accelerated run back to back; the ratio uses the fastest of each over
 * the rounds. Beside wall time the script measures the process's CPU time (user + system, all threads):
 * on a shared machine other processes take the cores at random moments and wall time charges those pauses
 * to whatever phase was running, CPU time does not; with --threads 1 and TAYLORSEER_THREADS=1 it is the
 * wall time an idle single core would show. The breakdown (CPU time) splits the fastest accelerated round
 * into full-graph runs, trunk runs, cache updates and forecast calls. --pieces also measures per-piece model
 * directories the same way (their breakdown is not split).
 */
'use strict';
const path = require('node:path');
const { loadModel, sample, gaussianNoise } = require(path.join(__dirname, '../dist/pipeline/index.js'));
const { TaylorSeer } = require(path.join(__dirname, '../dist/taylor-seer.js'));

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const rounds = Number(flag('--rounds', '3'));
const threads = flag('--threads') === undefined ? undefined : Number(flag('--threads'));
const graphs = [];
const pieces = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--rounds' || args[i] === '--threads') i++;
  else if (args[i] === '--pieces') pieces.push(args[++i]);
  else graphs.push(args[i]);
}
if (graphs.length + pieces.length === 0) {
  console.error('graph-overhead: name at least one model (an .onnx graph, or --pieces DIR)');
  process.exit(2);
}
const STEPS = 50;
const labels = [3, 7];
const schedule = { kind: 'fixed', steps: STEPS, interval: 5, warmup: 3 };
const ms = (x) => x.toFixed(1);

/** CPU time of the process in ms (user + system, every thread). */
function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** sample() with the CPU time it took. */
async function timed(model, options) {
  const c0 = cpuMs();
  const r = await sample(model, options);
  return { ...r, cpuMs: cpuMs() - c0 };
}

/** Wraps the hook's batched entry point and the model's runs with CPU timers. */
function instrument(model, seer) {
  const t = { full: [], trunk: [], update: [], forecast: [], forward: [] };
  const now = cpuMs;
  const modulesAsync = seer.modulesAsync.bind(seer);
  seer.modulesAsync = async (keys, compute, opts) => {
    const full = seer.isFull;
    let inner = 0;
    const t0 = now();
    const out = await modulesAsync(keys, async () => {
      const c0 = now();
      const r = await compute();
      inner = now() - c0;
      return r;
    }, opts);
    const spent = now() - t0;
    if (full) {
      t.full.push(inner);
      t.update.push(spent - inner);
    } else {
      t.forecast.push(spent);
    }
    return out;
  };
  const forward = model.forward.bind(model);
  model.forward = async (...a) => {
    const f0 = now();
    const before = t.forecast.length;
    const v = await forward(...a);
    const spent = now() - f0;
    t.forward.push(spent);
    if (t.forecast.length > before) t.trunk.push(spent - t.forecast[t.forecast.length - 1]);
    return v;
  };
  return { timers: t, restore: () => { delete model.forward; } };
}

async function measure(target, isGraph) {
  const model = await loadModel(target, threads === undefined ? {} : { threads });
  const noise = gaussianNoise(labels.length * model.imageElements, 0);
  const base = { labels, steps: STEPS, guidance: 3, noise };
  await sample(model, { ...base, steps: 2 }); // onnxruntime's first-run allocations are not timed
  let bestFull;
  let bestFast;
  let cpuFull = Infinity;
  let cpuFast = Infinity;
  let bestTimers;
  for (let r = 0; r < rounds; r++) {
    const full = await timed(model, base);
    const seer = new TaylorSeer({ schedule, maxOrder: 2 });
    const inst = isGraph ? instrument(model, seer) : undefined;
    const fast = await timed(model, { ...base, seer });
    inst?.restore();
    seer.dispose();
    if (!bestFull || full.wallMs < bestFull.wallMs) bestFull = full;
    if (!bestFast || fast.wallMs < bestFast.wallMs) bestFast = fast;
    cpuFull = Math.min(cpuFull, full.cpuMs);
    if (fast.cpuMs < cpuFast) {
      cpuFast = fast.cpuMs;
      bestTimers = inst?.timers;
    }
  }
  const wall = bestFull.wallMs / bestFast.wallMs;
  const cpu = cpuFull / cpuFast;
  const evals = bestFull.moduleEvals / bestFast.moduleEvals;
  const row = {
    model: model.manifest.name,
    kind: isGraph ? 'graph' : 'pieces',
    fullMs: Math.round(bestFull.wallMs),
    acceleratedMs: Math.round(bestFast.wallMs),
    wallSpeedup: +wall.toFixed(3),
    evalSpeedup: +evals.toFixed(3),
    ratio: +(wall / evals).toFixed(3),
    cpuFullMs: Math.round(cpuFull),
    cpuAcceleratedMs: Math.round(cpuFast),
    cpuRatio: +(cpu / evals).toFixed(3),
  };
  if (bestTimers) {
    const sum = (a) => a.reduce((x, y) => x + y, 0);
    const t = bestTimers;
    const parts = { fullRuns: sum(t.full), trunkRuns: sum(t.trunk), updates: sum(t.update), forecasts: sum(t.forecast) };
    const perFull = cpuFull / STEPS;
    row.breakdownCpuMs = {
      ...Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, Math.round(v)])),
      samplerAndGlue: Math.round(cpuFast - sum(Object.values(parts))),
      perStep: { full: +ms(sum(t.full) / t.full.length), trunk: +ms(sum(t.trunk) / t.trunk.length), update: +ms(sum(t.update) / t.update.length), forecast: +ms(sum(t.forecast) / t.forecast.length), fullCompute: +ms(perFull) },
    };
    // the ratio if cache work and glue cost nothing: full steps at full-run cost, forecast steps at trunk cost
    const ideal = cpuFull / (t.full.length * (sum(t.full) / t.full.length) + t.trunk.length * (sum(t.trunk) / t.trunk.length));
    row.ratioTrunkOnly = +(ideal / evals).toFixed(3);
  }
  await model.dispose();
  return row;
}

(async () => {
  const date = new Date().toISOString().slice(0, 10);
  console.error(`graph-overhead: ${rounds} rounds, N=5 O=2 W=3, labels 3,7, ${STEPS} steps, guidance 3 (${date})`);
  for (const g of graphs) console.log(JSON.stringify(await measure(g, true)));
  for (const p of pieces) console.log(JSON.stringify(await measure(p, false)));
})().catch((e) => {
  console.error(`graph-overhead: ${e.message}`);
  process.exit(1);
});
