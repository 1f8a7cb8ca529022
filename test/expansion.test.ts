import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { forecastCoeffs, updatePlan, type Node, type Variable } from '../lib/expansion';
import { lagrange } from './oracle/reference';
import { codeOf } from './helpers/code-of';

const at = (step: number, t = Number.NaN): Node => ({ step, t });

/** The kernels' semantics in f64: chained differences, then a weighted sum. */
function applyUpdate(old: number[], fresh: number, plan: { newCount: number; divisors: number[] }): number[] {
  const next = [fresh];
  for (let i = 0; i + 1 < plan.newCount; i++) next.push((next[i] - old[i]) / plan.divisors[i]);
  return next;
}

describe("variable 'step' (the reference)", () => {
  it('divides every order by the latest step distance D', () => {
    const history = [at(2), at(8)];
    expect(updatePlan('step', history, 2, at(14), 4, 3)).toEqual({ newCount: 3, divisors: [6, 6] });
  });

  it('grows the order by one per full step, up to maxOrder + 1 factors', () => {
    expect(updatePlan('step', [], 0, at(5), 2, 1).newCount).toBe(1);
    expect(updatePlan('step', [at(5)], 1, at(8), 2, 1)).toEqual({ newCount: 2, divisors: [3] });
    expect(updatePlan('step', [at(5), at(8), at(11)], 3, at(14), 2, 1)).toEqual({ newCount: 3, divisors: [3, 3] });
    expect(updatePlan('step', [at(5)], 1, at(8), 0, 1)).toEqual({ newCount: 1, divisors: [] });
  });

  it('restarts at one factor on full steps s <= W - 2 (the warm-up)', () => {
    // W = 3: steps 0 and 1 restart, step 2 is the first to difference.
    expect(updatePlan('step', [at(0)], 1, at(1), 2, 3)).toEqual({ newCount: 1, divisors: [] });
    expect(updatePlan('step', [at(1)], 1, at(2), 2, 3)).toEqual({ newCount: 2, divisors: [1] });
  });

  it('forecasts with x^i / i!, x = steps since the entry was last computed', () => {
    expect(forecastCoeffs('step', [at(2), at(8)], 2, at(11))).toEqual([1, 3]);
    expect(forecastCoeffs('step', [at(2), at(8), at(14)], 3, at(17))).toEqual([1, 3, 4.5]);
    expect(forecastCoeffs('step', [at(0), at(1), at(2), at(3), at(4)], 5, at(6))).toEqual([1, 2, 2, 8 / 6, 16 / 24]);
    expect(forecastCoeffs('step', [at(8)], 1, at(9))).toEqual([1]);
  });
});

describe("variable 'time'", () => {
  it('measures D and x in t, so decreasing t keeps consistent signs', () => {
    const history = [at(0, 1.0), at(1, 0.9)];
    const plan = updatePlan('time', history, 2, at(2, 0.7), 2, 1);
    expect(plan.newCount).toBe(3);
    expect(plan.divisors[0]).toBeCloseTo(-0.2, 15);
    expect(plan.divisors[1]).toBeCloseTo(-0.2, 15);
    const c = forecastCoeffs('time', [at(1, 0.9), at(2, 0.7)], 2, at(3, 0.6));
    expect(c[1]).toBeCloseTo(-0.1, 15);
  });

  it('forecasts a linear function of t exactly on any grid', () => {
    const f = (t: number) => 3 - 5 * t;
    const ts = [1, 0.93, 0.7, 0.41];
    let fac: number[] = [];
    let hist: Node[] = [];
    ts.forEach((t, i) => {
      const plan = updatePlan('time', hist, fac.length, at(i, t), 1, 0);
      fac = applyUpdate(fac, f(t), plan);
      hist = [...hist, at(i, t)].slice(-plan.newCount);
    });
    const c = forecastCoeffs('time', hist, fac.length, at(9, 0.2));
    expect(c[0] * fac[0] + c[1] * fac[1]).toBeCloseTo(f(0.2), 12);
  });
});

describe("variable 'newton'", () => {
  it('divides d_{i+1} by the span of its nodes, t_n - t_{n-1-i}', () => {
    const history = [at(0, 1), at(1, 0.8), at(2, 0.5)];
    const plan = updatePlan('newton', history, 3, at(3, 0.4), 3, 0);
    expect(plan.newCount).toBe(4);
    expect(plan.divisors.map((d) => +d.toFixed(12))).toEqual([-0.1, -0.4, -0.6]);
  });

  it('forecasts in the product basis: coeff_i = prod_{j<i} (t - t_{n-j})', () => {
    const c = forecastCoeffs('newton', [at(0, 1), at(1, 0.8), at(2, 0.5)], 3, at(3, 0.4));
    expect(c.map((v) => +v.toFixed(12))).toEqual([1, -0.1, 0.04]);
  });

  it('restarts the divided-difference table at a warm-up step', () => {
    // W = 3: step 1 restarts; step 2 then differences only against step 1, never against step 0.
    expect(updatePlan('newton', [at(0, 1)], 1, at(1, 0.9), 2, 3)).toEqual({ newCount: 1, divisors: [] });
    const plan = updatePlan('newton', [at(1, 0.9)], 1, at(2, 0.7), 2, 3);
    expect(plan.newCount).toBe(2);
    expect(plan.divisors[0]).toBeCloseTo(-0.2, 15);
  });

  it('interpolates: the kernels driven by these plans equal the Lagrange polynomial through the newest nodes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4 }),
        fc.uniqueArray(fc.integer({ min: -200, max: 200 }), { minLength: 6, maxLength: 10 }).map((a) => a.map((v) => v / 100)),
        fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: 6, maxLength: 6 }),
        fc.double({ min: -2, max: 2, noNaN: true }),
        (maxOrder, ts, poly, x) => {
          const f = (t: number) => poly.reduce((acc, a) => acc * t + a, 0);
          let fac: number[] = [];
          let hist: Node[] = [];
          ts.forEach((t, i) => {
            const plan = updatePlan('newton', hist, fac.length, at(i, t), maxOrder, 0);
            fac = applyUpdate(fac, f(t), plan);
            hist = [...hist, at(i, t)].slice(-plan.newCount);
          });
          const c = forecastCoeffs('newton', hist, fac.length, at(ts.length, x));
          const got = c.reduce((acc, ci, i) => acc + ci * fac[i], 0);
          const want = lagrange(hist.map((n) => n.t), hist.map((n) => [f(n.t)]), x)[0];
          expect(Math.abs(got - want)).toBeLessThan(1e-6 * Math.max(1, Math.abs(want)));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('input checks', () => {
  it.each([
    ['an unknown variable', () => updatePlan('sigma' as Variable, [], 0, at(0), 2, 1), 'ERR_INVALID_ARGUMENT'],
    ['maxOrder above 4', () => updatePlan('step', [], 0, at(0), 5, 1), 'ERR_ORDER'],
    ['more factors than maxOrder allows', () => updatePlan('step', [at(0), at(1)], 2, at(2), 0, 1), 'ERR_ORDER'],
    ['a history shorter than the factor count', () => updatePlan('step', [], 1, at(2), 2, 1), 'ERR_INVALID_ARGUMENT'],
    ['a repeated step', () => updatePlan('step', [at(4)], 1, at(4), 2, 1), 'ERR_STEP'],
    ['a repeated t', () => updatePlan('newton', [at(3, 0.5)], 1, at(4, 0.5), 2, 1), 'ERR_STEP'],
    ['a missing t', () => updatePlan('time', [at(3)], 1, at(4), 2, 1), 'ERR_STEP'],
    ['a zero factor count', () => forecastCoeffs('step', [at(1)], 0, at(2)), 'ERR_ORDER'],
    ['a non-finite forecast t', () => forecastCoeffs('time', [at(1, 0.5)], 1, at(2)), 'ERR_NON_FINITE'],
  ])('rejects %s', (_, call, code) => {
    expect(codeOf(call)).toBe(code);
  });
});
