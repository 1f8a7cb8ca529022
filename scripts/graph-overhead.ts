/*
 * Overhead of TaylorSeer on single-graph models: wall speedup / evaluation speedup at N=5, O=2, W=3 (the
 * reference's fixed schedule, module granularity, labels 3 and 7, 50 steps, guidance 3, batched CFG), and
 * where the accelerated run's time goes. Runs from the TypeScript sources with tsx.
 *
 *   npx tsx scripts/graph-overhead.ts MODEL.onnx|DIR ... [--pieces DIR ...] [--rounds R] [--threads T] [--json]
 *
 * Each round runs full compute and the accelerated run back to back; the ratio uses the fastest of each over
 * the rounds. Beside wall time the script measures the process's CPU time (user + system, all threads):
 * on a shared machine other processes take the cores at random moments and wall time charges those pauses
 * to whatever phase was running, CPU time does not; with --threads 1 and TAYLORSEER_THREADS=1 it is the
 * wall time an idle single core would show. The breakdown (CPU time) splits the fastest accelerated round
 * into full-graph runs, trunk runs, cache updates and forecast calls. --pieces also measures per-piece model
 * directories the same way (their breakdown is not split). --threads sets onnxruntime's intra-op threads;
 * TAYLORSEER_THREADS the cache kernels'. The load average is sampled at the start and end of each model.
 *
 * Prints a table last; --json prints one JSON object per model instead.
 */
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { loadModel, sample, gaussianNoise, type DenoiserModel, type SampleOptions, type SampleResult } from '../lib/pipeline/index';
import { TaylorSeer } from '../lib/taylor-seer';

const STEPS = 50;
const LABELS = [3, 7];
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

/** Wraps the hook's batched entry point and the model's forward with CPU timers; restore() unwraps the model. */
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

async function measure(target: string, kind: Row['kind'], rounds: number, threads: number | undefined, log: (s: string) => void): Promise<Row> {
  const loadStart = os.loadavg()[0];
  const model = await loadModel(target, threads === undefined ? {} : { threads });
  const noise = gaussianNoise(LABELS.length * model.imageElements, 0);
  const base: SampleOptions = { labels: LABELS, steps: STEPS, guidance: 3, noise };
  await sample(model, { ...base, steps: 2 }); // onnxruntime's first-run allocations are not timed
  let bestFull: (SampleResult & { cpuMs: number }) | undefined;
  let bestFast: (SampleResult & { cpuMs: number }) | undefined;
  let cpuFull = Infinity;
  let cpuFast = Infinity;
  let bestTimers: Timers | undefined;
  for (let r = 0; r < rounds; r++) {
    const full = await timed(model, base);
    const seer = new TaylorSeer({ schedule: SCHEDULE, maxOrder: 2 });
    const inst = kind === 'graph' ? instrument(model, seer) : undefined;
    let fast: SampleResult & { cpuMs: number };
    try {
      fast = await timed(model, { ...base, seer });
    } finally {
      inst?.restore();
      seer.dispose();
    }
    log(`  ${model.manifest.name} round ${r + 1}/${rounds}: full ${Math.round(full.wallMs)} ms wall / ${Math.round(full.cpuMs)} ms CPU, accelerated ${Math.round(fast.wallMs)} / ${Math.round(fast.cpuMs)}`);
    if (!bestFull || full.wallMs < bestFull.wallMs) bestFull = full;
    if (!bestFast || fast.wallMs < bestFast.wallMs) bestFast = fast;
    cpuFull = Math.min(cpuFull, full.cpuMs);
    if (fast.cpuMs < cpuFast) {
      cpuFast = fast.cpuMs;
      bestTimers = inst?.timers;
    }
  }
  const wall = bestFull!.wallMs / bestFast!.wallMs;
  const evals = bestFull!.moduleEvals / bestFast!.moduleEvals;
  const row: Row = {
    model: model.manifest.name,
    kind,
    fullMs: Math.round(bestFull!.wallMs),
    acceleratedMs: Math.round(bestFast!.wallMs),
    wallSpeedup: +wall.toFixed(3),
    evalSpeedup: +evals.toFixed(3),
    ratio: +(wall / evals).toFixed(3),
    cpuFullMs: Math.round(cpuFull),
    cpuAcceleratedMs: Math.round(cpuFast),
    cpuRatio: +(cpuFull / cpuFast / evals).toFixed(3),
    load: [round1(loadStart), round1(os.loadavg()[0])],
  };
  if (bestTimers) {
    const t = bestTimers;
    const parts = { fullRuns: sum(t.full), trunkRuns: sum(t.trunk), updates: sum(t.update), forecasts: sum(t.forecast) };
    row.breakdownCpuMs = {
      fullRuns: Math.round(parts.fullRuns),
      trunkRuns: Math.round(parts.trunkRuns),
      updates: Math.round(parts.updates),
      forecasts: Math.round(parts.forecasts),
      samplerAndGlue: Math.round(cpuFast - sum(Object.values(parts))),
      perStep: { full: round1(mean(t.full)), trunk: round1(mean(t.trunk)), update: round1(mean(t.update)), forecast: round1(mean(t.forecast)), fullCompute: round1(cpuFull / STEPS) },
    };
    const ideal = cpuFull / (t.full.length * mean(t.full) + t.trunk.length * mean(t.trunk));
    row.ratioTrunkOnly = +(ideal / evals).toFixed(3);
  }
  await model.dispose();
  return row;
}

function table(rows: readonly Row[]): string {
  const head = ['model', 'kind', 'wall ratio', 'CPU ratio', 'eval speedup', 'full wall ms', 'accel wall ms', 'full CPU ms', 'accel CPU ms', 'per step CPU ms: full run / full compute / trunk / update / forecast', 'trunk-only cap', 'load'];
  const body = rows.map((r) => {
    const p = r.breakdownCpuMs?.perStep;
    return [
      r.model,
      r.kind,
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
      options: { pieces: { type: 'string', multiple: true }, rounds: { type: 'string' }, threads: { type: 'string' }, json: { type: 'boolean' } },
    });
  } catch (e) {
    usage((e as Error).message);
  }
  const { values, positionals } = parsed;
  const rounds = positiveInt('--rounds', values.rounds, 3)!;
  const threads = positiveInt('--threads', values.threads, undefined);
  const pieces = values.pieces ?? [];
  if (positionals.length + pieces.length === 0) usage('name at least one model (an .onnx graph or its directory, or --pieces DIR)');
  const date = new Date().toISOString().slice(0, 10);
  const log = (s: string) => console.error(s);
  log(`graph-overhead: ${rounds} rounds, N=5 O=2 W=3, labels ${LABELS.join(',')}, ${STEPS} steps, guidance 3, onnxruntime threads ${threads ?? 'default'}, TAYLORSEER_THREADS ${process.env.TAYLORSEER_THREADS ?? 'unset'}, ${os.cpus().length} CPUs (${date})`);
  const rows: Row[] = [];
  for (const g of positionals) rows.push(await measure(g, 'graph', rounds, threads, log));
  for (const p of pieces) rows.push(await measure(p, 'pieces', rounds, threads, log));
  if (values.json) for (const r of rows) console.log(JSON.stringify(r));
  else console.log(table(rows));
}

main().catch((e: Error) => {
  console.error(`graph-overhead: ${e.message}`);
  process.exit(1);
});
