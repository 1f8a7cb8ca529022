/**
 * The manifest is the contract: DiTs made in this repository (scripts/train-dit; other data, patch sizes,
 * widths and depths than the bundled model) run through the same pipeline, reproduce their own float64
 * PyTorch references, and are accelerated by TaylorSeer with the schedules' exact accounting.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compare, DitModel, forward, psnr, readF32, relL2, sample } from '../../lib/pipeline';
import { ROOT } from './helpers';

interface MadeModel {
  dir: string;
  arch: { imageSize: number; patch: number; tokens: number; hidden: number; depth: number; heads: number };
  /** PSNR of TaylorSeer N=5 O=2 W=3 against full compute on the manifest's reference samples (taylorseer eval --noise reference/noise.f32, same flags) */
  measuredPsnr: number;
}

const MODELS: MadeModel[] = [
  { dir: 'fixtures/dit-shapes', arch: { imageSize: 32, patch: 4, tokens: 64, hidden: 128, depth: 8, heads: 4 }, measuredPsnr: 29.33 },
  { dir: 'fixtures/dit-shapes-small', arch: { imageSize: 16, patch: 2, tokens: 64, hidden: 96, depth: 4, heads: 4 }, measuredPsnr: 43.86 },
];

describe.each(MODELS)('a model made in the manifest format ($dir)', ({ dir, arch, measuredPsnr }) => {
  let model: DitModel;
  let fullRun: ReturnType<typeof sample> | undefined;
  /** Full compute of the manifest's reference setting, run once and shared by the tests that need it. */
  const fullCompute = () => {
    const ref = model.manifest.reference!;
    fullRun ??= sample(model, { labels: ref.labels, steps: ref.steps, guidance: ref.guidance, noise: readF32(ref.noise) });
    return fullRun;
  };
  beforeAll(async () => {
    model = await DitModel.load(path.join(ROOT, dir), { threads: 1 });
  });
  afterAll(async () => {
    await model?.dispose();
  });

  it('loads with its own architecture', () => {
    expect(model.arch).toMatchObject({ ...arch, channels: 3, classes: 10, nullClass: 10 });
  });

  it('one conditional forward at t=1 matches reference/v_t1_cond.f32 (float64 PyTorch) to 1e-5', async () => {
    const ref = model.manifest.reference!;
    const v = await forward(model, readF32(ref.noise), 1, BigInt64Array.from(ref.labels.map(BigInt)), ref.labels.length);
    expect(relL2(v, readF32(ref.vT1Cond!))).toBeLessThan(1e-5);
  });

  it('50 steps, guidance 3, full compute: reproduces reference/full_50steps_cfg3.f32 to 1e-5 relative L2', async () => {
    const ref = model.manifest.reference!;
    const full = await fullCompute();
    expect(full.moduleEvals).toBe(50 * 2 * arch.depth);
    expect(relL2(full.images, readF32(ref.output))).toBeLessThanOrEqual(1e-5);
  });

  it('TaylorSeer N=5 O=2 W=3 (module granularity): 12 full steps, two modules per block each, and a forecast close to full compute', async () => {
    const ref = model.manifest.reference!;
    const r = await sample(model, {
      labels: ref.labels,
      steps: 50,
      guidance: 3,
      noise: readF32(ref.noise),
      seer: { schedule: { kind: 'fixed', steps: 50, interval: 5, warmup: 3 }, maxOrder: 2 },
    });
    expect(r.fullStepList).toEqual([0, 1, 2, 7, 12, 17, 22, 27, 32, 37, 42, 47]);
    expect(r.moduleEvals).toBe(12 * 2 * arch.depth);
    expect(r.seerStats!.entries).toBe(2 * arch.depth);
    // a forecast that mixed up blocks or factors lands far below the measured figure
    expect(psnr(r.images, (await fullCompute()).images, r.shape)).toBeGreaterThan(measuredPsnr - 4);
  });

  it("the order-3 newton placement calibrated on dit-digits (12 full steps) beats the reference family's N=5 W=3 schedule at equal compute", async () => {
    // the 8 quality samples (labels 0-7, reference/quality-noise.f32) that the carry-over tables of docs/studies/ use
    const base = { labels: [0, 1, 2, 3, 4, 5, 6, 7], steps: 50, guidance: 3, noise: readF32(path.join(ROOT, dir, 'reference/quality-noise.f32')) };
    const full = await sample(model, base);
    const mask = await compare(model, {
      ...base,
      full,
      seer: { schedule: { kind: 'mask', steps: 50, full: [0, 1, 3, 7, 12, 16, 21, 26, 32, 38, 44, 48], warmup: 3 }, maxOrder: 3, variable: 'newton' },
    });
    const fixed = await compare(model, { ...base, full, seer: { schedule: { kind: 'fixed', steps: 50, interval: 5, warmup: 3 }, maxOrder: 2, variable: 'newton' } });
    expect(mask.evalSpeedup).toBe(fixed.evalSpeedup);
    // measured: dit-shapes 38.30 vs 36.22 dB, dit-shapes-small 52.22 vs 44.02
    expect(mask.quality.psnr).toBeGreaterThan(fixed.quality.psnr + 1);
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
    expect(r.moduleEvals).toBe(10 * 2 * arch.depth);
  });
});
