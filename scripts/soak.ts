/*
 * Soak of the kernels and the hook for leak checks (scripts/leak-check.sh runs it, with and without
 * valgrind). Runs from the TypeScript sources with tsx, through the package's entry. One soak step is one
 * denoising step of a model with many cached modules:
 *  - every entry of a table does its call: update on its full steps, forecast (plain or gated, h += gate * F)
 *    on the others; half of them sync, half async (the async ones in flight together). The table covers
 *    every storage x activation dtype pair (f32, f16, bf16), orders 0..4 and sizes below and above the CPU
 *    pool's parallel threshold; every 25 steps one entry gets new arrays (the old ones become garbage);
 *  - every TaylorSeer (unless --no-hook) does one step of module / moduleAsync / gatedResidual / a second
 *    context, with reset(), dispose() + new and new runs along the way;
 *  - one call with bad input, which must be rejected with the expected error code.
 * Optionally runs --workers worker_threads one after another (each loads the addon, runs 20 steps, exits).
 * Samples process.memoryUsage() every --sample steps, after gc() when run with --expose-gc.
 *
 *   node --expose-gc --import tsx scripts/soak.ts [--steps 10000] [--sample 1000] [--max-n 40960]
 *        [--workers 0] [--warmup 2000] [--bound-mb 4] [--heap-bound-mb 1] [--no-rss-check] [--no-hook]
 *
 * Exits 1 when a call misbehaves or (unless --no-rss-check) RSS grows more than --bound-mb, or the JS heap
 * more than --heap-bound-mb, between the sample at --warmup steps and any later one. The last line of
 * stdout is `SOAK {json}`. TAYLORSEER_ADDON picks another build of the addon, as everywhere.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { native, TaylorSeer, type Dtype, type ForecastEntry, type HostTensor, type NativeAddon, type TaylorSeerOptions } from '../lib/index';

interface Options {
  steps: number;
  sample: number;
  maxN: number;
  workers: number;
  warmup: number;
  boundMb: number;
  heapBoundMb: number;
  rssCheck: boolean;
  hook: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { steps: 10000, sample: 1000, maxN: 40960, workers: 0, warmup: 2000, boundMb: 4, heapBoundMb: 1, rssCheck: true, hook: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < 0) throw new Error(`${a} needs a number`);
      return v;
    };
    if (a === '--steps') o.steps = num();
    else if (a === '--sample') o.sample = num();
    else if (a === '--max-n') o.maxN = num();
    else if (a === '--workers') o.workers = num();
    else if (a === '--warmup') o.warmup = num();
    else if (a === '--bound-mb') o.boundMb = num();
    else if (a === '--heap-bound-mb') o.heapBoundMb = num();
    else if (a === '--no-rss-check') o.rssCheck = false;
    else if (a === '--no-hook') o.hook = false;
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

const DTYPES: readonly Dtype[] = ['f32', 'f16', 'bf16'];
const host = (dtype: Dtype, n: number): HostTensor => (dtype === 'f32' ? new Float32Array(n) : new Uint16Array(n));

function makeData(addon: NativeAddon, dtype: Dtype, n: number, seed: number): HostTensor {
  const x = new Float32Array(n);
  for (let j = 0; j < n; j++) x[j] = Math.sin(0.01 * j + seed) * 0.5;
  if (dtype === 'f32') return x;
  const bits = new Uint16Array(n);
  addon.toHalf(x, dtype, bits);
  return bits;
}

interface Entry {
  storage: Dtype;
  act: Dtype;
  order: number;
  n: number;
  dim: number;
  tokens: number;
  count: number;
  step: number;
  factors: HostTensor;
  fresh: HostTensor;
  out: HostTensor;
  h: HostTensor;
  gate: HostTensor;
}

type SeerConfig = Partial<TaylorSeerOptions<Dtype>> & { maxOrder: number };

interface Seer {
  config: SeerConfig;
  seer: TaylorSeer<Dtype>;
  step: number;
  x: HostTensor;
  h: HostTensor;
  gate: HostTensor;
  shape: { batch: number; tokens: number; dim: number };
}

type Counts = Record<'steps' | 'update' | 'forecast' | 'gated' | 'async' | 'hook' | 'rejected' | 'churn', number>;

class Soak {
  counts: Counts = { steps: 0, update: 0, forecast: 0, gated: 0, async: 0, hook: 0, rejected: 0, churn: 0 };
  failures: string[] = [];
  entries: Entry[] = [];
  seers: Seer[] = [];

  constructor(
    private readonly addon: NativeAddon,
    private readonly opts: Options,
  ) {
    const sizes = [1000, 4096, opts.maxN].map((n) => Math.max(8, n - (n % 8)));
    for (let i = 0; i < 15; i++) {
      this.entries.push(this.makeEntry(DTYPES[i % 3], DTYPES[Math.floor(i / 3) % 3], i % 5, sizes[i % sizes.length], i));
    }
    if (opts.hook) {
      const configs: SeerConfig[] = [
        { maxOrder: 2 },
        { maxOrder: 4, variable: 'newton', storage: 'bf16', activation: 'bf16' },
        { maxOrder: 1, variable: 'time', storage: 'f16', activation: 'f16' },
        { maxOrder: 0, storage: 'f16' },
        { maxOrder: 3, storage: 'bf16', onShapeChange: 'reset' },
      ];
      for (const c of configs) this.seers.push(this.makeSeer(c));
    }
  }

  makeEntry(storage: Dtype, act: Dtype, order: number, n: number, seed: number): Entry {
    const dim = 8;
    return {
      storage, act, order, n, dim, tokens: n / dim, count: 0, step: 0,
      factors: host(storage, (order + 1) * n),
      fresh: makeData(this.addon, act, n, seed),
      out: host(act, n),
      h: makeData(this.addon, act, n, seed + 1),
      gate: makeData(this.addon, act, dim, seed + 2),
    };
  }

  makeSeer(config: SeerConfig): Seer {
    const n = 2 * 16 * 8;
    const act = config.activation ?? 'f32';
    return {
      config,
      seer: new TaylorSeer<Dtype>({ schedule: { kind: 'fixed', steps: 20, interval: 3, warmup: 2 }, ...config }),
      step: 0,
      x: makeData(this.addon, act, n, 5),
      h: makeData(this.addon, act, n, 6),
      gate: makeData(this.addon, act, 2 * 8, 7),
      shape: { batch: 2, tokens: 16, dim: 8 },
    };
  }

  /** Entry k's call of step i; returns the Promise of an async call (not awaited here). */
  addonCall(i: number, k: number): Promise<void> | undefined {
    const e = this.entries[k];
    const asyncCall = (i + k) % 2 === 1;
    if (e.act === 'f32') e.fresh[i % e.n] = Math.cos(i);
    else e.fresh[i % e.n] = 0x3c00 + (i % 256);
    const full = e.count === 0 || e.step % 3 === 0;
    e.step++;
    let p: Promise<void> | undefined;
    if (full) {
      const oldCount = e.count;
      const newCount = Math.min(oldCount + 1, e.order + 1);
      const entry = { factors: e.factors, fresh: e.fresh, oldCount, newCount, divisors: new Array<number>(Math.max(0, newCount - 1)).fill(3) };
      if (asyncCall) p = this.addon.updateAsync(e.storage, e.act, [entry]);
      else this.addon.update(e.storage, e.act, [entry]);
      e.count = newCount;
      this.counts.update++;
    } else {
      const coeffs = [1, 0.5, 0.25, 0.125, 0.0625].slice(0, e.count);
      const gated = e.step % 2 === 0;
      if (gated && e.step % 16 === 0) e.h.set(e.fresh); // keep h bounded: start again from the data
      const entry: ForecastEntry = gated
        ? { factors: e.factors, out: e.h, residual: e.h, gate: e.gate, tokens: e.tokens, dim: e.dim, count: e.count, coeffs }
        : { factors: e.factors, out: e.out, count: e.count, coeffs };
      if (asyncCall) p = this.addon.forecastAsync(e.storage, e.act, [entry]);
      else this.addon.forecast(e.storage, e.act, [entry]);
      if (gated) this.counts.gated++;
      this.counts.forecast++;
    }
    if (asyncCall) this.counts.async++;
    return p;
  }

  async addonStep(i: number): Promise<void> {
    const pending: Promise<void>[] = [];
    for (let k = 0; k < this.entries.length; k++) {
      const p = this.addonCall(i, k);
      if (p) pending.push(p);
    }
    await Promise.all(pending); // the async calls of a step are in flight together (distinct buffers)
    if (i % 25 === 0) {
      const k = (i / 25) % this.entries.length;
      const old = this.entries[k];
      this.entries[k] = this.makeEntry(old.storage, old.act, old.order, old.n, i);
      this.counts.churn++;
    }
  }

  async hookStep(i: number): Promise<void> {
    for (let k = 0; k < this.seers.length; k++) await this.hookSeerStep(i, k);
  }

  async hookSeerStep(i: number, k: number): Promise<void> {
    const s = this.seers[k];
    const seer = s.seer;
    const t = (step: number): number => 1 - step / 21;
    seer.beginStep(s.step, seer.variable === 'step' ? undefined : t(s.step));
    const act = s.config.activation ?? 'f32';
    if (act === 'f32') s.x[s.step] = s.step * 0.01;
    seer.module('attn', () => s.x);
    await seer.moduleAsync('mlp', async () => s.x.slice());
    await seer.gatedResidual('res', () => s.x.slice(), s.h, s.gate, s.shape);
    seer.module('attn', () => s.x, { context: 'uncond' });
    s.step = (s.step + 1) % 20; // wraps to beginStep(0): a new run
    this.counts.hook++;
    if ((i + k) % 97 === 96 && s.step !== 0) {
      seer.reset();
      s.step = 0;
    }
    if ((i + 3 * k) % 211 === 210) {
      seer.dispose();
      this.seers[k] = this.makeSeer(s.config);
    }
  }

  /** A call with bad input: must be rejected with `code`. The casts let the wrong types through to the addon. */
  async rejectedStep(i: number): Promise<void> {
    const a = this.addon;
    const e = this.entries[i % this.entries.length];
    const other = e.act === 'f32' ? new Uint16Array(e.n) : new Float32Array(e.n);
    const detached = host(e.act, e.n);
    structuredClone(detached.buffer, { transfer: [detached.buffer as ArrayBuffer] });
    const ok = { factors: e.factors, fresh: e.fresh, oldCount: 0, newCount: 1, divisors: [] };
    const cases: [string, () => unknown][] = [
      ['ERR_DTYPE', () => a.update(e.storage, e.act, [{ ...ok, fresh: other }])],
      ['ERR_NON_FINITE', () => a.update(e.storage, e.act, [{ ...ok, factors: host(e.storage, 2 * e.n), oldCount: 1, newCount: 2, divisors: [NaN] }])],
      ['ERR_LENGTH', () => a.forecast(e.storage, e.act, [{ factors: e.factors, out: e.out.subarray(1), n: e.n, count: 1, coeffs: [1] }])],
      ['ERR_INVALID_ARGUMENT', () => a.forecast(e.storage, e.storage, [{ factors: e.factors, out: e.factors.subarray(0, e.n), count: 1, coeffs: [1] }])],
      ['ERR_LENGTH', () => a.update(e.storage, e.act, [{ ...ok, fresh: detached }])],
      ['ERR_INVALID_ARGUMENT', () => a.updateAsync(e.storage, e.act, [{ ...ok, newCount: 7 }])],
      ['ERR_SHAPE', () => a.forecastAsync(e.storage, e.act, [{ factors: e.factors, out: e.h, residual: e.h, gate: e.gate.subarray(1), tokens: e.tokens, dim: e.dim, count: 1, coeffs: [1] }])],
      ['ERR_LENGTH', () => a.update(e.storage, e.act, [ok, { ...ok, fresh: e.fresh.subarray(1) }])],
      ['ERR_LENGTH', () => a.toHalf(new Float32Array(16), 'bf16', new Uint16Array(15))],
      ['ERR_DTYPE', () => a.update('f64' as Dtype, e.act, [ok])],
    ];
    if (this.seers.length) {
      const s = this.seers[i % this.seers.length];
      cases.push(['ERR_STEP', () => s.seer.moduleAsync('attn', async () => s.x)]); // 'attn' was used in this step already (or no step yet)
    }
    const [code, call] = cases[i % cases.length];
    let got = 'no error';
    try {
      await call();
    } catch (err) {
      const c = (err as { code?: unknown } | null)?.code;
      got = typeof c === 'string' ? c : `untyped ${String(err)}`;
    }
    if (got !== code) this.failures.push(`step ${i}: expected ${code}, got ${got}`);
    this.counts.rejected++;
  }

  async run(steps: number, onSample?: (steps: number) => void): Promise<void> {
    for (let i = 0; i < steps; i++) {
      await this.addonStep(i);
      await this.hookStep(i);
      await this.rejectedStep(i);
      this.counts.steps++;
      if (onSample && (i + 1) % this.opts.sample === 0) onSample(i + 1);
    }
  }
}

interface Sample {
  steps: number;
  rssMB: number;
  heapTotalMB: number;
  heapUsedMB: number;
  externalMB: number;
  arrayBuffersMB: number;
}

function memory(steps: number): Sample {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
  const m = process.memoryUsage();
  const mb = (v: number): number => Math.round((v / 2 ** 20) * 10) / 10;
  return { steps, rssMB: mb(m.rss), heapTotalMB: mb(m.heapTotal), heapUsedMB: mb(m.heapUsed), externalMB: mb(m.external), arrayBuffersMB: mb(m.arrayBuffers) };
}

interface WorkerResult {
  counts: Counts;
  failures: string[];
}

/** A worker_thread on this file. Node 20 does not carry tsx's loader into workers: the worker registers it. */
function runWorker(opts: Options): Promise<WorkerResult> {
  return new Promise((resolve, reject) => {
    const code = `require('tsx/cjs'); require(${JSON.stringify(__filename)});`;
    const w = new Worker(code, { eval: true, workerData: { opts: { ...opts, workers: 0 } } });
    let result: WorkerResult | undefined;
    w.on('message', (m: WorkerResult) => (result = m));
    w.on('error', reject);
    w.on('exit', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`worker exited with ${code}`))));
  });
}

async function main(): Promise<void> {
  if (!isMainThread) {
    const soak = new Soak(native(), (workerData as { opts: Options }).opts);
    await soak.run(20);
    parentPort!.postMessage({ counts: soak.counts, failures: soak.failures } satisfies WorkerResult);
    return;
  }
  const opts = parseArgs(process.argv.slice(2));
  const addon = native();
  const soak = new Soak(addon, opts);
  const started = Date.now();
  const samples = [memory(0)];
  const gcOn = typeof (globalThis as { gc?: unknown }).gc === 'function';
  console.log(`soak: ${opts.steps} steps, addon ${addon.build.file}${opts.hook ? '' : ' (hook steps off)'}, sizes up to ${opts.maxN} elements, gc ${gcOn ? 'on' : 'off (run with --expose-gc)'}`);
  await soak.run(opts.steps, (steps) => {
    const m = memory(steps);
    samples.push(m);
    console.log(`soak: ${String(steps).padStart(6)} steps  rss ${m.rssMB} MB  heap ${m.heapUsedMB} of ${m.heapTotalMB} MB  array buffers ${m.arrayBuffersMB} MB`);
  });
  const workers: WorkerResult[] = [];
  for (let k = 0; k < opts.workers; k++) workers.push(await runWorker(opts));
  for (const w of workers) soak.failures.push(...w.failures.map((f) => `worker: ${f}`));
  for (const e of soak.seers) e.seer.dispose();

  const after = samples.filter((s) => s.steps >= opts.warmup);
  const base = after[0];
  const growth = (field: 'rssMB' | 'heapUsedMB'): number => (base ? Math.round((Math.max(...after.map((s) => s[field])) - base[field]) * 10) / 10 : 0);
  const growthMB = growth('rssMB');
  const heapGrowthMB = growth('heapUsedMB');
  const rssOk = !opts.rssCheck || !base || (growthMB <= opts.boundMb && heapGrowthMB <= opts.heapBoundMb);
  const ok = soak.failures.length === 0 && rssOk;
  const seconds = (Date.now() - started) / 1000;
  for (const f of soak.failures.slice(0, 20)) console.log(`soak: FAIL ${f}`);
  if (!rssOk) {
    console.log(`soak: FAIL after ${opts.warmup} steps RSS grew ${growthMB} MB (bound ${opts.boundMb}), JS heap ${heapGrowthMB} MB (bound ${opts.heapBoundMb})`);
  }
  console.log(
    `soak: ${ok ? 'ok' : 'FAILED'} in ${seconds.toFixed(1)} s: ${JSON.stringify(soak.counts)}, ${workers.length} worker(s), ` +
      (base ? `RSS ${base.rssMB} MB at step ${base.steps}, max growth after it ${growthMB} MB (JS heap ${heapGrowthMB} MB)` : 'no RSS samples after warm-up'),
  );
  console.log(`SOAK ${JSON.stringify({ ok, seconds, counts: soak.counts, failures: soak.failures.length, workers: workers.length, warmup: opts.warmup, boundMb: opts.boundMb, heapBoundMb: opts.heapBoundMb, growthMB, heapGrowthMB, samples })}`);
  process.exitCode = ok ? 0 : 1;
}

main().catch((err: unknown) => {
  console.error(`soak: ${err instanceof Error && err.stack ? err.stack : String(err)}`);
  process.exitCode = 2;
});
