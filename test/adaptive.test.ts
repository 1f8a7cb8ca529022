/**
 * The adaptive schedule and what feeds it: norms from the update kernel, decisions from the error estimate,
 * an exact budget, and the hook's checkFinite option.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TaylorSeer } from '../lib/taylor-seer';
import { AdaptiveSchedule, createSchedule, type Schedule, type StepObservation } from '../lib/schedule';
import { codeOf } from './helpers/code-of';

/** Drives a schedule as the hook does; norms(step) gives the norms reported after each full step. */
function drive(s: Schedule, norms: (step: number) => number[] | undefined, variable: 'step' | 'time' | 'newton' = 'step', times?: number[]): number[] {
  const full: number[] = [];
  let prev: StepObservation | undefined;
  for (let step = 0; step < s.steps; step++) {
    if (prev) s.observe?.(prev);
    if (step === 0) s.reset?.();
    const f = s.isFull(step);
    if (f) full.push(step);
    const n = f ? norms(step) : undefined;
    prev = { step, t: times?.[step], full: f, entries: 1, variable, ...(n ? { norms: n } : {}) };
  }
  return full;
}

const gaps = (full: number[]) => full.slice(1).map((s, i) => s - full[i]);
const uniform = (steps: number) => Array.from({ length: steps + 1 }, (_, i) => 1 - i / steps);

describe('adaptive schedule: budget', () => {
  it('spends exactly the budget, whatever the norms say, within the interval bounds where they can hold', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 10, max: 80 }).chain((steps) =>
          fc.record({
            steps: fc.constant(steps),
            warmup: fc.integer({ min: 1, max: 4 }),
            cooldown: fc.integer({ min: 0, max: 2 }),
            budgetFrac: fc.double({ min: 0, max: 1, noNaN: true }),
            maxInterval: fc.integer({ min: 2, max: 12 }),
            seed: fc.integer({ min: 1, max: 1e6 }),
            scale: fc.double({ min: 1e-6, max: 10, noNaN: true }),
          }),
        ),
        (o) => {
          const lo = o.warmup + o.cooldown;
          const budget = Math.max(lo, Math.min(o.steps, Math.round(lo + o.budgetFrac * (o.steps - lo))));
          const s = new AdaptiveSchedule({ steps: o.steps, warmup: o.warmup, cooldown: o.cooldown, budget, maxInterval: o.maxInterval });
          let x = o.seed;
          const rnd = () => ((x = (x * 16807) % 2147483647) / 2147483647);
          const full = drive(s, () => [1, o.scale * rnd(), o.scale * rnd() * rnd()]);
          expect(full.length).toBe(budget);
          // The warm-up and the cool-down are full.
          for (let i = 0; i < o.warmup; i++) expect(full).toContain(i);
          for (let i = o.steps - o.cooldown; i < o.steps; i++) expect(full).toContain(i);
          // Gaps stay within maxInterval whenever the budget allows it.
          const feasible = lo + Math.ceil((o.steps - o.cooldown - (o.warmup - 1)) / o.maxInterval) - 1 <= budget;
          if (feasible) for (const g of gaps(full)) expect(g).toBeLessThanOrEqual(o.maxInterval);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('forecasts longer where the features change slowly and computes more often where they change fast', () => {
    // Relative rate ||d_2|| / ||d_0|| high early and late, low in the middle (as in a real sampler).
    const rate = (step: number) => (step < 10 || step > 40 ? 0.05 : 0.002);
    const s = createSchedule({ kind: 'adaptive', steps: 50, warmup: 3, budget: 14 });
    const full = drive(s, (step) => [1, 0.1, rate(step)]);
    expect(full).toHaveLength(14);
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    const mid = gaps(full.filter((f) => f >= 10 && f <= 40));
    const end = gaps(full.filter((f) => f >= 40));
    expect(mean(mid)).toBeGreaterThan(2 * mean(end));
  });

  it('weighs estimates by the sampler step size when it has the time grid', () => {
    // shift 3: the Euler steps grow about 8x from start to end, so with a tolerance and steady norms the
    // gaps shrink towards the end; without weighting they stay even.
    const times = Array.from({ length: 51 }, (_, i) => { const u = 1 - i / 50; return (3 * u) / (1 + 2 * u); });
    const tol = { kind: 'adaptive', steps: 50, warmup: 3, tolerance: 0.05, maxInterval: 50, times } as const;
    const weighted = gaps(drive(createSchedule(tol), () => [1, 0.1, 0.01]));
    const even = gaps(drive(createSchedule({ ...tol, weighting: 'none' }), () => [1, 0.1, 0.01]));
    expect(weighted[2]).toBeGreaterThan(weighted[weighted.length - 2]);
    expect(new Set(even.slice(2, -1)).size).toBe(1);
  });

  it('spreads the budget evenly when no norms are reported (order 0, or a hook without them)', () => {
    const full = drive(createSchedule({ kind: 'adaptive', steps: 50, warmup: 3, budget: 12 }), () => undefined);
    expect(full).toHaveLength(12);
    const g = gaps(full.slice(2));
    expect(Math.max(...g) - Math.min(...g)).toBeLessThanOrEqual(2);
  });

  it('decides the same again after reset() (a new run starts from scratch)', () => {
    const s = createSchedule({ kind: 'adaptive', steps: 40, warmup: 2, budget: 9 });
    const norms = (step: number) => [1, 0.2, 0.01 * (1 + (step % 7))];
    expect(drive(s, norms)).toEqual(drive(s, norms));
  });
});

describe('adaptive schedule: tolerance', () => {
  it('uses more full steps for a tighter tolerance', () => {
    const norms = (step: number) => [1, 0.1, 0.004 * (1 + step / 10)];
    const counts = [1e-1, 3e-2, 1e-2, 3e-3, 1e-3].map((tolerance) => drive(createSchedule({ kind: 'adaptive', steps: 50, warmup: 3, tolerance }), norms).length);
    for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeGreaterThanOrEqual(counts[i - 1]);
    expect(counts[counts.length - 1]).toBeGreaterThan(counts[0]);
  });

  it('forecasts while the estimate |u|^K / K! * ||d_K|| / ||d_0|| stays within the tolerance', () => {
    // K = 2, ratio 0.01: estimate(u) = 0.005 u^2 <= 0.1 holds up to u = 4, so gaps of 5 steps.
    const full = drive(createSchedule({ kind: 'adaptive', steps: 30, warmup: 1, tolerance: 0.1, maxInterval: 20 }), () => [1, 0.5, 0.01]);
    expect(gaps(full).slice(0, 4)).toEqual([5, 5, 5, 5]);
  });

  it("with 'newton' uses the forecast's own K-th coefficient u (u + D), D the distance back to the node before", () => {
    // ratio 9 in t units on a 30-step grid (h = 1/30) is 0.01 per step^2. Steps 0 and 1 are the warm-up; from
    // node 1 (D = 1) 0.01 u (u + 1) <= 0.11 holds up to u = 2 (gap 3), from then on D = 3 and 0.01 u (u + 3)
    // holds up to u = 2 as well. The Taylor form 0.005 u^2 would allow u = 4 (gaps of 5, as above).
    const times = uniform(30);
    const full = drive(createSchedule({ kind: 'adaptive', steps: 30, warmup: 2, tolerance: 0.11, maxInterval: 20, times }), () => [1, 0.5, 9], 'newton', times);
    expect(gaps(full).slice(0, 5)).toEqual([1, 3, 3, 3, 3]);
    const taylor = drive(createSchedule({ kind: 'adaptive', steps: 30, warmup: 2, tolerance: 0.11, maxInterval: 20, times }), () => [1, 0.5, 9], 'time', times);
    expect(gaps(taylor).slice(0, 4)).toEqual([1, 5, 5, 5]);
  });
});

describe('adaptive schedule: options', () => {
  const ok = { kind: 'adaptive', steps: 50, warmup: 3 } as const;
  it.each([
    ['neither tolerance nor budget', { ...ok }],
    ['both tolerance and budget', { ...ok, tolerance: 0.1, budget: 10 }],
    ['a budget below warm-up + cool-down', { ...ok, budget: 3, cooldown: 2 }],
    ['a non-positive tolerance', { ...ok, tolerance: 0 }],
    ['times of the wrong length', { ...ok, budget: 10, times: [1, 0.5, 0] }],
    ['times that are not monotonic', { ...ok, budget: 10, times: uniform(50).map((t, i) => (i === 10 ? 2 : t)) }],
    ['weighting sampler without times', { ...ok, budget: 10, weighting: 'sampler' }],
    ['maxInterval below minInterval', { ...ok, budget: 10, minInterval: 5, maxInterval: 3 }],
    ['an unknown option', { ...ok, budget: 10, interval: 5 }],
  ])('rejects %s with a typed error', (_, options) => {
    expect(codeOf(() => createSchedule(options as never))).toBe('ERR_INVALID_ARGUMENT');
  });

  it('needs the time grid for the time variable', () => {
    const s = createSchedule({ kind: 'adaptive', steps: 20, warmup: 2, budget: 6 });
    expect(codeOf(() => drive(s, () => [1, 0.1], 'time'))).toBe('ERR_INVALID_ARGUMENT');
  });
});

describe('the hook feeds the schedule', () => {
  it('reports, after each full step, the L2 norms of d_0..d_K over all entries, from the update kernel', () => {
    const seen: StepObservation[] = [];
    const schedule: Schedule = {
      kind: 'spy', steps: 6, warmup: 0, needsNorms: true,
      isFull: (s) => s % 2 === 0, fullSteps: () => [0, 2, 4], describe: () => 'spy',
      observe: (o) => void seen.push(o),
    };
    const seer = new TaylorSeer({ schedule, maxOrder: 2 });
    const f = (step: number, k: number) => Float32Array.from({ length: 3000 }, (_, j) => Math.sin(j * 0.01 + k) + 0.1 * step * step * (k + 1));
    const history: Float32Array[][] = [[], []];
    for (let s = 0; s < 7; s++) {
      seer.beginStep(s % 6);
      if (!seer.isFull) continue;
      for (const k of [0, 1]) {
        seer.module(`m${k}`, () => f(s, k));
        history[k].push(f(s, k));
      }
    }
    const full = seen.filter((o) => o.full);
    expect(full.map((o) => o.norms?.length)).toEqual([1, 2, 3]);
    expect(seen.filter((o) => !o.full).every((o) => o.norms === undefined)).toBe(true);
    // step 4: d_0 = F_4, d_1 = (F_4 - F_2) / 2, d_2 = (d_1 - (F_2 - F_0) / 2) / 2, summed over both modules
    const sq = [0, 0, 0];
    for (const k of [0, 1]) {
      const [a, b, c] = history[k];
      for (let j = 0; j < a.length; j++) {
        const d1 = (c[j] - b[j]) / 2;
        const d2 = (d1 - (b[j] - a[j]) / 2) / 2;
        sq[0] += c[j] ** 2;
        sq[1] += d1 ** 2;
        sq[2] += d2 ** 2;
      }
    }
    full[2].norms!.forEach((v, i) => expect(Math.abs(v - Math.sqrt(sq[i])) / Math.sqrt(sq[i])).toBeLessThan(1e-4));
  });

  it('runs an adaptive schedule end to end and meets its budget', () => {
    const seer = new TaylorSeer({ schedule: { kind: 'adaptive', steps: 30, warmup: 2, budget: 8 }, maxOrder: 2 });
    let fulls = 0;
    for (let s = 0; s < 30; s++) {
      seer.beginStep(s);
      if (seer.isFull) fulls++;
      seer.module('m', () => Float32Array.from({ length: 64 }, (_, j) => Math.cos(0.1 * s + j)));
    }
    expect(fulls).toBe(8);
    expect(seer.stats.fullSteps).toBe(8);
  });
});

describe('checkFinite', () => {
  it('rejects an output holding NaN or Infinity before it enters the cache, and leaves the cache unchanged', () => {
    const seer = new TaylorSeer({ schedule: { kind: 'fixed', steps: 10, interval: 1, warmup: 1 }, maxOrder: 1, checkFinite: true });
    seer.beginStep(0);
    seer.module('m', () => Float32Array.from([1, 2, 3]));
    const before = seer.inspect();
    const statsBefore = seer.stats;
    seer.beginStep(1);
    for (const bad of [NaN, Infinity, -Infinity]) {
      expect(() => seer.module('m', () => Float32Array.from([1, bad, 3]))).toThrow(expect.objectContaining({ code: 'ERR_NON_FINITE', message: expect.stringContaining('element 1') }));
    }
    expect(seer.inspect()).toEqual(before);
    expect(seer.stats.computes).toBe(statsBefore.computes);
    // the same key still works in this step once the output is finite
    expect([...seer.module('m', () => Float32Array.from([1, 2, 4]))]).toEqual([1, 2, 4]);
  });

  it('is off by default (NaN is cached as computed) and must be a boolean', () => {
    const seer = new TaylorSeer({ schedule: { kind: 'fixed', steps: 3, interval: 1, warmup: 1 }, maxOrder: 0 });
    seer.beginStep(0);
    expect(() => seer.module('m', () => Float32Array.from([NaN]))).not.toThrow();
    expect(codeOf(() => new TaylorSeer({ schedule: { kind: 'fixed', steps: 3, interval: 1, warmup: 1 }, maxOrder: 0, checkFinite: 1 as never }))).toBe('ERR_INVALID_ARGUMENT');
  });
});
