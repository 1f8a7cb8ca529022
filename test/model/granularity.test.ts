/**
 * Module, block and lite granularity on the real model: what runs on forecast steps, cache memory,
 * sane quality, and agreement of the native hook with the TypeScript reference semantics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { psnr, relL2, sample, ssim, type DitModel, type SampleResult, type SeerOptions } from './imports';
import { openModel, referenceNoise } from './helpers';

let model: DitModel;
let full: SampleResult;
const steps = 20;
const base = () => ({ labels: [3, 7], steps, guidance: 3, noise: referenceNoise(model) });
const seer = (variable: SeerOptions['variable'] = 'step', n = steps): SeerOptions => ({
  schedule: { kind: 'fixed', steps: n, interval: 3, warmup: 3 },
  maxOrder: 2,
  variable,
});
/** the cross-checks against the (slower) TypeScript reference run fewer steps */
const short = 10;
const shortBase = () => ({ ...base(), steps: short });

beforeAll(async () => {
  model = await openModel();
  full = await sample(model, base());
});
afterAll(async () => {
  await model?.dispose();
});

describe('granularities', () => {
  const fullSteps = [0, 1, 2, 5, 8, 11, 14, 17];
  const factorBytes = (n: number) => 3 * n * 4; // order 2, f32

  for (const [granularity, entries, perEntry] of [
    ['module', 12, 4 * 256 * 256],
    ['block', 6, 4 * 256 * 256],
    ['lite', 1, 4 * 3 * 32 * 32],
  ] as const) {
    it(`${granularity}: forecasts ${steps - fullSteps.length} of ${steps} steps with sane quality`, async () => {
      const counters0 = { ...model.counters };
      const r = await sample(model, { ...base(), granularity, seer: seer() });
      const d = (k: keyof typeof counters0) => model.counters[k] - counters0[k];
      expect(r.fullStepList).toEqual(fullSteps);
      // attention and MLP graphs run on full steps only, at every granularity
      expect(r.moduleEvals).toBe(fullSteps.length * 2 * model.arch.depth);
      // what else runs: embed + final except on lite forecast steps; modulation only where needed
      expect(d('embed')).toBe(granularity === 'lite' ? fullSteps.length : steps);
      expect(d('final')).toBe(granularity === 'lite' ? fullSteps.length : steps);
      expect(d('modulation')).toBe(granularity === 'module' ? steps : fullSteps.length);
      expect(r.seerStats!.entries).toBe(entries);
      expect(r.cacheBytes).toBe(entries * factorBytes(perEntry));
      const p = psnr(r.images, full.images, r.shape);
      expect(p).toBeGreaterThan(30);
      expect(p).toBeLessThan(60);
      expect(ssim(r.images, full.images, r.shape)).toBeGreaterThan(0.95);
    });
  }

  for (const granularity of ['module', 'block', 'lite'] as const) {
    it(`${granularity}: the native hook equals the TypeScript reference semantics`, async () => {
      const a = await sample(model, { ...shortBase(), granularity, seer: seer('step', short) });
      const r = await sample(model, { ...shortBase(), granularity, seer: seer('step', short), implementation: 'reference' });
      expect(relL2(a.images, r.images)).toBeLessThan(1e-5);
    });
  }

  for (const variable of ['time', 'newton'] as const) {
    it(`variable '${variable}' (shift 3): the native hook equals the TypeScript reference`, async () => {
      const a = await sample(model, { ...shortBase(), shift: 3, seer: seer(variable, short) });
      const r = await sample(model, { ...shortBase(), shift: 3, seer: seer(variable, short), implementation: 'reference' });
      expect(relL2(a.images, r.images)).toBeLessThan(1e-4);
    });
  }

  it('every step full through the hook reproduces plain full compute', async () => {
    const r = await sample(model, { ...base(), seer: { schedule: { kind: 'fixed', steps, interval: 1, warmup: 1 }, maxOrder: 2 } });
    expect(r.fullSteps).toBe(steps);
    expect(relL2(r.images, full.images)).toBeLessThan(1e-6);
  });
});
