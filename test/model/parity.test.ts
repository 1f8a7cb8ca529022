/**
 * Full compute through the pipeline reproduces the exporter's PyTorch reference: one forward (v at t=1),
 * a committed 8-step run, and the 50-step reference to 1e-5 relative L2.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forward, readF32, relL2, sample, timesteps, type DitModel } from '../../lib/pipeline';
import { openModel, referenceNoise, SHORT_REFERENCE } from './helpers';

let model: DitModel;
beforeAll(async () => {
  model = await openModel();
});
afterAll(async () => {
  await model?.dispose();
});

describe('full-compute parity (dit-digits)', () => {
  it('one conditional forward at t=1 matches reference/v_t1_cond.f32', async () => {
    const ref = model.manifest.reference!;
    const v = await forward(model, referenceNoise(model), 1, BigInt64Array.from(ref.labels.map(BigInt)), ref.labels.length);
    expect(relL2(v, readF32(ref.vT1Cond!))).toBeLessThan(1e-5);
  });

  it('8 steps, guidance 3, batched CFG: matches the committed short-run reference', async () => {
    const { labels, steps, guidance, file } = SHORT_REFERENCE;
    const r = await sample(model, { labels, steps, guidance, noise: referenceNoise(model) });
    expect(r.fullSteps).toBe(steps);
    expect(r.moduleEvals).toBe(steps * 2 * model.arch.depth);
    expect(r.forwards).toBe(steps);
    expect(relL2(r.images, readF32(file))).toBeLessThan(1e-6);
  });

  it('50 steps, guidance 3: reproduces reference/full_50steps_cfg3.f32 to 1e-5 relative L2', async () => {
    const ref = model.manifest.reference!;
    const r = await sample(model, { labels: ref.labels, steps: ref.steps, guidance: ref.guidance, noise: referenceNoise(model) });
    const err = relL2(r.images, readF32(ref.output));
    expect(err).toBeLessThanOrEqual(1e-5);
    expect(r.shape).toEqual({ batch: 2, channels: 3, height: 32, width: 32 });
    expect(r.timesteps[0]).toBe(1);
    expect(r.timesteps[ref.steps]).toBe(0);
  });

  it('the shifted grid is t\' = s t / (1 + (s - 1) t) of the uniform one', () => {
    const u = timesteps(4);
    expect(u).toEqual([1, 0.75, 0.5, 0.25, 0]);
    const s = timesteps(4, 3);
    u.forEach((t, i) => expect(s[i]).toBeCloseTo((3 * t) / (1 + 2 * t), 15));
  });
});
