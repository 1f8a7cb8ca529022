import { describe, expect, it, vi } from 'vitest';
import { FactorCache, type CacheOptions } from '../lib/cache';
import type { Node } from '../lib/expansion';
import { codeOf } from './helpers/code-of';

vi.mock('../lib/native', async (importOriginal) => {
  const mod = await importOriginal<typeof import('../lib/native')>();
  const { chooseAddon } = await import('./oracle/reference');
  const { addon } = chooseAddon(mod.native);
  return { ...mod, native: () => addon };
});

const at = (step: number, t = Number.NaN): Node => ({ step, t });

function cache(o: Partial<CacheOptions> = {}): FactorCache {
  return new FactorCache({ maxOrder: 2, variable: 'step', storage: 'f32', activation: 'f32', device: 'cpu', onShapeChange: 'error', ...o });
}

function forecast(c: FactorCache, key: string, step: number, n: number, context = ''): number[] {
  const out = new Float32Array(n);
  c.forecast(context, key, at(step), out);
  return Array.from(out);
}

describe('FactorCache', () => {
  it('preallocates maxOrder + 1 factors in the storage dtype at the first full step', () => {
    for (const [storage, bytes] of [['f32', 4], ['f16', 2], ['bf16', 2]] as const) {
      const c = cache({ storage });
      c.update('', 'a', new Float32Array(6), [6], at(0), 1);
      c.update('', 'b', new Float32Array(10), [10], at(0), 1);
      expect(c.entry('', 'a')!.bytes).toBe(3 * 6 * bytes);
      expect(c.bytesHeld).toBe(3 * 16 * bytes);
      expect(c.size).toBe(2);
    }
  });

  it('grows an entry by one factor per full step and keeps the nodes that produced them', () => {
    const c = cache();
    c.update('', 'a', Float32Array.of(1), [1], at(0), 1);
    c.update('', 'a', Float32Array.of(3), [1], at(2), 1);
    c.update('', 'a', Float32Array.of(9), [1], at(4), 1);
    c.update('', 'a', Float32Array.of(19), [1], at(6), 1);
    const e = c.entry('', 'a')!;
    expect(e.count).toBe(3);
    expect(e.history.map((n) => n.step)).toEqual([2, 4, 6]);
    // f(s) = 1 + s + s^2 / 2 ... sampled at 0,2,4,6: d0 = 19, d1 = (19-9)/2 = 5, d2 = (5 - 3)/2 = 1
    expect(forecast(c, 'a', 7, 1)).toEqual([19 + 5 + 0.5]);
  });

  it('keeps contexts apart: the same key in two contexts is two entries', () => {
    const c = cache();
    c.update('cond', 'a', Float32Array.of(1), [1], at(0), 1);
    c.update('uncond', 'a', Float32Array.of(2), [1], at(0), 1);
    expect(c.size).toBe(2);
    expect(forecast(c, 'a', 1, 1, 'cond')).toEqual([1]);
    expect(forecast(c, 'a', 1, 1, 'uncond')).toEqual([2]);
    expect(codeOf(() => forecast(c, 'a', 1, 1))).toBe('ERR_NO_FACTORS');
  });

  describe("onShapeChange: 'error' (default)", () => {
    it('rejects another shape with ERR_SHAPE and leaves the entry as it was', () => {
      const c = cache();
      c.update('', 'a', Float32Array.of(1, 2), [2], at(0), 1);
      c.update('', 'a', Float32Array.of(2, 4), [2], at(1), 1);
      const before = c.entry('', 'a');
      expect(codeOf(() => c.update('', 'a', Float32Array.of(1, 2, 3), [3], at(2), 1))).toBe('ERR_SHAPE');
      expect(() => c.update('', 'a', Float32Array.of(1, 2, 3), [3], at(2), 1)).toThrow(/produced shape \[3\] but holds factors for \[2\]/);
      expect(codeOf(() => c.update('', 'a', Float32Array.of(1, 2), [1, 2], at(2), 1))).toBe('ERR_SHAPE');
      expect(c.entry('', 'a')).toEqual(before);
      expect(forecast(c, 'a', 2, 2)).toEqual([3, 6]);
    });
  });

  describe("onShapeChange: 'reset'", () => {
    it('reallocates the entry for the new shape and restarts it at one factor', () => {
      const c = cache({ onShapeChange: 'reset' });
      c.update('', 'a', Float32Array.of(1, 2), [2], at(0), 1);
      c.update('', 'a', Float32Array.of(2, 4), [2], at(1), 1);
      c.update('', 'a', Float32Array.of(5, 6, 7), [3], at(2), 1);
      expect(c.entry('', 'a')).toMatchObject({ shape: [3], count: 1, history: [at(2)], bytes: 3 * 3 * 4 });
      expect(forecast(c, 'a', 3, 3)).toEqual([5, 6, 7]);
    });

    it('still refuses to forecast into another shape', () => {
      const c = cache({ onShapeChange: 'reset' });
      c.update('', 'a', Float32Array.of(1, 2), [2], at(0), 1);
      expect(codeOf(() => c.forecast('', 'a', at(1), new Float32Array(3)))).toBe('ERR_LENGTH');
      const h = new Float32Array(2);
      expect(codeOf(() => c.forecast('', 'a', at(1), undefined, { h, gate: new Float32Array(2), batch: 1, tokens: 1, dim: 2 }))).toBe('ERR_SHAPE');
    });
  });

  it('newRun() forgets all factors but keeps the memory, and then accepts any shape', () => {
    const c = cache();
    c.update('', 'a', Float32Array.of(1, 2), [2], at(0), 1);
    c.update('', 'a', Float32Array.of(2, 4), [2], at(1), 1);
    const bytes = c.bytesHeld;
    c.newRun();
    expect(c.entry('', 'a')).toMatchObject({ count: 0, history: [] });
    expect(c.bytesHeld).toBe(bytes);
    expect(codeOf(() => forecast(c, 'a', 1, 2))).toBe('ERR_NO_FACTORS');
    c.update('', 'a', Float32Array.of(7, 8, 9), [3], at(0), 1);
    expect(c.entry('', 'a')).toMatchObject({ shape: [3], count: 1 });
  });

  it('reset() drops every entry; dispose() makes any later use ERR_DISPOSED', () => {
    const c = cache();
    c.update('', 'a', Float32Array.of(1), [1], at(0), 1);
    c.reset();
    expect(c.size).toBe(0);
    expect(c.bytesHeld).toBe(0);
    c.update('', 'a', Float32Array.of(1), [1], at(0), 1);
    c.dispose();
    c.dispose();
    expect(c.isDisposed).toBe(true);
    for (const use of [() => c.size, () => c.bytesHeld, () => c.entry('', 'a'), () => c.newRun(), () => c.reset(), () => forecast(c, 'a', 1, 1), () => c.update('', 'a', Float32Array.of(1), [1], at(0), 1)]) {
      expect(codeOf(use)).toBe('ERR_DISPOSED');
    }
  });

  it('checks outputs before touching the entry', () => {
    const c = cache();
    c.update('', 'a', Float32Array.of(1, 2), [2], at(0), 1);
    const before = c.entry('', 'a');
    expect(codeOf(() => c.update('', 'a', Uint16Array.of(1, 2) as never, [2], at(1), 1))).toBe('ERR_DTYPE');
    expect(codeOf(() => c.update('', 'a', Float32Array.of(1, 2), [3], at(1), 1))).toBe('ERR_LENGTH');
    expect(codeOf(() => c.update('', 'b', new Float32Array(0), [0], at(1), 1))).toBe('ERR_LENGTH');
    expect(codeOf(() => c.update('', 'a', Float32Array.of(1, 2), [2], at(0), 1))).toBe('ERR_STEP'); // D = 0
    expect(c.entry('', 'a')).toEqual(before);
    expect(c.size).toBe(1);
  });

  it('stores 16-bit activations and factors', () => {
    const c = cache({ storage: 'bf16', activation: 'f16' });
    // 0x3c00 = 1.0 and 0x4000 = 2.0 in f16
    c.update('', 'a', Uint16Array.of(0x3c00), [1], at(0), 1);
    c.update('', 'a', Uint16Array.of(0x4000), [1], at(1), 1);
    const out = new Uint16Array(1);
    c.forecast('', 'a', at(2), out);
    expect(out[0]).toBe(0x4200); // 3.0
    expect(codeOf(() => c.forecast('', 'a', at(2), new Float32Array(1)))).toBe('ERR_LENGTH');
  });

  it('forecastAsync() gives the same result as forecast() on the host', async () => {
    const c = cache();
    c.update('', 'a', Float32Array.of(1, 5), [2], at(0), 1);
    c.update('', 'a', Float32Array.of(2, 3), [2], at(1), 1);
    const out = new Float32Array(2);
    await c.forecastAsync('', 'a', at(3), out);
    expect(Array.from(out)).toEqual(forecast(c, 'a', 3, 2));
    expect(Array.from(out)).toEqual([4, -1]);
  });
});
