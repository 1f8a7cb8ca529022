/**
 * The schedule's decisions as the pipeline and the hook's stats see them, on the real model.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaylorSeer } from '../../lib/taylor-seer';
import { cacheKeys, sample, type DitModel } from './imports';
import { openModel, referenceNoise } from './helpers';

let model: DitModel;
beforeAll(async () => {
  model = await openModel();
});
afterAll(async () => {
  await model?.dispose();
});

describe('schedule decisions in stats (module granularity, batched CFG)', () => {
  it('fixed N=6 W=3 over 20 steps: full at 0,1,2,8,14', async () => {
    const steps = 20;
    const r = await sample(model, {
      labels: [3, 7],
      steps,
      guidance: 3,
      noise: referenceNoise(model),
      seer: { schedule: { kind: 'fixed', steps, interval: 6, warmup: 3 }, maxOrder: 2 },
    });
    const full = [0, 1, 2, 8, 14];
    const modules = 2 * model.arch.depth;
    expect(r.fullStepList).toEqual(full);
    expect(r.fullSteps).toBe(full.length);
    expect(r.moduleEvals).toBe(full.length * modules);
    expect(r.seerStats).toMatchObject({
      fullSteps: full.length,
      forecastSteps: steps - full.length,
      computes: full.length * modules,
      computesSkipped: (steps - full.length) * modules,
      // (K+1) factors of [2B, L, D] f32 per cached module
      bytesHeld: modules * 3 * 4 * model.arch.tokens * model.arch.hidden * 4,
      entries: modules,
    });
    expect(r.cacheBytes).toBe(r.seerStats!.bytesHeld);
    expect(r.seerStats!.bytesByEntry!.reduce((a, e) => a + e.bytes, 0)).toBe(r.seerStats!.bytesHeld);
    expect(r.seerStats!.layout).toEqual({ storage: 'f32', maxOrder: 2 });
  });

  it('cool-down makes the last steps full; a mask schedule is followed exactly', async () => {
    const steps = 12;
    const base = { labels: [5], steps, guidance: 3, seed: 1 };
    const cool = await sample(model, { ...base, seer: { schedule: { kind: 'fixed', steps, interval: 4, warmup: 2, cooldown: 3 }, maxOrder: 1 } });
    expect(cool.fullStepList).toEqual([0, 1, 5, 9, 10, 11]);
    const mask = await sample(model, { ...base, seer: { schedule: { kind: 'mask', steps, full: [0, 1, 2, 7, 11] }, maxOrder: 1 } });
    expect(mask.fullStepList).toEqual([0, 1, 2, 7, 11]);
    expect(mask.moduleEvals).toBe(5 * 2 * model.arch.depth);
  });

  it('a caller-owned hook is reused across runs: per-run stats, entries named by cacheKeys', async () => {
    const steps = 8;
    const hook = new TaylorSeer({ schedule: { kind: 'fixed', steps, interval: 3, warmup: 2 }, maxOrder: 2, storage: 'bf16' });
    try {
      const base = { labels: [2], steps, guidance: 3, seed: 2, seer: hook };
      const a = await sample(model, base);
      const b = await sample(model, base);
      expect(b.images).toEqual(a.images);
      expect(b.seerStats).toEqual(a.seerStats);
      expect(a.seerStats!.fullSteps).toBe(a.fullSteps);
      expect(hook.stats.fullSteps).toBe(2 * a.fullSteps);
      const keys = hook.inspect().map((e) => e.key).sort();
      const expected = Array.from({ length: model.arch.depth }, (_, i) => [cacheKeys.attn(i), cacheKeys.mlp(i)]).flat().sort();
      expect(keys).toEqual(expected);
      // bf16 storage: half the bytes of f32
      expect(a.cacheBytes).toBe(2 * model.arch.depth * 3 * 2 * model.arch.tokens * model.arch.hidden * 2);
    } finally {
      hook.dispose();
    }
  });
});
