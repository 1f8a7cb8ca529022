/**
 * Stored factors at the edges of their dtype: every storage dtype saturates at its largest finite value
 * (f16 65504, bf16 3.3895e38, f32 3.4028e38), d_0 before it is stored and each difference when its operands
 * were finite, and differences are taken from the saturated values. So a constant beyond the f16 range
 * forecasts as the stored constant, and finite outputs never give an infinite factor; checkFinite also
 * scans forecasts, whose weighted sum can still overflow.
 */
import { describe, expect, it } from 'vitest';
import { TaylorSeer, type TaylorSeerOptions } from '../lib/taylor-seer';
import { native } from '../lib/native';
import { typedCodeOf } from './helpers/code-of';

const schedule = { kind: 'fixed', steps: 10, interval: 3, warmup: 2 } as const;

/** Module outputs of a 10-step run of one module (value(s) at every element), or the code that stopped it. */
function run(opts: Partial<TaylorSeerOptions>, value: (s: number) => number): { outs: number[]; code?: string } {
  const seer = new TaylorSeer({ schedule, maxOrder: 2, ...opts });
  const outs: number[] = [];
  try {
    for (let s = 0; s < 10; s++) {
      seer.beginStep(s);
      outs.push(seer.module('m', () => new Float32Array(4).fill(value(s)))[0]);
    }
  } catch (e) {
    return { outs, code: (e as { code?: string }).code };
  } finally {
    seer.dispose();
  }
  return { outs };
}

const halfBits = (v: number, dtype: 'f16' | 'bf16') => {
  const o = new Uint16Array(1);
  native().toHalf(Float32Array.of(v), dtype, o);
  return o[0];
};

describe('storage saturation', () => {
  it('f16: a constant beyond 65504 forecasts as the stored 65504 (d_1 is taken from the saturated d_0)', () => {
    const { outs } = run({ storage: 'f16' }, () => 70000);
    const forecasts = outs.filter((_, s) => ![0, 1, 4, 7].includes(s));
    expect(forecasts).toEqual(forecasts.map(() => 65504));
  });

  it('bf16: finite values that would round beyond the largest bf16 are stored as it, never as infinity', () => {
    for (const v of [3.3962e38, 3.4e38, 3.4028234e38]) expect(halfBits(v, 'bf16')).toBe(0x7f7f);
    expect(halfBits(-3.4e38, 'bf16')).toBe(0xff7f);
    expect(halfBits(Infinity, 'bf16')).toBe(0x7f80);
    expect(halfBits(3.38e38, 'bf16')).toBe(0x7f7e);
    const { outs } = run({ storage: 'bf16', checkFinite: true }, () => 3.4e38);
    expect(outs.every(Number.isFinite)).toBe(true);
  });

  it('f32 and bf16: differences of finite outputs that overflow saturate, so the factors stay finite', () => {
    for (const storage of ['f32', 'bf16'] as const) {
      const factors = storage === 'f32' ? new Float32Array(3 * 4) : new Uint16Array(3 * 4);
      const fresh = (v: number) => new Float32Array(4).fill(v);
      native().update(storage, 'f32', [{ factors, fresh: fresh(-3e38), oldCount: 0, newCount: 1 }]);
      native().update(storage, 'f32', [{ factors, fresh: fresh(3e38), oldCount: 1, newCount: 2, divisors: [1] }]);
      native().update(storage, 'f32', [{ factors, fresh: fresh(-3e38), oldCount: 2, newCount: 3, divisors: [1, 1] }]);
      expect(native().findNonFinite(storage, factors)).toBe(-1);
    }
  });

  it('checkFinite: a forecast whose sum overflows is ERR_NON_FINITE naming the module and step', () => {
    const { outs, code } = run({ storage: 'f32', checkFinite: true }, (s) => (s % 2 ? 3e38 : -3e38));
    expect(code).toBe('ERR_NON_FINITE');
    expect(outs.length).toBe(2); // the first forecast step (2) stopped the run
    expect(run({ storage: 'f32' }, (s) => (s % 2 ? 3e38 : -3e38)).outs.length).toBe(10); // off: no check
  });

  it('checkFinite: a gated forecast that makes h non-finite is ERR_NON_FINITE', async () => {
    const seer = new TaylorSeer({ schedule, maxOrder: 2, checkFinite: true });
    const shape = { batch: 1, tokens: 1, dim: 4 };
    const gate = new Float32Array(4).fill(1);
    for (let s = 0; s < 2; s++) {
      seer.beginStep(s);
      await seer.gatedResidual('g', () => new Float32Array(4).fill(s % 2 ? 3e38 : -3e38), new Float32Array(4), gate, shape);
    }
    seer.beginStep(2);
    expect(await typedCodeOf(() => seer.gatedResidual('g', () => new Float32Array(4), new Float32Array(4), gate, shape))).toBe('ERR_NON_FINITE');
  });
});
