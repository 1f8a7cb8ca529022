/*
 * Overhead of TaylorSeer on single-graph models: wall speedup / evaluation speedup at N=5, O=2, W=3 (the
 * reference's fixed schedule, module granularity, labels 3 and 7 unless --labels, 50 steps, guidance 3,
 * batched CFG), and
 * where the accelerated run's time goes. Runs from the TypeScript sources with tsx.
 *
 *   npx tsx scripts/graph-overhead.ts MODEL.onnx|DIR ... [--pieces DIR ...] [--rounds R] [--threads T]
 *     [--storage f32|bf16] [--path fused|conditioning|trunk[,...]] [--labels L,L] [--json]
 *
 * Each round runs full compute and the accelerated run back to back; the ratio uses the fastest of each over
 * the rounds. Beside wall time the script measures the process's CPU time (user + system, all threads):
 * on a shared machine other processes take the cores at random moments and wall time charges those pauses
 * to whatever phase was running, CPU time does not; with --threads 1 and TAYLORSEER_THREADS=1 it is the
 * wall time an idle single core would show. The breakdown (CPU time) splits the fastest accelerated round
 * into full-graph runs, trunk runs, cache updates and forecast calls ("trunk": whatever a forecast step runs
 * besides the cache's forecast: the trunk, or the batched conditioning and the rest of the trunk, or the
 * conditioning, head and tail around the fused forecast chain). --path names the forecast paths to measure
 * (each the best the graph allows up to it; default all three: fused, conditioning, trunk, the last being the
 * path from before the split): every round runs full compute once and then each path's accelerated run, so
 * their figures come from the same load; the row says which path ran. --storage is the cache's factor storage (default f32). --pieces also measures per-piece model
 * directories the same way (their breakdown is not split). --threads sets onnxruntime's intra-op threads;
 * TAYLORSEER_THREADS the cache kernels'. The load average is sampled at the start and end of each model.
 *
 * Prints a table last; --json prints one JSON object per model instead.
 */
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { loadModel, sample, gaussianNoise, GraphModel, type DenoiserModel, type SampleOptions, type SampleResult } from '../lib/pipeline/index';
import { TaylorSeer } from '../lib/taylor-seer';
import { FORECAST_PATHS, type ForecastPath } from '../lib/pipeline/graph/forecast-graphs';
import type { StorageDtype } from '../lib/native';

const STEPS = 50;
const DEFAULT_LABELS = [3, 7];
const SCHEDULE = { kind: 'fixed', steps: STEPS, interval: 5, warmup: 3 } as const;

interface Timers {
  full: number[];
  trunk: number[];
  update: number[];
  forecast: number[];
}

interface Row {
  model: string;
  kind: 'graph' | 'pieces';
  /** the forecast path that ran (graphs), and why a better one was not taken */
  path?: ForecastPath;
  reasons?: { conditioning?: string; fused?: string };
  storage: StorageDtype;
  /** batched conditioning runs in the accelerated run */
  conditioningRuns?: number;
  fullMs: number;
  acceleratedMs: number;
  wallSpeedup: number;
  evalSpeedup: number;
  ratio: number;
  cpuFullMs: number;
  cpuAcceleratedMs: number;
  cpuRatio: number;
  /** 1-minute load average at the start and end of this model's rounds */
  load: [number, number];
  breakdownCpuMs?: {
    fullRuns: number;
    trunkRuns: number;
    updates: number;
    forecasts: number;
    samplerAndGlue: number;
    perStep: { full: number; trunk: number; update: number; forecast: number; fullCompute: number };
  };
  /** the CPU ratio if cache work and glue cost nothing: full steps at full-run cost, forecast steps at trunk cost */
  ratioTrunkOnly?: number;
}

function usage(message: string): never {
  console.error(`graph-overhead: ${message}`);
  process.exit(2);
}

function positiveInt(name: string, value: string | undefined, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) usage(`${name} must be a positive integer, found '${value}'`);
  return n;
}

/** CPU time of the process in ms (user + system, every thread). */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const sum = (a: readonly number[]): number => a.reduce((x, y) => x + y, 0);
const mean = (a: readonly number[]): number => (a.length === 0 ? 0 : sum(a) / a.length);
const round1 = (x: number): number => Math.round(x * 10) / 10;

/** sample() with the CPU time it took. */
async function timed(model: DenoiserModel, options: SampleOptions): Promise<SampleResult & { cpuMs: number }> {
  const c0 = cpuMs();
  const r = await sample(model, options);
  return { ...r, cpuMs: cpuMs() - c0 };
}

/**
 * Wraps the hook's batched entry points and the model's forward with CPU timers; restore() unwraps the model.
 * A forecast is modulesAsync on a forecast step, or gatedResiduals (the fused path's chain).
 */
function instrument(model: DenoiserModel, seer: TaylorSeer): { timers: Timers; restore: () => void } {
  const t: Timers = { full: [], trunk: [], update: [], forecast: [] };
  const modulesAsync = seer.modulesAsync.bind(seer);
  seer.modulesAsync = async (keys, compute, opts) => {
    const full = seer.isFull;
    let inner = 0;
    const t0 = cpuMs();
    const out = await modulesAsync(keys, async () => {
      const c0 = cpuMs();
      const r = await compute();
      inner = cpuMs() - c0;
      return r;
    }, opts);
    const spent = cpuMs() - t0;
    if (full) {
      t.full.push(inner);
      t.update.push(spent - inner);
    } else {
      t.forecast.push(spent);
    }
    return out;
  };
  const gatedResiduals = seer.gatedResiduals.bind(seer);
  seer.gatedResiduals = async (items, h, shape, opts) => {
    const t0 = cpuMs();
    await gatedResiduals(items, h, shape, opts);
    t.forecast.push(cpuMs() - t0);
  };
  const forward = model.forward.bind(model);
  const wrapped: DenoiserModel['forward'] = async (...a) => {
    const f0 = cpuMs();
    const before = t.forecast.length;
    const v = await forward(...a);
    if (t.forecast.length > before) t.trunk.push(cpuMs() - f0 - t.forecast[t.forecast.length - 1]);
    return v;
  };
  Object.defineProperty(model, 'forward', { value: wrapped, configurable: true, writable: true });
  return { timers: t, restore: () => void delete (model as { forward?: unknown }).forward };
}

interface Best {
  run?: SampleResult & { cpuMs: number };
  wall?: SampleResult & { cpuMs: number };
  timers?: Timers;
  conditioningRuns?: number;
}

/**
 * Full compute and the accelerated run of each path, round after round (full compute on the first path's
 * model: every path runs the same full graph); one row per path.
 */
async function measure(target: string, kind: Row['kind'], paths: readonly ForecastPath[], rounds: number, threads: number | undefined, storage: StorageDtype, labels: number[], log: (s: string) => void): Promise<Row[]> {
  const loadStart = os.loadavg()[0];
  const models: DenoiserModel[] = [];
  try {
    for (const forecastPath of kind === 'graph' ? paths : [undefined]) models.push(await loadModel(target, { ...(threads === undefined ? {} : { threads }), ...(forecastPath ? { forecastPath } : {}) }));
    const noise = gaussianNoise(labels.length * models[0].imageElements, 0);
    const base: SampleOptions = { labels, steps: STEPS, guidance: 3, noise };
    for (const m of models) await sample(m, { ...base, steps: 2 }); // onnxruntime's first-run allocations are not timed
    let fullWall: (SampleResult & { cpuMs: number }) | undefined;
    let cpuFull = Infinity;
    const best: Best[] = models.map(() => ({}));
    for (let r = 0; r < rounds; r++) {
      const full = await timed(models[0], base);
      if (!fullWall || full.wallMs < fullWall.wallMs) fullWall = full;
      cpuFull = Math.min(cpuFull, full.cpuMs);
      for (const [k, model] of models.entries()) {
        const seer = new TaylorSeer({ schedule: SCHEDULE, maxOrder: 2, storage });
        const inst = kind === 'graph' ? instrument(model, seer) : undefined;
        const graph = model instanceof GraphModel ? model : undefined;
        graph?.resetCounters();
        let fast: SampleResult & { cpuMs: number };
        try {
          fast = await timed(model, { ...base, seer });
        } finally {
          inst?.restore();
          seer.dispose();
        }
        const label = graph ? ` (${graph.forecastPlan.path})` : '';
        log(`  ${model.manifest.name}${label} round ${r + 1}/${rounds}: full ${Math.round(full.wallMs)} ms wall / ${Math.round(full.cpuMs)} ms CPU, accelerated ${Math.round(fast.wallMs)} / ${Math.round(fast.cpuMs)}`);
        const b = best[k];
        if (!b.wall || fast.wallMs < b.wall.wallMs) b.wall = fast;
        if (!b.run || fast.cpuMs < b.run.cpuMs) Object.assign(b, { run: fast, timers: inst?.timers, conditioningRuns: graph?.counters.conditioningRuns });
      }
    }
    return models.map((model, k) => {
      const b = best[k];
      const wall = fullWall!.wallMs / b.wall!.wallMs;
      const evals = fullWall!.moduleEvals / b.wall!.moduleEvals;
      const plan = model instanceof GraphModel ? model.forecastPlan : undefined;
      const row: Row = {
        model: model.manifest.name,
        kind,
        ...(plan ? { path: plan.path, reasons: plan.reasons, conditioningRuns: b.conditioningRuns } : {}),
        storage,
        fullMs: Math.round(fullWall!.wallMs),
        acceleratedMs: Math.round(b.wall!.wallMs),
        wallSpeedup: +wall.toFixed(3),
        evalSpeedup: +evals.toFixed(3),
        ratio: +(wall / evals).toFixed(3),
        cpuFullMs: Math.round(cpuFull),
        cpuAcceleratedMs: Math.round(b.run!.cpuMs),
        cpuRatio: +(cpuFull / b.run!.cpuMs / evals).toFixed(3),
        load: [round1(loadStart), round1(os.loadavg()[0])],
      };
      if (b.timers) {
        const t = b.timers;
        const parts = { fullRuns: sum(t.full), trunkRuns: sum(t.trunk), updates: sum(t.update), forecasts: sum(t.forecast) };
        row.breakdownCpuMs = {
          fullRuns: Math.round(parts.fullRuns),
          trunkRuns: Math.round(parts.trunkRuns),
          updates: Math.round(parts.updates),
          forecasts: Math.round(parts.forecasts),
          samplerAndGlue: Math.round(b.run!.cpuMs - sum(Object.values(parts))),
          perStep: { full: round1(mean(t.full)), trunk: round1(mean(t.trunk)), update: round1(mean(t.update)), forecast: round1(mean(t.forecast)), fullCompute: round1(cpuFull / STEPS) },
        };
        const ideal = cpuFull / (t.full.length * mean(t.full) + t.trunk.length * mean(t.trunk));
        row.ratioTrunkOnly = +(ideal / evals).toFixed(3);
      }
      return row;
    });
  } finally {
    await Promise.all(models.map((m) => m.dispose()));
  }
}

function table(rows: readonly Row[]): string {
  const head = ['model', 'kind', 'path', 'storage', 'wall ratio', 'CPU ratio', 'eval speedup', 'full wall ms', 'accel wall ms', 'full CPU ms', 'accel CPU ms', 'per step CPU ms: full run / full compute / trunk / update / forecast', 'trunk-only cap', 'load'];
  const body = rows.map((r) => {
    const p = r.breakdownCpuMs?.perStep;
    return [
      r.model,
      r.kind,
      r.path ?? '-',
      r.storage,
      r.ratio.toFixed(3),
      r.cpuRatio.toFixed(3),
      r.evalSpeedup.toFixed(2),
      String(r.fullMs),
      String(r.acceleratedMs),
      String(r.cpuFullMs),
      String(r.cpuAcceleratedMs),
      p ? `${p.full} / ${p.fullCompute} / ${p.trunk} / ${p.update} / ${p.forecast}` : '-',
      r.ratioTrunkOnly === undefined ? '-' : r.ratioTrunkOnly.toFixed(3),
      `${r.load[0]}-${r.load[1]}`,
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: { pieces: { type: 'string', multiple: true }, rounds: { type: 'string' }, threads: { type: 'string' }, storage: { type: 'string' }, path: { type: 'string' }, labels: { type: 'string' }, json: { type: 'boolean' } },
    });
  } catch (e) {
    usage((e as Error).message);
  }
  const { values, positionals } = parsed;
  const rounds = positiveInt('--rounds', values.rounds, 3)!;
  const threads = positiveInt('--threads', values.threads, undefined);
  const pieces = values.pieces ?? [];
  const storage = (values.storage ?? 'f32') as StorageDtype;
  if (storage !== 'f32' && storage !== 'bf16') usage(`--storage must be f32 or bf16, found '${storage}'`);
  const paths = (values.path ?? FORECAST_PATHS.join(',')).split(',') as ForecastPath[];
  const unknown = paths.find((p) => !FORECAST_PATHS.includes(p));
  if (unknown !== undefined || paths.length === 0) usage(`--path must list some of ${FORECAST_PATHS.join(', ')}, found '${values.path}'`);
  const labels = values.labels === undefined ? DEFAULT_LABELS : values.labels.split(',').map(Number);
  if (labels.length === 0 || labels.some((l) => !Number.isInteger(l) || l < 0)) usage(`--labels must be class labels (integers >= 0) separated by commas, found '${values.labels}'`);
  if (positionals.length + pieces.length === 0) usage('name at least one model (an .onnx graph or its directory, or --pieces DIR)');
  const date = new Date().toISOString().slice(0, 10);
  const log = (s: string) => console.error(s);
  log(`graph-overhead: ${rounds} rounds, paths ${paths.join(',')}, storage ${storage}, N=5 O=2 W=3, labels ${labels.join(',')}, ${STEPS} steps, guidance 3, onnxruntime threads ${threads ?? 'default'}, TAYLORSEER_THREADS ${process.env.TAYLORSEER_THREADS ?? 'unset'}, ${os.cpus().length} CPUs (${date})`);
  const rows: Row[] = [];
  for (const g of positionals) rows.push(...(await measure(g, 'graph', paths, rounds, threads, storage, labels, log)));
  for (const p of pieces) rows.push(...(await measure(p, 'pieces', paths, rounds, threads, storage, labels, log)));
  if (values.json) for (const r of rows) console.log(JSON.stringify(r));
  else {
    console.log(table(rows));
    for (const r of rows) {
      const why = Object.entries(r.reasons ?? {}).map(([k, v]) => `${k}: ${v}`);
      if (r.path) console.log(`${r.model}: forecast path ${r.path}${r.conditioningRuns !== undefined ? `, ${r.conditioningRuns} batched conditioning runs` : ''}${why.length > 0 ? `; not taken: ${why.join('; ')}` : ''}`);
      if (r.breakdownCpuMs) console.log(`${r.model} (${r.path}): CPU ms of the accelerated run: ${JSON.stringify(r.breakdownCpuMs)}`);
    }
  }
}

main().catch((e: Error) => {
  console.error(`graph-overhead: ${e.message}`);
  process.exit(1);
});
