/**
 * The manifest is the contract: a second DiT (fixtures/dit-shapes: other data, patch 4, 64 tokens, hidden 128,
 * depth 8) made in this repository runs through the same pipeline, reproduces its own float64 PyTorch
 * reference, and is accelerated by TaylorSeer with the schedules' exact accounting.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forward, loadModel, psnr, readF32, relL2, sample, type DitModel } from '../../lib/pipeline';
import { ROOT } from './helpers';

const DIR = path.join(ROOT, 'fixtures/dit-shapes');
let model: DitModel;
let fullRun: ReturnType<typeof sample> | undefined;
/** Full compute of the manifest's reference setting, run once and shared by the tests that need it. */
const fullCompute = () => {
  const ref = model.manifest.reference!;
  fullRun ??= sample(model, { labels: ref.labels, steps: ref.steps, guidance: ref.guidance, noise: readF32(ref.noise) });
  return fullRun;
};
beforeAll(async () => {
  model = await loadModel(DIR, { threads: 1 });
});
afterAll(async () => {
  await model?.dispose();
});

describe('a second model in the manifest format (dit-shapes)', () => {
  it('loads with its own architecture', () => {
    expect(model.arch).toMatchObject({ imageSize: 32, channels: 3, patch: 4, tokens: 64, hidden: 128, depth: 8, heads: 4, classes: 10, nullClass: 10 });
  });

  it('one conditional forward at t=1 matches reference/v_t1_cond.f32 (float64 PyTorch) to 1e-5', async () => {
    const ref = model.manifest.reference!;
    const v = await forward(model, readF32(ref.noise), 1, BigInt64Array.from(ref.labels.map(BigInt)), ref.labels.length);
    expect(relL2(v, readF32(ref.vT1Cond!))).toBeLessThan(1e-5);
  });

  it('50 steps, guidance 3, full compute: reproduces reference/full_50steps_cfg3.f32 to 1e-5 relative L2', async () => {
    const ref = model.manifest.reference!;
    const full = await fullCompute();
    expect(full.moduleEvals).toBe(50 * 2 * 8);
    expect(relL2(full.images, readF32(ref.output))).toBeLessThanOrEqual(1e-5);
  });

  it('TaylorSeer N=5 O=2 W=3 (module granularity): 12 full steps, 16 modules each, and a forecast close to full compute', async () => {
    const ref = model.manifest.reference!;
    const r = await sample(model, {
      labels: ref.labels,
      steps: 50,
      guidance: 3,
      noise: readF32(ref.noise),
      seer: { schedule: { kind: 'fixed', steps: 50, interval: 5, warmup: 3 }, maxOrder: 2 },
    });
    expect(r.fullStepList).toEqual([0, 1, 2, 7, 12, 17, 22, 27, 32, 37, 42, 47]);
    expect(r.moduleEvals).toBe(12 * 16);
    expect(r.seerStats!.entries).toBe(16);
    // 29.33 dB for these two samples (taylorseer eval, same flags); a forecast that mixed up blocks or factors lands far below
    expect(psnr(r.images, (await fullCompute()).images, r.shape)).toBeGreaterThan(25);
  });

  it('the adaptive schedule spends exactly its budget on this model too', async () => {
    const r = await sample(model, {
      labels: [0, 9],
      steps: 50,
      guidance: 3,
      seed: 4,
      seer: { schedule: { kind: 'adaptive', steps: 50, budget: 10, warmup: 1, cooldown: 1 }, maxOrder: 2, variable: 'time' },
    });
    expect(r.fullSteps).toBe(10);
    expect(r.moduleEvals).toBe(10 * 16);
  });
});
