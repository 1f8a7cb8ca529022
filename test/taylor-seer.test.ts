import { describe, expect, it, vi } from 'vitest';
import { TaylorSeer, type TaylorSeerOptions } from '../lib/taylor-seer';
import { native, type Dtype } from '../lib/native';
import type { Schedule, StepObservation } from '../lib/schedule';
import { fromHost, referenceRun, relErr, toHost, variantRun } from './oracle/reference';
import { typedCodeOf as codeOf } from './helpers/code-of';
import { ResizableArrayBuffer } from './helpers/resizable';

vi.mock('../lib/native', async (importOriginal) => {
  const mod = await importOriginal<typeof import('../lib/native')>();
  const { chooseAddon } = await import('./oracle/reference');
  const { addon, name } = chooseAddon(mod.native);
  console.log(`hook tests run against the ${name} addon`);
  return { ...mod, native: () => addon };
});

const N = 5;

/** A smooth per-module feature, rounded to f32 like a real activation. */
function feature(step: number, key: string, n = N): Float32Array {
  const k = [...key].reduce((a, c) => a + c.charCodeAt(0), 0) % 11;
  return Float32Array.from({ length: n }, (_, j) => Math.sin(0.07 * step * (j + 1) + k) + 0.002 * step * step - 0.3 * j);
}

const fixed50 = { kind: 'fixed', steps: 50, interval: 6, warmup: 3 } as const;

/** Runs `steps` steps of module() calls for each key and returns outputs[step][key]. */
function run(seer: TaylorSeer, keys: string[], f = feature, t?: number[], context?: string): Array<Record<string, number[]>> {
  const out: Array<Record<string, number[]>> = [];
  for (let s = 0; s < seer.schedule.steps; s++) {
    seer.beginStep(s, t?.[s]);
    const row: Record<string, number[]> = {};
    for (const key of keys) row[key] = Array.from(seer.module(key, () => f(s, key), context === undefined ? undefined : { context }));
    out.push(row);
  }
  return out;
}

function expectClose(got: Array<Record<string, number[]>>, want: Array<Record<string, number[]>>, tol: number): void {
  expect(got.length).toBe(want.length);
  got.forEach((row, s) => {
    for (const key of Object.keys(want[s])) expect(relErr(row[key], want[s][key]), `step ${s} "${key}"`).toBeLessThan(tol);
  });
}

/** Non-uniform sampler times: a shifted flow-matching grid, t' = 3t / (1 + 2t), t from 1 to 0. */
function shiftedGrid(steps: number): number[] {
  return Array.from({ length: steps }, (_, i) => {
    const t = 1 - i / steps;
    return (3 * t) / (1 + 2 * t);
  });
}

describe('TaylorSeer reproduces the reference', () => {
  it.each([0, 1, 2, 3, 4])("variable 'step', maxOrder %i: every step's output equals the reference run", (maxOrder) => {
    const seer = new TaylorSeer({ schedule: fixed50, maxOrder });
    const want = referenceRun({ steps: 50, interval: 6, warmup: 3, maxOrder, keys: ['attn', 'mlp'], feature });
    expectClose(run(seer, ['attn', 'mlp']), want.outputs, 1e-5);
  });

  it('with a cool-down and with a mask schedule', () => {
    const o = { steps: 30, interval: 4, warmup: 2, cooldown: 3 };
    const want = referenceRun({ ...o, maxOrder: 2, feature });
    expectClose(run(new TaylorSeer({ schedule: { kind: 'fixed', ...o }, maxOrder: 2 }), ['m']), want.outputs, 1e-5);
    const full = want.full.flatMap((f, s) => (f ? [s] : []));
    const mask = new TaylorSeer({ schedule: { kind: 'mask', steps: 30, full, warmup: 2 }, maxOrder: 2 });
    expectClose(run(mask, ['m']), want.outputs, 1e-5);
  });

  it("variable 'time' differences in the sampler's t", () => {
    const t = shiftedGrid(50);
    const seer = new TaylorSeer({ schedule: fixed50, maxOrder: 2, variable: 'time' });
    const want = variantRun({ steps: 50, interval: 6, warmup: 3, maxOrder: 2, feature, variable: 'time', t });
    expectClose(run(seer, ['m'], feature, t), want.outputs, 1e-5);
  });

  it("variable 'newton' forecasts the polynomial through the entry's latest full steps", () => {
    const t = shiftedGrid(50);
    const seer = new TaylorSeer({ schedule: fixed50, maxOrder: 3, variable: 'newton' });
    const want = variantRun({ steps: 50, interval: 6, warmup: 3, maxOrder: 3, feature, variable: 'newton', t });
    expectClose(run(seer, ['m'], feature, t), want.outputs, 1e-4);
  });

  it.each([
    ['f32', 'f16', 2e-3],
    ['f32', 'bf16', 2e-2],
    ['f16', 'f16', 2e-3],
    ['bf16', 'bf16', 3e-2],
  ] as const)('activation %s with %s factor storage stays within the storage precision', (activation, storage, tol) => {
    const seer = new TaylorSeer({ schedule: fixed50, maxOrder: 2, activation: activation as Dtype, storage });
    const f = (s: number, key: string) => Float32Array.from(fromHost(toHost(feature(s, key), activation), activation));
    const got: Array<Record<string, number[]>> = [];
    for (let s = 0; s < 50; s++) {
      seer.beginStep(s);
      const y = seer.module('m', () => toHost(f(s, 'm'), activation));
      expect(y).toBeInstanceOf(activation === 'f32' ? Float32Array : Uint16Array);
      got.push({ m: fromHost(y, activation) });
    }
    expectClose(got, referenceRun({ steps: 50, interval: 6, warmup: 3, maxOrder: 2, feature: f }).outputs, tol);
  });
});

describe('full and forecast steps', () => {
  it('calls compute only on full steps and counts what it skipped', () => {
    const seer = new TaylorSeer({ schedule: fixed50, maxOrder: 2 });
    const calls: number[] = [];
    for (let s = 0; s < 50; s++) {
      seer.beginStep(s);
      expect(seer.isFull).toBe(seer.schedule.isFull(s));
      expect(seer.step).toBe(s);
      seer.module('attn', () => (calls.push(s), feature(s, 'attn')));
      seer.module('mlp', () => feature(s, 'mlp'));
    }
    expect(calls).toEqual([0, 1, 2, 8, 14, 20, 26, 32, 38, 44]);
    expect(seer.stats).toEqual({
      fullSteps: 10,
      forecastSteps: 40,
      computes: 20,
      computesSkipped: 80,
      bytesHeld: 2 * 3 * N * 4,
      entries: 2,
      bytesByEntry: [
        { context: '', key: 'attn', bytes: 3 * N * 4 },
        { context: '', key: 'mlp', bytes: 3 * N * 4 },
      ],
      layout: { storage: 'f32', maxOrder: 2 },
      budget: { maxBytes: undefined, onBudget: 'error', downgrades: [] },
    });
  });

  it('returns the computed array itself on full steps and a fresh array on forecast steps', () => {
    const seer = new TaylorSeer({ schedule: { kind: 'mask', steps: 3, full: [0] }, maxOrder: 1 });
    seer.beginStep(0);
    const y0 = feature(0, 'm');
    expect(seer.module('m', () => y0)).toBe(y0);
    seer.beginStep(1);
    const y1 = seer.module('m', () => feature(1, 'm'));
    expect(y1).not.toBe(y0);
    expect(Array.from(y1)).toEqual(Array.from(y0)); // order 0 only: plain reuse
  });

  it('moduleAsync() gives the same outputs as module()', async () => {
    const sync = new TaylorSeer({ schedule: fixed50, maxOrder: 2 });
    const asyncSeer = new TaylorSeer({ schedule: fixed50, maxOrder: 2 });
    const want = run(sync, ['m']);
    for (let s = 0; s < 50; s++) {
      asyncSeer.beginStep(s);
      const y = await asyncSeer.moduleAsync('m', async () => feature(s, 'm'));
      expect(Array.from(y), `step ${s}`).toEqual(want[s].m);
    }
    expect(asyncSeer.stats).toEqual(sync.stats);
  });

  it('keeps contexts apart (CFG as two forwards)', () => {
    const seer = new TaylorSeer({ schedule: fixed50, maxOrder: 2 });
    const cond = (s: number, k: string) => feature(s, `${k}+cond`);
    const uncond = (s: number, k: string) => feature(s, `${k}-uncond`);
    const got: Array<Record<string, number[]>> = [];
    for (let s = 0; s < 50; s++) {
      seer.beginStep(s);
      got.push({
        c: Array.from(seer.module('attn', () => cond(s, 'attn'), { context: 'cond' })),
        u: Array.from(seer.module('attn', () => uncond(s, 'attn'), { context: 'uncond' })),
      });
    }
    const o = { steps: 50, interval: 6, warmup: 3, maxOrder: 2 };
    const c = referenceRun({ ...o, feature: (s) => cond(s, 'attn') }).outputs.map((r) => ({ c: r.m }));
    const u = referenceRun({ ...o, feature: (s) => uncond(s, 'attn') }).outputs.map((r) => ({ u: r.m }));
    expectClose(got, c, 1e-5);
    expectClose(got, u, 1e-5);
    expect(seer.stats.entries).toBe(2);
  });

  it('an entry skipped on a full step differences against the step it was last computed at', () => {
    // 'b' is not computed at step 8: at step 14 it differences F(14) against F(2) (D = 12), and forecasts
    // from 14. A linear feature therefore stays exact; the reference's global D (14 - 8) would not.
    const seer = new TaylorSeer({ schedule: fixed50, maxOrder: 1 });
    const lin = (s: number) => Float32Array.of(0.5 * s - 1, 3 - 0.25 * s);
    for (let s = 0; s < 20; s++) {
      seer.beginStep(s);
      if (s === 8) continue;
      expect(Array.from(seer.module('b', () => lin(s))), `step ${s}`).toEqual(Array.from(lin(s)));
    }
    expect(seer.inspect()[0].history.map((n) => n.step)).toEqual([2, 14]);
  });

  it('works at any granularity: a cached block around cached modules skips everything inside', () => {
    const seer = new TaylorSeer({ schedule: { kind: 'fixed', steps: 10, interval: 3, warmup: 1 }, maxOrder: 1 });
    const inner: number[] = [];
    for (let s = 0; s < 10; s++) {
      seer.beginStep(s);
      seer.module('block', () => {
        const a = seer.module('block.attn', () => (inner.push(s), feature(s, 'attn')));
        return Float32Array.from(a, (v) => 2 * v);
      });
    }
    expect(inner).toEqual([0, 3, 6, 9]);
  });

  it('a custom schedule is asked once per step, in order, and observes each finished step', () => {
    const asked: number[] = [];
    const seen: StepObservation[] = [];
    let resets = 0;
    const everyOther: Schedule = {
      kind: 'every-other',
      steps: 4,
      warmup: 0,
      isFull: (s) => (asked.push(s), s % 2 === 0),
      fullSteps: () => null,
      describe: () => 'every other',
      reset: () => void resets++,
      observe: (o) => void seen.push(o),
    };
    const seer = new TaylorSeer({ schedule: everyOther, maxOrder: 1, variable: 'time' });
    const t = [1, 0.75, 0.5, 0.25];
    run(seer, ['a', 'b'], feature, t);
    seer.beginStep(0, 1);
    expect(asked).toEqual([0, 1, 2, 3, 0]);
    expect(resets).toBe(2);
    expect(seen).toEqual([
      { step: 0, t: 1, full: true, entries: 2, variable: 'time' },
      { step: 1, t: 0.75, full: false, entries: 2, variable: 'time' },
      { step: 2, t: 0.5, full: true, entries: 2, variable: 'time' },
      { step: 3, t: 0.25, full: false, entries: 2, variable: 'time' },
    ]);
  });
});

describe('gatedResidual', () => {
  const [B, L, D] = [2, 3, 4];
  const n = B * L * D;
  const shape = { batch: B, tokens: L, dim: D };
  const gateAt = (s: number) => Float32Array.from({ length: B * D }, (_, i) => 0.5 + 0.1 * i - 0.01 * s);
  const hAt = (s: number) => Float32Array.from({ length: n }, (_, i) => Math.cos(i + s));

  it('adds gate[b, :] * F on full steps and gate[b, :] * forecast otherwise', async () => {
    const opts: TaylorSeerOptions = { schedule: fixed50, maxOrder: 2 };
    const gated = new TaylorSeer(opts);
    const plain = new TaylorSeer(opts);
    for (let s = 0; s < 50; s++) {
      gated.beginStep(s);
      plain.beginStep(s);
      const y = plain.module('mlp', () => feature(s, 'mlp', n));
      const h = hAt(s);
      const gate = gateAt(s);
      await gated.gatedResidual('mlp', () => feature(s, 'mlp', n), h, gate, shape);
      const want = Array.from(hAt(s), (v, i) => v + gate[Math.floor(i / (L * D)) * D + (i % D)] * y[i]);
      expect(relErr(h, want), `step ${s}`).toBeLessThan(1e-6);
    }
    expect(gated.stats).toEqual(plain.stats);
  });

  it('on full steps adds the computed F, not the rounded stored copy', async () => {
    const seer = new TaylorSeer({ schedule: fixed50, maxOrder: 1, storage: 'bf16' });
    seer.beginStep(0);
    const F = Float32Array.from({ length: n }, (_, i) => 1 + i / 1000); // not representable in bf16
    const h = new Float32Array(n);
    const gate = new Float32Array(B * D).fill(1);
    await seer.gatedResidual('mlp', () => F, h, gate, shape);
    expect(Array.from(h)).toEqual(Array.from(F));
  });

  it('accepts an async compute and never calls it on forecast steps', async () => {
    const seer = new TaylorSeer({ schedule: { kind: 'fixed', steps: 6, interval: 3, warmup: 1 }, maxOrder: 1 });
    const calls: number[] = [];
    for (let s = 0; s < 6; s++) {
      seer.beginStep(s);
      await seer.gatedResidual('mlp', async () => (calls.push(s), feature(s, 'mlp', n)), hAt(s), gateAt(s), shape);
    }
    expect(calls).toEqual([0, 3]);
  });
});

describe('runs', () => {
  it('beginStep(0) starts a new run: the second run repeats the first, stats accumulate', () => {
    const seer = new TaylorSeer({ schedule: fixed50, maxOrder: 2 });
    const first = run(seer, ['a', 'b']);
    const bytes = seer.stats.bytesHeld;
    const second = run(seer, ['a', 'b']);
    expect(second).toEqual(first);
    expect(seer.stats).toMatchObject({ fullSteps: 20, forecastSteps: 80, bytesHeld: bytes });
  });

  it('a new run may change shapes even under onShapeChange: error', () => {
    const seer = new TaylorSeer({ schedule: fixed50, maxOrder: 2 });
    run(seer, ['a']);
    const wide = (s: number, k: string) => feature(s, k, 2 * N);
    const want = referenceRun({ steps: 50, interval: 6, warmup: 3, maxOrder: 2, feature: wide, keys: ['a'] });
    expectClose(run(seer, ['a'], wide), want.outputs, 1e-5);
  });

  it('reset() makes the object indistinguishable from a new one', () => {
    const opts: TaylorSeerOptions = { schedule: fixed50, maxOrder: 3 };
    const used = new TaylorSeer(opts);
    run(used, ['a', 'b'], (s, k) => feature(s + 3, k, 7));
    used.beginStep(0);
    used.module('c', () => feature(0, 'c'));
    used.reset();
    expect(used.step).toBeUndefined();
    expect(used.stats).toEqual({
      fullSteps: 0,
      forecastSteps: 0,
      computes: 0,
      computesSkipped: 0,
      bytesHeld: 0,
      entries: 0,
      bytesByEntry: [],
      layout: { storage: 'f32', maxOrder: 3 },
      budget: { maxBytes: undefined, onBudget: 'error', downgrades: [] },
    });
    const fresh = new TaylorSeer(opts);
    expect(run(used, ['a'])).toEqual(run(fresh, ['a']));
    expect(used.stats).toEqual(fresh.stats);
    expect(used.inspect()).toEqual(fresh.inspect());
  });

  it("onShapeChange: 'reset' restarts an entry whose shape changes within a run", () => {
    const seer = new TaylorSeer({ schedule: { kind: 'fixed', steps: 10, interval: 2, warmup: 1 }, maxOrder: 2, onShapeChange: 'reset' });
    for (let s = 0; s < 10; s++) {
      seer.beginStep(s);
      seer.module('a', () => feature(s, 'a', s < 6 ? N : N + 1));
    }
    expect(seer.inspect()[0]).toMatchObject({ shape: [N + 1], count: 2, history: [{ step: 6 }, { step: 8 }] });
  });
});

describe('errors leave everything unchanged', () => {
  const [B, L, D] = [1, 2, 3];
  const n = B * L * D;
  const shape = { batch: B, tokens: L, dim: D };
  const steps = 12; // full: 0, 1, 4, 7, 10
  type Call = [what: string, call: (seer: TaylorSeer) => unknown, code: string];
  type Phase = 'beforeBegin' | 'before' | 'after';

  /** Runs a good twin and a twin that also receives `bad` calls; after each bad call both must agree. */
  async function lockstep(bad: Partial<Record<string, Call[]>>, variable: 'step' | 'newton' = 'step'): Promise<void> {
    const opts: TaylorSeerOptions = { schedule: { kind: 'fixed', steps, interval: 3, warmup: 2 }, maxOrder: 2, variable };
    const good = new TaylorSeer(opts);
    const twin = new TaylorSeer(opts);
    const t = shiftedGrid(steps);
    const logs: number[][][] = [[], []];
    const inject = async (s: number, phase: Phase) => {
      for (const [what, call, code] of bad[`${s}:${phase}`] ?? []) {
        expect(await codeOf(() => call(twin)), `step ${s} ${phase}: ${what}`).toBe(code);
        if (good.step !== undefined) {
          expect(twin.stats, what).toEqual(good.stats);
          expect(twin.inspect(), what).toEqual(good.inspect());
        }
      }
    };
    for (let s = 0; s < steps; s++) {
      await inject(s, 'beforeBegin');
      good.beginStep(s, t[s]);
      twin.beginStep(s, t[s]);
      await inject(s, 'before');
      for (const [i, seer] of [good, twin].entries()) {
        logs[i].push(Array.from(seer.module('a', () => feature(s, 'a'))));
        logs[i].push(Array.from(seer.module('a', () => feature(s, 'a2'), { context: 'uncond' })));
        const h = Float32Array.from({ length: n }, (_, j) => j - s);
        await seer.gatedResidual('g', () => feature(s, 'g', n), h, Float32Array.of(1, 2, 3), shape);
        logs[i].push(Array.from(h));
      }
      await inject(s, 'after');
    }
    expect(logs[1]).toEqual(logs[0]);
    expect(twin.stats).toEqual(good.stats);
  }

  const f = (s: number) => () => feature(s, 'a');
  const h = () => new Float32Array(n);
  const gate = () => new Float32Array(B * D);
  /** a copy of `t` on a resizable ArrayBuffer */
  const onResizable = (t: Float32Array) => {
    const r = new Float32Array(new ResizableArrayBuffer(t.byteLength, { maxByteLength: 2 * t.byteLength + 4 }));
    r.set(t);
    return r;
  };
  /** { [field]: a getter answering `values` in turn } */
  const answers = (field: string, ...values: unknown[]) => {
    let k = 0;
    return Object.defineProperty({}, field, { enumerable: true, get: () => values[Math.min(k++, values.length - 1)] }) as never;
  };

  it('step lifecycle misuse is ERR_STEP (or ERR_INVALID_ARGUMENT for a non-integer)', async () => {
    await lockstep({
      '0:beforeBegin': [
        ['isFull before any step', (x) => x.isFull, 'ERR_STEP'],
        ['module before any step', (x) => x.module('a', f(0)), 'ERR_STEP'],
        ['a run starting at step 1', (x) => x.beginStep(1), 'ERR_STEP'],
      ],
      '2:beforeBegin': [
        ['skipping a step', (x) => x.beginStep(3), 'ERR_STEP'],
        ['repeating a step', (x) => x.beginStep(1), 'ERR_STEP'],
        ['a step past the schedule', (x) => x.beginStep(12), 'ERR_STEP'],
        ['a negative step', (x) => x.beginStep(-1), 'ERR_STEP'],
        ['a fractional step', (x) => x.beginStep(2.5), 'ERR_INVALID_ARGUMENT'],
        ['a string step', (x) => x.beginStep('2' as never), 'ERR_INVALID_ARGUMENT'],
        ['a non-finite t', (x) => x.beginStep(2, Number.NaN), 'ERR_NON_FINITE'],
      ],
      '0:after': [
        ['a key used twice in a full step', (x) => x.module('a', f(0)), 'ERR_STEP'],
        ['a gated key used twice', (x) => x.gatedResidual('g', f(0), h(), gate(), shape), 'ERR_STEP'],
      ],
      '2:after': [
        ['a key used twice in a forecast step', (x) => x.module('a', f(2), { context: 'uncond' }), 'ERR_STEP'],
        ['async, used twice', (x) => x.moduleAsync('a', async () => feature(2, 'a')), 'ERR_STEP'],
      ],
    });
  });

  it('bad arguments and bad outputs on a full step', async () => {
    await lockstep({
      '1:before': [
        ['an empty key', (x) => x.module('', f(1)), 'ERR_INVALID_ARGUMENT'],
        ['a non-string key', (x) => x.module(7 as never, f(1)), 'ERR_INVALID_ARGUMENT'],
        ['compute not a function', (x) => x.module('a', 42 as never), 'ERR_INVALID_ARGUMENT'],
        ['a non-string context', (x) => x.module('a', f(1), { context: 5 as never }), 'ERR_INVALID_ARGUMENT'],
        ['an unknown module option', (x) => x.module('a', f(1), { ctx: 'x' } as never), 'ERR_INVALID_ARGUMENT'],
        ['an output of the wrong dtype', (x) => x.module('a', () => new Uint16Array(N) as never), 'ERR_DTYPE'],
        ['an output that is not a tensor', (x) => x.module('a', () => [1, 2, 3] as never), 'ERR_DTYPE'],
        ['a Float64Array output (async)', (x) => x.moduleAsync('a', async () => new Float64Array(N) as never), 'ERR_DTYPE'],
        ['an empty output for a new key', (x) => x.module('new', () => new Float32Array(0)), 'ERR_LENGTH'],
        ['an output of another length', (x) => x.module('a', () => feature(1, 'a', N + 1)), 'ERR_SHAPE'],
        ['a Promise from a sync compute', (x) => x.module('a', (async () => feature(1, 'a')) as never), 'ERR_INVALID_ARGUMENT'],
        ['a gated output of another length', (x) => x.gatedResidual('g', () => feature(1, 'g', n + 1), h(), gate(), shape), 'ERR_LENGTH'],
        ['h of another length', (x) => x.gatedResidual('g', f(1), new Float32Array(n + 1), gate(), shape), 'ERR_SHAPE'],
        ['gate of another length', (x) => x.gatedResidual('g', f(1), h(), new Float32Array(B * D + 1), shape), 'ERR_SHAPE'],
        ['a zero dimension', (x) => x.gatedResidual('g', f(1), h(), gate(), { ...shape, batch: 0 }), 'ERR_SHAPE'],
        ['a missing dimension', (x) => x.gatedResidual('g', f(1), h(), gate(), { batch: 1, tokens: 2 } as never), 'ERR_INVALID_ARGUMENT'],
        ['h of the wrong dtype', (x) => x.gatedResidual('g', f(1), new Uint16Array(n) as never, gate(), shape), 'ERR_DTYPE'],
        ['compute returning h itself', (x) => { const hh = h(); return x.gatedResidual('g', () => hh, hh, gate(), shape); }, 'ERR_INVALID_ARGUMENT'],
        ['the other shape of the same size', (x) => x.gatedResidual('g', () => feature(1, 'g', n), h(), new Float32Array(3 * 1), { batch: 3, tokens: 2, dim: 1 }), 'ERR_SHAPE'],
        // the kernels refuse views on resizable buffers (they could shrink mid-kernel): refused before the fold
        ['an output on a resizable ArrayBuffer', (x) => x.module('a', () => onResizable(feature(1, 'a'))), 'ERR_INVALID_ARGUMENT'],
        ['h on a resizable ArrayBuffer', (x) => x.gatedResidual('g', () => feature(1, 'g', n), onResizable(h()), gate(), shape), 'ERR_INVALID_ARGUMENT'],
        ['gate on a resizable ArrayBuffer', (x) => x.gatedResidual('g', () => feature(1, 'g', n), h(), onResizable(gate()), shape), 'ERR_INVALID_ARGUMENT'],
        // options are read once: a getter cannot pass the check with one value and be used with another
        ['a context getter answering a symbol, then a string', (x) => x.module('a', f(1), answers('context', Symbol('c'), 'y', Symbol('c'))), 'ERR_INVALID_ARGUMENT'],
      ],
    });
  });

  it('bad calls on a forecast step', async () => {
    await lockstep({
      '5:before': [
        ['a key never computed', (x) => x.module('never', f(5)), 'ERR_NO_FACTORS'],
        ['a key never computed (async)', (x) => x.moduleAsync('never', async () => feature(5, 'a')), 'ERR_NO_FACTORS'],
        ['a key computed only in another context', (x) => x.module('g', f(5), { context: 'uncond' }), 'ERR_NO_FACTORS'],
        ['another gated shape', (x) => x.gatedResidual('g', f(5), h(), new Float32Array(2), { batch: 1, tokens: 3, dim: 2 }), 'ERR_SHAPE'],
        ['h of another length', (x) => x.gatedResidual('g', f(5), new Float32Array(N), new Float32Array(N), { batch: 1, tokens: 1, dim: N }), 'ERR_SHAPE'],
      ],
    });
  });

  it('an exception thrown by compute propagates and changes nothing', async () => {
    const seer = new TaylorSeer({ schedule: fixed50, maxOrder: 1 });
    seer.beginStep(0);
    expect(() => seer.module('a', () => { throw new Error('boom'); })).toThrow('boom');
    await expect(seer.moduleAsync('a', async () => { throw new Error('async boom'); })).rejects.toThrow('async boom');
    expect(seer.stats).toMatchObject({ computes: 0, entries: 0 });
    expect(Array.from(seer.module('a', () => feature(0, 'a')))).toEqual(Array.from(feature(0, 'a'))); // the key is still free
  });

  it("'newton' and 'time' need a finite, strictly monotonic t", async () => {
    await lockstep(
      {
        '0:beforeBegin': [['a missing t', (x) => x.beginStep(0), 'ERR_STEP']],
        '1:beforeBegin': [
          ['a missing t', (x) => x.beginStep(1), 'ERR_STEP'],
          ['a repeated t', (x) => x.beginStep(1, shiftedGrid(steps)[0]), 'ERR_STEP'],
          ['an infinite t', (x) => x.beginStep(1, Infinity), 'ERR_NON_FINITE'],
        ],
        '3:beforeBegin': [['t turning back', (x) => x.beginStep(3, 2), 'ERR_STEP']],
      },
      'newton',
    );
  });

  it('beginStep() and reset() while an async call is in flight are ERR_BUSY', async () => {
    const seer = new TaylorSeer({ schedule: fixed50, maxOrder: 1 });
    seer.beginStep(0);
    let release!: () => void;
    const pending = seer.moduleAsync('a', () => new Promise<Float32Array>((r) => (release = () => r(feature(0, 'a')))));
    expect(await codeOf(() => seer.beginStep(1))).toBe('ERR_BUSY');
    expect(await codeOf(() => seer.reset())).toBe('ERR_BUSY');
    expect(await codeOf(() => seer.module('a', f(0)))).toBe('ERR_STEP');
    release();
    await pending;
    seer.beginStep(1);
    expect(seer.stats).toMatchObject({ fullSteps: 2, computes: 1 });
  });

  it.each([
    ['no options', undefined, 'ERR_INVALID_ARGUMENT'],
    ['a missing maxOrder', { schedule: fixed50 }, 'ERR_INVALID_ARGUMENT'],
    ['maxOrder 5', { schedule: fixed50, maxOrder: 5 }, 'ERR_ORDER'],
    ['maxOrder -1', { schedule: fixed50, maxOrder: -1 }, 'ERR_ORDER'],
    ['an unknown variable', { schedule: fixed50, maxOrder: 1, variable: 'sigma' }, 'ERR_INVALID_ARGUMENT'],
    ['an unknown storage dtype', { schedule: fixed50, maxOrder: 1, storage: 'f64' }, 'ERR_DTYPE'],
    ['an unknown activation dtype', { schedule: fixed50, maxOrder: 1, activation: 'int8' }, 'ERR_DTYPE'],
    ['an unknown device', { schedule: fixed50, maxOrder: 1, device: 'gpu' }, 'ERR_INVALID_ARGUMENT'],
    ['an unknown shape policy', { schedule: fixed50, maxOrder: 1, onShapeChange: 'ignore' }, 'ERR_INVALID_ARGUMENT'],
    ['an unknown option', { schedule: fixed50, maxOrder: 1, order: 2 }, 'ERR_INVALID_ARGUMENT'],
    // each option read once: a getter answering a boolean to the check and a string afterwards is refused
    ['a checkFinite getter answering a string on its second read', (() => { let k = 0; return { schedule: fixed50, maxOrder: 1, get checkFinite() { return k++ === 0 ? 'yes' : true; } }; })(), 'ERR_INVALID_ARGUMENT'],
    ['a bad schedule', { schedule: { kind: 'fixed', steps: 50, interval: 0, warmup: 3 }, maxOrder: 1 }, 'ERR_INVALID_ARGUMENT'],
  ])('the constructor rejects %s', async (_, options, code) => {
    expect(await codeOf(() => new TaylorSeer(options as never))).toBe(code);
  });

  it('a schedule whose step 0 is a forecast step is refused at beginStep(0)', async () => {
    const bad: Schedule = { kind: 'x', steps: 3, warmup: 0, isFull: () => false, fullSteps: () => [], describe: () => 'x' };
    const seer = new TaylorSeer({ schedule: bad, maxOrder: 1 });
    expect(await codeOf(() => seer.beginStep(0))).toBe('ERR_STEP');
    expect(seer.step).toBeUndefined();
  });

  it('dispose() frees everything; every later use is ERR_DISPOSED; dispose() again is a no-op', async () => {
    const seer = new TaylorSeer({ schedule: fixed50, maxOrder: 1 });
    run(seer, ['a']);
    seer.dispose();
    seer.dispose();
    for (const [what, use] of [
      ['beginStep', () => seer.beginStep(0)],
      ['isFull', () => seer.isFull],
      ['step', () => seer.step],
      ['module', () => seer.module('a', f(0))],
      ['moduleAsync', () => seer.moduleAsync('a', async () => feature(0, 'a'))],
      ['gatedResidual', () => seer.gatedResidual('a', f(0), h(), gate(), shape)],
      ['stats', () => seer.stats],
      ['inspect', () => seer.inspect()],
      ['reset', () => seer.reset()],
    ] as const) {
      expect(await codeOf(use), what).toBe('ERR_DISPOSED');
    }
  });

  it('dispose() during an async compute: the call ends with ERR_DISPOSED', async () => {
    const seer = new TaylorSeer({ schedule: fixed50, maxOrder: 1 });
    seer.beginStep(0);
    const pending = seer.moduleAsync('a', async () => feature(0, 'a'));
    seer.dispose();
    expect(await codeOf(() => pending)).toBe('ERR_DISPOSED');
  });

  it("device 'cuda' without a usable GPU is ERR_DEVICE", async (ctx) => {
    const info = typeof native().cudaInfo === 'function' ? native().cudaInfo() : undefined;
    if (!info || info.usable) ctx.skip();
    expect(await codeOf(() => new TaylorSeer({ schedule: fixed50, maxOrder: 1, device: 'cuda' }))).toBe('ERR_DEVICE');
    expect(new TaylorSeer({ schedule: fixed50, maxOrder: 1, device: 'auto' }).device).toBe('cpu');
  });
});

describe('gatedResiduals: several gated residuals into one h', () => {
  const shape = { batch: 2, tokens: 3, dim: 4 };
  const n = 24;
  const out = (step: number, k: number) => Float32Array.from({ length: n }, (_, j) => Math.sin(0.1 * step * (j + 1) + k) + 0.01 * step * step);
  const gateOf = (step: number, k: number) => Float32Array.from({ length: 8 }, (_, j) => 0.5 + 0.1 * Math.cos(step + j + k));

  it('gives exactly the bytes of gatedResidual() called for each item in turn, on full and forecast steps', async () => {
    const opts = { schedule: { kind: 'fixed', steps: 20, interval: 4, warmup: 2 }, maxOrder: 2 } as const;
    const a = new TaylorSeer(opts);
    const b = new TaylorSeer(opts);
    const ha = new Float32Array(n).fill(1);
    const hb = new Float32Array(n).fill(1);
    for (let s = 0; s < 20; s++) {
      a.beginStep(s);
      b.beginStep(s);
      const keys = ['b0.attn', 'b0.mlp', 'b1.attn'];
      await a.gatedResiduals(keys.map((key, k) => ({ key, compute: () => out(s, k), gate: gateOf(s, k) })), ha, shape);
      for (const [k, key] of keys.entries()) await b.gatedResidual(key, () => out(s, k), hb, gateOf(s, k), shape);
      expect(ha).toEqual(hb);
    }
    expect(a.stats).toEqual(b.stats);
    expect(a.stats.computesSkipped).toBeGreaterThan(0);
  });

  it('rejects a key named twice or a gate of the wrong shape on a forecast step, leaving h and the stats unchanged', async () => {
    const seer = new TaylorSeer({ schedule: { kind: 'fixed', steps: 4, interval: 2, warmup: 1 }, maxOrder: 1 });
    const h = new Float32Array(n).fill(2);
    seer.beginStep(0);
    await seer.gatedResiduals([{ key: 'x', compute: () => out(0, 0), gate: gateOf(0, 0) }, { key: 'y', compute: () => out(0, 1), gate: gateOf(0, 1) }], h, shape);
    seer.beginStep(1);
    expect(seer.isFull).toBe(false);
    const before = Float32Array.from(h);
    const stats = seer.stats;
    await expect(seer.gatedResiduals([{ key: 'x', compute: () => out(1, 0), gate: gateOf(1, 0) }, { key: 'x', compute: () => out(1, 0), gate: gateOf(1, 0) }], h, shape)).rejects.toMatchObject({ code: 'ERR_STEP' });
    await expect(seer.gatedResiduals([{ key: 'x', compute: () => out(1, 0), gate: gateOf(1, 0) }, { key: 'y', compute: () => out(1, 1), gate: new Float32Array(3) }], h, shape)).rejects.toMatchObject({ code: 'ERR_SHAPE' });
    await expect(seer.gatedResiduals([{ key: 'x', compute: () => out(1, 0), gate: gateOf(1, 0) }, { key: 'z', compute: () => out(1, 1), gate: gateOf(1, 1) }], h, shape)).rejects.toMatchObject({ code: 'ERR_NO_FACTORS' });
    expect(h).toEqual(before);
    expect(seer.stats).toEqual(stats);
    // the keys are still free in this step
    await seer.gatedResiduals([{ key: 'x', compute: () => out(1, 0), gate: gateOf(1, 0) }, { key: 'y', compute: () => out(1, 1), gate: gateOf(1, 1) }], h, shape);
    expect(seer.stats.computesSkipped).toBe(2);
  });

  it("reads each item's key once: a getter answering another key on a second read cannot forecast one key twice", async () => {
    const seer = new TaylorSeer({ schedule: { kind: 'fixed', steps: 4, interval: 2, warmup: 1 }, maxOrder: 1 });
    const h = new Float32Array(n).fill(2);
    seer.beginStep(0);
    await seer.gatedResiduals([{ key: 'x', compute: () => out(0, 0), gate: gateOf(0, 0) }], h, shape);
    seer.beginStep(1);
    const before = Float32Array.from(h);
    let reads = 0;
    const shifty = { get key() { return reads++ === 0 ? 'elsewhere' : 'x'; }, compute: () => out(1, 0), gate: gateOf(1, 0) };
    await expect(seer.gatedResiduals([shifty, { key: 'x', compute: () => out(1, 0), gate: gateOf(1, 0) }], h, shape)).rejects.toMatchObject({ code: 'ERR_NO_FACTORS' });
    expect(h).toEqual(before);
    expect(seer.stats.computesSkipped).toBe(0);
  });

  it('checks every item before any compute runs on a full step too', async () => {
    const seer = new TaylorSeer({ schedule: { kind: 'fixed', steps: 4, interval: 2, warmup: 1 }, maxOrder: 1 });
    const h = new Float32Array(n).fill(2);
    seer.beginStep(0);
    let computes = 0;
    const item = (key: string, gate: Float32Array) => ({ key, compute: () => (computes++, out(0, 0)), gate });
    await expect(seer.gatedResiduals([item('x', gateOf(0, 0)), item('y', new Float32Array(3))], h, shape)).rejects.toMatchObject({ code: 'ERR_SHAPE' });
    await expect(seer.gatedResiduals([item('x', gateOf(0, 0)), item('x', gateOf(0, 0))], h, shape)).rejects.toMatchObject({ code: 'ERR_STEP' });
    expect(computes).toBe(0);
    expect(h).toEqual(new Float32Array(n).fill(2));
    expect(seer.inspect()).toEqual([]);
  });
});
