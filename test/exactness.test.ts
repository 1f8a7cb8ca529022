/**
 * What the forecast gets exactly right, through the public hook:
 *  - 'newton' reproduces any polynomial of degree <= K in t on a non-uniform grid once the entry holds
 *    K+1 factors (interpolation is exact), whatever the spacing of the full steps;
 *  - 'step' (the reference) and 'time' reproduce linear features exactly; for higher degrees the
 *    reference's Taylor form with backward differences is biased, and we reproduce its bias, not fix it.
 */
import { describe, expect, it, vi } from 'vitest';
import { TaylorSeer } from '../lib/taylor-seer';
import { relErr } from './oracle/reference';

vi.mock('../lib/native', async (importOriginal) => {
  const mod = await importOriginal<typeof import('../lib/native')>();
  const { chooseAddon } = await import('./oracle/reference');
  return { ...mod, native: () => chooseAddon(mod.native).addon };
});

const steps = 50;
const schedule = { kind: 'fixed', steps, interval: 6, warmup: 3 } as const;
/** shifted flow-matching times t' = 3t / (1 + 2t), t = 1 .. 1/50: spacing shrinks ~3x toward the end */
const tGrid = Array.from({ length: steps }, (_, i) => {
  const t = 1 - i / steps;
  return (3 * t) / (1 + 2 * t);
});

/** n polynomials of degree `degree` with fixed pseudo-random coefficients in [-1, 1]. */
function polynomials(degree: number, n = 8): (x: number) => Float32Array {
  const coef = Array.from({ length: n }, (_, j) => Array.from({ length: degree + 1 }, (_, k) => Math.sin(7.3 * j + 3.1 * k + degree)));
  return (x) => Float32Array.from(coef, (c) => c.reduce((acc, a) => acc * x + a, 0));
}

interface Checked {
  step: number;
  count: number;
  err: number;
}

/** Runs the hook over the grid, returning for each forecast step the factor count and the error vs the truth. */
function forecastErrors(seer: TaylorSeer, f: (step: number) => Float32Array): Checked[] {
  const out: Checked[] = [];
  for (let s = 0; s < steps; s++) {
    seer.beginStep(s, seer.variable === 'step' ? undefined : tGrid[s]);
    const count = seer.inspect()[0]?.count ?? 0;
    const y = seer.module('m', () => f(s));
    if (!seer.isFull) out.push({ step: s, count, err: relErr(y, f(s)) });
  }
  return out;
}

describe("'newton' on a non-uniform t grid", () => {
  for (let maxOrder = 0; maxOrder <= 4; maxOrder++) {
    for (let degree = 0; degree <= maxOrder; degree++) {
      it(`order ${maxOrder} forecasts a degree-${degree} polynomial in t exactly once it holds ${degree + 1} factors`, () => {
        const p = polynomials(degree);
        const seer = new TaylorSeer({ schedule, maxOrder, variable: 'newton' });
        const checked = forecastErrors(seer, (s) => p(tGrid[s])).filter((c) => c.count > degree);
        expect(checked.length).toBeGreaterThan(20);
        for (const c of checked) expect(c.err, `step ${c.step}`).toBeLessThan(2e-5);
      });
    }
  }

  it('and not before: a quadratic needs three factors', () => {
    const p = polynomials(2);
    const seer = new TaylorSeer({ schedule, maxOrder: 2, variable: 'newton' });
    const early = forecastErrors(seer, (s) => p(tGrid[s])).filter((c) => c.count === 2);
    expect(Math.max(...early.map((c) => c.err))).toBeGreaterThan(1e-3);
  });
});

describe("'step' (the reference) and 'time'", () => {
  it.each([0, 1, 2, 3, 4])("'step' order %i forecasts a feature linear in the step index exactly", (maxOrder) => {
    const p = polynomials(maxOrder === 0 ? 0 : 1);
    const seer = new TaylorSeer({ schedule, maxOrder });
    for (const c of forecastErrors(seer, (s) => p(s / steps))) expect(c.err, `step ${c.step}`).toBeLessThan(2e-6);
  });

  it.each([1, 2, 3])("'time' order %i forecasts a feature linear in t exactly on a non-uniform grid", (maxOrder) => {
    const p = polynomials(1);
    const seer = new TaylorSeer({ schedule, maxOrder, variable: 'time' });
    for (const c of forecastErrors(seer, (s) => p(tGrid[s]))) expect(c.err, `step ${c.step}`).toBeLessThan(1e-5);
  });

  it("'step' order 2 carries the reference's bias on a quadratic: F_hat = f(s) - a x D", () => {
    // Once full steps are D = 6 apart (from step 14), d1 is the slope at the midpoint of the last interval,
    // so the forecast of a s^2 at s = s_last + x is a (s^2 - x D).
    const a = 1e-3;
    const seer = new TaylorSeer({ schedule, maxOrder: 2 });
    for (let s = 0; s < steps; s++) {
      seer.beginStep(s);
      const y = seer.module('m', () => Float32Array.of(a * s * s));
      const last = seer.inspect()[0].history.at(-1)!.step;
      if (!seer.isFull && last >= 14) expect(y[0]).toBeCloseTo(a * (s * s - (s - last) * 6), 5);
    }
  });
});
