/**
 * modulesAsync(): several keys one computation produces together (a whole-graph model) go through the
 * cache in one update on full steps and one forecast call on forecast steps, with exactly the results of
 * one module() per key, and with the same all-or-nothing checks.
 */
import { describe, expect, it } from 'vitest';
import { TaylorSeer, type TaylorSeerOptions } from '../lib/taylor-seer';

const KEYS = ['b0.attn', 'b0.mlp', 'b1.attn'];

function outputs(step: number): Float32Array[] {
  return KEYS.map((_, k) => Float32Array.from({ length: 7 + k }, (_, j) => Math.sin(0.1 * step * (j + 1) + k) + 0.01 * step * step));
}

const options = (variable: 'step' | 'newton', schedule: 'fixed' | 'adaptive'): TaylorSeerOptions => ({
  schedule: schedule === 'fixed' ? { kind: 'fixed', steps: 20, interval: 4, warmup: 2 } : { kind: 'adaptive', steps: 20, warmup: 2, tolerance: 0.05, maxInterval: 5 },
  maxOrder: 2,
  variable,
});

describe('modulesAsync', () => {
  it.each([
    ['step', 'fixed'],
    ['newton', 'fixed'],
    ['step', 'adaptive'],
  ] as const)('equals one module() per key (%s, %s schedule)', async (variable, schedule) => {
    const batched = new TaylorSeer(options(variable, schedule));
    const single = new TaylorSeer(options(variable, schedule));
    const t = (s: number) => 1 - s / 20;
    let computed = 0;
    for (let s = 0; s < 20; s++) {
      batched.beginStep(s, t(s));
      single.beginStep(s, t(s));
      expect(batched.isFull).toBe(single.isFull);
      const got = await batched.modulesAsync(KEYS, async () => {
        computed++;
        return outputs(s);
      });
      const want = KEYS.map((key, k) => single.module(key, () => outputs(s)[k]));
      got.forEach((g, k) => expect(Array.from(g)).toEqual(Array.from(want[k])));
    }
    expect(computed).toBe(batched.stats.fullSteps);
    expect(batched.stats).toEqual(single.stats);
    batched.dispose();
    single.dispose();
  });

  it('refuses duplicate keys, a key used twice in a step, and a compute returning the wrong count, leaving the cache as it was', async () => {
    const seer = new TaylorSeer(options('step', 'fixed'));
    seer.beginStep(0);
    await expect(seer.modulesAsync(['a', 'a'], async () => outputs(0).slice(0, 2))).rejects.toMatchObject({ code: 'ERR_STEP' });
    await expect(seer.modulesAsync(KEYS, async () => outputs(0).slice(0, 2))).rejects.toMatchObject({ code: 'ERR_LENGTH' });
    expect(seer.inspect()).toEqual([]);
    await seer.modulesAsync(KEYS, async () => outputs(0));
    await expect(seer.modulesAsync([KEYS[0]], async () => outputs(0).slice(0, 1))).rejects.toMatchObject({ code: 'ERR_STEP' });
    await expect(seer.modulesAsync([], async () => [])).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    expect(seer.inspect().map((e) => [e.key, e.count])).toEqual(KEYS.map((k) => [k, 1]));
    seer.dispose();
  });

  it('on a forecast step never calls compute, and a key without factors fails before any output is written', async () => {
    const seer = new TaylorSeer({ schedule: { kind: 'fixed', steps: 4, interval: 2, warmup: 1 }, maxOrder: 1 });
    seer.beginStep(0);
    await seer.modulesAsync(KEYS, async () => outputs(0));
    seer.beginStep(1);
    expect(seer.isFull).toBe(false);
    await expect(seer.modulesAsync([...KEYS, 'new'], () => Promise.reject(new Error('not called')))).rejects.toMatchObject({ code: 'ERR_NO_FACTORS' });
    const f = await seer.modulesAsync(KEYS, () => Promise.reject(new Error('not called')));
    f.forEach((x, k) => expect(Array.from(x)).toEqual(Array.from(outputs(0)[k])));
    seer.dispose();
  });

  it('forecast steps write into the given outputs and return those arrays; full steps ignore them', async () => {
    const schedule = { kind: 'fixed', steps: 20, interval: 4, warmup: 2 } as const;
    const given = new TaylorSeer({ schedule, maxOrder: 2 });
    const fresh = new TaylorSeer({ schedule, maxOrder: 2 });
    const buffers = KEYS.map((_, k) => new Float32Array(7 + k).fill(Number.NaN));
    for (let s = 0; s < 20; s++) {
      given.beginStep(s);
      fresh.beginStep(s);
      const got = await given.modulesAsync(KEYS, async () => outputs(s), { outputs: buffers });
      const want = await fresh.modulesAsync(KEYS, async () => outputs(s));
      got.forEach((g, k) => {
        expect(g === buffers[k]).toBe(!given.isFull);
        expect(Array.from(g)).toEqual(Array.from(want[k]));
      });
    }
    given.dispose();
    fresh.dispose();
  });

  it('refuses outputs of the wrong count, dtype or length, or sharing memory, before anything is written', async () => {
    const seer = new TaylorSeer({ schedule: { kind: 'fixed', steps: 4, interval: 2, warmup: 1 }, maxOrder: 1 });
    seer.beginStep(0);
    await seer.modulesAsync(KEYS, async () => outputs(0));
    seer.beginStep(1);
    const never = () => Promise.reject(new Error('not called'));
    const sizes = KEYS.map((_, k) => 7 + k);
    const shared = new Float32Array(64);
    const cases: Array<[unknown, string]> = [
      [sizes.slice(1).map((n) => new Float32Array(n)), 'ERR_INVALID_ARGUMENT'],
      [sizes.map((n) => new Float64Array(n)), 'ERR_DTYPE'],
      [sizes.map((n) => new Float32Array(n + 1)), 'ERR_LENGTH'],
      [[shared.subarray(0, 7), shared.subarray(5, 13), shared.subarray(20, 29)], 'ERR_INVALID_ARGUMENT'],
    ];
    for (const [outs, code] of cases) {
      const before = (outs as Float32Array[]).map((o) => Array.from(o));
      await expect(seer.modulesAsync(KEYS, never, { outputs: outs as Float32Array[] })).rejects.toMatchObject({ code });
      (outs as Float32Array[]).forEach((o, k) => expect(Array.from(o)).toEqual(before[k]));
    }
    const ok = sizes.map((n) => new Float32Array(n));
    const f = await seer.modulesAsync(KEYS, never, { outputs: ok, context: '' });
    f.forEach((x, k) => expect(x).toBe(ok[k]));
    seer.dispose();
  });

  it('full steps record the entries with the given shapes, so gatedResiduals adds their forecasts into h on forecast steps', async () => {
    const schedule = { kind: 'fixed', steps: 8, interval: 4, warmup: 1 } as const;
    const [batch, tokens, dim] = [2, 3, 4];
    const keys = ['b0.attn', 'b0.mlp'];
    const out = (s: number) => keys.map((_, k) => Float32Array.from({ length: batch * tokens * dim }, (_, j) => Math.sin(0.2 * s * (j + 1) + k)));
    const shaped = new TaylorSeer({ schedule, maxOrder: 2 });
    const flat = new TaylorSeer({ schedule, maxOrder: 2 });
    const gates = keys.map((_, k) => Float32Array.from({ length: batch * dim }, (_, j) => 0.5 + 0.1 * j - 0.3 * k));
    let forecasts = 0;
    for (let s = 0; s < 8; s++) {
      shaped.beginStep(s, 1 - s / 8);
      flat.beginStep(s, 1 - s / 8);
      if (shaped.isFull) {
        await shaped.modulesAsync(keys, async () => out(s), { shapes: keys.map(() => [batch, tokens, dim]) });
        await flat.modulesAsync(keys, async () => out(s));
        continue;
      }
      const h = Float32Array.from({ length: batch * tokens * dim }, (_, j) => Math.cos(j));
      const want = Float32Array.from(h);
      const f = await flat.modulesAsync(keys, () => Promise.reject(new Error('not called')));
      for (let i = 0; i < want.length; i++) {
        const [b, d] = [Math.floor(i / (tokens * dim)), i % dim];
        for (let k = 0; k < keys.length; k++) want[i] += gates[k][b * dim + d] * f[k][i];
      }
      await shaped.gatedResiduals(keys.map((key, k) => ({ key, compute: () => Promise.reject(new Error('not called')), gate: gates[k] })), h, { batch, tokens, dim });
      for (let i = 0; i < h.length; i++) expect(h[i]).toBeCloseTo(want[i], 5);
      forecasts++;
    }
    expect(forecasts).toBe(6);
    shaped.dispose();
    flat.dispose();
  });

  it('refuses shapes of the wrong count, or that do not hold the outputs, before anything is cached', async () => {
    const seer = new TaylorSeer({ schedule: { kind: 'fixed', steps: 4, interval: 2, warmup: 1 }, maxOrder: 1 });
    seer.beginStep(0);
    const sizes = KEYS.map((_, k) => 7 + k);
    const cases: Array<[unknown, string]> = [
      [sizes.slice(1).map((n) => [n]), 'ERR_INVALID_ARGUMENT'],
      [sizes.map((n) => [1, n + 1]), 'ERR_SHAPE'],
      [sizes.map(() => [0]), 'ERR_SHAPE'],
    ];
    for (const [shapes, code] of cases) {
      await expect(seer.modulesAsync(KEYS, async () => outputs(0), { shapes: shapes as number[][] })).rejects.toMatchObject({ code });
      expect(seer.inspect()).toEqual([]);
    }
    await seer.modulesAsync(KEYS, async () => outputs(0), { shapes: sizes.map((n) => [1, n]) });
    expect(seer.inspect().map((e) => e.shape)).toEqual(sizes.map((n) => [1, n]));
    seer.dispose();
  });
});
