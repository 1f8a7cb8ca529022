/*
 * The measurements behind docs/studies/adaptive-vs-fixed.md and docs/studies/attribution.md (50 steps,
 * guidance 3, the 8 quality samples: labels 0-7 and <model>/reference/quality-noise.f32; `--model DIR`, the bundled DiT by
 * default). Runs from the TypeScript sources with tsx (no build step).
 *
 *   npx tsx scripts/forecast-errors.ts errors --full 0,1,2,8,14,20,26,32,38,44 [--warmup 3] [--order 2]
 *       [--variable newton] [--shift 1]
 *     Runs the schedule with shadow computation: on every forecast step the true module outputs are computed on
 *     the same input as well, and per step it prints the relative L2 error of the gated forecasts, the relative
 *     error of the guided velocity (forecast forward vs plain forward on the same x), and actual / estimate for
 *     the K-th-term estimate with the Taylor coefficient u^K / K! and with the forecast's own coefficient
 *     (product basis for newton). A summary line closes the output.
 *   npx tsx scripts/forecast-errors.ts sensitivity [--shift 1] [--eps 0.01]
 *     Full compute 50 + 1 times: per step j, the relative L2 change of the final sample when the guided
 *     velocity of step j alone is perturbed by eps * ||v_j|| in a fixed random direction.
 *   npx tsx scripts/forecast-errors.ts attribution --full 0,2,6,9,14,19,24,31,39,46 [--warmup 3] [--order 2]
 *       [--variable newton] [--shift 1]
 *     Where the final error of a schedule comes from. Runs it once, recording on every forecast step the guided
 *     velocity error (forecast minus a plain forward on the same x); then, per forecast interval k, runs full
 *     compute with only interval k's recorded errors added to its velocities. Prints each interval's share
 *     E_k (the final sample's change, relative L2 to full compute), the schedule's actual error E, the norm of
 *     the sum of the shares (|sum E_k| ~ |E| when the errors add linearly) and the sum of their norms: where
 *     sum |E_k| is far above |sum E_k|, the intervals' errors cancel in the final sample.
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { forecastCoeffs, MaskSchedule, TaylorSeer, VARIABLES, type CacheHook, type GatedItem, type GateShape, type ModuleOptions, type Schedule, type StepObservation, type Variable } from '../lib/index';
import { DitModel, forward, loadModel, readF32, relL2, timesteps, type ForwardOptions } from '../lib/pipeline/index';

const { values: a, positionals } = parseArgs({
  options: {
    full: { type: 'string' },
    warmup: { type: 'string', default: '3' },
    order: { type: 'string', default: '2' },
    variable: { type: 'string', default: 'newton' },
    shift: { type: 'string', default: '1' },
    eps: { type: 'string', default: '0.01' },
    model: { type: 'string', default: 'fixtures/dit-digits' },
  },
  allowPositionals: true,
  strict: true,
});
const mode = positionals[0] ?? 'errors';
if (mode !== 'errors' && mode !== 'sensitivity' && mode !== 'attribution') {
  console.error(`forecast-errors: unknown mode '${mode}' (expected errors, sensitivity or attribution)`);
  process.exit(2);
}

const STEPS = 50;
const GUIDANCE = 3;
const labels = [0, 1, 2, 3, 4, 5, 6, 7];
(async () => {
  const modelDir = path.resolve(a.model);
  const loaded = await loadModel(modelDir);
  if (!(loaded instanceof DitModel)) {
    console.error('forecast-errors: --model must be a directory of pieces (taylorseer-dit-onnx/1): the shadow computation runs the pieces');
    process.exit(2);
  }
  const model = loaded;
  const B = labels.length;
  const per = model.imageElements;
  const noise = readF32(path.join(modelDir, 'reference/quality-noise.f32'));
  const ts = timesteps(STEPS, Number(a.shift));
  const y = BigInt64Array.from([...labels, ...labels.map(() => model.arch.nullClass)].map(BigInt));
  const xb = new Float32Array(2 * B * per);
  // one guided forward: x [B, ...] -> v [B, ...]
  const guided = async (x: Float32Array, s: number, options?: ForwardOptions): Promise<Float32Array> => {
    xb.set(x, 0);
    xb.set(x, B * per);
    const v2 = await forward(model, xb, ts[s], y, 2 * B, options);
    const v = new Float32Array(B * per);
    for (let i = 0; i < v.length; i++) v[i] = v2[B * per + i] + GUIDANCE * (v2[i] - v2[B * per + i]);
    return v;
  };
  // full compute from the noise (Euler); `adjust(s, v)` may change step s's guided velocity in place first
  const fullCompute = async (adjust?: (s: number, v: Float32Array) => void): Promise<Float32Array> => {
    const x = Float32Array.from(noise);
    for (let s = 0; s < STEPS; s++) {
      const v = await guided(x, s);
      adjust?.(s, v);
      for (let i = 0; i < x.length; i++) x[i] += (ts[s + 1] - ts[s]) * v[i];
    }
    return x;
  };

  if (mode === 'sensitivity') {
    const eps = Number(a.eps);
    const dir = new Float32Array(B * per);
    let state = 12345;
    for (let i = 0; i < dir.length; i++) {
      state = (state * 1103515245 + 12345) % 2147483648;
      dir[i] = state / 2147483648 - 0.5;
    }
    const run = (perturbed: number) =>
      fullCompute((s, v) => {
        if (s !== perturbed) return;
        const k = eps * Math.sqrt(v.reduce((q, w) => q + w * w, 0) / dir.reduce((q, w) => q + w * w, 0));
        for (let i = 0; i < v.length; i++) v[i] += k * dir[i];
      });
    const ref = await run(-1);
    console.log('step t final-sample-relL2');
    for (let j = 0; j < STEPS; j++) console.log(j, ts[j].toFixed(3), relL2(await run(j), ref).toExponential(3));
    await model.dispose();
    return;
  }

  if (a.full === undefined) {
    console.error('forecast-errors: errors and attribution need --full with the full steps, e.g. --full 0,1,2,8,14,20,26,32,38,44');
    process.exit(2);
  }
  const full = a.full.split(',').map(Number);
  const order = Number(a.order);
  const variable = a.variable as Variable;
  if (!VARIABLES.includes(variable)) {
    console.error(`forecast-errors: --variable must be one of ${VARIABLES.join(', ')}, found '${a.variable}'`);
    process.exit(2);
  }
  const norms: Array<{ step: number; norms: number[] }> = [];
  // a mask schedule that also asks the update kernel for the norms (as the adaptive schedule does)
  const inner = new MaskSchedule({ steps: STEPS, full, warmup: Number(a.warmup) });
  const probe: Schedule = {
    kind: 'probe', steps: STEPS, warmup: inner.warmup, needsNorms: true,
    isFull: (s) => inner.isFull(s), fullSteps: () => inner.fullSteps(), describe: () => `probe of ${inner.describe()}`,
    observe: (o: StepObservation) => {
      if (o.full && o.norms) norms.push({ step: o.step, norms: [...o.norms] });
    },
  };
  const seer = new TaylorSeer({ schedule: probe, maxOrder: order, variable });
  let featErr = NaN;
  const hook: CacheHook = {
    beginStep: (s, t) => seer.beginStep(s, t),
    get isFull() { return seer.isFull; },
    moduleAsync: (key, compute, opts) => seer.moduleAsync(key, compute, opts),
    gatedResidual: (key, compute, h, gate, shape, opts) => seer.gatedResidual(key, compute, h, gate, shape, opts),
    get stats() { return seer.stats; },
    reset: () => seer.reset(),
    dispose: () => seer.dispose(),
    // forecast steps: each item's true output on the same h, then the forecast into h
    async gatedResiduals(items: readonly GatedItem[], h: Float32Array, shape: GateShape, opts?: ModuleOptions) {
      let e2 = 0;
      let t2 = 0;
      const D = shape.dim;
      for (const it of items) {
        const before = Float32Array.from(h);
        const truth = await it.compute();
        await seer.gatedResidual(it.key, it.compute, h, it.gate, shape, opts);
        for (let i = 0; i < h.length; i++) {
          const g = it.gate[Math.floor(i / (shape.tokens * D)) * D + (i % D)];
          e2 += (h[i] - before[i] - g * truth[i]) ** 2;
          t2 += (g * truth[i]) ** 2;
        }
      }
      featErr = Math.sqrt(e2 / t2);
    },
  };
  if (mode === 'attribution') {
    // the schedule's own run, recording the velocity error of each forecast step (on the schedule's trajectory)
    const dv = new Map<number, Float32Array>();
    const x = Float32Array.from(noise);
    for (let s = 0; s < STEPS; s++) {
      seer.beginStep(s, ts[s]);
      const isFull = seer.isFull;
      const v = await guided(x, s, { hook: seer });
      if (!isFull) {
        const plain = await guided(x, s);
        dv.set(s, v.map((w, i) => w - plain[i]));
      }
      for (let i = 0; i < x.length; i++) x[i] += (ts[s + 1] - ts[s]) * v[i];
    }
    // full compute with the recorded errors of the steps in `only` added
    const run = (only: Set<number>) =>
      fullCompute((s, v) => {
        if (!only.has(s)) return;
        const e = dv.get(s)!;
        for (let i = 0; i < v.length; i++) v[i] += e[i];
      });
    const ref = await fullCompute();
    const sorted = [...full].sort((p, q) => p - q);
    const total = new Float32Array(ref.length);
    let sumNorms = 0;
    const refNorm = Math.sqrt(ref.reduce((q, w) => q + w * w, 0));
    console.log('interval (forecast steps) share-of-final-error relL2');
    for (let k = 0; k < sorted.length; k++) {
      const steps = [...dv.keys()].filter((s) => s > sorted[k] && (k + 1 === sorted.length || s < sorted[k + 1]));
      if (steps.length === 0) continue;
      const z = await run(new Set(steps));
      let n2 = 0;
      for (let i = 0; i < z.length; i++) {
        total[i] += z[i] - ref[i];
        n2 += (z[i] - ref[i]) ** 2;
      }
      sumNorms += Math.sqrt(n2) / refNorm;
      console.log(`${sorted[k]} (${steps[0]}-${steps[steps.length - 1]}) ${(Math.sqrt(n2) / refNorm).toExponential(3)}`);
    }
    const actual = relL2(x, ref);
    const linear = Math.sqrt(total.reduce((q, w) => q + w * w, 0)) / refNorm;
    console.log(`actual |E| ${actual.toExponential(3)}  |sum E_k| ${linear.toExponential(3)}  sum |E_k| ${sumNorms.toExponential(3)}  ` +
      `cancellation sum|E_k| / |sum E_k| ${(sumNorms / linear).toFixed(2)}`);
    await model.dispose();
    return;
  }
  const x = Float32Array.from(noise);
  type Row = { step: number; from: number; K: number; feature: number; velocity: number; overTaylor: number; overOwn: number };
  const rows: Row[] = [];
  const coord = (s: number) => (variable === 'step' ? s : ts[s]);
  for (let s = 0; s < STEPS; s++) {
    seer.beginStep(s, ts[s]);
    const isFull = seer.isFull;
    const v = await guided(x, s, { hook });
    if (!isFull) {
      const vel = relL2(v, await guided(x, s));
      const last = norms[norms.length - 1];
      const K = last.norms.length - 1;
      if (K >= 1) {
        const rate = last.norms[K] / last.norms[0];
        const u = coord(s) - coord(last.step);
        const taylor = (rate * Math.abs(u) ** K) / [1, 1, 2, 6, 24][K];
        // the forecast's own coefficient over the nodes the factors span (full steps since the last restart)
        const nodes = norms.slice(norms.length - (K + 1)).map((n) => ({ step: n.step, t: ts[n.step] }));
        const own = rate * Math.abs(forecastCoeffs(variable, nodes, K + 1, { step: s, t: ts[s] })[K]);
        rows.push({ step: s, from: last.step, K, feature: featErr, velocity: vel, overTaylor: featErr / taylor, overOwn: featErr / own });
        console.log(`${s} from ${last.step} K=${K} feature ${featErr.toExponential(2)} velocity ${vel.toExponential(2)} ` +
          `actual/estimate: taylor ${(featErr / taylor).toFixed(2)} own ${(featErr / own).toFixed(2)}`);
      } else {
        console.log(`${s} from ${last.step} K=0 feature ${featErr.toExponential(2)} velocity ${vel.toExponential(2)} (no estimate)`);
      }
    }
    for (let i = 0; i < x.length; i++) x[i] += (ts[s + 1] - ts[s]) * v[i];
  }
  const stats = (k: 'overTaylor' | 'overOwn') => {
    const q = rows.map((r) => r[k]).sort((p, r) => p - r);
    return q.length ? `${q[0].toFixed(2)}..${q[q.length - 1].toFixed(2)} (median ${q[Math.floor(q.length / 2)].toFixed(2)})` : '-';
  };
  console.log(`summary over ${rows.length} forecast steps with K >= 1: actual/estimate taylor ${stats('overTaylor')}, own coefficient ${stats('overOwn')}`);
  await model.dispose();
})().catch((e: unknown) => {
  console.error(`forecast-errors: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
