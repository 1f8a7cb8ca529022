/**
 * Classifier-free guidance as one batched forward (2B) and as two forwards with separate cache contexts
 * give the same samples, with and without TaylorSeer; errors for bad sampler options.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relL2, sample, errorCode, type DitModel, type SeerOptions } from './imports';
import { openModel, referenceNoise } from './helpers';
import { TaylorSeer } from '../../lib/taylor-seer';

let model: DitModel;
beforeAll(async () => {
  model = await openModel();
});
afterAll(async () => {
  await model?.dispose();
});

const steps = 10;
const seer = (): SeerOptions => ({ schedule: { kind: 'fixed', steps, interval: 3, warmup: 3 }, maxOrder: 2 });

describe('CFG batched vs separate', () => {
  it('full compute: equal within float tolerance, twice the forwards', async () => {
    const base = { labels: [3, 7], steps, guidance: 3, noise: referenceNoise(model) };
    const b = await sample(model, { ...base, cfg: 'batched' });
    const s = await sample(model, { ...base, cfg: 'separate' });
    expect(relL2(s.images, b.images)).toBeLessThan(1e-6);
    expect(b.forwards).toBe(steps);
    expect(s.forwards).toBe(2 * steps);
  });

  for (const granularity of ['module', 'block', 'lite'] as const) {
    it(`TaylorSeer at ${granularity} granularity: separate contexts equal the shared batched entries`, async () => {
      const base = { labels: [3, 7], steps, guidance: 3, noise: referenceNoise(model), granularity };
      const b = await sample(model, { ...base, seer: seer() });
      const s = await sample(model, { ...base, seer: seer(), cfg: 'separate' });
      expect(relL2(s.images, b.images)).toBeLessThan(1e-5);
      expect(s.fullStepList).toEqual(b.fullStepList);
      // two contexts of half the batch: twice the entries, the same bytes
      expect(s.seerStats!.entries).toBe(2 * b.seerStats!.entries);
      expect(s.cacheBytes).toBe(b.cacheBytes);
    });
  }

  it('guidance 1 runs the conditional branch only', async () => {
    const r = await sample(model, { labels: [1], steps: 2, guidance: 1, seed: 3 });
    expect(r.forwards).toBe(2);
    expect(r.moduleEvals).toBe(2 * 2 * model.arch.depth);
  });

  it("passes the caller's own exceptions through unchanged: a hook that throws, an onStep that throws", async () => {
    class Cancelled extends Error {}
    // inside the model's forward: the per-piece DiT hands every block's attention to gatedResidual on full steps
    class CancellingHook extends TaylorSeer {
      override async gatedResidual(...args: Parameters<TaylorSeer['gatedResidual']>): Promise<void> {
        if (this.step === 1) throw new Cancelled('cancelled at step 1');
        return super.gatedResidual(...args);
      }
    }
    const hook = new CancellingHook(seer());
    await expect(sample(model, { labels: [1], steps, seer: hook })).rejects.toBeInstanceOf(Cancelled);
    hook.dispose();
    const onStep = () => {
      throw new Cancelled('from onStep');
    };
    await expect(sample(model, { labels: [1], steps: 2, onStep })).rejects.toBeInstanceOf(Cancelled);
  });

  it('rejects bad options with ERR_INVALID_ARGUMENT / ERR_LENGTH', async () => {
    const code = (p: Promise<unknown>) => p.then(() => 'resolved', errorCode);
    expect(await code(sample(model, { labels: [11], steps: 2 }))).toBe('ERR_INVALID_ARGUMENT');
    expect(await code(sample(model, { labels: [1.5], steps: 2 }))).toBe('ERR_INVALID_ARGUMENT');
    expect(await code(sample(model, { labels: [], steps: 2 }))).toBe('ERR_INVALID_ARGUMENT');
    expect(await code(sample(model, { labels: [1], steps: 0 }))).toBe('ERR_INVALID_ARGUMENT');
    expect(await code(sample(model, { labels: [1], steps: 2, shift: 0 }))).toBe('ERR_INVALID_ARGUMENT');
    expect(await code(sample(model, { labels: [1], steps: 2, noise: new Float32Array(5) }))).toBe('ERR_LENGTH');
    expect(await code(sample(model, { labels: [1], steps: 2, cfg: 'both' as never }))).toBe('ERR_INVALID_ARGUMENT');
    expect(await code(sample(model, { labels: [1], steps: 2, granularity: 'layer' as never, seer: seer() }))).toBe('ERR_INVALID_ARGUMENT');
    // the schedule must cover the sampler's steps
    expect(await code(sample(model, { labels: [1], steps: 4, seer: seer() }))).toBe('ERR_INVALID_ARGUMENT');
    // what a mistaken call passes: no options, seer or onStep of the wrong kind, more steps or samples than are held
    expect(await code(sample(model, null as never))).toBe('ERR_INVALID_ARGUMENT');
    expect(await code(sample(model, { labels: [1], steps: 2, seer: null as never }))).toBe('ERR_INVALID_ARGUMENT');
    expect(await code(sample(model, { labels: [1], steps: 2, seer: 'fast' as never }))).toBe('ERR_INVALID_ARGUMENT');
    expect(await code(sample(model, { labels: [1], steps: 2, onStep: 5 as never }))).toBe('ERR_INVALID_ARGUMENT');
    expect(await code(sample(model, { labels: [1], steps: 2 ** 31 }))).toBe('ERR_INVALID_ARGUMENT');
    expect(await code(sample(model, { labels: new Array(1e7).fill(0), steps: 1 }))).toBe('ERR_INVALID_ARGUMENT');
  });
});
