/**
 * Schedule calibration: a local search over placements of K full steps, scored against full compute on the
 * calibration samples. Small runs (8 steps, one label) keep it quick; the search itself is the same.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calibrateSchedule, calibrationRunBound, compareImages, fixedStart, sample, type Calibration, type CalibrateProgress, type DitModel } from './imports';
import { errorCode } from './imports';
import { openModel } from './helpers';

let model: DitModel;
const base = { labels: [3], steps: 8, guidance: 3 };
let result: Calibration;
const progress: CalibrateProgress[] = [];

beforeAll(async () => {
  model = await openModel();
  result = await calibrateSchedule(model, { ...base, budget: 4, order: 2, variable: 'newton', warmup: 1, maxSweeps: 2, onProgress: (p) => progress.push(p) });
});
afterAll(async () => {
  await model?.dispose();
});

describe('calibrateSchedule', () => {
  it('starts from the reference family: warm-up steps, then the widest even interval that spends the budget', () => {
    expect(fixedStart(50, 10, 3)).toEqual([0, 1, 2, 8, 14, 20, 26, 32, 38, 44]);
    expect(fixedStart(50, 12, 3)).toEqual([0, 1, 2, 7, 12, 17, 22, 27, 32, 37, 42, 47]);
    expect(fixedStart(8, 4, 1)).toEqual([0, 2, 4, 6]);
    expect(result.start.schedule).toEqual({ kind: 'mask', steps: 8, full: [0, 2, 4, 6], warmup: 1 });
  });

  it('returns a mask schedule that spends exactly the budget, with step 0 and no step twice', () => {
    const { full } = result.schedule;
    expect(result.schedule.kind).toBe('mask');
    expect(full).toHaveLength(4);
    expect(full[0]).toBe(0);
    expect(new Set(full).size).toBe(4);
    expect([...full].sort((a, b) => a - b)).toEqual(full);
  });

  it('never ends worse than where it started, and here finds a better placement', () => {
    expect(result.psnr).toBeGreaterThan(result.start.psnr);
    expect(result.schedule.full).not.toEqual(result.start.schedule.full);
  });

  it("reports the PSNR that the schedule gives when it is run again (no stale scores)", async () => {
    const s = result.schedule;
    const r = await sample(model, { ...base, seer: { schedule: s, maxOrder: 2, variable: 'newton' } });
    expect(r.fullStepList).toEqual(s.full);
    expect(compareImages(r.images, result.full.images, r.shape).psnr).toBeCloseTo(result.psnr, 9);
  });

  it('scores each candidate once and reports every run in order, the best PSNR never falling', () => {
    expect(progress.map((p) => p.runs)).toEqual(progress.map((_, i) => i + 1));
    expect(progress).toHaveLength(result.runs);
    // a progress bar's total: never exceeded (start + 2 sweeps x (3 steps x 2 directions x 5 moves + W 0..4 but 1))
    expect(calibrationRunBound(4, 2)).toBe(1 + 2 * (3 * 2 * 5 + 4));
    expect(result.runs).toBeLessThanOrEqual(calibrationRunBound(4, 2));
    for (let i = 1; i < progress.length; i++) expect(progress[i].bestPsnr).toBeGreaterThanOrEqual(progress[i - 1].bestPsnr);
    expect(progress.at(-1)!.bestPsnr).toBe(result.psnr);
  });

  it("starts from the adaptive schedule's own placement with start: 'adaptive'", async () => {
    const opts = { ...base, budget: 4, order: 2, variable: 'time' as const, warmup: 1, cooldown: 1, maxSweeps: 1 };
    const adaptive = await sample(model, { ...base, seer: { schedule: { kind: 'adaptive', steps: 8, warmup: 1, cooldown: 1, budget: 4 }, maxOrder: 2, variable: 'time' } });
    const c = await calibrateSchedule(model, { ...opts, start: 'adaptive', full: result.full });
    expect(c.start.schedule.full).toEqual(adaptive.fullStepList);
    expect(c.start.psnr).toBeCloseTo(compareImages(adaptive.images, result.full.images, adaptive.shape).psnr, 9);
    expect(c.psnr).toBeGreaterThanOrEqual(c.start.psnr);
  });

  it('rejects a budget, start or order it cannot use, before running anything', async () => {
    const bad = async (extra: object) => {
      try {
        await calibrateSchedule(model, { ...base, budget: 4, order: 2, ...extra });
      } catch (e) {
        return errorCode(e);
      }
      return 'resolved';
    };
    expect(await bad({ budget: 9 })).toBe('ERR_INVALID_ARGUMENT');
    expect(await bad({ budget: 0 })).toBe('ERR_INVALID_ARGUMENT');
    expect(await bad({ start: [1, 2, 3, 4] })).toBe('ERR_INVALID_ARGUMENT');
    expect(await bad({ start: [0, 2, 2, 4] })).toBe('ERR_INVALID_ARGUMENT');
    expect(await bad({ start: [0, 2, 4] })).toBe('ERR_INVALID_ARGUMENT');
    expect(await bad({ order: 1.5 })).toBe('ERR_INVALID_ARGUMENT');
    expect(await bad({ moves: [] })).toBe('ERR_INVALID_ARGUMENT');
    expect(await bad({ maxSweeps: 0 })).toBe('ERR_INVALID_ARGUMENT');
    expect(await bad({ start: 'random' })).toBe('ERR_INVALID_ARGUMENT');
    expect(await bad({ start: 'adaptive', warmup: 1, cooldown: 4 })).toBe('ERR_INVALID_ARGUMENT');
  });
});
